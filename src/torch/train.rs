//! Vanilla SGD on the paper's networks (C14): `w <- w - lr * grad L_B(w)`
//! with `L_B` the mean loss of a mini-batch of B samples drawn without
//! replacement (a fresh seeded permutation per epoch; a last short batch is
//! kept), no momentum, no weight decay, no learning-rate schedule. Loss:
//! cross-entropy or softmax-then-MSE ([`crate::loss::Loss`]). After every
//! epoch the training loss and accuracy are measured on the whole training
//! set with the epoch's final weights. Checkpoints: `epoch-NNNN.safetensors`
//! every `checkpoint_every` epochs and `final.safetensors`, plus `run.json`
//! (model spec, settings, per-epoch statistics) in the output directory.
//!
//! Device ([`TrainDevice`]): the CPU by default; on CUDA the weights, the
//! training set and the mini-batches live on the GPU, the initial weights
//! and the batch order are drawn as on the CPU, checkpoints are written from
//! a CPU copy (the same file format), and [`train`] hands the network back on
//! the CPU, where the analysis runs in f64. CUDA runs are not bitwise
//! reproducible (kernel choice and atomic adds; [`super::device`]).
//!
//! Learning rate: the paper's value was lost in extraction; default 0.1.

use std::path::{Path, PathBuf};
use std::time::Instant;

use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use super::dataset::{load_data, load_heldout, DataSettings, TrainData};
use super::device::TrainDevice;
use super::model::{batch_loss, Arch, ModelSpec, Net};
use super::{Result, TchContext, TorchError};
use crate::linalg::seeded_stream;
use crate::loss::Loss;
use crate::memory::MemoryBudget;
use crate::progress::{Progress, StageGuard};
use crate::spec::Model;

/// Settings of one SGD run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "StoredTrainSettings")]
pub struct TrainSettings {
    /// Loss function.
    pub loss: Loss,
    /// Learning rate (default 0.1).
    pub lr: f64,
    /// Mini-batch size B (default 50, Table 2's MNIST MLP).
    pub batch_size: usize,
    /// Number of epochs (default 100).
    pub epochs: usize,
    /// Seed of the initialisation (`tch::manual_seed`) and of the shuffling.
    pub seed: u64,
    /// Save `epoch-NNNN.safetensors` every this many epochs (0: only the final one).
    pub checkpoint_every: usize,
    /// Where SGD runs (a record without the field was trained on the CPU).
    #[serde(default)]
    pub device: TrainDevice,
    /// Output directory for checkpoints and `run.json` (None: no files).
    pub out_dir: Option<PathBuf>,
    /// The initial draw of the weights (omitted from `run.json` when it is
    /// the default).
    #[serde(default, skip_serializing_if = "crate::spec::Init::is_default")]
    pub init: crate::spec::Init,
}

/// [`TrainSettings`] as stored in a `run.json`: also the `progress` switch
/// that earlier versions wrote there (progress is no longer a setting of the
/// run but a [`Progress`] receiver of the call), read and ignored so that
/// their runs stay readable and reusable.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredTrainSettings {
    loss: Loss,
    lr: f64,
    batch_size: usize,
    epochs: usize,
    seed: u64,
    checkpoint_every: usize,
    #[serde(default)]
    device: TrainDevice,
    out_dir: Option<PathBuf>,
    #[serde(default)]
    init: crate::spec::Init,
    #[serde(default, rename = "progress")]
    _progress: Option<bool>,
}

impl From<StoredTrainSettings> for TrainSettings {
    fn from(s: StoredTrainSettings) -> Self {
        TrainSettings {
            loss: s.loss,
            lr: s.lr,
            batch_size: s.batch_size,
            epochs: s.epochs,
            seed: s.seed,
            checkpoint_every: s.checkpoint_every,
            device: s.device,
            out_dir: s.out_dir,
            init: s.init,
        }
    }
}

