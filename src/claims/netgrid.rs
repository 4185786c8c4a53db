//! The cross-seed and cross-family judgement of the net-claims grid (the
//! trained-network side of C6, C7, C13 and C15; records of
//! `superlinear net-grid`), as one verdict line per claim in the status
//! vocabulary of [`super::evidence`].
//!
//! Per family and claim, over the family's seeds:
//! - **not reproduced** when no seed met the premise (the reasons listed);
//! - otherwise only the seeds that met it are *scored*; if fewer than 2 are
//!   scored, or one scored seed's own outcome is unchecked (the figures did
//!   not allow a verdict), **insufficient evidence**;
//! - **verified** when every scored seed is verified;
//! - **counterexample** when every scored seed is a counterexample;
//! - **insufficient evidence** when the seeds disagree.
//!
//! Over the families of the grid (`F` of them, 8 in `experiments/netgrid.toml`):
//! - **counterexample** if any family is a counterexample (they are named);
//! - **not reproduced** if no family is scored (none has a seed meeting the
//!   premise);
//! - **verified** if every scored family is verified and at least `F / 2`
//!   families are scored;
//! - **insufficient evidence** otherwise.
//!
//! The summary names the seeds counted and the families scored; the details
//! hold one line per family with its seeds' verdicts and the seed spread
//! (mean +- sample std) of the claim's key figure ([`key_figure`]).
//!
//! C13 adds a comparison across losses (Sec. 5.3: CE's top per-sample
//! eigenvalue is entangled with its alignment to H's top directions, MSE's
//! is not; rule in `theory/net-claims.md`). For each (data, model) whose CE
//! and MSE families both have at least 2 scored seeds, with the seed means
//! `m`, standard deviations `s` and counts `n` of the entanglement
//! correlation `corr(lambda_p1, (u_p1 . v_i)^2)` (mean over the top-k):
//! `d = m_CE - m_MSE`, `se = sqrt(s_CE^2 / n_CE + s_MSE^2 / n_MSE)`;
//! verified when `d > 2 se`, counterexample when `d < -2 se`, insufficient
//! evidence otherwise; a pair short of scored seeds is not reproduced. A
//! counterexample pair makes C13's line a counterexample; an undecided pair
//! keeps it from verified.

use std::collections::BTreeMap;

use super::evidence::{Line, Status};

/// The claims the grid judges, in order.
pub const NET_GRID_CLAIMS: [&str; 7] = ["C3", "C6", "C7", "C7-R3.5", "C8", "C13", "C15"];

/// The named figure quoted (with its seed spread) for a claim.
pub fn key_figure(claim: &str) -> &'static str {
    match claim {
        "C3" => "z",
        "C6" => "residual_free",
        "C7-R3.5" => "commutator",
        "C8" => "first_moment_share",
        "C7" => "rel_term1_vs_iso_median",
        "C13" => "gamma_awd_homogenized",
        "C15" => "gamma_last",
        _ => "",
    }
}

/// The key figure of [`key_figure`] in symbols and words, as the summaries
/// print it.
pub fn key_figure_label(claim: &str) -> &'static str {
    match claim {
        "C3" => "z of rho_bar against its Haar null",
        "C6" => "Term I's misfit min_a |Dg - a T1|^2 / |Dg|^2",
        "C7-R3.5" => "the commutator |[C,H]|",
        "C8" => "the first-moment share of C",
        "C7" => "median C_I / (sigma^2 E[h^2]) - 1",
        "C13" => "gamma_awd after suppression",
        "C15" => "gamma at the last checkpoint",
        _ => "",
    }
}

/// What a claim's per-seed uncertainty text ([`SeedEvidence::uncertainty`])
/// lists, as its family line introduces it.
pub fn uncertainty_label(claim: &str) -> &'static str {
    match claim {
        "C15" => "gamma at the last checkpoint (95% bootstrap CI over samples; gamma(k))",
        _ => "the exponents judged (95% bootstrap CI over samples, basis fixed; gamma(k) ends)",
    }
}

