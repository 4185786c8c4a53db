//! The CIFAR-10 binary format (Krizhevsky 2009): a headerless sequence of
//! 3073-byte records, each one label byte (0-9) followed by 1024 red, 1024
//! green and 1024 blue bytes of a row-major 32 x 32 image. A record's pixels
//! are already in the channel-major `C x H x W` order used by
//! [`super::Dataset`].
//!
//! Checks: the length must be a positive multiple of 3073
//! (else [`DataError::Truncated`], naming the next record boundary) and every
//! label must be below 10 ([`DataError::BadLabel`]). The format has no header,
//! so a prefix that ends on a record boundary is itself a valid, shorter file;
//! every other strict prefix is a truncation error.

use super::DataError;

/// Image side length.
pub const SIDE: usize = 32;
/// Colour channels.
pub const CHANNELS: usize = 3;
/// Pixel bytes per record: 3 * 32 * 32.
pub const PIXELS: usize = CHANNELS * SIDE * SIDE;
/// Bytes per record: one label byte and the pixels.
pub const RECORD: usize = 1 + PIXELS;
/// Number of classes.
pub const CLASSES: u8 = 10;

/// Splits CIFAR-10 binary bytes into labels (one per record) and pixels
/// (`PIXELS` per record, concatenated in file order).
pub fn parse_cifar_records(bytes: &[u8], path: &str) -> Result<(Vec<u8>, Vec<u8>), DataError> {
    let len = bytes.len();
    if len == 0 || len % RECORD != 0 {
        let expected = len.div_ceil(RECORD).max(1) * RECORD;
        return Err(DataError::Truncated {
            path: path.into(),
            expected: expected as u64,
            got: len as u64,
        });
    }
    let n = len / RECORD;
    let mut labels = Vec::with_capacity(n);
    let mut pixels = Vec::with_capacity(n * PIXELS);
    for (index, record) in bytes.chunks_exact(RECORD).enumerate() {
        let label = record[0];
        if label >= CLASSES {
            return Err(DataError::BadLabel {
                path: path.into(),
                index,
                label,
            });
        }
        labels.push(label);
        pixels.extend_from_slice(&record[1..]);
    }
    Ok((labels, pixels))
}

/// Serialises labels and pixels back to CIFAR-10 binary records (the inverse of
/// [`parse_cifar_records`]).
pub fn to_records(labels: &[u8], pixels: &[u8]) -> Result<Vec<u8>, DataError> {
    if pixels.len() != labels.len().saturating_mul(PIXELS) {
        return Err(DataError::Inconsistent {
            what: "cifar::to_records".into(),
            reason: format!(
                "{} labels need {} pixel bytes, got {}",
                labels.len(),
                labels.len().saturating_mul(PIXELS),
                pixels.len()
            ),
        });
    }
    let mut out = Vec::with_capacity(labels.len() * RECORD);
    for (label, px) in labels.iter().zip(pixels.chunks_exact(PIXELS)) {
        out.push(*label);
        out.extend_from_slice(px);
    }
    Ok(out)
}
