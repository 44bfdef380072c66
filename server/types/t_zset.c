/*
 * t_zset.c - the sorted-set value in its two encodings (see t_zset.h for the layouts).
 *
 * Every operation exists once per encoding: `zl_*` work on the packed list of member,score pairs
 * (linear walks, fine because it holds at most zset-max-listpack-entries pairs), `big_*` on the
 * skiplist + member map. The public functions dispatch on the encoding of a zref_t (structure
 * pointer + encoding) loaded from the kobj and stored back after a change, because a packed list
 * moves when it grows and a conversion changes both fields.
 *
 * Invariants:
 *   1. The packed list has an even number of entries and its pairs are strictly ordered by
 *      (score, member bytes); no member appears twice; no score is NaN.
 *   2. In the skiplist encoding, the member map holds exactly the skiplist's nodes (the entries
 *      are the node pointers, the skiplist owns them), so both have the same length.
 */
#include "t_zset.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "kassert.h"
#include "kerr.h"
#include "kmem.h"
#include "ht.h"

typedef struct zset_big {
    zsl_t *zsl; /* owns the nodes and their member bytes */
    ht_t *map;  /* member -> node; entries borrowed from zsl */
} zset_big_t;

typedef struct zref {
    void *ptr;
    int enc;
} zref_t;

static zref_t
ref_of(const kobj_t *o) {
    return (zref_t){obj_ptr(o), obj_encoding(o)};
}

static void
ref_store(kobj_t *o, const zref_t *z) {
    obj_set_ptr(o, z->ptr);
    obj_set_encoding(o, z->enc);
}

int
zset_elem_cmp(double s1, const uint8_t *m1, size_t n1, double s2, const uint8_t *m2, size_t n2) {
    if (s1 != s2)
        return s1 < s2 ? -1 : 1;
    int c = memcmp(m1, m2, n1 < n2 ? n1 : n2);
    if (c)
        return c;
    return n1 < n2 ? -1 : n1 > n2;
}

static int
member_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn) {
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c)
        return c;
    return an < bn ? -1 : an > bn;
}

/* Range ends checked one at a time, to position iterations on packed lists. */
static bool
score_gte_min(double s, const zsl_range_t *r) {
    return r->minex ? s > r->min : s >= r->min;
}

static bool
score_lte_max(double s, const zsl_range_t *r) {
    return r->maxex ? s < r->max : s <= r->max;
}

static bool
lex_gte_min(const uint8_t *m, size_t n, const zsl_lex_bound_t *b) {
    switch (b->kind) {
    case ZSL_LEX_NEG_INF: return true;
    case ZSL_LEX_POS_INF: return false;
    case ZSL_LEX_INCL: return member_cmp(m, n, b->s, b->len) >= 0;
    default: return member_cmp(m, n, b->s, b->len) > 0;
    }
}

static bool
lex_lte_max(const uint8_t *m, size_t n, const zsl_lex_bound_t *b) {
    switch (b->kind) {
    case ZSL_LEX_NEG_INF: return false;
    case ZSL_LEX_POS_INF: return true;
    case ZSL_LEX_INCL: return member_cmp(m, n, b->s, b->len) <= 0;
    default: return member_cmp(m, n, b->s, b->len) < 0;
    }
}

/* ---- the member map of the skiplist encoding ---- */

typedef struct mkey {
    const void *p;
    size_t n;
} mkey_t;

static uint64_t
map_hash_key(const void *key) {
    const mkey_t *k = key;
    return ht_hash_bytes(k->p, k->n);
}

static uint64_t
map_hash_entry(const void *entry) {
    size_t n;
    const uint8_t *m = zsl_node_member(entry, &n);
    return ht_hash_bytes(m, n);
}

static int
map_key_eq(const void *entry, const void *key) {
    const mkey_t *k = key;
    size_t n;
    const uint8_t *m = zsl_node_member(entry, &n);
    return n == k->n && memcmp(m, k->p, n) == 0;
}

/* No entry_key: entries are only inserted through ht_find_pos/ht_insert_at with an mkey_t. */
static const ht_type_t map_type = {map_hash_key, map_hash_entry, map_key_eq, NULL, NULL};

