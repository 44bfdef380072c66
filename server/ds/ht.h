/*
 * ht.h - the keyspace hash table: a Swiss-table-style open hash of 64-byte buckets.
 *
 * The table stores opaque entry pointers; it never looks inside an entry except through the
 * callbacks of its ht_type_t. A bucket holds up to 7 entries plus a 1-byte hash tag per slot, so
 * a lookup costs one cache miss on the bucket and, for a match, one on the entry. A full bucket
 * chains to a child bucket. Resizing is incremental (two tables while rehashing), sizes are
 * powers of two, and SCAN uses a reverse-binary cursor. See docs/ht.md for the design and the
 * measured memory overhead.
 *
 * Threading: one thread owns a table (the main thread for the keyspace). The only concurrent use
 * allowed is several readers walking a frozen table (ht_walk_range in a snapshot child). The
 * global settings (hash seed, resize policy) are set by the owning thread.
 *
 * Buckets are allocated through common/kmem, so they count in used_memory (INFO, maxmemory);
 * like every kmem allocation, running out of memory aborts the process with a message.
 */
#ifndef KEEL_HT_H
#define KEEL_HT_H

#include <stddef.h>
#include <stdint.h>

typedef struct ht ht_t;

typedef struct ht_type {
    uint64_t (*hash_key)(const void *key);             /* hash of a lookup key */
    uint64_t (*hash_entry)(const void *entry);         /* == hash_key(key of entry); used on rehash.
                                                        * May be NULL: then hash_key(entry_key(e)). */
    int (*key_eq)(const void *entry, const void *key); /* non-zero when entry's key equals key */
    void (*entry_free)(void *entry);                   /* on delete/clear/release; may be NULL */
    /* The lookup key of an entry, used by ht_add to find a duplicate. NULL means the entry is its
     * own key (key_eq(existing, entry) is then called), as in Valkey's hashtable. */
    const void *(*entry_key)(const void *entry);
} ht_type_t;

/* XXH3 (libxxhash) with a process-wide seed, for types that hash byte strings. Set the seed once
 * at start-up, before any table holds entries: changing it would strand existing entries. */
void ht_set_hash_seed(uint64_t seed);
uint64_t ht_hash_bytes(const void *p, size_t n);
uint64_t ht_hash_bytes_nocase(const void *p, size_t n); /* ASCII case-folded, for command names */

/* A ready-made type for a set of addresses: the entry is the pointer itself, compared by
 * identity and never freed (e.g. the entries already drawn by HRANDFIELD/SRANDMEMBER). */
extern const ht_type_t ht_ptrset_type;

/* A new empty table; no bucket is allocated until the first insert. type must outlive it. */
ht_t *ht_create(const ht_type_t *type);
void ht_release(ht_t *t); /* entry_free on every entry, then free; NULL is a no-op */
void ht_clear(ht_t *t);   /* entry_free on every entry, table stays usable */
size_t ht_size(const ht_t *t);
void *ht_find(ht_t *t, const void *key); /* entry or NULL; never allocates, never mutates */
/* ht_find with the key's hash already computed (hash == type->hash_key(key)). */
void *ht_find_hashed(ht_t *t, const void *key, uint64_t hash);
void **ht_find_ref_hashed(ht_t *t, const void *key, uint64_t hash);
/* Address of the slot holding key's entry, or NULL. Valid until the next mutation of t. Lets the
 * caller replace an entry by a reallocated one with the same key without a second lookup. The
 * replaced entry is not freed by the table. */
void **ht_find_ref(ht_t *t, const void *key);
int ht_add(ht_t *t, void *entry); /* 0, or KERR_EXISTS when its key is present */

/* Two-phase insert: one hash and one probe for "find, and insert if absent". */
typedef struct ht_pos {
    void *priv_bucket;  /* bucket to write into (or to chain from when priv_slot == 7) */
    uint8_t priv_slot;  /* slot index, 7 = the chain is full, a child bucket must be added */
    uint8_t priv_tag;   /* hash tag of the key */
    uint8_t priv_table; /* 0 or 1: which table's count goes up */
    uint8_t priv_valid; /* set by ht_find_pos when it returned NULL */
} ht_pos_t;             /* public size, opaque contents */
/* Returns the entry if present (pos then unusable), NULL if absent: pos is where to insert. No
 * mutation of t may happen between this and ht_insert_at. The entry given to ht_insert_at must
 * have the key passed here. May grow the table or do a rehash step (it is the start of a write). */
