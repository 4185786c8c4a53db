//! Run configs of the reproduction (C14): one TOML file per Table 2 row
//! family (`experiments/runs/<dataset>-<model>-<loss>.toml`), each with a
//! `[paper]` and a `[reduced]` scale. Parsed strictly (unknown keys are an
//! error naming the file and the key). A setting left out of a scale is taken
//! from Table 2 of `experiments/published.toml` (never restated here); the
//! unknowns of the paper (`[<scale>.unknowns]`: learning rate, CIFAR MLP
//! widths, CNN channels, pool side and hidden width) must be identical in
//! every family file of a scale, which [`ConfigSet::validate`] checks.
//!
//! Resolution of one Table 1 row `(dataset, model, K, loss)` at a scale
//! ([`ConfigSet::resolve`]): per class, batch and epochs from the scale or
//! Table 2; top-k from the scale or Table 2's k for K, capped by the analysed
//! layer's dimension `d = out * in`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ReproduceError;
use crate::loss::Loss;
use crate::published::{Published, Table2Row};
use crate::spec::{Dataset, Model};

/// Scale of a reproduction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum Scale {
    /// The paper's setup as far as it is known (needs the full data sets).
    Paper,
    /// What the 2-core machine and the shared data subsets run.
    Reduced,
}

impl Scale {
    /// Name.
    pub fn name(self) -> &'static str {
        match self {
            Scale::Paper => "paper",
            Scale::Reduced => "reduced",
        }
    }
    /// Parses `paper` or `reduced`.
    pub fn parse(s: &str) -> Result<Scale, ReproduceError> {
        match s {
            "paper" => Ok(Scale::Paper),
            "reduced" => Ok(Scale::Reduced),
            other => Err(ReproduceError::setting(
                "scale",
                other,
                "must be `paper` or `reduced`",
            )),
        }
    }
}

/// The paper's unknowns, chosen; identical across the family files of a scale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unknowns {
    /// SGD learning rate (lost in the extraction).
    pub lr: f64,
    /// Hidden widths of the CIFAR-10 MLP (three hidden layers per the paper).
    pub cifar_mlp_hidden: Vec<usize>,
    /// Output channels of the CNN's 3x3 convolutions.
    pub cnn_channels: Vec<usize>,
    /// Side of the CNN's adaptive average pool (features = last channels * side^2).
    pub cnn_pool_side: usize,
    /// Width of the CNN's hidden fully connected layer.
    pub cnn_hidden: usize,
}

/// Top-k per number of classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopKByClasses {
    /// K = 3.
    pub k3: usize,
    /// K = 6.
    pub k6: usize,
    /// K = 10.
    pub k10: usize,
}

/// One scale of a family file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScaleConfig {
    /// Training samples per class (absent: Table 2).
    pub per_class: Option<usize>,
    /// Mini-batch size B (absent: Table 2).
    pub batch: Option<usize>,
    /// Epochs (absent: Table 2).
    pub epochs: Option<usize>,
    /// Top-k directions of the fit (absent: Table 2), always capped by d.
    pub top_k: Option<TopKByClasses>,
    /// Training samples used by the analysis, class-balanced (0: all).
    pub analyze_samples: usize,
    /// The chosen unknowns.
    pub unknowns: Unknowns,
}

/// One family file: a Table 2 row at two scales.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FamilyConfig {
    /// Data set.
    pub dataset: Dataset,
    /// Model.
    pub model: Model,
    /// Loss.
    pub loss: Loss,
    /// Numbers of classes K of the Table 1 rows of this family.
    pub classes: Vec<usize>,
    /// The paper's setup.
    pub paper: ScaleConfig,
    /// This machine's setup.
    pub reduced: ScaleConfig,
}

impl FamilyConfig {
    /// Parses one family file; `source` names it in errors.
    pub fn parse(text: &str, source: &str) -> Result<Self, ReproduceError> {
        let c: FamilyConfig = toml::from_str(text).map_err(|e| ReproduceError::Config {
            path: source.to_string(),
            reason: e.to_string().trim_end().to_string(),
        })?;
        c.validate(source)?;
        Ok(c)
    }

    /// The settings of `scale`.
    pub fn scale(&self, scale: Scale) -> &ScaleConfig {
        match scale {
            Scale::Paper => &self.paper,
            Scale::Reduced => &self.reduced,
        }
    }

