//! Runs the C3/C4 formula-against-null grid and writes
//! `theory/coupling-null-grid.md` (the table) and `theory/coupling-null.json`
//! (read back, labelled, by `verify`).
//!
//! - `cargo run --release --example coupling_grid` runs the default grid
//!   (`GridSettings::default()`), saving every finished point to
//!   `theory/coupling-null.partial.json` and resuming from it when present;
//! - `... -- rescore` re-scores the committed simulations against the current
//!   formulas without simulating again.
use std::path::Path;

use superlinear::coupling::grid::{
    committed_results, grid_markdown, rescore, run_grid, GridPoint, GridResults, GridSettings,
};

const PARTIAL: &str = "theory/coupling-null.partial.json";

fn write(cmd: &str, s: &GridSettings, points: &[GridPoint], note: &str) -> anyhow::Result<()> {
    let md = format!(
        "<!-- written by `{cmd}`{note}; do not edit -->\n\n{}",
        grid_markdown(points)
    );
    std::fs::write("theory/coupling-null-grid.md", md)?;
    let json = serde_json::to_string_pretty(&GridResults::new(cmd, s, points))?;
    std::fs::write("theory/coupling-null.json", json + "\n")?;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let cmd = "cargo run --release --example coupling_grid";
    if std::env::args().nth(1).as_deref() == Some("rescore") {
        let old = committed_results()?;
        let points = rescore(&old)?;
        let s = GridSettings {
            ds: old.settings.ds.clone(),
            seed: old.settings.seed,
        };
        write(&old.command, &s, &points, ", re-scored by `... -- rescore`")?;
        print!("{}", grid_markdown(&points));
        return Ok(());
    }
    let s = GridSettings::default();
    // Resume: points already simulated (same settings) are re-scored, not re-run.
    let mut points: Vec<GridPoint> = if Path::new(PARTIAL).exists() {
        let old: GridResults = serde_json::from_str(&std::fs::read_to_string(PARTIAL)?)?;
        rescore(&old)?
    } else {
        vec![]
    };
    let done: Vec<(usize, String)> = points.iter().map(|p| (p.d, p.spectrum.clone())).collect();
    let t = std::time::Instant::now();
    let mut fresh = Vec::new();
    let mut err = None;
    run_grid(
        &s,
        &|d, label| done.iter().any(|(dd, l)| *dd == d && l == label),
        &mut |p| {
            eprintln!(
                "{:>5} {:<22} sim {:.4}  paper {:+.3} corrected {:+.3}  SE ratio paper {:.2} corrected {:.2}  [{:.0} s]",
                p.d, p.spectrum, p.simulated_mean, p.paper_mean_rel_err, p.corrected_mean_rel_err,
                p.paper_se_ratio, p.corrected_se_ratio, t.elapsed().as_secs_f64()
            );
            fresh.push(p.clone());
            let all: Vec<GridPoint> = points.iter().chain(&fresh).cloned().collect();
            let res = serde_json::to_string_pretty(&GridResults::new(cmd, &s, &all))
                .map_err(anyhow::Error::from)
                .and_then(|j| std::fs::write(PARTIAL, j).map_err(anyhow::Error::from));
            if let Err(e) = res {
                err = Some(e);
            }
        },
    )?;
    if let Some(e) = err {
        return Err(e);
    }
    points.extend(fresh);
    // Keep the grid's order: by d, then as `grid_spectra` lists them.
    let order = |p: &GridPoint| {
        let idx = superlinear::coupling::grid::grid_spectra(p.d)
            .iter()
            .position(|sp| sp.to_string() == p.spectrum)
            .unwrap_or(usize::MAX);
        (p.d, idx)
    };
    points.sort_by_key(order);
    write(cmd, &s, &points, "")?;
    std::fs::remove_file(PARTIAL)?;
    Ok(())
}
