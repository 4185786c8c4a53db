//! `superlinear analyze` as a library call: the curvature of one linear layer
//! of a checkpoint, measured exactly on N training samples (C14, C8, C9, C13).
//!
//! Stages (each timed): load the checkpoint; forward and `D_p` by autograd
//! ([`super::curvature`]); factor every `A_p` ([`crate::kron`]); build
//! `H = E_p[A_p (x) a_p a_p^T]`; its top-k eigenpairs
//! ([`crate::linalg::sym_eig_top`]: faer's tridiagonalisation and divide and
//! conquer, only the k wanted vectors back-transformed; descending);
//! on the top-k eigenvectors `v_i`, in one pass
//! ([`crate::kron::KronCurvature::projections`]): `H_ii = lambda_i`, `C_ii` from Eq. 2 with
//! batch size B, `C_awd,ii / sigma^2 = v_i^T E_p[h_p^2] v_i` (Eq. 15), and the
//! first-moment identity `H_ii = E_p[sum_k lambda_{p,k} (u_{p,k}.v_i)^2]` (C8)
//! as a consistency check. Theorem 5.1 (C9): `H_ii^2 <= v_i^T E[h_p^2] v_i`
//! always holds for PSD h_p; `v_i^T E[h_p^2] v_i <= Lambda H_ii` with `Lambda =
//! max_{p,k} lambda_{p,k}`; both are counted over the top-k (softmax-MSE
//! per-sample Hessians can be indefinite: their negative mass is reported).
//! Coupling (C3, C4): `rho_bar` of `C' = V^T C V` over the top-k with the
//! paper's null (App. C mean from `tr C`, `||C||_F^2` through the N x N dual
//! Gram matrix; App. D SE), always; of `C_awd' = V^T E[h_p^2] V` only with
//! [`AnalyzeSettings::coupling_awd`] (it about doubles the run time: a
//! `k x k x (N r)` product and the d x d `E[h_p^2]`); the corrected null mean
//! with [`AnalyzeSettings::coupling_null`] (whole spectra).
//!
//! Table 3 (C6, C14) with [`AnalyzeSettings::term2`]: the N samples are split
//! per class into two seeded halves and matched to their nearest same-class
//! partner of the other half on the layer's input activity (C5); with the
//! real minimal perturbations `dw_p`, Term I `= h_p dw_p` and Term II
//! `= (d dw_p/dw)^T g_p = delta_p da^T` (Eq. 57) are projected on the top-k
//! `v_i` ([`super::netclaims::terms::measure`]), and two readings of Eq. 58's
//! exponent (its formula was lost in the extraction) are fitted against
//! `H_ii`: `gamma_I+II` from `E_p[((T1 + T2) . v_i)^2]`, and `gamma_iso+II`
//! from `sigma^2 v_i^T E[h_p^2] v_i + E_p[(T2 . v_i)^2]` (cross terms dropped).

use std::path::{Path, PathBuf};
use std::time::Instant;

use faer::{Mat, Par};
use serde::{Deserialize, Serialize};
use tch::Kind;

use super::curvature::layer_samples;
use super::dataset::{load_data, DataSettings};
use super::model::{ModelSpec, Net};
use super::train::{TrainData, TrainReport};
use super::{Result, TorchError};
use crate::bounds::{check_bounds, BoundReport, BoundTolerance};
use crate::coupling::{
    corrected_mean, coupling_of_projected, paper_se, z_and_p, Coupling, SpectrumMoments,
};
use crate::fit::{fit_gamma, FitRule, GammaFit};
use crate::kron::{KronCurvature, LossKind, SpectraSummary};

