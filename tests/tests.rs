//! The single integration-test binary: one module per area (ripgrep's layout).

mod alignment;
mod awd;
mod bounds;
mod c9;
mod claims;
mod data;
mod eigen;
mod ensemble;
mod fisher;
mod fit;
mod linalg;
mod moments;
mod pairs;
mod shifts;
mod stress;
mod suppression;
mod synthetic_claims;
mod util;
