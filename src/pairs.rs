//! Matched pairs (claim C5, Sec. 3.1): the activity perturbation `da` that
//! the activity-weight duality turns into a weight perturbation.
//!
//! Two disjoint class-balanced mini-batches A and B are drawn (seeded). Each
//! sample `p` of A gets as partner `p'` the nearest same-class sample of B,
//!
//! ```text
//! p' = argmin_{q in B, y_q = y_p} |f_q - f_p|_2,
//! ```
//!
//! with `f` either the raw input or the input activity of the analysed layer
//! ([`MatchSpace`]); ties go to the lowest index in B (distances are computed
//! exactly as sums of squared differences, never via `|x|^2 + |y|^2 - 2 x.y`,
//! so equal points tie exactly). Then `a` is the layer's input activity of
//! `p`, `da = a_{p'} - a_p`, and the reported statistic is the distribution
//! of `|da| / |a|` over A (mean, median, extremes).
//!
//! The paper's prose (Sec. 3.1) calls the pairing a one-to-one
//! correspondence, but its formula is this argmin, which several samples of
//! A may share; [`Matching::distinct_partners`] reports how many partners
//! are distinct. [`MatchRule::OneToOne`] builds the one-to-one reading
//! instead: per class, the assignment A -> B of least total Euclidean
//! distance (Kuhn-Munkres from the `pathfinding` crate, on distances
//! quantised to `1e-12` of the class block's largest distance).

use std::collections::BTreeMap;

use ndarray::{Array2, ArrayView2, Axis};
use rand::seq::SliceRandom;
use serde::Serialize;

use crate::awd::{check_finite_view2, stable_norm};
use crate::error::{Error, Result};
use crate::linalg::seeded_rng;
use crate::mlp::Mlp;
use crate::stats;

/// On which features the nearest same-class partner is searched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchSpace {
    /// The raw network inputs.
    Raw,
    /// The input activity of the analysed layer.
    LayerInput,
}

/// How partners are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchRule {
    /// Each sample's nearest same-class sample (the paper's argmin);
    /// partners may repeat.
    Nearest,
    /// A one-to-one same-class assignment of least total distance (the
    /// paper's "one-to-one correspondence").
    OneToOne,
}

/// The partner in batch B of each sample of batch A.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Matching {
    /// `partner[p]` = row of B matched to row `p` of A.
    pub partner: Vec<usize>,
    /// Euclidean distance of each pair in the matching space.
    pub distance: Vec<f64>,
}

impl Matching {
    /// Number of distinct partners. The paper's prose calls the pairing a
    /// "one-to-one correspondence" while its formula is a nearest-neighbour
    /// argmin, which need not be injective: this measures how far it is.
    pub fn distinct_partners(&self) -> usize {
        let mut p = self.partner.clone();
        p.sort_unstable();
        p.dedup();
        p.len()
    }
}

/// Nearest same-class partner in `b` of every row of `a` (rows are
/// samples, `labels_*` their classes). Ties go to the lowest row of `b`.
/// A class of A absent from B is [`Error::NoPartner`].
pub fn match_nearest(
    a: ArrayView2<'_, f64>,
    labels_a: &[u8],
    b: ArrayView2<'_, f64>,
    labels_b: &[u8],
) -> Result<Matching> {
    if labels_a.len() != a.nrows() {
        return Err(Error::shape("labels of batch A", a.nrows(), labels_a.len()));
    }
    if labels_b.len() != b.nrows() {
        return Err(Error::shape("labels of batch B", b.nrows(), labels_b.len()));
    }
    if a.ncols() != b.ncols() {
        return Err(Error::shape(
            "features of batch B",
            format!("{} columns (as batch A)", a.ncols()),
            format!("{} columns", b.ncols()),
        ));
    }
    check_finite_view2(a, "features of batch A")?;
    check_finite_view2(b, "features of batch B")?;
    let mut partner = Vec::with_capacity(a.nrows());
    let mut distance = Vec::with_capacity(a.nrows());
    for (p, row) in a.axis_iter(Axis(0)).enumerate() {
        let mut best: Option<(usize, f64)> = None;
        for (q, other) in b.axis_iter(Axis(0)).enumerate() {
            if labels_b[q] != labels_a[p] {
                continue;
            }
            let d2: f64 = row
                .iter()
                .zip(other.iter())
                .map(|(x, y)| (x - y) * (x - y))
                .sum();
            // Strictly smaller only: the first (lowest) index wins ties.
            if best.is_none_or(|(_, bd)| d2 < bd) {
                best = Some((q, d2));
            }
        }
        match best {
            Some((q, d2)) => {
                partner.push(q);
                distance.push(d2.sqrt());
            }
            None => {
                return Err(Error::NoPartner {
                    sample: p,
                    class: labels_a[p],
                })
            }
        }
    }
    Ok(Matching { partner, distance })
}

