//! C8 (Eq. 16-17): the first and second moments in H's eigenbasis.
//!
//! `H_ii = E_p[ sum_k lambda_pk (u_pk . v_i)^2 ]` and
//! `v_i^T E[h_p^2] v_i = E_p[ sum_k lambda_pk^2 (u_pk . v_i)^2 ]`.
//!
//! The left sides come from dense matrices (H's eigenvalues from faer's
//! eigendecomposition; `E[h^2]` formed densely and projected), the right sides
//! from the factors. Errors are relative to the matrix norm (`||H||_2`,
//! `||E[h^2]||_2`): an eigenvalue is only determined to `O(d eps ||H||)`, so a
//! per-entry relative error would measure rounding, not the identity.

use crate::claims::{cases::random_spec, CheckSettings, ClaimOutcome, Status};
use crate::ensemble::Ensemble;
use crate::error::Result;
use crate::linalg::{seeded_stream, sym_norm2};
use crate::moments::{
    diag_in_basis, first_moment_diag, second_moment, second_moment_diag, Moments,
};

/// Relative tolerance of both identities.
pub const TOLERANCE: f64 = 1e-10;

/// Worst relative errors of Eq. 16 and Eq. 17 on one ensemble.
pub fn identity_errors(ens: &Ensemble) -> Result<(f64, f64)> {
    let m = Moments::compute(ens)?;
    let v = m.eig.vectors.as_ref();
    let eq16 = first_moment_diag(ens, v)?;
    let h_norm = m.eig.values.iter().fold(0.0f64, |a, x| a.max(x.abs()));
    let e16 = worst(&m.eig.values, &eq16, h_norm);
    let s = second_moment(ens);
    let s_norm = sym_norm2(s.as_ref(), "E[h^2]")?;
    let dense = diag_in_basis(s.as_ref(), v)?;
    let eq17 = second_moment_diag(ens, v)?;
    let e17 = worst(&dense, &eq17, s_norm);
    Ok((e16, e17))
}

fn worst(a: &[f64], b: &[f64], norm: f64) -> f64 {
    if norm == 0.0 {
        return a.iter().chain(b).fold(0.0f64, |m, x| m.max(x.abs()));
    }
    a.iter()
        .zip(b)
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs() / norm))
}

/// Runs both identities on `settings.cases` random ensembles (PSD and indefinite).
pub fn check(settings: &CheckSettings) -> Result<ClaimOutcome> {
    let mut rng = seeded_stream(settings.seed, 8);
    let (mut w16, mut w17) = (0.0f64, 0.0f64);
    let mut worst_case = None;
    for case in 0..settings.cases {
        let neg = if case % 4 == 3 { 0.3 } else { 0.0 };
        let spec = random_spec(&mut rng, 40, 30, neg);
        let ens = spec.generate()?;
        let (e16, e17) = identity_errors(&ens)?;
        if e16.max(e17) > w16.max(w17) {
            worst_case = Some(spec);
        }
        w16 = w16.max(e16);
        w17 = w17.max(e17);
    }
    let verdict = Status::verified_if(w16 <= TOLERANCE && w17 <= TOLERANCE);
    let mut out = ClaimOutcome::new(
        verdict,
        format!("max rel err Eq.16 {w16:.1e}, Eq.17 {w17:.1e} (tol {TOLERANCE:.0e}, {} ensembles)", settings.cases),
    )
    .with("eq16_max_rel_err", w16)
    .with("eq17_max_rel_err", w17)
    .detail("errors relative to ||H||_2 and ||E[h^2]||_2; a quarter of the ensembles are indefinite (identities need no PSD)");
    if let Some(spec) = worst_case {
        out = out.detail(format!(
            "worst ensemble: d={} n={} rank={} law={:?} alignment={:?}",
            spec.d, spec.n, spec.rank, spec.law, spec.alignment
        ));
    }
    Ok(out)
}

/// C8's network side (Eq. 2's premise, [`crate::layer::batch`]) at the last
/// checkpoint: verified when the first-moment share on the top-k is at most
/// `c8_max_first_moment_share`, else a counterexample; unchecked when the
/// figures are missing. The slope of `ln tr C_B` on `ln B` is reported as a
/// check of the estimator only: mini-batches drawn with replacement are iid,
/// so `tr C_B = tr C / B` holds by construction; a slope off -1 by more than
/// `c8_slope_tol` + 2 SE is flagged in the details as a broken estimator.
pub fn judge_net(
    figures: &crate::layer::NetFigures<'_>,
    t: &super::net::NetThresholds,
) -> ClaimOutcome {
    use super::net::{last_structure, unchecked};
    let (epoch, s) = match last_structure(figures) {
        Ok(x) => x,
        Err(o) => return o,
    };
    let share = s.first_moment_share;
    if !share.is_finite() {
        return unchecked("first-moment share undefined (zero gradients on the top-k)");
    }
    let b = match &s.batch_scaling {
        Ok(b) => b,
        Err(e) => return unchecked(&format!("1/B scaling: {}", e.message)),
    };
    // Draws with replacement are iid, so tr C_B = tr C / B is an identity
    // of the estimator (Eq. 2): the slope is a consistency check of the
    // code, reported, not evidence about the network. The share decides.
    let verdict = if share <= t.c8_max_first_moment_share {
        Status::Verified
    } else {
        Status::Counterexample
    };
    let mut out = ClaimOutcome::new(
        verdict,
        format!(
            "epoch {epoch}: first-moment share {:.3} top-k (max {}), {:.3} full; tr C_B ~ B^{:.3} +- {:.3} (an identity of the estimator, -1 expected)",
            share, t.c8_max_first_moment_share, s.first_moment_share_full, b.slope, b.slope_se
        ),
    )
    .with("first_moment_share", share)
    .with("first_moment_share_full", s.first_moment_share_full)
    .with("batch_slope", b.slope)
    .with("batch_slope_se", b.slope_se);
    for p in &b.points {
        out = out.detail(format!(
            "B = {}: tr C_B {:.4e} +- {:.1e} ({} draws with replacement), Eq. 2 {:.4e}",
            p.batch_size, p.trace, p.trace_se, b.draws, p.trace_eq2
        ));
    }
    if (b.slope + 1.0).abs() > t.c8_slope_tol + 2.0 * b.slope_se {
        out = out.detail(format!(
            "estimator check failed: the 1/B slope {:.3} is off -1 by more than {} + 2 SE",
            b.slope, t.c8_slope_tol
        ));
    }
    out
}
