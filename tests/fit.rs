//! The gamma fit (`superlinear::fit`): exact recovery, the C2 scaling
//! identity, the floor rule, typed errors, and the seeded bootstrap.

use proptest::prelude::*;
use superlinear::fit::{bootstrap_ci, fit_gamma, fit_power_law, FitRule};
use superlinear::linalg::seeded_rng;
use superlinear::Error;

const EPS: f64 = f64::EPSILON;

/// Descending H_ii, evenly spaced in log over `range` starting at `e^top`,
/// and exact power-law C_ii = exp(a + gamma ln H_ii).
fn exact_power_law(m: usize, top: f64, range: f64, gamma: f64, a: f64) -> (Vec<f64>, Vec<f64>) {
    let h: Vec<f64> = (0..m)
        .map(|i| (top - range * i as f64 / (m - 1) as f64).exp())
        .collect();
    let c = h.iter().map(|x| (a + gamma * x.ln()).exp()).collect();
    (h, c)
}

/// Rounding-level tolerances for the OLS slope and intercept: each `ln y`
/// carries an error up to `8 eps (1 + |ln y|)` (exp and ln each round once),
/// and a slope error is at most `max|delta| sqrt(m / Sxx)`.
fn ols_tolerances(x: &[f64], y: &[f64]) -> (f64, f64) {
    let lx: Vec<f64> = x.iter().map(|v| v.ln()).collect();
    let ly: Vec<f64> = y.iter().map(|v| v.ln()).collect();
    let m = lx.len() as f64;
    let mx = lx.iter().sum::<f64>() / m;
    let sxx: f64 = lx.iter().map(|v| (v - mx).powi(2)).sum();
    let amax = |v: &[f64]| v.iter().fold(1.0f64, |a, b| a.max(b.abs()));
    let delta = 8.0 * EPS * (1.0 + amax(&ly) + amax(&lx));
    let slope_tol = 4.0 * delta * (m / sxx).sqrt();
    (slope_tol, slope_tol * (1.0 + amax(&lx)) + 4.0 * delta)
}

/// An exact power law with its parameters (12 decades at most).
#[derive(Debug, Clone)]
struct ExactLaw {
    m: usize,
    top: f64,
    range: f64,
    gamma: f64,
    a: f64,
    h: Vec<f64>,
    c: Vec<f64>,
}

prop_compose! {
    fn exact_law()(
        m in 3usize..200, top in -50.0f64..50.0, range in 0.5f64..27.6,
        gamma in -3.0f64..4.0, a in -20.0f64..20.0,
    ) -> ExactLaw {
        let (h, c) = exact_power_law(m, top, range, gamma, a);
        ExactLaw { m, top, range, gamma, a, h, c }
    }
}

fn all_rule(m: usize) -> FitRule {
    FitRule {
        top_k: m,
        rel_floor: 0.0,
    }
}

proptest! {
    #![proptest_config(crate::util::proptest_config(64))]
    #[test]
    fn fit_recovers_gamma_on_exact_power_laws(law in exact_law()) {
        let ExactLaw { m, top, range, gamma, a, h, c } = law;
        let f = fit_gamma(&h, &c, &all_rule(m)).unwrap();
        let (ts, ti) = ols_tolerances(&h, &c);
        prop_assert!((f.gamma - gamma).abs() <= ts, "gamma {} vs {gamma}, tol {ts:e}", f.gamma);
        prop_assert!((f.intercept - a).abs() <= ti, "intercept {} vs {a}, tol {ti:e}", f.intercept);
        prop_assert_eq!(f.points_used, m);
        prop_assert!((f.log_range_h - range).abs() <= 1e-12 * (1.0 + top.abs()));
    }
}

