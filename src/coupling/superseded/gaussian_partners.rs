//! The first-order term of the null variance of `rho_bar` from the exact law
//! of the row ratio with independent Gaussian partners
//! (`theory/coupling-null.md`, section 3(d); claim **C4**):
//!
//! ```text
//! R(w)  = sum_k c_k w_k^2 / sum_k w_k^2,   g(w) = h(R(w)),   h(x) = G(1/x),
//! Var_1 = (4/d) [Var h(R) - sum_k Cov(h(R), z_k)^2 / 2],
//! SE_g  = sqrt(Var_deg + Var_1),
//! ```
//!
//! `P(R > x)` by Imhof's integral (see [`crate::coupling::row_law`] for the
//! setup this shares with the Haar-partner law). Superseded by the
//! Haar-partner row law of section 3(e); still a column of the grid (see the
//! parent module).

use rayon::prelude::*;

use crate::coupling::formulas::{corrected_var_degenerate, mean_abs_cosine, SpectrumMoments};
use crate::coupling::row_law::{
    bins, h_and_dh, simpson_weight, weights, Bin, ImhofPhase, NX, STEP,
};
use crate::coupling::spectrum::null_weights;
use crate::error::Result;

/// Probability mass allowed outside the x range.
const TAIL: f64 = 1e-7;

/// `P(R > x)` and, per bin j, `P(R^(j) > x) - P(R > x)` (one member of bin j
/// size-biased), by Imhof's integral in `y = ln u` with a step adapted to the
/// local oscillation and decay rates.
fn tail_and_bias(b: &[Bin], c: &[f64], x: f64) -> (f64, Vec<f64>) {
    let lam: Vec<f64> = b.iter().zip(c).map(|(q, c)| (c - x) * q.mu).collect();
    let lmax = lam.iter().fold(0.0f64, |m, l| m.max(l.abs()));
    let mut diff = vec![0.0; b.len()];
    if lmax == 0.0 {
        return (0.0, diff);
    }
    let mut y = (1e-9 / lmax).ln();
    let mut main = 0.0;
    let mut prev: Option<(f64, f64)> = None; // (y, main integrand)
    let mut prev_diff = vec![0.0; b.len()];
    let mut cur_diff = vec![0.0; b.len()];
    loop {
        let u = y.exp();
        let mut ph = ImhofPhase::default();
        for (q, l) in b.iter().zip(&lam) {
            let t = l * u;
            let t2 = t * t;
            ph.add(q.mult, t, t2);
        }
        let ImhofPhase {
            theta,
            log_rho,
            osc,
            decay,
        } = ph;
        let inv_rho = (-log_rho).exp();
        let (sn, cs) = theta.sin_cos();
        let f = sn * inv_rho;
        for ((dj, l), _) in cur_diff.iter_mut().zip(&lam).zip(b) {
            let t = l * u;
            *dj = t * (cs - t * sn) / (1.0 + t * t) * inv_rho;
        }
        if let Some((py, pf)) = prev {
            let dy = y - py;
            main += 0.5 * dy * (pf + f);
            for ((acc, a), c) in diff.iter_mut().zip(&prev_diff).zip(&cur_diff) {
                *acc += 0.5 * dy * (a + c);
            }
        }
        if log_rho > 45.0 {
            break;
        }
        prev = Some((y, f));
        std::mem::swap(&mut prev_diff, &mut cur_diff);
        let rate = osc.max(decay).max(1e-3);
        y += (STEP / rate).min(STEP);
    }
    let pi = std::f64::consts::PI;
    (0.5 + main / pi, diff.iter().map(|v| v / pi).collect())
}

/// The pieces of the first-order term, for reports and tests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RowLawGaussian {
    /// `E R = sum_k c_k^2` (the Gaussian-row `E rho^2`).
    pub mean_r: f64,
    /// `E h(R)`: the Gaussian-row mean of `|rho|` under the cosine-law model.
    pub mean_h: f64,
    /// `Var h(R)`.
    pub var_h: f64,
    /// `sum_k Cov(h(R), z_k)^2 / 2`: the part the Haar constraint removes.
    pub linear: f64,
}

impl RowLawGaussian {
    /// `Var h(R) - linear`, floored at 0.
    pub fn residual(&self) -> f64 {
        (self.var_h - self.linear).max(0.0)
    }
}

