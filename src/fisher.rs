//! Fisher against Hessian (claim C1: Sec. 2.1, Eq. 3-5), in closed form for
//! softmax regression (a one-layer [`Mlp`]) and a one-hidden-layer bias-free
//! ReLU network (a two-layer [`Mlp`]).
//!
//! Per sample, with logits `z(theta)`, the logit Jacobian `J = dz/dtheta`
//! (`K x P`), the loss head's `c = dl/dz` and `M = d2l/dz2` ([`Loss`]):
//!
//! ```text
//! g = J^T c,        h = J^T M J + sum_k c_k hess z_k.
//! ```
//!
//! For softmax regression `hess z_k = 0`; for `z = V relu(U x)` the only
//! non-zero second derivatives are `d2 z_k / dU_jm dV_kj = 1[(Ux)_j > 0] x_m`
//! (ReLU is piecewise linear).
//!
//! For the negative log-likelihood `l = -log p_y` (Eq. 3):
//!
//! ```text
//! h = g g^T + T,    T = -(1/p_y) hess p_y = J^T (S - d d^T) J + sum_k d_k hess z_k,
//! ```
//!
//! with `S = diag(p) - p p^T` and `d = p - e_y`. Since `E_{y~p}[d] = 0` and
//! `E_{y~p}[d d^T] = S`, `E_{y~p}[T] = 0` for any model: the model-sampled
//! Fisher `F_model = E_p E_{y~p}[g g^T]` equals the label-averaged Hessian.
//! For softmax regression `h` does not depend on `y` at all, so
//! `F_model = H` for any labels. With fixed (Dirac) labels `E_p[T_p(y_p)]`
//! does not vanish and the empirical Fisher `F_emp = E_p[g_p g_p^T]` differs
//! from `H` (Eq. 4-5). For MSE there is no likelihood, and the gradient
//! second moment differs from `H` in general.
//!
//! Parameters are flattened as in [`Mlp::params`]: layer by layer, each
//! weight matrix row-major.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use rand_distr::{Distribution, Uniform};

use crate::awd::stable_frobenius;
use crate::error::{Error, Result};
use crate::linalg::seeded_rng;
use crate::loss::{softmax_jacobian, Loss};
use crate::mlp::{Mlp, Trace};

/// Gradient and Hessian of one sample's loss with respect to all parameters.
#[derive(Debug, Clone)]
pub struct PerSample {
    /// The loss value.
    pub loss: f64,
    /// `g = grad l`, length P.
    pub grad: Array1<f64>,
    /// `h = hess l`, P x P.
    pub hess: Array2<f64>,
    /// Model probabilities `softmax(z)`.
    pub probs: Array1<f64>,
}

fn check_depth(net: &Mlp) -> Result<()> {
    if net.depth() > 2 {
        return Err(Error::param(
            "network depth",
            net.depth(),
            "closed-form Hessians exist here for softmax regression (1 layer) and one hidden ReLU layer (2 layers)",
        ));
    }
    Ok(())
}

/// The logit Jacobian `J = dz/dtheta` (`K x P`) at input `x`, and the trace.
pub fn logit_jacobian(net: &Mlp, x: ArrayView1<'_, f64>) -> Result<(Array2<f64>, Trace)> {
    check_depth(net)?;
    let t = net.forward(x)?;
    let k = net.output_dim();
    let mut j = Array2::zeros((k, net.num_params()));
    let layers = net.layers();
    if layers.len() == 1 {
        let d = x.len();
        for kk in 0..k {
            for m in 0..d {
                j[(kk, kk * d + m)] = x[m];
            }
        }
    } else {
        let (u, v) = (&layers[0], &layers[1]);
        let (h, d) = u.dim();
        let s = &t.pre[0];
        let r = &t.inputs[1];
        let off = h * d;
        for kk in 0..k {
            for jj in 0..h {
                if s[jj] > 0.0 {
                    let c = v[(kk, jj)];
                    for m in 0..d {
                        j[(kk, jj * d + m)] = c * x[m];
                    }
                }
                j[(kk, off + kk * h + jj)] = r[jj];
            }
        }
    }
    Ok((j, t))
}

