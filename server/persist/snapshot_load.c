/*
 * snapshot_load.c - loading a snapshot into the keyspace at start (and in keel-restore).
 *
 * Threads: snap_load() runs on a helper thread and decodes chunks with snapshot-threads threads.
 * Its apply callback (on those threads) builds each key's object there — obj_new_str, or the
 * type's create/add ops — and appends it to a per-thread batch; full batches go to a
 * mutex-protected queue (bounded: LOAD_QUEUE_MAX batches, decoders wait when it is full). The
 * main thread, the only one that touches the keyspace, takes batches off the queue and inserts
 * them with db_add_new. Decoding, decompression, object building, the key's hash and its access
 * field run in parallel; what is left on the main thread is one probe per key (which is also the
 * duplicate check), with the buckets prefetched a few keys ahead and the key table and expiry
 * index pre-sized from the header's key count, so a single-database load never rehashes.
 *
 * The main thread's insert was the bottleneck of a load (bench/snapshot.sh): a lookup, then a
 * second hash and probe, incremental rehashes that re-hashed every entry at each doubling, and a
 * clock read per key. 1,000,000 small strings loaded in ~410-550 ms, now ~150-170 ms, ~205 ms
 * when every key has a TTL (2 threads, shared 2-core VM); the main thread and the two decoders
 * now take about a third of the CPU each.
 *
 * With the value tier open (docs/tiering.md section 8.7), the main thread calls
 * tiering_load_pressure after each batch: values go out while used memory is above the tier's
 * goal, and the main thread waits for the puts when it is well above, so the decoders (bounded
 * by LOAD_QUEUE_MAX) wait too and a data set larger than memory loads with memory near the goal.
 *
 * Keys are loaded as they were, expired or not: the log replayed after the snapshot may still
 * reference a key whose TTL passed (its DEL is in the log), and keys that are still expired
 * after the replay expire normally. A key present twice is a damaged file (KERR_CORRUPT), not
 * an assertion.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kerr.h"
#include "kmem.h"
#include "persist_int.h"
#include "sbuf.h"
#include "script.h"
#include "snapshot_glue_int.h"
#include "tiering.h"
#include "t_hash.h"
#include "util.h"

#define LOAD_BATCH_MAX      1024 /* objects per hand-over: one lock round trip per 1024 keys */
#define LOAD_QUEUE_MAX      32   /* batches waiting for the main thread (32k objects in flight) */
#define LOAD_PREFETCH_AHEAD 8    /* inserts between prefetching a bucket and probing it */
#define LOAD_KEY_BYTES_MIN  32   /* memory a loaded key takes at the least (object + slot) */
/* With the value tier open, objects between the decoders and the keyspace cannot go out yet:
 * fewer batches wait and a batch is full at this many bytes of keys and values, so what is in
 * flight stays a few MiB above the tier's goal whatever the value sizes. */
#define LOAD_QUEUE_TIERED_MAX       2
#define LOAD_BATCH_TIERED_BYTES_MAX (1u << 20)

/* A built object, its db and its key's hash (computed by the decoder, so the main thread only
 * probes). Its access field is already set (saved metadata, or what a first access gives). */
typedef struct load_item {
    kobj_t *o;
    uint64_t hash;
    uint32_t db;
    bool ttl; /* the key has an expiry: it goes into the expiry index too */
} load_item_t;

typedef struct load_batch {
    struct load_batch *next;
    size_t n;
    size_t ttl_n; /* items with ttl set */
    size_t bytes; /* of the items' keys and values (elements for a collection) */
    load_item_t item[LOAD_BATCH_MAX];
} load_batch_t;

typedef struct load_ctx {
    engine_t *s;
    const char *path;
    int nthreads;
    pthread_mutex_t mu;   /* guards everything below it */
    pthread_cond_t ready; /* a batch was queued, or the load ended */
    pthread_cond_t space; /* the queue shrank */
    load_batch_t *head, *tail;
    size_t queued;
    size_t queue_max;       /* batches waiting at most (set before the threads start) */
    size_t batch_bytes_max; /* a batch is full at this many bytes (or LOAD_BATCH_MAX items) */
    bool done;
    int rc;           /* snap_load's result */
    atomic_bool stop; /* the main thread found damage: decoders stop (read unlocked) */
    char err[512];
    load_batch_t *local[SNAP_THREADS_MAX]; /* per decoder thread; only that thread touches it */
    snap_info_t info;
    uint32_t lru_fresh;   /* db_lru_fresh() at the start, for keys without saved metadata */
    uint64_t header_keys; /* keys the file's header announces; 0 when it could not be read */
    sbuf_t funcs; /* FUNCTION records: (u32 length, code) each, loaded once the keys are in */
    /* Main thread only. */
    bool reserved;     /* the first database to receive a key was pre-sized */
    uint64_t inserted; /* keys inserted so far */
} load_ctx_t;

