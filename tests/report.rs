//! The figures (`superlinear::plot`) and the report page
//! (`superlinear::reproduce::report`): every plot function on hand-made
//! input gives a well-formed SVG with finite coordinates, a NaN gives a
//! typed error, the same data gives the same bytes; the page is well-formed,
//! every figure it references exists and is an SVG, its numbers are the
//! records' (Tables 1 and 3 those of grid v2's records), and a rebuild is
//! byte-identical.

use std::collections::BTreeSet;
use std::path::Path;

use quick_xml::events::Event;
use quick_xml::Reader;

use superlinear::claims::CheckSettings;
use superlinear::plot::gamma_k::{AtK, GammaK};
use superlinear::plot::loglog::{LogLog, PowerLaw};
use superlinear::plot::null_grid::{NullPoint, Which};
use superlinear::plot::{heatmap, interval, null_grid, table1, terms, training};
use superlinear::reproduce::evidence::EvidenceSettings;
use superlinear::reproduce::report::{build, html, write, ReportSettings};
use superlinear::Error;

/// Parses `text` as XML (end tags checked) and returns the root element's
/// name and every attribute value of `attr` on elements named `element`.
fn parse_xml(text: &str, element: &str, attr: &str) -> (String, Vec<String>) {
    let mut r = Reader::from_str(text);
    r.config_mut().check_end_names = true;
    let (mut root, mut found, mut depth) = (String::new(), Vec::new(), 0usize);
    loop {
        let ev = r
            .read_event()
            .unwrap_or_else(|e| panic!("not well-formed at {}: {e}", r.buffer_position()));
        let start = match &ev {
            Event::Start(e) | Event::Empty(e) => Some(e.clone()),
            Event::Eof => break,
            _ => None,
        };
        if let Some(e) = start {
            let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
            if root.is_empty() {
                root = name.clone();
            }
            if name == element {
                for a in e.attributes() {
                    let a = a.expect("attribute");
                    if a.key.as_ref() == attr.as_bytes() {
                        found.push(String::from_utf8_lossy(&a.value).into_owned());
                    }
                }
            }
        }
        match ev {
            Event::Start(_) => depth += 1,
            Event::End(_) => depth -= 1,
            _ => {}
        }
    }
    assert_eq!(depth, 0, "unclosed elements");
    (root, found)
}

/// Checks an SVG: well-formed, root `<svg>`, something drawn, and no
/// non-finite number in any attribute.
fn check_svg(svg: &str) {
    let (root, _) = parse_xml(svg, "", "");
    assert_eq!(root, "svg");
    assert!(svg.len() > 500, "nearly empty SVG");
    assert!(
        svg.contains("<circle")
            || svg.contains("<rect")
            || svg.contains("<polyline")
            || svg.contains("<path")
    );
    for bad in ["NaN", "inf\"", "=\"inf", "=\"-inf"] {
        assert!(!svg.contains(bad), "non-finite coordinate {bad} in the SVG");
    }
}

fn non_finite<T: std::fmt::Debug>(r: Result<T, Error>) {
    match r {
        Err(Error::NonFinite { .. }) => {}
        other => panic!("expected a NonFinite error, got {other:?}"),
    }
}

fn loglog_of(h: &[f64]) -> Result<String, Error> {
    let c: Vec<f64> = h.iter().map(|x| x.powf(1.5)).collect();
    let a: Vec<f64> = h.iter().map(|x| 2.0 * x.powf(1.4)).collect();
    superlinear::plot::loglog::render(&LogLog {
        title: "test",
        h,
        c: &c,
        c_awd: &a,
        fit_c: Some(PowerLaw {
            gamma: 1.5,
            intercept: 0.0,
        }),
        fit_awd: Some(PowerLaw {
            gamma: 1.4,
            intercept: 2f64.ln(),
        }),
        window: h.len(),
    })
}

#[test]
fn loglog_draws_and_is_deterministic() {
    let h: Vec<f64> = (1..=50).map(|i| 1.0 / i as f64).collect();
    let a = loglog_of(&h).unwrap();
    check_svg(&a);
    assert_eq!(a, loglog_of(&h).unwrap());
    assert!(a.contains("gamma = 1.500"));
    let mut bad = h.clone();
    bad[3] = f64::NAN;
    non_finite(loglog_of(&bad));
    assert!(matches!(loglog_of(&[]), Err(Error::Empty { .. })));
}

