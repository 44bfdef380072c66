/*
 * cmd_set.c - set commands (SADD ... SSCAN) over the set type (server/types/t_set.h).
 *
 * Replies, errors and keyspace events follow Valkey 8 (RESP3: SMEMBERS, SINTER, SUNION, SDIFF
 * and SPOP with a count reply a set; SRANDMEMBER with a count an array). Everything is logged as
 * called except SPOP, whose choice is random: it logs SREM of the members it popped (in batches
 * of SPOP_SREM_BATCH_max), or DEL when it took the whole set.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "kassert.h"
#include "kerr.h"
#include "cmd.h"
#include "cmd_util.h"
#include "exec.h"
#include "kmem.h"
#include "prop.h"
#include "engine.h"
#include "util.h"
#include "lp.h"
#include "reply.h"
#include "t_set.h"

#define SPOP_SREM_BATCH_max 1024
#define ERR_TOO_BIG         "ERR member is too large"
#define ERR_RANGE_LONG                                                                             \
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"

static set_limits_t
limits(client_t *c) {
    const engine_config_t *cfg = &c->eng->cfg;
    set_limits_t l = {(size_t)cfg->set_max_intset_entries, (size_t)cfg->set_max_listpack_entries,
                      (size_t)cfg->set_max_listpack_value};
    return l;
}

/* After members were removed from the set at key: store it, announce, delete when empty. */
static void
set_removed(client_t *c, const karg_t *key, kobj_t *o, const tset_t *s, const char *event,
            uint64_t n) {
    set_store(o, s);
    if (!n)
        return;
    srv_notify(c->eng, NOTIFY_SET, event, key->p, key->n, c->db_id);
    if (set_len(s) == 0) {
        db_delete(c->db, key->p, key->n);
        srv_notify(c->eng, NOTIFY_GENERIC, "del", key->p, key->n, c->db_id);
    }
    srv_key_modified(c->eng, c->db, key->p, key->n);
    srv_dirty(c->eng, n);
}

static void
reply_sval(client_t *c, const sval_t *m) {
    if (m->p)
        reply_bulk(c, m->p, m->n);
    else
        reply_bulk_ll(c, m->i);
}

static void
cmd_sadd(client_t *c) {
    const karg_t *key = &c->argv[1];
    kobj_t *o = db_lookup(c->db, key->p, key->n, 0);
    set_limits_t lim = limits(c);
    size_t hint = (size_t)c->argc - 2;
    if (o && obj_type(o) != OBJ_SET) {
        reply_err(c, ERR_WRONGTYPE);
        return;
    }
    tset_t s;
    if (!o) {
        s = set_new(c->argv[2].p, c->argv[2].n, hint, &lim);
        o = obj_new_ptr(OBJ_SET, s.enc, key->p, key->n, s.p, -1);
        db_add(c->db, o);
    } else {
        s = set_of(o);
        set_prepare(&s, hint, &lim);
    }
    long long added = 0;
    int rc = 0;
    for (int i = 2; i < c->argc && rc >= 0; i++) {
        rc = set_add(&s, c->argv[i].p, c->argv[i].n, &lim);
        if (rc > 0)
            added++;
    }
    set_store(o, &s);
    if (added) {
        srv_notify(c->eng, NOTIFY_SET, "sadd", key->p, key->n, c->db_id);
        srv_key_modified(c->eng, c->db, key->p, key->n);
        srv_dirty(c->eng, (uint64_t)added);
    }
    if (set_len(&s) == 0)
        db_delete(c->db, key->p, key->n); /* created for a member that was refused */
    if (rc < 0)
        reply_err(c, ERR_TOO_BIG);
    else
        reply_int(c, added);
}

static void
cmd_srem(client_t *c) {
    const karg_t *key = &c->argv[1];
    kobj_t *o = db_lookup(c->db, key->p, key->n, 0);
    if (!o) {
        reply_int(c, 0);
        return;
    }
    if (obj_type(o) != OBJ_SET) {
        reply_err(c, ERR_WRONGTYPE);
        return;
    }
    tset_t s = set_of(o);
    long long removed = 0;
    for (int i = 2; i < c->argc && set_len(&s) > 0; i++)
        removed += set_remove(&s, c->argv[i].p, c->argv[i].n);
    set_removed(c, key, o, &s, "srem", (uint64_t)removed);
    reply_int(c, removed);
}

