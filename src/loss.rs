//! The loss of a classifier on its logits `f` (length K), one type for the
//! whole crate: value, gradient and Hessian with respect to `f` in closed form
//! on ndarray (the small MLPs of claims C1, C5) and on faer (the Kronecker
//! engine of [`crate::kron`], claims C9-C15), and the names reports use.
//!
//! With `p = softmax(f)`, `S = diag(p) - p p^T` and the one-hot `e_y`:
//!
//! - cross-entropy (negative log-likelihood): `l = logsumexp(f) - f_y`,
//!   `dl/df = p - e_y`, `d2l/df2 = S` (independent of the label);
//! - softmax then MSE (the paper's MSE setting, "softmax before MSE"):
//!   `l = (1/K) |p - e_y|^2`, which is PyTorch's
//!   `mse_loss(softmax(f), onehot)` with mean reduction over the K entries;
//!   with `q = p - e_y`, `dl/df = (2/K) S q` and
//!   `d2l/df2 = (2/K) [S S + sum_i q_i p_i ((e_i - p)(e_i - p)^T - S)]`;
//! - plain MSE on the logits, normalised the same way:
//!   `l = (1/K) |f - e_y|^2`, `dl/df = (2/K)(f - e_y)`, `d2l/df2 = (2/K) I`.
//!
//! The softmax subtracts `max_k f_k` first, so large logits do not overflow.
//!
//! Serialized as `"ce"`, `"mse"` (softmax then MSE) and `"logit-mse"`; the
//! spellings `"cross-entropy"`, `"cross_entropy"`, `"softmax-mse"` and
//! `"softmax_mse"` and `"logit_mse"` also parse.

use faer::Mat;
use ndarray::{Array1, Array2, ArrayView1};
use serde::{Deserialize, Serialize};

use crate::data::factors::FactorLoss;
use crate::error::{Error, Result};

/// Which loss is applied to the logits (normalisations in the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord, Hash)]
pub enum Loss {
    /// Softmax cross-entropy (negative log-likelihood) `logsumexp(f) - f_y`.
    #[serde(rename = "ce", alias = "cross-entropy", alias = "cross_entropy")]
    CrossEntropy,
    /// Softmax, then `(1/K) |softmax(f) - e_y|^2`.
    #[serde(rename = "mse", alias = "softmax-mse", alias = "softmax_mse")]
    SoftmaxMse,
    /// `(1/K) |f - e_y|^2` on the logits themselves.
    #[serde(rename = "logit-mse", alias = "logit_mse")]
    LogitMse,
}

impl Loss {
    /// Every loss, in order.
    pub const ALL: [Loss; 3] = [Loss::CrossEntropy, Loss::SoftmaxMse, Loss::LogitMse];

    /// The name used in `published.toml` and the results tables.
    pub fn published_name(self) -> &'static str {
        match self {
            Loss::CrossEntropy => "CE",
            Loss::SoftmaxMse => "MSE",
            Loss::LogitMse => "logit MSE",
        }
    }

    /// Short name: row keys, file names, the command line.
    pub fn short(self) -> &'static str {
        match self {
            Loss::CrossEntropy => "ce",
            Loss::SoftmaxMse => "mse",
            Loss::LogitMse => "logit-mse",
        }
    }

    /// The loss named by [`Loss::short`] (or one of the serde spellings).
    pub fn parse(s: &str) -> Option<Loss> {
        match s {
            "ce" | "cross-entropy" | "cross_entropy" => Some(Loss::CrossEntropy),
            "mse" | "softmax-mse" | "softmax_mse" => Some(Loss::SoftmaxMse),
            "logit-mse" | "logit_mse" => Some(Loss::LogitMse),
            _ => None,
        }
    }
}

impl std::fmt::Display for Loss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.short())
    }
}

impl std::str::FromStr for Loss {
    type Err = Error;
    fn from_str(s: &str) -> Result<Loss> {
        Loss::parse(s).ok_or_else(|| Error::param("loss", s, "must be ce, mse or logit-mse"))
    }
}

impl From<FactorLoss> for Loss {
    fn from(l: FactorLoss) -> Loss {
        match l {
            FactorLoss::CrossEntropy => Loss::CrossEntropy,
            FactorLoss::SoftmaxMse => Loss::SoftmaxMse,
        }
    }
}

/// Value, logit gradient and logit Hessian of a loss at one sample.
#[derive(Debug, Clone)]
pub struct HeadEval {
    /// The loss value.
    pub value: f64,
    /// `dl/dz`, length K.
    pub grad: Array1<f64>,
    /// `d2l/dz2`, K x K, symmetric.
    pub hess: Array2<f64>,
    /// `softmax(z)`.
    pub probs: Array1<f64>,
}

/// Numerically stable softmax.
pub fn softmax(z: ArrayView1<'_, f64>) -> Array1<f64> {
    let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e = z.mapv(|v| (v - m).exp());
    let s = e.sum();
    e / s
}

/// `diag(p) - p p^T`.
pub fn softmax_jacobian(p: ArrayView1<'_, f64>) -> Array2<f64> {
    let k = p.len();
    Array2::from_shape_fn((k, k), |(i, j)| {
        if i == j {
            p[i] - p[i] * p[j]
        } else {
            -p[i] * p[j]
        }
    })
}

