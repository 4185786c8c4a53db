//! The minimal activity-weight duality solution on arbitrary W, a, da
//! (claim C5, Lemma 3.2).
//!
//! The bytes give `out, in <= 6` and raw f64 bit patterns for W, a and da
//! (any value: NaN, infinities, subnormals, huge and tiny). Invariants:
//! - `minimal_dw` never panics; it errors (typed) on non-finite input, a zero
//!   or subnormal `|a|`, or overflow, and otherwise returns finite factors;
//! - `right = a / |a|` has unit norm;
//! - the norm identity `|dW|_F = |W da| / |a|` holds to rounding;
//! - the constraint `dW a = W da` holds: `|dW a - W da|` is at rounding level
//!   relative to `|W|_F |da|` (evaluated in a scaled form that cannot
//!   overflow), whenever that scale is a normal number;
//! - the batched form agrees with the single-sample one bit for bit in
//!   success or failure.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ndarray::{Array1, Array2};
use superlinear::awd::{minimal_dw, minimal_dw_batch, stable_frobenius, stable_norm};
use superlinear::error::Error;

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let out = 1 + usize::from(data[0] % 6);
    let n_in = 1 + usize::from(data[1] % 6);
    let mode = data[2];
    let mut vals = data[3..].chunks(8).map(|c| {
        let mut buf = [0u8; 8];
        buf[..c.len()].copy_from_slice(c);
        let v = f64::from_le_bytes(buf);
        if mode & 1 == 0 {
            // Mostly moderate values: a byte-sized integer times a power of 2
            // from a second byte, so the arithmetic paths get exercised too.
            f64::from(buf[0] as i8) * 2f64.powi(i32::from(buf[1] as i8) * 8)
        } else {
            v
        }
    });
    let mut next = || vals.next().unwrap_or(0.0);
    let w = Array2::from_shape_fn((out, n_in), |_| next());
    let a = Array1::from_shape_fn(n_in, |_| next());
    let da = Array1::from_shape_fn(n_in, |_| next());

    let single = minimal_dw(w.view(), a.view(), da.view());
    let batch = minimal_dw_batch(
        w.view(),
        a.view().insert_axis(ndarray::Axis(0)),
        da.view().insert_axis(ndarray::Axis(0)),
    );
    match (&single, &batch) {
        (Ok(_), Ok(b)) => assert_eq!(b.len(), 1, "one sample in, one out"),
        (Err(_), Err(_)) => {}
        // W da is a matrix-vector product in one and a matrix-matrix product
        // in the other: at the overflow edge one may round to infinity.
        (Err(e), Ok(_)) | (Ok(_), Err(e)) => assert!(
            matches!(e, Error::NonFinite { input, .. } if input.contains("overflow")),
            "single and batch disagree beyond overflow: {single:?} vs {batch:?}"
        ),
    }
    let Ok(dw) = single else {
        return;
    };
    let norm_a = stable_norm(a.view());
    if let Ok(b) = &batch {
        // Same quantity, other summation order: rounding of W da only,
        // |err_i| <= 2 n_in eps sum_j |W_ij da_j| / |a| (4 allowed), plus one
        // subnormal unit per product W_ij da_j that lands in gradual
        // underflow (no relative bound covers those; regression-batch-
        // subnormal-row: row 2 of W subnormal, results differ by 21 eps).
        for (i, (x, y)) in b[0].left.iter().zip(&dw.left).enumerate() {
            let abs_row: f64 = w.row(i).iter().zip(&da).map(|(p, q)| (p * q).abs()).sum();
            let sub_units = 4.0 * n_in as f64 * f64::from_bits(1) / norm_a;
            let tol = 4.0 * n_in as f64 * f64::EPSILON * abs_row / norm_a + sub_units + 1e-300;
            assert!(
                (x - y).abs() <= tol,
                "row {i}: batch {x:e} vs single {y:e} (tol {tol:e})"
            );
        }
        assert_eq!(b[0].right, dw.right);
    }
    assert!(dw.left.iter().chain(&dw.right).all(|v| v.is_finite()));
    assert_eq!(dw.left.len(), out);
    assert_eq!(dw.right.len(), n_in);
    let eps = f64::EPSILON * (4 * (out + n_in)) as f64;
    let rnorm = stable_norm(dw.right.view());
    assert!((rnorm - 1.0).abs() <= eps, "|a/|a|| = {rnorm}");

    // Norm identity |dW|_F = |W da| / |a|, both sides in scaled form.
    let fro = dw.frobenius_norm();
    let left_norm = stable_norm(dw.left.view());
    // |dW|_F can exceed f64::MAX although every entry of both factors is
    // finite (entries near 1e308 in W da): then it is +inf, never NaN.
    if fro.is_finite() {
        assert!((fro - left_norm * rnorm).abs() <= eps * fro + f64::MIN_POSITIVE);
    } else {
        assert_eq!(fro, f64::INFINITY, "|dW|_F = {fro}");
    }
    let wda = w.dot(&da);
    let mw = w.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let mda = da.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    // Only out of gradual underflow: with max|W| max|da| subnormal the
    // products W_ij da_j have lost relative precision before any division.
    // A single product W_ij da_j may still be subnormal: one subnormal unit
    // per term of W da is absolute error no relative bound covers.
    let sub = 4.0 * (out * n_in) as f64 * f64::from_bits(1);
    if wda.iter().all(|v| v.is_finite()) && (mw * mda).is_normal() {
        let expect = stable_norm(wda.view()) / norm_a;
        if expect.is_normal() && fro.is_normal() {
            assert!(
                (fro - expect).abs() <= 8.0 * eps * expect + sub / norm_a,
                "|dW|_F = {fro:e} vs |W da|/|a| = {expect:e}"
            );
        }
    }

    // Constraint dW a = W da, divided by s = max|W| max|da| so nothing
    // overflows: dW a / s = left |a| (right . a/|a|) / s against
    // (W / max|W|)(da / max|da|). Only where dW is representable: when
    // |W da| / |a| is subnormal, left has lost its precision to underflow.
    if mw == 0.0 || mda == 0.0 {
        assert!(
            dw.left.iter().all(|&v| v == 0.0),
            "W da = 0 must give dW = 0"
        );
        return;
    }
    if !wda.iter().all(|v| v.is_finite()) {
        return;
    }
    // Both sides must be out of gradual underflow: the products W_ij da_j
    // (scale max|W| max|da| normal) and dW's entries (|W da| / |a| normal,
    // or W da exactly zero).
    let expect = stable_norm(wda.view()) / norm_a;
    if !((mw * mda).is_normal() && (expect.is_normal() || wda.iter().all(|&v| v == 0.0))) {
        return;
    }
    let ws = w.mapv(|v| v / mw);
    let das = da.mapv(|v| v / mda);
    let rhs = ws.dot(&das);
    let ra = dw.right.dot(&a.mapv(|v| v / norm_a));
    // lhs_i = left_i ra |a| / s with s = max|W| max|da| (normal, checked
    // above), combining the binary exponents of |a| and s exactly: any order
    // of plain divisions can pass through gradual underflow while the result
    // is of order 1 (dividing by max|W| first did on regression-scaled-
    // underflow, by max|da| first on regression-constraint-subnormal-w, where
    // max|W| = 4.7e-314 is itself subnormal and (W da)_0 / max|da| was too).
    let s = mw * mda;
    if !norm_a.is_normal() {
        // |a| beyond f64::MAX (stable_norm overflows): not checkable here;
        // tests/awd.rs covers it with exact expectations.
        return;
    }
    let lhs = dw.left.mapv(|v| mul_div_normal(v * ra, norm_a, s));
    if lhs.iter().all(|v| v.is_finite()) {
        let res = stable_norm((&lhs - &rhs).view());
        let scale = stable_frobenius(ws.view()) * stable_norm(das.view());
        assert!(
            res <= 64.0 * eps * scale + sub / mda / mw,
            "constraint residual {res:e} vs scale {scale:e}"
        );
    }
});

/// `x y / s` for normal `y, s > 0`, without an intermediate under- or
/// overflow that the result does not have: `y / s` is split into a mantissa
/// ratio in (1/2, 2) and a power of two applied in exact steps.
fn mul_div_normal(x: f64, y: f64, s: f64) -> f64 {
    let split = |v: f64| {
        let bits = v.to_bits();
        let e = ((bits >> 52) & 0x7ff) as i32 - 1023;
        let m = f64::from_bits((bits & 0x800f_ffff_ffff_ffff) | (1023u64 << 52));
        (m, e)
    };
    let ((my, ey), (ms, es)) = (split(y), split(s));
    let mut r = x * (my / ms);
    let mut k = ey - es;
    while k != 0 {
        let step = k.clamp(-1000, 1000);
        r *= f64::from_bits(((step + 1023) as u64) << 52);
        k -= step;
    }
    r
}
