//! The formula-against-null grid of claims **C3** and **C4**: for each
//! dimension d and spectrum, the simulated null of `rho_bar` (Haar rotations)
//! against the paper's mean (App. C) and standard error (App. D), against our
//! corrected mean and SE ([`super::formulas`]) and against the superseded SE
//! generations ([`super::superseded`]); `theory/coupling-null.md` derives
//! them.
//!
//! Figures per point: `rel_err = (formula - simulated_mean) / simulated_mean`
//! and `se_ratio = simulated_std / SE_formula`. The full grid is long (minutes
//! at d = 2500) and its record is committed (`theory/coupling-null.json`,
//! [`GridResults`]); `verify` runs a small slice ([`verify_slice`]), and a
//! record can be re-scored against the formulas without simulating
//! ([`rescore`]).

use serde::Serialize;

use super::baseline::DEFAULT_SEED;
use super::formulas::{corrected_mean, corrected_mean_sq, paper_mean, paper_se, SpectrumMoments};
use super::null::simulate_null;
use super::row_law::corrected_se_row_law;
use super::spectrum::Spectrum;
use super::superseded::{se_quadratic, se_row_law_gaussian};
use crate::error::{Error, Result};
use crate::stats::{mean, summarize};

/// Settings of a grid run.
#[derive(Debug, Clone, Serialize)]
pub struct GridSettings {
    /// Dimensions, with the number of rotations at each (the d^3 points are
    /// costly at large d).
    pub ds: Vec<(usize, usize)>,
    /// Master seed; the point for (d, spectrum) uses `seed + d + 7919 * index`.
    pub seed: u64,
}

/// Rotations at dimension d when none are given: 200 up to d = 300, 100 up
/// to d = 1000, 40 above (a full-rank point costs a d x d QR per rotation).
pub fn default_rotations(d: usize) -> usize {
    if d <= 300 {
        200
    } else if d <= 1000 {
        100
    } else {
        40
    }
}

impl GridSettings {
    /// Validated settings: dimensions `ds` (default: the five of
    /// [`GridSettings::default`]), each at least 2 and distinct, kept in the
    /// order given; `rotations` for every d (at least 2) or
    /// [`default_rotations`]. Errors name the parameters `d` and `rotations`.
    pub fn new(ds: Option<&[usize]>, rotations: Option<usize>, seed: u64) -> Result<Self> {
        let default = GridSettings::default();
        let dims: Vec<usize> = match ds {
            None => default.ds.iter().map(|&(d, _)| d).collect(),
            Some(v) => v.to_vec(),
        };
        if dims.is_empty() {
            return Err(Error::empty("d", "no dimension given"));
        }
        if let Some(&d) = dims.iter().find(|&&d| d < 2) {
            return Err(Error::param("d", d, "the coupling needs d >= 2"));
        }
        if let Some(&d) = dims.iter().find(|&&d| d > super::MAX_D) {
            return Err(Error::param(
                "d",
                d,
                format!("at most {} is supported", super::MAX_D),
            ));
        }
        for (i, d) in dims.iter().enumerate() {
            if dims[..i].contains(d) {
                return Err(Error::param("d", d, "listed twice"));
            }
        }
        if let Some(r) = rotations {
            if r < 2 {
                return Err(Error::param(
                    "rotations",
                    r,
                    "must be at least 2 (a std needs two draws)",
                ));
            }
            if r > super::MAX_ROTATIONS {
                return Err(Error::param(
                    "rotations",
                    r,
                    format!("at most {} is supported", super::MAX_ROTATIONS),
                ));
            }
        }
        Ok(GridSettings {
            ds: dims
                .into_iter()
                .map(|d| (d, rotations.unwrap_or_else(|| default_rotations(d))))
                .collect(),
            seed,
        })
    }
}

impl Default for GridSettings {
    /// The committed grid: d in {50, 100, 300, 1000, 2500} with 200, 200,
    /// 200, 100 and 40 rotations.
    fn default() -> Self {
        GridSettings {
            ds: vec![(50, 200), (100, 200), (300, 200), (1000, 100), (2500, 40)],
            seed: DEFAULT_SEED,
        }
    }
}

