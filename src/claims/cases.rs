//! Random ensemble recipes for the property-style claim checks: every law and
//! alignment mode, rank-1 and full-rank samples, degenerate spectra and
//! 12-decade dynamic ranges, drawn from the check's seed.

use rand::Rng as _;

use crate::ensemble::{Alignment, EigenLaw, EnsembleSpec};
use crate::linalg::Rng;

/// A random recipe with d <= `max_d`, n <= `max_n`; PSD unless `negative_fraction > 0`.
pub fn random_spec(
    rng: &mut Rng,
    max_d: usize,
    max_n: usize,
    negative_fraction: f64,
) -> EnsembleSpec {
    let d = rng.random_range(1..=max_d.max(1));
    let n = rng.random_range(1..=max_n.max(1));
    let rank = match rng.random_range(0..3) {
        0 => 1,
        1 => d,
        _ => rng.random_range(1..=d),
    };
    let law = match rng.random_range(0..5) {
        0 => EigenLaw::PowerLaw {
            exponent: rng.random_range(0.0..3.0),
        },
        1 => EigenLaw::SpikedBulk {
            spikes: rng.random_range(1..=rank),
            ratio: 10f64.powf(-rng.random_range(0.0..6.0)),
        },
        2 => EigenLaw::Equal,
        3 => EigenLaw::Geometric { decades: 12.0 },
        _ => EigenLaw::LogNormal {
            sigma: rng.random_range(0.0..2.0),
        },
    };
    let alignment = match rng.random_range(0..4) {
        0 => Alignment::Perfect,
        1 => Alignment::Haar,
        2 if 2 * rank <= d => Alignment::Perturbed {
            angle: rng.random_range(0.0..1.5),
        },
        _ => Alignment::Entangled {
            coupling: rng.random_range(-1.0..1.0),
            spread: if d >= 2 {
                rng.random_range(0.0..1.0)
            } else {
                0.0
            },
            directions: rng.random_range(1..=d),
        },
    };
    EnsembleSpec {
        d,
        n,
        rank,
        law,
        jitter: if rng.random_bool(0.5) {
            rng.random_range(0.0..2.0)
        } else {
            0.0
        },
        scale: 10f64.powf(rng.random_range(-6.0..6.0)),
        alignment,
        negative_fraction,
        seed: rng.random(),
    }
}
