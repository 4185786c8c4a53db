//! gamma's uncertainty (`superlinear::layer::uncertainty`): the per-sample
//! route reproduces the analysis' `H_ii`, `C_ii`, `S_ii` and gamma; the
//! bootstrap interval covers a known exponent at about the nominal rate;
//! the form test rejects a curved relation and a structureless C and accepts
//! a noisy power law (with C15's rule); gamma(k) is flat on an exact power
//! law; C15's judgement from the intervals.

use faer::Mat;
use proptest::prelude::*;
use rand::Rng as _;
use rand_distr::{Distribution, StandardNormal};
use superlinear::claims::c15::power_law_visible;
use superlinear::claims::net::NetThresholds;
use superlinear::fit::{fit_gamma, FitRule};
use superlinear::kron::KronCurvature;
use superlinear::layer::uncertainty::{gamma_curve, k_grid, quadratic_curvature};
use superlinear::layer::{
    analyze_layer, gamma_uncertainty, LayerSettings, SampleProjections, UncertaintySettings,
};
use superlinear::linalg::{seeded_rng, sym_eig};
use superlinear::loss::Loss;
use superlinear::progress::Silent;

use crate::layer::random_factors;

fn rel(a: f64, b: f64) -> f64 {
    crate::util::rel_diff(a, b, f64::MIN_POSITIVE)
}

fn small() -> UncertaintySettings {
    UncertaintySettings {
        replicates: 200,
        rotations: 99,
        min_k: 5,
        ..UncertaintySettings::default()
    }
}

#[test]
fn per_sample_route_reproduces_the_analysis() {
    let (n, out, inn, top, batch) = (60, 4, 5, 12, 3);
    let f = random_factors(n, out, inn, 3, Loss::CrossEntropy, 11);
    let settings = LayerSettings {
        top_k: top,
        batch_size: batch,
        chunk: 7,
        linalg_threads: 1,
        uncertainty: small(),
        ..LayerSettings::default()
    };
    let r = analyze_layer(&f, &settings, &Silent).unwrap();
    let engine = KronCurvature::new(&f.samples, "synthetic").unwrap();
    let eig = sym_eig(engine.hessian().as_ref(), "H").unwrap();
    let v = eig.vectors.subcols(0, top);
    let proj = engine
        .projections_per_sample(v, 5, false, faer::Par::Seq)
        .unwrap();
    let ps = proj.per_sample.as_ref().unwrap();
    let sp = SampleProjections {
        grad: proj.grad.as_ref(),
        h: ps.h.as_ref(),
        h2: Some(ps.h2.as_ref()),
        batch_size: batch,
    };
    let ones = vec![1.0; n];
    for w in [None, Some(ones.as_slice())] {
        let (h, c, s) = sp.weighted_diagonals(w);
        let s = s.unwrap();
        for i in 0..top {
            assert!(
                rel(h[i], r.h_diag[i]) < 1e-10,
                "H_{i}: {} {}",
                h[i],
                r.h_diag[i]
            );
            assert!(
                rel(c[i], r.c_diag[i]) < 1e-10,
                "C_{i}: {} {}",
                c[i],
                r.c_diag[i]
            );
            assert!(rel(s[i], r.c_awd_diag[i]) < 1e-10, "S_{i}");
        }
        let g = fit_gamma(&h, &c, &r.fit_rule).unwrap().gamma;
        let g0 = r.gamma.as_ref().unwrap().gamma;
        assert!(rel(g, g0) < 1e-10, "gamma {g} {g0}");
        let ga = fit_gamma(&h, &s, &r.fit_rule).unwrap().gamma;
        assert!(rel(ga, r.gamma_awd.as_ref().unwrap().gamma) < 1e-10);
    }
    let u = r.gamma_uncertainty.as_ref().unwrap();
    assert_eq!(u.primary_k, top);
    assert!(u.rule.contains("--top-k 12"), "{}", u.rule);
    // 12 > 60 / 4 is false: no warning; the bootstrap brackets gamma.
    assert!(u.warnings.is_empty(), "{:?}", u.warnings);
    let b = u.bootstrap.as_ref().unwrap();
    let g0 = r.gamma.as_ref().unwrap().gamma;
    assert!(b.gamma_ci.0 < g0 && g0 < b.gamma_ci.1, "{b:?} {g0}");
    assert!(b.gamma_awd_ci.is_some());
}

