//! `superlinear coupling`: `rho_bar` of a user's C (`--cov`) in the
//! eigenbasis of their H (`--hess`) against the null of C's spectrum.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use superlinear::coupling::observed::{coupling_test, CouplingSettings, MatrixNames};

use super::load::load_matrix;
use super::{print_report, render, NullArgs};

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
    let names = MatrixNames {
        cov: "C (--cov)",
        hess: "H (--hess)",
    };
    let c = load_matrix(&args.cov, names.cov)?;
    let h = load_matrix(&args.hess, names.hess)?;
    print_report(
        &coupling_test(c.as_ref(), h.as_ref(), &names, &settings)?,
        args.null.json.then_some(crate::cli::json::COUPLING),
        |r| render::Coupling(r).to_string(),
    )
}
