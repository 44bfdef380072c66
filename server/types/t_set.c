/*
 * t_set.c - the set value type (see t_set.h): intset, packed list, or hash table.
 *
 * Hash-table entries are one allocation each, a u32 length followed by the member bytes; the
 * table's lookup key is a karg_t {bytes, length}.
 *
 * The conversion rules follow Valkey 8's setTypeAddAux so that OBJECT ENCODING answers the same:
 *  1. intset + integer: insert; past intset_max members -> table.
 *  2. intset + other string: -> packed list if the set has fewer than lp_entries_max members, the
 *     new member and the widest integer fit lp_value_max and the blob fits; else -> table.
 *  3. packed list + new member: append if it has fewer than lp_entries_max members, the member
 *     fits lp_value_max and the blob fits; else -> table.
 */
#include "t_set.h"

#include <stdlib.h>
#include <string.h>

#include "kassert.h"
#include "kerr.h"
#include "kmem.h"
#include "intset.h"
#include "lp.h"
#include "slice.h"

typedef struct sent {
    uint32_t n;
    char buf[];
} sent_t;

#define SENT_LEN_max       UINT32_MAX
#define INTSET_ENTRIES_CAP (1u << 30) /* as Valkey's intsetMaxEntries() */

static uint64_t
sent_hash_key(const void *key) {
    const karg_t *k = key;
    return ht_hash_bytes(k->p, k->n);
}

static uint64_t
sent_hash_entry(const void *entry) {
    const sent_t *e = entry;
    return ht_hash_bytes(e->buf, e->n);
}

static int
sent_key_eq(const void *entry, const void *key) {
    const sent_t *e = entry;
    const karg_t *k = key;
    return e->n == k->n && memcmp(e->buf, k->p, k->n) == 0;
}

static void
sent_free(void *entry) {
    kfree(entry);
}

static const ht_type_t sent_type = {sent_hash_key, sent_hash_entry, sent_key_eq, sent_free, NULL};

/* 1 inserted, 0 present. */
static int
ht_put(ht_t *t, const char *p, size_t n) {
    karg_t k = {p, n};
    ht_pos_t pos;
    if (ht_find_pos(t, &k, &pos))
        return 0;
    sent_t *e = kmalloc(sizeof *e + n);
    e->n = (uint32_t)n;
    memcpy(e->buf, p, n);
    ht_insert_at(t, &pos, e);
    return 1;
}

static void
lp_sval(const uint8_t *p, sval_t *out) {
    lp_val_t lv;
    lp_get(p, &lv);
    if (lv.str)
        *out = (sval_t){(const char *)lv.str, lv.len, 0};
    else
        *out = (sval_t){NULL, 0, lv.ival};
}

const char *
sval_bytes(const sval_t *v, char *buf, size_t *n) {
    if (v->p) {
        *n = v->n;
        return v->p;
    }
    *n = lp_int_to_string(v->i, buf);
    return buf;
}

static size_t
intset_cap(const set_limits_t *lim) {
    return lim->intset_max < INTSET_ENTRIES_CAP ? lim->intset_max : INTSET_ENTRIES_CAP;
}

tset_t
set_new(const char *first, size_t n, size_t hint, const set_limits_t *lim) {
    int64_t v;
    if (lp_string_to_int(first, n, &v) && hint <= intset_cap(lim)) {
        intset_t *is = intset_new();
        ASSERT(is);
        return (tset_t){is, OBJ_ENC_INTSET};
    }
    if (hint <= lim->lp_entries_max) {
        uint8_t *lp = lp_new();
        ASSERT(lp);
        return (tset_t){lp, OBJ_ENC_LISTPACK};
    }
    ht_t *t = ht_create(&sent_type);
    ASSERT(t);
    return (tset_t){t, OBJ_ENC_HT};
}

void
set_release(tset_t *s) {
    switch (s->enc) {
    case OBJ_ENC_INTSET: intset_free(s->p); break;
    case OBJ_ENC_LISTPACK: lp_free(s->p); break;
    default: ht_release(s->p); break;
    }
    s->p = NULL;
}

uint64_t
set_len(const tset_t *s) {
    switch (s->enc) {
    case OBJ_ENC_INTSET: return intset_len(s->p);
    case OBJ_ENC_LISTPACK: return lp_count(s->p);
    default: return ht_size(s->p);
    }
}

