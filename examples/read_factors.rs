//! Reads a `superlinear.factors` file (see `scripts/export_layer.py`) with the
//! crate's reader and prints, as one JSON object, its sizes, loss, precision
//! and metadata, and for the first samples the loss value and the factor
//! `A_p = D_p^T M_p D_p` (row-major, `out x out`) computed with the engine's
//! own loss derivatives (`loss::Loss`). `scripts/test_export.py` compares
//! these with PyTorch's, so the exporter and the reader agree on the format
//! and on the losses' normalisation.
//!
//! Usage: `cargo run --release --example read_factors -- FILE [SAMPLES]`
//! (SAMPLES defaults to 2). A file the reader refuses prints its one-line
//! error and exits with code 2.

use serde_json::json;
use superlinear::data::factors::{read_factors, FactorPrecision};
use superlinear::loss::Loss;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        eprintln!("usage: read_factors FILE [SAMPLES]");
        std::process::exit(2);
    };
    let samples: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(2);
    let f = match read_factors(std::path::Path::new(path)) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let kind = Loss::from(f.loss);
    let (k, out) = (f.classes, f.out);
    let per_sample: Vec<_> = (0..samples.min(f.n))
        .map(|p| {
            let (loss, _, m) = kind.derivatives(f.logit(p), f.labels[p]);
            let d = f.jacobian(p);
            // A = D^T M D with D row-major K x out.
            let md: Vec<f64> = (0..k * out)
                .map(|idx| {
                    let (i, c) = (idx / out, idx % out);
                    (0..k).map(|j| m[(i, j)] * d[j * out + c]).sum()
                })
                .collect();
            let a: Vec<f64> = (0..out * out)
                .map(|idx| {
                    let (r, c) = (idx / out, idx % out);
                    (0..k).map(|i| d[i * out + r] * md[i * out + c]).sum()
                })
                .collect();
            json!({ "loss": loss, "a_factor": a, "act": f.act(p), "label": f.labels[p] })
        })
        .collect();
    let report = json!({
        "n": f.n,
        "out": f.out,
        "in": f.inn,
        "classes": f.classes,
        "loss": f.loss.as_str(),
        "precision": match f.precision {
            FactorPrecision::F64 => "f64",
            FactorPrecision::F32 => "f32",
        },
        "metadata": f.metadata_map(),
        "samples": per_sample,
    });
    println!("{report}");
}
