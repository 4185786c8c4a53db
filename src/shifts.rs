//! The random shifts model (RSM) of App. E.4.3 (claim C12), on a synthetic
//! loss with a tunable third derivative.
//!
//! # The loss
//! With an orthonormal frame `Q = [q_1 .. q_m]` (d x m, Haar-random from a
//! seed) and `s = Q^T w`,
//!
//! ```text
//! L(w) = sum_i (lambda_i / 2) s_i^2 + (kappa_i / 6) s_i^3,
//! grad L(w) = Q (lambda s + kappa s^2 / 2),     hess L(w) = Q diag(lambda + kappa s) Q^T.
//! ```
//!
//! So `H = hess L(0) = Q diag(lambda) Q^T`, and the third-derivative tensor is
//! diagonal in Q: `T_iii = kappa_i` (the "aligned" geometry of Eq. 105; a
//! general tensor would also rotate the per-batch curvature axes, Eq. 104,
//! and is not modelled here).
//!
//! # Batches (Eq. 96)
//! Batch b has loss `L_b(w) = L(w - eps_b)`, `eps_b ~ N(0, sigma^2 I_d)`
//! i.i.d. At `w = 0`, with `x_b = Q^T eps_b ~ N(0, sigma^2 I_m)`:
//!
//! ```text
//! g_b = grad L(-eps_b) = Q (-lambda x_b + kappa x_b^2 / 2),
//! h_b = hess L(-eps_b) = Q diag(lambda - kappa x_b) Q^T,
//! ```
//!
//! a perfectly aligned per-batch Hessian ensemble ([`ShiftsSample::ensemble`])
//! whose eigenvalues go negative where `kappa_i x_bi > lambda_i`: with
//! Gaussian shifts that has probability `Phi(-lambda_i / (sigma |kappa_i|))`
//! per direction, so the ensemble is PSD only approximately, for
//! `sigma |kappa_i| << lambda_i`. Note that the mean batch gradient at `w = 0`
//! is `Q kappa sigma^2 / 2`, not zero (Eq. 2 subtracts it).
//!
//! # Exact moments (per direction q_i; all off-diagonal terms vanish)
//! - Noise covariance (Eq. 2 with B = 1, the covariance of the batch
//!   gradient): `C_ii = sigma^2 lambda_i^2 + kappa_i^2 sigma^4 / 2`, since
//!   `Var(x^2) = 2 sigma^4` and `Cov(x, x^2) = 0`
//!   ([`ShiftsModel::covariance_exact_diag`]). Leading order (Eq. 103):
//!   `C = sigma^2 H^2`, gamma = 2; the relative correction is
//!   `rho_i^2 / 2` with `rho_i = sigma kappa_i / lambda_i`.
//! - Per-batch Hessian moments: `E[h]_ii = lambda_i`,
//!   `Var(lambda_bi) = sigma^2 kappa_i^2` (Eq. 112), so
//!   `v_i^T E[h^2] v_i = lambda_i^2 + sigma^2 kappa_i^2`
//!   ([`ShiftsModel::awd_second_moment_diag`]). Its exponent against H
//!   (gamma_awd) is 2 at every sigma iff `kappa_i ~ lambda_i` (the
//!   self-similarity condition, Eq. 113-114; then C10 holds with
//!   `alpha = sigma^2 (kappa_i / lambda_i)^2`). With constant kappa it tends
//!   to 0 as `lambda_i -> 0`.
//! - The AWD identification `C = sigma^2 E[h^2]` (C7) is not exact here:
//!   `sigma^2 E[h^2]_ii - C_ii = kappa_i^2 sigma^4 / 2`, i.e. it doubles the
//!   kappa correction.
//!
//! The Monte Carlo ([`ShiftsModel::sample`]) draws `eps_b` from a seeded
//! ChaCha stream and builds `g_b` and `h_b` exactly; [`ShiftsSample::diagonals`]
//! computes H, C (Eq. 2) and `E[h^2]` from any multiset of batches (for the
//! bootstrap) in the eigenbasis of the Monte Carlo H.

use faer::{Mat, MatRef};
use rand_distr::{Distribution, Normal};
use serde::Serialize;
use statrs::distribution::{ContinuousCDF, Normal as StatNormal};

