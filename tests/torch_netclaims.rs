//! `superlinear net-claims` on trained networks (feature `torch`): an
//! end-to-end train-then-net-claims run in seconds, and the CLI (bad input,
//! the shared MNIST subset). The pure parts are tested in `layer_terms`,
//! `netclaims` and `net_judge`.

use std::path::PathBuf;
use std::process::Command;

use rand::Rng as _;
use superlinear::linalg::seeded_rng;
use superlinear::loss::Loss;
use superlinear::progress::Silent;
use superlinear::reproduce::netclaims::{net_claims_on, NetClaimsReport, NetClaimsSettings};
use superlinear::torch::dataset::TrainData;
use superlinear::torch::model::{Arch, ModelSpec, Net};
use superlinear::torch::train::{train, TrainSettings};
use tch::Kind;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "superlinear-netclaims-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn synthetic_images(n: usize, dim: usize, classes: usize, seed: u64) -> TrainData {
    let mut rng = seeded_rng(seed);
    let labels: Vec<u8> = (0..n).map(|p| (p % classes) as u8).collect();
    let images = ndarray::Array2::from_shape_fn((n, dim), |(p, j)| {
        let mean = if j % classes == labels[p] as usize {
            1.0
        } else {
            0.0
        };
        (mean + 0.3 * rng.random_range(-1.0..1.0f32)).clamp(0.0, 1.0)
    });
    TrainData {
        images,
        labels,
        chw: (1, 1, dim),
        name: "synthetic".into(),
    }
}

