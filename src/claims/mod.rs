//! The claim runner behind `superlinear verify`.
//!
//! Each claim of the paper (C1 ... C15, see `theory/claims.toml` and
//! `../shared/paper/THEORY.md`) is either backed by one check function in
//! `claims/cN.rs`, or reported as **unchecked**, never as passing. A check
//! builds its inputs from the core modules (`ensemble`, `moments`, `fit`,
//! `bounds`, ...), runs them with an explicit seed, and returns a
//! [`ClaimOutcome`]: a verdict, one key figure for the table, named figures
//! for JSON, and detail lines (counterexamples, measurements).
//!
//! Statuses and the exit code: every outcome carries one
//! [`evidence::Status`] (the one vocabulary: verified, counterexample, not
//! reproduced, insufficient evidence, unchecked). An identity or inequality
//! violated on some input, or an asymptotic or empirical statement measured
//! off the paper's, is a `counterexample`; the detail lines say what failed,
//! by how much and on which input. Under the one rule of [`crate::exit`] any
//! counterexample makes `verify` exit 1 ([`exit_code`]). `verify` reports the
//! derivation line only; `superlinear claims` adds the trained-network line
//! judged from committed records.
//!
//! Claims with a trained-network side also have a pure `judge_net` (C3, C6,
//! C7 and its Remark 3.5 judgement, C8, C13, C15: [`c3`], [`c6`], [`c7`],
//! [`c8`], [`c13`], [`c15`]) that decides a verdict from
//! the figures `superlinear net-claims` measures ([`crate::layer::figures`])
//! and the thresholds of [`net`]; C6 and C15 have no synthetic check, so
//! `verify` reports them unchecked and names that command. [`c9`] also judges
//! Theorem 5.1 on a trained layer for `superlinear analyze` (`judge_layer_bounds`).

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Serialize;

use crate::error::{Error, Result};

pub mod c1;
pub mod c10;
pub mod c11;
pub mod c12;
pub mod c13;
pub mod c14;
pub mod c15;
pub mod c2;
pub mod c3;
pub mod c4;
pub mod c5;
pub mod c6;
pub mod c7;
pub mod c8;
pub mod c9;
pub mod cases;
pub mod catalogue;
pub mod evidence;
pub mod grid;
pub mod net;
pub mod netgrid;
pub mod premise;
pub mod report;

pub use catalogue::{Catalogue, ClaimEntry, ClaimKind};
pub use evidence::{Line, Status};

/// The most random cases a property check accepts (a larger count would run
/// for days, not fail).
pub const MAX_CASES: usize = 1_000_000;

/// Settings shared by every check: parsed and validated once by the CLI.
#[derive(Debug, Clone, Serialize)]
pub struct CheckSettings {
    /// Master seed; each check derives its own streams from it.
    pub seed: u64,
    /// Number of random cases (ensembles, rotations, ...) a property check draws.
    pub cases: usize,
}

impl Default for CheckSettings {
    fn default() -> Self {
        CheckSettings {
            seed: 20260205,
            cases: 64,
        }
    }
}

impl CheckSettings {
    /// Validates the settings (1 <= cases <= MAX_CASES).
    pub fn new(seed: u64, cases: usize) -> Result<Self> {
        if cases == 0 {
            return Err(Error::param("cases", cases, "must be at least 1"));
        }
        if cases > MAX_CASES {
            return Err(Error::param(
                "cases",
                cases,
                format!("at most {MAX_CASES} is supported"),
            ));
        }
        Ok(CheckSettings { seed, cases })
    }
}

/// What a check found.
#[derive(Debug, Clone, Serialize)]
pub struct ClaimOutcome {
    /// The status (`evidence::Status`, the one vocabulary).
    pub status: Status,
    /// One short human-readable key figure for the table row.
    pub figure: String,
    /// Named figures, for JSON (rounded by the reporter, not here).
    pub figures: BTreeMap<String, f64>,
    /// Further lines: sub-checks, counterexamples, measurements.
    pub details: Vec<String>,
}

impl ClaimOutcome {
    /// An outcome with a status and key figure and no named figures yet.
    pub fn new(status: Status, figure: impl Into<String>) -> Self {
        ClaimOutcome {
            status,
            figure: figure.into(),
            figures: BTreeMap::new(),
            details: Vec::new(),
        }
    }

    /// Adds a named figure.
    pub fn with(mut self, name: &str, value: f64) -> Self {
        self.figures.insert(name.to_string(), value);
        self
    }

    /// Adds a detail line.
    pub fn detail(mut self, line: impl Into<String>) -> Self {
        self.details.push(line.into());
        self
    }
}

/// A check: the claim id it decides and the function that runs it.
#[derive(Clone, Copy)]
pub struct Check {
    /// Claim id, e.g. "C9".
    pub claim: &'static str,
    /// The function that runs it.
    pub run: fn(&CheckSettings) -> Result<ClaimOutcome>,
}

