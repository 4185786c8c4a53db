//! `superlinear net-claims` as a library call: claims C3, C6, C7 (with
//! Remark 3.5), C8, C13 and C15 on the checkpoints of a training run.
//!
//! For every chosen checkpoint (`epoch-NNNN.safetensors` and
//! `final.safetensors` in the run directory of `superlinear train`, with its
//! `run.json`; [`checkpoints`]): the same N class-balanced training samples,
//! the layer's factors gathered by the torch tier
//! (`crate::torch::curvature::gather_layer`), and the figures measured by
//! [`crate::layer::measure_checkpoint`] (H, its top-k eigenvectors, `C_ii`,
//! gamma and gamma_awd, the Eq. 57 terms on matched pairs, and at the last
//! checkpoint the suppression runs of C13 and the structure of C in H's
//! top-k eigenbasis, [`crate::layer::structure`], every checkpoint with
//! `structure_every_checkpoint`). The verdicts are decided by
//! `crate::claims::{c3, c6, c7, c8, c13, c15}::judge_net` (and
//! `c7::judge_net_commutation` for Remark 3.5) with the thresholds of
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
use crate::claims::ClaimOutcome;
use crate::layer::{CheckpointFigures, NetFigures, StructureSettings, SuppressionFigures};
use crate::loss::Loss;
use crate::suppression::SuppressionConfig;

#[cfg(feature = "torch")]
use crate::torch::dataset::DataSettings;

/// The claims this command checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum NetClaim {
    /// rho_bar of C in H's top-k eigenbasis below its Haar null (Fig. 1).
    C3,
    /// Term I vs Term II (Lemma 3.3).
    C6,
    /// Isotropy of real AWD perturbations (Thm. 3.4).
    C7,
    /// C and H nearly commute, off-diagonals decay (Remark 3.5, Figs. 7-9).
    #[serde(rename = "C7-R3.5")]
    C7Remark35,
    /// Eq. 2's premise: first-moment share and the 1/B scaling.
    C8,
    /// Suppression experiment (App. B.3).
    C13,
    /// gamma over training (Remark 5.2).
    C15,
}

impl NetClaim {
    /// Every claim, in order.
    pub const ALL: [NetClaim; 7] = [
        NetClaim::C3,
        NetClaim::C6,
        NetClaim::C7,
        NetClaim::C7Remark35,
        NetClaim::C8,
        NetClaim::C13,
        NetClaim::C15,
    ];

    /// Parses "C3", "c7", "C7-R3.5" (or "R3.5"), ... .
    pub fn parse(s: &str) -> Result<Self, ReproduceError> {
        match s.trim().to_ascii_uppercase().as_str() {
            "C3" => Ok(NetClaim::C3),
            "C6" => Ok(NetClaim::C6),
            "C7" => Ok(NetClaim::C7),
            "C7-R3.5" | "R3.5" => Ok(NetClaim::C7Remark35),
            "C8" => Ok(NetClaim::C8),
            "C13" => Ok(NetClaim::C13),
            "C15" => Ok(NetClaim::C15),
            other => Err(ReproduceError::setting(
                "claims",
                other,
                "net-claims checks C3, C6, C7, C7-R3.5, C8, C13 and C15",
            )),
        }
    }

    /// The id, e.g. "C6".
    pub fn id(self) -> &'static str {
        match self {
            NetClaim::C3 => "C3",
            NetClaim::C6 => "C6",
            NetClaim::C7 => "C7",
            NetClaim::C7Remark35 => "C7-R3.5",
            NetClaim::C8 => "C8",
            NetClaim::C13 => "C13",
            NetClaim::C15 => "C15",
        }
    }

    /// The claim's verdict from the figures of a run.
    pub fn judge(self, figures: &NetFigures<'_>, t: &NetThresholds) -> ClaimOutcome {
        match self {
            NetClaim::C3 => crate::claims::c3::judge_net(figures, t),
            NetClaim::C6 => crate::claims::c6::judge_net(figures, t),
            NetClaim::C7 => crate::claims::c7::judge_net(figures, t),
            NetClaim::C7Remark35 => crate::claims::c7::judge_net_commutation(figures, t),
            NetClaim::C8 => crate::claims::c8::judge_net(figures, t),
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
    /// Haar rotations of the structure null (p-value floor `1 / (R + 1)`).
    pub structure_rotations: usize,
    /// Mini-batch draws per batch size of the `1/B` scaling (C8).
    pub batch_draws: usize,
    /// Structure figures at every chosen checkpoint, not only the last.
    pub structure_every_checkpoint: bool,
    /// Verdict thresholds.
    pub thresholds: NetThresholds,
    /// A second top-k at which gamma and gamma_awd are also fitted at every
    /// checkpoint (None: only `top_k`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub second_top_k: Option<usize>,
    /// Data override (None: the subset recorded in `run.json`).
    #[cfg(feature = "torch")]
    pub data: Option<DataSettings>,
}

impl Default for NetClaimsSettings {
    fn default() -> Self {
        NetClaimsSettings {
            run_dir: PathBuf::new(),
            claims: NetClaim::ALL.to_vec(),
            samples: crate::layer::DEFAULT_SAMPLES,
            top_k: crate::layer::DEFAULT_TOP_K,
            layer: None,
            seed: 0,
            one_to_one: false,
            stride: 1,
            chunk: 64,
            suppression: SuppressionConfig::default(),
            tails_factor: 1e-3,
            structure_rotations: StructureSettings::default().rotations,
            batch_draws: StructureSettings::default().batch_draws,
            structure_every_checkpoint: false,
            thresholds: NetThresholds::default(),
            second_top_k: None,
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
        if self.stride != 1 && !(self.wants(NetClaim::C6) || self.wants(NetClaim::C15)) {
            return Err(ReproduceError::setting(
                "stride",
                self.stride,
                "only C6 and C15 measure more than the last checkpoint: ask for one of them, or leave the stride at 1",
            ));
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
        if !(2..=crate::coupling::MAX_ROTATIONS).contains(&self.structure_rotations) {
            return Err(ReproduceError::setting(
                "structure-rotations",
                self.structure_rotations,
                "must be at least 2 (and at most 10 000 000)",
            ));
        }
        if !(2..=100_000_000).contains(&self.batch_draws) {
            return Err(ReproduceError::setting(
                "batch-draws",
                self.batch_draws,
                "must be at least 2 (and at most 100 000 000)",
            ));
        }
        let t = &self.thresholds;
        for (name, v) in t.named() {
            if !(v.is_finite() && v >= 0.0) {
                return Err(ReproduceError::setting(name, v, "must be finite and >= 0"));
            }
        }
        if t.c7_r35_alpha > 1.0 {
            return Err(ReproduceError::setting(
                "c7-r35-alpha",
                t.c7_r35_alpha,
                "a p-value level is at most 1",
            ));
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
    /// Status, key figure, named figures and further lines.
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
    /// Settings resolved to another value than the one given (`0: all`, or
    /// more than exists; [`crate::adjust`]): samples, top-k, stride.
    pub adjustments: Vec<crate::adjust::Adjustment>,
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

    /// The exit code under the one rule of `crate::exit`: 1 when any
    /// claim is a counterexample.
    pub fn exit_code(&self) -> i32 {
        crate::claims::evidence::exit_code(self.claims.iter().map(|c| c.outcome.status))
    }
}
