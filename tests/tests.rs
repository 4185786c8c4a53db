//! The single integration-test binary: one module per area (ripgrep's layout).

mod alignment;
mod bounds;
mod data;
mod eigen;
mod ensemble;
mod fit;
mod kron;
mod linalg;
mod moments;
#[cfg(feature = "torch")]
mod torch;
mod util;
