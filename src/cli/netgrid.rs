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
use superlinear::progress::Progress;
use superlinear::reproduce::netgrid::{
    report_only, NetGridConfig, NetGridReport, NetGridSettings, Shard, Stage, NETGRID_TOML,
};
use superlinear::reproduce::ReproduceError;

#[derive(Debug, Args)]
pub struct NetGridArgs {
    /// The grid's config.
    #[arg(long, default_value = NETGRID_TOML)]
    pub config: PathBuf,
    /// Records and RESULTS.md (default: the config's `out`, else
    /// experiments/results/net).
    #[arg(long)]
    pub out: Option<PathBuf>,
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
    /// Run only this family (its id, e.g. mnist-mlp-ce; repeatable). The
    /// other families' records are left as they are.
    #[arg(long = "family")]
    pub families: Vec<String>,
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
    /// No progress bar.
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
    let default_out = config.default_out();
    let out = args.out.clone().unwrap_or_else(|| default_out.clone());
    let mut command = format!("superlinear net-grid --config {}", args.config.display());
    if out != default_out {
        command.push_str(&format!(" --out {}", out.display()));
    }
    let settings = NetGridSettings {
        config,
        out: out.clone(),
        work: args.work.clone().unwrap_or_else(default_work),
        data_root: args.data.clone(),
        jobs: args.jobs,
        threads: args.threads,
        shard,
        stage,
        reanalyze: args.reanalyze,
        families: args.families.clone(),
        command,
    };
    settings.validate()?;
    let progress = super::progress::reporter(args.quiet || args.json);
    let report = if args.report_only {
        report_only(&settings, progress.as_ref())?
    } else {
        train_and_analyse(&settings, &args, progress.as_ref())?
    };
    drop(progress);
    print_report(&report, &out, &args)?;
    Ok(exit::OK)
}

fn print_report(r: &NetGridReport, out: &Path, args: &NetGridArgs) -> Result<()> {
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
        out.join("RESULTS.md").display()
    );
    Ok(())
}

#[cfg(feature = "torch")]
fn train_and_analyse(
    s: &NetGridSettings,
    _args: &NetGridArgs,
    progress: &dyn Progress,
) -> Result<NetGridReport> {
    tch::set_num_threads(s.threads);
    Ok(superlinear::reproduce::netgrid::run::net_grid(s, progress)?)
}

#[cfg(not(feature = "torch"))]
fn train_and_analyse(
    _s: &NetGridSettings,
    args: &NetGridArgs,
    _progress: &dyn Progress,
) -> Result<NetGridReport> {
    let _ = args;
    Err(ReproduceError::setting(
        "report-only",
        false,
        "training and analysis need a build with --features torch; without it only \
         --report-only rewrites RESULTS.md from the records",
    )
    .into())
}