void *ht_find_pos(ht_t *t, const void *key, ht_pos_t *pos);
void ht_insert_at(ht_t *t, ht_pos_t *pos, void *entry);
/* ht_find_pos with the key's hash already computed (hash == type->hash_key(key)), e.g. on another
 * thread: bulk loads hash off the owning thread and keep only the probe on it. */
void *ht_find_pos_hashed(ht_t *t, const void *key, uint64_t hash, ht_pos_t *pos);
/* A hint that the bucket of hash will be probed soon (a few inserts ahead in a batch). Reads
 * nothing but the table's header, never faults. */
void ht_prefetch(const ht_t *t, uint64_t hash);

/* Pre-size for n entries in all (a bulk load that knows its count): grows now, so the inserts
 * that follow never rehash. Never shrinks; a no-op while an iterator is live. A table reserved
 * far beyond what it got is given back by ht_fit. */
void ht_reserve(ht_t *t, size_t n);
/* Apply the shrink rule a delete would apply (after a bulk load that reserved too much): starts
 * an incremental shrink when the table is under 12.5% full. */
void ht_fit(ht_t *t);

void *ht_pop(ht_t *t, const void *key);  /* unlink and return the entry (not freed), or NULL */
int ht_delete(ht_t *t, const void *key); /* 1 if deleted (entry_free called), 0 if absent */

/* SCAN with a reverse-binary cursor: an entry present during the whole scan is returned at least
 * once, even across grow, shrink and rehash in progress. Returns the next cursor, 0 when done.
 * Calls fn for each entry of one or a few buckets (never more than ~a few hundred entries).
 * fn must not mutate t; collect what to delete and delete after the call. */
typedef void (*ht_scan_cb)(void *privdata, void *entry);
uint64_t ht_scan(ht_t *t, uint64_t cursor, ht_scan_cb fn, void *privdata);

/* A random entry, NULL if empty. Every entry is equally likely (RANDOMKEY, SRANDMEMBER, SPOP),
 * except in a table held very sparse (shrinking held back by a fork or an iterator), where it
 * falls back to a sample that favours entries after empty buckets. */
void *ht_random(ht_t *t);
/* Up to n distinct entries from random places, for eviction sampling; returns how many. It may
 * return fewer than min(n, size) when the table is very sparse (it bounds the buckets it reads). */
size_t ht_sample(ht_t *t, void **out, size_t n);

/* Safe iteration: rehashing (and bucket compaction) is paused while an iterator is live; the
 * entry just returned may be deleted with ht_delete/ht_pop. Inserting is allowed too: an entry
 * inserted during the iteration may or may not be returned; every entry present for the whole
 * iteration is returned exactly once. ht_clear/ht_release must not be called while one is live. */
typedef struct ht_iter {
    ht_t *priv_t;
    void *priv_bucket; /* bucket being walked, NULL between chains */
    size_t priv_index; /* next top-level bucket index in priv_table */
    int priv_table;    /* 0, 1, or 2 when finished */
    int priv_slot;     /* next slot of priv_bucket to look at */
} ht_iter_t;           /* public size */
void ht_iter_init(ht_iter_t *it, ht_t *t);
void *ht_iter_next(ht_iter_t *it); /* NULL at the end */
void ht_iter_done(ht_iter_t *it);

/* Incremental rehash work for at most us microseconds; returns 1 while a rehash is still going
 * (also when it is paused by a live iterator), 0 when none is. */
int ht_rehash_us(ht_t *t, uint64_t us);
int ht_is_rehashing(const ht_t *t); /* 1 while two tables exist */
/* Global switch: while resizing is discouraged (a forked snapshot child is alive, copy-on-write),
 * only grow past a much higher fill (500% of slots, like Valkey's resize policy) and never
 * shrink. */
void ht_set_resize_policy(int allow); /* 1 allow (default), 0 avoid */
size_t ht_mem_bytes(const ht_t *t);   /* bytes of buckets (not entries), for MEMORY USAGE / INFO */
size_t ht_buckets(const ht_t *t);     /* top-level buckets of both tables (not chained ones) */

/* Parallel walking for snapshot writer threads on a frozen table (no mutation meanwhile):
 * the index space [0, ht_walk_span(t)) covers every bucket of both tables; disjoint ranges
 * visit disjoint entries and together every entry exactly once. */
size_t ht_walk_span(const ht_t *t);
void ht_walk_range(const ht_t *t, size_t from, size_t to, ht_scan_cb fn, void *privdata);

#endif
