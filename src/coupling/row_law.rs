//! The first-order (Hoeffding) part of the null variance of `rho_bar` from the
//! exact law of the row ratio (claim **C4**; derivation in
//! `theory/coupling-null.md`, section 3(d)).
//!
//! `rho_bar` is a U-statistic in the rows `w_i` of `W = U diag(sqrt(mu))`. Its
//! first-order part is `(2/d) sum_i g(w_i)`, `g(w) = E[|cos(w, w')| | w]`.
//! In the Gaussian-row limit (`w, w' ~ N(0, D)`, `D = diag(mu)`) the
//! conditional second moment is a ratio of quadratic forms,
//!
//! ```text
//! R(w) = E[cos^2(w, w') | w] = sum_k c_k w_k^2 / sum_k w_k^2,
//! c_k  = E[w'_k^2 / |w'|^2] = mu_k int_0^inf f(s) / (1 + 2 s mu_k) ds,
//! f(s) = prod_l (1 + 2 s mu_l)^(-1/2),   sum_k c_k = 1,
//! ```
//!
//! and we take the conditional law of `cos(w, w')` given w to be the cosine
//! law with `1/R(w)` degrees of freedom, so `g(w) = h(R(w))`,
//! `h(x) = G(1/x)`, `G(k) = Gamma(k/2) / (sqrt(pi) Gamma((k+1)/2))` (exact for
//! equal spikes; on the power-law grid `corr(g, h(R)) >= 0.998` per row).
//!
//! Under the Haar null the columns of U have unit norm, so with
//! `z_ik = w_ik^2 / E w_ik^2` every sum `sum_i (z_ik - 1)` is 0: the part of g
//! that is linear in `z` cancels exactly over the rows, and what survives is
//! the residual of g after its L2 projection on `span{z_k - 1}` (the `z_k`
//! independent chi^2_1, variance 2):
//!
//! ```text
//! Var_1 = (4/d) [Var h(R) - sum_k Cov(h(R), z_k)^2 / 2].
//! ```
//!
//! Everything is a one-dimensional law: `P(R > x) = P(sum_k lambda_k z_k > 0)`
//! with `lambda_k = (c_k - x) mu_k`, by Imhof's formula
//! `1/2 + (1/pi) int_0^inf sin(theta(u)) / (u rho(u)) du`,
//! `theta = (1/2) sum_k arctan(lambda_k u)`,
//! `rho = prod_k (1 + lambda_k^2 u^2)^(1/4)`; and `Cov(h(R), z_k) =
//! E h(R^(k)) - E h(R)` where `R^(k)` has `z_k ~ chi^2_3` (the size-biased
//! chi^2_1), which multiplies the integrand by
//! `(1 + i lambda_k u) / (1 + lambda_k^2 u^2)`. Then
//! `E h(R) = h(lo) + int_lo^hi h'(x) P(R > x) dx`. Cost: `O(n_x n_u b)` for b
//! distinct eigenvalue bins (eigenvalues within a relative 1% share a bin, as a
//! chi^2 with their multiplicity), a second or two at d = 2500.
//!
//! Limitation (theory/coupling-null.md 3(e)): the partners of a Haar row are
//! not independent of it (their second moment is `D - w w^T / d`), which adds
//! `h'(R) dR` to the row function; for full-rank spectra with `k_rho / d`
//! near 1/2 (power:0.5) its nonlinear part is as large as that of `h(R)`,
//! and the SE here is 1.3-1.8 times too small. Not included.

use rayon::prelude::*;
use statrs::function::gamma::digamma;

use super::{laplace_phi, mean_abs_cosine};

/// Eigenvalues within this relative distance share a bin.
const BIN_REL: f64 = 0.02;
/// Nodes of the x integral (odd: Simpson).
const NX: usize = 121;
/// Step of the Imhof integral in `ln u`, relative to the local rate.
const STEP: f64 = 0.02;
/// Probability mass allowed outside the x range.
const TAIL: f64 = 1e-7;

