"""Export one linear layer's per-sample factors from a PyTorch model to a
`superlinear.factors` file (safetensors), for `superlinear analyze --factors FILE`.

    from export_layer import export_layer
    model.eval()
    export_layer(model, model.fc2, inputs, labels, loss="ce", path="fc2.safetensors",
                 meta={"model": "my resnet, epoch 90", "data": "2000 CIFAR-10 train images"})

The layer is `z = W a (+ b)`: an `nn.Linear`, or any module with a 2-D
`.weight` (out x in) whose forward maps its first input `a` (N x in) to
`z = a @ W.T (+ bias)` (N x out); this is checked on every chunk. For each
sample p the file holds the layer input `a_p`, the Jacobian
`D_p = d logits_p / d z_p` (K x out, by autograd: one backward per logit, in
chunks), the logits, the label and `W`. The per-sample Hessian of the loss in
W is then `h_p = (A_p + T_p) (x) a_p a_p^T` with `A_p = D_p^T M_p D_p`
(`M_p` the loss Hessian in the logits) and `T_p = sum_k dL/df_k d^2 f_k/dz^2`.
The file gives the first term; `T_p` is zero when everything after the layer
is piecewise linear (ReLU, max-pool, linear/conv layers, biases, BatchNorm in
eval mode), so then the Kronecker form is exact; otherwise (GELU, tanh,
attention, ...) it is the Gauss-Newton part, and `kronecker_gap` measures
what is dropped on a few samples with the exact Hessian by double backward.

Losses (per sample, as the Rust engine uses them):
    "ce":  logsumexp(f) - f_y                 (F.cross_entropy, reduction="none")
    "mse": (1/K) |softmax(f) - onehot(y)|^2   (softmax before MSE)

Needs only torch and safetensors (whose torch writer imports numpy). Run as a
script for a usage note.
"""

import copy

import torch
import torch.nn.functional as F

FORMAT_NAME = "superlinear.factors"
FORMAT_VERSION = 1
EXPORTER_VERSION = "1"
LOSSES = ("ce", "mse")
_META_KEYS = ("model", "layer", "data")
_USER_PREFIX = "user."


def per_sample_loss(logits, labels, loss):
    """The per-sample loss of the format: a vector of length N."""
    if loss == "ce":
        return F.cross_entropy(logits, labels, reduction="none")
    if loss == "mse":
        k = logits.shape[-1]
        onehot = F.one_hot(labels, k).to(logits.dtype)
        return ((torch.softmax(logits, dim=-1) - onehot) ** 2).sum(-1) / k
    raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")


def _layer_name(model, layer):
    for name, module in model.named_modules():
        if module is layer:
            return name
    raise ValueError("layer is not a submodule of model (pass the module object, e.g. model.fc2)")


def _check_mode(model):
    from torch.nn.modules.batchnorm import _BatchNorm
    from torch.nn.modules.dropout import _DropoutNd

    for name, m in model.named_modules():
        if m.training and isinstance(m, (_BatchNorm, _DropoutNd)):
            raise ValueError(
                f"module {name or '<model>'} ({type(m).__name__}) is in training mode: its output "
                "mixes samples or is random, so per-sample Hessians are not defined; call model.eval()"
            )


def _check_args(model, layer, inputs, labels, loss, chunk, dtype, batch_size, meta):
    if not isinstance(model, torch.nn.Module) or not isinstance(layer, torch.nn.Module):
        raise TypeError("model and layer must be torch.nn.Module instances")
    name = _layer_name(model, layer)
    w = getattr(layer, "weight", None)
    if not isinstance(w, torch.Tensor) or w.dim() != 2:
        raise ValueError(f"layer {name!r} needs a 2-D .weight (out x in), got {type(w).__name__}"
                         + (f" of shape {tuple(w.shape)}" if isinstance(w, torch.Tensor) else ""))
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    if not isinstance(inputs, torch.Tensor) or inputs.dim() < 1 or inputs.shape[0] == 0:
        raise ValueError("inputs must be a tensor with at least one sample along dim 0")
    if not isinstance(labels, torch.Tensor) or labels.dim() != 1 or labels.dtype.is_floating_point \
            or labels.dtype == torch.bool or labels.is_complex():
        raise ValueError("labels must be a 1-D integer tensor")
    if labels.shape[0] != inputs.shape[0]:
        raise ValueError(f"{inputs.shape[0]} inputs but {labels.shape[0]} labels")
    if not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"chunk must be a positive int, got {chunk!r}")
    if dtype not in (torch.float64, torch.float32):
        raise ValueError(f"dtype must be torch.float64 or torch.float32, got {dtype}")
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"batch_size must be None or a positive int, got {batch_size!r}")
    meta = dict(meta or {})
    for k, v in meta.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise ValueError(f"meta must map str to str, got {k!r}: {v!r}")
        if k not in _META_KEYS and not k.startswith(_USER_PREFIX):
            raise ValueError(f"meta key {k!r} unknown: use {', '.join(_META_KEYS)} or '{_USER_PREFIX}*'")
    _check_mode(model)
    return name, meta


