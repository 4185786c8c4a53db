//! The moment engine against dense sums, and the C8 identities as properties.

use faer::Mat;
use proptest::prelude::*;
use superlinear::claims::c8;
use superlinear::ensemble::{Alignment, EigenLaw, EnsembleSpec};
use superlinear::moments::{hessian, noise_covariance, second_moment, Moments};

fn arb_spec(negative_fraction: f64) -> impl Strategy<Value = EnsembleSpec> {
    (
        1usize..20,
        1usize..10,
        any::<u64>(),
        0usize..3,
        -8.0f64..8.0,
    )
        .prop_map(move |(d, n, seed, align, log_scale)| {
            let rank = 1 + (seed as usize % d);
            let alignment = match align {
                0 => Alignment::Perfect,
                _ => Alignment::Haar,
            };
            EnsembleSpec {
                scale: 10f64.powf(log_scale),
                jitter: 0.5,
                negative_fraction,
                ..EnsembleSpec::new(
                    d,
                    n,
                    rank,
                    EigenLaw::Geometric { decades: 12.0 },
                    alignment,
                    seed,
                )
            }
        })
}

#[test]
fn hessian_and_second_moment_match_dense_sums() {
    let spec = EnsembleSpec::new(
        7,
        5,
        3,
        EigenLaw::PowerLaw { exponent: 1.0 },
        Alignment::Haar,
        3,
    );
    let ens = spec.generate().unwrap();
    let mut h = Mat::<f64>::zeros(7, 7);
    let mut s = Mat::<f64>::zeros(7, 7);
    for p in 0..ens.n() {
        let hp = ens.dense_sample(p);
        s = &s + &hp * &hp;
        h = &h + &hp;
    }
    h = h * faer::Scale(1.0 / 5.0);
    s = s * faer::Scale(1.0 / 5.0);
    assert!((&h - hessian(&ens)).norm_max() < 1e-14);
    assert!((&s - second_moment(&ens)).norm_max() < 1e-14);
}

#[test]
fn noise_covariance_is_eq2() {
    // Two gradients g1 = (1, 0), g2 = (-1, 2): mean (0, 1); E[g g^T] - gbar gbar^T.
    let g = Mat::from_fn(2, 2, |i, j| [[1.0, 0.0], [-1.0, 2.0]][i][j]);
    let c = noise_covariance(g.as_ref(), 4).unwrap();
    let expected = [[1.0, -1.0], [-1.0, 1.0]];
    for i in 0..2 {
        for j in 0..2 {
            assert!((c[(i, j)] - expected[i][j] / 4.0).abs() < 1e-15);
        }
    }
    assert!(noise_covariance(g.as_ref(), 0).is_err());
    let mut bad = g.clone();
    bad[(1, 1)] = f64::INFINITY;
    assert!(noise_covariance(bad.as_ref(), 1).is_err());
}

#[test]
fn faer_eigenbasis_agrees_with_nalgebra() {
    let spec = EnsembleSpec::new(
        12,
        8,
        4,
        EigenLaw::PowerLaw { exponent: 1.0 },
        Alignment::Haar,
        9,
    );
    let ens = spec.generate().unwrap();
    let m = Moments::compute(&ens).unwrap();
    let h = &m.hessian;
    let na = nalgebra::DMatrix::from_fn(12, 12, |i, j| h[(i, j)]);
    let mut ev: Vec<f64> = na.symmetric_eigen().eigenvalues.iter().cloned().collect();
    ev.sort_by(|a, b| b.total_cmp(a));
    for (a, b) in ev.iter().zip(m.h_diag()) {
        assert!((a - b).abs() < 30.0 * 12.0 * f64::EPSILON * ev[0]);
    }
}

proptest! {
    #![proptest_config(crate::util::proptest_config(64))]

    /// C8, Eq. 16, on PSD ensembles over 12-decade spectra and scales 1e-8..1e8.
    #[test]
    fn c8_first_moment_identity_psd(spec in arb_spec(0.0)) {
        let (e16, _) = c8::identity_errors(&spec.generate().unwrap()).unwrap();
        prop_assert!(e16 <= c8::TOLERANCE, "Eq. 16 error {}", e16);
    }
}

proptest! {
    #![proptest_config(crate::util::proptest_config(64))]

    /// C8, Eq. 17, on PSD ensembles.
    #[test]
    fn c8_second_moment_identity_psd(spec in arb_spec(0.0)) {
        let (_, e17) = c8::identity_errors(&spec.generate().unwrap()).unwrap();
        prop_assert!(e17 <= c8::TOLERANCE, "Eq. 17 error {}", e17);
    }
}

proptest! {
    #![proptest_config(crate::util::proptest_config(64))]

    /// C8 needs no PSD assumption: both identities on indefinite ensembles.
    #[test]
    fn c8_identities_hold_without_psd(spec in arb_spec(0.4)) {
        let (e16, e17) = c8::identity_errors(&spec.generate().unwrap()).unwrap();
        prop_assert!(e16.max(e17) <= c8::TOLERANCE);
    }
}
