// SPDX-License-Identifier: MIT
//
// Allocation-failure injection (src/alloc.h): for each workload, count the
// allocations it makes (N), then run it N times, each in a child process
// with the i-th allocation failing (i = 1..N).  Each run must end with the
// workload reporting a documented failure (-ENOMEM, NULL with errno
// ENOMEM; for HTTP a 500/503 answer or a closed connection) or succeeding
// (a failure the library retries or tolerates), and must not crash, hang
// (the child is killed after a timeout) or leak: each child gets the
// runner's checks (no descriptor left open; LeakSanitizer in the ASan
// build; valgrind's leak check under `make test-valgrind`).
//
// Under valgrind and TSan (slow) every k-th site is walked, k from
// CIO_TEST_SCALE; everywhere else, every site.  CIO_FAULTS_VERBOSE=1 prints
// each site's verdict and the backtrace of the allocation that failed.
//
// A workload runs in a task of a fresh loop; most are armed inside the main
// task, so their walk covers their own calls, but the signal workload and
// the combined one are armed before cio_run(), so theirs also covers the
// loop's setup (where the signal state is allocated).  Some first set the
// scene unarmed: the server's and the HTTP walks start with every stack of
// the loop's pool but one (or none) taken, so that the handler (or the
// acceptor) is the first task that needs a new slab of stacks.  The HTTP
// app and its route are made once, before the walks, which cover serving
// it a request.
#include <cio.h>
#include <cio/http.h>
#include <cio/sync.h>
#include <execinfo.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "context/valgrind_compat.h"
#include "helpers/test.h"
#include "task/task.h"

#define ARM_ALL (1L << 50) // "fail the 2^50-th allocation": counts them without failing any
#define TIMEOUT 10.0       // seconds a workload's client waits before it calls it a hang

// A workload's outcome is 0 (it worked) or -ENOMEM (it reported a documented
// failure); anything else fails the test.  Each one asserts on what must
// hold whatever fails (errno ENOMEM with a NULL, nothing left running).
typedef int (*workload_fn)(void);

// A task that does nothing but yield once.
static int trivial(void *arg) {
  (void)arg;
  return cio_yield();
}

static int sleeper(void *arg) { return cio_sleep(*(const double *)arg); }

// Joins a task whose outcome does not matter.
static void reap(cio_task *t) {
  int rc = cio_join(t);
  (void)rc;
}

// The first failure of a run: keeps the first negative code.
static void note(int *first, int rc) {
  if (rc < 0 && *first == 0) *first = rc;
}

// A constructor returned NULL: it must say ENOMEM.
static int null_means_enomem(const char *what) {
  if (errno != ENOMEM) test_fail(__FILE__, __LINE__, "%s: NULL with errno %d", what, errno);
  return -ENOMEM;
}

// Spawns n tasks; if one cannot be spawned, the others are cancelled and
// joined and -ENOMEM returned.
static int spawn_n(cio_task **t, size_t n, cio_fn fn, void *const *args) {
  for (size_t i = 0; i < n; i++) {
    t[i] = cio_spawn(fn, args ? args[i] : NULL);
    if (t[i]) continue;
    int rc = null_means_enomem("cio_spawn");
    for (size_t k = 0; k < i; k++) {
      cio_cancel(t[k]);
      reap(t[k]);
    }
    return rc;
  }
  return 0;
}

// ---------------------------------------------------------------- tasks

// 40 tasks (more than the loop's first slab of stacks, and its first timer
// reservation, hold), one named.
static int wl_spawn_join(void) {
  cio_task *t[40];
  int first = 0;
  for (int i = 0; i < 40; i++) {
    t[i] = i == 0 ? cio_spawn_named("named", trivial, NULL) : cio_spawn(trivial, NULL);
    if (!t[i]) note(&first, null_means_enomem("cio_spawn"));
  }
  for (int i = 0; i < 40; i++)
    if (t[i]) {
      if (i == 1) (void)cio_task_name(t[i]); // "task-<id>" is made on first call
      note(&first, cio_join(t[i]));
    }
  return first;
}

// Gather of 10 tasks: more than the watcher holds inline.
static int wl_gather(void) {
  cio_task *t[10];
  int outcomes[10];
  int rc = spawn_n(t, 10, trivial, NULL);
  if (rc < 0) return rc;
  rc = cio_gather(t, 10, outcomes, 0);
  if (rc == -ENOMEM) { // nothing was taken: the handles are still ours
    for (int i = 0; i < 10; i++) reap(t[i]);
    return rc;
  }
  for (int i = 0; rc == 0 && i < 10; i++) ASSERT_EQ(outcomes[i], 0);
  return rc;
}

