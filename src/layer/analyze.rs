//! [`analyze_layer`]: everything `superlinear analyze` measures on one layer
//! once its per-sample factors are gathered (C14, C8, C9, C3, C4, C6).
//!
//! Before anything is allocated the memory plan of the whole analysis
//! ([`crate::memory::estimate_analysis`]) is checked against the cap
//! ([`LayerSettings::memory_limit`], else the memory available): a request
//! that cannot fit is refused with [`Error::MemoryLimit`] naming the stage.
//!
//! Stages (each timed) and their costs (N samples, layer out x in,
//! `d = out in`, K classes, top-k): factor every `A_p` ([`crate::kron`];
//! `O(N K out^2)`, kept dense only while `8 N out^2` bytes stay under
//! [`DENSE_FACTOR_BYTES`]); the top-k eigenpairs of
//! `H = E_p[A_p (x) a_p a_p^T]` by the route [`crate::memory::eig_route`]
//! picks: dense (`N d^2 / 2` to build H, `~(4/3) d^3` for faer's
//! tridiagonalisation and divide and conquer, only the k wanted vectors
//! back-transformed) while `d <= 4096`, else block Krylov on the dense H or
//! on the matrix-free Kronecker product (`4 N d` flops per column, no d x d
//! object; residuals reported);
//! on the top-k eigenvectors `v_i`, in one pass
//! ([`crate::kron::KronCurvature::projections`]): `H_ii = lambda_i`, `C_ii`
//! from Eq. 2 with batch size B, `C_awd,ii / sigma^2 = v_i^T E_p[h_p^2] v_i`
//! (Eq. 15), and the first-moment identity
//! `H_ii = E_p[sum_k lambda_{p,k} (u_{p,k}.v_i)^2]` (C8) as a consistency
//! check. Theorem 5.1 (C9): `H_ii^2 <= v_i^T E[h_p^2] v_i` always holds for
//! PSD h_p; `v_i^T E[h_p^2] v_i <= Lambda H_ii` with
//! `Lambda = max_{p,k} lambda_{p,k}`; both are counted over the top-k
//! (softmax-MSE per-sample Hessians can be indefinite: their negative mass is
//! reported). gamma: OLS slope of `ln C_ii` (and `ln C_awd,ii`) on `ln H_ii`
//! over the top-k ([`crate::fit`]); how far it can be trusted
//! ([`super::uncertainty`]): gamma(k) with local slopes, the bootstrap
//! interval over samples with the eigenbasis held fixed, and the form test
//! (curvature and a Haar-rotated null for `R^2`), from the per-sample
//! `g_p.v_i`, `v_i^T h_p v_i` and `v_i^T h_p^2 v_i` the projection pass keeps.
//!
//! Coupling (C3, C4; [`super::coupling_null`]): `rho_bar` of `C' = V^T C V`
//! over the top-k with the paper's null (App. C mean from `tr C`, `||C||_F^2`
//! streamed through Gram blocks or the d x d centred moment, whichever is
//! cheaper, never an N x N matrix: [`crate::kron::KronCurvature::c_moments`];
//! App. D SE), always; of
//! `C_awd' = V^T E[h_p^2] V` only with [`LayerSettings::coupling_awd`]; the
//! corrected null mean with [`LayerSettings::coupling_null`].
//!
//! Table 3 (C6, C14) with [`LayerSettings::term2`]: the N samples are split
//! per class into two seeded halves and matched to their nearest same-class
//! partner of the other half on the layer's input activity (C5); with the
//! real minimal perturbations `dw_p`, Term I `= h_p dw_p` and Term II
//! `= (d dw_p/dw)^T g_p = delta_p da^T` (Eq. 57) are projected on the top-k
//! `v_i` ([`super::terms::measure`]), and two readings of Eq. 58's exponent
//! (its formula was lost in the extraction) are fitted against `H_ii`:
//! `gamma_I+II` from `E_p[((T1 + T2) . v_i)^2]`, and `gamma_iso+II` from
//! `sigma^2 v_i^T E[h^2] v_i + E_p[(T2 . v_i)^2]` (cross terms dropped).

