//! The run over a training run's checkpoints (feature `torch`): the torch
//! tier loads each checkpoint and gathers the layer's factors, the core
//! measures the figures, the claims decide. Progress: loading the data,
//! then one stage with a step per checkpoint measured.

use std::time::Instant;

use super::{
    list_checkpoints, stride_checkpoints, NetClaim, NetClaimResult, NetClaimsReport,
    NetClaimsSettings,
};
use crate::adjust::Adjustment;
use crate::layer::{
    balanced_indices, measure_checkpoint, CheckpointInfo, FigureSettings, StructureSettings,
    SuppressionSettings,
};
use crate::progress::{Progress, StageGuard};
use crate::reproduce::ReproduceError;
use crate::torch::checkpoint::{load_net, run_metadata};
use crate::torch::curvature::gather_layer;
use crate::torch::dataset::{load_data, TrainData};
use crate::torch::train::TrainReport;

type Result<T, E = ReproduceError> = std::result::Result<T, E>;

/// Samples per chunk of the forward and autograd passes.
const GATHER_CHUNK: usize = 256;

/// Loads the run's data and checkpoints and checks the claims.
pub fn run_net_claims(
    settings: &NetClaimsSettings,
    progress: &dyn Progress,
) -> Result<NetClaimsReport> {
    settings.validate()?;
    // run_metadata reads run.json beside the file it is given.
    let run = run_metadata(&settings.run_dir.join("run.json"))?.ok_or_else(|| {
        ReproduceError::Checkpoint {
            path: settings.run_dir.join("run.json").display().to_string(),
            reason: "no run.json: not a run directory of `superlinear train`".into(),
        }
    })?;
    let ds = settings
        .data
        .clone()
        .or_else(|| run.data_settings.clone())
        .ok_or_else(|| {
            ReproduceError::setting(
                "data",
                "none",
                "run.json records no data settings: give the data set",
            )
        })?;
    let data = {
        let _stage = StageGuard::begin(progress, "load data", 0);
        load_data(&ds)?
    };
    net_claims_on(settings, &run, &data, progress)
}

/// Checks the claims on the checkpoints of `settings.run_dir` with `run`'s
/// metadata, on `data`; progress: a stage `checkpoints` with a step per
/// checkpoint measured.
pub fn net_claims_on(
    settings: &NetClaimsSettings,
    run: &TrainReport,
    data: &TrainData,
    progress: &dyn Progress,
) -> Result<NetClaimsReport> {
    settings.validate()?;
    let t0 = Instant::now();
    let all = list_checkpoints(&settings.run_dir, run.settings.epochs)?;
    let chosen = if settings.wants(NetClaim::C6) || settings.wants(NetClaim::C15) {
        stride_checkpoints(&all, settings.stride)
    } else {
        all.last().cloned().into_iter().collect()
    };
    let loss = run.settings.loss;
    let batch_size = run.settings.batch_size;
    data.validate(run.spec.classes)?;
    let idx = balanced_indices(&data.labels, settings.samples);
    let mut checkpoints = Vec::new();
    let mut suppression = None;
    let mut layer_name = String::new();
    let mut shape = (0, 0);
    let mut top_k = 0;
    let stage = StageGuard::begin(progress, "checkpoints", chosen.len() as u64);
    for (ci, ck) in chosen.iter().enumerate() {
        let tc = Instant::now();
        let net = load_net(&ck.path)?;
        let layer = settings
            .layer
            .clone()
            .unwrap_or_else(|| net.spec().default_layer());
        let factors = gather_layer(&net, data, &idx, &layer, loss, GATHER_CHUNK)?;
        let is_last = ci + 1 == chosen.len();
        let stats = run.epochs.iter().find(|e| e.epoch == ck.epoch);
        let m = measure_checkpoint(
            &factors,
            &FigureSettings {
                top_k: settings.top_k,
                batch_size,
                seed: settings.seed,
                one_to_one: settings.one_to_one,
                chunk: settings.chunk,
                suppression: (is_last && settings.wants(NetClaim::C13)).then_some(
                    SuppressionSettings {
                        config: settings.suppression,
                        tails_factor: settings.tails_factor,
                    },
                ),
                // The structure figures serve C3, C7-R3.5, C8 and C13's
                // entanglement; C6 and C15 alone do not need them.
                structure: ((is_last
                    && [
                        NetClaim::C3,
                        NetClaim::C7Remark35,
                        NetClaim::C8,
                        NetClaim::C13,
                    ]
                    .iter()
                    .any(|c| settings.wants(*c)))
                    || settings.structure_every_checkpoint)
                    .then_some(StructureSettings {
                        rotations: settings.structure_rotations,
                        seed: settings.seed,
                        batch_draws: settings.batch_draws,
                    }),
                uncertainty: crate::layer::UncertaintySettings {
                    seed: settings.seed,
                    ..crate::layer::UncertaintySettings::default()
                },
                pairs: settings.wants(NetClaim::C6)
                    || settings.wants(NetClaim::C7)
                    || settings.wants(NetClaim::C13),
                second_top_k: settings.second_top_k,
            },
            CheckpointInfo {
                epoch: ck.epoch,
                path: ck.path.clone(),
                train_loss: stats.map(|s| s.loss),
                train_accuracy: stats.map(|s| s.accuracy),
            },
        )?;
        let mut figures = m.figures;
        figures.seconds = tc.elapsed().as_secs_f64();
        stage.step(&format!(
            "epoch {}: gamma {}",
            ck.epoch,
            figures
                .gamma
                .as_ref()
                .map_or("n/a".into(), |g| format!("{:.3}", g.gamma))
        ));
        if m.suppression.is_some() {
            suppression = m.suppression;
        }
        checkpoints.push(figures);
        layer_name = layer;
        shape = m.layer_shape;
        top_k = m.top_k;
    }
    drop(stage);
    let strided = settings.wants(NetClaim::C6) || settings.wants(NetClaim::C15);
    let source = format!("the run's data ({})", data.name);
    let adjustments = [
        Adjustment::samples(settings.samples, data.labels.len(), &source),
        Adjustment::top_k(settings.top_k, shape.0, shape.1),
        if strided {
            Adjustment::stride(settings.stride, all.len())
        } else {
            None
        },
    ]
    .into_iter()
    .flatten()
    .collect();
    let mut report = NetClaimsReport {
        settings: settings.clone(),
        layer: layer_name,
        layer_shape: shape,
        loss,
        batch_size,
        samples: idx.len(),
        top_k,
        adjustments,
        checkpoints,
        suppression,
        claims: Vec::new(),
        seconds: 0.0,
    };
    report.claims = settings
        .claims
        .iter()
        .map(|&claim| NetClaimResult {
            claim,
            outcome: claim.judge(&report.figures(), &settings.thresholds),
        })
        .collect();
    report.seconds = t0.elapsed().as_secs_f64();
    Ok(report)
}
