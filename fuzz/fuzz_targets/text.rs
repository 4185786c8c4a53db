//! Plain-text vector reader: any UTF-8 either parses into numbers, exactly one
//! per token (re-formatting and re-parsing gives the same bits), or gives an
//! error naming the input and the line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use superlinear::data::text::parse_text_vector;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    match parse_text_vector(s, "fuzz-text") {
        Ok(v) => {
            let joined = v
                .iter()
                .map(|x| format!("{x:e}"))
                .collect::<Vec<_>>()
                .join(", ");
            let again = parse_text_vector(&joined, "again").expect("re-parses");
            assert_eq!(again.len(), v.len());
            assert!(again
                .iter()
                .zip(&v)
                .all(|(a, b)| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())));
        }
        Err(e) => assert!(
            e.to_string().contains("fuzz-text"),
            "error does not name the input: {e}"
        ),
    }
});
