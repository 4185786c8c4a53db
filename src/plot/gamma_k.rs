//! gamma(k) (C15, C14 uncertainty): the exponent fitted over the top k
//! directions for growing k, the local slope over ranks `k/2..k`, and at the
//! primary k the bootstrap interval over samples (eigenbasis held fixed),
//! with the interval `[1, 2]` of Theorem 5.1 (C9) for reference.

use super::chart::{Chart, Legend, Mark, Point, Series, Ticks};
use crate::error::{Error, Result};

/// One k of the curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AtK {
    /// Top-k.
    pub k: usize,
    /// gamma over the top k (None: not fitted).
    pub gamma: Option<f64>,
    /// The local slope over ranks `k/2..k` (None: not fitted).
    pub local_slope: Option<f64>,
}

/// The primary k: `(k, gamma, bootstrap interval)`.
pub type Primary = (usize, f64, Option<(f64, f64)>);

/// The numbers of the figure.
#[derive(Debug, Clone, PartialEq)]
pub struct GammaK<'a> {
    /// Caption.
    pub title: &'a str,
    /// The curve, k ascending.
    pub curve: &'a [AtK],
    /// The primary k, its gamma and bootstrap interval.
    pub primary: Option<Primary>,
}

/// Renders gamma(k).
pub fn render(f: &GammaK) -> Result<String> {
    let lk = |k: usize| (k.max(1) as f64).log10();
    let mut gamma = Vec::new();
    let mut local = Vec::new();
    for a in f.curve {
        if a.k == 0 {
            return Err(Error::param("k", 0, "gamma(k) needs k >= 1"));
        }
        if let Some(g) = a.gamma {
            gamma.push(Point::new(lk(a.k), g));
        }
        if let Some(s) = a.local_slope {
            local.push(Point::new(lk(a.k), s));
        }
    }
    let mut chart = Chart::new(f.title, "top-k directions in the fit (log scale)", "gamma");
    chart.x_ticks = Ticks::Pow10;
    chart.legend = Legend::LowerRight;
    chart.hband = Some((1.0, 2.0, "Theorem 5.1: 1 <= gamma <= 2 (C9)".into()));
    chart.series.push(Series::new(
        "gamma over the top k",
        gamma,
        Mark::LineDots,
        0,
    ));
    chart.series.push(Series::new(
        "local slope, ranks k/2..k",
        local,
        Mark::LineDots,
        1,
    ));
    if let Some((k, g, ci)) = f.primary {
        let p = match ci {
            Some((lo, hi)) => Point::with_interval(lk(k), g, lo, hi),
            None => Point::new(lk(k), g),
        };
        chart.series.push(
            Series::new(
                format!("primary k = {k}, 95% bootstrap CI"),
                vec![p],
                Mark::Dots,
                7,
            )
            .with_error_bars()
            .with_dot(4),
        );
    }
    super::chart::render(&chart)
}
