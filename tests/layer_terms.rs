//! The AWD terms and the Kronecker suppression of a trained layer
//! (`superlinear::layer::{terms, suppress}`) on synthetic layers: the Eq. 57
//! terms against exact gradient differences (Term I + Term II is first-order
//! exact), Parseval checks of the projected moments, agreement with the
//! Kronecker engine, the Kronecker suppression against the dense ensemble
//! path, and the matched halves.

use faer::Mat;
use proptest::prelude::*;
use rand::Rng as _;
use superlinear::ensemble::Ensemble;
use superlinear::kron::{KronCurvature, LayerSamples};
use superlinear::layer::halves::{match_halves, PairedLayer};
use superlinear::layer::median;
use superlinear::layer::suppress::{
    hessian_with_thetas, kron_spectra, moments_with_thetas, shape_change,
};
use superlinear::layer::terms::measure;
use superlinear::linalg::seeded_rng;
use superlinear::loss::Loss;
use superlinear::moments::hessian as dense_hessian;
use superlinear::suppression::{suppress, SuppressionConfig};

/// A layer `z = W a` followed by fixed logits `f = D z` (a network that is
/// linear after the layer), with pairs (2i, 2i+1): `a_{2i+1} = a_{2i} + eps r`.
struct Synthetic {
    samples: LayerSamples,
    w: Mat<f64>,
    partner: Vec<usize>,
}

fn synthetic(
    pairs: usize,
    out: usize,
    inn: usize,
    k: usize,
    eps: f64,
    loss: Loss,
    seed: u64,
) -> Synthetic {
    let mut rng = seeded_rng(seed);
    let mut g = |s: f64| rng.random_range(-1.0..1.0f64) * s;
    let w = Mat::from_fn(out, inn, |_, _| g(1.0));
    let d = Mat::from_fn(k, out, |_, _| g(1.0));
    let n = 2 * pairs;
    let mut acts = Mat::<f64>::zeros(n, inn);
    for p in 0..pairs {
        for j in 0..inn {
            let a = 0.2 + g(1.0).abs();
            acts[(2 * p, j)] = a;
            acts[(2 * p + 1, j)] = a + eps * g(1.0);
        }
    }
    let z = &acts * w.transpose(); // n x out
    let logits = &z * d.transpose(); // n x k
    let labels: Vec<usize> = (0..n).map(|p| (p / 2) % k).collect();
    let partner: Vec<usize> = (0..n).map(|p| p ^ 1).collect();
    Synthetic {
        samples: LayerSamples {
            acts,
            jacobians: vec![d; n],
            logits,
            labels,
            loss,
        },
        w,
        partner,
    }
}

fn paired<'a>(s: &'a Synthetic, eng: &'a KronCurvature) -> PairedLayer<'a> {
    PairedLayer {
        engine: eng,
        acts: s.samples.acts.as_ref(),
        weights: s.w.as_ref(),
        partner: &s.partner,
    }
}

fn identity(d: usize) -> Mat<f64> {
    Mat::identity(d, d)
}

#[test]
fn term1_plus_term2_is_first_order_exact() {
    for loss in [Loss::CrossEntropy, Loss::SoftmaxMse] {
        let mut r12 = Vec::new();
        let mut r1 = Vec::new();
        for eps in [1e-2, 1e-3, 1e-4] {
            let s = synthetic(6, 4, 5, 3, eps, loss, 7);
            let eng = KronCurvature::new(&s.samples, "synthetic").unwrap();
            let layer = paired(&s, &eng);
            let m = measure(&layer, identity(eng.d()).as_ref(), 5).unwrap();
            r12.push(m.full.resid12 / m.full.delta);
            r1.push(m.full.resid1 / m.full.delta);
        }
        // |Dg - T1 - T2| = O(eps^2) against |Dg| = O(eps): squared ratio O(eps^2).
        assert!(r12[2] < 1e-6, "{loss:?}: {r12:?}");
        assert!(r12[1] / r12[2] > 50.0, "{loss:?}: not quadratic {r12:?}");
        // Without Term II the remainder does not vanish: Term II is first order here.
        assert!(r1[2] > 1e-3, "{loss:?}: {r1:?}");
        assert!((r1[1] / r1[2] - 1.0).abs() < 0.2, "{loss:?}: {r1:?}");
    }
}

