// SPDX-License-Identifier: MIT
/// \file
///
/// Synchronization between tasks: Lock, Event, Condition, Semaphore,
/// BoundedSemaphore, Barrier and Queue (FIFO, LIFO, priority), with asyncio's
/// meaning.  Included by <cio.h>.
///
/// Rules shared by every object here:
///   - Objects are created with *_new() (NULL with errno set on failure) and
///     freed with *_free().  An object belongs to the loop that first uses
///     it; use it from that loop's tasks only, except where a function says
///     it is thread-safe.
///   - Waits are FIFO and cancellation-safe: a waiter that is cancelled or
///     times out leaves nothing behind.  If it had already been handed the
///     lock, the permit or the wakeup, it passes it on to the next waiter and
///     returns -ECANCELED, as asyncio does; nothing is lost or held.
///   - Every wait has a *_for() twin with a timeout in seconds (0 or negative:
///     do not wait; CIO_FOREVER: no limit), and honours timeout scopes.
///     Waits return 0 (or the documented value), -ECANCELED, -ETIMEDOUT,
///     -EIDRM if the object was freed while waiting, -EPERM outside a task.
///   - *_free() with tasks still waiting wakes them with -EIDRM.
///   - Freeing twice: the second *_free() returns -EINVAL, as does any other
///     call given a freed object, while the object is among the last 64
///     objects freed on this thread (4096 in debug mode, which also prints a
///     line naming the call): freed memory is quarantined, not reused at
///     once.  After that the pointer may name a new object and the call is
///     undefined (ASan and valgrind report it).  The quarantine is emptied
///     when the thread exits.
#ifndef CIO_SYNC_H
#define CIO_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// ---------------------------------------------------------------- lock

typedef struct cio_lock cio_lock;

/// A new FIFO-fair mutual exclusion lock (asyncio.Lock), not reentrant;
/// NULL with errno ENOMEM.  Does not await.
cio_lock *cio_lock_new(void);
/// Frees the lock.  Returns 0, or -EINVAL for NULL or an already freed lock
/// (caught while it is quarantined).  Waiters get -EIDRM.
int cio_lock_free(cio_lock *l);
/// Awaits the lock: 0, -EDEADLK if the caller already holds it,
/// -ECANCELED, -ETIMEDOUT (scope, or the _for timeout), -EIDRM, -EINVAL.
CIO_AWAIT int cio_lock_acquire(cio_lock *l);
/// As cio_lock_acquire(), giving up after `timeout` seconds.
CIO_AWAIT int cio_lock_acquire_for(cio_lock *l, double timeout);
/// Takes the lock if it is free: 0, or -EBUSY.  Does not await.
int cio_lock_try_acquire(cio_lock *l);
/// Releases the lock, handing it to the first waiter.  Any task may release
/// it (as in asyncio); -EPERM if it is not locked.  Does not await.
int cio_lock_release(cio_lock *l);
/// True while some task holds the lock.
bool cio_lock_locked(const cio_lock *l);

// ---------------------------------------------------------------- event

typedef struct cio_event cio_event;

/// A new event, not set; NULL with errno ENOMEM.  Does not await.
cio_event *cio_event_new(void);
/// Frees the event; waiters get -EIDRM.  Returns 0 or -EINVAL.  Do not free
/// an event another thread may still set.
int cio_event_free(cio_event *e);
/// Sets the flag and wakes every waiter; later waits return at once.
/// Thread-safe: from another thread it wakes the event's loop (whose tasks
/// then see the flag set); the loop must stay running until then.  Returns
/// 0; from another thread, if the wakeup cannot be posted to the loop
/// (cio_call_soon_threadsafe(): -ENOMEM, -EAGAIN, -ESHUTDOWN), that error:
/// the flag is set but the waiters are not woken until set is called again.
int cio_event_set(cio_event *e);
/// Clears the flag.  A waiter already woken by set() still returns 0.
int cio_event_clear(cio_event *e);
/// Thread-safe.
bool cio_event_is_set(const cio_event *e);
/// Awaits until the flag is set (returns at once if it is).
CIO_AWAIT int cio_event_wait(cio_event *e);
CIO_AWAIT int cio_event_wait_for(cio_event *e, double timeout);

// ---------------------------------------------------------------- condition

typedef struct cio_cond cio_cond;

