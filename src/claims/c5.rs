//! C5, minimal activity-weight duality (Def. 3.1, Lemma 3.2, App. E.1).
//!
//! Each of `settings.cases` random cases draws a He-initialised bias-free
//! ReLU MLP (depth 1-4, widths 2-16), a layer `l`, and a labelled synthetic
//! data set (3 Gaussian class clusters); two class-balanced batches are
//! matched on layer `l`'s input activity ([`crate::pairs`]), and for every
//! sample `p` of the first batch `dW_p = W da a^T / |a|^2` ([`crate::awd`],
//! batched). Measured, as maxima over all cases and samples:
//!
//! - the constraint residual `|(W + dW) a - W (a + da)|` relative to the
//!   magnitudes of its terms;
//! - agreement with the least-norm solution of the vectorised system by
//!   faer's SVD pseudo-inverse (first sample of each case);
//! - the norm identity `|dW|_F = |W da| / |a|`;
//! - the excess `|dW + N|^2 - |dW|^2 - |N|^2` for a random `N` with `N a = 0`;
//! - loss invariance: sample p through `W + dW` against its partner, on
//!   every downstream pre-activation (relative to the scale of `z_l`'s terms
//!   propagated by `|W_k|_F`, see [`Mlp::error_scales`]) and the
//!   cross-entropy loss.
//!
//! All are identities: any error above a few hundred `eps` is a counterexample.

use ndarray::{Array2, Axis};
use rand::Rng as _;
use rand_distr::{Distribution, StandardNormal};

use crate::awd::{
    constraint_residual, least_norm_oracle, minimal_dw_batch, stable_frobenius, stable_norm,
};
use crate::claims::{CheckSettings, ClaimOutcome, Status};
use crate::error::{Error, Result};
use crate::linalg::{seeded_stream, Rng};
use crate::loss::Loss;
use crate::mlp::Mlp;
use crate::pairs::{match_nearest, ratio_stats};

/// Tolerance for every relative error of this check.
const TOL: f64 = 1e-12;

fn gauss(rng: &mut Rng, r: usize, c: usize) -> Array2<f64> {
    Array2::from_shape_simple_fn((r, c), || {
        let g: f64 = StandardNormal.sample(rng);
        g
    })
}

#[derive(Default)]
struct Maxima {
    constraint: f64,
    oracle: f64,
    norm: f64,
    excess: f64,
    activity: f64,
    loss: f64,
    pairs: usize,
    dead: usize,
    ratios: Vec<f64>,
}

/// Labelled clusters: `n` samples of dimension `d` around 3 class means.
fn clusters(rng: &mut Rng, n: usize, d: usize) -> (Array2<f64>, Vec<u8>) {
    let means = gauss(rng, 3, d);
    let labels: Vec<u8> = (0..n).map(|i| (i % 3) as u8).collect();
    let noise = gauss(rng, n, d) * 0.5;
    let xs = Array2::from_shape_fn((n, d), |(i, j)| means[(i % 3, j)]) + noise;
    (xs, labels)
}

