#!/usr/bin/env bash
# Coffer's developer entry point on Debian 12:
#   scripts/dev.sh deps    install the build and test dependencies (needs root)
#   scripts/dev.sh build   configure and build into build/
#   scripts/dev.sh test    deps + build (warnings are errors) + the whole test suite
#   scripts/dev.sh asan    deps + the same suite built with ASan and UBSan, into build-asan/
#   scripts/dev.sh fuzz [SECONDS [TARGET...]]
#                          deps + the libFuzzer targets (clang) into build-fuzz/ (only the
#                          TARGETs named, if any), each run SECONDS (default 5) on its seeds;
#                          new inputs go to build-fuzz/corpus/
#   scripts/dev.sh campaigns  the kill and I/O-fault campaigns, short (scripts/campaign)
#   scripts/dev.sh ci      test, the package test, campaigns, fuzz, then the unit tests and
#                          the end-to-end tests of hostile input under ASan+UBSan: what CI
#                          runs (.ci/run)
#   scripts/dev.sh package deps + build + the Debian package, build/package/coffer_*.deb
#                          (packaging/package.cmake)
#   scripts/dev.sh package-test  package, then install it with apt, run it and purge it
#                          (tests/package/install_test.sh; needs root, changes this machine)
#   scripts/dev.sh demo    deps + build + a backup, listing and restore of a sample tree
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build}
ASAN_BUILD_DIR=${ASAN_BUILD_DIR:-build-asan}
FUZZ_BUILD_DIR=${FUZZ_BUILD_DIR:-build-fuzz}
JOBS=${JOBS:-$(nproc)}

# Why each package is here: README.md, "Dependencies".
PACKAGES=(
  build-essential cmake ninja-build pkg-config
  librocksdb-dev libsodium-dev libzstd-dev libfuse3-dev fuse3 nettle-dev
  libprotobuf-dev protobuf-compiler libgrpc++-dev protobuf-compiler-grpc
  libcli11-dev libfmt-dev nlohmann-json3-dev libarchive-dev zlib1g-dev
  libqrencode-dev libpng-dev libtomlplusplus-dev libcurl4-openssl-dev libexpat1-dev
  libgtest-dev libgmock-dev libssl-dev
  attr acl util-linux man-db groff-base openssl python3 python3-prometheus-client
  gzip lzop zstd libcap2-bin zbar-tools qrencode dpkg-dev
  fdisk gdisk e2fsprogs mount systemd lintian clang-format-14
)
# The fuzz targets: clang with libFuzzer and its sanitizer runtimes, and
# llvm-symbolizer for readable reports. Without them `fuzz` is skipped.
FUZZ_PACKAGES=(clang-14 libclang-rt-14-dev llvm-14)
FUZZ_CXX=clang++-14
FUZZ_CC=clang-14

sudo_if_needed() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_missing() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    sudo_if_needed apt-get update
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
  fi
}

# The S3 server the tests of copies in object storage run against
# (tests/testing/s3rver.h): s3rver from the npm registry, with Debian's
# Node.js unless the machine has one.
S3RVER_DIR=/opt/coffer-s3rver
install_s3rver() {
  [ -x "$S3RVER_DIR/node_modules/.bin/s3rver" ] && return 0
  command -v npm >/dev/null || install_missing nodejs npm
  sudo_if_needed mkdir -p "$S3RVER_DIR"
  sudo_if_needed npm install --prefix "$S3RVER_DIR" --no-audit --no-fund --loglevel=error s3rver@3.7.1
}

deps() {
  install_missing "${PACKAGES[@]}"
  install_s3rver
  install_missing "${FUZZ_PACKAGES[@]}" ||
    echo "dev.sh: cannot install ${FUZZ_PACKAGES[*]}: the fuzz step will be skipped" >&2
}

# Runs "$@" and says how long it took.
timed() {
  local start=$SECONDS
  "$@"
  echo "dev.sh: $* took $((SECONDS - start)) s"
}

build() {
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCOFFER_WERROR=ON
  cmake --build "$BUILD_DIR" -j "$JOBS"
}

run_tests() {
  ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS" --timeout 600
}

# Everything built with AddressSanitizer (leaks included) and UBSan; any
# report fails its test.
# -O1 and line tables only: a third faster to compile than RelWithDebInfo's
# -O2 -g, and the reports still name files and lines. Asserts stay on.
asan_build() {
  cmake -S . -B "$ASAN_BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
    -DCOFFER_SANITIZE=address,undefined -DCOFFER_WERROR=ON
  cmake --build "$ASAN_BUILD_DIR" -j "$JOBS"
}

