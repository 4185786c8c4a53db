//! `superlinear coupling`: `rho_bar` of a user's C (`--cov`) in the
//! eigenbasis of their H (`--hess`) against the null of C's spectrum.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;

use superlinear::coupling::observed::{coupling_test, CouplingSettings, MatrixNames};
use superlinear::error::Error;

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
    /// Use (A + A^T)/2 of an input that is asymmetric beyond its precision's
    /// tolerance (100 d eps max|A_ij|, eps of the file's dtype) instead of
    /// refusing it; stated in the output and the JSON.
    #[arg(long)]
    pub symmetrize: bool,
    #[command(flatten)]
    pub null: NullArgs,
}

pub fn coupling(args: CouplingArgs) -> Result<i32> {
    let settings = CouplingSettings::new(args.null.rotations, args.null.seed)?;
    let names = MatrixNames {
        cov: "C (--cov)",
        hess: "H (--hess)",
    };
    let (c, c_type) = load_matrix(&args.cov, names.cov)?;
    let (h, h_type) = load_matrix(&args.hess, names.hess)?;
    let settings = settings.with_inputs(c_type.epsilon(), h_type.epsilon(), args.symmetrize);
    let report = match coupling_test(c.as_ref(), h.as_ref(), &names, &settings) {
        Err(e @ Error::NotSymmetric { .. }) => bail!(
            "{e} (tolerance 100 d eps max|A_ij| at the file's precision; --symmetrize uses (A + A^T)/2)"
        ),
        other => other?,
    };
    let dtypes = [c_type.name(), h_type.name()];
    print_report(
        &report,
        args.null.json.then_some(crate::cli::json::COUPLING),
        |r| render::Coupling(r, dtypes).to_string(),
    )
}
