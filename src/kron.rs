//! Exact per-sample curvature of one bias-free linear layer in Kronecker form
//! (THEORY.md, "A structural fact the paper does not use"; serves C7, C8, C9,
//! C13, C14).
//!
//! A layer `z = W a` (`W`: out x in, parameters `w = vec(W)` flattened
//! **row-major** like PyTorch's `weight.flatten()`: index `o * in + i`, so
//! `d = out * in`) inside a network that is piecewise linear in `z` (ReLU,
//! max-pool, average pool, no biases after `z`, no batch norm) has, for each
//! sample `p` with input activity `a_p`, logits `f_p = D_p z_p` locally
//! (`D_p = d f / d z`, K x out) and loss `L(f_p, y_p)`:
//!
//! - gradient `g_p = delta_p (x) a_p`, `delta_p = D_p^T q_p`, `q_p = dL/df`;
//! - Hessian `h_p = A_p (x) a_p a_p^T`, `A_p = D_p^T M_p D_p`, `M_p = d^2L/df^2`
//!   (the second-order term through `D_p` vanishes: `f` is linear in `z`
//!   within a linear region, and `a_p` does not depend on `W`).
//!
//! Losses (`s = softmax(f)`, `e_y` the one-hot target, `J = diag(s) - s s^T`):
//! - cross-entropy `L = logsumexp(f) - f_y`: `q = s - e_y`, `M = J` (PSD);
//! - softmax-then-MSE `L = (1/K) |s - e_y|^2` (PyTorch's `MSELoss` mean over
//!   the K outputs): `q = (2/K) J r` with `r = s - e_y`, and
//!   `M = (2/K) (J J + T)`, `T = sum_k r_k hess(s_k)
//!      = diag(u) - u s^T - s u^T + 2 rho s s^T - rho diag(s)`, `u = r o s`,
//!   `rho = sum_k u_k`. `T` is indefinite, so `h_p` can be.
//!
//! Consequences used here (nothing of size d x d per sample is formed):
//! - rank `h_p <= K`; with `A_p = E_p diag(theta_p) E_p^T` (from the K x K
//!   problem `R M R^T`, `D_p^T = Q R`), the eigenpairs of `h_p` are
//!   `(theta_{p,j} |a_p|^2, e_{p,j} (x) a_p / |a_p|)`;
//! - `H = E_p[h_p]`: `H[(o,i),(o',i')] = (X^T Y / N)[(o,o'),(i,i')]` with rows
//!   `X_p = vech(A_p)`, `Y_p = vech(a_p a_p^T)` over the symmetric halves
//!   (cost `N d^2 / 4`; `E[h_p^2]` the same way with `|a_p|^2 A_p^2`);
//! - `C = (1/B) (E_p[g_p g_p^T] - gbar gbar^T)` (Eq. 2), so
//!   `C_ii = v_i^T C v_i = (1/B) (E_p[(v_i.g_p)^2] - (v_i.gbar)^2)`;
//! - `C_awd,ii / sigma^2 = v_i^T E_p[h_p^2] v_i = E_p[|a_p|^2 |A_p V_i a_p|^2]`
//!   `= E_p[|a_p|^2 sum_j theta_{p,j}^2 (e_{p,j} . V_i a_p)^2]` (Eq. 15, C8),
//!   with `V_i` = `v_i` reshaped out x in; likewise
//!   `H_ii = E_p[sum_j theta_{p,j} (e_{p,j} . V_i a_p)^2]` (C8, first moment);
//!   all of these, `g_p . v_i = delta_p^T V_i a_p` and the whole
//!   `V^T E[h_p^2] V = E_p[|a_p|^2 sum_j theta_{p,j}^2 w_{p,j} w_{p,j}^T]`
//!   (`w_{p,j} = (e_{p,j} . V_i a_p)_i`) come from one product
//!   `[V_1; ...; V_k] A^T` ([`KronCurvature::projections`], `2 N d k` flops);
//! - C's nonzero spectrum is that of the N x N centred Gram matrix with
//!   entries `(delta_p . delta_q)(a_p . a_q)` ([`KronCurvature::c_dual_gram`]);
//!   its trace and Frobenius norm, and its spectrum when N > d, come without
//!   any N x N object (`kron/noise.rs`: [`KronCurvature::c_moments`],
//!   [`KronCurvature::c_spectrum`]);
//! - H's top-k eigenpairs at scale, matrix-free when d is large
//!   (`kron/operator.rs`: [`KronCurvature::hessian_top_eig_scaled`]).

mod noise;
mod operator;

pub use noise::NoiseMoments;
pub use operator::{EigSettings, HessianEig, KronHessianOperator};

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::linalg::{check_finite, sym_eig};
use crate::loss::Loss;

/// What the engine needs per sample, gathered from a network (in f64).
#[derive(Debug, Clone)]
pub struct LayerSamples {
    /// Input activities `a_p` as rows: N x in.
    pub acts: Mat<f64>,
    /// `D_p = d logits / d z`, one K x out matrix per sample.
    pub jacobians: Vec<Mat<f64>>,
    /// Logits as rows: N x K.
    pub logits: Mat<f64>,
    /// Labels in `0..K`.
    pub labels: Vec<usize>,
    /// The loss of the logits.
    pub loss: Loss,
}

