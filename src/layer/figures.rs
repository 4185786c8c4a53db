//! The figures `superlinear net-claims` measures on one checkpoint of a
//! training run (C3, C6, C7, C8, C13, C15), from the layer's factors
//! ([`measure_checkpoint`]). The verdicts are decided from them in
//! `crate::claims` (`c3`, `c6`, `c7`, `c8`, `c13`, `c15`: `judge_net`).
//!
//! On the N samples: H (full eigendecomposition) and its top-k eigenvectors
//! `v_i`, `C_ii` (Eq. 2), gamma and gamma_awd with gamma(k), the bootstrap
//! interval over samples (basis fixed) and the form test
//! ([`super::uncertainty`]; C15); on matched pairs (C5) the
//! real AWD perturbations and the terms of Eq. 57 ([`super::terms`]):
//!
//! - C6 (Lemma 3.3, Eq. 57-59): `sum_i E[(T2.v_i)^2] / sum_i E[(T1.v_i)^2]`
//!   (Term II against Term I on the top-k) and the remainder
//!   `sum_i E[((Dg - T1).v_i)^2] / sum_i E[(Dg.v_i)^2]`, the same in the full
//!   space, and Table 3's column: gamma of `C_I+II` (Term I + Term II with the
//!   real dw_p, our reading of Eq. 58) and of `sigma^2 E[h^2] + C_II`.
//! - C7 (Thm. 3.4, Eq. 63-68): gamma of `C_I` (actual dw_p), `C_diag` (local
//!   cross terms dropped) and `C_iso = sigma^2 E[h^2]`, their relative
//!   differences `a_i / b_i - 1`, the batch cross terms
//!   `(B - 1) E[T1.v]^2 / E[(T1.v)^2]` (Eq. 62-63) and the isotropy figures.
//! - For C6 and C7's exponents: gamma_I(k) and gamma_Dg(k), and the bootstrap
//!   over samples of gamma_I, gamma_Dg, gamma_iso and the differences the
//!   verdicts compare ([`super::pair_bootstrap`]; the per-sample values it
//!   resamples take `32 N k` bytes while the pairs are measured).
//! - C13 (Sec. 5.3, App. B.3), when asked for: Eq. 24-27 with the configured
//!   thresholds ([`super::suppress`]), the tails-only run (every principal
//!   mode kept, tails scaled by a factor) and the mean-replaced run (q = 0,
//!   homogenised, tails scaled like tails-only); the bootstrap over samples
//!   of gamma_awd before and after the homogenised run and of their shift
//!   ([`super::suppress_bootstrap`]; its per-sample values take `32 N k`
//!   bytes while it runs); the entanglement `corr(lambda_p1, (u_p1.v_i)^2)`
//!   averaged over the top-k and the top 10.
//! - C3, C4, C7 (Remark 3.5), C8 (Eq. 2's premise), when asked for (the
//!   last checkpoint of `net-claims`): the structure of C in H's top-k
//!   eigenbasis against its Haar null ([`super::structure`]).

use std::path::PathBuf;

use faer::MatRef;
use serde::Serialize;

use super::factors::LayerFactors;
use super::halves::match_halves;
use super::halves::PairedLayer;
use super::isotropy::Isotropy;
use super::pair_bootstrap::{pair_bootstrap, PairBootstrap};
use super::structure::{measure_structure, StructureFigures, StructureSettings};
use super::suppress::{
    median, suppress_layer, suppress_layer_keeping, unsuppressed_samples, KronSuppression,
};
use super::suppress_bootstrap::{suppression_bootstrap, SuppressionBootstrap};
use super::terms::measure_keeping;
use super::uncertainty::{
    gamma_curve, gamma_uncertainty_of, GammaAtK, GammaUncertainty, UncertaintySettings,
};
use crate::error::Result;
use crate::fit::{fit_gamma, FitRule, GammaFit};
use crate::kron::KronCurvature;
use crate::linalg::sym_eig;
use crate::loss::Loss;
use crate::pairs::RatioStats;
use crate::suppression::SuppressionConfig;

/// A gamma fit, or the error text when it is impossible.
pub type Fit = std::result::Result<GammaFit, crate::error::Failure>;

fn fit(h: &[f64], c: &[f64], rule: &FitRule) -> Fit {
    fit_gamma(h, c, rule).map_err(crate::error::Failure::from)
}

