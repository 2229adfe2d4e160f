#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Runs the tour with --quick and checks that every pattern reported its line
# as passing, and the summary.  Usage: tour_check.sh [emulator...] path/to/tour
set -eu
out=$("$@" --quick 2>&1)
printf '%s\n' "$out"
for pattern in "quick start" "sequential/concurrent" "timeout" "rate limiting" "loop with delay" \
  "cancellation" "wait for first" "as_completed" "queue" "lock" "event" "to_thread" \
  "FastAPI demo" "CPU on every core" "common mistakes"; do
  printf '%s\n' "$out" | grep -q "^ok $pattern " || { echo "tour: no passing line for '$pattern'"; exit 1; }
done
# Built without libcurl, the HTTP client's pattern is shown as skipped and not counted.
if printf '%s\n' "$out" | grep -q "^-  fetching many URLs *skipped"; then
  patterns=15
else
  printf '%s\n' "$out" | grep -q "^ok fetching many URLs " || { echo "tour: no passing line for 'fetching many URLs'"; exit 1; }
  patterns=16
fi
printf '%s\n' "$out" | grep -q "^$patterns of $patterns patterns ran as the guide says" || { echo "tour: summary missing"; exit 1; }
printf '%s\n' "$out" | grep -q "cio_sleep() called outside cio_run()" || { echo "tour: mistake 5 message missing"; exit 1; }
