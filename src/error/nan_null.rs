//! f64 fields stored in JSON with non-finite values as `null` and read back
//! as NaN (`#[serde(with = "crate::error::nan_null")]`; vectors:
//! `crate::error::nan_null::vec`). serde_json writes a non-finite f64 as
//! `null` and then cannot read it as f64; a diverged training run or a
//! figure that is not defined must still round-trip.

use serde::{Deserialize, Deserializer, Serializer};

/// Serialises a non-finite value as `null`.
pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.is_finite() {
        s.serialize_f64(*v)
    } else {
        s.serialize_none()
    }
}

/// Reads `null` as NaN.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// Vectors of f64 stored with non-finite values as `null`.
pub mod vec {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Serialises non-finite entries as `null`.
    pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
        v.iter()
            .map(|x| x.is_finite().then_some(*x))
            .collect::<Vec<_>>()
            .serialize(s)
    }

    /// Reads `null` entries as NaN.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        Ok(Vec::<Option<f64>>::deserialize(d)?
            .into_iter()
            .map(|x| x.unwrap_or(f64::NAN))
            .collect())
    }
}
