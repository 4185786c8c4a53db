//! Per-sample factors of one linear layer, as exported from any PyTorch model
//! (`scripts/export_layer.py`): the `superlinear.factors` format, version 1.
//!
//! For a layer `z = W a` (`W` is `out x in`) inside a network with logits
//! `f` (K of them) and a per-sample loss `L(f, y)`, the per-sample Hessian of
//! the loss in `W` is
//!
//! ```text
//! h_p = A_p (x) a_p a_p^T  +  T_p (x) a_p a_p^T,
//! A_p = D_p^T M_p D_p,     T_p = sum_k (dL/df_k) d^2 f_k / dz^2,
//! ```
//!
//! with `D_p = d f / d z` at sample p (`K x out`) and `M_p = d^2 L / d f^2`
//! (`K x K`). The file carries what the first term needs; the second term
//! vanishes (almost everywhere) when everything between `z` and the logits is
//! piecewise linear in `z` (ReLU, leaky ReLU, max-pool, linear and conv
//! layers, biases, BatchNorm in eval mode, residual sums of these), so then the
//! Kronecker form is the exact per-sample Hessian. Otherwise (GELU, tanh,
//! softmax attention, ... after the layer) the first term is the Gauss-Newton
//! part and `T_p` is dropped (`kronecker_gap` in the exporter measures it).
//! Both terms assume `a_p` does not depend on `W` and `W` is used once in the
//! forward pass (no weight tying).
//!
//! ## Container
//! A safetensors file (parsed by the `safetensors` crate) with exactly these
//! tensors, little-endian, any order:
//!
//! | tensor | shape | dtype | meaning |
//! |---|---|---|---|
//! | `acts` | `N x in` | F64 or F32 | layer inputs `a_p` |
//! | `jacobians` | `N x K x out` | F64 or F32 | `D_p = d logits_p / d z_p` |
//! | `logits` | `N x K` | F64 or F32 | network outputs `f_p` |
//! | `labels` | `N` | I64, I32, I16, I8, U64, U32, U16 or U8 | class `y_p` in `0..K` |
//! | `weight` | `out x in` | F64 or F32 | `W` |
//!
//! F32 entries are widened exactly to f64; [`FactorFile::precision`] says
//! whether any tensor was F32. The `__metadata__` string map holds:
//!
//! | key | value |
//! |---|---|
//! | `format` | `superlinear.factors` |
//! | `version` | `1` |
//! | `loss` | `ce`: `L = logsumexp(f) - f_y`; `mse`: `L = (1/K) |softmax(f) - e_y|^2` (per sample, natural log) |
//! | `model` | what the network is |
//! | `layer` | which layer (e.g. its module name) |
//! | `data` | what the N samples are |
//! | `tool` | exporter and its version |
//! | `batch_size` | optional: the training mini-batch size B, a positive integer |
//! | `user.*` | optional free-form keys, kept in [`FactorMeta::extra`] |
//!
//! Any other tensor or metadata key is refused (naming it), so a typo cannot
//! silently drop information.
//!
//! ## Checks
//! Before anything is decoded: the input is at most [`super::io::DEFAULT_CAP`]
//! bytes (after gunzip), the header at most [`MAX_HEADER_LEN`] bytes and every
//! declared data offset within the input; then the `safetensors` crate checks
//! the container (offsets contiguous, sizes equal shape times dtype, data fully
//! covered). Then: format name and version, loss, required keys, the set of
//! tensors, dtypes, dimension counts, that N, K, out and in agree across
//! tensors (naming both tensors and shapes), `N >= 1`, `K >= 2`, `out, in >= 1`,
//! every float finite (naming tensor and index) and every label in `0..K`.
//! Every failure is one [`DataError`] line naming the file.

use super::io::{read_capped, DEFAULT_CAP};
use super::DataError;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// The `format` metadata value.
pub const FORMAT_NAME: &str = "superlinear.factors";
/// The format version this reader reads and [`FactorFile::to_bytes`] writes.
pub const FORMAT_VERSION: u32 = 1;
/// Longest safetensors header (JSON) accepted: the format's header is a few
/// hundred bytes plus the free-form metadata.
pub const MAX_HEADER_LEN: u64 = 1 << 20;

