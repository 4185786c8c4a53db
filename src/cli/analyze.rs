//! `superlinear analyze`: H, C, C_awd, gamma, Theorem 5.1's bounds and
//! `rho_bar` measured on one linear layer (claims C3, C4, C8, C9, C14), from
//! either a factor file any PyTorch model can write (`--factors`, the default
//! build) or a checkpoint of the project's own networks (`--checkpoint`,
//! feature `torch`). Flags become [`LayerSettings`] once; the analysis is
//! [`superlinear::layer::analyze_layer`]; the report is rendered here.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use clap::{Args, ValueEnum};
use serde::Serialize;

use superlinear::adjust::Adjustment;
use superlinear::claims::c9::{judge_layer_bounds, layer_premise, LayerPremise};
use superlinear::claims::Status;
use superlinear::data::factors::{read_factors, FactorPrecision};
use superlinear::layer::{
    analyze_layer, balanced_indices, CouplingNull, GammaUncertainty, LayerFactors, LayerReport,
    LayerSettings, UncertaintySettings, DEFAULT_SAMPLES, DEFAULT_TOP_K,
};
use superlinear::loss::Loss;
use superlinear::memory::EigMethod;
use superlinear::progress::StageGuard;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LossArg {
    /// Cross-entropy.
    Ce,
    /// Softmax, then mean squared error against the one-hot label.
    Mse,
}

impl From<LossArg> for Loss {
    fn from(l: LossArg) -> Self {
        match l {
            LossArg::Ce => Loss::CrossEntropy,
            LossArg::Mse => Loss::SoftmaxMse,
        }
    }
}

/// The eigen route of H.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum EigArg {
    /// Dense up to d = 4096, else block Krylov (on the dense H while it fits,
    /// else matrix-free).
    Auto,
    /// Dense symmetric eigendecomposition of H.
    Dense,
    /// Block Krylov on the dense H.
    KrylovDense,
    /// Block Krylov on the Kronecker product, never forming H.
    MatrixFree,
}

