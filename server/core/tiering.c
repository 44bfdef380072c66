/*
 * tiering.c - values out to the tier and back (tiering.h; docs/tiering.md section 8).
 *
 * Structures (main thread, engine_t.tiering):
 *
 *   out      outgoing records by (db, key): a put in flight. The object keeps its value meanwhile;
 *            any change to the key (srv_key_modified, srv_db_modified) marks the record
 *            cancelled, and the put's result then deletes the id instead of stubbing the key.
 *   fetch    fetch records by id: a get in flight and the clients waiting for it (one get per
 *            id however many clients wait).
 *   ready    parked clients whose last fetch is back: run again before the loop sleeps.
 *   dels     ids whose stubs were freed but whose tier_del is not submitted yet: freed on
 *            another thread (lazy free), or refused by the tier's op bound. Guarded by dels_mu.
 *
 * Invariants:
 *   1. A key becomes a stub only in put_done(), when the put's status is 0, its record was not
 *      cancelled, and the key still holds a resident value of the same type whose bytes (a
 *      collection encoded again) have the same length and hash. So the tier holds the value the
 *      stub stands for, and a write that raced the put wins.
 *   2. Every id is put once (ids come from next_id) and deleted once: by put_done() when it was
 *      not stubbed, else when its stub is freed (obj_free -> stub_freed_cb), which is also what
 *      a fetch does when the value comes back (the stub is replaced by the value).
 *   3. A client is CLIENT_TIER_WAIT <=> c->tstate != NULL <=> it is a waiter of tstate->nwait
 *      fetch records, or on the ready list with nwait 0.
 *   4. No key is stubbed while a command runs: put results that tier_poll() delivers inside a
 *      synchronous fetch (tiering_fetch_now) are deferred to the next loop turn.
 *
 * States of a key's value:
 *
 *   resident --out_step: tier_put--> GOING OUT --put_done (0, not cancelled)--> STUB
 *      ^                               | (cancelled, error, stall: value stays) |
 *      +-------------------------------+                                         |
 *      +----------- get_done: value back in the object (stub freed: tier_del) ---+
 *
 * A client needing a stub: running --tiering_park_if_needed--> TIER_WAIT --get_done (last)-->
 * ready --tiering_before_sleep: exec_command again--> running (or TIER_WAIT again).
 *
 * Making room (docs/tiering.md 8.7, 8.8): out_step keeps used memory at the goal (the target,
 * or just below maxmemory) from the loop. Where no loop runs or a caller must not go on before
 * memory is down, make_room submits puts and waits on the tier's eventfd for their results:
 * tiering_load_pressure (the snapshot loader and the log's replay, between batches and records)
 * and tiering_make_room (evict_perform, before a command runs). Neither runs inside a command,
 * so both may stub keys (invariant 4).
 */
#include "tiering.h"

#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ev.h"
#include "evict.h"
#include "exec.h"
#include "kassert.h"
#include "kerr.h"
#include "klog.h"
#include "kmem.h"
#include "reply.h"
#include "tier.h"
#include "util.h"

/* Keys sampled per choice of a value to send out: more than eviction's default 5, because the
 * LRU clock has a 1 s resolution and ties among a few samples make the choice random; a put
 * costs far more than 16 table samples. */
#define OUT_SAMPLES    16
#define OUT_ROUNDS_MAX 8 /* samples per pick at most, until OUT_SAMPLES values were scored */
/* Larger values stay in memory: the tier's bound on the bytes of puts in flight (64 MiB) would
 * refuse them whenever other puts are in flight, and a refused pick ends a step. */
#define OUT_VALUE_MAX     (TIER_PUT_BYTES_MAX_DEFAULT / 4)
#define OUT_PUTS_PER_STEP 256       /* puts submitted per out_step */
#define STALL_BACKOFF_MS  100       /* after a put refused by RocksDB's write stall */
#define ERROR_BACKOFF_MS  1000      /* after a failed put: values stay in memory meanwhile */
#define DELS_PENDING_MAX  (1 << 20) /* queued deletes; beyond, ids stay in the tier (leaked) */
#define SYNC_FETCH_TRIES  3
#define LAST_ERROR_MAX    256
/* With maxmemory set, values go out once used memory passes maxmemory - maxmemory / this (even
 * with no target), so that writes near the limit rarely wait for the tier. */
#define MAXMEMORY_MARGIN_DIV 16
/* Over maxmemory a command waits at most this long for values to go out; then eviction deletes
 * (the tier cannot keep up). */
#define MAKE_ROOM_WAIT_MS_MAX 500
/* While loading, the loader waits for puts once used memory is this far above the goal (the
 * larger of the two): values keep going out below it without waiting. */
#define LOAD_SLACK_MIN_BYTES (4u << 20)
#define LOAD_SLACK_DIV       8
#define LOAD_POLL_BYTES      (256u << 10)

typedef struct out_rec {
    int db_id;
    int type; /* the object's type when it was picked */
    uint64_t id;
    uint32_t len;
    uint64_t hash; /* of the value put: the key must still hold it (invariant 1) */
    bool cancelled;
    karg_t lk; /* points at key[] */
    char key[];
} out_rec_t;

typedef struct fetch_rec {
    uint64_t id;
    int db_id;
    client_t **waiters; /* NULL entries: clients that went away */
    size_t nwait, cap;
    int sync_pins; /* tiering_fetch_now() waits on it: freed by that caller */
    bool done;
    int status;
    size_t klen;
    char key[];
} fetch_rec_t;

typedef struct tstate {
    int argc;
    karg_t *argv; /* copy of the parked command, one allocation with its bytes */
    int nwait;    /* fetches not yet back */
    char err[LAST_ERROR_MAX];
} tstate_t;

typedef struct deferred_put {
    out_rec_t *rec;
    int status;
} deferred_put_t;

typedef struct pending_del {
    uint64_t id;
    uint32_t len;
} pending_del_t;

