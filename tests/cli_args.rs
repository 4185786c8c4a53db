//! Random argument vectors for every subcommand (verify, claims, baseline,
//! baseline-grid, coupling, analyze, reproduce, net-grid; with the feature
//! `torch` also train, analyze --checkpoint, net-claims and the training
//! paths of reproduce and net-grid, as the `torch_*` tests), built from each
//! subcommand's real flags with hostile values (0, negative, huge, NaN, inf,
//! garbage, empty) and paths to broken files (empty, truncated and garbage
//! .npy, text, safetensors, toml). The property: the exit code is 0, 1 or 2,
//! nothing panics, every exit 2 prints exactly one non-empty line on stderr
//! that names the input (a flag, a value or a path), and every invocation
//! ends within [`TIMEOUT`].
//!
//! 24 cases per subcommand by default, from a seed fixed per subcommand so
//! that a run is repeatable; `PROPTEST_CASES` raises the count and
//! `PROPTEST_RNG_SEED` explores other vectors (a find becomes a named test
//! at the end of this file). Sizes stay
//! small or out of range so a valid run ends in well under a second; flags
//! whose large values only mean a long valid run (epochs, seeds, rotations)
//! draw no large numbers ([`SLOW`]).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ndarray::Array2;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestRunner};
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
        std::fs::create_dir(p.join("tiny-configs")).unwrap();
        std::fs::write(
            p.join("tiny-configs/mnist-cnn-ce.toml"),
            TINY_FAMILY
                .replace("DATASET", "mnist")
                .replace("MODEL", "cnn"),
        )
        .unwrap();
        std::fs::write(p.join("tiny-grid.toml"), TINY_GRID).unwrap();
        #[cfg(feature = "torch")]
        if let Some(data) = crate::util::shared_data() {
            // A trained run (MLP 784-6-5-3, 5 per class, 2 epochs) for
            // analyze --checkpoint and net-claims.
            let out = Command::new(env!("CARGO_BIN_EXE_superlinear"))
                .args([
                    "train",
                    "--classes",
                    "3",
                    "--per-class",
                    "5",
                    "--epochs",
                    "2",
                ])
                .args([
                    "--widths",
                    "6,5",
                    "--batch-size",
                    "5",
                    "--checkpoint-every",
                    "1",
                ])
                .arg("--json")
                .arg("--out")
                .arg(p.join("run"))
                .arg("--data")
                .arg(data)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
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

/// The family file of the training fuzz: MNIST CNN, K = 3, 30 per class,
/// 3 epochs, a 4 x 4 layer (shared with the kill tests).
const TINY_FAMILY: &str = crate::util::TINY_FAMILY;

/// A net-grid config of one family, one rate, one seed, one epoch.
const TINY_GRID: &str = r#"
classes = 3
seeds = [0]
per_class = 5
epochs = 1
checkpoint_every = 1
lr_candidates = [0.1]
analyze_samples = 15
top_k = 5

[premise]
ce_min_accuracy = 0.99
mse_min_accuracy = 0.95
mse_plateau_epochs = 1
mse_plateau_max_accuracy_change = 0.005

[[family]]
dataset = "mnist"
model = "mlp"
loss = "ce"
batch = 5
widths = [6, 5]
"#;

/// Longest an invocation may take.
const TIMEOUT: Duration = Duration::from_secs(60);

/// Flags whose large values are valid and only mean a long run: they draw
/// no large numbers.
const SLOW: &[(&str, &str)] = &[
    ("train", "--epochs"),
    ("train", "--per-class"),
    ("reproduce", "--seeds"),
    ("net-claims", "--structure-rotations"),
    ("net-claims", "--batch-draws"),
];

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
            // With training compiled in, only the tiny configs may train.
            let repo_configs = if cfg!(feature = "torch") {
                files.path("tiny-configs")
            } else {
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("experiments/runs")
                    .display()
                    .to_string()
            };
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
                flag("--data", &["/nonexistent", &shared_data_path()]),
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
            flag(
                "--checkpoint",
                &[
                    &files.path("bad.safetensors"),
                    &files.path("run/final.safetensors"),
                    &files.path("run/epoch-0001.safetensors"),
                ],
            ),
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
        "analyze-checkpoint" => flags("analyze", files)
            .into_iter()
            .filter(|f| f.name != "--factors")
            .collect(),
        "net-grid" => vec![
            flag(
                "--config",
                &[
                    &files.path("tiny-grid.toml"),
                    &files.path("bad.toml"),
                    &files.path("missing.npy"),
                ],
            ),
            flag("--out", &[&files.path("out/net")]),
            flag("--work", &[&files.path("out/work")]),
            flag("--data", &["/nonexistent", &shared_data_path()]),
            flag("--jobs", &["1", "2"]),
            flag("--threads", &["1", "2"]),
            flag("--shard", &["0/1", "1/2", "2/2", "x"]),
            flag("--stage", &["all", "pilot", "train", "analyze", "bogus"]),
            switch("--reanalyze"),
            switch("--report-only"),
            switch("--json"),
            switch("--quiet"),
        ],
        "train" => vec![
            flag("--dataset", &["mnist", "cifar10", "imagenet"]),
            flag("--data", &["/nonexistent", &shared_data_path()]),
            flag("--classes", &["2", "3", "1", "11"]),
            flag("--per-class", &["1", "3", "5"]),
            flag("--model", &["mlp", "cnn", "rnn"]),
            flag("--loss", &["ce", "mse", "hinge"]),
            flag("--lr", &["0.1", "0.01", "1e6"]),
            flag("--batch-size", &["1", "5", "100"]),
            flag("--epochs", &["1", "2"]),
            flag("--seed", &["0", "7"]),
            flag("--checkpoint-every", &["0", "1"]),
            flag("--widths", &["4", "4,3", "2,2", "0,3", ""]),
            flag("--cnn-pool-side", &["1", "2", "0"]),
            flag("--cnn-hidden", &["3", "0"]),
            flag("--out", &[&files.path("out/train")]),
            flag("--device", &["cpu", "cuda", "garbage"]),
            flag("--threads", &["1", "2"]),
            switch("--json"),
        ],
        "net-claims" => vec![
            flag(
                "--run",
                &[
                    &files.path("run"),
                    &files.path("configs"),
                    &files.path("missing.npy"),
                ],
            ),
            flag("--claims", &["C3", "C6,C7", "C8", "C13", "C15", "C99", ""]),
            flag("--samples", &["5", "15", "0"]),
            flag("--top-k", &["3", "5", "30", "0"]),
            flag("--layer", &["fc2.weight", "fc1.weight", "conv1.weight"]),
            flag("--seed", &["0", "1"]),
            switch("--one-to-one"),
            flag("--stride", &["1", "2", "0"]),
            flag("--q", &["0.5", "0.1"]),
            flag("--structure-rotations", &["2", "5"]),
            flag("--batch-draws", &["2", "3"]),
            switch("--structure-every-checkpoint"),
            flag("--threads", &["1"]),
            switch("--json"),
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
    ("analyze-checkpoint", "--checkpoint"),
    ("net-grid", "--config"),
    ("reproduce", "--configs"),
    ("train", "--per-class"),
    ("train", "--epochs"),
    ("train", "--out"),
    ("net-claims", "--run"),
];

/// Flags whose value a run writes to: only paths inside the case's tempdir.
const WRITES: &[&str] = &["--out", "--results", "--save-inputs", "--work"];

/// The shared data directory, or a path that does not exist.
fn shared_data_path() -> String {
    crate::util::shared_data()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "/nonexistent-data".into())
}