static void
set_convert_to_ht(tset_t *s) {
    if (s->enc == OBJ_ENC_HT)
        return;
    ht_t *t = ht_create(&sent_type);
    ASSERT(t);
    set_iter_t it;
    sval_t m;
    char buf[LP_INTBUF_MAX];
    set_iter_init(&it, s);
    while (set_iter_next(&it, &m)) {
        size_t n;
        const char *p = sval_bytes(&m, buf, &n);
        ht_put(t, p, n);
    }
    set_iter_done(&it);
    set_release(s);
    *s = (tset_t){t, OBJ_ENC_HT};
}

static void
set_convert_to_lp(tset_t *s) {
    ASSERT(s->enc == OBJ_ENC_INTSET);
    uint8_t *lp = lp_new();
    ASSERT(lp);
    intset_t *is = s->p;
    for (uint32_t i = 0; i < intset_len(is); i++) {
        int64_t v;
        intset_get(is, i, &v);
        ASSERT(lp_append_int(&lp, v) == 0);
    }
    intset_free(is);
    *s = (tset_t){lp, OBJ_ENC_LISTPACK};
}

void
set_prepare(tset_t *s, size_t hint, const set_limits_t *lim) {
    if ((s->enc == OBJ_ENC_LISTPACK && hint > lim->lp_entries_max) ||
        (s->enc == OBJ_ENC_INTSET && hint > intset_cap(lim)))
        set_convert_to_ht(s);
}

static tset_t
set_dup(const tset_t *s) {
    if (s->enc == OBJ_ENC_INTSET || s->enc == OBJ_ENC_LISTPACK) {
        size_t n = s->enc == OBJ_ENC_INTSET ? intset_bytes(s->p) : lp_bytes(s->p);
        void *copy = kmalloc(n); /* intset_free and lp_free give it back through kfree */
        memcpy(copy, s->p, n);
        return (tset_t){copy, s->enc};
    }
    ht_t *t = ht_create(&sent_type);
    ASSERT(t);
    set_iter_t it;
    sval_t m;
    set_iter_init(&it, s);
    while (set_iter_next(&it, &m))
        ht_put(t, m.p, m.n);
    set_iter_done(&it);
    return (tset_t){t, OBJ_ENC_HT};
}

static size_t
set_mem(const tset_t *s) {
    enum { SAMPLE_max = 1024 };
    if (s->enc == OBJ_ENC_INTSET)
        return intset_bytes(s->p);
    if (s->enc == OBJ_ENC_LISTPACK)
        return lp_bytes(s->p);
    size_t n = 0, bytes = 0;
    set_iter_t it;
    sval_t m;
    set_iter_init(&it, s);
    while (n < SAMPLE_max && set_iter_next(&it, &m)) {
        bytes += kmem_usable(m.p - offsetof(sent_t, buf));
        n++;
    }
    set_iter_done(&it);
    if (n)
        bytes = (size_t)((double)bytes * (double)ht_size(s->p) / (double)n);
    return ht_mem_bytes(s->p) + bytes;
}

/* Rule 2: whether an intset may become a packed list to take a string member of n bytes. */
static bool
intset_fits_lp(const intset_t *is, size_t n, const set_limits_t *lim) {
    uint32_t len = intset_len(is);
    size_t widest = 0;
    if (len) {
        char buf[LP_INTBUF_MAX];
        size_t a = lp_int_to_string(intset_max(is), buf);
        size_t b = lp_int_to_string(intset_min(is), buf);
        widest = a > b ? a : b;
    }
    /* An integer entry takes at most 9 bytes plus a 1-byte back-length. */
    return len < lim->lp_entries_max && n <= lim->lp_value_max && widest <= lim->lp_value_max &&
           lp_fits(16, (size_t)len * 10 + n + 10);
}

