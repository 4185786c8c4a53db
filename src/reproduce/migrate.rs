//! Rewrites a stored JSON record in the current layout by reading it with
//! its typed reader and writing it with its writer: the run records of
//! `reproduce` (`runs/<row>/seed-<s>.json`), the run and pilot records of
//! `net-grid` and the coupling-null grid (`theory/coupling-null.json`).
//!
//! The rewrite is checked before anything is written: the old text, with
//! its `Ok`/`Err` tags stripped (`crate::error::or_error::strip_legacy_tags`)
//! and its `schema_version` set to the current one, must equal the new text
//! as a JSON tree, leaf by leaf, every number compared bit for bit. A field
//! the reader would drop, a number that would change, or any other
//! difference refuses the file with the JSON path of the first difference.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::netgrid::ledger::PilotLedger;
use super::netgrid::record::{NetRunRecord, PilotRecord, SCHEMA_VERSION};
use super::record::{checked_body, with_checksum, Checksum, RunRecord, RUN_SCHEMA_VERSION};
use super::{write_atomic, ReproduceError};
use crate::coupling::grid::{GridResults, GRID_SCHEMA_VERSION};
use crate::error::or_error::strip_legacy_tags;
use crate::plot::record::{FigureRecord, SCHEMA_VERSION as FIGURE_SCHEMA_VERSION};

/// The kinds of record this module rewrites.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// A `reproduce` run record.
    Run,
    /// A `net-grid` run record.
    NetRun,
    /// A `net-grid` pilot record.
    Pilot,
    /// A `net-grid` pilot ledger.
    PilotLedger,
    /// The coupling-null grid.
    Grid,
    /// A figure record (`analyze --plot`).
    Figure,
}

/// What a rewrite did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// The record's kind.
    pub kind: RecordKind,
    /// `Ok`/`Err` tags removed.
    pub tags_removed: usize,
    /// Numbers compared (all equal).
    pub numbers_compared: usize,
    /// Whether the file's text changed.
    pub changed: bool,
}

fn bad(path: &Path, what: impl std::fmt::Display) -> ReproduceError {
    ReproduceError::io(path, what.to_string())
}

/// The kind of a record from its top-level keys.
fn kind_of(v: &Value) -> Option<RecordKind> {
    let has = |k: &str| v.get(k).is_some();
    if has("net_claims") {
        Some(RecordKind::NetRun)
    } else if has("candidates") {
        Some(RecordKind::Pilot)
    } else if has("runs") && has("family") {
        Some(RecordKind::PilotLedger)
    } else if has("analyze") && has("train") {
        Some(RecordKind::Run)
    } else if has("points") && has("settings") {
        Some(RecordKind::Grid)
    } else if has("h_diag") && has("c_diag") {
        Some(RecordKind::Figure)
    } else {
        None
    }
}

/// The first place where `a` and `b` differ (numbers: same kind, same bits),
/// with the count of numbers compared.
pub fn first_difference(a: &Value, b: &Value) -> (Option<String>, usize) {
    let mut numbers = 0;
    let d = diff(a, b, "$", &mut numbers);
    (d, numbers)
}

fn diff(a: &Value, b: &Value, at: &str, numbers: &mut usize) -> Option<String> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            *numbers += 1;
            let same = match (x.as_u64(), y.as_u64(), x.as_i64(), y.as_i64()) {
                (Some(p), Some(q), _, _) => p == q,
                (None, None, Some(p), Some(q)) => p == q,
                _ => {
                    x.is_f64()
                        && y.is_f64()
                        && x.as_f64().map(f64::to_bits) == y.as_f64().map(f64::to_bits)
                }
            };
            (!same).then(|| format!("{at}: {x} became {y}"))
        }
        (Value::Object(x), Value::Object(y)) => {
            if let Some(k) = x.keys().find(|k| !y.contains_key(*k)) {
                return Some(format!("{at}.{k}: dropped"));
            }
            // A field the old text lacked may come back only as the
            // reader's default for an absent optional field, `null`.
            if let Some(k) = y
                .iter()
                .find(|(k, v)| !x.contains_key(*k) && !v.is_null())
                .map(|(k, _)| k)
            {
                return Some(format!("{at}.{k}: added"));
            }
            x.iter()
                .find_map(|(k, v)| diff(v, &y[k], &format!("{at}.{k}"), numbers))
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                return Some(format!("{at}: {} items became {}", x.len(), y.len()));
            }
            x.iter()
                .zip(y)
                .enumerate()
                .find_map(|(i, (p, q))| diff(p, q, &format!("{at}[{i}]"), numbers))
        }
        _ => (a != b).then(|| format!("{at}: {a} became {b}")),
    }
}