// cio_wait over 10 tasks, as_completed, wait_for and a timeout scope.
static int wl_wait(void) {
  static const double now = 0, long_ = 30;
  void *args[10];
  for (int i = 0; i < 10; i++) args[i] = (void *)(i == 0 ? &now : &long_);
  cio_task *t[10];
  int rc = spawn_n(t, 10, sleeper, args);
  if (rc < 0) return rc;
  int first = 0;
  rc = cio_wait(t, 10, CIO_FIRST_COMPLETED, TIMEOUT);
  if (rc >= 0) ASSERT_EQ(rc, 1);
  note(&first, rc);
  cio_as_completed *it;
  rc = cio_as_completed_begin(&it, t, 10, TIMEOUT);
  if (rc == 0) {
    cio_task *done;
    ASSERT_EQ(cio_as_completed_next(it, &done), 1); // the one that finishes
    ASSERT(done == t[0]);                   // (first, whether or not cio_wait reordered them)
    ASSERT_EQ(cio_as_completed_end(it), 0); // the others are still ours
  }
  note(&first, rc);
  for (int i = 0; i < 10; i++) {
    cio_cancel(t[i]);
    reap(t[i]);
  }
  cio_task *s = cio_spawn(sleeper, (void *)&long_);
  if (!s) return null_means_enomem("cio_spawn");
  rc = cio_wait_for(s, 0.01);
  ASSERT_EQ(rc, -ETIMEDOUT);
  cio_scope scope;
  ASSERT_EQ(cio_timeout_begin(&scope, 0.01), 0);
  rc = cio_sleep(long_);
  ASSERT_EQ(rc, -ETIMEDOUT);
  ASSERT_EQ(cio_scope_end(&scope), -ETIMEDOUT);
  return first;
}

// A group of three sleepers and one member that fails: the failure cancels
// the sleepers, and cio_group_wait() returns it.
static int failing_member(void *arg) {
  (void)arg;
  int rc = cio_yield();
  return rc < 0 ? rc : -EIO;
}

static int wl_group(void) {
  static const double long_ = 30;
  cio_group *g = cio_group_new();
  if (!g) return null_means_enomem("cio_group_new");
  cio_task *m[4] = {0};
  int spawned = 0;
  for (int i = 0; i < 4; i++) {
    m[i] = i < 3 ? cio_group_spawn(g, sleeper, (void *)&long_)
                 : cio_group_spawn_named(g, "failing", failing_member, NULL);
    if (!m[i]) {
      spawned = null_means_enomem("cio_group_spawn");
      for (int k = 0; k < i; k++) cio_cancel(m[k]); // no failure will cancel them
      break;
    }
  }
  int rc = cio_group_wait(g);
  int failures[4];
  size_t n = cio_group_failures(g, failures, 4);
  ASSERT_EQ(cio_group_free(g), 0);
  if (spawned < 0) return spawned;
  if (rc == -ENOMEM) return rc; // a member could not start (no stack)
  ASSERT_EQ(rc, -EIO);
  if (n) ASSERT_EQ(failures[0], -EIO); // (the list itself may have found no memory)
  return 0;
}

// ---------------------------------------------------------------- sync

struct sync_set {
  cio_lock *lock;
  cio_sem *sem;
  cio_event *event;
  cio_cond *cond;
  cio_barrier *barrier;
  bool flag; // set by the helper under the condition's lock
};

static bool flag_set(void *arg) { return ((struct sync_set *)arg)->flag; }

static int sync_helper(void *arg) {
  struct sync_set *s = arg;
  int rc = cio_event_wait(s->event);
  if (rc < 0) return rc;
  if ((rc = cio_lock_acquire(cio_cond_lock(s->cond))) < 0) return rc;
  s->flag = true;
  cio_cond_notify_all(s->cond);
  cio_lock_release(cio_cond_lock(s->cond));
  rc = cio_sem_acquire(s->sem);
  if (rc == 0) cio_sem_release(s->sem);
  int b = cio_barrier_wait(s->barrier);
  return rc < 0 ? rc : b < 0 ? b : 0;
}

static int wl_sync(void) {
  struct sync_set s = {cio_lock_new(),     cio_sem_new(1),     cio_event_new(),
                       cio_cond_new(NULL), cio_barrier_new(2), false};
  int rc = 0;
  if (!s.lock || !s.sem || !s.event || !s.cond || !s.barrier) rc = null_means_enomem("*_new");
  cio_task *t = rc == 0 ? cio_spawn(sync_helper, &s) : NULL;
  if (rc == 0 && !t) rc = null_means_enomem("cio_spawn");
  if (t) {
    ASSERT_EQ(cio_lock_acquire(s.lock), 0);
    ASSERT_EQ(cio_sem_acquire(s.sem), 0);
    ASSERT_EQ(cio_event_set(s.event), 0);
    ASSERT_EQ(cio_lock_acquire(cio_cond_lock(s.cond)), 0);
    ASSERT_EQ(cio_cond_wait_until(s.cond, flag_set, &s, TIMEOUT), 0);
    ASSERT_EQ(cio_lock_release(cio_cond_lock(s.cond)), 0);
    ASSERT_EQ(cio_sem_release(s.sem), 0);
    ASSERT_EQ(cio_lock_release(s.lock), 0);
    int b = cio_barrier_wait_for(s.barrier, TIMEOUT);
    ASSERT(b >= 0);
    rc = cio_join(t);
  }
  if (s.lock) ASSERT_EQ(cio_lock_free(s.lock), 0);
  if (s.sem) ASSERT_EQ(cio_sem_free(s.sem), 0);
  if (s.event) ASSERT_EQ(cio_event_free(s.event), 0);
  if (s.cond) ASSERT_EQ(cio_cond_free(s.cond), 0);
  if (s.barrier) ASSERT_EQ(cio_barrier_free(s.barrier), 0);
  return rc;
}

