//! Writing the format ([`FactorFile::to_bytes`]): every float tensor F64,
//! labels I64, after the same invariants the reader checks.

use super::meta::parse_meta;
use super::parse::check_sizes;
use super::{
    DataError, FactorFile, ACTS, FORMAT_NAME, FORMAT_VERSION, JACOBIANS, LABELS, LOGITS, WEIGHT,
};
use safetensors::tensor::{Dtype, TensorView};
use std::collections::HashMap;

impl FactorFile {
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
