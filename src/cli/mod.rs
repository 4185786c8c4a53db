//! Argument parsing (clap derive) and dispatch. Each subcommand turns its
//! flags into a validated settings value of the library, runs the library
//! call, and prints. Errors end here: one line on stderr, exit code 2.

use clap::{Parser, Subcommand};

use superlinear::exit;

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
    /// Run every claim check and print one row per claim (C1-C15).
    Verify(verify::VerifyArgs),
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
            let _ = e.print();
            return code;
        }
    };
    let result = match cli.command {
        Command::Verify(args) => verify::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            exit::BAD_INPUT
        }
    }
}
