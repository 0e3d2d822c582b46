#!/usr/bin/env bash
# Runs every check CI runs: formatting, lints, unit and integration tests
# (against a real sshd on 127.0.0.1), and a build of the benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# --all-targets: unit, integration and benchmark targets (doc tests: none).
cargo test --locked --all-targets 2>&1 | tee "$log"
# The benchmarks are built as they run (release profile), so that they cannot rot;
# running them is `cargo bench`, with figures, not pass or fail.
cargo bench --locked --no-run
awk '/^test result:/ { p += $4; f += $6 } END { printf "all tests: %d passed, %d failed\n", p, f }' "$log"