/// `sum_k c_k hess z_k` (P x P) at the trace `t` of input `x`: zero for
/// softmax regression; for one hidden ReLU layer the entries
/// `(U_jm, V_ij)` and `(V_ij, U_jm)` equal `c_i 1[s_j > 0] x_m`.
pub fn curvature_term(net: &Mlp, t: &Trace, c: ArrayView1<'_, f64>) -> Result<Array2<f64>> {
    check_depth(net)?;
    let p = net.num_params();
    let mut out = Array2::zeros((p, p));
    if c.len() != net.output_dim() {
        return Err(Error::shape(
            "logit coefficients c",
            net.output_dim(),
            c.len(),
        ));
    }
    let layers = net.layers();
    if layers.len() == 2 {
        let (h, d) = layers[0].dim();
        let fits = t.inputs.first().is_some_and(|x| x.len() == d)
            && t.pre.first().is_some_and(|s| s.len() == h);
        if !fits {
            return Err(Error::shape(
                "trace (must come from this network's forward pass)",
                format!("input {d}, first pre-activation {h}"),
                format!(
                    "input {:?}, first pre-activation {:?}",
                    t.inputs.first().map(|x| x.len()),
                    t.pre.first().map(|s| s.len())
                ),
            ));
        }
        let off = h * d;
        let x = &t.inputs[0];
        let s = &t.pre[0];
        for (i, &ci) in c.iter().enumerate() {
            for jj in 0..h {
                if s[jj] <= 0.0 {
                    continue;
                }
                for m in 0..d {
                    let val = ci * x[m];
                    let (a, b) = (jj * d + m, off + i * h + jj);
                    out[(a, b)] += val;
                    out[(b, a)] += val;
                }
            }
        }
    }
    Ok(out)
}

/// Loss, gradient and Hessian of one sample in closed form.
pub fn per_sample(net: &Mlp, loss: Loss, x: ArrayView1<'_, f64>, y: usize) -> Result<PerSample> {
    let (j, t) = logit_jacobian(net, x)?;
    let head = loss.eval(t.logits(), y)?;
    let grad = j.t().dot(&head.grad);
    let hess = j.t().dot(&head.hess).dot(&j) + curvature_term(net, &t, head.grad.view())?;
    Ok(PerSample {
        loss: head.value,
        grad,
        hess,
        probs: head.probs,
    })
}

/// Gradient only: `J^T dl/dz`.
pub fn per_sample_grad(
    net: &Mlp,
    loss: Loss,
    x: ArrayView1<'_, f64>,
    y: usize,
) -> Result<Array1<f64>> {
    let (j, t) = logit_jacobian(net, x)?;
    let head = loss.eval(t.logits(), y)?;
    Ok(j.t().dot(&head.grad))
}

/// The second term of Eq. 3 for the NLL, `T = -(1/p_y) hess p_y`, from
/// its own closed form `J^T (S - d d^T) J + sum_k d_k hess z_k`,
/// `d = p - e_y` (so that `h = g g^T + T` is a check, not a definition).
pub fn eq3_term(net: &Mlp, x: ArrayView1<'_, f64>, y: usize) -> Result<Array2<f64>> {
    let (j, t) = logit_jacobian(net, x)?;
    let head = Loss::CrossEntropy.eval(t.logits(), y)?;
    let d = &head.grad;
    let s = softmax_jacobian(head.probs.view());
    let k = d.len();
    let inner = Array2::from_shape_fn((k, k), |(a, b)| s[(a, b)] - d[a] * d[b]);
    Ok(j.t().dot(&inner).dot(&j) + curvature_term(net, &t, d.view())?)
}

fn outer(g: &Array1<f64>) -> Array2<f64> {
    let c = g.view().insert_axis(Axis(1));
    c.dot(&c.t())
}

fn check_data(net: &Mlp, xs: ArrayView2<'_, f64>, ys: &[usize]) -> Result<()> {
    if xs.nrows() == 0 {
        return Err(Error::empty("samples", "no rows"));
    }
    if ys.len() != xs.nrows() {
        return Err(Error::shape("labels", xs.nrows(), ys.len()));
    }
    if xs.ncols() != net.input_dim() {
        return Err(Error::shape("inputs", net.input_dim(), xs.ncols()));
    }
    Ok(())
}

