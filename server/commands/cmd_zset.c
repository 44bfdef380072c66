/*
 * cmd_zset.c - sorted-set commands on one key: ZADD, ZINCRBY, ZREM, the counts and scores,
 * ranks, the ZRANGE family (and ZRANGESTORE), the ZREMRANGEBY* deletes, ZSCAN; plus the helpers
 * cmd_zset2.c shares and the group's command table.
 *
 * Replies, errors and keyspace events follow Valkey 8's t_zset.c, whose order of checks is part
 * of the contract (a syntax error is reported before WRONGTYPE, a bad range before a missing key).
 * Everything here is deterministic given the data, so each write is logged as called.
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kerr.h"
#include "cmd_zset_int.h"
#include "exec.h"
#include "kmem.h"
#include "engine.h"
#include "util.h"
#include "reply.h"

#define ZSCAN_COUNT_MAX (1L << 20) /* bounds one ZSCAN step's work, like SCAN's */

/* ---- shared helpers (cmd_zset_int.h) ---- */

void
zvec_push(zvec_t *z, const void *m, size_t n, double score) {
    if (z->n == z->cap) {
        z->cap = z->cap ? z->cap * 2 : 16;
        z->v = krealloc(z->v, z->cap * sizeof *z->v);
    }
    uint8_t *copy = kmalloc(n ? n : 1);
    memcpy(copy, m, n);
    z->v[z->n++] = (zset_buf_elem_t){copy, n, score};
}

void
zvec_free(zvec_t *z) {
    for (size_t i = 0; i < z->n; i++)
        kfree((void *)z->v[i].m);
    kfree(z->v);
    memset(z, 0, sizeof *z);
}

static int
buf_elem_cmp(const void *a, const void *b) {
    const zset_buf_elem_t *x = a, *y = b;
    return zset_elem_cmp(x->score, x->m, x->n, y->score, y->m, y->n);
}

void
zvec_sort(zvec_t *z) {
    if (z->n > 1)
        qsort(z->v, z->n, sizeof *z->v, buf_elem_cmp);
}

static zset_limits_t
zcmd_limits(const client_t *c) {
    const engine_config_t *cfg = &c->eng->cfg;
    return (zset_limits_t){(size_t)cfg->zset_max_listpack_entries,
                           (size_t)cfg->zset_max_listpack_value};
}

kobj_t *
zcmd_lookup_write(client_t *c, const karg_t *key, bool *err) {
    *err = false;
    kobj_t *o = db_lookup(c->db, key->p, key->n, 0);
    if (o && obj_type(o) != OBJ_ZSET) {
        reply_err(c, ERR_WRONGTYPE);
        *err = true;
        return NULL;
    }
    return o;
}

void
zcmd_changed(client_t *c, const karg_t *key, const char *event, bool delete_now) {
    srv_key_modified(c->eng, c->db, key->p, key->n);
    srv_notify(c->eng, NOTIFY_ZSET, event, key->p, key->n, c->db_id);
    if (delete_now) {
        db_delete(c->db, key->p, key->n);
        srv_notify(c->eng, NOTIFY_GENERIC, "del", key->p, key->n, c->db_id);
    }
}

void
zcmd_reply_elem(client_t *c, const uint8_t *m, size_t n, double score, bool withscores) {
    if (withscores && c->resp >= 3)
        reply_array(c, 2);
    reply_bulk(c, (const char *)m, n);
    if (withscores)
        reply_double(c, score);
}

void
zcmd_reply_elems(client_t *c, const zset_buf_elem_t *v, size_t n, bool withscores, bool reverse) {
    reply_array(c, (long long)((withscores && c->resp < 3) ? 2 * n : n));
    for (size_t i = 0; i < n; i++) {
        const zset_buf_elem_t *e = &v[reverse ? n - 1 - i : i];
        zcmd_reply_elem(c, e->m, e->n, e->score, withscores);
    }
}

void
zcmd_store(client_t *c, const karg_t *dst, zvec_t *res, const char *event) {
    zvec_sort(res);
    db_lookup(c->db, dst->p, dst->n, DB_LOOKUP_NOTOUCH); /* an expired dst goes first (DEL) */
    if (res->n == 0) {
        reply_int(c, 0);
        if (db_delete(c->db, dst->p, dst->n)) {
            srv_key_modified(c->eng, c->db, dst->p, dst->n);
            srv_notify(c->eng, NOTIFY_GENERIC, "del", dst->p, dst->n, c->db_id);
            srv_dirty(c->eng, 1);
        }
        return;
    }
    zset_limits_t lim = zcmd_limits(c);
    kobj_t *o = zset_build_sorted(dst->p, dst->n, res->v, res->n, &lim);
    db_set(c->db, o, false);
    reply_int(c, (long long)res->n);
    srv_key_modified(c->eng, c->db, dst->p, dst->n);
    srv_notify(c->eng, NOTIFY_ZSET, event, dst->p, dst->n, c->db_id);
    srv_dirty(c->eng, 1);
}

