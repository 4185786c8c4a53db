//! Shared helpers for the integration tests.

use std::path::{Path, PathBuf};

use proptest::test_runner::Config;

/// A proptest configuration with `default_cases` cases, overridden by the
/// `PROPTEST_CASES` environment variable when it is set.
pub fn proptest_config(default_cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default_cases);
    Config {
        cases,
        ..Config::default()
    }
}

/// Relative difference `|a - b| / max(|a|, |b|, floor)`.
pub fn rel_diff(a: f64, b: f64, floor: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs()).max(floor)
}

/// The shared data directory: `SUPERLINEAR_DATA`, else `../shared/data` or
/// `../../shared/data` from the crate root (main checkout or worktree).
pub fn shared_data() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SUPERLINEAR_DATA") {
        return Some(PathBuf::from(p)).filter(|p| p.is_dir());
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    ["../shared/data", "../../shared/data"]
        .iter()
        .map(|r| root.join(r))
        .find(|p| p.join("README.md").is_file())
}
