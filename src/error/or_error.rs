//! The JSON form of a figure that may have failed (`Result<T, Failure>`):
//! the value itself when it was computed, `{"error": "<message>"}` when it
//! was not. Every report and record field of that type is serialised through
//! this module (`#[serde(with = "crate::error::or_error")]`, or
//! `or_error::option` for an optional one), so that no Rust enum tag (`Ok`,
//! `Err`) reaches a user's JSON.
//!
//! Reading accepts the current form and the externally tagged form of
//! earlier records, `{"Ok": value}` and `{"Err": "<message>"}`, so records
//! kept in git history still read. [`strip_legacy_tags`] rewrites an untyped
//! JSON tree (a report stored as a `serde_json::Value`) the same way.

use serde::de::{DeserializeOwned, Error as _};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::Failure;

/// The key of a failed figure: `{"error": "<message>"}`.
pub const ERROR_KEY: &str = "error";

/// Serialises `Ok(v)` as `v` and `Err(f)` as `{"error": f.message}`.
pub fn serialize<T: Serialize, S: Serializer>(
    r: &Result<T, Failure>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match r {
        Ok(v) => v.serialize(s),
        Err(f) => {
            let mut m = s.serialize_map(Some(1))?;
            m.serialize_entry(ERROR_KEY, &f.message)?;
            m.end()
        }
    }
}

/// Reads the value, `{"error": msg}`, or the legacy `{"Ok": v}` / `{"Err": msg}`.
pub fn deserialize<'de, T: DeserializeOwned, D: Deserializer<'de>>(
    d: D,
) -> Result<Result<T, Failure>, D::Error> {
    from_value(Value::deserialize(d)?).map_err(D::Error::custom)
}

/// The figure a JSON value holds (the rule of [`deserialize`]).
pub fn from_value<T: DeserializeOwned>(v: Value) -> Result<Result<T, Failure>, serde_json::Error> {
    match single_entry(v) {
        Ok((key, inner)) if key == "Ok" => T::deserialize(inner).map(Ok),
        Ok((_, Value::String(message))) => Ok(Err(Failure::new("recorded", message))),
        Ok((key, other)) => Err(serde_json::Error::custom(format!(
            "a failed figure's \"{key}\" must be a string, got {other}"
        ))),
        Err(v) => T::deserialize(v).map(Ok),
    }
}

/// The key and value of an object whose only key is `Ok`, `Err` or
/// `error`; any other value is handed back unchanged.
fn single_entry(v: Value) -> Result<(String, Value), Value> {
    match v {
        Value::Object(map)
            if map.len() == 1
                && map
                    .keys()
                    .next()
                    .is_some_and(|k| matches!(k.as_str(), "Ok" | "Err" | ERROR_KEY)) =>
        {
            let (k, inner) = map.into_iter().next().ok_or(Value::Null)?;
            Ok((k, inner))
        }
        other => Err(other),
    }
}

/// `Option<Result<T, Failure>>`: `null` for `None`, else as [`serialize`].
pub mod option {
    use super::*;

    /// `None` as `null`, `Some(r)` as [`super::serialize`].
    pub fn serialize<T: Serialize, S: Serializer>(
        r: &Option<Result<T, Failure>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match r {
            None => s.serialize_none(),
            Some(r) => super::serialize(r, s),
        }
    }

    /// `null` as `None`, else as [`super::deserialize`].
    pub fn deserialize<'de, T: DeserializeOwned, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Result<T, Failure>>, D::Error> {
        match Value::deserialize(d)? {
            Value::Null => Ok(None),
            v => super::from_value(v).map(Some).map_err(D::Error::custom),
        }
    }
}

/// Rewrites a JSON tree in place from the legacy tagged form: every object
/// whose only key is `Ok` becomes its value, every object whose only key is
/// `Err` becomes `{"error": <message>}`. Numbers and every other value are
/// moved, not re-parsed. Returns how many tags it removed.
pub fn strip_legacy_tags(v: &mut Value) -> usize {
    let mut n = 0;
    while let Value::Object(map) = v {
        if map.len() != 1 {
            break;
        }
        if let Some(inner) = map.remove("Ok") {
            *v = inner;
            n += 1;
        } else {
            if let Some(inner) = map.remove("Err") {
                map.insert(ERROR_KEY.to_string(), inner);
                n += 1;
            }
            break;
        }
    }
    match v {
        Value::Object(map) => map.values_mut().map(strip_legacy_tags).sum::<usize>() + n,
        Value::Array(items) => items.iter_mut().map(strip_legacy_tags).sum::<usize>() + n,
        _ => n,
    }
}

/// Whether a JSON tree holds an object key `Ok` or `Err` anywhere (a Rust
/// enum tag a user should not see).
pub fn has_result_tags(v: &Value) -> bool {
    match v {
        Value::Object(map) => map
            .iter()
            .any(|(k, x)| k == "Ok" || k == "Err" || has_result_tags(x)),
        Value::Array(items) => items.iter().any(has_result_tags),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Holder {
        #[serde(with = "super")]
        fit: Result<f64, Failure>,
        #[serde(with = "super::option")]
        extra: Option<Result<Vec<u8>, Failure>>,
    }

    #[test]
    fn values_are_bare_and_failures_name_the_error() {
        let ok = Holder {
            fit: Ok(1.5),
            extra: Some(Ok(vec![1, 2])),
        };
        assert_eq!(
            serde_json::to_string(&ok).unwrap(),
            r#"{"fit":1.5,"extra":[1,2]}"#
        );
        let err = Holder {
            fit: Err(Failure::new("Empty", "x: empty")),
            extra: None,
        };
        let text = serde_json::to_string(&err).unwrap();
        assert_eq!(text, r#"{"fit":{"error":"x: empty"},"extra":null}"#);
        let back: Holder = serde_json::from_str(&text).unwrap();
        assert_eq!(back.fit.unwrap_err().message, "x: empty");
        assert_eq!(back.extra, None);
    }

    #[test]
    fn legacy_tags_still_read() {
        let old: Holder =
            serde_json::from_str(r#"{"fit":{"Ok":2.25},"extra":{"Err":"too few"}}"#).unwrap();
        assert_eq!(old.fit, Ok(2.25));
        assert_eq!(old.extra.unwrap().unwrap_err().message, "too few");
        let bad = serde_json::from_str::<Holder>(r#"{"fit":{"error":3},"extra":null}"#);
        assert!(bad.unwrap_err().to_string().contains("must be a string"));
    }

    #[test]
    fn stripping_moves_values_and_counts_tags() {
        let mut v: Value = serde_json::from_str(
            r#"{"a":{"Ok":{"b":{"Ok":0.1},"c":[{"Err":"no"},{"Ok":null}]}},"d":{"Ok":1,"x":2}}"#,
        )
        .unwrap();
        assert!(has_result_tags(&v));
        assert_eq!(strip_legacy_tags(&mut v), 4);
        assert_eq!(
            v,
            serde_json::json!({"a":{"b":0.1,"c":[{"error":"no"},null]},"d":{"Ok":1,"x":2}})
        );
        assert!(has_result_tags(&v), "a two-key object is data, kept");
    }
}
