//! The first-order (Hoeffding) part of the null variance of `rho_bar` from the
//! exact law of the row ratio with the partners of a Haar row (claim **C4**;
//! derivation in `theory/coupling-null.md`, sections 3(d) and 3(e)):
//! [`haar_row_law`], [`first_order_var_haar`], used by
//! [`corrected_se_row_law`]. The setup below (section 3(d))
//! first takes the partners as independent Gaussian rows; that version of the
//! term is [`super::superseded::row_law_gaussian`], which shares this
//! module's bins, weights and Imhof integrator.
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
//! distinct eigenvalue bins (eigenvalues within a relative 2% share a bin, as a
//! chi^2 with their multiplicity), a second or two at d = 2500.
//!
//! # Haar partners (3(e))
//! The partners of a Haar row are not independent of it: the constraint
//! `sum_j w_j w_j^T = d D` gives exactly `sum_{j != i} (w_i . w_j)^2 =
//! d Y_i - X_i^2` (`X = |w|^2`, `Y = w^T D w`), so with `|w_j|^2 ~ S1` the
//! mean squared cosine of row i with its partners is
//! `(d Y - X^2) / (X S1 (d - 1))`, i.e. in the exact-weight form
//!
//! ```text
//! R_H = (d R - T) / (d - 1),   T = X / S1,   E R_H = (d / k_rho - 1) / (d - 1),
//! ```
//!
//! and the row function is `h(R_H)`, not `h(R)`: for `k_rho / d` of order
//! 1/2 (power:0.5) the shift `-T/(d-1)` moves `R` to near 0 where `h` is
//! strongly curved, and the fluctuation of T matters. The row law is that of
//! one row of a Haar frame, a uniform direction in R^d: with g isotropic
//! Gaussian in R^d and `z_k = g_k^2` (i.i.d. chi^2_1, the last `d - r` with
//! `mu = 0`), `R = N/X` (`N = sum c_k mu_k z_k`, `X = sum mu_k z_k`) and
//! `T = p/q`, `p = X/S1 = 1 + beta`, `q = |g|^2/d = 1 + gamma`. Then
//! `R_H > x` iff `Q + eps > 0` with the quadratic form and the remainder
//!
//! ```text
//! Q   = sum_k lambda_k z_k,  lambda_k = (d c_k - x (d - 1) - 2) mu_k / S1 + 1/d,
//! eps = gamma (A - 1) - beta^2,   A = sum_k (d c_k - x (d - 1)) mu_k z_k / S1,
//! ```
//!
//! (`eps ~ -(beta - gamma)^2`, second order in the fluctuation of T), and
//! to first order in eps, for any polynomial P of the z,
//! `E[P 1{R_H > x}] = E[P 1{Q > 0}] + E[P eps delta(Q)]`: two one-dimensional
//! Fourier integrals of the characteristic function of Q, the polynomial
//! factors entering as moments under the tilted law (the tilted `z_k` has
//! cumulants `2^(n-1) (n-1)! a_k^n`, `a_k = 1/(1 - i lambda_k u)`). The Haar
//! constraint cancels exactly the part of `h(R_H)` linear in the row's
//! squared coordinates; under the law of a uniform direction
//! `Cov(z_j, z_k) = (2d/(d+2)) (delta_jk - 1/d)` and `Cov(h, z_k)` is the same
//! for `z_k = g_k^2` and for `d g_k^2 / |g|^2` (h depends on the direction
//! only), so the projection removes `(d+2)/(2d) sum_k Cov(h, z_k)^2` over all
//! d coordinates and
//!
//! ```text
//! Var_1 = (4/d) [Var h(R_H) - (d + 2)/(2d) sum_k Cov(h(R_H), z_k)^2].
//! ```
//!
//! The x integrals run in `sqrt(x)` (h' ~ x^(-1/2) where R_H reaches 0).
//! Checked against a seeded Monte Carlo of Gaussian rows (`tests/coupling.rs`)
//! and, on the grid, against the simulated Haar null (power:0.5: sim std /
//! SE from 1.27-1.77 with Gaussian partners to 1.02-1.09).

use rayon::prelude::*;
use statrs::function::gamma::digamma;

use super::formulas::{corrected_var_degenerate, laplace_phi, mean_abs_cosine, SpectrumMoments};
use super::spectrum::null_weights;
use crate::error::{Error, Result};