/// The spectra of the grid at dimension d: k equal spikes for
/// k in {1, 2, 3, 5, 10, 30, 100, d/3} (k <= d), power laws `i^-alpha` over all
/// d directions for alpha in {0.5, 1, 2}, and 10 spikes on a bulk of relative
/// height 0.001 and 0.01.
pub fn grid_spectra(d: usize) -> Vec<Spectrum> {
    let mut ks: Vec<usize> = [1, 2, 3, 5, 10, 30, 100, d / 3]
        .into_iter()
        .filter(|&k| k >= 1 && k <= d)
        .collect();
    ks.sort_unstable();
    ks.dedup();
    let mut v: Vec<Spectrum> = ks.into_iter().map(|k| Spectrum::Spikes { k }).collect();
    for alpha in [0.5, 1.0, 2.0] {
        v.push(Spectrum::Power { alpha, k: None });
    }
    for ratio in [0.001, 0.01] {
        if d > 10 {
            v.push(Spectrum::SpikesBulk { k: 10, ratio });
        }
    }
    v
}

/// One grid point.
#[derive(Debug, Clone, Serialize)]
pub struct GridPoint {
    pub d: usize,
    pub spectrum: String,
    pub rank: usize,
    pub k_eff: f64,
    /// `1 / E rho^2` in the Gaussian-row limit (see
    /// [`super::formulas::gaussian_rho_sq`]).
    pub k_rho: f64,
    pub rotations: usize,
    pub seed: u64,
    /// Simulated null mean of `rho_bar` and its Monte Carlo standard error.
    pub simulated_mean: f64,
    pub simulated_mean_mcse: f64,
    /// Simulated null standard deviation of `rho_bar`.
    pub simulated_std: f64,
    /// Simulated `E rho^2` (mean over rotations of `mean_{i != j} rho_ij^2`).
    pub simulated_mean_rho_sq: f64,
    /// Corrected `E rho^2 = (d - k_rho) / (k_rho (d - 1))`.
    pub corrected_mean_rho_sq: f64,
    pub paper_mean: f64,
    pub corrected_mean: f64,
    pub paper_mean_rel_err: f64,
    pub corrected_mean_rel_err: f64,
    pub paper_se: f64,
    /// The superseded quadratic-estimate SE ([`se_quadratic`]).
    pub quadratic_se: f64,
    /// `simulated_std / paper_se`.
    pub paper_se_ratio: f64,
    /// `simulated_std / quadratic_se` (recorded as `corrected_se_ratio`).
    pub quadratic_se_ratio: f64,
    /// The corrected SE with the first-order term from the exact law of the
    /// row ratio with Haar partners ([`corrected_se_row_law`]).
    pub row_law_se: f64,
    /// `simulated_std / row_law_se`.
    pub row_law_se_ratio: f64,
    /// `simulated_std` over the superseded row-law SE with independent
    /// Gaussian partners ([`se_row_law_gaussian`], section 3(d)).
    pub gaussian_row_law_se_ratio: f64,
}

/// Below this a simulated `rho_bar` is rounding noise around an exact 0 (k = d).
pub const ZERO: f64 = 1e-12;

fn rel_err(formula: f64, sim: f64) -> f64 {
    if sim.abs() <= ZERO {
        if formula.abs() <= ZERO {
            0.0
        } else {
            f64::INFINITY
        }
    } else {
        (formula - sim) / sim
    }
}

fn ratio(num: f64, den: f64) -> f64 {
    if den == 0.0 {
        if num.abs() < 1e-15 {
            1.0
        } else {
            f64::INFINITY
        }
    } else {
        num / den
    }
}

/// Simulates one point and compares it with the formulas.
pub fn grid_point(
    d: usize,
    mu: &[f64],
    label: &str,
    rotations: usize,
    seed: u64,
) -> Result<GridPoint> {
    let null = simulate_null(mu, d, rotations, seed)?;
    let s = summarize(&null.rho_bar, &[])?;
    let rho_sq = mean(&null.mean_rho_sq);
    compare_point(d, mu, label, rotations, seed, s.mean, s.std, rho_sq)
}

