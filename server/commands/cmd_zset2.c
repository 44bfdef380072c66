/*
 * cmd_zset2.c - sorted-set commands that pop or pick, and those over several keys: ZPOPMIN,
 * ZPOPMAX, ZMPOP, BZPOPMIN, BZPOPMAX, BZMPOP, ZRANDMEMBER, ZUNION/ZINTER/ZDIFF (and their STORE
 * forms), ZINTERCARD, and the key extractors of the numkeys commands.
 *
 * Effects in the log: ZPOPMIN/ZPOPMAX are deterministic and logged as called; ZMPOP and the
 * blocking pops log the plain pop that happened on the key that had data ("ZPOPMIN key count"),
 * as Valkey replicates them, so a replay never depends on which key was first non-empty or on
 * blocking. ZRANDMEMBER is read-only. The algebra reads sets (OBJ_SET, every member scoring 1) as
 * well as sorted sets, like Valkey.
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kassert.h"
#include "kerr.h"
#include "cmd_zset_int.h"
#include "block.h"
#include "exec.h"
#include "kmem.h"
#include "prop.h"
#include "engine.h"
#include "util.h"
#include "ht.h"
#include "reply.h"
#include "t_set.h"

/* ---- key extraction for numkeys commands (COMMAND GETKEYS, durability tags) ---- */

/* Keys argv[first .. first+numkeys) where numkeys is argv[first-1]; -1 on bad syntax. */
static int
numkeys_at(int argc, karg_t *argv, int first, int *idx, int max, int n) {
    long long numkeys;
    if (first - 1 >= argc || !util_parse_ll(argv[first - 1].p, argv[first - 1].n, &numkeys) ||
        numkeys < 1 || numkeys > argc - first)
        return -1;
    for (long long i = 0; i < numkeys && n < max; i++)
        idx[n++] = first + (int)i;
    return n;
}

/* ZUNION, ZINTER, ZDIFF, ZINTERCARD, ZMPOP: numkeys key [key ...] ... */
int
zcmd_keys_numkeys1(int argc, karg_t *argv, int *idx, int max) {
    return numkeys_at(argc, argv, 2, idx, max, 0);
}

/* ZUNIONSTORE, ZINTERSTORE, ZDIFFSTORE: destination numkeys key [key ...] ... */
int
zcmd_keys_store(int argc, karg_t *argv, int *idx, int max) {
    if (max < 1 || argc < 2)
        return -1;
    idx[0] = 1;
    return numkeys_at(argc, argv, 3, idx, max, 1);
}

/* BZMPOP timeout numkeys key [key ...] ... */
int
zcmd_keys_bzmpop(int argc, karg_t *argv, int *idx, int max) {
    return numkeys_at(argc, argv, 3, idx, max, 0);
}

/* ---- pops ---- */

/* Logs the pop that happened as ZPOPMIN/ZPOPMAX key [count]. */
static void
log_pop(client_t *c, const karg_t *key, bool max, long long count) {
    char num[UTIL_LL_STR_MAX];
    karg_t argv[3] = {{max ? "ZPOPMAX" : "ZPOPMIN", 7}, *key, {num, 0}};
    argv[2].n = (size_t)util_ll2str(num, sizeof num, count);
    prop_add(&c->eng->prop, c->db_id, count < 0 ? 2 : 3, argv);
}

/* Pops from o (non-empty) under key, replying in Valkey's four shapes: ZPOP* (flat, or nested
 * pairs in RESP3 with a count), BZPOP* (key then flat), Z/BZMPOP (key then nested pairs). */
static void
zpop_key(client_t *c, const karg_t *key, kobj_t *o, bool max, bool emitkey, long long count,
         bool nested) {
    long long len = (long long)zset_len(o);
    long long n = count > len ? len : count;
    if (!nested && !emitkey) {
        reply_array(c, 2 * n);
    } else if (nested && !emitkey) {
        reply_array(c, n);
    } else if (!nested) {
        reply_array(c, 2 * n + 1);
        reply_bulk(c, key->p, key->n);
    } else {
        reply_array(c, 2);
        reply_bulk(c, key->p, key->n);
        reply_array(c, n);
    }
    for (long long i = 0; i < n; i++) {
        uint64_t rank = max ? (uint64_t)(len - 1 - i) : 0;
        zset_elem_t e;
        zset_at_rank(o, rank, &e);
        if (nested)
            reply_array(c, 2);
        reply_bulk(c, (const char *)e.m, e.n);
        reply_double(c, e.score);
        zset_del_rank(o, rank, rank);
    }
    zcmd_changed(c, key, max ? "zpopmax" : "zpopmin", zset_len(o) == 0);
    srv_dirty(c->eng, (uint64_t)n);
}

