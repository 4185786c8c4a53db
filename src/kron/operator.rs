//! The layer Hessian `H = E_p[A_p (x) a_p a_p^T]` as a matrix-free operator,
//! and its top-k eigenpairs by the route of [`crate::memory::eig_route`].
//!
//! For `x = vec(V)` (V: out x in, row-major like the parameters),
//! `h_p x = vec(A_p V a_p a_p^T)`, and with `A_p = E_p diag(theta_p) E_p^T`
//! (r = rank <= K columns), a block `X = [x_1 ... x_b]` costs, per chunk of
//! samples:
//! 1. `Z = [V_1; ...; V_b] A_chunk^T` (`b out x chunk`, `2 b d chunk` flops):
//!    column p holds `u_{p,j} = V_j a_p`;
//! 2. per sample, `w_{p,j} = E_p diag(theta_p) E_p^T u_{p,j}` in place
//!    (`4 out r b` flops);
//! 3. `Y += [W_1; ...; W_b] A_chunk / N` (`2 b d chunk` flops), i.e.
//!    `H V_j = E_p[w_{p,j} a_p^T]`.
//!
//! So one block product costs `4 N d b + 4 N out r b` flops and
//! `8 (3 b d + b out chunk)` bytes; H (d x d) is never formed.

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par};
use rayon::prelude::*;

use super::KronCurvature;
use crate::error::{Error, Result};
use crate::linalg::{top_eig_krylov, DenseSymOperator, KrylovSettings, SymOperator};
use crate::memory::{
    dense_build_bytes, dense_bytes, dense_eig_bytes, eig_route, kron_chunk, kron_product_bytes,
    EigMethod, MemoryBudget,
};

/// `H` of a [`KronCurvature`] as a [`SymOperator`] (module doc).
#[derive(Debug, Clone, Copy)]
pub struct KronHessianOperator<'a> {
    engine: &'a KronCurvature,
}

impl SymOperator for KronHessianOperator<'_> {
    fn dim(&self) -> usize {
        self.engine.d()
    }

    fn apply(&self, x: MatRef<'_, f64>, mut y: MatMut<'_, f64>, par: Par) -> Result<()> {
        let e = self.engine;
        let (out, inn, n, d) = (e.out_dim, e.in_dim, e.n(), e.d());
        if x.nrows() != d || y.nrows() != d || x.ncols() != y.ncols() {
            return Err(Error::shape(
                "Kronecker H product",
                format!("{d} x b blocks"),
                format!(
                    "{} x {} into {} x {}",
                    x.nrows(),
                    x.ncols(),
                    y.nrows(),
                    y.ncols()
                ),
            ));
        }
        let b = x.ncols();
        if b == 0 {
            return Ok(());
        }
        let bo = b * out;
        // Vt[(j out + o), i] = V_j[o, i] = x[o in + i, j].
        let vt = Mat::from_fn(bo, inn, |row, i| x[((row % out) * inn + i, row / out)]);
        let mut acc = Mat::<f64>::zeros(bo, inn);
        let chunk = kron_chunk(n, out, b);
        let mut zbuf = vec![0.0f64; bo * chunk];
        let mut start = 0;
        while start < n {
            let len = chunk.min(n - start);
            let a_chunk = e.acts.as_ref().subrows(start, len);
            {
                let z = MatMut::from_column_major_slice_mut(&mut zbuf[..bo * len], bo, len);
                matmul(
                    z,
                    Accum::Replace,
                    vt.as_ref(),
                    a_chunk.transpose(),
                    1.0,
                    par,
                );
            }
            zbuf[..bo * len]
                .par_chunks_mut(bo)
                .enumerate()
                .for_each(|(q, col)| {
                    let s = &e.samples[start + q];
                    let r = s.theta.len();
                    let mut t = vec![0.0f64; r * b];
                    for j in 0..b {
                        let u = &col[j * out..(j + 1) * out];
                        for (tt, &th) in s.theta.iter().enumerate() {
                            let ec = s.e.col_as_slice(tt);
                            let dot: f64 = ec.iter().zip(u).map(|(a, b)| a * b).sum();
                            t[j * r + tt] = th * dot;
                        }
                    }
                    for j in 0..b {
                        let w = &mut col[j * out..(j + 1) * out];
                        w.iter_mut().for_each(|v| *v = 0.0);
                        for tt in 0..r {
                            let coef = t[j * r + tt];
                            let ec = s.e.col_as_slice(tt);
                            for (wv, ev) in w.iter_mut().zip(ec) {
                                *wv += coef * ev;
                            }
                        }
                    }
                });
            let z = MatRef::from_column_major_slice(&zbuf[..bo * len], bo, len);
            matmul(acc.as_mut(), Accum::Add, z, a_chunk, 1.0 / n as f64, par);
            start += len;
        }
        for j in 0..b {
            for o in 0..out {
                for i in 0..inn {
                    y[(o * inn + i, j)] = acc[(j * out + o, i)];
                }
            }
        }
        Ok(())
    }
}

