//! Per-run records, the side-by-side table (published mean +- std from
//! `experiments/published.toml` beside measured mean +- std over seeds, the
//! difference and whether it is within 0.10), the qualitative verdicts of C14
//! and C9 on the measured grid, and `RESULTS.md`.
//!
//! Statistics: mean and sample standard deviation (n - 1; 0 for one seed)
//! over the seeds of a row. Verdicts (tolerance [`CLOSE`] = 0.10, the same as
//! the published-vs-measured column):
//! - CE gamma > 1 in every CE row (row means);
//! - MSE gamma close to 1: `|mean - 1| <= 0.10` in every MSE row;
//! - CE gamma > MSE gamma for every `(dataset, model, K)` with both measured;
//! - gamma_awd close to gamma: `|mean gamma_awd - mean gamma| <= 0.10` per row;
//! - 1 <= gamma <= 2 (C9 on real networks): every run's gamma and gamma_awd.
//!
//! Runs whose final training accuracy is below a floor are kept on disk and
//! listed, but not scored: their gamma measures an untrained network, not the
//! paper's row. The floor is a fraction p of the way from chance to full
//! accuracy, `1/K + p (1 - 1/K)` ([`DEFAULT_MIN_TRAIN_PROGRESS`] = 0.5,
//! `--min-train-progress`): 0.67, 0.58, 0.55 for K = 3, 6, 10. It drops runs
//! stuck near chance and keeps partly trained ones (the paper trains CE to
//! convergence and MSE to a high but not full training accuracy; its exact
//! figures were lost in the extraction), whose accuracy the table shows.

use serde::{Deserialize, Serialize};

use super::config::{Loss, RowKey, RunConfig, Scale};
use crate::published::{MeanStd, Published, Table1Row};

/// Tolerance of "within" and "close".
pub const CLOSE: f64 = 0.10;

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

/// A gamma fit as stored in a run record.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FitSummary {
    /// Slope of `ln C_ii` on `ln H_ii`.
    pub gamma: f64,
    /// OLS standard error.
    pub std_err: f64,
    /// R^2.
    pub r_squared: f64,
    /// Intercept.
    pub intercept: f64,
    /// Directions used.
    pub points_used: usize,
    /// Directions dropped by the floor rule.
    pub points_dropped: usize,
    /// `ln(max H_ii / min H_ii)` over the directions used.
    pub log_range_h: f64,
}

impl FitSummary {
    /// The stored form of a fit, or its error text.
    pub fn of(f: &Result<crate::fit::GammaFit, String>) -> Result<FitSummary, String> {
        f.as_ref()
            .map(|f| FitSummary {
                gamma: f.gamma,
                std_err: f.std_err,
                r_squared: f.r_squared,
                intercept: f.intercept,
                points_used: f.points_used,
                points_dropped: f.points_dropped,
                log_range_h: f.log_range_h,
            })
            .map_err(Clone::clone)
    }
}

/// Table 3's figures of a run (MSE rows; `crate::layer::Term2Report`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Term2Summary {
    /// Matched pairs used.
    pub pairs_used: usize,
    /// `sum_i E[(T2.v_i)^2] / sum_i E[(T1.v_i)^2]` over the top-k.
    pub term2_share: f64,
    /// gamma of `E_p[((T1 + T2).v_i)^2]` (real dw_p; our first reading of Eq. 58).
    pub gamma_term12: Result<FitSummary, String>,
    /// gamma of `sigma^2 v_i^T E[h^2] v_i + E_p[(T2.v_i)^2]` (second reading).
    pub gamma_iso_term2: Result<FitSummary, String>,
}

/// Provenance of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// `git rev-parse HEAD` of the working directory at run time.
    pub git_commit: Option<String>,
    /// Whether the work tree had uncommitted changes.
    pub git_dirty: Option<bool>,
    /// Crate version of the binary.
    pub crate_version: String,
    /// Seed of the initialisation and the shuffling.
    pub seed: u64,
    /// libtorch threads.
    pub threads: i32,
    /// Data set as loaded (name, subset, normalisation).
    pub data: String,
}