impl Default for TrainSettings {
    fn default() -> Self {
        TrainSettings {
            loss: Loss::CrossEntropy,
            lr: 0.1,
            batch_size: 50,
            epochs: 100,
            seed: 0,
            checkpoint_every: 0,
            device: TrainDevice::Cpu,
            out_dir: None,
            init: crate::spec::Init::FanIn,
        }
    }
}

impl TrainSettings {
    /// Checks the ranges, and that libtorch can use the device.
    pub fn validate(&self) -> Result<()> {
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(TorchError::setting(
                "lr",
                self.lr,
                "must be positive and finite",
            ));
        }
        if self.batch_size == 0 {
            return Err(TorchError::setting("batch size", 0, "must be at least 1"));
        }
        if self.epochs == 0 {
            return Err(TorchError::setting("epochs", 0, "must be at least 1"));
        }
        self.device.resolve()?;
        Ok(())
    }
}

/// Statistics of one epoch (on the whole training set, end-of-epoch weights).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss (non-finite where training diverged, stored as
    /// `null`).
    #[serde(with = "crate::error::nan_null")]
    pub loss: f64,
    /// Training accuracy in [0, 1].
    #[serde(with = "crate::error::nan_null")]
    pub accuracy: f64,
    /// Wall-clock seconds of the epoch (SGD steps and evaluation).
    pub seconds: f64,
}

/// What a training run produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainReport {
    /// The model trained.
    pub spec: ModelSpec,
    /// The settings used.
    pub settings: TrainSettings,
    /// Data name and size.
    pub data: String,
    /// Number of training samples.
    pub samples: usize,
    /// Statistics at initialisation (epoch 0) and after every epoch.
    pub epochs: Vec<EpochStats>,
    /// Checkpoint files written, in order (the last is `final.safetensors`).
    pub checkpoints: Vec<PathBuf>,
    /// Total wall-clock seconds.
    pub seconds: f64,
    /// The data subset, when the run loaded it itself ([`run_train`]).
    #[serde(default)]
    pub data_settings: Option<DataSettings>,
    /// The final network on held-out samples ([`load_heldout`]), when the
    /// data has any.
    #[serde(default)]
    pub heldout: Option<HeldOutStats>,
    /// The epoch after which the training loss was not finite, where
    /// training stopped (its statistics are the last of `epochs`; the
    /// checkpoints hold the diverged weights). A grid records such a run as
    /// an outcome; [`TrainReport::divergence`] turns it into an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diverged: Option<usize>,
}

impl TrainReport {
    /// `Err` naming the learning rate when the run diverged.
    pub fn divergence(&self) -> Result<()> {
        match self.diverged {
            None => Ok(()),
            Some(epoch) => {
                let loss = self.epochs.last().map_or(f64::NAN, |e| e.loss);
                Err(TorchError::setting(
                    "lr",
                    self.settings.lr,
                    format!("training diverged: loss {loss} after epoch {epoch}"),
                ))
            }
        }
    }
}

/// Loss and accuracy of the final network on held-out samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeldOutStats {
    /// Which samples: the data set's test split or the rest of its training file.
    pub data: String,
    /// Number of samples.
    pub samples: usize,
    /// Mean loss (non-finite after a diverged run, stored as `null`).
    #[serde(with = "crate::error::nan_null")]
    pub loss: f64,
    /// Accuracy in [0, 1].
    #[serde(with = "crate::error::nan_null")]
    pub accuracy: f64,
}

/// Everything `superlinear train` needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunTrainSettings {
    /// The data subset.
    pub data: DataSettings,
    /// Model family (used when `arch` is None).
    pub model: Model,
    /// Explicit architecture (None: the documented default for the data set).
    pub arch: Option<Arch>,
    /// SGD settings.
    pub train: TrainSettings,
}

