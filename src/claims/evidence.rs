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
//!
//! Exit codes follow from the statuses alone ([`exit_code`], the rule of
//! `crate::exit`): a command exits 1 when any line it reports is a
//! counterexample, 0 otherwise.

use serde::{Deserialize, Serialize};

/// The status of one verdict line (module doc).
/// Serialised as [`Status::as_str`] (JSON, TOML), so a document never shows
/// another spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Status {
    /// The statement held on enough evidence.
    #[serde(rename = "verified")]
    Verified,
    /// The statement fails as stated on some input or network.
    #[serde(rename = "counterexample")]
    Counterexample,
    /// The premise was not met; the reason is in the line's summary.
    #[serde(rename = "not reproduced")]
    NotReproduced,
    /// The evidence cannot decide the statement.
    #[serde(rename = "insufficient evidence")]
    InsufficientEvidence,
    /// No check exists.
    #[serde(rename = "unchecked")]
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

    /// `Verified` when `ok`, else `Counterexample` (a check that ran on
    /// enough evidence and either held or found a violating input).
    pub fn verified_if(ok: bool) -> Self {
        if ok {
            Status::Verified
        } else {
            Status::Counterexample
        }
    }

    /// The status named by `word` ([`Status::as_str`]), if any.
    pub fn parse(word: &str) -> Option<Self> {
        Status::ALL.into_iter().find(|s| s.as_str() == word)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The exit code of a command that reported `statuses`, under the one rule
/// of [`crate::exit`]: [`crate::exit::CLAIM_FAILED`] when any is a
/// counterexample, else [`crate::exit::OK`].
pub fn exit_code(statuses: impl IntoIterator<Item = Status>) -> i32 {
    crate::exit::for_claims(statuses.into_iter().any(|s| s == Status::Counterexample))
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
