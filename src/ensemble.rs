//! Per-sample Hessian ensembles `{h_p}` in factored form.
//!
//! Each sample is kept as `h_p = U_p diag(lambda_p) U_p^T` with `U_p` a d x r_p
//! matrix of orthonormal columns; a dense d x d matrix per sample is only
//! built on request ([`Ensemble::dense_sample`]). All factors live in one
//! d x R matrix (R = sum_p r_p), so the moments of `crate::moments` are single
//! matrix products:
//!
//! - `H = E_p[h_p] = (1/n) F diag(lambda) F^T`
//! - `E_p[h_p^2] = (1/n) F diag(lambda^2) F^T` (because `U_p^T U_p = I`).
//!
//! The generators ([`EnsembleSpec`]) draw reproducible ensembles from a seed
//! (ChaCha8) for the synthetic claims C2 and C7-C13:
//!
//! - eigenvalue law ([`EigenLaw`]): a mean profile `m_k` over the per-sample
//!   rank (power law `k^-a`, spikes plus bulk, equal/degenerate, geometric over
//!   a number of decades) or i.i.d. log-normal magnitudes; per-sample
//!   multiplicative jitter `lambda_pk = scale m_k xi_pk` with `E xi = 1`,
//!   `Var xi = alpha` (Gamma distributed), the `alpha` of C10;
//! - alignment ([`Alignment`]): perfect (one common Haar frame `Q`, `u_pk = q_k`),
//!   Haar (an independent Haar frame per sample), perturbed (`U_p = Q cos t +
//!   W_p sin t` with `W_p` a Haar frame orthogonal to `Q`: every principal angle
//!   between `U_p` and `Q` equals `t`), entangled (rank-1-dominated samples whose
//!   top direction is a global direction `q_i` chosen through a Gaussian copula
//!   with the eigenvalue, correlation `coupling`: C13);
//! - an optional fraction of sign-flipped eigenvalues, to probe the PSD
//!   assumption of C9.

use faer::{Mat, MatRef};
use rand::Rng as _;
use rand_distr::{Distribution, Gamma, LogNormal, Normal, StandardNormal};
use serde::Serialize;
use statrs::distribution::{ContinuousCDF, Normal as StatNormal};

use crate::error::{Error, Result};
use crate::linalg::{
    check_finite, check_finite_slice, haar_frame, orthonormality_residual, psd_tolerance,
    seeded_rng, Rng,
};

/// A per-sample Hessian ensemble in factored form.
#[derive(Debug, Clone)]
pub struct Ensemble {
    d: usize,
    factors: Mat<f64>,
    lambda: Vec<f64>,
    offsets: Vec<usize>,
}

/// A view of one sample: `h_p = u diag(lambda) u^T`.
#[derive(Debug, Clone, Copy)]
pub struct SampleRef<'a> {
    /// d x r_p, orthonormal columns.
    pub u: MatRef<'a, f64>,
    /// r_p eigenvalues.
    pub lambda: &'a [f64],
}

/// Tolerance on `max |U^T U - I|` for user-supplied factors.
pub fn orthonormal_tolerance(d: usize) -> f64 {
    1e3 * d.max(1) as f64 * f64::EPSILON
}

impl Ensemble {
    /// Builds an ensemble from per-sample factors `(U_p, lambda_p)`, checking
    /// shapes, finiteness and orthonormality of every `U_p`.
    pub fn from_samples(d: usize, samples: Vec<(Mat<f64>, Vec<f64>)>, input: &str) -> Result<Self> {
        if samples.is_empty() {
            return Err(Error::empty(input, "no samples"));
        }
        if d == 0 {
            return Err(Error::param("d", d, "dimension must be at least 1"));
        }
        let total: usize = samples.iter().map(|(_, l)| l.len()).sum();
        let mut factors = Mat::zeros(d, total);
        let mut lambda = Vec::with_capacity(total);
        let mut offsets = Vec::with_capacity(samples.len() + 1);
        offsets.push(0);
        let mut col = 0;
        for (p, (u, l)) in samples.iter().enumerate() {
            let name = format!("{input}: sample {p}");
            if u.nrows() != d || u.ncols() != l.len() {
                return Err(Error::shape(
                    &name,
                    format!("U_p of {d} x {} (one column per eigenvalue)", l.len()),
                    format!("{} x {}", u.nrows(), u.ncols()),
                ));
            }
            if l.len() > d {
                return Err(Error::param(
                    &format!("{name}: rank"),
                    l.len(),
                    format!("exceeds d = {d}"),
                ));
            }
            check_finite(u.as_ref(), &name)?;
            check_finite_slice(l, &name)?;
            let res = orthonormality_residual(u.as_ref());
            let tol = orthonormal_tolerance(d);
            if res > tol {
                return Err(Error::NotOrthonormal {
                    input: name,
                    residual: res,
                    tol,
                });
            }
            for k in 0..l.len() {
                for i in 0..d {
                    factors[(i, col)] = u[(i, k)];
                }
                lambda.push(l[k]);
                col += 1;
            }
            offsets.push(col);
        }
        Ok(Ensemble {
            d,
            factors,
            lambda,
            offsets,
        })
    }

