//! Matched pairs (Sec. 3.1, C5): nearest same-class partner, deterministic
//! tie-breaking, class-balanced batches, |da| / |a|.

use ndarray::{array, Array2};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use rand_distr::{Distribution, StandardNormal};
use superlinear::linalg::seeded_rng;
use superlinear::mlp::Mlp;
use superlinear::pairs::{
    activity_ratios, balanced_batch_pair, match_nearest, match_one_to_one, matched_pair_experiment,
    ratio_stats, MatchRule, MatchSpace, PairSettings,
};
use superlinear::Error;

fn gauss(seed: u64, n: usize, d: usize) -> Array2<f64> {
    let mut rng = seeded_rng(seed);
    Array2::from_shape_simple_fn((n, d), || {
        let g: f64 = StandardNormal.sample(&mut rng);
        g
    })
}

#[test]
fn ties_go_to_the_lowest_index() {
    let a = array![[0.0, 0.0]];
    // Rows 1 and 3 are both at distance 1 (same class); row 0 is closer but of another class.
    let b = array![[0.0, 0.1], [1.0, 0.0], [5.0, 5.0], [0.0, -1.0]];
    let m = match_nearest(a.view(), &[1], b.view(), &[0, 1, 1, 1]).unwrap();
    assert_eq!(m.partner, vec![1]);
    assert_eq!(m.distance, vec![1.0]);
    assert_eq!(m.distinct_partners(), 1);
}

#[test]
fn missing_class_is_no_partner_error() {
    let a = array![[0.0], [1.0]];
    let b = array![[0.0]];
    match match_nearest(a.view(), &[0, 3], b.view(), &[0]) {
        Err(Error::NoPartner { sample, class }) => assert_eq!((sample, class), (1, 3)),
        other => panic!("expected NoPartner, got {other:?}"),
    }
}

#[test]
fn bad_shapes_and_nan_are_errors() {
    let a = array![[0.0, 1.0]];
    let b = array![[0.0]];
    assert!(matches!(
        match_nearest(a.view(), &[0], b.view(), &[0]),
        Err(Error::Shape { .. })
    ));
    assert!(matches!(
        match_nearest(a.view(), &[0, 1], a.view(), &[0]),
        Err(Error::Shape { .. })
    ));
    let nan = array![[f64::NAN, 1.0]];
    assert!(matches!(
        match_nearest(a.view(), &[0], nan.view(), &[0]),
        Err(Error::NonFinite { .. })
    ));
    assert!(ratio_stats(&[]).is_err());
    let zero = array![[0.0, 0.0]];
    assert!(matches!(
        activity_ratios(zero.view(), a.view(), &[0]),
        Err(Error::ZeroActivity { sample: 0, .. })
    ));
    assert!(activity_ratios(a.view(), a.view(), &[1]).is_err());
}

