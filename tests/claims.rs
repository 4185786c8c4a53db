//! The claim catalogue, the runner, the verify report (snapshot) and the CLI's
//! exit codes and determinism.

use std::process::Command;

use std::collections::BTreeMap;

use superlinear::claims::report::{to_json, Provenance};
use superlinear::claims::{registry, run_all, Catalogue, CheckSettings, Status};
use superlinear::reproduce::claim_docs::{
    readme_block, rendered, rewrite_catalogue, splice_readme, BEGIN, END, REGENERATE,
};
use superlinear::reproduce::evidence::{
    claims_evidence, net_grid_lines, EvidenceSettings, NET_GRID_CLAIMS, NET_K3_TOML,
};
use superlinear::reproduce::netgrid::NETGRID_TOML;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_superlinear"))
}

#[test]
fn catalogue_has_c1_to_c15_in_order() {
    let cat = Catalogue::builtin().unwrap();
    let ids: Vec<String> = cat.claims.iter().map(|c| c.id.clone()).collect();
    let expected: Vec<String> = (1..=15).map(|i| format!("C{i}")).collect();
    assert_eq!(ids, expected);
}

#[test]
fn catalogue_and_registry_agree() {
    // A claim with a check names it; a claim without one is unchecked.
    let cat = Catalogue::builtin().unwrap();
    let checks = registry();
    for c in &cat.claims {
        let has = checks.iter().any(|k| k.claim == c.id);
        assert_eq!(
            has,
            !c.check.is_empty(),
            "{}: check field vs registry",
            c.id
        );
        assert_eq!(
            has,
            c.derivation != Status::Unchecked,
            "{}: derivation status vs registry",
            c.id
        );
        assert!(
            has || !c.net_check.is_empty(),
            "{}: a claim without a synthetic check names the command that checks it on networks",
            c.id
        );
    }
    for k in &checks {
        assert!(
            cat.get(k.claim).is_ok(),
            "registry names unknown claim {}",
            k.claim
        );
    }
}

#[test]
fn unknown_catalogue_keys_are_errors() {
    let text = "[[claim]]\nid = \"C1\"\ntitle = \"t\"\npaper_ref = \"r\"\nstatement = \"s\"\nformula = \"f\"\nsymbols = [\"x: y\"]\nkind = \"identity\"\nderivation = \"unchecked\"\nnetworks = \"unchecked\"\ncolour = \"red\"\n";
    let err = Catalogue::parse(text, "x.toml").unwrap_err().to_string();
    assert!(err.contains("colour"), "{err}");
}

#[test]
fn unchecked_claims_are_never_reported_as_passing() {
    let rows = run_all(&CheckSettings::new(1, 4).unwrap(), None).unwrap();
    let checks = registry();
    for r in &rows {
        if !checks.iter().any(|k| k.claim == r.id) {
            assert_eq!(r.outcome.status, Status::Unchecked, "{}", r.id);
        }
    }
}

#[test]
fn verify_json_snapshot() {
    let settings = CheckSettings::new(7, 8).unwrap();
    let rows = run_all(&settings, None).unwrap();
    let provenance = Provenance {
        git_commit: "[commit]".into(),
        version: "[version]".into(),
        ..Provenance::current()
    };
    let mut value = to_json(&rows, &settings, &provenance, false);
    hide_rounding(&mut value);
    insta::assert_snapshot!(serde_json::to_string_pretty(&value).unwrap());
}

/// Rounding-level figures (|x| < 1e-12, e.g. identity residuals) depend on the
/// machine's floating-point kernels: the snapshot keeps only that they are tiny.
fn hide_rounding(v: &mut serde_json::Value) {
    use serde_json::Value;
    let tiny = |x: f64| x != 0.0 && x.abs() < 1e-12;
    match v {
        Value::Number(n) if n.as_f64().is_some_and(tiny) => {
            *v = Value::String("<1e-12".into());
        }
        Value::String(s) => {
            let out: Vec<String> = s
                .split(' ')
                .map(|tok| {
                    let core = tok.trim_end_matches([',', ';', ')']);
                    match core.parse::<f64>() {
                        Ok(x) if tiny(x) => tok.replacen(core, "<1e-12", 1),
                        _ => tok.to_string(),
                    }
                })
                .collect();
            *s = out.join(" ");
        }
        Value::Array(a) => a.iter_mut().for_each(hide_rounding),
        Value::Object(o) => o.values_mut().for_each(hide_rounding),
        _ => {}
    }
}

