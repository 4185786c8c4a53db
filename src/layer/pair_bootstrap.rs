//! Sample-bootstrap intervals of the matched-pair exponents (C6, C7 on
//! trained networks): gamma_I (`C_I,ii = E_p[(Term I . v_i)^2]`), gamma_Dg
//! (`C_Dg,ii = E_p[(Dg . v_i)^2]`), gamma_iso (`S_ii = E_p[s_pi]`, the
//! exponent of `sigma^2 E[h^2]`) and the two differences the verdicts
//! compare, `gamma_I - gamma_Dg` (C6) and `gamma_I - gamma_iso` (C7).
//! Figures only; the judgement is made in `crate::claims`.
//!
//! Replicate `r` draws the used samples with replacement (the multiplicities
//! `w_p` of [`super::uncertainty`], same seed) and refits every exponent on
//!
//! ```text
//! H*_ii = sum_p w_p h_pi / N_u,  C*_ii = sum_p w_p x_pi / N_u
//! ```
//!
//! over the directions the floor rule keeps among the first k (`x_pi` the
//! per-sample values of [`super::terms::PairSamples`]). At `w_p = 1` these
//! are the moments [`super::terms::measure`] fits. As in
//! [`super::uncertainty`], the eigenbasis of the full-sample H is held fixed
//! (a conditional bootstrap), and the differences are taken within each
//! replicate, so their interval carries the correlation of the two fits.
//! All replicates are one GEMM per quantity, `W X` (`W` the R x N_u
//! multiplicities): memory `8 R (N_u + 4 k)` bytes beyond the
//! `32 N_u k` of the per-sample values.

use faer::{Mat, MatRef, Par};
use rayon::prelude::*;
use serde::Serialize;

use super::terms::PairSamples;
use super::uncertainty::{
    multiplicity_matrix, percentile_ci, replicate_gamma, replicate_means, UncertaintySettings,
};
use crate::error::{Error, Result};
use crate::fit::FitRule;

/// The intervals of the module doc, each the percentile interval at
/// `level` of the replicates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairBootstrap {
    /// Replicates R.
    pub replicates: usize,
    /// Confidence level.
    pub level: f64,
    /// What is resampled and what is held fixed.
    pub scheme: String,
    /// gamma_I.
    pub gamma_term1_ci: (f64, f64),
    /// gamma_Dg.
    pub gamma_delta_ci: (f64, f64),
    /// gamma_iso.
    pub gamma_iso_ci: (f64, f64),
    /// `gamma_I - gamma_Dg` within each replicate (C6).
    pub term1_minus_delta_ci: (f64, f64),
    /// `gamma_I - gamma_iso` within each replicate (C7).
    pub term1_minus_iso_ci: (f64, f64),
}

/// The bootstrap of the module doc over the first `k` directions.
pub fn pair_bootstrap(
    ps: &PairSamples,
    k: usize,
    rule: &FitRule,
    s: &UncertaintySettings,
    par: Par,
) -> Result<PairBootstrap> {
    s.validate()?;
    let (n, kk) = (ps.h.nrows(), ps.h.ncols().min(k));
    for (name, m) in [
        ("(Term I . v_i)^2", &ps.term1_sq),
        ("(Dg . v_i)^2", &ps.delta_sq),
        ("s_pi", &ps.second),
    ] {
        if (m.nrows(), m.ncols()) != (ps.h.nrows(), ps.h.ncols()) {
            return Err(Error::shape(
                name,
                format!("{} x {}", ps.h.nrows(), ps.h.ncols()),
                format!("{} x {}", m.nrows(), m.ncols()),
            ));
        }
    }
    if n == 0 || kk < 3 {
        return Err(Error::empty(
            "per-sample pair values",
            "no samples or fewer than 3 directions",
        ));
    }
    let r = s.replicates;
    let w = multiplicity_matrix(n, s.seed, r);
    let prod = |m: MatRef<'_, f64>| replicate_means(w.as_ref(), m.subcols(0, kk), par);
    let (mh, m1, md, ms) = (
        prod(ps.h.as_ref()),
        prod(ps.term1_sq.as_ref()),
        prod(ps.delta_sq.as_ref()),
        prod(ps.second.as_ref()),
    );
    let fits: Vec<Result<[f64; 3]>> = (0..r)
        .into_par_iter()
        .map(|rep| {
            let gamma = |m: &Mat<f64>| replicate_gamma(&mh, m, rep, kk, rule);
            Ok([gamma(&m1)?, gamma(&md)?, gamma(&ms)?])
        })
        .collect();
    let mut cols: [Vec<f64>; 5] = Default::default();
    for f in fits {
        let [g1, gd, gi] = f?;
        for (c, v) in cols.iter_mut().zip([g1, gd, gi, g1 - gd, g1 - gi]) {
            c.push(v);
        }
    }
    let [a, b, c, d, e] = cols.map(|v| percentile_ci(v, s.level).0);
    Ok(PairBootstrap {
        replicates: r,
        level: s.level,
        scheme: "used samples resampled with replacement; eigenbasis of the full-sample H held fixed (conditional bootstrap); differences within each replicate".into(),
        gamma_term1_ci: a,
        gamma_delta_ci: b,
        gamma_iso_ci: c,
        term1_minus_delta_ci: d,
        term1_minus_iso_ci: e,
    })
}
