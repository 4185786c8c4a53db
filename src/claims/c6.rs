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
//! remainder    = rho = sum_i E[((Dg - T1).v_i)^2] / sum_i E[(Dg.v_i)^2]
//! tau          = sum_i E[(T1.v_i)^2] / sum_i E[(Dg.v_i)^2]
//! ```
//!
//! The approximation is read up to a free factor (an exponent does not see
//! one): with the cross term `x = (1 + tau - rho) / 2` (in units of
//! `sum E[(Dg.v)^2]`), the best factor is `a = x / tau` and the scale-free
//! remainder `min_a sum E[((Dg - a T1).v)^2] / sum E[(Dg.v)^2] = 1 - x^2 / tau`.
//!
//! [`judge_net`] decides at the last checkpoint: verified when Term II / I
//! `<= c6_max_term2_share`, the scale-free remainder `<= c6_max_residual` and
//! `|gamma_I - gamma_Dg| <= c6_gamma_tol` ([`NetThresholds`]); else
//! counterexample. The absolute remainder (a = 1) is reported beside it. The
//! details give the shares along training and
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
    let (rho, tau) = (p.residual1, p.term1_over_delta);
    let cross = (1.0 + tau - rho) / 2.0;
    let (factor, free) = if tau > 0.0 {
        (cross / tau, (1.0 - cross * cross / tau).max(0.0))
    } else {
        (f64::NAN, f64::NAN)
    };
    let (g_i, g_dg) = (gamma_or_nan(&p.gamma_term1), gamma_or_nan(&p.gamma_delta));
    let ok2 = p.term2_share <= t.c6_max_term2_share;
    let ok1 = free <= t.c6_max_residual;
    let ok_g = (g_i - g_dg).abs() <= t.c6_gamma_tol;
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
    let yes = |b: bool| if b { "ok" } else { "no" };
    let mut outcome = ClaimOutcome::new(
        Status::verified_if(ok1 && ok2 && ok_g),
        format!(
            "epoch {}: Term II/I {:.3} (<= {} {}), min_a |Dg - a T1|^2/|Dg|^2 {:.3} at a = {:.3} (<= {} {}; a = 1: {:.3}), gamma_I {:.3} vs gamma_Dg {:.3} (tol {} {})",
            last.epoch,
            p.term2_share,
            t.c6_max_term2_share,
            yes(ok2),
            free,
            factor,
            t.c6_max_residual,
            yes(ok1),
            p.residual1,
            g_i,
            g_dg,
            t.c6_gamma_tol,
            yes(ok_g)
        ),
    )
    .with("term2_share", p.term2_share)
    .with("residual1", p.residual1)
    .with("residual_free", free)
    .with("free_factor", factor)
    .with("gamma_term1", g_i)
    .with("gamma_delta", g_dg)
    .with("gamma", gm)
    .with("gamma_term12", g12);
    outcome.details = details;
    outcome
}