/// Ratio of sums, NaN when the denominator is 0.
fn share(num: &[f64], den: &[f64]) -> f64 {
    let d: f64 = den.iter().sum();
    if d > 0.0 {
        num.iter().sum::<f64>() / d
    } else {
        f64::NAN
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        f64::NAN
    }
}

/// Mean of the finite values (NaN if none).
fn mean_finite(v: &[f64]) -> f64 {
    let f: Vec<f64> = v.iter().cloned().filter(|x| x.is_finite()).collect();
    if f.is_empty() {
        f64::NAN
    } else {
        f.iter().sum::<f64>() / f.len() as f64
    }
}

/// Relative differences `a_i / b_i - 1` over the directions with `b_i > 0`.
pub fn relative_differences(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter()
        .zip(b)
        .filter(|(_, y)| **y > 0.0)
        .map(|(x, y)| x / y - 1.0)
        .collect()
}

/// C6/C7 figures of one checkpoint (matched pairs and Eq. 57 terms).
#[derive(Debug, Clone, Serialize)]
pub struct PairFigures {
    /// Samples with a partner and `a_p != 0`.
    pub used: usize,
    /// Samples skipped for `a_p = 0`.
    pub zero_activity: usize,
    /// `|da| / |a|` over the pairs.
    pub ratio: Option<RatioStats>,
    /// Distinct partners among the N samples.
    pub distinct_partners: usize,
    /// gamma of `C_I` (Term I with the real dw_p).
    #[serde(with = "crate::error::or_error")]
    pub gamma_term1: Fit,
    /// gamma of `C_I+II` (Eq. 58; Table 3's column, our reading).
    #[serde(with = "crate::error::or_error")]
    pub gamma_term12: Fit,
    /// gamma of `sigma^2 E[h^2] + C_II` (the other reading of Eq. 58:
    /// isotropic Term I plus the measured Term II, cross terms dropped).
    #[serde(with = "crate::error::or_error")]
    pub gamma_iso_term2: Fit,
    /// gamma of `C_Dg` (exact matched-pair gradient differences).
    #[serde(with = "crate::error::or_error")]
    pub gamma_delta: Fit,
    /// gamma of `C_diag` (local cross terms dropped).
    #[serde(with = "crate::error::or_error")]
    pub gamma_local_diag: Fit,
    /// gamma of `sigma^2 E[h^2]` on the same samples (= gamma_awd).
    #[serde(with = "crate::error::or_error")]
    pub gamma_iso: Fit,
    /// Top-k: `sum E[(T2.v)^2] / sum E[(T1.v)^2]`.
    pub term2_share: f64,
    /// Top-k: `sum E[((Dg - T1).v)^2] / sum E[(Dg.v)^2]`.
    pub residual1: f64,
    /// Top-k: `sum E[(T1.v)^2] / sum E[(Dg.v)^2]` (with `residual1` it gives
    /// the cross term, so Dg against Term I up to a free factor, C6).
    pub term1_over_delta: f64,
    /// Top-k: `sum E[((Dg - T1 - T2).v)^2] / sum E[(Dg.v)^2]`.
    pub residual12: f64,
    /// Full space: `E|T2|^2 / E|T1|^2`.
    pub term2_share_full: f64,
    /// Full space: `E|Dg - T1|^2 / E|Dg|^2`.
    pub residual1_full: f64,
    /// Full space: `E|Dg - T1 - T2|^2 / E|Dg|^2`.
    pub residual12_full: f64,
    /// `E|g_p|^2` (Term II scales with the per-sample gradients).
    pub grad_norm2: f64,
    /// Median over directions of `C_I,ii / (sigma^2 S_ii) - 1`.
    pub rel_term1_vs_iso_median: f64,
    /// Largest |.| of the same.
    pub rel_term1_vs_iso_max_abs: f64,
    /// Median of `C_I,ii / C_diag,ii - 1` (local cross terms).
    pub rel_term1_vs_diag_median: f64,
    /// Median of `C_diag,ii / (sigma^2 S_ii) - 1` (non-uniform mode variances).
    pub rel_diag_vs_iso_median: f64,
    /// Median over directions of `(B - 1) E[T1.v]^2 / E[(T1.v)^2]`: batch
    /// cross terms against the diagonal ones (Eq. 62-63), B of the run.
    pub batch_cross_ratio_median: f64,
    /// Mean over the top-k of the entanglement correlation (C13).
    pub entanglement_mean: f64,
    /// Mean over the top 10 directions of the same.
    pub entanglement_top10: f64,
    /// Isotropy figures.
    pub isotropy: Isotropy,
    /// Sample-bootstrap intervals of gamma_I, gamma_Dg, gamma_iso and of
    /// the differences C6 and C7 compare ([`super::pair_bootstrap`]).
    #[serde(with = "crate::error::or_error")]
    pub bootstrap: std::result::Result<PairBootstrap, crate::error::Failure>,
    /// gamma_I(k) and local slopes (k-sensitivity; grid of
    /// [`super::uncertainty::gamma_curve`]).
    pub gamma_term1_curve: Vec<GammaAtK>,
    /// gamma_Dg(k) and local slopes.
    pub gamma_delta_curve: Vec<GammaAtK>,
}

