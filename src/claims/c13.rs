//! C13 (Sec. 5.3, App. B.3, Eq. 23-27): eigenvalue-alignment entanglement
//! and the suppression experiment, on synthetic rank-1-dominated ensembles
//! (`Alignment::Entangled`: the top eigenvector of each sample sits near a
//! global direction chosen through a Gaussian copula with the log of its
//! eigenvalue, correlation `coupling`; tails at 1% of the mean top
//! eigenvalue, `EigenLaw::SpikedBulk { spikes: 1, ratio: 0.01 }`).
//!
//! Measured, for coupling in {0, 0.25, 0.5, 0.75, 1} on the same seed
//! (d = 40, n = 2000, rank 3, 20 global directions, spread 0.2, fit over the
//! top 20 directions of H):
//! - gamma_awd (`v_i^T E[h^2] v_i` on `H_ii`, exact moments of the ensemble);
//!   at coupling 0 it must be within 3 OLS standard errors of 1. The
//!   bootstrap interval (resampling samples) is reported but not used:
//!   gamma has a finite-n upward bias here (the `lambda_p1`-mean along a
//!   direction fluctuates with the few samples on it and moves `H_ii` and
//!   `C_ii / H_ii` together; measured at coupling 0 over 5 seeds: mean gamma
//!   1.06 at n = 500, 1.013 at n = 2000, 1.009 at n = 8000), which neither
//!   the percentile nor the basic bootstrap interval captures (at seed 2 both
//!   exclude 1 while gamma = 1.040 +- 0.019). For coupling > 0 gamma must
//!   exceed 1 by 2 standard errors and
//!   increase strictly with the coupling;
//! - the entanglement diagnostic ([`crate::suppression::entanglement`]):
//!   the worst relative gap between `C_ii / H_ii` and the rank-1 prediction
//!   `E[lambda_p1^2 a_pi] / E[lambda_p1 a_pi]`, and the correlation of
//!   `lambda_p1` with `a_p1` on the top direction;
//! - suppression with the default [`SuppressionConfig`] (homogenize stiff
//!   samples): gamma_awd after must be below gamma_awd before for every
//!   coupling > 0; and the rank-1-dominance test (tails times 1e-3, magnitudes
//!   kept): how far the shapes of the H and E[h^2] diagonals move.
//!
//! - the tail confound (reported, not a pass condition): at coupling 0 with
//!   tails at 10% of the mean top eigenvalue (`SpikedBulk` ratio 1, the
//!   generator's tail level), gamma_awd before, after suppressing the tails
//!   only, and after the full procedure.
//!
//! Verified when every condition holds, counterexample otherwise (an
//! asymptotic claim measured off its statement).

use crate::claims::{CheckSettings, ClaimOutcome, Status};
use crate::ensemble::{Alignment, EigenLaw, Ensemble, EnsembleSpec};
use crate::error::Result;
use crate::fit::{bootstrap_ci, FitRule};
use crate::moments::Moments;
use crate::suppression::{entanglement, suppression_effect, SuppressionConfig};

/// The couplings swept.
pub const COUPLINGS: [f64; 5] = [0.0, 0.25, 0.5, 0.75, 1.0];
/// Global directions (and the fit's top-k).
pub const DIRECTIONS: usize = 20;
/// Bootstrap replicates at coupling 0.
pub const REPS: usize = 100;

/// The check's ensemble recipe at a given coupling.
pub fn spec(coupling: f64, seed: u64) -> EnsembleSpec {
    EnsembleSpec::new(
        40,
        2000,
        3,
        EigenLaw::SpikedBulk {
            spikes: 1,
            ratio: 0.01,
        },
        Alignment::Entangled {
            coupling,
            spread: 0.2,
            directions: DIRECTIONS,
        },
        seed,
    )
}

/// Worst relative gap between the exact ratio and the rank-1 prediction.
fn rank1_gap(ens: &Ensemble, m: &Moments) -> Result<(f64, Option<f64>)> {
    let e = entanglement(ens, m, DIRECTIONS)?;
    let gap = e
        .ratio
        .iter()
        .zip(&e.rank1_ratio)
        .map(|(a, b)| (a - b).abs() / a.abs())
        .fold(0.0f64, f64::max);
    Ok((gap, e.correlation[0]))
}

