//! Progress reports: each long command's library call opens its stages one
//! at a time, closes every one, and reports exactly the steps it declared
//! (checked with a recording `Progress`); and the renderer draws nothing
//! when stderr is captured (not a terminal): a long command writes its
//! normal output and nothing else.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Mutex;

use superlinear::layer::{analyze_layer, LayerFactors, LayerSettings, UncertaintySettings};
use superlinear::progress::Progress;
use superlinear::reproduce::aggregate::{TableId, DEFAULT_MIN_TRAIN_PROGRESS};
use superlinear::reproduce::config::{ConfigSet, RowFilter, Scale, RUNS_DIR};
use superlinear::reproduce::grid::ReproduceSettings;
use superlinear::reproduce::netgrid::{NetGridConfig, NetGridSettings};

use crate::analyze_factors::factor_file;
use superlinear::data::factors::FactorLoss;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// One stage as reported.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reported {
    pub name: String,
    pub total: u64,
    pub steps: u64,
    pub closed: bool,
}

/// A `Progress` that keeps every report, and every break of the contract
/// (a step or `done` with no stage open, a stage opened over another).
#[derive(Default)]
pub(crate) struct Recorder {
    state: Mutex<(Vec<Reported>, Vec<String>)>,
}

impl Progress for Recorder {
    fn stage(&self, name: &str, total: u64) {
        let mut guard = self.state.lock().unwrap();
        let s = &mut *guard;
        if let Some(open) = s.0.last().filter(|r| !r.closed) {
            s.1.push(format!(
                "stage {name:?} opened while {:?} is open",
                open.name
            ));
        }
        s.0.push(Reported {
            name: name.to_string(),
            total,
            steps: 0,
            closed: false,
        });
    }

    fn step(&self, message: &str) {
        let mut guard = self.state.lock().unwrap();
        let s = &mut *guard;
        match s.0.last_mut().filter(|r| !r.closed) {
            Some(open) => open.steps += 1,
            None => s.1.push(format!("step {message:?} with no stage open")),
        }
    }

    fn done(&self) {
        let mut guard = self.state.lock().unwrap();
        let s = &mut *guard;
        match s.0.last_mut().filter(|r| !r.closed) {
            Some(open) => open.closed = true,
            None => s.1.push("done with no stage open".into()),
        }
    }
}

impl Recorder {
    /// The stages reported, after checking the contract: no break, every
    /// stage closed, and each with a declared total reported that many steps.
    pub(crate) fn whole(&self) -> Vec<Reported> {
        let s = self.state.lock().unwrap();
        assert!(s.1.is_empty(), "{:?}", s.1);
        for r in &s.0 {
            assert!(r.closed, "stage left open: {r:?}");
            if r.total > 0 {
                assert_eq!(r.steps, r.total, "steps of {r:?}");
            }
        }
        s.0.clone()
    }

    /// The names of [`Self::whole`], in order.
    pub(crate) fn names(&self) -> Vec<String> {
        self.whole().into_iter().map(|r| r.name).collect()
    }

    /// The one stage named `name`.
    pub(crate) fn get(&self, name: &str) -> Reported {
        let all: Vec<Reported> = self
            .whole()
            .into_iter()
            .filter(|r| r.name == name)
            .collect();
        assert_eq!(all.len(), 1, "stage {name:?}: {all:?}");
        all[0].clone()
    }
}

#[test]
fn recorder_catches_a_short_stage_and_stray_reports() {
    let r = Recorder::default();
    r.stage("a", 3);
    r.step("1");
    r.step("2");
    r.done();
    let short = std::panic::catch_unwind(|| r.whole());
    assert!(short.is_err(), "2 of 3 steps passed");
    let stray = Recorder::default();
    stray.step("nowhere");
    assert!(std::panic::catch_unwind(|| stray.whole()).is_err());
    let open = Recorder::default();
    open.stage("a", 0);
    assert!(std::panic::catch_unwind(|| open.whole()).is_err());
}