#[test]
fn gamma_k_draws_and_rejects_nan() {
    let curve: Vec<AtK> = [10, 20, 40, 80]
        .iter()
        .map(|&k| AtK {
            k,
            gamma: Some(1.0 + k as f64 / 200.0),
            local_slope: Some(1.3),
        })
        .collect();
    let f = GammaK {
        title: "gamma(k) test",
        curve: &curve,
        primary: Some((80, 1.4, Some((1.35, 1.45)))),
    };
    let svg = superlinear::plot::gamma_k::render(&f).unwrap();
    check_svg(&svg);
    let mut bad = curve.clone();
    bad[1].gamma = Some(f64::NAN);
    non_finite(superlinear::plot::gamma_k::render(&GammaK {
        curve: &bad,
        ..f
    }));
}

#[test]
fn training_and_terms_draw_and_reject_nan() {
    let seeds: Vec<training::SeedCurve> = (0..2)
        .map(|s| training::SeedCurve {
            name: format!("seed {s}"),
            checkpoints: (1..=5)
                .map(|e| training::Checkpoint {
                    epoch: 10.0 * e as f64,
                    gamma: Some(1.6 - 0.03 * e as f64),
                    ci: Some((1.5 - 0.03 * e as f64, 1.7 - 0.03 * e as f64)),
                    gamma_awd: Some(1.4),
                })
                .collect(),
        })
        .collect();
    check_svg(&training::render("t", &seeds).unwrap());
    let mut bad = seeds.clone();
    bad[0].checkpoints[2].ci = Some((f64::NAN, 1.0));
    non_finite(training::render("t", &bad));

    let t = vec![terms::SeedTerms {
        name: "seed 0".into(),
        at: (1..=4)
            .map(|e| terms::TermsAt {
                epoch: e as f64,
                gamma_term1: Some(1.4),
                gamma_dg: Some(1.3),
            })
            .collect(),
    }];
    check_svg(&terms::render("c6", &t).unwrap());
    let mut bad = t.clone();
    bad[0].at[0].gamma_dg = Some(f64::INFINITY);
    non_finite(terms::render("c6", &bad));
}

#[test]
fn grid_figures_draw_and_reject_nan() {
    let rows = vec![
        table1::Row {
            label: "MNIST MLP K=3 CE".into(),
            published: Some((1.2, 0.02)),
            measured: Some((1.3, 0.05)),
        },
        table1::Row {
            label: "MNIST MLP K=6 CE".into(),
            published: Some((1.1, 0.01)),
            measured: None,
        },
    ];
    check_svg(&table1::render("t1", "gamma", &rows).unwrap());
    let mut bad = rows.clone();
    bad[0].measured = Some((f64::NAN, 0.1));
    non_finite(table1::render("t1", "gamma", &bad));

    let fits = vec![interval::RowFits {
        label: "row".into(),
        gamma: vec![1.2, 1.3],
        gamma_awd: vec![1.1],
    }];
    check_svg(&interval::render("c9", &fits).unwrap());
    non_finite(interval::render(
        "c9",
        &[interval::RowFits {
            label: "row".into(),
            gamma: vec![f64::NAN],
            gamma_awd: vec![],
        }],
    ));

    let pts: Vec<NullPoint> = [(50, 1.0), (50, 10.0), (100, 3.0)]
        .iter()
        .map(|&(d, k)| NullPoint {
            d,
            k_eff: k,
            paper_mean_rel_err: -0.1,
            corrected_mean_rel_err: 0.001,
            paper_se_ratio: 0.5,
            corrected_se_ratio: 0.98,
        })
        .collect();
    for w in [Which::Mean, Which::Se] {
        check_svg(&null_grid::render("null", &pts, w).unwrap());
    }
    let mut bad = pts.clone();
    bad[1].paper_se_ratio = f64::NAN;
    non_finite(null_grid::render("null", &bad, Which::Se));
}

