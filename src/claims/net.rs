//! What the trained-network checks of `superlinear net-claims` share: the
//! thresholds that turn the figures of [`crate::layer::figures`] into
//! verdicts (each `judge_net` of [`super::c6`], [`super::c7`],
//! [`super::c13`], [`super::c15`] reads its own), and the text helpers of
//! their key figures. All thresholds are settings with documented defaults;
//! the figures are always reported.

use serde::Serialize;

use super::{ClaimOutcome, Verdict};
use crate::layer::Fit;

/// Thresholds that turn net-claims figures into verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct NetThresholds {
    /// C6: largest admissible Term II / Term I share on the top-k (default 0.1).
    pub c6_max_term2_share: f64,
    /// C6: largest admissible `|Dg - T1|^2 / |Dg|^2` on the top-k (default 0.25).
    pub c6_max_residual: f64,
    /// C7: largest admissible `|gamma_I - gamma_iso|` (default 0.05).
    pub c7_gamma_tol: f64,
    /// C13: gamma change that counts as a change (default 0.05).
    pub c13_gamma_tol: f64,
    /// C13: largest median top-k shape change of H under tails-only suppression (default 0.1).
    pub c13_shape_tol: f64,
    /// C15: largest slope drift `2 |c| ln(H_max / H_min)` of the form test's
    /// curvature c across the fitted range that still counts as a power law
    /// (default 0.5; `super::c15`).
    pub c15_max_slope_drift: f64,
}

impl Default for NetThresholds {
    fn default() -> Self {
        NetThresholds {
            c6_max_term2_share: 0.1,
            c6_max_residual: 0.25,
            c7_gamma_tol: 0.05,
            c13_gamma_tol: 0.05,
            c13_shape_tol: 0.1,
            c15_max_slope_drift: 0.5,
        }
    }
}

impl NetThresholds {
    /// Every threshold with its command-line name, for validation.
    pub fn named(&self) -> [(&'static str, f64); 6] {
        [
            ("c6-max-term2-share", self.c6_max_term2_share),
            ("c6-max-residual", self.c6_max_residual),
            ("c7-gamma-tol", self.c7_gamma_tol),
            ("c13-gamma-tol", self.c13_gamma_tol),
            ("c13-shape-tol", self.c13_shape_tol),
            ("c15-max-slope-drift", self.c15_max_slope_drift),
        ]
    }
}

/// gamma with 3 decimals, or "n/a" when the fit failed.
pub fn gamma_text(f: &Fit) -> String {
    match f {
        Ok(f) => format!("{:.3}", f.gamma),
        Err(_) => "n/a".into(),
    }
}

/// gamma, or NaN when the fit failed.
pub(crate) fn gamma_or_nan(f: &Fit) -> f64 {
    f.as_ref().map(|f| f.gamma).unwrap_or(f64::NAN)
}

/// The outcome when the figures do not allow a verdict.
pub(crate) fn unchecked(why: &str) -> ClaimOutcome {
    ClaimOutcome::new(Verdict::Unchecked, why)
}
