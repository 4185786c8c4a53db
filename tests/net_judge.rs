//! The trained-network verdicts (`superlinear::claims::{c6, c7, c13,
//! c15}::judge_net`) on hand-built figures: each verdict flips where its
//! threshold says, the unchecked cases, the key-figure text, and the default
//! thresholds.

use std::path::PathBuf;

use superlinear::bounds::{check_bounds, BoundTolerance};
use superlinear::claims::evidence::exit_code;
use superlinear::claims::net::{gamma_text, NetThresholds};
use superlinear::claims::{c13, c15, c6, c7, c9, Status};
use superlinear::exit;
use superlinear::fit::GammaFit;
use superlinear::layer::isotropy::Isotropy;
use superlinear::layer::suppress::KronSuppression;
use superlinear::layer::{
    BootstrapGamma, CheckpointFigures, Fit, FormTest, GammaUncertainty, NetFigures, PairFigures,
    SuppressionFigures,
};
use superlinear::loss::Loss;
use superlinear::suppression::SuppressionConfig;

fn fit(gamma: f64, std_err: f64, r_squared: f64) -> Fit {
    Ok(GammaFit {
        gamma,
        intercept: 0.0,
        std_err,
        r_squared,
        points_used: 20,
        points_dropped: 0,
        ci: None,
        log_range_h: 3.0,
    })
}

fn no_fit() -> Fit {
    Err(superlinear::error::Failure::new(
        "TooFewPoints",
        "h_diag, c_diag: cannot fit: fewer than 3 points",
    ))
}

fn isotropy() -> Isotropy {
    Isotropy {
        sigma2: 0.01,
        mode_variance: vec![0.02, 0.01],
        mode_anisotropy: 2.0,
        principal_vs_tail: 2.0,
        mode_cross_corr: 0.1,
        sample_cv: 0.5,
        sigma_lambda1_corr: Some(0.2),
        captured_share: 0.3,
        captured_share_isotropic: 0.01,
        dw_mean_share: 0.05,
        dw_mean_abs_cos: 0.1,
        dw_mean_abs_cos_random: 0.03,
    }
}

fn pairs(term2_share: f64, residual1: f64, gamma_term1: Fit, gamma_iso: Fit) -> PairFigures {
    PairFigures {
        used: 100,
        zero_activity: 0,
        ratio: None,
        distinct_partners: 60,
        gamma_term1: gamma_term1.clone(),
        gamma_term12: fit(1.25, 0.01, 0.99),
        gamma_iso_term2: fit(1.2, 0.01, 0.99),
        gamma_delta: gamma_term1.clone(),
        gamma_local_diag: fit(1.22, 0.01, 0.99),
        gamma_iso,
        term2_share,
        residual1,
        term1_over_delta: 1.0,
        residual12: 0.1,
        term2_share_full: term2_share,
        residual1_full: residual1,
        residual12_full: 0.1,
        grad_norm2: 1e-3,
        rel_term1_vs_iso_median: 0.05,
        rel_term1_vs_iso_max_abs: 0.5,
        rel_term1_vs_diag_median: 0.01,
        rel_diag_vs_iso_median: 0.02,
        batch_cross_ratio_median: 0.3,
        entanglement_mean: 0.4,
        entanglement_top10: 0.6,
        isotropy: isotropy(),
        bootstrap: Err(superlinear::error::Failure::new(
            "NotMeasured",
            "not in this test",
        )),
        gamma_term1_curve: Vec::new(),
        gamma_delta_curve: Vec::new(),
    }
}

fn checkpoint(epoch: usize, gamma: Fit, pairs: PairFigures) -> CheckpointFigures {
    CheckpointFigures {
        epoch,
        path: PathBuf::from(format!("epoch-{epoch:04}.safetensors")),
        train_loss: Some(0.1),
        train_accuracy: Some(0.95),
        mean_loss: 0.1,
        gamma,
        gamma_awd: fit(1.2, 0.01, 0.99),
        gamma_uncertainty: Ok(uncertainty((1.0, 1.1), 0.99, 0.2, (-0.01, 0.02))),
        pairs,
        structure: None,
        gamma_second_k: None,
        seconds: 1.0,
    }
}

