//! The single integration-test binary: one module per area (ripgrep's layout).

mod alignment;
mod bounds;
mod c9;
mod claims;
mod coupling;

mod eigen;
mod ensemble;
mod fit;
mod linalg;
mod moments;
mod shifts;
mod suppression;
mod synthetic_claims;
mod util;
