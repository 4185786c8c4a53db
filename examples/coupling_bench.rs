//! Benchmark of the C3 null (target: 200 rotations at d = 1000 with a
//! rank-50 C in under 30 s on 2 cores). Prints the time of the Haar-frame
//! route (`simulate_null`: one d x r QR and one d^2 r Gram pass per rotation,
//! rayon over rotations) and, in the same process, of the dense route
//! (`simulate_null_dense`: d x d Haar Q, `Q C Q^T`, `V^T C_rot V`, O(d^3) per
//! rotation) on fewer rotations, with the per-rotation ratio.
//! Usage: `cargo run --release --example coupling_bench [-- D RANK ROTATIONS DENSE_ROTATIONS]`.
use std::time::Instant;

use superlinear::coupling::{simulate_null, simulate_null_dense};
use superlinear::linalg::{haar_orthogonal, seeded_rng};
use superlinear::stats::summarize;

fn main() -> anyhow::Result<()> {
    let a: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let d = *a.first().unwrap_or(&1000);
    let r = *a.get(1).unwrap_or(&50);
    let rotations = *a.get(2).unwrap_or(&200);
    let dense_rotations = *a.get(3).unwrap_or(&4);
    let mu: Vec<f64> = (1..=r).map(|i| 1.0 / i as f64).collect();
    println!(
        "C3 null benchmark: d = {d}, rank {r}, rayon threads {}",
        rayon::current_num_threads()
    );
    let t = Instant::now();
    let frame = simulate_null(&mu, d, rotations, 1)?;
    let tf = t.elapsed().as_secs_f64();
    let s = summarize(&frame.rho_bar, &[])?;
    println!(
        "frame route: {rotations} rotations in {tf:.2} s ({:.1} ms/rotation); null mean {:.5} std {:.2e}",
        1e3 * tf / rotations as f64,
        s.mean,
        s.std
    );
    let v = haar_orthogonal(d, &mut seeded_rng(2));
    let t = Instant::now();
    let dense = simulate_null_dense(&mu, v.as_ref(), dense_rotations, 1)?;
    let td = t.elapsed().as_secs_f64();
    let sd = summarize(&dense, &[])?;
    println!(
        "dense route: {dense_rotations} rotations in {td:.2} s ({:.1} ms/rotation); mean {:.5}",
        1e3 * td / dense_rotations as f64,
        sd.mean
    );
    println!(
        "per-rotation speed-up of the frame route over the dense route: {:.1}x; \
         projected dense time for {rotations} rotations: {:.0} s",
        (td / dense_rotations as f64) / (tf / rotations as f64),
        td / dense_rotations as f64 * rotations as f64
    );
    Ok(())
}