static void
enqueue(load_ctx_t *l, load_batch_t *b) {
    pthread_mutex_lock(&l->mu);
    while (l->queued >= l->queue_max && !l->stop)
        pthread_cond_wait(&l->space, &l->mu);
    b->next = NULL;
    if (l->tail)
        l->tail->next = b;
    else
        l->head = b;
    l->tail = b;
    l->queued++;
    pthread_cond_signal(&l->ready);
    pthread_mutex_unlock(&l->mu);
}

static int
build_fail(load_ctx_t *l, const snap_rec_t *rec, const char *what) {
    pthread_mutex_lock(&l->mu);
    if (!l->err[0])
        snprintf(l->err, sizeof l->err, "snapshot %s: key '%.*s' (db %u): %s", l->path,
                 (int)(rec->klen > 64 ? 64 : rec->klen), rec->key, rec->db, what);
    pthread_mutex_unlock(&l->mu);
    return KERR_CORRUPT;
}

static int
obj_type_of(int snap_type) {
    switch (snap_type) {
    case SNAP_LIST: return OBJ_LIST;
    case SNAP_HASH:
    case SNAP_HASH_TTL: return OBJ_HASH;
    case SNAP_SET: return OBJ_SET;
    case SNAP_ZSET: return OBJ_ZSET;
    case SNAP_BLOOM: return OBJ_BLOOM;
    case SNAP_STREAM: return OBJ_STREAM;
    default: return -1;
    }
}

/* A hash with field expiries (HASH_TTL): fields, values and expiries in threes. */
static int
build_hash_ttl(load_ctx_t *l, const snap_rec_t *rec, kobj_t **out, size_t *bytes) {
    thash_t h = hash_new_ttl(rec->count);
    snap_rec_t it = *rec;
    const char *p[3];
    size_t n[3];
    int r = 0;
    for (uint64_t i = 0; i < rec->count && r >= 0; i++) {
        for (int k = 0; k < 3; k++)
            if (snap_rec_next(&it, &p[k], &n[k], NULL) != 1)
                r = KERR_CORRUPT;
        if (r < 0)
            break;
        int64_t ms = HASH_NO_TTL;
        if (n[2] == SNAP_FIELD_TTL_BYTES)
            memcpy(&ms, p[2], sizeof ms);
        if (ms < HASH_NO_TTL || (n[2] && ms < 0)) {
            r = KERR_CORRUPT;
            break;
        }
        *bytes += n[0] + n[1];
        r = hash_load_ttl_add(&h, p[0], n[0], p[1], n[1], ms);
    }
    if (r < 0) {
        hash_release(&h);
        return build_fail(l, rec,
                          r == KERR_CORRUPT ? "malformed field, duplicate field or bad expiry"
                                            : "a field or value too long");
    }
    *out = obj_new_ptr(OBJ_HASH, h.enc, rec->key, rec->klen, h.p, rec->expire_ms);
    return 0;
}

/* Builds the object of a collection record through its type's create/add ops. */
static int
build_collection(load_ctx_t *l, const snap_rec_t *rec, kobj_t **out, size_t *bytes) {
    if (rec->type == SNAP_HASH_TTL)
        return build_hash_ttl(l, rec, out, bytes);
    int type = obj_type_of(rec->type);
    const obj_type_ops_t *ops = type >= 0 ? obj_ops(type) : NULL;
    if (!ops || !ops->create || !ops->add)
        return build_fail(l, rec, "a type this server does not have");
    uint64_t elems = rec->type == SNAP_HASH ? rec->count * 2 : rec->count;
    int enc;
    void *ptr = ops->create(elems, &enc);
    snap_rec_t it = *rec;
    const char *p;
    size_t n;
    double score = 0;
    int r;
    while ((r = snap_rec_next(&it, &p, &n, &score)) == 1) {
        *bytes += n;
        if ((r = ops->add(&ptr, &enc, p, n, score)) < 0)
            break;
    }
    if (r == 0 && ops->done)
        r = ops->done(ptr, enc);
    if (r < 0) {
        ops->free(ptr, enc);
        return build_fail(l, rec,
                          r == KERR_CORRUPT ? "malformed elements"
                                            : "an element the type refuses (duplicate?)");
    }
    *out = obj_new_ptr(type, enc, rec->key, rec->klen, ptr, rec->expire_ms);
    return 0;
}