#[test]
fn exact_difference_matches_per_sample_gradients() {
    let s = synthetic(5, 3, 4, 3, 0.3, Loss::CrossEntropy, 3);
    let eng = KronCurvature::new(&s.samples, "synthetic").unwrap();
    let layer = paired(&s, &eng);
    let m = measure(&layer, identity(eng.d()).as_ref(), 3).unwrap();
    let g = eng.per_sample_gradients();
    let n = eng.n();
    let mut want = 0.0;
    for p in 0..n {
        for j in 0..eng.d() {
            want += (g[(s.partner[p], j)] - g[(p, j)]).powi(2);
        }
    }
    want /= n as f64;
    assert!(
        (m.full.delta - want).abs() <= 1e-12 * want,
        "{} vs {want}",
        m.full.delta
    );
}

#[test]
fn moments_agree_with_the_kron_engine() {
    let s = synthetic(8, 4, 5, 3, 0.5, Loss::SoftmaxMse, 5);
    let eng = KronCurvature::new(&s.samples, "synthetic").unwrap();
    let eig = eng.hessian_eig().unwrap();
    let v = eig.vectors.subcols(0, 7);
    let layer = paired(&s, &eng);
    let m = measure(&layer, v, 4).unwrap();
    let (first, second) = eng.first_second_moment_diag(v, 4).unwrap();
    for i in 0..7 {
        assert!((m.directions.first[i] - first[i]).abs() <= 1e-12 * first[0].abs());
        assert!((m.directions.second[i] - second[i]).abs() <= 1e-12 * second[0].abs());
    }
    // Same moments from the suppression module with unmodified spectra.
    let thetas: Vec<Vec<f64>> = eng.samples().iter().map(|x| x.theta.clone()).collect();
    let (f2, s2) = moments_with_thetas(&eng, s.samples.acts.as_ref(), &thetas, v, 3).unwrap();
    for i in 0..7 {
        assert!((f2[i] - first[i]).abs() <= 1e-12 * first[0].abs());
        assert!((s2[i] - second[i]).abs() <= 1e-12 * second[0].abs());
    }
}

#[test]
fn suppression_bootstrap_intervals_hold_the_fitted_shift() {
    use superlinear::fit::{fit_gamma, FitRule};
    use superlinear::layer::suppress::{
        samples_with_thetas, suppress_layer, suppress_layer_keeping, unsuppressed_samples,
    };
    use superlinear::layer::suppress_bootstrap::suppression_bootstrap;
    use superlinear::layer::uncertainty::UncertaintySettings;
    use superlinear::suppression::SuppressionConfig;
    let s = synthetic(80, 4, 6, 3, 0.3, Loss::CrossEntropy, 17);
    let eng = KronCurvature::new(&s.samples, "synthetic").unwrap();
    let acts = s.samples.acts.as_ref();
    let eig = eng.hessian_eig().unwrap();
    let k = 12;
    let v = eig.vectors.subcols(0, k);
    let (h, second) = eng.first_second_moment_diag(v, 4).unwrap();
    let n = eng.n();
    // The kept per-sample values average to the moments each fit uses.
    let before = unsuppressed_samples(&eng, acts, v).unwrap();
    let tol = 1e3 * n as f64 * f64::EPSILON;
    let mean = |x: &Mat<f64>, i: usize| (0..n).map(|p| x[(p, i)]).sum::<f64>() / n as f64;
    for i in 0..k {
        for (got, want) in [
            (mean(&before.h, i), h[i]),
            (mean(&before.second, i), second[i]),
        ] {
            assert!(
                (got - want).abs() <= tol * want.abs(),
                "{i}: {got} vs {want}"
            );
        }
    }
    let cfg = SuppressionConfig::default();
    let plain = suppress_layer(&eng, acts, &cfg, k, &h, &second).unwrap();
    let (run, after) = suppress_layer_keeping(&eng, acts, &cfg, k, &h, &second).unwrap();
    assert_eq!(
        run.second_diag, plain.second_diag,
        "keeping changes no figure"
    );
    assert_eq!(run.h_diag, plain.h_diag);
    for i in 0..k {
        let got = mean(&after.h, i);
        assert!(
            (got - run.h_diag[i]).abs() <= tol * run.h_diag[0],
            "{i}: {got}"
        );
    }
    let rule = FitRule::default_for(k, eng.d());
    let settings = UncertaintySettings::default();
    let b = suppression_bootstrap(&before, &after, k, &rule, &settings, faer::Par::Seq).unwrap();
    let g0 = fit_gamma(&h, &second, &rule).unwrap().gamma;
    let g1 = run.gamma_awd.as_ref().unwrap().gamma;
    let inside = |(lo, hi): (f64, f64), x: f64| lo <= x && x <= hi && lo < hi;
    assert!(inside(b.gamma_awd_before_ci, g0), "{b:?} {g0}");
    assert!(inside(b.gamma_awd_after_ci, g1), "{b:?} {g1}");
    assert!(inside(b.shift_ci, g1 - g0), "{b:?} {}", g1 - g0);
    assert_eq!(
        b,
        suppression_bootstrap(&before, &after, k, &rule, &settings, faer::Par::Seq).unwrap()
    );
    // No suppression: the same values before and after, every replicate's shift exactly 0.
    let z = suppression_bootstrap(&before, &before, k, &rule, &settings, faer::Par::Seq).unwrap();
    assert_eq!(z.shift_ci, (0.0, 0.0));
    // The unmodified spectra through the generic reader give the same values.
    let thetas: Vec<Vec<f64>> = eng.samples().iter().map(|x| x.theta.clone()).collect();
    let again = samples_with_thetas(&eng, acts, &thetas, v, 5).unwrap();
    assert_eq!(again.second, before.second);
    let mut bad = after.clone();
    bad.h = Mat::zeros(n - 1, k);
    let e = suppression_bootstrap(&before, &bad, k, &rule, &settings, faer::Par::Seq).unwrap_err();
    assert!(e.to_string().contains("after the suppression"), "{e}");
}

