//! Torch tier (cargo feature `torch`, crate `tch` on the libtorch of PyTorch
//! 2.13.0; `scripts/torch-env.sh` sets it up): the paper's networks trained
//! with vanilla SGD on real data, and the curvature of one of their layers
//! measured exactly (C14; the quantities of C7, C8, C9, C13, C15).
//!
//! - [`model`]: bias-free ReLU MLP and CNN (no batch norm), named weights
//!   `conv{i}.weight` (out x in x 3 x 3) and `fc{i}.weight` (out x in, PyTorch
//!   layout), safetensors checkpoints loadable by PyTorch.
//! - [`dataset`]: the training subset (first K classes, balanced prefix,
//!   per-channel standardisation) from [`crate::data`].
//! - [`train`]: vanilla SGD (`w <- w - lr * grad`, no momentum, no weight
//!   decay), cross-entropy or softmax-then-MSE, fixed seeds.
//! - [`curvature`]: gathers `a_p`, `D_p = d logits / d z` and the logits for a
//!   linear layer `z = W a` and hands them to the Kronecker engine
//!   [`crate::kron`] (`h_p = A_p (x) a_p a_p^T`, exact for these networks).
//! - [`analyze`]: H, its eigenbasis, `C_ii` (Eq. 2), `C_awd,ii` (Eq. 15) on the
//!   top-k eigen-directions of a checkpoint's layer, with stage timings.

pub mod analyze;
pub mod curvature;
pub mod dataset;
pub mod model;
pub mod netclaims;
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
