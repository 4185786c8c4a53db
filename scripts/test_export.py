"""Checks scripts/export_layer.py against PyTorch's exact per-sample Hessians,
against the Rust reader (examples/read_factors.rs) and against
`superlinear analyze --checkpoint` on the project's own trained MLP.

    python scripts/test_export.py [--reader PATH_TO_read_factors_BINARY]
                                  [--superlinear PATH_TO_TORCH_BUILD_OF_superlinear]

Without --reader it runs `cargo run --release --quiet --example read_factors`;
without --superlinear it builds the binary with
`cargo build --release --features torch` (case (d) needs libtorch: run it in
the venv of scripts/torch-env.sh).
Cases:
  (a) bias-free ReLU MLP, hidden layer, CE and MSE: the Kronecker form
      A_p (x) a_p a_p^T from the exported file equals the exact Hessian of the
      loss in W (double backward) to 1e-10 relative (float64);
  (b) a CNN with biases, BatchNorm (eval mode) and max-pool, its first fully
      connected layer (biased, followed by BatchNorm1d and ReLU): exact too;
  (c) a residual MLP with a GELU after the layer: the Gauss-Newton gap
      ||H_exact - H_kron|| / ||H_exact|| is reported, finite and nonzero, and
      equals ||T_p|| / ||A_p + T_p|| from the Hessian in z (the dropped term is
      T_p (x) a_p a_p^T);
  every exported file (also a float32 one) is read back by the Rust reader,
  whose sizes, metadata, loss values and A_p = D_p^T M_p D_p (from the
  engine's own loss derivatives) must agree with PyTorch's; a truncated file
  must be refused with a one-line error naming it;
  (d) the two routes of `superlinear analyze` on the project's own network:
      `superlinear train` fits a small bias-free MNIST MLP (CE, then MSE);
      `analyze --checkpoint RUN --float64 --save-inputs DIR` analyses fc2 and
      writes the exact samples it used (the run's standardised subset, the
      class-balanced selection); the checkpoint is loaded into an nn.Module
      here, export_layer writes fc2's factors from those samples in float64,
      and `analyze --factors FILE` must report every figure of the
      checkpoint route (see compare_reports) to 1e-10 relative. The same
      comparison against the default float32 gathering must fail (about
      1e-7 apart), so the check resolves the difference it guards. Skipped
      with a message when the shared MNIST subset is not found
      (SUPERLINEAR_DATA, else ../shared/data or ../../shared/data).
Prints one line per case and exits non-zero on the first failure.
"""

import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_layer import (  # noqa: E402
    export_layer,
    kronecker_gap,
    per_sample_loss,
)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXACT_TOL = 1e-10
SAMPLES = 4


def reader_cmd(args):
    if args.reader:
        return [args.reader]
    return ["cargo", "run", "--release", "--quiet", "--example", "read_factors", "--"]


def read_back(cmd, path, samples):
    proc = subprocess.run(cmd + [path, str(samples)], cwd=REPO, capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssertionError(f"Rust reader refused {path}: {proc.stderr.strip()}")
    return json.loads(proc.stdout)


def loss_hessian(logits, label, loss):
    y = label.reshape(1)
    return torch.autograd.functional.hessian(lambda g: per_sample_loss(g[None], y, loss)[0], logits)


def check_reader(cmd, path, tensors, metadata, loss, rel_tol):
    """The Rust reader's view of the file agrees with what was exported."""
    r = read_back(cmd, path, SAMPLES)
    n, k = tensors["logits"].shape
    out, inn = tensors["weight"].shape
    assert (r["n"], r["classes"], r["out"], r["in"]) == (n, k, out, inn), r
    assert r["loss"] == loss, r["loss"]
    assert r["metadata"] == metadata, (r["metadata"], metadata)
    want_precision = "f64" if tensors["acts"].dtype == torch.float64 else "f32"
    assert r["precision"] == want_precision, r["precision"]
    worst = 0.0
    for p, s in enumerate(r["samples"]):
        f = tensors["logits"][p].to(torch.float64)
        y = tensors["labels"][p]
        assert s["label"] == int(y)
        assert torch.equal(torch.tensor(s["act"], dtype=torch.float64),
                           tensors["acts"][p].to(torch.float64)), "acts differ"
        lv = float(per_sample_loss(f[None], y.reshape(1), loss)[0])
        worst = max(worst, abs(s["loss"] - lv) / max(abs(lv), 1e-300))
        d = tensors["jacobians"][p].to(torch.float64)
        a_py = d.T @ loss_hessian(f, y, loss) @ d
        a_rs = torch.tensor(s["a_factor"], dtype=torch.float64).view(out, out)
        worst = max(worst, float(torch.linalg.norm(a_rs - a_py) / torch.linalg.norm(a_py)))
    assert worst <= rel_tol, f"Rust and PyTorch disagree on loss or A_p: {worst:.3e}"
    return worst


def relu_mlp():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(6, 5, bias=False), nn.ReLU(),
        nn.Linear(5, 4, bias=False), nn.ReLU(),
        nn.Linear(4, 3, bias=False),
    ).eval()


