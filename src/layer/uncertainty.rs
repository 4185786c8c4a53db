//! How far the exponent gamma of `C_ii ~ H_ii^gamma` (C9's empirical
//! reading, C14, C15) can be trusted on one layer: its dependence on top-k,
//! a bootstrap interval over the samples, and a test of the power-law form
//! that can fail. Figures only; the judgement is made in `crate::claims`.
//!
//! # Inputs
//! The top-k eigenvectors `v_i` of the full-sample `H` (descending
//! eigenvalues `H_ii = lambda_i`), `C_ii` of Eq. 2, and per sample `p`
//! (N samples, batch size B):
//! `g_pi = v_i . g_p = delta_p^T U_i a_p`, `h_pi = v_i^T h_p v_i
//! = (U_i a_p)^T A_p (U_i a_p)` and optionally `s_pi = v_i^T h_p^2 v_i`
//! (`U_i` the out x in reshape of `v_i`;
//! [`crate::kron::KronCurvature::projections_per_sample`]).
//!
//! # gamma(k) and local slopes ([`GammaAtK`])
//! On a log-spaced grid of about [`UncertaintySettings::grid_points`] values
//! of k from `min(50, k_max)` to `k_max` (the rank of the last direction the
//! fit rule keeps, at most the top-k computed): gamma, `R^2` and the points
//! of the fit over the first k directions ([`crate::fit::fit_gamma`], the
//! analysis' floor rule), and the local slope: the same OLS over the ranks
//! `[k/2, k)` only. A straight log-log relation has a flat gamma(k) and
//! local slopes equal to gamma.
//!
//! # Bootstrap over samples ([`BootstrapGamma`])
//! Replicate `r` draws N sample indices with replacement from
//! `seeded_stream(seed, r)`; with `w_p` the multiplicity of sample p,
//!
//! ```text
//! H*_ii = (1/N) sum_p w_p h_pi
//! C*_ii = (1/B) [ (1/N) sum_p w_p g_pi^2 - ((1/N) sum_p w_p g_pi)^2 ]
//! S*_ii = (1/N) sum_p w_p s_pi            (C_awd,ii / sigma^2, Eq. 15)
//! ```
//!
//! (the centring and normalisation of Eq. 2 exactly as the full-sample
//! `C_ii`; at `w_p = 1` these are the full-sample figures), and gamma,
//! gamma_awd and the curvature `c` below are refitted on the directions the
//! floor rule keeps among the primary top-k. All replicates are one GEMM
//! `W P` (`W` the R x N multiplicities). Reported: the percentile interval at
//! [`UncertaintySettings::level`] (type-7 quantiles) and the replicates'
//! standard deviation. **Conditional bootstrap:** the basis `v_i` is the
//! eigenbasis of the full-sample H and is held fixed; the variability of the
//! eigenvectors themselves is not resampled, so the interval measures the
//! sampling noise of `(H_ii, C_ii)` given the basis, and is narrower than a
//! bootstrap that re-diagonalises H per replicate would be.
//!
//! # Form test ([`FormTest`])
//! (a) Curvature: the OLS fit `ln C = a + g u + c (u^2 - mean u^2)`,
//! `u = ln H - mean ln H`, over the primary fit's points; `c` (a pure power
//! law has `c = 0`) with its bootstrap interval; the slope drifts by
//! `2 c ln(H_max / H_min)` across the fitted range.
//! (b) A rotation null for `R^2`: `C_k = V_S^T C V_S` (the directions S the
//! primary fit uses; `(1/B)(P^T P / N - m m^T)`, `P` the `g_pi`, `m` their
//! means, the same centring as `C_ii`) is rotated by R seeded Haar
//! orthogonal `Q` ([`crate::linalg::haar_orthogonal`]), and `diag(Q^T C_k Q)`
//! is fitted against the same `H_ii`. A rotation keeps the spectrum of C
//! but destroys its alignment with H, so the null's `R^2` is what a fit
//! shows without a power law. Reported: the observed `R^2`, the null's
//! median and 99th percentile (type 7), and the Monte Carlo p-value
//! `(1 + #{R^2_null >= R^2_obs}) / (R + 1)`, which cannot go below
//! `1 / (R + 1)`.
//!
//! # Costs
//! Memory `8 (N k + R N + 4 R k + (1 + 2 T) k^2)` bytes on top of the
//! `24 N k` of the per-sample projections (T threads), counted in
//! [`crate::memory::estimate_analysis`]. Flops: `8 R N k` for the bootstrap,
//! about `(10/3) k^3` per rotation of the null.
//!
//! # Progress
//! Three stages on the [`Progress`] given: gamma(k), the bootstrap (a step
//! per replicate) and the form test's null (a step per rotation).

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};
use rand::Rng as _;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Failure, Result};
use crate::fit::{fit_gamma, fit_power_law, FitRule};
use crate::linalg::{haar_orthogonal, seeded_stream};
use crate::progress::{Progress, StageGuard};
use crate::stats::{mean_std, median_sorted, quantile_sorted};