/// Training outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainOutcome {
    /// Training samples.
    pub samples: usize,
    /// Final training accuracy (whole training set).
    pub accuracy: f64,
    /// Final mean training loss.
    pub loss: f64,
    /// Training accuracy after every epoch (index 0: initialisation).
    pub accuracy_curve: Vec<f64>,
}

/// Analysis outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalyzeOutcome {
    /// Layer analysed.
    pub layer: String,
    /// Samples used.
    pub samples: usize,
    /// Directions fitted (top-k).
    pub top_k: usize,
    /// gamma (Eq. 2), or why it could not be fitted.
    pub gamma: Result<FitSummary, String>,
    /// gamma_awd (Eq. 15), or why it could not be fitted.
    pub gamma_awd: Result<FitSummary, String>,
    /// Theorem 5.1 violations (left, right) over the top-k.
    pub bound_violations: (usize, usize),
    /// C8 first-moment residual.
    pub first_moment_residual: f64,
    /// Negative mass of the per-sample spectra (softmax-MSE).
    pub negative_mass: f64,
    /// Table 3's figures (MSE rows, records written since session 3; None in
    /// older records and CE rows).
    #[serde(default)]
    pub term2: Option<Term2Summary>,
    /// Stage timings (name, seconds).
    pub stages: Vec<(String, f64)>,
}

/// Wall-clock seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// Loading the data.
    pub data_s: f64,
    /// Training.
    pub train_s: f64,
    /// Analysis.
    pub analyze_s: f64,
    /// Everything.
    pub total_s: f64,
    /// CPU seconds (user + system) of the whole process during the run, from
    /// `/proc/self/stat` (None where unavailable); equals the run's own CPU
    /// time when one job runs at a time.
    #[serde(default)]
    pub process_cpu_s: Option<f64>,
    /// The same over training only.
    #[serde(default)]
    pub train_cpu_s: Option<f64>,
    /// The same over the analysis only.
    #[serde(default)]
    pub analyze_cpu_s: Option<f64>,
}

/// One finished run: the per-run JSON file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Resolved config.
    pub config: RunConfig,
    /// Provenance (commit, seed, ...).
    pub provenance: Provenance,
    /// Training.
    pub train: TrainOutcome,
    /// Analysis.
    pub analyze: AnalyzeOutcome,
    /// Timings.
    pub timings: Timings,
}

impl RunRecord {
    /// gamma, when fitted.
    pub fn gamma(&self) -> Option<f64> {
        self.analyze.gamma.as_ref().ok().map(|f| f.gamma)
    }
    /// gamma_awd, when fitted.
    pub fn gamma_awd(&self) -> Option<f64> {
        self.analyze.gamma_awd.as_ref().ok().map(|f| f.gamma)
    }
    /// Table 3's first reading (Term I + II with the real dw_p), when fitted.
    pub fn gamma_term12(&self) -> Option<f64> {
        let t = self.analyze.term2.as_ref()?;
        t.gamma_term12.as_ref().ok().map(|f| f.gamma)
    }
    /// Table 3's second reading (sigma^2 E[h^2] + Term II), when fitted.
    pub fn gamma_iso_term2(&self) -> Option<f64> {
        let t = self.analyze.term2.as_ref()?;
        t.gamma_iso_term2.as_ref().ok().map(|f| f.gamma)
    }
}