impl From<EigArg> for EigMethod {
    fn from(e: EigArg) -> Self {
        match e {
            EigArg::Auto => EigMethod::Auto,
            EigArg::Dense => EigMethod::Dense,
            EigArg::KrylovDense => EigMethod::KrylovDense,
            EigArg::MatrixFree => EigMethod::KrylovMatrixFree,
        }
    }
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["checkpoint", "factors"])))]
pub struct AnalyzeArgs {
    /// A safetensors checkpoint of `train` (or saved from PyTorch with the
    /// documented names); needs the torch feature.
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// A factor file of one linear layer (`scripts/export_layer.py`; README,
    /// "Analyse a layer of your own PyTorch model").
    #[arg(long)]
    pub factors: Option<PathBuf>,
    /// The linear layer of the checkpoint, e.g. fc2.weight (default: the paper's choice).
    #[arg(long)]
    pub layer: Option<String>,
    /// Samples used for H and C, class-balanced (0 or more than the file or
    /// data set holds: all of them, stated in the report). Default rule, the
    /// same in net-claims: 2000 samples and top-k 500, a quarter of them.
    #[arg(long, default_value_t = DEFAULT_SAMPLES, allow_negative_numbers = true)]
    pub samples: usize,
    /// Top-k eigen-directions in the gamma fit (0 or more than d: all d,
    /// stated in the report). Default: a quarter of the default samples.
    #[arg(long, default_value_t = DEFAULT_TOP_K, allow_negative_numbers = true)]
    pub top_k: usize,
    /// Loss of a checkpoint (default: from run.json beside it; a factor file
    /// names its own).
    #[arg(long, value_enum)]
    pub loss: Option<LossArg>,
    /// Mini-batch size B in Eq. 2 (default: from run.json or the factor file, else 1).
    #[arg(long, allow_negative_numbers = true)]
    pub batch_size: Option<usize>,
    /// libtorch threads (checkpoints; at least 1).
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    pub threads: i32,
    /// Threads for the dense linear algebra (faer; 0: all cores, 1:
    /// sequential; at most 256).
    #[arg(long, default_value_t = 0)]
    pub linalg_threads: usize,
    /// Eigen route of H.
    #[arg(long, value_enum, default_value = "auto")]
    pub eig: EigArg,
    /// Memory cap in GiB (default: the memory available); a larger plan is
    /// refused before anything is allocated.
    #[arg(long, allow_negative_numbers = true)]
    pub memory_limit_gib: Option<f64>,
    /// Also measure V^T E[h^2] V and rho_bar of C_awd (about doubles the time).
    #[arg(long)]
    pub coupling_awd: bool,
    /// Leave out the corrected null mean of rho_bar, the null the report
    /// compares with by default (it needs C's whole spectrum, through the
    /// smaller of the N x N and d x d sides; with --coupling-awd also
    /// E[h^2]'s, d x d); only the paper's App. C/D formula is printed then.
    #[arg(long)]
    pub paper_null_only: bool,
    /// The corrected null is the default; accepted for older scripts.
    #[arg(long, hide = true)]
    pub coupling_null: bool,
    /// Also Table 3's exponents with Term II kept (C6): matched pairs, the real
    /// dw_p, gamma of Term I + II and of sigma^2 E[h^2] + Term II.
    #[arg(long)]
    pub term2: bool,
    /// Seed of the per-class halves the matched pairs are drawn from (--term2).
    #[arg(long, default_value_t = 0)]
    pub pair_seed: u64,
    /// Bootstrap replicates of gamma's interval over samples (eigenbasis
    /// held fixed; 2 to 10^7).
    #[arg(long, default_value_t = UncertaintySettings::default().replicates)]
    pub bootstrap_reps: usize,
    /// Haar rotations of the form test's null (p-value floor 1/(R+1); 1 to
    /// 10^7).
    #[arg(long, default_value_t = UncertaintySettings::default().rotations)]
    pub null_rotations: usize,
    /// Seed of the bootstrap and the null.
    #[arg(long, default_value_t = 0)]
    pub uncertainty_seed: u64,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Checkpoints: gather a_p, D_p and the logits in float64 (the f32
    /// weights and inputs widened exactly) instead of the checkpoint's float32.
    #[arg(long)]
    pub float64: bool,
    /// Checkpoints: also write the analysed samples to DIR, in the order
    /// analysed: inputs.npy (N x C*H*W float64, standardised as in training)
    /// and labels.npy (N, float64), e.g. for scripts/export_layer.py.
    #[arg(long, value_name = "DIR")]
    pub save_inputs: Option<PathBuf>,
    /// Also draw the figures into DIR (created): the central log-log figure,
    /// gamma(k) and the coupling heatmap as SVG, and figures.json with the
    /// plotted numbers and provenance (the figure record `report` reads).
    #[arg(long, value_name = "DIR")]
    pub plot: Option<PathBuf>,
    /// Side n of the top n x n block of V^T C V kept for the heatmap (--plot).
    #[arg(long, default_value_t = superlinear::plot::record::DEFAULT_BLOCK)]
    pub plot_block: usize,
}

impl AnalyzeArgs {
    fn uncertainty(&self) -> Result<UncertaintySettings> {
        let u = UncertaintySettings {
            replicates: self.bootstrap_reps,
            rotations: self.null_rotations,
            seed: self.uncertainty_seed,
            ..UncertaintySettings::default()
        };
        let max = superlinear::coupling::MAX_ROTATIONS;
        if !(2..=max).contains(&u.replicates) {
            bail!("--bootstrap-reps {}: must be in 2..={max}", u.replicates);
        }
        if !(1..=max).contains(&u.rotations) {
            bail!("--null-rotations {}: must be in 1..={max}", u.rotations);
        }
        Ok(u)
    }

    /// The block kept for the heatmap: `--plot-block` with `--plot`, else none.
    fn keep_block(&self) -> Result<usize> {
        match &self.plot {
            None => Ok(0),
            Some(_) if self.plot_block == 0 => {
                bail!("--plot-block 0: must be at least 1 (the heatmap's side)")
            }
            Some(_) => Ok(self.plot_block),
        }
    }

