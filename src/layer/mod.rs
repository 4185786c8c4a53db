//! The curvature of one linear layer `z = W a` of a trained network, measured
//! exactly from its per-sample factors (C14's measurement; the quantities of
//! C3, C4, C6, C7, C8, C9, C13, C15). Pure Rust: the factors come from
//! anywhere (the torch tier gathers them from a checkpoint, tests build them
//! by hand).
//!
//! The factors of N samples ([`LayerFactors`]): input activities `a_p`, the
//! Jacobians `D_p = d logits / d z` (K x out), the logits, labels, the loss,
//! and the weights W (out x in). For these networks every per-sample Hessian
//! of the layer is exactly `h_p = A_p (x) a_p a_p^T` with
//! `A_p = D_p^T (d^2 l / d f^2) D_p` ([`crate::kron`]), so
//! `H = E_p[h_p]`, `C = (1/B)(E_p[g_p g_p^T] - E_p[g_p] E_p[g_p]^T)` (Eq. 2)
//! and `E_p[h_p^2]` (Eq. 15) never need a d x d matrix per sample.
//!
//! - [`factors`]: [`LayerFactors`], [`LayerSettings`], the class-balanced
//!   choice of samples.
//! - [`analyze`]: [`analyze_layer`], everything `superlinear analyze`
//!   reports: the top-k eigenpairs of H, `C_ii` (Eq. 2),
//!   `C_awd,ii / sigma^2 = v_i^T E[h_p^2] v_i` (Eq. 15), the first-moment
//!   identity (C8), Theorem 5.1's bounds (C9), gamma fits, `rho_bar` with its
//!   null (C3, C4) and optionally Table 3's exponents with Term II (C6).
//! - [`coupling_null`]: `rho_bar` of a projected matrix with the paper's null
//!   (App. C mean, App. D SE) and the corrected mean.
//! - [`halves`]: matched pairs (C5): per-class seeded halves, nearest
//!   same-class partner on the layer's input activity.
//! - [`terms`]: the terms of Eq. 57 with the real AWD perturbations of the
//!   matched pairs, projected on H's eigen-directions (C6, C7).
//! - [`isotropy`]: C7's isotropy figures of those perturbations (Eq. 63-68).
//! - [`suppress`]: App. B.3's suppression (C13) in Kronecker form.
//! - [`uncertainty`]: how far gamma can be trusted: gamma(k) and local
//!   slopes, a bootstrap over samples in the fixed eigenbasis, and a test of
//!   the power-law form against a Haar-rotated null (C9, C14, C15).
//! - [`figures`]: the per-checkpoint figures of `superlinear net-claims`
//!   (C3, C6, C7, C8, C13, C15), which `crate::claims` turns into verdicts.
//! - [`structure`]: C in H's top-k eigenbasis against its Haar null
//!   (`rho_bar`, the commutator and the off-diagonal decay of Remark 3.5);
//!   [`batch`]: Eq. 2's premise (first-moment share, `1/B` scaling).

pub mod analyze;
pub mod batch;
pub mod coupling_null;
pub mod factors;
pub mod figures;
pub mod halves;
pub mod isotropy;
pub mod pair_bootstrap;
pub mod structure;
pub mod suppress;
pub mod suppress_bootstrap;
pub mod terms;
pub mod uncertainty;

pub use analyze::{
    analysis_shape, analyze_layer, plan_memory, EigenSummary, LayerReport, MemorySummary, Stage,
    Term2Report,
};
pub use coupling_null::CouplingNull;
pub use factors::{balanced_indices, LayerFactors, LayerSettings, DEFAULT_SAMPLES, DEFAULT_TOP_K};
pub use figures::{
    measure_checkpoint, CheckpointFigures, CheckpointInfo, CheckpointMeasurement, FigureSettings,
    Fit, GammaAtSecondK, NetFigures, PairFigures, SuppressionFigures, SuppressionSettings,
};
pub use structure::{measure_structure, StructureFigures, StructureSettings};
pub use suppress::median;
pub use uncertainty::{
    gamma_uncertainty, BootstrapGamma, FormTest, GammaAtK, GammaUncertainty, SampleProjections,
    UncertaintySettings,
};
