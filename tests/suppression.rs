//! C13: the suppression procedure (App. B.3, Eq. 23-27), the entanglement
//! diagnostic, and the check on the coupling sweep.

use proptest::prelude::*;
use superlinear::claims::{c13, CheckSettings, Status};
use superlinear::ensemble::{Alignment, EigenLaw, Ensemble, EnsembleSpec};
use superlinear::moments::Moments;
use superlinear::suppression::{
    entanglement, principal_eigenvalues, principal_indices, suppress, suppression_effect,
    SuppressionConfig,
};

fn arb_ensemble() -> impl Strategy<Value = Ensemble> {
    (
        1usize..12,
        1usize..25,
        any::<u64>(),
        0usize..3,
        -4.0f64..4.0,
        0.0f64..1.0,
    )
        .prop_map(|(d, n, seed, align, log_scale, coupling)| {
            let rank = 1 + (seed as usize % d);
            let alignment = match align {
                0 => Alignment::Perfect,
                1 => Alignment::Haar,
                _ => Alignment::Entangled {
                    coupling,
                    spread: if d >= 2 { 0.3 } else { 0.0 },
                    directions: d,
                },
            };
            EnsembleSpec {
                scale: 10f64.powf(log_scale),
                jitter: 0.5,
                ..EnsembleSpec::new(
                    d,
                    n,
                    rank,
                    EigenLaw::PowerLaw { exponent: 1.0 },
                    alignment,
                    seed,
                )
            }
            .generate()
            .unwrap()
        })
}

fn arb_factors() -> impl Strategy<Value = (f64, f64, f64)> {
    (0.0f64..1.0, 0.0f64..1.0, 0.0f64..1.0)
}

#[test]
fn invalid_configs_are_rejected() {
    let ens = EnsembleSpec::new(4, 3, 2, EigenLaw::Equal, Alignment::Haar, 1)
        .generate()
        .unwrap();
    for cfg in [
        SuppressionConfig {
            q: 1.5,
            ..Default::default()
        },
        SuppressionConfig {
            q: f64::NAN,
            ..Default::default()
        },
        SuppressionConfig {
            stiff_tail: -0.1,
            ..Default::default()
        },
        SuppressionConfig {
            background_top: 2.0,
            ..Default::default()
        },
        SuppressionConfig {
            background_tail: f64::INFINITY,
            ..Default::default()
        },
    ] {
        assert!(suppress(&ens, &cfg).is_err(), "{cfg:?}");
    }
    let neg = ens
        .with_spectra(|_, l| l.iter().map(|x| -x).collect())
        .unwrap();
    assert!(suppress(&neg, &SuppressionConfig::default()).is_err());
}

#[test]
fn config_rejects_unknown_keys() {
    let ok: SuppressionConfig = toml::from_str(
        "q = 0.2\nstiff_tail = 1e-3\nbackground_top = 1e-2\nbackground_tail = 1e-3\nhomogenize = true",
    )
    .unwrap();
    assert_eq!(ok.q, 0.2);
    assert!(toml::from_str::<SuppressionConfig>("q = 0.2\nthreshold = 3").is_err());
}

#[test]
fn c13_check_passes_at_default_settings() {
    let out = c13::check(&CheckSettings::default()).unwrap();
    assert_eq!(out.status, Status::Verified, "{:#?}", out.details);
}

#[test]
fn tails_raise_gamma_without_entanglement() {
    // The confound recorded in theory/c12-c13.md: coupling 0 (eigenvalue
    // independent of direction) but tails at 10% of the top eigenvalue. gamma
    // is well above 1, the tails-only control brings it back near 1, and the
    // full suppression "lowers gamma" although there is no entanglement.
    let mut spec = c13::spec(0.0, 3);
    spec.law = EigenLaw::SpikedBulk {
        spikes: 1,
        ratio: 1.0,
    };
    let ens = spec.generate().unwrap();
    let full = suppression_effect(&ens, &SuppressionConfig::default(), c13::DIRECTIONS).unwrap();
    let tails =
        suppression_effect(&ens, &SuppressionConfig::tails_only(1e-3), c13::DIRECTIONS).unwrap();
    assert!(
        full.before.gamma > 1.0 + 2.0 * full.before.std_err,
        "{:?}",
        full.before
    );
    assert!(
        (tails.after.gamma - 1.0).abs() < 3.0 * tails.after.std_err,
        "{:?}",
        tails.after
    );
    assert!(full.after.gamma < full.before.gamma - 0.05);
}