/// Settings of one analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalyzeSettings {
    /// The safetensors checkpoint.
    pub checkpoint: PathBuf,
    /// Weight name of the linear layer (None: the paper's layer, see
    /// [`ModelSpec::default_layer`]).
    pub layer: Option<String>,
    /// Number of training samples used, class-balanced (0: all).
    pub samples: usize,
    /// Number of top eigen-directions (0: all d).
    pub top_k: usize,
    /// Loss (None: from `run.json` beside the checkpoint).
    pub loss: Option<LossKind>,
    /// Batch size B of Eq. 2 (None: from `run.json`, else 1).
    pub batch_size: Option<usize>,
    /// Samples per autograd / engine chunk.
    pub chunk: usize,
    /// The data (None: the training subset recorded in `run.json`).
    pub data: Option<DataSettings>,
    /// Also measure the off-diagonal `V^T E[h_p^2] V` and its `rho_bar`
    /// (C_awd's coupling); off by default because it costs a k x k x (N r)
    /// product and a d x d build of `E[h_p^2]` (about as much as the rest of
    /// the analysis).
    #[serde(default)]
    pub coupling_awd: bool,
    /// Threads for the dense linear algebra (faer): 0 = faer's default (all
    /// cores), 1 = sequential.
    #[serde(default)]
    pub linalg_threads: usize,
    /// Also compute the corrected null mean of `rho_bar`
    /// (`theory/coupling-null.md`), which needs the whole spectrum of C (an
    /// N x N eigenvalue problem) and, with `coupling_awd`, of `E[h_p^2]`
    /// (d x d).
    #[serde(default)]
    pub coupling_null: bool,
    /// Also measure Table 3's exponents with Term II kept (module doc): costs
    /// a nearest-neighbour matching of the N activities and one more pass of
    /// projections on the top-k (about as much as the C_ii pass, twice).
    #[serde(default)]
    pub term2: bool,
    /// Seed of the per-class halves of the matching ([`Self::term2`]).
    #[serde(default)]
    pub pair_seed: u64,
}

impl Default for AnalyzeSettings {
    fn default() -> Self {
        AnalyzeSettings {
            checkpoint: PathBuf::new(),
            layer: None,
            samples: 2000,
            top_k: 0,
            loss: None,
            batch_size: None,
            chunk: 256,
            data: None,
            coupling_awd: false,
            linalg_threads: 0,
            coupling_null: false,
            term2: false,
            pair_seed: 0,
        }
    }
}

/// Wall-clock seconds of one stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    /// Stage name.
    pub name: String,
    /// Seconds.
    pub seconds: f64,
}

/// Everything `analyze` measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnalyzeReport {
    /// Checkpoint analysed.
    pub checkpoint: PathBuf,
    /// Layer (weight name) analysed.
    pub layer: String,
    /// `(out, in)` of the layer; `d = out * in`.
    pub layer_shape: (usize, usize),
    /// Samples used.
    pub samples: usize,
    /// Classes K.
    pub classes: usize,
    /// Loss.
    pub loss: LossKind,
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
    pub gamma: std::result::Result<GammaFit, String>,
    /// gamma_awd: the same with `C_awd,ii` (Eq. 15).
    pub gamma_awd: std::result::Result<GammaFit, String>,
    /// The fit rule used (default floor `1e3 d eps`).
    pub fit_rule: FitRule,
    /// Theorem 5.1 (C9) on `S_ii = v_i^T E[h_p^2] v_i` with `Lambda = max lambda_{p,k}`.
    pub bounds: BoundReport,
    /// Per-sample spectra.
    pub spectra: SpectraSummary,
    /// Stage timings.
    pub stages: Vec<Stage>,
    /// `rho_bar` of `C' = V^T C V` over the top-k (C3) with the paper's null;
    /// the error text when it cannot be computed.
    pub coupling_c: std::result::Result<CouplingNull, String>,
    /// The same for `C_awd' = V^T E[h_p^2] V` (None: not asked for, see
    /// [`AnalyzeSettings::coupling_awd`]).
    pub coupling_awd: Option<std::result::Result<CouplingNull, String>>,
    /// Table 3's exponents with Term II kept (None: not asked for, see
    /// [`AnalyzeSettings::term2`]); the error text when the matching or a fit
    /// is impossible.
    pub term2: Option<std::result::Result<Term2Report, String>>,
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
    pub gamma_term12: std::result::Result<GammaFit, String>,
    /// gamma of `sigma^2 v_i^T E[h^2] v_i + E_p[(T2 . v_i)^2]`.
    pub gamma_iso_term2: std::result::Result<GammaFit, String>,
}

