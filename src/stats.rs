//! Descriptive statistics of samples: the one place for the mean, the sample
//! standard deviation, the median, type-7 quantiles and Pearson's correlation.
//!
//! - mean `m = (1/n) sum_i x_i` (summed in slice order);
//! - sample standard deviation `s = sqrt(sum_i (x_i - m)^2 / (n - 1))` (0 for
//!   one value); population variance `sum_i (x_i - m)^2 / n`;
//! - median: the middle order statistic, or the mean of the two middle ones
//!   `(s_(n/2 - 1) + s_(n/2)) / 2` for even n;
//! - type-7 quantile at probability p of sorted values `s_0 <= ... <= s_(n-1)`:
//!   `h = (n - 1) p`, `s_floor(h) + (h - floor(h)) (s_(floor(h)+1) - s_floor(h))`;
//! - Pearson's `r = sum dx dy / sqrt(sum dx^2 sum dy^2)` about the means.
//!
//! Base layer: depends on nothing of the crate but [`crate::error`].

use serde::Serialize;

use crate::error::{Error, Result};

/// Arithmetic mean, summed in slice order (NaN for an empty slice).
pub fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

/// Population variance `sum_i (x_i - mean)^2 / n` (NaN for an empty slice).
pub fn population_variance(x: &[f64]) -> f64 {
    let m = mean(x);
    x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / x.len() as f64
}

/// Mean and sample standard deviation (`n - 1` in the denominator; 0 for a
/// single value); `None` when `x` is empty.
pub fn mean_std(x: &[f64]) -> Option<(f64, f64)> {
    if x.is_empty() {
        return None;
    }
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    let s = if x.len() > 1 {
        (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    Some((m, s))
}

/// Median of sorted, non-empty values: the middle one, or the mean of the two
/// middle ones.
pub fn median_sorted(s: &[f64]) -> f64 {
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        0.5 * (s[n / 2 - 1] + s[n / 2])
    }
}

/// Median of the finite values of `v` (NaN if there are none).
pub fn median(v: &[f64]) -> f64 {
    let mut s: Vec<f64> = v.iter().cloned().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return f64::NAN;
    }
    s.sort_by(f64::total_cmp);
    median_sorted(&s)
}

/// Type-7 quantile of sorted, non-empty values, `q` clamped to [0, 1]:
/// linear interpolation between the order statistics around `(n - 1) q`.
pub fn quantile_sorted(s: &[f64], q: f64) -> f64 {
    let pos = q.clamp(0.0, 1.0) * (s.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(s.len() - 1);
    let frac = pos - lo as f64;
    s[lo] + frac * (s[hi] - s[lo])
}

/// Pearson correlation of the first `min(len x, len y)` pairs; `None` for
/// fewer than two pairs or when either variable is constant.
pub fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len().min(y.len());
    if n < 2 {
        return None;
    }
    let mx = mean(&x[..n]);
    let my = mean(&y[..n]);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for j in 0..n {
        let (a, b) = (x[j] - mx, y[j] - my);
        sxy += a * b;
        sxx += a * a;
        syy += b * b;
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

/// Summary of a sample: size, mean, sample standard deviation, quantiles.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub n: usize,
    pub mean: f64,
    pub std: f64,
    /// `(probability, value)` pairs, linear interpolation between order statistics.
    pub quantiles: Vec<Quantile>,
}

/// One quantile.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Quantile {
    pub p: f64,
    pub value: f64,
}

/// Mean, sample standard deviation and type-7 quantiles at `probs` of a
/// non-empty, finite sample.
pub fn summarize(x: &[f64], probs: &[f64]) -> Result<Summary> {
    let Some((mean, std)) = mean_std(x) else {
        return Err(Error::empty("sample", "no values to summarise"));
    };
    if let Some(i) = x.iter().position(|v| !v.is_finite()) {
        return Err(Error::NonFinite {
            input: "sample".into(),
            location: format!("[{i}]"),
            value: x[i],
        });
    }
    let mut s = x.to_vec();
    s.sort_by(f64::total_cmp);
    let quantiles = probs
        .iter()
        .map(|&p| Quantile {
            p,
            value: quantile_sorted(&s, p),
        })
        .collect();
    Ok(Summary {
        n: x.len(),
        mean,
        std,
        quantiles,
    })
}
