// SPDX-License-Identifier: MIT
/// \file
///
/// A FastAPI-style HTTP/1.1 framework on cio: routes with typed path
/// parameters, handlers that are tasks (they may sleep, gather, time out),
/// JSON responses, FastAPI's 404/405/422 answers.  Include <cio/http.h>.
///
///   static int root(cio_http_req *req, cio_http_res *res, void *arg) {
///     return cio_http_json(res, 200, "{\"message\":\"Hello\"}");
///   }
///   cio_http_app *app = cio_http_app_new();
///   cio_http_route(app, "GET", "/", root, NULL);
///   cio_http_route(app, "GET", "/user/{user_id:int}/profile", profile, NULL);
///   return cio_http_run(app, "0.0.0.0", "8000", NULL);  // until Ctrl-C
///
/// Path parameters: {name} or {name:str} (one segment), {name:int},
/// {name:float}, {name:path} (the rest of the path).  A parameter that does
/// not convert gets 422 with FastAPI's JSON body.
///
/// Paths are routed as Starlette routes them: the whole path is
/// percent-decoded first (no '+' to space; "%2F" is a slash, so it separates
/// segments), invalid UTF-8 becomes U+FFFD, then the segments are matched.
/// A parameter never matches an empty segment ("/user//profile" is 404), a
/// path starting "//" is not "/", and one trailing slash is ignored.
#ifndef CIO_HTTP_H
#define CIO_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../cio.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cio_http_app cio_http_app;
typedef struct cio_http_req cio_http_req;
typedef struct cio_http_res cio_http_res;

/// A handler, run in the connection's task.  Returns 0 once it has set a
/// response; a negative errno (or no response) makes a 500 with a JSON error,
/// -ETIMEDOUT a 504.
typedef int (*cio_http_handler)(cio_http_req *req, cio_http_res *res, void *arg);

/// Limits and timeouts (docs/http.md lists what a client sees for each).
/// No timeout restarts with each read: a client that trickles bytes is held
/// to the same deadlines as one that sends nothing.
typedef struct cio_tls_ctx cio_tls_ctx; // <cio/tls.h>

typedef struct cio_http_opts {
  /// HTTPS: a server context from <cio/tls.h> (certificate, key, SNI);
  /// each connection's handshake must end within header_timeout, and
  /// "http/1.1" is agreed through ALPN (the context and its SNI contexts
  /// are set to offer it unless they offer protocols already).  The
  /// context must outlive the server.  NULL: plain HTTP.
  cio_tls_ctx *tls;
  size_t max_connections;  ///< 0: no limit
  size_t max_body;         ///< request body limit, 413 beyond (0: 1 MiB)
  size_t max_head;         ///< header block limit, 431 beyond (0: 16 KiB)
  size_t max_line;         ///< request line limit, 414 beyond (0: 8 KiB)
  double header_timeout;   ///< seconds for a whole request head from its first byte (a new
                           ///< connection's first head: from the accept); 408 beyond (0: 10)
  double body_timeout;     ///< seconds a body may take beyond what min_body_rate asks (0: 10)
  double min_body_rate;    ///< bytes/s a body must average after body_timeout, 408 below (0:
                           ///< 1024; CIO_FOREVER: the whole body within body_timeout)
  double send_timeout;     ///< seconds a write to the client may go without progress; then the
                           ///< connection is reset and its handler cancelled (0: 60)
  double idle_timeout;     ///< seconds a kept-alive connection may idle (0: 60)
  double handler_timeout;  ///< seconds a handler may run, 504 beyond (0: none)
  double shutdown_timeout; ///< cio_http_run: grace for requests in flight at shutdown (0: 10)
  /// cio_http_run: called once it listens, in the calling task, with the
  /// server (for cio_server_port); it must not await.  NULL: none.
  void (*on_start)(cio_server *srv, void *arg);
  void *on_start_arg; ///< its argument
  /// Listen with SO_REUSEPORT, so that servers on several loops share the
  /// port and the kernel spreads connections among them (by a hash of the
  /// client's address and port).  With port "0", each server gets a port
  /// of its own: cio_http_run_workers picks one for all of its loops.
  bool reuseport;
} cio_http_opts;

/// A new app with no routes, or NULL (ENOMEM).
cio_http_app *cio_http_app_new(void);
/// Frees the app; close its servers first.  Returns 0, or -EINVAL for NULL
/// or an app already freed (while it is among the last 64 objects freed on
/// this thread; debug mode names the call).  Does not await.
int cio_http_app_free(cio_http_app *app);

