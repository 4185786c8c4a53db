//! `superlinear reproduce`: Tables 1 and 3 of the paper trained and analysed
//! on real data at scale `paper` or `reduced`, resumable, published beside
//! measured (C14, C9 judgements). Training needs the feature `torch`;
//! `--report-only` renders the stored records in any build. A thin layer over
//! `superlinear::reproduce`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use superlinear::claims::evidence::exit_code;
use superlinear::progress::Progress;
use superlinear::published::Published;
use superlinear::reproduce::aggregate::{TableId, DEFAULT_MIN_TRAIN_PROGRESS};
use superlinear::reproduce::config::{ConfigSet, RowFilter, Scale, RUNS_DIR};
use superlinear::reproduce::grid::{report_only, ReproduceSettings};
use superlinear::reproduce::render::judgements_markdown;
#[cfg(feature = "torch")]
use superlinear::reproduce::run::reproduce as run_reproduce;
use superlinear::reproduce::shard::Shard;
use superlinear::reproduce::ReproduceError;

#[derive(Debug, Args)]
pub struct ReproduceArgs {
    /// Which table: 1 (gamma, gamma_awd; CE and MSE) or 3 (MSE with Term II).
    #[arg(long)]
    pub table: String,
    /// `paper` (Table 2's setup; needs the full data sets) or `reduced` (this machine).
    #[arg(long)]
    pub scale: String,
    /// Rows: comma-separated terms of `-`-joined tokens (mnist, cifar10, mlp,
    /// cnn, k3, k6, k10, ce, mse), e.g. `mnist-mlp,cifar10-cnn-k3`; `all`.
    #[arg(long, default_value = "all")]
    pub rows: String,
    /// Seeds per row (0 .. N).
    #[arg(long, default_value_t = 4)]
    pub seeds: usize,
    /// Runs in parallel (each with --threads libtorch threads).
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// Output directory (default: experiments/results/<scale>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Directory of the family configs.
    #[arg(long, default_value = RUNS_DIR)]
    pub configs: PathBuf,
    /// Results document (default: experiments/RESULTS.md for Table 1 into the
    /// default output directory, else <out>/RESULTS-table<N>.md).
    #[arg(long)]
    pub results: Option<PathBuf>,
    /// Data root (default: $SUPERLINEAR_DATA).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// libtorch threads per run.
    #[arg(long, default_value_t = 1)]
    pub threads: i32,
    /// Leave the wall-time column out of the tables (for byte-stable output).
    #[arg(long)]
    pub no_timings: bool,
    /// Train nothing: rewrite the tables and the results document from the
    /// stored run records.
    #[arg(long)]
    pub report_only: bool,
    /// Also draw Table 1 published beside measured (gamma, gamma_awd; C14)
    /// and every finite-fit exponent against [1, 2] (C9) as SVG into DIR.
    #[arg(long, value_name = "DIR")]
    pub plot: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Print the rows, the judgements and the run counts as JSON instead of
    /// the tables (the files are written either way).
    #[arg(long)]
    pub json: bool,
    /// Runs below the training-accuracy floor 1/K + P (1 - 1/K) (P of the way
    /// from chance to full accuracy) are listed but not scored: they measure
    /// an untrained network.
    #[arg(long, default_value_t = DEFAULT_MIN_TRAIN_PROGRESS)]
    pub min_train_progress: f64,
    /// Learning rate for every selected row instead of the configs' shared one
    /// (side runs: use with an --out of their own, e.g. --out sweep-0.01).
    #[arg(long)]
    pub lr: Option<f64>,
    /// Train only shard I of N (`1/4`, ...): run j of the (row, seed) plan
    /// belongs to shard `j mod N + 1`, so a job array partitions the grid;
    /// merge the shared output directory with `--report-only`.
    #[arg(long)]
    pub shard: Option<String>,
}

