//! C6 (Lemma 3.3, Eq. 10-12, App. E.2.1, Eq. 56-60): the gradient difference
//! of a matched pair is approximated by the AWD term,
//! `grad l_q(w) - grad l_p(w) ~ h_p dw_p` (Term I), plus a Term II
//! `(d dw_p / dw)^T g_p = delta_p da^T` that vanishes as the per-sample
//! gradients vanish near a minimum.
//!
//! No synthetic check (an ensemble has no gradients): `verify` reports C6
//! unchecked and names `superlinear net-claims`, which measures on the
//! checkpoints of a trained network ([`crate::layer::figures`]), over the
//! top-k eigen-directions `v_i` of H,
//!
//! ```text
//! Term II / I  = sum_i E[(T2.v_i)^2] / sum_i E[(T1.v_i)^2]
//! remainder    = sum_i E[((Dg - T1).v_i)^2] / sum_i E[(Dg.v_i)^2]
//! ```
//!
//! [`judge_net`] decides at the last checkpoint: verified when Term II / I
//! `<= c6_max_term2_share` and the remainder `<= c6_max_residual`
//! ([`NetThresholds`]); else counterexample. The details give both along training and
//! Table 3's column (gamma of Term I + Term II with the real dw_p, our reading
//! of Eq. 58) beside gamma and gamma_awd.

use super::net::{gamma_or_nan, gamma_text, unchecked, NetThresholds};
use super::{ClaimOutcome, Status};
use crate::layer::NetFigures;

/// C6's verdict from the figures of a run (module doc).
pub fn judge_net(figures: &NetFigures<'_>, t: &NetThresholds) -> ClaimOutcome {
    let cps = figures.checkpoints;
    let (Some(first), Some(last)) = (cps.first(), cps.last()) else {
        return unchecked("no checkpoint analysed");
    };
    let p = &last.pairs;
    let ok2 = p.term2_share <= t.c6_max_term2_share;
    let ok1 = p.residual1 <= t.c6_max_residual;
    let mut details: Vec<String> = cps
        .iter()
        .map(|c| {
            format!(
                "epoch {:>4}: E|g|^2 {:.3e}, Term II/I {:.3} (full {:.3}), |Dg-T1|^2/|Dg|^2 {:.3} (full {:.3}), |Dg-T1-T2|^2/|Dg|^2 {:.3}",
                c.epoch,
                c.pairs.grad_norm2,
                c.pairs.term2_share,
                c.pairs.term2_share_full,
                c.pairs.residual1,
                c.pairs.residual1_full,
                c.pairs.residual12
            )
        })
        .collect();
    let (gm, gi, g12) = (
        gamma_or_nan(&last.gamma),
        gamma_or_nan(&last.gamma_awd),
        gamma_or_nan(&p.gamma_term12),
    );
    details.push(format!(
        "Table 3 column (Term I + Term II with the real dw_p, Eq. 58 as we read it): gamma {gm:.3}, gamma_awd {gi:.3}, gamma_I+II {g12:.3}, gamma_iso+II {}, gamma_I {}, gamma_Dg {}; |gamma_I+II - gamma| {:.3} vs |gamma_awd - gamma| {:.3}",
        gamma_text(&p.gamma_iso_term2),
        gamma_text(&p.gamma_term1),
        gamma_text(&p.gamma_delta),
        (g12 - gm).abs(),
        (gi - gm).abs()
    ));
    details.push(format!(
        "Term II/I {} from epoch {} to {}",
        if last.pairs.term2_share < first.pairs.term2_share {
            "decreases"
        } else {
            "does not decrease"
        },
        first.epoch,
        last.epoch
    ));
    let mut outcome = ClaimOutcome::new(
        Status::verified_if(ok1 && ok2),
        format!(
            "epoch {}: Term II/I {:.3} (<= {} {}), |Dg - T1|^2/|Dg|^2 {:.3} (<= {} {}); gamma_I+II {} vs gamma {}",
            last.epoch,
            p.term2_share,
            t.c6_max_term2_share,
            if ok2 { "ok" } else { "no" },
            p.residual1,
            t.c6_max_residual,
            if ok1 { "ok" } else { "no" },
            gamma_text(&p.gamma_term12),
            gamma_text(&last.gamma)
        ),
    )
    .with("term2_share", p.term2_share)
    .with("residual1", p.residual1)
    .with("gamma", gm)
    .with("gamma_term12", g12);
    outcome.details = details;
    outcome
}
