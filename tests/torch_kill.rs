//! Faults injected into real training (feature `torch`): `superlinear train`
//! and `superlinear reproduce` on tiny configs (a CIFAR-10 MLP and an MNIST
//! CNN, K = 3, 30 samples per class, 3 epochs, layers of d = 64 and 16
//! analysed) are SIGKILLed at seeded random points and restarted. What must
//! hold:
//!
//! - no torn file is ever read as valid: every checkpoint present loads and
//!   is byte-identical to the uninterrupted run's, every record present has
//!   a matching checksum and the uninterrupted run's figures, every
//!   `run.json` and results document present is a whole one (the one an
//!   uninterrupted run writes for some set of finished records);
//! - finished runs are reused, not retrained (their record files are left
//!   byte for byte, and the restart says so);
//! - the restarted call ends with the uninterrupted run's `RESULTS.md` byte
//!   for byte (`--no-timings`), and its records, equal up to the wall and
//!   CPU times;
//! - the same seed gives the same records and `RESULTS.md` for `--jobs 1`
//!   and `2`, and for `--threads 1` and `2` bitwise on the MLP (the pinned
//!   CPU dispatch, `superlinear::torch::dispatch`), within a stated
//!   tolerance on the CNN;
//! - the pinned dispatch is in force in the binary, and another libtorch
//!   CPU capability (`ATEN_CPU_CAPABILITY=default`) trains to weights within
//!   the tolerance stated in the README's reliability section.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use superlinear::reproduce::record::{checked_body, Checksum};
use superlinear::torch::checkpoint::load_net;

use crate::util::shared_data;

/// Two family files, one MLP and one CNN, with the same unknowns
/// ([`crate::util::TINY_FAMILY`]).
const FAMILY: &str = crate::util::TINY_FAMILY;

/// The rows of [`FAMILY`] (dataset, model).
const ROWS: [(&str, &str); 2] = [("cifar10", "mlp"), ("mnist", "cnn")];

/// Seeds per row of the reproduce calls.
const SEEDS: usize = 2;

/// Kill points per command.
const KILLS: usize = 6;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_superlinear"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("ATEN_CPU_CAPABILITY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn configs(dir: &Path) -> PathBuf {
    let c = dir.join("configs");
    std::fs::create_dir_all(&c).unwrap();
    for (data, model) in ROWS {
        let text = FAMILY.replace("DATASET", data).replace("MODEL", model);
        std::fs::write(c.join(format!("{data}-{model}-ce.toml")), text).unwrap();
    }
    c
}

fn reproduce(configs: &Path, out: &Path, data: &Path, jobs: usize, threads: usize) -> Command {
    let mut c = bin();
    c.args(["reproduce", "--table", "1", "--scale", "reduced", "--quiet"])
        .arg("--no-timings")
        .args(["--seeds", &SEEDS.to_string()])
        .args(["--jobs", &jobs.to_string()])
        .args(["--threads", &threads.to_string()])
        .arg("--configs")
        .arg(configs)
        .arg("--out")
        .arg(out)
        .arg("--results")
        .arg(out.join("RESULTS.md"))
        .arg("--data")
        .arg(data);
    c
}

fn train(out: &Path, data: &Path, threads: usize) -> Command {
    let mut c = bin();
    c.args([
        "train",
        "--dataset",
        "mnist",
        "--model",
        "cnn",
        "--loss",
        "ce",
    ])
    .args(["--classes", "3", "--per-class", "30", "--batch-size", "10"])
    .args([
        "--widths",
        "2,4",
        "--cnn-hidden",
        "4",
        "--cnn-pool-side",
        "1",
    ])
    .args(["--epochs", "4", "--checkpoint-every", "1", "--json"])
    .args(["--threads", &threads.to_string()])
    .arg("--out")
    .arg(out)
    .arg("--data")
    .arg(data);
    c
}