/* Node heights only need to differ between sets; loader threads create sets too, hence atomic. */
static uint64_t
zsl_seed(void) {
    static _Atomic uint64_t ctr = 0x2545F4914F6CDD1Dull;
    return atomic_fetch_add(&ctr, 0x9E3779B97F4A7C15ull);
}

static zset_big_t *
big_new(void) {
    zset_big_t *b = kmalloc(sizeof *b);
    b->zsl = zsl_new(zsl_seed());
    b->map = ht_create(&map_type);
    ASSERT(b->zsl && b->map); /* out of memory: the server cannot go on, as kmalloc */
    return b;
}

static void
big_free(zset_big_t *b) {
    ht_release(b->map);
    zsl_free(b->zsl);
    kfree(b);
}

static zsl_node_t *
big_find(zset_big_t *b, const void *m, size_t n) {
    mkey_t k = {m, n};
    return ht_find(b->map, &k);
}

/* Inserts a member known to be absent. */
static void
big_insert(zset_big_t *b, double score, const void *m, size_t n) {
    zsl_node_t *node;
    int rc = zsl_insert(b->zsl, score, m, n, &node);
    ASSERT(rc == 0);
    mkey_t k = {m, n};
    ht_pos_t pos;
    void *dup = ht_find_pos(b->map, &k, &pos);
    ASSERT(dup == NULL);
    ht_insert_at(b->map, &pos, node);
}

static void
big_delete(zset_big_t *b, zsl_node_t *node) {
    size_t n;
    const uint8_t *m = zsl_node_member(node, &n);
    mkey_t k = {m, n};
    void *e = ht_pop(b->map, &k); /* before zsl_delete frees the bytes k points at */
    ASSERT(e == node);
    int rc = zsl_delete(b->zsl, zsl_node_score(node), m, n);
    ASSERT(rc == 0);
}

static void
big_deleted_cb(void *ctx, const uint8_t *m, size_t n, double score) {
    (void)score;
    mkey_t k = {m, n};
    void *e = ht_pop(ctx, &k);
    ASSERT(e != NULL);
}

/* ---- the packed-list encoding ---- */

/* The score stored in the entry at p. */
static double
zl_score_at(const uint8_t *p) {
    lp_val_t v;
    lp_get(p, &v);
    if (!v.str)
        return (double)v.ival;
    char buf[LP_DBLBUF_MAX + 16];
    size_t n = v.len < sizeof buf - 1 ? v.len : sizeof buf - 1;
    memcpy(buf, v.str, n);
    buf[n] = '\0';
    return strtod(buf, NULL);
}

static void
zl_elem_at(uint8_t *lp, uint8_t *p, zset_elem_t *e) {
    e->m = lp_get_str(p, &e->n, e->buf);
    e->score = zl_score_at(lp_next(lp, p));
}

static int
zl_member_cmp(const uint8_t *p, const void *m, size_t n) {
    char buf[LP_INTBUF_MAX];
    size_t len;
    const uint8_t *s = lp_get_str(p, &len, buf);
    return member_cmp(s, len, m, n);
}

static uint8_t *
zl_find(uint8_t *lp, const void *m, size_t n, double *score) {
    uint8_t *p = lp_first(lp);
    if (!p)
        return NULL;
    p = lp_find(lp, p, m, n, 1);
    if (p && score)
        *score = zl_score_at(lp_next(lp, p));
    return p;
}

/* The text a score is stored as: an integral score as its integer (lp then stores an integer
 * entry), anything else as the shortest text that reads back the same. -0 stays "-0" (a string)
 * so the sign survives, as in Valkey. */
static size_t
zl_score_text(double score, char buf[LP_DBLBUF_MAX]) {
    if (score == floor(score) && fabs(score) < 9.2e18 && !(score == 0 && signbit(score)))
        return lp_int_to_string((int64_t)score, buf);
    return lp_dtoa(score, buf);
}

