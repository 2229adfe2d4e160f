#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Runs the tour with --quick and checks that every pattern reported its line
# as passing, and the summary.  Usage: tour_check.sh [emulator...] path/to/tour
set -eu
# The tour exits non-zero when a pattern fails: print what it said first
# (under `set -e` a failing $(...) would end the script silently).
rc=0
out=$("$@" --quick 2>&1) || rc=$?
printf '%s\n' "$out"
if [ "$rc" -ne 0 ]; then
  printf '%s\n' "$out" | grep -v '^ok ' | grep -v '^-  ' >&2 || true
  echo "tour: exited $rc" >&2
  exit 1
fi
passing() { printf '%s\n' "$out" | grep -q "^ok $1 " || { echo "tour: no passing line for '$1'"; exit 1; }; }
patterns=0
for pattern in "quick start" "sequential/concurrent" "timeout" "rate limiting" "loop with delay" \
  "cancellation" "wait for first" "as_completed" "queue" "lock" "event" "to_thread" \
  "FastAPI demo" "CPU on every core" "common mistakes"; do
  passing "$pattern"
  patterns=$((patterns + 1))
done
# Patterns that need what a build or a machine may lack (libcurl; libpq and
# the PostgreSQL server) are shown as skipped then, and not counted.
for pattern in "fetching many URLs" "database queries"; do
  if ! printf '%s\n' "$out" | grep -q "^-  $pattern *skipped"; then
    passing "$pattern"
    patterns=$((patterns + 1))
  fi
done
printf '%s\n' "$out" | grep -q "^$patterns of $patterns patterns ran as the guide says" || { echo "tour: summary missing"; exit 1; }
printf '%s\n' "$out" | grep -q "cio_sleep() called outside cio_run()" || { echo "tour: mistake 5 message missing"; exit 1; }
