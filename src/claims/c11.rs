//! C11 (Prop. 5.5, App. E.4.2): spectral degeneracy gives gamma = 1.
//!
//! Each sample is rank-1 with an i.i.d. log-normal eigenvalue (moments m1, m2,
//! independent of the direction) on a global direction q_i chosen with
//! probability `pi_i ~ 1/(i+1)` independently of the eigenvalue, and nearly
//! aligned (spread angle 0.02). Then `H_ii ~ pi_i m1` and `S_ii ~ pi_i m2`, so
//! `S_ii / H_ii = m2 / m1` is constant and gamma = 1. We report gamma with its
//! bootstrap interval and the spread of `S_ii / H_ii` against `m2 / m1`.

use crate::claims::{CheckSettings, ClaimOutcome, Status};
use crate::ensemble::{Alignment, EigenLaw, EnsembleSpec};
use crate::error::Result;
use crate::fit::{fit_gamma, FitRule};
use crate::moments::Moments;
use crate::stats::mean;

/// Runs the check.
pub fn check(settings: &CheckSettings) -> Result<ClaimOutcome> {
    let d = 30;
    let n = 6000;
    let jitter = 0.5;
    let spec = EnsembleSpec {
        jitter,
        ..EnsembleSpec::new(
            d,
            n,
            1,
            EigenLaw::Equal,
            Alignment::Entangled {
                coupling: 0.0,
                spread: 0.02,
                directions: 10,
            },
            settings.seed,
        )
    };
    let ens = spec.generate()?;
    let l = ens.eigenvalues();
    let m1 = mean(l);
    let m2 = mean(&l.iter().map(|x| x * x).collect::<Vec<_>>());
    let m = Moments::compute(&ens)?;
    let top = 10;
    let fit = fit_gamma(m.h_diag(), &m.second_diag, &FitRule::default_for(top, d))?;
    let ratios: Vec<f64> = (0..top).map(|i| m.second_diag[i] / m.h_diag()[i]).collect();
    let rmin = ratios.iter().cloned().fold(f64::INFINITY, f64::min);
    let rmax = ratios.iter().cloned().fold(0.0, f64::max);
    // Tolerance from the sampling error of gamma: 4 standard errors, at least 0.05.
    let tol = (4.0 * fit.std_err).max(0.05);
    let verdict = if (fit.gamma - 1.0).abs() <= tol {
        Status::Verified
    } else {
        Status::Counterexample
    };
    let _ = settings.cases;
    Ok(ClaimOutcome::new(
        verdict,
        format!(
            "gamma {:.3} +- {:.3} (top {top}); S_ii/H_ii in [{rmin:.3}, {rmax:.3}] vs m2/m1 = {:.3}",
            fit.gamma,
            fit.std_err,
            m2 / m1
        ),
    )
    .with("gamma", fit.gamma)
    .with("gamma_std_err", fit.std_err)
    .with("ratio_min", rmin)
    .with("ratio_max", rmax)
    .with("m2_over_m1", m2 / m1)
    .detail(format!(
        "d = {d}, n = {n}, rank-1 samples, log-normal eigenvalues (relative variance {jitter}), direction independent of eigenvalue, spread 0.02 rad"
    )))
}