/// gamma's uncertainty with bootstrap interval `ci`, observed `R^2`, the
/// null's 99th percentile and the curvature's interval.
fn uncertainty(
    ci: (f64, f64),
    r_squared: f64,
    null_q99: f64,
    curvature_ci: (f64, f64),
) -> GammaUncertainty {
    GammaUncertainty {
        primary_k: 100,
        rule: "primary top-k = 100".into(),
        samples: 1000,
        curve: Vec::new(),
        bootstrap: Ok(BootstrapGamma {
            replicates: 200,
            level: 0.95,
            scheme: "fixed basis".into(),
            gamma_ci: ci,
            gamma_std: (ci.1 - ci.0) / 4.0,
            gamma_awd_ci: None,
            gamma_awd_std: None,
            curvature_ci,
        }),
        form: Ok(FormTest {
            curvature: (curvature_ci.0 + curvature_ci.1) / 2.0,
            log_range_h: 5.0,
            r_squared,
            rotations: 99,
            null_median: null_q99 / 2.0,
            null_q99,
            p_value: 0.01,
            p_floor: 0.01,
        }),
        warnings: Vec::new(),
    }
}

fn run<'a>(
    loss: Loss,
    cps: &'a [CheckpointFigures],
    sup: Option<&'a SuppressionFigures>,
) -> NetFigures<'a> {
    NetFigures {
        loss,
        checkpoints: cps,
        suppression: sup,
    }
}

fn kron(config: SuppressionConfig, gamma_awd: Fit, h_shape_median: f64) -> KronSuppression {
    KronSuppression {
        config,
        tau: 0.5,
        stiff: 10,
        stiff_mean: 2.0,
        gamma_awd,
        h_diag: vec![3.0, 2.0, 1.0],
        second_diag: vec![9.0, 4.0, 1.0],
        h_shape_change: 2.0 * h_shape_median,
        h_shape_change_median: h_shape_median,
        h_shape_change_top10: h_shape_median,
        second_shape_change: 0.2,
        second_shape_change_median: 0.1,
    }
}

fn suppression(before: f64, after: f64, tails_shape: f64) -> SuppressionFigures {
    SuppressionFigures {
        before: fit(before, 0.01, 0.99),
        homogenized: kron(SuppressionConfig::default(), fit(after, 0.01, 0.99), 0.3),
        tails_only: kron(
            SuppressionConfig::tails_only(1e-3),
            fit(before, 0.01, 0.99),
            tails_shape,
        ),
        mean_replaced: kron(
            SuppressionConfig {
                q: 0.0,
                homogenize: true,
                ..SuppressionConfig::tails_only(1e-3)
            },
            fit(before - 0.1, 0.01, 0.99),
            0.2,
        ),
        homogenized_bootstrap: Err(superlinear::error::Failure::new(
            "not run",
            "figures built by hand",
        )),
    }
}

fn t() -> NetThresholds {
    NetThresholds::default()
}

#[test]
fn default_thresholds() {
    let t = t();
    assert_eq!(
        (
            t.c6_max_term2_share,
            t.c6_max_residual,
            t.c7_gamma_tol,
            t.c13_gamma_tol,
            t.c13_shape_tol,
            t.c15_max_slope_drift
        ),
        (0.1, 0.25, 0.05, 0.05, 0.1, 0.5)
    );
    assert_eq!(gamma_text(&fit(1.23456, 0.0, 1.0)), "1.235");
    assert_eq!(gamma_text(&no_fit()), "n/a");
}

#[test]
fn c6_flips_on_term2_share_and_residual() {
    let ok = |share: f64, resid: f64| {
        let cps = [
            checkpoint(
                1,
                fit(1.0, 0.01, 0.99),
                pairs(0.3, 0.5, fit(1.0, 0.01, 0.9), fit(1.0, 0.01, 0.9)),
            ),
            checkpoint(
                5,
                fit(1.3, 0.01, 0.99),
                pairs(share, resid, fit(1.3, 0.01, 0.9), fit(1.3, 0.01, 0.9)),
            ),
        ];
        c6::judge_net(&run(Loss::CrossEntropy, &cps, None), &t())
    };
    let pass = ok(0.05, 0.2);
    assert_eq!(pass.status, Status::Verified);
    assert_eq!(
        pass.figure,
        "epoch 5: Term II/I 0.050 (<= 0.1 ok), min_a |Dg - a T1|^2/|Dg|^2 0.190 at a = 0.900 (<= 0.25 ok; a = 1: 0.200), gamma_I 1.300 vs gamma_Dg 1.300 (tol 0.05 ok)"
    );
    assert_eq!(pass.details.len(), 4);
    assert_eq!(pass.details[3], "Term II/I decreases from epoch 1 to 5");
    assert_eq!(ok(0.15, 0.2).status, Status::Counterexample);
    assert_eq!(ok(0.05, 0.3).status, Status::Counterexample);
    assert!(ok(0.05, 0.3).figure.contains("(<= 0.25 no;"));
    // At the threshold it still passes.
    assert_eq!(ok(0.1, 0.25).status, Status::Verified);
    let none = c6::judge_net(&run(Loss::CrossEntropy, &[], None), &t());
    assert_eq!(none.status, Status::Unchecked);
    assert_eq!(none.figure, "no checkpoint analysed");
}

