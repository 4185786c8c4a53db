//! Terminal rendering of `baseline`, `coupling` and `baseline-grid`: the
//! text tables of the null reports, and the grid's Markdown table with its
//! worst cases (what `theory/coupling-null-grid.md` holds).

use std::fmt;

use superlinear::coupling::baseline::BaselineReport;
use superlinear::coupling::grid::{GridPoint, ZERO};
use superlinear::coupling::observed::CouplingReport;
use superlinear::stats::Quantile;

/// The grid document: a provenance line (`command` simulated the points;
/// `rescored_from` the record they were re-scored from, if any), then
/// [`grid_markdown`].
pub fn grid_document(points: &[GridPoint], command: &str, rescored_from: Option<&str>) -> String {
    let how = match rescored_from {
        Some(path) => format!(
            "simulated by `{command}`, scored by `superlinear baseline-grid --rescore {path}`"
        ),
        None => format!("written by `{command}`"),
    };
    format!("<!-- {how}; do not edit -->\n\n{}", grid_markdown(points))
}

fn fmt_quantiles(f: &mut fmt::Formatter<'_>, q: &[Quantile]) -> fmt::Result {
    for x in q {
        write!(f, "  q{:.0}% {:.5}", 100.0 * x.p, x.value)?;
    }
    writeln!(f)
}

/// The text table of a baseline report.
pub struct Baseline<'a>(pub &'a BaselineReport);

impl fmt::Display for Baseline<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "null of rho_bar for {} in d = {} (rank {}, k_eff = {:.3})",
            self.0.spectrum, self.0.d, self.0.rank, self.0.k_eff
        )?;
        writeln!(f, "{:<28} {:>10} {:>12}", "", "mean", "std / SE")?;
        writeln!(
            f,
            "{:<28} {:>10.5} {:>12.3e}",
            "paper (App. C, App. D)", self.0.paper.mean, self.0.paper.se
        )?;
        writeln!(
            f,
            "{:<28} {:>10.5} {:>12.3e}",
            "corrected", self.0.corrected.mean, self.0.corrected.se
        )?;
        writeln!(
            f,
            "{:<28} {:>10.5} {:>12.3e}",
            format!("simulated ({} rotations)", self.0.simulated.rotations),
            self.0.simulated.simulated_mean,
            self.0.simulated.std
        )?;
        write!(f, "simulated quantiles:")?;
        fmt_quantiles(f, &self.0.simulated.quantiles)
    }
}

