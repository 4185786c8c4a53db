//! The records of the net-claims grid: one JSON file per analysed run,
//! `<out>/<row>/seed-<s>.json` (the row: the family id, or `<family>-k<K>`
//! when the grid lists several K) ([`NetRunRecord`]: resolved config,
//! provenance, training curves, premise outcome, the full net-claims report
//! of C6, C7, C13, C15 and its per-checkpoint gamma and gamma_awd, timings),
//! and one per family, `<out>/<family>/pilot.json` ([`PilotRecord`]: every
//! candidate rate's seed-0 outcome and the rate chosen by the rule of
//! `crate::claims::premise`; when the pilot was repeated on a widened or
//! re-initialised network, every earlier round with the accuracies that
//! caused the repetition, and the network of the deciding round). Written crash-safely with the checksum of
//! [`crate::reproduce::record`] (a record whose checksum fails is redone).
//! Non-finite numbers are stored as `null` and read back as NaN. A figure
//! that could not be computed is stored as `{"error": "<message>"}`
//! (`crate::error::or_error`); records of schema 1 held Rust's `{"Ok": ..}`
//! / `{"Err": ..}` tags instead and read the same.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::config::{ArchNumbers, Family, NetGridConfig};
use crate::claims::premise::{premise_met, LrChoice, PilotOutcome, PilotVariant, Premise};
use crate::claims::Status;
use crate::loss::Loss;
use crate::progress::{Progress, StageGuard};
use crate::reproduce::record::{checked_body, with_checksum, Checksum, Provenance};
use crate::reproduce::{write_atomic, ReproduceError};
use crate::spec::{Dataset, Model};

/// Version of the record layout: 2 stores a failed figure as
/// `{"error": ..}` and a computed one bare; 1 wrapped them in `Ok`/`Err`
/// tags (still read: the tags are stripped on reading).
pub const SCHEMA_VERSION: u32 = 2;

/// The oldest record layout still read.
pub const OLDEST_SCHEMA_VERSION: u32 = 1;

/// Reads a stored net-claims report with the tags of schema 1 stripped.
fn untagged_value<'de, D: serde::Deserializer<'de>>(d: D) -> Result<serde_json::Value, D::Error> {
    let mut v = serde_json::Value::deserialize(d)?;
    crate::error::or_error::strip_legacy_tags(&mut v);
    Ok(v)
}

pub use crate::error::nan_null::{self, vec as nan_null_vec};

/// The resolved config of one analysed run (a stored record with another
/// config is redone).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetRunConfig {
    /// Family id.
    pub family: String,
    /// Data set.
    pub dataset: Dataset,
    /// Model.
    pub model: Model,
    /// Loss.
    pub loss: Loss,
    /// Classes K.
    pub classes: usize,
    /// Learning rate.
    pub lr: f64,
    /// How the rate was chosen (the pilot rule's reason).
    pub lr_rule: String,
    /// Training images per class.
    pub per_class: usize,
    /// Epochs.
    pub epochs: usize,
    /// Mini-batch size.
    pub batch: usize,
    /// A checkpoint every this many epochs.
    pub checkpoint_every: usize,
    /// Architecture numbers.
    pub arch: ArchNumbers,
    /// Analysed samples.
    pub samples: usize,
    /// Top-k directions.
    pub top_k: usize,
    /// Epochs of the analysed checkpoints.
    pub checkpoint_epochs: Vec<usize>,
    /// Premise thresholds.
    pub premise: Premise,
    /// The second top-k column (Table 2's absolute k; None: one column).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub second_top_k: Option<usize>,
    /// The network the pilot settled on (omitted: as configured).
    #[serde(default, skip_serializing_if = "PilotVariant::is_default")]
    pub variant: PilotVariant,
    /// The analysed claims (omitted: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<Vec<String>>,
}

impl NetRunConfig {
    /// The config of `family` at `lr` under `config`, at the pilot's K on
    /// the configured network.
    pub fn new(config: &NetGridConfig, family: &Family, choice: &LrChoice) -> Self {
        Self::for_row(
            config,
            family,
            config.pilot_classes(),
            choice,
            PilotVariant::default(),
        )
    }