static int
intset_add_member(tset_t *s, const char *p, size_t n, const set_limits_t *lim) {
    int64_t v;
    if (lp_string_to_int(p, n, &v)) {
        intset_t *is = s->p;
        int added = 0;
        if (intset_add(&is, v, &added) == 0) {
            s->p = is;
            if (added && intset_len(is) > intset_cap(lim))
                set_convert_to_ht(s);
            return added;
        }
        set_convert_to_ht(s); /* the intset hit its own size limit */
        return ht_put(s->p, p, n);
    }
    if (intset_fits_lp(s->p, n, lim)) {
        set_convert_to_lp(s);
        uint8_t *lp = s->p;
        ASSERT(lp_append(&lp, p, n) == 0);
        s->p = lp;
        return 1;
    }
    set_convert_to_ht(s);
    return ht_put(s->p, p, n);
}

int
set_add(tset_t *s, const char *p, size_t n, const set_limits_t *lim) {
    if (n > SENT_LEN_max)
        return KERR_LIMIT;
    if (s->enc == OBJ_ENC_INTSET)
        return intset_add_member(s, p, n, lim);
    if (s->enc == OBJ_ENC_LISTPACK) {
        uint8_t *lp = s->p;
        if (lp_find(lp, lp_first(lp), p, n, 0))
            return 0;
        if (lp_count(lp) < lim->lp_entries_max && n <= lim->lp_value_max &&
            lp_fits(lp_bytes(lp), lp_entry_size(p, n)) && lp_append(&lp, p, n) == 0) {
            s->p = lp;
            return 1;
        }
        set_convert_to_ht(s);
    }
    return ht_put(s->p, p, n);
}

int
set_remove(tset_t *s, const char *p, size_t n) {
    if (s->enc == OBJ_ENC_INTSET) {
        int64_t v;
        int removed = 0;
        if (!lp_string_to_int(p, n, &v))
            return 0;
        intset_t *is = s->p;
        intset_remove(&is, v, &removed);
        s->p = is;
        return removed;
    }
    if (s->enc == OBJ_ENC_LISTPACK) {
        uint8_t *lp = s->p;
        uint8_t *e = lp_find(lp, lp_first(lp), p, n, 0);
        if (!e)
            return 0;
        lp_delete(&lp, e, NULL);
        s->p = lp;
        return 1;
    }
    karg_t k = {p, n};
    return ht_delete(s->p, &k);
}

bool
set_contains(const tset_t *s, const char *p, size_t n) {
    if (s->enc == OBJ_ENC_INTSET) {
        int64_t v;
        return lp_string_to_int(p, n, &v) && intset_find(s->p, v);
    }
    if (s->enc == OBJ_ENC_LISTPACK)
        return lp_find(s->p, lp_first(s->p), p, n, 0) != NULL;
    karg_t k = {p, n};
    return ht_find(s->p, &k) != NULL;
}

void
set_iter_init(set_iter_t *it, const tset_t *s) {
    it->s = s;
    it->idx = 0;
    if (s->enc == OBJ_ENC_LISTPACK)
        it->pos = lp_first(s->p);
    else if (s->enc == OBJ_ENC_HT)
        ht_iter_init(&it->hti, s->p);
}

bool
set_iter_next(set_iter_t *it, sval_t *out) {
    if (it->s->enc == OBJ_ENC_INTSET) {
        int64_t v;
        if (intset_get(it->s->p, it->idx, &v) < 0)
            return false;
        it->idx++;
        *out = (sval_t){NULL, 0, v};
        return true;
    }
    if (it->s->enc == OBJ_ENC_LISTPACK) {
        if (!it->pos)
            return false;
        lp_sval(it->pos, out);
        it->pos = lp_next(it->s->p, it->pos);
        return true;
    }
    const sent_t *e = ht_iter_next(&it->hti);
    if (!e)
        return false;
    *out = (sval_t){e->buf, e->n, 0};
    return true;
}

void
set_iter_done(set_iter_t *it) {
    if (it->s->enc == OBJ_ENC_HT)
        ht_iter_done(&it->hti);
}

void
set_collect(const tset_t *s, sval_t *out) {
    set_iter_t it;
    size_t i = 0;
    set_iter_init(&it, s);
    while (set_iter_next(&it, &out[i]))
        i++;
    set_iter_done(&it);
    ASSERT(i == set_len(s));
}

