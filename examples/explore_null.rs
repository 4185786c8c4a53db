use superlinear::coupling::grid::*;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let ds: Vec<usize> = args[1].split(',').map(|x| x.parse().unwrap()).collect();
    let rot: usize = args[2].parse().unwrap();
    let s = GridSettings {
        ds,
        rotations: rot,
        rotations_large: rot,
        large_d: usize::MAX,
        seed: 1,
    };
    let t = std::time::Instant::now();
    let pts = run_grid(&s, &mut |p| eprintln!("{:>5} {:<22} keff {:8.2} sim {:.4} rho2 {:.5}/{:.5} krho {:.2} paper {:+.3} corr {:+.3} seP {:.2} seC {:.2}  t={:.1}", p.d, p.spectrum, p.k_eff, p.simulated_mean, p.simulated_mean_rho_sq, p.corrected_mean_rho_sq, p.k_rho, p.paper_mean_rel_err, p.corrected_mean_rel_err, p.paper_se_ratio, p.corrected_se_ratio, t.elapsed().as_secs_f64())).unwrap();
    let _ = pts;
}
