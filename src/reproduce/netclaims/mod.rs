//! `superlinear net-claims` as a library call: claims C6, C7, C13 and C15 on
//! the checkpoints of a training run.
//!
//! For every chosen checkpoint (`epoch-NNNN.safetensors` and
//! `final.safetensors` in the run directory of `superlinear train`, with its
//! `run.json`; [`checkpoints`]): the same N class-balanced training samples,
//! the layer's factors gathered by the torch tier
//! (`crate::torch::curvature::gather_layer`), and the figures measured by
//! [`crate::layer::measure_checkpoint`] (H, its top-k eigenvectors, `C_ii`,
//! gamma and gamma_awd, the Eq. 57 terms on matched pairs, and at the last
//! checkpoint the suppression runs of C13). The verdicts are decided by
//! `crate::claims::{c6, c7, c13, c15}::judge_net` with the thresholds of
//! [`crate::claims::net::NetThresholds`]; the figures are always reported.
//!
//! Checkpoints: every `stride`-th (the last always) when C6 or C15 is asked
//! for (they follow training), else only the last.

pub mod checkpoints;
#[cfg(feature = "torch")]
mod run;

use std::path::PathBuf;

use serde::Serialize;

pub use checkpoints::{list_checkpoints, stride_checkpoints, CheckpointFile};
#[cfg(feature = "torch")]
pub use run::{net_claims_on, run_net_claims};

use super::ReproduceError;
use crate::claims::net::NetThresholds;
use crate::claims::{ClaimOutcome, Verdict};
use crate::layer::{CheckpointFigures, NetFigures, SuppressionFigures};
use crate::loss::Loss;
use crate::suppression::SuppressionConfig;

#[cfg(feature = "torch")]
use crate::torch::dataset::DataSettings;

/// The claims this command checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum NetClaim {
    /// Term I vs Term II (Lemma 3.3).
    C6,
    /// Isotropy of real AWD perturbations (Thm. 3.4).
    C7,
    /// Suppression experiment (App. B.3).
    C13,
    /// gamma over training (Remark 5.2).
    C15,
}

impl NetClaim {
    /// Every claim, in order.
    pub const ALL: [NetClaim; 4] = [NetClaim::C6, NetClaim::C7, NetClaim::C13, NetClaim::C15];

    /// Parses "C6", "c7", ... .
    pub fn parse(s: &str) -> Result<Self, ReproduceError> {
        match s.trim().to_ascii_uppercase().as_str() {
            "C6" => Ok(NetClaim::C6),
            "C7" => Ok(NetClaim::C7),
            "C13" => Ok(NetClaim::C13),
            "C15" => Ok(NetClaim::C15),
            other => Err(ReproduceError::setting(
                "claims",
                other,
                "net-claims checks C6, C7, C13 and C15",
            )),
        }
    }

    /// The id, e.g. "C6".
    pub fn id(self) -> &'static str {
        match self {
            NetClaim::C6 => "C6",
            NetClaim::C7 => "C7",
            NetClaim::C13 => "C13",
            NetClaim::C15 => "C15",
        }
    }

    /// The claim's verdict from the figures of a run.
    pub fn judge(self, figures: &NetFigures<'_>, t: &NetThresholds) -> ClaimOutcome {
        match self {
            NetClaim::C6 => crate::claims::c6::judge_net(figures, t),
            NetClaim::C7 => crate::claims::c7::judge_net(figures, t),
            NetClaim::C13 => crate::claims::c13::judge_net(figures, t),
            NetClaim::C15 => crate::claims::c15::judge_net(figures, t),
        }
    }
}

/// Settings of one `net-claims` run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NetClaimsSettings {
    /// Run directory of `superlinear train` (checkpoints and `run.json`).
    pub run_dir: PathBuf,
    /// Claims to check (non-empty, no repeats).
    pub claims: Vec<NetClaim>,
    /// Class-balanced training samples used (>= 2 per class).
    pub samples: usize,
    /// Top-k eigen-directions of H (0: all d).
    pub top_k: usize,
    /// Layer (None: the model's default, the paper's choice).
    pub layer: Option<String>,
    /// Seed of the split into matched halves.
    pub seed: u64,
    /// One-to-one matching instead of the paper's nearest partner.
    pub one_to_one: bool,
    /// Use every `stride`-th checkpoint (the last is always used; >= 1).
    pub stride: usize,
    /// Samples per chunk of the projection passes.
    pub chunk: usize,
    /// App. B.3 configuration of the homogenised suppression run.
    pub suppression: SuppressionConfig,
    /// Factor on the tail modes in the tails-only run (in (0, 1]).
    pub tails_factor: f64,
    /// Verdict thresholds.
    pub thresholds: NetThresholds,
    /// Data override (None: the subset recorded in `run.json`).
    #[cfg(feature = "torch")]
    pub data: Option<DataSettings>,
}

