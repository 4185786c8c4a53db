//! The scale-invariant coupling of a noise covariance C to a Hessian H
//! (claim **C3**, Eq. 6-7), its random baseline by exact simulation, and the
//! paper's closed-form approximations of that baseline (claims **C3**, App. C,
//! and **C4**, App. D) beside our corrected ones (`theory/coupling-null.md`).
//!
//! One file per job:
//! - [`statistic`]: `rho_bar = mean_{i != j} |rho_ij|` of `C' = V^T C V`
//!   (dense, projected, factored or from rows) and the correlation matrix.
//! - [`null`]: the simulated Haar null of `rho_bar` for C's spectrum, and the
//!   exact Monte Carlo p-value.
//! - [`formulas`]: the paper's mean, SE, z and p, and the corrected mean and
//!   SE; [`row_law`]: the first-order variance term the corrected SE uses;
//!   [`superseded`]: the earlier SE generations the grid still records.
//! - [`spectrum`]: the spectrum families and their validation.
//! - [`baseline`]: a spectrum's null by formulas and by simulation, side by
//!   side; [`observed`]: an observed (C, H) against that null.
//! - [`grid`]: formulas against the simulated null over dimensions and
//!   spectra, its record, and the slice `verify` runs.

/// The largest dimension the simulated null accepts: a Haar draw holds d x d
/// matrices of f64 (0.8 GB at d = 10 000); larger d is refused up front
/// instead of failing to allocate.
pub const MAX_D: usize = 10_000;

/// The most Haar rotations one null simulation accepts.
pub const MAX_ROTATIONS: usize = 10_000_000;

/// `2 <= d <= MAX_D`, else a typed error naming `d`.
pub fn check_dimension(d: usize) -> crate::error::Result<()> {
    use crate::error::Error;
    if d < 2 {
        return Err(Error::param("d", d, "the coupling needs d >= 2"));
    }
    if d > MAX_D {
        return Err(Error::param(
            "d",
            d,
            format!("at most {MAX_D} is supported"),
        ));
    }
    Ok(())
}

/// `min <= rotations <= MAX_ROTATIONS`, else a typed error naming
/// `rotations` (a standard deviation needs `min = 2`).
pub fn check_rotations(rotations: usize, min: usize) -> crate::error::Result<()> {
    use crate::error::Error;
    if rotations < min {
        return Err(Error::param(
            "rotations",
            rotations,
            format!("must be at least {min}"),
        ));
    }
    if rotations > MAX_ROTATIONS {
        return Err(Error::param(
            "rotations",
            rotations,
            format!("at most {MAX_ROTATIONS} is supported"),
        ));
    }
    Ok(())
}

pub mod baseline;
pub mod formulas;
pub mod grid;
pub mod null;
pub mod observed;
pub mod row_law;
pub mod spectrum;
pub mod statistic;
pub mod superseded;

pub use formulas::{
    corrected_mean, corrected_mean_sq, corrected_var_degenerate, gaussian_rho_sq, mean_abs_cosine,
    paper_mean, paper_mean_spikes, paper_se, z_and_p, SpectrumMoments,
};
pub use null::{empirical_p, haar_frame_seq, simulate_null, simulate_null_dense, NullSample};
pub use row_law::corrected_se_row_law;
pub use spectrum::Spectrum;
pub use statistic::{
    correlation_matrix, coupling_dense, coupling_factored, coupling_of_projected, coupling_of_rows,
    zero_variance_tol, Coupling,
};
