//! The single integration-test binary: one module per area (ripgrep's layout).

mod linalg;
mod util;
