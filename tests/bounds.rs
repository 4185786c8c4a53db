//! Theorem 5.1 (claim C9) on PSD ensembles built densely in the test:
//! `h_p = U_p diag(l_p) U_p^T` with Haar frames `U_p` and nonnegative `l_p`,
//! `H = (1/n) sum h_p`, `S = (1/n) sum U_p diag(l_p^2) U_p^T`, projected on
//! H's eigenvectors.

use faer::Mat;
use proptest::prelude::*;
use rand::Rng;
use superlinear::bounds::{check_bounds, local_slopes, BoundReport, BoundTolerance};
use superlinear::linalg::{haar_frame, seeded_rng, sym_eig};
use superlinear::Error;

use crate::util::rel_diff;

/// How the per-sample eigenvalues are drawn.
#[derive(Debug, Clone, Copy)]
enum Law {
    /// `10^(-decades u)`, u uniform, some exact zeros.
    Spread { decades: f64 },
    /// All eigenvalues equal to 1 (degenerate spectra).
    Equal,
}

/// `(H_ii, S_ii, Lambda)` for an ensemble of n samples of rank r in dim d.
/// `shared` uses one frame for every sample (perfect alignment).
fn ensemble(
    d: usize,
    n: usize,
    r: usize,
    law: Law,
    shared: bool,
    seed: u64,
) -> (Vec<f64>, Vec<f64>, f64) {
    let mut rng = seeded_rng(seed);
    let mut h = Mat::<f64>::zeros(d, d);
    let mut s = Mat::<f64>::zeros(d, d);
    let common = haar_frame(d, r, &mut rng).unwrap();
    let mut lambda = 0.0f64;
    for _ in 0..n {
        let u = if shared {
            common.clone()
        } else {
            haar_frame(d, r, &mut rng).unwrap()
        };
        let l: Vec<f64> = (0..r)
            .map(|_| match law {
                Law::Equal => 1.0,
                Law::Spread { decades } => {
                    if rng.random_bool(0.1) {
                        0.0
                    } else {
                        10f64.powf(-decades * rng.random::<f64>())
                    }
                }
            })
            .collect();
        lambda = l.iter().cloned().fold(lambda, f64::max);
        let ul = Mat::from_fn(d, r, |i, k| u[(i, k)] * l[k]);
        let ul2 = Mat::from_fn(d, r, |i, k| u[(i, k)] * l[k] * l[k]);
        h += &ul * u.transpose();
        s += &ul2 * u.transpose();
    }
    let inv_n = 1.0 / n as f64;
    let h = Mat::from_fn(d, d, |i, j| 0.5 * inv_n * (h[(i, j)] + h[(j, i)]));
    let s = Mat::from_fn(d, d, |i, j| 0.5 * inv_n * (s[(i, j)] + s[(j, i)]));
    let e = sym_eig(h.as_ref(), "H").unwrap();
    let s_diag = (0..d)
        .map(|i| {
            let v = e.vectors.col(i);
            let sv = &s * v;
            v.transpose() * &sv
        })
        .collect();
    (e.values, s_diag, lambda)
}

fn check(d: usize, n: usize, (h, s, lambda): (Vec<f64>, Vec<f64>, f64)) -> BoundReport {
    check_bounds(&h, &s, lambda, &BoundTolerance::default_for(d, n)).unwrap()
}

proptest! {
    #![proptest_config(crate::util::proptest_config(48))]
    #[test]
    fn bounds_hold_on_random_psd_ensembles(
        d in 1usize..24, n in 1usize..20, r_frac in 0.0f64..1.0,
        decades in 0.0f64..6.0, seed in any::<u64>(),
    ) {
        let r = 1 + ((d - 1) as f64 * r_frac) as usize;
        let rep = check(d, n, ensemble(d, n, r, Law::Spread { decades }, false, seed));
        prop_assert!(rep.holds(), "{rep:#?}");
    }
}

proptest! {
    #![proptest_config(crate::util::proptest_config(32))]
    #[test]
    fn bounds_hold_on_degenerate_spectra(
        d in 1usize..24, n in 1usize..20, r_frac in 0.0f64..1.0,
        shared in any::<bool>(), seed in any::<u64>(),
    ) {
        let r = 1 + ((d - 1) as f64 * r_frac) as usize;
        let rep = check(d, n, ensemble(d, n, r, Law::Equal, shared, seed));
        prop_assert!(rep.holds(), "{rep:#?}");
        if shared {
            // Identical h_p = P (a projector): H = S = P, both bounds attained.
            prop_assert!((rep.left.tightness.unwrap() - 1.0).abs() < 1e-12, "{rep:#?}");
            prop_assert!((rep.right.tightness.unwrap() - 1.0).abs() < 1e-12, "{rep:#?}");
        }
    }
}

