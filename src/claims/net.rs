//! What the trained-network checks of `superlinear net-claims` share: the
//! thresholds that turn the figures of [`crate::layer::figures`] into
//! verdicts (each `judge_net` of [`super::c3`], [`super::c6`], [`super::c7`]
//! (and its Remark 3.5 judgement), [`super::c8`], [`super::c13`],
//! [`super::c15`] reads its own), and the text helpers of
//! their key figures. All thresholds are settings with documented defaults;
//! the figures are always reported.

use serde::Serialize;

use super::{ClaimOutcome, Status};
use crate::layer::Fit;

/// Thresholds that turn net-claims figures into verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct NetThresholds {
    /// C3: rho_bar of C_k counts as below its Haar null when its z against
    /// the simulated null is below minus this (default 3).
    pub c3_min_abs_z: f64,
    /// C6: largest admissible Term II / Term I share on the top-k (default 0.1).
    pub c6_max_term2_share: f64,
    /// C6: largest admissible scale-free remainder
    /// `min_a sum E[((Dg - a T1).v)^2] / sum E[(Dg.v)^2]` on the top-k (default 0.25).
    pub c6_max_residual: f64,
    /// C6: largest admissible `|gamma_I - gamma_Dg|` (default 0.05).
    pub c6_gamma_tol: f64,
    /// C7: largest admissible `|gamma_I - gamma_iso|` (default 0.05).
    pub c7_gamma_tol: f64,
    /// C7 (Remark 3.5): level of the one-sided Monte Carlo tests "commutator
    /// below its null" and "decay slope steeper than its null" (default 0.01,
    /// the null's 1st percentile).
    pub c7_r35_alpha: f64,
    /// C8: largest admissible first-moment share on the top-k (default 0.1).
    pub c8_max_first_moment_share: f64,
    /// C8: largest `|slope + 1|` of `ln tr C_B` on `ln B` (default 0.1, with
    /// the slope's 2 SE) before the estimator check is flagged; never a verdict.
    pub c8_slope_tol: f64,
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
            c3_min_abs_z: 3.0,
            c6_max_term2_share: 0.1,
            c6_max_residual: 0.25,
            c6_gamma_tol: 0.05,
            c7_gamma_tol: 0.05,
            c7_r35_alpha: 0.01,
            c8_max_first_moment_share: 0.1,
            c8_slope_tol: 0.1,
            c13_gamma_tol: 0.05,
            c13_shape_tol: 0.1,
            c15_max_slope_drift: 0.5,
        }
    }
}

impl NetThresholds {
    /// Every threshold with its command-line name, for validation.
    pub fn named(&self) -> [(&'static str, f64); 11] {
        [
            ("c3-min-abs-z", self.c3_min_abs_z),
            ("c6-max-term2-share", self.c6_max_term2_share),
            ("c6-max-residual", self.c6_max_residual),
            ("c6-gamma-tol", self.c6_gamma_tol),
            ("c7-gamma-tol", self.c7_gamma_tol),
            ("c7-r35-alpha", self.c7_r35_alpha),
            ("c8-max-first-moment-share", self.c8_max_first_moment_share),
            ("c8-slope-tol", self.c8_slope_tol),
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

/// The structure figures of the last checkpoint, or the outcome saying why
/// there are none.
pub(crate) fn last_structure<'a>(
    figures: &crate::layer::NetFigures<'a>,
) -> Result<(usize, &'a crate::layer::StructureFigures), ClaimOutcome> {
    let Some(last) = figures.checkpoints.last() else {
        return Err(unchecked("no checkpoint analysed"));
    };
    match &last.structure {
        Some(s) => Ok((last.epoch, s)),
        None => Err(unchecked(
            "the structure figures were not measured at the last checkpoint",
        )),
    }
}

/// The outcome when the figures do not allow a verdict.
pub(crate) fn unchecked(why: &str) -> ClaimOutcome {
    ClaimOutcome::new(Status::Unchecked, why)
}
