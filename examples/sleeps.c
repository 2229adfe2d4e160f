// SPDX-License-Identifier: MIT
//
// The guide's first lesson: two one-second "fetches" awaited one after the
// other take two seconds; spawned as tasks and gathered, one.
#include <cio.h>
#include <stdio.h>

struct fetch {
  int id;     // which item to fetch
  int result; // filled in by fetch()
};

// Pretends to fetch an item: waits `delay` seconds, then answers id * 10.
static int fetch(void *arg) {
  struct fetch *f = arg;
  int rc = cio_sleep(1.0);
  if (rc < 0) return rc;
  f->result = f->id * 10;
  return 0;
}

static int sequential(void) {
  struct fetch a = {.id = 1}, b = {.id = 2};
  double t0 = cio_now();
  int rc = fetch(&a); // calling it from a task is the await
  if (rc == 0) rc = fetch(&b);
  printf("sequential: results %d, %d in %.2f s\n", a.result, b.result, cio_now() - t0);
  return rc;
}

static int concurrent(void) {
  struct fetch a = {.id = 1}, b = {.id = 2};
  double t0 = cio_now();
  cio_task *ta = cio_spawn_named("fetch-1", fetch, &a);
  cio_task *tb = cio_spawn_named("fetch-2", fetch, &b);
  if (!ta || !tb) return -1;
  int ra = cio_join(ta), rb = cio_join(tb);
  printf("concurrent: results %d, %d in %.2f s\n", a.result, b.result, cio_now() - t0);
  return ra < 0 ? ra : rb;
}

static int demo(void *arg) {
  (void)arg;
  int rc = sequential();
  if (rc == 0) rc = concurrent();
  return rc;
}

int main(void) {
  int rc = cio_run(demo, NULL);
  if (rc < 0) fprintf(stderr, "demo failed: %s\n", cio_strerror(rc));
  return rc < 0;
}
