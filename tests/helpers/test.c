// SPDX-License-Identifier: MIT
//
// The test runner (see test.h).
#include "test.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

// The run's scratch directory (test_tmpdir), made by test_main before any
// case and owned by that process: it empties it after each case's process
// and removes it at the end.
static char scratch[256];
static pid_t scratch_owner;

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)ftw;
  if (flag == FTW_DP)
    rmdir(path);
  else
    unlink(path);
  return 0;
}

// Removes what the cases left in the scratch directory, and with `all` the
// directory too.  Only its owner does (a case's process may fail first).
static void scratch_clear(bool all) {
  if (!scratch[0] || getpid() != scratch_owner) return;
  DIR *d = opendir(scratch);
  if (d) {
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)))
      if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
        snprintf(p, sizeof p, "%s/%s", scratch, e->d_name);
        nftw(p, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
      }
    closedir(d);
  }
  if (all) {
    rmdir(scratch);
    scratch[0] = '\0';
  }
}

static void scratch_make(void) {
  const char *tmp = getenv("TMPDIR");
  snprintf(scratch, sizeof scratch, "%s/cio_test_XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
  if (!mkdtemp(scratch)) {
    fprintf(stderr, "test runner: mkdtemp %s: %s\n", scratch, strerror(errno));
    exit(1);
  }
  scratch_owner = getpid();
}

void test_tmpdir(char *buf, size_t cap, const char *prefix) {
  if (!scratch[0]) test_fail(__FILE__, __LINE__, "test_tmpdir outside test_main");
  int n = snprintf(buf, cap, "%s/%sXXXXXX", scratch, prefix);
  if (n < 0 || (size_t)n >= cap)
    test_fail(__FILE__, __LINE__, "test_tmpdir: %zu bytes is short", cap);
  if (!mkdtemp(buf)) test_fail(__FILE__, __LINE__, "mkdtemp %s: %s", buf, strerror(errno));
}

_Noreturn void test_fail(const char *file, int line, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "%s:%d: ", file, line);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  fflush(stderr);
  scratch_clear(true); // a case run in-process (`test_x name`)
  _exit(1);
}

_Noreturn void test_skip(const char *reason) {
  fprintf(stderr, "skipped: %s\n", reason);
  fflush(stderr);
  scratch_clear(true);
  _exit(77);
}

const char *nginx_user(void) { return getuid() == 0 ? "user root root; " : ""; }

double test_scale(void) {
  const char *e = getenv("CIO_TEST_SCALE");
  double s = e ? atof(e) : 1.0;
  return s > 0 ? s : 1.0;
}

uint64_t test_random(uint64_t *state) {
  uint64_t x = *state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *state = x;
}

static double mult(void) {
  const char *e = getenv("CIO_TEST_TIMEOUT_MULT");
  double m = e ? atof(e) : 1.0;
  return m > 0 ? m : 1.0;
}

double test_timeout(double seconds) { return seconds * mult(); }

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

// The descriptors this process holds open, as a bitmap of the first 1,024
// (the runner's own listing descriptor excluded).
typedef struct {
  unsigned char open[1024 / 8];
} fd_set_snapshot;

static void fds_snapshot(fd_set_snapshot *s) {
  memset(s, 0, sizeof *s);
  DIR *d = opendir("/proc/self/fd");
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    int fd = atoi(e->d_name);
    if (e->d_name[0] == '.' || fd == dirfd(d) || fd >= 1024) continue;
    s->open[fd / 8] |= (unsigned char)(1u << (fd % 8));
  }
  closedir(d);
}

// As libuv's tests: a case that leaves descriptors open fails, naming them.
static void check_no_leaked_fds(const char *name, const fd_set_snapshot *before) {
  fd_set_snapshot after;
  fds_snapshot(&after);
  int leaked = 0;
  for (int fd = 0; fd < 1024; fd++) {
    bool was = before->open[fd / 8] & (1u << (fd % 8)), is = after.open[fd / 8] & (1u << (fd % 8));
    if (!is || was) continue;
    char link[64], target[256] = "?";
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n >= 0) target[n] = 0;
    fprintf(stderr, "%s: descriptor %d left open (%s)\n", name, fd, target);
    leaked++;
  }
  if (leaked) {
    fflush(stderr);
    _exit(1);
  }
}

