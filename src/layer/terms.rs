//! Real AWD perturbations on a trained layer, projected on the Hessian's
//! eigen-directions (claims C6 and C7 on trained networks; C5 supplies the
//! construction). Pure: needs only the Kronecker factors of [`crate::kron`],
//! the layer's input activities and weights, and a partner map.
//!
//! # Matched pairs (C5)
//! The N analysed samples are split, per class and seeded, into two halves A
//! and B; every sample of A gets its nearest same-class sample of B on the
//! layer's input activity as partner (the paper's argmin, [`crate::pairs`]),
//! and every sample of B its nearest of A, so every sample has one. With
//! `a = a_p`, `da = a_q - a_p` (q the partner) the minimal AWD perturbation is
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
//! # Isotropy in the local eigenbasis (C7, Eq. 63-68)
//! `h_p = sum_j lambda_pj u_pj u_pj^T` with `u_pj = e_pj (x) a_p/|a_p|`,
//! `lambda_pj = theta_pj |a_p|^2` (kron), so
//! `c_pj = u_pj . dw_p = e_pj . l_p` and `u_pj . v_i = e_pj . z / |a_p|`.
//! Three nested forms of `C_ii` (Eq. 66 -> 68):
//!
//! ```text
//! C_I,ii     = E_p[(sum_j lambda_pj c_pj (u_pj.v_i))^2]      (actual dw_p)
//! C_diag,ii  = E_p[sum_j lambda_pj^2 c_pj^2 (u_pj.v_i)^2]    (cross terms j != l dropped)
//! C_iso,ii   = sigma^2 E_p[sum_j lambda_pj^2 (u_pj.v_i)^2]   (= sigma^2 v_i^T E[h^2] v_i, Eq. 15)
//! ```
//!
//! with `sigma^2 = E_{p,j}[c_pj^2]` pooled over every local mode. Isotropy
//! figures ([`Isotropy`]): per-mode variances `s_j = E_p[c_pj^2]` and their
//! max/min, the mean |correlation| of `c_pj, c_pl` (j != l) over samples, the
//! coefficient of variation over samples of `sigma_p^2 = mean_j c_pj^2` and its
//! correlation with `lambda_p1`, the share of `|dw_p|^2` inside span(u_pj)
//! (an isotropic dw in R^d would put `r_p/d` there), and for Eq. 63 the mean
//! share `|E dw|^2 / E|dw|^2` and the mean |cos| of `dw_p, dw_q` over p != q.
//! The same mean share per direction for Term I (`E[x]^2 / E[x^2]`) measures
//! the batch cross terms of Eq. 62-63: in a batch of B independent samples
//! their sum is `(B - 1) E[x]^2` against `E[x^2]`.

use faer::{Mat, MatRef};
use ndarray::Array2;
use rand::seq::SliceRandom;
use serde::Serialize;

use crate::awd::minimal_dw_batch;
use crate::error::{Error, Result};
use crate::kron::KronCurvature;
use crate::linalg::seeded_rng;
use crate::pairs::{match_nearest, match_one_to_one, ratio_stats, RatioStats};
use crate::suppression::pearson;

/// Partner of every analysed sample (an index into the same N samples).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairMap {
    /// `partner[p]`: the matched same-class sample of the other half.
    pub partner: Vec<usize>,
    /// `|a_partner - a_p| / |a_p|` over the samples with `a_p != 0`.
    pub ratio: Option<RatioStats>,
    /// Number of distinct partners.
    pub distinct_partners: usize,
}

fn to_ndarray(m: MatRef<'_, f64>) -> Array2<f64> {
    Array2::from_shape_fn((m.nrows(), m.ncols()), |(i, j)| m[(i, j)])
}

fn labels_u8(labels: &[usize]) -> Result<Vec<u8>> {
    labels
        .iter()
        .enumerate()
        .map(|(p, &y)| {
            u8::try_from(y)
                .map_err(|_| Error::param(&format!("label of sample {p}"), y, "above 255"))
        })
        .collect()
}

