//! Benchmark of the layer analysis at paper scale on synthetic Kronecker
//! factors (no torch): per stage, wall seconds and peak resident memory,
//! the memory plan of `superlinear::memory` beside the measured peak, and,
//! where it fits, the old path (dense H for every size, `tr C` and
//! `||C||_F^2` through the N x N dual) in the same process with the ratio.
//!
//! ```text
//! cargo run --release --example scale_bench -- [--rows LIST] [--old] [--null] [--memory-check]
//! ```
//! LIST is comma-separated row names (default `2k-2500`): `2k-2500`,
//! `8.5k-2500`, `20k-2500`, `50k-2500`, `2k-6400`, `8k-6400`, `8.5k-6400`,
//! `20k-6400`, `50k-6400`, `free` (256 x 256 layer, N = 10,000, k = 100,
//! matrix-free), or `all`. `--old` also runs the old path where its N x N
//! matrices fit in 16 GiB; `--null` adds the whole spectrum of C (corrected
//! null); `--memory-check` exits with code 1 when a stage's measured peak
//! is outside a factor 1.5 of its estimate (stages above 64 MiB only). Peaks
//! are resident-set peaks of this process, so only the first row of a run
//! measures from a clean heap (the per-sample factors are small
//! allocations that the allocator keeps after they are freed): check memory
//! one row per run. Wall seconds depend on the machine's load; the CPU
//! seconds (all threads) divided by the core count bound them from below.
//!
//! Factors (seeded ChaCha8): `a_p = ReLU(M x_p)` with `x_p` uniform of
//! decaying scale `1/sqrt(1 + i)` and a fixed Gaussian mixing `M`;
//! `D_p = R diag(mask_p)` with a fixed Gaussian `R` (K x out) and Bernoulli(0.6)
//! masks (a ReLU layer before a read-out); K = 10 logits, uniform noise plus
//! a class signal; cross-entropy; batch size 50.

use std::time::Instant;

use faer::Mat;
use rand::Rng as _;
use superlinear::kron::{EigSettings, KronCurvature, LayerSamples};
use superlinear::linalg::{gaussian_matrix, seeded_rng};
use superlinear::loss::Loss;
use superlinear::memory::{estimate_analysis, AnalysisOptions, AnalysisShape, MemoryBudget};

struct Row {
    name: &'static str,
    n: usize,
    out: usize,
    inn: usize,
    k: usize,
}

const ROWS: &[Row] = &[
    Row {
        name: "2k-2500",
        n: 2000,
        out: 50,
        inn: 50,
        k: 300,
    },
    Row {
        name: "8.5k-2500",
        n: 8500,
        out: 50,
        inn: 50,
        k: 1000,
    },
    Row {
        name: "20k-2500",
        n: 20_000,
        out: 50,
        inn: 50,
        k: 1500,
    },
    Row {
        name: "50k-2500",
        n: 50_000,
        out: 50,
        inn: 50,
        k: 1000,
    },
    Row {
        name: "2k-6400",
        n: 2000,
        out: 80,
        inn: 80,
        k: 300,
    },
    Row {
        name: "8k-6400",
        n: 8000,
        out: 80,
        inn: 80,
        k: 1000,
    },
    Row {
        name: "8.5k-6400",
        n: 8500,
        out: 80,
        inn: 80,
        k: 1000,
    },
    Row {
        name: "20k-6400",
        n: 20_000,
        out: 80,
        inn: 80,
        k: 1500,
    },
    Row {
        name: "50k-6400",
        n: 50_000,
        out: 80,
        inn: 80,
        k: 1000,
    },
    Row {
        name: "free",
        n: 10_000,
        out: 256,
        inn: 256,
        k: 100,
    },
];

const CLASSES: usize = 10;
const BATCH: usize = 50;

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Resets the peak-RSS counter (Linux: `5` to clear_refs).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn gib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 30) as f64
}

/// Process CPU seconds (user + system, all threads); on a shared machine
/// wall time depends on the load, CPU time less so.
fn cpu_seconds() -> f64 {
    superlinear::memory::process_cpu_seconds().unwrap_or(f64::NAN)
}

struct Meter {
    t: Instant,
    cpu: f64,
    base: u64,
    rows: Vec<(String, f64, u64, u64, f64)>,
}