#[test]
fn c6_is_scale_free_and_compares_the_exponents() {
    let judge = |rho: f64, tau: f64, g_dg: f64| {
        let mut p = pairs(0.05, rho, fit(1.3, 0.01, 0.9), fit(1.3, 0.01, 0.9));
        p.term1_over_delta = tau;
        p.gamma_delta = fit(g_dg, 0.01, 0.9);
        let cps = [
            checkpoint(1, fit(1.0, 0.01, 0.99), p.clone()),
            checkpoint(5, fit(1.3, 0.01, 0.99), p),
        ];
        c6::judge_net(&run(Loss::CrossEntropy, &cps, None), &t())
    };
    // Term I = 2 Dg exactly: rho = 1, tau = 4; the free factor a = 1/2
    // leaves no remainder.
    let exact = judge(1.0, 4.0, 1.3);
    assert_eq!(exact.status, Status::Verified, "{}", exact.figure);
    assert!((exact.figures["free_factor"] - 0.5).abs() < 1e-12);
    assert!(exact.figures["residual_free"].abs() < 1e-12);
    // Orthogonal: rho = 1 + tau, nothing explained by any factor.
    let orth = judge(2.0, 1.0, 1.3);
    assert_eq!(orth.status, Status::Counterexample);
    assert!((orth.figures["residual_free"] - 1.0).abs() < 1e-12);
    // The exponents must agree within c6_gamma_tol.
    assert_eq!(judge(1.0, 4.0, 1.349).status, Status::Verified);
    assert_eq!(judge(1.0, 4.0, 1.351).status, Status::Counterexample);
}

#[test]
fn c7_flips_on_the_gamma_difference() {
    let judge = |gi: f64, gs: f64| {
        let cps = [checkpoint(
            3,
            fit(1.2, 0.01, 0.99),
            pairs(0.05, 0.2, fit(gi, 0.01, 0.9), fit(gs, 0.01, 0.9)),
        )];
        c7::judge_net(&run(Loss::CrossEntropy, &cps, None), &t())
    };
    let pass = judge(1.30, 1.27);
    assert_eq!(pass.status, Status::Verified);
    assert_eq!(
        pass.figure,
        "epoch 3: gamma_I (real dw) 1.300 vs gamma_iso 1.270 (diff +0.030, tol 0.05); C_I/C_iso - 1 median +0.050"
    );
    assert_eq!(pass.details.len(), 6);
    assert_eq!(judge(1.30, 1.20).status, Status::Counterexample);
    assert_eq!(judge(1.20, 1.30).status, Status::Counterexample);
    let cps = [checkpoint(
        3,
        fit(1.2, 0.01, 0.99),
        pairs(0.05, 0.2, no_fit(), fit(1.2, 0.01, 0.9)),
    )];
    let u = c7::judge_net(&run(Loss::CrossEntropy, &cps, None), &t());
    assert_eq!(u.status, Status::Unchecked);
    assert_eq!(u.figure, "gamma_I or gamma_iso could not be fitted");
}