struct tiering_state {
    engine_t *s;
    tier_t *t;
    char dir[1024];
    pthread_t owner;
    uint64_t next_id;
    ht_t *out;   /* out_rec_t by (db id, key) */
    ht_t *fetch; /* fetch_rec_t by id */
    uint64_t out_bytes;
    client_t **ready;
    size_t nready, ready_cap;
    deferred_put_t *deferred;
    size_t ndeferred, deferred_cap;
    int sync_depth;           /* inside tiering_fetch_now */
    client_t *rerun;          /* run_ready is running this client's command again */
    int64_t backoff_until_ms; /* out_step waits until then (a stall or a failed put) */
    int64_t error_until_ms;   /* a put failed: the tier is not trusted to make room until then */
    int db_cursor;
    /* Deletes not yet submitted (invariant 2). */
    pthread_mutex_t dels_mu;
    pending_del_t *dels;
    size_t ndels, dels_cap;
    /* Stubs freed on other threads, and their deletes beyond DELS_PENDING_MAX: the owner moves
     * them into the counters below when it drains the list. Guarded by dels_mu. */
    uint64_t other_freed, other_freed_bytes, other_leaked, other_leaked_bytes;
    atomic_size_t ndels_hint; /* read without the lock by the owner: anything to do? */
    /* Stubs in the keyspace and the bytes of their values (owner thread; deletes from other
     * threads are counted when the owner submits them). */
    uint64_t stubs, stub_bytes;
    /* Counters (INFO). */
    uint64_t outs, out_cancelled, out_failed, out_stalls, ins, fetches, fetch_failed, parked_total,
        sync_fetches, memory_hits, tier_hits, leaked_ids, leaked_bytes, errors;
    /* Making room (tiering_make_room: maxmemory; tiering_load_pressure: loading). */
    uint64_t room_waits, room_fallbacks, load_waits;
    size_t load_peak_used;   /* used memory at its highest seen by tiering_load_pressure */
    size_t load_polled_used; /* used memory when tiering_load_pressure last took results */
    char last_error[LAST_ERROR_MAX];
    int64_t last_error_ms;
    /* no_fetch[cmd->id]: the command reads no value (no_fetch_names), built at start. */
    uint8_t *no_fetch;
    uint32_t nno_fetch;
    /* Snapshots. */
    char ckpt[1100];
    tier_reader_t *reader;
    /* Recall: a snapshot's checkpoint failed (after a RocksDB background error the tier takes
     * no writes and makes no checkpoints until a restart), so every value comes back into
     * memory, nothing goes out any more, and snapshots, which need no checkpoint without
     * stubs, work again. */
    bool recall;
    int recall_db;
    uint64_t recall_cursor;
    bool fault_checkpoint_error; /* DEBUG TIERING-FAULT checkpoint-error (main thread) */
    /* DEBUG TIERING-FAULT: read by the workers. */
    atomic_int fault_put_error, fault_get_error, fault_put_delay_ms, fault_get_delay_ms;
};

/* ---- tables ---------------------------------------------------------------------------- */

typedef struct out_lookup {
    int db_id;
    const char *p;
    size_t n;
} out_lookup_t;

static uint64_t
out_hash_key(const void *key) {
    const out_lookup_t *k = key;
    return ht_hash_bytes(k->p, k->n) ^ ((uint64_t)k->db_id * 0x9E3779B97F4A7C15ull);
}

static uint64_t
out_hash_entry(const void *e) {
    const out_rec_t *r = e;
    out_lookup_t k = {r->db_id, r->lk.p, r->lk.n};
    return out_hash_key(&k);
}

static int
out_eq(const void *e, const void *key) {
    const out_rec_t *r = e;
    const out_lookup_t *k = key;
    return r->db_id == k->db_id && r->lk.n == k->n && memcmp(r->lk.p, k->p, k->n) == 0;
}

static const ht_type_t out_type = {out_hash_key, out_hash_entry, out_eq, NULL, NULL};

static uint64_t
id_hash(const void *key) {
    uint64_t id = *(const uint64_t *)key;
    return id * 0x9E3779B97F4A7C15ull;
}

static uint64_t
fetch_hash_entry(const void *e) {
    return id_hash(&((const fetch_rec_t *)e)->id);
}

static int
fetch_eq(const void *e, const void *key) {
    return ((const fetch_rec_t *)e)->id == *(const uint64_t *)key;
}

static const ht_type_t fetch_type = {id_hash, fetch_hash_entry, fetch_eq, NULL, NULL};

static void
set_error(struct tiering_state *ts, const char *what, int status, const char *msg) {
    ts->errors++;
    snprintf(ts->last_error, sizeof ts->last_error, "%s: %s", what, msg ? msg : kerr_str(status));
    int64_t now = util_time_ms();
    if (now - ts->last_error_ms >= 10000) { /* at most one line every 10 s */
        klog(KLOG_WARNING, "Tiering: %s (values stay in memory)", ts->last_error);
        ts->last_error_ms = now;
    }
}

/* ---- deletes ---------------------------------------------------------------------------- */

static void
del_or_queue(struct tiering_state *ts, uint64_t id, uint32_t len) {
    if (ts->t && tier_del(ts->t, id, len, NULL) == 0)
        return;
    pthread_mutex_lock(&ts->dels_mu);
    if (ts->ndels >= DELS_PENDING_MAX) {
        ts->leaked_ids++;
        ts->leaked_bytes += len;
    } else {
        if (ts->ndels == ts->dels_cap) {
            ts->dels_cap = ts->dels_cap ? ts->dels_cap * 2 : 64;
            ts->dels = krealloc(ts->dels, ts->dels_cap * sizeof *ts->dels);
        }
        ts->dels[ts->ndels++] = (pending_del_t){id, len};
        atomic_store(&ts->ndels_hint, ts->ndels);
    }
    pthread_mutex_unlock(&ts->dels_mu);
}

/* obj_free() of a stub, on any thread. */
static void
stub_freed_cb(void *ctx, uint64_t id, uint32_t len) {
    struct tiering_state *ts = ctx;
    if (pthread_equal(pthread_self(), ts->owner)) {
        ts->stubs--;
        ts->stub_bytes -= len;
        del_or_queue(ts, id, len);
        return;
    }
    pthread_mutex_lock(&ts->dels_mu);
    ts->other_freed++;
    ts->other_freed_bytes += len;
    if (ts->ndels >= DELS_PENDING_MAX) {
        ts->other_leaked++;
        ts->other_leaked_bytes += len;
    } else {
        if (ts->ndels == ts->dels_cap) {
            ts->dels_cap = ts->dels_cap ? ts->dels_cap * 2 : 64;
            ts->dels = krealloc(ts->dels, ts->dels_cap * sizeof *ts->dels);
        }
        ts->dels[ts->ndels++] = (pending_del_t){id, len};
    }
    atomic_store(&ts->ndels_hint, ts->ndels + ts->other_freed);
    pthread_mutex_unlock(&ts->dels_mu);
}

static void
drain_dels(struct tiering_state *ts) {
    if (atomic_load(&ts->ndels_hint) == 0 || !ts->t)
        return;
    pthread_mutex_lock(&ts->dels_mu);
    ts->stubs -= ts->other_freed;
    ts->stub_bytes -= ts->other_freed_bytes;
    ts->leaked_ids += ts->other_leaked;
    ts->leaked_bytes += ts->other_leaked_bytes;
    ts->other_freed = ts->other_freed_bytes = ts->other_leaked = ts->other_leaked_bytes = 0;
    size_t i = 0;
    for (; i < ts->ndels; i++)
        if (tier_del(ts->t, ts->dels[i].id, ts->dels[i].len, NULL) < 0)
            break;
    memmove(ts->dels, ts->dels + i, (ts->ndels - i) * sizeof *ts->dels);
    ts->ndels -= i;
    atomic_store(&ts->ndels_hint, ts->ndels);
    pthread_mutex_unlock(&ts->dels_mu);
}

/* ---- going out ---------------------------------------------------------------------------- */

/* The bytes a value takes in memory: a string's length, a collection's structure. */
static size_t
value_size(const kobj_t *o) {
    size_t n = 0;
    if (obj_type(o) == OBJ_STRING) {
        (void)obj_str(o, &n);
        return n;
    }
    const obj_type_ops_t *ops = obj_ops(obj_type(o));
    return ops && ops->mem && ops->count && ops->each ? ops->mem(obj_ptr(o), obj_encoding(o)) : 0;
}

/* What goes to the tier: a string's bytes as they are, a collection's value encoding (object.h)
 * in enc. Returns the bytes and their length. */