proptest! {
    #![proptest_config(crate::util::proptest_config(32))]

    /// q = 1: only the sample(s) attaining max_p lambda_p1 are stiff; their
    /// principal eigenvalue is unchanged (the mean of equal values), their
    /// tails are multiplied by `stiff_tail`; every other sample has its
    /// principal mode times `background_top` and its tails times
    /// `background_tail`. Eigenvectors are untouched.
    #[test]
    fn q_one_keeps_only_the_maximum_stiff(ens in arb_ensemble(), (st, bt, bl) in arb_factors(), homogenize in any::<bool>()) {
        let cfg = SuppressionConfig { q: 1.0, stiff_tail: st, background_top: bt, background_tail: bl, homogenize };
        let top = principal_eigenvalues(&ens);
        let idx = principal_indices(&ens);
        let max = top.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let s = suppress(&ens, &cfg).unwrap();
        prop_assert_eq!(s.tau, max);
        let expected: Vec<usize> = (0..ens.n()).filter(|&p| top[p] == max).collect();
        prop_assert_eq!(&s.stiff, &expected);
        // The mean of equal values: exact up to the rounding of sum / count.
        prop_assert!((s.stiff_mean - max).abs() <= 4.0 * f64::EPSILON * max);
        prop_assert_eq!(s.ensemble.factors(), ens.factors());
        for p in 0..ens.n() {
            let (old, new) = (ens.sample(p).lambda, s.ensemble.sample(p).lambda);
            let stiff = top[p] == max;
            for k in 0..old.len() {
                let want = match (stiff, Some(k) == idx[p]) {
                    (true, true) if homogenize => s.stiff_mean,
                    (true, true) => old[k],
                    (true, false) => st * old[k],
                    (false, true) => bt * old[k],
                    (false, false) => bl * old[k],
                };
                prop_assert_eq!(new[k], want, "sample {} mode {}", p, k);
            }
        }
    }

    /// q = 0 with homogenization and zero tails: every sample becomes rank 1
    /// with the same eigenvalue m, so E[h^2] = m H exactly and
    /// C_ii / H_ii = m in every direction (gamma = 1, C11/C13).
    #[test]
    fn full_homogenization_gives_constant_ratio(ens in arb_ensemble()) {
        let cfg = SuppressionConfig { q: 0.0, stiff_tail: 0.0, background_top: 1.0, background_tail: 0.0, homogenize: true };
        let s = suppress(&ens, &cfg).unwrap();
        prop_assert_eq!(s.stiff.len(), ens.n());
        let m = Moments::compute(&s.ensemble).unwrap();
        let h = m.h_diag();
        for i in 0..h.len() {
            let want = s.stiff_mean * h[i];
            prop_assert!((m.second_diag[i] - want).abs() <= 1e-10 * s.stiff_mean * h[0], "i = {}: {} vs {}", i, m.second_diag[i], want);
        }
    }

    /// On rank-1 ensembles the rank-1 prediction E[l^2 a]/E[l a] is exact and
    /// the principal modes carry all of H_ii.
    #[test]
    fn rank1_prediction_is_exact_on_rank1_ensembles(d in 2usize..15, n in 2usize..40, seed in any::<u64>(), coupling in -1.0f64..1.0) {
        let ens = EnsembleSpec::new(d, n, 1, EigenLaw::Equal, Alignment::Entangled { coupling, spread: 0.4, directions: d }, seed).generate().unwrap();
        let m = Moments::compute(&ens).unwrap();
        let e = entanglement(&ens, &m, d).unwrap();
        let h0 = e.h[0];
        for i in 0..d {
            // Both sides are quotients of sums over samples; compare the
            // numerators' difference at the scale of the largest direction.
            if e.h[i] > 1e-8 * h0 {
                prop_assert!((e.ratio[i] - e.rank1_ratio[i]).abs() <= 1e-8 * e.ratio[i].abs().max(1e-300) * h0 / e.h[i], "i = {}", i);
                prop_assert!((e.principal_share[i] - 1.0).abs() <= 1e-8 * h0 / e.h[i]);
            }
        }
    }
}
