//! The grid's settings: `experiments/netgrid.toml` (and
//! `experiments/table1-v2.toml`) parsed strictly (unknown keys rejected) and
//! validated, with errors naming the key. Pure Rust: the architecture is held
//! as numbers (MLP input `c*h*w` and hidden widths; CNN input channels,
//! channels, pool side and hidden width); the torch tier builds its `Arch`
//! from them.
//!
//! A grid is families x classes K x seeds. `classes` is one K (the
//! net-claims grid: a row is a family, named by the family id) or a list
//! (Table 1's K = 3, 6, 10: a row is a family at one K, named
//! `<family>-k<K>`). The pilot of a family runs at the largest K listed and
//! its choice (rate, width, initialisation) serves every K of the family.
//! Per family, `per_class`, `epochs` and `checkpoint_every` override the
//! global values and `data_dir` names a folder under the data root.
//!
//! The analysis of a row uses `N = min(analyze_samples, K * per_class)`
//! class-balanced samples, and its top-k is either `top_k` (one column) or,
//! with `top_k_paper = true`, two columns from Table 2
//! (`experiments/published.toml`): the paper's ratio applied to the row's
//! N, `k = round(k_paper * N / N_paper)` with `N_paper = K * per_class_paper`
//! (primary), and the paper's absolute `k_paper` (second).
//!
//! The pilot-repetition rules (`widen_max`, `he_init_chance_margin`) are
//! decided by `crate::claims::premise::repeat_pilot`; widening doubles the
//! widths before the analysed layer ([`Family::arch_widened`]).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::claims::premise::Premise;
use crate::loss::Loss;
use crate::published::Published;
use crate::reproduce::ReproduceError;
use crate::spec::{Dataset, Model};

/// The committed grid config.
pub const NETGRID_TOML: &str = "experiments/netgrid.toml";

/// Where the records go when neither `--out` nor the config's `out` says.
pub const DEFAULT_OUT: &str = "experiments/results/net";

/// The committed config of Table 1 at the paper's premise.
pub const TABLE1_V2_TOML: &str = "experiments/table1-v2.toml";

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
    /// Training images per class (overrides the global value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_class: Option<usize>,
    /// Epochs (overrides the global value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epochs: Option<usize>,
    /// A checkpoint every this many epochs (overrides the global value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_every: Option<usize>,
    /// A folder under the data root holding this family's data (e.g.
    /// `cifar10-full` for 5000 CIFAR-10 images per class).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<String>,
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
        self.arch_widened(0)
    }

    /// The architecture with the widths before the analysed layer doubled
    /// `widen` times: MLP every hidden layer but the last (the analysed
    /// layer, the second-to-last linear one, maps the last hidden but one to
    /// the last); CNN every channel count. The analysed layer keeps its
    /// output width (MLP last hidden, CNN `cnn_hidden`); its input width is
    /// the widened layer's.
    pub fn arch_widened(&self, widen: u32) -> ArchNumbers {
        let (c, h, w) = self.dataset.chw();
        let factor = 1usize << widen.min(16);
        let n = self.widths.len();
        match self.model {
            Model::Mlp => ArchNumbers {
                model: Model::Mlp,
                input: c * h * w,
                widths: self
                    .widths
                    .iter()
                    .enumerate()
                    .map(|(i, &x)| if i + 1 < n { x * factor } else { x })
                    .collect(),
                pool_side: None,
                hidden: None,
            },
            Model::Cnn => ArchNumbers {
                model: Model::Cnn,
                input: c,
                widths: self.widths.iter().map(|&x| x * factor).collect(),
                pool_side: self.cnn_pool_side,
                hidden: self.cnn_hidden,
            },
        }
    }
}

/// One K or a list of them (module doc).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Classes {
    /// One K: a row per family, named by the family id.
    One(usize),
    /// Several: a row per family and K, named `<family>-k<K>`.
    List(Vec<usize>),
}

/// One row of the grid: a family at one K.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    /// Family index.
    pub family: usize,
    /// Classes K.
    pub classes: usize,
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
    /// Classes K: one, or a list (module doc).
    pub classes: Classes,
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
    /// Top-k eigen-directions of H in the analysis (absent: `top_k_paper`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<usize>,
    /// Two top-k columns from Table 2 (module doc) instead of `top_k`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub top_k_paper: bool,
    /// Most widenings of a family whose pilot meets no premise (0: none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub widen_max: u32,
    /// When set, a softmax-MSE CNN family whose every pilot rate ends within
    /// this of chance is piloted again with He-uniform initialisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub he_init_chance_margin: Option<f64>,
    /// Records and `RESULTS.md` when `--out` is not given (absent:
    /// [`DEFAULT_OUT`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out: Option<std::path::PathBuf>,
    /// The net-claims claims analysed per run (absent: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<Vec<String>>,
    /// The premise thresholds.
    pub premise: Premise,
    /// The CPU budget the report measures the records against (absent:
    /// none stated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<Budget>,
    /// The families, in plan order.
    pub family: Vec<Family>,
}