static bool
parse_long(client_t *c, const karg_t *a, long long *v) {
    if (!util_parse_ll(a->p, a->n, v)) {
        reply_err(c, ERR_NOT_INT);
        return false;
    }
    return true;
}

/* One end of a score range exactly as Valkey's zslParseRange reads it: an optional '(' then
 * whatever strtod takes whole, NaN refused. So "(" alone is an exclusive 0 and leading spaces
 * pass, quirks clients may rely on. */
static bool
parse_score_bound(const karg_t *a, double *v, int *exclusive) {
    const char *p = a->p;
    size_t n = a->n;
    *exclusive = n > 0 && p[0] == '(';
    if (*exclusive)
        p++, n--;
    if (memchr(p, '\0', n))
        return false;
    char small[128];
    char *buf = n < sizeof small ? small : kmalloc(n + 1);
    memcpy(buf, p, n);
    buf[n] = '\0';
    char *end;
    *v = strtod(buf, &end);
    bool ok = *end == '\0' && !isnan(*v);
    if (buf != small)
        kfree(buf);
    return ok;
}

static bool
parse_score_range(const karg_t *min, const karg_t *max, zsl_range_t *r) {
    return parse_score_bound(min, &r->min, &r->minex) && parse_score_bound(max, &r->max, &r->maxex);
}

static bool
parse_lex_range(const karg_t *min, const karg_t *max, zsl_lex_range_t *r) {
    return zsl_parse_lex_bound(min->p, min->n, &r->min) == 0 &&
           zsl_parse_lex_bound(max->p, max->n, &r->max) == 0;
}

static const char *const ERR_SCORE_RANGE = "ERR min or max is not a float";
static const char *const ERR_LEX_RANGE = "ERR min or max not valid string range item";
static const char *const ERR_NAN = "ERR resulting score is not a number (NaN)";

/* ---- ZADD, ZINCRBY ---- */

/* Parses the option words; returns the index of the first score, or -1 after replying. */
static int
zadd_options(client_t *c, int *in, bool *ch) {
    int i = 2;
    for (; i < c->argc; i++) {
        const karg_t *a = &c->argv[i];
        if (a->n != 2 && a->n != 4)
            break; /* no option has another length: most scores stop here at one compare */
        if (cmd_arg_is(a, "nx"))
            *in |= ZADD_IN_NX;
        else if (cmd_arg_is(a, "xx"))
            *in |= ZADD_IN_XX;
        else if (cmd_arg_is(a, "gt"))
            *in |= ZADD_IN_GT;
        else if (cmd_arg_is(a, "lt"))
            *in |= ZADD_IN_LT;
        else if (cmd_arg_is(a, "ch"))
            *ch = true;
        else if (cmd_arg_is(a, "incr"))
            *in |= ZADD_IN_INCR;
        else
            break;
    }
    int elements = c->argc - i;
    if (elements == 0 || elements % 2) {
        reply_err(c, ERR_SYNTAX);
        return -1;
    }
    bool nx = *in & ZADD_IN_NX, xx = *in & ZADD_IN_XX, gt = *in & ZADD_IN_GT, lt = *in & ZADD_IN_LT;
    if (nx && xx) {
        reply_err(c, "ERR XX and NX options at the same time are not compatible");
        return -1;
    }
    if ((gt && nx) || (lt && nx) || (gt && lt)) {
        reply_err(c, "ERR GT, LT, and/or NX options at the same time are not compatible");
        return -1;
    }
    if ((*in & ZADD_IN_INCR) && elements > 2) {
        reply_err(c, "ERR INCR option supports a single increment-element pair");
        return -1;
    }
    return i;
}

/* Creates the key when missing (unless XX); NULL after replying, or when there is nothing to do
 * (*skip). */
static kobj_t *
zadd_target(client_t *c, int in, size_t elements, size_t maxlen, bool *skip) {
    bool err;
    *skip = false;
    kobj_t *o = zcmd_lookup_write(c, &c->argv[1], &err);
    if (err)
        return NULL;
    zset_limits_t lim = zcmd_limits(c);
    if (o) {
        zset_maybe_grow(o, elements, maxlen, &lim);
        return o;
    }
    if (in & ZADD_IN_XX) {
        *skip = true;
        return NULL;
    }
    o = zset_new_obj(c->argv[1].p, c->argv[1].n, elements, maxlen, &lim);
    db_add(c->db, o);
    return o;
}

