//! Claims C6, C7, C13 and C15 on a trained network: `superlinear net-claims`
//! as a library call ([`run_net_claims`]). Issue 5, item 7.
//!
//! For every checkpoint of a training run (`epoch-NNNN.safetensors` and
//! `final.safetensors` in the run directory of `superlinear train`, with its
//! `run.json`): N class-balanced training samples, the Kronecker factors of
//! the analysed layer ([`crate::kron`]), H and its top-k eigenvectors `v_i`,
//! `C_ii` (Eq. 2), and on matched pairs the real AWD perturbations and the
//! terms of Eq. 57 ([`terms`]). Then:
//!
//! - **C15** (Remark 5.2): gamma and gamma_awd per checkpoint. Pass when gamma
//!   grows from the first to the last checkpoint by more than twice the
//!   combined standard error and the first checkpoint's fit already has
//!   `R^2 >= c15_min_r2`; otherwise deviates.
//! - **C6** (Lemma 3.3, Eq. 57-59): along training, `sum_i E[(T2.v_i)^2] /
//!   sum_i E[(T1.v_i)^2]` (Term II against Term I on the top-k) and the
//!   remainder `sum_i E[((Dg - T1).v_i)^2] / sum_i E[(Dg.v_i)^2]`. Pass at the
//!   last checkpoint when the first is `<= c6_max_term2_share` and the second
//!   `<= c6_max_residual`; else fail. Table 3's column: gamma of `C_I+II`
//!   (Term I + Term II with the real dw_p, our reading of Eq. 58), reported
//!   beside gamma and gamma_awd.
//! - **C7** (Thm. 3.4, Eq. 63-68): at the last checkpoint, gamma of `C_I`
//!   (actual dw_p), `C_diag` (local cross terms dropped) and `C_iso = sigma^2
//!   E[h^2]`, their relative differences, and the isotropy figures. Pass when
//!   `|gamma_I - gamma_iso| <= c7_gamma_tol`; else deviates (an empirical
//!   assumption measured off).
//! - **C13** (Sec. 5.3, App. B.3): at the last checkpoint, Eq. 24-27 with the
//!   configured thresholds ([`suppress`]), gamma_awd before and after, and the
//!   tails-only run (every principal mode kept, tails scaled by
//!   `tails_factor`) for "the spectra barely move". Pass when the tails-only
//!   run moves the top-k H shape (median relative change of `H_ii / H_11`)
//!   by at most `c13_shape_tol` and the
//!   homogenised run lowers gamma_awd by more than `c13_gamma_tol` for CE and
//!   moves it by at most `c13_gamma_tol` for softmax-MSE; else deviates.
//!
//! All thresholds are settings with documented defaults; they decide
//! verdicts, the figures are always reported.

pub use crate::layer::{suppress, terms};

use std::path::{Path, PathBuf};
use std::time::Instant;

use faer::Mat;
use serde::Serialize;
use tch::Kind;

use super::analyze::{balanced_indices, run_metadata};
use super::curvature::{layer_samples, tensor_to_f64};
use super::dataset::{load_data, DataSettings};
use super::model::Net;
use super::train::{TrainData, TrainReport};
use super::{Result, TorchError};
use crate::claims::Verdict;
use crate::fit::{fit_gamma, FitRule, GammaFit};
use crate::kron::{KronCurvature, LossKind};
use crate::linalg::sym_eig;
use crate::pairs::RatioStats;
use crate::suppression::SuppressionConfig;
use suppress::{suppress_layer, KronSuppression};
use terms::{match_halves, measure, Isotropy, PairedLayer};

/// The claims this command checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum NetClaim {
    /// Term I vs Term II (Lemma 3.3).
    C6,
    /// Isotropy of real AWD perturbations (Thm. 3.4).
    C7,
    /// Suppression experiment (App. B.3).
    C13,
    /// gamma over training (Remark 5.2).
    C15,
}

impl NetClaim {
    /// Every claim, in order.
    pub const ALL: [NetClaim; 4] = [NetClaim::C6, NetClaim::C7, NetClaim::C13, NetClaim::C15];

    /// Parses "C6", "c7", ... .
    pub fn parse(s: &str) -> Result<Self> {
        match s.trim().to_ascii_uppercase().as_str() {
            "C6" => Ok(NetClaim::C6),
            "C7" => Ok(NetClaim::C7),
            "C13" => Ok(NetClaim::C13),
            "C15" => Ok(NetClaim::C15),
            other => Err(TorchError::setting(
                "claims",
                other,
                "net-claims checks C6, C7, C13 and C15",
            )),
        }
    }