    /// The config of `family` at K = `classes` on the pilot's `variant`.
    pub fn for_row(
        config: &NetGridConfig,
        family: &Family,
        classes: usize,
        choice: &LrChoice,
        variant: PilotVariant,
    ) -> Self {
        let (top_k, second_top_k) = config.top_ks(family, classes).unwrap_or((0, None));
        NetRunConfig {
            family: family.id(),
            dataset: family.dataset,
            model: family.model,
            loss: family.loss,
            classes,
            lr: choice.lr,
            lr_rule: choice.reason.clone(),
            per_class: config.per_class(family),
            epochs: config.epochs(family),
            batch: family.batch,
            checkpoint_every: config.checkpoint_every(family),
            arch: family.arch_widened(variant.widen),
            samples: config.samples(family, classes),
            top_k,
            checkpoint_epochs: config.checkpoint_epochs_of(family),
            premise: config.premise,
            second_top_k,
            variant,
            claims: config.claims.clone(),
        }
    }
}

/// Per-epoch training curves (index 0: initialisation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Curves {
    /// Training accuracy.
    #[serde(with = "nan_null_vec")]
    pub accuracy: Vec<f64>,
    /// Mean training loss.
    #[serde(with = "nan_null_vec")]
    pub loss: Vec<f64>,
}

/// The premise outcome of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PremiseOutcome {
    /// Met or not.
    pub met: bool,
    /// The measured reason when not met.
    #[serde(default)]
    pub reason: Option<String>,
}

impl PremiseOutcome {
    /// From the rule's result.
    pub fn of(r: &Result<(), String>) -> Self {
        PremiseOutcome {
            met: r.is_ok(),
            reason: r.as_ref().err().cloned(),
        }
    }

    /// Back to the rule's result.
    pub fn result(&self) -> Result<(), String> {
        if self.met {
            Ok(())
        } else {
            Err(self
                .reason
                .clone()
                .unwrap_or_else(|| "premise not met".into()))
        }
    }
}

/// The figures of one analysed checkpoint quoted by the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointSummary {
    /// Epoch.
    pub epoch: usize,
    /// Training accuracy at that epoch.
    pub train_accuracy: Option<f64>,
    /// Training loss at that epoch.
    pub train_loss: Option<f64>,
    /// gamma (Eq. 2), when fitted.
    pub gamma: Option<f64>,
    /// gamma_awd (Eq. 15), when fitted.
    pub gamma_awd: Option<f64>,
    /// gamma and gamma_awd at the second top-k (omitted: one column).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub second_k: Option<SecondK>,
}

/// gamma and gamma_awd of a checkpoint at the second top-k.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecondK {
    /// k.
    pub k: usize,
    /// gamma, when fitted.
    pub gamma: Option<f64>,
    /// gamma_awd, when fitted.
    pub gamma_awd: Option<f64>,
}

/// One claim's outcome on the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimSummary {
    /// Claim id.
    pub claim: String,
    /// Status.
    pub status: Status,
    /// Key figure text.
    pub figure: String,
    /// Named figures (non-finite: null).
    pub figures: BTreeMap<String, Option<f64>>,
    /// Detail lines.
    pub details: Vec<String>,
}

/// Seconds spent on a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetTimings {
    /// Training wall-clock seconds (from `run.json`).
    pub train_s: Option<f64>,
    /// Analysis wall-clock seconds.
    pub analyze_s: f64,
    /// Process CPU seconds during the analysis (equals the run's own when one job runs).
    pub analyze_cpu_s: Option<f64>,
}

/// The record of one analysed run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetRunRecord {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Resolved config.
    pub config: NetRunConfig,
    /// Provenance.
    pub provenance: Provenance,
    /// The run directory analysed.
    pub run_dir: PathBuf,
    /// Training curves.
    pub curves: Curves,
    /// Premise.
    pub premise: PremiseOutcome,
    /// Per analysed checkpoint, in epoch order.
    pub checkpoints: Vec<CheckpointSummary>,
    /// Per claim, in order C6, C7, C13, C15.
    pub claims: Vec<ClaimSummary>,
    /// The whole net-claims report as serialised by `net-claims --json`.
    #[serde(deserialize_with = "untagged_value")]
    pub net_claims: serde_json::Value,
    /// Timings.
    pub timings: NetTimings,
}

