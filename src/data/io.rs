//! Reading a file into memory under a hard size cap, transparently gunzipping it
//! when its first two bytes are the gzip magic `1f 8b` (so `x.gz` and a
//! misnamed compressed file both work). The cap applies to the decompressed
//! size and is enforced while decompressing: a gzip bomb stops at `cap + 1`
//! bytes with [`DataError::TooLarge`] instead of allocating.

use super::DataError;
use flate2::read::MultiGzDecoder;
use std::io::Read;
use std::path::Path;

/// Default hard cap on any decompressed input: 1 GiB (the five CIFAR-10 training
/// batches are 154 MB, full MNIST 47 MB).
pub const DEFAULT_CAP: u64 = 1 << 30;

/// The gzip magic bytes.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Whether `bytes` starts like a gzip stream.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&GZIP_MAGIC)
}

/// Decompresses `bytes` if they are gzip, else returns them unchanged; at most
/// `cap` output bytes.
pub fn maybe_gunzip(bytes: Vec<u8>, label: &str, cap: u64) -> Result<Vec<u8>, DataError> {
    if !is_gzip(&bytes) {
        return Ok(bytes);
    }
    gunzip_capped(&bytes, label, cap)
}

/// Decompresses a (possibly multi-member) gzip stream, refusing to produce more
/// than `cap` bytes.
pub fn gunzip_capped(bytes: &[u8], label: &str, cap: u64) -> Result<Vec<u8>, DataError> {
    let mut out = Vec::new();
    let mut decoder = MultiGzDecoder::new(bytes).take(cap.saturating_add(1));
    decoder
        .read_to_end(&mut out)
        .map_err(|e| DataError::BadGzip {
            path: label.to_string(),
            reason: if e.kind() == std::io::ErrorKind::UnexpectedEof {
                format!(
                    "compressed stream cut short after {} output bytes",
                    out.len()
                )
            } else {
                e.to_string()
            },
        })?;
    if out.len() as u64 > cap {
        return Err(DataError::TooLarge {
            path: label.to_string(),
            declared: out.len() as u64,
            cap,
        });
    }
    Ok(out)
}

/// Reads `path` fully (gunzipping if it is gzip), refusing files whose on-disk
/// or decompressed size exceeds `cap`.
pub fn read_capped(path: &Path, what: &str, cap: u64) -> Result<Vec<u8>, DataError> {
    let label = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| io_error(path, what, e))?;
    let on_disk = file.metadata().map_err(|e| io_error(path, what, e))?.len();
    if on_disk > cap {
        return Err(DataError::TooLarge {
            path: label,
            declared: on_disk,
            cap,
        });
    }
    let mut raw = Vec::new();
    file.take(cap.saturating_add(1))
        .read_to_end(&mut raw)
        .map_err(|e| io_error(path, what, e))?;
    if raw.len() as u64 > cap {
        return Err(DataError::TooLarge {
            path: label,
            declared: raw.len() as u64,
            cap,
        });
    }
    maybe_gunzip(raw, &label, cap)
}

/// Maps an I/O error to [`DataError::Missing`] (not found) or [`DataError::Io`].
pub fn io_error(path: &Path, what: &str, e: std::io::Error) -> DataError {
    if e.kind() == std::io::ErrorKind::NotFound {
        DataError::Missing {
            path: path.to_path_buf(),
            what: what.to_string(),
        }
    } else {
        DataError::Io {
            path: path.to_path_buf(),
            source: e,
        }
    }
}
