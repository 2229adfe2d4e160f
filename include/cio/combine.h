// SPDX-License-Identifier: MIT
/// \file
///
/// Combinators: run many tasks and wait for all of them (gather), the first
/// (wait), each as it finishes (as_completed), one with a timeout (wait_for),
/// or a set that lives and dies together (task groups).  All await; all are
/// cancellation points.  Included by <cio.h>.
///
/// Ownership: gather and wait_for consume the handles they are given (as
/// cio_join does); wait and as_completed only watch them, and the caller
/// still joins or cancels them afterwards.  A call that fails with -EINVAL
/// (NULL or repeated entries, released handles, group tasks, a task another
/// call is already joining) or -ENOMEM has taken no ownership of anything.
#ifndef CIO_COMBINE_H
#define CIO_COMBINE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

// ---------------------------------------------------------------- gather

/// cio_gather() flags.
#define CIO_GATHER_CANCEL_ON_ERROR 1u ///< the first failure cancels the others (TaskGroup-like)
#define CIO_GATHER_COLLECT 2u         ///< collect every outcome (return_exceptions=True)

/// Awaits every task and releases every handle; outcomes[i] (if outcomes is
/// not NULL) receives the outcome of tasks[i].  Returns:
///   - by default, 0 if every task succeeded, else the first failure (in
///     completion order) once all have finished.  The others are NOT
///     cancelled by a failure (asyncio's default); pass
///     CIO_GATHER_CANCEL_ON_ERROR to cancel them at the first failure.
///   - with CIO_GATHER_COLLECT, the number of tasks that failed (>= 0);
///     outcomes must then be given.
///   - -ECANCELED / -ETIMEDOUT if the caller was cancelled or its timeout
///     scope expired: every task is cancelled and still awaited first, so
///     nothing is left running.
///   - -EINVAL for bad arguments, -ENOMEM if there was no memory to watch
///     the tasks (more than 8 need some): nothing taken, the caller still
///     owns every handle.  -EPERM outside a task.
/// gather of 0 tasks returns 0 at once.
CIO_AWAIT int cio_gather(cio_task **tasks, size_t n, int *outcomes, unsigned flags);

// ---------------------------------------------------------------- wait

enum cio_when {
  CIO_FIRST_COMPLETED, ///< as soon as any task finishes
  CIO_FIRST_EXCEPTION, ///< as soon as any task fails, or all have finished
  CIO_ALL_COMPLETED,   ///< when all have finished
};

/// Awaits until `when` holds or `timeout` seconds pass (CIO_FOREVER: no
/// limit; 0 or negative: look once without waiting).  Never cancels
/// anything.  Reorders tasks[] so the finished ones come first, in the order
/// they finished, and the pending ones after them, and returns how many
/// finished (0 after a timeout with nothing done is not an error).  The
/// caller still owns every handle.  Returns -EINVAL for n == 0 or bad
/// entries, -ECANCELED / -ETIMEDOUT if the caller is cancelled or its own
/// scope expires (tasks[] unchanged), -ENOMEM (more than 8 tasks need
/// memory to be watched and reordered; tasks[] unchanged), -EPERM outside a
/// task.
CIO_AWAIT int cio_wait(cio_task **tasks, size_t n, enum cio_when when, double timeout);

// ---------------------------------------------------------------- wait_for

/// Awaits `t` for at most `timeout` seconds and releases the handle.  Returns
/// t's outcome if it finished in time — or at the same moment as the timeout,
/// or after being cancelled but returning normally: a result is never
/// dropped.  On expiry t is cancelled *and awaited*, then -ETIMEDOUT is
/// returned.  If the caller is cancelled meanwhile, t is cancelled and
/// awaited and -ECANCELED returned.  -EINVAL for a bad handle or a NaN
/// timeout (the handle is then still the caller's).
CIO_AWAIT int cio_wait_for(cio_task *t, double timeout);

// ---------------------------------------------------------------- as_completed

typedef struct cio_as_completed cio_as_completed;

