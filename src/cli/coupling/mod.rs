//! `superlinear baseline`, `superlinear baseline-grid` and `superlinear
//! coupling` (claims C3, C4): flags, file loading and terminal rendering
//! around the library's `coupling` module.

mod baseline;
mod grid;
mod load;
mod observed;
mod render;

use anyhow::Result;
use clap::Args;

use superlinear::coupling::baseline::{DEFAULT_ROTATIONS, DEFAULT_SEED};
use superlinear::exit;

pub use baseline::{baseline, BaselineArgs};
pub use grid::{baseline_grid, BaselineGridArgs};
pub use observed::{coupling, CouplingArgs};

/// Flags shared by `baseline` and `coupling`: the simulated null and output.
#[derive(Debug, Args)]
pub struct NullArgs {
    /// Haar rotations for the simulated null.
    #[arg(long, default_value_t = DEFAULT_ROTATIONS)]
    pub rotations: usize,
    /// Seed of the rotations.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub seed: u64,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Prints a report as JSON of layout `json` (its schema version) or as the
/// text `render` makes of it.
fn print_report<R: serde::Serialize>(
    report: &R,
    json: Option<u32>,
    render: impl Fn(&R) -> String,
) -> Result<i32> {
    if let Some(version) = json {
        super::json::print(version, report)?;
    } else {
        print!("{}", render(report));
    }
    Ok(exit::OK)
}