/// An argument vector for `sub`: a random subset of its flags, each with a
/// valid, hostile or path value (write targets always valid), sometimes a
/// stray token.
fn argv(sub: &'static str, files: &Files) -> impl Strategy<Value = Vec<String>> {
    let table = flags(sub, files);
    let hostile = hostile();
    // No count outside 1..=100 (0 means "all samples" for --per-class).
    let small = |v: &String| {
        v.trim()
            .parse::<f64>()
            .map_or(true, |x| (1.0..=100.0).contains(&x))
    };
    let hostile_small: Vec<String> = hostile.iter().filter(|v| small(v)).cloned().collect();
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
                } else if SLOW.contains(&(sub, f.name)) {
                    prop_oneof![
                        3 => proptest::sample::select(valid),
                        2 => proptest::sample::select(hostile_small.clone()),
                    ]
                    .boxed()
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
        let mut v = vec![command_of(sub).to_string()];
        v.extend(pairs.into_iter().flatten());
        if let Some(s) = stray {
            v.push(s);
        }
        debug_assert!(v.len() <= 1 + 2 * n + 1);
        v
    })
}

/// The subcommand a flag table is for (`analyze-checkpoint`: `analyze`
/// on a checkpoint of the torch tier).
fn command_of(sub: &str) -> &str {
    sub.strip_suffix("-checkpoint").unwrap_or(sub)
}

