//! NumPy `.npy` input (format 1.0, 2.0, 3.0): a magic `\x93NUMPY`, a version,
//! a little-endian header length, a Python-literal header dictionary
//! `{'descr': ..., 'fortran_order': ..., 'shape': (...)}`, then the raw data.
//! Users hand the tool matrices (H, C, per-sample Hessians) and vectors
//! (spectra) this way; the claims that read them (C1-C4, C8, C9 on supplied
//! inputs) check their semantics themselves with the helpers at the bottom.
//!
//! The header dictionary and the element decoding are `ndarray-npy`'s; before
//! handing it anything this module checks, without allocating, what that crate
//! would otherwise trust: the magic and version, a header length within
//! [`MAX_HEADER_LEN`] and within the input, a bracket nesting depth of at most
//! [`MAX_NESTING`], the dtype, the checked product of the shape times the item
//! size against the cap, and that the data length equals it exactly
//! ([`DataError::Truncated`], [`DataError::TrailingBytes`]).
//!
//! Accepted dtypes: `f8` and `f4`, and integers `i1`-`i8`, `u1`-`u8` (converted
//! to `f64`; 64-bit integers above 2^53 round), either byte order, C or Fortran
//! order. Arrays are returned in standard (row-major) layout.

use super::io::{read_capped, DEFAULT_CAP};
use super::DataError;
use ndarray::{Array2, ArrayD, ArrayView2, Ix2};
use ndarray_npy::{ReadNpyExt, ReadableElement, WriteNpyExt};
use std::path::Path;

/// The six magic bytes of a `.npy` file.
pub const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// Longest header dictionary accepted (NumPy's own reader refuses more than
/// 10,000 bytes by default for the same reason).
pub const MAX_HEADER_LEN: usize = 10_000;
/// Deepest bracket nesting accepted in the header (a valid header needs 2:
/// the dictionary and the shape tuple).
pub const MAX_NESTING: usize = 4;

/// The element types accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elem {
    F8,
    F4,
    I1,
    I2,
    I4,
    I8,
    U1,
    U2,
    U4,
    U8,
}

impl Elem {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Elem::I1 | Elem::U1 => 1,
            Elem::I2 | Elem::U2 => 2,
            Elem::F4 | Elem::I4 | Elem::U4 => 4,
            Elem::F8 | Elem::I8 | Elem::U8 => 8,
        }
    }

    /// The unit roundoff of values stored in this dtype: `f32::EPSILON` for
    /// `f4` (a float32 file carries about 7 digits), `f64::EPSILON` for `f8`
    /// and the integers (read exactly, or rounded once to f64).
    pub fn epsilon(self) -> f64 {
        match self {
            Elem::F4 => f64::from(f32::EPSILON),
            _ => f64::EPSILON,
        }
    }

    /// The NumPy name of the dtype (`float32`, `int64`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Elem::F8 => "float64",
            Elem::F4 => "float32",
            Elem::I1 => "int8",
            Elem::I2 => "int16",
            Elem::I4 => "int32",
            Elem::I8 => "int64",
            Elem::U1 => "uint8",
            Elem::U2 => "uint16",
            Elem::U4 => "uint32",
            Elem::U8 => "uint64",
        }
    }

    fn from_descr(descr: &str) -> Option<Elem> {
        let body = descr.strip_prefix(['<', '>', '|', '=']).unwrap_or(descr);
        Some(match body {
            "f8" => Elem::F8,
            "f4" => Elem::F4,
            "i1" => Elem::I1,
            "i2" => Elem::I2,
            "i4" => Elem::I4,
            "i8" => Elem::I8,
            "u1" => Elem::U1,
            "u2" => Elem::U2,
            "u4" => Elem::U4,
            "u8" => Elem::U8,
            _ => return None,
        })
    }
}

const ACCEPTED: &str = "f8, f4, i1-i8, u1-u8 (either byte order)";

/// A checked `.npy` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpyHeader {
    /// The dtype string, e.g. `<f8`.
    pub descr: String,
    pub elem: Elem,
    pub fortran_order: bool,
    pub shape: Vec<usize>,
    /// Offset of the first data byte.
    pub data_offset: usize,
    /// `prod(shape) * elem.size()`, checked.
    pub data_len: usize,
}

fn truncated(path: &str, expected: usize, got: usize) -> DataError {
    DataError::Truncated {
        path: path.into(),
        expected: expected as u64,
        got: got as u64,
    }
}

