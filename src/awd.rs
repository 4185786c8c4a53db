//! Minimal activity-weight duality (claim C5: Def. 3.1, Lemma 3.2, App. E.1).
//!
//! For a bias-free fully connected layer `z = W a` (`W` is `out x in`) and an
//! activity perturbation `da` (the difference to a matched partner's input
//! activity, see [`crate::pairs`]), the weight perturbation of least Frobenius
//! norm that satisfies
//!
//! ```text
//! (W + dW) a = W (a + da)        <=>   dW a = W da
//! ```
//!
//! is the rank-one matrix (Lemma 3.2)
//!
//! ```text
//! dW = W da a^T / |a|^2,         |dW|_F = |W da| / |a|.
//! ```
//!
//! Every other solution is `dW + N` with `N a = 0`, and since
//! `<dW, N>_F = (W da)^T N a / |a|^2 = 0`, `|dW + N|_F^2 = |dW|_F^2 + |N|_F^2`.
//!
//! The closed form is stored as its rank-one factors [`RankOne`]
//! (`left = W da / |a|`, `right = a / |a|`), computed with `|a|` scaled by
//! `max_i |a_i|` so that activities near the under- and overflow limits keep
//! full relative precision; the batched form does one matrix product
//! `W DA^T` for all samples. [`least_norm_oracle`] solves the same linear
//! system, vectorised as `(a^T (x) I_out) vec(dW) = W da`, by faer's SVD
//! pseudo-inverse: an independent second implementation for tests and for
//! the C5 check.
//!
//! A zero or subnormal `|a|` is [`Error::ZeroActivity`]; a result that
//! overflows is [`Error::NonFinite`]; nothing returns NaN.

use faer::Mat;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};

use crate::error::{Error, Result};

/// A rank-one matrix `left right^T`; for the minimal dW, `left = W da / |a|`
/// (length `out`) and `right = a / |a|` (length `in`, unit norm).
#[derive(Debug, Clone, PartialEq)]
pub struct RankOne {
    /// Column factor.
    pub left: Array1<f64>,
    /// Row factor.
    pub right: Array1<f64>,
}

impl RankOne {
    /// The dense `out x in` matrix `left right^T`.
    pub fn to_dense(&self) -> Array2<f64> {
        let l = self.left.view().insert_axis(Axis(1));
        let r = self.right.view().insert_axis(Axis(0));
        l.dot(&r)
    }

    /// `|left right^T|_F = |left| |right|`.
    pub fn frobenius_norm(&self) -> f64 {
        stable_norm(self.left.view()) * stable_norm(self.right.view())
    }

    /// `(left right^T) v = left (right . v)`.
    pub fn apply(&self, v: ArrayView1<'_, f64>) -> Result<Array1<f64>> {
        if v.len() != self.right.len() {
            return Err(Error::shape(
                "vector applied to dW",
                self.right.len(),
                v.len(),
            ));
        }
        Ok(&self.left * self.right.dot(&v))
    }
}

/// Euclidean norm computed as `s sqrt(sum (x_i / s)^2)` with `s = max |x_i|`,
/// exact in relative terms for any finite `x` (no under- or overflow).
pub fn stable_norm(x: ArrayView1<'_, f64>) -> f64 {
    let s = x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if s == 0.0 || !s.is_finite() {
        return s;
    }
    s * x.iter().map(|v| (v / s) * (v / s)).sum::<f64>().sqrt()
}

/// Frobenius norm of a matrix, scaled like [`stable_norm`].
pub fn stable_frobenius(x: ArrayView2<'_, f64>) -> f64 {
    let s = x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if s == 0.0 || !s.is_finite() {
        return s;
    }
    s * x.iter().map(|v| (v / s) * (v / s)).sum::<f64>().sqrt()
}

fn check_finite_view1(x: ArrayView1<'_, f64>, input: &str) -> Result<()> {
    crate::linalg::check_finite_slice(&x.to_vec(), input)
}

pub(crate) fn check_finite_view2(x: ArrayView2<'_, f64>, input: &str) -> Result<()> {
    for ((i, j), v) in x.indexed_iter() {
        if !v.is_finite() {
            return Err(Error::NonFinite {
                input: input.to_string(),
                location: format!("({i}, {j})"),
                value: *v,
            });
        }
    }
    Ok(())
}

/// `(a / |a|, max_i |a_i|, |a| / max_i |a_i|)`: the unit vector and `|a|` as
/// scale times a factor in [1, sqrt(len)], so that `|a|` itself may exceed
/// `f64::MAX` (five entries of 9e307) without the unit vector collapsing to 0.
fn unit_and_norm(a: ArrayView1<'_, f64>, sample: usize) -> Result<(Array1<f64>, f64, f64)> {
    let norm = stable_norm(a);
    if norm < f64::MIN_POSITIVE {
        return Err(Error::ZeroActivity { sample, norm });
    }
    let s = a.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let scaled = a.mapv(|v| v / s);
    let scaled_norm = scaled.iter().map(|v| v * v).sum::<f64>().sqrt();
    Ok((scaled.mapv(|v| v / scaled_norm), s, scaled_norm))
}

fn finish(w_da: Array1<f64>, a: ArrayView1<'_, f64>, sample: usize) -> Result<RankOne> {
    let (right, s, scaled_norm) = unit_and_norm(a, sample)?;
    let left = w_da.mapv(|v| v / s / scaled_norm);
    if let Some(i) = left.iter().position(|v| !v.is_finite()) {
        return Err(Error::NonFinite {
            input: format!("dW = W da a^T / |a|^2 of sample {sample} (overflow)"),
            location: format!("row {i}"),
            value: left[i],
        });
    }
    Ok(RankOne { left, right })
}

