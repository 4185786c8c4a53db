//! C5: the minimal activity-weight duality (Lemma 3.2) against the SVD
//! pseudo-inverse oracle, its norm identity, the null-space excess, the edge
//! cases, and loss invariance through a bias-free ReLU MLP.

use ndarray::{Array1, Array2, Axis};
use proptest::prelude::*;
use rand_distr::{Distribution, StandardNormal};
use superlinear::awd::{
    constraint_residual, least_norm_oracle, minimal_dw, minimal_dw_batch, stable_frobenius,
    stable_norm,
};
use superlinear::linalg::{seeded_rng, Rng};
use superlinear::loss::Loss;
use superlinear::mlp::Mlp;
use superlinear::Error;

fn gauss_vec(rng: &mut Rng, n: usize, scale: f64) -> Array1<f64> {
    Array1::from_shape_simple_fn(n, || {
        let g: f64 = StandardNormal.sample(rng);
        scale * g
    })
}

fn gauss_mat(rng: &mut Rng, r: usize, c: usize, scale: f64) -> Array2<f64> {
    Array2::from_shape_simple_fn((r, c), || {
        let g: f64 = StandardNormal.sample(rng);
        scale * g
    })
}

/// A random case: W (out x in) of the given rank, a, da at scales 10^e.
fn case(
    seed: u64,
    out: usize,
    inn: usize,
    rank: usize,
    e: (i32, i32, i32),
) -> (Array2<f64>, Array1<f64>, Array1<f64>) {
    let mut rng = seeded_rng(seed);
    let r = rank.clamp(0, out.min(inn));
    let w =
        gauss_mat(&mut rng, out, r, 1.0).dot(&gauss_mat(&mut rng, r, inn, 1.0)) * 10f64.powi(e.0);
    let a = gauss_vec(&mut rng, inn, 10f64.powi(e.1));
    let da = gauss_vec(&mut rng, inn, 10f64.powi(e.2));
    (w, a, da)
}

fn rel(a: f64, b: f64) -> f64 {
    crate::util::rel_diff(a, b, f64::MIN_POSITIVE)
}

proptest! {
    #![proptest_config(crate::util::proptest_config(64))]
    #[test]
    fn constraint_holds_to_1e12(seed in any::<u64>(), out in 1usize..9, inn in 1usize..9,
                                rank in 0usize..9, ew in -50i32..50, ea in -100i32..100, ed in -100i32..100) {
        let (w, a, da) = case(seed, out, inn, rank, (ew, ea, ed));
        let dw = minimal_dw(w.view(), a.view(), da.view()).unwrap().to_dense();
        let res = constraint_residual(w.view(), a.view(), da.view(), dw.view()).unwrap();
        prop_assert!(res <= 1e-12, "residual {res:e}");
    }
}

proptest! {
    #![proptest_config(crate::util::proptest_config(48))]
    #[test]
    fn closed_form_equals_svd_least_norm_oracle(seed in any::<u64>(), out in 1usize..7, inn in 1usize..7,
                                               rank in 0usize..7, ew in -30i32..30, ea in -30i32..30, ed in -30i32..30) {
        let (w, a, da) = case(seed, out, inn, rank, (ew, ea, ed));
        let dw = minimal_dw(w.view(), a.view(), da.view()).unwrap().to_dense();
        let oracle = least_norm_oracle(w.view(), a.view(), da.view()).unwrap();
        let scale = stable_frobenius(dw.view()).max(stable_frobenius(oracle.view()));
        let diff = stable_frobenius((&dw - &oracle).view());
        let tol = 100.0 * (out * inn) as f64 * f64::EPSILON * scale;
        prop_assert!(diff <= tol, "|dW - oracle| = {diff:e} > {tol:e} (|dW| = {scale:e})");
    }
}

