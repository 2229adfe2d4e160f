// SPDX-License-Identifier: MIT
//
// The guide's rate limiting, for real: nine "fetches" against a local echo
// server, at most three at a time (asyncio.Semaphore(3)).  The server is
// started in-process on a free port; each fetch holds its connection for
// 0.2 s.  Prints when each starts and ends.
#include <cio.h>
#include <stdio.h>
#include <string.h>

struct fetch {
  int id;         // which fetch
  char port[8];   // the echo server's port
  cio_sem *limit; // Semaphore(3)
  int *in_flight; // fetches running now
  int *most;      // most at once
  double t0;      // start of the program
};

static int echo(cio_stream *conn, void *arg) {
  (void)arg;
  char buf[256];
  ssize_t n;
  while ((n = cio_stream_read(conn, buf, sizeof buf)) > 0) {
    int rc = cio_stream_write(conn, buf, (size_t)n);
    if (rc == 0) rc = cio_stream_drain(conn);
    if (rc < 0) return rc;
  }
  return (int)n;
}

static int fetch(void *arg) {
  struct fetch *f = arg;
  int rc = cio_sem_acquire(f->limit); // async with semaphore:
  if (rc < 0) return rc;
  if (++*f->in_flight > *f->most) *f->most = *f->in_flight;
  printf("  %.2f s  fetch %d starts (%d in flight)\n", cio_now() - f->t0, f->id, *f->in_flight);
  cio_stream *st;
  rc = cio_stream_connect(&st, "127.0.0.1", f->port);
  if (rc == 0) {
    char msg[32], back[32];
    int n = snprintf(msg, sizeof msg, "item %d\n", f->id);
    rc = cio_stream_write(st, msg, (size_t)n);
    if (rc == 0) rc = cio_stream_drain(st);
    if (rc == 0) rc = cio_sleep(0.2); // a slow service
    ssize_t got = rc < 0 ? rc : cio_stream_readline(st, back, sizeof back);
    if (got != n) rc = got < 0 ? (int)got : -EPROTO;
    int closed = cio_stream_close(st);
    if (rc == 0) rc = closed;
  }
  --*f->in_flight;
  cio_sem_release(f->limit);
  return rc;
}

static int run(void *arg) {
  (void)arg;
  cio_server *srv;
  int rc = cio_server_start(&srv, "127.0.0.1", "0", echo, NULL, NULL);
  if (rc < 0) return rc;
  cio_sem *limit = cio_sem_new(3);
  int in_flight = 0, most = 0;
  struct fetch f[9];
  cio_task *t[9];
  double t0 = cio_now();
  for (int i = 0; i < 9; i++) {
    f[i] =
        (struct fetch){.id = i, .limit = limit, .in_flight = &in_flight, .most = &most, .t0 = t0};
    snprintf(f[i].port, sizeof f[i].port, "%d", cio_server_port(srv));
    t[i] = cio_spawn(fetch, &f[i]);
  }
  rc = cio_gather(t, 9, NULL, 0);
  printf("semaphore(3): 9 fetches in %.1f s, never more than %d at once\n", cio_now() - t0, most);
  cio_sem_free(limit);
  int closed = cio_server_close(srv, 1.0);
  return rc < 0 ? rc : closed;
}

int main(void) { return cio_run(run, NULL) < 0; }