/// The stages of an analysis in order, each closed; the bootstrap and the
/// form test's null count their replicates and rotations.
#[test]
fn analyze_layer_reports_every_stage() {
    let f = factor_file(60, 4, 5, 3, FactorLoss::CrossEntropy, 7);
    let idx: Vec<usize> = (0..f.n).collect();
    let uncertainty = UncertaintySettings {
        replicates: 23,
        rotations: 17,
        ..UncertaintySettings::default()
    };
    let rec = Recorder::default();
    let report = analyze_layer(
        &LayerFactors::from_factor_file(&f, &idx),
        &LayerSettings {
            top_k: 12,
            batch_size: 4,
            coupling_awd: true,
            term2: true,
            uncertainty,
            ..LayerSettings::default()
        },
        &rec,
    )
    .unwrap();
    assert!(report.gamma_uncertainty.is_ok(), "{report:?}");
    assert_eq!(
        rec.names(),
        [
            "factor A_p",
            "build H = E[A_p (x) a a^T]",
            "eigendecomposition of H (top-k)",
            "projections: C_ii, C_awd,ii",
            "rho_bar(C) and its null",
            "rho_bar(C_awd) and its null",
            "Theorem 5.1 bounds, gamma fits",
            "gamma(k) and local slopes",
            "bootstrap of gamma",
            "form test: Haar-rotated null",
            "Term I + II (Table 3)",
        ]
    );
    assert_eq!(rec.get("bootstrap of gamma").total, 23);
    assert_eq!(rec.get("form test: Haar-rotated null").total, 17);
    // The timed stages of the report are unchanged by the progress reports.
    let timed: Vec<&str> = report.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        timed,
        [
            "factor A_p",
            "H = E[A_p (x) a a^T]",
            "top-k eig(H)",
            "C_ii, C_awd,ii, V^T E[h^2] V",
            "rho_bar(C)",
            "rho_bar(C_awd)",
            "checks",
            "gamma uncertainty",
            "Term I + II (Table 3)",
        ]
    );
}

/// An analysis refused before it starts (memory cap) leaves no stage open.
#[test]
fn a_refused_analysis_closes_its_stage() {
    let f = factor_file(30, 3, 4, 3, FactorLoss::CrossEntropy, 8);
    let idx: Vec<usize> = (0..f.n).collect();
    let rec = Recorder::default();
    let err = analyze_layer(
        &LayerFactors::from_factor_file(&f, &idx),
        &LayerSettings {
            memory_limit: Some(1024),
            ..LayerSettings::default()
        },
        &rec,
    )
    .unwrap_err();
    assert!(
        matches!(err, superlinear::Error::MemoryLimit { .. }),
        "{err}"
    );
    assert_eq!(rec.names(), ["factor A_p"]);
}

/// `reproduce --report-only` on a copy of the fixture's records: a step per
/// (row, seed) read, then the report.
#[test]
fn reproduce_report_only_reports_records_then_report() {
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = crate::util::fixture_records_copy(dir.path());
    let seeds = crate::util::FIXTURE_SEEDS;
    let settings = ReproduceSettings {
        table: TableId::One,
        scale: Scale::Reduced,
        rows: RowFilter::parse(crate::util::FIXTURE_ROWS).unwrap(),
        seeds,
        jobs: 1,
        out,
        results_md: None,
        configs: ConfigSet::load(&Path::new(REPO).join(RUNS_DIR)).unwrap(),
        published: superlinear::published::Published::builtin().unwrap(),
        data_root: None,
        threads: 1,
        command: String::new(),
        timings: false,
        report_only: true,
        min_train_progress: DEFAULT_MIN_TRAIN_PROGRESS,
        lr_override: None,
        shard: superlinear::reproduce::shard::Shard::ALL,
    };
    let rec = Recorder::default();
    let report = superlinear::reproduce::grid::report_only(&settings, &rec).unwrap();
    assert_eq!(report.reused, 6, "the fixture's six records");
    assert_eq!(rec.names(), ["stored records", "report"]);
    assert_eq!(
        rec.get("stored records").total,
        (settings.selected_rows().len() * seeds) as u64
    );
    assert_eq!(rec.get("report").total, 1);
}

