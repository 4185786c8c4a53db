//! C12 (App. E.4.3, Eq. 96-114): the random shifts model on the synthetic
//! loss of [`crate::shifts`], `L = sum_i (lambda_i/2) s_i^2 + (kappa_i/6) s_i^3`,
//! lambda_i over 3 decades on a Haar frame, batch loss `L(w - eps)`.
//!
//! Three measurements (every Monte Carlo from fixed seeds):
//! 1. **Leading order.** Constant third derivative (`kappa_i = 1`, not
//!    self-similar) and `rho_max = sigma kappa / lambda_min = 0.01`: the Monte
//!    Carlo C (Eq. 2) must match the exact `sigma^2 lambda^2 + kappa^2
//!    sigma^4 / 2` direction by direction within the sample-count tolerance
//!    ([`covariance_tolerance`], z = 5), and the 95% bootstrap interval of the
//!    fitted gamma (resampling batches) must contain 2.
//! 2. **Departure.** Constant kappa, `rho_max` swept over 0.01 ... 30: gamma of
//!    the exact C and of the Monte Carlo C, and the `rho_max` at which the
//!    exact gamma first drops below 1.95 (bisection on the exact formula).
//! 3. **Self-similarity (Eq. 110-114).** gamma_awd (`v_i^T E[h^2] v_i` of the
//!    per-batch Hessians on `H_ii`), exact and Monte Carlo, for `kappa_i =
//!    c lambda_i` (`sigma c = 0.3`: C10 with `alpha = 0.09`, gamma_awd = 2) and
//!    for constant kappa at `sigma kappa = 0.01` (ten times lambda_min; 4 N batches):
//!    gamma_awd over all directions and its local slope over the lowest
//!    decade, which falls towards 0; with the fraction of negative per-batch
//!    eigenvalues (the PSD assumption of C9 broken).
//!
//! Verified: (1) holds, the self-similar gamma_awd is 2 within 3 standard errors
//! and the constant-kappa gamma_awd is below 1.5 (the "iff"). Otherwise
//! counterexample (an asymptotic claim measured off its statement).

use crate::claims::{CheckSettings, ClaimOutcome, Status};
use crate::error::Result;
use crate::fit::{bootstrap_ci, fit_gamma, fit_power_law, FitRule, GammaFit};
use crate::linalg::seeded_stream;
use crate::shifts::{covariance_tolerance, ShiftsModel, ShiftsSpec};
use rand::Rng as _;

/// Dimension and number of curved directions of the check's model.
pub const D: usize = 30;
/// Decades spanned by lambda.
pub const DECADES: f64 = 3.0;
/// Batches of the leading-order Monte Carlo.
pub const BATCHES: usize = 4000;
/// Bootstrap replicates.
pub const REPS: usize = 100;

fn spec(seed: u64, kappa_scale: f64, kappa_exponent: f64) -> ShiftsSpec {
    ShiftsSpec {
        d: D,
        m: D,
        decades: DECADES,
        kappa_scale,
        kappa_exponent,
        seed,
    }
}

fn rule() -> FitRule {
    FitRule::default_for(D, D)
}

/// gamma of the exact C (sorted by lambda, descending as the model is).
pub fn exact_gamma(model: &ShiftsModel, sigma: f64) -> Result<GammaFit> {
    fit_gamma(model.lambda(), &model.covariance_exact_diag(sigma), &rule())
}

