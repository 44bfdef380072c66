/* resp.c - incremental RESP request parser (see resp.h for the grammar and limits). */
#include "resp.h"

#include <stdbool.h>
#include <stdio.h>
#include <limits.h>
#include <string.h>

#include "kmem.h"
#include "util.h"

#define RESP_SKIPPED 2 /* internal: an empty inline line was consumed */

void
resp_parser_init(resp_parser_t *p) {
    memset(p, 0, sizeof *p);
    p->bulk_len = -1;
}

void
resp_parser_free(resp_parser_t *p) {
    kfree(p->off);
    kfree(p->len);
    kfree(p->args);
    kfree(p->inline_buf);
    memset(p, 0, sizeof *p);
}

void
resp_parser_next(resp_parser_t *p) {
    p->state = 0;
    p->argc = 0;
    p->left = 0;
    p->bulk_len = -1;
    p->start = p->pos;
}

void
resp_parser_shift(resp_parser_t *p, size_t n) {
    p->pos -= n;
    p->start -= n;
    for (int i = 0; i < p->argc; i++)
        p->off[i] -= n;
}

static void
reserve_args(resp_parser_t *p, long long n) {
    if (n <= p->argv_cap)
        return;
    /* Grow by what arrived, not what was announced: a "*1000000" header alone must not
     * allocate a million slots before any argument is there. */
    long long cap = p->argv_cap ? (long long)p->argv_cap * 2 : 8;
    while (cap < n)
        cap *= 2;
    if (cap > INT_MAX) /* n <= INT_MAX: max-multibulk-len is an int */
        cap = INT_MAX;
    p->off = krealloc(p->off, sizeof(size_t) * (size_t)cap);
    p->len = krealloc(p->len, sizeof(size_t) * (size_t)cap);
    p->args = krealloc(p->args, sizeof(karg_t) * (size_t)cap);
    p->argv_cap = (int)cap;
}

/* Find CRLF from `from`; returns the index of '\r' or -1. */
static long long
find_crlf(const char *buf, size_t len, size_t from) {
    const char *cr = from < len ? memchr(buf + from, '\r', len - from) : NULL;
    if (!cr)
        return -1;
    size_t i = (size_t)(cr - buf);
    if (i + 1 >= len)
        return -1; /* need the '\n' too */
    return (long long)i;
}

static int
perr(char *err, size_t errlen, const char *msg) {
    snprintf(err, errlen, "%s", msg);
    return -1;
}

static int
parse_inline(resp_parser_t *p, const char *buf, size_t len, const resp_limits_t *lim, int *argc,
             karg_t **argv, char *err, size_t errlen) {
    const char *nl = memchr(buf + p->pos, '\n', len - p->pos);
    if (!nl) {
        if (len - p->pos > lim->inline_max)
            return perr(err, errlen, "too big inline request");
        return RESP_NEED_MORE;
    }
    size_t line_len = (size_t)(nl - (buf + p->pos));
    if (line_len > lim->inline_max)
        return perr(err, errlen, "too big inline request");
    size_t n = line_len;
    if (n && buf[p->pos + n - 1] == '\r')
        n--;
    if (p->inline_cap < n + 1) {
        p->inline_cap = n + 1;
        p->inline_buf = krealloc(p->inline_buf, p->inline_cap);
    }
    int maxargs = (int)(n / 2 + 1);
    reserve_args(p, maxargs);
    int c = resp_split_args(buf + p->pos, n, p->inline_buf, p->off, p->len, maxargs);
    if (c < 0)
        return perr(err, errlen, "unbalanced quotes in request");
    p->pos += line_len + 1;
    if (c == 0) { /* empty line: skip it and go on with what follows */
        resp_parser_next(p);
        return RESP_SKIPPED;
    }
    for (int i = 0; i < c; i++) {
        p->args[i].p = p->inline_buf + p->off[i];
        p->args[i].n = p->len[i];
    }
    p->argc = 0; /* the offsets point into inline_buf, not the query buffer: nothing to shift */
    *argc = c;
    *argv = p->args;
    return RESP_COMMAND;
}

/* Read a "<prefix><number>\r\n" header at p->pos. 1 ok, 0 need more, -1 error. */
static int
read_header(resp_parser_t *p, const char *buf, size_t len, char prefix, const resp_limits_t *lim,
            long long *val, char *err, size_t errlen) {
    long long cr = find_crlf(buf, len, p->pos);
    if (cr < 0) {
        if (len - p->pos > lim->inline_max)
            return perr(err, errlen,
                        prefix == '*' ? "too big mbulk count string" : "too big bulk count string");
        return 0;
    }
    if (buf[p->pos] != prefix) {
        char msg[64];
        snprintf(msg, sizeof msg, "expected '%c', got '%c'", prefix, buf[p->pos]);
        return perr(err, errlen, msg);
    }
    size_t start = p->pos + 1, n = (size_t)cr - start;
    if (buf[cr + 1] != '\n' || !util_parse_ll(buf + start, n, val))
        return perr(err, errlen,
                    prefix == '*' ? "invalid multibulk length" : "invalid bulk length");
    p->pos = (size_t)cr + 2;
    return 1;
}

