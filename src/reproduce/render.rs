//! Rendering of the aggregated rows: the side-by-side table as markdown and
//! CSV (`table<N>.md`, `table<N>.csv`), the judgements on the measured grid as
//! a markdown list (each statement with its status word, `claims::evidence::Status::as_str`),
//! and the results document `RESULTS.md` (table, judgements, setup per row,
//! the rows outside +-0.10 of the published value with what differs from the
//! paper's setup, runs below the training-accuracy floor, side runs, notes,
//! what is not run yet). Pure: strings in, strings out.

use super::aggregate::{accuracy_floor, TableId, TableRow};
use super::config::{RowKey, RunConfig, Scale};
use crate::claims::grid::GridJudgement;
use crate::published::{MeanStd, Published};
use crate::spec::Dataset;

/// What Table 3's measured columns are.
pub const TABLE3_READINGS: &str = "Table 3's exponent keeps Term II of Eq. 58 (C6: `(d dw_p/dw)^T g_p = delta_p da^T`, the gradient term of the AWD expansion); Eq. 58's formula was lost in the extraction, so two readings are measured on the run's own matched pairs (nearest same-class partner of the other seeded half, C5) and top-k: `I+II` fits `E_p[((T1 + T2).v_i)^2]` with the real dw_p, `iso+II` fits `sigma^2 v_i^T E[h^2] v_i + E_p[(T2.v_i)^2]` (cross terms dropped); each diff compares a reading with Table 3's published value";

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

/// The side-by-side table's header and cells (the columns of
/// [`table_markdown`], for other renderings of the same table).
pub fn table_cells(
    rows: &[TableRow],
    table: TableId,
    o: RenderOptions,
) -> (Vec<&'static str>, Vec<Vec<String>>) {
    (
        header(table, o),
        rows.iter().map(|r| cells(r, table, o)).collect(),
    )
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

/// `held/checked unit hold`, then the failures.
fn judgement_detail(j: &GridJudgement) -> String {
    let mut detail = format!("{}/{} {} hold", j.held(), j.checked, j.unit);
    if !j.failures.is_empty() {
        detail.push_str(&format!("; fails: {}", j.failures.join("; ")));
    }
    detail
}

/// The judgements as a markdown list.
pub fn judgements_markdown(judgements: &[GridJudgement]) -> String {
    judgements
        .iter()
        .map(|j| {
            format!(
                "- {}: **{}** ({})\n",
                j.statement,
                j.status.as_str(),
                judgement_detail(j)
            )
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
    /// Wall times (the total, the tables' column, seconds per run); off for
    /// byte-stable documents (`--no-timings`), e.g. to compare a sharded
    /// grid's merged results with an unsharded run's.
    pub timings: bool,
}

/// `RESULTS.md`: the table, the judgements on the measured grid, wall time
/// per row, and every row outside +-0.10 with what differs from the paper's
/// setup.
pub fn results_markdown(
    ctx: &ResultsContext,
    rows: &[TableRow],
    judgements: &[GridJudgement],
) -> String {
    let o = RenderOptions {
        timings: ctx.timings,
    };
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
        "Progress: {done}/{} rows complete with {} seeds; {runs}/{} runs finished{}.\n\n",
        rows.len(),
        ctx.seeds,
        rows.len() * ctx.seeds,
        if ctx.timings {
            format!(
                "; total wall time {wall:.0} s ({:.2} h) on this machine",
                wall / 3600.0
            )
        } else {
            String::new()
        }
    ));
    s.push_str("## Published against measured\n\n");
    s.push_str("Mean +- sample std over seeds; diff = measured - published; `within 0.10` compares the means.");
    if ctx.timings {
        s.push_str(
            " `wall s` is training plus analysis summed over the finished seeds of the row.",
        );
    }
    s.push_str("\n\n");
    s.push_str(&format!(
        "Runs whose final training accuracy is below the floor `1/K + {p} (1 - 1/K)` ({:.2}, {:.2}, {:.2} for K = 3, 6, 10: {p} of the way from chance to full accuracy) are not scored (`seeds` then reads `scored of finished`); they are listed under \"Runs below the training-accuracy floor\".\n\n",
        accuracy_floor(3, ctx.min_train_progress),
        accuracy_floor(6, ctx.min_train_progress),
        accuracy_floor(10, ctx.min_train_progress),
        p = ctx.min_train_progress
    ));
    s.push_str(&table_markdown(rows, ctx.table, o));
    s.push_str("\n## Verdicts on the measured grid\n\n");
    s.push_str(&judgements_markdown(judgements));
    s.push_str("\n## Setup per row\n\n| row | per class | B | epochs | lr | widths | layer (out x in) | top-k (requested) | analysis samples |");
    s.push_str(if ctx.timings {
        " mean s per run |\n|---|---|---|---|---|---|---|---|---|---|\n"
    } else {
        "\n|---|---|---|---|---|---|---|---|---|\n"
    });
    for c in ctx.configs {
        let r = rows.iter().find(|r| r.row == c.row);
        let per_run = if ctx.timings {
            r.filter(|r| r.runs > 0).map_or(" - |".into(), |r| {
                format!(" {:.0} |", r.wall_s / r.runs as f64)
            })
        } else {
            String::new()
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {:?}{} | {} x {} | {} ({}) | {} |{}\n",
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
            r.row.label(),
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
                r.row.label(),
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
    if c.row.dataset == Dataset::Cifar10 {
        out.push("CIFAR-10 images re-encoded from JPEG (shared data copy)".into());
    }
    out
}
