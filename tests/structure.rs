//! The structure figures of `superlinear::layer::structure` and
//! `superlinear::layer::batch` on inputs with known answers: C a function of
//! H (commutator 0, rho_bar 0, no decay), a Haar-rotated C (at its null), the
//! null identical to `coupling::simulate_null`'s, decay slopes of built
//! correlation patterns, a first-moment share by construction, the `1/B`
//! slope of i.i.d. projections, and the figures of `measure_checkpoint`.

use faer::Mat;
use rand::Rng as _;
use rand_distr::{Distribution, StandardNormal};
use superlinear::alignment::relative_commutator;
use superlinear::coupling::simulate_null;
use superlinear::kron::{KronCurvature, LayerSamples};
use superlinear::layer::batch::{
    batch_scaling, batch_sizes, first_moment_share, first_moment_shares,
};
use superlinear::layer::structure::{
    c_projected, decay_of, kspace_structure, relative_commutator_diag,
};
use superlinear::layer::{
    measure_checkpoint, CheckpointInfo, FigureSettings, LayerFactors, StructureSettings,
    UncertaintySettings,
};
use superlinear::linalg::{haar_orthogonal, seeded_rng, seeded_stream, sym_eig};
use superlinear::loss::Loss;

fn lambda(k: usize) -> Vec<f64> {
    (0..k).map(|i| 1.0 / (1.0 + i as f64).powf(1.2)).collect()
}

fn diag(v: &[f64]) -> Mat<f64> {
    Mat::from_fn(v.len(), v.len(), |i, j| if i == j { v[i] } else { 0.0 })
}

/// `Q diag(mu) Q^T`, exactly symmetric.
fn rotated(mu: &[f64], seed: u64) -> Mat<f64> {
    let q = haar_orthogonal(mu.len(), &mut seeded_rng(seed));
    let c = &q * diag(mu) * q.transpose();
    Mat::from_fn(mu.len(), mu.len(), |i, j| 0.5 * (c[(i, j)] + c[(j, i)]))
}

#[test]
fn c_a_function_of_h_commutes_and_has_no_coupling() {
    let k = 24;
    let l = lambda(k);
    let mu: Vec<f64> = l.iter().map(|x| x.powf(1.5)).collect();
    let s = kspace_structure(diag(&mu).as_ref(), &l, 99, 3).unwrap();
    let comm = s.commutator.as_ref().unwrap();
    assert_eq!(comm.observed, 0.0);
    assert!(comm.null_mean > 0.1, "{comm:?}");
    assert_eq!(comm.p_below, 1.0 / 100.0);
    assert_eq!(s.p_floor, 1.0 / 100.0);
    let rho = s.rho_bar.as_ref().unwrap();
    assert_eq!(rho.observed, 0.0);
    assert!(rho.z < -3.0, "{rho:?}");
    assert!(s.decay.all_zero);
    assert_eq!(s.decay.slope, None);
    assert!(s.decay_slope.is_err());
    let paper = s.rho_bar_paper.as_ref().unwrap();
    assert!(paper.z < -3.0);
}

#[test]
fn a_haar_rotated_c_sits_in_its_null() {
    let k = 30;
    let l = lambda(k);
    let mu: Vec<f64> = l.iter().map(|x| x.powf(1.5)).collect();
    for seed in 0..4 {
        let c = rotated(&mu, 100 + seed);
        let s = kspace_structure(c.as_ref(), &l, 99, seed).unwrap();
        for (name, x) in [
            ("rho_bar", &s.rho_bar),
            ("commutator", &s.commutator),
            ("decay slope", &s.decay_slope),
        ] {
            let x = x.as_ref().unwrap();
            assert!(x.z.abs() < 4.0, "seed {seed} {name}: {x:?}");
            assert!(x.p_below > 0.01, "seed {seed} {name}: {x:?}");
        }
        assert!(!s.decay.all_zero);
    }
}

#[test]
fn the_rho_bar_null_is_simulate_nulls() {
    let k = 16;
    let l = lambda(k);
    let mu: Vec<f64> = l.iter().map(|x| x * x).collect();
    let c = rotated(&mu, 7);
    let (r, seed) = (40, 11);
    let s = kspace_structure(c.as_ref(), &l, r, seed).unwrap();
    let eig = sym_eig(c.as_ref(), "C").unwrap();
    let null = simulate_null(&eig.values, k, r, seed).unwrap();
    let (m, sd) = superlinear::stats::mean_std(&null.rho_bar).unwrap();
    let got = s.rho_bar.unwrap();
    assert!(
        (got.null_mean - m).abs() < 1e-12,
        "{} vs {m}",
        got.null_mean
    );
    assert!((got.null_std - sd).abs() < 1e-12);
    assert_eq!(got.rotations, r);
}

