#!/usr/bin/env bash
# Builds the Windows executable and runs it through real sessions under Wine
# (tests/integration/windows.rs), against the tests' loopback sshd:
#
#   bash scripts/test-windows.sh
#
# Installs what it needs, idempotently: mingw-w64 (build-static.sh does) and
# Debian's wine64 (wine 8.0). The Wine prefix lives in target/wine/prefix;
# its wineserver is stopped at the end, so no process is left behind. The
# tests are #[ignore]d in a plain `cargo test`; here they run with
# --ignored. Their cargo test output goes to stdout, so scripts/test.sh's
# summary counts them.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "test-windows: $*" >&2; }

# Debian's wine64 puts its loader in /usr/lib/wine, off the PATH.
if ! command -v wine >/dev/null 2>&1 || [ ! -x /usr/lib/wine/wine64 ]; then
  log "installing wine64 and wine (apt)"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq wine64 wine >/dev/null
fi

start=$SECONDS
bash scripts/build-static.sh windows
log "built windows in $((SECONDS - start)) s"

prefix="${CARGO_TARGET_DIR:-$PWD/target}/wine/prefix"
stop_wine() { WINEPREFIX="$prefix" wineserver -k 2>/dev/null || true; }
trap stop_wine EXIT
cargo test --locked --test integration -- --ignored windows::
