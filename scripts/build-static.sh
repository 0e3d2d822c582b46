#!/usr/bin/env bash
# Builds static musl binaries without Docker, one file per architecture that
# needs no libc, no OpenSSL and no Python on the target:
#
#   bash scripts/build-static.sh [TARGET...]    # default: the four Linux ones
#
# TARGET is x86_64, aarch64, armv7 or armv6 (or its Rust triple), windows
# (x86_64-pc-windows-gnu), macos-arm64 or macos-x86_64 (TRIPLE
# aarch64-/x86_64-apple-darwin), macos (both, and the universal file
# m2m-mcp-server-ssh-client-universal-apple-darwin), or mcpb (the Claude
# Desktop bundle, m2m-mcp-server-ssh-client.mcpb, with the files it carries).
# Each lands in target/static/m2m-mcp-server-ssh-client-TRIPLE (.exe for
# Windows), stripped; its size and `file` output are printed at the end.
#
# Windows: linked by Debian's mingw-w64 gcc (installed by this script), with
# the same trimmed OpenSSL and std from source; it needs only DLLs that every
# Windows 10 has.
#
# macOS: linked by zig against its own stubs of the system libraries (no
# SDK), for macOS 11.0 and later, and ad-hoc signed (scripts/macho.py signs
# the x86_64 file, which zig leaves unsigned, and makes the universal file).
# Running them needs a Mac; tests/integration/macos.rs checks the files.
#
# How: cargo-zigbuild links with zig (both from PyPI, in a venv under
# target/static/tools), so no cross gcc or Docker image is needed. OpenSSL is
# built by this script, once per target, with only what libssh2 and the key
# server's TLS client use (the vendored build compiles every algorithm), and
# cached under ~/.cache/m2m-mcp-server-ssh-client/openssl/TRIPLE/KEY (KEY
# hashes every input; M2M_OPENSSL_CACHE moves it); the
# Rust build then links it through TRIPLE_OPENSSL_DIR. std is built from
# rustup's rust-src for each target (-Zbuild-std, see STD_FEATURES), so no
# prebuilt std for the target is needed. Everything is idempotent: a second
# run only rebuilds what changed (about a minute per target).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "build-static: $*" >&2; }
die() { log "error: $*"; exit 1; }

# Pinned so that a build today and one next year use the same linker.
ZIGLANG_VERSION=0.17.1
CARGO_ZIGBUILD_VERSION=0.24.0
BIN=m2m-mcp-server-ssh-client
# The oldest macOS the Mac files run on: 11.0 is the first on Apple silicon.
MACOS_MIN=11.0

TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
STATIC_DIR=$TARGET_DIR/static
TOOLS=$STATIC_DIR/tools
# OpenSSL builds, one folder per target and key (every input hashed in):
# outside the checkout, so that a fresh clone (CI) reuses them.
OPENSSL_CACHE=${M2M_OPENSSL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/m2m-mcp-server-ssh-client/openssl}
# The user may share the 2 cores with other work; more jobs only thrash.
JOBS=${STATIC_JOBS:-2}