#[test]
fn commutator_matches_the_dense_one() {
    let l = lambda(9);
    let c = rotated(&[3.0, 2.0, 1.0, 0.5, 0.5, 0.2, 0.1, 0.0, 0.0], 5);
    let dense = relative_commutator(diag(&l).as_ref(), c.as_ref()).unwrap();
    let ours = relative_commutator_diag(c.as_ref(), &l);
    assert!((ours - 2.0 * dense).abs() < 1e-12, "{ours} vs 2 x {dense}");
}

#[test]
fn decay_slopes_of_built_patterns() {
    let k = 64;
    // Constant correlation 0.3 (PSD: 0.7 I + 0.3 1 1^T): flat.
    let flat = Mat::from_fn(k, k, |i, j| if i == j { 1.0 } else { 0.3 });
    let d = decay_of(flat.as_ref());
    assert!(d.slope.unwrap().abs() < 1e-12);
    assert_eq!(d.bands.len(), 6);
    assert_eq!(d.bands[0].pairs, k - 1);
    assert!(d.bands.iter().all(|b| (b.mean_abs_rho - 0.3).abs() < 1e-13));
    // |rho_ij| = |i - j|^-1 with a sign pattern: slope near -1.
    let pow = Mat::from_fn(k, k, |i, j| {
        if i == j {
            1.0
        } else {
            let dist = i.abs_diff(j) as f64;
            if (i + j) % 2 == 0 {
                1.0 / dist
            } else {
                -1.0 / dist
            }
        }
    });
    let s = decay_of(pow.as_ref()).slope.unwrap();
    assert!((s + 1.0).abs() < 0.1, "slope {s}");
    // Fewer than 3 bands: no slope.
    assert_eq!(decay_of(flat.as_ref().submatrix(0, 0, 4, 4)).slope, None);
}

#[test]
fn first_moment_share_by_construction() {
    // Rows m + x_q and m - x_q: E p = m exactly, E p^2 = m^2 + E x^2.
    let (n, k) = (200, 4);
    let m = [0.3, -0.2, 0.0, 0.1];
    let mut rng = seeded_rng(2);
    let x = Mat::from_fn(n / 2, k, |_, _| rng.random_range(-1.0..1.0f64));
    let p = Mat::from_fn(n, k, |q, i| {
        if q < n / 2 {
            m[i] + x[(q, i)]
        } else {
            m[i] - x[(q - n / 2, i)]
        }
    });
    let m2: f64 = m.iter().map(|v| v * v).sum();
    let x2: f64 = (0..n / 2)
        .map(|q| (0..k).map(|i| x[(q, i)].powi(2)).sum::<f64>())
        .sum::<f64>()
        / (n / 2) as f64;
    let want = m2 / (m2 + x2);
    assert!((first_moment_share(p.as_ref()) - want).abs() < 1e-13 * (1.0 + want));
    // Pure noise with zero mean by construction: share 0.
    let centred = Mat::from_fn(n, k, |q, i| p[(q, i)] - m[i]);
    assert!(first_moment_share(centred.as_ref()) < 1e-28);
}

#[test]
fn one_over_b_slope_on_iid_projections() {
    let (n, k) = (3000, 6);
    let mut rng = seeded_stream(4, 0);
    let p = Mat::from_fn(n, k, |_, i| {
        let z: f64 = StandardNormal.sample(&mut rng);
        0.05 + z / (1.0 + i as f64)
    });
    assert_eq!(batch_sizes(10), vec![5, 10, 20]);
    assert_eq!(batch_sizes(1), vec![1, 2]);
    let b = batch_scaling(p.as_ref(), 10, 4000, 9).unwrap();
    assert_eq!(b.points.len(), 3);
    assert!(b.slope_se > 0.0 && b.slope_se < 0.05, "{b:?}");
    assert!((b.slope + 1.0).abs() < 3.0 * b.slope_se, "{b:?}");
    for pt in &b.points {
        // Unbiased: the Monte Carlo trace matches Eq. 2 within its error.
        assert!(
            (pt.trace - pt.trace_eq2).abs() < 4.0 * pt.trace_se,
            "{pt:?}"
        );
        assert!(pt.trace_se < 0.05 * pt.trace);
    }
    // Same seed, same figures.
    assert_eq!(b, batch_scaling(p.as_ref(), 10, 4000, 9).unwrap());
    assert!(batch_scaling(p.as_ref(), 10, 1, 9).is_err());
}

