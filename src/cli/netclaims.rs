//! `superlinear net-claims` (feature `torch`): claims C3, C6, C7 (and its
//! Remark 3.5, `C7-R3.5`), C8, C13 and C15 on
//! the checkpoints of a `superlinear train` run
//! ([`superlinear::reproduce::netclaims`]).
//! Exit codes: the one rule of `superlinear::exit` (1 when any claim is a
//! counterexample).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use superlinear::claims::net::{gamma_text, NetThresholds};
use superlinear::error::Failure;
use superlinear::layer::structure::NullComparison;
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
    /// Claims to check, comma-separated (C3, C6, C7, C7-R3.5, C8, C13, C15).
    #[arg(
        long,
        default_value = "C3,C6,C7,C7-R3.5,C8,C13,C15",
        value_delimiter = ','
    )]
    pub claims: Vec<String>,
    /// Class-balanced training samples used (at least 4; more than the run's
    /// data holds: all of them, stated in the report). Default rule, the
    /// same in analyze: 2000 samples and top-k 500, a quarter of them.
    #[arg(long, default_value_t = NetClaimsSettings::default().samples)]
    pub samples: usize,
    /// Top-k eigen-directions of H (0 or more than d: all d, stated in the
    /// report; else at least 3). Default: a quarter of the default samples.
    #[arg(long, default_value_t = NetClaimsSettings::default().top_k)]
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
    /// Use every N-th checkpoint (the last is always used; only with C6 or
    /// C15, which look at more than the last; a stride past the last
    /// checkpoint is stated in the report).
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
    /// Haar rotations of the structure null (C3, C7-R3.5; p floor 1/(R+1)).
    #[arg(long, default_value_t = NetClaimsSettings::default().structure_rotations)]
    pub structure_rotations: usize,
    /// Mini-batch draws per batch size of C8's 1/B scaling.
    #[arg(long, default_value_t = NetClaimsSettings::default().batch_draws)]
    pub batch_draws: usize,
    /// Measure the structure figures at every checkpoint, not only the last.
    #[arg(long)]
    pub structure_every_checkpoint: bool,
    /// C3: rho_bar is below its Haar null when z < -this.
    #[arg(long, default_value_t = NetThresholds::default().c3_min_abs_z)]
    pub c3_min_abs_z: f64,
    /// C7-R3.5: level of the commutator and decay Monte Carlo tests.
    #[arg(long, default_value_t = NetThresholds::default().c7_r35_alpha)]
    pub c7_r35_alpha: f64,
    /// C8: largest first-moment share on the top-k that passes.
    #[arg(long, default_value_t = NetThresholds::default().c8_max_first_moment_share)]
    pub c8_max_first_moment_share: f64,
    /// C8: largest |slope + 1| of tr C_B against B (2 SE) before the
    /// estimator check is flagged (the slope never decides the status).
    #[arg(long, default_value_t = NetThresholds::default().c8_slope_tol)]
    pub c8_slope_tol: f64,
    /// C6: largest Term II / Term I share that passes.
    #[arg(long, default_value_t = NetThresholds::default().c6_max_term2_share)]
    pub c6_max_term2_share: f64,
    /// C6: largest scale-free remainder min_a |Dg - a Term I|^2 / |Dg|^2 that passes.
    #[arg(long, default_value_t = NetThresholds::default().c6_max_residual)]
    pub c6_max_residual: f64,
    /// C6: largest |gamma_I - gamma_Dg| that passes.
    #[arg(long, default_value_t = NetThresholds::default().c6_gamma_tol)]
    pub c6_gamma_tol: f64,
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
    /// Also draw gamma over the checkpoints with its bootstrap band (C15)
    /// and Term I's exponent beside the real gradient difference's (C6) as
    /// SVG into DIR.
    #[arg(long, value_name = "DIR")]
    pub plot: Option<PathBuf>,
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
            structure_rotations: self.structure_rotations,
            batch_draws: self.batch_draws,
            structure_every_checkpoint: self.structure_every_checkpoint,
            thresholds: NetThresholds {
                c3_min_abs_z: self.c3_min_abs_z,
                c7_r35_alpha: self.c7_r35_alpha,
                c8_max_first_moment_share: self.c8_max_first_moment_share,
                c8_slope_tol: self.c8_slope_tol,
                c6_max_term2_share: self.c6_max_term2_share,
                c6_max_residual: self.c6_max_residual,
                c6_gamma_tol: self.c6_gamma_tol,
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
    let progress = super::progress::reporter(args.json);
    let report = run_net_claims(&settings, progress.as_ref())?;
    drop(progress);
    if let Some(dir) = &args.plot {
        let value = serde_json::to_value(&report)?;
        let run = settings.run_dir.display().to_string();
        let name = settings
            .run_dir
            .file_name()
            .map_or_else(|| "run".to_string(), |n| n.to_string_lossy().into_owned());
        let figures = superlinear::reproduce::report::sources::net_figures(
            &name,
            &[(name.clone(), &value)],
            &format!("{} samples, top-k {}", settings.samples, settings.top_k),
            &run,
        )?;
        for p in superlinear::reproduce::report::write_figures(&figures, dir)? {
            eprintln!("wrote {}", p.display());
        }
    }
    if args.json {
        super::json::print(super::json::NET_CLAIMS, &report)?;
    } else {
        print!("{}", render(&report));
    }
    Ok(report.exit_code())
}

