//! Aggregation of the run records into the rows of the side-by-side table:
//! per row, the published mean +- std (`experiments/published.toml`) beside
//! the measured mean +- std over the scored seeds, their difference and
//! whether it is within [`CLOSE`] = 0.10; and the measured figures handed to
//! the claim judgements (C14's qualitative statements, C9's `1 <= gamma <= 2`
//! on every run), which decide in `crate::claims`.
//!
//! Statistics: mean and sample standard deviation (n - 1; 0 for one seed)
//! over the seeds of a row.
//!
//! Runs whose final training accuracy is below a floor are kept on disk and
//! listed, but not scored: their gamma measures an untrained network, not the
//! paper's row. The floor is a fraction p of the way from chance to full
//! accuracy, `1/K + p (1 - 1/K)` ([`DEFAULT_MIN_TRAIN_PROGRESS`] = 0.5,
//! `--min-train-progress`): 0.67, 0.58, 0.55 for K = 3, 6, 10. It drops runs
//! stuck near chance and keeps partly trained ones (the paper trains CE to
//! convergence and MSE to a high but not full training accuracy; its exact
//! figures were lost in the extraction), whose accuracy the table shows.

use serde::Serialize;

use super::config::RowKey;
pub use super::config::TableId;
use super::record::RunRecord;
use crate::claims::c14::{self, GridRow};
use crate::claims::c9::{self, NetFit};
use crate::claims::grid::GridJudgement;
use crate::loss::Loss;
use crate::published::{MeanStd, Published, Table1Row};

/// Tolerance of "within" (and of C14's "close").
pub use crate::claims::c14::CLOSE;

/// Default fraction of the way from chance (1/K) to full training accuracy a
/// run must reach to be scored (module doc).
pub const DEFAULT_MIN_TRAIN_PROGRESS: f64 = 0.5;

/// The training-accuracy floor for K classes: `1/K + p (1 - 1/K)`.
pub fn accuracy_floor(classes: usize, min_train_progress: f64) -> f64 {
    let chance = 1.0 / classes.max(1) as f64;
    chance + min_train_progress * (1.0 - chance)
}

/// Whether `rec` reached its training-accuracy floor (a NaN accuracy does not).
pub fn reached_floor(rec: &RunRecord, min_train_progress: f64) -> bool {
    rec.train.accuracy >= accuracy_floor(rec.config.row.classes, min_train_progress)
}

/// The records at or above the training-accuracy floor (the ones scored).
pub fn scored(records: &[RunRecord], min_train_progress: f64) -> Vec<RunRecord> {
    records
        .iter()
        .filter(|r| reached_floor(r, min_train_progress))
        .cloned()
        .collect()
}

pub use crate::stats::mean_std;

/// One measured quantity beside its published value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Compared {
    /// Published mean +- std (None: the paper gives none).
    pub published: Option<MeanStd>,
    /// Measured mean and std over the seeds (None: nothing fitted).
    pub measured: Option<(f64, f64)>,
}

impl Compared {
    /// measured - published.
    pub fn diff(&self) -> Option<f64> {
        Some(self.measured?.0 - self.published?.mean)
    }
    /// `|diff| <= 0.10`.
    pub fn within(&self) -> Option<bool> {
        self.diff().map(|d| d.abs() <= CLOSE + 1e-12)
    }
}

/// One row of the side-by-side table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableRow {
    /// The row.
    pub row: RowKey,
    /// Seeds scored (finished and at or above the training-accuracy floor).
    pub seeds: usize,
    /// Seeds finished (scored or not).
    pub runs: usize,
    /// Finished runs below the training-accuracy floor, as `seed S (acc A)`.
    pub below_floor: Vec<String>,
    /// Mean final training accuracy of the scored seeds.
    pub accuracy: Option<f64>,
    /// gamma.
    pub gamma: Compared,
    /// gamma_awd.
    pub gamma_awd: Compared,
    /// Table 3's published MSE exponent with Term II (MSE rows of `--table 3`).
    pub table3: Option<f64>,
    /// Table 3 measured, first reading (Term I + II): mean, std over seeds.
    pub table3_term12: Option<(f64, f64)>,
    /// Table 3 measured, second reading (sigma^2 E[h^2] + Term II).
    pub table3_iso_term2: Option<(f64, f64)>,
    /// Total wall seconds over the finished seeds.
    pub wall_s: f64,
    /// Runs whose fit failed (with the reason of the first).
    pub fit_failures: Vec<String>,
}

