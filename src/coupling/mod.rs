//! The scale-invariant coupling of a noise covariance C to a Hessian H, its
//! random baseline by exact simulation, and the paper's approximations of that
//! baseline (claims **C3** and **C4**).
//!
//! # The statistic (C3, Eq. 6-7)
//! With `H = V diag(lambda) V^T`, `C' = V^T C V`,
//! `rho_ij = C'_ij / sqrt(C'_ii C'_jj)` and
//! `rho_bar = mean_{i != j} |rho_ij|` (over the `n (n - 1)` ordered pairs).
//!
//! If C is given in factored form `C = F diag(mu) F^T` (F d x r, mu >= 0), then
//! `C' = W W^T` with `W = V^T F diag(sqrt(mu))` (d x r), so `rho_ij` is the
//! cosine of the angle between rows `w_i`, `w_j` of W. We compute
//! `sum_{i < j} |cos(w_i, w_j)|` block by block from the normalised rows: the
//! d x d matrices C and C' are never formed and the work is `d^2 r` (plus
//! `d^2 r` for `V^T F`), not `d^3`.
//!
//! **Zero-variance rule.** A direction with `C'_ii <= 30 d eps max_j C'_jj`
//! (zero variance to rounding) has `rho_ij = 0/0`. Such directions are excluded:
//! `rho_bar` is the mean over ordered pairs of the `n_used` remaining
//! directions, and the excluded indices are reported. Fewer than two
//! remaining directions is an error. `|rho_ij|` is clamped to 1 (it can exceed
//! 1 only by rounding, since C is PSD).
//!
//! # The null (C3)
//! Under the null C's eigenvectors are Haar-random: `C_rot = Q C Q^T`. Since
//! `V^T Q` is again Haar, `C'_rot = U diag(mu) U^T` with U the first r columns of
//! a Haar matrix, a Haar d x r frame, whatever V is: the null depends only on
//! C's spectrum and d, each rotation costs one d x r QR and one `d^2 r` Gram
//! pass. Rotation `t` draws from `seeded_stream(seed, t)`, each rotation runs
//! single-threaded, and rayon spreads rotations over threads, so the samples
//! are identical for any thread count.
//!
//! # The paper's formulas (C3 App. C, C4 App. D)
//! - mean: `mu0 = sqrt(2/pi) sqrt(S2) / S1`, `S_p = sum_k mu_k^p`; for k equal
//!   spikes `sqrt(2/(pi k))`. Equivalently `sqrt(2/(pi k_eff))` with the
//!   effective rank `k_eff = S1^2 / S2`.
//! - `SE = mu0 sqrt(pi/2 - 1) / sqrt(M)`, `M = d (d - 1)`,
//!   `z = (rho_obs - mu0) / SE`, one-sided `p = Phi(z)`.
//!
//! # Corrections (derived in `theory/coupling-null.md`, checked on the grid)
//! - mean: `mu_c = G(k_rho) sqrt((d - k_rho) / (d - 1))` with
//!   `G(k) = Gamma(k/2) / (sqrt(pi) Gamma((k+1)/2))`, the exact mean |cosine|
//!   of two independent isotropic vectors in R^k (the paper's
//!   concentrated-diagonal step replaces it by `sqrt(2/(pi k))`, exact only as
//!   `k -> inf`; `G(1) = 1`); `k_rho = 1 / E[rho^2]` for independent Gaussian
//!   rows `N(0, diag(mu))`, computed exactly by one-dimensional integrals
//!   ([`gaussian_rho_sq`]; `k_rho = k` for equal spikes, `k_rho > k_eff`
//!   otherwise, because `C'_ii` and `C'_ij` fluctuate together); and
//!   `(d - k)/(d - 1)` the finite-d factor from the orthogonality of Haar rows
//!   (it makes `mu_c = 0` at `C = I`, where `rho_bar = 0` exactly).
//! - SE: `rho_bar` is a U-statistic of order 2 in the d rows of
//!   `W = U diag(sqrt(mu))`. Its degenerate part
//!   ([`corrected_var_degenerate`]) is `2/M` (not `1/M`: `rho_ij = rho_ji`)
//!   times `Var|rho|` less the degree-2 harmonic part that `U^T U = I`
//!   suppresses; its first-order part is zero for equal spikes and of order
//!   `1/d` (not `1/d^2`) otherwise: [`corrected_var_first_order`] is the
//!   session-1 quadratic estimate (off by up to 2.2x on power laws),
//!   [`row_law::first_order_var`] the one from the exact law of the row ratio
//!   `R(w) = sum c_k w_k^2 / |w|^2` (Imhof) with independent Gaussian partners
//!   ([`corrected_se_row_law_gaussian`], 1.3-1.8x too small for power:0.5),
//!   and [`row_law::first_order_var_haar`] the one with the partners of a
//!   Haar row, `R_H = (d R - |w|^2/S1) / (d - 1)`, used by
//!   [`corrected_se_row_law`], which `baseline` and `coupling` print (within
//!   20% of the simulated std at 56 of the 57 nondegenerate grid points, see
//!   `theory/coupling-null.md`).
//!
//! Formulas never replace the simulation: `baseline` and `coupling` print the
//! simulated null beside them, and the exact Monte Carlo p-value.

