#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The shared library's dynamic symbol table is its ABI; this checks it:
#   - its SONAME is the one the version gives (libcio.so.0.MINOR while 0.x);
#   - it exports cio_* names only: no cio__ internal, nothing unprefixed
#     (src/cio.map is the list; a wildcard there that let cio__* through, or
#     a dropped version script, fails here);
#   - every function the public headers declare is exported (a missing one
#     links with libcio.a and fails with libcio.so).
#
#   tests/check_exports.sh path/to/libcio.so expected-soname include-dir [json [tls [client [pg]]]]
#
# json is ON (default) or OFF: a library built without Jansson lacks the
# functions of <cio/http_json.h>; tls likewise, without OpenSSL those of
# <cio/tls.h>; client, without libcurl those of <cio/http_client.h>; pg,
# without libpq those of <cio/pg.h>.
set -euo pipefail
lib=$1 want_soname=$2 include=$3 json=${4:-ON} tls=${5:-ON} client=${6:-ON} pg=${7:-ON}
command -v nm >/dev/null && command -v readelf >/dev/null || { echo "skipped: needs binutils"; exit 77; }

soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "$want_soname" ] || { echo "SONAME is '$soname', expected '$want_soname'"; exit 1; }

# Defined dynamic symbols, less the version node (an absolute symbol, CIO_0).
exported=$(nm -D --defined-only --without-symbol-versions "$lib" | awk '$2 != "A" {print $3}' | sort -u)
bad=$(printf '%s\n' "$exported" | grep -v '^cio_[a-z0-9]' || true)
if [ -n "$bad" ]; then
  echo "exported but not public API (want cio_* only, never cio__*):"
  printf '  %s\n' $bad
  exit 1
fi

headers=("$include"/cio.h "$include"/cio/*.h)
[ "$json" = ON ] || headers=($(printf '%s\n' "${headers[@]}" | grep -v '/http_json\.h$'))
[ "$tls" = ON ] || headers=($(printf '%s\n' "${headers[@]}" | grep -v '/tls\.h$'))
[ "$client" = ON ] || headers=($(printf '%s\n' "${headers[@]}" | grep -v '/http_client\.h$'))
[ "$pg" = ON ] || headers=($(printf '%s\n' "${headers[@]}" | grep -v '/pg\.h$'))
declared=$(grep -hoE '^(CIO_AWAIT )?(const )?(unsigned |struct )?[a-z_0-9]+[ *]+\**cio_[a-z0-9_]+\(' \
  "${headers[@]}" | grep -oE 'cio_[a-z0-9_]+\($' | tr -d '(' | sort -u)
missing=$(comm -23 <(printf '%s\n' "$declared") <(printf '%s\n' "$exported"))
if [ -n "$missing" ]; then
  echo "declared in $include but not exported by $lib:"
  printf '  %s\n' $missing
  exit 1
fi
echo "exports: $(printf '%s\n' "$exported" | wc -l) symbols, all cio_*, every declared function; SONAME $soname"
