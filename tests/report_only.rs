//! `superlinear reproduce --report-only` in every build (it needs no torch):
//! the committed run records re-render the committed tables byte for byte
//! and the same judgements, the exit code follows the judgements, and
//! training without the feature `torch` is refused as bad input.

use crate::util::{copy_dir, run};
use std::path::Path;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The judgements section of a results document.
fn judgements_section(doc: &str) -> &str {
    let start = doc.find("## Verdicts on the measured grid").unwrap();
    let end = start + doc[start..].find("\n## Setup per row").unwrap();
    &doc[start..end]
}

#[test]
fn report_only_rerenders_the_committed_tables() {
    let committed = Path::new(REPO).join("experiments/results/reduced");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("reduced");
    copy_dir(&committed.join("runs"), &out.join("runs"));
    for table in ["1", "3"] {
        let results = dir.path().join(format!("RESULTS-table{table}.md"));
        let o = run(&[
            "reproduce",
            "--table",
            table,
            "--scale",
            "reduced",
            "--report-only",
            "--quiet",
            "--out",
            &out.display().to_string(),
            "--results",
            &results.display().to_string(),
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        // The committed grid breaks C14's statements: exit 1, not 2.
        assert_eq!(o.status.code(), Some(1), "table {table}: {err}");
        for name in [format!("table{table}.md"), format!("table{table}.csv")] {
            assert_eq!(
                read(&out.join(&name)),
                read(&committed.join(&name)),
                "{name}"
            );
        }
        let want = if table == "1" {
            read(&Path::new(REPO).join("experiments/RESULTS.md"))
        } else {
            read(&committed.join("RESULTS-table3.md"))
        };
        assert_eq!(
            judgements_section(&read(&results)),
            judgements_section(&want),
            "table {table}"
        );
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(stdout.contains("0 runs trained now"), "{stdout}");
    }
}

#[cfg(not(feature = "torch"))]
#[test]
fn reproduce_without_torch_refuses_to_train() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(&[
        "reproduce",
        "--table",
        "1",
        "--scale",
        "reduced",
        "--out",
        &dir.path().display().to_string(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--features torch"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(!dir.path().join("runs").exists());
    assert!(!dir.path().join("table1.md").exists());
}

/// `--shard I/N` partitions the (row, seed) runs of a grid: the shards of one
/// N are disjoint, their union is the unsharded plan, and a run's shard does
/// not depend on which records are already stored.
#[test]
fn reproduce_shards_partition_the_runs() {
    use superlinear::progress::Silent;
    use superlinear::published::Published;
    use superlinear::reproduce::aggregate::{TableId, DEFAULT_MIN_TRAIN_PROGRESS};
    use superlinear::reproduce::config::{ConfigSet, RowFilter, Scale, RUNS_DIR};
    use superlinear::reproduce::grid::{plan, ReproduceSettings};
    use superlinear::reproduce::shard::Shard;

    let out = tempfile::tempdir().unwrap();
    let settings = |shard: Shard| ReproduceSettings {
        table: TableId::One,
        scale: Scale::Reduced,
        rows: RowFilter::parse("mnist-mlp,cifar10-cnn-k3").unwrap(),
        seeds: 3,
        jobs: 1,
        out: out.path().to_path_buf(),
        results_md: None,
        configs: ConfigSet::load(&Path::new(REPO).join(RUNS_DIR)).unwrap(),
        published: Published::builtin().unwrap(),
        data_root: None,
        threads: 1,
        command: String::new(),
        timings: false,
        report_only: false,
        min_train_progress: DEFAULT_MIN_TRAIN_PROGRESS,
        lr_override: None,
        shard,
    };
    let key = |p: &superlinear::reproduce::grid::Plan| -> Vec<String> {
        p.todo
            .iter()
            .map(|(c, s)| format!("{}/{s}", c.row.id()))
            .collect()
    };
    let all = key(&plan(&settings(Shard::ALL), &Silent).unwrap());
    assert_eq!(
        all.len(),
        8 * 3,
        "6 MNIST MLP rows and 2 CIFAR CNN K=3 rows, 3 seeds"
    );
    for n in [2, 3, 5] {
        let mut union = Vec::new();
        for i in 1..=n {
            let part = key(&plan(&settings(Shard { index: i, count: n }), &Silent).unwrap());
            assert!(!part.is_empty(), "shard {i}/{n} is empty");
            union.extend(part);
        }
        union.sort();
        let mut expected = all.clone();
        expected.sort();
        assert_eq!(union, expected, "shards of {n} do not partition the plan");
    }
    for bad in ["0/2", "3/2", "1/0", "x", "1/two"] {
        let e = Shard::parse(bad).unwrap_err().to_string();
        assert!(e.contains("shard") && e.contains(bad), "{e}");
    }
}