    /// The id, e.g. "C6".
    pub fn id(self) -> &'static str {
        match self {
            NetClaim::C6 => "C6",
            NetClaim::C7 => "C7",
            NetClaim::C13 => "C13",
            NetClaim::C15 => "C15",
        }
    }
}

/// Thresholds that turn figures into verdicts (module doc).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Thresholds {
    /// C6: largest admissible Term II / Term I share on the top-k (default 0.1).
    pub c6_max_term2_share: f64,
    /// C6: largest admissible `|Dg - T1|^2 / |Dg|^2` on the top-k (default 0.25).
    pub c6_max_residual: f64,
    /// C7: largest admissible `|gamma_I - gamma_iso|` (default 0.05).
    pub c7_gamma_tol: f64,
    /// C13: gamma change that counts as a change (default 0.05).
    pub c13_gamma_tol: f64,
    /// C13: largest median top-k shape change of H under tails-only suppression (default 0.1).
    pub c13_shape_tol: f64,
    /// C15: smallest R^2 at the first checkpoint (default 0.9).
    pub c15_min_r2: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            c6_max_term2_share: 0.1,
            c6_max_residual: 0.25,
            c7_gamma_tol: 0.05,
            c13_gamma_tol: 0.05,
            c13_shape_tol: 0.1,
            c15_min_r2: 0.9,
        }
    }
}

/// Settings of one `net-claims` run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NetClaimsSettings {
    /// Run directory of `superlinear train` (checkpoints and `run.json`).
    pub run_dir: PathBuf,
    /// Claims to check (non-empty, no repeats).
    pub claims: Vec<NetClaim>,
    /// Class-balanced training samples used (>= 2 per class).
    pub samples: usize,
    /// Top-k eigen-directions of H (0: all d).
    pub top_k: usize,
    /// Layer (None: the model's default, the paper's choice).
    pub layer: Option<String>,
    /// Seed of the split into matched halves.
    pub seed: u64,
    /// One-to-one matching instead of the paper's nearest partner.
    pub one_to_one: bool,
    /// Use every `stride`-th checkpoint (the last is always used; >= 1).
    pub stride: usize,
    /// Samples per chunk of the projection passes.
    pub chunk: usize,
    /// App. B.3 configuration of the homogenised suppression run.
    pub suppression: SuppressionConfig,
    /// Factor on the tail modes in the tails-only run (in (0, 1]).
    pub tails_factor: f64,
    /// Verdict thresholds.
    pub thresholds: Thresholds,
    /// Data override (None: the subset recorded in `run.json`).
    pub data: Option<DataSettings>,
}

impl Default for NetClaimsSettings {
    fn default() -> Self {
        NetClaimsSettings {
            run_dir: PathBuf::new(),
            claims: NetClaim::ALL.to_vec(),
            samples: 1000,
            top_k: 1000,
            layer: None,
            seed: 0,
            one_to_one: false,
            stride: 1,
            chunk: 64,
            suppression: SuppressionConfig::default(),
            tails_factor: 1e-3,
            thresholds: Thresholds::default(),
            data: None,
        }
    }
}

impl NetClaimsSettings {
    /// Checks every setting; errors name the setting.
    pub fn validate(&self) -> Result<()> {
        if self.claims.is_empty() {
            return Err(TorchError::setting("claims", "(none)", "give at least one"));
        }
        let mut c = self.claims.clone();
        c.sort();
        c.dedup();
        if c.len() != self.claims.len() {
            return Err(TorchError::setting(
                "claims",
                "repeated id",
                "give each claim once",
            ));
        }
        if self.samples < 4 {
            return Err(TorchError::setting(
                "samples",
                self.samples,
                "need at least 4 (two per class per half)",
            ));
        }
        if self.top_k != 0 && self.top_k < 3 {
            return Err(TorchError::setting(
                "top-k",
                self.top_k,
                "a fit needs at least 3 directions (0: all)",
            ));
        }
        if self.stride == 0 {
            return Err(TorchError::setting("stride", 0, "must be at least 1"));
        }
        if self.chunk == 0 {
            return Err(TorchError::setting("chunk", 0, "must be at least 1"));
        }
        self.suppression.validate()?;
        if !(self.tails_factor.is_finite() && self.tails_factor > 0.0 && self.tails_factor <= 1.0) {
            return Err(TorchError::setting(
                "tails-factor",
                self.tails_factor,
                "must be in (0, 1]",
            ));
        }
        let t = &self.thresholds;
        for (name, v) in [
            ("c6-max-term2-share", t.c6_max_term2_share),
            ("c6-max-residual", t.c6_max_residual),
            ("c7-gamma-tol", t.c7_gamma_tol),
            ("c13-gamma-tol", t.c13_gamma_tol),
            ("c13-shape-tol", t.c13_shape_tol),
            ("c15-min-r2", t.c15_min_r2),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(TorchError::setting(name, v, "must be finite and >= 0"));
            }
        }
        if t.c15_min_r2 > 1.0 {
            return Err(TorchError::setting(
                "c15-min-r2",
                t.c15_min_r2,
                "R^2 is at most 1",
            ));
        }
        Ok(())
    }

    fn wants(&self, c: NetClaim) -> bool {
        self.claims.contains(&c)
    }
}