use std::time::Instant;

use faer::Par;
use serde::{Deserialize, Serialize};

use super::coupling_null::CouplingNull;
use super::factors::{LayerFactors, LayerSettings};
use super::halves::match_halves;
use super::halves::PairedLayer;
use super::terms::measure;
use super::uncertainty::{gamma_uncertainty_of, GammaUncertainty};
use crate::bounds::{check_bounds, BoundReport, BoundTolerance};
use crate::error::{Error, Result};
use crate::fit::{fit_gamma, FitRule, GammaFit};
use crate::kron::{EigSettings, KronCurvature, SpectraSummary};
use crate::linalg::KrylovSettings;
use crate::loss::Loss;
use crate::memory::{estimate_analysis, AnalysisOptions, AnalysisShape, EigMethod, MemoryBudget};
use crate::progress::Progress;

/// Wall-clock seconds of one stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    /// Stage name.
    pub name: String,
    /// Seconds.
    pub seconds: f64,
}

/// Everything [`analyze_layer`] measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerReport {
    /// Layer (weight name) analysed.
    pub layer: String,
    /// `(out, in)` of the layer; `d = out * in`.
    pub layer_shape: (usize, usize),
    /// Samples used.
    pub samples: usize,
    /// Settings resolved to another value than the one given (`0: all`, or
    /// more than exists), stated ([`crate::adjust`]): top-k here, samples by
    /// the caller that chose them.
    pub adjustments: Vec<crate::adjust::Adjustment>,
    /// Classes K.
    pub classes: usize,
    /// Loss.
    pub loss: Loss,
    /// Batch size B in Eq. 2.
    pub batch_size: usize,
    /// Mean per-sample loss on the samples.
    pub mean_loss: f64,
    /// Accuracy on the samples.
    pub accuracy: f64,
    /// `H_ii = lambda_i`, top-k, descending.
    pub h_diag: Vec<f64>,
    /// `C_ii` (Eq. 2).
    pub c_diag: Vec<f64>,
    /// `C_awd,ii / sigma^2 = v_i^T E[h_p^2] v_i` (Eq. 15).
    pub c_awd_diag: Vec<f64>,
    /// `max_i |H_ii - E_p[sum_k lambda_{p,k} (u_{p,k}.v_i)^2]| / max_i |H_ii|` (C8).
    pub first_moment_residual: f64,
    /// gamma: fit of `ln C_ii` on `ln H_ii` over the top-k (Eq. 2's C); the
    /// error text when the fit is impossible (e.g. fewer than 3 usable points).
    #[serde(with = "crate::error::or_error")]
    pub gamma: std::result::Result<GammaFit, crate::error::Failure>,
    /// gamma_awd: the same with `C_awd,ii` (Eq. 15).
    #[serde(with = "crate::error::or_error")]
    pub gamma_awd: std::result::Result<GammaFit, crate::error::Failure>,
    /// The fit rule used (default floor `1e3 d eps`).
    pub fit_rule: FitRule,
    /// gamma(k), gamma's bootstrap interval over samples (basis fixed) and the
    /// form test ([`super::uncertainty`]); the error text when impossible.
    #[serde(with = "crate::error::or_error")]
    pub gamma_uncertainty: std::result::Result<GammaUncertainty, crate::error::Failure>,
    /// Theorem 5.1 (C9) on `S_ii = v_i^T E[h_p^2] v_i` with `Lambda = max lambda_{p,k}`.
    pub bounds: BoundReport,
    /// Per-sample spectra.
    pub spectra: SpectraSummary,
    /// Stage timings.
    pub stages: Vec<Stage>,
    /// `rho_bar` of `C' = V^T C V` over the top-k (C3) with the paper's null;
    /// the error text when it cannot be computed.
    #[serde(with = "crate::error::or_error")]
    pub coupling_c: std::result::Result<CouplingNull, crate::error::Failure>,
    /// The same for `C_awd' = V^T E[h^2] V` (None: not asked for, see
    /// [`LayerSettings::coupling_awd`]).
    #[serde(with = "crate::error::or_error::option")]
    pub coupling_awd: Option<std::result::Result<CouplingNull, crate::error::Failure>>,
    /// Table 3's exponents with Term II kept (None: not asked for, see
    /// [`LayerSettings::term2`]); the error text when the matching or a fit
    /// is impossible.
    #[serde(with = "crate::error::or_error::option")]
    pub term2: Option<std::result::Result<Term2Report, crate::error::Failure>>,
    /// How the top-k eigenpairs of H were found and how well.
    pub eigen: EigenSummary,
    /// The top `n x n` block of `C' = V^T C V` as `(n, row-major values)`
    /// (None: not kept, see [`LayerSettings::keep_block`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coupling_block: Option<(usize, Vec<f64>)>,
    /// The memory plan the analysis was checked against before allocating.
    pub memory: MemorySummary,
}

