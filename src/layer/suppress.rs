//! The suppression experiment of App. B.3 (C13) on a trained layer, in the
//! Kronecker form: no per-sample d x d matrix and no d x rank factor matrix.
//!
//! Each per-sample Hessian is `h_p = A_p (x) a_p a_p^T` with
//! `A_p = E_p diag(theta_p) E_p^T`, so its eigenpairs are
//! `(theta_pj |a_p|^2, e_pj (x) a_p/|a_p|)` ([`crate::kron`]). Eq. 24-26 only
//! change eigenvalues ([`crate::suppression::suppress_spectra`]), so the
//! modified Hessian keeps the form: `h'_p = A'_p (x) a_p a_p^T` with
//! `A'_p = E_p diag(lambda'_p / |a_p|^2) E_p^T`. Then (Eq. 27)
//!
//! ```text
//! H' = E_p[A'_p (x) a_p a_p^T]          (built as X'^T Y / N, like kron)
//! v^T E[h'_p^2] v = E_p[|a_p|^2 sum_j theta'_pj^2 (e_pj . V a_p)^2]
//! ```
//!
//! on the top-k eigenvectors of H', and gamma_awd is refitted.

use faer::{Mat, MatRef};
use serde::Serialize;

use super::terms::for_each_projection;
use crate::error::{Error, Result};
use crate::fit::{fit_gamma, FitRule, GammaFit};
use crate::kron::KronCurvature;
use crate::linalg::sym_eig;
use crate::suppression::{suppress_spectra, SuppressionConfig};

/// Per-sample spectra `lambda_pj = theta_pj |a_p|^2` (empty for `a_p = 0`).
pub fn kron_spectra(engine: &KronCurvature) -> Vec<Vec<f64>> {
    engine
        .samples()
        .iter()
        .map(|s| {
            if s.act_norm2 > 0.0 {
                s.theta.iter().map(|t| t * s.act_norm2).collect()
            } else {
                Vec::new()
            }
        })
        .collect()
}

fn check_thetas(engine: &KronCurvature, acts: MatRef<'_, f64>, thetas: &[Vec<f64>]) -> Result<()> {
    let (_, inn) = engine.layer_shape();
    if acts.nrows() != engine.n() || acts.ncols() != inn {
        return Err(Error::shape(
            "activities",
            format!("{} x {inn}", engine.n()),
            format!("{} x {}", acts.nrows(), acts.ncols()),
        ));
    }
    if thetas.len() != engine.n() {
        return Err(Error::shape("modified spectra", engine.n(), thetas.len()));
    }
    for (p, (t, s)) in thetas.iter().zip(engine.samples()).enumerate() {
        if !t.is_empty() && t.len() != s.theta.len() {
            return Err(Error::shape(
                &format!("modified spectrum of sample {p}"),
                s.theta.len(),
                t.len(),
            ));
        }
    }
    Ok(())
}

/// `H' = E_p[(E_p diag(thetas[p]) E_p^T) (x) a_p a_p^T]` (d x d, row-major
/// `vec`, symmetrised). An empty `thetas[p]` contributes nothing.
pub fn hessian_with_thetas(
    engine: &KronCurvature,
    acts: MatRef<'_, f64>,
    thetas: &[Vec<f64>],
) -> Result<Mat<f64>> {
    check_thetas(engine, acts, thetas)?;
    let (out, inn) = engine.layer_shape();
    let n = engine.n();
    let samples = engine.samples();
    let mut x = Mat::<f64>::zeros(n, out * out);
    for (p, s) in samples.iter().enumerate() {
        let t = &thetas[p];
        for (j, &tj) in t.iter().enumerate() {
            for o in 0..out {
                for o2 in 0..out {
                    x[(p, o * out + o2)] += tj * s.e[(o, j)] * s.e[(o2, j)];
                }
            }
        }
    }
    let y = Mat::from_fn(n, inn * inn, |p, j| acts[(p, j / inn)] * acts[(p, j % inn)]);
    let xy = x.transpose() * &y;
    let scale = 1.0 / n as f64;
    let entry = |r: usize, c: usize| {
        let (o, i, o2, i2) = (r / inn, r % inn, c / inn, c % inn);
        xy[(o * out + o2, i * inn + i2)] * scale
    };
    let d = out * inn;
    Ok(Mat::from_fn(d, d, |r, c| 0.5 * (entry(r, c) + entry(c, r))))
}

