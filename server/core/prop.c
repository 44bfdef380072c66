/* prop.c - collecting effect records (see prop.h). */
#include "prop.h"

#include <string.h>

#include "kassert.h"
#include "kmem.h"
#include "util.h"

static struct {
    prop_sink_fn sink;
    void *ctx;
    int depth;
    char *buf;
    size_t len, cap;
    int first_db;  /* db of the first effect, -1 before any */
    int cur_db;
    int cmd_added; /* effects added by the running command itself */
} P = {.first_db = -1, .cur_db = -1};

void
prop_set_sink(prop_sink_fn fn, void *ctx)
{
    P.sink = fn;
    P.ctx = ctx;
}

int
prop_has_sink(void)
{
    return P.sink != NULL;
}

void
prop_begin(void)
{
    if (P.depth++ == 0) {
        P.len = 0;
        P.first_db = P.cur_db = -1;
    }
}

/* Room for n more bytes (the buffer only grows; prop_end gives a huge one back). */
static void
reserve(size_t n)
{
    if (P.len + n <= P.cap)
        return;
    size_t cap = P.cap ? P.cap : 4096;
    while (cap < P.len + n)
        cap *= 2;
    P.buf = krealloc(P.buf, cap);
    P.cap = cap;
}

/* "<t><n>\r\n" at d; returns the end. Effects are built for every logged write, so the
 * common small lengths take no division loop (util_ull2str did, ~60 instructions each). */
static char *
fmt_hdr(char *d, char t, size_t n)
{
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
put_hdr(char t, size_t n)
{
    reserve(UTIL_LL_STR_MAX + 3);
    P.len = (size_t)(fmt_hdr(P.buf + P.len, t, n) - P.buf);
}

/* One bulk string: header, bytes, CRLF, with one capacity check. */
static void
put_bulk(const char *p, size_t n)
{
    reserve(n + UTIL_LL_STR_MAX + 5);
    char *d = fmt_hdr(P.buf + P.len, '$', n);
    memcpy(d, p, n);
    d += n;
    *d++ = '\r';
    *d++ = '\n';
    P.len = (size_t)(d - P.buf);
}

static void
select_db(int db)
{
    if (P.first_db < 0) {
        P.first_db = P.cur_db = db;
        return;
    }
    if (db == P.cur_db)
        return;
    char num[UTIL_LL_STR_MAX];
    int n = util_ll2str(num, sizeof num, db);
    put_hdr('*', 2);
    put_bulk("SELECT", 6);
    put_bulk(num, (size_t)n);
    P.cur_db = db;
}

void
prop_add_call(int db, int argc, const karg_t *argv)
{
    if (!P.sink || P.depth == 0)
        return;
    select_db(db);
    put_hdr('*', (size_t)argc);
    for (int i = 0; i < argc; i++)
        put_bulk(argv[i].p, argv[i].n);
}

void
prop_add_call_raw(int db, const char *resp, size_t len)
{
    if (!P.sink || P.depth == 0)
        return;
    select_db(db);
    reserve(len);
    memcpy(P.buf + P.len, resp, len);
    P.len += len;
}

void
prop_add(int db, int argc, const karg_t *argv)
{
    P.cmd_added = 1;
    prop_add_call(db, argc, argv);
}

void
prop_add_strs(int db, int argc, const char *const *argv, const size_t *lens)
{
    karg_t a[16];
    ASSERT(argc <= 16);
    for (int i = 0; i < argc; i++) {
        a[i].p = argv[i];
        a[i].n = lens ? lens[i] : strlen(argv[i]);
    }
    prop_add(db, argc, a);
}

int
prop_command_has_effects(void)
{
    return P.cmd_added;
}

void
prop_command_start(void)
{
    P.cmd_added = 0;
}

size_t
prop_pending_bytes(void)
{
    return P.len;
}

int64_t
prop_end(void)
{
    ASSERT(P.depth > 0);
    if (--P.depth > 0)
        return 0;
    if (!P.sink || P.len == 0)
        return 0;
    int64_t lsn = P.sink(P.ctx, (uint32_t)P.first_db, P.buf, P.len);
    P.len = 0;
    P.first_db = P.cur_db = -1;
    if (P.cap > 1024 * 1024) { /* a huge MULTI grew the buffer: give it back */
        kfree(P.buf);
        P.buf = NULL;
        P.cap = 0;
    }
    return lsn;
}
