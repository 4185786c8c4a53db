//! The single integration-test binary: one module per area (ripgrep's layout).

mod data;
mod linalg;
mod util;
