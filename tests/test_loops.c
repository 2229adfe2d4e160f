// SPDX-License-Identifier: MIT
//
// Loops on every core (cio_run_loops): several loops at once, each running
// the combinators and sync primitives on its own; a failing main cancels
// the others (or does not, with keep_going); SIGINT and SIGTERM cancel
// every main; pinning; nothing left behind when the loops' threads end; and
// one HTTP app served on two loops sharing a port.
#include <arpa/inet.h>
#include <cio.h>
#include <cio/http.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers/test.h"
#include "loop/loop.h" // a loop's queue of posts

#define LOOPS 4

// What each loop saw, by index.
struct seen {
  atomic_int ran;               // mains that ran
  cio_loop *loop[LOOPS];        // each main's loop
  pthread_t thread[LOOPS];      // each main's thread
  int outcome[LOOPS];           // what each main's await returned
  int started_before_signal;    // mains started when loop 0 sent a signal
  atomic_int finished_normally; // mains whose sleep ended by itself
};

// ---------------------------------------------------------------- a slice of everything per loop

static int sleep_then(void *arg) {
  int v = *(int *)arg;
  int rc = cio_sleep(0.001 * (v % 5));
  return rc < 0 ? rc : v;
}

static int fail_after(void *arg) {
  (void)arg;
  int rc = cio_sleep(0.002);
  return rc < 0 ? rc : -EIO;
}

static int sleep_long(void *arg) {
  (void)arg;
  return cio_sleep(30);
}

struct pc {
  cio_queue *q; // the queue between them
  cio_sem *sem; // at most 2 in the critical part
  int inside;   // tasks inside it now
  int most;     // most ever inside
  long sum;     // what the consumer got
};

static int producer(void *arg) {
  struct pc *p = arg;
  for (intptr_t i = 1; i <= 200; i++) {
    int rc = cio_queue_put(p->q, (void *)i);
    if (rc < 0) return rc;
  }
  return 0;
}

static int consumer(void *arg) {
  struct pc *p = arg;
  for (int i = 0; i < 200; i++) {
    void *item;
    int rc = cio_queue_get(p->q, &item);
    if (rc < 0) return rc;
    p->sum += (intptr_t)item;
  }
  return 0;
}

static int guarded(void *arg) {
  struct pc *p = arg;
  int rc = cio_sem_acquire(p->sem);
  if (rc < 0) return rc;
  if (++p->inside > p->most) p->most = p->inside;
  rc = cio_sleep(0.001);
  p->inside--;
  cio_sem_release(p->sem);
  return rc;
}

// Gather, wait, wait_for with a timeout, a semaphore and a queue, each
// checked; the results are the loop's own whatever the others do.
static int slice(void *arg, int index) {
  struct seen *s = arg;
  atomic_fetch_add(&s->ran, 1);
  s->loop[index] = cio_loop_current();
  s->thread[index] = pthread_self();

  int values[20];
  cio_task *t[20];
  for (int i = 0; i < 20; i++) {
    values[i] = index * 100 + i;
    t[i] = cio_spawn(sleep_then, &values[i]);
  }
  int outcomes[20];
  ASSERT_EQ(cio_gather(t, 20, outcomes, 0), 0);
  for (int i = 0; i < 20; i++) ASSERT_EQ(outcomes[i], index * 100 + i);

  cio_task *w[2] = {cio_spawn(sleep_long, NULL), cio_spawn(fail_after, NULL)};
  ASSERT_EQ(cio_wait(w, 2, CIO_FIRST_EXCEPTION, 5), 1);
  ASSERT_EQ(cio_join(w[0]), -EIO);
  ASSERT_EQ(cio_wait_for(w[1], 0.01), -ETIMEDOUT);

  struct pc p = {.q = cio_queue_new(CIO_QUEUE_FIFO, 8), .sem = cio_sem_new(2)};
  cio_task *g[6] = {cio_spawn(producer, &p), cio_spawn(consumer, &p)};
  for (int i = 2; i < 6; i++) g[i] = cio_spawn(guarded, &p);
  ASSERT_EQ(cio_gather(g, 6, NULL, CIO_GATHER_CANCEL_ON_ERROR), 0);
  ASSERT_EQ(p.sum, 200 * 201 / 2);
  ASSERT_EQ(p.most, 2);
  ASSERT_EQ(cio_queue_free(p.q), 0);
  ASSERT_EQ(cio_sem_free(p.sem), 0);
  return 0;
}

