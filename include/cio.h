// SPDX-License-Identifier: MIT
/// \file
///
/// cio: asyncio's programming model in C.
///
/// A task is an ordinary C function `int fn(void *arg)` running on its own
/// stack.  Calling an awaiting function (cio_sleep, cio_join, ...) from a task
/// suspends that task and lets the loop run others: that call *is* the await.
///
/// Conventions every function here follows:
///   - Failure is a negative errno (-ECANCELED, -ETIMEDOUT, -EINVAL, ...),
///     success is >= 0.  cio_strerror() names a code.
///   - "Awaits" in a comment means the call may suspend the calling task; such
///     a call is a cancellation point and is marked CIO_AWAIT, so ignoring its
///     result is a compiler warning.
///   - Awaiting functions must be called from a task inside cio_run(); called
///     anywhere else they print one line naming themselves and return -EPERM.
///
/// Task outcome: a task's body returns an int, its outcome: >= 0 for success,
/// a negative errno for failure.  A task that hands back a value writes it
/// through its argument, which the spawner keeps alive until it has joined:
///
///     struct fetch { int id; char body[256]; };
///     static int fetch(void *p) { struct fetch *f = p; ...; return 0; }
///     ...
///     struct fetch f = {.id = 1};
///     cio_task *t = cio_spawn(fetch, &f);
///     int rc = cio_join(t);          // f.body is valid once rc >= 0
#ifndef CIO_H
#define CIO_H

#include <errno.h> // every result is 0 or a negative errno
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CIO_AWAIT __attribute__((warn_unused_result))

typedef struct cio_task cio_task;

/// The body of a task.  Returns the task's outcome (>= 0 ok, < 0 -errno).
typedef int (*cio_fn)(void *arg);

// ---------------------------------------------------------------- running

/// Options for cio_run_opts().  Zero-initialise and set what you need.
typedef struct cio_opts {
  bool debug;             ///< debug mode (also on when the environment has CIO_DEBUG=1)
  size_t stack_size;      ///< usable stack per task in bytes; 0 = CIO_STACK_SIZE env or 64 KiB
  double block_threshold; ///< debug mode: report a task that blocks the loop this long (0: 0.1 s)
  /// Busy-poll for events up to this many microseconds before the loop
  /// sleeps (0: the CIO_POLL_US environment variable, else never; at most
  /// 100000).  Trades CPU for latency: on a VM a sleeping thread takes tens
  /// of microseconds to wake, so a client waiting on one request at a time
  /// made 1.33x the requests per second with 250 (docs/benchmarks.md), for
  /// a core kept busy while it waits.  The window shrinks by itself
  /// while the loop's sleeps are longer than this (docs/runtime.md).
  unsigned poll_us;
} cio_opts;

/// Runs `main(arg)` as the first task of a new event loop on this thread and
/// returns when it has finished, after cancelling and waiting for every task
/// still alive (as asyncio.run does).  Returns main's outcome, or -ENOMEM /
/// -EINVAL if the loop could not be set up, -EBUSY if a loop already runs on
/// this thread, -EDEADLK if every task waits and nothing can wake any of them
/// (a task dump is printed first).
int cio_run(cio_fn main, void *arg);

/// cio_run() with options.  `opts` may be NULL.  A stack_size below 16 KiB
/// or above 1 GiB, or a poll_us above 100000, returns -EINVAL.
int cio_run_opts(const cio_opts *opts, cio_fn main, void *arg);

// ---------------------------------------------------------------- a loop per core

/// The main of one loop of cio_run_loops(): `index` is the loop's number,
/// 0 to n-1.  Returns its outcome, as a cio_fn does.
typedef int (*cio_loop_fn)(void *arg, int index);

/// Options for cio_run_loops().  Zero-initialise and set what you need.
typedef struct cio_loops_opts {
  cio_opts loop;   ///< every loop's options, as cio_run_opts() takes them
  bool pin;        ///< pin loop i to the i-th CPU the process may use (wrapping round)
  bool keep_going; ///< a main that fails does not cancel the other loops' mains
} cio_loops_opts;