#[test]
fn isotropy_figures_are_in_range() {
    let s = synthetic(10, 4, 6, 3, 0.4, Loss::CrossEntropy, 9);
    let eng = KronCurvature::new(&s.samples, "synthetic").unwrap();
    let layer = paired(&s, &eng);
    let m = measure(&layer, identity(eng.d()).subcols(0, 5), 4).unwrap();
    let iso = &m.isotropy;
    assert!(iso.captured_share > 0.0 && iso.captured_share <= 1.0 + 1e-12);
    assert!(iso.sigma2 > 0.0);
    assert!(iso.mode_anisotropy >= 1.0);
    assert!((0.0..=1.0 + 1e-12).contains(&iso.dw_mean_share));
    assert!((0.0..=1.0 + 1e-12).contains(&iso.dw_mean_abs_cos));
    // Local cross terms dropped: sum_i C_diag over an orthonormal basis of all
    // of R^d equals E sum_j lambda_j^2 c_j^2, and C_I the same with cross terms.
    let full = measure(&layer, identity(eng.d()).as_ref(), 4).unwrap();
    let t1: f64 = full.directions.c_term1.iter().sum();
    assert!((t1 - full.full.term1).abs() <= 1e-10 * t1);
}

proptest! {
    #![proptest_config(crate::util::proptest_config(16))]
    /// Parseval: summed over an orthonormal basis of R^d the projected second
    /// moments are the full-space (Frobenius) ones, for any layer and pairing.
    #[test]
    fn projected_moments_sum_to_full_space(seed in 0u64..10_000, out in 2usize..5, inn in 2usize..5, ce in any::<bool>()) {
        let loss = if ce { Loss::CrossEntropy } else { Loss::SoftmaxMse };
        let s = synthetic(4, out, inn, 3, 0.7, loss, seed);
        let eng = KronCurvature::new(&s.samples, "synthetic").unwrap();
        let mut rng = seeded_rng(seed ^ 0xabc);
        let q = superlinear::linalg::haar_orthogonal(eng.d(), &mut rng);
        let layer = paired(&s, &eng);
        let m = measure(&layer, q.as_ref(), 3).unwrap();
        let dm = &m.directions;
        let tol = 1e-10;
        for (proj, full) in [(&dm.c_term1, m.full.term1), (&dm.c_term2, m.full.term2), (&dm.c_delta, m.full.delta), (&dm.c_resid1, m.full.resid1), (&dm.c_resid12, m.full.resid12)] {
            let sum: f64 = proj.iter().sum();
            prop_assert!((sum - full).abs() <= tol * full.max(1e-300), "{} vs {}", sum, full);
        }
    }
}

