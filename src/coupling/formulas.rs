//! The closed-form null of the coupling `rho_bar`: the paper's formulas
//! (claim **C3**, App. C; claim **C4**, App. D) and our corrected ones
//! (derived in `theory/coupling-null.md`, checked on the grid).
//!
//! # The paper (App. C, App. D)
//! - mean: `mu0 = sqrt(2/pi) sqrt(S2) / S1`, `S_p = sum_k mu_k^p`; for k equal
//!   spikes `sqrt(2/(pi k))`. Equivalently `sqrt(2/(pi k_eff))` with the
//!   effective rank `k_eff = S1^2 / S2`.
//! - `SE = mu0 sqrt(pi/2 - 1) / sqrt(M)`, `M = d (d - 1)`,
//!   `z = (rho_obs - mu0) / SE`, one-sided `p = Phi(z)`.
//!
//! # Corrected (sections 2 and 3 of `theory/coupling-null.md`)
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
//!   `1/d` (not `1/d^2`) otherwise, taken from the exact law of the row ratio
//!   with the partners of a Haar row ([`super::row_law::first_order_var_haar`]).
//!   [`super::row_law::corrected_se_row_law`] is the SE that `baseline` and `coupling` print
//!   (within 20% of the simulated std at 56 of the 57 nondegenerate grid
//!   points). The earlier first-order estimates it replaced live in
//!   [`super::superseded`].
//!
//! Formulas never replace the simulation: `baseline` and `coupling` report
//! the simulated null beside them, and the exact Monte Carlo p-value.

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, Normal};
use statrs::function::gamma::ln_gamma;

use super::spectrum::null_weights;
use crate::error::Result;

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
/// at both ends). Shared by [`gaussian_rho_sq`] and [`super::row_law`].
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

/// `z = (obs - mu0) / se` and the one-sided p-value `Phi(z)`.
pub fn z_and_p(obs: f64, mu0: f64, se: f64) -> (f64, f64) {
    let z = (obs - mu0) / se;
    let p = match Normal::new(0.0, 1.0) {
        Ok(n) => n.cdf(z),
        Err(_) => f64::NAN,
    };
    (z, p)
}
