//! The moment engine: H, E[h_p^2], C, and their diagonals in H's eigenbasis.
//!
//! With the ensemble's factors `F` (d x R) and eigenvalues `lambda` (R):
//!
//! - `H = E_p[h_p] = (1/n) F diag(lambda) F^T`, eigenpairs `(lambda_i, v_i)` descending;
//! - Eq. 16 (C8): `H_ii = E_p[ sum_k lambda_pk (u_pk . v_i)^2 ]`;
//! - Eq. 17 (C8): `v_i^T E[h_p^2] v_i = E_p[ sum_k lambda_pk^2 (u_pk . v_i)^2 ]`;
//! - C7: `C_ij = sigma^2 E_p[ sum_k lambda_pk^2 (u_pk . v_i)(u_pk . v_j) ]`, i.e.
//!   `V^T E[h^2] V = (1/n) P diag(lambda^2) P^T` with `P = V^T F`;
//! - Eq. 2: `C = (1/B) (E_p[g_p g_p^T] - gbar gbar^T)` from per-sample gradients.
//!
//! Each projected diagonal costs O(R d) = O(n r d) per direction (one row of
//! `P`), and never forms a per-sample d x d matrix.

use faer::{Mat, MatRef};

use crate::ensemble::Ensemble;
use crate::error::{Error, Result};
use crate::linalg::{check_finite, check_finite_slice, sym_eig, SymEig};

/// `(1/n) F diag(w) F^T` for per-column weights w.
fn weighted_gram(ens: &Ensemble, w: impl Fn(f64) -> f64) -> Mat<f64> {
    let f = ens.factors();
    let lam = ens.eigenvalues();
    let n = ens.n() as f64;
    let scaled = Mat::from_fn(f.nrows(), f.ncols(), |i, c| f[(i, c)] * w(lam[c]) / n);
    let mut h = &scaled * f.transpose();
    symmetrize(&mut h);
    h
}

fn symmetrize(a: &mut Mat<f64>) {
    let n = a.nrows();
    for j in 0..n {
        for i in 0..j {
            let m = 0.5 * (a[(i, j)] + a[(j, i)]);
            a[(i, j)] = m;
            a[(j, i)] = m;
        }
    }
}

/// `H = E_p[h_p]`, dense d x d.
pub fn hessian(ens: &Ensemble) -> Mat<f64> {
    weighted_gram(ens, |l| l)
}

/// `E_p[h_p^2]`, dense d x d (the AWD covariance up to sigma^2, Eq. 13).
pub fn second_moment(ens: &Ensemble) -> Mat<f64> {
    weighted_gram(ens, |l| l * l)
}

/// `P = V^T F` (m x R): the overlaps `u_pk . v_i` for the m columns of `v`.
pub fn overlaps(ens: &Ensemble, v: MatRef<'_, f64>) -> Result<Mat<f64>> {
    if v.nrows() != ens.d() {
        return Err(Error::shape(
            "basis V",
            format!("{} rows", ens.d()),
            v.nrows(),
        ));
    }
    Ok(v.transpose() * ens.factors())
}

/// Eq. 16 right-hand side: `E_p[ sum_k lambda_pk (u_pk . v_i)^2 ]` for each column v_i.
pub fn first_moment_diag(ens: &Ensemble, v: MatRef<'_, f64>) -> Result<Vec<f64>> {
    projected_diag(ens, v, |l| l)
}

/// Eq. 17 right-hand side: `E_p[ sum_k lambda_pk^2 (u_pk . v_i)^2 ]` for each column v_i.
pub fn second_moment_diag(ens: &Ensemble, v: MatRef<'_, f64>) -> Result<Vec<f64>> {
    projected_diag(ens, v, |l| l * l)
}

