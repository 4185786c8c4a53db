//! The scale kernels of the layer analysis against the dense constructions
//! they replace: `tr C`, `||C||_F^2` and the spectrum of C without an N x N
//! object (`KronCurvature::c_moments`, `c_spectrum`), the block Krylov top-k
//! eigensolver (`superlinear::linalg::krylov`) on dense and matrix-free H,
//! the memory plan (`superlinear::memory`) and its refusals.

use faer::{Mat, Par};
use rand::Rng as _;
use superlinear::fit::{fit_gamma, FitRule};
use superlinear::kron::{EigSettings, KronCurvature, LayerSamples};
use superlinear::linalg::{
    gaussian_matrix, haar_orthogonal, seeded_rng, sym_eig, sym_eigenvalues, top_eig_krylov,
    DenseSymOperator, KrylovSettings, SymOperator,
};
use superlinear::loss::Loss;
use superlinear::memory::{
    eig_route, estimate_analysis, moment_route, AnalysisOptions, AnalysisShape, EigMethod,
    MemoryBudget, MomentRoute,
};
use superlinear::Error;

use crate::util::rel_diff;

/// Nonnegative activities, dense Jacobians through a fixed read-out with
/// per-sample ReLU masks, logits with a class signal.
fn samples(n: usize, out: usize, inn: usize, k: usize, loss: Loss, seed: u64) -> LayerSamples {
    let mut rng = seeded_rng(seed);
    let w2 = gaussian_matrix(k, out, &mut rng);
    let mix = gaussian_matrix(inn, inn, &mut rng);
    let mut acts = Mat::<f64>::zeros(n, inn);
    let mut jacobians = Vec::with_capacity(n);
    let mut logits = Mat::<f64>::zeros(n, k);
    let mut labels = Vec::with_capacity(n);
    for p in 0..n {
        let x: Vec<f64> = (0..inn)
            .map(|i| rng.random_range(-1.0..1.0f64) / (1.0 + i as f64).sqrt())
            .collect();
        for i in 0..inn {
            let v: f64 = (0..inn).map(|j| mix[(i, j)] * x[j]).sum();
            acts[(p, i)] = v.max(0.0);
        }
        let mask: Vec<f64> = (0..out)
            .map(|_| if rng.random_bool(0.6) { 1.0 } else { 0.0 })
            .collect();
        jacobians.push(Mat::from_fn(k, out, |c, o| w2[(c, o)] * mask[o]));
        let y = p % k;
        for c in 0..k {
            logits[(p, c)] = rng.random_range(-1.0..1.0) + if c == y { 2.0 } else { 0.0 };
        }
        labels.push(y);
    }
    LayerSamples {
        acts,
        jacobians,
        logits,
        labels,
        loss,
    }
}

fn engine(n: usize, out: usize, inn: usize, k: usize, loss: Loss, seed: u64) -> KronCurvature {
    KronCurvature::new(&samples(n, out, inn, k, loss, seed), "synthetic").unwrap()
}

/// `(tr, ||.||_F^2)` of the N x N dual the analysis used so far.
fn dual_reference(e: &KronCurvature, b: usize) -> (f64, f64) {
    let kc = e.c_dual_gram(b, Par::Seq).unwrap();
    let tr = (0..kc.nrows()).map(|i| kc[(i, i)]).sum();
    (tr, kc.squared_norm_l2())
}