/// Eigenvalues within this relative distance share a bin.
const BIN_REL: f64 = 0.02;
/// Nodes of the x integral (odd: Simpson).
pub(super) const NX: usize = 121;
/// Step of the Imhof integral in `ln u`, relative to the local rate.
pub(super) const STEP: f64 = 0.02;
/// Probability mass allowed outside the x range of the Haar row ratio, whose
/// tail integrals (a quadratic form with a term in every one of the d
/// coordinates) carry an absolute error of a few 1e-6.
const TAIL_H: f64 = 1e-5;

/// A bin: value (mean of its eigenvalues) and multiplicity.
#[derive(Debug, Clone, Copy)]
pub(super) struct Bin {
    pub(super) mu: f64,
    pub(super) mult: f64,
}

pub(super) fn bins(mu: &[f64]) -> Vec<Bin> {
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
pub(super) fn weights(b: &[Bin]) -> Vec<f64> {
    let distinct: Vec<(f64, f64)> = b.iter().map(|q| (q.mu, q.mult)).collect();
    let phi = laplace_phi(&distinct);
    let c: Vec<f64> = b.iter().zip(&phi).map(|(q, p)| q.mu * p).collect();
    let total: f64 = b.iter().zip(&c).map(|(q, c)| q.mult * c).sum();
    c.iter().map(|x| x / total).collect()
}

/// Phase `theta = sum (m/2) arctan(t)`, log-modulus `log rho = sum (m/4)
/// ln(1 + t^2)` of Imhof's integrand at one node (`t = lambda u` per bin of
/// multiplicity m), and the local oscillation and decay rates that set the
/// next step in `ln u`.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct ImhofPhase {
    pub(super) theta: f64,
    pub(super) log_rho: f64,
    pub(super) osc: f64,
    pub(super) decay: f64,
}

impl ImhofPhase {
    /// Adds one bin: multiplicity `m`, `t = lambda u`, `t2 = t^2`.
    pub(super) fn add(&mut self, m: f64, t: f64, t2: f64) {
        self.theta += 0.5 * m * t.atan();
        self.log_rho += 0.25 * m * t2.ln_1p();
        self.osc += 0.5 * m * t.abs() / (1.0 + t2);
        self.decay += 0.5 * m * t2 / (1.0 + t2);
    }
}

/// Composite Simpson weight of node `n` of the `NX`-node grid with spacing `step`.
pub(super) fn simpson_weight(n: usize, step: f64) -> f64 {
    let m = if n == 0 || n == NX - 1 {
        1.0
    } else if n % 2 == 1 {
        4.0
    } else {
        2.0
    };
    m * step / 3.0
}

/// `h(x) = G(1/x)` and `h'(x) = -G'(1/x) / x^2`, `G'(k) = G(k) (psi(k/2) - psi((k+1)/2)) / 2`.
pub(super) fn h_and_dh(x: f64) -> (f64, f64) {
    let k = 1.0 / x;
    let g = mean_abs_cosine(k);
    let dg = 0.5 * g * (digamma(k / 2.0) - digamma((k + 1.0) / 2.0));
    (g, -dg * k * k)
}

type Cx = faer::complex::Complex<f64>;

/// What [`haar_tails`] returns at one x.
struct HaarTails {
    /// `P(Q > 0)`: the leading term (an exact Imhof integral), used to place
    /// the x range.
    lead: f64,
    /// `P(R_H > x)` to first order in eps.
    p: f64,
    /// Per bin j: `E[(z_j - 1) 1{R_H > x}]` to first order in eps.
    pz: Vec<f64>,
}

/// One bin of the Haar row model: the coordinates of an isotropic Gaussian
/// `g` in R^d, grouped by eigenvalue (the `d - r` coordinates outside C's
/// range form a bin with `mu = 0`).
#[derive(Debug, Clone, Copy)]
struct HaarBin {
    mult: f64,
    /// `mu_k / S1`: the coefficient of `z_k` in `p = X/S1 = 1 + beta`.
    beta: f64,
    /// `c_k mu_k / S1`: the coefficient of `z_k` in `N/S1`.
    cmu: f64,
}