static void
zadd_generic(client_t *c, int in) {
    bool ch = false;
    int first = zadd_options(c, &in, &ch);
    if (first < 0)
        return;
    size_t elements = (size_t)(c->argc - first) / 2, maxlen = 0;
    /* Most calls add a few members: their scores stay on the stack (no allocation per call). */
    double small[16];
    double *scores = elements <= 16 ? small : kmalloc(elements * sizeof *scores);
    for (size_t j = 0; j < elements; j++) {
        const karg_t *s = &c->argv[first + 2 * j], *m = s + 1;
        if (!util_parse_double(s->p, s->n, &scores[j])) {
            reply_err(c, ERR_NOT_FLOAT);
            if (scores != small)
                kfree(scores);
            return;
        }
        maxlen = m->n > maxlen ? m->n : maxlen;
    }
    bool skip;
    long long added = 0, updated = 0, processed = 0;
    double score = 0;
    kobj_t *o = zadd_target(c, in, elements, maxlen, &skip);
    if (!o && !skip) {
        if (scores != small)
            kfree(scores);
        return;
    }
    zset_limits_t lim = zcmd_limits(c);
    for (size_t j = 0; o && j < elements; j++) {
        const karg_t *m = &c->argv[first + 2 * j + 1];
        int out;
        double ns = 0;
        if (zset_add(o, &lim, scores[j], m->p, m->n, in, &out, &ns) < 0) {
            reply_err(c, ERR_NAN);
            goto done;
        }
        added += (out & ZADD_OUT_ADDED) != 0;
        updated += (out & ZADD_OUT_UPDATED) != 0;
        if (!(out & ZADD_OUT_NOP)) {
            processed++;
            score = ns;
        }
    }
    if (!(in & ZADD_IN_INCR))
        reply_int(c, ch ? added + updated : added);
    else if (processed)
        reply_double(c, score);
    else
        reply_null(c);
done:
    if (scores != small)
        kfree(scores);
    if (added || updated) {
        zcmd_changed(c, &c->argv[1], (in & ZADD_IN_INCR) ? "zincr" : "zadd", false);
    }
    if (o && zset_len(o) == 0)
        db_delete(c->db, c->argv[1].p, c->argv[1].n); /* never left empty (cannot happen) */
    srv_dirty(c->eng, (uint64_t)(added + updated));
}

static void
cmd_zadd(client_t *c) {
    zadd_generic(c, 0);
}

void
zcmd_zadd(client_t *c) {
    zadd_generic(c, 0);
}

/* ZINCRBY key increment member is ZADD key INCR increment member. */
static void
cmd_zincrby(client_t *c) {
    zadd_generic(c, ZADD_IN_INCR);
}

/* ---- ZREM, ZCARD, ZSCORE, ZMSCORE, ZCOUNT, ZLEXCOUNT, ZRANK ---- */

static void
cmd_zrem(client_t *c) {
    bool err;
    kobj_t *o = zcmd_lookup_write(c, &c->argv[1], &err);
    if (err)
        return;
    if (!o) {
        reply_int(c, 0);
        return;
    }
    long long deleted = 0;
    bool removed = false;
    for (int j = 2; j < c->argc; j++) {
        deleted += zset_del(o, c->argv[j].p, c->argv[j].n);
        if (zset_len(o) == 0) {
            removed = true;
            break;
        }
    }
    if (deleted) {
        zcmd_changed(c, &c->argv[1], "zrem", removed);
        srv_dirty(c->eng, (uint64_t)deleted);
    }
    reply_int(c, deleted);
}

static void
cmd_zcard(client_t *c) {
    bool err;
    kobj_t *o = cmd_lookup_read_type(c, &c->argv[1], OBJ_ZSET, &err);
    if (!err)
        reply_int(c, o ? (long long)zset_len(o) : 0);
}

static void
cmd_zscore(client_t *c) {
    bool err;
    kobj_t *o = cmd_lookup_read_type(c, &c->argv[1], OBJ_ZSET, &err);
    if (err)
        return;
    double score;
    if (o && zset_score(o, c->argv[2].p, c->argv[2].n, &score) == 0)
        reply_double(c, score);
    else
        reply_null(c);
}

static void
cmd_zmscore(client_t *c) {
    bool err;
    kobj_t *o = cmd_lookup_read_type(c, &c->argv[1], OBJ_ZSET, &err);
    if (err)
        return;
    reply_array(c, c->argc - 2);
    for (int j = 2; j < c->argc; j++) {
        double score;
        if (o && zset_score(o, c->argv[j].p, c->argv[j].n, &score) == 0)
            reply_double(c, score);
        else
            reply_null(c);
    }
}

