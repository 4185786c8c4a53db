//! The driver behind `superlinear reproduce` (feature `torch`): for every
//! selected row and seed, load the training subset, build the seeded model,
//! train it with vanilla SGD ([`crate::torch::train::train`]), analyse the
//! paper's layer in memory ([`super::analyze::analyze`]), and write the
//! run record `runs/<row>/seed-<s>.json` under the output directory.
//!
//! Resumable: a run whose record exists with the same resolved config is not
//! rerun (a record with a different config is rerun and overwritten; the
//! plan is [`super::grid::plan`]). After every finished run the tables
//! (`table<N>.md`, `table<N>.csv`) and the results document are rewritten
//! ([`super::grid::write_outputs`]), so an interrupted grid leaves a
//! consistent partial report.
//!
//! Progress: the stored records ([`super::grid::plan`]), then a stage `train
//! and analyse` of two steps per run to do (trained, analysed), reported by
//! every worker as it gets there.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use tch::Kind;

use super::analyze::{analyze, AnalyzeSettings};
use super::config::RunConfig;
use super::grid::{finish, plan, write_outputs, Plan, ReproduceReport, ReproduceSettings};
use super::record::{
    save_record, AnalyzeOutcome, FitSummary, Provenance, RunRecord, Term2Summary, Timings,
    TrainOutcome,
};
use super::ReproduceError;
use crate::loss::Loss;
use crate::memory::process_cpu_seconds;
use crate::progress::{Progress, Silent, StageGuard};
use crate::spec::Model;
use crate::torch::dataset::{load_data, DataSettings};
use crate::torch::device::TrainDevice;
use crate::torch::model::{Arch, ModelSpec, Net};
use crate::torch::train::{train, TrainSettings};

/// The architecture of a resolved config.
pub fn arch_of(c: &RunConfig) -> Arch {
    let (ch, h, w) = c.row.dataset.chw();
    match c.row.model {
        Model::Mlp => Arch::Mlp {
            input: ch * h * w,
            hidden: c.widths.clone(),
        },
        Model::Cnn => Arch::Cnn {
            in_channels: ch,
            channels: c.widths.clone(),
            pool_side: c.cnn_pool_side,
            hidden: c.cnn_hidden,
        },
    }
}

