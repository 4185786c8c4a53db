//! C11 (Prop. 5.5, App. E.4.2): spectral degeneracy gives gamma = 1.
//!
//! The proposition's premise, built for r = 1, 2 and 4 top eigenvalues per
//! sample: each sample's r eigenvalues are i.i.d. log-normal (moments m1, m2,
//! independent of the directions); its r eigenvectors are r distinct
//! directions of a global orthonormal frame q_1..q_m, drawn without
//! replacement with probability `pi_i ~ 1/(i+1)`, each tilted by a small
//! random angle (0.02 rad) and re-orthonormalised. Then
//! `H_ii ~ P_i m1` and `S_ii ~ P_i m2` with `P_i` the inclusion probability
//! of q_i, so `S_ii / H_ii = m2 / m1` for every i and gamma = 1 at any r.
//! We report gamma (Eq. 2's S = E[h^2] against H over the m frame
//! directions) and the spread of `S_ii / H_ii` against `m2 / m1` for each r;
//! verified when every r gives gamma within its tolerance of 1
//! (4 standard errors, at least 0.05).
//!
//! This checks the derivation under its own assumptions; whether trained
//! networks meet them is a separate question (C13's entanglement).

use faer::Mat;
use rand::Rng as _;
use rand_distr::{Distribution, LogNormal, StandardNormal};

use crate::claims::{CheckSettings, ClaimOutcome, Status};
use crate::ensemble::Ensemble;
use crate::error::{Error, Result};
use crate::fit::{fit_gamma, FitRule, GammaFit};
use crate::linalg::{haar_frame, seeded_rng, seeded_stream, sign_fixed_q, Rng};
use crate::moments::Moments;
use crate::stats::mean;

/// The ranks r checked.
pub const RANKS: [usize; 3] = [1, 2, 4];

/// Dimension, samples, global directions, log-normal sigma, tilt angle.
const D: usize = 30;
const N: usize = 6000;
const DIRECTIONS: usize = 10;
const SIGMA: f64 = 0.5;
const SPREAD: f64 = 0.02;

/// One r: the fit, the ratio range over the frame directions and m2 / m1.
pub struct RankResult {
    /// Rank r.
    pub rank: usize,
    /// gamma of S_ii on H_ii over the frame directions.
    pub fit: GammaFit,
    /// Smallest and largest `S_ii / H_ii`.
    pub ratio_range: (f64, f64),
    /// `m2 / m1` of the drawn eigenvalues.
    pub m2_over_m1: f64,
}

/// The premise ensemble at rank r (module doc).
pub fn degenerate_ensemble(r: usize, seed: u64) -> Result<Ensemble> {
    if r == 0 || r > DIRECTIONS {
        return Err(Error::param(
            "rank",
            r,
            format!("must be in 1..={DIRECTIONS}"),
        ));
    }
    let mut rng: Rng = seeded_rng(seed);
    let frame = haar_frame(D, DIRECTIONS, &mut rng)?;
    let ln = LogNormal::new(0.0, SIGMA)
        .map_err(|e| Error::param("log-normal sigma", SIGMA, e.to_string()))?;
    let weights: Vec<f64> = (0..DIRECTIONS).map(|i| 1.0 / (i + 1) as f64).collect();
    let mut samples = Vec::with_capacity(N);
    for _ in 0..N {
        // r distinct directions, drawn one by one without replacement.
        let mut chosen: Vec<usize> = Vec::with_capacity(r);
        while chosen.len() < r {
            let total: f64 = (0..DIRECTIONS)
                .filter(|i| !chosen.contains(i))
                .map(|i| weights[i])
                .sum();
            let mut u = rng.random::<f64>() * total;
            let mut pick = DIRECTIONS - 1;
            for i in (0..DIRECTIONS).filter(|i| !chosen.contains(i)) {
                u -= weights[i];
                pick = i;
                if u <= 0.0 {
                    break;
                }
            }
            chosen.push(pick);
        }
        // Tilt each chosen direction by SPREAD towards a random direction,
        // then re-orthonormalise the r columns.
        let tilted = Mat::from_fn(D, r, |row, col| frame[(row, chosen[col])]);
        let noise = Mat::from_fn(D, r, |_, _| {
            let z: f64 = StandardNormal.sample(&mut rng);
            z / (D as f64).sqrt()
        });
        let u = sign_fixed_q((tilted * SPREAD.cos() + noise * SPREAD.sin()).as_ref());
        let lambda: Vec<f64> = (0..r).map(|_| ln.sample(&mut rng)).collect();
        samples.push((u, lambda));
    }
    Ensemble::from_samples(D, samples, "C11 degenerate ensemble")
}

/// gamma and the ratio spread at rank r.
pub fn rank_result(r: usize, seed: u64) -> Result<RankResult> {
    let ens = degenerate_ensemble(r, seed)?;
    let l = ens.eigenvalues();
    let m1 = mean(l);
    let m2 = mean(&l.iter().map(|x| x * x).collect::<Vec<_>>());
    let m = Moments::compute(&ens)?;
    let top = DIRECTIONS;
    let fit = fit_gamma(m.h_diag(), &m.second_diag, &FitRule::default_for(top, D))?;
    let ratios: Vec<f64> = (0..top).map(|i| m.second_diag[i] / m.h_diag()[i]).collect();
    let lo = ratios.iter().cloned().fold(f64::INFINITY, f64::min);
    let hi = ratios.iter().cloned().fold(0.0, f64::max);
    Ok(RankResult {
        rank: r,
        fit,
        ratio_range: (lo, hi),
        m2_over_m1: m2 / m1,
    })
}

/// Runs the check.
pub fn check(settings: &CheckSettings) -> Result<ClaimOutcome> {
    let mut results = Vec::new();
    for (j, &r) in RANKS.iter().enumerate() {
        let seed = seeded_stream(settings.seed, j as u64).random::<u64>();
        results.push(rank_result(r, seed)?);
    }
    let tol = |f: &GammaFit| (4.0 * f.std_err).max(0.05);
    let all_ok = results
        .iter()
        .all(|x| (x.fit.gamma - 1.0).abs() <= tol(&x.fit));
    let figure = results
        .iter()
        .map(|x| {
            format!(
                "r={}: gamma {:.3} +- {:.3}",
                x.rank, x.fit.gamma, x.fit.std_err
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let mut out = ClaimOutcome::new(Status::verified_if(all_ok), figure);
    for x in &results {
        let tag = format!("r{}", x.rank);
        out = out
            .with(&format!("gamma_{tag}"), x.fit.gamma)
            .with(&format!("gamma_std_err_{tag}"), x.fit.std_err)
            .with(&format!("ratio_min_{tag}"), x.ratio_range.0)
            .with(&format!("ratio_max_{tag}"), x.ratio_range.1)
            .with(&format!("m2_over_m1_{tag}"), x.m2_over_m1)
            .detail(format!(
                "r = {}: gamma {:.3} +- {:.3} (tol {:.3}); S_ii/H_ii in [{:.3}, {:.3}] vs m2/m1 = {:.3}",
                x.rank,
                x.fit.gamma,
                x.fit.std_err,
                tol(&x.fit),
                x.ratio_range.0,
                x.ratio_range.1,
                x.m2_over_m1
            ));
    }
    let _ = settings.cases;
    Ok(out.detail(format!(
        "d = {D}, n = {N}, {DIRECTIONS} global directions with pi_i ~ 1/(i+1), log-normal eigenvalues (sigma {SIGMA}) independent of the directions, tilt {SPREAD} rad"
    )))
}
