/*
 * ht.c - the keyspace hash table: 64-byte buckets of 7 tagged slots, chaining, incremental rehash.
 *
 * Bucket layout (one cache line, 64-byte aligned):
 *
 *   byte 0      meta: bit 7 = chained (slot 6 holds the child bucket, not an entry),
 *                     bits 0..6 = slot i holds an entry
 *   bytes 1..7  tag[i]: the high byte of the entry's hash (hash >> 56)
 *   bytes 8..63 slot[i]: entry pointer (or, for slot 6 of a chained bucket, the child bucket)
 *
 * The bucket index is hash & mask (low bits) and the tag is the high byte, so they are
 * independent: a slot whose tag differs is rejected without touching its entry (255 of 256 do).
 *
 * Tables: tab[0] is the table in use; while rehashing, tab[1] is the new one and every insert goes
 * there. A rehash step moves the whole chain at tab[0][rehash_idx] into tab[1] and advances
 * rehash_idx; when it passes the end, tab[1] becomes tab[0]. A step runs at the start of each
 * write (ht_find_pos, ht_pop, ht_delete) and in ht_rehash_us; reads never move anything.
 *
 * Sizes: a table has 2^exp top-level buckets, 7 slots each. An insert grows the table when the
 * entries would exceed FILL_GROW_PCT of the slots (FILL_GROW_AVOID_PCT while the resize policy
 * says avoid); a grow doubles (the smallest size under FILL_GROW_PCT). A delete shrinks it below
 * 1/FILL_SHRINK_DIV of the slots, to the smallest size whose fill is under FILL_GROW_PCT / 2, so
 * that a few inserts after a shrink do not grow it straight back.
 *
 * Invariants:
 *  1. Every entry lives in exactly one slot of the chain at index hash & mask of tab[0] or tab[1].
 *  2. While rehashing, tab[0] buckets below rehash_idx are empty and unchained.
 *  3. used[i] counts the entries in tab[i]; child_buckets[i] the chained buckets hanging off it.
 *  4. While pause > 0 (a live safe iterator) no entry moves: no rehash step, no chain compaction,
 *     no table freed. New chains may still be added (an insert into a full bucket moves slot 6
 *     into the new child's slot 0, which the iterator knows to skip, see ht_iter_next).
 *  5. Otherwise a delete keeps chains compact: the last bucket of a chain gives one entry to the
 *     hole and is freed once empty.
 *
 * SCAN uses the reverse-binary cursor of Redis's dictScan: the cursor's low bits select a bucket;
 * it is incremented from its high bit down, so the buckets already visited at one size map to
 * buckets already visited at any other power-of-two size. While rehashing, one call visits the
 * cursor's bucket in the smaller table and all its expansions in the larger one.
 */
#include "ht.h"

#include <stdbool.h>
#include <string.h>
#include <time.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack: hashing never allocates */
#include <xxhash.h>

#include "kassert.h"
#include "kerr.h"
#include "kmem.h"

enum {
    SLOTS = 7,
    CHAIN_SLOT = SLOTS - 1,
    META_CHAINED = 0x80,
    META_PRESENT = 0x7f,
    FILL_GROW_PCT = 77,           /* grow when an insert would pass this fill of all slots */
    FILL_GROW_AVOID_PCT = 500,    /* the same while resizing is discouraged (fork alive) */
    FILL_SHRINK_DIV = 8,          /* shrink when entries < slots / 8 (12.5% fill) */
    REHASH_EMPTY_VISITS_max = 10, /* empty buckets one step may skip before giving up */
    TABLE_EXP_max = 56,           /* 2^56 buckets: far beyond memory, keeps shifts defined */
    SAMPLE_VISITS_PER_ENTRY = 10, /* ht_sample reads at most this many buckets per entry asked */
    NOCASE_CHUNK = 256,           /* bytes folded per XXH3 update in ht_hash_bytes_nocase */
};

typedef struct bucket {
    uint8_t meta;        /* META_CHAINED | presence bits, see the layout above */
    uint8_t tags[SLOTS]; /* high byte of the hash of the entry in the same slot */
    void *slots[SLOTS];  /* entries; slots[CHAIN_SLOT] is the child when chained */
} bucket_t;

_Static_assert(sizeof(bucket_t) == 64, "a bucket is one cache line");