/// The size of the per-sample terms before any cancellation,
/// `|J|_F^2 + |sum_k hess z_k|_F`: the logit heads' `M`, `c` and `S - d d^T`
/// are O(1), so the identities of this module hold to `O(P eps)` times this
/// (not times `|H|`, which is tiny when the softmax saturates).
pub fn rounding_scale(net: &Mlp, x: ArrayView1<'_, f64>) -> Result<f64> {
    let (j, t) = logit_jacobian(net, x)?;
    let ones = Array1::ones(net.output_dim());
    let jf = stable_frobenius(j.view());
    Ok(jf * jf + stable_frobenius(curvature_term(net, &t, ones.view())?.view()))
}

/// Data-averaged second-order quantities of one network on one data set.
#[derive(Debug, Clone)]
pub struct Moments {
    /// `H = E_p[h_p(y_p)]` with the given (fixed) labels.
    pub hessian: Array2<f64>,
    /// `E_p[g_p g_p^T]` with the given labels: the empirical Fisher for the
    /// NLL, the gradient second moment for any loss.
    pub grad_second_moment: Array2<f64>,
    /// `E_p[g_p]`.
    pub grad_mean: Array1<f64>,
    /// `E_p E_{y~p(.|x_p)}[g g^T]`: the model-sampled Fisher.
    pub model_fisher: Array2<f64>,
    /// `E_p E_{y~p(.|x_p)}[h_p(y)]`: the Hessian averaged over model labels.
    pub model_hessian: Array2<f64>,
    /// NLL only: `E_p[T_p(y_p)]`, Eq. 3's second term with the fixed labels.
    pub eq3_fixed: Option<Array2<f64>>,
    /// NLL only: `E_p E_{y~p}[T_p(y)]`, which vanishes identically.
    pub eq3_model: Option<Array2<f64>>,
    /// `E_p` of [`rounding_scale`]: the scale of rounding errors.
    pub rounding_scale: f64,
}

/// Every per-sample Hessian, gradient and Eq. 3 term of a data set, averaged.
pub fn moments(net: &Mlp, loss: Loss, xs: ArrayView2<'_, f64>, ys: &[usize]) -> Result<Moments> {
    check_data(net, xs, ys)?;
    let p = net.num_params();
    let k = net.output_dim();
    let n = xs.nrows() as f64;
    let mut hessian = Array2::zeros((p, p));
    let mut second = Array2::zeros((p, p));
    let mut mean = Array1::zeros(p);
    let mut model_fisher = Array2::zeros((p, p));
    let mut model_hessian = Array2::zeros((p, p));
    let nll = loss == Loss::CrossEntropy;
    let mut eq3_fixed = Array2::zeros((p, p));
    let mut eq3_model = Array2::zeros((p, p));
    let mut scale = 0.0;
    for (row, &y) in xs.axis_iter(Axis(0)).zip(ys) {
        scale += rounding_scale(net, row)?;
        let s = per_sample(net, loss, row, y)?;
        hessian += &s.hess;
        second += &outer(&s.grad);
        mean += &s.grad;
        for c in 0..k {
            let sc = per_sample(net, loss, row, c)?;
            let w = s.probs[c];
            model_fisher.scaled_add(w, &outer(&sc.grad));
            model_hessian.scaled_add(w, &sc.hess);
            if nll {
                eq3_model.scaled_add(w, &eq3_term(net, row, c)?);
            }
        }
        if nll {
            eq3_fixed += &eq3_term(net, row, y)?;
        }
    }
    Ok(Moments {
        hessian: hessian / n,
        grad_second_moment: second / n,
        grad_mean: mean / n,
        model_fisher: model_fisher / n,
        model_hessian: model_hessian / n,
        eq3_fixed: nll.then(|| eq3_fixed / n),
        eq3_model: nll.then(|| eq3_model / n),
        rounding_scale: scale / n,
    })
}