static void
cmd_scard(client_t *c) {
    bool bad;
    kobj_t *o = cmd_lookup_read_type(c, &c->argv[1], OBJ_SET, &bad);
    if (bad)
        return;
    tset_t s = o ? set_of(o) : (tset_t){0};
    reply_int(c, o ? (long long)set_len(&s) : 0);
}

static void
cmd_sismember(client_t *c) {
    bool bad;
    kobj_t *o = cmd_lookup_read_type(c, &c->argv[1], OBJ_SET, &bad);
    if (bad)
        return;
    tset_t s = o ? set_of(o) : (tset_t){0};
    reply_int(c, o && set_contains(&s, c->argv[2].p, c->argv[2].n));
}

static void
cmd_smismember(client_t *c) {
    bool bad;
    kobj_t *o = cmd_lookup_read_type(c, &c->argv[1], OBJ_SET, &bad);
    if (bad)
        return;
    tset_t s = o ? set_of(o) : (tset_t){0};
    reply_array(c, c->argc - 2);
    for (int i = 2; i < c->argc; i++)
        reply_int(c, o && set_contains(&s, c->argv[i].p, c->argv[i].n));
}

static void
reply_whole_set(client_t *c, const tset_t *s) {
    set_iter_t it;
    sval_t m;
    reply_set(c, (long long)set_len(s));
    set_iter_init(&it, s);
    while (set_iter_next(&it, &m))
        reply_sval(c, &m);
    set_iter_done(&it);
}

static void
cmd_smembers(client_t *c) {
    bool bad;
    kobj_t *o = cmd_lookup_read_type(c, &c->argv[1], OBJ_SET, &bad);
    if (bad)
        return;
    if (!o) {
        reply_set(c, 0);
        return;
    }
    tset_t s = set_of(o);
    reply_whole_set(c, &s);
}

/* ---- SPOP ---- */

/* Members copied out of a set before they are removed: bytes back to back. */
typedef struct popped {
    char *buf;
    size_t len, cap;
    size_t *off; /* n + 1 offsets into buf */
    size_t n, ncap;
} popped_t;

static void
popped_add(popped_t *pp, const sval_t *m) {
    char num[LP_INTBUF_MAX];
    size_t n;
    const char *p = sval_bytes(m, num, &n);
    if (pp->len + n > pp->cap) {
        pp->cap = (pp->len + n) * 2 + 64;
        pp->buf = krealloc(pp->buf, pp->cap);
    }
    if (pp->n + 2 > pp->ncap) {
        pp->ncap = pp->ncap * 2 + 16;
        pp->off = krealloc(pp->off, pp->ncap * sizeof *pp->off);
    }
    if (pp->n == 0)
        pp->off[0] = 0;
    memcpy(pp->buf + pp->len, p, n);
    pp->len += n;
    pp->off[++pp->n] = pp->len;
}

/* SREM key m1 m2 ... effects, SPOP_SREM_BATCH_max members per record entry. */
static void
popped_propagate(client_t *c, const popped_t *pp) {
    karg_t *argv = kmalloc((SPOP_SREM_BATCH_max + 2) * sizeof *argv);
    argv[0] = (karg_t){"SREM", 4};
    argv[1] = c->argv[1];
    for (size_t i = 0; i < pp->n;) {
        int argc = 2;
        for (; i < pp->n && argc < SPOP_SREM_BATCH_max + 2; i++)
            argv[argc++] = (karg_t){pp->buf + pp->off[i], pp->off[i + 1] - pp->off[i]};
        prop_add(&c->eng->prop, c->db_id, argc, argv);
    }
    kfree(argv);
}

static void
spop_count(client_t *c, kobj_t *o, uint64_t count) {
    const karg_t *key = &c->argv[1];
    tset_t s = set_of(o);
    uint64_t len = set_len(&s);
    if (count >= len) {
        /* The whole set: reply it, then delete the key, logged as DEL. */
        reply_whole_set(c, &s);
        srv_notify(c->eng, NOTIFY_SET, "spop", key->p, key->n, c->db_id);
        db_delete(c->db, key->p, key->n);
        srv_notify(c->eng, NOTIFY_GENERIC, "del", key->p, key->n, c->db_id);
        srv_key_modified(c->eng, c->db, key->p, key->n);
        srv_dirty(c->eng, len);
        karg_t eff[2] = {{"DEL", 3}, *key};
        prop_add(&c->eng->prop, c->db_id, 2, eff);
        return;
    }
    popped_t pp = {0};
    for (uint64_t i = 0; i < count; i++) {
        sval_t m;
        set_random(&s, util_random64(), &m);
        popped_add(&pp, &m);
        size_t at = pp.off[pp.n - 1];
        set_remove(&s, pp.buf + at, pp.off[pp.n] - at);
    }
    reply_set(c, (long long)pp.n);
    for (size_t i = 0; i < pp.n; i++)
        reply_bulk(c, pp.buf + pp.off[i], pp.off[i + 1] - pp.off[i]);
    popped_propagate(c, &pp);
    set_removed(c, key, o, &s, "spop", count);
    kfree(pp.buf);
    kfree(pp.off);
}

