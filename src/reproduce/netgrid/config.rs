//! The grid's settings: `experiments/netgrid.toml` parsed strictly (unknown
//! keys rejected) and validated, with errors naming the key. Pure Rust: the
//! architecture is held as numbers (MLP input `c*h*w` and hidden widths;
//! CNN input channels, channels, pool side and hidden width); the torch
//! tier builds its `Arch` from them.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::claims::premise::Premise;
use crate::loss::Loss;
use crate::reproduce::ReproduceError;
use crate::spec::{Dataset, Model};

/// The committed grid config.
pub const NETGRID_TOML: &str = "experiments/netgrid.toml";

/// One network family: data set, model, loss, batch size, architecture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Family {
    /// Data set.
    pub dataset: Dataset,
    /// Model.
    pub model: Model,
    /// Loss.
    pub loss: Loss,
    /// Mini-batch size (Table 2's).
    pub batch: usize,
    /// MLP hidden widths, or CNN channels.
    pub widths: Vec<usize>,
    /// CNN: side of the adaptive average pool's output.
    #[serde(default)]
    pub cnn_pool_side: Option<usize>,
    /// CNN: width of the hidden fully connected layer.
    #[serde(default)]
    pub cnn_hidden: Option<usize>,
}

impl Family {
    /// `<dataset>-<model>-<loss>`, e.g. `cifar10-cnn-ce`.
    pub fn id(&self) -> String {
        format!(
            "{}-{}-{}",
            self.dataset.short(),
            self.model.short(),
            self.loss.short()
        )
    }

    /// The architecture numbers.
    pub fn arch(&self) -> ArchNumbers {
        let (c, h, w) = self.dataset.chw();
        match self.model {
            Model::Mlp => ArchNumbers {
                model: Model::Mlp,
                input: c * h * w,
                widths: self.widths.clone(),
                pool_side: None,
                hidden: None,
            },
            Model::Cnn => ArchNumbers {
                model: Model::Cnn,
                input: c,
                widths: self.widths.clone(),
                pool_side: self.cnn_pool_side,
                hidden: self.cnn_hidden,
            },
        }
    }
}

/// A family's architecture as numbers (what `crate::torch::model::Arch`
/// is built from).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchNumbers {
    /// MLP or CNN.
    pub model: Model,
    /// MLP: input features `c*h*w`; CNN: input channels.
    pub input: usize,
    /// MLP hidden widths or CNN channels.
    pub widths: Vec<usize>,
    /// CNN pool side.
    pub pool_side: Option<usize>,
    /// CNN hidden width.
    pub hidden: Option<usize>,
}

/// `experiments/netgrid.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetGridConfig {
    /// Classes K.
    pub classes: usize,
    /// Seeds (the first is the pilot seed).
    pub seeds: Vec<u64>,
    /// Training images per class.
    pub per_class: usize,
    /// Epochs.
    pub epochs: usize,
    /// A checkpoint every this many epochs.
    pub checkpoint_every: usize,
    /// Learning-rate candidates of the pilot.
    pub lr_candidates: Vec<f64>,
    /// Class-balanced samples of the analysis.
    pub analyze_samples: usize,
    /// Top-k eigen-directions of H in the analysis.
    pub top_k: usize,
    /// The premise thresholds.
    pub premise: Premise,
    /// The families, in plan order.
    pub family: Vec<Family>,
}

impl NetGridConfig {
    /// Parses and validates a config text; `path` names it in errors.
    pub fn parse(text: &str, path: &str) -> Result<Self, ReproduceError> {
        let c: NetGridConfig = toml::from_str(text).map_err(|e| ReproduceError::Config {
            path: path.to_string(),
            reason: e
                .to_string()
                .lines()
                .filter(|l| !l.trim().is_empty())
                .collect::<Vec<_>>()
                .join(" "),
        })?;
        c.validate()
            .map_err(|(key, reason)| ReproduceError::Config {
                path: path.to_string(),
                reason: format!("{key}: {reason}"),
            })?;
        Ok(c)
    }