#[test]
fn noise_moments_match_the_dual_gram_both_routes() {
    let budget = MemoryBudget::unlimited();
    // N > d and N < d, both losses, chunks that do and do not divide N.
    for (n, out, inn, loss, seed) in [
        (150, 6, 5, Loss::CrossEntropy, 1),
        (70, 9, 11, Loss::SoftmaxMse, 2),
        (203, 4, 7, Loss::SoftmaxMse, 3),
    ] {
        let e = engine(n, out, inn, 4, loss, seed);
        for b in [1, 32] {
            let (tr, fr) = dual_reference(&e, b);
            let tol = 1e-12;
            for route in [MomentRoute::DualStreamed, MomentRoute::Primal] {
                for chunk in [0, 17, 64] {
                    let m = e
                        .c_moments(b, Some(route), chunk, &budget, Par::Seq)
                        .unwrap();
                    assert_eq!(m.route, route);
                    assert!(
                        rel_diff(m.trace, tr, 0.0) < tol,
                        "{route:?} tr {} {tr}",
                        m.trace
                    );
                    assert!(
                        rel_diff(m.frobenius_sq, fr, 0.0) < tol,
                        "{route:?} chunk {chunk}: |C|_F^2 {} vs {fr}",
                        m.frobenius_sq
                    );
                }
            }
            // Thread count does not change the streamed sum.
            let seq = e.c_moments_dual(b, 16, Par::Seq).unwrap();
            let par = e.c_moments_dual(b, 16, Par::rayon(2)).unwrap();
            assert_eq!(seq, par);
        }
    }
}

#[test]
fn dense_c_is_the_centred_second_moment_of_the_gradients() {
    let e = engine(60, 5, 4, 3, Loss::CrossEntropy, 7);
    let g = e.per_sample_gradients();
    let (n, d) = (g.nrows(), g.ncols());
    let mean: Vec<f64> = (0..d)
        .map(|j| (0..n).map(|p| g[(p, j)]).sum::<f64>() / n as f64)
        .collect();
    let b = 8.0;
    let want = Mat::from_fn(d, d, |i, j| {
        (0..n)
            .map(|p| (g[(p, i)] - mean[i]) * (g[(p, j)] - mean[j]))
            .sum::<f64>()
            / (n as f64 * b)
    });
    let c = e
        .c_dense(8, 13, &MemoryBudget::unlimited(), Par::Seq)
        .unwrap();
    let scale = want.norm_max();
    let diff = (&c - &want).norm_max();
    assert!(diff < 1e3 * f64::EPSILON * scale, "{diff:e}");
}

#[test]
fn spectrum_of_c_through_either_side() {
    let budget = MemoryBudget::unlimited();
    // N > d goes through d x d; compare with the dual's nonzero spectrum.
    let e = engine(90, 5, 6, 4, Loss::SoftmaxMse, 11);
    let primal = e.c_spectrum(4, &budget, Par::Seq).unwrap();
    assert_eq!(primal.len(), e.d());
    let kc = e.c_dual_gram(4, Par::Seq).unwrap();
    let dual = sym_eigenvalues(kc.as_ref(), "dual").unwrap();
    let top = primal[0];
    for i in 0..e.d() {
        assert!((primal[i] - dual[i]).abs() < 1e-12 * top * e.d() as f64);
    }
    // N <= d goes through the dual: N values.
    let e = engine(20, 5, 6, 4, Loss::CrossEntropy, 12);
    assert_eq!(e.c_spectrum(4, &budget, Par::Seq).unwrap().len(), 20);
}

#[test]
fn krylov_matches_dense_on_a_known_spectrum() {
    let mut rng = seeded_rng(5);
    let n = 300;
    let q = haar_orthogonal(n, &mut rng);
    // Power-law spectrum with a negative tail (indefinite, like softmax-MSE H).
    let lam: Vec<f64> = (0..n)
        .map(|i| (1.0 + i as f64).powf(-1.5) - if i > 250 { 0.02 } else { 0.0 })
        .collect();
    let a = Mat::from_fn(n, n, |i, j| {
        (0..n).map(|l| q[(i, l)] * lam[l] * q[(j, l)]).sum::<f64>()
    });
    let a = Mat::from_fn(n, n, |i, j| 0.5 * (a[(i, j)] + a[(j, i)]));
    let dense = sym_eig(a.as_ref(), "a").unwrap();
    for (k, block) in [(20, 0), (37, 5), (1, 0)] {
        let s = KrylovSettings {
            block,
            seed: 3,
            ..KrylovSettings::default()
        };
        let r = top_eig_krylov(&DenseSymOperator(a.as_ref()), k, &s, Par::Seq, "a").unwrap();
        assert_eq!(r.converged, k);
        for i in 0..k {
            assert!(rel_diff(r.values[i], dense.values[i], 0.0) < 1e-8, "{i}");
            assert!(r.residuals[i] <= 1e-10 * lam[0]);
        }
        let g = r.vectors.transpose() * &r.vectors;
        for i in 0..k {
            for j in 0..k {
                let t = if i == j { 1.0 } else { 0.0 };
                assert!((g[(i, j)] - t).abs() < 1e-12);
            }
        }
        // Same seed, same result.
        let again = top_eig_krylov(&DenseSymOperator(a.as_ref()), k, &s, Par::Seq, "a").unwrap();
        assert_eq!(r.values, again.values);
    }
}

