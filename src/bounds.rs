//! Theorem 5.1 (claim C9): for every direction i,
//!
//! ```text
//! H_ii^2  <=  S_ii  <=  Lambda H_ii,      S_ii = v_i^T E_p[h_p^2] v_i,
//! ```
//!
//! with `H = E_p[h_p]`, every `h_p` PSD with eigenvalues `<= Lambda`.
//!
//! # Why, and for which vectors
//! Both inequalities hold for **every** unit vector v, not only for the
//! eigenvectors of H: `(v^T H v)^2 = (E v^T h v)^2 <= E (v^T h v)^2
//! <= E |h v|^2 = v^T E[h^2] v` (Jensen, then Cauchy-Schwarz), which needs only
//! symmetric `h_p`; and `h^2 <= Lambda h` in the Loewner order for PSD h with
//! `||h||_2 <= Lambda`, which needs PSD. So the left inequality survives
//! indefinite per-sample Hessians and the right one does not.
//!
//! # Error analysis and tolerances ([`BoundTolerance`])
//! Let `d` be the dimension, `n` the number of samples, `eps` the machine
//! epsilon and `||H|| = max_i |H_ii|` over the supplied directions (the
//! spectral norm when `h_diag` holds the spectrum of H including its top).
//! - `H_ii` (an eigenvalue from a backward-stable solver, or a quadratic form
//!   `v^T H v` after summing n PSD terms) has absolute error
//!   `<= c (d + n) eps ||H||`.
//! - `S_ii` (a quadratic form in a matrix `S` with `||S|| <= Lambda ||H||`,
//!   summed over n nonnegative terms) has absolute error
//!   `<= c (d + n) eps Lambda ||H||`. This term dominates for small
//!   directions: a computed `S_ii` can be negative rounding noise of this size.
//! - The computed eigenvector has norm `1 + O(d eps)`, which the inequalities
//!   (valid for every vector) absorb into the same terms.
//!
//! Propagating to the two sides, with `k = d + n`:
//!
//! ```text
//! left  (H_ii^2 <= S_ii):        tol_i = c k eps (2 |H_ii| ||H|| + Lambda ||H||)
//! right (S_ii <= Lambda H_ii):   tol_i = c k eps (2 Lambda ||H||)
//! ```
//!
//! and `c = 30`, the constant of the crate's PSD rule (`-30 n eps ||A||_2`).
//! Both tolerances also get the absolute floor `c (d n + d + n) 2^-1074`
//! ([`BoundTolerance::underflow_floor`]): below `f64::MIN_POSITIVE` rounding is
//! absolute (one subnormal unit per operation), not relative. Without it the
//! `bounds` fuzz target found `H_ii^2 > S_ii` by a few subnormal units on an
//! ensemble with eigenvalues 2.35e-161 (squares 5.5e-322); see
//! `tests/bounds.rs::regression_subnormal_squares_within_underflow_floor`.
//! A direction violates an inequality when `lhs_i - rhs_i > tol_i`.
//!
//! Measured (tests/bounds.rs, 4 properties x 1000 random PSD ensembles with
//! d < 24, n < 20, Haar or shared frames, rank 1 to d, up to 12 decades):
//! with `c = 0` rounding-level violations do occur, so a tolerance is needed;
//! with `c = 30` the worst `(lhs_i - rhs_i) / tol_i` seen was 0.011 (left)
//! and 0.0066 (right), i.e. `c = 0.33` would have sufficed there. The
//! constant keeps the margin of the worst-case analysis rather than the
//! typical case.
//!
//! # What is reported ([`InequalityReport`])
//! Per inequality: the number of violations; the worst relative excess
//! `max_i (lhs_i - rhs_i) / max(|lhs_i|, |rhs_i|, tol_i)` (in [-1, 2]; <= 0
//! when the inequality holds with room everywhere) and its index; and the
//! tightness `min_i rhs_i / lhs_i` over directions whose `lhs_i` exceeds its
//! tolerance (>= 1 when the inequality holds; 1 means attained), with index.
//!
//! [`local_slopes`] gives the log-log slopes between consecutive directions,
//! used by the C9 exponent search (a finite-range least-squares slope is an
//! average of them, weighted by the spacings).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::linalg::{check_paired_finite, check_positive_slice};