/// A checkpoint of the run and its epoch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckpointFile {
    /// Epoch after which it was saved.
    pub epoch: usize,
    /// File.
    pub path: PathBuf,
}

/// The checkpoints of a run directory in epoch order: `epoch-NNNN.safetensors`,
/// then `final.safetensors` (epoch = `final_epoch`) unless an epoch file of
/// that epoch exists (same weights). Unparseable names are ignored.
pub fn list_checkpoints(dir: &Path, final_epoch: usize) -> Result<Vec<CheckpointFile>> {
    let rd = std::fs::read_dir(dir).map_err(|e| TorchError::Io {
        path: dir.display().to_string(),
        message: e.to_string(),
    })?;
    let mut out = Vec::new();
    let mut has_final = false;
    for entry in rd {
        let entry = entry.map_err(|e| TorchError::Io {
            path: dir.display().to_string(),
            message: e.to_string(),
        })?;
        let name = entry.file_name().to_string_lossy().to_string();
        if name == "final.safetensors" {
            has_final = true;
        } else if let Some(num) = name
            .strip_prefix("epoch-")
            .and_then(|s| s.strip_suffix(".safetensors"))
        {
            if let Ok(epoch) = num.parse::<usize>() {
                out.push(CheckpointFile {
                    epoch,
                    path: entry.path(),
                });
            }
        }
    }
    out.sort_by_key(|c| c.epoch);
    if has_final && out.last().is_none_or(|c| c.epoch != final_epoch) {
        out.push(CheckpointFile {
            epoch: final_epoch,
            path: dir.join("final.safetensors"),
        });
    }
    if out.is_empty() {
        return Err(TorchError::Checkpoint {
            path: dir.display().to_string(),
            reason: "no epoch-NNNN.safetensors or final.safetensors in the run directory".into(),
        });
    }
    Ok(out)
}

/// Every `stride`-th checkpoint, always including the last.
pub fn stride_checkpoints(all: &[CheckpointFile], stride: usize) -> Vec<CheckpointFile> {
    let stride = stride.max(1);
    let n = all.len();
    all.iter()
        .enumerate()
        .filter(|(i, _)| i % stride == 0 || *i + 1 == n)
        .map(|(_, c)| c.clone())
        .collect()
}

type Fit = std::result::Result<GammaFit, String>;

fn fit(h: &[f64], c: &[f64], rule: &FitRule) -> Fit {
    fit_gamma(h, c, rule).map_err(|e| e.to_string())
}

/// Ratio of sums, NaN when the denominator is 0.
fn share(num: &[f64], den: &[f64]) -> f64 {
    let d: f64 = den.iter().sum();
    if d > 0.0 {
        num.iter().sum::<f64>() / d
    } else {
        f64::NAN
    }
}

/// Median of finite values (NaN if none).
pub fn median(v: &[f64]) -> f64 {
    let mut s: Vec<f64> = v.iter().cloned().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return f64::NAN;
    }
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        0.5 * (s[n / 2 - 1] + s[n / 2])
    }
}

/// Relative differences `a_i / b_i - 1` over the directions with `b_i > 0`.
pub fn relative_differences(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter()
        .zip(b)
        .filter(|(_, y)| **y > 0.0)
        .map(|(x, y)| x / y - 1.0)
        .collect()
}

