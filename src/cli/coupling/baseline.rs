//! `superlinear baseline`: a spectrum's null of `rho_bar`, formulas beside
//! the simulation.

use anyhow::Result;
use clap::Args;

use superlinear::coupling::baseline::{baseline_null, BaselineSettings};
use superlinear::coupling::Spectrum;

use super::load::load_spectrum_file;
use super::{print_report, render, NullArgs};

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
        &baseline_null(&settings, &load_spectrum_file)?,
        args.null.json.then_some(crate::cli::json::BASELINE),
        |r| render::Baseline(r).to_string(),
    )
}
