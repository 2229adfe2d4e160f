// SPDX-License-Identifier: MIT
//
// The stack allocator (see stack.h for the strategy).  Slabs are carved into
// stacks laid out as [guard][usable] ... from low to high addresses.
#include "stack.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../alloc.h"
#include "../tune.h"
#include "context.h"
#include "valgrind_compat.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102 // Linux 6.13; glibc 2.36's headers lack it
#endif

#define FIRST_SLAB CIO__TUNED(16, 2)        // stacks in the first slab
#define MAX_SLAB CIO__TUNED(1024, 8)        // stacks per slab once grown (64 MiB at 64 KiB)
#define GUARD_PAGES 4                       // 16 KiB of guard with 4 KiB pages (see guard_bytes)
#define PREFETCH_AFTER CIO__TUNED(4096, 16) // stacks carved before the prefetcher starts
#define PREFETCH_SLABS CIO__TUNED(2, 1)     // full slabs it keeps ready

static int adopt_slab(cio__stack_pool *p, struct cio__slab *slab);
static void free_slab(struct cio__slab *slab);

// A batch of stacks on their way to being released, or back from it.
struct cio__trim_batch {
  size_t n;
  cio__stack *stacks[];
};

struct cio__slab {
  struct cio__slab *next; // next slab of the same pool
  char *base;             // start of the mapping
  size_t len;             // length of the mapping
  size_t count;           // stacks carved from it
  cio__stack stacks[];    // their descriptors
};

// Process-wide: whether MADV_GUARD_INSTALL works (-1 unknown, 0 no, 1 yes),
// and how many mprotect guards may still be made on kernels without it
// (LONG_MIN until first read; it goes negative once spent).
static atomic_int madvise_guard_works = -1;
static atomic_long mprotect_budget = LONG_MIN;

// Settings read once per process (loops on several threads share them):
// the page size, and CIO_STACK_GUARD=mprotect|canary, which forces a
// fallback so the test suite can check every strategy on a kernel that has
// guard regions.
static pthread_once_t settings_once = PTHREAD_ONCE_INIT;
static size_t settings_page_size;
static int settings_forced_guard = -1;

static void read_settings(void) {
  settings_page_size = (size_t)sysconf(_SC_PAGESIZE);
  const char *e = getenv("CIO_STACK_GUARD");
  if (e && strcmp(e, "mprotect") == 0) settings_forced_guard = CIO__GUARD_MPROTECT;
  if (e && strcmp(e, "canary") == 0) settings_forced_guard = CIO__GUARD_CANARY;
}

static size_t page_size(void) {
  pthread_once(&settings_once, read_settings);
  return settings_page_size;
}

static int forced_guard(void) {
  pthread_once(&settings_once, read_settings);
  return settings_forced_guard;
}

static long map_count_budget(void) {
  long max = 65530;
  FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
  if (f) {
    // NOLINTNEXTLINE(cert-err34-c): a number the kernel wrote; a misread keeps the default
    if (fscanf(f, "%ld", &max) != 1) max = 65530;
    fclose(f);
  }
  return max / 4;
}

// The guard below each stack.  Code built without stack probes is caught
// if no frame moves the stack pointer further than this past the end of
// the stack (frames up to 16 KiB).  Code built with -fstack-clash-protection
// probes the stack at least every `interval` bytes as it grows, so any
// frame, however large, faults in a guard at least that big before it can
// reach the stack below: the interval is one 4 KiB page on x86-64 (GCC and
// Clang) and with Clang 18+ on AArch64, but GCC on AArch64 probes only every
// 64 KiB (it assumes Linux's 64 KiB AArch64 guard; glibc makes its thread
// guards at least that large there for the same reason).  So AArch64 gets
// a 64 KiB guard: address space only, no memory.
static size_t guard_bytes(size_t ps) {
#if defined(__aarch64__)
  size_t min = 64 * 1024;
#else
  size_t min = 16 * 1024;
#endif
  size_t g = GUARD_PAGES * ps;
  return g < min ? (min + ps - 1) & ~(ps - 1) : g;
}

void cio__stack_pool_init(cio__stack_pool *p, size_t size) {
  size_t ps = page_size();
  p->size = (size + ps - 1) & ~(ps - 1);
  p->guard_size = guard_bytes(ps);
  p->free = NULL;
  p->nfree = p->free_cap = 0;
  p->slabs = NULL;
  p->next_slab = FIRST_SLAB;
  p->live = 0;
  p->total = 0;
  pthread_mutex_init(&p->lock, NULL);
  pthread_cond_init(&p->cond, NULL);
  p->ready = NULL;
  p->nready = 0;
  p->prefetching = false;
  p->stop = false;
  p->low = p->clean = 0;
  p->trim_at = 0;
  p->trim = p->trimmed = NULL;
  p->released = 0;
  p->batch_out = false;
}

