//! The single integration-test binary: one module per area (ripgrep's layout).

mod kron;
mod linalg;
#[cfg(feature = "torch")]
mod torch;
mod util;
