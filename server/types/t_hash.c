/*
 * t_hash.c - the hash value type (see t_hash.h): packed list while small, hash table when large.
 *
 * Hash-table entries are one allocation each, the field followed by the value:
 *
 *   +---------+---------+-------------+-------------+
 *   | fn u32  | vn u32  | field bytes | value bytes |
 *   +---------+---------+-------------+-------------+
 *
 * so a lookup touches the bucket and then one entry, and updating a value reallocates only that
 * entry. The lookup key of the table is a karg_t {bytes, length} of the field.
 *
 * Field expiry (OBJ_ENC_HASH_TTL): a hash that has had a field expiry is a table whose entries
 * all carry 12 more bytes after the value,
 *
 *   +---------+---------+-------------+-------------+------------+--------------+
 *   | fn u32  | vn u32  | field bytes | value bytes | expiry i64 | heap idx u32 |
 *   +---------+---------+-------------+-------------+------------+--------------+
 *
 * (the field's absolute expiry in unix ms, -1 for none, and its place in the heap when it has
 * one; unaligned, read with memcpy), behind a header (hvol_t) holding a binary min-heap, by
 * expiry, of the entries that have one. So the earliest expiry is heap[0]'s, and removing the k
 * due fields of a hash costs O(k log n), whatever its size. A hash without field expiries is
 * exactly what it was (no byte more per entry, no test more per lookup than the encoding's); a
 * field expiry costs 12 bytes per entry of that hash and an 8-byte heap slot per volatile field.
 * A packed list never holds expiries: the first expiry converts it.
 *
 * Heap invariants: heap[0 .. n) are exactly the entries whose expiry is not -1; an entry at
 * heap[i] stores i as its heap idx; a parent's expiry is <= its children's. An entry that is
 * reallocated (its value changed size) is re-pointed in heap[idx].
 *
 * Conversion rules (Valkey's): a packed list becomes a table when, after an insert, it has more
 * than entries_max pairs, when a field or value longer than value_max bytes is written, or when
 * the blob would pass LP_BYTES_MAX. HSET looks ahead at all its arguments first (hash_prepare)
 * so a big HSET converts once instead of after the limit-th insert.
 */
#include "t_hash.h"

#include <stdlib.h>
#include <string.h>

#include "kassert.h"
#include "kerr.h"
#include "kmem.h"
#include "lp.h"

typedef struct hent {
    uint32_t fn, vn;
    char buf[]; /* field, then value */
} hent_t;

#define HENT_PART_max UINT32_MAX

/* The header of an OBJ_ENC_HASH_TTL hash (thash_t.p). */
typedef struct hvol {
    ht_t *t;         /* hent_t entries, each with expiry and heap idx after the value (owned) */
    hent_t **heap;   /* the entries with an expiry, a min-heap by expiry (borrowed from t) */
    uint32_t n, cap; /* entries in the heap, its allocated slots */
} hvol_t;

#define HENT_TTL_BYTES 12 /* expiry i64 + heap idx u32 after the value */

static inline ht_t *
tab(const thash_t *h) {
    return h->enc == OBJ_ENC_HT ? h->p : ((hvol_t *)h->p)->t;
}

static inline int64_t
hent_exp(const hent_t *e) {
    int64_t ms;
    memcpy(&ms, e->buf + e->fn + e->vn, 8);
    return ms;
}

static inline void
hent_set_exp(hent_t *e, int64_t ms) {
    memcpy(e->buf + e->fn + e->vn, &ms, 8);
}

static inline uint32_t
hent_idx(const hent_t *e) {
    uint32_t i;
    memcpy(&i, e->buf + e->fn + e->vn + 8, 4);
    return i;
}

static inline void
hent_set_idx(hent_t *e, uint32_t i) {
    memcpy(e->buf + e->fn + e->vn + 8, &i, 4);
}

/* ---- the expiry heap ---- */

static inline void
heap_put(hvol_t *hv, uint32_t i, hent_t *e) {
    hv->heap[i] = e;
    hent_set_idx(e, i);
}

static void
heap_up(hvol_t *hv, uint32_t i) {
    hent_t *e = hv->heap[i];
    int64_t ms = hent_exp(e);
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (hent_exp(hv->heap[parent]) <= ms)
            break;
        heap_put(hv, i, hv->heap[parent]);
        i = parent;
    }
    heap_put(hv, i, e);
}

