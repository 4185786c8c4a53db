//! The exponent gamma: least-squares fit of `ln C_ii` on `ln H_ii` over the
//! top-k eigen-directions of H (THEORY.md, "Exponent gamma"; claims C2, C9,
//! C10-C14).
//!
//! # Formulas
//! For points `(x_j, y_j)`, `j = 1..m`, with `X_j = ln x_j`, `Y_j = ln y_j`,
//! [`fit_power_law`] computes the ordinary least-squares line `Y = a + g X`
//! with centred (two-pass) sums:
//!
//! - `Sxx = sum (X_j - Xbar)^2`, `Sxy = sum (X_j - Xbar)(Y_j - Ybar)`,
//!   `Syy = sum (Y_j - Ybar)^2`;
//! - slope `g = Sxy / Sxx`, intercept `a = Ybar - g Xbar`;
//! - residuals `r_j = (Y_j - Ybar) - g (X_j - Xbar)`, `SSE = sum r_j^2`;
//! - standard error of the slope `se = sqrt(SSE / (m - 2) / Sxx)`;
//! - `R^2 = 1 - SSE / Syy` (clamped to [0, 1]; defined as 1 when `Syy = 0`,
//!   i.e. all `y` equal and the horizontal line fits exactly).
//!
//! [`fit_gamma`] applies it to `x = H_ii` (eigenvalues of H, descending) and
//! `y = C_ii = v_i^T C v_i`, so `g = gamma` and `C_ii ~ e^a H_ii^gamma`.
//!
//! # Which directions are used ([`FitRule`])
//! Of the first `top_k` directions (all of them if fewer are given), direction
//! `i` is used only if
//!
//! ```text
//! H_ii > rel_floor * H_11   and   C_ii > rel_floor * max_j C_jj,
//! ```
//!
//! where `max_j` runs over **all** supplied `C_jj` (the best available lower
//! bound on `||C||_2`). Zero and negative values fail this test whatever
//! `rel_floor >= 0` is (the references `H_11`, `max C_jj` must be positive for
//! any point to be used); NaN and infinities are rejected earlier with
//! [`Error::NonFinite`].
//!
//! Why `rel_floor = 1e3 n eps` ([`FitRule::default_for`], `n` the dimension
//! of H): a backward-stable symmetric eigensolver returns eigenvalues with
//! absolute error up to `c n eps ||H||_2` (Weyl's inequality applied to the
//! backward error; our PSD rule takes `c = 30`), and a quadratic form
//! `v^T C v` computed in floating point carries an absolute error of the same
//! order in `||C||_2`. Below `~ n eps ||H||_2` an eigenvalue is rounding noise
//! and its logarithm is meaningless (it can even be negative for a PSD
//! matrix). At `1e3 n eps ||H||_2` every kept value exceeds the worst-case
//! rounding error by a factor `1e3 / 30 > 33`, so its logarithm is off by at
//! most `ln(1 + 1/33) < 0.03` in the worst case, and in practice (errors
//! `~ sqrt(n) eps`) by far less. Relative floors are invariant under
//! `H -> s H`, `C -> s^2 C`, so the same directions are used at every loss
//! scale (claim C2).
//!
//! # Scale invariance (claim C2)
//! If the loss is scaled by `s > 0`, `H -> s H` and `C -> s^2 C`. With
//! `ln C_ii = a + gamma ln H_ii`:
//! `ln(s^2 C_ii) = 2 ln s + a + gamma (ln(s H_ii) - ln s)
//!               = [a + (2 - gamma) ln s] + gamma ln(s H_ii)`,
//! so gamma is unchanged and the intercept moves by `(2 - gamma) ln s`.
//!
//! # Bootstrap ([`bootstrap_ci`])
//! Percentile interval over `reps` replicates, each recomputing `(H_ii, C_ii)`
//! from a multiset of `n_samples` sample indices drawn uniformly with
//! replacement from the replicate's own stream `seeded_stream(seed, rep)`.
//! Replicates run in parallel (rayon) and are collected in replicate order,
//! so the interval is identical for any thread count.

use rand::Rng as _;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::linalg::{check_paired_finite, check_positive_slice, seeded_stream};
use crate::stats::{mean, quantile_sorted};

