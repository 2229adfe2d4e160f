// SPDX-License-Identifier: MIT
//
// TLS on OpenSSL 3, as a stream transport (stream.h): the SSL object reads
// and writes the socket's descriptor itself (a BIO of ours, non-blocking),
// and when it wants the descriptor readable or writable the task awaits
// that edge (cio__sock_wait_again), under the task's timeouts and cancels.
//
// Writes: SSL_write runs in partial-write mode with a moving buffer
// allowed, so it returns as soon as one record went out, and when it says
// it wants to write, the stream calls it again with the same queued bytes
// (its queue keeps them until a call returns them taken), as OpenSSL
// requires; a record half sent when a timeout fires is finished by the
// next drain.  Nothing is sent twice.
//
// A handshake that is interrupted or fails closes the connection: a TLS
// session cannot be resumed half-negotiated.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "../../include/cio.h"
#include "../../include/cio/tls.h"
#include "../alloc.h"
#include "sock.h"
#include "stream.h"
#include "tls.h"

#define REASON_MAX 256

typedef struct sni_entry {
  char *name;
  cio_tls_ctx *ctx;
  struct sni_entry *next;
} sni_entry;

struct cio_tls_ctx {
  SSL_CTX *ssl_ctx;
  bool server;
  unsigned char *alpn; // wire format: length-prefixed names
  unsigned alpn_len;
  sni_entry *sni; // server: contexts chosen by the name the client asks for
};

typedef struct tls_transport {
  cio__transport base;
  SSL *ssl;
  bool send_wants_read; // the last send_now's -EAGAIN waits for readability
  char reason[REASON_MAX];
  char alpn[256]; // the protocol agreed on, "" if none
} tls_transport;

static _Thread_local char last_reason[REASON_MAX];

const char *cio_tls_last_error(void) { return last_reason; }

// Notes OpenSSL's reason for a failure (verification first) in `out`.
static void note_reason(SSL *ssl, char *out) {
  long v = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
  unsigned long e = ERR_peek_last_error();
  if (v != X509_V_OK)
    snprintf(out, REASON_MAX, "%s", X509_verify_cert_error_string(v));
  else if (e)
    ERR_error_string_n(e, out, REASON_MAX);
  else
    snprintf(out, REASON_MAX, "%s", "connection closed by the peer");
  ERR_clear_error();
  memcpy(last_reason, out, REASON_MAX);
}

// The code for a failed handshake: the certificate's fault or another.
static int handshake_code(SSL *ssl) {
  switch (SSL_get_verify_result(ssl)) {
  case X509_V_OK: return CIO_TLS_HANDSHAKE;
  case X509_V_ERR_CERT_HAS_EXPIRED:
  case X509_V_ERR_CERT_NOT_YET_VALID: return CIO_TLS_CERT_EXPIRED;
  case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
  case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
  case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE: return CIO_TLS_CERT_UNTRUSTED;
  case X509_V_ERR_HOSTNAME_MISMATCH:
  case X509_V_ERR_IP_ADDRESS_MISMATCH: return CIO_TLS_CERT_HOSTNAME;
  default: return CIO_TLS_CERT_INVALID;
  }
}

// After an SSL call returned r <= 0: awaits what it wants and returns 0
// (call it again), or returns the failure: -errno, or `code` for a TLS
// error, 1 for the peer's close_notify.
static int settle(tls_transport *t, cio_sock *s, int r, int code) {
  int e = SSL_get_error(t->ssl, r);
  switch (e) {
  case SSL_ERROR_WANT_READ: return cio__sock_wait_again(s, false);
  case SSL_ERROR_WANT_WRITE: return cio__sock_wait_again(s, true);
  case SSL_ERROR_ZERO_RETURN: return 1;
  case SSL_ERROR_SYSCALL:
    if (ERR_peek_error() == 0) {
      int err = errno ? errno : ECONNRESET;
      ERR_clear_error();
      snprintf(t->reason, REASON_MAX, "%s", strerror(err));
      return -err;
    }
    break;
  default: break;
  }
  note_reason(t->ssl, t->reason);
  return code;
}

