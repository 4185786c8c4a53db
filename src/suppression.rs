//! The suppression experiment and the eigenvalue-alignment entanglement
//! diagnostic of Sec. 5.3 and App. B.3 (claim C13).
//!
//! # Suppression (Eq. 23-27)
//! Every sample is kept factored, `h_p = sum_k lambda_pk u_pk u_pk^T`
//! (Eq. 23). Its principal eigenvalue `lambda_p1` is the largest one (the
//! index is found, not assumed). Then
//!
//! ```text
//! tau = q * max_p lambda_p1                                   (Eq. 24)
//! S   = { p : lambda_p1 >= tau }                               (stiff samples)
//! p in S:     lambda_p1 <- mean_{p' in S} lambda_p'1   (homogenize; else kept)
//!             lambda_pk <- stiff_tail * lambda_pk,        k != 1   (Eq. 25)
//! p not in S: lambda_p1 <- background_top * lambda_p1
//!             lambda_pk <- background_tail * lambda_pk,   k != 1   (Eq. 26)
//! H' = E_p[h'_p],  C'_awd = E_p[h'_p^2]                        (Eq. 27)
//! ```
//!
//! with the eigenvectors untouched ([`Ensemble::with_spectra`]). The
//! extracted text of App. B.3 lost the numerical defaults (the threshold
//! percentage and the suppression factors). Our defaults ([`SuppressionConfig::default`]):
//! `q = 0.1`, `stiff_tail = 1e-3`, `background_top = 1e-2`,
//! `background_tail = 1e-3`, "several orders of magnitude" as Sec. 5.3 puts
//! it; every one is configurable. `homogenize = false` gives the
//! rank-1-dominance test of Sec. 5.3 (tails suppressed, magnitudes kept:
//! "the spectra barely move").
//!
//! # Entanglement (Sec. 5.3)
//! With `a_pi = (u_p1 . v_i)^2` for H's eigenvectors `v_i`, a rank-1-dominated
//! ensemble has
//!
//! ```text
//! H_ii ~ E_p[lambda_p1 a_pi],   C_ii / H_ii ~ E_p[lambda_p1^2 a_pi] / E_p[lambda_p1 a_pi],
//! ```
//!
//! which is the `a`-weighted mean of `lambda_p1` along `v_i`: constant in i
//! (gamma = 1) when `lambda_p1` is independent of `a_pi`, growing with `H_ii`
//! (gamma > 1) when stiff samples sit on the top directions.
//! [`entanglement`] returns, per direction, the exact ratio
//! `v_i^T E[h^2] v_i / H_ii`, the rank-1 prediction, and the Pearson
//! correlation over samples of `lambda_p1` and `a_pi`.

use serde::{Deserialize, Serialize};

use crate::ensemble::Ensemble;
use crate::error::{Error, Result};
use crate::fit::{fit_gamma, FitRule, GammaFit};
use crate::moments::{overlaps, Moments};
pub use crate::stats::pearson;

/// Knobs of the suppression procedure (see the module doc for the defaults).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuppressionConfig {
    /// Threshold fraction q of Eq. 24, in [0, 1].
    pub q: f64,
    /// Factor on the tail modes of stiff samples.
    pub stiff_tail: f64,
    /// Factor on the principal mode of non-stiff samples.
    pub background_top: f64,
    /// Factor on the tail modes of non-stiff samples.
    pub background_tail: f64,
    /// Replace the stiff principal eigenvalues by their mean (Eq. 25); when
    /// false they are kept (rank-1-dominance test).
    pub homogenize: bool,
}

impl Default for SuppressionConfig {
    fn default() -> Self {
        SuppressionConfig {
            q: 0.1,
            stiff_tail: 1e-3,
            background_top: 1e-2,
            background_tail: 1e-3,
            homogenize: true,
        }
    }
}

impl SuppressionConfig {
    /// Only the tails suppressed (by `factor`), every principal mode kept:
    /// `q = 0` makes every sample stiff, `homogenize = false`.
    pub fn tails_only(factor: f64) -> Self {
        SuppressionConfig {
            q: 0.0,
            stiff_tail: factor,
            background_top: 1.0,
            background_tail: factor,
            homogenize: false,
        }
    }

    /// Checks `q` in [0, 1] and every factor finite and in [0, 1].
    pub fn validate(&self) -> Result<()> {
        if !(self.q.is_finite() && (0.0..=1.0).contains(&self.q)) {
            return Err(Error::param(
                "q",
                self.q,
                "threshold fraction must be in [0, 1]",
            ));
        }
        for (name, v) in [
            ("stiff_tail", self.stiff_tail),
            ("background_top", self.background_top),
            ("background_tail", self.background_tail),
        ] {
            if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
                return Err(Error::param(
                    name,
                    v,
                    "suppression factor must be in [0, 1]",
                ));
            }
        }
        Ok(())
    }
}

