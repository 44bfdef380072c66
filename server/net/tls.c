/*
 * tls.c - OpenSSL contexts from the tls-* settings, and non-blocking sessions (see tls.h).
 *
 * Contexts: TLS_method() with the protocols of tls-protocols switched on (SSL_OP_NO_* for the
 * others), no compression, no client-initiated renegotiation (OpenSSL 3's default), partial
 * writes and a moving write buffer allowed (conn.c retries a write from its output buffer, which
 * may have been compacted or grown meanwhile), and read-ahead: one read() takes every record the socket holds, which is why
 * a reader must drain tls_conn_pending() before it sleeps. A key file's password is handed to
 * OpenSSL by a callback while the key loads and kept nowhere else; without one, an encrypted key
 * fails to load rather than OpenSSL prompting on the terminal.
 *
 * OpenSSL's error queue is per thread and must be empty before a call whose outcome is read with
 * SSL_get_error(), so every session call clears it first, and every failure empties it into text.
 *
 * Memory: OpenSSL allocates its contexts, sessions and record buffers itself; like zstd's
 * contexts, that memory is outside kmem's accounting. Record buffers are given back while a
 * session is idle (SSL_MODE_RELEASE_BUFFERS): an idle TLS connection then costs about 22 KB of
 * RSS beyond a plain one's, 32 KB without it (1,000 connections after a PING each), and a
 * pipelined load showed no difference in CPU time.
 */
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "kmem.h"

struct tls_ctx {
    SSL_CTX *server;  /* accepted connections; outgoing ones too when client is NULL */
    SSL_CTX *client;  /* outgoing links with a certificate of their own, or NULL */
    int auth_clients; /* TLS_AUTH_*, applied to each accepted session */
};

static bool
given(const char *s) {
    return s && s[0];
}

/* The first error OpenSSL queued, as text; the queue is left empty. */
static void
take_error(char *buf, size_t len) {
    unsigned long e = ERR_get_error();
    if (e)
        ERR_error_string_n(e, buf, len);
    else
        snprintf(buf, len, "unknown error");
    ERR_clear_error();
}

int
tls_parse_protocols(const char *s, unsigned *mask, char *err, size_t errlen) {
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {{"tlsv1", TLS_PROTO_TLSV1},
                 {"tlsv1.1", TLS_PROTO_TLSV1_1},
                 {"tlsv1.2", TLS_PROTO_TLSV1_2},
                 {"tlsv1.3", TLS_PROTO_TLSV1_3}};
    unsigned m = 0;
    for (const char *p = s ? s : ""; *p;) {
        p += strspn(p, " \t");
        size_t n = strcspn(p, " \t");
        if (n == 0)
            break;
        unsigned bit = 0;
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (strlen(names[i].name) == n && !strncasecmp(p, names[i].name, n))
                bit = names[i].bit;
        if (!bit) {
            snprintf(err, errlen,
                     "Invalid protocol '%.*s': use a combination of 'TLSv1', 'TLSv1.1', 'TLSv1.2' "
                     "and 'TLSv1.3'",
                     (int)(n > 32 ? 32 : n), p);
            return -1;
        }
        m |= bit;
        p += n;
    }
    *mask = m ? m : TLS_PROTO_DEFAULT;
    return 0;
}

/* Hands the key file's password to OpenSSL; without one, the key does not load. */
static int
password_cb(char *buf, int size, int rwflag, void *u) {
    (void)rwflag;
    const char *pass = u;
    if (!pass)
        return -1;
    size_t n = strlen(pass);
    if (n > (size_t)size)
        return -1;
    memcpy(buf, pass, n);
    return (int)n;
}

/* What the server and client contexts share; own_client: load the client certificate and key
 * instead of the server's. NULL with the reason in err. */