static const char *
value_bytes(const kobj_t *o, sbuf_t *enc, size_t *len) {
    if (obj_type(o) == OBJ_STRING)
        return obj_str(o, len);
    obj_encode_value(o, enc);
    *len = enc->len;
    return enc->p ? enc->p : "";
}

/* Whether o may go out (the cheap tests first: most samples are stubs once much is out). */
static bool
out_candidate(struct tiering_state *ts, db_t *db, const kobj_t *o) {
    if (obj_is_tiered(o) || (obj_has_expire(o) && db_is_expired(db->env, o)))
        return false;
    /* A hash with field expiries stays resident: the value encoding has no place for them, and
     * the keyspace must see its fields' expiries to remove them (docs/hash-field-expiry.md).
     * Streams stay resident: their consumer groups change on reads (XREADGROUP), and blocked
     * readers are re-run against the value, which a stub would not hold. */
    if (obj_encoding(o) == OBJ_ENC_HASH_TTL || obj_type(o) == OBJ_STREAM)
        return false;
    size_t klen;
    const char *key = obj_key(o, &klen);
    out_lookup_t lk = {db->id, key, klen};
    if (ht_size(ts->out) && ht_find(ts->out, &lk))
        return false;
    size_t vlen = value_size(o);
    return (long long)vlen >= ts->s->cfg.tiering_min_value_size && vlen <= OUT_VALUE_MAX;
}

static double
out_score(engine_t *s, const kobj_t *o) {
    if (s->dbenv.lfu_mode)
        return 255.0 - evict_lfu_freq(&s->dbenv, o, s->cfg.lfu_decay_time);
    return (double)evict_idle_s(&s->dbenv, o);
}

/* One value out: the coldest of a sample. 1 submitted, 0 none found, <0 the tier refused. */
static int
out_one(struct tiering_state *ts) {
    engine_t *s = ts->s;
    kobj_t *best = NULL;
    db_t *bdb = NULL;
    double bscore = -1;
    /* Samples until OUT_SAMPLES resident values were scored (stubs are skipped: with most
     * values out, one sample of 16 keys holds few candidates and the choice would be random),
     * at most OUT_ROUNDS_MAX samples; the databases in turn. */
    int scored = 0;
    for (int round = 0; round < OUT_ROUNDS_MAX && scored < OUT_SAMPLES; round++) {
        db_t *db = NULL;
        for (int i = 0; i < s->cfg.databases && !db; i++) {
            db = s->dbs[ts->db_cursor];
            ts->db_cursor = (ts->db_cursor + 1) % s->cfg.databases;
            if (db_size(db) == 0)
                db = NULL;
        }
        if (!db)
            return 0;
        void *pick[OUT_SAMPLES];
        size_t n = ht_sample(db->keys, pick, OUT_SAMPLES);
        for (size_t j = 0; j < n; j++) {
            if (obj_is_tiered(pick[j]))
                continue;
            scored++;
            double sc = out_score(s, pick[j]);
            if (sc > bscore && out_candidate(ts, db, pick[j]))
                best = pick[j], bdb = db, bscore = sc;
        }
    }
    if (!best)
        return 0;
    size_t vlen, klen;
    sbuf_t enc = {0};
    const char *v = value_bytes(best, &enc, &vlen);
    if (vlen > OUT_VALUE_MAX) { /* a collection's encoding can exceed its estimate */
        sbuf_free(&enc);
        return 0;
    }
    const char *key = obj_key(best, &klen);
    out_rec_t *r = kmalloc(sizeof *r + (klen ? klen : 1));
    memcpy(r->key, key, klen);
    *r = (out_rec_t){.db_id = bdb->id,
                     .type = obj_type(best),
                     .id = ++ts->next_id,
                     .len = (uint32_t)vlen,
                     .hash = ht_hash_bytes(v, vlen),
                     .lk = {r->key, klen}};
    int rc = tier_put(ts->t, r->id, v, vlen, r); /* copies the bytes */
    sbuf_free(&enc);
    if (rc < 0) {
        kfree(r);
        return rc;
    }
    out_lookup_t lk = {r->db_id, r->lk.p, r->lk.n};
    ht_pos_t pos;
    ASSERT(ht_find_pos(ts->out, &lk, &pos) == NULL);
    ht_insert_at(ts->out, &pos, r);
    ts->out_bytes += vlen;
    return 1;
}

/* The used memory values go out above: tiering-memory-target, and with maxmemory set a little
 * below it too. SIZE_MAX: none go out. */
static size_t
out_goal(engine_t *s) {
    size_t goal = SIZE_MAX;
    if (s->cfg.tiering_memory_target > 0)
        goal = (size_t)s->cfg.tiering_memory_target;
    if (s->cfg.maxmemory > 0) {
        size_t m = (size_t)s->cfg.maxmemory - (size_t)s->cfg.maxmemory / MAXMEMORY_MARGIN_DIV;
        if (m < goal)
            goal = m;
    }
    return goal;
}

/* Puts submitted while used memory, less what the puts in flight will free, is above goal. A
 * put in flight frees its value and the tier's copy of it (both counted in used memory) when
 * its result comes, hence twice out_bytes. Ends at the tier's bounds or when no candidate is
 * found. Returns the puts submitted. */
static int
out_fill(struct tiering_state *ts, size_t goal) {
    int misses = 0, n = 0;
    for (int i = 0; i < OUT_PUTS_PER_STEP && misses < 8; i++) {
        size_t used = kmem_used();
        if (used <= goal || 2 * ts->out_bytes >= used - goal)
            break; /* enough is on its way out */
        int rc = out_one(ts);
        if (rc < 0)
            break; /* the tier's queue is full: results will come, then more */
        misses += rc == 0;
        n += rc;
    }
    return n;
}

static void
out_step(struct tiering_state *ts) {
    engine_t *s = ts->s;
    if (!ts->t || ts->sync_depth > 0 || s->loading || ts->recall)
        return;
    size_t goal = out_goal(s);
    if (goal == SIZE_MAX)
        return;
    if (ts->backoff_until_ms && util_time_ms() < ts->backoff_until_ms)
        return;
    ts->backoff_until_ms = 0;
    out_fill(ts, goal);
}

/* A put's result (invariant 1). */
static void
put_done(struct tiering_state *ts, out_rec_t *r, int status) {
    engine_t *s = ts->s;
    out_lookup_t lk = {r->db_id, r->lk.p, r->lk.n};
    ASSERT(ht_pop(ts->out, &lk) == r);
    ts->out_bytes -= r->len;
    if (status == 0) {
        db_t *db = engine_db(s, r->db_id);
        kobj_t *o = !r->cancelled && db ? db_find(db, r->lk.p, r->lk.n) : NULL;
        size_t vlen = 0;
        sbuf_t enc = {0};
        const char *v =
            o && obj_type(o) == r->type && !obj_is_tiered(o) ? value_bytes(o, &enc, &vlen) : NULL;
        bool same = v && vlen == r->len && ht_hash_bytes(v, vlen) == r->hash;
        sbuf_free(&enc);
        if (same) {
            db_replace(db, o, obj_new_tiered(o, r->id, r->len));
            ts->stubs++;
            ts->stub_bytes += r->len;
            ts->outs++;
        } else {
            ts->out_cancelled++;
            del_or_queue(ts, r->id, r->len);
        }
    } else if (status == -EAGAIN) {
        ts->out_stalls++;
        ts->backoff_until_ms = util_time_ms() + STALL_BACKOFF_MS;
    } else {
        ts->out_failed++;
        ts->backoff_until_ms = util_time_ms() + ERROR_BACKOFF_MS;
        ts->error_until_ms = ts->backoff_until_ms;
    }
    kfree(r);
}