static void
heap_down(hvol_t *hv, uint32_t i) {
    hent_t *e = hv->heap[i];
    int64_t ms = hent_exp(e);
    for (;;) {
        uint32_t l = 2 * i + 1, m = i;
        int64_t best = ms;
        if (l < hv->n && hent_exp(hv->heap[l]) < best)
            m = l, best = hent_exp(hv->heap[l]);
        if (l + 1 < hv->n && hent_exp(hv->heap[l + 1]) < best)
            m = l + 1;
        if (m == i)
            break;
        heap_put(hv, i, hv->heap[m]);
        i = m;
    }
    heap_put(hv, i, e);
}

static void
heap_add(hvol_t *hv, hent_t *e) {
    if (hv->n == hv->cap) {
        ASSERT(hv->cap < UINT32_MAX / 2);
        hv->cap = hv->cap ? 2 * hv->cap : 4;
        hv->heap = krealloc(hv->heap, hv->cap * sizeof *hv->heap);
    }
    heap_put(hv, hv->n++, e);
    heap_up(hv, hv->n - 1);
}

static void
heap_remove(hvol_t *hv, uint32_t i) {
    ASSERT(i < hv->n);
    hent_t *last = hv->heap[--hv->n];
    if (i < hv->n) {
        heap_put(hv, i, last);
        heap_down(hv, i);
        heap_up(hv, hent_idx(last));
    }
    if (hv->n == 0) { /* give the slots back when nothing is volatile any more */
        kfree(hv->heap);
        hv->heap = NULL;
        hv->cap = 0;
    } else if (hv->cap > 64 && hv->n < hv->cap / 4) { /* and most of them when few are */
        hv->cap /= 2;
        hv->heap = krealloc(hv->heap, hv->cap * sizeof *hv->heap);
    }
}

/* Moves e (in the heap or not, by its old expiry) to expiry ms. */
static void
heap_set(hvol_t *hv, hent_t *e, int64_t old, int64_t ms) {
    hent_set_exp(e, ms);
    if (old == HASH_NO_TTL && ms != HASH_NO_TTL) {
        heap_add(hv, e);
    } else if (old != HASH_NO_TTL && ms == HASH_NO_TTL) {
        heap_remove(hv, hent_idx(e));
    } else if (old != HASH_NO_TTL) {
        uint32_t i = hent_idx(e);
        heap_down(hv, i);
        heap_up(hv, hent_idx(e));
    }
}

static uint64_t
hent_hash_key(const void *key) {
    const karg_t *k = key;
    return ht_hash_bytes(k->p, k->n);
}

static uint64_t
hent_hash_entry(const void *entry) {
    const hent_t *e = entry;
    return ht_hash_bytes(e->buf, e->fn);
}

static int
hent_key_eq(const void *entry, const void *key) {
    const hent_t *e = entry;
    const karg_t *k = key;
    return e->fn == k->n && memcmp(e->buf, k->p, k->n) == 0;
}

static void
hent_free(void *entry) {
    kfree(entry);
}

static const ht_type_t hent_type = {hent_hash_key, hent_hash_entry, hent_key_eq, hent_free, NULL};

static hent_t *
hent_new(const char *f, size_t fn, const char *v, size_t vn) {
    hent_t *e = kmalloc(sizeof *e + fn + vn);
    e->fn = (uint32_t)fn;
    e->vn = (uint32_t)vn;
    memcpy(e->buf, f, fn);
    if (vn)
        memcpy(e->buf + fn, v, vn);
    return e;
}

static void
hent_pair(const hent_t *e, hpair_t *out) {
    out->f = (hval_t){e->buf, e->fn, 0};
    out->v = (hval_t){e->buf + e->fn, e->vn, 0};
}

static void
lp_hval(const uint8_t *p, hval_t *out) {
    lp_val_t lv;
    lp_get(p, &lv);
    if (lv.str)
        *out = (hval_t){(const char *)lv.str, lv.len, 0};
    else
        *out = (hval_t){NULL, 0, lv.ival};
}

const char *
hval_bytes(const hval_t *v, char *buf, size_t *n) {
    if (v->p) {
        *n = v->n;
        return v->p;
    }
    *n = lp_int_to_string(v->i, buf);
    return buf;
}

