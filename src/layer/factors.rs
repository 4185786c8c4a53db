//! The input of the layer analysis: the per-sample factors of one linear
//! layer `z = W a` on N samples ([`LayerFactors`]), the settings of
//! [`super::analyze_layer`] ([`LayerSettings`]), and the class-balanced
//! choice of those samples ([`balanced_indices`]).
//!
//! The default size of an analysis, the same for `analyze` and `net-claims`
//! ([`DEFAULT_SAMPLES`], [`DEFAULT_TOP_K`]): 2000 class-balanced samples and
//! the top 500 eigen-directions of H, a quarter of the samples (at a fixed
//! top-k above about N/4 the fitted gamma falls as N grows, so a larger k
//! measures the sample size more than the layer). `reproduce` follows the
//! paper's protocol instead: each run config's `analyze_samples` and Table
//! 2's k for the row.

use faer::Mat;

use crate::kron::LayerSamples;

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

/// Class-balanced samples an analysis uses unless told otherwise (module doc).
pub const DEFAULT_SAMPLES: usize = 2000;

/// Top-k eigen-directions of H an analysis fits unless told otherwise:
/// a quarter of [`DEFAULT_SAMPLES`] (module doc).
pub const DEFAULT_TOP_K: usize = DEFAULT_SAMPLES / 4;

/// Settings of [`super::analyze_layer`]; the samples are already chosen.
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
    /// Also Table 3's exponents with Term II kept ([`super::analyze`] module doc):
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
    /// gamma's bootstrap over samples, gamma(k) and the form test
    /// ([`super::uncertainty`]).
    pub uncertainty: super::uncertainty::UncertaintySettings,
    /// Keep the top `n x n` block of `C' = V^T C V` in the report
    /// ([`super::LayerReport::coupling_block`], the heatmap of
    /// `crate::plot::heatmap`); 0 keeps none.
    pub keep_block: usize,
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
            uncertainty: super::uncertainty::UncertaintySettings::default(),
            keep_block: 0,
        }
    }
}

/// Class-balanced choice of `n` indices (0: all): round-robin over the
/// classes in order of first appearance, each class in file order.
pub fn balanced_indices<T: Copy + PartialEq>(labels: &[T], n: usize) -> Vec<usize> {
    if n == 0 || n >= labels.len() {
        return (0..labels.len()).collect();
    }
    let mut classes: Vec<T> = Vec::new();
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

impl LayerFactors {
    /// The factors of the samples `idx` of a factor file
    /// ([`crate::data::factors`]): the same a_p, D_p, logits, labels and W,
    /// as the engine's matrices, with the file's loss.
    pub fn from_factor_file(f: &crate::data::factors::FactorFile, idx: &[usize]) -> Self {
        let loss = crate::loss::Loss::from(f.loss);
        let (out, inn, k) = (f.out, f.inn, f.classes);
        LayerFactors {
            layer: f.meta.layer.clone(),
            samples: LayerSamples {
                acts: Mat::from_fn(idx.len(), inn, |i, j| f.act(idx[i])[j]),
                jacobians: idx
                    .iter()
                    .map(|&p| {
                        let d = f.jacobian(p);
                        Mat::from_fn(k, out, |c, o| d[c * out + o])
                    })
                    .collect(),
                logits: Mat::from_fn(idx.len(), k, |i, c| f.logit(idx[i])[c]),
                labels: idx.iter().map(|&p| f.labels[p]).collect(),
                loss,
            },
            weights: Mat::from_fn(out, inn, |o, j| f.weight[o * inn + j]),
        }
    }
}
