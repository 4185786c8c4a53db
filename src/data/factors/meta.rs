//! The `__metadata__` map: format name and version, loss, required keys,
//! optional batch size, `user.*` notes, and nothing else.

use super::{DataError, FactorLoss, FactorMeta, FORMAT_NAME, FORMAT_VERSION, USER_PREFIX};
use std::collections::HashMap;

/// Metadata keys of the format (besides `user.*`).
pub(super) const REQUIRED_META: [&str; 7] = [
    "format", "version", "loss", "model", "layer", "data", "tool",
];
pub(super) const OPTIONAL_META: [&str; 1] = ["batch_size"];

/// Checks the metadata map: format, version, loss, required and unknown keys,
/// batch size.
pub(super) fn parse_meta(
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