// ---------------------------------------------------------------- queue

static int items[100];

// Takes the 5 items in order (the queue is FIFO).
static int consumer(void *arg) {
  cio_queue *q = arg;
  for (int i = 0; i < 5; i++) {
    void *item;
    int rc = cio_queue_get_for(q, &item, TIMEOUT);
    if (rc < 0) return rc;
    ASSERT(item == &items[i]);
    ASSERT_EQ(cio_queue_task_done(q), 0);
  }
  return 0;
}

// 5 items through a queue of 2 from main to a consumer; then 100 items
// through an unbounded priority queue, which grows its storage.
static int wl_queue(void) {
  cio_queue *q = cio_queue_new(CIO_QUEUE_FIFO, 2);
  if (!q) return null_means_enomem("cio_queue_new");
  cio_task *t = cio_spawn(consumer, q);
  int rc = t ? 0 : null_means_enomem("cio_spawn");
  for (int i = 0; t && i < 5 && rc == 0; i++) rc = cio_queue_put_for(q, &items[i], TIMEOUT);
  if (t) {
    if (rc < 0) cio_cancel(t);
    int c = cio_join(t);
    if (rc == 0) rc = c;
  }
  if (rc == 0) ASSERT_EQ(cio_queue_join_for(q, TIMEOUT), 0);
  void *item;
  while (cio_queue_get_nowait(q, &item) == 0) {
  }
  ASSERT_EQ(cio_queue_free(q), 0);
  if (rc < 0) return rc;

  cio_queue *p = cio_queue_new(CIO_QUEUE_PRIORITY, 0);
  if (!p) return null_means_enomem("cio_queue_new");
  int n = 0;
  for (; n < 100 && rc == 0; n++) rc = cio_queue_put_priority(p, &items[n], 100 - n, 0);
  if (rc < 0) n--;
  for (int i = 0; i < n; i++) {
    ASSERT_EQ(cio_queue_get_nowait(p, &item), 0);
    ASSERT(item == &items[n - 1 - i]); // lowest priority first
  }
  ASSERT_EQ(cio_queue_free(p), 0);
  return rc;
}

// 5 items through a queue between loops (cio_xqueue: here both ends on one
// loop) of 2, from main to a consumer that acknowledges each.
static int xconsumer(void *arg) {
  cio_xqueue *q = arg;
  for (int i = 0; i < 5; i++) {
    void *item;
    int rc = cio_xqueue_get_for(q, &item, TIMEOUT);
    if (rc < 0) return rc;
    ASSERT(item == &items[i]);
    ASSERT_EQ(cio_xqueue_task_done(q), 0);
  }
  return 0;
}

static int wl_xqueue(void) {
  cio_xqueue *q = cio_xqueue_new(2);
  if (!q) return null_means_enomem("cio_xqueue_new");
  cio_task *t = cio_spawn(xconsumer, q);
  int rc = t ? 0 : null_means_enomem("cio_spawn");
  for (int i = 0; t && i < 5 && rc == 0; i++) rc = cio_xqueue_put_for(q, &items[i], TIMEOUT);
  if (t) {
    if (rc < 0) cio_cancel(t);
    int c = cio_join(t);
    if (rc == 0) rc = c;
  }
  if (rc == 0) ASSERT_EQ(cio_xqueue_join_for(q, TIMEOUT), 0);
  void *item;
  while (cio_xqueue_get_nowait(q, &item) == 0) {
  }
  ASSERT_EQ(cio_xqueue_free(q), 0);
  return rc;
}

// ---------------------------------------------------------------- threads

static void *add_one(void *arg) { return (void *)((intptr_t)arg + 1); }

static int released; // free_fn calls
static void release_arg(void *arg, void *unclaimed) {
  (void)unclaimed;
  free(arg);
  released++;
}

static int times_two(void *arg) { return *(int *)arg * 2; }