/// C6/C7 figures of one checkpoint (matched pairs and Eq. 57 terms).
#[derive(Debug, Clone, Serialize)]
pub struct PairFigures {
    /// Samples with a partner and `a_p != 0`.
    pub used: usize,
    /// Samples skipped for `a_p = 0`.
    pub zero_activity: usize,
    /// `|da| / |a|` over the pairs.
    pub ratio: Option<RatioStats>,
    /// Distinct partners among the N samples.
    pub distinct_partners: usize,
    /// gamma of `C_I` (Term I with the real dw_p).
    pub gamma_term1: Fit,
    /// gamma of `C_I+II` (Eq. 58; Table 3's column, our reading).
    pub gamma_term12: Fit,
    /// gamma of `sigma^2 E[h^2] + C_II` (the other reading of Eq. 58:
    /// isotropic Term I plus the measured Term II, cross terms dropped).
    pub gamma_iso_term2: Fit,
    /// gamma of `C_Dg` (exact matched-pair gradient differences).
    pub gamma_delta: Fit,
    /// gamma of `C_diag` (local cross terms dropped).
    pub gamma_local_diag: Fit,
    /// gamma of `sigma^2 E[h^2]` on the same samples (= gamma_awd).
    pub gamma_iso: Fit,
    /// Top-k: `sum E[(T2.v)^2] / sum E[(T1.v)^2]`.
    pub term2_share: f64,
    /// Top-k: `sum E[((Dg - T1).v)^2] / sum E[(Dg.v)^2]`.
    pub residual1: f64,
    /// Top-k: `sum E[((Dg - T1 - T2).v)^2] / sum E[(Dg.v)^2]`.
    pub residual12: f64,
    /// Full space: `E|T2|^2 / E|T1|^2`.
    pub term2_share_full: f64,
    /// Full space: `E|Dg - T1|^2 / E|Dg|^2`.
    pub residual1_full: f64,
    /// Full space: `E|Dg - T1 - T2|^2 / E|Dg|^2`.
    pub residual12_full: f64,
    /// `E|g_p|^2` (Term II scales with the per-sample gradients).
    pub grad_norm2: f64,
    /// Median over directions of `C_I,ii / (sigma^2 S_ii) - 1`.
    pub rel_term1_vs_iso_median: f64,
    /// Largest |.| of the same.
    pub rel_term1_vs_iso_max_abs: f64,
    /// Median of `C_I,ii / C_diag,ii - 1` (local cross terms).
    pub rel_term1_vs_diag_median: f64,
    /// Median of `C_diag,ii / (sigma^2 S_ii) - 1` (non-uniform mode variances).
    pub rel_diag_vs_iso_median: f64,
    /// Median over directions of `(B - 1) E[T1.v]^2 / E[(T1.v)^2]`: batch
    /// cross terms against the diagonal ones (Eq. 62-63), B from run.json.
    pub batch_cross_ratio_median: f64,
    /// Mean over the top-k of the entanglement correlation (C13).
    pub entanglement_mean: f64,
    /// Mean over the top 10 directions of the same.
    pub entanglement_top10: f64,
    /// Isotropy figures.
    pub isotropy: Isotropy,
}

/// Everything measured on one checkpoint.
#[derive(Debug, Clone, Serialize)]
pub struct CheckpointFigures {
    /// Epoch.
    pub epoch: usize,
    /// File.
    pub path: PathBuf,
    /// Training loss after that epoch (from run.json).
    pub train_loss: Option<f64>,
    /// Training accuracy after that epoch (from run.json).
    pub train_accuracy: Option<f64>,
    /// Mean per-sample loss on the analysed samples.
    pub mean_loss: f64,
    /// gamma (C from Eq. 2).
    pub gamma: Fit,
    /// gamma_awd (Eq. 15).
    pub gamma_awd: Fit,
    /// Matched-pair figures (C6, C7).
    pub pairs: PairFigures,
    /// Seconds spent on this checkpoint.
    pub seconds: f64,
}

/// A claim's verdict with its figures and details.
#[derive(Debug, Clone, Serialize)]
pub struct NetClaimResult {
    /// Claim id.
    pub claim: NetClaim,
    /// Verdict.
    pub verdict: Verdict,
    /// One-line key figure.
    pub figure: String,
    /// Further lines.
    pub details: Vec<String>,
}

