//! The training subset of a run (C14: balanced subsets of the first K = 3, 6,
//! 10 classes): MNIST or CIFAR-10 (training split) from [`crate::data`], the
//! samples with label `< K`, the first `per_class` of each class in file
//! order (the shared files interleave classes, so this is a fixed, balanced
//! subset), optionally standardised per channel with the subset's own mean
//! and standard deviation, `(x - mean_c) / std_c`. The settings are stored in
//! `run.json`, so `analyze` rebuilds exactly the training set. The subset is
//! held as [`TrainData`] (rows of pixels and labels), handed to libtorch as
//! tensors on demand.

use std::path::PathBuf;

use ndarray::Array2;
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use super::{Result, TchContext, TorchError};
use crate::data::{self, CifarSplit};
use crate::spec::Dataset;

/// Training images (flattened rows in [0, 1] or normalised) and labels.
#[derive(Debug, Clone)]
pub struct TrainData {
    /// N x (C * H * W), row-major per image (channel, row, column).
    pub images: Array2<f32>,
    /// Labels in `0..K`.
    pub labels: Vec<u8>,
    /// (C, H, W).
    pub chw: (usize, usize, usize),
    /// A name for reports.
    pub name: String,
}

impl TrainData {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Checks shapes and that labels are below `classes`.
    pub fn validate(&self, classes: usize) -> Result<()> {
        let (c, h, w) = self.chw;
        if self.images.nrows() != self.labels.len() {
            return Err(TorchError::Data {
                input: self.name.clone(),
                reason: format!(
                    "{} images but {} labels",
                    self.images.nrows(),
                    self.labels.len()
                ),
            });
        }
        if self.images.ncols() != c * h * w {
            return Err(TorchError::Data {
                input: self.name.clone(),
                reason: format!(
                    "rows of {} values, expected C*H*W = {}",
                    self.images.ncols(),
                    c * h * w
                ),
            });
        }
        if self.is_empty() {
            return Err(TorchError::Data {
                input: self.name.clone(),
                reason: "no samples".into(),
            });
        }
        if let Some(y) = self.labels.iter().find(|y| **y as usize >= classes) {
            return Err(TorchError::Data {
                input: self.name.clone(),
                reason: format!("label {y} but the model has {classes} classes"),
            });
        }
        if let Some(v) = self.images.iter().find(|v| !v.is_finite()) {
            return Err(TorchError::Data {
                input: self.name.clone(),
                reason: format!("non-finite pixel value {v}"),
            });
        }
        Ok(())
    }

    /// The images as a tensor (N x C*H*W) of `kind`.
    pub fn images_tensor(&self, kind: Kind) -> Result<Tensor> {
        let flat: Vec<f32> = self.images.iter().cloned().collect();
        Tensor::f_from_slice(&flat)
            .and_then(|t| t.f_view([self.len() as i64, self.images.ncols() as i64]))
            .and_then(|t| t.f_to_kind(kind))
            .ctx("images")
    }

    /// The samples `idx` (in that order), under the same name.
    pub fn subset(&self, idx: &[usize]) -> TrainData {
        TrainData {
            images: self.images.select(ndarray::Axis(0), idx),
            labels: idx.iter().map(|i| self.labels[*i]).collect(),
            chw: self.chw,
            name: self.name.clone(),
        }
    }

    /// The labels as an Int64 tensor.
    pub fn labels_tensor(&self) -> Result<Tensor> {
        let l: Vec<i64> = self.labels.iter().map(|y| *y as i64).collect();
        Tensor::f_from_slice(&l).ctx("labels")
    }
}

/// Where the data is and which subset is used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSettings {
    /// Data set.
    pub dataset: Dataset,
    /// Data root (None: `SUPERLINEAR_DATA`).
    pub root: Option<PathBuf>,
    /// Number of classes K (the first K labels).
    pub classes: usize,
    /// Samples per class (0: all of each class; otherwise every class must have that many).
    pub per_class: usize,
    /// Standardise per channel with the subset's statistics.
    pub normalize: bool,
}

impl DataSettings {
    /// MNIST, K = 10, 1000 per class, standardised (what the shared subset holds).
    pub fn mnist(classes: usize, per_class: usize) -> Self {
        DataSettings {
            dataset: Dataset::Mnist,
            root: None,
            classes,
            per_class,
            normalize: true,
        }
    }
}

/// Held-out samples of the first K classes for a test accuracy, standardised
/// with the training subset's statistics: the data set's test split when its
/// files are there (CIFAR-10 `test_batch`, MNIST `t10k-*`; Fashion-MNIST's
/// test files are not read), else the samples
/// of the training file the subset leaves out (`per_class` > 0); None when
/// there are none. The name says which.
pub fn load_heldout(s: &DataSettings) -> Result<Option<TrainData>> {
    let root = data::data_root(s.root.as_deref())?;
    let (full, train) = match s.dataset {
        Dataset::Mnist => (data::load_mnist_test(&root)?, data::load_mnist(&root)?),
        Dataset::FashionMnist => (None, data::load_fashion_mnist(&root)?),
        Dataset::Cifar10 => {
            let test = match data::load_cifar10(&root, CifarSplit::Test) {
                Ok(t) => Some(t),
                Err(crate::data::DataError::Missing { .. }) => None,
                Err(e) => return Err(e.into()),
            };
            (test, data::load_cifar10(&root, CifarSplit::Train)?)
        }
    };
    let train_k = train.first_classes(s.classes)?;
    let subset = if s.per_class > 0 {
        train_k.take_balanced_prefix(s.per_class)?
    } else {
        train_k.clone()
    };
    let (held, what) = match full {
        Some(test) => (test.first_classes(s.classes)?, "test split"),
        None if s.per_class > 0 => (
            train_k.rest_after_balanced_prefix(s.per_class)?,
            "training file beyond the subset",
        ),
        None => return Ok(None),
    };
    if held.is_empty() {
        return Ok(None);
    }
    let held = if s.normalize {
        let (mean, std) = subset.channel_stats();
        held.normalized(&mean, &std)?
    } else {
        held
    };
    Ok(Some(TrainData {
        chw: (held.channels, held.height, held.width),
        name: format!("{} ({what}, {} samples)", held.name, held.len()),
        images: held.images,
        labels: held.labels,
    }))
}

/// Loads the subset described by `s`.
pub fn load_data(s: &DataSettings) -> Result<TrainData> {
    if !(2..=10).contains(&s.classes) {
        return Err(TorchError::setting(
            "classes",
            s.classes,
            "K must be in 2..=10",
        ));
    }
    let root = data::data_root(s.root.as_deref())?;
    let full = match s.dataset {
        Dataset::Mnist => data::load_mnist(&root)?,
        Dataset::FashionMnist => data::load_fashion_mnist(&root)?,
        Dataset::Cifar10 => data::load_cifar10(&root, CifarSplit::Train)?,
    };
    let mut ds = full.first_classes(s.classes)?;
    if s.per_class > 0 {
        ds = ds.take_balanced_prefix(s.per_class)?;
    }
    if s.normalize {
        let (mean, std) = ds.channel_stats();
        ds = ds.normalized(&mean, &std)?;
    }
    let name = format!(
        "{} K={} per-class={}{}",
        ds.name,
        s.classes,
        s.per_class,
        if s.normalize { " standardised" } else { "" }
    );
    Ok(TrainData {
        chw: (ds.channels, ds.height, ds.width),
        images: ds.images,
        labels: ds.labels,
        name,
    })
}
