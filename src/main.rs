//! The `superlinear` command line: a thin layer over the library. Flags are
//! parsed once (clap) into validated library settings; every command is also a
//! library call. Exit codes: see `superlinear::exit` (0 ok, 1 a claim failed,
//! 2 bad usage or input).

mod cli;

fn main() {
    // Before libtorch runs and before any other thread starts.
    #[cfg(feature = "torch")]
    superlinear::torch::dispatch::pin_cpu_dispatch();
    std::process::exit(cli::run());
}