/// The tails at x of the Haar row ratio `R_H` (module doc):
/// `P(R_H > x)` and, per bin j, `E[(z_j - 1) 1{R_H > x}]` for one coordinate
/// of bin j, to first order in `eps = gamma (A - 1) - beta^2`:
/// `E[P 1{Q + eps > 0}] = E[P 1{Q > 0}] + E[P eps delta(Q)]`. Both terms are
/// one-dimensional Fourier integrals of the characteristic function of the
/// quadratic form `Q = sum_k lambda_k z_k`, with the polynomial P and eps
/// entering as moments under the exponentially tilted law (the tilted `z_k`
/// has cumulants `kappa_n = 2^(n-1) (n-1)! a_k^n`, `a_k = 1 / (1 - i lambda_k u)`).
/// `Err(NoConvergence)` if the integrand does not decay within `MAX_NODES`.
fn haar_tails(b: &[HaarBin], d: f64, x: f64) -> Result<HaarTails> {
    const MAX_NODES: usize = 400_000;
    let gam = 1.0 / d;
    // A = sum alpha_k z_k, alpha_k = (d c_k - x (d - 1)) mu_k / S1.
    let alpha: Vec<f64> = b
        .iter()
        .map(|q| d * q.cmu - x * (d - 1.0) * q.beta)
        .collect();
    let lam: Vec<f64> = b
        .iter()
        .zip(&alpha)
        .map(|(q, a)| a - 2.0 * q.beta + gam)
        .collect();
    // A - 1 = sum alpha_k (z_k - 1) + const_a.
    let const_a = b.iter().zip(&alpha).map(|(q, a)| q.mult * a).sum::<f64>() - 1.0;
    let lmax = lam.iter().fold(0.0f64, |m, l| m.max(l.abs()));
    let nb = b.len();
    if lmax == 0.0 || !lmax.is_finite() {
        return Err(Error::NoConvergence {
            input: format!("Haar row ratio at x = {x:e}"),
            routine: "Imhof integral (degenerate quadratic form)".into(),
        });
    }
    let mut y = (1e-9 / lmax).ln();
    let (mut tail, mut dens) = (0.0, 0.0);
    let mut tz = vec![0.0; nb];
    let mut sz = vec![0.0; nb];
    let mut prev: Option<(f64, f64, f64)> = None;
    let mut prev_z = vec![(0.0, 0.0); nb];
    let mut cur_z = vec![(0.0, 0.0); nb];
    let mut a = vec![Cx::new(0.0, 0.0); nb];
    for _ in 0..MAX_NODES {
        let u = y.exp();
        let mut ph = ImhofPhase::default();
        let (mut m_g, mut m_b, mut m_a) =
            (Cx::new(0.0, 0.0), Cx::new(0.0, 0.0), Cx::new(const_a, 0.0));
        let (mut c_ga, mut c_bb) = (Cx::new(0.0, 0.0), Cx::new(0.0, 0.0));
        for (((q, l), al), ak) in b.iter().zip(&lam).zip(&alpha).zip(a.iter_mut()) {
            let t = l * u;
            let t2 = t * t;
            ph.add(q.mult, t, t2);
            *ak = Cx::new(1.0, t) / (1.0 + t2);
            let am1 = *ak - 1.0;
            let a2 = *ak * *ak;
            m_g += am1 * (q.mult * gam);
            m_b += am1 * (q.mult * q.beta);
            m_a += am1 * (q.mult * al);
            c_ga += a2 * (2.0 * q.mult * gam * al);
            c_bb += a2 * (2.0 * q.mult * q.beta * q.beta);
        }
        let ImhofPhase {
            theta,
            log_rho,
            osc,
            decay,
        } = ph;
        let phi = Cx::from_polar((-log_rho).exp(), theta);
        // E_t[eps] = E_t[gamma (A - 1)] - E_t[beta^2].
        let e_eps = m_g * m_a + c_ga - (m_b * m_b + c_bb);
        let f_tail = phi.im;
        let f_dens = (phi * e_eps).re * u;
        for ((((q, al), ak), cz), _) in b
            .iter()
            .zip(&alpha)
            .zip(&a)
            .zip(cur_z.iter_mut())
            .zip(0..nb)
        {
            let mj = *ak - 1.0;
            let a2 = *ak * *ak;
            let a3 = a2 * *ak;
            let c_ja = a2 * (2.0 * al);
            let c_jg = a2 * (2.0 * gam);
            let c_jb = a2 * (2.0 * q.beta);
            let k_jga = a3 * (8.0 * gam * al);
            let k_jbb = a3 * (8.0 * q.beta * q.beta);
            let e_gz = mj * m_g * m_a + mj * c_ga + m_g * c_ja + m_a * c_jg + k_jga;
            let e_bz = mj * (m_b * m_b + c_bb) + m_b * c_jb * 2.0 + k_jbb;
            *cz = ((phi * mj).im, (phi * (e_gz - e_bz)).re * u);
        }
        if let Some((py, pt, pd)) = prev {
            let h = 0.5 * (y - py);
            tail += h * (pt + f_tail);
            dens += h * (pd + f_dens);
            for (((t, s), p), c) in tz.iter_mut().zip(sz.iter_mut()).zip(&prev_z).zip(&cur_z) {
                *t += h * (p.0 + c.0);
                *s += h * (p.1 + c.1);
            }
        }
        if log_rho > 45.0 + y.max(0.0) {
            let pi = std::f64::consts::PI;
            let lead = 0.5 + tail / pi;
            let pz = tz
                .iter()
                .zip(&sz)
                .map(|(t, s)| t / pi + s / (2.0 * pi))
                .collect();
            return Ok(HaarTails {
                lead,
                p: lead + dens / (2.0 * pi),
                pz,
            });
        }
        prev = Some((y, f_tail, f_dens));
        std::mem::swap(&mut prev_z, &mut cur_z);
        let rate = osc.max(decay).max(1e-3);
        y += (STEP / rate).min(STEP);
    }
    Err(Error::NoConvergence {
        input: format!("Haar row ratio at x = {x:e}"),
        routine: format!("Imhof integral ({MAX_NODES} nodes)"),
    })
}