fn projected_diag(ens: &Ensemble, v: MatRef<'_, f64>, w: impl Fn(f64) -> f64) -> Result<Vec<f64>> {
    let p = overlaps(ens, v)?;
    let lam = ens.eigenvalues();
    let n = ens.n() as f64;
    let diag: Vec<f64> = (0..p.nrows())
        .map(|i| {
            (0..p.ncols())
                .map(|c| w(lam[c]) * p[(i, c)] * p[(i, c)])
                .sum::<f64>()
                / n
        })
        .collect();
    // Eigenvalues beyond ~1e154 square to infinity in Eq. 17: a typed error,
    // never an infinite S_ii in an Ok.
    check_finite_slice(
        &diag,
        "projected moment diagonal (overflow of lambda or lambda^2)",
    )?;
    Ok(diag)
}

/// `V^T E[h_p^2] V` (m x m), off-diagonal couplings included (C7).
pub fn second_moment_in_basis(ens: &Ensemble, v: MatRef<'_, f64>) -> Result<Mat<f64>> {
    let p = overlaps(ens, v)?;
    let lam = ens.eigenvalues();
    let n = ens.n() as f64;
    let scaled = Mat::from_fn(p.nrows(), p.ncols(), |i, c| p[(i, c)] * lam[c] * lam[c] / n);
    let mut m = &scaled * p.transpose();
    symmetrize(&mut m);
    Ok(m)
}

/// `v_i^T A v_i` for each column of `v`.
pub fn diag_in_basis(a: MatRef<'_, f64>, v: MatRef<'_, f64>) -> Result<Vec<f64>> {
    if a.nrows() != a.ncols() || a.nrows() != v.nrows() {
        return Err(Error::shape(
            "matrix and basis",
            format!("square {} x {}", v.nrows(), v.nrows()),
            format!("{} x {}", a.nrows(), a.ncols()),
        ));
    }
    let av = a * v;
    Ok((0..v.ncols())
        .map(|i| (0..v.nrows()).map(|r| v[(r, i)] * av[(r, i)]).sum())
        .collect())
}

/// Eq. 2: `C = (1/B) (E_p[g_p g_p^T] - gbar gbar^T)` from an N x d matrix of
/// per-sample gradients (rows).
pub fn noise_covariance(grads: MatRef<'_, f64>, batch: usize) -> Result<Mat<f64>> {
    let (n, d) = (grads.nrows(), grads.ncols());
    if n == 0 || d == 0 {
        return Err(Error::empty(
            "per-sample gradients",
            "no rows or no columns",
        ));
    }
    if batch == 0 {
        return Err(Error::param("batch size B", batch, "must be at least 1"));
    }
    check_finite(grads, "per-sample gradients")?;
    let mean: Vec<f64> = (0..d)
        .map(|j| (0..n).map(|i| grads[(i, j)]).sum::<f64>() / n as f64)
        .collect();
    let centered = Mat::from_fn(n, d, |i, j| grads[(i, j)] - mean[j]);
    let scale = 1.0 / (n as f64 * batch as f64);
    let mut c = centered.transpose() * &centered;
    for j in 0..d {
        for i in 0..d {
            c[(i, j)] *= scale;
        }
    }
    symmetrize(&mut c);
    Ok(c)
}

/// H, its eigenbasis, and the diagonals every gamma check needs.
#[derive(Debug, Clone)]
pub struct Moments {
    /// H = E_p[h_p].
    pub hessian: Mat<f64>,
    /// Eigendecomposition of H, descending.
    pub eig: SymEig,
    /// `v_i^T E[h_p^2] v_i` for every eigenvector of H (Eq. 17).
    pub second_diag: Vec<f64>,
}

impl Moments {
    /// Computes H, its eigendecomposition and `v_i^T E[h^2] v_i` for all i.
    pub fn compute(ens: &Ensemble) -> Result<Self> {
        let hessian = hessian(ens);
        let eig = sym_eig(hessian.as_ref(), "H = E_p[h_p]")?;
        let second_diag = second_moment_diag(ens, eig.vectors.as_ref())?;
        Ok(Moments {
            hessian,
            eig,
            second_diag,
        })
    }

    /// `H_ii = lambda_i`, descending.
    pub fn h_diag(&self) -> &[f64] {
        &self.eig.values
    }
}