static void
cmd_spop(client_t *c) {
    long long count = 1;
    if (c->argc > 3) {
        reply_err(c, ERR_SYNTAX);
        return;
    }
    if (c->argc == 3) {
        /* Valkey parses the count with getPositiveLongFromObjectOrReply: a non-number gets the
         * same "must be positive" error as a negative count, not the generic integer error. */
        if (!util_parse_ll(c->argv[2].p, c->argv[2].n, &count) || count < 0) {
            reply_err(c, "ERR value is out of range, must be positive");
            return;
        }
    }
    kobj_t *o = db_lookup(c->db, c->argv[1].p, c->argv[1].n, 0);
    if (o && obj_type(o) != OBJ_SET) {
        reply_err(c, ERR_WRONGTYPE);
        return;
    }
    if (c->argc == 3) {
        if (!o || count == 0)
            reply_set(c, 0);
        else
            spop_count(c, o, (uint64_t)count);
        return;
    }
    if (!o) {
        reply_null(c);
        return;
    }
    popped_t pp = {0};
    tset_t s = set_of(o);
    sval_t m;
    set_random(&s, util_random64(), &m);
    popped_add(&pp, &m);
    set_remove(&s, pp.buf, pp.len);
    reply_bulk(c, pp.buf, pp.len);
    popped_propagate(c, &pp);
    set_removed(c, &c->argv[1], o, &s, "spop", 1);
    kfree(pp.buf);
    kfree(pp.off);
}

/* ---- SRANDMEMBER ---- */

/* count distinct members, count < set_len. */
static void
srandmember_distinct(client_t *c, const tset_t *s, uint64_t count) {
    uint64_t len = set_len(s);
    if (s->enc == OBJ_ENC_HT && count * 3 <= len) {
        ht_t *seen = ht_create(&ht_ptrset_type);
        ASSERT(seen);
        while (ht_size(seen) < count) {
            sval_t m;
            set_random(s, util_random64(), &m);
            if (ht_add(seen, (void *)m.p) == 0)
                reply_sval(c, &m);
        }
        ht_release(seen);
        return;
    }
    sval_t *all = kmalloc(len * sizeof *all);
    set_collect(s, all);
    for (uint64_t i = 0; i < count; i++) {
        uint64_t j = i + util_random64() % (len - i);
        sval_t t = all[i];
        all[i] = all[j];
        all[j] = t;
        reply_sval(c, &all[i]);
    }
    kfree(all);
}

static void
srandmember_count(client_t *c, long long l) {
    bool bad;
    kobj_t *o = cmd_lookup_read_type(c, &c->argv[1], OBJ_SET, &bad);
    if (bad)
        return;
    if (!o || l == 0) {
        reply_empty_array(c);
        return;
    }
    tset_t s = set_of(o);
    uint64_t len = set_len(&s);
    bool repeats = l < 0;
    uint64_t count = repeats ? (uint64_t)-l : (uint64_t)l;
    if (!repeats && count > len)
        count = len;
    reply_array(c, (long long)count);
    if (repeats) {
        sval_t *all = NULL;
        /* A packed list is indexed once instead of seeked each time; a table too when the picks
         * are many, because its random pick is only roughly fair (ht_random). */
        if (s.enc != OBJ_ENC_HT || count >= len / 2) {
            all = kmalloc(len * sizeof *all);
            set_collect(&s, all);
        }
        for (uint64_t i = 0; i < count; i++) {
            sval_t m;
            if (all)
                m = all[util_random64() % len];
            else
                set_random(&s, util_random64(), &m);
            reply_sval(c, &m);
        }
        kfree(all);
    } else if (count == len) {
        set_iter_t it;
        sval_t m;
        set_iter_init(&it, &s);
        while (set_iter_next(&it, &m))
            reply_sval(c, &m);
        set_iter_done(&it);
    } else {
        srandmember_distinct(c, &s, count);
    }
}