thash_t
hash_new(void) {
    uint8_t *lp = lp_new();
    ASSERT(lp);
    return (thash_t){lp, OBJ_ENC_LISTPACK};
}

void
hash_release(thash_t *h) {
    if (h->enc == OBJ_ENC_LISTPACK) {
        lp_free(h->p);
    } else if (h->enc == OBJ_ENC_HT) {
        ht_release(h->p);
    } else {
        hvol_t *hv = h->p;
        ht_release(hv->t);
        kfree(hv->heap);
        kfree(hv);
    }
    h->p = NULL;
}

uint64_t
hash_len(const thash_t *h) {
    if (h->enc == OBJ_ENC_LISTPACK)
        return lp_count(h->p) / 2;
    return ht_size(tab(h));
}

/* Inserts an entry whose field is known to be absent (ht_add would compare entries with
 * hent_key_eq, whose second argument is a karg_t). */
static void
ht_insert_new(ht_t *t, hent_t *e) {
    karg_t k = {e->buf, e->fn};
    ht_pos_t pos;
    ASSERT(ht_find_pos(t, &k, &pos) == NULL);
    ht_insert_at(t, &pos, e);
}

/* Inserts a pair whose field is known to be absent. */
static void
ht_put_new(ht_t *t, const char *f, size_t fn, const char *v, size_t vn) {
    karg_t k = {f, fn};
    ht_pos_t pos;
    void *old = ht_find_pos(t, &k, &pos);
    ASSERT(old == NULL);
    ht_insert_at(t, &pos, hent_new(f, fn, v, vn));
}

static void
hash_convert_to_ht(thash_t *h) {
    if (h->enc != OBJ_ENC_LISTPACK)
        return;
    ht_t *t = ht_create(&hent_type);
    ASSERT(t);
    uint8_t *lp = h->p;
    char fb[LP_INTBUF_MAX], vb[LP_INTBUF_MAX];
    for (uint8_t *p = lp_first(lp); p; p = lp_next(lp, lp_next(lp, p))) {
        size_t fn, vn;
        const uint8_t *f = lp_get_str(p, &fn, fb);
        const uint8_t *v = lp_get_str(lp_next(lp, p), &vn, vb);
        ht_put_new(t, (const char *)f, fn, (const char *)v, vn);
    }
    lp_free(lp);
    h->p = t;
    h->enc = OBJ_ENC_HT;
}

thash_t
hash_dup(const thash_t *h) {
    if (h->enc == OBJ_ENC_LISTPACK) {
        size_t n = lp_bytes(h->p);
        uint8_t *copy = kmalloc(n); /* lp_free() gives it back through kfree */
        memcpy(copy, h->p, n);
        return (thash_t){copy, OBJ_ENC_LISTPACK};
    }
    ht_t *t = ht_create(&hent_type);
    ASSERT(t);
    ht_reserve(t, hash_len(h));
    if (h->enc == OBJ_ENC_HASH_TTL) {
        const hvol_t *src = h->p;
        hvol_t *hv = kcalloc(1, sizeof *hv);
        hv->t = t;
        ht_iter_t it;
        const hent_t *e;
        ht_iter_init(&it, src->t);
        while ((e = ht_iter_next(&it))) {
            size_t n = sizeof *e + e->fn + e->vn + HENT_TTL_BYTES;
            hent_t *copy = kmalloc(n);
            memcpy(copy, e, n);
            ht_insert_new(t, copy);
            if (hent_exp(copy) != HASH_NO_TTL)
                heap_add(hv, copy);
        }
        ht_iter_done(&it);
        return (thash_t){hv, OBJ_ENC_HASH_TTL};
    }
    hash_iter_t it;
    hpair_t pr;
    hash_iter_init(&it, h);
    while (hash_iter_next(&it, &pr))
        ht_put_new(t, pr.f.p, pr.f.n, pr.v.p, pr.v.n);
    hash_iter_done(&it);
    return (thash_t){t, OBJ_ENC_HT};
}