/* ---- coming back ---------------------------------------------------------------------------- */

static void
ready_add(struct tiering_state *ts, client_t *c) {
    if (ts->nready == ts->ready_cap) {
        ts->ready_cap = ts->ready_cap ? ts->ready_cap * 2 : 16;
        ts->ready = krealloc(ts->ready, ts->ready_cap * sizeof *ts->ready);
    }
    ts->ready[ts->nready++] = c;
}

/* A get's result: the value goes back into its key if the stub is still there. */
static void
get_done(struct tiering_state *ts, fetch_rec_t *f, tier_result_t *res) {
    engine_t *s = ts->s;
    ASSERT(ht_pop(ts->fetch, &f->id) == f);
    int status = res->status;
    const char *msg = res->errmsg;
    if (status == 0) {
        db_t *db = engine_db(s, f->db_id);
        kobj_t *o = db ? db_find(db, f->key, f->klen) : NULL;
        uint32_t vlen;
        if (o && obj_is_tiered(o) && obj_tiered_id(o, &vlen) == f->id) {
            kobj_t *n = NULL;
            void *ptr;
            int enc;
            if (vlen != res->len)
                n = NULL;
            else if (obj_type(o) == OBJ_STRING)
                n = obj_new_str(f->key, f->klen, res->value, res->len, obj_expire(o));
            else if (obj_decode_value(obj_type(o), res->value, res->len, &ptr, &enc) == 0)
                n = obj_new_ptr(obj_type(o), enc, f->key, f->klen, ptr, obj_expire(o));
            if (n) {
                obj_set_lru(n, obj_lru(o));
                db_replace(db, o, n); /* frees the stub: its id is deleted (invariant 2) */
                ts->ins++;
            } else { /* the tier gave other bytes than were put: never serve them */
                status = KERR_CORRUPT;
                msg = "the tier returned a value that does not match its stub";
            }
        }
    }
    f->done = true;
    f->status = status;
    if (status < 0 && status != KERR_NOTFOUND) {
        ts->fetch_failed++;
        set_error(ts, "a fetch failed", status, msg);
    }
    for (size_t i = 0; i < f->nwait; i++) {
        client_t *c = f->waiters[i];
        if (!c)
            continue;
        tstate_t *st = c->tstate;
        if (status < 0 && status != KERR_NOTFOUND && !st->err[0])
            snprintf(st->err, sizeof st->err, "%s", msg ? msg : kerr_str(status));
        if (--st->nwait == 0)
            ready_add(ts, c);
    }
    kfree(f->waiters);
    f->waiters = NULL;
    f->nwait = 0;
    if (f->sync_pins == 0)
        kfree(f);
}

static void
done_cb(void *ctx, tier_result_t *res) {
    struct tiering_state *ts = ctx;
    switch (res->op) {
    case TIER_OP_PUT:
        if (res->status < 0 && res->status != -EAGAIN && res->status != -ECANCELED)
            set_error(ts, "a put failed", res->status, res->errmsg);
        if (ts->sync_depth > 0) { /* invariant 4 */
            if (ts->ndeferred == ts->deferred_cap) {
                ts->deferred_cap = ts->deferred_cap ? ts->deferred_cap * 2 : 16;
                ts->deferred = krealloc(ts->deferred, ts->deferred_cap * sizeof *ts->deferred);
            }
            ts->deferred[ts->ndeferred++] = (deferred_put_t){res->cookie, res->status};
        } else {
            put_done(ts, res->cookie, res->status);
        }
        break;
    case TIER_OP_GET: get_done(ts, res->cookie, res); break;
    case TIER_OP_DEL:
        if (res->status < 0 && res->status != -ECANCELED) {
            set_error(ts, "a delete failed", res->status, res->errmsg);
            ts->leaked_ids++;
            ts->leaked_bytes += res->len;
        }
        break;
    }
}

static void
run_deferred(struct tiering_state *ts) {
    while (ts->ndeferred > 0 && ts->sync_depth == 0) {
        deferred_put_t d = ts->deferred[--ts->ndeferred];
        put_done(ts, d.rec, d.status);
    }
}

/* Parked clients whose values are back run their command again. */
static void
run_ready(struct tiering_state *ts) {
    while (ts->nready > 0 && ts->sync_depth == 0) {
        client_t **list = ts->ready;
        size_t n = ts->nready;
        ts->ready = NULL;
        ts->nready = ts->ready_cap = 0;
        for (size_t i = 0; i < n; i++) {
            client_t *c = list[i];
            if (!c)
                continue;
            tstate_t *st = c->tstate;
            c->tstate = NULL;
            c->flags &= ~(uint32_t)CLIENT_TIER_WAIT;
            if (st->err[0]) {
                reply_errf(c, "ERR tiering: %s", st->err);
                if ((c->flags & CLIENT_MULTI) && st->argc > 0 && cmd_arg_is(&st->argv[0], "exec")) {
                    client_discard_multi(c); /* EXEC failed: the transaction is over */
                    client_unwatch(c);
                }
            } else if (!(c->conn.flags & CONN_CLOSE_ASAP)) {
                c->argc = st->argc;
                c->argv = st->argv;
                ts->rerun = c;
                exec_command(c);
                ts->rerun = NULL;
                c->argc = 0;
                c->argv = NULL;
            }
            kfree(st->argv);
            kfree(st);
            if (!(c->flags & (CLIENT_TIER_WAIT | CLIENT_BLOCKED)))
                client_resume(c);
        }
        kfree(list);
    }
}

static void recall_step(struct tiering_state *ts); /* below: it starts fetches */

static void
poll_tier(struct tiering_state *ts) {
    tier_poll(ts->t, 0);
    if (ts->sync_depth > 0)
        return;
    run_deferred(ts);
    run_ready(ts);
    drain_dels(ts);
    if (ts->recall)
        recall_step(ts);
    else
        out_step(ts);
}

static void
tier_fd_cb(ev_loop_t *l, int fd, void *data, int mask) {
    (void)l;
    (void)fd;
    (void)mask;
    engine_t *s = data;
    poll_tier(s->tiering);
}

/* ---- which commands need values ------------------------------------------------------------ */

/* Commands that read no value, or overwrite it whole: a stub serves them (docs/tiering.md). */
static const char *const no_fetch_names[] = {
    "set",
    "setex",
    "psetex",
    "mset",
    "msetnx",
    "del",
    "unlink",
    "exists",
    "type",
    "ttl",
    "pttl",
    "expiretime",
    "pexpiretime",
    "expire",
    "pexpire",
    "expireat",
    "pexpireat",
    "persist",
    "touch",
    "strlen",
    "object|encoding",
    "object|idletime",
    "object|freq",
    "memory|usage",
    NULL,
};

/* The table of no_fetch_names by command id: one byte per command, so the check on every command
 * is an index, not a walk over names (callgrind: the walk was half of a memory hit's cost). */