use faer::linalg::matmul::matmul;
use faer::reborrow::ReborrowMut;
use faer::{Accum, Mat, MatRef, Par};
use rayon::prelude::*;
use serde::Serialize;
use statrs::distribution::{ContinuousCDF, Normal};
use statrs::function::gamma::ln_gamma;

use crate::error::{Error, Result};
use crate::linalg::{self, check_finite, check_finite_slice, check_symmetric, seeded_stream};

/// Rows per block in the Gram pass (memory `block * d` per thread).
const BLOCK: usize = 128;

/// The coupling of one C' (`C' = W W^T` or given densely).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Coupling {
    /// `mean_{i != j} |rho_ij|` over the used directions.
    pub rho_bar: f64,
    /// `mean_{i != j} rho_ij^2` over the used directions (for the second-moment check).
    pub mean_rho_sq: f64,
    /// Dimension d.
    pub d: usize,
    /// Directions with nonzero variance, over which the means are taken.
    pub n_used: usize,
    /// Indices of the zero-variance directions (excluded, see the module doc).
    pub excluded: Vec<usize>,
}

impl Coupling {
    /// From `sum_{i < j} |rho_ij|` and `sum_{i < j} rho_ij^2` over the `n` used
    /// directions (each unordered pair once).
    fn from_pair_sums(sum_abs: f64, sum_sq: f64, d: usize, n: usize, excluded: Vec<usize>) -> Self {
        let pairs = (n * (n - 1)) as f64;
        Coupling {
            rho_bar: 2.0 * sum_abs / pairs,
            mean_rho_sq: 2.0 * sum_sq / pairs,
            d,
            n_used: n,
            excluded,
        }
    }
}

/// Tolerance under which `C'_ii` counts as zero: `30 d eps max_j C'_jj`.
pub fn zero_variance_tol(d: usize, max_diag: f64) -> f64 {
    30.0 * d.max(1) as f64 * f64::EPSILON * max_diag
}

/// Indices of used and excluded directions by the zero-variance rule.
fn split_by_variance(diag: &[f64], input: &str) -> Result<(Vec<usize>, Vec<usize>)> {
    let d = diag.len();
    let max = diag.iter().cloned().fold(0.0f64, f64::max);
    let tol = zero_variance_tol(d, max);
    if let Some(i) = diag.iter().position(|&x| x < -tol) {
        return Err(Error::NotPsd {
            input: input.to_string(),
            min_eig: diag[i],
            tol,
        });
    }
    let (used, excluded): (Vec<usize>, Vec<usize>) = (0..d).partition(|&i| diag[i] > tol);
    if used.len() < 2 {
        return Err(Error::param(
            input,
            format!("{} direction(s) with nonzero variance", used.len()),
            "rho_bar needs at least two directions with C'_ii > 0",
        ));
    }
    Ok((used, excluded))
}

