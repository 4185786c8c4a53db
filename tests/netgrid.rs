//! `superlinear net-grid` without torch: the committed config parses and bad
//! configs are rejected with the key named, the plan's shards partition it,
//! records round-trip and a tampered one is caught, and `--report-only`
//! writes RESULTS.md from a hand-built records directory. The premise, the
//! learning-rate rule and the cross-seed combination are unit-tested in
//! `src/claims/premise.rs` and `src/claims/netgrid.rs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use superlinear::claims::evidence::Status;
use superlinear::claims::premise::LrChoice;
use superlinear::progress::Silent;
use superlinear::reproduce::netgrid::ledger::PilotLedger;
use superlinear::reproduce::netgrid::plan::{plan, select, Job, Shard, Stage};
use superlinear::reproduce::netgrid::record::{
    load_checked, pilot_record_path, run_record_path, save_checked, stored_run_record,
    CheckpointSummary, ClaimSummary, Curves, NetRunConfig, NetRunRecord, NetTimings,
    PilotCandidate, PilotRecord, PremiseOutcome, SCHEMA_VERSION,
};
use superlinear::reproduce::netgrid::{report_only, NetGridConfig};
use superlinear::reproduce::record::Provenance;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

fn committed_text() -> String {
    std::fs::read_to_string(Path::new(REPO).join("experiments/netgrid.toml")).unwrap()
}

fn committed() -> NetGridConfig {
    NetGridConfig::parse(&committed_text(), "netgrid.toml").unwrap()
}

#[test]
fn committed_config_parses_with_its_fixed_values() {
    let c = committed();
    assert_eq!(c.family.len(), 8);
    assert_eq!((c.per_class, c.epochs, c.checkpoint_every), (250, 100, 10));
    assert_eq!(c.lr_candidates, vec![0.01, 0.03, 0.1, 0.3]);
    assert_eq!((c.analyze_samples, c.top_k), (2000, Some(500)));
    assert_eq!(c.family_ids()[6], "cifar10-cnn-ce");
    assert_eq!(
        c.checkpoint_epochs(),
        (1..=10).map(|i| i * 10).collect::<Vec<_>>()
    );
    let cnn = c.family[6].arch();
    assert_eq!(
        (cnn.input, cnn.pool_side, cnn.hidden),
        (3, Some(2), Some(20))
    );
    assert_eq!(c.family[4].arch().input, 3072);
}

fn rejects(edit: impl Fn(String) -> String, key: &str) {
    let text = edit(committed_text());
    let e = NetGridConfig::parse(&text, "netgrid.toml")
        .unwrap_err()
        .to_string();
    assert!(e.contains(key), "error {e:?} does not name {key}");
}

#[test]
fn bad_configs_are_rejected_naming_the_key() {
    rejects(
        |t| t.replace("top_k = 500", "top_k = 500\nbogus = 1"),
        "bogus",
    );
    rejects(|t| t.replace("epochs = 100", "epochs = 0"), "epochs");
    rejects(
        |t| t.replace("per_class = 250", "per_class = 0"),
        "per_class",
    );
    rejects(
        |t| t.replace("[0.01, 0.03, 0.1, 0.3]", "[0.01, -0.1]"),
        "lr_candidates",
    );
    rejects(
        |t| t.replace("analyze_samples = 2000", "analyze_samples = 3"),
        "analyze_samples",
    );
    rejects(|t| t.replace("top_k = 500", "top_k = 2"), "top_k");
    rejects(
        |t| t.replace("seeds = [0, 1, 2]", "seeds = [0, 0]"),
        "seeds",
    );
    rejects(
        |t| t.replace("ce_min_accuracy = 0.99", "ce_min_accuracy = 1.5"),
        "premise.ce_min_accuracy",
    );
    rejects(
        |t| t.replacen("cnn_hidden = 20\n", "", 1),
        "family[2].cnn_hidden",
    );
    rejects(
        |t| t.replacen("batch = 50", "batch = 0", 1),
        "family[0].batch",
    );
    rejects(
        |t| t.replacen("loss = \"ce\"", "loss = \"huber\"", 1),
        "huber",
    );
    rejects(
        |t| {
            t.replacen(
                "mse_plateau_epochs = 20",
                "mse_plateau_epochs = 20\nextra = 2",
                1,
            )
        },
        "extra",
    );
}

