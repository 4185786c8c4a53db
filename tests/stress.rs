//! Numerical stress: generated ensembles with 12-decade
//! spectra, repeated eigenvalues, d = 1 and d = 2, rank-0 samples, and scales
//! from 1e-150 to 1e150. Every claim-level computation either returns a
//! finite answer or a typed error: never a panic, never NaN or infinity
//! inside an `Ok`. Where an answer is returned, the claims' own invariants
//! (the C8 identities, the C9 inequalities, the finite-fit interval) are
//! asserted too.

use faer::Mat;
use superlinear::claims::{c8, c9};
use superlinear::ensemble::{Alignment, EigenLaw, Ensemble, EnsembleSpec};
use superlinear::error::Error;
use superlinear::fit::{fit_gamma, FitRule};
use superlinear::moments::Moments;

const SCALES: [f64; 5] = [1e-150, 1e-6, 1.0, 1e6, 1e150];

fn laws() -> [EigenLaw; 4] {
    [
        EigenLaw::Geometric { decades: 12.0 },
        EigenLaw::Equal,
        EigenLaw::PowerLaw { exponent: 1.0 },
        EigenLaw::SpikedBulk {
            spikes: 1,
            ratio: 1e-12,
        },
    ]
}

/// Every (d, n, rank, law, alignment, scale) of the stress grid, as specs.
fn grid() -> Vec<EnsembleSpec> {
    let mut out = Vec::new();
    let mut seed = 0;
    for d in [1usize, 2, 5] {
        for n in [1usize, 3] {
            for rank in [1, d] {
                for law in laws() {
                    for alignment in [Alignment::Perfect, Alignment::Haar] {
                        for scale in SCALES {
                            seed += 1;
                            let mut spec = EnsembleSpec::new(d, n, rank, law, alignment, seed);
                            spec.scale = scale;
                            out.push(spec);
                        }
                    }
                }
            }
        }
    }
    out
}

fn all_finite(v: &[f64]) -> bool {
    v.iter().all(|x| x.is_finite())
}

/// Runs every claim-level computation on `ens`, asserting finite answers and
/// the claims' invariants on every `Ok`. Returns how many calls succeeded.
fn stress_one(ens: &Ensemble, label: &str) -> usize {
    let mut ok = 0;
    match Moments::compute(ens) {
        Ok(m) => {
            ok += 1;
            let h = m.h_diag();
            assert!(all_finite(h), "{label}: H eigenvalues {h:?}");
            assert!(
                all_finite(&m.second_diag),
                "{label}: S_ii {:?}",
                m.second_diag
            );
            assert!(
                (0..ens.d()).all(|i| (0..ens.d()).all(|j| m.hessian[(i, j)].is_finite())),
                "{label}: H entries"
            );
            let rule = FitRule::default_for(ens.d(), ens.d());
            match fit_gamma(h, &m.second_diag, &rule) {
                Ok(f) => {
                    ok += 1;
                    assert!(
                        f.gamma.is_finite()
                            && f.intercept.is_finite()
                            && f.std_err.is_finite()
                            && f.r_squared.is_finite(),
                        "{label}: fit {f:?}"
                    );
                }
                Err(e) => assert_typed(&e, label),
            }
        }
        Err(e) => assert_typed(&e, label),
    }
    match c8::identity_errors(ens) {
        Ok((e16, e17)) => {
            ok += 1;
            assert!(e16.is_finite() && e17.is_finite(), "{label}: {e16} {e17}");
            assert!(
                e16 <= c8::TOLERANCE && e17 <= c8::TOLERANCE,
                "{label}: C8 identity errors {e16:e}, {e17:e}"
            );
        }
        Err(e) => assert_typed(&e, label),
    }
    match c9::bounds_hold(ens) {
        Ok((left, right)) => {
            ok += 1;
            assert!(left && right, "{label}: Theorem 5.1 ({left}, {right})");
        }
        Err(e) => assert_typed(&e, label),
    }
    match c9::exponent_and_interval(ens) {
        Ok(Some((g, (lo, hi)))) => {
            ok += 1;
            // The interval carries its own rounding band (an end is
            // infinite when some S_ii is at rounding level), so no slack.
            assert!(g.is_finite() && !lo.is_nan() && !hi.is_nan(), "{label}");
            assert!(
                g >= lo && g <= hi,
                "{label}: gamma {g} outside [{lo}, {hi}]"
            );
        }
        Ok(None) => ok += 1,
        Err(e) => assert_typed(&e, label),
    }
    ok
}

/// A typed error names its input: a non-empty message.
fn assert_typed(e: &Error, label: &str) {
    assert!(!e.to_string().is_empty(), "{label}: empty error message");
}

#[test]
fn stress_grid_is_finite_or_typed_error() {
    let specs = grid();
    let (mut built, mut calls_ok) = (0, 0);
    for spec in &specs {
        let label = format!("{spec:?}");
        match spec.generate() {
            Ok(ens) => {
                built += 1;
                calls_ok += stress_one(&ens, &label);
            }
            Err(e) => assert_typed(&e, &label),
        }
    }
    // The grid is meant to be computed, not refused: every spec is valid.
    assert_eq!(built, specs.len(), "every stress spec should generate");
    assert!(
        calls_ok >= 4 * built,
        "{calls_ok} successful calls on {built} ensembles"
    );
}

