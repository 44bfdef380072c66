/*
 * test_ds_ht.c - the keyspace hash table: lookups at scale, two-phase insert, in-place replace,
 * incremental grow and shrink, the SCAN guarantee, the safe iterator, parallel walking,
 * sampling, and random operations checked against a reference model.
 *
 * Two entry types: a good one (XXH3 of the key) and a "clumped" one whose bucket index takes only
 * four values, so every bucket becomes a long chain and chaining, compaction and the iterator's
 * chain handling are exercised on every operation.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kerr.h"
#include "kmem.h"
#include "ht.h"

typedef struct ent {
    uint64_t key;
    uint64_t val;
} ent_t;

static size_t freed;

static uint64_t
mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t
hash_key(const void *k) {
    return ht_hash_bytes(k, sizeof(uint64_t));
}

static uint64_t
hash_ent(const void *e) {
    return hash_key(&((const ent_t *)e)->key);
}

/* Only the two low bits vary (four buckets at most); the tag still varies. */
static uint64_t
hash_key_clumped(const void *k) {
    return mix(*(const uint64_t *)k) & 0xff00000000000003ull;
}

/* Every key in bucket 0, whatever the table size: one chain holds everything. */
static uint64_t
hash_key_one_bucket(const void *k) {
    return mix(*(const uint64_t *)k) & 0xff00000000000000ull;
}

static int
key_eq(const void *e, const void *k) {
    return ((const ent_t *)e)->key == *(const uint64_t *)k;
}

static const void *
ent_key(const void *e) {
    return &((const ent_t *)e)->key;
}

static void
ent_free(void *e) {
    freed++;
    free(e);
}

static const ht_type_t good_type = {
    .hash_key = hash_key,
    .hash_entry = hash_ent,
    .key_eq = key_eq,
    .entry_free = ent_free,
    .entry_key = ent_key,
};

/* hash_entry left NULL on purpose: the table derives it from entry_key. */
static const ht_type_t clumped_type = {
    .hash_key = hash_key_clumped,
    .key_eq = key_eq,
    .entry_free = ent_free,
    .entry_key = ent_key,
};

static const ht_type_t one_bucket_type = {
    .hash_key = hash_key_one_bucket,
    .key_eq = key_eq,
    .entry_free = ent_free,
    .entry_key = ent_key,
};

static ent_t *
ent_new(uint64_t key, uint64_t val) {
    ent_t *e = malloc(sizeof *e);
    cr_assert_not_null(e);
    e->key = key;
    e->val = val;
    return e;
}

static void
add_key(ht_t *t, uint64_t key) {
    cr_assert_eq(ht_add(t, ent_new(key, key * 3)), 0, "add %llu", (unsigned long long)key);
}

static uint64_t
rnd(uint64_t *s) {
    return mix(*s += 0x9e3779b97f4a7c15ull);
}

/* What a table with no bucket at all reports. */
static size_t
empty_mem_bytes(void) {
    ht_t *t = ht_create(&good_type);
    size_t n = ht_mem_bytes(t);
    ht_release(t);
    return n;
}

/* ---- basic operations ---- */

Test(ht_basic, insert_find_delete_at_200k) {
    enum { N = 200000 };
    ht_t *t = ht_create(&good_type);
    for (uint64_t k = 0; k < N; k++)
        add_key(t, k);
    cr_assert_eq(ht_size(t), N);
    for (uint64_t k = 0; k < N; k++) {
        ent_t *e = ht_find(t, &k);
        cr_assert(e && e->key == k && e->val == k * 3);
    }
    uint64_t absent = N + 5;
    cr_assert_null(ht_find(t, &absent));

    ent_t *dup = ent_new(7, 0);
    cr_assert_eq(ht_add(t, dup), KERR_EXISTS);
    free(dup);

    freed = 0;
    for (uint64_t k = 0; k < N; k += 2)
        cr_assert_eq(ht_delete(t, &k), 1);
    cr_assert_eq(freed, N / 2);
    cr_assert_eq(ht_size(t), N / 2);
    for (uint64_t k = 0; k < N; k++) {
        ent_t *e = ht_find(t, &k);
        if (k % 2)
            cr_assert(e && e->key == k);
        else
            cr_assert_null(e);
    }
    uint64_t zero = 0;
    cr_assert_eq(ht_delete(t, &zero), 0, "deleting twice finds nothing");
    ht_release(t);
    cr_assert_eq(freed, N, "release frees the remaining entries");
}

Test(ht_basic, clear_frees_entries_and_table_stays_usable) {
    ht_t *t = ht_create(&clumped_type);
    for (uint64_t k = 0; k < 500; k++)
        add_key(t, k);
    freed = 0;
    ht_clear(t);
    cr_assert_eq(freed, 500);
    cr_assert_eq(ht_size(t), 0);
    cr_assert_eq(ht_mem_bytes(t), empty_mem_bytes(), "no bucket left, chained or not");
    uint64_t k = 3;
    cr_assert_null(ht_find(t, &k));
    add_key(t, 3);
    cr_assert_not_null(ht_find(t, &k));
    ht_release(t);
}

