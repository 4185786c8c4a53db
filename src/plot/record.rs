//! The figure record of one analysed layer (C14, C9, C15, C3): what the
//! central figure, gamma(k) and the coupling heatmap need and no text
//! report holds, the per-direction diagonals `H_ii`, `C_ii`, `C_awd,ii`
//! over the top-k, the fits, gamma(k) and the top `n x n` block of
//! `C' = V^T C V`, with the run it came from and the build that measured
//! it. `analyze --plot` writes it; `report` draws from the committed copy.

use serde::{Deserialize, Serialize};

use super::gamma_k::{AtK, GammaK};
use super::loglog::{LogLog, PowerLaw};
use crate::error::Result;
use crate::layer::LayerReport;

/// Version of the record's schema; bumped when a field changes meaning.
pub const SCHEMA_VERSION: u32 = 1;

/// Side of the coupling block kept by default.
pub const DEFAULT_BLOCK: usize = 64;

/// Seed of the Haar rotation of the heatmap's null panel.
pub const NULL_SEED: u64 = 0;

/// A fitted exponent as the figures draw it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Fit {
    /// Slope of `ln C_ii` on `ln H_ii`.
    pub gamma: f64,
    /// Intercept (natural log).
    pub intercept: f64,
    /// R^2.
    pub r_squared: f64,
    /// Directions used.
    pub points_used: usize,
}

/// One k of gamma(k).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GammaAt {
    /// Top-k.
    pub k: usize,
    /// gamma over the top k.
    pub gamma: Option<f64>,
    /// Local slope over ranks `k/2..k`.
    pub local_slope: Option<f64>,
}

/// The figure record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FigureRecord {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Tool and version that measured.
    pub tool: String,
    /// Git commit the measuring binary was built from.
    pub git_commit: String,
    /// What was analysed (checkpoint or factor file, as given).
    pub source: String,
    /// Layer (weight name).
    pub layer: String,
    /// `(out, in)`.
    pub layer_shape: (usize, usize),
    /// Samples used.
    pub samples: usize,
    /// Loss.
    pub loss: String,
    /// Batch size B of Eq. 2.
    pub batch_size: usize,
    /// Accuracy on the samples.
    pub accuracy: f64,
    /// `H_ii`, top-k, descending.
    pub h_diag: Vec<f64>,
    /// `C_ii`.
    pub c_diag: Vec<f64>,
    /// `C_awd,ii / sigma^2`.
    pub c_awd_diag: Vec<f64>,
    /// The fit of `C_ii`.
    pub fit_c: Option<Fit>,
    /// The fit of `C_awd,ii`.
    pub fit_awd: Option<Fit>,
    /// gamma(k).
    pub gamma_k: Vec<GammaAt>,
    /// The primary k of the bootstrap.
    pub primary_k: Option<usize>,
    /// gamma's bootstrap interval at the primary k.
    pub gamma_ci: Option<(f64, f64)>,
    /// `rho_bar` of `C'` over the top-k.
    pub rho_bar: Option<f64>,
    /// Side n of the coupling block.
    pub block_n: usize,
    /// The top `n x n` block of `C' = V^T C V`, row-major.
    pub block: Vec<f64>,
    /// Seed of the null panel's Haar rotation.
    pub null_seed: u64,
}

impl FigureRecord {
    /// The record of `r`, analysed from `source`, with `tool` and
    /// `git_commit` naming the build.
    pub fn from_layer(r: &LayerReport, source: &str, tool: &str, git_commit: &str) -> Self {
        let fit = |f: &std::result::Result<crate::fit::GammaFit, crate::error::Failure>| {
            f.as_ref().ok().map(|f| Fit {
                gamma: f.gamma,
                intercept: f.intercept,
                r_squared: f.r_squared,
                points_used: f.points_used,
            })
        };
        let u = r.gamma_uncertainty.as_ref().ok();
        let (block_n, block) = r.coupling_block.clone().unwrap_or((0, Vec::new()));
        FigureRecord {
            schema_version: SCHEMA_VERSION,
            tool: tool.into(),
            git_commit: git_commit.into(),
            source: source.into(),
            layer: r.layer.clone(),
            layer_shape: r.layer_shape,
            samples: r.samples,
            loss: r.loss.short().to_string(),
            batch_size: r.batch_size,
            accuracy: r.accuracy,
            h_diag: r.h_diag.clone(),
            c_diag: r.c_diag.clone(),
            c_awd_diag: r.c_awd_diag.clone(),
            fit_c: fit(&r.gamma),
            fit_awd: fit(&r.gamma_awd),
            gamma_k: u
                .map(|u| {
                    u.curve
                        .iter()
                        .map(|c| GammaAt {
                            k: c.k,
                            gamma: c.gamma,
                            local_slope: c.local_slope,
                        })
                        .collect()
                })
                .unwrap_or_default(),
            primary_k: u.map(|u| u.primary_k),
            gamma_ci: u.and_then(|u| u.bootstrap.as_ref().ok().map(|b| b.gamma_ci)),
            rho_bar: r.coupling_c.as_ref().ok().map(|c| c.coupling.rho_bar),
            block_n,
            block,
            null_seed: NULL_SEED,
        }
    }

    /// The figures of the record as `(file name, SVG)`: the central
    /// figure, gamma(k) and, when the block is kept, the heatmap.
    pub fn figures(&self, label: &str) -> Result<Vec<(String, String)>> {
        let law = |f: &Option<Fit>| {
            f.map(|f| PowerLaw {
                gamma: f.gamma,
                intercept: f.intercept,
            })
        };
        let window = self.h_diag.len();
        let mut out = vec![(
            "central-loglog.svg".to_string(),
            super::loglog::render(&LogLog {
                title: &format!("C_ii and C_awd,ii against H_ii: {label}"),
                h: &self.h_diag,
                c: &self.c_diag,
                c_awd: &self.c_awd_diag,
                fit_c: law(&self.fit_c),
                fit_awd: law(&self.fit_awd),
                window,
            })?,
        )];
        if !self.gamma_k.is_empty() {
            let curve: Vec<AtK> = self
                .gamma_k
                .iter()
                .map(|g| AtK {
                    k: g.k,
                    gamma: g.gamma,
                    local_slope: g.local_slope,
                })
                .collect();
            let primary = match (self.primary_k, self.fit_c) {
                (Some(k), Some(f)) => Some((k, f.gamma, self.gamma_ci)),
                _ => None,
            };
            out.push((
                "gamma-k.svg".to_string(),
                super::gamma_k::render(&GammaK {
                    title: &format!("gamma(k): {label}"),
                    curve: &curve,
                    primary,
                })?,
            ));
        }
        if self.block_n > 0 {
            out.push((
                "coupling-heatmap.svg".to_string(),
                super::heatmap::render(
                    &format!(
                        "|C| in H's eigenbasis, top {0} x {0}: {label}",
                        self.block_n
                    ),
                    &self.block,
                    self.block_n,
                    self.null_seed,
                )?,
            ));
        }
        Ok(out)
    }
}
