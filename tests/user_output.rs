//! What a researcher sees in the first hour, pinned: every command's exit
//! code under the one rule (0 ran and no reported line is a counterexample,
//! 1 one is, 2 bad input), no Rust identifiers in any text output, every
//! claim's formula in symbols and words in `verify --details` and `--json`,
//! float32 inputs to `coupling` read at their own precision and
//! `--symmetrize` stated, the null `analyze` reports labelled, and the
//! README's quoted counterexample equal to what the command prints.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;

use ndarray::Array2;
use ndarray_npy::WriteNpyExt;
use superlinear::data::factors::FactorLoss;
use superlinear::exit;

use crate::analyze_factors::factor_file;
use crate::util::run;

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn code(o: &Output) -> Option<i32> {
    o.status.code()
}

/// A symmetric positive definite d x d matrix with a spread spectrum.
fn spd(d: usize, seed: u64) -> Array2<f64> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let x = Array2::from_shape_fn((2 * d, d), |_| rng.random::<f64>() - 0.5);
    let mut a = x.t().dot(&x);
    for i in 0..d {
        a[[i, i]] += 0.1;
    }
    a
}

fn write_f64(path: &Path, a: &Array2<f64>) {
    let mut f = std::fs::File::create(path).unwrap();
    a.write_npy(&mut f).unwrap();
}

fn write_f32(path: &Path, a: &Array2<f64>) {
    let mut f = std::fs::File::create(path).unwrap();
    a.mapv(|x| x as f32).write_npy(&mut f).unwrap();
}

/// Every `fn` name of two or more underscores defined under `src/` (a
/// one-underscore name is usually a symbol of the paper's notation, e.g.
/// `k_eff`, `lambda_min`), but the paper's own symbols (a word of some
/// claim's formula, statement or symbols in the catalogue): none of them
/// may appear in what a user reads.
fn rust_function_names() -> BTreeSet<String> {
    fn walk(dir: &Path, out: &mut BTreeSet<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&p).unwrap();
                for line in text.lines() {
                    let l = line.trim_start();
                    let Some(i) = l.find("fn ") else { continue };
                    if !(i == 0 || l[..i].ends_with(' ')) || l.starts_with("//") {
                        continue;
                    }
                    let name: String = l[i + 3..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if name.matches('_').count() >= 2 {
                        out.insert(name);
                    }
                }
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut out);
    let catalogue = superlinear::claims::Catalogue::builtin().unwrap();
    for c in &catalogue.claims {
        let text = format!("{} {} {}", c.formula, c.statement, c.symbols.join(" "));
        for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            out.remove(word);
        }
    }
    out
}

/// Fails when `text` (the output of `what`) holds a Rust path (`a::b`) or a
/// function name of the crate.
fn no_rust_identifiers(what: &str, text: &str, names: &BTreeSet<String>) {
    for line in text.lines() {
        assert!(!line.contains("::"), "{what}: Rust path in {line:?}");
        for word in line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            assert!(
                !names.contains(word),
                "{what}: the function name {word:?} in {line:?}"
            );
        }
    }
}

#[test]
fn verify_and_claims_state_every_formula_and_name_no_rust_identifier() {
    let names = rust_function_names();
    assert!(names.contains("finite_fit_interval"), "the scan finds fns");
    let text = run(&["verify", "--details"]);
    assert_eq!(code(&text), Some(exit::CLAIM_FAILED));
    let text = stdout(&text);
    no_rust_identifiers("verify --details", &text, &names);
    let json = run(&["verify", "--json", "--no-timings"]);
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let claims = json["claims"].as_array().unwrap();
    assert_eq!(claims.len(), 15);
    for c in claims {
        let id = c["id"].as_str().unwrap();
        let formula = c["formula"].as_str().unwrap();
        let statement = c["statement"].as_str().unwrap();
        let symbols: Vec<&str> = c["symbols"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        assert!(formula.len() > 10 && statement.len() > 40, "{id}");
        assert!(symbols.len() >= 3, "{id}: {symbols:?}");
        assert!(
            symbols.last().unwrap().starts_with("basis: "),
            "{id}: the basis is named last: {symbols:?}"
        );
        assert!(text.contains(&format!("tests:    {formula}\n")), "{id}");
        assert!(text.contains(&format!("in words: {statement}\n")), "{id}");
        for s in &symbols {
            assert!(text.contains(s), "{id}: {s}");
        }
        // The paper reference is printed whole.
        assert!(
            text.contains(c["paper_ref"].as_str().unwrap()),
            "{id}: {}",
            c["paper_ref"]
        );
    }
    let c9 = claims.iter().find(|c| c["id"] == "C9").unwrap();
    assert!(c9["formula"]
        .as_str()
        .unwrap()
        .starts_with("H_ii^2 <= S_ii <= Lambda H_ii"));
    let claims_text = run(&["claims", "--details"]);
    assert_eq!(code(&claims_text), Some(exit::CLAIM_FAILED));
    let claims_text = stdout(&claims_text);
    no_rust_identifiers("claims --details", &claims_text, &names);
    for c in claims {
        let formula = c["formula"].as_str().unwrap();
        assert!(claims_text.contains(formula), "claims --details: {formula}");
    }
}

#[test]
fn the_readme_quotes_what_verify_prints() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let marker = "the smallest counterexample `verify --claim C9 --details` finds:";
    let at = readme
        .find(marker)
        .expect("the README quotes C9's counterexample");
    let rest = &readme[at + marker.len()..];
    let quote: String = rest
        .split('`')
        .nth(1)
        .expect("a quoted figure")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let out = stdout(&run(&["verify", "--claim", "C9", "--details"]));
    assert!(
        out.contains(&quote),
        "README quotes {quote:?}, verify prints:\n{out}"
    );
}

