//! `superlinear analyze --factors` in the default build: a factor file in,
//! the same figures as the library's `analyze_layer` out; bad files, a memory
//! cap too small, the checkpoint-only flags and a checkpoint without the
//! torch feature refused with exit 2 and one line naming the input.

use std::collections::BTreeMap;
use std::process::Output;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use superlinear::data::factors::{FactorFile, FactorLoss, FactorMeta, FactorPrecision};
use superlinear::layer::{analyze_layer, LayerFactors, LayerSettings};
use superlinear::progress::Silent;

use crate::util::run;

/// A factor file of a random layer: ReLU-like activities, dense D_p.
pub(crate) fn factor_file(
    n: usize,
    out: usize,
    inn: usize,
    k: usize,
    loss: FactorLoss,
    seed: u64,
) -> FactorFile {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut gauss = || rng.random::<f64>() * 2.0 - 1.0;
    let acts = (0..n * inn).map(|_| gauss().max(0.0)).collect();
    let jacobians = (0..n * k * out).map(|_| gauss()).collect();
    let logits = (0..n * k).map(|_| 2.0 * gauss()).collect();
    let weight = (0..out * inn).map(|_| 0.3 * gauss()).collect();
    FactorFile {
        meta: FactorMeta {
            version: 1,
            model: "random relu layer".into(),
            layer: "fc.weight".into(),
            data: format!("{n} random samples"),
            tool: "tests/analyze_factors.rs".into(),
            batch_size: Some(4),
            extra: BTreeMap::new(),
        },
        loss,
        precision: FactorPrecision::F64,
        n,
        out,
        inn,
        classes: k,
        acts,
        jacobians,
        logits,
        labels: (0..n).map(|p| p % k).collect(),
        weight,
    }
}

fn one_line_naming(out: &Output, needle: &str) {
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line expected: {err}");
    assert!(lines[0].contains(needle), "{needle:?} not in {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn factors_json_equals_the_library_analysis() {
    for (loss, seed) in [(FactorLoss::CrossEntropy, 1), (FactorLoss::SoftmaxMse, 2)] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("layer.safetensors");
        let f = factor_file(60, 4, 5, 3, loss, seed);
        std::fs::write(&path, f.to_bytes().unwrap()).unwrap();
        let out = run(&[
            "analyze",
            "--factors",
            path.to_str().unwrap(),
            "--samples",
            "0",
            "--top-k",
            "12",
            "--json",
        ]);
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let idx: Vec<usize> = (0..f.n).collect();
        let lib = analyze_layer(
            &LayerFactors::from_factor_file(&f, &idx),
            &LayerSettings {
                top_k: 12,
                batch_size: 4,
                ..LayerSettings::default()
            },
            &Silent,
        )
        .unwrap();
        assert_eq!(json["factors"], path.to_str().unwrap());
        assert_eq!(json["model"], "random relu layer");
        assert_eq!(json["batch_size"], 4);
        assert_eq!(json["samples"], 60);
        let g = json["gamma"]["gamma"].as_f64().unwrap();
        let want = lib.gamma.as_ref().unwrap().gamma;
        assert!(
            (g - want).abs() <= 1e-12 * want.abs().max(1.0),
            "{g} vs {want}"
        );
        let h: Vec<f64> = json["h_diag"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert_eq!(h.len(), 12);
        for (a, b) in h.iter().zip(&lib.h_diag) {
            assert!((a - b).abs() <= 1e-12 * lib.h_diag[0].abs(), "{a} vs {b}");
        }
        // The text report names the file and the model.
        let text = run(&[
            "analyze",
            "--factors",
            path.to_str().unwrap(),
            "--top-k",
            "12",
        ]);
        let s = String::from_utf8_lossy(&text.stdout);
        assert!(
            s.contains("random relu layer") && s.contains("gamma"),
            "{s}"
        );
        // gamma's interval (bootstrap over samples, basis fixed), the rule of
        // the primary top-k, the form test and the gamma(k) table.
        assert!(s.contains("[95% CI "), "{s}");
        assert!(
            s.contains("(bootstrap over samples, basis fixed, 200 replicates"),
            "{s}"
        );
        assert!(s.contains("at top-k 12 (rule: primary top-k = 12"), "{s}");
        assert!(s.contains("k-sensitivity: gamma "), "{s}");
        assert!(s.contains("form test: curvature c "), "{s}");
        assert!(s.contains("gamma(k):"), "{s}");
        let ci = &json["gamma_uncertainty"]["bootstrap"]["gamma_ci"];
        let lib_ci = lib
            .gamma_uncertainty
            .as_ref()
            .unwrap()
            .bootstrap
            .as_ref()
            .unwrap()
            .gamma_ci;
        assert_eq!(ci[0].as_f64().unwrap(), lib_ci.0);
        assert_eq!(ci[1].as_f64().unwrap(), lib_ci.1);
    }
}

#[test]
fn bad_uncertainty_flags_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("layer.safetensors");
    let f = factor_file(20, 3, 4, 3, FactorLoss::CrossEntropy, 3);
    std::fs::write(&path, f.to_bytes().unwrap()).unwrap();
    let p = path.to_str().unwrap();
    one_line_naming(
        &run(&["analyze", "--factors", p, "--bootstrap-reps", "1"]),
        "--bootstrap-reps",
    );
    one_line_naming(
        &run(&["analyze", "--factors", p, "--null-rotations", "0"]),
        "--null-rotations",
    );
}

