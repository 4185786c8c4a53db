//! TOML configuration: `fit::FitRule`,
//! `bounds::BoundTolerance` (both `deny_unknown_fields`) and the claim
//! catalogue `claims::Catalogue::parse`, on any UTF-8.
//!
//! Invariants: never a panic; a document that is a TOML table with a key the
//! type does not have is an error (unknown keys are never ignored); a parsed
//! value serialises back to TOML and re-parses to the same bits; a catalogue
//! error is typed and names its source.
#![no_main]

use libfuzzer_sys::fuzz_target;
use superlinear::bounds::BoundTolerance;
use superlinear::claims::Catalogue;
use superlinear::error::Error;
use superlinear::fit::FitRule;

fn has_unknown(table: &toml::Table, known: &[&str]) -> bool {
    table.keys().any(|k| !known.contains(&k.as_str()))
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let table = s.parse::<toml::Table>().ok();

    let rule = toml::from_str::<FitRule>(s);
    if let Some(t) = &table {
        if has_unknown(t, &["top_k", "rel_floor"]) {
            assert!(rule.is_err(), "unknown key accepted into FitRule: {s:?}");
        }
    }
    if let Ok(r) = rule {
        assert!(table.is_some(), "FitRule parsed from a non-table document");
        let _ = r.validate();
        if r.rel_floor.is_finite() {
            let text = toml::to_string(&r).expect("a FitRule serialises");
            let back: FitRule = toml::from_str(&text).expect("and re-parses");
            assert_eq!(back.top_k, r.top_k);
            assert_eq!(back.rel_floor.to_bits(), r.rel_floor.to_bits());
        }
    }

    let tol = toml::from_str::<BoundTolerance>(s);
    if let Some(t) = &table {
        if has_unknown(t, &["c", "dim", "samples"]) {
            assert!(
                tol.is_err(),
                "unknown key accepted into BoundTolerance: {s:?}"
            );
        }
    }
    if let Ok(t) = tol {
        if t.c.is_finite() && t.c >= 0.0 {
            assert!(
                t.unit() >= 0.0,
                "tolerance unit {} for c = {}",
                t.unit(),
                t.c
            );
        }
        // check_bounds validates the constant: NaN / negative c is an error.
        let r = superlinear::bounds::check_bounds(&[1.0], &[1.0], 1.0, &t);
        if !(t.c.is_finite() && t.c >= 0.0) {
            assert!(r.is_err(), "invalid c = {} accepted", t.c);
        }
    }

    match Catalogue::parse(s, "fuzz.toml") {
        Ok(cat) => {
            if let Some(t) = &table {
                assert!(!has_unknown(t, &["claim"]));
            }
            for c in &cat.claims {
                assert!(cat.get(&c.id).is_ok());
            }
            let text = toml::to_string(&cat).expect("a catalogue serialises");
            let back = Catalogue::parse(&text, "again").expect("and re-parses");
            assert_eq!(back.claims.len(), cat.claims.len());
        }
        Err(Error::Io { path, message }) => {
            assert_eq!(path, "fuzz.toml");
            assert!(message.contains("invalid claim catalogue"));
        }
        Err(e) => panic!("untyped catalogue error kind: {e}"),
    }
});
