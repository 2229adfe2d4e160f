// SPDX-License-Identifier: MIT
//
// File helpers.  Regular files are always "ready" for epoll, so their
// reads and writes block; they run on the worker pool instead.
//
// A call on the pool cannot be interrupted.  pread, pwrite and write_all
// use the caller's buffer, so they wait for the worker whatever comes (a
// cancellation or a timeout is delivered at the next await) and return
// what the call did: the bytes written are reported, never written behind
// an error.  (They used to return -ECANCELED at once while the worker went
// on: a pwrite happened after the call had said it failed, and a pread
// wrote into a buffer its caller had taken back.)  read_all uses only its
// own memory and a copy of the path, so it returns at once when
// interrupted and the worker's result is dropped.
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../include/cio.h"
#include "../internal.h"
#include "../task/task.h"
#include "pool.h"

struct file_job {
  char *path;   // file (read_all: a copy it owns)
  int fd;       // or descriptor
  void *buf;    // data in or out
  size_t len;   // bytes
  size_t max;   // read_all: limit (0 none)
  off_t offset; // pread/pwrite
  bool write;   // pwrite, not pread
  ssize_t rc;   // result: bytes or -errno
};

static void *read_all(void *arg) {
  struct file_job *j = arg;
  int fd = open(j->path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    j->rc = -errno;
    return NULL;
  }
  size_t cap = 4096, len = 0;
  char *data = cio__malloc(cap + 1);
  j->rc = data ? 0 : -ENOMEM;
  while (j->rc == 0) {
    if (len == cap) {
      char *bigger = cio__realloc(data, 2 * cap + 1);
      if (!bigger) {
        j->rc = -ENOMEM;
        break;
      }
      data = bigger;
      cap *= 2;
    }
    ssize_t r = read(fd, data + len, cap - len);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) j->rc = -errno;
    if (r <= 0) break;
    len += (size_t)r;
    if (j->max && len > j->max) j->rc = -EFBIG;
  }
  close(fd);
  if (j->rc < 0) {
    free(data);
    return NULL;
  }
  data[len] = '\0';
  j->buf = data;
  j->len = len;
  return NULL;
}

static void *write_all(void *arg) {
  struct file_job *j = arg;
  // O_NONBLOCK: a FIFO without a reader fails (ENXIO) instead of holding
  // the worker, and its caller, which cannot be interrupted, forever.
  int fd = open(j->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NONBLOCK, 0644);
  if (fd < 0 || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
    j->rc = -errno;
    if (fd >= 0) close(fd);
    return NULL;
  }
  size_t done = 0;
  j->rc = 0;
  while (done < j->len) {
    ssize_t w = write(fd, (const char *)j->buf + done, j->len - done);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      j->rc = -errno;
      break;
    }
    done += (size_t)w;
  }
  if (close(fd) < 0 && j->rc == 0) j->rc = -errno;
  return NULL;
}

// pread or pwrite (j->write), retried through EINTR.
static void *do_pio(void *arg) {
  struct file_job *j = arg;
  ssize_t r;
  do
    r = j->write ? pwrite(j->fd, j->buf, j->len, j->offset)
                 : pread(j->fd, j->buf, j->len, j->offset);
  while (r < 0 && errno == EINTR);
  j->rc = r < 0 ? -errno : r;
  return NULL;
}

// read_all on the pool.  If the caller gives up (cancelled, timed out) the
// worker still uses the job; whichever of the two finishes last frees it
// (the path copy and what read_all allocated), decided by one atomic
// exchange.
enum { RUNNING, FINISHED, ABANDONED };

struct owned {
  struct file_job job; // its data (copied, so the caller's frame may go)
  atomic_int state;    // RUNNING, then FINISHED or ABANDONED
};

static void discard(struct owned *o) {
  free(o->job.buf);
  free(o->job.path);
  free(o);
}

static void *run_owned(void *arg) {
  struct owned *o = arg;
  read_all(&o->job);
  if (atomic_exchange(&o->state, FINISHED) == ABANDONED) discard(o);
  return NULL;
}

// The job could not be queued: no worker will ever have it, so the caller
// frees it.  (It was leaked: the caller waited for a worker to finish it.)
static void never_queued(void *arg) {
  struct owned *o = arg;
  atomic_store(&o->state, FINISHED);
}

// Runs a job that uses the caller's memory: waits for it, shielded.
static int run_to_end(void *(*fn)(void *), struct file_job *job, const char *name) {
  cio__loop *L = cio__await_loop(name);
  if (!L) return -EPERM;
  int rc = cio__checkpoint(L); // already cancelled: do nothing
  if (rc < 0) return rc;
  cio_scope shield;
  cio__shield_enter(L->current, &shield);
  rc = cio__pool_submit_wait(L, fn, job, NULL);
  cio__shield_leave(L->current, &shield);
  return rc;
}

int cio_file_read_all(const char *path, size_t max, char **data, size_t *len) {
  cio__loop *L = cio__await_loop("cio_file_read_all");
  if (!L) return -EPERM;
  if (!path || !data) return -EINVAL;
  int rc = cio__checkpoint(L);
  if (rc < 0) return rc;
  struct owned *o = cio__calloc(1, sizeof *o);
  if (!o || !(o->job.path = cio__strdup(path))) {
    free(o);
    return -ENOMEM;
  }
  o->job.max = max;
  atomic_init(&o->state, RUNNING);
  rc = cio__pool_submit_wait(L, run_owned, o, never_queued);
  if (rc < 0) {
    if (atomic_exchange(&o->state, ABANDONED) == FINISHED) discard(o);
    return rc;
  }
  rc = (int)o->job.rc;
  if (rc == 0) {
    *data = o->job.buf;
    if (len) *len = o->job.len;
    o->job.buf = NULL;
  }
  discard(o);
  return rc;
}

int cio_file_write_all(const char *path, const void *data, size_t len) {
  if (!path || (!data && len)) return -EINVAL;
  struct file_job j = {.path = (char *)path, .buf = (void *)data, .len = len};
  int rc = run_to_end(write_all, &j, "cio_file_write_all");
  return rc < 0 ? rc : (int)j.rc;
}

ssize_t cio_file_pread(int fd, void *buf, size_t len, off_t offset) {
  if (fd < 0 || (!buf && len)) return -EINVAL;
  struct file_job j = {.fd = fd, .buf = buf, .len = len, .offset = offset};
  int rc = run_to_end(do_pio, &j, "cio_file_pread");
  return rc < 0 ? rc : j.rc;
}

ssize_t cio_file_pwrite(int fd, const void *buf, size_t len, off_t offset) {
  if (fd < 0 || (!buf && len)) return -EINVAL;
  struct file_job j = {.fd = fd, .buf = (void *)buf, .len = len, .offset = offset, .write = true};
  int rc = run_to_end(do_pio, &j, "cio_file_pwrite");
  return rc < 0 ? rc : j.rc;
}