static size_t
hash_mem(const thash_t *h) {
    enum { SAMPLE_max = 1024 };
    if (h->enc == OBJ_ENC_LISTPACK)
        return lp_bytes(h->p);
    /* Like MEMORY USAGE's SAMPLES: sum a bounded sample of entries and scale it up. */
    size_t n = 0, bytes = 0;
    hash_iter_t it;
    hpair_t pr;
    hash_iter_init(&it, h);
    while (n < SAMPLE_max && hash_iter_next(&it, &pr)) {
        bytes += kmem_usable(pr.f.p - offsetof(hent_t, buf));
        n++;
    }
    hash_iter_done(&it);
    size_t total = ht_size(tab(h));
    if (n)
        bytes = (size_t)((double)bytes * (double)total / (double)n);
    if (h->enc == OBJ_ENC_HASH_TTL)
        bytes += sizeof(hvol_t) + ((const hvol_t *)h->p)->cap * sizeof(hent_t *);
    return ht_mem_bytes(tab(h)) + bytes;
}

int
hash_get(const thash_t *h, const char *f, size_t fn, hval_t *v) {
    if (h->enc == OBJ_ENC_LISTPACK) {
        uint8_t *lp = h->p;
        uint8_t *p = lp_find(lp, lp_first(lp), f, fn, 1);
        if (!p)
            return 0;
        lp_hval(lp_next(lp, p), v);
        return 1;
    }
    karg_t k = {f, fn};
    const hent_t *e = ht_find(tab(h), &k);
    if (!e)
        return 0;
    *v = (hval_t){e->buf + e->fn, e->vn, 0};
    return 1;
}

bool
hash_exists(const thash_t *h, const char *f, size_t fn) {
    hval_t v;
    return hash_get(h, f, fn, &v) == 1;
}

static int
ht_set(ht_t *t, const char *f, size_t fn, const char *v, size_t vn) {
    karg_t k = {f, fn};
    ht_pos_t pos;
    hent_t *e = ht_find_pos(t, &k, &pos);
    if (!e) {
        ht_insert_at(t, &pos, hent_new(f, fn, v, vn));
        return 1;
    }
    if (e->vn != vn) {
        void **ref = ht_find_ref(t, &k); /* before the realloc: the lookup reads the entry */
        e = krealloc(e, sizeof *e + fn + vn);
        e->vn = (uint32_t)vn;
        *ref = e;
    }
    if (vn)
        memcpy(e->buf + fn, v, vn);
    return 0;
}

/* 1 new, 0 updated, or KERR_LIMIT when the packed list cannot take the pair (caller converts). */
static int
lp_set(uint8_t **lpp, const char *f, size_t fn, const char *v, size_t vn) {
    uint8_t *p = lp_find(*lpp, lp_first(*lpp), f, fn, 1);
    if (p) {
        uint8_t *vp = lp_next(*lpp, p);
        size_t grow = lp_entry_size(v, vn);
        if (!lp_fits(lp_bytes(*lpp), grow))
            return KERR_LIMIT;
        return lp_replace(lpp, vp, v, vn, NULL) == 0 ? 0 : KERR_LIMIT;
    }
    if (!lp_fits(lp_bytes(*lpp), lp_entry_size(f, fn) + lp_entry_size(v, vn)))
        return KERR_LIMIT;
    if (lp_append(lpp, f, fn) < 0)
        return KERR_LIMIT;
    if (lp_append(lpp, v, vn) < 0) {
        lp_delete_range(lpp, -1, 1); /* keep pairs whole */
        return KERR_LIMIT;
    }
    return 1;
}

/* ---- field expiry (OBJ_ENC_HASH_TTL) ---- */

static hent_t *
hent_new_ttl(const char *f, size_t fn, const char *v, size_t vn) {
    hent_t *e = kmalloc(sizeof *e + fn + vn + HENT_TTL_BYTES);
    e->fn = (uint32_t)fn;
    e->vn = (uint32_t)vn;
    memcpy(e->buf, f, fn);
    if (vn)
        memcpy(e->buf + fn, v, vn);
    hent_set_exp(e, HASH_NO_TTL);
    hent_set_idx(e, 0); /* the caller puts it in the heap (heap_set) when it gets an expiry */
    return e;
}

