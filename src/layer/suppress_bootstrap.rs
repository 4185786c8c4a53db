//! Sample-bootstrap interval of the exponent C13 judges on a trained layer:
//! gamma_awd after the homogenising suppression (App. B.3, Eq. 24-27),
//! gamma_awd before it, and the shift `gamma_awd' - gamma_awd` the verdict
//! compares with its tolerance. Figures only; the judgement is made in
//! `crate::claims::c13`.
//!
//! Replicate `r` draws the N samples with replacement (the multiplicities
//! `w_p` of [`super::uncertainty`], same seed, so the replicates are those
//! of gamma's bootstrap) and refits both exponents on
//!
//! ```text
//! before: H*_ii  = sum_p w_p h_pi  / N,  S*_ii  = sum_p w_p s_pi  / N   (v_i of H)
//! after:  H'*_ii = sum_p w_p h'_pi / N,  S'*_ii = sum_p w_p s'_pi / N   (v'_i of H')
//! ```
//!
//! over the directions the floor rule keeps among the first k (`h_pi`,
//! `s_pi` the per-sample values of [`super::suppress::SpectralSamples`]; at
//! `w_p = 1` these are the moments the two fits use). **Conditional on the
//! suppression and the bases:** the threshold tau, the stiff set, the stiff
//! group's mean principal eigenvalue and the eigenbases of the full-sample
//! H and H' are held fixed; a replicate resamples which samples carry the
//! modified spectra, not the decisions that modified them. The shift is
//! taken within each replicate, so its interval carries the correlation of
//! the two fits. Memory `8 R (N + 4 k)` bytes beyond the `32 N k` of the
//! per-sample values.

use faer::{Mat, MatRef, Par};
use rayon::prelude::*;
use serde::Serialize;

use super::suppress::SpectralSamples;
use super::uncertainty::{
    multiplicity_matrix, percentile_ci, replicate_gamma, replicate_means, UncertaintySettings,
};
use crate::error::{Error, Result};
use crate::fit::FitRule;

/// The intervals of the module doc, each the percentile interval at
/// `level` of the replicates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SuppressionBootstrap {
    /// Replicates R.
    pub replicates: usize,
    /// Confidence level.
    pub level: f64,
    /// What is resampled and what is held fixed.
    pub scheme: String,
    /// gamma_awd before the suppression (H's top-k).
    pub gamma_awd_before_ci: (f64, f64),
    /// gamma_awd after it (H''s top-k).
    pub gamma_awd_after_ci: (f64, f64),
    /// `gamma_awd' - gamma_awd` within each replicate (C13's shift).
    pub shift_ci: (f64, f64),
}

fn check(name: &str, s: &SpectralSamples, n: usize) -> Result<()> {
    if s.second.nrows() != s.h.nrows() || s.second.ncols() != s.h.ncols() {
        return Err(Error::shape(
            &format!("{name} s_pi"),
            format!("{} x {}", s.h.nrows(), s.h.ncols()),
            format!("{} x {}", s.second.nrows(), s.second.ncols()),
        ));
    }
    if s.h.nrows() != n {
        return Err(Error::shape(&format!("{name} samples"), n, s.h.nrows()));
    }
    Ok(())
}

/// The bootstrap of the module doc over the first `k` directions of each
/// basis (both fits with `rule`).
pub fn suppression_bootstrap(
    before: &SpectralSamples,
    after: &SpectralSamples,
    k: usize,
    rule: &FitRule,
    s: &UncertaintySettings,
    par: Par,
) -> Result<SuppressionBootstrap> {
    s.validate()?;
    let n = before.h.nrows();
    check("before the suppression:", before, n)?;
    check("after the suppression:", after, n)?;
    let kk = k.min(before.h.ncols()).min(after.h.ncols());
    if n == 0 || kk < 3 {
        return Err(Error::empty(
            "per-sample spectral values",
            "no samples or fewer than 3 directions",
        ));
    }
    let r = s.replicates;
    let w = multiplicity_matrix(n, s.seed, r);
    let prod = |m: MatRef<'_, f64>| replicate_means(w.as_ref(), m.subcols(0, kk), par);
    let (bh, bs, ah, as_) = (
        prod(before.h.as_ref()),
        prod(before.second.as_ref()),
        prod(after.h.as_ref()),
        prod(after.second.as_ref()),
    );
    let fits: Vec<Result<[f64; 2]>> = (0..r)
        .into_par_iter()
        .map(|rep| {
            let g = |h: &Mat<f64>, c: &Mat<f64>| replicate_gamma(h, c, rep, kk, rule);
            Ok([g(&bh, &bs)?, g(&ah, &as_)?])
        })
        .collect();
    let mut cols: [Vec<f64>; 3] = Default::default();
    for f in fits {
        let [b, a] = f?;
        for (c, v) in cols.iter_mut().zip([b, a, a - b]) {
            c.push(v);
        }
    }
    let [before_ci, after_ci, shift_ci] = cols.map(|v| percentile_ci(v, s.level).0);
    Ok(SuppressionBootstrap {
        replicates: r,
        level: s.level,
        scheme: "samples resampled with replacement; the suppression's decisions (tau, stiff set, stiff mean) and the eigenbases of the full-sample H and H' held fixed (conditional bootstrap); the shift within each replicate".into(),
        gamma_awd_before_ci: before_ci,
        gamma_awd_after_ci: after_ci,
        shift_ci,
    })
}
