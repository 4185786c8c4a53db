//! A qualitative statement judged over a measured grid of trained networks
//! (the rows of Table 1 or the runs behind them): how many rows or runs were
//! checked, which ones break the statement, and the verdict.
//!
//! The status of a grid judgement: `unchecked` when nothing was measured
//! yet, `verified` when every checked row or run satisfies the statement, and
//! `counterexample` otherwise: a measured row that breaks a qualitative
//! statement of the paper is a counterexample to the statement as written
//! (the tool itself did not break), listed in `failures`.
//!
//! [`grid_line`] folds the judgements of one claim into its trained-network
//! verdict line: `counterexample` when any statement is broken, `verified`
//! when every statement was checked and held, `not reproduced` when runs
//! exist but none met its premise (the training-accuracy floor), and
//! `unchecked` when nothing was measured. Runs that did not meet the premise
//! are never scored; they are listed in the line's details.

use serde::Serialize;

use crate::claims::evidence::{Line, Status};

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

/// One claim's trained-network line from its grid `judgements`
/// (module doc): `not_scored` names the runs below their premise, `source`
/// the records judged.
pub fn grid_line(judgements: &[GridJudgement], not_scored: &[String], source: &str) -> Line {
    let checked: usize = judgements.iter().map(|j| j.checked).sum();
    let broken: Vec<&GridJudgement> = judgements
        .iter()
        .filter(|j| j.status == Status::Counterexample)
        .collect();
    let status = if !broken.is_empty() {
        Status::Counterexample
    } else if checked > 0 && judgements.iter().all(|j| j.status == Status::Verified) {
        Status::Verified
    } else if checked == 0 && !not_scored.is_empty() {
        Status::NotReproduced
    } else {
        Status::Unchecked
    };
    let counts = judgements
        .iter()
        .map(|j| {
            format!(
                "{}: {}/{} {} hold",
                j.statement,
                j.held(),
                j.checked,
                j.unit
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let summary = match status {
        Status::Counterexample if judgements.len() == 1 => counts,
        Status::Counterexample => format!(
            "{} of {} statements broken: {counts}",
            broken.len(),
            judgements.len()
        ),
        Status::NotReproduced => format!(
            "no run met its training-accuracy premise ({} runs not scored)",
            not_scored.len()
        ),
        Status::Unchecked if checked == 0 => "no measured run in the records".to_string(),
        _ => counts,
    };
    let summary = if not_scored.is_empty() || status == Status::NotReproduced {
        summary
    } else {
        format!(
            "{summary}; {} runs below the training-accuracy premise not scored",
            not_scored.len()
        )
    };
    let mut details: Vec<String> = judgements
        .iter()
        .map(|j| {
            let mut d = format!(
                "{}: {} ({}/{} {} hold)",
                j.statement,
                j.status,
                j.held(),
                j.checked,
                j.unit
            );
            if !j.failures.is_empty() {
                d.push_str(&format!("; fails: {}", j.failures.join("; ")));
            }
            d
        })
        .collect();
    if !not_scored.is_empty() {
        details.push(format!(
            "not scored (below the training-accuracy premise): {}",
            not_scored.join("; ")
        ));
    }
    Line {
        status,
        summary,
        details,
        source: source.to_string(),
    }
}
