//! The single integration-test binary: one module per area (ripgrep's layout).

mod awd;
mod data;
mod fisher;
mod linalg;
mod pairs;
mod util;
