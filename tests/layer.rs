//! The layer analysis (`superlinear::layer::analyze_layer`) on synthetic
//! per-sample factors, against a dense computation from the definitions:
//! `h_p = A_p (x) a_p a_p^T` entry by entry, `H = E_p[h_p]` and its
//! eigenpairs, `g_p = (D_p^T dl/df) (x) a_p`, `C = (1/B)(E[g g^T] - E[g] E[g]^T)`
//! (Eq. 2), `E[h_p^2]` (Eq. 15), `rho_bar` of `V^T C V`, the gamma fits,
//! accuracy and mean loss. Plus the pure helpers (class-balanced choice).

use faer::Mat;
use rand::Rng as _;
use superlinear::coupling::coupling_of_projected;
use superlinear::fit::{fit_gamma, FitRule};
use superlinear::kron::LayerSamples;
use superlinear::layer::{analyze_layer, balanced_indices, LayerFactors, LayerSettings};
use superlinear::linalg::{seeded_rng, sym_eig};
use superlinear::loss::Loss;
use superlinear::progress::Silent;

/// Random factors of a layer: positive activities, dense `D_p`, labels
/// cycling through the classes (shared with the uncertainty tests).
pub(crate) fn random_factors(
    n: usize,
    out: usize,
    inn: usize,
    k: usize,
    loss: Loss,
    seed: u64,
) -> LayerFactors {
    let mut rng = seeded_rng(seed);
    let mut g = || rng.random_range(-1.0..1.0f64);
    let acts = Mat::from_fn(n, inn, |_, _| 0.1 + g().abs());
    let logits = Mat::from_fn(n, k, |_, _| 2.0 * g());
    let jacobians = (0..n).map(|_| Mat::from_fn(k, out, |_, _| g())).collect();
    let weights = Mat::from_fn(out, inn, |_, _| g());
    let labels = (0..n).map(|p| p % k).collect();
    LayerFactors {
        layer: "synthetic".into(),
        samples: LayerSamples {
            acts,
            jacobians,
            logits,
            labels,
            loss,
        },
        weights,
    }
}

/// What the dense computation gives.
struct Dense {
    h: Mat<f64>,
    h2: Mat<f64>,
    c: Mat<f64>,
    mean_loss: f64,
    accuracy: f64,
    lambda_max: f64,
}

fn dense(f: &LayerFactors, batch: usize) -> Dense {
    let s = &f.samples;
    let (n, inn, k) = (s.acts.nrows(), s.acts.ncols(), s.logits.ncols());
    let out = s.jacobians[0].ncols();
    let d = out * inn;
    let mut h = Mat::<f64>::zeros(d, d);
    let mut h2 = Mat::<f64>::zeros(d, d);
    let mut gg = Mat::<f64>::zeros(d, d);
    let mut gm = vec![0.0; d];
    let (mut loss, mut correct, mut lambda_max) = (0.0, 0usize, f64::NEG_INFINITY);
    for p in 0..n {
        let fp: Vec<f64> = (0..k).map(|j| s.logits[(p, j)]).collect();
        let (l, grad_f, hess_f) = s.loss.derivatives(&fp, s.labels[p]);
        loss += l;
        let best = (0..k).fold(0, |b, j| if fp[j] > fp[b] { j } else { b });
        correct += usize::from(best == s.labels[p]);
        let dp = &s.jacobians[p];
        let a = dp.transpose() * &hess_f * dp;
        let hp = Mat::from_fn(d, d, |r, c| {
            a[(r / inn, c / inn)] * s.acts[(p, r % inn)] * s.acts[(p, c % inn)]
        });
        let ev = sym_eig(hp.as_ref(), "h_p").unwrap().values;
        lambda_max = lambda_max.max(ev[0]);
        let delta: Vec<f64> = (0..out)
            .map(|o| (0..k).map(|j| dp[(j, o)] * grad_f[j]).sum())
            .collect();
        let g: Vec<f64> = (0..d)
            .map(|j| delta[j / inn] * s.acts[(p, j % inn)])
            .collect();
        for r in 0..d {
            gm[r] += g[r] / n as f64;
            for c in 0..d {
                gg[(r, c)] += g[r] * g[c] / n as f64;
            }
        }
        h2 += &hp * &hp;
        h += hp;
    }
    h *= faer::Scale(1.0 / n as f64);
    h2 *= faer::Scale(1.0 / n as f64);
    let c = Mat::from_fn(d, d, |r, q| (gg[(r, q)] - gm[r] * gm[q]) / batch as f64);
    Dense {
        h,
        h2,
        c,
        mean_loss: loss / n as f64,
        accuracy: correct as f64 / n as f64,
        lambda_max,
    }
}