proptest! {
    #![proptest_config(crate::util::proptest_config(64))]
    #[test]
    fn norm_is_w_da_over_a(seed in any::<u64>(), out in 1usize..9, inn in 1usize..9,
                           rank in 0usize..9, ew in -50i32..50, ea in -100i32..100, ed in -100i32..100) {
        let (w, a, da) = case(seed, out, inn, rank, (ew, ea, ed));
        let r1 = minimal_dw(w.view(), a.view(), da.view()).unwrap();
        let dense = stable_frobenius(r1.to_dense().view());
        let expected = stable_norm(w.dot(&da).view()) / stable_norm(a.view());
        let tol = 10.0 * (out + inn) as f64 * f64::EPSILON;
        prop_assert!(rel(dense, expected) <= tol, "{dense:e} vs {expected:e}");
        prop_assert!(rel(r1.frobenius_norm(), expected) <= tol);
    }
}

proptest! {
    #![proptest_config(crate::util::proptest_config(64))]
    #[test]
    fn other_solutions_are_longer_by_null_norm_squared(seed in any::<u64>(), out in 1usize..9,
                                                       inn in 1usize..9, ns in -3i32..3) {
        let (w, a, da) = case(seed, out, inn, 9, (0, 0, 0));
        let dw = minimal_dw(w.view(), a.view(), da.view()).unwrap().to_dense();
        // N = R (I - a a^T / |a|^2): any matrix with N a = 0.
        let mut rng = seeded_rng(seed ^ 0x5eed);
        let r = gauss_mat(&mut rng, out, inn, 10f64.powi(ns));
        let u = &a / stable_norm(a.view());
        let ra = r.dot(&u);
        let n = &r - &ra.view().insert_axis(Axis(1)).dot(&u.view().insert_axis(Axis(0)));
        let other = &dw + &n;
        let res = constraint_residual(w.view(), a.view(), da.view(), other.view()).unwrap();
        prop_assert!(res <= 1e-12);
        let sq = |m: &Array2<f64>| m.iter().map(|v| v * v).sum::<f64>();
        let excess = sq(&other) - sq(&dw);
        let tol = 50.0 * (out * inn) as f64 * f64::EPSILON * sq(&other);
        prop_assert!((excess - sq(&n)).abs() <= tol, "excess {excess:e} vs |N|^2 {:e}", sq(&n));
    }
}

proptest! {
    #![proptest_config(crate::util::proptest_config(32))]
    #[test]
    fn batch_equals_per_sample(seed in any::<u64>(), out in 1usize..7, inn in 1usize..7, n in 1usize..6) {
        let mut rng = seeded_rng(seed);
        let w = gauss_mat(&mut rng, out, inn, 1.0);
        let a = gauss_mat(&mut rng, n, inn, 1.0);
        let da = gauss_mat(&mut rng, n, inn, 1.0);
        let batch = minimal_dw_batch(w.view(), a.view(), da.view()).unwrap();
        prop_assert_eq!(batch.len(), n);
        for (p, b) in batch.iter().enumerate() {
            let single = minimal_dw(w.view(), a.row(p), da.row(p)).unwrap().to_dense();
            let diff = stable_frobenius((&b.to_dense() - &single).view());
            prop_assert!(diff <= 1e-13 * stable_frobenius(single.view()).max(1e-300));
        }
    }
}

/// Random widths [in, h_1, ..., out] from a seed.
fn random_widths(seed: u64, depth: usize) -> Vec<usize> {
    use rand::Rng as _;
    let mut rng = seeded_rng(seed);
    (0..=depth).map(|_| rng.random_range(1..9)).collect()
}

