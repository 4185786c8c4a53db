//! Theorem 5.1's interval (C9): every finite-fit gamma and gamma_awd of a
//! grid, one column per row of the grid, against `1 <= gamma <= 2`.

use super::chart::{Chart, Legend, Mark, Point, Series, Ticks};
use crate::error::Result;

/// One row of the grid with its per-seed exponents.
#[derive(Debug, Clone, PartialEq)]
pub struct RowFits {
    /// Row label.
    pub label: String,
    /// gamma of each scored seed.
    pub gamma: Vec<f64>,
    /// gamma_awd of each scored seed.
    pub gamma_awd: Vec<f64>,
}

/// Renders the grid's exponents against `[1, 2]`.
pub fn render(title: &str, rows: &[RowFits]) -> Result<String> {
    let mut chart = Chart::new(title, "", "exponent");
    chart.x_ticks = Ticks::Categories(rows.iter().map(|r| r.label.clone()).collect());
    chart.legend = Legend::UpperRight;
    chart.size = (900, 560);
    chart.hband = Some((1.0, 2.0, "Theorem 5.1: [1, 2]".into()));
    let pts = |off: f64, f: fn(&RowFits) -> &Vec<f64>| -> Vec<Point> {
        rows.iter()
            .enumerate()
            .flat_map(|(i, r)| f(r).iter().map(move |&g| Point::new(i as f64 + off, g)))
            .collect()
    };
    chart.series.push(
        Series::new(
            "gamma (C, Eq. 2), one dot per seed",
            pts(-0.12, |r| &r.gamma),
            Mark::Dots,
            0,
        )
        .with_dot(3),
    );
    chart.series.push(
        Series::new(
            "gamma_awd (Eq. 15)",
            pts(0.12, |r| &r.gamma_awd),
            Mark::Dots,
            1,
        )
        .with_dot(3),
    );
    super::chart::render(&chart)
}
