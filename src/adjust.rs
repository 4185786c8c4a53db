//! Settings a command resolved to another value than the one given, stated
//! rather than applied silently (`analyze`, `net-claims`).
//!
//! The rule, one for every count-valued setting: a value that names "all"
//! (documented as `0: all`) or asks for more than exists is applied as
//! `used = min(requested, available)` (0 read as `available`) and recorded as
//! an [`Adjustment`], printed in the text report and listed under
//! `adjustments` in the JSON; a value that cannot mean anything (fewer than a
//! fit needs, 0 where 0 is not "all", a negative thread count) is refused
//! with exit 2 and one line naming the flag, the value and the allowed range.
//! Nothing here changes a figure: `used` is what the analysis ran on anyway.
//!
//! The counts: `top-k` against `d = out * in` (the eigen-directions of H);
//! `samples` against the N samples the file or data set holds (the
//! class-balanced choice, [`crate::layer::balanced_indices`], takes all of
//! them); `stride` against the checkpoints of a run (a stride of at least
//! `n - 1` picks the first and the last, as `n - 1` does).

use serde::{Deserialize, Serialize};

/// One setting resolved to another value than the one given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adjustment {
    /// The flag, without dashes (`top-k`, `samples`, `stride`).
    pub flag: String,
    /// The value given.
    pub requested: usize,
    /// The value used.
    pub used: usize,
    /// Why, e.g. `d = 50 x 50 = 2500`.
    pub why: String,
}

impl Adjustment {
    /// `top-k` for a layer `out x in` (0: all d; above d: d). None when the
    /// value is used as given.
    pub fn top_k(requested: usize, out: usize, inn: usize) -> Option<Adjustment> {
        let d = out * inn;
        let why = if requested == 0 {
            format!("0 means all d = {out} x {inn} = {d} eigen-directions")
        } else {
            format!("H has d = {out} x {inn} = {d} eigen-directions")
        };
        Self::count("top-k", requested, d, why)
    }

    /// `samples` against the `available` samples of `source` (0: all; above:
    /// all). None when the value is used as given.
    pub fn samples(requested: usize, available: usize, source: &str) -> Option<Adjustment> {
        let why = if requested == 0 {
            format!("0 means all {available} samples of {source}")
        } else {
            format!("{source} holds {available} samples")
        };
        Self::count("samples", requested, available, why)
    }

    /// `stride` over `checkpoints` checkpoints: a stride of at least
    /// `checkpoints - 1` picks the first and the last, which is stride
    /// `checkpoints - 1` (1 for a single checkpoint). None when the value is
    /// used as given.
    pub fn stride(requested: usize, checkpoints: usize) -> Option<Adjustment> {
        let used = checkpoints.saturating_sub(1).max(1);
        (requested > used).then(|| Adjustment {
            flag: "stride".into(),
            requested,
            used,
            why: format!(
                "the run has {checkpoints} checkpoint(s): the first and the last are used"
            ),
        })
    }

    /// `min(requested, available)`, 0 read as `available`.
    fn count(flag: &str, requested: usize, available: usize, why: String) -> Option<Adjustment> {
        let used = if requested == 0 {
            available
        } else {
            requested.min(available)
        };
        (used != requested).then(|| Adjustment {
            flag: flag.into(),
            requested,
            used,
            why,
        })
    }

    /// The text line: `--top-k 99999 -> 2500 (why)`.
    pub fn line(&self) -> String {
        format!(
            "adjusted: --{} {} -> {} ({})",
            self.flag, self.requested, self.used, self.why
        )
    }
}

/// The text lines of `adjustments`, one per line, each ending in `\n`.
pub fn render(adjustments: &[Adjustment]) -> String {
    adjustments.iter().map(|a| a.line() + "\n").collect()
}