#[test]
fn krylov_survives_a_rank_deficient_operator() {
    // Rank 6 in dimension 200: the Krylov space becomes invariant at once.
    let mut rng = seeded_rng(9);
    let u = gaussian_matrix(200, 6, &mut rng);
    let a = &u * u.transpose();
    let dense = sym_eig(a.as_ref(), "a").unwrap();
    let r = top_eig_krylov(
        &DenseSymOperator(a.as_ref()),
        10,
        &KrylovSettings::default(),
        Par::Seq,
        "a",
    )
    .unwrap();
    assert_eq!(r.converged, 10);
    for i in 0..10 {
        assert!((r.values[i] - dense.values[i]).abs() < 1e-9 * dense.values[0]);
    }
}

#[test]
fn kronecker_product_equals_dense_h() {
    for loss in [Loss::CrossEntropy, Loss::SoftmaxMse] {
        let e = engine(77, 7, 6, 5, loss, 21);
        let h = e.hessian_with(Par::Seq);
        let mut rng = seeded_rng(1);
        let x = gaussian_matrix(e.d(), 9, &mut rng);
        let mut y = Mat::<f64>::zeros(e.d(), 9);
        e.hessian_operator()
            .apply(x.as_ref(), y.as_mut(), Par::Seq)
            .unwrap();
        let want = &h * &x;
        let diff = (&y - &want).norm_max();
        assert!(
            diff < 1e2 * e.d() as f64 * f64::EPSILON * want.norm_max(),
            "{diff:e}"
        );
    }
}

#[test]
fn krylov_routes_match_the_dense_route_and_its_gamma() {
    for (loss, seed) in [(Loss::CrossEntropy, 31), (Loss::SoftmaxMse, 32)] {
        let e = engine(400, 16, 15, 10, loss, seed);
        let k = 30;
        let dense = e
            .hessian_top_eig_scaled(
                k,
                &EigSettings {
                    method: EigMethod::Dense,
                    ..EigSettings::default()
                },
                Par::Seq,
            )
            .unwrap();
        let gamma_of = |v: &Mat<f64>, h: &[f64]| {
            let pr = e.projections(v.as_ref(), 64, false, Par::Seq).unwrap();
            fit_gamma(h, &pr.c_diag(50), &FitRule::default_for(k, e.d()))
                .unwrap()
                .gamma
        };
        let g_dense = gamma_of(&dense.vectors, &dense.values);
        for method in [EigMethod::KrylovDense, EigMethod::KrylovMatrixFree] {
            let r = e
                .hessian_top_eig_scaled(
                    k,
                    &EigSettings {
                        method,
                        krylov: KrylovSettings {
                            tol: 1e-11,
                            seed: 4,
                            ..KrylovSettings::default()
                        },
                        ..EigSettings::default()
                    },
                    Par::Seq,
                )
                .unwrap();
            assert_eq!(r.method, method);
            for i in 0..k {
                assert!(
                    rel_diff(r.values[i], dense.values[i], 0.0) < 1e-8,
                    "{method:?} {i}: {} vs {}",
                    r.values[i],
                    dense.values[i]
                );
            }
            let g = gamma_of(&r.vectors, &r.values);
            assert!(
                (g - g_dense).abs() < 1e-6,
                "{method:?}: gamma {g} vs {g_dense}"
            );
        }
    }
}