#[test]
fn verify_exit_codes() {
    let ok = bin()
        .args(["verify", "--cases", "2", "--claim", "C8"])
        .output()
        .unwrap();
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    for args in [
        vec!["verify", "--cases", "0"],
        vec!["verify", "--claim", "C99"],
        vec!["verify", "--seed", "-1"],
        vec!["verify", "--bogus"],
        vec!["frobnicate"],
    ] {
        let out = bin().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(!err.trim().is_empty(), "{args:?}: no message");
    }
}

#[test]
fn verify_json_is_byte_identical_for_a_seed() {
    let run = || {
        bin()
            .args([
                "verify",
                "--json",
                "--no-timings",
                "--seed",
                "5",
                "--cases",
                "4",
            ])
            .output()
            .unwrap()
            .stdout
    };
    let (a, b) = (run(), run());
    assert!(!a.is_empty());
    assert_eq!(a, b);
}

#[test]
fn status_words_are_the_same_everywhere() {
    for st in Status::ALL {
        let json = serde_json::to_value(st).unwrap();
        assert_eq!(json.as_str(), Some(st.as_str()), "{st:?}");
        assert_eq!(st.to_string(), st.as_str());
        assert_eq!(Status::parse(st.as_str()), Some(st));
        assert_eq!(st.as_str(), st.as_str().to_lowercase());
    }
}

/// The README block and the catalogue fields as `claims --write` renders
/// them from what the checks return on the committed records, against the
/// committed files. Runs every synthetic check at the default settings once.
#[test]
fn readme_and_catalogue_statuses_are_generated_from_the_checks() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let report = claims_evidence(&EvidenceSettings::default()).unwrap();
    assert_eq!(report.claims.len(), 15);
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let catalogue = std::fs::read_to_string(root.join("theory/claims.toml")).unwrap();
    let (want_readme, want_catalogue) = rendered(&report, &readme, &catalogue).unwrap();
    assert!(
        readme == want_readme,
        "README.md's claim table disagrees with the checks; regenerate with `{REGENERATE}`\n--- generated block ---\n{}",
        readme_block(&report)
    );
    assert!(
        catalogue == want_catalogue,
        "theory/claims.toml's derivation/networks fields disagree with the checks; regenerate with `{REGENERATE}`"
    );
    // The compiled-in catalogue is the committed file.
    let builtin = Catalogue::builtin().unwrap();
    for (c, e) in builtin.claims.iter().zip(&report.claims) {
        assert_eq!(
            (c.derivation, c.networks),
            (e.derivation.status, e.networks.status),
            "{}",
            c.id
        );
    }
    // Claims without a network side say why; C9 and C14 are judged from records.
    for e in &report.claims {
        if e.networks.status == Status::Unchecked {
            assert!(!e.networks.summary.is_empty(), "{}", e.id);
        }
    }
}

fn statuses(pairs: &[(&str, Status, Status)]) -> BTreeMap<String, (Status, Status)> {
    pairs
        .iter()
        .map(|(id, d, n)| (id.to_string(), (*d, *n)))
        .collect()
}

#[test]
fn catalogue_rewrite_touches_only_the_status_fields() {
    let text = "# head\n[[claim]]\nid = \"C1\"\ntitle = \"t\"\npaper_ref = \"r\"\nstatement = \"s\"\nformula = \"f\"\nsymbols = [\"x: y\"]\nkind = \"identity\"\nderivation = \"unchecked\"\nnetworks = \"unchecked\"\nnotes = \"derivation = \\\"x\\\" in prose\"\n";
    let out = rewrite_catalogue(
        text,
        &statuses(&[("C1", Status::Verified, Status::NotReproduced)]),
        "x.toml",
    )
    .unwrap();
    assert_eq!(
        out,
        text.replace("derivation = \"unchecked\"", "derivation = \"verified\"")
            .replace("networks = \"unchecked\"", "networks = \"not reproduced\"")
    );
    let c = Catalogue::parse(&out, "x.toml").unwrap();
    assert_eq!(c.claims[0].networks, Status::NotReproduced);
    // A claim without a computed status is an error naming the file.
    let err = rewrite_catalogue(text, &statuses(&[]), "x.toml").unwrap_err();
    assert!(err.to_string().contains("x.toml"), "{err}");
}

#[test]
fn readme_splice_keeps_the_text_around_the_markers() {
    let readme = format!("intro\n{BEGIN}\nold table\n{END}\ntail\n");
    let out = splice_readme(&readme, "| new |\n", "README.md").unwrap();
    assert_eq!(out, format!("intro\n{BEGIN}\n| new |\n{END}\ntail\n"));
    for bad in ["no markers\n".to_string(), format!("{END}\n{BEGIN}\n")] {
        let err = splice_readme(&bad, "x", "README.md").unwrap_err();
        assert!(err.to_string().contains("README.md"), "{err}");
    }
}