/// Calls `f(p, i, v_i^T h'_p v_i, v_i^T h'_p^2 v_i)` for every sample with
/// a non-empty modified spectrum and every column `i` of `vectors`.
fn visit_with_thetas(
    engine: &KronCurvature,
    acts: MatRef<'_, f64>,
    thetas: &[Vec<f64>],
    vectors: MatRef<'_, f64>,
    chunk: usize,
    mut f: impl FnMut(usize, usize, f64, f64),
) -> Result<()> {
    check_thetas(engine, acts, thetas)?;
    let (out, _) = engine.layer_shape();
    let k = vectors.ncols();
    let samples = engine.samples();
    for_each_projection(acts, None, vectors, out, chunk, |p, xp, _| {
        let t = &thetas[p];
        if t.is_empty() {
            return Ok(());
        }
        let s = &samples[p];
        let w = s.e.transpose() * xp;
        for i in 0..k {
            let (mut f1, mut f2) = (0.0, 0.0);
            for (j, &tj) in t.iter().enumerate() {
                let w2 = w[(j, i)] * w[(j, i)];
                f1 += tj * w2;
                f2 += tj * tj * w2;
            }
            f(p, i, f1, s.act_norm2 * f2);
        }
        Ok(())
    })
}

/// `(v_i^T H' v_i, v_i^T E[h'_p^2] v_i)` for the columns of `vectors`.
pub fn moments_with_thetas(
    engine: &KronCurvature,
    acts: MatRef<'_, f64>,
    thetas: &[Vec<f64>],
    vectors: MatRef<'_, f64>,
    chunk: usize,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let k = vectors.ncols();
    let (mut first, mut second) = (vec![0.0; k], vec![0.0; k]);
    visit_with_thetas(engine, acts, thetas, vectors, chunk, |_, i, f1, f2| {
        first[i] += f1;
        second[i] += f2;
    })?;
    let n = engine.n() as f64;
    Ok((
        first.into_iter().map(|v| v / n).collect(),
        second.into_iter().map(|v| v / n).collect(),
    ))
}

/// The per-sample values whose means are [`moments_with_thetas`]: row `p`
/// of `h` holds `v_i^T h'_p v_i`, of `second` `v_i^T h'_p^2 v_i` (N x k
/// each, zero rows where `thetas[p]` is empty; memory `16 N k` bytes).
pub fn samples_with_thetas(
    engine: &KronCurvature,
    acts: MatRef<'_, f64>,
    thetas: &[Vec<f64>],
    vectors: MatRef<'_, f64>,
    chunk: usize,
) -> Result<SpectralSamples> {
    let (n, k) = (engine.n(), vectors.ncols());
    let mut out = SpectralSamples {
        h: Mat::zeros(n, k),
        second: Mat::zeros(n, k),
    };
    visit_with_thetas(engine, acts, thetas, vectors, chunk, |p, i, f1, f2| {
        out.h[(p, i)] = f1;
        out.second[(p, i)] = f2;
    })?;
    Ok(out)
}

/// Per-sample `h_pi = v_i^T h_p v_i` and `s_pi = v_i^T h_p^2 v_i` (rows
/// samples, columns directions): the values the suppression bootstrap
/// ([`super::suppress_bootstrap`]) resamples.
#[derive(Debug, Clone)]
pub struct SpectralSamples {
    /// `h_pi`.
    pub h: Mat<f64>,
    /// `s_pi`.
    pub second: Mat<f64>,
}

/// One suppression run: what was decided and gamma_awd after it.
#[derive(Debug, Clone, Serialize)]
pub struct KronSuppression {
    /// The configuration.
    pub config: SuppressionConfig,
    /// Threshold tau (Eq. 24).
    pub tau: f64,
    /// Number of stiff samples.
    pub stiff: usize,
    /// Mean principal eigenvalue of the stiff group.
    pub stiff_mean: f64,
    /// gamma_awd of the rebuilt H', E[h'^2] on H''s top-k (or the error text).
    #[serde(with = "crate::error::or_error")]
    pub gamma_awd: std::result::Result<GammaFit, crate::error::Failure>,
    /// `H'_ii` (top-k eigenvalues of H').
    pub h_diag: Vec<f64>,
    /// `v_i'^T E[h'^2] v_i'`.
    pub second_diag: Vec<f64>,
    /// Max over the top-k of the relative change of `H_ii / H_11` (shape).
    pub h_shape_change: f64,
    /// Median over the top-k of the same relative change of `H_ii / H_11`.
    pub h_shape_change_median: f64,
    /// Max over the top 10 directions only (the head of the spectrum).
    pub h_shape_change_top10: f64,
    /// The same for `v_i^T E[h^2] v_i / (v_1^T E[h^2] v_1)` (max).
    pub second_shape_change: f64,
    /// Its median.
    pub second_shape_change_median: f64,
}

/// `|b_i/b_1 - a_i/a_1| / (a_i/a_1)` for every i with positive `a_i` (empty
/// when `a_1 <= 0` or `b_1 = 0`).
pub fn shape_changes(a: &[f64], b: &[f64]) -> Vec<f64> {
    let k = a.len().min(b.len());
    if k == 0 || a[0] <= 0.0 || b[0] == 0.0 {
        return Vec::new();
    }
    (0..k)
        .filter(|&i| a[i] > 0.0)
        .map(|i| ((b[i] / b[0]) - (a[i] / a[0])).abs() / (a[i] / a[0]))
        .collect()
}

