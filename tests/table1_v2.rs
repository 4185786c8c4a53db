//! Table 1 at the paper's premise (`experiments/table1-v2.toml`) without
//! torch: the committed config parses with the preregistration's numbers and
//! plans its 24 rows, bad configs are rejected naming the key, and the
//! report written from hand-built records scores only the seeds that meet
//! the premise, lists rows below two premise seeds as not reproduced with
//! the measured reason, shows both top-k columns, and says "not run" (never
//! a verdict) where no record exists.

use std::path::{Path, PathBuf};
use std::process::Command;

use superlinear::claims::evidence::Status;
use superlinear::claims::premise::{LrChoice, PilotVariant};
use superlinear::progress::Silent;
use superlinear::reproduce::netgrid::config::{Classes, TABLE1_V2_TOML};
use superlinear::reproduce::netgrid::ledger::{
    load_ledger, pilot_ledger_path, record_pilot_run, PilotLedgerEntry, PilotRunPlan,
};
use superlinear::reproduce::netgrid::plan::{plan, select, Job, Shard, Stage};
use superlinear::reproduce::netgrid::record::{
    run_record_path, save_checked, CheckpointSummary, Curves, NetRunConfig, NetRunRecord,
    NetTimings, PremiseOutcome, SecondK, SCHEMA_VERSION,
};
use superlinear::reproduce::netgrid::{report_only, NetGridConfig, NetGridSettings};
use superlinear::reproduce::record::Provenance;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

fn text() -> String {
    std::fs::read_to_string(Path::new(REPO).join(TABLE1_V2_TOML)).unwrap()
}

fn v2() -> NetGridConfig {
    NetGridConfig::parse(&text(), "table1-v2.toml").unwrap()
}

#[test]
fn table1_v2_config_holds_the_preregistered_numbers() {
    let c = v2();
    assert_eq!(c.classes, Classes::List(vec![3, 6, 10]));
    assert_eq!(c.seeds, vec![0, 1, 2, 3]);
    assert_eq!(c.lr_candidates, vec![0.01, 0.03, 0.1, 0.3]);
    assert_eq!(
        (c.analyze_samples, c.top_k, c.top_k_paper),
        (10000, None, true)
    );
    assert_eq!((c.widen_max, c.he_init_chance_margin), (2, Some(0.05)));
    assert_eq!(c.default_out(), Path::new("experiments/results/table1-v2"));
    assert_eq!(c.pilot_classes(), 10);
    let ids = c.family_ids();
    let per: Vec<(usize, usize, usize)> = c
        .family
        .iter()
        .map(|f| (c.per_class(f), c.epochs(f), f.batch))
        .collect();
    assert_eq!(
        per,
        vec![
            (850, 100, 50),
            (850, 100, 50),
            (400, 100, 50),
            (400, 100, 128),
            (2000, 150, 100),
            (5000, 100, 100),
            (400, 100, 128),
            (400, 100, 128)
        ],
        "{ids:?}"
    );
    assert_eq!(c.family[5].data_dir.as_deref(), Some("cifar10-full"));
    // One checkpoint per run, at the end.
    for f in &c.family {
        assert_eq!(c.checkpoint_epochs_of(f), vec![c.epochs(f)]);
    }
    // N and the two top-k columns (Table 2): ratio primary, absolute second.
    let f = |i: usize| &c.family[i];
    assert_eq!(c.samples(f(0), 10), 8500);
    assert_eq!(c.top_ks(f(0), 10).unwrap(), (425, Some(1000)));
    assert_eq!(c.top_ks(f(0), 3).unwrap(), (128, Some(300)));
    assert_eq!(c.samples(f(4), 3), 6000);
    assert_eq!(c.top_ks(f(4), 3).unwrap(), (800, Some(800)));
    assert_eq!(c.samples(f(5), 10), 10000);
    assert_eq!(c.top_ks(f(5), 10).unwrap(), (200, Some(1000)));
    assert_eq!(c.row_id(7, 6), "cifar10-cnn-mse-k6");
    // Widening doubles the widths before the analysed layer.
    assert_eq!(f(0).arch_widened(1).widths, vec![100, 50]);
    assert_eq!(f(4).arch_widened(2).widths, vec![200, 200, 50]);
    assert_eq!(f(6).arch_widened(1).widths, vec![16, 32, 64]);
    // The plan: 32 pilot runs, every run of 24 rows (the K = 10 row's
    // seed 0 is the pilot's run, reused when on disk), 96 analyses.
    let all = plan(&c);
    assert_eq!(select(&c, Stage::Pilot, Shard::ALL).len(), 32);
    assert_eq!(select(&c, Stage::Train, Shard::ALL).len(), 24 * 4);
    assert_eq!(select(&c, Stage::Analyze, Shard::ALL).len(), 96);
    assert!(all.iter().any(|j| matches!(
        j,
        Job::Train {
            classes: 10,
            seed: 0,
            ..
        }
    )));
    assert!(all.iter().any(|j| matches!(
        j,
        Job::Train {
            classes: 3,
            seed: 0,
            ..
        }
    )));
}

