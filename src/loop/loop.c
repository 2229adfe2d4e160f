// SPDX-License-Identifier: MIT
//
// The loop's own machinery: setup and teardown, one pass over timers,
// descriptors and posted callbacks, and the thread-safe entry points.
#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../include/cio.h"
#include "../internal.h"

__thread cio__loop *cio__tls_loop CIO__TLS_FAST;

const cio__poller_ops *cio__poller_pick(void) {
  const char *name = getenv("CIO_BACKEND");
  if (!name || !*name || strcmp(name, "epoll") == 0) return &cio__poller_epoll;
  return NULL;
}

int cio__loop_init(cio__loop *L) {
  static atomic_uint_fast64_t serials = 1;
  L->serial = atomic_fetch_add_explicit(&serials, 1, memory_order_relaxed);
  L->poller = cio__poller_pick();
  if (!L->poller) {
    cio__warn("CIO_BACKEND=%s is not a backend this build has (try epoll)", getenv("CIO_BACKEND"));
    return -EINVAL;
  }
  int rc = L->poller->init(&L->poller_state);
  if (rc < 0) return rc;
  cio__timers_init(&L->timers);
  pthread_mutex_init(&L->post_lock, NULL);
  pthread_cond_init(&L->post_room, NULL);
  atomic_init(&L->post_pending, false);
  atomic_init(&L->holds, 0);
  atomic_init(&L->hook_pending, false);
  return 0;
}

static void run_hooks(cio__loop *L);

// Runs callbacks posted before this call (asyncio runs those queued when
// the iteration began); later ones wait for the next pass.
static void run_posts(cio__loop *L) {
  atomic_store(&L->post_pending, false);
  pthread_mutex_lock(&L->post_lock);
  cio__post *p = L->post_head;
  L->post_head = L->post_tail = NULL;
  L->post_count = 0;
  if (L->post_blocked) pthread_cond_broadcast(&L->post_room);
  pthread_mutex_unlock(&L->post_lock);
  while (p) {
    cio__post *next = p->next;
    p->fn(p->arg);
    free(p);
    p = next;
  }
}

void cio__loop_fini(cio__loop *L) {
  // Threads blocked for room are sent away (-ESHUTDOWN) before the loop's
  // memory goes.
  pthread_mutex_lock(&L->post_lock);
  L->post_closed = true;
  pthread_cond_broadcast(&L->post_room);
  while (L->post_blocked) pthread_cond_wait(&L->post_room, &L->post_lock);
  pthread_mutex_unlock(&L->post_lock);
  run_posts(L); // nothing posted is lost: its memory, at least, is freed
  pthread_cond_destroy(&L->post_room);
  while (L->hooks) {
    cio__loop_hook *h = L->hooks;
    L->hooks = h->next;
    if (h->fini) h->fini(L, h);
  }
  L->poller->fini(L->poller_state);
  cio__timers_fini(&L->timers);
  pthread_mutex_destroy(&L->post_lock);
}

// Polls for events, first busy (cio_opts.poll_us) if the loop spins.  A
// sleeping vCPU takes tens of microseconds to wake on a VM: a loop that
// polls for a while before it sleeps sees an answer that comes within the
// window without that cost.  The window adapts as Linux's guest halt-polling
// (cpuidle-haltpoll) does: it doubles, up to spin_max, when a sleep ended
// within spin_max (polling longer would have caught its event), and halves
// when a sleep lasted longer, so a loop that sleeps long soon stops spinning.
static void poll_events(cio__loop *L, int64_t timeout_ns) {
  if (!L->spin_max || timeout_ns == 0) {
    L->poller->poll(L->poller_state, timeout_ns);
    return;
  }
  int64_t start = cio__clock_ns(), now = start;
  int64_t window = L->spin_window;
  if (timeout_ns > 0 && window > timeout_ns) window = timeout_ns;
  while (now - start < window) {
    if (L->poller->poll(L->poller_state, 0) != 0 ||
        atomic_load_explicit(&L->post_pending, memory_order_acquire) ||
        atomic_load_explicit(&L->hook_pending, memory_order_acquire))
      return;
    now = cio__clock_ns();
  }
  if (timeout_ns > 0) {
    timeout_ns -= now - start;
    if (timeout_ns <= 0) return; // the timer the wait was for is due
  }
  L->poller->poll(L->poller_state, timeout_ns);
  int64_t slept = cio__clock_ns() - now;
  if (slept <= L->spin_max) {
    int64_t grown = L->spin_window ? 2 * L->spin_window : L->spin_max / 8;
    L->spin_window = grown < L->spin_max ? grown : L->spin_max;
  } else {
    L->spin_window /= 2;
  }
}

