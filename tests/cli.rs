//! The `baseline`, `baseline-grid` and `coupling` commands end to end: user .npy files, clear
//! errors (exit 2, one line naming the input) on bad ones, byte-identical
//! JSON for a seed.

use std::path::Path;
use std::process::Output;

use ndarray::Array2;
use superlinear::data::npy::write_matrix;

use crate::util::run;

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
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
    // One `error:` line; only clap's usage errors add more (an indented
    // argument list, `Usage:`, a tip, the `--help` hint).
    assert!(err.starts_with("error:"), "{err}");
    let extra_ok = |l: &str| {
        l.trim().is_empty()
            || l.starts_with("  ")
            || l.starts_with("Usage:")
            || l.contains("--help")
    };
    assert!(
        err.lines().skip(1).all(extra_ok),
        "one line expected: {err}"
    );
    assert!(
        err.contains(mentions),
        "'{err}' should mention '{mentions}'"
    );
}

/// Exit code 0, then stdout parsed as JSON.
fn assert_ok_json(out: &Output) -> serde_json::Value {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = serde_json::from_slice(&out.stdout).unwrap();
    crate::json_output::assert_user_json(&v, "--json output");
    v
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
    let args = [
        "coupling",
        "--cov",
        &cp,
        "--hess",
        &hp,
        "--rotations",
        "50",
        "--json",
    ];
    let out = run(&args);
    let text = assert_ok_json(&out).to_string();
    assert!(text.contains("rho_bar"), "{text}");
    let again = run(&args);
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
    let v = assert_ok_json(&out);
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

/// The text reports: the formula rows beside the simulated null, then its
/// quantiles.
#[test]
fn baseline_and_coupling_print_text_tables() {
    let out = run(&[
        "baseline",
        "--d",
        "40",
        "--spectrum",
        "spikes:3",
        "--rotations",
        "12",
    ]);
    assert_ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6, "{text}");
    assert!(
        lines[0].starts_with("null of rho_bar for spikes:3 in d = 40 (rank 3, k_eff = 3.000)"),
        "{text}"
    );
    assert!(lines[2].starts_with("paper (App. C, App. D)"), "{text}");
    assert!(lines[3].starts_with("corrected"), "{text}");
    assert!(lines[4].starts_with("simulated (12 rotations)"), "{text}");
    assert!(lines[5].starts_with("simulated quantiles:  q1% "), "{text}");

    let dir = tempfile::tempdir().unwrap();
    let d = 5;
    let h = Array2::from_shape_fn((d, d), |(i, j)| if i == j { (d - i) as f64 } else { 0.0 });
    let mut c = Array2::from_shape_fn((d, d), |(i, j)| if i == j { 1.0 + i as f64 } else { 0.0 });
    c[[0, 1]] = 0.4;
    c[[1, 0]] = 0.4;
    let hp = save(dir.path(), "h.npy", &h);
    let cp = save(dir.path(), "c.npy", &c);
    let out = run(&["coupling", "--cov", &cp, "--hess", &hp, "--rotations", "9"]);
    assert_ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 9, "{text}");
    assert!(lines[0].starts_with("rho_bar = "), "{text}");
    assert!(lines[6].starts_with("p to report: "), "{text}");
    assert!(
        lines[7].starts_with("input C: float64, eps 2.2e-16"),
        "{text}"
    );
    assert!(lines[8].starts_with("input H: float64"), "{text}");
    assert!(lines[0].contains("(d = 5, C rank 5"), "{text}");
    assert!(lines[2].starts_with("paper (App. C, D)"), "{text}");
    assert!(lines[3].starts_with("corrected"), "{text}");
    assert!(
        lines[4].starts_with("simulated (9 rotations)")
            && lines[4].ends_with("(exact Monte Carlo p)"),
        "{text}"
    );
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
    let v = assert_ok_json(&out);
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

/// `train` and `analyze` (feature `torch`) on bad input: exit code 2 and a
/// message naming the input, never a panic or backtrace. The data are a tiny
/// MNIST written here (IDX files), so no shared data are needed.
#[cfg(feature = "torch")]
mod torch_commands {
    use std::path::{Path, PathBuf};

    use superlinear::data::idx::{IdxArray, IdxKind};

    use super::{assert_bad_input, assert_ok_json, run};