#[test]
fn stress_gamma_is_scale_invariant_across_300_decades() {
    // C2 at the extremes: the fitted gamma must not move with the scale.
    for law in [
        EigenLaw::Geometric { decades: 12.0 },
        EigenLaw::PowerLaw { exponent: 1.0 },
    ] {
        let base = EnsembleSpec::new(6, 4, 6, law, Alignment::Haar, 11);
        let mut gammas = Vec::new();
        for scale in SCALES {
            let mut spec = base;
            spec.scale = scale;
            let ens = spec.generate().expect("valid spec");
            let m = Moments::compute(&ens).expect("moments");
            let rule = FitRule::default_for(6, 6);
            gammas.push(
                fit_gamma(m.h_diag(), &m.second_diag, &rule)
                    .expect("fit")
                    .gamma,
            );
        }
        for g in &gammas {
            assert!((g - gammas[2]).abs() < 1e-9, "{law:?}: gammas {gammas:?}");
        }
    }
}

#[test]
fn stress_equal_spectrum_aligned_is_degenerate_fit_error() {
    // Repeated eigenvalues with perfect alignment: H = I, zero log-range, so
    // the gamma fit is a typed DegenerateFit error, never a NaN slope.
    let ens = EnsembleSpec::new(4, 3, 4, EigenLaw::Equal, Alignment::Perfect, 3)
        .generate()
        .expect("valid spec");
    let m = Moments::compute(&ens).expect("moments");
    let rule = FitRule::default_for(4, 4);
    let err = fit_gamma(m.h_diag(), &m.second_diag, &rule).expect_err("degenerate");
    assert!(matches!(err, Error::DegenerateFit { .. }), "{err}");
    assert_eq!(c9::exponent_and_interval(&ens), Ok(None));
    assert_eq!(c9::bounds_hold(&ens), Ok((true, true)));
}

fn rank_zero(d: usize) -> (Mat<f64>, Vec<f64>) {
    (Mat::zeros(d, 0), Vec::new())
}

#[test]
fn rank_zero_samples_are_a_zero_hessian() {
    for d in [1usize, 2, 5] {
        let ens = Ensemble::from_samples(d, vec![rank_zero(d), rank_zero(d)], "zero Hessians")
            .expect("a rank-0 sample is a zero Hessian, valid input");
        assert_eq!(ens.n(), 2);
        assert_eq!(ens.total_rank(), 0);
        assert_eq!(ens.lambda_max(), 0.0);
        assert!(ens.is_psd());
        let m = Moments::compute(&ens).expect("moments of zero Hessians");
        assert!(m.h_diag().iter().all(|&v| v == 0.0));
        assert!(m.second_diag.iter().all(|&v| v == 0.0));
        assert_eq!(c8::identity_errors(&ens), Ok((0.0, 0.0)));
        assert_eq!(c9::bounds_hold(&ens), Ok((true, true)));
        assert_eq!(c9::exponent_and_interval(&ens), Ok(None));
        assert_eq!(stress_one(&ens, "rank 0"), 4);
    }
}

#[test]
fn rank_zero_samples_mix_with_full_rank_ones() {
    // Rank-0 samples dilute the mean: with two zero samples and one
    // diag(3, 2, 1), H = diag(3, 2, 1) / 3 and S = diag(9, 4, 1) / 3.
    let d = 3;
    let eye = Mat::<f64>::identity(d, d);
    let ens = Ensemble::from_samples(
        d,
        vec![rank_zero(d), (eye, vec![3.0, 2.0, 1.0]), rank_zero(d)],
        "mixed ranks",
    )
    .expect("valid");
    assert_eq!(ens.rank(0), 0);
    assert_eq!(ens.rank(1), 3);
    let m = Moments::compute(&ens).expect("moments");
    for (h, want) in m.h_diag().iter().zip([1.0, 2.0 / 3.0, 1.0 / 3.0]) {
        assert!((h - want).abs() < 1e-15, "{h} vs {want}");
    }
    for (s, want) in m.second_diag.iter().zip([3.0, 4.0 / 3.0, 1.0 / 3.0]) {
        assert!((s - want).abs() < 1e-14, "{s} vs {want}");
    }
    assert_eq!(c9::bounds_hold(&ens), Ok((true, true)));
    assert!(stress_one(&ens, "mixed ranks") >= 4);
}

#[test]
fn stress_beyond_the_square_root_of_the_range_is_finite_or_typed_error() {
    // At 1e+-200 the second moments over- or underflow (lambda^2 = 1e+-400):
    // answers may be refused, but an Ok must still be finite and true.
    for scale in [1e-200, 1e200, 1e-300, 1e300] {
        for law in laws() {
            for d in [1usize, 2, 4] {
                let mut spec = EnsembleSpec::new(d, 3, d, law, Alignment::Haar, 7);
                spec.scale = scale;
                let label = format!("{spec:?}");
                match spec.generate() {
                    Ok(ens) => {
                        stress_one(&ens, &label);
                    }
                    Err(e) => assert_typed(&e, &label),
                }
            }
        }
    }
}

#[test]
fn regression_second_moment_overflow_is_a_typed_error() {
    // Found by the stress grid: at scale 1e200 the Eq. 17 diagonal
    // (lambda^2 = 1e400) overflowed and Moments::compute returned Ok with
    // S_ii = inf. It is now Error::NonFinite naming the overflow.
    let mut spec = EnsembleSpec::new(
        1,
        3,
        1,
        EigenLaw::Geometric { decades: 12.0 },
        Alignment::Haar,
        7,
    );
    spec.scale = 1e200;
    let ens = spec.generate().expect("valid spec");
    let err = Moments::compute(&ens).expect_err("S_ii overflows");
    assert!(
        matches!(&err, Error::NonFinite { input, .. } if input.contains("overflow")),
        "{err}"
    );
    assert!(c9::bounds_hold(&ens).is_err());
}