    /// Number of samples n.
    pub fn n(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Dimension d.
    pub fn d(&self) -> usize {
        self.d
    }

    /// Total rank R = sum_p r_p (columns of the factor matrix).
    pub fn total_rank(&self) -> usize {
        self.lambda.len()
    }

    /// Rank r_p of sample p.
    pub fn rank(&self, p: usize) -> usize {
        self.offsets[p + 1] - self.offsets[p]
    }

    /// Sample p as `(U_p, lambda_p)`. Panics if `p >= n` (an internal index).
    pub fn sample(&self, p: usize) -> SampleRef<'_> {
        let (a, b) = (self.offsets[p], self.offsets[p + 1]);
        SampleRef {
            u: self.factors.as_ref().subcols(a, b - a),
            lambda: &self.lambda[a..b],
        }
    }

    /// All factors side by side, d x R.
    pub fn factors(&self) -> MatRef<'_, f64> {
        self.factors.as_ref()
    }

    /// All eigenvalues, in factor-column order.
    pub fn eigenvalues(&self) -> &[f64] {
        &self.lambda
    }

    /// Column ranges of the samples (length n + 1).
    pub fn offsets(&self) -> &[usize] {
        &self.offsets
    }

    /// `Lambda = max_{p,k} lambda_pk` (0 for an all-zero ensemble).
    pub fn lambda_max(&self) -> f64 {
        self.lambda.iter().cloned().fold(0.0, f64::max)
    }

    /// Smallest eigenvalue over all samples (0 when ranks are below d, as the
    /// missing eigenvalues are zero).
    pub fn lambda_min(&self) -> f64 {
        let m = self.lambda.iter().cloned().fold(f64::INFINITY, f64::min);
        if (0..self.n()).any(|p| self.rank(p) < self.d) {
            m.min(0.0)
        } else {
            m
        }
    }

    /// Whether every h_p passes the PSD rule `lambda_min >= -30 d eps ||h_p||_2`.
    pub fn is_psd(&self) -> bool {
        (0..self.n()).all(|p| {
            let l = self.sample(p).lambda;
            let norm = l.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            l.iter().all(|&v| v >= -psd_tolerance(self.d, norm))
        })
    }

    /// The first sample that fails the PSD rule, with its smallest eigenvalue.
    pub fn first_non_psd(&self) -> Option<(usize, f64)> {
        (0..self.n()).find_map(|p| {
            let l = self.sample(p).lambda;
            let norm = l.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let min = l.iter().cloned().fold(f64::INFINITY, f64::min);
            (min < -psd_tolerance(self.d, norm)).then_some((p, min))
        })
    }

    /// Fails with [`Error::NotPsd`] naming the first non-PSD sample.
    pub fn require_psd(&self, input: &str) -> Result<()> {
        match self.first_non_psd() {
            None => Ok(()),
            Some((p, min)) => {
                let l = self.sample(p).lambda;
                let norm = l.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                Err(Error::NotPsd {
                    input: format!("{input}: sample {p}"),
                    min_eig: min,
                    tol: psd_tolerance(self.d, norm),
                })
            }
        }
    }

    /// The dense d x d matrix of sample p.
    pub fn dense_sample(&self, p: usize) -> Mat<f64> {
        let s = self.sample(p);
        let scaled = Mat::from_fn(self.d, s.lambda.len(), |i, k| s.u[(i, k)] * s.lambda[k]);
        &scaled * s.u.transpose()
    }

    /// The ensemble of the loss scaled by `s`: every eigenvalue times `s` (C2).
    pub fn scaled(&self, s: f64) -> Result<Self> {
        if !s.is_finite() || s <= 0.0 {
            return Err(Error::param("scale", s, "must be finite and positive"));
        }
        let mut e = self.clone();
        e.lambda.iter_mut().for_each(|l| *l *= s);
        Ok(e)
    }

    /// The same eigenvectors with spectra replaced by `f(p, lambda_p)` (same
    /// length): used by the suppression experiment of C13.
    pub fn with_spectra(&self, mut f: impl FnMut(usize, &[f64]) -> Vec<f64>) -> Result<Self> {
        let mut e = self.clone();
        for p in 0..self.n() {
            let (a, b) = (self.offsets[p], self.offsets[p + 1]);
            let new = f(p, &self.lambda[a..b]);
            if new.len() != b - a {
                return Err(Error::shape(
                    &format!("new spectrum of sample {p}"),
                    b - a,
                    new.len(),
                ));
            }
            check_finite_slice(&new, &format!("new spectrum of sample {p}"))?;
            e.lambda[a..b].copy_from_slice(&new);
        }
        Ok(e)
    }

    /// The ensemble of the samples `indices` (repeats allowed: bootstrap).
    pub fn select(&self, indices: &[usize]) -> Result<Self> {
        if indices.is_empty() {
            return Err(Error::empty("sample selection", "no indices"));
        }
        if let Some(&bad) = indices.iter().find(|&&p| p >= self.n()) {
            return Err(Error::param(
                "sample index",
                bad,
                format!("ensemble has {} samples", self.n()),
            ));
        }
        let total: usize = indices.iter().map(|&p| self.rank(p)).sum();
        let mut factors = Mat::zeros(self.d, total);
        let mut lambda = Vec::with_capacity(total);
        let mut offsets = vec![0];
        let mut col = 0;
        for &p in indices {
            let s = self.sample(p);
            for k in 0..s.lambda.len() {
                factors.col_mut(col).copy_from(s.u.col(k));
                lambda.push(s.lambda[k]);
                col += 1;
            }
            offsets.push(col);
        }
        Ok(Ensemble {
            d: self.d,
            factors,
            lambda,
            offsets,
        })
    }
}