/// Mean and sample standard deviation of `xs` (None when empty).
pub fn mean_std(xs: &[f64]) -> Option<(f64, f64)> {
    if xs.is_empty() {
        return None;
    }
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    let s = if xs.len() > 1 {
        (xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    Some((m, s))
}

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

/// Which table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TableId {
    /// Table 1: gamma and gamma_awd, CE and MSE.
    One,
    /// Table 3: the MSE exponent with Term II kept.
    Three,
}

impl TableId {
    /// Parses `1` or `3`.
    pub fn parse(s: &str) -> Result<Self, super::ReproduceError> {
        match s.trim() {
            "1" => Ok(TableId::One),
            "3" => Ok(TableId::Three),
            other => Err(super::ReproduceError::setting(
                "table",
                other,
                "must be 1 or 3 (Table 2 is the training setup, read from published.toml)",
            )),
        }
    }
    /// Number.
    pub fn number(self) -> u8 {
        match self {
            TableId::One => 1,
            TableId::Three => 3,
        }
    }
}

/// What Table 3's measured columns are.
pub const TABLE3_READINGS: &str = "Table 3's exponent keeps Term II of Eq. 58 (C6: `(d dw_p/dw)^T g_p = delta_p da^T`, the gradient term of the AWD expansion); Eq. 58's formula was lost in the extraction, so two readings are measured on the run's own matched pairs (nearest same-class partner of the other seeded half, C5) and top-k: `I+II` fits `E_p[((T1 + T2).v_i)^2]` with the real dw_p, `iso+II` fits `sigma^2 v_i^T E[h^2] v_i + E_p[(T2.v_i)^2]` (cross terms dropped); each diff compares a reading with Table 3's published value";

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
                (Some(p), Loss::Ce) => (Some(p.ce_gamma), Some(p.ce_gamma_awd)),
                (Some(p), Loss::Mse) => (Some(p.mse_gamma), Some(p.mse_gamma_awd)),
                (None, _) => (None, None),
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
                    (TableId::Three, Loss::Mse) => p.map(|p| p.table3_mse_gamma_term2),
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

fn ms(m: Option<(f64, f64)>) -> String {
    m.map_or("-".into(), |(m, s)| format!("{m:.2} +- {s:.2}"))
}
fn pub_ms(m: Option<MeanStd>) -> String {
    m.map_or("-".into(), |m| format!("{:.2} +- {:.2}", m.mean, m.std))
}
fn signed(d: Option<f64>) -> String {
    d.map_or("-".into(), |d| format!("{d:+.2}"))
}
fn yes_no(b: Option<bool>) -> String {
    b.map_or("-".into(), |b| if b { "yes" } else { "NO" }.into())
}

/// Rendering options.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RenderOptions {
    /// Include the wall-time column (off in snapshots).
    pub timings: bool,
}

fn header(table: TableId, o: RenderOptions) -> Vec<&'static str> {
    let mut h = vec![
        "data",
        "model",
        "K",
        "loss",
        "seeds",
        "train acc",
        "gamma published",
        "gamma measured",
        "diff",
        "within 0.10",
        "gamma_awd published",
        "gamma_awd measured",
        "diff awd",
        "awd within 0.10",
    ];
    if table == TableId::Three {
        h.push("Table 3 published (Term II kept)");
        h.push("Table 3 measured I+II");
        h.push("diff I+II");
        h.push("Table 3 measured iso+II");
        h.push("diff iso+II");
    }
    if o.timings {
        h.push("wall s");
    }
    h
}

fn cells(r: &TableRow, table: TableId, o: RenderOptions) -> Vec<String> {
    let mut c = vec![
        r.row.dataset.published_name().to_string(),
        r.row.model.published_name().to_string(),
        r.row.classes.to_string(),
        r.row.loss.published_name().to_string(),
        if r.runs == r.seeds {
            r.seeds.to_string()
        } else {
            format!("{} of {}", r.seeds, r.runs)
        },
        r.accuracy.map_or("-".into(), |a| format!("{a:.3}")),
        pub_ms(r.gamma.published),
        ms(r.gamma.measured),
        signed(r.gamma.diff()),
        yes_no(r.gamma.within()),
        pub_ms(r.gamma_awd.published),
        ms(r.gamma_awd.measured),
        signed(r.gamma_awd.diff()),
        yes_no(r.gamma_awd.within()),
    ];
    if table == TableId::Three {
        c.push(r.table3.map_or("-".into(), |v| format!("{v:.2}")));
        for m in [r.table3_term12, r.table3_iso_term2] {
            c.push(ms(m));
            c.push(signed(m.zip(r.table3).map(|((m, _), p)| m - p)));
        }
    }
    if o.timings {
        c.push(if r.runs == 0 {
            "-".into()
        } else {
            format!("{:.0}", r.wall_s)
        });
    }
    c
}