    /// 40 images of 28 x 28, labels 0..9 interleaved, as MNIST IDX files.
    fn tiny_mnist(dir: &Path) -> String {
        let n = 40;
        let images = IdxArray {
            kind: IdxKind::Images,
            dims: vec![n, 28, 28],
            data: (0..n * 784).map(|i| (i * 37 % 251) as u8).collect(),
        };
        let labels = IdxArray {
            kind: IdxKind::Labels,
            dims: vec![n],
            data: (0..n).map(|i| (i % 10) as u8).collect(),
        };
        std::fs::write(dir.join("images-idx3-ubyte"), images.to_bytes().unwrap()).unwrap();
        std::fs::write(dir.join("labels-idx1-ubyte"), labels.to_bytes().unwrap()).unwrap();
        dir.display().to_string()
    }

    /// Trains for one epoch through the CLI, with `extra` flags: the exit
    /// status and output of the binary.
    fn train_tiny(data: &str, out: &Path, extra: &[&str]) -> std::process::Output {
        let out_s = out.display().to_string();
        let mut args = vec![
            "train",
            "--data",
            data,
            "--classes",
            "2",
            "--per-class",
            "4",
            "--epochs",
            "1",
            "--batch-size",
            "4",
            "--out",
            &out_s,
            "--json",
        ];
        args.extend_from_slice(extra);
        run(&args)
    }

    /// Trains for one epoch through the CLI; returns the final checkpoint.
    fn trained(data: &str, out: &Path) -> PathBuf {
        assert_ok_json(&train_tiny(data, out, &[]));
        out.join("final.safetensors")
    }