Test(ht_basic, empty_table_answers_without_buckets) {
    ht_t *t = ht_create(&good_type);
    uint64_t k = 1;
    cr_assert_null(ht_find(t, &k));
    cr_assert_null(ht_find_ref(t, &k));
    cr_assert_eq(ht_delete(t, &k), 0);
    cr_assert_null(ht_pop(t, &k));
    cr_assert_eq(ht_scan(t, 0, NULL, NULL), 0, "a scan of an empty table is done at once");
    cr_assert_eq(ht_walk_span(t), 0);
    cr_assert_eq(ht_rehash_us(t, 10), 0);
    ht_iter_t it;
    ht_iter_init(&it, t);
    cr_assert_null(ht_iter_next(&it));
    ht_iter_done(&it);
    cr_assert_eq(ht_mem_bytes(t), empty_mem_bytes());
    ht_release(t);
    ht_release(NULL);
}

Test(ht_basic, pop_unlinks_without_freeing) {
    ht_t *t = ht_create(&good_type);
    for (uint64_t k = 0; k < 100; k++)
        add_key(t, k);
    freed = 0;
    uint64_t k = 42;
    ent_t *e = ht_pop(t, &k);
    cr_assert(e && e->key == 42);
    cr_assert_eq(freed, 0);
    cr_assert_null(ht_find(t, &k));
    cr_assert_null(ht_pop(t, &k));
    cr_assert_eq(ht_size(t), 99);
    free(e);
    ht_release(t);
}

Test(ht_basic, find_ref_replaces_entry_in_place) {
    ht_t *t = ht_create(&clumped_type);
    for (uint64_t k = 0; k < 1000; k++)
        add_key(t, k);
    for (uint64_t k = 0; k < 1000; k += 3) {
        void **ref = ht_find_ref(t, &k);
        cr_assert_not_null(ref);
        ent_t *old = *ref;
        cr_assert_eq(old->key, k);
        *ref = ent_new(k, 1000000 + k); /* a reallocated entry with the same key */
        free(old);
    }
    uint64_t absent = 5000;
    cr_assert_null(ht_find_ref(t, &absent));
    cr_assert_eq(ht_size(t), 1000);
    for (uint64_t k = 0; k < 1000; k++) {
        ent_t *e = ht_find(t, &k);
        cr_assert_eq(e->val, k % 3 ? k * 3 : 1000000 + k);
    }
    ht_release(t);
}

Test(ht_basic, find_pos_then_insert_at) {
    ht_t *t = ht_create(&clumped_type);
    /* The clumped hash fills chains, so some positions are "chain a new bucket here". */
    for (uint64_t k = 0; k < 3000; k++) {
        ht_pos_t pos;
        cr_assert_null(ht_find_pos(t, &k, &pos));
        ht_insert_at(t, &pos, ent_new(k, k));
        cr_assert_eq(ht_size(t), k + 1);
    }
    for (uint64_t k = 0; k < 3000; k++) {
        ht_pos_t pos;
        ent_t *e = ht_find_pos(t, &k, &pos);
        cr_assert(e && e->key == k, "present key is returned, not a position");
    }
    ht_release(t);
}

/* ---- resizing ---- */

Test(ht_resize, grows_and_shrinks_incrementally_with_operations_interleaved) {
    enum { N = 100000 };
    ht_t *t = ht_create(&good_type);
    size_t seen_rehashing = 0, buckets_before = 0;
    for (uint64_t k = 0; k < N; k++) {
        add_key(t, k);
        if (ht_is_rehashing(t)) {
            seen_rehashing++;
            /* Mid-rehash, entries are split across both tables: all must still be found. */
            if (seen_rehashing % 512 == 1)
                for (uint64_t j = 0; j <= k; j++)
                    cr_assert_not_null(ht_find(t, &j), "key %llu lost mid-rehash",
                                       (unsigned long long)j);
        }
    }
    cr_assert_gt(seen_rehashing, 1000, "growth is spread over many inserts");
    ht_rehash_us(t, 1000000);
    cr_assert_not(ht_is_rehashing(t));
    buckets_before = ht_buckets(t);
    cr_assert_geq(buckets_before * 7 * 77 / 100, N, "fill stays under 77%%");
    cr_assert_lt(buckets_before * 7 * 77 / 100 / 2, N, "and the table is not oversized");

    size_t shrink_rehashing = 0;
    for (uint64_t k = 0; k < N - 100; k++) {
        cr_assert_eq(ht_delete(t, &k), 1);
        if (ht_is_rehashing(t))
            shrink_rehashing++;
        if (k % 10007 == 0)
            for (uint64_t j = k + 1; j < N; j += 97)
                cr_assert_not_null(ht_find(t, &j));
    }
    cr_assert_gt(shrink_rehashing, 0);
    while (ht_rehash_us(t, 1000))
        ;
    /* 100 entries fit 64 buckets under 38%% fill; a shrink skipped while the previous one was
     * still rehashing may leave it one or two sizes above that. */
    cr_assert_leq(ht_buckets(t), 256, "shrank: %zu buckets", ht_buckets(t));
    cr_assert_geq(ht_buckets(t) * 7 * 77 / 100, 100);
    for (uint64_t k = N - 100; k < N; k++)
        cr_assert_not_null(ht_find(t, &k));
    for (uint64_t k = N - 100; k < N; k++)
        ht_delete(t, &k);
    cr_assert_eq(ht_mem_bytes(t), empty_mem_bytes(), "no bucket left, chained or not");
    cr_assert_eq(ht_buckets(t), 0, "an empty table drops its buckets");
    ht_release(t);
}