proptest! {
    #![proptest_config(crate::util::proptest_config(64))]
    #[test]
    fn std_err_is_zero_on_exact_data(law in exact_law()) {
        let (h, c) = (&law.h, &law.c);
        let f = fit_gamma(h, c, &all_rule(law.m)).unwrap();
        let (ts, _) = ols_tolerances(h, c);
        prop_assert!(f.std_err <= ts, "std_err {:e} > {ts:e}", f.std_err);
    }
}

proptest! {
    #![proptest_config(crate::util::proptest_config(64))]
    /// C2: H -> s H, C -> s^2 C leaves gamma unchanged and moves the
    /// intercept by (2 - gamma) ln s (derivation in the `fit` module doc).
    #[test]
    fn gamma_invariant_under_loss_scaling(
        m in 5usize..100, gamma in 0.5f64..2.5, log10_s in -6.0f64..6.0,
        noise in 0.0f64..0.5, seed in any::<u64>(),
    ) {
        use rand_distr::{Distribution, StandardNormal};
        let mut rng = seeded_rng(seed);
        let (h, c0) = exact_power_law(m, 0.0, 10.0, gamma, 0.3);
        let c: Vec<f64> = c0.iter().map(|v| {
            let z: f64 = StandardNormal.sample(&mut rng);
            v * (noise * z).exp()
        }).collect();
        let s = 10f64.powf(log10_s);
        let hs: Vec<f64> = h.iter().map(|v| s * v).collect();
        let cs: Vec<f64> = c.iter().map(|v| s * s * v).collect();
        let rule = FitRule::default_for(m, 1000);
        let f = fit_gamma(&h, &c, &rule).unwrap();
        let g = fit_gamma(&hs, &cs, &rule).unwrap();
        let (ts, ti) = ols_tolerances(&hs, &cs);
        prop_assert_eq!(f.points_used, g.points_used);
        prop_assert!((f.gamma - g.gamma).abs() <= 2.0 * ts, "{} vs {}", f.gamma, g.gamma);
        let moved = f.intercept + (2.0 - f.gamma) * s.ln();
        prop_assert!((g.intercept - moved).abs() <= 2.0 * ti, "{} vs {moved}", g.intercept);
    }
}

proptest! {
    #![proptest_config(crate::util::proptest_config(128))]
    /// Whatever the input (NaN, inf, negative, zero, unsorted), the fit is a
    /// typed error or a fit whose every field is finite.
    #[test]
    fn fit_gamma_never_returns_nan(
        h in prop::collection::vec(prop_oneof![
            Just(f64::NAN), Just(f64::INFINITY), Just(0.0), Just(-1.0),
            1e-300f64..1e300, any::<f64>()], 0..12),
        c in prop::collection::vec(prop_oneof![
            Just(f64::NAN), Just(0.0), 1e-300f64..1e300, any::<f64>()], 0..12),
        top_k in 0usize..15, rel_floor in prop_oneof![Just(0.0), 0.0f64..1.0, any::<f64>()],
        sort in any::<bool>(),
    ) {
        let mut h = h;
        if sort {
            h.sort_by(|a, b| b.total_cmp(a));
        }
        // Equal lengths half of the time (else a Shape error is expected).
        let c: Vec<f64> = if sort { c.into_iter().chain(std::iter::repeat(1.0)).take(h.len()).collect() } else { c };
        if let Ok(f) = fit_gamma(&h, &c, &FitRule { top_k, rel_floor }) {
            for v in [f.gamma, f.intercept, f.std_err, f.r_squared, f.log_range_h] {
                prop_assert!(v.is_finite(), "{f:?}");
            }
            prop_assert!(f.points_used >= 3 && f.log_range_h > 0.0);
            prop_assert!((0.0..=1.0).contains(&f.r_squared));
        }
    }
}

/// Sample-level data for the bootstrap: sample p contributes
/// `a_{p,i} = lambda_i w_{p,i}` to H_ii and `lambda_i^gamma w'_{p,i}` to C_ii
/// with log-normal weights; the recompute closure averages over the drawn
/// multiset and sorts by H_ii descending (as an eigendecomposition would).
struct Samples {
    a: Vec<Vec<f64>>,
    b: Vec<Vec<f64>>,
}

