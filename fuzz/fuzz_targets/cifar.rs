//! CIFAR-10 reader: any bytes either parse into
//! `len / 3073` records with labels below 10 that serialise back to exactly
//! the input, or give a truncation / bad-label error naming the input. A
//! successful parse also feeds the dataset operations (class subsets,
//! balanced sampling, normalisation), which must keep their contracts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use superlinear::data::cifar::{parse_cifar_records, to_records, PIXELS, RECORD};
use superlinear::data::{DataError, Dataset};

fuzz_target!(|data: &[u8]| {
    match parse_cifar_records(data, "fuzz-cifar") {
        Ok((labels, pixels)) => {
            assert_eq!(data.len() % RECORD, 0);
            assert_eq!(labels.len(), data.len() / RECORD);
            assert_eq!(pixels.len(), labels.len() * PIXELS);
            assert!(labels.iter().all(|&l| l < 10));
            assert_eq!(to_records(&labels, &pixels).expect("serialises"), data);
            let ds = Dataset::from_bytes(pixels, labels, 3, 32, 32, "fuzz").expect("valid sizes");
            assert!(ds.images.iter().all(|&x| (0.0..=1.0).contains(&x)));
            let k = usize::from(data[1] % 11);
            if let Ok(sub) = ds.first_classes(k) {
                assert!(sub.labels.iter().all(|&l| usize::from(l) < k));
            }
            if let Ok(b) = ds.take_balanced_prefix(1) {
                let present = ds.class_counts().iter().filter(|&&c| c > 0).count();
                assert_eq!(b.len(), present);
            }
            if let Ok(b) = ds.balanced(1, u64::from(data[2])) {
                assert!(b.class_counts().iter().all(|&c| c <= 1));
            }
            let (mean, std) = ds.channel_stats();
            match ds.normalized(&mean, &std) {
                Ok(n) => assert!(n.images.iter().all(|x| x.is_finite())),
                Err(e) => assert!(std.iter().any(|&s| s <= 0.0), "unexpected: {e}"),
            }
        }
        Err(DataError::Truncated { expected, got, .. }) => {
            assert_eq!(got as usize, data.len());
            assert!(data.is_empty() || !data.len().is_multiple_of(RECORD));
            assert_eq!(expected % RECORD as u64, 0);
        }
        Err(DataError::BadLabel { index, label, .. }) => {
            assert_eq!(data[index * RECORD], label);
            assert!(label >= 10);
        }
        Err(e) => panic!("unexpected error kind: {e}"),
    }
});