#[test]
fn exit_codes_follow_the_one_rule() {
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path().join("C.npy");
    let h = dir.path().join("H.npy");
    write_f64(&c, &spd(12, 1));
    write_f64(&h, &spd(12, 2));
    let layer = dir.path().join("layer.safetensors");
    let f = factor_file(40, 3, 4, 3, FactorLoss::CrossEntropy, 5);
    std::fs::write(&layer, f.to_bytes().unwrap()).unwrap();
    let (cs, hs, ls) = (
        c.to_str().unwrap(),
        h.to_str().unwrap(),
        layer.to_str().unwrap(),
    );
    let cases: Vec<(Vec<&str>, i32)> = vec![
        (vec!["verify", "--claim", "C9"], exit::OK),
        (vec!["verify", "--claim", "C4"], exit::CLAIM_FAILED),
        (vec!["verify", "--claim", "C99"], exit::BAD_INPUT),
        (vec!["claims", "--claim", "C1"], exit::OK),
        // C3's derivation is a counterexample (App. C's baseline).
        (vec!["claims", "--claim", "C3"], exit::CLAIM_FAILED),
        (vec!["claims", "--cases", "0"], exit::BAD_INPUT),
        (
            vec![
                "baseline",
                "--d",
                "50",
                "--spectrum",
                "spikes:5",
                "--rotations",
                "20",
            ],
            exit::OK,
        ),
        (vec!["baseline", "--d", "0"], exit::BAD_INPUT),
        (
            vec!["coupling", "--cov", cs, "--hess", hs, "--rotations", "20"],
            exit::OK,
        ),
        (
            vec!["coupling", "--cov", cs, "--hess", "/no/such/H.npy"],
            exit::BAD_INPUT,
        ),
        (
            vec!["analyze", "--factors", ls, "--top-k", "8", "--samples", "0"],
            exit::OK,
        ),
        (vec!["analyze", "--factors", cs], exit::BAD_INPUT),
    ];
    for (args, want) in cases {
        let o = run(&args);
        assert_eq!(
            code(&o),
            Some(want),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        if want == exit::BAD_INPUT {
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        }
    }
}

#[test]
fn coupling_reads_float32_at_its_precision_and_states_symmetrize() {
    let d = 20;
    let dir = tempfile::tempdir().unwrap();
    let c = spd(d, 3);
    let mut h = spd(d, 4);
    // An asymmetry of float32 rounding size, as a float32 matmul leaves it:
    // far above float64's tolerance, within float32's.
    let scale = h.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    h[[0, 1]] += 3.0 * f64::from(f32::EPSILON) * scale;
    let (c32, h32, h64) = (
        dir.path().join("C32.npy"),
        dir.path().join("H32.npy"),
        dir.path().join("H64.npy"),
    );
    write_f32(&c32, &c);
    write_f32(&h32, &h);
    write_f64(&h64, &h);
    let args = |hess: &Path, extra: &[&'static str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "coupling",
            "--cov",
            c32.to_str().unwrap(),
            "--hess",
            hess.to_str().unwrap(),
            "--rotations",
            "20",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let call = |v: Vec<String>| run(&v.iter().map(String::as_str).collect::<Vec<_>>());
    // float32: accepted, the tolerance at float32's epsilon stated.
    let o = call(args(&h32, &[]));
    assert_eq!(
        code(&o),
        Some(exit::OK),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = stdout(&o);
    assert!(text.contains("input H: float32, eps 1.2e-7"), "{text}");
    assert!(text.contains("p to report: "), "{text}");
    // The same values in float64: refused at float64's tolerance, naming the flag.
    let o = call(args(&h64, &[]));
    assert_eq!(code(&o), Some(exit::BAD_INPUT));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("not symmetric") && err.contains("--symmetrize"),
        "{err}"
    );
    // --symmetrize: accepted and stated, in text and JSON.
    let o = call(args(&h64, &["--symmetrize"]));
    assert_eq!(code(&o), Some(exit::OK));
    assert!(
        stdout(&o).contains("replaced by (A + A^T)/2 (--symmetrize)"),
        "{}",
        stdout(&o)
    );
    let o = call(args(&h64, &["--symmetrize", "--json"]));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(json["inputs"]["hess"]["symmetrized"], true);
    assert_eq!(json["inputs"]["cov"]["symmetrized"], false);
    assert_eq!(json["p_report"], json["empirical_p"]);
    assert_eq!(json["p_report_source"], "simulated Monte Carlo");
}

#[test]
fn coupling_names_the_floor_of_its_monte_carlo_p() {
    // C = H^2 commutes with H: rho_bar = 0, below every rotated C.
    let dir = tempfile::tempdir().unwrap();
    let h = spd(15, 6);
    let c = h.dot(&h);
    let (cp, hp) = (dir.path().join("C.npy"), dir.path().join("H.npy"));
    write_f64(&cp, &c);
    write_f64(&hp, &h);
    let o = run(&[
        "coupling",
        "--cov",
        cp.to_str().unwrap(),
        "--hess",
        hp.to_str().unwrap(),
        "--rotations",
        "19",
    ]);
    assert_eq!(code(&o), Some(exit::OK));
    let text = stdout(&o);
    assert!(
        text.contains("p to report: p <= 1/(R+1) = 5.000e-2, the floor of R = 19 rotations"),
        "{text}"
    );
}

#[test]
fn analyze_reports_the_corrected_null_and_labels_the_papers() {
    let dir = tempfile::tempdir().unwrap();
    let layer = dir.path().join("layer.safetensors");
    let f = factor_file(60, 4, 5, 3, FactorLoss::CrossEntropy, 7);
    std::fs::write(&layer, f.to_bytes().unwrap()).unwrap();
    let path = layer.to_str().unwrap();
    let o = run(&["analyze", "--factors", path, "--top-k", "12"]);
    assert_eq!(code(&o), Some(exit::OK));
    let text = stdout(&o);
    let line = text
        .lines()
        .find(|l| l.starts_with("rho_bar C     (C3)"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        line.contains("null mean ") && line.contains("(corrected, k_rho "),
        "{line}"
    );
    assert!(
        line.contains("beside it the paper's App. C/D formula (known biased, see C3/C4)"),
        "{line}"
    );
    // The corrected null comes first: the paper's z sits after its label.
    assert!(
        line.find("corrected").unwrap() < line.find(" z ").unwrap(),
        "{line}"
    );
    assert!(
        text.contains("C9 Theorem 5.1: applies (premise: PSD per-sample Hessians"),
        "{text}"
    );
    no_rust_identifiers("analyze", &text, &rust_function_names());
    let o = run(&["analyze", "--factors", path, "--top-k", "12", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(json["coupling_c"]["reported_null"], "corrected mean");
    assert!(json["coupling_c"]["corrected_mean"].is_number());
    assert_eq!(json["theorem_5_1"]["applicable"], true);
    assert_eq!(json["theorem_5_1"]["status"], "verified");
    // --paper-null-only leaves the corrected null out and says so.
    let o = run(&[
        "analyze",
        "--factors",
        path,
        "--top-k",
        "12",
        "--paper-null-only",
    ]);
    assert!(stdout(&o).contains("corrected null not computed (--paper-null-only)"));
}

#[test]
fn analyze_on_indefinite_per_sample_hessians_says_not_applicable() {
    // Softmax-MSE at random logits: indefinite A_p, so h_p is not PSD.
    let dir = tempfile::tempdir().unwrap();
    let layer = dir.path().join("layer.safetensors");
    let f = factor_file(60, 4, 5, 3, FactorLoss::SoftmaxMse, 8);
    std::fs::write(&layer, f.to_bytes().unwrap()).unwrap();
    let path = layer.to_str().unwrap();
    let o = run(&["analyze", "--factors", path, "--top-k", "12", "--json"]);
    assert_eq!(code(&o), Some(exit::OK));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let t = &json["theorem_5_1"];
    assert_eq!(t["applicable"], false, "{t}");
    assert_eq!(t["status"], "not reproduced");
    let mass = t["negative_mass"].as_f64().unwrap();
    assert!(mass > 1e-6, "{t}");
    let text = stdout(&run(&["analyze", "--factors", path, "--top-k", "12"]));
    assert!(
        text.contains(&format!(
            "C9 Theorem 5.1: not applicable (premise: PSD per-sample Hessians; negative eigenvalue mass {mass:.3}"
        )),
        "{text}"
    );
    assert!(text.contains("bounds not judged"), "{text}");
}
