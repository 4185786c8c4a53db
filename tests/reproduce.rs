//! `superlinear reproduce` (C14): the measured side-by-side table for a small
//! deterministic subset (MNIST MLP K = 3, CE and MSE, one seed, short
//! training) as an insta snapshot, resumability, and bad input (exit 2).

use std::path::{Path, PathBuf};
use std::process::Output;

use superlinear::progress::Silent;
use superlinear::published::Published;
use superlinear::reproduce::aggregate::{table_rows, TableId, DEFAULT_MIN_TRAIN_PROGRESS};
use superlinear::reproduce::config::{ConfigSet, FamilyConfig, RowFilter, Scale};
use superlinear::reproduce::grid::ReproduceSettings;
use superlinear::reproduce::render::{table_markdown, RenderOptions};
use superlinear::reproduce::run::reproduce;
use superlinear::reproduce::shard::Shard;

use crate::util::{run, shared_data};

const REPO: &str = env!("CARGO_MANIFEST_DIR");

fn committed_configs() -> ConfigSet {
    ConfigSet::load(&Path::new(REPO).join("experiments/runs")).unwrap()
}

/// The committed MNIST MLP families with a short `reduced` scale: 300 per
/// class, 8 epochs, analysis on all 900 samples, Table 2's top-k (300).
fn small_configs() -> ConfigSet {
    let families = committed_configs()
        .families
        .into_iter()
        .filter(|(p, _)| p.to_string_lossy().contains("mnist-mlp"))
        .map(|(p, mut f): (PathBuf, FamilyConfig)| {
            f.reduced.per_class = Some(300);
            f.reduced.epochs = Some(8);
            f.reduced.analyze_samples = 0;
            f.reduced.top_k = None;
            (p, f)
        })
        .collect();
    ConfigSet::from_families(families).unwrap()
}

fn settings(out: &Path, root: PathBuf) -> ReproduceSettings {
    ReproduceSettings {
        table: TableId::One,
        scale: Scale::Reduced,
        rows: RowFilter::parse("mnist-mlp-k3").unwrap(),
        seeds: 1,
        jobs: 1,
        out: out.to_path_buf(),
        results_md: Some(out.join("RESULTS.md")),
        configs: small_configs(),
        published: Published::builtin().unwrap(),
        data_root: Some(root),
        threads: 1,
        command: "tests/reproduce.rs".into(),
        timings: false,
        report_only: false,
        min_train_progress: DEFAULT_MIN_TRAIN_PROGRESS,
        lr_override: None,
        shard: Shard::ALL,
    }
}

