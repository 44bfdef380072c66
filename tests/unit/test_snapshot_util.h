/*
 * test_snapshot_util.h - a deterministic keyspace for the snapshot tests: key i of n is described
 * by a pure function of i, so a producer can emit it and an apply callback (on any loader
 * thread) can check it without a shared map. Covers every type, empty, large and huge
 * collections, binary keys and values with NUL bytes, integer strings, expiry set and unset.
 */
#ifndef TEST_SNAPSHOT_UTIL_H
#define TEST_SNAPSHOT_UTIL_H

#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "snapshot.h"

#define TK_BIG_BYTES   (300u << 10) /* bigger than the 64 KiB chunks the tests use */
#define TK_LARGE_COUNT 20000u

static inline uint64_t
tk_mix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

typedef struct tkey {
    int type;
    uint32_t db;
    int64_t expire_ms;
    uint64_t count; /* pairs for a hash */
    int big;        /* elements of TK_BIG_BYTES */
    int intval;     /* a string whose value is a canonical integer */
    int has_meta;
    uint32_t meta;
} tkey_t;

static inline void
tk_describe(uint64_t i, tkey_t *k) {
    uint64_t h = tk_mix(i);
    memset(k, 0, sizeof *k);
    k->type = (int)(i % 5) + SNAP_STRING;
    k->db = i == 21 ? UINT32_MAX : (uint32_t)(i % 3);
    k->expire_ms = h % 3 == 0 ? SNAP_NO_EXPIRE : i == 20 ? 0 : 1700000000000ll + (int64_t)i;
    k->count = k->type == SNAP_STRING ? 1 : 1 + (h >> 8) % 8;
    if (i >= 5 && i < 10 && k->type != SNAP_STRING)
        k->count = 0;
    if (i >= 10 && i < 15 && k->type != SNAP_STRING)
        k->count = TK_LARGE_COUNT;
    if (i >= 15 && i < 20) {
        k->big = 1;
        if (k->type != SNAP_STRING)
            k->count = 3;
    }
    k->intval = k->type == SNAP_STRING && !k->big && i % 4 == 0;
    k->has_meta = i % 6 == 1;
    k->meta = (uint32_t)(i * 2654435761u);
}

/* Key bytes: "k", NUL, the index as 8 bytes, then 0..4 bytes of '\0'/'x'. */
static inline size_t
tk_key(uint64_t i, char *buf) {
    size_t n = 2 + 8 + tk_mix(i ^ 77) % 5;
    buf[0] = 'k';
    buf[1] = '\0';
    memcpy(buf + 2, &i, 8);
    for (size_t j = 10; j < n; j++)
        buf[j] = (j & 1) ? '\0' : 'x';
    return n;
}

static inline int
tk_key_index(const char *key, size_t klen, uint64_t *i) {
    if (klen < 10 || key[0] != 'k' || key[1] != '\0')
        return -1;
    memcpy(i, key + 2, 8);
    return 0;
}

static inline unsigned char
tk_byte(uint64_t i, uint64_t j, size_t pos) {
    return (unsigned char)(tk_mix(i * 1000003u + j * 7919u + pos / 8) >> (8 * (pos % 8)));
}

/* Element j of key i (the value of a string is j 0). Writes into buf (TK_BIG_BYTES + 32). */
static inline size_t
tk_elem(uint64_t i, uint64_t j, const tkey_t *k, char *buf) {
    if (k->intval)
        return (size_t)sprintf(buf, "%" PRId64, (int64_t)tk_mix(i) >> (i % 60));
    size_t n = k->big ? TK_BIG_BYTES + j : tk_mix(i * 31 + j) % 24;
    for (size_t pos = 0; pos < n; pos++)
        buf[pos] = (char)tk_byte(i, j, pos);
    return n;
}

static inline double
tk_score(uint64_t i, uint64_t j) {
    return (double)((int64_t)(tk_mix(i + j * 13) % 2000001) - 1000000) / 7.0;
}

/* Emits key i into a sink. buf: TK_BIG_BYTES + 32 bytes of scratch. */
static inline int
tk_put(snap_sink_t *s, uint64_t i, char *buf, int with_meta) {
    char key[16];
    tkey_t k;
    int rc;

    tk_describe(i, &k);
    size_t klen = tk_key(i, key);
    if (with_meta && k.has_meta)
        snap_sink_set_meta(s, k.meta);
    if (k.type == SNAP_STRING)
        return snap_put_string(s, k.db, key, klen, k.expire_ms, buf, tk_elem(i, 0, &k, buf));
    if ((rc = snap_put_begin(s, k.type, k.db, key, klen, k.expire_ms, k.count)) < 0)
        return rc;
    uint64_t n = k.type == SNAP_HASH ? 2 * k.count : k.count;
    for (uint64_t j = 0; j < n; j++) {
        size_t len = tk_elem(i, j, &k, buf);
        rc = k.type == SNAP_ZSET ? snap_put_zelem(s, buf, len, tk_score(i, j))
                                 : snap_put_elem(s, buf, len);
        if (rc < 0)
            return rc;
    }
    return snap_put_end(s);
}

