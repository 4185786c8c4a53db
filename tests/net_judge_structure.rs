//! The trained-network judgements on the structure figures
//! (`superlinear::claims::{c3::judge_net, c7::judge_net_commutation,
//! c8::judge_net}`) on hand-built figures: each verdict flips at its
//! threshold, the unchecked cases, the default thresholds, and the claims
//! list of `net-claims`.

use std::path::PathBuf;

use superlinear::claims::net::NetThresholds;
use superlinear::claims::{c3, c7, c8, Status};
use superlinear::error::Failure;
use superlinear::layer::batch::{BatchPoint, BatchScaling};
use superlinear::layer::isotropy::Isotropy;
use superlinear::layer::structure::{Decay, KSpaceStructure, NullComparison};
use superlinear::layer::{
    CheckpointFigures, NetFigures, PairFigures, StructureFigures, StructureSettings,
};
use superlinear::loss::Loss;
use superlinear::reproduce::netclaims::{NetClaim, NetClaimsSettings};

fn no_fit() -> superlinear::layer::Fit {
    Err(Failure::new("TooFewPoints", "not fitted"))
}

fn pairs() -> PairFigures {
    PairFigures {
        used: 10,
        zero_activity: 0,
        ratio: None,
        distinct_partners: 5,
        gamma_term1: no_fit(),
        gamma_term12: no_fit(),
        gamma_iso_term2: no_fit(),
        gamma_delta: no_fit(),
        gamma_local_diag: no_fit(),
        gamma_iso: no_fit(),
        term2_share: 0.0,
        residual1: 0.0,
        term1_over_delta: 1.0,
        residual12: 0.0,
        term2_share_full: 0.0,
        residual1_full: 0.0,
        residual12_full: 0.0,
        grad_norm2: 0.0,
        rel_term1_vs_iso_median: 0.0,
        rel_term1_vs_iso_max_abs: 0.0,
        rel_term1_vs_diag_median: 0.0,
        rel_diag_vs_iso_median: 0.0,
        batch_cross_ratio_median: 0.0,
        entanglement_mean: 0.4,
        entanglement_top10: 0.6,
        isotropy: Isotropy {
            sigma2: 0.01,
            mode_variance: vec![],
            mode_anisotropy: 1.0,
            principal_vs_tail: 1.0,
            mode_cross_corr: 0.0,
            sample_cv: 0.0,
            sigma_lambda1_corr: None,
            captured_share: 0.0,
            captured_share_isotropic: 0.0,
            dw_mean_share: 0.0,
            dw_mean_abs_cos: 0.0,
            dw_mean_abs_cos_random: 0.0,
        },
        bootstrap: Err(superlinear::error::Failure::new(
            "NotMeasured",
            "not in this test",
        )),
        gamma_term1_curve: Vec::new(),
        gamma_delta_curve: Vec::new(),
    }
}

/// A null comparison with null mean 1, SD 0.1, at `z`, MC p `p`.
fn cmp(z: f64, p: f64) -> Result<NullComparison, Failure> {
    Ok(NullComparison {
        observed: 1.0 + 0.1 * z,
        null_mean: 1.0,
        null_std: 0.1,
        z,
        p_below: p,
        rotations: 199,
    })
}

struct Build {
    rho_z: f64,
    comm_p: f64,
    decay_p: f64,
    all_zero: bool,
    rotations: usize,
    share: f64,
    slope: f64,
    slope_se: f64,
}

impl Default for Build {
    fn default() -> Self {
        Build {
            rho_z: -10.0,
            comm_p: 0.005,
            decay_p: 0.005,
            all_zero: false,
            rotations: 199,
            share: 0.01,
            slope: -1.0,
            slope_se: 0.01,
        }
    }
}

fn structure(b: &Build) -> StructureFigures {
    StructureFigures {
        top_k: 50,
        settings: StructureSettings {
            rotations: b.rotations,
            ..StructureSettings::default()
        },
        kspace: KSpaceStructure {
            rho_bar: cmp(b.rho_z, 0.005),
            rho_bar_paper: Err(Failure::new("ZeroMatrix", "not built")),
            commutator: cmp(-5.0, b.comm_p),
            decay: Decay {
                bands: vec![],
                slope: (!b.all_zero).then_some(-0.5),
                all_zero: b.all_zero,
            },
            decay_slope: if b.all_zero {
                Err(Failure::new("Undefined", "no slope"))
            } else {
                cmp(-5.0, b.decay_p)
            },
            p_floor: 1.0 / (b.rotations + 1) as f64,
        },
        first_moment_share: b.share,
        first_moment_share_full: b.share,
        batch_scaling: Ok(BatchScaling {
            points: vec![BatchPoint {
                batch_size: 50,
                trace: 1.0,
                trace_se: 0.01,
                trace_eq2: 1.0,
            }],
            draws: 4000,
            slope: b.slope,
            slope_se: b.slope_se,
        }),
        entanglement_mean: 0.4,
        entanglement_top10: 0.6,
    }
}

