#!/usr/bin/env bash
# Runs every check and every test of the workspace: formatting, lints, docs, unit tests, HTTP
# tests, trybuild compile-fail cases, doc tests, each benchmark once in test mode, and the fuzz
# targets (corpus replay, then 15 s each). Ends with one summary line counting every test that
# ran.
set -euo pipefail
cd "$(dirname "$0")/.."

log=$(mktemp)
trap 'rm -f "$log"' EXIT

# PostgreSQL for the store and server tests, Redis for the throttle tests (never skipped: they
# fail without them).
./scripts/services.sh

cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
# auth-runtime with each combination of its features (sqlite, postgres, accounts, redis).
./scripts/features.sh
# API docs build without broken links.
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps -p auth-grammar -p auth-macros -p auth-runtime
# Unit, integration (HTTP + trybuild) and benchmark targets (benches run once, as tests).
cargo test --workspace --all-targets 2>&1 | tee -a "$log"
# Doc tests (every public example must compile and pass).
cargo test --workspace --doc 2>&1 | tee -a "$log"
# Fuzz targets (fuzz/, outside the workspace): replay the committed corpora, then fuzz each
# target ~15 s; one line per target. A finding fails the run.
./scripts/fuzz.sh ci 15

# Sum cargo's per-binary "test result" lines into one closing line.
awk '/^test result:/ { p += $4; f += $6 } END { printf "summary: %d passed, %d failed\n", p, f }' "$log"