void cio__stack_pool_fini(cio__stack_pool *p) {
  if (p->prefetching) {
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->thread, NULL);
    p->prefetching = false;
    while (p->ready) {
      struct cio__slab *next = p->ready->next;
      free_slab(p->ready);
      p->ready = next;
    }
    free(p->trim); // at most one batch each; their stacks are in the slabs
    free(p->trimmed);
  }
  pthread_mutex_destroy(&p->lock);
  pthread_cond_destroy(&p->cond);
  while (p->slabs) {
    struct cio__slab *next = p->slabs->next;
    free_slab(p->slabs);
    p->slabs = next;
  }
  free(p->free);
  p->free = NULL;
  p->nfree = p->free_cap = 0;
}

// Picks and installs the guard below one stack.

static enum cio__guard install_guard(char *guard, size_t len) {
  int forced = forced_guard();
  if (forced == CIO__GUARD_CANARY) return CIO__GUARD_CANARY;
  if (forced == CIO__GUARD_MPROTECT) atomic_store(&madvise_guard_works, 0);
  int works = atomic_load_explicit(&madvise_guard_works, memory_order_relaxed);
  if (works != 0) {
    // The first time, check that the guard is real: an emulator (qemu-user
    // 7.2) may return 0 for advice it does not know and install nothing.
    // The kernel cannot read a guard region, so access() fails with EFAULT.
    // (Under valgrind, which would flag the probe, the kernel is real.)
    if (madvise(guard, len, MADV_GUARD_INSTALL) == 0 &&
        (works > 0 || RUNNING_ON_VALGRIND || (access(guard, F_OK) < 0 && errno == EFAULT))) {
      if (works < 0) atomic_store(&madvise_guard_works, 1);
      return CIO__GUARD_MADVISE;
    }
    atomic_store(&madvise_guard_works, 0);
  }
  long expect = LONG_MIN;
  if (atomic_load(&mprotect_budget) == LONG_MIN)
    atomic_compare_exchange_strong(&mprotect_budget, &expect, map_count_budget());
  if (atomic_fetch_sub(&mprotect_budget, 2) >= 2 && mprotect(guard, len, PROT_NONE) == 0)
    return CIO__GUARD_MPROTECT;
  return CIO__GUARD_CANARY;
}

// Installs guard regions in batches, one system call for up to BATCH of
// them: process_madvise() on the calling thread (PIDFD_SELF_THREAD, Linux
// 6.15+; always this process, so a fork cannot misdirect it).  Measured
// here: 0.55 us per guard against 0.66 with one madvise() each.  Returns
// how many of the `count` guards, `stride` apart from `first`, it installed
// (from the first on; 0 if batching is unavailable: the caller installs the
// rest one by one).
#define BATCH CIO__TUNED(1024, 3)   // UIO_MAXIOV
#define PIDFD_SELF_THREAD (-10000)  // Linux 6.15; older kernels say EBADF
static atomic_int batch_works = -1; // -1 unknown, 0 no, 1 yes

static size_t install_guards_batched(char *first, size_t stride, size_t len, size_t count) {
  if (atomic_load_explicit(&batch_works, memory_order_relaxed) == 0 || RUNNING_ON_VALGRIND ||
      atomic_load_explicit(&madvise_guard_works, memory_order_relaxed) != 1)
    return 0;
  struct iovec iov[BATCH];
  size_t done = 0;
  while (done < count) {
    size_t n = count - done < BATCH ? count - done : BATCH;
    for (size_t i = 0; i < n; i++) {
      iov[i].iov_base = first + (done + i) * stride;
      iov[i].iov_len = len;
    }
    long r = syscall(SYS_process_madvise, PIDFD_SELF_THREAD, iov, n, MADV_GUARD_INSTALL, 0);
    if (r < 0) {
      if (done == 0) atomic_store(&batch_works, 0);
      return done;
    }
    atomic_store(&batch_works, 1);
    done += (size_t)r / len; // a short count: the rest one by one
    if ((size_t)r != n * len) return done;
  }
  return done;
}