#[test]
fn heatmap_draws_rotation_keeps_spectrum_and_rejects_nan() {
    let n = 6;
    let b: Vec<f64> = (0..n * n)
        .map(|t| {
            let (i, j) = (t / n, t % n);
            if i == j {
                1.0 / (1 + i) as f64
            } else {
                0.01 / (1 + i + j) as f64
            }
        })
        .collect();
    let svg = heatmap::render("heat", &b, n, 0).unwrap();
    check_svg(&svg);
    assert_eq!(svg, heatmap::render("heat", &b, n, 0).unwrap());
    // Q B Q^T keeps the trace and the Frobenius norm.
    let r = heatmap::haar_rotated(&b, n, 3).unwrap();
    let tr = |m: &[f64]| (0..n).map(|i| m[i * n + i]).sum::<f64>();
    let fro = |m: &[f64]| m.iter().map(|x| x * x).sum::<f64>();
    let tol = 64.0 * (n * n) as f64 * f64::EPSILON;
    assert!((tr(&r) - tr(&b)).abs() <= tol * tr(&b));
    assert!((fro(&r) - fro(&b)).abs() <= tol * fro(&b));
    let mut bad = b.clone();
    bad[7] = f64::NAN;
    non_finite(heatmap::render("heat", &bad, n, 0));
    assert!(heatmap::render("heat", &b[..5], n, 0).is_err());
}

#[test]
fn escape_covers_markup() {
    assert_eq!(
        html::escape("a<b & \"c\">"),
        "a&lt;b &amp; &quot;c&quot;&gt;"
    );
}

fn settings() -> ReportSettings {
    ReportSettings {
        evidence: EvidenceSettings {
            checks: CheckSettings::new(CheckSettings::default().seed, 2).unwrap(),
            ..EvidenceSettings::default()
        },
        ..ReportSettings::default()
    }
}

/// Every file under `dir`, by path relative to it, with its bytes.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// The mean and sample std, as the tables print them.
fn mean_std_cell(g: &[f64]) -> String {
    let n = g.len() as f64;
    let m = g.iter().sum::<f64>() / n;
    let s = (g.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    format!("{m:.3} +- {s:.3}")
}

/// The records of grid v2's row `row` that met the premise, read as JSON.
fn premise_records(row: &str) -> Vec<serde_json::Value> {
    let dir = Path::new("experiments/results/table1-v2").join(row);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    entries
        .map(|e| {
            serde_json::from_str::<serde_json::Value>(
                &std::fs::read_to_string(e.unwrap().path()).unwrap(),
            )
            .unwrap()
        })
        .filter(|v| v["premise"]["met"].as_bool().unwrap())
        .collect()
}

/// The page's table row of `id` (the line holding its first cell).
fn page_row<'a>(page: &'a str, id: &str) -> &'a str {
    let cell = format!("<tr><td>{id}</td>");
    page.lines()
        .find(|l| l.starts_with(&cell))
        .unwrap_or_else(|| panic!("no row {id} on the page"))
}

