// SPDX-License-Identifier: MIT
//
// cio_as_completed_*(): tasks handed out in the order they finish, with an
// overall timeout.
#include <errno.h>
#include <stdlib.h>

#include "../internal.h"
#include "../sync/quarantine.h"
#include "watch.h"

#define ITER_MAGIC 0x61736370u // "ascp"

struct cio_as_completed {
  uint32_t magic;   // ITER_MAGIC until ended
  cio__watch watch; // the tasks and their completions
  size_t handed;    // completions handed out so far
  int64_t deadline; // end of the whole iteration
  bool timed_out;   // the deadline passed: report the rest as timed out
  size_t next_late; // scan position over tasks for timed-out reports
  bool *handed_out; // per task: already handed out (used after the timeout)
};

int cio_as_completed_begin(cio_as_completed **out, cio_task **tasks, size_t n, double timeout) {
  cio__loop *L;
  int64_t deadline = cio__await_deadline("cio_as_completed_begin", timeout, &L);
  if (deadline < 0) return (int)deadline;
  if (!out) return -EINVAL;
  cio_as_completed *it = cio__calloc(1, sizeof *it);
  if (!it) return -ENOMEM;
  it->deadline = deadline;
  it->handed_out = cio__calloc(n ? n : 1, sizeof(bool));
  int rc = it->handed_out ? cio__watch_start(&it->watch, L, tasks, n, "cio_as_completed_begin")
                          : -ENOMEM;
  if (rc < 0) {
    free(it->handed_out);
    free(it);
    return rc;
  }
  it->magic = ITER_MAGIC;
  *out = it;
  return 0;
}

// After the timeout: the next task not yet handed out (each once).
static int report_late(cio_as_completed *it, cio_task **task) {
  cio__watch *w = &it->watch;
  while (it->next_late < w->n) {
    size_t i = it->next_late++;
    if (!it->handed_out[i]) {
      *task = w->tasks[i];
      return -ETIMEDOUT;
    }
  }
  return 0;
}

int cio_as_completed_next(cio_as_completed *it, cio_task **task) {
  cio__loop *L = cio__await_loop("cio_as_completed_next");
  if (!L) return -EPERM;
  if (!it || it->magic != ITER_MAGIC)
    return cio__bad_handle("cio_as_completed_next", "iterator", it);
  if (!task) return -EINVAL;
  *task = NULL;
  cio__watch *w = &it->watch;
  if (it->timed_out) return report_late(it, task);
  if (it->handed == w->n) return 0;
  while (it->handed == w->ndone) {
    int rc = cio__watch_park(w, it->handed, it->deadline, "as_completed");
    if (rc == CIO__PARK_DEADLINE) {
      // Note what was handed out, so the rest can be reported once each.
      cio__watch_detach(w);
      for (size_t i = 0; i < it->handed; i++) it->handed_out[w->order[i]] = true;
      it->timed_out = true;
      return report_late(it, task);
    }
    // Cancelled, or a timeout scope of the caller's ran out: this call
    // ends, the iteration does not (as an interrupted await of asyncio's
    // as_completed); the next call goes on waiting.
    if (rc < 0) return rc;
  }
  *task = w->tasks[w->order[it->handed++]];
  return 1;
}

// The memory goes to the quarantine, so a second end reads the cleared
// magic and returns -EINVAL instead of freeing it again.
int cio_as_completed_end(cio_as_completed *it) {
  if (!it || it->magic != ITER_MAGIC)
    return cio__bad_handle("cio_as_completed_end", "iterator", it);
  it->magic = 0;
  cio__watch_stop(&it->watch);
  free(it->handed_out);
  cio__quarantine(it);
  return 0;
}