/// The law of the row function with Haar partners, `h(R_H)` (module doc), for
/// a spectrum `mu` in dimension d.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HaarRowLaw {
    /// `E R_H = (d E R - 1) / (d - 1)`, `E R = 1 / k_rho`.
    pub mean_r: f64,
    /// `E h(R_H)`.
    pub mean_h: f64,
    /// `Var h(R_H)`.
    pub var_h: f64,
    /// `(d + 2)/(2 d) sum_k Cov(h(R_H), z_k)^2` over all d coordinates: the
    /// part linear in the row's squared coordinates, which cancels over the
    /// rows of a Haar frame.
    pub linear: f64,
}

impl HaarRowLaw {
    /// `Var h(R_H) - linear`, floored at 0.
    pub fn residual(&self) -> f64 {
        (self.var_h - self.linear).max(0.0)
    }
}

/// The law of the Haar row function `h(R_H)` for the spectrum `mu` (the
/// positive entries; scale-free) in dimension d (module doc, section 3(e) of
/// `theory/coupling-null.md`). Errors: `d < 2`, a non-finite or negative
/// entry, no positive entry, more positive entries than d; `NoConvergence`
/// if an Imhof integral does not decay.
pub fn haar_row_law(mu: &[f64], d: usize) -> Result<HaarRowLaw> {
    if d < 2 {
        return Err(Error::param("d", d, "the coupling needs d >= 2"));
    }
    if let Some((i, &v)) = mu.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(Error::NonFinite {
            input: "spectrum".into(),
            location: format!("entry {i}"),
            value: v,
        });
    }
    if let Some((i, &v)) = mu.iter().enumerate().find(|(_, v)| **v < 0.0) {
        return Err(Error::NotPositive {
            input: "spectrum (eigenvalues must be >= 0)".into(),
            index: i,
            value: v,
        });
    }
    let r = mu.iter().filter(|&&x| x > 0.0).count();
    if r == 0 {
        return Err(Error::empty("spectrum", "no positive eigenvalue"));
    }
    if r > d {
        return Err(Error::shape(
            "spectrum",
            format!("at most d = {d} positive eigenvalues"),
            r,
        ));
    }
    let df = d as f64;
    let pos = bins(mu);
    let c = weights(&pos);
    let mean_r_gauss: f64 = pos.iter().zip(&c).map(|(q, c)| q.mult * c * c).sum();
    let mean_r = (df * mean_r_gauss - 1.0) / (df - 1.0);
    let zero = HaarRowLaw {
        mean_r: mean_r.max(0.0),
        mean_h: 0.0,
        var_h: 0.0,
        linear: 0.0,
    };
    // k_rho >= d (C = I among them): rho_bar is 0 exactly, no fluctuation.
    if mean_r <= 0.0 || (pos.len() == 1 && r == d) {
        return Ok(zero);
    }
    let s1: f64 = pos.iter().map(|q| q.mult * q.mu).sum();
    let mut hb: Vec<HaarBin> = pos
        .iter()
        .zip(&c)
        .map(|(q, c)| HaarBin {
            mult: q.mult,
            beta: q.mu / s1,
            cmu: c * q.mu / s1,
        })
        .collect();
    if r < d {
        hb.push(HaarBin {
            mult: (d - r) as f64,
            beta: 0.0,
            cmu: 0.0,
        });
    }
    // Linearised sd of R_H: (d - 1) dR_H = sum_k [d (c_k - E R) - 1] mu_k/S1 (z_k - 1) + (1/d) sum_all (z - 1).
    let var_lin: f64 = hb
        .iter()
        .map(|q| {
            let coef = df * (q.cmu - mean_r_gauss * q.beta) - q.beta + 1.0 / df;
            2.0 * q.mult * coef * coef
        })
        .sum();
    let sd = var_lin.sqrt() / (df - 1.0);
    let cmax = c.iter().cloned().fold(0.0f64, f64::max);
    let floor = 1e-6 * mean_r;
    let upper = (df * cmax / (df - 1.0)).max(mean_r);
    let tail = |x: f64| haar_tails(&hb, df, x).map(|t| t.lead);
    let mut lo = (mean_r - 10.0 * sd).max(floor);
    while lo > floor && 1.0 - tail(lo)? > TAIL_H {
        lo = (lo - (mean_r - lo).max(sd)).max(floor).max(0.5 * lo);
    }
    let mut hi = (mean_r + 14.0 * sd).min(upper);
    while hi < upper && tail(hi)? > TAIL_H {
        hi = (hi + (hi - mean_r).max(sd)).min(upper);
    }
    if hi <= lo {
        return Ok(zero);
    }
    // Nodes uniform in s = sqrt(x) (Simpson, weight 2 s ds): h'(x) ~ x^(-1/2)
    // near 0, where the range starts when R_H reaches down to 0.
    let (slo, shi) = (lo.sqrt(), hi.sqrt());
    let step = (shi - slo) / (NX - 1) as f64;
    let nodes: Vec<(f64, f64, f64, Vec<f64>)> = (0..NX)
        .into_par_iter()
        .map(|n| {
            let sx = slo + n as f64 * step;
            let x = sx * sx;
            let HaarTails { p: t, pz, .. } = haar_tails(&hb, df, x)?;
            let w = simpson_weight(n, step) * 2.0 * sx;
            Ok((x, w, t, pz))
        })
        .collect::<Result<_>>()?;
    // g = h - h0; E g = g(lo) + int g' P(R_H > x) dx, E g^2 = g(lo)^2 + int 2 g g' P(R_H > x) dx,
    // Cov(h, z_j) = int h' E[(z_j - 1) 1{R_H > x}] dx.
    let (h0, _) = h_and_dh(mean_r);
    let glo = h_and_dh(lo).0 - h0;
    let (mut eg, mut eg2) = (glo, glo * glo);
    let mut cov = vec![0.0; hb.len()];
    for (x, w, t, pz) in &nodes {
        let (hx, dh) = h_and_dh(*x);
        eg += w * dh * t;
        eg2 += w * 2.0 * (hx - h0) * dh * t;
        for (cj, p) in cov.iter_mut().zip(pz) {
            *cj += w * dh * p;
        }
    }
    let linear = (df + 2.0) / (2.0 * df)
        * hb.iter()
            .zip(&cov)
            .map(|(q, cj)| q.mult * cj * cj)
            .sum::<f64>();
    Ok(HaarRowLaw {
        mean_r,
        mean_h: h0 + eg,
        var_h: (eg2 - eg * eg).max(0.0),
        linear,
    })
}

/// First-order part of the null variance of `rho_bar` with Haar partners:
/// `(4/d) Var_res h(R_H)` ([`haar_row_law`]).
pub fn first_order_var_haar(mu: &[f64], d: usize) -> Result<f64> {
    Ok(4.0 / d as f64 * haar_row_law(mu, d)?.residual())
}

/// Corrected standard error of `rho_bar` under the null with the first-order
/// term from the exact law of the row ratio with Haar partners (this module):
/// `sqrt(corrected_var_degenerate + first_order_var_haar)`;
/// derivation and grid in `theory/coupling-null.md`, section 3(e). Validates
/// `mu` like the null.
pub fn corrected_se_row_law(mu: &[f64], d: usize) -> Result<f64> {
    let w = null_weights(mu, d)?;
    let mu: Vec<f64> = w.iter().map(|s| s * s).collect();
    let m = SpectrumMoments::of(&mu, d)?;
    Ok((corrected_var_degenerate(&m, d) + first_order_var_haar(&mu, d)?).sqrt())
}