/// Settings of [`KronCurvature::hessian_top_eig_scaled`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct EigSettings {
    /// The route (default [`EigMethod::Auto`]: [`eig_route`]).
    pub method: EigMethod,
    /// The Krylov solver's settings (Krylov routes).
    pub krylov: KrylovSettings,
    /// Cap on the bytes the route allocates.
    pub budget: MemoryBudget,
}

/// Top-k eigenpairs of H with the route that produced them.
#[derive(Debug, Clone)]
pub struct HessianEig {
    /// Eigenvalues, descending.
    pub values: Vec<f64>,
    /// Eigenvectors as columns (d x k).
    pub vectors: Mat<f64>,
    /// `|H v_i - lambda_i v_i|` (Krylov routes; None for the dense route,
    /// which is backward stable to `O(d eps ||H||)`).
    pub residuals: Option<Vec<f64>>,
    /// The route taken (never [`EigMethod::Auto`]).
    pub method: EigMethod,
    /// Operator columns applied (Krylov routes).
    pub products: usize,
}

impl KronCurvature {
    /// H as a matrix-free operator (module doc for the product and its cost).
    pub fn hessian_operator(&self) -> KronHessianOperator<'_> {
        KronHessianOperator { engine: self }
    }

    /// Top-k eigenpairs of H, descending, by `settings.method` (Auto:
    /// [`eig_route`] on N, d, k):
    /// - Dense: [`Self::hessian_top_eig`] (`N d^2 / 2` build, `~(4/3) d^3`);
    /// - KrylovDense: the packed dense H as the operator of
    ///   [`top_eig_krylov`] (`2 d^2` flops per column);
    /// - KrylovMatrixFree: [`Self::hessian_operator`] (`4 N d` flops per
    ///   column, no d x d object).
    ///
    /// Each route checks its bytes ([`crate::memory`]) against
    /// `settings.budget` before allocating ([`Error::MemoryLimit`]); a
    /// Krylov run that does not meet its tolerance within its product
    /// budget is [`Error::NoConvergence`].
    pub fn hessian_top_eig_scaled(
        &self,
        k: usize,
        settings: &EigSettings,
        par: Par,
    ) -> Result<HessianEig> {
        let (n, d) = (self.n(), self.d());
        if k > d {
            return Err(Error::param("top-k", k, format!("H has dimension d = {d}")));
        }
        let method = eig_route(n, d, k, settings.method);
        let kr = &settings.krylov;
        let krylov_bytes = crate::linalg::krylov_bytes(d, k, kr.block, kr.basis);
        let hint = "use a smaller top-k or the matrix-free eigen route";
        let run_krylov = |op: &dyn SymOperator| -> Result<crate::linalg::KrylovEig> {
            let res = top_eig_krylov(op, k, kr, par, "H (Kronecker layer Hessian)")?;
            if res.converged < k {
                return Err(Error::NoConvergence {
                    input: "H (Kronecker layer Hessian)".into(),
                    routine: format!(
                        "block Krylov top-{k} eigensolver ({} of {k} pairs within tolerance {:e} after {} products)",
                        res.converged, kr.tol, res.products
                    ),
                });
            }
            Ok(res)
        };
        match method {
            EigMethod::Dense | EigMethod::Auto => {
                settings.budget.check(
                    "top-k eig(H), dense",
                    dense_build_bytes(n, self.out_dim, self.in_dim).max(dense_eig_bytes(d, k)),
                    hint,
                )?;
                let eig = self.hessian_top_eig(k, par)?;
                Ok(HessianEig {
                    values: eig.values,
                    vectors: eig.vectors,
                    residuals: None,
                    method: EigMethod::Dense,
                    products: 0,
                })
            }
            EigMethod::KrylovDense => {
                settings.budget.check(
                    "top-k eig(H), Krylov on dense H",
                    dense_build_bytes(n, self.out_dim, self.in_dim)
                        .max(dense_bytes(d).saturating_add(krylov_bytes)),
                    hint,
                )?;
                let h = self.hessian_with(par);
                let res = run_krylov(&DenseSymOperator(h.as_ref()))?;
                Ok(HessianEig {
                    values: res.values,
                    vectors: res.vectors,
                    residuals: Some(res.residuals),
                    method,
                    products: res.products,
                })
            }
            EigMethod::KrylovMatrixFree => {
                let (b, _, _) = crate::linalg::krylov_shape(d, k, kr.block, kr.basis);
                settings.budget.check(
                    "top-k eig(H), matrix-free Krylov",
                    krylov_bytes.saturating_add(kron_product_bytes(
                        n,
                        self.out_dim,
                        self.in_dim,
                        b,
                    )),
                    hint,
                )?;
                let res = run_krylov(&self.hessian_operator())?;
                Ok(HessianEig {
                    values: res.values,
                    vectors: res.vectors,
                    residuals: Some(res.residuals),
                    method,
                    products: res.products,
                })
            }
        }
    }
}
