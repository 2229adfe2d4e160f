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
/// server answers; see <cio.h>), -EINVAL for a bad port or a NULL argument.
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
/// -EMFILE/-ENFILE (out of descriptors: back off and retry), -EBADF...
CIO_AWAIT int cio_sock_accept(cio_sock *listener, cio_sock **out);

/// Awaits some bytes: returns how many (>= 1), 0 at end of file, or -errno
/// (-ECONNRESET...).  One task at a time may read (-EBUSY otherwise).
CIO_AWAIT ssize_t cio_sock_read(cio_sock *s, void *buf, size_t len);

/// Awaits writing all `len` bytes (several writes if the peer is slow).
/// Returns len, or -EPIPE / -ECONNRESET; a partial write before an error is
/// not reported as success.  Never raises SIGPIPE.
CIO_AWAIT ssize_t cio_sock_write(cio_sock *s, const void *buf, size_t len);

/// UDP.  recvfrom returns the datagram's size (truncated to len).
CIO_AWAIT ssize_t cio_sock_recvfrom(cio_sock *s, void *buf, size_t len,
                                    struct sockaddr_storage *from, socklen_t *fromlen);
CIO_AWAIT ssize_t cio_sock_sendto(cio_sock *s, const void *buf, size_t len,
                                  const struct sockaddr *to, socklen_t tolen);

/// shutdown(2): SHUT_RD, SHUT_WR, SHUT_RDWR.  Returns 0 or -errno.
int cio_sock_shutdown(cio_sock *s, int how);

/// Closes the socket; a task waiting on it wakes with -EBADF.  Returns 0 or
/// -EINVAL.  Does not await.
int cio_sock_close(cio_sock *s);

/// The descriptor, the local port, and the peer as "addr:port" ("[v6]:port").
int cio_sock_fd(const cio_sock *s);
int cio_sock_port(const cio_sock *s);
int cio_sock_peer_name(const cio_sock *s, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
