#!/usr/bin/env bash
# Installs the real peer server, m2m-mcp-server-ssh-server 0.1.3 from PyPI
# (with its key server), into a Python venv at DIR, idempotently:
#
#   bash scripts/install-peer-server.sh DIR      # e.g. .venv-peer
#
# afterwards DIR/bin/m2m-mcp-server-ssh-server runs. A second run with the
# same pins only checks a marker file and returns at once.
#
# Two traps, handled here: the 0.1.3 wheel on PyPI holds no code and the
# 0.1.3 sdist's pyproject.toml points the wheel build at a src/ folder that
# does not exist, so the sdist is downloaded, its pyproject.toml fixed to
# build the top-level package, and installed from that; and mcp 2.x breaks
# the server at start-up, so every dependency is pinned (mcp to a 1.x).
set -euo pipefail

log() { echo "install-peer-server: $*" >&2; }
die() { log "error: $*"; exit 1; }

[ $# -eq 1 ] && [ -n "$1" ] || die "usage: $0 DIR"
DIR=$1

PEER=m2m-mcp-server-ssh-server
PEER_VERSION=0.1.3
PEER_SDIST_SHA256=5956215fbc1914a0a9df666584081a3313a59e12c9097566987d295e0cc74f95

# Every package that ends up in the venv, pinned (from `pip freeze` of a
# working install on Python 3.11). hatchling and its dependencies build the
# fixed sdist (with --no-build-isolation, so they are pinned too).
CONSTRAINTS='aiohappyeyeballs==2.7.1
aiohttp==3.14.5
aiosignal==1.4.0
annotated-types==0.8.0
anyio==4.16.0
asyncssh==2.24.1
attrs==26.1.0
certifi==2026.10.18
cffi==2.1.1
click==8.5.1
cryptography==50.0.2
frozenlist==1.8.0
h11==0.16.0
httpcore==1.0.9
httpx==0.28.1
httpx-sse==0.4.3
idna==3.20
jsonschema==4.26.0
jsonschema-specifications==2025.9.1
mcp==1.30.0
multidict==7.2.1
propcache==0.5.4
pycparser==3.12
pydantic==2.14.3
pydantic-settings==2.16.3
pydantic_core==2.50.4
PyJWT==2.15.1
python-dotenv==1.2.4
python-multipart==0.0.34
referencing==0.37.0
rpds-py==2026.9.1
sse-starlette==3.7.0
starlette==1.10.0
typing-inspection==0.4.5
typing_extensions==4.16.0
uvicorn==0.54.0
yarl==1.25.1
hatchling==1.33.0
packaging==26.3
pathspec==1.1.1
pluggy==1.7.0
tomlkit==0.15.2
trove-classifiers==2026.9.21.13'
BUILD_DEPS=(hatchling packaging pathspec pluggy tomlkit trove-classifiers)

# What the marker must hold for DIR to count as installed: the peer's
# version, the sdist hash and every pin. Changing any pin reinstalls.
STAMP="$PEER==$PEER_VERSION sha256=$PEER_SDIST_SHA256
$CONSTRAINTS"
MARKER="$DIR/.peer-server-installed"
BIN="$DIR/bin/$PEER"

# Fast path: marker matches, the entry point is there, the venv's Python runs.
if [ -f "$MARKER" ] && [ -x "$BIN" ] && [ "$(cat "$MARKER")" = "$STAMP" ] \
  && "$DIR/bin/python" -c '' >/dev/null 2>&1; then
  log "$PEER $PEER_VERSION already installed in $DIR"
  exit 0
fi

PYTHON=${PYTHON:-python3}
command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
  || die "$PYTHON is older than 3.10 (the peer server needs >= 3.10)"

# venv needs ensurepip; Debian ships it apart, in python3-venv.
if ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  log "$PYTHON has no working venv module: installing python3-venv"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq python3-venv >/dev/null
  "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1 \
    || die "$PYTHON still has no venv module after installing python3-venv"
fi

# Start from a fresh venv; only ever delete DIR if it is a venv (or empty).
if [ -e "$DIR" ]; then
  if [ -f "$DIR/pyvenv.cfg" ] || [ -z "$(ls -A "$DIR" 2>/dev/null)" ]; then
    log "removing stale or partial install in $DIR"
    rm -rf "$DIR"
  else
    die "$DIR exists and is not a Python venv; refusing to overwrite it"
  fi
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/install-peer-server.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
printf '%s\n' "$CONSTRAINTS" >"$tmp/constraints.txt"

log "creating venv in $DIR with $("$PYTHON" --version 2>&1)"
"$PYTHON" -m venv "$DIR"
PIP=("$DIR/bin/python" -m pip --disable-pip-version-check --no-input -q)

log "installing the build backend (${BUILD_DEPS[*]}, pinned)"
"${PIP[@]}" install -c "$tmp/constraints.txt" "${BUILD_DEPS[@]}"

log "downloading the $PEER $PEER_VERSION sdist"
"${PIP[@]}" download --no-deps --no-build-isolation --no-binary "$PEER" \
  -d "$tmp/dl" "$PEER==$PEER_VERSION"
sdist="$tmp/dl/m2m_mcp_server_ssh_server-$PEER_VERSION.tar.gz"
[ -f "$sdist" ] || die "sdist not found after download: $(ls "$tmp/dl")"
echo "$PEER_SDIST_SHA256  $sdist" | sha256sum -c --quiet - \
  || die "sdist sha256 mismatch"

log "unpacking the sdist and fixing its pyproject.toml (package at top level, not in src/)"
tar -xzf "$sdist" -C "$tmp"
src="$tmp/m2m_mcp_server_ssh_server-$PEER_VERSION"
"$DIR/bin/python" - "$src/pyproject.toml" <<'EOF'
import sys
path = sys.argv[1]
text = open(path, encoding="utf-8").read()
text = text.replace("src/m2m_mcp_server_ssh_server", "m2m_mcp_server_ssh_server")
header = "[tool.hatch.build.targets.wheel]\n"
assert text.count(header) == 1, "wheel target section not found"
text = text.replace(header, header + 'packages = ["m2m_mcp_server_ssh_server"]\n')
open(path, "w", encoding="utf-8").write(text)
EOF

log "installing $PEER $PEER_VERSION[key-server] and its pinned dependencies"
"${PIP[@]}" install --no-build-isolation -c "$tmp/constraints.txt" "$src[key-server]"

# Check that the code (and the key server's template) really got installed.
"$DIR/bin/python" - <<'EOF'
import importlib.resources, mcp, m2m_mcp_server_ssh_server.key_server  # noqa: F401
from importlib.metadata import version
assert version("mcp").startswith("1."), version("mcp")
files = importlib.resources.files("m2m_mcp_server_ssh_server")
assert (files / "templates" / "index.html").is_file(), "template missing"
EOF
"$BIN" --help >/dev/null || die "$BIN --help failed"

printf '%s\n' "$STAMP" >"$MARKER"
log "installed $PEER $PEER_VERSION in $DIR ($BIN)"
