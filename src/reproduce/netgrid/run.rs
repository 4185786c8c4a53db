//! The grid's training and analysis (feature `torch`): the stages of
//! [`super::plan`] run with `jobs` workers, each training run reused when
//! its directory matches the plan (else trained by
//! `crate::torch::train::run_train` into a temporary sibling and renamed),
//! each analysis by `crate::reproduce::netclaims::net_claims_on`, then
//! `RESULTS.md` rewritten from the records.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use serde::Deserialize;

use super::config::{run_dir, Family, NetGridConfig};
use super::plan::{select, Job, Stage};
use super::record::{
    load_checked, pilot_record_path, run_record_path, save_checked, stored_run_record,
    CheckpointSummary, ClaimSummary, Curves, NetRunConfig, NetRunRecord, NetTimings,
    PilotCandidate, PilotRecord, PremiseOutcome, SCHEMA_VERSION,
};
use super::report::write_report;
use super::{NetGridReport, NetGridSettings};
use crate::claims::premise::{premise_met, LrChoice};
use crate::memory::process_cpu_seconds;
use crate::reproduce::netclaims::{net_claims_on, NetClaim, NetClaimsSettings};
use crate::reproduce::record::Provenance;
use crate::reproduce::ReproduceError;
use crate::spec::Model;
use crate::torch::dataset::{load_data, DataSettings};
use crate::torch::device::TrainDevice;
use crate::torch::model::{Arch, ModelSpec};
use crate::torch::train::{run_train, EpochStats, RunTrainSettings, TrainReport, TrainSettings};

type Result<T, E = ReproduceError> = std::result::Result<T, E>;

/// The architecture of a family.
pub fn arch_of(f: &Family) -> Arch {
    let a = f.arch();
    match a.model {
        Model::Mlp => Arch::Mlp {
            input: a.input,
            hidden: a.widths,
        },
        Model::Cnn => Arch::Cnn {
            in_channels: a.input,
            channels: a.widths,
            pool_side: a.pool_side.unwrap_or(1),
            hidden: a.hidden.unwrap_or(1),
        },
    }
}

/// The `superlinear train` settings of a planned run.
pub fn train_settings(
    config: &NetGridConfig,
    f: &Family,
    lr: f64,
    seed: u64,
    data_root: Option<&Path>,
    out_dir: Option<PathBuf>,
) -> RunTrainSettings {
    RunTrainSettings {
        data: DataSettings {
            dataset: f.dataset,
            root: data_root.map(Path::to_path_buf),
            classes: config.classes,
            per_class: config.per_class,
            normalize: true,
        },
        model: f.model,
        arch: Some(arch_of(f)),
        train: TrainSettings {
            loss: f.loss,
            lr,
            batch_size: f.batch,
            epochs: config.epochs,
            seed,
            checkpoint_every: config.checkpoint_every,
            device: TrainDevice::Cpu,
            out_dir,
            progress: false,
        },
    }
}

#[derive(Deserialize)]
struct LenientEpoch {
    epoch: usize,
    loss: Option<f64>,
    accuracy: Option<f64>,
    #[serde(default)]
    seconds: Option<f64>,
}

#[derive(Deserialize)]
struct LenientRun {
    spec: ModelSpec,
    settings: TrainSettings,
    data: String,
    samples: usize,
    epochs: Vec<LenientEpoch>,
    #[serde(default)]
    checkpoints: Vec<PathBuf>,
    #[serde(default)]
    seconds: Option<f64>,
    #[serde(default)]
    data_settings: Option<DataSettings>,
    #[serde(default)]
    heldout: Option<crate::torch::train::HeldOutStats>,
}