/// The eigen route of an analysis (dense, or block Krylov on the dense or
/// the matrix-free Kronecker H) and its accuracy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EigenSummary {
    /// The route taken.
    pub method: EigMethod,
    /// Operator columns applied (Krylov routes; 0 for dense).
    pub products: usize,
    /// `max_i ||H v_i - lambda_i v_i|| / |lambda_1|` (Krylov routes; None for
    /// the dense route, backward stable to `O(d eps ||H||)`).
    pub max_relative_residual: Option<f64>,
}

/// The estimated peak memory of an analysis and the cap it was checked
/// against.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemorySummary {
    /// Estimated peak bytes over the stages ([`crate::memory`]).
    pub estimated_peak_bytes: u64,
    /// The cap in bytes (available memory unless a limit was given).
    pub limit_bytes: u64,
    /// Whether the per-sample `A_p` were kept dense (otherwise factored only).
    pub dense_factors: bool,
}

/// The factors of N samples kept as dense `A_p` (8 N out^2 bytes) above this
/// size are kept factored only (`KronCurvature::new_factored`), unless the
/// Term II pass needs them.
pub const DENSE_FACTOR_BYTES: u64 = 512 << 20;

/// The sizes of the analysis of `factors` for the memory plan.
pub fn analysis_shape(factors: &LayerFactors, top_k: usize) -> AnalysisShape {
    let s = &factors.samples;
    let out = s.jacobians.first().map_or(0, |j| j.ncols());
    let inn = s.acts.ncols();
    let d = out * inn;
    AnalysisShape {
        samples: s.acts.nrows(),
        out,
        inn,
        classes: s.logits.ncols(),
        top_k: if top_k == 0 { d } else { top_k.min(d) },
    }
}

/// Whether the analysis keeps the per-sample `A_p` dense (module doc).
pub fn keeps_dense_factors(shape: &AnalysisShape, term2: bool) -> bool {
    term2 || 8 * (shape.samples as u64) * (shape.out as u64).pow(2) <= DENSE_FACTOR_BYTES
}

/// The memory plan of analysing `shape` with `settings`, checked against the
/// settings' cap: a typed [`Error::MemoryLimit`] naming the stage, the bytes
/// and what would fit, before anything is allocated.
pub fn plan_memory(shape: &AnalysisShape, settings: &LayerSettings) -> Result<MemorySummary> {
    let dense_factors = keeps_dense_factors(shape, settings.term2);
    let opts = AnalysisOptions {
        eig: settings.eig,
        coupling_awd: settings.coupling_awd,
        coupling_null: settings.coupling_null,
        projection_chunk: settings.chunk.clamp(1, 64),
        dense_factors,
        bootstrap_replicates: settings.uncertainty.replicates,
        ..AnalysisOptions::default()
    };
    let budget = settings.budget()?;
    let plan = estimate_analysis(shape, &opts);
    if let Err(e) = plan.check(&budget) {
        return Err(with_fit_hint(e, shape, &opts, &budget));
    }
    Ok(MemorySummary {
        estimated_peak_bytes: plan.peak(),
        limit_bytes: budget.limit_bytes,
        dense_factors,
    })
}