def _chunk_factors(work, wlayer, x, check_independence):
    """Layer inputs, Jacobians d logits / d z and logits of one chunk."""
    captured = []

    def hook(module, args, output):
        if captured:
            raise ValueError("the layer is called more than once per forward pass (weight reuse); "
                             "the Kronecker form needs W used once")
        if not args or not isinstance(args[0], torch.Tensor):
            raise ValueError("the layer's first input is not a tensor")
        if not isinstance(output, torch.Tensor):
            raise ValueError("the layer's output is not a tensor")
        z = output.detach().requires_grad_(True)
        captured.append((args[0].detach(), z))
        return z

    handle = wlayer.register_forward_hook(hook)
    try:
        with torch.enable_grad():
            logits = work(x)
    finally:
        handle.remove()
    if not captured:
        raise ValueError("the layer was not called in the model's forward pass")
    a, z = captured[0]
    c = x.shape[0]
    w = wlayer.weight.detach()
    out, inn = w.shape
    if a.shape != (c, inn) or z.shape != (c, out):
        raise ValueError(f"the layer maps {tuple(a.shape)} to {tuple(z.shape)}; the format needs one "
                         f"input vector per sample: ({c}, {inn}) to ({c}, {out})")
    expect = a @ w.T
    bias = getattr(wlayer, "bias", None)
    if isinstance(bias, torch.Tensor):
        expect = expect + bias.detach()
    tol = 1e-4 if w.dtype == torch.float32 else 1e-10
    scale = float(a.abs().max() * w.abs().sum(1).max() + 1.0)
    if float((expect - z.detach()).abs().max()) > tol * scale:
        raise ValueError("the layer's output is not weight @ input (+ bias): not a z = W a layer")
    if not isinstance(logits, torch.Tensor) or logits.dim() != 2 or logits.shape[0] != c:
        raise ValueError(f"the model must return logits of shape (N, K), got "
                         f"{tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits)}")
    k = logits.shape[1]
    if k < 2:
        raise ValueError(f"the model returns K = {k} logits; the losses need K >= 2")
    rows = []
    for j in range(k):
        (g,) = torch.autograd.grad(logits[:, j].sum(), z, retain_graph=True, allow_unused=True)
        if g is None:
            raise ValueError("the logits do not depend on the layer's output")
        rows.append(g)
    if check_independence and c >= 2:
        # The sum over samples above is d logits_p / d z_p only if no logit of
        # one sample depends on another sample's z (no batch statistics).
        (g,) = torch.autograd.grad(logits[0].sum(), z, allow_unused=True)
        if g is not None and bool(g[1:].abs().max() > 0):
            raise ValueError("sample 0's logits depend on other samples' layer outputs "
                             "(batch statistics?); call model.eval() and remove cross-sample ops")
    jac = torch.stack(rows, dim=1)  # (c, K, out)
    return a, jac.detach(), logits.detach()