/* Inserts a member known to be absent at its place in the order. */
static void
zl_insert(uint8_t **lpp, double score, const void *m, size_t n) {
    char sbuf[LP_DBLBUF_MAX];
    size_t slen = zl_score_text(score, sbuf);
    uint8_t *p = lp_first(*lpp);
    while (p) {
        uint8_t *s = lp_next(*lpp, p);
        double cur = zl_score_at(s);
        if (cur > score || (cur == score && zl_member_cmp(p, m, n) > 0))
            break;
        p = lp_next(*lpp, s);
    }
    int rc;
    if (!p) {
        rc = lp_append(lpp, m, n);
        if (rc == 0)
            rc = lp_append(lpp, sbuf, slen);
    } else {
        uint8_t *np;
        rc = lp_insert(lpp, p, LP_BEFORE, m, n, &np);
        if (rc == 0)
            rc = lp_insert(lpp, np, LP_AFTER, sbuf, slen, NULL);
    }
    ASSERT(rc == 0); /* sizes are checked before (zl_fits); only out-of-memory is left */
}

/* Deletes the pair whose member entry is p; returns the next member entry or NULL. */
static uint8_t *
zl_delete_at(uint8_t **lpp, uint8_t *p) {
    uint8_t *next;
    int rc = lp_delete(lpp, p, &next);
    ASSERT(rc == 0 && next);
    rc = lp_delete(lpp, next, &next);
    ASSERT(rc == 0);
    return next;
}

/* Whether one more pair with an n-byte member still fits the blob's hard size limit. */
static bool
zl_fits(const uint8_t *lp, size_t n) {
    return lp_fits(lp_bytes(lp), n + 16 + LP_DBLBUF_MAX);
}

/* ---- conversions ---- */

static void
ref_to_big(zref_t *z) {
    ASSERT(z->enc == OBJ_ENC_LISTPACK);
    uint8_t *lp = z->ptr;
    zset_big_t *b = big_new();
    zset_elem_t e;
    for (uint8_t *p = lp_first(lp); p; p = lp_next(lp, lp_next(lp, p))) {
        zl_elem_at(lp, p, &e);
        big_insert(b, e.score, e.m, e.n);
    }
    lp_free(lp);
    z->ptr = b;
    z->enc = OBJ_ENC_SKIPLIST;
}

static uint64_t
ref_len(const zref_t *z) {
    if (z->enc == OBJ_ENC_LISTPACK)
        return lp_count(z->ptr) / 2;
    return zsl_len(((zset_big_t *)z->ptr)->zsl);
}

static zref_t
ref_new(size_t size_hint, size_t len_hint, const zset_limits_t *lim) {
    if (size_hint <= lim->entries_max && len_hint <= lim->value_max) {
        uint8_t *lp = lp_new();
        ASSERT(lp);
        return (zref_t){lp, OBJ_ENC_LISTPACK};
    }
    return (zref_t){big_new(), OBJ_ENC_SKIPLIST};
}

kobj_t *
zset_new_obj(const char *key, size_t klen, size_t size_hint, size_t len_hint,
             const zset_limits_t *lim) {
    zref_t z = ref_new(size_hint, len_hint, lim);
    return obj_new_ptr(OBJ_ZSET, z.enc, key, klen, z.ptr, -1);
}

void
zset_maybe_grow(kobj_t *o, size_t size_hint, size_t len_hint, const zset_limits_t *lim) {
    zref_t z = ref_of(o);
    if (z.enc == OBJ_ENC_LISTPACK && (size_hint > lim->entries_max || len_hint > lim->value_max)) {
        ref_to_big(&z);
        ref_store(o, &z);
    }
}

uint64_t
zset_len(const kobj_t *o) {
    zref_t z = ref_of(o);
    return ref_len(&z);
}

static int
ref_score(const zref_t *z, const void *m, size_t n, double *score) {
    if (z->enc == OBJ_ENC_LISTPACK)
        return zl_find(z->ptr, m, n, score) ? 0 : KERR_NOTFOUND;
    zsl_node_t *node = big_find(z->ptr, m, n);
    if (!node)
        return KERR_NOTFOUND;
    *score = zsl_node_score(node);
    return 0;
}

int
zset_score(const kobj_t *o, const void *m, size_t n, double *score) {
    zref_t z = ref_of(o);
    return ref_score(&z, m, n, score);
}

