//! A qualitative statement judged over a measured grid of trained networks
//! (the rows of Table 1 or the runs behind them): how many rows or runs were
//! checked, which ones break the statement, and the verdict.
//!
//! The status of a grid judgement: `unchecked` when nothing was measured
//! yet, `verified` when every checked row or run satisfies the statement, and
//! `counterexample` otherwise: a measured row that breaks a qualitative
//! statement of the paper is a counterexample to the statement as written
//! (the tool itself did not break), listed in `failures`.

use serde::Serialize;

use crate::claims::evidence::Status;

/// One qualitative statement checked on every measured row or run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GridJudgement {
    /// Claim id, e.g. "C14".
    pub claim: &'static str,
    /// The statement as checked, e.g. "CE gamma > 1".
    pub statement: &'static str,
    /// Pass, Counterexample, or Unchecked (module doc).
    pub status: Status,
    /// What was counted, e.g. "CE rows".
    pub unit: &'static str,
    /// Rows or runs checked.
    pub checked: usize,
    /// The rows or runs that break the statement, with their figures.
    pub failures: Vec<String>,
}

impl GridJudgement {
    /// The judgement of `statement` over `checked` rows or runs of which
    /// `failures` break it.
    pub fn decide(
        claim: &'static str,
        statement: &'static str,
        unit: &'static str,
        checked: usize,
        failures: Vec<String>,
    ) -> Self {
        let verdict = if checked == 0 {
            Status::Unchecked
        } else if failures.is_empty() {
            Status::Verified
        } else {
            Status::Counterexample
        };
        GridJudgement {
            claim,
            statement,
            status: verdict,
            unit,
            checked,
            failures,
        }
    }

    /// Rows or runs checked that satisfy the statement.
    pub fn held(&self) -> usize {
        self.checked - self.failures.len()
    }
}
