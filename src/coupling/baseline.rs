//! A spectrum's null of the coupling `rho_bar` (claims **C3**, **C4**), by
//! formula and by simulation side by side: the paper's mean (App. C) and SE
//! (App. D), our corrected mean and SE ([`super::formulas`]), and the
//! simulated Haar null (`simulated_mean`, std, quantiles; [`super::null`]).

use std::path::Path;

use serde::Serialize;

use super::formulas::{corrected_mean, paper_mean, paper_se, SpectrumMoments};
use super::null::simulate_null;
use super::row_law::corrected_se_row_law;
use super::spectrum::Spectrum;
use crate::error::Result;
use crate::stats::{summarize, Quantile, Summary};

/// Default number of Haar rotations of the simulated null.
pub const DEFAULT_ROTATIONS: usize = 200;
/// Default master seed.
pub const DEFAULT_SEED: u64 = 20260205;

/// The quantile probabilities of the simulated null that reports carry.
pub const DEFAULT_QUANTILES: [f64; 5] = [0.01, 0.05, 0.5, 0.95, 0.99];

/// Settings of a baseline: dimension, spectrum and the simulated null.
#[derive(Debug, Clone, Serialize)]
pub struct BaselineSettings {
    pub d: usize,
    pub spectrum: Spectrum,
    pub rotations: usize,
    pub seed: u64,
}

impl BaselineSettings {
    /// Validates `2 <= d <= MAX_D` and `2 <= rotations <= MAX_ROTATIONS` (a
    /// std needs two draws).
    pub fn new(d: usize, spectrum: Spectrum, rotations: usize, seed: u64) -> Result<Self> {
        super::check_dimension(d)?;
        super::check_rotations(rotations, 2)?;
        Ok(BaselineSettings {
            d,
            spectrum,
            rotations,
            seed,
        })
    }
}

/// A formula's mean and SE.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct FormulaNull {
    pub mean: f64,
    pub se: f64,
}

/// The simulated null.
#[derive(Debug, Clone, Serialize)]
pub struct SimulatedNull {
    pub rotations: usize,
    pub seed: u64,
    pub simulated_mean: f64,
    pub std: f64,
    pub quantiles: Vec<Quantile>,
}

impl SimulatedNull {
    pub(super) fn from_summary(s: &Summary, seed: u64) -> Self {
        SimulatedNull {
            rotations: s.n,
            seed,
            simulated_mean: s.mean,
            std: s.std,
            quantiles: s.quantiles.clone(),
        }
    }
}

/// A spectrum's null of `rho_bar`: formulas and simulation side by side.
#[derive(Debug, Clone, Serialize)]
pub struct BaselineReport {
    pub d: usize,
    pub spectrum: String,
    /// Number of positive eigenvalues.
    pub rank: usize,
    /// `k_eff = (sum mu)^2 / sum mu^2`.
    pub k_eff: f64,
    /// App. C mean and App. D SE.
    pub paper: FormulaNull,
    /// Our corrected mean and SE (`theory/coupling-null.md`).
    pub corrected: FormulaNull,
    pub simulated: SimulatedNull,
}

/// The null of `rho_bar` for `settings.spectrum` in dimension d: the paper's
/// and the corrected mean and SE, and the simulated null's mean, std and
/// quantiles; `load` reads the eigenvalues of a `file:` spectrum.
pub fn baseline_null(
    settings: &BaselineSettings,
    load: &dyn Fn(&Path) -> Result<Vec<f64>>,
) -> Result<BaselineReport> {
    let d = settings.d;
    let mu = settings.spectrum.eigenvalues(d, load)?;
    let m = SpectrumMoments::of(&mu, d)?;
    let null = simulate_null(&mu, d, settings.rotations, settings.seed)?;
    let s = summarize(&null.rho_bar, &DEFAULT_QUANTILES)?;
    let pm = paper_mean(&m);
    Ok(BaselineReport {
        d,
        spectrum: settings.spectrum.to_string(),
        rank: null.rank,
        k_eff: m.k_eff(),
        paper: FormulaNull {
            mean: pm,
            se: paper_se(pm, d),
        },
        corrected: FormulaNull {
            mean: corrected_mean(&m, d),
            se: corrected_se_row_law(&mu, d)?,
        },
        simulated: SimulatedNull::from_summary(&s, settings.seed),
    })
}