/// Adds a route.  Does not await.  Returns 0, -ENOMEM, or -EINVAL for a NULL
/// argument, a method of 16 bytes or more, or a pattern that does not start
/// with '/', has more than 16 segments, an empty segment ("/a//b"), an
/// unknown converter, or anything after a {name:path}.
int cio_http_route(cio_http_app *app, const char *method, const char *pattern,
                   cio_http_handler handler, void *arg);

/// Middleware: a function around every request (FastAPI's
/// `@app.middleware("http")`).  It calls next(req, res, state) to run the rest
/// (later middleware, then routing and the handler) and may look at or change
/// the response afterwards.  Returns what the handler would.  It also runs
/// around the answers the server gives itself once the request line is read
/// (413, and 400/408 for a bad or slow body): then next() sets that answer.
/// Only answers to a head that does not parse (400, 414, 431, 501, 505, or
/// 408 for a head that never completes) bypass it, having no request to
/// show.
typedef int (*cio_http_next)(cio_http_req *req, cio_http_res *res, void *state);
typedef int (*cio_http_middleware)(cio_http_req *req, cio_http_res *res, cio_http_next next,
                                   void *state, void *arg);

/// Adds a middleware; the first added runs outermost.  Does not await; the
/// app keeps `arg` (the caller owns it and keeps it alive while the app
/// serves).  Returns 0, -EINVAL (NULL app or function), -ENOMEM.
int cio_http_use(cio_http_app *app, cio_http_middleware mw, void *arg);

// ---------------------------------------------------------------- static files and CORS

/// How cio_http_static serves a directory.
typedef struct cio_http_static_opts {
  /// A directory's URL answers its index.html (FastAPI's `html=True`; a
  /// directory URL without its final slash is redirected to it, 307, as
  /// Starlette does).  false: a directory is 404.
  bool html;
} cio_http_static_opts;

/// Serves the files under directory `dir` at URL prefix `prefix` ("/static":
/// GET and HEAD of "/static/css/a.css" answer dir/css/a.css), FastAPI's
/// `app.mount(prefix, StaticFiles(directory=dir))`: Content-Type from the
/// extension, a strong ETag (nginx's: "<mtime hex>-<size hex>") and
/// Last-Modified, 304 for If-None-Match / If-Modified-Since, one range
/// (Range, If-Range) as 206 or 416, the body sent with sendfile(2) (read and
/// written under TLS).  A path that would leave `dir` ("..", a symlink out of
/// it, a NUL, a backslash) is 404 {"detail":"Not Found"}, as is a missing
/// file.  Mounted as routes (GET prefix and prefix/{path:path}): routes added
/// before it take precedence.  Does not await; the app copies prefix and opts
/// and keeps `dir` open (one descriptor) until it is freed.  opts may be
/// NULL.  Returns 0, -EINVAL (NULL app, prefix or dir, a prefix that does not
/// start with '/' or that cio_http_route refuses), -ENOMEM, or -errno from
/// opening dir (-ENOENT, -ENOTDIR, -EACCES).
int cio_http_static(cio_http_app *app, const char *prefix, const char *dir,
                    const cio_http_static_opts *opts);

/// Starlette's CORSMiddleware options.  Lists are NULL-terminated arrays of
/// strings (NULL: empty), copied by cio_http_cors.
typedef struct cio_http_cors_opts {
  const char *const *allow_origins;  ///< origins allowed exactly; "*" any
  const char *allow_origin_regex;    ///< POSIX extended regex an origin must match whole, or NULL
  const char *const *allow_methods;  ///< preflight methods allowed; "*" all (NULL: GET only)
  const char *const *allow_headers;  ///< request headers allowed besides the safelisted; "*" any
  bool allow_credentials;            ///< Access-Control-Allow-Credentials: true
  const char *const *expose_headers; ///< Access-Control-Expose-Headers
  int max_age;                       ///< preflight cache seconds (0: 600; negative: 0)
} cio_http_cors_opts;