/// One sample's factored curvature: `A_p = E diag(theta) E^T`, `a_p`, `delta_p`.
#[derive(Debug, Clone)]
pub struct SampleFactor {
    /// Per-sample loss `l_p`.
    pub loss: f64,
    /// `delta_p = dl_p/dz` (out).
    pub delta: Vec<f64>,
    /// `A_p` (out x out, symmetrised); 0 x 0 in an engine built by
    /// [`KronCurvature::new_factored`] (use [`SampleFactor::a_dense`]).
    pub a_mat: Mat<f64>,
    /// Eigenvectors of `A_p` with non-negligible eigenvalue (out x r), descending.
    pub e: Mat<f64>,
    /// Their eigenvalues `theta_j`, descending.
    pub theta: Vec<f64>,
    /// `|a_p|^2`.
    pub act_norm2: f64,
}

impl SampleFactor {
    /// `A_p`: the kept matrix, or `E_p diag(theta_p) E_p^T` (symmetrised)
    /// when the engine was built by [`KronCurvature::new_factored`]
    /// (`2 out^2 r` flops).
    pub fn a_dense(&self) -> std::borrow::Cow<'_, Mat<f64>> {
        let out = self.e.nrows();
        if self.a_mat.nrows() == out {
            return std::borrow::Cow::Borrowed(&self.a_mat);
        }
        let r = self.theta.len();
        let a = Mat::from_fn(out, out, |i, j| {
            (0..r)
                .map(|t| self.e[(i, t)] * self.theta[t] * self.e[(j, t)])
                .sum::<f64>()
        });
        std::borrow::Cow::Owned(Mat::from_fn(out, out, |i, j| 0.5 * (a[(i, j)] + a[(j, i)])))
    }
}

/// The Kronecker curvature engine for one layer over N samples.
#[derive(Debug, Clone)]
pub struct KronCurvature {
    out_dim: usize,
    in_dim: usize,
    classes: usize,
    acts: Mat<f64>,
    samples: Vec<SampleFactor>,
    loss: Loss,
}

/// Per-sample spectrum summary (C13: per-sample Hessians are dominated by
/// their top eigenvalue; for softmax-MSE, how indefinite they are).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpectraSummary {
    /// Mean over samples of `lambda_{p,1} / sum_k |lambda_{p,k}|` (samples with a
    /// non-zero Hessian only).
    pub mean_top_share: f64,
    /// Median of the same share.
    pub median_top_share: f64,
    /// `sum_{p,k} |min(lambda_{p,k}, 0)| / sum_{p,k} |lambda_{p,k}|`.
    pub negative_mass: f64,
    /// Most negative per-sample eigenvalue (0 when all are >= 0).
    pub min_eigenvalue: f64,
    /// `Lambda = max_{p,k} lambda_{p,k}` (Theorem 5.1's bound).
    pub max_eigenvalue: f64,
    /// Mean rank (number of non-negligible eigenvalues) per sample.
    pub mean_rank: f64,
}

/// What [`KronCurvature::projections`] measures on k directions `v_i`.
#[derive(Debug, Clone)]
pub struct Projections {
    /// `g_p . v_i` (N x k).
    pub grad: Mat<f64>,
    /// `v_i^T H v_i` (C8 first moment).
    pub first: Vec<f64>,
    /// `v_i^T E[h_p^2] v_i` (Eq. 15: `C_awd,ii / sigma^2`).
    pub second: Vec<f64>,
    /// `V^T E[h_p^2] V` (k x k) when asked for.
    pub awd_projected: Option<Mat<f64>>,
    /// Per-sample `v_i^T h_p v_i` and `v_i^T h_p^2 v_i` (N x k each), kept by
    /// [`KronCurvature::projections_per_sample`] only: `first` and `second`
    /// are their column means.
    pub per_sample: Option<PerSampleQuadratics>,
}

/// The per-sample quadratic forms behind [`Projections::first`] and
/// [`Projections::second`]: `h[(p, i)] = v_i^T h_p v_i = sum_j theta_pj
/// w_pji^2` and `h2[(p, i)] = v_i^T h_p^2 v_i = |a_p|^2 sum_j theta_pj^2
/// w_pji^2`, `w_pji = e_pj . U_i a_p` (`U_i` the out x in reshape of `v_i`).
#[derive(Debug, Clone)]
pub struct PerSampleQuadratics {
    /// `v_i^T h_p v_i` (N x k).
    pub h: Mat<f64>,
    /// `v_i^T h_p^2 v_i` (N x k).
    pub h2: Mat<f64>,
}

impl Projections {
    /// `C_ii = (1/B) (E_p[(g_p.v_i)^2] - (gbar.v_i)^2)` (Eq. 2).
    pub fn c_diag(&self, batch_size: usize) -> Vec<f64> {
        let (n, k) = (self.grad.nrows(), self.grad.ncols());
        let nb = n as f64;
        (0..k)
            .map(|i| {
                let col = self.grad.col(i);
                let mean = (0..n).map(|p| col[p]).sum::<f64>() / nb;
                let second = (0..n).map(|p| col[p] * col[p]).sum::<f64>() / nb;
                (second - mean * mean) / batch_size as f64
            })
            .collect()
    }

