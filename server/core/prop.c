/* prop.c - collecting effect records (see prop.h). */
#include "prop.h"

#include <string.h>

#include "kassert.h"
#include "kmem.h"
#include "util.h"

void
prop_init(prop_t *p) {
    memset(p, 0, sizeof *p);
    p->first_db = p->cur_db = -1;
}

void
prop_set_sink(prop_t *p, prop_sink_fn fn, void *ctx) {
    p->sink = fn;
    p->ctx = ctx;
}

int
prop_has_sink(prop_t *p) {
    return p->sink != NULL;
}

void
prop_begin(prop_t *p) {
    if (p->depth++ == 0) {
        p->len = 0;
        p->first_db = p->cur_db = -1;
    }
}

void
prop_discard(prop_t *p) {
    p->len = 0;
    p->first_db = p->cur_db = -1;
    p->cmd_added = 0;
}

/* Room for n more bytes (the buffer only grows; prop_end gives a huge one back). */
static void
reserve(prop_t *p, size_t n) {
    if (p->len + n <= p->cap)
        return;
    size_t cap = p->cap ? p->cap : 4096;
    while (cap < p->len + n)
        cap *= 2;
    p->buf = krealloc(p->buf, cap);
    p->cap = cap;
}

/* "<t><n>\r\n" at d; returns the end. Effects are built for every logged write, so the
 * common small lengths take no division loop (util_ull2str did, ~60 instructions each). */
static char *
fmt_hdr(char *d, char t, size_t n) {
    *d++ = t;
    if (n < 10) {
        *d++ = (char)('0' + n);
    } else if (n < 100) {
        *d++ = (char)('0' + n / 10);
        *d++ = (char)('0' + n % 10);
    } else {
        d += util_ull2str(d, UTIL_LL_STR_MAX, n);
    }
    *d++ = '\r';
    *d++ = '\n';
    return d;
}

static void
put_hdr(prop_t *p, char t, size_t n) {
    reserve(p, UTIL_LL_STR_MAX + 3);
    p->len = (size_t)(fmt_hdr(p->buf + p->len, t, n) - p->buf);
}

/* One bulk string: header, bytes, CRLF, with one capacity check. */
static void
put_bulk(prop_t *p, const char *bytes, size_t n) {
    reserve(p, n + UTIL_LL_STR_MAX + 5);
    char *d = fmt_hdr(p->buf + p->len, '$', n);
    memcpy(d, bytes, n);
    d += n;
    *d++ = '\r';
    *d++ = '\n';
    p->len = (size_t)(d - p->buf);
}

static void
select_db(prop_t *p, int db) {
    if (p->first_db < 0) {
        p->first_db = p->cur_db = db;
        return;
    }
    if (db == p->cur_db)
        return;
    char num[UTIL_LL_STR_MAX];
    int n = util_ll2str(num, sizeof num, db);
    put_hdr(p, '*', 2);
    put_bulk(p, "SELECT", 6);
    put_bulk(p, num, (size_t)n);
    p->cur_db = db;
}

void
prop_add_call(prop_t *p, int db, int argc, const karg_t *argv) {
    if (!p->sink || p->depth == 0)
        return;
    select_db(p, db);
    put_hdr(p, '*', (size_t)argc);
    for (int i = 0; i < argc; i++)
        put_bulk(p, argv[i].p, argv[i].n);
}

void
prop_add_call_raw(prop_t *p, int db, const char *resp, size_t len) {
    if (!p->sink || p->depth == 0)
        return;
    select_db(p, db);
    reserve(p, len);
    memcpy(p->buf + p->len, resp, len);
    p->len += len;
}

void
prop_add(prop_t *p, int db, int argc, const karg_t *argv) {
    p->cmd_added = 1;
    prop_add_call(p, db, argc, argv);
}

int
prop_command_has_effects(prop_t *p) {
    return p->cmd_added;
}

void
prop_no_call(prop_t *p) {
    p->cmd_added = 1;
}

void
prop_command_start(prop_t *p) {
    p->cmd_added = 0;
}

int64_t
prop_end(prop_t *p) {
    ASSERT(p->depth > 0);
    if (--p->depth > 0)
        return 0;
    if (!p->sink || p->len == 0)
        return 0;
    int64_t lsn = p->sink(p->ctx, (uint32_t)p->first_db, p->buf, p->len);
    p->len = 0;
    p->first_db = p->cur_db = -1;
    if (p->cap > 1024 * 1024) { /* a huge MULTI grew the buffer: give it back */
        kfree(p->buf);
        p->buf = NULL;
        p->cap = 0;
    }
    return lsn;
}
