//! Per-sample factors of one linear layer, as exported from any PyTorch model
//! (`scripts/export_layer.py`): the `superlinear.factors` format, version 1.
//!
//! For a layer `z = W a` (`W` is `out x in`) inside a network with logits
//! `f` (K of them) and a per-sample loss `L(f, y)`, the per-sample Hessian of
//! the loss in `W` is
//!
//! ```text
//! h_p = A_p (x) a_p a_p^T  +  T_p (x) a_p a_p^T,
//! A_p = D_p^T M_p D_p,     T_p = sum_k (dL/df_k) d^2 f_k / dz^2,
//! ```
//!
//! with `D_p = d f / d z` at sample p (`K x out`) and `M_p = d^2 L / d f^2`
//! (`K x K`). The file carries what the first term needs; the second term
//! vanishes (almost everywhere) when everything between `z` and the logits is
//! piecewise linear in `z` (ReLU, leaky ReLU, max-pool, linear and conv
//! layers, biases, BatchNorm in eval mode, residual sums of these), so then the
//! Kronecker form is the exact per-sample Hessian. Otherwise (GELU, tanh,
//! softmax attention, ... after the layer) the first term is the Gauss-Newton
//! part and `T_p` is dropped (`kronecker_gap` in the exporter measures it).
//! Both terms assume `a_p` does not depend on `W` and `W` is used once in the
//! forward pass (no weight tying).
//!
//! ## Container
//! A safetensors file (parsed by the `safetensors` crate) with exactly these
//! tensors, little-endian, any order:
//!
//! | tensor | shape | dtype | meaning |
//! |---|---|---|---|
//! | `acts` | `N x in` | F64 or F32 | layer inputs `a_p` |
//! | `jacobians` | `N x K x out` | F64 or F32 | `D_p = d logits_p / d z_p` |
//! | `logits` | `N x K` | F64 or F32 | network outputs `f_p` |
//! | `labels` | `N` | I64, I32, I16, I8, U64, U32, U16 or U8 | class `y_p` in `0..K` |
//! | `weight` | `out x in` | F64 or F32 | `W` |
//!
//! F32 entries are widened exactly to f64; [`FactorFile::precision`] says
//! whether any tensor was F32. The `__metadata__` string map holds:
//!
//! | key | value |
//! |---|---|
//! | `format` | `superlinear.factors` |
//! | `version` | `1` |
//! | `loss` | `ce`: `L = logsumexp(f) - f_y`; `mse`: `L = (1/K) |softmax(f) - e_y|^2` (per sample, natural log) |
//! | `model` | what the network is |
//! | `layer` | which layer (e.g. its module name) |
//! | `data` | what the N samples are |
//! | `tool` | exporter and its version |
//! | `batch_size` | optional: the training mini-batch size B, a positive integer |
//! | `user.*` | optional free-form keys, kept in [`FactorMeta::extra`] |
//!
//! Any other tensor or metadata key is refused (naming it), so a typo cannot
//! silently drop information.
//!
//! ## Checks
//! Before anything is decoded: the input is at most [`super::io::DEFAULT_CAP`]
//! bytes (after gunzip), the header at most [`MAX_HEADER_LEN`] bytes and every
//! declared data offset within the input; then the `safetensors` crate checks
//! the container (offsets contiguous, sizes equal shape times dtype, data fully
//! covered). Then: format name and version, loss, required keys, the set of
//! tensors, dtypes, dimension counts, that N, K, out and in agree across
//! tensors (naming both tensors and shapes), `N >= 1`, `K >= 2`, `out, in >= 1`,
//! every float finite (naming tensor and index) and every label in `0..K`.
//! Every failure is one [`DataError`] line naming the file.
//!
//! Files: `parse.rs` (container pre-checks, tensors, shapes), `meta.rs`
//! (metadata), `decode.rs` (floats and labels), `write.rs`
//! ([`FactorFile::to_bytes`]).

mod decode;
mod meta;
mod parse;
mod write;

pub use parse::parse_factors;

use super::io::{read_capped, DEFAULT_CAP};
use super::DataError;
use std::collections::BTreeMap;
use std::path::Path;

/// The `format` metadata value.
pub const FORMAT_NAME: &str = "superlinear.factors";
/// The format version this reader reads and [`FactorFile::to_bytes`] writes.
pub const FORMAT_VERSION: u32 = 1;
/// Longest safetensors header (JSON) accepted: the format's header is a few
/// hundred bytes plus the free-form metadata.
pub const MAX_HEADER_LEN: u64 = 1 << 20;

