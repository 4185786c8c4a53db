//! The JSON every command prints with `--json`: one object whose first key is
//! `schema_version` (the version of that command's layout, below), then the
//! command's report. A figure that could not be computed appears as
//! `{"error": "<message>"}` (`superlinear::error::or_error`), never as a
//! Rust enum tag. The layouts are listed in `docs/json-schema.md`.

use anyhow::Result;
use serde::Serialize;

/// `verify --json`.
pub const VERIFY: u32 = 1;
/// `baseline --json`.
pub const BASELINE: u32 = 1;
/// `coupling --json`.
pub const COUPLING: u32 = 1;
/// `analyze --json` (factor file and checkpoint).
pub const ANALYZE: u32 = 1;
/// `net-claims --json`.
#[cfg(feature = "torch")]
pub const NET_CLAIMS: u32 = 1;
/// `train --json`.
#[cfg(feature = "torch")]
pub const TRAIN: u32 = 1;
/// `reproduce --json`.
pub const REPRODUCE: u32 = 1;
/// `net-grid --json`.
pub const NET_GRID: u32 = 1;

#[derive(Serialize)]
struct Versioned<'a, T: Serialize + ?Sized> {
    schema_version: u32,
    #[serde(flatten)]
    body: &'a T,
}

/// `body` (a struct or map) as pretty JSON with `schema_version` first.
pub fn to_string<T: Serialize + ?Sized>(schema_version: u32, body: &T) -> Result<String> {
    Ok(serde_json::to_string_pretty(&Versioned {
        schema_version,
        body,
    })?)
}

/// Prints [`to_string`].
pub fn print<T: Serialize + ?Sized>(schema_version: u32, body: &T) -> Result<()> {
    println!("{}", to_string(schema_version, body)?);
    Ok(())
}
