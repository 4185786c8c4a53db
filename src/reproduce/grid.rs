//! One `superlinear reproduce` call apart from the training: its settings,
//! the selected rows and their resolved configs, the stored records it
//! reuses and the runs left to do ([`plan`]), the outputs rewritten after
//! every finished run ([`write_outputs`]: tables and results document), and
//! `--report-only` ([`report_only`]), which renders them from the stored
//! records alone. Pure Rust: the training loop is `run` (feature `torch`).
//!
//! Progress: reading the stored records is a stage with a step per (row,
//! seed) of the grid; `--report-only` adds a stage `report` of one step
//! (tables and results document written).

use std::path::{Path, PathBuf};

use super::aggregate::{judgements, scored, table_rows, TableId, TableRow};
use super::config::{ConfigSet, RowFilter, RowKey, RunConfig, Scale};
use super::record::{record_path, stored_record, RunRecord};
use super::render::{results_markdown, table_csv, table_markdown, RenderOptions, ResultsContext};
use super::shard::Shard;
use super::{write_atomic, ReproduceError};
use crate::claims::grid::GridJudgement;
use crate::loss::Loss;
use crate::progress::{Progress, StageGuard};
use crate::published::Published;

/// Everything one `reproduce` call needs.
#[derive(Debug, Clone)]
pub struct ReproduceSettings {
    /// Table 1 or 3.
    pub table: TableId,
    /// Scale.
    pub scale: Scale,
    /// Row selection.
    pub rows: RowFilter,
    /// Seeds per row (0 .. seeds).
    pub seeds: usize,
    /// Runs in parallel.
    pub jobs: usize,
    /// Output directory (run records and tables).
    pub out: PathBuf,
    /// Where to write the results document (None: not written).
    pub results_md: Option<PathBuf>,
    /// Family configs.
    pub configs: ConfigSet,
    /// Published tables.
    pub published: Published,
    /// Data root (None: `SUPERLINEAR_DATA`).
    pub data_root: Option<PathBuf>,
    /// libtorch threads (recorded; the caller sets them).
    pub threads: i32,
    /// The command line, for the results document.
    pub command: String,
    /// Write the wall-time column in the tables.
    pub timings: bool,
    /// Train nothing: render the tables and the results document from the
    /// stored records only.
    pub report_only: bool,
    /// Runs below the training-accuracy floor `1/K + p (1 - 1/K)` with this p
    /// are listed but not scored ([`super::aggregate::accuracy_floor`]).
    pub min_train_progress: f64,
    /// Learning rate for every selected row instead of the configs' shared
    /// one (side runs; the resolved config, hence every record, holds it, so
    /// a rerun or `--report-only` with the same value reuses the records).
    pub lr_override: Option<f64>,
    /// The share of the runs this call trains (`--shard I/N`): position `j`
    /// of the (row, seed) plan, rows in table order and seeds ascending,
    /// belongs to shard `j mod N + 1`. Stored records of every shard are read,
    /// so the tables cover whatever the shared output directory holds.
    pub shard: Shard,
}

impl ReproduceSettings {
    /// Checks the numbers.
    pub fn validate(&self) -> Result<(), ReproduceError> {
        if self.seeds == 0 {
            return Err(ReproduceError::setting("seeds", 0, "must be at least 1"));
        }
        if self.jobs == 0 {
            return Err(ReproduceError::setting("jobs", 0, "must be at least 1"));
        }
        if let Some(lr) = self.lr_override {
            if !(lr.is_finite() && lr > 0.0) {
                return Err(ReproduceError::setting(
                    "lr",
                    lr,
                    "must be a positive finite learning rate",
                ));
            }
        }
        if !(0.0..=1.0).contains(&self.min_train_progress) {
            return Err(ReproduceError::setting(
                "min-train-progress",
                self.min_train_progress,
                "must be a fraction in [0, 1] of the way from chance to full training accuracy",
            ));
        }
        Ok(())
    }

    /// The selected rows in table order (Table 3: MSE rows only).
    pub fn selected_rows(&self) -> Vec<RowKey> {
        self.configs
            .rows(&self.published)
            .into_iter()
            .filter(|r| self.rows.matches(r))
            .filter(|r| self.table == TableId::One || r.loss == Loss::SoftmaxMse)
            .collect()
    }
}

/// What a call produced.
#[derive(Debug, Clone)]
pub struct ReproduceReport {
    /// Side-by-side rows.
    pub rows: Vec<TableRow>,
    /// Every finished record of the selected rows and seeds.
    pub records: Vec<RunRecord>,
    /// Runs trained in this call.
    pub ran: usize,
    /// Runs reused from earlier calls.
    pub reused: usize,
    /// The claim judgements on the measured grid (C14, then C9).
    pub judgements: Vec<GridJudgement>,
    /// The table as markdown.
    pub markdown: String,
    /// The table as CSV.
    pub csv: String,
}

/// The work of one call.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The selected rows in table order.
    pub rows: Vec<RowKey>,
    /// Their resolved configs (with the `--lr` override), in the same order.
    pub configs: Vec<RunConfig>,
    /// The stored records with exactly these configs (reused).
    pub records: Vec<RunRecord>,
    /// The runs (config, seed) without one (none with `report_only`).
    pub todo: Vec<(RunConfig, u64)>,
}