/// A condition variable with its lock (asyncio.Condition).  `lock` may be
/// shared with other conditions; NULL creates one the condition owns.
cio_cond *cio_cond_new(cio_lock *lock);
int cio_cond_free(cio_cond *c);
/// The condition's lock: acquire it around wait and notify.
cio_lock *cio_cond_lock(cio_cond *c);
/// With the lock held: releases it, awaits a notify, then re-acquires it —
/// also when cancelled or timed out, so the caller always holds the lock on
/// return (-EPERM, without waiting, if it was not locked).
CIO_AWAIT int cio_cond_wait(cio_cond *c);
/// As cio_cond_wait(), giving up after `timeout` seconds with -ETIMEDOUT (the
/// lock is re-acquired then too).  Was cio_cond_wait_timeout() before 0.2.
CIO_AWAIT int cio_cond_wait_for(cio_cond *c, double timeout);
/// Awaits until pred(arg) is true, checking it first and after each notify
/// (asyncio's wait_for).  Returns 0 once true, or the error of the wait.
CIO_AWAIT int cio_cond_wait_until(cio_cond *c, bool (*pred)(void *arg), void *arg, double timeout);
/// With the lock held: wakes up to n waiters (FIFO); returns how many.
/// -EPERM if the lock is not held.
int cio_cond_notify(cio_cond *c, size_t n);
int cio_cond_notify_all(cio_cond *c);

// ---------------------------------------------------------------- semaphore

typedef struct cio_sem cio_sem;

/// A semaphore with `value` permits (asyncio.Semaphore); -EINVAL (NULL,
/// errno EINVAL) for a negative value.
cio_sem *cio_sem_new(int64_t value);
/// A bounded semaphore: releasing above the initial value is an error.
cio_sem *cio_sem_new_bounded(int64_t value);
int cio_sem_free(cio_sem *s);
/// Awaits a permit.
CIO_AWAIT int cio_sem_acquire(cio_sem *s);
CIO_AWAIT int cio_sem_acquire_for(cio_sem *s, double timeout);
/// Takes a permit if one is free: 0 or -EAGAIN.  Does not await.
int cio_sem_try_acquire(cio_sem *s);
/// Returns a permit (handed to the first waiter).  -EOVERFLOW for a bounded
/// semaphore already at its bound.  Does not await.
int cio_sem_release(cio_sem *s);
/// Free permits now.
int64_t cio_sem_value(const cio_sem *s);

// ---------------------------------------------------------------- barrier

typedef struct cio_barrier cio_barrier;

/// A barrier for `parties` tasks (asyncio.Barrier); NULL/EINVAL if < 1.
cio_barrier *cio_barrier_new(size_t parties);
int cio_barrier_free(cio_barrier *b);
/// Awaits until `parties` tasks are waiting; returns this task's arrival
/// index (0 .. parties-1), or -EPIPE if the barrier is or becomes broken
/// (aborted, reset while waiting, or a waiter cancelled or timed out: as
/// with threading.Barrier, a party leaving breaks it for the others).
CIO_AWAIT int cio_barrier_wait(cio_barrier *b);
CIO_AWAIT int cio_barrier_wait_for(cio_barrier *b, double timeout);
/// Breaks the barrier: waiters and later waits get -EPIPE until reset.
int cio_barrier_abort(cio_barrier *b);
/// Back to the initial state; current waiters get -EPIPE.
int cio_barrier_reset(cio_barrier *b);
/// The number of parties; the tasks waiting now; whether it is broken.
size_t cio_barrier_parties(const cio_barrier *b);
/// Tasks waiting at the barrier now.
size_t cio_barrier_n_waiting(const cio_barrier *b);
/// True once aborted or left by a party, until reset.
bool cio_barrier_broken(const cio_barrier *b);

// ---------------------------------------------------------------- queue

typedef struct cio_queue cio_queue;

enum cio_queue_kind {
  CIO_QUEUE_FIFO,     ///< asyncio.Queue
  CIO_QUEUE_LIFO,     ///< asyncio.LifoQueue
  CIO_QUEUE_PRIORITY, ///< asyncio.PriorityQueue: lowest priority first, FIFO among equals
};