static void each_loop_runs_its_own_slice(void) {
  struct seen s = {0};
  ASSERT_EQ(cio_run_loops(LOOPS, slice, &s, NULL), 0);
  ASSERT_EQ(atomic_load(&s.ran), LOOPS);
  for (int i = 0; i < LOOPS; i++)
    for (int j = i + 1; j < LOOPS; j++) {
      ASSERT(s.loop[i] && s.loop[i] != s.loop[j]);
      ASSERT(!pthread_equal(s.thread[i], s.thread[j]));
    }
  ASSERT(cio_loop_current() == NULL);
}

// Many loops, started and ended again and again: nothing accumulates (the
// runner checks descriptors, and leaks under ASan).
static void loops_again_and_again(void) {
  for (int round = 0; round < 10; round++) {
    struct seen s = {0};
    ASSERT_EQ(cio_run_loops(3, slice, &s, NULL), 0);
    ASSERT_EQ(atomic_load(&s.ran), 3);
  }
}

// ---------------------------------------------------------------- a group of loops

// Loop 1 fails after a short sleep; the others sleep long, and record what
// their sleep returned.
static int one_fails(void *arg, int index) {
  struct seen *s = arg;
  if (index == 1) {
    int rc = cio_sleep(0.05);
    return rc < 0 ? rc : -EPROTO;
  }
  double t0 = cio_now();
  int rc = cio_sleep(index == 0 ? 30 : 0.3);
  s->outcome[index] = rc;
  if (rc == 0) atomic_fetch_add(&s->finished_normally, 1);
  ASSERT(cio_now() - t0 < 10);
  return rc;
}

static void a_failure_cancels_the_other_loops(void) {
  struct seen s = {0};
  ASSERT_EQ(cio_run_loops(LOOPS, one_fails, &s, NULL), -EPROTO);
  for (int i = 0; i < LOOPS; i++)
    if (i != 1) ASSERT_EQ(s.outcome[i], -ECANCELED);
}

static int one_fails_others_end(void *arg, int index) {
  struct seen *s = arg;
  if (index == 1) return -EPROTO;
  int rc = cio_sleep(0.2);
  s->outcome[index] = rc;
  return rc;
}

static void keep_going_lets_the_others_finish(void) {
  struct seen s = {0};
  cio_loops_opts o = {.keep_going = true};
  ASSERT_EQ(cio_run_loops(LOOPS, one_fails_others_end, &s, &o), -EPROTO);
  for (int i = 0; i < LOOPS; i++)
    if (i != 1) ASSERT_EQ(s.outcome[i], 0);
}

// A loop whose tasks all wait for nothing reports a deadlock; that is its
// failure, and the others are cancelled.
static int one_deadlocks(void *arg, int index) {
  (void)arg;
  if (index == 0) {
    cio_event *e = cio_event_new();
    int rc = cio_event_wait(e); // nobody will set it
    cio_event_free(e);
    return rc;
  }
  return cio_sleep(30);
}

static void run_deadlock(void) {
  ASSERT_EQ(cio_run_loops(2, one_deadlocks, NULL, NULL), -EDEADLK);
  exit(0);
}