fn netgrid_settings(out: &Path) -> NetGridSettings {
    let config = NetGridConfig::load(&Path::new(REPO).join("experiments/netgrid.toml")).unwrap();
    crate::util::grid_settings(
        config,
        out,
        &out.join("work"),
        "superlinear net-grid --report-only",
    )
}

/// `net-grid --report-only` on a copy of the committed records: a step per
/// family read, then the report.
#[test]
fn net_grid_report_only_reports_records_then_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("net");
    crate::util::copy_dir(&Path::new(REPO).join("experiments/results/net"), &out);
    let settings = netgrid_settings(&out);
    let rec = Recorder::default();
    let report = superlinear::reproduce::netgrid::report_only(&settings, &rec).unwrap();
    assert!(report.reused_records > 0, "no committed record read");
    assert_eq!(rec.names(), ["stored records", "report"]);
    assert_eq!(
        rec.get("stored records").total,
        settings.config.family.len() as u64
    );
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_superlinear"))
        .args(args)
        .current_dir(REPO)
        .output()
        .unwrap()
}

/// Nothing of a bar in captured stderr: no carriage return, no escape
/// sequence, no spinner or bar glyph, no stage name.
pub(crate) fn assert_no_bar(out: &Output, what: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains(['\r', '\x1b']) && !err.contains("=>") && !err.contains("] "),
        "{what}: {err:?}"
    );
    let spinner = ['⠁', '⠂', '⠄', '⡀', '⢀', '⠠', '⠐', '⠈'];
    assert!(!err.contains(spinner), "{what}: {err:?}");
    for stage in ["stored records", "factor A_p", "bootstrap of gamma"] {
        assert!(!err.contains(stage), "{what}: {err:?}");
    }
}

#[test]
fn captured_stderr_gets_no_progress() {
    let out = run(&["baseline-grid", "--d", "12", "--rotations", "4"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("| 12 |"));
}

#[test]
fn analyze_factors_with_captured_stderr_draws_no_bar() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("layer.safetensors");
    let f = factor_file(60, 4, 5, 3, FactorLoss::CrossEntropy, 3);
    std::fs::write(&path, f.to_bytes().unwrap()).unwrap();
    let out = run(&[
        "analyze",
        "--factors",
        path.to_str().unwrap(),
        "--top-k",
        "12",
    ]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{out:?}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("gamma"));
}

#[test]
fn report_only_commands_with_captured_stderr_draw_no_bar() {
    let dir = tempfile::tempdir().unwrap();
    let (records, results) = crate::util::fixture_records_copy(dir.path());
    let args = crate::util::fixture_report_only("1", &records, &results, &[]);
    let out = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(matches!(out.status.code(), Some(0 | 1)), "{out:?}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 runs trained now"));

    let net = dir.path().join("net");
    crate::util::copy_dir(&Path::new(REPO).join("experiments/results/net"), &net);
    let out = run(&["net-grid", "--report-only", "--out", net.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_no_bar(&out, "net-grid --report-only");
    // Its only stderr is the closing summary line.
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("runs trained"), "{err}");
}

/// The torch tier's long calls: `train` a step per SGD step, `analyze
/// --checkpoint` its loading and gathering before the analysis, `net-claims`
/// a step per checkpoint; and the binary draws no bar with stderr captured.
#[cfg(feature = "torch")]
mod torch_progress {
    use std::path::PathBuf;

    use tch::Kind;

    use superlinear::loss::Loss;
    use superlinear::reproduce::analyze::{run_analyze_on, AnalyzeSettings};
    use superlinear::reproduce::netclaims::{net_claims_on, NetClaimsSettings};
    use superlinear::torch::model::{Arch, ModelSpec, Net};
    use superlinear::torch::train::{train, TrainSettings};

    use super::{assert_no_bar, run, Recorder};
    use crate::torch::synthetic_data;
    use crate::util::shared_data;

