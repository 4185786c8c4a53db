//! The paper's central figure (C14, C9): `log10 C_ii` (Eq. 2) and
//! `log10 C_awd,ii` (Eq. 15) against `log10 H_ii` over H's top eigen-
//! directions, with the fitted power laws `ln C = gamma ln H + b` drawn over
//! the fit window (the top `window` directions) and the directions outside
//! it in grey. Directions with a non-positive value have no logarithm and
//! are left out (as the fit leaves them out); a NaN is an error.

use super::chart::{finite, Chart, Legend, Mark, Point, Series, Ticks};
use crate::error::{Error, Result};

/// A fitted power law `ln C = gamma ln H + intercept` (natural logs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PowerLaw {
    /// Slope.
    pub gamma: f64,
    /// Intercept, natural log.
    pub intercept: f64,
}

/// The numbers of the central figure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogLog<'a> {
    /// Caption (the run).
    pub title: &'a str,
    /// `H_ii`, descending.
    pub h: &'a [f64],
    /// `C_ii`.
    pub c: &'a [f64],
    /// `C_awd,ii / sigma^2`.
    pub c_awd: &'a [f64],
    /// The fit of `C_ii`.
    pub fit_c: Option<PowerLaw>,
    /// The fit of `C_awd,ii`.
    pub fit_awd: Option<PowerLaw>,
    /// The fit window: the top `window` directions.
    pub window: usize,
}

/// Renders the central figure.
pub fn render(f: &LogLog) -> Result<String> {
    let name = f.title;
    if f.h.is_empty() {
        return Err(Error::Empty {
            input: format!("figure {name}"),
            what: "no H_ii".into(),
        });
    }
    for (what, v) in [("C_ii", f.c), ("C_awd,ii", f.c_awd)] {
        if v.len() != f.h.len() {
            return Err(Error::shape(
                &format!("figure {name}: {what}"),
                f.h.len(),
                v.len(),
            ));
        }
    }
    let mut inside = [Vec::new(), Vec::new()];
    let mut outside = Vec::new();
    let mut h_range = (f64::INFINITY, f64::NEG_INFINITY);
    for i in 0..f.h.len() {
        let h = finite(name, "H_ii", i, f.h[i])?;
        for (j, v) in [f.c[i], f.c_awd[i]].into_iter().enumerate() {
            let v = finite(name, if j == 0 { "C_ii" } else { "C_awd,ii" }, i, v)?;
            if h <= 0.0 || v <= 0.0 {
                continue;
            }
            let p = Point::new(h.log10(), v.log10());
            if i < f.window {
                inside[j].push(p);
                h_range = (h_range.0.min(p.x), h_range.1.max(p.x));
            } else {
                outside.push(p);
            }
        }
    }
    let mut chart = Chart::new(name, "H_ii (log scale)", "C_ii, C_awd,ii (log scale)");
    chart.x_ticks = Ticks::Pow10;
    chart.y_ticks = Ticks::Pow10;
    chart.legend = Legend::UpperLeft;
    chart.size = (720, 520);
    if !outside.is_empty() {
        chart
            .series
            .push(Series::new("outside the fit window", outside, Mark::Dots, 6).with_dot(2));
    }
    let [c_pts, awd_pts] = inside;
    chart.series.push(
        Series::new(
            format!("C_ii, top {} directions", f.window.min(f.h.len())),
            c_pts,
            Mark::Dots,
            0,
        )
        .with_dot(2),
    );
    chart
        .series
        .push(Series::new("C_awd,ii (Eq. 15)", awd_pts, Mark::Dots, 1).with_dot(2));
    for (fit, what, color) in [(f.fit_c, "C", 7), (f.fit_awd, "C_awd", 4)] {
        let (Some(fit), true) = (fit, h_range.0 <= h_range.1) else {
            continue;
        };
        finite(name, "gamma", 0, fit.gamma)?;
        finite(name, "intercept", 0, fit.intercept)?;
        // log10 C = gamma log10 H + b / ln 10.
        let b = fit.intercept / std::f64::consts::LN_10;
        let line = vec![
            Point::new(h_range.0, fit.gamma * h_range.0 + b),
            Point::new(h_range.1, fit.gamma * h_range.1 + b),
        ];
        chart.series.push(Series::new(
            format!("fit {what}: gamma = {:.3}", fit.gamma),
            line,
            Mark::Line,
            color,
        ));
    }
    super::chart::render(&chart)
}