impl PairFigures {
    /// The figures of a checkpoint whose pairs were not measured (no claim
    /// asked for them): every fit an error saying so, every number NaN.
    pub fn not_measured() -> Self {
        let no = || -> Fit {
            Err(crate::error::Failure::new(
                "NotMeasured",
                "matched pairs not measured (only C6, C7 and C13 need them)",
            ))
        };
        PairFigures {
            used: 0,
            zero_activity: 0,
            ratio: None,
            distinct_partners: 0,
            gamma_term1: no(),
            gamma_term12: no(),
            gamma_iso_term2: no(),
            gamma_delta: no(),
            gamma_local_diag: no(),
            gamma_iso: no(),
            term2_share: f64::NAN,
            residual1: f64::NAN,
            term1_over_delta: f64::NAN,
            residual12: f64::NAN,
            term2_share_full: f64::NAN,
            residual1_full: f64::NAN,
            residual12_full: f64::NAN,
            grad_norm2: f64::NAN,
            rel_term1_vs_iso_median: f64::NAN,
            rel_term1_vs_iso_max_abs: f64::NAN,
            rel_term1_vs_diag_median: f64::NAN,
            rel_diag_vs_iso_median: f64::NAN,
            batch_cross_ratio_median: f64::NAN,
            entanglement_mean: f64::NAN,
            entanglement_top10: f64::NAN,
            isotropy: Isotropy::not_measured(),
            bootstrap: Err(crate::error::Failure::new(
                "NotMeasured",
                "matched pairs not measured (only C6, C7 and C13 need them)",
            )),
            gamma_term1_curve: Vec::new(),
            gamma_delta_curve: Vec::new(),
        }
    }
}

/// Everything measured on one checkpoint.
#[derive(Debug, Clone, Serialize)]
pub struct CheckpointFigures {
    /// Epoch.
    pub epoch: usize,
    /// File.
    pub path: PathBuf,
    /// Training loss after that epoch (from run.json).
    pub train_loss: Option<f64>,
    /// Training accuracy after that epoch (from run.json).
    pub train_accuracy: Option<f64>,
    /// Mean per-sample loss on the analysed samples.
    pub mean_loss: f64,
    /// gamma (C from Eq. 2).
    #[serde(with = "crate::error::or_error")]
    pub gamma: Fit,
    /// gamma_awd (Eq. 15).
    #[serde(with = "crate::error::or_error")]
    pub gamma_awd: Fit,
    /// gamma(k), gamma's bootstrap interval over samples (basis fixed) and
    /// the form test ([`super::uncertainty`]; C15); the error text when
    /// impossible.
    #[serde(with = "crate::error::or_error")]
    pub gamma_uncertainty: std::result::Result<GammaUncertainty, crate::error::Failure>,
    /// Matched-pair figures (C6, C7).
    pub pairs: PairFigures,
    /// The structure of C in H's top-k eigenbasis (C3, C7's Remark 3.5, C8,
    /// C13's entanglement; None: not measured at this checkpoint).
    pub structure: Option<StructureFigures>,
    /// gamma and gamma_awd at a second top-k (None: not asked for).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gamma_second_k: Option<GammaAtSecondK>,
    /// Seconds spent on this checkpoint.
    pub seconds: f64,
}