struct ht {
    const ht_type_t *type;
    bucket_t *tab[2];        /* tab[1] != NULL exactly while rehashing */
    int8_t exp[2];           /* log2 of top-level buckets; -1 when the table is absent */
    size_t used[2];          /* entries in each table */
    size_t rehash_idx;       /* next tab[0] bucket to move; meaningful while rehashing */
    size_t child_buckets[2]; /* chained buckets hanging off each table (freeing, ht_mem_bytes) */
    uint32_t pause;          /* live safe iterators: no entry may move while non-zero */
};

static uint64_t hash_seed;
static int resize_allowed = 1;
static _Thread_local uint64_t rng_state = 0x9e3779b97f4a7c15ull;

/* ---- small helpers ---- */

static uint64_t
rng_next(void) {
    /* splitmix64: fast, good enough to pick buckets; not for anything secret. */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline size_t
nbuckets(int exp) {
    return exp < 0 ? 0 : (size_t)1 << exp;
}

static inline size_t
mask_of(int exp) {
    return nbuckets(exp) - 1;
}

static inline uint8_t
tag_of(uint64_t hash) {
    return (uint8_t)(hash >> 56);
}

static inline bool
is_chained(const bucket_t *b) {
    return (b->meta & META_CHAINED) != 0;
}

static inline bucket_t *
child_of(const bucket_t *b) {
    return is_chained(b) ? (bucket_t *)b->slots[CHAIN_SLOT] : NULL;
}

static inline int
nslots(const bucket_t *b) {
    return is_chained(b) ? CHAIN_SLOT : SLOTS;
}

static inline int
free_slot(const bucket_t *b) {
    unsigned freebits = ~(unsigned)b->meta & ((1u << nslots(b)) - 1);
    return freebits ? __builtin_ctz(freebits) : -1;
}

static inline void
slot_put(bucket_t *b, int i, uint8_t tag, void *entry) {
    b->slots[i] = entry;
    b->tags[i] = tag;
    b->meta |= (uint8_t)(1u << i);
}

static inline bool
rehashing(const ht_t *t) {
    return t->tab[1] != NULL;
}

static uint64_t
entry_hash(const ht_t *t, const void *entry) {
    if (t->type->hash_entry)
        return t->type->hash_entry(entry);
    return t->type->hash_key(t->type->entry_key ? t->type->entry_key(entry) : entry);
}

/* The smallest exp whose table holds n entries at a fill of at most fill_pct percent. */
static int
exp_for(size_t n, size_t fill_pct) {
    int e = 0;
    while (e < TABLE_EXP_max && nbuckets(e) * SLOTS * fill_pct < n * 100)
        e++;
    return e;
}

static inline uint64_t
rev64(uint64_t v) {
    v = ((v >> 1) & 0x5555555555555555ull) | ((v & 0x5555555555555555ull) << 1);
    v = ((v >> 2) & 0x3333333333333333ull) | ((v & 0x3333333333333333ull) << 2);
    v = ((v >> 4) & 0x0f0f0f0f0f0f0f0full) | ((v & 0x0f0f0f0f0f0f0f0full) << 4);
    return __builtin_bswap64(v);
}

/* A zeroed array of n buckets, accounted in used_memory (kmem aborts when out of memory).
 * jemalloc returns 64-byte aligned blocks for every multiple of 64 bytes, so a bucket is one
 * cache line in the server; glibc (sanitizer builds) may straddle lines, which costs speed only.
 * Big tables come from calloc's lazily zeroed pages rather than a memset. */
static bucket_t *
buckets_alloc(size_t n) {
    ASSERT(n <= SIZE_MAX / sizeof(bucket_t));
    return kcalloc(n, sizeof(bucket_t));
}

/* ---- chains ---- */

/* Make the full, unchained b chained: its slot 6 entry moves to slot 0 of a new child, which is
 * returned. ht_iter_next relies on the moved entry landing in slot 0. */
static bucket_t *
chain_add(ht_t *t, int ti, bucket_t *b) {
    DEBUG_ASSERT(!is_chained(b) && free_slot(b) < 0);
    bucket_t *c = buckets_alloc(1);
    slot_put(c, 0, b->tags[CHAIN_SLOT], b->slots[CHAIN_SLOT]);
    b->slots[CHAIN_SLOT] = c;
    b->meta = (uint8_t)((b->meta & ~(1u << CHAIN_SLOT)) | META_CHAINED);
    t->child_buckets[ti]++;
    return c;
}

/* Put entry into the chain at b (no duplicate check): the first free slot, else a new child. */
static void
chain_insert(ht_t *t, int ti, bucket_t *b, uint8_t tag, void *entry) {
    for (;;) {
        int i = free_slot(b);
        if (i >= 0) {
            slot_put(b, i, tag, entry);
            return;
        }
        if (!is_chained(b)) {
            bucket_t *c = chain_add(t, ti, b);
            slot_put(c, 1, tag, entry);
            return;
        }
        b = child_of(b);
    }
}

/* Free the child buckets of the chain at head and reset head; entries are the caller's. */
static void
chain_free_children(ht_t *t, int ti, bucket_t *head) {
    bucket_t *c = child_of(head);
    while (c) {
        bucket_t *next = child_of(c);
        kfree(c);
        t->child_buckets[ti]--;
        c = next;
    }
    head->meta = 0;
}

/* After a delete left a hole at (hole, slot) in the chain at head: fill it from the chain's last
 * bucket and free that bucket when it empties, so chains stay as short as their entries allow. */
static void
chain_compact(ht_t *t, int ti, bucket_t *head, bucket_t *hole, int slot) {
    if (!is_chained(head))
        return;
    bucket_t *parent = head, *last = child_of(head);
    while (is_chained(last)) {
        parent = last;
        last = child_of(last);
    }
    unsigned present = last->meta & META_PRESENT;
    if (last != hole && present) {
        int j = 31 - __builtin_clz(present);
        slot_put(hole, slot, last->tags[j], last->slots[j]);
        last->meta &= (uint8_t) ~(1u << j);
    }
    if ((last->meta & META_PRESENT) == 0) {
        kfree(last);
        t->child_buckets[ti]--;
        parent->slots[CHAIN_SLOT] = NULL;
        parent->meta &= (uint8_t)~META_CHAINED;
    }
}

/* Where a key was found: the chain head, the bucket and slot, the table. */
typedef struct loc {
    bucket_t *head;
    bucket_t *b;
    int slot;
    int table;
} loc_t;

static bool
chain_find(const ht_t *t, bucket_t *b, uint8_t tag, const void *key, loc_t *loc) {
    loc->head = b;
    for (; b; b = child_of(b)) {
        unsigned m = b->meta & META_PRESENT;
        while (m) {
            int i = __builtin_ctz(m);
            m &= m - 1;
            if (b->tags[i] == tag && t->type->key_eq(b->slots[i], key)) {
                loc->b = b;
                loc->slot = i;
                return true;
            }
        }
    }
    return false;
}

static bool
locate_hashed(const ht_t *t, const void *key, uint64_t h, loc_t *loc) {
    uint8_t tag = tag_of(h);
    size_t i0 = h & mask_of(t->exp[0]);
    if (!rehashing(t) || i0 >= t->rehash_idx) {
        loc->table = 0;
        if (chain_find(t, &t->tab[0][i0], tag, key, loc))
            return true;
    }
    if (!rehashing(t))
        return false;
    loc->table = 1;
    return chain_find(t, &t->tab[1][h & mask_of(t->exp[1])], tag, key, loc);
}

static bool
locate(const ht_t *t, const void *key, loc_t *loc) {
    if (t->used[0] + t->used[1] == 0)
        return false;
    return locate_hashed(t, key, t->type->hash_key(key), loc);
}

/* ---- resizing ---- */

static void
table_free_all(ht_t *t, int ti, bool free_entries) {
    bucket_t *tab = t->tab[ti];
    size_t n = nbuckets(t->exp[ti]);
    for (size_t i = 0; i < n && (t->used[ti] || t->child_buckets[ti]); i++) {
        bucket_t *head = &tab[i];
        for (bucket_t *b = head; b; b = child_of(b)) {
            unsigned m = b->meta & META_PRESENT;
            for (; m; m &= m - 1) {
                if (free_entries && t->type->entry_free)
                    t->type->entry_free(b->slots[__builtin_ctz(m)]);
                t->used[ti]--;
            }
        }
        chain_free_children(t, ti, head);
    }
    kfree(tab);
    t->tab[ti] = NULL;
    t->exp[ti] = -1;
    t->used[ti] = 0;
}

static void
rehash_finish(ht_t *t) {
    ASSERT(t->used[0] == 0 && t->pause == 0);
    /* Chains emptied while an iterator paused compaction may remain past rehash_idx. */
    for (size_t i = t->rehash_idx; t->child_buckets[0] && i < nbuckets(t->exp[0]); i++)
        chain_free_children(t, 0, &t->tab[0][i]);
    kfree(t->tab[0]);
    t->tab[0] = t->tab[1];
    t->exp[0] = t->exp[1];
    t->used[0] = t->used[1];
    t->child_buckets[0] = t->child_buckets[1];
    t->tab[1] = NULL;
    t->exp[1] = -1;
    t->used[1] = 0;
    t->child_buckets[1] = 0;
    t->rehash_idx = 0;
}

/* Move the chain at head (a tab[0] bucket) into tab[1]. */
static void
rehash_chain(ht_t *t, bucket_t *head) {
    size_t mask1 = mask_of(t->exp[1]);
    for (bucket_t *b = head; b; b = child_of(b)) {
        unsigned m = b->meta & META_PRESENT;
        for (; m; m &= m - 1) {
            void *e = b->slots[__builtin_ctz(m)];
            uint64_t h = entry_hash(t, e);
            chain_insert(t, 1, &t->tab[1][h & mask1], tag_of(h), e);
            t->used[0]--;
            t->used[1]++;
        }
    }
    chain_free_children(t, 0, head);
}

/* Move one non-empty chain (skipping a few empty buckets); finish when tab[0] is drained. */
static void
rehash_step(ht_t *t) {
    ASSERT(rehashing(t) && t->pause == 0);
    size_t n0 = nbuckets(t->exp[0]);
    int empty = REHASH_EMPTY_VISITS_max;
    while (t->rehash_idx < n0) {
        bucket_t *b = &t->tab[0][t->rehash_idx++];
        if (b->meta != 0) {
            rehash_chain(t, b);
            break;
        }
        if (--empty == 0)
            break;
    }
    if (t->rehash_idx >= n0 || t->used[0] == 0)
        rehash_finish(t);
}

/* Start moving to a table of 2^exp buckets. */
static void
resize_start(ht_t *t, int exp) {
    ASSERT(!rehashing(t));
    bucket_t *tab = buckets_alloc(nbuckets(exp));
    if (t->tab[0] == NULL) {
        t->tab[0] = tab;
        t->exp[0] = (int8_t)exp;
        return;
    }
    t->tab[1] = tab;
    t->exp[1] = (int8_t)exp;
    t->rehash_idx = 0;
    if (t->used[0] == 0 && t->pause == 0)
        rehash_finish(t);
}

/* Before an insert: make sure a table exists and grow if one more entry passes the fill. */
static void
grow_if_needed(ht_t *t) {
    size_t need = t->used[0] + t->used[1] + 1;
    if (t->tab[0] == NULL) {
        resize_start(t, exp_for(need, FILL_GROW_PCT));
        return;
    }
    int ti = rehashing(t) ? 1 : 0;
    size_t fill_pct = resize_allowed ? FILL_GROW_PCT : FILL_GROW_AVOID_PCT;
    if (need * 100 <= nbuckets(t->exp[ti]) * SLOTS * fill_pct)
        return;
    if (rehashing(t)) {
        /* A second resize before the first finished (rare: a shrink then a burst of inserts).
         * Finish the first; while an iterator pauses it, the chains just get longer. */
        if (t->pause)
            return;
        while (rehashing(t))
            rehash_step(t);
    }
    int exp = exp_for(need, FILL_GROW_PCT);
    if (exp > t->exp[0])
        resize_start(t, exp);
}

/* After a delete: drop everything when empty, shrink when sparse. */
static void
shrink_if_needed(ht_t *t) {
    if (t->pause)
        return;
    size_t size = t->used[0] + t->used[1];
    if (size == 0) {
        for (int ti = 1; ti >= 0; ti--)
            if (t->tab[ti])
                table_free_all(t, ti, false);
        t->rehash_idx = 0;
        return;
    }
    if (!resize_allowed || rehashing(t) || t->exp[0] == 0)
        return;
    if (size * FILL_SHRINK_DIV >= nbuckets(t->exp[0]) * SLOTS)
        return;
    int exp = exp_for(size, FILL_GROW_PCT / 2);
    if (exp < t->exp[0])
        resize_start(t, exp);
}

/* ---- public API: hashing ---- */

void
ht_set_hash_seed(uint64_t seed) {
    hash_seed = seed;
}

uint64_t
ht_hash_bytes(const void *p, size_t n) {
    return XXH3_64bits_withSeed(p, n, hash_seed);
}

static void
fold_lower(unsigned char *dst, const unsigned char *src, size_t n) {
    for (size_t i = 0; i < n; i++)
        dst[i] = (src[i] >= 'A' && src[i] <= 'Z') ? (unsigned char)(src[i] | 0x20) : src[i];
}

uint64_t
ht_hash_bytes_nocase(const void *p, size_t n) {
    unsigned char buf[NOCASE_CHUNK];
    const unsigned char *s = p;
    if (n <= sizeof buf) {
        fold_lower(buf, s, n);
        return XXH3_64bits_withSeed(buf, n, hash_seed);
    }
    /* Streaming gives the same value as one shot, so both paths agree for any length. */
    XXH3_state_t st;
    XXH3_64bits_reset_withSeed(&st, hash_seed);
    for (size_t off = 0; off < n; off += sizeof buf) {
        size_t k = n - off < sizeof buf ? n - off : sizeof buf;
        fold_lower(buf, s + off, k);
        XXH3_64bits_update(&st, buf, k);
    }
    return XXH3_64bits_digest(&st);
}

static uint64_t
ptrset_hash_cb(const void *key) {
    uintptr_t v = (uintptr_t)key;
    return ht_hash_bytes(&v, sizeof v);
}

static int
ptrset_eq_cb(const void *entry, const void *key) {
    return entry == key;
}

const ht_type_t ht_ptrset_type = {ptrset_hash_cb, NULL, ptrset_eq_cb, NULL, NULL};

/* ---- public API: life cycle, lookups, inserts, deletes ---- */

ht_t *
ht_create(const ht_type_t *type) {
    ASSERT(type && type->hash_key && type->key_eq);
    ht_t *t = kcalloc(1, sizeof *t);
    t->type = type;
    t->exp[0] = t->exp[1] = -1;
    return t;
}

void
ht_clear(ht_t *t) {
    ASSERT(t->pause == 0);
    for (int ti = 0; ti < 2; ti++)
        if (t->tab[ti])
            table_free_all(t, ti, true);
    t->rehash_idx = 0;
    ASSERT(t->child_buckets[0] == 0 && t->child_buckets[1] == 0);
}

void
ht_release(ht_t *t) {
    if (!t)
        return;
    ht_clear(t);
    kfree(t);
}

size_t
ht_size(const ht_t *t) {
    return t->used[0] + t->used[1];
}

void *
ht_find(ht_t *t, const void *key) {
    loc_t loc;
    return locate(t, key, &loc) ? loc.b->slots[loc.slot] : NULL;
}

void *
ht_find_hashed(ht_t *t, const void *key, uint64_t hash) {
    loc_t loc;
    if (t->used[0] + t->used[1] == 0)
        return NULL;
    return locate_hashed(t, key, hash, &loc) ? loc.b->slots[loc.slot] : NULL;
}

void **
ht_find_ref_hashed(ht_t *t, const void *key, uint64_t hash) {
    loc_t loc;
    if (t->used[0] + t->used[1] == 0)
        return NULL;
    return locate_hashed(t, key, hash, &loc) ? &loc.b->slots[loc.slot] : NULL;
}

void **
ht_find_ref(ht_t *t, const void *key) {
    loc_t loc;
    return locate(t, key, &loc) ? &loc.b->slots[loc.slot] : NULL;
}

/* Search the insert table's chain for key, noting the first free slot on the way. */
static void *
probe_for_insert(ht_t *t, bucket_t *b, uint8_t tag, const void *key, ht_pos_t *pos) {
    pos->priv_bucket = NULL;
    for (;;) {
        unsigned m = b->meta & META_PRESENT;
        for (; m; m &= m - 1) {
            int i = __builtin_ctz(m);
            if (b->tags[i] == tag && t->type->key_eq(b->slots[i], key))
                return b->slots[i];
        }
        if (!pos->priv_bucket) {
            int i = free_slot(b);
            if (i >= 0) {
                pos->priv_bucket = b;
                pos->priv_slot = (uint8_t)i;
            }
        }
        if (!is_chained(b))
            break;
        b = child_of(b);
    }
    if (!pos->priv_bucket) {
        pos->priv_bucket = b; /* the last, full bucket: ht_insert_at chains from it */
        pos->priv_slot = SLOTS;
    }
    return NULL;
}

void *
ht_find_pos(ht_t *t, const void *key, ht_pos_t *pos) {
    return ht_find_pos_hashed(t, key, t->type->hash_key(key), pos);
}

void *
ht_find_pos_hashed(ht_t *t, const void *key, uint64_t h, ht_pos_t *pos) {
    pos->priv_valid = 0;
    grow_if_needed(t);
    if (rehashing(t) && t->pause == 0)
        rehash_step(t);
    uint8_t tag = tag_of(h);
    if (rehashing(t)) {
        size_t i0 = h & mask_of(t->exp[0]);
        loc_t loc;
        if (i0 >= t->rehash_idx && chain_find(t, &t->tab[0][i0], tag, key, &loc))
            return loc.b->slots[loc.slot];
    }
    int ti = rehashing(t) ? 1 : 0;
    void *e = probe_for_insert(t, &t->tab[ti][h & mask_of(t->exp[ti])], tag, key, pos);
    if (e)
        return e;
    pos->priv_tag = tag;
    pos->priv_table = (uint8_t)ti;
    pos->priv_valid = 1;
    return NULL;
}

void
ht_prefetch(const ht_t *t, uint64_t hash) {
    /* Only the table inserts go to: while rehashing a lookup may also read tab[0], but a hint
     * that is right most of the time is all a prefetch needs to be. */
    int ti = rehashing(t) ? 1 : 0;
    if (t->tab[ti])
        __builtin_prefetch(&t->tab[ti][hash & mask_of(t->exp[ti])], 1, 3);
}

void
ht_reserve(ht_t *t, size_t n) {
    if (t->pause || n == 0)
        return; /* no resize while an iterator is live: inserts still work, only slower */
    int exp = exp_for(n, FILL_GROW_PCT);
    if (rehashing(t)) {
        if (exp <= t->exp[1])
            return;
        while (rehashing(t))
            rehash_step(t);
    }
    if (t->tab[0] == NULL || exp > t->exp[0])
        resize_start(t, exp);
}

void
ht_fit(ht_t *t) {
    shrink_if_needed(t);
}

void
ht_insert_at(ht_t *t, ht_pos_t *pos, void *entry) {
    ASSERT(pos->priv_valid);
    bucket_t *b = pos->priv_bucket;
    if (pos->priv_slot == SLOTS) {
        b = chain_add(t, pos->priv_table, b);
        slot_put(b, 1, pos->priv_tag, entry);
    } else {
        ASSERT(!(b->meta & (1u << pos->priv_slot)));
        slot_put(b, pos->priv_slot, pos->priv_tag, entry);
    }
    t->used[pos->priv_table]++;
    pos->priv_valid = 0;
}

int
ht_add(ht_t *t, void *entry) {
    ht_pos_t pos;
    const void *key = t->type->entry_key ? t->type->entry_key(entry) : entry;
    if (ht_find_pos(t, key, &pos))
        return KERR_EXISTS;
    ht_insert_at(t, &pos, entry);
    return 0;
}

void *
ht_pop(ht_t *t, const void *key) {
    if (rehashing(t) && t->pause == 0)
        rehash_step(t);
    loc_t loc;
    if (!locate(t, key, &loc))
        return NULL;
    void *e = loc.b->slots[loc.slot];
    loc.b->meta &= (uint8_t) ~(1u << loc.slot);
    t->used[loc.table]--;
    if (t->pause == 0)
        chain_compact(t, loc.table, loc.head, loc.b, loc.slot);
    shrink_if_needed(t);
    return e;
}

int
ht_delete(ht_t *t, const void *key) {
    void *e = ht_pop(t, key);
    if (!e)
        return 0;
    if (t->type->entry_free)
        t->type->entry_free(e);
    return 1;
}

/* ---- scanning, walking, sampling ---- */

static void
chain_visit(const bucket_t *b, ht_scan_cb fn, void *privdata) {
    for (; b; b = child_of(b)) {
        unsigned m = b->meta & META_PRESENT;
        for (; m; m &= m - 1)
            fn(privdata, b->slots[__builtin_ctz(m)]);
    }
}

/* Add one to the cursor's bits under mask, counting from the high bit down. */
static uint64_t
cursor_next(uint64_t v, uint64_t mask) {
    v |= ~mask;
    v = rev64(v);
    v++;
    return rev64(v);
}

uint64_t
ht_scan(ht_t *t, uint64_t cursor, ht_scan_cb fn, void *privdata) {
    if (ht_size(t) == 0)
        return 0;
    if (!rehashing(t)) {
        uint64_t m0 = mask_of(t->exp[0]);
        chain_visit(&t->tab[0][cursor & m0], fn, privdata);
        return cursor_next(cursor, m0);
    }
    int small = t->exp[0] <= t->exp[1] ? 0 : 1, large = 1 - small;
    uint64_t ms = mask_of(t->exp[small]), ml = mask_of(t->exp[large]);
    chain_visit(&t->tab[small][cursor & ms], fn, privdata);
    /* Every bucket of the larger table whose low bits equal the small table's index. */
    do {
        chain_visit(&t->tab[large][cursor & ml], fn, privdata);
        cursor = cursor_next(cursor, ml);
    } while (cursor & (ms ^ ml));
    return cursor;
}

size_t
ht_walk_span(const ht_t *t) {
    return nbuckets(t->exp[0]) + nbuckets(t->exp[1]);
}

static const bucket_t *
span_bucket(const ht_t *t, size_t i) {
    size_t n0 = nbuckets(t->exp[0]);
    return i < n0 ? &t->tab[0][i] : &t->tab[1][i - n0];
}

void
ht_walk_range(const ht_t *t, size_t from, size_t to, ht_scan_cb fn, void *privdata) {
    size_t span = ht_walk_span(t);
    if (to > span)
        to = span;
    for (size_t i = from; i < to; i++)
        chain_visit(span_bucket(t, i), fn, privdata);
}

/* Reservoir-sample up to n entries from whole chains read from a random bucket on, until at
 * least enough entries were seen or visits_max buckets were read (wrapping at most once around
 * the span, so no entry is taken twice). Whole chains and the reservoir keep every entry of a
 * chain equally likely, however deep in the chain it sits. */
static size_t
sample_from_random(const ht_t *t, void **out, size_t n, size_t enough, size_t visits_max) {
    /* While rehashing, tab[0] below rehash_idx is empty: leave it out of the walk. */
    size_t skip = rehashing(t) ? t->rehash_idx : 0;
    size_t span = ht_walk_span(t) - skip, seen = 0;
    if (span == 0 || n == 0)
        return 0;
    size_t i = rng_next() % span;
    if (visits_max > span)
        visits_max = span;
    for (size_t v = 0; v < visits_max && seen < enough; v++, i = (i + 1 == span ? 0 : i + 1)) {
        for (const bucket_t *b = span_bucket(t, skip + i); b; b = child_of(b)) {
            unsigned m = b->meta & META_PRESENT;
            for (; m; m &= m - 1, seen++) {
                void *e = b->slots[__builtin_ctz(m)];
                size_t j = seen < n ? seen : rng_next() % (seen + 1);
                if (j < n)
                    out[j] = e;
            }
        }
    }
    return seen < n ? seen : n;
}

size_t
ht_sample(ht_t *t, void **out, size_t n) {
    size_t visits = n * SAMPLE_VISITS_PER_ENTRY;
    if (n > SIZE_MAX / SAMPLE_VISITS_PER_ENTRY)
        visits = SIZE_MAX;
    return sample_from_random(t, out, n, n, visits);
}

static size_t
chain_count(const bucket_t *b) {
    size_t n = 0;
    for (; b; b = child_of(b))
        n += (size_t)__builtin_popcount(b->meta & META_PRESENT);
    return n;
}

/* The entry at position r (0-based, in slot order down the chain); r < chain_count(b). */
static void *
chain_nth(const bucket_t *b, size_t r) {
    for (; b; b = child_of(b)) {
        unsigned m = b->meta & META_PRESENT;
        size_t here = (size_t)__builtin_popcount(m);
        if (r < here) {
            for (; r; r--)
                m &= m - 1;
            return b->slots[__builtin_ctz(m)];
        }
        r -= here;
    }
    ASSERT(0 && "chain_nth past the end of the chain");
    return NULL;
}

/* The acceptance bound of ht_random for a table of `size` entries in `span` chains: the
 * smallest m >= lambda + 3 sqrt(lambda) + 2, lambda the mean entries per chain, so that a
 * Poisson-filled table has a chain longer than m about once in 10^4 chains at the grow fill
 * (lambda 5.4, m 15); never more than the table holds (0 for an empty one). */
static size_t
random_bound(size_t size, size_t span) {
    if (size == 0 || span == 0)
        return 0;
    double lambda = (double)size / (double)span;
    size_t m = (size_t)lambda + 2;
    while ((double)m - lambda - 2 < 0 ||
           ((double)m - lambda - 2) * ((double)m - lambda - 2) < 9 * lambda)
        m++;
    return m < size ? m : size;
}

void *
ht_random(ht_t *t) {
    /* Rejection sampling. A try draws x uniformly from sum(chains_i * m_i) over the tables
     * (tab[0] from rehash_idx on, tab[1]); x names a chain of table i and a position r < m_i
     * in it; the try returns the entry at r if the chain has one there. So each try returns a
     * given entry with probability 1 / sum(chains_i * m_i), the same for all, whatever the
     * lengths of the chains around it and whichever table it is in. (Reading a few buckets from
     * a random start instead, as ht_sample does, favours entries after empty or sparse buckets:
     * counts from 4 to 76 for an expected 30.) An entry in a chain longer than m_i is picked a
     * little less often, which the bound makes rare. A table so sparse that RANDOM_TRIES_max
     * tries all miss (only while shrinking is held back) falls back to a sample. */
    enum { RANDOM_TRIES_max = 128, ENOUGH = 8 };
    if (ht_size(t) == 0)
        return NULL;
    size_t skip = rehashing(t) ? t->rehash_idx : 0; /* tab[0] below it is empty */
    size_t chains[2] = {nbuckets(t->exp[0]) - skip, nbuckets(t->exp[1])};
    size_t m[2] = {random_bound(t->used[0], chains[0]), random_bound(t->used[1], chains[1])};
    uint64_t w0 = (uint64_t)chains[0] * m[0], w = w0 + (uint64_t)chains[1] * m[1];
    for (int i = 0; i < RANDOM_TRIES_max; i++) {
        uint64_t x = rng_next() % w;
        int ti = x < w0 ? 0 : 1;
        x -= ti ? w0 : 0;
        const bucket_t *head = &t->tab[ti][(ti ? 0 : skip) + x / m[ti]];
        size_t n = chain_count(head), r = (size_t)(x % m[ti]);
        if (n > m[ti])
            r = (size_t)(rng_next() % n);
        if (r < n)
            return chain_nth(head, r);
    }
    void *pick;
    size_t got = sample_from_random(t, &pick, 1, ENOUGH, SIZE_MAX);
    ASSERT(got == 1);
    return pick;
}

/* ---- safe iterator ---- */

void
ht_iter_init(ht_iter_t *it, ht_t *t) {
    it->priv_t = t;
    it->priv_bucket = NULL;
    it->priv_index = 0;
    it->priv_table = 0;
    it->priv_slot = 0;
    t->pause++;
}

void *
ht_iter_next(ht_iter_t *it) {
    ht_t *t = it->priv_t;
    for (;;) {
        if (!it->priv_bucket) {
            if (it->priv_table > 1)
                return NULL;
            if (it->priv_index >= nbuckets(t->exp[it->priv_table])) {
                it->priv_table++;
                it->priv_index = 0;
                continue;
            }
            it->priv_bucket = &t->tab[it->priv_table][it->priv_index++];
            it->priv_slot = 0;
        }
        bucket_t *b = it->priv_bucket;
        while (it->priv_slot < nslots(b)) {
            int i = it->priv_slot++;
            if (b->meta & (1u << i))
                return b->slots[i];
        }
        if (is_chained(b)) {
            /* Having passed slot 6 as an entry slot means the bucket was chained after we read
             * it: that entry moved to the new child's slot 0 and must not come out twice. */
            int start = it->priv_slot == SLOTS ? 1 : 0;
            it->priv_bucket = child_of(b);
            it->priv_slot = start;
            continue;
        }
        it->priv_bucket = NULL;
    }
}

void
ht_iter_done(ht_iter_t *it) {
    ht_t *t = it->priv_t;
    ASSERT(t->pause > 0);
    t->pause--;
    /* Deletes during the iteration skipped compaction and shrinking; catch up on the latter. */
    if (t->pause == 0)
        shrink_if_needed(t);
}

/* ---- maintenance and accounting ---- */

static uint64_t
now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int
ht_rehash_us(ht_t *t, uint64_t us) {
    enum { STEPS_PER_CLOCK = 64 };
    if (!rehashing(t))
        return 0;
    if (t->pause)
        return 1;
    uint64_t deadline = now_us() + us;
    do {
        for (int i = 0; i < STEPS_PER_CLOCK && rehashing(t); i++)
            rehash_step(t);
    } while (rehashing(t) && now_us() < deadline);
    return rehashing(t);
}

int
ht_is_rehashing(const ht_t *t) {
    return rehashing(t);
}

void
ht_set_resize_policy(int allow) {
    resize_allowed = allow != 0;
}

size_t
ht_buckets(const ht_t *t) {
    return ht_walk_span(t);
}

size_t
ht_mem_bytes(const ht_t *t) {
    size_t buckets = ht_walk_span(t) + t->child_buckets[0] + t->child_buckets[1];
    return sizeof *t + buckets * sizeof(bucket_t);
}
