//! Matrix-free top-k symmetric eigensolver: block Krylov-Schur (thick-restart
//! block Lanczos) with explicit Rayleigh-Ritz, for an operator that is only
//! available as a block product `Y = A X` ([`SymOperator`]).
//!
//! One cycle, on an orthonormal basis `Q = [Q_1 ... Q_s]` (n x m, blocks of
//! b columns) with the products `AQ` stored beside it:
//! 1. expand: `Q_{j+1} = orth(A Q_j)` against all of `Q` (block classical
//!    Gram-Schmidt twice, then column-wise Gram-Schmidt twice inside the
//!    block; a column that loses all but `1e-10` of its norm is replaced by a
//!    seeded Gaussian column, so an invariant subspace or a rank-deficient
//!    operator never stalls the iteration), then `A Q_{j+1}` (b products);
//! 2. Rayleigh-Ritz: `T = Q^T (AQ)` (symmetrised, m x m, dense
//!    [`super::sym_eig`]), Ritz pairs `(theta_i, u_i = Q y_i)` with
//!    `A u_i = (AQ) y_i`, so residuals `r_i = A u_i - theta_i u_i` cost no
//!    extra product;
//! 3. stop when the wanted k largest (algebraic) Ritz pairs all have
//!    `|r_i| <= tol * max_j |theta_j|`, else thick restart: keep the `keep`
//!    leading Ritz vectors (and their products), append the orthonormalised
//!    residual block `F = (I - Q Q^T) A Q_s` of the Krylov decomposition
//!    (`A Q = Q T + F E_s^T`, so every Ritz residual lies in span F), and
//!    expand again.
//!
//! Cost per cycle: `(m - keep)` operator columns, `2 n m^2` for `T`,
//! `4 n m keep` for the restart, `4 n m b` per block for the
//! orthogonalisation, and an m x m dense eigenproblem. Memory: `2 n m`
//! (basis and products) + `2 n keep` (restart) + `n b` doubles.
//!
//! The start block is Gaussian from a seeded ChaCha generator, so results are
//! reproducible; the arithmetic order does not depend on the thread count
//! except inside faer's parallel products.

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par};

use super::{gaussian_matrix, seeded_rng, sym_eig, Rng};
use crate::error::{Error, Result};

/// A symmetric linear operator given by its block product.
pub trait SymOperator: Sync {
    /// The dimension n (the operator is n x n).
    fn dim(&self) -> usize;
    /// `y = A x` for a block `x` (n x b); `y` has the same shape.
    fn apply(&self, x: MatRef<'_, f64>, y: MatMut<'_, f64>, par: Par) -> Result<()>;
}

/// A dense symmetric matrix as an operator: `Y = A X` by one GEMM
/// (`2 n^2 b` flops per block).
#[derive(Debug, Clone, Copy)]
pub struct DenseSymOperator<'a>(pub MatRef<'a, f64>);

impl SymOperator for DenseSymOperator<'_> {
    fn dim(&self) -> usize {
        self.0.nrows()
    }
    fn apply(&self, x: MatRef<'_, f64>, y: MatMut<'_, f64>, par: Par) -> Result<()> {
        matmul(y, Accum::Replace, self.0, x, 1.0, par);
        Ok(())
    }
}

/// Settings of [`top_eig_krylov`]; 0 means "choose" for the sizes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KrylovSettings {
    /// Block size b (0: [`krylov_shape`]'s choice).
    pub block: usize,
    /// Basis size m (0: [`krylov_shape`]'s choice).
    pub basis: usize,
    /// Relative residual tolerance: stop when `|A u_i - theta_i u_i| <= tol
    /// max_j |theta_j|` for the k wanted pairs.
    pub tol: f64,
    /// Most operator columns to apply (0: `max(30 m, 4 n)`).
    pub max_products: usize,
    /// Seed of the Gaussian start block and of replacement columns.
    pub seed: u64,
}

impl Default for KrylovSettings {
    fn default() -> Self {
        KrylovSettings {
            block: 0,
            basis: 0,
            tol: 1e-10,
            max_products: 0,
            seed: 0,
        }
    }
}

/// The top-k eigenpairs found by [`top_eig_krylov`].
#[derive(Debug, Clone)]
pub struct KrylovEig {
    /// Ritz values, descending (largest algebraic first).
    pub values: Vec<f64>,
    /// Ritz vectors as columns (n x k, orthonormal).
    pub vectors: Mat<f64>,
    /// `|A v_i - lambda_i v_i|_2` of each pair.
    pub residuals: Vec<f64>,
    /// How many of the k pairs met the tolerance.
    pub converged: usize,
    /// Operator columns applied.
    pub products: usize,
    /// Thick restarts taken.
    pub restarts: usize,
}

