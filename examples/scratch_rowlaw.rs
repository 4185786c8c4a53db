use superlinear::coupling::grid::committed_results;
use superlinear::coupling::{corrected_var_degenerate, row_law, Spectrum, SpectrumMoments};
fn main() -> anyhow::Result<()> {
    let g = committed_results()?;
    let filt: Vec<String> = std::env::args().skip(1).collect();
    let no_file = |_: &std::path::Path| -> superlinear::error::Result<Vec<f64>> { Ok(vec![]) };
    for p in &g.points {
        if !filt.is_empty() && !filt.iter().any(|f| p.spectrum.starts_with(f.as_str())) {
            continue;
        }
        let mu = Spectrum::parse(&p.spectrum)?.eigenvalues(p.d, &no_file)?;
        let m = SpectrumMoments::of(&mu, p.d)?;
        let t = std::time::Instant::now();
        let rl = row_law::row_law(&mu);
        let v1 = 4.0 / p.d as f64 * rl.residual();
        let vd = corrected_var_degenerate(&m, p.d);
        let se = (v1 + vd).sqrt();
        println!("{:>5} {:<22} sim std {:.3e} first {:.3e} deg {:.3e} ratio {:.3}  Eh {:.5} (sim {:.5}) varh {:.3e} lin {:.3e} [{:.2}s]",
            p.d, p.spectrum, p.simulated_std, v1.sqrt(), vd.sqrt(), p.simulated_std / se, rl.mean_h, p.simulated_mean, rl.var_h, rl.linear, t.elapsed().as_secs_f64());
    }
    Ok(())
}
