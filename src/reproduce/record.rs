//! The per-run record: the JSON file `runs/<row>/seed-<s>.json` that one
//! trained and analysed run leaves under the output directory (resolved
//! config, provenance, training outcome, analysis outcome, timings), and its
//! path, loading and saving. A record ends in a `checksum` field (FNV-1a of
//! the rest of the text); a record whose checksum does not match is torn or
//! edited and is rerun, one without is read as legacy. Pure Rust; the field names are the stored format
//! of the committed records under `experiments/results/` and must not change.
//! A fit that failed is stored as `{"error": "<message>"}`
//! (`crate::error::or_error`); records of schema 1 held `{"Ok": ..}` /
//! `{"Err": ..}` tags and read the same.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::config::{RowKey, RunConfig, TableId};
use super::{write_atomic, ReproduceError};
use crate::loss::Loss;

/// A gamma fit as stored in a run record.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FitSummary {
    /// Slope of `ln C_ii` on `ln H_ii`.
    pub gamma: f64,
    /// OLS standard error.
    pub std_err: f64,
    /// R^2.
    pub r_squared: f64,
    /// Intercept.
    pub intercept: f64,
    /// Directions used.
    pub points_used: usize,
    /// Directions dropped by the floor rule.
    pub points_dropped: usize,
    /// `ln(max H_ii / min H_ii)` over the directions used.
    pub log_range_h: f64,
}

impl FitSummary {
    /// The stored form of a fit, or its error text.
    pub fn of(
        f: &Result<crate::fit::GammaFit, crate::error::Failure>,
    ) -> Result<FitSummary, crate::error::Failure> {
        f.as_ref()
            .map(|f| FitSummary {
                gamma: f.gamma,
                std_err: f.std_err,
                r_squared: f.r_squared,
                intercept: f.intercept,
                points_used: f.points_used,
                points_dropped: f.points_dropped,
                log_range_h: f.log_range_h,
            })
            .map_err(Clone::clone)
    }
}

/// Table 3's figures of a run (MSE rows; `crate::layer::Term2Report`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Term2Summary {
    /// Matched pairs used.
    pub pairs_used: usize,
    /// `sum_i E[(T2.v_i)^2] / sum_i E[(T1.v_i)^2]` over the top-k.
    pub term2_share: f64,
    /// gamma of `E_p[((T1 + T2).v_i)^2]` (real dw_p; our first reading of Eq. 58).
    #[serde(with = "crate::error::or_error")]
    pub gamma_term12: Result<FitSummary, crate::error::Failure>,
    /// gamma of `sigma^2 v_i^T E[h^2] v_i + E_p[(T2.v_i)^2]` (second reading).
    #[serde(with = "crate::error::or_error")]
    pub gamma_iso_term2: Result<FitSummary, crate::error::Failure>,
}

/// Provenance of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// `git rev-parse HEAD` of the working directory at run time.
    pub git_commit: Option<String>,
    /// Whether the work tree had uncommitted changes.
    pub git_dirty: Option<bool>,
    /// Crate version of the binary.
    pub crate_version: String,
    /// Seed of the initialisation and the shuffling.
    pub seed: u64,
    /// libtorch threads.
    pub threads: i32,
    /// Data set as loaded (name, subset, normalisation).
    pub data: String,
    /// The CPU code paths of libtorch, MKL and oneDNN in force
    /// (`crate::torch::dispatch`; None in records written before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_dispatch: Option<String>,
}

impl Provenance {
    /// The provenance of a run made now by this binary: the working
    /// directory's git commit and dirty flag, the crate version, the seed,
    /// the libtorch threads, the data as loaded and the CPU dispatch in force.
    pub fn now(seed: u64, threads: i32, data: &str) -> Self {
        let git = |args: &[&str]| -> Option<String> {
            let out = std::process::Command::new("git").args(args).output().ok()?;
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        };
        Provenance {
            git_commit: git(&["rev-parse", "HEAD"]),
            git_dirty: git(&["status", "--porcelain", "--untracked-files=no"])
                .map(|s| !s.is_empty()),
            crate_version: env!("CARGO_PKG_VERSION").to_string(),
            seed,
            threads,
            data: data.to_string(),
            cpu_dispatch: dispatch(),
        }
    }
}

