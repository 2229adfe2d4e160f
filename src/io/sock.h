// SPDX-License-Identifier: MIT
//
// Internal socket helpers for the rest of the I/O layer.
#ifndef CIO_SOCK_INTERNAL_H
#define CIO_SOCK_INTERNAL_H

#include <sys/socket.h>
#include <sys/types.h>

struct addrinfo;

#include "../../include/cio.h"
#include "../loop/loop.h"

// Wraps descriptor fd (made non-blocking) as a socket of loop L, registered
// with its poller.  Returns 0 or -errno (fd is not closed on failure).
int cio__sock_wrap(cio__loop *L, int fd, cio_sock **out);
// Connects s to addr, awaiting completion; closes s on failure.  Returns 0
// or -errno (-ECONNREFUSED, -ETIMEDOUT, -ECANCELED...).
int cio__sock_connect(cio__loop *L, cio_sock *s, const struct sockaddr *addr, socklen_t len);

// cio_sock_accept(), also giving the peer's address (peer may be NULL).
// Awaits.  Returns 0 or -errno as cio_sock_accept().
int cio__sock_accept(cio_sock *listener, cio_sock **out, struct sockaddr_storage *peer);

// Marks a listener that has TCP_NODELAY set: Linux copies it to every
// connection accepted from it, which then needs no setsockopt() each.
void cio__sock_inherits_nodelay(cio_sock *listener);

// Resolves host and port without blocking the loop: numeric addresses at
// once, names with getaddrinfo on the worker pool (the task awaits it; one
// that gives up leaves the lookup to finish alone).  Returns 0 and *res
// (freeaddrinfo() it), a CIO_EAI_* code, -EINVAL (a bad port), -ENOMEM,
// -ECANCELED, -ETIMEDOUT.
int cio__resolve(cio__loop *L, const char *host, const char *port, int socktype, int flags,
                 struct addrinfo **res);

// Writes "host:port", "[host]:port" or "unix" for an address into buf.
void cio__sock_addr_name(const struct sockaddr_storage *a, char *buf, size_t cap);

// Awaits the next readability edge on `s` (for descriptors that are never
// read, like a pidfd).  Returns 0, -ECANCELED, -ETIMEDOUT, -EBADF.
int cio__sock_wait_edge(cio_sock *s);

// Cancels task t (NULL: nobody) when the peer closes the connection (a
// FIN or an error, not more data), or at once if it already has.  Used so
// that a client that disconnects cancels its HTTP handler.  Returns 0 or
// -EBADF.
int cio__sock_cancel_on_hup(cio_sock *s, cio_task *t);

// Reads up to `most` bytes of what the peer sends and drops them, awaiting
// them as cio_sock_read does (a lingering close).  On a TCP socket the
// kernel drops them without copying (MSG_TRUNC).  Returns the bytes
// dropped, 0 at the peer's close, or -errno (-ECANCELED, -ETIMEDOUT...).
ssize_t cio__sock_discard(cio_sock *s, size_t most);

// For streams, which keep their unsent bytes themselves: sends what the
// socket takes now, without waiting.  Returns the bytes sent, -EAGAIN if
// it takes nothing now (await cio__sock_wait_writable(), then try again),
// or -errno (-EPIPE, -ECONNRESET, -EBADF, -EPERM...).
ssize_t cio__sock_send_now(cio_sock *s, const void *buf, size_t len);

// Awaits the writable edge after cio__sock_send_now() said -EAGAIN.
// Returns 0, -ECANCELED, -ETIMEDOUT, -EBUSY (another task waits to write),
// -EBADF (the socket was closed meanwhile: it is gone).
int cio__sock_wait_writable(cio_sock *s);

// Sends len bytes of in_fd from *offset (advanced as they go) to the
// socket with sendfile(2), the kernel copying them, awaiting room as
// cio_sock_write_all() does, without SIGPIPE.  Returns 0, -EIO if the file
// ends sooner, or -errno (-EPIPE, -ECONNRESET, -ECANCELED, -ETIMEDOUT...).
int cio__sock_sendfile(cio_sock *s, int in_fd, off_t *offset, size_t len);

// For TLS, which reads and writes the descriptor itself: after the
// descriptor said EAGAIN for reading (write false) or writing (true),
// awaits the next readiness edge in that direction.  Returns 0,
// -ECANCELED, -ETIMEDOUT, -EBUSY (another task waits the same way), -EBADF
// (closed meanwhile: the socket is gone), -EPERM.
int cio__sock_wait_again(cio_sock *s, bool write);

#endif