Test(ht_resize, rehash_us_finishes_a_started_rehash) {
    ht_t *t = ht_create(&good_type);
    uint64_t k = 0;
    while (!ht_is_rehashing(t) || ht_buckets(t) < 3000)
        add_key(t, k++);
    cr_assert_eq(ht_rehash_us(t, 0), 1, "a zero budget still does a little, not all");
    while (ht_rehash_us(t, 100))
        ;
    cr_assert_not(ht_is_rehashing(t));
    for (uint64_t j = 0; j < k; j++)
        cr_assert_not_null(ht_find(t, &j));
    ht_release(t);
}

Test(ht_resize, avoid_policy_defers_growth_and_shrinking) {
    ht_t *t = ht_create(&good_type);
    uint64_t n = 0;
    while (n < 20000)
        add_key(t, n++);
    ht_rehash_us(t, 1000000);
    size_t buckets = ht_buckets(t);
    cr_assert_lt(buckets * 7, 20000 * 2, "allowed: fill is 50%%..77%%");
    ht_set_resize_policy(0);
    /* Avoided: no grow until past 500%% of the slots. */
    while (n < buckets * 7 * 5)
        add_key(t, n++);
    cr_assert_eq(ht_buckets(t), buckets);
    cr_assert_not(ht_is_rehashing(t));
    add_key(t, n++);
    cr_assert(ht_is_rehashing(t), "past 500%% it grows even when avoided");
    ht_rehash_us(t, 1000000);
    size_t grown = ht_buckets(t);
    cr_assert_gt(grown, buckets);
    /* Avoided: no shrink, however empty. */
    uint64_t k = 0;
    for (; k < n - 10; k++)
        cr_assert_eq(ht_delete(t, &k), 1);
    cr_assert_eq(ht_buckets(t), grown);
    cr_assert_not(ht_is_rehashing(t));
    ht_set_resize_policy(1);
    cr_assert_eq(ht_delete(t, &k), 1);
    k++;
    cr_assert(ht_is_rehashing(t), "allowed again: the next delete starts the shrink");
    while (ht_rehash_us(t, 1000))
        ;
    cr_assert_lt(ht_buckets(t), 16);
    for (; k < n; k++)
        cr_assert_not_null(ht_find(t, &k));
    ht_release(t);
}

Test(ht_resize, deletes_compact_chains_even_when_not_shrinking) {
    ht_t *t = ht_create(&one_bucket_type);
    ht_set_resize_policy(0); /* no shrink: only compaction can give chained buckets back */
    for (uint64_t k = 0; k < 600; k++)
        add_key(t, k);
    while (ht_rehash_us(t, 1000))
        ;
    size_t full = ht_mem_bytes(t), buckets = ht_buckets(t);
    for (uint64_t k = 0; k < 594; k++)
        cr_assert_eq(ht_delete(t, &k), 1);
    cr_assert_eq(ht_buckets(t), buckets);
    /* 6 entries left fit the head bucket: every child bucket is gone. */
    cr_assert_gt(full, empty_mem_bytes() + buckets * 64 + 90 * 64,
                 "600 entries needed ~100 children");
    cr_assert_eq(ht_mem_bytes(t), empty_mem_bytes() + buckets * 64);
    for (uint64_t k = 594; k < 600; k++)
        cr_assert_not_null(ht_find(t, &k));
    ht_release(t);
}

/* ---- SCAN ---- */

typedef struct scan_seen {
    uint32_t *count; /* per stable key */
    uint64_t stable_n;
} scan_seen_t;

static void
scan_count_cb(void *priv, void *entry) {
    scan_seen_t *s = priv;
    ent_t *e = entry;
    if (e->key < s->stable_n)
        s->count[e->key]++;
}

static void
scan_under_churn(const ht_type_t *type, uint64_t stable_n, uint64_t volatile_max) {
    ht_t *t = ht_create(type);
    for (uint64_t k = 0; k < stable_n; k++)
        add_key(t, k);
    scan_seen_t s = {calloc(stable_n, sizeof(uint32_t)), stable_n};
    uint64_t next_vol = stable_n, low_vol = stable_n, cursor = 0, calls = 0;
    int grew = 0, shrank = 0, growing = 1;
    size_t max_buckets = ht_buckets(t);
    do {
        cursor = ht_scan(t, cursor, scan_count_cb, &s);
        cr_assert_lt(++calls, 10000000, "scan never ends");
        /* Churn between calls: volatile keys come in until volatile_max, then go. */
        for (int i = 0; i < 25; i++) {
            if (growing) {
                add_key(t, next_vol++);
                growing = next_vol - stable_n < volatile_max;
            } else if (low_vol < next_vol) {
                cr_assert_eq(ht_delete(t, &low_vol), 1);
                low_vol++;
            }
        }
        if (ht_buckets(t) > max_buckets) {
            max_buckets = ht_buckets(t);
            grew = 1;
        } else if (grew && ht_buckets(t) < max_buckets) {
            shrank = 1;
        }
    } while (cursor != 0);
    for (uint64_t k = 0; k < stable_n; k++)
        cr_assert_geq(s.count[k], 1, "stable key %llu missed by scan", (unsigned long long)k);
    cr_assert(grew && shrank, "the scan must have seen a grow and a shrink (%d %d)", grew, shrank);
    free(s.count);
    ht_release(t);
}

