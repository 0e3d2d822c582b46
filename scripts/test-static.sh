#!/usr/bin/env bash
# Builds the static musl binaries and runs each through a real session,
# under qemu-user for the ARM ones (tests/integration/static_builds.rs):
#
#   bash scripts/test-static.sh [TARGET...]   # default: x86_64 aarch64 armv7 armv6
#
# The tests are #[ignore]d in a plain `cargo test` because they need the
# binaries; here they run with --ignored, and a missing binary fails them.
# With x86_64 among the targets, the tests that exercise the crypto run again
# against that static build. scripts/test.sh calls this; its cargo test
# output goes to stdout, so the caller's summary counts these tests too.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "test-static: $*" >&2; }

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(x86_64 aarch64 armv7 armv6)

need_apt=()
for target in "${targets[@]}"; do
  case $target in
    aarch64) command -v qemu-aarch64-static >/dev/null 2>&1 || need_apt+=(qemu-user-static) ;;
    armv7 | armv6) command -v qemu-arm-static >/dev/null 2>&1 || need_apt+=(qemu-user-static) ;;
  esac
done
command -v file >/dev/null 2>&1 || need_apt+=(file)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "installing $(printf '%s\n' "${need_apt[@]}" | sort -u | tr '\n' ' ')(apt)"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  # shellcheck disable=SC2046 # one word per package
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq $(printf '%s\n' "${need_apt[@]}" | sort -u) >/dev/null
fi

start=$SECONDS
bash scripts/build-static.sh "${targets[@]}"
log "built ${targets[*]} in $((SECONDS - start)) s"

# One filter per target: static_builds::aarch64 matches only aarch64's test.
filters=()
for target in "${targets[@]}"; do filters+=("static_builds::$target"); done
cargo test --locked --test integration -- --ignored "${filters[@]}"

# The tests that exercise the crypto (every key type, encrypted keys, the
# agent, host keys, HTTPS to the key server) once more against the x86_64
# static build, which links the trimmed OpenSSL the ARM builds link too.
for target in "${targets[@]}"; do
  if [ "$target" = x86_64 ]; then
    M2M_TEST_BINARY="$PWD/target/static/m2m-mcp-server-ssh-client-x86_64-unknown-linux-musl" \
      cargo test --locked --test integration -- auth:: host_keys:: key_server:: peer::
  fi
done