/// `rho_bar` over the top-k eigen-directions of H and its random-basis null
/// from the paper's formulas (C3 App. C mean `sqrt(2/pi) sqrt(S2)/S1`, C4
/// App. D `SE = mu0 sqrt(pi/2 - 1)/sqrt(M)` with `M = n (n - 1)` the
/// off-diagonal pairs used). `S1 = tr`, `S2 = ||.||_F^2` of the full d x d
/// matrix (the null rotates it in R^d, then projects on the top-k). With
/// [`AnalyzeSettings::coupling_null`] also the corrected mean
/// `G(k_rho) sqrt((d - k_rho)/(d - 1))` of [`crate::coupling`], which needs
/// the whole spectrum (its `k_rho`); the mean of a pair does not depend on
/// which rows are used, so it applies to the top-k as well. The corrected SE
/// does not: it assumes all d directions (its first-order term vanishes only
/// for the sum over all rows of a Haar frame), so it is not reported.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CouplingNull {
    /// The statistic over the used directions.
    pub coupling: Coupling,
    /// `S1 = tr` of the full matrix.
    pub trace: f64,
    /// `S2 = ||.||_F^2` of the full matrix.
    pub frobenius_sq: f64,
    /// `k_eff = S1^2 / S2`.
    pub k_eff: f64,
    /// App. C mean under the null.
    pub paper_mean: f64,
    /// App. D standard error.
    pub paper_se: f64,
    /// `(rho_bar - paper_mean) / paper_se`.
    pub z: f64,
    /// One-sided `Phi(z)`.
    pub p: f64,
    /// `k_rho = 1 / E[rho^2]` of the whole spectrum (None: not computed).
    pub k_rho: Option<f64>,
    /// Corrected null mean (None: not computed).
    pub corrected_mean: Option<f64>,
}

impl CouplingNull {
    fn of(
        cp: &Mat<f64>,
        trace: f64,
        frobenius_sq: f64,
        input: &str,
    ) -> std::result::Result<Self, String> {
        let coupling = coupling_of_projected(cp.as_ref(), input).map_err(|e| e.to_string())?;
        if !(trace > 0.0 && frobenius_sq > 0.0) {
            return Err(format!(
                "{input}: zero matrix (tr {trace:e}, |.|_F^2 {frobenius_sq:e})"
            ));
        }
        let mean = std::f64::consts::FRAC_2_PI.sqrt() * frobenius_sq.sqrt() / trace;
        let se = paper_se(mean, coupling.n_used);
        let (z, p) = z_and_p(coupling.rho_bar, mean, se);
        Ok(CouplingNull {
            coupling,
            trace,
            frobenius_sq,
            k_eff: trace * trace / frobenius_sq,
            paper_mean: mean,
            paper_se: se,
            z,
            p,
            k_rho: None,
            corrected_mean: None,
        })
    }

    /// Adds the corrected mean from the whole spectrum `mu` in dimension `d`.
    fn with_spectrum(mut self, mu: &[f64], d: usize) -> std::result::Result<Self, String> {
        let mu: Vec<f64> = mu.iter().map(|x| x.max(0.0)).collect();
        let m = SpectrumMoments::of(&mu, d).map_err(|e| e.to_string())?;
        self.k_rho = Some(m.k_rho);
        self.corrected_mean = Some(corrected_mean(&m, d));
        Ok(self)
    }
}

impl AnalyzeReport {
    /// Total seconds over the stages.
    pub fn total_seconds(&self) -> f64 {
        self.stages.iter().map(|s| s.seconds).sum()
    }
}