    /// Reads and parses a config file.
    pub fn load(path: &Path) -> Result<Self, ReproduceError> {
        let text = std::fs::read_to_string(path).map_err(|e| ReproduceError::io(path, e))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Checks every value; the error names the key.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let bad = |k: &str, r: String| Err((k.to_string(), r));
        if !(2..=10).contains(&self.classes) {
            return bad("classes", format!("{} is not in 2..=10", self.classes));
        }
        if self.seeds.is_empty() {
            return bad("seeds", "give at least one seed".into());
        }
        let mut s = self.seeds.clone();
        s.sort_unstable();
        s.dedup();
        if s.len() != self.seeds.len() {
            return bad("seeds", "repeated seed".into());
        }
        if self.per_class == 0 {
            return bad("per_class", "must be at least 1".into());
        }
        if self.epochs == 0 {
            return bad("epochs", "must be at least 1".into());
        }
        if self.checkpoint_every == 0 || self.checkpoint_every > self.epochs {
            return bad(
                "checkpoint_every",
                format!("{} is not in 1..=epochs", self.checkpoint_every),
            );
        }
        if self.lr_candidates.is_empty() {
            return bad("lr_candidates", "give at least one rate".into());
        }
        for (i, &lr) in self.lr_candidates.iter().enumerate() {
            if !(lr.is_finite() && lr > 0.0) {
                return bad(
                    "lr_candidates",
                    format!("entry {i} ({lr}) must be positive and finite"),
                );
            }
            if self.lr_candidates[..i].contains(&lr) {
                return bad("lr_candidates", format!("{lr} repeated"));
            }
        }
        if self.analyze_samples < 4 || self.analyze_samples > self.classes * self.per_class {
            return bad(
                "analyze_samples",
                format!(
                    "{} is not in 4..=classes*per_class ({})",
                    self.analyze_samples,
                    self.classes * self.per_class
                ),
            );
        }
        if self.top_k != 0 && self.top_k < 3 {
            return bad(
                "top_k",
                format!("{}: a fit needs at least 3 directions (0: all)", self.top_k),
            );
        }
        let p = &self.premise;
        for (k, v) in [
            ("premise.ce_min_accuracy", p.ce_min_accuracy),
            ("premise.mse_min_accuracy", p.mse_min_accuracy),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return bad(k, format!("{v} is not in [0, 1]"));
            }
        }
        if p.mse_plateau_epochs == 0 || p.mse_plateau_epochs > self.epochs {
            return bad(
                "premise.mse_plateau_epochs",
                format!("{} is not in 1..=epochs", p.mse_plateau_epochs),
            );
        }
        if !(p.mse_plateau_max_accuracy_change.is_finite()
            && (0.0..=1.0).contains(&p.mse_plateau_max_accuracy_change))
        {
            return bad(
                "premise.mse_plateau_max_accuracy_change",
                format!("{} must be in [0, 1]", p.mse_plateau_max_accuracy_change),
            );
        }
        if self.family.is_empty() {
            return bad("family", "give at least one [[family]]".into());
        }
        let mut ids = Vec::new();
        for (i, f) in self.family.iter().enumerate() {
            let k = |name: &str| format!("family[{i}].{name}");
            if f.loss == Loss::LogitMse {
                return bad(&k("loss"), "the grid uses ce or mse".into());
            }
            if f.batch == 0 {
                return bad(&k("batch"), "must be at least 1".into());
            }
            if f.widths.is_empty() || f.widths.contains(&0) {
                return bad(&k("widths"), "give non-zero widths".into());
            }
            match f.model {
                Model::Cnn => {
                    for (name, v) in [
                        ("cnn_pool_side", f.cnn_pool_side),
                        ("cnn_hidden", f.cnn_hidden),
                    ] {
                        if v.is_none_or(|v| v == 0) {
                            return bad(&k(name), "a CNN family needs a value >= 1".into());
                        }
                    }
                }
                Model::Mlp => {
                    if f.cnn_pool_side.is_some() || f.cnn_hidden.is_some() {
                        return bad(
                            &k("cnn_pool_side"),
                            "an MLP family takes no CNN settings".into(),
                        );
                    }
                }
            }
            let id = f.id();
            if ids.contains(&id) {
                return bad(&k("dataset"), format!("family {id} repeated"));
            }
            ids.push(id);
        }
        Ok(())
    }

    /// The family ids in order.
    pub fn family_ids(&self) -> Vec<String> {
        self.family.iter().map(Family::id).collect()
    }

    /// The epochs at which a run's checkpoints are saved: every
    /// `checkpoint_every`-th, and the last.
    pub fn checkpoint_epochs(&self) -> Vec<usize> {
        let mut e: Vec<usize> = (1..=self.epochs)
            .filter(|e| e % self.checkpoint_every == 0)
            .collect();
        if e.last() != Some(&self.epochs) {
            e.push(self.epochs);
        }
        e
    }

    /// The pilot seed (the first of `seeds`).
    pub fn pilot_seed(&self) -> u64 {
        self.seeds[0]
    }
}

/// A learning rate as the directory names write it (Rust `{}` of f64).
pub fn lr_text(lr: f64) -> String {
    format!("{lr}")
}

/// The run directory `<work>/<family>/lr-<lr>/seed-<s>`.
pub fn run_dir(work: &Path, family: &str, lr: f64, seed: u64) -> std::path::PathBuf {
    work.join(family)
        .join(format!("lr-{}", lr_text(lr)))
        .join(format!("seed-{seed}"))
}