/// Adds Starlette's CORSMiddleware as a middleware (cio_http_use: add it
/// first to run outermost, as Starlette's add_middleware does).  A request
/// with Origin that is a preflight (OPTIONS with
/// Access-Control-Request-Method) is answered by it: 200 "OK" with the
/// Access-Control-Allow-* headers, or 400 "Disallowed CORS origin, method,
/// headers" (the failures); the app never sees it.  Other requests with
/// Origin get Access-Control-Allow-Origin (the origin itself, with
/// Vary: Origin, when origins are listed; `*` for "*", unless the request
/// has a Cookie), -Allow-Credentials and -Expose-Headers.  Does not await;
/// the app copies opts.  Returns 0, -EINVAL (NULL app or opts, a regex that
/// does not compile), -ENOMEM.
int cio_http_cors(cio_http_app *app, const cio_http_cors_opts *opts);

/// The response's status so far (0 before one is set, also for a NULL
/// response): for middleware.  Does not await.
int cio_http_status(const cio_http_res *res);

/// Serves the app (see cio_server_start; the server is stopped with
/// cio_server_close).  opts may be NULL.  The app must outlive the server.
/// Does not await.  Returns 0 and *out, -EINVAL (also for a client TLS
/// context), -ENOMEM, -ENOTSUP (opts->tls in a cio built without OpenSSL),
/// or -errno from listening (-EADDRINUSE...).
///
/// Closing the server is graceful: it stops accepting; a request in flight
/// is finished and answered with `Connection: close`; a request that
/// arrives on a kept-alive connection meanwhile is answered the same way;
/// idle connections are closed once no request is in flight.  At the end of
/// the grace every handler still running is cancelled (its await returns
/// -ECANCELED, a write in progress returns -ECANCELED) and its connection is
/// reset.
int cio_http_serve(cio_http_app *app, const char *host, const char *port, const cio_http_opts *opts,
                   cio_server **out);

/// Serves the app until SIGINT or SIGTERM, or until the calling task is
/// cancelled, then shuts down gracefully (as cio_server_close with
/// opts->shutdown_timeout as the grace, see cio_http_serve) and returns;
/// uvicorn's behaviour.  A second SIGINT/SIGTERM during the grace cuts it
/// short.  While it runs, SIGINT and SIGTERM are the server's: they do not
/// cancel the main task.  Awaits.  Returns 0 once shut down (a caller that
/// was cancelled still has its cancellation pending), or what
/// cio_http_serve returns when it cannot listen, or -EPERM outside a task.
CIO_AWAIT int cio_http_run(cio_http_app *app, const char *host, const char *port,
                           const cio_http_opts *opts);

/// Serves the app on `nloops` loops at once, each on a thread of its own
/// (cio_run_loops; nloops <= 0: one per CPU the process may use), each
/// running cio_http_run() on host:port with opts->reuseport set, so the
/// kernel spreads connections among them.  Port "0" picks one free port for
/// all of them (opts->on_start, called on each loop with that loop's
/// server, can read it with cio_server_port).  The app and opts are shared
/// by every loop: build the app first and change nothing in it while it
/// serves (routes and middleware are only read; a handler's own shared
/// state is the program's to synchronise).  SIGINT or SIGTERM shuts every
/// loop's server down gracefully, as cio_http_run does; a loop that cannot
/// listen cancels the others.  Blocks the calling thread, which must not
/// run a loop (-EBUSY), until every loop has ended.  Returns 0 once all
/// have shut down, else the first failure (-EADDRINUSE..., or what
/// cio_run_loops returns); -EINVAL for a NULL app or port.
int cio_http_run_workers(cio_http_app *app, const char *host, const char *port,
                         const cio_http_opts *opts, int nloops);

// ---------------------------------------------------------------- request

/// The request's accessors.  None awaits.  Every string they return is
/// NUL-terminated, owned by the request, and stays valid and unchanged until
/// the handler (and the middleware around it) has returned, whatever else is
/// called meanwhile; none is cut short.  The request's limits (max_line,
/// max_head: 414, 431) bound what they can return.
///
/// The method; the path as sent, percent-encoded, without the query (for an
/// absolute-form target "http://h/p?q", "/p").
const char *cio_http_method(const cio_http_req *req);
const char *cio_http_path(const cio_http_req *req);
/// A path parameter, decoded (see the routing rules above), or NULL.
const char *cio_http_param(const cio_http_req *req, const char *name);
/// A path parameter converted ({name:int} / {name:float} routes guarantee it).
int64_t cio_http_param_int(const cio_http_req *req, const char *name);
double cio_http_param_float(const cio_http_req *req, const char *name);
/// A query parameter, decoded as Starlette decodes it ('+' is a space, %XX,
/// invalid UTF-8 as U+FFFD; "?flag" is ""); when the name comes more than
/// once, the last value (Starlette's query_params[name]).  NULL if absent,
/// and also when the value holds a NUL byte (sent as %00), which a C string
/// cannot carry: reading it cut at the NUL is how "a.txt%00.jpg" becomes
/// "a.txt".  cio_http_query_n gives such a value whole.
const char *cio_http_query(const cio_http_req *req, const char *name);
/// The same, NUL bytes included: *len (may be NULL) receives the length.
const char *cio_http_query_n(const cio_http_req *req, const char *name, size_t *len);
/// A query parameter as an integer, `def` if absent.  Returns 0, or -EINVAL
/// after answering 422 (FastAPI's shape, the input echoed whole) when it
/// does not convert (a NUL in it does not; *out is then `def`): the handler
/// should then return at once.
int cio_http_query_int(cio_http_req *req, cio_http_res *res, const char *name, int64_t def,
                       int64_t *out);
