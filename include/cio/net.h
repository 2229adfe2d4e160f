// SPDX-License-Identifier: MIT
/// \file
///
/// Sockets on the loop: TCP (IPv4/IPv6), Unix stream, UDP, and any other
/// descriptor that epoll can watch (pipes).  Every call that would block
/// awaits readiness instead, honours cancellation and timeout scopes, and
/// reports end of file (0), resets (-ECONNRESET, -EPIPE) and refusals
/// (-ECONNREFUSED) distinctly.  A socket belongs to the loop that created it.
/// Included by <cio.h>.
#ifndef CIO_NET_H
#define CIO_NET_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cio_sock cio_sock;

#define CIO_REUSEPORT 1u ///< cio_tcp_listen(): SO_REUSEPORT (several listeners on one port)

/// Awaits a TCP connection to host:port.  `host` may be a name (resolved on
/// the worker pool), an IPv4 or an IPv6 address; each resolved address is
/// tried in turn until one answers.  Returns 0 and *out, -ECONNREFUSED,
/// -ETIMEDOUT (scope), -ECANCELED, a CIO_EAI_* code when the name does not
/// resolve (CIO_EAI_NONAME for an unknown host, CIO_EAI_AGAIN when no DNS
/// server answers; see <cio.h>), -EINVAL for a bad port or a NULL argument,
/// -ENOMEM.
CIO_AWAIT int cio_tcp_connect(cio_sock **out, const char *host, const char *port);

/// Listens on host:port (host NULL or "" = every address; port "0" = any free
/// port, see cio_sock_port).  SO_REUSEADDR always, SO_REUSEPORT with
/// CIO_REUSEPORT.  backlog <= 0 means SOMAXCONN.  Does not await (a numeric
/// host is required: "0.0.0.0", "::", "127.0.0.1"...).  Returns 0 or -errno;
/// CIO_EAI_NONAME for a host that is not a numeric address.
int cio_tcp_listen(cio_sock **out, const char *host, const char *port, int backlog, unsigned flags);

/// Unix stream sockets at `path` (listen removes a stale socket file first).
CIO_AWAIT int cio_unix_connect(cio_sock **out, const char *path);
int cio_unix_listen(cio_sock **out, const char *path, int backlog);

/// A UDP socket, bound to host:port if port is not NULL.
int cio_udp_open(cio_sock **out, const char *host, const char *port);

/// Wraps an open descriptor (socket, pipe, terminal...) and takes ownership:
/// it is made non-blocking and closed by cio_sock_close().  NULL with errno
/// (EBADF for a closed descriptor, EPERM for one epoll cannot watch, such as a
/// regular file).
cio_sock *cio_sock_wrap(int fd);

/// Awaits a connection on a listening socket.  Returns 0 and *out, or
/// -EMFILE/-ENFILE (out of descriptors: back off and retry), -ENOMEM (the
/// connection is closed), -EBADF...
CIO_AWAIT int cio_sock_accept(cio_sock *listener, cio_sock **out);

/// Awaits some bytes: returns how many (>= 1), 0 at end of file, or -errno
/// (-ECONNRESET...).  One task at a time may read (-EBUSY otherwise).
CIO_AWAIT ssize_t cio_sock_read(cio_sock *s, void *buf, size_t len);

/// Awaits writing all `len` bytes (several writes if the peer is slow).
/// Returns len, or -errno: -EPIPE / -ECONNRESET, -ECANCELED / -ETIMEDOUT
/// if interrupted while waiting for a slow peer.  A prefix of buf may have
/// been sent before an error, and this call does not say how much: use
/// cio_sock_write_all() where it matters.  Never raises SIGPIPE.
CIO_AWAIT ssize_t cio_sock_write(cio_sock *s, const void *buf, size_t len);

/// cio_sock_write() that reports partial progress, as Go's Write returns n
/// with its error: *sent (if sent is not NULL) always receives how many
/// bytes of buf the kernel took, whatever the result; buf[0..*sent) was
/// sent and buf[*sent..len) was not.  Returns 0 (then *sent == len) or
/// -errno as cio_sock_write() (-ECANCELED, -ETIMEDOUT, -EPIPE,
/// -ECONNRESET, -EBADF if the socket is closed meanwhile, -EBUSY if
/// another task is waiting to write to it, -EINVAL...).  To resume after
/// an interruption, call it again with buf + *sent.
CIO_AWAIT int cio_sock_write_all(cio_sock *s, const void *buf, size_t len, size_t *sent);

/// UDP.  recvfrom returns the datagram's size (truncated to len).
CIO_AWAIT ssize_t cio_sock_recvfrom(cio_sock *s, void *buf, size_t len,
                                    struct sockaddr_storage *from, socklen_t *fromlen);
CIO_AWAIT ssize_t cio_sock_sendto(cio_sock *s, const void *buf, size_t len,
                                  const struct sockaddr *to, socklen_t tolen);

/// shutdown(2): SHUT_RD, SHUT_WR, SHUT_RDWR.  Returns 0 or -errno.
int cio_sock_shutdown(cio_sock *s, int how);

/// Closes the socket; a task waiting on it wakes with -EBADF.  Returns 0 or
/// -EINVAL.  Does not await.  Closing twice: the second close returns
/// -EINVAL while the socket is among the last 64 objects closed on this
/// thread (4096 in debug mode, which also prints a line naming the call);
/// after that the pointer may name a new object and the call is undefined.
/// A socket owned by a stream is closed by cio_stream_close(), not here.
int cio_sock_close(cio_sock *s);

// ---------------------------------------------------------------- foreign descriptors

/// Await a descriptor that cio does not own becoming readable (writable):
/// a socket that libpq, hiredis, c-ares or libcurl reads and writes itself,
/// a pipe, any descriptor poll(2) accepts.  No ownership is taken: the
/// descriptor is not made non-blocking, and it is watched only while the
/// call waits, so it may be closed as soon as the call returns.  Returns 0
/// when it is ready, or when a read (write) would not block because it hung
/// up or failed (the next call on it says which; a regular file is always
/// ready); -ETIMEDOUT after `timeout` seconds (CIO_FOREVER: no limit; 0 or
/// negative: look once) or when an enclosing timeout scope expires;
/// -ECANCELED; -EBUSY if another task already waits on `fd` in the same
/// direction on this loop (a reader and a writer may wait at once); -EBADF
/// for a descriptor that is not open; -EEXIST if a cio_sock of this loop
/// owns it (use the socket's own calls); -EINVAL for a NaN timeout; -EPERM
/// outside a task.  Any number of tasks may wait on different descriptors
/// at once.  Do not close `fd` while a task waits on it: cancel that task
/// first (the kernel would forget the descriptor silently and the wait end
/// only at its timeout).
CIO_AWAIT int cio_wait_readable(int fd, double timeout);
CIO_AWAIT int cio_wait_writable(int fd, double timeout);

/// The descriptor, the local port, and the peer as "addr:port" ("[v6]:port").
int cio_sock_fd(const cio_sock *s);
int cio_sock_port(const cio_sock *s);
int cio_sock_peer_name(const cio_sock *s, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
