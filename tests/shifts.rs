//! C12: the random shifts model (`superlinear::shifts`) against finite
//! differences, its exact moments, and the Monte Carlo; the C10 identity the
//! self-similar case maps onto.

use faer::Mat;
use proptest::prelude::*;
use superlinear::claims::{c12, CheckSettings, Status};
use superlinear::ensemble::Ensemble;
use superlinear::fit::{fit_gamma, FitRule};
use superlinear::linalg::{haar_frame, seeded_rng};
use superlinear::moments::Moments;
use superlinear::shifts::{covariance_tolerance, ShiftsModel, ShiftsSpec};

fn arb_spec() -> impl Strategy<Value = ShiftsSpec> {
    (
        1usize..10,
        any::<u64>(),
        0.0f64..4.0,
        -3.0f64..3.0,
        0.0f64..1.5,
    )
        .prop_map(|(d, seed, decades, log_c, beta)| ShiftsSpec {
            d,
            m: 1 + (seed as usize % d),
            decades,
            kappa_scale: 10f64.powf(log_c),
            kappa_exponent: beta,
            seed,
        })
}

fn rel_err(a: f64, b: f64, floor: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs()).max(floor)
}

#[test]
fn constructor_rejects_bad_input() {
    let q = haar_frame(4, 2, &mut seeded_rng(1)).unwrap();
    assert!(ShiftsModel::new(q.clone(), vec![1.0, 0.5], vec![0.1, 0.1]).is_ok());
    assert!(ShiftsModel::new(q.clone(), vec![1.0], vec![0.1, 0.1]).is_err());
    assert!(ShiftsModel::new(q.clone(), vec![1.0, 0.0], vec![0.1, 0.1]).is_err());
    assert!(ShiftsModel::new(q.clone(), vec![1.0, f64::NAN], vec![0.1, 0.1]).is_err());
    let skew = Mat::from_fn(4, 2, |i, j| if i == j { 1.0 } else { 0.3 });
    assert!(ShiftsModel::new(skew, vec![1.0, 0.5], vec![0.1, 0.1]).is_err());
    let model = ShiftsModel::new(q, vec![1.0, 0.5], vec![0.1, 0.1]).unwrap();
    assert!(model.sample(0.0, 10, 1).is_err());
    assert!(model.sample(f64::NAN, 10, 1).is_err());
    assert!(model.sample(0.1, 1, 1).is_err());
    assert!(model.gradient(&[0.0; 3]).is_err());
    let s = model.sample(0.1, 10, 1).unwrap();
    assert!(s.diagonals(&model, Some(&[0, 10])).is_err());
    assert!(s.diagonals(&model, Some(&[0])).is_err());
    let bad = ShiftsSpec {
        d: 3,
        m: 4,
        decades: 1.0,
        kappa_scale: 1.0,
        kappa_exponent: 0.0,
        seed: 0,
    };
    assert!(bad.build().is_err());
}

#[test]
fn monte_carlo_error_shrinks_with_batches() {
    // Fixed seeds: the worst relative error of C_ii over directions falls
    // roughly as 1/sqrt(N), and stays within the z = 5 tolerance at every N.
    let spec = ShiftsSpec {
        d: 8,
        m: 8,
        decades: 2.0,
        kappa_scale: 1.0,
        kappa_exponent: 0.0,
        seed: 5,
    };
    let model = spec.build().unwrap();
    let sigma = 0.02;
    let exact = model.covariance_exact_diag(sigma);
    let mut errs = Vec::new();
    for n in [500usize, 8000, 128000] {
        let s = model.sample(sigma, n, 11).unwrap();
        let c = s.covariance_on_frame(&model).unwrap();
        let tol = covariance_tolerance(&model, sigma, n, 5.0);
        let mut worst = 0.0f64;
        for i in 0..8 {
            assert!((c[i] - exact[i]).abs() <= tol[i], "N = {n}, direction {i}");
            worst = worst.max((c[i] - exact[i]).abs() / exact[i]);
        }
        errs.push(worst);
    }
    assert!(errs[2] < errs[0] / 4.0, "errors {errs:?}");
}

