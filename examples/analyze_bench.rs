//! Benchmark of `analyze`'s curvature engine on a trained checkpoint: the
//! reference path (full `X^T Y` build of H, full eigendecomposition, C_ii by
//! `G V`, then C_awd,ii by a second pass, the diagonal part of the fused
//! pass) against the one `analyze` takes (packed build, top-k
//! eigensolver, one fused projection pass), in the same process, with wall
//! and process-CPU seconds per stage, the ratio, and the agreement of the two
//! (top-k eigenvalues, C_ii, C_awd,ii: max relative difference).
//!
//! ```text
//! scripts/torch-env.sh cargo run --release --features torch --example analyze_bench -- \
//!     CHECKPOINT [samples=2000] [top_k=1000] [linalg_threads=0]
//! ```
//! The checkpoint needs `run.json` beside it (as `superlinear train` writes).
//! With `BENCH_DIAG=1` it first prints the spectra of `A^T A` (activities),
//! `sum_p E_p E_p^T` and H: a rank deficit there would allow an exact
//! reduction of the eigenproblem (none on the trained MNIST MLP: both are
//! full rank, H's eigenvalues fall from 0.28 to 3e-6 at index 1000).

use std::path::PathBuf;
use std::time::Instant;

use faer::Par;
use superlinear::kron::KronCurvature;
use superlinear::layer::balanced_indices;
use superlinear::torch::checkpoint::{load_net, run_metadata};
use superlinear::torch::curvature::gather_layer;
use superlinear::torch::dataset::load_data;

/// Process CPU seconds (user + system, all threads); on a shared machine
/// wall time depends on the load, CPU time less so.
fn cpu_seconds() -> f64 {
    superlinear::memory::process_cpu_seconds().unwrap_or(f64::NAN)
}

struct Clock {
    wall: Instant,
    cpu: f64,
    rows: Vec<(String, f64, f64)>,
}

impl Clock {
    fn new() -> Self {
        Clock {
            wall: Instant::now(),
            cpu: cpu_seconds(),
            rows: vec![],
        }
    }
    fn lap(&mut self, name: &str) {
        let cpu = cpu_seconds();
        self.rows.push((
            name.into(),
            self.wall.elapsed().as_secs_f64(),
            cpu - self.cpu,
        ));
        self.wall = Instant::now();
        self.cpu = cpu;
    }
    fn total(&self) -> (f64, f64) {
        self.rows
            .iter()
            .fold((0.0, 0.0), |(w, c), r| (w + r.1, c + r.2))
    }
    fn print(&self, title: &str) {
        println!("{title}");
        for (n, w, c) in &self.rows {
            println!("  {n:<34} wall {w:7.2} s   cpu {c:7.2} s");
        }
        let (w, c) = self.total();
        println!("  {:<34} wall {w:7.2} s   cpu {c:7.2} s", "total");
    }
}

