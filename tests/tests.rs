//! The single integration-test binary: one module per area (ripgrep's layout).

mod ensemble;
mod linalg;
mod moments;
mod util;