#[test]
fn report_page_is_well_formed_complete_faithful_and_reproducible() {
    let s = settings();
    let report = build(&s).unwrap();
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    write(&report, a.path()).unwrap();
    write(&build(&s).unwrap(), b.path()).unwrap();
    let fa = files(a.path());
    assert_eq!(
        fa,
        files(b.path()),
        "a rebuild from the same records differs"
    );

    let page = std::fs::read_to_string(a.path().join("index.html")).unwrap();
    let (root, srcs) = parse_xml(&page, "img", "src");
    assert_eq!(root, "html");
    assert!(!srcs.is_empty());
    let referenced: BTreeSet<&String> = srcs.iter().collect();
    for src in &referenced {
        assert!(src.starts_with("figures/") && !src.contains(".."), "{src}");
        let svg = std::fs::read_to_string(a.path().join(src)).unwrap();
        check_svg(&svg);
    }
    // The figures the records allow are all there.
    for f in [
        "figures/mnist-mlp-ce-seed0-central-loglog.svg",
        "figures/mnist-mlp-ce-seed0-gamma-k.svg",
        "figures/mnist-mlp-ce-seed0-coupling-heatmap.svg",
        "figures/table1-gamma.svg",
        "figures/table1-gamma-awd.svg",
        "figures/c9-interval.svg",
        "figures/c15-training-mnist-mlp-ce.svg",
        "figures/c6-terms-mnist-mlp-ce.svg",
        "figures/c3-null-mean.svg",
        "figures/c4-null-se.svg",
    ] {
        assert!(referenced.contains(&f.to_string()), "{f} not on the page");
    }
    assert!(!page.contains("<script"), "the page runs no script");
    assert!(!page.contains("http://") && !page.contains("https://"));

    // Both verdict lines of every claim, as `claims` computes them.
    for c in &report.evidence.claims {
        for l in [&c.derivation, &c.networks] {
            assert!(
                page.contains(&html::escape(&l.summary)),
                "{}: {}",
                c.id,
                l.summary
            );
            assert!(page.contains(l.status.as_str()));
        }
    }
    // Tables 1 and 3 are grid v2's: each row's gamma and gamma_awd (last
    // checkpoint, primary column) over the seeds that met the premise, read
    // from the records here; a row with fewer than two such seeds shows no
    // measured value and is listed with its reason.
    let config = superlinear::reproduce::netgrid::NetGridConfig::load(Path::new(
        superlinear::reproduce::netgrid::TABLE1_V2_TOML,
    ))
    .unwrap();
    let (mut scored, mut listed) = (0, 0);
    for row in config.rows() {
        let id = config.row_id(row.family, row.classes);
        let met = premise_records(&id);
        let line = page_row(&page, &id);
        let last = |v: &serde_json::Value, f: &str| {
            v["checkpoints"].as_array().unwrap().last().unwrap()[f]
                .as_f64()
                .unwrap()
        };
        if met.len() >= 2 {
            scored += 1;
            for f in ["gamma", "gamma_awd"] {
                let g: Vec<f64> = met.iter().map(|v| last(v, f)).collect();
                let cell = format!("<td>{}</td>", mean_std_cell(&g));
                assert!(line.contains(&cell), "{id} {f}: {cell} not in {line}");
            }
            assert!(line.ends_with("<td>scored</td></tr>"), "{line}");
            if id.contains("-mse-") {
                let t: Vec<f64> = met
                    .iter()
                    .map(|v| {
                        v["net_claims"]["checkpoints"]
                            .as_array()
                            .unwrap()
                            .last()
                            .unwrap()["pairs"]["gamma_term12"]["gamma"]
                            .as_f64()
                            .unwrap()
                    })
                    .collect();
                let t3 = page_row(&page[page.find("id=\"table3\"").unwrap()..], &id);
                let cell = format!("<td>{id}</td><td>{}</td>", mean_std_cell(&t));
                assert!(t3.contains(&cell), "Table 3 {id}: {cell} not in {t3}");
            }
        } else {
            listed += 1;
            assert!(
                line.ends_with("<td>not run</td></tr>")
                    || line.ends_with("<td>not reproduced</td></tr>"),
                "{line}"
            );
            assert!(page.contains(&format!("<li>{id}: not ")), "{id} not listed");
        }
    }
    assert!(
        scored > 0 && scored + listed == config.rows().len(),
        "{scored} scored, {listed} listed"
    );
    for f in ["table1-gamma", "table1-gamma-awd", "c9-interval"] {
        let fig = report
            .figures
            .iter()
            .find(|x| x.file == format!("{f}.svg"))
            .unwrap();
        assert!(
            fig.caption.contains("experiments/results/table1-v2/"),
            "{}",
            fig.caption
        );
    }
    assert!(
        !page.contains("results/reduced"),
        "the page draws from grid v2 only"
    );
    // The README's copy of the central figure is the one the report draws.
    let readme_copy = "experiments/results/figures/mnist-mlp-ce-seed0-central-loglog.svg";
    assert_eq!(
        std::fs::read_to_string(readme_copy).unwrap(),
        std::fs::read_to_string(
            a.path()
                .join("figures/mnist-mlp-ce-seed0-central-loglog.svg")
        )
        .unwrap(),
        "{readme_copy} is stale: copy it from `superlinear report --out DIR`"
    );
    // The central figure's caption quotes the figure record's gamma.
    let rec: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string("experiments/results/figures/mnist-mlp-ce-seed0.json").unwrap(),
    )
    .unwrap();
    let g = rec["fit_c"]["gamma"].as_f64().unwrap();
    assert!(page.contains(&format!("gamma {g:.3} (R^2")));
    let rho = rec["rho_bar"].as_f64().unwrap();
    assert!(page.contains(&format!("top-k {rho:.4}")));
    // C15's last-checkpoint gamma of seed 0 is the net record's.
    let net: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string("experiments/results/net/mnist-mlp-ce/seed-0.json").unwrap(),
    )
    .unwrap();
    let last = net["checkpoints"].as_array().unwrap().last().unwrap()["gamma"]
        .as_f64()
        .unwrap();
    assert!(
        (last - g).abs() < 1e-6,
        "figure record and net record disagree: {g} vs {last}"
    );
}