#[test]
fn c13_flips_on_gamma_change_shape_and_loss() {
    let cps = [checkpoint(
        9,
        fit(1.2, 0.01, 0.99),
        pairs(0.05, 0.2, fit(1.2, 0.01, 0.9), fit(1.2, 0.01, 0.9)),
    )];
    let judge = |loss, before: f64, after: f64, shape: f64| {
        let s = suppression(before, after, shape);
        c13::judge_net(&run(loss, &cps, Some(&s)), &t())
    };
    // Cross-entropy: gamma_awd must fall by more than the tolerance.
    let pass = judge(Loss::CrossEntropy, 1.3, 1.1, 0.05);
    assert_eq!(pass.status, Status::Verified);
    assert_eq!(
        pass.figure,
        "epoch 9: gamma_awd 1.300 -> 1.100 homogenised (-0.200, tol 0.05), tails-only H shape change median 0.050 (<= 0.1)"
    );
    assert_eq!(pass.details.len(), 5);
    assert!(
        pass.details[1].starts_with("tails only (factor 0.001): "),
        "{}",
        pass.details[1]
    );
    assert_eq!(
        pass.details[4],
        "bootstrap of the shift: not computed (figures built by hand)"
    );
    assert_eq!(
        judge(Loss::CrossEntropy, 1.3, 1.27, 0.05).status,
        Status::Counterexample
    );
    // The spectra must barely move under tails-only suppression.
    assert_eq!(
        judge(Loss::CrossEntropy, 1.3, 1.1, 0.2).status,
        Status::Counterexample
    );
    // Softmax-MSE: gamma_awd must stay.
    assert_eq!(
        judge(Loss::SoftmaxMse, 1.1, 1.12, 0.05).status,
        Status::Verified
    );
    assert_eq!(
        judge(Loss::SoftmaxMse, 1.3, 1.1, 0.05).status,
        Status::Counterexample
    );
    let u = c13::judge_net(&run(Loss::CrossEntropy, &cps, None), &t());
    assert_eq!(
        (u.status, u.figure.as_str()),
        (Status::Unchecked, "suppression not run")
    );
    let mut s = suppression(1.3, 1.1, 0.05);
    s.before = no_fit();
    let u = c13::judge_net(&run(Loss::CrossEntropy, &cps, Some(&s)), &t());
    assert_eq!(u.status, Status::Unchecked);
}

#[test]
fn c15_flips_on_the_bootstrap_intervals_and_the_form_test() {
    let p = || pairs(0.05, 0.2, fit(1.2, 0.01, 0.9), fit(1.2, 0.01, 0.9));
    let judge = |u0: GammaUncertainty, u1: GammaUncertainty| {
        let mut c0 = checkpoint(1, fit(1.0, 0.002, 0.99), p());
        c0.gamma_uncertainty = Ok(u0);
        let mut c2 = checkpoint(8, fit(1.3, 0.002, 0.995), p());
        c2.gamma_uncertainty = Ok(u1);
        let cps = [c0, checkpoint(4, fit(1.1, 0.01, 0.99), p()), c2];
        c15::judge_net(&run(Loss::CrossEntropy, &cps, None), &t())
    };
    let flat = (-0.01, 0.02);
    let pass = judge(
        uncertainty((0.95, 1.05), 0.99, 0.2, flat),
        uncertainty((1.25, 1.35), 0.99, 0.2, flat),
    );
    assert_eq!(pass.status, Status::Verified, "{}", pass.figure);
    assert!(
        pass.figure.starts_with(
            "gamma 1.000 [0.950, 1.050] (epoch 1) -> 1.300 [1.250, 1.350] (epoch 8), 95% bootstrap CIs over samples, basis fixed; grows yes, visible at first checkpoint yes"
        ),
        "{}",
        pass.figure
    );
    assert_eq!(pass.details.len(), 3);
    assert_eq!(
        pass.details[0],
        "epoch    1: train acc 0.9500, loss 0.1000, gamma 1.000 [0.950, 1.050] (R^2 0.990), gamma_awd 1.200"
    );
    // Overlapping intervals: no growth, however small the OLS SEs are.
    let overlap = judge(
        uncertainty((0.9, 1.2), 0.99, 0.2, flat),
        uncertainty((1.19, 1.4), 0.99, 0.2, flat),
    );
    assert_eq!(overlap.status, Status::Counterexample);
    assert!(overlap.figure.contains("grows no"));
    // Just disjoint: growth.
    assert_eq!(
        judge(
            uncertainty((0.9, 1.2), 0.99, 0.2, flat),
            uncertainty((1.201, 1.4), 0.99, 0.2, flat),
        )
        .status,
        Status::Verified
    );
    // R^2 not above the rotated null's 99th percentile: not visible.
    let null = judge(
        uncertainty((0.95, 1.05), 0.3, 0.35, flat),
        uncertainty((1.25, 1.35), 0.99, 0.2, flat),
    );
    assert_eq!(null.status, Status::Counterexample);
    assert!(null.figure.contains("visible at first checkpoint no"));
    // Curvature interval beyond drift / (2 ln range) = 0.5 / 10 = 0.05.
    let curved = judge(
        uncertainty((0.95, 1.05), 0.99, 0.2, (0.06, 0.1)),
        uncertainty((1.25, 1.35), 0.99, 0.2, flat),
    );
    assert_eq!(curved.status, Status::Counterexample);
    assert_eq!(
        judge(
            uncertainty((0.95, 1.05), 0.99, 0.2, (0.04, 0.1)),
            uncertainty((1.25, 1.35), 0.99, 0.2, flat),
        )
        .status,
        Status::Verified
    );
}

