//! The gamma fit on arbitrary point sets.
//!
//! The bytes are read as raw f64 bit patterns (so NaN, infinities, subnormals,
//! negative zero and duplicates all occur), split into x / y (or h / c), plus
//! a `FitRule` whose `top_k` and `rel_floor` also come from the bytes.
//! Invariants: no panic; `fit_power_law` and `fit_gamma` either return only
//! finite numbers (slope, intercept, std_err, r_squared in [0, 1], positive
//! log-range, consistent point counts) or a typed error; a fit of exact power
//! law data recovers its exponent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use superlinear::error::Error;
use superlinear::fit::{fit_gamma, fit_power_law, FitRule, GammaFit, PowerLawFit};

fn check_power(f: &PowerLawFit, m: usize) {
    assert!(f.slope.is_finite(), "slope {f:?}");
    assert!(f.intercept.is_finite(), "intercept {f:?}");
    assert!(f.std_err.is_finite() && f.std_err >= 0.0, "std_err {f:?}");
    assert!((0.0..=1.0).contains(&f.r_squared), "r^2 {f:?}");
    assert!(
        f.log_range_x.is_finite() && f.log_range_x > 0.0,
        "range {f:?}"
    );
    assert_eq!(f.points, m);
}

fn check_gamma(f: &GammaFit, rule: &FitRule, len: usize) {
    assert!(f.gamma.is_finite() && f.intercept.is_finite(), "{f:?}");
    assert!(f.std_err.is_finite() && f.std_err >= 0.0, "{f:?}");
    assert!((0.0..=1.0).contains(&f.r_squared), "{f:?}");
    assert!(f.log_range_h.is_finite() && f.log_range_h > 0.0, "{f:?}");
    assert!(f.points_used >= 3);
    assert_eq!(f.points_used + f.points_dropped, rule.top_k.min(len));
    assert!(f.ci.is_none());
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let top_k = usize::from(data[0] % 16);
    let floor_sel = data[1];
    let vals: Vec<f64> = data[2..]
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
        .collect();
    let half = vals.len() / 2;
    let (x, y) = vals.split_at(half);
    let y = &y[..half];

    match fit_power_law(x, y) {
        Ok(f) => {
            check_power(&f, x.len());
            assert!(x.iter().chain(y).all(|v| v.is_finite() && *v > 0.0));
        }
        Err(e) => assert_typed(&e),
    }
    // Exact power law on the same abscissae: y = x^2 recovered to rounding.
    let y2: Vec<f64> = x.iter().map(|v| v * v).collect();
    if y2.iter().all(|v| v.is_normal()) {
        if let Ok(f) = fit_power_law(x, &y2) {
            check_power(&f, x.len());
            let lx: Vec<f64> = x.iter().map(|v| v.ln()).collect();
            let scale = lx.iter().fold(1.0f64, |m, v| m.max(v.abs()));
            // ln(x^2) = 2 ln x up to the rounding of x^2 (relative eps, absolute
            // eps in log scale), amplified by 1 / log-range.
            let tol = 64.0 * f64::EPSILON * scale * x.len() as f64 / f.log_range_x;
            assert!(
                (f.slope - 2.0).abs() <= tol.max(1e-12),
                "slope {} vs 2 (tol {tol:e})",
                f.slope
            );
        }
    }

    let rel_floor = match floor_sel % 4 {
        0 => 0.0,
        1 => 1e3 * 8.0 * f64::EPSILON,
        2 => f64::from(floor_sel) / 256.0,
        _ => f64::from_bits(u64::from(floor_sel).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
    };
    let rule = FitRule { top_k, rel_floor };
    let mut h = x.to_vec();
    if floor_sel & 0x80 != 0 {
        // Sorting makes the descending check pass more often, so that the
        // fit itself gets exercised.
        h.sort_by(|a, b| b.total_cmp(a));
    }
    match fit_gamma(&h, y, &rule) {
        Ok(f) => check_gamma(&f, &rule, h.len()),
        Err(e) => assert_typed(&e),
    }
});

fn assert_typed(e: &Error) {
    let msg = e.to_string();
    assert!(!msg.is_empty());
    assert!(!matches!(e, Error::Io { .. }), "a fit has no file: {e}");
}