/// The number of CPUs this process may run on (sched_getaffinity), at
/// least 1.  Does not await.
int cio_cpu_count(void);

/// Thread-per-core: runs `n` event loops, each on a thread of its own, and
/// main(arg, i) as the main task of loop i (as cio_run_opts() does); tasks
/// never move between loops.  n <= 0 means cio_cpu_count() loops.  Returns
/// when every loop has finished: 0 if every main succeeded, else the first
/// failure (a main's negative outcome, -EDEADLK for a loop that
/// deadlocked, or what cio_run_opts() returns for a loop that could not
/// start).  The loops are a group: the first failure cancels the other
/// loops' mains, unless opts->keep_going.  SIGINT and SIGTERM cancel every
/// loop's main (as Ctrl-C does to cio_run()'s); the loops' threads block
/// them, so the calling thread handles them while it waits.  `arg` is
/// shared by every loop: what they change in it is theirs to synchronise.
/// opts may be NULL.  Blocks the calling thread, which must not run a loop
/// (-EBUSY).  Also returns -EINVAL (NULL main, a stack size cio_run_opts()
/// refuses), -ENOMEM, or -errno from pthread_create (-EAGAIN; the loops
/// already started are cancelled and waited for).
int cio_run_loops(int n, cio_loop_fn main, void *arg, const cio_loops_opts *opts);

// ---------------------------------------------------------------- other threads

typedef struct cio_loop cio_loop;

/// The loop running on this thread, or NULL.
cio_loop *cio_loop_current(void);

/// Thread-safe: queues fn(arg) to run on `loop`'s thread soon, outside any
/// task (fn must not await; it may spawn tasks or wake them through cio
/// primitives), and wakes the loop if it is waiting.  Callbacks run in the
/// order posted; each loop pass runs those posted before it began (as
/// asyncio does), so timers and I/O get their turn between batches.  The
/// caller must know the loop is still running.  At most 65,536 callbacks
/// wait per loop: beyond that a thread that runs no loop blocks until the
/// loop has taken the queue (backpressure), and a loop's thread gets
/// -EAGAIN, since it must not block.  Returns 0, -EINVAL, -ENOMEM, -EAGAIN,
/// or -ESHUTDOWN if the loop ended while the caller waited for room (fn
/// will not run).  Does not await (but may block, as said).
int cio_call_soon_threadsafe(cio_loop *loop, void (*fn)(void *), void *arg);

/// Thread-safe: tells the loop that another thread will post to it
/// (delta = +1) or no longer will (-1).  While holds are outstanding, a loop
/// whose tasks all wait does not report a deadlock but waits for posts.
/// Returns the new count.
int cio_loop_hold(cio_loop *loop, int delta);

/// Awaits fn(arg) run as a task on `loop` (another loop of cio_run_loops(),
/// say; the caller's own loop works too) and sets *result to that task's
/// outcome.  If the caller is cancelled, or its timeout scope expires,
/// while it waits, the task is cancelled and still waited for, as
/// cio_join() does: the call returns 0 with the task's outcome (a task
/// cancelled before it started never runs fn: -ECANCELED), and the caller's
/// interruption shows at its next await.  fn runs at most once and its
/// outcome is never lost.  `loop` must be running when the call is made
/// (as for cio_call_soon_threadsafe), and `arg` must stay valid until the
/// call returns.  Returns 0, or without running fn: -ESHUTDOWN (`loop` was
/// ending), -ENOMEM, -ECANCELED or -ETIMEDOUT (interrupted while `loop`'s
/// queue of posts was full), -EINVAL (NULL loop, fn or result), -EPERM
/// outside a task.
CIO_AWAIT int cio_loop_call(cio_loop *loop, cio_fn fn, void *arg, int *result);

// ---------------------------------------------------------------- time

/// The loop's monotonic clock in seconds (asyncio's loop.time()).  Cached per
/// scheduling round, so cheap; setting a deadline (a sleep, a timeout) reads
/// it afresh, so durations count from the call however long the round has
/// run.  Returns 0 outside a loop.
double cio_now(void);