static void
no_fetch_build(struct tiering_state *ts, engine_t *s) {
    ts->nno_fetch = s->ncmd_stats;
    ts->no_fetch = kcalloc(ts->nno_fetch ? ts->nno_fetch : 1, 1);
    for (int i = 0; no_fetch_names[i]; i++) {
        const char *name = no_fetch_names[i], *bar = strchr(name, '|');
        cmd_def_t *cmd = cmd_lookup(s, name, bar ? (size_t)(bar - name) : strlen(name));
        if (cmd && bar)
            cmd = cmd_lookup_sub(cmd, bar + 1, strlen(bar + 1));
        ASSERT(cmd && cmd->id < ts->nno_fetch); /* a name of the list is not a command */
        ts->no_fetch[cmd->id] = 1;
    }
}

static bool
needs_values(const struct tiering_state *ts, cmd_def_t *cmd, int argc, const karg_t *argv) {
    if (cmd->flags & CMD_TOUCHES_ALL)
        return false;
    if (cmd->id >= ts->nno_fetch || !ts->no_fetch[cmd->id])
        return true;
    if (argc > 3 && !strcmp(cmd->name, "set")) /* SET ... GET reads the old value */
        for (int j = 3; j < argc; j++)
            if (cmd_arg_is(&argv[j], "get"))
                return true;
    return false;
}

/* Stubs among the keys a call needs: calls fn(ctx, db, stub) for each; returns how many. */
typedef void (*stub_fn)(void *ctx, db_t *db, kobj_t *o);

static int
each_stub(engine_t *s, db_t *db, cmd_def_t *cmd, int argc, karg_t *argv, stub_fn fn, void *ctx,
          int *checked, bool hint) {
    if (!needs_values(s->tiering, cmd, argc, argv))
        return 0;
    int stack[64];
    int *idx = argc <= 64 ? stack : kmalloc(sizeof *idx * (size_t)argc); /* keys <= arguments */
    int n = cmd_get_keys(cmd, argc, argv, idx, argc < 64 ? 64 : argc);
    int found = 0;
    for (int i = 0; i < n; i++) {
        kobj_t *o = db_find(db, argv[idx[i]].p, argv[idx[i]].n);
        if (o && checked)
            (*checked)++;
        if (hint && n == 1 && o && !obj_is_tiered(o)) /* the command's lookup takes it from here */
            db_hint(db, argv[idx[i]].p, argv[idx[i]].n, o);
        if (!o || !obj_is_tiered(o))
            continue;
        if (s->dbenv.expire_enabled && db_is_expired(&s->dbenv, o))
            continue; /* the command's lookup deletes it */
        found++;
        if (fn)
            fn(ctx, db, o);
    }
    if (idx != stack)
        kfree(idx);
    return found;
}

static fetch_rec_t *
fetch_start(struct tiering_state *ts, db_t *db, kobj_t *o, int *rc) {
    uint32_t vlen;
    uint64_t id = obj_tiered_id(o, &vlen);
    ht_pos_t pos;
    fetch_rec_t *f = ht_find_pos(ts->fetch, &id, &pos);
    *rc = 0;
    if (f)
        return f;
    size_t klen;
    const char *key = obj_key(o, &klen);
    f = kcalloc(1, sizeof *f + (klen ? klen : 1));
    f->id = id;
    f->db_id = db->id;
    f->klen = klen;
    memcpy(f->key, key, klen);
    *rc = tier_get(ts->t, id, f);
    if (*rc < 0) {
        kfree(f);
        return NULL;
    }
    ht_insert_at(ts->fetch, &pos, f);
    ts->fetches++;
    return f;
}

typedef struct park_ctx {
    struct tiering_state *ts;
    client_t *c;
    tstate_t *st;
    int rc;
} park_ctx_t;

static void
park_stub_cb(void *ctx, db_t *db, kobj_t *o) {
    park_ctx_t *p = ctx;
    if (!p->st) /* allocated at the first stub: a memory hit allocates nothing */
        p->st = kcalloc(1, sizeof *p->st);
    if (p->rc < 0)
        return;
    fetch_rec_t *f = fetch_start(p->ts, db, o, &p->rc);
    if (!f)
        return;
    for (size_t i = 0; i < f->nwait; i++)
        if (f->waiters[i] == p->c)
            return; /* the same key twice */
    if (f->nwait == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 4;
        f->waiters = krealloc(f->waiters, f->cap * sizeof *f->waiters);
    }
    f->waiters[f->nwait++] = p->c;
    p->st->nwait++;
}

/* The db a queued command runs in: SELECTs queued before it move it. */
static int
queued_db(client_t *c, int upto) {
    int db = c->db_id;
    for (int i = 0; i < upto; i++)
        if (!strcmp(c->mstate[i].cmd->name, "select") && c->mstate[i].argc == 2) {
            long long v;
            if (util_parse_ll(c->mstate[i].argv[1].p, c->mstate[i].argv[1].n, &v) && v >= 0 &&
                v < c->eng->cfg.databases)
                db = (int)v;
        }
    return db;
}

bool
tiering_park_if_needed(client_t *c, cmd_def_t *cmd) {
    struct tiering_state *ts = c->eng->tiering;
    if (!ts->t || (c->flags & CLIENT_FAKE))
        return false;
    engine_t *s = c->eng;
    park_ctx_t p = {ts, c, NULL, 0};
    int found = 0, checked = 0;
    if ((c->flags & CLIENT_MULTI) && !strcmp(cmd->name, "exec")) {
        for (int i = 0; i < c->mcount; i++) {
            db_t *db = engine_db(s, queued_db(c, i));
            found += each_stub(s, db, c->mstate[i].cmd, c->mstate[i].argc, c->mstate[i].argv,
                               park_stub_cb, &p, &checked, false);
        }
    } else {
        found = each_stub(s, c->db, cmd, c->argc, c->argv, park_stub_cb, &p, &checked, true);
    }
    if (found == 0) {
        /* A command that read values, all of them in memory (a re-run was a tier hit). */
        ts->memory_hits += checked > 0 && c != ts->rerun;
        return false;
    }
    tstate_t *st = p.st; /* found > 0: the callback ran, so it exists */
    ts->tier_hits++;
    if (st->nwait == 0 && p.rc == 0) { /* cannot happen: every stub got a fetch or a waiter */
        kfree(st);
        return false;
    }
    if (p.rc < 0)
        snprintf(st->err, sizeof st->err, "the tier refused a fetch (%s)", kerr_str(p.rc));
    st->argc = c->argc;
    st->argv = cmd_argv_copy(c->argc, c->argv);
    c->tstate = st;
    c->flags |= CLIENT_TIER_WAIT;
    ts->parked_total++;
    if (st->nwait == 0) /* the fetch was refused: the error goes out before the loop sleeps */
        ready_add(ts, c);
    return true;
}

/* One stub fetched while the caller waits (invariant 4 holds meanwhile). */
static int
fetch_sync_one(struct tiering_state *ts, db_t *db, kobj_t *o) {
    int rc;
    fetch_rec_t *f = fetch_start(ts, db, o, &rc);
    if (!f)
        return rc;
    f->sync_pins++;
    ts->sync_depth++;
    ts->sync_fetches++;
    while (!f->done) {
        struct pollfd pfd = {tier_fd(ts->t), POLLIN, 0};
        poll(&pfd, 1, 100);
        tier_poll(ts->t, 0);
    }
    ts->sync_depth--;
    rc = f->status == KERR_NOTFOUND ? 0 : f->status; /* NOTFOUND: the stub changed: look again */
    if (--f->sync_pins == 0)
        kfree(f);
    return rc;
}

