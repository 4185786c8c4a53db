//! The `baseline`, `baseline-grid` and `coupling` commands end to end: user .npy files, clear
//! errors (exit 2, one line naming the input) on bad ones, byte-identical
//! JSON for a seed.

use std::path::Path;
use std::process::{Command, Output};

use ndarray::Array2;
use superlinear::data::npy::write_matrix;

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_superlinear"))
        .args(args)
        .output()
        .unwrap()
}

fn save(dir: &Path, name: &str, m: &Array2<f64>) -> String {
    let p = dir.join(name);
    write_matrix(&p, m).unwrap();
    p.display().to_string()
}

fn assert_ok(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn assert_bad_input(out: &Output, mentions: &str) {
    assert_eq!(
        out.status.code(),
        Some(2),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.contains(mentions),
        "'{err}' should mention '{mentions}'"
    );
}

#[test]
fn coupling_on_user_npy_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = 6;
    // H diagonal; C = diagonal plus a small coupling between directions 0 and 1.
    let h = Array2::from_shape_fn((d, d), |(i, j)| if i == j { (d - i) as f64 } else { 0.0 });
    let mut c = Array2::from_shape_fn((d, d), |(i, j)| if i == j { 1.0 + i as f64 } else { 0.0 });
    c[[0, 1]] = 0.3;
    c[[1, 0]] = 0.3;
    let hp = save(dir.path(), "h.npy", &h);
    let cp = save(dir.path(), "c.npy", &c);
    let out = run(&[
        "coupling",
        "--cov",
        &cp,
        "--hess",
        &hp,
        "--rotations",
        "50",
        "--json",
    ]);
    assert_ok(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = v.to_string();
    assert!(text.contains("rho_bar"), "{text}");
    let again = run(&[
        "coupling",
        "--cov",
        &cp,
        "--hess",
        &hp,
        "--rotations",
        "50",
        "--json",
    ]);
    assert_eq!(out.stdout, again.stdout, "same seed, same bytes");
}

#[test]
fn coupling_rejects_bad_matrices() {
    let dir = tempfile::tempdir().unwrap();
    let good = Array2::from_shape_fn((3, 3), |(i, j)| if i == j { 1.0 } else { 0.0 });
    let gp = save(dir.path(), "good.npy", &good);
    let rect = save(dir.path(), "rect.npy", &Array2::zeros((2, 3)));
    let mut asym = good.clone();
    asym[[0, 2]] = 5.0;
    let ap = save(dir.path(), "asym.npy", &asym);
    let mut nan = good.clone();
    nan[[1, 1]] = f64::NAN;
    let np = save(dir.path(), "nan.npy", &nan);
    let mut neg = good.clone();
    neg[[2, 2]] = -1.0;
    let negp = save(dir.path(), "neg.npy", &neg);
    let big = save(
        dir.path(),
        "big.npy",
        &Array2::from_shape_fn((4, 4), |(i, j)| f64::from(u8::from(i == j))),
    );
    let garbage = dir.path().join("garbage.npy");
    std::fs::write(&garbage, b"not an npy file").unwrap();
    let garbage = garbage.display().to_string();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["coupling", "--cov", "/no/such.npy", "--hess", &gp],
            "/no/such.npy",
        ),
        (vec!["coupling", "--cov", &rect, "--hess", &gp], "rect.npy"),
        (vec!["coupling", "--cov", &ap, "--hess", &gp], "symmetric"),
        (vec!["coupling", "--cov", &np, "--hess", &gp], "non-finite"),
        (
            vec!["coupling", "--cov", &negp, "--hess", &gp],
            "positive semidefinite",
        ),
        (vec!["coupling", "--cov", &gp, "--hess", &big], "H (--hess)"),
        (
            vec!["coupling", "--cov", &garbage, "--hess", &gp],
            "garbage.npy",
        ),
        (vec!["coupling", "--cov", &gp], "--hess"),
        (
            vec!["coupling", "--cov", &gp, "--hess", &gp, "--rotations", "0"],
            "rotations",
        ),
    ];
    for (args, mention) in cases {
        assert_bad_input(&run(&args), mention);
    }
}

