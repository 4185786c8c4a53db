//! The Kronecker engine (`superlinear::kron`) against dense constructions:
//! per-sample Hessians `A_p (x) a_p a_p^T` built entry by entry, their mean,
//! squares and eigenpairs (nalgebra as the second implementation), and the
//! loss derivatives against central finite differences.

use faer::Mat;
use proptest::prelude::*;
use rand::Rng as _;
use superlinear::kron::{KronCurvature, LayerSamples};
use superlinear::linalg::{seeded_rng, sym_eig};
use superlinear::loss::Loss;

use crate::util::{proptest_config, rel_diff};

fn random_samples(
    n: usize,
    out: usize,
    inn: usize,
    k: usize,
    loss: Loss,
    seed: u64,
) -> LayerSamples {
    let mut rng = seeded_rng(seed);
    let mut g = || rng.random_range(-1.0..1.0f64);
    let acts = Mat::from_fn(n, inn, |_, _| g().abs());
    let logits = Mat::from_fn(n, k, |_, _| 2.0 * g());
    let jacobians = (0..n).map(|_| Mat::from_fn(k, out, |_, _| g())).collect();
    let labels = (0..n).map(|p| p % k).collect();
    LayerSamples {
        acts,
        jacobians,
        logits,
        labels,
        loss,
    }
}

/// Dense `h_p` from the definition (d x d), independent of the engine.
fn dense_h(s: &LayerSamples, p: usize) -> Mat<f64> {
    let k = s.logits.ncols();
    let f: Vec<f64> = (0..k).map(|j| s.logits[(p, j)]).collect();
    let (_, _, m) = s.loss.derivatives(&f, s.labels[p]);
    let d = &s.jacobians[p];
    let a = d.transpose() * &m * d;
    let (out, inn) = (d.ncols(), s.acts.ncols());
    Mat::from_fn(out * inn, out * inn, |r, c| {
        a[(r / inn, c / inn)] * s.acts[(p, r % inn)] * s.acts[(p, c % inn)]
    })
}

fn max_abs(m: &Mat<f64>) -> f64 {
    let mut x = 0.0f64;
    for j in 0..m.ncols() {
        for i in 0..m.nrows() {
            x = x.max(m[(i, j)].abs());
        }
    }
    x
}