/// The text table of a coupling report; the dtypes of C's and H's files.
pub struct Coupling<'a>(pub &'a CouplingReport, pub [&'a str; 2]);

impl fmt::Display for Coupling<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "rho_bar = {:.6} (d = {}, C rank {}, k_eff = {:.3}{})",
            self.0.rho_bar,
            self.0.d,
            self.0.rank,
            self.0.k_eff,
            if self.0.excluded.is_empty() {
                String::new()
            } else {
                format!(
                    ", {} zero-variance directions excluded",
                    self.0.excluded.len()
                )
            }
        )?;
        writeln!(
            f,
            "{:<28} {:>10} {:>12} {:>10} {:>10}",
            "null", "mean", "std / SE", "z", "p"
        )?;
        for (name, t) in [
            ("paper (App. C, D)", &self.0.paper),
            ("corrected", &self.0.corrected),
        ] {
            writeln!(
                f,
                "{:<28} {:>10.5} {:>12.3e} {:>10.2} {:>10.3e}",
                name, t.mean, t.se, t.z, t.p
            )?;
        }
        writeln!(
            f,
            "{:<28} {:>10.5} {:>12.3e} {:>10.2} {:>10.3e}  (exact Monte Carlo p)",
            format!("simulated ({} rotations)", self.0.simulated.rotations),
            self.0.simulated.simulated_mean,
            self.0.simulated.std,
            self.0.simulated_z,
            self.0.empirical_p
        )?;
        write!(f, "simulated quantiles:")?;
        fmt_quantiles(f, &self.0.simulated.quantiles)?;
        let r = self.0;
        if r.p_at_floor {
            writeln!(
                f,
                "p to report: p <= 1/(R+1) = {:.3e}, the floor of R = {} rotations (simulated Monte Carlo p; more --rotations resolve it)",
                r.p_floor, r.simulated.rotations
            )?;
        } else {
            writeln!(
                f,
                "p to report: {:.3e} (simulated Monte Carlo p, R = {} rotations, floor 1/(R+1) = {:.3e}); the paper's z and p use the App. C/D formulas, known biased (C3, C4)",
                r.p_report, r.simulated.rotations, r.p_floor
            )?;
        }
        for (name, dtype, c) in [
            ("C", self.1[0], &r.inputs.cov),
            ("H", self.1[1], &r.inputs.hess),
        ] {
            let how = if c.symmetrized {
                format!(
                    "asymmetric beyond tolerance ({:.1e} > {:.1e}): replaced by (A + A^T)/2 (--symmetrize)",
                    c.max_asymmetry, c.tolerance
                )
            } else {
                format!(
                    "symmetric to {:.1e} (tolerance {:.1e})",
                    c.max_asymmetry, c.tolerance
                )
            };
            write!(f, "input {name}: {dtype}, eps {:.1e}, {how}", c.eps)?;
            if let Some(m) = c.clipped_min_eigenvalue {
                write!(f, "; eigenvalues down to {m:.1e} (rounding) set to 0")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

fn pct(x: f64) -> String {
    if x.is_finite() {
        format!("{:+.1}%", 100.0 * x)
    } else {
        "inf".into()
    }
}

/// Worst cases of the grid, one Markdown bullet per figure.
pub fn grid_summary(points: &[GridPoint]) -> String {
    let fin = |x: f64| x.is_finite();
    let worst = |f: &dyn Fn(&GridPoint) -> f64, pred: &dyn Fn(&GridPoint) -> bool| {
        points
            .iter()
            .filter(|p| pred(p) && fin(f(p)))
            .max_by(|a, b| f(a).abs().total_cmp(&f(b).abs()))
            .map(|p| format!("{} at d = {} {}", pct(f(p)), p.d, p.spectrum))
            .unwrap_or_else(|| "none".into())
    };
    let range = |f: &dyn Fn(&GridPoint) -> f64, pred: &dyn Fn(&GridPoint) -> bool| {
        let v: Vec<&GridPoint> = points
            .iter()
            .filter(|p| pred(p) && fin(f(p)) && f(p) > 0.0)
            .collect();
        let lo = v.iter().min_by(|a, b| f(a).total_cmp(&f(b)));
        let hi = v.iter().max_by(|a, b| f(a).total_cmp(&f(b)));
        match (lo, hi) {
            (Some(a), Some(b)) => format!(
                "{:.2} (d = {} {}) to {:.2} (d = {} {})",
                f(a),
                a.d,
                a.spectrum,
                f(b),
                b.d,
                b.spectrum
            ),
            _ => "none".into(),
        }
    };
    let all = |_: &GridPoint| true;
    // k = 1 and k = d have a point-mass null (rho_bar = 1, resp. 0): no std to compare.
    let degenerate = |p: &GridPoint| p.spectrum == "spikes:1" || p.simulated_mean.abs() <= ZERO;
    let spikes = |p: &GridPoint| p.spectrum.starts_with("spikes:") && !degenerate(p);
    let flatish = |p: &GridPoint| !p.spectrum.starts_with("power:");
    let power = |p: &GridPoint| p.spectrum.starts_with("power:");
    let within = points
        .iter()
        .filter(|p| p.paper_mean_rel_err.abs() <= 0.05)
        .count();
    let at_d: Vec<String> = points
        .iter()
        .filter(|p| p.simulated_mean.abs() <= ZERO)
        .map(|p| format!("{:.4} at d = {} {}", p.paper_mean, p.d, p.spectrum))
        .collect();
    format!(
        "- App. C mean: within 5% at {within} of {} points; worst finite {}; at k = 1: {}; \
         where rho_bar = 0 exactly (k = d) it gives {}.\n\
         - Corrected mean: worst {}.\n\
         - sim std / App. D SE, equal spikes (k >= 2): {}; power laws: {}; all: {}.\n\
         - sim std / corrected SE (quadratic first-order term), equal spikes and spikes-bulk: {}; power laws: {}.\n\
         - sim std / row-law SE with Gaussian partners (3(d)): power:0.5: {}; all: {}.\n\
         - sim std / row-law SE (Haar partners): equal spikes: {}; spikes-bulk: {}; power:0.5: {}; power:1: {}; power:2: {}; all: {}.\n",
        points.len(),
        worst(&|p| p.paper_mean_rel_err, &all),
        worst(&|p| p.paper_mean_rel_err, &|p| p.spectrum == "spikes:1"),
        if at_d.is_empty() {
            "-".to_string()
        } else {
            at_d.join(", ")
        },
        worst(&|p| p.corrected_mean_rel_err, &all),
        range(&|p| p.paper_se_ratio, &spikes),
        range(&|p| p.paper_se_ratio, &power),
        range(&|p| p.paper_se_ratio, &|p| !degenerate(p)),
        range(&|p| p.quadratic_se_ratio, &|p| flatish(p) && !degenerate(p)),
        range(&|p| p.quadratic_se_ratio, &power),
        range(&|p| p.gaussian_row_law_se_ratio, &|p| p.spectrum == "power:0.5"),
        range(&|p| p.gaussian_row_law_se_ratio, &|p| !degenerate(p)),
        range(&|p| p.row_law_se_ratio, &spikes),
        range(&|p| p.row_law_se_ratio, &|p| p.spectrum.starts_with("spikes-bulk:")),
        range(&|p| p.row_law_se_ratio, &|p| p.spectrum == "power:0.5"),
        range(&|p| p.row_law_se_ratio, &|p| p.spectrum == "power:1"),
        range(&|p| p.row_law_se_ratio, &|p| p.spectrum == "power:2"),
        range(&|p| p.row_law_se_ratio, &|p| !degenerate(p)),
    )
}

/// The grid as a Markdown table (one row per point) followed by its worst cases.
pub fn grid_markdown(points: &[GridPoint]) -> String {
    let mut s = String::from(
        "| d | spectrum | k_eff | R | sim mean (mcse) | paper mean | err | corrected | err | sim std | paper SE ratio | corrected SE ratio | row-law SE ratio, Gaussian partners | row-law SE ratio |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for p in points {
        s.push_str(&format!(
            "| {} | {} | {:.2} | {} | {:.4} ({:.1e}) | {:.4} | {} | {:.4} | {} | {:.2e} | {:.2} | {:.2} | {:.2} | {:.2} |\n",
            p.d,
            p.spectrum,
            p.k_eff,
            p.rotations,
            p.simulated_mean,
            p.simulated_mean_mcse,
            p.paper_mean,
            pct(p.paper_mean_rel_err),
            p.corrected_mean,
            pct(p.corrected_mean_rel_err),
            p.simulated_std,
            p.paper_se_ratio,
            p.quadratic_se_ratio,
            p.gaussian_row_law_se_ratio,
            p.row_law_se_ratio,
        ));
    }
    s.push_str("\nWorst cases:\n\n");
    s.push_str(&grid_summary(points));
    s
}