#[cfg(feature = "torch")]
fn dispatch() -> Option<String> {
    Some(crate::torch::dispatch::cpu_dispatch())
}

#[cfg(not(feature = "torch"))]
fn dispatch() -> Option<String> {
    None
}

/// Training outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainOutcome {
    /// Training samples.
    pub samples: usize,
    /// Final training accuracy (whole training set).
    pub accuracy: f64,
    /// Final mean training loss.
    pub loss: f64,
    /// Training accuracy after every epoch (index 0: initialisation).
    pub accuracy_curve: Vec<f64>,
}

/// Analysis outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalyzeOutcome {
    /// Layer analysed.
    pub layer: String,
    /// Samples used.
    pub samples: usize,
    /// Directions fitted (top-k).
    pub top_k: usize,
    /// gamma (Eq. 2), or why it could not be fitted.
    #[serde(with = "crate::error::or_error")]
    pub gamma: Result<FitSummary, crate::error::Failure>,
    /// gamma_awd (Eq. 15), or why it could not be fitted.
    #[serde(with = "crate::error::or_error")]
    pub gamma_awd: Result<FitSummary, crate::error::Failure>,
    /// Theorem 5.1 violations (left, right) over the top-k.
    pub bound_violations: (usize, usize),
    /// C8 first-moment residual.
    pub first_moment_residual: f64,
    /// Negative mass of the per-sample spectra (softmax-MSE).
    pub negative_mass: f64,
    /// Table 3's figures (MSE rows; None in CE rows and in records written
    /// before these figures were measured).
    #[serde(default)]
    pub term2: Option<Term2Summary>,
    /// Stage timings (name, seconds).
    pub stages: Vec<(String, f64)>,
}

/// Wall-clock seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// Loading the data.
    pub data_s: f64,
    /// Training.
    pub train_s: f64,
    /// Analysis.
    pub analyze_s: f64,
    /// Everything.
    pub total_s: f64,
    /// CPU seconds (user + system) of the whole process during the run, from
    /// `/proc/self/stat` (None where unavailable); equals the run's own CPU
    /// time when one job runs at a time.
    #[serde(default)]
    pub process_cpu_s: Option<f64>,
    /// The same over training only.
    #[serde(default)]
    pub train_cpu_s: Option<f64>,
    /// The same over the analysis only.
    #[serde(default)]
    pub analyze_cpu_s: Option<f64>,
}

/// Version of the run record layout: 2 stores a failed fit as
/// `{"error": ..}` and a fitted one bare; 1 (no `schema_version` field)
/// wrapped them in `Ok`/`Err` tags and still reads.
pub const RUN_SCHEMA_VERSION: u32 = 2;

fn schema_1() -> u32 {
    1
}

/// One finished run: the per-run JSON file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// [`RUN_SCHEMA_VERSION`] when written; 1 for records without the field.
    #[serde(default = "schema_1")]
    pub schema_version: u32,
    /// Resolved config.
    pub config: RunConfig,
    /// Provenance (commit, seed, ...).
    pub provenance: Provenance,
    /// Training.
    pub train: TrainOutcome,
    /// Analysis.
    pub analyze: AnalyzeOutcome,
    /// Timings.
    pub timings: Timings,
}

impl RunRecord {
    /// gamma, when fitted.
    pub fn gamma(&self) -> Option<f64> {
        self.analyze.gamma.as_ref().ok().map(|f| f.gamma)
    }
    /// gamma_awd, when fitted.
    pub fn gamma_awd(&self) -> Option<f64> {
        self.analyze.gamma_awd.as_ref().ok().map(|f| f.gamma)
    }
    /// Table 3's first reading (Term I + II with the real dw_p), when fitted.
    pub fn gamma_term12(&self) -> Option<f64> {
        let t = self.analyze.term2.as_ref()?;
        t.gamma_term12.as_ref().ok().map(|f| f.gamma)
    }
    /// Table 3's second reading (sigma^2 E[h^2] + Term II), when fitted.
    pub fn gamma_iso_term2(&self) -> Option<f64> {
        let t = self.analyze.term2.as_ref()?;
        t.gamma_iso_term2.as_ref().ok().map(|f| f.gamma)
    }
}

