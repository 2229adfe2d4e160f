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
  "FastAPI demo" "common mistakes"; do
  printf '%s\n' "$out" | grep -q "^ok $pattern " || { echo "tour: no passing line for '$pattern'"; exit 1; }
done
printf '%s\n' "$out" | grep -q "^14 of 14 patterns ran as the guide says" || { echo "tour: summary missing"; exit 1; }
printf '%s\n' "$out" | grep -q "cio_sleep() called outside cio_run()" || { echo "tour: mistake 5 message missing"; exit 1; }