proptest! {
    #![proptest_config(crate::util::proptest_config(48))]
    #[test]
    fn bounds_hold_on_rank_one_ensembles(
        d in 1usize..24, n in 1usize..20, decades in 0.0f64..12.0, seed in any::<u64>(),
    ) {
        let rep = check(d, n, ensemble(d, n, 1, Law::Spread { decades }, false, seed));
        prop_assert!(rep.holds(), "{rep:#?}");
    }
}

proptest! {
    #![proptest_config(crate::util::proptest_config(48))]
    #[test]
    fn bounds_hold_over_twelve_decades(
        d in 2usize..24, n in 1usize..20, r_frac in 0.0f64..1.0,
        shared in any::<bool>(), seed in any::<u64>(),
    ) {
        let r = 1 + ((d - 1) as f64 * r_frac) as usize;
        let rep = check(d, n, ensemble(d, n, r, Law::Spread { decades: 12.0 }, shared, seed));
        prop_assert!(rep.holds(), "{rep:#?}");
    }
}

#[test]
fn single_rank_one_sample_attains_both_bounds() {
    // h = l u u^T: H_11 = l, S_11 = l^2 = H_11^2 = Lambda H_11.
    let rep = check(
        5,
        1,
        ensemble(5, 1, 1, Law::Spread { decades: 3.0 }, false, 11),
    );
    assert!(rep.holds());
    assert!(rel_diff(rep.left.tightness.unwrap(), 1.0, 1.0) < 1e-12);
    assert!(rel_diff(rep.right.tightness.unwrap(), 1.0, 1.0) < 1e-12);
    assert_eq!(rep.left.tightest_index, Some(0));
}

#[test]
fn violations_are_counted_and_located() {
    let tol = BoundTolerance::default_for(3, 3);
    // Direction 1 breaks the left bound (S < H^2), direction 2 the right
    // bound (S > Lambda H), both far beyond rounding level.
    let h = [1.0, 0.5, 0.1];
    let s = [1.0, 0.2, 0.5];
    let rep = check_bounds(&h, &s, 1.0, &tol).unwrap();
    assert!(!rep.holds());
    assert_eq!((rep.left.violations, rep.left.worst_index), (1, 1));
    assert!((rep.left.worst_relative_excess - 0.05 / 0.25).abs() < 1e-12);
    assert_eq!((rep.right.violations, rep.right.worst_index), (1, 2));
    assert!((rep.right.worst_relative_excess - 0.4 / 0.5).abs() < 1e-12);
    assert!(rep.right.worst_excess_over_tol > 1e10);
    // A violation at rounding level (S_ii below H_ii^2 by 1 ulp) is not one.
    let rep = check_bounds(&[0.5], &[0.25 * (1.0 - f64::EPSILON)], 1.0, &tol).unwrap();
    assert!(rep.holds());
}

#[test]
fn right_bound_needs_psd_left_does_not() {
    // h_1 = 1, h_2 = -1 (d = 1): H = 0, S = 1, Lambda = 1: S <= Lambda H fails,
    // H^2 <= S holds (Jensen needs only symmetric h_p).
    let rep = check_bounds(&[0.0], &[1.0], 1.0, &BoundTolerance::default_for(1, 2)).unwrap();
    assert!(rep.left.holds());
    assert_eq!(rep.right.violations, 1);
}

