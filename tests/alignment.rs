//! Commutator and principal angles (`superlinear::alignment`).

use faer::Mat;
use proptest::prelude::*;
use superlinear::alignment::{principal_angles, relative_commutator, subspace_angles};
use superlinear::linalg::{gaussian_matrix, haar_frame, haar_orthogonal, seeded_rng};
use superlinear::Error;

const EPS: f64 = f64::EPSILON;
const HALF_PI: f64 = std::f64::consts::FRAC_PI_2;

/// `Q diag(l) Q^T`, symmetrised.
fn with_basis(q: &Mat<f64>, l: &[f64]) -> Mat<f64> {
    let n = q.nrows();
    let ql = Mat::from_fn(n, n, |i, j| q[(i, j)] * l[j]);
    let a = &ql * q.transpose();
    Mat::from_fn(n, n, |i, j| 0.5 * (a[(i, j)] + a[(j, i)]))
}

fn spectrum(n: usize, rng: &mut superlinear::linalg::Rng, decades: f64) -> Vec<f64> {
    use rand::Rng;
    (0..n)
        .map(|_| 10f64.powf(-decades * rng.random::<f64>()))
        .collect()
}

proptest! {
    #![proptest_config(crate::util::proptest_config(48))]
    #[test]
    fn commutator_vanishes_for_commuting_pairs(
        n in 1usize..40, decades in 0.0f64..12.0, log10_scale in -200.0f64..200.0,
        seed in any::<u64>(),
    ) {
        let mut rng = seeded_rng(seed);
        let q = haar_orthogonal(n, &mut rng);
        let s = 10f64.powf(log10_scale);
        let lh: Vec<f64> = spectrum(n, &mut rng, decades).iter().map(|v| v * s).collect();
        let lc = spectrum(n, &mut rng, decades);
        let k = relative_commutator(with_basis(&q, &lh).as_ref(), with_basis(&q, &lc).as_ref()).unwrap();
        prop_assert!(k <= 30.0 * n as f64 * EPS, "kappa = {k:e}");
    }
}

proptest! {
    #![proptest_config(crate::util::proptest_config(64))]
    /// In [0, 1], and in fact in [0, 1/sqrt(2)] (Boettcher-Wenzel), for any
    /// pair of square matrices, symmetric or not.
    #[test]
    fn commutator_lies_in_zero_one(
        n in 1usize..30, symmetric in any::<bool>(), log10_scale in -300.0f64..300.0,
        seed in any::<u64>(),
    ) {
        let mut rng = seeded_rng(seed);
        let s = 10f64.powf(log10_scale);
        let mut h = gaussian_matrix(n, n, &mut rng);
        let mut c = gaussian_matrix(n, n, &mut rng);
        if symmetric {
            h = &h + h.transpose();
            c = &c + c.transpose();
        }
        let h = Mat::from_fn(n, n, |i, j| h[(i, j)] * s);
        let k = relative_commutator(h.as_ref(), c.as_ref()).unwrap();
        prop_assert!(k.is_finite() && (0.0..=1.0).contains(&k));
        prop_assert!(k <= std::f64::consts::FRAC_1_SQRT_2 * (1.0 + 30.0 * n as f64 * EPS), "kappa = {k}");
    }
}

