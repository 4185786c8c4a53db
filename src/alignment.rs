//! How nearly H and C commute, measured directly (claims C3, C7: the paper's
//! "C and H approximately commute", so that `C_ii` in H's eigenbasis carries
//! C's spectrum).
//!
//! # Relative commutator
//! `kappa(H, C) = ||HC - CH||_F / (2 ||H||_F ||C||_F)`, defined as 0 when H or
//! C is zero (they then commute).
//! Bound: `||HC - CH||_F <= ||HC||_F + ||CH||_F <= 2 ||H||_2 ||C||_F
//! <= 2 ||H||_F ||C||_F`, so `kappa` is in [0, 1]; the Boettcher-Wenzel
//! inequality `||XY - YX||_F <= sqrt(2) ||X||_F ||Y||_F` (Linear Algebra
//! Appl. 429, 2008) sharpens this to `kappa <= 1/sqrt(2)`. `kappa = 0` iff H
//! and C commute (share an eigenbasis). `kappa` is invariant under
//! `H -> s H`, `C -> t C` (s, t != 0), and the inputs are scaled by their
//! max-abs entries before multiplying, so entries near overflow or underflow
//! are handled.
//!
//! # Principal angles
//! For orthonormal frames `Va` (n x p), `Vb` (n x q), the principal angles
//! `0 <= theta_1 <= ... <= theta_min(p,q) <= pi/2` between their column spaces
//! satisfy `cos theta_j = sigma_j(Va^T Vb)` (descending singular values) and,
//! for `q <= p`, `sin theta_j = sigma_{q+1-j}(Vb - Va Va^T Vb)`
//! (`R^T R = I - M^T M` with `M = Va^T Vb`). `acos` of a singular value near 1
//! loses half the digits (an angle of 1e-10 comes out as ~1e-8), so, as in
//! Knyazev and Argentati (SIAM J. Sci. Comput. 23, 2002), the sine formula is
//! used for angles below pi/4 and the cosine formula above.
//! [`principal_angles`] compares the top-m eigenspaces (largest eigenvalues,
//! computed by [`crate::linalg::sym_eig`]) of two symmetric matrices; when
//! `lambda_m = lambda_{m+1}` that space is not unique and the angles depend on
//! the solver's choice of basis in the degenerate eigenspace.

use faer::{Mat, MatRef};

use crate::error::{Error, Result};
use crate::linalg::{check_finite, orthonormality_residual, sym_eig};

fn check_square(a: MatRef<'_, f64>, input: &str) -> Result<()> {
    if a.nrows() != a.ncols() {
        return Err(Error::shape(
            input,
            "a square matrix",
            format!("{} x {}", a.nrows(), a.ncols()),
        ));
    }
    check_finite(a, input)
}

/// `||HC - CH||_F / (2 ||H||_F ||C||_F)` in [0, 1/sqrt(2)] (see module doc).
///
/// Errors on non-square or differently sized inputs and on NaN/inf.
pub fn relative_commutator(h: MatRef<'_, f64>, c: MatRef<'_, f64>) -> Result<f64> {
    check_square(h, "H")?;
    check_square(c, "C")?;
    if h.nrows() != c.nrows() {
        return Err(Error::shape(
            "C",
            format!("{0} x {0} (as H)", h.nrows()),
            format!("{} x {}", c.nrows(), c.ncols()),
        ));
    }
    let (mh, mc) = (h.norm_max(), c.norm_max());
    if mh == 0.0 || mc == 0.0 {
        return Ok(0.0);
    }
    let hs = Mat::from_fn(h.nrows(), h.ncols(), |i, j| h[(i, j)] / mh);
    let cs = Mat::from_fn(c.nrows(), c.ncols(), |i, j| c[(i, j)] / mc);
    let k = &hs * &cs - &cs * &hs;
    let denom = 2.0 * hs.norm_l2() * cs.norm_l2();
    Ok((k.norm_l2() / denom).clamp(0.0, 1.0))
}

/// Principal angles (radians, ascending) between the column spaces of two
/// frames with orthonormal columns, `va` (n x p) and `vb` (n x q); returns
/// `min(p, q)` angles.
///
/// Errors on different row counts, NaN/inf, or columns that are not
/// orthonormal to `100 n eps` (max-entry of `V^T V - I`).
pub fn subspace_angles(va: MatRef<'_, f64>, vb: MatRef<'_, f64>) -> Result<Vec<f64>> {
    if va.nrows() != vb.nrows() {
        return Err(Error::shape(
            "Vb",
            format!("{} rows (as Va)", va.nrows()),
            vb.nrows(),
        ));
    }
    check_finite(va, "Va")?;
    check_finite(vb, "Vb")?;
    let n = va.nrows();
    let tol = 100.0 * n.max(1) as f64 * f64::EPSILON;
    for (name, v) in [("Va", va), ("Vb", vb)] {
        if v.ncols() > n {
            return Err(Error::shape(
                name,
                format!("at most {n} orthonormal columns in dimension {n}"),
                v.ncols(),
            ));
        }
        let residual = orthonormality_residual(v);
        if residual > tol {
            return Err(Error::NotOrthonormal {
                input: name.to_string(),
                residual,
                tol,
            });
        }
    }
    // Make vb the narrower frame (q <= p); angles are symmetric.
    let (va, vb) = if vb.ncols() <= va.ncols() {
        (va, vb)
    } else {
        (vb, va)
    };
    let q = vb.ncols();
    if q == 0 {
        return Ok(vec![]);
    }
    let m = va.transpose() * vb;
    let r = vb - va * &m;
    let svd_err = |_| Error::NoConvergence {
        input: "Va^T Vb".into(),
        routine: "singular value decomposition".into(),
    };
    let cos = m.as_ref().singular_values().map_err(svd_err)?;
    let sin = r.as_ref().singular_values().map_err(svd_err)?;
    let quarter = std::f64::consts::FRAC_PI_4;
    Ok((0..q)
        .map(|j| {
            let by_cos = cos.get(j).map_or(0.0, |c| c.clamp(0.0, 1.0)).acos();
            let by_sin = sin.get(q - 1 - j).map_or(0.0, |s| s.clamp(0.0, 1.0)).asin();
            if by_cos < quarter {
                by_sin
            } else {
                by_cos
            }
        })
        .collect())
}

/// Principal angles between the top-m eigenspaces (largest eigenvalues) of
/// two symmetric n x n matrices, ascending.
///
/// Errors on non-symmetric, non-square or differently sized inputs, NaN/inf,
/// or `m > n`.
pub fn principal_angles(a: MatRef<'_, f64>, b: MatRef<'_, f64>, m: usize) -> Result<Vec<f64>> {
    let ea = sym_eig(a, "A")?;
    let eb = sym_eig(b, "B")?;
    let n = a.nrows();
    if b.nrows() != n {
        return Err(Error::shape(
            "B",
            format!("{n} x {n} (as A)"),
            format!("{} x {}", b.nrows(), b.ncols()),
        ));
    }
    if m > n {
        return Err(Error::param(
            "m",
            m,
            format!("the top-m eigenspace of an {n} x {n} matrix needs m <= {n}"),
        ));
    }
    subspace_angles(
        ea.vectors.as_ref().subcols(0, m),
        eb.vectors.as_ref().subcols(0, m),
    )
}
