//! Exit codes of the `superlinear` binary: the one rule every command
//! (`verify`, `claims`, `analyze`, `net-claims`, `reproduce`, ...) follows,
//! kept in one documented place.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | the command ran and no line it reports is a counterexample (verified, not reproduced, insufficient evidence and unchecked lines do not fail a run) |
//! | 1 | at least one line is a counterexample: a claim failed as stated |
//! | 2 | bad usage or bad input: unknown flag, out-of-range number, missing or corrupt file, NaN, wrong shape, non-PSD where PSD is required |
//!
//! The statuses are those of `crate::claims::evidence`; its `exit_code` turns
//! a command's statuses into a code through [`for_claims`].

/// The command ran; no claim failed.
pub const OK: i32 = 0;
/// At least one line is a counterexample.
pub const CLAIM_FAILED: i32 = 1;
/// Bad usage or bad input.
pub const BAD_INPUT: i32 = 2;

/// The code of a command that ran: [`CLAIM_FAILED`] when any reported line
/// is a counterexample, else [`OK`].
pub fn for_claims(any_counterexample: bool) -> i32 {
    if any_counterexample {
        CLAIM_FAILED
    } else {
        OK
    }
}
