#!/usr/bin/env bash
# Builds the static musl binaries and runs each through a real session,
# under qemu-user for the ARM ones (tests/integration/static_builds.rs):
#
#   bash scripts/test-static.sh [TARGET...]   # default: x86_64 aarch64 armv7 armv6
#
# The tests are #[ignore]d in a plain `cargo test` because they need the
# binaries; here they run with --ignored, and a missing binary fails them.
# scripts/test.sh calls this; its cargo test output goes to stdout, so the
# caller's summary counts these tests too.
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