    fn validate(&self, source: &str) -> Result<(), ReproduceError> {
        let bad = |reason: String| ReproduceError::Config {
            path: source.to_string(),
            reason,
        };
        if self.classes.is_empty() {
            return Err(bad("`classes` is empty".into()));
        }
        if let Some(k) = self.classes.iter().find(|k| ![3, 6, 10].contains(*k)) {
            return Err(bad(format!(
                "`classes` holds {k}; Table 1 has K = 3, 6, 10 only"
            )));
        }
        for (name, s) in [("paper", &self.paper), ("reduced", &self.reduced)] {
            for (key, v) in [
                ("per_class", s.per_class),
                ("batch", s.batch),
                ("epochs", s.epochs),
            ] {
                if v == Some(0) {
                    return Err(bad(format!("[{name}] {key} = 0: must be at least 1")));
                }
            }
            let u = &s.unknowns;
            if !(u.lr.is_finite() && u.lr > 0.0) {
                return Err(bad(format!(
                    "[{name}.unknowns] lr = {}: must be positive and finite",
                    u.lr
                )));
            }
            if u.cifar_mlp_hidden.is_empty()
                || u.cnn_channels.is_empty()
                || u.cifar_mlp_hidden.contains(&0)
                || u.cnn_channels.contains(&0)
                || u.cnn_pool_side == 0
                || u.cnn_hidden == 0
            {
                return Err(bad(format!(
                    "[{name}.unknowns]: every width, channel count and the pool side must be positive and the lists non-empty"
                )));
            }
            if let Some(t) = s.top_k {
                if t.k3 == 0 || t.k6 == 0 || t.k10 == 0 {
                    return Err(bad(format!("[{name}] top_k: every k must be at least 1")));
                }
            }
        }
        Ok(())
    }
}

/// A Table 1 row: `(dataset, model, K)` with one loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord, Hash)]
pub struct RowKey {
    /// Data set.
    pub dataset: Dataset,
    /// Model.
    pub model: Model,
    /// Classes K.
    pub classes: usize,
    /// Loss.
    pub loss: Loss,
}

impl RowKey {
    /// `mnist-mlp-k3-ce`: used for directories and `--rows` filters.
    pub fn id(&self) -> String {
        format!(
            "{}-{}-k{}-{}",
            self.dataset.short(),
            self.model.short(),
            self.classes,
            self.loss.short()
        )
    }

    /// `MNIST MLP K=3 CE`: the published names, for reports.
    pub fn label(&self) -> String {
        format!(
            "{} {} K={} {}",
            self.dataset.published_name(),
            self.model.published_name(),
            self.classes,
            self.loss.published_name()
        )
    }

    /// This row's family in Table 2 of `published`.
    pub fn table2<'a>(&self, published: &'a Published) -> Option<&'a Table2Row> {
        published.table2.iter().find(|t| {
            t.dataset == self.dataset.published_name()
                && t.model == self.model.published_name()
                && t.loss == self.loss.published_name()
        })
    }
}

/// Everything one run of a row needs, resolved (stored in every run record;
/// a stored run is reused only when its resolved config equals this).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// The row.
    pub row: RowKey,
    /// Scale.
    pub scale: Scale,
    /// Training samples per class.
    pub per_class: usize,
    /// Mini-batch size B (also B of Eq. 2).
    pub batch: usize,
    /// Epochs.
    pub epochs: usize,
    /// Learning rate.
    pub lr: f64,
    /// MLP hidden widths (MLP rows) or CNN channels (CNN rows).
    pub widths: Vec<usize>,
    /// CNN pool side (0 for MLPs).
    pub cnn_pool_side: usize,
    /// CNN hidden width (0 for MLPs).
    pub cnn_hidden: usize,
    /// Analysed layer's `(out, in)`.
    pub layer_shape: (usize, usize),
    /// Top-k directions of the fit (capped by d).
    pub top_k: usize,
    /// Top-k before the cap.
    pub top_k_requested: usize,
    /// Samples used by the analysis (0: all training samples).
    pub analyze_samples: usize,
    /// Where each value came from (`table2`, `config`, `config (paper: N)`).
    pub sources: Vec<(String, String)>,
}

impl RunConfig {
    /// Dimension of the analysed layer.
    pub fn d(&self) -> usize {
        self.layer_shape.0 * self.layer_shape.1
    }
}

/// The family files of one directory.
#[derive(Debug, Clone)]
pub struct ConfigSet {
    /// Family files with their paths.
    pub families: Vec<(PathBuf, FamilyConfig)>,
}

/// The committed configs' directory, relative to the crate root.
pub const RUNS_DIR: &str = "experiments/runs";