proptest! {
    #![proptest_config(crate::util::proptest_config(48))]
    #[test]
    fn mlp_weight_perturbation_reproduces_partner(seed in any::<u64>(), depth in 1usize..5,
                                                  layer_pick in 0usize..4, ce in any::<bool>()) {
        let widths = random_widths(seed, depth);
        let net = Mlp::random(&widths, seed).unwrap();
        let l = layer_pick % depth;
        let mut rng = seeded_rng(seed.wrapping_add(1));
        let x = gauss_vec(&mut rng, widths[0], 1.0);
        let x_partner = gauss_vec(&mut rng, widths[0], 1.0);
        let t = net.forward(x.view()).unwrap();
        let tp = net.forward(x_partner.view()).unwrap();
        let a = &t.inputs[l];
        let da = &tp.inputs[l] - a;
        let dw = match minimal_dw(net.weights(l).unwrap(), a.view(), da.view()) {
            Ok(d) => d.to_dense(),
            // All units of an earlier ReLU layer dead: a typed error, no duality.
            Err(Error::ZeroActivity { .. }) => { prop_assert!(stable_norm(a.view()) == 0.0); return Ok(()); }
            Err(e) => panic!("{e}"),
        };
        let moved = net.perturbed(l, dw.view()).unwrap();
        let tm = moved.forward(x.view()).unwrap();
        // Errors relative to the scale of z_l's terms, propagated by |W_k|_F
        // (|z_m| itself can be exactly 0 behind a dead ReLU layer).
        let w = net.weights(l).unwrap();
        let base = stable_frobenius(w) * (stable_norm(a.view()) + stable_norm(da.view()))
            + stable_frobenius(dw.view()) * stable_norm(a.view());
        let scales = net.error_scales(l, base).unwrap();
        for (m, s) in (l..depth).zip(scales) {
            let err = stable_norm((&tm.pre[m] - &tp.pre[m]).view());
            prop_assert!(err <= 1e-12 * s, "layer {m} pre-activation err {err:e} (scale {s:e})");
            if m > l {
                let err = stable_norm((&tm.inputs[m] - &tp.inputs[m]).view());
                prop_assert!(err <= 1e-12 * s, "layer {m} input err {err:e}");
            }
        }
        let loss = if ce { Loss::CrossEntropy } else { Loss::SoftmaxMse };
        let y = (seed % widths[depth] as u64) as usize;
        let l_moved = moved.loss(loss, x.view(), y).unwrap();
        let l_partner = net.loss(loss, x_partner.view(), y).unwrap();
        prop_assert!(rel(l_moved, l_partner) <= 1e-11, "{l_moved} vs {l_partner}");
    }
}

#[test]
fn zero_activity_is_a_typed_error() {
    let w = Array2::<f64>::ones((3, 4));
    let a = Array1::zeros(4);
    let da = Array1::ones(4);
    match minimal_dw(w.view(), a.view(), da.view()) {
        Err(Error::ZeroActivity { sample: 0, norm }) => assert_eq!(norm, 0.0),
        other => panic!("expected ZeroActivity, got {other:?}"),
    }
    assert!(matches!(
        least_norm_oracle(w.view(), a.view(), da.view()),
        Err(Error::ZeroActivity { .. })
    ));
}

#[test]
fn subnormal_activity_is_a_typed_error() {
    let w = Array2::<f64>::ones((2, 2));
    let a = Array1::from_vec(vec![1e-310, 0.0]);
    let da = Array1::ones(2);
    assert!(matches!(
        minimal_dw(w.view(), a.view(), da.view()),
        Err(Error::ZeroActivity { .. })
    ));
}

#[test]
fn batch_error_names_the_sample() {
    let w = Array2::<f64>::ones((2, 3));
    let mut a = Array2::<f64>::ones((4, 3));
    a.row_mut(2).fill(0.0);
    let da = Array2::<f64>::ones((4, 3));
    match minimal_dw_batch(w.view(), a.view(), da.view()) {
        Err(Error::ZeroActivity { sample, .. }) => assert_eq!(sample, 2),
        other => panic!("expected ZeroActivity for sample 2, got {other:?}"),
    }
}

