#!/usr/bin/env bash
# Builds the macOS files (both slices and the universal file) and checks
# them as far as Linux can (tests/integration/macos.rs: CPU, minimum macOS,
# libraries, signature, size). Running them needs a Mac.
#
#   bash scripts/test-macos.sh
#
# The tests are #[ignore]d in a plain `cargo test`; here they run with
# --ignored. Their cargo test output goes to stdout, so scripts/test.sh's
# summary counts them.
set -euo pipefail
cd "$(dirname "$0")/.."

start=$SECONDS
bash scripts/build-static.sh macos
echo "test-macos: built macos in $((SECONDS - start)) s" >&2
cargo test --locked --test integration -- --ignored macos::
