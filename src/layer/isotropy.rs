//! C7's isotropy figures of the real AWD perturbations of a trained layer
//! (Thm. 3.4, Eq. 63-68), measured by [`super::terms::measure`].
//!
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

use serde::Serialize;

use super::halves::PairedLayer;
use crate::error::Result;
use crate::suppression::pearson;

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

impl Isotropy {
    /// The figures of a checkpoint whose pairs were not measured: NaN.
    pub fn not_measured() -> Self {
        Isotropy {
            sigma2: f64::NAN,
            mode_variance: Vec::new(),
            mode_anisotropy: f64::NAN,
            principal_vs_tail: f64::NAN,
            mode_cross_corr: f64::NAN,
            sample_cv: f64::NAN,
            sigma_lambda1_corr: None,
            captured_share: f64::NAN,
            captured_share_isotropic: f64::NAN,
            dw_mean_share: f64::NAN,
            dw_mean_abs_cos: f64::NAN,
            dw_mean_abs_cos_random: f64::NAN,
        }
    }
}

pub(super) fn isotropy(
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

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