/// `|a - b|_F / |b|_F` (or `|a - b|_F` when `b = 0`).
pub fn rel_gap(a: ArrayView2<'_, f64>, b: ArrayView2<'_, f64>) -> f64 {
    let num = stable_frobenius((&a - &b).view());
    let den = stable_frobenius(b);
    if den == 0.0 {
        num
    } else {
        num / den
    }
}

/// Scale-free gap `min_c |A - c B|_F / |A|_F` (the best proportional fit
/// of A by B; 0 iff A is proportional to B), and the fitted `c`.
pub fn proportional_gap(a: ArrayView2<'_, f64>, b: ArrayView2<'_, f64>) -> (f64, f64) {
    let bb: f64 = b.iter().map(|v| v * v).sum();
    let ab: f64 = a.iter().zip(b.iter()).map(|(x, y)| x * y).sum();
    let c = if bb > 0.0 { ab / bb } else { 0.0 };
    let resid = stable_frobenius((&a - &(&b * c)).view());
    let na = stable_frobenius(a);
    (if na > 0.0 { resid / na } else { resid }, c)
}

/// A Monte Carlo estimate of the model-sampled Fisher.
#[derive(Debug, Clone)]
pub struct MonteCarloFisher {
    /// `(1/(R N)) sum_r sum_p g_p(y_rp) g_p(y_rp)^T`, `y_rp ~ p(.|x_p)`.
    pub estimate: Array2<f64>,
    /// Label draws per sample, R.
    pub draws: usize,
    /// The exact expected squared error `E|estimate - F_model|_F^2 =
    /// (1/(R N^2)) sum_p (E_y|g_p(y)|^4 - |E_y g_p g_p^T|_F^2)`.
    pub expected_sq_error: f64,
}

/// Empirical Fisher averaged over `draws` sets of labels drawn from the
/// model itself (seeded), with its exact expected squared error.
pub fn monte_carlo_fisher(
    net: &Mlp,
    xs: ArrayView2<'_, f64>,
    draws: usize,
    seed: u64,
) -> Result<MonteCarloFisher> {
    if draws == 0 {
        return Err(Error::param("draws", draws, "must be at least 1"));
    }
    check_data(net, xs, &vec![0; xs.nrows()])?;
    let p = net.num_params();
    let k = net.output_dim();
    let n = xs.nrows();
    let mut rng = seeded_rng(seed);
    let unif = Uniform::new(0.0f64, 1.0).map_err(|e| Error::param("uniform", 0, e.to_string()))?;
    let mut estimate = Array2::zeros((p, p));
    let mut var_sum = 0.0;
    for row in xs.axis_iter(Axis(0)) {
        let grads = (0..k)
            .map(|c| per_sample_grad(net, Loss::CrossEntropy, row, c))
            .collect::<Result<Vec<_>>>()?;
        let (_, t) = logit_jacobian(net, row)?;
        let probs = crate::loss::softmax(t.logits());
        let mut counts = vec![0usize; k];
        for _ in 0..draws {
            let u: f64 = unif.sample(&mut rng);
            let mut acc = 0.0;
            let mut c = k - 1;
            for (i, pi) in probs.iter().enumerate() {
                acc += pi;
                if u < acc {
                    c = i;
                    break;
                }
            }
            counts[c] += 1;
        }
        let mut exact = Array2::zeros((p, p));
        let mut fourth = 0.0;
        for c in 0..k {
            let o = outer(&grads[c]);
            if counts[c] > 0 {
                estimate.scaled_add(counts[c] as f64, &o);
            }
            exact.scaled_add(probs[c], &o);
            let g2: f64 = grads[c].iter().map(|v| v * v).sum();
            fourth += probs[c] * g2 * g2;
        }
        let e2: f64 = exact.iter().map(|v| v * v).sum();
        var_sum += (fourth - e2).max(0.0);
    }
    let rn = (draws * n) as f64;
    Ok(MonteCarloFisher {
        estimate: estimate / rn,
        draws,
        expected_sq_error: var_sum / (draws as f64 * (n * n) as f64),
    })
}

