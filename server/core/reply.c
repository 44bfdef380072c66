/* reply.c - RESP2/RESP3 reply encoding into a client's output (see reply.h). */
#include "reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "errstats.h"
#include "kmem.h"
#include "engine.h"
#include "util.h"

const char *const ERR_SYNTAX = "ERR syntax error";
const char *const ERR_WRONGTYPE =
    "WRONGTYPE Operation against a key holding the wrong kind of value";
const char *const ERR_NOT_INT = "ERR value is not an integer or out of range";
const char *const ERR_NOT_FLOAT = "ERR value is not a valid float";
const char *const ERR_NO_KEY = "ERR no such key";
const char *const ERR_OVERFLOW = "ERR increment or decrement would overflow";
const char *const ERR_DB_INDEX = "ERR DB index is out of range";

static inline char *
reserve(client_t *c, size_t n) {
    return conn_out_reserve(&c->conn, n);
}

/* n bytes were added to the output: the conn will be written to. */
static inline void
appended(client_t *c, size_t n) {
    conn_out_commit(&c->conn, n);
}

/* "<type><n>\r\n" into buf (at least 32 bytes); returns its length. */
static int
fmt_hdr(char *buf, char type, long long n) {
    buf[0] = type;
    int len = util_ll2str(buf + 1, 29, n) + 1;
    buf[len++] = '\r';
    buf[len++] = '\n';
    return len;
}

static void
reply_raw(client_t *c, const char *p, size_t n) {
    if (c->conn.flags & CONN_CLOSE_AFTER_REPLY)
        return; /* nothing more after QUIT or a protocol error */
    memcpy(reserve(c, n), p, n);
    appended(c, n);
}

static void
reply_hdr(client_t *c, char type, long long n) {
    char buf[32];
    reply_raw(c, buf, (size_t)fmt_hdr(buf, type, n));
}

void
reply_raw_bytes(client_t *c, const char *p, size_t n) {
    reply_raw(c, p, n);
}

void
reply_ok(client_t *c) {
    reply_raw(c, "+OK\r\n", 5);
}

void
reply_simple(client_t *c, const char *s) {
    size_t n = strlen(s);
    reply_raw(c, "+", 1);
    reply_raw(c, s, n);
    reply_raw(c, "\r\n", 2);
}

void
reply_simplef(client_t *c, const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    for (char *p = buf; *p; p++) /* a simple string is one line */
        if (*p == '\r' || *p == '\n')
            *p = ' ';
    reply_simple(c, buf);
}

/* A HELP subcommand's text: one simple string a line, as Valkey's addReplyHelp sends it. */
void
reply_help(client_t *c, const char *const *lines, size_t n) {
    reply_array(c, (long long)n);
    for (size_t i = 0; i < n; i++)
        reply_simple(c, lines[i]);
}

void
reply_err(client_t *c, const char *msg) {
    size_t n = strlen(msg);
    char buf[512];
    /* Error text must be one line: newlines from user input would break the framing. */
    size_t k = n < sizeof buf ? n : sizeof buf - 1;
    for (size_t i = 0; i < k; i++)
        buf[i] = (msg[i] == '\r' || msg[i] == '\n') ? ' ' : msg[i];
    reply_raw(c, "-", 1);
    reply_raw(c, buf, k);
    reply_raw(c, "\r\n", 2);
    if (c->eng) {
        c->eng->stats.total_errors++;
        if (c->eng->errstats)
            errstats_add(c->eng, buf, k);
    }
}

void
reply_errf(client_t *c, const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    reply_err(c, buf);
}

void
reply_err_arity(client_t *c, const char *cmd) {
    reply_errf(c, "ERR wrong number of arguments for '%s' command", cmd);
}

void
reply_int(client_t *c, long long v) {
    if (v == 0 || v == 1) {
        reply_raw(c, v ? ":1\r\n" : ":0\r\n", 4);
        return;
    }
    reply_hdr(c, ':', v);
}

void
reply_bulk(client_t *c, const char *p, size_t n) {
    if (c->conn.flags & CONN_CLOSE_AFTER_REPLY)
        return;
    char hdr[32];
    int h = fmt_hdr(hdr, '$', (long long)n); /* n is bounded by proto-max-bulk-len */
    char *d = reserve(c, (size_t)h + n + 2); /* one reservation for the commonest reply */
    memcpy(d, hdr, (size_t)h);
    if (n)
        memcpy(d + h, p, n);
    memcpy(d + h + n, "\r\n", 2);
    appended(c, (size_t)h + n + 2);
}