/// A refusal of [`plan_memory`] with the sizes asked for and the largest
/// sample count that fits the same budget (the estimate grows with N), so the
/// message names the flag that would fit.
fn with_fit_hint(
    e: Error,
    shape: &AnalysisShape,
    opts: &AnalysisOptions,
    budget: &MemoryBudget,
) -> Error {
    let Error::MemoryLimit {
        stage,
        needed_bytes,
        needed_gib,
        limit_bytes,
        ..
    } = e
    else {
        return e;
    };
    let fits = |samples: usize, top_k: usize| {
        let s = AnalysisShape {
            samples,
            top_k,
            ..*shape
        };
        estimate_analysis(&s, opts).peak() <= budget.limit_bytes
    };
    // The largest value in 0..=max that fits (the estimate grows with both).
    let largest = |max: usize, fits: &dyn Fn(usize) -> bool| {
        let (mut lo, mut hi) = (0usize, max);
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            if fits(mid) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        lo
    };
    let lo = largest(shape.samples, &|n| fits(n, shape.top_k));
    let k = largest(shape.top_k, &|k| fits(shape.samples, k));
    let sizes = format!(
        "N = {} samples, layer {} x {} (d = {}), top-k {}",
        shape.samples,
        shape.out,
        shape.inn,
        shape.d(),
        shape.top_k
    );
    let hint = if lo >= 1 {
        format!(
            "{sizes}: at most {lo} samples fit (--samples {lo}; analyze_samples in a run config)"
        )
    } else if k >= 1 {
        format!("{sizes}: no sample count fits at this top-k; at most top-k {k} fits (--top-k {k})")
    } else {
        format!("{sizes}: neither fewer samples nor a smaller top-k fits; use --eig matrix-free or more memory")
    };
    Error::MemoryLimit {
        stage,
        needed_bytes,
        needed_gib,
        limit_bytes,
        hint,
    }
}

impl LayerSettings {
    /// The memory cap: [`Self::memory_limit`], else
    /// [`MemoryBudget::from_system`] (`SUPERLINEAR_MEMORY_LIMIT` or the
    /// memory available now).
    pub fn budget(&self) -> Result<MemoryBudget> {
        match self.memory_limit {
            Some(limit_bytes) => Ok(MemoryBudget { limit_bytes }),
            None => MemoryBudget::from_system(),
        }
    }
}

impl LayerReport {
    /// Total seconds over the stages.
    pub fn total_seconds(&self) -> f64 {
        self.stages.iter().map(|s| s.seconds).sum()
    }
}

/// Table 3's column (Eq. 58, two readings; module doc) on the top-k.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Term2Report {
    /// Samples with a partner and `a_p != 0`.
    pub pairs_used: usize,
    /// Seed of the per-class halves.
    pub pair_seed: u64,
    /// `sigma^2 = E_{p,j} c_pj^2` of the real `dw_p` in the local eigenbases.
    pub sigma2: f64,
    /// `sum_i E[(T2.v_i)^2] / sum_i E[(T1.v_i)^2]` over the top-k.
    pub term2_share: f64,
    /// gamma of `E_p[((T1 + T2) . v_i)^2]` with the real `dw_p`.
    #[serde(with = "crate::error::or_error")]
    pub gamma_term12: std::result::Result<GammaFit, crate::error::Failure>,
    /// gamma of `sigma^2 v_i^T E[h^2] v_i + E_p[(T2 . v_i)^2]`.
    #[serde(with = "crate::error::or_error")]
    pub gamma_iso_term2: std::result::Result<GammaFit, crate::error::Failure>,
}