Test(ht_scan, returns_every_entry_of_a_still_table_exactly_once) {
    ht_t *t = ht_create(&good_type);
    for (uint64_t k = 0; k < 30000; k++)
        add_key(t, k);
    ht_rehash_us(t, 1000000);
    scan_seen_t s = {calloc(30000, sizeof(uint32_t)), 30000};
    uint64_t cursor = 0;
    do
        cursor = ht_scan(t, cursor, scan_count_cb, &s);
    while (cursor != 0);
    for (uint64_t k = 0; k < 30000; k++)
        cr_assert_eq(s.count[k], 1);
    free(s.count);
    ht_release(t);
}

Test(ht_scan, entries_present_throughout_are_returned_across_grow_and_shrink) {
    scan_under_churn(&good_type, 4000, 60000);
}

Test(ht_scan, guarantee_holds_with_long_chains) {
    scan_under_churn(&clumped_type, 500, 3000);
}

/* ---- safe iterator ---- */

static void
iterate_deleting_returned(const ht_type_t *type) {
    enum { N = 20000 };
    ht_t *t = ht_create(type);
    for (uint64_t k = 0; k < N; k++)
        add_key(t, k);
    uint8_t *seen = calloc(N, 1);
    ht_iter_t it;
    ht_iter_init(&it, t);
    ent_t *e;
    size_t returned = 0;
    while ((e = ht_iter_next(&it))) {
        uint64_t k = e->key;
        cr_assert_lt(k, N);
        cr_assert_eq(seen[k], 0, "key %llu returned twice", (unsigned long long)k);
        seen[k] = 1;
        returned++;
        if (k % 2 == 0)
            cr_assert_eq(ht_delete(t, &k), 1);
    }
    ht_iter_done(&it);
    cr_assert_eq(returned, N);
    cr_assert_eq(ht_size(t), N / 2);
    for (uint64_t k = 0; k < N; k++)
        cr_assert((ht_find(t, &k) != NULL) == (k % 2 == 1));
    /* Deleting the rest after the iterator is gone compacts and frees everything. */
    for (uint64_t k = 1; k < N; k += 2)
        cr_assert_eq(ht_delete(t, &k), 1);
    cr_assert_eq(ht_mem_bytes(t), empty_mem_bytes(), "no bucket left, chained or not");
    free(seen);
    ht_release(t);
}

Test(ht_iter, returned_entry_may_be_deleted) {
    iterate_deleting_returned(&good_type);
}

Test(ht_iter, returned_entry_may_be_deleted_in_long_chains) {
    iterate_deleting_returned(&clumped_type);
}

Test(ht_iter, inserts_during_iteration_never_repeat_old_entries_and_rehash_pauses) {
    enum { N = 4000 };
    ht_t *t = ht_create(&clumped_type);
    for (uint64_t k = 0; k < N; k++)
        add_key(t, k);
    uint8_t *seen = calloc(N, 1);
    ht_iter_t it;
    ht_iter_init(&it, t);
    ent_t *e;
    uint64_t next = 1u << 20;
    size_t mem_before = ht_mem_bytes(t);
    while ((e = ht_iter_next(&it))) {
        if (e->key < N) {
            cr_assert_eq(seen[e->key], 0, "key %llu returned twice", (unsigned long long)e->key);
            seen[e->key] = 1;
        }
        if (next - (1u << 20) >= 3 * N)
            continue; /* new entries land ahead of the iterator: stop adding, or it never ends */
        /* Insert into the same full chains, forcing new child buckets mid-iteration. */
        for (int i = 0; i < 3; i++)
            add_key(t, next++);
    }
    cr_assert(ht_is_rehashing(t), "growth started but no entry moved while iterating");
    ht_iter_done(&it);
    cr_assert_gt(ht_mem_bytes(t), mem_before);
    for (uint64_t k = 0; k < N; k++)
        cr_assert_eq(seen[k], 1, "key %llu missed", (unsigned long long)k);
    while (ht_rehash_us(t, 1000))
        ;
    cr_assert_eq(ht_size(t), N + (next - (1u << 20)));
    for (uint64_t k = 1u << 20; k < next; k++)
        cr_assert_not_null(ht_find(t, &k));
    free(seen);
    ht_release(t);
}

