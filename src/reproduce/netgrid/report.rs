//! `RESULTS.md` of the net-claims grid, written from the records (never by
//! hand), and the cross-seed, cross-family verdict lines of C6, C7, C13 and
//! C15 (decided by `crate::claims::netgrid`). Pure Rust: `--report-only`
//! needs no torch.
//!
//! A grid over several K (Table 1 at the premise) is reported by
//! [`super::table1`] instead.
//!
//! Per family: the pilot table and the chosen rate, the premise per seed,
//! per claim and seed the verdict word and key figure, the seed spread
//! (mean +- sample std) of gamma and gamma_awd at the last checkpoint and
//! of every named figure of each claim; the runs not scored with the reason.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use super::config::{Classes, NetGridConfig};
use super::record::{load_all, NetRunRecord, StoredRecords};
use crate::claims::evidence::Line;
use crate::claims::netgrid::{key_figure, spread_text, SeedClaim, SeedEvidence, NET_GRID_CLAIMS};
use crate::progress::{Progress, StageGuard};
use crate::reproduce::{write_atomic, ReproduceError};

/// What one analysed run contributes to the cross-seed judgement.
pub fn evidence(r: &NetRunRecord) -> SeedEvidence {
    SeedEvidence {
        family: r.config.family.clone(),
        seed: r.seed(),
        premise: r.premise.result(),
        claims: r
            .claims
            .iter()
            .map(|c| {
                (
                    c.claim.clone(),
                    SeedClaim {
                        status: c.status,
                        key: c
                            .figures
                            .get(key_figure(&c.claim))
                            .copied()
                            .flatten()
                            .filter(|v| v.is_finite()),
                    },
                )
            })
            .collect(),
        entanglement: r
            .net_claims
            .pointer("/checkpoints")
            .and_then(|c| c.as_array())
            .and_then(|c| c.last())
            .and_then(|c| c.pointer("/structure/entanglement_mean"))
            .and_then(serde_json::Value::as_f64)
            .filter(|v| v.is_finite()),
        uncertainty: r.claim_uncertainty(),
    }
}

/// The verdict line of each claim of the net grid over its records;
/// `families` lists every family of the grid, `source` names the records.
pub fn net_grid_lines(
    records: &[NetRunRecord],
    families: &[String],
    source: &str,
) -> BTreeMap<String, Line> {
    let ev: Vec<SeedEvidence> = records.iter().map(evidence).collect();
    crate::claims::netgrid::net_grid_lines(&ev, families, source)
}

/// Where a grid's records live, as its report and lines name them: the
/// config's `out`, or the default.
pub fn records_source(config: &NetGridConfig) -> String {
    let out = config
        .out
        .clone()
        .unwrap_or_else(|| std::path::PathBuf::from(super::config::DEFAULT_OUT));
    format!("{}/<family>/seed-<s>.json", out.display())
}

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.filter(|x| x.is_finite())
        .map_or("n/a".into(), |x| format!("{x:.digits$}"))
}

