//! Benchmark and demo of the torch tier on the shared MNIST subset: trains the
//! paper's MLP (784-50-50-K, vanilla SGD) and analyses its 50x50 middle layer
//! on N samples, printing accuracy, gamma, gamma_awd and every stage's time.
//!
//! ```text
//! scripts/torch-env.sh cargo run --release --features torch --example torch_mnist -- \
//!     [ce|mse] [epochs] [per_class] [samples] [lr] [out_dir]
//! ```
//! Data root: `SUPERLINEAR_DATA` (e.g. ../shared/data).

use std::path::PathBuf;

use superlinear::loss::Loss;
use superlinear::progress::Silent;
use superlinear::reproduce::analyze::{run_analyze, AnalyzeSettings};
use superlinear::spec::Model;
use superlinear::torch::dataset::DataSettings;
use superlinear::torch::device::TrainDevice;
use superlinear::torch::train::{run_train, RunTrainSettings, TrainSettings};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or_else(|| default.to_string());
    let loss = match arg(0, "ce").as_str() {
        "mse" => Loss::SoftmaxMse,
        _ => Loss::CrossEntropy,
    };
    let epochs: usize = arg(1, "20").parse()?;
    let per_class: usize = arg(2, "800").parse()?;
    let samples: usize = arg(3, "2000").parse()?;
    let lr: f64 = arg(4, "0.1").parse()?;
    let out = PathBuf::from(arg(5, "runs/torch-mnist"));
    let settings = RunTrainSettings {
        data: DataSettings::mnist(10, per_class),
        model: Model::Mlp,
        arch: None,
        train: TrainSettings {
            loss,
            lr,
            batch_size: 50,
            epochs,
            seed: 0,
            checkpoint_every: 0,
            device: TrainDevice::Cpu,
            out_dir: Some(out.clone()),
            init: Default::default(),
        },
    };
    let report = run_train(&settings, &Silent)?;
    let last = report
        .epochs
        .last()
        .ok_or_else(|| anyhow::anyhow!("no epochs"))?;
    println!(
        "train: {} samples, {} epochs, loss {:.4}, accuracy {:.4}, {:.1} s",
        report.samples, epochs, last.loss, last.accuracy, report.seconds
    );
    let a = run_analyze(
        &AnalyzeSettings {
            checkpoint: out.join("final.safetensors"),
            samples,
            top_k: 1000,
            ..AnalyzeSettings::default()
        },
        &Silent,
    )?
    .analysis;
    println!(
        "analyze {} ({}x{}) on {} samples, top-k {}: accuracy {:.4}",
        a.layer,
        a.layer_shape.0,
        a.layer_shape.1,
        a.samples,
        a.h_diag.len(),
        a.accuracy
    );
    match &a.gamma {
        Ok(g) => println!(
            "gamma     = {:.3} +- {:.3} (R^2 {:.3}, {} points)",
            g.gamma, g.std_err, g.r_squared, g.points_used
        ),
        Err(e) => println!("gamma: {e}"),
    }
    match &a.gamma_awd {
        Ok(g) => println!(
            "gamma_awd = {:.3} +- {:.3} (R^2 {:.3}, {} points)",
            g.gamma, g.std_err, g.r_squared, g.points_used
        ),
        Err(e) => println!("gamma_awd: {e}"),
    }
    println!(
        "Theorem 5.1: left violations {}, right violations {} of {}; negative mass {:.3e}; top share {:.3}",
        a.bounds.left.violations,
        a.bounds.right.violations,
        a.bounds.directions,
        a.spectra.negative_mass,
        a.spectra.mean_top_share
    );
    for s in &a.stages {
        println!("  {:<28} {:8.3} s", s.name, s.seconds);
    }
    println!("  {:<28} {:8.3} s", "total", a.total_seconds());
    Ok(())
}
