//! The coupling statistic of claim **C3** (Eq. 6-7): how far a noise
//! covariance C is from diagonal in the eigenbasis of the Hessian H.
//!
//! With `H = V diag(lambda) V^T`, `C' = V^T C V`,
//! `rho_ij = C'_ij / sqrt(C'_ii C'_jj)` and
//! `rho_bar = mean_{i != j} |rho_ij|` (over the `n (n - 1)` ordered pairs);
//! `mean_rho_sq = mean_{i != j} rho_ij^2` is reported beside it.
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

use faer::linalg::matmul::matmul;
use faer::reborrow::ReborrowMut;
use faer::{Accum, Mat, MatRef, Par};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::linalg::{self, check_finite, check_finite_slice, check_symmetric};

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