fn quad(v: faer::ColRef<'_, f64>, m: &Mat<f64>) -> f64 {
    v.transpose() * m * v
}

fn check_against_dense(loss: Loss, seed: u64) {
    // N < d: the corrected null reads the N x N dual spectrum of C as d values.
    let (n, out, inn, k, batch, top) = (16, 4, 5, 3, 5, 8);
    let f = random_factors(n, out, inn, k, loss, seed);
    let settings = LayerSettings {
        top_k: top,
        batch_size: batch,
        chunk: 7,
        coupling_awd: true,
        coupling_null: true,
        term2: true,
        pair_seed: 3,
        linalg_threads: 1,
        ..LayerSettings::default()
    };
    let r = analyze_layer(&f, &settings, &Silent).unwrap();
    let dn = dense(&f, batch);
    let d = out * inn;
    assert_eq!(r.layer, "synthetic");
    assert_eq!(r.layer_shape, (out, inn));
    assert_eq!((r.samples, r.classes, r.batch_size), (n, k, batch));
    assert_eq!(r.loss, loss);
    assert!((r.mean_loss - dn.mean_loss).abs() <= 1e-12 * dn.mean_loss.abs());
    assert_eq!(r.accuracy, dn.accuracy);

    let eig = sym_eig(dn.h.as_ref(), "dense H").unwrap();
    let hs = eig.values[0].abs();
    assert_eq!(r.h_diag.len(), top);
    let (mut c_dense, mut s_dense) = (Vec::new(), Vec::new());
    for i in 0..top {
        assert!(
            (r.h_diag[i] - eig.values[i]).abs() <= 1e-12 * hs,
            "H_{i}: {} vs {}",
            r.h_diag[i],
            eig.values[i]
        );
        let v = eig.vectors.col(i);
        c_dense.push(quad(v, &dn.c));
        s_dense.push(quad(v, &dn.h2));
    }
    let cs = c_dense.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let ss = s_dense.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    for i in 0..top {
        assert!(
            (r.c_diag[i] - c_dense[i]).abs() <= 1e-10 * cs,
            "C_{i}: {} vs {}",
            r.c_diag[i],
            c_dense[i]
        );
        assert!(
            (r.c_awd_diag[i] - s_dense[i]).abs() <= 1e-10 * ss,
            "S_{i}: {} vs {}",
            r.c_awd_diag[i],
            s_dense[i]
        );
    }
    assert!(
        r.first_moment_residual < 1e-10,
        "{}",
        r.first_moment_residual
    );
    assert!((r.bounds.lambda_max - dn.lambda_max.max(0.0)).abs() <= 1e-10 * dn.lambda_max.abs());
    assert_eq!(r.bounds.directions, top);
    if loss == Loss::CrossEntropy {
        assert!(r.bounds.holds(), "{:?}", r.bounds);
        assert!(r.spectra.negative_mass < 1e-12);
    }

    let rule = FitRule::default_for(top, d);
    assert_eq!(r.fit_rule, rule);
    for (got, want) in [(&r.gamma, &c_dense), (&r.gamma_awd, &s_dense)] {
        let want = fit_gamma(&eig.values[..top], want, &rule).unwrap();
        let got = got.as_ref().unwrap();
        assert!(
            (got.gamma - want.gamma).abs() < 1e-8,
            "{} vs {}",
            got.gamma,
            want.gamma
        );
    }

    // rho_bar of V^T C V with the paper's null from tr C and ||C||_F^2.
    let vt = eig.vectors.subcols(0, top);
    let cp = vt.transpose() * &dn.c * vt;
    let want = coupling_of_projected(cp.as_ref(), "dense").unwrap();
    let cn = r.coupling_c.as_ref().unwrap();
    assert!((cn.coupling.rho_bar - want.rho_bar).abs() < 1e-8);
    let tr: f64 = (0..d).map(|i| dn.c[(i, i)]).sum();
    assert!((cn.trace - tr).abs() <= 1e-10 * tr);
    assert!((cn.frobenius_sq - dn.c.squared_norm_l2()).abs() <= 1e-10 * cn.frobenius_sq);
    assert!((cn.k_eff - tr * tr / dn.c.squared_norm_l2()).abs() <= 1e-8 * cn.k_eff);
    assert!(cn.corrected_mean.is_some() && cn.k_rho.is_some());
    let ca = r.coupling_awd.as_ref().unwrap().as_ref().unwrap();
    let sp = vt.transpose() * &dn.h2 * vt;
    let want = coupling_of_projected(sp.as_ref(), "dense").unwrap();
    assert!((ca.coupling.rho_bar - want.rho_bar).abs() < 1e-8);
    let tr2: f64 = (0..d).map(|i| dn.h2[(i, i)]).sum();
    assert!((ca.trace - tr2).abs() <= 1e-10 * tr2);

    let t2 = r.term2.as_ref().unwrap().as_ref().unwrap();
    assert_eq!((t2.pairs_used, t2.pair_seed), (n, 3));
    assert!(t2.sigma2 > 0.0 && t2.term2_share.is_finite());
    let names: Vec<&str> = r.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names.first(), Some(&"factor A_p"));
    assert_eq!(names.last(), Some(&"Term I + II (Table 3)"));
}

