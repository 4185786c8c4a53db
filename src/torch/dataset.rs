//! The training subset of a run (C14: balanced subsets of the first K = 3, 6,
//! 10 classes): MNIST or CIFAR-10 (training split) from [`crate::data`], the
//! samples with label `< K`, the first `per_class` of each class in file
//! order (the shared files interleave classes, so this is a fixed, balanced
//! subset), optionally standardised per channel with the subset's own mean
//! and standard deviation, `(x - mean_c) / std_c`. The settings are stored in
//! `run.json`, so `analyze` rebuilds exactly the training set.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::train::TrainData;
use super::{Result, TorchError};
use crate::data::{self, CifarSplit};

/// Which data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetName {
    /// MNIST (1 x 28 x 28).
    Mnist,
    /// CIFAR-10 training batches (3 x 32 x 32).
    Cifar10,
}

/// Where the data is and which subset is used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSettings {
    /// Data set.
    pub dataset: DatasetName,
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
            dataset: DatasetName::Mnist,
            root: None,
            classes,
            per_class,
            normalize: true,
        }
    }
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
        DatasetName::Mnist => data::load_mnist(&root)?,
        DatasetName::Cifar10 => data::load_cifar10(&root, CifarSplit::Train)?,
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