/// The law of the per-sample eigenvalues.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "law", rename_all = "snake_case")]
pub enum EigenLaw {
    /// Mean profile `m_k = k^-exponent`, k = 1..r.
    PowerLaw { exponent: f64 },
    /// `m_k = 1` for the first `spikes`, `ratio` for the rest.
    SpikedBulk { spikes: usize, ratio: f64 },
    /// `m_k = 1` for every k (degenerate).
    Equal,
    /// `m_k` log-spaced from 1 down to `10^-decades`.
    Geometric { decades: f64 },
    /// `lambda_pk` i.i.d. LogNormal(0, sigma), independent of k (C11).
    LogNormal { sigma: f64 },
}

impl EigenLaw {
    /// Mean profile m_k for k = 1..r (LogNormal: its mean, the same for all k).
    pub fn profile(&self, r: usize) -> Vec<f64> {
        (1..=r)
            .map(|k| match *self {
                EigenLaw::PowerLaw { exponent } => (k as f64).powf(-exponent),
                EigenLaw::SpikedBulk { spikes, ratio } => {
                    if k <= spikes {
                        1.0
                    } else {
                        ratio
                    }
                }
                EigenLaw::Equal => 1.0,
                EigenLaw::Geometric { decades } => {
                    if r == 1 {
                        1.0
                    } else {
                        10f64.powf(-decades * (k - 1) as f64 / (r - 1) as f64)
                    }
                }
                EigenLaw::LogNormal { sigma } => (sigma * sigma / 2.0).exp(),
            })
            .collect()
    }

    fn validate(&self) -> Result<()> {
        let bad = |name: &str, v: f64, why: &str| Err(Error::param(name, v, why));
        match *self {
            EigenLaw::PowerLaw { exponent } if !exponent.is_finite() || exponent < 0.0 => {
                bad("power-law exponent", exponent, "must be finite and >= 0")
            }
            EigenLaw::SpikedBulk { ratio, .. } if !ratio.is_finite() || ratio < 0.0 => {
                bad("bulk ratio", ratio, "must be finite and >= 0")
            }
            EigenLaw::Geometric { decades }
                if !decades.is_finite() || !(0.0..=250.0).contains(&decades) =>
            {
                bad("decades", decades, "must be in [0, 250]")
            }
            EigenLaw::LogNormal { sigma }
                if !sigma.is_finite() || !(0.0..=20.0).contains(&sigma) =>
            {
                bad("log-normal sigma", sigma, "must be in [0, 20]")
            }
            _ => Ok(()),
        }
    }
}