/// `rho_bar` of `C' = W W^T` from the rows of `w` (d x r), without forming C'.
/// Single-threaded (the null parallelises over rotations instead).
pub fn coupling_of_rows(w: MatRef<'_, f64>, input: &str) -> Result<Coupling> {
    check_finite(w, input)?;
    let d = w.nrows();
    let r = w.ncols();
    let diag: Vec<f64> = (0..d)
        .map(|i| (0..r).map(|j| w[(i, j)] * w[(i, j)]).sum())
        .collect();
    let (used, excluded) = split_by_variance(&diag, input)?;
    let n = used.len();
    // Normalised used rows, stored transposed (r x n) so row blocks are columns.
    let wn = Mat::from_fn(r, n, |k, a| {
        let i = used[a];
        w[(i, k)] / diag[i].sqrt()
    });
    let (sum_abs, sum_sq) = sum_offdiag_cosines(wn.as_ref());
    Ok(Coupling::from_pair_sums(sum_abs, sum_sq, d, n, excluded))
}

/// `(sum_{a < b} |x_a . x_b|, sum_{a < b} (x_a . x_b)^2)` over the unit columns
/// `x_a` of `xt` (r x n), with `|x_a . x_b|` clamped to 1; blocked so memory
/// stays `BLOCK * n`.
fn sum_offdiag_cosines(xt: MatRef<'_, f64>) -> (f64, f64) {
    let n = xt.ncols();
    let mut sum_abs = 0.0;
    let mut sum_sq = 0.0;
    let mut g = Mat::<f64>::zeros(BLOCK.min(n), n);
    let mut start = 0;
    while start < n {
        let end = (start + BLOCK).min(n);
        let b = end - start;
        // G = X[:, start..end]^T X[:, start..n]   (b x (n - start))
        let mut gb = g.as_mut().submatrix_mut(0, 0, b, n - start);
        matmul(
            gb.rb_mut(),
            Accum::Replace,
            xt.subcols(start, b).transpose(),
            xt.subcols(start, n - start),
            1.0,
            Par::Seq,
        );
        for jj in 0..(n - start) {
            // rows a < jj of this column are pairs (start + a, start + jj) with a < jj.
            let top = b.min(jj);
            for a in 0..top {
                let c = gb[(a, jj)].abs().min(1.0);
                sum_abs += c;
                sum_sq += c * c;
            }
        }
        start = end;
    }
    (sum_abs, sum_sq)
}

/// Clamps the values of a PSD spectrum to >= 0 after the PSD rule, failing on a
/// clearly negative one (d is the dimension the spectrum belongs to).
fn checked_spectrum(mu: &[f64], d: usize, input: &str) -> Result<Vec<f64>> {
    check_finite_slice(mu, input)?;
    if mu.len() > d {
        return Err(Error::shape(
            input,
            format!("at most d = {d} eigenvalues"),
            format!("{} eigenvalues", mu.len()),
        ));
    }
    let norm = mu.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let tol = linalg::psd_tolerance(d, norm);
    if let Some(&bad) = mu.iter().find(|&&x| x < -tol) {
        return Err(Error::NotPsd {
            input: input.to_string(),
            min_eig: bad,
            tol,
        });
    }
    Ok(mu.iter().map(|&x| x.max(0.0)).collect())
}

/// Checks that the eigenbasis `v` of H is d x d and finite.
fn check_basis(v: MatRef<'_, f64>, d: usize) -> Result<()> {
    if v.nrows() != d || v.ncols() != d {
        return Err(Error::shape(
            "V (eigenbasis of H)",
            format!("{d} x {d}"),
            format!("{} x {}", v.nrows(), v.ncols()),
        ));
    }
    check_finite(v, "V (eigenbasis of H)")
}

/// Coupling of a dense C to the eigenbasis `v` (columns) of H: `C' = V^T C V`.
/// Validates C (square, finite, symmetric, PSD) and V (d x d, finite).
pub fn coupling_dense(c: MatRef<'_, f64>, v: MatRef<'_, f64>) -> Result<Coupling> {
    check_symmetric(c, "C")?;
    linalg::check_psd(c, "C")?;
    let d = c.nrows();
    check_basis(v, d)?;
    let cp = v.transpose() * c * v;
    coupling_of_projected(cp.as_ref(), "C' = V^T C V")
}

