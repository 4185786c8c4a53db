//! Theorem 5.1 (claim C9) on arbitrary small PSD ensembles.
//!
//! The bytes give d <= 8, n <= 8, and per sample a rank r_p in 0..=d, a
//! d x r_p Gaussian-like factor orthonormalised by
//! `linalg::sign_fixed_q`, and eigenvalues >= 0 whose scale spans 1e-300 ..
//! 1e300 (and exact zeros). Invariants:
//! - the ensemble builds, or is refused with a typed error;
//! - `claims::c9::bounds_hold` either errors (typed, e.g. an overflowing
//!   second moment) or reports both `H_ii^2 <= S_ii` and `S_ii <= Lambda H_ii`
//!   within the documented tolerance of `bounds::check_bounds`;
//! - a successful `fit::fit_gamma` of S on H lies in the interval of
//!   `claims::c9::exponent_and_interval`: `bounds::finite_fit_interval` of
//!   the directions it used, widened by the bound tolerances propagated
//!   through the OLS slope and by the fit's own rounding (derived in
//!   theory/c9-finite-fit.md; no ad-hoc slack).
#![no_main]

use faer::Mat;
use libfuzzer_sys::fuzz_target;
use superlinear::claims::c9::{bounds_hold, exponent_and_interval};
use superlinear::ensemble::Ensemble;
use superlinear::linalg::sign_fixed_q;

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
        // The interval already carries the rounding band of Theorem 5.1's
        // tolerances and the fit's own arithmetic (claims::c9); an end is
        // infinite when some S_ii is at rounding level, never NaN.
        assert!(g.is_finite() && !lo.is_nan() && !hi.is_nan());
        assert!(
            lo <= 1.0 + 1e-12 && hi >= 2.0 - 1e-12,
            "interval [{lo}, {hi}] must contain [1, 2]"
        );
        assert!(
            g >= lo && g <= hi,
            "gamma {g} outside the finite-fit interval [{lo}, {hi}] with its rounding band"
        );
    }
});