/// How the per-sample eigenvectors relate across samples.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Alignment {
    /// `u_pk = q_k` for one common Haar frame Q.
    Perfect,
    /// An independent Haar frame per sample.
    Haar,
    /// `U_p = Q cos(angle) + W_p sin(angle)`, W_p a Haar frame orthogonal to Q
    /// (needs 2r <= d).
    Perturbed { angle: f64 },
    /// Rank-1-dominated samples: the top eigenvector is `q_i cos(spread) + w
    /// sin(spread)` with `w` a random unit vector orthogonal to `q_i`; the
    /// direction index i is drawn from `P(i) ~ 1/(i+1)` over `directions`
    /// global directions through a Gaussian copula with correlation `coupling`
    /// to the log of the top eigenvalue (coupling > 0: stiff samples sit on the
    /// top directions). Tail eigenvectors complete a Haar frame.
    Entangled {
        coupling: f64,
        spread: f64,
        directions: usize,
    },
}

/// A recipe for a seeded synthetic ensemble.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EnsembleSpec {
    /// Dimension of the parameter space.
    pub d: usize,
    /// Number of samples.
    pub n: usize,
    /// Per-sample rank r (1 <= r <= d).
    pub rank: usize,
    /// Eigenvalue law.
    pub law: EigenLaw,
    /// Multiplicative per-sample jitter `Var(xi) = jitter` (the C10 alpha); 0 = none.
    pub jitter: f64,
    /// Overall scale of the eigenvalues.
    pub scale: f64,
    /// Eigenvector alignment across samples.
    pub alignment: Alignment,
    /// Probability that an eigenvalue is negated (0 = PSD ensemble).
    pub negative_fraction: f64,
    /// Seed of the ChaCha8 stream.
    pub seed: u64,
}

impl EnsembleSpec {
    /// A PSD ensemble with the given shape, law and alignment, no jitter, scale 1.
    pub fn new(
        d: usize,
        n: usize,
        rank: usize,
        law: EigenLaw,
        alignment: Alignment,
        seed: u64,
    ) -> Self {
        EnsembleSpec {
            d,
            n,
            rank,
            law,
            jitter: 0.0,
            scale: 1.0,
            alignment,
            negative_fraction: 0.0,
            seed,
        }
    }

    /// Checks every knob, with errors naming the knob.
    pub fn validate(&self) -> Result<()> {
        if self.d == 0 {
            return Err(Error::param("d", self.d, "must be at least 1"));
        }
        if self.n == 0 {
            return Err(Error::param(
                "n",
                self.n,
                "an ensemble needs at least one sample",
            ));
        }
        if self.rank == 0 || self.rank > self.d {
            return Err(Error::param(
                "rank",
                self.rank,
                format!("must be in 1..={}", self.d),
            ));
        }
        let work = (self.d as f64) * (self.rank as f64) * (self.n as f64);
        if work > 5e8 {
            return Err(Error::param(
                "d * rank * n",
                work,
                "exceeds 5e8 factor entries",
            ));
        }
        self.law.validate()?;
        if !self.jitter.is_finite() || !(0.0..=100.0).contains(&self.jitter) {
            return Err(Error::param("jitter", self.jitter, "must be in [0, 100]"));
        }
        if !self.scale.is_finite() || self.scale <= 0.0 {
            return Err(Error::param(
                "scale",
                self.scale,
                "must be finite and positive",
            ));
        }
        if !(0.0..=1.0).contains(&self.negative_fraction) {
            return Err(Error::param(
                "negative_fraction",
                self.negative_fraction,
                "must be in [0, 1]",
            ));
        }
        match self.alignment {
            Alignment::Perturbed { angle } => {
                if !angle.is_finite() {
                    return Err(Error::param("angle", angle, "must be finite"));
                }
                if 2 * self.rank > self.d {
                    return Err(Error::param(
                        "rank",
                        self.rank,
                        format!("perturbed alignment needs 2 * rank <= d = {}", self.d),
                    ));
                }
            }
            Alignment::Entangled {
                coupling,
                spread,
                directions,
            } => {
                if !(-1.0..=1.0).contains(&coupling) {
                    return Err(Error::param("coupling", coupling, "must be in [-1, 1]"));
                }
                if !spread.is_finite() {
                    return Err(Error::param("spread", spread, "must be finite"));
                }
                if directions == 0 || directions > self.d {
                    return Err(Error::param(
                        "directions",
                        directions,
                        format!("must be in 1..={}", self.d),
                    ));
                }
                if self.d < 2 && spread != 0.0 {
                    return Err(Error::param("spread", spread, "needs d >= 2"));
                }
            }
            Alignment::Perfect | Alignment::Haar => {}
        }
        Ok(())
    }