/// A queue of pointers (the caller owns what they point to).  maxsize 0 is
/// unbounded.  NULL with errno EINVAL for an unknown kind, ENOMEM.
cio_queue *cio_queue_new(enum cio_queue_kind kind, size_t maxsize);
/// Frees the queue.  -ENOTEMPTY (nothing freed) while items remain: drain it
/// first, so nothing is lost.  Waiters get -EIDRM.
int cio_queue_free(cio_queue *q);
/// Awaits room, then adds `item` (priority 0 in a priority queue).
/// -ESHUTDOWN after cio_queue_shutdown(); -EINVAL for a NULL item; -ENOMEM
/// if the queue's storage (64 items at first, doubled when full) cannot
/// grow.
CIO_AWAIT int cio_queue_put(cio_queue *q, void *item);
CIO_AWAIT int cio_queue_put_for(cio_queue *q, void *item, double timeout);
/// As cio_queue_put_for() with a priority (priority queues: lower first).
CIO_AWAIT int cio_queue_put_priority(cio_queue *q, void *item, int64_t priority, double timeout);
/// Adds `item` if there is room: 0, -EAGAIN (full), -ESHUTDOWN, -EINVAL,
/// -ENOMEM.  Thread-safe: from another thread the item is handed to the
/// queue's loop (room is checked against the queue as that thread sees it,
/// so a race with the loop's own puts can exceed maxsize by the number of
/// racing threads; no item is dropped: one the loop has no memory to store
/// yet is retried at its next pass, and dropped, with a line on stderr,
/// only if even that cannot be posted).  Does not await.
int cio_queue_put_nowait(cio_queue *q, void *item);
/// Awaits an item and stores it in *item.  -ESHUTDOWN once the queue is
/// shut down and empty.
CIO_AWAIT int cio_queue_get(cio_queue *q, void **item);
CIO_AWAIT int cio_queue_get_for(cio_queue *q, void **item, double timeout);
/// Takes an item if there is one: 0, -EAGAIN (empty), -ESHUTDOWN.
int cio_queue_get_nowait(cio_queue *q, void **item);
/// Marks one item taken with get as processed.  -EOVERFLOW if called more
/// times than items were put.
int cio_queue_task_done(cio_queue *q);
/// Awaits until every item put has been marked done.
CIO_AWAIT int cio_queue_join(cio_queue *q);
CIO_AWAIT int cio_queue_join_for(cio_queue *q, double timeout);
/// Python 3.13's shutdown: puts fail with -ESHUTDOWN at once and blocked
/// putters wake with it; gets drain what is left, then fail with -ESHUTDOWN.
/// With `immediate`, the items left are dropped (counted as done) and
/// blocked getters and joiners wake at once.  Returns the number of items
/// dropped.
int cio_queue_shutdown(cio_queue *q, bool immediate);
/// Items queued now.
size_t cio_queue_size(const cio_queue *q);
/// The bound given at creation (0: unbounded).
size_t cio_queue_maxsize(const cio_queue *q);
/// True if no item is queued.
bool cio_queue_empty(const cio_queue *q);
/// True if a put would wait (bounded queues only).
bool cio_queue_full(const cio_queue *q);

// ---------------------------------------------------------------- a queue between loops

/// A FIFO queue of pointers whose put and get await from tasks on any
/// loop, on any thread (one loop per core: docs/runtime.md), with
/// cio_queue's semantics: maxsize backpressure (0: unbounded), task_done
/// and join, shutdown.  A waiting task holds its loop (cio_loop_hold), so a
/// loop whose tasks all wait on other loops waits for them instead of
/// reporting a deadlock.  A task cancelled or timed out while it waits
/// takes nothing: an item is never lost or delivered twice.  Every call is
/// thread-safe; the awaiting ones must be made from a task.
typedef struct cio_xqueue cio_xqueue;

/// A new queue, or NULL (errno ENOMEM).  Does not await.
cio_xqueue *cio_xqueue_new(size_t maxsize);
/// Frees the queue: 0, -EBUSY (a task waits on it), -ENOTEMPTY (items
/// remain: nothing is freed), -EINVAL.  Does not await.
int cio_xqueue_free(cio_xqueue *q);
/// Awaits room, then adds item.  0, -ESHUTDOWN, -EINVAL (NULL item),
/// -ENOMEM, -ECANCELED, -ETIMEDOUT (the _for forms after `timeout`
/// seconds, or an enclosing timeout scope).
CIO_AWAIT int cio_xqueue_put(cio_xqueue *q, void *item);
CIO_AWAIT int cio_xqueue_put_for(cio_xqueue *q, void *item, double timeout);
/// Adds item if there is room: 0, -EAGAIN (full), -ESHUTDOWN, -EINVAL,
/// -ENOMEM.  Does not await; from any thread, a loop's or not.
int cio_xqueue_put_nowait(cio_xqueue *q, void *item);
/// Awaits an item into *item.  0, -ESHUTDOWN (shut down and empty),
/// -EINVAL, -ECANCELED, -ETIMEDOUT.
CIO_AWAIT int cio_xqueue_get(cio_xqueue *q, void **item);
CIO_AWAIT int cio_xqueue_get_for(cio_xqueue *q, void **item, double timeout);
/// Takes an item if there is one: 0, -EAGAIN (empty), -ESHUTDOWN.  Does
/// not await.
int cio_xqueue_get_nowait(cio_xqueue *q, void **item);
/// Marks one item taken as processed: 0, -EOVERFLOW (more than were put).
int cio_xqueue_task_done(cio_xqueue *q);
/// Awaits until every item put has been marked done.
CIO_AWAIT int cio_xqueue_join(cio_xqueue *q);
CIO_AWAIT int cio_xqueue_join_for(cio_xqueue *q, double timeout);
/// As cio_queue_shutdown: puts fail with -ESHUTDOWN, gets drain what is
/// left; `immediate` drops what is left.  Returns the items dropped.
int cio_xqueue_shutdown(cio_xqueue *q, bool immediate);
/// Items queued now (0 for an invalid queue).
size_t cio_xqueue_size(cio_xqueue *q);

#ifdef __cplusplus
}
#endif
#endif