/// Runs the sweep.
pub fn check(settings: &CheckSettings) -> Result<ClaimOutcome> {
    let seed = settings.seed;
    let rule = FitRule::default_for(DIRECTIONS, 40);
    let mut rows = Vec::new();
    let mut details = Vec::new();
    let mut ci0 = (f64::NAN, f64::NAN);
    for (t, &c) in COUPLINGS.iter().enumerate() {
        let ens = spec(c, seed).generate()?;
        let eff = suppression_effect(&ens, &SuppressionConfig::default(), DIRECTIONS)?;
        let tails = suppression_effect(&ens, &SuppressionConfig::tails_only(1e-3), DIRECTIONS)?;
        let m = Moments::compute(&ens)?;
        let (gap, corr1) = rank1_gap(&ens, &m)?;
        if t == 0 {
            ci0 = bootstrap_ci(ens.n(), REPS, 0.95, seed ^ 13, &rule, |idx| {
                let m = Moments::compute(&ens.select(idx)?)?;
                Ok((m.h_diag().to_vec(), m.second_diag))
            })?;
        }
        details.push(format!(
            "coupling {c}: gamma_awd {:.3} +- {:.3} (R^2 {:.3}); suppressed (q = 0.1, {} stiff) {:.3}; tails x1e-3: gamma {:.3}, H shape moves {:.1}%, E[h^2] shape {:.1}%; C_ii/H_ii vs rank-1 prediction worst gap {:.1}%; corr(lambda_p1, a_p1) = {}",
            eff.before.gamma,
            eff.before.std_err,
            eff.before.r_squared,
            eff.stiff,
            eff.after.gamma,
            tails.after.gamma,
            100.0 * tails.h_shape_change,
            100.0 * tails.c_shape_change,
            100.0 * gap,
            corr1.map_or("undefined".into(), |r| format!("{r:.2}")),
        ));
        rows.push((c, eff, corr1));
    }
    let mut heavy = spec(0.0, seed);
    heavy.law = EigenLaw::SpikedBulk {
        spikes: 1,
        ratio: 1.0,
    };
    let heavy = heavy.generate()?;
    let h_full = suppression_effect(&heavy, &SuppressionConfig::default(), DIRECTIONS)?;
    let h_tails = suppression_effect(&heavy, &SuppressionConfig::tails_only(1e-3), DIRECTIONS)?;
    details.push(format!(
        "tail confound, coupling 0, tails at 10% of the top: gamma_awd {:.3} +- {:.3}; tails x1e-3 only: {:.3}; full suppression: {:.3} (suppression lowers gamma without any entanglement)",
        h_full.before.gamma, h_full.before.std_err, h_tails.after.gamma, h_full.after.gamma
    ));
    let gammas: Vec<f64> = rows.iter().map(|r| r.1.before.gamma).collect();
    let g0 = gammas[0];
    let basic0 = (2.0 * g0 - ci0.1, 2.0 * g0 - ci0.0);
    let se0 = rows[0].1.before.std_err;
    let zero_ok = (g0 - 1.0).abs() <= 3.0 * se0;
    let monotone = gammas.windows(2).all(|w| w[1] > w[0]);
    let superlinear = rows
        .iter()
        .skip(1)
        .all(|r| r.1.before.gamma > 1.0 + 2.0 * r.1.before.std_err);
    let lowered = rows
        .iter()
        .skip(1)
        .all(|r| r.1.after.gamma < r.1.before.gamma);
    details.insert(
        0,
        format!(
            "coupling 0: gamma_awd {g0:.3} {} 1 +- 3 se ({:.3}); 95% bootstrap CI basic [{:.3}, {:.3}], percentile [{:.3}, {:.3}] (finite-n bias, see the module doc); monotone in coupling: {monotone}; gamma > 1 + 2 se for coupling > 0: {superlinear}; suppression lowers gamma for coupling > 0: {lowered}",
            if zero_ok { "within" } else { "outside" },
            3.0 * se0,
            basic0.0,
            basic0.1,
            ci0.0,
            ci0.1
        ),
    );
    let pass = zero_ok && monotone && superlinear && lowered;
    let mut out = ClaimOutcome::new(
        if pass {
            Status::Verified
        } else {
            Status::Counterexample
        },
        format!(
            "gamma_awd {} over coupling {{0,.25,.5,.75,1}}; suppressed {}",
            gammas
                .iter()
                .map(|g| format!("{g:.2}"))
                .collect::<Vec<_>>()
                .join("/"),
            rows.iter()
                .map(|r| format!("{:.2}", r.1.after.gamma))
                .collect::<Vec<_>>()
                .join("/")
        ),
    )
    .with("gamma_coupling0_basic_ci_lo", basic0.0)
    .with("gamma_coupling0_basic_ci_hi", basic0.1)
    .with("tail_confound_gamma", h_full.before.gamma)
    .with("tail_confound_gamma_tails_suppressed", h_tails.after.gamma);
    for (c, eff, corr1) in &rows {
        out = out
            .with(&format!("gamma_awd_coupling_{c}"), eff.before.gamma)
            .with(
                &format!("gamma_awd_suppressed_coupling_{c}"),
                eff.after.gamma,
            );
        if let Some(r) = corr1 {
            out = out.with(&format!("corr_top_direction_coupling_{c}"), *r);
        }
    }
    out.details = details;
    Ok(out)
}

// ---------------------------------------------------------------------------
// On a trained network (`superlinear net-claims`).

