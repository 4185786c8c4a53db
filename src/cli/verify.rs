//! `superlinear verify [--seed S] [--cases N] [--claim ID] [--json] [--details]`:
//! the derivation line of every claim (the synthetic checks); `superlinear
//! claims` adds the trained-network line. Exit code: `superlinear::exit`.

use anyhow::Result;
use clap::Args;

use superlinear::claims::report::{render_table, to_json, Provenance};
use superlinear::claims::{exit_code, run_all};

use super::shared::ChecksArgs;

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub checks: ChecksArgs,
    /// Run only this claim (e.g. C9).
    #[arg(long)]
    pub claim: Option<String>,
    /// Print JSON (with provenance) instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Leave per-claim timings out of the JSON (byte-identical output per seed).
    #[arg(long)]
    pub no_timings: bool,
    /// Print each check's detail lines under its row.
    #[arg(long)]
    pub details: bool,
}

pub fn run(args: VerifyArgs) -> Result<i32> {
    let settings = args.checks.settings()?;
    let rows = run_all(&settings, args.claim.as_deref())?;
    if args.json {
        let value = to_json(&rows, &settings, &Provenance::current(), !args.no_timings);
        super::json::print(super::json::VERIFY, &value)?;
    } else {
        print!("{}", render_table(&rows, &settings, args.details));
    }
    Ok(exit_code(&rows))
}
