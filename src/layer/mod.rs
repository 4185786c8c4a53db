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
//! - [`figures`]: the per-checkpoint figures of `superlinear net-claims`
//!   (C6, C7, C13, C15), which `crate::claims` turns into verdicts.

pub mod analyze;
pub mod coupling_null;
pub mod figures;
pub mod halves;
pub mod isotropy;
pub mod suppress;
pub mod terms;

use faer::Mat;

use crate::kron::LayerSamples;

pub use analyze::{
    analysis_shape, analyze_layer, plan_memory, EigenSummary, LayerReport, MemorySummary, Stage,
    Term2Report,
};
pub use coupling_null::CouplingNull;
pub use figures::{
    measure_checkpoint, CheckpointFigures, CheckpointInfo, CheckpointMeasurement, FigureSettings,
    Fit, NetFigures, PairFigures, SuppressionFigures, SuppressionSettings,
};

/// The per-sample factors of one linear layer `z = W a` on N samples.
#[derive(Debug, Clone)]
pub struct LayerFactors {
    /// Weight name of the layer (e.g. `fc2.weight`), for reports and errors.
    pub layer: String,
    /// `a_p`, `D_p`, logits, labels and loss of the N samples.
    pub samples: LayerSamples,
    /// The layer's weights W (out x in).
    pub weights: Mat<f64>,
}

impl LayerFactors {
    /// Number of classes K (columns of the logits).
    pub fn classes(&self) -> usize {
        self.samples.logits.ncols()
    }
}

/// Settings of [`analyze_layer`]; the samples are already chosen.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerSettings {
    /// Number of top eigen-directions (0: all d).
    pub top_k: usize,
    /// Batch size B of Eq. 2 (at least 1).
    pub batch_size: usize,
    /// Samples per chunk of the projection passes (capped at 64).
    pub chunk: usize,
    /// Also measure the off-diagonal `V^T E[h_p^2] V` and its `rho_bar`
    /// (C_awd's coupling): a k x k x (N r) product and a d x d build of
    /// `E[h_p^2]` (about as much as the rest of the analysis).
    pub coupling_awd: bool,
    /// Also the corrected null mean of `rho_bar` (`theory/coupling-null.md`),
    /// which needs the whole spectrum of C (an N x N eigenvalue problem) and,
    /// with `coupling_awd`, of `E[h_p^2]` (d x d).
    pub coupling_null: bool,
    /// Also Table 3's exponents with Term II kept ([`analyze`] module doc):
    /// a nearest-neighbour matching of the N activities and one more pass of
    /// projections on the top-k.
    pub term2: bool,
    /// Seed of the per-class halves of the matching ([`Self::term2`]).
    pub pair_seed: u64,
    /// Threads for the dense linear algebra (faer): 0 = faer's default (all
    /// cores), 1 = sequential.
    pub linalg_threads: usize,
    /// The eigen route of H (Auto: dense up to d = 4096, else block Krylov;
    /// [`crate::memory::eig_route`]).
    pub eig: crate::memory::EigMethod,
    /// Seed of the Krylov start block.
    pub eig_seed: u64,
    /// Memory cap in bytes (None: the memory available when the analysis
    /// starts).
    pub memory_limit: Option<u64>,
}

impl Default for LayerSettings {
    fn default() -> Self {
        LayerSettings {
            top_k: 0,
            batch_size: 1,
            chunk: 256,
            coupling_awd: false,
            coupling_null: false,
            term2: false,
            pair_seed: 0,
            linalg_threads: 0,
            eig: crate::memory::EigMethod::Auto,
            eig_seed: 0,
            memory_limit: None,
        }
    }
}

/// Class-balanced choice of `n` indices (0: all): round-robin over the
/// classes in order of first appearance, each class in file order.
pub fn balanced_indices(labels: &[u8], n: usize) -> Vec<usize> {
    if n == 0 || n >= labels.len() {
        return (0..labels.len()).collect();
    }
    let mut classes: Vec<u8> = Vec::new();
    for y in labels {
        if !classes.contains(y) {
            classes.push(*y);
        }
    }
    let mut queues: Vec<std::collections::VecDeque<usize>> = classes
        .iter()
        .map(|c| (0..labels.len()).filter(|i| labels[*i] == *c).collect())
        .collect();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let mut any = false;
        for q in queues.iter_mut() {
            if out.len() == n {
                break;
            }
            if let Some(i) = q.pop_front() {
                out.push(i);
                any = true;
            }
        }
        if !any {
            break;
        }
    }
    out.sort_unstable();
    out
}

/// Median of the finite values (NaN if none).
pub fn median(v: &[f64]) -> f64 {
    let mut s: Vec<f64> = v.iter().cloned().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return f64::NAN;
    }
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        0.5 * (s[n / 2 - 1] + s[n / 2])
    }
}
