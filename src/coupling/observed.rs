//! An observed coupling against its null (claims **C3**, **C4**): `rho_bar`
//! of a user's C in the eigenbasis of their H, the simulated null for C's
//! spectrum, the paper's z and p (App. C mean, App. D SE), the corrected z
//! and p, and the exact Monte Carlo p-value `(1 + #{null <= obs}) / (1 + R)`.

use faer::MatRef;
use serde::Serialize;

use super::baseline::{SimulatedNull, DEFAULT_QUANTILES};
use super::formulas::{corrected_mean, paper_mean, paper_se, z_and_p, SpectrumMoments};
use super::null::{empirical_p, simulate_null};
use super::row_law::corrected_se_row_law;
use super::statistic::coupling_dense;
use crate::error::{Error, Result};
use crate::linalg::{self, check_symmetric};
use crate::stats::summarize;

/// Settings of a coupling test: the simulated null.
#[derive(Debug, Clone, Serialize)]
pub struct CouplingSettings {
    pub rotations: usize,
    pub seed: u64,
}

impl CouplingSettings {
    /// Validates `2 <= rotations <= MAX_ROTATIONS`.
    pub fn new(rotations: usize, seed: u64) -> Result<Self> {
        super::check_rotations(rotations, 2)?;
        Ok(CouplingSettings { rotations, seed })
    }
}

/// z-score and one-sided p-value against one null mean and SE.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ZTest {
    pub mean: f64,
    pub se: f64,
    pub z: f64,
    pub p: f64,
}

impl ZTest {
    fn new(obs: f64, mean: f64, se: f64) -> Self {
        let (z, p) = z_and_p(obs, mean, se);
        ZTest { mean, se, z, p }
    }
}

/// An observed `rho_bar` against the null of its C's spectrum.
#[derive(Debug, Clone, Serialize)]
pub struct CouplingReport {
    pub d: usize,
    /// `mean_{i != j} |rho_ij|` of C in H's eigenbasis.
    pub rho_bar: f64,
    /// Directions with `C'_ii = 0` (excluded, see [`super::statistic`]).
    pub excluded: Vec<usize>,
    /// Rank and effective rank of C.
    pub rank: usize,
    pub k_eff: f64,
    /// The paper's z and p (App. C mean, App. D SE).
    pub paper: ZTest,
    /// z and p from the corrected mean and SE.
    pub corrected: ZTest,
    pub simulated: SimulatedNull,
    /// z against the simulated mean and std.
    pub simulated_z: f64,
    /// Exact Monte Carlo p-value `(1 + #{null <= rho_bar}) / (1 + R)`.
    pub empirical_p: f64,
}

/// How errors name the covariance and the Hessian (e.g. after the files
/// or arguments they came from).
#[derive(Debug, Clone, Copy)]
pub struct MatrixNames<'a> {
    pub cov: &'a str,
    pub hess: &'a str,
}

impl Default for MatrixNames<'_> {
    /// `C` and `H`.
    fn default() -> Self {
        MatrixNames {
            cov: "C",
            hess: "H",
        }
    }
}

/// Bytes [`coupling_test`] allocates on top of its two inputs: C's
/// eigenvalues (a copy and the solver's scratch, `2 d^2`), H's
/// eigenvectors (the vectors, a copy and scratch, `3 d^2`) and `V^T C V`
/// with its intermediate product (`2 d^2`), f64.
pub fn coupling_bytes(d: usize) -> u64 {
    56u64.saturating_mul(d as u64).saturating_mul(d as u64)
}

/// Refuses ([`Error::MemoryLimit`]) a coupling whose [`coupling_bytes`]
/// exceed [`crate::memory::MemoryBudget::from_system`], naming d, the
/// matrices and the largest d that fits.
fn check_coupling_memory(d: usize, names: &MatrixNames<'_>) -> Result<()> {
    let budget = crate::memory::MemoryBudget::from_system()?;
    let fit = ((budget.limit_bytes / 56) as f64).sqrt().floor() as u64;
    budget.check(
        "coupling (eigendecompositions of C and H)",
        coupling_bytes(d),
        &format!(
            "d = {d} ({} and {} are {d} x {d}): at most d = {fit} fits",
            names.cov, names.hess
        ),
    )
}

/// Tests the coupling of a covariance `c` to a Hessian `h` (both d x d):
/// validates (square, same shape, finite, symmetric, C PSD; errors name the
/// matrices by `names`), projects C on H's eigenbasis, and compares
/// `rho_bar` with the null of C's spectrum.
pub fn coupling_test(
    c: MatRef<'_, f64>,
    h: MatRef<'_, f64>,
    names: &MatrixNames<'_>,
    settings: &CouplingSettings,
) -> Result<CouplingReport> {
    check_symmetric(c, names.cov)?;
    check_symmetric(h, names.hess)?;
    if c.nrows() != h.nrows() {
        return Err(Error::shape(
            names.hess,
            format!("{0} x {0} like C", c.nrows()),
            format!("{0} x {0}", h.nrows()),
        ));
    }
    let d = c.nrows();
    if d < 2 {
        return Err(Error::param("d", d, "the coupling needs d >= 2"));
    }
    check_coupling_memory(d, names)?;
    let mu = linalg::sym_eigenvalues(c, names.cov)?;
    if !linalg::spectrum_is_psd(&mu, d) {
        let norm = mu.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        return Err(Error::NotPsd {
            input: names.cov.into(),
            min_eig: mu.iter().cloned().fold(f64::INFINITY, f64::min),
            tol: linalg::psd_tolerance(d, norm),
        });
    }
    let v = linalg::sym_eig(h, names.hess)?.vectors;
    let obs = coupling_dense(c, v.as_ref())?;
    let m = SpectrumMoments::of(&mu, d)?;
    let null = simulate_null(&mu, d, settings.rotations, settings.seed)?;
    let s = summarize(&null.rho_bar, &DEFAULT_QUANTILES)?;
    let pm = paper_mean(&m);
    Ok(CouplingReport {
        d,
        rho_bar: obs.rho_bar,
        excluded: obs.excluded,
        rank: null.rank,
        k_eff: m.k_eff(),
        paper: ZTest::new(obs.rho_bar, pm, paper_se(pm, d)),
        corrected: ZTest::new(
            obs.rho_bar,
            corrected_mean(&m, d),
            corrected_se_row_law(&mu, d)?,
        ),
        simulated_z: (obs.rho_bar - s.mean) / s.std,
        empirical_p: empirical_p(obs.rho_bar, &null.rho_bar),
        simulated: SimulatedNull::from_summary(&s, settings.seed),
    })
}
