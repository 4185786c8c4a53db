//! Build script.
//!
//! 1. Records the git commit for provenance (`superlinear verify --json`).
//! 2. Under the `torch` feature, bakes the libtorch directory into the
//!    binaries' rpath (`-Wl,-rpath,DIR`), so `superlinear` and the test binary
//!    run without `LD_LIBRARY_PATH`. The directory is found the way torch-sys
//!    finds it: `$LIBTORCH/lib` when `LIBTORCH` is set, otherwise (with
//!    `LIBTORCH_USE_PYTORCH`) from the active python's `torch` package
//!    (`python` inside a venv, `python3` otherwise). `scripts/torch-env.sh`
//!    sets this environment up. Without the feature this step does nothing.
use std::path::PathBuf;
use std::process::Command;

fn main() {
    record_commit();
    torch_rpath();
}

fn record_commit() {
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_string());
    let dirty = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| !o.stdout.is_empty())
        .unwrap_or(false);
    let commit = if dirty {
        format!("{commit}-dirty")
    } else {
        commit
    };
    println!("cargo:rustc-env=SUPERLINEAR_GIT_COMMIT={commit}");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
    println!("cargo:rerun-if-changed=.git/index");
}

fn torch_rpath() {
    println!("cargo:rerun-if-changed=build.rs");
    for var in ["LIBTORCH", "LIBTORCH_USE_PYTORCH", "VIRTUAL_ENV"] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    if std::env::var_os("CARGO_FEATURE_TORCH").is_none() {
        return;
    }
    if let Some(dir) = libtorch_lib_dir() {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
    } else {
        println!(
            "cargo:warning=libtorch directory not found: binaries need LD_LIBRARY_PATH \
             (run through scripts/torch-env.sh)"
        );
    }
}

fn libtorch_lib_dir() -> Option<PathBuf> {
    if let Some(root) = std::env::var_os("LIBTORCH") {
        return Some(PathBuf::from(root).join("lib"));
    }
    std::env::var_os("LIBTORCH_USE_PYTORCH")?;
    let python = if std::env::var_os("VIRTUAL_ENV").is_some() {
        "python"
    } else {
        "python3"
    };
    let out = Command::new(python)
        .args([
            "-c",
            "import os, torch; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))",
        ])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let dir = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    dir.is_dir().then_some(dir)
}