/* The first key holding a sorted set, or -1 (none) or -2 (WRONGTYPE replied). */
static int
first_nonempty(client_t *c, const karg_t *keys, int nkeys, kobj_t **o) {
    for (int i = 0; i < nkeys; i++) {
        bool err;
        *o = zcmd_lookup_write(c, &keys[i], &err);
        if (err)
            return -2;
        if (*o)
            return i;
    }
    return -1;
}

static void
zpop_minmax(client_t *c, bool max) {
    if (c->argc > 3) {
        reply_err(c, ERR_SYNTAX);
        return;
    }
    long long count = -1; /* a plain single pop */
    if (c->argc == 3 && (!util_parse_ll(c->argv[2].p, c->argv[2].n, &count) || count < 0)) {
        reply_err(c, "ERR value is out of range, must be positive"); /* also for a non-number */
        return;
    }
    kobj_t *o;
    int k = first_nonempty(c, &c->argv[1], 1, &o);
    if (k == -2)
        return;
    if (k < 0 || count == 0) {
        reply_empty_array(c);
        return;
    }
    bool nested = c->resp >= 3 && count != -1;
    zpop_key(c, &c->argv[1], o, max, false, count < 0 ? 1 : count, nested);
}

void
zcmd_zpopmin(client_t *c) {
    zpop_minmax(c, false);
}

void
zcmd_zpopmax(client_t *c) {
    zpop_minmax(c, true);
}

static void
block_timeout_reply(client_t *c) {
    reply_null_array(c);
}

/* Serves the first non-empty key, or blocks (or replies null where blocking is not allowed).
 * count -1: BZPOPMIN/BZPOPMAX's single flat pop. */
static void
bzpop_serve(client_t *c, const karg_t *keys, int nkeys, bool max, long long count,
            int64_t deadline_ms) {
    kobj_t *o;
    int k = first_nonempty(c, keys, nkeys, &o);
    if (k == -2)
        return;
    if (k >= 0) {
        zpop_key(c, &keys[k], o, max, true, count < 0 ? 1 : count, count >= 0);
        log_pop(c, &keys[k], max, count);
        return;
    }
    if (!block_allowed(c)) {
        reply_null_array(c);
        return;
    }
    block_for_keys(c, keys, nkeys, OBJ_ZSET, deadline_ms, block_timeout_reply);
}

static void
bzpop_minmax(client_t *c, bool max) {
    int64_t deadline;
    if (block_parse_timeout(c, &c->argv[c->argc - 1], &deadline) < 0)
        return;
    bzpop_serve(c, &c->argv[1], c->argc - 2, max, -1, deadline);
}

void
zcmd_bzpopmin(client_t *c) {
    bzpop_minmax(c, false);
}

void
zcmd_bzpopmax(client_t *c) {
    bzpop_minmax(c, true);
}

