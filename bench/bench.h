// SPDX-License-Identifier: MIT
//
// Shared helpers for the benchmarks: wall clock, resident memory, and the
// count argument.  Each benchmark prints labelled lines; the last one is
// "<name> <value> <unit>".
#ifndef CIO_BENCH_H
#define CIO_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline double bench_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

// VmRSS in KiB.
static inline long bench_rss_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kib = 0;
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, "VmRSS:", 6) == 0) kib = atol(line + 6);
  if (f) fclose(f);
  return kib;
}

// argv[1] as a count, else `def`.
static inline long bench_count(int argc, char **argv, long def) {
  return argc > 1 ? atol(argv[1]) : def;
}

#endif