    /// `C' = V^T C V = (1/B) (P^T P / N - m m^T)`, `P = grad`, `m` its column
    /// means (k x k; lower half by GEMM, mirrored, so exactly symmetric).
    pub fn c_projected(&self, batch_size: usize, par: Par) -> Mat<f64> {
        let (n, k) = (self.grad.nrows(), self.grad.ncols());
        let nb = n as f64;
        let mean: Vec<f64> = (0..k)
            .map(|i| (0..n).map(|p| self.grad[(p, i)]).sum::<f64>() / nb)
            .collect();
        let mut acc = Mat::<f64>::zeros(k, k);
        faer::linalg::matmul::triangular::matmul(
            acc.as_mut(),
            faer::linalg::matmul::triangular::BlockStructure::TriangularLower,
            Accum::Replace,
            self.grad.transpose(),
            faer::linalg::matmul::triangular::BlockStructure::Rectangular,
            self.grad.as_ref(),
            faer::linalg::matmul::triangular::BlockStructure::Rectangular,
            1.0 / nb,
            par,
        );
        let b = batch_size as f64;
        Mat::from_fn(k, k, |i, j| {
            let (a, c) = if i >= j { (i, j) } else { (j, i) };
            (acc[(a, c)] - mean[a] * mean[c]) / b
        })
    }
}

impl KronCurvature {
    /// Validates the inputs and factors every `A_p`. `input` names the source
    /// in errors.
    pub fn new(s: &LayerSamples, input: &str) -> Result<Self> {
        Self::build(s, input, true)
    }

    /// [`Self::new`] without keeping the dense `A_p` (out x out per sample,
    /// `8 N out^2` bytes: 5.2 GB for a 256-wide layer at N = 10,000): every
    /// [`SampleFactor::a_mat`] is 0 x 0 and the methods that need `A_p`
    /// rebuild it as `E_p diag(theta_p) E_p^T` (equal to the kept one up to
    /// the eigenvalues `factor_low_rank` drops as negligible,
    /// `|theta| <= 100 max(out, K) eps max|theta|`).
    pub fn new_factored(s: &LayerSamples, input: &str) -> Result<Self> {
        Self::build(s, input, false)
    }