/* ZMPOP numkeys key... MIN|MAX [COUNT n] and BZMPOP timeout numkeys key... (numkeys_idx 2). */
static void
zmpop_generic(client_t *c, int numkeys_idx, bool blocking) {
    long long numkeys, count = -1;
    if (!cmd_parse_numkeys(c, numkeys_idx, "ERR numkeys should be greater than 0", &numkeys))
        return;
    int where_idx = numkeys_idx + (int)numkeys + 1;
    if (where_idx >= c->argc) {
        reply_err(c, ERR_SYNTAX);
        return;
    }
    bool max = cmd_arg_is(&c->argv[where_idx], "max");
    if (!max && !cmd_arg_is(&c->argv[where_idx], "min")) {
        reply_err(c, ERR_SYNTAX);
        return;
    }
    for (int j = where_idx + 1; j < c->argc; j++) {
        if (count == -1 && cmd_arg_is(&c->argv[j], "count") && j + 1 < c->argc) {
            j++;
            if (!util_parse_ll(c->argv[j].p, c->argv[j].n, &count) || count < 1) {
                reply_err(c, "ERR count should be greater than 0");
                return;
            }
        } else {
            reply_err(c, ERR_SYNTAX);
            return;
        }
    }
    count = count == -1 ? 1 : count;
    const karg_t *keys = &c->argv[numkeys_idx + 1];
    if (blocking) {
        int64_t deadline;
        if (block_parse_timeout(c, &c->argv[1], &deadline) < 0)
            return;
        bzpop_serve(c, keys, (int)numkeys, max, count, deadline);
        return;
    }
    kobj_t *o;
    int k = first_nonempty(c, keys, (int)numkeys, &o);
    if (k == -2)
        return;
    if (k < 0) {
        reply_null_array(c);
        return;
    }
    zpop_key(c, &keys[k], o, max, true, count, true);
    log_pop(c, &keys[k], max, count);
}

void
zcmd_zmpop(client_t *c) {
    zmpop_generic(c, 1, false);
}

void
zcmd_bzmpop(client_t *c) {
    zmpop_generic(c, 2, true);
}

/* ---- ZRANDMEMBER ---- */

/* Distinct random ranks below size, count of them (count < size), by rejection on a small open
 * hash of the ranks taken: used when count is small next to size. */
static void
pick_sparse(client_t *c, kobj_t *o, uint64_t size, uint64_t count, bool withscores) {
    size_t cap = 16;
    while (cap < count * 2)
        cap *= 2;
    uint64_t *slots = kmalloc(cap * sizeof *slots);
    memset(slots, 0xff, cap * sizeof *slots); /* UINT64_MAX: empty */
    for (uint64_t got = 0; got < count;) {
        uint64_t r = util_random64() % size;
        size_t h = (size_t)(r * 0x9E3779B97F4A7C15ull) & (cap - 1);
        while (slots[h] != UINT64_MAX && slots[h] != r)
            h = (h + 1) & (cap - 1);
        if (slots[h] == r)
            continue;
        slots[h] = r;
        zset_elem_t e;
        zset_at_rank(o, r, &e);
        zcmd_reply_elem(c, e.m, e.n, e.score, withscores);
        got++;
    }
    kfree(slots);
}

/* count of size ranks from a partial Fisher-Yates shuffle: used when count is near size. */
static void
pick_dense(client_t *c, kobj_t *o, uint64_t size, uint64_t count, bool withscores) {
    uint64_t *idx = kmalloc(size * sizeof *idx);
    for (uint64_t i = 0; i < size; i++)
        idx[i] = i;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t j = i + util_random64() % (size - i);
        uint64_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
        zset_elem_t e;
        zset_at_rank(o, idx[i], &e);
        zcmd_reply_elem(c, e.m, e.n, e.score, withscores);
    }
    kfree(idx);
}

static void
zrandmember_count(client_t *c, long long l, bool withscores) {
    bool err;
    kobj_t *o = cmd_lookup_read_type(c, &c->argv[1], OBJ_ZSET, &err);
    if (err)
        return;
    uint64_t count = l < 0 ? (uint64_t)(-l) : (uint64_t)l;
    if (!o || count == 0) {
        reply_empty_array(c);
        return;
    }
    uint64_t size = zset_len(o);
    bool uniq = l > 0;
    uint64_t n = (uniq && count > size) ? size : count;
    reply_array(c, (long long)((withscores && c->resp < 3) ? 2 * n : n));
    if (!uniq || count == 1) {
        for (uint64_t i = 0; i < count; i++) {
            zset_elem_t e;
            zset_at_rank(o, util_random64() % size, &e);
            zcmd_reply_elem(c, e.m, e.n, e.score, withscores);
        }
    } else if (count >= size) {
        zset_iter_t it;
        zset_elem_t e;
        zset_iter_rank(&it, o, 0, false);
        while (zset_iter_next(&it, &e))
            zcmd_reply_elem(c, e.m, e.n, e.score, withscores);
    } else if (count * 3 > size) {
        pick_dense(c, o, size, count, withscores);
    } else {
        pick_sparse(c, o, size, count, withscores);
    }
}