/// The default architecture of a model family on a data set of `chw` images.
pub fn default_arch(model: Model, chw: (usize, usize, usize)) -> Arch {
    let (c, h, w) = chw;
    match model {
        Model::Mlp if c * h * w == 784 => Arch::mnist_mlp(),
        Model::Mlp if c * h * w == 3072 => Arch::cifar_mlp(),
        Model::Mlp => Arch::Mlp {
            input: c * h * w,
            hidden: vec![50, 50],
        },
        Model::Cnn => Arch::cnn(c),
    }
}

/// Loads the data, builds the model (seeded), trains it and writes the
/// checkpoints and `run.json` (with the data settings, for `analyze`);
/// progress as in [`train`].
pub fn run_train(s: &RunTrainSettings, progress: &dyn Progress) -> Result<TrainReport> {
    let data = load_data(&s.data)?;
    let arch = s
        .arch
        .clone()
        .unwrap_or_else(|| default_arch(s.model, data.chw));
    let spec = ModelSpec {
        arch,
        classes: s.data.classes,
    };
    spec.validate()?;
    check_train_memory(&spec, data.len(), data.chw, s.train.batch_size)?;
    // Loaded before training, so that a broken test file stops the run
    // before it spends time.
    let heldout = load_heldout(&s.data)?;
    let mut net = Net::new_with_init(&spec, s.train.seed, Kind::Float, s.train.init)?;
    let mut report = train(&mut net, &data, &s.train, progress)?;
    report.data_settings = Some(s.data.clone());
    if let Some(h) = heldout {
        let x = net.input_view(&h.images_tensor(net.kind())?, h.chw)?;
        let (loss, accuracy) = evaluate(&net, &x, &h.labels_tensor()?, s.train.loss)?;
        report.heldout = Some(HeldOutStats {
            data: h.name.clone(),
            samples: h.len(),
            loss,
            accuracy,
        });
    }
    if let Some(dir) = &s.train.out_dir {
        write_json(&dir.join("run.json"), &report)?;
    }
    Ok(report)
}

/// Mean loss and accuracy of `net` on all of `x` (shaped) with targets `y`.
pub fn evaluate(net: &Net, x: &Tensor, y: &Tensor, loss: Loss) -> Result<(f64, f64)> {
    tch::no_grad(|| {
        let logits = net.forward(x)?;
        let l = batch_loss(&logits, y, loss)?
            .f_double_value(&[])
            .ctx("loss value")?;
        let correct = logits
            .f_argmax(-1, false)
            .and_then(|p| p.f_eq_tensor(y))
            .and_then(|e| e.f_to_kind(Kind::Double))
            .and_then(|e| e.f_mean(Kind::Double))
            .and_then(|m| m.f_double_value(&[]))
            .ctx("accuracy")?;
        Ok((l, correct))
    })
}

/// Floats per sample of every intermediate tensor of one forward pass of
/// `spec` on `chw` images (convolution and ReLU outputs, pools, the linear
/// layers): an upper bound on what the whole-set evaluation holds at once,
/// and what autograd keeps per sample of a mini-batch.
pub fn activation_floats(spec: &ModelSpec, chw: (usize, usize, usize)) -> u64 {
    let k = spec.classes as u64;
    match &spec.arch {
        Arch::Mlp { hidden, .. } => 2 * hidden.iter().map(|h| *h as u64).sum::<u64>() + k,
        Arch::Cnn {
            channels,
            pool_side,
            hidden,
            ..
        } => {
            let (mut h, mut w) = (chw.1 as u64, chw.2 as u64);
            let mut total = 0u64;
            for (i, c) in channels.iter().enumerate() {
                let c = *c as u64;
                total = total.saturating_add(2 * c * h * w);
                if i + 1 < channels.len() {
                    (h, w) = (h / 2, w / 2);
                    total = total.saturating_add(c * h * w);
                }
            }
            let last = channels.last().copied().unwrap_or(0) as u64;
            total.saturating_add(last * (*pool_side as u64).pow(2) + 2 * *hidden as u64 + k)
        }
    }
}

