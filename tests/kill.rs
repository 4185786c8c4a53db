//! Faults injected into writes: `superlinear reproduce --report-only` on a
//! copy of the fixture's run records (`tests/fixtures/reproduce-records`) is
//! SIGKILLed at seeded random points; every
//! file it writes (tables, CSV, results document) must then be either absent,
//! the old text, or the whole new text of an uninterrupted run, never torn;
//! a torn or edited record is rerun, not trusted.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use superlinear::reproduce::record::{checked_body, with_checksum, Checksum};

use crate::util::{copy_dir, fixture_records};

const OUTPUTS: &[&str] = &["table1.md", "table1.csv", "R.md"];

fn command(out: &Path) -> Command {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut c = Command::new(env!("CARGO_BIN_EXE_superlinear"));
    c.args([
        "reproduce",
        "--table",
        "1",
        "--scale",
        "reduced",
        "--report-only",
    ])
    .arg("--no-timings")
    .args(crate::util::fixture_flags())
    .arg("--configs")
    .arg(root.join("experiments/runs"))
    .arg("--out")
    .arg(out)
    .arg("--results")
    .arg(out.join("R.md"))
    .current_dir(root)
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    c
}

#[test]
fn killed_report_never_leaves_a_torn_file() {
    let reference = tempfile::tempdir().unwrap();
    copy_dir(&fixture_records(), reference.path());
    let t0 = Instant::now();
    let status = command(reference.path()).status().unwrap();
    let full = t0.elapsed();
    assert!(matches!(status.code(), Some(0 | 1)), "{status:?}");
    let expected: Vec<String> = OUTPUTS
        .iter()
        .map(|n| {
            let text = std::fs::read_to_string(reference.path().join(n)).unwrap();
            text.replace(&reference.path().display().to_string(), "OUT")
        })
        .collect();

    let mut rng = ChaCha8Rng::seed_from_u64(20260205);
    let (mut killed, mut complete, mut absent) = (0, 0, 0);
    for _ in 0..12 {
        let work = tempfile::tempdir().unwrap();
        copy_dir(&fixture_records(), work.path());
        for n in OUTPUTS {
            let _ = std::fs::remove_file(work.path().join(n));
        }
        let after = Duration::from_micros(rng.random_range(0..full.as_micros().max(1) as u64));
        let mut child = command(work.path()).spawn().unwrap();
        std::thread::sleep(after);
        if child.try_wait().unwrap().is_none() {
            killed += 1;
        }
        let _ = child.kill();
        child.wait().unwrap();
        for (n, want) in OUTPUTS.iter().zip(&expected) {
            match std::fs::read_to_string(work.path().join(n)) {
                Ok(text) => {
                    let text = text.replace(&work.path().display().to_string(), "OUT");
                    assert_eq!(&text, want, "{n} torn after a kill at {after:?}");
                    complete += 1;
                }
                Err(_) => absent += 1,
            }
        }
    }
    eprintln!(
        "report-only: full run {full:?}; 12 kills ({killed} while running): \
         {complete} outputs whole, {absent} absent, 0 torn"
    );
}

#[test]
fn torn_or_edited_record_is_refused_legacy_accepted() {
    let runs = fixture_records().join("runs");
    let row = std::fs::read_dir(&runs).unwrap().next().unwrap().unwrap();
    let stored = std::fs::read_to_string(row.path().join("seed-0.json")).unwrap();
    // The fixture's records carry a checksum; a legacy record is the same
    // text without it.
    let legacy = match checked_body(&stored) {
        Checksum::Valid(b) | Checksum::Legacy(b) => format!("{}\n", b.trim_end()),
        Checksum::Mismatch => panic!("fixture record {} is torn", row.path().display()),
    };
    assert!(matches!(checked_body(&legacy), Checksum::Legacy(_)));
    let body = legacy.trim_end().to_string();
    let text = with_checksum(&body);
    assert_eq!(checked_body(&text), Checksum::Valid(body.clone()));
    for cut in [text.len() / 3, text.len() - 2] {
        let torn = &text[..cut];
        assert!(
            !matches!(checked_body(torn), Checksum::Valid(_))
                && serde_json::from_str::<serde_json::Value>(match checked_body(torn) {
                    Checksum::Legacy(ref b) => b,
                    _ => "{",
                })
                .is_err(),
            "a record cut at {cut} was accepted"
        );
    }
    let edited = text.replacen("\"seed\": 0", "\"seed\": 7", 1);
    assert_ne!(edited, text);
    assert_eq!(checked_body(&edited), Checksum::Mismatch);
}
