//! Parsing: the container pre-checks (header length, offsets within the
//! input), the `safetensors` crate's own checks, then the set of tensors, their
//! dtypes and dimension counts, agreeing N, K, out, in and the size limits.

use super::decode::{decode_floats, decode_labels, int_size};
use super::meta::{parse_meta, REQUIRED_META};
use super::{
    DataError, FactorFile, FactorPrecision, ACTS, FORMAT_NAME, JACOBIANS, LABELS, LOGITS,
    MAX_HEADER_LEN, TENSORS, WEIGHT,
};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

/// Parses factor-file bytes; `label` names the input in errors.
pub fn parse_factors(bytes: &[u8], label: &str) -> Result<FactorFile, DataError> {
    precheck_container(bytes, label)?;
    let container = |e: safetensors::SafeTensorError| DataError::BadContainer {
        path: label.into(),
        reason: e.to_string(),
    };
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(container)?;
    let st = SafeTensors::deserialize(bytes).map_err(container)?;
    let Some(meta_map) = header.metadata() else {
        return Err(DataError::MissingField {
            path: label.into(),
            field: "__metadata__".into(),
            what: format!(
                "the metadata map with {}; not a {FORMAT_NAME} file?",
                REQUIRED_META.join(", ")
            ),
        });
    };
    let (meta, loss) = parse_meta(meta_map, label)?;

    let mut unknown: Vec<String> = st
        .names()
        .into_iter()
        .filter(|n| !TENSORS.contains(n))
        .map(str::to_string)
        .collect();
    if !unknown.is_empty() {
        unknown.sort();
        return Err(DataError::UnknownFields {
            path: label.into(),
            kind: "tensors".into(),
            names: unknown,
            known: TENSORS.join(", "),
        });
    }
    let get = |name: &str, what: &str| {
        st.tensor(name).map_err(|_| DataError::MissingField {
            path: label.into(),
            field: format!("tensor {name}"),
            what: what.into(),
        })
    };
    let acts = get(ACTS, "N x in layer inputs a_p")?;
    let jac = get(JACOBIANS, "N x K x out Jacobians D_p = d logits / d z")?;
    let logits = get(LOGITS, "N x K logits")?;
    let labels = get(LABELS, "N integer labels")?;
    let weight = get(WEIGHT, "out x in weight W")?;

    let mut precision = FactorPrecision::F64;
    for (name, view) in [
        (ACTS, &acts),
        (JACOBIANS, &jac),
        (LOGITS, &logits),
        (WEIGHT, &weight),
    ] {
        match view.dtype() {
            Dtype::F64 => {}
            Dtype::F32 => precision = FactorPrecision::F32,
            other => {
                return Err(DataError::BadType {
                    path: label.into(),
                    found: format!("{other:?} in tensor {name}"),
                    expected: "F64 or F32".into(),
                })
            }
        }
    }
    if int_size(labels.dtype()).is_none() {
        return Err(DataError::BadType {
            path: label.into(),
            found: format!("{:?} in tensor {LABELS}", labels.dtype()),
            expected: "an integer type: I64, I32, I16, I8, U64, U32, U16, U8".into(),
        });
    }

    let ndim = |name: &str, view: &TensorView, dims: usize, what: &str| {
        if view.shape().len() == dims {
            Ok(())
        } else {
            Err(DataError::BadShape {
                path: label.into(),
                expected: format!("{name} with {dims} dims ({what})"),
                got: format!("{} dims {:?}", view.shape().len(), view.shape()),
            })
        }
    };
    ndim(ACTS, &acts, 2, "N x in")?;
    ndim(JACOBIANS, &jac, 3, "N x K x out")?;
    ndim(LOGITS, &logits, 2, "N x K")?;
    ndim(LABELS, &labels, 1, "N")?;
    ndim(WEIGHT, &weight, 2, "out x in")?;

    let (n, inn) = (acts.shape()[0], acts.shape()[1]);
    let (k, out) = (jac.shape()[1], jac.shape()[2]);
    let agree = |what: &str, a: (&str, &[usize], &str), b: (&str, &[usize], &str)| {
        DataError::Inconsistent {
            what: label.into(),
            reason: format!(
                "{what} differs: {} is {:?} ({}) but {} is {:?} ({})",
                a.0, a.1, a.2, b.0, b.1, b.2
            ),
        }
    };
    let a_desc = (ACTS, acts.shape(), "N x in");
    let j_desc = (JACOBIANS, jac.shape(), "N x K x out");
    let l_desc = (LOGITS, logits.shape(), "N x K");
    let y_desc = (LABELS, labels.shape(), "N");
    let w_desc = (WEIGHT, weight.shape(), "out x in");
    if jac.shape()[0] != n {
        return Err(agree("N", a_desc, j_desc));
    }
    if logits.shape()[0] != n {
        return Err(agree("N", a_desc, l_desc));
    }
    if labels.shape()[0] != n {
        return Err(agree("N", a_desc, y_desc));
    }
    if logits.shape()[1] != k {
        return Err(agree("K", j_desc, l_desc));
    }
    if weight.shape()[0] != out {
        return Err(agree("out", j_desc, w_desc));
    }
    if weight.shape()[1] != inn {
        return Err(agree("in", a_desc, w_desc));
    }
    check_sizes(label, n, k, out, inn)?;

    let acts_v = decode_floats(&acts, ACTS, label)?;
    let jac_v = decode_floats(&jac, JACOBIANS, label)?;
    let logits_v = decode_floats(&logits, LOGITS, label)?;
    let weight_v = decode_floats(&weight, WEIGHT, label)?;
    let labels_v = decode_labels(&labels, k, label)?;
    Ok(FactorFile {
        meta,
        loss,
        precision,
        n,
        out,
        inn,
        classes: k,
        acts: acts_v,
        jacobians: jac_v,
        logits: logits_v,
        labels: labels_v,
        weight: weight_v,
    })
}