#[test]
fn overflow_is_a_typed_error_not_inf() {
    let w = Array2::<f64>::from_elem((2, 2), 1e200);
    let a = Array1::from_vec(vec![1e-200, 0.0]);
    let da = Array1::from_vec(vec![1e100, 1.0]);
    assert!(matches!(
        minimal_dw(w.view(), a.view(), da.view()),
        Err(Error::NonFinite { .. })
    ));
}

#[test]
fn tiny_but_normal_activity_keeps_precision() {
    let w = Array2::<f64>::from_shape_fn((3, 2), |(i, j)| (i + 2 * j) as f64 + 1.0);
    let a = Array1::from_vec(vec![3e-300, 4e-300]);
    let da = Array1::from_vec(vec![1.0, -2.0]);
    let dw = minimal_dw(w.view(), a.view(), da.view()).unwrap();
    let dense = dw.to_dense();
    assert!(dense.iter().all(|v| v.is_finite()));
    let res = constraint_residual(w.view(), a.view(), da.view(), dense.view()).unwrap();
    assert!(res <= 1e-14, "{res:e}");
    assert!(rel(dw.frobenius_norm(), stable_norm(w.dot(&da).view()) / 5e-300) < 1e-14);
}

#[test]
fn huge_activity_keeps_precision() {
    let w = Array2::<f64>::from_shape_fn((2, 3), |(i, j)| (i * 3 + j) as f64 - 2.5);
    let a = Array1::from_vec(vec![1e300, -1e300, 1e300]);
    let da = Array1::from_vec(vec![1e299, 0.0, -3e299]);
    let dense = minimal_dw(w.view(), a.view(), da.view())
        .unwrap()
        .to_dense();
    let res = constraint_residual(w.view(), a.view(), da.view(), dense.view()).unwrap();
    assert!(res <= 1e-14, "{res:e}");
}

#[test]
fn zero_da_gives_zero_dw() {
    let w = Array2::<f64>::from_shape_fn((3, 4), |(i, j)| (i * j) as f64 - 1.0);
    let a = Array1::from_vec(vec![1.0, 2.0, -1.0, 0.5]);
    let da = Array1::zeros(4);
    let dw = minimal_dw(w.view(), a.view(), da.view()).unwrap();
    assert_eq!(dw.frobenius_norm(), 0.0);
    assert!(dw.to_dense().iter().all(|&v| v == 0.0));
}

#[test]
fn da_orthogonal_to_a_still_satisfies_the_constraint() {
    let w = Array2::<f64>::from_shape_fn((2, 2), |(i, j)| if i == j { 2.0 } else { 1.0 });
    let a = Array1::from_vec(vec![1.0, 1.0]);
    let da = Array1::from_vec(vec![1.0, -1.0]);
    let dw = minimal_dw(w.view(), a.view(), da.view())
        .unwrap()
        .to_dense();
    // W da = (1, -1); dW = (1, -1)^T (1, 1) / 2.
    let expected = Array2::from_shape_vec((2, 2), vec![0.5, 0.5, -0.5, -0.5]).unwrap();
    assert!(stable_frobenius((&dw - &expected).view()) < 1e-15);
    let oracle = least_norm_oracle(w.view(), a.view(), da.view()).unwrap();
    assert!(stable_frobenius((&oracle - &expected).view()) < 1e-14);
}

#[test]
fn da_in_null_space_of_w_gives_zero_dw() {
    // Rank-deficient W with da in its null space: W da = 0, so dW = 0.
    let w = Array2::from_shape_vec((2, 3), vec![1.0, 1.0, 0.0, 2.0, 2.0, 0.0]).unwrap();
    let a = Array1::from_vec(vec![1.0, 2.0, 3.0]);
    let da = Array1::from_vec(vec![1.0, -1.0, 5.0]);
    let dw = minimal_dw(w.view(), a.view(), da.view()).unwrap();
    assert_eq!(dw.frobenius_norm(), 0.0);
}