/// The same clock in nanoseconds.
int64_t cio_now_ns(void);

/// Awaits: suspends the calling task for `seconds`.  Returns 0, -ECANCELED if
/// the task was cancelled, -ETIMEDOUT if an enclosing timeout scope expired,
/// -EINVAL for a negative or NaN duration, -EPERM outside a task.
CIO_AWAIT int cio_sleep(double seconds);

/// Awaits: lets every other ready task run once, then resumes (asyncio.sleep(0)).
/// Returns 0, -ECANCELED or -EPERM as cio_sleep().
CIO_AWAIT int cio_yield(void);

// ---------------------------------------------------------------- tasks

/// Spawns a task running fn(arg); it starts at the next scheduling point (the
/// caller keeps running, as asyncio.create_task).  The caller owns the handle
/// and must cio_join() or cio_detach() it.  Returns NULL with errno set
/// (ENOMEM, EINVAL for a NULL fn, EPERM outside a loop).  Does not await.
/// A task gets its stack when it first runs: one that cannot get one then
/// (out of memory) finishes with -ENOMEM without running (a line on stderr
/// says so).  Awaits never fail for lack of memory: a task's timer is
/// reserved when it is spawned.
#define cio_spawn(fn, arg) cio_spawn_at(NULL, (fn), (arg), __FILE__, __LINE__)

/// As cio_spawn(), with a name shown by cio_task_name() and in every
/// diagnostic.  The name is copied (truncated to 47 bytes).
#define cio_spawn_named(name, fn, arg) cio_spawn_at((name), (fn), (arg), __FILE__, __LINE__)

/// What the spawn macros call; `file` and `line` record the spawn site for
/// debug reports (`file` must be a string literal or otherwise outlive the task).
cio_task *cio_spawn_at(const char *name, cio_fn fn, void *arg, const char *file, int line);

/// Awaits until `t` has finished and returns its outcome; the handle is
/// released and must not be used again.  If the caller is cancelled while
/// waiting, `t` is cancelled too and still waited for (so nothing leaks); the
/// caller's own cancellation stays pending for its next await.  Returns
/// -EINVAL for NULL or a released handle, -EDEADLK for joining oneself,
/// -EPERM outside a task.
CIO_AWAIT int cio_join(cio_task *t);

/// Gives up the handle: the task runs on and is freed when it finishes (its
/// outcome is then dropped; debug mode reports a failure nobody read).
/// Returns 0 or -EINVAL.  Does not await.
int cio_detach(cio_task *t);

/// Requests cancellation of `t`: its current or next await returns
/// -ECANCELED, and so does every later one until it returns (level
/// triggered), except inside a shield scope.  A task cancelled before it
/// started never runs its body.  Returns 1 if the request was made, 0 if `t`
/// had already finished, -EINVAL for a bad handle.  Does not await.
int cio_cancel(cio_task *t);

/// True once `t` has finished (returned, or cancelled before starting).
bool cio_task_done(const cio_task *t);

/// `t`'s outcome if it has finished, else -EBUSY (asyncio's
/// InvalidStateError).  Returns -EINVAL for a bad handle.
int cio_task_result(const cio_task *t);

/// True if cancellation of `t` has been requested.
bool cio_task_cancelled(const cio_task *t);

/// The task's name: the one given at spawn, or "task-<id>" (made on first
/// call).  Owned by the task: valid until its handle is joined or detached.
/// Does not await.
const char *cio_task_name(const cio_task *t);

/// The task's id, unique within the process (1 = the first task).
uint64_t cio_task_id(const cio_task *t);

/// The running task, or NULL outside a task.
cio_task *cio_current(void);

/// Fills out[0..cap) with the loop's live tasks, in spawn order, and returns
/// how many there are in all (which may exceed cap; which ones fill a short
/// array is then unspecified).  0 outside a loop.  Does not await.  It
/// walks the loop's task records, so it costs in proportion to the most
/// tasks the loop ever had at once: for inspection, not for hot paths.
size_t cio_all_tasks(cio_task **out, size_t cap);