#[test]
fn commutator_of_a_sharp_pair_is_near_the_boettcher_wenzel_bound() {
    // X = [[0, 1], [0, 0]], Y = X^T: ||XY - YX||_F = sqrt(2), ||X||_F = ||Y||_F = 1.
    let x = Mat::from_fn(2, 2, |i, j| if (i, j) == (0, 1) { 1.0 } else { 0.0 });
    let y = x.transpose().to_owned();
    let k = relative_commutator(x.as_ref(), y.as_ref()).unwrap();
    assert!((k - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-15);
    // Zero matrices commute with everything.
    let z = Mat::<f64>::zeros(2, 2);
    assert_eq!(relative_commutator(z.as_ref(), x.as_ref()).unwrap(), 0.0);
}

proptest! {
    #![proptest_config(crate::util::proptest_config(48))]
    /// Two orthonormal bases of the same subspace: all angles zero.
    #[test]
    fn angles_vanish_for_identical_spaces(
        d in 1usize..40, p_frac in 0.0f64..1.0, seed in any::<u64>(),
    ) {
        let p = 1 + ((d - 1) as f64 * p_frac) as usize;
        let mut rng = seeded_rng(seed);
        let va = haar_frame(d, p, &mut rng).unwrap();
        let r = haar_orthogonal(p, &mut rng);
        let vb = &va * &r;
        let angles = subspace_angles(va.as_ref(), vb.as_ref()).unwrap();
        prop_assert_eq!(angles.len(), p);
        for t in angles {
            prop_assert!(t <= 100.0 * d as f64 * EPS, "angle {t:e}");
        }
    }
}

proptest! {
    #![proptest_config(crate::util::proptest_config(48))]
    /// Column blocks of one orthogonal matrix: all angles pi/2.
    #[test]
    fn angles_are_right_for_orthogonal_spaces(
        d in 2usize..40, p_frac in 0.0f64..1.0, q_frac in 0.0f64..1.0, seed in any::<u64>(),
    ) {
        let p = 1 + ((d - 2) as f64 * p_frac) as usize;
        let q = 1 + ((d - p - 1) as f64 * q_frac) as usize;
        let mut rng = seeded_rng(seed);
        let o = haar_orthogonal(d, &mut rng);
        let va = o.as_ref().subcols(0, p);
        let vb = o.as_ref().subcols(p, q);
        let angles = subspace_angles(va, vb).unwrap();
        prop_assert_eq!(angles.len(), p.min(q));
        for t in angles {
            prop_assert!((t - HALF_PI).abs() <= 100.0 * d as f64 * EPS, "angle {t}");
        }
    }
}

proptest! {
    #![proptest_config(crate::util::proptest_config(64))]
    /// A known angle t between two lines, accurate to ~ d eps even for tiny t
    /// (the sine formula; acos alone would be off by ~1e-8 there).
    #[test]
    fn angle_between_lines_is_exact(log10_t in -12.0f64..0.196, d in 2usize..10, seed in any::<u64>()) {
        let t = 10f64.powf(log10_t).min(HALF_PI);
        let mut rng = seeded_rng(seed);
        let o = haar_orthogonal(d, &mut rng);
        let va = Mat::from_fn(d, 1, |i, _| o[(i, 0)]);
        let vb = Mat::from_fn(d, 1, |i, _| t.cos() * o[(i, 0)] + t.sin() * o[(i, 1)]);
        let angles = subspace_angles(va.as_ref(), vb.as_ref()).unwrap();
        // The rounded inputs fix the angle only to ~ d eps (absolute).
        prop_assert!((angles[0] - t).abs() <= 30.0 * d as f64 * EPS, "{} vs {t}", angles[0]);
    }
}

proptest! {
    #![proptest_config(crate::util::proptest_config(32))]
    /// Symmetric matrices sharing their top-m eigenvectors (with a gap below
    /// them): top-m principal angles vanish; with the roles of the top and
    /// bottom blocks swapped they are pi/2.
    #[test]
    fn principal_angles_of_shared_eigenspaces(
        n in 2usize..30, m_frac in 0.0f64..1.0, seed in any::<u64>(),
    ) {
        let m = 1 + ((n - 2) as f64 * m_frac) as usize;
        let mut rng = seeded_rng(seed);
        let q = haar_orthogonal(n, &mut rng);
        let top = |i: usize, rng: &mut superlinear::linalg::Rng| {
            use rand::Rng;
            if i < m { 2.0 + rng.random::<f64>() } else { rng.random::<f64>() }
        };
        let la: Vec<f64> = (0..n).map(|i| top(i, &mut rng)).collect();
        let lb: Vec<f64> = (0..n).map(|i| top(i, &mut rng)).collect();
        let a = with_basis(&q, &la);
        let b = with_basis(&q, &lb);
        let tol = 1e3 * n as f64 * EPS;
        for t in principal_angles(a.as_ref(), b.as_ref(), m).unwrap() {
            prop_assert!(t <= tol, "angle {t:e}");
        }
        // Large eigenvalues on the last m columns of q instead: that top-m
        // space is orthogonal to a's when 2 m <= n.
        if 2 * m <= n {
            let lc: Vec<f64> = (0..n).map(|i| top((i + m) % n, &mut rng)).collect();
            let c = with_basis(&q, &lc);
            for t in principal_angles(a.as_ref(), c.as_ref(), m).unwrap() {
                prop_assert!((t - HALF_PI).abs() <= tol, "angle {t}");
            }
        }
    }
}

#[test]
fn typed_errors_on_bad_input() {
    let i3 = Mat::<f64>::identity(3, 3);
    let i2 = Mat::<f64>::identity(2, 2);
    let rect = Mat::<f64>::zeros(3, 2);
    assert!(matches!(
        relative_commutator(i3.as_ref(), i2.as_ref()),
        Err(Error::Shape { .. })
    ));
    assert!(matches!(
        relative_commutator(rect.as_ref(), rect.as_ref()),
        Err(Error::Shape { .. })
    ));
    let mut nan = i3.clone();
    nan[(1, 1)] = f64::NAN;
    assert!(matches!(
        relative_commutator(nan.as_ref(), i3.as_ref()),
        Err(Error::NonFinite { .. })
    ));
    assert!(matches!(
        subspace_angles(i3.as_ref(), i2.as_ref()),
        Err(Error::Shape { .. })
    ));
    let twice = Mat::from_fn(3, 1, |i, _| if i == 0 { 2.0 } else { 0.0 });
    assert!(matches!(
        subspace_angles(twice.as_ref(), i3.as_ref()),
        Err(Error::NotOrthonormal { ref input, .. }) if input == "Va"
    ));
    assert!(matches!(
        principal_angles(i3.as_ref(), i3.as_ref(), 4),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(matches!(
        principal_angles(i3.as_ref(), i2.as_ref(), 1),
        Err(Error::Shape { .. })
    ));
    let mut asym = i3.clone();
    asym[(0, 1)] = 1.0;
    assert!(matches!(
        principal_angles(asym.as_ref(), i3.as_ref(), 1),
        Err(Error::NotSymmetric { .. })
    ));
    assert!(principal_angles(i3.as_ref(), i3.as_ref(), 0)
        .unwrap()
        .is_empty());
}