// cio_loop_call() to the caller's own loop (the path is the one between
// loops: a record, hooks, a post, a task).
static int wl_loop_call(void) {
  int v = 21, result = 0;
  int rc = cio_loop_call(cio_loop_current(), times_two, &v, &result);
  if (rc == 0 && result != -ENOMEM) ASSERT_EQ(result, 42); // the task's own outcome
  return rc == 0 && result == -ENOMEM ? -ENOMEM : rc;
}

static int wl_to_thread(void) {
  void *r = NULL;
  int rc = cio_to_thread(add_one, (void *)41, &r);
  if (rc < 0) return rc;
  ASSERT_EQ((intptr_t)r, 42);
  released = 0;
  rc = cio_to_thread_owned(add_one, malloc(16), release_arg, &r);
  ASSERT_EQ(released, 1); // arg released, whatever the outcome
  return rc;
}

// ---------------------------------------------------------------- streams and servers

// Tasks that hold stacks, so that the next tasks to start need a new slab
// of them: a server under load, whose handler (or acceptor) is the first
// task that cannot get a stack.
static cio_event *ballast_done;
static cio_task *ballast[64];
static size_t nballast;

static int hold_stack(void *arg) {
  (void)arg;
  return cio_event_wait(ballast_done);
}

// Leaves `left` stacks free in the loop's pool (white box: its free list).
static void hold_stacks(size_t left) {
  ballast_done = cio_event_new();
  ASSERT(ballast_done);
  size_t free_now = cio__tls_loop->stacks.nfree;
  ASSERT(free_now >= left && free_now - left <= 64);
  for (nballast = 0; nballast < free_now - left; nballast++)
    ASSERT((ballast[nballast] = cio_spawn(hold_stack, NULL)));
  ASSERT_EQ(cio_yield(), 0); // they start, each taking a stack
  ASSERT_EQ(cio__tls_loop->stacks.nfree, left);
}

static void release_stacks(void) {
  ASSERT_EQ(cio_event_set(ballast_done), 0);
  for (size_t i = 0; i < nballast; i++) ASSERT_EQ(cio_join(ballast[i]), 0);
  ASSERT_EQ(cio_event_free(ballast_done), 0);
}

static void last_stack_to_acceptor(void) { hold_stacks(1); }
static void no_stack_left(void) { hold_stacks(0); }

// Accepts one connection on `arg` (a listener) and echoes one line.
static int line_peer(void *arg) {
  cio_sock *s;
  int rc = cio_sock_accept(arg, &s);
  if (rc < 0) return rc;
  cio_stream *st = cio_stream_new(s, 0);
  if (!st) {
    cio_sock_close(s);
    return null_means_enomem("cio_stream_new");
  }
  char line[64];
  ssize_t n = cio_stream_readline(st, line, sizeof line);
  rc = n < 0 ? (int)n : cio_stream_write(st, line, (size_t)n);
  if (rc == 0) rc = cio_stream_drain(st);
  int closed = cio_stream_close(st);
  return rc < 0 ? rc : closed;
}

// One line there and back over a stream.  Returns 0, the failure, or
// -ENODATA if the peer closed (or reset) the connection without answering.
static int ask_line(const char *port) {
  cio_stream *st;
  int rc = cio_stream_connect(&st, "localhost", port); // a name: resolved on the pool
  if (rc < 0) return rc;
  rc = cio_stream_write(st, "hello\n", 6);
  if (rc == 0) rc = cio_stream_drain(st);
  char back[64];
  ssize_t n = rc < 0 ? rc : cio_stream_readline(st, back, sizeof back);
  if (n == 0 || n == -ECONNRESET || n == -EPIPE) n = -ENODATA; // closed without an answer
  if (n > 0) {
    ASSERT_EQ(n, 6);
    ASSERT(memcmp(back, "hello\n", 6) == 0);
  }
  if (n < 0) rc = (int)n;
  int closed = cio_stream_close(st);
  return rc < 0 ? rc : closed;
}

// Within a timeout scope, so that a hang shows as -ETIMEDOUT.
static int bounded(int (*fn)(const char *port), const char *port) {
  cio_scope scope;
  ASSERT_EQ(cio_timeout_begin(&scope, TIMEOUT), 0);
  int rc = fn(port);
  if (cio_scope_end(&scope) == -ETIMEDOUT) test_fail(__FILE__, __LINE__, "hung: %d", rc);
  return rc;
}

static int wl_stream(void) {
  cio_sock *l;
  int rc = cio_tcp_listen(&l, "127.0.0.1", "0", 0, 0);
  if (rc < 0) return rc;
  char port[8];
  snprintf(port, sizeof port, "%d", cio_sock_port(l));
  cio_task *peer = cio_spawn(line_peer, l);
  if (!peer) {
    cio_sock_close(l);
    return null_means_enomem("cio_spawn");
  }
  rc = bounded(ask_line, port);
  if (rc < 0) cio_cancel(peer); // it may still wait to accept
  int prc = cio_join(peer);
  cio_sock_close(l);
  if (rc == -ENODATA && prc == -ENOMEM) return prc; // the peer could not answer
  if (rc == 0 || rc == -ENOMEM) return rc;
  test_fail(__FILE__, __LINE__, "stream: %s (peer: %s)", cio_strerror(rc), cio_strerror(prc));
}