/// A bin: value (mean of its eigenvalues) and multiplicity.
#[derive(Debug, Clone, Copy)]
struct Bin {
    mu: f64,
    mult: f64,
}

fn bins(mu: &[f64]) -> Vec<Bin> {
    let mut v: Vec<f64> = mu.iter().cloned().filter(|&x| x > 0.0).collect();
    v.sort_by(|a, b| b.total_cmp(a));
    let mut out: Vec<(f64, f64, f64)> = Vec::new(); // (first, sum, count)
    for x in v {
        match out.last_mut() {
            Some((first, sum, n)) if x >= *first * (1.0 - BIN_REL) => {
                *sum += x;
                *n += 1.0;
            }
            _ => out.push((x, x, 1.0)),
        }
    }
    out.into_iter()
        .map(|(_, s, n)| Bin { mu: s / n, mult: n })
        .collect()
}

/// `c_j = mu_j int_0^inf f(s) / (1 + 2 s mu_j) ds` per bin, normalised so that
/// `sum_j mult_j c_j = 1` ([`laplace_phi`]).
fn weights(b: &[Bin]) -> Vec<f64> {
    let distinct: Vec<(f64, f64)> = b.iter().map(|q| (q.mu, q.mult)).collect();
    let phi = laplace_phi(&distinct);
    let c: Vec<f64> = b.iter().zip(&phi).map(|(q, p)| q.mu * p).collect();
    let total: f64 = b.iter().zip(&c).map(|(q, c)| q.mult * c).sum();
    c.iter().map(|x| x / total).collect()
}

/// `h(x) = G(1/x)` and `h'(x) = -G'(1/x) / x^2`, `G'(k) = G(k) (psi(k/2) - psi((k+1)/2)) / 2`.
fn h_and_dh(x: f64) -> (f64, f64) {
    let k = 1.0 / x;
    let g = mean_abs_cosine(k);
    let dg = 0.5 * g * (digamma(k / 2.0) - digamma((k + 1.0) / 2.0));
    (g, -dg * k * k)
}

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
        let (mut theta, mut log_rho, mut osc, mut decay) = (0.0, 0.0, 0.0, 0.0);
        for (q, l) in b.iter().zip(&lam) {
            let t = l * u;
            let t2 = t * t;
            theta += 0.5 * q.mult * t.atan();
            log_rho += 0.25 * q.mult * t2.ln_1p();
            osc += 0.5 * q.mult * t.abs() / (1.0 + t2);
            decay += 0.5 * q.mult * t2 / (1.0 + t2);
        }
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
pub struct RowLaw {
    /// `E R = sum_k c_k^2` (the Gaussian-row `E rho^2`).
    pub mean_r: f64,
    /// `E h(R)`: the Gaussian-row mean of `|rho|` under the cosine-law model.
    pub mean_h: f64,
    /// `Var h(R)`.
    pub var_h: f64,
    /// `sum_k Cov(h(R), z_k)^2 / 2`: the part the Haar constraint removes.
    pub linear: f64,
}

impl RowLaw {
    /// `Var h(R) - linear`, floored at 0.
    pub fn residual(&self) -> f64 {
        (self.var_h - self.linear).max(0.0)
    }
}

/// The law of `h(R)` for a spectrum `mu` (positive entries used; scale-free).
/// Equal spikes give `var_h = 0` exactly (R is constant).
pub fn row_law(mu: &[f64]) -> RowLaw {
    let b = bins(mu);
    if b.len() < 2 {
        let k = b.first().map(|q| q.mult).unwrap_or(1.0);
        return RowLaw {
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
            let w = if n == 0 || n == NX - 1 {
                1.0
            } else if n % 2 == 1 {
                4.0
            } else {
                2.0
            } * step
                / 3.0;
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
    RowLaw {
        mean_r,
        mean_h: h0 + eg,
        var_h: (eg2 - eg * eg).max(0.0),
        linear,
    }
}

/// First-order part of the null variance of `rho_bar`: `(4/d) residual`.
pub fn first_order_var(mu: &[f64], d: usize) -> f64 {
    4.0 / d as f64 * row_law(mu).residual()
}
