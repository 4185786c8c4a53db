#!/usr/bin/env bash
# Run the cargo-fuzz targets in fuzz/ for a fixed time each and print, per
# target, the executions, edge coverage, features and corpus size.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# SECONDS_PER_TARGET defaults to 20 (the smoke run CI does); TARGETs default to
# every target `cargo fuzz list` reports, so a new target only needs its
# [[bin]] entry in fuzz/Cargo.toml (and, ideally, seeds in fuzz/seeds/TARGET/).
# Installs cargo-fuzz if missing. Works on a stable toolchain through
# RUSTC_BOOTSTRAP=1 (cargo-fuzz passes -Z flags to rustc).
#
# Each run reads the committed seeds (fuzz/seeds/TARGET, read-only) and grows
# fuzz/corpus/TARGET (git-ignored); crashes land in fuzz/artifacts/TARGET
# (git-ignored) and make the script exit 1 after all targets ran. Extra
# libFuzzer flags can be passed in FUZZ_ARGS (e.g. FUZZ_ARGS="-jobs=2").
# FUZZ_TARGET_DIR moves the build out of fuzz/target: the sanitizer build of
# the crate's dependencies (faer above all) takes long on 2 cores, so CI on a
# clean clone should point it at a cache kept between runs, e.g.
# FUZZ_TARGET_DIR=~/.cache/superlinear/fuzz-target.
set -euo pipefail

cd "$(dirname "$0")/.."
export RUSTC_BOOTSTRAP=1

secs="${1:-20}"
shift || true
case "$secs" in
    '' | *[!0-9]*) echo "fuzz.sh: SECONDS_PER_TARGET must be a whole number, got '$secs'" >&2; exit 2 ;;
esac

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz (about 30 s)" >&2
    cargo install --locked cargo-fuzz
fi

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi
known=" $(cargo fuzz list | tr '\n' ' ') "
for t in "${targets[@]}"; do
    if [[ "$known" != *" $t "* ]]; then
        echo "fuzz.sh: unknown target '$t' (known:$known)" >&2
        exit 2
    fi
done

tdir=()
if [ -n "${FUZZ_TARGET_DIR:-}" ]; then
    tdir=(--target-dir "$FUZZ_TARGET_DIR")
fi
# The runs execute the built binaries directly: `cargo fuzz run` builds with
# other profile settings than `cargo fuzz build` and so recompiled the crate
# twice per target (about 2 min each here).
bindir="${FUZZ_TARGET_DIR:-fuzz/target}/$(rustc -vV | sed -n 's/^host: //p')/release"

# One build for all targets up front, so the timed runs only fuzz.
start=$(date +%s)
cargo fuzz build ${tdir[@]+"${tdir[@]}"}
echo "fuzz.sh: build took $(($(date +%s) - start)) s" >&2

logdir=fuzz/logs
mkdir -p "$logdir"
failed=()
summary=()
for t in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$t" "fuzz/seeds/$t"
    log="$logdir/$t.log"
    echo "== $t: ${secs}s" >&2
    status=ok
    mkdir -p "fuzz/artifacts/$t"
    # shellcheck disable=SC2086
    if ! "$bindir/$t" -artifact_prefix="fuzz/artifacts/$t/" \
        -max_total_time="$secs" -print_final_stats=1 ${FUZZ_ARGS:-} \
        "fuzz/corpus/$t" "fuzz/seeds/$t" >"$log" 2>&1; then
        status=CRASH
        failed+=("$t")
        tail -n 40 "$log" >&2
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<<"$last")
    rate=$(sed -n 's/.* exec\/s: \([0-9]*\).*/\1/p' <<<"$last")
    summary+=("$(printf '%-8s %6ss %12s %9s %6s %6s %12s  %s' "$t" "$secs" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$status")")
done

printf '%-8s %7s %12s %9s %6s %6s %12s  %s\n' target time executions exec/s cov ft corpus status
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz.sh: crashes in: ${failed[*]} (inputs under fuzz/artifacts/, logs under $logdir/)" >&2
    exit 1
fi