/// Starts watching tasks[0..n) and stores an iterator in *it.  `timeout`
/// (seconds, CIO_FOREVER for none) bounds the whole iteration.  The caller
/// keeps owning the tasks.  Returns 0, -EINVAL, -ENOMEM, -EPERM.  Does not
/// await.
int cio_as_completed_begin(cio_as_completed **it, cio_task **tasks, size_t n, double timeout);

/// Awaits the next task to finish and stores it in *task (join it for its
/// outcome).  Returns 1 for a finished task; 0 once every task has been
/// handed out; -ETIMEDOUT once the overall timeout has passed, with *task one
/// of the tasks still running (each remaining task is reported this way
/// once, then 0); -ECANCELED / -ETIMEDOUT (with *task NULL) if the caller was
/// cancelled or its own scope expired: that call ends, the iteration does
/// not (a later call waits again, as after an interrupted await of asyncio's
/// as_completed).  Between calls, a completion never wakes the task from
/// another wait.
CIO_AWAIT int cio_as_completed_next(cio_as_completed *it, cio_task **task);

/// Stops watching and frees the iterator.  Tasks not handed out are still the
/// caller's.  Does not await.  Returns 0, or -EINVAL for NULL or an iterator
/// already ended (while it is among the last 64 objects freed on this thread,
/// 4096 in debug mode, which also prints a line naming the call; after that
/// a second end is undefined).
int cio_as_completed_end(cio_as_completed *it);

// ---------------------------------------------------------------- groups

typedef struct cio_group cio_group;

/// Creates a task group (asyncio.TaskGroup, a Trio nursery) owned by the
/// calling task, whose code up to cio_group_wait() is the group's body.  The
/// first failure of a member cancels the other members and the body: from
/// then on the owner's awaits return -ECANCELED (outside shield scopes)
/// until it calls cio_group_wait(), which lifts that cancellation and returns
/// the failure, as `async with TaskGroup()` raises it at the block's end.
/// cio_task_cancelled() stays false for the owner: the cancellation belongs
/// to the group.  Returns NULL with errno set (ENOMEM, EPERM).  Does not
/// await.
cio_group *cio_group_new(void);

/// Spawns a task into the group, which owns it: the handle may be inspected
/// or cancelled while the task runs, but not joined or detached, and is
/// released when the task finishes.  Tasks of the group may spawn into it
/// too.  Returns NULL with errno set: ECANCELED once the group is cancelling
/// (after a failure), EINVAL after cio_group_wait() returned.
#define cio_group_spawn(g, fn, arg) cio_group_spawn_at((g), NULL, (fn), (arg), __FILE__, __LINE__)
#define cio_group_spawn_named(g, name, fn, arg)                                                    \
  cio_group_spawn_at((g), (name), (fn), (arg), __FILE__, __LINE__)
/// What the macros call; `file` and `line` name the spawn site for reports.
cio_task *cio_group_spawn_at(cio_group *g, const char *name, cio_fn fn, void *arg, const char *file,
                             int line);

/// Awaits every task of the group (including ones spawned meanwhile).  The
/// first failure (an outcome < 0 other than -ECANCELED: a cancelled member
/// is not a failure) cancels the others.  Returns 0 if none failed,
/// else the first failure; -ECANCELED / -ETIMEDOUT if the caller was
/// cancelled or its scope expired (every task is cancelled and awaited
/// first).  Only the task that created the group may wait; -EPERM otherwise.
/// After it returns, the group accepts no more tasks.
CIO_AWAIT int cio_group_wait(cio_group *g);

/// Copies the outcomes of the tasks that failed (cancellations do not count)
/// into outcomes[0..cap), in the
/// order they failed, and returns how many there were.  Does not await.
size_t cio_group_failures(const cio_group *g, int *outcomes, size_t cap);

/// Frees the group.  Returns 0, or -EBUSY (nothing freed) while tasks of it
/// are still running: wait first.  Does not await.  Freeing twice returns
/// -EINVAL while the group is among the last 64 objects freed on this thread
/// (4096 in debug mode, which also prints a line naming the call); after
/// that a second free is undefined.
int cio_group_free(cio_group *g);

#ifdef __cplusplus
}
#endif
#endif