static ssize_t tls_recv(cio__transport *base, cio_sock *s, void *buf, size_t len) {
  tls_transport *t = (tls_transport *)base;
  if (len == 0) return 0;
  for (;;) {
    ERR_clear_error();
    errno = 0;
    int r = SSL_read(t->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
    if (r > 0) return r;
    int rc = settle(t, s, r, CIO_TLS_PROTOCOL);
    if (rc == 1) return 0;
    if (rc < 0) return rc; // -EBADF: closed meanwhile, t is gone
  }
}

static ssize_t tls_send_now(cio__transport *base, cio_sock *s, const void *buf, size_t len) {
  (void)s;
  tls_transport *t = (tls_transport *)base;
  ERR_clear_error();
  errno = 0;
  int r = SSL_write(t->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
  if (r > 0) return r;
  int e = SSL_get_error(t->ssl, r);
  if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
    t->send_wants_read = e == SSL_ERROR_WANT_READ;
    return -EAGAIN;
  }
  if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
    int err = errno ? errno : EPIPE;
    snprintf(t->reason, REASON_MAX, "%s", strerror(err));
    return -err;
  }
  note_reason(t->ssl, t->reason);
  return CIO_TLS_PROTOCOL;
}

static int tls_wait_send(cio__transport *base, cio_sock *s) {
  tls_transport *t = (tls_transport *)base;
  return cio__sock_wait_again(s, !t->send_wants_read);
}

// Before close: what has come and was not read is consumed first (a TLS
// 1.3 client never reads the session tickets that follow the handshake
// when it only writes, and a socket closed with unread bytes sends a
// reset, which makes the peer drop what it had not read yet), then one
// SSL_shutdown: close_notify goes if the socket takes it now; a peer that
// does not read is not waited for.
static void tls_goodbye(cio__transport *base, cio_sock *s) {
  (void)s;
  tls_transport *t = (tls_transport *)base;
  if (!SSL_is_init_finished(t->ssl)) return;
  char scratch[4096];
  for (int i = 0; i < 64; i++) { // no wait: only what is there
    ERR_clear_error();
    if (SSL_read(t->ssl, scratch, sizeof scratch) <= 0) break;
  }
  ERR_clear_error();
  (void)SSL_shutdown(t->ssl);
  ERR_clear_error();
}

static void tls_free(cio__transport *base) {
  tls_transport *t = (tls_transport *)base;
  SSL_free(t->ssl);
  free(t);
}

static const cio__transport_ops tls_ops = {
    .recv = tls_recv,
    .send_now = tls_send_now,
    .wait_send = tls_wait_send,
    .goodbye = tls_goodbye,
    .free = tls_free,
};

// --- the descriptor's BIO ----------------------------------------------
//
// OpenSSL's socket BIO writes with write(2), which raises SIGPIPE when the
// peer has reset the connection (killing the process by default); cio's
// sockets send with MSG_NOSIGNAL, and so does this BIO.
//
// Kernel TLS (send side).  With SSL_OP_ENABLE_KTLS, once a connection's
// application keys are set OpenSSL offers them to its write BIO (control
// BIO_CTRL_SET_KTLS, an internal one whose number OpenSSL 3 keeps); this
// BIO hands them to the kernel (TCP_ULP "tls", then SOL_TLS/TLS_TX) and,
// if the kernel takes them, says so to BIO_CTRL_GET_KTLS_SEND: OpenSSL then
// writes plaintext, and the kernel makes the records.  A record that is
// not application data (an alert, a TLS 1.3 ticket) is announced by
// BIO_CTRL_SET_KTLS_TX_SEND_CTRL_MSG before its one write, and sent with
// its type in a control message.  The receive side stays OpenSSL's (its
// TLS 1.3 kTLS receive is not in OpenSSL 3.0).  A kernel without the TLS
// ULP refuses the keys and OpenSSL goes on as before.
//
// The BIO's data: the descriptor in the low 32 bits, then whether the
// kernel encrypts (BIO_KTLS_SEND), then the type of the control record
// about to be written (0: none).

#define BIO_CTRL_SET_KTLS_KEYS 72 // OpenSSL's internal BIO_CTRL_SET_KTLS
#define BIO_CTRL_KTLS_CTRL_MSG 74 // ... BIO_CTRL_SET_KTLS_TX_SEND_CTRL_MSG
#define BIO_CTRL_KTLS_CTRL_END 75 // ... BIO_CTRL_CLEAR_KTLS_TX_CTRL_MSG
#define BIO_KTLS_SEND ((uintptr_t)1 << 32)
#define BIO_RECORD_TYPE_SHIFT 40