/* snap_apply_cb, on a decoder thread. */
static int
apply_cb(void *ctx, int thread, const snap_rec_t *rec) {
    load_ctx_t *l = ctx;
    if (l->stop)
        return KERR_CORRUPT;
    if (rec->type == SNAP_FUNCTION) { /* Lua is the main thread's: the code waits for it */
        uint32_t n = (uint32_t)rec->klen;
        pthread_mutex_lock(&l->mu);
        sbuf_append(&l->funcs, (const char *)&n, sizeof n);
        sbuf_append(&l->funcs, rec->key, rec->klen);
        pthread_mutex_unlock(&l->mu);
        return 0;
    }
    if ((int64_t)rec->db >= (int64_t)l->s->cfg.databases)
        return build_fail(l, rec, "database index beyond the configured databases");
    if (rec->type != SNAP_STRING && rec->count == 0)
        return 0; /* an empty collection is no key at all in the keyspace */
    kobj_t *o = NULL;
    size_t bytes = rec->klen;
    if (rec->type == SNAP_STRING) {
        snap_rec_t it = *rec;
        const char *v;
        size_t vlen;
        if (snap_rec_next(&it, &v, &vlen, NULL) != 1)
            return build_fail(l, rec, "a string without a value");
        o = obj_new_str(rec->key, rec->klen, v, vlen, rec->expire_ms);
        bytes += vlen;
    } else {
        int rc = build_collection(l, rec, &o, &bytes);
        if (rc < 0)
            return rc;
    }
    load_batch_t *b = l->local[thread];
    if (!b) {
        b = kmalloc(sizeof *b);
        b->n = 0;
        b->ttl_n = 0;
        b->bytes = 0;
        l->local[thread] = b;
    }
    obj_set_lru(o, rec->has_meta ? rec->meta : l->lru_fresh);
    bool ttl = rec->expire_ms != SNAP_NO_EXPIRE;
    b->item[b->n++] = (load_item_t){o, db_hash_key(rec->key, rec->klen), rec->db, ttl};
    b->ttl_n += ttl;
    b->bytes += bytes;
    if (b->n == LOAD_BATCH_MAX || b->bytes >= l->batch_bytes_max) {
        l->local[thread] = NULL;
        enqueue(l, b);
    }
    return 0;
}

static void *
loader_main(void *arg) {
    load_ctx_t *l = arg;
    char err[512] = "";
    int rc = snap_load(l->path, l->nthreads, apply_cb, l, &l->info, err, sizeof err);
    for (int i = 0; i < SNAP_THREADS_MAX; i++) { /* the decoders are done: flush their rests */
        if (l->local[i]) {
            enqueue(l, l->local[i]);
            l->local[i] = NULL;
        }
    }
    pthread_mutex_lock(&l->mu);
    l->rc = rc;
    if (rc < 0 && !l->err[0])
        snprintf(l->err, sizeof l->err, "%s", err[0] ? err : kerr_str(rc));
    l->done = true;
    pthread_cond_signal(&l->ready);
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

/* Main thread: the first database to receive keys is pre-sized for every key the header
 * announces, so a single-database load (the common case) never rehashes. Reserving each newly
 * seen database for the rest would over-allocate many times over when keys are spread across
 * databases (the writer walks database by database in each part, so a database is seen long
 * before its predecessors are complete); the others grow as usual, and db_fit gives back what
 * the first one did not use. Its expiry index is pre-sized by the share of keys with a TTL in
 * the first batch: 1024 keys in bucket (hash) order are a fair sample of the file. */
static void
reserve_first(load_ctx_t *l, db_t *db, const load_batch_t *b) {
    l->reserved = true;
    if (l->header_keys <= l->inserted)
        return;
    uint64_t rest = l->header_keys - l->inserted;
    uint64_t ttl = b->n ? (rest * b->ttl_n + b->n - 1) / b->n : 0;
    db_reserve(db, (size_t)rest, (size_t)ttl);
}

/* The header's key count, as far as it can be believed before the chunks are decoded (their
 * counts are checked then): a key takes at least LOAD_KEY_BYTES_MIN of memory (object and table
 * slot), so no real file holds more than physical memory allows. A larger count from a damaged
 * or foreign file is not reserved (the load will fail anyway), rather than asking for an absurd
 * table. The file's size is no bound: a dense file holds well over a key per byte. */
static uint64_t
presize_keys(uint64_t header_keys) {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0)
        return 0;
    uint64_t max = (uint64_t)pages * (uint64_t)page / LOAD_KEY_BYTES_MIN;
    return header_keys <= max ? header_keys : 0;
}

static void
duplicate_found(load_ctx_t *l, const load_item_t *it) {
    size_t klen;
    const char *key = obj_key(it->o, &klen);
    pthread_mutex_lock(&l->mu);
    snprintf(l->err, sizeof l->err, "snapshot %s: key '%.*s' (db %u) appears twice", l->path,
             (int)(klen > 64 ? 64 : klen), key, it->db);
    l->stop = true;
    pthread_cond_broadcast(&l->space);
    pthread_mutex_unlock(&l->mu);
}