/// The suppression runs (C13) at the last checkpoint.
#[derive(Debug, Clone, Serialize)]
pub struct SuppressionFigures {
    /// gamma_awd before.
    #[serde(with = "crate::error::or_error")]
    pub before: Fit,
    /// The homogenised run (Eq. 24-26 with the configured thresholds).
    pub homogenized: KronSuppression,
    /// Tails only (every principal mode kept).
    pub tails_only: KronSuppression,
    /// Sec. 5.3's reading: every principal eigenvalue replaced by the mean of
    /// all (q = 0, homogenised), tails scaled like the tails-only run.
    pub mean_replaced: KronSuppression,
    /// Sample-bootstrap intervals of gamma_awd before and after the
    /// homogenised run and of the shift C13 judges
    /// ([`super::suppress_bootstrap`]).
    #[serde(with = "crate::error::or_error")]
    pub homogenized_bootstrap: std::result::Result<SuppressionBootstrap, crate::error::Failure>,
}

/// What the verdicts of a run are decided from (`crate::claims`).
#[derive(Debug, Clone, Copy)]
pub struct NetFigures<'a> {
    /// Loss of the run.
    pub loss: Loss,
    /// Per checkpoint, in epoch order.
    pub checkpoints: &'a [CheckpointFigures],
    /// C13's suppression runs at the last checkpoint (None: not run).
    pub suppression: Option<&'a SuppressionFigures>,
}

/// Which checkpoint the factors come from (recorded with its figures).
#[derive(Debug, Clone, PartialEq)]
pub struct CheckpointInfo {
    /// Epoch after which it was saved.
    pub epoch: usize,
    /// File.
    pub path: PathBuf,
    /// Training loss after that epoch.
    pub train_loss: Option<f64>,
    /// Training accuracy after that epoch.
    pub train_accuracy: Option<f64>,
}

/// The App. B.3 runs of [`measure_checkpoint`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SuppressionSettings {
    /// Configuration of the homogenised run.
    pub config: SuppressionConfig,
    /// Factor on the tail modes in the tails-only and mean-replaced runs.
    pub tails_factor: f64,
}

/// Settings of [`measure_checkpoint`].
#[derive(Debug, Clone, PartialEq)]
pub struct FigureSettings {
    /// Top-k eigen-directions of H (0: all d).
    pub top_k: usize,
    /// Batch size B of Eq. 2 (the run's).
    pub batch_size: usize,
    /// Seed of the split into matched halves.
    pub seed: u64,
    /// One-to-one matching instead of the paper's nearest partner.
    pub one_to_one: bool,
    /// Samples per chunk of the projection passes.
    pub chunk: usize,
    /// The suppression runs (None: not run).
    pub suppression: Option<SuppressionSettings>,
    /// The structure figures (None: not measured).
    pub structure: Option<StructureSettings>,
    /// gamma's bootstrap, gamma(k) and form test.
    pub uncertainty: UncertaintySettings,
    /// Measure the matched pairs and the terms of Eq. 57 (C6, C7, C13);
    /// without them [`PairFigures`] holds [`PairFigures::not_measured`] and
    /// gamma_awd comes from the second moments alone.
    pub pairs: bool,
    /// A second top-k at which gamma and gamma_awd are also fitted, in the
    /// same eigenbasis of H ([`GammaAtSecondK`]; None: not measured).
    pub second_top_k: Option<usize>,
}

/// gamma and gamma_awd fitted over a second top-k of the same H (a second
/// column of Table 1: the first `k` eigen-directions, `C_ii` of Eq. 2 and
/// `C_awd,ii / sigma^2` of Eq. 15 on them, the analysis' fit rule at that k).
#[derive(Debug, Clone, Serialize)]
pub struct GammaAtSecondK {
    /// k (at most d).
    pub k: usize,
    /// gamma over the first k.
    #[serde(with = "crate::error::or_error")]
    pub gamma: Fit,
    /// gamma_awd over the first k.
    #[serde(with = "crate::error::or_error")]
    pub gamma_awd: Fit,
}

/// What [`measure_checkpoint`] returns.
#[derive(Debug, Clone)]
pub struct CheckpointMeasurement {
    /// The figures (`seconds` is 0: the caller times loading and gathering too).
    pub figures: CheckpointFigures,
    /// The suppression runs, when asked for.
    pub suppression: Option<SuppressionFigures>,
    /// `(out, in)` of the layer.
    pub layer_shape: (usize, usize),
    /// The k used.
    pub top_k: usize,
}

