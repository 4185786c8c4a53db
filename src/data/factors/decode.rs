//! Tensor bytes (little-endian) to values: F64/F32 to f64 with the first
//! non-finite entry refused by index, integer labels to classes in `0..K`.

use super::{DataError, LABELS};
use safetensors::tensor::{Dtype, TensorView};

/// Row-major multi-index of flat index `i` in `shape`, as `[a, b, c]`.
fn multi_index(mut i: usize, shape: &[usize]) -> String {
    let mut idx = vec![0usize; shape.len()];
    for (slot, &d) in idx.iter_mut().zip(shape).rev() {
        if d > 0 {
            *slot = i % d;
            i /= d;
        }
    }
    format!("{idx:?}")
}

/// The entries of an F64 or F32 tensor as f64, refusing the first non-finite
/// one (its dtype was checked by the caller).
pub(super) fn decode_floats(
    view: &TensorView,
    name: &str,
    label: &str,
) -> Result<Vec<f64>, DataError> {
    let data = view.data();
    let values: Vec<f64> = match view.dtype() {
        Dtype::F32 => data
            .chunks_exact(4)
            .map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
        _ => data
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect(),
    };
    if let Some(i) = values.iter().position(|x| !x.is_finite()) {
        return Err(DataError::NonFinite {
            path: label.into(),
            location: format!("{name}{}", multi_index(i, view.shape())),
            value: values[i],
        });
    }
    Ok(values)
}

/// Bytes per element and signedness of the accepted label dtypes.
pub(super) fn int_size(dtype: Dtype) -> Option<(usize, bool)> {
    Some(match dtype {
        Dtype::I64 => (8, true),
        Dtype::I32 => (4, true),
        Dtype::I16 => (2, true),
        Dtype::I8 => (1, true),
        Dtype::U64 => (8, false),
        Dtype::U32 => (4, false),
        Dtype::U16 => (2, false),
        Dtype::U8 => (1, false),
        _ => return None,
    })
}

/// The labels as class indices, refusing the first outside `0..classes`.
pub(super) fn decode_labels(
    view: &TensorView,
    classes: usize,
    label: &str,
) -> Result<Vec<usize>, DataError> {
    let (size, signed) = int_size(view.dtype()).ok_or_else(|| DataError::BadType {
        path: label.into(),
        found: format!("{:?} in tensor {LABELS}", view.dtype()),
        expected: "an integer type".into(),
    })?;
    let mut out = Vec::with_capacity(view.data().len() / size);
    for (index, c) in view.data().chunks_exact(size).enumerate() {
        let mut buf = [0u8; 8];
        buf[..size].copy_from_slice(c);
        if signed && c[size - 1] & 0x80 != 0 {
            buf[size..].fill(0xff);
        }
        let value: i128 = if signed {
            i128::from(i64::from_le_bytes(buf))
        } else {
            i128::from(u64::from_le_bytes(buf))
        };
        match usize::try_from(value) {
            Ok(v) if v < classes => out.push(v),
            _ => {
                return Err(DataError::LabelOutOfRange {
                    path: label.into(),
                    field: LABELS.into(),
                    index,
                    label: value,
                    classes,
                })
            }
        }
    }
    Ok(out)
}