    fn memory_limit(&self) -> Result<Option<u64>> {
        match self.memory_limit_gib {
            None => Ok(None),
            Some(g) if g.is_finite() && g > 0.0 => Ok(Some((g * (1u64 << 30) as f64) as u64)),
            Some(g) => bail!("--memory-limit-gib {g}: must be a positive number of GiB"),
        }
    }
}

/// A factor file's analysis, as `--json` prints it.
#[derive(Debug, Serialize)]
struct FactorReport<'a> {
    /// The factor file analysed.
    factors: &'a Path,
    /// Its model name.
    model: &'a str,
    /// Its data description.
    data: &'a str,
    /// Whether any tensor was stored as float32.
    float32: bool,
    #[serde(flatten)]
    analysis: &'a LayerReport,
    /// Theorem 5.1 (C9): its premise on this layer and the status.
    theorem_5_1: Theorem51,
}

/// Theorem 5.1 (C9) on the analysed layer: the status `analyze` exits on,
/// and the premise with the figure that decides it.
#[derive(Debug, Serialize)]
struct Theorem51 {
    status: Status,
    #[serde(flatten)]
    premise: LayerPremise,
}

impl Theorem51 {
    fn of(r: &LayerReport) -> Self {
        let premise = layer_premise(&r.spectra, r.classes, r.accuracy, r.loss);
        Theorem51 {
            status: judge_layer_bounds(&r.bounds, &premise),
            premise,
        }
    }
}

/// The most dense linear-algebra threads `--linalg-threads` takes (faer
/// sizes its scratch per thread).
const MAX_LINALG_THREADS: usize = 256;

pub fn run(args: AnalyzeArgs) -> Result<i32> {
    if args.threads < 1 {
        bail!("--threads {}: must be at least 1", args.threads);
    }
    if args.linalg_threads > MAX_LINALG_THREADS {
        bail!(
            "--linalg-threads {}: must be in 0..={MAX_LINALG_THREADS} (0: all cores)",
            args.linalg_threads
        );
    }
    if args.batch_size == Some(0) {
        bail!("--batch-size 0: must be at least 1 (Eq. 2 divides by B)");
    }
    if let Some(path) = args.factors.clone() {
        return run_factors(&path, &args);
    }
    run_checkpoint(args)
}

fn run_factors(path: &Path, args: &AnalyzeArgs) -> Result<i32> {
    if args.loss.is_some() {
        bail!("--loss: a factor file names its own loss; leave --loss out with --factors");
    }
    if args.layer.is_some() {
        bail!("--layer: a factor file holds one layer; leave --layer out with --factors");
    }
    if args.float64 {
        bail!("--float64: a factor file's precision is fixed when it is written; leave --float64 out with --factors");
    }
    if let Some(dir) = &args.save_inputs {
        bail!(
            "--save-inputs {}: a factor file holds no inputs; --save-inputs needs --checkpoint",
            dir.display()
        );
    }
    let progress = super::progress::reporter(args.json);
    let file = {
        let _stage = StageGuard::begin(progress.as_ref(), "read factor file", 0);
        read_factors(path)?
    };
    let idx = balanced_indices(&file.labels, args.samples);
    let factors = LayerFactors::from_factor_file(&file, &idx);
    let batch_size = args.batch_size.or(file.meta.batch_size).unwrap_or(1);
    let settings = LayerSettings {
        top_k: args.top_k,
        batch_size,
        coupling_awd: args.coupling_awd,
        coupling_null: !args.paper_null_only,
        term2: args.term2,
        pair_seed: args.pair_seed,
        linalg_threads: args.linalg_threads,
        eig: args.eig.into(),
        memory_limit: args.memory_limit()?,
        uncertainty: args.uncertainty()?,
        keep_block: args.keep_block()?,
        ..LayerSettings::default()
    };
    let mut r = analyze_layer(&factors, &settings, progress.as_ref())?;
    drop(progress);
    let source = format!("the factor file {}", path.display());
    if let Some(a) = Adjustment::samples(args.samples, file.n, &source) {
        r.adjustments.insert(0, a);
    }
    let float32 = file.precision == FactorPrecision::F32;
    if let Some(dir) = &args.plot {
        write_plots(dir, &r, &path.display().to_string())?;
    }
    let theorem = Theorem51::of(&r);
    let status = theorem.status;
    if args.json {
        let report = FactorReport {
            factors: path,
            model: &file.meta.model,
            data: &file.meta.data,
            float32,
            analysis: &r,
            theorem_5_1: theorem,
        };
        super::json::print(super::json::ANALYZE, &report)?;
    } else {
        let source = format!(
            "{} (model {}, data {})",
            path.display(),
            file.meta.model,
            file.meta.data
        );
        print!("{}", render(&source, &r));
        if float32 {
            println!("  note: the file holds float32 tensors (about 7 digits); the analysis runs in f64 on the widened values");
        }
    }
    Ok(superlinear::claims::evidence::exit_code([status]))
}

