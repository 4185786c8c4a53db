//! The IDX format of MNIST (LeCun et al.): a 4-byte big-endian magic
//! `0x00 0x00 TYPE NDIMS`, then `NDIMS` big-endian `u32` dimension sizes, then
//! `prod(dims)` elements. Only unsigned bytes (`TYPE = 0x08`) and the two MNIST
//! shapes are accepted: labels, magic 2049 = `0x00000801` (one dimension N), and
//! images, magic 2051 = `0x00000803` (three dimensions N x H x W).
//!
//! The parser cannot be fooled: it checks the magic, the type
//! byte and the number of dimensions; multiplies the declared dimensions with
//! checked arithmetic ([`DataError::SizeOverflow`]); refuses a declared size
//! above the hard cap ([`DataError::TooLarge`]); and requires the declared size
//! to equal the data length ([`DataError::Truncated`],
//! [`DataError::TrailingBytes`]) before it allocates anything. Every strict
//! prefix of a valid file is a truncation error. Serves the data behind the
//! real-network claims (C6, C9, C13, C15).

use super::io::DEFAULT_CAP;
use super::DataError;

/// Magic number of an IDX label file (unsigned bytes, one dimension).
pub const LABELS_MAGIC: u32 = 0x0000_0801;
/// Magic number of an IDX image file (unsigned bytes, three dimensions).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// The only accepted IDX element type: unsigned byte.
pub const TYPE_UBYTE: u8 = 0x08;

/// Which of the two MNIST IDX kinds a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdxKind {
    /// Magic 2049: `dims = [N]`.
    Labels,
    /// Magic 2051: `dims = [N, H, W]`.
    Images,
}

impl IdxKind {
    /// The magic number of this kind.
    pub fn magic(self) -> u32 {
        match self {
            IdxKind::Labels => LABELS_MAGIC,
            IdxKind::Images => IMAGES_MAGIC,
        }
    }
}

/// A parsed IDX file: its kind, declared dimensions and the `prod(dims)` data bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    pub kind: IdxKind,
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

impl IdxArray {
    /// Number of items (the first dimension).
    pub fn count(&self) -> usize {
        self.dims.first().copied().unwrap_or(0)
    }

    /// Serialises back to IDX bytes (the exact inverse of [`parse_idx`]).
    /// Fails if a dimension does not fit in `u32` or dims and data disagree.
    pub fn to_bytes(&self) -> Result<Vec<u8>, DataError> {
        let label = "IdxArray::to_bytes";
        let expected_ndims = match self.kind {
            IdxKind::Labels => 1,
            IdxKind::Images => 3,
        };
        if self.dims.len() != expected_ndims {
            return Err(DataError::BadDims {
                path: label.into(),
                reason: format!(
                    "{:?} needs {expected_ndims} dimensions, got {:?}",
                    self.kind, self.dims
                ),
            });
        }
        let product = self
            .dims
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d));
        if product != Some(self.data.len()) {
            return Err(DataError::Inconsistent {
                what: label.into(),
                reason: format!(
                    "dims {:?} do not multiply to the {} data bytes",
                    self.dims,
                    self.data.len()
                ),
            });
        }
        let mut out = Vec::with_capacity(4 + 4 * self.dims.len() + self.data.len());
        out.extend_from_slice(&self.kind.magic().to_be_bytes());
        for &d in &self.dims {
            let d = u32::try_from(d).map_err(|_| DataError::BadDims {
                path: label.into(),
                reason: format!("dimension {d} does not fit in u32"),
            })?;
            out.extend_from_slice(&d.to_be_bytes());
        }
        out.extend_from_slice(&self.data);
        Ok(out)
    }
}

/// Parses IDX bytes under the default 1 GiB cap. `path` names the input in errors.
pub fn parse_idx(bytes: &[u8], path: &str) -> Result<IdxArray, DataError> {
    parse_idx_capped(bytes, path, DEFAULT_CAP)
}

