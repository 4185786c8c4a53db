//! Torch tier (feature `torch`): the exact oracle for the Kronecker engine
//! (per-sample Hessians by brute-force double backward over the layer's
//! weights, in f64), checkpoints readable by PyTorch, and a tiny
//! train-then-analyze run. Kept small: the whole module runs in seconds.

use std::path::PathBuf;

use faer::Mat;
use superlinear::kron::KronCurvature;
use superlinear::loss::Loss;
use superlinear::progress::Silent;
use superlinear::reproduce::analyze::{analyze, run_analyze_on, AnalyzeSettings};
use superlinear::torch::curvature::{layer_samples, tensor_to_f64};
use superlinear::torch::dataset::TrainData;
use superlinear::torch::model::{per_sample_loss, Arch, ModelSpec, Net};
use superlinear::torch::train::{train, TrainSettings};
use tch::{Kind, Tensor};

/// One libtorch thread: the tests run in parallel on 2 cores, and libtorch's
/// OpenMP workers spin under oversubscription (a 0.5 s test took 28 s).
fn one_thread() {
    tch::set_num_threads(1);
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("superlinear-torch-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Per-sample Hessians of `layer` by double backward, and per-sample gradients
/// (rows), for every row of `x`.
fn oracle(
    net: &Net,
    layer: &str,
    x: &Tensor,
    labels: &[usize],
    loss: Loss,
) -> (Vec<Mat<f64>>, Mat<f64>) {
    let w = net.weight(layer).unwrap();
    let d = w.numel();
    let n = labels.len();
    let mut hs = Vec::new();
    let mut grads = Mat::zeros(n, d);
    for p in 0..n {
        let xp = x.narrow(0, p as i64, 1);
        let logits = net.forward(&xp).unwrap();
        let y = Tensor::from_slice(&[labels[p] as i64]);
        let l = per_sample_loss(&logits, &y, loss)
            .unwrap()
            .sum(Kind::Double);
        let g = Tensor::run_backward(&[&l], &[w], true, true)
            .remove(0)
            .flatten(0, -1);
        let gv = tensor_to_f64(&g, "g").unwrap();
        for j in 0..d {
            grads[(p, j)] = gv[j];
        }
        let mut h = Mat::zeros(d, d);
        for j in 0..d {
            let row = Tensor::run_backward(&[&g.get(j as i64)], &[w], true, false).remove(0);
            let rv = tensor_to_f64(&row, "h row").unwrap();
            for c in 0..d {
                h[(j, c)] = rv[c];
            }
        }
        hs.push(h);
    }
    (hs, grads)
}

fn max_abs(m: &Mat<f64>) -> f64 {
    let mut x = 0.0f64;
    for j in 0..m.ncols() {
        for i in 0..m.nrows() {
            x = x.max(m[(i, j)].abs());
        }
    }
    x
}

/// Engine vs oracle: H entrywise, eigenvalues (nalgebra), C_ii, C_awd,ii,
/// per-sample gradients and Hessians, all to 1e-8 relative.
fn oracle_agreement(
    spec: &ModelSpec,
    chw: (usize, usize, usize),
    n: usize,
    loss: Loss,
    seed: u64,
) -> f64 {
    let net = Net::new(spec, seed, Kind::Double).unwrap();
    let layer = spec.default_layer();
    tch::manual_seed(seed as i64 + 1);
    let (c, h, w) = chw;
    let x = net
        .input_view(
            &Tensor::rand(
                [n as i64, (c * h * w) as i64],
                (Kind::Double, tch::Device::Cpu),
            ),
            chw,
        )
        .unwrap();
    let labels: Vec<usize> = (0..n).map(|p| p % spec.classes).collect();
    let samples = layer_samples(&net, &layer, &x, &labels, loss, 5).unwrap();
    let engine = KronCurvature::new(&samples, "oracle net").unwrap();
    let (hs, grads) = oracle(&net, &layer, &x, &labels, loss);
    let d = engine.d();
    let mut worst = 0.0f64;
    let mut rel = |a: f64, b: f64, scale: f64, what: &str| {
        let r = (a - b).abs() / scale.max(1e-300);
        assert!(
            r < 1e-8,
            "{what}: engine {a} vs oracle {b} (relative {r:e})"
        );
        worst = worst.max(r);
    };
    let g = engine.per_sample_gradients();
    let gs = max_abs(&grads);
    for p in 0..n {
        for j in 0..d {
            rel(g[(p, j)], grads[(p, j)], gs, "per-sample gradient");
        }
        let hp = engine.per_sample_hessian(p).unwrap();
        let s = max_abs(&hs[p]);
        for i in 0..d {
            for j in 0..d {
                rel(hp[(i, j)], hs[p][(i, j)], s, "per-sample Hessian");
            }
        }
    }
    let mut h_or = Mat::<f64>::zeros(d, d);
    let mut h2_or = Mat::<f64>::zeros(d, d);
    for hp in &hs {
        h2_or += hp * hp;
        h_or += hp;
    }
    h_or *= faer::Scale(1.0 / n as f64);
    h2_or *= faer::Scale(1.0 / n as f64);
    let h_eng = engine.hessian();
    let hsc = max_abs(&h_or);
    for i in 0..d {
        for j in 0..d {
            rel(h_eng[(i, j)], h_or[(i, j)], hsc, "H");
        }
    }
    // Eigenvalues: engine (faer) vs oracle H (nalgebra).
    let eig = engine.hessian_eig().unwrap();
    let na = nalgebra::DMatrix::from_fn(d, d, |i, j| 0.5 * (h_or[(i, j)] + h_or[(j, i)]));
    let mut na_vals: Vec<f64> = na.symmetric_eigen().eigenvalues.iter().cloned().collect();
    na_vals.sort_by(|a, b| b.total_cmp(a));
    for (a, b) in eig.values.iter().zip(&na_vals) {
        rel(*a, *b, hsc, "eigenvalue of H");
    }
    // C (Eq. 2, B = 5) and E[h^2] projected on the engine's eigenvectors.
    let b = 5usize;
    let mean = Mat::from_fn(d, 1, |j, _| {
        (0..n).map(|p| grads[(p, j)]).sum::<f64>() / n as f64
    });
    let c_or = (grads.transpose() * &grads) * faer::Scale(1.0 / (n * b) as f64)
        - (&mean * mean.transpose()) * faer::Scale(1.0 / b as f64);
    let v = eig.vectors.as_ref();
    let c_eng = engine.c_diag(v, b).unwrap();
    let awd_eng = engine.c_awd_diag(v).unwrap();
    let csc = max_abs(&c_or);
    let h2sc = max_abs(&h2_or);
    for i in 0..d {
        let vi = v.col(i);
        rel(c_eng[i], vi.transpose() * &c_or * vi, csc, "C_ii");
        rel(awd_eng[i], vi.transpose() * &h2_or * vi, h2sc, "C_awd,ii");
    }
    // The analyze path: top-k eigensolver and the fused pass, off-diagonals too.
    let top = (d / 2).max(1);
    let t = engine.hessian_top_eig(top, faer::Par::Seq).unwrap();
    for (a, b) in t.values.iter().zip(&na_vals) {
        rel(*a, *b, hsc, "top-k eigenvalue of H");
    }
    let pr = engine
        .projections(t.vectors.as_ref(), 4, true, faer::Par::Seq)
        .unwrap();
    let cp = pr.c_projected(b, faer::Par::Seq);
    let vt = t.vectors.as_ref();
    let cp_or = vt.transpose() * &c_or * vt;
    let awd_or = vt.transpose() * &h2_or * vt;
    let awd = pr.awd_projected.as_ref().unwrap();
    for i in 0..top {
        for j in 0..top {
            rel(cp[(i, j)], cp_or[(i, j)], csc, "C' = V^T C V");
            rel(awd[(i, j)], awd_or[(i, j)], h2sc, "V^T E[h^2] V");
        }
    }
    worst
}

fn small_mlp() -> ModelSpec {
    ModelSpec {
        arch: Arch::Mlp {
            input: 6,
            hidden: vec![5, 4],
        },
        classes: 3,
    }
}

fn small_cnn() -> ModelSpec {
    ModelSpec {
        arch: Arch::Cnn {
            in_channels: 2,
            channels: vec![3, 4],
            pool_side: 1,
            hidden: 5,
        },
        classes: 3,
    }
}

#[test]
fn oracle_mlp_cross_entropy() {
    one_thread();
    let worst = oracle_agreement(&small_mlp(), (1, 2, 3), 12, Loss::CrossEntropy, 1);
    eprintln!("oracle MLP CE: worst relative difference {worst:e}");
}

#[test]
fn oracle_mlp_softmax_mse() {
    one_thread();
    let worst = oracle_agreement(&small_mlp(), (1, 2, 3), 12, Loss::SoftmaxMse, 2);
    eprintln!("oracle MLP softmax-MSE: worst relative difference {worst:e}");
}

#[test]
fn oracle_cnn_cross_entropy_and_mse() {
    one_thread();
    for (loss, seed) in [(Loss::CrossEntropy, 3), (Loss::SoftmaxMse, 4)] {
        let worst = oracle_agreement(&small_cnn(), (2, 6, 6), 10, loss, seed);
        eprintln!("oracle CNN {loss:?}: worst relative difference {worst:e}");
    }
}

/// Reads a safetensors header (8-byte little-endian length, then JSON).
fn safetensors_header(path: &std::path::Path) -> serde_json::Value {
    let bytes = std::fs::read(path).unwrap();
    let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    serde_json::from_slice(&bytes[8..8 + len]).unwrap()
}

pub(crate) fn synthetic_data(
    n: usize,
    chw: (usize, usize, usize),
    classes: usize,
    seed: u64,
) -> TrainData {
    use rand::Rng as _;
    let mut rng = superlinear::linalg::seeded_rng(seed);
    let dim = chw.0 * chw.1 * chw.2;
    let labels: Vec<u8> = (0..n).map(|p| (p % classes) as u8).collect();
    // Class-dependent means so that the task is learnable.
    let images = ndarray::Array2::from_shape_fn((n, dim), |(p, j)| {
        let c = labels[p] as usize;
        let mean = if j % classes == c { 1.0 } else { 0.0 };
        (mean + 0.1 * rng.random_range(-1.0..1.0f32)).clamp(0.0, 1.0)
    });
    TrainData {
        images,
        labels,
        chw,
        name: "synthetic".into(),
    }
}

#[test]
fn checkpoint_names_roundtrip_and_pytorch_load() {
    one_thread();
    let dir = temp_dir("ckpt");
    let net = Net::new(&small_cnn(), 7, Kind::Float).unwrap();
    let path = dir.join("net.safetensors");
    net.save(&path).unwrap();
    let header = safetensors_header(&path);
    let mut names: Vec<&str> = header
        .as_object()
        .unwrap()
        .keys()
        .map(|s| s.as_str())
        .filter(|s| *s != "__metadata__")
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["conv1.weight", "conv2.weight", "fc1.weight", "fc2.weight"]
    );
    assert_eq!(header["fc1.weight"]["shape"], serde_json::json!([5, 4]));
    assert_eq!(header["conv1.weight"]["dtype"], "F32");
    let back = Net::load(&path, Kind::Float).unwrap();
    assert_eq!(back.spec(), net.spec());
    let x = net
        .input_view(
            &Tensor::rand([3, 72], (Kind::Float, tch::Device::Cpu)),
            (2, 6, 6),
        )
        .unwrap();
    let a = tensor_to_f64(&net.forward(&x).unwrap(), "a").unwrap();
    let b = tensor_to_f64(&back.forward(&x).unwrap(), "b").unwrap();
    assert_eq!(a, b);

    // The same file in PyTorch itself: an nn.Module with the documented names
    // loads it strictly and reproduces the logits.
    let Ok(python) = std::env::var("SUPERLINEAR_TORCH_PYTHON") else {
        eprintln!("SKIPPED PyTorch cross-check: SUPERLINEAR_TORCH_PYTHON unset (run through scripts/torch-env.sh)");
        return;
    };
    let xv = tensor_to_f64(&x, "x").unwrap();
    let script = format!(
        r#"
import json, struct, sys, torch
raw = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
hdr = json.loads(raw[8:8 + n]); body = raw[8 + n:]
sd = {{}}
for k, v in hdr.items():
    if k == '__metadata__': continue
    s, e = v['data_offsets']
    sd[k] = torch.frombuffer(bytearray(body[s:e]), dtype=torch.float32).reshape(v['shape'])
class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(2, 3, 3, padding=1, bias=False)
        self.conv2 = torch.nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.fc1 = torch.nn.Linear(4, 5, bias=False)
        self.fc2 = torch.nn.Linear(5, 3, bias=False)
    def forward(self, x):
        x = torch.max_pool2d(torch.relu(self.conv1(x)), 2, 2)
        x = torch.relu(self.conv2(x))
        x = torch.flatten(torch.nn.functional.adaptive_avg_pool2d(x, 1), 1)
        return self.fc2(torch.relu(self.fc1(x)))
m = Net(); m.load_state_dict(sd, strict=True)
x = torch.tensor({xv:?}, dtype=torch.float32).reshape(3, 2, 6, 6)
print(json.dumps(m(x).detach().flatten().tolist()))
"#
    );
    let out = std::process::Command::new(python)
        .arg("-c")
        .arg(&script)
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let py: Vec<f64> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(py.len(), a.len());
    for (p, r) in py.iter().zip(&a) {
        assert!(
            (p - r).abs() <= 1e-5 * r.abs().max(1.0),
            "PyTorch {p} vs tch {r}"
        );
    }
}

#[test]
fn bad_checkpoints_are_typed_errors() {
    one_thread();
    let dir = temp_dir("bad");
    let p = dir.join("garbage.safetensors");
    std::fs::write(&p, b"not a safetensors file").unwrap();
    assert!(Net::load(&p, Kind::Float).is_err());
    // A bias tensor is refused: the analysed networks are bias-free.
    let w = Tensor::zeros([4, 3], (Kind::Float, tch::Device::Cpu));
    let b = Tensor::zeros([4], (Kind::Float, tch::Device::Cpu));
    let w2 = Tensor::zeros([2, 4], (Kind::Float, tch::Device::Cpu));
    let p = dir.join("bias.safetensors");
    Tensor::write_safetensors(
        &[("fc1.weight", &w), ("fc1.bias", &b), ("fc2.weight", &w2)],
        &p,
    )
    .unwrap();
    let err = Net::load(&p, Kind::Float).unwrap_err().to_string();
    assert!(err.contains("fc1.bias"), "{err}");
    let net = Net::new(&small_mlp(), 0, Kind::Float).unwrap();
    assert!(net.weight("fc9.weight").is_err());
    assert!(net
        .layer_input(
            &Tensor::zeros([1, 6], (Kind::Float, tch::Device::Cpu)),
            "fc9.weight"
        )
        .is_err());
}

#[test]
fn train_then_analyze_tiny() {
    one_thread();
    let dir = temp_dir("train");
    let chw = (1, 4, 4);
    let data = synthetic_data(120, chw, 3, 11);
    let spec = ModelSpec {
        arch: Arch::Mlp {
            input: 16,
            hidden: vec![8, 6],
        },
        classes: 3,
    };
    let mut net = Net::new(&spec, 3, Kind::Float).unwrap();
    let settings = TrainSettings {
        loss: Loss::CrossEntropy,
        lr: 0.1,
        batch_size: 10,
        epochs: 60,
        seed: 3,
        checkpoint_every: 20,
        out_dir: Some(dir.clone()),
        ..TrainSettings::default()
    };
    let report = train(&mut net, &data, &settings, &Silent).unwrap();
    assert_eq!(report.epochs.len(), 61);
    let last = report.epochs.last().unwrap();
    assert!(last.loss < report.epochs[0].loss, "{:?}", report.epochs);
    assert!(last.accuracy > 0.9, "{:?}", report.epochs);
    assert_eq!(report.checkpoints.len(), 4);
    // Same seed, same run.
    let short = TrainSettings {
        out_dir: None,
        epochs: 3,
        ..settings.clone()
    };
    let mut once = Net::new(&spec, 3, Kind::Float).unwrap();
    let mut again = Net::new(&spec, 3, Kind::Float).unwrap();
    let r1 = train(&mut once, &data, &short, &Silent).unwrap();
    let r2 = train(&mut again, &data, &short, &Silent).unwrap();
    assert_eq!(
        r1.epochs.last().unwrap().loss,
        r2.epochs.last().unwrap().loss
    );
    assert_eq!(r1.epochs[1].loss, report.epochs[1].loss);

    let a = run_analyze_on(
        &AnalyzeSettings {
            checkpoint: dir.join("final.safetensors"),
            samples: 60,
            top_k: 20,
            ..AnalyzeSettings::default()
        },
        &data,
        &Silent,
    )
    .unwrap()
    .analysis;
    assert_eq!(a.layer, "fc2.weight");
    assert_eq!(a.layer_shape, (6, 8));
    assert_eq!(a.samples, 60);
    assert_eq!(a.batch_size, 10);
    assert_eq!(a.h_diag.len(), 20);
    assert!(
        a.first_moment_residual < 1e-10,
        "{}",
        a.first_moment_residual
    );
    // Cross-entropy per-sample Hessians are PSD: Theorem 5.1 holds.
    assert!(a.bounds.holds(), "{:?}", a.bounds);
    assert!(
        a.gamma.is_ok() && a.gamma_awd.is_ok(),
        "{:?} {:?}",
        a.gamma,
        a.gamma_awd
    );
    assert!(a.spectra.negative_mass < 1e-12);
    assert!(a.stages.len() >= 6);
    // The Float net analysed in Double gives the same numbers to float precision.
    let net_d = net.to_kind(Kind::Double).unwrap();
    let b = analyze(
        &net_d,
        &data,
        &AnalyzeSettings {
            samples: 60,
            top_k: 20,
            loss: Some(Loss::CrossEntropy),
            batch_size: Some(10),
            coupling_awd: true,
            linalg_threads: 1,
            ..AnalyzeSettings::default()
        },
        None,
        &Silent,
    )
    .unwrap()
    .analysis;
    // rho_bar of C and of C_awd (the latter only when asked for).
    let rc = a.coupling_c.as_ref().unwrap();
    assert!(
        rc.coupling.rho_bar > 0.0 && rc.coupling.rho_bar <= 1.0,
        "{rc:?}"
    );
    assert!(rc.paper_mean > 0.0 && rc.k_eff >= 1.0, "{rc:?}");
    assert!(a.coupling_awd.is_none());
    let ra = b.coupling_awd.as_ref().unwrap().as_ref().unwrap();
    assert!(
        ra.coupling.rho_bar > 0.0 && ra.coupling.rho_bar <= 1.0,
        "{ra:?}"
    );
    for i in 0..5 {
        assert!(
            (a.h_diag[i] - b.h_diag[i]).abs() <= 1e-4 * b.h_diag[0],
            "{i}"
        );
    }
    // Without run.json the loss must be given.
    std::fs::remove_file(dir.join("run.json")).unwrap();
    let err = run_analyze_on(
        &AnalyzeSettings {
            checkpoint: dir.join("final.safetensors"),
            ..AnalyzeSettings::default()
        },
        &data,
        &Silent,
    )
    .unwrap_err();
    assert!(err.to_string().contains("loss"), "{err}");
}

/// A `run.json` written before the training device was recorded (no
/// `settings.device`) reads as a CPU run; the device round-trips by name.
#[test]
fn torch_run_json_without_device_reads_as_cpu() {
    use superlinear::torch::device::TrainDevice;
    let cuda = TrainSettings {
        device: TrainDevice::Cuda,
        ..TrainSettings::default()
    };
    let mut v = serde_json::to_value(&cuda).unwrap();
    assert_eq!(v["device"], "cuda");
    let back: TrainSettings = serde_json::from_value(v.clone()).unwrap();
    assert_eq!(back, cuda);
    v.as_object_mut().unwrap().remove("device");
    let old: TrainSettings = serde_json::from_value(v).unwrap();
    assert_eq!(old.device, TrainDevice::Cpu);
    assert_eq!(
        old,
        TrainSettings {
            device: TrainDevice::Cpu,
            ..cuda
        }
    );
    assert_eq!("cpu".parse::<TrainDevice>().unwrap(), TrainDevice::Cpu);
    let err = "gpu".parse::<TrainDevice>().unwrap_err().to_string();
    assert!(err.contains("gpu") && err.contains("cpu, cuda"), "{err}");
}