/* Set a field's value (and expiry: ms, or the field's own with keep): 1 new, 0 updated. */
static int
ttl_set(hvol_t *hv, const char *f, size_t fn, const char *v, size_t vn, int64_t ms, bool keep) {
    karg_t k = {f, fn};
    ht_pos_t pos;
    hent_t *e = ht_find_pos(hv->t, &k, &pos);
    if (!e) {
        e = hent_new_ttl(f, fn, v, vn);
        ht_insert_at(hv->t, &pos, e);
        heap_set(hv, e, HASH_NO_TTL, keep ? HASH_NO_TTL : ms);
        return 1;
    }
    int64_t old = hent_exp(e);
    uint32_t idx = hent_idx(e);
    if (keep)
        ms = old;
    if (e->vn != vn) { /* the tail moves with the value's end: carry it over */
        void **ref = ht_find_ref(hv->t, &k);
        e = krealloc(e, sizeof *e + fn + vn + HENT_TTL_BYTES);
        e->vn = (uint32_t)vn;
        *ref = e;
        hent_set_exp(e, old);
        hent_set_idx(e, idx);
        if (old != HASH_NO_TTL)
            hv->heap[idx] = e;
    }
    if (vn)
        memcpy(e->buf + fn, v, vn);
    heap_set(hv, e, old, ms);
    return 0;
}

/* Converts to OBJ_ENC_HASH_TTL (every entry gets its expiry slot, -1). */
static void
hash_convert_to_ttl(thash_t *h) {
    if (h->enc == OBJ_ENC_HASH_TTL)
        return;
    hvol_t *hv = kcalloc(1, sizeof *hv);
    hv->t = ht_create(&hent_type);
    ASSERT(hv->t);
    ht_reserve(hv->t, hash_len(h));
    hash_iter_t it;
    hpair_t pr;
    char fb[LP_INTBUF_MAX], vb[LP_INTBUF_MAX];
    hash_iter_init(&it, h);
    while (hash_iter_next(&it, &pr)) {
        size_t fn, vn;
        const char *f = hval_bytes(&pr.f, fb, &fn);
        const char *v = hval_bytes(&pr.v, vb, &vn);
        ht_insert_new(hv->t, hent_new_ttl(f, fn, v, vn));
    }
    hash_iter_done(&it);
    hash_release(h);
    h->p = hv;
    h->enc = OBJ_ENC_HASH_TTL;
}

uint64_t
hash_volatile_count(const thash_t *h) {
    return h->enc == OBJ_ENC_HASH_TTL ? ((const hvol_t *)h->p)->n : 0;
}

int64_t
hash_next_expire(const thash_t *h) {
    if (h->enc != OBJ_ENC_HASH_TTL || ((const hvol_t *)h->p)->n == 0)
        return INT64_MAX;
    return hent_exp(((const hvol_t *)h->p)->heap[0]);
}

int
hash_get_expire(const thash_t *h, const char *f, size_t fn, int64_t *ms) {
    if (h->enc != OBJ_ENC_HASH_TTL) {
        *ms = HASH_NO_TTL;
        return hash_exists(h, f, fn) ? 1 : 0;
    }
    karg_t k = {f, fn};
    const hent_t *e = ht_find(((hvol_t *)h->p)->t, &k);
    if (!e)
        return 0;
    *ms = hent_exp(e);
    return 1;
}

int
hash_set_expire(thash_t *h, const char *f, size_t fn, int64_t ms) {
    if (h->enc != OBJ_ENC_HASH_TTL) {
        if (!hash_exists(h, f, fn))
            return 0;
        if (ms == HASH_NO_TTL)
            return 1; /* nothing to clear */
        hash_convert_to_ttl(h);
    }
    hvol_t *hv = h->p;
    karg_t k = {f, fn};
    hent_t *e = ht_find(hv->t, &k);
    if (!e)
        return 0;
    heap_set(hv, e, hent_exp(e), ms);
    return 1;
}

int
hash_set_ex(thash_t *h, const char *f, size_t fn, const char *v, size_t vn, int64_t ms, bool keep,
            const hash_limits_t *lim) {
    if (fn > HENT_PART_max || vn > HENT_PART_max)
        return KERR_LIMIT;
    if (h->enc != OBJ_ENC_HASH_TTL) {
        if (ms == HASH_NO_TTL || keep)
            return hash_set(h, f, fn, v, vn, lim); /* no expiry to keep outside the TTL table */
        hash_convert_to_ttl(h);
    }
    return ttl_set(h->p, f, fn, v, vn, ms, keep);
}