/// Tensor names of the format.
pub const ACTS: &str = "acts";
pub const JACOBIANS: &str = "jacobians";
pub const LOGITS: &str = "logits";
pub const LABELS: &str = "labels";
pub const WEIGHT: &str = "weight";
const TENSORS: [&str; 5] = [ACTS, JACOBIANS, LOGITS, LABELS, WEIGHT];

/// Metadata keys of the format (besides `user.*`).
const REQUIRED_META: [&str; 7] = [
    "format", "version", "loss", "model", "layer", "data", "tool",
];
const OPTIONAL_META: [&str; 1] = ["batch_size"];
/// Prefix of free-form metadata keys.
pub const USER_PREFIX: &str = "user.";

/// The per-sample loss of the logits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactorLoss {
    /// `ce`: `L = logsumexp(f) - f_y`.
    CrossEntropy,
    /// `mse`: `L = (1/K) |softmax(f) - e_y|^2` (softmax before MSE, one-hot target).
    SoftmaxMse,
}

impl FactorLoss {
    /// The metadata value (`ce` or `mse`).
    pub fn as_str(self) -> &'static str {
        match self {
            FactorLoss::CrossEntropy => "ce",
            FactorLoss::SoftmaxMse => "mse",
        }
    }

    fn parse(s: &str) -> Option<FactorLoss> {
        match s {
            "ce" => Some(FactorLoss::CrossEntropy),
            "mse" => Some(FactorLoss::SoftmaxMse),
            _ => None,
        }
    }
}

/// The narrowest float dtype among the float tensors of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactorPrecision {
    /// Every float tensor was F64.
    F64,
    /// At least one float tensor was F32 (widened exactly; about 7 digits).
    F32,
}

/// The descriptive metadata of a factor file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactorMeta {
    /// The format version (always [`FORMAT_VERSION`] once read).
    pub version: u32,
    /// What the network is.
    pub model: String,
    /// Which layer.
    pub layer: String,
    /// What the samples are.
    pub data: String,
    /// The exporter and its version.
    pub tool: String,
    /// The training mini-batch size B, if recorded.
    pub batch_size: Option<usize>,
    /// The `user.*` keys, verbatim.
    pub extra: BTreeMap<String, String>,
}

/// One layer's per-sample factors, checked: shapes agree, `n >= 1`,
/// `classes >= 2`, `out, inn >= 1`, every float finite, every label
/// `< classes`. All matrices are row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct FactorFile {
    pub meta: FactorMeta,
    pub loss: FactorLoss,
    /// F32 if any float tensor was stored as F32.
    pub precision: FactorPrecision,
    /// Samples N.
    pub n: usize,
    /// Layer outputs (rows of W).
    pub out: usize,
    /// Layer inputs (columns of W).
    pub inn: usize,
    /// Logits K.
    pub classes: usize,
    /// `n x inn`: row p is `a_p`.
    pub acts: Vec<f64>,
    /// `n x classes x out`: block p is `D_p` (`classes x out`).
    pub jacobians: Vec<f64>,
    /// `n x classes`.
    pub logits: Vec<f64>,
    /// `n` labels in `0..classes`.
    pub labels: Vec<usize>,
    /// `out x inn`: `W`.
    pub weight: Vec<f64>,
}

impl FactorFile {
    /// `a_p` (length `inn`); panics if `p >= n`.
    pub fn act(&self, p: usize) -> &[f64] {
        &self.acts[p * self.inn..(p + 1) * self.inn]
    }

    /// `D_p`, row-major `classes x out`; panics if `p >= n`.
    pub fn jacobian(&self, p: usize) -> &[f64] {
        let block = self.classes * self.out;
        &self.jacobians[p * block..(p + 1) * block]
    }

    /// The logits of sample p (length `classes`); panics if `p >= n`.
    pub fn logit(&self, p: usize) -> &[f64] {
        &self.logits[p * self.classes..(p + 1) * self.classes]
    }

