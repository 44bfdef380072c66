/*
 * test_list_model.c - the list type (types/t_list.c) against a plain array model, and the log
 * effects of the list and blocking commands (block.c) through exec_command with a capturing sink.
 *
 * The model test runs thousands of random pushes, pops, sets, inserts, removals and trims at
 * several list-max-listpack-size values, so both encodings and the conversions in both
 * directions are crossed many times; after every step the length, and every few steps the whole
 * content and the encoding rule, are compared.
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kerr.h"
#include "commands.h"
#include "block.h"
#include "config.h"
#include "exec.h"
#include "kmem.h"
#include "prop.h"
#include "engine.h"
#include "util.h"
#include "t_list.h"

/* ---- a model: an array of owned strings ------------------------------------------------------ */

#define MODEL_MAX 4096

typedef struct model {
    char *v[MODEL_MAX];
    size_t n[MODEL_MAX];
    long len;
} model_t;

static void
m_insert(model_t *m, long at, const char *s, size_t n) {
    cr_assert_lt(m->len, MODEL_MAX);
    memmove(&m->v[at + 1], &m->v[at], sizeof m->v[0] * (size_t)(m->len - at));
    memmove(&m->n[at + 1], &m->n[at], sizeof m->n[0] * (size_t)(m->len - at));
    m->v[at] = malloc(n + 1);
    memcpy(m->v[at], s, n);
    m->n[at] = n;
    m->len++;
}

static void
m_delete(model_t *m, long at) {
    free(m->v[at]);
    memmove(&m->v[at], &m->v[at + 1], sizeof m->v[0] * (size_t)(m->len - at - 1));
    memmove(&m->n[at], &m->n[at + 1], sizeof m->n[0] * (size_t)(m->len - at - 1));
    m->len--;
}

static bool
m_eq(const model_t *m, long i, const char *s, size_t n) {
    return m->n[i] == n && memcmp(m->v[i], s, n) == 0;
}

/* Random values: small ints (stored as integers), short strings, and now and then a big one. */
static size_t
rand_value(char *buf) {
    int kind = rand() % 10;
    if (kind < 4)
        return (size_t)snprintf(buf, 32, "%d", rand() % 20 - 5);
    if (kind < 9)
        return (size_t)snprintf(buf, 32, "v%d", rand() % 30);
    size_t n = 500 + (size_t)(rand() % 5000);
    memset(buf, 'a' + rand() % 26, n);
    return n;
}

static void
check_same(kobj_t *o, const model_t *m, long long fill) {
    cr_assert_eq((long)list_len(o), m->len);
    list_iter_t it;
    list_elem_t e;
    list_iter_init(&it, o, 0, LIST_TAIL);
    for (long i = 0; i < m->len; i++) {
        cr_assert(list_iter_next(&it, &e));
        cr_assert(m_eq(m, i, e.p, e.n), "element %ld differs", i);
    }
    cr_assert_not(list_iter_next(&it, &e));
    list_iter_init(&it, o, -1, LIST_HEAD);
    for (long i = m->len - 1; i >= 0; i--) {
        cr_assert(list_iter_next(&it, &e));
        cr_assert(m_eq(m, i, e.p, e.n));
    }
    /* A packed list never holds more than one node's worth (grow converts before passing). */
    if (obj_encoding(o) == OBJ_ENC_LISTPACK && fill > 0)
        cr_assert_leq(m->len, fill);
}