    /// Draws the ensemble.
    pub fn generate(&self) -> Result<Ensemble> {
        self.validate()?;
        let mut rng = seeded_rng(self.seed);
        let (d, r) = (self.d, self.rank);
        let profile = self.law.profile(r);
        let common = match self.alignment {
            Alignment::Perfect | Alignment::Perturbed { .. } => Some(haar_frame(d, r, &mut rng)?),
            Alignment::Entangled { directions, .. } => Some(haar_frame(d, directions, &mut rng)?),
            Alignment::Haar => None,
        };
        let mut samples = Vec::with_capacity(self.n);
        for _ in 0..self.n {
            let (u, mut lambda) = match self.alignment {
                Alignment::Perfect => {
                    let q = common_frame(&common)?;
                    (q.clone(), self.draw_spectrum(&profile, &mut rng)?)
                }
                Alignment::Haar => (
                    haar_frame(d, r, &mut rng)?,
                    self.draw_spectrum(&profile, &mut rng)?,
                ),
                Alignment::Perturbed { angle } => {
                    let q = common_frame(&common)?;
                    (
                        perturbed_frame(q.as_ref(), angle, &mut rng)?,
                        self.draw_spectrum(&profile, &mut rng)?,
                    )
                }
                Alignment::Entangled {
                    coupling,
                    spread,
                    directions,
                } => {
                    let _ = directions;
                    let q = common_frame(&common)?;
                    self.draw_entangled(q.as_ref(), &profile, coupling, spread, &mut rng)?
                }
            };
            if self.negative_fraction > 0.0 {
                for l in lambda.iter_mut() {
                    if rng.random::<f64>() < self.negative_fraction {
                        *l = -*l;
                    }
                }
            }
            samples.push((u, lambda));
        }
        Ensemble::from_samples(d, samples, "generated ensemble")
    }

    /// `lambda_pk = scale * m_k * xi_pk` with `xi ~ Gamma(1/alpha, alpha)`
    /// (mean 1, variance alpha), or i.i.d. log-normal for that law.
    fn draw_spectrum(&self, profile: &[f64], rng: &mut Rng) -> Result<Vec<f64>> {
        let jitter = self.jitter_dist()?;
        Ok(match self.law {
            EigenLaw::LogNormal { sigma } => {
                let ln = LogNormal::new(0.0, sigma)
                    .map_err(|e| Error::param("log-normal sigma", sigma, e.to_string()))?;
                profile
                    .iter()
                    .map(|_| self.scale * ln.sample(rng))
                    .collect()
            }
            _ => profile
                .iter()
                .map(|m| self.scale * m * jitter.as_ref().map_or(1.0, |g| g.sample(rng)))
                .collect(),
        })
    }

    fn jitter_dist(&self) -> Result<Option<Gamma<f64>>> {
        if self.jitter == 0.0 {
            return Ok(None);
        }
        Gamma::new(1.0 / self.jitter, self.jitter)
            .map(Some)
            .map_err(|e| Error::param("jitter", self.jitter, e.to_string()))
    }