class SmallCNN(nn.Module):
    """Conv + BatchNorm2d + ReLU + max-pool, then fc1 (biased) + BatchNorm1d + ReLU + fc2."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(2)
        self.fc1 = nn.Linear(18, 6)
        self.bn1 = nn.BatchNorm1d(6)
        self.fc2 = nn.Linear(6, 4)

    def forward(self, x):
        h = F.max_pool2d(F.relu(self.bn2(self.conv(x))), 2).flatten(1)
        return self.fc2(F.relu(self.bn1(self.fc1(h))))


class GeluResidual(nn.Module):
    """h = relu(inp(x)); out = head(h + gelu(layer(h)))."""

    def __init__(self):
        super().__init__()
        self.inp = nn.Linear(6, 5)
        self.layer = nn.Linear(5, 5)
        self.head = nn.Linear(5, 3)

    def forward(self, x):
        h = F.relu(self.inp(x))
        return self.head(h + F.gelu(self.layer(h)))

    def loss_in_z(self, x, z, y, loss):
        h = F.relu(self.inp(x))
        return per_sample_loss(self.head(h + F.gelu(z)), y, loss)[0]


def case(name, fn):
    try:
        msg = fn()
    except Exception as e:  # report which case failed, then fail
        print(f"FAIL {name}: {type(e).__name__}: {e}")
        raise
    print(f"ok   {name}: {msg}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reader", help="path to the built read_factors example binary")
    ap.add_argument("--superlinear", help="path to superlinear built with --features torch")
    args = ap.parse_args()
    cmd = reader_cmd(args)
    with tempfile.TemporaryDirectory(prefix="superlinear-export-") as tmp:
        run_cases(cmd, tmp)
        root = shared_data()
        if root is None:
            print("skip (d) checkpoint route: shared MNIST data not found "
                  "(SUPERLINEAR_DATA, ../shared/data, ../../shared/data)")
            return
        sl = superlinear_bin(args)
        for loss in ("ce", "mse"):
            case(f"checkpoint route {loss}", lambda loss=loss: checkpoint_route(sl, root, tmp, loss))


# ---------------------------------------------------------------------------
# (d) export_layer against `analyze --checkpoint` on the project's own MLP.

XCHECK_TOL = 1e-10
# Figures that are rounding residues by construction, compared on the scale
# they are residues of: |a - b| <= XCHECK_TOL * scale. Keyed by the field name.
RESIDUE_SCALE = {
    # max_i |H_ii - E_p[sum_k lambda_pk (u_pk . v_i)^2]| / max_i |H_ii| (C8):
    # zero up to rounding in both routes.
    "first_moment_residual": 1.0,
    # max |Hv - lambda v| / |lambda_1| of an iterative eigen route.
    "max_relative_residual": 1.0,
}
# Fields that name the source, time it or read the machine's free memory,
# not figures of the layer (paths from the top of the JSON report).
NOT_FIGURES = {".checkpoint", ".factors", ".model", ".data", ".float32", ".stages",
               ".memory.limit_bytes"}


def shared_data():
    env = os.environ.get("SUPERLINEAR_DATA")
    cands = [env] if env else [os.path.join(REPO, "..", "shared", "data"),
                               os.path.join(REPO, "..", "..", "shared", "data")]
    for c in cands:
        if c and os.path.isdir(os.path.join(c, "mnist-10k")):
            return os.path.abspath(c)
    return None


def superlinear_bin(args):
    if args.superlinear:
        return args.superlinear
    proc = subprocess.run(["cargo", "build", "--release", "--features", "torch", "--bin",
                           "superlinear", "--message-format", "json"],
                          cwd=REPO, capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssertionError(f"cargo build --features torch failed: {proc.stderr[-2000:]}")
    for line in proc.stdout.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg.get("executable") \
                and msg["target"]["name"] == "superlinear":
            return msg["executable"]
    raise AssertionError("cargo build did not report the superlinear executable")


def run_sl(sl, argv, ok=(0,)):
    proc = subprocess.run([sl] + argv, capture_output=True, text=True)
    if proc.returncode not in ok:
        raise AssertionError(f"superlinear {' '.join(argv)} exited {proc.returncode}: "
                             f"{proc.stderr.strip()}")
    return proc


class ProjectMLP(nn.Module):
    """The MLP of src/torch/model.rs: fc1 ... fc{L+1}, bias-free, ReLU after
    every layer but the last; widths read from the checkpoint's shapes."""

    def __init__(self, state):
        super().__init__()
        self.depth = len(state)
        for i in range(1, self.depth + 1):
            out, inn = state[f"fc{i}.weight"].shape
            setattr(self, f"fc{i}", nn.Linear(inn, out, bias=False))
        self.load_state_dict(state, strict=True)

    def forward(self, x):
        for i in range(1, self.depth + 1):
            x = getattr(self, f"fc{i}")(x)
            if i < self.depth:
                x = F.relu(x)
        return x