static void
cmd_zcount(client_t *c) {
    zsl_range_t r;
    if (!parse_score_range(&c->argv[2], &c->argv[3], &r)) {
        reply_err(c, ERR_SCORE_RANGE);
        return;
    }
    bool err;
    kobj_t *o = cmd_lookup_read_type(c, &c->argv[1], OBJ_ZSET, &err);
    if (!err)
        reply_int(c, o ? (long long)zset_count_score(o, &r) : 0);
}

static void
cmd_zlexcount(client_t *c) {
    zsl_lex_range_t r;
    if (!parse_lex_range(&c->argv[2], &c->argv[3], &r)) {
        reply_err(c, ERR_LEX_RANGE);
        return;
    }
    bool err;
    kobj_t *o = cmd_lookup_read_type(c, &c->argv[1], OBJ_ZSET, &err);
    if (!err)
        reply_int(c, o ? (long long)zset_count_lex(o, &r) : 0);
}

static void
zrank_generic(client_t *c, bool rev) {
    if (c->argc > 4) {
        reply_err_arity(c, rev ? "zrevrank" : "zrank");
        return;
    }
    bool withscore = false;
    if (c->argc == 4) {
        if (!cmd_arg_is(&c->argv[3], "withscore")) {
            reply_err(c, ERR_SYNTAX);
            return;
        }
        withscore = true;
    }
    bool err;
    kobj_t *o = cmd_lookup_read_type(c, &c->argv[1], OBJ_ZSET, &err);
    if (err)
        return;
    uint64_t rank;
    double score;
    if (!o || zset_rank(o, c->argv[2].p, c->argv[2].n, rev, &rank, &score) < 0) {
        if (withscore)
            reply_null_array(c);
        else
            reply_null(c);
        return;
    }
    if (withscore)
        reply_array(c, 2);
    reply_int(c, (long long)rank);
    if (withscore)
        reply_double(c, score);
}

static void
cmd_zrank(client_t *c) {
    zrank_generic(c, false);
}

static void
cmd_zrevrank(client_t *c) {
    zrank_generic(c, true);
}

/* ---- the ZRANGE family ---- */

enum { ZR_AUTO, ZR_RANK, ZR_SCORE, ZR_LEX };
enum { ZR_DIR_AUTO, ZR_DIR_FWD, ZR_DIR_REV };

typedef struct zrange_args {
    int type, dir;
    bool withscores, has_limit;
    long long offset, limit; /* LIMIT; limit < 0 means all */
    long long start, end;    /* rank ranges */
    zsl_range_t score;
    zsl_lex_range_t lex;
} zrange_args_t;

/* Where the elements go: the reply (an array whose length is set at the end) or a vector. */
typedef struct zrange_out {
    client_t *c;
    bool store, withscores;
    size_t spot;
    long long count;
    zvec_t res;
} zrange_out_t;

static void
out_emit(zrange_out_t *out, const zset_elem_t *e) {
    if (out->store)
        zvec_push(&out->res, e->m, e->n, e->score);
    else
        zcmd_reply_elem(out->c, e->m, e->n, e->score, out->withscores);
    out->count++;
}

/* Step 1 of Valkey's zrangeGenericCommand: options after key min max; false after replying. */
static bool
zrange_options(client_t *c, int from, bool store, zrange_args_t *a) {
    a->limit = -1;
    for (int j = from; j < c->argc; j++) {
        int left = c->argc - j - 1;
        const karg_t *w = &c->argv[j];
        if (!store && cmd_arg_is(w, "withscores")) {
            a->withscores = true;
        } else if (cmd_arg_is(w, "limit") && left >= 2) {
            if (!parse_long(c, &c->argv[j + 1], &a->offset) ||
                !parse_long(c, &c->argv[j + 2], &a->limit))
                return false;
            a->has_limit = true;
            j += 2;
        } else if (a->dir == ZR_DIR_AUTO && cmd_arg_is(w, "rev")) {
            a->dir = ZR_DIR_REV;
        } else if (a->type == ZR_AUTO && cmd_arg_is(w, "bylex")) {
            a->type = ZR_LEX;
        } else if (a->type == ZR_AUTO && cmd_arg_is(w, "byscore")) {
            a->type = ZR_SCORE;
        } else {
            reply_err(c, ERR_SYNTAX);
            return false;
        }
    }
    if (a->dir == ZR_DIR_AUTO)
        a->dir = ZR_DIR_FWD;
    if (a->type == ZR_AUTO)
        a->type = ZR_RANK;
    if (a->has_limit && a->type == ZR_RANK) {
        reply_err(c, "ERR syntax error, LIMIT is only supported in combination with either "
                     "BYSCORE or BYLEX");
        return false;
    }
    if (a->withscores && a->type == ZR_LEX) {
        reply_err(c, "ERR syntax error, WITHSCORES not supported in combination with BYLEX");
        return false;
    }
    return true;
}