use crate::ensemble::{orthonormal_tolerance, Ensemble};
use crate::error::{Error, Result};
use crate::linalg::{
    check_finite, check_finite_slice, haar_frame, orthonormality_residual, seeded_rng,
    seeded_stream, sym_eig,
};
use crate::moments::{diag_in_basis, noise_covariance};

/// A recipe for a seeded RSM loss: `lambda_i` log-spaced from 1 down to
/// `10^-decades` over `m` directions, `kappa_i = kappa_scale * lambda_i^kappa_exponent`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ShiftsSpec {
    /// Dimension of the parameter space.
    pub d: usize,
    /// Number of curved directions m (1 <= m <= d).
    pub m: usize,
    /// Decades spanned by the curvatures `lambda_i`.
    pub decades: f64,
    /// Prefactor c of `kappa_i = c lambda_i^beta`.
    pub kappa_scale: f64,
    /// Exponent beta of `kappa_i = c lambda_i^beta` (1: self-similar; 0: constant).
    pub kappa_exponent: f64,
    /// Seed of the frame Q.
    pub seed: u64,
}

impl ShiftsSpec {
    /// The curvatures `lambda_i`, descending.
    pub fn curvatures(&self) -> Vec<f64> {
        (0..self.m)
            .map(|i| {
                if self.m == 1 {
                    1.0
                } else {
                    10f64.powf(-self.decades * i as f64 / (self.m - 1) as f64)
                }
            })
            .collect()
    }

    /// Builds the model (Haar frame Q from `seed`).
    pub fn build(&self) -> Result<ShiftsModel> {
        if self.d == 0 || self.m == 0 || self.m > self.d {
            return Err(Error::param(
                "m",
                self.m,
                format!("need 1 <= m <= d = {}", self.d),
            ));
        }
        if !(self.decades.is_finite() && (0.0..=250.0).contains(&self.decades)) {
            return Err(Error::param("decades", self.decades, "must be in [0, 250]"));
        }
        if !self.kappa_scale.is_finite() || !self.kappa_exponent.is_finite() {
            return Err(Error::param(
                "kappa law",
                format!("{} * lambda^{}", self.kappa_scale, self.kappa_exponent),
                "must be finite",
            ));
        }
        let lambda = self.curvatures();
        let kappa = lambda
            .iter()
            .map(|l| self.kappa_scale * l.powf(self.kappa_exponent))
            .collect();
        let q = haar_frame(self.d, self.m, &mut seeded_rng(self.seed))?;
        ShiftsModel::new(q, lambda, kappa)
    }
}

/// `L(w) = sum_i (lambda_i/2)(q_i.w)^2 + (kappa_i/6)(q_i.w)^3` (see the module doc).
#[derive(Debug, Clone)]
pub struct ShiftsModel {
    q: Mat<f64>,
    lambda: Vec<f64>,
    kappa: Vec<f64>,
}

impl ShiftsModel {
    /// Checks that Q (d x m) has orthonormal columns, that `lambda` and
    /// `kappa` have m finite entries and that every `lambda_i > 0` (H is the
    /// Hessian at a strict minimum).
    pub fn new(q: Mat<f64>, lambda: Vec<f64>, kappa: Vec<f64>) -> Result<Self> {
        let m = q.ncols();
        if m == 0 || q.nrows() < m {
            return Err(Error::shape(
                "frame Q",
                "d x m with 1 <= m <= d",
                format!("{} x {}", q.nrows(), m),
            ));
        }
        if lambda.len() != m || kappa.len() != m {
            return Err(Error::shape(
                "lambda, kappa",
                format!("{m} values each (one per column of Q)"),
                format!("{} and {}", lambda.len(), kappa.len()),
            ));
        }
        check_finite(q.as_ref(), "frame Q")?;
        check_finite_slice(&lambda, "lambda")?;
        check_finite_slice(&kappa, "kappa")?;
        if let Some(i) = lambda.iter().position(|&l| l <= 0.0) {
            return Err(Error::NotPositive {
                input: "lambda (curvatures at the minimum)".into(),
                index: i,
                value: lambda[i],
            });
        }
        let res = orthonormality_residual(q.as_ref());
        let tol = orthonormal_tolerance(q.nrows());
        if res > tol {
            return Err(Error::NotOrthonormal {
                input: "frame Q".into(),
                residual: res,
                tol,
            });
        }
        Ok(ShiftsModel { q, lambda, kappa })
    }