class Mismatch(AssertionError):
    """Two reports differ at `path`; `rel` is the relative difference of a
    float figure (None for other fields)."""

    def __init__(self, path, msg, rel=None):
        super().__init__(f"{path}: {msg}")
        self.path, self.rel = path, rel


def compare_reports(want, got, path=""):
    """Every figure of `want` (analyze --checkpoint) against `got`
    (analyze --factors): the same keys; strings, integers, booleans and nulls
    equal; floats to XCHECK_TOL relative (residues: see RESIDUE_SCALE).
    Returns (worst relative difference, number of floats compared)."""
    if isinstance(want, dict):
        if not isinstance(got, dict):
            raise Mismatch(path, f"object against {got!r}")
        keys = {k for k in want if f"{path}.{k}" not in NOT_FIGURES}
        other = {k for k in got if f"{path}.{k}" not in NOT_FIGURES}
        if keys != other:
            raise Mismatch(path, f"fields differ: {sorted(keys ^ other)}")
        worst, count = 0.0, 0
        for k in sorted(keys):
            w, c = compare_reports(want[k], got[k], f"{path}.{k}")
            worst, count = max(worst, w), count + c
        return worst, count
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            raise Mismatch(path, f"list of {len(want)} against {str(got):.80}")
        worst, count = 0.0, 0
        for i, (a, b) in enumerate(zip(want, got)):
            w, c = compare_reports(a, b, f"{path}[{i}]")
            worst, count = max(worst, w), count + c
        return worst, count
    if isinstance(want, float) or isinstance(got, float):
        if isinstance(want, bool) or isinstance(got, bool) or want is None or got is None:
            raise Mismatch(path, f"{want!r} against {got!r}")
        a, b = float(want), float(got)
        field = path.rsplit(".", 1)[-1].split("[", 1)[0]
        scale = RESIDUE_SCALE.get(field, max(abs(a), abs(b)))
        if scale == 0.0:
            return 0.0, 1
        rel = abs(a - b) / scale
        if not rel <= XCHECK_TOL:
            raise Mismatch(path, f"checkpoint route {a!r}, factor file {b!r} "
                                 f"(relative {rel:.2e} > {XCHECK_TOL:.0e})", rel)
        return rel, 1
    if want != got:
        raise Mismatch(path, f"checkpoint route {want!r}, factor file {got!r}")
    return 0.0, 0