    fn build(s: &LayerSamples, input: &str, keep_dense: bool) -> Result<Self> {
        let n = s.acts.nrows();
        let in_dim = s.acts.ncols();
        if n == 0 {
            return Err(Error::empty(input, "no samples"));
        }
        if s.jacobians.len() != n || s.logits.nrows() != n || s.labels.len() != n {
            return Err(Error::shape(
                input,
                format!("{n} jacobians, logit rows and labels"),
                format!(
                    "{} jacobians, {} logit rows, {} labels",
                    s.jacobians.len(),
                    s.logits.nrows(),
                    s.labels.len()
                ),
            ));
        }
        let classes = s.logits.ncols();
        let out_dim = s.jacobians[0].ncols();
        if classes == 0 || out_dim == 0 || in_dim == 0 {
            return Err(Error::empty(input, "zero classes, outputs or inputs"));
        }
        check_finite(s.acts.as_ref(), &format!("{input}: activities"))?;
        check_finite(s.logits.as_ref(), &format!("{input}: logits"))?;
        for (p, d) in s.jacobians.iter().enumerate() {
            if d.nrows() != classes || d.ncols() != out_dim {
                return Err(Error::shape(
                    &format!("{input}: jacobian of sample {p}"),
                    format!("{classes} x {out_dim}"),
                    format!("{} x {}", d.nrows(), d.ncols()),
                ));
            }
            check_finite(d.as_ref(), &format!("{input}: jacobian of sample {p}"))?;
            let y = s.labels[p];
            if y >= classes {
                return Err(Error::param(
                    &format!("{input}: label of sample {p}"),
                    y,
                    format!("labels must be below the number of logits {classes}"),
                ));
            }
        }
        // Samples are independent: factor them in parallel (each one's
        // arithmetic is sequential, so the result does not depend on the
        // thread count).
        let samples = (0..n)
            .into_par_iter()
            .map(|p| {
                let d = &s.jacobians[p];
                let f: Vec<f64> = (0..classes).map(|k| s.logits[(p, k)]).collect();
                let (loss, q, m) = s.loss.derivatives(&f, s.labels[p]);
                let delta: Vec<f64> = (0..out_dim)
                    .map(|o| (0..classes).map(|k| d[(k, o)] * q[k]).sum())
                    .collect();
                let a_raw = d.transpose() * &m * d;
                let a_mat = Mat::from_fn(out_dim, out_dim, |i, j| {
                    0.5 * (a_raw[(i, j)] + a_raw[(j, i)])
                });
                let (e, theta) = factor_low_rank(d.as_ref(), m.as_ref(), &a_mat, input)?;
                let a_mat = if keep_dense { a_mat } else { Mat::zeros(0, 0) };
                let act_norm2 = (0..in_dim).map(|i| s.acts[(p, i)].powi(2)).sum();
                Ok(SampleFactor {
                    loss,
                    delta,
                    a_mat,
                    e,
                    theta,
                    act_norm2,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(KronCurvature {
            out_dim,
            in_dim,
            classes,
            acts: s.acts.clone(),
            samples,
            loss: s.loss,
        })
    }

    /// Number of samples N.
    pub fn n(&self) -> usize {
        self.samples.len()
    }
    /// Parameter dimension `d = out * in`.
    pub fn d(&self) -> usize {
        self.out_dim * self.in_dim
    }
    /// `(out, in)` of the layer.
    pub fn layer_shape(&self) -> (usize, usize) {
        (self.out_dim, self.in_dim)
    }
    /// Number of logits K.
    pub fn classes(&self) -> usize {
        self.classes
    }
    /// The loss the engine was built for.
    pub fn loss(&self) -> Loss {
        self.loss
    }
    /// The per-sample factors.
    pub fn samples(&self) -> &[SampleFactor] {
        &self.samples
    }
    /// Mean per-sample loss.
    pub fn mean_loss(&self) -> f64 {
        self.samples.iter().map(|s| s.loss).sum::<f64>() / self.n() as f64
    }

    /// Per-sample gradients `g_p = delta_p (x) a_p` as rows: N x d.
    pub fn per_sample_gradients(&self) -> Mat<f64> {
        let inn = self.in_dim;
        Mat::from_fn(self.n(), self.d(), |p, j| {
            self.samples[p].delta[j / inn] * self.acts[(p, j % inn)]
        })
    }

    /// The dense per-sample Hessian `h_p = A_p (x) a_p a_p^T` (d x d; for
    /// tests and small layers only).
    pub fn per_sample_hessian(&self, p: usize) -> Result<Mat<f64>> {
        let s = self
            .samples
            .get(p)
            .ok_or_else(|| Error::param("sample", p, format!("only {} samples", self.n())))?;
        let inn = self.in_dim;
        let a = s.a_dense();
        Ok(Mat::from_fn(self.d(), self.d(), |r, c| {
            a[(r / inn, c / inn)] * self.acts[(p, r % inn)] * self.acts[(p, c % inn)]
        }))
    }

    /// The factored eigenpairs of `h_p`: (d x r orthonormal, r eigenvalues
    /// descending), zero eigenvalues dropped.
    pub fn per_sample_eig(&self, p: usize) -> Result<(Mat<f64>, Vec<f64>)> {
        let s = self
            .samples
            .get(p)
            .ok_or_else(|| Error::param("sample", p, format!("only {} samples", self.n())))?;
        let inn = self.in_dim;
        let norm = s.act_norm2.sqrt();
        if norm == 0.0 || s.theta.is_empty() {
            return Ok((Mat::zeros(self.d(), 0), vec![]));
        }
        let r = s.theta.len();
        let u = Mat::from_fn(self.d(), r, |j, k| {
            s.e[(j / inn, k)] * self.acts[(p, j % inn)] / norm
        });
        let values = s.theta.iter().map(|t| t * s.act_norm2).collect();
        Ok((u, values))
    }

    /// All per-sample eigenpairs, in the form `Ensemble::from_samples` takes.
    pub fn factored_samples(&self) -> Result<Vec<(Mat<f64>, Vec<f64>)>> {
        (0..self.n()).map(|p| self.per_sample_eig(p)).collect()
    }

    /// `H = E_p[h_p]` (d x d) through `X^T Y / N` over the symmetric halves:
    /// `X_p = vech(A_p)`, `Y_p = vech(a_p a_p^T)` (pairs `o >= o'`, `i >= i'`),
    /// so the product is `N (out(out+1)/2) (in(in+1)/2)`, a quarter of the
    /// full `N out^2 in^2`, and H comes out exactly symmetric. `par`: faer's
    /// parallelism for the product.
    pub fn hessian_with(&self, par: Par) -> Mat<f64> {
        self.packed_kron_mean(par, |s| s.a_dense().into_owned())
    }

    /// [`Self::hessian_with`] with faer's global parallelism.
    pub fn hessian(&self) -> Mat<f64> {
        self.hessian_with(faer::get_global_parallelism())
    }

    /// `E_p[h_p^2] = E_p[|a_p|^2 A_p^2 (x) a_p a_p^T]` (d x d), built like H
    /// (Eq. 15's matrix: `C_awd = sigma^2 E[h_p^2]`, C8).
    pub fn second_moment_with(&self, par: Par) -> Mat<f64> {
        self.packed_kron_mean(par, |s| {
            let a = s.a_dense();
            let a2 = a.as_ref() * a.as_ref();
            Mat::from_fn(a2.nrows(), a2.ncols(), |i, j| {
                0.5 * s.act_norm2 * (a2[(i, j)] + a2[(j, i)])
            })
        })
    }

    /// `E_p[B_p (x) a_p a_p^T]` for symmetric `B_p = left(sample p)`, through
    /// the packed product (see [`Self::hessian_with`]).
    fn packed_kron_mean(
        &self,
        par: Par,
        left: impl Fn(&SampleFactor) -> Mat<f64> + Sync,
    ) -> Mat<f64> {
        let (out, inn, n) = (self.out_dim, self.in_dim, self.n());
        let pairs = |m: usize| -> Vec<(usize, usize)> {
            (0..m).flat_map(|a| (0..=a).map(move |b| (a, b))).collect()
        };
        let (po, pi) = (pairs(out), pairs(inn));
        let mut x = Mat::<f64>::zeros(n, po.len());
        // In chunks of samples, so that only `CHUNK` of the out x out
        // matrices are alive at once (all N of them would be `8 N out^2`
        // bytes).
        const CHUNK: usize = 1024;
        for start in (0..n).step_by(CHUNK) {
            let len = CHUNK.min(n - start);
            let rows: Vec<Mat<f64>> = self.samples[start..start + len]
                .par_iter()
                .map(&left)
                .collect();
            for (j, &(a, b)) in po.iter().enumerate() {
                for (q, bm) in rows.iter().enumerate() {
                    x[(start + q, j)] = bm[(a, b)];
                }
            }
        }
        let mut y = Mat::<f64>::zeros(n, pi.len());
        for (j, &(a, b)) in pi.iter().enumerate() {
            for p in 0..n {
                y[(p, j)] = self.acts[(p, a)] * self.acts[(p, b)];
            }
        }
        let mut xy = Mat::<f64>::zeros(po.len(), pi.len());
        matmul(
            xy.as_mut(),
            Accum::Replace,
            x.transpose(),
            y.as_ref(),
            1.0 / n as f64,
            par,
        );
        let pair = |a: usize, b: usize| {
            if a >= b {
                a * (a + 1) / 2 + b
            } else {
                b * (b + 1) / 2 + a
            }
        };
        let d = self.d();
        let mut h = Mat::<f64>::zeros(d, d);
        for c in 0..d {
            let (o2, i2) = (c / inn, c % inn);
            for r in 0..d {
                h[(r, c)] = xy[(pair(r / inn, o2), pair(r % inn, i2))];
            }
        }
        h
    }

    /// `H` through the full `X^T Y / N` (rows `vec(A_p)`, `vec(a_p a_p^T)`),
    /// symmetrised: the session-1 construction, kept as the reference that
    /// tests and the benchmark compare [`Self::hessian_with`] against.
    pub fn hessian_unpacked(&self) -> Mat<f64> {
        let (out, inn, n) = (self.out_dim, self.in_dim, self.n());
        let a: Vec<_> = self.samples.iter().map(SampleFactor::a_dense).collect();
        let x = Mat::from_fn(n, out * out, |p, j| a[p][(j / out, j % out)]);
        let y = Mat::from_fn(n, inn * inn, |p, j| {
            self.acts[(p, j / inn)] * self.acts[(p, j % inn)]
        });
        let xy = x.transpose() * &y;
        let scale = 1.0 / n as f64;
        let d = self.d();
        let entry = |r: usize, c: usize| {
            let (o, i, o2, i2) = (r / inn, r % inn, c / inn, c % inn);
            xy[(o * out + o2, i * inn + i2)] * scale
        };
        Mat::from_fn(d, d, |r, c| 0.5 * (entry(r, c) + entry(c, r)))
    }

    /// Top-k eigenpairs of `H` (descending) by [`crate::linalg::sym_eig_top`].
    pub fn hessian_top_eig(&self, k: usize, par: Par) -> Result<crate::linalg::SymEig> {
        crate::linalg::sym_eig_top(
            self.hessian_with(par),
            k,
            par,
            "H (Kronecker layer Hessian)",
        )
    }

    /// Eigendecomposition of `H`, descending (faer).
    pub fn hessian_eig(&self) -> Result<crate::linalg::SymEig> {
        sym_eig(self.hessian().as_ref(), "H (Kronecker layer Hessian)")
    }

    /// `C' = V^T C V` (k x k) for the columns `v` of `vectors` (d x k), with
    /// `C = (1/B) (E[g g^T] - gbar gbar^T)` (Eq. 2) and `B = batch_size`.
    pub fn c_projected(&self, vectors: MatRef<'_, f64>, batch_size: usize) -> Result<Mat<f64>> {
        let pr = self.gradient_projections(vectors, batch_size)?;
        let (n, k) = (pr.nrows(), pr.ncols());
        let mean: Vec<f64> = (0..k)
            .map(|i| (0..n).map(|p| pr[(p, i)]).sum::<f64>() / n as f64)
            .collect();
        let second = pr.transpose() * &pr;
        let scale = 1.0 / (n as f64 * batch_size as f64);
        Ok(Mat::from_fn(k, k, |i, j| {
            second[(i, j)] * scale - mean[i] * mean[j] / batch_size as f64
        }))
    }

    /// `C_ii = v_i^T C v_i` for the columns of `vectors` (Eq. 2, `B = batch_size`).
    pub fn c_diag(&self, vectors: MatRef<'_, f64>, batch_size: usize) -> Result<Vec<f64>> {
        let pr = self.gradient_projections(vectors, batch_size)?;
        let (n, k) = (pr.nrows(), pr.ncols());
        let nb = n as f64;
        Ok((0..k)
            .map(|i| {
                let mean = (0..n).map(|p| pr[(p, i)]).sum::<f64>() / nb;
                let second = (0..n).map(|p| pr[(p, i)].powi(2)).sum::<f64>() / nb;
                (second - mean * mean) / batch_size as f64
            })
            .collect())
    }

    /// `P = G V` (N x k): every sample's gradient projected on every column.
    pub fn gradient_projections(
        &self,
        vectors: MatRef<'_, f64>,
        batch_size: usize,
    ) -> Result<Mat<f64>> {
        self.check_vectors(vectors)?;
        if batch_size == 0 {
            return Err(Error::param("batch size", 0, "must be at least 1"));
        }
        Ok(self.per_sample_gradients() * vectors)
    }

    fn check_vectors(&self, vectors: MatRef<'_, f64>) -> Result<()> {
        if vectors.nrows() != self.d() {
            return Err(Error::shape(
                "projection vectors",
                format!("{} rows (d = out * in)", self.d()),
                vectors.nrows(),
            ));
        }
        check_finite(vectors, "projection vectors")
    }

    /// For each column `v_i` of `vectors`: `(E_p[sum_j theta_j w_ji^2],
    /// E_p[|a_p|^2 sum_j theta_j^2 w_ji^2])` with `w_ji = e_{p,j} . V_i a_p`,
    /// i.e. `(v_i^T H v_i, v_i^T E[h_p^2] v_i)` (C8), never forming `h_p`:
    /// the diagonal part of [`Self::projections`]. Samples are processed in
    /// chunks of `chunk` (memory `k * d * chunk / in`).
    pub fn first_second_moment_diag(
        &self,
        vectors: MatRef<'_, f64>,
        chunk: usize,
    ) -> Result<(Vec<f64>, Vec<f64>)> {
        let p = self.projections(vectors, chunk, false, faer::get_global_parallelism())?;
        Ok((p.first, p.second))
    }

    /// Everything the analysis needs on the columns `v_i` of `vectors`
    /// (d x k) in one pass over the samples:
    /// - `grad[(p, i)] = g_p . v_i = delta_p^T V_i a_p` (N x k), from which
    ///   `C_ii` and `C' = V^T C V` follow ([`Projections::c_diag`],
    ///   [`Projections::c_projected`]);
    /// - `first[i] = v_i^T H v_i` and `second[i] = v_i^T E[h_p^2] v_i` (C8,
    ///   Eq. 15), as [`Self::first_second_moment_diag`];
    /// - with `awd_offdiag`, the whole `V^T E[h_p^2] V` (k x k): with
    ///   `w_{p,j} = (e_{p,j} . V_i a_p)_i` (a k-vector),
    ///   `V^T h_p^2 V = |a_p|^2 sum_j theta_{p,j}^2 w_{p,j} w_{p,j}^T`, so the
    ///   rows `|a_p| theta_{p,j} w_{p,j}` of all samples stack into one
    ///   matrix `S` and `V^T E[h^2] V = S^T S / N` (one GEMM per chunk, lower
    ///   half, mirrored).
    ///
    /// The one big product is `Z = [V_1; ...; V_k] A_chunk^T`
    /// (`k out x in` times `in x chunk`): `2 N d k` flops for all three.
    /// Samples are processed in chunks of `chunk`; `par` is faer's
    /// parallelism for the products.
    pub fn projections(
        &self,
        vectors: MatRef<'_, f64>,
        chunk: usize,
        awd_offdiag: bool,
        par: Par,
    ) -> Result<Projections> {
        self.projections_impl(vectors, chunk, awd_offdiag, false, par)
    }

    /// [`Self::projections`] that also keeps every sample's `v_i^T h_p v_i`
    /// and `v_i^T h_p^2 v_i` ([`Projections::per_sample`], `16 N k` more
    /// bytes): what a bootstrap over samples in the fixed basis `V` needs.
    pub fn projections_per_sample(
        &self,
        vectors: MatRef<'_, f64>,
        chunk: usize,
        awd_offdiag: bool,
        par: Par,
    ) -> Result<Projections> {
        self.projections_impl(vectors, chunk, awd_offdiag, true, par)
    }

    fn projections_impl(
        &self,
        vectors: MatRef<'_, f64>,
        chunk: usize,
        awd_offdiag: bool,
        keep_per_sample: bool,
        par: Par,
    ) -> Result<Projections> {
        self.check_vectors(vectors)?;
        let (out, inn, n, k) = (self.out_dim, self.in_dim, self.n(), vectors.ncols());
        let chunk = chunk.max(1);
        // Vt[(i*out + o), i'] = V_i[o, i'] = v_i[o*in + i'].
        let vt = Mat::from_fn(k * out, inn, |r, c| vectors[((r % out) * inn + c, r / out)]);
        let mut grad = Mat::<f64>::zeros(n, k);
        let mut first = vec![0.0; k];
        let mut second = vec![0.0; k];
        let mut awd = awd_offdiag.then(|| Mat::<f64>::zeros(k, k));
        let mut per_sample = keep_per_sample.then(|| PerSampleQuadratics {
            h: Mat::<f64>::zeros(n, k),
            h2: Mat::<f64>::zeros(n, k),
        });
        let mut z = Mat::<f64>::zeros(k * out, chunk);
        let mut start = 0;
        while start < n {
            let len = chunk.min(n - start);
            let a_chunk = self.acts.subrows(start, len);
            matmul(
                z.as_mut().subcols_mut(0, len),
                Accum::Replace,
                vt.as_ref(),
                a_chunk.transpose(),
                1.0,
                par,
            );
            // Per sample: [e_{p,1..r} | delta_p]^T X_p with X_p = Z[:, q] seen
            // as out x k (column-major: entry (o, i) at i*out + o).
            let per: Vec<Mat<f64>> = (0..len)
                .into_par_iter()
                .map(|q| {
                    let s = &self.samples[start + q];
                    let r = s.theta.len();
                    let col = z.col(q);
                    let owned;
                    let xp = match col.try_as_col_major() {
                        Some(c) => MatRef::from_column_major_slice(c.as_slice(), out, k),
                        None => {
                            owned = Mat::from_fn(out, k, |o, i| col[i * out + o]);
                            owned.as_ref()
                        }
                    };
                    let lhs =
                        Mat::from_fn(
                            r + 1,
                            out,
                            |j, o| {
                                if j < r {
                                    s.e[(o, j)]
                                } else {
                                    s.delta[o]
                                }
                            },
                        );
                    let mut w = Mat::<f64>::zeros(r + 1, k);
                    matmul(
                        w.as_mut(),
                        Accum::Replace,
                        lhs.as_ref(),
                        xp.as_ref(),
                        1.0,
                        Par::Seq,
                    );
                    w
                })
                .collect();
            let rows: usize = per.iter().map(|w| w.nrows() - 1).sum();
            let mut stacked = awd.as_ref().map(|_| Mat::<f64>::zeros(rows, k));
            let mut row = 0;
            for (q, w) in per.iter().enumerate() {
                let p = start + q;
                let s = &self.samples[p];
                let r = s.theta.len();
                for i in 0..k {
                    grad[(p, i)] = w[(r, i)];
                    let (mut f1, mut f2) = (0.0, 0.0);
                    for (j, &t) in s.theta.iter().enumerate() {
                        let w2 = w[(j, i)] * w[(j, i)];
                        f1 += t * w2;
                        f2 += t * t * w2;
                    }
                    first[i] += f1;
                    second[i] += s.act_norm2 * f2;
                    if let Some(ps) = per_sample.as_mut() {
                        ps.h[(p, i)] = f1;
                        ps.h2[(p, i)] = s.act_norm2 * f2;
                    }
                }
                if let Some(st) = stacked.as_mut() {
                    let norm = s.act_norm2.sqrt();
                    for (j, &t) in s.theta.iter().enumerate() {
                        for i in 0..k {
                            st[(row + j, i)] = norm * t * w[(j, i)];
                        }
                    }
                    row += r;
                }
            }
            if let (Some(acc), Some(st)) = (awd.as_mut(), stacked.as_ref()) {
                faer::linalg::matmul::triangular::matmul(
                    acc.as_mut(),
                    faer::linalg::matmul::triangular::BlockStructure::TriangularLower,
                    Accum::Add,
                    st.transpose(),
                    faer::linalg::matmul::triangular::BlockStructure::Rectangular,
                    st.as_ref(),
                    faer::linalg::matmul::triangular::BlockStructure::Rectangular,
                    1.0,
                    par,
                );
            }
            start += len;
        }
        let nb = n as f64;
        let awd_projected = awd.map(|acc| {
            Mat::from_fn(k, k, |i, j| {
                if i >= j {
                    acc[(i, j)] / nb
                } else {
                    acc[(j, i)] / nb
                }
            })
        });
        Ok(Projections {
            grad,
            first: first.into_iter().map(|v| v / nb).collect(),
            second: second.into_iter().map(|v| v / nb).collect(),
            awd_projected,
            per_sample,
        })
    }

    /// The N x N matrix `K_c / (N B)` whose nonzero eigenvalues are those of
    /// the full d x d `C` of Eq. 2 (`B = batch_size`): `C = (1/(N B)) G^T J G`
    /// (`J` the centring matrix) and `K_c = J G G^T J`, where the Gram matrix
    /// is `(G G^T)_pq = (delta_p . delta_q)(a_p . a_q)`, so nothing of size
    /// d x d is formed (cost `N^2 (out + in)`). Exactly symmetric.
    pub fn c_dual_gram(&self, batch_size: usize, par: Par) -> Result<Mat<f64>> {
        if batch_size == 0 {
            return Err(Error::param("batch size", 0, "must be at least 1"));
        }
        let (n, out) = (self.n(), self.out_dim);
        let delta = Mat::from_fn(n, out, |p, o| self.samples[p].delta[o]);
        let mut kd = Mat::<f64>::zeros(n, n);
        matmul(
            kd.as_mut(),
            Accum::Replace,
            delta.as_ref(),
            delta.transpose(),
            1.0,
            par,
        );
        let mut ka = Mat::<f64>::zeros(n, n);
        matmul(
            ka.as_mut(),
            Accum::Replace,
            self.acts.as_ref(),
            self.acts.transpose(),
            1.0,
            par,
        );
        let nb = n as f64;
        // Symmetrise (the GEMMs need not be bitwise symmetric), then centre.
        let mut row_mean = vec![0.0; n];
        for q in 0..n {
            for p in q..n {
                let v = 0.25 * (kd[(p, q)] + kd[(q, p)]) * (ka[(p, q)] + ka[(q, p)]);
                kd[(p, q)] = v;
                kd[(q, p)] = v;
            }
        }
        for q in 0..n {
            row_mean[q] = (0..n).map(|p| kd[(p, q)]).sum::<f64>() / nb;
        }
        let grand = row_mean.iter().sum::<f64>() / nb;
        let scale = 1.0 / (nb * batch_size as f64);
        Ok(Mat::from_fn(n, n, |p, q| {
            (kd[(p, q)] - row_mean[p] - row_mean[q] + grand) * scale
        }))
    }

    /// `(tr C, ||C||_F^2)` of the full d x d `C` of Eq. 2, the spectrum
    /// moments `S1`, `S2` the random-basis null of `rho_bar` needs (C3,
    /// App. C), from [`Self::c_dual_gram`].
    pub fn c_trace_moments(&self, batch_size: usize, par: Par) -> Result<(f64, f64)> {
        let k = self.c_dual_gram(batch_size, par)?;
        let s1 = (0..k.nrows()).map(|i| k[(i, i)]).sum();
        Ok((s1, k.squared_norm_l2()))
    }

    /// `C_awd,ii / sigma^2 = v_i^T E_p[h_p^2] v_i` for the columns of `vectors` (Eq. 15).
    pub fn c_awd_diag(&self, vectors: MatRef<'_, f64>) -> Result<Vec<f64>> {
        Ok(self.first_second_moment_diag(vectors, 64)?.1)
    }

    /// Summary of the per-sample spectra `lambda_{p,k} = theta_{p,k} |a_p|^2`.
    pub fn spectra_summary(&self) -> SpectraSummary {
        let mut shares = Vec::with_capacity(self.n());
        let (mut neg, mut total) = (0.0, 0.0);
        let (mut min, mut max) = (0.0f64, f64::NEG_INFINITY);
        let mut rank = 0usize;
        for s in &self.samples {
            let lam: Vec<f64> = s.theta.iter().map(|t| t * s.act_norm2).collect();
            rank += lam.len();
            let abs: f64 = lam.iter().map(|l| l.abs()).sum();
            if abs > 0.0 {
                shares.push(lam[0] / abs);
            }
            total += abs;
            neg += lam.iter().filter(|l| **l < 0.0).map(|l| -l).sum::<f64>();
            for l in lam {
                min = min.min(l);
                max = max.max(l);
            }
        }
        shares.sort_by(|a, b| a.total_cmp(b));
        let mean = if shares.is_empty() {
            0.0
        } else {
            shares.iter().sum::<f64>() / shares.len() as f64
        };
        let median = if shares.is_empty() {
            0.0
        } else if shares.len() % 2 == 1 {
            shares[shares.len() / 2]
        } else {
            0.5 * (shares[shares.len() / 2 - 1] + shares[shares.len() / 2])
        };
        SpectraSummary {
            mean_top_share: mean,
            median_top_share: median,
            negative_mass: if total > 0.0 { neg / total } else { 0.0 },
            min_eigenvalue: min,
            max_eigenvalue: if max.is_finite() { max } else { 0.0 },
            mean_rank: rank as f64 / self.n() as f64,
        }
    }
}

/// Eigenpairs of `A = D^T M D` with non-negligible eigenvalue, through the
/// K x K problem `R M R^T` (`D^T = Q R`) when K < out, else directly.
/// Negligible: `|theta| <= 100 max(out, K) eps max|theta|`.
fn factor_low_rank(
    d: MatRef<'_, f64>,
    m: MatRef<'_, f64>,
    a: &Mat<f64>,
    input: &str,
) -> Result<(Mat<f64>, Vec<f64>)> {
    let (k, out) = (d.nrows(), d.ncols());
    let (vectors, values) = if k < out {
        let dt = d.transpose().to_owned();
        let qr = dt.qr();
        let q = qr.compute_thin_Q(); // out x K
        let r = qr.thin_R().to_owned(); // K x K
        let small = &r * m * r.transpose();
        let small = Mat::from_fn(k, k, |i, j| 0.5 * (small[(i, j)] + small[(j, i)]));
        let eig = sym_eig(small.as_ref(), &format!("{input}: R M R^T"))?;
        (&q * &eig.vectors, eig.values)
    } else {
        let eig = sym_eig(a.as_ref(), &format!("{input}: A_p"))?;
        (eig.vectors, eig.values)
    };
    let scale = values.iter().fold(0.0f64, |acc, v| acc.max(v.abs()));
    let tol = 100.0 * out.max(k) as f64 * f64::EPSILON * scale;
    let keep: Vec<usize> = (0..values.len())
        .filter(|&j| values[j].abs() > tol && scale > 0.0)
        .collect();
    let e = Mat::from_fn(out, keep.len(), |o, c| vectors[(o, keep[c])]);
    Ok((e, keep.iter().map(|&j| values[j]).collect()))
}