static void
random_step(kobj_t *o, model_t *m, long long fill, char *buf) {
    int op = rand() % 100;
    size_t n;
    if (op < 35 || m->len == 0) { /* push */
        n = rand_value(buf);
        int where = rand() % 2 ? LIST_HEAD : LIST_TAIL;
        list_try_grow(o, n, 1, fill);
        cr_assert_eq(list_push(o, where, buf, n), 0);
        m_insert(m, where == LIST_HEAD ? 0 : m->len, buf, n);
    } else if (op < 55) { /* pop */
        int where = rand() % 2 ? LIST_HEAD : LIST_TAIL;
        list_popped_t v;
        cr_assert_eq(list_pop(o, where, &v), 0);
        long at = where == LIST_HEAD ? 0 : m->len - 1;
        cr_assert(m_eq(m, at, v.p, v.n));
        kfree(v.p);
        m_delete(m, at);
        list_try_shrink(o, fill);
    } else if (op < 65) { /* set */
        long i = rand() % (m->len + 2) - 1 - (rand() % 2 ? m->len : 0);
        n = rand_value(buf);
        list_try_grow(o, n, 1, fill);
        int rc = list_set(o, i, buf, n);
        long at = i < 0 ? m->len + i : i;
        if (at < 0 || at >= m->len) {
            cr_assert_eq(rc, KERR_NOTFOUND);
        } else {
            cr_assert_eq(rc, 0);
            free(m->v[at]);
            m->v[at] = malloc(n + 1);
            memcpy(m->v[at], buf, n);
            m->n[at] = n;
        }
        list_try_shrink(o, fill);
    } else if (op < 75) { /* insert around a pivot */
        char piv[32];
        size_t pn = (size_t)snprintf(piv, sizeof piv, "%d", rand() % 20 - 5);
        bool after = rand() % 2;
        n = rand_value(buf);
        list_try_grow(o, n, 1, fill);
        int rc = list_insert(o, after, piv, pn, buf, n);
        long at = -1;
        for (long i = 0; i < m->len && at < 0; i++)
            if (m_eq(m, i, piv, pn))
                at = i;
        cr_assert_eq(rc, at >= 0 ? 1 : 0);
        if (at >= 0)
            m_insert(m, after ? at + 1 : at, buf, n);
    } else if (op < 85) { /* remove */
        char val[32];
        size_t vn = (size_t)snprintf(val, sizeof val, "v%d", rand() % 30);
        long count = rand() % 5 - 2;
        uint64_t removed = list_remove(o, count, val, vn);
        uint64_t want = 0, limit = count == 0 ? UINT64_MAX : (uint64_t)labs(count);
        if (count >= 0) {
            for (long i = 0; i < m->len && want < limit;)
                if (m_eq(m, i, val, vn))
                    m_delete(m, i), want++;
                else
                    i++;
        } else {
            for (long i = m->len - 1; i >= 0 && want < limit; i--)
                if (m_eq(m, i, val, vn))
                    m_delete(m, i), want++;
        }
        cr_assert_eq(removed, want);
        list_try_shrink(o, fill);
    } else if (op < 88 && m->len > 2) { /* trim a little from both ends */
        uint64_t l = (uint64_t)(rand() % 3), r = (uint64_t)(rand() % 3);
        if ((long)(l + r) >= m->len)
            return;
        list_trim(o, l, r);
        for (uint64_t i = 0; i < r; i++)
            m_delete(m, m->len - 1);
        for (uint64_t i = 0; i < l; i++)
            m_delete(m, 0);
        list_try_shrink(o, fill);
    } else { /* index */
        long i = rand() % (m->len * 2 + 1) - m->len;
        list_elem_t e;
        bool ok = list_index(o, i, &e);
        long at = i < 0 ? m->len + i : i;
        cr_assert_eq(ok, at >= 0 && at < m->len);
        if (ok)
            cr_assert(m_eq(m, at, e.p, e.n));
    }
}

static void
run_model(long long fill, unsigned seed, int steps) {
    srand(seed);
    static char buf[8192];
    model_t *m = calloc(1, sizeof *m);
    kobj_t *o = list_obj_new("k", 1);
    int saw_lp = 0, saw_ql = 0;
    for (int s = 0; s < steps; s++) {
        random_step(o, m, fill, buf);
        cr_assert_eq((long)list_len(o), m->len);
        if (obj_encoding(o) == OBJ_ENC_LISTPACK)
            saw_lp++;
        else
            saw_ql++;
        if (s % 50 == 0 || s == steps - 1)
            check_same(o, m, fill);
    }
    cr_assert_gt(saw_lp, 0);
    cr_assert_gt(saw_ql, 0, "fill %lld never reached a quicklist", fill);
    obj_free(o);
    while (m->len)
        m_delete(m, 0);
    free(m);
}

static void
type_setup(void) {
    list_type_init(NULL);
}

TestSuite(list_model, .init = type_setup, .timeout = 120);

Test(list_model, random_ops_match_model_with_count_fills) {
    run_model(4, 1, 6000);
    run_model(16, 2, 6000);
    run_model(1, 3, 3000);
}