    fn draw_entangled(
        &self,
        q: MatRef<'_, f64>,
        profile: &[f64],
        coupling: f64,
        spread: f64,
        rng: &mut Rng,
    ) -> Result<(Mat<f64>, Vec<f64>)> {
        let d = self.d;
        let m = q.ncols();
        // Top eigenvalue: log-normal with log-sd sqrt(ln(1 + alpha)), mean 1 (jitter 0: sd 0.5).
        let alpha = if self.jitter > 0.0 { self.jitter } else { 0.25 };
        let s = (1.0 + alpha).ln().sqrt();
        let z: f64 = StandardNormal.sample(rng);
        let eta: f64 = StandardNormal.sample(rng);
        let top = self.scale * (s * z - s * s / 2.0).exp();
        // Copula: latent t correlates with z; large t -> small index.
        let t = coupling * z + (1.0 - coupling * coupling).max(0.0).sqrt() * eta;
        let std =
            StatNormal::new(0.0, 1.0).map_err(|e| Error::param("normal", 0, e.to_string()))?;
        let u = std.cdf(-t).clamp(0.0, 1.0);
        let weights: Vec<f64> = (0..m).map(|i| 1.0 / (i + 1) as f64).collect();
        let total: f64 = weights.iter().sum();
        let mut acc = 0.0;
        let mut idx = m - 1;
        for (i, w) in weights.iter().enumerate() {
            acc += w / total;
            if u <= acc {
                idx = i;
                break;
            }
        }
        let qi = q.col(idx);
        // Random unit w orthogonal to q_i.
        let mut top_vec = vec![0.0; d];
        if d >= 2 && spread != 0.0 {
            let mut w: Vec<f64> = (0..d).map(|_| StandardNormal.sample(rng)).collect();
            let dot: f64 = (0..d).map(|i| w[i] * qi[i]).sum();
            for i in 0..d {
                w[i] -= dot * qi[i];
            }
            let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
            for i in 0..d {
                top_vec[i] = qi[i] * spread.cos() + w[i] / norm * spread.sin();
            }
        } else {
            for (i, t) in top_vec.iter_mut().enumerate() {
                *t = qi[i];
            }
        }
        let r = self.rank;
        let frame = frame_with_first(&top_vec, r, rng)?;
        let mut lambda = vec![top];
        let jitter = self.jitter_dist()?;
        for m_k in profile.iter().skip(1) {
            // Tail: the profile relative to m_1, times the jitter.
            let xi = jitter.as_ref().map_or(1.0, |g| g.sample(rng));
            lambda.push(self.scale * m_k / profile[0] * xi * 0.1);
        }
        Ok((frame, lambda))
    }
}

fn common_frame(common: &Option<Mat<f64>>) -> Result<&Mat<f64>> {
    common
        .as_ref()
        .ok_or_else(|| Error::param("alignment", "common frame", "missing (internal)"))
}

/// `U = Q cos(t) + W sin(t)` with W a Haar frame orthogonal to the columns of Q.
fn perturbed_frame(q: MatRef<'_, f64>, angle: f64, rng: &mut Rng) -> Result<Mat<f64>> {
    let (d, r) = (q.nrows(), q.ncols());
    let g = haar_frame(d, r, rng)?;
    // Project out Q, re-orthonormalise (QR) and sign-fix.
    let proj = &g - q * (q.transpose() * &g);
    let qr = proj.qr();
    let mut w = qr.compute_thin_Q();
    let rr = qr.thin_R();
    for j in 0..r {
        if rr[(j, j)] < 0.0 {
            for i in 0..d {
                w[(i, j)] = -w[(i, j)];
            }
        }
    }
    let (c, s) = (angle.cos(), angle.sin());
    Ok(Mat::from_fn(d, r, |i, j| c * q[(i, j)] + s * w[(i, j)]))
}

/// An orthonormal d x r frame whose first column is `first` (unit) and whose
/// other columns are Haar-random in its complement.
fn frame_with_first(first: &[f64], r: usize, rng: &mut Rng) -> Result<Mat<f64>> {
    let d = first.len();
    let mut g = Mat::from_fn(d, r, |_, _| StandardNormal.sample(rng));
    for i in 0..d {
        g[(i, 0)] = first[i];
    }
    let qr = g.qr();
    let mut q = qr.compute_thin_Q();
    let rr = qr.thin_R();
    for j in 0..r {
        if rr[(j, j)] < 0.0 {
            for i in 0..d {
                q[(i, j)] = -q[(i, j)];
            }
        }
    }
    Ok(q)
}

/// Draws `n` i.i.d. normal vectors of length d with standard deviation `sigma`.
pub fn gaussian_rows(n: usize, d: usize, sigma: f64, rng: &mut Rng) -> Result<Mat<f64>> {
    let dist = Normal::new(0.0, sigma).map_err(|e| Error::param("sigma", sigma, e.to_string()))?;
    Ok(Mat::from_fn(n, d, |_, _| dist.sample(rng)))
}