#[test]
fn c15_insufficient_evidence() {
    let p = || pairs(0.05, 0.2, fit(1.2, 0.01, 0.9), fit(1.2, 0.01, 0.9));
    let is_insufficient =
        |o: &superlinear::claims::ClaimOutcome| o.status == Status::InsufficientEvidence;
    let one = [checkpoint(1, fit(1.0, 0.02, 0.99), p())];
    let o = c15::judge_net(&run(Loss::CrossEntropy, &one, None), &t());
    assert!(is_insufficient(&o), "{}", o.figure);
    assert!(o.figure.contains("one checkpoint"));
    let none: [CheckpointFigures; 0] = [];
    assert!(is_insufficient(&c15::judge_net(
        &run(Loss::CrossEntropy, &none, None),
        &t()
    )));
    let two = [
        checkpoint(1, no_fit(), p()),
        checkpoint(8, fit(1.3, 0.02, 0.99), p()),
    ];
    assert!(is_insufficient(&c15::judge_net(
        &run(Loss::CrossEntropy, &two, None),
        &t()
    )));
    let mut c0 = checkpoint(1, fit(1.0, 0.02, 0.99), p());
    c0.gamma_uncertainty = Err(superlinear::error::Failure::new("DegenerateFit", "too few"));
    let two = [c0, checkpoint(8, fit(1.3, 0.02, 0.99), p())];
    let o = c15::judge_net(&run(Loss::CrossEntropy, &two, None), &t());
    assert!(is_insufficient(&o), "{}", o.figure);
}

#[test]
fn c9_layer_bounds_status_and_exit_code() {
    let tol = BoundTolerance::default_for(4, 10);
    // H_ii^2 <= S_ii <= Lambda H_ii holds: 1 <= 2 <= 3.
    let holds = check_bounds(&[1.0], &[2.0], 3.0, &tol).unwrap();
    // The right inequality fails: S = 5 > Lambda H = 3.
    let fails = check_bounds(&[1.0], &[5.0], 3.0, &tol).unwrap();
    assert!(holds.holds() && !fails.holds());
    let spectra = |negative_mass: f64| superlinear::kron::SpectraSummary {
        mean_top_share: 0.9,
        median_top_share: 0.9,
        negative_mass,
        min_eigenvalue: if negative_mass > 0.0 { -0.5 } else { 0.0 },
        max_eigenvalue: 3.0,
        mean_rank: 2.0,
    };
    let psd = c9::layer_premise(&spectra(0.0), 10, 1.0, Loss::CrossEntropy);
    // A negative eigenvalue mass of 0.297 (an MSE net at low accuracy).
    let indefinite = c9::layer_premise(&spectra(0.297), 10, 0.4, Loss::SoftmaxMse);
    assert!(psd.applicable && !indefinite.applicable);
    let code = |b, p| exit_code([c9::judge_layer_bounds(b, p)]);
    assert_eq!(c9::judge_layer_bounds(&holds, &psd), Status::Verified);
    assert_eq!(code(&holds, &psd), exit::OK);
    assert_eq!(c9::judge_layer_bounds(&fails, &psd), Status::Counterexample);
    assert_eq!(code(&fails, &psd), exit::CLAIM_FAILED);
    // Non-PSD per-sample Hessians: the theorem does not apply, whatever the
    // bounds show, and the line names the figure and the accuracy premise.
    assert_eq!(
        c9::judge_layer_bounds(&fails, &indefinite),
        Status::NotReproduced
    );
    assert_eq!(code(&fails, &indefinite), exit::OK);
    let line = indefinite.line();
    assert!(
        line.starts_with("Theorem 5.1: not applicable (premise: PSD per-sample Hessians; negative eigenvalue mass 0.297"),
        "{line}"
    );
    assert!(line.contains("training accuracy 0.4000 of the analysed samples is below the convergence premise 0.95"), "{line}");
    // Rounding-level negative mass still counts as PSD.
    let rounding = c9::layer_premise(&spectra(1e-15), 10, 1.0, Loss::CrossEntropy);
    assert!(rounding.applicable, "{}", rounding.line());
}

#[test]
fn the_layer_premise_thresholds_are_the_grids() {
    let cfg = superlinear::reproduce::netgrid::NetGridConfig::load(std::path::Path::new(
        superlinear::reproduce::netgrid::NETGRID_TOML,
    ))
    .unwrap();
    assert_eq!(cfg.premise, superlinear::claims::premise::Premise::GRID);
}
