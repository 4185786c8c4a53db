//! `superlinear reproduce --report-only` in every build (it needs no torch):
//! on the fixture's run records (`tests/fixtures/reproduce-records`) it
//! renders the same bytes twice, its tables hold the records' rows and
//! numbers, a run at chance is listed and not scored, the exit code follows
//! the judgements, and training without the feature `torch` is refused as
//! bad input.

use crate::util::{fixture_records, fixture_records_copy, fixture_report_only, run};
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

/// Mean +- sample std of the figure at `pointer` over the fixture's records
/// of `row`, as the tables print it.
fn fixture_mean(row: &str, pointer: &str) -> String {
    let dir = fixture_records().join("runs").join(row);
    let mut v = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let rec: serde_json::Value = serde_json::from_str(&read(&e.unwrap().path())).unwrap();
        v.push(rec.pointer(pointer).and_then(|x| x.as_f64()).unwrap());
    }
    assert_eq!(v.len(), 2, "{row}");
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let sd = (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    format!("{m:.2} +- {sd:.2}")
}

/// The table line of `row` (its first cells).
fn line<'a>(table: &'a str, row: &str) -> &'a str {
    table
        .lines()
        .find(|l| l.starts_with(row))
        .unwrap_or_else(|| panic!("no row {row:?} in\n{table}"))
}

#[test]
fn report_only_renders_the_records_reproducibly() {
    let dir = tempfile::tempdir().unwrap();
    let (out, results) = fixture_records_copy(dir.path());
    for table in ["1", "3"] {
        let names = [format!("table{table}.md"), format!("table{table}.csv")];
        let render = || {
            let args = fixture_report_only(table, &out, &results, &["--quiet"]);
            let o = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
            let err = String::from_utf8_lossy(&o.stderr).into_owned();
            let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
            // Table 3 reads the MSE records with Term II only: the run at
            // chance was analysed without it.
            let reused = if table == "1" { 6 } else { 2 };
            let want = format!("0 runs trained now, {reused} reused");
            assert!(stdout.contains(&want), "{stdout}");
            let mut files: Vec<String> = names.iter().map(|n| read(&out.join(n))).collect();
            files.push(read(&results));
            (o.status.code(), err, files)
        };
        let (code, err, first) = render();
        // The exit code follows the judgements: 1 when one is a counterexample.
        let broken = judgements_section(&first[2]).contains("**counterexample**");
        assert_eq!(
            code,
            Some(if broken { 1 } else { 0 }),
            "table {table}: {err}"
        );
        let (code2, _, second) = render();
        assert_eq!(code2, code);
        assert_eq!(first, second, "table {table}: a second rendering differs");

        let md = &first[0];
        let mse = line(md, "| MNIST | MLP | 3 | MSE | 2 |");
        let gamma = fixture_mean("mnist-mlp-k3-mse", "/analyze/gamma/gamma");
        assert!(
            mse.contains(&format!("| {gamma} |")),
            "{gamma} not in {mse}"
        );
        // The run at chance is listed, not scored.
        let chance = line(md, "| MNIST | CNN | 10 | MSE |");
        assert!(chance.contains("| 0"), "{chance}");
        if table == "1" {
            let ce = line(md, "| MNIST | MLP | 3 | CE | 2 |");
            let gamma = fixture_mean("mnist-mlp-k3-ce", "/analyze/gamma/gamma");
            assert!(ce.contains(&format!("| {gamma} |")), "{gamma} not in {ce}");
            assert_eq!(md.lines().filter(|l| l.starts_with("| MNIST")).count(), 3);
            assert!(first[2].contains(
                "MNIST CNN K=10 MSE (floor 0.550): seed 0 (acc 0.100), seed 1 (acc 0.100)"
            ));
        } else {
            let t3 = fixture_mean("mnist-mlp-k3-mse", "/analyze/term2/gamma_term12/gamma");
            assert!(mse.contains(&format!("| {t3} |")), "{t3} not in {mse}");
            assert_eq!(md.lines().filter(|l| l.starts_with("| MNIST")).count(), 2);
        }
        // The CSV holds the same rows.
        assert_eq!(
            first[1].lines().filter(|l| l.starts_with("MNIST,")).count(),
            md.lines().filter(|l| l.starts_with("| MNIST")).count()
        );
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