Test(ht_iter, bucket_chained_after_its_last_slot_was_returned_gives_no_repeat) {
    ht_t *t = ht_create(&one_bucket_type);
    for (uint64_t k = 0; k < 7; k++)
        add_key(t, k);
    ht_rehash_us(t, 1000000);
    cr_assert_not(ht_is_rehashing(t));
    ht_iter_t it;
    ht_iter_init(&it, t);
    uint8_t seen[8] = {0};
    for (int i = 0; i < 7; i++) { /* the whole bucket, up to and including slot 6 */
        ent_t *e = ht_iter_next(&it);
        cr_assert(e && e->key < 7 && !seen[e->key]);
        seen[e->key] = 1;
    }
    add_key(t, 7); /* the full bucket chains: its slot 6 entry moves to the new child */
    ent_t *e;
    while ((e = ht_iter_next(&it))) {
        cr_assert_eq(e->key, 7, "old key %llu returned again", (unsigned long long)e->key);
        cr_assert_eq(seen[7]++, 0);
    }
    ht_iter_done(&it);
    ht_release(t);
}

/* ---- parallel walking ---- */

static void
walk_count_cb(void *priv, void *entry) {
    ((uint32_t *)priv)[((ent_t *)entry)->key]++;
}

static void
check_walk_ranges(ht_t *t, uint64_t n) {
    uint32_t *count = malloc(n * sizeof(uint32_t));
    size_t span = ht_walk_span(t);
    for (size_t parts = 1; parts <= 8; parts++) {
        memset(count, 0, n * sizeof(uint32_t));
        for (size_t p = 0; p < parts; p++)
            ht_walk_range(t, span * p / parts, span * (p + 1) / parts, walk_count_cb, count);
        for (uint64_t k = 0; k < n; k++)
            cr_assert_eq(count[k], 1, "%zu parts: key %llu seen %u times", parts,
                         (unsigned long long)k, count[k]);
    }
    free(count);
}

Test(ht_walk, ranges_cover_every_entry_exactly_once) {
    ht_t *t = ht_create(&good_type);
    uint64_t n = 0;
    while (n < 50000)
        add_key(t, n++);
    ht_rehash_us(t, 1000000);
    cr_assert_not(ht_is_rehashing(t));
    check_walk_ranges(t, n);
    /* Frozen mid-rehash: both tables are in the span. */
    while (!ht_is_rehashing(t))
        add_key(t, n++);
    for (int i = 0; i < 1000; i++)
        add_key(t, n++);
    cr_assert(ht_is_rehashing(t));
    cr_assert_gt(ht_walk_span(t), ht_buckets(t) / 2);
    check_walk_ranges(t, n);
    ht_release(t);
}

Test(ht_walk, ranges_cover_long_chains) {
    ht_t *t = ht_create(&clumped_type);
    for (uint64_t k = 0; k < 2000; k++)
        add_key(t, k);
    check_walk_ranges(t, 2000);
    ht_release(t);
}

/* ---- bulk loading: reserve, hashed two-phase insert, prefetch, fit ---- */

/* Entries inserted with the hash computed elsewhere, as the snapshot loader does. */
static void
add_hashed(ht_t *t, uint64_t key) {
    ht_pos_t pos;
    uint64_t h = hash_key(&key);
    ht_prefetch(t, h);
    cr_assert_null(ht_find_pos_hashed(t, &key, h, &pos), "key %llu absent",
                   (unsigned long long)key);
    ht_insert_at(t, &pos, ent_new(key, key * 3));
}

Test(ht_bulk, reserved_table_takes_its_count_without_rehashing_or_growing) {
    enum { N = 300000 };
    ht_t *t = ht_create(&good_type);
    ht_prefetch(t, 12345); /* no bucket yet: a no-op, must not fault */
    ht_reserve(t, N);
    size_t buckets = ht_buckets(t);
    cr_assert_geq(buckets * 7 * 77, (size_t)N * 100, "room for N under the grow fill");
    cr_assert_lt(buckets * 7 * 77 / 2, (size_t)N * 100, "the smallest such size");
    for (uint64_t k = 0; k < N; k++) {
        add_hashed(t, k);
        cr_assert(!ht_is_rehashing(t));
    }
    cr_assert_eq(ht_buckets(t), buckets, "no grow during the load");
    cr_assert_eq(ht_size(t), N);
    ht_pos_t pos;
    uint64_t k = 777;
    ent_t *e = ht_find_pos_hashed(t, &k, hash_key(&k), &pos);
    cr_assert(e && e->key == 777, "the one probe finds a present key (the duplicate check)");
    for (k = 0; k < N; k++)
        cr_assert_eq(((ent_t *)ht_find(t, &k))->val, k * 3);
    ht_reserve(t, 10); /* never shrinks */
    cr_assert_eq(ht_buckets(t), buckets);
    ht_fit(t); /* full enough: nothing to give back */
    cr_assert(!ht_is_rehashing(t));
    cr_assert_eq(ht_buckets(t), buckets);
    ht_release(t);
}

Test(ht_bulk, reserve_of_a_filled_table_grows_it_and_keeps_every_entry) {
    ht_t *t = ht_create(&clumped_type);
    for (uint64_t k = 0; k < 1000; k++)
        add_key(t, k);
    size_t before = ht_buckets(t);
    ht_reserve(t, 100000);
    cr_assert_gt(ht_buckets(t), before * 16);
    while (ht_rehash_us(t, 1000))
        ;
    for (uint64_t k = 0; k < 1000; k++)
        cr_assert_not_null(ht_find(t, &k), "key %llu", (unsigned long long)k);
    ht_release(t);
}

