//! The report of a grid over several K (`experiments/table1-v2.toml`):
//! Table 1 at the paper's premise beside the published values, C14's five
//! statements on the rows that meet the premise (decided by
//! `crate::claims::c14::judge_seeded`), and Table 3 (Eq. 58) on its MSE rows
//! with both readings. Written from the records (never by hand), pure Rust.
//!
//! Per row (family x K): the seeds analysed and those meeting the premise
//! with their final training accuracies; over the premise seeds, the mean
//! +- sample std of gamma and gamma_awd at the last checkpoint in both
//! top-k columns (primary: the paper's ratio `k_paper / N_paper` applied to
//! the row's N; second: the paper's absolute k), per seed the bootstrap
//! interval of gamma (over samples, basis fixed) and its k-sensitivity
//! (gamma at the smallest and the largest k of the gamma(k) curve). A row
//! with fewer than two premise seeds is *not reproduced*, listed with the
//! measured reason of each seed; a row without records is *not run*.
//!
//! Table 3: for the scored MSE rows, the mean +- std over the premise seeds
//! of the exponent of `C_I+II` (Term I + II, the first reading of Eq. 58)
//! and of `sigma^2 E[h^2] + C_II` (the second reading), read from the
//! matched-pair figures of the last checkpoint (analysed with C6), beside
//! the published MSE exponent with Term II.
//!
//! The rows of both tables ([`table1_rows`], [`table3_rows`]) are the
//! `report` page's Tables 1 and 3 as well (`crate::reproduce::report`).

use std::fmt::Write as _;

use super::config::NetGridConfig;
use super::ledger::PilotLedger;
use super::record::{NetRunRecord, StoredRecords};
use crate::claims::c14::{judge_seeded, seeded_c9_line, seeded_line, RowStanding, SeededRow};
use crate::claims::evidence::Line;
use crate::loss::Loss;
use crate::published::{MeanStd, Published};
use crate::stats::mean_std;

/// Where C14's line over this grid reads from.
pub const SOURCE: &str = "experiments/results/table1-v2/<row>/seed-<s>.json";

/// One row's records and figures.
struct RowView<'a> {
    fi: usize,
    classes: usize,
    runs: Vec<&'a NetRunRecord>,
    seeded: SeededRow,
    /// The same row at the second top-k column (Table 2's absolute k).
    second: SeededRow,
}

fn ms(v: &[f64]) -> String {
    match mean_std(v) {
        Some((m, s)) => format!("{m:.3} +- {s:.3}"),
        None => "n/a".into(),
    }
}

fn loss_name(l: Loss) -> &'static str {
    match l {
        Loss::CrossEntropy => "CE",
        _ => "MSE",
    }
}

/// Exponent `name` of the last checkpoint's matched-pair figures.
fn pair_gamma(r: &NetRunRecord, name: &str) -> Option<f64> {
    r.net_claims["checkpoints"]
        .as_array()?
        .last()?
        .get("pairs")?
        .get(name)?
        .get("gamma")?
        .as_f64()
}

fn rows<'a>(config: &NetGridConfig, stored: &'a StoredRecords) -> Vec<RowView<'a>> {
    config
        .rows()
        .into_iter()
        .map(|row| {
            let f = &config.family[row.family];
            let runs: Vec<&NetRunRecord> = stored
                .runs
                .iter()
                .filter(|r| r.config.family == f.id() && r.config.classes == row.classes)
                .collect();
            let met: Vec<&&NetRunRecord> = runs.iter().filter(|r| r.premise.met).collect();
            let last = |g: fn(&super::record::CheckpointSummary) -> Option<f64>| -> Vec<f64> {
                met.iter()
                    .filter_map(|r| r.last_checkpoint().and_then(g))
                    .filter(|x| x.is_finite())
                    .collect()
            };
            let setting = format!(
                "{} {} K={}",
                f.dataset.published_name(),
                f.model.published_name(),
                row.classes
            );
            let second = |g: fn(&super::record::SecondK) -> Option<f64>| -> Vec<f64> {
                met.iter()
                    .filter_map(|r| r.last_checkpoint()?.second_k.as_ref().and_then(g))
                    .filter(|x| x.is_finite())
                    .collect()
            };
            let seeded = SeededRow {
                label: format!("{setting} {}", loss_name(f.loss)),
                setting,
                loss: f.loss,
                runs: runs.len(),
                gamma: last(|c| c.gamma),
                gamma_awd: last(|c| c.gamma_awd),
                premise_seeds: met.len(),
                gamma_ci: met.iter().filter_map(|r| r.gamma_ci()).collect(),
            };
            RowView {
                fi: row.family,
                classes: row.classes,
                second: SeededRow {
                    gamma: second(|x| x.gamma),
                    gamma_awd: second(|x| x.gamma_awd),
                    gamma_ci: Vec::new(),
                    ..seeded.clone()
                },
                seeded,
                runs,
            }
        })
        .collect()
}

