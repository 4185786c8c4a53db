//! The checks behind `theory/coupling-null.md` section 3(e) (claim C4): which
//! row function carries the first-order part of the null variance of
//! `rho_bar`, and whether the Imhof evaluation of its law agrees with a Monte
//! Carlo of Haar rows.
//!
//! `cargo run --release --example coupling_haar_partners -- slopes D ALPHA ROTATIONS`
//! draws ROTATIONS Haar frames (seed 777) for the spectrum `i^-ALPHA` over all
//! d directions and, for each candidate row function f, regresses `rho_bar` on
//! `(2/d) sum_i f(w_i)`: slope 1 means f carries the first-order part.
//! Candidates: `h(R)` (3(d)), `h(R) + h'(R) dR` with `dR = (Y/S1^2 - X/S1)/d`,
//! `h((d R - 1)/(d - 1))` and `h(R_H)`, `R_H = (d R - X/S1)/(d - 1)`.
//!
//! `cargo run --release --example coupling_haar_partners -- mc D R ALPHA N SEED`
//! compares `coupling::row_law::haar_row_law` (spectrum `i^-ALPHA` on R of D
//! coordinates) with N uniform directions in R^D (seeded): mean, variance and
//! the residual after the projection on the squared coordinates.

use faer::Mat;
use rand_distr::{Distribution, StandardNormal};
use superlinear::coupling::row_law::haar_row_law;
use superlinear::coupling::{coupling_of_rows, mean_abs_cosine};
use superlinear::linalg::{haar_frame, seeded_rng, seeded_stream};

fn h(x: f64) -> f64 {
    if x > 0.0 {
        mean_abs_cosine(1.0 / x)
    } else {
        0.0
    }
}

fn dh(x: f64) -> f64 {
    let e = 1e-6 * x;
    (h(x + e) - h(x - e)) / (2.0 * e)
}

/// `c_k = E[w_k^2/|w|^2]` for `w ~ N(0, diag(mu))`, by the Laplace integral.
fn weights(mu: &[f64]) -> Vec<f64> {
    let step = 0.02;
    let mut phi = vec![0.0; mu.len()];
    for n in 0..=7000 {
        let s = (-40.0 + n as f64 * step).exp();
        let log_f: f64 = mu.iter().map(|m| -0.5 * (2.0 * s * m).ln_1p()).sum();
        let w = step * s * log_f.exp();
        for (p, m) in phi.iter_mut().zip(mu) {
            *p += w / (1.0 + 2.0 * s * m);
        }
    }
    let c: Vec<f64> = mu.iter().zip(&phi).map(|(m, p)| m * p).collect();
    let total: f64 = c.iter().sum();
    c.iter().map(|x| x / total).collect()
}

fn slopes(d: usize, alpha: f64, rotations: usize) -> anyhow::Result<()> {
    let mu: Vec<f64> = (1..=d).map(|i| (i as f64).powf(-alpha)).collect();
    let c = weights(&mu);
    let s1: f64 = mu.iter().sum();
    let df = d as f64;
    let names = ["h(R)", "h(R) + h'(R) dR", "h((d R - 1)/(d - 1))", "h(R_H)"];
    let mut rows: Vec<[f64; 5]> = Vec::new();
    for t in 0..rotations {
        let mut rng = seeded_stream(777, t as u64);
        let u = haar_frame(d, d, &mut rng)?;
        let w = Mat::from_fn(d, d, |i, k| u[(i, k)] * mu[k].sqrt());
        let rho_bar = coupling_of_rows(w.as_ref(), "Haar rotation")?.rho_bar;
        let mut sums = [0.0; 4];
        for i in 0..d {
            let (mut x, mut y, mut n) = (0.0, 0.0, 0.0);
            for (k, (m, ck)) in mu.iter().zip(&c).enumerate() {
                let z = df * u[(i, k)].powi(2);
                x += m * z;
                y += m * m * z;
                n += ck * m * z;
            }
            let r = n / x;
            let l = y / (s1 * s1) - x / s1;
            sums[0] += h(r);
            sums[1] += h(r) + dh(r) * l / df;
            sums[2] += h((df * r - 1.0) / (df - 1.0));
            sums[3] += h((df * r - x / s1) / (df - 1.0));
        }
        rows.push([
            rho_bar,
            2.0 * sums[0] / df,
            2.0 * sums[1] / df,
            2.0 * sums[2] / df,
            2.0 * sums[3] / df,
        ]);
    }
    let n = rows.len() as f64;
    let mean = |j: usize| rows.iter().map(|r| r[j]).sum::<f64>() / n;
    let cov = |a: usize, b: usize| {
        let (ma, mb) = (mean(a), mean(b));
        rows.iter().map(|r| (r[a] - ma) * (r[b] - mb)).sum::<f64>() / (n - 1.0)
    };
    println!(
        "d = {d}, power:{alpha}, {rotations} Haar rotations: std of rho_bar {:.3e}",
        cov(0, 0).sqrt()
    );
    for (j, name) in names.iter().enumerate() {
        let (c0, v) = (cov(0, j + 1), cov(j + 1, j + 1));
        println!(
            "  {name:22} std {:.3e}  slope {:.3}  corr {:.4}",
            v.sqrt(),
            c0 / v,
            c0 / (v * cov(0, 0)).sqrt()
        );
    }
    Ok(())
}