/// The record path of one run.
pub fn record_path(out: &Path, row: &RowKey, seed: u64) -> PathBuf {
    out.join("runs")
        .join(row.id())
        .join(format!("seed-{seed}.json"))
}

/// What a stored record's checksum says about its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checksum {
    /// The checksum matches: the record text without the checksum field.
    Valid(String),
    /// No checksum field (records written before checksums): trusted as is.
    Legacy(String),
    /// A checksum that does not match its text: torn or edited, to be rerun.
    Mismatch,
}

/// The checksum field that ends a record written by [`save_record`].
const CHECKSUM_KEY: &str = ",\n  \"checksum\": \"";

/// FNV-1a (64-bit) of `bytes`: a checksum against torn or edited records,
/// not a cryptographic hash.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The text of a record with a `checksum` field appended as its last field:
/// FNV-1a of the pretty JSON of the rest (`body`, ending in `\n}`).
pub fn with_checksum(body: &str) -> String {
    let open = body.strip_suffix("\n}").unwrap_or(body);
    format!(
        "{open}{CHECKSUM_KEY}{:016x}\"\n}}",
        fnv1a64(body.as_bytes())
    )
}

/// Splits a stored record's text into its body and checks the checksum.
pub fn checked_body(text: &str) -> Checksum {
    let trimmed = text.trim_end();
    let Some(at) = trimmed.rfind(CHECKSUM_KEY) else {
        return Checksum::Legacy(text.to_string());
    };
    let tail = &trimmed[at + CHECKSUM_KEY.len()..];
    let digest = tail
        .strip_suffix("\"\n}")
        .filter(|h| h.len() == 16)
        .and_then(|h| u64::from_str_radix(h, 16).ok());
    let body = format!("{}\n}}", &trimmed[..at]);
    match digest {
        Some(d) if d == fnv1a64(body.as_bytes()) => Checksum::Valid(body),
        _ => Checksum::Mismatch,
    }
}

/// A finished record with exactly this config, if one is stored and its
/// checksum (when it has one) matches; with
/// `table` = 3 an MSE record must also hold Table 3's Term II figures
/// (records written before they existed are rerun).
pub fn stored_record(path: &Path, config: &RunConfig, table: TableId) -> Option<RunRecord> {
    let text = std::fs::read_to_string(path).ok()?;
    let body = match checked_body(&text) {
        Checksum::Valid(body) | Checksum::Legacy(body) => body,
        Checksum::Mismatch => return None,
    };
    let rec: RunRecord = serde_json::from_str(&body).ok()?;
    let complete =
        table == TableId::One || config.row.loss != Loss::SoftmaxMse || rec.analyze.term2.is_some();
    (rec.config == *config && complete).then_some(rec)
}

/// Writes `rec` to its record path under `out` (pretty JSON ending in a
/// `checksum` field, atomically).
pub fn save_record(out: &Path, rec: &RunRecord) -> Result<(), ReproduceError> {
    let body = serde_json::to_string_pretty(rec).map_err(|e| ReproduceError::io(out, e))?;
    write_atomic(
        &record_path(out, &rec.config.row, rec.provenance.seed),
        &with_checksum(&body),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_round_trips_and_catches_edits() {
        let body = "{\n  \"a\": 1.5,\n  \"b\": [\n    2\n  ]\n}";
        let text = with_checksum(body);
        assert!(text.ends_with("\"\n}"), "{text}");
        assert_eq!(checked_body(&text), Checksum::Valid(body.to_string()));
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["a"], 1.5);
        assert_eq!(
            checked_body(&text.replace("1.5", "1.6")),
            Checksum::Mismatch
        );
        assert_eq!(checked_body(&text[..text.len() - 3]), Checksum::Mismatch);
        assert_eq!(checked_body(body), Checksum::Legacy(body.to_string()));
    }
}
