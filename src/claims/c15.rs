//! C15 (Remark 5.2, Fig. 2a): gamma grows during training and the power law
//! `C_ii ~ H_ii^gamma` is visible well before convergence.
//!
//! No synthetic check (it is about training): `verify` reports C15 unchecked
//! and names `superlinear net-claims`, which fits gamma (OLS slope of
//! `ln C_ii` on `ln H_ii` over H's top-k, C from Eq. 2) and gamma_awd at every
//! checkpoint of a run, with gamma's bootstrap interval over samples (the
//! eigenbasis held fixed) and the form test ([`crate::layer::uncertainty`]).
//!
//! [`judge_net`] compares the first and last checkpoints:
//!
//! - **grows**: the last checkpoint's bootstrap interval lies entirely above
//!   the first's (`lo_last > hi_first`);
//! - **visible at the first checkpoint**: the form test there shows a power
//!   law: the observed `R^2` exceeds the 99th percentile of the Haar-rotated
//!   null's `R^2`, and the curvature's bootstrap interval reaches into
//!   `[-t, t]`, `t = c15_max_slope_drift / (2 ln(H_max / H_min))`, i.e. a
//!   curvature is admissible whose slope drift `2 |c| ln(H_max / H_min)`
//!   across the fitted range stays within `c15_max_slope_drift`
//!   ([`NetThresholds`]).
//!
//! Verified when both hold, otherwise a counterexample (an empirical claim).
//! With fewer than two checkpoints, or when gamma, its interval or the form
//! test cannot be computed at the first or last checkpoint, the status is
//! insufficient evidence.

use super::net::{gamma_text, NetThresholds};
use super::{ClaimOutcome, Status};
use crate::layer::{CheckpointFigures, FormTest, NetFigures};

fn insufficient(why: &str) -> ClaimOutcome {
    ClaimOutcome::new(Status::InsufficientEvidence, why)
}

/// Whether the form test shows a power law (module doc), with its text.
pub fn power_law_visible(
    form: &FormTest,
    curvature_ci: (f64, f64),
    t: &NetThresholds,
) -> (bool, String) {
    let tol = if form.log_range_h > 0.0 {
        t.c15_max_slope_drift / (2.0 * form.log_range_h)
    } else {
        0.0
    };
    let above_null = form.r_squared > form.null_q99;
    let flat = curvature_ci.0 <= tol && curvature_ci.1 >= -tol;
    (
        above_null && flat,
        format!(
            "R^2 {:.3} vs rotated null q99 {:.3} (p {:.3}, floor {:.3}), curvature CI [{:.3}, {:.3}] vs +-{:.3}",
            form.r_squared,
            form.null_q99,
            form.p_value,
            form.p_floor,
            curvature_ci.0,
            curvature_ci.1,
            tol
        ),
    )
}

fn ci_text(c: &CheckpointFigures) -> String {
    match c.gamma_uncertainty.as_ref().map(|u| &u.bootstrap) {
        Ok(Ok(b)) => format!("[{:.3}, {:.3}]", b.gamma_ci.0, b.gamma_ci.1),
        _ => "[n/a]".into(),
    }
}

/// C15's verdict from the figures of a run (module doc).
pub fn judge_net(figures: &NetFigures<'_>, t: &NetThresholds) -> ClaimOutcome {
    let cps = figures.checkpoints;
    let (Some(first), Some(last)) = (cps.first(), cps.last()) else {
        return insufficient("no checkpoint analysed");
    };
    if cps.len() < 2 {
        return insufficient("one checkpoint; growth needs at least two");
    }
    let (Ok(g0), Ok(g1)) = (&first.gamma, &last.gamma) else {
        return insufficient("gamma could not be fitted at the first or last checkpoint");
    };
    let boot = |c: &CheckpointFigures| match &c.gamma_uncertainty {
        Ok(u) => u.bootstrap.as_ref().ok().cloned(),
        Err(_) => None,
    };
    let (Some(b0), Some(b1)) = (boot(first), boot(last)) else {
        return insufficient("no bootstrap interval of gamma at the first or last checkpoint");
    };
    let Some(form) = first
        .gamma_uncertainty
        .as_ref()
        .ok()
        .and_then(|u| u.form.as_ref().ok())
    else {
        return insufficient("no form test at the first checkpoint");
    };
    let grows = b1.gamma_ci.0 > b0.gamma_ci.1;
    let (early, form_text) = power_law_visible(form, b0.curvature_ci, t);
    let details = cps
        .iter()
        .map(|c| {
            format!(
                "epoch {:>4}: train acc {}, loss {}, gamma {} {} (R^2 {}), gamma_awd {}",
                c.epoch,
                c.train_accuracy.map_or("n/a".into(), |a| format!("{a:.4}")),
                c.train_loss.map_or("n/a".into(), |a| format!("{a:.4}")),
                gamma_text(&c.gamma),
                ci_text(c),
                c.gamma
                    .as_ref()
                    .map_or("n/a".into(), |f| format!("{:.3}", f.r_squared)),
                gamma_text(&c.gamma_awd)
            )
        })
        .collect();
    let mut outcome = ClaimOutcome::new(
        if grows && early {
            Status::Verified
        } else {
            Status::Counterexample
        },
        format!(
            "gamma {:.3} [{:.3}, {:.3}] (epoch {}) -> {:.3} [{:.3}, {:.3}] (epoch {}), {:.0}% bootstrap CIs over samples, basis fixed; grows {}, visible at first checkpoint {} ({})",
            g0.gamma,
            b0.gamma_ci.0,
            b0.gamma_ci.1,
            first.epoch,
            g1.gamma,
            b1.gamma_ci.0,
            b1.gamma_ci.1,
            last.epoch,
            100.0 * b0.level,
            if grows { "yes" } else { "no" },
            if early { "yes" } else { "no" },
            form_text
        ),
    )
    .with("gamma_first", g0.gamma)
    .with("gamma_last", g1.gamma)
    .with("gamma_first_ci_low", b0.gamma_ci.0)
    .with("gamma_first_ci_high", b0.gamma_ci.1)
    .with("gamma_last_ci_low", b1.gamma_ci.0)
    .with("gamma_last_ci_high", b1.gamma_ci.1)
    .with("r_squared_first", g0.r_squared)
    .with("null_r_squared_q99_first", form.null_q99)
    .with("curvature_first", form.curvature);
    outcome.details = details;
    outcome
}
