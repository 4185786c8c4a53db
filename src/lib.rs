//! # superlinear
//!
//! An executable appendix for Zhang, Yang, Tu (2026), "On the Superlinear
//! Relationship between SGD Noise Covariance and Loss Landscape Curvature".
//! Every claim of the paper has an id `C1` ... `C15` (see `theory/claims.toml`
//! and `../shared/paper/THEORY.md`); the modules below compute the quantities
//! those claims are about, and [`claims`] runs the checks behind
//! `superlinear verify`.
//!
//! Dependencies flow one way: `cli` -> `claims` -> core modules; the core never
//! imports the CLI, and `data` needs nothing else of the crate.

pub mod adjust;
pub mod alignment;
pub mod bounds;
pub mod error;
pub mod exit;
pub mod fit;
pub mod kron;
pub mod layer;
pub mod linalg;
pub mod memory;
pub mod stats;
#[cfg(feature = "torch")]
pub mod torch;

pub use error::{Error, Result};
pub mod awd;
pub mod claims;
pub mod coupling;
pub mod data;
pub mod ensemble;
pub mod fisher;
pub mod loss;
pub mod mlp;
pub mod moments;
pub mod pairs;
pub mod plot;
pub mod progress;
pub mod published;
pub mod reproduce;
pub mod shifts;
pub mod spec;
pub mod suppression;