impl ConfigSet {
    /// Reads every `*.toml` in `dir` (sorted by name).
    pub fn load(dir: &Path) -> Result<Self, ReproduceError> {
        let io = |e: std::io::Error| ReproduceError::Io {
            path: dir.display().to_string(),
            message: e.to_string(),
        };
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        let mut families = Vec::new();
        for p in paths {
            let text = std::fs::read_to_string(&p).map_err(|e| ReproduceError::Io {
                path: p.display().to_string(),
                message: e.to_string(),
            })?;
            let c = FamilyConfig::parse(&text, &p.display().to_string())?;
            families.push((p, c));
        }
        let set = ConfigSet { families };
        set.validate()?;
        Ok(set)
    }

    /// From parsed families (tests, library users).
    pub fn from_families(families: Vec<(PathBuf, FamilyConfig)>) -> Result<Self, ReproduceError> {
        let set = ConfigSet { families };
        set.validate()?;
        Ok(set)
    }

    /// No family twice; the unknowns of each scale identical in every file.
    pub fn validate(&self) -> Result<(), ReproduceError> {
        if self.families.is_empty() {
            return Err(ReproduceError::setting(
                "configs",
                "none",
                "no family files (*.toml) found",
            ));
        }
        for (i, (p, f)) in self.families.iter().enumerate() {
            for (q, g) in &self.families[..i] {
                if (f.dataset, f.model, f.loss) == (g.dataset, g.model, g.loss) {
                    return Err(ReproduceError::Config {
                        path: p.display().to_string(),
                        reason: format!("same family as {}", q.display()),
                    });
                }
            }
        }
        let (p0, f0) = &self.families[0];
        for (p, f) in &self.families[1..] {
            for scale in [Scale::Paper, Scale::Reduced] {
                if f.scale(scale).unknowns != f0.scale(scale).unknowns {
                    return Err(ReproduceError::Config {
                        path: p.display().to_string(),
                        reason: format!(
                            "[{}.unknowns] differs from {}: the paper's unknowns must be identical across rows",
                            scale.name(),
                            p0.display()
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// Every row of the set, in Table 1 order (published order of
    /// `(dataset, model, K)`, CE before MSE).
    pub fn rows(&self, published: &Published) -> Vec<RowKey> {
        let mut out = Vec::new();
        for t in &published.table1 {
            for loss in [Loss::CrossEntropy, Loss::SoftmaxMse] {
                for (_, f) in &self.families {
                    if f.dataset.published_name() == t.dataset
                        && f.model.published_name() == t.model
                        && f.loss == loss
                        && f.classes.contains(&t.classes)
                    {
                        out.push(RowKey {
                            dataset: f.dataset,
                            model: f.model,
                            classes: t.classes,
                            loss,
                        });
                    }
                }
            }
        }
        out
    }

    /// Resolves one row at one scale.
    pub fn resolve(
        &self,
        row: &RowKey,
        scale: Scale,
        published: &Published,
    ) -> Result<RunConfig, ReproduceError> {
        let (path, fam) = self
            .families
            .iter()
            .find(|(_, f)| (f.dataset, f.model, f.loss) == (row.dataset, row.model, row.loss))
            .ok_or_else(|| ReproduceError::setting("row", row.id(), "no family file for it"))?;
        let t2: &Table2Row = row.table2(published).ok_or_else(|| {
            ReproduceError::setting("row", row.id(), "no Table 2 row in published.toml")
        })?;
        let s = fam.scale(scale);
        let mut sources = Vec::new();
        let mut pick = |name: &str, v: Option<usize>, table: usize| match v {
            Some(v) => {
                sources.push((name.to_string(), format!("config (Table 2: {table})")));
                v
            }
            None => {
                sources.push((name.to_string(), "table2".to_string()));
                table
            }
        };
        let per_class = pick("per_class", s.per_class, t2.per_class);
        let batch = pick("batch", s.batch, t2.batch);
        let epochs = pick("epochs", s.epochs, t2.epochs);
        let k_of = |t: TopKByClasses| match row.classes {
            3 => Ok(t.k3),
            6 => Ok(t.k6),
            10 => Ok(t.k10),
            k => Err(ReproduceError::setting(
                "classes",
                k,
                "Table 1 has K = 3, 6, 10 only",
            )),
        };
        let table_k = k_of(crate_topk(t2))?;
        let top_k_requested = match s.top_k {
            Some(t) => {
                sources.push(("top_k".into(), format!("config (Table 2: {table_k})")));
                k_of(t)?
            }
            None => {
                sources.push(("top_k".into(), "table2".into()));
                table_k
            }
        };
        let u = &s.unknowns;
        let (widths, pool, hidden, layer_shape) = match row.model {
            Model::Mlp => {
                let widths = match row.dataset {
                    // The paper gives 784-50-50-K for MNIST.
                    Dataset::Mnist | Dataset::FashionMnist => vec![50, 50],
                    Dataset::Cifar10 => u.cifar_mlp_hidden.clone(),
                };
                let n = widths.len();
                let shape = if n >= 2 {
                    (widths[n - 1], widths[n - 2])
                } else {
                    return Err(ReproduceError::Config {
                        path: path.display().to_string(),
                        reason: "the analysed MLP layer lies between the last two hidden layers: need at least 2 hidden layers".into(),
                    });
                };
                (widths, 0, 0, shape)
            }
            Model::Cnn => {
                let last = u.cnn_channels.last().copied().unwrap_or(0);
                let features = last * u.cnn_pool_side * u.cnn_pool_side;
                (
                    u.cnn_channels.clone(),
                    u.cnn_pool_side,
                    u.cnn_hidden,
                    (u.cnn_hidden, features),
                )
            }
        };
        let d = layer_shape.0 * layer_shape.1;
        let available = per_class * row.classes;
        if s.analyze_samples > available {
            return Err(ReproduceError::Config {
                path: path.display().to_string(),
                reason: format!(
                    "analyze_samples = {} is more than the {available} training samples ({per_class} per class x {} classes): give 0 (all) or at most {available}",
                    s.analyze_samples, row.classes
                ),
            });
        }
        Ok(RunConfig {
            row: *row,
            scale,
            per_class,
            batch,
            epochs,
            lr: u.lr,
            widths,
            cnn_pool_side: pool,
            cnn_hidden: hidden,
            layer_shape,
            top_k: top_k_requested.min(d),
            top_k_requested,
            analyze_samples: s.analyze_samples,
            sources,
        })
    }
}

fn crate_topk(t2: &Table2Row) -> TopKByClasses {
    TopKByClasses {
        k3: t2.top_k.k3,
        k6: t2.top_k.k6,
        k10: t2.top_k.k10,
    }
}

/// A `--rows` filter: comma-separated terms, each a `-`-separated list of
/// tokens (`mnist`, `cifar10`, `mlp`, `cnn`, `k3`, `k6`, `k10`, `ce`, `mse`);
/// a row is selected when every token of some term matches it. `all` selects
/// every row.
#[derive(Debug, Clone, PartialEq)]
pub struct RowFilter {
    terms: Vec<Vec<String>>,
}

impl RowFilter {
    /// Parses a filter; unknown tokens are an error.
    pub fn parse(s: &str) -> Result<Self, ReproduceError> {
        let known = [
            "mnist", "cifar10", "mlp", "cnn", "k3", "k6", "k10", "ce", "mse",
        ];
        let mut terms = Vec::new();
        for term in s.split(',') {
            let term = term.trim();
            if term.is_empty() {
                return Err(ReproduceError::setting(
                    "rows",
                    s,
                    "empty term (expected e.g. `mnist-mlp`, `k3-ce`, `all`)",
                ));
            }
            if term == "all" {
                terms.push(Vec::new());
                continue;
            }
            let mut toks = Vec::new();
            for t in term.split('-') {
                let t = t.to_ascii_lowercase();
                if !known.contains(&t.as_str()) {
                    return Err(ReproduceError::setting(
                        "rows",
                        s,
                        format!("unknown token {t:?} (known: all, {})", known.join(", ")),
                    ));
                }
                toks.push(t);
            }
            terms.push(toks);
        }
        Ok(RowFilter { terms })
    }

    /// Every row.
    pub fn all() -> Self {
        RowFilter {
            terms: vec![Vec::new()],
        }
    }

    /// Whether `row` is selected.
    pub fn matches(&self, row: &RowKey) -> bool {
        let tokens = [
            row.dataset.short().to_string(),
            row.model.short().to_string(),
            format!("k{}", row.classes),
            row.loss.short().to_string(),
        ];
        self.terms
            .iter()
            .any(|term| term.iter().all(|t| tokens.contains(t)))
    }
}

/// Which table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TableId {
    /// Table 1: gamma and gamma_awd, CE and MSE.
    One,
    /// Table 3: the MSE exponent with Term II kept.
    Three,
}

impl TableId {
    /// Parses `1` or `3`.
    pub fn parse(s: &str) -> Result<Self, ReproduceError> {
        match s.trim() {
            "1" => Ok(TableId::One),
            "3" => Ok(TableId::Three),
            other => Err(ReproduceError::setting(
                "table",
                other,
                "must be 1 or 3 (Table 2 is the training setup, read from published.toml)",
            )),
        }
    }
    /// Number.
    pub fn number(self) -> u8 {
        match self {
            TableId::One => 1,
            TableId::Three => 3,
        }
    }
}