/// The results document.
pub fn render(config: &NetGridConfig, stored: &StoredRecords, command: &str) -> String {
    let families = config.family_ids();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# The net-claims grid: C3, C6, C7 (and Remark 3.5), C8, C13, C15 on trained networks\n"
    );
    let _ = writeln!(
        s,
        "Written by `{command}` from the records beside this file; do not edit. \
         Settings (the command's config, `experiments/netgrid.toml` by default): K = {}, {} images per class, {} epochs, \
         a checkpoint every {}, learning rates {:?} (pilot on seed {}), seeds {:?}, \
         analysis on {} samples with top-k {} at every checkpoint.\n",
        config.pilot_classes(),
        config.per_class,
        config.epochs,
        config.checkpoint_every,
        config.lr_candidates,
        config.pilot_seed(),
        config.seeds,
        config
            .analyze_samples
            .min(config.pilot_classes() * config.per_class),
        config.top_k.unwrap_or(0)
    );
    let lines = net_grid_lines(&stored.runs, &families, &records_source(config));
    let _ = writeln!(s, "## Verdicts over the grid\n");
    let _ = writeln!(s, "| claim | status | summary |\n|---|---|---|");
    for claim in NET_GRID_CLAIMS {
        let l = &lines[claim];
        let _ = writeln!(s, "| {claim} | {} | {} |", l.status.as_str(), l.summary);
    }
    for claim in NET_GRID_CLAIMS {
        let _ = writeln!(s, "\n{claim} per family:\n");
        for d in &lines[claim].details {
            let _ = writeln!(s, "- {d}");
        }
    }
    let mut not_scored = Vec::new();
    for (fi, fam) in families.iter().enumerate() {
        let _ = writeln!(s, "\n## {fam}\n");
        let f = &config.family[fi];
        let _ = writeln!(s, "Batch {}, architecture {:?}.\n", f.batch, f.arch());
        match stored.pilots.iter().find(|p| &p.family == fam) {
            None => {
                let _ = writeln!(s, "Pilot: no record yet.\n");
            }
            Some(p) => {
                let _ = writeln!(
                    s,
                    "Pilot (seed {}):\n\n| lr | final accuracy | final loss | premise |\n|---|---|---|---|",
                    p.seed
                );
                for c in &p.candidates {
                    let _ = writeln!(
                        s,
                        "| {} | {} | {} | {} |",
                        c.lr,
                        fmt_opt(Some(c.accuracy), 4),
                        if c.loss.is_finite() {
                            format!("{:.4e}", c.loss)
                        } else {
                            "n/a".into()
                        },
                        c.premise.reason.as_deref().unwrap_or("met")
                    );
                }
                match (&p.choice, &p.no_choice) {
                    (Some(c), _) => {
                        let _ = writeln!(s, "\nChosen rate: **{}** ({}).\n", c.lr, c.reason);
                    }
                    (None, why) => {
                        let _ =
                            writeln!(s, "\nNo rate chosen: {}.\n", why.as_deref().unwrap_or("?"));
                    }
                }
            }
        }
        let runs: Vec<&NetRunRecord> = stored
            .runs
            .iter()
            .filter(|r| &r.config.family == fam)
            .collect();
        if runs.is_empty() {
            let _ = writeln!(s, "No analysed run yet.");
            continue;
        }
        let _ = write!(
            s,
            "| seed | lr | final acc | premise | gamma (last) | gamma_awd (last) | gamma 95% CI | gamma(k) |"
        );
        for c in NET_GRID_CLAIMS {
            let _ = write!(s, " {c} |");
        }
        let _ = write!(s, "\n|---|---|---|---|---|---|---|---|");
        for _ in NET_GRID_CLAIMS {
            let _ = write!(s, "---|");
        }
        let _ = writeln!(s);
        for r in &runs {
            let last = r.last_checkpoint();
            let (ci, curve) = r.uncertainty_cells();
            let _ = write!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                r.seed(),
                r.config.lr,
                fmt_opt(r.curves.accuracy.last().copied(), 4),
                r.premise.reason.as_deref().unwrap_or("met"),
                fmt_opt(last.and_then(|c| c.gamma), 3),
                fmt_opt(last.and_then(|c| c.gamma_awd), 3),
                ci,
                curve
            );
            for c in NET_GRID_CLAIMS {
                let cell = r.claim(c).map_or("missing".into(), |o| {
                    format!(
                        "{} ({} {})",
                        o.status.as_str(),
                        key_figure(c),
                        fmt_opt(o.figures.get(key_figure(c)).copied().flatten(), 4)
                    )
                });
                let _ = write!(s, " {cell} |");
            }
            let _ = writeln!(s);
            if let Some(why) = &r.premise.reason {
                not_scored.push(format!("{fam} seed {}: {why}", r.seed()));
            }
        }
        let scored: Vec<&&NetRunRecord> = runs.iter().filter(|r| r.premise.met).collect();
        let at_last = |f: fn(&super::record::CheckpointSummary) -> Option<f64>| -> Vec<f64> {
            scored
                .iter()
                .filter_map(|r| r.last_checkpoint().and_then(f))
                .collect()
        };
        let _ = writeln!(
            s,
            "\nSeed spread over the {} scored seeds, last checkpoint: gamma {}, gamma_awd {}.",
            scored.len(),
            spread_text(&at_last(|c| c.gamma)),
            spread_text(&at_last(|c| c.gamma_awd))
        );
        for c in NET_GRID_CLAIMS {
            let mut names: Vec<&String> = scored
                .iter()
                .filter_map(|r| r.claim(c))
                .flat_map(|o| o.figures.keys())
                .collect();
            names.sort();
            names.dedup();
            let parts: Vec<String> = names
                .iter()
                .map(|n| {
                    let v: Vec<f64> = scored
                        .iter()
                        .filter_map(|r| {
                            r.claim(c)
                                .and_then(|o| o.figures.get(*n).copied().flatten())
                        })
                        .collect();
                    format!("{n} {}", spread_text(&v))
                })
                .collect();
            if !parts.is_empty() {
                let _ = writeln!(s, "- {c}: {}", parts.join("; "));
            }
        }
    }
    let _ = writeln!(s, "\n## Runs not scored or not analysed\n");
    for fam in &families {
        for &seed in &config.seeds {
            if !stored
                .runs
                .iter()
                .any(|r| &r.config.family == fam && r.seed() == seed)
            {
                not_scored.push(format!("{fam} seed {seed}: no analysis record"));
            }
        }
    }
    stored.write_not_scored(&mut s, not_scored);
    s
}

/// Reads the records under `out` and writes `<out>/RESULTS.md`; returns the
/// document and the verdict lines. Progress: the stored records
/// ([`load_all`]), then a stage `report` of one step.
pub fn write_report(
    config: &NetGridConfig,
    out: &Path,
    command: &str,
    progress: &dyn Progress,
) -> Result<(String, BTreeMap<String, Line>, StoredRecords), ReproduceError> {
    let stored = load_all(out, config, progress);
    let stage = StageGuard::begin(progress, "report", 1);
    let (doc, lines) = match config.classes {
        Classes::One(_) => (
            render(config, &stored, command),
            net_grid_lines(&stored.runs, &config.family_ids(), &records_source(config)),
        ),
        Classes::List(_) => (
            super::table1::render(
                config,
                &stored,
                &super::ledger::load_ledgers(out, config),
                command,
            ),
            BTreeMap::from([
                ("C14".to_string(), super::table1::c14_line(config, &stored)),
                ("C9".to_string(), super::table1::c9_line(config, &stored)),
            ]),
        ),
    };
    write_atomic(&out.join("RESULTS.md"), &doc)?;
    stage.step("RESULTS.md written");
    drop(stage);
    Ok((doc, lines, stored))
}
