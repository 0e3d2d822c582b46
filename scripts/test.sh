#!/usr/bin/env bash
# Runs every check CI runs: formatting, lints, unit and integration tests
# (against a real sshd on 127.0.0.1), and a build of the benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked
