//! The report's figures from each kind of committed record: Table 1 at the
//! premise (grid v2; C14 published beside measured, C9's interval; the same
//! figures of a `reproduce` grid for `reproduce --plot`), the figure records
//! (central figure, gamma(k), heatmap), the net-claims grid (C15 over
//! training, C6) and the coupling-null grid (C3, C4). Figures only, drawn
//! by [`crate::plot`]; nothing here judges.

use std::path::Path;

use serde_json::Value;

use super::Figure;
use crate::claims::c14::RowStanding;
use crate::plot::record::FigureRecord;
use crate::plot::{interval, null_grid, table1, terms, training};
use crate::published::MeanStd;
use crate::reproduce::aggregate::{Compared, TableRow};
use crate::reproduce::netgrid::record::NetRunRecord;
use crate::reproduce::netgrid::table1::Table1Row;
use crate::reproduce::record::RunRecord;
use crate::reproduce::ReproduceError;
use crate::stats::mean_std;

fn fig(file: String, claims: &[&str], caption: String, svg: String) -> Figure {
    Figure {
        file,
        claims: claims.iter().map(|c| c.to_string()).collect(),
        caption,
        svg,
    }
}

/// A mean and standard deviation, where there is one.
pub type Spread = Option<(f64, f64)>;

/// One row of a Table 1 grid as its figures draw it.
#[derive(Debug, Clone, PartialEq)]
pub struct GridRowFigures {
    /// Row label.
    pub label: String,
    /// The paper's gamma and gamma_awd (mean, std).
    pub published: (Spread, Spread),
    /// Ours over the scored seeds (mean, std); None when not scored.
    pub measured: (Spread, Spread),
    /// gamma of each scored seed.
    pub gamma: Vec<f64>,
    /// gamma_awd of each scored seed.
    pub gamma_awd: Vec<f64>,
}

/// C14's Table 1 figures (`table1-gamma.svg`, `table1-gamma-awd.svg`) and
/// C9's interval figure (`c9-interval.svg`) of a grid's rows; `grid` names
/// the grid and its records in the captions, `unscored` says where the
/// rows without a scored seed are listed.
pub fn grid_figures(
    rows: &[GridRowFigures],
    grid: &str,
    unscored: &str,
    figures: &mut Vec<Figure>,
    missing: &mut Vec<String>,
) {
    type Pick = fn(&GridRowFigures) -> (Spread, Spread);
    for (what, file, pick) in [
        (
            "gamma",
            "table1-gamma.svg",
            (|r: &GridRowFigures| (r.published.0, r.measured.0)) as Pick,
        ),
        ("gamma_awd", "table1-gamma-awd.svg", |r: &GridRowFigures| {
            (r.published.1, r.measured.1)
        }),
    ] {
        let data: Vec<table1::Row> = rows
            .iter()
            .map(|r| table1::Row {
                label: r.label.clone(),
                published: pick(r).0,
                measured: pick(r).1,
            })
            .collect();
        match table1::render(&format!("Table 1: {what}, published and measured"), what, &data) {
            Ok(svg) => figures.push(fig(
                file.into(),
                &["C14"],
                format!("Table 1, {what}: the paper's mean +- std (grey) beside ours over the scored seeds (blue), per row of {grid}. Rows without a scored seed show the published value only{unscored}."),
                svg,
            )),
            Err(e) => missing.push(format!("{file}: {e}")),
        }
    }
    let fits: Vec<interval::RowFits> = rows
        .iter()
        .map(|r| interval::RowFits {
            label: r.label.clone(),
            gamma: r.gamma.clone(),
            gamma_awd: r.gamma_awd.clone(),
        })
        .collect();
    match interval::render("C9: every finite-fit exponent against [1, 2]", &fits) {
        Ok(svg) => figures.push(fig(
            "c9-interval.svg".into(),
            &["C9"],
            format!("Theorem 5.1 bounds the exponent between 1 and 2 (C9): each dot is one scored seed's gamma (blue) or gamma_awd (orange) of {grid}; the green band is [1, 2]."),
            svg,
        )),
        Err(e) => missing.push(format!("c9-interval.svg: {e}")),
    }
}

/// [`grid_figures`] of a `reproduce` grid: its table rows and scored run
/// records; `records` names where they are read from.
pub fn table1_figures(
    rows: &[TableRow],
    scored: &[RunRecord],
    records: &str,
    figures: &mut Vec<Figure>,
    missing: &mut Vec<String>,
) {
    let rows: Vec<GridRowFigures> = rows
        .iter()
        .map(|r| {
            let of = |f: fn(&RunRecord) -> Option<f64>| -> Vec<f64> {
                scored
                    .iter()
                    .filter(|x| x.config.row == r.row)
                    .filter_map(f)
                    .collect()
            };
            let publ = |c: Compared| c.published.map(|m| (m.mean, m.std));
            GridRowFigures {
                label: r.row.label(),
                published: (publ(r.gamma), publ(r.gamma_awd)),
                measured: (r.gamma.measured, r.gamma_awd.measured),
                gamma: of(RunRecord::gamma),
                gamma_awd: of(RunRecord::gamma_awd),
            }
        })
        .collect();
    grid_figures(
        &rows,
        &format!("the reproduce grid ({records})"),
        "",
        figures,
        missing,
    );
}