#[test]
fn claims_command_exit_codes_and_json() {
    // C2's derivation is verified, it has no network line: exit 0.
    let ok = bin()
        .args(["claims", "--cases", "2", "--claim", "C2", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["claims"][0]["derivation"]["status"], "verified");
    assert_eq!(v["claims"][0]["networks"]["status"], "unchecked");
    assert!(!String::from_utf8_lossy(&ok.stdout).contains("\"Ok\""));
    // C14 on the committed Table 1 records: exit 1 exactly when a line is
    // a counterexample, the text naming the grid's source and status.
    let c14 = bin().args(["claims", "--claim", "C14"]).output().unwrap();
    let text = String::from_utf8_lossy(&c14.stdout);
    let json = bin()
        .args(["claims", "--claim", "C14", "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let net = v["claims"][0]["networks"]["status"]
        .as_str()
        .unwrap()
        .to_string();
    let failed =
        net == "counterexample" || v["claims"][0]["derivation"]["status"] == "counterexample";
    assert_eq!(c14.status.code(), Some(i32::from(failed)), "{text}");
    assert!(text.contains("Sec. 4, Table 1, Table 3, App. B"), "{text}");
    assert!(text.contains(&format!("networks    {net}")), "{text}");
    assert!(
        text.contains("net-grid --config experiments/table1-v2.toml"),
        "{text}"
    );
    for args in [
        vec!["claims", "--claim", "C99"],
        vec!["claims", "--cases", "0"],
        vec!["claims", "--write", "--claim", "C1"],
        vec!["claims", "--records", "/nonexistent", "--write"],
    ] {
        let out = bin().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            !String::from_utf8_lossy(&out.stderr).trim().is_empty(),
            "{args:?}"
        );
    }
}

/// The K = 3 net grid joins the K = 10 grid's networks lines, each of its
/// families judged as its own (`<data>-<model>-k3-<loss>`, so that C13's
/// CE-vs-MSE pairing finds them); without its config nothing of it appears.
#[test]
fn k3_net_grid_joins_the_networks_lines_as_its_own_families() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let net = (
        repo.join("experiments/results/net"),
        repo.join(NETGRID_TOML),
    );
    let k3 = (
        repo.join("experiments/results/net-k3"),
        repo.join(NET_K3_TOML),
    );
    let both = net_grid_lines(&[net.clone(), k3]).unwrap();
    let alone = net_grid_lines(std::slice::from_ref(&net)).unwrap();
    let missing = net_grid_lines(&[net, (repo.join("net-k3"), repo.join("no-such.toml"))]).unwrap();
    assert_eq!(alone, missing);
    for id in NET_GRID_CLAIMS {
        assert!(
            both[id].summary.contains("of 10 families"),
            "{id}: {}",
            both[id].summary
        );
        assert!(
            alone[id].summary.contains("of 8 families"),
            "{id}: {}",
            alone[id].summary
        );
        assert!(
            !alone[id].details.iter().any(|d| d.contains("-k3-")),
            "{id}"
        );
        for fam in ["mnist-mlp-k3-ce", "mnist-mlp-k3-mse"] {
            assert!(
                both[id]
                    .details
                    .iter()
                    .any(|d| d.starts_with(&format!("{fam}: "))),
                "{id}: {:?}",
                both[id].details
            );
        }
    }
    assert!(
        both["C13"]
            .details
            .iter()
            .any(|d| d.starts_with("mnist-mlp-k3 CE vs MSE entanglement: ")),
        "{:?}",
        both["C13"].details
    );
}

/// Every gamma-based networks verdict of the net grid (C6, C7, C13, C15)
/// lists, in its family line, each scored seed with a 95% bootstrap interval
/// and gamma(k) ends; and the homogenised gamma_awd(k) that C13's text
/// recomputes from the stored diagonals ends at the stored fit.
#[test]
fn gamma_verdicts_on_networks_carry_each_scored_seeds_interval_and_k_sensitivity() {
    use superlinear::progress::Silent;
    use superlinear::reproduce::netgrid::record::load_all;
    use superlinear::reproduce::netgrid::NetGridConfig;
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let (dir, toml) = (
        repo.join("experiments/results/net"),
        repo.join(NETGRID_TOML),
    );
    let config = NetGridConfig::load(&toml).unwrap();
    let stored = load_all(&dir, &config, &Silent);
    assert!(stored.skipped.is_empty(), "{:?}", stored.skipped);
    let lines = net_grid_lines(&[(dir, toml)]).unwrap();
    let interval = |s: &str| {
        s.match_indices('[')
            .filter(|(i, _)| {
                let t = &s[i + 1..];
                t.split(']').next().is_some_and(|x| {
                    let v: Vec<&str> = x.split(", ").collect();
                    v.len() == 2 && v.iter().all(|n| n.parse::<f64>().is_ok())
                })
            })
            .count()
    };
    let mut checked = 0;
    for claim in ["C6", "C7", "C13", "C15"] {
        for fam in config.family_ids() {
            let scored = scored_seeds(&stored, &fam);
            if scored.is_empty() {
                continue;
            }
            let line = family_line(&lines, claim, &fam);
            let tail = line
                .split(" per seed: ")
                .nth(1)
                .unwrap_or_else(|| panic!("{claim} {fam}: no per-seed uncertainty in {line}"));
            for s in &scored {
                assert!(
                    tail.contains(&format!("{s}: ")),
                    "{claim} {fam} seed {s}: {tail}"
                );
            }
            assert!(interval(tail) >= scored.len(), "{claim} {fam}: {tail}");
            assert!(
                tail.matches(" (k ").count() >= 2 * scored.len(),
                "{claim} {fam}: gamma(k) ends missing in {tail}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 16, "{checked} family lines checked");
    for r in &stored.runs {
        let Some(text) = r.claim_uncertainty().remove("C13") else {
            continue;
        };
        let stored_after = r.net_claims["suppression"]["homogenized"]["gamma_awd"]["gamma"]
            .as_f64()
            .unwrap();
        assert!(
            text.ends_with(&format!("to {stored_after:.3}"))
                || text.contains(&format!("to {stored_after:.3} (k ")),
            "{} seed {}: {text} (stored {stored_after:.3})",
            r.config.family,
            r.seed()
        );
    }
}

/// The seeds of `fam` that meet their premise.
fn scored_seeds(
    stored: &superlinear::reproduce::netgrid::record::StoredRecords,
    fam: &str,
) -> Vec<u64> {
    stored
        .runs
        .iter()
        .filter(|r| r.config.family == fam && r.premise.met)
        .map(|r| r.seed())
        .collect()
}

/// The family line of `fam` in `claim`'s networks line.
fn family_line<'a>(
    lines: &'a BTreeMap<String, superlinear::claims::evidence::Line>,
    claim: &str,
    fam: &str,
) -> &'a str {
    lines[claim]
        .details
        .iter()
        .find(|d| d.starts_with(&format!("{fam}: ")))
        .unwrap_or_else(|| panic!("{claim} {fam}: no family line"))
}

/// Both net grids' records carry the bootstraps of what C6, C7 and C13
/// judge: each scored seed's line gives the interval of the difference its
/// verdict compares (gamma_I - gamma_Dg, gamma_I - gamma_iso, C13's shift
/// under homogenisation) and the exponent's gamma(k), and no scored seed is
/// left without an interval.
#[test]
fn net_verdicts_carry_the_interval_of_the_difference_they_judge() {
    use superlinear::progress::Silent;
    use superlinear::reproduce::netgrid::record::load_all;
    use superlinear::reproduce::netgrid::NetGridConfig;
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut checked = 0;
    for (dir, toml) in [
        ("experiments/results/net", NETGRID_TOML),
        ("experiments/results/net-k3", NET_K3_TOML),
    ] {
        let (dir, toml) = (repo.join(dir), repo.join(toml));
        let config = NetGridConfig::load(&toml).unwrap();
        let stored = load_all(&dir, &config, &Silent);
        let lines = net_grid_lines(&[(dir, toml)]).unwrap();
        for (claim, diff, curve) in [
            ("C6", "gamma_I - gamma_Dg [", "gamma_I(k) "),
            ("C7", "gamma_I - gamma_iso [", "gamma_I(k) "),
            ("C13", "homogenised, shift ", "gamma_awd(k) after "),
        ] {
            for fam in config.family_ids() {
                let scored = scored_seeds(&stored, &fam).len();
                if scored == 0 {
                    continue;
                }
                let line = family_line(&lines, claim, &fam);
                assert_eq!(line.matches(diff).count(), scored, "{claim} {fam}: {line}");
                assert_eq!(line.matches(curve).count(), scored, "{claim} {fam}: {line}");
                assert!(!line.contains("no interval"), "{claim} {fam}: {line}");
                checked += 1;
            }
        }
    }
    assert!(checked >= 3 * (4 + 2), "{checked} family lines checked");
}
