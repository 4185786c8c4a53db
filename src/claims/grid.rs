//! A qualitative statement judged over a measured grid of trained networks
//! (the rows of Table 1 or the runs behind them): how many rows or runs were
//! checked, which ones break the statement, and the verdict.
//!
//! The verdict of a grid judgement: `Unchecked` when nothing was measured
//! yet, `Pass` when every checked row or run satisfies the statement, and
//! `Counterexample` otherwise: a measured row that breaks a qualitative
//! statement of the paper is a counterexample to the statement as written
//! (the tool itself did not break), listed in `failures`.

use serde::Serialize;

use super::Verdict;

/// One qualitative statement checked on every measured row or run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GridJudgement {
    /// Claim id, e.g. "C14".
    pub claim: &'static str,
    /// The statement as checked, e.g. "CE gamma > 1".
    pub statement: &'static str,
    /// Pass, Counterexample, or Unchecked (module doc).
    pub verdict: Verdict,
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
            Verdict::Unchecked
        } else if failures.is_empty() {
            Verdict::Pass
        } else {
            Verdict::Counterexample
        };
        GridJudgement {
            claim,
            statement,
            verdict,
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

/// Whether any statement is broken on the grid (a `Fail` or a
/// `Counterexample`): `superlinear reproduce` then exits with
/// `crate::exit::CLAIM_FAILED`.
pub fn any_broken(judgements: &[GridJudgement]) -> bool {
    judgements
        .iter()
        .any(|j| matches!(j.verdict, Verdict::Fail | Verdict::Counterexample))
}
