//! The single integration-test binary: one module per area (ripgrep's layout).

mod alignment;
mod analyze_factors;
mod architecture;
mod awd;
mod bounds;
mod c9;
mod cifar_pickle;
mod claims;
mod cli;
mod cli_args;
mod coupling;
mod data;
mod eigen;
mod ensemble;
mod factors;
mod fashion_mnist;
mod fisher;
mod fit;
mod grid;
mod json_output;
mod kill;
mod kron;
mod layer;
mod layer_terms;
mod linalg;
mod memory_refusals;
mod moments;
mod net_judge;
mod net_judge_structure;
mod netclaims;
mod netgrid;
mod pairs;
mod progress;
mod published;
mod report;
mod report_only;
#[cfg(feature = "torch")]
mod reproduce;
mod scale;
mod shifts;
mod stats;
mod stress;
mod structure;
mod suppression;
mod synthetic_claims;
mod table1_v2;
#[cfg(feature = "torch")]
mod torch;
#[cfg(feature = "torch")]
mod torch_kill;
#[cfg(feature = "torch")]
mod torch_netclaims;
#[cfg(feature = "torch")]
mod torch_netgrid;
#[cfg(feature = "torch")]
mod torch_table1_v2;
mod uncertainty;
mod user_output;
mod util;