pub fn reproduce(args: ReproduceArgs) -> Result<i32> {
    if args.threads < 1 {
        anyhow::bail!("--threads {}: must be at least 1", args.threads);
    }
    let table = TableId::parse(&args.table)?;
    let shard = Shard::of_flag(args.shard.as_deref())?;
    let scale = Scale::parse(&args.scale)?;
    let rows = RowFilter::parse(&args.rows)?;
    super::existing("configs", &args.configs)?;
    let configs = ConfigSet::load(&args.configs)?;
    let default_out = args.out.is_none();
    let out = args
        .out
        .unwrap_or_else(|| PathBuf::from("experiments/results").join(scale.name()));
    let results_md = args.results.unwrap_or_else(|| {
        if default_out && table == TableId::One {
            PathBuf::from("experiments/RESULTS.md")
        } else {
            out.join(format!("RESULTS-table{}.md", table.number()))
        }
    });
    let settings = ReproduceSettings {
        table,
        scale,
        rows,
        seeds: args.seeds,
        jobs: args.jobs,
        out: out.clone(),
        results_md: Some(results_md.clone()),
        configs,
        published: Published::builtin()?,
        data_root: args.data,
        threads: args.threads,
        command: format!(
            "superlinear reproduce --table {} --scale {} --rows {} --seeds {}{}{}{}",
            table.number(),
            scale.name(),
            args.rows,
            args.seeds,
            args.lr.map_or(String::new(), |lr| format!(" --lr {lr}")),
            args.shard
                .as_deref()
                .map_or(String::new(), |s| format!(" --shard {s}")),
            if default_out {
                String::new()
            } else {
                format!(" --out {}", out.display())
            }
        ),
        timings: !args.no_timings,
        report_only: args.report_only,
        min_train_progress: args.min_train_progress,
        lr_override: args.lr,
        shard,
    };
    let progress = super::progress::reporter(args.quiet || args.json);
    let report = if settings.report_only {
        report_only(&settings, progress.as_ref())?
    } else {
        train_and_report(&settings, progress.as_ref())?
    };
    drop(progress);
    if args.json {
        #[derive(serde::Serialize)]
        struct Out<'a> {
            table: u8,
            scale: &'a str,
            out: &'a std::path::Path,
            results: &'a std::path::Path,
            ran: usize,
            reused: usize,
            rows: &'a [superlinear::reproduce::aggregate::TableRow],
            judgements: &'a [superlinear::claims::grid::GridJudgement],
        }
        super::json::print(
            super::json::REPRODUCE,
            &Out {
                table: table.number(),
                scale: scale.name(),
                out: &out,
                results: &results_md,
                ran: report.ran,
                reused: report.reused,
                rows: &report.rows,
                judgements: &report.judgements,
            },
        )?;
        return Ok(exit_code(report.judgements.iter().map(|j| j.status)));
    }
    print!("{}", report.markdown);
    println!();
    print!("{}", judgements_markdown(&report.judgements));
    if let Some(dir) = &args.plot {
        let scored =
            superlinear::reproduce::aggregate::scored(&report.records, settings.min_train_progress);
        let (mut figures, mut missing) = (Vec::new(), Vec::new());
        superlinear::reproduce::report::sources::table1_figures(
            &report.rows,
            &scored,
            &out.join("runs").display().to_string(),
            &mut figures,
            &mut missing,
        );
        for p in superlinear::reproduce::report::write_figures(&figures, dir)? {
            eprintln!("wrote {}", p.display());
        }
        for m in missing {
            eprintln!("not drawn: {m}");
        }
    }
    println!(
        "\n{} runs trained now, {} reused; records and tables in {}, results in {}",
        report.ran,
        report.reused,
        out.display(),
        results_md.display()
    );
    Ok(exit_code(report.judgements.iter().map(|j| j.status)))
}

#[cfg(feature = "torch")]
fn train_and_report(
    settings: &ReproduceSettings,
    progress: &dyn Progress,
) -> Result<superlinear::reproduce::grid::ReproduceReport, ReproduceError> {
    tch::set_num_threads(settings.threads);
    run_reproduce(settings, progress)
}

#[cfg(not(feature = "torch"))]
fn train_and_report(
    settings: &ReproduceSettings,
    _progress: &dyn Progress,
) -> Result<superlinear::reproduce::grid::ReproduceReport, ReproduceError> {
    settings.validate()?;
    Err(ReproduceError::setting(
        "report-only",
        false,
        "training needs a build with --features torch; without it only --report-only \
         renders the stored records",
    ))
}
