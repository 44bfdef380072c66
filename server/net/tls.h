/*
 * tls.h - TLS for connections (OpenSSL): the contexts built from the tls-* settings and one
 * session per connection, as non-blocking primitives that conn.c drives from its events.
 *
 * A context (tls_ctx_t) holds OpenSSL's server context and, when a client certificate of its own
 * is configured, a client context for outgoing links (a replica's link to its primary); without
 * one, outgoing links use the server context and present its certificate, as Valkey does. A
 * context is immutable once built: a reload (CONFIG SET tls-*) builds a new one and the net
 * installs it for new connections; a session keeps the context it was made from (OpenSSL counts
 * the references), so existing connections are not disturbed.
 *
 * A session (tls_conn_t) wraps one SSL object on a non-blocking socket. Its calls never block and
 * report what the socket must become ready for; conn.c keeps the event interest right:
 *
 *   TLS_ST_CONNECTING  outgoing only: the TCP connect is in flight
 *        | writable: conn.c checks SO_ERROR
 *   TLS_ST_HANDSHAKE   tls_conn_handshake() -> TLS_WANT_READ / TLS_WANT_WRITE (wait for that
 *        |             event, call again), TLS_ERR (-> TLS_ST_FAILED), 0 (-> TLS_ST_READY)
 *   TLS_ST_READY       tls_conn_read() / tls_conn_write(): bytes, or -1 with errno EAGAIN; a
 *                      read may need the socket writable (TLS_READ_WANTS_WRITE in `want`) and a
 *                      write readable (TLS_WRITE_WANTS_READ), for example around a key update
 *   TLS_ST_FAILED      a handshake or I/O error: no close_notify is sent
 *
 * Bytes OpenSSL has read from the socket but not yet returned (tls_conn_pending) raise no epoll
 * event: the reader must drain them before it goes back to the loop.
 *
 * Threading: main thread only.
 */
#ifndef KEEL_TLS_H
#define KEEL_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct conn;
struct ssl_st;

/* tls-auth-clients: the order of the setting's names (config.c). */
enum { TLS_AUTH_NO = 0, TLS_AUTH_YES = 1, TLS_AUTH_OPTIONAL = 2 };

/* tls-protocols as a mask. */
#define TLS_PROTO_TLSV1          (1u << 0)
#define TLS_PROTO_TLSV1_1        (1u << 1)
#define TLS_PROTO_TLSV1_2        (1u << 2)
#define TLS_PROTO_TLSV1_3        (1u << 3)
#define TLS_PROTO_DEFAULT        (TLS_PROTO_TLSV1_2 | TLS_PROTO_TLSV1_3)
#define TLS_HANDSHAKE_TIMEOUT_MS 10000 /* a handshake not finished by then is dropped */

/* The settings a context is built from; the engine's configuration holds them (every string
 * NULL or "" when unset; the engine owns them). */
typedef struct tls_config {
    char *cert_file, *key_file, *key_file_pass; /* the server's certificate chain and key */
    char *client_cert_file, *client_key_file, *client_key_file_pass; /* outgoing links' own */
    char *ca_cert_file, *ca_cert_dir; /* who may be trusted: clients, and a replica's primary */
    char *protocols;                  /* "TLSv1.2 TLSv1.3"; "" = TLS_PROTO_DEFAULT */
    char *ciphers;                    /* TLSv1.2 and below (OpenSSL cipher list) */
    char *ciphersuites;               /* TLSv1.3 */
    int auth_clients;                 /* TLS_AUTH_*: whether a client must show a certificate */
    bool prefer_server_ciphers;
    bool session_caching; /* server-side session cache, for quicker reconnects */
    long long session_cache_size, session_cache_timeout_s;
    bool replication; /* tls-replication: a replica's link to its primary uses TLS */
} tls_config_t;

typedef struct tls_ctx tls_ctx_t;

/* tls-protocols ("TLSv1.2 TLSv1.3", any case, separated by spaces) into *mask (TLS_PROTO_*);
 * "" gives TLS_PROTO_DEFAULT. 0, or -1 with a message in err. */
int tls_parse_protocols(const char *s, unsigned *mask, char *err, size_t errlen);
/* Build a context from cfg: certificates, key, CA, protocols, ciphers, session cache. NULL
 * with the reason (OpenSSL's, naming the file) in err. Nothing global changes. */
tls_ctx_t *tls_ctx_build(const tls_config_t *cfg, char *err, size_t errlen);
void tls_ctx_free(tls_ctx_t *t);

enum { TLS_ST_CONNECTING, TLS_ST_HANDSHAKE, TLS_ST_READY, TLS_ST_FAILED };
#define TLS_READ_WANTS_WRITE 1 /* the last read returned EAGAIN until the socket is writable */
#define TLS_WRITE_WANTS_READ 2 /* the last write returned EAGAIN until the socket is readable */
enum { TLS_WANT_READ = -1, TLS_WANT_WRITE = -2, TLS_ERR = -3 };

/* One connection's TLS session. Fields below `ssl` belong to conn.c (the handshake list is
 * the net's, see conn.c). */
typedef struct tls_conn {
    struct ssl_st *ssl;
    int state;                      /* TLS_ST_* */
    int want;                       /* TLS_READ_WANTS_WRITE | TLS_WRITE_WANTS_READ */
    int64_t deadline_ms;            /* the handshake must end by then */
    struct conn *hs_prev, *hs_next; /* the net's list of handshaking connections */
    char err[160];                  /* the last error, for the log */
} tls_conn_t;

/* A session on the connected socket fd: the server side of an accepted connection, or (client)
 * the side that connects to `host` (sent as SNI when it is a name, not an address). */
tls_conn_t *tls_conn_new(tls_ctx_t *ctx, int fd, bool client, const char *host, char *err,
                         size_t errlen);
/* One step of the handshake: 0 once done, TLS_WANT_READ / TLS_WANT_WRITE, or TLS_ERR (t->err). */
int tls_conn_handshake(tls_conn_t *t);
/* Plaintext in and out, with read()/write()'s contract: > 0 bytes; 0 at the peer's end (read);
 * -1 and errno EAGAIN when the socket is not ready (t->want says which way, when crossed), or
 * another errno on an error (t->err). A write that returned EAGAIN must be retried with at least
 * the same bytes (the buffer may move). */
ssize_t tls_conn_read(tls_conn_t *t, void *buf, size_t len);
ssize_t tls_conn_write(tls_conn_t *t, const void *buf, size_t len);
/* Bytes OpenSSL holds that the next read returns without the socket becoming readable. */
bool tls_conn_pending(const tls_conn_t *t);
/* Send close_notify when the session is up (one non-blocking try), free the session. The socket
 * stays open: its owner closes it. */
void tls_conn_free(tls_conn_t *t);

#endif