    #[test]
    fn torch_train_rejects_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        let data = tiny_mnist(dir.path());
        let out = dir.path().join("out").display().to_string();
        let train = |extra: &[&str]| {
            let mut args = vec!["train", "--data", &data, "--out", &out];
            if !extra.contains(&"--epochs") {
                args.extend(["--epochs", "1"]);
            }
            args.extend_from_slice(extra);
            run(&args)
        };
        let cases: Vec<(Vec<&str>, &str)> = vec![
            (vec!["--classes", "0"], "classes"),
            (vec!["--classes", "11"], "classes"),
            (vec!["--classes", "-2"], "-2"),
            (vec!["--classes", "two"], "two"),
            (vec!["--per-class", "-1"], "-1"),
            (vec!["--per-class", "nan"], "nan"),
            (vec!["--per-class", "100000"], "per"),
            (vec!["--epochs", "0"], "epochs"),
            (vec!["--epochs", "-3"], "-3"),
            (vec!["--lr", "0"], "lr"),
            (vec!["--lr", "-0.1"], "lr"),
            (vec!["--lr", "NaN"], "lr"),
            (vec!["--lr", "inf"], "lr"),
            (vec!["--lr", "fast"], "fast"),
            (vec!["--batch-size", "0"], "batch size"),
            (vec!["--dataset", "imagenet"], "imagenet"),
            (vec!["--device", "gpu"], "gpu"),
            (vec!["--bogus"], "--bogus"),
        ];
        for (extra, mention) in cases {
            assert_bad_input(&train(&extra), mention);
        }
        // Missing data directory, and a data directory without MNIST files.
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        let empty = empty.display().to_string();
        for root in ["/no/such/data/dir", empty.as_str()] {
            assert_bad_input(
                &run(&["train", "--data", root, "--out", &out, "--epochs", "1"]),
                root,
            );
        }
        // Truncated image file.
        let cut = dir.path().join("cut");
        std::fs::create_dir(&cut).unwrap();
        let img = std::fs::read(dir.path().join("images-idx3-ubyte")).unwrap();
        std::fs::write(cut.join("images-idx3-ubyte"), &img[..img.len() / 2]).unwrap();
        std::fs::copy(
            dir.path().join("labels-idx1-ubyte"),
            cut.join("labels-idx1-ubyte"),
        )
        .unwrap();
        let cut = cut.display().to_string();
        assert_bad_input(
            &run(&["train", "--data", &cut, "--out", &out, "--epochs", "1"]),
            "images-idx3-ubyte",
        );
        // --out missing.
        assert_bad_input(&run(&["train", "--data", &data]), "--out");
    }

    /// `run.json` of a run in `dir`, with the wall times dropped and `dir`
    /// written as `OUT`: what two runs of one seed must share.
    fn run_json_without_times(dir: &Path) -> serde_json::Value {
        fn drop_seconds(v: &mut serde_json::Value) {
            match v {
                serde_json::Value::Object(m) => {
                    m.remove("seconds");
                    m.values_mut().for_each(drop_seconds);
                }
                serde_json::Value::Array(a) => a.iter_mut().for_each(drop_seconds),
                _ => {}
            }
        }
        let text = std::fs::read_to_string(dir.join("run.json")).unwrap();
        let text = text.replace(&dir.display().to_string(), "OUT");
        let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
        drop_seconds(&mut v);
        v
    }

    /// `--device cpu` is the default: the same checkpoints byte for byte and
    /// the same `run.json` (up to wall times and the output directory), with
    /// the device recorded as `cpu` in both.
    #[test]
    fn torch_train_device_cpu_equals_the_default() {
        let dir = tempfile::tempdir().unwrap();
        let data = tiny_mnist(dir.path());
        let (default, cpu) = (dir.path().join("default"), dir.path().join("cpu"));
        let every = ["--checkpoint-every", "1"];
        let a = assert_ok_json(&train_tiny(&data, &default, &every));
        let b = assert_ok_json(&train_tiny(
            &data,
            &cpu,
            &[&every[..], &["--device", "cpu"]].concat(),
        ));
        assert_eq!(a["settings"]["device"], "cpu", "{a}");
        assert_eq!(b["settings"]["device"], "cpu", "{b}");
        for name in ["epoch-0001.safetensors", "final.safetensors"] {
            let (x, y) = (
                std::fs::read(default.join(name)).unwrap(),
                std::fs::read(cpu.join(name)).unwrap(),
            );
            assert!(
                x == y,
                "{name} differs between the default and --device cpu"
            );
        }
        let (ra, rb) = (
            run_json_without_times(&default),
            run_json_without_times(&cpu),
        );
        assert_eq!(ra["settings"]["device"], "cpu");
        assert_eq!(ra, rb);
    }

    /// `--device cuda`: where libtorch sees no GPU (a CPU-only libtorch) the
    /// run is refused with exit 2 and one line naming the flag and the
    /// reason, before anything is written; where it sees one, the run trains
    /// and its checkpoint loads on the CPU like any other, with the device
    /// recorded in `run.json`.
    #[test]
    fn torch_train_device_cuda_needs_a_gpu() {
        let dir = tempfile::tempdir().unwrap();
        let data = tiny_mnist(dir.path());
        let out = dir.path().join("cuda");
        let o = train_tiny(&data, &out, &["--device", "cuda"]);
        if tch::Cuda::is_available() {
            let v = assert_ok_json(&o);
            assert_eq!(v["settings"]["device"], "cuda", "{v}");
            let net = superlinear::torch::model::Net::load(
                &out.join("final.safetensors"),
                tch::Kind::Float,
            )
            .unwrap();
            assert_eq!(net.device(), tch::Device::Cpu);
            assert_eq!(run_json_without_times(&out)["settings"]["device"], "cuda");
        } else {
            assert_bad_input(&o, "--device cuda");
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(err.contains("without CUDA or no GPU is visible"), "{err}");
            assert!(!out.exists(), "a refused run wrote {}", out.display());
        }
    }

    #[test]
    fn torch_analyze_rejects_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        let data = tiny_mnist(dir.path());
        let ckpt = trained(&data, &dir.path().join("run"));
        let ck = ckpt.display().to_string();
        // The good checkpoint analyses (exit 0).
        assert_ok_json(&run(&[
            "analyze",
            "--checkpoint",
            &ck,
            "--samples",
            "8",
            "--json",
        ]));
        // More samples and directions than exist: all of them, stated.
        let v = assert_ok_json(&run(&[
            "analyze",
            "--checkpoint",
            &ck,
            "--samples",
            "99999999",
            "--top-k",
            "99999",
            "--json",
        ]));
        let adj = v["adjustments"].as_array().unwrap();
        assert_eq!(adj.len(), 2, "{adj:?}");
        assert_eq!(adj[0]["flag"], "samples");
        assert_eq!(adj[0]["requested"], 99999999);
        assert_eq!(adj[0]["used"], v["samples"]);
        assert_eq!(adj[1]["flag"], "top-k");
        assert_eq!(adj[1]["requested"], 99999);
        assert_eq!(
            adj[1]["used"].as_u64().unwrap() as usize,
            v["h_diag"].as_array().unwrap().len()
        );

        let bytes = std::fs::read(&ckpt).unwrap();
        let write = |name: &str, b: &[u8]| {
            let p = dir.path().join("run").join(name);
            std::fs::write(&p, b).unwrap();
            p.display().to_string()
        };
        let truncated = write("truncated.safetensors", &bytes[..bytes.len() / 2]);
        let header_only = write("header.safetensors", &bytes[..8]);
        let garbage = write("garbage.safetensors", b"not a safetensors file at all");
        let empty = write("empty.safetensors", b"");
        // A checkpoint whose tensor names are not the documented fcN.weight.
        let renamed = {
            let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
            let header = std::str::from_utf8(&bytes[8..8 + header_len]).unwrap();
            let new_header = header.replace("fc1.weight", "xx1.weight");
            assert_eq!(new_header.len(), header.len());
            let mut b = bytes.clone();
            b[8..8 + header_len].copy_from_slice(new_header.as_bytes());
            write("renamed.safetensors", &b)
        };
        // Corrupt and without run.json beside it: the checkpoint is named,
        // not the missing data settings.
        let lonely = dir.path().join("lonely.safetensors");
        std::fs::write(&lonely, b"garbage").unwrap();
        let lonely = lonely.display().to_string();
        let analyze = |extra: &[&str]| {
            let mut args = vec!["analyze"];
            if !extra.contains(&"--samples") {
                args.extend(["--samples", "8"]);
            }
            args.extend_from_slice(extra);
            run(&args)
        };
        let cases: Vec<(Vec<&str>, &str)> = vec![
            (
                vec!["--checkpoint", "/no/such.safetensors"],
                "/no/such.safetensors",
            ),
            (vec!["--checkpoint", &truncated], "truncated.safetensors"),
            (vec!["--checkpoint", &header_only], "header.safetensors"),
            (vec!["--checkpoint", &garbage], "garbage.safetensors"),
            (vec!["--checkpoint", &empty], "empty.safetensors"),
            (vec!["--checkpoint", &lonely], "lonely.safetensors"),
            (vec!["--checkpoint", &renamed], "xx1.weight"),
            (
                vec!["--checkpoint", &ck, "--layer", "fc9.weight"],
                "fc9.weight",
            ),
            (vec!["--checkpoint", &ck, "--layer", ""], "layer"),
            (vec!["--checkpoint", &ck, "--top-k", "-1"], "-1"),
            (vec!["--checkpoint", &ck, "--samples", "many"], "many"),
            (vec!["--checkpoint", &ck, "--samples", "-5"], "-5"),
            (vec!["--checkpoint", &ck, "--batch-size", "0"], "batch"),
            (vec!["--checkpoint", &ck, "--loss", "hinge"], "hinge"),
            (vec!["--checkpoint", &ck, "--bogus"], "--bogus"),
            (vec![], "--checkpoint"),
        ];
        for (extra, mention) in cases {
            assert_bad_input(&analyze(&extra), mention);
        }
        // The data directory recorded in run.json has gone.
        let moved = dir.path().join("moved");
        std::fs::create_dir(&moved).unwrap();
        for f in ["images-idx3-ubyte", "labels-idx1-ubyte"] {
            std::fs::rename(dir.path().join(f), moved.join(f)).unwrap();
        }
        assert_bad_input(
            &analyze(&["--checkpoint", &ck]),
            &dir.path().display().to_string(),
        );
    }
}

/// A baseline far beyond what the simulated null can hold is refused at once
/// naming the size (it used to grow to 23 GB before failing).
#[test]
fn baseline_beyond_its_size_is_refused() {
    let out = run(&["baseline", "--d", "100000000", "--spectrum", "spikes:5"]);
    assert_bad_input(&out, "100000000");
}

/// The simulated null's memory plan: linear in d and r and in the rotations
/// held at once.
#[test]
fn null_memory_plan_is_linear_in_d_and_rank() {
    use superlinear::coupling::null::null_bytes;
    let one = null_bytes(1000, 5, 1);
    assert_eq!(one, 8 * 1000 * (2 * 5 + 1 + 128) + 8 * 1000);
    assert_eq!(null_bytes(1000, 5, 2), 2 * one - 8 * 1000);
    assert_eq!(null_bytes(usize::MAX, 5, 4), u64::MAX);
}

/// Found by the argument fuzzer: a matrix path that does not exist is named
/// with the flag it came from, once.
#[test]
fn coupling_missing_matrix_names_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let h = save(dir.path(), "h.npy", &Array2::eye(3));
    let out = run(&["coupling", "--cov", "=", "--hess", &h]);
    assert_bad_input(&out, "--cov");
}