/// Coupling of an already projected `C'` (symmetric, diagonal >= 0 to rounding).
pub fn coupling_of_projected(cp: MatRef<'_, f64>, input: &str) -> Result<Coupling> {
    check_symmetric(cp, input)?;
    let d = cp.nrows();
    let diag: Vec<f64> = (0..d).map(|i| cp[(i, i)]).collect();
    let (used, excluded) = split_by_variance(&diag, input)?;
    let n = used.len();
    let mut sum_abs = 0.0;
    let mut sum_sq = 0.0;
    for (b, &j) in used.iter().enumerate() {
        for &i in &used[..b] {
            let rho = (cp[(i, j)] / (diag[i] * diag[j]).sqrt()).abs().min(1.0);
            sum_abs += rho;
            sum_sq += rho * rho;
        }
    }
    Ok(Coupling::from_pair_sums(sum_abs, sum_sq, d, n, excluded))
}

/// The correlation matrix `rho` of a projected `C'`; rows and columns of
/// zero-variance directions are 0 off the diagonal (see the module doc).
pub fn correlation_matrix(cp: MatRef<'_, f64>, input: &str) -> Result<Mat<f64>> {
    check_symmetric(cp, input)?;
    let d = cp.nrows();
    let diag: Vec<f64> = (0..d).map(|i| cp[(i, i)]).collect();
    let (used, _) = split_by_variance(&diag, input)?;
    let mut ok = vec![false; d];
    for &i in &used {
        ok[i] = true;
    }
    Ok(Mat::from_fn(d, d, |i, j| {
        if i == j {
            1.0
        } else if ok[i] && ok[j] {
            (cp[(i, j)] / (diag[i] * diag[j]).sqrt()).clamp(-1.0, 1.0)
        } else {
            0.0
        }
    }))
}

/// Coupling of `C = F diag(mu) F^T` (F d x r; `mu = None` means all ones) to the
/// eigenbasis `v` (d x d) of H, without forming any d x d matrix: `W = V^T F
/// diag(sqrt(mu))`, then [`coupling_of_rows`]. F need not be orthonormal.
pub fn coupling_factored(
    f: MatRef<'_, f64>,
    mu: Option<&[f64]>,
    v: MatRef<'_, f64>,
) -> Result<Coupling> {
    let d = f.nrows();
    let r = f.ncols();
    check_finite(f, "F")?;
    check_basis(v, d)?;
    let scale: Vec<f64> = match mu {
        None => vec![1.0; r],
        Some(mu) => {
            if mu.len() != r {
                return Err(Error::shape(
                    "mu",
                    format!("{r} weights (columns of F)"),
                    mu.len(),
                ));
            }
            check_finite_slice(mu, "mu")?;
            if let Some(&bad) = mu.iter().find(|&&x| x < 0.0) {
                return Err(Error::NotPsd {
                    input: "mu (C = F diag(mu) F^T)".into(),
                    min_eig: bad,
                    tol: 0.0,
                });
            }
            mu.iter().map(|x| x.sqrt()).collect()
        }
    };
    let mut w = v.transpose() * f;
    for (j, s) in scale.iter().enumerate() {
        for i in 0..d {
            w[(i, j)] *= s;
        }
    }
    coupling_of_rows(w.as_ref(), "W = V^T F diag(sqrt(mu))")
}

/// A Haar d x r frame: [`linalg::haar_frame`], which is single-threaded so
/// that the null does not depend on the thread pool.
pub use linalg::haar_frame as haar_frame_seq;

/// One null draw: `rho_bar` (and mean rho^2) of `U diag(mu) U^T` for a Haar
/// d x r frame U from stream `stream` of `seed`. `sqrt_mu` has r > 0 entries.
fn null_draw(d: usize, sqrt_mu: &[f64], seed: u64, stream: u64) -> Result<Coupling> {
    let mut rng = seeded_stream(seed, stream);
    let mut u = haar_frame_seq(d, sqrt_mu.len(), &mut rng)?;
    for (j, s) in sqrt_mu.iter().enumerate() {
        for i in 0..d {
            u[(i, j)] *= s;
        }
    }
    coupling_of_rows(u.as_ref(), "null rotation")
}

