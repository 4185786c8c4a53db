//! The `baseline` and `coupling` commands as library calls (C3, C4): validated
//! settings in, serialisable reports out. The CLI only parses flags, loads
//! files and prints.
//!
//! - `baseline`: for a spectrum in dimension d, the paper's mean and SE
//!   (App. C, D), our corrected mean and SE, and the simulated null
//!   (`simulated_mean`, std, quantiles), side by side.
//! - `coupling`: `rho_bar` of a user's C in the eigenbasis of their H, the
//!   simulated null for C's spectrum, the paper's z and p, the corrected z and
//!   p, and the exact Monte Carlo p-value `(1 + #{null <= obs}) / (1 + R)`.

use std::fmt;
use std::path::Path;

use faer::{Mat, MatRef};
use serde::Serialize;

use super::spectrum::Spectrum;
use super::{
    corrected_mean, corrected_se_row_law, coupling_dense, empirical_p, paper_mean, paper_se,
    simulate_null, z_and_p, SpectrumMoments, DEFAULT_QUANTILES,
};
use crate::error::{Error, Result};
use crate::linalg::{self, check_symmetric};
use crate::stats::{summarize, Quantile, Summary};

/// Default number of Haar rotations of the simulated null.
pub const DEFAULT_ROTATIONS: usize = 200;
/// Default master seed.
pub const DEFAULT_SEED: u64 = 20260205;

/// Settings of `superlinear baseline`.
#[derive(Debug, Clone, Serialize)]
pub struct BaselineSettings {
    pub d: usize,
    pub spectrum: Spectrum,
    pub rotations: usize,
    pub seed: u64,
}

impl BaselineSettings {
    /// Validates `d >= 2` and `rotations >= 2` (a std needs two draws).
    pub fn new(d: usize, spectrum: Spectrum, rotations: usize, seed: u64) -> Result<Self> {
        if d < 2 {
            return Err(Error::param("d", d, "the coupling needs d >= 2"));
        }
        if rotations < 2 {
            return Err(Error::param("rotations", rotations, "must be at least 2"));
        }
        Ok(BaselineSettings {
            d,
            spectrum,
            rotations,
            seed,
        })
    }
}

/// A formula's mean and SE.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct FormulaNull {
    pub mean: f64,
    pub se: f64,
}

/// The simulated null.
#[derive(Debug, Clone, Serialize)]
pub struct SimulatedNull {
    pub rotations: usize,
    pub seed: u64,
    pub simulated_mean: f64,
    pub std: f64,
    pub quantiles: Vec<Quantile>,
}

impl SimulatedNull {
    fn from_summary(s: &Summary, seed: u64) -> Self {
        SimulatedNull {
            rotations: s.n,
            seed,
            simulated_mean: s.mean,
            std: s.std,
            quantiles: s.quantiles.clone(),
        }
    }
}

/// Output of `superlinear baseline`.
#[derive(Debug, Clone, Serialize)]
pub struct BaselineReport {
    pub d: usize,
    pub spectrum: String,
    /// Number of positive eigenvalues.
    pub rank: usize,
    /// `k_eff = (sum mu)^2 / sum mu^2`.
    pub k_eff: f64,
    /// App. C mean and App. D SE.
    pub paper: FormulaNull,
    /// Our corrected mean and SE (`theory/coupling-null.md`).
    pub corrected: FormulaNull,
    pub simulated: SimulatedNull,
}

/// Runs `baseline`; `load` reads a `file:` spectrum (text or .npy).
pub fn run_baseline(
    settings: &BaselineSettings,
    load: &dyn Fn(&Path) -> Result<Vec<f64>>,
) -> Result<BaselineReport> {
    let d = settings.d;
    let mu = settings.spectrum.eigenvalues(d, load)?;
    let m = SpectrumMoments::of(&mu, d)?;
    let null = simulate_null(&mu, d, settings.rotations, settings.seed)?;
    let s = summarize(&null.rho_bar, &DEFAULT_QUANTILES)?;
    let pm = paper_mean(&m);
    Ok(BaselineReport {
        d,
        spectrum: settings.spectrum.to_string(),
        rank: null.rank,
        k_eff: m.k_eff(),
        paper: FormulaNull {
            mean: pm,
            se: paper_se(pm, d),
        },
        corrected: FormulaNull {
            mean: corrected_mean(&m, d),
            se: corrected_se_row_law(&mu, d)?,
        },
        simulated: SimulatedNull::from_summary(&s, settings.seed),
    })
}