/// Class-balanced choice of `n` indices (0: all): round-robin over the
/// classes in order of first appearance, each class in file order.
pub fn balanced_indices(labels: &[u8], n: usize) -> Vec<usize> {
    if n == 0 || n >= labels.len() {
        return (0..labels.len()).collect();
    }
    let mut classes: Vec<u8> = Vec::new();
    for y in labels {
        if !classes.contains(y) {
            classes.push(*y);
        }
    }
    let mut queues: Vec<std::collections::VecDeque<usize>> = classes
        .iter()
        .map(|c| (0..labels.len()).filter(|i| labels[*i] == *c).collect())
        .collect();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let mut any = false;
        for q in queues.iter_mut() {
            if out.len() == n {
                break;
            }
            if let Some(i) = q.pop_front() {
                out.push(i);
                any = true;
            }
        }
        if !any {
            break;
        }
    }
    out.sort_unstable();
    out
}

/// `a_p`, `D_p` and logits of `layer` (see [`layer_samples`]) on `n`
/// class-balanced samples of `data` ([`balanced_indices`]; 0: all), with
/// their labels.
pub fn balanced_layer_samples(
    net: &Net,
    data: &TrainData,
    layer: &str,
    n: usize,
    loss: LossKind,
    chunk: usize,
) -> Result<(crate::kron::LayerSamples, Vec<usize>)> {
    let idx = balanced_indices(&data.labels, n);
    let sub = TrainData {
        images: data.images.select(ndarray::Axis(0), &idx),
        labels: idx.iter().map(|i| data.labels[*i]).collect(),
        chw: data.chw,
        name: data.name.clone(),
    };
    let x = net.input_view(&sub.images_tensor(net.kind())?, sub.chw)?;
    let labels: Vec<usize> = sub.labels.iter().map(|y| *y as usize).collect();
    let samples = layer_samples(net, layer, &x, &labels, loss, chunk)?;
    Ok((samples, labels))
}

/// Reads `run.json` beside a checkpoint, when present.
pub fn run_metadata(checkpoint: &Path) -> Result<Option<TrainReport>> {
    let Some(dir) = checkpoint.parent() else {
        return Ok(None);
    };
    let p = dir.join("run.json");
    if !p.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&p).map_err(|e| TorchError::Io {
        path: p.display().to_string(),
        message: e.to_string(),
    })?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| TorchError::Checkpoint {
            path: p.display().to_string(),
            reason: format!("run.json: {e}"),
        })
}

/// Loads the checkpoint of `settings` and the data (`settings.data`, else the
/// training subset recorded in `run.json`), and analyses it. The checkpoint
/// is read first, so a missing or corrupt one is reported as such rather
/// than as missing data settings.
pub fn run_analyze(settings: &AnalyzeSettings) -> Result<AnalyzeReport> {
    let (net, meta, load) = load_checkpoint(settings)?;
    let t = Instant::now();
    let ds = settings
        .data
        .clone()
        .or_else(|| meta.as_ref().and_then(|m| m.data_settings.clone()))
        .ok_or_else(|| {
            TorchError::setting(
                "data",
                "none",
                "no run.json with data settings beside the checkpoint: give the data set and K",
            )
        })?;
    let data = load_data(&ds)?;
    let load_data_s = t.elapsed().as_secs_f64();
    finish_report(&net, &data, settings, meta, load, Some(load_data_s))
}

/// Loads the checkpoint of `settings` and analyses it on `data`.
pub fn run_analyze_on(settings: &AnalyzeSettings, data: &TrainData) -> Result<AnalyzeReport> {
    let (net, meta, load) = load_checkpoint(settings)?;
    finish_report(&net, data, settings, meta, load, None)
}