/// One claim's outcome on one seed.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedClaim {
    /// The run's own verdict.
    pub status: Status,
    /// The key figure ([`key_figure`]), when measured and finite.
    pub key: Option<f64>,
}

/// What one analysed run contributes.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedEvidence {
    /// Family id, `<dataset>-<model>-<loss>`.
    pub family: String,
    /// Seed.
    pub seed: u64,
    /// Whether the run met the premise (`Err`: the measured reason).
    pub premise: Result<(), String>,
    /// Outcomes by claim id.
    pub claims: BTreeMap<String, SeedClaim>,
    /// C13's entanglement correlation at the last checkpoint (mean over the
    /// top-k), when measured and finite.
    pub entanglement: Option<f64>,
    /// By claim (C6, C7, C13, C15): what the claim's exponents rest on at
    /// the last checkpoint, as text: each fitted gamma with its bootstrap
    /// interval over samples and its k-sensitivity (the gamma(k) curve's
    /// ends) where the record holds them, and which it cannot bound; listed
    /// per scored seed in the claim's family line ([`uncertainty_label`]).
    pub uncertainty: BTreeMap<String, String>,
}

/// `mean +- std (n = ..)` of the finite values, or "n/a".
pub fn spread_text(values: &[f64]) -> String {
    let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    match crate::stats::mean_std(&v) {
        Some((m, s)) => format!("{m:.4} +- {s:.4} (n = {})", v.len()),
        None => "n/a".into(),
    }
}

/// The status of one family for one claim, and its detail line.
pub fn family_line(claim: &str, family: &str, runs: &[&SeedEvidence]) -> (Status, String) {
    let mut runs: Vec<&SeedEvidence> = runs.to_vec();
    runs.sort_by_key(|r| r.seed);
    let scored: Vec<&SeedEvidence> = runs.iter().copied().filter(|r| r.premise.is_ok()).collect();
    if scored.is_empty() {
        let reasons: Vec<String> = runs
            .iter()
            .map(|r| {
                format!(
                    "seed {}: {}",
                    r.seed,
                    r.premise.as_ref().err().map_or("", String::as_str)
                )
            })
            .collect();
        let why = if reasons.is_empty() {
            "no analysed seed".to_string()
        } else {
            reasons.join("; ")
        };
        return (
            Status::NotReproduced,
            format!("{family}: not reproduced (premise not met: {why})"),
        );
    }
    let verdicts: Vec<(u64, Option<&SeedClaim>)> = scored
        .iter()
        .map(|r| (r.seed, r.claims.get(claim)))
        .collect();
    let words: Vec<String> = verdicts
        .iter()
        .map(|(s, c)| format!("{s}: {}", c.map_or("missing", |c| c.status.as_str())))
        .collect();
    let keys: Vec<f64> = verdicts
        .iter()
        .filter_map(|(_, c)| c.and_then(|c| c.key))
        .collect();
    let unchecked = verdicts.iter().any(|(_, c)| {
        c.is_none_or(|c| {
            matches!(
                c.status,
                Status::Unchecked | Status::InsufficientEvidence | Status::NotReproduced
            )
        })
    });
    let pass = |c: &Option<&SeedClaim>| c.is_some_and(|c| c.status == Status::Verified);
    let broken = |c: &Option<&SeedClaim>| c.is_some_and(|c| c.status == Status::Counterexample);
    let status = if unchecked || scored.len() < 2 {
        Status::InsufficientEvidence
    } else if verdicts.iter().all(|(_, c)| pass(c)) {
        Status::Verified
    } else if verdicts.iter().all(|(_, c)| broken(c)) {
        Status::Counterexample
    } else {
        Status::InsufficientEvidence
    };
    let unscored: Vec<String> = runs
        .iter()
        .filter_map(|r| {
            r.premise
                .as_ref()
                .err()
                .map(|e| format!("seed {} not scored: {e}", r.seed))
        })
        .collect();
    let mut line = format!(
        "{family}: {} ({} seeds scored: {}; {} {})",
        status.as_str(),
        scored.len(),
        words.join(", "),
        key_figure_label(claim),
        spread_text(&keys)
    );
    let per_seed: Vec<String> = scored
        .iter()
        .filter_map(|r| Some(format!("{}: {}", r.seed, r.uncertainty.get(claim)?)))
        .collect();
    if !per_seed.is_empty() {
        line.push_str(&format!(
            "; {} per seed: {}",
            uncertainty_label(claim),
            per_seed.join("; ")
        ));
    }
    if !unscored.is_empty() {
        line.push_str(&format!("; {}", unscored.join("; ")));
    }
    (status, line)
}

