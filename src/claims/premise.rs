//! The premise of the net-claims grid (the paper's "trained to convergence",
//! the premise of C6, C7, C9, C13 and C15 on trained networks) and the
//! learning-rate rule on the seed-0 pilot, as fixed in
//! `experiments/netgrid.toml` before the grid ran.
//!
//! Premise, with `acc_E` and `L_E` the final training accuracy and loss after
//! `E` epochs:
//! - cross-entropy: `acc_E >= ce_min_accuracy` (0.99);
//! - softmax-MSE: `acc_E >= mse_min_accuracy` (0.95) and a plateau of the
//!   training accuracy, `|acc_E - acc_{E-m}| <= mse_plateau_max_accuracy_change`
//!   (0.005) with `m = mse_plateau_epochs` (20). (The loss of a run that fits
//!   its data keeps falling like a power of the epoch, so the plateau is
//!   stated on accuracy; the toml says how this was settled.)
//!
//! A non-finite final loss never meets the premise.
//!
//! Learning-rate rule: among the candidate rates whose seed-0 run meets the
//! premise, the one with the lowest final training loss; when none meets it,
//! the one with the highest final training accuracy (ties within
//! [`ACCURACY_TIE`]: the lower loss), and the family is reported as premise
//! not met. A run with a non-finite loss is never chosen.

use serde::{Deserialize, Serialize};

use crate::loss::Loss;
use crate::spec::Init;

/// Final accuracies this close count as a tie in the learning-rate rule.
pub const ACCURACY_TIE: f64 = 0.002;

/// The premise thresholds (`[premise]` of `experiments/netgrid.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Premise {
    /// Smallest final training accuracy of a cross-entropy run.
    pub ce_min_accuracy: f64,
    /// Smallest final training accuracy of a softmax-MSE run.
    pub mse_min_accuracy: f64,
    /// Window of the plateau rule (epochs).
    pub mse_plateau_epochs: usize,
    /// Largest change of the training accuracy over the window.
    pub mse_plateau_max_accuracy_change: f64,
}

impl Premise {
    /// The thresholds of `experiments/netgrid.toml` (a test keeps the two
    /// equal), for commands that judge one layer without the grid's config.
    pub const GRID: Premise = Premise {
        ce_min_accuracy: 0.99,
        mse_min_accuracy: 0.95,
        mse_plateau_epochs: 20,
        mse_plateau_max_accuracy_change: 0.005,
    };

    /// The smallest final training accuracy for `loss`.
    pub fn min_accuracy(&self, loss: Loss) -> f64 {
        match loss {
            Loss::SoftmaxMse => self.mse_min_accuracy,
            _ => self.ce_min_accuracy,
        }
    }
}

/// Whether a run meets the premise; `Err` holds the measured reason.
///
/// `accuracy` and `loss` are the per-epoch curves (index 0: initialisation,
/// the last entry: the final epoch).
pub fn premise_met(
    loss_kind: Loss,
    accuracy: &[f64],
    loss: &[f64],
    p: &Premise,
) -> Result<(), String> {
    let (Some(&acc), Some(&last)) = (accuracy.last(), loss.last()) else {
        return Err("no training curve".into());
    };
    if !last.is_finite() {
        return Err(format!("final training loss {last} is not finite"));
    }
    match loss_kind {
        Loss::SoftmaxMse => {
            if acc.is_nan() || acc < p.mse_min_accuracy {
                return Err(format!(
                    "final training accuracy {acc:.4} < {}",
                    p.mse_min_accuracy
                ));
            }
            let m = p.mse_plateau_epochs;
            if accuracy.len() <= m {
                return Err(format!(
                    "{} epochs, fewer than the plateau window of {m}",
                    accuracy.len().saturating_sub(1)
                ));
            }
            let before = accuracy[accuracy.len() - 1 - m];
            let change = (acc - before).abs();
            if change.is_nan() || change > p.mse_plateau_max_accuracy_change {
                return Err(format!(
                    "no plateau: training accuracy changed by {change:.4} over the last {m} epochs ({before:.4} -> {acc:.4}; limit {})",
                    p.mse_plateau_max_accuracy_change
                ));
            }
            Ok(())
        }
        _ => {
            if acc >= p.ce_min_accuracy {
                Ok(())
            } else {
                Err(format!(
                    "final training accuracy {acc:.4} < {}",
                    p.ce_min_accuracy
                ))
            }
        }
    }
}