/// [`grid_figures`] of Table 1 at the premise (grid v2): the primary top-k
/// column (the paper's ratio k/N) over the premise seeds of the scored
/// rows; a row not scored shows the published value only.
pub fn table1_v2_figures(rows: &[Table1Row], figures: &mut Vec<Figure>, missing: &mut Vec<String>) {
    let unscored = rows.iter().filter(|r| r.not_scored.is_some()).count();
    let rows: Vec<GridRowFigures> = rows
        .iter()
        .map(|r| {
            let scored = r.standing() == RowStanding::Scored;
            let seeds = |v: &Vec<f64>| if scored { v.clone() } else { Vec::new() };
            let measured = |v: &[f64]| mean_std(v).filter(|_| scored);
            let publ = |m: Option<MeanStd>| m.map(|m| (m.mean, m.std));
            GridRowFigures {
                label: r.seeded.label.clone(),
                published: (publ(r.published.0), publ(r.published.1)),
                measured: (measured(&r.seeded.gamma), measured(&r.seeded.gamma_awd)),
                gamma: seeds(&r.seeded.gamma),
                gamma_awd: seeds(&r.seeded.gamma_awd),
            }
        })
        .collect();
    grid_figures(
        &rows,
        &format!("Table 1 at the paper's premise (grid v2, {TABLE1_V2_RECORDS}; primary top-k column, the paper's ratio k/N)"),
        &format!(" ({unscored} rows, listed with the reason under Table 1)"),
        figures,
        missing,
    );
}

/// Where grid v2's records are, as captions name them.
pub const TABLE1_V2_RECORDS: &str = "experiments/results/table1-v2/";

/// The central figure, gamma(k) and the heatmap of one figure record.
pub(super) fn record_figures(
    stem: &str,
    rec: &FigureRecord,
    figures: &mut Vec<Figure>,
) -> Result<(), ReproduceError> {
    let label = format!("{stem}, layer {}", rec.layer);
    let fit = |f: &Option<crate::plot::record::Fit>| {
        f.map_or("not fitted".to_string(), |f| {
            format!(
                "{:.3} (R^2 {:.3}, {} directions)",
                f.gamma, f.r_squared, f.points_used
            )
        })
    };
    let what = format!(
        "{} ({} samples, loss {}, B = {}, layer {} of {} x {})",
        rec.source,
        rec.samples,
        rec.loss,
        rec.batch_size,
        rec.layer,
        rec.layer_shape.0,
        rec.layer_shape.1
    );
    for (file, svg) in rec.figures(&label)? {
        let (claims, caption): (&[&str], String) = match file.as_str() {
            "central-loglog.svg" => (
                &["C14", "C9"],
                format!(
                    "C_ii (Eq. 2) and C_awd,ii (Eq. 15) against H_ii over H's top {} eigen-directions, log-log, with the fitted power laws: gamma {}, gamma_awd {}. From {what}.",
                    rec.h_diag.len(),
                    fit(&rec.fit_c),
                    fit(&rec.fit_awd)
                ),
            ),
            "gamma-k.svg" => (
                &["C15", "C14"],
                format!(
                    "gamma fitted over the top k directions for growing k, and the local slope over ranks k/2..k; at the primary k = {} the 95% bootstrap interval over samples (eigenbasis held fixed){}. From {what}.",
                    rec.primary_k.map_or("-".into(), |k| k.to_string()),
                    rec.gamma_ci.map_or(String::new(), |(a, b)| format!(" [{a:.3}, {b:.3}]"))
                ),
            ),
            _ => (
                &["C3"],
                format!(
                    "log10 |C_ij| of C in H's eigenbasis (top {0} x {0} block of V^T C V, directions by descending H_ii; rho_bar over the top-k {1}) beside the same block rotated by a seeded Haar orthogonal Q (seed {2}): the rotation keeps C's spectrum and removes its alignment with H, the null of rho_bar. From {what}.",
                    rec.block_n,
                    rec.rho_bar.map_or("-".into(), |r| format!("{r:.4}")),
                    rec.null_seed
                ),
            ),
        };
        figures.push(fig(format!("{stem}-{file}"), claims, caption, svg));
    }
    Ok(())
}

/// `v` at the JSON pointer `p` as a number.
fn num(v: &Value, p: &str) -> Option<f64> {
    v.pointer(p).and_then(Value::as_f64)
}

