//! Eq. 2's premise on a trained layer (C8's network side): near a minimum C
//! is the uncentred second moment over B, measured by two figures.
//!
//! - **First-moment share:** on the top-k
//!   `sum_i (E_p g_p.v_i)^2 / sum_i E_p[(g_p.v_i)^2]`, in the full space
//!   `|gbar|^2 / E_p|g_p|^2` with `|g_p|^2 = |delta_p|^2 |a_p|^2` (the layer
//!   gradient `g_p = delta_p a_p^T` has rank one). Near a minimum it is small
//!   and `C ~ (1/B) E[g g^T]`.
//! - **`1/B` scaling:** for B in `{B0/2, B0, 2 B0}` (B0 the run's batch size;
//!   `B0/2` rounded down, at least 1, repeats dropped), `draws` mini-batches of
//!   B samples drawn with replacement from the N (seeded, stream `1000 + b`),
//!   and the trace of the covariance of their mean projected gradients,
//!   `tr C_B = E_m |xbar_m - m|^2` with `m` the exact mean over the N
//!   (so the estimate is unbiased), its Monte Carlo SE `sd(s_m) / sqrt(draws)`
//!   (relative SE `sqrt(2 / draws)` at worst, one dominant direction), and
//!   Eq. 2's value `tr C_k(B) = sum_i Var_p(g_p.v_i) / B` beside it. The
//!   slope of `ln tr C_B` on `ln B` is a weighted least-squares fit with
//!   weights `(tr / SE)^2` (delta method), and its SE
//!   `1 / sqrt(sum w (x - xbar_w)^2)` comes from the Monte Carlo errors.
//!   Draws with replacement are independent, so the covariance is exactly
//!   `C / B`: the slope checks Eq. 2's `1/B` law and this estimator, not a
//!   property of the network. Cost `draws * 3.5 B0 * k`.

use faer::MatRef;
use rand::Rng;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::kron::KronCurvature;
use crate::linalg::seeded_stream;

/// The figures at one batch size.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatchPoint {
    /// Batch size B.
    pub batch_size: usize,
    /// Monte Carlo `tr C_B` on the top-k.
    pub trace: f64,
    /// Its standard error.
    pub trace_se: f64,
    /// Eq. 2: `sum_i Var_p(g_p.v_i) / B`.
    pub trace_eq2: f64,
}

/// The `1/B` scaling (module doc).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatchScaling {
    /// One point per batch size, increasing B.
    pub points: Vec<BatchPoint>,
    /// Draws per batch size.
    pub draws: usize,
    /// Weighted LS slope of `ln tr C_B` on `ln B` (Eq. 2: -1).
    pub slope: f64,
    /// Its standard error from the Monte Carlo errors.
    pub slope_se: f64,
}

/// `(top-k share, full-space share)` of the first moment (module doc), from
/// the projections `p = G V` (N x k); NaN where a denominator is 0.
pub fn first_moment_shares(engine: &KronCurvature, p: MatRef<'_, f64>) -> (f64, f64) {
    let n = engine.n() as f64;
    let gbar2 = engine
        .mean_gradient(faer::get_global_parallelism())
        .squared_norm_l2();
    let g2 = engine
        .samples()
        .iter()
        .map(|s| s.delta.iter().map(|x| x * x).sum::<f64>() * s.act_norm2)
        .sum::<f64>()
        / n;
    (first_moment_share(p), ratio(gbar2, g2))
}

/// `sum_i (E_p P_pi)^2 / sum_i E_p[P_pi^2]` of projections `p` (N x k).
pub fn first_moment_share(p: MatRef<'_, f64>) -> f64 {
    let (n, k) = (p.nrows(), p.ncols());
    let nb = n as f64;
    let (mut first, mut second) = (0.0, 0.0);
    for i in 0..k {
        let m = (0..n).map(|q| p[(q, i)]).sum::<f64>() / nb;
        first += m * m;
        second += (0..n).map(|q| p[(q, i)].powi(2)).sum::<f64>() / nb;
    }
    ratio(first, second)
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        f64::NAN
    }
}

