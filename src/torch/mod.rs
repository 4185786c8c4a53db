//! Torch tier (cargo feature `torch`, crate `tch` on the libtorch of PyTorch
//! 2.13.0; `scripts/torch-env.sh` sets it up): what needs libtorch and
//! nothing else. The paper's networks trained with vanilla SGD on real data
//! (C14), and the per-sample factors of one of their layers, which the pure
//! [`crate::layer`] analyses. No verdict is decided here (the claims
//! tier does), and runs that combine training, analysis and verdicts live in
//! the reproduce tier.
//!
//! - [`model`]: bias-free ReLU MLP and CNN (no batch norm), named weights
//!   `conv{i}.weight` (out x in x 3 x 3) and `fc{i}.weight` (out x in, PyTorch
//!   layout), safetensors checkpoints loadable by PyTorch.
//! - [`dataset`]: the training subset (first K classes, balanced prefix,
//!   per-channel standardisation) from [`crate::data`], as tensors.
//! - [`train`]: vanilla SGD (`w <- w - lr * grad`, no momentum, no weight
//!   decay), cross-entropy or softmax-then-MSE, fixed seeds.
//! - [`checkpoint`]: a net from its safetensors file and the `run.json` of
//!   its training run.
//! - [`curvature`]: gathers `a_p`, `D_p = d logits / d z` (autograd), the
//!   logits and the weights W of a linear layer `z = W a`
//!   ([`crate::layer::LayerFactors`]; `h_p = A_p (x) a_p a_p^T`, exact for
//!   these networks).
//! - [`dispatch`]: the CPU code paths of libtorch, MKL and oneDNN pinned to
//!   AVX2 (when the CPU has it) so that training is bitwise the same for any
//!   thread count and on any AVX2 machine.

pub mod checkpoint;
pub mod curvature;
pub mod dataset;
pub mod dispatch;
pub mod model;
pub mod train;

use thiserror::Error;

/// Errors of the torch tier. Each names the input it is about.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TorchError {
    /// A libtorch call failed.
    #[error("{context}: libtorch: {message}")]
    Tch { context: String, message: String },
    /// A checkpoint file that cannot be read or does not describe a model.
    #[error("{path}: checkpoint: {reason}")]
    Checkpoint { path: String, reason: String },
    /// A layer name the model does not have as a linear layer.
    #[error("layer {name:?}: not a linear layer of this model (linear layers: {known})")]
    UnknownLayer { name: String, known: String },
    /// A setting outside its admissible range.
    #[error("{name} = {value}: {reason}")]
    Setting {
        name: String,
        value: String,
        reason: String,
    },
    /// Data that does not fit the model or the request.
    #[error("{input}: {reason}")]
    Data { input: String, reason: String },
    /// Writing an output file failed.
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    /// Reading the data failed.
    #[error(transparent)]
    DataFile(#[from] crate::data::DataError),
    /// An error of the core (shapes, eigendecomposition, ...).
    #[error(transparent)]
    Core(#[from] crate::Error),
}

/// Result alias of the torch tier.
pub type Result<T, E = TorchError> = std::result::Result<T, E>;

impl TorchError {
    /// Shorthand for [`TorchError::Setting`].
    pub fn setting(name: &str, value: impl std::fmt::Display, reason: impl Into<String>) -> Self {
        TorchError::Setting {
            name: name.to_string(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}

/// Attaches a context to libtorch errors.
pub(crate) trait TchContext<T> {
    fn ctx(self, context: &str) -> Result<T>;
}

impl<T> TchContext<T> for std::result::Result<T, tch::TchError> {
    fn ctx(self, context: &str) -> Result<T> {
        self.map_err(|e| TorchError::Tch {
            context: context.to_string(),
            message: e.to_string(),
        })
    }
}
