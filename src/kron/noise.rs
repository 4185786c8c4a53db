//! Moments and spectrum of the SGD noise covariance of Eq. 2,
//! `C = (1/B) (E_p[g_p g_p^T] - gbar gbar^T) = G^T J G / (N B)` (G: N x d
//! rows `g_p = delta_p (x) a_p`, J the centring matrix), without any N x N
//! object when N is large.
//!
//! With the Gram matrix `K_pq = g_p . g_q = (delta_p . delta_q)(a_p . a_q)`,
//! its row means `r_p = g_p . gbar = delta_p^T Gbar a_p` (`Gbar = E_p[delta_p
//! a_p^T]`, out x in, so `gbar = vec(Gbar)`) and `m = |gbar|^2 = E_p r_p`,
//! the centred dual is `K_c = J K J` with entries `K_pq - r_p - r_q + m`, and
//! - `tr C = tr K_c / (N B) = (1/(N B)) sum_p (|delta_p|^2 |a_p|^2 - 2 r_p + m)`
//!   (`O(N d)`);
//! - `||C||_F^2 = ||K_c||_F^2 / (N B)^2`, either streamed over blocks of K_c
//!   ([`KronCurvature::c_moments_dual`]: `N^2 (out + in)` flops, memory
//!   `2 chunk^2` per thread) or from the d x d matrix itself
//!   ([`KronCurvature::c_dense`]: `N d^2` flops, `8 d^2` bytes); the route is
//!   [`crate::memory::moment_route`];
//! - the nonzero spectrum of C is that of `K_c / (N B)`: eigenvalues of the
//!   d x d C when `N > d`, of the N x N dual only when `N <= d`
//!   ([`KronCurvature::c_spectrum`]).

use faer::linalg::matmul::matmul;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::{Accum, Mat, Par};
use rayon::prelude::*;

use super::KronCurvature;
use crate::error::{Error, Result};
use crate::memory::{
    dense_bytes, dense_eigenvalues_bytes, moment_route, MemoryBudget, MomentRoute,
};

/// `tr C` and `||C||_F^2` of Eq. 2's C, and how they were computed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoiseMoments {
    /// `S1 = tr C`.
    pub trace: f64,
    /// `S2 = ||C||_F^2`.
    pub frobenius_sq: f64,
    /// The route taken.
    pub route: MomentRoute,
}

impl KronCurvature {
    /// `Gbar = E_p[delta_p a_p^T]` (out x in; `gbar = vec(Gbar)` row-major):
    /// `Delta^T A / N`, `2 N d` flops.
    pub fn mean_gradient(&self, par: Par) -> Mat<f64> {
        let delta = self.delta_matrix();
        let mut g = Mat::<f64>::zeros(self.out_dim, self.in_dim);
        matmul(
            g.as_mut(),
            Accum::Replace,
            delta.transpose(),
            self.acts.as_ref(),
            1.0 / self.n() as f64,
            par,
        );
        g
    }

    /// `delta_p` as rows (N x out).
    fn delta_matrix(&self) -> Mat<f64> {
        Mat::from_fn(self.n(), self.out_dim, |p, o| self.samples[p].delta[o])
    }

    /// Row means of the Gram matrix, `r_p = delta_p^T Gbar a_p`
    /// (`2 N d` flops for `A Gbar^T`, then `N out`).
    fn gram_row_means(&self, delta: &Mat<f64>, gbar: &Mat<f64>, par: Par) -> Vec<f64> {
        let mut t = Mat::<f64>::zeros(self.n(), self.out_dim);
        matmul(
            t.as_mut(),
            Accum::Replace,
            self.acts.as_ref(),
            gbar.transpose(),
            1.0,
            par,
        );
        (0..self.n())
            .map(|p| (0..self.out_dim).map(|o| delta[(p, o)] * t[(p, o)]).sum())
            .collect()
    }