impl NetRunRecord {
    /// The seed.
    pub fn seed(&self) -> u64 {
        self.provenance.seed
    }

    /// The last analysed checkpoint.
    pub fn last_checkpoint(&self) -> Option<&CheckpointSummary> {
        self.checkpoints.last()
    }

    /// A claim's outcome.
    pub fn claim(&self, id: &str) -> Option<&ClaimSummary> {
        self.claims.iter().find(|c| c.claim == id)
    }

    /// The last checkpoint's 95% bootstrap interval of gamma (over samples,
    /// basis fixed), read from the stored net-claims report.
    pub fn gamma_ci(&self) -> Option<(f64, f64)> {
        let u = self.net_claims["checkpoints"].as_array()?.last()?;
        json_interval(&u["gamma_uncertainty"]["bootstrap"]["gamma_ci"])
    }

    /// The last checkpoint's 95% bootstrap interval of gamma_awd (Eq. 15,
    /// C_iso / sigma^2; over samples, basis fixed), read from the stored
    /// net-claims report.
    pub fn gamma_awd_ci(&self) -> Option<(f64, f64)> {
        let u = self.net_claims["checkpoints"].as_array()?.last()?;
        json_interval(&u["gamma_uncertainty"]["bootstrap"]["gamma_awd_ci"])
    }

    /// What each gamma-based verdict of this run (C6, C7, C13, C15) rests
    /// on, by claim, as text: the fitted exponents with their 95% bootstrap
    /// interval over samples where the record holds one, and their
    /// k-sensitivity where the record holds the per-direction values. A
    /// figure the record cannot bound is named as such, never left out.
    pub fn claim_uncertainty(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let last = self.net_claims["checkpoints"]
            .as_array()
            .and_then(|c| c.last());
        let Some(last) = last else {
            return out;
        };
        let ci_text = |c: Option<(f64, f64)>| {
            c.map_or("no interval".into(), |(lo, hi)| {
                format!("[{lo:.3}, {hi:.3}]")
            })
        };
        let fitted = |v: &serde_json::Value| v["gamma"].as_f64().filter(|g| g.is_finite());
        let (ci, curve) = self.uncertainty_cells();
        if ci != "n/a" || curve != "n/a" {
            out.insert("C15".to_string(), format!("{ci}; {curve}"));
        }
        let k = last["gamma_uncertainty"]["primary_k"].as_u64();
        let at_k = k.map_or(String::new(), |k| format!(" (k {k})"));
        let pairs = &last["pairs"];
        let gamma_eq2 = format!("gamma (Eq. 2) on those directions {ci}, gamma(k) {curve}");
        let pair_ci = |name: &str| json_interval(&pairs["bootstrap"][name]);
        let ends = |name: &str| json_curve_ends(&pairs[name]);
        let boot = pair_ci("gamma_term1_ci").is_some();
        let term1_k = ends("gamma_term1_curve").unwrap_or_else(|| "n/a".into());
        if let (Some(gi), Some(gd)) = (fitted(&pairs["gamma_term1"]), fitted(&pairs["gamma_delta"]))
        {
            let text = if boot {
                format!(
                    "gamma_I {gi:.3} {}, gamma_Dg {gd:.3} {}, gamma_I - gamma_Dg {}{at_k}; gamma_I(k) {term1_k}, gamma_Dg(k) {}",
                    ci_text(pair_ci("gamma_term1_ci")),
                    ci_text(pair_ci("gamma_delta_ci")),
                    ci_text(pair_ci("term1_minus_delta_ci")),
                    ends("gamma_delta_curve").unwrap_or_else(|| "n/a".into())
                )
            } else {
                format!(
                    "gamma_I {gi:.3} and gamma_Dg {gd:.3}{at_k}, fits only (no interval); {gamma_eq2}"
                )
            };
            out.insert("C6".to_string(), text);
        }
        if let (Some(gi), Some(gs)) = (fitted(&pairs["gamma_term1"]), fitted(&pairs["gamma_iso"])) {
            let text = if boot {
                format!(
                    "gamma_iso {gs:.3} {}, gamma_I {gi:.3} {}, gamma_I - gamma_iso {}{at_k}; gamma_I(k) {term1_k}",
                    ci_text(pair_ci("gamma_iso_ci")),
                    ci_text(pair_ci("gamma_term1_ci")),
                    ci_text(pair_ci("term1_minus_iso_ci")),
                )
            } else {
                format!(
                    "gamma_iso {gs:.3} {}{at_k}, gamma_I {gi:.3} fit only (no interval); {gamma_eq2}",
                    ci_text(self.gamma_awd_ci())
                )
            };
            out.insert("C7".to_string(), text);
        }
        let sup = &self.net_claims["suppression"];
        if let (Some(before), Some(after)) = (
            fitted(&sup["before"]),
            fitted(&sup["homogenized"]["gamma_awd"]),
        ) {
            let diag = |name: &str| -> Vec<f64> {
                sup["homogenized"][name]
                    .as_array()
                    .map(|a| a.iter().map(|x| x.as_f64().unwrap_or(f64::NAN)).collect())
                    .unwrap_or_default()
            };
            let (h, s2) = (diag("h_diag"), diag("second_diag"));
            let d = self.net_claims["layer_shape"].as_array().map_or(0, |a| {
                a.iter().filter_map(|x| x.as_u64()).product::<u64>() as usize
            });
            let curve = homogenised_curve(&h, &s2, d);
            let boot = &sup["homogenized_bootstrap"];
            let text = match (
                json_interval(&boot["gamma_awd_before_ci"]),
                json_interval(&boot["gamma_awd_after_ci"]),
                json_interval(&boot["shift_ci"]),
            ) {
                (Some(b), Some(a), Some(shift)) => format!(
                    "gamma_awd {before:.3} {} -> {after:.3} {} homogenised, shift {:+.3} {}{at_k}; gamma_awd(k) after {curve}",
                    ci_text(Some(b)),
                    ci_text(Some(a)),
                    after - before,
                    ci_text(Some(shift)),
                ),
                _ => format!(
                    "gamma_awd {before:.3} {}{at_k} -> {after:.3} homogenised (no interval: its per-sample spectra are not recorded), gamma_awd(k) after {curve}",
                    ci_text(self.gamma_awd_ci())
                ),
            };
            out.insert("C13".to_string(), text);
        }
        out
    }