// ---------------------------------------------------------------- scopes

/// A timeout or shield scope in the current task (asyncio.timeout, Trio's
/// move_on_after and shielded cancel scopes).  The caller provides the
/// storage (usually on its stack); the fields are private.  Scopes nest and
/// must be closed innermost first with cio_scope_end().
typedef struct cio_scope {
  int64_t deadline_;         ///< private: this scope's deadline (loop ns)
  int64_t saved_deadline_;   ///< private: the task's deadline before it opened
  struct cio_scope *parent_; ///< private: the enclosing scope
  void *task_;               ///< private: the task that opened it
  int kind_;                 ///< private: timeout or shield
  int fired_;                ///< private: this scope's deadline interrupted an await
} cio_scope;

/// "No timeout": pass as a duration to wait without limit.
#define CIO_FOREVER (__builtin_inf())

/// Opens a timeout scope: once `seconds` have passed, every await inside it
/// returns -ETIMEDOUT (level triggered, like cancellation) until the scope is
/// closed.  A scope never extends an enclosing one: the task's deadline is the
/// earliest of its open scopes.  0 or a negative duration expires at once
/// (the next await fails, as asyncio.timeout(0)); CIO_FOREVER never expires.
/// Returns 0, -EINVAL for NaN or a NULL scope, -EPERM outside a task.
int cio_timeout_begin(cio_scope *scope, double seconds);

/// As cio_timeout_begin() with an absolute deadline on the cio_now() clock
/// (asyncio.timeout_at).  cio_now() is the round's time: `cio_now() + 5`
/// computed late in a long round counts from the round's start, while
/// cio_timeout_begin(scope, 5) counts from its call.
int cio_timeout_at_begin(cio_scope *scope, double when);

/// Opens a shield scope: awaits inside are interrupted neither by the task's
/// cancellation nor by enclosing timeout scopes (a timeout scope opened
/// inside it still works).  For cleanup that must await.  A cancellation
/// requested meanwhile is kept and delivered at the first await after the
/// scope closes.  Returns 0, -EINVAL, -EPERM.
int cio_shield_begin(cio_scope *scope);

/// Closes `scope`, which must be the task's innermost open scope.  Returns
/// -ETIMEDOUT if this timeout scope's deadline interrupted an await inside it
/// (when nested deadlines expire together, the outermost of them reports
/// it), otherwise 0; -EINVAL if `scope` is not the innermost open scope.
int cio_scope_end(cio_scope *scope);

// ---------------------------------------------------------------- errors

/// Name resolution failures: getaddrinfo's answers, as codes of their own
/// outside errno's range (still negative), so that "no such host" is not
/// confused with a missing file.  cio_strerror() names each in getaddrinfo's
/// words (gai_strerror).  Returned by the calls that resolve a host name
/// (cio_tcp_connect(); cio_tcp_listen() and cio_udp_open() for a host that is
/// not a numeric address).  A bad port or service stays -EINVAL, an
/// allocation failure -ENOMEM, a system error its -errno.
#define CIO_EAI_NONAME (-3001) ///< the name does not exist (EAI_NONAME)
#define CIO_EAI_NODATA (-3002) ///< the name exists but has no address (EAI_NODATA)
#define CIO_EAI_AGAIN (-3003)  ///< no answer for now: no DNS server reached, try later (EAI_AGAIN)
#define CIO_EAI_FAIL (-3004)   ///< the DNS server failed for good (EAI_FAIL)
/// The range reserved for name resolution codes, CIO_EAI_LAST <= code <=
/// CIO_EAI_FIRST; codes may be added inside it.
#define CIO_EAI_FIRST (-3001)
#define CIO_EAI_LAST (-3099)

/// TLS failures (<cio/tls.h>), codes of their own like the CIO_EAI_* ones.
/// The certificate codes come from the client's verification of the
/// server's chain; cio_tls_error_string() gives OpenSSL's own reason.
#define CIO_TLS_HANDSHAKE (-3101) ///< the handshake failed (protocol, cipher, alert from the peer)
#define CIO_TLS_CERT_EXPIRED                                                                       \
  (-3102) ///< a certificate of the chain has expired (or is not valid yet)