typedef struct sync_ctx {
    kobj_t *stub;
    db_t *db;
} sync_ctx_t;

static void
first_stub_cb(void *ctx, db_t *db, kobj_t *o) {
    sync_ctx_t *x = ctx;
    if (!x->stub)
        x->stub = o, x->db = db;
}

bool
tiering_fetch_now(client_t *c, cmd_def_t *cmd) {
    struct tiering_state *ts = c->eng->tiering;
    if (!ts->t)
        return true;
    int fails = 0, rc = 0;
    for (int round = 0; round < 1024; round++) { /* bounded: each round brings a value back */
        sync_ctx_t x = {0};
        if (each_stub(c->eng, c->db, cmd, c->argc, c->argv, first_stub_cb, &x, NULL, false) == 0)
            return true;
        rc = fetch_sync_one(ts, x.db, x.stub);
        if (rc < 0 && ++fails >= SYNC_FETCH_TRIES)
            break;
    }
    if (rc == 0)
        rc = KERR_LIMIT;
    reply_errf(c, "ERR tiering: a fetch failed (%s)",
               ts->last_error[0] ? ts->last_error : kerr_str(rc));
    return false;
}

int
tiering_fetch_stub_now(engine_t *s, db_t *db, kobj_t *o) {
    struct tiering_state *ts = s->tiering;
    if (!ts || !ts->t)
        return KERR_FAILED; /* no tier: a stub cannot exist */
    return fetch_sync_one(ts, db, o);
}

/* ---- hooks ---------------------------------------------------------------------------- */

static void
key_modified_cb(engine_t *s, db_t *db, const char *key, size_t klen) {
    struct tiering_state *ts = s->tiering;
    if (ht_size(ts->out) == 0)
        return;
    out_lookup_t lk = {db->id, key, klen};
    out_rec_t *r = ht_find(ts->out, &lk);
    if (r)
        r->cancelled = true;
}

static void
db_modified_cb(engine_t *s, int db_id) {
    struct tiering_state *ts = s->tiering;
    if (ht_size(ts->out) == 0)
        return;
    ht_iter_t it;
    ht_iter_init(&it, ts->out);
    for (out_rec_t *r; (r = ht_iter_next(&it));)
        if (db_id < 0 || r->db_id == db_id)
            r->cancelled = true;
    ht_iter_done(&it);
}

static void
cleanup_cb(client_t *c) {
    struct tiering_state *ts = c->eng->tiering;
    if (!c->tstate)
        return;
    ht_iter_t it;
    ht_iter_init(&it, ts->fetch);
    for (fetch_rec_t *f; (f = ht_iter_next(&it));)
        for (size_t i = 0; i < f->nwait; i++)
            if (f->waiters[i] == c)
                f->waiters[i] = NULL;
    ht_iter_done(&it);
    for (size_t i = 0; i < ts->nready; i++)
        if (ts->ready[i] == c)
            ts->ready[i] = NULL;
    tstate_t *st = c->tstate;
    kfree(st->argv);
    kfree(st);
    c->tstate = NULL;
    c->flags &= ~(uint32_t)CLIENT_TIER_WAIT;
}

static int
fault_cb(void *ctx, tier_op_t op, uint64_t id) {
    (void)id;
    struct tiering_state *ts = ctx;
    if (op == TIER_OP_PUT) {
        int ms = atomic_load(&ts->fault_put_delay_ms);
        if (ms > 0)
            usleep((useconds_t)ms * 1000u);
        if (atomic_load(&ts->fault_put_error))
            return -EIO;
    }
    if (op == TIER_OP_GET) {
        int ms = atomic_load(&ts->fault_get_delay_ms);
        if (ms > 0)
            usleep((useconds_t)ms * 1000u);
        if (atomic_load(&ts->fault_get_error))
            return -EIO;
    }
    return 0;
}

/* ---- making room: maxmemory and loading --------------------------------------------------- */

/* Values go out until used memory is at most limit, the caller waiting for the put results (it
 * is not inside a command, so put_done may stub keys: invariant 4). Puts aim at goal (<= limit)
 * so that the next writes find room. 0: under the limit. KERR_FAILED: a put failed (now or
 * within ERROR_BACKOFF_MS): the tier is not to be relied on. KERR_LIMIT: nothing (more) can go
 * out (no candidate, or the tier refused every put), or deadline_ms (0: none) passed. */
static int
make_room(struct tiering_state *ts, size_t limit, size_t goal, int64_t deadline_ms) {
    uint64_t failed0 = ts->out_failed;
    for (;;) {
        if (kmem_used() <= limit)
            return 0;
        if (ts->out_failed != failed0 ||
            (ts->error_until_ms && util_time_ms() < ts->error_until_ms))
            return KERR_FAILED;
        uint64_t stalls0 = ts->out_stalls;
        out_fill(ts, goal);
        if (ht_size(ts->out) == 0)
            return KERR_LIMIT;
        int64_t now = util_time_ms();
        if (deadline_ms && now >= deadline_ms)
            return KERR_LIMIT;
        int wait_ms = deadline_ms && deadline_ms - now < 100 ? (int)(deadline_ms - now) : 100;
        struct pollfd pfd = {tier_fd(ts->t), POLLIN, 0};
        poll(&pfd, 1, wait_ms);
        tier_poll(ts->t, 0); /* put_done stubs keys; a get's client goes on the ready list */
        if (ts->out_stalls != stalls0)
            poll(NULL, 0, 1); /* RocksDB's write stall: give its flush a moment */
    }
}

int
tiering_make_room(engine_t *s, size_t limit) {
    struct tiering_state *ts = s->tiering;
    if (!ts || !ts->t || ts->recall || ts->sync_depth > 0)
        return KERR_FAILED;
    if (kmem_used() <= limit)
        return 0;
    /* Only the excess is sent out here, so that the wait is one round of puts: the tier's
     * copies count in used memory until their results come, and a larger batch would first
     * raise it. The goal below the limit is out_step's, which runs after each batch of results
     * and keeps the next writes from waiting. */
    ts->room_waits++;
    int rc = make_room(ts, limit, limit, util_time_ms() + MAKE_ROOM_WAIT_MS_MAX);
    ts->room_fallbacks += rc < 0;
    return rc;
}

void
tiering_load_pressure(engine_t *s) {
    struct tiering_state *ts = s->tiering;
    if (!ts || !ts->t)
        return;
    size_t used = kmem_used();
    if (used > ts->load_peak_used)
        ts->load_peak_used = used;
    size_t goal = out_goal(s);
    if (used <= goal || ts->recall || ts->sync_depth > 0)
        return;
    size_t slack = goal / LOAD_SLACK_DIV;
    if (slack < LOAD_SLACK_MIN_BYTES)
        slack = LOAD_SLACK_MIN_BYTES;
    /* Results are taken and puts submitted once memory grew by LOAD_POLL_BYTES since the last
     * time: a replayed record is often smaller than a syscall, and when nothing could go out
     * (keys alone above the goal) each record would sample the keyspace again for nothing. */
    if (used < ts->load_polled_used)
        ts->load_polled_used = used; /* grew since its lowest point, not since a higher one */
    if (used < ts->load_polled_used + LOAD_POLL_BYTES)
        return;
    /* No loop runs while loading: results are taken here. */
    tier_poll(ts->t, 0);
    drain_dels(ts);
    ts->load_polled_used = kmem_used();
    if (ts->load_polled_used <= goal + slack) {
        if (!ts->error_until_ms || util_time_ms() >= ts->error_until_ms)
            out_fill(ts, goal);
        return;
    }
    ts->load_waits++;
    /* Back to the middle of the slack, so that the next waits are a batch of puts apart. A
     * failing tier leaves the values in memory (and retries after ERROR_BACKOFF_MS); nothing
     * left to send out (keys, small values) leaves them too: the load goes on either way. */
    make_room(ts, goal + slack / 2, goal, 0);
    ts->load_polled_used = kmem_used();
}