/// Salt separating the null's streams from the bootstrap's.
const NULL_SALT: u64 = 0x5eed_0f00_4a11_0001;

/// Settings of [`gamma_uncertainty`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UncertaintySettings {
    /// Bootstrap replicates R (at least 2; default 200).
    pub replicates: usize,
    /// Haar rotations of the form test's null (at least 1; default 99, so
    /// the p-value floor is 0.01).
    pub rotations: usize,
    /// Confidence level of the percentile interval (default 0.95).
    pub level: f64,
    /// Seed of the bootstrap and null streams.
    pub seed: u64,
    /// About how many k on the gamma(k) grid (default 12).
    pub grid_points: usize,
    /// Smallest k of the grid when that many directions exist (default 50).
    pub min_k: usize,
}

impl Default for UncertaintySettings {
    fn default() -> Self {
        UncertaintySettings {
            replicates: 200,
            rotations: 99,
            level: 0.95,
            seed: 0,
            grid_points: 12,
            min_k: 50,
        }
    }
}

impl UncertaintySettings {
    /// Checks the counts and the level.
    pub fn validate(&self) -> Result<()> {
        if self.replicates < 2 {
            return Err(Error::param(
                "bootstrap replicates",
                self.replicates,
                "a percentile interval needs at least 2",
            ));
        }
        if self.rotations == 0 {
            return Err(Error::param("null rotations", 0, "at least 1 is needed"));
        }
        if !(self.level > 0.0 && self.level < 1.0) {
            return Err(Error::param(
                "confidence level",
                self.level,
                "must be in (0, 1)",
            ));
        }
        if self.grid_points < 2 {
            return Err(Error::param("grid points", self.grid_points, "at least 2"));
        }
        Ok(())
    }
}

/// The per-sample projections on the fixed basis (module doc).
#[derive(Debug, Clone, Copy)]
pub struct SampleProjections<'a> {
    /// `g_pi = v_i . g_p` (N x k).
    pub grad: MatRef<'a, f64>,
    /// `h_pi = v_i^T h_p v_i` (N x k).
    pub h: MatRef<'a, f64>,
    /// `s_pi = v_i^T h_p^2 v_i` (N x k), for gamma_awd.
    pub h2: Option<MatRef<'a, f64>>,
    /// Batch size B of Eq. 2.
    pub batch_size: usize,
}

impl SampleProjections<'_> {
    /// `(H_ii, C_ii, S_ii)` for sample multiplicities `w` (None: all 1),
    /// as in the module doc.
    pub fn weighted_diagonals(&self, w: Option<&[f64]>) -> (Vec<f64>, Vec<f64>, Option<Vec<f64>>) {
        let (n, k) = (self.grad.nrows(), self.grad.ncols());
        let nb = n as f64;
        let b = self.batch_size as f64;
        let wt = |p: usize| w.map_or(1.0, |w| w[p]);
        let col_mean =
            |m: MatRef<'_, f64>, i: usize| (0..n).map(|p| wt(p) * m[(p, i)]).sum::<f64>() / nb;
        let h = (0..k).map(|i| col_mean(self.h, i)).collect();
        let c = (0..k)
            .map(|i| {
                let mean = col_mean(self.grad, i);
                let second = (0..n)
                    .map(|p| wt(p) * self.grad[(p, i)].powi(2))
                    .sum::<f64>()
                    / nb;
                (second - mean * mean) / b
            })
            .collect();
        let s = self.h2.map(|m| (0..k).map(|i| col_mean(m, i)).collect());
        (h, c, s)
    }
}