Test(list_model, random_ops_match_model_with_size_fills) {
    run_model(-1, 4, 6000);
    run_model(-2, 5, 6000);
    run_model(-5, 6, 4000);
}

Test(list_model, grow_and_shrink_thresholds_by_count) {
    kobj_t *o = list_obj_new("k", 1);
    for (int i = 0; i < 8; i++) {
        list_try_grow(o, 1, 1, 8);
        list_push(o, LIST_TAIL, "x", 1);
    }
    cr_assert_eq(obj_encoding(o), OBJ_ENC_LISTPACK);
    list_try_grow(o, 1, 1, 8);
    cr_assert_eq(obj_encoding(o), OBJ_ENC_QUICKLIST); /* 9 > 8 */
    list_push(o, LIST_TAIL, "x", 1);
    list_popped_t v;
    for (int i = 0; i < 4; i++) { /* nodes [8][1]: the tail pops empty the small node first */
        list_pop(o, LIST_TAIL, &v);
        kfree(v.p);
        list_try_shrink(o, 8);
        cr_assert_eq(obj_encoding(o), OBJ_ENC_QUICKLIST, "len %d", (int)list_len(o));
    }
    list_pop(o, LIST_TAIL, &v); /* 4 left in one node: half of 8 */
    kfree(v.p);
    list_try_shrink(o, 8);
    cr_assert_eq(obj_encoding(o), OBJ_ENC_LISTPACK);
    cr_assert_eq(list_len(o), 4);
    obj_free(o);
}

Test(list_model, grow_by_bytes_and_safety_limit) {
    kobj_t *o = list_obj_new("k", 1);
    static char big[9000];
    memset(big, 'b', sizeof big);
    list_try_grow(o, 4000, 1, -1);
    list_push(o, LIST_TAIL, big, 4000);
    cr_assert_eq(obj_encoding(o), OBJ_ENC_LISTPACK);
    list_try_grow(o, 100, 1, -1); /* passes 4 KiB */
    cr_assert_eq(obj_encoding(o), OBJ_ENC_QUICKLIST);
    obj_free(o);
    o = list_obj_new("k", 1);
    list_try_grow(o, sizeof big, 1, 128); /* a count fill still stops at 8 KiB */
    cr_assert_eq(obj_encoding(o), OBJ_ENC_QUICKLIST);
    obj_free(o);
}

static void
collect_cb(void *ctx, const char *p, size_t n, double score) {
    model_t *m = ctx;
    cr_assert_eq(score, 0);
    m_insert(m, m->len, p, n);
}

Test(list_model, type_ops_round_trip_both_encodings) {
    const obj_type_ops_t *ops = obj_ops(OBJ_LIST);
    cr_assert_str_eq(ops->name, "list");
    for (int big = 0; big < 2; big++) {
        kobj_t *o = list_obj_new("k", 1);
        int n = big ? 3000 : 10;
        char buf[32];
        for (int i = 0; i < n; i++) {
            size_t len = (size_t)snprintf(buf, sizeof buf, i % 3 ? "s%d" : "%d", i);
            list_try_grow(o, len, 1, -2);
            list_push(o, LIST_TAIL, buf, len);
        }
        cr_assert_eq(obj_encoding(o), big ? OBJ_ENC_QUICKLIST : OBJ_ENC_LISTPACK);
        void *p = obj_ptr(o);
        int enc = obj_encoding(o);
        cr_assert_eq(ops->count(p, enc), (uint64_t)n);
        cr_assert_gt(ops->mem(p, enc), 0);
        model_t *m = calloc(1, sizeof *m);
        ops->each(p, enc, collect_cb, m);
        cr_assert_eq(m->len, n);
        /* create + add rebuild the same sequence */
        int enc2;
        void *q = ops->create((uint64_t)n, &enc2);
        for (long i = 0; i < m->len; i++)
            cr_assert_eq(ops->add(&q, &enc2, m->v[i], m->n[i], 0), 0);
        cr_assert_eq(enc2, enc);
        kobj_t *o2 = obj_new_ptr(OBJ_LIST, enc2, "k2", 2, q, -1);
        check_same(o2, m, -2);
        /* dup is deep: changing the copy leaves the original */
        kobj_t *o3 = obj_dup_as(o, "k3", 2, -1);
        list_push(o3, LIST_HEAD, "new", 3);
        check_same(o, m, -2);
        cr_assert_eq(list_len(o3), (uint64_t)n + 1);
        obj_free(o);
        obj_free(o2);
        obj_free(o3);
        while (m->len)
            m_delete(m, 0);
        free(m);
    }
}