/// Tensor names of the format.
pub const ACTS: &str = "acts";
pub const JACOBIANS: &str = "jacobians";
pub const LOGITS: &str = "logits";
pub const LABELS: &str = "labels";
pub const WEIGHT: &str = "weight";
const TENSORS: [&str; 5] = [ACTS, JACOBIANS, LOGITS, LABELS, WEIGHT];

/// Prefix of free-form metadata keys.
pub const USER_PREFIX: &str = "user.";

/// The per-sample loss of the logits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactorLoss {
    /// `ce`: `L = logsumexp(f) - f_y`.
    CrossEntropy,
    /// `mse`: `L = (1/K) |softmax(f) - e_y|^2` (softmax before MSE, one-hot target).
    SoftmaxMse,
}

impl FactorLoss {
    /// The metadata value (`ce` or `mse`).
    pub fn as_str(self) -> &'static str {
        match self {
            FactorLoss::CrossEntropy => "ce",
            FactorLoss::SoftmaxMse => "mse",
        }
    }

    fn parse(s: &str) -> Option<FactorLoss> {
        match s {
            "ce" => Some(FactorLoss::CrossEntropy),
            "mse" => Some(FactorLoss::SoftmaxMse),
            _ => None,
        }
    }
}

/// The narrowest float dtype among the float tensors of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactorPrecision {
    /// Every float tensor was F64.
    F64,
    /// At least one float tensor was F32 (widened exactly; about 7 digits).
    F32,
}

/// The descriptive metadata of a factor file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactorMeta {
    /// The format version (always [`FORMAT_VERSION`] once read).
    pub version: u32,
    /// What the network is.
    pub model: String,
    /// Which layer.
    pub layer: String,
    /// What the samples are.
    pub data: String,
    /// The exporter and its version.
    pub tool: String,
    /// The training mini-batch size B, if recorded.
    pub batch_size: Option<usize>,
    /// The `user.*` keys, verbatim.
    pub extra: BTreeMap<String, String>,
}

/// One layer's per-sample factors, checked: shapes agree, `n >= 1`,
/// `classes >= 2`, `out, inn >= 1`, every float finite, every label
/// `< classes`. All matrices are row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct FactorFile {
    pub meta: FactorMeta,
    pub loss: FactorLoss,
    /// F32 if any float tensor was stored as F32.
    pub precision: FactorPrecision,
    /// Samples N.
    pub n: usize,
    /// Layer outputs (rows of W).
    pub out: usize,
    /// Layer inputs (columns of W).
    pub inn: usize,
    /// Logits K.
    pub classes: usize,
    /// `n x inn`: row p is `a_p`.
    pub acts: Vec<f64>,
    /// `n x classes x out`: block p is `D_p` (`classes x out`).
    pub jacobians: Vec<f64>,
    /// `n x classes`.
    pub logits: Vec<f64>,
    /// `n` labels in `0..classes`.
    pub labels: Vec<usize>,
    /// `out x inn`: `W`.
    pub weight: Vec<f64>,
}

impl FactorFile {
    /// `a_p` (length `inn`); panics if `p >= n`.
    pub fn act(&self, p: usize) -> &[f64] {
        &self.acts[p * self.inn..(p + 1) * self.inn]
    }

    /// `D_p`, row-major `classes x out`; panics if `p >= n`.
    pub fn jacobian(&self, p: usize) -> &[f64] {
        let block = self.classes * self.out;
        &self.jacobians[p * block..(p + 1) * block]
    }

    /// The logits of sample p (length `classes`); panics if `p >= n`.
    pub fn logit(&self, p: usize) -> &[f64] {
        &self.logits[p * self.classes..(p + 1) * self.classes]
    }
}

/// Reads a factor file (plain or gzip) under [`DEFAULT_CAP`].
pub fn read_factors(path: &Path) -> Result<FactorFile, DataError> {
    read_factors_capped(path, DEFAULT_CAP)
}

/// Reads a factor file (plain or gzip) under a cap of `cap` bytes.
pub fn read_factors_capped(path: &Path, cap: u64) -> Result<FactorFile, DataError> {
    let bytes = read_capped(path, "factor file (safetensors)", cap)?;
    parse_factors(&bytes, &path.display().to_string())
}