/// The nonzero part of a spectrum, rescaled to max 1 (rho is scale-free), as
/// square roots; errors when the spectrum is unusable for a null of dimension d.
fn null_weights(mu: &[f64], d: usize) -> Result<Vec<f64>> {
    let mu = checked_spectrum(mu, d, "spectrum")?;
    let max = mu.iter().cloned().fold(0.0f64, f64::max);
    if max <= 0.0 {
        return Err(Error::empty("spectrum", "no positive eigenvalue"));
    }
    let tol = zero_variance_tol(d, max);
    Ok(mu
        .iter()
        .filter(|&&x| x > tol)
        .map(|x| (x / max).sqrt())
        .collect())
}

/// The simulated null of `rho_bar` for a spectrum `mu` (C's eigenvalues, at
/// most d of them, the rest taken as 0) in dimension d.
#[derive(Debug, Clone, Serialize)]
pub struct NullSample {
    /// Dimension.
    pub d: usize,
    /// Number of positive eigenvalues used (the frame width r).
    pub rank: usize,
    /// Master seed; rotation t uses `seeded_stream(seed, t)`.
    pub seed: u64,
    /// `rho_bar` of each rotation, in rotation order.
    pub rho_bar: Vec<f64>,
    /// `mean_{i != j} rho_ij^2` of each rotation.
    pub mean_rho_sq: Vec<f64>,
}

/// Simulates `rotations` Haar rotations of a C with spectrum `mu` in dimension
/// d (see the module doc): parallel over rotations, identical for any thread
/// count.
pub fn simulate_null(mu: &[f64], d: usize, rotations: usize, seed: u64) -> Result<NullSample> {
    if d < 2 {
        return Err(Error::param("d", d, "the coupling needs d >= 2"));
    }
    if rotations == 0 {
        return Err(Error::param("rotations", rotations, "must be at least 1"));
    }
    let w = null_weights(mu, d)?;
    let draws: Vec<Coupling> = (0..rotations as u64)
        .into_par_iter()
        .map(|t| null_draw(d, &w, seed, t))
        .collect::<Result<_>>()?;
    Ok(NullSample {
        d,
        rank: w.len(),
        seed,
        rho_bar: draws.iter().map(|c| c.rho_bar).collect(),
        mean_rho_sq: draws.iter().map(|c| c.mean_rho_sq).collect(),
    })
}

/// The same null by the direct dense route (d x d Haar Q, `C_rot = Q C Q^T`,
/// then `V^T C_rot V` with a given V): the baseline of the benchmark and an
/// independent check of [`simulate_null`]'s distribution. Sequential.
pub fn simulate_null_dense(
    mu: &[f64],
    v: MatRef<'_, f64>,
    rotations: usize,
    seed: u64,
) -> Result<Vec<f64>> {
    let d = v.nrows();
    let mu = checked_spectrum(mu, d, "spectrum")?;
    let mut full = vec![0.0; d];
    full[..mu.len()].copy_from_slice(&mu);
    let c = Mat::from_fn(d, d, |i, j| if i == j { full[i] } else { 0.0 });
    (0..rotations as u64)
        .map(|t| {
            let mut rng = seeded_stream(seed, t);
            let q = linalg::haar_orthogonal(d, &mut rng);
            let c_rot = &q * &c * q.transpose();
            let cp = v.transpose() * &c_rot * v;
            // Symmetrise rounding before the symmetry check.
            let cp = Mat::from_fn(d, d, |i, j| 0.5 * (cp[(i, j)] + cp[(j, i)]));
            coupling_of_projected(cp.as_ref(), "dense null rotation").map(|c| c.rho_bar)
        })
        .collect()
}

/// Summary of a spectrum (scaled to max 1) for the formulas: the moments
/// `S_p = sum_k mu_k^p` and the two effective ranks.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SpectrumMoments {
    pub s1: f64,
    pub s2: f64,
    pub s3: f64,
    pub s4: f64,
    /// `k_rho = 1 / E[rho_ij^2]` for independent Gaussian rows `w ~ N(0, diag(mu))`
    /// (the d -> inf limit), from [`gaussian_rho_sq`]; equals k for k equal spikes.
    pub k_rho: f64,
}