/// Full-batch gradient descent on the mean loss, `steps` steps of size `lr`,
/// from `net` (closed-form gradients).
pub fn train_gd(
    net: &Mlp,
    loss: Loss,
    xs: ArrayView2<'_, f64>,
    ys: &[usize],
    steps: usize,
    lr: f64,
) -> Result<Mlp> {
    check_data(net, xs, ys)?;
    if !(lr.is_finite() && lr > 0.0) {
        return Err(Error::param(
            "learning rate",
            lr,
            "must be finite and positive",
        ));
    }
    let n = xs.nrows() as f64;
    let mut theta = net.params();
    let mut cur = net.clone();
    for _ in 0..steps {
        let mut g = Array1::zeros(theta.len());
        for (row, &y) in xs.axis_iter(Axis(0)).zip(ys) {
            g += &per_sample_grad(&cur, loss, row, y)?;
        }
        theta.scaled_add(-lr / n, &g);
        cur = cur.with_params(theta.view())?;
    }
    Ok(cur)
}

/// Central-difference gradient of the loss, step `eps` per parameter.
pub fn fd_gradient(
    net: &Mlp,
    loss: Loss,
    x: ArrayView1<'_, f64>,
    y: usize,
    eps: f64,
) -> Result<Array1<f64>> {
    let mut out = Array1::zeros(net.num_params());
    for i in 0..out.len() {
        let (plus, minus) = nudged(net, i, eps)?;
        out[i] = (plus.loss(loss, x, y)? - minus.loss(loss, x, y)?) / (2.0 * eps);
    }
    Ok(out)
}

/// The network with parameter `i` moved by `+eps` and by `-eps`.
fn nudged(net: &Mlp, i: usize, eps: f64) -> Result<(Mlp, Mlp)> {
    let theta = net.params();
    let mut tp = theta.clone();
    tp[i] += eps;
    let mut tm = theta;
    tm[i] -= eps;
    Ok((net.with_params(tp.view())?, net.with_params(tm.view())?))
}

/// Central differences of the closed-form gradient: the Hessian, step `eps`.
pub fn fd_hessian(
    net: &Mlp,
    loss: Loss,
    x: ArrayView1<'_, f64>,
    y: usize,
    eps: f64,
) -> Result<Array2<f64>> {
    let p = net.num_params();
    let mut out = Array2::zeros((p, p));
    for i in 0..p {
        let (plus, minus) = nudged(net, i, eps)?;
        let gp = per_sample_grad(&plus, loss, x, y)?;
        let gm = per_sample_grad(&minus, loss, x, y)?;
        out.column_mut(i).assign(&((gp - gm) / (2.0 * eps)));
    }
    Ok(out)
}

/// Smallest `|(U x)_j|` over hidden units (infinity for softmax regression):
/// finite differences with a step well below it do not cross a ReLU kink.
pub fn kink_margin(net: &Mlp, x: ArrayView1<'_, f64>) -> Result<f64> {
    let t = net.forward(x)?;
    if net.depth() < 2 {
        return Ok(f64::INFINITY);
    }
    Ok(t.pre[0].iter().fold(f64::INFINITY, |m, v| m.min(v.abs())))
}

/// Synthetic inputs `x ~ N(0, I_d)` (`n x d`) with Dirac labels
/// `y = argmax_k z_k(x)` of a He-initialised teacher network `[d, h, k]`
/// (seeded): a fixed-label data set on which nothing is realizable by
/// construction for a student of another architecture or scale.
pub fn teacher_data(
    d: usize,
    h: usize,
    k: usize,
    n: usize,
    seed: u64,
) -> Result<(Array2<f64>, Vec<usize>)> {
    if n == 0 {
        return Err(Error::param("samples", n, "must be at least 1"));
    }
    let teacher = Mlp::random(&[d, h, k], seed.wrapping_add(1))?;
    let mut rng = seeded_rng(seed);
    let xs = Array2::from_shape_simple_fn((n, d), || {
        let g: f64 = rand_distr::StandardNormal.sample(&mut rng);
        g
    });
    let ys = xs
        .axis_iter(Axis(0))
        .map(|x| {
            let t = teacher.forward(x)?;
            let z = t.logits();
            Ok((0..k).fold(0, |b, i| if z[i] > z[b] { i } else { b }))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((xs, ys))
}