static void
cmd_srandmember(client_t *c) {
    if (c->argc > 3) {
        reply_err(c, ERR_SYNTAX);
        return;
    }
    if (c->argc == 3) {
        long long l;
        if (!util_parse_ll(c->argv[2].p, c->argv[2].n, &l)) {
            reply_err(c, ERR_NOT_INT);
            return;
        }
        if (l == LLONG_MIN) {
            reply_err(c, ERR_RANGE_LONG);
            return;
        }
        srandmember_count(c, l);
        return;
    }
    bool bad;
    kobj_t *o = cmd_lookup_read_type(c, &c->argv[1], OBJ_SET, &bad);
    if (bad)
        return;
    if (!o) {
        reply_null(c);
        return;
    }
    tset_t s = set_of(o);
    sval_t m;
    set_random(&s, util_random64(), &m);
    reply_sval(c, &m);
}

/* ---- SMOVE ---- */

static void
cmd_smove(client_t *c) {
    const karg_t *src = &c->argv[1], *dst = &c->argv[2], *mem = &c->argv[3];
    kobj_t *so = db_lookup(c->db, src->p, src->n, 0);
    kobj_t *dobj = db_lookup(c->db, dst->p, dst->n, 0);
    if (!so) {
        reply_int(c, 0);
        return;
    }
    if (obj_type(so) != OBJ_SET || (dobj && obj_type(dobj) != OBJ_SET)) {
        reply_err(c, ERR_WRONGTYPE);
        return;
    }
    tset_t s = set_of(so);
    if (so == dobj) {
        reply_int(c, set_contains(&s, mem->p, mem->n));
        return;
    }
    if (!set_remove(&s, mem->p, mem->n)) {
        reply_int(c, 0);
        return;
    }
    set_removed(c, src, so, &s, "srem", 1); /* may delete src: look dst up again */
    set_limits_t lim = limits(c);
    dobj = db_lookup(c->db, dst->p, dst->n, DB_LOOKUP_NOTOUCH);
    tset_t d;
    if (!dobj) {
        d = set_new(mem->p, mem->n, 1, &lim);
        dobj = obj_new_ptr(OBJ_SET, d.enc, dst->p, dst->n, d.p, -1);
        db_add(c->db, dobj);
    } else {
        d = set_of(dobj);
    }
    int rc = set_add(&d, mem->p, mem->n, &lim);
    set_store(dobj, &d);
    if (rc > 0) {
        srv_notify(c->eng, NOTIFY_SET, "sadd", dst->p, dst->n, c->db_id);
        srv_key_modified(c->eng, c->db, dst->p, dst->n);
    }
    reply_int(c, 1);
}

/* ---- SINTER, SUNION, SDIFF and their STORE forms, SINTERCARD ---- */

enum { OP_INTER, OP_UNION, OP_DIFF };

/* Loads the sets of n keys from argv[first]; a missing key is an empty set (p == NULL). Returns
 * NULL after replying WRONGTYPE. */
static tset_t *
load_sets(client_t *c, int first, int n) {
    tset_t *sets = kcalloc((size_t)n, sizeof *sets);
    for (int i = 0; i < n; i++) {
        bool bad;
        kobj_t *o = cmd_lookup_read_type(c, &c->argv[first + i], OBJ_SET, &bad);
        if (bad) {
            kfree(sets);
            return NULL;
        }
        if (o)
            sets[i] = set_of(o);
    }
    return sets;
}

static uint64_t
len_or_0(const tset_t *s) {
    return s->p ? set_len(s) : 0;
}

static int
by_len_cb(const void *a, const void *b) {
    uint64_t x = len_or_0(a), y = len_or_0(b);
    return x < y ? -1 : x > y;
}

/* What to do with each member of the result. */
typedef struct sink {
    client_t *c;    /* reply each member (when out is NULL) */
    tset_t *out;    /* or add it here */
    uint64_t n;     /* members so far */
    uint64_t limit; /* SINTERCARD LIMIT: stop after this many (0: none) */
    bool count_only;
} sink_t;

