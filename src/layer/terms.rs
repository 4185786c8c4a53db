//! Real AWD perturbations on a trained layer, projected on the Hessian's
//! eigen-directions (claims C6 and C7 on trained networks; C5 supplies the
//! construction). Pure: needs only the Kronecker factors of [`crate::kron`],
//! the layer's input activities and weights, and a partner map.
//!
//! The matched pairs come from [`super::halves`] (C5): with `a = a_p`,
//! `da = a_q - a_p` (q the partner) the minimal AWD perturbation is
//! `dW_p = W da a^T / |a|^2` ([`crate::awd`]), i.e. `dw_p = l_p (x) a_p/|a_p|`
//! with `l_p = W da / |a|`.
//!
//! # The exact gradient difference and its terms (C6, Eq. 56-59)
//! For this layer `l_q(W) = l_p(W + dW_p)` exactly (C5), and differentiating
//! in W (`dW_p` depends on W linearly: `d(dW)/dW` maps `G` to
//! `G a da^T / |a|^2`) gives, with `delta = dl/dz`,
//!
//! ```text
//! Dg_p   = g_q - g_p = delta_q a_q^T - delta_p a_p^T                (exact)
//! Term I  = h_p dw_p = (A_p W da) a_p^T                       (Eq. 57, first)
//! Term II = (d dw_p / dw)^T g_p = delta_p da^T                (Eq. 57, second)
//! ```
//!
//! and `Dg_p - Term I - Term II` is the remainder (second order in `dz = W da`,
//! plus ReLU-mask changes between p and q). For each top eigenvector `v_i`
//! of H (V_i = v_i reshaped out x in, `z = V_i a_p`, `y = V_i da`):
//! `Term I . v_i = (A_p W da) . z`, `Term II . v_i = delta_p . y`,
//! `Dg . v_i = delta_q . (z + y) - delta_p . z`.
//! The covariances compared are second moments over the samples
//! (`E_p[x x^T]`, Eq. 64: constants 1/B dropped, they move no exponent):
//! `C_I,ii = E_p[(Term I . v_i)^2]` (Lemma 3.3 with the real dw_p),
//! `C_I+II,ii` (Eq. 58, Table 3's column), `C_Dg,ii` (the exact pair
//! differences).
//!
//! The isotropy figures of C7 are in [`super::isotropy`].

use faer::{Mat, MatRef};
use ndarray::Array2;
use serde::Serialize;

use super::halves::PairedLayer;
use super::isotropy::{isotropy, Isotropy};
use crate::awd::minimal_dw_batch;
use crate::error::{Error, Result};
use crate::linalg::ndarray_from_mat;
use crate::suppression::pearson;

/// Per top eigen-direction `v_i` of H: the moments of C6 and C7 (module doc).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DirectionMoments {
    /// `E_p[sum_j lambda_pj (u_pj.v_i)^2]` (= H_ii, C8).
    pub first: Vec<f64>,
    /// `v_i^T E[h_p^2] v_i` (C_iso / sigma^2).
    pub second: Vec<f64>,
    /// `E_p[(Term I . v_i)^2]`.
    pub c_term1: Vec<f64>,
    /// `E_p[(Term II . v_i)^2]`.
    pub c_term2: Vec<f64>,
    /// `E_p[((Term I + Term II) . v_i)^2]` (Eq. 58).
    pub c_term12: Vec<f64>,
    /// `E_p[(Dg . v_i)^2]` (exact pair differences).
    pub c_delta: Vec<f64>,
    /// `E_p[((Dg - Term I) . v_i)^2]`.
    pub c_resid1: Vec<f64>,
    /// `E_p[((Dg - Term I - Term II) . v_i)^2]`.
    pub c_resid12: Vec<f64>,
    /// `E_p[sum_j lambda_pj^2 c_pj^2 (u_pj.v_i)^2]` (local cross terms dropped).
    pub c_local_diag: Vec<f64>,
    /// `E_p[Term I . v_i]`.
    pub mean_term1: Vec<f64>,
    /// Pearson correlation over samples of `lambda_p1` and
    /// `(u_p1 . v_i)^2` (C13's entanglement), `None` when one is constant.
    pub entanglement: Vec<Option<f64>>,
}