/// `(1/K) |v - e_y|^2`.
fn mean_sq_dist_to_onehot(v: ArrayView1<'_, f64>, y: usize) -> f64 {
    v.iter()
        .enumerate()
        .map(|(i, vi)| {
            let q = vi - if i == y { 1.0 } else { 0.0 };
            q * q
        })
        .sum::<f64>()
        / v.len() as f64
}

fn check_label(z: ArrayView1<'_, f64>, y: usize) -> Result<()> {
    if z.is_empty() {
        return Err(Error::empty("logits", "no classes"));
    }
    if y >= z.len() {
        return Err(Error::param(
            "label",
            y,
            format!("must be below the number of classes K = {}", z.len()),
        ));
    }
    if let Some(i) = z.iter().position(|v| !v.is_finite()) {
        return Err(Error::NonFinite {
            input: "logits".into(),
            location: format!("[{i}]"),
            value: z[i],
        });
    }
    Ok(())
}

impl Loss {
    /// The loss value only.
    pub fn value(self, z: ArrayView1<'_, f64>, y: usize) -> Result<f64> {
        check_label(z, y)?;
        Ok(match self {
            Loss::CrossEntropy => {
                let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let lse = m + z.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
                lse - z[y]
            }
            Loss::SoftmaxMse => mean_sq_dist_to_onehot(softmax(z).view(), y),
            Loss::LogitMse => mean_sq_dist_to_onehot(z, y),
        })
    }

    /// Value, gradient and Hessian with respect to the logits.
    pub fn eval(self, z: ArrayView1<'_, f64>, y: usize) -> Result<HeadEval> {
        let value = self.value(z, y)?;
        let k = z.len();
        let p = softmax(z);
        let mut e_y = Array1::zeros(k);
        e_y[y] = 1.0;
        let (grad, hess) = match self {
            Loss::CrossEntropy => (&p - &e_y, softmax_jacobian(p.view())),
            Loss::SoftmaxMse => {
                let scale = 2.0 / k as f64;
                let s = softmax_jacobian(p.view());
                let q = &p - &e_y;
                let grad = s.dot(&q) * scale;
                let mut hess = s.dot(&s);
                for i in 0..k {
                    let c = q[i] * p[i];
                    for a in 0..k {
                        let ea = if a == i { 1.0 } else { 0.0 } - p[a];
                        for b in 0..k {
                            let eb = if b == i { 1.0 } else { 0.0 } - p[b];
                            hess[(a, b)] += c * (ea * eb - s[(a, b)]);
                        }
                    }
                }
                (grad, hess * scale)
            }
            Loss::LogitMse => {
                let scale = 2.0 / k as f64;
                ((&z - &e_y) * scale, Array2::eye(k) * scale)
            }
        };
        Ok(HeadEval {
            value,
            grad,
            hess,
            probs: p,
        })
    }
}

impl Loss {
    /// Value, gradient `q = dL/df` and Hessian `M = d^2L/df^2` at logits `f`
    /// for label `y` (checked by the caller to be `< f.len()`), for the
    /// Kronecker engine.
    pub fn derivatives(self, f: &[f64], y: usize) -> (f64, Vec<f64>, Mat<f64>) {
        let k = f.len();
        let max = f.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let exp: Vec<f64> = f.iter().map(|v| (v - max).exp()).collect();
        let sum: f64 = exp.iter().sum();
        let s: Vec<f64> = exp.iter().map(|e| e / sum).collect();
        let jac = Mat::from_fn(k, k, |i, j| {
            if i == j {
                s[i] - s[i] * s[j]
            } else {
                -s[i] * s[j]
            }
        });
        match self {
            Loss::CrossEntropy => {
                let loss = max + sum.ln() - f[y];
                let mut q = s.clone();
                q[y] -= 1.0;
                (loss, q, jac)
            }
            Loss::SoftmaxMse => {
                let scale = 2.0 / k as f64;
                let r: Vec<f64> = (0..k)
                    .map(|i| s[i] - if i == y { 1.0 } else { 0.0 })
                    .collect();
                let loss = r.iter().map(|v| v * v).sum::<f64>() / k as f64;
                let q: Vec<f64> = (0..k)
                    .map(|i| scale * (0..k).map(|j| jac[(i, j)] * r[j]).sum::<f64>())
                    .collect();
                let u: Vec<f64> = (0..k).map(|i| r[i] * s[i]).collect();
                let rho: f64 = u.iter().sum();
                let jj = &jac * &jac;
                let m = Mat::from_fn(k, k, |i, j| {
                    let diag = if i == j { u[i] - rho * s[i] } else { 0.0 };
                    let t = diag - u[i] * s[j] - s[i] * u[j] + 2.0 * rho * s[i] * s[j];
                    scale * (jj[(i, j)] + t)
                });
                (loss, q, m)
            }
            Loss::LogitMse => {
                let scale = 2.0 / k as f64;
                let loss = (0..k)
                    .map(|i| {
                        let r = f[i] - if i == y { 1.0 } else { 0.0 };
                        r * r
                    })
                    .sum::<f64>()
                    / k as f64;
                let q: Vec<f64> = (0..k)
                    .map(|i| scale * (f[i] - if i == y { 1.0 } else { 0.0 }))
                    .collect();
                let m = Mat::from_fn(k, k, |i, j| if i == j { scale } else { 0.0 });
                (loss, q, m)
            }
        }
    }
}