fn max_rel(a: &[f64], b: &[f64]) -> f64 {
    let scale = a.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
        / scale
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let ckpt = PathBuf::from(
        args.first()
            .ok_or_else(|| anyhow::anyhow!("usage: CHECKPOINT [samples] [top_k] [threads]"))?,
    );
    let samples: usize = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(2000);
    let top_k: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(1000);
    let threads: usize = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(0);
    let par = match threads {
        0 => faer::get_global_parallelism(),
        1 => Par::Seq,
        t => Par::rayon(t),
    };
    tch::set_num_threads(1);
    let meta =
        run_metadata(&ckpt)?.ok_or_else(|| anyhow::anyhow!("no run.json beside the checkpoint"))?;
    let ds = meta
        .data_settings
        .clone()
        .ok_or_else(|| anyhow::anyhow!("run.json has no data settings"))?;
    let data = load_data(&ds)?;
    let net = load_net(&ckpt)?;
    let layer = net.spec().default_layer();
    let idx = balanced_indices(&data.labels, samples);
    let ls = gather_layer(&net, &data, &idx, &layer, meta.settings.loss, 256)?.samples;
    let b = meta.settings.batch_size;

    if std::env::var("BENCH_DIAG").is_ok() {
        let e = KronCurvature::new(&ls, &layer)?;
        let g = ls.acts.transpose() * &ls.acts;
        let ev = superlinear::linalg::sym_eigenvalues(g.as_ref(), "acts")?;
        println!(
            "acts gram eig: {:?}",
            ev.iter().map(|v| format!("{v:.1e}")).collect::<Vec<_>>()
        );
        let (out, _) = e.layer_shape();
        let mut sa = faer::Mat::<f64>::zeros(out, out);
        for s in e.samples() {
            sa += &s.e * s.e.transpose();
        }
        let ev = superlinear::linalg::sym_eigenvalues(sa.as_ref(), "sum EE")?;
        println!(
            "sum E E^T eig: {:?}",
            ev.iter().map(|v| format!("{v:.1e}")).collect::<Vec<_>>()
        );
        let h = e.hessian();
        let ev = superlinear::linalg::sym_eigenvalues(h.as_ref(), "H")?;
        println!(
            "H eig at 0,10,100,500,999,1500,2000,2499: {:?}",
            [0, 10, 100, 500, 999, 1500, 2000, 2499]
                .iter()
                .map(|&i| format!("{:.1e}", ev[i]))
                .collect::<Vec<_>>()
        );
    }
    let load = || std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average at start: {}", load().trim());
    let mut new = Clock::new();
    let engine = KronCurvature::new(&ls, &layer)?;
    new.lap("factor A_p (parallel)");
    let h = engine.hessian_with(par);
    new.lap("H, packed X^T Y");
    let d = engine.d();
    let k = top_k.min(d);
    let (eig, t) = superlinear::linalg::sym_eig_top_timed(h, k, par, "H")?;
    new.lap("top-k eig(H)");
    let proj = engine.projections(eig.vectors.as_ref(), 64, false, par)?;
    let c_new = proj.c_diag(b);
    new.lap("C_ii + C_awd,ii (one pass)");
    let cp = proj.c_projected(b, par);
    let _ = engine.c_trace_moments(b, par)?;
    new.lap("C' and tr C, |C|_F^2 (rho_bar)");
    let proj_awd = engine.projections(eig.vectors.as_ref(), 64, true, par)?;
    let s = engine.second_moment_with(par);
    new.lap("option: + V^T E[h^2] V, E[h^2]");
    drop((cp, s));
    new.print(&format!(
        "new path (d = {d}, N = {}, k = {k}, par {par:?})",
        engine.n()
    ));
    println!(
        "  eig stages: tridiagonalize {:.2} s, tridiagonal D&C {:.2} s, back-transform {} vectors {:.2} s",
        t.tridiagonalize, t.tridiagonal_evd, k, t.back_transform
    );

    let mut old = Clock::new();
    let h = engine.hessian_unpacked();
    old.lap("H, full X^T Y");
    let full = superlinear::linalg::sym_eig(h.as_ref(), "H")?;
    old.lap("full eig(H)");
    drop(h);
    let v = full.vectors.subcols(0, k).to_owned();
    let c_old = engine.c_diag(v.as_ref(), b)?;
    old.lap("C_ii (G V)");
    let (_, awd_old) = engine.first_second_moment_diag(v.as_ref(), 64)?;
    old.lap("C_awd,ii");
    old.print("reference path");
    println!("load average at end: {}", load().trim());
    let (wn, cn) = new.total();
    let (wn_opt, cn_opt) = (wn - new.rows[5].1, cn - new.rows[5].2);
    let (wo, co) = old.total();
    println!(
        "ratio old/new (default path, without factoring): wall {:.2}x, cpu {:.2}x",
        wo / (wn_opt - new.rows[0].1),
        co / (cn_opt - new.rows[0].2)
    );
    println!(
        "agreement (max rel diff): top-k eigenvalues {:.1e}, C_ii {:.1e}, C_awd,ii {:.1e}, C_awd,ii vs diag(V^T E[h^2] V) {:.1e}",
        max_rel(&full.values[..k], &eig.values),
        max_rel(&c_old, &c_new),
        max_rel(&awd_old, &proj.second),
        proj_awd
            .awd_projected
            .as_ref()
            .map(|m| max_rel(&proj.second, &(0..k).map(|i| m[(i, i)]).collect::<Vec<_>>()))
            .unwrap_or(f64::NAN)
    );
    Ok(())
}