/// Result of a log-log ordinary least-squares fit `ln y = a + g ln x`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PowerLawFit {
    /// Slope `g`.
    pub slope: f64,
    /// Intercept `a` (natural log).
    pub intercept: f64,
    /// Standard error of the slope, `sqrt(SSE / (m - 2) / Sxx)`.
    pub std_err: f64,
    /// Coefficient of determination in [0, 1].
    pub r_squared: f64,
    /// Number of points `m`.
    pub points: usize,
    /// `ln(max x / min x)`.
    pub log_range_x: f64,
}

/// Log-log OLS of `y` on `x` (see the module doc for the formulas).
///
/// Requires equal lengths, at least 3 points, every value finite and
/// positive ([`Error::NotPositive`] otherwise), and a log-range of `x` above rounding level
/// (`ln(max x / min x) > 16 eps max(1, max |ln x_j|)`). Never returns NaN.
pub fn fit_power_law(x: &[f64], y: &[f64]) -> Result<PowerLawFit> {
    check_paired_finite(x, "x", y, "y")?;
    check_positive_slice(x, "x")?;
    check_positive_slice(y, "y")?;
    let m = x.len();
    if m < 3 {
        return Err(Error::DegenerateFit {
            input: "x, y".into(),
            reason: format!("{m} points; a line with a standard error needs at least 3"),
        });
    }
    let lx: Vec<f64> = x.iter().map(|v| v.ln()).collect();
    let ly: Vec<f64> = y.iter().map(|v| v.ln()).collect();
    let (lo, hi, amax) = lx.iter().fold(
        (f64::INFINITY, f64::NEG_INFINITY, 1.0f64),
        |(lo, hi, a), &v| (lo.min(v), hi.max(v), a.max(v.abs())),
    );
    let log_range_x = hi - lo;
    let range_tol = 16.0 * f64::EPSILON * amax;
    if log_range_x <= range_tol {
        return Err(Error::DegenerateFit {
            input: "x".into(),
            reason: format!(
                "log-range ln(max x / min x) = {log_range_x:e} is at rounding level (<= {range_tol:e})"
            ),
        });
    }
    let mf = m as f64;
    let mx = mean(&lx);
    let my = mean(&ly);
    let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
    for (&a, &b) in lx.iter().zip(&ly) {
        let (dx, dy) = (a - mx, b - my);
        sxx += dx * dx;
        sxy += dx * dy;
        syy += dy * dy;
    }
    if sxx <= 0.0 {
        // Unreachable given the range check above (Sxx >= range^2 / 2), kept
        // so that no input can produce a division by zero.
        return Err(Error::DegenerateFit {
            input: "x".into(),
            reason: "zero spread of ln x".into(),
        });
    }
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let sse: f64 = lx
        .iter()
        .zip(&ly)
        .map(|(&a, &b)| {
            let r = (b - my) - slope * (a - mx);
            r * r
        })
        .sum();
    let std_err = (sse / (mf - 2.0) / sxx).sqrt();
    let r_squared = if syy > 0.0 {
        (1.0 - sse / syy).clamp(0.0, 1.0)
    } else {
        1.0
    };
    Ok(PowerLawFit {
        slope,
        intercept,
        std_err,
        r_squared,
        points: m,
        log_range_x,
    })
}

/// Which directions enter the gamma fit (see the module doc for the rule and
/// the justification of the default floor).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FitRule {
    /// Use the first `top_k` directions (H eigenvalues descending); all of
    /// them if fewer are supplied.
    pub top_k: usize,
    /// Relative floor: keep `i` only if `H_ii > rel_floor H_11` and
    /// `C_ii > rel_floor max_j C_jj`. Must be finite, in [0, 1).
    pub rel_floor: f64,
}

impl FitRule {
    /// The default floor `1e3 n eps` for an `n x n` Hessian.
    pub fn default_for(top_k: usize, n: usize) -> Self {
        FitRule {
            top_k,
            rel_floor: 1e3 * n.max(1) as f64 * f64::EPSILON,
        }
    }

    /// Checks `top_k >= 1` and `0 <= rel_floor < 1`.
    pub fn validate(&self) -> Result<()> {
        if self.top_k == 0 {
            return Err(Error::param(
                "top_k",
                self.top_k,
                "at least one direction is needed",
            ));
        }
        if !(self.rel_floor.is_finite() && (0.0..1.0).contains(&self.rel_floor)) {
            return Err(Error::param(
                "rel_floor",
                self.rel_floor,
                "must be finite and in [0, 1)",
            ));
        }
        Ok(())
    }