static int echo_line(cio_stream *conn, void *arg) {
  (void)arg;
  char line[64];
  ssize_t n = cio_stream_readline(conn, line, sizeof line);
  return n <= 0 ? (int)n : cio_stream_write(conn, line, (size_t)n); // the server flushes
}

// A server (cio_server_start) and a client.  A connection the server has no
// memory for is closed: the client sees the connection end.  The acceptor
// takes the last free stack, so the handler's is the first of a new slab.
static int wl_server(void) {
  cio_server *srv;
  int rc = cio_server_start(&srv, "127.0.0.1", "0", echo_line, NULL, NULL);
  if (rc < 0) return rc;
  char port[8];
  snprintf(port, sizeof port, "%d", cio_server_port(srv));
  rc = bounded(ask_line, port);
  ASSERT(cio_server_close(srv, 1.0) >= 0);
  if (rc == -ENODATA) return -ENOMEM; // dropped by the server
  return rc;
}

// ---------------------------------------------------------------- process, file, signal

static int wl_process(void) {
  cio_process *p;
  char *argv[] = {"cat", NULL};
  cio_process_opts o = {.pipe_stdin = true, .pipe_stdout = true};
  int rc = cio_process_spawn(&p, "cat", argv, &o);
  if (rc < 0) return rc;
  rc = cio_stream_write(cio_process_stdin(p), "ping\n", 5);
  if (rc == 0) rc = cio_process_close_stdin(p);
  char line[16];
  ssize_t n = rc < 0 ? rc : cio_stream_readline(cio_process_stdout(p), line, sizeof line);
  if (n >= 0) {
    ASSERT_EQ(n, 5);
    int code = -1;
    ASSERT_EQ(cio_process_wait(p, &code), 0);
    ASSERT_EQ(code, 0);
  }
  ASSERT_EQ(cio_process_free(p), 0);
  return n < 0 ? (int)n : 0;
}

static char file_path[96]; // a file of FILE_SIZE bytes, made before the walk
#define FILE_SIZE 10000

static int wl_file(void) {
  char *data;
  size_t len;
  int rc = cio_file_read_all(file_path, 0, &data, &len);
  if (rc < 0) return rc;
  ASSERT_EQ(len, FILE_SIZE);
  ASSERT_EQ(data[len - 1], 'x');
  ASSERT_EQ(data[len], '\0');
  free(data);
  return 0;
}

static bool signal_waiting; // main is in cio_signal_wait()

static int raiser(void *arg) {
  (void)arg;
  if (cio_yield() == 0 && signal_waiting) kill(getpid(), SIGUSR1);
  return 0;
}

static int wl_signal(void) {
  cio_task *t = cio_spawn(raiser, NULL);
  if (!t) return null_means_enomem("cio_spawn");
  signal_waiting = true;
  int rc = cio_signal_wait(SIGUSR1);
  signal_waiting = false;
  ASSERT_EQ(cio_join(t), 0);
  if (rc == -ENOMEM) return rc;
  ASSERT_EQ(rc, SIGUSR1);
  return 0;
}

// ---------------------------------------------------------------- HTTP

static int item(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)arg;
  char body[64];
  snprintf(body, sizeof body, "{\"id\":%lld,\"ok\":true}",
           (long long)cio_http_param_int(req, "id"));
  return cio_http_json(res, 200, body);
}

// GET /items/42; 0 for the JSON answer, -ENOMEM for a 500 or 503 answer or
// a connection closed (or reset) without one, or the client's own -ENOMEM.
static int get_item(const char *port) {
  cio_stream *st;
  int rc = cio_stream_connect(&st, "127.0.0.1", port);
  if (rc < 0) return rc;
  static const char req[] = "GET /items/42 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  rc = cio_stream_write(st, req, sizeof req - 1);
  if (rc == 0) rc = cio_stream_drain(st);
  char answer[2048];
  size_t got = 0;
  while (rc == 0 && got < sizeof answer - 1) {
    ssize_t n = cio_stream_read(st, answer + got, sizeof answer - 1 - got);
    if (n == 0) break;
    if (n < 0) rc = (int)n;
    if (n > 0) got += (size_t)n;
  }
  answer[got] = '\0';
  int closed = cio_stream_close(st);
  (void)closed;                                           // (the server may have reset it)
  if (rc == -ECONNRESET || rc == -EPIPE) got = 0, rc = 0; // the server gave up on it
  if (rc < 0) return rc;
  if (getenv("CIO_FAULTS_VERBOSE")) fprintf(stderr, "answer: %.40s\n", got ? answer : "(none)");
  if (got == 0) return -ENOMEM; // closed without an answer
  if (strncmp(answer, "HTTP/1.1 500", 12) == 0 || strncmp(answer, "HTTP/1.1 503", 12) == 0)
    return -ENOMEM;
  ASSERT(strncmp(answer, "HTTP/1.1 200", 12) == 0);
  ASSERT_STR_CONTAINS(answer, "{\"id\":42,\"ok\":true}");
  return 0;
}