static void
sink_put(sink_t *k, const sval_t *m, const set_limits_t *lim) {
    k->n++;
    if (k->count_only)
        return;
    if (!k->out) {
        reply_sval(k->c, m);
        return;
    }
    char buf[LP_INTBUF_MAX];
    size_t n;
    const char *p = sval_bytes(m, buf, &n);
    set_add(k->out, p, n, lim);
}

static void
op_inter(tset_t *sets, int n, sink_t *k, const set_limits_t *lim) {
    for (int i = 0; i < n; i++)
        if (!sets[i].p)
            return; /* a missing key: the intersection is empty */
    qsort(sets, (size_t)n, sizeof *sets, by_len_cb);
    set_iter_t it;
    sval_t m;
    set_iter_init(&it, &sets[0]);
    while ((!k->limit || k->n < k->limit) && set_iter_next(&it, &m)) {
        char buf[LP_INTBUF_MAX];
        size_t mn;
        const char *p = sval_bytes(&m, buf, &mn);
        int j = 1;
        while (j < n && set_contains(&sets[j], p, mn))
            j++;
        if (j == n)
            sink_put(k, &m, lim);
    }
    set_iter_done(&it);
}

static void
op_diff(tset_t *sets, int n, sink_t *k, const set_limits_t *lim) {
    if (!sets[0].p)
        return;
    set_iter_t it;
    sval_t m;
    set_iter_init(&it, &sets[0]);
    while (set_iter_next(&it, &m)) {
        char buf[LP_INTBUF_MAX];
        size_t mn;
        const char *p = sval_bytes(&m, buf, &mn);
        int j = 1;
        while (j < n && !(sets[j].p && set_contains(&sets[j], p, mn)))
            j++;
        if (j == n)
            sink_put(k, &m, lim);
    }
    set_iter_done(&it);
}

/* The union is built as a set (it removes the repeats), then replied or stored. */
static void
op_union(tset_t *sets, int n, tset_t *out, const set_limits_t *lim) {
    for (int i = 0; i < n; i++) {
        if (!sets[i].p)
            continue;
        set_iter_t it;
        sval_t m;
        set_iter_init(&it, &sets[i]);
        while (set_iter_next(&it, &m)) {
            char buf[LP_INTBUF_MAX];
            size_t mn;
            const char *p = sval_bytes(&m, buf, &mn);
            set_add(out, p, mn, lim);
        }
        set_iter_done(&it);
    }
}

/* Stores res at dst (or deletes dst when res is empty), replies its size. res is consumed. */
static void
store_result(client_t *c, const karg_t *dst, tset_t *res, const char *event) {
    uint64_t n = set_len(res);
    if (n == 0) {
        set_release(res);
        if (db_delete(c->db, dst->p, dst->n)) {
            srv_notify(c->eng, NOTIFY_GENERIC, "del", dst->p, dst->n, c->db_id);
            srv_key_modified(c->eng, c->db, dst->p, dst->n);
            srv_dirty(c->eng, 1);
        }
        reply_int(c, 0);
        return;
    }
    kobj_t *o = obj_new_ptr(OBJ_SET, res->enc, dst->p, dst->n, res->p, -1);
    db_set(c->db, o, false);
    srv_notify(c->eng, NOTIFY_SET, event, dst->p, dst->n, c->db_id);
    srv_key_modified(c->eng, c->db, dst->p, dst->n);
    srv_dirty(c->eng, 1);
    reply_int(c, (long long)n);
}

/* SINTER/SUNION/SDIFF (dst NULL, keys from argv[1]) and the STORE forms (keys from argv[2]). */
static void
setop_generic(client_t *c, int op, const karg_t *dst, const char *event) {
    int first = dst ? 2 : 1, n = c->argc - first;
    tset_t *sets = load_sets(c, first, n);
    if (!sets)
        return;
    set_limits_t lim = limits(c);
    tset_t res = set_new("0", 1, 0, &lim); /* as Valkey: an intset that converts as it grows */
    sink_t k = {c, &res, 0, 0, false};
    size_t spot = 0;
    if (!dst && op != OP_UNION) {
        k.out = NULL; /* reply the members as they are found */
        spot = reply_defer(c);
    }
    if (op == OP_INTER)
        op_inter(sets, n, &k, &lim);
    else if (op == OP_DIFF)
        op_diff(sets, n, &k, &lim);
    else
        op_union(sets, n, &res, &lim);
    kfree(sets);
    if (dst) {
        store_result(c, dst, &res, event);
        return;
    }
    if (op == OP_UNION)
        reply_whole_set(c, &res);
    else
        reply_set_deferred_set(c, spot, (long long)k.n);
    set_release(&res);
}

