// SPDX-License-Identifier: MIT
//
// The app: the object a program builds (cio_http_app_new), its routes and
// middleware in the order added, and the chain that runs a request through
// them (cio__http_app_handle, called by the connection loop).  The routes'
// patterns are compiled and matched in route.c; the servers started for an
// app (serve.c) are freed with it.
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../alloc.h"
#include "../sync/quarantine.h"
#include "http.h"

// ---------------------------------------------------------------- app

cio_http_app *cio_http_app_new(void) {
  cio_http_app *app = cio__calloc(1, sizeof *app);
  if (app) {
    app->magic = CIO__HTTP_APP_MAGIC;
    pthread_mutex_init(&app->lock, NULL);
    app->tail = &app->routes;
    app->mw_tail = &app->mws;
  }
  return app;
}

int cio_http_app_free(cio_http_app *app) {
  if (!cio__http_app_valid(app)) return cio__bad_handle("cio_http_app_free", "HTTP app", app);
  app->magic = 0;
  while (app->owned) {
    struct owned *next = app->owned->next;
    app->owned->free(app->owned->p);
    free(app->owned);
    app->owned = next;
  }
  while (app->mws) {
    struct mw *next = app->mws->next;
    free(app->mws);
    app->mws = next;
  }
  while (app->servers) {
    struct http_server *next = app->servers->next;
    free(app->servers);
    app->servers = next;
  }
  pthread_mutex_destroy(&app->lock);
  struct route *r = app->routes;
  while (r) {
    struct route *next = r->next;
    cio__http_route_free(r);
    r = next;
  }
  app->routes = NULL;
  cio__quarantine(app); // a second free reads the cleared magic
  return 0;
}

int cio__http_route_new(cio_http_app *app, const char *method, const char *pattern,
                        cio_http_handler fn, void *arg, struct route **out) {
  if (!cio__http_app_valid(app) || !method || !pattern || pattern[0] != '/' || !fn ||
      strlen(method) >= 16)
    return -EINVAL;
  struct route *r = cio__calloc(1, sizeof *r);
  if (!r) return -ENOMEM;
  strcpy(r->method, method);
  r->fn = fn;
  r->arg = arg;
  int rc = cio__http_route_compile(r, pattern);
  if (rc < 0) {
    free(r);
    return rc;
  }
  *out = r;
  return 0;
}

void cio__http_route_link(cio_http_app *app, struct route *r) {
  *app->tail = r;
  app->tail = &r->next;
  app->last = r;
}

int cio_http_route(cio_http_app *app, const char *method, const char *pattern, cio_http_handler fn,
                   void *arg) {
  struct route *r;
  int rc = cio__http_route_new(app, method, pattern, fn, arg, &r);
  if (rc == 0) cio__http_route_link(app, r);
  return rc;
}

int cio__http_app_own(cio_http_app *app, void *p, void (*free_fn)(void *p)) {
  struct owned *o = cio__calloc(1, sizeof *o);
  if (!o) return -ENOMEM;
  o->free = free_fn;
  o->p = p;
  o->next = app->owned;
  app->owned = o;
  return 0;
}

// ---------------------------------------------------------------- middleware

int cio_http_use(cio_http_app *app, cio_http_middleware fn, void *arg) {
  if (!cio__http_app_valid(app) || !fn) return -EINVAL;
  struct mw *m = cio__calloc(1, sizeof *m);
  if (!m) return -ENOMEM;
  m->fn = fn;
  m->arg = arg;
  *app->mw_tail = m;
  app->mw_tail = &m->next;
  return 0;
}

// Where a request is in the middleware chain.
struct chain {
  cio_http_app *app; // routes
  struct mw *at;     // the next middleware to run, or NULL: route it
  double timeout;    // handler timeout
  int status;        // an answer the server gives itself (413, 408...), or 0: route it
};

static int chain_next(cio_http_req *req, cio_http_res *res, void *state) {
  struct chain *c = state;
  struct mw *m = c->at;
  if (!m) {
    if (c->status)
      cio__http_error_body(res, c->status); // middleware sees it as any other answer
    else
      cio__http_dispatch(c->app, req, res, c->timeout);
    return 0;
  }
  c->at = m->next;
  return m->fn(req, res, chain_next, c, m->arg);
}

int cio__http_app_handle(cio_http_app *app, cio_http_req *req, cio_http_res *res, double timeout,
                         int status) {
  struct chain chain = {app, app->mws, timeout, status};
  return chain_next(req, res, &chain);
}
