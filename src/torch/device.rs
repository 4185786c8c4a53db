//! Where SGD runs (C14's training): the CPU (the default) or the first CUDA
//! GPU libtorch sees (`superlinear train --device cuda`).
//!
//! On CUDA the network's weights, the training set and every mini-batch
//! live on the GPU; the initial weights are still drawn on the CPU (the same
//! `tch::manual_seed` draws as a CPU run) and the mini-batch order comes from
//! the same seeded ChaCha stream, so a CUDA run starts where the CPU run of
//! its seed starts. Checkpoints are copied back to the CPU before they are
//! written (the same safetensors file a CPU run writes), and the trained
//! network is handed back on the CPU: the analysis (per-sample factors, H,
//! C, the fits) always runs on the CPU, in f64.
//!
//! Determinism: CUDA runs are not bitwise reproducible. cuBLAS and cuDNN pick
//! their kernels per GPU model and library version, and the backward pass of
//! the mini-batch gather and several reductions add with atomics in no fixed
//! order; SGD amplifies these rounding differences, so two runs of one seed
//! on one GPU may end apart by about as much as the CPU's kernel paths do
//! (see [`super::dispatch`]), and a CUDA run does not equal the CPU run of
//! its seed. The CPU dispatch pin does not reach the GPU. `run.json` records
//! the device in `settings.device`.

use serde::{Deserialize, Serialize};

use super::{Result, TorchError};

/// The device a training run uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrainDevice {
    /// The CPU (bitwise reproducible under the dispatch pin).
    #[default]
    Cpu,
    /// The first CUDA GPU (`cuda:0`); not bitwise reproducible.
    Cuda,
}

impl TrainDevice {
    /// Every device, in the order the command line lists them.
    pub const ALL: [TrainDevice; 2] = [TrainDevice::Cpu, TrainDevice::Cuda];

    /// The name on the command line and in `run.json`.
    pub fn short(self) -> &'static str {
        match self {
            TrainDevice::Cpu => "cpu",
            TrainDevice::Cuda => "cuda",
        }
    }

    /// The libtorch device, or [`TorchError::Device`] when libtorch cannot
    /// use it (a CPU-only libtorch, or no GPU visible to the process).
    pub fn resolve(self) -> Result<tch::Device> {
        match self {
            TrainDevice::Cpu => Ok(tch::Device::Cpu),
            TrainDevice::Cuda if tch::Cuda::is_available() => Ok(tch::Device::Cuda(0)),
            TrainDevice::Cuda => Err(TorchError::Device {
                device: self.short().into(),
                reason: "libtorch was built without CUDA or no GPU is visible \
                         (torch::cuda::is_available() is false); use --device cpu"
                    .into(),
            }),
        }
    }
}

impl std::fmt::Display for TrainDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.short())
    }
}

impl std::str::FromStr for TrainDevice {
    type Err = TorchError;

    fn from_str(s: &str) -> Result<Self> {
        TrainDevice::ALL
            .into_iter()
            .find(|d| d.short() == s)
            .ok_or_else(|| TorchError::setting("device", s, "must be one of cpu, cuda"))
    }
}
