//! `superlinear baseline-grid`: the formula-against-null grid (simulated, or
//! re-scored from a record with `--rescore`), printed as the Markdown table of
//! `theory/coupling-null-grid.md` or as the JSON record.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use superlinear::coupling::baseline::DEFAULT_SEED;
use superlinear::coupling::grid::{
    default_rotations, rescore, run_grid, GridPoint, GridResults, GridSettings,
};
use superlinear::exit;
use superlinear::Error;

use super::load::load_grid_results;
use super::render;

#[derive(Debug, Args)]
pub struct BaselineGridArgs {
    /// Dimensions, comma-separated (default 50,100,300,1000,2500).
    #[arg(long, value_delimiter = ',')]
    pub d: Option<Vec<usize>>,
    /// Haar rotations per point (default 200 up to d = 300, 100 up to 1000, 40 above).
    #[arg(long)]
    pub rotations: Option<usize>,
    /// Master seed of the grid.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub seed: u64,
    /// Print the results record as JSON (what --rescore reads) instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Re-score a results file (a previous --json output) against the current
    /// formulas instead of simulating.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["d", "rotations"])]
    pub rescore: Option<PathBuf>,
}

/// The grid's points scored against the current formulas and the record to
/// write (`--json`, readable by `--rescore`).
struct GridOutput {
    points: Vec<GridPoint>,
    record: GridResults,
    /// `Some(path)` when the points were re-scored from a file, not simulated.
    rescored_from: Option<String>,
}

pub fn baseline_grid(args: BaselineGridArgs) -> Result<i32> {
    let out = match &args.rescore {
        Some(path) => {
            let old = load_grid_results(path)?;
            let points = rescore(&old)?;
            let settings = GridSettings {
                ds: old.settings.ds.clone(),
                seed: old.settings.seed,
            };
            GridOutput {
                record: GridResults::new(&old.command, &settings, &points),
                points,
                rescored_from: Some(path.display().to_string()),
            }
        }
        None => {
            let settings = GridSettings::new(args.d.as_deref(), args.rotations, args.seed)
                .map_err(flag_named)?;
            let progress = crate::cli::progress::reporter(args.json);
            progress.stage("baseline-grid", 0);
            let points = run_grid(&settings, &|_, _| false, &mut |p| {
                progress.step(&format!(
                    "d {} {}: sim mean {:.4}, SE ratio paper {:.2} row-law {:.2}",
                    p.d, p.spectrum, p.simulated_mean, p.paper_se_ratio, p.row_law_se_ratio,
                ))
            })?;
            progress.done();
            GridOutput {
                record: GridResults::new(&command_line(&settings), &settings, &points),
                points,
                rescored_from: None,
            }
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&out.record)?);
    } else {
        print!(
            "{}",
            render::grid_document(
                &out.points,
                &out.record.command,
                out.rescored_from.as_deref()
            )
        );
    }
    Ok(exit::OK)
}

/// The command line that reproduces `s` (recorded with the results).
fn command_line(s: &GridSettings) -> String {
    let ds: Vec<String> = s.ds.iter().map(|(d, _)| d.to_string()).collect();
    let mut line = format!("superlinear baseline-grid --d {}", ds.join(","));
    let uniform = s.ds.iter().all(|&(_, r)| r == s.ds[0].1);
    let defaults = s.ds.iter().all(|&(d, r)| r == default_rotations(d));
    if uniform && !defaults {
        line.push_str(&format!(" --rotations {}", s.ds[0].1));
    }
    line.push_str(&format!(" --seed {}", s.seed));
    line
}

/// The settings' errors name the parameters `d` and `rotations`; on the
/// command line they are the flags `--d` and `--rotations`.
fn flag_named(e: Error) -> Error {
    match e {
        Error::InvalidParameter {
            name,
            value,
            reason,
        } => Error::InvalidParameter {
            name: format!("--{name}"),
            value,
            reason,
        },
        Error::Empty { input, what } => Error::Empty {
            input: format!("--{input}"),
            what,
        },
        e => e,
    }
}
