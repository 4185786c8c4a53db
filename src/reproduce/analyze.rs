//! `superlinear analyze` as a library call (feature `torch`): the curvature of
//! one linear layer of a checkpoint, measured exactly on N class-balanced
//! training samples (C14, C8, C9, C3, C4, C6).
//!
//! Stages (each timed): load the checkpoint and its `run.json`
//! ([`crate::torch::checkpoint`]); load the data (the training subset recorded
//! in `run.json` unless given); choose N class-balanced samples
//! ([`crate::layer::balanced_indices`]); forward and `D_p` by autograd
//! ([`crate::torch::curvature::gather_layer`]); then everything of
//! [`crate::layer::analyze_layer`] (its module doc has the formulas).
//! Each stage is also reported, as it runs, to the
//! [`crate::progress::Progress`] the call is given.
//!
//! The checkpoint's weights are f32, so by default the factors are gathered
//! in f32 and widened (about 7 digits). With [`AnalyzeSettings::float64`]
//! the net and the inputs are widened first (exactly) and the factors
//! gathered in f64; together with [`AnalyzeSettings::save_inputs`] (the
//! analysed samples as `.npy`) another implementation can recompute the
//! same factors from the same numbers, which is how
//! `scripts/test_export.py` checks `scripts/export_layer.py` against this
//! route.

use std::path::PathBuf;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tch::Kind;

use super::ReproduceError;
use crate::data::npy;
use crate::layer::{
    analyze_layer, balanced_indices, plan_memory, LayerReport, LayerSettings, Stage,
};
use crate::loss::Loss;
use crate::memory::{AnalysisShape, EigMethod};
use crate::progress::{Progress, StageGuard};
use crate::torch::checkpoint::{load_net, run_metadata};
use crate::torch::curvature::gather_layer;
use crate::torch::dataset::{load_data, DataSettings, TrainData};
use crate::torch::model::Net;
use crate::torch::train::TrainReport;

type Result<T, E = ReproduceError> = std::result::Result<T, E>;

/// Settings of one analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalyzeSettings {
    /// The safetensors checkpoint.
    pub checkpoint: PathBuf,
    /// Weight name of the linear layer (None: the paper's layer, see
    /// [`crate::torch::model::ModelSpec::default_layer`]).
    pub layer: Option<String>,
    /// Number of training samples used, class-balanced (0: all).
    pub samples: usize,
    /// Number of top eigen-directions (0: all d).
    pub top_k: usize,
    /// Loss (None: from `run.json` beside the checkpoint).
    pub loss: Option<Loss>,
    /// Batch size B of Eq. 2 (None: from `run.json`, else 1).
    pub batch_size: Option<usize>,
    /// Samples per autograd / engine chunk.
    pub chunk: usize,
    /// The data (None: the training subset recorded in `run.json`).
    pub data: Option<DataSettings>,
    /// Also measure the off-diagonal `V^T E[h_p^2] V` and its `rho_bar`
    /// ([`LayerSettings::coupling_awd`]).
    #[serde(default)]
    pub coupling_awd: bool,
    /// Threads for the dense linear algebra (faer): 0 = faer's default (all
    /// cores), 1 = sequential.
    #[serde(default)]
    pub linalg_threads: usize,
    /// Also compute the corrected null mean of `rho_bar`
    /// ([`LayerSettings::coupling_null`]).
    #[serde(default)]
    pub coupling_null: bool,
    /// Also measure Table 3's exponents with Term II kept
    /// ([`LayerSettings::term2`]).
    #[serde(default)]
    pub term2: bool,
    /// Seed of the per-class halves of the matching ([`Self::term2`]).
    #[serde(default)]
    pub pair_seed: u64,
    /// The eigen route of H ([`LayerSettings::eig`]).
    #[serde(default)]
    pub eig: EigMethod,
    /// Memory cap in bytes (None: the memory available;
    /// [`LayerSettings::memory_limit`]).
    #[serde(default)]
    pub memory_limit: Option<u64>,
    /// gamma's bootstrap, gamma(k) and form test
    /// ([`crate::layer::uncertainty`]).
    #[serde(default)]
    pub uncertainty: crate::layer::UncertaintySettings,
    /// Gather the factors in f64: the checkpoint's weights and the inputs
    /// widened exactly, the forward pass and `D_p` in f64 (default: in the
    /// checkpoint's f32, widened after).
    #[serde(default)]
    pub float64: bool,
    /// Also write the analysed samples to this directory, in the order
    /// analysed: `inputs.npy` (N x C*H*W, the images as the net sees them,
    /// standardised if the run was; f64 holding the f32 values exactly) and
    /// `labels.npy` (N, f64 integers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub save_inputs: Option<PathBuf>,
    /// Keep the top `n x n` block of `C' = V^T C V` for the heatmap
    /// ([`LayerSettings::keep_block`]; 0: none).
    #[serde(default)]
    pub keep_block: usize,
}

