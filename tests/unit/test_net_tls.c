/*
 * test_net_tls.c - the TLS primitives of the net layer: tls-protocols parsing, contexts built from
 * good and bad settings (each failure names its cause), and sessions over a non-blocking socket
 * pair: the handshake driven step by step, a transfer far larger than the socket buffers (writes
 * that stop on EAGAIN and are retried, as conn.c does), records OpenSSL holds after a read
 * (tls_conn_pending), a peer that does not trust the certificate, and close_notify.
 *
 * The certificates are made once per run with the openssl CLI in a temporary directory.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kmem.h"
#include "tls.h"

static char dir[256];

static void
sh(const char *fmt, const char *arg) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd %s && ", dir);
    size_t n = strlen(cmd);
    snprintf(cmd + n, sizeof cmd - n, fmt, arg, arg, arg, arg);
    strcat(cmd, " >/dev/null 2>&1");
    cr_assert_eq(system(cmd), 0, "%s", cmd);
}

/* ca, other-ca (an unrelated CA), srv (signed by ca), stray (signed by other-ca). */
static void
make_certs(void) {
    if (dir[0])
        return;
    snprintf(dir, sizeof dir, "/tmp/keel-tls-unit-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    signal(SIGPIPE, SIG_IGN);
    const char *ca = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
                     "-keyout %s.key -out %s.crt -days 2 -subj /CN=%s";
    sh(ca, "ca");
    sh(ca, "other-ca");
    const char *req = "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
                      "-keyout %s.key -out %s.csr -subj /CN=%s";
    sh(req, "srv");
    sh(req, "stray");
    sh("openssl x509 -req -in %s.csr -CA ca.crt -CAkey ca.key -set_serial 7 -out %s.crt -days 2",
       "srv");
    sh("openssl x509 -req -in %s.csr -CA other-ca.crt -CAkey other-ca.key -set_serial 8 -out "
       "%s.crt -days 2",
       "stray");
}

static void
cleanup(void) {
    if (!dir[0])
        return;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(tls, .init = make_certs, .fini = cleanup);

static char paths[16][300];
static int npaths;

static char *
path(const char *name) {
    char *p = paths[npaths++ % 16];
    snprintf(p, 300, "%s/%s", dir, name);
    return p;
}

/* The settings' defaults as config.c gives them, with srv's certificate and ca. */
static tls_config_t
config(void) {
    tls_config_t c = {0};
    c.cert_file = path("srv.crt");
    c.key_file = path("srv.key");
    c.ca_cert_file = path("ca.crt");
    c.auth_clients = TLS_AUTH_YES;
    c.session_caching = true;
    c.session_cache_size = 20480;
    c.session_cache_timeout_s = 300;
    return c;
}

Test(tls, protocols_parse_into_a_mask) {
    unsigned m;
    char err[256];
    cr_assert_eq(tls_parse_protocols("", &m, err, sizeof err), 0);
    cr_assert_eq(m, TLS_PROTO_TLSV1_2 | TLS_PROTO_TLSV1_3, "empty means the default");
    cr_assert_eq(tls_parse_protocols(NULL, &m, err, sizeof err), 0);
    cr_assert_eq(m, TLS_PROTO_DEFAULT);
    cr_assert_eq(tls_parse_protocols("TLSv1.3", &m, err, sizeof err), 0);
    cr_assert_eq(m, TLS_PROTO_TLSV1_3);
    cr_assert_eq(tls_parse_protocols("  tlsv1.2\ttlsV1 ", &m, err, sizeof err), 0);
    cr_assert_eq(m, TLS_PROTO_TLSV1_2 | TLS_PROTO_TLSV1);
    cr_assert_eq(tls_parse_protocols("TLSv1 TLSv1.1 TLSv1.2 TLSv1.3", &m, err, sizeof err), 0);
    cr_assert_eq(m, 15u);
    m = 99;
    cr_assert_eq(tls_parse_protocols("TLSv1.2 TLSv1.4", &m, err, sizeof err), -1);
    cr_assert(strstr(err, "'TLSv1.4'"), "%s", err);
    cr_assert_eq(m, 99u, "the mask is not touched on error");
    cr_assert_eq(tls_parse_protocols("SSLv3", &m, err, sizeof err), -1);
    cr_assert_eq(tls_parse_protocols("TLSv1.2,TLSv1.3", &m, err, sizeof err), -1);
}

/* The context of c fails to build with a message containing want. */
static void
build_fails(tls_config_t c, const char *want) {
    char err[512] = "";
    tls_ctx_t *t = tls_ctx_build(&c, err, sizeof err);
    cr_assert_null(t, "built although %s was expected", want);
    cr_assert(strstr(err, want), "'%s' not in '%s'", want, err);
}

Test(tls, bad_settings_name_their_cause) {
    tls_config_t c = config();
    c.cert_file = "";
    build_fails(c, "No tls-cert-file");
    c = config();
    c.key_file = NULL;
    build_fails(c, "No tls-key-file");
    c = config();
    c.ca_cert_file = "";
    build_fails(c, "tls-ca-cert-file or tls-ca-cert-dir");
    c.replication = true;
    c.auth_clients = TLS_AUTH_NO;
    build_fails(c, "tls-ca-cert-file or tls-ca-cert-dir");
    c = config();
    c.cert_file = path("nothing.crt");
    build_fails(c, "Failed to load certificate");
    c = config();
    c.cert_file = path("srv.key");
    build_fails(c, "Failed to load certificate");
    c = config();
    c.key_file = path("stray.key");
    build_fails(c, "Failed to load private key");
    c = config();
    c.ca_cert_file = path("nothing.crt");
    build_fails(c, "Failed to load CA certificate");
    c = config();
    c.ciphers = "NOT-A-CIPHER";
    build_fails(c, "Invalid tls-ciphers 'NOT-A-CIPHER'");
    c = config();
    c.ciphersuites = "TLS_NOPE";
    build_fails(c, "Invalid tls-ciphersuites");
    c = config();
    c.protocols = "TLSv9";
    build_fails(c, "TLSv9");
    c = config();
    c.client_cert_file = path("stray.crt");
    c.client_key_file = path("srv.key");
    build_fails(c, "Failed to load private key");
}

Test(tls, good_settings_build) {
    char err[512] = "";
    tls_config_t c = config();
    tls_ctx_t *t = tls_ctx_build(&c, err, sizeof err);
    cr_assert_not_null(t, "%s", err);
    tls_ctx_free(t);
    c.auth_clients = TLS_AUTH_NO;
    c.ca_cert_file = ""; /* no CA needed when nobody is verified */
    c.session_caching = false;
    c.prefer_server_ciphers = true;
    c.protocols = "TLSv1.2";
    c.ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256";
    t = tls_ctx_build(&c, err, sizeof err);
    cr_assert_not_null(t, "%s", err);
    tls_ctx_free(t);
    tls_ctx_free(NULL);
}

/* ---- sessions over a socket pair ---- */

typedef struct pair {
    tls_ctx_t *sctx, *cctx;
    tls_conn_t *srv, *cli;
    int sfd, cfd;
} pair_t;

static tls_ctx_t *
ctx_of(tls_config_t c) {
    char err[512] = "";
    tls_ctx_t *t = tls_ctx_build(&c, err, sizeof err);
    cr_assert_not_null(t, "%s", err);
    return t;
}

static pair_t
open_pair(tls_config_t server, tls_config_t client, int sndbuf) {
    pair_t p = {0};
    int fds[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
    if (sndbuf)
        for (int i = 0; i < 2; i++)
            setsockopt(fds[i], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    p.sfd = fds[0];
    p.cfd = fds[1];
    p.sctx = ctx_of(server);
    p.cctx = ctx_of(client);
    char err[256];
    p.srv = tls_conn_new(p.sctx, p.sfd, false, NULL, err, sizeof err);
    p.cli = tls_conn_new(p.cctx, p.cfd, true, "localhost", err, sizeof err);
    cr_assert(p.srv && p.cli, "%s", err);
    cr_assert_eq(p.srv->state, TLS_ST_HANDSHAKE);
    cr_assert_eq(p.cli->state, TLS_ST_CONNECTING);
    p.cli->state = TLS_ST_HANDSHAKE; /* (conn.c does this once the TCP connect is done) */
    return p;
}

/* Both sides step in turn until both are done or one fails: 0, or the failing side's result. */
static int
handshake(pair_t *p) {
    int s = TLS_WANT_READ, c = TLS_WANT_READ;
    for (int i = 0; i < 100 && (s != 0 || c != 0); i++) {
        if (c != 0 && (c = tls_conn_handshake(p->cli)) == TLS_ERR)
            return TLS_ERR;
        if (s != 0 && (s = tls_conn_handshake(p->srv)) == TLS_ERR)
            return TLS_ERR;
    }
    return s == 0 && c == 0 ? 0 : TLS_WANT_READ;
}

static void
close_pair(pair_t *p) {
    tls_conn_free(p->srv);
    tls_conn_free(p->cli);
    close(p->sfd);
    close(p->cfd);
    tls_ctx_free(p->sctx);
    tls_ctx_free(p->cctx);
}

Test(tls, a_large_transfer_survives_eagain_on_both_sides) {
    pair_t p = open_pair(config(), config(), 16 * 1024);
    cr_assert_eq(handshake(&p), 0);
    cr_assert_eq(p.srv->state, TLS_ST_READY);
    size_t n = 3 << 20, sent = 0, got = 0, eagain = 0;
    unsigned char *out = kmalloc(n), *in = kmalloc(n);
    for (size_t i = 0; i < n; i++)
        out[i] = (unsigned char)(i * 2654435761u >> 13);
    size_t retry = 0; /* a write that returned EAGAIN is retried with at least as many bytes */
    while (got < n) {
        while (sent < n) { /* write until the socket is full */
            size_t len = n - sent;
            cr_assert_geq(len, retry);
            ssize_t w = tls_conn_write(p.srv, out + sent, len);
            if (w < 0) {
                cr_assert_eq(errno, EAGAIN);
                eagain++;
                retry = len;
                break;
            }
            cr_assert_gt(w, 0);
            sent += (size_t)w;
            retry = 0;
        }
        for (;;) { /* then read until it is empty */
            ssize_t r = tls_conn_read(p.cli, in + got, n - got);
            cr_assert_neq(r, 0, "no end of stream in the middle");
            if (r < 0) {
                cr_assert_eq(errno, EAGAIN);
                break;
            }
            got += (size_t)r;
        }
    }
    cr_assert_gt(eagain, 0, "the socket buffers never filled: the test proves nothing");
    cr_assert_eq(memcmp(in, out, n), 0);
    kfree(in);
    kfree(out);
    close_pair(&p);
}

Test(tls, records_held_after_a_read_are_pending) {
    pair_t p = open_pair(config(), config(), 0);
    cr_assert_eq(handshake(&p), 0);
    /* Two records in the socket before the server reads: read-ahead takes both at once. */
    cr_assert_eq(tls_conn_write(p.cli, "PING\r\n", 6), 6);
    cr_assert_eq(tls_conn_write(p.cli, "ECHO x\r\n", 8), 8);
    char buf[64];
    cr_assert_eq(tls_conn_read(p.srv, buf, sizeof buf), 6, "one record per read");
    cr_assert(tls_conn_pending(p.srv), "the second record waits inside OpenSSL");
    /* The socket itself is empty now: only draining finds the record. */
    char raw;
    cr_assert_eq(recv(p.sfd, &raw, 1, MSG_PEEK), -1);
    cr_assert_eq(errno, EAGAIN);
    cr_assert_eq(tls_conn_read(p.srv, buf, sizeof buf), 8);
    cr_assert_eq(memcmp(buf, "ECHO x\r\n", 8), 0);
    cr_assert_not(tls_conn_pending(p.srv));
    cr_assert_eq(tls_conn_read(p.srv, buf, sizeof buf), -1);
    cr_assert_eq(errno, EAGAIN);
    close_pair(&p);
}

Test(tls, close_notify_ends_the_stream) {
    pair_t p = open_pair(config(), config(), 0);
    cr_assert_eq(handshake(&p), 0);
    tls_conn_free(p.cli); /* sends close_notify */
    p.cli = NULL;
    char buf[16];
    cr_assert_eq(tls_conn_read(p.srv, buf, sizeof buf), 0);
    close_pair(&p);
}

Test(tls, a_peer_without_trust_fails_the_handshake) {
    tls_config_t client = config();
    client.ca_cert_file = path("other-ca.crt"); /* does not trust srv */
    pair_t p = open_pair(config(), client, 0);
    cr_assert_eq(handshake(&p), TLS_ERR);
    cr_assert_eq(p.cli->state, TLS_ST_FAILED);
    cr_assert(strstr(p.cli->err, "certificate verify failed"), "%s", p.cli->err);
    close_pair(&p);
}

Test(tls, auth_clients_decides_whether_a_certificate_is_needed) {
    /* The client's own context has the stray certificate (from a CA the server does not trust). */
    tls_config_t stray = config();
    stray.client_cert_file = path("stray.crt");
    stray.client_key_file = path("stray.key");
    pair_t p = open_pair(config(), stray, 0);
    cr_assert_eq(handshake(&p), TLS_ERR, "yes: an untrusted certificate is refused");
    cr_assert_eq(p.srv->state, TLS_ST_FAILED);
    close_pair(&p);
    tls_config_t server = config();
    server.auth_clients = TLS_AUTH_NO;
    p = open_pair(server, stray, 0);
    cr_assert_eq(handshake(&p), 0, "no: any client is accepted");
    close_pair(&p);
    server.auth_clients = TLS_AUTH_OPTIONAL;
    p = open_pair(server, stray, 0);
    cr_assert_eq(handshake(&p), TLS_ERR, "optional: a certificate shown is verified");
    close_pair(&p);
}
