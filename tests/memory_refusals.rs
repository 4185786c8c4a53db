//! Estimate before allocating, for every command that allocates in
//! proportion to its arguments: with a low budget (`SUPERLINEAR_MEMORY_LIMIT`)
//! each refuses with exit code 2 and one line on stderr that names the
//! stage, the sizes asked for, the bytes estimated, the limit, and the flag
//! value that would fit; where the command has such a flag, the same call
//! with that value then runs (exit 0 or 1) under the same budget. The torch
//! tier's commands (train, analyze --checkpoint, net-claims, reproduce,
//! net-grid) are the `torch_*` tests.

use std::process::{Command, Output};

use ndarray::Array2;
use superlinear::data::npy::write_matrix;

fn run(args: &[&str], limit: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_superlinear"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("SUPERLINEAR_MEMORY_LIMIT", limit)
        .output()
        .unwrap()
}

/// Checks the refusal line; returns it.
fn refused(out: &Output, stage: &str, limit_bytes: u64) -> String {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "not one line: {err}");
    let line = lines[0].to_string();
    for want in [
        stage,
        "needs about",
        &format!("over the memory limit of {limit_bytes} bytes"),
        "SUPERLINEAR_MEMORY_LIMIT",
        "fit",
    ] {
        assert!(line.contains(want), "{want:?} not in: {line}");
    }
    line
}

/// The number after `at most` in a refusal.
fn at_most(line: &str, what: &str) -> usize {
    let tail = line
        .split("at most ")
        .nth(1)
        .unwrap_or_else(|| panic!("no 'at most' in {line}"));
    let tail = tail.strip_prefix(what).unwrap_or(tail);
    tail.split(|c: char| !c.is_ascii_digit())
        .find(|t| !t.is_empty())
        .unwrap()
        .parse()
        .unwrap()
}

/// The flag and value a refusal suggests: `(--flag value`.
fn suggested(line: &str) -> (String, String) {
    for flag in ["--samples", "--top-k", "--per-class", "--d"] {
        if let Some(tail) = line.split(&format!("({flag} ")).nth(1) {
            let v: String = tail.chars().take_while(char::is_ascii_digit).collect();
            if !v.is_empty() {
                return (flag.to_string(), v);
            }
        }
    }
    panic!("no flag value suggested in: {line}");
}

/// Runs `args` under each budget of `limits` until one is refused with a
/// suggested flag value; the same call with that value must then run under
/// that budget. Returns the refusal line.
fn refused_then_fits(args: &[&str], limits: &[u64]) -> String {
    for &limit in limits {
        let out = run(args, &limit.to_string());
        if out.status.code() != Some(2) {
            continue;
        }
        let line = refused(&out, "needs about", limit);
        if !line.contains("(--") {
            continue;
        }
        let (flag, value) = suggested(&line);
        let mut again = args.to_vec();
        again.extend([flag.as_str(), value.as_str()]);
        ran(&run(&again, &limit.to_string()));
        return line;
    }
    panic!("{args:?}: no budget of {limits:?} was refused with a flag value that fits");
}

fn ran(out: &Output) {
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bad_memory_limit_is_refused_naming_the_variable() {
    for bad in ["", "lots", "-5", "0", "1e400", "nanG"] {
        let out = run(&["baseline", "--d", "50", "--spectrum", "spikes:1"], bad);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("SUPERLINEAR_MEMORY_LIMIT"), "{err}");
    }
}

#[test]
fn memory_limit_takes_sizes_with_suffixes() {
    use superlinear::memory::parse_size;
    assert_eq!(parse_size("1048576"), Some(1 << 20));
    assert_eq!(parse_size("512K"), Some(512 << 10));
    assert_eq!(parse_size("64M"), Some(64 << 20));
    assert_eq!(parse_size("1.5GiB"), Some(3 << 29));
    assert_eq!(parse_size("2G"), Some(2 << 30));
    assert_eq!(parse_size("lots"), None);
    assert_eq!(parse_size("-1"), None);
}

#[test]
fn baseline_and_grid_refuse_a_null_that_does_not_fit() {
    let limit = 200_000;
    let out = run(
        &[
            "baseline",
            "--d",
            "400",
            "--spectrum",
            "spikes:1",
            "--rotations",
            "2",
        ],
        &limit.to_string(),
    );
    let line = refused(&out, "simulated null of rho_bar", limit);
    assert!(line.contains("d = 400"), "{line}");
    let d = at_most(&line, "d = ");
    assert!((2..400).contains(&d), "{line}");
    let d = d.to_string();
    ran(&run(
        &[
            "baseline",
            "--d",
            &d,
            "--spectrum",
            "spikes:1",
            "--rotations",
            "2",
        ],
        &limit.to_string(),
    ));
    let out = run(
        &["baseline-grid", "--d", "400", "--rotations", "2"],
        &limit.to_string(),
    );
    refused(&out, "simulated null of rho_bar", limit);
}