// The checks every case's process makes when its body has returned: no
// descriptor left open since `before`, and under ASan no memory leaked
// (LeakSanitizer).  Exits 1, naming `name`, when one fails.
static void check_child(const char *name, const fd_set_snapshot *before) {
  check_no_leaked_fds(name, before);
#if defined(__SANITIZE_ADDRESS__)
  // The child leaves by _exit, which skips LeakSanitizer's exit-time check.
  if (__lsan_do_recoverable_leak_check()) {
    fprintf(stderr, "%s: memory leaked (report above)\n", name);
    fflush(stderr);
    _exit(1);
  }
#endif
}

// Prints where a stuck case is (every thread's stack, through gdb if this
// machine has it), so that a hang in CI says where it hung.
static void show_stuck(pid_t pid) {
  if (access("/usr/bin/gdb", X_OK) != 0) {
    printf("(no gdb here: no stack of the stuck case)\n");
    return;
  }
  char cmd[256];
  snprintf(cmd, sizeof cmd,
           "timeout 60 /usr/bin/gdb -p %d -batch -nx -ex 'thread apply all bt' 2>&1 "
           "| grep -E '^(#|Thread)' | head -n 60",
           (int)pid);
  printf("the stuck case's stacks:\n");
  fflush(stdout);
  if (system(cmd) != 0) printf("(gdb failed)\n");
  fflush(stdout);
}

// Waits for child `pid` at most limit_s seconds from t0, then kills it.
// Returns its wait status, or -1 if it had to be killed.
static int wait_child(pid_t pid, double t0, double limit_s) {
  int status = 0;
  for (;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (now_s() - t0 > limit_s) {
      show_stuck(pid);
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    usleep(2000);
  }
}

// Runs one case in a child; returns 0 pass, 77 skip, 1 fail.
static int run_one(const test_case *c) {
  fflush(NULL);
  double t0 = now_s();
  pid_t pid = fork();
  if (pid == 0) {
    fd_set_snapshot before;
    fds_snapshot(&before);
    c->fn();
    check_child(c->name, &before);
    fflush(NULL);
    _exit(0);
  }
  int limit = (int)((c->timeout_s ? c->timeout_s : 30) * mult());
  int status = wait_child(pid, t0, limit);
  scratch_clear(false);
  if (status == -1) {
    printf("FAIL %s: timed out after %d s\n", c->name, limit);
    return 1;
  }
  double dt = now_s() - t0;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    printf("ok   %s (%.2f s)\n", c->name, dt);
    return 0;
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
    printf("skip %s\n", c->name);
    return 77;
  }
  if (WIFSIGNALED(status))
    printf("FAIL %s: killed by signal %d (%s)\n", c->name, WTERMSIG(status),
           strsignal(WTERMSIG(status)));
  else
    printf("FAIL %s: exit code %d\n", c->name, WEXITSTATUS(status));
  return 1;
}

// Whether CIO_TEST_SKIP (a comma-separated list of case names) names `name`:
// runs that change the conditions (a syscall-fault storm under strace) skip
// the cases whose timing bounds assume a plain run.
static bool skip_listed(const char *name) {
  const char *list = getenv("CIO_TEST_SKIP");
  size_t len = strlen(name);
  for (const char *p = list; p && *p;) {
    const char *end = strchr(p, ',');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    if (n == len && strncmp(p, name, n) == 0) return true;
    p = end ? end + 1 : NULL;
  }
  return false;
}