#[test]
fn rsm_ensemble_moments_match_the_dense_diagonals() {
    // Two routes to H_ii and v_i^T E[h^2] v_i of the per-batch Hessians: the
    // factored moment engine on the aligned ensemble, and the dense d x d
    // construction of ShiftsSample::diagonals.
    let model = ShiftsSpec {
        d: 6,
        m: 6,
        decades: 2.0,
        kappa_scale: 3.0,
        kappa_exponent: 1.0,
        seed: 2,
    }
    .build()
    .unwrap();
    let s = model.sample(0.1, 200, 4).unwrap();
    let ens: Ensemble = s.ensemble(&model).unwrap();
    let m = Moments::compute(&ens).unwrap();
    let d = s.diagonals(&model, None).unwrap();
    for i in 0..6 {
        assert!(rel_err(m.h_diag()[i], d.h[i], 1e-300) < 1e-12);
        assert!(rel_err(m.second_diag[i], d.second[i], 1e-300) < 1e-10);
    }
}

#[test]
fn c12_check_passes_at_default_settings() {
    let out = c12::check(&CheckSettings::default()).unwrap();
    assert_eq!(out.status, Status::Verified, "{:#?}", out.details);
    let g = out.figures["gamma_mc_leading"];
    assert!((g - 2.0).abs() < 0.01, "gamma_MC = {g}");
}

