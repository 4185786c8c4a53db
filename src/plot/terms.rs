//! Term I against the real gradient difference (C6), per checkpoint and
//! seed: gamma_I (the exponent of Term I `= h_p dw_p`) beside gamma_Dg (of
//! the real `Dg = g_partner - g_p`). The per-direction projections are not
//! recorded, so this is drawn from the per-checkpoint exponents.

use super::chart::{Chart, Legend, Mark, Point, Series, Ticks};
use crate::error::Result;

/// One checkpoint of one seed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TermsAt {
    /// Epoch.
    pub epoch: f64,
    /// gamma of Term I.
    pub gamma_term1: Option<f64>,
    /// gamma of the real gradient difference.
    pub gamma_dg: Option<f64>,
}

/// One seed.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedTerms {
    /// Legend name.
    pub name: String,
    /// Checkpoints, epoch ascending.
    pub at: Vec<TermsAt>,
}

/// Renders gamma_I and gamma_Dg over training.
pub fn render(title: &str, seeds: &[SeedTerms]) -> Result<String> {
    let mut chart = Chart::new(title, "epoch", "exponent against H_ii");
    chart.x_ticks = Ticks::Plain(0);
    chart.legend = Legend::UpperRight;
    for (i, s) in seeds.iter().enumerate() {
        let t1: Vec<Point> =
            s.at.iter()
                .filter_map(|a| Some(Point::new(a.epoch, a.gamma_term1?)))
                .collect();
        let dg: Vec<Point> =
            s.at.iter()
                .filter_map(|a| Some(Point::new(a.epoch, a.gamma_dg?)))
                .collect();
        chart.series.push(Series::new(
            format!("gamma_I (Term I), {}", s.name),
            t1,
            Mark::LineDots,
            i,
        ));
        chart.series.push(
            Series::new(format!("gamma_Dg (real), {}", s.name), dg, Mark::Dots, i).with_dot(4),
        );
    }
    super::chart::render(&chart)
}