#[test]
fn analyze_layer_matches_dense_cross_entropy() {
    for seed in [1, 2] {
        check_against_dense(Loss::CrossEntropy, seed);
    }
}

#[test]
fn analyze_layer_matches_dense_softmax_mse() {
    check_against_dense(Loss::SoftmaxMse, 5);
}

#[test]
fn analyze_layer_defaults_and_bad_input() {
    let f = random_factors(12, 2, 3, 3, Loss::CrossEntropy, 9);
    let r = analyze_layer(&f, &LayerSettings::default(), &Silent).unwrap();
    // top-k 0: every direction; the optional parts are off.
    assert_eq!(r.h_diag.len(), 6);
    assert!(r.coupling_awd.is_none() && r.term2.is_none());
    let c = r.coupling_c.as_ref().unwrap();
    assert!(c.corrected_mean.is_none());
    let err = analyze_layer(
        &f,
        &LayerSettings {
            batch_size: 0,
            ..LayerSettings::default()
        },
        &Silent,
    )
    .unwrap_err();
    assert!(err.to_string().contains("batch size"), "{err}");
    let mut bad = f.clone();
    bad.weights = Mat::zeros(3, 3);
    assert!(analyze_layer(&bad, &LayerSettings::default(), &Silent).is_err());
}

#[test]
fn balanced_indices_round_robin() {
    let labels = [0u8, 0, 1, 2, 0, 1, 2, 2, 1, 0];
    assert_eq!(balanced_indices(&labels, 0), (0..10).collect::<Vec<_>>());
    assert_eq!(balanced_indices(&labels, 20), (0..10).collect::<Vec<_>>());
    // Two of each class, first in file order, returned sorted.
    assert_eq!(balanced_indices(&labels, 6), vec![0, 1, 2, 3, 5, 6]);
    // An uneven request takes the classes in order of first appearance.
    assert_eq!(balanced_indices(&labels, 4), vec![0, 1, 2, 3]);
}