fn run_case(settings: &CheckSettings, case: usize, m: &mut Maxima) -> Result<()> {
    let mut rng = seeded_stream(settings.seed, 0xC5_0000 + case as u64);
    let depth = rng.random_range(1..=4usize);
    let widths: Vec<usize> = (0..=depth).map(|_| rng.random_range(2..=16usize)).collect();
    let net = Mlp::random(&widths, rng.random())?;
    let layer = rng.random_range(0..depth);
    let per = 6;
    let (xa, la) = clusters(&mut rng, 3 * per, widths[0]);
    let (xb, lb) = clusters(&mut rng, 3 * per, widths[0]);
    let act_a = net.layer_inputs(xa.view(), layer)?;
    let act_b = net.layer_inputs(xb.view(), layer)?;
    // Dead ReLU layers give zero activities: the duality is undefined there
    // (a typed error); keep the samples with a usable activity.
    let live: Vec<usize> = (0..act_a.nrows())
        .filter(|&p| stable_norm(act_a.row(p)) >= f64::MIN_POSITIVE)
        .collect();
    m.dead += act_a.nrows() - live.len();
    if live.is_empty() {
        return Ok(());
    }
    let act_a = act_a.select(Axis(0), &live);
    let xa = xa.select(Axis(0), &live);
    let la: Vec<u8> = live.iter().map(|&p| la[p]).collect();
    let matching = match_nearest(act_a.view(), &la, act_b.view(), &lb)?;
    let partner_act = act_b.select(Axis(0), &matching.partner);
    let da = &partner_act - &act_a;
    let w = net.weights(layer)?;
    let dws = minimal_dw_batch(w, act_a.view(), da.view())?;
    for (p, dw1) in dws.iter().enumerate() {
        let a = act_a.row(p);
        let dap = da.row(p);
        m.ratios.push(stable_norm(dap) / stable_norm(a));
        let dw = dw1.to_dense();
        m.constraint = m.constraint.max(constraint_residual(w, a, dap, dw.view())?);
        let expected = stable_norm(w.dot(&dap).view()) / stable_norm(a);
        let got = stable_frobenius(dw.view());
        if expected > 0.0 || got > 0.0 {
            m.norm = m.norm.max((got - expected).abs() / got.max(expected));
        }
        if p == 0 {
            let oracle = least_norm_oracle(w, a, dap)?;
            let s = got.max(stable_frobenius(oracle.view()));
            if s > 0.0 {
                m.oracle = m.oracle.max(stable_frobenius((&dw - &oracle).view()) / s);
            }
            // N = R (I - u u^T), u = a / |a|.
            let r = gauss(&mut rng, w.nrows(), w.ncols());
            let u = a.mapv(|v| v / stable_norm(a));
            let ru = r.dot(&u);
            let n = &r
                - &ru
                    .view()
                    .insert_axis(Axis(1))
                    .dot(&u.view().insert_axis(Axis(0)));
            let sq = |x: &Array2<f64>| x.iter().map(|v| v * v).sum::<f64>();
            let other = &dw + &n;
            let excess = sq(&other) - sq(&dw) - sq(&n);
            m.excess = m.excess.max(excess.abs() / sq(&other));
        }
        let moved = net.perturbed(layer, dw.view())?;
        let tm = moved.forward(xa.row(p))?;
        let tp = net.forward(xb.row(matching.partner[p]))?;
        // Scale of z_l = W (a + da) and its terms, propagated downstream.
        let base = stable_frobenius(w) * (stable_norm(a) + stable_norm(dap))
            + stable_frobenius(dw.view()) * stable_norm(a);
        let scales = net.error_scales(layer, base)?;
        for (k, s) in (layer..depth).zip(scales) {
            if s > 0.0 {
                let err = stable_norm((&tm.pre[k] - &tp.pre[k]).view()) / s;
                m.activity = m.activity.max(err);
            }
        }
        let y = la[p] as usize % widths[depth];
        let l_moved = Loss::CrossEntropy.value(tm.logits(), y)?;
        let l_partner = Loss::CrossEntropy.value(tp.logits(), y)?;
        let s = l_moved.abs().max(l_partner.abs());
        if s > 0.0 {
            m.loss = m.loss.max((l_moved - l_partner).abs() / s);
        }
        m.pairs += 1;
    }
    Ok(())
}

/// Runs the C5 check.
pub fn check(settings: &CheckSettings) -> Result<ClaimOutcome> {
    let mut m = Maxima::default();
    for case in 0..settings.cases {
        run_case(settings, case, &mut m)?;
    }
    if m.pairs == 0 {
        return Err(Error::empty("C5 cases", "every sampled activity was zero"));
    }
    let stats = ratio_stats(&m.ratios)?;
    let worst = [m.constraint, m.oracle, m.norm, m.excess, m.activity, m.loss]
        .into_iter()
        .fold(0.0f64, f64::max);
    let verdict = if worst <= TOL {
        Status::Verified
    } else {
        Status::Counterexample
    };
    Ok(ClaimOutcome::new(
        verdict,
        format!(
            "max rel err {worst:.1e} over {} matched pairs (constraint {:.1e}, SVD oracle {:.1e}, loss {:.1e})",
            m.pairs, m.constraint, m.oracle, m.loss
        ),
    )
    .with("pairs", m.pairs as f64)
    .with("max_constraint_residual", m.constraint)
    .with("max_oracle_rel_diff", m.oracle)
    .with("max_norm_identity_rel_err", m.norm)
    .with("max_null_space_excess_rel_err", m.excess)
    .with("max_downstream_preactivation_rel_err", m.activity)
    .with("max_loss_rel_err", m.loss)
    .with("mean_da_over_a", stats.mean)
    .with("zero_activity_samples", m.dead as f64)
    .detail(format!(
        "constraint (W + dW) a = W (a + da): max relative residual {:.2e} (tol {TOL:.0e})",
        m.constraint
    ))
    .detail(format!(
        "closed form vs least-norm SVD pseudo-inverse of (a^T (x) I) vec(dW) = W da: max rel diff {:.2e}",
        m.oracle
    ))
    .detail(format!(
        "|dW|_F = |W da| / |a|: max rel err {:.2e}; |dW + N|^2 - |dW|^2 - |N|^2 (N a = 0): max rel {:.2e}",
        m.norm, m.excess
    ))
    .detail(format!(
        "through the MLP: partner's downstream pre-activations max rel err {:.2e}, CE loss {:.2e}",
        m.activity, m.loss
    ))
    .detail(format!(
        "matched pairs on synthetic clusters (layer input): |da|/|a| mean {:.3}, median {:.3}, max {:.3}; {} zero-activity samples skipped",
        stats.mean, stats.median, stats.max, m.dead
    )))
}