/// Measures the figures of one checkpoint (module doc) from its factors.
pub fn measure_checkpoint(
    factors: &LayerFactors,
    settings: &FigureSettings,
    info: CheckpointInfo,
) -> Result<CheckpointMeasurement> {
    let samples = &factors.samples;
    let labels = &samples.labels;
    let batch_size = settings.batch_size;
    let engine = KronCurvature::new(samples, &factors.layer)?;
    let (out, inn) = engine.layer_shape();
    let eig = sym_eig(engine.hessian().as_ref(), "H (Kronecker layer Hessian)")?;
    let d = engine.d();
    let k = if settings.top_k == 0 {
        d
    } else {
        settings.top_k.min(d)
    };
    let v = eig.vectors.subcols(0, k);
    let h_diag = eig.values[..k].to_vec();
    let rule = FitRule::default_for(k, d);
    let c_diag = engine.c_diag(v, batch_size)?;
    let par = faer::get_global_parallelism();
    let proj = engine.projections_per_sample(v, settings.chunk.clamp(1, 64), false, par)?;
    let uncertainty = gamma_uncertainty_of(
        &proj,
        batch_size,
        &h_diag,
        &c_diag,
        &rule,
        settings.top_k,
        &settings.uncertainty,
        par,
        // Runs inside a checkpoint's step of the caller's progress.
        &crate::progress::Silent,
    );
    drop(proj);
    let (pf, second) = if settings.pairs {
        let pairs = match_halves(
            samples.acts.as_ref(),
            labels,
            settings.seed,
            settings.one_to_one,
        )?;
        let layer_in = PairedLayer {
            engine: &engine,
            acts: samples.acts.as_ref(),
            weights: factors.weights.as_ref(),
            partner: &pairs.partner,
        };
        let (m, per_sample) = measure_keeping(&layer_in, v, settings.chunk)?;
        let bootstrap = pair_bootstrap(&per_sample, k, &rule, &settings.uncertainty, par)
            .map_err(crate::error::Failure::from);
        drop(per_sample);
        let dm = &m.directions;
        let sigma2 = m.isotropy.sigma2;
        let iso: Vec<f64> = dm.second.iter().map(|s| s * sigma2).collect();
        let rel_iso = relative_differences(&dm.c_term1, &iso);
        let batch_cross: Vec<f64> = dm
            .mean_term1
            .iter()
            .zip(&dm.c_term1)
            .filter(|(_, c)| **c > 0.0)
            .map(|(mu, c)| (batch_size.saturating_sub(1)) as f64 * mu * mu / c)
            .collect();
        let ent: Vec<f64> = dm
            .entanglement
            .iter()
            .map(|c| c.unwrap_or(f64::NAN))
            .collect();
        let pf = PairFigures {
            used: m.used,
            zero_activity: m.zero_activity,
            ratio: pairs.ratio.clone(),
            distinct_partners: pairs.distinct_partners,
            gamma_term1: fit(&h_diag, &dm.c_term1, &rule),
            gamma_term12: fit(&h_diag, &dm.c_term12, &rule),
            gamma_iso_term2: fit(
                &h_diag,
                &iso.iter()
                    .zip(&dm.c_term2)
                    .map(|(a, b)| a + b)
                    .collect::<Vec<_>>(),
                &rule,
            ),
            gamma_delta: fit(&h_diag, &dm.c_delta, &rule),
            gamma_local_diag: fit(&h_diag, &dm.c_local_diag, &rule),
            gamma_iso: fit(&h_diag, &dm.second, &rule),
            term2_share: share(&dm.c_term2, &dm.c_term1),
            residual1: share(&dm.c_resid1, &dm.c_delta),
            term1_over_delta: share(&dm.c_term1, &dm.c_delta),
            residual12: share(&dm.c_resid12, &dm.c_delta),
            term2_share_full: ratio(m.full.term2, m.full.term1),
            residual1_full: ratio(m.full.resid1, m.full.delta),
            residual12_full: ratio(m.full.resid12, m.full.delta),
            grad_norm2: m.full.grad,
            rel_term1_vs_iso_median: median(&rel_iso),
            rel_term1_vs_iso_max_abs: rel_iso.iter().fold(0.0f64, |a, x| a.max(x.abs())),
            rel_term1_vs_diag_median: median(&relative_differences(&dm.c_term1, &dm.c_local_diag)),
            rel_diag_vs_iso_median: median(&relative_differences(&dm.c_local_diag, &iso)),
            batch_cross_ratio_median: median(&batch_cross),
            entanglement_mean: mean_finite(&ent),
            entanglement_top10: mean_finite(&ent[..ent.len().min(10)]),
            isotropy: m.isotropy.clone(),
            bootstrap,
            gamma_term1_curve: gamma_curve(&h_diag, &dm.c_term1, &rule, &settings.uncertainty),
            gamma_delta_curve: gamma_curve(&h_diag, &dm.c_delta, &rule, &settings.uncertainty),
        };
        (pf, dm.second.clone())
    } else {
        (PairFigures::not_measured(), engine.c_awd_diag(v)?)
    };
    let structure = match &settings.structure {
        Some(ss) => Some(measure_structure(
            &engine,
            v,
            &h_diag,
            batch_size,
            (pf.entanglement_mean, pf.entanglement_top10),
            ss,
        )?),
        None => None,
    };
    let suppression = match &settings.suppression {
        Some(ss) => Some(suppression_runs(
            &engine,
            factors,
            ss,
            (v, &h_diag, &second),
            &rule,
            &settings.uncertainty,
        )?),
        None => None,
    };
    let gamma_second_k = match settings.second_top_k {
        None => None,
        Some(k2) => {
            let k2 = if k2 == 0 { d } else { k2.min(d) };
            let v2 = eig.vectors.subcols(0, k2);
            let h2 = eig.values[..k2].to_vec();
            let rule2 = FitRule::default_for(k2, d);
            let c2 = engine.c_diag(v2, batch_size)?;
            let s2 = engine.c_awd_diag(v2)?;
            Some(GammaAtSecondK {
                k: k2,
                gamma: fit(&h2, &c2, &rule2),
                gamma_awd: fit(&h2, &s2, &rule2),
            })
        }
    };
    Ok(CheckpointMeasurement {
        figures: CheckpointFigures {
            epoch: info.epoch,
            path: info.path,
            train_loss: info.train_loss,
            train_accuracy: info.train_accuracy,
            mean_loss: engine.mean_loss(),
            gamma: fit(&h_diag, &c_diag, &rule),
            gamma_awd: fit(&h_diag, &second, &rule),
            gamma_uncertainty: uncertainty,
            pairs: pf,
            structure,
            gamma_second_k,
            seconds: 0.0,
        },
        suppression,
        layer_shape: (out, inn),
        top_k: k,
    })
}