static void a_deadlock_is_reported_as_such(void) {
  char out[8192];
  int status = test_run_child(run_deadlock, out, sizeof out);
  ASSERT(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  ASSERT_STR_CONTAINS(out, "deadlock");
}

// ---------------------------------------------------------------- signals

static atomic_int signal_to_send;

// Every main waits; loop 0 sends the signal to the process once all have
// started (so the test does not depend on start-up order).
static int wait_for_signal(void *arg, int index) {
  struct seen *s = arg;
  atomic_fetch_add(&s->ran, 1);
  if (index == 0) {
    while (atomic_load(&s->ran) < LOOPS) {
      int rc = cio_sleep(0.001);
      if (rc < 0) return rc;
    }
    kill(getpid(), atomic_load(&signal_to_send));
  }
  int rc = cio_sleep(30);
  s->outcome[index] = rc;
  return rc;
}

static void check_signal_cancels_every_main(int signo) {
  struct seen s = {0};
  atomic_store(&signal_to_send, signo);
  ASSERT_EQ(cio_run_loops(LOOPS, wait_for_signal, &s, NULL), -ECANCELED);
  for (int i = 0; i < LOOPS; i++) ASSERT_EQ(s.outcome[i], -ECANCELED);
  // Every action cio replaced is back, and the mask is the caller's.
  struct sigaction sa;
  ASSERT_EQ(sigaction(signo, NULL, &sa), 0);
  ASSERT(sa.sa_handler == SIG_DFL);
  sigset_t mask;
  pthread_sigmask(SIG_SETMASK, NULL, &mask);
  ASSERT(!sigismember(&mask, signo));
}

static void sigint_cancels_every_main(void) { check_signal_cancels_every_main(SIGINT); }
static void sigterm_cancels_every_main(void) { check_signal_cancels_every_main(SIGTERM); }

// A signal sent before the loops have all started still reaches all of
// them: the calling thread holds it until every loop is on the registry.
static int sleep_and_record(void *arg, int index) {
  struct seen *s = arg;
  int rc = cio_sleep(30);
  s->outcome[index] = rc;
  return rc;
}

// Loop 0's main sends SIGINT as soon as it starts, when the other loops
// may not have started yet; all the same, every main is cancelled.
static int interrupt_at_once(void *arg, int index) {
  struct seen *s = arg;
  if (index == 0) {
    s->started_before_signal = atomic_load(&s->ran);
    kill(getpid(), SIGINT);
  }
  atomic_fetch_add(&s->ran, 1);
  return sleep_and_record(arg, index);
}

static void a_signal_during_start_up_reaches_every_loop(void) {
  int early = 0;
  for (int round = 0; round < 20; round++) {
    struct seen s = {0};
    ASSERT_EQ(cio_run_loops(LOOPS, interrupt_at_once, &s, NULL), -ECANCELED);
    for (int i = 0; i < LOOPS; i++) ASSERT_EQ(s.outcome[i], -ECANCELED);
    if (s.started_before_signal < LOOPS - 1) early++;
  }
  printf("    in %d of 20 rounds the signal came before every loop had started\n", early);
}

// ---------------------------------------------------------------- options and misuse

static int count_cpus(void *arg, int index) {
  atomic_int *n = arg;
  (void)index;
  atomic_fetch_add(n, 1);
  return 0;
}

static void zero_loops_means_every_cpu(void) {
  atomic_int n = 0;
  ASSERT_EQ(cio_run_loops(0, count_cpus, &n, NULL), 0);
  cpu_set_t set;
  ASSERT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
  ASSERT_EQ(atomic_load(&n), CPU_COUNT(&set));
  ASSERT_EQ(cio_cpu_count(), CPU_COUNT(&set));
}

static int check_pinned(void *arg, int index) {
  int *cpu = arg;
  cpu_set_t set;
  ASSERT_EQ(pthread_getaffinity_np(pthread_self(), sizeof set, &set), 0);
  ASSERT_EQ(CPU_COUNT(&set), 1);
  for (int c = 0; c < CPU_SETSIZE; c++)
    if (CPU_ISSET(c, &set)) cpu[index] = c;
  return 0;
}

static void pin_puts_each_loop_on_one_cpu(void) {
  int cpu[LOOPS] = {0};
  cio_loops_opts o = {.pin = true};
  ASSERT_EQ(cio_run_loops(LOOPS, check_pinned, cpu, &o), 0);
  int ncpu = cio_cpu_count();
  for (int i = 0; i < LOOPS; i++) ASSERT_EQ(cpu[i], cpu[i % ncpu]);
  if (ncpu > 1) ASSERT_NE(cpu[0], cpu[1]);
}

static int nested(void *arg) {
  (void)arg;
  ASSERT_EQ(cio_run_loops(2, count_cpus, NULL, NULL), -EBUSY);
  return 0;
}

static void misuse_is_refused(void) {
  ASSERT_EQ(cio_run_loops(2, NULL, NULL, NULL), -EINVAL);
  ASSERT_EQ(cio_run(nested, NULL), 0);
  cio_loops_opts o = {.loop.stack_size = 1};
  ASSERT_EQ(cio_run_loops(2, count_cpus, &(atomic_int){0}, &o), -EINVAL);
}

// ---------------------------------------------------------------- calls between loops

// Every loop's cio_loop, once its main has started.
static struct {
  _Atomic(cio_loop *) loop[LOOPS]; // by index
  atomic_int callers_done;         // mains that made all their calls
} net;

static int times_ten(void *arg) {
  int *v = arg;
  int rc = cio_sleep(0.001);
  return rc < 0 ? rc : *v * 10;
}

struct remote_sleep {
  atomic_int outcome; // what its sleep returned (1 until it returns)
  cio_loop *ran_on;   // the loop it ran on
};

static int sleep_remotely(void *arg) {
  struct remote_sleep *r = arg;
  r->ran_on = cio_loop_current();
  int rc = cio_sleep(30);
  atomic_store(&r->outcome, rc);
  return rc;
}

// Waits (awaiting) until every loop has published itself.
static int meet(int index) {
  atomic_store(&net.loop[index], cio_loop_current());
  for (int i = 0; i < LOOPS; i++)
    while (!atomic_load(&net.loop[i])) {
      int rc = cio_sleep(0.001);
      if (rc < 0) return rc;
    }
  return 0;
}

// Stays until every loop has made its calls, so none ends while another
// may still call it.
static int part(void) {
  atomic_fetch_add(&net.callers_done, 1);
  while (atomic_load(&net.callers_done) < LOOPS) {
    int rc = cio_sleep(0.001);
    if (rc < 0) return rc;
  }
  return 0;
}

static int call_neighbours(void *arg, int index) {
  (void)arg;
  ASSERT_EQ(meet(index), 0);
  cio_loop *next = atomic_load(&net.loop[(index + 1) % LOOPS]);
  int v = index + 1, result = 0;
  ASSERT_EQ(cio_loop_call(next, times_ten, &v, &result), 0);
  ASSERT_EQ(result, (index + 1) * 10);
  ASSERT_EQ(cio_loop_call(cio_loop_current(), times_ten, &v, &result), 0); // its own loop
  ASSERT_EQ(result, (index + 1) * 10);

  // The caller's timeout cancels the task on the other loop, which is
  // waited for: its sleep has returned -ECANCELED when the call returns.
  struct remote_sleep r = {.outcome = 1};
  cio_scope scope;
  ASSERT_EQ(cio_timeout_begin(&scope, 0.02), 0);
  double t0 = cio_now();
  ASSERT_EQ(cio_loop_call(next, sleep_remotely, &r, &result), 0);
  ASSERT_EQ(cio_scope_end(&scope), -ETIMEDOUT);
  ASSERT_EQ(result, -ECANCELED);
  ASSERT_EQ(atomic_load(&r.outcome), -ECANCELED);
  ASSERT(r.ran_on == next);
  ASSERT(cio_now() - t0 < 5);
  ASSERT_EQ(cio_loop_call(NULL, times_ten, &v, &result), -EINVAL);
  return part();
}

static void a_call_runs_on_the_other_loop(void) {
  memset(&net, 0, sizeof net);
  ASSERT_EQ(cio_run_loops(LOOPS, call_neighbours, NULL, NULL), 0);
}

// A call that reaches a loop as it ends is answered -ESHUTDOWN, and its
// function never runs.  Loop 1 holds its thread until loop 0's call is in
// its queue of posts (read under the queue's lock), then its main returns:
// the loop ends with the call unstarted, and its teardown answers it.
static struct {
  _Atomic(cio_loop *) callee; // loop 1, once its main runs
  atomic_bool ran;            // the function ran (it must not)
} ending;

static int must_not_run(void *arg) {
  (void)arg;
  atomic_store(&ending.ran, true);
  return 0;
}

static int call_or_end(void *arg, int index) {
  (void)arg;
  if (index == 1) {
    cio__loop *L = cio__tls_loop;
    atomic_store(&ending.callee, cio_loop_current());
    for (size_t queued = 0; queued == 0; usleep(1000)) { // the thread held: no pass runs posts
      pthread_mutex_lock(&L->post_lock);
      queued = L->post_count;
      pthread_mutex_unlock(&L->post_lock);
    }
    return 0;
  }
  cio_loop *to;
  while (!(to = atomic_load(&ending.callee))) ASSERT_EQ(cio_sleep(0.001), 0);
  int result = 12345;
  ASSERT_EQ(cio_loop_call(to, must_not_run, NULL, &result), -ESHUTDOWN);
  ASSERT_EQ(result, 12345); // untouched
  return 0;
}

static void a_call_to_a_loop_that_ends_is_refused(void) {
  memset(&ending, 0, sizeof ending);
  ASSERT_EQ(cio_run_loops(2, call_or_end, NULL, NULL), 0);
  ASSERT(!atomic_load(&ending.ran));
}

// Chaos: every loop calls the others many times, each call interrupted at a
// random moment (a timeout of 0-3 ms, or none) while the task sleeps 0-2 ms.
// Each call returns 0; its task's body ran at most once; a call that got
// the task's value saw it complete exactly once, and one that got
// -ECANCELED saw it never complete.
#define CHAOS_CALLS 300

struct job {
  int id;              // its number, its outcome on success
  double sleep;        // how long its body sleeps
  atomic_int started;  // times its body began
  atomic_int finished; // times its body completed
};

static int run_job(void *arg) {
  struct job *j = arg;
  atomic_fetch_add(&j->started, 1);
  int rc = cio_sleep(j->sleep);
  if (rc < 0) return rc;
  atomic_fetch_add(&j->finished, 1);
  return j->id;
}

static atomic_int chaos_completed, chaos_cancelled, chaos_not_made;

static int chaos(void *arg, int index) {
  (void)arg;
  ASSERT_EQ(meet(index), 0);
  uint64_t seed = 0x9e3779b97f4a7c15ull * (uint64_t)(index + 1);
  int calls = (int)(CHAOS_CALLS * test_scale()) + 20;
  for (int k = 0; k < calls; k++) {
    struct job j = {.id = index * 100000 + k};
    j.sleep = (double)(test_random(&seed) % 2000) / 1e6;
    cio_loop *to = atomic_load(&net.loop[test_random(&seed) % LOOPS]);
    uint64_t limit = test_random(&seed) % 4000; // µs; 3000 and up: no timeout
    cio_scope scope;
    if (limit < 3000) ASSERT_EQ(cio_timeout_begin(&scope, (double)limit / 1e6), 0);
    int result = 1;
    int rc = cio_loop_call(to, run_job, &j, &result);
    if (limit < 3000) (void)cio_scope_end(&scope);
    ASSERT(atomic_load(&j.started) <= 1);
    if (rc == -ETIMEDOUT) { // expired before the call was made: nothing posted
      ASSERT_EQ(atomic_load(&j.started), 0);
      atomic_fetch_add(&chaos_not_made, 1);
      continue;
    }
    ASSERT_EQ(rc, 0);
    if (result == j.id) {
      ASSERT_EQ(atomic_load(&j.finished), 1);
      atomic_fetch_add(&chaos_completed, 1);
    } else {
      ASSERT_EQ(result, -ECANCELED);
      ASSERT_EQ(atomic_load(&j.finished), 0);
      atomic_fetch_add(&chaos_cancelled, 1);
    }
  }
  return part();
}

static void calls_between_loops_survive_chaos(void) {
  memset(&net, 0, sizeof net);
  ASSERT_EQ(cio_run_loops(LOOPS, chaos, NULL, NULL), 0);
  printf("    %d calls completed, %d cancelled by their caller's timeout, %d not made (expired "
         "first)\n",
         atomic_load(&chaos_completed), atomic_load(&chaos_cancelled),
         atomic_load(&chaos_not_made));
  ASSERT(atomic_load(&chaos_completed) > 0 && atomic_load(&chaos_cancelled) > 0);
}

// ---------------------------------------------------------------- HTTP on two loops

#define HTTP_CONNS 50      // client connections, all open at once
#define HTTP_REQUESTS 2000 // requests in all, round-robin over them

// What the server saw, per loop.
static struct {
  pthread_mutex_t lock;  // guards the arrays
  cio_loop *loop[2];     // the loops that served, in order of first request
  int served[2];         // requests each served
  atomic_int middleware; // requests the app's middleware saw
  atomic_int port;       // the port, once a loop listens
  atomic_int listening;  // how many loops listen (the kernel spreads new
                         // connections only over the listeners there are)
} web = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int hello(cio_http_req *req, cio_http_res *res, void *arg) {
  (void)req, (void)arg;
  cio_loop *me = cio_loop_current();
  pthread_mutex_lock(&web.lock);
  int i = web.loop[0] == me || !web.loop[0] ? 0 : 1;
  web.loop[i] = me;
  web.served[i]++;
  pthread_mutex_unlock(&web.lock);
  return cio_http_json(res, 200, "{\"message\":\"Hello\"}");
}

static int count_requests(cio_http_req *req, cio_http_res *res, cio_http_next next, void *state,
                          void *arg) {
  (void)arg;
  atomic_fetch_add(&web.middleware, 1);
  return next(req, res, state);
}

static void listening(cio_server *srv, void *arg) {
  (void)arg;
  atomic_store(&web.port, cio_server_port(srv));
  atomic_fetch_add(&web.listening, 1);
}

// (The client's system calls retry EINTR, which the EINTR storm injects.
// An interrupted connect() is called again: a real interruption lets the
// connection go on (EALREADY while it does, EISCONN once it is made), and
// an injected one never made the call at all.  Taking the first EINTR for
// "in progress" left the socket unconnected, and the first write met
// EPIPE: the storm's failure of this case.)
static int connect_to(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT(fd >= 0);
  while (connect(fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EISCONN) {
    ASSERT(errno == EINTR || errno == EALREADY);
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    if (errno == EALREADY)
      while (poll(&p, 1, -1) < 0) ASSERT_EQ(errno, EINTR);
  }
  return fd;
}

static ssize_t read_some(int fd, char *buf, size_t len) {
  ssize_t n;
  while ((n = read(fd, buf, len)) < 0 && errno == EINTR) {
  }
  return n;
}

// Reads one response from fd; returns its status.
static int read_response(int fd) {
  char buf[4096];
  size_t have = 0;
  char *end = NULL;
  while (!end) {
    ssize_t n = read_some(fd, buf + have, sizeof buf - 1 - have);
    ASSERT(n > 0);
    have += (size_t)n;
    buf[have] = 0;
    end = strstr(buf, "\r\n\r\n");
  }
  const char *cl = strstr(buf, "content-length: ");
  if (!cl) cl = strstr(buf, "Content-Length: ");
  ASSERT(cl);
  size_t want = (size_t)(end + 4 - buf) + strtoul(cl + 16, NULL, 10);
  while (have < want) {
    ssize_t n = read_some(fd, buf + have, sizeof buf - 1 - have);
    ASSERT(n > 0);
    have += (size_t)n;
  }
  ASSERT_EQ(have, want); // one request in flight per connection: nothing more
  return atoi(buf + 9);
}

// The client: HTTP_CONNS connections at once, requests round-robin over
// them, then SIGINT to the process.
static void *http_client(void *arg) {
  int *ok = arg;
  // Both loops listen before the first connection (a slow start, as under
  // TSan, let one loop take all 50).
  while (atomic_load(&web.listening) < 2) usleep(1000);
  int fd[HTTP_CONNS];
  for (int i = 0; i < HTTP_CONNS; i++) fd[i] = connect_to(atomic_load(&web.port));
  static const char req[] = "GET / HTTP/1.1\r\nHost: test\r\n\r\n";
  for (int sent = 0; sent < HTTP_REQUESTS; sent += HTTP_CONNS) {
    for (int i = 0; i < HTTP_CONNS; i++) {
      ssize_t w;
      while ((w = write(fd[i], req, sizeof req - 1)) < 0 && errno == EINTR) {
      }
      ASSERT_EQ(w, (ssize_t)(sizeof req - 1));
    }
    for (int i = 0; i < HTTP_CONNS; i++)
      if (read_response(fd[i]) == 200) (*ok)++;
  }
  for (int i = 0; i < HTTP_CONNS; i++) close(fd[i]);
  kill(getpid(), SIGINT); // every loop shuts its server down
  return NULL;
}

static void http_on_two_loops_shares_the_port(void) {
  cio_http_app *app = cio_http_app_new();
  ASSERT_EQ(cio_http_route(app, "GET", "/", hello, NULL), 0);
  ASSERT_EQ(cio_http_use(app, count_requests, NULL), 0);
  cio_http_opts opts = {.on_start = listening};
  int ok = 0;
  pthread_t th;
  ASSERT_EQ(pthread_create(&th, NULL, http_client, &ok), 0);
  ASSERT_EQ(cio_http_run_workers(app, "127.0.0.1", "0", &opts, 2), 0);
  pthread_join(th, NULL);
  ASSERT_EQ(cio_http_app_free(app), 0);
  printf("    %d requests answered; loop A served %d, loop B %d\n", ok, web.served[0],
         web.served[1]);
  ASSERT_EQ(ok, HTTP_REQUESTS);
  ASSERT_EQ(atomic_load(&web.middleware), HTTP_REQUESTS);
  ASSERT_EQ(web.served[0] + web.served[1], HTTP_REQUESTS);
  ASSERT(web.loop[0] && web.loop[1] && web.loop[0] != web.loop[1]);
  ASSERT(web.served[0] > 0 && web.served[1] > 0);
}

// A port taken without SO_REUSEPORT: no loop can listen, and the call says
// why.
static void a_port_in_use_is_reported(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  ASSERT_EQ(listen(fd, 8), 0);
  ASSERT_EQ(getsockname(fd, (struct sockaddr *)&a, &len), 0);
  char port[16];
  snprintf(port, sizeof port, "%d", ntohs(a.sin_port));
  cio_http_app *app = cio_http_app_new();
  ASSERT_EQ(cio_http_route(app, "GET", "/", hello, NULL), 0);
  ASSERT_EQ(cio_http_run_workers(app, "127.0.0.1", port, NULL, 2), -EADDRINUSE);
  ASSERT_EQ(cio_http_app_free(app), 0);
  close(fd);
}

static const test_case cases[] = {
    {"each_loop_runs_its_own_slice", each_loop_runs_its_own_slice, 60},
    {"loops_again_and_again", loops_again_and_again, 120},
    {"a_failure_cancels_the_other_loops", a_failure_cancels_the_other_loops, 30},
    {"keep_going_lets_the_others_finish", keep_going_lets_the_others_finish, 30},
    {"a_deadlock_is_reported_as_such", a_deadlock_is_reported_as_such, 30},
    {"sigint_cancels_every_main", sigint_cancels_every_main, 30},
    {"sigterm_cancels_every_main", sigterm_cancels_every_main, 30},
    {"a_signal_during_start_up_reaches_every_loop", a_signal_during_start_up_reaches_every_loop,
     60},
    {"zero_loops_means_every_cpu", zero_loops_means_every_cpu, 30},
    {"pin_puts_each_loop_on_one_cpu", pin_puts_each_loop_on_one_cpu, 30},
    {"misuse_is_refused", misuse_is_refused, 30},
    {"a_call_runs_on_the_other_loop", a_call_runs_on_the_other_loop, 30},
    {"a_call_to_a_loop_that_ends_is_refused", a_call_to_a_loop_that_ends_is_refused, 30},
    {"calls_between_loops_survive_chaos", calls_between_loops_survive_chaos, 120},
    {"http_on_two_loops_shares_the_port", http_on_two_loops_shares_the_port, 60},
    {"a_port_in_use_is_reported", a_port_in_use_is_reported, 30},
};
TEST_MAIN(cases)
