//! Descriptive statistics (`superlinear::stats`): the textbook values on
//! hand-checked samples.

use superlinear::stats::{
    mean, mean_std, median, median_sorted, pearson, population_variance, quantile_sorted, summarize,
};
use superlinear::Error;

#[test]
fn mean_std_and_variance_of_a_small_sample() {
    let x = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
    assert_eq!(mean(&x), 5.0);
    assert_eq!(population_variance(&x), 4.0);
    let (m, s) = mean_std(&x).unwrap();
    assert_eq!(m, 5.0);
    assert!((s - (32.0f64 / 7.0).sqrt()).abs() < 1e-15);
    assert_eq!(mean_std(&[3.5]), Some((3.5, 0.0)));
    assert_eq!(mean_std(&[]), None);
}

#[test]
fn median_of_odd_even_and_non_finite_samples() {
    assert_eq!(median_sorted(&[1.0, 2.0, 10.0]), 2.0);
    assert_eq!(median_sorted(&[1.0, 2.0, 4.0, 10.0]), 3.0);
    assert_eq!(median(&[10.0, f64::NAN, 1.0, 4.0, f64::INFINITY, 2.0]), 3.0);
    assert!(median(&[f64::NAN]).is_nan());
}

#[test]
fn quantiles_are_type_7() {
    // R: quantile(c(1, 2, 4, 8, 16), c(0, 0.1, 0.5, 0.9, 1), type = 7)
    let s = [1.0, 2.0, 4.0, 8.0, 16.0];
    let want = [(0.0, 1.0), (0.1, 1.4), (0.5, 4.0), (0.9, 12.8), (1.0, 16.0)];
    for (p, v) in want {
        assert!((quantile_sorted(&s, p) - v).abs() < 1e-12, "p = {p}");
    }
    assert_eq!(quantile_sorted(&s, 1.5), 16.0);
    assert_eq!(quantile_sorted(&[7.0], 0.3), 7.0);
    let sum = summarize(&[16.0, 1.0, 8.0, 2.0, 4.0], &[0.1, 0.9]).unwrap();
    assert_eq!(sum.n, 5);
    assert_eq!(sum.mean, 6.2);
    assert!((sum.quantiles[0].value - 1.4).abs() < 1e-12);
    assert!((sum.quantiles[1].value - 12.8).abs() < 1e-12);
    assert!(matches!(summarize(&[], &[]), Err(Error::Empty { .. })));
    assert!(matches!(
        summarize(&[1.0, f64::NAN], &[]),
        Err(Error::NonFinite { .. })
    ));
}

#[test]
fn pearson_known_values() {
    assert!((pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]).unwrap() - 1.0).abs() < 1e-15);
    assert!((pearson(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]).unwrap() + 1.0).abs() < 1e-15);
    assert_eq!(pearson(&[1.0, 1.0], &[1.0, 2.0]), None);
    assert_eq!(pearson(&[1.0], &[1.0]), None);
}

#[test]
fn pearson_of_linear_constant_and_short_samples() {
    let x = [1.0, 2.0, 3.0, 4.0];
    let y = [3.0, 5.0, 7.0, 9.0];
    assert!((pearson(&x, &y).unwrap() - 1.0).abs() < 1e-15);
    let neg: Vec<f64> = y.iter().map(|v| -v).collect();
    assert!((pearson(&x, &neg).unwrap() + 1.0).abs() < 1e-15);
    assert_eq!(pearson(&x, &[2.0; 4]), None);
    assert_eq!(pearson(&[1.0], &[2.0]), None);
    // Only the first min(len) pairs count.
    assert_eq!(pearson(&x, &y[..3]), pearson(&x[..3], &y[..3]));
}