/* ---- effects in the log, blocking through exec --------------------------------------------------
 */

static engine_t srv;
static client_t *fc; /* fake client: runs the non-blocked commands */
static char rec[65536];
static size_t rec_len;
static int nrec;
static char reply[65536];

static int64_t
capture_sink(void *ctx, uint32_t db, const void *payload, size_t len) {
    (void)ctx;
    (void)db;
    cr_assert_lt(rec_len + len, sizeof rec);
    memcpy(rec + rec_len, payload, len);
    rec_len += len;
    rec[rec_len] = 0;
    return ++nrec;
}

static void
clear_log(void) {
    rec_len = 0;
    rec[0] = 0;
    nrec = 0;
}

static void
effects_setup(void) {
    memset(&srv, 0, sizeof srv);
    prop_init(&srv.prop);
    config_defaults(&srv);
    srv.durable_lsn = UINT64_MAX;
    db_env_init(&srv.dbenv, srv_key_expired_cb, &srv);
    for (int i = 0; i < srv.cfg.databases; i++)
        srv.dbs[i] = db_create(i, &srv.dbenv);
    cmd_table_init(&srv, commands_registry);
    list_type_init(NULL);
    block_init(&srv);
    prop_set_sink(&srv.prop, capture_sink, NULL);
    fc = client_create(&srv, -1);
    clear_log();
}

/* Frees what the keyspace holds, so the sanitizer build reports real leaks only. */
static void
effects_teardown(void) {
    for (int i = 0; i < srv.cfg.databases; i++)
        db_flush(srv.dbs[i]);
}

TestSuite(list_effects, .init = effects_setup, .fini = effects_teardown);

/* A client with a socket (socketpair), so it may block; replies are read from its obuf. */
static client_t *
sock_client(void) {
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    return client_create(&srv, sv[0]);
}

static const char *
run_on(client_t *c, const char *first, ...) {
    karg_t argv[16];
    int argc = 0;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a; a = va_arg(ap, const char *))
        argv[argc++] = (karg_t){a, strlen(a)};
    va_end(ap);
    c->argc = argc;
    c->argv = argv;
    size_t from = c->conn.olen;
    exec_command(c);
    size_t n = c->conn.olen - from;
    if (n)
        memcpy(reply, c->conn.obuf + from, n);
    reply[n] = 0;
    c->argc = 0;
    c->argv = NULL;
    return reply;
}
#define RUN(c, ...) run_on(c, __VA_ARGS__, (const char *)NULL)

static const char *
output_of(client_t *c) {
    if (c->conn.olen)
        memcpy(reply, c->conn.obuf, c->conn.olen);
    reply[c->conn.olen] = 0;
    return reply;
}

Test(list_effects, served_blocking_pops_log_the_non_blocking_form) {
    RUN(fc, "RPUSH", "q", "a", "b", "c", "d", "e");
    clear_log();
    cr_assert_str_eq(RUN(fc, "BLPOP", "x", "q", "0"), "*2\r\n$1\r\nq\r\n$1\r\na\r\n");
    cr_assert_str_eq(rec, "*2\r\n$4\r\nLPOP\r\n$1\r\nq\r\n");
    clear_log();
    RUN(fc, "BRPOP", "q", "0");
    cr_assert_str_eq(rec, "*2\r\n$4\r\nRPOP\r\n$1\r\nq\r\n");
    clear_log();
    cr_assert_str_eq(RUN(fc, "BLMOVE", "q", "d", "LEFT", "RIGHT", "0"), "$1\r\nb\r\n");
    cr_assert_str_eq(rec,
                     "*5\r\n$5\r\nLMOVE\r\n$1\r\nq\r\n$1\r\nd\r\n$4\r\nLEFT\r\n$5\r\nRIGHT\r\n");
    clear_log();
    RUN(fc, "BRPOPLPUSH", "q", "d", "0");
    cr_assert_str_eq(rec, "*3\r\n$9\r\nRPOPLPUSH\r\n$1\r\nq\r\n$1\r\nd\r\n");
    clear_log();
    RUN(fc, "BLMPOP", "0", "1", "d", "LEFT", "COUNT", "9");
    cr_assert_str_eq(rec, "*3\r\n$4\r\nLPOP\r\n$1\r\nd\r\n$1\r\n2\r\n"); /* what was popped */
    clear_log();
    RUN(fc, "LPUSH", "m", "1");
    clear_log();
    RUN(fc, "LMPOP", "1", "m", "RIGHT", "COUNT", "3");
    cr_assert_str_eq(rec, "*3\r\n$4\r\nRPOP\r\n$1\r\nm\r\n$1\r\n1\r\n");
}

