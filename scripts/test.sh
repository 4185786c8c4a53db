#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need,
# then runs formatting, lints, the default (pure-Rust) suite, the torch tier
# (libtorch from PyPI's torch 2.13.0 in a venv outside the repo) and a short
# fuzz smoke run. `.ci/run` calls exactly this.
#
# Build products are cached outside the clone, so a second run on the same
# machine only rebuilds what changed:
#   SUPERLINEAR_CACHE (default ~/.cache/superlinear): torch venv, cargo target dir,
#   fuzz build. Set CARGO_TARGET_DIR to override the target dir.
set -euo pipefail
cd "$(dirname "$0")/.."

cache="${SUPERLINEAR_CACHE:-$HOME/.cache/superlinear}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$cache/target}"
mkdir -p "$CARGO_TARGET_DIR"

step() { printf '\n==> %s  [%ss]\n' "$*" "$(( $(date +%s) - start ))"; }
start=$(date +%s)

step "toolchain components (rustfmt, clippy)"
rustup component add rustfmt clippy >/dev/null 2>&1 || true

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (default features)"
cargo clippy --all-targets -- -D warnings

# fuzz/ is its own workspace: lint its targets too. A plain check build in the
# same cached target dir, so the crate's dependencies are shared with the
# step above (no sanitizer build; that is the smoke run's).
step "cargo clippy (fuzz workspace)"
RUSTC_BOOTSTRAP=1 cargo clippy --manifest-path fuzz/Cargo.toml --all-targets -- -D warnings

step "cargo test (default features: pure Rust core, claims, CLI)"
cargo test --release

step "torch tier: venv with torch 2.13.0 (created once, then reused)"
# shellcheck source=scripts/torch-env.sh
source scripts/torch-env.sh

# Python side of the layer-factor format (about 30 s plus the read_factors
# example and a release build of the binary with the torch feature, whose
# library the torch tests below reuse): export_layer.py's Kronecker form
# against exact per-sample Hessians by double backward, every exported file
# read back by the Rust reader, and, on an MLP trained by `superlinear train`
# on the shared MNIST subset, `analyze --factors` of the exported layer
# against `analyze --checkpoint --float64` to 1e-10 (skipped without data).
step "export_layer.py: exact Hessians, Gauss-Newton gap, Rust reader, checkpoint route"
"$SUPERLINEAR_TORCH_PYTHON" scripts/test_export.py

step "cargo clippy (feature torch)"
cargo clippy --all-targets --features torch -- -D warnings

step "cargo test (feature torch: oracle, checkpoints, train-then-analyze)"
cargo test --release --features torch --test tests -- torch kron

# About 20 s per fuzz target (8 targets, ~3 min) plus the AddressSanitizer
# build of the crate and all its dependencies. Measured here: 17 min wall
# (8.5 min CPU) from scratch with other jobs on the 2 cores, 1-2.5 min after a
# library change. So the build lives outside the clone and is reused between
# runs (FUZZ_TARGET_DIR): a clean CI clone pays the full build once per
# machine, not per run.
#
# Every target runs; crashes found earlier are committed seeds
# (fuzz/seeds/TARGET/regression-*) and named tests in tests/. libFuzzer's
# random seed is fixed (-seed=1) so the smoke run mutates in the same order on
# every machine: a crash it finds is reproducible, and a run that passed here
# explores the same inputs in CI. Longer exploration with other seeds is
# `scripts/fuzz.sh SECONDS` by hand (fuzz/README.md).
step "fuzz smoke run (scripts/fuzz.sh 20, every target, -seed=1)"
FUZZ_TARGET_DIR="${FUZZ_TARGET_DIR:-$cache/fuzz-target}" \
    FUZZ_ARGS="${FUZZ_ARGS:--seed=1}" scripts/fuzz.sh 20

echo
echo "test suite finished in $(( $(date +%s) - start )) s"
