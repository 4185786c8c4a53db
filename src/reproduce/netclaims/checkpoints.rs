//! The checkpoints of a `superlinear train` run directory, in epoch order,
//! and the stride over them that `net-claims` uses.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::reproduce::ReproduceError;

/// A checkpoint of the run and its epoch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckpointFile {
    /// Epoch after which it was saved.
    pub epoch: usize,
    /// File.
    pub path: PathBuf,
}

/// The checkpoints of a run directory in epoch order: `epoch-NNNN.safetensors`,
/// then `final.safetensors` (epoch = `final_epoch`) unless an epoch file of
/// that epoch exists (same weights). Unparseable names are ignored.
pub fn list_checkpoints(
    dir: &Path,
    final_epoch: usize,
) -> Result<Vec<CheckpointFile>, ReproduceError> {
    let io = |e: std::io::Error| ReproduceError::Io {
        path: dir.display().to_string(),
        message: e.to_string(),
    };
    let rd = std::fs::read_dir(dir).map_err(io)?;
    let mut out = Vec::new();
    let mut has_final = false;
    for entry in rd {
        let entry = entry.map_err(io)?;
        let name = entry.file_name().to_string_lossy().to_string();
        if name == "final.safetensors" {
            has_final = true;
        } else if let Some(num) = name
            .strip_prefix("epoch-")
            .and_then(|s| s.strip_suffix(".safetensors"))
        {
            if let Ok(epoch) = num.parse::<usize>() {
                out.push(CheckpointFile {
                    epoch,
                    path: entry.path(),
                });
            }
        }
    }
    out.sort_by_key(|c| c.epoch);
    if has_final && out.last().is_none_or(|c| c.epoch != final_epoch) {
        out.push(CheckpointFile {
            epoch: final_epoch,
            path: dir.join("final.safetensors"),
        });
    }
    if out.is_empty() {
        return Err(ReproduceError::Checkpoint {
            path: dir.display().to_string(),
            reason: "no epoch-NNNN.safetensors or final.safetensors in the run directory".into(),
        });
    }
    Ok(out)
}

/// Every `stride`-th checkpoint, always including the last.
pub fn stride_checkpoints(all: &[CheckpointFile], stride: usize) -> Vec<CheckpointFile> {
    let stride = stride.max(1);
    let n = all.len();
    all.iter()
        .enumerate()
        .filter(|(i, _)| i % stride == 0 || *i + 1 == n)
        .map(|(_, c)| c.clone())
        .collect()
}
