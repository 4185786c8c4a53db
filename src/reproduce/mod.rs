//! Runs that combine the torch tier, the core and the claims: the drivers
//! behind `superlinear analyze`, `net-claims` and `reproduce` (Tables 1 and
//! 3 on real data, claim C14; its verdicts also check C9's
//! `1 <= gamma <= 2` on trained networks).
//!
//! - [`config`]: the run configs (`experiments/runs/*.toml`, one per Table 2
//!   row family, scales `paper` and `reduced`, strict parsing, the paper's
//!   unknowns identical across rows), resolved against Table 2 of
//!   `experiments/published.toml`.
//! - [`record`]: the per-run record (the JSON file of one run), its path,
//!   loading and saving.
//! - [`aggregate`]: the side-by-side rows (published mean +- std beside
//!   measured mean +- std over seeds, the difference, within 0.10), the
//!   training-accuracy floor, and the measured figures handed to the claim
//!   judgements of `crate::claims::c14` and `crate::claims::c9`.
//! - [`render`]: the tables as markdown and CSV, the judgements, `RESULTS.md`.
//! - [`grid`]: one call apart from the training: settings, selected rows and
//!   configs, reused records and runs to do, the outputs rewritten after every
//!   run, and `--report-only` (no torch needed).
//! - `analyze` (feature `torch`): `superlinear analyze`: a checkpoint's layer
//!   gathered by the torch tier and analysed by [`crate::layer`].
//! - [`netclaims`]: `superlinear net-claims` (C3, C6, C7, C8, C13, C15 over a run's
//!   checkpoints; settings and checkpoint listing are pure, the run needs
//!   feature `torch`), verdicts from `crate::claims`.
//! - [`evidence`]: `superlinear claims`: the derivation line (the synthetic
//!   checks) and the networks line (judged from the committed records) of
//!   every claim; [`claim_docs`]: the README table and the catalogue fields
//!   generated from them.
//! - [`netgrid`]: `superlinear net-grid` (C6, C7, C13, C15 over 8 families
//!   x 3 seeds with a learning-rate pilot; config, plan, records and report
//!   are pure, training and analysis need feature `torch`).
//! - [`shard`]: `--shard I/N`, a deterministic share of a grid's runs for
//!   one process of a job array (`reproduce` and `net-grid`).
//! - `run` (feature `torch`): the resumable driver behind `superlinear
//!   reproduce`: trains with `crate::torch::train`, analyses in memory like
//!   `analyze`, writes one JSON record per run.
//!
//! This is an experiment driver: it uses the torch tier, the claims and the
//! core; none of them imports it.

pub mod aggregate;
#[cfg(feature = "torch")]
pub mod analyze;
pub mod claim_docs;
pub mod config;
pub mod evidence;
pub mod grid;
pub mod migrate;
pub mod netclaims;
pub mod netgrid;
pub mod record;
pub mod render;
pub mod report;
#[cfg(feature = "torch")]
pub mod run;
pub mod shard;

use std::path::Path;

use thiserror::Error;

/// Errors of the reproduction driver. Each names the input it is about.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ReproduceError {
    /// A config file that does not parse or breaks a rule.
    #[error("{path}: {reason}")]
    Config { path: String, reason: String },
    /// A setting outside its admissible range.
    #[error("{name} = {value}: {reason}")]
    Setting {
        name: String,
        value: String,
        reason: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    /// A checkpoint or run directory that cannot be used.
    #[error("{path}: checkpoint: {reason}")]
    Checkpoint { path: String, reason: String },
    /// One run failed.
    #[error("run {row} seed {seed}: {source}")]
    Run {
        row: String,
        seed: u64,
        source: Box<ReproduceError>,
    },
    /// The torch tier failed.
    #[cfg(feature = "torch")]
    #[error(transparent)]
    Torch(#[from] crate::torch::TorchError),
    /// The core failed.
    #[error(transparent)]
    Core(#[from] crate::Error),
}

impl ReproduceError {
    /// Shorthand for [`ReproduceError::Setting`].
    pub fn setting(name: &str, value: impl std::fmt::Display, reason: impl Into<String>) -> Self {
        ReproduceError::Setting {
            name: name.to_string(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }

    /// Shorthand for [`ReproduceError::Io`].
    pub fn io(path: &Path, e: impl std::fmt::Display) -> Self {
        ReproduceError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        }
    }
}

/// Writes `text` to `path` crash-safely ([`crate::data::atomic`]), so that a
/// reader never sees a half-written record or table; creates the directory.
pub fn write_atomic(path: &Path, text: &str) -> Result<(), ReproduceError> {
    crate::data::atomic::write(path, text).map_err(|e| ReproduceError::io(path, e))
}