/// The suppressed ensemble and what the procedure decided.
#[derive(Debug, Clone)]
pub struct Suppressed {
    /// The ensemble with modified spectra, same eigenvectors.
    pub ensemble: Ensemble,
    /// The threshold tau of Eq. 24.
    pub tau: f64,
    /// Indices of the stiff samples.
    pub stiff: Vec<usize>,
    /// Mean principal eigenvalue of the stiff group.
    pub stiff_mean: f64,
}

/// Index of the largest eigenvalue of each sample (`None` for rank 0).
pub fn principal_indices(ens: &Ensemble) -> Vec<Option<usize>> {
    (0..ens.n())
        .map(|p| {
            let l = ens.sample(p).lambda;
            (0..l.len()).max_by(|&a, &b| l[a].total_cmp(&l[b]))
        })
        .collect()
}

/// The principal eigenvalue `lambda_p1` of each sample (0 for rank 0).
pub fn principal_eigenvalues(ens: &Ensemble) -> Vec<f64> {
    principal_indices(ens)
        .iter()
        .enumerate()
        .map(|(p, k)| k.map_or(0.0, |k| ens.sample(p).lambda[k]))
        .collect()
}

/// Eq. 24-26 on bare per-sample spectra (`spectra[p]` = eigenvalues of
/// `h_p`, any order): the modified spectra in the same order, and what was
/// decided. Shared by [`suppress`] (factored ensembles) and the Kronecker
/// form of trained layers (`crate::layer::suppress`), whose eigenvectors are
/// never materialised. Errors: an invalid config, or `max_p lambda_p1 <= 0`.
pub fn suppress_spectra(
    spectra: &[Vec<f64>],
    cfg: &SuppressionConfig,
) -> Result<SuppressedSpectra> {
    cfg.validate()?;
    let idx: Vec<Option<usize>> = spectra
        .iter()
        .map(|l| (0..l.len()).max_by(|&a, &b| l[a].total_cmp(&l[b])))
        .collect();
    let top: Vec<f64> = idx
        .iter()
        .zip(spectra)
        .map(|(k, l)| k.map_or(0.0, |k| l[k]))
        .collect();
    let max = top.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    if max.is_nan() || max <= 0.0 {
        return Err(Error::NotPositive {
            input: "max_p lambda_p1 (suppression threshold)".into(),
            index: 0,
            value: max,
        });
    }
    let tau = cfg.q * max;
    let stiff: Vec<usize> = (0..spectra.len())
        .filter(|&p| idx[p].is_some() && top[p] >= tau)
        .collect();
    // Non-empty: the maximising sample is always stiff (q <= 1).
    let stiff_mean = stiff.iter().map(|&p| top[p]).sum::<f64>() / stiff.len().max(1) as f64;
    let mut is_stiff = vec![false; spectra.len()];
    for &p in &stiff {
        is_stiff[p] = true;
    }
    let modified = spectra
        .iter()
        .enumerate()
        .map(|(p, l)| {
            let k1 = idx[p];
            l.iter()
                .enumerate()
                .map(|(k, &v)| match (is_stiff[p], Some(k) == k1) {
                    (true, true) => {
                        if cfg.homogenize {
                            stiff_mean
                        } else {
                            v
                        }
                    }
                    (true, false) => cfg.stiff_tail * v,
                    (false, true) => cfg.background_top * v,
                    (false, false) => cfg.background_tail * v,
                })
                .collect()
        })
        .collect();
    Ok(SuppressedSpectra {
        spectra: modified,
        tau,
        stiff,
        stiff_mean,
    })
}

/// The output of [`suppress_spectra`].
#[derive(Debug, Clone, PartialEq)]
pub struct SuppressedSpectra {
    /// Modified eigenvalues, per sample, in the input order.
    pub spectra: Vec<Vec<f64>>,
    /// The threshold tau of Eq. 24.
    pub tau: f64,
    /// Indices of the stiff samples.
    pub stiff: Vec<usize>,
    /// Mean principal eigenvalue of the stiff group.
    pub stiff_mean: f64,
}

/// Runs Eq. 24-26 on `ens` (see the module doc). Errors: an invalid config,
/// or `max_p lambda_p1 <= 0` (no positive principal curvature to threshold on).
pub fn suppress(ens: &Ensemble, cfg: &SuppressionConfig) -> Result<Suppressed> {
    let spectra: Vec<Vec<f64>> = (0..ens.n())
        .map(|p| ens.sample(p).lambda.to_vec())
        .collect();
    let s = suppress_spectra(&spectra, cfg)?;
    let ensemble = ens.with_spectra(|p, _| s.spectra[p].clone())?;
    Ok(Suppressed {
        ensemble,
        tau: s.tau,
        stiff: s.stiff,
        stiff_mean: s.stiff_mean,
    })
}