/// Reads a run's `run.json` (a non-finite loss, stored as `null`, reads as NaN).
pub fn read_run(dir: &Path) -> Result<TrainReport, String> {
    let p = dir.join("run.json");
    let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
    let r: LenientRun = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))?;
    Ok(TrainReport {
        spec: r.spec,
        settings: r.settings,
        data: r.data,
        samples: r.samples,
        epochs: r
            .epochs
            .into_iter()
            .map(|e| EpochStats {
                epoch: e.epoch,
                loss: e.loss.unwrap_or(f64::NAN),
                accuracy: e.accuracy.unwrap_or(f64::NAN),
                seconds: e.seconds.unwrap_or(f64::NAN),
            })
            .collect(),
        checkpoints: r.checkpoints,
        seconds: r.seconds.unwrap_or(f64::NAN),
        data_settings: r.data_settings,
        heldout: r.heldout,
    })
}

/// The run in `dir` when it is reusable for the plan (`run.json` parses,
/// `final.safetensors` exists, spec, settings (the device among them) and
/// data subset equal the plan's; `out_dir`, `progress` and the data root are
/// ignored), else why not.
pub fn reusable_run(
    dir: &Path,
    planned: &RunTrainSettings,
    classes: usize,
) -> Result<TrainReport, String> {
    let run = read_run(dir)?;
    if !dir.join("final.safetensors").is_file() {
        return Err("no final.safetensors".into());
    }
    let Some(arch) = planned.arch.clone() else {
        return Err("the plan names no architecture".into());
    };
    let spec = ModelSpec { arch, classes };
    if run.spec != spec {
        return Err(format!(
            "model {:?} differs from the plan's {:?}",
            run.spec, spec
        ));
    }
    let (a, b) = (&run.settings, &planned.train);
    if (
        a.loss,
        a.lr,
        a.batch_size,
        a.epochs,
        a.seed,
        a.checkpoint_every,
        a.device,
    ) != (
        b.loss,
        b.lr,
        b.batch_size,
        b.epochs,
        b.seed,
        b.checkpoint_every,
        b.device,
    ) {
        return Err(format!(
            "training settings {a:?} differ from the plan's {b:?}"
        ));
    }
    let d = &planned.data;
    match &run.data_settings {
        Some(r)
            if (r.dataset, r.classes, r.per_class, r.normalize)
                == (d.dataset, d.classes, d.per_class, d.normalize) =>
        {
            Ok(run)
        }
        other => Err(format!(
            "data settings {other:?} differ from the plan's {d:?}"
        )),
    }
}

/// Whether a run was trained now or reused.
enum Trained {
    Now(TrainReport),
    Reused(TrainReport),
}

/// The run of `family` at `lr` with `seed`: reused, or trained into a
/// temporary sibling directory and renamed (a directory that exists but does
/// not match the plan is an error: it is never overwritten).
fn ensure_trained(s: &NetGridSettings, f: &Family, lr: f64, seed: u64) -> Result<Trained> {
    let dir = run_dir(&s.work, &f.id(), lr, seed);
    let planned = train_settings(&s.config, f, lr, seed, s.data_root.as_deref(), None);
    let classes = s.config.classes;
    if dir.exists() {
        return reusable_run(&dir, &planned, classes)
            .map(Trained::Reused)
            .map_err(|why| ReproduceError::Checkpoint {
                path: dir.display().to_string(),
                reason: format!("exists but cannot be reused ({why}); move it away to retrain"),
            });
    }
    let name = dir
        .file_name()
        .map_or("run".into(), |n| n.to_string_lossy().to_string());
    let tmp = dir.with_file_name(format!("{name}.tmp-net-grid-{}", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| ReproduceError::io(&tmp, e))?;
    }
    let mut ts = planned.clone();
    ts.train.out_dir = Some(tmp.clone());
    let report = run_train(&ts)?;
    match std::fs::rename(&tmp, &dir) {
        Ok(()) => Ok(Trained::Now(report)),
        // Another process finished the same run first: keep its directory.
        Err(_) if reusable_run(&dir, &planned, classes).is_ok() => {
            let _ = std::fs::remove_dir_all(&tmp);
            reusable_run(&dir, &planned, classes)
                .map(Trained::Reused)
                .map_err(|why| ReproduceError::io(&dir, why))
        }
        Err(e) => Err(ReproduceError::io(&dir, e)),
    }
}

