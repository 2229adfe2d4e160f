// SPDX-License-Identifier: MIT
//
// Every allocation of the library goes through these, so that a test can
// make any one of them fail (allocation-failure injection, as neco's
// per-call failure counters do): cio__alloc_fail_after(n) makes the n-th
// allocation from now fail, on whichever thread it happens.  Unarmed, each
// costs one relaxed load and a predicted branch before libc's call.
#ifndef CIO_ALLOC_H
#define CIO_ALLOC_H

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

// Allocations left before the injected failure (0: none armed).
extern atomic_long cio__alloc_countdown;

// True if this allocation is the one to fail (slow path, when armed).
bool cio__alloc_should_fail(void);

static inline bool cio__alloc_fails(void) {
  return __builtin_expect(atomic_load_explicit(&cio__alloc_countdown, memory_order_relaxed) != 0,
                          0) &&
         cio__alloc_should_fail();
}

// An injected failure is what libc's would be: NULL with errno ENOMEM.
static inline void *cio__alloc_failed(void) {
  errno = ENOMEM;
  return NULL;
}

static inline void *cio__malloc(size_t n) {
  return cio__alloc_fails() ? cio__alloc_failed() : malloc(n);
}
// Zeroed memory.  A small block is malloc'd and cleared: glibc before 2.41
// never serves calloc from its per-thread cache, while free() fills that
// cache, so a calloc/free pair per item (a request, a row) overflows it into
// the fast bins and every larger malloc after that first walks them
// (malloc_consolidate: 12% of a row stream's client time, measured).
// (The static analyzer is shown calloc itself, which this is to it.)
// A size that overflows is refused here, as libc's calloc would (ASan's
// aborts instead).
static inline void *cio__calloc(size_t n, size_t size) {
  size_t bytes;
  if (cio__alloc_fails() || __builtin_mul_overflow(n, size, &bytes)) return cio__alloc_failed();
#ifndef __clang_analyzer__
  if (bytes <= 1024) {
    void *p = malloc(bytes);
    if (!p) return NULL;
    __asm__("" : "+r"(p)); // else the compiler turns malloc + memset back into calloc
    return memset(p, 0, bytes);
  }
#endif
  return calloc(n, size);
}
static inline void *cio__realloc(void *p, size_t n) {
  return cio__alloc_fails() ? cio__alloc_failed() : realloc(p, n);
}
// `n` bytes aligned to `align` (a power of two, a multiple of sizeof(void *)),
// zeroed; freed with free().
static inline void *cio__aligned_zalloc(size_t align, size_t n) {
  void *p = NULL;
  if (cio__alloc_fails()) return cio__alloc_failed();
  if (posix_memalign(&p, align, n) != 0) return cio__alloc_failed();
  return memset(p, 0, n);
}
static inline char *cio__strdup(const char *s) {
  return cio__alloc_fails() ? cio__alloc_failed() : strdup(s);
}
static inline char *cio__strndup(const char *s, size_t n) {
  return cio__alloc_fails() ? cio__alloc_failed() : strndup(s, n);
}

// Arms the injection: the n-th allocation from now fails (n >= 1), and the
// ones after it succeed again; 0 disarms it.  Returns how many allocations
// were still to go before the call (0 if none was armed), so arming with a
// large n, running a workload, and arming with 0 counts its allocations.
long cio__alloc_fail_after(long n);

// Called (if set) on the thread of the allocation that fails, when it
// fails: a test prints a backtrace there, naming the site.
extern void (*cio__alloc_failed_hook)(void);

#endif