    /// Indices of the directions the rule keeps, after validating the inputs
    /// (equal lengths, finite, `h_diag` non-increasing). Returns the indices
    /// and the number of candidate directions `min(top_k, len)`.
    pub fn select(&self, h_diag: &[f64], c_diag: &[f64]) -> Result<(Vec<usize>, usize)> {
        self.validate()?;
        check_paired_finite(h_diag, "h_diag", c_diag, "c_diag")?;
        if h_diag.is_empty() {
            return Err(Error::empty("h_diag", "no eigen-directions"));
        }
        if let Some(w) = h_diag.windows(2).position(|w| w[1] > w[0]) {
            return Err(Error::NotSorted {
                input: "h_diag".into(),
                order: "descending".into(),
                index: w + 1,
                prev: h_diag[w],
                next: h_diag[w + 1],
            });
        }
        let h_ref = h_diag[0];
        let c_ref = c_diag.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let candidates = self.top_k.min(h_diag.len());
        let (hf, cf) = (self.rel_floor * h_ref, self.rel_floor * c_ref);
        let used = (0..candidates)
            .filter(|&i| h_diag[i] > 0.0 && c_diag[i] > 0.0 && h_diag[i] > hf && c_diag[i] > cf)
            .collect();
        Ok((used, candidates))
    }
}

/// The fitted exponent `C_ii ~ e^intercept H_ii^gamma`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GammaFit {
    /// Slope of `ln C_ii` on `ln H_ii`.
    pub gamma: f64,
    /// Intercept (natural log of the prefactor).
    pub intercept: f64,
    /// Standard error of gamma (OLS).
    pub std_err: f64,
    /// Coefficient of determination.
    pub r_squared: f64,
    /// Directions used.
    pub points_used: usize,
    /// Candidate directions (of the first `top_k`) dropped by the floor rule.
    pub points_dropped: usize,
    /// Bootstrap percentile interval, when computed ([`bootstrap_ci`]).
    pub ci: Option<(f64, f64)>,
    /// `ln(max H_ii / min H_ii)` over the directions used.
    pub log_range_h: f64,
}

/// A bound on the rounding error of the slope [`fit_power_law`] computes
/// from the points `(x, y)` (exact inputs; errors in the inputs themselves are
/// the caller's to propagate), first order in `eps` with a factor 2 for the
/// rest.
///
/// With `m` points, `X_j = ln x_j`, `Y_j = ln y_j`, `c_j = X_j - Xbar`,
/// `d_j = Y_j - Ybar`: each computed logarithm is off by at most
/// `eps |X_j|`, the mean by `(m + 1) eps max|X|`, so each centred value by
/// `ex = (m + 3) eps max|X|` (`ey` likewise). Then
///
/// ```text
/// |dSxy| <= sum (|c_j| ey + |d_j| ex + ex ey) + (m + 1) eps sum |c_j d_j|
/// |dSxx| <= sum (2 |c_j| ex + ex^2)           + (m + 1) eps Sxx
/// |dg|   <= 2 (|dSxy| + |g| |dSxx|) / Sxx + eps |g|.
/// ```
///
/// The first terms dominate when the log-spread `Sxx` is small against the
/// magnitude of the logarithms (points far from 1 on a narrow range).
/// Returns infinity when `|dSxx| >= Sxx / 2` (the slope is then not
/// determined by the arithmetic) or when the inputs are not positive and
/// finite.
pub fn slope_rounding_bound(x: &[f64], y: &[f64], slope: f64) -> f64 {
    let ok = |v: &f64| v.is_finite() && *v > 0.0;
    if x.len() != y.len() || x.len() < 2 || !x.iter().all(ok) || !y.iter().all(ok) {
        return f64::INFINITY;
    }
    let m = x.len() as f64;
    let eps = f64::EPSILON;
    let lx: Vec<f64> = x.iter().map(|v| v.ln()).collect();
    let ly: Vec<f64> = y.iter().map(|v| v.ln()).collect();
    let mx = mean(&lx);
    let my = mean(&ly);
    let amax = |v: &[f64]| v.iter().fold(0.0f64, |a, b| a.max(b.abs()));
    let ex = (m + 3.0) * eps * amax(&lx);
    let ey = (m + 3.0) * eps * amax(&ly);
    let (mut sxx, mut dsxy, mut dsxx, mut cd) = (0.0, 0.0, 0.0, 0.0);
    for (&a, &b) in lx.iter().zip(&ly) {
        let (c, d) = ((a - mx).abs(), (b - my).abs());
        sxx += c * c;
        cd += c * d;
        dsxy += c * ey + d * ex + ex * ey;
        dsxx += 2.0 * c * ex + ex * ex;
    }
    dsxy += (m + 1.0) * eps * cd;
    dsxx += (m + 1.0) * eps * sxx;
    // Also catches NaN (from infinite logs): not `<` is the safe side.
    if dsxx.is_nan() || dsxx >= sxx / 2.0 {
        return f64::INFINITY;
    }
    2.0 * (dsxy + slope.abs() * dsxx) / sxx + eps * slope.abs()
}