/// Fraction of the samples whose largest logit is their label.
fn accuracy(f: &LayerFactors) -> f64 {
    let s = &f.samples;
    let classes = f.classes();
    (0..s.logits.nrows())
        .filter(|&p| {
            let row: Vec<f64> = (0..classes).map(|k| s.logits[(p, k)]).collect();
            let best = (0..row.len()).fold(0, |b, k| if row[k] > row[b] { k } else { b });
            best == s.labels[p]
        })
        .count() as f64
        / s.labels.len() as f64
}

/// The stages of one analysis: each timed into the report's
/// [`LayerReport::stages`] and shown as a progress stage while it runs.
struct Stages<'a> {
    progress: &'a dyn Progress,
    done: Vec<Stage>,
    timer: Instant,
    /// Whether a progress stage of ours is open.
    open: bool,
}

impl<'a> Stages<'a> {
    /// The first stage begins now, shown as `label`.
    fn new(progress: &'a dyn Progress, label: &str) -> Self {
        progress.stage(label, 0);
        Stages {
            progress,
            done: Vec::new(),
            timer: Instant::now(),
            open: true,
        }
    }

    /// A stage begins, shown as `label` (its count of steps not known in
    /// advance); `None`: its parts report their own stages.
    fn begin(&mut self, label: Option<&str>) {
        self.timer = Instant::now();
        if let Some(label) = label {
            self.progress.stage(label, 0);
            self.open = true;
        }
    }

    /// The running stage is over; it is timed as `name`.
    fn end(&mut self, name: &str) {
        self.done.push(Stage {
            name: name.into(),
            seconds: self.timer.elapsed().as_secs_f64(),
        });
        self.close();
    }

    fn close(&mut self) {
        if std::mem::take(&mut self.open) {
            self.progress.done();
        }
    }
}

impl Drop for Stages<'_> {
    /// An analysis that stops on an error closes its progress stage too.
    fn drop(&mut self) {
        self.close();
    }
}