/* Step 2: the range itself; for REV score and lex ranges the arguments come as max, min. */
static bool
zrange_parse_range(client_t *c, int key_idx, zrange_args_t *a) {
    const karg_t *min = &c->argv[key_idx + 1], *max = &c->argv[key_idx + 2];
    if (a->dir == ZR_DIR_REV && a->type != ZR_RANK) {
        const karg_t *t = min;
        min = max;
        max = t;
    }
    switch (a->type) {
    case ZR_RANK: return parse_long(c, min, &a->start) && parse_long(c, max, &a->end);
    case ZR_SCORE:
        if (parse_score_range(min, max, &a->score))
            return true;
        reply_err(c, ERR_SCORE_RANGE);
        return false;
    default:
        if (parse_lex_range(min, max, &a->lex))
            return true;
        reply_err(c, ERR_LEX_RANGE);
        return false;
    }
}

static void
zrange_by_rank(zrange_out_t *out, kobj_t *o, const zrange_args_t *a) {
    long long len = (long long)zset_len(o), start = a->start, end = a->end;
    if (start < 0)
        start += len;
    if (end < 0)
        end += len;
    if (start < 0)
        start = 0;
    if (start > end || start >= len)
        return;
    if (end >= len)
        end = len - 1;
    zset_iter_t it;
    zset_elem_t e;
    zset_iter_rank(&it, o, (uint64_t)start, a->dir == ZR_DIR_REV);
    for (long long n = end - start + 1; n > 0 && zset_iter_next(&it, &e); n--)
        out_emit(out, &e);
}

/* BYSCORE and BYLEX: skip `offset` elements of the range, then emit up to `limit` (negative:
 * all). A negative offset gives nothing, as in Valkey. */
static void
zrange_by_range(zrange_out_t *out, kobj_t *o, const zrange_args_t *a) {
    bool rev = a->dir == ZR_DIR_REV;
    long long offset = a->offset, limit = a->limit;
    if (offset < 0 || (offset > 0 && (uint64_t)offset >= zset_len(o)))
        return;
    zset_iter_t it;
    zset_elem_t e;
    if (a->type == ZR_SCORE)
        zset_iter_score(&it, o, &a->score, rev);
    else
        zset_iter_lex(&it, o, &a->lex, rev);
    while (limit != 0 && zset_iter_next(&it, &e)) {
        bool in = a->type == ZR_SCORE ? zsl_score_in_range(e.score, &a->score)
                                      : zsl_member_in_lex_range(e.m, e.n, &a->lex);
        if (!in)
            break;
        if (offset > 0) {
            offset--;
            continue;
        }
        out_emit(out, &e);
        if (limit > 0)
            limit--;
    }
}

/* key_idx: the source key's index (1, or 2 for ZRANGESTORE whose argv[1] is the destination). */
static void
zrange_generic(client_t *c, int key_idx, bool store, int type, int dir) {
    zrange_args_t a = {.type = type, .dir = dir};
    if (!zrange_options(c, key_idx + 3, store, &a) || !zrange_parse_range(c, key_idx, &a))
        return;
    bool err;
    kobj_t *o = cmd_lookup_read_type(c, &c->argv[key_idx], OBJ_ZSET, &err);
    if (err)
        return;
    zrange_out_t out = {.c = c, .store = store, .withscores = a.withscores};
    if (!o && !store) {
        reply_empty_array(c);
        return;
    }
    if (!store)
        out.spot = reply_defer(c);
    if (o && a.type == ZR_RANK)
        zrange_by_rank(&out, o, &a);
    else if (o)
        zrange_by_range(&out, o, &a);
    if (store) {
        zcmd_store(c, &c->argv[1], &out.res, "zrangestore");
        zvec_free(&out.res);
    } else {
        long long n = (a.withscores && c->resp < 3) ? 2 * out.count : out.count;
        reply_set_deferred_array(c, out.spot, n);
    }
}

static void
cmd_zrange(client_t *c) {
    zrange_generic(c, 1, false, ZR_AUTO, ZR_DIR_AUTO);
}

static void
cmd_zrangestore(client_t *c) {
    zrange_generic(c, 2, true, ZR_AUTO, ZR_DIR_AUTO);
}

static void
cmd_zrevrange(client_t *c) {
    zrange_generic(c, 1, false, ZR_RANK, ZR_DIR_REV);
}

static void
cmd_zrangebyscore(client_t *c) {
    zrange_generic(c, 1, false, ZR_SCORE, ZR_DIR_FWD);
}

