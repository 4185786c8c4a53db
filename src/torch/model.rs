//! The paper's networks (C14): bias-free, ReLU, no batch norm, so every
//! network is piecewise linear in each weight matrix and the Kronecker form
//! of [`crate::kron`] is exact for its linear layers.
//!
//! - **MLP** `in - h_1 - ... - h_L - K`: `fc{i}.weight` (h_i x h_{i-1}) for
//!   `i = 1..=L+1`, ReLU after every layer but the last. Defaults: MNIST
//!   784-50-50-K (the paper's), CIFAR-10 3072-50-50-50-K (the paper does not
//!   give h; ours is configurable). Analysed layer by default: the matrix
//!   between the last two hidden layers, `fc{L}.weight` (MNIST: `fc2.weight`,
//!   50 x 50, d = 2500).
//! - **CNN**: `conv{i}.weight` (c_i x c_{i-1} x 3 x 3, stride 1, padding 1,
//!   **no bias**, like every layer here), ReLU, and a 2x2 max-pool (stride 2)
//!   after every conv except the last; then an adaptive average pool to
//!   `pool_side x pool_side`, flattened to `c_last * pool_side^2` features
//!   (128 by default: channels 32, 64, 128 and pool side 1), `fc1.weight`
//!   (hidden x features) + ReLU, `fc2.weight` (K x hidden). The paper's
//!   channel list and hidden width were lost in extraction; defaults:
//!   channels [32, 64, 128], hidden 50. Analysed layer: `fc1.weight`.
//!
//! Initialisation is PyTorch's default for `nn.Linear`/`nn.Conv2d` weights,
//! `U(-1/sqrt(fan_in), 1/sqrt(fan_in))`, drawn after `tch::manual_seed(seed)`.
//! Checkpoints are safetensors files holding exactly these tensor names; a
//! state dict saved from PyTorch with the same names and layout loads too
//! (`safetensors.torch.save_file(model.state_dict(), F)`), and the
//! architecture is read back from the names and shapes.

use std::path::Path;

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use super::{Result, TchContext, TorchError};
use crate::loss::Loss;

/// The architecture, without the number of classes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Arch {
    /// Bias-free ReLU MLP on flattened inputs.
    Mlp {
        /// Input features (C * H * W).
        input: usize,
        /// Hidden widths h_1 ... h_L.
        hidden: Vec<usize>,
    },
    /// Bias-free conv / max-pool stack, adaptive average pool, hidden FC, output.
    Cnn {
        /// Input channels.
        in_channels: usize,
        /// Output channels of the 3x3 convolutions.
        channels: Vec<usize>,
        /// Side of the adaptive average pool's output.
        pool_side: usize,
        /// Width of the hidden fully connected layer.
        hidden: usize,
    },
}

impl Arch {
    /// The paper's MNIST MLP: 784-50-50-K.
    pub fn mnist_mlp() -> Self {
        Arch::Mlp {
            input: 784,
            hidden: vec![50, 50],
        }
    }
    /// Our CIFAR-10 MLP default: 3072-50-50-50-K.
    pub fn cifar_mlp() -> Self {
        Arch::Mlp {
            input: 3072,
            hidden: vec![50, 50, 50],
        }
    }
    /// Our CNN default: channels [32, 64, 128], pool side 1 (128 features), hidden 50.
    pub fn cnn(in_channels: usize) -> Self {
        Arch::Cnn {
            in_channels,
            channels: vec![32, 64, 128],
            pool_side: 1,
            hidden: 50,
        }
    }
}

/// The input width followed by the hidden widths of an MLP (the output width
/// K is not included).
fn mlp_layer_widths(input: usize, hidden: &[usize]) -> impl Iterator<Item = usize> + '_ {
    std::iter::once(input).chain(hidden.iter().copied())
}

/// The largest width, channel count, pool side or number of classes a
/// model may have (2^24; shapes stay far inside i64).
pub const MAX_WIDTH: usize = 1 << 24;