#[test]
fn kron_suppression_matches_the_dense_ensemble_path() {
    let s = synthetic(6, 3, 4, 3, 0.5, Loss::CrossEntropy, 21);
    let eng = KronCurvature::new(&s.samples, "synthetic").unwrap();
    let acts = s.samples.acts.as_ref();
    let ens =
        Ensemble::from_samples(eng.d(), eng.factored_samples().unwrap(), "synthetic").unwrap();
    for cfg in [
        SuppressionConfig::default(),
        SuppressionConfig::tails_only(1e-2),
        SuppressionConfig {
            q: 0.5,
            ..SuppressionConfig::default()
        },
    ] {
        let dense = suppress(&ens, &cfg).unwrap();
        let h_dense = dense_hessian(&dense.ensemble);
        let sp = superlinear::suppression::suppress_spectra(&kron_spectra(&eng), &cfg).unwrap();
        let thetas: Vec<Vec<f64>> = sp
            .spectra
            .iter()
            .zip(eng.samples())
            .map(|(l, x)| l.iter().map(|v| v / x.act_norm2).collect())
            .collect();
        let h = hessian_with_thetas(&eng, acts, &thetas).unwrap();
        let scale = (0..eng.d())
            .map(|i| h_dense[(i, i)].abs())
            .fold(0.0, f64::max);
        for r in 0..eng.d() {
            for c in 0..eng.d() {
                assert!(
                    (h[(r, c)] - h_dense[(r, c)]).abs() <= 1e-12 * scale,
                    "{cfg:?} ({r},{c})"
                );
            }
        }
        assert_eq!(sp.stiff, dense.stiff);
    }
    // Unmodified spectra rebuild the engine's H.
    let thetas: Vec<Vec<f64>> = eng.samples().iter().map(|x| x.theta.clone()).collect();
    let h = hessian_with_thetas(&eng, acts, &thetas).unwrap();
    let h0 = eng.hessian();
    let scale = (0..eng.d()).map(|i| h0[(i, i)].abs()).fold(0.0, f64::max);
    for r in 0..eng.d() {
        for c in 0..eng.d() {
            assert!((h[(r, c)] - h0[(r, c)]).abs() <= 1e-12 * scale);
        }
    }
}

#[test]
fn shape_change_and_median() {
    assert_eq!(shape_change(&[2.0, 1.0], &[4.0, 2.0]), 0.0);
    assert!((shape_change(&[2.0, 1.0], &[2.0, 2.0]) - 1.0).abs() < 1e-15);
    assert!(shape_change(&[], &[]).is_nan());
    assert_eq!(median(&[3.0, f64::NAN, 1.0, 2.0]), 2.0);
    assert_eq!(median(&[1.0, 4.0]), 2.5);
    assert!(median(&[]).is_nan());
}

#[test]
fn halves_are_same_class_and_cover_every_sample() {
    let mut rng = seeded_rng(4);
    let n = 30;
    let acts = Mat::from_fn(n, 5, |_, _| rng.random_range(0.0..1.0f64));
    let labels: Vec<usize> = (0..n).map(|p| p % 3).collect();
    for one_to_one in [false, true] {
        let m = match_halves(acts.as_ref(), &labels, 1, one_to_one).unwrap();
        assert_eq!(m.partner.len(), n);
        for (p, &q) in m.partner.iter().enumerate() {
            assert_ne!(p, q);
            assert_eq!(labels[p], labels[q]);
        }
        assert_eq!(
            m.partner,
            match_halves(acts.as_ref(), &labels, 1, one_to_one)
                .unwrap()
                .partner
        );
    }
    // A class with one sample has no partner.
    let mut lone = labels.clone();
    lone[0] = 7;
    assert!(match_halves(acts.as_ref(), &lone, 1, false).is_err());
}