fn fmt_quantiles(f: &mut fmt::Formatter<'_>, q: &[Quantile]) -> fmt::Result {
    for x in q {
        write!(f, "  q{:.0}% {:.5}", 100.0 * x.p, x.value)?;
    }
    writeln!(f)
}

impl fmt::Display for BaselineReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "null of rho_bar for {} in d = {} (rank {}, k_eff = {:.3})",
            self.spectrum, self.d, self.rank, self.k_eff
        )?;
        writeln!(f, "{:<28} {:>10} {:>12}", "", "mean", "std / SE")?;
        writeln!(
            f,
            "{:<28} {:>10.5} {:>12.3e}",
            "paper (App. C, App. D)", self.paper.mean, self.paper.se
        )?;
        writeln!(
            f,
            "{:<28} {:>10.5} {:>12.3e}",
            "corrected", self.corrected.mean, self.corrected.se
        )?;
        writeln!(
            f,
            "{:<28} {:>10.5} {:>12.3e}",
            format!("simulated ({} rotations)", self.simulated.rotations),
            self.simulated.simulated_mean,
            self.simulated.std
        )?;
        write!(f, "simulated quantiles:")?;
        fmt_quantiles(f, &self.simulated.quantiles)
    }
}

/// Settings of `superlinear coupling`.
#[derive(Debug, Clone, Serialize)]
pub struct CouplingSettings {
    pub rotations: usize,
    pub seed: u64,
}

impl CouplingSettings {
    /// Validates `rotations >= 2`.
    pub fn new(rotations: usize, seed: u64) -> Result<Self> {
        if rotations < 2 {
            return Err(Error::param("rotations", rotations, "must be at least 2"));
        }
        Ok(CouplingSettings { rotations, seed })
    }
}

/// z-score and one-sided p-value against one null mean and SE.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ZTest {
    pub mean: f64,
    pub se: f64,
    pub z: f64,
    pub p: f64,
}

impl ZTest {
    fn new(obs: f64, mean: f64, se: f64) -> Self {
        let (z, p) = z_and_p(obs, mean, se);
        ZTest { mean, se, z, p }
    }
}

/// Output of `superlinear coupling`.
#[derive(Debug, Clone, Serialize)]
pub struct CouplingReport {
    pub d: usize,
    /// `mean_{i != j} |rho_ij|` of C in H's eigenbasis.
    pub rho_bar: f64,
    /// Directions with `C'_ii = 0` (excluded, see `coupling` module doc).
    pub excluded: Vec<usize>,
    /// Rank and effective rank of C.
    pub rank: usize,
    pub k_eff: f64,
    /// The paper's z and p (App. C mean, App. D SE).
    pub paper: ZTest,
    /// z and p from the corrected mean and SE.
    pub corrected: ZTest,
    pub simulated: SimulatedNull,
    /// z against the simulated mean and std.
    pub simulated_z: f64,
    /// Exact Monte Carlo p-value `(1 + #{null <= rho_bar}) / (1 + R)`.
    pub empirical_p: f64,
}