fn check_engine(loss: Loss, seed: u64, n: usize, out: usize, inn: usize, k: usize) {
    let s = random_samples(n, out, inn, k, loss, seed);
    let e = KronCurvature::new(&s, "random").unwrap();
    let d = out * inn;
    let mut h_dense = Mat::<f64>::zeros(d, d);
    let mut h2_dense = Mat::<f64>::zeros(d, d);
    for p in 0..n {
        let hp = dense_h(&s, p);
        assert!(
            rel_diff(
                max_abs(&(&hp - e.per_sample_hessian(p).unwrap())),
                0.0,
                max_abs(&hp)
            ) < 1e-12
        );
        // Factored eigenpairs reproduce h_p.
        let (u, l) = e.per_sample_eig(p).unwrap();
        assert!(l.len() <= k, "rank {} > K = {k}", l.len());
        let rebuilt = &u
            * Mat::from_fn(l.len(), l.len(), |i, j| if i == j { l[i] } else { 0.0 })
            * u.transpose();
        let scale = max_abs(&hp).max(1e-300);
        assert!(
            max_abs(&(&rebuilt - &hp)) / scale < 1e-10,
            "eigenpairs of h_{p}"
        );
        h2_dense += &hp * &hp;
        h_dense += hp;
    }
    h_dense *= faer::Scale(1.0 / n as f64);
    h2_dense *= faer::Scale(1.0 / n as f64);
    let h = e.hessian();
    let hs = max_abs(&h_dense);
    assert!(max_abs(&(&h - &h_dense)) / hs < 1e-12, "H");
    assert!(
        max_abs(&(&e.hessian_unpacked() - &h_dense)) / hs < 1e-12,
        "H unpacked"
    );
    let s2 = e.second_moment_with(faer::Par::Seq);
    assert!(
        max_abs(&(&s2 - &h2_dense)) / max_abs(&h2_dense) < 1e-12,
        "E[h^2]"
    );
    let eig = sym_eig(h.as_ref(), "H").unwrap();
    let v = eig.vectors.as_ref();
    let (first, second) = e.first_second_moment_diag(v, 3).unwrap();
    let c_awd = e.c_awd_diag(v).unwrap();
    let scale2 = (0..d)
        .map(|i| (v.col(i).transpose() * &h2_dense * v.col(i)).abs())
        .fold(0.0, f64::max);
    for i in 0..d {
        let vi = v.col(i);
        let dense2 = vi.transpose() * &h2_dense * vi;
        assert!(
            (second[i] - dense2).abs() <= 1e-10 * scale2,
            "E[h^2] diag {i}: {} vs {dense2}",
            second[i]
        );
        assert!((c_awd[i] - dense2).abs() <= 1e-10 * scale2);
        assert!(
            (first[i] - eig.values[i]).abs() <= 1e-10 * hs,
            "first moment {i}"
        );
    }
    // C from per-sample gradients, densely, with B = 7.
    let g = e.per_sample_gradients();
    let b = 7.0;
    let mean = Mat::from_fn(d, 1, |j, _| {
        (0..n).map(|p| g[(p, j)]).sum::<f64>() / n as f64
    });
    let c_dense = (g.transpose() * &g) * faer::Scale(1.0 / (n as f64 * b))
        - (&mean * mean.transpose()) * faer::Scale(1.0 / b);
    let c = e.c_diag(v, 7).unwrap();
    let cp = e.c_projected(v, 7).unwrap();
    let cs = max_abs(&c_dense);
    for i in 0..d {
        let dense = v.col(i).transpose() * &c_dense * v.col(i);
        assert!((c[i] - dense).abs() <= 1e-10 * cs, "C_ii {i}");
        assert!((cp[(i, i)] - dense).abs() <= 1e-10 * cs);
    }
    // The fused pass: every quantity against its dense definition.
    let pr = e.projections(v, 4, true, faer::Par::Seq).unwrap();
    let gv = &g * v;
    assert!(
        max_abs(&(&pr.grad - &gv)) <= 1e-12 * max_abs(&gv).max(1e-300),
        "G V"
    );
    let awd_dense = v.transpose() * &h2_dense * v;
    let awd = pr.awd_projected.as_ref().unwrap();
    assert!(
        max_abs(&(awd - &awd_dense)) <= 1e-10 * scale2,
        "V^T E[h^2] V"
    );
    let cp_dense = v.transpose() * &c_dense * v;
    let cp2 = pr.c_projected(7, faer::Par::Seq);
    assert!(max_abs(&(&cp2 - &cp_dense)) <= 1e-10 * cs, "C' fused");
    let c2 = pr.c_diag(7);
    for i in 0..d {
        assert!((c2[i] - c[i]).abs() <= 1e-10 * cs, "C_ii fused {i}");
        assert!((pr.second[i] - second[i]).abs() <= 1e-10 * scale2);
        assert!((pr.first[i] - first[i]).abs() <= 1e-10 * hs);
    }
    // tr C and |C|_F^2 through the Gram matrix.
    let (s1, s2) = e.c_trace_moments(7, faer::Par::Seq).unwrap();
    let tr: f64 = (0..d).map(|i| c_dense[(i, i)]).sum();
    let fro = c_dense.squared_norm_l2();
    assert!(
        (s1 - tr).abs() <= 1e-10 * tr.abs().max(cs),
        "tr C {s1} vs {tr}"
    );
    assert!(
        (s2 - fro).abs() <= 1e-10 * fro.max(cs * cs),
        "|C|_F^2 {s2} vs {fro}"
    );
    // The gradient is delta (x) a with delta = D^T q.
    for p in 0..n {
        let f: Vec<f64> = (0..k).map(|j| s.logits[(p, j)]).collect();
        let (_, q, _) = loss.derivatives(&f, s.labels[p]);
        for o in 0..out {
            let delta: f64 = (0..k).map(|c| s.jacobians[p][(c, o)] * q[c]).sum();
            for i in 0..inn {
                assert!((g[(p, o * inn + i)] - delta * s.acts[(p, i)]).abs() < 1e-12);
            }
        }
    }
}

