#!/usr/bin/env bash
# Builds and runs the libFuzzer targets of fuzz/ with the stable toolchain (no cargo-fuzz, no
# nightly): the sanitizer-coverage flags cargo-fuzz passes, AddressSanitizer, RUSTC_BOOTSTRAP=1.
#
#   ./scripts/fuzz.sh build            build every target (fuzz/target, its own directory)
#   ./scripts/fuzz.sh replay           run each target once over its committed corpus
#   ./scripts/fuzz.sh fuzz [SECONDS]   fuzz each target for SECONDS (default 30)
#   ./scripts/fuzz.sh ci [SECONDS]     replay, then fuzz each target for SECONDS (default 15)
#   ./scripts/fuzz.sh run TARGET [libFuzzer args...]   one target, by hand
#
# FUZZ_TARGETS="email scope_grammar" limits the targets; FUZZ_ASAN=0 builds without ASan.
# New inputs go to fuzz/target/corpus/<target> (not committed); a finding is written to
# fuzz/artifacts/<target>/ and makes the script exit non-zero after the other targets ran.
# Prints one line per target: executions, executions per second, corpus size, findings.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

mode=${1:-replay}
all_targets=(token_verify http_extract scope_grammar policy_json route_path email)
read -r -a targets <<<"${FUZZ_TARGETS:-${all_targets[*]}}"

host=$(rustc -vV | sed -n 's/^host: //p')
export CARGO_TARGET_DIR="$root/fuzz/target"
bin_dir="$CARGO_TARGET_DIR/$host/release"

build() {
    # libFuzzer itself is C++, built by libfuzzer-sys's build script.
    if ! command -v c++ >/dev/null 2>&1; then
        echo "fuzz: installing a C++ compiler (g++)" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq g++ >/dev/null
    fi
    local flags=(
        -Cpasses=sancov-module
        -Cllvm-args=-sanitizer-coverage-level=4
        -Cllvm-args=-sanitizer-coverage-inline-8bit-counters
        -Cllvm-args=-sanitizer-coverage-pc-table
        -Cllvm-args=-sanitizer-coverage-trace-compares
        --cfg fuzzing
        -Cforce-frame-pointers
    )
    if [ "${FUZZ_ASAN:-1}" = 1 ]; then
        flags+=(-Zsanitizer=address)
    fi
    local start=$SECONDS
    # --target: the flags apply to the targets and their dependencies, not to build scripts
    # and proc macros (as with cargo-fuzz).
    RUSTC_BOOTSTRAP=1 RUSTFLAGS="${flags[*]}" \
        cargo build --locked --release --manifest-path fuzz/Cargo.toml --target "$host" \
        $(printf -- '--bin %s ' "${targets[@]}")
    echo "fuzz: built ${#targets[@]} targets in $((SECONDS - start)) s" >&2
}

# run TARGET SECONDS: SECONDS=0 replays the committed corpus once; prints the summary line.
run_target() {
    local target=$1 seconds=$2
    local corpus="$root/fuzz/corpus/$target" work="$CARGO_TARGET_DIR/corpus/$target"
    local artifacts="$root/fuzz/artifacts/$target/"
    local log="$CARGO_TARGET_DIR/logs/$target.log"
    mkdir -p "$corpus" "$work" "$artifacts" "$(dirname "$log")"
    local args=(-artifact_prefix="$artifacts" -print_final_stats=1 -rss_limit_mb=2048
        -timeout=10 -max_len=8192)
    local what
    if [ "$seconds" = 0 ]; then
        args+=(-runs=0 "$corpus")
        what=replay
    else
        # New inputs land in the first (scratch) directory; the committed corpus is read only.
        args+=(-max_total_time="$seconds" "$work" "$corpus")
        what="fuzz ${seconds}s"
    fi
    local status=0
    "$bin_dir/$target" "${args[@]}" >"$log" 2>&1 || status=$?
    local execs rate units
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)
    units=$(grep -o 'corp: [0-9]*' "$log" | tail -n1 | grep -o '[0-9]*' || true)
    if [ "$status" = 0 ]; then
        printf 'fuzz %-14s %-9s %9s execs %7s/s  corpus %5s  findings 0\n' \
            "$target" "$what" "${execs:-?}" "${rate:-?}" "${units:-?}"
    else
        printf 'fuzz %-14s %-9s %9s execs %7s/s  corpus %5s  FINDING (exit %s), see %s\n' \
            "$target" "$what" "${execs:-?}" "${rate:-?}" "${units:-?}" "$status" "$log"
        grep -m1 -A12 'panicked at\|ERROR: AddressSanitizer\|ERROR: libFuzzer' "$log" >&2 || true
        ls -1 "$artifacts" >&2 || true
        return 1
    fi
}

each() {
    local seconds=$1 failed=0
    for target in "${targets[@]}"; do
        run_target "$target" "$seconds" || failed=1
    done
    return $failed
}

case "$mode" in
    build) build ;;
    replay) build && each 0 ;;
    fuzz) build && each "${2:-30}" ;;
    ci)
        build
        failed=0
        each 0 || failed=1
        each "${2:-15}" || failed=1
        exit $failed
        ;;
    run)
        target=${2:?a target name}
        shift 2
        FUZZ_TARGETS=$target
        targets=("$target")
        build
        exec "$bin_dir/$target" -artifact_prefix="$root/fuzz/artifacts/$target/" "$@"
        ;;
    *)
        echo "usage: $0 build | replay | fuzz [SECONDS] | ci [SECONDS] | run TARGET [ARGS]" >&2
        exit 2
        ;;
esac