void
reply_bulk_cstr(client_t *c, const char *s) {
    if (!s)
        reply_null(c);
    else
        reply_bulk(c, s, strlen(s));
}

void
reply_bulk_ll(client_t *c, long long v) {
    char buf[UTIL_LL_STR_MAX];
    int n = util_ll2str(buf, sizeof buf, v);
    reply_bulk(c, buf, (size_t)n);
}

void
reply_null(client_t *c) {
    if (c->resp >= 3)
        reply_raw(c, "_\r\n", 3);
    else
        reply_raw(c, "$-1\r\n", 5);
}

void
reply_bool(client_t *c, bool v) {
    if (c->resp >= 3)
        reply_raw(c, v ? "#t\r\n" : "#f\r\n", 4);
    else
        reply_raw(c, v ? ":1\r\n" : ":0\r\n", 4);
}

void
reply_bignum(client_t *c, const char *p, size_t n) {
    if (c->resp < 3) {
        reply_bulk(c, p, n);
        return;
    }
    reply_raw(c, "(", 1);
    reply_raw(c, p, n);
    reply_raw(c, "\r\n", 2);
}

void
reply_null_array(client_t *c) {
    if (c->resp >= 3)
        reply_raw(c, "_\r\n", 3);
    else
        reply_raw(c, "*-1\r\n", 5);
}

void
reply_array(client_t *c, long long n) {
    reply_hdr(c, '*', n);
}

void
reply_map(client_t *c, long long n) {
    if (c->resp >= 3)
        reply_hdr(c, '%', n);
    else
        reply_hdr(c, '*', n * 2);
}

void
reply_set(client_t *c, long long n) {
    reply_hdr(c, c->resp >= 3 ? '~' : '*', n);
}

void
reply_push(client_t *c, long long n) {
    reply_hdr(c, c->resp >= 3 ? '>' : '*', n);
}

void
reply_empty_array(client_t *c) {
    reply_raw(c, "*0\r\n", 4);
}

void
reply_double(client_t *c, double d) {
    char buf[UTIL_DBL_STR_MAX];
    int n = util_d2str(buf, sizeof buf, d);
    if (c->resp >= 3) {
        reply_raw(c, ",", 1);
        reply_raw(c, buf, (size_t)n);
        reply_raw(c, "\r\n", 2);
    } else {
        reply_bulk(c, buf, (size_t)n);
    }
}

void
reply_double_human(client_t *c, double d) {
    char buf[512]; /* any finite double in %.17Lf fits: at most 309 + 18 characters */
    int n = util_ld2str(buf, sizeof buf, (long double)d);
    if (c->resp >= 3) {
        reply_raw(c, ",", 1);
        reply_raw(c, buf, (size_t)n);
        reply_raw(c, "\r\n", 2);
    } else {
        reply_bulk(c, buf, (size_t)n);
    }
}

void
reply_verbatim(client_t *c, const char *p, size_t n, const char *ext) {
    if (c->resp < 3) {
        reply_bulk(c, p, n);
        return;
    }
    reply_hdr(c, '=', (long long)n + 4);
    reply_raw(c, ext, 3);
    reply_raw(c, ":", 1);
    reply_raw(c, p, n);
    reply_raw(c, "\r\n", 2);
}

size_t
reply_defer(client_t *c) {
    reserve(c, 0);
    return (size_t)(c->conn.obase + c->conn.olen);
}

/* Insert a header at an absolute spot recorded by reply_defer: shift what follows. */
static void
set_deferred(client_t *c, size_t spot, char type, long long n) {
    if (c->conn.flags & CONN_CLOSE_AFTER_REPLY)
        return;
    char hdr[32];
    int h = fmt_hdr(hdr, type, n);
    /* reserve() may compact the buffer, changing obase: compute the offset after it. */
    reserve(c, (size_t)h);
    size_t off = spot - (size_t)c->conn.obase;
    memmove(c->conn.obuf + off + h, c->conn.obuf + off, c->conn.olen - off);
    memcpy(c->conn.obuf + off, hdr, (size_t)h);
    appended(c, (size_t)h);
}

void
reply_set_deferred_array(client_t *c, size_t spot, long long n) {
    set_deferred(c, spot, '*', n);
}

void
reply_set_deferred_set(client_t *c, size_t spot, long long n) {
    set_deferred(c, spot, c->resp >= 3 ? '~' : '*', n);
}

void
reply_set_deferred_map(client_t *c, size_t spot, long long n) {
    set_deferred(c, spot, c->resp >= 3 ? '%' : '*', c->resp >= 3 ? n : n * 2);
}
