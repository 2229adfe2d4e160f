// SPDX-License-Identifier: MIT
//
// The stack allocator (see stack.h for the strategy).  Slabs are carved into
// stacks laid out as [guard][usable] ... from low to high addresses.
#include "stack.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <valgrind/valgrind.h>

#include "context.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102 // Linux 6.13; glibc 2.36's headers lack it
#endif

#define FIRST_SLAB 16 // stacks in the first slab
#define MAX_SLAB 1024 // stacks per slab once grown (64 MiB at 64 KiB)
#define GUARD_PAGES 4 // 16 KiB of guard: catches frames up to that size

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

static size_t page_size(void) {
  static size_t ps;
  if (!ps) ps = (size_t)sysconf(_SC_PAGESIZE);
  return ps;
}

static long map_count_budget(void) {
  long max = 65530;
  FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
  if (f) {
    if (fscanf(f, "%ld", &max) != 1) max = 65530;
    fclose(f);
  }
  return max / 4;
}

void cio__stack_pool_init(cio__stack_pool *p, size_t size) {
  size_t ps = page_size();
  p->size = (size + ps - 1) & ~(ps - 1);
  p->guard_size = GUARD_PAGES * ps;
  p->free = NULL;
  p->slabs = NULL;
  p->next_slab = FIRST_SLAB;
  p->live = 0;
  p->total = 0;
}

void cio__stack_pool_fini(cio__stack_pool *p) {
  struct cio__slab *s = p->slabs;
  while (s) {
    struct cio__slab *next = s->next;
    for (size_t i = 0; i < s->count; i++) cio__san_stack_deregister(s->stacks[i].valgrind_id);
    munmap(s->base, s->len);
    free(s);
    s = next;
  }
  p->slabs = NULL;
  p->free = NULL;
}

// Picks and installs the guard below one stack.
// CIO_STACK_GUARD=mprotect|canary forces a fallback, so the test suite can
// check every strategy on a kernel that has guard regions.
static int forced_guard(void) {
  static int forced = -2;
  if (forced == -2) {
    const char *e = getenv("CIO_STACK_GUARD");
    forced = -1;
    if (e && strcmp(e, "mprotect") == 0) forced = CIO__GUARD_MPROTECT;
    if (e && strcmp(e, "canary") == 0) forced = CIO__GUARD_CANARY;
  }
  return forced;
}

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

static int add_slab(cio__stack_pool *p) {
  size_t count = p->next_slab;
  size_t stride = p->guard_size + p->size;
  struct cio__slab *slab = malloc(sizeof *slab + count * sizeof(cio__stack));
  if (!slab) return -ENOMEM;
  char *base = mmap(NULL, count * stride, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (base == MAP_FAILED) {
    free(slab);
    return -ENOMEM;
  }
  // Huge pages would make every touched stack cost 2 MiB.
  madvise(base, count * stride, MADV_NOHUGEPAGE);
  slab->base = base;
  slab->len = count * stride;
  slab->count = count;
  // Push in reverse so the lowest stack is handed out first.
  for (size_t i = count; i-- > 0;) {
    cio__stack *s = &slab->stacks[i];
    char *guard = base + i * stride;
    s->lo = guard + p->guard_size;
    s->size = p->size;
    s->guard = (uint8_t)install_guard(guard, p->guard_size);
    if (s->guard == CIO__GUARD_CANARY) *(uint64_t *)(void *)s->lo = CIO__CANARY;
    s->valgrind_id = cio__san_stack_register(s->lo, s->size);
    s->next = p->free;
    p->free = s;
  }
  slab->next = p->slabs;
  p->slabs = slab;
  p->total += count;
  if (p->next_slab < MAX_SLAB) p->next_slab *= 2;
  return 0;
}

cio__stack *cio__stack_get(cio__stack_pool *p) {
  if (!p->free && add_slab(p) < 0) return NULL;
  cio__stack *s = p->free;
  p->free = s->next;
  p->live++;
  return s;
}

void cio__stack_put(cio__stack_pool *p, cio__stack *s) {
  s->next = p->free;
  p->free = s;
  p->live--;
}

bool cio__stack_guard_hit(const cio__stack_pool *p, const cio__stack *s, const void *addr) {
  const char *a = addr;
  return a < s->lo && a >= s->lo - 2 * p->guard_size;
}

const char *cio__stack_guard_name(enum cio__guard g) {
  switch (g) {
  case CIO__GUARD_MADVISE: return "guard region (MADV_GUARD_INSTALL)";
  case CIO__GUARD_MPROTECT: return "guard page (mprotect)";
  case CIO__GUARD_CANARY: return "canary";
  }
  return "?";
}