/// The matrix-free Krylov route of `analyze_layer` against the dense one on
/// the same factors: eigenvalues to 1e-8 relative, gamma to 1e-6, residuals
/// reported.
#[test]
fn krylov_route_matches_the_dense_route() {
    use superlinear::memory::EigMethod;
    for (loss, seed) in [(Loss::CrossEntropy, 11), (Loss::SoftmaxMse, 12)] {
        let f = random_factors(120, 6, 7, 4, loss, seed);
        let base = LayerSettings {
            top_k: 10,
            batch_size: 2,
            linalg_threads: 1,
            ..LayerSettings::default()
        };
        let dense = analyze_layer(&f, &base, &Silent).unwrap();
        assert_eq!(dense.eigen.method, EigMethod::Dense);
        for method in [EigMethod::KrylovDense, EigMethod::KrylovMatrixFree] {
            let kr = analyze_layer(
                &f,
                &LayerSettings {
                    eig: method,
                    eig_seed: 5,
                    ..base.clone()
                },
                &Silent,
            )
            .unwrap();
            assert_eq!(kr.eigen.method, method);
            let res = kr
                .eigen
                .max_relative_residual
                .expect("Krylov reports residuals");
            assert!(res < 1e-8, "{method:?}: residual {res:e}");
            for (a, b) in dense.h_diag.iter().zip(&kr.h_diag) {
                assert!((a - b).abs() <= 1e-8 * dense.h_diag[0].abs(), "{a} vs {b}");
            }
            let g = |r: &superlinear::layer::LayerReport| r.gamma.as_ref().unwrap().gamma;
            assert!(
                (g(&dense) - g(&kr)).abs() < 1e-6,
                "{} vs {}",
                g(&dense),
                g(&kr)
            );
        }
    }
}

/// A cap below the plan is refused before anything is allocated, naming the
/// stage and the bytes.
#[test]
fn memory_cap_is_refused_with_the_estimate() {
    let f = random_factors(40, 5, 6, 3, Loss::CrossEntropy, 21);
    let settings = LayerSettings {
        memory_limit: Some(1024),
        ..LayerSettings::default()
    };
    let err = analyze_layer(&f, &settings, &Silent).unwrap_err();
    assert!(
        matches!(err, superlinear::Error::MemoryLimit { .. }),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("1024") || text.contains("KiB") || text.contains("bytes"),
        "{text}"
    );
    let ok = analyze_layer(&f, &LayerSettings::default(), &Silent).unwrap();
    assert!(ok.memory.estimated_peak_bytes > 1024);
    assert!(ok.memory.dense_factors);
}

/// A failure a report holds keeps its kind in memory and serialises as its
/// message, the form the committed records hold, which reads back.
#[test]
fn failures_keep_their_kind_and_serialise_as_the_message() {
    use superlinear::error::{Error, Failure};
    let f = Failure::from(Error::param("top-k", 0, "must be at least 1"));
    assert_eq!(f.kind, "InvalidParameter");
    assert!(f.message.contains("top-k"), "{}", f.message);
    let json = serde_json::to_string(&f).unwrap();
    assert_eq!(json, serde_json::to_string(&f.message).unwrap());
    let back: Failure = serde_json::from_str(&json).unwrap();
    assert_eq!(
        (back.kind.as_str(), back.message),
        ("recorded", f.message.clone())
    );
    // A record's failed fit reads back as a failure.
    let r: Result<superlinear::reproduce::record::FitSummary, Failure> =
        serde_json::from_str(r#"{"Err": "h_diag, c_diag: cannot fit: fewer than 3 points"}"#)
            .unwrap();
    assert!(r.is_err());
}