#[test]
fn engine_matches_dense_cross_entropy() {
    check_engine(Loss::CrossEntropy, 1, 9, 4, 3, 3);
}

#[test]
fn engine_matches_dense_softmax_mse() {
    check_engine(Loss::SoftmaxMse, 2, 9, 4, 3, 3);
}

#[test]
fn engine_matches_dense_more_classes_than_outputs() {
    check_engine(Loss::SoftmaxMse, 3, 6, 2, 3, 5);
    check_engine(Loss::CrossEntropy, 4, 6, 2, 3, 5);
}

/// Central differences of the loss and of q give q and M (the softmax-MSE
/// Hessian is derived by hand in `kron`'s doc; this is its independent check).
fn finite_difference_check(loss: Loss, f: &[f64], y: usize) {
    let k = f.len();
    let (_, q, m) = loss.derivatives(f, y);
    let eps = 1e-5;
    for j in 0..k {
        let mut fp = f.to_vec();
        let mut fm = f.to_vec();
        fp[j] += eps;
        fm[j] -= eps;
        let (lp, qp, _) = loss.derivatives(&fp, y);
        let (lm, qm, _) = loss.derivatives(&fm, y);
        let dl = (lp - lm) / (2.0 * eps);
        assert!((dl - q[j]).abs() < 1e-7, "q[{j}]: {} vs {dl}", q[j]);
        for i in 0..k {
            let dq = (qp[i] - qm[i]) / (2.0 * eps);
            assert!(
                (dq - m[(i, j)]).abs() < 1e-7,
                "M[{i},{j}]: {} vs {dq}",
                m[(i, j)]
            );
        }
    }
}

proptest! {
    #![proptest_config(proptest_config(32))]
    #[test]
    fn loss_derivatives_match_finite_differences(
        f in proptest::collection::vec(-3.0f64..3.0, 2..7),
        y in 0usize..7,
        mse in any::<bool>(),
    ) {
        let y = y % f.len();
        let loss = if mse { Loss::SoftmaxMse } else { Loss::CrossEntropy };
        finite_difference_check(loss, &f, y);
    }
}

#[test]
fn softmax_mse_hessian_can_be_indefinite() {
    // A confidently wrong prediction: M has a negative eigenvalue.
    let (_, _, m) = Loss::SoftmaxMse.derivatives(&[4.0, 0.0, 0.0], 1);
    let ev = sym_eig(m.as_ref(), "M").unwrap().values;
    assert!(*ev.last().unwrap() < -1e-3, "{ev:?}");
    let (_, _, m) = Loss::CrossEntropy.derivatives(&[4.0, 0.0, 0.0], 1);
    let ev = sym_eig(m.as_ref(), "M").unwrap().values;
    assert!(*ev.last().unwrap() > -1e-15, "{ev:?}");
}

#[test]
fn bad_inputs_are_typed_errors() {
    let mut s = random_samples(4, 3, 2, 3, Loss::CrossEntropy, 5);
    s.labels[2] = 3;
    assert!(KronCurvature::new(&s, "t").is_err());
    let mut s = random_samples(4, 3, 2, 3, Loss::CrossEntropy, 5);
    s.acts[(1, 1)] = f64::NAN;
    assert!(KronCurvature::new(&s, "t").is_err());
    let mut s = random_samples(4, 3, 2, 3, Loss::CrossEntropy, 5);
    s.jacobians.pop();
    assert!(KronCurvature::new(&s, "t").is_err());
    let s = random_samples(4, 3, 2, 3, Loss::CrossEntropy, 5);
    let e = KronCurvature::new(&s, "t").unwrap();
    assert!(e.c_diag(Mat::<f64>::zeros(5, 1).as_ref(), 1).is_err());
    assert!(e.c_diag(Mat::<f64>::zeros(6, 1).as_ref(), 0).is_err());
    let mut empty = s.clone();
    empty.acts = Mat::zeros(0, 2);
    empty.jacobians.clear();
    empty.logits = Mat::zeros(0, 3);
    empty.labels.clear();
    assert!(KronCurvature::new(&empty, "t").is_err());
}