/// The batch sizes `{B0/2, B0, 2 B0}` (module doc).
pub fn batch_sizes(b0: usize) -> Vec<usize> {
    let mut b = vec![(b0 / 2).max(1), b0.max(1), 2 * b0.max(1)];
    b.dedup();
    b
}

/// The `1/B` scaling of the projections `p` (N x k) around `b0` (module doc).
pub fn batch_scaling(
    p: MatRef<'_, f64>,
    b0: usize,
    draws: usize,
    seed: u64,
) -> Result<BatchScaling> {
    let (n, k) = (p.nrows(), p.ncols());
    if n < 2 || k == 0 {
        return Err(Error::param(
            "projections",
            format!("{n} x {k}"),
            "the 1/B scaling needs at least 2 samples and 1 direction",
        ));
    }
    if draws < 2 {
        return Err(Error::param("batch draws", draws, "must be at least 2"));
    }
    let nb = n as f64;
    let mean: Vec<f64> = (0..k)
        .map(|i| (0..n).map(|q| p[(q, i)]).sum::<f64>() / nb)
        .collect();
    let var_sum: f64 = (0..k)
        .map(|i| (0..n).map(|q| (p[(q, i)] - mean[i]).powi(2)).sum::<f64>() / nb)
        .sum();
    let mut points = Vec::new();
    let mut xbar = vec![0.0; k];
    for (bi, &b) in batch_sizes(b0).iter().enumerate() {
        let mut rng = seeded_stream(seed, 1000 + bi as u64);
        let s: Vec<f64> = (0..draws)
            .map(|_| {
                xbar.iter_mut().for_each(|x| *x = 0.0);
                for _ in 0..b {
                    let q = rng.random_range(0..n);
                    for (i, x) in xbar.iter_mut().enumerate() {
                        *x += p[(q, i)];
                    }
                }
                xbar.iter()
                    .zip(&mean)
                    .map(|(x, m)| (x / b as f64 - m).powi(2))
                    .sum()
            })
            .collect();
        let (trace, sd) = crate::stats::mean_std(&s).unwrap_or((f64::NAN, f64::NAN));
        points.push(BatchPoint {
            batch_size: b,
            trace,
            trace_se: sd / (draws as f64).sqrt(),
            trace_eq2: var_sum / b as f64,
        });
    }
    let (slope, slope_se) = weighted_log_slope(&points).ok_or_else(|| {
        Error::param(
            "projections",
            "zero variance",
            "the mini-batch covariance is 0: no 1/B slope",
        )
    })?;
    Ok(BatchScaling {
        points,
        draws,
        slope,
        slope_se,
    })
}

/// Weighted LS slope of `ln trace` on `ln B` with weights `(trace / se)^2`
/// and its SE (None: fewer than 2 usable points or constant B).
fn weighted_log_slope(points: &[BatchPoint]) -> Option<(f64, f64)> {
    let pts: Vec<(f64, f64, f64)> = points
        .iter()
        .filter(|p| p.trace > 0.0 && p.trace_se > 0.0)
        .map(|p| {
            (
                (p.batch_size as f64).ln(),
                p.trace.ln(),
                (p.trace / p.trace_se).powi(2),
            )
        })
        .collect();
    if pts.len() < 2 {
        return None;
    }
    let sw: f64 = pts.iter().map(|p| p.2).sum();
    let mx = pts.iter().map(|p| p.2 * p.0).sum::<f64>() / sw;
    let my = pts.iter().map(|p| p.2 * p.1).sum::<f64>() / sw;
    let sxx: f64 = pts.iter().map(|p| p.2 * (p.0 - mx).powi(2)).sum();
    let sxy: f64 = pts.iter().map(|p| p.2 * (p.0 - mx) * (p.1 - my)).sum();
    (sxx > 0.0).then(|| (sxy / sxx, 1.0 / sxx.sqrt()))
}