static void
cmd_sinter(client_t *c) {
    setop_generic(c, OP_INTER, NULL, NULL);
}

static void
cmd_sinterstore(client_t *c) {
    setop_generic(c, OP_INTER, &c->argv[1], "sinterstore");
}

static void
cmd_sunion(client_t *c) {
    setop_generic(c, OP_UNION, NULL, NULL);
}

static void
cmd_sunionstore(client_t *c) {
    setop_generic(c, OP_UNION, &c->argv[1], "sunionstore");
}

static void
cmd_sdiff(client_t *c) {
    setop_generic(c, OP_DIFF, NULL, NULL);
}

static void
cmd_sdiffstore(client_t *c) {
    setop_generic(c, OP_DIFF, &c->argv[1], "sdiffstore");
}

static void
cmd_sintercard(client_t *c) {
    long long numkeys, limit = 0;
    if (!util_parse_ll(c->argv[1].p, c->argv[1].n, &numkeys) || numkeys <= 0) {
        reply_err(c, "ERR numkeys should be greater than 0");
        return;
    }
    if (numkeys > c->argc - 2) {
        reply_err(c, "ERR Number of keys can't be greater than number of args");
        return;
    }
    for (int i = 2 + (int)numkeys; i < c->argc; i++) {
        if (util_eq_nocase(c->argv[i].p, c->argv[i].n, "limit") && i + 1 < c->argc) {
            /* Valkey answers this for anything but a non-negative integer */
            if (!util_parse_ll(c->argv[i + 1].p, c->argv[i + 1].n, &limit) || limit < 0) {
                reply_err(c, "ERR LIMIT can't be negative");
                return;
            }
            i++;
        } else {
            reply_err(c, ERR_SYNTAX);
            return;
        }
    }
    tset_t *sets = load_sets(c, 2, (int)numkeys);
    if (!sets)
        return;
    set_limits_t lim = limits(c);
    sink_t k = {c, NULL, 0, (uint64_t)limit, true};
    op_inter(sets, (int)numkeys, &k, &lim);
    kfree(sets);
    reply_int(c, (long long)k.n);
}

static int
sintercard_getkeys(int argc, karg_t *argv, int *idx, int max) {
    long long n;
    if (argc < 3 || !util_parse_ll(argv[1].p, argv[1].n, &n) || n <= 0 || n > argc - 2)
        return -1;
    int got = 0;
    for (long long i = 0; i < n && got < max; i++)
        idx[got++] = 2 + (int)i;
    return got;
}

/* ---- SSCAN ---- */

typedef struct sscan_out {
    sval_t *v;
    size_t n, cap;
} sscan_out_t;

static void
sscan_collect_cb(void *ctx, const sval_t *m) {
    sscan_out_t *out = ctx;
    if (out->n == out->cap) {
        out->cap = out->cap ? out->cap * 2 : 16;
        out->v = krealloc(out->v, out->cap * sizeof *out->v);
    }
    out->v[out->n++] = *m;
}

static void
cmd_sscan(client_t *c) {
    unsigned long long cursor;
    if (!util_parse_ull(c->argv[2].p, c->argv[2].n, &cursor)) {
        reply_err(c, "ERR invalid cursor");
        return;
    }
    cmd_scan_opts_t opt;
    if (!cmd_parse_scan_options(c, 3, 0, &opt))
        return;
    const karg_t *match = opt.match;
    long long count = opt.count;
    bool bad;
    kobj_t *o = cmd_lookup_read_type(c, &c->argv[1], OBJ_SET, &bad);
    if (bad)
        return;
    sscan_out_t out = {0};
    if (o) {
        tset_t s = set_of(o);
        long long visits_max = count * 10; /* bound the work when the table is sparse */
        do {
            cursor = set_scan(&s, cursor, sscan_collect_cb, &out);
        } while (cursor && visits_max-- > 0 && out.n < (size_t)count);
    } else {
        cursor = 0;
    }
    size_t keep = 0;
    bool all = !match || (match->n == 1 && match->p[0] == '*');
    for (size_t i = 0; i < out.n; i++) {
        char buf[LP_INTBUF_MAX];
        size_t n;
        const char *p = sval_bytes(&out.v[i], buf, &n);
        if (all || util_glob_match(match->p, match->n, p, n, false))
            out.v[keep++] = out.v[i];
    }
    reply_array(c, 2);
    reply_bulk_ll(c, (long long)cursor);
    reply_array(c, (long long)keep);
    for (size_t i = 0; i < keep; i++)
        reply_sval(c, &out.v[i]);
    kfree(out.v);
}