#[test]
fn train_then_net_claims_tiny() {
    tch::set_num_threads(1);
    let dir = temp_dir("e2e");
    let data = synthetic_images(90, 12, 3, 5);
    let spec = ModelSpec {
        arch: Arch::Mlp {
            input: 12,
            hidden: vec![7, 6],
        },
        classes: 3,
    };
    for loss in [Loss::CrossEntropy, Loss::SoftmaxMse] {
        let mut net = Net::new(&spec, 1, Kind::Float).unwrap();
        let ts = TrainSettings {
            loss,
            lr: 0.2,
            batch_size: 10,
            epochs: 2,
            seed: 1,
            checkpoint_every: 1,
            out_dir: Some(dir.clone()),
            ..TrainSettings::default()
        };
        let run = train(&mut net, &data, &ts, &Silent).unwrap();
        let settings = NetClaimsSettings {
            run_dir: dir.clone(),
            samples: 60,
            top_k: 30,
            ..NetClaimsSettings::default()
        };
        let r = net_claims_on(&settings, &run, &data, &Silent).unwrap();
        assert_eq!(r.layer, "fc2.weight");
        assert_eq!(r.layer_shape, (6, 7));
        assert_eq!(
            r.checkpoints.iter().map(|c| c.epoch).collect::<Vec<_>>(),
            vec![1, 2]
        );
        assert_eq!(r.claims.len(), 7);
        assert!(r.suppression.is_some());
        assert!(r.checkpoints[0].structure.is_none());
        let st = r.checkpoints[1].structure.as_ref().unwrap();
        assert_eq!(st.top_k, 30);
        assert!(st.kspace.commutator.is_ok());
        assert_eq!(
            st.entanglement_mean.to_bits(),
            r.checkpoints[1].pairs.entanglement_mean.to_bits()
        );
        for c in &r.checkpoints {
            assert_eq!(c.pairs.used + c.pairs.zero_activity, 60);
            assert!(c.pairs.term2_share.is_finite());
            // gamma_iso is gamma_awd on the same samples.
            if let (Ok(a), Ok(b)) = (&c.gamma_awd, &c.pairs.gamma_iso) {
                assert_eq!(a.gamma, b.gamma);
            }
        }
        // Same seed, same report.
        let again = net_claims_on(&settings, &run, &data, &Silent).unwrap();
        for (a, b) in again.checkpoints.iter().zip(&r.checkpoints) {
            assert_eq!(
                serde_json::to_string(&a.pairs).unwrap(),
                serde_json::to_string(&b.pairs).unwrap()
            );
            assert_eq!(format!("{:?}", a.gamma), format!("{:?}", b.gamma));
        }
        let verdicts = |r: &NetClaimsReport| {
            r.claims
                .iter()
                .map(|c| c.outcome.status)
                .collect::<Vec<_>>()
        };
        assert_eq!(verdicts(&again), verdicts(&r));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Counts beyond what the run has are used as min(value, available) and
/// stated in the report (JSON `adjustments`); values used as given are not.
#[test]
fn net_claims_states_the_counts_it_resolved() {
    use superlinear::reproduce::netclaims::NetClaim;
    tch::set_num_threads(1);
    let dir = temp_dir("adjust");
    let data = synthetic_images(45, 12, 3, 6);
    let spec = ModelSpec {
        arch: Arch::Mlp {
            input: 12,
            hidden: vec![5, 4],
        },
        classes: 3,
    };
    let mut net = Net::new(&spec, 2, Kind::Float).unwrap();
    let ts = TrainSettings {
        loss: Loss::CrossEntropy,
        lr: 0.2,
        batch_size: 9,
        epochs: 2,
        seed: 2,
        checkpoint_every: 1,
        out_dir: Some(dir.clone()),
        ..TrainSettings::default()
    };
    let run = train(&mut net, &data, &ts, &Silent).unwrap();
    let base = NetClaimsSettings {
        run_dir: dir.clone(),
        claims: vec![NetClaim::C6],
        samples: 30,
        top_k: 12,
        ..NetClaimsSettings::default()
    };
    let r = net_claims_on(&base, &run, &data, &Silent).unwrap();
    assert_eq!(r.layer_shape, (4, 5));
    assert!(r.adjustments.is_empty(), "{:?}", r.adjustments);
    let asked = NetClaimsSettings {
        samples: 99_999,
        top_k: 0,
        stride: 99,
        ..base
    };
    let r = net_claims_on(&asked, &run, &data, &Silent).unwrap();
    let json = serde_json::to_value(&r).unwrap();
    let got: Vec<(String, u64, u64)> = json["adjustments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["flag"].as_str().unwrap().to_string(),
                a["requested"].as_u64().unwrap(),
                a["used"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("samples".into(), 99_999, 45),
            ("top-k".into(), 0, 20),
            ("stride".into(), 99, 1),
        ]
    );
    // What was stated is what was measured.
    assert_eq!(r.samples, 45);
    assert_eq!(r.top_k, 20);
    assert_eq!(r.checkpoints.len(), 2);
    let _ = std::fs::remove_dir_all(&dir);
}

fn cli(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_superlinear"))
        .args(args)
        .env("OMP_NUM_THREADS", "1")
        .output()
        .unwrap()
}

#[test]
fn cli_bad_input_exits_2() {
    let dir = temp_dir("cli-bad");
    let d = dir.to_str().unwrap();
    for args in [
        vec!["net-claims", "--run", d],
        vec!["net-claims", "--run", d, "--claims", "C99"],
        vec!["net-claims", "--run", d, "--samples", "2"],
        vec!["net-claims", "--run", d, "--stride", "0"],
        // Without C6 or C15 only the last checkpoint is measured: a stride
        // would be ignored, so it is refused.
        vec![
            "net-claims",
            "--run",
            d,
            "--stride",
            "2",
            "--claims",
            "C3,C8",
        ],
        vec!["net-claims", "--run", d, "--q", "2"],
        vec!["net-claims", "--run", d, "--threads", "0"],
        vec!["net-claims"],
    ] {
        let out = cli(&args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The shared MNIST subset through the CLI: train 2 epochs, then net-claims
/// on the 10 x 50 output layer (d = 500). Skips with a message without data.
#[test]
fn cli_train_then_net_claims_on_mnist() {
    let root = std::env::var("SUPERLINEAR_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data")));
    if !root.join("mnist-10k").exists() {
        eprintln!("skipped: no shared MNIST under {}", root.display());
        return;
    }
    let dir = temp_dir("cli-mnist");
    let (r, d) = (root.to_str().unwrap(), dir.to_str().unwrap());
    let out = cli(&[
        "train",
        "--data",
        r,
        "--per-class",
        "20",
        "--epochs",
        "2",
        "--checkpoint-every",
        "1",
        "--out",
        d,
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli(&[
        "net-claims",
        "--run",
        d,
        "--samples",
        "100",
        "--top-k",
        "50",
        "--layer",
        "fc3.weight",
        "--json",
    ]);
    let code = out.status.code();
    assert!(
        code == Some(0) || code == Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    crate::json_output::assert_user_json(&v, "net-claims --json");
    assert_eq!(v["layer"], "fc3.weight");
    assert_eq!(v["checkpoints"].as_array().unwrap().len(), 2);
    assert_eq!(v["claims"].as_array().unwrap().len(), 7);
    // The structure block is recorded at the last checkpoint only.
    let cps = v["checkpoints"].as_array().unwrap();
    assert!(cps[0]["structure"].is_null());
    let st = &cps[1]["structure"];
    assert_eq!(st["top_k"], 50);
    for key in ["rho_bar", "commutator", "decay_slope"] {
        assert!(st["kspace"][key]["p_below"].is_number(), "{key}: {st}");
    }
    assert!(st["first_moment_share"].is_number());
    assert_eq!(st["batch_scaling"]["points"].as_array().unwrap().len(), 3);
    assert!(st["entanglement_mean"].is_number() || st["entanglement_mean"].is_null());
    let ids: Vec<&str> = v["claims"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["claim"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["C3", "C6", "C7", "C7-R3.5", "C8", "C13", "C15"]);
    // More samples and directions than the run has: all of them, stated in
    // the text report.
    let out = cli(&[
        "net-claims",
        "--run",
        d,
        "--claims",
        "C8",
        "--samples",
        "99999",
        "--top-k",
        "99999",
        "--layer",
        "fc3.weight",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("adjusted: --samples 99999 -> 200 ("),
        "{text}"
    );
    assert!(text.contains("adjusted: --top-k 99999 -> 500 ("), "{text}");
}