/* Main thread: insert one batch with one probe per key, the bucket prefetched a few keys ahead;
 * a duplicate key stops the load (the objects are freed). */
static int
insert_batch(load_ctx_t *l, load_batch_t *b, int rc) {
    db_t **dbs = l->s->dbs;
    if (rc == 0 && !l->reserved && b->n > 0)
        reserve_first(l, dbs[b->item[0].db], b);
    for (size_t i = 0; i < b->n && i < LOAD_PREFETCH_AHEAD; i++)
        db_prefetch(dbs[b->item[i].db], b->item[i].hash, b->item[i].ttl);
    for (size_t i = 0; i < b->n; i++) {
        load_item_t *it = &b->item[i];
        if (i + LOAD_PREFETCH_AHEAD < b->n) {
            const load_item_t *ahead = &b->item[i + LOAD_PREFETCH_AHEAD];
            db_prefetch(dbs[ahead->db], ahead->hash, ahead->ttl);
        }
        if (rc == 0 && db_add_new(dbs[it->db], it->o, it->hash) == 0) {
            l->inserted++;
            continue;
        }
        if (rc == 0) {
            duplicate_found(l, it);
            rc = KERR_CORRUPT;
        }
        obj_free(it->o);
    }
    kfree(b);
    return rc;
}

/* Main thread, after the keys: the libraries of the FUNCTION records (a library that does not
 * load is a damaged file: the server that wrote it had loaded it). */
static int
load_functions(load_ctx_t *l) {
    for (size_t off = 0; off + 4 <= l->funcs.len;) {
        uint32_t n;
        memcpy(&n, l->funcs.p + off, sizeof n);
        char why[256];
        if (function_load_code(l->s, l->funcs.p + off + 4, n, true, why, sizeof why) < 0) {
            snprintf(l->err, sizeof l->err, "snapshot %.200s: a function library does not load: %s",
                     l->path, why);
            return KERR_CORRUPT;
        }
        off += 4 + (size_t)n;
    }
    return 0;
}

int
snapshot_load_file(engine_t *s, const char *path, int nthreads, snap_info_t *info, char *err,
                   size_t errlen) {
    function_flush_all(s); /* the snapshot replaces them, as it replaces the keyspace */
    load_ctx_t *l = kcalloc(1, sizeof *l);
    l->s = s;
    l->path = path;
    l->nthreads = nthreads < 1 ? 1 : nthreads > SNAP_THREADS_MAX ? SNAP_THREADS_MAX : nthreads;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->ready, NULL);
    pthread_cond_init(&l->space, NULL);
    l->lru_fresh = db_lru_fresh(&s->dbenv);
    l->queue_max = s->tiering ? LOAD_QUEUE_TIERED_MAX : LOAD_QUEUE_MAX;
    l->batch_bytes_max = s->tiering ? LOAD_BATCH_TIERED_BYTES_MAX : SIZE_MAX;
    snap_info_t head;
    if (snap_read_info(path, &head, NULL, 0) == 0)
        l->header_keys = presize_keys(head.keys);
    pthread_t tid;
    int rc = 0;
    int e = pthread_create(&tid, NULL, loader_main, l);
    if (e) {
        snprintf(err, errlen, "snapshot %s: starting the loader: %s", path, strerror(e));
        rc = KERR_SYS(e);
        goto out;
    }
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (!l->head && !l->done)
            pthread_cond_wait(&l->ready, &l->mu);
        load_batch_t *b = l->head;
        if (!b)
            break; /* done and drained */
        l->head = NULL;
        l->tail = NULL;
        l->queued = 0;
        pthread_cond_broadcast(&l->space);
        pthread_mutex_unlock(&l->mu);
        while (b) {
            load_batch_t *next = b->next;
            rc = insert_batch(l, b, rc);
            b = next;
            if (rc == 0)
                tiering_load_pressure(s);
        }
        pthread_mutex_lock(&l->mu);
    }
    pthread_mutex_unlock(&l->mu);
    pthread_join(tid, NULL);
    for (int d = 0; d < s->cfg.databases; d++)
        db_fit(s->dbs[d]);
    if (rc == 0)
        rc = l->rc;
    if (rc == 0)
        rc = load_functions(l);
    if (rc == 0 && info)
        *info = l->info;
    if (rc < 0)
        snprintf(err, errlen, "%s", l->err[0] ? l->err : kerr_str(rc));
out:
    sbuf_free(&l->funcs);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->ready);
    pthread_cond_destroy(&l->space);
    kfree(l);
    return rc;
}