// Maps and guards a slab of `count` stacks.  With `prefault`, also touches
// the top page of each stack (the page a task uses first), so that the page
// faults are taken here rather than when the task first runs.
static struct cio__slab *build_slab(size_t size, size_t guard_size, size_t count, bool prefault) {
  size_t stride = guard_size + size;
  struct cio__slab *slab = cio__malloc(sizeof *slab + count * sizeof(cio__stack));
  if (!slab) return NULL;
  char *base = mmap(NULL, count * stride, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (base == MAP_FAILED) {
    free(slab);
    return NULL;
  }
  // Huge pages would make every touched stack cost 2 MiB.
  madvise(base, count * stride, MADV_NOHUGEPAGE);
  slab->base = base;
  slab->len = count * stride;
  slab->count = count;
  slab->next = NULL;
  // The first guard is installed alone (it checks that guard regions work);
  // the others in batches when the kernel allows.
  size_t batched = 0; // stacks 1 to `batched` have their guard region already
  for (size_t i = 0; i < count; i++) {
    cio__stack *st = &slab->stacks[i];
    char *guard = base + i * stride;
    st->lo = guard + guard_size;
    st->size = size;
    if (i == 1 && forced_guard() < 0)
      batched = install_guards_batched(guard, stride, guard_size, count - 1);
    st->guard =
        i >= 1 && i <= batched ? CIO__GUARD_MADVISE : (uint8_t)install_guard(guard, guard_size);
    if (st->guard == CIO__GUARD_CANARY) *(uint64_t *)(void *)st->lo = CIO__CANARY;
    if (prefault) *(volatile char *)(st->lo + size - 64) = 0;
    st->valgrind_id = cio__san_stack_register(st->lo, st->size);
  }
  return slab;
}

static void free_slab(struct cio__slab *slab) {
  for (size_t i = 0; i < slab->count; i++) cio__san_stack_deregister(slab->stacks[i].valgrind_id);
  munmap(slab->base, slab->len);
  free(slab);
}

// Puts a slab's stacks on the free list, lowest first.
static int adopt_slab(cio__stack_pool *p, struct cio__slab *slab) {
  // Room for every stack of the pool, so cio__stack_put() never grows it.
  size_t need = p->total + slab->count;
  if (need > p->free_cap) {
    size_t cap = p->free_cap ? p->free_cap : 64;
    while (cap < need) cap *= 2;
    cio__stack **v = cio__realloc(p->free, cap * sizeof *v);
    if (!v) return -ENOMEM;
    p->free = v;
    p->free_cap = cap;
  }
  for (size_t i = slab->count; i-- > 0;) p->free[p->nfree++] = &slab->stacks[i];
  slab->next = p->slabs;
  p->slabs = slab;
  p->total += slab->count;
  return 0;
}

// Gives the memory of a batch of idle stacks back to the kernel.  Their
// guard regions survive MADV_DONTNEED; a canary stack gets its canary back
// (its lowest page becomes resident again, which is all it costs).
static void release_stacks(struct cio__trim_batch *b) {
  for (size_t i = 0; i < b->n; i++) {
    cio__stack *st = b->stacks[i];
    madvise(st->lo, st->size, MADV_DONTNEED);
    if (st->guard == CIO__GUARD_CANARY) *(uint64_t *)(void *)st->lo = CIO__CANARY;
  }
}

// The prefetcher: once a program holds thousands of stacks, a helper
// thread keeps up to PREFETCH_SLABS full slabs mapped, guarded and touched
// ahead of demand, so a burst of new tasks does not pay a page fault each on
// the loop thread (on this VM a fresh page costs 1.3-2 us).  It costs at
// most PREFETCH_SLABS * MAX_SLAB touched pages (8 MiB) ahead of need.
static void *prefetcher(void *arg) {
  cio__stack_pool *p = arg;
  pthread_setname_np(pthread_self(), "cio-stacks"); // as top, gdb and perf show it
  pthread_mutex_lock(&p->lock);
  for (;;) {
    while (!p->stop && p->nready >= PREFETCH_SLABS && !p->trim)
      pthread_cond_wait(&p->cond, &p->lock);
    if (p->stop) break;
    if (p->trim) {
      struct cio__trim_batch *b = p->trim;
      pthread_mutex_unlock(&p->lock);
      release_stacks(b);
      pthread_mutex_lock(&p->lock);
      p->trim = NULL;
      p->trimmed = b;
      continue;
    }
    pthread_mutex_unlock(&p->lock);
    struct cio__slab *slab = build_slab(p->size, p->guard_size, MAX_SLAB, true);
    pthread_mutex_lock(&p->lock);
    if (!slab) break; // out of memory: the loop maps its own and reports failure
    slab->next = p->ready;
    p->ready = slab;
    p->nready++;
  }
  pthread_mutex_unlock(&p->lock);
  return NULL;
}

static int add_slab(cio__stack_pool *p) {
  struct cio__slab *slab = NULL;
  if (p->prefetching) {
    pthread_mutex_lock(&p->lock);
    slab = p->ready;
    if (slab) {
      p->ready = slab->next;
      p->nready--;
    }
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
  } else if (p->total >= PREFETCH_AFTER) {
    // Like the thread pool's workers, it takes no signals: they are the
    // loops' (with TSan, a loop's thread takes them only in its wait).
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    p->prefetching = pthread_create(&p->thread, NULL, prefetcher, p) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
  }
  if (!slab) slab = build_slab(p->size, p->guard_size, p->next_slab, false);
  if (!slab) return -ENOMEM;
  if (adopt_slab(p, slab) < 0) {
    free_slab(slab);
    return -ENOMEM;
  }
  if (p->next_slab < MAX_SLAB) p->next_slab *= 2;
  return 0;
}

// Takes back the stacks the helper has released, if it is done with them,
// putting them at the bottom of the free list: they are used last, since
// each costs a page fault again.  Returns how many.
static size_t take_trimmed(cio__stack_pool *p) {
  if (!p->batch_out) return 0;
  pthread_mutex_lock(&p->lock);
  struct cio__trim_batch *b = p->trimmed;
  p->trimmed = NULL;
  pthread_mutex_unlock(&p->lock);
  if (!b) return 0; // still being released
  p->batch_out = false;
  // Room for every stack of the pool, so this never overflows.
  memmove(p->free + b->n, p->free, p->nfree * sizeof *p->free);
  memcpy(p->free, b->stacks, b->n * sizeof *b->stacks);
  p->nfree += b->n;
  p->clean += b->n;
  p->low += b->n;
  size_t n = b->n;
  free(b);
  return n;
}

cio__stack *cio__stack_get(cio__stack_pool *p) {
  if (!p->nfree && !take_trimmed(p) && add_slab(p) < 0) return NULL;
  cio__stack *st = p->free[--p->nfree];
  if (p->nfree < p->low) {
    p->low = p->nfree;
    if (p->nfree < p->clean) p->clean = p->nfree;
  }
  p->live++;
  return st;
}

void cio__stack_trim(cio__stack_pool *p, int64_t now) {
  take_trimmed(p);
  if (now - p->trim_at < CIO__STACK_TRIM_PERIOD) return;
  p->trim_at = now;
  // The bottom `low` entries of the LIFO sat unused all period; of those,
  // the bottom `clean` are released already.  One batch at a time.
  size_t idle = p->low < p->nfree ? p->low : p->nfree;
  p->low = p->nfree;
  if (p->batch_out || idle <= p->clean + CIO__STACK_KEEP) return;
  size_t first = p->clean, n = idle - CIO__STACK_KEEP - first;
  struct cio__trim_batch *b = cio__malloc(sizeof *b + n * sizeof *b->stacks);
  if (!b) return;
  b->n = n;
  memcpy(b->stacks, p->free + first, n * sizeof *p->free);
  memmove(p->free + first, p->free + first + n, (p->nfree - first - n) * sizeof *p->free);
  p->nfree -= n;
  p->low = p->nfree;
  p->released += n;
  p->batch_out = true;
  pthread_mutex_lock(&p->lock);
  p->trim = b;
  pthread_cond_signal(&p->cond);
  pthread_mutex_unlock(&p->lock);
}

void cio__stack_put(cio__stack_pool *p, cio__stack *s) {
  p->free[p->nfree++] = s; // never overflows: every stack fits
  p->live--;
}

bool cio__stack_locate(const cio__stack_pool *p, const void *addr, cio__stack_where *w) {
  uintptr_t a = (uintptr_t)addr;
  size_t stride = p->guard_size + p->size;
  for (const struct cio__slab *slab = p->slabs; slab; slab = slab->next) {
    uintptr_t base = (uintptr_t)slab->base;
    if (a < base || a - base >= slab->len) continue;
    w->stack = &slab->stacks[(a - base) / stride];
    w->in_guard = (a - base) % stride < p->guard_size;
    return true;
  }
  return false;
}