// The app, made before the walk: the walk covers serving it a request.
static cio_http_app *app;

static void make_app(void) {
  app = cio_http_app_new();
  ASSERT(app);
  ASSERT_EQ(cio_http_route(app, "GET", "/items/{id:int}", item, NULL), 0);
}

// A request to the app.  (In its own walk no stack is left free: the
// server's acceptor starts on the first of a new slab.)
static int wl_http(void) {
  cio_server *srv;
  int rc = cio_http_serve(app, "127.0.0.1", "0", NULL, &srv);
  if (rc < 0) return rc;
  char port[8];
  snprintf(port, sizeof port, "%d", cio_server_port(srv));
  rc = bounded(get_item, port);
  ASSERT(cio_server_close(srv, 1.0) >= 0);
  return rc;
}

// ---------------------------------------------------------------- all of them

static const struct workload {
  const char *name;     // as printed
  workload_fn fn;       // the workload
  bool from_run;        // armed before cio_run(): the loop's setup counts too
  void (*before)(void); // run unarmed first (in the main task), or NULL
  void (*after)(void);  // run unarmed last, or NULL
} workloads[] = {
    {"spawn+join", wl_spawn_join, false, NULL, NULL},
    {"gather", wl_gather, false, NULL, NULL},
    {"wait", wl_wait, false, NULL, NULL},
    {"group", wl_group, false, NULL, NULL},
    {"sync", wl_sync, false, NULL, NULL},
    {"queue", wl_queue, false, NULL, NULL},
    {"to_thread", wl_to_thread, false, NULL, NULL},
    {"loop_call", wl_loop_call, false, NULL, NULL},
    {"xqueue", wl_xqueue, false, NULL, NULL},
    {"stream", wl_stream, false, NULL, NULL},
    {"server", wl_server, false, last_stack_to_acceptor, release_stacks},
    {"process", wl_process, false, NULL, NULL},
    {"file", wl_file, false, NULL, NULL},
    {"signal", wl_signal, true, NULL, NULL},
    {"http", wl_http, false, no_stack_left, release_stacks},
};

// Every workload in turn in one loop: each must still work (or fail as
// documented) after an earlier one met the failure.
static int wl_all(void) {
  int first = 0;
  for (size_t i = 0; i < sizeof workloads / sizeof workloads[0]; i++) {
    int rc = workloads[i].fn();
    if (rc != 0 && rc != -ENOMEM)
      test_fail(__FILE__, __LINE__, "%s: %s", workloads[i].name, cio_strerror(rc));
    note(&first, rc);
  }
  return first;
}

// ---------------------------------------------------------------- a put from another thread

// An item put from another thread, when the queue's loop has no memory to
// store it: it is stored at a later pass, not dropped (it was dropped, with a
// line on stderr).
static cio_queue *xq;

static void *put_from_thread(void *arg) {
  (void)arg;
  // Its record (1) and its post to the loop (2) get memory; the queue's
  // room for it, on the loop (3), does not.
  cio__alloc_fail_after(3);
  return (void *)(intptr_t)cio_queue_put_nowait(xq, &items[64]);
}

static int cross_thread_main(void *arg) {
  (void)arg;
  xq = cio_queue_new(CIO_QUEUE_FIFO, 0);
  ASSERT(xq);
  for (int i = 0; i < 64; i++) ASSERT_EQ(cio_queue_put_nowait(xq, &items[i]), 0); // storage full
  pthread_t th;
  ASSERT_EQ(pthread_create(&th, NULL, put_from_thread, NULL), 0);
  for (int i = 0; i < 2000 && cio_queue_size(xq) < 65; i++) ASSERT_EQ(cio_sleep(0.001), 0);
  void *rc;
  pthread_join(th, &rc);
  ASSERT_EQ((intptr_t)rc, 0);
  ASSERT_EQ(cio__alloc_fail_after(0), 0); // the failure happened
  ASSERT_EQ(cio_queue_size(xq), 65);
  void *item;
  for (int i = 0; i < 65; i++) {
    ASSERT_EQ(cio_queue_get_nowait(xq, &item), 0);
    ASSERT(item == &items[i]);
  }
  ASSERT_EQ(cio_queue_free(xq), 0);
  return 0;
}

static void queue_put_from_a_thread_without_memory(void) {
  ASSERT_EQ(cio_run(cross_thread_main, NULL), 0);
}

