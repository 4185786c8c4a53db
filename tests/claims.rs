//! The claim catalogue, the runner, the verify report (snapshot) and the CLI's
//! exit codes and determinism.

use std::process::Command;

use superlinear::claims::catalogue::Status;
use superlinear::claims::report::{to_json, Provenance};
use superlinear::claims::{registry, run_all, Catalogue, CheckSettings, Verdict};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_superlinear"))
}

#[test]
fn catalogue_has_c1_to_c15_in_order() {
    let cat = Catalogue::builtin().unwrap();
    let ids: Vec<String> = cat.claims.iter().map(|c| c.id.clone()).collect();
    let expected: Vec<String> = (1..=15).map(|i| format!("C{i}")).collect();
    assert_eq!(ids, expected);
}

#[test]
fn catalogue_and_registry_agree() {
    // A claim with a check names it; a claim without one is unchecked.
    let cat = Catalogue::builtin().unwrap();
    let checks = registry();
    for c in &cat.claims {
        let has = checks.iter().any(|k| k.claim == c.id);
        assert_eq!(
            has,
            !c.check.is_empty(),
            "{}: check field vs registry",
            c.id
        );
        assert_eq!(
            has || !c.net_check.is_empty(),
            c.status != Status::Unchecked,
            "{}: status vs registry and net_check",
            c.id
        );
    }
    for k in &checks {
        assert!(
            cat.get(k.claim).is_ok(),
            "registry names unknown claim {}",
            k.claim
        );
    }
}

#[test]
fn unknown_catalogue_keys_are_errors() {
    let text = "[[claim]]\nid = \"C1\"\ntitle = \"t\"\npaper_ref = \"r\"\nstatement = \"s\"\nkind = \"identity\"\nstatus = \"unchecked\"\ncolour = \"red\"\n";
    let err = Catalogue::parse(text, "x.toml").unwrap_err().to_string();
    assert!(err.contains("colour"), "{err}");
}

#[test]
fn unchecked_claims_are_never_reported_as_passing() {
    let rows = run_all(&CheckSettings::new(1, 4).unwrap(), None).unwrap();
    let checks = registry();
    for r in &rows {
        if !checks.iter().any(|k| k.claim == r.id) {
            assert_eq!(r.outcome.verdict, Verdict::Unchecked, "{}", r.id);
        }
    }
}

#[test]
fn verify_json_snapshot() {
    let settings = CheckSettings::new(7, 8).unwrap();
    let rows = run_all(&settings, None).unwrap();
    let provenance = Provenance {
        git_commit: "[commit]".into(),
        version: "[version]".into(),
        ..Provenance::current()
    };
    let mut value = to_json(&rows, &settings, &provenance, false);
    hide_rounding(&mut value);
    insta::assert_snapshot!(serde_json::to_string_pretty(&value).unwrap());
}

/// Rounding-level figures (|x| < 1e-12, e.g. identity residuals) depend on the
/// machine's floating-point kernels: the snapshot keeps only that they are tiny.
fn hide_rounding(v: &mut serde_json::Value) {
    use serde_json::Value;
    let tiny = |x: f64| x != 0.0 && x.abs() < 1e-12;
    match v {
        Value::Number(n) if n.as_f64().is_some_and(tiny) => {
            *v = Value::String("<1e-12".into());
        }
        Value::String(s) => {
            let out: Vec<String> = s
                .split(' ')
                .map(|tok| {
                    let core = tok.trim_end_matches([',', ';', ')']);
                    match core.parse::<f64>() {
                        Ok(x) if tiny(x) => tok.replacen(core, "<1e-12", 1),
                        _ => tok.to_string(),
                    }
                })
                .collect();
            *s = out.join(" ");
        }
        Value::Array(a) => a.iter_mut().for_each(hide_rounding),
        Value::Object(o) => o.values_mut().for_each(hide_rounding),
        _ => {}
    }
}

#[test]
fn verify_exit_codes() {
    let ok = bin()
        .args(["verify", "--cases", "2", "--claim", "C8"])
        .output()
        .unwrap();
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    for args in [
        vec!["verify", "--cases", "0"],
        vec!["verify", "--claim", "C99"],
        vec!["verify", "--seed", "-1"],
        vec!["verify", "--bogus"],
        vec!["frobnicate"],
    ] {
        let out = bin().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(!err.trim().is_empty(), "{args:?}: no message");
    }
}

#[test]
fn verify_json_is_byte_identical_for_a_seed() {
    let run = || {
        bin()
            .args([
                "verify",
                "--json",
                "--no-timings",
                "--seed",
                "5",
                "--cases",
                "4",
            ])
            .output()
            .unwrap()
            .stdout
    };
    let (a, b) = (run(), run());
    assert!(!a.is_empty());
    assert_eq!(a, b);
}

#[test]
fn readme_claim_table_matches_catalogue() {
    let readme = include_str!("../README.md");
    let cat = Catalogue::builtin().unwrap();
    for c in &cat.claims {
        let prefix = format!("| {} |", c.id);
        let line = readme
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("README has no row for {}", c.id));
        let status = serde_json::to_value(c.status).unwrap();
        let status = status.as_str().unwrap();
        assert!(
            line.trim_end().ends_with(&format!("| {status} |")),
            "README row for {} should end with status {status}: {line}",
            c.id
        );
    }
}