def checkpoint_route(sl, root, tmp, loss):
    import numpy as np
    from safetensors.torch import load_file

    run = os.path.join(tmp, f"run-{loss}")
    run_sl(sl, ["train", "--data", root, "--classes", "3", "--per-class", "30",
                "--widths", "20,20", "--epochs", "3", "--batch-size", "10", "--lr", "0.05",
                "--loss", loss, "--seed", "1", "--out", run])
    ckpt = os.path.join(run, "final.safetensors")
    with open(os.path.join(run, "run.json")) as fh:
        batch_size = json.load(fh)["settings"]["batch_size"]
    # 60 of the run's 90 samples, so the class-balanced selection is exercised;
    # top-k 12 of d = 400 (H has rank <= N (K - 1) = 120 under CE).
    common = ["--samples", "60", "--top-k", "12", "--coupling-awd", "--coupling-null",
              "--term2", "--linalg-threads", "1", "--json"]
    inputs_dir = os.path.join(tmp, f"inputs-{loss}")
    ok = (0, 1)  # 1: a Theorem 5.1 violation; both routes must then agree on it too
    p64 = run_sl(sl, ["analyze", "--checkpoint", ckpt, "--float64", "--save-inputs", inputs_dir]
                 + common, ok)
    p32 = run_sl(sl, ["analyze", "--checkpoint", ckpt] + common, ok)

    x = torch.from_numpy(np.load(os.path.join(inputs_dir, "inputs.npy")))
    yf = torch.from_numpy(np.load(os.path.join(inputs_dir, "labels.npy")))
    y = yf.to(torch.int64)
    assert x.dtype == torch.float64 and x.shape == (60, 784), (x.dtype, x.shape)
    assert torch.equal(y.to(torch.float64), yf), "labels.npy holds non-integers"
    assert torch.equal(x.to(torch.float32).to(torch.float64), x), "inputs are not float32 values"
    assert torch.equal(torch.bincount(y), torch.tensor([20, 20, 20])), torch.bincount(y)

    model = ProjectMLP(load_file(ckpt)).eval()
    path = os.path.join(tmp, f"fc2-{loss}.safetensors")
    export_layer(model, model.fc2, x, y, loss=loss, path=path, batch_size=batch_size,
                 chunk=25, meta={"layer": "fc2.weight", "model": "superlinear train MLP 784-20-20-3",
                                 "data": "analyze --save-inputs"})
    pf = run_sl(sl, ["analyze", "--factors", path] + common, ok)
    assert pf.returncode == p64.returncode, (pf.returncode, p64.returncode)

    want, got = json.loads(p64.stdout), json.loads(pf.stdout)
    worst, count = compare_reports(want, got)
    assert count > 50, f"only {count} figures compared"
    # The default route gathers in float32: the same comparison must see it.
    try:
        compare_reports(json.loads(p32.stdout), got)
    except Mismatch as e:
        f32_gap = f"{e.path} {e.rel:.1e}" if e.rel is not None else e.path
    else:
        raise AssertionError("the float32 checkpoint route agrees to 1e-10: the check cannot "
                             "tell float32 from float64 gathering")
    return (f"{count} figures of analyze --factors equal analyze --checkpoint --float64 to "
            f"{worst:.1e} relative (float32 gathering: first miss {f32_gap})")