/// Runs `coupling` on a covariance `c` and Hessian `h` (both d x d):
/// validates (square, same shape, finite, symmetric, C PSD), projects C on H's
/// eigenbasis, and compares `rho_bar` with the null of C's spectrum.
pub fn run_coupling(
    c: MatRef<'_, f64>,
    h: MatRef<'_, f64>,
    settings: &CouplingSettings,
) -> Result<CouplingReport> {
    check_symmetric(c, "C (--cov)")?;
    check_symmetric(h, "H (--hess)")?;
    if c.nrows() != h.nrows() {
        return Err(Error::shape(
            "H (--hess)",
            format!("{0} x {0} like C", c.nrows()),
            format!("{0} x {0}", h.nrows()),
        ));
    }
    let d = c.nrows();
    if d < 2 {
        return Err(Error::param("d", d, "the coupling needs d >= 2"));
    }
    let mu = linalg::sym_eigenvalues(c, "C (--cov)")?;
    if !linalg::spectrum_is_psd(&mu, d) {
        let norm = mu.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        return Err(Error::NotPsd {
            input: "C (--cov)".into(),
            min_eig: mu.iter().cloned().fold(f64::INFINITY, f64::min),
            tol: linalg::psd_tolerance(d, norm),
        });
    }
    let v = linalg::sym_eig(h, "H (--hess)")?.vectors;
    let obs = coupling_dense(c, v.as_ref())?;
    let m = SpectrumMoments::of(&mu, d)?;
    let null = simulate_null(&mu, d, settings.rotations, settings.seed)?;
    let s = summarize(&null.rho_bar, &DEFAULT_QUANTILES)?;
    let pm = paper_mean(&m);
    Ok(CouplingReport {
        d,
        rho_bar: obs.rho_bar,
        excluded: obs.excluded,
        rank: null.rank,
        k_eff: m.k_eff(),
        paper: ZTest::new(obs.rho_bar, pm, paper_se(pm, d)),
        corrected: ZTest::new(
            obs.rho_bar,
            corrected_mean(&m, d),
            corrected_se_row_law(&mu, d)?,
        ),
        simulated_z: (obs.rho_bar - s.mean) / s.std,
        empirical_p: empirical_p(obs.rho_bar, &null.rho_bar),
        simulated: SimulatedNull::from_summary(&s, settings.seed),
    })
}

/// A faer matrix from a row-major ndarray (what the .npy reader returns).
pub fn mat_from_ndarray(a: ndarray::ArrayView2<'_, f64>) -> Mat<f64> {
    Mat::from_fn(a.nrows(), a.ncols(), |i, j| a[(i, j)])
}

impl fmt::Display for CouplingReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "rho_bar = {:.6} (d = {}, C rank {}, k_eff = {:.3}{})",
            self.rho_bar,
            self.d,
            self.rank,
            self.k_eff,
            if self.excluded.is_empty() {
                String::new()
            } else {
                format!(
                    ", {} zero-variance directions excluded",
                    self.excluded.len()
                )
            }
        )?;
        writeln!(
            f,
            "{:<28} {:>10} {:>12} {:>10} {:>10}",
            "null", "mean", "std / SE", "z", "p"
        )?;
        for (name, t) in [
            ("paper (App. C, D)", &self.paper),
            ("corrected", &self.corrected),
        ] {
            writeln!(
                f,
                "{:<28} {:>10.5} {:>12.3e} {:>10.2} {:>10.3e}",
                name, t.mean, t.se, t.z, t.p
            )?;
        }
        writeln!(
            f,
            "{:<28} {:>10.5} {:>12.3e} {:>10.2} {:>10.3e}  (exact Monte Carlo p)",
            format!("simulated ({} rotations)", self.simulated.rotations),
            self.simulated.simulated_mean,
            self.simulated.std,
            self.simulated_z,
            self.empirical_p
        )?;
        write!(f, "simulated quantiles:")?;
        fmt_quantiles(f, &self.simulated.quantiles)
    }
}

/// Reads an eigenvalue file for `file:PATH` spectra: `.npy` (any real dtype,
/// 1-D or a single row/column) or text (numbers separated by white space or
/// commas, `#` comments).
pub fn load_spectrum_file(path: &Path) -> Result<Vec<f64>> {
    let is_npy = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"));
    let read = if is_npy {
        crate::data::npy::read_vector(path)
    } else {
        crate::data::read_text_vector(path)
    };
    read.map_err(|e| data_error(path, e))
}

/// Reads a square matrix saved from NumPy (`.npy`) for `coupling`.
pub fn load_matrix(path: &Path, role: &str) -> Result<Mat<f64>> {
    let a = crate::data::npy::read_matrix(path).map_err(|e| data_error(path, e))?;
    if a.nrows() != a.ncols() {
        return Err(Error::shape(
            &format!("{role} ({})", path.display()),
            "a square matrix",
            format!("{} x {}", a.nrows(), a.ncols()),
        ));
    }
    Ok(mat_from_ndarray(a.view()))
}

fn data_error(path: &Path, e: crate::data::DataError) -> Error {
    Error::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}