/// C14's line over the grid's records, judged on the primary column; its
/// last details are the top-k rule and the k-sensitivity (the statements
/// at Table 2's k).
pub fn c14_line(config: &NetGridConfig, stored: &StoredRecords) -> Line {
    let views = rows(config, stored);
    let seeded: Vec<SeededRow> = views.iter().map(|r| r.seeded.clone()).collect();
    let mut line = seeded_line(&judge_seeded(&seeded), &seeded, SOURCE);
    line.details.extend(top_k_rule(&views));
    line.details.extend(k_sensitivity(config, &views));
    line
}

/// The five statements on the scored rows' second column (Table 2's
/// absolute k), not judged: how the verdict moves with top-k. None when the
/// grid has one column or no scored row has a second-column fit.
fn k_sensitivity(config: &NetGridConfig, views: &[RowView]) -> Option<String> {
    if !config.top_k_paper {
        return None;
    }
    let second: Vec<SeededRow> = views.iter().map(|r| r.second.clone()).collect();
    let j = judge_seeded(&second);
    if j.iter().all(|x| x.judgement.checked == 0) {
        return None;
    }
    let held: Vec<String> = j
        .iter()
        .map(|x| {
            format!(
                "{} {}/{}",
                x.judgement.statement,
                x.judgement.held(),
                x.judgement.checked
            )
        })
        .collect();
    Some(format!(
        "k-sensitivity (not judged): at Table 2's absolute k the same rows give {}",
        held.join("; ")
    ))
}

/// C9's empirical reading over the grid's records (`1 <= gamma <= 2` on
/// the scored rows, `crate::claims::c14::seeded_c9_line`), with the top-k
/// rule of each scored row and the reading at Table 2's absolute k (its
/// k-sensitivity, not judged) as its last details.
pub fn c9_line(config: &NetGridConfig, stored: &StoredRecords) -> Line {
    let views = rows(config, stored);
    let seeded: Vec<SeededRow> = views.iter().map(|r| r.seeded.clone()).collect();
    let mut line = seeded_c9_line(&judge_seeded(&seeded), &seeded, SOURCE);
    line.details.extend(c9_k_sensitivity(config, &views));
    line
}

/// The top-k values of a row's premise seeds, `a/b` when they differ:
/// the judged column's, or Table 2's absolute k (`second`).
fn row_ks(v: &RowView, second: bool) -> String {
    let mut k: Vec<usize> = v
        .runs
        .iter()
        .filter(|r| r.premise.met)
        .filter_map(|r| {
            if second {
                r.last_checkpoint()?.second_k.as_ref().map(|x| x.k)
            } else {
                Some(r.config.top_k)
            }
        })
        .collect();
    k.sort_unstable();
    k.dedup();
    k.iter().map(usize::to_string).collect::<Vec<_>>().join("/")
}

fn scored_views<'v, 'a>(views: &'v [RowView<'a>]) -> Vec<&'v RowView<'a>> {
    views
        .iter()
        .filter(|v| v.seeded.standing() == RowStanding::Scored)
        .collect()
}