#[test]
fn bad_inputs_are_typed_errors() {
    let w = Array2::<f64>::ones((2, 3));
    let a = Array1::<f64>::ones(3);
    let short = Array1::<f64>::ones(2);
    assert!(matches!(
        minimal_dw(w.view(), short.view(), a.view()),
        Err(Error::Shape { .. })
    ));
    assert!(matches!(
        minimal_dw(w.view(), a.view(), short.view()),
        Err(Error::Shape { .. })
    ));
    let mut nan = a.clone();
    nan[1] = f64::NAN;
    assert!(matches!(
        minimal_dw(w.view(), nan.view(), a.view()),
        Err(Error::NonFinite { .. })
    ));
    assert!(matches!(
        minimal_dw(w.view(), a.view(), nan.view()),
        Err(Error::NonFinite { .. })
    ));
    let mut wi = w.clone();
    wi[(1, 1)] = f64::INFINITY;
    assert!(matches!(
        minimal_dw(wi.view(), a.view(), a.view()),
        Err(Error::NonFinite { .. })
    ));
    let empty_w = Array2::<f64>::zeros((0, 3));
    // No rows: dW is 0 x 3, trivially minimal.
    assert_eq!(
        minimal_dw(empty_w.view(), a.view(), a.view())
            .unwrap()
            .to_dense()
            .dim(),
        (0, 3)
    );
}

#[test]
fn mlp_rejects_bad_shapes_and_layers() {
    assert!(Mlp::new(vec![]).is_err());
    assert!(Mlp::new(vec![Array2::zeros((3, 2)), Array2::zeros((2, 4))]).is_err());
    assert!(Mlp::random(&[3], 1).is_err());
    assert!(Mlp::random(&[3, 0, 2], 1).is_err());
    let net = Mlp::random(&[3, 4, 2], 1).unwrap();
    assert!(net.weights(2).is_err());
    assert!(net.forward(Array1::zeros(2).view()).is_err());
    assert!(net
        .loss(Loss::CrossEntropy, Array1::zeros(3).view(), 2)
        .is_err());
    assert!(net.perturbed(0, Array2::zeros((3, 3)).view()).is_err());
}

#[test]
fn c5_check_passes_on_other_seeds() {
    use superlinear::claims::{c5, CheckSettings, Status};
    for seed in [1u64, 2, 3] {
        let out = c5::check(&CheckSettings::new(seed, 16).unwrap()).unwrap();
        assert_eq!(
            out.status,
            Status::Verified,
            "seed {seed}: {:?}",
            out.details
        );
        assert!(out.figures["max_loss_rel_err"] <= 1e-12);
    }
}

#[test]
fn oracle_and_closed_form_on_degenerate_shapes() {
    // No output rows: dW is empty for both implementations.
    let w = Array2::<f64>::zeros((0, 2));
    let a = Array1::from_vec(vec![1.0, 2.0]);
    let da = Array1::from_vec(vec![0.5, 0.0]);
    assert_eq!(
        least_norm_oracle(w.view(), a.view(), da.view())
            .unwrap()
            .dim(),
        (0, 2)
    );
    // No inputs: |a| = 0.
    let w = Array2::<f64>::zeros((2, 0));
    let e = Array1::<f64>::zeros(0);
    assert!(matches!(
        minimal_dw(w.view(), e.view(), e.view()),
        Err(Error::ZeroActivity { .. })
    ));
    assert!(matches!(
        least_norm_oracle(w.view(), e.view(), e.view()),
        Err(Error::ZeroActivity { .. })
    ));
}

#[test]
fn foreign_trace_is_a_shape_error() {
    use superlinear::fisher::curvature_term;
    let small = Mlp::random(&[2, 3, 2], 1).unwrap();
    let big = Mlp::random(&[4, 5, 2], 1).unwrap();
    let t = small.forward(Array1::ones(2).view()).unwrap();
    let c = Array1::ones(2);
    assert!(matches!(
        curvature_term(&big, &t, c.view()),
        Err(Error::Shape { .. })
    ));
}