#[test]
fn shards_partition_the_plan() {
    let c = committed();
    let all = plan(&c);
    assert_eq!(all.len(), 8 * 4 + 8 * 3 + 8 * 3);
    assert!(matches!(all[0], Job::Pilot { family: 0, lr } if lr == 0.01));
    for n in 1..=5 {
        let mut seen = vec![0usize; all.len()];
        for i in 1..=n {
            let shard = Shard { index: i, count: n };
            for (pos, _) in all.iter().enumerate().filter(|(p, _)| shard.takes(*p)) {
                seen[pos] += 1;
            }
            let sel = select(&c, Stage::All, shard);
            assert_eq!(
                sel.len(),
                all.iter()
                    .enumerate()
                    .filter(|(p, _)| shard.takes(*p))
                    .count()
            );
        }
        assert!(seen.iter().all(|&s| s == 1), "shards of {n}: {seen:?}");
    }
    let pilots = select(&c, Stage::Pilot, Shard::ALL);
    assert_eq!(pilots.len(), 32);
    assert!(pilots.iter().all(|j| matches!(j, Job::Pilot { .. })));
    assert_eq!(select(&c, Stage::Analyze, Shard::ALL).len(), 24);
    for bad in ["0/2", "3/2", "1/0", "x", "1/y"] {
        assert!(
            Shard::parse(bad).unwrap_err().to_string().contains("shard"),
            "{bad}"
        );
    }
    assert_eq!(Shard::parse("2/3").unwrap(), Shard { index: 2, count: 3 });
    assert!(Stage::parse("everything").is_err());
}

/// `--family` selects families by id; an id the config does not have is
/// refused by name, with the ids it has.
#[test]
fn a_family_filter_runs_the_named_families_and_refuses_an_unknown_one() {
    let c = committed();
    let out = tempfile::tempdir().unwrap();
    let mut s = crate::util::grid_settings(c.clone(), out.path(), out.path(), "net-grid");
    assert!(
        (0..8).all(|fi| s.runs_family(fi)),
        "no filter: every family"
    );
    s.families = vec!["mnist-cnn-ce".into(), "cifar10-mlp-ce".into()];
    s.validate().unwrap();
    let runs: Vec<usize> = (0..8).filter(|&fi| s.runs_family(fi)).collect();
    assert_eq!(runs.len(), 2);
    assert!(runs
        .iter()
        .all(|&fi| s.families.contains(&c.family[fi].id())));
    let jobs = select(&c, Stage::All, Shard::ALL);
    assert_eq!(
        jobs.iter().filter(|j| s.runs_family(j.family())).count(),
        2 * (4 + 3 + 3)
    );
    s.families.push("mnist-resnet-ce".into());
    let e = s.validate().unwrap_err().to_string();
    assert!(
        e.contains("family") && e.contains("mnist-resnet-ce") && e.contains("cifar10-cnn-mse"),
        "{e}"
    );
}

fn small_config() -> NetGridConfig {
    let c = committed();
    NetGridConfig {
        family: c.family[..2].to_vec(),
        ..c
    }
}

fn record(
    c: &NetGridConfig,
    fi: usize,
    seed: u64,
    met: bool,
    verdict: Status,
    key: f64,
) -> NetRunRecord {
    let f = &c.family[fi];
    let choice = LrChoice {
        lr: 0.1,
        premise_met: true,
        reason: "lowest final training loss".into(),
    };
    let claims = ["C6", "C7", "C13", "C15"]
        .iter()
        .map(|id| ClaimSummary {
            claim: id.to_string(),
            status: verdict,
            figure: format!("{id} figure"),
            figures: BTreeMap::from([
                ("residual_free".to_string(), Some(key)),
                ("gamma_last".to_string(), Some(1.2 + key)),
                ("undefined".to_string(), None),
            ]),
            details: vec![],
        })
        .collect();
    NetRunRecord {
        schema_version: SCHEMA_VERSION,
        config: NetRunConfig::new(c, f, &choice),
        provenance: Provenance {
            git_commit: Some("abc".into()),
            git_dirty: Some(false),
            crate_version: "0.1.0".into(),
            seed,
            threads: 1,
            data: "mnist".into(),
            cpu_dispatch: None,
        },
        run_dir: PathBuf::from("/tmp/run"),
        curves: Curves {
            accuracy: vec![0.1, 0.9, if met { 0.995 } else { 0.9 }],
            loss: vec![2.3, f64::NAN, 0.01],
        },
        premise: PremiseOutcome {
            met,
            reason: (!met).then(|| "final training accuracy 0.9000 < 0.99".into()),
        },
        checkpoints: vec![CheckpointSummary {
            epoch: 100,
            train_accuracy: Some(0.995),
            train_loss: Some(0.01),
            gamma: Some(1.3 + key),
            gamma_awd: None,
            second_k: None,
        }],
        claims,
        net_claims: serde_json::json!({"checkpoints": [{"epoch": 100, "gamma": null}]}),
        timings: NetTimings {
            train_s: Some(1.0),
            analyze_s: 2.0,
            analyze_cpu_s: None,
        },
    }
}