#[test]
fn factored_engine_rebuilds_a_p() {
    let s = samples(50, 9, 4, 3, Loss::SoftmaxMse, 51);
    let kept = KronCurvature::new(&s, "kept").unwrap();
    let lean = KronCurvature::new_factored(&s, "lean").unwrap();
    assert_eq!(lean.samples()[0].a_mat.nrows(), 0);
    let (h, hl) = (kept.hessian_with(Par::Seq), lean.hessian_with(Par::Seq));
    assert!((&h - &hl).norm_max() < 1e3 * f64::EPSILON * h.norm_max());
    let (s2, s2l) = (
        kept.second_moment_with(Par::Seq),
        lean.second_moment_with(Par::Seq),
    );
    assert!((&s2 - &s2l).norm_max() < 1e3 * f64::EPSILON * s2.norm_max());
}

#[test]
fn over_budget_is_a_typed_error_before_allocating() {
    let e = engine(40, 30, 30, 3, Loss::CrossEntropy, 41);
    let tiny = MemoryBudget {
        limit_bytes: 1 << 20,
    };
    let err = e
        .hessian_top_eig_scaled(
            5,
            &EigSettings {
                method: EigMethod::Dense,
                budget: tiny,
                ..EigSettings::default()
            },
            Par::Seq,
        )
        .unwrap_err();
    assert!(matches!(err, Error::MemoryLimit { .. }), "{err}");
    let err = e.c_dense(1, 0, &tiny, Par::Seq).unwrap_err();
    assert!(matches!(err, Error::MemoryLimit { .. }), "{err}");
    let err = e.c_spectrum(1, &MemoryBudget { limit_bytes: 1000 }, Par::Seq);
    assert!(matches!(err, Err(Error::MemoryLimit { .. })));
    // An absurd layer is refused by the plan without touching memory.
    let shape = AnalysisShape {
        samples: 50_000,
        out: 1000,
        inn: 1000,
        classes: 10,
        top_k: 1000,
    };
    let plan = estimate_analysis(&shape, &AnalysisOptions::default());
    assert!(matches!(
        plan.check(&MemoryBudget {
            limit_bytes: 24 << 30
        }),
        Err(Error::MemoryLimit { .. })
    ));
}

#[test]
fn routes_follow_the_stated_rules() {
    // Small or k not << d: dense.
    assert_eq!(
        eig_route(2000, 2500, 300, EigMethod::Auto),
        EigMethod::Dense
    );
    assert_eq!(
        eig_route(2000, 4900, 300, EigMethod::Auto),
        EigMethod::KrylovMatrixFree
    );
    assert_eq!(
        eig_route(20_000, 2500, 1500, EigMethod::Auto),
        EigMethod::Dense
    );
    // Dense H is the cheaper operator when d <= 2N.
    assert_eq!(
        eig_route(8000, 6400, 1000, EigMethod::Auto),
        EigMethod::KrylovDense
    );
    assert_eq!(
        eig_route(10_000, 65_536, 100, EigMethod::Auto),
        EigMethod::KrylovMatrixFree
    );
    assert_eq!(
        eig_route(10, 10, 1, EigMethod::KrylovMatrixFree),
        EigMethod::KrylovMatrixFree
    );
    assert_eq!(moment_route(50_000, 50, 50), MomentRoute::Primal);
    assert_eq!(moment_route(20_000, 50, 50), MomentRoute::DualStreamed);
    assert_eq!(moment_route(10_000, 256, 256), MomentRoute::DualStreamed);
    // The plan grows with N only linearly on the streamed routes.
    let opt = AnalysisOptions::default();
    let at = |n| {
        estimate_analysis(
            &AnalysisShape {
                samples: n,
                out: 80,
                inn: 80,
                classes: 10,
                top_k: 1000,
            },
            &opt,
        )
        .peak() as f64
    };
    assert!(at(40_000) < 2.5 * at(20_000));
}