/// `sym_eig_top` (top-k eigensolver) against faer's full decomposition
/// (`sym_eig`) and nalgebra, on the Kronecker H of a mid-sized random layer:
/// top-k eigenvalues, residuals, orthonormality, and the diagonals `C_ii`,
/// `C_awd,ii` computed on either basis (invariant to eigenvector signs).
fn check_top_eig(loss: Loss, seed: u64) {
    let (n, out, inn, k_cls, top) = (150, 12, 10, 5, 40);
    let s = random_samples(n, out, inn, k_cls, loss, seed);
    let e = KronCurvature::new(&s, "random").unwrap();
    let h = e.hessian();
    let full = sym_eig(h.as_ref(), "H").unwrap();
    for par in [faer::Par::Seq, faer::Par::rayon(2)] {
        let t = superlinear::linalg::sym_eig_top(h.clone(), top, par, "H").unwrap();
        assert_eq!(t.values.len(), top);
        assert_eq!(t.vectors.ncols(), top);
        let scale = full.values.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        let d = e.d();
        let tol = 1e-10 * scale;
        for i in 0..top {
            assert!(
                (t.values[i] - full.values[i]).abs() <= tol,
                "eigenvalue {i}"
            );
        }
        let resid = &h * &t.vectors
            - &t.vectors * Mat::from_fn(top, top, |i, j| if i == j { t.values[i] } else { 0.0 });
        assert!(
            max_abs(&resid) <= 30.0 * d as f64 * f64::EPSILON * scale,
            "residual"
        );
        assert!(
            superlinear::linalg::orthonormality_residual(t.vectors.as_ref())
                < 30.0 * d as f64 * f64::EPSILON
        );
        let vf = full.vectors.subcols(0, top).to_owned();
        let c_full = e.c_diag(vf.as_ref(), 5).unwrap();
        let a_full = e.c_awd_diag(vf.as_ref()).unwrap();
        let pr = e.projections(t.vectors.as_ref(), 7, false, par).unwrap();
        let c_top = pr.c_diag(5);
        let cs = c_full.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        let as_ = a_full.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        for i in 0..top {
            assert!(
                rel_diff(c_top[i], c_full[i], 1e-300) < 1e-10
                    || (c_top[i] - c_full[i]).abs() < 1e-12 * cs,
                "C_ii {i}: {} vs {}",
                c_top[i],
                c_full[i]
            );
            assert!(
                rel_diff(pr.second[i], a_full[i], 1e-300) < 1e-10
                    || (pr.second[i] - a_full[i]).abs() < 1e-12 * as_,
                "C_awd,ii {i}"
            );
        }
    }
    // nalgebra as the second implementation of the eigenvalues.
    let d = e.d();
    let na = nalgebra::DMatrix::from_fn(d, d, |i, j| h[(i, j)]);
    let mut nv: Vec<f64> = na.symmetric_eigenvalues().iter().cloned().collect();
    nv.sort_by(|a, b| b.total_cmp(a));
    let t = superlinear::linalg::sym_eig_top(h.clone(), top, faer::Par::Seq, "H").unwrap();
    let scale = nv[0].abs().max(nv[d - 1].abs());
    for (i, (a, b)) in t.values.iter().zip(&nv).enumerate() {
        assert!((a - b).abs() <= 1e-10 * scale, "nalgebra eigenvalue {i}");
    }
}

#[test]
fn top_k_eigensolver_matches_full_cross_entropy() {
    check_top_eig(Loss::CrossEntropy, 11);
}

#[test]
fn top_k_eigensolver_matches_full_softmax_mse() {
    check_top_eig(Loss::SoftmaxMse, 12);
}

