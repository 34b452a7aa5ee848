#!/usr/bin/env bash
# Runs every check and every test of the workspace: formatting, lints, unit tests, HTTP tests,
# trybuild compile-fail cases, doc tests, and each benchmark once in test mode.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
# API docs build without broken links.
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps -p auth-grammar -p auth-macros -p auth-runtime
# Unit, integration (HTTP + trybuild) and benchmark targets (benches run once, as tests).
cargo test --workspace --all-targets
# Doc tests (every public example must compile and pass).
cargo test --workspace --doc
