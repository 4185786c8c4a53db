//! `superlinear train` (feature `torch`): the paper's bias-free networks
//! trained with vanilla SGD on real data (claim C14's networks), checkpoints
//! for `analyze` and `net-claims`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use superlinear::exit;
use superlinear::loss::Loss;
use superlinear::spec::{Dataset, Model};
use superlinear::torch::dataset::DataSettings;
use superlinear::torch::device::TrainDevice;
use superlinear::torch::model::Arch;
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
    /// Hidden widths (MLP) or convolution channels (CNN), comma-separated
    /// (default: the documented architecture of the model family).
    #[arg(long, value_delimiter = ',')]
    pub widths: Option<Vec<usize>>,
    /// CNN: side of the adaptive average pool's output (with --widths).
    #[arg(long, default_value_t = 1)]
    pub cnn_pool_side: usize,
    /// CNN: width of the hidden fully connected layer (with --widths).
    #[arg(long, default_value_t = 50)]
    pub cnn_hidden: usize,
    /// Output directory for checkpoints and run.json.
    #[arg(long)]
    pub out: PathBuf,
    /// Where SGD runs: cpu, or cuda (the first GPU; not bitwise reproducible).
    /// Checkpoints and the analysis stay on the CPU.
    #[arg(long, default_value = "cpu", value_parser = named::<TrainDevice>(TrainDevice::ALL.map(TrainDevice::short)))]
    pub device: TrainDevice,
    /// libtorch threads (1 avoids OpenMP spinning on a busy 2-core machine).
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    pub threads: i32,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn train(args: TrainArgs) -> Result<i32> {
    if args.threads < 1 {
        anyhow::bail!("--threads {}: must be at least 1", args.threads);
    }
    tch::set_num_threads(args.threads);
    let settings = RunTrainSettings {
        data: DataSettings {
            dataset: args.dataset,
            root: args.data,
            classes: args.classes,
            per_class: args.per_class,
            normalize: true,
        },
        model: args.model,
        arch: args.widths.as_ref().map(|w| {
            let (c, h, wd) = args.dataset.chw();
            match args.model {
                Model::Mlp => Arch::Mlp {
                    input: c * h * wd,
                    hidden: w.clone(),
                },
                Model::Cnn => Arch::Cnn {
                    in_channels: c,
                    channels: w.clone(),
                    pool_side: args.cnn_pool_side,
                    hidden: args.cnn_hidden,
                },
            }
        }),
        train: TrainSettings {
            loss: args.loss,
            lr: args.lr,
            batch_size: args.batch_size,
            epochs: args.epochs,
            seed: args.seed,
            checkpoint_every: args.checkpoint_every,
            device: args.device,
            out_dir: Some(args.out),
            init: Default::default(),
        },
    };
    settings.train.validate()?;
    let progress = super::progress::reporter(args.json);
    let report = run_train(&settings, progress.as_ref())?;
    report.divergence()?;
    if args.json {
        super::json::print(super::json::TRAIN, &report)?;
    } else {
        print!("{}", summary(&report));
    }
    Ok(exit::OK)
}

/// The architecture in words, e.g. "MLP 784-50-50-10 (bias-free, ReLU)".
fn arch_words(spec: &superlinear::torch::model::ModelSpec) -> String {
    match &spec.arch {
        Arch::Mlp { input, hidden } => {
            let widths: Vec<String> = std::iter::once(*input)
                .chain(hidden.iter().copied())
                .chain(std::iter::once(spec.classes))
                .map(|w| w.to_string())
                .collect();
            format!("MLP {} (bias-free, ReLU)", widths.join("-"))
        }
        Arch::Cnn {
            in_channels,
            channels,
            pool_side,
            hidden,
        } => format!(
            "CNN: {in_channels} input channel(s), convolutions with {} channels, average pool to {pool_side}x{pool_side}, hidden layer {hidden}, {} outputs (bias-free, ReLU)",
            channels
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            spec.classes
        ),
    }
}

/// What `train` prints for people: the network, the data, the final
/// training and held-out figures, the time and where the files went.
fn summary(report: &superlinear::torch::train::TrainReport) -> String {
    let s = &report.settings;
    let mut out = format!("trained {}\n", arch_words(&report.spec));
    out.push_str(&format!(
        "  data       {} ({} training samples, {} classes)\n",
        report.data, report.samples, report.spec.classes
    ));
    out.push_str(&format!(
        "  SGD        loss {}, learning rate {}, batch size {}, {} epochs, seed {}{}\n",
        s.loss.short(),
        s.lr,
        s.batch_size,
        s.epochs,
        s.seed,
        match s.device {
            TrainDevice::Cpu => "",
            TrainDevice::Cuda => ", on the GPU (cuda)",
        }
    ));
    if let Some(last) = report.epochs.last() {
        out.push_str(&format!(
            "  final      training loss {:.4}, training accuracy {:.4} (epoch {})\n",
            last.loss, last.accuracy, last.epoch
        ));
    }
    match &report.heldout {
        Some(h) => out.push_str(&format!(
            "  held-out   test accuracy {:.4}, loss {:.4} on {}\n",
            h.accuracy, h.loss, h.data
        )),
        None => out.push_str(
            "  held-out   none: the data has no test split and the subset uses every sample\n",
        ),
    }
    out.push_str(&format!("  wall time  {:.1} s\n", report.seconds));
    if let Some(dir) = &s.out_dir {
        out.push_str(&format!(
            "  written    {} (run record), {} checkpoint(s): {}\n",
            dir.join("run.json").display(),
            report.checkpoints.len(),
            report
                .checkpoints
                .last()
                .map(|c| c.display().to_string())
                .unwrap_or_default()
        ));
    }
    out
}