/// The side-by-side table as markdown.
pub fn table_markdown(rows: &[TableRow], table: TableId, o: RenderOptions) -> String {
    let h = header(table, o);
    let mut s = format!("| {} |\n", h.join(" | "));
    s.push_str(&format!("|{}\n", "---|".repeat(h.len())));
    for r in rows {
        s.push_str(&format!("| {} |\n", cells(r, table, o).join(" | ")));
    }
    if table == TableId::Three {
        s.push_str(&format!("\nTable 3 measured: {TABLE3_READINGS}.\n"));
    }
    s
}

/// The side-by-side table as CSV (same columns).
pub fn table_csv(rows: &[TableRow], table: TableId, o: RenderOptions) -> String {
    let q = |v: &str| {
        if v.contains(',') || v.contains('"') {
            format!("\"{}\"", v.replace('"', "\"\""))
        } else {
            v.to_string()
        }
    };
    let mut s = header(table, o)
        .iter()
        .map(|h| q(h))
        .collect::<Vec<_>>()
        .join(",");
    s.push('\n');
    for r in rows {
        s.push_str(
            &cells(r, table, o)
                .iter()
                .map(|c| q(c))
                .collect::<Vec<_>>()
                .join(","),
        );
        s.push('\n');
    }
    s
}

/// Outcome of one verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Outcome {
    /// Holds on every row checked.
    Holds,
    /// Fails on at least one row.
    Fails,
    /// Nothing to check yet.
    Unchecked,
}

/// One qualitative claim checked on the measured grid.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// The claim.
    pub claim: String,
    /// Outcome.
    pub outcome: Outcome,
    /// Rows (or runs) that hold / checked, and the failures.
    pub detail: String,
}

fn verdict(claim: &str, checked: usize, failures: Vec<String>, unit: &str) -> Verdict {
    let outcome = if checked == 0 {
        Outcome::Unchecked
    } else if failures.is_empty() {
        Outcome::Holds
    } else {
        Outcome::Fails
    };
    let mut detail = format!("{}/{} {unit} hold", checked - failures.len(), checked);
    if !failures.is_empty() {
        detail.push_str(&format!("; fails: {}", failures.join("; ")));
    }
    Verdict {
        claim: claim.into(),
        outcome,
        detail,
    }
}

fn label(r: &RowKey) -> String {
    r.label()
}

