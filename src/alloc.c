// SPDX-License-Identifier: MIT
//
// Allocation-failure injection (see alloc.h).
#include "alloc.h"

atomic_long cio__alloc_countdown;
void (*cio__alloc_failed_hook)(void);

bool cio__alloc_should_fail(void) {
  long left = atomic_load_explicit(&cio__alloc_countdown, memory_order_relaxed);
  while (left > 0 && !atomic_compare_exchange_weak(&cio__alloc_countdown, &left, left - 1)) {
  }
  if (left != 1) return false;
  if (cio__alloc_failed_hook) cio__alloc_failed_hook(); // this thread took the last one
  return true;
}

long cio__alloc_fail_after(long n) { return atomic_exchange(&cio__alloc_countdown, n < 0 ? 0 : n); }