/* Applies INCR/GT/LT to an existing member's score; false when the options say no-op. */
static bool
add_resolve_existing(double cur, double *score, int in, int *out) {
    if (in & ZADD_IN_NX) {
        *out |= ZADD_OUT_NOP;
        return false;
    }
    if (in & ZADD_IN_INCR) {
        *score += cur;
        if (isnan(*score)) {
            *out |= ZADD_OUT_NAN;
            return false;
        }
    }
    if (((in & ZADD_IN_LT) && *score >= cur) || ((in & ZADD_IN_GT) && *score <= cur)) {
        *out |= ZADD_OUT_NOP;
        return false;
    }
    return true;
}

static int
ref_add(zref_t *z, const zset_limits_t *lim, double score, const void *m, size_t n, int in,
        int *out, double *newscore) {
    *out = 0;
    if (isnan(score)) {
        *out = ZADD_OUT_NAN;
        return KERR_INVAL;
    }
    if (z->enc == OBJ_ENC_LISTPACK) {
        uint8_t *lp = z->ptr;
        double cur;
        uint8_t *p = zl_find(lp, m, n, &cur);
        if (p) {
            if (!add_resolve_existing(cur, &score, in, out))
                return (*out & ZADD_OUT_NAN) ? KERR_INVAL : 0;
            *newscore = score;
            if (score != cur) {
                zl_delete_at(&lp, p);
                zl_insert(&lp, score, m, n);
                z->ptr = lp;
                *out |= ZADD_OUT_UPDATED;
            }
            return 0;
        }
        if (in & ZADD_IN_XX) {
            *out |= ZADD_OUT_NOP;
            return 0;
        }
        if (lp_count(lp) / 2 + 1 <= lim->entries_max && n <= lim->value_max && zl_fits(lp, n)) {
            zl_insert(&lp, score, m, n);
            z->ptr = lp;
            *newscore = score;
            *out |= ZADD_OUT_ADDED;
            return 0;
        }
        ref_to_big(z); /* and add below */
    }
    zset_big_t *b = z->ptr;
    zsl_node_t *node = big_find(b, m, n);
    if (node) {
        double cur = zsl_node_score(node);
        if (!add_resolve_existing(cur, &score, in, out))
            return (*out & ZADD_OUT_NAN) ? KERR_INVAL : 0;
        *newscore = score;
        if (score != cur) {
            size_t len;
            const uint8_t *mm = zsl_node_member(node, &len);
            int rc = zsl_update_score(b->zsl, cur, mm, len, score, NULL);
            ASSERT(rc == 0); /* the node stays the same: the map's entry is still right */
            *out |= ZADD_OUT_UPDATED;
        }
        return 0;
    }
    if (in & ZADD_IN_XX) {
        *out |= ZADD_OUT_NOP;
        return 0;
    }
    big_insert(b, score, m, n);
    *newscore = score;
    *out |= ZADD_OUT_ADDED;
    return 0;
}

int
zset_add(kobj_t *o, const zset_limits_t *lim, double score, const void *m, size_t n, int in,
         int *out, double *newscore) {
    zref_t z = ref_of(o);
    int rc = ref_add(&z, lim, score, m, n, in, out, newscore);
    ref_store(o, &z);
    return rc;
}

int
zset_del(kobj_t *o, const void *m, size_t n) {
    zref_t z = ref_of(o);
    if (z.enc == OBJ_ENC_LISTPACK) {
        uint8_t *lp = z.ptr;
        uint8_t *p = zl_find(lp, m, n, NULL);
        if (!p)
            return 0;
        zl_delete_at(&lp, p);
        z.ptr = lp;
        ref_store(o, &z);
        return 1;
    }
    zsl_node_t *node = big_find(z.ptr, m, n);
    if (!node)
        return 0;
    big_delete(z.ptr, node);
    return 1;
}