/// gamma over the first k directions and the local slope over ranks `[k/2, k)`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GammaAtK {
    /// k.
    pub k: usize,
    /// gamma over the first k (None: fewer than 3 usable points).
    pub gamma: Option<f64>,
    /// Its `R^2`.
    pub r_squared: Option<f64>,
    /// Directions used.
    pub points: usize,
    /// Slope over the ranks `[k/2, k)` only (None: fewer than 3 points).
    pub local_slope: Option<f64>,
    /// The window `[from, to)` of the local slope (0-based ranks).
    pub window: (usize, usize),
}

/// The bootstrap over samples in the fixed basis (module doc).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BootstrapGamma {
    /// Replicates R.
    pub replicates: usize,
    /// Confidence level of the intervals.
    pub level: f64,
    /// What is resampled and what is held fixed.
    pub scheme: String,
    /// Percentile interval of gamma.
    pub gamma_ci: (f64, f64),
    /// Standard deviation of the replicates' gamma.
    pub gamma_std: f64,
    /// Percentile interval of gamma_awd (None: no `s_pi` given).
    pub gamma_awd_ci: Option<(f64, f64)>,
    /// Standard deviation of the replicates' gamma_awd.
    pub gamma_awd_std: Option<f64>,
    /// Percentile interval of the curvature c ([`FormTest`]).
    pub curvature_ci: (f64, f64),
}

/// The test of the power-law form (module doc).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FormTest {
    /// Curvature c of `ln C = a + g u + c (u^2 - mean u^2)`.
    pub curvature: f64,
    /// `ln(H_max / H_min)` over the points fitted.
    pub log_range_h: f64,
    /// `R^2` of the power-law fit.
    pub r_squared: f64,
    /// Haar rotations R of the null.
    pub rotations: usize,
    /// Median of the null's `R^2`.
    pub null_median: f64,
    /// 99th percentile of the null's `R^2`.
    pub null_q99: f64,
    /// `(1 + #{R^2_null >= R^2_obs}) / (R + 1)`.
    pub p_value: f64,
    /// The smallest p-value R rotations can give, `1 / (R + 1)`.
    pub p_floor: f64,
}

/// Everything [`gamma_uncertainty`] reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GammaUncertainty {
    /// The primary top-k: the directions the reported gamma is fitted on.
    pub primary_k: usize,
    /// How the primary top-k was chosen.
    pub rule: String,
    /// Samples N.
    pub samples: usize,
    /// gamma(k) and local slopes.
    pub curve: Vec<GammaAtK>,
    /// The bootstrap (the error when a replicate cannot be fitted).
    #[serde(with = "crate::error::or_error")]
    pub bootstrap: std::result::Result<BootstrapGamma, Failure>,
    /// The form test (the error when it cannot be computed).
    #[serde(with = "crate::error::or_error")]
    pub form: std::result::Result<FormTest, Failure>,
    /// Warnings recorded with the figures.
    pub warnings: Vec<String>,
}

impl GammaUncertainty {
    /// `gamma 1.02 (k=100) ... 1.30 (k=2000)`: the k-sensitivity in one line.
    pub fn k_sensitivity(&self) -> String {
        let parts: Vec<String> = self
            .curve
            .iter()
            .filter_map(|g| g.gamma.map(|x| format!("{x:.2} (k={})", g.k)))
            .collect();
        if parts.is_empty() {
            "n/a".into()
        } else {
            format!("gamma {}", parts.join(", "))
        }
    }
}

/// The k of the gamma(k) grid: about `points` log-spaced integers from
/// `min(min_k, k_max)` to `k_max`, increasing, without repeats (empty when
/// `k_max < 3`).
pub fn k_grid(k_max: usize, min_k: usize, points: usize) -> Vec<usize> {
    if k_max < 3 {
        return Vec::new();
    }
    let lo = min_k.clamp(3, k_max) as f64;
    let hi = k_max as f64;
    let m = points.max(2);
    let mut ks: Vec<usize> = (0..m)
        .map(|j| (lo * (hi / lo).powf(j as f64 / (m - 1) as f64)).round() as usize)
        .map(|k| k.clamp(3, k_max))
        .collect();
    ks.dedup();
    if ks.last() != Some(&k_max) {
        ks.push(k_max);
    }
    ks
}

/// Indices among the first `k` kept by `rule`'s floors relative to the
/// largest values (the rule of [`FitRule::select`] without its ordering
/// requirement: resampled `H*_ii` need not be descending).
pub(crate) fn select_unordered(h: &[f64], c: &[f64], k: usize, rel_floor: f64) -> Vec<usize> {
    let hmax = h.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let cmax = c.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    (0..k.min(h.len()))
        .filter(|&i| h[i] > 0.0 && c[i] > 0.0 && h[i] > rel_floor * hmax && c[i] > rel_floor * cmax)
        .collect()
}