/// Fuzz inputs (fuzz/seeds/awd/regression-subnormal-*) where the `awd`
/// target's own checks were wrong in gradual underflow: the products
/// W_ij da_j are subnormal there, so the constraint and norm identity only
/// hold to subnormal units. The library's answer must still be finite with
/// a unit `right` factor.
#[test]
fn regression_awd_subnormal_products_are_finite() {
    // (W entries, W shape, a, da)
    type Case = (Vec<f64>, (usize, usize), Vec<f64>, Vec<f64>);
    let cases: [Case; 2] = [
        (
            vec![
                2.781342323134e-309,
                4.2439917084e-314,
                7.750398124019707e-304,
                0.5,
                -1.5,
                0.0,
            ],
            (2, 3),
            vec![1.6955667211198977e79, 8.086349223904503e-174, 3.16e-322],
            vec![8.0987e-320, 8.087e-320, 0.0],
        ),
        (
            vec![0.5, -1.5, 2.0, 0.001, 7.0, 3.0],
            (3, 2),
            vec![1.8582338675745262e-39, 5.222101537e-315],
            vec![1.589942647e-314, 0.0],
        ),
    ];
    for (w, shape, a, da) in cases {
        let w = ndarray::Array2::from_shape_vec(shape, w).expect("shape");
        let a = ndarray::Array1::from(a);
        let da = ndarray::Array1::from(da);
        let dw = superlinear::awd::minimal_dw(w.view(), a.view(), da.view()).expect("finite input");
        assert!(dw.left.iter().chain(&dw.right).all(|v| v.is_finite()));
        let r = superlinear::awd::stable_norm(dw.right.view());
        assert!((r - 1.0).abs() < 1e-15, "{r}");
    }
}

#[test]
fn regression_awd_activity_norm_beyond_f64_max_keeps_a_unit_right_factor() {
    // Found by the `awd` fuzz target (fuzz/seeds/awd/regression-norm-overflow):
    // five activities of 8.9e307 have |a| = 2e308 > f64::MAX, and the unit
    // factor a / |a| came out as 0 (so dW = 0 even for W da != 0). |a| is now
    // kept as max|a_i| times a factor in [1, sqrt(len)].
    let big = 8.91824328623102e307;
    let a = Array1::from(vec![big, big, big, big, big, 0.0]);
    let w = Array2::from_shape_fn((1, 6), |(_, j)| if j == 4 { 1.0 } else { 0.0 });
    let da = Array1::from(vec![0.0, 0.0, 0.0, 0.0, 1e300, 0.0]);
    let dw = superlinear::awd::minimal_dw(w.view(), a.view(), da.view()).expect("finite");
    let r = superlinear::awd::stable_norm(dw.right.view());
    assert!((r - 1.0).abs() < 1e-15, "|right| = {r}");
    // left = W da / |a| = 1e300 / (sqrt(5) 8.9e307), finite and non-zero.
    let want = 1e300 / big / 5f64.sqrt();
    assert!(
        (dw.left[0] - want).abs() <= 1e-15 * want,
        "{} vs {want}",
        dw.left[0]
    );
}