impl SpectrumMoments {
    /// Moments of `mu` (validated: finite, PSD rule, some positive value).
    pub fn of(mu: &[f64], d: usize) -> Result<Self> {
        let w = null_weights(mu, d)?;
        let mu: Vec<f64> = w.iter().map(|s| s * s).collect();
        Ok(SpectrumMoments {
            s1: mu.iter().sum(),
            s2: mu.iter().map(|x| x * x).sum(),
            s3: mu.iter().map(|x| x.powi(3)).sum(),
            s4: mu.iter().map(|x| x.powi(4)).sum(),
            k_rho: 1.0 / gaussian_rho_sq(&mu),
        })
    }

    /// Effective rank `k_eff = S1^2 / S2` (= k for k equal spikes): the paper's
    /// mean is `sqrt(2/(pi k_eff))`.
    pub fn k_eff(&self) -> f64 {
        self.s1 * self.s1 / self.s2
    }
}

/// `E[cos^2(a, b)]` for independent `a, b ~ N(0, diag(mu))` (mu > 0):
/// with `1/|b|^2 = int_0^inf exp(-s |b|^2) ds` the Gaussian integrals close and
/// `E cos^2 = sum_k mu_k^2 phi_k^2`, `phi_k = int_0^inf f(s) / (1 + 2 s mu_k) ds`,
/// `f(s) = prod_l (1 + 2 s mu_l)^(-1/2)`. Computed by the trapezoid rule in
/// `x = ln s` on [-40, 100] (step 0.02; the integrand decays exponentially at
/// both ends), over the distinct values of mu. Equal spikes give exactly 1/k.
pub fn gaussian_rho_sq(mu: &[f64]) -> f64 {
    let mut vals: Vec<f64> = mu.iter().cloned().filter(|&x| x > 0.0).collect();
    vals.sort_by(f64::total_cmp);
    let mut distinct: Vec<(f64, f64)> = Vec::new();
    for v in vals {
        match distinct.last_mut() {
            Some((x, m)) if *x == v => *m += 1.0,
            _ => distinct.push((v, 1.0)),
        }
    }
    let phi = laplace_phi(&distinct);
    distinct
        .iter()
        .zip(&phi)
        .map(|((m, mult), p)| mult * m * m * p * p)
        .sum()
}

/// `phi_j = int_0^inf f(s) / (1 + 2 s mu_j) ds`, `f(s) = prod_l (1 + 2 s mu_l)^(-m_l/2)`,
/// for distinct values `(mu_j, m_j)` (value, multiplicity): the trapezoid rule
/// in `x = ln s` on [-40, 100] (step 0.02; the integrand decays exponentially
/// at both ends). Shared by [`gaussian_rho_sq`] and [`row_law`].
pub(crate) fn laplace_phi(distinct: &[(f64, f64)]) -> Vec<f64> {
    let h = 0.02;
    let steps = (140.0 / h) as usize;
    let mut phi = vec![0.0; distinct.len()];
    for n in 0..=steps {
        let x = -40.0 + n as f64 * h;
        let s = x.exp();
        let log_f: f64 = distinct
            .iter()
            .map(|(m, mult)| -0.5 * mult * (2.0 * s * m).ln_1p())
            .sum();
        let wgt = if n == 0 || n == steps { 0.5 * h } else { h } * s * log_f.exp();
        for (p, (m, _)) in phi.iter_mut().zip(distinct) {
            *p += wgt / (1.0 + 2.0 * s * m);
        }
    }
    phi
}

/// App. C: `sqrt(2/pi) sqrt(S2) / S1`.
pub fn paper_mean(m: &SpectrumMoments) -> f64 {
    (2.0 / std::f64::consts::PI).sqrt() * m.s2.sqrt() / m.s1
}