proptest! {
    #![proptest_config(crate::util::proptest_config(32))]

    /// The gradient is the derivative of the loss (central differences).
    #[test]
    fn gradient_matches_finite_differences(spec in arb_spec(), w_seed in any::<u64>()) {
        let model = spec.build().unwrap();
        let d = model.d();
        let w: Vec<f64> = haar_frame(d, 1, &mut seeded_rng(w_seed)).unwrap().col(0).iter().map(|x| 0.3 * x).collect();
        let g = model.gradient(&w).unwrap();
        let scale = model.loss(&w).unwrap().abs().max(1.0);
        let h = 1e-5;
        for j in 0..d {
            let mut wp = w.clone();
            let mut wm = w.clone();
            wp[j] += h;
            wm[j] -= h;
            let fd = (model.loss(&wp).unwrap() - model.loss(&wm).unwrap()) / (2.0 * h);
            let kmax = model.kappa().iter().fold(1.0f64, |m, k| m.max(k.abs()));
            prop_assert!((fd - g[j]).abs() <= 1e-6 * kmax * scale, "j = {} fd {} grad {}", j, fd, g[j]);
        }
    }

    /// The per-batch Hessian eigenvalue on q_i is the derivative of the
    /// gradient along q_i (cubic loss: central differences are exact up to rounding).
    #[test]
    fn hessian_eigenvalues_match_finite_differences(spec in arb_spec(), w_seed in any::<u64>()) {
        let model = spec.build().unwrap();
        let (d, m) = (model.d(), model.m());
        let w: Vec<f64> = haar_frame(d, 1, &mut seeded_rng(w_seed)).unwrap().col(0).iter().map(|x| 0.3 * x).collect();
        let ev = model.hessian_eigenvalues(&w).unwrap();
        let q = model.basis();
        let h = 1e-4;
        for i in 0..m {
            let wp: Vec<f64> = (0..d).map(|r| w[r] + h * q[(r, i)]).collect();
            let wm: Vec<f64> = (0..d).map(|r| w[r] - h * q[(r, i)]).collect();
            let gp = model.gradient(&wp).unwrap();
            let gm = model.gradient(&wm).unwrap();
            let fd: f64 = (0..d).map(|r| q[(r, i)] * (gp[r] - gm[r]) / (2.0 * h)).sum();
            let scale = ev[i].abs().max(model.kappa()[i].abs()).max(1.0);
            prop_assert!((fd - ev[i]).abs() <= 1e-7 * scale, "i = {} fd {} eig {}", i, fd, ev[i]);
        }
    }

    /// Batch gradients and per-batch Hessians are grad L(-eps) and hess L(-eps).
    #[test]
    fn batches_are_the_loss_at_minus_eps(spec in arb_spec(), seed in any::<u64>()) {
        let model = spec.build().unwrap();
        let s = model.sample(0.1, 5, seed).unwrap();
        for b in 0..5 {
            let minus: Vec<f64> = (0..model.d()).map(|j| -s.shifts[(b, j)]).collect();
            let g = model.gradient(&minus).unwrap();
            let ev = model.hessian_eigenvalues(&minus).unwrap();
            let gs = g.iter().fold(1e-300f64, |m, x| m.max(x.abs()));
            for (j, gj) in g.iter().enumerate() {
                prop_assert!((gj - s.grads[(b, j)]).abs() <= 1e-12 * gs.max(1e-12));
            }
            for (i, ei) in ev.iter().enumerate() {
                prop_assert!(rel_err(*ei, s.eigenvalues[(b, i)], 1.0) <= 1e-12);
            }
        }
    }

    /// The Monte Carlo C_ii converges to sigma^2 lambda^2 + kappa^2 sigma^4 / 2
    /// within z = 6 standard errors of a sample variance (fixed seeds per case).
    #[test]
    fn monte_carlo_covariance_matches_exact(spec in arb_spec(), log_sigma in -3.0f64..0.0, seed in any::<u64>()) {
        let model = spec.build().unwrap();
        let sigma = 10f64.powf(log_sigma);
        let n = 3000;
        let s = model.sample(sigma, n, seed).unwrap();
        let c = s.covariance_on_frame(&model).unwrap();
        let exact = model.covariance_exact_diag(sigma);
        let tol = covariance_tolerance(&model, sigma, n, 6.0);
        for i in 0..model.m() {
            prop_assert!((c[i] - exact[i]).abs() <= tol[i] + 1e-12 * exact[i], "direction {}: MC {} exact {} tol {}", i, c[i], exact[i], tol[i]);
        }
    }

    /// Self-similar third derivative (kappa = c lambda): the exact C and the
    /// exact E[h^2] are both c' H^2, so gamma = 2 at every sigma, not only to
    /// leading order.
    #[test]
    fn self_similar_exact_gamma_is_two(d in 3usize..12, decades in 0.5f64..6.0, log_c in -2.0f64..2.0, log_sigma in -4.0f64..0.0) {
        let model = ShiftsSpec { d, m: d, decades, kappa_scale: 10f64.powf(log_c), kappa_exponent: 1.0, seed: 1 }.build().unwrap();
        let sigma = 10f64.powf(log_sigma);
        let rule = FitRule::default_for(d, d);
        let gc = fit_gamma(model.lambda(), &model.covariance_exact_diag(sigma), &rule).unwrap();
        let ga = fit_gamma(model.lambda(), &model.awd_second_moment_diag(sigma), &rule).unwrap();
        prop_assert!((gc.gamma - 2.0).abs() < 1e-9, "gamma C {}", gc.gamma);
        prop_assert!((ga.gamma - 2.0).abs() < 1e-9, "gamma_awd {}", ga.gamma);
    }

    /// C10 (Prop. 5.3), exact on a finite ensemble: u_pk = q_k and
    /// lambda_pk = m_k xi_p (the same relative fluctuation in every
    /// direction) give v_k^T E[h^2] v_k = (1 + alpha) H_kk^2 with alpha the
    /// ensemble's Var(xi) / E[xi]^2, from the exact moments (no Monte Carlo).
    #[test]
    fn c10_identity_with_constant_relative_variance(d in 1usize..12, n in 1usize..20, seed in any::<u64>(), decades in 0.0f64..8.0) {
        use rand::Rng as _;
        let mut rng = seeded_rng(seed);
        let r = 1 + (seed as usize % d);
        let q = haar_frame(d, r, &mut rng).unwrap();
        let m: Vec<f64> = (0..r).map(|k| 10f64.powf(-decades * k as f64 / r as f64)).collect();
        let xi: Vec<f64> = (0..n).map(|_| rng.random_range(0.1..3.0)).collect();
        let samples = xi.iter().map(|x| (q.clone(), m.iter().map(|mk| mk * x).collect())).collect();
        let ens = Ensemble::from_samples(d, samples, "C10 ensemble").unwrap();
        let mean = xi.iter().sum::<f64>() / n as f64;
        let var = xi.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        let alpha = var / (mean * mean);
        let mo = Moments::compute(&ens).unwrap();
        let h = mo.h_diag();
        let top2 = (1.0 + alpha) * h[0] * h[0];
        for k in 0..r {
            let pred = (1.0 + alpha) * h[k] * h[k];
            // Relative to the top value: H_kk carries absolute error ~ d eps ||H||.
            prop_assert!((mo.second_diag[k] - pred).abs() <= 1e-10 * top2, "k = {}: {} vs {}", k, mo.second_diag[k], pred);
            // And relative to its own size where it is above rounding.
            if h[k] > 1e-6 * h[0] {
                prop_assert!(rel_err(mo.second_diag[k], pred, 0.0) <= 1e-6 * h[0] / h[k] + 1e-10);
            }
        }
    }
}
