// SPDX-License-Identifier: MIT
//
// Delayed freeing of closed handles (see quarantine.h).  Each thread keeps a
// ring of the objects it freed last; an object is really freed when the ring
// comes round to it again, or when the thread exits: a pthread key's
// destructor empties the ring, since a thread-local array has no destructor
// of its own.  (Without it every thread that had freed objects left its ring
// behind: about 6 KB a thread, 12 MB after 2,000 threads.)
#include "quarantine.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../internal.h"
#include "../loop/loop.h"

struct ring {
  void **slot; // objects waiting to be freed; NULL where none
  size_t cap;  // slots allocated (0 until the thread first frees one)
  size_t next; // the slot the next object goes to (the oldest, once full)
};

static __thread struct ring ring; // this thread's
static pthread_key_t exit_key;    // its destructor empties the ring at thread exit
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static bool have_key; // pthread_key_create() succeeded

static bool debug_mode(void) {
  cio__loop *L = cio__tls_loop;
  if (L) return L->debug;
  const char *e = getenv("CIO_DEBUG");
  return e && *e && strcmp(e, "0") != 0;
}

void cio__quarantine_flush(void) {
  for (size_t i = 0; i < ring.cap; i++) free(ring.slot[i]);
  free(ring.slot);
  ring = (struct ring){0};
}

static void at_thread_exit(void *unused) {
  (void)unused;
  cio__quarantine_flush();
}

static void make_key(void) { have_key = pthread_key_create(&exit_key, at_thread_exit) == 0; }

// Gives the ring `cap` slots, keeping what it holds (oldest first).
static bool grow(size_t cap) {
  void **slot = cio__calloc(cap, sizeof *slot);
  if (!slot) return false;
  size_t n = 0;
  for (size_t i = 0; i < ring.cap; i++) {
    void *obj = ring.slot[(ring.next + i) % ring.cap];
    if (obj) slot[n++] = obj;
  }
  if (ring.cap == 0) { // first use on this thread: arm the exit hook
    pthread_once(&key_once, make_key);
    if (have_key) pthread_setspecific(exit_key, &ring);
  }
  free(ring.slot);
  ring.slot = slot;
  ring.cap = cap;
  ring.next = n == cap ? 0 : n;
  return true;
}

void cio__quarantine(void *obj) {
  if (!obj) return;
  size_t want = debug_mode() ? CIO__QUARANTINE_DEBUG : CIO__QUARANTINE;
  if (ring.cap < want && !grow(want) && ring.cap == 0) {
    free(obj); // no memory for a ring: no delay
    return;
  }
  free(ring.slot[ring.next]);
  ring.slot[ring.next] = obj;
  if (++ring.next == ring.cap) ring.next = 0;
}

int cio__bad_handle(const char *fn, const char *what, const void *obj) {
  if (obj && debug_mode())
    cio__warn("%s(): %p is not an open %s (closed twice, or used after closing?)", fn, obj, what);
  return -EINVAL;
}