#[test]
fn top_k_eigensolver_edge_cases() {
    use superlinear::linalg::sym_eig_top;
    let par = faer::Par::Seq;
    // k = 0, k > n, n = 1, n = 0, zero matrix.
    let a = Mat::from_fn(3, 3, |i, j| if i == j { [3.0, -1.0, 2.0][i] } else { 0.0 });
    assert!(sym_eig_top(a.clone(), 0, par, "a")
        .unwrap()
        .values
        .is_empty());
    let t = sym_eig_top(a.clone(), 9, par, "a").unwrap();
    assert_eq!(t.values, vec![3.0, 2.0, -1.0]);
    assert_eq!(t.vectors.ncols(), 3);
    let t = sym_eig_top(Mat::from_fn(1, 1, |_, _| -2.5), 1, par, "a").unwrap();
    assert_eq!(t.values, vec![-2.5]);
    assert!(sym_eig_top(Mat::zeros(0, 0), 2, par, "a")
        .unwrap()
        .values
        .is_empty());
    let t = sym_eig_top(Mat::zeros(4, 4), 2, par, "a").unwrap();
    assert_eq!(t.values, vec![0.0, 0.0]);
    // Scaling near the f64 range (the reason sym_eig scales): same as sym_eig.
    for s in [1e-300, 1e300] {
        let b = Mat::from_fn(5, 5, |i, j| s / (1.0 + i as f64 + j as f64));
        let t = sym_eig_top(b.clone(), 2, par, "b").unwrap();
        let f = sym_eig(b.as_ref(), "b").unwrap();
        for i in 0..2 {
            assert!(rel_diff(t.values[i], f.values[i], 0.0) < 1e-12, "scale {s}");
        }
    }
    // Bad input: typed errors.
    let mut ns = a.clone();
    ns[(0, 1)] = 1.0;
    assert!(matches!(
        sym_eig_top(ns, 1, par, "ns"),
        Err(superlinear::error::Error::NotSymmetric { .. })
    ));
    let mut nan = a.clone();
    nan[(1, 1)] = f64::NAN;
    assert!(matches!(
        sym_eig_top(nan, 1, par, "nan"),
        Err(superlinear::error::Error::NonFinite { .. })
    ));
    assert!(sym_eig_top(Mat::zeros(2, 3), 1, par, "rect").is_err());
}

#[test]
fn loss_names_parse_in_every_committed_spelling() {
    for (s, l) in [
        ("\"ce\"", Loss::CrossEntropy),
        ("\"cross-entropy\"", Loss::CrossEntropy),
        ("\"cross_entropy\"", Loss::CrossEntropy),
        ("\"mse\"", Loss::SoftmaxMse),
        ("\"softmax-mse\"", Loss::SoftmaxMse),
        ("\"softmax_mse\"", Loss::SoftmaxMse),
        ("\"logit-mse\"", Loss::LogitMse),
    ] {
        assert_eq!(serde_json::from_str::<Loss>(s).unwrap(), l, "{s}");
    }
    for l in Loss::ALL {
        assert_eq!(
            serde_json::to_string(&l).unwrap(),
            format!("\"{}\"", l.short())
        );
        assert_eq!(l.short().parse::<Loss>().unwrap(), l);
    }
}

#[test]
fn softmax_mse_is_torch_mean_reduction_on_both_engines() {
    let f = [0.3, -1.2, 2.0, 0.5];
    let y = 2;
    let (v, _, _) = Loss::SoftmaxMse.derivatives(&f, y);
    let z = ndarray::Array1::from(f.to_vec());
    let h = Loss::SoftmaxMse.eval(z.view(), y).unwrap();
    let p = superlinear::loss::softmax(z.view());
    let want = (0..4)
        .map(|i| (p[i] - if i == y { 1.0 } else { 0.0 }).powi(2))
        .sum::<f64>()
        / 4.0;
    assert!((v - want).abs() < 1e-15 && (h.value - want).abs() < 1e-15);
    for loss in Loss::ALL {
        let (v, q, m) = loss.derivatives(&f, y);
        let h = loss.eval(z.view(), y).unwrap();
        assert!((v - h.value).abs() < 1e-14, "{loss}");
        for i in 0..4 {
            assert!((q[i] - h.grad[i]).abs() < 1e-14, "{loss}");
            for j in 0..4 {
                assert!((m[(i, j)] - h.hess[(i, j)]).abs() < 1e-14, "{loss}");
            }
        }
    }
}