/// The smallest `rho_max = sigma kappa / lambda_min` (constant kappa) at which
/// the exact gamma drops to `level`, by bisection on `ln rho` in [1e-3, 1e3].
pub fn departure_ratio(model: &ShiftsModel, level: f64) -> Result<f64> {
    let lmin = model.lambda().iter().cloned().fold(f64::INFINITY, f64::min);
    let kmax = model.kappa().iter().fold(0.0f64, |m, k| m.max(k.abs()));
    let g = |rho: f64| exact_gamma(model, rho * lmin / kmax).map(|f| f.gamma);
    let (mut lo, mut hi) = (1e-3f64.ln(), 1e3f64.ln());
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if g(mid.exp())? > level {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok((0.5 * (lo + hi)).exp())
}

/// Local log-log slope of y on x over the entries with `x <= x_max`.
fn tail_slope(x: &[f64], y: &[f64], x_max: f64) -> Result<f64> {
    let (xs, ys): (Vec<f64>, Vec<f64>) = x
        .iter()
        .zip(y)
        .filter(|(a, _)| **a <= x_max)
        .map(|(a, b)| (*a, *b))
        .unzip();
    Ok(fit_power_law(&xs, &ys)?.slope)
}

/// Runs the three measurements.
pub fn check(settings: &CheckSettings) -> Result<ClaimOutcome> {
    let seed = settings.seed;
    let mut rng = seeded_stream(seed, 12);
    let mut details = Vec::new();

    // 1. Leading order, constant kappa, rho_max = 0.01.
    let constant = spec(seed, 1.0, 0.0).build()?;
    let lmin = 10f64.powf(-DECADES);
    let sigma = 0.01 * lmin;
    let mc = constant.sample(sigma, BATCHES, rng.random())?;
    let c_frame = mc.covariance_on_frame(&constant)?;
    let exact = constant.covariance_exact_diag(sigma);
    let tol = covariance_tolerance(&constant, sigma, BATCHES, 5.0);
    let worst = (0..D)
        .map(|i| (c_frame[i] - exact[i]).abs() / tol[i])
        .fold(0.0f64, f64::max);
    let mc_ok = worst <= 1.0;
    let diag = mc.diagonals(&constant, None)?;
    let mut g_mc = fit_gamma(&diag.h, &diag.c, &rule())?;
    let ci = bootstrap_ci(BATCHES, REPS, 0.95, rng.random(), &rule(), |idx| {
        let d = mc.diagonals(&constant, Some(idx))?;
        Ok((d.h, d.c))
    })?;
    g_mc.ci = Some(ci);
    let leading_ok = ci.0 <= 2.0 && 2.0 <= ci.1;
    details.push(format!(
        "leading order (kappa = 1, rho_max = 0.01, {BATCHES} batches): MC C within z=5 tolerance in every direction (worst |err|/tol = {worst:.2}); gamma_MC = {:.4} +- {:.4}, 95% CI [{:.4}, {:.4}]; exact gamma = {:.5}",
        g_mc.gamma, g_mc.std_err, ci.0, ci.1, exact_gamma(&constant, sigma)?.gamma
    ));

    // 2. Departure with rho_max.
    let mut sweep = Vec::new();
    for rho in [0.01, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0] {
        let s = rho * lmin;
        let ge = exact_gamma(&constant, s)?.gamma;
        let sample = constant.sample(s, BATCHES / 2, rng.random())?;
        let d = sample.diagonals(&constant, None)?;
        let gm = fit_gamma(&d.h, &d.c, &rule())?.gamma;
        sweep.push((rho, ge, gm, sample.negative_fraction()));
    }
    let rho_star = departure_ratio(&constant, 1.95)?;
    for (rho, ge, gm, neg) in &sweep {
        details.push(format!(
            "departure (kappa = 1): rho_max = sigma kappa / lambda_min = {rho}: gamma exact {ge:.3}, MC {gm:.3}; negative per-batch eigenvalues {:.2}%",
            100.0 * neg
        ));
    }
    details.push(format!(
        "exact gamma drops below 1.95 at rho_max = {rho_star:.3} (3 decades of lambda, constant kappa)"
    ));

    // 3. Self-similarity.
    let sigma3 = 0.03;
    let selfsim = spec(seed, 0.3 / sigma3, 1.0).build()?;
    let g_ss_exact = fit_gamma(
        selfsim.lambda(),
        &selfsim.awd_second_moment_diag(sigma3),
        &rule(),
    )?;
    let s_ss = selfsim.sample(sigma3, BATCHES, rng.random())?;
    let d_ss = s_ss.diagonals(&selfsim, None)?;
    let g_ss = fit_gamma(&d_ss.h, &d_ss.second, &rule())?;
    let alpha: Vec<f64> = (0..D)
        .map(|i| d_ss.second[i] / (d_ss.h[i] * d_ss.h[i]) - 1.0)
        .collect();
    let (amin, amax) = alpha
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        });
    let ss_ok = (g_ss.gamma - 2.0).abs() <= 3.0 * g_ss.std_err.max(1e-3);
    details.push(format!(
        "self-similar (kappa = c lambda, sigma c = 0.3): gamma_awd exact {:.4}, MC {:.4} +- {:.4}; MC alpha = E[h^2]_ii/H_ii^2 - 1 in [{amin:.3}, {amax:.3}] (C10 alpha = 0.09); negative eigenvalues {:.3}%",
        g_ss_exact.gamma, g_ss.gamma, g_ss.std_err, 100.0 * s_ss.negative_fraction()
    ));
    // Constant kappa: sigma kappa = 0.01, ten times lambda_min. The Monte
    // Carlo H carries an error ~ sigma kappa / sqrt(N) per direction, so this
    // part uses 4 N batches.
    let sigma_c = 0.01;
    let s_c = constant.sample(sigma_c, 4 * BATCHES, rng.random())?;
    let d_c = s_c.diagonals(&constant, None)?;
    let g_c = fit_gamma(&d_c.h, &d_c.second, &rule())?;
    let g_c_exact = fit_gamma(
        constant.lambda(),
        &constant.awd_second_moment_diag(sigma_c),
        &rule(),
    )?;
    let low = 10f64.powf(1.0 - DECADES);
    let tail_exact = tail_slope(
        constant.lambda(),
        &constant.awd_second_moment_diag(sigma_c),
        low,
    )?;
    let tail_mc = tail_slope(&d_c.h, &d_c.second, low)?;
    let tail_c = tail_slope(&d_c.h, &d_c.c, low)?;
    let const_ok = g_c.gamma < 1.5;
    details.push(format!(
        "constant kappa = 1, sigma = {sigma_c}: gamma_awd exact {:.3}, MC {:.3}; local slope over the lowest decade of lambda: exact {tail_exact:.3}, MC {tail_mc:.3} (of C: {tail_c:.3}); negative eigenvalues {:.1}%",
        g_c_exact.gamma, g_c.gamma, 100.0 * s_c.negative_fraction()
    ));
    let awd_excess = {
        let i = D - 1;
        sigma_c * sigma_c * constant.awd_second_moment_diag(sigma_c)[i]
            / constant.covariance_exact_diag(sigma_c)[i]
    };
    details.push(format!(
        "AWD identification C = sigma^2 E[h^2] (C7) is off by kappa^2 sigma^4 / 2: at lambda_min, constant kappa, sigma = {sigma_c}: sigma^2 E[h^2] / C = {awd_excess:.3}"
    ));

    let pass = mc_ok && leading_ok && ss_ok && const_ok;
    let mut out = ClaimOutcome::new(
        Status::verified_if(pass),
        format!(
            "gamma_MC {:.3} [{:.3}, {:.3}] at rho 0.01; <1.95 past rho {:.2}; gamma_awd {:.3} (kappa~lambda) vs {:.3} (kappa const)",
            g_mc.gamma, ci.0, ci.1, rho_star, g_ss.gamma, g_c.gamma
        ),
    )
    .with("gamma_mc_leading", g_mc.gamma)
    .with("gamma_mc_ci_lo", ci.0)
    .with("gamma_mc_ci_hi", ci.1)
    .with("mc_worst_err_over_tol", worst)
    .with("departure_rho_gamma_1_95", rho_star)
    .with("gamma_awd_self_similar", g_ss.gamma)
    .with("gamma_awd_constant_kappa", g_c.gamma)
    .with("gamma_awd_constant_kappa_low_decade_slope", tail_mc);
    for (rho, ge, gm, _) in &sweep {
        out = out
            .with(&format!("gamma_exact_rho_{rho}"), *ge)
            .with(&format!("gamma_mc_rho_{rho}"), *gm);
    }
    out.details = details;
    Ok(out)
}