    /// Dimension d.
    pub fn d(&self) -> usize {
        self.q.nrows()
    }

    /// Number of curved directions m.
    pub fn m(&self) -> usize {
        self.q.ncols()
    }

    /// The frame Q (d x m).
    pub fn basis(&self) -> MatRef<'_, f64> {
        self.q.as_ref()
    }

    /// Curvatures `lambda_i` (eigenvalues of H on Q).
    pub fn lambda(&self) -> &[f64] {
        &self.lambda
    }

    /// Third derivatives `kappa_i = T_iii`.
    pub fn kappa(&self) -> &[f64] {
        &self.kappa
    }

    fn coords(&self, w: &[f64], input: &str) -> Result<Vec<f64>> {
        if w.len() != self.d() {
            return Err(Error::shape(input, self.d(), w.len()));
        }
        check_finite_slice(w, input)?;
        Ok((0..self.m())
            .map(|i| (0..self.d()).map(|r| self.q[(r, i)] * w[r]).sum())
            .collect())
    }

    /// `L(w)`.
    pub fn loss(&self, w: &[f64]) -> Result<f64> {
        let s = self.coords(w, "w")?;
        Ok((0..self.m())
            .map(|i| self.lambda[i] / 2.0 * s[i] * s[i] + self.kappa[i] / 6.0 * s[i].powi(3))
            .sum())
    }

    /// `grad L(w) = Q (lambda s + kappa s^2 / 2)`.
    pub fn gradient(&self, w: &[f64]) -> Result<Vec<f64>> {
        let s = self.coords(w, "w")?;
        let y: Vec<f64> = (0..self.m())
            .map(|i| self.lambda[i] * s[i] + self.kappa[i] / 2.0 * s[i] * s[i])
            .collect();
        Ok((0..self.d())
            .map(|r| (0..self.m()).map(|i| self.q[(r, i)] * y[i]).sum())
            .collect())
    }

    /// Eigenvalues of `hess L(w)` on the columns of Q: `lambda + kappa s`
    /// (the complement of Q has eigenvalue 0).
    pub fn hessian_eigenvalues(&self, w: &[f64]) -> Result<Vec<f64>> {
        let s = self.coords(w, "w")?;
        Ok((0..self.m())
            .map(|i| self.lambda[i] + self.kappa[i] * s[i])
            .collect())
    }

    /// `rho_i = sigma |kappa_i| / lambda_i`, the expansion parameter.
    pub fn expansion_ratios(&self, sigma: f64) -> Vec<f64> {
        self.lambda
            .iter()
            .zip(&self.kappa)
            .map(|(l, k)| sigma * k.abs() / l)
            .collect()
    }

    /// Exact `C_ii = sigma^2 lambda_i^2 + kappa_i^2 sigma^4 / 2`.
    pub fn covariance_exact_diag(&self, sigma: f64) -> Vec<f64> {
        let s2 = sigma * sigma;
        self.lambda
            .iter()
            .zip(&self.kappa)
            .map(|(l, k)| s2 * l * l + k * k * s2 * s2 / 2.0)
            .collect()
    }

    /// Leading order `C_ii = sigma^2 lambda_i^2` (Eq. 103).
    pub fn covariance_leading_diag(&self, sigma: f64) -> Vec<f64> {
        self.lambda.iter().map(|l| sigma * sigma * l * l).collect()
    }

    /// Exact `v_i^T E[h^2] v_i = lambda_i^2 + sigma^2 kappa_i^2` of the
    /// per-batch Hessians (no sigma^2 prefactor).
    pub fn awd_second_moment_diag(&self, sigma: f64) -> Vec<f64> {
        self.lambda
            .iter()
            .zip(&self.kappa)
            .map(|(l, k)| l * l + sigma * sigma * k * k)
            .collect()
    }

    /// Probability that the per-batch eigenvalue on `q_i` is negative,
    /// `Phi(-lambda_i / (sigma |kappa_i|))` (0 when kappa_i = 0).
    pub fn negative_probability(&self, sigma: f64) -> Result<Vec<f64>> {
        let std =
            StatNormal::new(0.0, 1.0).map_err(|e| Error::param("normal", 0, e.to_string()))?;
        Ok(self
            .lambda
            .iter()
            .zip(&self.kappa)
            .map(|(l, k)| {
                let s = sigma * k.abs();
                if s == 0.0 {
                    0.0
                } else {
                    std.cdf(-l / s)
                }
            })
            .collect())
    }

    /// Draws `batches` shifts `eps ~ N(0, sigma^2 I_d)` from stream 112 of
    /// `seed`, with the exact batch gradients and per-batch Hessian eigenvalues.
    pub fn sample(&self, sigma: f64, batches: usize, seed: u64) -> Result<ShiftsSample> {
        if !(sigma.is_finite() && sigma > 0.0) {
            return Err(Error::param("sigma", sigma, "must be finite and positive"));
        }
        if batches < 2 {
            return Err(Error::param(
                "batches",
                batches,
                "a covariance needs at least 2 batches",
            ));
        }
        let (d, m) = (self.d(), self.m());
        let normal =
            Normal::new(0.0, sigma).map_err(|e| Error::param("sigma", sigma, e.to_string()))?;
        let mut rng = seeded_stream(seed, 112);
        let eps = Mat::from_fn(batches, d, |_, _| normal.sample(&mut rng));
        let x = &eps * &self.q; // batches x m: x_b = Q^T eps_b
        let y = Mat::from_fn(batches, m, |b, i| {
            -self.lambda[i] * x[(b, i)] + self.kappa[i] / 2.0 * x[(b, i)] * x[(b, i)]
        });
        let grads = &y * self.q.transpose();
        let eigenvalues = Mat::from_fn(batches, m, |b, i| {
            self.lambda[i] - self.kappa[i] * x[(b, i)]
        });
        Ok(ShiftsSample {
            sigma,
            shifts: eps,
            grads,
            eigenvalues,
        })
    }
}