/// One candidate rate's seed-0 pilot outcome.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PilotOutcome {
    /// Learning rate.
    pub lr: f64,
    /// Final training accuracy.
    pub accuracy: f64,
    /// Final training loss.
    pub loss: f64,
    /// Whether the run met the premise.
    pub premise_met: bool,
}

/// The chosen rate and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LrChoice {
    /// The chosen rate.
    pub lr: f64,
    /// Whether the chosen run met the premise (false: the family is reported
    /// as premise not met).
    pub premise_met: bool,
    /// The rule that chose it, with the figures.
    pub reason: String,
}

/// The learning-rate rule (module doc). `Err` when no candidate has a finite
/// final loss.
pub fn choose_lr(pilot: &[PilotOutcome]) -> Result<LrChoice, String> {
    let finite: Vec<&PilotOutcome> = pilot
        .iter()
        .filter(|o| o.loss.is_finite() && o.accuracy.is_finite())
        .collect();
    if finite.is_empty() {
        return Err(format!(
            "no candidate rate has a finite final loss ({} tried)",
            pilot.len()
        ));
    }
    let lowest_loss = |c: &[&PilotOutcome]| -> PilotOutcome {
        **c.iter()
            .min_by(|a, b| a.loss.total_cmp(&b.loss).then(a.lr.total_cmp(&b.lr)))
            .expect("non-empty")
    };
    let met: Vec<&PilotOutcome> = finite.iter().copied().filter(|o| o.premise_met).collect();
    if !met.is_empty() {
        let o = lowest_loss(&met);
        return Ok(LrChoice {
            lr: o.lr,
            premise_met: true,
            reason: format!(
                "lowest final training loss ({:.4e}) among the {} of {} rates meeting the premise",
                o.loss,
                met.len(),
                pilot.len()
            ),
        });
    }
    let best = finite
        .iter()
        .map(|o| o.accuracy)
        .fold(f64::NEG_INFINITY, f64::max);
    let tied: Vec<&PilotOutcome> = finite
        .iter()
        .copied()
        .filter(|o| o.accuracy >= best - ACCURACY_TIE)
        .collect();
    let o = lowest_loss(&tied);
    Ok(LrChoice {
        lr: o.lr,
        premise_met: false,
        reason: format!(
            "no rate meets the premise: highest final training accuracy ({:.4}; {} within {ACCURACY_TIE}, lowest loss {:.4e} among them)",
            o.accuracy,
            tied.len(),
            o.loss
        ),
    })
}

/// The network a pilot round trains: how often the layers before the
/// analysed one were doubled in width, and the initial draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PilotVariant {
    /// Doublings of the widths before the analysed layer (0: as configured).
    pub widen: u32,
    /// The initial draw of the weights.
    pub init: Init,
}

impl PilotVariant {
    /// The configured network (no widening, default initialisation).
    pub fn is_default(&self) -> bool {
        *self == PilotVariant::default()
    }

    /// In words: `as configured`, or the widenings and/or the He-uniform
    /// initialisation (`widths doubled once, He-uniform initialisation`).
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        match self.widen {
            0 => {}
            1 => parts.push("widths doubled once".to_string()),
            n => parts.push(format!("widths doubled {n} times")),
        }
        if self.init == Init::HeUniform {
            parts.push("He-uniform initialisation".into());
        }
        if parts.is_empty() {
            "as configured".into()
        } else {
            parts.join(", ")
        }
    }

    /// `""` for the default, else `-wide<n>` and/or `-he` (directory names).
    pub fn suffix(&self) -> String {
        let mut s = String::new();
        if self.widen > 0 {
            s.push_str(&format!("-wide{}", self.widen));
        }
        if self.init == Init::HeUniform {
            s.push_str("-he");
        }
        s
    }
}

/// The rules that repeat a pilot (`theory/table1-v2-preregistration.md`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PilotRules {
    /// Most widenings (0: none).
    pub widen_max: u32,
    /// Whether the family may switch to He-uniform initialisation (the
    /// softmax-MSE CNN families when the config sets a margin).
    pub he_init_applies: bool,
    /// "At chance": every final accuracy within this of `1/K`.
    pub chance_margin: f64,
    /// Classes K of the pilot.
    pub classes: usize,
}

