//! The single integration-test binary: one module per area (ripgrep's layout).

mod awd;
mod fisher;
mod data;
mod linalg;
mod pairs;
mod util;