int
resp_parse(resp_parser_t *p, const char *buf, size_t len, const resp_limits_t *lim, int *argc,
           karg_t **argv, size_t *need_hint, char *err, size_t errlen) {
    *need_hint = 0;
    for (;;) {
        if (p->pos >= len)
            return RESP_NEED_MORE;
        if (p->state == 0) {
            if (buf[p->pos] != '*') {
                int r = parse_inline(p, buf, len, lim, argc, argv, err, errlen);
                if (r == RESP_SKIPPED)
                    continue;
                return r;
            }
            long long count;
            int r = read_header(p, buf, len, '*', lim, &count, err, errlen);
            if (r <= 0)
                return r;
            if (count > lim->multibulk_max)
                return perr(err, errlen,
                            lim->unauth ? "unauthenticated multibulk length"
                                        : "invalid multibulk length");
            if (count <= 0) { /* "*0" or "*-1": nothing to run */
                resp_parser_next(p);
                continue;
            }
            p->state = 1;
            p->left = count;
            p->argc = 0;
            p->bulk_len = -1;
        }
        while (p->left > 0) {
            if (p->bulk_len < 0) {
                long long bl;
                if (p->pos >= len)
                    return RESP_NEED_MORE;
                int r = read_header(p, buf, len, '$', lim, &bl, err, errlen);
                if (r <= 0)
                    return r;
                if (bl < 0)
                    return perr(err, errlen, "invalid bulk length");
                if (bl > lim->bulk_max)
                    return perr(err, errlen,
                                lim->unauth ? "unauthenticated bulk length"
                                            : "invalid bulk length");
                p->bulk_len = bl;
            }
            size_t need = p->pos + (size_t)p->bulk_len + 2;
            if (len < need) {
                *need_hint = need;
                return RESP_NEED_MORE;
            }
            if (buf[need - 2] != '\r' || buf[need - 1] != '\n')
                return perr(err, errlen, "invalid bulk format");
            reserve_args(p, p->argc + 1);
            p->off[p->argc] = p->pos;
            p->len[p->argc] = (size_t)p->bulk_len;
            p->argc++;
            p->pos = need;
            p->bulk_len = -1;
            p->left--;
        }
        for (int i = 0; i < p->argc; i++) {
            p->args[i].p = buf + p->off[i];
            p->args[i].n = p->len[i];
        }
        *argc = p->argc;
        *argv = p->args;
        return RESP_COMMAND;
    }
}

static int
hexval(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool
is_sep(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* One quoted argument starting at line[i] == '"' or '\''. Returns the index after the closing
 * quote, or -1 if unbalanced or the closing quote is not followed by a separator or the end
 * (a config file line still holds its newline: `requirepass "a b"` must load). */
static long long
split_quoted(const char *line, size_t n, size_t i, char *out, size_t *o) {
    char q = line[i++];
    for (;;) {
        if (i >= n)
            return -1;
        char ch = line[i];
        if (q == '"' && ch == '\\' && i + 3 < n && line[i + 1] == 'x' && hexval(line[i + 2]) >= 0 &&
            hexval(line[i + 3]) >= 0) {
            out[(*o)++] = (char)(hexval(line[i + 2]) * 16 + hexval(line[i + 3]));
            i += 4;
        } else if (ch == '\\' && i + 1 < n && (q == '"' || line[i + 1] == '\'')) {
            char e = line[++i];
            if (q == '"')
                e = e == 'n'   ? '\n'
                    : e == 'r' ? '\r'
                    : e == 't' ? '\t'
                    : e == 'b' ? '\b'
                    : e == 'a' ? '\a'
                               : e;
            out[(*o)++] = e;
            i++;
        } else if (ch == q) {
            i++;
            if (i < n && !is_sep(line[i]))
                return -1;
            return (long long)i;
        } else {
            out[(*o)++] = ch;
            i++;
        }
    }
}

int
resp_split_args(const char *line, size_t n, char *out, size_t *offs, size_t *lens, int max) {
    size_t i = 0, o = 0;
    int argc = 0;
    for (;;) {
        while (i < n && is_sep(line[i]))
            i++;
        if (i >= n)
            return argc;
        if (argc >= max)
            return -1;
        size_t start = o;
        if (line[i] == '"' || line[i] == '\'') {
            long long r = split_quoted(line, n, i, out, &o);
            if (r < 0)
                return -1;
            i = (size_t)r;
        } else {
            /* A quote inside a word opens a quoted part that ends the word (sdssplitargs:
             * `a"b c"` is one argument `ab c`). */
            while (i < n && !is_sep(line[i]) && line[i] != '"' && line[i] != '\'')
                out[o++] = line[i++];
            if (i < n && (line[i] == '"' || line[i] == '\'')) {
                long long r = split_quoted(line, n, i, out, &o);
                if (r < 0)
                    return -1;
                i = (size_t)r;
            }
        }
        offs[argc] = start;
        lens[argc] = o - start;
        argc++;
    }
}