/// The homogenised, tails-only and mean-replaced runs (module doc).
fn suppression_runs(
    engine: &KronCurvature,
    factors: &LayerFactors,
    s: &SuppressionSettings,
    (v, h_diag, second): (MatRef<'_, f64>, &[f64], &[f64]),
    rule: &FitRule,
    uncertainty: &UncertaintySettings,
) -> Result<SuppressionFigures> {
    let acts = factors.samples.acts.as_ref();
    let k = v.ncols();
    let before = fit(h_diag, second, rule);
    let (homogenized, after_samples) =
        suppress_layer_keeping(engine, acts, &s.config, k, h_diag, second)?;
    let before_samples = unsuppressed_samples(engine, acts, v)?;
    let homogenized_bootstrap = suppression_bootstrap(
        &before_samples,
        &after_samples,
        k,
        rule,
        uncertainty,
        faer::get_global_parallelism(),
    )
    .map_err(crate::error::Failure::from);
    drop((before_samples, after_samples));
    let tails_only = suppress_layer(
        engine,
        acts,
        &SuppressionConfig::tails_only(s.tails_factor),
        k,
        h_diag,
        second,
    )?;
    let mean_replaced = suppress_layer(
        engine,
        acts,
        &SuppressionConfig {
            q: 0.0,
            homogenize: true,
            ..SuppressionConfig::tails_only(s.tails_factor)
        },
        k,
        h_diag,
        second,
    )?;
    Ok(SuppressionFigures {
        before,
        homogenized,
        tails_only,
        mean_replaced,
        homogenized_bootstrap,
    })
}