void
zcmd_zrandmember(client_t *c) {
    if (c->argc >= 3) {
        long long l;
        bool withscores;
        if (!cmd_parse_rand_count(c, "withscores", &l, &withscores))
            return;
        zrandmember_count(c, l, withscores);
        return;
    }
    bool err;
    kobj_t *o = cmd_lookup_read_type(c, &c->argv[1], OBJ_ZSET, &err);
    if (err)
        return;
    if (!o) {
        reply_null(c);
        return;
    }
    zset_elem_t e;
    zset_at_rank(o, util_random64() % zset_len(o), &e);
    reply_bulk(c, (const char *)e.m, e.n);
}

/* ---- ZUNION, ZINTER, ZDIFF, their STORE forms, ZINTERCARD ---- */

enum { ZOP_UNION, ZOP_INTER, ZOP_DIFF };
enum { AGG_SUM, AGG_MIN, AGG_MAX };

/* One input: a sorted set, a set (members score 1) or a missing key (empty). */
typedef struct zsrc {
    kobj_t *o;
    double weight;
    uint64_t len;
    int order; /* position among the arguments, to keep the sort by size stable */
} zsrc_t;

typedef struct src_iter {
    const zsrc_t *s;
    zset_iter_t zi;
    tset_t ts;
    set_iter_t si;
    char buf[UTIL_LL_STR_MAX];
} src_iter_t;

static void
src_iter_init(src_iter_t *it, const zsrc_t *s) {
    it->s = s;
    if (!s->o)
        return;
    if (obj_type(s->o) == OBJ_ZSET) {
        zset_iter_rank(&it->zi, s->o, 0, false);
    } else {
        it->ts = set_of(s->o);
        set_iter_init(&it->si, &it->ts);
    }
}

static bool
src_iter_next(src_iter_t *it, zset_elem_t *e) {
    if (!it->s->o)
        return false;
    if (obj_type(it->s->o) == OBJ_ZSET)
        return zset_iter_next(&it->zi, e);
    sval_t v;
    if (!set_iter_next(&it->si, &v))
        return false;
    e->m = (const uint8_t *)sval_bytes(&v, it->buf, &e->n);
    e->score = 1.0;
    return true;
}

static void
src_iter_done(src_iter_t *it) {
    if (it->s->o && obj_type(it->s->o) == OBJ_SET)
        set_iter_done(&it->si);
}

static bool
src_find(const zsrc_t *s, const uint8_t *m, size_t n, double *score) {
    if (!s->o)
        return false;
    if (obj_type(s->o) == OBJ_ZSET)
        return zset_score(s->o, m, n, score) == 0;
    tset_t t = set_of(s->o);
    *score = 1.0;
    return set_contains(&t, (const char *)m, n);
}

static void
aggregate(double *target, double val, int agg) {
    if (agg == AGG_SUM) {
        *target += val;
        if (isnan(*target)) /* inf + -inf: Valkey's convention is 0 */
            *target = 0.0;
    } else if (agg == AGG_MIN) {
        *target = val < *target ? val : *target;
    } else {
        *target = val > *target ? val : *target;
    }
}

static double
weighted(double score, double weight) {
    double v = score * weight;
    return isnan(v) ? 0.0 : v; /* inf * 0 */
}

/* The union's accumulator: member -> score, entries own their bytes. */
typedef struct acc_entry {
    double score;
    size_t n;
    uint8_t m[];
} acc_entry_t;

typedef struct acc_key {
    const uint8_t *m;
    size_t n;
} acc_key_t;

static uint64_t
acc_hash_key(const void *key) {
    const acc_key_t *k = key;
    return ht_hash_bytes(k->m, k->n);
}

static uint64_t
acc_hash_entry(const void *entry) {
    const acc_entry_t *e = entry;
    return ht_hash_bytes(e->m, e->n);
}

static int
acc_key_eq(const void *entry, const void *key) {
    const acc_entry_t *e = entry;
    const acc_key_t *k = key;
    return e->n == k->n && memcmp(e->m, k->m, k->n) == 0;
}

static void
acc_free(void *entry) {
    kfree(entry);
}

static const ht_type_t acc_type = {acc_hash_key, acc_hash_entry, acc_key_eq, acc_free, NULL};