/// Held while a net draws its initial weights from libtorch's global
/// generator ([`Net::new`]).
static INIT_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Architecture plus number of classes: everything needed to build a [`Net`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelSpec {
    /// The architecture.
    pub arch: Arch,
    /// Number of classes K (logits).
    pub classes: usize,
}

impl ModelSpec {
    /// Checks that every width is positive and K >= 2.
    pub fn validate(&self) -> Result<()> {
        if self.classes < 2 {
            return Err(TorchError::setting(
                "classes",
                self.classes,
                "need at least 2",
            ));
        }
        let widths: Vec<usize> = match &self.arch {
            Arch::Mlp { input, hidden } => {
                if hidden.is_empty() {
                    return Err(TorchError::setting(
                        "hidden",
                        "[]",
                        "need at least one hidden layer",
                    ));
                }
                mlp_layer_widths(*input, hidden).collect()
            }
            Arch::Cnn {
                in_channels,
                channels,
                pool_side,
                hidden,
            } => {
                if channels.is_empty() {
                    return Err(TorchError::setting(
                        "channels",
                        "[]",
                        "need at least one conv layer",
                    ));
                }
                [*in_channels, *pool_side, *hidden]
                    .into_iter()
                    .chain(channels.iter().cloned())
                    .collect()
            }
        };
        if let Some(w) = widths.iter().find(|w| **w == 0) {
            return Err(TorchError::setting(
                "width",
                w,
                "every width must be positive",
            ));
        }
        if let Some(w) = widths.iter().find(|w| **w > MAX_WIDTH) {
            return Err(TorchError::setting(
                "width",
                w,
                format!("every width must be at most {MAX_WIDTH}"),
            ));
        }
        Ok(())
    }

    /// Names and shapes of the weights, in forward order.
    pub fn weight_shapes(&self) -> Vec<(String, Vec<i64>)> {
        let k = self.classes as i64;
        match &self.arch {
            Arch::Mlp { input, hidden } => {
                let dims: Vec<i64> = mlp_layer_widths(*input, hidden)
                    .map(|v| v as i64)
                    .chain(std::iter::once(k))
                    .collect();
                (1..dims.len())
                    .map(|i| (format!("fc{i}.weight"), vec![dims[i], dims[i - 1]]))
                    .collect()
            }
            Arch::Cnn {
                in_channels,
                channels,
                pool_side,
                hidden,
            } => {
                let mut out = Vec::new();
                let mut prev = *in_channels as i64;
                for (i, c) in channels.iter().enumerate() {
                    out.push((format!("conv{}.weight", i + 1), vec![*c as i64, prev, 3, 3]));
                    prev = *c as i64;
                }
                let features = prev * (*pool_side as i64).pow(2);
                out.push(("fc1.weight".into(), vec![*hidden as i64, features]));
                out.push(("fc2.weight".into(), vec![k, *hidden as i64]));
                out
            }
        }
    }

    /// The layer the paper analyses: the second-to-last linear layer.
    pub fn default_layer(&self) -> String {
        match &self.arch {
            Arch::Mlp { hidden, .. } => format!("fc{}.weight", hidden.len()),
            Arch::Cnn { .. } => "fc1.weight".into(),
        }
    }

    /// Reads the architecture back from weight names and shapes (a checkpoint
    /// written by [`Net::save`] or by PyTorch with the documented names).
    pub fn infer(named: &[(String, Vec<i64>)], path: &str) -> Result<Self> {
        let bad = |reason: String| TorchError::Checkpoint {
            path: path.to_string(),
            reason,
        };
        let find = |name: &str| {
            named
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, s)| s.clone())
        };
        let mut fcs = Vec::new();
        while let Some(s) = find(&format!("fc{}.weight", fcs.len() + 1)) {
            if s.len() != 2 {
                return Err(bad(format!(
                    "fc{}.weight has shape {s:?}, expected 2 dims",
                    fcs.len() + 1
                )));
            }
            fcs.push(s);
        }
        let mut convs = Vec::new();
        while let Some(s) = find(&format!("conv{}.weight", convs.len() + 1)) {
            if s.len() != 4 || s[2] != 3 || s[3] != 3 {
                return Err(bad(format!(
                    "conv{}.weight has shape {s:?}, expected [out, in, 3, 3]",
                    convs.len() + 1
                )));
            }
            convs.push(s);
        }
        let known: Vec<&str> = named.iter().map(|(n, _)| n.as_str()).collect();
        if fcs.len() + convs.len() != named.len() {
            return Err(bad(format!(
                "unexpected tensors (expected conv1.weight.., fc1.weight.. only, no biases): {known:?}"
            )));
        }
        if fcs.len() < 2 {
            return Err(bad(format!(
                "need fc1.weight and fc2.weight at least, found {known:?}"
            )));
        }
        for w in fcs.windows(2) {
            if w[1][1] != w[0][0] {
                return Err(bad(format!(
                    "linear shapes do not chain: {:?} then {:?}",
                    w[0], w[1]
                )));
            }
        }
        let classes = fcs[fcs.len() - 1][0] as usize;
        let spec = if convs.is_empty() {
            ModelSpec {
                arch: Arch::Mlp {
                    input: fcs[0][1] as usize,
                    hidden: fcs[..fcs.len() - 1].iter().map(|s| s[0] as usize).collect(),
                },
                classes,
            }
        } else {
            if fcs.len() != 2 {
                return Err(bad(format!(
                    "a CNN has exactly fc1 and fc2, found {} linear layers",
                    fcs.len()
                )));
            }
            for w in convs.windows(2) {
                if w[1][1] != w[0][0] {
                    return Err(bad(format!(
                        "conv shapes do not chain: {:?} then {:?}",
                        w[0], w[1]
                    )));
                }
            }
            let last = convs[convs.len() - 1][0];
            let features = fcs[0][1];
            let side = (1..=64).find(|s| last * s * s == features).ok_or_else(|| {
                bad(format!(
                    "fc1 has {features} inputs, not {last} channels times a square pool"
                ))
            })?;
            ModelSpec {
                arch: Arch::Cnn {
                    in_channels: convs[0][1] as usize,
                    channels: convs.iter().map(|s| s[0] as usize).collect(),
                    pool_side: side as usize,
                    hidden: fcs[0][0] as usize,
                },
                classes,
            }
        };
        spec.validate()?;
        Ok(spec)
    }
}