    /// `(tr C, ||C||_F^2)` with the route of [`moment_route`] (or `route`
    /// when given); the primal route checks its `8 d^2` bytes against
    /// `budget` first. `chunk`: side of a streamed Gram block, or rows per
    /// primal chunk (0: 512). Cost: see the module doc.
    pub fn c_moments(
        &self,
        batch_size: usize,
        route: Option<MomentRoute>,
        chunk: usize,
        budget: &MemoryBudget,
        par: Par,
    ) -> Result<NoiseMoments> {
        let route = route.unwrap_or_else(|| moment_route(self.n(), self.out_dim, self.in_dim));
        let (trace, frobenius_sq) = match route {
            MomentRoute::DualStreamed => self.c_moments_dual(batch_size, chunk, par)?,
            MomentRoute::Primal => {
                let c = self.c_dense(batch_size, chunk, budget, par)?;
                let d = c.nrows();
                ((0..d).map(|i| c[(i, i)]).sum(), c.squared_norm_l2())
            }
        };
        Ok(NoiseMoments {
            trace,
            frobenius_sq,
            route,
        })
    }

    /// `(tr C, ||C||_F^2)` streamed over `chunk x chunk` blocks of the
    /// centred Gram matrix (0: 512): each block pair `I >= J` costs two GEMMs
    /// `Delta_I Delta_J^T`, `A_I A_J^T` (`2 chunk^2 (out + in)` flops) and
    /// `chunk^2` centred squares; `N^2 (out + in)` flops in all, memory
    /// `2 chunk^2` doubles per thread plus `N (out + 1)`. Blocks are summed
    /// in a fixed order, so the result does not depend on the thread count.
    pub fn c_moments_dual(&self, batch_size: usize, chunk: usize, par: Par) -> Result<(f64, f64)> {
        check_batch(batch_size)?;
        let n = self.n();
        let c = if chunk == 0 { 512 } else { chunk }.min(n);
        let delta = self.delta_matrix();
        let gbar = self.mean_gradient(par);
        let r = self.gram_row_means(&delta, &gbar, par);
        let nb = n as f64;
        let m = r.iter().sum::<f64>() / nb;
        let scale = 1.0 / (nb * batch_size as f64);
        let trace = (0..n)
            .map(|p| {
                let dd: f64 = self.samples[p].delta.iter().map(|x| x * x).sum();
                dd * self.samples[p].act_norm2 - 2.0 * r[p] + m
            })
            .sum::<f64>()
            * scale;
        let blocks = n.div_ceil(c);
        let pairs: Vec<(usize, usize)> = (0..blocks)
            .flat_map(|i| (0..=i).map(move |j| (i, j)))
            .collect();
        let partial: Vec<f64> = pairs
            .par_iter()
            .map(|&(bi, bj)| {
                let (i0, j0) = (bi * c, bj * c);
                let (li, lj) = (c.min(n - i0), c.min(n - j0));
                let mut kd = Mat::<f64>::zeros(li, lj);
                let mut ka = Mat::<f64>::zeros(li, lj);
                matmul(
                    kd.as_mut(),
                    Accum::Replace,
                    delta.as_ref().subrows(i0, li),
                    delta.as_ref().subrows(j0, lj).transpose(),
                    1.0,
                    Par::Seq,
                );
                matmul(
                    ka.as_mut(),
                    Accum::Replace,
                    self.acts.as_ref().subrows(i0, li),
                    self.acts.as_ref().subrows(j0, lj).transpose(),
                    1.0,
                    Par::Seq,
                );
                let mut s = 0.0;
                for q in 0..lj {
                    let rq = r[j0 + q];
                    for p in 0..li {
                        let v = kd[(p, q)] * ka[(p, q)] - r[i0 + p] - rq + m;
                        s += v * v;
                    }
                }
                if bi == bj {
                    s
                } else {
                    2.0 * s
                }
            })
            .collect();
        let frob = partial.iter().sum::<f64>() * scale * scale;
        Ok((trace, frob))
    }