/// The published row of `row` (dataset, model, K).
pub fn published_row<'a>(published: &'a Published, row: &RowKey) -> Option<&'a Table1Row> {
    published.table1.iter().find(|t| {
        t.dataset == row.dataset.published_name()
            && t.model == row.model.published_name()
            && t.classes == row.classes
    })
}

/// Builds the table rows for `rows` from the finished `records`; runs below
/// the training-accuracy floor ([`accuracy_floor`]) are counted and listed
/// but not scored.
pub fn table_rows(
    published: &Published,
    rows: &[RowKey],
    records: &[RunRecord],
    table: TableId,
    min_train_progress: f64,
) -> Vec<TableRow> {
    rows.iter()
        .map(|row| {
            let all: Vec<&RunRecord> = records.iter().filter(|r| r.config.row == *row).collect();
            let below_floor = all
                .iter()
                .filter(|r| !reached_floor(r, min_train_progress))
                .map(|r| format!("seed {} (acc {:.3})", r.provenance.seed, r.train.accuracy))
                .collect();
            let rs: Vec<&RunRecord> = all
                .iter()
                .copied()
                .filter(|r| reached_floor(r, min_train_progress))
                .collect();
            let g: Vec<f64> = rs.iter().filter_map(|r| r.gamma()).collect();
            let ga: Vec<f64> = rs.iter().filter_map(|r| r.gamma_awd()).collect();
            let acc: Vec<f64> = rs.iter().map(|r| r.train.accuracy).collect();
            let p = published_row(published, row);
            let (pg, pga) = match (p, row.loss) {
                (Some(p), Loss::CrossEntropy) => (Some(p.ce_gamma), Some(p.ce_gamma_awd)),
                (Some(p), Loss::SoftmaxMse) => (Some(p.mse_gamma), Some(p.mse_gamma_awd)),
                (Some(_), Loss::LogitMse) | (None, _) => (None, None),
            };
            let fit_failures = rs
                .iter()
                .filter_map(|r| match (&r.analyze.gamma, &r.analyze.gamma_awd) {
                    (Err(e), _) | (_, Err(e)) => Some(format!("seed {}: {e}", r.provenance.seed)),
                    _ => None,
                })
                .collect();
            TableRow {
                row: *row,
                seeds: rs.len(),
                runs: all.len(),
                below_floor,
                accuracy: mean_std(&acc).map(|m| m.0),
                gamma: Compared {
                    published: pg,
                    measured: mean_std(&g),
                },
                gamma_awd: Compared {
                    published: pga,
                    measured: mean_std(&ga),
                },
                table3: match (table, row.loss) {
                    (TableId::Three, Loss::SoftmaxMse) => p.map(|p| p.table3_mse_gamma_term2),
                    _ => None,
                },
                table3_term12: mean_std(
                    &rs.iter()
                        .filter_map(|r| r.gamma_term12())
                        .collect::<Vec<_>>(),
                ),
                table3_iso_term2: mean_std(
                    &rs.iter()
                        .filter_map(|r| r.gamma_iso_term2())
                        .collect::<Vec<_>>(),
                ),
                wall_s: all.iter().map(|r| r.timings.total_s).sum(),
                fit_failures,
            }
        })
        .collect()
}

/// The (data, model, K) setting of a row, e.g. `MNIST MLP K=3`.
fn setting(r: &RowKey) -> String {
    format!(
        "{} {} K={}",
        r.dataset.published_name(),
        r.model.published_name(),
        r.classes
    )
}

/// The judgements on the measured grid: C14's four qualitative statements on
/// the row means, then C9's `1 <= gamma <= 2` on every fit of the scored
/// `records`.
pub fn judgements(rows: &[TableRow], records: &[RunRecord]) -> Vec<GridJudgement> {
    let grid: Vec<GridRow> = rows
        .iter()
        .map(|r| GridRow {
            label: r.row.label(),
            setting: setting(&r.row),
            loss: r.row.loss,
            gamma: r.gamma.measured.map(|m| m.0),
            gamma_awd: r.gamma_awd.measured.map(|m| m.0),
        })
        .collect();
    let fits: Vec<NetFit> = records
        .iter()
        .flat_map(|rec| {
            let run = format!("{} seed {}", rec.config.row.label(), rec.provenance.seed);
            [("gamma", rec.gamma()), ("gamma_awd", rec.gamma_awd())]
                .into_iter()
                .filter_map(move |(exponent, g)| {
                    g.map(|value| NetFit {
                        run: run.clone(),
                        exponent,
                        value,
                    })
                })
        })
        .collect();
    let mut out = c14::judge_grid(&grid);
    out.push(c9::judge_grid_fits(&fits));
    out
}