impl Default for AnalyzeSettings {
    fn default() -> Self {
        AnalyzeSettings {
            checkpoint: PathBuf::new(),
            layer: None,
            samples: crate::layer::DEFAULT_SAMPLES,
            top_k: crate::layer::DEFAULT_TOP_K,
            loss: None,
            batch_size: None,
            chunk: 256,
            data: None,
            coupling_awd: false,
            linalg_threads: 0,
            coupling_null: false,
            term2: false,
            pair_seed: 0,
            eig: EigMethod::Auto,
            memory_limit: None,
            uncertainty: crate::layer::UncertaintySettings::default(),
            float64: false,
            save_inputs: None,
            keep_block: 0,
        }
    }
}

/// Everything `analyze` measured: the checkpoint and its layer's report
/// (serialised flat, `checkpoint` first).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnalyzeReport {
    /// Checkpoint analysed.
    pub checkpoint: PathBuf,
    /// The layer's analysis (stages include loading and gathering).
    #[serde(flatten)]
    pub analysis: LayerReport,
}

impl AnalyzeReport {
    /// Total seconds over the stages.
    pub fn total_seconds(&self) -> f64 {
        self.analysis.total_seconds()
    }
}

/// Loads the checkpoint of `settings` and the data (`settings.data`, else the
/// training subset recorded in `run.json`), and analyses it. The checkpoint
/// is read first, so a missing or corrupt one is reported as such rather
/// than as missing data settings.
pub fn run_analyze(settings: &AnalyzeSettings, progress: &dyn Progress) -> Result<AnalyzeReport> {
    let (net, meta, load) = load_checkpoint(settings, progress)?;
    let t = Instant::now();
    let stage = StageGuard::begin(progress, "load data", 0);
    let ds = settings
        .data
        .clone()
        .or_else(|| meta.as_ref().and_then(|m| m.data_settings.clone()))
        .ok_or_else(|| {
            ReproduceError::setting(
                "data",
                "none",
                "no run.json with data settings beside the checkpoint: give the data set and K",
            )
        })?;
    let data = load_data(&ds)?;
    drop(stage);
    let load_data_s = t.elapsed().as_secs_f64();
    finish_report(
        &net,
        &data,
        settings,
        meta,
        (load, Some(load_data_s)),
        progress,
    )
}

/// Loads the checkpoint of `settings` and analyses it on `data`.
pub fn run_analyze_on(
    settings: &AnalyzeSettings,
    data: &TrainData,
    progress: &dyn Progress,
) -> Result<AnalyzeReport> {
    let (net, meta, load) = load_checkpoint(settings, progress)?;
    finish_report(&net, data, settings, meta, (load, None), progress)
}

/// The net, its `run.json` if any, and the seconds it took.
fn load_checkpoint(
    settings: &AnalyzeSettings,
    progress: &dyn Progress,
) -> Result<(Net, Option<TrainReport>, f64)> {
    let t = Instant::now();
    let _stage = StageGuard::begin(progress, "load checkpoint", 0);
    let net = load_net(&settings.checkpoint)?;
    let meta = run_metadata(&settings.checkpoint)?;
    Ok((net, meta, t.elapsed().as_secs_f64()))
}

