//! C15 (Remark 5.2, Fig. 2a): gamma grows during training and the power law
//! `C_ii ~ H_ii^gamma` is visible well before convergence.
//!
//! No synthetic check (it is about training): `verify` reports C15 unchecked
//! and names `superlinear net-claims`, which fits gamma (OLS slope of
//! `ln C_ii` on `ln H_ii` over H's top-k, C from Eq. 2) and gamma_awd at every
//! checkpoint of a run ([`crate::layer::figures`]).
//!
//! [`judge_net`] compares the first and last checkpoints: Verified when
//! `gamma_last - gamma_first > 2 sqrt(se_first^2 + se_last^2)` (grows by more
//! than twice the combined standard error) and the first fit already has
//! `R^2 >= c15_min_r2` ([`NetThresholds`]); otherwise counterexample (an empirical
//! claim).

use super::net::{gamma_text, unchecked, NetThresholds};
use super::{ClaimOutcome, Status};
use crate::layer::NetFigures;

/// C15's verdict from the figures of a run (module doc).
pub fn judge_net(figures: &NetFigures<'_>, t: &NetThresholds) -> ClaimOutcome {
    let cps = figures.checkpoints;
    let (Some(first), Some(last)) = (cps.first(), cps.last()) else {
        return unchecked("no checkpoint analysed");
    };
    let (Ok(g0), Ok(g1)) = (&first.gamma, &last.gamma) else {
        return unchecked("gamma could not be fitted at the first or last checkpoint");
    };
    let se = (g0.std_err.powi(2) + g1.std_err.powi(2)).sqrt();
    let grows = g1.gamma - g0.gamma > 2.0 * se;
    let early = g0.r_squared >= t.c15_min_r2;
    let details = cps
        .iter()
        .map(|c| {
            format!(
                "epoch {:>4}: train acc {}, loss {}, gamma {} (R^2 {}), gamma_awd {}",
                c.epoch,
                c.train_accuracy.map_or("n/a".into(), |a| format!("{a:.4}")),
                c.train_loss.map_or("n/a".into(), |a| format!("{a:.4}")),
                gamma_text(&c.gamma),
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
            "gamma {:.3} (epoch {}, R^2 {:.3}) -> {:.3} (epoch {}); grows {}, visible at first checkpoint {}",
            g0.gamma,
            first.epoch,
            g0.r_squared,
            g1.gamma,
            last.epoch,
            if grows { "yes" } else { "no" },
            if early { "yes" } else { "no" }
        ),
    )
    .with("gamma_first", g0.gamma)
    .with("gamma_last", g1.gamma)
    .with("std_err_combined", se)
    .with("r_squared_first", g0.r_squared);
    outcome.details = details;
    outcome
}
