// SPDX-License-Identifier: MIT
//
// Delayed freeing of synchronization objects (see cio__sync_release).
#include <stdlib.h>

#include "sync.h"

static __thread void *recent[CIO__QUARANTINE]; // freed objects, not yet released
static __thread size_t next;                   // where the next one goes

void cio__sync_release(void *obj) {
  free(recent[next]);
  recent[next] = obj;
  next = (next + 1) % CIO__QUARANTINE;
}