    /// The d x d `C` of Eq. 2, `(1/(N B)) sum_p (g_p - gbar)(g_p - gbar)^T`,
    /// from centred rows in chunks of `chunk` samples (0: 512), lower half by
    /// a triangular GEMM, mirrored (exactly symmetric): `N d^2` flops, memory
    /// `8 d^2 + 8 chunk d` bytes (checked against `budget` first).
    pub fn c_dense(
        &self,
        batch_size: usize,
        chunk: usize,
        budget: &MemoryBudget,
        par: Par,
    ) -> Result<Mat<f64>> {
        check_batch(batch_size)?;
        let (n, inn, d) = (self.n(), self.in_dim, self.d());
        let c = if chunk == 0 { 512 } else { chunk }.min(n);
        budget.check(
            "C (d x d noise covariance)",
            dense_bytes(d).saturating_add(8 * (c * d) as u64),
            "use the streamed dual route or fewer parameters",
        )?;
        let gbar = self.mean_gradient(par);
        let mut acc = Mat::<f64>::zeros(d, d);
        let mut g = Mat::<f64>::zeros(c, d);
        let mut start = 0;
        while start < n {
            let len = c.min(n - start);
            for j in 0..d {
                let (o, i) = (j / inn, j % inn);
                let gb = gbar[(o, i)];
                for q in 0..len {
                    let p = start + q;
                    g[(q, j)] = self.samples[p].delta[o] * self.acts[(p, i)] - gb;
                }
            }
            let gc = g.as_ref().subrows(0, len);
            triangular::matmul(
                acc.as_mut(),
                BlockStructure::TriangularLower,
                Accum::Add,
                gc.transpose(),
                BlockStructure::Rectangular,
                gc,
                BlockStructure::Rectangular,
                1.0,
                par,
            );
            start += len;
        }
        drop(g);
        let scale = 1.0 / (n as f64 * batch_size as f64);
        for j in 0..d {
            for i in j..d {
                let v = acc[(i, j)] * scale;
                acc[(i, j)] = v;
                acc[(j, i)] = v;
            }
        }
        Ok(acc)
    }

    /// The spectrum of C (Eq. 2), descending, for the corrected null: the
    /// `d` eigenvalues of [`Self::c_dense`] when `N > d` (`N d^2 + O(d^3)`
    /// flops, `~24 d^2` bytes), else the `N` eigenvalues of the dual
    /// [`Self::c_dual_gram`] (`N^2 (out + in) + O(N^3)`, `~24 N^2` bytes),
    /// which has the same nonzero spectrum. Never builds an N x N matrix
    /// when `N > d`. The bytes are checked against `budget` first.
    pub fn c_spectrum(
        &self,
        batch_size: usize,
        budget: &MemoryBudget,
        par: Par,
    ) -> Result<Vec<f64>> {
        check_batch(batch_size)?;
        let (n, d) = (self.n(), self.d());
        if n > d {
            budget.check(
                "spectrum of C (d x d)",
                dense_bytes(d).saturating_add(dense_eigenvalues_bytes(d)),
                "drop the corrected null or use fewer parameters",
            )?;
            let c = self.c_dense(batch_size, 0, budget, par)?;
            crate::linalg::sym_eigenvalues(c.as_ref(), "C (Eq. 2)")
        } else {
            budget.check(
                "spectrum of C through the N x N dual",
                dense_bytes(n).saturating_mul(3),
                "drop the corrected null or use fewer samples",
            )?;
            let k = self.c_dual_gram(batch_size, par)?;
            crate::linalg::sym_eigenvalues(k.as_ref(), "K_c (dual of C)")
        }
    }
}

fn check_batch(batch_size: usize) -> Result<()> {
    if batch_size == 0 {
        return Err(Error::param("batch size", 0, "must be at least 1"));
    }
    Ok(())
}
