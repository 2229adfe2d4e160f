// SPDX-License-Identifier: MIT
//
// Starting an app's server (cio_http_serve: the options' defaults, the
// connection loop of conn.c as cio_server's handler, its closing hook) and
// serving until a signal (cio_http_run: the first SIGINT or SIGTERM closes
// gracefully, a second one aborts what is left).
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../include/cio.h"
#include "../alloc.h"
#include "../internal.h"
#include "../io/server.h"
#ifdef CIO_HAVE_OPENSSL
#include "../io/tls.h"
#endif
#include "http.h"

// ---------------------------------------------------------------- serving

// Fills in the defaults of the options (docs/http.md lists them).
static void default_opts(cio_http_opts *o) {
  if (!o->max_body) o->max_body = 1 << 20;
  if (!o->max_head) o->max_head = 16384;
  if (!o->max_line) o->max_line = 8192;
  if (!(o->header_timeout > 0)) o->header_timeout = 10;
  if (!(o->body_timeout > 0)) o->body_timeout = 10;
  if (!(o->min_body_rate > 0)) o->min_body_rate = 1024;
  if (!(o->send_timeout > 0)) o->send_timeout = 60;
  if (!(o->idle_timeout > 0)) o->idle_timeout = 60;
  if (!(o->shutdown_timeout > 0)) o->shutdown_timeout = 10;
}

// cio_http_serve, giving the app's record of the server too.  The app is
// shared by every loop that serves it: its routes and middleware are only
// read; what a server changes is in its own record, and the list of
// records is under the app's lock.
static int serve(cio_http_app *app, const char *host, const char *port, const cio_http_opts *opts,
                 cio_server **out, struct http_server **record) {
  if (!cio__http_app_valid(app) || !out) return -EINVAL;
  struct http_server *srv = cio__calloc(1, sizeof *srv); // freed with the app
  if (!srv) return -ENOMEM;
  srv->app = app;
  if (opts) srv->opts = *opts;
  default_opts(&srv->opts);
  if (srv->opts.tls) {
#ifdef CIO_HAVE_OPENSSL
    int rc = cio__tls_server_ctx_speak(srv->opts.tls, "http/1.1");
#else
    int rc = -ENOTSUP; // built without OpenSSL
#endif
    if (rc < 0) {
      free(srv);
      return rc;
    }
  }
  cio_server_opts so = {.max_connections = srv->opts.max_connections,
                        .backlog = 4096,
                        .flags = srv->opts.reuseport ? CIO_REUSEPORT : 0};
  int rc = cio_server_start(out, host, port, cio__http_serve_connection, srv, &so);
  if (rc < 0) {
    free(srv);
    return rc;
  }
  srv->server = *out;
  cio__server_on_close(*out, cio__http_closing, srv);
  pthread_mutex_lock(&app->lock);
  srv->next = app->servers;
  app->servers = srv;
  pthread_mutex_unlock(&app->lock);
  if (record) *record = srv;
  return 0;
}

int cio_http_serve(cio_http_app *app, const char *host, const char *port, const cio_http_opts *opts,
                   cio_server **out) {
  return serve(app, host, port, opts, out, NULL);
}

// ---------------------------------------------------------------- serving until a signal

// cio_http_run's signal watchers: the first SIGINT or SIGTERM starts the
// graceful shutdown, a later one cuts its grace short (as a second Ctrl-C
// does to uvicorn).
struct run_state {
  cio_event *stop; // set by the first signal
  cio_server *srv; // the server, while it closes
  int signals;     // received so far
};
struct watcher {
  struct run_state *st; // shared state
  int signo;            // SIGINT or SIGTERM
};

static int watch_signal(void *arg) {
  struct watcher *w = arg;
  for (;;) {
    int rc = cio_signal_wait(w->signo);
    if (rc < 0) return rc == -ECANCELED ? 0 : rc;
    if (w->st->signals++ == 0) {
      fprintf(stderr, "cio: %s: closing the HTTP server (again to abort requests in flight)\n",
              w->signo == SIGINT ? "SIGINT" : "SIGTERM");
      cio_event_set(w->st->stop);
    } else if (w->st->srv) {
      cio__server_abort(w->st->srv);
    }
  }
}

int cio_http_run(cio_http_app *app, const char *host, const char *port, const cio_http_opts *opts) {
  if (!cio_current()) return cio__misuse_outside("cio_http_run");
  cio_server *srv;
  struct http_server *record;
  int rc = serve(app, host, port, opts, &srv, &record);
  if (rc < 0) return rc;
  double grace = record->opts.shutdown_timeout;
  struct run_state st = {cio_event_new(), NULL, 0};
  struct watcher w[2] = {{&st, SIGINT}, {&st, SIGTERM}};
  cio_task *t[2] = {NULL, NULL};
  for (int i = 0; i < 2 && st.stop; i++)
    t[i] = cio_spawn_named("http: signals", watch_signal, &w[i]);
  if (!st.stop || !t[0] || !t[1]) rc = -ENOMEM;
  if (rc == 0 && opts && opts->on_start) opts->on_start(srv, opts->on_start_arg);
  if (rc == 0) {
    int waited = cio_event_wait(st.stop); // 0 after a signal, -ECANCELED if this task is cancelled
    (void)waited;
  }
  st.srv = srv;
  int closed = cio_server_close(srv, grace); // shielded: the grace is given even when cancelled
  st.srv = NULL;
  for (int i = 0; i < 2; i++) {
    if (!t[i]) continue;
    cio_cancel(t[i]);
    int joined = cio_join(t[i]);
    (void)joined;
  }
  if (st.stop) cio_event_free(st.stop);
  return rc < 0 ? rc : closed < 0 ? closed : 0;
}
