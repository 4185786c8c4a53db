//! IDX reader: any bytes, plain or gzip, either parse
//! into an array whose data length is the product of its declared dimensions
//! and that serialises back to exactly the input, or give an error naming the
//! input. A gzip bomb stops at the cap.
#![no_main]

use libfuzzer_sys::fuzz_target;
use superlinear::data::idx::{parse_idx_capped, IdxKind};
use superlinear::data::{io, DataError};

const CAP: u64 = 1 << 20;

fn check(bytes: &[u8]) {
    match parse_idx_capped(bytes, "fuzz-idx", CAP) {
        Ok(arr) => {
            let product: usize = arr.dims.iter().product();
            assert_eq!(arr.data.len(), product, "data length != prod(dims)");
            let ndims = match arr.kind {
                IdxKind::Labels => 1,
                IdxKind::Images => 3,
            };
            assert_eq!(arr.dims.len(), ndims);
            let again = arr.to_bytes().expect("a parsed array serialises");
            assert_eq!(again, bytes, "round trip changed the bytes");
        }
        Err(e) => {
            if let DataError::TooLarge { declared, cap, .. } = &e {
                assert!(declared > cap);
            }
            assert!(
                e.to_string().contains("fuzz-idx"),
                "error does not name the input: {e}"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if io::is_gzip(data) {
        match io::gunzip_capped(data, "fuzz-idx.gz", CAP) {
            Ok(plain) => {
                assert!(plain.len() as u64 <= CAP);
                check(&plain);
            }
            Err(e) => assert!(e.to_string().contains("fuzz-idx.gz")),
        }
    }
});