/// Tolerance model for [`check_bounds`] (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoundTolerance {
    /// Safety constant `c` (30 by default, as in the PSD rule).
    pub c: f64,
    /// Dimension d of the Hessian.
    pub dim: usize,
    /// Number of samples n averaged into H and S.
    pub samples: usize,
}

impl BoundTolerance {
    /// `c = 30` for a d x d Hessian averaged over n samples.
    pub fn default_for(d: usize, n: usize) -> Self {
        BoundTolerance {
            c: 30.0,
            dim: d,
            samples: n,
        }
    }

    /// `c (d + n) eps`: the relative unit both tolerances scale.
    pub fn unit(&self) -> f64 {
        self.c * (self.dim + self.samples).max(1) as f64 * f64::EPSILON
    }

    /// `c (d n + d + n) 2^-1074`: the absolute floor for gradual underflow.
    /// Each of the at most `d n + 2` roundings in `S_ii` (and `H_ii^2`)
    /// loses up to one subnormal unit once the terms fall below
    /// `f64::MIN_POSITIVE`, where the relative model above gives nothing.
    pub fn underflow_floor(&self) -> f64 {
        let (d, n) = (self.dim as f64, self.samples as f64);
        self.c * (d * n + d + n).max(1.0) * f64::from_bits(1)
    }

    /// Tolerance of the left inequality `H_ii^2 <= S_ii` at `H_ii = h`:
    /// `c k eps (2 |h| ||H|| + Lambda ||H||)` plus the underflow floor.
    pub fn left_tol(&self, h: f64, norm_h: f64, lambda_max: f64) -> f64 {
        self.unit() * (2.0 * h.abs() * norm_h + lambda_max * norm_h) + self.underflow_floor()
    }

    /// Tolerance of the right inequality `S_ii <= Lambda H_ii`:
    /// `c k eps 2 Lambda ||H||` plus the underflow floor.
    pub fn right_tol(&self, norm_h: f64, lambda_max: f64) -> f64 {
        self.unit() * 2.0 * lambda_max * norm_h + self.underflow_floor()
    }

    fn validate(&self) -> Result<()> {
        if !(self.c.is_finite() && self.c >= 0.0) {
            return Err(Error::param(
                "tolerance c",
                self.c,
                "must be finite and >= 0",
            ));
        }
        Ok(())
    }
}

/// One inequality `lhs_i <= rhs_i (+ tol_i)` checked over all directions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InequalityReport {
    /// The inequality, e.g. `"H_ii^2 <= S_ii"`.
    pub name: String,
    /// Number of directions with `lhs_i - rhs_i > tol_i`.
    pub violations: usize,
    /// `max_i (lhs_i - rhs_i) / max(|lhs_i|, |rhs_i|, tol_i)`.
    pub worst_relative_excess: f64,
    /// Index of the worst relative excess.
    pub worst_index: usize,
    /// `(lhs - rhs) / tol` at `worst_index` (> 1 means a violation there).
    pub worst_excess_over_tol: f64,
    /// `min_i rhs_i / lhs_i` over directions with `lhs_i > tol_i`; `None` when
    /// no direction has a left side above rounding level.
    pub tightness: Option<f64>,
    /// Index of the tightness minimum.
    pub tightest_index: Option<usize>,
}

impl InequalityReport {
    /// No violation.
    pub fn holds(&self) -> bool {
        self.violations == 0
    }
}

