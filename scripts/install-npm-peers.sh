#!/usr/bin/env bash
# Installs the real MCP server and host from npm that the compatibility tests
# run (tests/integration/compat.rs), exactly as tests/npm/package-lock.json
# pins them, into tests/npm/node_modules, idempotently:
#
#   bash scripts/install-npm-peers.sh
#
# @modelcontextprotocol/server-everything is the remote MCP server behind the
# test sshd; @modelcontextprotocol/inspector-cli is the MCP host in front of
# our binary (the Inspector 2.x package needs Node 22; its 1.x command-line
# client runs on the Node 20 we have). A second run with the same lock file
# and Node only compares a marker and returns at once.
set -euo pipefail

log() { echo "install-npm-peers: $*" >&2; }
die() { log "error: $*"; exit 1; }

DIR="$(cd "$(dirname "$0")/.." && pwd)/tests/npm"
# Node 20 or later: the lock file's @hono/node-server (an inspector
# dependency) declares engines.node >= 20. Debian 12's own nodejs is 18.
NODE_MAJOR_MIN=20

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  log "node or npm missing: installing Debian's nodejs and npm"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq nodejs npm >/dev/null
fi
major=$(node -p 'process.versions.node.split(".")[0]')
[ "$major" -ge "$NODE_MAJOR_MIN" ] \
  || die "node $(node --version) is older than $NODE_MAJOR_MIN (the pinned packages need >= $NODE_MAJOR_MIN)"

MARKER="$DIR/node_modules/.m2m-installed"
STAMP="$(sha256sum "$DIR/package-lock.json" | cut -d' ' -f1) node $(node --version)"
if [ -f "$MARKER" ] && [ "$(cat "$MARKER")" = "$STAMP" ]; then
  log "npm peers already installed in $DIR/node_modules"
  exit 0
fi

log "npm ci in $DIR (node $(node --version), npm $(npm --version))"
(cd "$DIR" && npm ci --no-audit --no-fund --loglevel=error)
for entry in @modelcontextprotocol/server-everything/dist/index.js \
             @anthropic-ai/mcpb/dist/cli/cli.js \
             @modelcontextprotocol/inspector-cli/build/cli.js; do
  [ -f "$DIR/node_modules/$entry" ] || die "$entry missing after npm ci"
done
printf '%s\n' "$STAMP" >"$MARKER"
log "installed $(cd "$DIR" && node -p 'Object.entries(require("./package.json").dependencies).map(([n, v]) => n + "@" + v).join(", ")')"