/// [`analyze`], with the loading stages (seconds to load the checkpoint and,
/// when this call loaded it, the data) put first in the report.
fn finish_report(
    net: &Net,
    data: &TrainData,
    settings: &AnalyzeSettings,
    meta: Option<TrainReport>,
    (load_checkpoint_s, load_data_s): (f64, Option<f64>),
    progress: &dyn Progress,
) -> Result<AnalyzeReport> {
    let mut report = analyze(net, data, settings, meta.as_ref(), progress)?;
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
    report.analysis.stages.splice(0..0, first);
    Ok(report)
}

/// Analyses `net` (its linear layer `settings.layer`) on `data`: the loss
/// and batch size from `settings`, else from `meta` (the run's `run.json`);
/// progress: gathering the factors, then the stages of
/// [`analyze_layer`].
pub fn analyze(
    net: &Net,
    data: &TrainData,
    settings: &AnalyzeSettings,
    meta: Option<&TrainReport>,
    progress: &dyn Progress,
) -> Result<AnalyzeReport> {
    let spec = net.spec();
    data.validate(spec.classes)?;
    let loss = settings
        .loss
        .or(meta.map(|m| m.settings.loss))
        .ok_or_else(|| {
            ReproduceError::setting(
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
        return Err(ReproduceError::setting(
            "batch size",
            0,
            "must be at least 1",
        ));
    }
    let layer = settings
        .layer
        .clone()
        .unwrap_or_else(|| spec.default_layer());
    let layer_settings = LayerSettings {
        top_k: settings.top_k,
        batch_size,
        chunk: settings.chunk,
        coupling_awd: settings.coupling_awd,
        coupling_null: settings.coupling_null,
        term2: settings.term2,
        pair_seed: settings.pair_seed,
        linalg_threads: settings.linalg_threads,
        eig: settings.eig,
        eig_seed: 0,
        memory_limit: settings.memory_limit,
        uncertainty: settings.uncertainty,
        keep_block: settings.keep_block,
    };
    let t = Instant::now();
    let idx = balanced_indices(&data.labels, settings.samples);
    // The memory plan is checked before the factors are gathered.
    let size = net.weight(&layer)?.size();
    if let [out, inn] = size[..] {
        let (out, inn) = (out as usize, inn as usize);
        let d = out * inn;
        plan_memory(
            &AnalysisShape {
                samples: idx.len(),
                out,
                inn,
                classes: spec.classes,
                top_k: if settings.top_k == 0 {
                    d
                } else {
                    settings.top_k.min(d)
                },
            },
            &layer_settings,
        )?;
    }
    if let Some(dir) = &settings.save_inputs {
        save_inputs(dir, &data.subset(&idx))?;
    }
    let wide;
    let net = if settings.float64 {
        wide = net.to_kind(Kind::Double)?;
        &wide
    } else {
        net
    };
    let stage = StageGuard::begin(progress, "gather factors: forward + D_p (autograd)", 0);
    let factors = gather_layer(net, data, &idx, &layer, loss, settings.chunk)?;
    drop(stage);
    let gather = Stage {
        name: "forward + D_p (autograd)".into(),
        seconds: t.elapsed().as_secs_f64(),
    };
    let mut analysis = analyze_layer(&factors, &layer_settings, progress)?;
    analysis.stages.insert(0, gather);
    let source = format!("the data ({})", data.name);
    if let Some(a) =
        crate::adjust::Adjustment::samples(settings.samples, data.labels.len(), &source)
    {
        analysis.adjustments.insert(0, a);
    }
    Ok(AnalyzeReport {
        checkpoint: settings.checkpoint.clone(),
        analysis,
    })
}

/// Writes the samples `sub` as `dir/inputs.npy` (N x C*H*W, f64) and
/// `dir/labels.npy` (N, f64), creating `dir`.
fn save_inputs(dir: &std::path::Path, sub: &TrainData) -> Result<()> {
    let inputs = dir.join("inputs.npy");
    crate::data::atomic::write(&inputs, npy::matrix_to_bytes(&sub.images.mapv(f64::from)))
        .map_err(|e| ReproduceError::io(&inputs, e))?;
    let labels = dir.join("labels.npy");
    let y: Vec<f64> = sub.labels.iter().map(|&y| f64::from(y)).collect();
    crate::data::atomic::write(&labels, npy::vector_to_bytes(&y))
        .map_err(|e| ReproduceError::io(&labels, e))
}