static SSL_CTX *
make_ctx(const tls_config_t *cfg, unsigned protocols, bool own_client, char *err, size_t errlen) {
    const char *cert = own_client ? cfg->client_cert_file : cfg->cert_file;
    const char *key = own_client ? cfg->client_key_file : cfg->key_file;
    const char *pass = own_client ? cfg->client_key_file_pass : cfg->key_file_pass;
    char why[256];
    SSL_CTX *ctx = SSL_CTX_new(TLS_method());
    if (!ctx) {
        take_error(why, sizeof why);
        snprintf(err, errlen, "Cannot create a TLS context: %s", why);
        return NULL;
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_SSLv2 | SSL_OP_NO_SSLv3 | SSL_OP_NO_COMPRESSION);
    if (!(protocols & TLS_PROTO_TLSV1))
        SSL_CTX_set_options(ctx, SSL_OP_NO_TLSv1);
    if (!(protocols & TLS_PROTO_TLSV1_1))
        SSL_CTX_set_options(ctx, SSL_OP_NO_TLSv1_1);
    if (!(protocols & TLS_PROTO_TLSV1_2))
        SSL_CTX_set_options(ctx, SSL_OP_NO_TLSv1_2);
    if (!(protocols & TLS_PROTO_TLSV1_3))
        SSL_CTX_set_options(ctx, SSL_OP_NO_TLSv1_3);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_read_ahead(ctx, 1);
    /* Peers are verified: a replica verifies its primary; an accepted session relaxes this
     * according to tls-auth-clients (tls_conn_new). */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    SSL_CTX_set_default_passwd_cb(ctx, password_cb);
    SSL_CTX_set_default_passwd_cb_userdata(ctx, given(pass) ? (void *)pass : NULL);
    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) <= 0) {
        take_error(why, sizeof why);
        snprintf(err, errlen, "Failed to load certificate %s: %s", cert, why);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) <= 0) {
        take_error(why, sizeof why);
        snprintf(err, errlen, "Failed to load private key %s: %s", key, why);
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        take_error(why, sizeof why);
        snprintf(err, errlen, "The private key %s does not match the certificate %s: %s", key, cert,
                 why);
        goto fail;
    }
    SSL_CTX_set_default_passwd_cb_userdata(ctx, NULL); /* the password is not kept */
    if ((given(cfg->ca_cert_file) || given(cfg->ca_cert_dir)) &&
        SSL_CTX_load_verify_locations(ctx, given(cfg->ca_cert_file) ? cfg->ca_cert_file : NULL,
                                      given(cfg->ca_cert_dir) ? cfg->ca_cert_dir : NULL) <= 0) {
        take_error(why, sizeof why);
        snprintf(err, errlen,
                 "Failed to load CA certificate(s) (tls-ca-cert-file '%s', "
                 "tls-ca-cert-dir '%s'): %s",
                 given(cfg->ca_cert_file) ? cfg->ca_cert_file : "",
                 given(cfg->ca_cert_dir) ? cfg->ca_cert_dir : "", why);
        goto fail;
    }
    if (given(cfg->ciphers) && !SSL_CTX_set_cipher_list(ctx, cfg->ciphers)) {
        take_error(why, sizeof why);
        snprintf(err, errlen, "Invalid tls-ciphers '%s': %s", cfg->ciphers, why);
        goto fail;
    }
    if (given(cfg->ciphersuites) && !SSL_CTX_set_ciphersuites(ctx, cfg->ciphersuites)) {
        take_error(why, sizeof why);
        snprintf(err, errlen, "Invalid tls-ciphersuites '%s': %s", cfg->ciphersuites, why);
        goto fail;
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

tls_ctx_t *
tls_ctx_build(const tls_config_t *cfg, char *err, size_t errlen) {
    unsigned protocols;
    if (!given(cfg->cert_file)) {
        snprintf(err, errlen, "No tls-cert-file configured");
        return NULL;
    }
    if (!given(cfg->key_file)) {
        snprintf(err, errlen, "No tls-key-file configured");
        return NULL;
    }
    if ((cfg->auth_clients != TLS_AUTH_NO || cfg->replication) && !given(cfg->ca_cert_file) &&
        !given(cfg->ca_cert_dir)) {
        snprintf(err, errlen,
                 "Either tls-ca-cert-file or tls-ca-cert-dir must be specified when "
                 "tls-replication or tls-auth-clients are enabled");
        return NULL;
    }
    if (tls_parse_protocols(cfg->protocols, &protocols, err, errlen) < 0)
        return NULL;
    SSL_CTX *server = make_ctx(cfg, protocols, false, err, errlen);
    if (!server)
        return NULL;
    if (cfg->session_caching) {
        SSL_CTX_set_session_cache_mode(server, SSL_SESS_CACHE_SERVER);
        SSL_CTX_sess_set_cache_size(server, (long)cfg->session_cache_size);
        SSL_CTX_set_timeout(server, (long)cfg->session_cache_timeout_s);
        SSL_CTX_set_session_id_context(server, (const unsigned char *)"keel", 4);
    } else {
        SSL_CTX_set_session_cache_mode(server, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_options(server, SSL_OP_NO_TICKET); /* no stateless resumption either */
    }
    /* Client-initiated renegotiation stays refused (OpenSSL 3's default without
     * SSL_OP_ALLOW_CLIENT_RENEGOTIATION). */
    if (cfg->prefer_server_ciphers)
        SSL_CTX_set_options(server, SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_dh_auto(server, 1); /* DHE cipher suites get OpenSSL's built-in groups */
    SSL_CTX *client = NULL;
    if (given(cfg->client_cert_file) && given(cfg->client_key_file)) {
        client = make_ctx(cfg, protocols, true, err, errlen);
        if (!client) {
            SSL_CTX_free(server);
            return NULL;
        }
    }
    tls_ctx_t *t = kcalloc(1, sizeof *t);
    t->server = server;
    t->client = client;
    t->auth_clients = cfg->auth_clients;
    return t;
}

void
tls_ctx_free(tls_ctx_t *t) {
    if (!t)
        return;
    SSL_CTX_free(t->server); /* sessions made from them hold references of their own */
    SSL_CTX_free(t->client);
    kfree(t);
}

tls_conn_t *
tls_conn_new(tls_ctx_t *ctx, int fd, bool client, const char *host, char *err, size_t errlen) {
    char why[256];
    ERR_clear_error();
    SSL *ssl = SSL_new(client && ctx->client ? ctx->client : ctx->server);
    if (!ssl || SSL_set_fd(ssl, fd) != 1) {
        take_error(why, sizeof why);
        snprintf(err, errlen, "Cannot create a TLS session: %s", why);
        SSL_free(ssl);
        return NULL;
    }
    if (client) {
        unsigned char addr[sizeof(struct in6_addr)];
        if (host && inet_pton(AF_INET, host, addr) != 1 && inet_pton(AF_INET6, host, addr) != 1)
            SSL_set_tlsext_host_name(ssl, host); /* SNI: a name, never an address */
        SSL_set_connect_state(ssl);
    } else {
        if (ctx->auth_clients == TLS_AUTH_NO)
            SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
        else if (ctx->auth_clients == TLS_AUTH_OPTIONAL)
            SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
        SSL_set_accept_state(ssl);
    }
    tls_conn_t *t = kcalloc(1, sizeof *t);
    t->ssl = ssl;
    t->state = client ? TLS_ST_CONNECTING : TLS_ST_HANDSHAKE;
    return t;
}

/* A failed call: the session is unusable (no close_notify will be sent); the reason in t->err. */
static void
fail(tls_conn_t *t, int ssl_err) {
    int e = errno;
    t->state = TLS_ST_FAILED;
    if (ssl_err == SSL_ERROR_SYSCALL && !ERR_peek_error()) {
        snprintf(t->err, sizeof t->err, "%s", e ? strerror(e) : "the peer closed the connection");
    } else {
        char why[128];
        take_error(why, sizeof why);
        long v = SSL_get_verify_result(t->ssl);
        if (v != X509_V_OK)
            snprintf(t->err, sizeof t->err, "%s (%s)", why, X509_verify_cert_error_string(v));
        else
            snprintf(t->err, sizeof t->err, "%s", why);
    }
    ERR_clear_error();
    errno = e;
}

int
tls_conn_handshake(tls_conn_t *t) {
    ERR_clear_error();
    int r = SSL_do_handshake(t->ssl);
    if (r == 1) {
        t->state = TLS_ST_READY;
        return 0;
    }
    int e = SSL_get_error(t->ssl, r);
    if (e == SSL_ERROR_WANT_READ)
        return TLS_WANT_READ;
    if (e == SSL_ERROR_WANT_WRITE)
        return TLS_WANT_WRITE;
    fail(t, e);
    return TLS_ERR;
}

/* After a read or write that returned r <= 0: -1 with errno EAGAIN (and `crossed` noted when the
 * socket must get ready the other way), 0 at the peer's close_notify, -1 with errno otherwise. */
static ssize_t
io_result(tls_conn_t *t, int r, int crossed) {
    int e = SSL_get_error(t->ssl, r);
    switch (e) {
    case SSL_ERROR_WANT_READ:
        if (crossed == TLS_WRITE_WANTS_READ)
            t->want |= crossed;
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_WANT_WRITE:
        if (crossed == TLS_READ_WANTS_WRITE)
            t->want |= crossed;
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_ZERO_RETURN: return 0;
    case SSL_ERROR_SYSCALL:
        fail(t, e);
        if (!errno)
            return 0; /* the socket's end, without close_notify */
        return -1;
    default:
        fail(t, e);
        errno = EPROTO;
        return -1;
    }
}

ssize_t
tls_conn_read(tls_conn_t *t, void *buf, size_t len) {
    ERR_clear_error();
    t->want &= ~TLS_READ_WANTS_WRITE;
    errno = 0;
    int n = SSL_read(t->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
    return n > 0 ? n : io_result(t, n, TLS_READ_WANTS_WRITE);
}

ssize_t
tls_conn_write(tls_conn_t *t, const void *buf, size_t len) {
    ERR_clear_error();
    t->want &= ~TLS_WRITE_WANTS_READ;
    errno = 0;
    int n = SSL_write(t->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
    if (n > 0)
        return n;
    ssize_t r = io_result(t, n, TLS_WRITE_WANTS_READ);
    if (r == 0) { /* the peer is gone: a write never returns 0 (its caller would loop) */
        errno = EPIPE;
        return -1;
    }
    return r;
}

bool
tls_conn_pending(const tls_conn_t *t) {
    return SSL_has_pending(t->ssl) == 1;
}

void
tls_conn_free(tls_conn_t *t) {
    if (!t)
        return;
    if (t->state == TLS_ST_READY) {
        ERR_clear_error();
        SSL_shutdown(t->ssl); /* close_notify; the peer's answer is not awaited */
    }
    ERR_clear_error();
    SSL_free(t->ssl);
    kfree(t);
}