    /// The last checkpoint's bootstrap interval of gamma and its
    /// k-sensitivity (gamma at the smallest and the largest k of the gamma(k)
    /// curve), as text.
    pub fn uncertainty_cells(&self) -> (String, String) {
        let r = self;
        let u = r.net_claims["checkpoints"]
            .as_array()
            .and_then(|c| c.last())
            .map(|c| &c["gamma_uncertainty"]);
        let Some(u) = u else {
            return ("n/a".into(), "n/a".into());
        };
        let ci = match self.gamma_ci() {
            Some((lo, hi)) => format!("[{lo:.3}, {hi:.3}]"),
            None => "n/a".into(),
        };
        let curve = json_curve_ends(&u["curve"]).unwrap_or_else(|| "n/a".into());
        (ci, curve)
    }
}

/// A stored `[lo, hi]` interval, when both ends are finite numbers.
fn json_interval(c: &serde_json::Value) -> Option<(f64, f64)> {
    Some((c[0].as_f64()?, c[1].as_f64()?)).filter(|(lo, hi)| lo.is_finite() && hi.is_finite())
}

/// `g (k k0) to g (k k1)`: the ends of a stored gamma(k) curve.
fn json_curve_ends(curve: &serde_json::Value) -> Option<String> {
    let c = curve.as_array().filter(|c| !c.is_empty())?;
    let point = |p: &serde_json::Value| {
        Some(format!(
            "{:.3} (k {})",
            p["gamma"].as_f64()?,
            p["k"].as_u64()?
        ))
    };
    Some(format!("{} to {}", point(c.first()?)?, point(c.last()?)?))
}

/// gamma_awd(k) of the homogenised diagonals (`H_ii`, `S_ii` over H's
/// top-k directions in H's order), at the ends of the gamma(k) grid of
/// `crate::layer::uncertainty`, with the analysis' floor rule for a layer
/// of `d` weights.
fn homogenised_curve(h: &[f64], s2: &[f64], d: usize) -> String {
    use crate::layer::uncertainty::{gamma_curve, UncertaintySettings};
    if h.len() != s2.len() || h.len() < 3 {
        return "n/a".into();
    }
    let rule = crate::fit::FitRule::default_for(h.len(), d.max(h.len()));
    let curve = gamma_curve(h, s2, &rule, &UncertaintySettings::default());
    let point = |g: &crate::layer::GammaAtK| g.gamma.map(|x| format!("{x:.3} (k {})", g.k));
    match (curve.first().and_then(point), curve.last().and_then(point)) {
        (Some(a), Some(b)) => format!("{a} to {b}"),
        _ => "n/a".into(),
    }
}