/// Whether a finished pilot round is repeated, and on which network.
///
/// A round in which some rate meets the premise decides (`None`). Otherwise,
/// in this order: (1) when the He-uniform rule applies to the family, the
/// round ran with the default draw and every rate's final training accuracy
/// is within `chance_margin` of `1/K` (a NaN accuracy counts as at chance:
/// the run learnt nothing), the pilot is repeated once with He-uniform
/// initialisation at the same width; (2) when fewer than `widen_max`
/// widenings were made, it is repeated with the widths before the analysed
/// layer doubled (keeping the draw). Else the round decides by the
/// fallback of [`choose_lr`]. `Some` holds the next network and the reason,
/// with the accuracies that caused it.
pub fn repeat_pilot(
    round: &[PilotOutcome],
    current: PilotVariant,
    rules: &PilotRules,
) -> Option<(PilotVariant, String)> {
    if round.is_empty() || round.iter().any(|o| o.premise_met) {
        return None;
    }
    let accs: Vec<String> = round
        .iter()
        .map(|o| format!("lr {}: {:.4}", o.lr, o.accuracy))
        .collect();
    let chance = 1.0 / rules.classes.max(1) as f64;
    let at_chance = round.iter().all(|o| {
        let d = (o.accuracy - chance).abs();
        d.is_nan() || d <= rules.chance_margin
    });
    if rules.he_init_applies && current.init == Init::FanIn && at_chance {
        return Some((
            PilotVariant {
                init: Init::HeUniform,
                ..current
            },
            format!(
                "every rate ended within {} of chance ({chance:.3}) with the default initialisation ({}): repeated with He-uniform initialisation",
                rules.chance_margin,
                accs.join(", ")
            ),
        ));
    }
    if current.widen < rules.widen_max {
        return Some((
            PilotVariant {
                widen: current.widen + 1,
                ..current
            },
            format!(
                "no rate met the premise ({}): repeated with the widths before the analysed layer doubled (widening {} of at most {})",
                accs.join(", "),
                current.widen + 1,
                rules.widen_max
            ),
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn premise() -> Premise {
        Premise {
            ce_min_accuracy: 0.99,
            mse_min_accuracy: 0.95,
            mse_plateau_epochs: 20,
            mse_plateau_max_accuracy_change: 0.005,
        }
    }

    #[test]
    fn ce_premise_flips_at_its_accuracy() {
        let p = premise();
        let loss = [2.3, 0.1];
        assert!(premise_met(Loss::CrossEntropy, &[0.1, 0.99], &loss, &p).is_ok());
        let e = premise_met(Loss::CrossEntropy, &[0.1, 0.9899], &loss, &p).unwrap_err();
        assert!(e.contains("0.9899"), "{e}");
        assert!(premise_met(Loss::CrossEntropy, &[0.1, 1.0], &[2.3, f64::NAN], &p).is_err());
        assert!(premise_met(Loss::CrossEntropy, &[], &[], &p).is_err());
    }

    /// 31 accuracies: 0.1 up to epoch 10, the value `before` at epoch 10 and
    /// a straight line to `last` at epoch 30.
    fn acc_curve(before: f64, last: f64) -> Vec<f64> {
        (0..=30)
            .map(|e| {
                if e < 10 {
                    0.1
                } else {
                    before + (last - before) * (e - 10) as f64 / 20.0
                }
            })
            .collect()
    }

    #[test]
    fn mse_premise_flips_at_accuracy_and_plateau() {
        let p = premise();
        let loss = vec![1.0; 31];
        assert!(premise_met(Loss::SoftmaxMse, &acc_curve(0.946, 0.9501), &loss, &p).is_ok());
        assert!(premise_met(Loss::SoftmaxMse, &acc_curve(0.99, 0.986), &loss, &p).is_ok());
        let e = premise_met(Loss::SoftmaxMse, &acc_curve(0.9499, 0.9499), &loss, &p).unwrap_err();
        assert!(e.contains("accuracy"), "{e}");
        let e = premise_met(Loss::SoftmaxMse, &acc_curve(0.984, 0.99), &loss, &p).unwrap_err();
        assert!(e.contains("plateau"), "{e}");
        let e = premise_met(Loss::SoftmaxMse, &acc_curve(0.9949, 0.989), &loss, &p).unwrap_err();
        assert!(e.contains("plateau"), "{e}");
        let short = premise_met(Loss::SoftmaxMse, &[0.1, 0.99], &[1.0, 1.0], &p).unwrap_err();
        assert!(short.contains("window"), "{short}");
    }

    fn o(lr: f64, accuracy: f64, loss: f64, premise_met: bool) -> PilotOutcome {
        PilotOutcome {
            lr,
            accuracy,
            loss,
            premise_met,
        }
    }

    #[test]
    fn lr_rule_prefers_the_lowest_loss_among_premise_runs() {
        let c = choose_lr(&[
            o(0.01, 0.999, 0.02, true),
            o(0.03, 0.995, 0.01, true),
            o(0.1, 1.0, 0.001, false),
            o(0.3, 0.1, f64::NAN, false),
        ])
        .unwrap();
        assert_eq!(c.lr, 0.03);
        assert!(c.premise_met);
    }

    #[test]
    fn lr_rule_without_premise_takes_the_best_accuracy_with_ties_by_loss() {
        // 0.1 is within the tie of the best accuracy and has the lower loss.
        let c = choose_lr(&[
            o(0.01, 0.90, 0.2, false),
            o(0.03, 0.95, 0.3, false),
            o(0.1, 0.9481, 0.1, false),
        ])
        .unwrap();
        assert_eq!(c.lr, 0.1);
        assert!(!c.premise_met);
        // Just outside the tie: the best accuracy wins.
        let c = choose_lr(&[o(0.03, 0.95, 0.3, false), o(0.1, 0.9479, 0.1, false)]).unwrap();
        assert_eq!(c.lr, 0.03);
        // A non-finite loss is never chosen, even with the best accuracy.
        let c = choose_lr(&[o(0.03, 0.5, 0.3, false), o(0.1, 0.99, f64::INFINITY, false)]).unwrap();
        assert_eq!(c.lr, 0.03);
        assert!(choose_lr(&[o(0.1, 0.99, f64::NAN, true)]).is_err());
    }

    fn rules(widen_max: u32, he: bool) -> PilotRules {
        PilotRules {
            widen_max,
            he_init_applies: he,
            chance_margin: 0.05,
            classes: 10,
        }
    }

    #[test]
    fn a_round_meeting_the_premise_is_not_repeated() {
        let round = [o(0.1, 0.99, 0.1, true), o(0.3, 0.1, 2.3, false)];
        assert_eq!(
            repeat_pilot(&round, PilotVariant::default(), &rules(2, true)),
            None
        );
    }

    #[test]
    fn at_chance_switches_the_init_once_then_widens_at_most_widen_max_times() {
        let chance = [o(0.01, 0.10, 0.09, false), o(0.1, 0.14, 0.09, false)];
        let v0 = PilotVariant::default();
        let (v1, why) = repeat_pilot(&chance, v0, &rules(2, true)).unwrap();
        assert_eq!((v1.widen, v1.init), (0, Init::HeUniform));
        assert!(why.contains("lr 0.1: 0.1400"), "{why}");
        // Still at chance with He: no second switch, widen instead.
        let (v2, why) = repeat_pilot(&chance, v1, &rules(2, true)).unwrap();
        assert_eq!((v2.widen, v2.init), (1, Init::HeUniform));
        assert!(why.contains("widening 1 of at most 2"), "{why}");
        let (v3, _) = repeat_pilot(&chance, v2, &rules(2, true)).unwrap();
        assert_eq!(v3.widen, 2);
        assert_eq!(repeat_pilot(&chance, v3, &rules(2, true)), None);
        assert_eq!(v3.suffix(), "-wide2-he");
        assert_eq!(v0.suffix(), "");
    }

    #[test]
    fn above_chance_or_without_the_rule_only_widens() {
        let above = [o(0.01, 0.16, 0.09, false), o(0.1, 0.7, 0.05, false)];
        let (v, _) = repeat_pilot(&above, PilotVariant::default(), &rules(1, true)).unwrap();
        assert_eq!((v.widen, v.init), (1, Init::FanIn));
        let chance = [o(0.01, 0.1, 0.09, false)];
        let (v, _) = repeat_pilot(&chance, PilotVariant::default(), &rules(1, false)).unwrap();
        assert_eq!((v.widen, v.init), (1, Init::FanIn));
        assert_eq!(
            repeat_pilot(&above, PilotVariant::default(), &rules(0, false)),
            None
        );
    }
}