/// Splits the samples per class into two seeded halves and matches each half
/// into the other on the rows of `acts` (N x in): nearest same-class sample
/// (the paper's rule) or, with `one_to_one`, the least-total-distance
/// assignment. A class with fewer than two samples is [`Error::NoPartner`].
pub fn match_halves(
    acts: MatRef<'_, f64>,
    labels: &[usize],
    seed: u64,
    one_to_one: bool,
) -> Result<PairMap> {
    let n = acts.nrows();
    if labels.len() != n {
        return Err(Error::shape("labels", n, labels.len()));
    }
    if n == 0 {
        return Err(Error::empty("matched pairs", "no samples"));
    }
    let y = labels_u8(labels)?;
    let mut classes: Vec<u8> = y.clone();
    classes.sort_unstable();
    classes.dedup();
    let mut rng = seeded_rng(seed);
    let (mut half_a, mut half_b) = (Vec::new(), Vec::new());
    for &c in &classes {
        let mut idx: Vec<usize> = (0..n).filter(|&p| y[p] == c).collect();
        if idx.len() < 2 {
            return Err(Error::NoPartner {
                sample: idx[0],
                class: c,
            });
        }
        idx.shuffle(&mut rng);
        let h = idx.len() / 2;
        half_a.extend_from_slice(&idx[..h]);
        half_b.extend_from_slice(&idx[h..]);
    }
    let all = to_ndarray(acts);
    let rows = |ix: &[usize]| all.select(ndarray::Axis(0), ix);
    let (xa, xb) = (rows(&half_a), rows(&half_b));
    let ya: Vec<u8> = half_a.iter().map(|&p| y[p]).collect();
    let yb: Vec<u8> = half_b.iter().map(|&p| y[p]).collect();
    let m = |f: &Array2<f64>, yf: &[u8], t: &Array2<f64>, yt: &[u8], forward: bool| {
        if one_to_one && forward {
            match_one_to_one(f.view(), yf, t.view(), yt)
        } else {
            // B -> A under one-to-one: B may be one larger than A per class,
            // so it takes nearest partners (a one-to-one map cannot exist).
            match_nearest(f.view(), yf, t.view(), yt)
        }
    };
    let ab = m(&xa, &ya, &xb, &yb, true)?;
    let ba = m(&xb, &yb, &xa, &ya, false)?;
    let mut partner = vec![0usize; n];
    for (i, &p) in half_a.iter().enumerate() {
        partner[p] = half_b[ab.partner[i]];
    }
    for (i, &p) in half_b.iter().enumerate() {
        partner[p] = half_a[ba.partner[i]];
    }
    let ratios: Vec<f64> = (0..n)
        .filter_map(|p| {
            let a2: f64 = (0..acts.ncols()).map(|j| acts[(p, j)].powi(2)).sum();
            (a2 > 0.0).then(|| {
                let d2: f64 = (0..acts.ncols())
                    .map(|j| (acts[(partner[p], j)] - acts[(p, j)]).powi(2))
                    .sum();
                (d2 / a2).sqrt()
            })
        })
        .collect();
    let mut distinct = partner.clone();
    distinct.sort_unstable();
    distinct.dedup();
    Ok(PairMap {
        ratio: ratio_stats(&ratios).ok(),
        distinct_partners: distinct.len(),
        partner,
    })
}

/// What [`measure`] needs: the engine, the activities it was built from, the
/// layer's weights and the partner map.
#[derive(Debug, Clone, Copy)]
pub struct PairedLayer<'a> {
    /// Kronecker factors of the N samples.
    pub engine: &'a KronCurvature,
    /// Input activities `a_p` (N x in), the rows the engine was built from.
    pub acts: MatRef<'a, f64>,
    /// The layer's weights W (out x in).
    pub weights: MatRef<'a, f64>,
    /// Partner of each sample.
    pub partner: &'a [usize],
}

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