int test_main(int argc, char **argv, const test_case *cases, size_t n) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  scratch_make();
  if (argc > 1) {
    for (size_t i = 0; i < n; i++)
      if (strcmp(cases[i].name, argv[1]) == 0) {
        cases[i].fn();
        scratch_clear(true);
        return 0;
      }
    scratch_clear(true);
    fprintf(stderr, "no case named %s\n", argv[1]);
    return 2;
  }
  int failed = 0, skipped = 0;
  for (size_t i = 0; i < n; i++) {
    if (skip_listed(cases[i].name)) {
      printf("skip %s (CIO_TEST_SKIP)\n", cases[i].name);
      skipped++;
      continue;
    }
    int r = run_one(&cases[i]);
    failed += r == 1;
    skipped += r == 77;
  }
  scratch_clear(true);
  printf("%zu cases: %zu passed, %d failed, %d skipped\n", n, n - failed - skipped, failed,
         skipped);
  return failed ? 1 : 0;
}

int test_run_child(void (*fn)(void), char *out, size_t cap) {
  int fds[2];
  if (pipe(fds) < 0) test_fail(__FILE__, __LINE__, "pipe: %s", strerror(errno));
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    dup2(fds[1], STDOUT_FILENO);
    dup2(fds[1], STDERR_FILENO);
    close(fds[1]);
    signal(SIGABRT, SIG_DFL);
    fn();
    fflush(NULL);
    _exit(0);
  }
  close(fds[1]);
  size_t len = 0;
  ssize_t r;
  while (len < cap - 1) {
    r = read(fds[0], out + len, cap - 1 - len);
    if (r > 0)
      len += (size_t)r;
    else if (r == 0 || errno != EINTR)
      break;
  }
  out[len] = '\0';
  char sink[4096];
  while ((r = read(fds[0], sink, sizeof sink)) > 0 || (r < 0 && errno == EINTR)) {
  }
  close(fds[0]);
  int status;
  waitpid(pid, &status, 0);
  return status;
}

int test_run_checked(const char *name, int (*fn)(void), double timeout_s, char *out, size_t cap) {
  FILE *capture = tmpfile();
  if (!capture) test_fail(__FILE__, __LINE__, "tmpfile: %s", strerror(errno));
  fflush(NULL);
  double t0 = now_s();
  pid_t pid = fork();
  if (pid < 0) test_fail(__FILE__, __LINE__, "fork: %s", strerror(errno));
  if (pid == 0) {
    dup2(fileno(capture), STDOUT_FILENO);
    dup2(fileno(capture), STDERR_FILENO);
    signal(SIGABRT, SIG_DFL);
    fd_set_snapshot before;
    fds_snapshot(&before);
    int code = fn();
    check_child(name, &before);
    fflush(NULL);
    _exit(code);
  }
  int status = wait_child(pid, t0, timeout_s * mult());
  rewind(capture);
  size_t len = cap ? fread(out, 1, cap - 1, capture) : 0;
  if (cap) out[len] = '\0';
  fclose(capture);
  return status;
}

void test_free_port(char port[8]) {
  int low = 32768; // the kernel's default, if its setting cannot be read
  FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
  if (f) {
    if (fscanf(f, "%d", &low) != 1 || low > 65535) low = 32768;
    fclose(f);
  }
  int first = 10000, span = low - first;
  if (span < 1000) test_fail(__FILE__, __LINE__, "the ephemeral range starts at %d", low);
  uint64_t seed =
      (uint64_t)getpid() * 0x9e3779b97f4a7c15u ^ (uint64_t)time(NULL) ^ (uint64_t)clock();
  if (!seed) seed = 1;
  for (int tries = 0; tries < 200; tries++) {
    int p = first + (int)(test_random(&seed) % (uint64_t)span);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) break;
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)p),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int rc = bind(fd, (struct sockaddr *)&a, sizeof a);
    close(fd);
    if (rc == 0) {
      snprintf(port, 8, "%u", (unsigned)(uint16_t)p);
      return;
    }
  }
  test_fail(__FILE__, __LINE__, "no free port below %d: %s", low, strerror(errno));
}
