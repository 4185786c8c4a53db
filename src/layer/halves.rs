//! Matched pairs for the AWD terms of a trained layer (C5): the N analysed
//! samples are split, per class and seeded, into two halves A and B; every
//! sample of A gets its nearest same-class sample of B on the layer's input
//! activity as partner (the paper's argmin, [`crate::pairs`]), and every
//! sample of B its nearest of A, so every sample has one.

use faer::MatRef;
use ndarray::Array2;
use rand::seq::SliceRandom;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::kron::KronCurvature;
use crate::linalg::{ndarray_from_mat, seeded_rng};
use crate::pairs::{match_nearest, match_one_to_one, ratio_stats, RatioStats};

/// Partner of every analysed sample (an index into the same N samples).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairMap {
    /// `partner[p]`: the matched same-class sample of the other half.
    pub partner: Vec<usize>,
    /// `|a_partner - a_p| / |a_p|` over the samples with `a_p != 0`.
    pub ratio: Option<RatioStats>,
    /// Number of distinct partners.
    pub distinct_partners: usize,
}

fn labels_u8(labels: &[usize]) -> Result<Vec<u8>> {
    labels
        .iter()
        .enumerate()
        .map(|(p, &y)| {
            u8::try_from(y)
                .map_err(|_| Error::param(&format!("label of sample {p}"), y, "above 255"))
        })
        .collect()
}

/// Splits the samples per class into two seeded halves and matches each half
/// into the other on the rows of `acts` (N x in): nearest same-class sample
/// (the paper's rule) or, with `one_to_one`, the least-total-distance
/// assignment. A class with fewer than two samples is [`Error::NoPartner`].
pub fn match_halves(
    acts: MatRef<'_, f64>,
    labels: &[usize],
    seed: u64,
    one_to_one: bool,
) -> Result<PairMap> {
    let n = acts.nrows();
    if labels.len() != n {
        return Err(Error::shape("labels", n, labels.len()));
    }
    if n == 0 {
        return Err(Error::empty("matched pairs", "no samples"));
    }
    let y = labels_u8(labels)?;
    let mut classes: Vec<u8> = y.clone();
    classes.sort_unstable();
    classes.dedup();
    let mut rng = seeded_rng(seed);
    let (mut half_a, mut half_b) = (Vec::new(), Vec::new());
    for &c in &classes {
        let mut idx: Vec<usize> = (0..n).filter(|&p| y[p] == c).collect();
        if idx.len() < 2 {
            return Err(Error::NoPartner {
                sample: idx[0],
                class: c,
            });
        }
        idx.shuffle(&mut rng);
        let h = idx.len() / 2;
        half_a.extend_from_slice(&idx[..h]);
        half_b.extend_from_slice(&idx[h..]);
    }
    let all = ndarray_from_mat(acts);
    let rows = |ix: &[usize]| all.select(ndarray::Axis(0), ix);
    let (xa, xb) = (rows(&half_a), rows(&half_b));
    let ya: Vec<u8> = half_a.iter().map(|&p| y[p]).collect();
    let yb: Vec<u8> = half_b.iter().map(|&p| y[p]).collect();
    let m = |f: &Array2<f64>, yf: &[u8], t: &Array2<f64>, yt: &[u8], forward: bool| {
        if one_to_one && forward {
            match_one_to_one(f.view(), yf, t.view(), yt)
        } else {
            // B -> A under one-to-one: B may be one larger than A per class,
            // so it takes nearest partners (a one-to-one map cannot exist).
            match_nearest(f.view(), yf, t.view(), yt)
        }
    };
    let ab = m(&xa, &ya, &xb, &yb, true)?;
    let ba = m(&xb, &yb, &xa, &ya, false)?;
    let mut partner = vec![0usize; n];
    for (i, &p) in half_a.iter().enumerate() {
        partner[p] = half_b[ab.partner[i]];
    }
    for (i, &p) in half_b.iter().enumerate() {
        partner[p] = half_a[ba.partner[i]];
    }
    let ratios: Vec<f64> = (0..n)
        .filter_map(|p| {
            let a2: f64 = (0..acts.ncols()).map(|j| acts[(p, j)].powi(2)).sum();
            (a2 > 0.0).then(|| {
                let d2: f64 = (0..acts.ncols())
                    .map(|j| (acts[(partner[p], j)] - acts[(p, j)]).powi(2))
                    .sum();
                (d2 / a2).sqrt()
            })
        })
        .collect();
    let mut distinct = partner.clone();
    distinct.sort_unstable();
    distinct.dedup();
    Ok(PairMap {
        ratio: ratio_stats(&ratios).ok(),
        distinct_partners: distinct.len(),
        partner,
    })
}

/// What [`super::terms::measure`] needs: the engine, the activities it was built from, the
/// layer's weights and the partner map.
#[derive(Debug, Clone, Copy)]
pub struct PairedLayer<'a> {
    /// Kronecker factors of the N samples.
    pub engine: &'a KronCurvature,
    /// Input activities `a_p` (N x in), the rows the engine was built from.
    pub acts: MatRef<'a, f64>,
    /// The layer's weights W (out x in).
    pub weights: MatRef<'a, f64>,
    /// Partner of each sample.
    pub partner: &'a [usize],
}