static void
op_union(zsrc_t *src, int nsrc, int agg, zvec_t *res) {
    ht_t *acc = ht_create(&acc_type);
    ASSERT(acc);
    for (int i = 0; i < nsrc; i++) {
        src_iter_t it;
        zset_elem_t e;
        src_iter_init(&it, &src[i]);
        while (src_iter_next(&it, &e)) {
            double score = weighted(e.score, src[i].weight);
            acc_key_t k = {e.m, e.n};
            ht_pos_t pos;
            acc_entry_t *a = ht_find_pos(acc, &k, &pos);
            if (a) {
                aggregate(&a->score, score, agg);
                continue;
            }
            a = kmalloc(sizeof *a + e.n);
            a->score = score;
            a->n = e.n;
            memcpy(a->m, e.m, e.n);
            ht_insert_at(acc, &pos, a);
        }
        src_iter_done(&it);
    }
    ht_iter_t hi;
    ht_iter_init(&hi, acc);
    for (acc_entry_t *a; (a = ht_iter_next(&hi));)
        zvec_push(res, a->m, a->n, a->score);
    ht_iter_done(&hi);
    ht_release(acc);
}

/* Intersection (or, with diff, the members of the first input that no other has). card_only
 * counts up to limit (0: no limit) without keeping the members. */
static uint64_t
op_inter_diff(zsrc_t *src, int nsrc, int agg, bool diff, bool card_only, uint64_t limit,
              zvec_t *res) {
    uint64_t count = 0;
    if (src[0].len == 0)
        return 0;
    src_iter_t it;
    zset_elem_t e;
    src_iter_init(&it, &src[0]);
    while (src_iter_next(&it, &e)) {
        double score = diff ? e.score : weighted(e.score, src[0].weight), value;
        int j = 1;
        for (; j < nsrc; j++) {
            bool found = src_find(&src[j], e.m, e.n, &value);
            if (diff && found)
                break;
            if (diff)
                continue;
            if (!found)
                break;
            aggregate(&score, value * src[j].weight, agg);
        }
        if (j < nsrc)
            continue;
        count++;
        if (!card_only)
            zvec_push(res, e.m, e.n, score);
        if (limit && count >= limit)
            break;
    }
    src_iter_done(&it);
    return count;
}

static int
src_cmp_len(const void *a, const void *b) {
    const zsrc_t *x = a, *y = b;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->order - y->order;
}

typedef struct zop_opts {
    int agg;
    bool withscores;
    long long limit;
} zop_opts_t;

/* WEIGHTS, AGGREGATE, WITHSCORES, LIMIT after the keys; false after replying. */
static bool
zop_options(client_t *c, int j, zsrc_t *src, int nsrc, int op, bool store, bool card_only,
            zop_opts_t *opt) {
    while (j < c->argc) {
        int remaining = c->argc - j;
        const karg_t *w = &c->argv[j];
        if (op != ZOP_DIFF && !card_only && remaining >= nsrc + 1 && cmd_arg_is(w, "weights")) {
            for (int i = 0; i < nsrc; i++) {
                const karg_t *a = &c->argv[j + 1 + i];
                if (!util_parse_double(a->p, a->n, &src[i].weight)) {
                    reply_err(c, "ERR weight value is not a float");
                    return false;
                }
            }
            j += nsrc + 1;
        } else if (op != ZOP_DIFF && !card_only && remaining >= 2 && cmd_arg_is(w, "aggregate")) {
            const karg_t *a = &c->argv[j + 1];
            if (cmd_arg_is(a, "sum"))
                opt->agg = AGG_SUM;
            else if (cmd_arg_is(a, "min"))
                opt->agg = AGG_MIN;
            else if (cmd_arg_is(a, "max"))
                opt->agg = AGG_MAX;
            else {
                reply_err(c, ERR_SYNTAX);
                return false;
            }
            j += 2;
        } else if (!store && !card_only && cmd_arg_is(w, "withscores")) {
            opt->withscores = true;
            j++;
        } else if (card_only && remaining >= 2 && cmd_arg_is(w, "limit")) {
            long long v;
            const karg_t *a = &c->argv[j + 1];
            if (!util_parse_ll(a->p, a->n, &v) || v < 0) {
                reply_err(c, "ERR LIMIT can't be negative");
                return false;
            }
            opt->limit = v;
            j += 2;
        } else {
            reply_err(c, ERR_SYNTAX);
            return false;
        }
    }
    return true;
}