size_t
hash_expire_fields(thash_t *h, int64_t now_ms, size_t max, hash_field_cb fn, void *ctx) {
    if (h->enc != OBJ_ENC_HASH_TTL)
        return 0;
    hvol_t *hv = h->p;
    size_t n = 0;
    while (n < max && hv->n > 0 && hent_exp(hv->heap[0]) <= now_ms) {
        hent_t *e = hv->heap[0];
        heap_remove(hv, 0);
        if (fn)
            fn(ctx, e->buf, e->fn);
        karg_t k = {e->buf, e->fn};
        ASSERT(ht_pop(hv->t, &k) == e);
        kfree(e);
        n++;
    }
    return n;
}

bool
hash_iter_next_ttl(hash_iter_t *it, hpair_t *out, int64_t *ms) {
    if (it->h->enc != OBJ_ENC_HASH_TTL) {
        *ms = HASH_NO_TTL;
        return hash_iter_next(it, out);
    }
    const hent_t *e = ht_iter_next(&it->hti);
    if (!e)
        return false;
    hent_pair(e, out);
    *ms = hent_exp(e);
    return true;
}

thash_t
hash_new_ttl(uint64_t hint) {
    thash_t h = hash_new();
    hash_convert_to_ttl(&h);
    ht_reserve(((hvol_t *)h.p)->t, hint);
    return h;
}

int
hash_load_ttl_add(thash_t *h, const char *f, size_t fn, const char *v, size_t vn, int64_t ms) {
    ASSERT(h->enc == OBJ_ENC_HASH_TTL);
    if (fn > HENT_PART_max || vn > HENT_PART_max)
        return KERR_LIMIT;
    if (ms < HASH_NO_TTL)
        return KERR_CORRUPT;
    hvol_t *hv = h->p;
    karg_t k = {f, fn};
    ht_pos_t pos;
    if (ht_find_pos(hv->t, &k, &pos))
        return KERR_CORRUPT; /* duplicate field */
    hent_t *e = hent_new_ttl(f, fn, v, vn);
    ht_insert_at(hv->t, &pos, e);
    heap_set(hv, e, HASH_NO_TTL, ms);
    return 0;
}

int
hash_set(thash_t *h, const char *f, size_t fn, const char *v, size_t vn, const hash_limits_t *lim) {
    if (fn > HENT_PART_max || vn > HENT_PART_max)
        return KERR_LIMIT;
    if (h->enc == OBJ_ENC_HASH_TTL)
        return ttl_set(h->p, f, fn, v, vn, HASH_NO_TTL, false);
    if (h->enc == OBJ_ENC_LISTPACK) {
        if (fn > lim->value_max || vn > lim->value_max) {
            hash_convert_to_ht(h);
        } else {
            uint8_t *lp = h->p;
            int rc = lp_set(&lp, f, fn, v, vn);
            h->p = lp;
            if (rc >= 0) {
                if (hash_len(h) > lim->entries_max)
                    hash_convert_to_ht(h);
                return rc;
            }
            hash_convert_to_ht(h);
        }
    }
    return ht_set(h->p, f, fn, v, vn);
}

void
hash_prepare(thash_t *h, const karg_t *args, size_t nargs, const hash_limits_t *lim) {
    if (h->enc != OBJ_ENC_LISTPACK)
        return;
    if (nargs / 2 > lim->entries_max) {
        hash_convert_to_ht(h);
        return;
    }
    size_t sum = 0;
    for (size_t i = 0; i < nargs; i++) {
        if (args[i].n > lim->value_max) {
            hash_convert_to_ht(h);
            return;
        }
        sum += lp_entry_size(args[i].p, args[i].n);
    }
    if (!lp_fits(lp_bytes(h->p), sum))
        hash_convert_to_ht(h);
}

int
hash_delete(thash_t *h, const char *f, size_t fn) {
    if (h->enc == OBJ_ENC_LISTPACK) {
        uint8_t *lp = h->p;
        uint8_t *p = lp_find(lp, lp_first(lp), f, fn, 1);
        if (!p)
            return 0;
        uint8_t *next;
        lp_delete(&lp, p, &next);
        lp_delete(&lp, next, NULL);
        h->p = lp;
        return 1;
    }
    karg_t k = {f, fn};
    if (h->enc == OBJ_ENC_HASH_TTL) {
        hvol_t *hv = h->p;
        hent_t *e = ht_pop(hv->t, &k);
        if (!e)
            return 0;
        if (hent_exp(e) != HASH_NO_TTL)
            heap_remove(hv, hent_idx(e));
        kfree(e);
        return 1;
    }
    return ht_delete(h->p, &k);
}