/// Fits gamma on `h_diag` (eigenvalues of H, descending) and the matching
/// `c_diag` (`C_ii = v_i^T C v_i`) under `rule`.
///
/// Errors: mismatched lengths, empty input, NaN or infinity, `h_diag` not
/// descending, an invalid rule, fewer than 3 usable points, or a zero
/// log-range of the used `H_ii`. `ci` is left `None`.
pub fn fit_gamma(h_diag: &[f64], c_diag: &[f64], rule: &FitRule) -> Result<GammaFit> {
    let (used, candidates) = rule.select(h_diag, c_diag)?;
    if used.len() < 3 {
        return Err(Error::DegenerateFit {
            input: "h_diag, c_diag".into(),
            reason: format!(
                "{} usable directions of {candidates} (top_k = {}, rel_floor = {:e}); need at least 3",
                used.len(),
                rule.top_k,
                rule.rel_floor
            ),
        });
    }
    let x: Vec<f64> = used.iter().map(|&i| h_diag[i]).collect();
    let y: Vec<f64> = used.iter().map(|&i| c_diag[i]).collect();
    let f = fit_power_law(&x, &y)?;
    Ok(GammaFit {
        gamma: f.slope,
        intercept: f.intercept,
        std_err: f.std_err,
        r_squared: f.r_squared,
        points_used: used.len(),
        points_dropped: candidates - used.len(),
        ci: None,
        log_range_h: f.log_range_x,
    })
}

/// Percentile bootstrap interval for gamma at confidence `level`.
///
/// Replicate `rep` draws `n_samples` indices uniformly with replacement from
/// `0..n_samples` using `seeded_stream(seed, rep)`, calls `recompute` to get
/// `(h_diag, c_diag)` for that multiset, and fits gamma with `rule`. The
/// interval is `[q(alpha/2), q(1 - alpha/2)]`, `alpha = 1 - level`, with
/// linearly interpolated order statistics (Hyndman-Fan type 7). The result
/// does not depend on the number of rayon threads.
///
/// Errors: `n_samples == 0`, `reps < 2`, `level` outside (0, 1), or the
/// first failing replicate (in replicate order) as [`Error::Bootstrap`]. A
/// replicate that cannot be fitted (e.g. fewer than 3 usable directions in
/// that resample) fails the interval rather than being skipped: skipping
/// would condition the interval on the resamples that happen to fit.
pub fn bootstrap_ci<F>(
    n_samples: usize,
    reps: usize,
    level: f64,
    seed: u64,
    rule: &FitRule,
    recompute: F,
) -> Result<(f64, f64)>
where
    F: Fn(&[usize]) -> Result<(Vec<f64>, Vec<f64>)> + Sync,
{
    if n_samples == 0 {
        return Err(Error::param(
            "n_samples",
            n_samples,
            "need at least one sample",
        ));
    }
    if reps < 2 {
        return Err(Error::param(
            "reps",
            reps,
            "a percentile interval needs at least 2 replicates",
        ));
    }
    if !(level > 0.0 && level < 1.0) {
        return Err(Error::param("level", level, "must be in (0, 1)"));
    }
    rule.validate()?;
    let results: Vec<Result<f64>> = (0..reps)
        .into_par_iter()
        .map(|rep| {
            let mut rng = seeded_stream(seed, rep as u64);
            let idx: Vec<usize> = (0..n_samples)
                .map(|_| rng.random_range(0..n_samples))
                .collect();
            let wrap = |e: Error| Error::Bootstrap {
                rep,
                source: Box::new(e),
            };
            let (h, c) = recompute(&idx).map_err(wrap)?;
            fit_gamma(&h, &c, rule).map(|f| f.gamma).map_err(wrap)
        })
        .collect();
    let mut gammas = Vec::with_capacity(reps);
    for r in results {
        gammas.push(r?);
    }
    gammas.sort_by(f64::total_cmp);
    let alpha = 1.0 - level;
    Ok((
        quantile_sorted(&gammas, alpha / 2.0),
        quantile_sorted(&gammas, 1.0 - alpha / 2.0),
    ))
}