#[test]
fn torch_reproduce_mnist_mlp_k3_snapshot_and_resume() {
    let Some(root) = shared_data().filter(|r| r.join("mnist-10k").is_dir()) else {
        println!(
            "skipped: shared MNIST data (../shared/data/mnist-10k or SUPERLINEAR_DATA) not found"
        );
        return;
    };
    tch::set_num_threads(1);
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path(), root);
    let progress = crate::progress::Recorder::default();
    let first = reproduce(&s, &progress).unwrap();
    assert_eq!((first.ran, first.reused), (2, 0));
    // Two steps (trained, analysed) per run.
    assert_eq!(progress.names(), ["stored records", "train and analyse"]);
    let totals: Vec<u64> = progress.whole().iter().map(|r| r.total).collect();
    assert_eq!(totals, [2, 4]);
    assert_eq!(first.records.len(), 2);
    for r in &first.records {
        assert_eq!(r.config.top_k, 300);
        assert_eq!(r.analyze.samples, 900);
        assert_eq!(r.analyze.bound_violations.0, 0, "Theorem 5.1 left bound");
    }
    // Resumable: the second call trains nothing and renders the same table.
    let second = reproduce(&s, &Silent).unwrap();
    assert_eq!((second.ran, second.reused), (0, 2));
    assert_eq!(first.markdown, second.markdown);
    assert!(dir
        .path()
        .join("runs/mnist-mlp-k3-ce/seed-0.json")
        .is_file());
    assert!(dir.path().join("table1.csv").is_file());
    let results = std::fs::read_to_string(dir.path().join("RESULTS.md")).unwrap();
    assert!(results.contains("## Verdicts on the measured grid"));
    // Report only: nothing trained, same table, hand-written notes included.
    std::fs::write(dir.path().join("NOTES.md"), "tried: nothing else\n").unwrap();
    let third = reproduce(
        &ReproduceSettings {
            report_only: true,
            seeds: 2,
            ..s.clone()
        },
        &Silent,
    )
    .unwrap();
    assert_eq!((third.ran, third.reused), (0, 2));
    let results = std::fs::read_to_string(dir.path().join("RESULTS.md")).unwrap();
    assert!(results.contains("tried: nothing else"), "{results}");
    assert!(results.contains("mnist-mlp-k3-ce (1/2)"), "{results}");
    // Another learning rate is another config: its report reuses none of
    // these records (a side run needs its own --out).
    let other_lr = reproduce(
        &ReproduceSettings {
            report_only: true,
            results_md: None,
            lr_override: Some(0.5),
            ..s.clone()
        },
        &Silent,
    )
    .unwrap();
    assert_eq!((other_lr.ran, other_lr.reused), (0, 0));
    // Table 3's two readings come with every MSE record (and none with CE).
    for r in &first.records {
        let mse = r.config.row.id().ends_with("mse");
        assert_eq!(r.analyze.term2.is_some(), mse, "{}", r.config.row.id());
        if mse {
            let (a, b) = (r.gamma_term12().unwrap(), r.gamma_iso_term2().unwrap());
            assert!(
                a.is_finite() && b.is_finite() && a > 0.0 && b > 0.0,
                "{a} {b}"
            );
        }
    }
    let t3 = reproduce(
        &ReproduceSettings {
            table: TableId::Three,
            report_only: true,
            results_md: None,
            ..s.clone()
        },
        &Silent,
    )
    .unwrap();
    assert_eq!((t3.ran, t3.reused), (0, 1));
    assert!(t3.rows[0].table3_term12.is_some() && t3.rows[0].table3.is_some());
    assert!(
        t3.markdown.contains("Table 3 measured I+II"),
        "{}",
        t3.markdown
    );
    // A run below the training-accuracy floor is counted, listed and not scored.
    let mut untrained = first.records.clone();
    untrained[0].train.accuracy = 0.2;
    let rows = table_rows(
        &s.published,
        &[untrained[0].config.row],
        &untrained,
        TableId::One,
        DEFAULT_MIN_TRAIN_PROGRESS,
    );
    assert_eq!((rows[0].seeds, rows[0].runs), (0, 1));
    assert_eq!(rows[0].below_floor, vec!["seed 0 (acc 0.200)".to_string()]);
    assert_eq!(rows[0].gamma.measured, None);
    let md = table_markdown(&rows, TableId::One, RenderOptions { timings: false });
    assert!(md.contains("| 0 of 1 |"), "{md}");
    // Figures rounded to 2 decimals (the table's own rounding).
    let table = table_markdown(&first.rows, TableId::One, RenderOptions { timings: false });
    insta::assert_snapshot!("reproduce_mnist_mlp_k3_one_seed", table);
}

fn assert_bad_input(out: &Output, mentions: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.contains(mentions),
        "'{err}' should mention '{mentions}'"
    );
}

