//! Judgements on a measured grid of trained networks (default build, no
//! torch): C14's four qualitative statements on hand-built row means, C9's
//! `1 <= gamma <= 2` on hand-built fits, each flipped by one figure, and the
//! words the results document prints for each verdict.

use superlinear::claims::c14::{
    awd_close_to_gamma, ce_above_mse, ce_above_one, judge_grid, mse_close_to_one, GridRow,
};
use superlinear::claims::c9::{judge_grid_fits, NetFit};
use superlinear::claims::evidence::exit_code;
use superlinear::claims::grid::GridJudgement;
use superlinear::claims::Status;
use superlinear::loss::Loss;
use superlinear::reproduce::render::judgements_markdown;

fn row(setting: &str, loss: Loss, gamma: Option<f64>, gamma_awd: Option<f64>) -> GridRow {
    let name = loss.published_name();
    GridRow {
        label: format!("{setting} {name}"),
        setting: setting.to_string(),
        loss,
        gamma,
        gamma_awd,
    }
}

fn ce(setting: &str, gamma: f64, gamma_awd: f64) -> GridRow {
    row(setting, Loss::CrossEntropy, Some(gamma), Some(gamma_awd))
}

fn mse(setting: &str, gamma: f64, gamma_awd: f64) -> GridRow {
    row(setting, Loss::SoftmaxMse, Some(gamma), Some(gamma_awd))
}

/// A grid on which every statement holds: two settings, both losses.
fn paper_like() -> Vec<GridRow> {
    vec![
        ce("MNIST MLP K=3", 1.22, 1.24),
        mse("MNIST MLP K=3", 1.07, 1.14),
        ce("CIFAR-10 CNN K=10", 1.08, 1.08),
        mse("CIFAR-10 CNN K=10", 1.01, 1.02),
    ]
}

fn verdicts(js: &[GridJudgement]) -> Vec<Status> {
    js.iter().map(|j| j.status).collect()
}

#[test]
fn c14_all_four_hold_on_the_published_pattern() {
    let js = judge_grid(&paper_like());
    assert_eq!(verdicts(&js), vec![Status::Verified; 4]);
    assert_eq!(
        js.iter().map(|j| j.checked).collect::<Vec<_>>(),
        vec![2, 2, 2, 4]
    );
    assert!(js.iter().all(|j| j.claim == "C14" && j.failures.is_empty()));
    assert_eq!(exit_code(js.iter().map(|j| j.status)), 0);
}

#[test]
fn c14_nothing_measured_is_unchecked() {
    let empty = judge_grid(&[]);
    assert_eq!(verdicts(&empty), vec![Status::Unchecked; 4]);
    // Rows without a fit are not counted.
    let unfitted = judge_grid(&[
        row("MNIST MLP K=3", Loss::CrossEntropy, None, None),
        row("MNIST MLP K=3", Loss::SoftmaxMse, None, Some(1.1)),
    ]);
    assert_eq!(verdicts(&unfitted), vec![Status::Unchecked; 4]);
    assert_eq!(exit_code(unfitted.iter().map(|j| j.status)), 0);
}

#[test]
fn c14_ce_above_one_flips_at_one() {
    let mut rows = paper_like();
    rows[2].gamma = Some(1.0 + 1e-9);
    assert_eq!(ce_above_one(&rows).status, Status::Verified);
    rows[2].gamma = Some(1.0);
    let j = ce_above_one(&rows);
    assert_eq!(j.status, Status::Counterexample);
    assert_eq!((j.checked, j.held()), (2, 1));
    assert_eq!(j.failures, vec!["CIFAR-10 CNN K=10 CE gamma 1.000"]);
    // MSE rows do not enter this statement.
    let mut rows = paper_like();
    rows[1].gamma = Some(0.5);
    assert_eq!(ce_above_one(&rows).status, Status::Verified);
}

#[test]
fn c14_mse_close_to_one_flips_past_the_tolerance() {
    for (g, want) in [
        (1.09, Status::Verified),
        (0.91, Status::Verified),
        (1.11, Status::Counterexample),
        (0.89, Status::Counterexample),
    ] {
        let mut rows = paper_like();
        rows[1].gamma = Some(g);
        let j = mse_close_to_one(&rows);
        assert_eq!(j.status, want, "MSE gamma {g}");
        assert_eq!(j.checked, 2);
    }
    let mut rows = paper_like();
    rows[1].gamma = Some(1.386);
    assert_eq!(
        mse_close_to_one(&rows).failures,
        vec!["MNIST MLP K=3 MSE gamma 1.386"]
    );
}

