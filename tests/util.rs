//! Shared helpers for the integration tests.

use proptest::test_runner::{Config, FileFailurePersistence};

/// A proptest configuration with `default_cases` cases, overridden by the
/// `PROPTEST_CASES` environment variable when it is set.
pub fn proptest_config(default_cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default_cases);
    Config {
        cases,
        // Shrunk failures are kept in tests/proptest-regressions/<area>.txt (committed).
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..Config::default()
    }
}

/// Relative difference `|a - b| / max(|a|, |b|, floor)`.
pub fn rel_diff(a: f64, b: f64, floor: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs()).max(floor)
}