/// One line per claim of [`NET_GRID_CLAIMS`] (module doc) from the analysed
/// runs of the grid; `families` lists every family of the grid (a family
/// with no run counts as not scored). `source` names the records.
pub fn net_grid_lines(
    runs: &[SeedEvidence],
    families: &[String],
    source: &str,
) -> BTreeMap<String, Line> {
    NET_GRID_CLAIMS
        .iter()
        .map(|&claim| (claim.to_string(), claim_line(claim, runs, families, source)))
        .collect()
}

fn claim_line(claim: &str, runs: &[SeedEvidence], families: &[String], source: &str) -> Line {
    let mut details = Vec::new();
    let mut by_status: BTreeMap<Status, Vec<&str>> = BTreeMap::new();
    let mut seeds_counted = 0;
    let mut keys = Vec::new();
    for fam in families {
        let fr: Vec<&SeedEvidence> = runs.iter().filter(|r| &r.family == fam).collect();
        let (status, line) = family_line(claim, fam, &fr);
        if status != Status::NotReproduced {
            for r in fr.iter().filter(|r| r.premise.is_ok()) {
                seeds_counted += 1;
                if let Some(k) = r.claims.get(claim).and_then(|c| c.key) {
                    keys.push(k);
                }
            }
        }
        by_status.entry(status).or_default().push(fam);
        details.push(line);
    }
    let count = |s: Status| by_status.get(&s).map_or(0, Vec::len);
    let scored = families.len() - count(Status::NotReproduced);
    let mut status = if count(Status::Counterexample) > 0 {
        Status::Counterexample
    } else if scored == 0 {
        Status::NotReproduced
    } else if count(Status::Verified) == scored && 2 * scored >= families.len() {
        Status::Verified
    } else {
        Status::InsufficientEvidence
    };
    let mut across = String::new();
    if claim == "C13" {
        let pairs = across_losses(runs, families);
        let judged: Vec<&(Status, String)> = pairs
            .iter()
            .filter(|(s, _)| *s != Status::NotReproduced)
            .collect();
        if judged.iter().any(|(s, _)| *s == Status::Counterexample) {
            status = Status::Counterexample;
        } else if status == Status::Verified && judged.iter().any(|(s, _)| *s != Status::Verified) {
            status = Status::InsufficientEvidence;
        }
        let words: Vec<&str> = pairs.iter().map(|(s, _)| s.as_str()).collect();
        if !pairs.is_empty() {
            across = format!(
                "; CE vs MSE entanglement: {} of {} (data, model) pairs judged ({})",
                judged.len(),
                pairs.len(),
                words.join(", ")
            );
        }
        details.extend(pairs.into_iter().map(|(_, l)| l));
    }
    let tally: Vec<String> = Status::ALL
        .iter()
        .filter(|s| count(**s) > 0)
        .map(|s| {
            let names = &by_status[s];
            if *s == Status::Counterexample || *s == Status::NotReproduced {
                format!("{} {} ({})", s.as_str(), names.len(), names.join(", "))
            } else {
                format!("{} {}", s.as_str(), names.len())
            }
        })
        .collect();
    let summary = format!(
        "{claim} on trained networks: {scored} of {} families scored, {seeds_counted} seeds counted; {}; {} over the scored seeds {}{across}",
        families.len(),
        tally.join(", "),
        key_figure_label(claim),
        spread_text(&keys)
    );
    Line {
        status,
        summary,
        details,
        source: source.to_string(),
    }
}