/// C7's isotropy figures (module doc).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Isotropy {
    /// `sigma^2 = E_{p,j}[c_pj^2]` pooled over local modes.
    pub sigma2: f64,
    /// `s_j = E_p[c_pj^2]` for mode j = 1.. (samples of rank >= j).
    pub mode_variance: Vec<f64>,
    /// `max_j s_j / min_j s_j` over modes held by at least half the samples.
    pub mode_anisotropy: f64,
    /// `s_1 / mean_{j>1} s_j`: the principal mode against the tail.
    pub principal_vs_tail: f64,
    /// Mean over j != l of |corr_p(c_pj, c_pl)| (modes held by every sample).
    pub mode_cross_corr: f64,
    /// Coefficient of variation over samples of `sigma_p^2 = mean_j c_pj^2`.
    pub sample_cv: f64,
    /// Pearson correlation over samples of `sigma_p^2` and `lambda_p1`.
    pub sigma_lambda1_corr: Option<f64>,
    /// Mean over samples of `sum_j c_pj^2 / |dw_p|^2`.
    pub captured_share: f64,
    /// What an isotropic dw in R^d would give: mean of `r_p / d`.
    pub captured_share_isotropic: f64,
    /// `|E_p dw_p|^2 / E_p|dw_p|^2` (Eq. 63: zero for zero-mean dw).
    pub dw_mean_share: f64,
    /// Mean over p != q of `|cos(dw_p, dw_q)|`.
    pub dw_mean_abs_cos: f64,
    /// Mean |cos| of two independent uniformly random unit vectors in R^d,
    /// `~ sqrt(2 / (pi d))`.
    pub dw_mean_abs_cos_random: f64,
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
    let dws = minimal_dw_batch(to_ndarray(layer.weights).view(), a_nd.view(), da_nd.view())?;
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
    Ok(PairedMeasurement {
        used: used.len(),
        zero_activity: n - used.len(),
        directions: dm,
        full,
        isotropy,
    })
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

