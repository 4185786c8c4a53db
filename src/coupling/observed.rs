//! An observed coupling against its null (claims **C3**, **C4**): `rho_bar`
//! of a user's C in the eigenbasis of their H, the simulated null for C's
//! spectrum, the paper's z and p (App. C mean, App. D SE), the corrected z
//! and p, and the exact Monte Carlo p-value `(1 + #{null <= obs}) / (1 + R)`.
//!
//! The p-value to report is the Monte Carlo one (`p_report`): the paper's
//! z rests on the App. C mean and App. D SE, which C3 and C4 find biased, and
//! the corrected z on a normal approximation. It cannot be smaller than
//! `1/(R+1)`, the floor of R rotations; `p_at_floor` says when it sits there
//! (the true p is then at most the floor, and more rotations resolve it).
//!
//! Inputs are checked at the precision they carry: symmetry to
//! `100 d eps max|A_ij|` and C's PSD-ness to `30 d eps ||C||_2`, with `eps`
//! the unit roundoff of the file's dtype (f32's for float32). Within that
//! tolerance the matrix is used as `(A + A^T)/2`, and a float32 C's negative
//! eigenvalues (rounding) are set to 0; beyond it the input is refused
//! unless `symmetrize` asks for `(A + A^T)/2`, which the report states.

use faer::MatRef;
use serde::Serialize;

use super::baseline::{SimulatedNull, DEFAULT_QUANTILES};
use super::formulas::{corrected_mean, paper_mean, paper_se, z_and_p, SpectrumMoments};
use super::null::{empirical_p, simulate_null};
use super::row_law::corrected_se_row_law;
use super::statistic::coupling_of_projected;
use crate::error::{Error, Result};
use crate::linalg;
use crate::stats::summarize;

/// Settings of a coupling test: the simulated null and how the inputs are read.
#[derive(Debug, Clone, Serialize)]
pub struct CouplingSettings {
    pub rotations: usize,
    pub seed: u64,
    /// Unit roundoff of C's values (f32's for a float32 file).
    pub cov_eps: f64,
    /// Unit roundoff of H's values.
    pub hess_eps: f64,
    /// Use `(A + A^T)/2` of an input asymmetric beyond its tolerance
    /// instead of refusing it.
    pub symmetrize: bool,
}

impl CouplingSettings {
    /// Validates `2 <= rotations <= MAX_ROTATIONS`; inputs in float64, not
    /// symmetrized.
    pub fn new(rotations: usize, seed: u64) -> Result<Self> {
        super::check_rotations(rotations, 2)?;
        Ok(CouplingSettings {
            rotations,
            seed,
            cov_eps: f64::EPSILON,
            hess_eps: f64::EPSILON,
            symmetrize: false,
        })
    }

    /// The same settings for inputs of unit roundoff `cov_eps` (C) and
    /// `hess_eps` (H), symmetrized when `symmetrize`.
    pub fn with_inputs(mut self, cov_eps: f64, hess_eps: f64, symmetrize: bool) -> Self {
        self.cov_eps = cov_eps;
        self.hess_eps = hess_eps;
        self.symmetrize = symmetrize;
        self
    }
}

/// How one input matrix was checked and what was used of it.
#[derive(Debug, Clone, Serialize)]
pub struct InputCheck {
    /// The unit roundoff the tolerances were scaled with.
    pub eps: f64,
    /// `max |A_ij - A_ji|` as read.
    pub max_asymmetry: f64,
    /// The symmetry tolerance `100 d eps max|A_ij|`.
    pub tolerance: f64,
    /// Whether `(A + A^T)/2` replaced an input asymmetric beyond tolerance
    /// (the `symmetrize` setting).
    pub symmetrized: bool,
    /// C only: the most negative eigenvalue set to 0 (within the PSD
    /// tolerance of a lower-precision input), if any.
    pub clipped_min_eigenvalue: Option<f64>,
}