/// One candidate rate of the pilot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PilotCandidate {
    /// Learning rate.
    pub lr: f64,
    /// Final training accuracy.
    #[serde(with = "nan_null")]
    pub accuracy: f64,
    /// Final training loss.
    #[serde(with = "nan_null")]
    pub loss: f64,
    /// Premise outcome.
    pub premise: PremiseOutcome,
}

impl PilotCandidate {
    /// The candidate at `lr` from its training curves: the final accuracy
    /// and loss, and the premise of `premise` for `loss` (the rule of
    /// `crate::claims::premise`).
    pub fn from_curves(lr: f64, cv: &Curves, loss: Loss, premise: &Premise) -> Self {
        PilotCandidate {
            lr,
            accuracy: cv.accuracy.last().copied().unwrap_or(f64::NAN),
            loss: cv.loss.last().copied().unwrap_or(f64::NAN),
            premise: PremiseOutcome::of(&premise_met(loss, &cv.accuracy, &cv.loss, premise)),
        }
    }

    /// What the repetition rule reads of it.
    pub fn outcome(&self) -> PilotOutcome {
        PilotOutcome {
            lr: self.lr,
            accuracy: self.accuracy,
            loss: self.loss,
            premise_met: self.premise.met,
        }
    }
}

/// The pilot of one family and the rate it chose.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PilotRecord {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Family id.
    pub family: String,
    /// Pilot seed.
    pub seed: u64,
    /// Premise thresholds.
    pub premise: Premise,
    /// Every candidate, in the config's order.
    pub candidates: Vec<PilotCandidate>,
    /// The chosen rate (None when no candidate could be chosen).
    pub choice: Option<LrChoice>,
    /// Why no rate was chosen.
    #[serde(default)]
    pub no_choice: Option<String>,
    /// Earlier rounds of a repeated pilot, in order (omitted: one round).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rounds: Vec<PilotRound>,
    /// The network of the deciding round (omitted: as configured).
    #[serde(default, skip_serializing_if = "PilotVariant::is_default")]
    pub variant: PilotVariant,
}

/// One earlier round of a repeated pilot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PilotRound {
    /// The network of the round.
    pub variant: PilotVariant,
    /// Every candidate's outcome.
    pub candidates: Vec<PilotCandidate>,
    /// Why the pilot was repeated (the rule, with the pilot accuracies).
    pub repeated_because: String,
    /// The network of the next round.
    pub next: PilotVariant,
}

/// `<out>/<family>/seed-<s>.json`.
pub fn run_record_path(out: &Path, family: &str, seed: u64) -> PathBuf {
    out.join(family).join(format!("seed-{seed}.json"))
}

/// `<out>/<family>/pilot.json`.
pub fn pilot_record_path(out: &Path, family: &str) -> PathBuf {
    out.join(family).join("pilot.json")
}

/// Writes `value` as pretty JSON ending in a checksum, atomically.
pub fn save_checked<T: Serialize>(path: &Path, value: &T) -> Result<(), ReproduceError> {
    let body = serde_json::to_string_pretty(value).map_err(|e| ReproduceError::io(path, e))?;
    write_atomic(path, &with_checksum(&body))
}

/// Reads a record written by [`save_checked`]: `Ok(None)` when the file is
/// missing, `Err` with the reason when its checksum fails or it does not parse.
pub fn load_checked<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, ReproduceError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(ReproduceError::io(path, e)),
    };
    let body = match checked_body(&text) {
        Checksum::Valid(b) => b,
        Checksum::Legacy(_) => return Err(ReproduceError::io(path, "no checksum field")),
        Checksum::Mismatch => return Err(ReproduceError::io(path, "checksum does not match")),
    };
    serde_json::from_str(&body)
        .map(Some)
        .map_err(|e| ReproduceError::io(path, e))
}