    /// The file as safetensors bytes in the format (every float tensor F64,
    /// labels I64), which [`parse_factors`] reads back to an equal value
    /// (with precision F64). Errors if the fields do not describe a valid
    /// file (shapes, finiteness, labels, metadata keys), so nothing that could
    /// not be read back is written.
    pub fn to_bytes(&self) -> Result<Vec<u8>, DataError> {
        let label = "factor file being written";
        self.validate(label)?;
        let f64_bytes = |v: &[f64]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        let labels: Vec<u8> = self
            .labels
            .iter()
            .flat_map(|&l| (l as i64).to_le_bytes())
            .collect();
        let buffers: [(&str, Dtype, Vec<usize>, Vec<u8>); 5] = [
            (
                ACTS,
                Dtype::F64,
                vec![self.n, self.inn],
                f64_bytes(&self.acts),
            ),
            (
                JACOBIANS,
                Dtype::F64,
                vec![self.n, self.classes, self.out],
                f64_bytes(&self.jacobians),
            ),
            (
                LOGITS,
                Dtype::F64,
                vec![self.n, self.classes],
                f64_bytes(&self.logits),
            ),
            (LABELS, Dtype::I64, vec![self.n], labels),
            (
                WEIGHT,
                Dtype::F64,
                vec![self.out, self.inn],
                f64_bytes(&self.weight),
            ),
        ];
        let container = |e: safetensors::SafeTensorError| DataError::BadContainer {
            path: label.into(),
            reason: e.to_string(),
        };
        let mut views = Vec::with_capacity(buffers.len());
        for (name, dtype, shape, bytes) in &buffers {
            views.push((
                name.to_string(),
                TensorView::new(*dtype, shape.clone(), bytes).map_err(container)?,
            ));
        }
        safetensors::serialize(views, Some(self.metadata_map())).map_err(container)
    }

