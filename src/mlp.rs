//! A bias-free ReLU multilayer perceptron on ndarray (claims C1, C5, C14).
//!
//! Layer `l` (0-based, `L` layers) maps its input activity `a_l` to the
//! pre-activation `z_l = W_l a_l`; hidden layers apply ReLU,
//! `a_{l+1} = max(z_l, 0)`, and the last pre-activation `z_{L-1}` is the
//! logits. `a_0 = x`. No biases, no normalisation: the network is piecewise
//! linear in each `W_l`, which is what makes the activity-weight duality of
//! C5 exact: replacing `W_l` by `W_l + dW` with `dW a_l = W_l da`
//! ([`crate::awd`]) gives sample p the pre-activation `W_l (a_l + da)` of its
//! partner, so every later activation, the logits and the loss coincide.
//!
//! Parameters are flattened layer after layer, each weight matrix row-major
//! (`W_l[i, j]` at `offset_l + i * in_l + j`).

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use rand_distr::{Distribution, Normal};

use crate::awd::check_finite_view2;
use crate::error::{Error, Result};
use crate::linalg::seeded_rng;
use crate::loss::Loss;

/// A bias-free ReLU MLP.
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp {
    layers: Vec<Array2<f64>>,
}

/// Every intermediate quantity of one forward pass.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// `inputs[l]` = input activity `a_l` of layer `l` (`inputs[0] = x`).
    pub inputs: Vec<Array1<f64>>,
    /// `pre[l]` = pre-activation `z_l = W_l a_l`; `pre[L-1]` are the logits.
    pub pre: Vec<Array1<f64>>,
}

impl Trace {
    /// The logits (last pre-activation); empty for a trace with no layers
    /// (which [`Mlp::forward`] never builds), so loss heads reject it.
    pub fn logits(&self) -> ArrayView1<'_, f64> {
        match self.pre.last() {
            Some(z) => z.view(),
            None => ArrayView1::from(&[]),
        }
    }
}

impl Mlp {
    /// A network from its weight matrices (`W_l` is `out_l x in_l`, with
    /// `in_{l+1} = out_l`); all entries finite, at least one layer, no
    /// empty dimension.
    pub fn new(layers: Vec<Array2<f64>>) -> Result<Self> {
        if layers.is_empty() {
            return Err(Error::empty("MLP", "no layers"));
        }
        for (l, w) in layers.iter().enumerate() {
            if w.nrows() == 0 || w.ncols() == 0 {
                return Err(Error::shape(
                    &format!("W_{l}"),
                    "non-empty dimensions",
                    format!("{} x {}", w.nrows(), w.ncols()),
                ));
            }
            check_finite_view2(w.view(), &format!("W_{l}"))?;
            if l > 0 && w.ncols() != layers[l - 1].nrows() {
                return Err(Error::shape(
                    &format!("W_{l} (columns must equal the rows of W_{})", l - 1),
                    layers[l - 1].nrows(),
                    w.ncols(),
                ));
            }
        }
        Ok(Mlp { layers })
    }

    /// He-initialised network (`W_l` entries `N(0, 2 / in_l)`) with layer
    /// widths `widths = [in, hidden..., out]` (at least two entries, all >= 1).
    pub fn random(widths: &[usize], seed: u64) -> Result<Self> {
        if widths.len() < 2 {
            return Err(Error::param(
                "widths",
                format!("{widths:?}"),
                "need at least an input and an output width",
            ));
        }
        if let Some(w) = widths.iter().position(|&w| w == 0) {
            return Err(Error::param(
                "widths",
                format!("{widths:?}"),
                format!("width {w} is zero"),
            ));
        }
        let mut rng = seeded_rng(seed);
        let layers = widths
            .windows(2)
            .map(|io| {
                let std = (2.0 / io[0] as f64).sqrt();
                let normal = Normal::new(0.0, std)
                    .map_err(|e| Error::param("init std", std, e.to_string()))?;
                Ok(Array2::from_shape_simple_fn((io[1], io[0]), || {
                    normal.sample(&mut rng)
                }))
            })
            .collect::<Result<Vec<_>>>()?;
        Mlp::new(layers)
    }

    /// Number of layers `L`.
    pub fn depth(&self) -> usize {
        self.layers.len()
    }

    /// Widths `[in, out_0, out_1, ..., out_{L-1}]`.
    pub fn widths(&self) -> Vec<usize> {
        let mut w = vec![self.layers[0].ncols()];
        w.extend(self.layers.iter().map(|m| m.nrows()));
        w
    }

    /// Input dimension.
    pub fn input_dim(&self) -> usize {
        self.layers[0].ncols()
    }

    /// Number of logits.
    pub fn output_dim(&self) -> usize {
        self.layers[self.layers.len() - 1].nrows()
    }

    /// All weight matrices.
    pub fn layers(&self) -> &[Array2<f64>] {
        &self.layers
    }