/// Both inequalities of Theorem 5.1.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BoundReport {
    /// `H_ii^2 <= S_ii` (Jensen + Cauchy-Schwarz; needs symmetric h_p only).
    pub left: InequalityReport,
    /// `S_ii <= Lambda H_ii` (needs PSD h_p with eigenvalues <= Lambda).
    pub right: InequalityReport,
    /// `max_i |H_ii|` used as `||H||`.
    pub norm_h: f64,
    /// Lambda.
    pub lambda_max: f64,
    /// Number of directions checked.
    pub directions: usize,
}

impl BoundReport {
    /// Both inequalities hold within tolerance.
    pub fn holds(&self) -> bool {
        self.left.holds() && self.right.holds()
    }
}

fn inequality(name: &str, lhs: &[f64], rhs: &[f64], tol: &[f64]) -> InequalityReport {
    let mut rep = InequalityReport {
        name: name.to_string(),
        violations: 0,
        worst_relative_excess: f64::NEG_INFINITY,
        worst_index: 0,
        worst_excess_over_tol: 0.0,
        tightness: None,
        tightest_index: None,
    };
    for i in 0..lhs.len() {
        let (l, r, t) = (lhs[i], rhs[i], tol[i]);
        let excess = l - r;
        if excess > t {
            rep.violations += 1;
        }
        let scale = l.abs().max(r.abs()).max(t);
        let rel = if scale > 0.0 { excess / scale } else { 0.0 };
        if rel > rep.worst_relative_excess {
            rep.worst_relative_excess = rel;
            rep.worst_index = i;
            rep.worst_excess_over_tol = if t > 0.0 {
                excess / t
            } else if excess > 0.0 {
                f64::MAX
            } else {
                0.0
            };
        }
        if l > t && l > 0.0 {
            let ratio = r / l;
            if rep.tightness.is_none_or(|m| ratio < m) {
                rep.tightness = Some(ratio);
                rep.tightest_index = Some(i);
            }
        }
    }
    if lhs.is_empty() {
        rep.worst_relative_excess = 0.0;
    }
    rep
}

/// Checks `H_ii^2 <= S_ii <= Lambda H_ii` for every direction.
///
/// `h_diag[i] = H_ii`, `s_diag[i] = v_i^T E[h_p^2] v_i`, `lambda_max` the
/// largest per-sample eigenvalue Lambda. Any finite values are accepted (the
/// point is to detect violations); errors on mismatched lengths, empty input,
/// NaN/inf, or a negative or non-finite `lambda_max` or tolerance constant.
pub fn check_bounds(
    h_diag: &[f64],
    s_diag: &[f64],
    lambda_max: f64,
    tol: &BoundTolerance,
) -> Result<BoundReport> {
    check_paired_finite(h_diag, "h_diag", s_diag, "s_diag")?;
    if h_diag.is_empty() {
        return Err(Error::empty("h_diag", "no directions"));
    }
    if !(lambda_max.is_finite() && lambda_max >= 0.0) {
        return Err(Error::param(
            "lambda_max",
            lambda_max,
            "the per-sample eigenvalue bound must be finite and >= 0",
        ));
    }
    tol.validate()?;
    let norm_h = h_diag.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let right_tol = tol.right_tol(norm_h, lambda_max);
    let n = h_diag.len();
    let (mut l_lhs, mut l_rhs, mut l_tol) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    let (mut r_lhs, mut r_rhs, mut r_tol) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    for i in 0..n {
        let (h, s) = (h_diag[i], s_diag[i]);
        l_lhs[i] = h * h;
        l_rhs[i] = s;
        l_tol[i] = tol.left_tol(h, norm_h, lambda_max);
        r_lhs[i] = s;
        r_rhs[i] = lambda_max * h;
        r_tol[i] = right_tol;
    }
    Ok(BoundReport {
        left: inequality("H_ii^2 <= S_ii", &l_lhs, &l_rhs, &l_tol),
        right: inequality("S_ii <= Lambda H_ii", &r_lhs, &r_rhs, &r_tol),
        norm_h,
        lambda_max,
        directions: n,
    })
}