/// Reads `body` as `T`, sets its schema version and writes it back as
/// pretty JSON.
fn through<T: Serialize + DeserializeOwned>(
    path: &Path,
    body: &str,
    version: u32,
    field: impl Fn(&mut T) -> &mut u32,
) -> Result<String, ReproduceError> {
    let mut typed: T = serde_json::from_str(body).map_err(|e| bad(path, e))?;
    *field(&mut typed) = version;
    serde_json::to_string_pretty(&typed).map_err(|e| bad(path, e))
}

/// Rewrites the record at `path` in the current layout (module doc); with
/// `write` false only checks. A file that is not one of the kinds, whose
/// checksum fails, or whose rewrite would change anything but the tags and
/// the schema version is an error naming the file.
pub fn migrate_record(path: &Path, write: bool) -> Result<Migration, ReproduceError> {
    let text = std::fs::read_to_string(path).map_err(|e| bad(path, e))?;
    let (body, checksummed) = match checked_body(&text) {
        Checksum::Valid(b) => (b, true),
        Checksum::Legacy(b) => (b, false),
        Checksum::Mismatch => return Err(bad(path, "checksum does not match")),
    };
    let mut expected: Value = serde_json::from_str(&body).map_err(|e| bad(path, e))?;
    let kind = kind_of(&expected).ok_or_else(|| bad(path, "not a record this tool writes"))?;
    let tags_removed = strip_legacy_tags(&mut expected);
    let version = match kind {
        RecordKind::Run => RUN_SCHEMA_VERSION,
        RecordKind::NetRun | RecordKind::Pilot | RecordKind::PilotLedger => SCHEMA_VERSION,
        RecordKind::Grid => GRID_SCHEMA_VERSION,
        RecordKind::Figure => FIGURE_SCHEMA_VERSION,
    };
    let new_body = match kind {
        RecordKind::Run => through(path, &body, version, |r: &mut RunRecord| {
            &mut r.schema_version
        })?,
        RecordKind::NetRun => through(path, &body, version, |r: &mut NetRunRecord| {
            &mut r.schema_version
        })?,
        RecordKind::Pilot => through(path, &body, version, |r: &mut PilotRecord| {
            &mut r.schema_version
        })?,
        RecordKind::PilotLedger => through(path, &body, version, |r: &mut PilotLedger| {
            &mut r.schema_version
        })?,
        RecordKind::Grid => through(path, &body, version, |r: &mut GridResults| {
            &mut r.schema_version
        })?,
        RecordKind::Figure => through(path, &body, version, |r: &mut FigureRecord| {
            &mut r.schema_version
        })?,
    };
    if let Value::Object(map) = &mut expected {
        map.insert("schema_version".into(), Value::from(version));
    }
    let written: Value = serde_json::from_str(&new_body).map_err(|e| bad(path, e))?;
    let (difference, numbers_compared) = first_difference(&expected, &written);
    if let Some(d) = difference {
        return Err(bad(path, format!("the rewrite would change {d}")));
    }
    // The grid and figure files carry no checksum; every run record written
    // now does.
    let new_text = if matches!(kind, RecordKind::Grid | RecordKind::Figure) && !checksummed {
        format!("{new_body}\n")
    } else {
        with_checksum(&new_body)
    };
    let changed = new_text != text;
    if write && changed {
        write_atomic(path, &new_text)?;
    }
    Ok(Migration {
        kind,
        tags_removed,
        numbers_compared,
        changed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_compared_by_bits_and_kind() {
        let a: Value = serde_json::from_str(r#"{"x":[1.0,2,-3],"y":{"z":0.1}}"#).unwrap();
        let (d, n) = first_difference(&a, &a.clone());
        assert_eq!((d, n), (None, 4));
        let b: Value = serde_json::from_str(r#"{"x":[1,2,-3],"y":{"z":0.1}}"#).unwrap();
        assert!(first_difference(&a, &b).0.unwrap().starts_with("$.x[0]"));
        let c: Value =
            serde_json::from_str(r#"{"x":[1.0,2,-3],"y":{"z":0.10000000000000002}}"#).unwrap();
        assert!(first_difference(&a, &c).0.unwrap().starts_with("$.y.z"));
        let e: Value = serde_json::from_str(r#"{"x":[1.0,2,-3],"y":{}}"#).unwrap();
        assert_eq!(first_difference(&a, &e).0.unwrap(), "$.y.z: dropped");
    }
}