/// The same for a number (float) and a boolean (true/false, 1/0, yes/no,
/// on/off, t/f, y/n, any case, as FastAPI accepts): `def` if absent; 0, or
/// -EINVAL after answering 422.  Neither awaits.
int cio_http_query_float(cio_http_req *req, cio_http_res *res, const char *name, double def,
                         double *out);
int cio_http_query_bool(cio_http_req *req, cio_http_res *res, const char *name, bool def,
                        bool *out);
/// A request header's value (the first of that name, case-insensitive), or
/// NULL.  For an absolute-form target, "Host" is the target's authority (RFC
/// 9112 §3.2.2).
const char *cio_http_header(const cio_http_req *req, const char *name);
/// The request body (NUL-terminated) and its length.
const char *cio_http_body(const cio_http_req *req, size_t *len);

// ---------------------------------------------------------------- response

/// Every answer carries Date and Server: cio (a handler's own Date or
/// Server header replaces them); a 1xx, 204 or 304 answer goes without
/// Content-Type, Content-Length and body, whatever body was set.
///
/// Sets the response: status, a JSON body (copied).  Does not await.
/// Returns 0, -ENOMEM, -EALREADY after cio_http_stream_start(), or -EINVAL
/// for a NULL response or body or a status outside 200-599 (a 1xx is
/// interim, never an answer: RFC 9110 §15).  A 205's body is dropped (it
/// must have none: §15.3.6).
int cio_http_json(cio_http_res *res, int status, const char *json);
/// Any body with its content type (copied; NULL with len 0 is an empty
/// body; a NULL type is application/octet-stream).  Does not await.
/// Returns 0, -ENOMEM, -EALREADY after cio_http_stream_start(), or -EINVAL
/// for a NULL response, a NULL body with a length, a status outside
/// 200-599, or a content type of 128 bytes or more or with a control
/// character (CR, LF: it would start another header).
int cio_http_send(cio_http_res *res, int status, const char *content_type, const void *body,
                  size_t len);
/// Adds a response header (copied, without the blanks around the value).
/// Content-Type is one field: set here, it replaces the one the body gives
/// (before or after).  Does not await.  Returns 0, -EINVAL
/// for a NULL argument, a name that is not an RFC 9110 token, a value with a
/// control character other than tab, or Content-Length, Transfer-Encoding or
/// Connection (the server frames the answer); -ENOSPC when the response's
/// headers (512 bytes in all) are full.
int cio_http_set_header(cio_http_res *res, const char *name, const char *value);

/// Streams the response (chunked transfer coding): sends the status line and
/// headers now; then each cio_http_stream_write sends one piece (copied
/// out before it returns), awaiting a slow client (backpressure).  The end
/// of the stream is sent when the handler returns 0.  A stream is cut short
/// instead (the connection closes without the last chunk, or with a reset
/// for HTTP/1.0, so the client sees an incomplete body, never a whole one)
/// when the handler returns an error or outlives its timeout, or a write
/// failed: later writes then return -EPIPE.  stream_start returns 0,
/// -EALREADY if a response was already set or started, -EINVAL for a status
/// or content type cio_http_send refuses, -errno from the socket;
/// stream_write returns 0, -EINVAL if no stream was started or for a NULL
/// piece with a length, -errno from the socket (an empty piece, and any
/// piece of a HEAD, 204, 205 or 304 response, sends nothing).
CIO_AWAIT int cio_http_stream_start(cio_http_res *res, int status, const char *content_type);
CIO_AWAIT int cio_http_stream_write(cio_http_res *res, const void *data, size_t len);

#ifdef __cplusplus
}
#endif
#endif
