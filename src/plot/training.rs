//! gamma over training (Fig. 2a; C15): per seed, the exponent at each
//! checkpoint with its bootstrap band over samples, and gamma_awd.

use super::chart::{Chart, Legend, Mark, Point, Series, Ticks};
use crate::error::Result;

/// One checkpoint of one seed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Checkpoint {
    /// Epoch.
    pub epoch: f64,
    /// gamma (None: not fitted).
    pub gamma: Option<f64>,
    /// Its bootstrap interval.
    pub ci: Option<(f64, f64)>,
    /// gamma_awd (None: not fitted).
    pub gamma_awd: Option<f64>,
}

/// One seed's checkpoints.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedCurve {
    /// Legend name (e.g. `seed 0`).
    pub name: String,
    /// Checkpoints, epoch ascending.
    pub checkpoints: Vec<Checkpoint>,
}

/// Renders gamma over training.
pub fn render(title: &str, seeds: &[SeedCurve]) -> Result<String> {
    let mut chart = Chart::new(title, "epoch", "gamma");
    chart.x_ticks = Ticks::Plain(0);
    chart.legend = Legend::LowerRight;
    for (i, s) in seeds.iter().enumerate() {
        let pts: Vec<Point> = s
            .checkpoints
            .iter()
            .filter_map(|c| {
                let g = c.gamma?;
                Some(match c.ci {
                    Some((lo, hi)) => Point::with_interval(c.epoch, g, lo, hi),
                    None => Point::new(c.epoch, g),
                })
            })
            .collect();
        let awd: Vec<Point> = s
            .checkpoints
            .iter()
            .filter_map(|c| Some(Point::new(c.epoch, c.gamma_awd?)))
            .collect();
        chart.series.push(Series::new(
            format!("gamma, {} (95% CI band)", s.name),
            pts,
            Mark::Band,
            i,
        ));
        chart
            .series
            .push(Series::new(format!("gamma_awd, {}", s.name), awd, Mark::Dots, i).with_dot(2));
    }
    super::chart::render(&chart)
}