    /// Weight matrix of layer `l`.
    pub fn weights(&self, l: usize) -> Result<ArrayView2<'_, f64>> {
        self.layers
            .get(l)
            .map(|w| w.view())
            .ok_or_else(|| self.bad_layer(l))
    }

    fn bad_layer(&self, l: usize) -> Error {
        Error::param(
            "layer",
            l,
            format!("the network has layers 0..{}", self.layers.len()),
        )
    }

    /// Total number of parameters.
    pub fn num_params(&self) -> usize {
        self.layers.iter().map(|w| w.len()).sum()
    }

    /// Offset of layer `l` in the flattened parameter vector.
    pub fn param_offset(&self, l: usize) -> usize {
        self.layers.iter().take(l).map(|w| w.len()).sum()
    }

    /// Parameters flattened (layer by layer, row-major).
    pub fn params(&self) -> Array1<f64> {
        self.layers.iter().flat_map(|w| w.iter().cloned()).collect()
    }

    /// The same architecture with parameters `theta` (as from [`Mlp::params`]).
    pub fn with_params(&self, theta: ArrayView1<'_, f64>) -> Result<Self> {
        if theta.len() != self.num_params() {
            return Err(Error::shape("parameters", self.num_params(), theta.len()));
        }
        let mut layers = Vec::with_capacity(self.layers.len());
        let mut off = 0;
        for w in &self.layers {
            let n = w.len();
            let m =
                Array2::from_shape_vec(w.dim(), theta.slice(ndarray::s![off..off + n]).to_vec())
                    .map_err(|e| Error::shape("parameters", n, e.to_string()))?;
            layers.push(m);
            off += n;
        }
        Mlp::new(layers)
    }

    /// The network with `W_l` replaced by `W_l + dw`.
    pub fn perturbed(&self, l: usize, dw: ArrayView2<'_, f64>) -> Result<Self> {
        let w = self.weights(l)?;
        if dw.dim() != w.dim() {
            return Err(Error::shape(
                &format!("dW for layer {l}"),
                format!("{} x {}", w.nrows(), w.ncols()),
                format!("{} x {}", dw.nrows(), dw.ncols()),
            ));
        }
        let mut layers = self.layers.clone();
        layers[l] = &w + &dw;
        Mlp::new(layers)
    }

    /// Forward pass of one input.
    pub fn forward(&self, x: ArrayView1<'_, f64>) -> Result<Trace> {
        if x.len() != self.input_dim() {
            return Err(Error::shape("input x", self.input_dim(), x.len()));
        }
        if let Some(i) = x.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite {
                input: "input x".into(),
                location: format!("[{i}]"),
                value: x[i],
            });
        }
        let n = self.layers.len();
        let mut inputs = Vec::with_capacity(n);
        let mut pre = Vec::with_capacity(n);
        let mut a = x.to_owned();
        for (l, w) in self.layers.iter().enumerate() {
            let z = w.dot(&a);
            inputs.push(a);
            a = if l + 1 < n {
                z.mapv(|v| v.max(0.0))
            } else {
                z.clone()
            };
            pre.push(z);
        }
        Ok(Trace { inputs, pre })
    }

    /// Input activities of layer `l` for a batch (`n x in` rows are
    /// samples): the `n x in_l` matrix whose row p is `a_l` of sample p.
    pub fn layer_inputs(&self, xs: ArrayView2<'_, f64>, l: usize) -> Result<Array2<f64>> {
        if l >= self.layers.len() {
            return Err(self.bad_layer(l));
        }
        if xs.ncols() != self.input_dim() {
            return Err(Error::shape(
                "inputs (samples x features)",
                format!("{} columns", self.input_dim()),
                format!("{} columns", xs.ncols()),
            ));
        }
        check_finite_view2(xs, "inputs")?;
        let mut a = xs.to_owned();
        for w in self.layers.iter().take(l) {
            a = a.dot(&w.t()).mapv(|v| v.max(0.0));
        }
        Ok(a)
    }

    /// Rounding scales of the pre-activations `z_m`, `m = l..L`, given the
    /// scale `base` of `z_l`: `base * prod_{k=l+1..=m} |W_k|_F` (ReLU is
    /// 1-Lipschitz, so an error in `z_l` grows at most by these factors).
    /// Errors in `z_m` are judged against these, not against `|z_m|`, which
    /// may be exactly zero behind a dead layer.
    pub fn error_scales(&self, l: usize, base: f64) -> Result<Vec<f64>> {
        if l >= self.layers.len() {
            return Err(self.bad_layer(l));
        }
        let mut s = base;
        let mut out = vec![s];
        for w in self.layers.iter().skip(l + 1) {
            s *= crate::awd::stable_frobenius(w.view());
            out.push(s);
        }
        Ok(out)
    }

    /// Per-sample loss of input `x` with label `y`.
    pub fn loss(&self, loss: Loss, x: ArrayView1<'_, f64>, y: usize) -> Result<f64> {
        let t = self.forward(x)?;
        loss.value(t.logits(), y)
    }
}