fn checkpoint(s: Option<StructureFigures>) -> Vec<CheckpointFigures> {
    vec![CheckpointFigures {
        epoch: 9,
        path: PathBuf::from("final.safetensors"),
        train_loss: None,
        train_accuracy: None,
        mean_loss: 0.1,
        gamma: no_fit(),
        gamma_awd: no_fit(),
        pairs: pairs(),
        gamma_uncertainty: Err(superlinear::error::Failure::new(
            "DegenerateFit",
            "not measured",
        )),
        structure: s,
        gamma_second_k: None,
        seconds: 1.0,
    }]
}

fn verdicts(b: &Build) -> [Status; 3] {
    let cps = checkpoint(Some(structure(b)));
    let f = NetFigures {
        loss: Loss::CrossEntropy,
        checkpoints: &cps,
        suppression: None,
    };
    let t = NetThresholds::default();
    [
        c3::judge_net(&f, &t).status,
        c7::judge_net_commutation(&f, &t).status,
        c8::judge_net(&f, &t).status,
    ]
}

#[test]
fn default_thresholds_and_claims() {
    let t = NetThresholds::default();
    assert_eq!(
        (
            t.c3_min_abs_z,
            t.c7_r35_alpha,
            t.c8_max_first_moment_share,
            t.c8_slope_tol
        ),
        (3.0, 0.01, 0.1, 0.1)
    );
    let all: Vec<&str> = NetClaim::ALL.iter().map(|c| c.id()).collect();
    assert_eq!(all, ["C3", "C6", "C7", "C7-R3.5", "C8", "C13", "C15"]);
    for id in all {
        assert_eq!(NetClaim::parse(id).unwrap().id(), id);
    }
    assert_eq!(NetClaim::parse("r3.5").unwrap(), NetClaim::C7Remark35);
    assert_eq!(NetClaimsSettings::default().claims, NetClaim::ALL.to_vec());
    let bad = NetClaimsSettings {
        structure_rotations: 1,
        ..NetClaimsSettings::default()
    };
    assert!(bad
        .validate()
        .unwrap_err()
        .to_string()
        .contains("structure-rotations"));
    let bad = NetClaimsSettings {
        thresholds: NetThresholds {
            c7_r35_alpha: 1.5,
            ..NetThresholds::default()
        },
        ..NetClaimsSettings::default()
    };
    assert!(bad
        .validate()
        .unwrap_err()
        .to_string()
        .contains("c7-r35-alpha"));
}

#[test]
fn all_pass_on_structured_figures() {
    assert_eq!(verdicts(&Build::default()), [Status::Verified; 3]);
}

#[test]
fn c3_flips_at_z_minus_3() {
    let v = |z| {
        verdicts(&Build {
            rho_z: z,
            ..Build::default()
        })[0]
    };
    assert_eq!(v(-3.01), Status::Verified);
    assert_eq!(v(-2.99), Status::Counterexample);
    assert_eq!(v(f64::NAN), Status::Unchecked);
}

#[test]
fn remark35_flips_at_its_level() {
    let v = |comm_p, decay_p| {
        verdicts(&Build {
            comm_p,
            decay_p,
            ..Build::default()
        })[1]
    };
    assert_eq!(v(0.01, 0.01), Status::Verified);
    assert_eq!(v(0.011, 0.005), Status::Counterexample);
    assert_eq!(v(0.005, 0.011), Status::Counterexample);
    // Off-diagonals exactly 0 count as decayed.
    let zero = Build {
        all_zero: true,
        ..Build::default()
    };
    assert_eq!(verdicts(&zero)[1], Status::Verified);
    // Too few rotations to resolve the 1st percentile.
    let few = Build {
        rotations: 98,
        ..Build::default()
    };
    assert_eq!(verdicts(&few)[1], Status::Unchecked);
    let just = Build {
        rotations: 99,
        ..Build::default()
    };
    assert_eq!(verdicts(&just)[1], Status::Verified);
}

#[test]
fn c8_flips_on_the_share_only() {
    let v = |share, slope, slope_se| {
        verdicts(&Build {
            share,
            slope,
            slope_se,
            ..Build::default()
        })[2]
    };
    assert_eq!(v(0.1, -1.0, 0.01), Status::Verified);
    assert_eq!(v(0.11, -1.0, 0.01), Status::Counterexample);
    // The 1/B slope is an identity of the estimator: it never decides.
    assert_eq!(v(0.01, -0.5, 0.01), Status::Verified);
    assert_eq!(v(f64::NAN, -1.0, 0.01), Status::Unchecked);
}

#[test]
fn missing_structure_is_unchecked() {
    let cps = checkpoint(None);
    let f = NetFigures {
        loss: Loss::SoftmaxMse,
        checkpoints: &cps,
        suppression: None,
    };
    let t = NetThresholds::default();
    for o in [
        c3::judge_net(&f, &t),
        c7::judge_net_commutation(&f, &t),
        c8::judge_net(&f, &t),
    ] {
        assert_eq!(o.status, Status::Unchecked);
        assert!(o.figure.contains("structure figures were not measured"));
    }
    let empty = NetFigures {
        loss: Loss::SoftmaxMse,
        checkpoints: &[],
        suppression: None,
    };
    assert_eq!(c3::judge_net(&empty, &t).status, Status::Unchecked);
}