void
hash_iter_init(hash_iter_t *it, const thash_t *h) {
    it->h = h;
    if (h->enc == OBJ_ENC_LISTPACK)
        it->pos = lp_first(h->p);
    else
        ht_iter_init(&it->hti, tab(h));
}

bool
hash_iter_next(hash_iter_t *it, hpair_t *out) {
    if (it->h->enc == OBJ_ENC_LISTPACK) {
        if (!it->pos)
            return false;
        uint8_t *lp = it->h->p;
        uint8_t *vp = lp_next(lp, it->pos);
        lp_hval(it->pos, &out->f);
        lp_hval(vp, &out->v);
        it->pos = lp_next(lp, vp);
        return true;
    }
    const hent_t *e = ht_iter_next(&it->hti);
    if (!e)
        return false;
    hent_pair(e, out);
    return true;
}

void
hash_iter_done(hash_iter_t *it) {
    if (it->h->enc != OBJ_ENC_LISTPACK)
        ht_iter_done(&it->hti);
}

void
hash_collect(const thash_t *h, hpair_t *out) {
    hash_iter_t it;
    size_t i = 0;
    hash_iter_init(&it, h);
    while (hash_iter_next(&it, &out[i]))
        i++;
    hash_iter_done(&it);
    ASSERT(i == hash_len(h));
}

void
hash_random(const thash_t *h, uint64_t rnd, hpair_t *out) {
    ASSERT(hash_len(h) > 0);
    if (h->enc == OBJ_ENC_LISTPACK) {
        uint8_t *lp = h->p;
        uint8_t *p = lp_seek(lp, (long)(2 * (rnd % hash_len(h))));
        lp_hval(p, &out->f);
        lp_hval(lp_next(lp, p), &out->v);
        return;
    }
    hent_pair(ht_random(tab(h)), out);
}

typedef struct scan_ctx {
    hash_scan_cb fn;
    void *ctx;
} scan_ctx_t;

static void
hash_scan_entry_cb(void *privdata, void *entry) {
    scan_ctx_t *sc = privdata;
    hpair_t pr;
    hent_pair(entry, &pr);
    sc->fn(sc->ctx, &pr);
}

uint64_t
hash_scan(const thash_t *h, uint64_t cursor, hash_scan_cb fn, void *ctx) {
    if (h->enc == OBJ_ENC_LISTPACK) {
        hash_iter_t it;
        hpair_t pr;
        hash_iter_init(&it, h);
        while (hash_iter_next(&it, &pr))
            fn(ctx, &pr);
        hash_iter_done(&it);
        return 0;
    }
    scan_ctx_t sc = {fn, ctx};
    return ht_scan(tab(h), cursor, hash_scan_entry_cb, &sc);
}

/* ---- obj_type_ops_t: free, dup, memory, snapshot element access ---- */

static const long long *cfg_entries_max, *cfg_value_max;

static hash_limits_t
load_limits(void) {
    hash_limits_t l = {128, 64};
    if (cfg_entries_max)
        l.entries_max = *cfg_entries_max < 0 ? 0 : (size_t)*cfg_entries_max;
    if (cfg_value_max)
        l.value_max = *cfg_value_max < 0 ? 0 : (size_t)*cfg_value_max;
    return l;
}

static void
ops_free(void *ptr, int enc) {
    thash_t h = {ptr, enc};
    hash_release(&h);
}

static void *
ops_dup(const void *ptr, int enc) {
    thash_t h = {(void *)ptr, enc};
    return hash_dup(&h).p;
}

static size_t
ops_mem(const void *ptr, int enc) {
    thash_t h = {(void *)ptr, enc};
    return hash_mem(&h);
}

static uint64_t
ops_count(const void *ptr, int enc) {
    thash_t h = {(void *)ptr, enc};
    return 2 * hash_len(&h);
}