#[test]
fn zero_activity_samples_are_skipped_and_counted() {
    let mut s = synthetic(4, 3, 4, 3, 0.3, Loss::CrossEntropy, 2);
    for j in 0..4 {
        s.samples.acts[(0, j)] = 0.0;
    }
    let z = &s.samples.acts * s.w.transpose();
    let d = s.samples.jacobians[0].clone();
    s.samples.logits = &z * d.transpose();
    let eng = KronCurvature::new(&s.samples, "synthetic").unwrap();
    let layer = paired(&s, &eng);
    let m = measure(&layer, identity(eng.d()).as_ref(), 3).unwrap();
    assert_eq!((m.used, m.zero_activity), (7, 1));
    // A partner index out of range is a typed error, not a panic.
    let bad: Vec<usize> = (0..8).map(|_| 99).collect();
    let layer = PairedLayer {
        partner: &bad,
        ..layer
    };
    assert!(measure(&layer, identity(eng.d()).as_ref(), 3).is_err());
}

/// The per-sample values `measure_keeping` returns average to the moments
/// `measure` fits (to n * eps), and the pair bootstrap's intervals hold the
/// exponents fitted on those moments; its differences are taken within a
/// replicate, so identical inputs give a zero-width difference; mismatched
/// shapes are refused by name.
#[test]
fn pair_bootstrap_intervals_hold_the_fitted_exponents() {
    use superlinear::fit::{fit_gamma, FitRule};
    use superlinear::layer::pair_bootstrap::pair_bootstrap;
    use superlinear::layer::terms::measure_keeping;
    use superlinear::layer::uncertainty::UncertaintySettings;
    let s = synthetic(60, 4, 6, 3, 0.3, Loss::CrossEntropy, 11);
    let eng = KronCurvature::new(&s.samples, "synthetic").unwrap();
    let layer = paired(&s, &eng);
    let eig = superlinear::linalg::sym_eig(eng.hessian().as_ref(), "H").unwrap();
    let k = 12;
    let v = eig.vectors.subcols(0, k);
    let plain = measure(&layer, v, 7).unwrap();
    let (m, ps) = measure_keeping(&layer, v, 7).unwrap();
    assert_eq!(m, plain);
    let nu = ps.h.nrows();
    assert_eq!(nu, m.used);
    let tol = 1e3 * nu as f64 * f64::EPSILON;
    let mean = |x: &Mat<f64>, i: usize| (0..nu).map(|p| x[(p, i)]).sum::<f64>() / nu as f64;
    let d = &m.directions;
    for i in 0..k {
        for (got, want) in [
            (mean(&ps.h, i), d.first[i]),
            (mean(&ps.term1_sq, i), d.c_term1[i]),
            (mean(&ps.delta_sq, i), d.c_delta[i]),
            (mean(&ps.second, i), d.second[i]),
        ] {
            assert!(
                (got - want).abs() <= tol * want.abs().max(1e-300),
                "{i}: {got} vs {want}"
            );
        }
    }
    let rule = FitRule::default_for(k, eng.d());
    let settings = UncertaintySettings::default();
    let b = pair_bootstrap(&ps, k, &rule, &settings, faer::Par::Seq).unwrap();
    let g1 = fit_gamma(&d.first, &d.c_term1, &rule).unwrap().gamma;
    let gd = fit_gamma(&d.first, &d.c_delta, &rule).unwrap().gamma;
    let gi = fit_gamma(&d.first, &d.second, &rule).unwrap().gamma;
    let inside = |(lo, hi): (f64, f64), x: f64| lo <= x && x <= hi && lo < hi;
    assert!(inside(b.gamma_term1_ci, g1), "{b:?} {g1}");
    assert!(inside(b.gamma_delta_ci, gd), "{b:?} {gd}");
    assert!(inside(b.gamma_iso_ci, gi), "{b:?} {gi}");
    assert!(inside(b.term1_minus_delta_ci, g1 - gd), "{b:?}");
    assert!(inside(b.term1_minus_iso_ci, g1 - gi), "{b:?}");
    assert_eq!(
        b,
        pair_bootstrap(&ps, k, &rule, &settings, faer::Par::Seq).unwrap()
    );
    // Term I against itself: every replicate's difference is exactly 0.
    let mut same = ps.clone();
    same.delta_sq = same.term1_sq.clone();
    let z = pair_bootstrap(&same, k, &rule, &settings, faer::Par::Seq).unwrap();
    assert_eq!(z.term1_minus_delta_ci, (0.0, 0.0));
    let mut bad = ps.clone();
    bad.second = Mat::zeros(nu, k - 1);
    let e = pair_bootstrap(&bad, k, &rule, &settings, faer::Par::Seq).unwrap_err();
    assert!(e.to_string().contains("s_pi"), "{e}");
}