/// `(b, m, keep)`: block size, basis size and the number of Ritz vectors kept
/// at a restart for the top `k` of an n x n operator. Defaults:
/// `b = clamp(ceil(k / 4), 8, 48)`, `m = 2 k + 2 b` rounded up to whole
/// blocks above `keep`, `keep = k + b`; all capped by n. When `m >= n` the
/// solver falls back to the dense eigendecomposition of `A I`.
pub fn krylov_shape(n: usize, k: usize, block: usize, basis: usize) -> (usize, usize, usize) {
    let b = if block == 0 {
        k.div_ceil(4).clamp(8, 48)
    } else {
        block
    }
    .min(n.max(1));
    let keep = (k + b).min(n);
    let m = if basis == 0 {
        (2 * k + 2 * b).max(keep + 2 * b)
    } else {
        basis.max(keep + b)
    };
    let blocks = (m - keep).div_ceil(b);
    (b, (keep + blocks * b).min(n), keep)
}

/// Bytes [`top_eig_krylov`] allocates at its peak for the top `k` of an
/// n x n operator (basis, products, restart copies, one block, the m x m
/// Rayleigh-Ritz problem), excluding the operator's own scratch.
pub fn krylov_bytes(n: usize, k: usize, block: usize, basis: usize) -> u64 {
    let (b, m, keep) = krylov_shape(n, k, block, basis);
    let doubles = 2 * n * m + 2 * n * keep + 2 * n * b + 3 * m * m;
    8 * doubles as u64
}

/// The k largest (algebraic) eigenpairs of the symmetric operator `op` by
/// block Krylov-Schur (module doc). Errors: `k > n`, a non-finite product
/// ([`Error::NonFinite`]) or a failed dense eigensolve. When the product
/// budget runs out the result is returned with `converged < k` (the caller
/// decides; the residuals say how far each pair is).
pub fn top_eig_krylov(
    op: &dyn SymOperator,
    k: usize,
    settings: &KrylovSettings,
    par: Par,
    input: &str,
) -> Result<KrylovEig> {
    let n = op.dim();
    if k > n {
        return Err(Error::param(
            &format!("{input}: eigenpairs wanted"),
            k,
            format!("the operator has dimension {n}"),
        ));
    }
    if !(settings.tol > 0.0 && settings.tol.is_finite()) {
        return Err(Error::param(
            "Krylov tolerance",
            settings.tol,
            "must be positive and finite",
        ));
    }
    if k == 0 {
        return Ok(KrylovEig {
            values: vec![],
            vectors: Mat::zeros(n, 0),
            residuals: vec![],
            converged: 0,
            products: 0,
            restarts: 0,
        });
    }
    let (b, m, keep) = krylov_shape(n, k, settings.block, settings.basis);
    let mut rng = seeded_rng(settings.seed);
    if m >= n || keep + b > m {
        return dense_fallback(op, k, par, input);
    }
    let max_products = if settings.max_products == 0 {
        (30 * m).max(4 * n)
    } else {
        settings.max_products
    };
    let mut q = Mat::<f64>::zeros(n, m);
    let mut aq = Mat::<f64>::zeros(n, m);
    let start = gaussian_matrix(n, b, &mut rng);
    let mut used = 0;
    let mut products = 0;
    let mut restarts = 0;
    append_block(
        op,
        start.as_ref(),
        &mut q,
        &mut aq,
        &mut used,
        &mut rng,
        par,
        input,
    )?;
    products += b;
    loop {
        while used + b <= m {
            let next = aq.as_ref().subcols(used - b, b).to_owned();
            append_block(
                op,
                next.as_ref(),
                &mut q,
                &mut aq,
                &mut used,
                &mut rng,
                par,
                input,
            )?;
            products += b;
        }
        // Rayleigh-Ritz on span Q.
        let qs = q.as_ref().subcols(0, used);
        let aqs = aq.as_ref().subcols(0, used);
        let mut t = Mat::<f64>::zeros(used, used);
        matmul(t.as_mut(), Accum::Replace, qs.transpose(), aqs, 1.0, par);
        let t = Mat::from_fn(used, used, |i, j| 0.5 * (t[(i, j)] + t[(j, i)]));
        let eig = sym_eig(t.as_ref(), &format!("{input}: Rayleigh-Ritz matrix"))?;
        let scale = eig.values.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        let y = eig.vectors.as_ref().subcols(0, keep);
        let mut u = Mat::<f64>::zeros(n, keep);
        let mut au = Mat::<f64>::zeros(n, keep);
        matmul(u.as_mut(), Accum::Replace, qs, y, 1.0, par);
        matmul(au.as_mut(), Accum::Replace, aqs, y, 1.0, par);
        let residuals: Vec<f64> = (0..k)
            .map(|i| {
                let th = eig.values[i];
                (0..n)
                    .map(|r| (au[(r, i)] - th * u[(r, i)]).powi(2))
                    .sum::<f64>()
                    .sqrt()
            })
            .collect();
        let converged = residuals
            .iter()
            .filter(|r| **r <= settings.tol * scale)
            .count();
        if converged == k || products + (m - keep) > max_products {
            return Ok(KrylovEig {
                values: eig.values[..k].to_vec(),
                vectors: u.as_ref().subcols(0, k).to_owned(),
                residuals,
                converged,
                products,
                restarts,
            });
        }
        // Thick restart: the residual block of the Krylov decomposition,
        // orthogonal to the old basis, continues the expansion.
        let mut f = aq.as_ref().subcols(used - b, b).to_owned();
        project_out(q.as_ref().subcols(0, used), &mut f, par);
        q.as_mut().subcols_mut(0, keep).copy_from(&u);
        aq.as_mut().subcols_mut(0, keep).copy_from(&au);
        drop((u, au));
        used = keep;
        append_block(
            op,
            f.as_ref(),
            &mut q,
            &mut aq,
            &mut used,
            &mut rng,
            par,
            input,
        )?;
        products += b;
        restarts += 1;
    }
}

