//! `superlinear report --out DIR [--records DIR] [--seed S] [--cases N]`:
//! the appendix as one HTML page with its figures, from the committed
//! records only ([`superlinear::reproduce::report`]); works in the default
//! build. Exit code: `superlinear::exit` over the claims' lines.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use superlinear::reproduce::report::{build, write, ReportSettings, COUPLING_NULL_JSON};

use super::shared::{ChecksArgs, RecordsArgs};

#[derive(Debug, Args)]
#[command(
    mut_arg("records", |a| a.help("Directory of the committed records (`table1-v2/`, `net/`, `net-k3/`, `figures/`)")),
    mut_arg("net_config", |a| a.help("The net-claims grid's config")),
    mut_arg("seed", |a| a.help("Master seed of the synthetic checks (as `claims`)")),
    mut_arg("cases", |a| a.help("Random cases each synthetic property check draws (as `claims`)"))
)]
pub struct ReportArgs {
    /// Directory to write index.html and figures/ into (created).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub sources: RecordsArgs,
    /// The coupling-null grid record (C3, C4).
    #[arg(long, default_value = COUPLING_NULL_JSON)]
    pub coupling_null: PathBuf,
    #[command(flatten)]
    pub checks: ChecksArgs,
}

pub fn run(args: ReportArgs) -> Result<i32> {
    let settings = ReportSettings {
        evidence: args.sources.evidence(args.checks.settings()?, None),
        coupling_null: args.coupling_null,
    };
    let report = build(&settings)?;
    let written = write(&report, &args.out)?;
    println!(
        "wrote {} ({} figures)",
        args.out.join("index.html").display(),
        written.len() - 1
    );
    for m in &report.missing {
        println!("  not drawn: {m}");
    }
    Ok(report.evidence.exit_code)
}