/// Both inputs' checks.
#[derive(Debug, Clone, Serialize)]
pub struct InputChecks {
    pub cov: InputCheck,
    pub hess: InputCheck,
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
    /// The p-value to report: the Monte Carlo one (`empirical_p`).
    pub p_report: f64,
    /// Which p `p_report` is: "simulated Monte Carlo".
    pub p_report_source: String,
    /// `1/(R+1)`, the smallest Monte Carlo p that R rotations can give.
    pub p_floor: f64,
    /// Whether `p_report` is at the floor (then p <= `p_floor`).
    pub p_at_floor: bool,
    /// How the inputs were checked (tolerances at their precision).
    pub inputs: InputChecks,
}

/// Validates one input at unit roundoff `eps` and returns `(A + A^T)/2`
/// with its check; refuses asymmetry beyond tolerance unless `symmetrize`.
fn symmetric_input(
    a: MatRef<'_, f64>,
    input: &str,
    eps: f64,
    symmetrize: bool,
) -> Result<(faer::Mat<f64>, InputCheck)> {
    let (max_asym, tol) = linalg::asymmetry_at(a, input, eps)?;
    if max_asym > tol && !symmetrize {
        return Err(Error::NotSymmetric {
            input: input.to_string(),
            max_asym,
            tol,
        });
    }
    let sym = faer::Mat::from_fn(a.nrows(), a.ncols(), |i, j| 0.5 * (a[(i, j)] + a[(j, i)]));
    let check = InputCheck {
        eps,
        max_asymmetry: max_asym,
        tolerance: tol,
        symmetrized: symmetrize && max_asym > tol,
        clipped_min_eigenvalue: None,
    };
    Ok((sym, check))
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
    let (mut c, mut cov_check) =
        symmetric_input(c, names.cov, settings.cov_eps, settings.symmetrize)?;
    let (h, hess_check) = symmetric_input(h, names.hess, settings.hess_eps, settings.symmetrize)?;
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
    let eig_c = linalg::sym_eig(c.as_ref(), names.cov)?;
    let mut mu = eig_c.values.clone();
    let norm = mu.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let min = mu.iter().cloned().fold(f64::INFINITY, f64::min);
    let psd_tol = linalg::psd_tolerance_at(d, norm, settings.cov_eps);
    if min < -psd_tol {
        return Err(Error::NotPsd {
            input: names.cov.into(),
            min_eig: min,
            tol: psd_tol,
        });
    }
    if min < -linalg::psd_tolerance(d, norm) {
        // Negative within the input's own rounding: C = U max(mu, 0) U^T.
        mu.iter_mut().for_each(|m| *m = m.max(0.0));
        let u = &eig_c.vectors;
        c = faer::Mat::from_fn(d, d, |i, j| {
            (0..d).map(|k| u[(i, k)] * mu[k] * u[(j, k)]).sum()
        });
        cov_check.clipped_min_eigenvalue = Some(min);
    }
    let v = linalg::sym_eig(h.as_ref(), names.hess)?.vectors;
    let cp = v.transpose() * c.as_ref() * v.as_ref();
    let cp = faer::Mat::from_fn(d, d, |i, j| 0.5 * (cp[(i, j)] + cp[(j, i)]));
    let obs = coupling_of_projected(cp.as_ref(), "C' = V^T C V")?;
    let m = SpectrumMoments::of(&mu, d)?;
    let null = simulate_null(&mu, d, settings.rotations, settings.seed)?;
    let s = summarize(&null.rho_bar, &DEFAULT_QUANTILES)?;
    let pm = paper_mean(&m);
    let empirical = empirical_p(obs.rho_bar, &null.rho_bar);
    let p_floor = 1.0 / (settings.rotations as f64 + 1.0);
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
        empirical_p: empirical,
        p_report: empirical,
        p_report_source: "simulated Monte Carlo".into(),
        p_floor,
        p_at_floor: empirical <= p_floor * (1.0 + 1e-12),
        inputs: InputChecks {
            cov: cov_check,
            hess: hess_check,
        },
        simulated: SimulatedNull::from_summary(&s, settings.seed),
    })
}