/// Parses IDX bytes, refusing a declared data size above `cap` bytes.
pub fn parse_idx_capped(bytes: &[u8], path: &str, cap: u64) -> Result<IdxArray, DataError> {
    // The magic is checked on whatever of it is present, so garbage is reported
    // as a bad magic and a short prefix of a valid file as a truncation.
    let head = &bytes[..bytes.len().min(4)];
    let magic_so_far_ok = head.iter().take(2).all(|&b| b == 0)
        && head.get(2).is_none_or(|&t| t == TYPE_UBYTE)
        && head.get(3).is_none_or(|&n| n == 1 || n == 3);
    if !magic_so_far_ok {
        let found = format!(
            "0x{}",
            head.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        let expected = "0x00000801 (labels) or 0x00000803 (images)".to_string();
        // Distinguish which part of the magic is wrong.
        if head.iter().take(2).any(|&b| b != 0) {
            return Err(DataError::BadMagic {
                path: path.into(),
                found,
                expected,
            });
        }
        if let Some(&t) = head.get(2) {
            if t != TYPE_UBYTE {
                return Err(DataError::BadType {
                    path: path.into(),
                    found: format!("IDX type byte 0x{t:02x}"),
                    expected: "0x08 (unsigned byte)".into(),
                });
            }
        }
        let n = head.get(3).copied().unwrap_or(0);
        return Err(DataError::BadDims {
            path: path.into(),
            reason: format!(
                "IDX magic {found} declares {n} dimensions; MNIST files have 1 (labels) or 3 (images)"
            ),
        });
    }
    if bytes.len() < 4 {
        return Err(DataError::Truncated {
            path: path.into(),
            expected: 4,
            got: bytes.len() as u64,
        });
    }
    let ndims = usize::from(bytes[3]);
    let kind = if ndims == 1 {
        IdxKind::Labels
    } else {
        IdxKind::Images
    };
    let header_len = 4 + 4 * ndims;
    if bytes.len() < header_len {
        return Err(DataError::Truncated {
            path: path.into(),
            expected: header_len as u64,
            got: bytes.len() as u64,
        });
    }
    let dims_u64: Vec<u64> = bytes[4..header_len]
        .chunks_exact(4)
        .map(|c| u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
        .collect();
    if kind == IdxKind::Images && dims_u64[1..].contains(&0) {
        return Err(DataError::BadDims {
            path: path.into(),
            reason: format!("image dimensions {dims_u64:?} have a zero height or width"),
        });
    }
    let declared = dims_u64
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| DataError::SizeOverflow {
            path: path.into(),
            dims: dims_u64.clone(),
        })?;
    if declared > cap {
        return Err(DataError::TooLarge {
            path: path.into(),
            declared,
            cap,
        });
    }
    let got = (bytes.len() - header_len) as u64;
    if got < declared {
        return Err(DataError::Truncated {
            path: path.into(),
            expected: header_len as u64 + declared,
            got: bytes.len() as u64,
        });
    }
    if got > declared {
        return Err(DataError::TrailingBytes {
            path: path.into(),
            declared: header_len as u64 + declared,
            extra: got - declared,
        });
    }
    let dims = dims_u64
        .iter()
        .map(|&d| usize::try_from(d))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| DataError::SizeOverflow {
            path: path.into(),
            dims: dims_u64.clone(),
        })?;
    Ok(IdxArray {
        kind,
        dims,
        data: bytes[header_len..].to_vec(),
    })
}

/// Parses an IDX file that must be of `kind`, with every label (for labels) in 0..=9.
pub fn parse_idx_kind(bytes: &[u8], path: &str, kind: IdxKind) -> Result<IdxArray, DataError> {
    let arr = parse_idx(bytes, path)?;
    if arr.kind != kind {
        return Err(DataError::BadMagic {
            path: path.into(),
            found: format!("0x{:08x} ({:?})", arr.kind.magic(), arr.kind),
            expected: format!("0x{:08x} ({kind:?})", kind.magic()),
        });
    }
    if kind == IdxKind::Labels {
        super::check_labels(&arr.data, path)?;
    }
    Ok(arr)
}