# OpenSSL, configured out: everything that neither libssh2 nor a TLS 1.2/1.3
# client verifying a certificate calls. Kept: AES (CTR, CBC, GCM), SHA-1/2,
# HMAC, RSA, EC (ECDSA, ECDH on the NIST curves), X25519/Ed25519, ML-KEM
# (libssh2 offers mlkem768x25519-sha256, which OpenSSH 10 prefers), PEM and
# PKCS#8 key files, X.509. libssh2 implements chacha20-poly1305 and bcrypt
# itself, so OpenSSL's ChaCha, Poly1305 and Blowfish go. DSA, 3DES, RC4,
# Blowfish, CAST and RIPEMD-160 are only in libssh2's legacy algorithm lists,
# which OpenSSH no longer enables by default.
OPENSSL_OPTIONS=(
  no-shared no-module no-dso no-engine no-legacy no-async no-comp no-zlib
  no-apps no-docs no-tests no-autoload-config no-ui-console no-secure-memory
  no-filenames no-err
  no-ssl3 no-tls1 no-tls1_1 no-dtls no-dgram no-quic no-srp no-psk no-srtp
  no-nextprotoneg no-ssl-trace no-ct no-http no-ocsp no-cms no-ts no-cmp
  no-rfc3779 no-sock
  no-aria no-bf no-blake2 no-camellia no-cast no-chacha no-poly1305 no-cmac
  no-des no-dh no-dsa no-ec2m no-gost no-idea no-md2 no-md4 no-mdc2 no-ocb
  no-rc2 no-rc4 no-rc5 no-rmd160 no-scrypt no-seed no-siphash no-siv no-sm2
  no-sm3 no-sm4 no-whirlpool no-ml-dsa no-slh-dsa no-lms
  no-weak-ssl-ciphers no-multiblock no-tls-deprecated-ec
  no-integrity-only-ciphers
)
# Size over speed (zig cc treats -Oz as -Os: the x86_64 file is the same to
# the byte), dead code in its own sections for the linker's
# --gc-sections, and no unwind tables: nothing unwinds through C here
# (panic = "abort").
SIZE_CFLAGS="-Oz -ffunction-sections -fdata-sections -fno-unwind-tables -fno-asynchronous-unwind-tables"
# OpenSSL's own switch for smaller code paths (less unrolling, smaller
# tables): 15 KB less on aarch64.
OPENSSL_CFLAGS="$SIZE_CFLAGS -DOPENSSL_SMALL_FOOTPRINT"

# std is built from source for every target, with opt-level z and LTO like
# our code, and without the default `backtrace` feature: a panic still prints
# its message, but std's DWARF symbolizer (gimli, addr2line, miniz_oxide)
# goes. Measured on aarch64: 2,973,424 bytes with rustup's prebuilt std,
# 2,675,464 with this. It is also the only way here for armv7 and armv6,
# for which rustup has no prebuilt std.
STD_FEATURES=optimize_for_size

# target name -> "triple zig-target openssl-target cpu-flags..."
describe() {
  case $1 in
    x86_64 | x86_64-unknown-linux-musl)
      echo "x86_64-unknown-linux-musl x86_64-linux-musl linux-x86_64" ;;
    aarch64 | aarch64-unknown-linux-musl)
      echo "aarch64-unknown-linux-musl aarch64-linux-musl linux-aarch64" ;;
    # Raspberry Pi 2 and 3 (32-bit OS): ARMv7-A with VFPv3-D16, as Rust's target.
    armv7 | armv7-unknown-linux-musleabihf)
      echo "armv7-unknown-linux-musleabihf thumb-linux-musleabihf linux-armv4 -mcpu=generic+v7a+vfp3d16-neon" ;;
    # Raspberry Pi Zero and 1: ARM1176JZF-S (ARMv6 with VFPv2).
    armv6 | arm-unknown-linux-musleabihf)
      echo "arm-unknown-linux-musleabihf arm-linux-musleabihf linux-armv4 -mcpu=arm1176jzf_s" ;;
    # Windows 10 and 11 on x86_64; "mingw" instead of a zig target: linked
    # by mingw-w64's gcc (zig does not target windows-gnu for Rust).
    windows | x86_64-pc-windows-gnu)
      echo "x86_64-pc-windows-gnu mingw mingw64" ;;
    # macOS 11 (Big Sur, the first on Apple silicon) and later; zig links
    # against its own libSystem stubs, so no SDK is needed.
    macos-arm64 | aarch64-apple-darwin)
      echo "aarch64-apple-darwin aarch64-macos.$MACOS_MIN darwin64-arm64-cc" ;;
    macos-x86_64 | x86_64-apple-darwin)
      echo "x86_64-apple-darwin x86_64-macos.$MACOS_MIN darwin64-x86_64-cc" ;;
    *) die "unknown target '$1' (x86_64, aarch64, armv7, armv6, windows, macos-arm64 or macos-x86_64)" ;;
  esac
}

