//! Reproduction of the paper's Tables 1 and 3 on real data (claim C14; the
//! verdicts also check C9's `1 <= gamma <= 2` on trained networks).
//!
//! - [`config`]: the run configs (`experiments/runs/*.toml`, one per Table 2
//!   row family, scales `paper` and `reduced`, strict parsing, the paper's
//!   unknowns identical across rows), resolved against Table 2 of
//!   `experiments/published.toml`.
//! - [`report`]: per-run records, the side-by-side table (published mean +-
//!   std beside measured mean +- std over seeds, the difference, within
//!   0.10), the qualitative verdicts and `RESULTS.md`. Pure Rust.
//! - `run` (feature `torch`): the resumable driver behind `superlinear
//!   reproduce`: trains with [`crate::torch::train`], analyses with
//!   [`crate::torch::analyze`], writes one JSON record per run.
//!
//! This is an experiment driver: it uses the torch tier and the core; the
//! core never imports it.

pub mod config;
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
