//! `superlinear report`: the appendix as one self-contained HTML page with
//! its figures, built only from committed records (no training, no torch):
//!
//! - the claims table, both verdict lines of every claim exactly as
//!   `superlinear claims` computes them ([`super::evidence::claims_evidence`];
//!   nothing is judged here);
//! - each claim's figures ([`crate::plot`]) and key numbers (the lines'
//!   summaries and details);
//! - Tables 1 and 3 at the paper's premise (grid v2), published beside
//!   measured, with the rows and figures of its `RESULTS.md`
//!   ([`super::netgrid::table1`]): Table 1 in the primary top-k column, the
//!   rows not scored listed with the reason, Table 3 with both readings of
//!   Eq. 58;
//! - provenance: the build that rendered the page, the git commits recorded
//!   in the records drawn from, the seeds and the settings.
//!
//! Sources: Table 1 at the premise (`records/table1-v2` under the config
//! `experiments/table1-v2.toml`, C14, C9), the
//! net-claims grid (`records/net`, C15 over training, C6), the coupling-null
//! grid (`theory/coupling-null.json`, C3, C4) and the figure records
//! (`records/figures/*.json`, [`crate::plot::record`]: the central figure,
//! gamma(k) and the coupling heatmap, which need per-direction numbers no
//! other record holds). A source that is missing is named on the page, its
//! figures left out.
//!
//! The page holds no timestamp: the same records and build give the same
//! bytes ([`write`] writes `index.html` and `figures/*.svg`).

pub mod html;
pub mod sources;

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::evidence::{claims_evidence, EvidenceReport, EvidenceSettings, TABLE1_DIR};
use super::netgrid::config::NetGridConfig;
use super::netgrid::record::{load_all, NetRunRecord};
use super::netgrid::table1::{table1_rows, table3_rows, Table1Row};
use super::ReproduceError;
use crate::plot::record::FigureRecord;

/// The default directory of the committed figure records (under the records).
pub const FIGURES_SUBDIR: &str = "figures";

/// The default coupling-null grid record.
pub const COUPLING_NULL_JSON: &str = "theory/coupling-null.json";

/// Everything one `report` call needs.
#[derive(Debug, Clone, Serialize)]
pub struct ReportSettings {
    /// The claims' settings and the records (as `claims`).
    pub evidence: EvidenceSettings,
    /// The coupling-null grid record.
    pub coupling_null: PathBuf,
}

impl Default for ReportSettings {
    fn default() -> Self {
        ReportSettings {
            evidence: EvidenceSettings::default(),
            coupling_null: PathBuf::from(COUPLING_NULL_JSON),
        }
    }
}

/// One figure of the page.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// File name under `figures/`.
    pub file: String,
    /// The claims it belongs to.
    pub claims: Vec<String>,
    /// Caption.
    pub caption: String,
    /// The SVG document.
    pub svg: String,
}

/// A committed record drawn from, with the commit it records.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RecordSource {
    /// Which records (e.g. `Table 1 grid`).
    pub what: String,
    /// The recorded git commit (`-dirty` when the tree had changes).
    pub commit: String,
    /// How many records carry it.
    pub count: usize,
}

/// Everything on the page.
#[derive(Debug, Clone)]
pub struct Report {
    /// Both verdict lines of every claim.
    pub evidence: EvidenceReport,
    /// Table 1 at the premise, published beside measured (grid v2's rows).
    pub table1: Vec<Table1Row>,
    /// Table 3 on grid v2's MSE rows, both readings of Eq. 58
    /// ([`crate::reproduce::netgrid::table1::TABLE3_HEADER`]).
    pub table3: Vec<Vec<String>>,
    /// Grid v2's rows not scored, with the reason, and its unreadable records.
    pub not_scored: Vec<String>,
    /// The figures, in page order.
    pub figures: Vec<Figure>,
    /// The records drawn from and their commits.
    pub sources: Vec<RecordSource>,
    /// Seeds of Table 1 at the premise and of the net-claims grid.
    pub seeds: (Vec<u64>, Vec<u64>),
    /// Sources that were missing or figures that could not be drawn.
    pub missing: Vec<String>,
}