Test(list_effects, a_fake_client_never_blocks_and_logs_nothing) {
    cr_assert_str_eq(RUN(fc, "BLPOP", "q", "0"), "*-1\r\n");
    cr_assert_str_eq(RUN(fc, "BLMOVE", "q", "d", "LEFT", "LEFT", "0"), "$-1\r\n");
    cr_assert_eq(nrec, 0);
    cr_assert_eq(block_clients_count(&srv), 0);
}

Test(list_effects, waiter_is_served_after_the_push_as_its_own_record) {
    client_t *w = sock_client();
    cr_assert_str_eq(RUN(w, "BLPOP", "q", "0"), "");
    cr_assert(w->flags & CLIENT_BLOCKED);
    cr_assert_eq(block_clients_count(&srv), 1);
    cr_assert_eq(nrec, 0);
    cr_assert_str_eq(RUN(fc, "RPUSH", "q", "x", "y"), ":2\r\n");
    cr_assert_not(w->flags & CLIENT_BLOCKED);
    cr_assert_str_eq(output_of(w), "*2\r\n$1\r\nq\r\n$1\r\nx\r\n");
    cr_assert_eq(nrec, 2); /* the push, then the served pop */
    cr_assert_str_eq(rec, "*4\r\n$5\r\nRPUSH\r\n$1\r\nq\r\n$1\r\nx\r\n$1\r\ny\r\n"
                          "*2\r\n$4\r\nLPOP\r\n$1\r\nq\r\n");
    cr_assert_str_eq(RUN(fc, "LRANGE", "q", "0", "-1"), "*1\r\n$1\r\ny\r\n");
    cr_assert_eq(block_clients_count(&srv), 0);
    cr_assert_eq(block_keys_count(&srv), 0);
}

Test(list_effects, deadline_expires_in_before_sleep_without_effects) {
    client_t *w = sock_client();
    RUN(w, "BRPOPLPUSH", "q", "d", "0.02");
    cr_assert(w->flags & CLIENT_BLOCKED);
    block_before_sleep(&srv);
    cr_assert(w->flags & CLIENT_BLOCKED); /* not yet */
    usleep(30000);
    block_before_sleep(&srv);
    cr_assert_not(w->flags & CLIENT_BLOCKED);
    cr_assert_str_eq(output_of(w), "$-1\r\n");
    cr_assert_eq(nrec, 0);
    cr_assert_eq(block_keys_count(&srv), 0);
}

Test(list_effects, cleanup_of_a_blocked_client_leaves_no_waiter) {
    client_t *w = sock_client();
    RUN(w, "BLPOP", "a", "b", "0");
    cr_assert_eq(block_keys_count(&srv), 2);
    client_reset(w);
    cr_assert_eq(block_clients_count(&srv), 0);
    cr_assert_eq(block_keys_count(&srv), 0);
    RUN(fc, "RPUSH", "a", "kept");
    cr_assert_str_eq(RUN(fc, "LLEN", "a"), ":1\r\n");
}

Test(list_effects, unblock_client_with_error_or_timeout_reply) {
    client_t *w = sock_client();
    RUN(w, "BLPOP", "q", "0");
    cr_assert(block_unblock_client(w, true));
    cr_assert_str_eq(output_of(w), "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n");
    cr_assert_not(block_unblock_client(w, false));
    client_t *w2 = sock_client();
    RUN(w2, "BLMPOP", "0", "1", "q", "LEFT");
    cr_assert(block_unblock_client(w2, false));
    cr_assert_str_eq(output_of(w2), "*-1\r\n");
}
