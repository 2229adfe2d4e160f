// SPDX-License-Identifier: MIT
/// \file
///
/// Buffered streams over a socket (asyncio's StreamReader/StreamWriter in
/// one object), and the server helper (asyncio.start_server).  Included by
/// <cio.h>.
#ifndef CIO_STREAM_H
#define CIO_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cio_stream cio_stream;
typedef struct cio_sock cio_sock; ///< <cio/net.h>

#define CIO_STREAM_LIMIT (64 * 1024) ///< default limit for readline/readuntil

/// Wraps a connected socket and takes ownership of it (closed with the
/// stream).  `limit` bounds what readline/readuntil buffer looking for a
/// separator (0: CIO_STREAM_LIMIT).  NULL with errno (EINVAL, ENOMEM).
cio_stream *cio_stream_new(cio_sock *s, size_t limit);

/// Awaits a connection and wraps it (asyncio.open_connection).
CIO_AWAIT int cio_stream_connect(cio_stream **out, const char *host, const char *port);

/// Awaits up to len bytes: returns how many (>= 1), 0 at end of stream, or
/// -errno.  One task at a time reads a stream: each read call returns
/// -EBUSY while another task is in one.  Every read call may return -ENOMEM
/// when the stream's buffer cannot grow (nothing is lost: what was
/// buffered stays).
CIO_AWAIT ssize_t cio_stream_read(cio_stream *st, void *buf, size_t len);

/// Awaits exactly len bytes.  Returns 0; -ENODATA if the stream ended first
/// (asyncio's IncompleteReadError: the *got bytes that did arrive are in buf);
/// or -errno (-ECANCELED, -ETIMEDOUT...), having taken nothing: the bytes
/// that came meanwhile stay for the next read, as in asyncio.  got may be
/// NULL.
CIO_AWAIT int cio_stream_readexactly(cio_stream *st, void *buf, size_t len, size_t *got);

/// Awaits data up to and including `sep` (seplen bytes) and copies it into
/// buf (cap bytes).  Returns the length; -ENODATA if the stream ended first
/// (the partial data stays readable with cio_stream_read); -EMSGSIZE if no
/// separator came within the stream's limit or cap (LimitOverrunError; the
/// data stays buffered).
CIO_AWAIT ssize_t cio_stream_readuntil(cio_stream *st, const void *sep, size_t seplen, char *buf,
                                       size_t cap);

/// readuntil("\n"); at end of stream returns what is left (0 if nothing),
/// as asyncio's readline does.
CIO_AWAIT ssize_t cio_stream_readline(cio_stream *st, char *buf, size_t cap);

/// Queues len bytes for sending; cio_stream_drain() (or close) sends them,
/// waiting for a slow peer.  Does not await.  Returns 0, -ENOMEM, the
/// error that stopped an earlier drain (-EPIPE, -ECONNRESET...: the stream
/// sends nothing more), -EINVAL for a closed stream.
int cio_stream_write(cio_stream *st, const void *data, size_t len);

/// Awaits sending what is queued, unless it is at or below the high-water
/// mark (0 bytes by default: everything is sent).  Returns 0, or -errno.
/// Whatever ends it, the bytes the kernel took are gone from the queue and
/// the rest stay queued, in order: after -ECANCELED or -ETIMEDOUT the next
/// drain (or close) sends exactly the bytes not yet sent, so none is sent
/// twice or dropped (cio_stream_queued() says how many are left).  An error
/// (-EPIPE, -ECONNRESET...) is sticky: later writes and drains return it.
/// -EBUSY if another task is draining the stream, -EBADF if the stream was
/// closed meanwhile by another task.
CIO_AWAIT int cio_stream_drain(cio_stream *st);

/// Sets the mark cio_stream_drain() waits for.
void cio_stream_set_high_water(cio_stream *st, size_t bytes);

/// Bytes queued and not yet sent (0 for a closed stream).  Does not await.
size_t cio_stream_queued(const cio_stream *st);

/// Flushes what is queued (awaiting, unless the caller is cancelled), then
/// closes the socket and frees the stream, whatever the flush returned.
/// Returns 0 if everything written was sent, else the error that stopped
/// the flush (-ECANCELED, -ETIMEDOUT, -EPIPE...; the bytes not sent are
/// dropped) or that stopped an earlier drain; -EBUSY if another task was
/// draining it.  A task reading or draining the stream meanwhile wakes with
/// -EBADF.
///
/// Closing twice: the second close returns -EINVAL while the stream is
/// among the last 64 objects (sockets, streams, processes, sync objects...)
/// closed on this thread, 4096 in debug mode, which also prints a line
/// naming the call; after that the pointer may name a new object and a
/// second close is undefined (ASan and valgrind report it).  The same holds
/// for every other call given a closed stream.
CIO_AWAIT int cio_stream_close(cio_stream *st);

/// The underlying socket.
cio_sock *cio_stream_sock(cio_stream *st);

// ---------------------------------------------------------------- server

typedef struct cio_server cio_server;

/// Handles one connection; runs as its own task, named after the peer.
/// The server closes the stream when it returns.
typedef int (*cio_conn_fn)(cio_stream *conn, void *arg);

typedef struct cio_server_opts {
  size_t max_connections; ///< at most this many at once (0: no limit)
  int backlog;            ///< listen backlog (0: SOMAXCONN)
  unsigned flags;         ///< CIO_REUSEPORT
  size_t limit;           ///< stream limit for each connection (0: default)
} cio_server_opts;

/// Listens on host:port and spawns a task running fn(conn, arg) for each
/// connection.  Accepting survives running out of descriptors (it backs
/// off and keeps serving) and aborted connections; a connection it has no
/// memory for, or whose task cannot start (no memory for its stack), is
/// closed (the peer sees it end) and the server goes on.  opts may be
/// NULL.  Returns 0 and *out, or -errno (-ENOMEM, -EADDRINUSE...).  Does
/// not await.
int cio_server_start(cio_server **out, const char *host, const char *port, cio_conn_fn fn,
                     void *arg, const cio_server_opts *opts);

/// The port it listens on; -EINVAL for a server that was closed.
int cio_server_port(const cio_server *srv);

/// Connections being handled now (0 for a server that was closed).
size_t cio_server_connections(const cio_server *srv);

/// Stops accepting, gives running handlers up to `grace` seconds
/// (CIO_FOREVER: no limit) to finish and flush what they queued, then
/// aborts the rest: each is cancelled (its awaits return -ECANCELED, its
/// queued bytes are dropped) and its connection reset (SO_LINGER 0), and
/// they are awaited; then frees the server.  It runs shielded: a caller
/// cancelled before or during it (Ctrl-C cancels main) still gives the
/// grace, and sees its cancellation at its next await.  It ends soon after
/// the grace unless a handler ignores its cancellation (a shield of its
/// own).  Returns the number of handlers that had to be cancelled; -EINVAL
/// for NULL, a negative or NaN grace, or a server already closed or closing
/// (a second close: no memory is touched, and debug mode prints a line);
/// -EPERM outside a task; -EDEADLK (nothing done) from one of its own
/// connections' handlers, which the close would wait for: spawn a task that
/// closes it instead.  The server belongs to the thread that started
/// it: closing it from another thread's loop is -EINVAL.
CIO_AWAIT int cio_server_close(cio_server *srv, double grace);

#ifdef __cplusplus
}
#endif
#endif
