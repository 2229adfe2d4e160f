// SPDX-License-Identifier: MIT
//
// procpool: jobs per second through the process pool for a 10 us CPU job
// (a spin on the monotonic clock, the same job as the peers'), 64 jobs in
// flight from 64 tasks, one worker per CPU, for 3 s after a 0.5 s warm-up.
// Each job is a round trip: the input (8 bytes) to a worker process over
// its socket, 10 us of work there, the result back.
//
// Usage: bench_procpool [SECONDS]
#include <cio.h>
#include <cio/procpool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

// Runs in a worker: 10 us of CPU, then the input back.
static int work(const void *in, size_t len, void **out, size_t *out_len) {
  double end = now_s() + 10e-6;
  while (now_s() < end) {
  }
  *out = malloc(len);
  if (!*out) return -1;
  memcpy(*out, in, len);
  *out_len = len;
  return 0;
}

static cio_procpool *pool;
static double warm_until, stop_at;
static long done; // jobs finished after the warm-up

static int submitter(void *arg) {
  (void)arg;
  uint64_t v = 0;
  while (cio_now() < stop_at) {
    void *out;
    size_t n;
    v++;
    int rc = cio_procpool_run(pool, "work", &v, sizeof v, &out, &n);
    if (rc < 0) return rc;
    if (n != sizeof v || memcmp(out, &v, n) != 0) return -1;
    free(out);
    if (cio_now() >= warm_until) done++;
  }
  return 0;
}

static double seconds = 3;

static int bench(void *arg) {
  (void)arg;
  enum { TASKS = 64 };
  warm_until = cio_now() + 0.5;
  stop_at = warm_until + seconds;
  cio_task *t[TASKS];
  for (int i = 0; i < TASKS; i++) t[i] = cio_spawn(submitter, NULL);
  return cio_gather(t, TASKS, NULL, 0);
}

int main(int argc, char **argv) {
  if (argc > 1) seconds = atof(argv[1]);
  static const cio_procpool_fn_entry fns[] = {{"work", work}, {0}};
  if (cio_procpool_new(&pool, &(cio_procpool_opts){.functions = fns}) < 0) return 1;
  int rc = cio_run(bench, NULL);
  int workers = cio_procpool_workers(pool);
  cio_procpool_free(pool);
  if (rc < 0) {
    fprintf(stderr, "procpool: %s\n", cio_strerror(rc));
    return 1;
  }
  printf("workers %d, 64 in flight, 10 us jobs\n", workers);
  printf("procpool %.0f jobs/s\n", (double)done / seconds);
  return 0;
}
