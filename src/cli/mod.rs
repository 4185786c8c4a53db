//! Argument parsing (clap derive) and dispatch. Each subcommand turns its
//! flags into a validated settings value of the library, runs the library
//! call, and prints. Errors end here: one line on stderr, exit code 2.

use clap::{Parser, Subcommand};

use superlinear::exit;

mod analyze;
mod claims;
mod coupling;
mod json;
#[cfg(feature = "torch")]
mod netclaims;
mod netgrid;
mod progress;
mod report;
mod reproduce;
mod shared;
#[cfg(feature = "torch")]
mod torch;
mod verify;

/// Executable appendix for Zhang, Yang, Tu (2026): SGD noise covariance vs
/// loss curvature, claim by claim.
#[derive(Debug, Parser)]
#[command(name = "superlinear", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every claim's synthetic check and print its derivation line (C1-C15).
    Verify(verify::VerifyArgs),
    /// Both verdict lines of every claim: the synthetic check (derivation)
    /// and the trained-network statement judged from the committed records;
    /// `--write` regenerates the README table and theory/claims.toml.
    Claims(claims::ClaimsArgs),
    /// The random baseline of rho_bar for a spectrum of C: App. C formula,
    /// simulated Haar null, corrected formula (C3, C4).
    Baseline(coupling::BaselineArgs),
    /// The formula-against-null grid of C3/C4 (App. C mean, App. D SE and our
    /// corrections against the simulated Haar null), or a re-score of a saved one.
    BaselineGrid(coupling::BaselineGridArgs),
    /// rho_bar of C in H's eigenbasis for matrices saved from NumPy, with the
    /// paper's z and p and an exact p-value from the simulated null (C3, C4).
    Coupling(coupling::CouplingArgs),
    /// Train a bias-free MLP or CNN with vanilla SGD (feature `torch`).
    #[cfg(feature = "torch")]
    Train(torch::TrainArgs),
    /// Measure H, C, C_awd, gamma and the Theorem 5.1 bounds on one linear
    /// layer: of any PyTorch model through a factor file (--factors), or of a
    /// checkpoint of `train` (--checkpoint, feature `torch`).
    Analyze(analyze::AnalyzeArgs),
    /// Claims C3, C6, C7 (and Remark 3.5), C8, C13, C15 on the checkpoints of a training run (feature `torch`).
    #[cfg(feature = "torch")]
    NetClaims(netclaims::NetClaimsArgs),
    /// Reproduce Table 1 or 3 on real data, resumable, published beside
    /// measured with the C14 verdicts (training needs feature `torch`;
    /// `--report-only` does not).
    Reproduce(reproduce::ReproduceArgs),
    /// The net-claims grid (C6, C7, C13, C15 over families x seeds with a
    /// learning-rate pilot; training needs feature `torch`, `--report-only`
    /// does not).
    NetGrid(netgrid::NetGridArgs),
    /// The appendix as one HTML page with its figures (claims table, each
    /// claim's figures, Tables 1 and 3, provenance), from the committed
    /// records only.
    Report(report::ReportArgs),
}

/// Parses the command line, runs the command, returns the exit code.
pub fn run() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::BAD_INPUT
            } else {
                exit::OK
            };
            if e.use_stderr() {
                eprintln!("{}", one_line(&e.to_string(), true));
            } else {
                let _ = e.print();
            }
            return code;
        }
    };
    let result = match cli.command {
        Command::Verify(args) => verify::run(args),
        Command::Claims(args) => claims::run(args),
        Command::Baseline(args) => coupling::baseline(args),
        Command::BaselineGrid(args) => coupling::baseline_grid(args),
        Command::Coupling(args) => coupling::coupling(args),
        #[cfg(feature = "torch")]
        Command::Train(args) => torch::train(args),
        Command::Analyze(args) => analyze::run(args),
        #[cfg(feature = "torch")]
        Command::NetClaims(args) => netclaims::run(args),
        Command::Reproduce(args) => reproduce::reproduce(args),
        Command::NetGrid(args) => netgrid::run(args),
        Command::Report(args) => report::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{}", one_line(&format!("error: {e:#}"), false));
            exit::BAD_INPUT
        }
    }
}

/// An error message as one line (public for the argument fuzz target, which
/// compiles this module on its own). A clap usage error keeps its message and
/// the arguments it lists, not the tip, usage block and `--help` hint after
/// the first blank line (`usage`); otherwise every line break becomes a space.
pub fn one_line(message: &str, usage: bool) -> String {
    let lines = message.lines().map(str::trim);
    let kept: Vec<&str> = if usage {
        lines.take_while(|l| !l.is_empty()).collect()
    } else {
        lines.filter(|l| !l.is_empty()).collect()
    };
    kept.join(" ")
}

/// Refuses a missing input path by the flag that sets it, so a run outside
/// the repository root (where the defaults point) names `--flag`, not only a
/// relative path the user never typed.
pub fn existing(flag: &str, path: &std::path::Path) -> anyhow::Result<()> {
    if path.exists() {
        return Ok(());
    }
    Err(superlinear::reproduce::ReproduceError::setting(
        flag,
        path.display(),
        format!("not found (the default is relative to the repository root; pass --{flag} PATH)"),
    )
    .into())
}