/// N samples, k directions with `H_i = i^-1` (times a per-sample factor of
/// mean 1) and `g_pi ~ N(0, B H_i^gamma)` (times a heavy-ish factor), so the
/// population `C_ii = H_ii^gamma` exactly.
fn power_law_samples(
    n: usize,
    k: usize,
    gamma: f64,
    curved: bool,
    seed: u64,
) -> (Mat<f64>, Mat<f64>) {
    let mut rng = seeded_rng(seed);
    let x: Vec<f64> = (0..n).map(|_| rng.random_range(0.5..1.5)).collect();
    let h = Mat::from_fn(n, k, |p, i| x[p] / (i + 1) as f64);
    let grad = Mat::from_fn(n, k, |_, i| {
        let lh = -((i + 1) as f64).ln();
        let var = if curved {
            (lh * lh).exp()
        } else {
            (gamma * lh).exp()
        };
        let z: f64 = StandardNormal.sample(&mut rng);
        var.sqrt() * z
    });
    (grad, h)
}

fn diagonals(grad: &Mat<f64>, h: &Mat<f64>) -> (Vec<f64>, Vec<f64>) {
    let sp = SampleProjections {
        grad: grad.as_ref(),
        h: h.as_ref(),
        h2: None,
        batch_size: 1,
    };
    let (hd, cd, _) = sp.weighted_diagonals(None);
    (hd, cd)
}

#[test]
fn bootstrap_covers_the_true_exponent_at_about_the_nominal_rate() {
    let (n, k, gamma) = (400, 30, 1.3);
    let seeds = 40;
    let mut covered = 0;
    for seed in 0..seeds {
        let (grad, h) = power_law_samples(n, k, gamma, false, seed);
        let (hd, cd) = diagonals(&grad, &h);
        let rule = FitRule::default_for(k, k);
        let u = gamma_uncertainty(
            &SampleProjections {
                grad: grad.as_ref(),
                h: h.as_ref(),
                h2: None,
                batch_size: 1,
            },
            &hd,
            &cd,
            &rule,
            k,
            &UncertaintySettings {
                seed: 100 + seed,
                rotations: 9,
                ..small()
            },
            faer::Par::Seq,
            &Silent,
        )
        .unwrap();
        let b = u.bootstrap.unwrap();
        if b.gamma_ci.0 <= gamma && gamma <= b.gamma_ci.1 {
            covered += 1;
        }
    }
    // Nominal 95%: 38 of 40 expected; a binomial(40, 0.95) is >= 33 with
    // probability > 0.999, and a 60% interval would rarely reach it.
    assert!(covered >= 33, "covered {covered} of {seeds}");
}

fn form_of(curved: bool, seed: u64) -> (bool, superlinear::layer::GammaUncertainty) {
    let (n, k) = (2000, 40);
    let (grad, h) = power_law_samples(n, k, 1.3, curved, seed);
    let (hd, cd) = diagonals(&grad, &h);
    let u = gamma_uncertainty(
        &SampleProjections {
            grad: grad.as_ref(),
            h: h.as_ref(),
            h2: None,
            batch_size: 1,
        },
        &hd,
        &cd,
        &FitRule::default_for(k, k),
        k,
        &small(),
        faer::Par::Seq,
        &Silent,
    )
    .unwrap();
    let f = u.form.as_ref().unwrap();
    let b = u.bootstrap.as_ref().unwrap();
    let (ok, _) = power_law_visible(f, b.curvature_ci, &NetThresholds::default());
    (ok, u)
}

#[test]
fn form_test_accepts_a_noisy_power_law_and_rejects_a_curved_one() {
    let (ok, u) = form_of(false, 1);
    let f = u.form.as_ref().unwrap();
    assert!(ok, "{f:?} {:?}", u.bootstrap);
    assert!(f.r_squared > f.null_q99);
    assert!((f.p_value - 0.01).abs() < 1e-12 && (f.p_floor - 0.01).abs() < 1e-12);
    let (ok, u) = form_of(true, 1);
    let b = u.bootstrap.as_ref().unwrap();
    // ln C = (ln H)^2: c = 1, far outside any tolerance.
    assert!(!ok);
    assert!(b.curvature_ci.0 > 0.8 && b.curvature_ci.1 < 1.2, "{b:?}");
}

