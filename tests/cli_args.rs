//! Random argument vectors for every subcommand of the default build, built
//! from each subcommand's real flags with hostile values (0, negative, huge,
//! NaN, inf, garbage, empty) and paths to broken files (empty, truncated and
//! garbage .npy, text, safetensors, toml). The property: the exit code is 0, 1
//! or 2, nothing panics, and every exit 2 prints exactly one non-empty line
//! on stderr that names the input (a flag, a value or a path).
//!
//! 24 cases per subcommand by default; `PROPTEST_CASES` raises it. Sizes stay
//! small or out of range so a valid run ends in well under a second.

use std::path::Path;
use std::process::{Command, Output};

use ndarray::Array2;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use superlinear::data::npy::write_matrix;

/// The broken and valid input files one case can point at.
struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Files {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::write(p.join("empty.npy"), b"").unwrap();
        std::fs::write(p.join("garbage.npy"), b"\x93NUMPY\x01\x00garbage").unwrap();
        let good =
            Array2::from_shape_fn((3, 3), |(i, j)| if i == j { 1.0 + i as f64 } else { 0.0 });
        write_matrix(&p.join("good.npy"), &good).unwrap();
        let bytes = std::fs::read(p.join("good.npy")).unwrap();
        std::fs::write(p.join("trunc.npy"), &bytes[..bytes.len() - 7]).unwrap();
        let nonsym = Array2::from_shape_fn((3, 3), |(i, j)| (i * 3 + j) as f64 - 4.0);
        write_matrix(&p.join("nonsym.npy"), &nonsym).unwrap();
        let rect = Array2::from_shape_fn((2, 3), |(i, j)| (i + j) as f64);
        write_matrix(&p.join("rect.npy"), &rect).unwrap();
        std::fs::write(p.join("text.txt"), "1 2 nan\n3 x\n").unwrap();
        std::fs::write(p.join("spectrum.txt"), "3\n2\n1\n").unwrap();
        std::fs::write(
            p.join("bad.safetensors"),
            b"\xff\xff\xff\xff\xff\xff\xff\x7f{",
        )
        .unwrap();
        std::fs::write(p.join("bad.toml"), "[row\nname = = 3\n").unwrap();
        std::fs::write(p.join("bad.json"), "{\"grid\": [1, 2").unwrap();
        std::fs::create_dir(p.join("configs")).unwrap();
        std::fs::write(p.join("configs/mnist.toml"), "[row\nname = = 3\n").unwrap();
        std::fs::create_dir(p.join("out")).unwrap();
        let layer = crate::analyze_factors::factor_file(
            24,
            3,
            4,
            3,
            superlinear::data::factors::FactorLoss::CrossEntropy,
            1,
        );
        std::fs::write(p.join("layer.safetensors"), layer.to_bytes().unwrap()).unwrap();
        Files { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn all(&self) -> Vec<String> {
        [
            "empty.npy",
            "garbage.npy",
            "good.npy",
            "trunc.npy",
            "nonsym.npy",
            "rect.npy",
            "text.txt",
            "spectrum.txt",
            "bad.safetensors",
            "layer.safetensors",
            "bad.toml",
            "bad.json",
            "configs",
            "missing.npy",
            "out",
        ]
        .iter()
        .map(|n| self.path(n))
        .collect()
    }
}

/// Numbers and non-numbers every value slot draws from.
fn hostile() -> Vec<String> {
    [
        "0",
        "1",
        "-1",
        "-0",
        "18446744073709551615",
        "18446744073709551616",
        "1000000000000",
        "1e308",
        "nan",
        "NaN",
        "inf",
        "-inf",
        "",
        " ",
        "x",
        "3.5",
        "0x10",
        "--",
        "ünï",
        "2,,3",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// One flag: its name and the values it sensibly takes (valid and small).
struct Flag {
    name: &'static str,
    valid: Vec<String>,
    /// A switch takes no value.
    switch: bool,
}

fn flag(name: &'static str, valid: &[&str]) -> Flag {
    Flag {
        name,
        valid: valid.iter().map(|s| s.to_string()).collect(),
        switch: false,
    }
}

fn switch(name: &'static str) -> Flag {
    Flag {
        name,
        valid: vec![],
        switch: true,
    }
}

/// The flags of each default-build subcommand (as in `superlinear SUB --help`).
fn flags(sub: &str, files: &Files) -> Vec<Flag> {
    let spectrum_file = format!("file:{}", files.path("spectrum.txt"));
    let text_file = format!("file:{}", files.path("text.txt"));
    let npy_file = format!("file:{}", files.path("trunc.npy"));
    match sub {
        "verify" => vec![
            flag("--seed", &["1", "20260205"]),
            flag("--cases", &["1", "2"]),
            flag("--claim", &["C2", "C99", "c2"]),
            switch("--json"),
            switch("--no-timings"),
            switch("--details"),
        ],
        "claims" => vec![
            flag("--seed", &["1", "20260205"]),
            flag("--cases", &["1", "2"]),
            flag("--claim", &["C2", "C99", "c2", "C14"]),
            flag("--records", &["experiments/results", "/nonexistent"]),
            flag("--configs", &["experiments/runs", "/nonexistent"]),
            switch("--json"),
            switch("--details"),
            switch("--write"),
        ],
        "baseline" => vec![
            flag("--d", &["2", "3", "5"]),
            flag(
                "--spectrum",
                &[
                    "spikes:1",
                    "spikes:9",
                    "power:1:2",
                    "power:-1",
                    "spikes-bulk:1:0.5",
                    "spikes-bulk:1:-2",
                    &spectrum_file,
                    &text_file,
                    &npy_file,
                    "file:",
                    "bogus:1",
                ],
            ),
            flag("--rotations", &["2", "3"]),
            flag("--seed", &["1"]),
            switch("--json"),
        ],
        "baseline-grid" => vec![
            flag("--d", &["2", "3", "2,3", "3,3", "2,", ",", "1"]),
            flag("--rotations", &["2", "3"]),
            flag("--seed", &["1"]),
            switch("--json"),
            flag(
                "--rescore",
                &[
                    &files.path("bad.json"),
                    &files.path("empty.npy"),
                    &files.path("missing.npy"),
                    &files.path("out"),
                ],
            ),
        ],
        "coupling" => {
            let npys: Vec<String> = [
                "good.npy",
                "empty.npy",
                "garbage.npy",
                "trunc.npy",
                "nonsym.npy",
                "rect.npy",
                "text.txt",
                "bad.safetensors",
                "missing.npy",
                "out",
            ]
            .iter()
            .map(|n| files.path(n))
            .collect();
            let npys: Vec<&str> = npys.iter().map(String::as_str).collect();
            vec![
                flag("--cov", &npys),
                flag("--hess", &npys),
                flag("--rotations", &["2", "3"]),
                flag("--seed", &["1"]),
                switch("--json"),
            ]
        }
        "reproduce" => {
            let out = [
                files.path("out"),
                files.path("out/sub"),
                files.path("bad.toml"),
            ];
            let results = [
                files.path("out/R.md"),
                files.path("configs"),
                files.path("out/x/y.md"),
            ];
            let repo_configs = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("experiments/runs")
                .display()
                .to_string();
            let configs = [
                repo_configs,
                files.path("configs"),
                files.path("missing.npy"),
            ];
            let s = |v: &[String]| v.to_vec();
            vec![
                flag("--table", &["1", "3", "2"]),
                flag("--scale", &["reduced", "paper", "huge"]),
                flag(
                    "--rows",
                    &[
                        "all",
                        "mnist-mlp",
                        "mnist-k3",
                        "cifar10-cnn-k3",
                        "zebra",
                        "",
                    ],
                ),
                flag("--seeds", &["1", "2"]),
                flag("--jobs", &["1", "2"]),
                Flag {
                    name: "--out",
                    valid: s(&out),
                    switch: false,
                },
                Flag {
                    name: "--configs",
                    valid: s(&configs),
                    switch: false,
                },
                Flag {
                    name: "--results",
                    valid: s(&results),
                    switch: false,
                },
                flag("--data", &["/nonexistent", "/work/shared/data"]),
                flag("--threads", &["1", "2"]),
                switch("--no-timings"),
                switch("--report-only"),
                switch("--quiet"),
                flag("--min-train-progress", &["0.5", "0", "1"]),
                flag("--lr", &["0.01"]),
            ]
        }
        "analyze" => vec![
            flag(
                "--factors",
                &[
                    &files.path("layer.safetensors"),
                    &files.path("layer.safetensors"),
                    &files.path("bad.safetensors"),
                ],
            ),
            flag("--checkpoint", &[&files.path("bad.safetensors")]),
            flag("--layer", &["fc.weight"]),
            flag("--samples", &["0", "10", "24", "25", "99999999"]),
            flag("--top-k", &["0", "3", "12", "13", "99999"]),
            flag("--loss", &["ce", "mse"]),
            flag("--batch-size", &["1", "4"]),
            flag("--threads", &["1"]),
            flag("--linalg-threads", &["0", "1", "2"]),
            flag("--eig", &["auto", "dense", "krylov-dense", "matrix-free"]),
            flag("--memory-limit-gib", &["1", "0.5"]),
            switch("--coupling-awd"),
            switch("--coupling-null"),
            switch("--term2"),
            flag("--pair-seed", &["0", "3"]),
            flag("--bootstrap-reps", &["2", "10"]),
            flag("--null-rotations", &["1", "5"]),
            flag("--uncertainty-seed", &["0", "7"]),
            switch("--json"),
            switch("--float64"),
            flag("--save-inputs", &[&files.path("out")]),
        ],
        _ => unreachable!("unknown subcommand {sub}"),
    }
}

/// Flags every vector carries: without them a valid run takes minutes.
const ALWAYS: &[(&str, &str)] = &[
    ("verify", "--claim"),
    ("claims", "--claim"),
    ("baseline-grid", "--d"),
    ("analyze", "--factors"),
];

/// Flags whose value a run writes to: only paths inside the case's tempdir.
const WRITES: &[&str] = &["--out", "--results", "--save-inputs"];

/// An argument vector for `sub`: a random subset of its flags, each with a
/// valid, hostile or path value (write targets always valid), sometimes a
/// stray token.
fn argv(sub: &'static str, files: &Files) -> impl Strategy<Value = Vec<String>> {
    let table = flags(sub, files);
    let hostile = hostile();
    let paths = files.all();
    let n = table.len();
    let per_flag: Vec<BoxedStrategy<Option<Vec<String>>>> = table
        .into_iter()
        .map(|f| {
            let name = f.name.to_string();
            if f.switch {
                prop_oneof![3 => Just(None), 1 => Just(Some(vec![name]))].boxed()
            } else {
                let valid = f.valid.clone();
                let value: BoxedStrategy<String> = if WRITES.contains(&f.name) {
                    proptest::sample::select(valid).boxed()
                } else {
                    prop_oneof![
                        3 => proptest::sample::select(valid),
                        2 => proptest::sample::select(hostile.clone()),
                        1 => proptest::sample::select(paths.clone()),
                        1 => "[ -~]{0,12}",
                    ]
                    .boxed()
                };
                let eq = f.name.to_string();
                // Slow defaults (every claim; the full d grid) are never left to run.
                let absent = if ALWAYS.contains(&(sub, f.name)) {
                    0
                } else {
                    2
                };
                prop_oneof![
                    absent => Just(None),
                    3 => value.clone().prop_map(move |v| Some(vec![name.clone(), v])),
                    1 => value.prop_map(move |v| Some(vec![format!("{eq}={v}")])),
                ]
                .boxed()
            }
        })
        .collect();
    let stray = prop_oneof![
        6 => Just(None),
        1 => proptest::sample::select(vec![
            "--bogus".to_string(),
            "stray".to_string(),
            "-x".to_string(),
            "--d".to_string(),
            "--".to_string(),
        ])
        .prop_map(Some),
    ];
    (per_flag, stray, any::<u64>()).prop_map(move |(chosen, stray, order)| {
        let mut pairs: Vec<Vec<String>> = chosen.into_iter().flatten().collect();
        // A seeded rotation so flag order varies too.
        if !pairs.is_empty() {
            let k = (order % pairs.len() as u64) as usize;
            pairs.rotate_left(k);
        }
        let mut v = vec![sub.to_string()];
        v.extend(pairs.into_iter().flatten());
        if let Some(s) = stray {
            v.push(s);
        }
        debug_assert!(v.len() <= 1 + 2 * n + 1);
        v
    })
}

fn run_in(dir: &Path, args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_superlinear"))
        .args(args)
        .current_dir(dir)
        .env_remove("SUPERLINEAR_DATA")
        .output()
        .unwrap()
}

/// The property for one argument vector; `Err` says what broke.
fn check(dir: &Path, args: &[String], flag_names: &[&str]) -> Result<(), String> {
    let out = run_in(dir, args);
    let err = String::from_utf8_lossy(&out.stderr);
    let code = out.status.code();
    let show = || format!("args {args:?}: exit {code:?}, stderr:\n{err}");
    if err.contains("panicked") || code == Some(101) {
        return Err(format!("panic: {}", show()));
    }
    match code {
        Some(0) | Some(1) => Ok(()),
        Some(2) => {
            let lines: Vec<&str> = err.lines().collect();
            if lines.len() != 1 || lines[0].trim().is_empty() {
                return Err(format!("exit 2 without exactly one line: {}", show()));
            }
            let line = lines[0];
            if names_input(line, args, flag_names) {
                Ok(())
            } else {
                Err(format!("exit 2 line names no input: {}", show()))
            }
        }
        _ => Err(format!("exit code outside 0..=2: {}", show())),
    }
}

/// Whether the error line names a flag (as `--name`, `name =`, `name:`), a
/// given value or a path.
fn names_input(line: &str, args: &[String], flag_names: &[&str]) -> bool {
    let flag_named = flag_names.iter().any(|f| {
        let bare = f.trim_start_matches('-');
        line.contains(f)
            || line.contains(&format!("{bare} ="))
            || line.contains(&format!("{bare}:"))
            || line.contains(&format!("'{bare}'"))
            || line.contains(&format!("\"{bare}\""))
    });
    let value_named = args.iter().skip(1).any(|a| {
        let v = a.split_once('=').map_or(a.as_str(), |(_, v)| v).trim();
        !v.is_empty() && line.contains(v)
    });
    // clap quotes what it could not take, possibly part of an argument
    // (`-inf` is read as the short flag `-i`).
    let quoted_named = line
        .split('\'')
        .nth(1)
        .is_some_and(|q| !q.is_empty() && args.iter().any(|a| a.contains(q)));
    flag_named || value_named || quoted_named
}

fn fuzz(sub: &'static str) {
    let files = Files::new();
    let table = flags(sub, &files);
    let mut names: Vec<&str> = table.iter().map(|f| f.name).collect();
    names.push("--bogus");
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(24);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let work = tempfile::tempdir().unwrap();
    let result = runner.run(&argv(sub, &files), |args| {
        check(work.path(), &args, &names).map_err(TestCaseError::fail)
    });
    if let Err(e) = result {
        panic!("{sub}: {e}");
    }
}

#[test]
fn fuzz_verify_args() {
    fuzz("verify");
}

#[test]
fn fuzz_claims_args() {
    fuzz("claims");
}

#[test]
fn fuzz_baseline_args() {
    fuzz("baseline");
}

#[test]
fn fuzz_baseline_grid_args() {
    fuzz("baseline-grid");
}

#[test]
fn fuzz_coupling_args() {
    fuzz("coupling");
}

#[test]
fn fuzz_analyze_args() {
    fuzz("analyze");
}

#[test]
fn fuzz_reproduce_args() {
    fuzz("reproduce");
}

/// Runs one fixed vector through the property (for the shrunk failures below).
fn pin(sub: &'static str, args: &[&str]) {
    let files = Files::new();
    let table = flags(sub, &files);
    let names: Vec<&str> = table.iter().map(|f| f.name).collect();
    let work = tempfile::tempdir().unwrap();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    if let Err(e) = check(work.path(), &args, &names) {
        panic!("{e}");
    }
}

#[test]
fn baseline_huge_d_is_refused_not_allocated() {
    pin(
        "baseline",
        &["baseline", "--d", "1000000000000", "--spectrum", "spikes:1"],
    );
}

#[test]
fn negative_infinity_as_a_seed_names_the_flag_clap_saw() {
    pin("coupling", &["coupling", "--seed", "-inf"]);
}

#[test]
fn empty_claim_id_names_the_flag() {
    pin("verify", &["verify", "--claim", ""]);
}

#[test]
fn clap_missing_argument_is_one_line() {
    pin("reproduce", &["reproduce", "--report-only"]);
}
