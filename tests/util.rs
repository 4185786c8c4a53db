//! Shared helpers for the integration tests.

use std::any::Any;
use std::path::Path;

use proptest::test_runner::{Config, FailurePersistence, FileFailurePersistence, PersistedSeed};

/// A proptest configuration with `default_cases` cases, overridden by the
/// `PROPTEST_CASES` environment variable when it is set. Shrunk failures are
/// kept in `tests/proptest-regressions/<area>.txt` (committed).
pub fn proptest_config(default_cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default_cases);
    Config {
        cases,
        failure_persistence: Some(Box::new(RegressionsDir)),
        ..Config::default()
    }
}

/// Persists failures of `tests/<area>.rs` in `tests/proptest-regressions/<area>.txt`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct RegressionsDir;

impl RegressionsDir {
    fn file(source_file: Option<&'static str>) -> FileFailurePersistence {
        let stem = source_file
            .and_then(|f| Path::new(f).file_stem())
            .and_then(|s| s.to_str())
            .unwrap_or("unknown");
        let path = format!(
            "{}/tests/proptest-regressions/{stem}.txt",
            env!("CARGO_MANIFEST_DIR")
        );
        FileFailurePersistence::Direct(Box::leak(path.into_boxed_str()))
    }
}

impl FailurePersistence for RegressionsDir {
    fn load_persisted_failures2(&self, source_file: Option<&'static str>) -> Vec<PersistedSeed> {
        Self::file(source_file).load_persisted_failures2(source_file)
    }

    fn save_persisted_failure2(
        &mut self,
        source_file: Option<&'static str>,
        seed: PersistedSeed,
        shrunken_value: &dyn std::fmt::Debug,
    ) {
        Self::file(source_file).save_persisted_failure2(source_file, seed, shrunken_value)
    }

    fn box_clone(&self) -> Box<dyn FailurePersistence> {
        Box::new(*self)
    }

    fn eq(&self, other: &dyn FailurePersistence) -> bool {
        other.as_any().is::<RegressionsDir>()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Relative difference `|a - b| / max(|a|, |b|, floor)`.
pub fn rel_diff(a: f64, b: f64, floor: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs()).max(floor)
}

/// The shared data directory: `SUPERLINEAR_DATA`, else `../shared/data` or
/// `../../shared/data` from the crate root (main checkout or worktree).
pub fn shared_data() -> Option<std::path::PathBuf> {
    if let Some(p) = std::env::var_os("SUPERLINEAR_DATA") {
        return Some(std::path::PathBuf::from(p)).filter(|p| p.is_dir());
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    ["../shared/data", "../../shared/data"]
        .iter()
        .map(|r| root.join(r))
        .find(|p| p.join("README.md").is_file())
}

/// A family file template (replace DATASET and MODEL) for tiny training
/// runs, the same unknowns for every family: the CIFAR-10 MLP 3072-8-8-3 (its analysed layer 8 x 8) and the MNIST CNN
/// with channels [2, 4], pool side 1 and hidden width 4 (4 x 4); K = 3,
/// 30 samples per class, 3 epochs, top-k 8.
pub const TINY_FAMILY: &str = r#"
dataset = "DATASET"
model = "MODEL"
loss = "ce"
classes = [3]

[paper]
analyze_samples = 0

[paper.unknowns]
lr = 0.1
cifar_mlp_hidden = [50, 50, 50]
cnn_channels = [32, 64, 128]
cnn_pool_side = 1
cnn_hidden = 50

[reduced]
per_class = 30
batch = 10
epochs = 3
analyze_samples = 0
top_k = { k3 = 8, k6 = 8, k10 = 8 }

[reduced.unknowns]
lr = 0.1
cifar_mlp_hidden = [8, 8]
cnn_channels = [2, 4]
cnn_pool_side = 1
cnn_hidden = 4
"#;

/// Runs the `superlinear` binary with `args` in the crate root (where the
/// default paths of the commands point).
pub fn run(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_superlinear"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run superlinear")
}

/// Copies the directory tree `src` to `dst` (created).
pub fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let p = e.unwrap().path();
        let to = dst.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &to);
        } else {
            std::fs::copy(&p, &to).unwrap();
        }
    }
}

/// The run records the `reproduce --report-only` tests read
/// (`tests/fixtures/reproduce-records/README.md`): seeds 0 and 1 of
/// [`FIXTURE_ROWS`].
pub const FIXTURE_RECORDS: &str = "tests/fixtures/reproduce-records";

/// The rows of the fixture, as `--rows` selects them: MNIST MLP K = 3 (CE and
/// MSE, scored) and MNIST CNN K = 10 MSE (at chance, not scored).
pub const FIXTURE_ROWS: &str = "mnist-mlp-k3,mnist-cnn-k10-mse";

/// Seeds per row of the fixture.
pub const FIXTURE_SEEDS: usize = 2;

/// The fixture's directory.
pub fn fixture_records() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE_RECORDS)
}

/// The `reproduce --report-only` flags that select the fixture's rows and
/// seeds.
pub fn fixture_flags() -> Vec<String> {
    vec![
        "--rows".into(),
        FIXTURE_ROWS.into(),
        "--seeds".into(),
        FIXTURE_SEEDS.to_string(),
    ]
}

/// `reproduce --table <table> --scale reduced --report-only <extra>` over
/// the fixture copy in `out` (results document `results`), with
/// [`fixture_flags`].
pub fn fixture_report_only(table: &str, out: &Path, results: &Path, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "reproduce",
        "--table",
        table,
        "--scale",
        "reduced",
        "--report-only",
    ]
    .iter()
    .chain(extra)
    .map(|a| a.to_string())
    .collect();
    args.extend([
        "--out".to_string(),
        out.display().to_string(),
        "--results".to_string(),
        results.display().to_string(),
    ]);
    args.extend(fixture_flags());
    args
}

/// A copy of the fixture's run records under `dir/records/runs`: the output
/// directory and a results path in `dir` for `reproduce --table 1 --scale
/// reduced --report-only` with [`fixture_flags`].
pub fn fixture_records_copy(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let out = dir.join("records");
    copy_dir(&fixture_records().join("runs"), &out.join("runs"));
    (out, dir.join("RESULTS.md"))
}

/// `net-grid` settings for the tests: records under `out`, training runs
/// under `work`, the whole plan with one job and one libtorch thread, no
/// data root; `command` is what the report names.
pub fn grid_settings(
    config: superlinear::reproduce::netgrid::NetGridConfig,
    out: &Path,
    work: &Path,
    command: &str,
) -> superlinear::reproduce::netgrid::NetGridSettings {
    use superlinear::reproduce::netgrid::plan::{Shard, Stage};
    superlinear::reproduce::netgrid::NetGridSettings {
        config,
        out: out.to_path_buf(),
        work: work.to_path_buf(),
        data_root: None,
        jobs: 1,
        threads: 1,
        shard: Shard::ALL,
        stage: Stage::All,
        reanalyze: false,
        families: Vec::new(),
        command: command.into(),
    }
}
