//! `superlinear baseline`, `superlinear baseline-grid` and `superlinear
//! coupling` (claims C3, C4).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use superlinear::coupling::cli::{
    load_matrix, load_spectrum_file, run_baseline, run_coupling, BaselineSettings,
    CouplingSettings, DEFAULT_ROTATIONS, DEFAULT_SEED,
};
use superlinear::coupling::grid::{rescore_file, run_grid_output, GridSettings};
use superlinear::coupling::Spectrum;
use superlinear::exit;

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

/// Prints a report as JSON or as text.
fn print_report<R: serde::Serialize + std::fmt::Display>(report: &R, json: bool) -> Result<i32> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        print!("{report}");
    }
    Ok(exit::OK)
}

#[derive(Debug, Args)]
pub struct BaselineArgs {
    /// Dimension d of the parameter space.
    #[arg(long)]
    pub d: usize,
    /// C's spectrum: spikes:K | power:ALPHA[:K] | spikes-bulk:K:RATIO | file:PATH (text or .npy).
    #[arg(long)]
    pub spectrum: String,
    #[command(flatten)]
    pub null: NullArgs,
}

pub fn baseline(args: BaselineArgs) -> Result<i32> {
    let spectrum = Spectrum::parse(&args.spectrum)?;
    let settings = BaselineSettings::new(args.d, spectrum, args.null.rotations, args.null.seed)?;
    print_report(
        &run_baseline(&settings, &load_spectrum_file)?,
        args.null.json,
    )
}

#[derive(Debug, Args)]
pub struct CouplingArgs {
    /// Noise covariance C, a d x d .npy matrix (symmetric PSD).
    #[arg(long)]
    pub cov: PathBuf,
    /// Hessian H, a d x d .npy matrix (symmetric).
    #[arg(long)]
    pub hess: PathBuf,
    #[command(flatten)]
    pub null: NullArgs,
}

pub fn coupling(args: CouplingArgs) -> Result<i32> {
    let settings = CouplingSettings::new(args.null.rotations, args.null.seed)?;
    let c = load_matrix(&args.cov, "C (--cov)")?;
    let h = load_matrix(&args.hess, "H (--hess)")?;
    print_report(
        &run_coupling(c.as_ref(), h.as_ref(), &settings)?,
        args.null.json,
    )
}

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

pub fn baseline_grid(args: BaselineGridArgs) -> Result<i32> {
    let out = match &args.rescore {
        Some(path) => rescore_file(path)?,
        None => {
            let settings = GridSettings::new(args.d.as_deref(), args.rotations, args.seed)?;
            let t = std::time::Instant::now();
            run_grid_output(&settings, &mut |p| {
                eprintln!(
                    "{:>5} {:<22} sim mean {:.4} std {:.2e}  SE ratio paper {:.2} row-law {:.2}  [{:.0} s]",
                    p.d,
                    p.spectrum,
                    p.simulated_mean,
                    p.simulated_std,
                    p.paper_se_ratio,
                    p.row_law_se_ratio,
                    t.elapsed().as_secs_f64()
                )
            })?
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&out.record)?);
    } else {
        print!("{}", out.markdown());
    }
    Ok(exit::OK)
}