/// Exit code and stderr of one invocation, or `Err` when it outlives
/// [`TIMEOUT`] (then killed).
fn run_in(dir: &Path, args: &[String]) -> Result<(Option<i32>, String), String> {
    let out = tempfile::NamedTempFile::new_in(dir).unwrap();
    let err = tempfile::NamedTempFile::new_in(dir).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_superlinear"))
        .args(args)
        .current_dir(dir)
        .env_remove("SUPERLINEAR_DATA")
        .stdin(Stdio::null())
        .stdout(out.reopen().unwrap())
        .stderr(err.reopen().unwrap())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t0.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("args {args:?}: still running after {TIMEOUT:?}"));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stderr = std::fs::read_to_string(err.path()).unwrap_or_default();
    Ok((status.code(), stderr))
}

/// The property for one argument vector; `Err` says what broke.
fn check(dir: &Path, args: &[String], flag_names: &[&str]) -> Result<(), String> {
    let (code, err) = run_in(dir, args)?;
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

/// The fixed seed of a subcommand's vectors (FNV-1a of its name).
fn seed_of(sub: &str) -> u64 {
    sub.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
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
    let base = Config::default();
    let rng_seed = match base.rng_seed {
        RngSeed::Random => RngSeed::Fixed(seed_of(sub)),
        fixed => fixed,
    };
    let mut runner = TestRunner::new(Config {
        cases,
        rng_seed,
        failure_persistence: None,
        ..base
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

// With the feature `torch` the training paths run as `torch_fuzz_*`.
#[cfg(not(feature = "torch"))]
#[test]
fn fuzz_reproduce_args() {
    fuzz("reproduce");
}

// With the feature `torch` the training paths run as `torch_fuzz_*`.
#[cfg(not(feature = "torch"))]
#[test]
fn fuzz_net_grid_args() {
    fuzz("net-grid");
}

#[cfg(feature = "torch")]
#[test]
fn torch_fuzz_train_args() {
    fuzz("train");
}

#[cfg(feature = "torch")]
#[test]
fn torch_fuzz_net_claims_args() {
    fuzz("net-claims");
}

#[cfg(feature = "torch")]
#[test]
fn torch_fuzz_analyze_checkpoint_args() {
    fuzz("analyze-checkpoint");
}

#[cfg(feature = "torch")]
#[test]
fn torch_fuzz_reproduce_training_args() {
    fuzz("reproduce");
}

#[cfg(feature = "torch")]
#[test]
fn torch_fuzz_net_grid_training_args() {
    fuzz("net-grid");
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
fn missing_default_config_names_its_flag() {
    pin("net-grid", &["net-grid"]);
    pin("reproduce", &["reproduce"]);
}

#[test]
fn clap_missing_argument_is_one_line() {
    pin("reproduce", &["reproduce", "--report-only"]);
}