/// A stored run record with exactly `config` (None: missing, torn, or
/// another config: to be redone).
pub fn stored_run_record(path: &Path, config: &NetRunConfig) -> Option<NetRunRecord> {
    let rec: NetRunRecord = load_checked(path).ok()??;
    let readable = (OLDEST_SCHEMA_VERSION..=SCHEMA_VERSION).contains(&rec.schema_version);
    (readable && rec.config == *config).then_some(rec)
}

/// Every readable run record and pilot record of the config's families under
/// `out`, plus the files that could not be read (path: reason).
pub struct StoredRecords {
    /// Run records, in family then seed order.
    pub runs: Vec<NetRunRecord>,
    /// Pilot records, in family order.
    pub pilots: Vec<PilotRecord>,
    /// Files skipped, with the reason.
    pub skipped: Vec<String>,
}

impl StoredRecords {
    /// The closing list of a grid's report: `items`, then every unreadable
    /// record, one bullet each ("None." when empty).
    pub fn write_not_scored(&self, s: &mut String, mut items: Vec<String>) {
        use std::fmt::Write as _;
        items.extend(
            self.skipped
                .iter()
                .map(|e| format!("unreadable record: {e}")),
        );
        if items.is_empty() {
            let _ = writeln!(s, "None.");
        }
        for n in &items {
            let _ = writeln!(s, "- {n}");
        }
    }
}

/// Reads the records of `config`'s rows and seeds under `out` (pilots per
/// family, then the rows of the family); progress: a stage `stored records`
/// with a step per family (its pilot and every seed's record).
pub fn load_all(out: &Path, config: &NetGridConfig, progress: &dyn Progress) -> StoredRecords {
    let mut s = StoredRecords {
        runs: Vec::new(),
        pilots: Vec::new(),
        skipped: Vec::new(),
    };
    let ids = config.family_ids();
    let stage = StageGuard::begin(progress, "stored records", ids.len() as u64);
    for (fi, id) in ids.into_iter().enumerate() {
        match load_checked::<PilotRecord>(&pilot_record_path(out, &id)) {
            Ok(Some(p)) => s.pilots.push(p),
            Ok(None) => {}
            Err(e) => s.skipped.push(e.to_string()),
        }
        for k in config.class_list() {
            let row = config.row_id(fi, k);
            for &seed in &config.seeds {
                let path = run_record_path(out, &row, seed);
                match load_checked::<NetRunRecord>(&path) {
                    Ok(Some(r))
                        if r.config.family == id && r.config.classes == k && r.seed() == seed =>
                    {
                        s.runs.push(r)
                    }
                    Ok(Some(_)) => s.skipped.push(format!(
                        "{}: family, K or seed differ from its path",
                        path.display()
                    )),
                    Ok(None) => {}
                    Err(e) => s.skipped.push(e.to_string()),
                }
            }
        }
        stage.step(&id);
    }
    s
}

impl PilotRecord {
    /// The pilot record of a family from its candidates' outcomes, with the
    /// rate chosen by `crate::claims::premise::choose_lr`.
    pub fn decide(
        family: &str,
        seed: u64,
        premise: Premise,
        candidates: Vec<PilotCandidate>,
    ) -> Self {
        let outcomes: Vec<crate::claims::premise::PilotOutcome> = candidates
            .iter()
            .map(|c| crate::claims::premise::PilotOutcome {
                lr: c.lr,
                accuracy: c.accuracy,
                loss: c.loss,
                premise_met: c.premise.met,
            })
            .collect();
        let (choice, no_choice) = match crate::claims::premise::choose_lr(&outcomes) {
            Ok(c) => (Some(c), None),
            Err(e) => (None, Some(e)),
        };
        PilotRecord {
            schema_version: SCHEMA_VERSION,
            family: family.to_string(),
            seed,
            premise,
            candidates,
            choice,
            no_choice,
            rounds: Vec::new(),
            variant: PilotVariant::default(),
        }
    }

    /// The same record after the earlier `rounds`, decided on `variant`.
    pub fn after_rounds(mut self, rounds: Vec<PilotRound>, variant: PilotVariant) -> Self {
        self.rounds = rounds;
        self.variant = variant;
        self
    }
}