/// The curvature c and the slope of `ln y = a + g u + c (u^2 - mean u^2)`,
/// `u = ln x - mean ln x` (module doc), with `ln(max x / min x)`.
pub fn quadratic_curvature(x: &[f64], y: &[f64]) -> Result<(f64, f64, f64)> {
    if x.len() != y.len() || x.len() < 4 {
        return Err(Error::DegenerateFit {
            input: "x, y".into(),
            reason: format!("{} points; a quadratic in ln x needs at least 4", x.len()),
        });
    }
    if x.iter().chain(y).any(|v| !(v.is_finite() && *v > 0.0)) {
        return Err(Error::DegenerateFit {
            input: "x, y".into(),
            reason: "values must be finite and positive".into(),
        });
    }
    let m = x.len() as f64;
    let lx: Vec<f64> = x.iter().map(|v| v.ln()).collect();
    let ly: Vec<f64> = y.iter().map(|v| v.ln()).collect();
    let mx = lx.iter().sum::<f64>() / m;
    let my = ly.iter().sum::<f64>() / m;
    let u: Vec<f64> = lx.iter().map(|v| v - mx).collect();
    let mu2 = u.iter().map(|v| v * v).sum::<f64>() / m;
    let w: Vec<f64> = u.iter().map(|v| v * v - mu2).collect();
    let (mut suu, mut suw, mut sww, mut suy, mut swy) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for j in 0..u.len() {
        let dy = ly[j] - my;
        suu += u[j] * u[j];
        suw += u[j] * w[j];
        sww += w[j] * w[j];
        suy += u[j] * dy;
        swy += w[j] * dy;
    }
    let det = suu * sww - suw * suw;
    if det.is_nan() || det <= 1e-12 * suu * sww {
        return Err(Error::DegenerateFit {
            input: "x".into(),
            reason: "ln x and its square are collinear (too few distinct values)".into(),
        });
    }
    let g = (sww * suy - suw * swy) / det;
    let c = (suu * swy - suw * suy) / det;
    let range = lx.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
        - lx.iter().cloned().fold(f64::INFINITY, f64::min);
    Ok((c, g, range))
}

/// gamma(k) and local slopes over `h_diag` (descending) and `c_diag` (module doc).
pub fn gamma_curve(
    h_diag: &[f64],
    c_diag: &[f64],
    rule: &FitRule,
    s: &UncertaintySettings,
) -> Vec<GammaAtK> {
    let Ok((used, _)) = rule.select(h_diag, c_diag) else {
        return Vec::new();
    };
    let k_max = used.last().map_or(0, |i| i + 1);
    k_grid(k_max, s.min_k, s.grid_points)
        .into_iter()
        .map(|k| {
            let fit = fit_gamma(h_diag, c_diag, &FitRule { top_k: k, ..*rule }).ok();
            let from = k / 2;
            let window: Vec<usize> = used
                .iter()
                .cloned()
                .filter(|&i| i >= from && i < k)
                .collect();
            let x: Vec<f64> = window.iter().map(|&i| h_diag[i]).collect();
            let y: Vec<f64> = window.iter().map(|&i| c_diag[i]).collect();
            GammaAtK {
                k,
                gamma: fit.map(|f| f.gamma),
                r_squared: fit.map(|f| f.r_squared),
                points: fit.map_or(0, |f| f.points_used),
                local_slope: fit_power_law(&x, &y).ok().map(|f| f.slope),
                window: (from, k),
            }
        })
        .collect()
}

/// Sample multiplicities of replicate `rep` (N draws with replacement).
pub(crate) fn multiplicities(n: usize, seed: u64, rep: usize) -> Vec<f64> {
    let mut rng = seeded_stream(seed, rep as u64);
    let mut w = vec![0.0; n];
    for _ in 0..n {
        w[rng.random_range(0..n)] += 1.0;
    }
    w
}

/// The R x n multiplicities of replicates `0..r` ([`multiplicities`]).
pub(crate) fn multiplicity_matrix(n: usize, seed: u64, r: usize) -> Mat<f64> {
    let rows: Vec<Vec<f64>> = (0..r)
        .into_par_iter()
        .map(|rep| multiplicities(n, seed, rep))
        .collect();
    Mat::from_fn(r, n, |rep, p| rows[rep][p])
}

