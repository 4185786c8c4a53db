//! Checkpoint I/O: a net from its safetensors file ([`load_net`]) and the
//! `run.json` that `superlinear train` writes beside it ([`run_metadata`]:
//! model spec, SGD settings, per-epoch statistics, data settings).

use std::path::Path;

use tch::Kind;

use super::model::Net;
use super::train::TrainReport;
use super::{Result, TorchError};

/// Loads the net of a checkpoint file in f32; a missing file is
/// [`TorchError::Checkpoint`] "no such file".
pub fn load_net(path: &Path) -> Result<Net> {
    if !path.is_file() {
        return Err(TorchError::Checkpoint {
            path: path.display().to_string(),
            reason: "no such file".into(),
        });
    }
    Net::load(path, Kind::Float)
}

/// Reads `run.json` beside a checkpoint (in the directory of `checkpoint`),
/// when present.
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