/// Trains and analyses one run (no files); `step` is told when the network
/// is trained and when its layer is analysed.
pub fn run_one(
    config: &RunConfig,
    seed: u64,
    data_root: Option<&Path>,
    threads: i32,
    step: &dyn Fn(&str),
) -> Result<RunRecord, ReproduceError> {
    let t0 = Instant::now();
    let cpu0 = process_cpu_seconds();
    let ds = DataSettings {
        dataset: config.row.dataset,
        root: data_root.map(Path::to_path_buf),
        classes: config.row.classes,
        per_class: config.per_class,
        normalize: true,
    };
    let data = load_data(&ds)?;
    let data_s = t0.elapsed().as_secs_f64();
    let spec = ModelSpec {
        arch: arch_of(config),
        classes: config.row.classes,
    };
    let t1 = Instant::now();
    let cpu1 = process_cpu_seconds();
    spec.validate()?;
    crate::torch::train::check_train_memory(&spec, data.len(), data.chw, config.batch)?;
    let mut net = Net::new(&spec, seed, Kind::Float)?;
    let ts = TrainSettings {
        loss: config.row.loss,
        lr: config.lr,
        batch_size: config.batch,
        epochs: config.epochs,
        seed,
        checkpoint_every: 0,
        device: TrainDevice::Cpu,
        out_dir: None,
        init: Default::default(),
    };
    // The run is one step of the grid's stage: its own stages stay silent.
    let tr = train(&mut net, &data, &ts, &Silent)?;
    tr.divergence()?;
    let train_s = t1.elapsed().as_secs_f64();
    let last = tr.epochs.last();
    step(&format!(
        "{} seed {seed}: trained, accuracy {:.3}, {train_s:.0} s",
        config.row.id(),
        last.map_or(f64::NAN, |e| e.accuracy)
    ));
    let t2 = Instant::now();
    let cpu2 = process_cpu_seconds();
    let settings = AnalyzeSettings {
        checkpoint: PathBuf::from("(in memory)"),
        layer: None,
        samples: config.analyze_samples,
        top_k: config.top_k,
        loss: Some(config.row.loss),
        batch_size: Some(config.batch),
        // Table 3's column (MSE rows): Term II kept, pairs drawn with the run's seed.
        term2: config.row.loss == Loss::SoftmaxMse,
        pair_seed: seed,
        ..AnalyzeSettings::default()
    };
    let an = analyze(&net, &data, &settings, None, &Silent)?.analysis;
    let analyze_s = t2.elapsed().as_secs_f64();
    let fitted = |g: &crate::layer::Fit| {
        g.as_ref()
            .map_or("-".to_string(), |f| format!("{:.3}", f.gamma))
    };
    step(&format!(
        "{} seed {seed}: analysed, gamma {}, gamma_awd {}, {analyze_s:.0} s",
        config.row.id(),
        fitted(&an.gamma),
        fitted(&an.gamma_awd)
    ));
    let cpu3 = process_cpu_seconds();
    let delta = |a: Option<f64>, b: Option<f64>| b.zip(a).map(|(b, a)| b - a);
    let fit = FitSummary::of;
    let last = tr.epochs.last();
    Ok(RunRecord {
        schema_version: crate::reproduce::record::RUN_SCHEMA_VERSION,
        config: config.clone(),
        provenance: Provenance::now(seed, threads, &data.name),
        train: TrainOutcome {
            samples: tr.samples,
            accuracy: last.map_or(f64::NAN, |e| e.accuracy),
            loss: last.map_or(f64::NAN, |e| e.loss),
            accuracy_curve: tr.epochs.iter().map(|e| e.accuracy).collect(),
        },
        analyze: AnalyzeOutcome {
            layer: an.layer.clone(),
            samples: an.samples,
            top_k: an.h_diag.len(),
            gamma: fit(&an.gamma),
            gamma_awd: fit(&an.gamma_awd),
            bound_violations: (an.bounds.left.violations, an.bounds.right.violations),
            first_moment_residual: an.first_moment_residual,
            negative_mass: an.spectra.negative_mass,
            term2: an.term2.as_ref().map(|t| match t {
                Ok(t) => Term2Summary {
                    pairs_used: t.pairs_used,
                    term2_share: t.term2_share,
                    gamma_term12: fit(&t.gamma_term12),
                    gamma_iso_term2: fit(&t.gamma_iso_term2),
                },
                Err(e) => Term2Summary {
                    pairs_used: 0,
                    term2_share: f64::NAN,
                    gamma_term12: Err(e.clone()),
                    gamma_iso_term2: Err(e.clone()),
                },
            }),
            stages: an
                .stages
                .iter()
                .map(|s| (s.name.clone(), s.seconds))
                .collect(),
        },
        timings: Timings {
            data_s,
            train_s,
            analyze_s,
            total_s: t0.elapsed().as_secs_f64(),
            process_cpu_s: delta(cpu0, cpu3),
            train_cpu_s: delta(cpu1, cpu2),
            analyze_cpu_s: delta(cpu2, cpu3),
        },
    })
}

struct Shared {
    records: Vec<RunRecord>,
    ran: usize,
    error: Option<ReproduceError>,
}

/// Runs (or reuses) every selected row and seed, and writes the records, the
/// tables and the results document; progress as in the module doc.
pub fn reproduce(
    s: &ReproduceSettings,
    progress: &dyn Progress,
) -> Result<ReproduceReport, ReproduceError> {
    let Plan {
        rows,
        configs,
        records,
        todo,
    } = plan(s, progress)?;
    let reused = records.len();
    let total = todo.len();
    let shared = Mutex::new(Shared {
        records,
        ran: 0,
        error: None,
    });
    let queue = Mutex::new(todo.into_iter());
    write_outputs(s, &rows, &configs, &lock(&shared).records)?;
    // No stage when every run is stored.
    let stage =
        (total > 0).then(|| StageGuard::begin(progress, "train and analyse", 2 * total as u64));
    let step = |message: &str| {
        if let Some(stage) = &stage {
            stage.step(message);
        }
    };
    std::thread::scope(|scope| {
        for _ in 0..s.jobs.min(total.max(1)) {
            scope.spawn(|| loop {
                if lock(&shared).error.is_some() {
                    return;
                }
                let Some((config, seed)) = lock(&queue).next() else {
                    return;
                };
                let result = run_one(&config, seed, s.data_root.as_deref(), s.threads, &step)
                    .and_then(|rec| save_record(&s.out, &rec).map(|()| rec));
                let mut sh = lock(&shared);
                match result {
                    Ok(rec) => {
                        sh.records.push(rec);
                        sh.ran += 1;
                        if let Err(e) = write_outputs(s, &rows, &configs, &sh.records) {
                            sh.error = Some(e);
                        }
                    }
                    Err(e) => {
                        sh.error = Some(ReproduceError::Run {
                            row: config.row.id(),
                            seed,
                            source: Box::new(e),
                        })
                    }
                }
            });
        }
    });
    drop(stage);
    let sh = shared.into_inner().unwrap_or_else(|p| p.into_inner());
    if let Some(e) = sh.error {
        return Err(e);
    }
    Ok(finish(s, &rows, sh.records, sh.ran, reused))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