impl Default for NetClaimsSettings {
    fn default() -> Self {
        NetClaimsSettings {
            run_dir: PathBuf::new(),
            claims: NetClaim::ALL.to_vec(),
            samples: 1000,
            top_k: 1000,
            layer: None,
            seed: 0,
            one_to_one: false,
            stride: 1,
            chunk: 64,
            suppression: SuppressionConfig::default(),
            tails_factor: 1e-3,
            thresholds: NetThresholds::default(),
            #[cfg(feature = "torch")]
            data: None,
        }
    }
}

impl NetClaimsSettings {
    /// Checks every setting; errors name the setting.
    pub fn validate(&self) -> Result<(), ReproduceError> {
        if self.claims.is_empty() {
            return Err(ReproduceError::setting(
                "claims",
                "(none)",
                "give at least one",
            ));
        }
        let mut c = self.claims.clone();
        c.sort();
        c.dedup();
        if c.len() != self.claims.len() {
            return Err(ReproduceError::setting(
                "claims",
                "repeated id",
                "give each claim once",
            ));
        }
        if self.samples < 4 {
            return Err(ReproduceError::setting(
                "samples",
                self.samples,
                "need at least 4 (two per class per half)",
            ));
        }
        if self.top_k != 0 && self.top_k < 3 {
            return Err(ReproduceError::setting(
                "top-k",
                self.top_k,
                "a fit needs at least 3 directions (0: all)",
            ));
        }
        if self.stride == 0 {
            return Err(ReproduceError::setting("stride", 0, "must be at least 1"));
        }
        if self.chunk == 0 {
            return Err(ReproduceError::setting("chunk", 0, "must be at least 1"));
        }
        self.suppression.validate()?;
        if !(self.tails_factor.is_finite() && self.tails_factor > 0.0 && self.tails_factor <= 1.0) {
            return Err(ReproduceError::setting(
                "tails-factor",
                self.tails_factor,
                "must be in (0, 1]",
            ));
        }
        let t = &self.thresholds;
        for (name, v) in t.named() {
            if !(v.is_finite() && v >= 0.0) {
                return Err(ReproduceError::setting(name, v, "must be finite and >= 0"));
            }
        }
        Ok(())
    }

    /// Whether `c` is asked for.
    pub fn wants(&self, c: NetClaim) -> bool {
        self.claims.contains(&c)
    }
}

/// A claim's verdict with its figures and details.
#[derive(Debug, Clone, Serialize)]
pub struct NetClaimResult {
    /// Claim id.
    pub claim: NetClaim,
    /// Verdict, key figure, named figures and further lines.
    #[serde(flatten)]
    pub outcome: ClaimOutcome,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct NetClaimsReport {
    /// Settings used.
    pub settings: NetClaimsSettings,
    /// Layer analysed and its shape.
    pub layer: String,
    /// `(out, in)`.
    pub layer_shape: (usize, usize),
    /// Loss of the run.
    pub loss: Loss,
    /// Batch size of the run.
    pub batch_size: usize,
    /// Samples analysed.
    pub samples: usize,
    /// Top-k used.
    pub top_k: usize,
    /// Per checkpoint, in epoch order.
    pub checkpoints: Vec<CheckpointFigures>,
    /// C13's suppression runs (when requested).
    pub suppression: Option<SuppressionFigures>,
    /// Verdicts, in claim order.
    pub claims: Vec<NetClaimResult>,
    /// Total seconds.
    pub seconds: f64,
}

impl NetClaimsReport {
    /// The figures the verdicts are decided from.
    pub fn figures(&self) -> NetFigures<'_> {
        NetFigures {
            loss: self.loss,
            checkpoints: &self.checkpoints,
            suppression: self.suppression.as_ref(),
        }
    }

    /// Whether any claim failed (exit code 1).
    pub fn any_failed(&self) -> bool {
        self.claims
            .iter()
            .any(|c| c.outcome.verdict == Verdict::Fail)
    }
}
