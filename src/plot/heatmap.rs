//! Fig. 1's arrowhead (C3): `log10 |C_ij|` of C in H's eigenbasis, the top
//! `n x n` block `C' = V^T C V` (directions by descending `H_ii`), beside the
//! same block Haar-rotated, `Q C' Q^T` with Q a seeded Haar orthogonal
//! matrix ([`crate::linalg::haar_orthogonal`]): the rotation keeps C's
//! spectrum and removes its alignment with H, the null of `rho_bar`. Both
//! panels share one colour scale, the top six decades of the larger panel's
//! maximum.

use faer::Mat;
use plotters::prelude::*;

use super::chart::{finite, render_error};
use crate::error::{Error, Result};
use crate::linalg::{haar_orthogonal, seeded_rng};

/// Decades of the colour scale below the maximum.
pub const DECADES: f64 = 6.0;

/// `Q B Q^T` for the `n x n` row-major block `b` and a Haar Q from `seed`.
pub fn haar_rotated(b: &[f64], n: usize, seed: u64) -> Result<Vec<f64>> {
    check_block("coupling block", b, n)?;
    let m = Mat::from_fn(n, n, |i, j| b[i * n + j]);
    let q = haar_orthogonal(n, &mut seeded_rng(seed));
    let r = &q * &m * q.transpose();
    Ok((0..n * n).map(|t| r[(t / n, t % n)]).collect())
}

fn check_block(name: &str, b: &[f64], n: usize) -> Result<()> {
    if n == 0 {
        return Err(Error::Empty {
            input: format!("figure {name}"),
            what: "a 0 x 0 block".into(),
        });
    }
    if b.len() != n * n {
        return Err(Error::shape(
            &format!("figure {name}"),
            format!("{n} x {n} = {} values", n * n),
            b.len(),
        ));
    }
    for (i, &v) in b.iter().enumerate() {
        finite(name, "block", i, v)?;
    }
    Ok(())
}

/// The viridis colour map at `t` in `[0, 1]` (five anchors, linear between).
pub fn viridis(t: f64) -> RGBColor {
    const A: [(f64, f64, f64); 5] = [
        (68.0, 1.0, 84.0),
        (59.0, 82.0, 139.0),
        (33.0, 145.0, 140.0),
        (94.0, 201.0, 98.0),
        (253.0, 231.0, 37.0),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = t * 4.0;
    let i = (x.floor() as usize).min(3);
    let f = x - i as f64;
    let (a, b) = (A[i], A[i + 1]);
    let mix = |p: f64, q: f64| (p + f * (q - p)).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Renders the observed block `b` (`n x n`, row-major) beside its Haar
/// rotation with `seed`.
pub fn render(title: &str, b: &[f64], n: usize, seed: u64) -> Result<String> {
    check_block(title, b, n)?;
    let rotated = haar_rotated(b, n, seed)?;
    let top = b.iter().chain(&rotated).fold(0.0f64, |m, v| m.max(v.abs()));
    if top <= 0.0 {
        return Err(Error::param(
            &format!("figure {title}"),
            "a zero block",
            "log10 |C_ij| needs a nonzero entry",
        ));
    }
    let hi = top.log10();
    let lo = hi - DECADES;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1000, 500)).into_drawing_area();
        let err = |e: DrawingAreaErrorKind<_>| render_error(title, e);
        root.fill(&WHITE).map_err(err)?;
        let root = root.titled(title, ("sans-serif", 16)).map_err(err)?;
        let (left, rest) = root.split_horizontally(440);
        let (right, bar) = rest.split_horizontally(440);
        for (area, m, caption) in [
            (&left, b, "observed: V^T C V (H's eigenbasis)"),
            (&right, &rotated[..], "null: Q V^T C V Q^T, Q Haar"),
        ] {
            let nf = n as f64;
            let mut ctx = ChartBuilder::on(area)
                .caption(caption, ("sans-serif", 13))
                .margin(10)
                .x_label_area_size(36)
                .y_label_area_size(44)
                .build_cartesian_2d(0.0..nf, 0.0..nf)
                .map_err(err)?;
            let yf = |v: &f64| format!("{:.0}", nf - v);
            let xf = |v: &f64| format!("{v:.0}");
            ctx.configure_mesh()
                .disable_mesh()
                .x_desc("eigen-direction j (by H_jj, descending)")
                .y_desc("direction i")
                .x_label_formatter(&xf)
                .y_label_formatter(&yf)
                .axis_desc_style(("sans-serif", 12))
                .label_style(("sans-serif", 11))
                .draw()
                .map_err(err)?;
            let cells = (0..n * n).map(|t| {
                let (i, j) = (t / n, t % n);
                let v = m[t].abs();
                let level = if v > 0.0 {
                    (v.log10() - lo) / DECADES
                } else {
                    0.0
                };
                let (x, y) = (j as f64, nf - i as f64);
                Rectangle::new([(x, y - 1.0), (x + 1.0, y)], viridis(level).filled())
            });
            ctx.draw_series(cells).map_err(err)?;
        }
        let mut ctx = ChartBuilder::on(&bar)
            .margin_top(40)
            .margin_bottom(46)
            .margin_right(30)
            .y_label_area_size(50)
            .build_cartesian_2d(0.0..1.0, lo..hi)
            .map_err(err)?;
        let yf = |v: &f64| format!("1e{v:.0}");
        ctx.configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .y_desc("|C_ij|")
            .y_label_formatter(&yf)
            .y_labels(7)
            .axis_desc_style(("sans-serif", 12))
            .label_style(("sans-serif", 11))
            .draw()
            .map_err(err)?;
        let steps = 60;
        ctx.draw_series((0..steps).map(|s| {
            let a = lo + DECADES * s as f64 / steps as f64;
            let b = lo + DECADES * (s + 1) as f64 / steps as f64;
            Rectangle::new(
                [(0.0, a), (1.0, b)],
                viridis((s as f64 + 0.5) / steps as f64).filled(),
            )
        }))
        .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}