/// A network: its spec and its named weights (leaf tensors with gradients).
#[derive(Debug)]
pub struct Net {
    spec: ModelSpec,
    weights: Vec<(String, Tensor)>,
}

enum Op {
    Conv(usize),
    MaxPool,
    AvgPoolFlatten(i64),
    Linear(usize),
    Relu,
}

impl Net {
    /// Fresh weights `U(-1/sqrt(fan_in), 1/sqrt(fan_in))` in `kind` (Float or
    /// Double), seeded by `tch::manual_seed(seed)`.
    pub fn new(spec: &ModelSpec, seed: u64, kind: Kind) -> Result<Self> {
        Self::new_with_init(spec, seed, kind, crate::spec::Init::FanIn)
    }

    /// Fresh weights `U(-b, b)` with `b = init.bound(fan_in)`
    /// ([`crate::spec::Init`]), in `kind`, seeded by `tch::manual_seed(seed)`.
    pub fn new_with_init(
        spec: &ModelSpec,
        seed: u64,
        kind: Kind,
        init: crate::spec::Init,
    ) -> Result<Self> {
        spec.validate()?;
        // libtorch's generator is global: runs initialised in parallel
        // (`--jobs`) would interleave their draws without this lock.
        let _seeded = INIT_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        tch::manual_seed(seed as i64);
        let mut weights = Vec::new();
        for (name, shape) in spec.weight_shapes() {
            let fan_in: i64 = shape[1..].iter().product();
            let bound = init.bound(fan_in.max(1) as usize);
            let mut w = Tensor::f_empty(&shape, (kind, tch::Device::Cpu)).ctx(&name)?;
            let _ = w.f_uniform_(-bound, bound).ctx(&name)?;
            let w = w.f_set_requires_grad(true).ctx(&name)?;
            weights.push((name, w));
        }
        Ok(Net {
            spec: spec.clone(),
            weights,
        })
    }