def export_layer(model, layer, inputs, labels, loss="ce", path=None, chunk=256,
                 dtype=torch.float64, batch_size=None, meta=None):
    """Computes one linear layer's per-sample factors and, if `path` is given,
    writes them as a `superlinear.factors` v1 file.

    model: an nn.Module returning logits (N, K) in eval mode (no BatchNorm or
        Dropout in training mode); it is not modified (a copy is cast to dtype).
    layer: the submodule to analyse (z = W a (+ b), see the module doc).
    inputs: (N, ...) model inputs; labels: (N,) integer classes in 0..K.
    loss: "ce" or "mse" (see the module doc for the exact per-sample forms).
    chunk: samples per forward pass. dtype: torch.float64 (default) or float32.
    batch_size: the training mini-batch size B, recorded if given.
    meta: optional "model", "layer", "data" descriptions and "user.*" notes.

    Returns (tensors, metadata): the dicts written to the file.
    """
    name, meta = _check_args(model, layer, inputs, labels, loss, chunk, dtype, batch_size, meta)
    work = copy.deepcopy(model).to(dtype)
    wlayer = dict(work.named_modules())[name]
    device = wlayer.weight.device
    acts, jacs, logits = [], [], []
    for start in range(0, inputs.shape[0], chunk):
        x = inputs[start:start + chunk].to(device)
        if x.dtype.is_floating_point:
            x = x.to(dtype)
        a, jac, f = _chunk_factors(work, wlayer, x, check_independence=(start == 0))
        acts.append(a.cpu())
        jacs.append(jac.cpu())
        logits.append(f.cpu())
    tensors = {
        "acts": torch.cat(acts).contiguous(),
        "jacobians": torch.cat(jacs).contiguous(),
        "logits": torch.cat(logits).contiguous(),
        "labels": labels.detach().to("cpu", torch.int64).contiguous(),
        "weight": wlayer.weight.detach().cpu().contiguous(),
    }
    k = tensors["logits"].shape[1]
    y = tensors["labels"]
    if bool((y < 0).any()) or bool((y >= k).any()):
        bad = int(((y < 0) | (y >= k)).nonzero()[0, 0])
        raise ValueError(f"labels[{bad}] = {int(y[bad])} is outside 0..{k} (the model has K = {k} logits)")
    for key, t in tensors.items():
        if t.dtype.is_floating_point and not bool(torch.isfinite(t).all()):
            bad = tuple(int(i) for i in (~torch.isfinite(t)).nonzero()[0])
            raise ValueError(f"{key}{list(bad)} is not finite")
    metadata = {
        "format": FORMAT_NAME,
        "version": str(FORMAT_VERSION),
        "loss": loss,
        "model": meta.pop("model", type(model).__name__),
        "layer": meta.pop("layer", name),
        "data": meta.pop("data", f"{inputs.shape[0]} samples of shape {tuple(inputs.shape[1:])}"),
        "tool": f"superlinear scripts/export_layer.py {EXPORTER_VERSION} (torch {torch.__version__})",
    }
    if batch_size is not None:
        metadata["batch_size"] = str(batch_size)
    metadata.update(meta)
    if path is not None:
        from safetensors.torch import save_file

        save_file(tensors, str(path), metadata=metadata)
    return tensors, metadata


def kronecker_hessian(tensors, p, loss):
    """`A_p (x) a_p a_p^T` of sample p from exported factors, with W's entries
    in row-major order (index i * in + j for W[i, j])."""
    f = tensors["logits"][p].to(torch.float64)
    y = tensors["labels"][p:p + 1]
    m = torch.autograd.functional.hessian(lambda g: per_sample_loss(g[None], y, loss)[0], f)
    d = tensors["jacobians"][p].to(torch.float64)
    a = tensors["acts"][p].to(torch.float64)
    return torch.kron(d.T @ m @ d, torch.outer(a, a))


def exact_hessian(model, layer, x, y, loss):
    """The exact Hessian of sample x's loss in the layer's weight by double
    backward (torch.autograd.functional.hessian), float64, row-major order."""
    name = _layer_name(model, layer)
    work = copy.deepcopy(model).to(torch.float64)
    key = f"{name}.weight" if name else "weight"
    w = dict(work.named_parameters())[key].detach()
    x = x[None].to(w.device)
    if x.dtype.is_floating_point:
        x = x.to(torch.float64)
    yy = y.reshape(1).to(w.device, torch.int64)

    def loss_of(wflat):
        f = torch.func.functional_call(work, {key: wflat.view_as(w)}, (x,))
        return per_sample_loss(f, yy, loss)[0]

    return torch.autograd.functional.hessian(loss_of, w.reshape(-1).clone())


def kronecker_gap(model, layer, inputs, labels, tensors, loss, samples=4):
    """Per sample p < samples: ||H_exact - A_p (x) a_p a_p^T||_F / ||H_exact||_F,
    the relative size of the dropped term T_p (x) a_p a_p^T (zero to rounding
    when the layer is followed only by piecewise-linear operations). The
    exact Hessian has (out * in)^2 entries: keep the layer small or `samples` few."""
    gaps = []
    for p in range(min(samples, inputs.shape[0])):
        h = exact_hessian(model, layer, inputs[p], labels[p], loss)
        k = kronecker_hessian(tensors, p, loss)
        gaps.append(float(torch.linalg.norm(h - k) / torch.linalg.norm(h)))
    return gaps


if __name__ == "__main__":
    print(__doc__)
    print("import this file (sys.path.insert(0, 'scripts')) and call export_layer(...)")