#[test]
fn bad_factor_files_exit_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let good = factor_file(10, 2, 3, 3, FactorLoss::CrossEntropy, 3)
        .to_bytes()
        .unwrap();
    let cases: [(&str, Vec<u8>); 3] = [
        ("truncated.safetensors", good[..good.len() / 2].to_vec()),
        (
            "garbage.safetensors",
            b"not a safetensors file at all".to_vec(),
        ),
        ("empty.safetensors", Vec::new()),
    ];
    for (name, bytes) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        one_line_naming(&run(&["analyze", "--factors", p.to_str().unwrap()]), name);
    }
    one_line_naming(
        &run(&["analyze", "--factors", "/no/such/dir/layer.safetensors"]),
        "layer.safetensors",
    );
}

#[test]
fn a_memory_cap_below_the_plan_is_refused_before_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("layer.safetensors");
    std::fs::write(
        &path,
        factor_file(50, 4, 5, 3, FactorLoss::CrossEntropy, 4)
            .to_bytes()
            .unwrap(),
    )
    .unwrap();
    let out = run(&[
        "analyze",
        "--factors",
        path.to_str().unwrap(),
        "--memory-limit-gib",
        "0.000001",
    ]);
    one_line_naming(&out, "memory");
    one_line_naming(
        &run(&[
            "analyze",
            "--factors",
            path.to_str().unwrap(),
            "--memory-limit-gib",
            "-1",
        ]),
        "--memory-limit-gib",
    );
}

#[test]
fn analyze_needs_a_source() {
    let out = run(&["analyze"]);
    assert_eq!(out.status.code(), Some(2));
}

#[cfg(not(feature = "torch"))]
#[test]
fn a_checkpoint_needs_the_torch_feature() {
    one_line_naming(
        &run(&["analyze", "--checkpoint", "runs/x/final.safetensors"]),
        "torch feature",
    );
}

#[test]
fn checkpoint_only_flags_are_refused_with_a_factor_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("layer.safetensors");
    std::fs::write(
        &path,
        factor_file(12, 3, 4, 3, FactorLoss::CrossEntropy, 5)
            .to_bytes()
            .unwrap(),
    )
    .unwrap();
    let p = path.to_str().unwrap();
    one_line_naming(&run(&["analyze", "--factors", p, "--float64"]), "--float64");
    let inputs = dir.path().join("inputs");
    let out = run(&[
        "analyze",
        "--factors",
        p,
        "--save-inputs",
        inputs.to_str().unwrap(),
    ]);
    one_line_naming(&out, "--save-inputs");
    assert!(!inputs.exists(), "nothing is written for a refused flag");
}