#[test]
fn records_round_trip_and_tampering_is_caught() {
    let c = small_config();
    let dir = tempfile::tempdir().unwrap();
    let rec = record(&c, 0, 1, true, Status::Verified, 0.05);
    let path = run_record_path(dir.path(), &rec.config.family, 1);
    save_checked(&path, &rec).unwrap();
    let back: NetRunRecord = load_checked(&path).unwrap().unwrap();
    assert_eq!(back.config, rec.config);
    assert_eq!(back.claims, rec.claims);
    assert_eq!(back.checkpoints, rec.checkpoints);
    assert!(back.curves.loss[1].is_nan());
    assert_eq!(back.curves.accuracy, rec.curves.accuracy);
    assert!(stored_run_record(&path, &rec.config).is_some());
    let mut other = rec.config.clone();
    other.top_k = 7;
    assert!(
        stored_run_record(&path, &other).is_none(),
        "another config is redone"
    );
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("0.995", "0.996")).unwrap();
    assert!(load_checked::<NetRunRecord>(&path).is_err());
    assert!(
        stored_run_record(&path, &rec.config).is_none(),
        "a tampered record is redone"
    );

    let pilot = PilotRecord::decide(
        "mnist-mlp-ce",
        0,
        c.premise,
        vec![
            PilotCandidate {
                lr: 0.1,
                accuracy: 0.999,
                loss: 0.01,
                premise: PremiseOutcome {
                    met: true,
                    reason: None,
                },
            },
            PilotCandidate {
                lr: 0.3,
                accuracy: f64::NAN,
                loss: f64::NAN,
                premise: PremiseOutcome {
                    met: false,
                    reason: Some("diverged".into()),
                },
            },
        ],
    );
    assert_eq!(pilot.choice.as_ref().unwrap().lr, 0.1);
    let pp = pilot_record_path(dir.path(), "mnist-mlp-ce");
    save_checked(&pp, &pilot).unwrap();
    let back: PilotRecord = load_checked(&pp).unwrap().unwrap();
    assert_eq!(back.choice, pilot.choice);
    assert!(back.candidates[1].loss.is_nan());
}

fn write_hand_built(out: &Path, c: &NetGridConfig) {
    for (fi, verdict) in [(0, Status::Verified), (1, Status::Counterexample)] {
        for seed in [0, 1, 2] {
            let met = !(fi == 0 && seed == 2);
            let r = record(c, fi, seed, met, verdict, 0.05 + 0.01 * seed as f64);
            save_checked(&run_record_path(out, &r.config.family, seed), &r).unwrap();
        }
    }
    let pilot = PilotRecord::decide(
        &c.family[0].id(),
        0,
        c.premise,
        vec![PilotCandidate {
            lr: 0.1,
            accuracy: 0.999,
            loss: 0.01,
            premise: PremiseOutcome {
                met: true,
                reason: None,
            },
        }],
    );
    save_checked(&pilot_record_path(out, &c.family[0].id()), &pilot).unwrap();
}