Test(ht_bulk, fit_gives_back_an_over_reserved_table) {
    ht_t *t = ht_create(&good_type);
    ht_reserve(t, 1000000);
    size_t big = ht_mem_bytes(t);
    for (uint64_t k = 0; k < 1000; k++)
        add_hashed(t, k);
    ht_fit(t);
    while (ht_rehash_us(t, 1000))
        ;
    cr_assert_lt(ht_mem_bytes(t) * 100, big, "%zu bytes left of %zu", ht_mem_bytes(t), big);
    for (uint64_t k = 0; k < 1000; k++)
        cr_assert_not_null(ht_find(t, &k));
    ht_release(t);
}

/* ---- random entries and sampling ---- */

Test(ht_random, small_tables) {
    ht_t *t = ht_create(&good_type);
    void *out[8];
    cr_assert_null(ht_random(t));
    cr_assert_eq(ht_sample(t, out, 8), 0);
    add_key(t, 11);
    for (int i = 0; i < 50; i++)
        cr_assert_eq(((ent_t *)ht_random(t))->key, 11);
    cr_assert_eq(ht_sample(t, out, 8), 1);
    add_key(t, 12);
    add_key(t, 13);
    int hits[3] = {0};
    for (int i = 0; i < 3000; i++) {
        ent_t *e = ht_random(t);
        cr_assert(e && e->key >= 11 && e->key <= 13);
        hits[e->key - 11]++;
    }
    for (int i = 0; i < 3; i++)
        cr_assert_gt(hits[i], 500, "entry %d picked %d of 3000 times", i, hits[i]);
    cr_assert_eq(ht_sample(t, out, 8), 3, "sample gives each entry at most once");
    cr_assert(out[0] != out[1] && out[1] != out[2] && out[0] != out[2]);
    ht_release(t);
}

Test(ht_random, large_tables_fair_enough) {
    enum { N = 1000, DRAWS = 200000 };
    ht_t *t = ht_create(&good_type);
    for (uint64_t k = 0; k < N; k++)
        add_key(t, k);
    uint32_t *hits = calloc(N, sizeof(uint32_t));
    for (int i = 0; i < DRAWS; i++)
        hits[((ent_t *)ht_random(t))->key]++;
    for (uint64_t k = 0; k < N; k++) {
        cr_assert_gt(hits[k], 0, "key %llu never drawn", (unsigned long long)k);
        cr_assert_lt(hits[k], 6 * DRAWS / N, "key %llu drawn %u times", (unsigned long long)k,
                     hits[k]);
    }
    free(hits);
    for (uint64_t k = N; k < 100000; k++)
        add_key(t, k);
    void *out[64];
    for (int round = 0; round < 100; round++) {
        size_t got = ht_sample(t, out, 64);
        cr_assert_eq(got, 64);
        for (size_t i = 0; i < got; i++) {
            uint64_t k = ((ent_t *)out[i])->key;
            cr_assert_eq(ht_find(t, &k), out[i]);
            for (size_t j = 0; j < i; j++)
                cr_assert_neq(out[i], out[j]);
        }
    }
    ht_release(t);
}

/* Pearson's chi-square of the draw counts against a uniform pick among n entries. */
static double
chi_square(const uint32_t *hits, size_t n, size_t draws) {
    double expect = (double)draws / (double)n, chi = 0;
    for (size_t k = 0; k < n; k++)
        chi += ((double)hits[k] - expect) * ((double)hits[k] - expect) / expect;
    return chi;
}

/* ht_random over keys [0, n) of t, `draws` times; the chi-square of the counts. With n - 1
 * degrees of freedom the statistic has mean n - 1 and standard deviation sqrt(2 (n - 1)): for
 * n = 1000, 999 and 44.7. The bound below is that mean plus 6 deviations; the old picker (one
 * entry out of a few buckets read from a random start) scored above 10,000. */
static double
random_chi(ht_t *t, size_t n, size_t draws) {
    uint32_t *hits = calloc(n, sizeof(uint32_t));
    for (size_t i = 0; i < draws; i++) {
        ent_t *e = ht_random(t);
        cr_assert(e && e->key < n);
        hits[e->key]++;
    }
    double chi = chi_square(hits, n, draws);
    free(hits);
    return chi;
}

#define CHI_BOUND_1000 (999 + 6 * 44.7) /* for 1000 entries */

Test(ht_random, uniform_by_chi_square_in_a_fresh_table) {
    enum { N = 1000, DRAWS = 100000 };
    ht_t *t = ht_create(&good_type);
    for (uint64_t k = 0; k < N; k++)
        add_key(t, k);
    double chi = random_chi(t, N, DRAWS);
    cr_log_info("chi-square %.0f for %d entries, %d draws (mean 999)", chi, N, DRAWS);
    cr_assert_lt(chi, CHI_BOUND_1000, "chi-square %.0f: some entries are favoured", chi);
    cr_assert_gt(chi, 999 - 6 * 44.7, "chi-square %.0f: too even to be random", chi);
    ht_release(t);
}