/// Orthonormalises `x` (n x b) against `q[:, ..used]` and within itself,
/// stores it as columns `used..used + b` of `q` and its product in `aq`.
#[allow(clippy::too_many_arguments)]
fn append_block(
    op: &dyn SymOperator,
    x: MatRef<'_, f64>,
    q: &mut Mat<f64>,
    aq: &mut Mat<f64>,
    used: &mut usize,
    rng: &mut Rng,
    par: Par,
    input: &str,
) -> Result<()> {
    let (n, b) = (x.nrows(), x.ncols());
    let mut w = x.to_owned();
    super::check_finite(w.as_ref(), &format!("{input}: operator product"))?;
    orthonormalize(q.as_ref().subcols(0, *used), &mut w, rng, par);
    q.as_mut().subcols_mut(*used, b).copy_from(&w);
    let mut y = Mat::<f64>::zeros(n, b);
    op.apply(w.as_ref(), y.as_mut(), par)?;
    aq.as_mut().subcols_mut(*used, b).copy_from(&y);
    *used += b;
    Ok(())
}

/// `w <- (I - Q Q^T) w`, twice (block classical Gram-Schmidt with
/// reorthogonalisation: `4 n q b` flops).
fn project_out(q: MatRef<'_, f64>, w: &mut Mat<f64>, par: Par) {
    if q.ncols() == 0 {
        return;
    }
    for _ in 0..2 {
        let mut c = Mat::<f64>::zeros(q.ncols(), w.ncols());
        matmul(
            c.as_mut(),
            Accum::Replace,
            q.transpose(),
            w.as_ref(),
            1.0,
            par,
        );
        matmul(w.as_mut(), Accum::Add, q, c.as_ref(), -1.0, par);
    }
}

/// `w <- (I - Q Q^T) w` twice (block GEMMs), then column-wise Gram-Schmidt
/// twice inside `w` and normalisation; a column left with less than `1e-10`
/// of its original norm is replaced by a Gaussian column and redone.
fn orthonormalize(q: MatRef<'_, f64>, w: &mut Mat<f64>, rng: &mut Rng, par: Par) {
    let (n, b) = (w.nrows(), w.ncols());
    let norms0: Vec<f64> = (0..b).map(|j| w.col(j).norm_l2()).collect();
    project_out(q, w, par);
    for j in 0..b {
        let mut attempts = 0;
        loop {
            for _ in 0..2 {
                for i in 0..j {
                    let dot: f64 = (0..n).map(|r| w[(r, i)] * w[(r, j)]).sum();
                    for r in 0..n {
                        let v = w[(r, i)];
                        w[(r, j)] -= dot * v;
                    }
                }
            }
            let norm = w.col(j).norm_l2();
            let reference = if attempts == 0 { norms0[j] } else { 1.0 };
            if norm > 1e-10 * reference && norm > 0.0 {
                for r in 0..n {
                    w[(r, j)] /= norm;
                }
                break;
            }
            // Deficient column: a fresh Gaussian one, projected on the
            // complement of Q and the accepted columns.
            attempts += 1;
            let mut col = gaussian_matrix(n, 1, rng);
            project_out(q, &mut col, par);
            let s = col.col(0).norm_l2();
            for r in 0..n {
                w[(r, j)] = col[(r, 0)] / s.max(f64::MIN_POSITIVE);
            }
            if attempts > 5 {
                break;
            }
        }
    }
}

/// Small problems (basis as large as the dimension): the dense
/// eigendecomposition of `A I` (n products).
fn dense_fallback(op: &dyn SymOperator, k: usize, par: Par, input: &str) -> Result<KrylovEig> {
    let n = op.dim();
    let mut a = Mat::<f64>::zeros(n, n);
    op.apply(Mat::<f64>::identity(n, n).as_ref(), a.as_mut(), par)?;
    super::check_finite(a.as_ref(), &format!("{input}: operator product"))?;
    let a = Mat::from_fn(n, n, |i, j| 0.5 * (a[(i, j)] + a[(j, i)]));
    let eig = sym_eig(a.as_ref(), input)?;
    let vectors = eig.vectors.as_ref().subcols(0, k).to_owned();
    let av = &a * &vectors;
    let residuals = (0..k)
        .map(|i| {
            (0..n)
                .map(|r| (av[(r, i)] - eig.values[i] * vectors[(r, i)]).powi(2))
                .sum::<f64>()
                .sqrt()
        })
        .collect();
    Ok(KrylovEig {
        values: eig.values[..k].to_vec(),
        vectors,
        residuals,
        converged: k,
        products: n,
        restarts: 0,
    })
}
