//! The single integration-test binary: one module per area (ripgrep's layout).

mod coupling;
mod linalg;
mod util;
