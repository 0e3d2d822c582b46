#!/usr/bin/env bash
# Runs every check CI runs: formatting, lints, unit and integration tests
# (against a real sshd on 127.0.0.1), a build of the benchmarks, and the
# static musl builds, each run through a session (under qemu-user for ARM).
# STATIC_TARGETS picks the static builds (default: all four; set it empty to
# skip them while iterating: a cold build of all four takes about 20 minutes).
# Then the Windows executable under Wine (scripts/test-windows.sh; WINDOWS=
# skips it), the macOS files and the Claude Desktop bundle
# (scripts/test-macos.sh, scripts/test-mcpb.sh; DESKTOP= skips them).
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
static_targets=${STATIC_TARGETS-x86_64 aarch64 armv7 armv6}
if [ -n "$static_targets" ]; then
  # shellcheck disable=SC2086 # a list of target names
  bash scripts/test-static.sh $static_targets 2>&1 | tee -a "$log"
else
  echo "test.sh: STATIC_TARGETS is empty, static builds not checked" >&2
fi
# The Windows executable under Wine; WINDOWS= skips it while iterating.
if [ -n "${WINDOWS-yes}" ]; then
  bash scripts/test-windows.sh 2>&1 | tee -a "$log"
else
  echo "test.sh: WINDOWS is empty, the Windows build not checked" >&2
fi
# The macOS files, then the Claude Desktop bundle that carries them with the
# Linux and Windows ones (its Windows entry runs under the Windows tests'
# Wine); DESKTOP= skips both.
if [ -n "${DESKTOP-yes}" ]; then
  bash scripts/test-macos.sh 2>&1 | tee -a "$log"
  if [ -n "${WINDOWS-yes}" ]; then
    bash scripts/test-mcpb.sh 2>&1 | tee -a "$log"
  else
    echo "test.sh: WINDOWS is empty, the bundle (which carries the Windows file) not checked" >&2
  fi
else
  echo "test.sh: DESKTOP is empty, the macOS files and the bundle not checked" >&2
fi
awk '/^test result:/ { p += $4; f += $6 } END { printf "all tests: %d passed, %d failed\n", p, f }' "$log"