fn curves(run: &TrainReport) -> Curves {
    Curves {
        accuracy: run.epochs.iter().map(|e| e.accuracy).collect(),
        loss: run.epochs.iter().map(|e| e.loss).collect(),
    }
}

/// The pilot record of family `fi` when every candidate's run is present
/// and reusable; written to `<out>/<family>/pilot.json`. `Err`: why not.
fn pilot_choice(s: &NetGridSettings, fi: usize) -> Result<PilotRecord, String> {
    let c = &s.config;
    let f = &c.family[fi];
    let seed = c.pilot_seed();
    let mut cands = Vec::new();
    for &lr in &c.lr_candidates {
        let dir = run_dir(&s.work, &f.id(), lr, seed);
        let planned = train_settings(c, f, lr, seed, None, None);
        let run = reusable_run(&dir, &planned, c.classes)
            .map_err(|why| format!("pilot run lr {lr} not ready ({}: {why})", dir.display()))?;
        let cv = curves(&run);
        cands.push(PilotCandidate {
            lr,
            accuracy: cv.accuracy.last().copied().unwrap_or(f64::NAN),
            loss: cv.loss.last().copied().unwrap_or(f64::NAN),
            premise: PremiseOutcome::of(&premise_met(f.loss, &cv.accuracy, &cv.loss, &c.premise)),
        });
    }
    let rec = PilotRecord::decide(&f.id(), seed, c.premise, cands);
    let path = pilot_record_path(&s.out, &f.id());
    let stored: Option<PilotRecord> = load_checked(&path).ok().flatten();
    if stored.as_ref() != Some(&rec) {
        save_checked(&path, &rec).map_err(|e| e.to_string())?;
    }
    Ok(rec)
}

/// Analyses one chosen-rate run into its record.
fn analyse(
    s: &NetGridSettings,
    f: &Family,
    choice: &LrChoice,
    seed: u64,
    threads: i32,
) -> Result<NetRunRecord> {
    let c = &s.config;
    let dir = run_dir(&s.work, &f.id(), choice.lr, seed);
    let planned = train_settings(c, f, choice.lr, seed, s.data_root.as_deref(), None);
    let run =
        reusable_run(&dir, &planned, c.classes).map_err(|why| ReproduceError::Checkpoint {
            path: dir.display().to_string(),
            reason: why,
        })?;
    let t0 = Instant::now();
    let cpu0 = process_cpu_seconds();
    let data = load_data(&planned.data)?;
    let settings = NetClaimsSettings {
        run_dir: dir.clone(),
        claims: NetClaim::ALL.to_vec(),
        samples: c.analyze_samples,
        top_k: c.top_k,
        seed,
        stride: 1,
        ..NetClaimsSettings::default()
    };
    // A run whose analysis fails (for example a network that died during
    // training: every activity of the layer zero) is recorded with the
    // reason and every claim unchecked, not dropped from the grid.
    let report = net_claims_on(&settings, &run, &data);
    let cpu1 = process_cpu_seconds();
    let cv = curves(&run);
    let premise = PremiseOutcome::of(&premise_met(f.loss, &cv.accuracy, &cv.loss, &c.premise));
    let fit = |g: &crate::layer::Fit| g.as_ref().ok().map(|f| f.gamma);
    let (checkpoints, claims, net_claims) = match &report {
        Ok(report) => (
            report
                .checkpoints
                .iter()
                .map(|k| CheckpointSummary {
                    epoch: k.epoch,
                    train_accuracy: k.train_accuracy,
                    train_loss: k.train_loss,
                    gamma: fit(&k.gamma),
                    gamma_awd: fit(&k.gamma_awd),
                })
                .collect(),
            report
                .claims
                .iter()
                .map(|r| ClaimSummary {
                    claim: r.claim.id().to_string(),
                    status: r.outcome.status,
                    figure: r.outcome.figure.clone(),
                    figures: r
                        .outcome
                        .figures
                        .iter()
                        .map(|(k, v)| (k.clone(), v.is_finite().then_some(*v)))
                        .collect(),
                    details: r.outcome.details.clone(),
                })
                .collect(),
            serde_json::to_value(report).map_err(|e| ReproduceError::io(&s.out, e))?,
        ),
        Err(e) => (
            Vec::new(),
            NetClaim::ALL
                .iter()
                .map(|c| ClaimSummary {
                    claim: c.id().to_string(),
                    status: crate::claims::Status::Unchecked,
                    figure: format!("analysis failed: {e}"),
                    figures: Default::default(),
                    details: Vec::new(),
                })
                .collect(),
            serde_json::json!({ "error": e.to_string() }),
        ),
    };
    Ok(NetRunRecord {
        schema_version: SCHEMA_VERSION,
        config: NetRunConfig::new(c, f, choice),
        provenance: Provenance::now(seed, threads, &data.name),
        run_dir: dir,
        curves: cv,
        premise,
        checkpoints,
        claims,
        net_claims,
        timings: NetTimings {
            train_s: run.seconds.is_finite().then_some(run.seconds),
            analyze_s: t0.elapsed().as_secs_f64(),
            analyze_cpu_s: cpu1.zip(cpu0).map(|(b, a)| b - a),
        },
    })
}