#[test]
fn coupling_refuses_matrices_that_do_not_fit_and_a_lying_header() {
    let dir = tempfile::tempdir().unwrap();
    let d = 60;
    let m = Array2::from_shape_fn((d, d), |(i, j)| if i == j { 1.0 + i as f64 } else { 0.0 });
    let p = dir.path().join("m.npy");
    write_matrix(&p, &m).unwrap();
    let ps = p.to_str().unwrap();
    let limit = 100_000;
    let out = run(
        &["coupling", "--cov", ps, "--hess", ps, "--rotations", "2"],
        &limit.to_string(),
    );
    let line = refused(&out, "coupling", limit);
    assert!(line.contains("d = 60") && line.contains("--cov"), "{line}");
    let fit = at_most(&line, "d = ");
    assert!(fit < d && fit >= 2, "{line}");
    // A header that claims a huge matrix over a few bytes of data is refused
    // by the reader, before anything of that size is allocated.
    let bytes = std::fs::read(&p).unwrap();
    let text = String::from_utf8_lossy(&bytes[..128]).into_owned();
    let lying = text.replace("(60, 60)", "(99999, 99999)");
    let huge = dir.path().join("huge.npy");
    let mut b = lying.into_bytes();
    b.truncate(128);
    b.extend_from_slice(&bytes[128..]);
    std::fs::write(&huge, &b).unwrap();
    let hs = huge.to_str().unwrap();
    let out = run(&["coupling", "--cov", hs, "--hess", ps], "64G");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("huge.npy") && err.contains("--cov"), "{err}");
}

#[test]
fn analyze_factors_refusal_names_the_samples_that_fit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("layer.safetensors");
    let file = crate::analyze_factors::factor_file(
        400,
        6,
        8,
        3,
        superlinear::data::factors::FactorLoss::CrossEntropy,
        2,
    );
    std::fs::write(&path, file.to_bytes().unwrap()).unwrap();
    let ps = path.to_str().unwrap();
    let line = refused_then_fits(
        &["analyze", "--factors", ps],
        &[400_000, 1 << 20, 2 << 20, 4 << 20, 8 << 20, 16 << 20],
    );
    assert!(line.contains("N = 400 samples"), "{line}");
}

#[cfg(feature = "torch")]
mod torch_tier {
    use super::*;
    use crate::util::shared_data;

    fn data() -> Option<std::path::PathBuf> {
        shared_data().filter(|d| d.join("mnist-10k").is_dir())
    }

    fn train_args<'a>(out: &'a str, data: &'a str, per_class: &'a str) -> Vec<&'a str> {
        vec![
            "train",
            "--dataset",
            "mnist",
            "--model",
            "mlp",
            "--classes",
            "3",
            "--per-class",
            per_class,
            "--batch-size",
            "20",
            "--epochs",
            "1",
            "--checkpoint-every",
            "1",
            "--json",
            "--out",
            out,
            "--data",
            data,
        ]
    }

    #[test]
    fn torch_train_refusal_names_the_per_class_that_fits() {
        let Some(data) = data() else {
            eprintln!("skipped: no shared MNIST data");
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        let (o, d) = (out.to_str().unwrap(), data.to_str().unwrap());
        let limit = 6_000_000;
        let r = run(&train_args(o, d, "400"), &limit.to_string());
        let line = refused(&r, "training", limit);
        assert!(line.contains("N = 1200 samples of 1x28x28"), "{line}");
        let fit = at_most(&line, "");
        assert!((1..400).contains(&fit), "{line}");
        assert!(!out.join("final.safetensors").exists());
        ran(&run(
            &train_args(o, d, &fit.to_string()),
            &limit.to_string(),
        ));
    }

    #[test]
    fn torch_analysis_commands_refuse_a_layer_that_does_not_fit() {
        let Some(data) = data() else {
            eprintln!("skipped: no shared MNIST data");
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        let (o, d) = (out.to_str().unwrap(), data.to_str().unwrap());
        ran(&run(&train_args(o, d, "100"), "64G"));
        let ckpt = out.join("final.safetensors");
        // The layer is 50 x 50 (d = 2500): the dense eigendecomposition of
        // H alone takes 150 MB, the factors of 300 samples 15 MB.
        let c = ckpt.to_str().unwrap();
        refused_then_fits(
            &["analyze", "--checkpoint", c],
            &[170_000_000, 200_000_000, 210_000_000],
        );
        let limit = 1_000_000;
        let r = run(&["net-claims", "--run", o], &limit.to_string());
        refused(&r, "needs about", limit);
    }

    fn tiny_family(dir: &std::path::Path) -> std::path::PathBuf {
        let c = dir.join("configs");
        std::fs::create_dir_all(&c).unwrap();
        let text = crate::util::TINY_FAMILY
            .replace("DATASET", "mnist")
            .replace("MODEL", "cnn");
        std::fs::write(c.join("mnist-cnn-ce.toml"), text).unwrap();
        c
    }

    #[test]
    fn torch_reproduce_and_net_grid_refuse_training_that_does_not_fit() {
        let Some(data) = data() else {
            eprintln!("skipped: no shared MNIST data");
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let cfg = tiny_family(dir.path());
        let out = dir.path().join("out");
        let limit = 500_000;
        let r = run(
            &[
                "reproduce",
                "--table",
                "1",
                "--scale",
                "reduced",
                "--seeds",
                "1",
                "--quiet",
                "--configs",
                cfg.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--data",
                data.to_str().unwrap(),
            ],
            &limit.to_string(),
        );
        let line = refused(&r, "training", limit);
        assert!(
            line.contains("--per-class") && line.contains("per_class"),
            "{line}"
        );
        assert!(!out.join("runs").exists(), "a record was written: {line}");
        let grid = dir.path().join("grid.toml");
        std::fs::write(&grid, crate::torch_netgrid::TINY).unwrap();
        let r = run(
            &[
                "net-grid",
                "--config",
                grid.to_str().unwrap(),
                "--out",
                dir.path().join("net").to_str().unwrap(),
                "--work",
                dir.path().join("work").to_str().unwrap(),
                "--data",
                data.to_str().unwrap(),
                "--quiet",
            ],
            &limit.to_string(),
        );
        refused(&r, "training", limit);
    }
}
