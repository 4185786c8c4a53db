//! The grid's training and analysis (feature `torch`): the stages of
//! [`super::plan`] run with `jobs` workers, each training run reused when
//! its directory matches the plan (else trained by
//! `crate::torch::train::run_train` into a temporary sibling and renamed),
//! each analysis by `crate::reproduce::netclaims::net_claims_on`, then
//! `RESULTS.md` rewritten from the records.
//!
//! The pilot of a family proceeds in rounds: a round trains every candidate
//! rate on one network (`PilotVariant`: widenings, initialisation); when it
//! is complete, `crate::claims::premise::repeat_pilot` decides whether it is
//! repeated on another network (the runs of every round stay on disk, in
//! `<work>/<row><suffix>/`), and `pilot.json` records every round. A call of
//! the pilot stage trains the missing rates of each family's current round
//! and goes on to the next round while it trained something; with shards,
//! the pilot stage is called again until every family is decided.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use serde::Deserialize;

use super::config::{run_dir, Family, NetGridConfig};
use super::ledger::{load_ledger, pilot_rules, record_pilot_run, PilotLedgerEntry, PilotRunPlan};
use super::plan::{select, Job, Stage};
use super::record::{
    load_checked, pilot_record_path, run_record_path, save_checked, stored_run_record,
    CheckpointSummary, ClaimSummary, Curves, NetRunConfig, NetRunRecord, NetTimings,
    PilotCandidate, PilotRecord, PilotRound, PremiseOutcome, SecondK, SCHEMA_VERSION,
};
use super::report::write_report;
use super::{NetGridReport, NetGridSettings};
use crate::claims::premise::{premise_met, repeat_pilot, LrChoice, PilotOutcome, PilotVariant};
use crate::memory::process_cpu_seconds;
use crate::progress::{Progress, Silent, StageGuard};
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
    arch_of_variant(f, PilotVariant::default())
}

/// The architecture of a family on a pilot variant (widened).
pub fn arch_of_variant(f: &Family, v: PilotVariant) -> Arch {
    let a = f.arch_widened(v.widen);
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

/// One planned training run: a row (family at K) on a pilot variant.
#[derive(Debug, Clone, Copy)]
pub struct Planned<'a> {
    /// The family.
    pub family: &'a Family,
    /// Classes K.
    pub classes: usize,
    /// The network.
    pub variant: PilotVariant,
    /// Learning rate.
    pub lr: f64,
    /// Seed.
    pub seed: u64,
}

/// The run directory of a planned run: `<work>/<row><suffix>/lr-<lr>/seed-<s>`.
pub fn planned_dir(work: &Path, config: &NetGridConfig, fi: usize, p: &Planned) -> PathBuf {
    let row = format!("{}{}", config.row_id(fi, p.classes), p.variant.suffix());
    run_dir(work, &row, p.lr, p.seed)
}

/// The `superlinear train` settings of a planned run at the pilot's K on
/// the configured network.
pub fn train_settings(
    config: &NetGridConfig,
    f: &Family,
    lr: f64,
    seed: u64,
    data_root: Option<&Path>,
    out_dir: Option<PathBuf>,
) -> RunTrainSettings {
    planned_settings(
        config,
        &Planned {
            family: f,
            classes: config.pilot_classes(),
            variant: PilotVariant::default(),
            lr,
            seed,
        },
        data_root,
        out_dir,
    )
}