/// Every check that exists, in claim order. A claim not listed here is
/// reported as unchecked.
pub fn registry() -> Vec<Check> {
    vec![
        Check::new("C1", c1::check),
        Check::new("C2", c2::check),
        Check::new("C5", c5::check),
        Check::new("C3", c3::check),
        Check::new("C4", c4::check),
        Check::new("C7", c7::check),
        Check::new("C8", c8::check),
        Check::new("C9", c9::check),
        Check::new("C10", c10::check),
        Check::new("C11", c11::check),
        Check::new("C12", c12::check),
        Check::new("C13", c13::check),
    ]
}

impl Check {
    /// A check for `claim`.
    pub const fn new(claim: &'static str, run: fn(&CheckSettings) -> Result<ClaimOutcome>) -> Self {
        Check { claim, run }
    }
}

/// One row of the verify report.
#[derive(Debug, Clone, Serialize)]
pub struct ClaimRow {
    /// Claim id.
    pub id: String,
    /// Where in the paper.
    pub paper_ref: String,
    /// identity, inequality, asymptotic or empirical.
    pub kind: ClaimKind,
    /// What the check tests: the claim in symbols, in words, and its symbols.
    pub tests: ClaimStatement,
    /// The outcome (verdict `unchecked` when no check exists).
    pub outcome: ClaimOutcome,
    /// Wall time of the check in seconds.
    pub seconds: f64,
}

/// What a claim says, from the catalogue (`theory/claims.toml`, the one
/// source of the formulas): the title, the formula in symbols, the same in
/// words, and a definition of every symbol with the basis it is read in.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClaimStatement {
    /// Short name of the claim.
    pub title: String,
    /// The claim in symbols.
    pub formula: String,
    /// The claim in words.
    pub statement: String,
    /// `symbol: definition` lines, the basis last.
    pub symbols: Vec<String>,
}

impl ClaimStatement {
    /// The statement of a catalogue entry.
    pub fn of(entry: &ClaimEntry) -> Self {
        ClaimStatement {
            title: entry.title.clone(),
            formula: entry.formula.clone(),
            statement: entry.statement.clone(),
            symbols: entry.symbols.clone(),
        }
    }

    /// The statement as indented text lines (`tests:`, `in words:`,
    /// `where:`), each line starting with `indent`.
    pub fn render(&self, indent: &str) -> String {
        let mut s = format!(
            "{indent}tests:    {}
",
            self.formula
        );
        s.push_str(&format!(
            "{indent}in words: {}
",
            self.statement
        ));
        for (i, sym) in self.symbols.iter().enumerate() {
            let head = if i == 0 { "where:   " } else { "         " };
            s.push_str(&format!(
                "{indent}{head} {sym}
"
            ));
        }
        s
    }
}

/// Runs every check (or only `only`, a claim id) and returns one row per claim
/// of the catalogue, unchecked claims included.
pub fn run_all(settings: &CheckSettings, only: Option<&str>) -> Result<Vec<ClaimRow>> {
    let catalogue = Catalogue::builtin()?;
    if let Some(id) = only {
        catalogue.get(id)?;
    }
    let checks = registry();
    let mut rows = Vec::new();
    for entry in &catalogue.claims {
        if only.is_some_and(|id| !id.eq_ignore_ascii_case(&entry.id)) {
            continue;
        }
        let start = Instant::now();
        let outcome = match checks.iter().find(|c| c.claim == entry.id) {
            Some(check) => (check.run)(settings)?,
            None if !entry.net_check.is_empty() => ClaimOutcome::new(
                Status::Unchecked,
                format!(
                    "needs a trained network: `{}` (feature torch)",
                    entry.net_check
                ),
            ),
            None => ClaimOutcome::new(Status::Unchecked, "no check yet"),
        };
        rows.push(ClaimRow {
            id: entry.id.clone(),
            paper_ref: entry.paper_ref.clone(),
            kind: entry.kind,
            tests: ClaimStatement::of(entry),
            outcome,
            seconds: start.elapsed().as_secs_f64(),
        });
    }
    Ok(rows)
}

/// The exit code of `verify` under the one rule of [`crate::exit`]: 1 when
/// any row is a counterexample.
pub fn exit_code(rows: &[ClaimRow]) -> i32 {
    evidence::exit_code(rows.iter().map(|r| r.outcome.status))
}

impl ClaimOutcome {
    /// The outcome as a verdict line judged from `source` (e.g. the command
    /// that reproduces it): status, key figure as summary, the details.
    pub fn to_line(&self, source: impl Into<String>) -> Line {
        Line {
            status: self.status,
            summary: self.figure.clone(),
            details: self.details.clone(),
            source: source.into(),
        }
    }
}
