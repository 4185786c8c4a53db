//! The one x-y chart every line, scatter and error-bar figure of
//! [`super`] is drawn with: series of points (line, dots, or a band between
//! `lo` and `hi` around a line), optional vertical error bars, horizontal
//! reference lines and one shaded horizontal interval, rendered to an SVG
//! string by `plotters`' SVG backend (text as SVG `<text>`, no font files).
//!
//! Every coordinate is checked finite before anything is drawn
//! ([`Error::NonFinite`] naming the figure, series and point); a chart
//! with no point is [`Error::Empty`]. The axis range is the data's range
//! padded by 5% on each side (a degenerate range is widened by 0.5), so the
//! same data gives the same SVG, byte for byte.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::error::{Error, Result};

/// One point; `lo`/`hi` are the ends of its error bar or band (both or
/// neither).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Abscissa.
    pub x: f64,
    /// Ordinate.
    pub y: f64,
    /// Lower end of the interval, if any.
    pub lo: Option<f64>,
    /// Upper end of the interval, if any.
    pub hi: Option<f64>,
}

impl Point {
    /// A point without interval.
    pub fn new(x: f64, y: f64) -> Self {
        Point {
            x,
            y,
            lo: None,
            hi: None,
        }
    }
    /// A point with interval `[lo, hi]`.
    pub fn with_interval(x: f64, y: f64, lo: f64, hi: f64) -> Self {
        Point {
            x,
            y,
            lo: Some(lo),
            hi: Some(hi),
        }
    }
}

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// Straight segments between consecutive points.
    Line,
    /// A dot per point.
    Dots,
    /// Segments and dots.
    LineDots,
    /// Segments, and the area between the `lo` and `hi` curves shaded.
    Band,
}

/// One named series (an empty name keeps it out of the legend).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend entry.
    pub name: String,
    /// Points, in drawing order.
    pub points: Vec<Point>,
    /// How they are drawn.
    pub mark: Mark,
    /// Index into [`PALETTE`] (taken modulo its length).
    pub color: usize,
    /// Whether each point's `[lo, hi]` is drawn as a vertical error bar.
    pub error_bars: bool,
    /// Dot radius in pixels.
    pub dot: u32,
}

impl Series {
    /// A series with the default dot size and no error bars.
    pub fn new(name: impl Into<String>, points: Vec<Point>, mark: Mark, color: usize) -> Self {
        Series {
            name: name.into(),
            points,
            mark,
            color,
            error_bars: false,
            dot: 3,
        }
    }
    /// The same series with error bars.
    pub fn with_error_bars(mut self) -> Self {
        self.error_bars = true;
        self
    }
    /// The same series with dots of radius `r`.
    pub fn with_dot(mut self, r: u32) -> Self {
        self.dot = r;
        self
    }
}

/// How the tick labels of an axis are written.
#[derive(Debug, Clone, PartialEq)]
pub enum Ticks {
    /// The value, with the given number of decimals.
    Plain(usize),
    /// The axis holds `log10 v`; the label is `v` (3 significant digits,
    /// whole numbers from 10 on).
    Pow10,
    /// Categorical: the axis holds `0, 1, ..., n - 1`, labelled by name.
    Categories(Vec<String>),
}

/// Where the legend goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Legend {
    /// Upper left corner of the plot.
    UpperLeft,
    /// Upper right corner.
    UpperRight,
    /// Lower left corner.
    LowerLeft,
    /// Lower right corner.
    LowerRight,
}

/// A whole chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// The figure's name (in error messages) and caption.
    pub title: String,
    /// x axis description.
    pub x_label: String,
    /// y axis description.
    pub y_label: String,
    /// Tick labels of x.
    pub x_ticks: Ticks,
    /// Tick labels of y.
    pub y_ticks: Ticks,
    /// Series, drawn in order.
    pub series: Vec<Series>,
    /// Horizontal reference lines `(y, legend entry)`.
    pub hlines: Vec<(f64, String)>,
    /// A shaded horizontal interval `(y_lo, y_hi, legend entry)`.
    pub hband: Option<(f64, f64, String)>,
    /// Where the legend goes.
    pub legend: Legend,
    /// Pixel size `(width, height)`.
    pub size: (u32, u32),
}

impl Chart {
    /// An empty chart of the default size (720 x 440).
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Self {
        Chart {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            x_ticks: Ticks::Plain(2),
            y_ticks: Ticks::Plain(2),
            series: Vec::new(),
            hlines: Vec::new(),
            hband: None,
            legend: Legend::UpperLeft,
            size: (720, 440),
        }
    }
}