/// The `superlinear train` settings of a planned run (the family's
/// `data_dir` joined to the data root).
pub fn planned_settings(
    config: &NetGridConfig,
    p: &Planned,
    data_root: Option<&Path>,
    out_dir: Option<PathBuf>,
) -> RunTrainSettings {
    let f = p.family;
    let root = match &f.data_dir {
        None => data_root.map(Path::to_path_buf),
        Some(d) => crate::data::data_root(data_root).ok().map(|r| r.join(d)),
    };
    RunTrainSettings {
        data: DataSettings {
            dataset: f.dataset,
            root,
            classes: p.classes,
            per_class: config.per_class(f),
            normalize: true,
        },
        model: f.model,
        arch: Some(arch_of_variant(f, p.variant)),
        train: TrainSettings {
            loss: f.loss,
            lr: p.lr,
            batch_size: f.batch,
            epochs: config.epochs(f),
            seed: p.seed,
            checkpoint_every: config.checkpoint_every(f),
            device: TrainDevice::Cpu,
            out_dir,
            init: p.variant.init,
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
    #[serde(default)]
    diverged: Option<usize>,
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
        diverged: r.diverged,
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
        a.init,
        a.device,
    ) != (
        b.loss,
        b.lr,
        b.batch_size,
        b.epochs,
        b.seed,
        b.checkpoint_every,
        b.init,
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

/// The planned run `p` of family `fi`: reused, or trained into a temporary
/// sibling directory and renamed (a directory that exists but does not
/// match the plan is an error: it is never overwritten).
fn ensure_trained(s: &NetGridSettings, fi: usize, p: &Planned) -> Result<Trained> {
    let dir = planned_dir(&s.work, &s.config, fi, p);
    let planned = planned_settings(&s.config, p, s.data_root.as_deref(), None);
    let classes = p.classes;
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
    // A run is one step of the stage: its own progress stays silent.
    let report = run_train(&ts, &Silent)?;
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

/// A pilot run of family `fi` ([`ensure_trained`]), its curves then written
/// to the family's ledger before the job reports it (a ledger that cannot
/// be written fails the job: the run would not survive its machine).
fn ensure_pilot_trained(s: &NetGridSettings, fi: usize, p: &Planned) -> Result<Trained> {
    let t = ensure_trained(s, fi, p)?;
    let run = match &t {
        Trained::Now(r) | Trained::Reused(r) => r,
    };
    let f = &s.config.family[fi];
    record_pilot_run(
        &s.out,
        &f.id(),
        PilotLedgerEntry {
            plan: PilotRunPlan::of(&s.config, f, p.variant, p.lr),
            curves: curves(run),
            diverged: run.diverged,
            seconds: run.seconds,
        },
    )?;
    Ok(t)
}

fn curves(run: &TrainReport) -> Curves {
    Curves {
        accuracy: run.epochs.iter().map(|e| e.accuracy).collect(),
        loss: run.epochs.iter().map(|e| e.loss).collect(),
    }
}

/// Where a family's pilot stands.
enum PilotState {
    /// Every round complete: the record of the pilot.
    Decided(PilotRecord),
    /// The round on `variant` lacks the rates in `missing`.
    Pending {
        /// The network of the current round.
        variant: PilotVariant,
        /// The rates not trained yet, with the reason.
        missing: Vec<(f64, String)>,
    },
}

/// Walks the pilot rounds of family `fi` over the runs on disk and the
/// family's ledger (read only: the pilot job writes the ledger).
fn pilot_state(s: &NetGridSettings, fi: usize) -> PilotState {
    let c = &s.config;
    let f = &c.family[fi];
    let seed = c.pilot_seed();
    let rules = pilot_rules(c, f);
    let ledger = load_ledger(&s.out, &f.id());
    let mut variant = PilotVariant::default();
    let mut rounds: Vec<PilotRound> = Vec::new();
    loop {
        let mut cands = Vec::new();
        let mut missing = Vec::new();
        for &lr in &c.lr_candidates {
            let p = Planned {
                family: f,
                classes: c.pilot_classes(),
                variant,
                lr,
                seed,
            };
            let dir = planned_dir(&s.work, c, fi, &p);
            let planned = planned_settings(c, &p, None, None);
            let plan = PilotRunPlan::of(c, f, variant, lr);
            match reusable_run(&dir, &planned, p.classes) {
                Ok(run) => cands.push(PilotCandidate::from_curves(
                    lr,
                    &curves(&run),
                    f.loss,
                    &c.premise,
                )),
                Err(why) => match ledger.as_ref().ok().and_then(|l| l.find(&plan)) {
                    Some(e) => cands.push(e.candidate(c)),
                    None => missing.push((lr, format!("{}: {why}", dir.display()))),
                },
            }
        }
        if !missing.is_empty() {
            return PilotState::Pending { variant, missing };
        }
        let outcomes: Vec<PilotOutcome> = cands.iter().map(PilotCandidate::outcome).collect();
        match repeat_pilot(&outcomes, variant, &rules) {
            Some((next, why)) => {
                rounds.push(PilotRound {
                    variant,
                    candidates: cands,
                    repeated_because: why,
                    next,
                });
                variant = next;
            }
            None => {
                return PilotState::Decided(
                    PilotRecord::decide(&f.id(), seed, c.premise, cands)
                        .after_rounds(rounds, variant),
                )
            }
        }
    }
}

/// The pilot record of family `fi` when every round is complete; written
/// to `<out>/<family>/pilot.json`. `Err`: why not.
fn pilot_choice(s: &NetGridSettings, fi: usize) -> Result<PilotRecord, String> {
    let rec = match pilot_state(s, fi) {
        PilotState::Decided(r) => r,
        PilotState::Pending { variant, missing } => {
            let (lr, why) = &missing[0];
            return Err(format!(
                "pilot round on {} not complete: {} rate(s) missing, first lr {lr} ({why})",
                if variant.is_default() {
                    "the configured network".to_string()
                } else {
                    format!("network{}", variant.suffix())
                },
                missing.len()
            ));
        }
    };
    let f = &s.config.family[fi];
    let path = pilot_record_path(&s.out, &f.id());
    let stored: Option<PilotRecord> = load_checked(&path).ok().flatten();
    if stored.as_ref() != Some(&rec) {
        save_checked(&path, &rec).map_err(|e| e.to_string())?;
    }
    Ok(rec)
}

/// The net-claims claims a config analyses.
fn analysed_claims(c: &NetGridConfig) -> Result<Vec<NetClaim>> {
    match &c.claims {
        None => Ok(NetClaim::ALL.to_vec()),
        Some(list) => list.iter().map(|x| NetClaim::parse(x)).collect(),
    }
}

/// Analyses one chosen-rate run of family `fi` at K = `classes` into its record.
fn analyse(
    s: &NetGridSettings,
    fi: usize,
    classes: usize,
    choice: &LrChoice,
    variant: PilotVariant,
    seed: u64,
    threads: i32,
) -> Result<NetRunRecord> {
    let c = &s.config;
    let f = &c.family[fi];
    let p = Planned {
        family: f,
        classes,
        variant,
        lr: choice.lr,
        seed,
    };
    let dir = planned_dir(&s.work, c, fi, &p);
    let planned = planned_settings(c, &p, s.data_root.as_deref(), None);
    let run = reusable_run(&dir, &planned, classes).map_err(|why| ReproduceError::Checkpoint {
        path: dir.display().to_string(),
        reason: why,
    })?;
    let t0 = Instant::now();
    let cpu0 = process_cpu_seconds();
    let data = load_data(&planned.data)?;
    let run_config = NetRunConfig::for_row(c, f, classes, choice, variant);
    let settings = NetClaimsSettings {
        run_dir: dir.clone(),
        claims: analysed_claims(c)?,
        samples: run_config.samples,
        top_k: run_config.top_k,
        second_top_k: run_config.second_top_k,
        seed,
        stride: 1,
        ..NetClaimsSettings::default()
    };
    // A run whose analysis fails (for example a network that died during
    // training: every activity of the layer zero) is recorded with the
    // reason and every claim unchecked, not dropped from the grid.
    let report = net_claims_on(&settings, &run, &data, &Silent);
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
                    second_k: k.gamma_second_k.as_ref().map(|g| SecondK {
                        k: g.k,
                        gamma: fit(&g.gamma),
                        gamma_awd: fit(&g.gamma_awd),
                    }),
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
            settings
                .claims
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
        config: run_config,
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

/// Runs `jobs` with `s.jobs` workers as the progress stage `name`, a step
/// per job (no stage without jobs); stops at the first error.
fn run_jobs(
    s: &NetGridSettings,
    (name, progress): (&str, &dyn Progress),
    jobs: Vec<Job>,
    tally: &Mutex<Tally>,
    work: &(dyn Fn(Job) -> Result<String> + Sync),
) {
    let total = jobs.len();
    if total == 0 {
        return;
    }
    let stage = StageGuard::begin(progress, name, total as u64);
    let queue = Mutex::new(jobs.into_iter());
    std::thread::scope(|scope| {
        for _ in 0..s.jobs.min(total.max(1)) {
            scope.spawn(|| loop {
                if lock(tally).error.is_some() {
                    return;
                }
                let Some(job) = lock(&queue).next() else {
                    return;
                };
                let t = Instant::now();
                let r = work(job);
                let mut tl = lock(tally);
                match r {
                    Ok(msg) => stage.step(&format!(
                        "{}: {msg} ({:.0} s)",
                        job.label(&s.config),
                        t.elapsed().as_secs_f64()
                    )),
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

/// Runs the selected stages of the plan and writes the records and
/// `RESULTS.md`; progress as in the module doc of [`super`].
pub fn net_grid(s: &NetGridSettings, progress: &dyn Progress) -> Result<NetGridReport> {
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
        let jobs: Vec<Job> = select(c, stage, s.shard)
            .into_iter()
            .filter(|j| s.runs_family(j.family()))
            .collect();
        if stage == Stage::Pilot {
            // Round after round while this call trains something: a pilot
            // job trains its rate on the family's current round.
            // A decided family's run is counted (reused) on the first pass only.
            // A later pass runs only the jobs of a repeated round (a stage of
            // its own); none left ends the pilot.
            let mut first = true;
            loop {
                let pass: Vec<Job> = if first {
                    jobs.clone()
                } else {
                    jobs.iter()
                        .copied()
                        .filter(|job| match *job {
                            Job::Pilot { family, lr } => matches!(
                                pilot_state(s, family),
                                PilotState::Pending { missing, .. }
                                    if missing.iter().any(|(m, _)| *m == lr)
                            ),
                            _ => false,
                        })
                        .collect()
                };
                if pass.is_empty() {
                    break;
                }
                let before = lock(&tally).trained;
                run_jobs(s, ("pilot", progress), pass, &tally, &|job| match job {
                    Job::Pilot { family, lr } => match pilot_state(s, family) {
                        PilotState::Decided(_) if !first => Ok("pilot decided".into()),
                        PilotState::Decided(rec) => {
                            let p = Planned {
                                family: &c.family[family],
                                classes: c.pilot_classes(),
                                variant: rec.variant,
                                lr,
                                seed: c.pilot_seed(),
                            };
                            if planned_dir(&s.work, c, family, &p).exists() {
                                ensure_pilot_trained(s, family, &p).map(train_msg)
                            } else {
                                Ok("pilot decided from its ledger".into())
                            }
                        }
                        PilotState::Pending { variant, missing } => {
                            if !missing.iter().any(|(m, _)| *m == lr) {
                                return Ok("trained; round waits for other rates".into());
                            }
                            ensure_pilot_trained(
                                s,
                                family,
                                &Planned {
                                    family: &c.family[family],
                                    classes: c.pilot_classes(),
                                    variant,
                                    lr,
                                    seed: c.pilot_seed(),
                                },
                            )
                            .map(train_msg)
                        }
                    },
                    _ => Ok("not a pilot job".into()),
                });
                if let Some(e) = lock(&tally).error.take() {
                    return Err(e);
                }
                if lock(&tally).trained == before {
                    break;
                }
                first = false;
            }
            // pilot.json of every family whose pilot is decided.
            for fi in (0..c.family.len()).filter(|&fi| s.runs_family(fi)) {
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
        // The choice of every family (pilot.json written where the pilot is decided).
        let choices: Vec<Result<PilotRecord, String>> =
            (0..c.family.len()).map(|fi| pilot_choice(s, fi)).collect();
        let chosen = |fi: usize| -> std::result::Result<(LrChoice, PilotVariant), String> {
            match &choices[fi] {
                Ok(p) => p.choice.clone().map(|ch| (ch, p.variant)).ok_or_else(|| {
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
        let name = if stage == Stage::Train {
            "train"
        } else {
            "analyze"
        };
        run_jobs(s, (name, progress), ready, &tally, &|job| {
            let (fi, classes, seed) = match job {
                Job::Train {
                    family,
                    classes,
                    seed,
                }
                | Job::Analyze {
                    family,
                    classes,
                    seed,
                } => (family, classes, seed),
                Job::Pilot { .. } => return Ok("pilot job in a later stage".into()),
            };
            let f = &c.family[fi];
            let (choice, variant) =
                chosen(fi).map_err(|why| ReproduceError::setting("lr", "?", why))?;
            let planned_run = Planned {
                family: f,
                classes,
                variant,
                lr: choice.lr,
                seed,
            };
            match job {
                Job::Train { .. } => {
                    // A run whose analysis is stored is not trained again.
                    let path = run_record_path(&s.out, &c.row_id(fi, classes), seed);
                    let planned = NetRunConfig::for_row(c, f, classes, &choice, variant);
                    if !s.reanalyze
                        && !planned_dir(&s.work, c, fi, &planned_run).exists()
                        && stored_run_record(&path, &planned).is_some()
                    {
                        return Ok("not trained: its analysis record is stored".into());
                    }
                    ensure_trained(s, fi, &planned_run).map(train_msg)
                }
                _ => {
                    let path = run_record_path(&s.out, &c.row_id(fi, classes), seed);
                    let planned = NetRunConfig::for_row(c, f, classes, &choice, variant);
                    if !s.reanalyze {
                        if let Some(rec) = stored_run_record(&path, &planned) {
                            lock(&tally).reused_records += 1;
                            return Ok(format!(
                                "record reused ({})",
                                rec.premise.reason.as_deref().unwrap_or("premise met")
                            ));
                        }
                    }
                    let dir = planned_dir(&s.work, c, fi, &planned_run);
                    if !dir.join("run.json").is_file() {
                        lock(&tally).skipped.push(format!(
                            "{}: no training run in {}",
                            job.label(c),
                            dir.display()
                        ));
                        return Ok("skipped: not trained yet".into());
                    }
                    let rec = analyse(s, fi, classes, &choice, variant, seed, s.threads)?;
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
    let (markdown, lines, _) = write_report(c, &s.out, &s.command, progress)?;
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