/// Bytes [`train`] holds at its peak on `n` samples of `chw` images with
/// mini-batches of `batch` (f32): the images as loaded, their copy and
/// tensor, the labels and the shuffled order, the whole-set evaluation's
/// activations, a mini-batch's forward and backward (three times its
/// activations) and the weights with their gradients and update.
pub fn train_bytes(spec: &ModelSpec, n: usize, chw: (usize, usize, usize), batch: usize) -> u64 {
    let (n, b) = (n as u64, batch.min(n.max(1)) as u64);
    let pixels = (chw.0 * chw.1 * chw.2) as u64;
    let act = activation_floats(spec, chw);
    let weights: u64 = spec
        .weight_shapes()
        .iter()
        .map(|(_, s)| s.iter().map(|x| *x as u64).product::<u64>())
        .sum();
    let floats = (3 * n)
        .saturating_mul(pixels)
        .saturating_add(n.saturating_mul(act))
        .saturating_add((3 * b).saturating_mul(act + pixels))
        .saturating_add(3 * weights);
    floats
        .saturating_mul(4)
        .saturating_add(n.saturating_mul(16))
}

/// Refuses ([`crate::Error::MemoryLimit`]) a training run whose
/// [`train_bytes`] exceed [`MemoryBudget::from_system`], naming the sizes and
/// the largest number of samples per class that would fit.
pub fn check_train_memory(
    spec: &ModelSpec,
    n: usize,
    chw: (usize, usize, usize),
    batch: usize,
) -> Result<()> {
    let budget = MemoryBudget::from_system()?;
    let need = train_bytes(spec, n, chw, batch);
    if need <= budget.limit_bytes {
        return Ok(());
    }
    let (mut lo, mut hi) = (0usize, n);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if train_bytes(spec, mid, chw, batch) <= budget.limit_bytes {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let per_class = lo / spec.classes.max(1);
    let sizes = format!(
        "N = {n} samples of {}x{}x{} on {} weights",
        chw.0,
        chw.1,
        chw.2,
        spec.weight_shapes()
            .iter()
            .map(|(_, s)| s.iter().product::<i64>())
            .sum::<i64>()
    );
    let hint = if per_class >= 1 {
        format!("{sizes}: at most {per_class} samples per class fit (--per-class {per_class}; per_class in a run config)")
    } else {
        format!("{sizes}: not one sample per class fits; use a smaller model or more memory")
    };
    Ok(budget.check("training", need, &hint)?)
}

/// Trains `net` in place on `data` on `settings.device`, returning
/// per-epoch statistics; the trained `net` is on the CPU afterwards (also
/// when training fails), whatever device it trained on. Progress: one stage
/// `train` of `epochs x batches` steps, a step per SGD step, its message the
/// last finished epoch's loss and accuracy.
pub fn train(
    net: &mut Net,
    data: &TrainData,
    settings: &TrainSettings,
    progress: &dyn Progress,
) -> Result<TrainReport> {
    settings.validate()?;
    data.validate(net.spec().classes)?;
    check_train_memory(net.spec(), data.len(), data.chw, settings.batch_size)?;
    let device = settings.device.resolve()?;
    if net.device() != device {
        *net = net.to_device(device)?;
    }
    let report = sgd(net, data, settings, device, progress);
    if net.device() != tch::Device::Cpu {
        *net = net.to_device(tch::Device::Cpu)?;
    }
    report
}

/// The SGD loop of [`train`] with `net` already on `device`.
fn sgd(
    net: &mut Net,
    data: &TrainData,
    settings: &TrainSettings,
    device: tch::Device,
    progress: &dyn Progress,
) -> Result<TrainReport> {
    let start = Instant::now();
    let kind = net.kind();
    let images = data
        .images_tensor(kind)?
        .f_to_device(device)
        .ctx("images to the training device")?;
    let x = net.input_view(&images, data.chw)?;
    let y = data
        .labels_tensor()?
        .f_to_device(device)
        .ctx("labels to the training device")?;
    let n = data.len();
    if let Some(dir) = &settings.out_dir {
        std::fs::create_dir_all(dir).map_err(|e| TorchError::Io {
            path: dir.display().to_string(),
            message: e.to_string(),
        })?;
    }
    let (l0, a0) = evaluate(net, &x, &y, settings.loss)?;
    let mut epochs = vec![EpochStats {
        epoch: 0,
        loss: l0,
        accuracy: a0,
        seconds: 0.0,
    }];
    let mut checkpoints = Vec::new();
    let batches = n.div_ceil(settings.batch_size);
    let mut diverged = None;
    let stage = StageGuard::begin(progress, "train", (settings.epochs * batches) as u64);
    // The last finished epoch's figures, shown beside the running one.
    let mut last = format!("initial loss {l0:.4}, acc {a0:.4}");
    let mut order: Vec<i64> = (0..n as i64).collect();
    for epoch in 1..=settings.epochs {
        let t0 = Instant::now();
        let mut rng = seeded_stream(settings.seed, epoch as u64);
        order.shuffle(&mut rng);
        let status = format!("epoch {epoch}/{}, {last}", settings.epochs);
        for b in 0..batches {
            let lo = b * settings.batch_size;
            let hi = (lo + settings.batch_size).min(n);
            let idx = Tensor::f_from_slice(&order[lo..hi])
                .and_then(|t| t.f_to_device(device))
                .ctx("batch index")?;
            let xb = x.f_index_select(0, &idx).ctx("batch inputs")?;
            let yb = y.f_index_select(0, &idx).ctx("batch labels")?;
            let logits = net.forward(&xb)?;
            let l = batch_loss(&logits, &yb, settings.loss)?;
            sgd_step(net, &l, settings.lr)?;
            stage.step(&status);
        }
        let (loss, accuracy) = evaluate(net, &x, &y, settings.loss)?;
        last = format!("epoch {epoch}: loss {loss:.4}, acc {accuracy:.4}");
        epochs.push(EpochStats {
            epoch,
            loss,
            accuracy,
            seconds: t0.elapsed().as_secs_f64(),
        });
        if !loss.is_finite() {
            // Nothing after a non-finite loss is training: stop, and keep
            // the epoch in the report ([`TrainReport::diverged`]).
            diverged = Some(epoch);
            break;
        }
        if let Some(dir) = &settings.out_dir {
            if settings.checkpoint_every > 0 && epoch % settings.checkpoint_every == 0 {
                let p = dir.join(format!("epoch-{epoch:04}.safetensors"));
                net.save(&p)?;
                checkpoints.push(p);
            }
        }
    }
    drop(stage);
    if let Some(dir) = &settings.out_dir {
        let p = dir.join("final.safetensors");
        net.save(&p)?;
        checkpoints.push(p);
    }
    let report = TrainReport {
        spec: net.spec().clone(),
        settings: settings.clone(),
        data: data.name.clone(),
        samples: n,
        epochs,
        checkpoints,
        seconds: start.elapsed().as_secs_f64(),
        data_settings: None,
        heldout: None,
        diverged,
    };
    if let Some(dir) = &settings.out_dir {
        write_json(&dir.join("run.json"), &report)?;
    }
    Ok(report)
}

/// One vanilla SGD step on every weight: `w <- w - lr * dL/dw`.
fn sgd_step(net: &mut Net, loss: &Tensor, lr: f64) -> Result<()> {
    let ws: Vec<&Tensor> = net.weights().iter().map(|(_, w)| w).collect();
    let grads = Tensor::f_run_backward(&[loss], &ws, false, false).ctx("backward")?;
    tch::no_grad(|| {
        for ((name, w), g) in net.weights().iter().zip(grads.iter()) {
            let mut w = w.shallow_clone();
            let step = g.f_mul_scalar(lr).ctx(name)?;
            let _ = w.f_sub_(&step).ctx(name)?;
        }
        Ok(())
    })
}

/// Writes `value` as pretty JSON, crash-safely ([`crate::data::atomic`]).
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| TorchError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    crate::data::atomic::write(path, text).map_err(|e| TorchError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}