static void
ops_each(const void *ptr, int enc, void (*cb)(void *ctx, const char *p, size_t n, double score),
         void *ctx) {
    thash_t h = {(void *)ptr, enc};
    hash_iter_t it;
    hpair_t pr;
    char fb[LP_INTBUF_MAX], vb[LP_INTBUF_MAX];
    hash_iter_init(&it, &h);
    while (hash_iter_next(&it, &pr)) {
        size_t fn, vn;
        const char *f = hval_bytes(&pr.f, fb, &fn);
        const char *v = hval_bytes(&pr.v, vb, &vn);
        cb(ctx, f, fn, 0);
        cb(ctx, v, vn, 0);
    }
    hash_iter_done(&it);
}

/* A field added to a hash table waits here for its value. Per thread, because snapshot chunks
 * load in parallel; each value's load starts with create() on its thread, which drops any field
 * an abandoned load left behind. */
static _Thread_local struct {
    void *owner; /* the ht_t the field belongs to */
    char *f;
    size_t fn;
} load_pending;

static void
pending_clear(void) {
    kfree(load_pending.f);
    load_pending.f = NULL;
    load_pending.owner = NULL;
}

static void *
ops_create(uint64_t hint, int *enc) {
    pending_clear();
    hash_limits_t lim = load_limits();
    thash_t h = hash_new();
    if (hint / 2 > lim.entries_max)
        hash_convert_to_ht(&h);
    *enc = h.enc;
    return h.p;
}

/* Loading into a packed list: pairs are appended as they come; a field waits at the tail. */
static int
ops_add_lp(thash_t *h, const char *p, size_t n, const hash_limits_t *lim) {
    uint8_t *lp = h->p;
    if (lp_count(lp) % 2 == 0) { /* a field */
        if (lp_find(lp, lp_first(lp), p, n, 1))
            return KERR_CORRUPT; /* duplicate field */
        if (n <= lim->value_max && lp_fits(lp_bytes(lp), lp_entry_size(p, n)) &&
            lp_append(&lp, p, n) == 0) {
            h->p = lp;
            return 0;
        }
        hash_convert_to_ht(h);
        load_pending.owner = h->p;
        load_pending.f = kmalloc(n ? n : 1);
        memcpy(load_pending.f, p, n);
        load_pending.fn = n;
        return 0;
    }
    char fb[LP_INTBUF_MAX];
    size_t fn;
    const char *f = (const char *)lp_get_str(lp_last(lp), &fn, fb);
    char *fcopy = kmalloc(fn ? fn : 1);
    memcpy(fcopy, f, fn);
    lp_delete_range(&lp, -1, 1);
    h->p = lp;
    int rc = hash_set(h, fcopy, fn, p, n, lim);
    kfree(fcopy);
    return rc < 0 ? rc : 0;
}

static int
ops_add(void **ptr, int *enc, const char *p, size_t n, double score) {
    (void)score;
    hash_limits_t lim = load_limits();
    thash_t h = {*ptr, *enc};
    int rc = 0;
    if (h.enc == OBJ_ENC_LISTPACK) {
        rc = ops_add_lp(&h, p, n, &lim);
    } else if (load_pending.owner != h.p) { /* a field */
        karg_t k = {p, n};
        if (ht_find(h.p, &k))
            return KERR_CORRUPT;
        pending_clear();
        load_pending.owner = h.p;
        load_pending.f = kmalloc(n ? n : 1);
        memcpy(load_pending.f, p, n);
        load_pending.fn = n;
    } else {
        if (load_pending.fn > HENT_PART_max || n > HENT_PART_max)
            return KERR_LIMIT;
        ht_put_new(h.p, load_pending.f, load_pending.fn, p, n);
        pending_clear();
    }
    *ptr = h.p;
    *enc = h.enc;
    return rc;
}

static const obj_type_ops_t hash_ops = {
    .free = ops_free,
    .dup = ops_dup,
    .mem = ops_mem,
    .name = "hash",
    .count = ops_count,
    .each = ops_each,
    .create = ops_create,
    .add = ops_add,
};

void
hash_type_init(const long long *entries_max, const long long *value_max) {
    cfg_entries_max = entries_max;
    cfg_value_max = value_max;
    obj_register_type(OBJ_HASH, &hash_ops);
}