/// The net, its `run.json` if any, and the seconds it took.
fn load_checkpoint(settings: &AnalyzeSettings) -> Result<(Net, Option<TrainReport>, f64)> {
    let t = Instant::now();
    if !settings.checkpoint.is_file() {
        return Err(TorchError::Checkpoint {
            path: settings.checkpoint.display().to_string(),
            reason: "no such file".into(),
        });
    }
    let net = Net::load(&settings.checkpoint, Kind::Float)?;
    let meta = run_metadata(&settings.checkpoint)?;
    Ok((net, meta, t.elapsed().as_secs_f64()))
}

/// [`analyze`], with the loading stages put first in the report.
fn finish_report(
    net: &Net,
    data: &TrainData,
    settings: &AnalyzeSettings,
    meta: Option<TrainReport>,
    load_checkpoint_s: f64,
    load_data_s: Option<f64>,
) -> Result<AnalyzeReport> {
    let mut report = analyze(net, data, settings, meta.as_ref())?;
    let mut first = vec![Stage {
        name: "load checkpoint".into(),
        seconds: load_checkpoint_s,
    }];
    if let Some(s) = load_data_s {
        first.push(Stage {
            name: "load data".into(),
            seconds: s,
        });
    }
    report.stages.splice(0..0, first);
    Ok(report)
}

/// Analyses `net` (its linear layer `settings.layer`) on `data`.
pub fn analyze(
    net: &Net,
    data: &TrainData,
    settings: &AnalyzeSettings,
    meta: Option<&TrainReport>,
) -> Result<AnalyzeReport> {
    let spec: &ModelSpec = net.spec();
    data.validate(spec.classes)?;
    let loss = settings
        .loss
        .or(meta.map(|m| m.settings.loss))
        .ok_or_else(|| {
            TorchError::setting(
                "loss",
                "none",
                "no run.json beside the checkpoint: give the loss (ce or mse)",
            )
        })?;
    let batch_size = settings
        .batch_size
        .or(meta.map(|m| m.settings.batch_size))
        .unwrap_or(1);
    if batch_size == 0 {
        return Err(TorchError::setting("batch size", 0, "must be at least 1"));
    }
    let layer = settings
        .layer
        .clone()
        .unwrap_or_else(|| spec.default_layer());
    let mut stages = Vec::new();
    let mut timer = Instant::now();
    let mut lap = |name: &str, stages: &mut Vec<Stage>| {
        stages.push(Stage {
            name: name.into(),
            seconds: timer.elapsed().as_secs_f64(),
        });
        timer = Instant::now();
    };

    let (samples, labels) =
        balanced_layer_samples(net, data, &layer, settings.samples, loss, settings.chunk)?;
    lap("forward + D_p (autograd)", &mut stages);

    let engine = KronCurvature::new(&samples, &layer)?;
    let accuracy = (0..samples.logits.nrows())
        .filter(|&p| {
            let row: Vec<f64> = (0..spec.classes).map(|k| samples.logits[(p, k)]).collect();
            let best = (0..row.len()).fold(0, |b, k| if row[k] > row[b] { k } else { b });
            best == labels[p]
        })
        .count() as f64
        / labels.len() as f64;
    lap("factor A_p", &mut stages);

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
    let h = engine.hessian_with(par);
    lap("H = E[A_p (x) a a^T]", &mut stages);
    let eig = crate::linalg::sym_eig_top(h, k, par, "H")?;
    lap("top-k eig(H)", &mut stages);

    let v = eig.vectors;
    let h_diag = eig.values;
    let proj = engine.projections(
        v.as_ref(),
        settings.chunk.min(64),
        settings.coupling_awd,
        par,
    )?;
    let c_diag = proj.c_diag(batch_size);
    let (first, c_awd_diag) = (proj.first.clone(), proj.second.clone());
    lap(
        if settings.coupling_awd {
            "C_ii, C_awd,ii, V^T E[h^2] V"
        } else {
            "C_ii, C_awd,ii (Eq. 2, 15)"
        },
        &mut stages,
    );
    let cp = proj.c_projected(batch_size, par);
    let coupling_c = engine
        .c_dual_gram(batch_size, par)
        .map_err(|e| e.to_string())
        .and_then(|kc| {
            let s1 = (0..kc.nrows()).map(|i| kc[(i, i)]).sum::<f64>();
            let c = CouplingNull::of(&cp, s1, kc.squared_norm_l2(), "C' = V^T C V")?;
            if settings.coupling_null {
                let mu = crate::linalg::sym_eigenvalues(kc.as_ref(), "K_c (dual of C)")
                    .map_err(|e| e.to_string())?;
                c.with_spectrum(&mu, d)
            } else {
                Ok(c)
            }
        });
    drop(cp);
    lap("rho_bar(C)", &mut stages);
    let coupling_awd = proj.awd_projected.as_ref().map(|ap| {
        let s = engine.second_moment_with(par);
        let trace = (0..d).map(|i| s[(i, i)]).sum::<f64>();
        let frob = s.squared_norm_l2();
        let c = CouplingNull::of(ap, trace, frob, "C_awd' = V^T E[h^2] V")?;
        if settings.coupling_null {
            let mu =
                crate::linalg::sym_eigenvalues(s.as_ref(), "E[h^2]").map_err(|e| e.to_string())?;
            c.with_spectrum(&mu, d)
        } else {
            Ok(c)
        }
    });
    if coupling_awd.is_some() {
        lap("rho_bar(C_awd)", &mut stages);
    }

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
    let gamma = fit_gamma(&h_diag, &c_diag, &fit_rule).map_err(|e| e.to_string());
    let gamma_awd = fit_gamma(&h_diag, &c_awd_diag, &fit_rule).map_err(|e| e.to_string());
    lap("checks", &mut stages);
    let term2 = if settings.term2 {
        let t = term2_report(
            net,
            &layer,
            &samples,
            &labels,
            &engine,
            v.as_ref(),
            &h_diag,
            &fit_rule,
            settings,
        );
        lap("Term I + II (Table 3)", &mut stages);
        Some(t)
    } else {
        None
    };

    Ok(AnalyzeReport {
        checkpoint: settings.checkpoint.clone(),
        layer,
        layer_shape: engine.layer_shape(),
        samples: engine.n(),
        classes: spec.classes,
        loss,
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
        bounds,
        spectra,
        stages,
        coupling_c,
        coupling_awd,
        term2,
    })
}

