//! The single integration-test binary: one module per area (ripgrep's layout).

mod eigen;
mod linalg;
mod util;