#define CIO_TLS_CERT_UNTRUSTED                                                                     \
  (-3103) ///< self-signed or issued by a CA the trust store does not hold
#define CIO_TLS_CERT_HOSTNAME (-3104) ///< the certificate is for another host name or address
#define CIO_TLS_CERT_INVALID (-3105)  ///< the certificate failed verification for another reason
#define CIO_TLS_PROTOCOL (-3106) ///< a TLS error after the handshake (bad record, unexpected end)
/// The range reserved for TLS codes, CIO_TLS_LAST <= code <= CIO_TLS_FIRST.
#define CIO_TLS_FIRST (-3101)
#define CIO_TLS_LAST (-3199)

/// HTTP client failures (<cio/http_client.h>).
#define CIO_HTTP_CONNECT_TIMEOUT (-3201) ///< connecting (TCP, TLS) took longer than connect_timeout
#define CIO_HTTP_READ_TIMEOUT (-3202)    ///< the server sent nothing for read_timeout
#define CIO_HTTP_WRITE_TIMEOUT (-3203)   ///< sending the request made no progress for write_timeout
#define CIO_HTTP_POOL_TIMEOUT (-3204)    ///< no connection could be had within pool_timeout
#define CIO_HTTP_PROTOCOL (-3205) ///< a malformed or incomplete response (bad head, short body)
#define CIO_HTTP_TOO_MANY_REDIRECTS (-3206) ///< more redirects than max_redirects
#define CIO_HTTP_BODY_TOO_LARGE (-3207)     ///< the response body exceeds max_body
/// The range reserved for HTTP client codes, CIO_HTTP_LAST <= code <= CIO_HTTP_FIRST.
#define CIO_HTTP_FIRST (-3201)
#define CIO_HTTP_LAST (-3299)

/// PostgreSQL failures (<cio/pg.h>).
#define CIO_PG_ERROR (-3301)        ///< the server reported an error: see cio_pg_sqlstate()
#define CIO_PG_CONNECT (-3302)      ///< could not connect (refused, authentication, bad conninfo)
#define CIO_PG_CONN_LOST (-3303)    ///< the connection broke (or was closed after a failed cancel)
#define CIO_PG_PROTOCOL (-3304)     ///< an answer cio cannot read (unexpected result, bad value)
#define CIO_PG_POOL_TIMEOUT (-3305) ///< no pool connection could be had within the timeout
#define CIO_PG_TYPE (-3306)         ///< a getter does not fit the column's type
#define CIO_PG_NULL (-3307)         ///< the value asked for is SQL NULL
#define CIO_PG_ABORTED (-3308)      ///< not run: an earlier query of its batch failed
/// The range reserved for PostgreSQL codes, CIO_PG_LAST <= code <= CIO_PG_FIRST.
#define CIO_PG_FIRST (-3301)
#define CIO_PG_LAST (-3399)

/// The process pool's (<cio/procpool.h>).
#define CIO_PROC_WORKER_DIED (-3401) ///< the worker running the job crashed or exited
#define CIO_PROC_POOL_BROKEN (-3402) ///< the pool's zygote is gone: no worker can be started
/// The range the process pool's codes are in.
#define CIO_PROC_FIRST (-3401)
#define CIO_PROC_LAST (-3499)

/// A short description of a cio return code (negative errno, CIO_EAI_*, CIO_TLS_*, CIO_HTTP_*,
/// CIO_PG_*, CIO_PROC_*),
/// never NULL.  Does not await.
const char *cio_strerror(int code);

#ifdef __cplusplus
}
#endif

#include "cio/combine.h"
#include "cio/debug.h"
#include "cio/io.h"
#include "cio/net.h"
#include "cio/process.h"
#include "cio/stream.h"
#include "cio/sync.h"
#include "cio/version.h"

#endif