impl Meter {
    fn new() -> Self {
        reset_peak();
        Meter {
            t: Instant::now(),
            cpu: cpu_seconds(),
            base: status_kib("VmRSS:") * 1024,
            rows: vec![],
        }
    }
    /// Closes a stage: seconds, peak RSS during it, RSS held when it began.
    fn lap(&mut self, name: &str) {
        let peak = status_kib("VmHWM:") * 1024;
        let cpu = cpu_seconds();
        self.rows.push((
            name.into(),
            self.t.elapsed().as_secs_f64(),
            peak,
            self.base,
            cpu - self.cpu,
        ));
        self.cpu = cpu;
        reset_peak();
        self.base = status_kib("VmRSS:") * 1024;
        self.t = Instant::now();
    }
    fn total(&self) -> f64 {
        self.rows.iter().map(|r| r.1).sum()
    }
    fn cpu(&self) -> f64 {
        self.rows.iter().map(|r| r.4).sum()
    }
    fn peak(&self) -> u64 {
        self.rows.iter().map(|r| r.2).max().unwrap_or(0)
    }
}

fn synthetic(row: &Row, seed: u64) -> LayerSamples {
    let (n, out, inn, k) = (row.n, row.out, row.inn, CLASSES);
    let mut rng = seeded_rng(seed);
    let r = gaussian_matrix(k, out, &mut rng);
    let mix = gaussian_matrix(inn, inn, &mut rng);
    let x = Mat::from_fn(n, inn, |_, i| {
        rng.random_range(-1.0..1.0f64) / (1.0 + i as f64).sqrt()
    });
    let pre = &x * mix.transpose();
    drop(x);
    let acts = Mat::from_fn(n, inn, |p, i| pre[(p, i)].max(0.0) / (inn as f64).sqrt());
    drop(pre);
    let mut jacobians = Vec::with_capacity(n);
    let mut logits = Mat::<f64>::zeros(n, k);
    let mut labels = Vec::with_capacity(n);
    for p in 0..n {
        let mask: Vec<bool> = (0..out).map(|_| rng.random_bool(0.6)).collect();
        jacobians.push(Mat::from_fn(k, out, |c, o| {
            if mask[o] {
                r[(c, o)] / (out as f64).sqrt()
            } else {
                0.0
            }
        }));
        let y = p % k;
        for c in 0..k {
            logits[(p, c)] = rng.random_range(-1.0..1.0) + if c == y { 3.0 } else { 0.0 };
        }
        labels.push(y);
    }
    LayerSamples {
        acts,
        jacobians,
        logits,
        labels,
        loss: Loss::CrossEntropy,
    }
}

/// Freed buffers go back to the system only above glibc's mmap threshold,
/// which grows after each large free unless fixed: the bench re-executes
/// itself with the threshold fixed at 64 KiB so that the resident set
/// measures what is alive.
fn fixed_mmap_threshold() {
    if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
        if let Ok(exe) = std::env::current_exe() {
            let status = std::process::Command::new(exe)
                .args(std::env::args_os().skip(1))
                .env("MALLOC_MMAP_THRESHOLD_", "65536")
                .status();
            std::process::exit(status.ok().and_then(|s| s.code()).unwrap_or(1));
        }
    }
}