/// Full-space (Frobenius) second moments over the samples.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct FullSpaceTerms {
    /// `E|Term I|^2`.
    pub term1: f64,
    /// `E|Term II|^2`.
    pub term2: f64,
    /// `E|Dg|^2`.
    pub delta: f64,
    /// `E|Dg - Term I|^2`.
    pub resid1: f64,
    /// `E|Dg - Term I - Term II|^2`.
    pub resid12: f64,
    /// `E|g_p|^2` (the per-sample gradients Term II scales with).
    pub grad: f64,
}

/// Everything [`measure`] returns.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairedMeasurement {
    /// Samples used (`a_p != 0`).
    pub used: usize,
    /// Samples skipped because `a_p = 0` (dead ReLU layer: no h_p, no dw_p).
    pub zero_activity: usize,
    /// Per-direction moments.
    pub directions: DirectionMoments,
    /// Full-space moments.
    pub full: FullSpaceTerms,
    /// Isotropy figures.
    pub isotropy: Isotropy,
}

/// Visits every sample with `Xp` (out x k, column i = `V_i a_p`) and, when
/// `da` is given, `Yp` (column i = `V_i da_p`), in chunks of `chunk` samples.
pub(crate) fn for_each_projection(
    acts: MatRef<'_, f64>,
    da: Option<MatRef<'_, f64>>,
    vectors: MatRef<'_, f64>,
    out: usize,
    chunk: usize,
    mut f: impl FnMut(usize, &Mat<f64>, Option<&Mat<f64>>) -> Result<()>,
) -> Result<()> {
    let (n, inn, k) = (acts.nrows(), acts.ncols(), vectors.ncols());
    if vectors.nrows() != out * inn {
        return Err(Error::shape(
            "projection vectors",
            format!("{} rows (out * in)", out * inn),
            vectors.nrows(),
        ));
    }
    let chunk = chunk.max(1);
    let vt = Mat::from_fn(k * out, inn, |r, c| vectors[((r % out) * inn + c, r / out)]);
    let reshape = |z: &Mat<f64>, q: usize| Mat::from_fn(out, k, |o, i| z[(i * out + o, q)]);
    let mut start = 0;
    while start < n {
        let len = chunk.min(n - start);
        let za = &vt * acts.subrows(start, len).transpose();
        let zd = da.map(|d| &vt * d.subrows(start, len).transpose());
        for q in 0..len {
            let xp = reshape(&za, q);
            let yp = zd.as_ref().map(|z| reshape(z, q));
            f(start + q, &xp, yp.as_ref())?;
        }
        start += len;
    }
    Ok(())
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Measures C6's terms and C7's isotropy on the columns `v_i` of `vectors`
/// (d x k, typically H's top-k eigenvectors).
pub fn measure(
    layer: &PairedLayer<'_>,
    vectors: MatRef<'_, f64>,
    chunk: usize,
) -> Result<PairedMeasurement> {
    measure_inner(layer, vectors, chunk, false).map(|(m, _)| m)
}

/// [`measure`], keeping the per-sample values the moments average
/// ([`PairSamples`], `32 N k` bytes more) for the bootstrap of
/// [`super::pair_bootstrap`].
pub fn measure_keeping(
    layer: &PairedLayer<'_>,
    vectors: MatRef<'_, f64>,
    chunk: usize,
) -> Result<(PairedMeasurement, PairSamples)> {
    let (m, ps) = measure_inner(layer, vectors, chunk, true)?;
    let ps = ps.ok_or_else(|| Error::empty("per-sample pair values", "not kept"))?;
    Ok((m, ps))
}

/// Per used sample p (rows, in sample order) and direction i (columns): the
/// values whose means are [`DirectionMoments`]' `first` (`h_pi`), the
/// squares of `Term I . v_i` and `Dg . v_i`, and `s_pi = v_i^T h_p^2 v_i`
/// (`second`).
#[derive(Debug, Clone)]
pub struct PairSamples {
    /// `h_pi = sum_j lambda_pj (u_pj . v_i)^2`.
    pub h: Mat<f64>,
    /// `(Term I . v_i)^2`.
    pub term1_sq: Mat<f64>,
    /// `(Dg . v_i)^2`.
    pub delta_sq: Mat<f64>,
    /// `s_pi`.
    pub second: Mat<f64>,
}

fn measure_inner(
    layer: &PairedLayer<'_>,
    vectors: MatRef<'_, f64>,
    chunk: usize,
    keep: bool,
) -> Result<(PairedMeasurement, Option<PairSamples>)> {
    let eng = layer.engine;
    let (out, inn) = eng.layer_shape();
    let n = eng.n();
    let acts = layer.acts;
    if acts.nrows() != n || acts.ncols() != inn {
        return Err(Error::shape(
            "activities",
            format!("{n} x {inn}"),
            format!("{} x {}", acts.nrows(), acts.ncols()),
        ));
    }
    if layer.weights.nrows() != out || layer.weights.ncols() != inn {
        return Err(Error::shape(
            "layer weights",
            format!("{out} x {inn}"),
            format!("{} x {}", layer.weights.nrows(), layer.weights.ncols()),
        ));
    }
    if layer.partner.len() != n {
        return Err(Error::shape("partners", n, layer.partner.len()));
    }
    if let Some((p, &q)) = layer.partner.iter().enumerate().find(|(_, &q)| q >= n) {
        return Err(Error::param(
            &format!("partner of sample {p}"),
            q,
            format!("only {n} samples"),
        ));
    }
    let samples = eng.samples();
    let used: Vec<usize> = (0..n).filter(|&p| samples[p].act_norm2 > 0.0).collect();
    if used.is_empty() {
        return Err(Error::empty("paired samples", "every activity a_p is zero"));
    }
    let da = Mat::from_fn(n, inn, |p, j| acts[(layer.partner[p], j)] - acts[(p, j)]);
    // Minimal dW of every used sample through the C5 library: l_p = W da / |a|.
    let a_nd = Array2::from_shape_fn((used.len(), inn), |(r, j)| acts[(used[r], j)]);
    let da_nd = Array2::from_shape_fn((used.len(), inn), |(r, j)| da[(used[r], j)]);
    let dws = minimal_dw_batch(
        ndarray_from_mat(layer.weights).view(),
        a_nd.view(),
        da_nd.view(),
    )?;
    let mut left: Vec<Option<Vec<f64>>> = vec![None; n];
    for (r, &p) in used.iter().enumerate() {
        left[p] = Some(dws[r].left.to_vec());
    }
    let k = vectors.ncols();
    let nu = used.len() as f64;
    let mut dm = DirectionMoments {
        first: vec![0.0; k],
        second: vec![0.0; k],
        c_term1: vec![0.0; k],
        c_term2: vec![0.0; k],
        c_term12: vec![0.0; k],
        c_delta: vec![0.0; k],
        c_resid1: vec![0.0; k],
        c_resid12: vec![0.0; k],
        c_local_diag: vec![0.0; k],
        mean_term1: vec![0.0; k],
        entanglement: vec![None; k],
    };
    let mut overlap1 = Mat::<f64>::zeros(used.len(), k);
    let rows_kept = if keep { used.len() } else { 0 };
    let mut kept = PairSamples {
        h: Mat::zeros(rows_kept, k),
        term1_sq: Mat::zeros(rows_kept, k),
        delta_sq: Mat::zeros(rows_kept, k),
        second: Mat::zeros(rows_kept, k),
    };
    let mut lambda1 = vec![0.0; used.len()];
    let mut row_of = vec![usize::MAX; n];
    for (r, &p) in used.iter().enumerate() {
        row_of[p] = r;
    }
    for_each_projection(acts, Some(da.as_ref()), vectors, out, chunk, |p, xp, yp| {
        let Some(l) = &left[p] else {
            return Ok(());
        };
        let yp = yp.ok_or_else(|| Error::empty("activity differences", "missing"))?;
        let s = &samples[p];
        let q = layer.partner[p];
        let norm = s.act_norm2.sqrt();
        let m: Vec<f64> = l.iter().map(|v| v * norm).collect(); // W da
        let g1: Vec<f64> = (0..out)
            .map(|o| (0..out).map(|c| s.a_mat[(o, c)] * m[c]).sum())
            .collect(); // A_p W da
        let (dp, dq) = (&s.delta, &samples[q].delta);
        let r = s.theta.len();
        let em: Vec<f64> = (0..r)
            .map(|j| (0..out).map(|o| s.e[(o, j)] * m[o]).sum())
            .collect();
        let w = s.e.transpose() * xp; // r x k
        let row = row_of[p];
        if r > 0 {
            lambda1[row] = s.theta[0] * s.act_norm2;
        }
        for i in 0..k {
            let z = xp.col(i);
            let y = yp.col(i);
            let zs: Vec<f64> = (0..out).map(|o| z[o]).collect();
            let ys: Vec<f64> = (0..out).map(|o| y[o]).collect();
            let t1 = dot(&g1, &zs);
            let t2 = dot(dp, &ys);
            let zy: Vec<f64> = zs.iter().zip(&ys).map(|(a, b)| a + b).collect();
            let dg = dot(dq, &zy) - dot(dp, &zs);
            let (mut f1, mut f2, mut fd) = (0.0, 0.0, 0.0);
            for j in 0..r {
                let w2 = w[(j, i)] * w[(j, i)];
                let t = s.theta[j];
                f1 += t * w2;
                f2 += t * t * w2;
                fd += t * t * em[j] * em[j] * w2;
            }
            dm.first[i] += f1;
            dm.second[i] += s.act_norm2 * f2;
            dm.c_local_diag[i] += fd;
            dm.c_term1[i] += t1 * t1;
            dm.c_term2[i] += t2 * t2;
            dm.c_term12[i] += (t1 + t2) * (t1 + t2);
            dm.c_delta[i] += dg * dg;
            dm.c_resid1[i] += (dg - t1) * (dg - t1);
            dm.c_resid12[i] += (dg - t1 - t2) * (dg - t1 - t2);
            dm.mean_term1[i] += t1;
            if keep {
                kept.h[(row, i)] = f1;
                kept.term1_sq[(row, i)] = t1 * t1;
                kept.delta_sq[(row, i)] = dg * dg;
                kept.second[(row, i)] = s.act_norm2 * f2;
            }
            if r > 0 {
                overlap1[(row, i)] = w[(0, i)] * w[(0, i)] / s.act_norm2;
            }
        }
        Ok(())
    })?;
    for v in [
        &mut dm.first,
        &mut dm.second,
        &mut dm.c_term1,
        &mut dm.c_term2,
        &mut dm.c_term12,
        &mut dm.c_delta,
        &mut dm.c_resid1,
        &mut dm.c_resid12,
        &mut dm.c_local_diag,
        &mut dm.mean_term1,
    ] {
        for x in v.iter_mut() {
            *x /= nu;
        }
    }
    for i in 0..k {
        let col: Vec<f64> = (0..used.len()).map(|r| overlap1[(r, i)]).collect();
        dm.entanglement[i] = pearson(&lambda1, &col);
    }
    let full = full_space_terms(layer, &used, &left, &da)?;
    let isotropy = isotropy(layer, &used, &left, &lambda1)?;
    Ok((
        PairedMeasurement {
            used: used.len(),
            zero_activity: n - used.len(),
            directions: dm,
            full,
            isotropy,
        },
        keep.then_some(kept),
    ))
}

/// Frobenius second moments of the dense out x in terms.
fn full_space_terms(
    layer: &PairedLayer<'_>,
    used: &[usize],
    left: &[Option<Vec<f64>>],
    da: &Mat<f64>,
) -> Result<FullSpaceTerms> {
    let eng = layer.engine;
    let (out, inn) = eng.layer_shape();
    let samples = eng.samples();
    let acts = layer.acts;
    let mut acc = FullSpaceTerms::default();
    for &p in used {
        let s = &samples[p];
        let q = layer.partner[p];
        let norm = s.act_norm2.sqrt();
        let Some(l) = &left[p] else { continue };
        let m: Vec<f64> = l.iter().map(|v| v * norm).collect();
        let g1: Vec<f64> = (0..out)
            .map(|o| (0..out).map(|c| s.a_mat[(o, c)] * m[c]).sum())
            .collect();
        let (dp, dq) = (&s.delta, &samples[q].delta);
        for o in 0..out {
            for j in 0..inn {
                let (ap, aq, dd) = (acts[(p, j)], acts[(q, j)], da[(p, j)]);
                let t1 = g1[o] * ap;
                let t2 = dp[o] * dd;
                let dg = dq[o] * aq - dp[o] * ap;
                acc.term1 += t1 * t1;
                acc.term2 += t2 * t2;
                acc.delta += dg * dg;
                acc.resid1 += (dg - t1) * (dg - t1);
                acc.resid12 += (dg - t1 - t2) * (dg - t1 - t2);
                acc.grad += (dp[o] * ap).powi(2);
            }
        }
    }
    let nu = used.len() as f64;
    Ok(FullSpaceTerms {
        term1: acc.term1 / nu,
        term2: acc.term2 / nu,
        delta: acc.delta / nu,
        resid1: acc.resid1 / nu,
        resid12: acc.resid12 / nu,
        grad: acc.grad / nu,
    })
}