    /// The spec.
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// The named weights in forward order.
    pub fn weights(&self) -> &[(String, Tensor)] {
        &self.weights
    }

    /// The weight called `name`.
    pub fn weight(&self, name: &str) -> Result<&Tensor> {
        self.weights
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t)
            .ok_or_else(|| self.unknown_layer(name))
    }

    /// Names of the linear (fully connected) weights.
    pub fn linear_layers(&self) -> Vec<String> {
        self.weights
            .iter()
            .filter(|(n, _)| n.starts_with("fc"))
            .map(|(n, _)| n.clone())
            .collect()
    }

    fn unknown_layer(&self, name: &str) -> TorchError {
        TorchError::UnknownLayer {
            name: name.to_string(),
            known: self.linear_layers().join(", "),
        }
    }

    /// A copy with every weight converted to `kind` (e.g. Double for exact checks).
    pub fn to_kind(&self, kind: Kind) -> Result<Net> {
        self.map_weights(|w| w.f_to_kind(kind))
    }

    /// A copy with `f` applied to every (detached) weight, each result a
    /// fresh leaf with gradients.
    fn map_weights(
        &self,
        f: impl Fn(&Tensor) -> std::result::Result<Tensor, tch::TchError>,
    ) -> Result<Net> {
        let weights = self
            .weights
            .iter()
            .map(|(n, w)| {
                let t = w.f_detach().and_then(|t| f(&t)).ctx(n)?;
                Ok((n.clone(), t.f_set_requires_grad(true).ctx(n)?))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Net {
            spec: self.spec.clone(),
            weights,
        })
    }

    /// The device of the weights (all on one: [`Net::new`] and [`Net::load`]
    /// build on the CPU, [`Net::to_device`] moves every weight).
    pub fn device(&self) -> tch::Device {
        self.weights
            .first()
            .map(|(_, w)| w.device())
            .unwrap_or(tch::Device::Cpu)
    }

    /// A copy with every weight on `device`: the same values and kind, each
    /// a fresh leaf with gradients.
    pub fn to_device(&self, device: tch::Device) -> Result<Net> {
        self.map_weights(|w| w.f_to_device(device))
    }

    /// The element kind of the weights.
    pub fn kind(&self) -> Kind {
        self.weights
            .first()
            .map(|(_, w)| w.kind())
            .unwrap_or(Kind::Float)
    }

    fn ops(&self) -> Vec<Op> {
        let mut ops = Vec::new();
        match &self.spec.arch {
            Arch::Mlp { hidden, .. } => {
                for i in 0..=hidden.len() {
                    ops.push(Op::Linear(i));
                    if i < hidden.len() {
                        ops.push(Op::Relu);
                    }
                }
            }
            Arch::Cnn {
                channels,
                pool_side,
                ..
            } => {
                for i in 0..channels.len() {
                    ops.push(Op::Conv(i));
                    ops.push(Op::Relu);
                    if i + 1 < channels.len() {
                        ops.push(Op::MaxPool);
                    }
                }
                ops.push(Op::AvgPoolFlatten(*pool_side as i64));
                let nc = channels.len();
                ops.push(Op::Linear(nc));
                ops.push(Op::Relu);
                ops.push(Op::Linear(nc + 1));
            }
        }
        ops
    }

    fn apply(&self, op: &Op, x: &Tensor) -> Result<Tensor> {
        match op {
            Op::Conv(i) => {
                let (n, w) = &self.weights[*i];
                x.f_conv2d::<&Tensor>(w, None, [1, 1], [1, 1], [1, 1], 1)
                    .ctx(n)
            }
            Op::MaxPool => x
                .f_max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false)
                .ctx("max-pool"),
            Op::AvgPoolFlatten(side) => x
                .f_adaptive_avg_pool2d([*side, *side])
                .and_then(|t| t.f_flatten(1, -1))
                .ctx("adaptive average pool"),
            Op::Linear(i) => {
                let (n, w) = &self.weights[*i];
                x.f_linear::<&Tensor>(w, None).ctx(n)
            }
            Op::Relu => x.f_relu().ctx("relu"),
        }
    }

    /// Shapes the rows of a flattened image batch (N x C*H*W) for this net:
    /// unchanged for an MLP, N x C x H x W for a CNN.
    pub fn input_view(&self, x: &Tensor, chw: (usize, usize, usize)) -> Result<Tensor> {
        let (c, h, w) = chw;
        let feats = x.size().get(1).cloned().unwrap_or(0);
        if feats != (c * h * w) as i64 {
            return Err(TorchError::Data {
                input: "images".into(),
                reason: format!("rows have {feats} values, expected C*H*W = {}", c * h * w),
            });
        }
        match &self.spec.arch {
            Arch::Mlp { input, .. } => {
                if *input != c * h * w {
                    return Err(TorchError::Data {
                        input: "images".into(),
                        reason: format!(
                            "the MLP takes {input} features, the data has {}",
                            c * h * w
                        ),
                    });
                }
                Ok(x.shallow_clone())
            }
            Arch::Cnn { in_channels, .. } => {
                if *in_channels != c {
                    return Err(TorchError::Data {
                        input: "images".into(),
                        reason: format!("the CNN takes {in_channels} channels, the data has {c}"),
                    });
                }
                x.f_view([-1, c as i64, h as i64, w as i64])
                    .ctx("input view")
            }
        }
    }

    /// Logits for an input batch already shaped by [`Net::input_view`].
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut t = x.shallow_clone();
        for op in self.ops() {
            t = self.apply(&op, &t)?;
        }
        Ok(t)
    }

    fn linear_index(&self, layer: &str) -> Result<usize> {
        let idx = self
            .weights
            .iter()
            .position(|(n, _)| n == layer && n.starts_with("fc"))
            .ok_or_else(|| self.unknown_layer(layer))?;
        Ok(idx)
    }

    /// The input activity `a` of linear layer `layer` (N x in).
    pub fn layer_input(&self, x: &Tensor, layer: &str) -> Result<Tensor> {
        let idx = self.linear_index(layer)?;
        let mut t = x.shallow_clone();
        for op in self.ops() {
            if matches!(op, Op::Linear(i) if i == idx) {
                return Ok(t);
            }
            t = self.apply(&op, &t)?;
        }
        Err(self.unknown_layer(layer))
    }

    /// The logits from the pre-activation `z` of linear layer `layer`.
    pub fn forward_after(&self, z: &Tensor, layer: &str) -> Result<Tensor> {
        let idx = self.linear_index(layer)?;
        let ops = self.ops();
        let start = ops
            .iter()
            .position(|op| matches!(op, Op::Linear(i) if *i == idx))
            .ok_or_else(|| self.unknown_layer(layer))?;
        let mut t = z.shallow_clone();
        for op in &ops[start + 1..] {
            t = self.apply(op, &t)?;
        }
        Ok(t)
    }

    /// Writes the weights as a safetensors file with the documented names,
    /// crash-safely (a temporary file renamed over `path`). Weights on a GPU
    /// are copied to the CPU first: the file is the same on every device.
    pub fn save(&self, path: &Path) -> Result<()> {
        let named: Vec<(String, Tensor)> = self
            .weights
            .iter()
            .map(|(n, w)| {
                let t = w
                    .f_detach()
                    .and_then(|t| t.f_to_device(tch::Device::Cpu))
                    .and_then(|t| t.f_contiguous())
                    .ctx(n)?;
                Ok((n.clone(), t))
            })
            .collect::<Result<_>>()?;
        let io = |e: &dyn std::fmt::Display| TorchError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        let tmp = crate::data::atomic::temp_path(path).map_err(|e| io(&e))?;
        if let Err(e) = Tensor::write_safetensors(&named, &tmp) {
            let _ = std::fs::remove_file(&tmp);
            return Err(io(&e));
        }
        crate::data::atomic::commit(&tmp, path).map_err(|e| io(&e))
    }

    /// Loads a safetensors checkpoint, reading the architecture from its
    /// names and shapes; weights are converted to `kind`.
    pub fn load(path: &Path, kind: Kind) -> Result<Net> {
        let p = path.display().to_string();
        let tensors = Tensor::read_safetensors(path).map_err(|e| TorchError::Checkpoint {
            path: p.clone(),
            reason: e.to_string(),
        })?;
        let shapes: Vec<(String, Vec<i64>)> =
            tensors.iter().map(|(n, t)| (n.clone(), t.size())).collect();
        let spec = ModelSpec::infer(&shapes, &p)?;
        let mut weights = Vec::new();
        for (name, _) in spec.weight_shapes() {
            let t = tensors
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, t)| t)
                .ok_or_else(|| TorchError::Checkpoint {
                    path: p.clone(),
                    reason: format!("missing {name}"),
                })?;
            if !t.is_floating_point() {
                return Err(TorchError::Checkpoint {
                    path: p.clone(),
                    reason: format!("{name} is not a floating-point tensor ({:?})", t.kind()),
                });
            }
            let w = t
                .f_to_kind(kind)
                .ctx(&name)?
                .f_set_requires_grad(true)
                .ctx(&name)?;
            weights.push((name, w));
        }
        Ok(Net { spec, weights })
    }
}