/// `W X / n`: each replicate's weighted column means of `x` (n x k), one GEMM.
pub(crate) fn replicate_means(w: MatRef<'_, f64>, x: MatRef<'_, f64>, par: Par) -> Mat<f64> {
    let mut out = Mat::<f64>::zeros(w.nrows(), x.ncols());
    matmul(
        out.as_mut(),
        Accum::Replace,
        w,
        x,
        1.0 / x.nrows().max(1) as f64,
        par,
    );
    out
}

/// gamma of replicate `rep`: the power law of row `rep` of `mc` against
/// row `rep` of `mh` (replicate means, [`replicate_means`]) over the
/// directions the floor rule keeps among the first `kk`.
pub(crate) fn replicate_gamma(
    mh: &Mat<f64>,
    mc: &Mat<f64>,
    rep: usize,
    kk: usize,
    rule: &FitRule,
) -> Result<f64> {
    let h: Vec<f64> = (0..kk).map(|i| mh[(rep, i)]).collect();
    let c: Vec<f64> = (0..kk).map(|i| mc[(rep, i)]).collect();
    let used = select_unordered(&h, &c, kk, rule.rel_floor);
    let x: Vec<f64> = used.iter().map(|&i| h[i]).collect();
    let y: Vec<f64> = used.iter().map(|&i| c[i]).collect();
    fit_power_law(&x, &y)
        .map(|f| f.slope)
        .map_err(|e| Error::Bootstrap {
            rep,
            source: Box::new(e),
        })
}

pub(crate) fn percentile_ci(mut v: Vec<f64>, level: f64) -> ((f64, f64), f64) {
    let std = mean_std(&v).map_or(f64::NAN, |(_, s)| s);
    v.sort_by(f64::total_cmp);
    let a = (1.0 - level) / 2.0;
    ((quantile_sorted(&v, a), quantile_sorted(&v, 1.0 - a)), std)
}

/// The bootstrap of the module doc at the primary top-k `k`; progress: a
/// stage of R steps, one per replicate.
pub fn bootstrap_gamma(
    proj: &SampleProjections<'_>,
    k: usize,
    rule: &FitRule,
    s: &UncertaintySettings,
    par: Par,
    progress: &dyn Progress,
) -> Result<BootstrapGamma> {
    s.validate()?;
    let stage = StageGuard::begin(progress, "bootstrap of gamma", s.replicates as u64);
    let (n, kk) = (proj.grad.nrows(), proj.grad.ncols().min(k));
    if n == 0 || kk == 0 {
        return Err(Error::empty(
            "per-sample projections",
            "no samples or directions",
        ));
    }
    let r = s.replicates;
    let w = multiplicity_matrix(n, s.seed, r);
    let sq = Mat::from_fn(n, kk, |p, i| proj.grad[(p, i)].powi(2));
    let prod = |m: MatRef<'_, f64>| replicate_means(w.as_ref(), m.subcols(0, kk), par);
    let mg = prod(proj.grad);
    let mg2 = prod(sq.as_ref());
    let mh = prod(proj.h);
    let ms = proj.h2.map(prod);
    let b = proj.batch_size as f64;
    let fits: Vec<Result<(f64, f64, Option<f64>)>> = (0..r)
        .into_par_iter()
        .map(|rep| {
            let wrap = |e: Error| Error::Bootstrap {
                rep,
                source: Box::new(e),
            };
            let h: Vec<f64> = (0..kk).map(|i| mh[(rep, i)]).collect();
            let c: Vec<f64> = (0..kk)
                .map(|i| (mg2[(rep, i)] - mg[(rep, i)].powi(2)) / b)
                .collect();
            let used = select_unordered(&h, &c, kk, rule.rel_floor);
            let x: Vec<f64> = used.iter().map(|&i| h[i]).collect();
            let y: Vec<f64> = used.iter().map(|&i| c[i]).collect();
            let g = fit_power_law(&x, &y).map_err(wrap)?.slope;
            let (curv, _, _) = quadratic_curvature(&x, &y).map_err(wrap)?;
            let ga = match &ms {
                Some(ms) => {
                    let sd: Vec<f64> = (0..kk).map(|i| ms[(rep, i)]).collect();
                    let used = select_unordered(&h, &sd, kk, rule.rel_floor);
                    let x: Vec<f64> = used.iter().map(|&i| h[i]).collect();
                    let y: Vec<f64> = used.iter().map(|&i| sd[i]).collect();
                    fit_power_law(&x, &y).ok().map(|f| f.slope)
                }
                None => None,
            };
            stage.step(&format!("replicate {}", rep + 1));
            Ok((g, curv, ga))
        })
        .collect();
    let mut gs = Vec::with_capacity(r);
    let mut cs = Vec::with_capacity(r);
    let mut gas = Vec::with_capacity(r);
    for f in fits {
        let (g, c, ga) = f?;
        gs.push(g);
        cs.push(c);
        if let Some(x) = ga {
            gas.push(x);
        }
    }
    let (gamma_ci, gamma_std) = percentile_ci(gs, s.level);
    let (curvature_ci, _) = percentile_ci(cs, s.level);
    let awd = (ms.is_some() && gas.len() == r).then(|| percentile_ci(gas, s.level));
    Ok(BootstrapGamma {
        replicates: r,
        level: s.level,
        scheme: "samples resampled with replacement; eigenbasis of the full-sample H held fixed (conditional bootstrap)".into(),
        gamma_ci,
        gamma_std,
        gamma_awd_ci: awd.map(|a| a.0),
        gamma_awd_std: awd.map(|a| a.1),
        curvature_ci,
    })
}