/// Validates `s`, selects and resolves the rows, and sorts every (row, seed)
/// into a reused record or a run to do; progress: a stage `stored records`
/// with a step per (row, seed).
pub fn plan(s: &ReproduceSettings, progress: &dyn Progress) -> Result<Plan, ReproduceError> {
    s.validate()?;
    let rows = s.selected_rows();
    if rows.is_empty() {
        return Err(ReproduceError::setting(
            "rows",
            "filter",
            format!(
                "selects no row of Table {} from the configs",
                s.table.number()
            ),
        ));
    }
    let mut configs = Vec::new();
    for r in &rows {
        let mut c = s.configs.resolve(r, s.scale, &s.published)?;
        if let Some(lr) = s.lr_override {
            c.lr = lr;
        }
        configs.push(c);
    }
    let mut todo = Vec::new();
    let mut records = Vec::new();
    let runs = configs
        .iter()
        .flat_map(|c| (0..s.seeds as u64).map(move |seed| (c, seed)));
    let stage = StageGuard::begin(progress, "stored records", (configs.len() * s.seeds) as u64);
    for (position, (c, seed)) in runs.enumerate() {
        let found = match stored_record(&record_path(&s.out, &c.row, seed), c, s.table) {
            Some(rec) => {
                records.push(rec);
                "stored"
            }
            None if s.report_only || !s.shard.takes(position) => "none",
            None => {
                todo.push((c.clone(), seed));
                "to run"
            }
        };
        stage.step(&format!("{} seed {seed}: {found}", c.row.id()));
    }
    drop(stage);
    Ok(Plan {
        rows,
        configs,
        records,
        todo,
    })
}

/// The report of a call that ends with `records` (in any order), `ran` of
/// them trained now and `reused` stored.
pub fn finish(
    s: &ReproduceSettings,
    rows: &[RowKey],
    mut records: Vec<RunRecord>,
    ran: usize,
    reused: usize,
) -> ReproduceReport {
    records.sort_by_key(|r| (r.config.row, r.provenance.seed));
    let table = table_rows(&s.published, rows, &records, s.table, s.min_train_progress);
    let o = RenderOptions { timings: s.timings };
    ReproduceReport {
        markdown: table_markdown(&table, s.table, o),
        csv: table_csv(&table, s.table, o),
        judgements: judgements(&table, &scored(&records, s.min_train_progress)),
        rows: table,
        records,
        ran,
        reused,
    }
}

/// `--report-only`: trains nothing; rewrites the tables and the results
/// document from the stored records and reports on them (progress: the
/// stored records, then `report`).
pub fn report_only(
    s: &ReproduceSettings,
    progress: &dyn Progress,
) -> Result<ReproduceReport, ReproduceError> {
    let plan = plan(
        &ReproduceSettings {
            report_only: true,
            ..s.clone()
        },
        progress,
    )?;
    let stage = StageGuard::begin(progress, "report", 1);
    write_outputs(s, &plan.rows, &plan.configs, &plan.records)?;
    stage.step("tables and results document written");
    drop(stage);
    let reused = plan.records.len();
    Ok(finish(s, &plan.rows, plan.records, 0, reused))
}

/// The `sweep-*` directories beside `out` (not when `out` is one of them),
/// sorted by name, with their `table1.md`.
pub fn sweeps_beside(out: &Path) -> Vec<(String, String)> {
    let is_sweep = |p: &Path| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("sweep-"))
    };
    if is_sweep(out) {
        return Vec::new();
    }
    let Some(parent) = out.parent() else {
        return Vec::new();
    };
    let Ok(dir) = std::fs::read_dir(parent) else {
        return Vec::new();
    };
    let mut found: Vec<(String, String)> = dir
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir() && is_sweep(p))
        .filter_map(|p| {
            let table = std::fs::read_to_string(p.join("table1.md")).ok()?;
            Some((p.file_name()?.to_string_lossy().into_owned(), table))
        })
        .collect();
    found.sort();
    found
}

/// Rewrites the tables (`table<N>.md`, `table<N>.csv`) and the results
/// document from `records`.
pub fn write_outputs(
    s: &ReproduceSettings,
    rows: &[RowKey],
    configs: &[RunConfig],
    records: &[RunRecord],
) -> Result<(), ReproduceError> {
    let mut records = records.to_vec();
    records.sort_by_key(|r| (r.config.row, r.provenance.seed));
    let table = table_rows(&s.published, rows, &records, s.table, s.min_train_progress);
    let o = RenderOptions { timings: s.timings };
    let n = s.table.number();
    write_atomic(
        &s.out.join(format!("table{n}.md")),
        &table_markdown(&table, s.table, o),
    )?;
    write_atomic(
        &s.out.join(format!("table{n}.csv")),
        &table_csv(&table, s.table, o),
    )?;
    if let Some(p) = &s.results_md {
        let mut commits: Vec<String> = records
            .iter()
            .filter_map(|r| {
                r.provenance.git_commit.as_ref().map(|c| {
                    let short: String = c.chars().take(10).collect();
                    if r.provenance.git_dirty == Some(true) {
                        format!("{short}+dirty")
                    } else {
                        short
                    }
                })
            })
            .collect();
        commits.sort();
        commits.dedup();
        let ctx = ResultsContext {
            table: s.table,
            scale: s.scale,
            command: s.command.clone(),
            rows,
            seeds: s.seeds,
            configs,
            published: &s.published,
            commits,
            min_train_progress: s.min_train_progress,
            sweeps: sweeps_beside(&s.out),
            notes: std::fs::read_to_string(s.out.join("NOTES.md")).ok(),
            timings: s.timings,
        };
        let judged = judgements(&table, &scored(&records, s.min_train_progress));
        write_atomic(p, &results_markdown(&ctx, &table, &judged))?;
    }
    Ok(())
}