/// Table 3's two readings on the top-k eigenvectors `v` of H (module doc).
#[allow(clippy::too_many_arguments)]
fn term2_report(
    net: &Net,
    layer: &str,
    samples: &crate::kron::LayerSamples,
    labels: &[usize],
    engine: &KronCurvature,
    v: faer::MatRef<'_, f64>,
    h_diag: &[f64],
    rule: &FitRule,
    settings: &AnalyzeSettings,
) -> std::result::Result<Term2Report, String> {
    use super::netclaims::terms::{match_halves, measure, PairedLayer};
    let (out, inn) = engine.layer_shape();
    let wv = super::curvature::tensor_to_f64(net.weight(layer).map_err(|e| e.to_string())?, layer)
        .map_err(|e| e.to_string())?;
    let w = Mat::from_fn(out, inn, |o, i| wv[o * inn + i]);
    let pairs = match_halves(samples.acts.as_ref(), labels, settings.pair_seed, false)
        .map_err(|e| e.to_string())?;
    let m = measure(
        &PairedLayer {
            engine,
            acts: samples.acts.as_ref(),
            weights: w.as_ref(),
            partner: &pairs.partner,
        },
        v,
        settings.chunk.min(64),
    )
    .map_err(|e| e.to_string())?;
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
        gamma_term12: fit_gamma(h_diag, &dm.c_term12, rule).map_err(|e| e.to_string()),
        gamma_iso_term2: fit_gamma(h_diag, &iso_term2, rule).map_err(|e| e.to_string()),
    })
}