#[cfg(not(feature = "torch"))]
fn run_checkpoint(args: AnalyzeArgs) -> Result<i32> {
    let path = args.checkpoint.unwrap_or_default();
    bail!(
        "--checkpoint {}: analysing a checkpoint needs the torch feature (build with --features torch, see scripts/torch-env.sh); a factor file (--factors) needs nothing",
        path.display()
    )
}

#[cfg(feature = "torch")]
fn run_checkpoint(args: AnalyzeArgs) -> Result<i32> {
    use superlinear::reproduce::analyze::{run_analyze, AnalyzeSettings};
    tch::set_num_threads(args.threads);
    let memory_limit = args.memory_limit()?;
    let uncertainty = args.uncertainty()?;
    let keep_block = args.keep_block()?;
    let plot = args.plot.clone();
    let settings = AnalyzeSettings {
        checkpoint: args.checkpoint.unwrap_or_default(),
        layer: args.layer,
        samples: args.samples,
        top_k: args.top_k,
        loss: args.loss.map(Into::into),
        batch_size: args.batch_size,
        linalg_threads: args.linalg_threads,
        coupling_awd: args.coupling_awd,
        coupling_null: !args.paper_null_only,
        term2: args.term2,
        pair_seed: args.pair_seed,
        eig: args.eig.into(),
        memory_limit,
        uncertainty,
        float64: args.float64,
        save_inputs: args.save_inputs,
        keep_block,
        ..AnalyzeSettings::default()
    };
    let progress = super::progress::reporter(args.json);
    let report = run_analyze(&settings, progress.as_ref())?;
    drop(progress);
    if let Some(dir) = &plot {
        write_plots(
            dir,
            &report.analysis,
            &report.checkpoint.display().to_string(),
        )?;
    }
    let theorem = Theorem51::of(&report.analysis);
    let status = theorem.status;
    if args.json {
        #[derive(Serialize)]
        struct Json<'a> {
            #[serde(flatten)]
            report: &'a superlinear::reproduce::analyze::AnalyzeReport,
            theorem_5_1: Theorem51,
        }
        let json = Json {
            report: &report,
            theorem_5_1: theorem,
        };
        super::json::print(super::json::ANALYZE, &json)?;
    } else {
        print!(
            "{}",
            render(&report.checkpoint.display().to_string(), &report.analysis)
        );
    }
    Ok(superlinear::claims::evidence::exit_code([status]))
}