/// Parses and checks the header of `.npy` bytes, including that the data that
/// follows has exactly the declared length (at most `cap` bytes).
pub fn parse_header(bytes: &[u8], path: &str, cap: u64) -> Result<NpyHeader, DataError> {
    let head = &bytes[..bytes.len().min(MAGIC.len())];
    if head != &MAGIC[..head.len()] {
        return Err(DataError::BadMagic {
            path: path.into(),
            found: format!("{head:?}"),
            expected: "\\x93NUMPY (a .npy file)".into(),
        });
    }
    if bytes.len() < 8 {
        return Err(truncated(path, 8, bytes.len()));
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let (len_bytes, data_start) = match major {
        1 => (2, 10),
        2 | 3 => (4, 12),
        _ => {
            return Err(DataError::BadHeader {
                path: path.into(),
                reason: format!("unsupported format version {major}.{minor}"),
            })
        }
    };
    if bytes.len() < data_start {
        return Err(truncated(path, data_start, bytes.len()));
    }
    let header_len = bytes[8..8 + len_bytes]
        .iter()
        .rev()
        .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
    if header_len > MAX_HEADER_LEN {
        return Err(DataError::BadHeader {
            path: path.into(),
            reason: format!("header length {header_len} exceeds {MAX_HEADER_LEN} bytes"),
        });
    }
    let data_offset = data_start + header_len;
    if bytes.len() < data_offset {
        return Err(truncated(path, data_offset, bytes.len()));
    }
    let dict = &bytes[data_start..data_offset];
    let mut depth = 0usize;
    for &b in dict {
        match b {
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(DataError::BadHeader {
                        path: path.into(),
                        reason: format!("brackets nested deeper than {MAX_NESTING}"),
                    });
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    let header = ndarray_npy::npy::header::Header::from_reader(&mut &bytes[..data_offset])
        .map_err(|e| DataError::BadHeader {
            path: path.into(),
            reason: e.to_string(),
        })?;
    let descr = match header.type_descriptor.as_string() {
        Some(s) => s.clone(),
        None => {
            return Err(DataError::BadType {
                path: path.into(),
                found: format!("structured dtype {}", header.type_descriptor),
                expected: ACCEPTED.into(),
            })
        }
    };
    let elem = Elem::from_descr(&descr).ok_or_else(|| DataError::BadType {
        path: path.into(),
        found: format!("dtype {descr:?}"),
        expected: ACCEPTED.into(),
    })?;
    let overflow = || DataError::SizeOverflow {
        path: path.into(),
        dims: header.shape.iter().map(|&d| d as u64).collect(),
    };
    let data_len = header
        .shape
        .iter()
        .try_fold(elem.size(), |acc, &d| acc.checked_mul(d))
        .ok_or_else(overflow)?;
    // ndarray also requires the product of the non-zero axis lengths to fit in
    // `isize` (a shape like (0, 2^62, 2^62) has zero elements but no layout).
    let nonzero = header
        .shape
        .iter()
        .filter(|&&d| d != 0)
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&p| p <= isize::MAX as usize);
    if nonzero.is_none() {
        return Err(overflow());
    }
    if data_len as u64 > cap {
        return Err(DataError::TooLarge {
            path: path.into(),
            declared: data_len as u64,
            cap,
        });
    }
    let got = bytes.len() - data_offset;
    if got < data_len {
        return Err(truncated(path, data_offset + data_len, bytes.len()));
    }
    if got > data_len {
        return Err(DataError::TrailingBytes {
            path: path.into(),
            declared: (data_offset + data_len) as u64,
            extra: (got - data_len) as u64,
        });
    }
    Ok(NpyHeader {
        descr,
        elem,
        fortran_order: header.layout.is_fortran(),
        shape: header.shape,
        data_offset,
        data_len,
    })
}

fn decode<T: ReadableElement + Copy>(
    bytes: &[u8],
    path: &str,
    descr: &str,
    to_f64: impl Fn(T) -> f64,
) -> Result<ArrayD<f64>, DataError> {
    let arr = ArrayD::<T>::read_npy(bytes).map_err(|e| match e {
        ndarray_npy::ReadNpyError::WrongDescriptor(_) => DataError::BadType {
            path: path.into(),
            found: format!("dtype {descr:?}"),
            expected: ACCEPTED.into(),
        },
        other => DataError::BadHeader {
            path: path.into(),
            reason: other.to_string(),
        },
    })?;
    Ok(arr.mapv(to_f64).as_standard_layout().into_owned())
}

/// Parses `.npy` bytes of any number of dimensions into `f64`.
pub fn parse_array(bytes: &[u8], path: &str) -> Result<ArrayD<f64>, DataError> {
    let h = parse_header(bytes, path, DEFAULT_CAP)?;
    let d = h.descr.as_str();
    match h.elem {
        Elem::F8 => decode::<f64>(bytes, path, d, |x| x),
        Elem::F4 => decode::<f32>(bytes, path, d, f64::from),
        Elem::I1 => decode::<i8>(bytes, path, d, f64::from),
        Elem::I2 => decode::<i16>(bytes, path, d, f64::from),
        Elem::I4 => decode::<i32>(bytes, path, d, f64::from),
        Elem::I8 => decode::<i64>(bytes, path, d, |x| x as f64),
        Elem::U1 => decode::<u8>(bytes, path, d, f64::from),
        Elem::U2 => decode::<u16>(bytes, path, d, f64::from),
        Elem::U4 => decode::<u32>(bytes, path, d, f64::from),
        Elem::U8 => decode::<u64>(bytes, path, d, |x| x as f64),
    }
}

/// Parses a two-dimensional `.npy` array.
pub fn parse_matrix(bytes: &[u8], path: &str) -> Result<Array2<f64>, DataError> {
    let arr = parse_array(bytes, path)?;
    let shape = arr.shape().to_vec();
    arr.into_dimensionality::<Ix2>()
        .map_err(|_| DataError::BadShape {
            path: path.into(),
            expected: "a 2-dimensional array (matrix)".into(),
            got: format!("shape {shape:?}"),
        })
}

/// Parses a vector: a one-dimensional array, or a 2-d array with one dimension 1.
pub fn parse_vector(bytes: &[u8], path: &str) -> Result<Vec<f64>, DataError> {
    let arr = parse_array(bytes, path)?;
    let shape = arr.shape().to_vec();
    let is_vector = match shape.as_slice() {
        [_] => true,
        [r, c] => *r == 1 || *c == 1,
        _ => false,
    };
    if !is_vector {
        return Err(DataError::BadShape {
            path: path.into(),
            expected: "a vector: shape (n,), (n, 1) or (1, n)".into(),
            got: format!("shape {shape:?}"),
        });
    }
    Ok(arr.iter().copied().collect())
}

/// Reads a two-dimensional `.npy` file (optionally gzip-compressed).
pub fn read_matrix(path: &Path) -> Result<Array2<f64>, DataError> {
    let bytes = read_capped(path, ".npy matrix", DEFAULT_CAP)?;
    parse_matrix(&bytes, &path.display().to_string())
}

/// Reads a two-dimensional `.npy` file with its dtype (the precision its
/// values carry, [`Elem::epsilon`]).
pub fn read_matrix_typed(path: &Path) -> Result<(Array2<f64>, Elem), DataError> {
    let bytes = read_capped(path, ".npy matrix", DEFAULT_CAP)?;
    let shown = path.display().to_string();
    let elem = parse_header(&bytes, &shown, DEFAULT_CAP)?.elem;
    Ok((parse_matrix(&bytes, &shown)?, elem))
}

/// Reads a vector `.npy` file (optionally gzip-compressed).
pub fn read_vector(path: &Path) -> Result<Vec<f64>, DataError> {
    let bytes = read_capped(path, ".npy vector", DEFAULT_CAP)?;
    parse_vector(&bytes, &path.display().to_string())
}

/// Serialises a matrix as `.npy` bytes (`<f8`, C order).
pub fn matrix_to_bytes(m: &Array2<f64>) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing a standard-layout f64 array into a Vec cannot fail.
    if m.as_standard_layout().write_npy(&mut out).is_err() {
        out.clear();
    }
    out
}

/// Serialises a vector as a one-dimensional `.npy` (`<f8`).
pub fn vector_to_bytes(v: &[f64]) -> Vec<u8> {
    let mut out = Vec::new();
    if ndarray::ArrayView1::from(v).write_npy(&mut out).is_err() {
        out.clear();
    }
    out
}

/// Writes a matrix to a `.npy` file.
pub fn write_matrix(path: &Path, m: &Array2<f64>) -> Result<(), DataError> {
    super::atomic::write(path, matrix_to_bytes(m)).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Errors unless `m` is square.
pub fn require_square(m: ArrayView2<f64>, path: &str) -> Result<(), DataError> {
    let (rows, cols) = m.dim();
    if rows != cols {
        return Err(DataError::NotSquare {
            path: path.into(),
            rows,
            cols,
        });
    }
    Ok(())
}

/// Errors at the first NaN or infinity, naming its position.
pub fn require_finite(m: ArrayView2<f64>, path: &str) -> Result<(), DataError> {
    match m.indexed_iter().find(|(_, v)| !v.is_finite()) {
        Some(((i, j), &value)) => Err(DataError::NonFinite {
            path: path.into(),
            location: format!("({i}, {j})"),
            value,
        }),
        None => Ok(()),
    }
}

/// Errors unless `m` is square, finite and symmetric: `max |m_ij - m_ji| <= tol`.
pub fn require_symmetric(m: ArrayView2<f64>, path: &str, tol: f64) -> Result<(), DataError> {
    require_square(m, path)?;
    require_finite(m, path)?;
    let max_asym = m
        .indexed_iter()
        .map(|((i, j), &v)| (v - m[[j, i]]).abs())
        .fold(0.0f64, f64::max);
    if max_asym > tol {
        return Err(DataError::NotSymmetric {
            path: path.into(),
            max_asym,
            tol,
        });
    }
    Ok(())
}
