//! `.npy` reader: any bytes either parse into an array
//! with `prod(shape)` elements whose data length was exactly declared, and a
//! parsed matrix or vector re-serialised as `<f8` parses back bit for bit; or
//! they give an error naming the input. Nothing allocates more than the input
//! justifies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use superlinear::data::npy;

fuzz_target!(|data: &[u8]| {
    let label = "fuzz-npy";
    match npy::parse_array(data, label) {
        Ok(arr) => {
            let h = npy::parse_header(data, label, u64::MAX).expect("header parsed once");
            assert_eq!(arr.shape(), h.shape.as_slice());
            assert_eq!(arr.len(), h.shape.iter().product::<usize>());
            assert_eq!(h.data_offset + h.data_len, data.len());
            if let Ok(m) = npy::parse_matrix(data, label) {
                let again =
                    npy::parse_matrix(&npy::matrix_to_bytes(&m), "again").expect("round trip");
                assert_eq!(again.dim(), m.dim());
                assert!(again
                    .iter()
                    .zip(m.iter())
                    .all(|(a, b)| a.to_bits() == b.to_bits()));
                let _ = npy::require_symmetric(m.view(), label, 0.0);
            }
            if let Ok(v) = npy::parse_vector(data, label) {
                assert_eq!(v.len(), arr.len());
                let again =
                    npy::parse_vector(&npy::vector_to_bytes(&v), "again").expect("round trip");
                assert!(again
                    .iter()
                    .zip(v.iter())
                    .all(|(a, b)| a.to_bits() == b.to_bits()));
            }
        }
        Err(e) => assert!(
            e.to_string().contains(label),
            "error does not name the input: {e}"
        ),
    }
});
