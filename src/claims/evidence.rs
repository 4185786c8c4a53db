//! Two verdict lines per claim, both computed: (a) the derivation under the
//! claim's own assumptions (synthetic ensembles, `verify`'s checks) and (b)
//! the premise and the empirical statement on trained networks, judged from
//! committed records (the Table 1 grid of C14 and the net-claims grid).
//!
//! One status vocabulary for both lines and for the catalogue
//! (`theory/claims.toml`) and README table, which are generated from what the
//! checks return on the committed records, never typed by hand:
//!
//! | status | meaning |
//! |---|---|
//! | verified | the check ran on enough evidence and the statement held |
//! | counterexample | the check found inputs (or networks) where the statement fails as stated |
//! | not reproduced | the premise was not met (for example a network below its training-accuracy premise), with the measured reason |
//! | insufficient evidence | the check ran but the evidence cannot decide it (one checkpoint, one seed, a CI straddling the threshold) |
//! | unchecked | no check exists for this line |

use serde::{Deserialize, Serialize};

/// The status of one verdict line (module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The statement held on enough evidence.
    Verified,
    /// The statement fails as stated on some input or network.
    Counterexample,
    /// The premise was not met; the reason is in the line's summary.
    NotReproduced,
    /// The evidence cannot decide the statement.
    InsufficientEvidence,
    /// No check exists.
    Unchecked,
}

impl Status {
    /// Every status, in table order.
    pub const ALL: [Status; 5] = [
        Status::Verified,
        Status::Counterexample,
        Status::NotReproduced,
        Status::InsufficientEvidence,
        Status::Unchecked,
    ];

    /// The word used in every table, JSON field and document.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Verified => "verified",
            Status::Counterexample => "counterexample",
            Status::NotReproduced => "not reproduced",
            Status::InsufficientEvidence => "insufficient evidence",
            Status::Unchecked => "unchecked",
        }
    }
}

/// One verdict line: a status, one short summary with the key figures, and
/// the records it was judged from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Line {
    /// The status.
    pub status: Status,
    /// One line with the key figures (seeds, CI, k-sensitivity where a gamma is involved).
    pub summary: String,
    /// Further lines: per-family or per-case figures, reasons a run was not scored.
    #[serde(default)]
    pub details: Vec<String>,
    /// What the line was judged from (a command, or record paths relative to the repo).
    pub source: String,
}

impl Line {
    /// A line with no details.
    pub fn new(status: Status, summary: impl Into<String>, source: impl Into<String>) -> Self {
        Line {
            status,
            summary: summary.into(),
            details: Vec::new(),
            source: source.into(),
        }
    }

    /// The line of a claim side that has no check.
    pub fn unchecked(why: impl Into<String>) -> Self {
        Line::new(Status::Unchecked, why, "")
    }
}