/// The qualitative verdicts on the measured rows and runs.
pub fn verdicts(rows: &[TableRow], records: &[RunRecord]) -> Vec<Verdict> {
    let mean = |c: &Compared| c.measured.map(|m| m.0);
    let mut out = Vec::new();
    let (mut n, mut f) = (0, Vec::new());
    for r in rows.iter().filter(|r| r.row.loss == Loss::Ce) {
        if let Some(g) = mean(&r.gamma) {
            n += 1;
            if g <= 1.0 {
                f.push(format!("{} gamma {g:.3}", label(&r.row)));
            }
        }
    }
    out.push(verdict("CE gamma > 1", n, f, "CE rows"));
    let (mut n, mut f) = (0, Vec::new());
    for r in rows.iter().filter(|r| r.row.loss == Loss::Mse) {
        if let Some(g) = mean(&r.gamma) {
            n += 1;
            if (g - 1.0).abs() > CLOSE {
                f.push(format!("{} gamma {g:.3}", label(&r.row)));
            }
        }
    }
    out.push(verdict(
        "MSE gamma close to 1 (|gamma - 1| <= 0.10)",
        n,
        f,
        "MSE rows",
    ));
    let (mut n, mut f) = (0, Vec::new());
    for ce in rows.iter().filter(|r| r.row.loss == Loss::Ce) {
        let Some(mse) = rows.iter().find(|r| {
            r.row.loss == Loss::Mse
                && (r.row.dataset, r.row.model, r.row.classes)
                    == (ce.row.dataset, ce.row.model, ce.row.classes)
        }) else {
            continue;
        };
        if let (Some(a), Some(b)) = (mean(&ce.gamma), mean(&mse.gamma)) {
            n += 1;
            if a <= b {
                f.push(format!(
                    "{} {} K={}: CE {a:.3} <= MSE {b:.3}",
                    ce.row.dataset.published_name(),
                    ce.row.model.published_name(),
                    ce.row.classes
                ));
            }
        }
    }
    out.push(verdict(
        "CE gamma > MSE gamma in every row",
        n,
        f,
        "(data, model, K) pairs",
    ));
    let (mut n, mut f) = (0, Vec::new());
    for r in rows {
        if let (Some(a), Some(b)) = (mean(&r.gamma), mean(&r.gamma_awd)) {
            n += 1;
            if (a - b).abs() > CLOSE {
                f.push(format!(
                    "{} gamma {a:.3} vs gamma_awd {b:.3}",
                    label(&r.row)
                ));
            }
        }
    }
    out.push(verdict(
        "gamma_awd close to gamma (|diff| <= 0.10)",
        n,
        f,
        "rows",
    ));
    let (mut n, mut f) = (0, Vec::new());
    for rec in records {
        for (name, g) in [("gamma", rec.gamma()), ("gamma_awd", rec.gamma_awd())] {
            if let Some(g) = g {
                n += 1;
                if !(1.0..=2.0).contains(&g) {
                    f.push(format!(
                        "{} seed {} {name} {g:.3}",
                        label(&rec.config.row),
                        rec.provenance.seed
                    ));
                }
            }
        }
    }
    out.push(verdict(
        "1 <= gamma <= 2 (C9 on real networks; every run's gamma and gamma_awd)",
        n,
        f,
        "fits",
    ));
    out
}

/// The verdicts as a markdown list.
pub fn verdicts_markdown(v: &[Verdict]) -> String {
    v.iter()
        .map(|v| {
            let o = match v.outcome {
                Outcome::Holds => "holds",
                Outcome::Fails => "FAILS",
                Outcome::Unchecked => "unchecked",
            };
            format!("- {}: **{o}** ({})\n", v.claim, v.detail)
        })
        .collect()
}

/// Inputs of `RESULTS.md` besides the table.
#[derive(Debug, Clone)]
pub struct ResultsContext<'a> {
    /// Table.
    pub table: TableId,
    /// Scale.
    pub scale: Scale,
    /// Command line that produced it.
    pub command: String,
    /// Rows selected and seeds asked for.
    pub rows: &'a [RowKey],
    /// Seeds per row asked for.
    pub seeds: usize,
    /// Resolved config per row (first seed's).
    pub configs: &'a [RunConfig],
    /// Table 2 of the paper, for the misses section.
    pub published: &'a Published,
    /// Commits of the records.
    pub commits: Vec<String>,
    /// Fraction of the way from chance to full training accuracy below which
    /// runs are not scored ([`accuracy_floor`]).
    pub min_train_progress: f64,
    /// Side runs beside the grid (name, their `table1.md`): the `sweep-*`
    /// directories next to the output directory, each written by
    /// `reproduce --lr <value> --out <dir>`.
    pub sweeps: Vec<(String, String)>,
    /// Hand-written notes (`NOTES.md` in the output directory: what was
    /// tried, evidence for the misses), included verbatim.
    pub notes: Option<String>,
}