/// The top-k rule of the judged column and each scored row's k (None
/// without a scored row).
fn top_k_rule(views: &[RowView]) -> Option<String> {
    let scored = scored_views(views);
    (!scored.is_empty()).then(|| {
        format!(
            "top-k (judged column: the paper's k/N ratio, round(k_paper N / N_paper), at least 3): {}",
            scored
                .iter()
                .map(|v| format!("{} k {}", v.seeded.label, row_ks(v, false)))
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

/// The top-k rule and, with a second column, the fifth statement and each
/// scored row's gamma at Table 2's k (not judged).
fn c9_k_sensitivity(config: &NetGridConfig, views: &[RowView]) -> Vec<String> {
    let mut out: Vec<String> = top_k_rule(views).into_iter().collect();
    if !config.top_k_paper {
        return out;
    }
    let second: Vec<SeededRow> = views.iter().map(|r| r.second.clone()).collect();
    if let Some(j) = judge_seeded(&second)
        .into_iter()
        .find(|j| j.judgement.statement == crate::claims::c14::IN_ONE_TWO)
        .filter(|j| j.judgement.checked > 0)
    {
        out.push(format!(
            "k-sensitivity (not judged): at Table 2's absolute k, {} {}/{}: {}",
            j.judgement.statement,
            j.judgement.held(),
            j.judgement.checked,
            scored_views(views)
                .iter()
                .map(|v| format!(
                    "{} gamma {} (k {})",
                    v.seeded.label,
                    ms(&v.second.gamma),
                    row_ks(v, true)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    out
}

/// The columns of Table 1 ([`Table1Row::cells`]), as the results document
/// prints them.
pub const TABLE1_HEADER: [&str; 15] = [
    "row",
    "layer",
    "N",
    "premise met (final accuracies)",
    "k (ratio)",
    "gamma",
    "gamma_awd",
    "k (paper)",
    "gamma",
    "gamma_awd",
    "published gamma",
    "published gamma_awd",
    "gamma 95% CI per seed",
    "gamma(k) per seed",
    "standing",
];

/// The columns of [`TABLE1_HEADER`] with the primary top-k column (the
/// paper's ratio) beside the published values, without the second column
/// and the per-seed uncertainty.
pub const TABLE1_PRIMARY: [usize; 10] = [0, 1, 2, 3, 4, 5, 6, 10, 11, 14];

/// The columns of Table 3 ([`table3_rows`]).
pub const TABLE3_HEADER: [&str; 4] = [
    "row",
    "Term I + II",
    "sigma^2 E[h^2] + Term II",
    "published (Term II kept)",
];

/// What Table 3's exponents are.
pub const TABLE3_TEXT: &str = "Exponent of `C_I+II` (Term I + II, first reading) and of `sigma^2 E[h^2] + C_II` (second reading) at the last checkpoint, mean +- std over the premise seeds of the scored rows.";

/// One row of Table 1 as the results document reports it.
#[derive(Debug, Clone)]
pub struct Table1Row {
    /// The row id, e.g. `mnist-mlp-ce-k3`.
    pub id: String,
    /// The primary column over the premise seeds (label `MNIST MLP K=3 CE`,
    /// gamma and gamma_awd per premise seed, standing).
    pub seeded: SeededRow,
    /// The published gamma and gamma_awd.
    pub published: (Option<MeanStd>, Option<MeanStd>),
    /// The cells, in the order of [`TABLE1_HEADER`].
    pub cells: Vec<String>,
    /// Why the row is not scored (not run, or not reproduced with each
    /// seed's reason); None when scored.
    pub not_scored: Option<String>,
}

impl Table1Row {
    /// The row's standing.
    pub fn standing(&self) -> RowStanding {
        self.seeded.standing()
    }
}

/// The published row of `(f, classes)`.
fn published_row<'a>(
    published: Option<&'a Published>,
    f: &super::config::Family,
    classes: usize,
) -> Option<&'a crate::published::Table1Row> {
    published?.table1.iter().find(|t| {
        t.dataset == f.dataset.published_name()
            && t.model == f.model.published_name()
            && t.classes == classes
    })
}

/// Table 1 of the grid, row by row (module doc); a row not run gives the
/// reason of [`not_run_reason`] from the pilot `ledgers` and the budget.
pub fn table1_rows(
    config: &NetGridConfig,
    stored: &StoredRecords,
    ledgers: &[PilotLedger],
) -> Vec<Table1Row> {
    let published = Published::builtin().ok();
    let budget_spent = compute(config, stored, ledgers).1;
    rows(config, stored)
        .into_iter()
        .map(|v| {
            let f = &config.family[v.fi];
            let id = config.row_id(v.fi, v.classes);
            let (k1, k2) = config.top_ks(f, v.classes).unwrap_or((0, None));
            let met: Vec<&&NetRunRecord> = v.runs.iter().filter(|r| r.premise.met).collect();
            let accs: Vec<String> = v
                .runs
                .iter()
                .map(|r| {
                    format!(
                        "{}{}",
                        r.curves
                            .accuracy
                            .last()
                            .filter(|a| a.is_finite())
                            .map_or("n/a".into(), |a| format!("{a:.3}")),
                        if r.premise.met { "" } else { " (not met)" }
                    )
                })
                .collect();
            let (pg, pga) = match (published_row(published.as_ref(), f, v.classes), f.loss) {
                (Some(p), Loss::CrossEntropy) => (Some(p.ce_gamma), Some(p.ce_gamma_awd)),
                (Some(p), Loss::SoftmaxMse) => (Some(p.mse_gamma), Some(p.mse_gamma_awd)),
                _ => (None, None),
            };
            let pub_text = |m: Option<MeanStd>| {
                m.map_or("n/a".into(), |m| format!("{:.2} +- {:.2}", m.mean, m.std))
            };
            let (cis, curves): (Vec<String>, Vec<String>) = met
                .iter()
                .map(|r| {
                    let (ci, curve) = r.uncertainty_cells();
                    (
                        format!("{}: {ci}", r.seed()),
                        format!("{}: {curve}", r.seed()),
                    )
                })
                .unzip();
            let layer = v
                .runs
                .first()
                .map(|r| {
                    let a = &r.config.arch;
                    format!("{:?} {:?}{}", a.model, a.widths, r.config.variant.suffix())
                })
                .unwrap_or_else(|| "n/a".into());
            let (standing, not_scored) = match v.seeded.standing() {
                RowStanding::Scored => ("scored", None),
                RowStanding::NotRun => (
                    "not run",
                    Some(format!(
                        "{id}: {}",
                        not_run_reason(config, f, stored, ledgers, budget_spent)
                    )),
                ),
                RowStanding::NotReproduced => {
                    let reasons: Vec<String> = v
                        .runs
                        .iter()
                        .filter_map(|r| {
                            r.premise
                                .reason
                                .as_ref()
                                .map(|why| format!("seed {}: {why}", r.seed()))
                        })
                        .collect();
                    (
                        "not reproduced",
                        Some(format!(
                            "{id}: not reproduced ({} of {} seeds met the premise, {} needed; {})",
                            met.len(),
                            v.runs.len(),
                            crate::claims::c14::MIN_PREMISE_SEEDS,
                            reasons.join("; ")
                        )),
                    )
                }
            };
            let or_na = |v: Vec<String>| {
                if v.is_empty() {
                    "n/a".into()
                } else {
                    v.join("; ")
                }
            };
            let cells = vec![
                id.clone(),
                layer,
                config.samples(f, v.classes).to_string(),
                format!(
                    "{}/{} ({})",
                    met.len(),
                    config.seeds.len(),
                    if accs.is_empty() {
                        "none".into()
                    } else {
                        accs.join(", ")
                    }
                ),
                k1.to_string(),
                ms(&v.seeded.gamma),
                ms(&v.seeded.gamma_awd),
                k2.map_or("n/a".into(), |k| k.to_string()),
                ms(&v.second.gamma),
                ms(&v.second.gamma_awd),
                pub_text(pg),
                pub_text(pga),
                or_na(cis),
                or_na(curves),
                standing.into(),
            ];
            Table1Row {
                id,
                seeded: v.seeded,
                published: (pg, pga),
                cells,
                not_scored,
            }
        })
        .collect()
}

/// Table 3 of the grid: one row of cells ([`TABLE3_HEADER`]) per MSE row,
/// the two readings' exponents where the row is scored.
pub fn table3_rows(config: &NetGridConfig, stored: &StoredRecords) -> Vec<Vec<String>> {
    let published = Published::builtin().ok();
    rows(config, stored)
        .iter()
        .filter(|v| v.seeded.loss == Loss::SoftmaxMse)
        .map(|v| {
            let f = &config.family[v.fi];
            let (a, b) = if v.seeded.standing() == RowStanding::Scored {
                let of = |name: &str| -> Vec<f64> {
                    v.runs
                        .iter()
                        .filter(|r| r.premise.met)
                        .filter_map(|r| pair_gamma(r, name))
                        .collect()
                };
                (ms(&of("gamma_term12")), ms(&of("gamma_iso_term2")))
            } else {
                ("not scored".into(), "not scored".into())
            };
            vec![
                config.row_id(v.fi, v.classes),
                a,
                b,
                published_row(published.as_ref(), f, v.classes)
                    .map_or("n/a".into(), |p| format!("{:.2}", p.table3_mse_gamma_term2)),
            ]
        })
        .collect()
}

/// A markdown table of `header` and `rows` into `s`.
fn markdown_table<'a>(
    s: &mut String,
    header: &[&str],
    rows: impl Iterator<Item = &'a Vec<String>>,
) {
    let _ = writeln!(
        s,
        "| {} |\n|{}",
        header.join(" | "),
        "---|".repeat(header.len())
    );
    for r in rows {
        let _ = writeln!(s, "| {} |", r.join(" | "));
    }
}

/// The results document of a grid over several K.
pub fn render(
    config: &NetGridConfig,
    stored: &StoredRecords,
    (ledgers, unreadable): &(Vec<PilotLedger>, Vec<String>),
    command: &str,
) -> String {
    let views = rows(config, stored);
    let seeded: Vec<SeededRow> = views.iter().map(|v| v.seeded.clone()).collect();
    let judgements = judge_seeded(&seeded);
    let line = seeded_line(&judgements, &seeded, SOURCE);
    let k_sens = k_sensitivity(config, &views);
    let mut s = String::new();
    let _ = writeln!(s, "# Tables 1 and 3 at the paper's premise\n");
    let _ = writeln!(
        s,
        "Written by `{command}` from the records beside this file; do not edit. \
         Rules: `theory/table1-v2-preregistration.md` (fixed before the run). \
         K = {:?}, seeds {:?} (pilot on seed {} at K = {}), learning rates {:?}, \
         analysis on min({}, K x per class) class-balanced samples at the last checkpoint; \
         top-k {}.\n",
        config.class_list(),
        config.seeds,
        config.pilot_seed(),
        config.pilot_classes(),
        config.lr_candidates,
        config.analyze_samples,
        if config.top_k_paper {
            "in two columns: the paper's ratio k_paper / N_paper applied to the row's N \
             (primary, judged) and the paper's absolute k (Table 2)"
                .to_string()
        } else {
            config.top_k.unwrap_or(0).to_string()
        }
    );
    let _ = writeln!(s, "## C14 at the premise\n");
    let _ = writeln!(s, "**{}**: {}\n", line.status.as_str(), line.summary);
    for (j, d) in judgements.iter().zip(&line.details) {
        let _ = writeln!(s, "- {d}");
        for sp in &j.spread {
            let _ = writeln!(s, "  - {sp}");
        }
    }
    if let Some(k) = &k_sens {
        let _ = writeln!(s, "- {k}");
    }
    let _ = writeln!(
        s,
        "\nA row is scored when at least {} of its seeds meet the premise; its figures are the means over those seeds.\n",
        crate::claims::c14::MIN_PREMISE_SEEDS
    );
    let _ = writeln!(s, "## Table 1\n");
    let table1 = table1_rows(config, stored, ledgers);
    markdown_table(&mut s, &TABLE1_HEADER, table1.iter().map(|r| &r.cells));
    let _ = writeln!(s, "\n## Table 3 (Eq. 58) on the MSE rows\n");
    let _ = writeln!(s, "{TABLE3_TEXT}\n");
    markdown_table(&mut s, &TABLE3_HEADER, table3_rows(config, stored).iter());
    let _ = writeln!(s, "\n## Pilots\n");
    for f in &config.family {
        match stored.pilots.iter().find(|p| p.family == f.id()) {
            None => {
                let _ = writeln!(s, "- {}: {}", f.id(), pilot_progress(config, f, ledgers));
            }
            Some(p) => {
                let chosen = match (&p.choice, &p.no_choice) {
                    (Some(c), _) => format!("lr {} ({})", c.lr, c.reason),
                    (None, why) => format!("no rate chosen ({})", why.as_deref().unwrap_or("?")),
                };
                let cands: Vec<String> = p
                    .candidates
                    .iter()
                    .map(|c| format!("lr {}: acc {:.4}", c.lr, c.accuracy))
                    .collect();
                let _ = writeln!(
                    s,
                    "- {}: {chosen}; network {}; final round {}",
                    f.id(),
                    if p.variant.is_default() {
                        "as configured".to_string()
                    } else {
                        format!(
                            "{} (deviation from the configured network)",
                            p.variant.describe()
                        )
                    },
                    cands.join(", ")
                );
                for r in &p.rounds {
                    let _ = writeln!(
                        s,
                        "  - round on the network {}: {}",
                        r.variant.describe(),
                        r.repeated_because
                    );
                }
            }
        }
    }
    let _ = writeln!(s, "\n## Compute\n");
    let _ = writeln!(s, "{}", compute(config, stored, ledgers).0);
    let _ = writeln!(s, "\n## Rows not scored\n");
    let mut not_scored: Vec<String> = table1.into_iter().filter_map(|r| r.not_scored).collect();
    not_scored.extend(
        unreadable
            .iter()
            .map(|e| format!("unreadable pilot ledger: {e}")),
    );
    stored.write_not_scored(&mut s, not_scored);
    s
}

/// An undecided pilot from its ledger: the rounds seen so far, each with the
/// final training accuracy of every rate trained (and the premise's reason
/// where the accuracy passed its threshold but the premise failed), and for
/// a complete round the rule that repeated it.
fn pilot_progress(
    config: &NetGridConfig,
    f: &super::config::Family,
    ledgers: &[PilotLedger],
) -> String {
    let Some(l) = ledgers.iter().find(|l| l.family == f.id()) else {
        return "no pilot run yet".into();
    };
    let mut variants: Vec<crate::claims::premise::PilotVariant> = Vec::new();
    for e in &l.runs {
        if !variants.contains(&e.plan.variant) {
            variants.push(e.plan.variant);
        }
    }
    let rules = super::ledger::pilot_rules(config, f);
    let rounds: Vec<String> = variants
        .iter()
        .map(|v| {
            let entries: Vec<&super::ledger::PilotLedgerEntry> = config
                .lr_candidates
                .iter()
                .filter_map(|&lr| l.find(&super::ledger::PilotRunPlan::of(config, f, *v, lr)))
                .collect();
            let cands: Vec<_> = entries.iter().map(|e| e.candidate(config)).collect();
            let rates: Vec<String> = entries
                .iter()
                .zip(&cands)
                .map(|(e, o)| match (e.diverged, &o.premise.reason) {
                    (Some(_), _) => format!("lr {}: diverged", o.lr),
                    (None, Some(why)) if !why.contains("final training accuracy") => {
                        format!("lr {}: acc {:.4}, {why}", o.lr, o.accuracy)
                    }
                    _ => format!("lr {}: acc {:.4}", o.lr, o.accuracy),
                })
                .collect();
            let repeated = if entries.len() == config.lr_candidates.len() {
                let round: Vec<_> = cands.iter().map(|o| o.outcome()).collect();
                crate::claims::premise::repeat_pilot(&round, *v, &rules)
                    .map(|(_, why)| format!("; {why}"))
                    .unwrap_or_default()
            } else {
                String::new()
            };
            format!(
                "network {}: {} of {} rates trained ({}){repeated}",
                v.describe(),
                rates.len(),
                config.lr_candidates.len(),
                rates.join(", ")
            )
        })
        .collect();
    format!("pilot under way, no rate chosen yet; {}", rounds.join("; "))
}

/// The time the records hold: pilot training (the ledgers), the further
/// training and the analyses (the run records). An upper bound of the CPU
/// time: training runs single-threaded, so its wall time is at most its
/// CPU time plus what other processes took from it; an analysis records its
/// process's CPU time, which includes a parallel job's. With a `[budget]`,
/// the hours no record holds are added and the sum is measured against it;
/// the flag says whether the budget is spent.
fn compute(
    config: &NetGridConfig,
    stored: &StoredRecords,
    ledgers: &[PilotLedger],
) -> (String, bool) {
    let pilot: f64 = ledgers
        .iter()
        .flat_map(|l| &l.runs)
        .map(|e| e.seconds)
        .filter(|x| x.is_finite())
        .sum();
    let pilot_runs: usize = ledgers.iter().map(|l| l.runs.len()).sum();
    // The pilot's own run is seed 0 of the pilot-K row: counted once, above.
    let further: Vec<&NetRunRecord> = stored
        .runs
        .iter()
        .filter(|r| {
            !(r.config.classes == config.pilot_classes() && r.seed() == config.pilot_seed())
        })
        .collect();
    let train: f64 = further
        .iter()
        .filter_map(|r| r.timings.train_s)
        .filter(|x| x.is_finite())
        .sum();
    let analysis: f64 = stored
        .runs
        .iter()
        .map(|r| r.timings.analyze_cpu_s.unwrap_or(r.timings.analyze_s))
        .filter(|x| x.is_finite())
        .sum();
    let h = |x: f64| x / 3600.0;
    let recorded = h(pilot + train + analysis);
    let mut text = format!(
        "Hours in these records (an upper bound of the CPU time: single-threaded training's wall time, and each analysis's process CPU time, which counts a parallel job's too): pilot training {:.2} ({pilot_runs} runs), further training {:.2} ({} runs), analysis {:.2} ({} runs); total {recorded:.2}.",
        h(pilot),
        h(train),
        further.len(),
        h(analysis),
        stored.runs.len(),
    );
    let Some(b) = &config.budget else {
        return (text, false);
    };
    let spent = recorded + b.unrecorded_cpu_hours;
    let is_spent = spent >= b.cpu_hours;
    if b.unrecorded_cpu_hours > 0.0 {
        let _ = write!(
            text,
            " Spent outside these records: {:.2}{}.",
            b.unrecorded_cpu_hours,
            b.unrecorded_why
                .as_deref()
                .map_or(String::new(), |w| format!(" ({w})"))
        );
    }
    let _ = write!(
        text,
        " Budget: {:.2} CPU-hours; spent {spent:.2}: {}.",
        b.cpu_hours,
        if is_spent {
            "the budget is spent, so the rows not analysed stay not run (amendment 7 of the preregistration)"
        } else {
            "within the budget"
        }
    );
    (text, is_spent)
}

/// Why a row with no analysis record was not run: the budget when it is
/// spent, with its family's pilot as it stands (the best final training
/// accuracy its ledger holds, or the chosen rate).
fn not_run_reason(
    config: &NetGridConfig,
    f: &super::config::Family,
    stored: &StoredRecords,
    ledgers: &[PilotLedger],
    budget_spent: bool,
) -> String {
    let pilot = match stored.pilots.iter().find(|p| p.family == f.id()) {
        Some(p) if p.choice.is_some() => {
            "its family's pilot chose a rate, its runs were not analysed".to_string()
        }
        Some(_) => "its family's pilot chose no rate".to_string(),
        None => {
            let entries: Vec<&super::ledger::PilotLedgerEntry> = ledgers
                .iter()
                .filter(|l| l.family == f.id())
                .flat_map(|l| &l.runs)
                .collect();
            let rounds = {
                let mut v: Vec<_> = entries.iter().map(|e| e.plan.variant).collect();
                v.dedup();
                v.len()
            };
            let best = entries
                .iter()
                .map(|e| e.candidate(config))
                .filter(|c| c.accuracy.is_finite())
                .max_by(|a, b| a.accuracy.total_cmp(&b.accuracy));
            match best {
                Some(c) => format!(
                    "its family's pilot is undecided after {rounds} round(s), {} runs: best final training accuracy {:.4} (lr {}){}",
                    entries.len(),
                    c.accuracy,
                    c.lr,
                    c.premise
                        .reason
                        .as_deref()
                        .map_or(String::new(), |r| format!(", {r}"))
                ),
                None => "its family's pilot has no run".to_string(),
            }
        }
    };
    if budget_spent {
        format!("not run: the CPU budget is spent (RESULTS.md, Compute); {pilot}")
    } else {
        format!("not run yet: {pilot}")
    }
}