/// The law of `h(R)` for a spectrum `mu` (positive entries used; scale-free).
/// Equal spikes give `var_h = 0` exactly (R is constant).
pub fn row_law_gaussian(mu: &[f64]) -> RowLawGaussian {
    let b = bins(mu);
    if b.len() < 2 {
        let k = b.first().map(|q| q.mult).unwrap_or(1.0);
        return RowLawGaussian {
            mean_r: 1.0 / k,
            mean_h: mean_abs_cosine(k),
            var_h: 0.0,
            linear: 0.0,
        };
    }
    let c = weights(&b);
    let mean_r: f64 = b.iter().zip(&c).map(|(q, c)| q.mult * c * c).sum();
    let s1: f64 = b.iter().map(|q| q.mult * q.mu).sum();
    let sd = (2.0
        * b.iter()
            .zip(&c)
            .map(|(q, c)| q.mult * ((c - mean_r) * q.mu).powi(2))
            .sum::<f64>())
    .sqrt()
        / s1;
    let cmin = c.iter().cloned().fold(f64::INFINITY, f64::min);
    let cmax = c.iter().cloned().fold(0.0f64, f64::max);
    // The x range: mean -10 sd .. +14 sd, widened (geometrically, within the
    // support [c_min, c_max]) until P(R < lo) and P(R > hi) are below TAIL.
    let tail = |x: f64| tail_and_bias(&b, &c, x).0;
    let mut lo = (mean_r - 10.0 * sd).max(cmin);
    while lo > cmin && 1.0 - tail(lo) > TAIL {
        lo = (lo - (mean_r - lo).max(sd)).max(cmin).max(0.5 * lo);
    }
    let mut hi = (mean_r + 14.0 * sd).min(cmax);
    while hi < cmax && tail(hi) > TAIL {
        hi = (hi + (hi - mean_r).max(sd)).min(cmax);
    }
    let step = (hi - lo) / (NX - 1) as f64;
    let (h0, _) = h_and_dh(mean_r);
    let (hhi, _) = h_and_dh(hi);
    let nodes: Vec<(f64, f64, Vec<f64>)> = (0..NX)
        .into_par_iter()
        .map(|n| {
            let x = lo + n as f64 * step;
            let (t, d) = tail_and_bias(&b, &c, x);
            let w = simpson_weight(n, step);
            (x, w * (1.0 - t), d.into_iter().map(|v| v * w).collect())
        })
        .collect();
    // With g = h - h0 and F the CDF of R: E g = g(hi) - int g' F,
    // E g^2 = g(hi)^2 - int 2 g g' F, Cov(h, z_j) = int h' (P(R^(j) > x) - P(R > x)).
    let (mut eg, mut eg2) = (hhi - h0, (hhi - h0).powi(2));
    let mut cov = vec![0.0; b.len()];
    for (x, wf, wd) in &nodes {
        let (hx, dh) = h_and_dh(*x);
        eg -= dh * wf;
        eg2 -= 2.0 * (hx - h0) * dh * wf;
        for (cj, dj) in cov.iter_mut().zip(wd) {
            *cj += dh * dj;
        }
    }
    let linear: f64 = b
        .iter()
        .zip(&cov)
        .map(|(q, cj)| q.mult * cj * cj / 2.0)
        .sum();
    RowLawGaussian {
        mean_r,
        mean_h: h0 + eg,
        var_h: (eg2 - eg * eg).max(0.0),
        linear,
    }
}

/// First-order part of the null variance of `rho_bar` with independent
/// Gaussian partners: `(4/d) residual`.
pub fn first_order_var_gaussian(mu: &[f64], d: usize) -> f64 {
    4.0 / d as f64 * row_law_gaussian(mu).residual()
}

/// The row-law SE of section 3(d) with independent Gaussian partners,
/// `sqrt(corrected_var_degenerate + first_order_var_gaussian)` (1.3-1.8
/// times too small for power:0.5). Validates `mu` like the null.
pub fn se_row_law_gaussian(mu: &[f64], d: usize) -> Result<f64> {
    let w = null_weights(mu, d)?;
    let mu: Vec<f64> = w.iter().map(|s| s * s).collect();
    let m = SpectrumMoments::of(&mu, d)?;
    Ok((corrected_var_degenerate(&m, d) + first_order_var_gaussian(&mu, d)).sqrt())
}