/// Compares already simulated null figures (mean, std, mean rho^2 over
/// `rotations` rotations) with the formulas: lets a committed grid be
/// re-scored after a formula changes without re-simulating.
#[allow(clippy::too_many_arguments)]
pub fn compare_point(
    d: usize,
    mu: &[f64],
    label: &str,
    rotations: usize,
    seed: u64,
    sim_mean: f64,
    sim_std: f64,
    sim_rho_sq: f64,
) -> Result<GridPoint> {
    let m = SpectrumMoments::of(mu, d)?;
    let rank = mu.iter().filter(|&&x| x > 0.0).count();
    let pm = paper_mean(&m);
    let cm = corrected_mean(&m, d);
    let pse = paper_se(pm, d);
    let qse = se_quadratic(&m, d);
    let rse = corrected_se_row_law(mu, d)?;
    let gse = se_row_law_gaussian(mu, d)?;
    Ok(GridPoint {
        d,
        spectrum: label.to_string(),
        rank,
        k_eff: m.k_eff(),
        k_rho: m.k_rho,
        rotations,
        seed,
        simulated_mean: sim_mean,
        simulated_mean_mcse: sim_std / (rotations as f64).sqrt(),
        simulated_std: sim_std,
        simulated_mean_rho_sq: sim_rho_sq,
        corrected_mean_rho_sq: corrected_mean_sq(&m, d),
        paper_mean: pm,
        corrected_mean: cm,
        paper_mean_rel_err: rel_err(pm, sim_mean),
        corrected_mean_rel_err: rel_err(cm, sim_mean),
        paper_se: pse,
        quadratic_se: qse,
        paper_se_ratio: ratio(sim_std, pse),
        quadratic_se_ratio: ratio(sim_std, qse),
        row_law_se: rse,
        row_law_se_ratio: ratio(sim_std, rse),
        gaussian_row_law_se_ratio: ratio(sim_std, gse),
    })
}

/// Re-scores committed results against the current formulas (no simulation).
pub fn rescore(results: &GridResults) -> Result<Vec<GridPoint>> {
    let no_file = |_: &std::path::Path| -> Result<Vec<f64>> { Ok(vec![]) };
    results
        .points
        .iter()
        .map(|p| {
            let mu = Spectrum::parse(&p.spectrum)?.eigenvalues(p.d, &no_file)?;
            compare_point(
                p.d,
                &mu,
                &p.spectrum,
                p.rotations,
                p.seed,
                p.simulated_mean,
                p.simulated_std,
                p.simulated_mean_rho_sq,
            )
        })
        .collect()
}

/// Runs the grid, skipping the points `skip(d, spectrum)` says are done;
/// `progress` is called after each point (e.g. to print or save it).
pub fn run_grid(
    settings: &GridSettings,
    skip: &dyn Fn(usize, &str) -> bool,
    progress: &mut dyn FnMut(&GridPoint),
) -> Result<Vec<GridPoint>> {
    let mut out = Vec::new();
    let no_file = |_: &std::path::Path| -> Result<Vec<f64>> { Ok(vec![]) };
    for &(d, rotations) in &settings.ds {
        for (index, spec) in grid_spectra(d).into_iter().enumerate() {
            let label = spec.to_string();
            if skip(d, &label) {
                continue;
            }
            let mu = spec.eigenvalues(d, &no_file)?;
            let seed = settings.seed + d as u64 + 7919 * index as u64;
            let point = grid_point(d, &mu, &label, rotations, seed)?;
            progress(&point);
            out.push(point);
        }
    }
    Ok(out)
}

/// Version of the [`GridResults`] layout.
pub const GRID_SCHEMA_VERSION: u32 = 1;

fn grid_schema() -> u32 {
    GRID_SCHEMA_VERSION
}

/// A finished grid with its settings and the command that produced it: what
/// `theory/coupling-null.json` holds.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct GridResults {
    /// [`GRID_SCHEMA_VERSION`] (files written before the field: the same layout).
    #[serde(default = "grid_schema")]
    pub schema_version: u32,
    pub command: String,
    pub settings: GridSettingsRecord,
    pub points: Vec<GridPointRecord>,
}

/// The settings as recorded in the results file.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct GridSettingsRecord {
    /// `(d, rotations)` pairs.
    pub ds: Vec<(usize, usize)>,
    pub seed: u64,
}

