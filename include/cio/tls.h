// SPDX-License-Identifier: MIT
//
// TLS on OpenSSL 3: contexts, and TLS streams that every cio_stream_* call
// works on unchanged.  Present when cio was built with OpenSSL (the CMake
// package's TLS component, cio.pc's tls=yes); it includes <cio.h>.
#ifndef CIO_TLS_H
#define CIO_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "../cio.h"

#ifdef __cplusplus
extern "C" {
#endif

/// A TLS context: the settings a side of many connections shares (server:
/// certificate chain and key; client: what it trusts).  TLS 1.2 and 1.3,
/// forward-secret AEAD ciphers only for 1.2, no renegotiation.  A context
/// must outlive the streams made with it; it is used by one thread at a time.
typedef struct cio_tls_ctx cio_tls_ctx;

/// A server context from PEM files: `cert_file` holds the certificate then
/// its chain, `key_file` the private key.  Does not await.  Returns 0 and
/// sets *out (free it with cio_tls_ctx_free()), -EINVAL (NULL argument),
/// -ENOMEM, or CIO_TLS_CERT_INVALID (a file is missing or unreadable, or
/// the key does not match; cio_tls_last_error() says which).
int cio_tls_server_ctx_new(cio_tls_ctx **out, const char *cert_file, const char *key_file);

/// The same from PEM text in memory (copied; `len` bytes each).  Returns as
/// cio_tls_server_ctx_new().
int cio_tls_server_ctx_new_mem(cio_tls_ctx **out, const char *cert_pem, size_t cert_len,
                               const char *key_pem, size_t key_len);

/// A client context.  Verification is on: the server's chain must lead to
/// a CA of `ca_file` (PEM), or of the system trust store when it is NULL,
/// and name the host connected to.  Does not await.  Returns 0 and sets
/// *out, -EINVAL, -ENOMEM, or CIO_TLS_CERT_INVALID (ca_file unreadable).
int cio_tls_client_ctx_new(cio_tls_ctx **out, const char *ca_file);

/// Client certificates (mutual TLS), client side: `ctx` (a client context)
/// presents the certificate chain of `cert_file` with the key of
/// `key_file` (PEM) to servers that ask for one.  Does not await.  Returns
/// 0, -EINVAL (NULL, or a server context), or CIO_TLS_CERT_INVALID (a file
/// unreadable, or the key does not match; cio_tls_last_error() says which).
int cio_tls_ctx_use_certificate(cio_tls_ctx *ctx, const char *cert_file, const char *key_file);

/// Client certificates, server side: `ctx` (a server context) asks each
/// client for a certificate and verifies it against the CAs of `ca_file`
/// (PEM); with `required` a client without one fails the handshake
/// (CIO_TLS_HANDSHAKE), else it is served anonymously.  A certificate that
/// does not verify always fails it (CIO_TLS_CERT_EXPIRED,
/// CIO_TLS_CERT_UNTRUSTED...).  Applies to the connections that start with
/// this context (a context chosen by SNI keeps the first one's setting).
/// See cio_tls_peer_subject() for who the client is.  Does not await.
/// Returns 0, -EINVAL (NULL, or a client context), CIO_TLS_CERT_INVALID
/// (ca_file unreadable).
int cio_tls_ctx_verify_clients(cio_tls_ctx *ctx, const char *ca_file, bool required);

/// Server side: the TLS 1.3 session tickets sent after each full handshake
/// (OpenSSL's default, 2: a client may resume twice in parallel); 0 sends
/// none, so clients cannot resume by ticket, and each handshake costs the
/// server about 20% less.  TLS 1.2 resumption is not affected.  Does not
/// await.  Returns 0, -EINVAL (NULL, a client context, n over 16).
int cio_tls_ctx_set_session_tickets(cio_tls_ctx *ctx, unsigned n);

/// Kernel TLS for the connections that start with this context: after the
/// handshake the kernel encrypts what a stream sends (Linux's TLS ULP, for
/// AES-GCM and ChaCha20-Poly1305), which saves a copy per record; where the
/// kernel does not offer it (no `tls` in
/// /proc/sys/net/ipv4/tcp_available_ulp) OpenSSL encrypts, as without it.
/// Receiving stays OpenSSL's.  Off by default, as in nginx (CIO_KTLS=1 in
/// the environment: on for contexts made afterwards).  cio_tls_ktls_send()
/// tells whether a stream got it.  Does not await.  Returns 0, -EINVAL
/// (NULL).
int cio_tls_ctx_set_ktls(cio_tls_ctx *ctx, bool on);
/// Sets the ALPN protocols (e.g. {"h2", "http/1.1"}), in order of
/// preference: a client offers them, a server picks the first of its list
/// the client offers (none in common: the connection goes on without).
/// Does not await.  Returns 0, -EINVAL (n 0, a name empty or over 255
/// bytes), -ENOMEM.
int cio_tls_ctx_set_alpn(cio_tls_ctx *ctx, const char *const *protocols, size_t n);

/// SNI: a client that asks for host `name` (compared without case) gets
/// server context `other`'s certificate instead of ctx's; other names, or
/// none, get ctx's.  The context chosen applies whole (its ALPN list too).
/// `other` must outlive ctx (it is not copied).  Does not await.  Returns 0, -EINVAL (not
/// two distinct server contexts, or an empty name), -ENOMEM.
int cio_tls_ctx_add_sni(cio_tls_ctx *ctx, const char *name, cio_tls_ctx *other);

/// Frees a context (NULL: nothing).  Does not await.
void cio_tls_ctx_free(cio_tls_ctx *ctx);

/// Connects to host:port and makes the client handshake (SNI and the
/// certificate's name checked against `host`, a name or an address).
/// Awaits.  Returns 0 and sets *out (close it with cio_stream_close(),
/// which sends close_notify once every queued byte went out, and never
/// after a stream cut short), or: what cio_tcp_connect() returns;
/// CIO_TLS_CERT_EXPIRED, CIO_TLS_CERT_UNTRUSTED, CIO_TLS_CERT_HOSTNAME,
/// CIO_TLS_CERT_INVALID (the server's certificate is refused),
/// CIO_TLS_HANDSHAKE (anything else in the handshake); -ECONNRESET (the
/// peer went away meanwhile); -ETIMEDOUT or -ECANCELED (interrupted: the
/// connection is closed).  cio_tls_last_error() gives OpenSSL's reason.
CIO_AWAIT int cio_tls_connect(cio_stream **out, cio_tls_ctx *ctx, const char *host,
                              const char *port);

/// Makes the server handshake on `sock` (accepted; taken over, also on
/// failure, when it is closed).  Awaits.  Returns 0 and sets *out, or
/// CIO_TLS_HANDSHAKE, -ECONNRESET, -ETIMEDOUT, -ECANCELED, -ENOMEM, -EINVAL.
CIO_AWAIT int cio_tls_accept(cio_stream **out, cio_tls_ctx *ctx, cio_sock *sock);

/// STARTTLS: makes the handshake on a connected plain stream, client side
/// when `ctx` is a client context (`server_name` then names the server, as
/// host does for cio_tls_connect()), server side otherwise (server_name
/// unused).  Nothing may be buffered or queued on the stream (bytes that
/// came before the handshake would be trusted as if protected).  Awaits.
/// No other task may use the stream until it returns.  A TLS server on
/// cio_server_start() calls it first thing in its handler (server side).
/// Returns 0 (from now on every cio_stream_* call goes through TLS), -EBUSY
/// (bytes buffered or queued, a task in the stream), -EINVAL, or the errors
/// of cio_tls_connect(); after a failure the stream is unusable (its calls
/// fail with CIO_TLS_PROTOCOL or the like): close it.
CIO_AWAIT int cio_tls_upgrade(cio_stream *st, cio_tls_ctx *ctx, const char *server_name);

/// True if the kernel encrypts what TLS stream `st` sends (kernel TLS:
/// cio_tls_ctx_set_ktls()); false for a stream that is not TLS, before its
/// handshake, or where the kernel or the cipher did not allow it.  Does not
/// await.
bool cio_tls_ktls_send(const cio_stream *st);
/// OpenSSL's reason for the last TLS failure on stream `st`, or "" if none
/// (or not a TLS stream).  Does not await.  Valid until the next call on st.
const char *cio_tls_error_string(const cio_stream *st);

/// OpenSSL's reason for the last TLS failure of this thread (kept when a
/// failed cio_tls_connect() or cio_tls_accept() leaves no stream), or "".
const char *cio_tls_last_error(void);

/// The subject of the peer's verified certificate (RFC 2253: "CN=alice,O=Example"),
/// written to buf with its NUL.  Does not await.  Returns its length,
/// -ENOENT (the peer gave none, or it was not verified), -ENOSPC (cap too
/// small), -EINVAL (NULL, or not a TLS stream), -ENOMEM.
int cio_tls_peer_subject(const cio_stream *st, char *buf, size_t cap);

/// The ALPN protocol agreed on, or NULL if none (or not a TLS stream).
/// Valid while the stream is open.  Does not await.
const char *cio_tls_alpn(const cio_stream *st);

#ifdef __cplusplus
}
#endif

#endif