/// Colours of the series (colour-blind-safe, Okabe-Ito order).
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(120, 120, 120),
    RGBColor(0, 0, 0),
];

/// The colour of palette index `i`.
pub fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// The error of a failed drawing call.
pub(crate) fn render_error(figure: &str, e: impl std::fmt::Display) -> Error {
    Error::Render {
        figure: figure.to_string(),
        message: e.to_string(),
    }
}

/// Checks that `v` is finite.
pub(crate) fn finite(figure: &str, what: &str, i: usize, v: f64) -> Result<f64> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(Error::NonFinite {
            input: format!("figure {figure}"),
            location: format!("{what}, point {i}"),
            value: v,
        })
    }
}

/// `[min, max]` padded by 5% each side; a degenerate range is widened.
pub(crate) fn padded(lo: f64, hi: f64) -> (f64, f64) {
    let span = hi - lo;
    if span <= 0.0 || !span.is_finite() {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo - 0.05 * span, hi + 0.05 * span)
    }
}

/// Three significant digits, without trailing zeros.
pub(crate) fn sig3(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-3..1e5).contains(&a) {
        return format!("{v:.1e}");
    }
    let decimals = (2 - a.log10().floor() as i32).max(0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn tick_label(t: &Ticks, v: f64) -> String {
    match t {
        Ticks::Plain(d) => format!("{v:.d$}"),
        Ticks::Pow10 => {
            let x = 10f64.powf(v);
            if x >= 10.0 {
                format!("{x:.0}")
            } else {
                sig3(x)
            }
        }
        Ticks::Categories(names) => {
            let i = v.round();
            if (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < names.len() {
                names[i as usize].clone()
            } else {
                String::new()
            }
        }
    }
}

/// Renders `chart` to an SVG document.
pub fn render(chart: &Chart) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, chart.size).into_drawing_area();
        draw_on(&root, chart)?;
        root.present().map_err(|e| render_error(&chart.title, e))?;
    }
    Ok(svg)
}

