//! The typed error of the `data` module. Every variant names the file (or the
//! in-memory input's label) and what is wrong with it, so the CLI can print one
//! line and exit with code 2.

use std::path::PathBuf;
use thiserror::Error;

/// Everything that can go wrong while locating, reading, decoding or subsetting
/// a data file. Parsers never panic on any byte string; they return one of these.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DataError {
    /// No data root was given and `SUPERLINEAR_DATA` is not set.
    #[error(
        "no data directory: pass --data DIR or set SUPERLINEAR_DATA=DIR \
         (a directory holding mnist-10k/ and cifar10-jpeg/, e.g. the project's ../shared/data, \
         or a torchvision root with MNIST/raw/ and cifar-10-batches-bin/)"
    )]
    NoDataRoot,
    /// A file or directory that must exist does not.
    #[error("{}: not found ({what})", path.display())]
    Missing { path: PathBuf, what: String },
    /// The operating system refused a read.
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A gzip stream that cannot be decompressed (corrupt or cut short).
    #[error("{path}: bad gzip stream: {reason}")]
    BadGzip { path: String, reason: String },
    /// The data ends before what its header (or record size) promises.
    #[error("{path}: truncated: expected {expected} bytes, got {got}")]
    Truncated {
        path: String,
        expected: u64,
        got: u64,
    },
    /// The leading magic bytes are not those of the expected format.
    #[error("{path}: bad magic number: found {found}, expected {expected}")]
    BadMagic {
        path: String,
        found: String,
        expected: String,
    },
    /// An element type this reader does not accept (IDX type byte, npy dtype).
    #[error("{path}: unsupported element type {found} (accepted: {expected})")]
    BadType {
        path: String,
        found: String,
        expected: String,
    },
    /// A dimension count or dimension size that is not allowed here.
    #[error("{path}: bad dimensions: {reason}")]
    BadDims { path: String, reason: String },
    /// The product of the declared dimensions overflows a 64-bit size.
    #[error("{path}: declared dimensions {dims:?} overflow the addressable size")]
    SizeOverflow { path: String, dims: Vec<u64> },
    /// The declared (or decompressed) size exceeds the hard cap.
    #[error("{path}: declared size {declared} bytes exceeds the cap of {cap} bytes")]
    TooLarge {
        path: String,
        declared: u64,
        cap: u64,
    },
    /// A class label outside 0..=9.
    #[error("{path}: label {label} at record {index} is not a class 0-9")]
    BadLabel {
        path: String,
        index: usize,
        label: u8,
    },
    /// More bytes than the header declares.
    #[error("{path}: {extra} trailing bytes after the {declared} declared bytes")]
    TrailingBytes {
        path: String,
        declared: u64,
        extra: u64,
    },
    /// Two files (or parts) that must agree do not, e.g. image and label counts.
    #[error("{what}: inconsistent: {reason}")]
    Inconsistent { what: String, reason: String },
    /// A file or subset with no samples.
    #[error("{what}: empty ({reason})")]
    Empty { what: String, reason: String },
    /// A `.npy` header that is not a valid header dictionary.
    #[error("{path}: corrupt .npy header: {reason}")]
    BadHeader { path: String, reason: String },
    /// An array of the wrong number of dimensions or shape.
    #[error("{path}: bad shape: expected {expected}, got {got}")]
    BadShape {
        path: String,
        expected: String,
        got: String,
    },
    /// A matrix that must be square is not.
    #[error("{path}: not square: {rows} x {cols}")]
    NotSquare {
        path: String,
        rows: usize,
        cols: usize,
    },
    /// A NaN or infinity where a finite number is required.
    #[error("{path}: non-finite value {value} at {location}")]
    NonFinite {
        path: String,
        location: String,
        value: f64,
    },
    /// A matrix that must be symmetric is not (within tolerance).
    #[error("{path}: not symmetric: max |A_ij - A_ji| = {max_asym:e} > tolerance {tol:e}")]
    NotSymmetric {
        path: String,
        max_asym: f64,
        tol: f64,
    },
    /// A token in a text file that is not a number.
    #[error("{path}: line {line}: not a number: {token:?}")]
    BadNumber {
        path: String,
        line: usize,
        token: String,
    },
    /// A subsetting or normalisation request that cannot be met.
    #[error("{what}: {reason}")]
    BadRequest { what: String, reason: String },
    /// A container (safetensors) that its own reader refuses: bad header
    /// length, header JSON, offsets or data coverage.
    #[error("{path}: not a valid safetensors file: {reason}")]
    BadContainer { path: String, reason: String },
    /// A required tensor or metadata key is absent.
    #[error("{path}: missing {field} ({what})")]
    MissingField {
        path: String,
        field: String,
        what: String,
    },
    /// Tensors or metadata keys the format does not define.
    #[error("{path}: unknown {kind} {names:?} (known: {known})")]
    UnknownFields {
        path: String,
        kind: String,
        names: Vec<String>,
        known: String,
    },
    /// A metadata value that is not one the format allows.
    #[error("{path}: metadata {key:?}: {reason}")]
    BadMetadata {
        path: String,
        key: String,
        reason: String,
    },
    /// A Python pickle outside the subset the CIFAR-10 python batches use,
    /// or holding something other than a batch.
    #[error("{path}: not a CIFAR-10 python batch: {reason} (at byte {offset})")]
    BadPickle {
        path: String,
        offset: usize,
        reason: String,
    },
    /// A class label outside `0..classes`.
    #[error("{path}: {field}[{index}] = {label} is outside 0..{classes} (one class per logit)")]
    LabelOutOfRange {
        path: String,
        field: String,
        index: usize,
        label: i128,
        classes: usize,
    },
}