/// `RESULTS.md`: the table, the verdicts, wall time per row, and every row
/// outside +-0.10 with what differs from the paper's setup.
pub fn results_markdown(ctx: &ResultsContext, rows: &[TableRow], records: &[RunRecord]) -> String {
    let o = RenderOptions { timings: true };
    let done = rows.iter().filter(|r| r.runs >= ctx.seeds).count();
    let runs: usize = rows.iter().map(|r| r.runs).sum();
    let wall: f64 = rows.iter().map(|r| r.wall_s).sum();
    let mut s = String::new();
    s.push_str(&format!(
        "# Reproduction of Table {} at scale `{}` (C14)\n\n",
        ctx.table.number(),
        ctx.scale.name()
    ));
    s.push_str(&format!(
        "Generated by `{}`; do not edit by hand. Published numbers come from `experiments/published.toml` (labelled published); measured numbers from the per-run JSON files beside this document's results directory. Runs at commit(s): {}.\n\n",
        ctx.command,
        if ctx.commits.is_empty() { "none yet".to_string() } else { ctx.commits.join(", ") }
    ));
    s.push_str(&format!(
        "Progress: {done}/{} rows complete with {} seeds; {runs}/{} runs finished; total wall time {:.0} s ({:.2} h) on this machine.\n\n",
        rows.len(),
        ctx.seeds,
        rows.len() * ctx.seeds,
        wall,
        wall / 3600.0
    ));
    s.push_str("## Published against measured\n\n");
    s.push_str("Mean +- sample std over seeds; diff = measured - published; `within 0.10` compares the means. `wall s` is training plus analysis summed over the finished seeds of the row.\n\n");
    s.push_str(&format!(
        "Runs whose final training accuracy is below the floor `1/K + {p} (1 - 1/K)` ({:.2}, {:.2}, {:.2} for K = 3, 6, 10: {p} of the way from chance to full accuracy) are not scored (`seeds` then reads `scored of finished`); they are listed under \"Runs below the training-accuracy floor\".\n\n",
        accuracy_floor(3, ctx.min_train_progress),
        accuracy_floor(6, ctx.min_train_progress),
        accuracy_floor(10, ctx.min_train_progress),
        p = ctx.min_train_progress
    ));
    s.push_str(&table_markdown(rows, ctx.table, o));
    s.push_str("\n## Verdicts on the measured grid\n\n");
    s.push_str(&verdicts_markdown(&verdicts(rows, records)));
    s.push_str("\n## Setup per row\n\n| row | per class | B | epochs | lr | widths | layer (out x in) | top-k (requested) | analysis samples | mean s per run |\n|---|---|---|---|---|---|---|---|---|---|\n");
    for c in ctx.configs {
        let r = rows.iter().find(|r| r.row == c.row);
        let per_run = r
            .filter(|r| r.runs > 0)
            .map_or("-".into(), |r| format!("{:.0}", r.wall_s / r.runs as f64));
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {:?}{} | {} x {} | {} ({}) | {} | {} |\n",
            c.row.id(),
            c.per_class,
            c.batch,
            c.epochs,
            c.lr,
            c.widths,
            if c.cnn_hidden > 0 {
                format!(" pool {} hidden {}", c.cnn_pool_side, c.cnn_hidden)
            } else {
                String::new()
            },
            c.layer_shape.0,
            c.layer_shape.1,
            c.top_k,
            c.top_k_requested,
            if c.analyze_samples == 0 {
                "all".to_string()
            } else {
                c.analyze_samples.to_string()
            },
            per_run
        ));
    }
    s.push_str("\n## Rows outside +-0.10 of the published value\n\n");
    let mut any = false;
    for r in rows {
        let misses: Vec<String> = [("gamma", &r.gamma), ("gamma_awd", &r.gamma_awd)]
            .iter()
            .filter(|(_, c)| c.within() == Some(false))
            .map(|(n, c)| {
                format!(
                    "{n} {} vs published {} ({})",
                    ms(c.measured),
                    pub_ms(c.published),
                    signed(c.diff())
                )
            })
            .collect();
        if misses.is_empty() {
            continue;
        }
        any = true;
        s.push_str(&format!(
            "### {}\n\n- Missed: {}.\n",
            label(&r.row),
            misses.join("; ")
        ));
        if let Some(c) = ctx.configs.iter().find(|c| c.row == r.row) {
            s.push_str(&format!(
                "- Differs from the paper's setup: {}.\n",
                setup_differences(c, ctx.published).join("; ")
            ));
        }
        if let Some(a) = r.accuracy {
            s.push_str(&format!(
                "- Training accuracy reached: {a:.3} (mean over {} seeds).\n",
                r.seeds
            ));
        }
        if !r.fit_failures.is_empty() {
            s.push_str(&format!("- Fit failures: {}.\n", r.fit_failures.join("; ")));
        }
        s.push('\n');
    }
    if !any {
        s.push_str("None among the finished rows.\n");
    }
    s.push_str("\n## Runs below the training-accuracy floor (not scored)\n\n");
    let untrained: Vec<String> = rows
        .iter()
        .filter(|r| !r.below_floor.is_empty())
        .map(|r| {
            format!(
                "- {} (floor {:.3}): {}\n",
                label(&r.row),
                accuracy_floor(r.row.classes, ctx.min_train_progress),
                r.below_floor.join(", ")
            )
        })
        .collect();
    if untrained.is_empty() {
        s.push_str("None.\n");
    } else {
        s.push_str(&untrained.concat());
    }
    let missing: Vec<String> = rows
        .iter()
        .filter(|r| r.runs < ctx.seeds)
        .map(|r| format!("{} ({}/{})", r.row.id(), r.runs, ctx.seeds))
        .collect();
    if !ctx.sweeps.is_empty() {
        s.push_str(
            "\n## Side runs beside the grid (generated tables of the `sweep-*` directories)\n\n",
        );
        s.push_str("Each reruns rows of the grid with one setting changed (`--lr`, see the setup table of each directory's RESULTS-table1.md; the records beside each table hold the full config); they are evidence for the misses, not part of the grid.\n");
        for (name, table) in &ctx.sweeps {
            s.push_str(&format!("\n### {name}\n\n{}\n", table.trim_end()));
        }
    }
    if let Some(notes) = &ctx.notes {
        s.push_str(
            "\n## Notes: what was tried (hand-written, NOTES.md in the results directory)\n\n",
        );
        s.push_str(notes.trim_end());
        s.push('\n');
    }
    s.push_str("\n## Not yet run\n\n");
    if missing.is_empty() {
        s.push_str("Nothing: every selected row has all its seeds.\n");
    } else {
        s.push_str(&format!(
            "{} (the command is resumable: rerun it to continue).\n",
            missing.join(", ")
        ));
    }
    s
}

