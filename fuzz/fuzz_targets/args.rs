//! The command line: any argument vector (NUL-separated UTF-8 tokens after
//! the program name) through the binary's own clap definition, compiled
//! here from `src/cli` exactly as `src/main.rs` compiles it.
//!
//! Invariants: parsing never panics (value parsers included); a vector is
//! either a command or a typed clap error; an error that goes to stderr
//! (everything but --help and --version) renders through the binary's
//! `one_line` as exactly one non-empty line, which is what exit code 2
//! prints.
#![no_main]

use clap::Parser;
use libfuzzer_sys::fuzz_target;

#[allow(dead_code, unused_imports)]
#[path = "../../src/cli/mod.rs"]
mod cli;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut argv = vec!["superlinear".to_string()];
    argv.extend(text.split('\0').map(str::to_string));
    if argv.len() > 64 {
        return;
    }
    match cli::Cli::try_parse_from(&argv) {
        Ok(_) => {}
        Err(e) => {
            if e.use_stderr() {
                let line = cli::one_line(&e.to_string(), true);
                assert!(!line.trim().is_empty(), "empty error for {argv:?}");
                assert!(!line.contains('\n'), "multi-line error for {argv:?}: {line}");
            }
        }
    }
});