fn isotropy(
    layer: &PairedLayer<'_>,
    used: &[usize],
    left: &[Option<Vec<f64>>],
    lambda1: &[f64],
) -> Result<Isotropy> {
    let eng = layer.engine;
    let (out, inn) = eng.layer_shape();
    let d = (out * inn) as f64;
    let samples = eng.samples();
    let acts = layer.acts;
    let nu = used.len();
    let max_r = used
        .iter()
        .map(|&p| samples[p].theta.len())
        .max()
        .unwrap_or(0);
    // c_pj = e_pj . l_p.
    let coeffs: Vec<Vec<f64>> = used
        .iter()
        .map(|&p| {
            let s = &samples[p];
            let l = left[p].as_deref().unwrap_or(&[]);
            (0..s.theta.len())
                .map(|j| {
                    (0..out)
                        .map(|o| s.e[(o, j)] * l.get(o).copied().unwrap_or(0.0))
                        .sum()
                })
                .collect()
        })
        .collect();
    let mut mode_variance = vec![0.0; max_r];
    let mut mode_count = vec![0usize; max_r];
    let (mut pooled, mut pooled_n) = (0.0, 0usize);
    for c in &coeffs {
        for (j, v) in c.iter().enumerate() {
            mode_variance[j] += v * v;
            mode_count[j] += 1;
            pooled += v * v;
            pooled_n += 1;
        }
    }
    for j in 0..max_r {
        mode_variance[j] /= mode_count[j].max(1) as f64;
    }
    let sigma2 = if pooled_n > 0 {
        pooled / pooled_n as f64
    } else {
        0.0
    };
    let common: Vec<usize> = (0..max_r).filter(|&j| 2 * mode_count[j] >= nu).collect();
    let (mx, mn) = common.iter().fold((0.0f64, f64::INFINITY), |(a, b), &j| {
        (a.max(mode_variance[j]), b.min(mode_variance[j]))
    });
    let mode_anisotropy = if mn > 0.0 { mx / mn } else { f64::INFINITY };
    let tail: Vec<f64> = common
        .iter()
        .filter(|&&j| j > 0)
        .map(|&j| mode_variance[j])
        .collect();
    let principal_vs_tail = if tail.is_empty() || max_r == 0 {
        f64::NAN
    } else {
        mode_variance[0] / (tail.iter().sum::<f64>() / tail.len() as f64)
    };
    let full_modes: Vec<usize> = (0..max_r).filter(|&j| mode_count[j] == nu).collect();
    let mut corr_sum = 0.0;
    let mut corr_n = 0usize;
    for (a, &j) in full_modes.iter().enumerate() {
        for &l in &full_modes[a + 1..] {
            let x: Vec<f64> = coeffs.iter().map(|c| c[j]).collect();
            let y: Vec<f64> = coeffs.iter().map(|c| c[l]).collect();
            if let Some(r) = pearson(&x, &y) {
                corr_sum += r.abs();
                corr_n += 1;
            }
        }
    }
    let mode_cross_corr = if corr_n > 0 {
        corr_sum / corr_n as f64
    } else {
        f64::NAN
    };
    let sigma_p: Vec<f64> = coeffs
        .iter()
        .map(|c| {
            if c.is_empty() {
                0.0
            } else {
                c.iter().map(|v| v * v).sum::<f64>() / c.len() as f64
            }
        })
        .collect();
    let mean_sp = sigma_p.iter().sum::<f64>() / nu as f64;
    let var_sp = sigma_p.iter().map(|v| (v - mean_sp).powi(2)).sum::<f64>() / nu as f64;
    let sample_cv = if mean_sp > 0.0 {
        var_sp.sqrt() / mean_sp
    } else {
        f64::NAN
    };
    let mut captured = 0.0;
    let mut captured_iso = 0.0;
    for (r, &p) in used.iter().enumerate() {
        let l = left[p].as_deref().unwrap_or(&[]);
        let l2: f64 = l.iter().map(|v| v * v).sum();
        let c2: f64 = coeffs[r].iter().map(|v| v * v).sum();
        captured += if l2 > 0.0 { c2 / l2 } else { 0.0 };
        captured_iso += samples[p].theta.len() as f64 / d;
    }
    // Eq. 63: dw_p = l_p (x) a_p/|a_p|; dw_p . dw_q = (l_p . l_q)(a_p . a_q)/(|a_p||a_q|).
    let units: Vec<Vec<f64>> = used
        .iter()
        .map(|&p| {
            let norm = samples[p].act_norm2.sqrt();
            (0..inn).map(|j| acts[(p, j)] / norm).collect()
        })
        .collect();
    let ls: Vec<&[f64]> = used
        .iter()
        .map(|&p| left[p].as_deref().unwrap_or(&[]))
        .collect();
    let l2: Vec<f64> = ls.iter().map(|l| dot(l, l)).collect();
    let mut mean_dw = vec![0.0; out * inn];
    for (r, l) in ls.iter().enumerate() {
        for o in 0..out {
            for j in 0..inn {
                mean_dw[o * inn + j] += l[o] * units[r][j] / nu as f64;
            }
        }
    }
    let e_dw2 = l2.iter().sum::<f64>() / nu as f64;
    let dw_mean_share = if e_dw2 > 0.0 {
        dot(&mean_dw, &mean_dw) / e_dw2
    } else {
        f64::NAN
    };
    let (mut cos_sum, mut cos_n) = (0.0, 0usize);
    for a in 0..nu {
        for b in a + 1..nu {
            let den = (l2[a] * l2[b]).sqrt();
            if den > 0.0 {
                cos_sum += (dot(ls[a], ls[b]) * dot(&units[a], &units[b]) / den).abs();
                cos_n += 1;
            }
        }
    }
    Ok(Isotropy {
        sigma2,
        mode_variance,
        mode_anisotropy,
        principal_vs_tail,
        mode_cross_corr,
        sample_cv,
        sigma_lambda1_corr: pearson(&sigma_p, lambda1),
        captured_share: captured / nu as f64,
        captured_share_isotropic: captured_iso / nu as f64,
        dw_mean_share,
        dw_mean_abs_cos: if cos_n > 0 {
            cos_sum / cos_n as f64
        } else {
            f64::NAN
        },
        dw_mean_abs_cos_random: (2.0 / (std::f64::consts::PI * d)).sqrt(),
    })
}
