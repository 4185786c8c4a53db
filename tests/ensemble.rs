//! Generators of per-sample Hessian ensembles: shapes, orthonormality,
//! reproducibility, the perturbed-angle construction, and input errors.

use proptest::prelude::*;
use superlinear::ensemble::{Alignment, EigenLaw, Ensemble, EnsembleSpec};
use superlinear::linalg::{orthonormality_residual, seeded_rng};
use superlinear::Error;

fn spec_strategy() -> impl Strategy<Value = EnsembleSpec> {
    (
        1usize..24,
        1usize..12,
        any::<u64>(),
        0usize..5,
        0usize..4,
        0.0f64..2.0,
    )
        .prop_map(|(d, n, seed, law, align, jitter)| {
            let rank = 1 + (seed as usize % d);
            let law = match law {
                0 => EigenLaw::PowerLaw { exponent: 1.5 },
                1 => EigenLaw::SpikedBulk {
                    spikes: 1,
                    ratio: 1e-3,
                },
                2 => EigenLaw::Equal,
                3 => EigenLaw::Geometric { decades: 12.0 },
                _ => EigenLaw::LogNormal { sigma: 1.0 },
            };
            let alignment = match align {
                0 => Alignment::Perfect,
                1 => Alignment::Haar,
                2 if 2 * rank <= d => Alignment::Perturbed { angle: 0.3 },
                _ => Alignment::Entangled {
                    coupling: 0.5,
                    spread: if d > 1 { 0.2 } else { 0.0 },
                    directions: d,
                },
            };
            EnsembleSpec {
                jitter,
                ..EnsembleSpec::new(d, n, rank, law, alignment, seed)
            }
        })
}

proptest! {
    #![proptest_config(crate::util::proptest_config(48))]

    #[test]
    fn every_generated_sample_has_orthonormal_factors(spec in spec_strategy()) {
        let ens = spec.generate().unwrap();
        prop_assert_eq!(ens.n(), spec.n);
        for p in 0..ens.n() {
            let s = ens.sample(p);
            prop_assert_eq!(s.u.ncols(), spec.rank);
            prop_assert!(orthonormality_residual(s.u) < 100.0 * spec.d as f64 * f64::EPSILON);
        }
    }
}

proptest! {
    #![proptest_config(crate::util::proptest_config(48))]

    #[test]
    fn psd_specs_give_psd_ensembles(spec in spec_strategy()) {
        prop_assert!(spec.generate().unwrap().is_psd());
    }
}

proptest! {
    #![proptest_config(crate::util::proptest_config(24))]

    #[test]
    fn same_seed_same_ensemble(spec in spec_strategy()) {
        let a = spec.generate().unwrap();
        let b = spec.generate().unwrap();
        prop_assert_eq!(a.eigenvalues(), b.eigenvalues());
        prop_assert!((a.factors() - b.factors()).norm_max() == 0.0);
    }
}

#[test]
fn perturbed_frames_sit_at_the_requested_angle() {
    // Every principal angle between U_p and the common frame equals the angle:
    // the singular values of Q^T U_p are all cos(angle).
    let angle = 0.4;
    let spec = EnsembleSpec::new(
        30,
        5,
        4,
        EigenLaw::Equal,
        Alignment::Perturbed { angle },
        11,
    );
    let ens = spec.generate().unwrap();
    let perfect = EnsembleSpec::new(30, 1, 4, EigenLaw::Equal, Alignment::Perfect, 11)
        .generate()
        .unwrap();
    let q = perfect.sample(0).u;
    for p in 0..ens.n() {
        let m = q.transpose() * ens.sample(p).u;
        let sv = m.singular_values().unwrap();
        for s in sv {
            assert!((s - angle.cos()).abs() < 1e-12, "singular value {s}");
        }
    }
}

#[test]
fn jitter_has_the_requested_relative_variance() {
    // Var(lambda_pk) = alpha (E lambda_pk)^2 (C10's alpha), 4000 samples.
    let alpha = 0.7;
    let spec = EnsembleSpec {
        jitter: alpha,
        ..EnsembleSpec::new(3, 4000, 1, EigenLaw::Equal, Alignment::Perfect, 5)
    };
    let ens = spec.generate().unwrap();
    let l = ens.eigenvalues();
    let mean = l.iter().sum::<f64>() / l.len() as f64;
    let var = l.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / l.len() as f64;
    assert!((mean - 1.0).abs() < 0.05, "mean {mean}");
    assert!(
        (var / (mean * mean) - alpha).abs() < 0.12,
        "relative variance {}",
        var / (mean * mean)
    );
}

#[test]
fn indefinite_spectra_are_reported() {
    let spec = EnsembleSpec {
        negative_fraction: 0.5,
        ..EnsembleSpec::new(6, 20, 3, EigenLaw::Equal, Alignment::Haar, 2)
    };
    let ens = spec.generate().unwrap();
    assert!(!ens.is_psd());
    assert!(matches!(
        ens.require_psd("ensemble"),
        Err(Error::NotPsd { .. })
    ));
}

#[test]
fn bad_specs_are_errors_naming_the_knob() {
    let base = EnsembleSpec::new(5, 3, 2, EigenLaw::Equal, Alignment::Haar, 1);
    let cases = [
        (EnsembleSpec { d: 0, ..base }, "d"),
        (EnsembleSpec { n: 0, ..base }, "n"),
        (EnsembleSpec { rank: 6, ..base }, "rank"),
        (
            EnsembleSpec {
                jitter: f64::NAN,
                ..base
            },
            "jitter",
        ),
        (
            EnsembleSpec {
                scale: -1.0,
                ..base
            },
            "scale",
        ),
        (
            EnsembleSpec {
                alignment: Alignment::Perturbed { angle: 0.1 },
                rank: 3,
                ..base
            },
            "rank",
        ),
        (
            EnsembleSpec {
                law: EigenLaw::PowerLaw {
                    exponent: f64::INFINITY,
                },
                ..base
            },
            "exponent",
        ),
    ];
    for (spec, knob) in cases {
        let err = spec.generate().unwrap_err();
        assert!(err.to_string().contains(knob), "{err} should name {knob}");
    }
}

#[test]
fn user_factors_are_validated() {
    let mut rng = seeded_rng(1);
    let u = superlinear::linalg::haar_frame(4, 2, &mut rng).unwrap();
    assert!(Ensemble::from_samples(4, vec![], "E").is_err());
    assert!(matches!(
        Ensemble::from_samples(4, vec![(u.clone(), vec![1.0])], "E"),
        Err(Error::Shape { .. })
    ));
    assert!(matches!(
        Ensemble::from_samples(4, vec![(u.clone(), vec![1.0, f64::NAN])], "E"),
        Err(Error::NonFinite { .. })
    ));
    let skewed = &u * faer::Scale(2.0);
    assert!(matches!(
        Ensemble::from_samples(4, vec![(skewed, vec![1.0, 2.0])], "E"),
        Err(Error::NotOrthonormal { .. })
    ));
    let ok = Ensemble::from_samples(4, vec![(u, vec![1.0, 2.0])], "E").unwrap();
    assert_eq!(ok.total_rank(), 2);
    assert!(ok.select(&[0, 0, 1]).is_err());
    assert_eq!(ok.select(&[0, 0]).unwrap().n(), 2);
}
