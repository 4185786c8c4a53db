//! `superlinear train` and `superlinear analyze` (feature `torch`): real
//! networks trained with vanilla SGD, and H, C, C_awd, gamma and the Theorem
//! 5.1 bounds measured on one bias-free layer (claims C9, C14).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use superlinear::exit;
use superlinear::layer::CouplingNull;
use superlinear::loss::Loss;
use superlinear::reproduce::analyze::{run_analyze, AnalyzeReport, AnalyzeSettings};
use superlinear::spec::{Dataset, Model};
use superlinear::torch::dataset::DataSettings;
use superlinear::torch::train::{run_train, RunTrainSettings, TrainSettings};

/// A command-line value parser for a type named by its short names.
fn named<T>(
    names: impl IntoIterator<Item = &'static str>,
) -> impl clap::builder::TypedValueParser<Value = T>
where
    T: std::str::FromStr + Clone + Send + Sync + 'static,
    T::Err: std::fmt::Debug,
{
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(names).map(|s| s.parse::<T>().expect("listed name"))
}

/// The losses `train` and `analyze` offer.
fn losses() -> [&'static str; 2] {
    [Loss::CrossEntropy, Loss::SoftmaxMse].map(Loss::short)
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Data set.
    #[arg(long, default_value = "mnist", value_parser = named::<Dataset>(Dataset::ALL.map(Dataset::short)))]
    pub dataset: Dataset,
    /// Data root (default: $SUPERLINEAR_DATA).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Number of classes K (the first K labels).
    #[arg(long, default_value_t = 10, allow_negative_numbers = true)]
    pub classes: usize,
    /// Samples per class (0: all).
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub per_class: usize,
    /// Model family (default widths: see src/torch/model.rs).
    #[arg(long, default_value = "mlp", value_parser = named::<Model>(Model::ALL.map(Model::short)))]
    pub model: Model,
    /// Loss.
    #[arg(long, default_value = "ce", value_parser = named::<Loss>(losses()))]
    pub loss: Loss,
    /// Learning rate (the paper's value is lost in the extraction).
    #[arg(long, default_value_t = 0.1, allow_negative_numbers = true)]
    pub lr: f64,
    /// Mini-batch size B.
    #[arg(long, default_value_t = 50, allow_negative_numbers = true)]
    pub batch_size: usize,
    /// Epochs.
    #[arg(long, default_value_t = 100, allow_negative_numbers = true)]
    pub epochs: usize,
    /// Seed of the initialisation and the shuffling.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub seed: u64,
    /// Save a checkpoint every N epochs (0: final only).
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub checkpoint_every: usize,
    /// Output directory for checkpoints and run.json.
    #[arg(long)]
    pub out: PathBuf,
    /// libtorch threads (1 avoids OpenMP spinning on a busy 2-core machine).
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    pub threads: i32,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn train(args: TrainArgs) -> Result<i32> {
    tch::set_num_threads(args.threads.max(1));
    let settings = RunTrainSettings {
        data: DataSettings {
            dataset: args.dataset,
            root: args.data,
            classes: args.classes,
            per_class: args.per_class,
            normalize: true,
        },
        model: args.model,
        arch: None,
        train: TrainSettings {
            loss: args.loss,
            lr: args.lr,
            batch_size: args.batch_size,
            epochs: args.epochs,
            seed: args.seed,
            checkpoint_every: args.checkpoint_every,
            out_dir: Some(args.out),
            progress: !args.json,
        },
    };
    settings.train.validate()?;
    let report = run_train(&settings)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        if let Some(last) = report.epochs.last() {
            println!(
                "trained {} on {} ({} samples): epoch {} loss {:.4} accuracy {:.4} in {:.1} s",
                serde_json::to_string(&report.spec)?,
                report.data,
                report.samples,
                last.epoch,
                last.loss,
                last.accuracy,
                report.seconds
            );
        }
        for c in &report.checkpoints {
            println!("checkpoint {}", c.display());
        }
    }
    Ok(exit::OK)
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// A safetensors checkpoint (from `train`, or saved from PyTorch with the documented names).
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// The bias-free linear layer to analyse, e.g. fc2.weight (default: the paper's choice).
    #[arg(long)]
    pub layer: Option<String>,
    /// Samples used for H and C, class-balanced (0: all).
    #[arg(long, default_value_t = 2000, allow_negative_numbers = true)]
    pub samples: usize,
    /// Top-k eigen-directions in the gamma fit (0: all).
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub top_k: usize,
    /// Loss (default: from run.json beside the checkpoint).
    #[arg(long, value_parser = named::<Loss>(losses()))]
    pub loss: Option<Loss>,
    /// Mini-batch size B in Eq. 2 (default: from run.json).
    #[arg(long, allow_negative_numbers = true)]
    pub batch_size: Option<usize>,
    /// libtorch threads.
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    pub threads: i32,
    /// Threads for the dense linear algebra (faer; 0: all cores, 1: sequential).
    #[arg(long, default_value_t = 0)]
    pub linalg_threads: usize,
    /// Also measure V^T E[h^2] V and rho_bar of C_awd (about doubles the time).
    #[arg(long)]
    pub coupling_awd: bool,
    /// Also the corrected null mean of rho_bar (needs C's whole spectrum: an N x N
    /// eigenvalue problem; with --coupling-awd also E[h^2]'s, d x d).
    #[arg(long)]
    pub coupling_null: bool,
    /// Also Table 3's exponents with Term II kept (C6): matched pairs, the real
    /// dw_p, gamma of Term I + II and of sigma^2 E[h^2] + Term II.
    #[arg(long)]
    pub term2: bool,
    /// Seed of the per-class halves the matched pairs are drawn from (--term2).
    #[arg(long, default_value_t = 0)]
    pub pair_seed: u64,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn analyze(args: AnalyzeArgs) -> Result<i32> {
    tch::set_num_threads(args.threads.max(1));
    let settings = AnalyzeSettings {
        checkpoint: args.checkpoint,
        layer: args.layer,
        samples: args.samples,
        top_k: args.top_k,
        loss: args.loss,
        batch_size: args.batch_size,
        linalg_threads: args.linalg_threads,
        coupling_awd: args.coupling_awd,
        coupling_null: args.coupling_null,
        term2: args.term2,
        pair_seed: args.pair_seed,
        ..AnalyzeSettings::default()
    };
    let report = run_analyze(&settings)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report));
    }
    Ok(superlinear::claims::c9::analyze_exit_code(
        &report.analysis.bounds,
        report.analysis.loss,
    ))
}