/// What `analyze` does with one flag value: refuse it (exit 2, one line
/// naming the flag), apply it as given, or apply another value and state it.
#[derive(Debug, Clone, Copy)]
enum Expect {
    Refused,
    AsGiven,
    Adjusted(usize),
}

/// The adjustments of `flag` in the JSON report, as (requested, used).
fn json_adjustments(json: &serde_json::Value, flag: &str) -> Vec<(u64, u64)> {
    json["adjustments"]
        .as_array()
        .expect("adjustments is a list")
        .iter()
        .filter(|a| a["flag"] == flag)
        .map(|a| {
            (
                a["requested"].as_u64().unwrap(),
                a["used"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Runs `analyze --factors` with `flag value` (and fast uncertainty
/// settings) and checks `expect`; the count actually analysed (samples, or
/// the length of `h_diag` for top-k) must equal the stated `used`.
fn check_flag(path: &str, n: usize, d: usize, flag: &str, value: &str, expect: Expect) {
    let mut args = vec!["analyze", "--factors", path];
    for (f, v) in [("--bootstrap-reps", "2"), ("--null-rotations", "1")] {
        if f != flag {
            args.extend([f, v]);
        }
    }
    args.extend([flag, value]);
    let out = run(&[args.as_slice(), &["--json"]].concat());
    let name = flag.trim_start_matches('-');
    match expect {
        Expect::Refused => {
            one_line_naming(&out, flag);
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains(value),
                "{flag} {value}: value not named: {err}"
            );
            return;
        }
        Expect::AsGiven | Expect::Adjusted(_) => {
            assert!(
                matches!(out.status.code(), Some(0 | 1)),
                "{flag} {value}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let analysed = match name {
        "top-k" => json["h_diag"].as_array().unwrap().len(),
        "samples" => json["samples"].as_u64().unwrap() as usize,
        _ => unreachable!(),
    };
    let stated = json_adjustments(&json, name);
    let text = run(&args);
    let text = String::from_utf8_lossy(&text.stdout);
    match expect {
        Expect::AsGiven => {
            assert!(stated.is_empty(), "{flag} {value}: {stated:?}");
            assert_eq!(analysed.to_string(), value, "{flag} {value}");
            assert!(!text.contains(&format!("adjusted: {flag} ")), "{text}");
        }
        Expect::Adjusted(used) => {
            let requested: u64 = value.parse().unwrap();
            assert_eq!(stated, vec![(requested, used as u64)], "{flag} {value}");
            assert_eq!(analysed, used, "{flag} {value}: stated {used}");
            let line = format!("adjusted: {flag} {value} -> {used} (");
            assert!(text.contains(&line), "{line:?} not in {text}");
        }
        Expect::Refused => unreachable!(),
    }
    assert!(analysed <= if name == "top-k" { d } else { n });
}

#[test]
fn every_count_flag_is_applied_as_given_stated_or_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("layer.safetensors");
    let (n, out, inn) = (24, 3, 4);
    let d = out * inn;
    std::fs::write(
        &path,
        factor_file(n, out, inn, 3, FactorLoss::CrossEntropy, 6)
            .to_bytes()
            .unwrap(),
    )
    .unwrap();
    let p = path.to_str().unwrap();
    use Expect::*;
    let table: &[(&str, &str, Expect)] = &[
        // 0 is documented as "all": resolved to d and stated.
        ("--top-k", "0", Adjusted(d)),
        ("--top-k", "5", AsGiven),
        ("--top-k", "12", AsGiven),
        ("--top-k", "13", Adjusted(d)),
        ("--top-k", "99999", Adjusted(d)),
        ("--top-k", "18446744073709551615", Adjusted(d)),
        ("--top-k", "-1", Refused),
        ("--top-k", "18446744073709551616", Refused),
        // 0 is documented as "all": resolved to N and stated.
        ("--samples", "0", Adjusted(n)),
        ("--samples", "10", AsGiven),
        ("--samples", "24", AsGiven),
        ("--samples", "25", Adjusted(n)),
        ("--samples", "99999999", Adjusted(n)),
        ("--samples", "-3", Refused),
        ("--threads", "0", Refused),
        ("--threads", "-2", Refused),
        ("--batch-size", "0", Refused),
        ("--bootstrap-reps", "1", Refused),
        ("--null-rotations", "0", Refused),
        ("--memory-limit-gib", "0", Refused),
        // Each of these aborted the process (a failed allocation, an
        // overflow in the memory plan) before it was refused.
        ("--linalg-threads", "1000000000000", Refused),
        ("--bootstrap-reps", "18446744073709551615", Refused),
        ("--null-rotations", "1000000000000", Refused),
    ];
    for &(flag, value, expect) in table {
        check_flag(p, n, d, flag, value, expect);
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: 8,
        failure_persistence: None,
        ..proptest::prelude::ProptestConfig::default()
    })]

    /// Any top-k or sample count is analysed as min(value, available), 0
    /// read as all, and stated exactly when it differs from the value given.
    #[test]
    fn counts_are_min_of_value_and_available(
        top_k in proptest::prop_oneof![0usize..20, proptest::prelude::any::<usize>()],
        samples in proptest::prop_oneof![0usize..40, proptest::prelude::any::<usize>()],
    ) {
        use std::sync::OnceLock;
        static FILE: OnceLock<(tempfile::TempDir, String)> = OnceLock::new();
        let (_, p) = FILE.get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("layer.safetensors");
            std::fs::write(
                &path,
                factor_file(24, 3, 4, 3, FactorLoss::SoftmaxMse, 7).to_bytes().unwrap(),
            )
            .unwrap();
            let p = path.to_str().unwrap().to_string();
            (dir, p)
        });
        let resolve = |v: usize, all: usize| if v == 0 || v > all { Expect::Adjusted(all) } else { Expect::AsGiven };
        check_flag(p, 24, 12, "--top-k", &top_k.to_string(), resolve(top_k, 12));
        check_flag(p, 24, 12, "--samples", &samples.to_string(), resolve(samples, 24));
    }
}

/// `superlinear::adjust`: min(value, available), 0 read as all, stated only
/// when it differs; a stride past the last checkpoint is the first and the last.
#[test]
fn adjustments_resolve_counts_and_state_them() {
    use superlinear::adjust::Adjustment;
    assert_eq!(Adjustment::top_k(7, 2, 5), None);
    assert_eq!(Adjustment::top_k(10, 2, 5), None);
    let a = Adjustment::top_k(0, 2, 5).unwrap();
    assert_eq!((a.requested, a.used), (0, 10));
    let a = Adjustment::top_k(99, 2, 5).unwrap();
    assert_eq!((a.requested, a.used), (99, 10));
    assert!(a.line().contains("--top-k 99 -> 10"), "{}", a.line());
    assert_eq!(Adjustment::samples(30, 60, "f"), None);
    assert_eq!(Adjustment::samples(60, 60, "f"), None);
    assert_eq!(Adjustment::samples(61, 60, "f").unwrap().used, 60);
    assert_eq!(Adjustment::samples(0, 60, "f").unwrap().used, 60);
    assert_eq!(Adjustment::stride(1, 1), None);
    assert_eq!(Adjustment::stride(3, 4), None);
    assert_eq!(Adjustment::stride(4, 4).unwrap().used, 3);
    assert_eq!(Adjustment::stride(2, 1).unwrap().used, 1);
}