#[test]
fn form_test_rejects_a_structureless_c() {
    // Every direction has the same noise variance: C carries no relation to
    // H, so R^2 is what a Haar-rotated C gives.
    let (n, k) = (500, 40);
    let mut rng = seeded_rng(5);
    let h = Mat::from_fn(n, k, |_, i| 1.0 / (i + 1) as f64);
    let grad = Mat::from_fn(n, k, |_, _| StandardNormal.sample(&mut rng));
    let (hd, cd) = diagonals(&grad, &h);
    let u = gamma_uncertainty(
        &SampleProjections {
            grad: grad.as_ref(),
            h: h.as_ref(),
            h2: None,
            batch_size: 1,
        },
        &hd,
        &cd,
        &FitRule::default_for(k, k),
        k,
        &small(),
        faer::Par::Seq,
        &Silent,
    )
    .unwrap();
    let f = u.form.as_ref().unwrap();
    let b = u.bootstrap.as_ref().unwrap();
    assert!(f.r_squared <= f.null_q99 || f.p_value > 0.01, "{f:?}");
    let (ok, _) = power_law_visible(f, b.curvature_ci, &NetThresholds::default());
    assert!(!ok, "{f:?}");
}

#[test]
fn top_k_above_a_quarter_of_the_samples_is_warned() {
    let (n, k) = (100, 30);
    let (grad, h) = power_law_samples(n, k, 1.3, false, 3);
    let (hd, cd) = diagonals(&grad, &h);
    let u = gamma_uncertainty(
        &SampleProjections {
            grad: grad.as_ref(),
            h: h.as_ref(),
            h2: None,
            batch_size: 1,
        },
        &hd,
        &cd,
        &FitRule::default_for(k, k),
        0,
        &UncertaintySettings {
            replicates: 20,
            rotations: 5,
            ..small()
        },
        faer::Par::Seq,
        &Silent,
    )
    .unwrap();
    assert_eq!(u.warnings.len(), 1);
    assert!(
        u.warnings[0].starts_with("top-k 30 exceeds N/4 = 25"),
        "{:?}",
        u.warnings
    );
    assert!(u.rule.contains("all d"));
}

#[test]
fn quadratic_curvature_is_exact_on_a_parabola() {
    let x: Vec<f64> = (1..=20).map(|i| (0.3 * i as f64).exp()).collect();
    let y: Vec<f64> = x
        .iter()
        .map(|v: &f64| (1.0 + 1.2 * v.ln() - 0.25 * v.ln().powi(2)).exp())
        .collect();
    let (c, _, range) = quadratic_curvature(&x, &y).unwrap();
    assert!((c + 0.25).abs() < 1e-10, "{c}");
    assert!((range - 0.3 * 19.0).abs() < 1e-10);
    assert!(quadratic_curvature(&x[..3], &y[..3]).is_err());
}

#[test]
fn k_grid_is_log_spaced_and_ends_at_k_max() {
    let g = k_grid(2000, 50, 12);
    assert_eq!(g.first(), Some(&50));
    assert_eq!(g.last(), Some(&2000));
    assert!(g.windows(2).all(|w| w[0] < w[1]));
    assert!(g.len() >= 10 && g.len() <= 12);
    assert_eq!(k_grid(20, 50, 12).first(), Some(&20));
    assert!(k_grid(2, 50, 12).is_empty());
}

proptest! {
    #[test]
    fn gamma_curve_is_flat_on_an_exact_power_law(gamma in 0.3f64..2.5, k in 12usize..300) {
        let h: Vec<f64> = (0..k).map(|i| 1.0 / (i + 1) as f64).collect();
        let c: Vec<f64> = h.iter().map(|x| x.powf(gamma)).collect();
        let s = UncertaintySettings { min_k: 8, ..UncertaintySettings::default() };
        let curve = gamma_curve(&h, &c, &FitRule::default_for(k, k), &s);
        prop_assert!(!curve.is_empty());
        prop_assert_eq!(curve.last().unwrap().k, k);
        for p in &curve {
            prop_assert!((p.gamma.unwrap() - gamma).abs() < 1e-9 * gamma.max(1.0));
            if let Some(l) = p.local_slope {
                prop_assert!((l - gamma).abs() < 1e-9 * gamma.max(1.0));
            }
        }
    }
}
