#!/bin/sh
# Starts this bundle's executable for the machine it runs on, with the
# arguments the MCP host gave; the manifest runs it as `/bin/sh launch.sh`
# on macOS and Linux (Windows starts its .exe directly).
#
# Why a script: a bundle has one entry for macOS whatever the CPU, and
# Claude Desktop on macOS unpacks a bundle's files without their executable
# bit (mode 0600), so the file is chosen here by `uname -m` and the bit is
# given back before it runs. Nothing here writes to stdout: it belongs to
# the MCP session.
dir=$(dirname -- "$0")
case "$(uname -s) $(uname -m)" in
  "Darwin arm64") platform=darwin-arm64 ;;
  "Darwin x86_64") platform=darwin-x64 ;;
  "Linux x86_64") platform=linux-x64 ;;
  "Linux aarch64" | "Linux arm64") platform=linux-arm64 ;;
  *)
    echo "m2m-mcp-server-ssh-client: this bundle has no executable for $(uname -s) on $(uname -m)" >&2
    exit 126
    ;;
esac
bin=$dir/$platform/m2m-mcp-server-ssh-client
if [ ! -f "$bin" ]; then
  echo "m2m-mcp-server-ssh-client: $bin is missing; reinstall the bundle" >&2
  exit 127
fi
if [ ! -x "$bin" ]; then
  chmod u+x "$bin" 2>/dev/null || {
    echo "m2m-mcp-server-ssh-client: $bin is not executable and cannot be made so (chmod u+x failed)" >&2
    exit 126
  }
fi
exec "$bin" "$@"
