//! `superlinear report --out DIR [--records DIR] [--seed S] [--cases N]`:
//! the appendix as one HTML page with its figures, from the committed
//! records only ([`superlinear::reproduce::report`]); works in the default
//! build. Exit code: `superlinear::exit` over the claims' lines.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use superlinear::claims::CheckSettings;
use superlinear::reproduce::config::RUNS_DIR;
use superlinear::reproduce::evidence::{EvidenceSettings, RECORDS_DIR};
use superlinear::reproduce::netgrid::NETGRID_TOML;
use superlinear::reproduce::report::{build, write, ReportSettings, COUPLING_NULL_JSON};

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Directory to write index.html and figures/ into (created).
    #[arg(long)]
    pub out: PathBuf,
    /// Directory of the committed records (`reduced/runs/`, `net/`, `figures/`).
    #[arg(long, default_value = RECORDS_DIR)]
    pub records: PathBuf,
    /// Directory of the Table 1 grid's run configs.
    #[arg(long, default_value = RUNS_DIR)]
    pub configs: PathBuf,
    /// The net-claims grid's config.
    #[arg(long, default_value = NETGRID_TOML)]
    pub net_config: PathBuf,
    /// The coupling-null grid record (C3, C4).
    #[arg(long, default_value = COUPLING_NULL_JSON)]
    pub coupling_null: PathBuf,
    /// Master seed of the synthetic checks (as `claims`).
    #[arg(long, default_value_t = CheckSettings::default().seed)]
    pub seed: u64,
    /// Random cases each synthetic property check draws (as `claims`).
    #[arg(long, default_value_t = CheckSettings::default().cases)]
    pub cases: usize,
}

pub fn run(args: ReportArgs) -> Result<i32> {
    let settings = ReportSettings {
        evidence: EvidenceSettings {
            checks: CheckSettings::new(args.seed, args.cases)?,
            only: None,
            records: args.records,
            configs: args.configs,
            net_config: args.net_config,
        },
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