fn random_factors(n: usize, out: usize, inn: usize, classes: usize, seed: u64) -> LayerFactors {
    let mut rng = seeded_rng(seed);
    let mut g = || rng.random_range(-1.0..1.0f64);
    LayerFactors {
        layer: "synthetic".into(),
        samples: LayerSamples {
            acts: Mat::from_fn(n, inn, |_, _| 0.1 + g().abs()),
            jacobians: (0..n)
                .map(|_| Mat::from_fn(classes, out, |_, _| g()))
                .collect(),
            logits: Mat::from_fn(n, classes, |_, _| 2.0 * g()),
            labels: (0..n).map(|p| p % classes).collect(),
            loss: Loss::CrossEntropy,
        },
        weights: Mat::from_fn(out, inn, |_, _| g()),
    }
}

#[test]
fn full_space_share_is_the_top_k_share_with_every_direction() {
    let f = random_factors(40, 3, 4, 3, 1);
    let engine = KronCurvature::new(&f.samples, "synthetic").unwrap();
    let d = engine.d();
    let id = Mat::<f64>::identity(d, d);
    let p = engine.gradient_projections(id.as_ref(), 1).unwrap();
    let (top, full) = first_moment_shares(&engine, p.as_ref());
    assert!(
        (top - full).abs() < 1e-12 * full.max(1e-300),
        "{top} vs {full}"
    );
    assert!(full > 0.0 && full < 1.0);
    // C_k from the projections is Eq. 2's C projected.
    let v = sym_eig(engine.hessian().as_ref(), "H").unwrap().vectors;
    let v = v.subcols(0, 5);
    let a = c_projected(engine.gradient_projections(v, 7).unwrap().as_ref(), 7);
    let b = engine.c_projected(v, 7).unwrap();
    assert!((&a - &b).norm_max() < 1e-12 * b.norm_max());
}

#[test]
fn measure_checkpoint_records_the_structure() {
    let f = random_factors(60, 4, 5, 3, 2);
    let info = || CheckpointInfo {
        epoch: 3,
        path: "x".into(),
        train_loss: None,
        train_accuracy: None,
    };
    let mut settings = FigureSettings {
        top_k: 12,
        batch_size: 8,
        seed: 0,
        one_to_one: false,
        chunk: 16,
        suppression: None,
        structure: None,
        uncertainty: UncertaintySettings {
            replicates: 20,
            rotations: 9,
            ..UncertaintySettings::default()
        },
        pairs: true,
        second_top_k: None,
    };
    let m = measure_checkpoint(&f, &settings, info()).unwrap();
    assert!(m.figures.structure.is_none());
    // Without the matched pairs (no C6, C7 or C13): the same gamma and
    // gamma_awd, the pair figures marked as not measured.
    let lean = measure_checkpoint(
        &f,
        &FigureSettings {
            pairs: false,
            ..settings.clone()
        },
        info(),
    )
    .unwrap();
    let g = |x: &superlinear::layer::figures::Fit| x.as_ref().unwrap().gamma;
    assert_eq!(g(&lean.figures.gamma), g(&m.figures.gamma));
    let (a, b) = (g(&lean.figures.gamma_awd), g(&m.figures.gamma_awd));
    assert!((a - b).abs() <= 1e-10 * b.abs().max(1.0), "{a} vs {b}");
    assert!(m.figures.pairs.gamma_term1.is_ok());
    assert!(lean.figures.pairs.gamma_term1.is_err());
    assert!(lean.figures.pairs.residual1.is_nan());
    settings.structure = Some(StructureSettings {
        rotations: 50,
        seed: 1,
        batch_draws: 500,
    });
    let m = measure_checkpoint(&f, &settings, info()).unwrap();
    let s = m.figures.structure.as_ref().unwrap();
    assert_eq!(s.top_k, 12);
    assert_eq!(s.kspace.p_floor, 1.0 / 51.0);
    assert!(s.kspace.commutator.is_ok() && s.kspace.rho_bar.is_ok());
    assert!(s.first_moment_share > 0.0 && s.first_moment_share <= 1.0);
    assert!(s.first_moment_share_full > 0.0 && s.first_moment_share_full <= 1.0);
    assert_eq!(
        s.batch_scaling
            .as_ref()
            .unwrap()
            .points
            .iter()
            .map(|p| p.batch_size)
            .collect::<Vec<_>>(),
        vec![4, 8, 16]
    );
    let pe = &m.figures.pairs;
    assert_eq!(
        s.entanglement_mean.to_bits(),
        pe.entanglement_mean.to_bits()
    );
    let json = serde_json::to_value(&m.figures).unwrap();
    assert!(json["structure"]["kspace"]["commutator"]["observed"].is_number());
}
