//! Every command's `--json` output parses, opens with `schema_version` and
//! holds no Rust enum tag (`"Ok"`/`"Err"` keys); the commands that need
//! libtorch are checked in the torch tier's modules. Every committed JSON
//! file under `experiments/`, `theory/` and the test fixtures is free of
//! those tags too.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use superlinear::error::or_error::has_result_tags;

use crate::util::copy_dir;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// Runs the binary in the repository root; exit 0 or 1 (a verdict) expected.
fn json_of(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_superlinear"))
        .args(args)
        .current_dir(REPO)
        .output()
        .expect("run superlinear");
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: stdout is not JSON: {e}"));
    assert_user_json(&v, &format!("{args:?}"));
    v
}

/// A JSON document as users get it: an object with a numeric
/// `schema_version` and no `Ok`/`Err` key anywhere.
pub(crate) fn assert_user_json(v: &Value, what: &str) {
    assert!(
        v.get("schema_version").is_some_and(Value::is_u64),
        "{what}: no schema_version"
    );
    assert!(!has_result_tags(v), "{what}: holds an Ok/Err tag");
    if let Some(e) = enum_like(v) {
        panic!("{what}: {e} looks like a Rust enum variant");
    }
}

/// A key or string value spelled like a Rust enum variant (`CamelCase`, one
/// word): an externally tagged or unit variant serialised by its Rust name.
fn enum_like(v: &Value) -> Option<String> {
    let camel = |s: &str| {
        let mut c = s.chars();
        c.next().is_some_and(|f| f.is_ascii_uppercase())
            && s.chars().all(|c| c.is_ascii_alphanumeric())
            && s.chars().skip(1).any(|c| c.is_ascii_lowercase())
            && s.len() > 1
    };
    match v {
        Value::Object(m) => m.iter().find_map(|(k, x)| {
            if camel(k) {
                Some(format!("key {k:?}"))
            } else {
                enum_like(x)
            }
        }),
        Value::Array(items) => items.iter().find_map(enum_like),
        Value::String(s) if camel(s) => Some(format!("value {s:?}")),
        _ => None,
    }
}

#[test]
fn synthetic_commands_print_versioned_json() {
    let v = json_of(&["verify", "--cases", "2", "--claim", "C2", "--json"]);
    assert_eq!(v["claims"][0]["id"], "C2");
    json_of(&["claims", "--cases", "2", "--claim", "C2", "--json"]);
    let v = json_of(&[
        "baseline",
        "--d",
        "20",
        "--spectrum",
        "spikes:2",
        "--rotations",
        "20",
        "--json",
    ]);
    assert!(v.get("spectrum").is_some(), "{v}");
    let v = json_of(&["baseline-grid", "--d", "12", "--rotations", "4", "--json"]);
    assert!(v["points"].is_array());
}

#[test]
fn coupling_prints_versioned_json() {
    let dir = tempfile::tempdir().unwrap();
    let d = 5;
    let h =
        ndarray::Array2::from_shape_fn((d, d), |(i, j)| if i == j { (d - i) as f64 } else { 0.0 });
    let c =
        ndarray::Array2::from_shape_fn((d, d), |(i, j)| if i == j { 1.0 + i as f64 } else { 0.1 });
    let (hp, cp) = (dir.path().join("h.npy"), dir.path().join("c.npy"));
    ndarray_npy::write_npy(&hp, &h).unwrap();
    ndarray_npy::write_npy(&cp, &c).unwrap();
    json_of(&[
        "coupling",
        "--cov",
        cp.to_str().unwrap(),
        "--hess",
        hp.to_str().unwrap(),
        "--rotations",
        "20",
        "--json",
    ]);
}

#[test]
fn analyze_factors_prints_versioned_json_with_failures_as_error_objects() {
    use superlinear::data::factors::FactorLoss;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("layer.safetensors");
    let f = crate::analyze_factors::factor_file(40, 3, 4, 3, FactorLoss::CrossEntropy, 5);
    std::fs::write(&path, f.to_bytes().unwrap()).unwrap();
    let v = json_of(&[
        "analyze",
        "--factors",
        path.to_str().unwrap(),
        "--samples",
        "40",
        "--top-k",
        "6",
        "--json",
    ]);
    assert!(v["gamma"]["gamma"].is_number(), "{v}");
    // Two directions: too few to fit gamma, the failure is {"error": ..}.
    let v = json_of(&[
        "analyze",
        "--factors",
        path.to_str().unwrap(),
        "--samples",
        "40",
        "--top-k",
        "2",
        "--json",
    ]);
    assert!(v["gamma"]["error"].is_string(), "{v}");
}

#[test]
fn report_only_commands_print_versioned_json() {
    let dir = tempfile::tempdir().unwrap();
    let (out, results) = crate::util::fixture_records_copy(dir.path());
    let args = crate::util::fixture_report_only("1", &out, &results, &["--json"]);
    let v = json_of(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(v["table"], 1);
    assert_eq!(v["reused"], 6, "{v}");
    assert_eq!(v["rows"].as_array().unwrap().len(), 3, "{v}");
    assert!(!v["judgements"].as_array().unwrap().is_empty());
    let net = dir.path().join("net");
    copy_dir(&Path::new(REPO).join("experiments/results/net"), &net);
    let v = json_of(&[
        "net-grid",
        "--report-only",
        "--json",
        "--out",
        net.to_str().unwrap(),
    ]);
    assert!(v["lines"]["C6"]["status"].is_string(), "{v}");
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            json_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
}

#[test]
fn committed_json_holds_no_result_tags_and_every_record_is_versioned() {
    let mut files = Vec::new();
    for d in ["experiments", "theory", crate::util::FIXTURE_RECORDS] {
        let before = files.len();
        json_files(&Path::new(REPO).join(d), &mut files);
        assert!(files.len() > before, "no JSON file under {d}");
    }
    assert!(files.len() > 50, "{} JSON files found", files.len());
    for f in &files {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(f).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert_user_json(&v, &f.display().to_string());
    }
}

#[test]
fn committed_records_rewrite_to_themselves() {
    use superlinear::reproduce::migrate::migrate_record;
    let mut files = Vec::new();
    for d in ["experiments", "theory", crate::util::FIXTURE_RECORDS] {
        json_files(&Path::new(REPO).join(d), &mut files);
    }
    for f in &files {
        let m = migrate_record(f, false).unwrap_or_else(|e| panic!("{e}"));
        assert!(!m.changed && m.tags_removed == 0, "{}: {m:?}", f.display());
    }
}