/// Builds the report from the records of `s`.
pub fn build(s: &ReportSettings) -> Result<Report, ReproduceError> {
    let evidence = claims_evidence(&s.evidence)?;
    let records = &s.evidence.records;
    let mut missing = Vec::new();
    let mut figures = Vec::new();
    let mut sources = Vec::new();

    // Figure records.
    let dir = records.join(FIGURES_SUBDIR);
    let mut recs: Vec<(String, FigureRecord)> = Vec::new();
    match std::fs::read_dir(&dir) {
        Ok(entries) => {
            let mut paths: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect();
            paths.sort();
            for p in paths {
                let text = std::fs::read_to_string(&p).map_err(|e| ReproduceError::io(&p, e))?;
                let rec: FigureRecord = serde_json::from_str(&text)
                    .map_err(|e| ReproduceError::io(&p, format!("not a figure record: {e}")))?;
                let stem = p
                    .file_stem()
                    .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
                recs.push((stem, rec));
            }
        }
        Err(_) => missing.push(format!(
            "no figure records under {} (write one with analyze --plot)",
            dir.display()
        )),
    }
    if !recs.is_empty() {
        sources.extend(commits(
            "figure records (figures/*.json)",
            recs.iter().map(|(_, r)| r.git_commit.clone()),
        ));
    }
    for (stem, rec) in &recs {
        sources::record_figures(stem, rec, &mut figures)?;
    }

    // Table 1 at the premise (grid v2): Tables 1 and 3.
    let (mut table1, mut table3, mut not_scored, mut table1_seeds) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let dir = records.join(TABLE1_DIR);
    if s.evidence.table1_config.exists() {
        let config = NetGridConfig::load(&s.evidence.table1_config)?;
        let stored = load_all(&dir, &config, &crate::progress::Silent);
        if stored.runs.is_empty() {
            missing.push(format!("no Table 1 grid records under {}", dir.display()));
        } else {
            table1_seeds = config.seeds.clone();
            let (ledgers, unreadable) = super::netgrid::ledger::load_ledgers(&dir, &config);
            table1 = table1_rows(&config, &stored, &ledgers);
            table3 = table3_rows(&config, &stored);
            not_scored = table1.iter().filter_map(|r| r.not_scored.clone()).collect();
            not_scored.extend(
                unreadable
                    .iter()
                    .map(|e| format!("unreadable pilot ledger: {e}")),
            );
            not_scored.extend(
                stored
                    .skipped
                    .iter()
                    .map(|e| format!("unreadable record: {e}")),
            );
            sources.extend(commits(
                "Table 1 grid v2 (table1-v2/*/seed-*.json)",
                stored.runs.iter().map(|r| commit_of(&r.provenance)),
            ));
            sources::table1_v2_figures(&table1, &mut figures, &mut missing);
        }
    } else {
        missing.push(format!(
            "no Table 1 grid config at {}",
            s.evidence.table1_config.display()
        ));
    }

    // The net-claims grid.
    let mut net_seeds = Vec::new();
    if s.evidence.net_config.exists() {
        let config = NetGridConfig::load(&s.evidence.net_config)?;
        net_seeds = config.seeds.clone();
        let stored = load_all(&records.join("net"), &config, &crate::progress::Silent);
        if stored.runs.is_empty() {
            missing.push(format!(
                "no net-claims grid records under {}",
                records.join("net").display()
            ));
        }
        sources.extend(commits(
            "net-claims grid (net/*/seed-*.json)",
            stored.runs.iter().map(|r| commit_of(&r.provenance)),
        ));
        let mut families: Vec<String> = stored
            .runs
            .iter()
            .map(|r| r.config.family.clone())
            .collect();
        families.dedup();
        for fam in families {
            let runs: Vec<&NetRunRecord> = stored
                .runs
                .iter()
                .filter(|r| r.config.family == fam)
                .collect();
            sources::net_record_figures(&fam, &runs, &mut figures)?;
        }
    } else {
        missing.push(format!(
            "no net-claims grid config at {}",
            s.evidence.net_config.display()
        ));
    }

    // The coupling-null grid.
    match std::fs::read_to_string(&s.coupling_null) {
        Ok(text) => sources::null_figures(&s.coupling_null, &text, &mut figures)?,
        Err(_) => missing.push(format!(
            "no coupling-null grid record at {}",
            s.coupling_null.display()
        )),
    }

    Ok(Report {
        evidence,
        table1,
        table3,
        not_scored,
        figures,
        sources,
        seeds: (table1_seeds, net_seeds),
        missing,
    })
}

/// The recorded commit of a run record.
fn commit_of(p: &super::record::Provenance) -> String {
    let c = p.git_commit.clone().unwrap_or_else(|| "unknown".into());
    if p.git_dirty == Some(true) {
        format!("{c}-dirty")
    } else {
        c
    }
}

/// The distinct commits in `it`, counted.
fn commits(what: &str, it: impl Iterator<Item = String>) -> Vec<RecordSource> {
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for c in it {
        *counts.entry(c).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|(commit, count)| RecordSource {
            what: what.into(),
            commit,
            count,
        })
        .collect()
}

/// Writes each figure as `dir/FILE` (creating `dir`); returns the paths.
pub fn write_figures(figures: &[Figure], dir: &Path) -> Result<Vec<PathBuf>, ReproduceError> {
    std::fs::create_dir_all(dir).map_err(|e| ReproduceError::io(dir, e))?;
    let mut written = Vec::new();
    for f in figures {
        let p = dir.join(&f.file);
        crate::data::atomic::write(&p, f.svg.as_bytes()).map_err(|e| ReproduceError::io(&p, e))?;
        written.push(p);
    }
    Ok(written)
}

/// Writes `index.html` and `figures/*.svg` under `out` (created); returns
/// the paths written.
pub fn write(r: &Report, out: &Path) -> Result<Vec<PathBuf>, ReproduceError> {
    let mut written = write_figures(&r.figures, &out.join("figures"))?;
    let p = out.join("index.html");
    crate::data::atomic::write(&p, html::page(r).as_bytes())
        .map_err(|e| ReproduceError::io(&p, e))?;
    written.push(p);
    Ok(written)
}