/// Writes the figure record `figures.json` and its SVGs into `dir`; the
/// paths go to stderr.
fn write_plots(dir: &Path, r: &LayerReport, source: &str) -> Result<()> {
    use superlinear::plot::record::FigureRecord;
    std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("--plot {}: {e}", dir.display()))?;
    let p = superlinear::claims::report::Provenance::current();
    let rec = FigureRecord::from_layer(
        r,
        source,
        &format!("{} {}", p.tool, p.version),
        &p.git_commit,
    );
    let label = Path::new(source)
        .file_name()
        .map_or_else(|| source.to_string(), |n| n.to_string_lossy().into_owned());
    let mut files = vec![(
        "figures.json".to_string(),
        format!("{}\n", serde_json::to_string_pretty(&rec)?),
    )];
    files.extend(rec.figures(&label)?);
    for (name, text) in files {
        let path = dir.join(name);
        superlinear::data::atomic::write(&path, text.as_bytes())
            .map_err(|e| anyhow::anyhow!("--plot {}: {e}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

fn render(source: &str, r: &LayerReport) -> String {
    let fit = |f: &std::result::Result<superlinear::fit::GammaFit, superlinear::error::Failure>| {
        match f {
            Ok(f) => format!(
                "{:.3} +- {:.3} (R^2 {:.3}, {} directions)",
                f.gamma, f.std_err, f.r_squared, f.points_used
            ),
            Err(e) => format!("not fitted: {e}"),
        }
    };
    let mut s = format!(
        "{} layer {} ({} x {}), {} samples, {} classes, loss {:?}, B = {}\n",
        source,
        r.layer,
        r.layer_shape.0,
        r.layer_shape.1,
        r.samples,
        r.classes,
        r.loss,
        r.batch_size
    );
    s.push_str(&format!(
        "accuracy {:.4}, mean loss {:.4}\n",
        r.accuracy, r.mean_loss
    ));
    s.push_str(&superlinear::adjust::render(&r.adjustments));
    let k = r.h_diag.len();
    if 4 * k > r.samples {
        s.push_str(&format!(
            "caution: top-k {k} is more than a quarter of the {} samples; at fixed top-k gamma falls as N grows (MNIST MLP K = 10, CE: 1.54 at N = 2000, 1.20 at N = 8500): use --samples 0 (every sample) to compare with the paper\n",
            r.samples
        ));
    }
    s.push_str(&format!("gamma     (C, Eq. 2)      {}\n", fit(&r.gamma)));
    s.push_str(&format!(
        "gamma_awd (E[h^2], Eq. 13) {}\n",
        fit(&r.gamma_awd)
    ));
    s.push_str(&render_uncertainty(&r.gamma, &r.gamma_uncertainty));
    let theorem = Theorem51::of(r);
    s.push_str(&format!("C9 {}\n", theorem.premise.line()));
    let counts = format!(
        "left {} violations, right {} violations over {} directions (Lambda = {:.3e})",
        r.bounds.left.violations,
        r.bounds.right.violations,
        r.bounds.directions,
        r.bounds.lambda_max
    );
    if theorem.premise.applicable {
        s.push_str(&format!(
            "C9 Theorem 5.1 bounds H_ii^2 <= S_ii <= Lambda H_ii: {}, {counts}\n",
            theorem.status
        ));
    } else {
        s.push_str(&format!(
            "C9 Theorem 5.1 bounds not judged ({}: premise not met); measured anyway: {counts}\n",
            theorem.status
        ));
    }
    s.push_str(&format!(
        "per-sample spectra: top-eigenvalue share mean {:.3}, negative mass {:.3}\n",
        r.spectra.mean_top_share, r.spectra.negative_mass
    ));
    let coupling = |c: &std::result::Result<CouplingNull, superlinear::error::Failure>| {
        match c {
        Ok(c) => format!(
            "{:.4} over {} directions; {}; beside it the {}: mean {:.4} (k_eff {:.1}), SE {:.2e}, z {:.1}, p {:.2e}",
            c.coupling.rho_bar,
            c.coupling.n_used,
            match (c.corrected_mean, c.k_rho) {
                (Some(m), Some(k)) => format!(
                    "null mean {m:.4} (corrected, k_rho {k:.1}; rho_bar / null {:.3})",
                    c.coupling.rho_bar / m
                ),
                _ => "corrected null not computed (--paper-null-only)".into(),
            },
            superlinear::layer::coupling_null::PAPER_NULL_LABEL,
            c.paper_mean,
            c.k_eff,
            c.paper_se,
            c.z,
            c.p,
        ),
        Err(e) => format!("not computed: {e}"),
    }
    };
    s.push_str(&format!("rho_bar C     (C3) {}\n", coupling(&r.coupling_c)));
    match &r.coupling_awd {
        Some(c) => s.push_str(&format!("rho_bar C_awd (C3) {}\n", coupling(c))),
        None => s.push_str("rho_bar C_awd (C3) not computed (--coupling-awd: V^T E[h^2] V, about doubles the time)\n"),
    }
    match &r.term2 {
        Some(Ok(t)) => s.push_str(&format!(
            "Table 3 (C6, Term II kept; {} matched pairs, seed {}): gamma_I+II {}; gamma_iso+II {}; Term II / Term I over the top-k {:.3}\n",
            t.pairs_used,
            t.pair_seed,
            fit(&t.gamma_term12),
            fit(&t.gamma_iso_term2),
            t.term2_share
        )),
        Some(Err(e)) => s.push_str(&format!("Table 3 (C6, Term II kept) not computed: {e}\n")),
        None => {}
    }
    s.push_str("  (null: C rotated Haar-randomly in R^d, projected on the top-k; the corrected SE assumes all d directions, so it is not given for a top-k)\n");
    let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
    s.push_str(&format!(
        "  eigen route {:?}{}; memory plan {:.2} GiB of {:.2} GiB{}\n",
        r.eigen.method,
        match r.eigen.max_relative_residual {
            Some(res) => format!(
                " ({} products, max |Hv - lambda v| / |lambda_1| {res:.1e})",
                r.eigen.products
            ),
            None => String::new(),
        },
        gib(r.memory.estimated_peak_bytes),
        gib(r.memory.limit_bytes),
        if r.memory.dense_factors {
            ""
        } else {
            ", A_p kept factored"
        }
    ));
    for st in &r.stages {
        s.push_str(&format!("  stage {:<28} {:>8.2} s\n", st.name, st.seconds));
    }
    s.push_str(&format!("  total {:>34.2} s\n", r.total_seconds()));
    s
}

/// gamma's interval, k-sensitivity, form test and gamma(k) table.
fn render_uncertainty(
    gamma: &std::result::Result<superlinear::fit::GammaFit, superlinear::error::Failure>,
    u: &std::result::Result<GammaUncertainty, superlinear::error::Failure>,
) -> String {
    let u = match u {
        Ok(u) => u,
        Err(e) => return format!("gamma uncertainty not computed: {e}\n"),
    };
    let mut s = String::new();
    let g = gamma
        .as_ref()
        .map_or("n/a".to_string(), |f| format!("{:.3}", f.gamma));
    match &u.bootstrap {
        Ok(b) => {
            s.push_str(&format!(
                "gamma {g} [{:.0}% CI {:.3}, {:.3}] (bootstrap over samples, basis fixed, {} replicates, std {:.3}) at top-k {} (rule: {}); k-sensitivity: {}\n",
                100.0 * b.level,
                b.gamma_ci.0,
                b.gamma_ci.1,
                b.replicates,
                b.gamma_std,
                u.primary_k,
                u.rule,
                u.k_sensitivity()
            ));
            if let Some((lo, hi)) = b.gamma_awd_ci {
                s.push_str(&format!(
                    "gamma_awd {:.0}% CI [{lo:.3}, {hi:.3}] (same bootstrap)\n",
                    100.0 * b.level
                ));
            }
        }
        Err(e) => s.push_str(&format!(
            "gamma {g}: bootstrap not computed ({e}) at top-k {} (rule: {}); k-sensitivity: {}\n",
            u.primary_k,
            u.rule,
            u.k_sensitivity()
        )),
    }
    match &u.form {
        Ok(f) => s.push_str(&format!(
            "form test: curvature c {:.4}{} over ln(H_max/H_min) {:.2}; R^2 {:.3} vs Haar-rotated C null median {:.3}, q99 {:.3}, p {:.3} (floor 1/(R+1) = {:.3}, R = {})\n",
            f.curvature,
            match &u.bootstrap {
                Ok(b) => format!(" [CI {:.4}, {:.4}]", b.curvature_ci.0, b.curvature_ci.1),
                Err(_) => String::new(),
            },
            f.log_range_h,
            f.r_squared,
            f.null_median,
            f.null_q99,
            f.p_value,
            f.p_floor,
            f.rotations
        )),
        Err(e) => s.push_str(&format!("form test not computed: {e}\n")),
    }
    if !u.curve.is_empty() {
        s.push_str("gamma(k):      k  gamma  R^2    points  local slope (ranks k/2..k)\n");
        let opt = |x: Option<f64>, p: usize| x.map_or("n/a".to_string(), |v| format!("{v:.*}", p));
        for c in &u.curve {
            s.push_str(&format!(
                "         {:>6}  {:<5}  {:<5}  {:>6}  {}\n",
                c.k,
                opt(c.gamma, 3),
                opt(c.r_squared, 3),
                c.points,
                opt(c.local_slope, 3)
            ));
        }
    }
    s
}