/// App. C, k equal spikes: `sqrt(2/(pi k))`.
pub fn paper_mean_spikes(k: f64) -> f64 {
    (2.0 / (std::f64::consts::PI * k)).sqrt()
}

/// App. D: `SE = mu0 sqrt(pi/2 - 1) / sqrt(d (d - 1))`.
pub fn paper_se(mu0: f64, d: usize) -> f64 {
    let m = d as f64 * (d as f64 - 1.0);
    mu0 * (std::f64::consts::FRAC_PI_2 - 1.0).sqrt() / m.sqrt()
}

/// `G(k) = E|cos angle|` of two independent isotropic vectors in R^k:
/// `Gamma(k/2) / (sqrt(pi) Gamma((k+1)/2))` (k real >= 1 via lnGamma).
pub fn mean_abs_cosine(k: f64) -> f64 {
    (ln_gamma(k / 2.0) - ln_gamma((k + 1.0) / 2.0)).exp() / std::f64::consts::PI.sqrt()
}

/// `k_rho` capped to [1, d].
fn k_rho_in(m: &SpectrumMoments, d: usize) -> f64 {
    m.k_rho.clamp(1.0, d as f64)
}

/// Finite-d factor `(d - k) / (d - 1)` of the second moment.
fn finite_d_factor(k: f64, d: usize) -> f64 {
    ((d as f64 - k) / (d as f64 - 1.0)).max(0.0)
}

/// Corrected mean: `G(k_rho) sqrt((d - k_rho) / (d - 1))` (module doc).
pub fn corrected_mean(m: &SpectrumMoments, d: usize) -> f64 {
    let k = k_rho_in(m, d);
    mean_abs_cosine(k) * finite_d_factor(k, d).sqrt()
}

/// Corrected second moment `E rho^2 = (d - k_rho) / (k_rho (d - 1))`.
pub fn corrected_mean_sq(m: &SpectrumMoments, d: usize) -> f64 {
    let k = k_rho_in(m, d);
    finite_d_factor(k, d) / k
}

/// Degenerate (second-order) part of the corrected null variance:
/// `f (2/M) [Var|t| - (1 - lambda^2) V2]` at `k = k_rho`, with t the cosine of
/// two isotropic vectors in R^k (`Var|t| = 1/k - G^2`),
/// `V2 = G^2 (k-1)(k+2) / (2 (k+1)^2)` its degree-2 (Gegenbauer) part,
/// `lambda = 2/(k+2)` the share of variance the Haar constraint `U^T U = I`
/// leaves to the degree-2 harmonic sum of the row directions, and
/// `f = (d - k)/(d - 1)`. Exact (0) for k = 1.
pub fn corrected_var_degenerate(m: &SpectrumMoments, d: usize) -> f64 {
    let df = d as f64;
    let pairs = df * (df - 1.0);
    let k = k_rho_in(m, d);
    let g2 = mean_abs_cosine(k).powi(2);
    let var_abs = (1.0 / k - g2).max(0.0);
    let v2 = g2 * (k - 1.0) * (k + 2.0) / (2.0 * (k + 1.0).powi(2));
    let lambda = 2.0 / (k + 2.0);
    (finite_d_factor(k, d) * 2.0 / pairs * (var_abs - (1.0 - lambda * lambda) * v2)).max(0.0)
}

