//! The coupling null's formulas against simulation (C3, C4): over the grid
//! of dimensions d and spectra of C (effective rank k), the relative error
//! of App. C's mean of `rho_bar` and of our corrected mean against the
//! simulated Haar null, and the ratio of App. D's standard error (and of the
//! corrected one) to the simulated one.

use super::chart::{Chart, Legend, Mark, Point, Series, Ticks};
use crate::error::Result;

/// One grid point (one d and one spectrum).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NullPoint {
    /// Dimension.
    pub d: usize,
    /// Effective rank `k_eff` of C's spectrum.
    pub k_eff: f64,
    /// `(paper - simulated) / simulated` mean.
    pub paper_mean_rel_err: f64,
    /// `(corrected - simulated) / simulated` mean.
    pub corrected_mean_rel_err: f64,
    /// Paper SE / simulated SE.
    pub paper_se_ratio: f64,
    /// Corrected SE / simulated SE.
    pub corrected_se_ratio: f64,
}

/// Renders the mean's relative error (`which = Mean`) or the SE ratio
/// (`which = Se`) against `log10 k_eff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// App. C's mean.
    Mean,
    /// App. D's standard error.
    Se,
}

/// Renders one panel of the grid.
pub fn render(title: &str, points: &[NullPoint], which: Which) -> Result<String> {
    type Pick = fn(&NullPoint) -> f64;
    let (y_label, reference): (&str, f64) = match which {
        Which::Mean => ("(formula - simulated) / simulated mean", 0.0),
        Which::Se => ("formula SE / simulated SE", 1.0),
    };
    let (paper, ours): (Pick, Pick) = match which {
        Which::Mean => (|p| p.paper_mean_rel_err, |p| p.corrected_mean_rel_err),
        Which::Se => (|p| p.paper_se_ratio, |p| p.corrected_se_ratio),
    };
    let mut chart = Chart::new(title, "effective rank k_eff of C (log scale)", y_label);
    chart.x_ticks = Ticks::Pow10;
    chart.legend = match which {
        Which::Mean => Legend::UpperLeft,
        Which::Se => Legend::UpperRight,
    };
    chart.hlines = vec![(reference, "agreement with the simulated null".into())];
    let mut ds: Vec<usize> = points.iter().map(|p| p.d).collect();
    ds.sort_unstable();
    ds.dedup();
    for (i, &d) in ds.iter().enumerate() {
        let of = |f: fn(&NullPoint) -> f64| -> Vec<Point> {
            let mut v: Vec<Point> = points
                .iter()
                .filter(|p| p.d == d && p.k_eff > 0.0)
                .map(|p| Point::new(p.k_eff.log10(), f(p)))
                .collect();
            v.sort_by(|a, b| a.x.total_cmp(&b.x));
            v
        };
        chart
            .series
            .push(Series::new(format!("paper, d = {d}"), of(paper), Mark::Dots, i).with_dot(4));
        chart.series.push(Series::new(
            if i == 0 {
                "corrected (lines)".to_string()
            } else {
                String::new()
            },
            of(ours),
            Mark::Line,
            i,
        ));
    }
    super::chart::render(&chart)
}