cmd_def_t cmd_table_set[] = {
    {"sadd", cmd_sadd, -3, CMD_WRITE | CMD_DENYOOM | CMD_FAST, 1, 1, 1, "set",
     "Adds one or more members to a set. Creates the key if it doesn't exist.", "1.0.0",
     "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
     "write set fast"},
    {"srem", cmd_srem, -3, CMD_WRITE | CMD_FAST, 1, 1, 1, "set",
     "Removes one or more members from a set. Deletes the set if the last member was removed.",
     "1.0.0", "O(N) where N is the number of members to be removed.", "write set fast"},
    {"scard", cmd_scard, 2, CMD_READONLY | CMD_FAST, 1, 1, 1, "set",
     "Returns the number of members in a set.", "1.0.0", "O(1)", "read set fast"},
    {"sismember", cmd_sismember, 3, CMD_READONLY | CMD_FAST, 1, 1, 1, "set",
     "Determines whether a member belongs to a set.", "1.0.0", "O(1)", "read set fast"},
    {"smismember", cmd_smismember, -3, CMD_READONLY | CMD_FAST, 1, 1, 1, "set",
     "Determines whether multiple members belong to a set.", "6.2.0",
     "O(N) where N is the number of elements being checked for membership", "read set fast"},
    {"smembers", cmd_smembers, 2, CMD_READONLY, 1, 1, 1, "set", "Returns all members of a set.",
     "1.0.0", "O(N) where N is the set cardinality.", "read set slow"},
    {"spop", cmd_spop, -2, CMD_WRITE | CMD_FAST, 1, 1, 1, "set",
     "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.",
     "1.0.0",
     "Without the count argument O(1), otherwise O(N) where N is the value of the passed count.",
     "write set fast"},
    {"srandmember", cmd_srandmember, -2, CMD_READONLY, 1, 1, 1, "set",
     "Get one or multiple random members from a set", "1.0.0",
     "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count.",
     "read set slow"},
    {"smove", cmd_smove, 4, CMD_WRITE | CMD_FAST, 1, 2, 1, "set",
     "Moves a member from one set to another.", "1.0.0", "O(1)", "write set fast"},
    {"sinter", cmd_sinter, -2, CMD_READONLY, 1, -1, 1, "set",
     "Returns the intersect of multiple sets.", "1.0.0",
     "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.",
     "read set slow"},
    {"sintercard", cmd_sintercard, -3, CMD_READONLY, 0, 0, 0, "set",
     "Returns the number of members of the intersect of multiple sets.", "7.0.0",
     "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.",
     "read set slow", sintercard_getkeys},
    {"sinterstore", cmd_sinterstore, -3, CMD_WRITE | CMD_DENYOOM, 1, -1, 1, "set",
     "Stores the intersect of multiple sets in a key.", "1.0.0",
     "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.",
     "write set slow"},
    {"sunion", cmd_sunion, -2, CMD_READONLY, 1, -1, 1, "set", "Returns the union of multiple sets.",
     "1.0.0", "O(N) where N is the total number of elements in all given sets.", "read set slow"},
    {"sunionstore", cmd_sunionstore, -3, CMD_WRITE | CMD_DENYOOM, 1, -1, 1, "set",
     "Stores the union of multiple sets in a key.", "1.0.0",
     "O(N) where N is the total number of elements in all given sets.", "write set slow"},
    {"sdiff", cmd_sdiff, -2, CMD_READONLY, 1, -1, 1, "set",
     "Returns the difference of multiple sets.", "1.0.0",
     "O(N) where N is the total number of elements in all given sets.", "read set slow"},
    {"sdiffstore", cmd_sdiffstore, -3, CMD_WRITE | CMD_DENYOOM, 1, -1, 1, "set",
     "Stores the difference of multiple sets in a key.", "1.0.0",
     "O(N) where N is the total number of elements in all given sets.", "write set slow"},
    {"sscan", cmd_sscan, -3, CMD_READONLY, 1, 1, 1, "set", "Iterates over members of a set.",
     "2.0.0",
     "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.",
     "read set slow"},
    {0},
};