int
zset_rank(const kobj_t *o, const void *m, size_t n, bool rev, uint64_t *rank, double *score) {
    zref_t z = ref_of(o);
    uint64_t len = ref_len(&z), r = 0;
    if (z.enc == OBJ_ENC_LISTPACK) {
        uint8_t *lp = z.ptr, *p = lp_first(lp);
        while (p && !lp_eq(p, m, n)) {
            p = lp_next(lp, lp_next(lp, p));
            r++;
        }
        if (!p)
            return KERR_NOTFOUND;
        *score = zl_score_at(lp_next(lp, p));
    } else {
        zset_big_t *b = z.ptr;
        zsl_node_t *node = big_find(b, m, n);
        if (!node)
            return KERR_NOTFOUND;
        *score = zsl_node_score(node);
        int rc = zsl_rank(b->zsl, *score, m, n, &r);
        ASSERT(rc == 0);
    }
    *rank = rev ? len - 1 - r : r;
    return 0;
}

/* ---- iteration ---- */

static void
iter_start(zset_iter_t *it, const zref_t *z, bool rev) {
    memset(it, 0, sizeof *it);
    it->enc = z->enc;
    it->rev = rev;
    if (z->enc == OBJ_ENC_LISTPACK)
        it->lp = z->ptr;
}

void
zset_iter_rank(zset_iter_t *it, const kobj_t *o, uint64_t rank, bool rev) {
    zref_t z = ref_of(o);
    iter_start(it, &z, rev);
    uint64_t len = ref_len(&z);
    if (rank >= len)
        return;
    uint64_t fwd = rev ? len - 1 - rank : rank;
    if (z.enc == OBJ_ENC_LISTPACK)
        it->p = lp_seek(it->lp, (long)(2 * fwd));
    else
        it->node = zsl_by_rank(((zset_big_t *)z.ptr)->zsl, fwd);
}

void
zset_iter_score(zset_iter_t *it, const kobj_t *o, const zsl_range_t *r, bool rev) {
    zref_t z = ref_of(o);
    iter_start(it, &z, rev);
    if (z.enc == OBJ_ENC_SKIPLIST) {
        zset_big_t *b = z.ptr;
        it->node = rev ? zsl_last_in_range(b->zsl, r) : zsl_first_in_range(b->zsl, r);
        return;
    }
    uint8_t *lp = it->lp, *p;
    if (!rev) {
        for (p = lp_first(lp); p; p = lp_next(lp, lp_next(lp, p)))
            if (score_gte_min(zl_score_at(lp_next(lp, p)), r))
                break;
    } else {
        p = lp_last(lp);
        for (p = p ? lp_prev(lp, p) : NULL; p; p = lp_prev(lp, lp_prev(lp, p)))
            if (score_lte_max(zl_score_at(lp_next(lp, p)), r))
                break;
    }
    if (p && !zsl_score_in_range(zl_score_at(lp_next(lp, p)), r))
        p = NULL;
    it->p = p;
}

void
zset_iter_lex(zset_iter_t *it, const kobj_t *o, const zsl_lex_range_t *r, bool rev) {
    zref_t z = ref_of(o);
    iter_start(it, &z, rev);
    if (z.enc == OBJ_ENC_SKIPLIST) {
        zset_big_t *b = z.ptr;
        it->node = rev ? zsl_last_in_lex_range(b->zsl, r) : zsl_first_in_lex_range(b->zsl, r);
        return;
    }
    uint8_t *lp = it->lp, *p;
    zset_elem_t e;
    if (!rev) {
        for (p = lp_first(lp); p; p = lp_next(lp, lp_next(lp, p))) {
            zl_elem_at(lp, p, &e);
            if (lex_gte_min(e.m, e.n, &r->min))
                break;
        }
    } else {
        p = lp_last(lp);
        for (p = p ? lp_prev(lp, p) : NULL; p; p = lp_prev(lp, lp_prev(lp, p))) {
            zl_elem_at(lp, p, &e);
            if (lex_lte_max(e.m, e.n, &r->max))
                break;
        }
    }
    if (p) {
        zl_elem_at(lp, p, &e);
        if (!zsl_member_in_lex_range(e.m, e.n, r))
            p = NULL;
    }
    it->p = p;
}