/* ---- start, stop, cron ------------------------------------------------------------------ */

int
tiering_start(engine_t *s, char *err, size_t errlen) {
    if (!s->cfg.tiering)
        return 0;
    struct tiering_state *ts = kcalloc(1, sizeof *ts);
    ts->s = s;
    ts->owner = pthread_self();
    pthread_mutex_init(&ts->dels_mu, NULL);
    no_fetch_build(ts, s);
    if (s->cfg.tiering_dir && s->cfg.tiering_dir[0])
        snprintf(ts->dir, sizeof ts->dir, "%s", s->cfg.tiering_dir);
    else
        snprintf(ts->dir, sizeof ts->dir, "%s/tier", s->cfg.dir);
    tier_config_t tc = {
        .dir = ts->dir,
        .threads = (int)s->cfg.tiering_threads,
        .use_direct_reads = s->cfg.tiering_direct_reads,
        .block_cache_bytes = (uint64_t)s->cfg.tiering_block_cache,
        .compression = (tier_compression_t)s->cfg.tiering_compression,
        .write_buffer_bytes = (uint64_t)s->cfg.tiering_write_buffer,
        .done = done_cb,
        .done_ctx = ts,
        .fault = fault_cb,
        .fault_ctx = ts,
    };
    int rc = tier_open(&tc, &ts->t, err, errlen);
    if (rc < 0) {
        pthread_mutex_destroy(&ts->dels_mu);
        kfree(ts->no_fetch);
        kfree(ts);
        return rc;
    }
    ts->out = ht_create(&out_type);
    ts->fetch = ht_create(&fetch_type);
    s->tiering = ts;
    obj_set_tiered_free_hook(stub_freed_cb, ts);
    ASSERT(ev_add(s->loop, tier_fd(ts->t), EV_READ, tier_fd_cb, s) == 0);
    exec_hooks_t h = {0};
    h.key_modified = key_modified_cb;
    h.db_modified = db_modified_cb;
    h.client_cleanup = cleanup_cb;
    engine_add_hooks(s, &h);
    klog(KLOG_NOTICE, "Tiering: values above %lld bytes of memory go to %s (%lld threads)",
         s->cfg.tiering_memory_target, ts->dir, s->cfg.tiering_threads);
    return 0;
}

void
tiering_stop(engine_t *s) {
    struct tiering_state *ts = s->tiering;
    if (!ts || !ts->t)
        return;
    ev_del(s->loop, tier_fd(ts->t), EV_READ);
    ts->sync_depth++; /* results delivered by the close change no key */
    tier_close(ts->t);
    ts->t = NULL;
    /* Outgoing records were delivered (cancelled or done) and deferred: free them. */
    for (size_t i = 0; i < ts->ndeferred; i++) {
        out_lookup_t lk = {ts->deferred[i].rec->db_id, ts->deferred[i].rec->lk.p,
                           ts->deferred[i].rec->lk.n};
        ht_pop(ts->out, &lk);
        kfree(ts->deferred[i].rec);
    }
    ts->ndeferred = 0;
}

#define RECALL_FETCHES_MAX 256 /* fetches in flight while values are recalled */

typedef struct recall_scan {
    kobj_t *stubs[64];
    size_t n;
} recall_scan_t;

static void
recall_scan_cb(void *priv, void *entry) {
    recall_scan_t *r = priv;
    if (r->n < 64 && obj_is_tiered(entry))
        r->stubs[r->n++] = entry;
}

/* Recall: fetch stubs back, a bounded number at a time, walking every db with a cursor. */
static void
recall_step(struct tiering_state *ts) {
    engine_t *s = ts->s;
    for (int calls = 0; calls < 1024 && ht_size(ts->fetch) < RECALL_FETCHES_MAX; calls++) {
        if (ts->stubs == 0)
            return;
        db_t *db = s->dbs[ts->recall_db];
        recall_scan_t r = {.n = 0};
        if (db_size(db) > 0)
            ts->recall_cursor = db_scan(db, ts->recall_cursor, recall_scan_cb, &r);
        else
            ts->recall_cursor = 0;
        if (ts->recall_cursor == 0)
            ts->recall_db = (ts->recall_db + 1) % s->cfg.databases;
        for (size_t i = 0; i < r.n; i++) {
            int rc;
            if (!fetch_start(ts, db, r.stubs[i], &rc))
                return; /* the tier's queue is full: the next step goes on */
        }
    }
}

void
tiering_cron(engine_t *s) {
    struct tiering_state *ts = s->tiering;
    if (!ts || !ts->t || ts->sync_depth > 0)
        return;
    drain_dels(ts);
    if (ts->recall)
        recall_step(ts);
    else
        out_step(ts);
}

void
tiering_before_sleep(engine_t *s) {
    struct tiering_state *ts = s->tiering;
    if (!ts || !ts->t || ts->sync_depth > 0)
        return;
    run_deferred(ts);
    run_ready(ts);
}

/* ---- snapshots ---------------------------------------------------------------------------- */

int
tiering_snapshot_prepare(engine_t *s, uint64_t lsn, char *err, size_t errlen) {
    struct tiering_state *ts = s->tiering;
    if (!ts || !ts->t)
        return 0;
    tiering_snapshot_done(s);
    if (ts->stubs == 0) /* never below the truth (tiering.c's counters): nothing to read */
        return 0;
    static_assert(sizeof ts->ckpt > sizeof ts->dir + 64, "room for the checkpoint name");
    snprintf(ts->ckpt, sizeof ts->ckpt, "%s/ckpt-%020llu-%d", ts->dir, (unsigned long long)lsn,
             (int)getpid());
    tier_checkpoint_remove(ts->ckpt);
    int rc = ts->fault_checkpoint_error ? KERR_FAILED : 0;
    if (rc < 0)
        snprintf(err, errlen, "injected fault");
    if (rc == 0)
        rc = tier_checkpoint(ts->t, ts->ckpt, err, errlen);
    if (rc == 0)
        rc = tier_reader_open(ts->ckpt, &ts->reader, err, errlen);
    if (rc < 0) {
        set_error(ts, "a snapshot's checkpoint failed", rc, err);
        tiering_snapshot_done(s);
        if (!ts->recall) {
            ts->recall = true;
            klog(KLOG_WARNING,
                 "Tiering: a snapshot needs a checkpoint of the tier and none could be made (%s): "
                 "every value comes back into memory and none goes out until a restart",
                 err);
        }
    }
    return rc;
}

