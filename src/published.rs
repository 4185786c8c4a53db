//! The paper's published numbers (Tables 1-3, claim C14) as data:
//! `experiments/published.toml`, embedded and parsed with unknown keys
//! rejected. Nothing in the code restates these numbers; reports that compare
//! measured exponents with the paper read them from here and label them as
//! published.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The file as committed.
pub const PUBLISHED_TOML: &str = include_str!("../experiments/published.toml");

/// A published mean +- standard deviation over seeds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeanStd {
    pub mean: f64,
    pub std: f64,
}

/// One row of Table 1 with Table 3's column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table1Row {
    pub dataset: String,
    pub model: String,
    pub classes: usize,
    pub mse_gamma: MeanStd,
    pub mse_gamma_awd: MeanStd,
    pub ce_gamma: MeanStd,
    pub ce_gamma_awd: MeanStd,
    /// Table 3: MSE exponent with Term II kept.
    pub table3_mse_gamma_term2: f64,
    pub paper_ref: String,
}

/// Top-k per class count (Table 2).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopK {
    pub k3: usize,
    pub k6: usize,
    pub k10: usize,
}

/// One row of Table 2 (training setup).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table2Row {
    pub dataset: String,
    pub model: String,
    pub loss: String,
    pub per_class: usize,
    pub batch: usize,
    pub epochs: usize,
    pub top_k: TopK,
    pub paper_ref: String,
}

/// The published tables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Published {
    pub source: String,
    pub label: String,
    pub table1: Vec<Table1Row>,
    pub table2: Vec<Table2Row>,
}

impl Published {
    /// Parses a published-numbers file.
    pub fn parse(text: &str, source: &str) -> Result<Self> {
        let p: Published = toml::from_str(text).map_err(|e| Error::Io {
            path: source.to_string(),
            message: format!("invalid published-numbers file: {e}"),
        })?;
        if p.label != "published" {
            return Err(Error::param(
                "label",
                &p.label,
                "every value in this file must be labelled \"published\"",
            ));
        }
        Ok(p)
    }

    /// The file compiled into this binary.
    pub fn builtin() -> Result<Self> {
        Self::parse(PUBLISHED_TOML, "experiments/published.toml")
    }

    /// Table 1 (with Table 3's column) as a markdown table, every number
    /// labelled as published.
    pub fn table1_markdown(&self) -> String {
        let f = |m: &MeanStd| format!("{:.2}+-{:.2}", m.mean, m.std);
        let mut s = format!("Published ({}), Tables 1 and 3\n\n", self.source);
        s.push_str("| data | model | K | MSE gamma | MSE gamma_awd | CE gamma | CE gamma_awd | MSE gamma, Term II kept |\n");
        s.push_str("|---|---|---|---|---|---|---|---|\n");
        for r in &self.table1 {
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {:.2} |\n",
                r.dataset,
                r.model,
                r.classes,
                f(&r.mse_gamma),
                f(&r.mse_gamma_awd),
                f(&r.ce_gamma),
                f(&r.ce_gamma_awd),
                r.table3_mse_gamma_term2
            ));
        }
        s
    }
}
