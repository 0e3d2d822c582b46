#!/usr/bin/env bash
# Installs what the tests and the demo need, idempotently: OpenSSH's server
# and client (the tests start their own sshd on 127.0.0.1), Python 3 (the
# fixture MCP server), and the Rust tools the checks use.
set -euo pipefail

need_apt=()
command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ] || need_apt+=(openssh-server)
command -v ssh-keygen >/dev/null 2>&1 || need_apt+=(openssh-client)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
command -v pkill >/dev/null 2>&1 || need_apt+=(procps)
# The vendored OpenSSL build needs perl and make.
command -v perl >/dev/null 2>&1 || need_apt+=(perl)
command -v make >/dev/null 2>&1 || need_apt+=(make)
if [ ${#need_apt[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# sshd refuses to start without its privilege separation directory.
if [ ! -d /run/sshd ]; then
  if [ "$(id -u)" -eq 0 ]; then mkdir -p /run/sshd; else sudo mkdir -p /run/sshd; fi
fi

for tool in cargo rustfmt cargo-clippy; do
  command -v "$tool" >/dev/null 2>&1 || { echo "setup: $tool is missing (install Rust with rustup, components rustfmt and clippy)" >&2; exit 1; }
done

# The real peer server (Python, from PyPI) for the interoperability tests,
# in a venv inside the checkout; fast when already there.
bash "$(dirname "$0")/install-peer-server.sh" "$(cd "$(dirname "$0")/.." && pwd)/.venv-peer"

# The real MCP server and host from npm for the compatibility tests
# (server-everything, the Inspector's CLI), locked in tests/npm; fast when
# already there.
bash "$(dirname "$0")/install-npm-peers.sh"