impl Samples {
    fn new(n: usize, dirs: usize, gamma: f64, noise: f64, seed: u64) -> Self {
        use rand_distr::{Distribution, StandardNormal};
        let mut rng = seeded_rng(seed);
        let lam: Vec<f64> = (0..dirs)
            .map(|i| 10f64.powf(-4.0 * i as f64 / (dirs - 1) as f64))
            .collect();
        let mut w = || -> f64 {
            let z: f64 = StandardNormal.sample(&mut rng);
            (noise * z).exp()
        };
        let a = (0..n)
            .map(|_| lam.iter().map(|l| l * w()).collect())
            .collect();
        let b = (0..n)
            .map(|_| lam.iter().map(|l| l.powf(gamma) * w()).collect())
            .collect();
        Samples { a, b }
    }

    fn recompute(&self, idx: &[usize]) -> superlinear::Result<(Vec<f64>, Vec<f64>)> {
        let dirs = self.a.first().map_or(0, Vec::len);
        let k = idx.len() as f64;
        let mut pairs: Vec<(f64, f64)> = (0..dirs)
            .map(|i| {
                let h = idx.iter().map(|&p| self.a[p][i]).sum::<f64>() / k;
                let c = idx.iter().map(|&p| self.b[p][i]).sum::<f64>() / k;
                (h, c)
            })
            .collect();
        pairs.sort_by(|x, y| y.0.total_cmp(&x.0));
        Ok(pairs.into_iter().unzip())
    }
}

proptest! {
    #![proptest_config(crate::util::proptest_config(8))]
    #[test]
    fn bootstrap_ci_contains_the_point_estimate(
        gamma in 0.8f64..2.2, noise in 0.05f64..0.3, seed in any::<u64>(),
    ) {
        let n = 200;
        let data = Samples::new(n, 30, gamma, noise, seed);
        let rule = FitRule::default_for(30, 30);
        let all: Vec<usize> = (0..n).collect();
        let (h, c) = data.recompute(&all).unwrap();
        let f = fit_gamma(&h, &c, &rule).unwrap();
        let (lo, hi) = bootstrap_ci(n, 200, 0.95, seed, &rule, |idx| data.recompute(idx)).unwrap();
        prop_assert!(lo <= f.gamma && f.gamma <= hi, "{lo} <= {} <= {hi}", f.gamma);
        prop_assert!(hi - lo < 0.5, "interval [{lo}, {hi}] too wide for well-conditioned data");
    }
}

proptest! {
    #![proptest_config(crate::util::proptest_config(6))]
    #[test]
    fn bootstrap_is_deterministic_for_a_seed_and_any_thread_count(seed in any::<u64>()) {
        let n = 60;
        let data = Samples::new(n, 12, 1.3, 0.2, seed ^ 0x5eed);
        let rule = FitRule::default_for(12, 12);
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(|| {
                bootstrap_ci(n, 64, 0.9, seed, &rule, |idx| data.recompute(idx)).unwrap()
            })
        };
        let one = run(1);
        prop_assert_eq!(one, run(2));
        prop_assert_eq!(one, run(3));
    }
}

#[test]
fn floor_rule_drops_zero_negative_and_rounding_level_directions() {
    // n = 100: floor 1e3 * 100 * eps ~ 2.2e-11 relative to H_11 and max C.
    let h = [1.0, 0.5, 0.25, 0.125, 1e-12, 0.0, -1e-3];
    let c = [1.0, 0.25, 0.0625, 1e-13, 1e-12, 1.0, 1.0];
    let f = fit_gamma(&h, &c, &FitRule::default_for(7, 100)).unwrap();
    // Kept: 0..3 (C_33 = 1e-13 < floor drops index 3), 4 has H below floor.
    assert_eq!((f.points_used, f.points_dropped), (3, 4));
    assert!((f.gamma - 2.0).abs() < 1e-14);
    // top_k limits the candidates; more than given is clamped.
    let f = fit_gamma(&h, &c, &FitRule::default_for(3, 100)).unwrap();
    assert_eq!((f.points_used, f.points_dropped), (3, 0));
    let f = fit_gamma(&h, &c, &FitRule::default_for(100, 100)).unwrap();
    assert_eq!(f.points_used + f.points_dropped, 7);
}