// ---------------------------------------------------------------- the walk

enum { DOCUMENTED = 10, SUCCEEDED = 11, UNREACHED = 12 }; // a child's exit codes

static const struct workload *current; // the workload the next child runs
static long fail_at;                   // the allocation it fails (ARM_ALL: none)
static long left;                      // allocations still to go when it was disarmed
static long *shared_count;             // the counting child's count, for the parent

static int main_task(void *arg) {
  (void)arg;
  if (current->before) current->before();
  if (!current->from_run) cio__alloc_fail_after(fail_at);
  int rc = current->fn();
  if (!current->from_run) left = cio__alloc_fail_after(0);
  if (current->after) current->after();
  return rc;
}

// Runs the current workload armed at fail_at.
static int run_armed(void) {
  if (current->from_run) cio__alloc_fail_after(fail_at);
  int rc = cio_run(main_task, NULL);
  if (current->from_run) left = cio__alloc_fail_after(0);
  return rc;
}

static int count_child(void) {
  int rc = run_armed();
  if (rc != 0)
    test_fail(__FILE__, __LINE__, "%s fails unarmed: %s", current->name, cio_strerror(rc));
  *shared_count = ARM_ALL - left;
  return 0;
}

static int walk_child(void) {
  int rc = run_armed();
  if (left > 0) { // this run made fewer allocations than the counting one
    if (rc != 0)
      test_fail(__FILE__, __LINE__, "failed with nothing injected: %s", cio_strerror(rc));
    return UNREACHED;
  }
  if (rc == 0) return SUCCEEDED;
  if (rc == -ENOMEM) return DOCUMENTED;
  test_fail(__FILE__, __LINE__, "the workload returned %s", cio_strerror(rc));
}

// The step between walked sites: 1, except under valgrind and TSan.
static long step(void) {
  bool slow = RUNNING_ON_VALGRIND;
#if defined(__SANITIZE_THREAD__)
  slow = true;
#endif
  if (!slow) return 1;
  long k = lround(0.05 / test_scale());
  return k > 1 ? k : 1;
}

static void walk(const struct workload *w) {
  static const char *const verdicts[] = {"-ENOMEM", "succeeded", "not reached"};
  static char out[1 << 16];
  bool verbose = getenv("CIO_FAULTS_VERBOSE"); // each site's verdict and backtrace
  current = w;
  fail_at = ARM_ALL;
  int status = test_run_checked(w->name, count_child, 60, out, sizeof out);
  if (status != 0) {
    fputs(out, stderr);
    test_fail(__FILE__, __LINE__, "%s: the counting run failed (status %d)", w->name, status);
  }
  long n = *shared_count, k = step();
  int documented = 0, succeeded = 0, unreached = 0;
  for (long i = 1; i <= n; i += k) {
    fail_at = i;
    status = test_run_checked(w->name, walk_child, 60, out, sizeof out);
    if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) >= DOCUMENTED &&
        WEXITSTATUS(status) <= UNREACHED) {
      documented += WEXITSTATUS(status) == DOCUMENTED;
      succeeded += WEXITSTATUS(status) == SUCCEEDED;
      unreached += WEXITSTATUS(status) == UNREACHED;
      if (verbose)
        printf("-- %s, allocation %ld: %s\n%s", w->name, i,
               verdicts[WEXITSTATUS(status) - DOCUMENTED], out);
      continue;
    }
    fputs(out, stderr);
    if (status == -1)
      test_fail(__FILE__, __LINE__, "%s: allocation %ld of %ld failed: hung", w->name, i, n);
    if (WIFSIGNALED(status))
      test_fail(__FILE__, __LINE__, "%s: allocation %ld of %ld failed: killed by signal %d",
                w->name, i, n, WTERMSIG(status));
    test_fail(__FILE__, __LINE__, "%s: allocation %ld of %ld failed: exit code %d", w->name, i, n,
              WEXITSTATUS(status));
  }
  printf("%s: %ld sites, each failed once%s: %d -ENOMEM, %d succeeded", w->name, n,
         k > 1 ? " (sampled)" : "", documented, succeeded);
  if (unreached) printf(", %d not reached (a shorter run)", unreached);
  printf("\n");
  if (k == 1) ASSERT(documented > 0); // (a sample may miss every such site)
}

// Names the failing site in the child's output (shown if the run fails).
static void print_site(void) {
  void *pcs[16];
  int n = backtrace(pcs, 16);
  fprintf(stderr, "the injected failure, at:\n");
  fflush(stderr);
  backtrace_symbols_fd(pcs + 1, n - 1, STDERR_FILENO);
}