/// One-to-one same-class matching of least total Euclidean distance: per
/// class, Kuhn-Munkres on the distance matrix of that class's rows of A
/// (rows) against its rows of B (columns). A class with fewer samples in B
/// than in A is [`Error::NoPartner`] for its first unmatched sample.
pub fn match_one_to_one(
    a: ArrayView2<'_, f64>,
    labels_a: &[u8],
    b: ArrayView2<'_, f64>,
    labels_b: &[u8],
) -> Result<Matching> {
    // Shapes and finiteness are checked by the nearest matching, which also
    // gives every class's candidate set a partner or fails.
    match_nearest(a, labels_a, b, labels_b)?;
    let mut partner = vec![0usize; a.nrows()];
    let mut distance = vec![0.0f64; a.nrows()];
    let classes: std::collections::BTreeSet<u8> = labels_a.iter().copied().collect();
    for c in classes {
        let ia: Vec<usize> = (0..a.nrows()).filter(|&p| labels_a[p] == c).collect();
        let ib: Vec<usize> = (0..b.nrows()).filter(|&q| labels_b[q] == c).collect();
        if ib.len() < ia.len() {
            return Err(Error::NoPartner {
                sample: ia[ib.len()],
                class: c,
            });
        }
        let dist = Array2::from_shape_fn((ia.len(), ib.len()), |(i, j)| {
            stable_norm((&a.row(ia[i]) - &b.row(ib[j])).view())
        });
        let dmax = dist.iter().fold(0.0f64, |m, v| m.max(*v));
        if !dmax.is_finite() {
            return Err(Error::NonFinite {
                input: format!("distances between class-{c} samples (features too large)"),
                location: "one-to-one cost matrix".into(),
                value: dmax,
            });
        }
        let unit = if dmax > 0.0 { dmax * 1e-12 } else { 1.0 };
        let weights = pathfinding::matrix::Matrix::from_fn(ia.len(), ib.len(), |(i, j)| {
            (dist[(i, j)] / unit).round() as i64
        });
        // rows <= columns holds (checked above), so this cannot panic.
        let (_, assign) = pathfinding::kuhn_munkres::kuhn_munkres_min(&weights);
        for (i, &j) in assign.iter().enumerate() {
            partner[ia[i]] = ib[j];
            distance[ia[i]] = dist[(i, j)];
        }
    }
    Ok(Matching { partner, distance })
}

/// Two disjoint class-balanced mini-batches of `per_class` samples of each
/// class in `classes`, drawn without replacement from `labels` (seeded).
/// Returns dataset row indices, grouped by class in the order of `classes`.
pub fn balanced_batch_pair(
    labels: &[u8],
    classes: &[u8],
    per_class: usize,
    seed: u64,
) -> Result<(Vec<usize>, Vec<usize>)> {
    if per_class == 0 {
        return Err(Error::param("per_class", per_class, "must be at least 1"));
    }
    if classes.is_empty() {
        return Err(Error::empty("classes", "no class to draw"));
    }
    let mut by_class: BTreeMap<u8, Vec<usize>> = BTreeMap::new();
    for (i, &y) in labels.iter().enumerate() {
        by_class.entry(y).or_default().push(i);
    }
    let mut rng = seeded_rng(seed);
    let (mut first, mut second) = (Vec::new(), Vec::new());
    for &c in classes {
        let mut idx = by_class.get(&c).cloned().unwrap_or_default();
        if idx.len() < 2 * per_class {
            return Err(Error::param(
                "per_class",
                per_class,
                format!(
                    "class {c} has {} samples, two disjoint batches need {}",
                    idx.len(),
                    2 * per_class
                ),
            ));
        }
        idx.shuffle(&mut rng);
        first.extend_from_slice(&idx[..per_class]);
        second.extend_from_slice(&idx[per_class..2 * per_class]);
    }
    Ok((first, second))
}

/// Distribution of `|da| / |a|` over matched pairs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RatioStats {
    /// Number of pairs.
    pub n: usize,
    /// Mean of `|da| / |a|`.
    pub mean: f64,
    /// Median.
    pub median: f64,
    /// Smallest ratio.
    pub min: f64,
    /// Largest ratio.
    pub max: f64,
}

