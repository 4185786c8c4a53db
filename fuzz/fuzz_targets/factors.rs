//! Factor-file reader (`superlinear.factors` safetensors): any bytes either
//! parse into a file whose shapes agree (N >= 1, K >= 2, out, in >= 1), whose
//! floats are all finite and labels in 0..K, and which writes and reads back
//! to the same value; or they give a one-line error naming the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use superlinear::data::factors::{self, FactorPrecision};

fuzz_target!(|data: &[u8]| {
    let label = "fuzz-factors";
    match factors::parse_factors(data, label) {
        Ok(f) => {
            assert!(f.n >= 1 && f.classes >= 2 && f.out >= 1 && f.inn >= 1);
            assert_eq!(f.acts.len(), f.n * f.inn);
            assert_eq!(f.jacobians.len(), f.n * f.classes * f.out);
            assert_eq!(f.logits.len(), f.n * f.classes);
            assert_eq!(f.labels.len(), f.n);
            assert_eq!(f.weight.len(), f.out * f.inn);
            assert!(f.labels.iter().all(|&l| l < f.classes));
            assert!(f
                .acts
                .iter()
                .chain(&f.jacobians)
                .chain(&f.logits)
                .chain(&f.weight)
                .all(|x| x.is_finite()));
            let bytes = f.to_bytes().expect("a file that was read can be written");
            let mut again = factors::parse_factors(&bytes, "again").expect("round trip");
            assert_eq!(again.precision, FactorPrecision::F64);
            again.precision = f.precision;
            assert_eq!(again, f);
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(
                msg.starts_with(label),
                "error does not name the input: {msg}"
            );
            assert!(!msg.contains('\n'), "error is not one line: {msg}");
        }
    }
});
