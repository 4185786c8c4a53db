//! The driver behind `superlinear reproduce` (feature `torch`): for every
//! selected row and seed, load the training subset, build the seeded model,
//! train it with vanilla SGD ([`crate::torch::train::train`]), analyse the
//! paper's layer in memory ([`super::analyze::analyze`]), and write the
//! run record `runs/<row>/seed-<s>.json` under the output directory.
//!
//! Resumable: a run whose record exists with the same resolved config is not
//! rerun (a record with a different config is rerun and overwritten). After
//! every finished run the tables (`table<N>.md`, `table<N>.csv`) and the
//! results document are rewritten, so an interrupted grid leaves a consistent
//! partial report.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use tch::Kind;

use super::analyze::{analyze, AnalyzeSettings};
use super::config::{ConfigSet, Loss, Model, RowFilter, RowKey, RunConfig, Scale};
use super::report::{
    reached_floor, results_markdown, table_csv, table_markdown, table_rows, verdicts,
    AnalyzeOutcome, FitSummary, Provenance, RenderOptions, ResultsContext, RunRecord, TableId,
    TableRow, Term2Summary, Timings, TrainOutcome, Verdict,
};
use super::ReproduceError;
use crate::published::Published;
use crate::torch::dataset::{load_data, DataSettings, DatasetName};
use crate::torch::model::{Arch, ModelSpec, Net};
use crate::torch::train::{train, TrainSettings};

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
    /// Print one line per run on stderr.
    pub progress: bool,
    /// Write the wall-time column in the tables.
    pub timings: bool,
    /// Train nothing: render the tables and the results document from the
    /// stored records only.
    pub report_only: bool,
    /// Runs below the training-accuracy floor `1/K + p (1 - 1/K)` with this p
    /// are listed but not scored ([`super::report::accuracy_floor`]).
    pub min_train_progress: f64,
    /// Learning rate for every selected row instead of the configs' shared
    /// one (side runs; the resolved config, hence every record, holds it, so
    /// a rerun or `--report-only` with the same value reuses the records).
    pub lr_override: Option<f64>,
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
            .filter(|r| self.table == TableId::One || r.loss == Loss::Mse)
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
    /// Verdicts.
    pub verdicts: Vec<Verdict>,
    /// The table as markdown.
    pub markdown: String,
    /// The table as CSV.
    pub csv: String,
}

/// The record path of one run.
pub fn record_path(out: &Path, row: &RowKey, seed: u64) -> PathBuf {
    out.join("runs")
        .join(row.id())
        .join(format!("seed-{seed}.json"))
}

