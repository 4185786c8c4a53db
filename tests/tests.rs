//! The single integration-test binary: one module per area (ripgrep's layout).

mod alignment;
mod awd;
mod bounds;
mod c9;
mod claims;
mod cli;
mod coupling;
mod data;
mod eigen;
mod ensemble;
mod fisher;
mod fit;
mod kron;
mod layer;
mod layer_terms;
mod linalg;
mod moments;
mod net_judge;
mod netclaims;
mod pairs;
mod published;
#[cfg(feature = "torch")]
mod reproduce;
mod shifts;
mod stress;
mod suppression;
mod synthetic_claims;
#[cfg(feature = "torch")]
mod torch;
#[cfg(feature = "torch")]
mod torch_netclaims;
mod util;