static void setup(void) {
  cio__alloc_failed_hook = print_site;
  make_app();
  shared_count =
      mmap(NULL, sizeof *shared_count, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT(shared_count != MAP_FAILED);
  signal(SIGUSR1, SIG_IGN); // a stray SIGUSR1 (wl_signal) must not end a child
  char dir[64];
  test_tmpdir(dir, sizeof dir, "faults_");
  snprintf(file_path, sizeof file_path, "%s/file", dir);
  int fd = open(file_path, O_WRONLY | O_CREAT | O_EXCL, 0644);
  ASSERT(fd >= 0);
  char buf[FILE_SIZE];
  memset(buf, 'x', sizeof buf);
  ASSERT_EQ(write(fd, buf, sizeof buf), FILE_SIZE);
  close(fd);
}

static void teardown(void) {
  cio_http_app_free(app);
  unlink(file_path);
  munmap(shared_count, sizeof *shared_count);
}

static const struct workload *named(const char *name) {
  for (size_t i = 0; i < sizeof workloads / sizeof workloads[0]; i++)
    if (strcmp(workloads[i].name, name) == 0) return &workloads[i];
  test_fail(__FILE__, __LINE__, "no workload %s", name);
}

static void walk_named(const char *name) {
  setup();
  walk(named(name));
  teardown();
}

static void spawn_and_join(void) { walk_named("spawn+join"); }
static void gather_of_ten(void) { walk_named("gather"); }
// ---------------------------------------------------------------- zeroed memory

// cio__calloc clears a small block itself (malloc + memset, which glibc
// serves from its per-thread cache) and leaves larger ones to calloc: both
// come back zeroed, even where the block was used and dirtied before; a
// size that overflows and an injected failure are NULL with ENOMEM.
static void calloc_zeroes_and_refuses_overflow(void) {
  static const size_t sizes[] = {1, 16, 48, 200, 1024, 1025, 4096, 1 << 20};
  for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
    for (int round = 0; round < 3; round++) {
      unsigned char *dirty = malloc(sizes[k]);
      ASSERT(dirty);
      memset(dirty, 0xa5, sizes[k]);
      free(dirty); // the next block of this size is likely this one
      unsigned char *p = cio__calloc(1, sizes[k]);
      ASSERT(p);
      for (size_t i = 0; i < sizes[k]; i++) ASSERT_EQ(p[i], 0);
      free(p);
    }
  }
  volatile size_t huge = SIZE_MAX / 2; // (unknown to the compiler, which would refuse it)
  errno = 0;
  ASSERT(cio__calloc(huge, 3) == NULL);
  ASSERT_EQ(errno, ENOMEM);
  cio__alloc_fail_after(1);
  errno = 0;
  ASSERT(cio__calloc(1, 32) == NULL);
  ASSERT_EQ(errno, ENOMEM);
  ASSERT_EQ(cio__alloc_fail_after(0), 0);
}

static void wait_wait_for_and_scopes(void) { walk_named("wait"); }
static void group_with_a_failing_member(void) { walk_named("group"); }
static void sync_objects(void) { walk_named("sync"); }
static void queue_between_two_tasks(void) { walk_named("queue"); }
static void to_thread(void) { walk_named("to_thread"); }
static void loop_call_to_its_own_loop(void) { walk_named("loop_call"); }
static void xqueue_between_two_tasks(void) { walk_named("xqueue"); }
static void stream_over_tcp(void) { walk_named("stream"); }
static void server_accepting(void) { walk_named("server"); }
static void process_with_pipes(void) { walk_named("process"); }
static void file_read_all(void) { walk_named("file"); }
static void signal_wait(void) { walk_named("signal"); }
static void http_request(void) { walk_named("http"); }

static void all_in_one_loop(void) {
  static const struct workload all = {"all", wl_all, true, NULL, NULL};
  setup();
  walk(&all);
  teardown();
}

static const test_case cases[] = {
    {"spawn_and_join", spawn_and_join, 300},
    {"gather_of_ten", gather_of_ten, 300},
    {"wait_wait_for_and_scopes", wait_wait_for_and_scopes, 300},
    {"group_with_a_failing_member", group_with_a_failing_member, 300},
    {"sync_objects", sync_objects, 300},
    {"queue_between_two_tasks", queue_between_two_tasks, 300},
    {"to_thread", to_thread, 300},
    {"loop_call_to_its_own_loop", loop_call_to_its_own_loop, 300},
    {"xqueue_between_two_tasks", xqueue_between_two_tasks, 300},
    {"stream_over_tcp", stream_over_tcp, 300},
    {"server_accepting", server_accepting, 300},
    {"process_with_pipes", process_with_pipes, 300},
    {"file_read_all", file_read_all, 300},
    {"signal_wait", signal_wait, 300},
    {"http_request", http_request, 300},
    {"all_in_one_loop", all_in_one_loop, 600},
    {"queue_put_from_a_thread_without_memory", queue_put_from_a_thread_without_memory, 30},
    {"calloc_zeroes_and_refuses_overflow", calloc_zeroes_and_refuses_overflow, 30},
};

TEST_MAIN(cases)
