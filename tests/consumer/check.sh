#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Consumes cio the three ways an outside project does, and runs the result:
#   1. `make install` into a temporary prefix (and once more staged under
#      DESTDIR, then `make uninstall`: nothing may be left behind);
#   2. a plain Makefile with pkg-config (shared and static);
#   3. CMake's find_package(cio) against that prefix (cio::cio, cio::cio_static);
#   4. CMake's FetchContent from this source tree, which must build the
#      library and none of cio's tests, examples or benchmarks;
# then `make uninstall`.  Usage:
#
#   tests/consumer/check.sh [BUILD]
#
# BUILD is a configured cio build to install from (ctest passes its own); by
# default the library is built afresh in the temporary directory.  Exit 77
# (skipped) only when cmake or pkg-config is missing.
set -euo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
for tool in cmake pkg-config make cc; do
  command -v $tool >/dev/null || { echo "skipped: $tool is not installed"; exit 77; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cio-consumer.XXXXXX")
build=${1:-}
saved_manifest=
cleanup() {
  # Give back the manifest of whatever the user installed from this build.
  if [ -n "$build" ]; then
    rm -f "$build/install_manifest.txt"
    [ -z "$saved_manifest" ] || mv "$saved_manifest" "$build/install_manifest.txt"
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "consumer check FAILED: $*" >&2; exit 1; }
step() { echo "-- $*"; }
# Runs a command quietly; on failure shows its output.
quiet() { "$@" >"$tmp/log" 2>&1 || { cat "$tmp/log"; fail "$*"; }; }

if [ -z "$build" ]; then
  build=$tmp/cio-build
  step "building the library in $build"
  quiet cmake -S "$src" -B "$build" -DCIO_BUILD_TESTS=OFF -DCIO_BUILD_EXAMPLES=OFF -DCIO_BUILD_BENCH=OFF
else
  build=$(cd "$build" && pwd)
  if [ -f "$build/install_manifest.txt" ]; then
    saved_manifest=$tmp/saved_manifest.txt
    cp "$build/install_manifest.txt" "$saved_manifest"
  fi
fi
mk() { make -C "$src" --no-print-directory BUILD="$build" "$@"; }
files_under() { find "$1" -type f -o -type l 2>/dev/null | sort; }

# --- 1. make install, with DESTDIR and without ---------------------------------
step "make install PREFIX=/opt/cio-check DESTDIR=$tmp/stage, then make uninstall"
quiet mk install PREFIX=/opt/cio-check DESTDIR="$tmp/stage"
staged=$tmp/stage/opt/cio-check
for f in include/cio.h include/cio/version.h; do [ -f "$staged/$f" ] || fail "no $f in $staged"; done
pc=$(find "$staged" -name cio.pc)
[ -n "$pc" ] || fail "no cio.pc under $staged"
grep -qx 'prefix=/opt/cio-check' "$pc" || fail "staged cio.pc does not name PREFIX: $(grep ^prefix= "$pc")"
[ -n "$(find "$staged" -name 'libcio.so*')" ] && [ -n "$(find "$staged" -name libcio.a)" ] ||
  fail "libraries missing under $staged"
[ -n "$(find "$staged" -name cioConfig.cmake)" ] || fail "CMake package missing under $staged"
quiet mk uninstall DESTDIR="$tmp/stage"
[ -z "$(files_under "$tmp/stage")" ] || fail "make uninstall left: $(files_under "$tmp/stage")"

prefix=$tmp/prefix
step "make install PREFIX=$prefix"
quiet mk install PREFIX="$prefix"
pcdir=$(dirname "$(find "$prefix" -name cio.pc)")
export PKG_CONFIG_PATH=$pcdir
[ "$(pkg-config --variable=prefix cio)" = "$prefix" ] || fail "cio.pc names $(pkg-config --variable=prefix cio)"
[ -f "$(pkg-config --variable=includedir cio)/cio.h" ] || fail "cio.pc's includedir has no cio.h"
[ -f "$(pkg-config --variable=libdir cio)/libcio.a" ] || fail "cio.pc's libdir has no libcio.a"
if [ "$(pkg-config --variable=json cio)" = yes ]; then
  pkg-config --libs cio | grep -q -- -ljansson || fail "JSON built in, but pkg-config --libs cio lacks -ljansson"
fi
soname=$(readelf -d "$(pkg-config --variable=libdir cio)/libcio.so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')

# Runs both programs of a build and checks the shared one loads libcio.so.
run_both() {
  local dir=$1 how=$2
  readelf -d "$dir/consumer" | grep -q "NEEDED.*\[$soname\]" || fail "$how: consumer does not load $soname"
  if readelf -d "$dir/consumer_static" | grep -q "NEEDED.*libcio"; then fail "$how: consumer_static loads libcio.so"; fi
  "$dir/consumer" >"$tmp/out" 2>&1 || { cat "$tmp/out"; fail "$how: consumer"; }
  "$dir/consumer_static" >"$tmp/out" 2>&1 || { cat "$tmp/out"; fail "$how: consumer_static"; }
  echo "ok $how: $(cat "$tmp/out")"
}

# --- 2. pkg-config and a plain Makefile ----------------------------------------
step "pkg-config with a plain Makefile"
cp -r "$src/tests/consumer" "$tmp/make"
quiet make -C "$tmp/make" consumer consumer_static
run_both "$tmp/make" "pkg-config + Makefile"

# --- 3. find_package(cio) ----------------------------------------------------------
step "CMake find_package(cio)"
quiet cmake -S "$src/tests/consumer" -B "$tmp/find" -DCMAKE_PREFIX_PATH="$prefix"
quiet cmake --build "$tmp/find"
run_both "$tmp/find" "find_package(cio)"

# --- 4. FetchContent from the source tree ------------------------------------------
step "CMake FetchContent from $src"
quiet cmake -S "$src/tests/consumer" -B "$tmp/fetch" -DCIO_SOURCE="$src"
quiet cmake --build "$tmp/fetch" -j 2
run_both "$tmp/fetch" "FetchContent"
extra=$(find "$tmp/fetch/_deps" -type f -perm -u+x -name '*' ! -name '*.so*' ! -name '*.sh' | head -5)
[ -z "$extra" ] || fail "FetchContent built more than the library: $extra"

# --- uninstall -------------------------------------------------------------------
step "make uninstall"
quiet mk uninstall
[ -z "$(files_under "$prefix")" ] || fail "make uninstall left: $(files_under "$prefix")"
echo "consumer check: 3 ways built and ran, install and uninstall clean"