static uintptr_t bio_state(BIO *b) { return (uintptr_t)BIO_get_data(b); }
static int bio_fd(BIO *b) { return (int)(uint32_t)bio_state(b); }
static unsigned bio_record_type(BIO *b) {
  return (unsigned)(bio_state(b) >> BIO_RECORD_TYPE_SHIFT);
}
static void bio_set_record_type(BIO *b, unsigned type) {
  uintptr_t keep = bio_state(b) & (((uintptr_t)1 << BIO_RECORD_TYPE_SHIFT) - 1);
  BIO_set_data(b, (void *)(keep | (uintptr_t)type << BIO_RECORD_TYPE_SHIFT));
}

// Sends a record of `type` through the kernel's TLS (a control record).
static ssize_t send_record(int fd, unsigned type, const char *buf, size_t len) {
  union {
    char space[CMSG_SPACE(sizeof(unsigned char))];
    struct cmsghdr align;
  } control;
  memset(&control, 0, sizeof control);
  struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
  struct msghdr m = {.msg_iov = &iov,
                     .msg_iovlen = 1,
                     .msg_control = control.space,
                     .msg_controllen = sizeof control.space};
  struct cmsghdr *c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_TLS;
  c->cmsg_type = TLS_SET_RECORD_TYPE;
  c->cmsg_len = CMSG_LEN(sizeof(unsigned char));
  *CMSG_DATA(c) = (unsigned char)type;
  return sendmsg(fd, &m, MSG_NOSIGNAL);
}

static int bio_write(BIO *b, const char *buf, int len) {
  BIO_clear_retry_flags(b);
  unsigned type = bio_record_type(b);
  ssize_t w;
  do {
    w = type ? send_record(bio_fd(b), type, buf, (size_t)len)
             : send(bio_fd(b), buf, (size_t)len, MSG_NOSIGNAL);
  } while (w < 0 && errno == EINTR);
  if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) BIO_set_retry_write(b);
  // A control record is announced for one write: what follows is
  // application data again (a part left unsent keeps the type).
  if (type && w == len) bio_set_record_type(b, 0);
  return (int)w;
}

static int bio_read(BIO *b, char *buf, int len) {
  BIO_clear_retry_flags(b);
  ssize_t r;
  do {
    r = recv(bio_fd(b), buf, (size_t)len, 0);
  } while (r < 0 && errno == EINTR);
  if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) BIO_set_retry_read(b);
  if (r == 0 && len > 0) BIO_set_flags(b, BIO_FLAGS_IN_EOF);
  return (int)r;
}

// The size of the kernel's key structure for a cipher, or 0.
static socklen_t ktls_info_len(const struct tls_crypto_info *info) {
  switch (info->cipher_type) {
  case TLS_CIPHER_AES_GCM_128: return sizeof(struct tls12_crypto_info_aes_gcm_128);
  case TLS_CIPHER_AES_GCM_256: return sizeof(struct tls12_crypto_info_aes_gcm_256);
  case TLS_CIPHER_CHACHA20_POLY1305: return sizeof(struct tls12_crypto_info_chacha20_poly1305);
  default: return 0;
  }
}

// Gives the send keys to the kernel.  Returns 1 if it took them, else 0
// (OpenSSL then encrypts, as without kTLS).
static long ktls_start_send(BIO *b, const struct tls_crypto_info *info) {
  int fd = bio_fd(b);
  socklen_t len = ktls_info_len(info);
  if (!len || (setsockopt(fd, SOL_TCP, TCP_ULP, "tls", sizeof "tls") < 0 && errno != EEXIST) ||
      setsockopt(fd, SOL_TLS, TLS_TX, info, len) < 0)
    return 0;
  BIO_set_data(b, (void *)(bio_state(b) | BIO_KTLS_SEND));
  return 1;
}

// OpenSSL asks BIO_CTRL_EOF to tell an end without close_notify (an error:
// a truncation) from a failed call.
static long bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
  switch (cmd) {
  case BIO_CTRL_EOF: return BIO_test_flags(b, BIO_FLAGS_IN_EOF) != 0;
  case BIO_CTRL_FLUSH: return 1; // nothing buffered here
  case BIO_CTRL_SET_KTLS_KEYS: return num && ptr ? ktls_start_send(b, ptr) : 0;
  case BIO_CTRL_GET_KTLS_SEND: return (bio_state(b) & BIO_KTLS_SEND) != 0;
  case BIO_CTRL_KTLS_CTRL_MSG:
    if (!(bio_state(b) & BIO_KTLS_SEND) || num <= 0 || num > 255) return 0;
    bio_set_record_type(b, (unsigned)num);
    return 1;
  case BIO_CTRL_KTLS_CTRL_END: bio_set_record_type(b, 0); return 1;
  default: return 0;
  }
}

