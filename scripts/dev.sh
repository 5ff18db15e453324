#!/usr/bin/env bash
# Coffer's developer entry point on Debian 12:
#   scripts/dev.sh deps    install the build and test dependencies (needs root)
#   scripts/dev.sh build   configure and build into build/
#   scripts/dev.sh test    deps + build + the whole test suite (what CI runs)
#   scripts/dev.sh demo    deps + build + a backup, listing and restore of a sample tree
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}

# Why each package is here: README.md, "Dependencies".
PACKAGES=(
  build-essential cmake ninja-build pkg-config
  librocksdb-dev libsodium-dev libzstd-dev libfuse3-dev fuse3
  libprotobuf-dev protobuf-compiler libgrpc++-dev protobuf-compiler-grpc
  libcli11-dev libfmt-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev
  attr acl util-linux man-db groff-base openssl
)

sudo_if_needed() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

deps() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    sudo_if_needed apt-get update
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
  fi
}

build() {
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
  cmake --build "$BUILD_DIR" -j "$JOBS"
}

run_tests() {
  ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS" --timeout 600
}

demo() {
  local work coffer=$PWD/$BUILD_DIR/tools/coffer
  work=$(mktemp -d)
  export COFFER_REPO=$work/repo COFFER_PASSPHRASE=demo-passphrase
  mkdir -p "$work/sample/docs"
  echo "Coffer keeps this safe." > "$work/sample/docs/readme.txt"
  head -c 5000000 /dev/urandom > "$work/sample/data.bin"
  "$coffer" init --kdf-memory 8M --kdf-ops 1
  "$coffer" backup "$work/sample" --group host/demo
  "$coffer" snapshots
  "$coffer" ls -l host/demo/latest "${work#/}/sample/docs"
  "$coffer" restore host/demo/latest "${work#/}/sample/docs/readme.txt" --target "$work/restored"
  cat "$work/restored$work/sample/docs/readme.txt"
  echo "demo files are in $work"
}

case "${1:-}" in
  deps) deps ;;
  build) build ;;
  test) deps; build; run_tests ;;
  demo) deps; build; demo ;;
  *) echo "usage: scripts/dev.sh deps|build|test|demo" >&2; exit 2 ;;
esac
