//! Runs that combine the torch tier, the core and the claims: the drivers
//! behind `superlinear analyze`, `net-claims` and `reproduce` (Tables 1 and
//! 3 on real data, claim C14; its verdicts also check C9's
//! `1 <= gamma <= 2` on trained networks).
//!
//! - [`config`]: the run configs (`experiments/runs/*.toml`, one per Table 2
//!   row family, scales `paper` and `reduced`, strict parsing, the paper's
//!   unknowns identical across rows), resolved against Table 2 of
//!   `experiments/published.toml`.
//! - [`report`]: per-run records, the side-by-side table (published mean +-
//!   std beside measured mean +- std over seeds, the difference, within
//!   0.10), the qualitative verdicts and `RESULTS.md`. Pure Rust.
//! - `analyze` (feature `torch`): `superlinear analyze`: a checkpoint's layer
//!   gathered by the torch tier and analysed by [`crate::layer`].
//! - [`netclaims`]: `superlinear net-claims` (C6, C7, C13, C15 over a run's
//!   checkpoints; settings and checkpoint listing are pure, the run needs
//!   feature `torch`), verdicts from `crate::claims`.
//! - `run` (feature `torch`): the resumable driver behind `superlinear
//!   reproduce`: trains with `crate::torch::train`, analyses in memory like
//!   `analyze`, writes one JSON record per run.
//!
//! This is an experiment driver: it uses the torch tier, the claims and the
//! core; none of them imports it.

#[cfg(feature = "torch")]
pub mod analyze;
pub mod config;
pub mod netclaims;
pub mod report;
#[cfg(feature = "torch")]
pub mod run;

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
}