/// The form test of the module doc on the directions `used` (indices into
/// the columns of `proj.grad`), against `h_diag`; progress: a stage of R
/// steps, one per rotation of the null.
pub fn form_test(
    proj: &SampleProjections<'_>,
    h_diag: &[f64],
    c_diag: &[f64],
    used: &[usize],
    s: &UncertaintySettings,
    par: Par,
    progress: &dyn Progress,
) -> Result<FormTest> {
    s.validate()?;
    let stage = StageGuard::begin(progress, "form test: Haar-rotated null", s.rotations as u64);
    let x: Vec<f64> = used.iter().map(|&i| h_diag[i]).collect();
    let y: Vec<f64> = used.iter().map(|&i| c_diag[i]).collect();
    let obs = fit_power_law(&x, &y)?;
    let (curvature, _, log_range_h) = quadratic_curvature(&x, &y)?;
    let (n, m) = (proj.grad.nrows(), used.len());
    let nb = n as f64;
    let sub = Mat::from_fn(n, m, |p, j| proj.grad[(p, used[j])]);
    let means: Vec<f64> = (0..m)
        .map(|j| (0..n).map(|p| sub[(p, j)]).sum::<f64>() / nb)
        .collect();
    let mut ck = Mat::<f64>::zeros(m, m);
    matmul(
        ck.as_mut(),
        Accum::Replace,
        sub.transpose(),
        sub.as_ref(),
        1.0 / nb,
        par,
    );
    drop(sub);
    let b = proj.batch_size as f64;
    let ck = Mat::from_fn(m, m, |i, j| {
        let (a, c) = if i >= j { (i, j) } else { (j, i) };
        (ck[(a, c)] - means[a] * means[c]) / b
    });
    let null: Vec<Result<f64>> = (0..s.rotations)
        .into_par_iter()
        .map(|rot| {
            let mut rng = seeded_stream(s.seed ^ NULL_SALT, rot as u64);
            let q = haar_orthogonal(m, &mut rng);
            let mut cq = Mat::<f64>::zeros(m, m);
            matmul(
                cq.as_mut(),
                Accum::Replace,
                ck.as_ref(),
                q.as_ref(),
                1.0,
                Par::Seq,
            );
            let d: Vec<f64> = (0..m)
                .map(|j| (0..m).map(|i| q[(i, j)] * cq[(i, j)]).sum())
                .collect();
            stage.step(&format!("rotation {}", rot + 1));
            fit_power_law(&x, &d).map(|f| f.r_squared)
        })
        .collect();
    let mut r2 = Vec::with_capacity(s.rotations);
    for v in null {
        r2.push(v?);
    }
    let exceed = r2.iter().filter(|&&v| v >= obs.r_squared).count();
    r2.sort_by(f64::total_cmp);
    let rf = (s.rotations + 1) as f64;
    Ok(FormTest {
        curvature,
        log_range_h,
        r_squared: obs.r_squared,
        rotations: s.rotations,
        null_median: median_sorted(&r2),
        null_q99: quantile_sorted(&r2, 0.99),
        p_value: (1 + exceed) as f64 / rf,
        p_floor: 1.0 / rf,
    })
}

