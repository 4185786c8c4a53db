//! Runs the C3/C4 formula-against-null grid and writes
//! `theory/coupling-null-grid.md` (table) and `theory/coupling-null.json`
//! (read back by `verify`). Usage:
//! `cargo run --release --example coupling_grid [-- ROTATIONS ROTATIONS_AT_2500]`.
use superlinear::coupling::grid::{grid_markdown, run_grid, GridResults, GridSettings};

fn main() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let mut s = GridSettings::default();
    if let Some(&r) = args.first() {
        s.rotations = r;
    }
    if let Some(&r) = args.get(1) {
        s.rotations_large = r;
    }
    let t = std::time::Instant::now();
    let points = run_grid(&s, &mut |p| {
        eprintln!(
            "{:>5} {:<22} sim {:.4}  paper {:+.3} corrected {:+.3}  SE ratio paper {:.2} corrected {:.2}  [{:.0} s]",
            p.d, p.spectrum, p.simulated_mean, p.paper_mean_rel_err, p.corrected_mean_rel_err,
            p.paper_se_ratio, p.corrected_se_ratio, t.elapsed().as_secs_f64()
        )
    })?;
    let cmd = format!(
        "cargo run --release --example coupling_grid -- {} {}",
        s.rotations, s.rotations_large
    );
    let md = format!(
        "<!-- written by `{cmd}` in {:.0} s; do not edit -->\n\n{}",
        t.elapsed().as_secs_f64(),
        grid_markdown(&points)
    );
    std::fs::write("theory/coupling-null-grid.md", md)?;
    let json = serde_json::to_string_pretty(&GridResults::new(&cmd, &s, &points))?;
    std::fs::write("theory/coupling-null.json", json + "\n")?;
    Ok(())
}