def run_cases(cmd, tmp):
    torch.manual_seed(1)
    x_mlp = torch.randn(10, 6)
    y_mlp = torch.randint(0, 3, (10,))

    def mlp(loss):
        def run():
            model = relu_mlp()
            path = os.path.join(tmp, f"mlp-{loss}.safetensors")
            tensors, meta = export_layer(model, model[2], x_mlp, y_mlp, loss=loss, path=path,
                                         chunk=4, batch_size=50, meta={"data": "10 gaussian inputs"})
            gaps = kronecker_gap(model, model[2], x_mlp, y_mlp, tensors, loss, samples=SAMPLES)
            assert max(gaps) <= EXACT_TOL, f"Kronecker form off the exact Hessian: {gaps}"
            agree = check_reader(cmd, path, tensors, meta, loss, 1e-12)
            return (f"max |H_exact - H_kron| / |H_exact| = {max(gaps):.2e} over {SAMPLES} samples; "
                    f"Rust reader agrees to {agree:.1e}")
        return run

    def mlp_f32():
        model = relu_mlp()
        path = os.path.join(tmp, "mlp-f32.safetensors")
        tensors, meta = export_layer(model, model[2], x_mlp, y_mlp, loss="ce", path=path,
                                     dtype=torch.float32)
        assert tensors["acts"].dtype == torch.float32
        agree = check_reader(cmd, path, tensors, meta, "ce", 1e-5)
        return f"float32 file read back, Rust and PyTorch A_p agree to {agree:.1e}"

    def cnn():
        torch.manual_seed(2)
        model = SmallCNN()
        with torch.no_grad():  # non-trivial running statistics, then eval mode
            for _ in range(5):
                model(torch.randn(16, 1, 6, 6) * 2 + 0.5)
        x = torch.randn(8, 1, 6, 6)
        y = torch.randint(0, 4, (8,))
        try:
            export_layer(model, model.fc1, x, y)
            raise AssertionError("a model in training mode (BatchNorm) was accepted")
        except ValueError as e:
            assert "model.eval()" in str(e), e
        model.eval()
        path = os.path.join(tmp, "cnn-ce.safetensors")
        tensors, meta = export_layer(model, model.fc1, x, y, loss="ce", path=path, chunk=3)
        gaps = kronecker_gap(model, model.fc1, x, y, tensors, "ce", samples=SAMPLES)
        assert max(gaps) <= EXACT_TOL, f"Kronecker form off the exact Hessian: {gaps}"
        check_reader(cmd, path, tensors, meta, "ce", 1e-12)
        return f"biased fc1 + BatchNorm (eval) + ReLU after it: exact, max gap {max(gaps):.2e}"

    def gelu():
        torch.manual_seed(3)
        model = GeluResidual().eval()
        x = torch.randn(6, 6)
        y = torch.randint(0, 3, (6,))
        path = os.path.join(tmp, "gelu-mse.safetensors")
        worst = 0.0
        for loss in ("ce", "mse"):
            tensors, meta = export_layer(model, model.layer, x, y, loss=loss, path=path)
            gaps = kronecker_gap(model, model.layer, x, y, tensors, loss, samples=SAMPLES)
            assert all(g == g and g < float("inf") for g in gaps), gaps
            assert min(gaps) > 1e-8, f"GELU after the layer should leave a gap: {gaps}"
            # The dropped term is T_p (x) a a^T: the W-space gap equals the z-space one.
            m64 = copy.deepcopy(model).double()
            for p in range(SAMPLES):
                a = tensors["acts"][p]
                z = (a @ tensors["weight"].T + m64.layer.bias.detach())
                hz = torch.autograd.functional.hessian(
                    lambda zz: m64.loss_in_z(x[p:p + 1].double(), zz[None], y[p:p + 1], loss), z)
                d = tensors["jacobians"][p]
                a_p = d.T @ loss_hessian(tensors["logits"][p], y[p], loss) @ d
                gz = float(torch.linalg.norm(hz - a_p) / torch.linalg.norm(hz))
                worst = max(worst, abs(gz - gaps[p]) / gaps[p])
            check_reader(cmd, path, tensors, meta, loss, 1e-12)
            print(f"     GELU {loss}: Gauss-Newton gap per sample "
                  + ", ".join(f"{g:.3e}" for g in gaps))
        assert worst < 1e-8, f"W-space and z-space gaps differ by {worst:.2e}"
        return f"gap reported and finite; equals ||T_p|| / ||A_p + T_p|| to {worst:.1e}"

    def truncated():
        src = os.path.join(tmp, "mlp-ce.safetensors")
        with open(src, "rb") as fh:
            data = fh.read()
        bad = os.path.join(tmp, "cut.safetensors")
        with open(bad, "wb") as fh:
            fh.write(data[:-5])
        proc = subprocess.run(cmd + [bad], cwd=REPO, capture_output=True, text=True)
        err = proc.stderr.strip()
        assert proc.returncode == 2 and "cut.safetensors" in err and "\n" not in err, (proc.returncode, err)
        return f"refused: {err}"

    def refusals():
        model = relu_mlp()

        class BatchCentred(nn.Module):
            def __init__(self, net):
                super().__init__()
                self.net = net

            def forward(self, x):
                f = self.net(x)
                return f - f.mean(0)  # mixes samples

        bad = [
            ("loss", lambda: export_layer(model, model[2], x_mlp, y_mlp, loss="nll")),
            ("not a submodule", lambda: export_layer(model, nn.Linear(5, 4), x_mlp, y_mlp)),
            ("2-D .weight", lambda: export_layer(model, model[1], x_mlp, y_mlp)),
            ("outside 0..3", lambda: export_layer(model, model[2], x_mlp, y_mlp + 1)),
            ("1-D integer", lambda: export_layer(model, model[2], x_mlp, y_mlp.double())),
            ("10 inputs but 9 labels", lambda: export_layer(model, model[2], x_mlp, y_mlp[:9])),
            ("meta key", lambda: export_layer(model, model[2], x_mlp, y_mlp, meta={"seed": "1"})),
            ("other samples", lambda: export_layer(BatchCentred(model), model[2], x_mlp, y_mlp)),
        ]
        for needle, call in bad:
            try:
                call()
            except ValueError as e:
                assert needle in str(e), (needle, str(e))
            else:
                raise AssertionError(f"accepted: {needle}")
        return f"{len(bad)} bad inputs refused with messages naming the problem"

    case("refusals", refusals)
    case("relu-mlp ce", mlp("ce"))
    case("relu-mlp mse", mlp("mse"))
    case("relu-mlp float32", mlp_f32)
    case("cnn batchnorm", cnn)
    case("gelu residual", gelu)
    case("truncated file", truncated)


if __name__ == "__main__":
    main()
