//! Haar frames, the PSD rule and the descending eigendecomposition.

use superlinear::linalg::{
    haar_frame, haar_orthogonal, orthonormality_residual, seeded_rng, sym_eig,
};

#[test]
fn haar_orthogonal_is_orthogonal() {
    let mut rng = seeded_rng(1);
    for d in [1usize, 2, 3, 10, 64] {
        let q = haar_orthogonal(d, &mut rng);
        let tol = 10.0 * d as f64 * f64::EPSILON;
        assert!(orthonormality_residual(q.as_ref()) < tol, "d = {d}");
    }
}

#[test]
fn haar_entries_have_variance_one_over_d() {
    // E[U_11^2] = 1/d; Var(U_11^2) = 2/(d(d+2)) for Haar; 4000 draws, 5 sigma.
    let d = 8usize;
    let draws = 4000;
    let mut rng = seeded_rng(7);
    let mut acc = 0.0;
    for _ in 0..draws {
        let q = haar_frame(d, 2, &mut rng).unwrap();
        acc += q[(0, 0)] * q[(0, 0)];
    }
    let mean = acc / draws as f64;
    let var = 2.0 / (d as f64 * (d as f64 + 2.0));
    let se = (var / draws as f64).sqrt();
    assert!((mean - 1.0 / d as f64).abs() < 5.0 * se, "mean {mean}");
}

#[test]
fn haar_sign_fix_makes_first_entry_symmetric() {
    // Without the sign fix, Q_11 from Householder QR has a fixed sign.
    let mut rng = seeded_rng(3);
    let positive = (0..2000)
        .filter(|_| haar_frame(5, 1, &mut rng).unwrap()[(0, 0)] > 0.0)
        .count();
    assert!((800..1200).contains(&positive), "positive = {positive}");
}

#[test]
fn eigenvalues_descend() {
    let mut rng = seeded_rng(5);
    let g = superlinear::linalg::gaussian_matrix(6, 6, &mut rng);
    let a = &g + g.transpose();
    let e = sym_eig(a.as_ref(), "A").unwrap();
    assert!(e.values.windows(2).all(|w| w[0] >= w[1]));
    let recon = &e.vectors
        * faer::Mat::from_fn(6, 6, |i, j| if i == j { e.values[i] } else { 0.0 })
        * e.vectors.transpose();
    assert!((&recon - &a).norm_max() < 1e-12 * a.norm_max() * 6.0);
}

#[test]
fn nonsymmetric_and_nan_are_errors() {
    let mut a = faer::Mat::<f64>::identity(3, 3);
    a[(0, 1)] = 1.0;
    assert!(matches!(
        sym_eig(a.as_ref(), "A"),
        Err(superlinear::Error::NotSymmetric { .. })
    ));
    a[(0, 1)] = f64::NAN;
    assert!(matches!(
        sym_eig(a.as_ref(), "A"),
        Err(superlinear::Error::NonFinite { .. })
    ));
    let r = faer::Mat::<f64>::zeros(2, 3);
    assert!(matches!(
        sym_eig(r.as_ref(), "A"),
        Err(superlinear::Error::Shape { .. })
    ));
}