/// The per-point figures as recorded (non-finite values as null).
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct GridPointRecord {
    pub d: usize,
    pub spectrum: String,
    pub k_eff: f64,
    pub k_rho: f64,
    pub rotations: usize,
    pub seed: u64,
    pub simulated_mean: f64,
    pub simulated_std: f64,
    pub simulated_mean_rho_sq: f64,
    pub paper_mean_rel_err: Option<f64>,
    pub corrected_mean_rel_err: Option<f64>,
    pub paper_se_ratio: Option<f64>,
    /// `simulated_std` over the superseded quadratic-estimate SE.
    pub corrected_se_ratio: Option<f64>,
    /// Absent in files written before the row-law SE existed.
    #[serde(default)]
    pub row_law_se_ratio: Option<f64>,
    /// Absent in files written before the Haar-partner row law existed.
    #[serde(default)]
    pub gaussian_row_law_se_ratio: Option<f64>,
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

impl GridResults {
    /// Packs a run made by `command` for writing.
    pub fn new(command: &str, s: &GridSettings, points: &[GridPoint]) -> Self {
        GridResults {
            schema_version: GRID_SCHEMA_VERSION,
            command: command.to_string(),
            settings: GridSettingsRecord {
                ds: s.ds.clone(),
                seed: s.seed,
            },
            points: points
                .iter()
                .map(|p| GridPointRecord {
                    d: p.d,
                    spectrum: p.spectrum.clone(),
                    k_eff: p.k_eff,
                    k_rho: p.k_rho,
                    rotations: p.rotations,
                    seed: p.seed,
                    simulated_mean: p.simulated_mean,
                    simulated_std: p.simulated_std,
                    simulated_mean_rho_sq: p.simulated_mean_rho_sq,
                    paper_mean_rel_err: finite(p.paper_mean_rel_err),
                    corrected_mean_rel_err: finite(p.corrected_mean_rel_err),
                    paper_se_ratio: finite(p.paper_se_ratio),
                    corrected_se_ratio: finite(p.quadratic_se_ratio),
                    row_law_se_ratio: finite(p.row_law_se_ratio),
                    gaussian_row_law_se_ratio: finite(p.gaussian_row_law_se_ratio),
                })
                .collect(),
        }
    }
}

/// The dimension of the verify-time slice.
pub const SLICE_D: usize = 200;

/// The small representative slice `verify` runs (d = 200, a second or two):
/// spikes k in {1, 2, 5, 10, 30, d/3}, power laws alpha in {1, 2} over all d,
/// and 10 spikes on a 0.01 bulk, `rotations` each.
pub fn verify_slice(rotations: usize, seed: u64) -> Result<Vec<GridPoint>> {
    let d = SLICE_D;
    let mut spectra: Vec<Spectrum> = [1, 2, 5, 10, 30, d / 3]
        .into_iter()
        .map(|k| Spectrum::Spikes { k })
        .collect();
    spectra.push(Spectrum::Power {
        alpha: 1.0,
        k: None,
    });
    spectra.push(Spectrum::Power {
        alpha: 2.0,
        k: None,
    });
    spectra.push(Spectrum::SpikesBulk { k: 10, ratio: 0.01 });
    let no_file = |_: &std::path::Path| -> Result<Vec<f64>> { Ok(vec![]) };
    spectra
        .iter()
        .enumerate()
        .map(|(p, spec)| {
            let mu = spec.eigenvalues(d, &no_file)?;
            grid_point(
                d,
                &mu,
                &spec.to_string(),
                rotations,
                seed.wrapping_add(p as u64),
            )
        })
        .collect()
}

/// The grid results committed in `theory/coupling-null.json` (a
/// [`GridResults`] record), embedded at build time.
pub const COMMITTED_RESULTS: &str = include_str!("../../theory/coupling-null.json");

/// Parses [`COMMITTED_RESULTS`].
pub fn committed_results() -> Result<GridResults> {
    serde_json::from_str(COMMITTED_RESULTS).map_err(|e| crate::error::Error::Io {
        path: "theory/coupling-null.json".into(),
        message: format!("invalid grid results: {e}"),
    })
}