/// Per-direction entanglement figures over H's top-k eigen-directions.
#[derive(Debug, Clone, Serialize)]
pub struct Entanglement {
    /// `H_ii`, descending.
    pub h: Vec<f64>,
    /// `v_i^T E[h^2] v_i / H_ii` (exact moments).
    pub ratio: Vec<f64>,
    /// `E_p[lambda_p1^2 a_pi] / E_p[lambda_p1 a_pi]` (rank-1 prediction).
    pub rank1_ratio: Vec<f64>,
    /// Pearson correlation over samples of `lambda_p1` and `a_pi` (`None`
    /// when either has zero variance).
    pub correlation: Vec<Option<f64>>,
    /// `E_p[lambda_p1 a_pi] / H_ii`: the principal modes' share of `H_ii`.
    pub principal_share: Vec<f64>,
}

/// The entanglement diagnostic on the top `top_k` directions of H.
pub fn entanglement(ens: &Ensemble, moments: &Moments, top_k: usize) -> Result<Entanglement> {
    let k = top_k.min(ens.d());
    if k == 0 {
        return Err(Error::param("top_k", top_k, "at least one direction"));
    }
    let v = moments.eig.vectors.as_ref().subcols(0, k);
    let p_all = overlaps(ens, v)?; // k x R
    let idx = principal_indices(ens);
    let top = principal_eigenvalues(ens);
    let n = ens.n();
    let offsets = ens.offsets();
    let mut out = Entanglement {
        h: moments.h_diag()[..k].to_vec(),
        ratio: Vec::with_capacity(k),
        rank1_ratio: Vec::with_capacity(k),
        correlation: Vec::with_capacity(k),
        principal_share: Vec::with_capacity(k),
    };
    for i in 0..k {
        let a: Vec<f64> = (0..n)
            .map(|p| idx[p].map_or(0.0, |kk| p_all[(i, offsets[p] + kk)].powi(2)))
            .collect();
        let m1 = (0..n).map(|p| top[p] * a[p]).sum::<f64>() / n as f64;
        let m2 = (0..n).map(|p| top[p] * top[p] * a[p]).sum::<f64>() / n as f64;
        let h = out.h[i];
        out.ratio.push(moments.second_diag[i] / h);
        out.rank1_ratio.push(m2 / m1);
        out.principal_share.push(m1 / h);
        out.correlation.push(pearson(&top, &a));
    }
    Ok(out)
}

/// gamma_awd of an ensemble (fit of `v_i^T E[h^2] v_i` on `H_ii`, top-k).
pub fn gamma_awd(ens: &Ensemble, top_k: usize) -> Result<(Moments, GammaFit)> {
    let m = Moments::compute(ens)?;
    let fit = fit_gamma(
        m.h_diag(),
        &m.second_diag,
        &FitRule::default_for(top_k, ens.d()),
    )?;
    Ok((m, fit))
}

/// gamma_awd before and after suppression, with the relative change of the
/// top-k H eigenvalues and of `v_i^T E[h^2] v_i` (each rescaled to its own
/// top value first, since suppression also moves the overall scale).
#[derive(Debug, Clone, Serialize)]
pub struct SuppressionEffect {
    /// gamma_awd of the original ensemble.
    pub before: GammaFit,
    /// gamma_awd of the suppressed ensemble.
    pub after: GammaFit,
    /// Max over the top-k of `|H'_ii / H'_11 - H_ii / H_11| / (H_ii / H_11)`.
    pub h_shape_change: f64,
    /// The same for `v_i^T E[h^2] v_i` (each in its own H's eigenbasis).
    pub c_shape_change: f64,
    /// Number of stiff samples.
    pub stiff: usize,
    /// The threshold tau.
    pub tau: f64,
}

/// Suppresses `ens` with `cfg` and refits gamma_awd on the top `top_k` directions.
pub fn suppression_effect(
    ens: &Ensemble,
    cfg: &SuppressionConfig,
    top_k: usize,
) -> Result<SuppressionEffect> {
    let (m0, before) = gamma_awd(ens, top_k)?;
    let s = suppress(ens, cfg)?;
    let (m1, after) = gamma_awd(&s.ensemble, top_k)?;
    let k = top_k.min(ens.d());
    let shape = |a: &[f64], b: &[f64]| {
        let (a0, b0) = (a[0], b[0]);
        (0..k)
            .filter(|&i| a[i] > 0.0)
            .map(|i| ((b[i] / b0) - (a[i] / a0)).abs() / (a[i] / a0))
            .fold(0.0f64, f64::max)
    };
    Ok(SuppressionEffect {
        before,
        after,
        h_shape_change: shape(m0.h_diag(), m1.h_diag()),
        c_shape_change: shape(&m0.second_diag, &m1.second_diag),
        stiff: s.stiff.len(),
        tau: s.tau,
    })
}