install_tools() {
  local need_apt=()
  command -v perl >/dev/null 2>&1 || need_apt+=(perl)
  command -v make >/dev/null 2>&1 || need_apt+=(make)
  command -v file >/dev/null 2>&1 || need_apt+=(file)
  python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
  if [ ${#need_apt[@]} -gt 0 ]; then
    log "installing ${need_apt[*]} (apt)"
    local sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need_apt[@]}" >/dev/null
  fi
  local marker="$TOOLS/.installed-ziglang-$ZIGLANG_VERSION-cargo-zigbuild-$CARGO_ZIGBUILD_VERSION"
  if [ ! -f "$marker" ]; then
    log "installing ziglang $ZIGLANG_VERSION and cargo-zigbuild $CARGO_ZIGBUILD_VERSION (PyPI) in $TOOLS"
    rm -rf "$TOOLS"
    python3 -m venv "$TOOLS"
    "$TOOLS/bin/pip" install -q --disable-pip-version-check \
      "ziglang==$ZIGLANG_VERSION" "cargo-zigbuild==$CARGO_ZIGBUILD_VERSION"
    touch "$marker"
  fi
  export PATH="$TOOLS/bin:$PATH"
}

# mingw-w64's gcc and binutils, for the Windows target only.
MINGW=x86_64-w64-mingw32
install_mingw() {
  command -v "$MINGW-gcc" >/dev/null 2>&1 && return
  log "installing gcc-mingw-w64-x86-64 (apt) for the Windows target"
  local sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64 >/dev/null
}

install_rust_src() {
  rustup component list --installed | grep -q '^rust-src' || {
    log "rustup component add rust-src (std is built from source for each target)"
    rustup component add rust-src
  }
}

# The openssl-src crate that Cargo.lock names: its OpenSSL source is the one
# the vendored build uses, so the static build has the same OpenSSL version.
openssl_source() {
  cargo fetch --locked -q
  cargo metadata --locked --format-version 1 |
    python3 -c 'import json, os, sys
pkgs = json.load(sys.stdin)["packages"]
src = [p for p in pkgs if p["name"] == "openssl-src"]
assert len(src) == 1, "Cargo.lock must hold exactly one openssl-src"
print(os.path.join(os.path.dirname(src[0]["manifest_path"]), "openssl"), src[0]["version"])'
}

# Builds the trimmed OpenSSL for one target unless an identical build is
# cached; prints its install prefix.
build_openssl() {
  local triple=$1 zig_target=$2 ossl_target=$3 cpu_flags=$4
  local src version
  read -r src version < <(openssl_source)
  [ -f "$src/Configure" ] || die "no OpenSSL source found in the openssl-src crate"
  # Built in the checkout's target/, kept in the cache outside it.
  local dir=$STATIC_DIR/openssl-build/$triple
  local options=("${OPENSSL_OPTIONS[@]}")
  if [ "$triple" = arm-unknown-linux-musleabihf ]; then
    # ARMv6: OpenSSL's assembler offers nothing beyond integer code here
    # (its NEON and crypto-extension paths need ARMv7 or v8), and its P-256
    # alone is 158 KB with the precomputed table; the C code is smaller.
    options+=(no-asm)
  fi
  local key
  # Everything the build depends on, this function's code included
  # (declare -f prints it without comments).
  key=$({
    printf '%s\n' "$version" "$zig_target" "$ossl_target" "$cpu_flags" \
      "$OPENSSL_CFLAGS" "$ZIGLANG_VERSION" "${options[@]}"
    [ "$zig_target" != mingw ] || "$MINGW-gcc" --version | head -1
    declare -f build_openssl
  } | sha256sum | cut -c1-16)
  # The key is in the install path, so that a new OpenSSL changes
  # TRIPLE_OPENSSL_DIR and cargo relinks.
  local prefix=$OPENSSL_CACHE/$triple/$key
  if [ -f "$prefix/.complete" ]; then
    log "$triple: OpenSSL $version cached ($prefix)"
    echo "$prefix"
    return
  fi
  log "$triple: building OpenSSL $version (trimmed, $ossl_target), a few minutes once"
  rm -rf "$dir"
  mkdir -p "$dir"
  cp -R "$src" "$dir/src"
  if [[ $ossl_target == *x86_64* || $ossl_target == mingw64 ]]; then
    # OpenSSL's AVX-512 AES (GCM, XTS, CFB) is 0.74 MB of machine code, a
    # quarter of the binary, for speeds a relay over SSH never reaches (and
    # libssh2's chacha20-poly1305, not OpenSSL's AES, is the cipher OpenSSH
    # negotiates). Generate it as the stubs OpenSSL emits for an assembler
    # without AVX-512: the AES-NI code runs instead, still constant-time.
    sed -i -E 's/^if \(\$avx512vaes(>0)?\) \{/if (0) {/' \
      "$dir/src/crypto/modes/asm/aes-gcm-avx512.pl" \
      "$dir/src/crypto/aes/asm/aesni-xts-avx512.pl" \
      "$dir/src/crypto/aes/asm/aes-cfb-avx512.pl"
    grep -q '^if (0) {' "$dir/src/crypto/modes/asm/aes-gcm-avx512.pl" ||
      die "OpenSSL's aes-gcm-avx512.pl changed; revisit the AVX-512 patch"
  fi
  # OpenSSL's assembler P-256 (ecp_nistz256) carries a precomputed table of
  # about 150 KB on x86_64, aarch64 and ARMv7, 5 % of the binary, to speed up
  # P-256 a server would use hundreds of times a second. We use P-256 at
  # most once per connection (an ECDSA host key, an ecdh-sha2-nistp256 key
  # exchange, the key server's TLS), where OpenSSL's portable Montgomery
  # code (constant-time as well) is lost in the connection's own time
  # (benches/README.md, "P-256 without its table").
  sed -i -E \
    -e 's/^(  \$ECASM_(x86_64|armv4|aarch64)=)ecp_nistz256\.c ecp_nistz256-[a-z0-9_]+\.[sS]$/\1/' \
    -e 's/^(  \$ECDEF_(x86_64|armv4|aarch64)=)ECP_NISTZ256_ASM$/\1/' \
    "$dir/src/crypto/ec/build.info"
  ! grep -qE 'ECASM_(x86_64|armv4|aarch64)=ecp_nistz256' "$dir/src/crypto/ec/build.info" ||
    die "OpenSSL's crypto/ec/build.info changed; revisit the P-256 patch"
  # One word per tool: OpenSSL's Makefile splits CC on spaces but its
  # Configure probes call it as one command.
  if [ "$zig_target" = mingw ]; then
    printf '#!/bin/sh\nexec %s-gcc "$@"\n' "$MINGW" >"$dir/cc"
    printf '#!/bin/sh\nexec %s-ar "$@"\n' "$MINGW" >"$dir/ar"
    printf '#!/bin/sh\nexec %s-ranlib "$@"\n' "$MINGW" >"$dir/ranlib"
  else
    local zig="$TOOLS/bin/python3 -m ziglang"
    printf '#!/bin/sh\nexec %s cc -target %s %s "$@"\n' "$zig" "$zig_target" "$cpu_flags" >"$dir/cc"
    printf '#!/bin/sh\nexec %s ar "$@"\n' "$zig" >"$dir/ar"
    printf '#!/bin/sh\nexec %s ranlib "$@"\n' "$zig" >"$dir/ranlib"
  fi
  chmod +x "$dir/cc" "$dir/ar" "$dir/ranlib"
  (
    cd "$dir/src"
    # --openssldir=/etc/ssl: the default CA paths (/etc/ssl/cert.pem,
    # /etc/ssl/certs) are where Debian, Alpine and a FROM scratch image put
    # them; no-autoload-config means no openssl.cnf is ever read from there.
    CC="$dir/cc" AR="$dir/ar" RANLIB="$dir/ranlib" CFLAGS="$OPENSSL_CFLAGS" \
      perl ./Configure "$ossl_target" --prefix="$prefix" --libdir=lib \
      --openssldir=/etc/ssl "${options[@]}" >"$dir/configure.log" 2>&1 ||
      { tail -20 "$dir/configure.log" >&2; die "$triple: OpenSSL Configure failed ($dir/configure.log)"; }
    { make -j"$JOBS" build_libs && make install_dev DESTDIR="$dir/staged"; } >"$dir/make.log" 2>&1 ||
      { tail -30 "$dir/make.log" >&2; die "$triple: OpenSSL build failed ($dir/make.log)"; }
  )
  touch "$dir/staged$prefix/.complete"
  # One rename publishes it whole; a checkout that published the same key
  # meanwhile (the cache is shared) wins, and ours goes.
  mkdir -p "$(dirname "$prefix")"
  mv -T "$dir/staged$prefix" "$prefix" 2>/dev/null || [ -f "$prefix/.complete" ] ||
    die "$triple: cannot publish OpenSSL in $prefix"
  rm -rf "$dir"
  echo "$prefix"
}

build_target() {
  local triple=$1 zig_target=$2 ossl_target=$3 cpu_flags=${*:4}
  local openssl_dir
  openssl_dir=$(build_openssl "$triple" "$zig_target" "$ossl_target" "$cpu_flags")
  local up=${triple//-/_}
  up=${up^^}
  local low=${triple//-/_}
  # -Zlocation-detail=none: no file, line and column strings for panics
  # (which abort, and which no input may reach): smaller on every target.
  local rustflags="-C force-unwind-tables=no -Zlocation-detail=none"
  # zig's musl provides crt1.o and libc.
  [[ $triple != *-musl* ]] || rustflags+=" -C link-self-contained=no"
  if [[ $zig_target == thumb-* ]]; then
    # Thumb-2: the same ARMv7 instructions in mostly 16-bit encodings (what
    # Rust's thumbv7neon target does, without requiring NEON).
    rustflags+=" -C target-feature=+thumb-mode"
  fi
  if [ "$zig_target" = mingw ]; then
    build_windows "$triple" "$openssl_dir" "$up" "$low"
    return
  fi
  # rustc and cargo-zigbuild both read the minimum macOS from here.
  local macos_env=()
  [[ $triple != *-apple-darwin ]] || macos_env=("MACOSX_DEPLOYMENT_TARGET=$MACOS_MIN")
  log "$triple: cargo zigbuild --release, std built from source"
  # OPENSSL_NO_VENDOR + TRIPLE_OPENSSL_DIR: link our OpenSSL, not openssl-src's.
  # CFLAGS_TRIPLE: libssh2 and zlib as small as OpenSSL.
  # RUSTC_BOOTSTRAP=1: -Z flags on the stable toolchain.
  env OPENSSL_NO_VENDOR=1 \
    "${up}_OPENSSL_DIR=$openssl_dir" "${up}_OPENSSL_STATIC=1" \
    "CFLAGS_${low}=$SIZE_CFLAGS" \
    "CARGO_TARGET_${up}_RUSTFLAGS=$rustflags" \
    RUSTC_BOOTSTRAP=1 "${macos_env[@]}" \
    cargo zigbuild --release --locked --target "$triple" -j "$JOBS" \
    -Zbuild-std=std,panic_abort "-Zbuild-std-features=$STD_FEATURES"
  local out=$STATIC_DIR/$BIN-$triple
  cp "$TARGET_DIR/$triple/release/$BIN" "$out"
  if [[ $triple == *-apple-darwin ]]; then
    # zig signs arm64 files (macOS runs no unsigned arm64 code), not x86_64
    # ones; a signed file is left as it is.
    python3 scripts/macho.py sign "$out" "$BIN"
  fi
  log "$triple: $out"
}

# The Windows executable: the same cargo build, linked by mingw-w64's gcc.
# libgcc and winpthread go in statically (Rust's windows-gnu target links
# them so), so the file needs no DLL beyond Windows' own. Unwind tables
# stay: the target requires them (SEH).
build_windows() {
  local triple=$1 openssl_dir=$2 up=$3 low=$4
  log "$triple: cargo build --release (mingw-w64), std built from source"
  env OPENSSL_NO_VENDOR=1 \
    "${up}_OPENSSL_DIR=$openssl_dir" "${up}_OPENSSL_STATIC=1" \
    "CFLAGS_${low}=$SIZE_CFLAGS" "CC_${low}=$MINGW-gcc" "AR_${low}=$MINGW-ar" \
    "CARGO_TARGET_${up}_LINKER=$MINGW-gcc" \
    "CARGO_TARGET_${up}_RUSTFLAGS=-Zlocation-detail=none" \
    RUSTC_BOOTSTRAP=1 \
    cargo build --release --locked --target "$triple" -j "$JOBS" \
    -Zbuild-std=std,panic_abort "-Zbuild-std-features=$STD_FEATURES"
  local out=$STATIC_DIR/$BIN-$triple.exe
  cp "$TARGET_DIR/$triple/release/$BIN.exe" "$out"
  log "$triple: $out"
}

# The MCP Bundle for Claude Desktop: packaging/mcpb (manifest, launcher,
# icon) with the executables for macOS (both CPUs), Windows and Linux
# (x86_64, aarch64), validated and packed by @anthropic-ai/mcpb as
# tests/npm/package-lock.json pins it. The manifest's version (and its
# repository, once Cargo.toml names one) come from Cargo.toml.
pack_mcpb() {
  local stage=$STATIC_DIR/mcpb
  local out=$STATIC_DIR/$BIN.mcpb
  bash scripts/install-npm-peers.sh
  rm -rf "$stage"
  cp -R packaging/mcpb "$stage"
  local platform triple suffix
  for platform in darwin-arm64:aarch64-apple-darwin darwin-x64:x86_64-apple-darwin \
    linux-x64:x86_64-unknown-linux-musl linux-arm64:aarch64-unknown-linux-musl \
    win32-x64:x86_64-pc-windows-gnu; do
    triple=${platform#*:}
    suffix=""
    [[ $triple != *-windows-* ]] || suffix=.exe
    mkdir -p "$stage/server/${platform%%:*}"
    install -m 755 "$STATIC_DIR/$BIN-$triple$suffix" "$stage/server/${platform%%:*}/$BIN$suffix"
  done
  # The modes the zip records, whatever the checkout's umask.
  chmod 644 "$stage/manifest.json" "$stage/icon.png"
  chmod 755 "$stage/server/launch.sh"
  cargo metadata --locked --no-deps --format-version 1 | python3 -c '
import json, sys
package = json.load(sys.stdin)["packages"][0]
path = sys.argv[1]
manifest = json.load(open(path))
manifest["version"] = package["version"]
if package.get("repository"):
    manifest["repository"] = {"type": "git", "url": package["repository"]}
with open(path, "w") as f:
    json.dump(manifest, f, indent=2, ensure_ascii=False)
    f.write("\n")
' "$stage/manifest.json"
  local mcpb=tests/npm/node_modules/.bin/mcpb
  "$mcpb" validate "$stage/manifest.json" >&2
  rm -f "$out"
  "$mcpb" pack "$stage" "$out" >&2
}

main() {
  local targets=() requested=("$@") universal="" bundle=""
  [ ${#requested[@]} -gt 0 ] || requested=(x86_64 aarch64 armv7 armv6)
  for t in "${requested[@]}"; do
    case $t in
      # Both slices and the universal file made of them.
      macos) targets+=(macos-arm64 macos-x86_64) universal=yes ;;
      mcpb) targets+=(x86_64 aarch64 windows macos-arm64 macos-x86_64) bundle=yes ;;
      *) targets+=("$t") ;;
    esac
  done
  # Each once, in the order first asked for.
  mapfile -t targets < <(printf '%s\n' "${targets[@]}" | awk '!seen[$0]++')
  install_tools
  install_rust_src
  case " ${targets[*]} " in *" windows "* | *" x86_64-pc-windows-gnu "*) install_mingw ;; esac
  mkdir -p "$STATIC_DIR"
  local built=()
  for t in "${targets[@]}"; do
    local desc
    desc=$(describe "$t")
    # shellcheck disable=SC2086 # the description is four words by construction
    build_target $desc
    local suffix=""
    [[ $desc != *-windows-* ]] || suffix=.exe
    built+=("$STATIC_DIR/$BIN-${desc%% *}$suffix")
  done
  if [ -n "$universal" ]; then
    built+=("$STATIC_DIR/$BIN-universal-apple-darwin")
    python3 scripts/macho.py lipo "${built[-1]}" \
      "$STATIC_DIR/$BIN-x86_64-apple-darwin" "$STATIC_DIR/$BIN-aarch64-apple-darwin"
  fi
  if [ -n "$bundle" ]; then
    pack_mcpb
    built+=("$STATIC_DIR/$BIN.mcpb")
  fi
  for f in "${built[@]}"; do
    printf '%s\t%s bytes\n' "$(basename "$f")" "$(stat -c %s "$f")"
    file -b "$f" | sed 's/^/\t/'
  done
}

main "$@"