fn finished(mut c: Command) -> Output {
    let out = c.output().unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Starts `c`, SIGKILLs it after `after` (if still running); whether it was
/// still running.
fn kill_after(mut c: Command, after: Duration) -> bool {
    let mut child = c
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(after);
    let running = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    child.wait().unwrap();
    running
}

/// `path` with every occurrence of `dir` replaced by `OUT`.
fn normalised(path: &Path, dir: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .replace(&dir.display().to_string(), "OUT")
}

/// The record files under `out/runs`, sorted.
fn record_files(out: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(rows) = std::fs::read_dir(out.join("runs")) else {
        return found;
    };
    for row in rows {
        for f in std::fs::read_dir(row.unwrap().path()).unwrap() {
            let p = f.unwrap().path();
            if p.extension().is_some_and(|x| x == "json") {
                found.push(p);
            }
        }
    }
    found.sort();
    found
}

/// A record's JSON without what legitimately differs between two runs of
/// the same config: wall and CPU times (`timings`, the stage seconds) and
/// the libtorch thread count of the provenance.
fn comparable(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap();
    let Checksum::Valid(body) = checked_body(&text) else {
        panic!("{}: record without a valid checksum", path.display());
    };
    let mut v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let o = v.as_object_mut().unwrap();
    o.remove("timings");
    o["analyze"].as_object_mut().unwrap().remove("stages");
    o["provenance"].as_object_mut().unwrap().remove("threads");
    v
}

fn relative(p: &Path, root: &Path) -> PathBuf {
    p.strip_prefix(root).unwrap().to_path_buf()
}

fn copy_records(records: &[PathBuf], from: &Path, to: &Path) {
    for r in records {
        let t = to.join(relative(r, from));
        std::fs::create_dir_all(t.parent().unwrap()).unwrap();
        std::fs::copy(r, t).unwrap();
    }
}

/// Runs of one reproduce call: rows x seeds.
const RUNS: usize = ROWS.len() * SEEDS;

/// The results document `--report-only` renders from the reference records
/// in `mask` (bit i: the i-th of `records`), with the output path as `OUT`.
fn rendered(
    mask: usize,
    records: &[PathBuf],
    reference: &Path,
    dir: &Path,
    cfg: &Path,
    data: &Path,
) -> String {
    let sub = dir.join(format!("subset-{mask}"));
    if !sub.join("RESULTS.md").is_file() {
        let chosen: Vec<PathBuf> = (0..records.len())
            .filter(|i| mask & (1 << i) != 0)
            .map(|i| records[i].clone())
            .collect();
        copy_records(&chosen, reference, &sub);
        let mut c = reproduce(cfg, &sub, data, 1, 1);
        c.arg("--report-only");
        finished(c);
    }
    normalised(&sub.join("RESULTS.md"), &sub)
}

#[test]
fn torch_killed_reproduce_resumes_to_the_same_results() {
    let Some(data) = shared_data().filter(|d| d.join("mnist-10k").is_dir()) else {
        eprintln!("skipped: no shared MNIST data (SUPERLINEAR_DATA)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = configs(dir.path());
    let reference = dir.path().join("reference");
    let t0 = Instant::now();
    finished(reproduce(&cfg, &reference, &data, 1, 1));
    let full = t0.elapsed();
    let ref_records = record_files(&reference);
    assert_eq!(ref_records.len(), RUNS);
    let ref_results = normalised(&reference.join("RESULTS.md"), &reference);
    let names: Vec<PathBuf> = ref_records
        .iter()
        .map(|p| relative(p, &reference))
        .collect();
    assert_eq!(
        rendered(
            (1 << RUNS) - 1,
            &ref_records,
            &reference,
            dir.path(),
            &cfg,
            &data
        ),
        ref_results,
        "--report-only renders what the training call wrote"
    );

    let mut rng = ChaCha8Rng::seed_from_u64(20260205);
    let (mut running, mut reused_total, mut partial_docs) = (0, 0, 0);
    for k in 0..KILLS {
        let work = dir.path().join(format!("killed-{k}"));
        let after = Duration::from_micros(rng.random_range(0..full.as_micros() as u64));
        running += usize::from(kill_after(reproduce(&cfg, &work, &data, 1, 1), after));
        // What the kill left: whole records and documents only.
        let left = record_files(&work);
        let kept: Vec<(PathBuf, Vec<u8>)> = left
            .iter()
            .map(|p| (p.clone(), std::fs::read(p).unwrap()))
            .collect();
        let mut mask = 0usize;
        for p in &left {
            let r = relative(p, &work);
            assert_eq!(
                comparable(p),
                comparable(&reference.join(&r)),
                "{} after a kill at {after:?}",
                r.display()
            );
            mask |= 1 << names.iter().position(|n| *n == r).unwrap();
        }
        let results = work.join("RESULTS.md");
        if results.is_file() {
            // Written after each record: for the records left, or for all
            // but the last one saved.
            let text = normalised(&results, &work);
            let whole = std::iter::once(mask)
                .chain(
                    (0..RUNS)
                        .filter(|i| mask & (1 << i) != 0)
                        .map(|i| mask & !(1 << i)),
                )
                .any(|m| rendered(m, &ref_records, &reference, dir.path(), &cfg, &data) == text);
            assert!(whole, "torn RESULTS.md after a kill at {after:?}:\n{text}");
            partial_docs += 1;
        }
        // The restart reuses what finished and ends where the reference did.
        let out = finished(reproduce(&cfg, &work, &data, 1, 1));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = format!(
            "{} runs trained now, {} reused",
            RUNS - kept.len(),
            kept.len()
        );
        assert!(stdout.contains(&line), "{line:?} not in:\n{stdout}");
        for (p, bytes) in &kept {
            assert_eq!(
                &std::fs::read(p).unwrap(),
                bytes,
                "{} rewritten",
                p.display()
            );
        }
        reused_total += kept.len();
        assert_eq!(record_files(&work).len(), RUNS);
        for p in record_files(&work) {
            let r = relative(&p, &work);
            assert_eq!(
                comparable(&p),
                comparable(&reference.join(&r)),
                "{}",
                r.display()
            );
        }
        assert_eq!(
            normalised(&work.join("RESULTS.md"), &work),
            ref_results,
            "RESULTS.md after a kill at {after:?} and a restart"
        );
    }
    eprintln!(
        "reproduce: full run {full:?}; {KILLS} kills ({running} while running), \
         {reused_total} finished runs reused on restart, {partial_docs} partial \
         RESULTS.md all whole, 0 torn; final RESULTS.md identical"
    );
}

/// The checkpoints (`*.safetensors`, no temporaries) of a train directory.
fn checkpoints(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".safetensors") && !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// `run.json` without its wall times and output paths.
fn run_json(dir: &Path) -> serde_json::Value {
    let mut v: serde_json::Value =
        serde_json::from_str(&normalised(&dir.join("run.json"), dir)).unwrap();
    let o = v.as_object_mut().unwrap();
    o.remove("seconds");
    for e in o["epochs"].as_array_mut().unwrap() {
        e.as_object_mut().unwrap().remove("seconds");
    }
    v
}

#[test]
fn torch_killed_train_never_leaves_a_torn_checkpoint() {
    let Some(data) = shared_data().filter(|d| d.join("mnist-10k").is_dir()) else {
        eprintln!("skipped: no shared MNIST data (SUPERLINEAR_DATA)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("reference");
    let t0 = Instant::now();
    finished(train(&reference, &data, 1));
    let full = t0.elapsed();
    let names = checkpoints(&reference);
    assert_eq!(names.len(), 5, "{names:?}");
    let ref_json = run_json(&reference);

    let mut rng = ChaCha8Rng::seed_from_u64(20260206);
    let (mut running, mut seen) = (0, 0);
    for k in 0..KILLS {
        let work = dir.path().join(format!("killed-{k}"));
        let after = Duration::from_micros(rng.random_range(0..full.as_micros() as u64));
        running += usize::from(kill_after(train(&work, &data, 1), after));
        for n in checkpoints(&work) {
            let p = work.join(&n);
            load_net(&p).unwrap_or_else(|e| panic!("{n} after a kill at {after:?}: {e}"));
            assert_eq!(
                std::fs::read(&p).unwrap(),
                std::fs::read(reference.join(&n)).unwrap(),
                "{n} after a kill at {after:?}"
            );
            seen += 1;
        }
        if work.join("run.json").is_file() {
            let v = run_json(&work);
            assert_eq!(v["spec"], ref_json["spec"]);
            assert_eq!(v["epochs"], ref_json["epochs"]);
        }
        finished(train(&work, &data, 1));
        assert_eq!(checkpoints(&work), names);
        for n in &names {
            assert_eq!(
                std::fs::read(work.join(n)).unwrap(),
                std::fs::read(reference.join(n)).unwrap(),
                "{n} after a restart"
            );
        }
        assert_eq!(run_json(&work), ref_json);
    }
    eprintln!(
        "train: full run {full:?}; {KILLS} kills ({running} while running), \
         {seen} checkpoints left, all whole and identical, 0 torn"
    );
}

/// Records of the MLP row (its name holds `mlp`).
fn is_mlp(p: &Path) -> bool {
    p.to_string_lossy().contains("-mlp-")
}

/// The gamma of a record.
fn gamma(p: &Path) -> f64 {
    comparable(p)["analyze"]["gamma"]["gamma"]
        .as_f64()
        .unwrap_or(f64::NAN)
}

#[test]
fn torch_same_seed_same_records_for_any_jobs_and_threads() {
    let Some(data) = shared_data().filter(|d| d.join("mnist-10k").is_dir()) else {
        eprintln!("skipped: no shared MNIST data (SUPERLINEAR_DATA)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = configs(dir.path());
    let calls = [(1, 1), (2, 1), (2, 2)];
    let outs: Vec<PathBuf> = calls
        .iter()
        .map(|(j, t)| {
            let out = dir.path().join(format!("jobs-{j}-threads-{t}"));
            finished(reproduce(&cfg, &out, &data, *j, *t));
            out
        })
        .collect();
    let base = record_files(&outs[0]);
    assert_eq!(base.len(), RUNS);
    for (out, (j, t)) in outs.iter().zip(calls).skip(1) {
        let other = record_files(out);
        assert_eq!(
            base.iter()
                .map(|p| relative(p, &outs[0]))
                .collect::<Vec<_>>(),
            other.iter().map(|p| relative(p, out)).collect::<Vec<_>>()
        );
        for (p, q) in base.iter().zip(&other) {
            let name = relative(p, &outs[0]);
            if t == 1 || is_mlp(p) {
                // Same threads, or an MLP (pinned GEMMs): bitwise.
                assert_eq!(
                    comparable(p),
                    comparable(q),
                    "{} at --jobs {j} --threads {t}",
                    name.display()
                );
            } else {
                // The CNN's convolution weight gradients are summed per
                // thread: within the README's stated tolerance.
                let (a, b) = (gamma(p), gamma(q));
                assert!(
                    (a - b).abs() <= CNN_THREADS_GAMMA_TOL * a.abs(),
                    "{}: gamma {a} at 1 thread, {b} at {t}",
                    name.display()
                );
            }
        }
    }
    assert_eq!(
        normalised(&outs[0].join("RESULTS.md"), &outs[0]),
        normalised(&outs[1].join("RESULTS.md"), &outs[1]),
        "RESULTS.md at --jobs 1 and 2"
    );
    // Training alone: an MLP's checkpoints are byte-identical at 1 and 2 threads.
    let (t1, t2) = (dir.path().join("t1"), dir.path().join("t2"));
    finished(train_mlp(&t1, &data, 1));
    finished(train_mlp(&t2, &data, 2));
    let names = checkpoints(&t1);
    assert_eq!(names.len(), 5);
    for n in names {
        assert_eq!(
            std::fs::read(t1.join(&n)).unwrap(),
            std::fs::read(t2.join(&n)).unwrap(),
            "{n} at 1 and 2 threads"
        );
    }
}

/// Relative gamma difference allowed between `--threads 1` and `2` on the
/// tiny CNN (measured: 2e-8 after 3 epochs; README, reliability section).
const CNN_THREADS_GAMMA_TOL: f64 = 1e-6;

/// `train` of the MNIST MLP 784-50-50-3 on 60 samples per class, 4 epochs.
fn train_mlp(out: &Path, data: &Path, threads: usize) -> Command {
    let mut c = bin();
    c.args([
        "train",
        "--dataset",
        "mnist",
        "--model",
        "mlp",
        "--loss",
        "ce",
    ])
    .args(["--classes", "3", "--per-class", "60", "--batch-size", "20"])
    .args(["--epochs", "4", "--checkpoint-every", "1", "--json"])
    .args(["--threads", &threads.to_string()])
    .arg("--out")
    .arg(out)
    .arg("--data")
    .arg(data);
    c
}

/// Largest `|a - b|` over all weights of two checkpoints, over the largest
/// `|a|`.
fn weight_distance(a: &Path, b: &Path) -> f64 {
    let read = |p: &Path| -> Vec<f32> {
        let mut named = tch::Tensor::read_safetensors(p).unwrap();
        named.sort_by(|x, y| x.0.cmp(&y.0));
        named
            .iter()
            .flat_map(|(_, t)| {
                let t = t.flatten(0, -1);
                Vec::<f32>::try_from(&t).unwrap()
            })
            .collect()
    };
    let (x, y) = (read(a), read(b));
    assert_eq!(x.len(), y.len());
    let scale = x.iter().fold(0f32, |m, v| m.max(v.abs())) as f64;
    let diff = x
        .iter()
        .zip(&y)
        .fold(0f32, |m, (u, v)| m.max((u - v).abs())) as f64;
    diff / scale
}

/// Relative weight distance allowed between two libtorch CPU capabilities
/// after the 4-epoch MLP run of [`train_mlp`] (README, reliability section).
const CAPABILITY_WEIGHT_TOL: f64 = 1e-4;

#[test]
fn torch_cpu_capabilities_agree_within_tolerance() {
    let Some(data) = shared_data().filter(|d| d.join("mnist-10k").is_dir()) else {
        eprintln!("skipped: no shared MNIST data (SUPERLINEAR_DATA)");
        return;
    };
    if !superlinear::torch::dispatch::cpu_has_avx2() {
        eprintln!("skipped: the pinned dispatch needs AVX2");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pinned = dir.path().join("pinned");
    let explicit = dir.path().join("explicit");
    let other = dir.path().join("other");
    finished(train_mlp(&pinned, &data, 1));
    // The pin is what the binary sets when the environment leaves it unset.
    let mut c = train_mlp(&explicit, &data, 1);
    for (name, value) in superlinear::torch::dispatch::PINNED {
        c.env(name, value);
    }
    finished(c);
    let fin = |d: &Path| d.join("final.safetensors");
    assert_eq!(
        std::fs::read(fin(&pinned)).unwrap(),
        std::fs::read(fin(&explicit)).unwrap(),
        "the pinned dispatch is not in force"
    );
    // Another capability (the scalar kernels: present on every CPU).
    let mut c = train_mlp(&other, &data, 1);
    c.env("ATEN_CPU_CAPABILITY", "default");
    finished(c);
    let dist = weight_distance(&fin(&pinned), &fin(&other));
    eprintln!("capability default against avx2: relative weight distance {dist:.3e}");
    assert!(
        dist > 0.0,
        "the capability had no effect: the test measures nothing"
    );
    assert!(
        dist <= CAPABILITY_WEIGHT_TOL,
        "capabilities default and avx2 {dist:.3e} apart, over {CAPABILITY_WEIGHT_TOL:e}"
    );
}