void
set_random(const tset_t *s, uint64_t rnd, sval_t *out) {
    ASSERT(set_len(s) > 0);
    if (s->enc == OBJ_ENC_INTSET) {
        *out = (sval_t){NULL, 0, intset_random(s->p, rnd)};
    } else if (s->enc == OBJ_ENC_LISTPACK) {
        lp_sval(lp_seek(s->p, (long)(rnd % lp_count(s->p))), out);
    } else {
        const sent_t *e = ht_random(s->p);
        *out = (sval_t){e->buf, e->n, 0};
    }
}

typedef struct scan_ctx {
    set_scan_cb fn;
    void *ctx;
} scan_ctx_t;

static void
set_scan_entry_cb(void *privdata, void *entry) {
    scan_ctx_t *sc = privdata;
    const sent_t *e = entry;
    sval_t m = {e->buf, e->n, 0};
    sc->fn(sc->ctx, &m);
}

uint64_t
set_scan(const tset_t *s, uint64_t cursor, set_scan_cb fn, void *ctx) {
    if (s->enc != OBJ_ENC_HT) {
        set_iter_t it;
        sval_t m;
        set_iter_init(&it, s);
        while (set_iter_next(&it, &m))
            fn(ctx, &m);
        set_iter_done(&it);
        return 0;
    }
    scan_ctx_t sc = {fn, ctx};
    return ht_scan(s->p, cursor, set_scan_entry_cb, &sc);
}

/* ---- obj_type_ops_t: free, dup, memory, snapshot element access ---- */

static const long long *cfg_intset_max, *cfg_lp_entries_max, *cfg_lp_value_max;

static size_t
cfg_or(const long long *v, size_t dflt) {
    return !v ? dflt : *v < 0 ? 0 : (size_t)*v;
}

static set_limits_t
load_limits(void) {
    set_limits_t l = {cfg_or(cfg_intset_max, 512), cfg_or(cfg_lp_entries_max, 128),
                      cfg_or(cfg_lp_value_max, 64)};
    return l;
}

static void
ops_free(void *ptr, int enc) {
    tset_t s = {ptr, enc};
    set_release(&s);
}

static void *
ops_dup(const void *ptr, int enc) {
    tset_t s = {(void *)ptr, enc};
    return set_dup(&s).p;
}

static size_t
ops_mem(const void *ptr, int enc) {
    tset_t s = {(void *)ptr, enc};
    return set_mem(&s);
}

static uint64_t
ops_count(const void *ptr, int enc) {
    tset_t s = {(void *)ptr, enc};
    return set_len(&s);
}

static void
ops_each(const void *ptr, int enc, void (*cb)(void *ctx, const char *p, size_t n, double score),
         void *ctx) {
    tset_t s = {(void *)ptr, enc};
    set_iter_t it;
    sval_t m;
    char buf[LP_INTBUF_MAX];
    set_iter_init(&it, &s);
    while (set_iter_next(&it, &m)) {
        size_t n;
        const char *p = sval_bytes(&m, buf, &n);
        cb(ctx, p, n, 0);
    }
    set_iter_done(&it);
}

/* The loader does not know the first member yet: start as an intset when the hint allows one
 * (the first non-integer converts it), as SADD into a new key would. */
static void *
ops_create(uint64_t hint, int *enc) {
    set_limits_t lim = load_limits();
    tset_t s = set_new("0", 1, (size_t)hint, &lim);
    *enc = s.enc;
    return s.p;
}

static int
ops_add(void **ptr, int *enc, const char *p, size_t n, double score) {
    (void)score;
    set_limits_t lim = load_limits();
    tset_t s = {*ptr, *enc};
    int rc = set_add(&s, p, n, &lim);
    *ptr = s.p;
    *enc = s.enc;
    if (rc < 0)
        return rc;
    return rc == 1 ? 0 : KERR_CORRUPT; /* a duplicate member */
}

static const obj_type_ops_t set_ops = {
    .free = ops_free,
    .dup = ops_dup,
    .mem = ops_mem,
    .name = "set",
    .count = ops_count,
    .each = ops_each,
    .create = ops_create,
    .add = ops_add,
};

void
set_type_init(const long long *intset_max, const long long *lp_entries_max,
              const long long *lp_value_max) {
    cfg_intset_max = intset_max;
    cfg_lp_entries_max = lp_entries_max;
    cfg_lp_value_max = lp_value_max;
    obj_register_type(OBJ_SET, &set_ops);
}