Test(ht_random, uniform_by_chi_square_at_every_fill_and_while_rehashing) {
    enum { N = 1000, DRAWS = 100000 };
    ht_t *t = ht_create(&good_type);
    /* Near the grow fill (long chains), then just after a grow, then sparse after deletes. */
    for (uint64_t k = 0; k < 1400; k++)
        add_key(t, k);
    for (uint64_t k = N; k < 1400; k++)
        cr_assert_eq(ht_delete(t, &k), 1);
    cr_assert_lt(random_chi(t, N, DRAWS), CHI_BOUND_1000, "a full table");
    /* A table caught mid-rehash: entries in both tables. */
    ht_t *g = ht_create(&good_type);
    for (uint64_t k = 0; k < N; k++)
        add_key(g, k);
    ht_reserve(g, 40000);
    cr_assert(ht_is_rehashing(g));
    ht_rehash_us(g, 0); /* one step's worth: most entries still in the old table */
    cr_assert(ht_is_rehashing(g));
    cr_assert_lt(random_chi(g, N, DRAWS), CHI_BOUND_1000, "while rehashing");
    ht_release(g);
    /* Sparse: 12.5% fill is the lowest the shrink rule leaves. */
    for (uint64_t k = N; k < 6000; k++)
        add_key(t, k);
    ht_iter_t it;
    ht_iter_init(&it, t); /* holds the shrink back while deleting */
    for (uint64_t k = N; k < 6000; k++)
        cr_assert_eq(ht_delete(t, &k), 1);
    cr_assert_lt(random_chi(t, N, DRAWS), CHI_BOUND_1000, "a sparse table");
    ht_iter_done(&it);
    ht_release(t);
}

/* ---- random operations against a reference model ---- */

static void
model_check_all(ht_t *t, ent_t **model, uint64_t keys) {
    size_t n = 0;
    for (uint64_t k = 0; k < keys; k++) {
        cr_assert_eq(ht_find(t, &k), model[k], "key %llu", (unsigned long long)k);
        n += model[k] != NULL;
    }
    cr_assert_eq(ht_size(t), n);
    uint8_t *seen = calloc(keys, 1);
    ht_iter_t it;
    ht_iter_init(&it, t);
    ent_t *e;
    while ((e = ht_iter_next(&it))) {
        cr_assert_eq(model[e->key], e);
        cr_assert_eq(seen[e->key]++, 0);
    }
    ht_iter_done(&it);
    free(seen);
}

static void
model_one_op(ht_t *t, ent_t **model, uint64_t keys, uint64_t *rs) {
    uint64_t r = rnd(rs), k = (r >> 8) % keys;
    switch (r % 8) {
    case 0:
    case 1: {
        ent_t *e = ent_new(k, r);
        int rc = ht_add(t, e);
        cr_assert_eq(rc, model[k] ? KERR_EXISTS : 0);
        if (rc)
            free(e);
        else
            model[k] = e;
        break;
    }
    case 2: {
        ht_pos_t pos;
        ent_t *e = ht_find_pos(t, &k, &pos);
        cr_assert_eq(e, model[k]);
        if (!e)
            ht_insert_at(t, &pos, model[k] = ent_new(k, r));
        break;
    }
    case 3:
    case 4:
        cr_assert_eq(ht_delete(t, &k), model[k] != NULL);
        model[k] = NULL;
        break;
    case 5: {
        ent_t *e = ht_pop(t, &k);
        cr_assert_eq(e, model[k]);
        free(e);
        model[k] = NULL;
        break;
    }
    case 6: {
        void **ref = ht_find_ref(t, &k);
        cr_assert_eq(ref ? *ref : NULL, model[k]);
        if (ref) {
            free(*ref);
            *ref = model[k] = ent_new(k, r);
        }
        break;
    }
    default:
        cr_assert_eq(ht_find(t, &k), model[k]);
        if (r % 64 == 7)
            ht_rehash_us(t, 10);
        break;
    }
    cr_assert_leq(ht_size(t), keys);
}

static void
model_run(const ht_type_t *type, uint64_t keys, int ops) {
    ht_t *t = ht_create(type);
    ent_t **model = calloc(keys, sizeof *model);
    uint64_t rs = 12345;
    size_t rehash_ops = 0, shrinks = 0, grows = 0, buckets = 0;
    for (int i = 0; i < ops; i++) {
        /* Phases bias toward inserts then deletes, so the table grows and shrinks repeatedly. */
        int phase = (i / 20000) % 3;
        if (phase == 0 && rnd(&rs) % 2) {
            uint64_t k = rnd(&rs) % keys;
            if (!model[k])
                cr_assert_eq(ht_add(t, model[k] = ent_new(k, 0)), 0);
        } else if (phase == 2) {
            /* Strong enough to drain the table below 12.5% fill, so it shrinks. */
            for (int d = 0; d < 4; d++) {
                uint64_t k = rnd(&rs) % keys;
                cr_assert_eq(ht_delete(t, &k), model[k] != NULL);
                model[k] = NULL;
            }
        }
        model_one_op(t, model, keys, &rs);
        if (i % 25000 == 24999)
            model_check_all(t, model, keys);
        /* Mid-rehash both tables count: a shrink starts when the span falls below its peak. */
        rehash_ops += ht_is_rehashing(t);
        if (!ht_is_rehashing(t)) {
            grows += ht_buckets(t) > buckets && buckets > 0;
            shrinks += ht_buckets(t) < buckets && ht_buckets(t) > 0;
            buckets = ht_buckets(t);
        }
    }
    model_check_all(t, model, keys);
    cr_assert(rehash_ops > 10 && grows > 3 && shrinks > 0,
              "the model run must resize both ways (%zu ops rehashing, %zu grows, %zu shrinks)",
              rehash_ops, grows, shrinks);
    ht_release(t);
    free(model);
}