/// `[budget]`: the grid's CPU budget and the CPU time spent on it that no
/// record holds (work lost with its machine and run again). When the
/// records' hours plus `unrecorded_cpu_hours` reach `cpu_hours`, the report
/// says the budget is spent and gives every row not analysed that reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// CPU-hours allowed.
    pub cpu_hours: f64,
    /// CPU-hours spent outside the records.
    #[serde(default)]
    pub unrecorded_cpu_hours: f64,
    /// What the unrecorded hours were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unrecorded_why: Option<String>,
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
        let ks = self.class_list();
        if ks.is_empty() {
            return bad("classes", "give at least one K".into());
        }
        for &k in &ks {
            if !(2..=10).contains(&k) {
                return bad("classes", format!("{k} is not in 2..=10"));
            }
        }
        let mut sorted = ks.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != ks.len() {
            return bad("classes", "repeated K".into());
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
        if let Some(b) = &self.budget {
            if !(b.cpu_hours.is_finite() && b.cpu_hours > 0.0) {
                return bad(
                    "budget.cpu_hours",
                    format!("{} must be positive and finite", b.cpu_hours),
                );
            }
            if !(b.unrecorded_cpu_hours.is_finite() && b.unrecorded_cpu_hours >= 0.0) {
                return bad(
                    "budget.unrecorded_cpu_hours",
                    format!("{} must be finite and not negative", b.unrecorded_cpu_hours),
                );
            }
        }
        if self.analyze_samples < 4 {
            return bad(
                "analyze_samples",
                format!("{} is below 4", self.analyze_samples),
            );
        }
        match (self.top_k, self.top_k_paper) {
            (Some(k), false) if k != 0 && k < 3 => {
                return bad(
                    "top_k",
                    format!("{k}: a fit needs at least 3 directions (0: all)"),
                );
            }
            (Some(_), true) => {
                return bad("top_k", "give top_k or top_k_paper = true, not both".into());
            }
            (None, false) => {
                return bad("top_k", "give top_k or top_k_paper = true".into());
            }
            _ => {}
        }
        if let Some(m) = self.he_init_chance_margin {
            if !(m.is_finite() && (0.0..1.0).contains(&m)) {
                return bad("he_init_chance_margin", format!("{m} is not in [0, 1)"));
            }
        }
        if self.widen_max > 4 {
            return bad("widen_max", format!("{} is above 4", self.widen_max));
        }
        if let Some(cl) = &self.claims {
            if cl.is_empty() {
                return bad("claims", "give at least one claim (absent: all)".into());
            }
            for c in cl {
                if !crate::claims::netgrid::NET_GRID_CLAIMS.contains(&c.as_str()) {
                    return bad(
                        "claims",
                        format!(
                            "{c} is not one of {}",
                            crate::claims::netgrid::NET_GRID_CLAIMS.join(", ")
                        ),
                    );
                }
            }
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
        for (i, f) in self.family.iter().enumerate() {
            let k = |name: &str| format!("family[{i}].{name}");
            let (pc, ep, ce) = (self.per_class(f), self.epochs(f), self.checkpoint_every(f));
            if pc == 0 {
                return bad(&k("per_class"), "must be at least 1".into());
            }
            if ep == 0 {
                return bad(&k("epochs"), "must be at least 1".into());
            }
            if ce == 0 || ce > ep {
                return bad(
                    &k("checkpoint_every"),
                    format!("{ce} is not in 1..=epochs ({ep})"),
                );
            }
            if p.mse_plateau_epochs > ep {
                return bad(
                    &k("epochs"),
                    format!(
                        "{ep} is shorter than premise.mse_plateau_epochs ({})",
                        p.mse_plateau_epochs
                    ),
                );
            }
            if let Some(d) = &f.data_dir {
                let path = Path::new(d);
                if d.is_empty()
                    || path.is_absolute()
                    || path
                        .components()
                        .any(|c| !matches!(c, std::path::Component::Normal(_)))
                {
                    return bad(
                        &k("data_dir"),
                        format!("{d:?} must be a relative folder name under the data root"),
                    );
                }
            }
            if self.top_k_paper {
                for &kk in &ks {
                    if let Err(why) = self.top_ks(f, kk) {
                        return bad("top_k_paper", why);
                    }
                }
            }
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

    /// Where the records go without `--out`.
    pub fn default_out(&self) -> std::path::PathBuf {
        self.out
            .clone()
            .unwrap_or_else(|| std::path::PathBuf::from(DEFAULT_OUT))
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

    /// The K of the grid, in the config's order.
    pub fn class_list(&self) -> Vec<usize> {
        match &self.classes {
            Classes::One(k) => vec![*k],
            Classes::List(v) => v.clone(),
        }
    }

    /// The K of the pilot: the largest listed.
    pub fn pilot_classes(&self) -> usize {
        self.class_list().into_iter().max().unwrap_or(2)
    }

    /// Every row, family by family, K in the config's order.
    pub fn rows(&self) -> Vec<Row> {
        let ks = self.class_list();
        (0..self.family.len())
            .flat_map(|family| ks.iter().map(move |&classes| Row { family, classes }))
            .collect()
    }

    /// The row's name: the family id for one K, else `<family>-k<K>`.
    pub fn row_id(&self, family: usize, classes: usize) -> String {
        let id = self.family[family].id();
        match self.classes {
            Classes::One(_) => id,
            Classes::List(_) => format!("{id}-k{classes}"),
        }
    }

    /// Training images per class of family `f`.
    pub fn per_class(&self, f: &Family) -> usize {
        f.per_class.unwrap_or(self.per_class)
    }

    /// Epochs of family `f`.
    pub fn epochs(&self, f: &Family) -> usize {
        f.epochs.unwrap_or(self.epochs)
    }

    /// Checkpoint interval of family `f`.
    pub fn checkpoint_every(&self, f: &Family) -> usize {
        f.checkpoint_every.unwrap_or(self.checkpoint_every)
    }

    /// The checkpoint epochs of family `f` (as [`Self::checkpoint_epochs`]).
    pub fn checkpoint_epochs_of(&self, f: &Family) -> Vec<usize> {
        let (epochs, every) = (self.epochs(f), self.checkpoint_every(f));
        let mut e: Vec<usize> = (1..=epochs).filter(|e| e % every == 0).collect();
        if e.last() != Some(&epochs) {
            e.push(epochs);
        }
        e
    }

    /// Analysed samples N of family `f` at K: `min(analyze_samples, K * per_class)`.
    pub fn samples(&self, f: &Family, classes: usize) -> usize {
        self.analyze_samples.min(classes * self.per_class(f))
    }

    /// The top-k of family `f` at K: the primary one and, with
    /// `top_k_paper`, the second column (module doc). `Err` names what
    /// Table 2 lacks.
    pub fn top_ks(&self, f: &Family, classes: usize) -> Result<(usize, Option<usize>), String> {
        if !self.top_k_paper {
            return Ok((self.top_k.unwrap_or(0), None));
        }
        let published = Published::builtin().map_err(|e| e.to_string())?;
        let (k_paper, n_paper) = paper_top_k(&published, f, classes)?;
        let n = self.samples(f, classes);
        let ratio = ((k_paper as f64) * (n as f64) / (n_paper as f64)).round() as usize;
        Ok((ratio.max(3), Some(k_paper)))
    }
}

/// Table 2's top-k of family `f` at K and its `N_paper = K * per_class`.
pub fn paper_top_k(
    published: &Published,
    f: &Family,
    classes: usize,
) -> Result<(usize, usize), String> {
    let loss = match f.loss {
        Loss::CrossEntropy => "CE",
        Loss::SoftmaxMse => "MSE",
        Loss::LogitMse => return Err(format!("{}: Table 2 has no logit-MSE row", f.id())),
    };
    let row = published
        .table2
        .iter()
        .find(|r| {
            r.dataset == f.dataset.published_name()
                && r.model == f.model.published_name()
                && r.loss == loss
        })
        .ok_or_else(|| format!("{}: no Table 2 row", f.id()))?;
    let k = match classes {
        3 => row.top_k.k3,
        6 => row.top_k.k6,
        10 => row.top_k.k10,
        other => {
            return Err(format!(
                "{}: Table 2 gives top-k for K = 3, 6, 10, not {other}",
                f.id()
            ))
        }
    };
    Ok((k, classes * row.per_class))
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

/// A learning rate as the directory names write it (Rust `{}` of f64).
pub fn lr_text(lr: f64) -> String {
    format!("{lr}")
}

/// The run directory `<work>/<family>/lr-<lr>/seed-<s>` (`family`: the
/// row's name with its pilot variant's suffix).
pub fn run_dir(work: &Path, family: &str, lr: f64, seed: u64) -> std::path::PathBuf {
    work.join(family)
        .join(format!("lr-{}", lr_text(lr)))
        .join(format!("seed-{seed}"))
}