/// Analyses the layer of `factors` (module doc). Progress: each stage of
/// the analysis as it runs (factoring, H, its eigendecomposition, the
/// projections and diagonals, rho_bar, the bounds and fits, gamma(k), the
/// bootstrap and the form test, Term II), steps counted where known.
pub fn analyze_layer(
    factors: &LayerFactors,
    settings: &LayerSettings,
    progress: &dyn Progress,
) -> Result<LayerReport> {
    if settings.batch_size == 0 {
        return Err(Error::param("batch size", 0, "must be at least 1"));
    }
    let batch_size = settings.batch_size;
    let mut stages = Stages::new(progress, "factor A_p");

    let shape = analysis_shape(factors, settings.top_k);
    let memory = plan_memory(&shape, settings)?;
    let engine = if memory.dense_factors {
        KronCurvature::new(&factors.samples, &factors.layer)?
    } else {
        KronCurvature::new_factored(&factors.samples, &factors.layer)?
    };
    let (out, inn) = engine.layer_shape();
    if (factors.weights.nrows(), factors.weights.ncols()) != (out, inn) {
        return Err(Error::shape(
            &format!("weights of {}", factors.layer),
            format!("{out} x {inn}"),
            format!("{} x {}", factors.weights.nrows(), factors.weights.ncols()),
        ));
    }
    let accuracy = accuracy(factors);
    stages.end("factor A_p");

    let par = match settings.linalg_threads {
        0 => faer::get_global_parallelism(),
        1 => Par::Seq,
        t => Par::rayon(t),
    };
    let d = engine.d();
    let k = if settings.top_k == 0 {
        d
    } else {
        settings.top_k.min(d)
    };
    let route = crate::memory::eig_route(engine.n(), d, k, settings.eig);
    let (eig_values, eig_vectors, eigen) = if route == EigMethod::Dense {
        stages.begin(Some("build H = E[A_p (x) a a^T]"));
        let h = engine.hessian_with(par);
        stages.end("H = E[A_p (x) a a^T]");
        stages.begin(Some("eigendecomposition of H (top-k)"));
        let eig = crate::linalg::sym_eig_top(h, k, par, "H")?;
        stages.end("top-k eig(H)");
        let summary = EigenSummary {
            method: EigMethod::Dense,
            products: 0,
            max_relative_residual: None,
        };
        (eig.values, eig.vectors, summary)
    } else {
        stages.begin(Some("top-k eigenpairs of H (block Krylov)"));
        let eig = engine.hessian_top_eig_scaled(
            k,
            &EigSettings {
                method: route,
                krylov: KrylovSettings {
                    seed: settings.eig_seed,
                    ..KrylovSettings::default()
                },
                budget: settings.budget()?,
            },
            par,
        )?;
        stages.end("top-k eig(H), block Krylov");
        let top = eig.values.first().map_or(0.0, |x| x.abs());
        let summary = EigenSummary {
            method: eig.method,
            products: eig.products,
            max_relative_residual: eig.residuals.as_ref().map(|r| {
                let m = r.iter().fold(0.0f64, |m, x| m.max(*x));
                if top > 0.0 {
                    m / top
                } else {
                    m
                }
            }),
        };
        (eig.values, eig.vectors, summary)
    };
    let (v, h_diag) = (eig_vectors, eig_values);
    stages.begin(Some("projections: C_ii, C_awd,ii"));
    let proj = engine.projections_per_sample(
        v.as_ref(),
        settings.chunk.min(64),
        settings.coupling_awd,
        par,
    )?;
    let c_diag = proj.c_diag(batch_size);
    let (first, c_awd_diag) = (proj.first.clone(), proj.second.clone());
    stages.end(if settings.coupling_awd {
        "C_ii, C_awd,ii, V^T E[h^2] V"
    } else {
        "C_ii, C_awd,ii (Eq. 2, 15)"
    });
    stages.begin(Some("rho_bar(C) and its null"));
    let cp = proj.c_projected(batch_size, par);
    let coupling_block = (settings.keep_block > 0).then(|| {
        let n = settings.keep_block.min(cp.nrows());
        (n, (0..n * n).map(|t| cp[(t / n, t % n)]).collect())
    });
    let budget = settings.budget()?;
    let coupling_c = engine
        .c_moments(batch_size, None, 0, &budget, par)
        .map_err(crate::error::Failure::from)
        .and_then(|m| {
            let c = CouplingNull::of(&cp, m.trace, m.frobenius_sq, "C' = V^T C V")?;
            if settings.coupling_null {
                let mu = engine
                    .c_spectrum(batch_size, &budget, par)
                    .map_err(crate::error::Failure::from)?;
                c.with_spectrum(&mu, d)
            } else {
                Ok(c)
            }
        });
    drop(cp);
    stages.end("rho_bar(C)");
    let coupling_awd = proj.awd_projected.as_ref().map(|ap| {
        stages.begin(Some("rho_bar(C_awd) and its null"));
        let s = engine.second_moment_with(par);
        let trace = (0..d).map(|i| s[(i, i)]).sum::<f64>();
        let frob = s.squared_norm_l2();
        let c = CouplingNull::of(ap, trace, frob, "C_awd' = V^T E[h^2] V")?;
        if settings.coupling_null {
            let mu = crate::linalg::sym_eigenvalues(s.as_ref(), "E[h^2]")
                .map_err(crate::error::Failure::from)?;
            c.with_spectrum(&mu, d)
        } else {
            Ok(c)
        }
    });
    if coupling_awd.is_some() {
        stages.end("rho_bar(C_awd)");
    }

    stages.begin(Some("Theorem 5.1 bounds, gamma fits"));
    let scale = h_diag.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let first_moment_residual = if scale > 0.0 {
        h_diag
            .iter()
            .zip(&first)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max)
            / scale
    } else {
        0.0
    };
    let spectra = engine.spectra_summary();
    let bounds = check_bounds(
        &h_diag,
        &c_awd_diag,
        spectra.max_eigenvalue.max(0.0),
        &BoundTolerance::default_for(d, engine.n()),
    )?;
    let fit_rule = FitRule::default_for(k, d);
    let gamma = fit_gamma(&h_diag, &c_diag, &fit_rule).map_err(crate::error::Failure::from);
    let gamma_awd = fit_gamma(&h_diag, &c_awd_diag, &fit_rule).map_err(crate::error::Failure::from);
    stages.end("checks");
    // gamma(k), the bootstrap and the form test report their own stages.
    stages.begin(None);
    let gamma_uncertainty = gamma_uncertainty_of(
        &proj,
        batch_size,
        &h_diag,
        &c_diag,
        &fit_rule,
        settings.top_k,
        &settings.uncertainty,
        par,
        progress,
    );
    drop(proj);
    stages.end("gamma uncertainty");
    let term2 = if settings.term2 {
        stages.begin(Some("Term I + II (Table 3)"));
        let t = term2_report(factors, &engine, v.as_ref(), &h_diag, &fit_rule, settings);
        stages.end("Term I + II (Table 3)");
        Some(t)
    } else {
        None
    };

    Ok(LayerReport {
        layer: factors.layer.clone(),
        layer_shape: (out, inn),
        samples: engine.n(),
        adjustments: crate::adjust::Adjustment::top_k(settings.top_k, out, inn)
            .into_iter()
            .collect(),
        classes: factors.classes(),
        loss: engine.loss(),
        batch_size,
        mean_loss: engine.mean_loss(),
        accuracy,
        h_diag,
        c_diag,
        c_awd_diag,
        first_moment_residual,
        gamma,
        gamma_awd,
        fit_rule,
        gamma_uncertainty,
        bounds,
        spectra,
        stages: std::mem::take(&mut stages.done),
        coupling_c,
        coupling_awd,
        term2,
        eigen,
        memory,
        coupling_block,
    })
}

