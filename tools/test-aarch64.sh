#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Cross-builds cio for AArch64 into build-aarch64/ and runs the test suite
# (and a short bench_switch) under qemu-user.  Debian 12 host, run as root or
# with the packages below already installed.
#
#   tools/test-aarch64.sh            # install (if missing), configure, build, test
#   CIO_TEST_SCALE=0.05 CIO_TEST_TIMEOUT_MULT=10 are the defaults here (the
#   million-task case is too heavy under emulation).  Exits non-zero if
#   ctest or the benchmark fails; the benchmark runs either way.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build-aarch64
sysroot=/usr/aarch64-linux-gnu
jobs=$(nproc 2>/dev/null || echo 2)

# --- tools ---------------------------------------------------------------------
if ! command -v aarch64-linux-gnu-gcc >/dev/null || ! [ -e "$sysroot/include/stdio.h" ] \
   || ! { command -v qemu-aarch64 >/dev/null || command -v qemu-aarch64-static >/dev/null; }; then
  apt-get update
  apt-get install -y gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user \
    || apt-get install -y gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static
fi
if command -v qemu-aarch64 >/dev/null; then qemu=qemu-aarch64; else qemu=qemu-aarch64-static; fi

# <valgrind/valgrind.h> is arch-generic.  Debian's cross gcc searches
# /usr/include last and finds it; if this one does not, point it at a
# directory holding only a link to the host's valgrind/ (no host libc headers).
if ! echo '#include <valgrind/valgrind.h>' | aarch64-linux-gnu-gcc -x c -fsyntax-only - 2>/dev/null; then
  if ! [ -e /usr/include/valgrind/valgrind.h ]; then
    apt-get install -y valgrind
  fi
  mkdir -p "$build/valgrind-include"
  ln -sfn /usr/include/valgrind "$build/valgrind-include/valgrind"
  export CFLAGS="${CFLAGS:-} -isystem $build/valgrind-include" # read at first configure
fi

# --- configure, build, test ----------------------------------------------------
cmake -S "$root" -B "$build" \
  -DCMAKE_TOOLCHAIN_FILE="$root/cmake/aarch64-linux-gnu.cmake" \
  -DCMAKE_BUILD_TYPE="${CMAKE_BUILD_TYPE:-RelWithDebInfo}" \
  -DCIO_BUILD_BENCH=ON
cmake --build "$build" -j "$jobs"

export CIO_TEST_SCALE="${CIO_TEST_SCALE:-0.05}"
export CIO_TEST_TIMEOUT_MULT="${CIO_TEST_TIMEOUT_MULT:-10}"
export CIO_TEST_EMULATED=qemu # for the few checks an emulator cannot pass
status=0
(cd "$build" && ctest --output-on-failure -j "$jobs") || status=$?

echo "--- bench_switch under $qemu (figures mean nothing under emulation)"
"$qemu" -L "$sysroot" "$build/bench/bench_switch" "${CIO_BENCH_SWITCHES:-2000000}" || status=$?
exit "$status"