/// The suppression runs (C13) at the last checkpoint.
#[derive(Debug, Clone, Serialize)]
pub struct SuppressionFigures {
    /// gamma_awd before.
    pub before: Fit,
    /// The homogenised run (Eq. 24-26 with the configured thresholds).
    pub homogenized: KronSuppression,
    /// Tails only (every principal mode kept).
    pub tails_only: KronSuppression,
    /// Sec. 5.3's reading: every principal eigenvalue replaced by the mean of
    /// all (q = 0, homogenised), tails scaled like the tails-only run.
    pub mean_replaced: KronSuppression,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct NetClaimsReport {
    /// Settings used.
    pub settings: NetClaimsSettings,
    /// Layer analysed and its shape.
    pub layer: String,
    /// `(out, in)`.
    pub layer_shape: (usize, usize),
    /// Loss of the run.
    pub loss: LossKind,
    /// Batch size of the run.
    pub batch_size: usize,
    /// Samples analysed.
    pub samples: usize,
    /// Top-k used.
    pub top_k: usize,
    /// Per checkpoint, in epoch order.
    pub checkpoints: Vec<CheckpointFigures>,
    /// C13's suppression runs (when requested).
    pub suppression: Option<SuppressionFigures>,
    /// Verdicts, in claim order.
    pub claims: Vec<NetClaimResult>,
    /// Total seconds.
    pub seconds: f64,
}

impl NetClaimsReport {
    /// Whether any claim failed (exit code 1).
    pub fn any_failed(&self) -> bool {
        self.claims.iter().any(|c| c.verdict == Verdict::Fail)
    }
}

/// Loads the run's data and checkpoints and checks the claims.
pub fn run_net_claims(settings: &NetClaimsSettings) -> Result<NetClaimsReport> {
    settings.validate()?;
    // run_metadata reads run.json beside the file it is given.
    let run = run_metadata(&settings.run_dir.join("run.json"))?.ok_or_else(|| {
        TorchError::Checkpoint {
            path: settings.run_dir.join("run.json").display().to_string(),
            reason: "no run.json: not a run directory of `superlinear train`".into(),
        }
    })?;
    let ds = settings
        .data
        .clone()
        .or_else(|| run.data_settings.clone())
        .ok_or_else(|| {
            TorchError::setting(
                "data",
                "none",
                "run.json records no data settings: give the data set",
            )
        })?;
    let data = load_data(&ds)?;
    net_claims_on(settings, &run, &data)
}

/// Checks the claims on the checkpoints of `settings.run_dir` with `run`'s
/// metadata, on `data`.
pub fn net_claims_on(
    settings: &NetClaimsSettings,
    run: &TrainReport,
    data: &TrainData,
) -> Result<NetClaimsReport> {
    settings.validate()?;
    let t0 = Instant::now();
    let all = list_checkpoints(&settings.run_dir, run.settings.epochs)?;
    let chosen = if settings.wants(NetClaim::C6) || settings.wants(NetClaim::C15) {
        stride_checkpoints(&all, settings.stride)
    } else {
        all.last().cloned().into_iter().collect()
    };
    let loss = run.settings.loss;
    let batch_size = run.settings.batch_size;
    data.validate(run.spec.classes)?;
    let idx = balanced_indices(&data.labels, settings.samples);
    let sub = TrainData {
        images: data.images.select(ndarray::Axis(0), &idx),
        labels: idx.iter().map(|i| data.labels[*i]).collect(),
        chw: data.chw,
        name: data.name.clone(),
    };
    let labels: Vec<usize> = sub.labels.iter().map(|y| *y as usize).collect();
    let mut checkpoints = Vec::new();
    let mut suppression = None;
    let mut layer_name = String::new();
    let mut shape = (0, 0);
    let mut top_k = 0;
    for (ci, ck) in chosen.iter().enumerate() {
        let tc = Instant::now();
        let net = Net::load(&ck.path, Kind::Float)?;
        let layer = settings
            .layer
            .clone()
            .unwrap_or_else(|| net.spec().default_layer());
        let x = net.input_view(&sub.images_tensor(net.kind())?, sub.chw)?;
        let samples = layer_samples(&net, &layer, &x, &labels, loss, 256)?;
        let engine = KronCurvature::new(&samples, &layer)?;
        let (out, inn) = engine.layer_shape();
        let wv = tensor_to_f64(net.weight(&layer)?, &layer)?;
        let w = Mat::from_fn(out, inn, |o, i| wv[o * inn + i]);
        let eig = sym_eig(engine.hessian().as_ref(), "H (Kronecker layer Hessian)")?;
        let d = engine.d();
        let k = if settings.top_k == 0 {
            d
        } else {
            settings.top_k.min(d)
        };
        let v = eig.vectors.subcols(0, k);
        let h_diag = eig.values[..k].to_vec();
        let rule = FitRule::default_for(k, d);
        let c_diag = engine.c_diag(v, batch_size)?;
        let pairs = match_halves(
            samples.acts.as_ref(),
            &labels,
            settings.seed,
            settings.one_to_one,
        )?;
        let layer_in = PairedLayer {
            engine: &engine,
            acts: samples.acts.as_ref(),
            weights: w.as_ref(),
            partner: &pairs.partner,
        };
        let m = measure(&layer_in, v, settings.chunk)?;
        let dm = &m.directions;
        let sigma2 = m.isotropy.sigma2;
        let iso: Vec<f64> = dm.second.iter().map(|s| s * sigma2).collect();
        let rel_iso = relative_differences(&dm.c_term1, &iso);
        let batch_cross: Vec<f64> = dm
            .mean_term1
            .iter()
            .zip(&dm.c_term1)
            .filter(|(_, c)| **c > 0.0)
            .map(|(mu, c)| (batch_size.saturating_sub(1)) as f64 * mu * mu / c)
            .collect();
        let ent: Vec<f64> = dm
            .entanglement
            .iter()
            .map(|c| c.unwrap_or(f64::NAN))
            .collect();
        let mean_finite = |v: &[f64]| {
            let f: Vec<f64> = v.iter().cloned().filter(|x| x.is_finite()).collect();
            if f.is_empty() {
                f64::NAN
            } else {
                f.iter().sum::<f64>() / f.len() as f64
            }
        };
        let pf = PairFigures {
            used: m.used,
            zero_activity: m.zero_activity,
            ratio: pairs.ratio.clone(),
            distinct_partners: pairs.distinct_partners,
            gamma_term1: fit(&h_diag, &dm.c_term1, &rule),
            gamma_term12: fit(&h_diag, &dm.c_term12, &rule),
            gamma_iso_term2: fit(
                &h_diag,
                &iso.iter()
                    .zip(&dm.c_term2)
                    .map(|(a, b)| a + b)
                    .collect::<Vec<_>>(),
                &rule,
            ),
            gamma_delta: fit(&h_diag, &dm.c_delta, &rule),
            gamma_local_diag: fit(&h_diag, &dm.c_local_diag, &rule),
            gamma_iso: fit(&h_diag, &dm.second, &rule),
            term2_share: share(&dm.c_term2, &dm.c_term1),
            residual1: share(&dm.c_resid1, &dm.c_delta),
            residual12: share(&dm.c_resid12, &dm.c_delta),
            term2_share_full: ratio(m.full.term2, m.full.term1),
            residual1_full: ratio(m.full.resid1, m.full.delta),
            residual12_full: ratio(m.full.resid12, m.full.delta),
            grad_norm2: m.full.grad,
            rel_term1_vs_iso_median: median(&rel_iso),
            rel_term1_vs_iso_max_abs: rel_iso.iter().fold(0.0f64, |a, x| a.max(x.abs())),
            rel_term1_vs_diag_median: median(&relative_differences(&dm.c_term1, &dm.c_local_diag)),
            rel_diag_vs_iso_median: median(&relative_differences(&dm.c_local_diag, &iso)),
            batch_cross_ratio_median: median(&batch_cross),
            entanglement_mean: mean_finite(&ent),
            entanglement_top10: mean_finite(&ent[..ent.len().min(10)]),
            isotropy: m.isotropy.clone(),
        };
        let stats = run.epochs.iter().find(|e| e.epoch == ck.epoch);
        let is_last = ci + 1 == chosen.len();
        if is_last && settings.wants(NetClaim::C13) {
            let before = fit(&h_diag, &dm.second, &rule);
            let homogenized = suppress_layer(
                &engine,
                samples.acts.as_ref(),
                &settings.suppression,
                k,
                &h_diag,
                &dm.second,
            )?;
            let tails_only = suppress_layer(
                &engine,
                samples.acts.as_ref(),
                &SuppressionConfig::tails_only(settings.tails_factor),
                k,
                &h_diag,
                &dm.second,
            )?;
            let mean_replaced = suppress_layer(
                &engine,
                samples.acts.as_ref(),
                &SuppressionConfig {
                    q: 0.0,
                    homogenize: true,
                    ..SuppressionConfig::tails_only(settings.tails_factor)
                },
                k,
                &h_diag,
                &dm.second,
            )?;
            suppression = Some(SuppressionFigures {
                before,
                homogenized,
                tails_only,
                mean_replaced,
            });
        }
        checkpoints.push(CheckpointFigures {
            epoch: ck.epoch,
            path: ck.path.clone(),
            train_loss: stats.map(|s| s.loss),
            train_accuracy: stats.map(|s| s.accuracy),
            mean_loss: engine.mean_loss(),
            gamma: fit(&h_diag, &c_diag, &rule),
            gamma_awd: fit(&h_diag, &dm.second, &rule),
            pairs: pf,
            seconds: tc.elapsed().as_secs_f64(),
        });
        layer_name = layer;
        shape = (out, inn);
        top_k = k;
    }
    let claims = settings
        .claims
        .iter()
        .map(|&c| verdict(c, settings, loss, &checkpoints, suppression.as_ref()))
        .collect();
    Ok(NetClaimsReport {
        settings: settings.clone(),
        layer: layer_name,
        layer_shape: shape,
        loss,
        batch_size,
        samples: idx.len(),
        top_k,
        checkpoints,
        suppression,
        claims,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        f64::NAN
    }
}

/// gamma with 3 decimals, or "n/a" when the fit failed.
pub fn gamma_text(f: &Fit) -> String {
    match f {
        Ok(f) => format!("{:.3}", f.gamma),
        Err(_) => "n/a".into(),
    }
}

fn unchecked(claim: NetClaim, why: &str) -> NetClaimResult {
    NetClaimResult {
        claim,
        verdict: Verdict::Unchecked,
        figure: why.to_string(),
        details: vec![],
    }
}

/// Turns the figures into a verdict for one claim (module doc).
pub fn verdict(
    claim: NetClaim,
    s: &NetClaimsSettings,
    loss: LossKind,
    cps: &[CheckpointFigures],
    sup: Option<&SuppressionFigures>,
) -> NetClaimResult {
    let t = &s.thresholds;
    let (Some(first), Some(last)) = (cps.first(), cps.last()) else {
        return unchecked(claim, "no checkpoint analysed");
    };
    let p = &last.pairs;
    match claim {
        NetClaim::C6 => {
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
            let gt = |f: &Fit| f.as_ref().map(|f| f.gamma).unwrap_or(f64::NAN);
            let (gm, gi, g12) = (gt(&last.gamma), gt(&last.gamma_awd), gt(&p.gamma_term12));
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
            NetClaimResult {
                claim,
                verdict: Verdict::pass_if(ok1 && ok2),
                figure: format!(
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
                details,
            }
        }
        NetClaim::C7 => {
            let (Ok(gi), Ok(gs)) = (&p.gamma_term1, &p.gamma_iso) else {
                return unchecked(claim, "gamma_I or gamma_iso could not be fitted");
            };
            let diff = gi.gamma - gs.gamma;
            let ok = diff.abs() <= t.c7_gamma_tol;
            let iso = &p.isotropy;
            let details = vec![
                format!(
                    "gamma (Eq. 2) {}, gamma_Dg {}, gamma_I {:.3}, gamma_diag {}, gamma_iso {:.3}",
                    gamma_text(&last.gamma),
                    gamma_text(&p.gamma_delta),
                    gi.gamma,
                    gamma_text(&p.gamma_local_diag),
                    gs.gamma
                ),
                format!(
                    "C_I / (sigma^2 E[h^2]) - 1: median {:.3}, max |.| {:.3}; C_I / C_diag - 1 median {:.3}; C_diag / C_iso - 1 median {:.3}",
                    p.rel_term1_vs_iso_median,
                    p.rel_term1_vs_iso_max_abs,
                    p.rel_term1_vs_diag_median,
                    p.rel_diag_vs_iso_median
                ),
                format!(
                    "local modes: sigma^2 {:.3e}, variances s_j {:?}, max/min {:.2}, s_1/mean tail {:.2}, mean |corr(c_j, c_l)| {:.3}",
                    iso.sigma2,
                    iso.mode_variance.iter().map(|v| format!("{v:.2e}")).collect::<Vec<_>>(),
                    iso.mode_anisotropy,
                    iso.principal_vs_tail,
                    iso.mode_cross_corr
                ),
                format!(
                    "across samples: CV of sigma_p^2 {:.3}, corr(sigma_p^2, lambda_p1) {}",
                    iso.sample_cv,
                    iso.sigma_lambda1_corr
                        .map_or("n/a".into(), |c| format!("{c:.3}"))
                ),
                format!(
                    "|dw|^2 inside span(u_pj): {:.3} (isotropic in R^d: {:.4}); Eq. 63: |E dw|^2/E|dw|^2 {:.3}, mean |cos(dw_p, dw_q)| {:.3} (random {:.4}); batch cross/diag (B-1)E[x]^2/E[x^2] median {:.3}",
                    iso.captured_share,
                    iso.captured_share_isotropic,
                    iso.dw_mean_share,
                    iso.dw_mean_abs_cos,
                    iso.dw_mean_abs_cos_random,
                    p.batch_cross_ratio_median
                ),
                format!(
                    "pairs: {} used, {} zero activity, {} distinct partners, |da|/|a| mean {}",
                    p.used,
                    p.zero_activity,
                    p.distinct_partners,
                    p.ratio.as_ref().map_or("n/a".into(), |r| format!("{:.3}", r.mean))
                ),
            ];
            NetClaimResult {
                claim,
                verdict: if ok { Verdict::Pass } else { Verdict::Deviates },
                figure: format!(
                    "epoch {}: gamma_I (real dw) {:.3} vs gamma_iso {:.3} (diff {:+.3}, tol {}); C_I/C_iso - 1 median {:+.3}",
                    last.epoch, gi.gamma, gs.gamma, diff, t.c7_gamma_tol, p.rel_term1_vs_iso_median
                ),
                details,
            }
        }
        NetClaim::C13 => {
            let Some(sup) = sup else {
                return unchecked(claim, "suppression not run");
            };
            let (Ok(b), Ok(h)) = (&sup.before, &sup.homogenized.gamma_awd) else {
                return unchecked(claim, "gamma_awd could not be fitted before or after");
            };
            let dg = h.gamma - b.gamma;
            let shape_ok = sup.tails_only.h_shape_change_median <= t.c13_shape_tol;
            let gamma_ok = match loss {
                LossKind::CrossEntropy => dg < -t.c13_gamma_tol,
                LossKind::SoftmaxMse => dg.abs() <= t.c13_gamma_tol,
            };
            let details = vec![
                format!(
                    "homogenised (q {}, stiff tail {}, background top {}, tail {}): tau {:.3e}, {} stiff, gamma_awd {:.3} -> {:.3}, H shape change median {:.3}, E[h^2] median {:.3}",
                    sup.homogenized.config.q,
                    sup.homogenized.config.stiff_tail,
                    sup.homogenized.config.background_top,
                    sup.homogenized.config.background_tail,
                    sup.homogenized.tau,
                    sup.homogenized.stiff,
                    b.gamma,
                    h.gamma,
                    sup.homogenized.h_shape_change_median,
                    sup.homogenized.second_shape_change_median
                ),
                format!(
                    "tails only (factor {}): gamma_awd {}, H shape change top-10 max {:.3}, median {:.3} (max {:.3}), E[h^2] shape change median {:.3} (max {:.3})",
                    s.tails_factor,
                    gamma_text(&sup.tails_only.gamma_awd),
                    sup.tails_only.h_shape_change_top10,
                    sup.tails_only.h_shape_change_median,
                    sup.tails_only.h_shape_change,
                    sup.tails_only.second_shape_change_median,
                    sup.tails_only.second_shape_change
                ),
                format!(
                    "mean-replaced (q 0: every lambda_p1 -> mean {:.3e}, tails x {}): gamma_awd {} (vs tails-only {}), H shape change median {:.3}, E[h^2] median {:.3}",
                    sup.mean_replaced.stiff_mean,
                    s.tails_factor,
                    gamma_text(&sup.mean_replaced.gamma_awd),
                    gamma_text(&sup.tails_only.gamma_awd),
                    sup.mean_replaced.h_shape_change_median,
                    sup.mean_replaced.second_shape_change_median
                ),
                format!(
                    "entanglement corr(lambda_p1, (u_p1.v_i)^2): mean over top-k {:.3}, top 10 {:.3}",
                    p.entanglement_mean, p.entanglement_top10
                ),
            ];
            NetClaimResult {
                claim,
                verdict: if shape_ok && gamma_ok {
                    Verdict::Pass
                } else {
                    Verdict::Deviates
                },
                figure: format!(
                    "epoch {}: gamma_awd {:.3} -> {:.3} homogenised ({:+.3}, tol {}), tails-only H shape change median {:.3} (<= {})",
                    last.epoch, b.gamma, h.gamma, dg, t.c13_gamma_tol, sup.tails_only.h_shape_change_median, t.c13_shape_tol
                ),
                details,
            }
        }
        NetClaim::C15 => {
            let (Ok(g0), Ok(g1)) = (&first.gamma, &last.gamma) else {
                return unchecked(
                    claim,
                    "gamma could not be fitted at the first or last checkpoint",
                );
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
            NetClaimResult {
                claim,
                verdict: if grows && early {
                    Verdict::Pass
                } else {
                    Verdict::Deviates
                },
                figure: format!(
                    "gamma {:.3} (epoch {}, R^2 {:.3}) -> {:.3} (epoch {}); grows {}, visible at first checkpoint {}",
                    g0.gamma,
                    first.epoch,
                    g0.r_squared,
                    g1.gamma,
                    last.epoch,
                    if grows { "yes" } else { "no" },
                    if early { "yes" } else { "no" }
                ),
                details,
            }
        }
    }
}
