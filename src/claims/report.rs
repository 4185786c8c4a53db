//! Rendering of `verify` results: a fixed-width table for people and JSON
//! (with provenance) for machines. Figures in JSON are rounded to
//! [`SIGNIFICANT`] significant digits so that a snapshot at a fixed seed holds
//! across machines whose floating-point kernels differ in the last bits.

use serde::Serialize;
use serde_json::{json, Value};

use crate::claims::{CheckSettings, ClaimRow, Status};

/// Significant digits kept in JSON figures.
pub const SIGNIFICANT: i32 = 3;

/// Where a result came from.
#[derive(Debug, Clone, Serialize)]
pub struct Provenance {
    /// Tool name.
    pub tool: String,
    /// Crate version.
    pub version: String,
    /// Git commit the binary was built from (`-dirty` if the tree had changes).
    pub git_commit: String,
}

impl Provenance {
    /// The provenance of this build.
    pub fn current() -> Self {
        Provenance {
            tool: "superlinear".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            git_commit: env!("SUPERLINEAR_GIT_COMMIT").into(),
        }
    }
}

/// Rounds `x` to `digits` significant digits (non-finite values pass through).
pub fn round_sig(x: f64, digits: i32) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let mag = x.abs().log10().floor() as i32;
    let factor = 10f64.powi(digits - 1 - mag);
    if !factor.is_finite() || factor == 0.0 {
        return x;
    }
    (x * factor).round() / factor
}

fn num(x: f64) -> Value {
    let r = round_sig(x, SIGNIFICANT);
    if r.is_finite() {
        json!(r)
    } else {
        json!(format!("{r}"))
    }
}

/// The JSON report: provenance, settings, one object per claim, a summary.
///
/// With `timings` false the per-claim `seconds` are left out, so that the same
/// seed gives byte-identical JSON (determinism tests, snapshots).
pub fn to_json(
    rows: &[ClaimRow],
    settings: &CheckSettings,
    provenance: &Provenance,
    timings: bool,
) -> Value {
    let claims: Vec<Value> = rows
        .iter()
        .map(|r| {
            let figures: serde_json::Map<String, Value> = r
                .outcome
                .figures
                .iter()
                .map(|(k, v)| (k.clone(), num(*v)))
                .collect();
            let mut row = json!({
                "id": r.id,
                "paper_ref": r.paper_ref,
                "kind": r.kind,
                "title": r.tests.title,
                "formula": r.tests.formula,
                "statement": r.tests.statement,
                "symbols": r.tests.symbols,
                "status": r.outcome.status,
                "figure": r.outcome.figure,
                "figures": figures,
                "details": r.outcome.details,
            });
            if timings {
                row["seconds"] = json!((r.seconds * 1000.0).round() / 1000.0);
            }
            row
        })
        .collect();
    json!({
        "provenance": provenance,
        "settings": settings,
        "claims": claims,
        "summary": summary(rows),
    })
}

/// Claims per status (keys: [`Status::as_str`]) and the exit code of the
/// rows under the one rule of [`crate::exit`].
fn summary(rows: &[ClaimRow]) -> Value {
    let mut out = serde_json::Map::new();
    for s in Status::ALL {
        let n = rows.iter().filter(|r| r.outcome.status == s).count();
        out.insert(s.as_str().to_string(), json!(n));
    }
    out.insert("exit_code".into(), json!(crate::claims::exit_code(rows)));
    Value::Object(out)
}

/// The table `verify` prints: one row per claim, details indented below.
pub fn render_table(rows: &[ClaimRow], settings: &CheckSettings, details: bool) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "superlinear verify (seed {}, cases {})\n",
        settings.seed, settings.cases
    ));
    let w_ref = rows
        .iter()
        .map(|r| r.paper_ref.len())
        .max()
        .unwrap_or(9)
        .max(9);
    out.push_str(&format!(
        "{:<4} {:<w_ref$} {:<10} {:<21} {:>7}  {}\n",
        "id", "paper ref", "kind", "derivation", "seconds", "key figure"
    ));
    for r in rows {
        let kind = serde_json::to_value(r.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        out.push_str(&format!(
            "{:<4} {:<w_ref$} {:<10} {:<21} {:>7.2}  {}\n",
            r.id,
            r.paper_ref,
            kind,
            r.outcome.status.as_str(),
            r.seconds,
            r.outcome.figure
        ));
        if details {
            out.push_str(&r.tests.render("       "));
            for d in &r.outcome.details {
                out.push_str(&format!("       - {d}\n"));
            }
        }
    }
    let counts: Vec<String> = Status::ALL
        .iter()
        .map(|st| {
            let n = rows.iter().filter(|r| r.outcome.status == *st).count();
            format!("{n} {st}")
        })
        .collect();
    out.push_str(&format!("summary: {}\n", counts.join(", ")));
    out.push_str(
        "derivation lines only; `superlinear claims` shows each claim's trained-network line too\n",
    );
    out
}