/// C13 on a trained network, at the last checkpoint of a run, from the
/// suppression runs of [`crate::layer::figures`]: the homogenised run
/// (Eq. 24-27 with the configured thresholds) changes gamma_awd by `dg`; the
/// tails-only run (every principal mode kept, tails scaled) moves the top-k
/// shape of H (median relative change of `H_ii / H_11`). Verified when that
/// shape change is `<= c13_shape_tol` ("the spectra barely move") and `dg <
/// -c13_gamma_tol` for cross-entropy (gamma falls) or `|dg| <= c13_gamma_tol`
/// for softmax-MSE (gamma stays); else counterexample; unchecked when the
/// suppression was not run or gamma_awd cannot be fitted before or after.
pub fn judge_net(
    figures: &crate::layer::NetFigures<'_>,
    t: &super::net::NetThresholds,
) -> ClaimOutcome {
    use super::net::{gamma_text, unchecked};
    use crate::loss::Loss;
    let Some(last) = figures.checkpoints.last() else {
        return unchecked("no checkpoint analysed");
    };
    let p = &last.pairs;
    let Some(sup) = figures.suppression else {
        return unchecked("suppression not run");
    };
    let (Ok(b), Ok(h)) = (&sup.before, &sup.homogenized.gamma_awd) else {
        return unchecked("gamma_awd could not be fitted before or after");
    };
    let tails_factor = sup.tails_only.config.stiff_tail;
    let dg = h.gamma - b.gamma;
    let shape_ok = sup.tails_only.h_shape_change_median <= t.c13_shape_tol;
    let gamma_ok = match figures.loss {
        Loss::CrossEntropy => dg < -t.c13_gamma_tol,
        Loss::SoftmaxMse => dg.abs() <= t.c13_gamma_tol,
        Loss::LogitMse => {
            return unchecked("C13 predicts for cross-entropy and softmax-MSE only");
        }
    };
    let mut details = vec![
        format!(
            "homogenised (q {}, stiff tail {}, background top {}, tail {}): tau {:.3e}, {} stiff, gamma_awd {:.3} -> {:.3}, H shape change median {:.3}, E[h^2] median {:.3}",
            sup.homogenized.config.q,
            sup.homogenized.config.stiff_tail,
            sup.homogenized.config.background_top,
            sup.homogenized.config.background_tail,
            sup.homogenized.tau,
            sup.homogenized.stiff,
            b.gamma,
            h.gamma,
            sup.homogenized.h_shape_change_median,
            sup.homogenized.second_shape_change_median
        ),
        format!(
            "tails only (factor {}): gamma_awd {}, H shape change top-10 max {:.3}, median {:.3} (max {:.3}), E[h^2] shape change median {:.3} (max {:.3})",
            tails_factor,
            gamma_text(&sup.tails_only.gamma_awd),
            sup.tails_only.h_shape_change_top10,
            sup.tails_only.h_shape_change_median,
            sup.tails_only.h_shape_change,
            sup.tails_only.second_shape_change_median,
            sup.tails_only.second_shape_change
        ),
        format!(
            "mean-replaced (q 0: every lambda_p1 -> mean {:.3e}, tails x {}): gamma_awd {} (vs tails-only {}), H shape change median {:.3}, E[h^2] median {:.3}",
            sup.mean_replaced.stiff_mean,
            tails_factor,
            gamma_text(&sup.mean_replaced.gamma_awd),
            gamma_text(&sup.tails_only.gamma_awd),
            sup.mean_replaced.h_shape_change_median,
            sup.mean_replaced.second_shape_change_median
        ),
        format!(
            "entanglement corr(lambda_p1, (u_p1.v_i)^2): mean over top-k {:.3}, top 10 {:.3}",
            p.entanglement_mean, p.entanglement_top10
        ),
    ];
    details.push(match &sup.homogenized_bootstrap {
        Ok(bs) => format!(
            "{:.0}% bootstrap over samples ({} replicates; suppression and bases held fixed): gamma_awd [{:.3}, {:.3}] -> [{:.3}, {:.3}], shift [{:+.3}, {:+.3}]",
            100.0 * bs.level,
            bs.replicates,
            bs.gamma_awd_before_ci.0,
            bs.gamma_awd_before_ci.1,
            bs.gamma_awd_after_ci.0,
            bs.gamma_awd_after_ci.1,
            bs.shift_ci.0,
            bs.shift_ci.1
        ),
        Err(e) => format!("bootstrap of the shift: not computed ({e})"),
    });
    let mut outcome = ClaimOutcome::new(
        if shape_ok && gamma_ok {
            Status::Verified
        } else {
            Status::Counterexample
        },
        format!(
            "epoch {}: gamma_awd {:.3} -> {:.3} homogenised ({:+.3}, tol {}), tails-only H shape change median {:.3} (<= {})",
            last.epoch, b.gamma, h.gamma, dg, t.c13_gamma_tol, sup.tails_only.h_shape_change_median, t.c13_shape_tol
        ),
    )
    .with("gamma_awd_before", b.gamma)
    .with("gamma_awd_homogenized", h.gamma)
    .with("tails_only_h_shape_change_median", sup.tails_only.h_shape_change_median);
    outcome.details = details;
    outcome
}