bool
zset_iter_next(zset_iter_t *it, zset_elem_t *e) {
    if (it->enc == OBJ_ENC_LISTPACK) {
        if (!it->p)
            return false;
        zl_elem_at(it->lp, it->p, e);
        if (!it->rev) {
            it->p = lp_next(it->lp, lp_next(it->lp, it->p));
        } else {
            uint8_t *s = lp_prev(it->lp, it->p);
            it->p = s ? lp_prev(it->lp, s) : NULL;
        }
        return true;
    }
    if (!it->node)
        return false;
    e->m = zsl_node_member(it->node, &e->n);
    e->score = zsl_node_score(it->node);
    it->node = it->rev ? zsl_prev(it->node) : zsl_next(it->node);
    return true;
}

void
zset_at_rank(const kobj_t *o, uint64_t rank, zset_elem_t *e) {
    zset_iter_t it;
    zset_iter_rank(&it, o, rank, false);
    bool ok = zset_iter_next(&it, e);
    ASSERT(ok);
}

/* ---- counting and range deletes ---- */

/* Elements from first to last inclusive (both in zsl, first not after last), from their ranks:
 * O(log n) however long the span. */
static uint64_t
span_len(const zsl_t *zsl, zsl_node_t *first, zsl_node_t *last) {
    uint64_t r1, r2;
    size_t n1, n2;
    const uint8_t *m1 = zsl_node_member(first, &n1), *m2 = zsl_node_member(last, &n2);
    int rc = zsl_rank(zsl, zsl_node_score(first), m1, n1, &r1);
    rc |= zsl_rank(zsl, zsl_node_score(last), m2, n2, &r2);
    ASSERT(rc == 0 && r2 >= r1);
    return r2 - r1 + 1;
}

uint64_t
zset_count_score(const kobj_t *o, const zsl_range_t *r) {
    zref_t z = ref_of(o);
    if (z.enc == OBJ_ENC_SKIPLIST) {
        zset_big_t *b = z.ptr;
        zsl_node_t *first = zsl_first_in_range(b->zsl, r);
        if (!first)
            return 0;
        return span_len(b->zsl, first, zsl_last_in_range(b->zsl, r));
    }
    zset_iter_t it;
    zset_elem_t e;
    uint64_t count = 0;
    zset_iter_score(&it, o, r, false);
    while (zset_iter_next(&it, &e) && score_lte_max(e.score, r))
        count++;
    return count;
}

uint64_t
zset_count_lex(const kobj_t *o, const zsl_lex_range_t *r) {
    zref_t z = ref_of(o);
    if (z.enc == OBJ_ENC_SKIPLIST) {
        zset_big_t *b = z.ptr;
        zsl_node_t *first = zsl_first_in_lex_range(b->zsl, r);
        if (!first)
            return 0;
        return span_len(b->zsl, first, zsl_last_in_lex_range(b->zsl, r));
    }
    zset_iter_t it;
    zset_elem_t e;
    uint64_t count = 0;
    zset_iter_lex(&it, o, r, false);
    while (zset_iter_next(&it, &e) && lex_lte_max(e.m, e.n, &r->max))
        count++;
    return count;
}

uint64_t
zset_del_rank(kobj_t *o, uint64_t start, uint64_t stop) {
    zref_t z = ref_of(o);
    ASSERT(start <= stop && stop < ref_len(&z));
    if (z.enc == OBJ_ENC_SKIPLIST) {
        zset_big_t *b = z.ptr;
        return zsl_delete_range_by_rank(b->zsl, start, stop, big_deleted_cb, b->map);
    }
    uint8_t *lp = z.ptr;
    int rc = lp_delete_range(&lp, (long)(2 * start), (unsigned long)(2 * (stop - start + 1)));
    ASSERT(rc == 0);
    z.ptr = lp;
    ref_store(o, &z);
    return stop - start + 1;
}

/* Packed list: deletes pairs from the first one `in` accepts for as long as it accepts them. */
static uint64_t
zl_delete_while(kobj_t *o, uint8_t *p, bool (*in)(const zset_elem_t *e, const void *r),
                const void *r) {
    zref_t z = ref_of(o);
    uint8_t *lp = z.ptr;
    uint64_t n = 0;
    zset_elem_t e;
    while (p) {
        zl_elem_at(lp, p, &e);
        if (!in(&e, r))
            break;
        p = zl_delete_at(&lp, p);
        n++;
    }
    z.ptr = lp;
    ref_store(o, &z);
    return n;
}

