//! `superlinear net-grid` end to end on a tiny grid (feature `torch`): two
//! MNIST MLP families, two rates, two seeds, two epochs; the pilot, the
//! choice, the further seed, the analysis of every checkpoint, the records
//! and RESULTS.md, and a second call that reuses every run and record.

use std::path::Path;

use superlinear::progress::Silent;
use superlinear::reproduce::netgrid::record::{
    load_checked, pilot_record_path, run_record_path, NetRunRecord, PilotRecord,
};
use superlinear::reproduce::netgrid::run::net_grid;
use superlinear::reproduce::netgrid::{NetGridConfig, NetGridSettings};

use crate::util::shared_data;

pub(crate) const TINY: &str = r#"
classes = 10
seeds = [0, 1]
per_class = 20
epochs = 2
checkpoint_every = 1
lr_candidates = [0.1, 0.03]
analyze_samples = 40
top_k = 20

[premise]
ce_min_accuracy = 0.99
mse_min_accuracy = 0.95
mse_plateau_epochs = 1
mse_plateau_max_accuracy_change = 0.005

[[family]]
dataset = "mnist"
model = "mlp"
loss = "ce"
batch = 20
widths = [16, 12]

[[family]]
dataset = "mnist"
model = "mlp"
loss = "mse"
batch = 20
widths = [16, 12]
"#;

fn settings(root: &Path, data: &Path) -> NetGridSettings {
    NetGridSettings {
        data_root: Some(data.to_path_buf()),
        jobs: 2,
        ..crate::util::grid_settings(
            NetGridConfig::parse(TINY, "tiny.toml").unwrap(),
            &root.join("net"),
            &root.join("work"),
            "superlinear net-grid --config tiny.toml",
        )
    }
}

#[test]
fn torch_net_grid_trains_analyses_and_resumes() {
    let Some(data) = shared_data() else {
        eprintln!("skipped: no shared data (SUPERLINEAR_DATA)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path(), &data);
    // Two workers report the steps of each stage.
    let progress = crate::progress::Recorder::default();
    let r = net_grid(&s, &progress).unwrap();
    // 2 families x 2 rates pilot + 2 further seeds; the train stage reuses
    // each family's pilot run at the chosen rate as its seed 0.
    assert_eq!((r.trained, r.reused_runs), (6, 2), "{:?}", r.skipped);
    assert_eq!((r.analysed, r.reused_records), (4, 0), "{:?}", r.skipped);
    assert_eq!(
        progress.names(),
        ["pilot", "train", "analyze", "stored records", "report"]
    );
    let totals: Vec<u64> = progress.whole().iter().map(|r| r.total).collect();
    assert_eq!(totals, [4, 4, 4, 2, 1]);
    for fam in ["mnist-mlp-ce", "mnist-mlp-mse"] {
        let pilot: PilotRecord = load_checked(&pilot_record_path(&s.out, fam))
            .unwrap()
            .unwrap();
        assert_eq!(pilot.candidates.len(), 2);
        let lr = pilot.choice.as_ref().unwrap().lr;
        for seed in [0, 1] {
            let rec: NetRunRecord = load_checked(&run_record_path(&s.out, fam, seed))
                .unwrap()
                .unwrap();
            assert_eq!(rec.config.lr, lr);
            assert_eq!(rec.seed(), seed);
            assert_eq!(
                rec.checkpoints.iter().map(|c| c.epoch).collect::<Vec<_>>(),
                vec![1, 2]
            );
            assert_eq!(
                rec.claims.len(),
                superlinear::claims::netgrid::NET_GRID_CLAIMS.len()
            );
            assert_eq!(rec.curves.accuracy.len(), 3);
            assert!(rec.net_claims["checkpoints"].as_array().unwrap().len() == 2);
            assert!(s
                .work
                .join(fam)
                .join(format!("lr-{lr}"))
                .join(format!("seed-{seed}/final.safetensors"))
                .is_file());
        }
    }
    let doc = std::fs::read_to_string(s.out.join("RESULTS.md")).unwrap();
    assert!(
        doc.contains("## mnist-mlp-mse") && doc.contains("Chosen rate"),
        "{doc}"
    );
    assert_eq!(
        r.lines.len(),
        superlinear::claims::netgrid::NET_GRID_CLAIMS.len()
    );

    // Second call: everything reused, nothing trained or analysed.
    let again = net_grid(&s, &Silent).unwrap();
    assert_eq!((again.trained, again.analysed), (0, 0));
    assert_eq!((again.reused_runs, again.reused_records), (8, 4));
    assert_eq!(again.lines, r.lines);
}

/// A pilot rate whose training diverges (the loss not finite) is an outcome
/// of the pilot, never chosen, and does not stop the grid; its run is
/// stored with the diverged epoch and reused on a second call.
#[test]
fn torch_net_grid_pilot_survives_a_diverging_rate() {
    let Some(data) = shared_data() else {
        eprintln!("skipped: no shared data (SUPERLINEAR_DATA)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(dir.path(), &data);
    let text = TINY
        .replace("lr_candidates = [0.1, 0.03]", "lr_candidates = [0.1, 1e30]")
        .replace("seeds = [0, 1]", "seeds = [0]");
    let ce_only = &text[..text.rfind("[[family]]").unwrap()];
    s.config = NetGridConfig::parse(ce_only, "tiny.toml").unwrap();
    let r = net_grid(&s, &Silent).unwrap();
    assert_eq!(r.trained, 2, "{:?}", r.skipped);
    let pilot: PilotRecord = load_checked(&pilot_record_path(&s.out, "mnist-mlp-ce"))
        .unwrap()
        .unwrap();
    let wild = pilot.candidates.iter().find(|c| c.lr == 1e30).unwrap();
    assert!(!wild.loss.is_finite(), "{wild:?}");
    assert_eq!(pilot.choice.as_ref().unwrap().lr, 0.1);
    let wild_dir = std::fs::read_dir(s.work.join("mnist-mlp-ce"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("lr-1000")
        })
        .unwrap();
    let run: superlinear::torch::train::TrainReport =
        serde_json::from_str(&std::fs::read_to_string(wild_dir.join("seed-0/run.json")).unwrap())
            .unwrap();
    assert_eq!(run.diverged, Some(1));
    let e = run.divergence().unwrap_err().to_string();
    assert!(e.contains("lr") && e.contains("diverged"), "{e}");
    let again = net_grid(&s, &Silent).unwrap();
    assert_eq!((again.trained, again.reused_runs), (0, 3));
}