#[derive(Default)]
struct Tally {
    trained: usize,
    reused_runs: usize,
    analysed: usize,
    reused_records: usize,
    skipped: Vec<String>,
    error: Option<ReproduceError>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs `jobs` with `s.jobs` workers; stops at the first error.
fn run_jobs(
    s: &NetGridSettings,
    jobs: Vec<Job>,
    tally: &Mutex<Tally>,
    work: &(dyn Fn(Job) -> Result<String> + Sync),
) {
    let total = jobs.len();
    let queue = Mutex::new(jobs.into_iter().enumerate());
    std::thread::scope(|scope| {
        for _ in 0..s.jobs.min(total.max(1)) {
            scope.spawn(|| loop {
                if lock(tally).error.is_some() {
                    return;
                }
                let Some((i, job)) = lock(&queue).next() else {
                    return;
                };
                let t = Instant::now();
                let r = work(job);
                let mut tl = lock(tally);
                match r {
                    Ok(msg) => {
                        if s.progress {
                            eprintln!(
                                "[{}/{total}] {}: {msg} ({:.0} s)",
                                i + 1,
                                job.label(&s.config),
                                t.elapsed().as_secs_f64()
                            );
                        }
                    }
                    Err(e) => {
                        tl.error = Some(ReproduceError::Run {
                            row: job.label(&s.config),
                            seed: match job {
                                Job::Pilot { .. } => s.config.pilot_seed(),
                                Job::Train { seed, .. } | Job::Analyze { seed, .. } => seed,
                            },
                            source: Box::new(e),
                        })
                    }
                }
            });
        }
    });
}

/// Runs the selected stages of the plan and writes the records and `RESULTS.md`.
pub fn net_grid(s: &NetGridSettings) -> Result<NetGridReport> {
    s.validate()?;
    let c = &s.config;
    let tally = Mutex::new(Tally::default());
    let stages: Vec<Stage> = match s.stage {
        Stage::All => vec![Stage::Pilot, Stage::Train, Stage::Analyze],
        st => vec![st],
    };
    let count_trained = |t: &Trained| {
        let mut tl = lock(&tally);
        match t {
            Trained::Now(_) => tl.trained += 1,
            Trained::Reused(_) => tl.reused_runs += 1,
        }
    };
    let train_msg = |t: Trained| -> String {
        count_trained(&t);
        let (word, r) = match &t {
            Trained::Now(r) => ("trained", r),
            Trained::Reused(r) => ("reused", r),
        };
        let last = r.epochs.last();
        format!(
            "{word}, final accuracy {:.4}, loss {:.4e}",
            last.map_or(f64::NAN, |e| e.accuracy),
            last.map_or(f64::NAN, |e| e.loss)
        )
    };
    for stage in stages {
        let jobs = select(c, stage, s.shard);
        if stage == Stage::Pilot {
            run_jobs(s, jobs, &tally, &|job| match job {
                Job::Pilot { family, lr } => {
                    ensure_trained(s, &c.family[family], lr, c.pilot_seed()).map(train_msg)
                }
                _ => Ok("not a pilot job".into()),
            });
            if let Some(e) = lock(&tally).error.take() {
                return Err(e);
            }
            // pilot.json of every family whose pilot is complete.
            for fi in 0..c.family.len() {
                if let Err(why) = pilot_choice(s, fi) {
                    if s.stage == Stage::Pilot {
                        lock(&tally)
                            .skipped
                            .push(format!("choice of {}: {why}", c.family[fi].id()));
                    }
                }
            }
            continue;
        }
        // The choice of every family (pilot.json written where the pilot is complete).
        let choices: Vec<Result<PilotRecord, String>> =
            (0..c.family.len()).map(|fi| pilot_choice(s, fi)).collect();
        let chosen = |fi: usize| -> std::result::Result<LrChoice, String> {
            match &choices[fi] {
                Ok(p) => p.choice.clone().ok_or_else(|| {
                    format!("no rate chosen: {}", p.no_choice.as_deref().unwrap_or("?"))
                }),
                Err(why) => Err(why.clone()),
            }
        };
        let mut ready = Vec::new();
        for job in jobs {
            let fi = match job {
                Job::Train { family, .. }
                | Job::Analyze { family, .. }
                | Job::Pilot { family, .. } => family,
            };
            match chosen(fi) {
                Ok(_) => ready.push(job),
                Err(why) => lock(&tally)
                    .skipped
                    .push(format!("{}: {why}", job.label(c))),
            }
        }
        run_jobs(s, ready, &tally, &|job| {
            let (fi, seed) = match job {
                Job::Train { family, seed } | Job::Analyze { family, seed } => (family, seed),
                Job::Pilot { .. } => return Ok("pilot job in a later stage".into()),
            };
            let f = &c.family[fi];
            let choice = chosen(fi).map_err(|why| ReproduceError::setting("lr", "?", why))?;
            match job {
                Job::Train { .. } => ensure_trained(s, f, choice.lr, seed).map(train_msg),
                _ => {
                    let path = run_record_path(&s.out, &f.id(), seed);
                    let planned = NetRunConfig::new(c, f, &choice);
                    if !s.reanalyze {
                        if let Some(rec) = stored_run_record(&path, &planned) {
                            lock(&tally).reused_records += 1;
                            return Ok(format!(
                                "record reused ({})",
                                rec.premise.reason.as_deref().unwrap_or("premise met")
                            ));
                        }
                    }
                    let dir = run_dir(&s.work, &f.id(), choice.lr, seed);
                    if !dir.join("run.json").is_file() {
                        lock(&tally).skipped.push(format!(
                            "{}: no training run in {}",
                            job.label(c),
                            dir.display()
                        ));
                        return Ok("skipped: not trained yet".into());
                    }
                    let rec = analyse(s, f, &choice, seed, s.threads)?;
                    save_checked(&path, &rec)?;
                    lock(&tally).analysed += 1;
                    let last = rec.last_checkpoint();
                    let verdicts: Vec<String> = rec
                        .claims
                        .iter()
                        .map(|c| format!("{} {}", c.claim, c.status.as_str()))
                        .collect();
                    Ok(format!(
                        "analysed, gamma(last) {}, gamma_awd(last) {}, {}",
                        last.and_then(|c| c.gamma)
                            .map_or("n/a".into(), |g| format!("{g:.3}")),
                        last.and_then(|c| c.gamma_awd)
                            .map_or("n/a".into(), |g| format!("{g:.3}")),
                        verdicts.join(", ")
                    ))
                }
            }
        });
        if let Some(e) = lock(&tally).error.take() {
            return Err(e);
        }
    }
    let (markdown, lines, _) = write_report(c, &s.out, &s.command)?;
    let t = tally.into_inner().unwrap_or_else(|p| p.into_inner());
    Ok(NetGridReport {
        trained: t.trained,
        reused_runs: t.reused_runs,
        analysed: t.analysed,
        reused_records: t.reused_records,
        skipped: t.skipped,
        lines,
        markdown,
    })
}
