// SPDX-License-Identifier: MIT
//
// The guide's Semaphore (rate limiting): nine fetches, at most three at a
// time.  fetch_many.c does the same against a real (local) server.
#include <cio.h>
#include <stdio.h>

static cio_sem *limit;
static int in_flight;

static int limited_fetch(void *arg) {
  int id = (int)(intptr_t)arg;
  int rc = cio_sem_acquire(limit); // async with semaphore:
  if (rc < 0) return rc;
  printf("[%.2f] fetch %d starts (%d in flight)\n", cio_now(), id, ++in_flight);
  rc = cio_sleep(0.3);
  in_flight--;
  cio_sem_release(limit);
  return rc;
}

static int run(void *arg) {
  (void)arg;
  limit = cio_sem_new(3); // asyncio.Semaphore(3)
  cio_task *t[9];
  for (int i = 0; i < 9; i++) t[i] = cio_spawn(limited_fetch, (void *)(intptr_t)i);
  int rc = cio_gather(t, 9, NULL, 0);
  cio_sem_free(limit);
  return rc;
}

int main(void) { return cio_run(run, NULL) < 0; }
