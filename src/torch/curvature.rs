//! Gathers the per-sample factors of a linear layer `z = W a` of a [`Net`]
//! that [`crate::layer`] and the Kronecker engine [`crate::kron`] work on:
//! the input activities `a_p`, the logits and the Jacobians
//! `D_p = d logits / d z` (K x out), and the weights W, in f64
//! ([`gather_layer`]).
//!
//! `D_p` comes from autograd: `z` is cut from the graph and made a leaf, the
//! rest of the network is run on it, and one backward pass per logit `k`
//! of `sum_p f_{p,k}` gives row `k` of every `D_p` at once (samples do not
//! interact: no batch norm). For the paper's layers `D_p = W_next diag(m_p)`
//! with the ReLU mask `m_p`; autograd covers any linear layer of the net.
//!
//! The gathering runs on the CPU: a net or inputs on a GPU (a run trained
//! with `--device cuda`) are copied to the CPU first, so the factors do not
//! depend on the training device's kernels.

use faer::Mat;
use tch::{Kind, Tensor};

use super::dataset::TrainData;
use super::model::Net;
use super::{Result, TchContext, TorchError};
use crate::kron::LayerSamples;
use crate::layer::LayerFactors;
use crate::loss::Loss;

/// Copies a tensor (on any device) into a row-major f64 vector.
pub fn tensor_to_f64(t: &Tensor, what: &str) -> Result<Vec<f64>> {
    let flat = t
        .f_detach()
        .and_then(|t| t.f_to_device(tch::Device::Cpu))
        .and_then(|t| t.f_to_kind(Kind::Double))
        .and_then(|t| t.f_contiguous())
        .and_then(|t| t.f_flatten(0, -1))
        .ctx(what)?;
    Vec::<f64>::try_from(&flat).ctx(what)
}

/// `a_p`, `D_p` and logits of layer `layer` for the inputs `x` (already shaped
/// by [`Net::input_view`]) with labels in `0..K`, in chunks of `chunk` samples,
/// on the CPU (module doc).
pub fn layer_samples(
    net: &Net,
    layer: &str,
    x: &Tensor,
    labels: &[usize],
    loss: Loss,
    chunk: usize,
) -> Result<LayerSamples> {
    let cpu = tch::Device::Cpu;
    let on_cpu;
    let net = if net.device() == cpu {
        net
    } else {
        on_cpu = net.to_device(cpu)?;
        &on_cpu
    };
    let x = &x.f_to_device(cpu).ctx("inputs to the CPU")?;
    let n = x.size().first().cloned().unwrap_or(0) as usize;
    if n != labels.len() {
        return Err(TorchError::Data {
            input: "labels".into(),
            reason: format!("{} labels for {n} inputs", labels.len()),
        });
    }
    let w = net.weight(layer)?;
    let shape = w.size();
    let (out, inn) = (shape[0] as usize, shape[1] as usize);
    let k = net.spec().classes;
    if let Some(y) = labels.iter().find(|y| **y >= k) {
        return Err(TorchError::Data {
            input: "labels".into(),
            reason: format!("label {y} but the net has {k} classes"),
        });
    }
    let chunk = chunk.max(1);
    let mut acts = Mat::<f64>::zeros(n, inn);
    let mut logits_all = Mat::<f64>::zeros(n, k);
    let mut jacobians = Vec::with_capacity(n);
    let mut start = 0;
    while start < n {
        let len = chunk.min(n - start);
        let xc = x.f_narrow(0, start as i64, len as i64).ctx("input chunk")?;
        let a = tch::no_grad(|| net.layer_input(&xc, layer))?;
        let z = tch::no_grad(|| a.f_linear::<&Tensor>(w, None))
            .ctx(layer)?
            .f_detach()
            .and_then(|t| t.f_set_requires_grad(true))
            .ctx("z leaf")?;
        let logits = net.forward_after(&z, layer)?;
        let mut rows: Vec<Vec<f64>> = Vec::with_capacity(k);
        for c in 0..k {
            let target = logits
                .f_select(1, c as i64)
                .and_then(|t| t.f_sum(logits.kind()))
                .ctx("logit sum")?;
            let g = Tensor::f_run_backward(&[&target], &[&z], true, false).ctx("d logits / d z")?;
            let g = g.first().ok_or_else(|| TorchError::Tch {
                context: "d logits / d z".into(),
                message: "no gradient returned".into(),
            })?;
            rows.push(tensor_to_f64(g, "d logits / d z")?);
        }
        let av = tensor_to_f64(&a, "activities")?;
        let fv = tensor_to_f64(&logits, "logits")?;
        for q in 0..len {
            for i in 0..inn {
                acts[(start + q, i)] = av[q * inn + i];
            }
            for c in 0..k {
                logits_all[(start + q, c)] = fv[q * k + c];
            }
            jacobians.push(Mat::from_fn(k, out, |c, o| rows[c][q * out + o]));
        }
        start += len;
    }
    Ok(LayerSamples {
        acts,
        jacobians,
        logits: logits_all,
        labels: labels.to_vec(),
        loss,
    })
}

/// The factors of `layer` (weight name) on the samples `idx` of `data`: the
/// inputs shaped for the net, [`layer_samples`] in chunks of `chunk`, the
/// labels, and W (out x in).
pub fn gather_layer(
    net: &Net,
    data: &TrainData,
    idx: &[usize],
    layer: &str,
    loss: Loss,
    chunk: usize,
) -> Result<LayerFactors> {
    let sub = data.subset(idx);
    let x = net.input_view(&sub.images_tensor(net.kind())?, sub.chw)?;
    let labels: Vec<usize> = sub.labels.iter().map(|y| *y as usize).collect();
    let samples = layer_samples(net, layer, &x, &labels, loss, chunk)?;
    let w = net.weight(layer)?;
    let shape = w.size();
    let (out, inn) = (shape[0] as usize, shape[1] as usize);
    let wv = tensor_to_f64(w, layer)?;
    let weights = Mat::from_fn(out, inn, |o, i| wv[o * inn + i]);
    Ok(LayerFactors {
        layer: layer.to_string(),
        samples,
        weights,
    })
}
