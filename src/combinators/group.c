// SPDX-License-Identifier: MIT
//
// Task groups (asyncio.TaskGroup, Trio nurseries).  A group's tasks are
// detached tasks with a membership record linked into their done queue:
// when one finishes, the record's notify callback collects its outcome,
// cancels the others at the first failure and wakes the waiting owner; the
// task then frees itself.  So a group holds nothing for a finished task.
//
// The first failure also cancels the group's body, as asyncio's TaskGroup
// and Trio's nursery do: the owner's awaits return -ECANCELED until it
// calls cio_group_wait(), which then returns the failure.  This is a
// cancellation scoped to the group, not cio_cancel(): the owner counts the
// groups cancelling it (group_cancels), and waiting (or freeing) the group
// takes its count back.
#include <errno.h>
#include <stdlib.h>

#include "../internal.h"
#include "../sync/quarantine.h"
#include "../task/task.h"

#define GROUP_MAGIC 0x67727570u // "grup"

struct member {
  cio__waiter waiter;         // linked into the task's done queue
  cio_task *task;             // the member
  cio_group *group;           // its group
  struct member *prev, *next; // the group's running members
};

struct cio_group {
  uint32_t magic;         // GROUP_MAGIC until freed
  cio_task *owner;        // the task that created it (the only one that waits)
  uint64_t owner_id;      // its id (the record may hold another task once it ended)
  struct member *members; // running members
  size_t running;         // how many
  bool cancelling;        // a failure or the owner's interruption cancelled the rest
  bool closed;            // cio_group_wait() returned: no more spawns
  bool waiting;           // the owner is parked in cio_group_wait()
  bool cancels_owner;     // a failure cancelled the body; cio_group_wait() lifts it
  int first_failure;      // the first failed member's outcome (0: none), kept without memory
  int *failures;          // outcomes of failed members, in order
  size_t nfailures;       // how many
  size_t cap;             // allocated
};

static bool valid(const cio_group *g) { return g && g->magic == GROUP_MAGIC; }

static void cancel_members(cio_group *g) {
  g->cancelling = true;
  for (struct member *m = g->members; m; m = m->next) cio__task_cancel(cio__tls_loop, m->task);
}

// Cancels the owner's awaits until it waits for the group.
static void cancel_body(cio_group *g) {
  cio_task *owner = g->owner;
  if (owner->id != g->owner_id || owner->state >= CIO__DONE) return; // it never waited
  g->cancels_owner = true;
  owner->group_cancels++;
  if (owner->state == CIO__PARKED && !owner->shielded) cio__wake(cio__tls_loop, owner, -ECANCELED);
}

static void uncancel_body(cio_group *g) {
  if (!g->cancels_owner) return;
  g->cancels_owner = false;
  if (g->owner->id == g->owner_id && g->owner->group_cancels) g->owner->group_cancels--;
}

static void record_failure(cio_group *g, int outcome) {
  if (!g->first_failure) g->first_failure = outcome;
  if (g->nfailures == g->cap) {
    size_t cap = g->cap ? 2 * g->cap : 4;
    int *f = cio__realloc(g->failures, cap * sizeof *f);
    if (!f) return; // out of memory: the list misses it, wait still returns the first
    g->failures = f;
    g->cap = cap;
  }
  g->failures[g->nfailures++] = outcome;
}

static void on_member_done(cio__waiter *w, void *from) {
  struct member *m = cio__container_of(w, struct member, waiter);
  cio_group *g = m->group;
  int outcome = ((cio_task *)from)->result;
  ((cio_task *)from)->outcome_read = true;
  if (m->prev)
    m->prev->next = m->next;
  else
    g->members = m->next;
  if (m->next) m->next->prev = m->prev;
  g->running--;
  free(m);
  // A cancelled member is not a failure (asyncio.TaskGroup agrees): not the
  // ones the group cancelled, nor one cancelled on its own.
  if (outcome < 0 && outcome != -ECANCELED) {
    record_failure(g, outcome);
    if (!g->cancelling) cancel_members(g);
    if (!g->waiting && !g->closed && !g->cancels_owner) cancel_body(g);
  }
  if (g->running == 0 && g->waiting) cio__wake(cio__tls_loop, g->owner, 0);
}

cio_group *cio_group_new(void) {
  cio__loop *L = cio__await_loop("cio_group_new");
  if (!L) return cio__null_errno(EPERM);
  cio_group *g = cio__zalloc(sizeof *g);
  if (!g) return NULL;
  g->magic = GROUP_MAGIC;
  g->owner = L->current;
  g->owner_id = L->current->id;
  return g;
}

cio_task *cio_group_spawn_at(cio_group *g, const char *name, cio_fn fn, void *arg, const char *file,
                             int line) {
  cio__loop *L = cio__thread_loop("cio_group_spawn");
  if (!L) return cio__null_errno(EPERM);
  if (!valid(g) || !fn || g->closed) return cio__null_errno(EINVAL);
  if (g->cancelling) return cio__null_errno(ECANCELED);
  struct member *m = cio__malloc(sizeof *m);
  cio_task *t = m ? cio__task_new(L, name, fn, arg, file, line) : NULL;
  if (!t) {
    free(m);
    return cio__null_errno(ENOMEM);
  }
  t->detached = true; // the group owns it; it frees itself when done
  m->waiter = (cio__waiter){.notify = on_member_done};
  m->task = t;
  m->group = g;
  m->prev = NULL;
  m->next = g->members;
  if (g->members) g->members->prev = m;
  g->members = m;
  g->running++;
  cio__waitq_push(&t->done_waiters, &m->waiter);
  return cio__handle(t);
}

int cio_group_wait(cio_group *g) {
  cio__loop *L = cio__await_loop("cio_group_wait");
  if (!L) return -EPERM;
  if (!valid(g) || g->closed) return -EINVAL;
  if (L->current != g->owner) return -EPERM;
  int interrupted = 0;
  cio_scope shield;
  uncancel_body(g); // awaiting the group is where its cancellation ends
  g->waiting = true;
  while (g->running > 0) {
    int rc = cio__park(L, CIO__NEVER, "group");
    if (rc < 0 && !interrupted) {
      // The owner was cancelled or timed out: so is the group.  Its tasks
      // are still awaited (shielded), so none outlives the group.
      interrupted = rc;
      cancel_members(g);
      cio__shield_enter(L->current, &shield);
    }
  }
  if (interrupted) cio__shield_leave(L->current, &shield);
  g->waiting = false;
  g->closed = true;
  if (interrupted) return interrupted;
  return g->first_failure;
}

size_t cio_group_failures(const cio_group *g, int *outcomes, size_t cap) {
  if (!valid(g)) return 0;
  for (size_t i = 0; i < g->nfailures && i < cap; i++)
    if (outcomes) outcomes[i] = g->failures[i];
  return g->nfailures;
}

// The memory goes to the quarantine, so a second free reads the cleared
// magic and returns -EINVAL instead of freeing it again.
int cio_group_free(cio_group *g) {
  if (!valid(g)) return cio__bad_handle("cio_group_free", "task group", g);
  if (g->running) return -EBUSY;
  uncancel_body(g);
  g->magic = 0;
  free(g->failures);
  cio__quarantine(g);
  return 0;
}