proptest! {
    #![proptest_config(crate::util::proptest_config(32))]
    #[test]
    fn partner_is_the_nearest_same_class_sample(seed in any::<u64>(), n in 1usize..12, d in 1usize..5, k in 1u8..4) {
        let a = gauss(seed, n, d);
        let b = gauss(seed ^ 1, 2 * n, d);
        let la: Vec<u8> = (0..n).map(|i| (i as u8) % k).collect();
        let lb: Vec<u8> = (0..2 * n).map(|i| (i as u8 / 2) % k).collect();
        prop_assume!((0..k).all(|c| lb.contains(&c) || !la.contains(&c)));
        let m = match_nearest(a.view(), &la, b.view(), &lb).unwrap();
        for (p, &lp) in la.iter().enumerate() {
            let q = m.partner[p];
            prop_assert_eq!(lb[q], lp);
            let dist = |r: usize| (&a.row(p) - &b.row(r)).mapv(|v| v * v).sum().sqrt();
            prop_assert!((dist(q) - m.distance[p]).abs() <= 1e-12 * (1.0 + dist(q)));
            for (r, &lr) in lb.iter().enumerate() {
                if lr == lp {
                    prop_assert!(dist(r) >= m.distance[p] - 1e-12, "row {} closer", r);
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(crate::util::proptest_config(24))]
    #[test]
    fn one_to_one_is_a_least_total_distance_bijection(seed in any::<u64>(), m in 1usize..6, d in 1usize..4) {
        // Two classes, m samples each in both batches; brute force over all
        // permutations of each class block.
        let a = gauss(seed, 2 * m, d);
        let b = gauss(seed ^ 3, 2 * m, d);
        let la: Vec<u8> = (0..2 * m).map(|i| (i % 2) as u8).collect();
        let lb: Vec<u8> = (0..2 * m).map(|i| ((i + 1) % 2) as u8).collect();
        let one = match_one_to_one(a.view(), &la, b.view(), &lb).unwrap();
        prop_assert_eq!(one.distinct_partners(), 2 * m);
        let near = match_nearest(a.view(), &la, b.view(), &lb).unwrap();
        let dist = |p: usize, q: usize| (&a.row(p) - &b.row(q)).mapv(|v| v * v).sum().sqrt();
        for c in 0..2u8 {
            let ia: Vec<usize> = (0..2 * m).filter(|&p| la[p] == c).collect();
            let ib: Vec<usize> = (0..2 * m).filter(|&q| lb[q] == c).collect();
            let got: f64 = ia.iter().map(|&p| { prop_assert_eq!(lb[one.partner[p]], c); Ok(one.distance[p]) })
                .collect::<Result<Vec<_>, TestCaseError>>()?.iter().sum();
            let lower: f64 = ia.iter().map(|&p| near.distance[p]).sum();
            prop_assert!(got >= lower - 1e-12);
            let mut best = f64::INFINITY;
            let mut perm: Vec<usize> = (0..m).collect();
            permutations(&mut perm, 0, &mut |pm| {
                let t: f64 = (0..m).map(|i| dist(ia[i], ib[pm[i]])).sum();
                best = best.min(t);
            });
            prop_assert!(got <= best * (1.0 + 1e-9) + 1e-12, "class {}: {} > optimum {}", c, got, best);
        }
    }
}

fn permutations(v: &mut Vec<usize>, k: usize, f: &mut dyn FnMut(&[usize])) {
    if k == v.len() {
        f(v);
        return;
    }
    for i in k..v.len() {
        v.swap(k, i);
        permutations(v, k + 1, f);
        v.swap(k, i);
    }
}

#[test]
fn one_to_one_rejects_overflowing_distances() {
    let a = array![[1e308], [0.0]];
    let b = array![[-1e308], [1.0]];
    assert!(matches!(
        match_one_to_one(a.view(), &[0, 0], b.view(), &[0, 0]),
        Err(Error::NonFinite { .. })
    ));
}

#[test]
fn one_to_one_needs_enough_partners() {
    let a = array![[0.0], [1.0]];
    let b = array![[0.0], [5.0]];
    assert!(matches!(
        match_one_to_one(a.view(), &[0, 0], b.view(), &[0, 1]),
        Err(Error::NoPartner {
            sample: 1,
            class: 0
        })
    ));
}

#[test]
fn balanced_batches_are_disjoint_balanced_and_seeded() {
    let labels: Vec<u8> = (0..300).map(|i| (i % 10) as u8).collect();
    let classes = [0u8, 3, 7];
    let (a, b) = balanced_batch_pair(&labels, &classes, 5, 42).unwrap();
    assert_eq!((a.len(), b.len()), (15, 15));
    for &c in &classes {
        assert_eq!(a.iter().filter(|&&i| labels[i] == c).count(), 5);
        assert_eq!(b.iter().filter(|&&i| labels[i] == c).count(), 5);
    }
    assert!(a.iter().all(|i| !b.contains(i)));
    assert_eq!(
        balanced_batch_pair(&labels, &classes, 5, 42).unwrap(),
        (a.clone(), b)
    );
    assert_ne!(balanced_batch_pair(&labels, &classes, 5, 43).unwrap().0, a);
    assert!(balanced_batch_pair(&labels, &classes, 16, 1).is_err());
    assert!(balanced_batch_pair(&labels, &[], 1, 1).is_err());
    assert!(balanced_batch_pair(&labels, &classes, 0, 1).is_err());
}

#[test]
fn experiment_on_synthetic_clusters() {
    // Two tight clusters per class: partners are close, |da| / |a| small.
    let n = 200;
    let d = 6;
    let noise = gauss(5, n, d) * 0.01;
    let labels: Vec<u8> = (0..n).map(|i| (i % 2) as u8).collect();
    let xs = Array2::from_shape_fn((n, d), |(i, j)| if j == i % 2 { 1.0 } else { 0.0 }) + noise;
    let net = Mlp::random(&[d, 8, 8, 2], 3).unwrap();
    for (layer, space) in [
        (0, MatchSpace::Raw),
        (1, MatchSpace::LayerInput),
        (1, MatchSpace::Raw),
    ] {
        let s = PairSettings {
            layer,
            classes: vec![0, 1],
            per_class: 10,
            space,
            rule: MatchRule::Nearest,
            seed: 9,
        };
        let r = matched_pair_experiment(&net, xs.view(), &labels, &s).unwrap();
        assert_eq!(r.stats.n, 20);
        assert!(r.stats.mean < 0.1, "layer {layer} {space:?}: {:?}", r.stats);
        assert!(r.stats.min <= r.stats.median && r.stats.median <= r.stats.max);
    }
}

// ---------- the shared real MNIST subset ----------

/// Matched pairs on real MNIST (Sec. 3.1): |da| / |a| on raw inputs and on
/// the input activity of the 50 x 50 middle layer of a He-initialised
/// 784-50-50-10 MLP (the paper's analysed layer), and the C5 duality on
/// every matched pair. Prints the statistics (run with --nocapture).
#[test]
fn mnist_matched_pairs() {
    use superlinear::awd::{constraint_residual, minimal_dw_batch};
    use superlinear::data::load_mnist;
    let Some(root) = crate::util::shared_data().filter(|r| r.join("mnist-10k").is_dir()) else {
        println!(
            "skipped: shared MNIST data (../shared/data/mnist-10k or SUPERLINEAR_DATA) not found"
        );
        return;
    };
    let ds = load_mnist(&root).unwrap();
    let xs = ds.images.mapv(f64::from);
    let classes: Vec<u8> = (0..10).collect();
    let net = Mlp::random(&[784, 50, 50, 10], 2026).unwrap();
    for per_class in [5usize, 50] {
        let run = |layer: usize, space: MatchSpace, rule: MatchRule| {
            let s = PairSettings {
                layer,
                classes: classes.clone(),
                per_class,
                space,
                rule,
                seed: 7,
            };
            matched_pair_experiment(&net, xs.view(), &ds.labels, &s).unwrap()
        };
        let raw = run(0, MatchSpace::Raw, MatchRule::Nearest);
        let act = run(1, MatchSpace::LayerInput, MatchRule::Nearest);
        let act_by_raw = run(1, MatchSpace::Raw, MatchRule::Nearest);
        let raw_1to1 = run(0, MatchSpace::Raw, MatchRule::OneToOne);
        let act_1to1 = run(1, MatchSpace::LayerInput, MatchRule::OneToOne);
        assert_eq!(raw_1to1.matching.distinct_partners(), 10 * per_class);
        assert!(raw_1to1.stats.mean >= raw.stats.mean - 1e-12);
        for (what, r) in [
            ("raw inputs, matched on raw", &raw),
            ("layer-1 input activity, matched on activity", &act),
            ("layer-1 input activity, matched on raw", &act_by_raw),
            ("raw inputs, one-to-one on raw", &raw_1to1),
            ("layer-1 input activity, one-to-one on activity", &act_1to1),
        ] {
            println!(
                "MNIST B = {} ({per_class}/class): {what}: |da|/|a| mean {:.4} median {:.4} min {:.4} max {:.4}; distinct partners {}/{}",
                r.stats.n, r.stats.mean, r.stats.median, r.stats.min, r.stats.max,
                r.matching.distinct_partners(), r.stats.n
            );
            assert_eq!(r.stats.n, 10 * per_class);
            assert!(r.stats.mean.is_finite() && r.stats.mean > 0.0);
        }
        // Matching on the activity minimises |da| there, sample by sample.
        for (x, y) in act.ratios.iter().zip(&act_by_raw.ratios) {
            assert!(x <= &(y + 1e-12));
        }
        // The duality on every matched pair of the analysed layer.
        let xa = xs.select(ndarray::Axis(0), &act.batch_a);
        let xb = xs.select(ndarray::Axis(0), &act.batch_b);
        let a = net.layer_inputs(xa.view(), 1).unwrap();
        let b = net.layer_inputs(xb.view(), 1).unwrap();
        let da = &b.select(ndarray::Axis(0), &act.matching.partner) - &a;
        let w = net.weights(1).unwrap();
        let dws = minimal_dw_batch(w, a.view(), da.view()).unwrap();
        let mut worst = 0.0f64;
        for (p, dw) in dws.iter().enumerate() {
            let dense = dw.to_dense();
            worst = worst.max(constraint_residual(w, a.row(p), da.row(p), dense.view()).unwrap());
            let y = ds.labels[act.batch_a[p]] as usize;
            let moved = net.perturbed(1, dense.view()).unwrap();
            let lm = moved
                .loss(superlinear::loss::Loss::CrossEntropy, xa.row(p), y)
                .unwrap();
            let lp = net
                .loss(
                    superlinear::loss::Loss::CrossEntropy,
                    xb.row(act.matching.partner[p]),
                    y,
                )
                .unwrap();
            assert!(
                (lm - lp).abs() <= 1e-12 * lm.abs().max(lp.abs()).max(1.0),
                "{lm} vs {lp}"
            );
        }
        println!(
            "MNIST B = {}: max constraint residual {worst:.2e}",
            10 * per_class
        );
        assert!(worst <= 1e-12);
    }
}