/// Draws `chart` on a drawing area (one panel of a larger figure).
pub(crate) fn draw_on<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    chart: &Chart,
) -> Result<()> {
    let name = chart.title.as_str();
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| render_error(name, e);
    let (mut x0, mut x1, mut y0, mut y1) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    let mut count = 0usize;
    for s in &chart.series {
        for (i, p) in s.points.iter().enumerate() {
            let x = finite(name, &s.name, i, p.x)?;
            let y = finite(name, &s.name, i, p.y)?;
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
            for v in [p.lo, p.hi].into_iter().flatten() {
                let v = finite(name, &s.name, i, v)?;
                y0 = y0.min(v);
                y1 = y1.max(v);
            }
            count += 1;
        }
    }
    if count == 0 {
        return Err(Error::Empty {
            input: format!("figure {name}"),
            what: "no point to draw".into(),
        });
    }
    for (i, (y, label)) in chart.hlines.iter().enumerate() {
        let y = finite(name, label, i, *y)?;
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if let Some((lo, hi, label)) = &chart.hband {
        y0 = y0.min(finite(name, label, 0, *lo)?);
        y1 = y1.max(finite(name, label, 1, *hi)?);
    }
    let (x0, x1) = match &chart.x_ticks {
        Ticks::Categories(n) => (-0.5, (n.len().max(1) as f64) - 0.5),
        _ => padded(x0, x1),
    };
    let (y0, y1) = padded(y0, y1);

    area.fill(&WHITE).map_err(err)?;
    let mut ctx = ChartBuilder::on(area)
        .caption(&chart.title, ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(match &chart.x_ticks {
            // Room for the longest name hanging below the axis.
            Ticks::Categories(n) => {
                let longest = n.iter().map(|s| s.len()).max().unwrap_or(0) as u32;
                (longest * 6 + 20).min(200)
            }
            _ => 44,
        })
        .y_label_area_size(64)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?;
    let xf = |v: &f64| tick_label(&chart.x_ticks, *v);
    let yf = |v: &f64| tick_label(&chart.y_ticks, *v);
    let mut mesh = ctx.configure_mesh();
    mesh.x_desc(chart.x_label.as_str())
        .y_desc(chart.y_label.as_str())
        .x_label_formatter(&xf)
        .y_label_formatter(&yf)
        .light_line_style(RGBColor(235, 235, 235))
        .bold_line_style(RGBColor(215, 215, 215))
        .axis_desc_style(("sans-serif", 14))
        .label_style(("sans-serif", 12));
    if let Ticks::Categories(_) = &chart.x_ticks {
        // The category names are drawn below, hanging from the axis.
        mesh.x_labels(0).disable_x_mesh();
    }
    mesh.draw().map_err(err)?;
    if let Ticks::Categories(names) = &chart.x_ticks {
        let style = TextStyle::from(
            ("sans-serif", 11)
                .into_font()
                .transform(FontTransform::Rotate270),
        )
        .pos(Pos::new(HPos::Right, VPos::Center));
        for (i, name) in names.iter().enumerate() {
            let (px, py) = ctx.backend_coord(&(i as f64, y0));
            area.draw(&Text::new(name.as_str(), (px, py + 8), style.clone()))
                .map_err(err)?;
        }
    }

    if let Some((lo, hi, label)) = &chart.hband {
        let fill = RGBColor(0, 158, 115).mix(0.12);
        ctx.draw_series(std::iter::once(Rectangle::new(
            [(x0, *lo), (x1, *hi)],
            fill.filled(),
        )))
        .map_err(err)?
        .label(label.as_str())
        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 18, y + 5)], fill.filled()));
    }
    for (i, (y, label)) in chart.hlines.iter().enumerate() {
        let c = RGBColor(90, 90, 90);
        let style = ShapeStyle::from(&c).stroke_width(1);
        let dash = if i % 2 == 0 { 8 } else { 3 };
        let segs: Vec<(f64, f64)> = dashed(x0, x1, dash);
        let y = *y;
        let series = ctx
            .draw_series(
                segs.iter()
                    .map(|&(a, b)| PathElement::new(vec![(a, y), (b, y)], style)),
            )
            .map_err(err)?;
        if !label.is_empty() {
            series
                .label(label.as_str())
                .legend(move |(x, yy)| PathElement::new(vec![(x, yy), (x + 18, yy)], style));
        }
    }
    for s in &chart.series {
        let c = color(s.color);
        let line = ShapeStyle::from(&c).stroke_width(2);
        if s.mark == Mark::Band {
            let mut poly: Vec<(f64, f64)> =
                s.points.iter().filter_map(|p| Some((p.x, p.hi?))).collect();
            poly.extend(s.points.iter().rev().filter_map(|p| Some((p.x, p.lo?))));
            if poly.len() >= 3 {
                ctx.draw_series(std::iter::once(Polygon::new(poly, c.mix(0.18).filled())))
                    .map_err(err)?;
            }
        }
        let pts: Vec<(f64, f64)> = s.points.iter().map(|p| (p.x, p.y)).collect();
        let mut labelled = false;
        if matches!(s.mark, Mark::Line | Mark::LineDots | Mark::Band) {
            let series = ctx
                .draw_series(LineSeries::new(pts.clone(), line))
                .map_err(err)?;
            if !s.name.is_empty() {
                series
                    .label(s.name.as_str())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], line));
                labelled = true;
            }
        }
        if s.error_bars {
            ctx.draw_series(s.points.iter().filter_map(|p| {
                Some(ErrorBar::new_vertical(
                    p.x,
                    p.lo?,
                    p.y,
                    p.hi?,
                    ShapeStyle::from(&c).stroke_width(1),
                    6,
                ))
            }))
            .map_err(err)?;
        }
        if matches!(s.mark, Mark::Dots | Mark::LineDots) {
            let r = s.dot;
            let series = ctx
                .draw_series(pts.iter().map(|&p| Circle::new(p, r, c.mix(0.75).filled())))
                .map_err(err)?;
            if !s.name.is_empty() && !labelled {
                series
                    .label(s.name.as_str())
                    .legend(move |(x, y)| Circle::new((x + 9, y), 4, c.filled()));
            }
        }
    }
    let pos = match chart.legend {
        Legend::UpperLeft => SeriesLabelPosition::UpperLeft,
        Legend::UpperRight => SeriesLabelPosition::UpperRight,
        Legend::LowerLeft => SeriesLabelPosition::LowerLeft,
        Legend::LowerRight => SeriesLabelPosition::LowerRight,
    };
    ctx.configure_series_labels()
        .position(pos)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(180, 180, 180))
        .label_font(("sans-serif", 12))
        .draw()
        .map_err(err)?;
    Ok(())
}

/// The dash segments of a dashed line over `[x0, x1]`: 40 periods, `on`
/// tenths of each drawn.
fn dashed(x0: f64, x1: f64, on: usize) -> Vec<(f64, f64)> {
    let periods = 40;
    let step = (x1 - x0) / periods as f64;
    (0..periods)
        .map(|i| {
            let a = x0 + i as f64 * step;
            (a, a + step * on as f64 / 10.0)
        })
        .collect()
}