# The one scale test (a directory of 60,000 files, 8 minutes without
# sanitizers) is left out: its code paths run in the smaller split-tree tests,
# and under ASan it alone would not fit CI's time.
asan_tests() {
  asan_ctest -E 'LargeTreeTest\.AHugeDirectoryIsStoredInParts' "$@"
}

# What CI runs under the sanitizers: every unit test, and the end-to-end
# tests labelled asan-ci (tests/e2e/CMakeLists.txt), within CI's time.
asan_ci_tests() {
  asan_ctest -L 'unit|asan-ci'
}

asan_ctest() {
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  LSAN_OPTIONS=suppressions=$PWD/scripts/lsan.supp \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$ASAN_BUILD_DIR" --output-on-failure -j "$JOBS" --timeout 1200 "$@"
}

fuzz_available() {
  if ! command -v "$FUZZ_CXX" >/dev/null ||
     ! compgen -G "/usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a" >/dev/null; then
    echo "dev.sh: SKIPPING the fuzz targets: $FUZZ_CXX or libFuzzer (libclang-rt-14-dev) is not installed" >&2
    return 1
  fi
}

# fuzz_build [TARGET...]: the targets named, or all of them and the corpus makers.
fuzz_build() {
  local build_targets=(fuzz_all)
  if [ $# -gt 0 ]; then build_targets=("${@/#/fuzz_}"); fi
  CC=$FUZZ_CC CXX=$FUZZ_CXX cmake -S . -B "$FUZZ_BUILD_DIR" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCOFFER_FUZZ=ON -DCOFFER_BUILD_TESTS=OFF
  cmake --build "$FUZZ_BUILD_DIR" -j "$JOBS" --target "${build_targets[@]}"
}

# fuzz_run SECONDS [TARGET...]: each target (all of fuzz/corpus/ by default)
# for SECONDS, one after another, from its seeds and what earlier runs found.
fuzz_run() {
  local seconds=${1:-5}
  shift || true
  local targets=("$@")
  if [ ${#targets[@]} -eq 0 ]; then
    for d in fuzz/corpus/*/; do targets+=("$(basename "$d")"); done
  fi
  mkdir -p "$FUZZ_BUILD_DIR/crashes"
  for t in "${targets[@]}"; do
    local dict=() work="$FUZZ_BUILD_DIR/corpus/$t"
    [ -f "fuzz/$t.dict" ] && dict=("-dict=fuzz/$t.dict")
    mkdir -p "$work"
    echo "dev.sh: fuzz_$t for $seconds s"
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      "$FUZZ_BUILD_DIR/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=4096 \
      -print_final_stats=1 -artifact_prefix="$FUZZ_BUILD_DIR/crashes/$t-" "${dict[@]}" \
      "$work" "fuzz/corpus/$t"
  done
}

fuzz() {
  fuzz_available || return 0
  local seconds=${1:-5}
  shift || true
  timed fuzz_build "$@"
  timed fuzz_run "$seconds" "$@"
}

# The kill and I/O-fault campaigns (scripts/campaign) in their short form;
# the full form (200 kills, 100 faults) is run by hand.
# The .deb of what `cmake --install` installs, made by CPack from the build folder.
package() {
  rm -rf "$BUILD_DIR/package"
  cpack --config "$BUILD_DIR/CPackConfig.cmake"
  ls "$BUILD_DIR"/package/coffer_*.deb
}

package_test() {
  tests/package/install_test.sh "$(ls "$BUILD_DIR"/package/coffer_*.deb)"
}

campaigns() {
  scripts/campaign kill --rounds "${KILL_ROUNDS:-12}" --coffer "$BUILD_DIR/tools/coffer"
  scripts/campaign fault --rounds "${FAULT_ROUNDS:-12}" --coffer "$BUILD_DIR/tools/coffer"
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
  test) deps; timed build; timed run_tests ;;
  asan) deps; timed asan_build; timed asan_tests ;;
  fuzz) shift; deps; fuzz "$@" ;;
  campaigns) deps; campaigns ;;
  # The whole ASan+UBSan suite (`asan`, about 28 minutes of tests here) does
  # not fit CI's 90 minutes beside the rest: CI runs its unit tests and the
  # end-to-end tests of hostile input (asan_ci_tests).
  package) deps; build; package ;;
  package-test) deps; build; package; package_test ;;
  ci) deps; timed build; timed run_tests; timed package; timed package_test; timed campaigns; fuzz 5; timed asan_build; timed asan_ci_tests ;;
  demo) deps; build; demo ;;
  *) echo "usage: scripts/dev.sh deps|build|test|asan|fuzz [SECONDS [TARGET...]]|campaigns|package|package-test|ci|demo" >&2; exit 2 ;;
esac
