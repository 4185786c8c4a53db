//! The pilot ledger, `<out>/<family>/pilot-runs.json`: the training curves
//! of every pilot run of a family, each under the plan it was trained from
//! ([`PilotRunPlan`]: data, network, loss, rate, seed, epochs, batch). The
//! pilot's decision needs only these curves (the premise and the rate rule
//! of `crate::claims::premise` read the final accuracy and loss and the
//! accuracy plateau), so a pilot resumes from the committed ledger on a
//! machine where its training directories are gone, and a finished round is
//! never trained twice. A run on disk and a ledger entry of the same plan
//! are the same run; the ledger entry is written when the run is first seen.
//! An entry whose plan differs from the config's (another per-class count,
//! epochs, widths, ...) is ignored, never matched. Written with the checksum
//! of [`super::record::save_checked`].

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::config::{ArchNumbers, Family, NetGridConfig};
use super::record::{load_checked, nan_null, save_checked, Curves, PilotCandidate, SCHEMA_VERSION};
use crate::claims::premise::{PilotRules, PilotVariant};
use crate::loss::Loss;
use crate::reproduce::ReproduceError;
use crate::spec::Dataset;

/// What a pilot run was trained from: two runs with equal plans are the
/// same run (training is deterministic on the CPU).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PilotRunPlan {
    /// Data set.
    pub dataset: Dataset,
    /// The family's data folder under the data root (None: the data set's own).
    pub data_dir: Option<String>,
    /// Classes K.
    pub classes: usize,
    /// Training images per class.
    pub per_class: usize,
    /// Loss.
    pub loss: Loss,
    /// The network (widened where the variant says so).
    pub arch: ArchNumbers,
    /// The pilot round's network (widenings, initialisation).
    pub variant: PilotVariant,
    /// Learning rate.
    pub lr: f64,
    /// Seed.
    pub seed: u64,
    /// Epochs.
    pub epochs: usize,
    /// Mini-batch size.
    pub batch: usize,
}

impl PilotRunPlan {
    /// The plan of family `f`'s pilot run at `lr` on `variant` under `config`.
    pub fn of(config: &NetGridConfig, f: &Family, variant: PilotVariant, lr: f64) -> Self {
        PilotRunPlan {
            dataset: f.dataset,
            data_dir: f.data_dir.clone(),
            classes: config.pilot_classes(),
            per_class: config.per_class(f),
            loss: f.loss,
            arch: f.arch_widened(variant.widen),
            variant,
            lr,
            seed: config.pilot_seed(),
            epochs: config.epochs(f),
            batch: f.batch,
        }
    }
}

/// One trained pilot run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PilotLedgerEntry {
    /// What it was trained from.
    pub plan: PilotRunPlan,
    /// Its training curves (index 0: initialisation).
    pub curves: Curves,
    /// The first epoch with a non-finite loss, where training stopped.
    #[serde(default)]
    pub diverged: Option<usize>,
    /// Wall time of the training, seconds (single-threaded: its CPU time).
    #[serde(with = "nan_null")]
    pub seconds: f64,
}

/// Every pilot run of one family.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PilotLedger {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Family id.
    pub family: String,
    /// The runs, in the order they were first seen.
    pub runs: Vec<PilotLedgerEntry>,
}

impl PilotLedger {
    /// The entry of `plan`, if recorded.
    pub fn find(&self, plan: &PilotRunPlan) -> Option<&PilotLedgerEntry> {
        self.runs.iter().find(|e| e.plan == *plan)
    }
}

/// `<out>/<family>/pilot-runs.json`.
pub fn pilot_ledger_path(out: &Path, family: &str) -> PathBuf {
    out.join(family).join("pilot-runs.json")
}

/// The ledger of `family` under `out`: empty when missing, `Err` with the
/// reason when it is torn or does not parse (it is then neither used nor
/// overwritten).
pub fn load_ledger(out: &Path, family: &str) -> Result<PilotLedger, ReproduceError> {
    let path = pilot_ledger_path(out, family);
    let ledger = load_checked::<PilotLedger>(&path)?.unwrap_or_else(|| PilotLedger {
        schema_version: SCHEMA_VERSION,
        family: family.to_string(),
        runs: Vec::new(),
    });
    if ledger.family != family {
        return Err(ReproduceError::io(
            &path,
            format!("holds family {:?}, not {family:?}", ledger.family),
        ));
    }
    Ok(ledger)
}

/// Serialises the read-modify-write of ledgers between the grid's workers.
static WRITE: Mutex<()> = Mutex::new(());

/// Adds `entry` to `family`'s ledger under `out` unless its plan is there.
pub fn record_pilot_run(
    out: &Path,
    family: &str,
    entry: PilotLedgerEntry,
) -> Result<(), ReproduceError> {
    let _guard = WRITE.lock().unwrap_or_else(|p| p.into_inner());
    let mut ledger = load_ledger(out, family)?;
    if ledger.find(&entry.plan).is_some() {
        return Ok(());
    }
    ledger.runs.push(entry);
    save_checked(&pilot_ledger_path(out, family), &ledger)
}

/// The ledgers of `config`'s families under `out`, in family order (a
/// family without one is absent), and the files that could not be read
/// (path: reason).
pub fn load_ledgers(out: &Path, config: &NetGridConfig) -> (Vec<PilotLedger>, Vec<String>) {
    let (mut ledgers, mut skipped) = (Vec::new(), Vec::new());
    for id in config.family_ids() {
        if pilot_ledger_path(out, &id).is_file() {
            match load_ledger(out, &id) {
                Ok(l) => ledgers.push(l),
                Err(e) => skipped.push(e.to_string()),
            }
        }
    }
    (ledgers, skipped)
}

/// The repetition rules of family `f` under `config`: widenings up to
/// `widen_max`, He-uniform initialisation for a softmax-MSE CNN at chance.
pub fn pilot_rules(config: &NetGridConfig, f: &Family) -> PilotRules {
    PilotRules {
        widen_max: config.widen_max,
        he_init_applies: config.he_init_chance_margin.is_some()
            && f.model == crate::spec::Model::Cnn
            && f.loss == Loss::SoftmaxMse,
        chance_margin: config.he_init_chance_margin.unwrap_or(0.0),
        classes: config.pilot_classes(),
    }
}

impl PilotLedgerEntry {
    /// The run as a pilot candidate under the premise of `config`.
    pub fn candidate(&self, config: &NetGridConfig) -> PilotCandidate {
        PilotCandidate::from_curves(self.plan.lr, &self.curves, self.plan.loss, &config.premise)
    }
}