/// First-order (Hoeffding) part of the corrected null variance, zero for
/// equal spikes: `(4/d) mu_c^2 Var(Q)`. With `X = |w|^2`, `Y = w^T D w`
/// (`w ~ N(0, D)`), `a = Y/S2 - 1`, `b = X/S1 - 1`, the row term
/// `E[|rho_ij| | w_i] ~ mu (Y/X)^(1/2)`; its linear part `(a - b)/2` sums to
/// exactly 0 over the rows of a Haar frame (`sum_i w_i w_i^T = d D`), leaving
/// `Q = -a^2/8 + 3 b^2/8 - a b/4`, whose variance we take with (a, b) jointly
/// Gaussian (`Var a = 2 S4/S2^2`, `Var b = 2 S2/S1^2`,
/// `Cov = 2 S3/(S1 S2)`): `Var Q = 2 tr((B Sigma)^2)`. A leading-order
/// estimate: it is only as good as the grid shows (`theory/coupling-null.md`).
pub fn corrected_var_first_order(m: &SpectrumMoments, d: usize) -> f64 {
    let va = 2.0 * m.s4 / (m.s2 * m.s2);
    let vb = 2.0 * m.s2 / (m.s1 * m.s1);
    let cab = 2.0 * m.s3 / (m.s1 * m.s2);
    let b = [[-0.125, -0.125], [-0.125, 0.375]];
    let sig = [[va, cab], [cab, vb]];
    let mut bs = [[0.0; 2]; 2];
    for i in 0..2 {
        for j in 0..2 {
            bs[i][j] = b[i][0] * sig[0][j] + b[i][1] * sig[1][j];
        }
    }
    let tr2 = bs[0][0] * bs[0][0] + 2.0 * bs[0][1] * bs[1][0] + bs[1][1] * bs[1][1];
    let mc = corrected_mean(m, d);
    (4.0 / d as f64) * mc * mc * (2.0 * tr2).max(0.0)
}

/// Corrected standard error of `rho_bar` under the null:
/// `sqrt(corrected_var_degenerate + corrected_var_first_order)`.
pub fn corrected_se(m: &SpectrumMoments, d: usize) -> f64 {
    (corrected_var_degenerate(m, d) + corrected_var_first_order(m, d)).sqrt()
}

/// Corrected standard error of `rho_bar` under the null with the first-order
/// term from the exact law of the row ratio with Haar partners ([`row_law`]):
/// `sqrt(corrected_var_degenerate + row_law::first_order_var_haar)`. It
/// replaces the quadratic, jointly Gaussian first-order estimate of
/// [`corrected_se`] and the Gaussian-partner row law of
/// [`corrected_se_row_law_gaussian`] (both kept for the record); derivation
/// and grid in `theory/coupling-null.md`, sections 3(d)-(e). Validates `mu`
/// like the null.
pub fn corrected_se_row_law(mu: &[f64], d: usize) -> Result<f64> {
    let w = null_weights(mu, d)?;
    let mu: Vec<f64> = w.iter().map(|s| s * s).collect();
    let m = SpectrumMoments::of(&mu, d)?;
    Ok((corrected_var_degenerate(&m, d) + row_law::first_order_var_haar(&mu, d)?).sqrt())
}

/// The row-law SE of section 3(d) with independent Gaussian partners,
/// `sqrt(corrected_var_degenerate + row_law::first_order_var)`: superseded by
/// [`corrected_se_row_law`] (1.3-1.8 times too small for power:0.5), kept
/// for the record of the grid. Validates `mu` like the null.
pub fn corrected_se_row_law_gaussian(mu: &[f64], d: usize) -> Result<f64> {
    let w = null_weights(mu, d)?;
    let mu: Vec<f64> = w.iter().map(|s| s * s).collect();
    let m = SpectrumMoments::of(&mu, d)?;
    Ok((corrected_var_degenerate(&m, d) + row_law::first_order_var(&mu, d)).sqrt())
}

/// `z = (obs - mu0) / se` and the one-sided p-value `Phi(z)`.
pub fn z_and_p(obs: f64, mu0: f64, se: f64) -> (f64, f64) {
    let z = (obs - mu0) / se;
    let p = match Normal::new(0.0, 1.0) {
        Ok(n) => n.cdf(z),
        Err(_) => f64::NAN,
    };
    (z, p)
}

/// The quantile probabilities reported by default.
pub const DEFAULT_QUANTILES: [f64; 5] = [0.01, 0.05, 0.5, 0.95, 0.99];

/// Empirical one-sided p-value of `obs` under a simulated null:
/// `(1 + #{null <= obs}) / (1 + R)` (never 0, exact for a Monte Carlo test).
pub fn empirical_p(obs: f64, null: &[f64]) -> f64 {
    let below = null.iter().filter(|&&x| x <= obs).count();
    (1 + below) as f64 / (1 + null.len()) as f64
}

pub mod cli;
pub mod grid;
pub mod row_law;
pub mod spectrum;

pub use spectrum::Spectrum;