/// Table 3's two readings on the top-k eigenvectors `v` of H (module doc).
fn term2_report(
    factors: &LayerFactors,
    engine: &KronCurvature,
    v: faer::MatRef<'_, f64>,
    h_diag: &[f64],
    rule: &FitRule,
    settings: &LayerSettings,
) -> std::result::Result<Term2Report, crate::error::Failure> {
    let acts = factors.samples.acts.as_ref();
    let pairs = match_halves(acts, &factors.samples.labels, settings.pair_seed, false)
        .map_err(crate::error::Failure::from)?;
    let m = measure(
        &PairedLayer {
            engine,
            acts,
            weights: factors.weights.as_ref(),
            partner: &pairs.partner,
        },
        v,
        settings.chunk.min(64),
    )
    .map_err(crate::error::Failure::from)?;
    let dm = &m.directions;
    let sigma2 = m.isotropy.sigma2;
    let iso_term2: Vec<f64> = dm
        .second
        .iter()
        .zip(&dm.c_term2)
        .map(|(s, t2)| sigma2 * s + t2)
        .collect();
    let t1: f64 = dm.c_term1.iter().sum();
    Ok(Term2Report {
        pairs_used: m.used,
        pair_seed: settings.pair_seed,
        sigma2,
        term2_share: if t1 > 0.0 {
            dm.c_term2.iter().sum::<f64>() / t1
        } else {
            f64::NAN
        },
        gamma_term12: fit_gamma(h_diag, &dm.c_term12, rule).map_err(crate::error::Failure::from),
        gamma_iso_term2: fit_gamma(h_diag, &iso_term2, rule).map_err(crate::error::Failure::from),
    })
}