/// Max of [`shape_changes`] (NaN when empty).
pub fn shape_change(a: &[f64], b: &[f64]) -> f64 {
    let c = shape_changes(a, b);
    if c.is_empty() {
        f64::NAN
    } else {
        c.into_iter().fold(0.0f64, f64::max)
    }
}

/// Runs Eq. 24-27 with `cfg` on the layer, rebuilds H' and E[h'^2], and
/// refits gamma_awd on H''s top `top_k` directions. `before_h`,
/// `before_second` (the unmodified top-k moments) give the shape changes.
pub fn suppress_layer(
    engine: &KronCurvature,
    acts: MatRef<'_, f64>,
    cfg: &SuppressionConfig,
    top_k: usize,
    before_h: &[f64],
    before_second: &[f64],
) -> Result<KronSuppression> {
    suppress_inner(engine, acts, cfg, top_k, before_h, before_second, false).map(|(s, _)| s)
}

/// [`suppress_layer`], also keeping the per-sample values of H' and
/// E[h'^2] on H''s top-k directions (the suppression bootstrap's input;
/// memory `16 N k` bytes).
pub fn suppress_layer_keeping(
    engine: &KronCurvature,
    acts: MatRef<'_, f64>,
    cfg: &SuppressionConfig,
    top_k: usize,
    before_h: &[f64],
    before_second: &[f64],
) -> Result<(KronSuppression, SpectralSamples)> {
    let (s, kept) = suppress_inner(engine, acts, cfg, top_k, before_h, before_second, true)?;
    let kept = kept.ok_or_else(|| Error::empty("suppressed per-sample values", "none kept"))?;
    Ok((s, kept))
}

/// The per-sample values of the unmodified layer on `vectors` (the
/// suppression bootstrap's "before"; [`samples_with_thetas`] with every
/// sample's own spectrum).
pub fn unsuppressed_samples(
    engine: &KronCurvature,
    acts: MatRef<'_, f64>,
    vectors: MatRef<'_, f64>,
) -> Result<SpectralSamples> {
    let thetas: Vec<Vec<f64>> = engine
        .samples()
        .iter()
        .map(|s| {
            if s.act_norm2 > 0.0 {
                s.theta.clone()
            } else {
                Vec::new()
            }
        })
        .collect();
    samples_with_thetas(engine, acts, &thetas, vectors, 64)
}

fn suppress_inner(
    engine: &KronCurvature,
    acts: MatRef<'_, f64>,
    cfg: &SuppressionConfig,
    top_k: usize,
    before_h: &[f64],
    before_second: &[f64],
    keep: bool,
) -> Result<(KronSuppression, Option<SpectralSamples>)> {
    let spectra = kron_spectra(engine);
    let s = suppress_spectra(&spectra, cfg)?;
    let thetas: Vec<Vec<f64>> = s
        .spectra
        .iter()
        .zip(engine.samples())
        .map(|(l, smp)| {
            if l.is_empty() {
                Vec::new()
            } else {
                l.iter().map(|v| v / smp.act_norm2).collect()
            }
        })
        .collect();
    let h = hessian_with_thetas(engine, acts, &thetas)?;
    let eig = sym_eig(h.as_ref(), "H' (suppressed per-sample spectra)")?;
    drop(h);
    let d = engine.d();
    let k = if top_k == 0 { d } else { top_k.min(d) };
    let v = eig.vectors.subcols(0, k);
    let (second, kept) = if keep {
        let kept = samples_with_thetas(engine, acts, &thetas, v, 64)?;
        let n = engine.n() as f64;
        let second = (0..k)
            .map(|i| {
                (0..kept.second.nrows())
                    .map(|p| kept.second[(p, i)])
                    .sum::<f64>()
                    / n
            })
            .collect();
        (second, Some(kept))
    } else {
        (moments_with_thetas(engine, acts, &thetas, v, 64)?.1, None)
    };
    let h_diag = eig.values[..k].to_vec();
    let gamma_awd = fit_gamma(&h_diag, &second, &FitRule::default_for(k, d))
        .map_err(crate::error::Failure::from);
    let run = KronSuppression {
        config: *cfg,
        tau: s.tau,
        stiff: s.stiff.len(),
        stiff_mean: s.stiff_mean,
        gamma_awd,
        h_shape_change: shape_change(before_h, &h_diag),
        h_shape_change_median: median(&shape_changes(before_h, &h_diag)),
        h_shape_change_top10: shape_change(
            &before_h[..before_h.len().min(10)],
            &h_diag[..h_diag.len().min(10)],
        ),
        second_shape_change: shape_change(before_second, &second),
        second_shape_change_median: median(&shape_changes(before_second, &second)),
        h_diag,
        second_diag: second,
    };
    Ok((run, kept))
}

pub use crate::stats::median;