/// Mean loss over the batch: cross-entropy on the logits, or MSE between
/// `softmax(logits)` (or the logits) and the one-hot target averaged over the
/// N x K entries (PyTorch's `MSELoss()`), so the per-sample loss is that of
/// [`crate::loss::Loss`].
pub fn batch_loss(logits: &Tensor, targets: &Tensor, loss: Loss) -> Result<Tensor> {
    per_sample_loss(logits, targets, loss)?
        .f_mean(logits.kind())
        .ctx("mean loss")
}

/// The per-sample losses `l_p` (N).
pub fn per_sample_loss(logits: &Tensor, targets: &Tensor, loss: Loss) -> Result<Tensor> {
    let kind = logits.kind();
    let k = logits.size().get(1).cloned().unwrap_or(0);
    match loss {
        Loss::CrossEntropy => {
            let logp = logits.f_log_softmax(-1, kind).ctx("log-softmax")?;
            logp.f_gather(1, &targets.f_unsqueeze(1).ctx("targets")?, false)
                .and_then(|t| t.f_squeeze_dim(1))
                .and_then(|t| t.f_neg())
                .ctx("cross-entropy")
        }
        Loss::SoftmaxMse | Loss::LogitMse => {
            let s = if loss == Loss::SoftmaxMse {
                logits.f_softmax(-1, kind).ctx("softmax")?
            } else {
                logits.shallow_clone()
            };
            let y = targets
                .f_one_hot(k)
                .and_then(|t| t.f_to_kind(kind))
                .ctx("one-hot targets")?;
            (s - y)
                .f_square()
                .and_then(|t| t.f_mean_dim(Some([1i64].as_slice()), false, kind))
                .ctx("MSE")
        }
    }
}
