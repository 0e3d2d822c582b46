#!/usr/bin/env bash
# Builds the Claude Desktop bundle (target/static/m2m-mcp-server-ssh-client.mcpb)
# and installs it as a host would (tests/integration/bundle.rs): its
# entries and modes, `mcpb validate`, and a session through the Linux entry,
# the macOS launcher (the Linux executable standing in) and the Windows
# entry under Wine.
#
#   bash scripts/test-mcpb.sh
#
# Needs what the Windows tests need (scripts/test-windows.sh installs Wine);
# the executables it carries are built if missing. The tests are #[ignore]d
# in a plain `cargo test`; here they run with --ignored, and their output
# goes to stdout for scripts/test.sh's summary.
set -euo pipefail
cd "$(dirname "$0")/.."

start=$SECONDS
bash scripts/build-static.sh mcpb
echo "test-mcpb: built the bundle in $((SECONDS - start)) s" >&2

prefix="${CARGO_TARGET_DIR:-$PWD/target}/wine/prefix"
stop_wine() { WINEPREFIX="$prefix" wineserver -k 2>/dev/null || true; }
trap stop_wine EXIT
cargo test --locked --test integration -- --ignored bundle::