/// A finished record with exactly this config, if one is stored; with
/// `table` = 3 an MSE record must also hold Table 3's Term II figures
/// (records written before they existed are rerun).
pub fn stored_record(path: &Path, config: &RunConfig, table: TableId) -> Option<RunRecord> {
    let text = std::fs::read_to_string(path).ok()?;
    let rec: RunRecord = serde_json::from_str(&text).ok()?;
    let complete =
        table == TableId::One || config.row.loss != Loss::Mse || rec.analyze.term2.is_some();
    (rec.config == *config && complete).then_some(rec)
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> ReproduceError {
    ReproduceError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

fn write_atomic(path: &Path, text: &str) -> Result<(), ReproduceError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).map_err(|e| io_err(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| io_err(path, e))
}

fn git(args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The architecture of a resolved config.
pub fn arch_of(c: &RunConfig) -> Arch {
    let (ch, h, w) = c.row.dataset.chw();
    match c.row.model {
        Model::Mlp => Arch::Mlp {
            input: ch * h * w,
            hidden: c.widths.clone(),
        },
        Model::Cnn => Arch::Cnn {
            in_channels: ch,
            channels: c.widths.clone(),
            pool_side: c.cnn_pool_side,
            hidden: c.cnn_hidden,
        },
    }
}

/// Trains and analyses one run (no files).
pub fn run_one(
    config: &RunConfig,
    seed: u64,
    data_root: Option<&Path>,
    threads: i32,
) -> Result<RunRecord, ReproduceError> {
    let t0 = Instant::now();
    let cpu0 = process_cpu_seconds();
    let ds = DataSettings {
        dataset: match config.row.dataset {
            super::config::Dataset::Mnist => DatasetName::Mnist,
            super::config::Dataset::Cifar10 => DatasetName::Cifar10,
        },
        root: data_root.map(Path::to_path_buf),
        classes: config.row.classes,
        per_class: config.per_class,
        normalize: true,
    };
    let data = load_data(&ds)?;
    let data_s = t0.elapsed().as_secs_f64();
    let spec = ModelSpec {
        arch: arch_of(config),
        classes: config.row.classes,
    };
    let t1 = Instant::now();
    let cpu1 = process_cpu_seconds();
    let mut net = Net::new(&spec, seed, Kind::Float)?;
    let ts = TrainSettings {
        loss: config.row.loss.kind(),
        lr: config.lr,
        batch_size: config.batch,
        epochs: config.epochs,
        seed,
        checkpoint_every: 0,
        out_dir: None,
        progress: false,
    };
    let tr = train(&mut net, &data, &ts)?;
    let train_s = t1.elapsed().as_secs_f64();
    let t2 = Instant::now();
    let cpu2 = process_cpu_seconds();
    let settings = AnalyzeSettings {
        checkpoint: PathBuf::from("(in memory)"),
        layer: None,
        samples: config.analyze_samples,
        top_k: config.top_k,
        loss: Some(config.row.loss.kind()),
        batch_size: Some(config.batch),
        // Table 3's column (MSE rows): Term II kept, pairs drawn with the run's seed.
        term2: config.row.loss == Loss::Mse,
        pair_seed: seed,
        ..AnalyzeSettings::default()
    };
    let an = analyze(&net, &data, &settings, None)?.analysis;
    let analyze_s = t2.elapsed().as_secs_f64();
    let cpu3 = process_cpu_seconds();
    let delta = |a: Option<f64>, b: Option<f64>| b.zip(a).map(|(b, a)| b - a);
    let fit = FitSummary::of;
    let last = tr.epochs.last();
    Ok(RunRecord {
        config: config.clone(),
        provenance: Provenance {
            git_commit: git(&["rev-parse", "HEAD"]),
            git_dirty: git(&["status", "--porcelain", "--untracked-files=no"])
                .map(|s| !s.is_empty()),
            crate_version: env!("CARGO_PKG_VERSION").to_string(),
            seed,
            threads,
            data: data.name.clone(),
        },
        train: TrainOutcome {
            samples: tr.samples,
            accuracy: last.map_or(f64::NAN, |e| e.accuracy),
            loss: last.map_or(f64::NAN, |e| e.loss),
            accuracy_curve: tr.epochs.iter().map(|e| e.accuracy).collect(),
        },
        analyze: AnalyzeOutcome {
            layer: an.layer.clone(),
            samples: an.samples,
            top_k: an.h_diag.len(),
            gamma: fit(&an.gamma),
            gamma_awd: fit(&an.gamma_awd),
            bound_violations: (an.bounds.left.violations, an.bounds.right.violations),
            first_moment_residual: an.first_moment_residual,
            negative_mass: an.spectra.negative_mass,
            term2: an.term2.as_ref().map(|t| match t {
                Ok(t) => Term2Summary {
                    pairs_used: t.pairs_used,
                    term2_share: t.term2_share,
                    gamma_term12: fit(&t.gamma_term12),
                    gamma_iso_term2: fit(&t.gamma_iso_term2),
                },
                Err(e) => Term2Summary {
                    pairs_used: 0,
                    term2_share: f64::NAN,
                    gamma_term12: Err(e.clone()),
                    gamma_iso_term2: Err(e.clone()),
                },
            }),
            stages: an
                .stages
                .iter()
                .map(|s| (s.name.clone(), s.seconds))
                .collect(),
        },
        timings: Timings {
            data_s,
            train_s,
            analyze_s,
            total_s: t0.elapsed().as_secs_f64(),
            process_cpu_s: delta(cpu0, cpu3),
            train_cpu_s: delta(cpu1, cpu2),
            analyze_cpu_s: delta(cpu2, cpu3),
        },
    })
}

/// User + system CPU seconds of this process (Linux `/proc/self/stat`,
/// fields 14 and 15 in clock ticks of 1/100 s, the kernel's USER_HZ).
pub fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces; fields after its ')' are plain.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

struct Shared {
    records: Vec<RunRecord>,
    ran: usize,
    error: Option<ReproduceError>,
}

/// Runs (or reuses) every selected row and seed, and writes the records, the
/// tables and the results document.
pub fn reproduce(s: &ReproduceSettings) -> Result<ReproduceReport, ReproduceError> {
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
    for c in &configs {
        for seed in 0..s.seeds as u64 {
            match stored_record(&record_path(&s.out, &c.row, seed), c, s.table) {
                Some(rec) => records.push(rec),
                None if s.report_only => {}
                None => todo.push((c.clone(), seed)),
            }
        }
    }
    let reused = records.len();
    let total = todo.len();
    let shared = Mutex::new(Shared {
        records,
        ran: 0,
        error: None,
    });
    let queue = Mutex::new(todo.into_iter().enumerate());
    write_outputs(s, &rows, &configs, &lock(&shared).records)?;
    std::thread::scope(|scope| {
        for _ in 0..s.jobs.min(total.max(1)) {
            scope.spawn(|| loop {
                if lock(&shared).error.is_some() {
                    return;
                }
                let Some((i, (config, seed))) = lock(&queue).next() else {
                    return;
                };
                let result = run_one(&config, seed, s.data_root.as_deref(), s.threads)
                    .and_then(|rec| {
                        let text = serde_json::to_string_pretty(&rec)
                            .map_err(|e| io_err(&s.out, e))?;
                        write_atomic(&record_path(&s.out, &config.row, seed), &text)?;
                        Ok(rec)
                    });
                let mut sh = lock(&shared);
                match result {
                    Ok(rec) => {
                        if s.progress {
                            eprintln!(
                                "[{}/{total}] {} seed {seed}: train acc {:.3}, gamma {}, gamma_awd {}, train {:.0} s, analyze {:.0} s",
                                i + 1,
                                config.row.id(),
                                rec.train.accuracy,
                                rec.gamma().map_or("-".into(), |g| format!("{g:.3}")),
                                rec.gamma_awd().map_or("-".into(), |g| format!("{g:.3}")),
                                rec.timings.train_s,
                                rec.timings.analyze_s
                            );
                        }
                        sh.records.push(rec);
                        sh.ran += 1;
                        if let Err(e) = write_outputs(s, &rows, &configs, &sh.records) {
                            sh.error = Some(e);
                        }
                    }
                    Err(e) => {
                        sh.error = Some(ReproduceError::Run {
                            row: config.row.id(),
                            seed,
                            source: Box::new(e),
                        })
                    }
                }
            });
        }
    });
    let sh = shared.into_inner().unwrap_or_else(|p| p.into_inner());
    if let Some(e) = sh.error {
        return Err(e);
    }
    let mut records = sh.records;
    records.sort_by_key(|r| (r.config.row, r.provenance.seed));
    let table = table_rows(&s.published, &rows, &records, s.table, s.min_train_progress);
    let o = RenderOptions { timings: s.timings };
    Ok(ReproduceReport {
        markdown: table_markdown(&table, s.table, o),
        csv: table_csv(&table, s.table, o),
        verdicts: verdicts(&table, &scored(&records, s.min_train_progress)),
        rows: table,
        records,
        ran: sh.ran,
        reused,
    })
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

/// The records at or above the training-accuracy floor (the ones scored).
pub fn scored(records: &[RunRecord], min_train_progress: f64) -> Vec<RunRecord> {
    records
        .iter()
        .filter(|r| reached_floor(r, min_train_progress))
        .cloned()
        .collect()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn write_outputs(
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
        };
        write_atomic(
            p,
            &results_markdown(&ctx, &table, &scored(&records, s.min_train_progress)),
        )?;
    }
    Ok(())
}