static void
cmd_zrevrangebyscore(client_t *c) {
    zrange_generic(c, 1, false, ZR_SCORE, ZR_DIR_REV);
}

static void
cmd_zrangebylex(client_t *c) {
    zrange_generic(c, 1, false, ZR_LEX, ZR_DIR_FWD);
}

static void
cmd_zrevrangebylex(client_t *c) {
    zrange_generic(c, 1, false, ZR_LEX, ZR_DIR_REV);
}

/* ---- ZREMRANGEBYRANK / BYSCORE / BYLEX ---- */

static void
zremrange_generic(client_t *c, int type) {
    long long start = 0, end = 0;
    zsl_range_t r;
    zsl_lex_range_t lex;
    if (type == ZR_RANK) {
        if (!parse_long(c, &c->argv[2], &start) || !parse_long(c, &c->argv[3], &end))
            return;
    } else if (type == ZR_SCORE && !parse_score_range(&c->argv[2], &c->argv[3], &r)) {
        reply_err(c, ERR_SCORE_RANGE);
        return;
    } else if (type == ZR_LEX && !parse_lex_range(&c->argv[2], &c->argv[3], &lex)) {
        reply_err(c, ERR_LEX_RANGE);
        return;
    }
    bool err;
    kobj_t *o = zcmd_lookup_write(c, &c->argv[1], &err);
    if (err)
        return;
    if (!o) {
        reply_int(c, 0);
        return;
    }
    uint64_t deleted = 0;
    if (type == ZR_RANK) {
        long long len = (long long)zset_len(o);
        if (start < 0)
            start += len;
        if (end < 0)
            end += len;
        if (start < 0)
            start = 0;
        if (start > end || start >= len) {
            reply_int(c, 0);
            return;
        }
        if (end >= len)
            end = len - 1;
        deleted = zset_del_rank(o, (uint64_t)start, (uint64_t)end);
    } else if (type == ZR_SCORE) {
        deleted = zset_del_score(o, &r);
    } else {
        deleted = zset_del_lex(o, &lex);
    }
    if (deleted) {
        static const char *const events[] = {"", "zremrangebyrank", "zremrangebyscore",
                                             "zremrangebylex"};
        zcmd_changed(c, &c->argv[1], events[type], zset_len(o) == 0);
        srv_dirty(c->eng, deleted);
    }
    reply_int(c, (long long)deleted);
}

static void
cmd_zremrangebyrank(client_t *c) {
    zremrange_generic(c, ZR_RANK);
}

static void
cmd_zremrangebyscore(client_t *c) {
    zremrange_generic(c, ZR_SCORE);
}

static void
cmd_zremrangebylex(client_t *c) {
    zremrange_generic(c, ZR_LEX);
}

/* ---- ZSCAN ---- */

typedef struct zscan_state {
    const karg_t *pattern; /* NULL: every member */
    zvec_t found;
} zscan_state_t;

static void
zscan_cb(void *ctx, const uint8_t *m, size_t n, double score) {
    zscan_state_t *s = ctx;
    if (s->pattern && !util_glob_match(s->pattern->p, s->pattern->n, (const char *)m, n, false))
        return;
    zvec_push(&s->found, m, n, score);
}

static void
cmd_zscan(client_t *c) {
    unsigned long long cursor;
    if (!cmd_parse_cursor(&c->argv[2], &cursor)) {
        reply_err(c, "ERR invalid cursor");
        return;
    }
    bool err, noscores = false;
    kobj_t *o = cmd_lookup_read_type(c, &c->argv[1], OBJ_ZSET, &err);
    if (err)
        return;
    zscan_state_t s = {0};
    long long count = 10;
    cmd_scan_opts_t opt;
    if (o) { /* a missing key answers an empty scan whatever the options, as Valkey */
        if (!cmd_parse_scan_options(c, 3, CMD_SCAN_NOSCORES, &opt))
            return;
        s.pattern = opt.match;
        count = opt.count;
        noscores = opt.no_values;
    }
    if (o && obj_encoding(o) == OBJ_ENC_LISTPACK) {
        zset_iter_t it;
        zset_elem_t e;
        zset_iter_rank(&it, o, 0, false);
        while (zset_iter_next(&it, &e))
            zscan_cb(&s, e.m, e.n, e.score);
        cursor = 0;
    } else if (o) {
        count = count > ZSCAN_COUNT_MAX ? ZSCAN_COUNT_MAX : count;
        long long iterations = count * 10;
        do {
            cursor = zset_scan(o, cursor, zscan_cb, &s);
        } while (cursor && iterations-- && s.found.n < (size_t)count);
    } else {
        cursor = 0;
    }
    char num[24];
    reply_array(c, 2);
    reply_bulk(c, num, (size_t)util_ull2str(num, sizeof num, cursor));
    reply_array(c, (long long)(noscores ? s.found.n : 2 * s.found.n));
    for (size_t i = 0; i < s.found.n; i++) {
        reply_bulk(c, (const char *)s.found.v[i].m, s.found.v[i].n);
        if (!noscores) {
            char buf[UTIL_DBL_STR_MAX];
            reply_bulk(c, buf, (size_t)util_d2str(buf, sizeof buf, s.found.v[i].score));
        }
    }
    zvec_free(&s.found);
}