/* Compares a decoded record with the key it names; NULL if equal, else what differs. */
static inline const char *
tk_check(const snap_rec_t *rec, uint64_t n, int expect_meta, uint64_t *index, char *buf) {
    snap_rec_t it = *rec;
    const char *p;
    size_t len;
    double score;
    char key[16];
    tkey_t k;
    uint64_t i;

    if (tk_key_index(rec->key, rec->klen, &i) < 0 || i >= n)
        return "key not of the test keyspace";
    *index = i;
    tk_describe(i, &k);
    size_t klen = tk_key(i, key);
    if (rec->klen != klen || memcmp(rec->key, key, klen) != 0)
        return "key bytes";
    if (rec->type != k.type || rec->db != k.db || rec->expire_ms != k.expire_ms)
        return "type, db or expiry";
    if (rec->count != k.count)
        return "count";
    if (rec->has_meta != (expect_meta && k.has_meta) || (rec->has_meta && rec->meta != k.meta))
        return "access metadata";
    uint64_t total = k.type == SNAP_HASH ? 2 * k.count : k.count;
    for (uint64_t j = 0; j < total; j++) {
        if (snap_rec_next(&it, &p, &len, &score) != 1)
            return "fewer elements";
        size_t want = tk_elem(i, j, &k, buf);
        if (len != want || memcmp(p, buf, len) != 0)
            return "element bytes";
        if (k.type == SNAP_ZSET && score != tk_score(i, j))
            return "score";
    }
    if (snap_rec_next(&it, &p, &len, &score) != 0)
        return "more elements";
    return NULL;
}

/* Shared state of a load that checks every key of a test keyspace of n keys. */
typedef struct tk_load {
    uint64_t n;
    int expect_meta;
    _Atomic uint8_t *seen;
    _Atomic uint64_t applied, bad;
    _Atomic int threads_seen; /* bit per thread index */
    pthread_mutex_t lock;
    char first_bad[256];
} tk_load_t;

static inline void
tk_load_init(tk_load_t *l, uint64_t n, int expect_meta) {
    memset(l, 0, sizeof *l);
    l->n = n;
    l->expect_meta = expect_meta;
    l->seen = calloc(n ? n : 1, 1);
    pthread_mutex_init(&l->lock, NULL);
}

static inline void
tk_load_free(tk_load_t *l) {
    free((void *)l->seen);
    pthread_mutex_destroy(&l->lock);
}

static inline int
tk_apply_cb(void *ctx, int thread, const snap_rec_t *rec) {
    tk_load_t *l = ctx;
    char buf[TK_BIG_BYTES + 32]; /* loader threads have the default 8 MiB stack */
    uint64_t i = UINT64_MAX;

    atomic_fetch_or(&l->threads_seen, 1 << thread);
    atomic_fetch_add(&l->applied, 1);
    const char *why = tk_check(rec, l->n, l->expect_meta, &i, buf);
    if (!why && atomic_fetch_add(&l->seen[i], 1) != 0)
        why = "key applied twice";
    if (why) {
        pthread_mutex_lock(&l->lock);
        if (atomic_fetch_add(&l->bad, 1) == 0)
            snprintf(l->first_bad, sizeof l->first_bad, "key %" PRIu64 ": %s", i, why);
        pthread_mutex_unlock(&l->lock);
    }
    return 0;
}

/* Number of keys of [0, n) not seen exactly once. */
static inline uint64_t
tk_load_missing(const tk_load_t *l) {
    uint64_t m = 0;
    for (uint64_t i = 0; i < l->n; i++)
        m += l->seen[i] != 1;
    return m;
}

typedef struct tk_produce {
    uint64_t n;
    int with_meta;
} tk_produce_t;

/* Part p of nparts takes the keys i with i % nparts == p. */
static inline int
tk_produce_cb(void *ctx, int part, int nparts, snap_sink_t *sink) {
    tk_produce_t *t = ctx;
    char *buf = malloc(TK_BIG_BYTES + 32);
    int rc = 0;

    for (uint64_t i = (uint64_t)part; i < t->n && rc == 0; i += (uint64_t)nparts)
        rc = tk_put(sink, i, buf, t->with_meta);
    free(buf);
    return rc;
}

/* A fresh directory under /tmp for one test. */
static inline void
tk_tmpdir(char *dir, size_t n) {
    snprintf(dir, n, "/tmp/keel-snap-test-XXXXXX");
    if (!mkdtemp(dir))
        abort();
}

static inline void
tk_rmdir(const char *dir) {
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

#endif
