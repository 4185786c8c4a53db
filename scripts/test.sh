#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need,
# then runs formatting, lints, the default (pure-Rust) suite, the torch tier
# and a short fuzz smoke run. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
start=$(date +%s)

step "toolchain components (rustfmt, clippy)"
rustup component add rustfmt clippy >/dev/null 2>&1 || true

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (default features)"
cargo clippy --all-targets -- -D warnings

step "cargo test (default features: pure Rust core, claims, CLI)"
cargo test --release

# About 20 s per fuzz target (8 targets, ~3.5 min) plus the AddressSanitizer
# build of the crate and all its dependencies. Measured here: 17 min wall
# (8.5 min CPU) from scratch with other jobs on the 2 cores, 1-2.5 min after a
# library change. So the build lives outside the clone and is reused between
# runs (FUZZ_TARGET_DIR): a clean CI clone pays the full build once per
# machine, not per run.
step "fuzz smoke run (scripts/fuzz.sh 20)"
FUZZ_TARGET_DIR="${FUZZ_TARGET_DIR:-$HOME/.cache/superlinear/fuzz-target}" scripts/fuzz.sh 20

echo
echo "test suite finished in $(( $(date +%s) - start )) s"
