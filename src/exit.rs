//! Exit codes of the `superlinear` binary, kept in one documented place.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | every check that ran passed (unchecked claims do not fail a run) |
//! | 1 | a claim failed: an identity or inequality was violated, or a published number was missed where that is a failure |
//! | 2 | bad usage or bad input: unknown flag, out-of-range number, missing or corrupt file, NaN, wrong shape, non-PSD where PSD is required |

/// Everything that ran passed.
pub const OK: i32 = 0;
/// A claim check failed.
pub const CLAIM_FAILED: i32 = 1;
/// Bad usage or bad input.
pub const BAD_INPUT: i32 = 2;