/// A Monte Carlo draw of the RSM: shifts, batch gradients at `w = 0`, and
/// per-batch Hessian eigenvalues on Q.
#[derive(Debug, Clone)]
pub struct ShiftsSample {
    /// The shift scale sigma.
    pub sigma: f64,
    /// `eps_b` as rows (batches x d).
    pub shifts: Mat<f64>,
    /// `g_b = grad L(-eps_b)` as rows (batches x d).
    pub grads: Mat<f64>,
    /// `lambda_i - kappa_i (q_i . eps_b)` (batches x m).
    pub eigenvalues: Mat<f64>,
}

/// `H_ii`, `C_ii` (Eq. 2, B = 1) and `v_i^T E[h^2] v_i` in the eigenbasis of
/// the Monte Carlo H, descending in `H_ii`.
#[derive(Debug, Clone, PartialEq)]
pub struct ShiftsDiagonals {
    /// Eigenvalues of `H = mean_b h_b`, descending.
    pub h: Vec<f64>,
    /// `v_i^T C v_i`, C from the batch gradients.
    pub c: Vec<f64>,
    /// `v_i^T mean_b(h_b^2) v_i`.
    pub second: Vec<f64>,
}

impl ShiftsSample {
    /// Number of batches.
    pub fn batches(&self) -> usize {
        self.grads.nrows()
    }

    /// Fraction of per-batch eigenvalues `< 0` (the PSD assumption broken).
    pub fn negative_fraction(&self) -> f64 {
        let e = &self.eigenvalues;
        let neg = (0..e.nrows())
            .flat_map(|b| (0..e.ncols()).map(move |i| (b, i)))
            .filter(|&(b, i)| e[(b, i)] < 0.0)
            .count();
        neg as f64 / (e.nrows() * e.ncols()).max(1) as f64
    }

