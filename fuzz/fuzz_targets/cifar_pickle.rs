//! CIFAR-10 python-batch reader: any bytes either give one label below 10
//! per image and 3072 pixel bytes per image, or a `BadPickle`, `BadLabel` or
//! `Inconsistent` error naming the input; never a panic, never an
//! allocation beyond a small multiple of the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use superlinear::data::cifar::PIXELS;
use superlinear::data::pickle::parse_cifar_pickle;
use superlinear::data::DataError;

fuzz_target!(|data: &[u8]| {
    match parse_cifar_pickle(data, "fuzz-pickle") {
        Ok((labels, pixels)) => {
            assert!(!labels.is_empty());
            assert!(labels.iter().all(|&l| l < 10));
            assert_eq!(pixels.len(), labels.len() * PIXELS);
            assert!(pixels.len() <= 2 * data.len());
        }
        Err(DataError::BadPickle { path, offset, .. }) => {
            assert_eq!(path, "fuzz-pickle");
            assert!(offset <= data.len());
        }
        Err(DataError::BadLabel { label, .. }) => assert!(label >= 10),
        Err(DataError::Inconsistent { what, .. }) => assert_eq!(what, "fuzz-pickle"),
        Err(e) => panic!("unexpected error kind: {e}"),
    }
});
