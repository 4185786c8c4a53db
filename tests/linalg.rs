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

/// A layer whose input units are dead on every sample has exact zero rows
/// and columns in its Hessian; the eigensolvers must still converge.
#[test]
fn psd_matrix_with_zero_rows_and_columns_decomposes() {
    use superlinear::linalg::{seeded_stream, sym_eig_top};
    let mut rng = seeded_stream(3, 0);
    for (n, live_every) in [(300usize, 2usize), (700, 5), (1200, 7)] {
        let live: Vec<usize> = (0..n).filter(|i| i % live_every == 0).collect();
        let g = superlinear::linalg::gaussian_matrix(live.len(), 40, &mut rng);
        let small = &g * g.transpose();
        let mut a = faer::Mat::<f64>::zeros(n, n);
        for (r, &i) in live.iter().enumerate() {
            for (c, &j) in live.iter().enumerate() {
                a[(i, j)] = small[(r, c)];
            }
        }
        let full = sym_eig(a.as_ref(), "A").unwrap();
        let top = sym_eig_top(a.clone(), 50, faer::Par::Seq, "A").unwrap();
        for j in 0..50 {
            assert!((full.values[j] - top.values[j]).abs() <= 1e-10 * full.values[0]);
        }
        assert!(full.values[40].abs() <= 1e-10 * full.values[0], "rank 40");
    }
}

/// The tridiagonal form of a CNN layer's Hessian at a checkpoint where
/// training had collapsed (2,379 of 2,560 rows exactly zero): faer's divide
/// and conquer reports no convergence on it, its QR algorithm converges.
/// Every route decomposes it: eigenpairs with residual at the n eps scale,
/// the trace kept, the top of the three routes in agreement.
#[test]
fn a_tridiagonal_divide_and_conquer_rejects_is_decomposed() {
    use superlinear::linalg::{sym_eig_top, sym_eigenvalues};
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/eig/dead-units-tridiagonal.f64le");
    let raw = std::fs::read(path).unwrap();
    let v: Vec<f64> = raw
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let n = v.len() / 2;
    assert_eq!(n, 2560);
    let t = faer::Mat::<f64>::from_fn(n, n, |i, j| {
        if i == j {
            v[i]
        } else if i == j + 1 {
            v[n + j]
        } else if j == i + 1 {
            v[n + i]
        } else {
            0.0
        }
    });
    let full = sym_eig(t.as_ref(), "T").unwrap();
    let top = sym_eig_top(t.clone(), 10, faer::Par::Seq, "T").unwrap();
    let values = sym_eigenvalues(t.as_ref(), "T").unwrap();
    let norm = full.values[0].abs().max(full.values[n - 1].abs());
    let tol = 30.0 * n as f64 * f64::EPSILON * norm;
    let trace: f64 = (0..n).map(|i| t[(i, i)]).sum();
    let sum: f64 = full.values.iter().sum();
    assert!((trace - sum).abs() <= tol, "trace {trace} vs {sum}");
    for (j, (&want, &got)) in full.values.iter().zip(&values).take(10).enumerate() {
        assert!((want - top.values[j]).abs() <= tol);
        assert!((want - got).abs() <= tol);
        let x = top.vectors.col(j);
        let r = &t * x - x * faer::Scale(top.values[j]);
        assert!(r.norm_l2() <= tol, "residual of pair {j}: {}", r.norm_l2());
    }
    assert!(full.values.windows(2).all(|w| w[0] >= w[1]));
}