/// `|a_{partner[p]} - a_p| / |a_p|` for every row `p` of `act_a`
/// (partners index rows of `act_b`). A zero activity is
/// [`Error::ZeroActivity`] (the ratio and the duality are undefined).
pub fn activity_ratios(
    act_a: ArrayView2<'_, f64>,
    act_b: ArrayView2<'_, f64>,
    partner: &[usize],
) -> Result<Vec<f64>> {
    if partner.len() != act_a.nrows() {
        return Err(Error::shape("partners", act_a.nrows(), partner.len()));
    }
    if act_a.ncols() != act_b.ncols() {
        return Err(Error::shape(
            "activities of batch B",
            act_a.ncols(),
            act_b.ncols(),
        ));
    }
    partner
        .iter()
        .enumerate()
        .map(|(p, &q)| {
            if q >= act_b.nrows() {
                return Err(Error::param(
                    "partner",
                    q,
                    format!("batch B has {} rows", act_b.nrows()),
                ));
            }
            let a = act_a.row(p);
            let norm = stable_norm(a);
            if norm < f64::MIN_POSITIVE {
                return Err(Error::ZeroActivity { sample: p, norm });
            }
            let da = &act_b.row(q) - &a;
            Ok(stable_norm(da.view()) / norm)
        })
        .collect()
}

/// Summary statistics of a non-empty list of ratios.
pub fn ratio_stats(ratios: &[f64]) -> Result<RatioStats> {
    if ratios.is_empty() {
        return Err(Error::empty("ratios |da|/|a|", "no pairs"));
    }
    let mut s = ratios.to_vec();
    s.sort_by(|x, y| x.total_cmp(y));
    let n = s.len();
    Ok(RatioStats {
        n,
        mean: stats::mean(&s),
        median: stats::median_sorted(&s),
        min: s[0],
        max: s[n - 1],
    })
}

/// The matched-pair experiment of Sec. 3.1 on a labelled data set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairReport {
    /// Analysed layer (its input activity is `a`).
    pub layer: usize,
    /// Features the partners were matched on.
    pub space: MatchSpace,
    /// Dataset rows of batch A.
    pub batch_a: Vec<usize>,
    /// Dataset rows of batch B.
    pub batch_b: Vec<usize>,
    /// The matching A -> B.
    pub matching: Matching,
    /// `|da| / |a|` of each sample of A, on the layer's input activity.
    pub ratios: Vec<f64>,
    /// Their summary.
    pub stats: RatioStats,
}

/// What the matched-pair experiment draws and where it measures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairSettings {
    /// Analysed layer: `a` is its input activity (0: the raw inputs).
    pub layer: usize,
    /// Classes the batches draw from.
    pub classes: Vec<u8>,
    /// Samples per class in each batch (batch size `per_class * classes`).
    pub per_class: usize,
    /// Features the partners are matched on.
    pub space: MatchSpace,
    /// Nearest (partners may repeat) or one-to-one.
    pub rule: MatchRule,
    /// Seed of the batch draw.
    pub seed: u64,
}

/// Draws two class-balanced batches (`per_class` per class of `classes`)
/// from `xs` (samples x features) and `labels`, matches each sample of the
/// first to its nearest same-class sample of the second in `space`, and
/// measures `|da| / |a|` on the input activity of layer `layer` of `net`.
pub fn matched_pair_experiment(
    net: &Mlp,
    xs: ArrayView2<'_, f64>,
    labels: &[u8],
    settings: &PairSettings,
) -> Result<PairReport> {
    if labels.len() != xs.nrows() {
        return Err(Error::shape("labels", xs.nrows(), labels.len()));
    }
    let PairSettings {
        layer,
        ref classes,
        per_class,
        space,
        rule,
        seed,
    } = *settings;
    let (batch_a, batch_b) = balanced_batch_pair(labels, classes, per_class, seed)?;
    let xa: Array2<f64> = xs.select(Axis(0), &batch_a);
    let xb: Array2<f64> = xs.select(Axis(0), &batch_b);
    let ya: Vec<u8> = batch_a.iter().map(|&i| labels[i]).collect();
    let yb: Vec<u8> = batch_b.iter().map(|&i| labels[i]).collect();
    let act_a = net.layer_inputs(xa.view(), layer)?;
    let act_b = net.layer_inputs(xb.view(), layer)?;
    let (fa, fb) = match space {
        MatchSpace::Raw => (xa.view(), xb.view()),
        MatchSpace::LayerInput => (act_a.view(), act_b.view()),
    };
    let matching = match rule {
        MatchRule::Nearest => match_nearest(fa, &ya, fb, &yb)?,
        MatchRule::OneToOne => match_one_to_one(fa, &ya, fb, &yb)?,
    };
    let ratios = activity_ratios(act_a.view(), act_b.view(), &matching.partner)?;
    let stats = ratio_stats(&ratios)?;
    Ok(PairReport {
        layer,
        space,
        batch_a,
        batch_b,
        matching,
        ratios,
        stats,
    })
}
