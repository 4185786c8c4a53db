//! Spectra of C for the null of the coupling (C3, C4): the families of the
//! grid and of a user's spectrum string `SPEC`, and the validation of a
//! spectrum (finite, at most d values, PSD to rounding) before the null or a
//! formula uses it.
//!
//! - `spikes:K`: K eigenvalues equal to 1 (the paper's k-spike model, App. C.2).
//! - `power:ALPHA[:K]`: `mu_i = i^-ALPHA` for `i = 1..K` (default K = d).
//! - `spikes-bulk:K:RATIO`: K eigenvalues 1 and `d - K` eigenvalues RATIO
//!   (`0 <= RATIO <= 1`).
//! - `file:PATH`: eigenvalues read from a text or `.npy` file by a loader the
//!   caller supplies (the library core does not read files).

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::statistic::zero_variance_tol;
use crate::error::{Error, Result};
use crate::linalg::{self, check_finite_slice};

/// A spectrum family (see the module doc).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "family", rename_all = "kebab-case")]
pub enum Spectrum {
    /// K equal eigenvalues.
    Spikes { k: usize },
    /// `i^-alpha`, i = 1..k (all d when `k` is None).
    Power { alpha: f64, k: Option<usize> },
    /// K eigenvalues 1 and the rest `ratio`.
    SpikesBulk { k: usize, ratio: f64 },
    /// Eigenvalues from a file.
    File { path: PathBuf },
}

const SPEC_HELP: &str = "expected spikes:K, power:ALPHA[:K], spikes-bulk:K:RATIO or file:PATH";

fn bad(spec: &str, reason: impl Into<String>) -> Error {
    Error::param("spectrum", spec, format!("{}; {SPEC_HELP}", reason.into()))
}

fn parse_count(spec: &str, what: &str, s: &str) -> Result<usize> {
    match s.trim().parse::<usize>() {
        Ok(k) if k >= 1 => Ok(k),
        Ok(_) => Err(bad(spec, format!("{what} must be at least 1"))),
        Err(_) => Err(bad(spec, format!("{what} {s:?} is not a positive integer"))),
    }
}

fn parse_real(spec: &str, what: &str, s: &str) -> Result<f64> {
    match s.trim().parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(x),
        _ => Err(bad(spec, format!("{what} {s:?} is not a finite number"))),
    }
}

impl Spectrum {
    /// Parses `spikes:K`, `power:ALPHA[:K]`, `spikes-bulk:K:RATIO`, `file:PATH`.
    pub fn parse(spec: &str) -> Result<Spectrum> {
        let (family, rest) = spec
            .split_once(':')
            .ok_or_else(|| bad(spec, "missing ':' after the family name"))?;
        let parts: Vec<&str> = rest.split(':').collect();
        match family.trim() {
            "spikes" => match parts.as_slice() {
                [k] => Ok(Spectrum::Spikes {
                    k: parse_count(spec, "K", k)?,
                }),
                _ => Err(bad(spec, "spikes takes exactly one field K")),
            },
            "power" => {
                let (a, k) = match parts.as_slice() {
                    [a] => (*a, None),
                    [a, k] => (*a, Some(parse_count(spec, "K", k)?)),
                    _ => return Err(bad(spec, "power takes ALPHA and an optional K")),
                };
                let alpha = parse_real(spec, "ALPHA", a)?;
                if alpha < 0.0 {
                    return Err(bad(spec, "ALPHA must be >= 0"));
                }
                Ok(Spectrum::Power { alpha, k })
            }
            "spikes-bulk" => match parts.as_slice() {
                [k, r] => {
                    let k = parse_count(spec, "K", k)?;
                    let ratio = parse_real(spec, "RATIO", r)?;
                    if !(0.0..=1.0).contains(&ratio) {
                        return Err(bad(spec, "RATIO must lie in [0, 1]"));
                    }
                    Ok(Spectrum::SpikesBulk { k, ratio })
                }
                _ => Err(bad(spec, "spikes-bulk takes K and RATIO")),
            },
            "file" => {
                if rest.trim().is_empty() {
                    return Err(bad(spec, "empty PATH"));
                }
                Ok(Spectrum::File {
                    path: PathBuf::from(rest),
                })
            }
            other => Err(bad(spec, format!("unknown family {other:?}"))),
        }
    }