static bool
in_score_max(const zset_elem_t *e, const void *r) {
    return score_lte_max(e->score, r);
}

static bool
in_lex_max(const zset_elem_t *e, const void *r) {
    return lex_lte_max(e->m, e->n, &((const zsl_lex_range_t *)r)->max);
}

uint64_t
zset_del_score(kobj_t *o, const zsl_range_t *r) {
    zref_t z = ref_of(o);
    if (z.enc == OBJ_ENC_SKIPLIST) {
        zset_big_t *b = z.ptr;
        return zsl_delete_range_by_score(b->zsl, r, big_deleted_cb, b->map);
    }
    zset_iter_t it;
    zset_iter_score(&it, o, r, false);
    return zl_delete_while(o, it.p, in_score_max, r);
}

uint64_t
zset_del_lex(kobj_t *o, const zsl_lex_range_t *r) {
    zref_t z = ref_of(o);
    if (z.enc == OBJ_ENC_SKIPLIST) {
        zset_big_t *b = z.ptr;
        return zsl_delete_range_by_lex(b->zsl, r, big_deleted_cb, b->map);
    }
    zset_iter_t it;
    zset_iter_lex(&it, o, r, false);
    return zl_delete_while(o, it.p, in_lex_max, r);
}

/* ---- scan ---- */

typedef struct scan_ctx {
    zset_scan_fn *fn;
    void *ctx;
} scan_ctx_t;

static void
scan_entry_cb(void *priv, void *entry) {
    scan_ctx_t *s = priv;
    size_t n;
    const uint8_t *m = zsl_node_member(entry, &n);
    s->fn(s->ctx, m, n, zsl_node_score(entry));
}

uint64_t
zset_scan(const kobj_t *o, uint64_t cursor, zset_scan_fn *fn, void *ctx) {
    zref_t z = ref_of(o);
    ASSERT(z.enc == OBJ_ENC_SKIPLIST);
    scan_ctx_t s = {fn, ctx};
    return ht_scan(((zset_big_t *)z.ptr)->map, cursor, scan_entry_cb, &s);
}

/* ---- building a whole set ---- */

kobj_t *
zset_build_sorted(const char *key, size_t klen, const zset_buf_elem_t *v, size_t count,
                  const zset_limits_t *lim) {
    size_t maxlen = 0, total = 0;
    for (size_t i = 0; i < count; i++) {
        maxlen = v[i].n > maxlen ? v[i].n : maxlen;
        total += v[i].n + 16 + LP_DBLBUF_MAX;
    }
    zref_t z = ref_new(count, maxlen, lim);
    if (z.enc == OBJ_ENC_LISTPACK && !lp_fits(lp_bytes(z.ptr), total))
        ref_to_big(&z);
    for (size_t i = 0; i < count; i++) {
        if (z.enc == OBJ_ENC_LISTPACK) {
            char sbuf[LP_DBLBUF_MAX];
            size_t slen = zl_score_text(v[i].score, sbuf);
            uint8_t *lp = z.ptr;
            int rc = lp_append(&lp, v[i].m, v[i].n);
            rc |= lp_append(&lp, sbuf, slen);
            ASSERT(rc == 0);
            z.ptr = lp;
        } else {
            big_insert(z.ptr, v[i].score, v[i].m, v[i].n);
        }
    }
    return obj_new_ptr(OBJ_ZSET, z.enc, key, klen, z.ptr, -1);
}

/* ---- type hooks (object.h) ---- */

static void
ops_free(void *ptr, int enc) {
    if (enc == OBJ_ENC_LISTPACK)
        lp_free(ptr);
    else
        big_free(ptr);
}