    /// `q_i^T C q_i` on the model's frame, in the model's order (C by Eq. 2,
    /// B = 1, over all batches): what [`ShiftsModel::covariance_exact_diag`]
    /// predicts.
    pub fn covariance_on_frame(&self, model: &ShiftsModel) -> Result<Vec<f64>> {
        let c = noise_covariance(self.grads.as_ref(), 1)?;
        diag_in_basis(c.as_ref(), model.basis())
    }

    /// The per-batch Hessians as a perfectly aligned [`Ensemble`] (rank m per batch).
    pub fn ensemble(&self, model: &ShiftsModel) -> Result<Ensemble> {
        let samples = (0..self.batches())
            .map(|b| {
                (
                    model.q.clone(),
                    (0..model.m()).map(|i| self.eigenvalues[(b, i)]).collect(),
                )
            })
            .collect();
        Ensemble::from_samples(model.d(), samples, "RSM per-batch Hessians")
    }

    /// The diagonals over the batches `indices` (repeats allowed), or all
    /// batches when `None`.
    pub fn diagonals(
        &self,
        model: &ShiftsModel,
        indices: Option<&[usize]>,
    ) -> Result<ShiftsDiagonals> {
        let all: Vec<usize>;
        let idx = match indices {
            Some(i) => i,
            None => {
                all = (0..self.batches()).collect();
                &all
            }
        };
        if idx.len() < 2 {
            return Err(Error::empty("batch selection", "fewer than 2 batches"));
        }
        if let Some(&bad) = idx.iter().find(|&&b| b >= self.batches()) {
            return Err(Error::param(
                "batch index",
                bad,
                format!("sample has {} batches", self.batches()),
            ));
        }
        let (d, m) = (model.d(), model.m());
        let nb = idx.len() as f64;
        let mut mean1 = vec![0.0; m];
        let mut mean2 = vec![0.0; m];
        for &b in idx {
            for i in 0..m {
                let l = self.eigenvalues[(b, i)];
                mean1[i] += l / nb;
                mean2[i] += l * l / nb;
            }
        }
        let q = model.basis();
        let dense = |w: &[f64]| {
            let scaled = Mat::from_fn(d, m, |r, i| q[(r, i)] * w[i]);
            let mut a = &scaled * q.transpose();
            for j in 0..d {
                for i in 0..j {
                    let s = 0.5 * (a[(i, j)] + a[(j, i)]);
                    a[(i, j)] = s;
                    a[(j, i)] = s;
                }
            }
            a
        };
        let h = dense(&mean1);
        let eig = sym_eig(h.as_ref(), "RSM Monte Carlo H")?;
        let grads = Mat::from_fn(idx.len(), d, |r, j| self.grads[(idx[r], j)]);
        let c = noise_covariance(grads.as_ref(), 1)?;
        let s2 = dense(&mean2);
        // Only the m curved directions: the complement of Q has H = C = 0.
        let v = eig.vectors.as_ref().subcols(0, m);
        Ok(ShiftsDiagonals {
            h: eig.values[..m].to_vec(),
            c: diag_in_basis(c.as_ref(), v)?,
            second: diag_in_basis(s2.as_ref(), v)?,
        })
    }
}

/// Sampling tolerance for the Monte Carlo `C_ii` of `batches` batches: per
/// direction, `z sqrt((mu4 - var^2) / N) + var / N` (the standard error of a
/// sample variance plus its 1/N bias), with the exact fourth central moment
/// of `y = a z + b (z^2 - 1)`, `a = -lambda sigma`, `b = kappa sigma^2 / 2`:
/// `mu4 = 3 a^4 + 60 a^2 b^2 + 60 b^4`, `var = a^2 + 2 b^2`.
pub fn covariance_tolerance(model: &ShiftsModel, sigma: f64, batches: usize, z: f64) -> Vec<f64> {
    let n = batches.max(1) as f64;
    model
        .lambda
        .iter()
        .zip(&model.kappa)
        .map(|(l, k)| {
            let a = l * sigma;
            let b = k * sigma * sigma / 2.0;
            let var = a * a + 2.0 * b * b;
            let mu4 = 3.0 * a.powi(4) + 60.0 * a * a * b * b + 60.0 * b.powi(4);
            z * ((mu4 - var * var).max(0.0) / n).sqrt() + var / n
        })
        .collect()
}