void
tiering_snapshot_forked(engine_t *s) {
    struct tiering_state *ts = s->tiering;
    if (ts && ts->reader) {
        tier_reader_close(ts->reader);
        ts->reader = NULL;
    }
}

void
tiering_snapshot_done(engine_t *s) {
    struct tiering_state *ts = s->tiering;
    if (!ts)
        return;
    tiering_snapshot_forked(s);
    if (ts->ckpt[0]) {
        tier_checkpoint_remove(ts->ckpt);
        ts->ckpt[0] = 0;
    }
}

int
tiering_snapshot_value(engine_t *s, const kobj_t *o, void **val, size_t *len, char *err,
                       size_t errlen) {
    struct tiering_state *ts = s->tiering;
    if (!ts || !ts->reader) {
        snprintf(err, errlen, "a tiered value but no checkpoint of the tier to read it from");
        return KERR_FAILED;
    }
    uint32_t vlen;
    uint64_t id = obj_tiered_id(o, &vlen);
    int rc = tier_reader_get(ts->reader, id, val, len, err, errlen);
    if (rc == 0 && *len != vlen) {
        kfree(*val);
        rc = KERR_CORRUPT;
    }
    if (rc < 0 && !err[0])
        snprintf(err, errlen, "reading tiered value %llu: %s", (unsigned long long)id,
                 kerr_str(rc));
    return rc;
}

/* ---- INFO, DEBUG ------------------------------------------------------------------------ */

void
tiering_info(engine_t *s, sbuf_t *b) {
    struct tiering_state *ts = s->tiering;
    sbuf_printf(b, "tiering_enabled:%d\r\n", ts && ts->t ? 1 : 0);
    if (!ts || !ts->t)
        return;
    sbuf_printf(b, "tiering_recalling:%d\r\n", ts->recall ? 1 : 0);
    tier_stats_t st;
    tier_get_stats(ts->t, &st);
    size_t ndels = atomic_load(&ts->ndels_hint);
    sbuf_printf(b,
                "tiering_dir:%s\r\ntiering_memory_target:%lld\r\n"
                "tiering_tiered_keys:%llu\r\ntiering_tiered_bytes:%llu\r\n"
                "tiering_going_out:%zu\r\ntiering_going_out_bytes:%llu\r\n"
                "tiering_values_out:%llu\r\ntiering_values_in:%llu\r\n"
                "tiering_out_cancelled:%llu\r\ntiering_out_failed:%llu\r\n"
                "tiering_out_stalls:%llu\r\n"
                "tiering_memory_hits:%llu\r\ntiering_tier_hits:%llu\r\n"
                "tiering_fetches:%llu\r\ntiering_fetches_in_flight:%zu\r\n"
                "tiering_fetch_failures:%llu\r\ntiering_sync_fetches:%llu\r\n"
                "tiering_parked_clients_total:%llu\r\ntiering_ready_clients:%zu\r\n"
                "tiering_fetch_latency_p50_us:%llu\r\ntiering_fetch_latency_p99_us:%llu\r\n"
                "tiering_put_latency_p50_us:%llu\r\ntiering_put_latency_p99_us:%llu\r\n"
                "tiering_queue_ops:%u\r\ntiering_queue_puts:%u\r\ntiering_queue_put_bytes:%llu\r\n"
                "tiering_queue_gets:%u\r\ntiering_queue_writes:%u\r\n"
                "tiering_bytes_written:%llu\r\ntiering_bytes_read:%llu\r\n"
                "tiering_live_keys:%llu\r\ntiering_live_bytes:%llu\r\n"
                "tiering_pending_deletes:%zu\r\ntiering_leaked_ids:%llu\r\n"
                "tiering_leaked_bytes:%llu\r\ntiering_errors:%llu\r\n"
                "tiering_last_error:%s\r\ntiering_checkpoints:%llu\r\n"
                "tiering_checkpoint_last_us:%llu\r\n"
                "tiering_maxmemory_waits:%llu\r\ntiering_maxmemory_evictions_allowed:%llu\r\n"
                "tiering_load_waits:%llu\r\ntiering_load_peak_used_memory:%zu\r\n",
                ts->dir, s->cfg.tiering_memory_target, (unsigned long long)ts->stubs,
                (unsigned long long)ts->stub_bytes, ht_size(ts->out),
                (unsigned long long)ts->out_bytes, (unsigned long long)ts->outs,
                (unsigned long long)ts->ins, (unsigned long long)ts->out_cancelled,
                (unsigned long long)ts->out_failed, (unsigned long long)ts->out_stalls,
                (unsigned long long)ts->memory_hits, (unsigned long long)ts->tier_hits,
                (unsigned long long)ts->fetches, ht_size(ts->fetch),
                (unsigned long long)ts->fetch_failed, (unsigned long long)ts->sync_fetches,
                (unsigned long long)ts->parked_total, ts->nready,
                (unsigned long long)st.get_latency_p50_us,
                (unsigned long long)st.get_latency_p99_us,
                (unsigned long long)st.put_latency_p50_us,
                (unsigned long long)st.put_latency_p99_us, st.inflight_ops, st.inflight_puts,
                (unsigned long long)st.inflight_put_bytes, st.queued_gets, st.queued_writes,
                (unsigned long long)st.put_bytes, (unsigned long long)st.get_bytes,
                (unsigned long long)st.live_keys, (unsigned long long)st.live_bytes, ndels,
                (unsigned long long)ts->leaked_ids, (unsigned long long)ts->leaked_bytes,
                (unsigned long long)ts->errors, ts->last_error, (unsigned long long)st.checkpoints,
                (unsigned long long)st.checkpoint_last_us, (unsigned long long)ts->room_waits,
                (unsigned long long)ts->room_fallbacks, (unsigned long long)ts->load_waits,
                ts->load_peak_used);
    tier_info_rocksdb(ts->t, b);
}

void
tiering_reset_stats(engine_t *s) {
    struct tiering_state *ts = s->tiering;
    if (!ts || !ts->t)
        return;
    tier_reset_stats(ts->t);
    ts->outs = ts->ins = ts->out_cancelled = ts->out_failed = ts->out_stalls = 0;
    ts->memory_hits = ts->tier_hits = ts->fetches = ts->fetch_failed = ts->sync_fetches = 0;
    ts->parked_total = ts->errors = 0;
    ts->room_waits = ts->room_fallbacks = ts->load_waits = 0;
}

int
tiering_debug_fault(engine_t *s, const char *name, long long value) {
    struct tiering_state *ts = s->tiering;
    if (!ts)
        return KERR_FAILED;
    if (!strcmp(name, "checkpoint-error"))
        ts->fault_checkpoint_error = value != 0;
    else if (!strcmp(name, "put-error"))
        atomic_store(&ts->fault_put_error, value != 0);
    else if (!strcmp(name, "get-error"))
        atomic_store(&ts->fault_get_error, value != 0);
    else if (!strcmp(name, "get-delay-ms"))
        atomic_store(&ts->fault_get_delay_ms, (int)(value < 0 ? 0 : value > 60000 ? 60000 : value));
    else if (!strcmp(name, "put-delay-ms"))
        atomic_store(&ts->fault_put_delay_ms, (int)(value < 0 ? 0 : value > 60000 ? 60000 : value));
    else
        return KERR_INVAL;
    return 0;
}