/// `N >= 1`, `K >= 2`, `out >= 1`, `in >= 1`.
pub(super) fn check_sizes(
    label: &str,
    n: usize,
    k: usize,
    out: usize,
    inn: usize,
) -> Result<(), DataError> {
    if n == 0 {
        return Err(DataError::Empty {
            what: label.into(),
            reason: "N = 0 samples".into(),
        });
    }
    if k < 2 {
        return Err(DataError::BadDims {
            path: label.into(),
            reason: format!("K = {k} logits per sample; the losses need K >= 2 classes"),
        });
    }
    if out == 0 || inn == 0 {
        return Err(DataError::BadDims {
            path: label.into(),
            reason: format!("the layer is {out} x {inn} (out x in); both must be at least 1"),
        });
    }
    Ok(())
}

/// What the `safetensors` crate would trust without bound in a debug build:
/// the header length (at most [`MAX_HEADER_LEN`], within the input) and every
/// declared data offset (within the data that follows the header).
fn precheck_container(bytes: &[u8], label: &str) -> Result<(), DataError> {
    let Some(len_bytes) = bytes.get(..8) else {
        return Err(DataError::Truncated {
            path: label.into(),
            expected: 8,
            got: bytes.len() as u64,
        });
    };
    let mut arr = [0u8; 8];
    arr.copy_from_slice(len_bytes);
    let header_len = u64::from_le_bytes(arr);
    if header_len > MAX_HEADER_LEN {
        return Err(DataError::BadContainer {
            path: label.into(),
            reason: format!(
                "header length {header_len} exceeds {MAX_HEADER_LEN} bytes (is this a safetensors file?)"
            ),
        });
    }
    let data_start = 8 + header_len as usize;
    if bytes.len() < data_start {
        return Err(DataError::Truncated {
            path: label.into(),
            expected: data_start as u64,
            got: bytes.len() as u64,
        });
    }
    let data_len = (bytes.len() - data_start) as u64;
    // A header that is not a JSON object is left to the safetensors reader to
    // refuse; only offsets beyond the data are caught here.
    let Ok(header) =
        serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&bytes[8..data_start])
    else {
        return Ok(());
    };
    for info in header.values() {
        let Some(offsets) = info.get("data_offsets").and_then(|o| o.as_array()) else {
            continue;
        };
        if let Some(end) = offsets
            .iter()
            .filter_map(serde_json::Value::as_u64)
            .find(|&o| o > data_len)
        {
            return Err(DataError::Truncated {
                path: label.into(),
                expected: (data_start as u64).saturating_add(end),
                got: bytes.len() as u64,
            });
        }
    }
    Ok(())
}
