//! `superlinear train` (feature `torch`): the paper's bias-free networks
//! trained with vanilla SGD on real data (claim C14's networks), checkpoints
//! for `analyze` and `net-claims`.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, ValueEnum};

use super::analyze::LossArg;
use superlinear::exit;
use superlinear::torch::dataset::{DataSettings, DatasetName};
use superlinear::torch::train::{run_train, ModelKind, RunTrainSettings, TrainSettings};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DatasetArg {
    Mnist,
    Cifar10,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ModelArg {
    Mlp,
    Cnn,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Data set.
    #[arg(long, value_enum, default_value = "mnist")]
    pub dataset: DatasetArg,
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
    #[arg(long, value_enum, default_value = "mlp")]
    pub model: ModelArg,
    /// Loss.
    #[arg(long, value_enum, default_value = "ce")]
    pub loss: LossArg,
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
            dataset: match args.dataset {
                DatasetArg::Mnist => DatasetName::Mnist,
                DatasetArg::Cifar10 => DatasetName::Cifar10,
            },
            root: args.data,
            classes: args.classes,
            per_class: args.per_class,
            normalize: true,
        },
        model: match args.model {
            ModelArg::Mlp => ModelKind::Mlp,
            ModelArg::Cnn => ModelKind::Cnn,
        },
        arch: None,
        train: TrainSettings {
            loss: args.loss.into(),
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