    /// The eigenvalues (at most d, descending for the synthetic families) in
    /// dimension d; `load` reads a `file:` spectrum.
    pub fn eigenvalues(
        &self,
        d: usize,
        load: &dyn Fn(&Path) -> Result<Vec<f64>>,
    ) -> Result<Vec<f64>> {
        let need = |k: usize| -> Result<()> {
            if k > d {
                Err(Error::param(
                    "spectrum",
                    self,
                    format!("K = {k} exceeds the dimension d = {d}"),
                ))
            } else {
                Ok(())
            }
        };
        match self {
            Spectrum::Spikes { k } => {
                need(*k)?;
                Ok(vec![1.0; *k])
            }
            Spectrum::Power { alpha, k } => {
                let k = k.unwrap_or(d);
                need(k)?;
                Ok((1..=k).map(|i| (i as f64).powf(-alpha)).collect())
            }
            Spectrum::SpikesBulk { k, ratio } => {
                need(*k)?;
                let mut v = vec![1.0; *k];
                v.extend(std::iter::repeat_n(*ratio, d - k));
                Ok(v)
            }
            Spectrum::File { path } => {
                let v = load(path)?;
                if v.is_empty() {
                    return Err(Error::empty(&path.display().to_string(), "no eigenvalues"));
                }
                if v.len() > d {
                    return Err(Error::shape(
                        &path.display().to_string(),
                        format!("at most d = {d} eigenvalues"),
                        format!("{} eigenvalues", v.len()),
                    ));
                }
                Ok(v)
            }
        }
    }
}

impl fmt::Display for Spectrum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Spectrum::Spikes { k } => write!(f, "spikes:{k}"),
            Spectrum::Power { alpha, k: None } => write!(f, "power:{alpha}"),
            Spectrum::Power { alpha, k: Some(k) } => write!(f, "power:{alpha}:{k}"),
            Spectrum::SpikesBulk { k, ratio } => write!(f, "spikes-bulk:{k}:{ratio}"),
            Spectrum::File { path } => write!(f, "file:{}", path.display()),
        }
    }
}

/// Clamps the values of a PSD spectrum to >= 0 after the PSD rule, failing on a
/// clearly negative one (d is the dimension the spectrum belongs to).
pub(super) fn checked_spectrum(mu: &[f64], d: usize, input: &str) -> Result<Vec<f64>> {
    check_finite_slice(mu, input)?;
    if mu.len() > d {
        return Err(Error::shape(
            input,
            format!("at most d = {d} eigenvalues"),
            format!("{} eigenvalues", mu.len()),
        ));
    }
    let norm = mu.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let tol = linalg::psd_tolerance(d, norm);
    if let Some(&bad) = mu.iter().find(|&&x| x < -tol) {
        return Err(Error::NotPsd {
            input: input.to_string(),
            min_eig: bad,
            tol,
        });
    }
    Ok(mu.iter().map(|&x| x.max(0.0)).collect())
}

/// The nonzero part of a spectrum, rescaled to max 1 (rho is scale-free), as
/// square roots; errors when the spectrum is unusable for a null of dimension d.
pub fn null_weights(mu: &[f64], d: usize) -> Result<Vec<f64>> {
    let mu = checked_spectrum(mu, d, "spectrum")?;
    let max = mu.iter().cloned().fold(0.0f64, f64::max);
    if max <= 0.0 {
        return Err(Error::empty("spectrum", "no positive eigenvalue"));
    }
    let tol = zero_variance_tol(d, max);
    Ok(mu
        .iter()
        .filter(|&&x| x > tol)
        .map(|x| (x / max).sqrt())
        .collect())
}