static BIO_METHOD *bio_method;
static void bio_method_init(void) {
  BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "cio socket");
  if (m && (BIO_meth_set_write(m, bio_write) != 1 || BIO_meth_set_read(m, bio_read) != 1 ||
            BIO_meth_set_ctrl(m, bio_ctrl) != 1)) {
    BIO_meth_free(m);
    m = NULL;
  }
  bio_method = m;
}

// A BIO over descriptor fd, or NULL.
static BIO *bio_new(int fd) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, bio_method_init);
  if (!bio_method) return NULL;
  BIO *b = BIO_new(bio_method);
  if (!b) return NULL;
  BIO_set_data(b, (void *)(uintptr_t)(uint32_t)fd);
  BIO_set_init(b, 1);
  return b;
}

// --- contexts -----------------------------------------------------------

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned inlen, void *arg) {
  (void)ssl;
  cio_tls_ctx *c = arg;
  unsigned char *sel;
  if (SSL_select_next_proto(&sel, outlen, c->alpn, c->alpn_len, in, inlen) !=
      OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK;
  *out = sel;
  return SSL_TLSEXT_ERR_OK;
}

// Switches the handshake to the context registered for the name the client
// sent (SNI); other names, or none, keep the default context.
// NOLINTNEXTLINE(readability-non-const-parameter): OpenSSL's callback type
static int sni_select(SSL *ssl, int *alert, void *arg) {
  (void)alert;
  cio_tls_ctx *c = arg;
  const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (!name) return SSL_TLSEXT_ERR_NOACK;
  for (sni_entry *e = c->sni; e; e = e->next)
    if (OPENSSL_strcasecmp(e->name, name) == 0) {
      if (!SSL_set_SSL_CTX(ssl, e->ctx->ssl_ctx)) return SSL_TLSEXT_ERR_ALERT_FATAL;
      return SSL_TLSEXT_ERR_OK;
    }
  return SSL_TLSEXT_ERR_NOACK;
}

int cio_tls_ctx_add_sni(cio_tls_ctx *ctx, const char *name, cio_tls_ctx *other) {
  if (!ctx || !ctx->server || !name || !*name || !other || !other->server || other == ctx)
    return -EINVAL;
  sni_entry *e = cio__calloc(1, sizeof *e);
  size_t len = strlen(name);
  char *copy = cio__malloc(len + 1);
  if (!e || !copy) {
    free(e);
    free(copy);
    return -ENOMEM;
  }
  memcpy(copy, name, len + 1);
  e->name = copy;
  e->ctx = other;
  e->next = ctx->sni;
  if (!ctx->sni) {
    SSL_CTX_set_tlsext_servername_callback(ctx->ssl_ctx, sni_select);
    SSL_CTX_set_tlsext_servername_arg(ctx->ssl_ctx, ctx);
  }
  ctx->sni = e;
  return 0;
}

// Kernel TLS is off unless CIO_KTLS=1 (or cio_tls_ctx_set_ktls()) asks.
static bool ktls_wanted(void) {
  const char *e = getenv("CIO_KTLS");
  return e && *e && strcmp(e, "0") != 0;
}

static int ctx_new(cio_tls_ctx **out, bool server) {
  cio_tls_ctx *c = cio__calloc(1, sizeof *c);
  if (!c) return -ENOMEM;
  c->server = server;
  c->ssl_ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  if (!c->ssl_ctx) {
    free(c);
    return -ENOMEM;
  }
  SSL_CTX *x = c->ssl_ctx;
  SSL_CTX_set_min_proto_version(x, TLS1_2_VERSION);
  SSL_CTX_set_options(x, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                             SSL_OP_NO_COMPRESSION);
  if (ktls_wanted()) SSL_CTX_set_options(x, SSL_OP_ENABLE_KTLS);
  (void)SSL_CTX_set_cipher_list(x, "ECDHE+AESGCM:ECDHE+CHACHA20");
  // TLS 1.3: AES-128-GCM first, as Go, BoringSSL and Mozilla's guidelines
  // order them (OpenSSL's default puts AES-256 first: 4.65 GB/s against
  // 5.38 for 16 KiB records here, `openssl speed -evp`).
  (void)SSL_CTX_set_ciphersuites(
      x, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256");
  SSL_CTX_set_mode(x, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // Whole records (and what follows them) in one read: a record used to
  // take two recv calls, its header then its body (5 more per handshake).
  SSL_CTX_set_read_ahead(x, 1);
  if (server) {
    SSL_CTX_set_alpn_select_cb(x, alpn_select, c);
    // Sessions are resumed only within this id (OpenSSL refuses to resume
    // without one once clients are verified).
    (void)SSL_CTX_set_session_id_context(x, (const unsigned char *)"cio", 3);
  }
  *out = c;
  return 0;
}

// Fails making a context: notes OpenSSL's reason, frees it.
static int ctx_fail(cio_tls_ctx *c) {
  char reason[REASON_MAX];
  note_reason(NULL, reason);
  cio_tls_ctx_free(c);
  return CIO_TLS_CERT_INVALID;
}

// Loads the certificate and its chain from PEM text.  1 on success.
static int use_chain_mem(SSL_CTX *x, const char *pem, size_t len) {
  BIO *b = BIO_new_mem_buf(pem, (int)len);
  if (!b) return 0;
  X509 *leaf = PEM_read_bio_X509_AUX(b, NULL, NULL, NULL);
  int ok = leaf && SSL_CTX_use_certificate(x, leaf) == 1;
  X509_free(leaf);
  X509 *ca;
  while (ok && (ca = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
    if (SSL_CTX_add0_chain_cert(x, ca) != 1) {
      X509_free(ca);
      ok = 0;
    }
  }
  if (ok) ERR_clear_error(); // the end of the text
  BIO_free(b);
  return ok;
}

static int use_key_mem(SSL_CTX *x, const char *pem, size_t len) {
  BIO *b = BIO_new_mem_buf(pem, (int)len);
  if (!b) return 0;
  EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
  int ok = k && SSL_CTX_use_PrivateKey(x, k) == 1;
  EVP_PKEY_free(k);
  BIO_free(b);
  return ok;
}

// The PEM files are read here rather than by OpenSSL's file BIO, whose
// stdio reads give up on EINTR (a signal handler installed without
// SA_RESTART made loading a certificate fail now and then).
#define PEM_MAX ((size_t)16 << 20) // bytes a PEM file may have

// Reads a whole file into a malloc'd buffer; NULL with OpenSSL's error
// queue saying why.
static char *slurp(const char *file, size_t *len) {
  int fd;
  do fd = open(file, O_RDONLY | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  struct stat st;
  char *buf = NULL;
  int err = 0;
  if (fd < 0 || fstat(fd, &st) < 0) {
    err = errno;
  } else if ((size_t)st.st_size > PEM_MAX) {
    err = EFBIG;
  } else if (!(buf = cio__malloc((size_t)st.st_size + 1))) {
    err = ENOMEM;
  } else {
    size_t got = 0;
    for (;;) {
      ssize_t r = read(fd, buf + got, (size_t)st.st_size + 1 - got);
      if (r > 0 && (got += (size_t)r) <= (size_t)st.st_size) continue;
      if (r < 0 && errno == EINTR) continue;
      if (r < 0 || got > (size_t)st.st_size) err = r < 0 ? errno : EFBIG; // grew meanwhile
      break;
    }
    *len = got;
  }
  if (fd >= 0) close(fd);
  if (err) {
    free(buf);
    ERR_raise_data(ERR_LIB_SYS, err, "%s", file);
    return NULL;
  }
  return buf;
}

// Frees what slurp() read, wiping it first (a private key).
static void unslurp(char *buf, size_t len) {
  if (!buf) return;
  OPENSSL_cleanse(buf, len);
  free(buf);
}

// Loads the chain of cert_file and the key of key_file into x.  1 on success.
static int use_files(SSL_CTX *x, const char *cert_file, const char *key_file) {
  size_t clen = 0, klen = 0;
  char *cert = slurp(cert_file, &clen);
  char *key = cert ? slurp(key_file, &klen) : NULL;
  int ok = key && clen <= INT32_MAX && klen <= INT32_MAX && use_chain_mem(x, cert, clen) &&
           use_key_mem(x, key, klen) && SSL_CTX_check_private_key(x) == 1;
  unslurp(cert, clen);
  unslurp(key, klen);
  return ok;
}

// Trusts the CAs of ca_file; with `names`, also lists their subjects (the
// CAs a server names when it asks for a client certificate).  1 on success.
static int add_cas(SSL_CTX *x, const char *ca_file, STACK_OF(X509_NAME) * names) {
  size_t len = 0;
  char *pem = slurp(ca_file, &len);
  BIO *b = pem && len <= INT32_MAX ? BIO_new_mem_buf(pem, (int)len) : NULL;
  X509_STORE *store = SSL_CTX_get_cert_store(x);
  int n = 0, ok = b != NULL;
  X509 *ca;
  while (ok && (ca = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
    ok = X509_STORE_add_cert(store, ca) == 1;
    if (ok && names) {
      X509_NAME *name = X509_NAME_dup(X509_get_subject_name(ca));
      ok = name && sk_X509_NAME_push(names, name) > 0;
      if (!ok) X509_NAME_free(name);
    }
    X509_free(ca);
    n++;
  }
  if (ok && n > 0) ERR_clear_error(); // the end of the text
  BIO_free(b);
  free(pem);
  return ok && n > 0;
}

int cio_tls_server_ctx_new(cio_tls_ctx **out, const char *cert_file, const char *key_file) {
  if (!out || !cert_file || !key_file) return -EINVAL;
  cio_tls_ctx *c;
  int rc = ctx_new(&c, true);
  if (rc < 0) return rc;
  ERR_clear_error();
  if (!use_files(c->ssl_ctx, cert_file, key_file)) return ctx_fail(c);
  *out = c;
  return 0;
}

int cio_tls_server_ctx_new_mem(cio_tls_ctx **out, const char *cert_pem, size_t cert_len,
                               const char *key_pem, size_t key_len) {
  if (!out || !cert_pem || !key_pem || cert_len > INT32_MAX || key_len > INT32_MAX) return -EINVAL;
  cio_tls_ctx *c;
  int rc = ctx_new(&c, true);
  if (rc < 0) return rc;
  ERR_clear_error();
  if (!use_chain_mem(c->ssl_ctx, cert_pem, cert_len) ||
      !use_key_mem(c->ssl_ctx, key_pem, key_len) || SSL_CTX_check_private_key(c->ssl_ctx) != 1)
    return ctx_fail(c);
  *out = c;
  return 0;
}

int cio_tls_client_ctx_new(cio_tls_ctx **out, const char *ca_file) {
  if (!out) return -EINVAL;
  cio_tls_ctx *c;
  int rc = ctx_new(&c, false);
  if (rc < 0) return rc;
  SSL_CTX_set_verify(c->ssl_ctx, SSL_VERIFY_PEER, NULL);
  ERR_clear_error();
  int ok = ca_file ? add_cas(c->ssl_ctx, ca_file, NULL)
                   : SSL_CTX_set_default_verify_paths(c->ssl_ctx) == 1;
  if (!ok) return ctx_fail(c);
  *out = c;
  return 0;
}

// Notes OpenSSL's reason for a failed setting of an existing context.
static int setting_failed(void) {
  char reason[REASON_MAX];
  note_reason(NULL, reason);
  return CIO_TLS_CERT_INVALID;
}

int cio_tls_ctx_use_certificate(cio_tls_ctx *ctx, const char *cert_file, const char *key_file) {
  if (!ctx || ctx->server || !cert_file || !key_file) return -EINVAL;
  ERR_clear_error();
  if (!use_files(ctx->ssl_ctx, cert_file, key_file)) return setting_failed();
  return 0;
}

int cio_tls_ctx_verify_clients(cio_tls_ctx *ctx, const char *ca_file, bool required) {
  if (!ctx || !ctx->server || !ca_file) return -EINVAL;
  ERR_clear_error();
  STACK_OF(X509_NAME) *names = sk_X509_NAME_new_null(); // named in the request
  if (!names || !add_cas(ctx->ssl_ctx, ca_file, names)) {
    sk_X509_NAME_pop_free(names, X509_NAME_free);
    return setting_failed();
  }
  SSL_CTX_set_client_CA_list(ctx->ssl_ctx, names);
  SSL_CTX_set_verify(ctx->ssl_ctx,
                     SSL_VERIFY_PEER | (required ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), NULL);
  return 0;
}

int cio_tls_ctx_set_ktls(cio_tls_ctx *ctx, bool on) {
  if (!ctx) return -EINVAL;
  if (on)
    SSL_CTX_set_options(ctx->ssl_ctx, SSL_OP_ENABLE_KTLS);
  else
    SSL_CTX_clear_options(ctx->ssl_ctx, SSL_OP_ENABLE_KTLS);
  return 0;
}

int cio_tls_ctx_set_session_tickets(cio_tls_ctx *ctx, unsigned n) {
  if (!ctx || !ctx->server || n > 16) return -EINVAL;
  return SSL_CTX_set_num_tickets(ctx->ssl_ctx, n) == 1 ? 0 : -EINVAL;
}

int cio_tls_ctx_set_alpn(cio_tls_ctx *ctx, const char *const *protocols, size_t n) {
  if (!ctx || !protocols || n == 0) return -EINVAL;
  size_t total = 0;
  for (size_t i = 0; i < n; i++) {
    size_t l = protocols[i] ? strlen(protocols[i]) : 0;
    if (l == 0 || l > 255) return -EINVAL;
    total += 1 + l;
  }
  if (total > 65535) return -EINVAL;
  unsigned char *w = cio__malloc(total);
  if (!w) return -ENOMEM;
  size_t at = 0;
  for (size_t i = 0; i < n; i++) {
    size_t l = strlen(protocols[i]);
    w[at++] = (unsigned char)l;
    memcpy(w + at, protocols[i], l);
    at += l;
  }
  if (!ctx->server && SSL_CTX_set_alpn_protos(ctx->ssl_ctx, w, (unsigned)total) != 0) {
    free(w);
    return -ENOMEM;
  }
  free(ctx->alpn);
  ctx->alpn = w;
  ctx->alpn_len = (unsigned)total;
  return 0;
}

int cio__tls_server_ctx_speak(cio_tls_ctx *ctx, const char *protocol) {
  // Servers on several loops (cio_http_run_workers) may share one context
  // and start at once: one at a time sets its protocols.
  static pthread_mutex_t speaking = PTHREAD_MUTEX_INITIALIZER;
  if (!ctx || !ctx->server || !protocol) return -EINVAL;
  const char *const list[] = {protocol};
  pthread_mutex_lock(&speaking);
  int rc = ctx->alpn ? 0 : cio_tls_ctx_set_alpn(ctx, list, 1);
  for (sni_entry *e = ctx->sni; e && rc == 0; e = e->next)
    if (!e->ctx->alpn) rc = cio_tls_ctx_set_alpn(e->ctx, list, 1);
  pthread_mutex_unlock(&speaking);
  return rc;
}

void cio_tls_ctx_free(cio_tls_ctx *ctx) {
  if (!ctx) return;
  SSL_CTX_free(ctx->ssl_ctx); // SSL objects keep their own reference
  free(ctx->alpn);
  for (sni_entry *e = ctx->sni, *next; e; e = next) {
    next = e->next;
    free(e->name);
    free(e);
  }
  free(ctx);
}

// --- streams ------------------------------------------------------------

// Names the server to reach: SNI and the certificate check for a name, the
// address check for an address.  1 on success.
static int set_peer_name(SSL *ssl, const char *host) {
  unsigned char addr[16];
  if (inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1)
    return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host);
  return SSL_set_tlsext_host_name(ssl, host) == 1 && SSL_set1_host(ssl, host) == 1;
}

// A transport for `sock`, client side naming `host`, or server side.
static tls_transport *transport_new(cio_tls_ctx *ctx, cio_sock *sock, const char *host) {
  tls_transport *t = cio__calloc(1, sizeof *t);
  if (!t) return NULL;
  t->base.ops = &tls_ops;
  t->ssl = SSL_new(ctx->ssl_ctx);
  BIO *b = t->ssl ? bio_new(cio_sock_fd(sock)) : NULL;
  if (b) SSL_set_bio(t->ssl, b, b); // one reference, taken by the SSL object
  if (!b || (!ctx->server && host && !set_peer_name(t->ssl, host))) {
    SSL_free(t->ssl);
    free(t);
    return NULL;
  }
  if (ctx->server)
    SSL_set_accept_state(t->ssl);
  else
    SSL_set_connect_state(t->ssl);
  return t;
}

// Runs the handshake of st's transport t.  Returns 0 or the failure.
static int handshake(cio_stream *st, tls_transport *t) {
  for (;;) {
    ERR_clear_error();
    errno = 0;
    int r = SSL_do_handshake(t->ssl);
    if (r == 1) {
      const unsigned char *p;
      unsigned len;
      SSL_get0_alpn_selected(t->ssl, &p, &len);
      if (p && len) memcpy(t->alpn, p, len); // len < 256: a byte on the wire
      return 0;
    }
    int rc = settle(t, cio_stream_sock(st), r, handshake_code(t->ssl));
    if (rc == 1) rc = -ECONNRESET;
    if (rc < 0) {
      if (rc != -EBADF) memcpy(last_reason, t->reason, REASON_MAX);
      return rc;
    }
  }
}

// Gives plain stream st a TLS transport and runs the handshake.
static int start(cio_stream *st, cio_tls_ctx *ctx, const char *host) {
  tls_transport *t = transport_new(ctx, cio_stream_sock(st), host);
  if (!t) return -ENOMEM;
  int rc = cio__stream_set_transport(st, &t->base);
  if (rc < 0) {
    tls_free(&t->base);
    return rc;
  }
  return handshake(st, t);
}

int cio_tls_connect(cio_stream **out, cio_tls_ctx *ctx, const char *host, const char *port) {
  if (!out || !ctx || ctx->server || !host || !port) return -EINVAL;
  last_reason[0] = '\0';
  cio_stream *st;
  int rc = cio_stream_connect(&st, host, port);
  if (rc < 0) return rc;
  rc = start(st, ctx, host);
  if (rc < 0) {
    if (rc != -EBADF) cio__stream_abort(st);
    return rc;
  }
  *out = st;
  return 0;
}

int cio_tls_accept(cio_stream **out, cio_tls_ctx *ctx, cio_sock *sock) {
  if (!out || !ctx || !ctx->server || !sock) {
    if (sock) cio_sock_close(sock);
    return -EINVAL;
  }
  last_reason[0] = '\0';
  cio_stream *st = cio_stream_new(sock, 0);
  if (!st) {
    cio_sock_close(sock);
    return -ENOMEM;
  }
  int rc = start(st, ctx, NULL);
  if (rc < 0) {
    if (rc != -EBADF) cio__stream_abort(st);
    return rc;
  }
  *out = st;
  return 0;
}

int cio_tls_upgrade(cio_stream *st, cio_tls_ctx *ctx, const char *server_name) {
  if (!ctx || !cio_stream_sock(st) || (!ctx->server && !server_name)) return -EINVAL;
  last_reason[0] = '\0';
  return start(st, ctx, server_name);
}

bool cio_tls_ktls_send(const cio_stream *st) {
  const cio__transport *b = cio__stream_transport(st);
  if (!b || b->ops != &tls_ops) return false;
  BIO *w = SSL_get_wbio(((const tls_transport *)b)->ssl);
  return w && BIO_get_ktls_send(w);
}

const char *cio_tls_error_string(const cio_stream *st) {
  const cio__transport *b = cio__stream_transport(st);
  return b && b->ops == &tls_ops ? ((const tls_transport *)b)->reason : "";
}

int cio_tls_peer_subject(const cio_stream *st, char *buf, size_t cap) {
  const cio__transport *b = cio__stream_transport(st);
  if (!b || b->ops != &tls_ops || !buf || cap == 0) return -EINVAL;
  const tls_transport *t = (const tls_transport *)b;
  X509 *peer = SSL_get0_peer_certificate(t->ssl);
  if (!peer || SSL_get_verify_result(t->ssl) != X509_V_OK) return -ENOENT;
  BIO *mem = BIO_new(BIO_s_mem());
  if (!mem) return -ENOMEM;
  int rc = X509_NAME_print_ex(mem, X509_get_subject_name(peer), 0, XN_FLAG_RFC2253);
  char *text;
  long len = BIO_get_mem_data(mem, &text);
  if (rc < 0 || len < 0) {
    rc = -ENOMEM;
  } else if ((size_t)len >= cap) {
    rc = -ENOSPC;
  } else {
    memcpy(buf, text, (size_t)len);
    buf[len] = '\0';
    rc = (int)len;
  }
  BIO_free(mem);
  ERR_clear_error();
  return rc;
}

const char *cio_tls_alpn(const cio_stream *st) {
  const cio__transport *b = cio__stream_transport(st);
  if (!b || b->ops != &tls_ops) return NULL;
  const tls_transport *t = (const tls_transport *)b;
  return t->alpn[0] ? t->alpn : NULL;
}
