//! The simulated null of the coupling `rho_bar` (claims **C3**, **C4**).
//!
//! Under the null C's eigenvectors are Haar-random: `C_rot = Q C Q^T`. Since
//! `V^T Q` is again Haar, `C'_rot = U diag(mu) U^T` with U the first r columns of
//! a Haar matrix, a Haar d x r frame, whatever V is: the null depends only on
//! C's spectrum and d, each rotation costs one d x r QR and one `d^2 r` Gram
//! pass ([`coupling_of_rows`]). Rotation `t` draws from
//! `seeded_stream(seed, t)`, each rotation runs single-threaded, and rayon
//! spreads rotations over threads, so the samples are identical for any
//! thread count. [`simulate_null_dense`] is the direct d x d route, kept as
//! the benchmark's baseline and an independent check.
//!
//! Memory: each rotation in flight holds the frame, its normalised copy and
//! one Gram block, `8 d (2 r + 1 + 128)` bytes ([`null_bytes`]); with one
//! rotation per thread the peak is that times the threads. It is checked
//! against the memory available before the first rotation
//! ([`Error::MemoryLimit`]).
//!
//! The exact Monte Carlo p-value of an observed `rho_obs` against R simulated
//! draws is `(1 + #{null <= rho_obs}) / (1 + R)` ([`empirical_p`]).

use faer::{Mat, MatRef};
use rayon::prelude::*;
use serde::Serialize;

use super::spectrum::{checked_spectrum, null_weights};
use super::statistic::{coupling_of_projected, coupling_of_rows, Coupling};
use crate::error::Result;
use crate::linalg::{self, seeded_stream};

/// A Haar d x r frame: [`linalg::haar_frame`], which is single-threaded so
/// that the null does not depend on the thread pool.
pub use linalg::haar_frame as haar_frame_seq;

/// One null draw: `rho_bar` (and mean rho^2) of `U diag(mu) U^T` for a Haar
/// d x r frame U from stream `stream` of `seed`. `sqrt_mu` has r > 0 entries.
fn null_draw(d: usize, sqrt_mu: &[f64], seed: u64, stream: u64) -> Result<Coupling> {
    let mut rng = seeded_stream(seed, stream);
    let mut u = haar_frame_seq(d, sqrt_mu.len(), &mut rng)?;
    for (j, s) in sqrt_mu.iter().enumerate() {
        for i in 0..d {
            u[(i, j)] *= s;
        }
    }
    coupling_of_rows(u.as_ref(), "null rotation")
}

/// Peak bytes of [`simulate_null`] in dimension `d` with a spectrum of rank
/// `r` and `threads` rotations at once (module doc).
pub fn null_bytes(d: usize, r: usize, threads: usize) -> u64 {
    let per = 8u64
        .saturating_mul(d as u64)
        .saturating_mul(2 * r as u64 + 1 + 128);
    per.saturating_mul(threads.max(1) as u64)
        .saturating_add(8u64.saturating_mul(d as u64))
}

/// The simulated null of `rho_bar` for a spectrum `mu` (C's eigenvalues, at
/// most d of them, the rest taken as 0) in dimension d.
#[derive(Debug, Clone, Serialize)]
pub struct NullSample {
    /// Dimension.
    pub d: usize,
    /// Number of positive eigenvalues used (the frame width r).
    pub rank: usize,
    /// Master seed; rotation t uses `seeded_stream(seed, t)`.
    pub seed: u64,
    /// `rho_bar` of each rotation, in rotation order.
    pub rho_bar: Vec<f64>,
    /// `mean_{i != j} rho_ij^2` of each rotation.
    pub mean_rho_sq: Vec<f64>,
}

/// Simulates `rotations` Haar rotations of a C with spectrum `mu` in dimension
/// d (see the module doc): parallel over rotations, identical for any thread
/// count.
pub fn simulate_null(mu: &[f64], d: usize, rotations: usize, seed: u64) -> Result<NullSample> {
    super::check_dimension(d)?;
    super::check_rotations(rotations, 1)?;
    let w = null_weights(mu, d)?;
    let threads = rayon::current_num_threads().min(rotations).max(1);
    let budget = crate::memory::MemoryBudget::from_system()?;
    let r = w.len();
    // The largest d whose frames (same rank, same threads) fit.
    let (mut lo, mut hi) = (0usize, d);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if null_bytes(mid, r.min(mid), threads) <= budget.limit_bytes {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    budget.check(
        "simulated null of rho_bar",
        null_bytes(d, r, threads),
        &format!(
            "a Haar frame of d = {d} by r = {r} per rotation, {threads} rotations at once: {}",
            if lo >= 2 {
                format!("at most d = {lo} fits (--d {lo}), or use a spectrum of lower rank")
            } else {
                "no d fits; use a spectrum of lower rank or more memory".to_string()
            }
        ),
    )?;
    let draws: Vec<Coupling> = (0..rotations as u64)
        .into_par_iter()
        .map(|t| null_draw(d, &w, seed, t))
        .collect::<Result<_>>()?;
    Ok(NullSample {
        d,
        rank: w.len(),
        seed,
        rho_bar: draws.iter().map(|c| c.rho_bar).collect(),
        mean_rho_sq: draws.iter().map(|c| c.mean_rho_sq).collect(),
    })
}

/// The same null by the direct dense route (d x d Haar Q, `C_rot = Q C Q^T`,
/// then `V^T C_rot V` with a given V): the baseline of the benchmark and an
/// independent check of [`simulate_null`]'s distribution. Sequential.
pub fn simulate_null_dense(
    mu: &[f64],
    v: MatRef<'_, f64>,
    rotations: usize,
    seed: u64,
) -> Result<Vec<f64>> {
    let d = v.nrows();
    let mu = checked_spectrum(mu, d, "spectrum")?;
    let mut full = vec![0.0; d];
    full[..mu.len()].copy_from_slice(&mu);
    let c = Mat::from_fn(d, d, |i, j| if i == j { full[i] } else { 0.0 });
    (0..rotations as u64)
        .map(|t| {
            let mut rng = seeded_stream(seed, t);
            let q = linalg::haar_orthogonal(d, &mut rng);
            let c_rot = &q * &c * q.transpose();
            let cp = v.transpose() * &c_rot * v;
            // Symmetrise rounding before the symmetry check.
            let cp = Mat::from_fn(d, d, |i, j| 0.5 * (cp[(i, j)] + cp[(j, i)]));
            coupling_of_projected(cp.as_ref(), "dense null rotation").map(|c| c.rho_bar)
        })
        .collect()
}

/// Empirical one-sided p-value of `obs` under a simulated null:
/// `(1 + #{null <= obs}) / (1 + R)` (never 0, exact for a Monte Carlo test).
pub fn empirical_p(obs: f64, null: &[f64]) -> f64 {
    let below = null.iter().filter(|&&x| x <= obs).count();
    (1 + below) as f64 / (1 + null.len()) as f64
}