fn render(report: &AnalyzeReport) -> String {
    let r = &report.analysis;
    let fit = |f: &std::result::Result<superlinear::fit::GammaFit, String>| match f {
        Ok(f) => format!(
            "{:.3} +- {:.3} (R^2 {:.3}, {} directions)",
            f.gamma, f.std_err, f.r_squared, f.points_used
        ),
        Err(e) => format!("not fitted: {e}"),
    };
    let mut s = format!(
        "{} layer {} ({} x {}), {} samples, {} classes, loss {:?}, B = {}\n",
        report.checkpoint.display(),
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
    let k = r.h_diag.len();
    if 4 * k > r.samples {
        s.push_str(&format!(
            "caution: top-k {k} is more than a quarter of the {} samples; at fixed top-k gamma falls as N grows (MNIST MLP K = 10, CE: 1.54 at N = 2000, 1.20 at N = 8500, experiments/results/reduced/NOTES.md): use --samples 0 (every sample) to compare with the paper\n",
            r.samples
        ));
    }
    s.push_str(&format!("gamma     (C, Eq. 2)      {}\n", fit(&r.gamma)));
    s.push_str(&format!(
        "gamma_awd (E[h^2], Eq. 13) {}\n",
        fit(&r.gamma_awd)
    ));
    s.push_str(&format!(
        "C9 Theorem 5.1: left {} violations, right {} violations over {} directions (Lambda = {:.3e})\n",
        r.bounds.left.violations, r.bounds.right.violations, r.bounds.directions, r.bounds.lambda_max
    ));
    s.push_str(&format!(
        "per-sample spectra: top-eigenvalue share mean {:.3}, negative mass {:.3}\n",
        r.spectra.mean_top_share, r.spectra.negative_mass
    ));
    let coupling = |c: &std::result::Result<CouplingNull, String>| {
        match c {
        Ok(c) => format!(
            "{:.4} over {} directions; paper null mean {:.4} (k_eff {:.1}), SE {:.2e}, z {:.1}, p {:.2e}; {}",
            c.coupling.rho_bar,
            c.coupling.n_used,
            c.paper_mean,
            c.k_eff,
            c.paper_se,
            c.z,
            c.p,
            match (c.corrected_mean, c.k_rho) {
                (Some(m), Some(k)) => format!("corrected null mean {m:.4} (k_rho {k:.1})"),
                _ => "corrected null mean: --coupling-null".into(),
            }
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
    for st in &r.stages {
        s.push_str(&format!("  stage {:<28} {:>8.2} s\n", st.name, st.seconds));
    }
    s.push_str(&format!("  total {:>34.2} s\n", report.total_seconds()));
    s
}
