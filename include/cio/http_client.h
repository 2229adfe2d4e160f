// SPDX-License-Identifier: MIT
//
// An HTTP client (httpx's role): a client holds pools of kept-alive
// connections, and each request awaits like every other cio call, under the
// task's timeout scopes and cancellation.  http:// URLs reached directly go
// through cio's own HTTP/1.1 engine (gzip and deflate decoded with zlib);
// the rest through libcurl's multi-socket interface, driven by cio's loop:
// HTTPS with verification on, HTTP/2, proxies from the environment
// (http_proxy, https_proxy, no_proxy) as curl and httpx take them,
// brotli/zstd.  Redirects, limits, timeouts and errors are the same for
// both.  Present when cio was built with libcurl (the CMake package's
// CLIENT component, cio.pc's client=yes); it includes <cio.h>.
#ifndef CIO_HTTP_CLIENT_H
#define CIO_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "../cio.h"

#ifdef __cplusplus
extern "C" {
#endif

/// A client: connection pools, limits and timeouts shared by its requests.
/// Used by the tasks of the loop that made it.
typedef struct cio_http_client cio_http_client;
/// A response read whole.
typedef struct cio_http_response cio_http_response;
struct json_t; // Jansson's, for cio_http_response_json()

/// A client's settings (httpx's Limits and Timeout).  Zeroes give the
/// defaults; a timeout of CIO_FOREVER is none.
typedef struct cio_http_client_opts {
  size_t max_connections;          ///< open connections in all (0: 100)
  size_t max_connections_per_host; ///< to one host (0: as many as max_connections)
  size_t max_keepalive;            ///< idle connections kept for reuse (0: 20)
  double keepalive_expiry;         ///< seconds an idle connection is kept (0: 5; whole, >= 1)
  double connect_timeout;          ///< seconds to connect, TLS included (0: 5)
  double read_timeout;             ///< seconds the server may send nothing (0: 5)
  double write_timeout;            ///< seconds sending the request may make no progress (0: 5)
  double pool_timeout;             ///< seconds to wait for a connection under the limits (0: 5)
  /// Redirects followed (0: none, the 3xx is the answer), as httpx follows
  /// them: a 303 turns any method but HEAD into a GET without a body, a 301
  /// or 302 turns a POST into one, 307 and 308 keep method and body; no
  /// credentials (bearer, basic, an Authorization header) go to another
  /// origin.  An upload's body cannot be sent twice: its redirect is the
  /// answer.
  int max_redirects;
  size_t max_body;        ///< bytes of a response body at most (0: 64 MiB)
  bool http2;             ///< offer HTTP/2 (ALPN) over TLS and multiplex requests
  const char *ca_file;    ///< CAs trusted (PEM; copied); NULL: the system's store
  const char *user_agent; ///< User-Agent (copied); NULL: "cio/<version>"
} cio_http_client_opts;

/// A query parameter: percent-encoded and appended to the URL.
typedef struct cio_http_query_param {
  const char *name, *value;
} cio_http_query_param;

/// What a request sends besides its method and URL.  All may be zero.
typedef struct cio_http_request_opts {
  const char *const *headers;        ///< "Name: value" lines, NULL-terminated
  const cio_http_query_param *query; ///< query parameters...
  size_t nquery;                     ///<   how many
  const void *body;                  ///< a body (copied before the call returns)...
  size_t body_len;                   ///<   its length
  const char *json; ///< or a JSON text (Content-Type: application/json); with a body too: -EINVAL
  const char *body_file;       ///< or the contents of this regular file, read as it is sent
  const char *bearer;          ///< "Authorization: Bearer " and this token
  const char *user, *password; ///< Authorization: Basic (both set)
} cio_http_request_opts;

/// HTTP client failures, codes of their own like CIO_TLS_* (see cio.h);
/// cio_http_client_error() says what failed (libcurl's words for its
/// requests).
/// Other failures: -ECONNREFUSED, -ECONNRESET, CIO_EAI_NONAME (no such
/// host), CIO_TLS_CERT_* (the server's certificate), CIO_TLS_HANDSHAKE,
/// -EINVAL (a URL or method libcurl refuses; a header line that is not
/// "Name: value" with a token for a name, or a header value, bearer token
/// or User-Agent with a control character other than a tab: a CR or LF
/// would start a header of its own), -ENOMEM, and -ETIMEDOUT or
/// -ECANCELED from the task's own scopes and cancellation.

/// Makes a client.  Call it from a task; it does not await.  Returns 0 and
/// sets *out (close it with cio_http_client_close()), -EINVAL (a negative
/// or NaN timeout, a user_agent with a control character), -ENOMEM, -EPERM
/// outside a task.
int cio_http_client_new(cio_http_client **out, const cio_http_client_opts *opts);

/// Closes the client's connections and frees it.  Awaits (briefly: no
/// peer is waited for).  Returns 0, -EBUSY while requests are in flight
/// (nothing is closed then), -EINVAL for NULL or a client closed already.
CIO_AWAIT int cio_http_client_close(cio_http_client *c);

/// Sends a request and reads its response whole.  Awaits.  Returns 0 and
/// sets *out (free it with cio_http_response_free()); or a negative code
/// (see above): the request failed, or the task's timeout or cancellation
/// interrupted it, and its connection was closed, never returned to the
/// pool half used.  A status of 4xx or 5xx is a response (0), not an
/// error, as in httpx.
CIO_AWAIT int cio_http_request(cio_http_client *c, const char *method, const char *url,
                               const cio_http_request_opts *o, cio_http_response **out);
/// cio_http_request(c, "GET", url, NULL, out).
CIO_AWAIT int cio_http_get(cio_http_client *c, const char *url, cio_http_response **out);

/// Streams the response (httpx's client.stream()): sends the request and
/// returns once the answer's head has come, with its status and headers;
/// the body is read as it comes with cio_http_response_read(), with
/// backpressure (nothing more is read from the server than the reader takes;
/// through libcurl, 64 KiB at most wait unread), and max_body does not
/// apply.  Awaits.  Returns as
/// cio_http_request().  The response holds its connection until the body
/// is read to its end (the connection then goes back to the pool) or the
/// response is freed (a connection with a body left unread is closed);
/// until then the transfer counts as in flight for cio_http_client_close().
CIO_AWAIT int cio_http_stream(cio_http_client *c, const char *method, const char *url,
                              const cio_http_request_opts *o, cio_http_response **out);

/// Reads up to len bytes of the body, awaiting some when a streamed body
/// has none yet.  Returns the bytes read, 0 at the end of the body, or a
/// negative code: CIO_HTTP_READ_TIMEOUT (the server sent nothing for
/// read_timeout while the call waited), CIO_HTTP_PROTOCOL (the body broke
/// off, or its coding is bad), -ECONNRESET...: the stream has ended, and
/// every later read returns the same; -ETIMEDOUT or -ECANCELED from the
/// task's scope or cancellation, after which reading may go on.  On a
/// response read whole (cio_http_request()), hands out its body.
CIO_AWAIT ssize_t cio_http_response_read(cio_http_response *r, void *buf, size_t len);

/// An upload: a request whose body a task writes as it goes out (chunked
/// transfer coding), as httpx sends an async iterator's bytes.
typedef struct cio_http_upload cio_http_upload;

/// Starts a request (method and URL as cio_http_request(); `o` may give
/// headers, a query, auth, but no body) whose body is written with
/// cio_http_upload_write().  Awaits nothing of the server: returns once the
/// transfer has started.  Returns 0 and *out, or the codes of
/// cio_http_request() (-EINVAL with a body in `o`).
CIO_AWAIT int cio_http_upload_begin(cio_http_client *c, const char *method, const char *url,
                                    const cio_http_request_opts *o, cio_http_upload **out);
/// Writes the next bytes of the body (copied).  Awaits while 64 KiB wait to
/// be sent (backpressure).  Returns 0; CIO_HTTP_WRITE_TIMEOUT (no progress
/// for write_timeout); -EPIPE when the server has already answered (or the
/// transfer failed): call cio_http_upload_finish() for the answer;
/// -ETIMEDOUT or -ECANCELED from the task's scope or cancellation (what was
/// written stays queued); -EINVAL after finish, -ENOMEM.
CIO_AWAIT int cio_http_upload_write(cio_http_upload *up, const void *data, size_t len);
/// Ends the body, awaits the response and frees `up`.  Returns as
/// cio_http_request(); -EINVAL for an upload already finished or aborted
/// (as do the write and the abort then, for the last 64 handles freed).
CIO_AWAIT int cio_http_upload_finish(cio_http_upload *up, cio_http_response **out);
/// Gives the upload up (its connection is closed) and frees it (NULL:
/// nothing).  Does not await.
void cio_http_upload_abort(cio_http_upload *up);

/// The response's status code.  Does not await.
int cio_http_response_status(const cio_http_response *r);
/// The value of header `name` (without case; the last if repeated), or
/// NULL.  Valid until the response is freed.  Does not await.
const char *cio_http_response_header(const cio_http_response *r, const char *name);
/// The body (decoded if it came compressed) and its length; the bytes are
/// followed by a NUL.  NULL and 0 for a streamed response (see
/// cio_http_response_read()).  Valid until the response is freed.  Does not
/// await.
const char *cio_http_response_body(const cio_http_response *r, size_t *len);
/// The body decoded as JSON (httpx's r.json()), with Jansson: sets *out to
/// a new reference (json_decref() it).  Does not await.  Returns 0, -EBADMSG
/// (the body is not JSON, or nests arrays and objects deeper than 128
/// levels; cio_http_client_error() says where), -EINVAL
/// (NULL, or a streamed response), -ENOTSUP (cio was built without
/// Jansson).
int cio_http_response_json(const cio_http_response *r, struct json_t **out);
/// The URL answered (after redirects).  Does not await.
const char *cio_http_response_url(const cio_http_response *r);
/// The protocol: "HTTP/1.1", "HTTP/2", "HTTP/1.0".  Does not await.
const char *cio_http_response_version(const cio_http_response *r);
/// Frees a response (NULL: nothing); a streamed one not read to its end
/// closes its connection.  Does not await.
void cio_http_response_free(cio_http_response *r);

/// What this thread's last failed request ran into (libcurl's words for
/// the requests it made), or "".
const char *cio_http_client_error(void);

/// The number of connections the client has opened so far (0 for NULL),
/// for tests and pool statistics.  Does not await.
size_t cio_http_client_connections(const cio_http_client *c);

#ifdef __cplusplus
}
#endif

#endif