/// What a resolved config changes against the paper (Table 2, full data).
pub fn setup_differences(c: &RunConfig, published: &Published) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(t2) = c.row.table2(published) {
        if c.per_class != t2.per_class {
            out.push(format!(
                "{} per class instead of {} (Table 2)",
                c.per_class, t2.per_class
            ));
        }
        if c.epochs != t2.epochs {
            out.push(format!(
                "{} epochs instead of {} (Table 2)",
                c.epochs, t2.epochs
            ));
        }
        if c.batch != t2.batch {
            out.push(format!("B = {} instead of {} (Table 2)", c.batch, t2.batch));
        }
    }
    if c.top_k != c.top_k_requested {
        out.push(format!(
            "top-k capped at d = {} (Table 2 asks {})",
            c.d(),
            c.top_k_requested
        ));
    }
    if c.analyze_samples > 0 {
        out.push(format!(
            "analysis on {} class-balanced training samples, not the whole training set",
            c.analyze_samples
        ));
    }
    out.push(format!(
        "unknowns chosen by us: lr {}, widths {:?}{}",
        c.lr,
        c.widths,
        if c.cnn_hidden > 0 {
            format!(", pool side {}, hidden {}", c.cnn_pool_side, c.cnn_hidden)
        } else {
            String::new()
        }
    ));
    if c.row.dataset == super::config::Dataset::Cifar10 {
        out.push("CIFAR-10 images re-encoded from JPEG (shared data copy)".into());
    }
    out
}