#[test]
fn report_only_writes_results_from_hand_built_records() {
    let c = small_config();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("net");
    write_hand_built(&out, &c);
    let settings = crate::util::grid_settings(
        c.clone(),
        &out,
        &dir.path().join("work"),
        "superlinear net-grid --report-only",
    );
    let r = report_only(&settings, &Silent).unwrap();
    // Family 1 fails on 3 scored seeds: a counterexample, named.
    let c6 = &r.lines["C6"];
    assert_eq!(c6.status, Status::Counterexample, "{c6:?}");
    assert!(c6.summary.contains("mnist-mlp-mse"), "{}", c6.summary);
    assert!(
        c6.details[0].starts_with("mnist-mlp-ce: verified (2 seeds scored"),
        "{:?}",
        c6.details
    );
    let doc = std::fs::read_to_string(out.join("RESULTS.md")).unwrap();
    assert_eq!(doc, r.markdown);
    assert!(doc.contains("Chosen rate: **0.1**"), "{doc}");
    assert!(
        doc.contains("mnist-mlp-ce seed 2: final training accuracy 0.9000 < 0.99"),
        "{doc}"
    );
    assert!(
        doc.contains("mnist-mlp-mse\n\n") || doc.contains("## mnist-mlp-mse"),
        "{doc}"
    );
    assert!(doc.contains("gamma 1.3550 +- 0.0071 (n = 2)"), "{doc}");

    // The binary in any build: --report-only works and is stable.
    let toml_path = dir.path().join("grid.toml");
    let text = committed_text();
    let cut = text
        .find("[[family]]\ndataset = \"mnist\"\nmodel = \"cnn\"")
        .unwrap();
    std::fs::write(&toml_path, &text[..cut]).unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "net-grid".to_string(),
            "--config".into(),
            toml_path.display().to_string(),
            "--out".into(),
            out.display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        Command::new(env!("CARGO_BIN_EXE_superlinear"))
            .args(&args)
            .output()
            .unwrap()
    };
    let o = run(&["--report-only", "--json"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let lines: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(lines["schema_version"], 1);
    assert_eq!(lines["lines"]["C6"]["status"], "counterexample");
    for (args, mention) in [
        (vec!["--report-only", "--shard", "3/2"], "shard"),
        (vec!["--report-only", "--stage", "later"], "stage"),
        (vec!["--report-only", "--jobs", "0"], "jobs"),
    ] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(mention) && err.lines().count() == 1,
            "{args:?}: {err}"
        );
    }
    #[cfg(not(feature = "torch"))]
    {
        let o = run(&["--stage", "pilot"]);
        assert_eq!(o.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&o.stderr).contains("--features torch"));
    }
}

/// The committed net-claims grid reads and reports exactly as before the
/// config learnt several K: every record re-serialises to its own bytes and
/// `--report-only` rewrites the committed RESULTS.md unchanged.
#[test]
fn committed_records_and_results_stay_byte_identical() {
    let c = committed();
    let src = Path::new(REPO).join("experiments/results/net");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("net");
    let (mut n, mut ledgers) = (0, 0);
    for id in c.family_ids() {
        std::fs::create_dir_all(out.join(&id)).unwrap();
        for name in std::fs::read_dir(src.join(&id)).unwrap() {
            let name = name.unwrap().file_name();
            let from = src.join(&id).join(&name);
            let to = out.join(&id).join(&name);
            let text = std::fs::read_to_string(&from).unwrap();
            if name.to_string_lossy() == "pilot.json" {
                let p: PilotRecord = load_checked(&from).unwrap().unwrap();
                save_checked(&to, &p).unwrap();
            } else if name.to_string_lossy() == "pilot-runs.json" {
                let l: PilotLedger = load_checked(&from).unwrap().unwrap();
                assert_eq!(l.family, id);
                save_checked(&to, &l).unwrap();
                ledgers += 1;
            } else {
                let r: NetRunRecord = load_checked(&from).unwrap().unwrap();
                assert_eq!(r.config.classes, 10);
                save_checked(&to, &r).unwrap();
            }
            assert_eq!(
                std::fs::read_to_string(&to).unwrap(),
                text,
                "{} re-serialises differently",
                from.display()
            );
            n += 1;
        }
    }
    // The families retrained since the pilot ledger existed carry one.
    assert_eq!(n, 8 * 4 + ledgers);
    assert!(ledgers >= 4, "{ledgers} pilot ledgers");
    let settings = crate::util::grid_settings(
        c.clone(),
        &out,
        &dir.path().join("work"),
        "superlinear net-grid --config experiments/netgrid.toml",
    );
    let r = report_only(&settings, &Silent).unwrap();
    let committed_doc = std::fs::read_to_string(src.join("RESULTS.md")).unwrap();
    assert!(
        r.markdown == committed_doc,
        "RESULTS.md differs from the committed one"
    );
    assert_eq!(c.default_out(), Path::new("experiments/results/net"));
}
