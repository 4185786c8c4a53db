//! Table 1 published beside measured (C14): per row, the paper's
//! mean +- std and ours over the scored seeds, as error bars.

use super::chart::{Chart, Legend, Mark, Point, Series, Ticks};
use crate::error::Result;

/// One row of Table 1.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Row label.
    pub label: String,
    /// Published mean and std.
    pub published: Option<(f64, f64)>,
    /// Measured mean and std over seeds.
    pub measured: Option<(f64, f64)>,
}

/// Renders one quantity of Table 1 (gamma or gamma_awd).
pub fn render(title: &str, y_label: &str, rows: &[Row]) -> Result<String> {
    let mut chart = Chart::new(title, "", y_label);
    chart.x_ticks = Ticks::Categories(rows.iter().map(|r| r.label.clone()).collect());
    chart.legend = Legend::UpperRight;
    chart.size = (900, 560);
    let pts = |off: f64, f: fn(&Row) -> Option<(f64, f64)>| -> Vec<Point> {
        rows.iter()
            .enumerate()
            .filter_map(|(i, r)| {
                let (m, s) = f(r)?;
                Some(Point::with_interval(i as f64 + off, m, m - s, m + s))
            })
            .collect()
    };
    chart.series.push(
        Series::new(
            "published (mean +- std)",
            pts(-0.12, |r| r.published),
            Mark::Dots,
            6,
        )
        .with_error_bars()
        .with_dot(4),
    );
    chart.series.push(
        Series::new(
            "measured (mean +- std over seeds)",
            pts(0.12, |r| r.measured),
            Mark::Dots,
            0,
        )
        .with_error_bars()
        .with_dot(4),
    );
    super::chart::render(&chart)
}