#[test]
fn regression_awd_constraint_with_subnormal_weights_is_exact_to_rounding() {
    // Found by the `awd` fuzz target (fuzz/seeds/awd/regression-constraint-
    // subnormal-w, was open-crashes/awd-constraint-residual-2e-11): max|W| =
    // 4.7e-314 is subnormal while every product W_j da_j is normal (da ~
    // 9e61). The library's dW is exact to rounding; the target's scaled check
    // divided (W da) / |a| * |a| by max|da| first and went through gradual
    // underflow (4.7e-314 keeps 33 bits), a residual of 2.3e-11 that was the
    // harness's own. Its check now combines the exponents exactly.
    let w = Array2::from_shape_vec((1, 4), vec![4.6824120745e-314, 2.1e-322, 1.5e-323, 0.0])
        .expect("shape");
    let a = Array1::from(vec![
        -8.08634922390439e-174,
        1.4287342508474018e-101,
        4.172013484701003e-309,
        1.401535780172314e-309,
    ]);
    let da = Array1::from(vec![
        -9.300153931148906e+61,
        -9.255963134931783e+61,
        -9.255963134931783e+61,
        -9.255963134931783e+61,
    ]);
    let dw = superlinear::awd::minimal_dw(w.view(), a.view(), da.view()).expect("finite input");
    let norm_a = superlinear::awd::stable_norm(a.view());
    // Every product is normal, so W da is accurate to 4 eps relative; dW a =
    // left (right . a) must reproduce it to rounding (all of it normal).
    let wda = w.dot(&da)[0];
    assert!(wda.is_normal());
    let ra = dw.right.dot(&a);
    let lhs = dw.left[0] * ra;
    let eps = f64::EPSILON;
    assert!(
        (lhs - wda).abs() <= 16.0 * eps * wda.abs(),
        "dW a = {lhs:e} vs W da = {wda:e}"
    );
    // |dW|_F = |W da| / |a| to rounding.
    let fro = dw.frobenius_norm();
    assert!(
        (fro - wda.abs() / norm_a).abs() <= 16.0 * eps * fro,
        "{fro:e}"
    );
}

/// Fuzz regression (fuzz/seeds/awd/regression-frobenius-overflow): every
/// entry of both factors of dW is finite but |dW|_F exceeds f64::MAX; the norm
/// is +inf, never NaN.
#[test]
fn frobenius_norm_overflow_is_infinite_not_nan() {
    let w = Array2::<f64>::from_elem((4, 1), 1.5e308);
    let a = Array1::from_vec(vec![1.0]);
    let da = Array1::from_vec(vec![1.0]);
    let dw = minimal_dw(w.view(), a.view(), da.view()).unwrap();
    assert!(dw.left.iter().chain(&dw.right).all(|v| v.is_finite()));
    assert_eq!(dw.frobenius_norm(), f64::INFINITY);
}

/// Fuzz regression (fuzz/seeds/awd/regression-batch-subnormal-row): with a
/// row of W in gradual underflow the products W_ij da_j are subnormal, so the
/// batched (matrix-matrix) and single (matrix-vector) forms round them
/// differently: they agree to one subnormal unit per product divided by |a|,
/// not to a relative n eps.
#[test]
fn batch_and_single_agree_to_subnormal_units_on_a_subnormal_row() {
    let w = Array2::from_shape_vec(
        (3, 2),
        vec![
            2.1385738836e-314,
            0.5,
            -1.5,
            -1.9245978476836841e-106,
            3.43941226263525e-310,
            3.4826194921322e-310,
        ],
    )
    .unwrap();
    let a = Array1::from_vec(vec![-9.926157560282021e-234, -9.822959233879364e-234]);
    let da = Array1::from_vec(vec![1.0000000000000318, 2.000000004976755]);
    let single = minimal_dw(w.view(), a.view(), da.view()).unwrap();
    let batch = minimal_dw_batch(
        w.view(),
        a.view().insert_axis(Axis(0)),
        da.view().insert_axis(Axis(0)),
    )
    .unwrap();
    let norm_a = stable_norm(a.view());
    for (i, (x, y)) in batch[0].left.iter().zip(&single.left).enumerate() {
        let abs_row: f64 = w.row(i).iter().zip(&da).map(|(p, q)| (p * q).abs()).sum();
        let tol = 8.0 * f64::EPSILON * abs_row / norm_a + 8.0 * f64::from_bits(1) / norm_a;
        assert!(
            (x - y).abs() <= tol,
            "row {i}: {x:e} vs {y:e} (tol {tol:e})"
        );
    }
    assert_eq!(batch[0].right, single.right);
}