/* clang-format off */
cmd_def_t cmd_table_zset[] = {
    {"zadd", cmd_zadd, -4, CMD_WRITE | CMD_DENYOOM | CMD_FAST, 1, 1, 1, "sorted_set", "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.", "1.2.0", "O(log(N)) for each item added, where N is the number of elements in the sorted set.", "write sortedset fast"},
    {"zincrby", cmd_zincrby, 4, CMD_WRITE | CMD_DENYOOM | CMD_FAST, 1, 1, 1, "sorted_set", "Increments the score of a member in a sorted set.", "1.2.0", "O(log(N)) where N is the number of elements in the sorted set.", "write sortedset fast"},
    {"zrem", cmd_zrem, -3, CMD_WRITE | CMD_FAST, 1, 1, 1, "sorted_set", "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.", "1.2.0", "O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed.", "write sortedset fast"},
    {"zcard", cmd_zcard, 2, CMD_READONLY | CMD_FAST, 1, 1, 1, "sorted_set", "Returns the number of members in a sorted set.", "1.2.0", "O(1)", "read sortedset fast"},
    {"zcount", cmd_zcount, 4, CMD_READONLY | CMD_FAST, 1, 1, 1, "sorted_set", "Returns the count of members in a sorted set that have scores within a range.", "2.0.0", "O(log(N)) with N being the number of elements in the sorted set.", "read sortedset fast"},
    {"zlexcount", cmd_zlexcount, 4, CMD_READONLY | CMD_FAST, 1, 1, 1, "sorted_set", "Returns the number of members in a sorted set within a lexicographical range.", "2.8.9", "O(log(N)) with N being the number of elements in the sorted set.", "read sortedset fast"},
    {"zscore", cmd_zscore, 3, CMD_READONLY | CMD_FAST, 1, 1, 1, "sorted_set", "Returns the score of a member in a sorted set.", "1.2.0", "O(1)", "read sortedset fast"},
    {"zmscore", cmd_zmscore, -3, CMD_READONLY | CMD_FAST, 1, 1, 1, "sorted_set", "Returns the score of one or more members in a sorted set.", "6.2.0", "O(N) where N is the number of members being requested.", "read sortedset fast"},
    {"zrank", cmd_zrank, -3, CMD_READONLY | CMD_FAST, 1, 1, 1, "sorted_set", "Returns the index of a member in a sorted set ordered by ascending scores.", "2.0.0", "O(log(N))", "read sortedset fast"},
    {"zrevrank", cmd_zrevrank, -3, CMD_READONLY | CMD_FAST, 1, 1, 1, "sorted_set", "Returns the index of a member in a sorted set ordered by descending scores.", "2.0.0", "O(log(N))", "read sortedset fast"},
    {"zrange", cmd_zrange, -4, CMD_READONLY, 1, 1, 1, "sorted_set", "Returns members in a sorted set within a range of indexes.", "1.2.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.", "read sortedset slow"},
    {"zrangestore", cmd_zrangestore, -5, CMD_WRITE | CMD_DENYOOM, 1, 2, 1, "sorted_set", "Stores a range of members from sorted set in a key.", "6.2.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key.", "write sortedset slow"},
    {"zrangebyscore", cmd_zrangebyscore, -4, CMD_READONLY, 1, 1, 1, "sorted_set", "Returns members in a sorted set within a range of scores.", "1.0.5", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).", "read sortedset slow"},
    {"zrevrangebyscore", cmd_zrevrangebyscore, -4, CMD_READONLY, 1, 1, 1, "sorted_set", "Returns members in a sorted set within a range of scores in reverse order.", "2.2.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).", "read sortedset slow"},
    {"zrangebylex", cmd_zrangebylex, -4, CMD_READONLY, 1, 1, 1, "sorted_set", "Returns members in a sorted set within a lexicographical range.", "2.8.9", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).", "read sortedset slow"},
    {"zrevrangebylex", cmd_zrevrangebylex, -4, CMD_READONLY, 1, 1, 1, "sorted_set", "Returns members in a sorted set within a lexicographical range in reverse order.", "2.8.9", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).", "read sortedset slow"},
    {"zrevrange", cmd_zrevrange, -4, CMD_READONLY, 1, 1, 1, "sorted_set", "Returns members in a sorted set within a range of indexes in reverse order.", "1.2.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.", "read sortedset slow"},
    {"zremrangebyrank", cmd_zremrangebyrank, 4, CMD_WRITE, 1, 1, 1, "sorted_set", "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.", "2.0.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.", "write sortedset slow"},
    {"zremrangebyscore", cmd_zremrangebyscore, 4, CMD_WRITE, 1, 1, 1, "sorted_set", "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.", "1.2.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.", "write sortedset slow"},
    {"zremrangebylex", cmd_zremrangebylex, 4, CMD_WRITE, 1, 1, 1, "sorted_set", "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.", "2.8.9", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.", "write sortedset slow"},
    {"zscan", cmd_zscan, -3, CMD_READONLY, 1, 1, 1, "sorted_set", "Iterates over members and scores of a sorted set.", "2.8.0", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.", "read sortedset slow"},
    {"zpopmin", zcmd_zpopmin, -2, CMD_WRITE | CMD_FAST, 1, 1, 1, "sorted_set", "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", "5.0.0", "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.", "write sortedset fast"},
    {"zpopmax", zcmd_zpopmax, -2, CMD_WRITE | CMD_FAST, 1, 1, 1, "sorted_set", "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", "5.0.0", "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.", "write sortedset fast"},
    {"zmpop", zcmd_zmpop, -4, CMD_WRITE, 0, 0, 0, "sorted_set", "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.", "7.0.0", "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.", "write sortedset slow", zcmd_keys_numkeys1},
    {"zrandmember", zcmd_zrandmember, -2, CMD_READONLY, 1, 1, 1, "sorted_set", "Returns one or more random members from a sorted set.", "6.2.0", "O(N) where N is the number of members returned", "read sortedset slow"},
    {"zunion", zcmd_zunion, -3, CMD_READONLY, 0, 0, 0, "sorted_set", "Returns the union of multiple sorted sets.", "6.2.0", "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.", "read sortedset slow", zcmd_keys_numkeys1},
    {"zinter", zcmd_zinter, -3, CMD_READONLY, 0, 0, 0, "sorted_set", "Returns the intersect of multiple sorted sets.", "6.2.0", "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.", "read sortedset slow", zcmd_keys_numkeys1},
    {"zdiff", zcmd_zdiff, -3, CMD_READONLY, 0, 0, 0, "sorted_set", "Returns the difference between multiple sorted sets.", "6.2.0", "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.", "read sortedset slow", zcmd_keys_numkeys1},
    {"zunionstore", zcmd_zunionstore, -4, CMD_WRITE | CMD_DENYOOM, 1, 1, 1, "sorted_set", "Stores the union of multiple sorted sets in a key.", "2.0.0", "O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.", "write sortedset slow", zcmd_keys_store},
    {"zinterstore", zcmd_zinterstore, -4, CMD_WRITE | CMD_DENYOOM, 1, 1, 1, "sorted_set", "Stores the intersect of multiple sorted sets in a key.", "2.0.0", "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.", "write sortedset slow", zcmd_keys_store},
    {"zdiffstore", zcmd_zdiffstore, -4, CMD_WRITE | CMD_DENYOOM, 1, 1, 1, "sorted_set", "Stores the difference of multiple sorted sets in a key.", "6.2.0", "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.", "write sortedset slow", zcmd_keys_store},
    {"zintercard", zcmd_zintercard, -3, CMD_READONLY, 0, 0, 0, "sorted_set", "Returns the number of members of the intersect of multiple sorted sets.", "7.0.0", "O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets.", "read sortedset slow", zcmd_keys_numkeys1},
    {"bzpopmin", zcmd_bzpopmin, -3, CMD_WRITE | CMD_NOSCRIPT | CMD_BLOCKING | CMD_FAST, 1, -2, 1, "sorted_set", "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", "5.0.0", "O(log(N)) with N being the number of elements in the sorted set.", "write sortedset fast blocking"},
    {"bzpopmax", zcmd_bzpopmax, -3, CMD_WRITE | CMD_NOSCRIPT | CMD_BLOCKING | CMD_FAST, 1, -2, 1, "sorted_set", "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise.  Deletes the sorted set if the last element was popped.", "5.0.0", "O(log(N)) with N being the number of elements in the sorted set.", "write sortedset fast blocking"},
    {"bzmpop", zcmd_bzmpop, -5, CMD_WRITE | CMD_BLOCKING, 0, 0, 0, "sorted_set", "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", "7.0.0", "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.", "write sortedset slow blocking", zcmd_keys_bzmpop},
    {0},
};
/* clang-format on */