/// Log-log slopes between consecutive directions:
/// `(ln s_{i+1} - ln s_i) / (ln h_{i+1} - ln h_i)` for `i = 0..len-1`,
/// `None` where `h_{i+1} = h_i` (no abscissa spacing).
///
/// Errors on mismatched lengths, NaN/inf, or a non-positive value
/// ([`Error::NotPositive`]; a
/// logarithm is needed; apply the [`crate::fit::FitRule`] floor first).
pub fn local_slopes(h: &[f64], s: &[f64]) -> Result<Vec<Option<f64>>> {
    check_paired_finite(h, "h", s, "s")?;
    check_positive_slice(h, "h")?;
    check_positive_slice(s, "s")?;
    Ok(h.windows(2)
        .zip(s.windows(2))
        .map(|(hw, sw)| {
            let dx = hw[1].ln() - hw[0].ln();
            (dx != 0.0).then(|| (sw[1].ln() - sw[0].ln()) / dx)
        })
        .collect())
}

/// The sharp interval for a **finite** least-squares exponent (C9 exponent).
///
/// Theorem 5.1 puts every point `(x_i, y_i) = (ln H_ii, ln S_ii)` in the band
/// `2 x_i <= y_i <= ln(Lambda) + x_i`. The OLS slope `sum c_i y_i / sum c_i^2`
/// (`c_i = x_i - mean(x)`) is linear in the `y_i`, so over the band it is
/// extremal at its corners:
///
/// ```text
/// gamma_max = 1 + [ (L - xbar) P + sum_{c_i < 0} c_i^2 ] / Sxx
/// gamma_min = 1 - [ (L - xbar) P - sum_{c_i > 0} c_i^2 ] / Sxx
/// ```
///
/// with `L = ln Lambda`, `P = sum_{c_i > 0} c_i`, `Sxx = sum c_i^2`. The
/// interval always contains [1, 2] (because `L - xbar >= c_i` for every i gives
/// `(L - xbar) P >= sum_{c_i > 0} c_i^2`) and widens with `(ln Lambda - xbar)`, the
/// distance of the fitted H_ii from Lambda in log scale, relative to their
/// log-spread. It is attained: with perfectly aligned samples each direction's
/// `S_ii` can be put anywhere in `[H_ii^2, Lambda H_ii]` independently (a
/// deterministic eigenvalue gives the lower end, a two-point law on
/// `{0, Lambda}` the upper end). So a finite top-k fit of a PSD ensemble can
/// lie outside [1, 2]; only this interval is guaranteed.
///
/// `h_used` are the H_ii that enter the fit (positive), `lambda_max >= max h`.
pub fn finite_fit_interval(h_used: &[f64], lambda_max: f64) -> Result<(f64, f64)> {
    band_interval(h_used, lambda_max, None)
}

/// [`finite_fit_interval`] for points computed in floating point: the band
/// each point may occupy is the one [`check_bounds`] accepts, widened by its
/// tolerances (see `theory/c9-finite-fit.md`, "Rounding").
///
/// If `check_bounds` passes with `tol` on the computed `(H_ii, S_ii)` (with
/// `norm_h = max_i |H_ii|` over all directions it was given), then for every
/// used direction
///
/// ```text
/// 2 x_i - a_i  <=  y_i  <=  L + x_i + b_i,
/// a_i = -ln(1 - tl_i / H_ii^2),   b_i = ln(1 + tr / (Lambda H_ii)),
/// ```
///
/// with `tl_i`, `tr` the left and right tolerances and `x_i`, `y_i` the logs
/// of the *computed* values (so no separate error term for `H_ii` is needed).
/// The OLS slope is linear in the `y_i`, so its extremes over this band are
///
/// ```text
/// gamma_max + [ sum_{c_i>0} c_i b_i + sum_{c_i<0} |c_i| a_i ] / Sxx
/// gamma_min - [ sum_{c_i>0} c_i a_i + sum_{c_i<0} |c_i| b_i ] / Sxx.
/// ```
///
/// `a_i` is infinite when `tl_i >= H_ii^2` (the lower edge of the band is at
/// rounding level, e.g. `S_ii` in gradual underflow): then the matching end
/// of the interval is infinite, which is the honest answer (the points say
/// nothing about the slope). Never NaN.
pub fn finite_fit_interval_rounded(
    h_used: &[f64],
    lambda_max: f64,
    norm_h: f64,
    tol: &BoundTolerance,
) -> Result<(f64, f64)> {
    tol.validate()?;
    if !(norm_h.is_finite() && norm_h >= 0.0) {
        return Err(Error::param(
            "norm_h",
            norm_h,
            "must be finite and >= 0 (max |H_ii|)",
        ));
    }
    band_interval(h_used, lambda_max, Some((norm_h, tol)))
}