#[test]
fn baseline_prints_formula_null_and_correction() {
    let out = run(&[
        "baseline",
        "--d",
        "100",
        "--spectrum",
        "spikes:3",
        "--rotations",
        "40",
        "--json",
    ]);
    assert_ok(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let sim = v["simulated"]["simulated_mean"].as_f64().unwrap();
    let paper = v["paper"]["mean"].as_f64().unwrap();
    let corrected = v["corrected"]["mean"].as_f64().unwrap();
    assert!(sim > 0.0 && sim < 1.0);
    assert!(
        (corrected - sim).abs() / sim < 0.05,
        "corrected {corrected} vs simulated {sim}"
    );
    assert!((paper - (2.0 / (std::f64::consts::PI * 3.0)).sqrt()).abs() < 1e-12);
}

#[test]
fn baseline_rejects_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("eig.txt");
    std::fs::write(&bad, "1.0 2.0 nope\n").unwrap();
    let file_spec = format!("file:{}", bad.display());
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["baseline", "--d", "10", "--spectrum", "spikes:0"],
            "spikes:0",
        ),
        (
            vec!["baseline", "--d", "10", "--spectrum", "spikes:20"],
            "spikes:20",
        ),
        (
            vec!["baseline", "--d", "10", "--spectrum", "wavy:2"],
            "wavy",
        ),
        (vec!["baseline", "--d", "0", "--spectrum", "spikes:1"], "d"),
        (
            vec!["baseline", "--d", "10", "--spectrum", "power:nan"],
            "power:nan",
        ),
        (
            vec!["baseline", "--d", "10", "--spectrum", "file:/no/such.txt"],
            "/no/such.txt",
        ),
        (
            vec!["baseline", "--d", "10", "--spectrum", &file_spec],
            "eig.txt",
        ),
        (
            vec!["baseline", "--d", "ten", "--spectrum", "spikes:1"],
            "ten",
        ),
    ];
    for (args, mention) in cases {
        assert_bad_input(&run(&args), mention);
    }
}

#[test]
fn baseline_grid_runs_and_rescores_its_own_json() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["baseline-grid", "--d", "12", "--rotations", "8", "--json"]);
    assert_ok(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let points = v["points"].as_array().unwrap();
    assert!(points.iter().any(|p| p["spectrum"] == "power:2"));
    assert!(points.iter().all(|p| p["d"] == 12 && p["rotations"] == 8));
    let file = dir.path().join("grid.json");
    std::fs::write(&file, &out.stdout).unwrap();
    let again = run(&["baseline-grid", "--rescore", file.to_str().unwrap()]);
    assert_ok(&again);
    let table = String::from_utf8_lossy(&again.stdout);
    assert!(table.contains("| 12 | power:2 |"), "{table}");
    assert!(table.contains("row-law SE"), "{table}");
}

#[test]
fn baseline_grid_rejects_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "{\"points\": 3}").unwrap();
    let junk = junk.display().to_string();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["baseline-grid", "--d", "1"], "--d = 1"),
        (vec!["baseline-grid", "--d", "5,5"], "listed twice"),
        (vec!["baseline-grid", "--d", "x"], "'x'"),
        (vec!["baseline-grid", "--d", "10,"], "''"),
        (vec!["baseline-grid", "--rotations", "1"], "--rotations"),
        (vec!["baseline-grid", "--rotations", "-3"], "-3"),
        (vec!["baseline-grid", "--seed", "s"], "'s'"),
        (
            vec!["baseline-grid", "--rescore", "/no/such.json"],
            "/no/such.json",
        ),
        (vec!["baseline-grid", "--rescore", &junk], "junk.json"),
        (
            vec!["baseline-grid", "--rescore", &junk, "--d", "10"],
            "cannot be used with",
        ),
    ];
    for (args, mention) in cases {
        assert_bad_input(&run(&args), mention);
    }
}