fn monte_carlo(d: usize, r: usize, alpha: f64, n: usize, seed: u64) -> anyhow::Result<()> {
    let mu: Vec<f64> = (1..=r).map(|i| (i as f64).powf(-alpha)).collect();
    let law = haar_row_law(&mu, d)?;
    let c = weights(&mu);
    let s1: f64 = mu.iter().sum();
    let df = d as f64;
    let mut rng = seeded_rng(seed);
    let zs: Vec<Vec<f64>> = (0..n)
        .map(|_| {
            (0..d)
                .map(|_| {
                    let g: f64 = StandardNormal.sample(&mut rng);
                    g * g
                })
                .collect()
        })
        .collect();
    let hs: Vec<f64> = zs
        .iter()
        .map(|z| {
            let x: f64 = z.iter().zip(&mu).map(|(z, m)| z * m).sum();
            let nn: f64 = z.iter().zip(&mu).zip(&c).map(|((z, m), c)| z * m * c).sum();
            let t = (x / s1) / (z.iter().sum::<f64>() / df);
            h((df * nn / x - t) / (df - 1.0))
        })
        .collect();
    let nf = n as f64;
    let mean = hs.iter().sum::<f64>() / nf;
    let var = hs.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (nf - 1.0);
    let mut lin = 0.0;
    for k in 0..d {
        let prods: Vec<f64> = zs
            .iter()
            .zip(&hs)
            .map(|(z, v)| (v - mean) * (z[k] - 1.0))
            .collect();
        let cv = prods.iter().sum::<f64>() / nf;
        let vp = prods.iter().map(|p| (p - cv).powi(2)).sum::<f64>() / nf;
        lin += (cv * cv - vp / nf) * (df + 2.0) / (2.0 * df);
    }
    println!(
        "d = {d}, power:{alpha} on r = {r}: formula E h {:.5e} Var h {:.4e} residual {:.4e} | Monte Carlo (n = {n}, seed {seed}) E h {mean:.5e} Var h {var:.4e} residual {:.4e}",
        law.mean_h,
        law.var_h,
        law.residual(),
        var - lin
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize| -> anyhow::Result<f64> {
        a.get(i)
            .ok_or_else(|| anyhow::anyhow!("missing argument {i} (see the example's doc)"))?
            .parse::<f64>()
            .map_err(|e| anyhow::anyhow!("argument {i}: {e}"))
    };
    match a.first().map(String::as_str) {
        Some("slopes") => slopes(num(1)? as usize, num(2)?, num(3)? as usize),
        Some("mc") => monte_carlo(
            num(1)? as usize,
            num(2)? as usize,
            num(3)?,
            num(4)? as usize,
            num(5)? as u64,
        ),
        _ => anyhow::bail!(
            "usage: coupling_haar_partners slopes D ALPHA ROTATIONS | mc D R ALPHA N SEED"
        ),
    }
}