void cio__loop_pass(cio__loop *L, int64_t timeout_ns) {
  if (cio__unlikely(cio__stack_trimmable(&L->stacks))) {
    // Idle stacks are trimmed once a period, so a blocking wait wakes for it.
    cio__stack_trim(&L->stacks, cio__loop_now(L));
    if (cio__stack_trimmable(&L->stacks) && (timeout_ns < 0 || timeout_ns > CIO__STACK_TRIM_PERIOD))
      timeout_ns = CIO__STACK_TRIM_PERIOD;
  }
  for (cio__loop_hook *h = L->hooks, *next; h; h = next) {
    next = h->next; // before_poll() may remove its hook
    int64_t most = h->before_poll ? h->before_poll(L, h) : -1;
    if (most >= 0 && (timeout_ns < 0 || most < timeout_ns)) timeout_ns = most;
  }
  if (L->timers.live) {
    L->now_valid = false;
    cio__timers_run(&L->timers, cio__loop_now(L), L->timer_fired);
  }
  bool posted = atomic_load_explicit(&L->post_pending, memory_order_acquire);
  if (posted || atomic_load_explicit(&L->hook_pending, memory_order_acquire)) timeout_ns = 0;
  // A timer that fired just now may have readied a task: never block then.
  // (The caller found nothing ready, but a timer can come due between its
  // look and ours; with no other timer left the poll would wait forever.)
  if (L->ready_len) timeout_ns = 0;
  bool look =
      timeout_ns != 0 || (L->watched && cio__loop_now(L) - L->polled_at >= CIO__POLL_GAP_NS);
  if (look) {
    if (L->timers.live) {
      int64_t until = cio__timers_next(&L->timers) - cio__loop_now(L);
      if (until < 0) until = 0;
      if (timeout_ns < 0 || until < timeout_ns) timeout_ns = until;
    }
    if (L->debug) atomic_store_explicit(&L->polling, timeout_ns != 0, memory_order_relaxed);
    poll_events(L, timeout_ns);
    if (L->debug) atomic_store_explicit(&L->polling, false, memory_order_relaxed);
    L->now_valid = false;
    L->polled_at = cio__loop_now(L);
    if (L->timers.live) cio__timers_run(&L->timers, L->polled_at, L->timer_fired);
  }
  if (posted || atomic_load_explicit(&L->post_pending, memory_order_acquire)) run_posts(L);
  if (atomic_load_explicit(&L->hook_pending, memory_order_acquire)) run_hooks(L);
  L->now_valid = false;
}

// ---------------------------------------------------------------- hooks

void cio__loop_hook_add(cio__loop *L, cio__loop_hook *h) {
  atomic_init(&h->pending, false);
  h->next = L->hooks;
  L->hooks = h;
}

void cio__loop_hook_remove(cio__loop *L, cio__loop_hook *h) {
  for (cio__loop_hook **link = &L->hooks; *link; link = &(*link)->next)
    if (*link == h) {
      *link = h->next;
      return;
    }
}

void cio__loop_hook_signal(cio__loop *L, cio__loop_hook *h) {
  atomic_store(&h->pending, true);
  atomic_store(&L->hook_pending, true);
  L->poller->wakeup(L->poller_state);
}

// A hook's run() may remove itself, and free its memory: the next one is
// read first.
static void run_hooks(cio__loop *L) {
  atomic_store(&L->hook_pending, false);
  for (cio__loop_hook *h = L->hooks, *next; h; h = next) {
    next = h->next;
    if (atomic_exchange(&h->pending, false) && h->run) h->run(L, h);
  }
}

// ---------------------------------------------------------------- the poller's door

int cio__loop_watch(cio__loop *L, cio__io *io, uint32_t events) {
  int rc = L->poller->add(L->poller_state, io, events);
  if (rc == 0) L->watched++;
  return rc;
}

void cio__loop_unwatch(cio__loop *L, cio__io *io) {
  L->poller->del(L->poller_state, io);
  L->watched--;
}

int cio__loop_wakeup(cio__loop *L) { return L->poller->wakeup(L->poller_state); }

cio_loop *cio_loop_current(void) { return cio__tls_loop; }

int cio_call_soon_threadsafe(cio_loop *L, void (*fn)(void *), void *arg) {
  if (!L || !fn) return -EINVAL;
  cio__post *p = cio__malloc(sizeof *p);
  if (!p) return -ENOMEM;
  p->next = NULL;
  p->fn = fn;
  p->arg = arg;
  // Wake the loop before unlocking: once the lock is released the loop may
  // run the callback, finish and free itself, so this thread must not touch
  // it afterwards.
  pthread_mutex_lock(&L->post_lock);
  while (L->post_count >= CIO__POST_LIMIT && !L->post_closed) {
    if (cio__tls_loop) { // a loop's thread must not block
      pthread_mutex_unlock(&L->post_lock);
      free(p);
      return -EAGAIN;
    }
    L->post_blocked++;
    pthread_cond_wait(&L->post_room, &L->post_lock);
    L->post_blocked--;
  }
  if (L->post_closed) {
    if (L->post_blocked == 0) pthread_cond_broadcast(&L->post_room); // the loop waits for us
    pthread_mutex_unlock(&L->post_lock);
    free(p);
    return -ESHUTDOWN;
  }
  L->post_count++;
  if (L->post_tail)
    L->post_tail->next = p;
  else
    L->post_head = p;
  L->post_tail = p;
  int rc = 0;
  if (!atomic_exchange_explicit(&L->post_pending, true, memory_order_acq_rel))
    rc = L->poller->wakeup(L->poller_state);
  pthread_mutex_unlock(&L->post_lock);
  return rc;
}

int cio_loop_hold(cio_loop *L, int delta) {
  if (!L) return -EINVAL;
  return atomic_fetch_add(&L->holds, delta) + delta;
}