static void *
ops_dup(const void *ptr, int enc) {
    if (enc == OBJ_ENC_LISTPACK) {
        size_t n = lp_bytes(ptr);
        uint8_t *c = kmalloc(n); /* lp_free() is kfree() */
        memcpy(c, ptr, n);
        return c;
    }
    const zset_big_t *b = ptr;
    zset_big_t *c = big_new();
    for (zsl_node_t *x = zsl_first(b->zsl); x; x = zsl_next(x)) {
        size_t n;
        const uint8_t *m = zsl_node_member(x, &n);
        big_insert(c, zsl_node_score(x), m, n);
    }
    return c;
}

/* MEMORY USAGE: the packed list exactly; the skiplist from its first nodes' sizes, as Valkey
 * samples (a full walk would make MEMORY USAGE O(n)). */
static size_t
ops_mem(const void *ptr, int enc) {
    if (enc == OBJ_ENC_LISTPACK)
        return lp_bytes(ptr);
    const zset_big_t *b = ptr;
    uint64_t len = zsl_len(b->zsl), seen = 0;
    size_t sampled = 0;
    for (zsl_node_t *x = zsl_first(b->zsl); x && seen < 16; x = zsl_next(x), seen++) {
        size_t n;
        zsl_node_member(x, &n);
        sampled += 48 + n + 16 * 4 / 3; /* header, member, about 1.33 levels on average */
    }
    size_t nodes = seen ? (size_t)((double)sampled / (double)seen * (double)len) : 0;
    return sizeof *b + ht_mem_bytes(b->map) + nodes + 64 * 32 /* skiplist header node */;
}

static uint64_t
ops_count(const void *ptr, int enc) {
    zref_t z = {(void *)ptr, enc};
    return ref_len(&z);
}

static void
ops_each(const void *ptr, int enc, void (*cb)(void *ctx, const char *p, size_t n, double score),
         void *ctx) {
    if (enc == OBJ_ENC_LISTPACK) {
        uint8_t *lp = (uint8_t *)ptr;
        zset_elem_t e;
        for (uint8_t *p = lp_first(lp); p; p = lp_next(lp, lp_next(lp, p))) {
            zl_elem_at(lp, p, &e);
            cb(ctx, (const char *)e.m, e.n, e.score);
        }
        return;
    }
    const zset_big_t *b = ptr;
    for (zsl_node_t *x = zsl_first(b->zsl); x; x = zsl_next(x)) {
        size_t n;
        const uint8_t *m = zsl_node_member(x, &n);
        cb(ctx, (const char *)m, n, zsl_node_score(x));
    }
}

/* The configured limits, given to zset_type_init (the configuration owns the values, so
 * CONFIG SET changes them at once); Valkey's defaults before that. */
static const long long *cfg_entries_max, *cfg_value_max;

/* For the paths that have no caller's limits (snapshot load, dup). */
static zset_limits_t
current_limits(void) {
    zset_limits_t lim = {128, 64};
    if (cfg_entries_max && cfg_value_max) {
        lim.entries_max = (size_t)*cfg_entries_max;
        lim.value_max = (size_t)*cfg_value_max;
    }
    return lim;
}

static void *
ops_create(uint64_t hint, int *enc) {
    zset_limits_t lim = current_limits();
    zref_t z = ref_new((size_t)hint, 0, &lim);
    *enc = z.enc;
    return z.ptr;
}

static int
ops_add(void **ptr, int *enc, const char *p, size_t n, double score) {
    if (isnan(score))
        return KERR_INVAL;
    zref_t z = {*ptr, *enc};
    double cur;
    if (ref_score(&z, p, n, &cur) == 0)
        return KERR_EXISTS;
    zset_limits_t lim = current_limits();
    int out;
    double ns;
    int rc = ref_add(&z, &lim, score, p, n, 0, &out, &ns);
    *ptr = z.ptr;
    *enc = z.enc;
    return rc;
}

static const obj_type_ops_t zset_ops = {
    .free = ops_free,
    .dup = ops_dup,
    .mem = ops_mem,
    .name = "zset",
    .count = ops_count,
    .each = ops_each,
    .create = ops_create,
    .add = ops_add,
};

void
zset_type_init(const long long *entries_max, const long long *value_max) {
    cfg_entries_max = entries_max;
    cfg_value_max = value_max;
    obj_register_type(OBJ_ZSET, &zset_ops);
}