fn rejects(edit: impl Fn(String) -> String, key: &str) {
    let e = NetGridConfig::parse(&edit(text()), "table1-v2.toml")
        .unwrap_err()
        .to_string();
    assert!(e.contains(key), "error {e:?} does not name {key}");
}

#[test]
fn table1_v2_bad_configs_are_rejected_naming_the_key() {
    rejects(|t| t.replace("[3, 6, 10]", "[3, 3]"), "classes");
    rejects(|t| t.replace("[3, 6, 10]", "[3, 7]"), "top_k_paper");
    rejects(|t| t.replace("[3, 6, 10]", "[3, 11]"), "classes");
    rejects(
        |t| t.replace("top_k_paper = true", "top_k_paper = true\ntop_k = 50"),
        "top_k",
    );
    rejects(|t| t.replace("top_k_paper = true", ""), "top_k");
    rejects(
        |t| t.replace("\"cifar10-full\"", "\"../elsewhere\""),
        "family[5].data_dir",
    );
    rejects(
        |t| t.replacen("checkpoint_every = 150", "checkpoint_every = 200", 1),
        "family[4].checkpoint_every",
    );
    rejects(
        |t| t.replace("claims = [\"C6\"]", "claims = [\"C14\"]"),
        "claims",
    );
    rejects(
        |t| {
            t.replace(
                "he_init_chance_margin = 0.05",
                "he_init_chance_margin = 2.0",
            )
        },
        "he_init_chance_margin",
    );
    rejects(
        |t| t.replacen("per_class = 850", "per_class = 850\nwidth = 3", 1),
        "width",
    );
    rejects(
        |t| t.replace("cpu_hours = 5.0", "cpu_hours = -1.0"),
        "budget.cpu_hours",
    );
    rejects(
        |t| t.replace("unrecorded_cpu_hours = 1.78", "unrecorded_cpu_hours = nan"),
        "budget.unrecorded_cpu_hours",
    );
    rejects(|t| t.replace("[budget]", "[budget]\nhours = 2"), "hours");
}

/// Two families (MNIST MLP CE and MSE) at K = 3 and 10.
fn small() -> NetGridConfig {
    let c = v2();
    NetGridConfig {
        family: c.family[..2].to_vec(),
        classes: Classes::List(vec![3, 10]),
        ..c
    }
}

/// A record of family `fi` at K with `seed`: gamma `g` (primary), `g2` at
/// the paper's k, premise met or not (with the measured reason).
fn record(
    c: &NetGridConfig,
    fi: usize,
    k: usize,
    seed: u64,
    met: bool,
    g: f64,
    g2: f64,
) -> NetRunRecord {
    let f = &c.family[fi];
    let choice = LrChoice {
        lr: 0.1,
        premise_met: true,
        reason: "lowest final training loss".into(),
    };
    let config = NetRunConfig::for_row(c, f, k, &choice, PilotVariant::default());
    let acc = if met { 0.995 } else { 0.9 };
    NetRunRecord {
        schema_version: SCHEMA_VERSION,
        provenance: Provenance {
            git_commit: None,
            git_dirty: None,
            crate_version: "0.1.0".into(),
            seed,
            threads: 1,
            data: "mnist".into(),
            cpu_dispatch: None,
        },
        run_dir: PathBuf::from("/tmp/run"),
        curves: Curves {
            accuracy: vec![0.1, acc],
            loss: vec![2.3, 0.01],
        },
        premise: PremiseOutcome {
            met,
            reason: (!met).then(|| format!("final training accuracy {acc:.4} < 0.99")),
        },
        checkpoints: vec![CheckpointSummary {
            epoch: 100,
            train_accuracy: Some(acc),
            train_loss: Some(0.01),
            gamma: Some(g),
            gamma_awd: Some(g + 0.02),
            second_k: Some(SecondK {
                k: config.second_top_k.unwrap(),
                gamma: Some(g2),
                gamma_awd: Some(g2 + 0.01),
            }),
        }],
        claims: vec![],
        net_claims: serde_json::json!({"checkpoints": [{
            "epoch": 100,
            "pairs": {"gamma_term12": {"gamma": g + 0.05}, "gamma_iso_term2": {"error": "x"}},
            "gamma_uncertainty": {"bootstrap": {"gamma_ci": [g - 0.01, g + 0.01]},
                                  "curve": [{"k": 50, "gamma": g - 0.1}, {"k": 400, "gamma": g}]}
        }]}),
        timings: NetTimings {
            train_s: None,
            analyze_s: 1.0,
            analyze_cpu_s: None,
        },
        config,
    }
}

