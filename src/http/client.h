// SPDX-License-Identifier: MIT
//
// The HTTP client's two engines (<cio/http_client.h>): libcurl's
// (client.c: HTTPS, HTTP/2, proxies) and cio's own HTTP/1.1 one
// (client_h1.c: http:// origins reached directly), and what they share:
// the response, and the error text of the last failed request.
#ifndef CIO_HTTP_CLIENT_INTERNAL_H
#define CIO_HTTP_CLIENT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../../include/cio/http_client.h"
#include "../loop/loop.h"
#include "../task/task.h"

// Interim (1xx) answers skipped before a request's final one, by either
// engine; one more fails the request (CIO_HTTP_PROTOCOL).  Without a bound
// a server sending them without end would keep a request going for ever,
// each one progress for the read timeout (Go's net/http allows 5; libcurl
// has no bound).
#define CIO__HTTP_MAX_INTERIM 5
#define CIO__HTTP_TOO_MANY_INTERIM "too many informational (1xx) responses"

struct request;      // a libcurl transfer (client.c)
struct cio__h1_body; // a body read from one of the own engine's connections

struct cio_http_response {
  int status;
  char *body;
  size_t len;
  char *url;
  const char *version;
  char *head; // header lines, split in place
  size_t nfields;
  const char **names, **values;
  struct request *stream;  // cio_http_stream() through libcurl: its transfer (owned)
  struct cio__h1_body *h1; // cio_http_stream() through the own engine: its body (owned)
  size_t read_at;          // cio_http_response_read() of a whole body: bytes read
};

// Sets the text cio_http_client_error() gives (printf-style).
void cio__http_client_error_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

// The URL with the query parameters appended, each name and value
// percent-encoded (all but RFC 3986's unreserved characters), and its
// fragment dropped; NULL for ENOMEM.  (Both engines' requests.)
char *cio__http_client_url_with_query(const char *url, const cio_http_query_param *q, size_t n);

// Splits a response's head (resp->head: the status line, then "Name:
// value" lines ending in LF or CRLF) into its fields, in place.  Returns
// false for ENOMEM.
bool cio__http_client_split_head(cio_http_response *resp);

// ---------------------------------------------------------------- the own engine

struct h1_origin;

// A client's pools of HTTP/1.1 connections, one per origin (scheme http,
// host, port), under the client's limits.  The settings are the client's;
// `other_open` is the connections libcurl holds open, which count under
// max_total too.
typedef struct cio__h1_pool {
  cio__loop *L;
  size_t max_total, max_per_host, max_idle;
  int64_t keepalive_ns, connect_ns, read_ns, write_ns, pool_ns; // -1: none
  size_t max_body;
  const char *user_agent;
  size_t open;              // connections open or being opened
  size_t idle;              //   of which idle in a pool
  size_t other_open;        // libcurl's (client.c keeps it)
  const size_t *other_busy; // libcurl's transfers under way (one place is kept for them)
  // Called when `open` changed (client.c gives libcurl what is left).
  void (*open_changed)(struct cio__h1_pool *p);
  // Closes an idle connection of libcurl's to make room; whether it did.
  bool (*evict_other)(struct cio__h1_pool *p);
  size_t opened; // connections opened so far
  size_t busy;   // exchanges, streams and uploads under way
  int64_t swept; // when expired idle connections were last closed
  struct h1_origin *origins;
  size_t origins_kept; // records in `origins`
  cio__waitq waiters;  // tasks waiting for room under the limits
} cio__h1_pool;

// Whether the own engine takes a request for `url`: an http:// URL with no
// user name in it, and no proxy for http in the environment (http_proxy,
// all_proxy, ALL_PROXY: libcurl applies them and no_proxy).
bool cio__h1_serves(const char *url);

// One request and its answer (no redirect followed): awaits.  Returns 0
// and *out (a stream's body is read with cio__h1_read()), or a negative
// code as cio_http_request().  `fn` names the public call.
int cio__h1_request(cio__h1_pool *p, const char *method, const char *url,
                    const cio_http_request_opts *o, bool stream, cio_http_response **out);

// Reads a streamed body (cio_http_response_read()).  Awaits.
ssize_t cio__h1_read(struct cio__h1_body *b, void *buf, size_t len);

// Frees a streamed body; its connection goes back to the pool if the body
// was read to its end, else it is closed.  Does not await.
void cio__h1_body_free(struct cio__h1_body *b);

// Uploads (cio_http_upload_*()) through the own engine.
struct cio__h1_upload;
int cio__h1_upload_begin(cio__h1_pool *p, const char *method, const char *url,
                         const cio_http_request_opts *o, struct cio__h1_upload **out);
int cio__h1_upload_write(struct cio__h1_upload *u, const void *data, size_t len);
int cio__h1_upload_finish(struct cio__h1_upload *u, cio_http_response **out);
void cio__h1_upload_abort(struct cio__h1_upload *u);

// Room under max_total may have come (libcurl closed a connection): the
// tasks waiting for it look again.
void cio__h1_room(cio__h1_pool *p);

// Before a libcurl transfer: while the engine's connections and libcurl's
// fill max_total, closes the engine's idle ones; if the engine's alone
// fill it, waits (within the pool timeout from `start`) for one to go.
// Returns 0, CIO_HTTP_POOL_TIMEOUT, -ECANCELED, -ETIMEDOUT.
int cio__h1_room_for_other(cio__h1_pool *p, int64_t start);

// Closes the idle connections and frees the pools (nothing may be busy).
void cio__h1_fini(cio__h1_pool *p);

// How many origin records the own engine keeps (for tests: they are
// forgotten once unused, sweep() in client_h1.c).
size_t cio__http_client_origins_kept(const cio_http_client *c);

#endif