/// The minimal-Frobenius-norm `dW` with `(W + dW) a = W (a + da)` for one
/// sample (Lemma 3.2), as rank-one factors.
pub fn minimal_dw(
    w: ArrayView2<'_, f64>,
    a: ArrayView1<'_, f64>,
    da: ArrayView1<'_, f64>,
) -> Result<RankOne> {
    let (_, n_in) = w.dim();
    if a.len() != n_in {
        return Err(Error::shape("activity a", n_in, a.len()));
    }
    if da.len() != n_in {
        return Err(Error::shape("activity perturbation da", n_in, da.len()));
    }
    check_finite_view2(w, "weights W")?;
    check_finite_view1(a, "activity a")?;
    check_finite_view1(da, "activity perturbation da")?;
    let w_da = w.dot(&da);
    finish(w_da, a, 0)
}

/// [`minimal_dw`] for a batch: row `p` of `a` and `da` (`n x in`) is sample
/// `p`. One matrix product `W DA^T` serves every sample. Errors name the
/// offending sample.
pub fn minimal_dw_batch(
    w: ArrayView2<'_, f64>,
    a: ArrayView2<'_, f64>,
    da: ArrayView2<'_, f64>,
) -> Result<Vec<RankOne>> {
    let (_, n_in) = w.dim();
    if a.ncols() != n_in {
        return Err(Error::shape(
            "activities a (samples x in)",
            format!("{} columns", n_in),
            format!("{} columns", a.ncols()),
        ));
    }
    if da.dim() != a.dim() {
        return Err(Error::shape(
            "activity perturbations da",
            format!("{} x {}", a.nrows(), a.ncols()),
            format!("{} x {}", da.nrows(), da.ncols()),
        ));
    }
    check_finite_view2(w, "weights W")?;
    check_finite_view2(a, "activities a")?;
    check_finite_view2(da, "activity perturbations da")?;
    // out x n: column p is W da_p.
    let w_da = w.dot(&da.t());
    (0..a.nrows())
        .map(|p| finish(w_da.column(p).to_owned(), a.row(p), p))
        .collect()
}

/// Relative residual of the C5 constraint for a dense `dW`:
/// `|(W + dW) a - W (a + da)| / (|W|_F (|a| + |da|) + |dW|_F |a|)`.
/// The denominator bounds every term's magnitude, so rounding gives
/// O(n eps) whatever the cancellation.
pub fn constraint_residual(
    w: ArrayView2<'_, f64>,
    a: ArrayView1<'_, f64>,
    da: ArrayView1<'_, f64>,
    dw: ArrayView2<'_, f64>,
) -> Result<f64> {
    if dw.dim() != w.dim() {
        return Err(Error::shape(
            "dW",
            format!("{} x {}", w.nrows(), w.ncols()),
            format!("{} x {}", dw.nrows(), dw.ncols()),
        ));
    }
    if a.len() != w.ncols() || da.len() != w.ncols() {
        return Err(Error::shape(
            "a, da",
            w.ncols(),
            format!("{}, {}", a.len(), da.len()),
        ));
    }
    let lhs = w.dot(&a) + dw.dot(&a);
    let partner = &a + &da;
    let rhs = w.dot(&partner);
    let num = stable_norm((&lhs - &rhs).view());
    let den = stable_frobenius(w) * (stable_norm(a) + stable_norm(da))
        + stable_frobenius(dw) * stable_norm(a);
    Ok(if den == 0.0 { num } else { num / den })
}

/// The least-norm solution of `dW a = W da` by faer's SVD pseudo-inverse of
/// the vectorised system `M vec(dW) = W da`, `M = a^T (x) I_out`
/// (`out x out*in`, row-major `vec`): an implementation independent of the
/// closed form. Cost `O(out^3 in)`: meant for small layers.
pub fn least_norm_oracle(
    w: ArrayView2<'_, f64>,
    a: ArrayView1<'_, f64>,
    da: ArrayView1<'_, f64>,
) -> Result<Array2<f64>> {
    let (n_out, n_in) = w.dim();
    if a.len() != n_in || da.len() != n_in {
        return Err(Error::shape(
            "a, da",
            n_in,
            format!("{}, {}", a.len(), da.len()),
        ));
    }
    check_finite_view2(w, "weights W")?;
    check_finite_view1(a, "activity a")?;
    check_finite_view1(da, "activity perturbation da")?;
    let norm = stable_norm(a);
    if norm < f64::MIN_POSITIVE {
        return Err(Error::ZeroActivity { sample: 0, norm });
    }
    // Row i of the system: sum_j dW_ij a_j = (W da)_i; unknown index i*in + j.
    let m = Mat::from_fn(n_out, n_out * n_in, |i, c| {
        if c / n_in == i {
            a[c % n_in]
        } else {
            0.0
        }
    });
    let b = w.dot(&da);
    let svd = m.thin_svd().map_err(|_| Error::NoConvergence {
        input: "vectorised C5 system a^T (x) I".into(),
        routine: "thin SVD".into(),
    })?;
    let pinv = svd.pseudoinverse();
    let x = Array1::from_shape_fn(n_out * n_in, |r| {
        (0..n_out).map(|i| pinv[(r, i)] * b[i]).sum::<f64>()
    });
    Array2::from_shape_vec((n_out, n_in), x.to_vec())
        .map_err(|e| Error::shape("oracle dW", format!("{n_out} x {n_in}"), e.to_string()))
}
