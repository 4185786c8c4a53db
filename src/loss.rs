//! Loss heads on the logits `z` (length K) of a classifier: value, gradient
//! and Hessian with respect to `z`, in closed form (claims C1, C5, C14).
//!
//! With `p = softmax(z)`, `S = diag(p) - p p^T` and the one-hot `e_y`:
//!
//! - cross-entropy (negative log-likelihood): `l = logsumexp(z) - z_y`,
//!   `dl/dz = p - e_y`, `d2l/dz2 = S` (independent of the label);
//! - softmax then MSE (the paper's MSE setting, "softmax before MSE"):
//!   `l = |p - e_y|^2 / 2`, `dl/dz = S q` with `q = p - e_y`,
//!   `d2l/dz2 = S S + sum_i q_i p_i [(e_i - p)(e_i - p)^T - S]`;
//! - plain MSE on the logits: `l = |z - e_y|^2 / 2`, `dl/dz = z - e_y`,
//!   `d2l/dz2 = I`.
//!
//! The softmax subtracts `max_k z_k` first, so large logits do not overflow.

use ndarray::{Array1, Array2, ArrayView1};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Which loss is applied to the logits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Loss {
    /// Softmax cross-entropy (negative log-likelihood).
    CrossEntropy,
    /// Softmax, then half the squared distance to the one-hot label.
    SoftmaxMse,
    /// Half the squared distance of the logits to the one-hot label.
    Mse,
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

/// `|v - e_y|^2 / 2`.
fn half_sq_dist_to_onehot(v: ArrayView1<'_, f64>, y: usize) -> f64 {
    0.5 * v
        .iter()
        .enumerate()
        .map(|(i, vi)| {
            let q = vi - if i == y { 1.0 } else { 0.0 };
            q * q
        })
        .sum::<f64>()
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
            Loss::SoftmaxMse => half_sq_dist_to_onehot(softmax(z).view(), y),
            Loss::Mse => half_sq_dist_to_onehot(z, y),
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
                let s = softmax_jacobian(p.view());
                let q = &p - &e_y;
                let grad = s.dot(&q);
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
                (grad, hess)
            }
            Loss::Mse => (&z - &e_y, Array2::eye(k)),
        };
        Ok(HeadEval {
            value,
            grad,
            hess,
            probs: p,
        })
    }
}