fn settings(c: &NetGridConfig, out: &Path) -> NetGridSettings {
    crate::util::grid_settings(
        c.clone(),
        out,
        &out.join("work"),
        "superlinear net-grid --config table1-v2.toml --report-only",
    )
}

#[test]
fn table1_v2_report_scores_premise_seeds_only_and_lists_rows_not_reproduced() {
    let c = small();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("v2");
    let save = |fi: usize, k: usize, seed: u64, met: bool, g: f64, g2: f64| {
        let r = record(&c, fi, k, seed, met, g, g2);
        save_checked(&run_record_path(&out, &c.row_id(fi, k), seed), &r).unwrap();
    };
    // CE K=3: three premise seeds (1.2, 1.3, 1.4) and one below it whose
    // gamma 0.5 must not count.
    for (seed, g) in [(0, 1.2), (1, 1.3), (2, 1.4)] {
        save(0, 3, seed, true, g, g + 0.1);
    }
    save(0, 3, 3, false, 0.5, 0.5);
    // MSE K=3: two premise seeds near 1.
    save(1, 3, 0, true, 1.0, 1.1);
    save(1, 3, 1, true, 1.04, 1.12);
    // CE K=10: one premise seed only: not reproduced.
    save(0, 10, 0, true, 0.7, 0.8);
    save(0, 10, 1, false, 0.6, 0.6);
    // MSE K=10: no record: not run; its family's pilot is under way (one
    // rate on the configured network, one diverged on the widened one).
    let entry = |widen: u32, lr: f64, acc: f64, diverged: Option<usize>| PilotLedgerEntry {
        plan: PilotRunPlan::of(
            &c,
            &c.family[1],
            PilotVariant {
                widen,
                ..PilotVariant::default()
            },
            lr,
        ),
        curves: Curves {
            accuracy: vec![0.1, acc],
            loss: vec![2.3, 1.0],
        },
        diverged,
        seconds: 900.0,
    };
    record_pilot_run(&out, "mnist-mlp-mse", entry(0, 0.1, 0.62, None)).unwrap();
    record_pilot_run(&out, "mnist-mlp-mse", entry(1, 0.3, 0.1, Some(1))).unwrap();
    let r = report_only(&settings(&c, &out), &Silent).unwrap();
    // Every statement holds on the scored rows, but a row not run could
    // still break one: insufficient evidence, never verified.
    let line = &r.lines["C14"];
    assert_eq!(line.status, Status::InsufficientEvidence, "{line:?}");
    assert!(
        line.details.iter().take(5).all(|d| d.ends_with("verified")),
        "{line:?}"
    );
    assert_eq!(r.lines["C9"].status, Status::InsufficientEvidence);
    assert!(
        line.summary
            .contains("2 of 4 rows scored, 1 not reproduced, 1 not run"),
        "{}",
        line.summary
    );
    let doc = std::fs::read_to_string(out.join("RESULTS.md")).unwrap();
    assert_eq!(doc, r.markdown);
    // The k-sensitivity: the statements at the absolute-k column, not judged
    // (the MSE K=3 row's 1.1 and 1.12 there are beyond 0.10 of 1).
    let k = "k-sensitivity (not judged): at Table 2's absolute k the same rows give CE gamma > 1 1/1; MSE gamma close to 1 (|gamma - 1| <= 0.10) 0/1;";
    assert!(line.details.last().unwrap().starts_with(k), "{line:?}");
    assert!(doc.contains(&format!("- {k}")), "{doc}");
    // The CE K=3 row: mean over the premise seeds only, both columns.
    let row = doc
        .lines()
        .find(|l| l.starts_with("| mnist-mlp-ce-k3 |"))
        .unwrap();
    assert!(
        row.contains("3/4 (0.995, 0.995, 0.995, 0.900 (not met))"),
        "{row}"
    );
    assert!(
        row.contains(
            "| 128 | 1.300 +- 0.100 | 1.320 +- 0.100 | 300 | 1.400 +- 0.100 | 1.410 +- 0.100 |"
        ),
        "{row}"
    );
    assert!(row.contains("1.22 +- 0.01"), "published CE gamma: {row}");
    assert!(row.contains("0: [1.190, 1.210]"), "{row}");
    assert!(row.ends_with("| scored |"), "{row}");
    assert!(
        doc.contains("- mnist-mlp-ce-k10: not reproduced (1 of 2 seeds met the premise, 2 needed; seed 1: final training accuracy 0.9000 < 0.99)"),
        "{doc}"
    );
    // Within the budget (0.50 recorded + 1.78 unrecorded of 5): not run yet,
    // with the family's pilot as it stands.
    let not_run = "- mnist-mlp-mse-k10: not run yet: its family's pilot is undecided after 2 round(s), 2 runs: best final training accuracy 0.6200 (lr 0.1), final training accuracy 0.6200 < 0.95";
    assert!(doc.contains(not_run), "{doc}");
    assert!(
        doc.contains("Budget: 5.00 CPU-hours; spent 2.28: within the budget."),
        "{doc}"
    );
    assert!(
        doc.contains(&format!(
            "- mnist-mlp-mse: pilot under way, no rate chosen yet; network as configured: 1 of {n} rates trained (lr 0.1: acc 0.6200); network widths doubled once: 1 of {n} rates trained (lr 0.3: diverged)",
            n = c.lr_candidates.len()
        )),
        "{doc}"
    );
    assert!(
        doc.contains("total 0.50") && doc.contains("pilot training 0.50 (2 runs)"),
        "{doc}"
    );
    // The CE K=10 gamma 0.7 would break "CE gamma > 1" had it been scored.
    assert!(doc.contains("CE gamma > 1: verified"), "{doc}");
    assert!(
        doc.contains("MNIST MLP K=3 CE: gamma 1.300 +- 0.100 (n = 3)"),
        "{doc}"
    );
    // Table 3 on the scored MSE row: the first reading measured, the second failed.
    assert!(
        doc.contains("| mnist-mlp-mse-k3 | 1.070 +- 0.028 | n/a | 1.07 |"),
        "{doc}"
    );
    assert!(
        doc.contains("| mnist-mlp-mse-k10 | not scored | not scored |"),
        "{doc}"
    );

    // A budget the records and the unrecorded hours exceed: spent, and the
    // row not run says so.
    let mut tight = c.clone();
    tight.budget.as_mut().unwrap().cpu_hours = 2.0;
    let r = report_only(&settings(&tight, &out), &Silent).unwrap();
    assert!(
        r.markdown
            .contains("Budget: 2.00 CPU-hours; spent 2.28: the budget is spent"),
        "{}",
        r.markdown
    );
    assert!(
        r.markdown.contains("- mnist-mlp-mse-k10: not run: the CPU budget is spent (RESULTS.md, Compute); its family's pilot is undecided after 2 round(s)"),
        "{}",
        r.markdown
    );

    // A scored MSE row far from 1 is a counterexample.
    save(1, 3, 2, true, 1.5, 1.5);
    save(1, 3, 3, true, 1.5, 1.5);
    let r = report_only(&settings(&c, &out), &Silent).unwrap();
    assert_eq!(r.lines["C14"].status, Status::Counterexample);
    assert!(r.markdown.contains("MSE gamma close to 1 (|gamma - 1| <= 0.10): counterexample (broken by MNIST MLP K=3 MSE gamma 1.260)"), "{}", r.markdown);
}

