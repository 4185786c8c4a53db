//! Theorem 5.1 (claim C9) on arbitrary small PSD ensembles (issue 7 item 1 (a)).
//!
//! The bytes give d <= 8, n <= 8, and per sample a rank r_p in 0..=d, a
//! d x r_p Gaussian-like factor orthonormalised by
//! `linalg::sign_fixed_q`, and eigenvalues >= 0 whose scale spans 1e-300 ..
//! 1e300 (and exact zeros). Invariants:
//! - the ensemble builds, or is refused with a typed error;
//! - `claims::c9::bounds_hold` either errors (typed, e.g. an overflowing
//!   second moment) or reports both `H_ii^2 <= S_ii` and `S_ii <= Lambda H_ii`
//!   within the documented tolerance of `bounds::check_bounds`;
//! - a successful `fit::fit_gamma` of S on H lies in
//!   `bounds::finite_fit_interval` of the directions it used, up to the
//!   slope shift that the bound tolerances on the points can cause.
#![no_main]

use faer::Mat;
use libfuzzer_sys::fuzz_target;
use superlinear::claims::c9::{bounds_hold, exponent_and_interval};
use superlinear::ensemble::Ensemble;
use superlinear::fit::FitRule;
use superlinear::linalg::sign_fixed_q;
use superlinear::moments::Moments;

struct Bytes<'a>(&'a [u8], usize);

impl Bytes<'_> {
    fn next(&mut self) -> u8 {
        let b = self.0.get(self.1).copied().unwrap_or(0);
        self.1 += 1;
        b
    }
}

/// An eigenvalue >= 0: mantissa in [0, 1] from one byte, decimal exponent in
/// -300..=300 from another; a mantissa byte 0 gives an exact zero.
fn eigenvalue(b: &mut Bytes) -> f64 {
    let m = b.next();
    let e = b.next();
    if m == 0 {
        return 0.0;
    }
    let exp = (i32::from(e) - 128) * 300 / 127;
    f64::from(m) / 255.0 * 10f64.powi(exp.clamp(-300, 300))
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes(data, 0);
    let d = 1 + usize::from(b.next() % 8);
    let n = 1 + usize::from(b.next() % 8);
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let r = usize::from(b.next()) % (d + 1);
        let g = Mat::from_fn(d, r, |_, _| f64::from(b.next() as i8) / 16.0);
        let u = if r == 0 {
            Mat::zeros(d, 0)
        } else {
            sign_fixed_q(g.as_ref())
        };
        let l: Vec<f64> = (0..r).map(|_| eigenvalue(&mut b)).collect();
        samples.push((u, l));
    }
    let Ok(ens) = Ensemble::from_samples(d, samples, "fuzz-bounds") else {
        return;
    };
    if let Ok((left, right)) = bounds_hold(&ens) {
        assert!(left, "H_ii^2 <= S_ii violated beyond tolerance");
        assert!(right, "S_ii <= Lambda H_ii violated beyond tolerance");
    }
    if let Ok(Some((g, (lo, hi)))) = exponent_and_interval(&ens) {
        assert!(g.is_finite() && lo.is_finite() && hi.is_finite());
        assert!(
            lo <= 1.0 + 1e-12 && hi >= 2.0 - 1e-12,
            "interval [{lo}, {hi}] must contain [1, 2]"
        );
        let slack = slope_slack(&ens, g);
        assert!(
            g >= lo - slack && g <= hi + slack,
            "gamma {g} outside the finite-fit interval [{lo}, {hi}] (slack {slack:e})"
        );
    }
});

/// How far rounding can move the OLS slope outside the exact band: each point
/// may sit outside the band by the bound tolerances of `check_bounds`
/// (absolute `c k eps Lambda ||H||` on S_ii and `c k eps ||H||` on H_ii),
/// i.e. by `dy_i` and `dx_i` in log scale, and the slope moves by at most
/// `sum_i |c_i| (dy_i + |gamma| dx_i) / Sxx`.
fn slope_slack(ens: &Ensemble, gamma: f64) -> f64 {
    let Ok(m) = Moments::compute(ens) else {
        return f64::INFINITY;
    };
    let rule = FitRule::default_for(ens.d(), ens.d());
    let Ok((used, _)) = rule.select(m.h_diag(), &m.second_diag) else {
        return f64::INFINITY;
    };
    let h = m.h_diag();
    let norm_h = h.iter().fold(0.0f64, |a, v| a.max(v.abs()));
    let unit = 30.0 * (ens.d() + ens.n()) as f64 * f64::EPSILON;
    let lam = ens.lambda_max();
    let x: Vec<f64> = used.iter().map(|&i| h[i].ln()).collect();
    let xbar = x.iter().sum::<f64>() / x.len() as f64;
    let sxx: f64 = x.iter().map(|v| (v - xbar).powi(2)).sum();
    let mut total = 0.0;
    for (k, &i) in used.iter().enumerate() {
        let dy = unit * (lam * norm_h + 2.0 * h[i] * norm_h) / m.second_diag[i];
        let dx = unit * norm_h / h[i];
        total += (x[k] - xbar).abs() * (dy + gamma.abs() * dx);
    }
    1e-9 * (1.0 + gamma.abs()) + total / sxx
}
