//! `superlinear net-claims` (feature `torch`): claims C6, C7, C13 and C15 on
//! the checkpoints of a `superlinear train` run
//! ([`superlinear::reproduce::netclaims`]).
//! Exit codes: 0 no claim failed, 1 a claim failed, 2 bad usage or input.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use superlinear::claims::net::{gamma_text, NetThresholds};
use superlinear::exit;
use superlinear::reproduce::netclaims::{
    run_net_claims, NetClaim, NetClaimsReport, NetClaimsSettings,
};
use superlinear::reproduce::ReproduceError;
use superlinear::suppression::SuppressionConfig;

#[derive(Debug, Args)]
pub struct NetClaimsArgs {
    /// Run directory of `superlinear train` (checkpoints and run.json).
    #[arg(long)]
    pub run: PathBuf,
    /// Claims to check, comma-separated (C6, C7, C13, C15).
    #[arg(long, default_value = "C6,C7,C13,C15", value_delimiter = ',')]
    pub claims: Vec<String>,
    /// Class-balanced training samples used.
    #[arg(long, default_value_t = 1000)]
    pub samples: usize,
    /// Top-k eigen-directions of H (0: all).
    #[arg(long, default_value_t = 1000)]
    pub top_k: usize,
    /// Layer (default: the paper's choice for the model).
    #[arg(long)]
    pub layer: Option<String>,
    /// Seed of the split into matched halves.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// One-to-one matching (least total distance) instead of the nearest partner.
    #[arg(long)]
    pub one_to_one: bool,
    /// Use every N-th checkpoint (the last is always used).
    #[arg(long, default_value_t = 1)]
    pub stride: usize,
    /// C13: threshold fraction q of Eq. 24.
    #[arg(long, default_value_t = SuppressionConfig::default().q)]
    pub q: f64,
    /// C13: factor on the tail modes of stiff samples.
    #[arg(long, default_value_t = SuppressionConfig::default().stiff_tail)]
    pub stiff_tail: f64,
    /// C13: factor on the principal mode of non-stiff samples.
    #[arg(long, default_value_t = SuppressionConfig::default().background_top)]
    pub background_top: f64,
    /// C13: factor on the tail modes of non-stiff samples.
    #[arg(long, default_value_t = SuppressionConfig::default().background_tail)]
    pub background_tail: f64,
    /// C13: factor on the tail modes in the tails-only run.
    #[arg(long, default_value_t = 1e-3)]
    pub tails_factor: f64,
    /// C6: largest Term II / Term I share that passes.
    #[arg(long, default_value_t = NetThresholds::default().c6_max_term2_share)]
    pub c6_max_term2_share: f64,
    /// C6: largest |Dg - Term I|^2 / |Dg|^2 that passes.
    #[arg(long, default_value_t = NetThresholds::default().c6_max_residual)]
    pub c6_max_residual: f64,
    /// C7: largest |gamma_I - gamma_iso| that passes.
    #[arg(long, default_value_t = NetThresholds::default().c7_gamma_tol)]
    pub c7_gamma_tol: f64,
    /// C13: gamma change that counts as a change.
    #[arg(long, default_value_t = NetThresholds::default().c13_gamma_tol)]
    pub c13_gamma_tol: f64,
    /// C13: largest tails-only top-k H shape change that passes.
    #[arg(long, default_value_t = NetThresholds::default().c13_shape_tol)]
    pub c13_shape_tol: f64,
    /// C15: largest slope drift 2|c| ln(H_max/H_min) of the fitted curvature c
    /// that still counts as a power law.
    #[arg(long, default_value_t = NetThresholds::default().c15_max_slope_drift)]
    pub c15_max_slope_drift: f64,
    /// libtorch threads.
    #[arg(long, default_value_t = 1)]
    pub threads: i32,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

impl NetClaimsArgs {
    /// The validated settings.
    pub fn settings(&self) -> Result<NetClaimsSettings> {
        let claims = self
            .claims
            .iter()
            .map(|c| NetClaim::parse(c))
            .collect::<Result<Vec<_>, ReproduceError>>()?;
        let s = NetClaimsSettings {
            run_dir: self.run.clone(),
            claims,
            samples: self.samples,
            top_k: self.top_k,
            layer: self.layer.clone(),
            seed: self.seed,
            one_to_one: self.one_to_one,
            stride: self.stride,
            suppression: SuppressionConfig {
                q: self.q,
                stiff_tail: self.stiff_tail,
                background_top: self.background_top,
                background_tail: self.background_tail,
                homogenize: true,
            },
            tails_factor: self.tails_factor,
            thresholds: NetThresholds {
                c6_max_term2_share: self.c6_max_term2_share,
                c6_max_residual: self.c6_max_residual,
                c7_gamma_tol: self.c7_gamma_tol,
                c13_gamma_tol: self.c13_gamma_tol,
                c13_shape_tol: self.c13_shape_tol,
                c15_max_slope_drift: self.c15_max_slope_drift,
            },
            ..NetClaimsSettings::default()
        };
        s.validate()?;
        Ok(s)
    }
}

pub fn run(args: NetClaimsArgs) -> Result<i32> {
    if args.threads < 1 {
        anyhow::bail!("threads = {}: must be at least 1", args.threads);
    }
    tch::set_num_threads(args.threads);
    let settings = args.settings()?;
    let report = run_net_claims(&settings)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report));
    }
    Ok(if report.any_failed() {
        exit::CLAIM_FAILED
    } else {
        exit::OK
    })
}

fn render(r: &NetClaimsReport) -> String {
    let g = gamma_text;
    let mut s = format!(
        "{} layer {} ({} x {}), loss {:?}, B = {}, {} samples, top-k {}\n",
        r.settings.run_dir.display(),
        r.layer,
        r.layer_shape.0,
        r.layer_shape.1,
        r.loss,
        r.batch_size,
        r.samples,
        r.top_k
    );
    s.push_str(
        "epoch  acc     gamma  95% CI         g_awd  g_I    g_I+II g_Dg   TermII/I |Dg-T1|^2/|Dg|^2  secs\n",
    );
    for c in &r.checkpoints {
        s.push_str(&format!(
            "{:>5}  {:<6}  {:<5}  {:<13}  {:<5}  {:<5}  {:<5}  {:<5}  {:<8.3} {:<17.3} {:.1}\n",
            c.epoch,
            c.train_accuracy.map_or("n/a".into(), |a| format!("{a:.4}")),
            g(&c.gamma),
            match c.gamma_uncertainty.as_ref().map(|u| &u.bootstrap) {
                Ok(Ok(b)) => format!("[{:.3},{:.3}]", b.gamma_ci.0, b.gamma_ci.1),
                _ => "n/a".into(),
            },
            g(&c.gamma_awd),
            g(&c.pairs.gamma_term1),
            g(&c.pairs.gamma_term12),
            g(&c.pairs.gamma_delta),
            c.pairs.term2_share,
            c.pairs.residual1,
            c.seconds
        ));
    }
    for c in &r.claims {
        s.push_str(&format!(
            "{:<4} {:<10} {}\n",
            c.claim.id(),
            c.outcome.verdict.as_str(),
            c.outcome.figure
        ));
        for d in &c.outcome.details {
            s.push_str(&format!("       {d}\n"));
        }
    }
    s.push_str(&format!("total {:.1} s\n", r.seconds));
    s
}