Test(ht_model, random_operations_match_a_reference_model) {
    model_run(&good_type, 20000, 300000);
}

Test(ht_model, random_operations_match_with_long_chains) {
    model_run(&clumped_type, 3000, 150000);
}

/* ---- hashing ---- */

Test(ht_hash, nocase_folds_ascii_letters_only) {
    cr_assert_eq(ht_hash_bytes_nocase("GeT", 3), ht_hash_bytes("get", 3));
    cr_assert_eq(ht_hash_bytes_nocase("get", 3), ht_hash_bytes("get", 3));
    cr_assert_neq(ht_hash_bytes_nocase("gex", 3), ht_hash_bytes("get", 3));
    cr_assert_neq(ht_hash_bytes("GET", 3), ht_hash_bytes("get", 3));
    cr_assert_neq(ht_hash_bytes_nocase("[", 1), ht_hash_bytes("{", 1), "only A-Z fold");
    char upper[1000], lower[1000];
    for (int i = 0; i < 1000; i++) {
        lower[i] = (char)('a' + i % 26);
        upper[i] = (char)('A' + i % 26);
    }
    /* Longer than the fold buffer: the streaming path must agree with the one-shot hash. */
    cr_assert_eq(ht_hash_bytes_nocase(upper, 1000), ht_hash_bytes(lower, 1000));
    cr_assert_eq(ht_hash_bytes_nocase(upper, 256), ht_hash_bytes(lower, 256));
    cr_assert_eq(ht_hash_bytes_nocase(upper, 257), ht_hash_bytes(lower, 257));
    uint64_t before = ht_hash_bytes("key", 3);
    ht_set_hash_seed(99);
    cr_assert_neq(ht_hash_bytes("key", 3), before, "the seed changes the hash");
}

/* The ready-made pointer set: identity, not contents, decides a repeat; entries are not freed. */
Test(ht_ptrset, addresses_are_members_by_identity) {
    static char cells[1000][2];
    ht_t *t = ht_create(&ht_ptrset_type);
    for (int i = 0; i < 1000; i++) {
        cells[i][0] = 'x'; /* same bytes at every address */
        cr_assert_eq(ht_add(t, cells[i]), 0);
    }
    cr_assert_eq(ht_size(t), 1000);
    cr_assert_eq(ht_add(t, cells[500]), KERR_EXISTS, "the same address is a repeat");
    cr_assert_eq(ht_find(t, cells[7]), cells[7]);
    char other[2] = {'x', 0};
    cr_assert_null(ht_find(t, other), "equal bytes at another address are not a member");
    cr_assert_eq(ht_delete(t, cells[7]), 1);
    cr_assert_null(ht_find(t, cells[7]));
    ht_release(t); /* no entry_free: the static cells stay valid */
    cr_assert_eq(cells[999][0], 'x');
}

Test(ht_mem, buckets_count_in_used_memory) {
    size_t before = kmem_used();
    ht_t *t = ht_create(&clumped_type); /* clumped: many chained buckets too */
    for (uint64_t k = 0; k < 5000; k++)
        add_key(t, k); /* the test's entries come from malloc, so only buckets are counted */
    size_t used = kmem_used() - before;
    cr_assert_geq(used, ht_mem_bytes(t), "%zu accounted, %zu reported", used, ht_mem_bytes(t));
    cr_assert_lt(used, ht_mem_bytes(t) * 2);
    ht_release(t);
    cr_assert_eq(kmem_used(), before, "every bucket is given back");
}

/* ---- memory and speed at 1M entries (measured, logged, bounded loosely) ---- */

static double
now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

Test(ht_mem, bytes_per_entry_at_one_million) {
    enum { N = 1000000 };
    ht_t *t = ht_create(&good_type);
    double t0 = now_s();
    for (uint64_t k = 0; k < N; k++)
        add_key(t, k);
    double t1 = now_s();
    while (ht_rehash_us(t, 100000))
        ;
    double per_entry = (double)ht_mem_bytes(t) / N;
    uint64_t sum = 0;
    double t2 = now_s();
    for (uint64_t i = 0; i < N; i++) {
        uint64_t k = mix(i) % N;
        sum += ((ent_t *)ht_find(t, &k))->val;
    }
    double t3 = now_s();
    cr_log_info("1M entries: %zu table bytes, %.2f bytes/entry, %zu buckets; insert %.0f ns/op, "
                "random find %.0f ns/op (sum %llu)",
                ht_mem_bytes(t), per_entry, ht_buckets(t), (t1 - t0) * 1e9 / N, (t3 - t2) * 1e9 / N,
                (unsigned long long)sum);
    cr_assert_lt(per_entry, 20.0, "%.2f bytes per entry", per_entry);
    ht_release(t);
}