#[test]
fn c14_ce_above_mse_pairs_by_setting() {
    let mut rows = paper_like();
    rows[1].gamma = Some(1.22);
    let j = ce_above_mse(&rows);
    assert_eq!(j.status, Status::Counterexample, "CE = MSE is not CE > MSE");
    assert_eq!(j.failures, vec!["MNIST MLP K=3: CE 1.220 <= MSE 1.220"]);
    assert_eq!(j.unit, "(data, model, K) pairs");
    // A CE row without its MSE twin (or with an unfitted twin) is not a pair.
    let lonely = vec![
        ce("MNIST MLP K=3", 1.2, 1.2),
        mse("MNIST CNN K=3", 1.5, 1.5),
    ];
    assert_eq!(ce_above_mse(&lonely).status, Status::Unchecked);
    let mut rows = paper_like();
    rows[3].gamma = None;
    let j = ce_above_mse(&rows);
    assert_eq!((j.status, j.checked), (Status::Verified, 1));
}

#[test]
fn c14_awd_close_to_gamma_flips_past_the_tolerance() {
    let mut rows = paper_like();
    rows[0].gamma_awd = Some(1.22 + 0.099);
    assert_eq!(awd_close_to_gamma(&rows).status, Status::Verified);
    rows[0].gamma_awd = Some(1.22 - 0.101);
    let j = awd_close_to_gamma(&rows);
    assert_eq!(j.status, Status::Counterexample);
    assert_eq!(
        j.failures,
        vec!["MNIST MLP K=3 CE gamma 1.220 vs gamma_awd 1.119"]
    );
    // A row with only one of the two exponents is not checked.
    rows[0].gamma_awd = None;
    let j = awd_close_to_gamma(&rows);
    assert_eq!((j.status, j.checked), (Status::Verified, 3));
}

fn fit(run: &str, exponent: &'static str, value: f64) -> NetFit {
    NetFit {
        run: run.to_string(),
        exponent,
        value,
    }
}

#[test]
fn c9_grid_fits_flip_outside_one_two() {
    assert_eq!(judge_grid_fits(&[]).status, Status::Unchecked);
    let inside = [
        fit("MNIST MLP K=3 CE seed 0", "gamma", 1.0),
        fit("MNIST MLP K=3 CE seed 0", "gamma_awd", 2.0),
        fit("MNIST MLP K=3 CE seed 1", "gamma", 1.5),
    ];
    let j = judge_grid_fits(&inside);
    assert_eq!((j.claim, j.status, j.checked), ("C9", Status::Verified, 3));
    for bad in [0.999, 2.001, f64::NAN] {
        let mut fits = inside.to_vec();
        fits[1].value = bad;
        let j = judge_grid_fits(&fits);
        assert_eq!(j.status, Status::Counterexample, "gamma_awd {bad}");
        assert_eq!((j.checked, j.held()), (3, 2));
        assert_eq!(
            j.failures,
            vec![format!("MNIST MLP K=3 CE seed 0 gamma_awd {bad:.3}")]
        );
        assert_eq!(exit_code([j.status]), 1);
    }
}

#[test]
fn judgements_render_with_the_results_document_words() {
    let mut rows = paper_like();
    rows[2].gamma = Some(0.983);
    let mut js = judge_grid(&rows);
    js.push(judge_grid_fits(&[]));
    assert_eq!(
        judgements_markdown(&js),
        "- CE gamma > 1: **counterexample** (1/2 CE rows hold; fails: CIFAR-10 CNN K=10 CE gamma 0.983)\n\
         - MSE gamma close to 1 (|gamma - 1| <= 0.10): **verified** (2/2 MSE rows hold)\n\
         - CE gamma > MSE gamma in every row: **counterexample** (1/2 (data, model, K) pairs hold; fails: CIFAR-10 CNN K=10: CE 0.983 <= MSE 1.010)\n\
         - gamma_awd close to gamma (|diff| <= 0.10): **verified** (4/4 rows hold)\n\
         - 1 <= gamma <= 2 (C9 on real networks; every run's gamma and gamma_awd): **unchecked** (0/0 fits hold)\n"
    );
    assert_eq!(exit_code(js.iter().map(|j| j.status)), 1);
}
