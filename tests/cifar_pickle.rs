//! The CIFAR-10 python batches (torchvision's `cifar-10-batches-py/`): the
//! committed fixtures (`scripts/make_cifar_pickle_fixtures.py`, written by
//! Python 3's pickle at protocol 2 and in Python 2's cPickle opcodes) read
//! back to the pixels and labels they were made from, the loader finds the
//! layout by itself, and every damaged or foreign pickle is refused with a
//! `BadPickle` (or label) error naming the file, never a panic.

use std::path::{Path, PathBuf};

use superlinear::data::pickle::parse_cifar_pickle;
use superlinear::data::{load_cifar10, CifarSplit, DataError};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

fn fixture(rel: &str) -> PathBuf {
    Path::new(FIXTURES).join(rel)
}

/// The generator's rule: byte j of image i is (7 i + 13 j) mod 256, labels i mod 10.
fn expected(first: usize, n: usize) -> (Vec<u8>, Vec<u8>) {
    let labels = (first..first + n).map(|i| (i % 10) as u8).collect();
    let pixels = (first..first + n)
        .flat_map(|i| (0..3072).map(move |j| ((7 * i + 13 * j) % 256) as u8))
        .collect();
    (labels, pixels)
}

fn parse(rel: &str) -> Result<(Vec<u8>, Vec<u8>), DataError> {
    let bytes = std::fs::read(fixture(rel)).unwrap();
    parse_cifar_pickle(&bytes, rel)
}

#[test]
fn python3_and_python2_batches_read_to_their_pixels() {
    assert_eq!(
        parse("cifar-10-batches-py/data_batch_1").unwrap(),
        expected(0, 4)
    );
    assert_eq!(
        parse("cifar-10-batches-py/data_batch_2").unwrap(),
        expected(4, 4)
    );
    assert_eq!(
        parse("cifar-10-batches-py/test_batch").unwrap(),
        expected(100, 4)
    );
    assert_eq!(
        parse("cifar-10-batches-py2/data_batch_1").unwrap(),
        expected(0, 4)
    );
}

#[test]
fn the_loader_finds_the_python_layout() {
    let train = load_cifar10(Path::new(FIXTURES), CifarSplit::Train).unwrap();
    let (mut labels, mut pixels) = expected(0, 4);
    let (l2, p2) = expected(4, 4);
    labels.extend(l2);
    pixels.extend(p2);
    assert_eq!(train.labels, labels);
    assert_eq!((train.channels, train.height, train.width), (3, 32, 32));
    let first: Vec<f32> = pixels[..3072]
        .iter()
        .map(|&b| f32::from(b) / 255.0)
        .collect();
    assert_eq!(train.images.row(0).to_vec(), first);
    let test = load_cifar10(&fixture("cifar-10-batches-py"), CifarSplit::Test).unwrap();
    assert_eq!(test.labels, expected(100, 4).0);
}

#[test]
fn batches_meta_is_not_a_batch() {
    let e = parse("cifar-10-batches-py/batches.meta").unwrap_err();
    assert!(e.to_string().contains("no 'data' key"), "{e}");
}

fn refused(bytes: &[u8], needle: &str) {
    let e = parse_cifar_pickle(bytes, "batch.pkl").unwrap_err();
    let text = e.to_string();
    assert!(text.starts_with("batch.pkl"), "{text}");
    assert!(text.contains(needle), "{needle:?} not in {text}");
}

#[test]
fn foreign_and_damaged_pickles_are_refused() {
    let good = std::fs::read(fixture("cifar-10-batches-py2/data_batch_1")).unwrap();
    refused(b"", "no PROTO 2");
    refused(b"\x80\x04\x95", "protocol 4");
    refused(b"\x80\x02K\x01.", "not a dict");
    refused(b"\x80\x02}q\x00.extra", "5 bytes after STOP");
    refused(b"\x80\x02cos\nsystem\n.", "global os.system");
    refused(b"\x80\x02}K\x01a.", "APPEND to a dict");
    refused(b"\x80\x02]q\x00h\x00.", "refers to a list");
    refused(b"\x80\x02h\x05.", "never stored");
    refused(b"\x80\x02T\xff\xff\xff\x7f", "runs past the end");
    refused(b"\x80\x02T\xff\xff\xff\xff", "negative length");
    refused(b"\x80\x02.", "0 values");
    refused(b"\x80\x02d.", "opcode 0x64");
    let deep: Vec<u8> = [b"\x80\x02K\x00".as_slice(), &[0x85; 40], b"."].concat();
    refused(&deep, "nesting deeper");
    // Every strict prefix of a real batch is refused, none panics.
    for cut in 0..good.len() {
        assert!(
            parse_cifar_pickle(&good[..cut], "batch.pkl").is_err(),
            "prefix {cut}"
        );
    }
    // A label out of range is named as such.
    let bad_label = good.windows(3).position(|w| w == b"K\x03e").unwrap();
    let mut b = good.clone();
    b[bad_label + 1] = 12;
    let e = parse_cifar_pickle(&b, "batch.pkl").unwrap_err();
    assert!(matches!(e, DataError::BadLabel { label: 12, .. }), "{e}");
}

#[test]
fn every_single_byte_change_is_read_or_refused_without_panic() {
    let good = std::fs::read(fixture("cifar-10-batches-py/data_batch_1")).unwrap();
    // The opcode region (before the array's bytes) and the tail.
    let positions = (0..400).chain(good.len() - 300..good.len());
    for at in positions {
        for v in [0u8, 0x2e, 0x7f, 0xff] {
            let mut b = good.clone();
            b[at] = v;
            let _ = parse_cifar_pickle(&b, "batch.pkl");
        }
    }
}