/// C13's comparison across losses (module doc): one `(status, detail)` per
/// (data, model) of `families` that has both a CE and an MSE family.
pub fn across_losses(runs: &[SeedEvidence], families: &[String]) -> Vec<(Status, String)> {
    let mut out = Vec::new();
    for ce in families.iter().filter(|f| f.ends_with("-ce")) {
        let base = &ce[..ce.len() - 3];
        let mse = format!("{base}-mse");
        if !families.contains(&mse) {
            continue;
        }
        let seeds = |fam: &str| -> (Vec<f64>, Vec<String>) {
            let mut values = Vec::new();
            let mut reasons = Vec::new();
            let mut fr: Vec<&SeedEvidence> = runs.iter().filter(|r| r.family == fam).collect();
            fr.sort_by_key(|r| r.seed);
            for r in fr {
                match (&r.premise, r.entanglement.filter(|v| v.is_finite())) {
                    (Ok(()), Some(v)) => values.push(v),
                    (Ok(()), None) => reasons.push(format!("{fam} seed {}: not measured", r.seed)),
                    (Err(e), _) => reasons.push(format!("{fam} seed {}: {e}", r.seed)),
                }
            }
            (values, reasons)
        };
        let (vc, rc) = seeds(ce);
        let (vm, rm) = seeds(&mse);
        if vc.len() < 2 || vm.len() < 2 {
            let mut why: Vec<String> = rc.into_iter().chain(rm).collect();
            if why.is_empty() {
                why.push("no analysed seed".into());
            }
            out.push((
                Status::NotReproduced,
                format!(
                    "{base} CE vs MSE entanglement: not reproduced ({} CE and {} MSE seeds scored, 2 each needed: {})",
                    vc.len(),
                    vm.len(),
                    why.join("; ")
                ),
            ));
            continue;
        }
        let (Some((mc, sc)), Some((mm, sm))) =
            (crate::stats::mean_std(&vc), crate::stats::mean_std(&vm))
        else {
            continue;
        };
        let d = mc - mm;
        let se = (sc * sc / vc.len() as f64 + sm * sm / vm.len() as f64).sqrt();
        let status = if d > 2.0 * se {
            Status::Verified
        } else if d < -2.0 * se {
            Status::Counterexample
        } else {
            Status::InsufficientEvidence
        };
        out.push((
            status,
            format!(
                "{base} CE vs MSE entanglement: {} (CE {}, MSE {}; difference {d:.4}, 2 se {:.4})",
                status.as_str(),
                spread_text(&vc),
                spread_text(&vm),
                2.0 * se
            ),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(family: &str, seed: u64, premise: bool, v: Status) -> SeedEvidence {
        SeedEvidence {
            family: family.into(),
            seed,
            premise: if premise {
                Ok(())
            } else {
                Err("final training accuracy 0.9 < 0.99".into())
            },
            claims: [(
                "C6".to_string(),
                SeedClaim {
                    status: v,
                    key: Some(0.05 + seed as f64 * 0.01),
                },
            )]
            .into_iter()
            .collect(),
            entanglement: None,
            uncertainty: BTreeMap::new(),
        }
    }

    /// C15's family line lists each scored seed's bootstrap interval and
    /// gamma(k) ends; other claims' lines and unscored seeds do not.
    #[test]
    fn c15_lines_carry_each_seeds_interval_and_k_sensitivity() {
        let with = |seed: u64, premise: bool| SeedEvidence {
            uncertainty: [(
                "C15".to_string(),
                format!("[1.{seed}0, 1.{seed}5]; 1.0 (k 50) to 1.{seed} (k 500)"),
            )]
            .into_iter()
            .collect(),
            ..run("f", seed, premise, Status::Verified)
        };
        let runs = [with(1, true), with(2, true), with(3, false)];
        let r: Vec<&SeedEvidence> = runs.iter().collect();
        let (_, line) = family_line("C15", "f", &r);
        assert!(
            line.contains(
                "gamma(k)) per seed: 1: [1.10, 1.15]; 1.0 (k 50) to 1.1 (k 500); 2: [1.20, 1.25]"
            ),
            "{line}"
        );
        assert!(!line.contains("[1.30"), "{line}");
        assert!(!family_line("C6", "f", &r).1.contains("bootstrap"));
    }

    fn family_status(runs: &[SeedEvidence]) -> Status {
        let r: Vec<&SeedEvidence> = runs.iter().collect();
        family_line("C6", "f", &r).0
    }

    #[test]
    fn family_rule_flips_with_seeds_and_verdicts() {
        use Status::*;
        let f = |v: &[(bool, Status)]| -> Vec<SeedEvidence> {
            v.iter()
                .enumerate()
                .map(|(i, &(p, v))| run("f", i as u64, p, v))
                .collect()
        };
        assert_eq!(
            family_status(&f(&[(true, Verified), (true, Verified)])),
            Status::Verified
        );
        assert_eq!(
            family_status(&f(&[(true, Verified)])),
            Status::InsufficientEvidence
        );
        assert_eq!(
            family_status(&f(&[
                (true, Verified),
                (false, Counterexample),
                (true, Verified)
            ])),
            Status::Verified
        );
        assert_eq!(
            family_status(&f(&[(true, Counterexample), (true, Counterexample)])),
            Status::Counterexample
        );
        assert_eq!(
            family_status(&f(&[(true, Counterexample), (false, Verified)])),
            Status::InsufficientEvidence
        );
        assert_eq!(
            family_status(&f(&[(true, Verified), (true, Counterexample)])),
            Status::InsufficientEvidence
        );
        assert_eq!(
            family_status(&f(&[(true, Verified), (true, Unchecked)])),
            Status::InsufficientEvidence
        );
        assert_eq!(
            family_status(&f(&[(false, Verified), (false, Verified)])),
            Status::NotReproduced
        );
        assert_eq!(family_status(&[]), Status::NotReproduced);
    }

    fn fams(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("f{i}")).collect()
    }

    fn two_seeds(family: &str, v: Status, premise: bool) -> Vec<SeedEvidence> {
        vec![run(family, 0, premise, v), run(family, 1, premise, v)]
    }

    #[test]
    fn claim_rule_over_families() {
        let families = fams(8);
        let grid = |spec: &[(usize, Status, bool)]| -> Status {
            let runs: Vec<SeedEvidence> = spec
                .iter()
                .flat_map(|&(i, v, p)| two_seeds(&families[i], v, p))
                .collect();
            net_grid_lines(&runs, &families, "test")["C6"].status
        };
        let pass4: Vec<_> = (0..4).map(|i| (i, Status::Verified, true)).collect();
        assert_eq!(grid(&pass4), Status::Verified);
        assert_eq!(grid(&pass4[..3]), Status::InsufficientEvidence);
        let mut with_fail = pass4.clone();
        with_fail.push((7, Status::Counterexample, true));
        let line = &net_grid_lines(
            &with_fail
                .iter()
                .flat_map(|&(i, v, p)| two_seeds(&families[i], v, p))
                .collect::<Vec<_>>(),
            &families,
            "test",
        )["C6"];
        assert_eq!(line.status, Status::Counterexample);
        assert!(line.summary.contains("f7"), "{}", line.summary);
        assert!(
            line.summary.contains("10 seeds counted"),
            "{}",
            line.summary
        );
        let mut with_unsure = pass4.clone();
        with_unsure.push((5, Status::Unchecked, true));
        assert_eq!(grid(&with_unsure), Status::InsufficientEvidence);
        assert_eq!(
            grid(&[(0, Status::Verified, false), (1, Status::Verified, false)]),
            Status::NotReproduced
        );
        assert_eq!(grid(&[]), Status::NotReproduced);
        // Unscored families do not block verification once half are scored.
        let mut with_unscored = pass4.clone();
        with_unscored.push((6, Status::Counterexample, false));
        assert_eq!(grid(&with_unscored), Status::Verified);
    }

    fn entangled(family: &str, seed: u64, premise: bool, e: f64) -> SeedEvidence {
        SeedEvidence {
            entanglement: Some(e),
            ..run(family, seed, premise, Status::Verified)
        }
    }

    #[test]
    fn across_losses_orders_ce_above_mse_by_two_standard_errors() {
        let families: Vec<String> = ["m-mlp-ce", "m-mlp-mse", "c-cnn-ce"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let judge = |ce: &[f64], mse: &[f64]| -> Status {
            let mut runs: Vec<SeedEvidence> = ce
                .iter()
                .enumerate()
                .map(|(i, &e)| entangled("m-mlp-ce", i as u64, true, e))
                .collect();
            runs.extend(
                mse.iter()
                    .enumerate()
                    .map(|(i, &e)| entangled("m-mlp-mse", i as u64, true, e)),
            );
            let pairs = across_losses(&runs, &families);
            assert_eq!(pairs.len(), 1, "only m-mlp has both losses");
            pairs[0].0
        };
        assert_eq!(judge(&[0.30, 0.32], &[0.01, 0.02]), Status::Verified);
        assert_eq!(judge(&[0.01, 0.02], &[0.30, 0.32]), Status::Counterexample);
        // A difference inside two standard errors decides nothing.
        assert_eq!(
            judge(&[0.0, 0.4], &[0.1, 0.12]),
            Status::InsufficientEvidence
        );
        assert_eq!(judge(&[0.3], &[0.0, 0.01]), Status::NotReproduced);
        // Unscored seeds do not count.
        let runs = vec![
            entangled("m-mlp-ce", 0, true, 0.3),
            entangled("m-mlp-ce", 1, false, 0.3),
            entangled("m-mlp-mse", 0, true, 0.0),
            entangled("m-mlp-mse", 1, true, 0.0),
        ];
        let pairs = across_losses(&runs, &families);
        assert_eq!(pairs[0].0, Status::NotReproduced);
        assert!(
            pairs[0]
                .1
                .contains("m-mlp-ce seed 1: final training accuracy"),
            "{}",
            pairs[0].1
        );
    }

    #[test]
    fn a_counterexample_across_losses_makes_c13_a_counterexample() {
        let families: Vec<String> = ["m-mlp-ce", "m-mlp-mse"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut runs = Vec::new();
        for (fam, e) in [("m-mlp-ce", 0.0), ("m-mlp-mse", 0.3)] {
            for seed in 0..2 {
                let mut r = entangled(fam, seed, true, e + seed as f64 * 0.01);
                r.claims = [(
                    "C13".to_string(),
                    SeedClaim {
                        status: Status::Verified,
                        key: Some(1.0),
                    },
                )]
                .into_iter()
                .collect();
                runs.push(r);
            }
        }
        let line = &net_grid_lines(&runs, &families, "test")["C13"];
        assert_eq!(line.status, Status::Counterexample, "{line:?}");
        assert!(
            line.summary.contains("CE vs MSE entanglement"),
            "{}",
            line.summary
        );
        assert!(line
            .details
            .iter()
            .any(|d| d.contains("m-mlp CE vs MSE entanglement: counterexample")));
        // Without the comparison's counterexample the families alone verify.
        for r in &mut runs {
            r.entanglement = Some(0.1);
        }
        let line = &net_grid_lines(&runs, &families, "test")["C13"];
        assert_eq!(line.status, Status::InsufficientEvidence, "{line:?}");
    }
}