#[test]
fn typed_errors_on_bad_input() {
    let rule = FitRule::default_for(10, 10);
    let h = [4.0, 2.0, 1.0];
    let c = [16.0, 4.0, 1.0];
    assert!(matches!(
        fit_gamma(&h, &c[..2], &rule),
        Err(Error::Shape { .. })
    ));
    assert!(matches!(
        fit_gamma(&[], &[], &rule),
        Err(Error::Empty { .. })
    ));
    assert!(matches!(
        fit_gamma(&[4.0, f64::NAN, 1.0], &c, &rule),
        Err(Error::NonFinite { ref input, .. }) if input == "h_diag"
    ));
    assert!(matches!(
        fit_gamma(&h, &[16.0, f64::INFINITY, 1.0], &rule),
        Err(Error::NonFinite { ref input, .. }) if input == "c_diag"
    ));
    assert!(matches!(
        fit_gamma(&[1.0, 2.0, 0.5], &c, &rule),
        Err(Error::NotSorted { index: 1, .. })
    ));
    assert!(matches!(
        fit_gamma(&[4.0, 2.0], &[16.0, 4.0], &rule),
        Err(Error::DegenerateFit { .. })
    ));
    assert!(matches!(
        fit_gamma(&[1.0; 5], &[1.0, 2.0, 3.0, 4.0, 5.0], &rule),
        Err(Error::DegenerateFit { .. })
    ));
    let zero_k = FitRule {
        top_k: 0,
        rel_floor: 0.0,
    };
    assert!(matches!(
        fit_gamma(&h, &c, &zero_k),
        Err(Error::InvalidParameter { .. })
    ));
    let bad_floor = FitRule {
        top_k: 3,
        rel_floor: f64::NAN,
    };
    assert!(matches!(
        fit_gamma(&h, &c, &bad_floor),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(matches!(
        fit_power_law(&[1.0, 2.0, 3.0], &[1.0, -2.0, 3.0]),
        Err(Error::NotPositive { index: 1, .. })
    ));
}

#[test]
fn bootstrap_errors_are_typed() {
    let rule = FitRule::default_for(10, 10);
    let ok = |_: &[usize]| Ok((vec![4.0, 2.0, 1.0], vec![16.0, 4.0, 1.0]));
    assert!(matches!(
        bootstrap_ci(0, 10, 0.9, 1, &rule, ok),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(matches!(
        bootstrap_ci(5, 1, 0.9, 1, &rule, ok),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(matches!(
        bootstrap_ci(5, 10, 1.0, 1, &rule, ok),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(matches!(
        bootstrap_ci(5, 10, f64::NAN, 1, &rule, ok),
        Err(Error::InvalidParameter { .. })
    ));
    let bad = |_: &[usize]| Ok((vec![4.0, f64::NAN, 1.0], vec![16.0, 4.0, 1.0]));
    assert!(matches!(
        bootstrap_ci(5, 10, 0.9, 1, &rule, bad),
        Err(Error::Bootstrap { rep: 0, .. })
    ));
    // Exact data: every replicate gives the same gamma, the interval is a point.
    let (lo, hi) = bootstrap_ci(5, 10, 0.9, 1, &rule, ok).unwrap();
    assert!((lo - 2.0).abs() < 1e-14 && (hi - 2.0).abs() < 1e-14);
}