/// C15 over training and C6's exponents of one family: per seed, its name
/// and the `net-claims --json` report (a net-grid record's `net_claims`);
/// `settings` and `source` go into the captions.
pub fn net_figures(
    family: &str,
    seeds: &[(String, &Value)],
    settings: &str,
    source: &str,
) -> Result<Vec<Figure>, ReproduceError> {
    let mut curves = Vec::new();
    let mut term_seeds = Vec::new();
    for (name, report) in seeds {
        let cks = report
            .get("checkpoints")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut points = Vec::new();
        let mut t = Vec::new();
        for c in &cks {
            let Some(epoch) = num(c, "/epoch") else {
                continue;
            };
            let b = "/gamma_uncertainty/bootstrap/gamma_ci";
            let ci = num(c, &format!("{b}/0")).zip(num(c, &format!("{b}/1")));
            points.push(training::Checkpoint {
                epoch,
                gamma: num(c, "/gamma/gamma"),
                ci,
                gamma_awd: num(c, "/gamma_awd/gamma"),
            });
            t.push(terms::TermsAt {
                epoch,
                gamma_term1: num(c, "/pairs/gamma_term1/gamma"),
                gamma_dg: num(c, "/pairs/gamma_delta/gamma"),
            });
        }
        curves.push(training::SeedCurve {
            name: name.clone(),
            checkpoints: points,
        });
        term_seeds.push(terms::SeedTerms {
            name: name.clone(),
            at: t,
        });
    }
    let mut figures = vec![fig(
        format!("c15-training-{family}.svg"),
        &["C15"],
        format!("gamma over training checkpoints, {family} ({settings}), one colour per seed: the line is gamma with its 95% bootstrap band over samples (eigenbasis fixed), the dots gamma_awd. From {source}."),
        training::render(&format!("C15: gamma over training, {family}"), &curves)?,
    )];
    if term_seeds.iter().any(|s| {
        s.at.iter()
            .any(|a| a.gamma_term1.is_some() || a.gamma_dg.is_some())
    }) {
        figures.push(fig(
            format!("c6-terms-{family}.svg"),
            &["C6"],
            format!("Term I against the real gradient difference, {family}: per checkpoint and seed, the exponent of Term I = h_p dw_p (line) beside that of the real Dg = g_partner - g_p (dots) on matched pairs. The records keep per-checkpoint figures only, not the per-direction projections, so this plots the recorded exponents. From {source}."),
            terms::render(&format!("C6: gamma_I and gamma_Dg over training, {family}"), &term_seeds)?,
        ));
    }
    Ok(figures)
}

/// [`net_figures`] of one family's net-grid records.
pub(super) fn net_record_figures(
    family: &str,
    runs: &[&NetRunRecord],
    figures: &mut Vec<Figure>,
) -> Result<(), ReproduceError> {
    let seeds: Vec<(String, &Value)> = runs
        .iter()
        .map(|r| (format!("seed {}", r.seed()), &r.net_claims))
        .collect();
    let settings = runs.first().map_or(String::new(), |r| {
        format!(
            "lr {}, batch {}, {} samples, top-k {}",
            r.config.lr, r.config.batch, r.config.samples, r.config.top_k
        )
    });
    figures.extend(net_figures(
        family,
        &seeds,
        &settings,
        &format!("experiments/results/net/{family}/seed-*.json"),
    )?);
    Ok(())
}

/// C3 and C4: the coupling-null grid's formulas against simulation.
pub(super) fn null_figures(
    path: &Path,
    text: &str,
    figures: &mut Vec<Figure>,
) -> Result<(), ReproduceError> {
    let v: Value = serde_json::from_str(text)
        .map_err(|e| ReproduceError::io(path, format!("not JSON: {e}")))?;
    let points: Vec<null_grid::NullPoint> = v
        .get("points")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|p| {
                    Some(null_grid::NullPoint {
                        d: p.get("d")?.as_u64()? as usize,
                        k_eff: num(p, "/k_eff")?,
                        paper_mean_rel_err: num(p, "/paper_mean_rel_err")?,
                        corrected_mean_rel_err: num(p, "/corrected_mean_rel_err")?,
                        paper_se_ratio: num(p, "/paper_se_ratio")?,
                        corrected_se_ratio: num(p, "/corrected_se_ratio")?,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    if points.is_empty() {
        return Err(ReproduceError::io(path, "no grid point with every field"));
    }
    let src = path.display();
    figures.push(fig(
        "c3-null-mean.svg".into(),
        &["C3"],
        format!("App. C's mean of rho_bar under the Haar null (dots) and our corrected mean (lines) against the simulated null, relative error over the effective rank k_eff of C's spectrum, one colour per dimension d. From {src}."),
        null_grid::render("C3: the null mean of rho_bar, formula against simulation", &points, null_grid::Which::Mean)?,
    ));
    figures.push(fig(
        "c4-null-se.svg".into(),
        &["C4"],
        format!("App. D's standard error of rho_bar under the Haar null (dots) and the corrected one (lines), as a ratio to the simulated standard error, over k_eff, one colour per d. From {src}."),
        null_grid::render("C4: the null SE of rho_bar, formula against simulation", &points, null_grid::Which::Se)?,
    ));
    Ok(())
}