#[test]
fn torch_reproduce_rejects_bad_flags() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().display().to_string();
    let base = ["reproduce", "--out", out.as_str()];
    let with = |extra: &[&str]| {
        let mut a: Vec<&str> = base.to_vec();
        a.extend_from_slice(extra);
        run(&a)
    };
    assert_bad_input(&with(&["--table", "2", "--scale", "reduced"]), "table = 2");
    assert_bad_input(&with(&["--table", "x", "--scale", "reduced"]), "table = x");
    assert_bad_input(&with(&["--table", "1", "--scale", "huge"]), "scale = huge");
    assert_bad_input(
        &with(&[
            "--table",
            "1",
            "--scale",
            "reduced",
            "--min-train-progress",
            "1.5",
        ]),
        "min-train-progress = 1.5",
    );
    assert_bad_input(
        &with(&["--table", "1", "--scale", "reduced", "--lr", "0"]),
        "lr = 0",
    );
    assert_bad_input(
        &with(&["--table", "1", "--scale", "reduced", "--rows", "mnist-rnn"]),
        "unknown token \"rnn\"",
    );
    assert_bad_input(
        &with(&["--table", "1", "--scale", "reduced", "--rows", "mnist,,cnn"]),
        "empty term",
    );
    assert_bad_input(
        &with(&["--table", "1", "--scale", "reduced", "--seeds", "0"]),
        "seeds = 0",
    );
    assert_bad_input(
        &with(&["--table", "1", "--scale", "reduced", "--jobs", "0"]),
        "jobs = 0",
    );
    assert_bad_input(&with(&["--table", "1"]), "--scale");
    // Nothing was trained.
    assert!(!dir.path().join("runs").exists());
}

fn write_configs(dir: &Path, edit: impl Fn(&str) -> String) -> String {
    let src = Path::new(REPO).join("experiments/runs");
    for e in std::fs::read_dir(&src).unwrap() {
        let p = e.unwrap().path();
        let text = std::fs::read_to_string(&p).unwrap();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        let text = if name == "mnist-mlp-ce.toml" {
            edit(&text)
        } else {
            text
        };
        std::fs::write(dir.join(name), text).unwrap();
    }
    dir.display().to_string()
}

/// An edit of the `mnist-mlp-ce.toml` text.
type ConfigEdit = Box<dyn Fn(&str) -> String>;

#[test]
fn torch_reproduce_rejects_bad_configs() {
    let cases: Vec<(ConfigEdit, &str)> = vec![
        (
            Box::new(|t: &str| t.replacen("[reduced]\n", "[reduced]\nepochz = 3\n", 1)),
            "unknown field `epochz`",
        ),
        (
            Box::new(|t: &str| format!("bogus = 1\n{t}")),
            "unknown field `bogus`",
        ),
        (
            Box::new(|t: &str| {
                t.replacen("[reduced.unknowns]\nlr = ", "[reduced.unknowns]\nlr = 9", 1)
            }),
            "must be identical across rows",
        ),
        (
            Box::new(|t: &str| t.replacen("classes = [3, 6, 10]", "classes = [4]", 1)),
            "K = 3, 6, 10 only",
        ),
        (
            Box::new(|t: &str| t.replacen("dataset = \"mnist\"", "dataset = \"svhn\"", 1)),
            "svhn",
        ),
        (
            // More analysis samples than the training set holds: refused,
            // not silently all of them.
            Box::new(|t: &str| t.replace("analyze_samples = 0", "analyze_samples = 99999999")),
            "analyze_samples = 99999999",
        ),
    ];
    for (edit, mentions) in cases {
        let cfg = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let c = write_configs(cfg.path(), edit);
        let o = out.path().display().to_string();
        let r = run(&[
            "reproduce",
            "--table",
            "1",
            "--scale",
            "reduced",
            "--configs",
            &c,
            "--out",
            &o,
        ]);
        assert_bad_input(&r, mentions);
        assert_bad_input(&r, "mnist-mlp-ce.toml");
    }
}

#[test]
fn torch_committed_configs_resolve_every_table1_row() {
    let configs = committed_configs();
    let p = Published::builtin().unwrap();
    let rows = configs.rows(&p);
    assert_eq!(rows.len(), 24, "12 (data, model, K) x CE and MSE");
    for scale in [Scale::Paper, Scale::Reduced] {
        for r in &rows {
            let c = configs.resolve(r, scale, &p).unwrap();
            assert!(c.top_k >= 1 && c.top_k <= c.d(), "{c:?}");
            if scale == Scale::Paper {
                assert!(c.sources.iter().all(|(_, s)| s == "table2"), "{c:?}");
            }
        }
    }
}
