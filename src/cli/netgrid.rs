//! `superlinear net-grid`: the net-claims grid of `experiments/netgrid.toml`
//! (C6, C7, C13, C15 over families x seeds, with a learning-rate pilot),
//! resumable, sharded, records under `experiments/results/net/`. Training
//! and analysis need the feature `torch`; `--report-only` rewrites
//! `RESULTS.md` from the records in any build. Exit 0 when it ran (the
//! verdicts are in the report), 2 for bad input.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;

use superlinear::exit;
use superlinear::reproduce::netgrid::{
    report_only, NetGridConfig, NetGridReport, NetGridSettings, Shard, Stage, NETGRID_TOML,
};
use superlinear::reproduce::ReproduceError;

#[derive(Debug, Args)]
pub struct NetGridArgs {
    /// The grid's config.
    #[arg(long, default_value = NETGRID_TOML)]
    pub config: PathBuf,
    /// Records and RESULTS.md.
    #[arg(long, default_value = "experiments/results/net")]
    pub out: PathBuf,
    /// Training runs root (default: $HOME/.cache/superlinear/netgrid/train).
    #[arg(long)]
    pub work: Option<PathBuf>,
    /// Data root (default: $SUPERLINEAR_DATA).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Runs in parallel.
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// libtorch threads per job.
    #[arg(long, default_value_t = 1)]
    pub threads: i32,
    /// Run only the jobs of the plan with index % N == I - 1 (I/N).
    #[arg(long)]
    pub shard: Option<String>,
    /// pilot, train, analyze or all.
    #[arg(long, default_value = "all")]
    pub stage: String,
    /// Redo the analysis and rewrite the records even where they exist.
    #[arg(long)]
    pub reanalyze: bool,
    /// No training or analysis: rewrite RESULTS.md from the records.
    #[arg(long)]
    pub report_only: bool,
    /// Print the verdict lines as JSON instead of the report.
    #[arg(long)]
    pub json: bool,
    /// No progress lines.
    #[arg(long)]
    pub quiet: bool,
}

fn default_work() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".cache/superlinear/netgrid/train")
}

pub fn run(args: NetGridArgs) -> Result<i32> {
    super::existing("config", &args.config)?;
    let config = NetGridConfig::load(&args.config)?;
    let stage = Stage::parse(&args.stage)?;
    let shard = Shard::of_flag(args.shard.as_deref())?;
    if args.jobs == 0 {
        return Err(ReproduceError::setting("jobs", 0, "must be at least 1").into());
    }
    if args.threads < 1 {
        return Err(ReproduceError::setting("threads", args.threads, "must be at least 1").into());
    }
    let mut command = format!("superlinear net-grid --config {}", args.config.display());
    if args.out != Path::new("experiments/results/net") {
        command.push_str(&format!(" --out {}", args.out.display()));
    }
    let settings = NetGridSettings {
        config,
        out: args.out.clone(),
        work: args.work.clone().unwrap_or_else(default_work),
        data_root: args.data.clone(),
        jobs: args.jobs,
        threads: args.threads,
        shard,
        stage,
        reanalyze: args.reanalyze,
        progress: !args.quiet,
        command,
    };
    let report = if args.report_only {
        report_only(&settings)?
    } else {
        train_and_analyse(&settings, &args)?
    };
    print_report(&report, &args)?;
    Ok(exit::OK)
}

fn print_report(r: &NetGridReport, args: &NetGridArgs) -> Result<()> {
    if args.json {
        #[derive(serde::Serialize)]
        struct Lines<'a> {
            lines: &'a std::collections::BTreeMap<String, superlinear::claims::evidence::Line>,
            trained: usize,
            reused_runs: usize,
            analysed: usize,
            reused_records: usize,
            skipped: &'a [String],
        }
        super::json::print(
            super::json::NET_GRID,
            &Lines {
                lines: &r.lines,
                trained: r.trained,
                reused_runs: r.reused_runs,
                analysed: r.analysed,
                reused_records: r.reused_records,
                skipped: &r.skipped,
            },
        )?;
    } else {
        for (claim, line) in &r.lines {
            println!("{claim:<4} {:<22} {}", line.status.as_str(), line.summary);
        }
    }
    for s in &r.skipped {
        eprintln!("skipped: {s}");
    }
    eprintln!(
        "{} runs trained, {} reused; {} analysed, {} records reused; report in {}",
        r.trained,
        r.reused_runs,
        r.analysed,
        r.reused_records,
        args.out.join("RESULTS.md").display()
    );
    Ok(())
}

#[cfg(feature = "torch")]
fn train_and_analyse(s: &NetGridSettings, _args: &NetGridArgs) -> Result<NetGridReport> {
    tch::set_num_threads(s.threads);
    Ok(superlinear::reproduce::netgrid::run::net_grid(s)?)
}

#[cfg(not(feature = "torch"))]
fn train_and_analyse(_s: &NetGridSettings, args: &NetGridArgs) -> Result<NetGridReport> {
    let _ = args;
    Err(ReproduceError::setting(
        "report-only",
        false,
        "training and analysis need a build with --features torch; without it only \
         --report-only rewrites RESULTS.md from the records",
    )
    .into())
}
