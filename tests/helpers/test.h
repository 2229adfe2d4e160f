// SPDX-License-Identifier: MIT
//
// A small test runner in the manner of libuv's: every case runs in its own
// process with a timeout (scaled by CIO_TEST_TIMEOUT_MULT on slow
// machines), so a crash or a hang fails one named case.  `test_x` runs all
// cases of a file; `test_x name` runs one in-process (for gdb).  Exit code
// 77 from a case means skipped, with a reason printed.
#ifndef CIO_TEST_H
#define CIO_TEST_H

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct test_case {
  const char *name; // case name
  void (*fn)(void); // body; returns on success, exits non-zero on failure
  int timeout_s;    // 0 = 30 s default
} test_case;

// Runs the cases (see above).  Returns the process exit code.
int test_main(int argc, char **argv, const test_case *cases, size_t n);

#define TEST_MAIN(cases)                                                                           \
  int main(int argc, char **argv) {                                                                \
    return test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);                           \
  }

_Noreturn void test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
_Noreturn void test_skip(const char *reason);

#define ASSERT(cond)                                                                               \
  do {                                                                                             \
    if (!(cond)) test_fail(__FILE__, __LINE__, "ASSERT(%s) failed", #cond);                        \
  } while (0)

#define ASSERT_EQ(a, b)                                                                            \
  do {                                                                                             \
    int64_t a_ = (int64_t)(a), b_ = (int64_t)(b);                                                  \
    if (a_ != b_)                                                                                  \
      test_fail(__FILE__, __LINE__, "`%s == %s` (%" PRId64 " vs %" PRId64 ")", #a, #b, a_, b_);    \
  } while (0)

#define ASSERT_NE(a, b)                                                                            \
  do {                                                                                             \
    int64_t a_ = (int64_t)(a), b_ = (int64_t)(b);                                                  \
    if (a_ == b_) test_fail(__FILE__, __LINE__, "`%s != %s` (both %" PRId64 ")", #a, #b, a_);      \
  } while (0)

// a <= x <= b, for timings with generous bounds.
#define ASSERT_BETWEEN(x, a, b)                                                                    \
  do {                                                                                             \
    double x_ = (double)(x), a_ = (double)(a), b_ = (double)(b);                                   \
    if (!(x_ >= a_ && x_ <= b_))                                                                   \
      test_fail(__FILE__, __LINE__, "`%s` = %g not in [%g, %g]", #x, x_, a_, b_);                  \
  } while (0)

#define ASSERT_STR_EQ(a, b)                                                                        \
  do {                                                                                             \
    const char *a_ = (a), *b_ = (b);                                                               \
    if (strcmp(a_, b_) != 0)                                                                       \
      test_fail(__FILE__, __LINE__, "`%s == %s` (\"%s\" vs \"%s\")", #a, #b, a_, b_);              \
  } while (0)

#define ASSERT_STR_CONTAINS(hay, needle)                                                           \
  do {                                                                                             \
    if (!strstr((hay), (needle)))                                                                  \
      test_fail(__FILE__, __LINE__, "expected \"%s\" in output:\n%s", (needle), (hay));            \
  } while (0)

// Runs fn() in a child process with its stderr (and stdout) captured into
// out[0..cap).  Returns the child's wait status.
int test_run_child(void (*fn)(void), char *out, size_t cap);

// Runs fn() in a child process given the checks the runner gives each case
// (no descriptor left open, and under ASan no memory leaked), killed after
// timeout_s seconds (times CIO_TEST_TIMEOUT_MULT).  The child exits with
// fn's return value, or 1 if a check failed.  Its stdout and stderr are
// captured into out[0..cap).  Returns the child's wait status, or -1 if it
// timed out.
int test_run_checked(const char *name, int (*fn)(void), double timeout_s, char *out, size_t cap);

// A scale for heavy cases: 1 normally, smaller under sanitizers/valgrind
// (CIO_TEST_SCALE=0.01 etc.).
double test_scale(void);
// seconds times CIO_TEST_TIMEOUT_MULT (valgrind's run sets 20): a generous
// bound on how long something may take.
double test_timeout(double seconds);
// The line an nginx configuration of the tests starts with: "user root
// root; " when running as root, else "".  nginx hands its temporary
// directories to its worker's user, by default nobody, which a user
// namespace (the clock-offset run: unshare -r) has no mapping for.
const char *nginx_user(void);

// Makes a new directory for the case's files (certificates, configurations,
// trees to serve) under the run's scratch directory, its path written to
// buf[0..cap) as "<scratch>/<prefix>XXXXXX"; fails the case if it cannot.
// The runner removes everything there when the case's process has ended,
// however it ended (a failed assertion, a crash, a timeout's SIGKILL), so a
// case never cleans up after itself.
void test_tmpdir(char *buf, size_t cap, const char *prefix);

// A free TCP port on 127.0.0.1 for a peer the case starts (nginx,
// Python's servers), written to port[0..8).  Taken below the kernel's
// ephemeral range (ip_local_port_range), where no other program's bind to
// port 0 or outgoing connection can be given it between this check and
// the peer's own bind (a port from bind(0) was once given to another
// test's server meanwhile, which then answered in the peer's place); a
// random one of those that binds now.  Fails the case if none does.
void test_free_port(char port[8]);

// The next number of a seeded pseudo-random sequence (xorshift64; *state
// must not be 0), for randomized tests that replay from their seed.
uint64_t test_random(uint64_t *state);

#endif
