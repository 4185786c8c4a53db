//! The names of what a run trains: the data set and the model family, one
//! type each for the command line, the training code, the reproduction grid
//! and the reports. Serialized in kebab case (`"mnist"`, `"cifar10"`,
//! `"fashion-mnist"`, `"mlp"`, `"cnn"`), the spelling of the committed configs and records.
//! The loss is [`crate::loss::Loss`].

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// A data set of image classification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum Dataset {
    /// MNIST, 1 x 28 x 28.
    Mnist,
    /// CIFAR-10, 3 x 32 x 32.
    Cifar10,
    /// Fashion-MNIST, 1 x 28 x 28 (MNIST's IDX format and sizes).
    FashionMnist,
}

impl Dataset {
    /// Every data set, in order.
    pub const ALL: [Dataset; 3] = [Dataset::Mnist, Dataset::Cifar10, Dataset::FashionMnist];

    /// The name used in `published.toml` and the results tables.
    pub fn published_name(self) -> &'static str {
        match self {
            Dataset::Mnist => "MNIST",
            Dataset::Cifar10 => "CIFAR-10",
            Dataset::FashionMnist => "Fashion-MNIST",
        }
    }
    /// Short name: row keys, file names, row filters, the command line.
    pub fn short(self) -> &'static str {
        match self {
            Dataset::Mnist => "mnist",
            Dataset::Cifar10 => "cifar10",
            Dataset::FashionMnist => "fashion-mnist",
        }
    }
    /// (C, H, W).
    pub fn chw(self) -> (usize, usize, usize) {
        match self {
            Dataset::Mnist | Dataset::FashionMnist => (1, 28, 28),
            Dataset::Cifar10 => (3, 32, 32),
        }
    }
}

/// A model family (its widths: `crate::torch::model::Arch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum Model {
    /// Bias-free ReLU MLP.
    Mlp,
    /// Bias-free CNN.
    Cnn,
}

impl Model {
    /// Every model family, in order.
    pub const ALL: [Model; 2] = [Model::Mlp, Model::Cnn];

    /// The name used in `published.toml` and the results tables.
    pub fn published_name(self) -> &'static str {
        match self {
            Model::Mlp => "MLP",
            Model::Cnn => "CNN",
        }
    }
    /// Short name: row keys, file names, row filters, the command line.
    pub fn short(self) -> &'static str {
        match self {
            Model::Mlp => "mlp",
            Model::Cnn => "cnn",
        }
    }
}

/// How a network's weights are drawn before training (the torch tier
/// applies it; which one a run uses is decided by its caller).
///
/// - `FanIn` (the default): `U(-1/sqrt(fan_in), 1/sqrt(fan_in))`;
/// - `HeUniform`: `U(-sqrt(6/fan_in), sqrt(6/fan_in))`, the ReLU gain, so
///   that a deep bias-free ReLU network's output is not vanishingly small at
///   initialisation (the rule of `theory/table1-v2-preregistration.md` for
///   softmax-MSE CNNs stuck at chance).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, PartialOrd, Ord, Hash,
)]
#[serde(rename_all = "kebab-case")]
pub enum Init {
    /// `U(-1/sqrt(fan_in), 1/sqrt(fan_in))`.
    #[default]
    FanIn,
    /// `U(-sqrt(6/fan_in), sqrt(6/fan_in))`.
    HeUniform,
}

impl Init {
    /// Whether this is the default draw (records omit the field then).
    pub fn is_default(&self) -> bool {
        *self == Init::FanIn
    }

    /// The bound `b` of `U(-b, b)` for a weight with `fan_in` inputs.
    pub fn bound(self, fan_in: usize) -> f64 {
        let f = fan_in.max(1) as f64;
        match self {
            Init::FanIn => 1.0 / f.sqrt(),
            Init::HeUniform => (6.0 / f).sqrt(),
        }
    }

    /// Short name (`fan-in`, `he-uniform`).
    pub fn short(self) -> &'static str {
        match self {
            Init::FanIn => "fan-in",
            Init::HeUniform => "he-uniform",
        }
    }
}

/// `FromStr` and `Display` by the short names.
macro_rules! short_names {
    ($t:ty, $what:literal) => {
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.short())
            }
        }

        impl std::str::FromStr for $t {
            type Err = Error;
            fn from_str(s: &str) -> Result<$t, Error> {
                <$t>::ALL
                    .into_iter()
                    .find(|v| v.short() == s)
                    .ok_or_else(|| {
                        let names: Vec<&str> = <$t>::ALL.iter().map(|v| v.short()).collect();
                        Error::param($what, s, format!("must be one of {}", names.join(", ")))
                    })
            }
        }
    };
}

short_names!(Dataset, "dataset");
short_names!(Model, "model");
