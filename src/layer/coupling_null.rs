//! `rho_bar` over the top-k eigen-directions of H and its random-basis null
//! (C3, C4) for a layer analysis ([`super::analyze_layer`]).
//!
//! The null rotates the full d x d matrix M (C or `E[h_p^2]`) Haar-randomly
//! in R^d, then projects it on the top-k. From the paper: App. C mean
//! `mu0 = sqrt(2/pi) sqrt(S2) / S1` with `S1 = tr M`, `S2 = ||M||_F^2`
//! (`k_eff = S1^2 / S2`), App. D `SE = mu0 sqrt(pi/2 - 1) / sqrt(M_pairs)` with
//! `M_pairs = n (n - 1)` the off-diagonal pairs used, `z = (rho_bar - mu0) /
//! SE` and one-sided `p = Phi(z)`. Optionally the corrected mean
//! `G(k_rho) sqrt((d - k_rho)/(d - 1))` of [`crate::coupling`], which needs the
//! whole spectrum (its `k_rho = 1 / E[rho^2]`); the mean of a pair does not
//! depend on which rows are used, so it applies to the top-k as well. The
//! corrected SE does not: it assumes all d directions (its first-order term
//! vanishes only for the sum over all rows of a Haar frame), so it is not
//! reported.
//!
//! The null to compare with is the corrected mean when it was computed
//! (`reported_null`): the App. C mean and App. D SE are the paper's formula,
//! known biased (C3, C4), and are kept beside it under that label.

use faer::Mat;
use serde::Serialize;

use crate::coupling::{
    corrected_mean, coupling_of_projected, paper_se, z_and_p, Coupling, SpectrumMoments,
};

/// `rho_bar` of a projected matrix with the paper's null (module doc).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CouplingNull {
    /// The statistic over the used directions.
    pub coupling: Coupling,
    /// `S1 = tr` of the full matrix.
    pub trace: f64,
    /// `S2 = ||.||_F^2` of the full matrix.
    pub frobenius_sq: f64,
    /// `k_eff = S1^2 / S2`.
    pub k_eff: f64,
    /// App. C mean under the null.
    pub paper_mean: f64,
    /// App. D standard error.
    pub paper_se: f64,
    /// `(rho_bar - paper_mean) / paper_se`.
    pub z: f64,
    /// One-sided `Phi(z)`.
    pub p: f64,
    /// `k_rho = 1 / E[rho^2]` of the whole spectrum (None: not computed).
    pub k_rho: Option<f64>,
    /// Corrected null mean (None: not computed).
    pub corrected_mean: Option<f64>,
    /// Which null to compare with: "corrected mean" when computed, else the
    /// paper's formula; `paper_mean`, `paper_se`, `z` and `p` are always
    /// the paper's App. C/D formula (known biased, C3, C4).
    pub reported_null: String,
}

/// The label of the paper's App. C/D null wherever it is reported.
pub const PAPER_NULL_LABEL: &str = "paper's App. C/D formula (known biased, see C3/C4)";

impl CouplingNull {
    /// The statistic of the projected matrix `cp` (k x k) with the null of
    /// the full matrix of trace `trace` and squared Frobenius norm
    /// `frobenius_sq`; the error text when it cannot be computed.
    pub fn of(
        cp: &Mat<f64>,
        trace: f64,
        frobenius_sq: f64,
        input: &str,
    ) -> std::result::Result<Self, crate::error::Failure> {
        let coupling =
            coupling_of_projected(cp.as_ref(), input).map_err(crate::error::Failure::from)?;
        if !(trace > 0.0 && frobenius_sq > 0.0) {
            return Err(crate::error::Failure::new(
                "ZeroMatrix",
                format!("{input}: zero matrix (tr {trace:e}, |.|_F^2 {frobenius_sq:e})"),
            ));
        }
        let mean = std::f64::consts::FRAC_2_PI.sqrt() * frobenius_sq.sqrt() / trace;
        let se = paper_se(mean, coupling.n_used);
        let (z, p) = z_and_p(coupling.rho_bar, mean, se);
        Ok(CouplingNull {
            coupling,
            trace,
            frobenius_sq,
            k_eff: trace * trace / frobenius_sq,
            paper_mean: mean,
            paper_se: se,
            z,
            p,
            k_rho: None,
            corrected_mean: None,
            reported_null: PAPER_NULL_LABEL.to_string(),
        })
    }

    /// Adds the corrected mean from the whole spectrum `mu` in dimension `d`
    /// (negative eigenvalues, rounding of a PSD matrix, count as 0).
    pub fn with_spectrum(
        mut self,
        mu: &[f64],
        d: usize,
    ) -> std::result::Result<Self, crate::error::Failure> {
        let mu: Vec<f64> = mu.iter().map(|x| x.max(0.0)).collect();
        let m = SpectrumMoments::of(&mu, d).map_err(crate::error::Failure::from)?;
        self.k_rho = Some(m.k_rho);
        self.corrected_mean = Some(corrected_mean(&m, d));
        self.reported_null = "corrected mean".to_string();
        Ok(self)
    }
}