/// [`gamma_uncertainty`] on the per-sample projections of
/// [`crate::kron::KronCurvature::projections_per_sample`] (the figure an
/// analysis records: the error as a [`Failure`], also when the per-sample
/// part was not kept).
#[allow(clippy::too_many_arguments)]
pub fn gamma_uncertainty_of(
    proj: &crate::kron::Projections,
    batch_size: usize,
    h_diag: &[f64],
    c_diag: &[f64],
    rule: &FitRule,
    requested_k: usize,
    s: &UncertaintySettings,
    par: Par,
    progress: &dyn Progress,
) -> std::result::Result<GammaUncertainty, Failure> {
    let Some(ps) = proj.per_sample.as_ref() else {
        return Err(Failure::new(
            "Internal",
            "per-sample projections were not kept",
        ));
    };
    gamma_uncertainty(
        &SampleProjections {
            grad: proj.grad.as_ref(),
            h: ps.h.as_ref(),
            h2: Some(ps.h2.as_ref()),
            batch_size,
        },
        h_diag,
        c_diag,
        rule,
        requested_k,
        s,
        par,
        progress,
    )
    .map_err(Failure::from)
}

/// gamma(k), the bootstrap and the form test of one layer (module doc):
/// `h_diag` the eigenvalues of the full-sample H (descending) and `c_diag`
/// the `C_ii` on the same k columns as `proj`; `rule` the analysis' fit rule
/// (its `top_k` is the primary top-k); `requested_k` the top-k asked for
/// (0: all), named in the rule text; progress as in the module doc.
#[allow(clippy::too_many_arguments)]
pub fn gamma_uncertainty(
    proj: &SampleProjections<'_>,
    h_diag: &[f64],
    c_diag: &[f64],
    rule: &FitRule,
    requested_k: usize,
    s: &UncertaintySettings,
    par: Par,
    progress: &dyn Progress,
) -> Result<GammaUncertainty> {
    s.validate()?;
    let (n, k) = (proj.grad.nrows(), proj.grad.ncols());
    for (name, m) in [("h_pi", Some(proj.h)), ("s_pi", proj.h2)] {
        if let Some(m) = m {
            if (m.nrows(), m.ncols()) != (n, k) {
                return Err(Error::shape(
                    name,
                    format!("{n} x {k}"),
                    format!("{} x {}", m.nrows(), m.ncols()),
                ));
            }
        }
    }
    if h_diag.len() != k || c_diag.len() != k {
        return Err(Error::shape(
            "H_ii, C_ii",
            k,
            format!("{}, {}", h_diag.len(), c_diag.len()),
        ));
    }
    let primary_k = rule.top_k.min(k);
    let (used, _) = rule.select(h_diag, c_diag)?;
    let rule_text = format!(
        "primary top-k = {primary_k}: every direction computed ({}), of which the {} with H_ii > {:.1e} H_11 and C_ii > {:.1e} max C_jj are fitted",
        if requested_k == 0 {
            "--top-k 0: all d".to_string()
        } else {
            format!("--top-k {requested_k}")
        },
        used.len(),
        rule.rel_floor,
        rule.rel_floor
    );
    let mut warnings = Vec::new();
    if 4 * primary_k > n {
        warnings.push(format!(
            "top-k {primary_k} exceeds N/4 = {} samples: the smaller C_ii are estimated from few samples per direction",
            n / 4
        ));
    }
    let curve = {
        let _stage = StageGuard::begin(progress, "gamma(k) and local slopes", 0);
        gamma_curve(h_diag, c_diag, rule, s)
    };
    let bootstrap = bootstrap_gamma(proj, primary_k, rule, s, par, progress).map_err(Failure::from);
    let form = if used.len() < 4 {
        Err(Failure::from(Error::DegenerateFit {
            input: "H_ii, C_ii".into(),
            reason: format!(
                "{} usable directions; the form test needs at least 4",
                used.len()
            ),
        }))
    } else {
        form_test(proj, h_diag, c_diag, &used, s, par, progress).map_err(Failure::from)
    };
    Ok(GammaUncertainty {
        primary_k,
        rule: rule_text,
        samples: n,
        curve,
        bootstrap,
        form,
        warnings,
    })
}