#[test]
fn typed_errors_on_bad_input() {
    let tol = BoundTolerance::default_for(2, 2);
    assert!(matches!(
        check_bounds(&[1.0], &[1.0, 2.0], 1.0, &tol),
        Err(Error::Shape { .. })
    ));
    assert!(matches!(
        check_bounds(&[], &[], 1.0, &tol),
        Err(Error::Empty { .. })
    ));
    assert!(matches!(
        check_bounds(&[f64::NAN], &[1.0], 1.0, &tol),
        Err(Error::NonFinite { .. })
    ));
    assert!(matches!(
        check_bounds(&[1.0], &[1.0], -1.0, &tol),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(matches!(
        check_bounds(&[1.0], &[1.0], f64::INFINITY, &tol),
        Err(Error::InvalidParameter { .. })
    ));
    let bad = BoundTolerance { c: f64::NAN, ..tol };
    assert!(matches!(
        check_bounds(&[1.0], &[1.0], 1.0, &bad),
        Err(Error::InvalidParameter { .. })
    ));
}

proptest! {
    #![proptest_config(crate::util::proptest_config(64))]
    #[test]
    fn local_slopes_are_the_exponent_of_an_exact_power_law(
        m in 2usize..50, gamma in -2.0f64..3.0, range in 0.1f64..27.0,
    ) {
        let h: Vec<f64> = (0..m).map(|i| (-range * i as f64 / (m - 1) as f64).exp()).collect();
        let s: Vec<f64> = h.iter().map(|x| x.powf(gamma)).collect();
        let slopes = local_slopes(&h, &s).unwrap();
        prop_assert_eq!(slopes.len(), m - 1);
        let step = range / (m - 1) as f64;
        for sl in slopes {
            let sl = sl.unwrap();
            prop_assert!((sl - gamma).abs() <= 64.0 * f64::EPSILON * (1.0 + range * gamma.abs()) / step);
        }
    }
}

#[test]
fn local_slopes_mark_equal_abscissae_and_reject_nonpositive() {
    let sl = local_slopes(&[2.0, 2.0, 1.0], &[4.0, 3.0, 1.0]).unwrap();
    assert_eq!(sl[0], None);
    assert!((sl[1].unwrap() - 3f64.ln() / 2f64.ln()).abs() < 1e-14);
    assert!(matches!(
        local_slopes(&[1.0, 0.0], &[1.0, 1.0]),
        Err(Error::NotPositive { index: 1, .. })
    ));
    assert!(matches!(
        local_slopes(&[1.0, f64::NAN], &[1.0, 1.0]),
        Err(Error::NonFinite { .. })
    ));
    assert!(matches!(
        local_slopes(&[1.0], &[1.0, 1.0]),
        Err(Error::Shape { .. })
    ));
}

/// The `bounds` fuzz target's decoding (fuzz/fuzz_targets/bounds.rs), so its
/// crash inputs replay here: d, n, then per sample a rank byte, d r factor
/// bytes (i8 / 16, orthonormalised) and two bytes per eigenvalue.
fn ensemble_from_fuzz_bytes(data: &[u8]) -> superlinear::Result<superlinear::ensemble::Ensemble> {
    let mut pos = 0;
    let mut next = || {
        let b = data.get(pos).copied().unwrap_or(0);
        pos += 1;
        b
    };
    let d = 1 + usize::from(next() % 8);
    let n = 1 + usize::from(next() % 8);
    let mut samples = Vec::new();
    for _ in 0..n {
        let r = usize::from(next()) % (d + 1);
        let g = Mat::from_fn(d, r, |_, _| f64::from(next() as i8) / 16.0);
        let u = if r == 0 {
            Mat::zeros(d, 0)
        } else {
            superlinear::linalg::sign_fixed_q(g.as_ref())
        };
        let l = (0..r)
            .map(|_| {
                let (m, e) = (next(), next());
                let exp = ((i32::from(e) - 128) * 300 / 127).clamp(-300, 300);
                if m == 0 {
                    0.0
                } else {
                    f64::from(m) / 255.0 * 10f64.powi(exp)
                }
            })
            .collect();
        samples.push((u, l));
    }
    superlinear::ensemble::Ensemble::from_samples(d, samples, "fuzz bytes")
}

#[test]
fn regression_subnormal_squares_within_underflow_floor() {
    // fuzz/seeds/bounds/regression-subnormal-squares: d = 8, one full-rank
    // sample with every eigenvalue 2.35e-161, so H_ii^2 and S_ii are
    // subnormal (~5.5e-322) and S_ii came out a few subnormal units below
    // H_ii^2 while the relative tolerance had underflowed to 0.
    let bytes = [
        255, 128, 17, 42, 60, 60, 6, 3, 2, 33, 1, 2, 3, 4, 5, 251, 142, 142, 142, 142, 142, 142,
        142, 142, 142, 142, 142, 142, 142, 142, 142, 142, 142, 142, 142, 142, 142, 142, 142, 142,
        142, 142, 142, 142, 142, 142, 142, 142, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60,
        60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60,
        60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60,
        60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60,
        60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 142, 142, 142, 142, 142, 142, 142, 142, 248, 247,
        0, 255, 160, 9, 0, 1, 3,
    ];
    let ens = ensemble_from_fuzz_bytes(&bytes).expect("valid ensemble");
    assert_eq!((ens.d(), ens.n()), (8, 1));
    assert!(ens.lambda_max() < 1e-160);
    let (left, right) = superlinear::claims::c9::bounds_hold(&ens).expect("finite moments");
    assert!(left && right, "({left}, {right})");
    // The floor is a handful of subnormal units: it cannot hide a violation
    // at normal scale.
    let floor = BoundTolerance::default_for(8, 1).underflow_floor();
    assert!(floor > 0.0 && floor < 1e-319, "{floor:e}");
}

#[test]
fn regression_gamma_in_rounded_interval_with_subnormal_s() {
    // fuzz/seeds/bounds/regression-gamma-subnormal-s (was
    // open-crashes/bounds-gamma-outside-saturated-interval): d = 8, one
    // sample, eigenvalues 2.35e-161 (six) and 2.51e-161 (the top, = Lambda).
    // S_ii = H_ii^2 ~ 5.5e-322 is a subnormal of ~111 units, so rounding moves
    // ln S_ii by up to 1/222 while the log-spread of the H_ii is 0.065: the
    // fitted slope came out 2.017 against the exact interval [1, 2]. The
    // honest interval propagates check_bounds' tolerances (here the underflow
    // floor, larger than S_ii itself) through the slope and is unbounded.
    let bytes = [
        255, 128, 17, 42, 60, 60, 255, 24, 6, 3, 2, 33, 1, 2, 3, 4, 5, 251, 142, 142, 142, 0, 0, 0,
        0, 0, 0, 0, 1, 142, 142, 142, 142, 142, 0, 0, 0, 22, 142, 142, 142, 142, 48, 142, 142, 142,
        142, 142, 142, 142, 142, 142, 142, 142, 142, 142, 142, 142, 142, 142, 142, 142, 60, 60, 60,
        60, 60, 60, 60, 60, 60, 60, 60, 64, 60, 60, 60, 60, 60, 60, 60, 247, 0, 255, 160, 9, 0, 1,
        3,
    ];
    let ens = ensemble_from_fuzz_bytes(&bytes).expect("valid ensemble");
    assert_eq!((ens.d(), ens.n()), (8, 1));
    let (left, right) = superlinear::claims::c9::bounds_hold(&ens).expect("finite moments");
    assert!(left && right);
    let (g, (lo, hi)) = superlinear::claims::c9::exponent_and_interval(&ens)
        .expect("moments")
        .expect("a fit");
    // The exact-arithmetic interval is [1, 2] and the computed slope is not in it.
    let m = superlinear::moments::Moments::compute(&ens).unwrap();
    let h_used: Vec<f64> = m.h_diag()[..7].to_vec();
    let (elo, ehi) = superlinear::bounds::finite_fit_interval(&h_used, ens.lambda_max()).unwrap();
    assert!(
        (elo - 1.0).abs() < 1e-12 && (ehi - 2.0).abs() < 1e-12,
        "[{elo}, {ehi}]"
    );
    assert!(g > ehi + 1e-3, "gamma {g}");
    assert!(lo <= g && g <= hi, "gamma {g} outside [{lo}, {hi}]");
    assert!(
        hi == f64::INFINITY,
        "S_ii below the underflow floor: hi = {hi}"
    );
}

#[test]
fn rounded_interval_is_exact_interval_plus_rounding_at_normal_scale() {
    // Away from underflow the rounding band is a few hundred eps wide: the
    // rounded interval contains the exact one and exceeds it by little.
    let h = [1.0, 0.5, 0.25, 0.125];
    let tol = BoundTolerance::default_for(4, 3);
    let (lo, hi) = superlinear::bounds::finite_fit_interval(&h, 2.0).unwrap();
    let (rlo, rhi) = superlinear::bounds::finite_fit_interval_rounded(&h, 2.0, 1.0, &tol).unwrap();
    assert!(rlo <= lo && rhi >= hi);
    let unit = tol.unit();
    assert!(
        lo - rlo < 100.0 * unit && rhi - hi < 100.0 * unit,
        "[{rlo}, {rhi}] vs [{lo}, {hi}]"
    );
    // Scaling H by s and Lambda by s moves the exact interval not at all.
    let hs: Vec<f64> = h.iter().map(|v| v * 1e-100).collect();
    let (slo, shi) = superlinear::bounds::finite_fit_interval(&hs, 2e-100).unwrap();
    assert!((slo - lo).abs() < 1e-12 && (shi - hi).abs() < 1e-12);
}