#[test]
fn table1_v2_report_without_records_says_not_run_and_gives_no_verdict() {
    let c = v2();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("v2");
    let r = report_only(&settings(&c, &out), &Silent).unwrap();
    let line = &r.lines["C14"];
    assert_eq!(line.status, Status::InsufficientEvidence);
    assert!(line
        .summary
        .contains("0 of 24 rows scored, 0 not reproduced, 24 not run"));
    assert_eq!(r.markdown.matches("| not run |").count(), 24);
    assert_eq!(
        r.markdown
            .matches(": not run yet: its family's pilot has no run")
            .count(),
        24
    );
    assert!(!r.markdown.contains("verified") && !r.markdown.contains("counterexample"));

    // The binary: --report-only on the committed config into a temporary out.
    let o = Command::new(env!("CARGO_BIN_EXE_superlinear"))
        .current_dir(REPO)
        .args([
            "net-grid",
            "--config",
            TABLE1_V2_TOML,
            "--report-only",
            "--json",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["lines"]["C14"]["status"], "insufficient evidence");
}

/// The pilot ledger keys a run by its whole training plan: a second record
/// of the same plan adds nothing, another per-class count, width or rate is
/// another run, and a ledger of another family or with a broken checksum is
/// refused by its path.
#[test]
fn pilot_ledger_matches_runs_by_their_whole_plan() {
    let c = v2();
    let f = &c.family[5];
    assert_eq!(f.id(), "cifar10-mlp-mse");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let plan = PilotRunPlan::of(&c, f, PilotVariant::default(), 0.1);
    assert_eq!(
        (plan.classes, plan.per_class, plan.epochs, plan.seed),
        (10, 5000, 100, 0)
    );
    assert_eq!(plan.data_dir.as_deref(), Some("cifar10-full"));
    let entry = |plan: PilotRunPlan| PilotLedgerEntry {
        plan,
        curves: Curves {
            accuracy: vec![0.1, 0.5, f64::NAN],
            loss: vec![2.3, 1.0, f64::NAN],
        },
        diverged: Some(2),
        seconds: 12.5,
    };
    assert!(load_ledger(out, &f.id()).unwrap().runs.is_empty());
    record_pilot_run(out, &f.id(), entry(plan.clone())).unwrap();
    record_pilot_run(out, &f.id(), entry(plan.clone())).unwrap();
    let l = load_ledger(out, &f.id()).unwrap();
    assert_eq!(l.runs.len(), 1);
    let e = l.find(&plan).unwrap();
    assert!(e.curves.accuracy[2].is_nan() && e.diverged == Some(2));
    let wider = PilotRunPlan::of(
        &c,
        f,
        PilotVariant {
            widen: 1,
            ..PilotVariant::default()
        },
        0.1,
    );
    assert_eq!(wider.arch.widths, vec![100, 100, 50]);
    let mut fewer = plan.clone();
    fewer.per_class = 400;
    for other in [
        wider,
        fewer,
        PilotRunPlan::of(&c, f, PilotVariant::default(), 0.3),
    ] {
        assert!(l.find(&other).is_none(), "{other:?}");
    }
    // Another family's file under this family's path.
    let path = pilot_ledger_path(out, "mnist-mlp-ce");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::copy(pilot_ledger_path(out, &f.id()), &path).unwrap();
    let e = load_ledger(out, "mnist-mlp-ce").unwrap_err().to_string();
    assert!(
        e.contains("pilot-runs.json") && e.contains("cifar10-mlp-mse"),
        "{e}"
    );
    // A torn file is neither used nor overwritten.
    let own = pilot_ledger_path(out, &f.id());
    let text = std::fs::read_to_string(&own)
        .unwrap()
        .replace("12.5", "13.5");
    std::fs::write(&own, &text).unwrap();
    let e = load_ledger(out, &f.id()).unwrap_err().to_string();
    assert!(e.contains("checksum"), "{e}");
    assert!(record_pilot_run(out, &f.id(), entry(plan)).is_err());
    assert_eq!(std::fs::read_to_string(&own).unwrap(), text);
}

/// The committed RESULTS.md of grid v2 and of the K = 3 net grid are what
/// their committed records (run records, pilots, pilot ledgers) produce.
#[test]
fn committed_results_are_what_the_committed_records_produce() {
    for (config, dir) in [
        (
            "experiments/table1-v2.toml",
            "experiments/results/table1-v2",
        ),
        ("experiments/netgrid-k3.toml", "experiments/results/net-k3"),
    ] {
        let c = NetGridConfig::load(&Path::new(REPO).join(config)).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        crate::util::copy_dir(&Path::new(REPO).join(dir), &out);
        let settings = crate::util::grid_settings(
            c,
            &out,
            &tmp.path().join("work"),
            &format!("superlinear net-grid --config {config}"),
        );
        let r = report_only(&settings, &Silent).unwrap();
        let committed =
            std::fs::read_to_string(Path::new(REPO).join(dir).join("RESULTS.md")).unwrap();
        assert!(
            r.markdown == committed,
            "{dir}/RESULTS.md differs from its records; regenerate with `superlinear net-grid --config {config} --report-only`"
        );
    }
}