/// The extremes of the OLS slope over the band `2 x_i - a_i <= y_i <= L + x_i
/// + b_i`; `a = b = 0` without `rounding`.
fn band_interval(
    h_used: &[f64],
    lambda_max: f64,
    rounding: Option<(f64, &BoundTolerance)>,
) -> Result<(f64, f64)> {
    check_positive_slice(h_used, "h_used")?;
    if h_used.len() < 2 {
        return Err(Error::DegenerateFit {
            input: "h_used".into(),
            reason: "need at least two directions".into(),
        });
    }
    let hmax = h_used.iter().cloned().fold(0.0, f64::max);
    // H_ii <= Lambda holds exactly; allow rounding of the eigensolver.
    if !(lambda_max.is_finite() && lambda_max >= hmax * (1.0 - 1e-10)) {
        return Err(Error::param(
            "lambda_max",
            lambda_max,
            format!("must be finite and >= max H_ii = {hmax:e}"),
        ));
    }
    let x: Vec<f64> = h_used.iter().map(|h| h.ln()).collect();
    let xbar = x.iter().sum::<f64>() / x.len() as f64;
    let c: Vec<f64> = x.iter().map(|v| v - xbar).collect();
    let sxx: f64 = c.iter().map(|v| v * v).sum();
    if sxx <= 0.0 {
        return Err(Error::DegenerateFit {
            input: "h_used".into(),
            reason: "all H_ii equal: zero log-range".into(),
        });
    }
    let l = lambda_max.max(hmax).ln();
    let p: f64 = c.iter().filter(|&&v| v > 0.0).sum();
    let neg2: f64 = c.iter().filter(|&&v| v < 0.0).map(|v| v * v).sum();
    let pos2: f64 = c.iter().filter(|&&v| v > 0.0).map(|v| v * v).sum();
    let hi = 1.0 + ((l - xbar) * p + neg2) / sxx;
    let lo = 1.0 - ((l - xbar) * p - pos2) / sxx;
    let Some((norm_h, tol)) = rounding else {
        return Ok((lo, hi));
    };
    let tr = tol.right_tol(norm_h, lambda_max);
    let (mut up, mut down) = (0.0f64, 0.0f64);
    for (&h, &ci) in h_used.iter().zip(&c) {
        if ci == 0.0 {
            // No weight in the slope, whatever its band (avoids 0 * inf).
            continue;
        }
        let tl = tol.left_tol(h, norm_h, lambda_max);
        let h2 = h * h;
        let a = if tl < h2 {
            -(-tl / h2).ln_1p()
        } else {
            f64::INFINITY
        };
        let lh = lambda_max * h;
        let b = if lh > 0.0 {
            (tr / lh).ln_1p()
        } else {
            f64::INFINITY
        };
        if ci > 0.0 {
            up += ci * b;
            down += ci * a;
        } else {
            up += -ci * a;
            down += -ci * b;
        }
    }
    Ok((lo - down / sxx, hi + up / sxx))
}