/// What each column of the per-checkpoint table means, printed under it.
/// Every exponent is the least-squares slope of `ln X_ii` on `ln H_ii` over
/// H's top-k eigen-directions `v_i` (H's eigenbasis); the pair columns use
/// matched same-class pairs (p, p') and the real AWD weight change `dw_p`.
const COLUMNS_LEGEND: &str = "\
columns (every exponent is the slope of ln X_ii on ln H_ii over H's top-k eigen-directions v_i):
  acc      training accuracy of the checkpoint
  gamma    exponent of the SGD noise covariance C (Eq. 2); 95% CI: bootstrap over samples, basis fixed
  g_awd    exponent of the AWD covariance C_awd = sigma^2 E_p[h_p^2] (Eq. 13)
  g_I      exponent of C_I = E_p[T1 T1^T], Term I T1 = h_p dw_p of matched pairs (C6)
  g_I+II   exponent of the covariance of T1 + T2, Term II T2 kept (Eq. 58; Table 3's column)
  g_Dg     exponent of the covariance of the real gradient differences Dg = g_p' - g_p of matched pairs
  TermII/I share of Term II: sum_i E[(T2 . v_i)^2] / sum_i E[(T1 . v_i)^2]
  |Dg-T1|^2/|Dg|^2  Term I's misfit: sum_i E[((Dg - T1) . v_i)^2] / sum_i E[(Dg . v_i)^2] (0: Term I is exact)
  secs     wall time of the checkpoint's analysis
  (the pair columns read n/a when no requested claim needs the matched pairs: only C6, C7 and C13 do)
";

fn render(r: &NetClaimsReport) -> String {
    let g = gamma_text;
    // NaN: the matched pairs were not measured (no claim asked for them).
    let share = |x: f64| {
        if x.is_nan() {
            "n/a".to_string()
        } else {
            format!("{x:.3}")
        }
    };
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
    s.push_str(&superlinear::adjust::render(&r.adjustments));
    s.push_str(
        "epoch  acc     gamma  95% CI         g_awd  g_I    g_I+II g_Dg   TermII/I |Dg-T1|^2/|Dg|^2  secs\n",
    );
    for c in &r.checkpoints {
        s.push_str(&format!(
            "{:>5}  {:<6}  {:<5}  {:<13}  {:<5}  {:<5}  {:<5}  {:<5}  {:<8} {:<17} {:.1}\n",
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
            share(c.pairs.term2_share),
            share(c.pairs.residual1),
            c.seconds
        ));
    }
    s.push_str(COLUMNS_LEGEND);
    for c in &r.claims {
        s.push_str(&format!(
            "{:<4} {:<21} {}\n",
            c.claim.id(),
            c.outcome.status.as_str(),
            c.outcome.figure
        ));
        for d in &c.outcome.details {
            s.push_str(&format!("       {d}\n"));
        }
    }
    s.push_str(&structure_block(r));
    s.push_str(&format!("total {:.1} s\n", r.seconds));
    s
}

/// The structure figures of C in H's top-k eigenbasis, per checkpoint that
/// has them (C3, C7-R3.5, C8, C13's entanglement).
fn structure_block(r: &NetClaimsReport) -> String {
    let num = |x: &Result<NullComparison, Failure>| match x {
        Ok(c) => format!(
            "{:.4} (null {:.4} +- {:.4}, z {:.1}, p {:.4})",
            c.observed, c.null_mean, c.null_std, c.z, c.p_below
        ),
        Err(e) => format!("n/a ({})", e.message),
    };
    let mut s = String::new();
    for c in &r.checkpoints {
        let Some(st) = &c.structure else { continue };
        let k = &st.kspace;
        s.push_str(&format!(
            "structure, epoch {} (k {}, {} rotations, p floor {:.4}):\n",
            c.epoch, st.top_k, st.settings.rotations, k.p_floor
        ));
        s.push_str(&format!("  rho_bar      {}\n", num(&k.rho_bar)));
        s.push_str(&format!("  |[C,H]|      {}\n", num(&k.commutator)));
        s.push_str(&format!("  decay slope  {}\n", num(&k.decay_slope)));
        let bs = match &st.batch_scaling {
            Ok(b) => format!("{:.3} +- {:.3}", b.slope, b.slope_se),
            Err(e) => format!("n/a ({})", e.message),
        };
        s.push_str(&format!(
            "  first-moment share {:.3} top-k, {:.3} full; tr C_B ~ B^{bs}; entanglement mean {:.3}, top 10 {:.3}\n",
            st.first_moment_share,
            st.first_moment_share_full,
            st.entanglement_mean,
            st.entanglement_top10
        ));
    }
    s
}
