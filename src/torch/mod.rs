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
//! - [`device`]: where SGD runs, the CPU (default) or a CUDA GPU; the
//!   checkpoints and the analysis stay on the CPU.
//! - [`dispatch`]: the CPU code paths of libtorch, MKL and oneDNN pinned to
//!   AVX2 (when the CPU has it) so that training is bitwise the same for any
//!   thread count and on any AVX2 machine.

pub mod checkpoint;
pub mod curvature;
pub mod dataset;
pub mod device;
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
    /// A training device libtorch cannot use.
    #[error("--device {device}: {reason}")]
    Device { device: String, reason: String },
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

pub mod dispatch {
    //! Which CPU code paths libtorch takes, pinned. libtorch picks its
    //! vectorised kernels by CPU capability (`ATEN_CPU_CAPABILITY`: default,
    //! avx2, avx512), MKL picks its GEMM kernels by CPU and splits them by
    //! thread count (`MKL_CBWR`), oneDNN picks its convolutions by ISA
    //! (`ONEDNN_MAX_CPU_ISA`). Each choice changes the rounding of a training
    //! step; SGD then amplifies the difference (measured: the capabilities
    //! `default` and `avx512` end a 20-epoch MLP run 1.3% apart in the weights,
    //! `avx2` and `avx512` 4e-7 apart, and MKL with 1 and 2 threads 2e-7 apart).
    //!
    //! [`pin_cpu_dispatch`] (called by the binary before libtorch runs) sets,
    //! on a CPU with AVX2 and FMA and for each variable the environment does not
    //! already set: `ATEN_CPU_CAPABILITY=avx2`, `MKL_CBWR=AVX2,STRICT` (MKL's
    //! conditional numerical reproducibility: the AVX2 kernels, the same result
    //! for any thread count) and `ONEDNN_MAX_CPU_ISA=AVX2`. With them a run is
    //! bitwise the same for `--threads 1` and `2` and on any AVX2 machine with
    //! this libtorch. `SUPERLINEAR_CPU_DISPATCH=native` leaves all three to the
    //! libraries (the fastest paths of the CPU at hand, no longer comparable
    //! bitwise across machines or thread counts). [`cpu_dispatch`] states what
    //! is in force; run records keep it in their provenance.

    /// Opt-out: `SUPERLINEAR_CPU_DISPATCH=native` keeps the libraries' own choice.
    pub const DISPATCH_ENV: &str = "SUPERLINEAR_CPU_DISPATCH";

    /// The variables [`pin_cpu_dispatch`] sets and their pinned values.
    pub const PINNED: [(&str, &str); 3] = [
        ("ATEN_CPU_CAPABILITY", "avx2"),
        ("MKL_CBWR", "AVX2,STRICT"),
        ("ONEDNN_MAX_CPU_ISA", "AVX2"),
    ];

    /// Whether this CPU runs AVX2 and FMA code (the pinned paths).
    pub fn cpu_has_avx2() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }

    /// Sets the [`PINNED`] variables the environment leaves unset (module doc).
    /// Call it before any libtorch call and before other threads start: the
    /// libraries read the variables once, at their first use.
    pub fn pin_cpu_dispatch() {
        let native = std::env::var(DISPATCH_ENV).is_ok_and(|v| v == "native");
        if native || !cpu_has_avx2() {
            return;
        }
        for (name, value) in PINNED {
            if std::env::var_os(name).is_none() {
                std::env::set_var(name, value);
            }
        }
    }

    /// The dispatch in force, as `NAME=value` pairs of the [`PINNED`] variables
    /// (`NAME=native` for one left to the library).
    pub fn cpu_dispatch() -> String {
        PINNED
            .iter()
            .map(|(name, _)| {
                let v = std::env::var(name).unwrap_or_else(|_| "native".into());
                format!("{name}={v}")
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}