    #[test]
    fn torch_train_analyze_and_net_claims_report_their_steps() {
        tch::set_num_threads(1);
        let dir = tempfile::tempdir().unwrap();
        let data = synthetic_data(45, (1, 4, 4), 3, 5);
        let spec = ModelSpec {
            arch: Arch::Mlp {
                input: 16,
                hidden: vec![8, 6],
            },
            classes: 3,
        };
        let mut net = Net::new(&spec, 1, Kind::Float).unwrap();
        let settings = TrainSettings {
            loss: Loss::CrossEntropy,
            lr: 0.1,
            batch_size: 10,
            epochs: 3,
            seed: 1,
            checkpoint_every: 1,
            out_dir: Some(dir.path().to_path_buf()),
            ..TrainSettings::default()
        };
        let rec = Recorder::default();
        let run = train(&mut net, &data, &settings, &rec).unwrap();
        assert_eq!(rec.names(), ["train"]);
        // 45 samples in batches of 10: 5 SGD steps per epoch.
        assert_eq!(rec.get("train").total, 3 * 5);

        let rec = Recorder::default();
        let a = run_analyze_on(
            &AnalyzeSettings {
                checkpoint: dir.path().join("final.safetensors"),
                samples: 30,
                top_k: 12,
                linalg_threads: 1,
                ..AnalyzeSettings::default()
            },
            &data,
            &rec,
        )
        .unwrap();
        let names = rec.names();
        assert_eq!(
            names[..3],
            [
                "load checkpoint",
                "gather factors: forward + D_p (autograd)",
                "factor A_p"
            ]
        );
        assert!(
            names.contains(&"bootstrap of gamma".to_string()),
            "{names:?}"
        );
        assert!(a.analysis.stages.len() >= 6);

        let rec = Recorder::default();
        let r = net_claims_on(
            &NetClaimsSettings {
                run_dir: dir.path().to_path_buf(),
                samples: 30,
                top_k: 12,
                ..NetClaimsSettings::default()
            },
            &run,
            &data,
            &rec,
        )
        .unwrap();
        assert_eq!(rec.names(), ["checkpoints"]);
        assert_eq!(rec.get("checkpoints").total, r.checkpoints.len() as u64);
        assert!(r.checkpoints.len() >= 2);
    }

    /// A `run.json` written while progress was a training setting still
    /// reads (its `progress` switch ignored); any other unknown field is
    /// still refused, and the switch is no longer written.
    #[test]
    fn torch_run_json_with_the_old_progress_switch_reads() {
        let text = r#"{"loss": "ce", "lr": 0.1, "batch_size": 50, "epochs": 2,
            "seed": 0, "checkpoint_every": 0, "out_dir": null, "progress": true}"#;
        let s: TrainSettings = serde_json::from_str(text).unwrap();
        assert_eq!((s.batch_size, s.epochs), (50, 2));
        assert!(!serde_json::to_string(&s).unwrap().contains("progress"));
        let other = text.replace("progress", "progres");
        assert!(serde_json::from_str::<TrainSettings>(&other).is_err());
    }

    /// `train`, `analyze --checkpoint` and `net-claims` on the shared MNIST
    /// subset with stderr captured: no bar. Skips without data.
    #[test]
    fn torch_cli_with_captured_stderr_draws_no_bar() {
        let Some(root) = shared_data().filter(|r| r.join("mnist-10k").is_dir()) else {
            eprintln!("skipped: no shared MNIST (SUPERLINEAR_DATA)");
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let run_dir: PathBuf = dir.path().join("run");
        let (r, d) = (root.to_str().unwrap(), run_dir.to_str().unwrap());
        let out = run(&[
            "train",
            "--data",
            r,
            "--classes",
            "3",
            "--per-class",
            "10",
            "--epochs",
            "2",
            "--checkpoint-every",
            "1",
            "--out",
            d,
        ]);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("trained "));
        assert!(
            out.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ck = run_dir.join("final.safetensors");
        let out = run(&[
            "analyze",
            "--checkpoint",
            ck.to_str().unwrap(),
            "--samples",
            "30",
            "--top-k",
            "20",
        ]);
        assert!(matches!(out.status.code(), Some(0 | 1)), "{out:?}");
        assert!(
            out.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = run(&["net-claims", "--run", d, "--samples", "30", "--top-k", "20"]);
        assert!(matches!(out.status.code(), Some(0 | 1)), "{out:?}");
        assert_no_bar(&out, "net-claims");
    }
}
