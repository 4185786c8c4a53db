//! The appendix as figures: pure functions from plain numbers (slices and
//! small structs, never a tensor) to SVG documents, drawn with `plotters`'
//! SVG backend (text as SVG `<text>`, no font files). The same data gives the
//! same SVG, byte for byte; a NaN or infinite input is a typed
//! [`crate::Error::NonFinite`], an empty one [`crate::Error::Empty`].
//!
//! One file per kind of figure, each naming its claims:
//!
//! - [`loglog`]: `log10 C_ii` and `log10 C_awd,ii` against `log10 H_ii`
//!   with the fitted lines `ln C = gamma ln H + b` over the fit window
//!   (the paper's central figure; C14, C9).
//! - [`gamma_k`]: gamma(k), the local slopes over ranks `k/2..k` and the
//!   bootstrap interval at the primary k (C15, C14).
//! - [`training`]: gamma over training checkpoints per seed with its
//!   bootstrap band (Fig. 2a; C15).
//! - [`heatmap`]: `log10 |C_ij|` in H's eigenbasis (top block) beside the
//!   same block Haar-rotated, `Q C Q^T` (Fig. 1's arrowhead; C3).
//! - [`null_grid`]: the App. C mean and App. D standard error, and their
//!   corrections, against the simulated Haar null over d and k (C3, C4).
//! - [`interval`]: the finite-fit gammas of a grid against `[1, 2]` (C9).
//! - [`table1`]: Table 1 published beside measured, mean +- std over seeds
//!   (C14).
//! - [`terms`]: Term I's exponent against the real gradient difference's
//!   and the unexplained share, per checkpoint (C6).
//!
//! [`record`] is the committed figure record `analyze --plot` writes: the
//! per-direction diagonals and the coupling block the figures above need,
//! with provenance.

pub mod chart;
pub mod gamma_k;
pub mod heatmap;
pub mod interval;
pub mod loglog;
pub mod null_grid;
pub mod record;
pub mod table1;
pub mod terms;
pub mod training;

pub use chart::{render, Chart, Legend, Mark, Point, Series, Ticks};