/* Reads numkeys and the inputs; returns how many, or -1 after replying. */
static int
zop_sources(client_t *c, int numkeys_idx, const char *name, zsrc_t **out) {
    long long nsrc;
    const karg_t *nk = &c->argv[numkeys_idx];
    if (!util_parse_ll(nk->p, nk->n, &nsrc)) {
        reply_err(c, ERR_NOT_INT);
        return -1;
    }
    if (nsrc < 1) {
        reply_errf(c, "ERR at least 1 input key is needed for '%s' command", name);
        return -1;
    }
    if (nsrc > c->argc - numkeys_idx - 1) {
        reply_err(c, ERR_SYNTAX);
        return -1;
    }
    zsrc_t *src = kcalloc((size_t)nsrc, sizeof *src);
    for (int i = 0; i < nsrc; i++) {
        const karg_t *k = &c->argv[numkeys_idx + 1 + i];
        kobj_t *o = db_lookup(c->db, k->p, k->n, 0);
        if (o && obj_type(o) != OBJ_ZSET && obj_type(o) != OBJ_SET) {
            reply_err(c, ERR_WRONGTYPE);
            kfree(src);
            return -1;
        }
        src[i].o = o;
        src[i].weight = 1.0;
        src[i].order = i;
        if (o) {
            tset_t t;
            if (obj_type(o) == OBJ_ZSET) {
                src[i].len = zset_len(o);
            } else {
                t = set_of(o);
                src[i].len = set_len(&t);
            }
        }
    }
    *out = src;
    return (int)nsrc;
}

static void
zop_generic(client_t *c, int numkeys_idx, const karg_t *dst, int op, bool card_only,
            const char *name) {
    zsrc_t *src;
    int nsrc = zop_sources(c, numkeys_idx, name, &src);
    if (nsrc < 0)
        return;
    zop_opts_t opt = {AGG_SUM, false, 0};
    if (!zop_options(c, numkeys_idx + 1 + nsrc, src, nsrc, op, dst != NULL, card_only, &opt)) {
        kfree(src);
        return;
    }
    if (op != ZOP_DIFF) /* smallest first: fewer lookups, and Valkey's order of aggregation */
        qsort(src, (size_t)nsrc, sizeof *src, src_cmp_len);
    zvec_t res = {0};
    uint64_t card = 0;
    if (op == ZOP_UNION)
        op_union(src, nsrc, opt.agg, &res);
    else
        card =
            op_inter_diff(src, nsrc, opt.agg, op == ZOP_DIFF, card_only, (uint64_t)opt.limit, &res);
    kfree(src);
    if (card_only) {
        reply_int(c, (long long)card);
    } else if (dst) {
        static const char *const events[] = {"zunionstore", "zinterstore", "zdiffstore"};
        zcmd_store(c, dst, &res, events[op]); /* sorts */
    } else {
        zvec_sort(&res);
        zcmd_reply_elems(c, res.v, res.n, opt.withscores, false);
    }
    zvec_free(&res);
}

void
zcmd_zunion(client_t *c) {
    zop_generic(c, 1, NULL, ZOP_UNION, false, "zunion");
}

void
zcmd_zinter(client_t *c) {
    zop_generic(c, 1, NULL, ZOP_INTER, false, "zinter");
}

void
zcmd_zdiff(client_t *c) {
    zop_generic(c, 1, NULL, ZOP_DIFF, false, "zdiff");
}

void
zcmd_zunionstore(client_t *c) {
    zop_generic(c, 2, &c->argv[1], ZOP_UNION, false, "zunionstore");
}

void
zcmd_zinterstore(client_t *c) {
    zop_generic(c, 2, &c->argv[1], ZOP_INTER, false, "zinterstore");
}

void
zcmd_zdiffstore(client_t *c) {
    zop_generic(c, 2, &c->argv[1], ZOP_DIFF, false, "zdiffstore");
}

void
zcmd_zintercard(client_t *c) {
    zop_generic(c, 1, NULL, ZOP_INTER, true, "zintercard");
}