    /// The `__metadata__` map this file is written with.
    pub fn metadata_map(&self) -> HashMap<String, String> {
        let m = &self.meta;
        let mut map: HashMap<String, String> = [
            ("format", FORMAT_NAME.to_string()),
            ("version", FORMAT_VERSION.to_string()),
            ("loss", self.loss.as_str().to_string()),
            ("model", m.model.clone()),
            ("layer", m.layer.clone()),
            ("data", m.data.clone()),
            ("tool", m.tool.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        if let Some(b) = m.batch_size {
            map.insert("batch_size".into(), b.to_string());
        }
        map.extend(m.extra.clone());
        map
    }

    /// The invariants of a read file, for values built by hand.
    fn validate(&self, label: &str) -> Result<(), DataError> {
        let bad = |reason: String| DataError::Inconsistent {
            what: label.into(),
            reason,
        };
        let (n, k, out, inn) = (self.n, self.classes, self.out, self.inn);
        check_sizes(label, n, k, out, inn)?;
        let want = |a: usize, b: usize, c: usize| a.checked_mul(b).and_then(|x| x.checked_mul(c));
        for (name, len, expected) in [
            (ACTS, self.acts.len(), want(n, inn, 1)),
            (JACOBIANS, self.jacobians.len(), want(n, k, out)),
            (LOGITS, self.logits.len(), want(n, k, 1)),
            (LABELS, self.labels.len(), Some(n)),
            (WEIGHT, self.weight.len(), want(out, inn, 1)),
        ] {
            if expected != Some(len) {
                return Err(bad(format!(
                    "{name} has {len} entries, expected {expected:?} for N = {n}, K = {k}, out = {out}, in = {inn}"
                )));
            }
        }
        for (name, data) in [
            (ACTS, &self.acts),
            (JACOBIANS, &self.jacobians),
            (LOGITS, &self.logits),
            (WEIGHT, &self.weight),
        ] {
            if let Some(i) = data.iter().position(|x| !x.is_finite()) {
                return Err(DataError::NonFinite {
                    path: label.into(),
                    location: format!("{name} entry {i}"),
                    value: data[i],
                });
            }
        }
        if let Some(i) = self.labels.iter().position(|&l| l >= k) {
            return Err(DataError::LabelOutOfRange {
                path: label.into(),
                field: LABELS.into(),
                index: i,
                label: self.labels[i] as i128,
                classes: k,
            });
        }
        let meta: HashMap<String, String> = self.metadata_map();
        parse_meta(&meta, label).map(|_| ())
    }
}

/// Reads a factor file (plain or gzip) under [`DEFAULT_CAP`].
pub fn read_factors(path: &Path) -> Result<FactorFile, DataError> {
    read_factors_capped(path, DEFAULT_CAP)
}

/// Reads a factor file (plain or gzip) under a cap of `cap` bytes.
pub fn read_factors_capped(path: &Path, cap: u64) -> Result<FactorFile, DataError> {
    let bytes = read_capped(path, "factor file (safetensors)", cap)?;
    parse_factors(&bytes, &path.display().to_string())
}

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
fn check_sizes(label: &str, n: usize, k: usize, out: usize, inn: usize) -> Result<(), DataError> {
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

/// Checks the metadata map: format, version, loss, required and unknown keys,
/// batch size.
fn parse_meta(
    map: &HashMap<String, String>,
    label: &str,
) -> Result<(FactorMeta, FactorLoss), DataError> {
    let bad = |key: &str, reason: String| DataError::BadMetadata {
        path: label.into(),
        key: key.into(),
        reason,
    };
    let need = |key: &str| {
        map.get(key).ok_or_else(|| DataError::MissingField {
            path: label.into(),
            field: format!("metadata key {key:?}"),
            what: format!("required keys: {}", REQUIRED_META.join(", ")),
        })
    };
    let format = need("format")?;
    if format != FORMAT_NAME {
        return Err(bad(
            "format",
            format!("found {format:?}, expected {FORMAT_NAME:?}"),
        ));
    }
    let version = need("version")?;
    if version.trim() != FORMAT_VERSION.to_string() {
        return Err(bad(
            "version",
            format!("found {version:?}; this reader reads version {FORMAT_VERSION}"),
        ));
    }
    let loss_s = need("loss")?;
    let loss = FactorLoss::parse(loss_s).ok_or_else(|| {
        bad(
            "loss",
            format!(
                "found {loss_s:?}, expected \"ce\" (logsumexp(f) - f_y) or \"mse\" ((1/K) |softmax(f) - e_y|^2)"
            ),
        )
    })?;
    let model = need("model")?.clone();
    let layer = need("layer")?.clone();
    let data = need("data")?.clone();
    let tool = need("tool")?.clone();
    let batch_size = match map.get("batch_size") {
        None => None,
        Some(s) => match s.trim().parse::<usize>() {
            Ok(b) if b >= 1 => Some(b),
            _ => {
                return Err(bad(
                    "batch_size",
                    format!("found {s:?}, expected a positive integer"),
                ))
            }
        },
    };
    let mut unknown: Vec<String> = map
        .keys()
        .filter(|k| {
            !REQUIRED_META.contains(&k.as_str())
                && !OPTIONAL_META.contains(&k.as_str())
                && !k.starts_with(USER_PREFIX)
        })
        .cloned()
        .collect();
    if !unknown.is_empty() {
        unknown.sort();
        return Err(DataError::UnknownFields {
            path: label.into(),
            kind: "metadata keys".into(),
            names: unknown,
            known: format!(
                "{}, {} and {USER_PREFIX}* for free-form notes",
                REQUIRED_META.join(", "),
                OPTIONAL_META.join(", ")
            ),
        });
    }
    let extra = map
        .iter()
        .filter(|(k, _)| k.starts_with(USER_PREFIX))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok((
        FactorMeta {
            version: FORMAT_VERSION,
            model,
            layer,
            data,
            tool,
            batch_size,
            extra,
        },
        loss,
    ))
}

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
fn decode_floats(view: &TensorView, name: &str, label: &str) -> Result<Vec<f64>, DataError> {
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
fn int_size(dtype: Dtype) -> Option<(usize, bool)> {
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
fn decode_labels(view: &TensorView, classes: usize, label: &str) -> Result<Vec<usize>, DataError> {
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