fn main() {
    fixed_mmap_threshold();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |f: &str| args.iter().any(|a| a == f);
    let list = args
        .iter()
        .position(|a| a == "--rows")
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| "2k-2500".into());
    let names: Vec<&str> = if list == "all" {
        ROWS.iter().map(|r| r.name).collect()
    } else {
        list.split(',').collect()
    };
    let par = faer::get_global_parallelism();
    let mut failed = false;
    let mut summary = vec![];
    for name in names {
        let Some(row) = ROWS.iter().find(|r| r.name == name) else {
            eprintln!("unknown row {name}");
            std::process::exit(2);
        };
        let d = row.out * row.inn;
        println!(
            "== {name}: N = {}, d = {d} ({} x {}), k = {}, K = {CLASSES}",
            row.n, row.out, row.inn, row.k
        );
        let shape = AnalysisShape {
            samples: row.n,
            out: row.out,
            inn: row.inn,
            classes: CLASSES,
            top_k: row.k,
        };
        // Wide layers keep only the factored A_p (8 N out^2 bytes otherwise).
        let dense_factors = row.out * row.out * row.n * 8 <= 1 << 29;
        let opt = AnalysisOptions {
            coupling_null: flag("--null"),
            dense_factors,
            ..AnalysisOptions::default()
        };
        let plan = estimate_analysis(&shape, &opt);
        println!(
            "   plan: eig {:?}, moments {:?}, peak {:.2} GiB",
            plan.eig,
            plan.moments,
            gib(plan.peak())
        );
        let samples = synthetic(row, 7);
        let mut m = Meter::new();
        let engine = if dense_factors {
            KronCurvature::new(&samples, name)
        } else {
            KronCurvature::new_factored(&samples, name)
        }
        .expect("factors");
        m.lap("factor A_p");
        let eig = engine
            .hessian_top_eig_scaled(row.k, &EigSettings::default(), par)
            .expect("top-k eig");
        m.lap("top-k eig(H)");
        let proj = engine
            .projections(eig.vectors.as_ref(), 64, false, par)
            .expect("projections");
        let c_diag = proj.c_diag(BATCH);
        m.lap("projections");
        let cp = proj.c_projected(BATCH, par);
        let moments = engine
            .c_moments(BATCH, None, 0, &MemoryBudget::unlimited(), par)
            .expect("moments");
        let spectrum = flag("--null").then(|| {
            engine
                .c_spectrum(BATCH, &MemoryBudget::unlimited(), par)
                .expect("spectrum")
        });
        drop(cp);
        m.lap("rho_bar(C)");
        let max_res = eig
            .residuals
            .as_ref()
            .map(|r| r.iter().fold(0.0f64, |a, b| a.max(*b)) / eig.values[0].abs());
        println!(
            "   eig route {:?} ({} products, max |Hv - lv|/l1 {:?}); tr C {:.6e}, |C|_F^2 {:.6e} ({:?}){}",
            eig.method,
            eig.products,
            max_res,
            moments.trace,
            moments.frobenius_sq,
            moments.route,
            spectrum
                .as_ref()
                .map(|s| format!(", spectrum: {} values, top {:.4e}", s.len(), s[0]))
                .unwrap_or_default()
        );
        for (i, (stage, secs, peak, base, cpu)) in m.rows.iter().enumerate() {
            let est = plan.stages.get(i);
            let (est_peak, ratio) = match est {
                Some(s) => (s.peak(), *peak as f64 / s.peak().max(1) as f64),
                None => (0, f64::NAN),
            };
            let checked = est_peak > 64 << 20;
            let bad = checked && !(1.0 / 1.5..=1.5).contains(&ratio);
            failed |= bad && flag("--memory-check");
            println!(
                "   {stage:<16} {secs:8.2} s (cpu {cpu:7.2} s)   peak {:6.2} GiB (held at start {:5.2})   plan {:6.2} GiB  measured/plan {ratio:5.2}{}",
                gib(*peak),
                gib(*base),
                gib(est_peak),
                if bad { "  <-- outside 1.5x" } else { "" }
            );
        }
        println!(
            "   {:<16} {:8.2} s   peak {:6.2} GiB",
            "total",
            m.total(),
            gib(m.peak())
        );
        let mut old_total = None;
        if flag("--old") {
            let fits = 3 * 8 * (row.n as u64).pow(2) + 3 * 8 * (d as u64).pow(2) < 16 << 30;
            if fits {
                let mut o = Meter::new();
                let h = engine.hessian_with(par);
                let old = superlinear::linalg::sym_eig_top(h, row.k, par, "H").expect("eig");
                o.lap("old top-k eig");
                let proj = engine
                    .projections(old.vectors.as_ref(), 64, false, par)
                    .expect("projections");
                let c_old = proj.c_diag(BATCH);
                o.lap("old projections");
                let (tr, fr) = engine.c_trace_moments(BATCH, par).expect("dual");
                o.lap("old rho_bar(C)");
                let dev = |a: &[f64], b: &[f64]| {
                    a.iter()
                        .zip(b)
                        .map(|(x, y)| (x - y).abs() / x.abs().max(y.abs()))
                        .fold(0.0, f64::max)
                };
                println!(
                    "   old path {:.2} s (cpu {:.2} s; eig {:.2}, proj {:.2}, rho {:.2}), peak {:.2} GiB; ratio old/new {:.1}x (cpu {:.1}x); max rel diff: eigenvalues {:.1e}, C_ii {:.1e}, tr C {:.1e}, |C|_F^2 {:.1e}",
                    o.total(),
                    o.cpu(),
                    o.rows[0].1,
                    o.rows[1].1,
                    o.rows[2].1,
                    gib(o.peak()),
                    o.total() / m.total(),
                    o.cpu() / m.cpu(),
                    dev(&old.values, &eig.values),
                    dev(&c_old, &c_diag),
                    (tr - moments.trace).abs() / tr.abs(),
                    (fr - moments.frobenius_sq).abs() / fr.abs()
                );
                old_total = Some((o.total(), o.cpu()));
            } else {
                println!("   old path skipped: its N x N matrices do not fit in 16 GiB");
            }
        }
        drop(samples);
        summary.push((name, m.total(), m.cpu(), m.peak(), old_total));
    }
    println!("\nrow          new s (cpu s)   peak GiB   old s (cpu s)");
    for (name, t, c, p, o) in summary {
        println!(
            "{name:<10} {t:7.2} ({c:7.2})   {:7.2}   {}",
            gib(p),
            o.map(|(w, c)| format!("{w:.2} ({c:.2})"))
                .unwrap_or_else(|| "-".into())
        );
    }
    if failed {
        std::process::exit(1);
    }
}
