/*
 * db.h - one logical database: the key table, the expiry index, lazy and active expiry.
 *
 * Both tables hold the same kobj pointers: `keys` every object, `expires` only those with an
 * expiry (so the active expiry cycle samples only volatile keys, and volatile-* eviction too).
 * Owned by the main thread. Callers identify keys by (pointer, length); objects found here are
 * valid until the next mutation of the db.
 */
#ifndef KEEL_DB_H
#define KEEL_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slice.h"
#include "object.h"
#include "ht.h"

typedef struct db db_t;

/* What the dbs of one engine share: the clock and switches the engine sets around each command,
 * and what the engine does when db.c expires a key on its own (lazily or in the active cycle):
 * log a DEL effect, send the keyspace event, count it (called before the object is freed). */
typedef struct db_env {
    void (*expired)(void *ctx, db_t *db, const char *key, size_t klen);
    /* A key was added that did not exist (Valkey's "new" keyspace event, class n): set only while
     * notify-keyspace-events has n, so adding a key costs one test otherwise. */
    void (*added)(void *ctx, db_t *db, const char *key, size_t klen);
    /* Fields of a hash expired on their own: log `HDEL key fields...`, send `hexpired` (and
     * `del` when key_gone: the hash is empty and db.c deletes the key right after). Called
     * before the fields are freed. NULL: nothing to do (unit tests). */
    void (*fields_expired)(void *ctx, db_t *db, const char *key, size_t klen, const karg_t *fields,
                           size_t n, bool key_gone);
    void *ctx;
    int64_t now_ms;      /* the command's clock (0: read the wall clock) */
    bool expire_enabled; /* off during log replay: keys are never expired then */
    bool touch_enabled;  /* off while a CLIENT NO-TOUCH client's command runs */
    bool lfu_mode;       /* LRU/LFU bookkeeping on access: LFU counter when set */
    int lfu_log_factor, lfu_decay_min;
    /* The hash of one key of the running command, computed ahead by an I/O thread: used by a
     * lookup of exactly these bytes (same pointer and length), set and cleared by exec around
     * each command (db_env_hash_hint). */
    const char *hash_hint_key;
    size_t hash_hint_klen;
    uint64_t hash_hint;
} db_env_t;

static inline void
db_env_hash_hint(db_env_t *env, const char *key, size_t klen, uint64_t hash) {
    env->hash_hint_key = key;
    env->hash_hint_klen = klen;
    env->hash_hint = hash;
}

void db_env_init(db_env_t *env, void (*expired)(void *ctx, db_t *db, const char *key, size_t klen),
                 void *ctx);

struct db {
    ht_t *keys;    /* kobj_t entries, owns them */
    ht_t *expires; /* kobj_t entries with OBJ_F_EXPIRE, borrowed from keys */
    /* Hashes that can hold field expiries (OBJ_ENC_HASH_TTL), borrowed from keys: what the
     * active cycle visits for fields. Kept in step with `keys` wherever an object is added,
     * removed or moved, like `expires`. */
    ht_t *hexpires;
    int id;
    uint64_t expire_cursor;  /* active expiry's SCAN cursor over `expires` */
    uint64_t hexpire_cursor; /* and over `hexpires` */
    int64_t avg_ttl_ms;      /* running estimate from the keys active expiry sampled (INFO) */
    db_env_t *env;           /* shared by the engine's dbs */
    /* db_hint: the object the value tier's check just found for the key at hint_key (the
     * command's own argument buffer), so the command's lookup of it does not search again.
     * Matched by pointer; cleared by its use, by every change to the db and after the command. */
    const char *hint_key;
    size_t hint_klen;
    kobj_t *hint_obj;
};

enum {
    DB_LOOKUP_NOTOUCH = 1,  /* do not update LRU/LFU (OBJECT IDLETIME, CLIENT NO-TOUCH) */
    DB_LOOKUP_NOEXPIRE = 2, /* return logically expired keys too (never deletes) */
    /* Leave a hash's expired fields in place (HLEN counts them until they are removed, as
     * Valkey 9 does). Without it a lookup of a hash with a due field removes its expired
     * fields first (and the key when none is left), so commands never see them. */
    DB_LOOKUP_KEEP_FIELDS = 4,
};

/* Expiry is judged against a clock the server sets once per command, so one command sees one
 * instant (as Valkey does). db_set_expire_enabled(false) is for log replay: keys are then never
 * expired nor hidden by db_lookup/db_random/the active cycle, because the log holds every expiry
 * that happened as a DEL. (DEBUG SET-ACTIVE-EXPIRE 0 only stops the active cycle.) */
void db_set_now_ms(db_env_t *env, int64_t now_ms);
int64_t db_now_ms(db_env_t *env);
void db_set_expire_enabled(db_env_t *env, bool on);
/* CLIENT NO-TOUCH: while off, no lookup updates LRU/LFU (exec.c sets it around each command, so
 * every command group honours it without a flag of its own). */
void db_set_touch_enabled(db_env_t *env, bool on);
/* LRU/LFU bookkeeping on access: 0 = LRU clock, 1 = LFU counter. */
void db_set_lfu_mode(db_env_t *env, bool lfu, int log_factor, int decay_time_min);
uint32_t db_lru_clock(db_env_t *env);

db_t *db_create(int id, db_env_t *env);
void db_free(db_t *db);
size_t db_size(const db_t *db);
size_t db_expires_size(const db_t *db);

kobj_t *db_find(db_t *db, const char *key, size_t klen); /* raw, no expiry check */
kobj_t *db_lookup(db_t *db, const char *key, size_t klen, int flags);
/* The next db_lookup of exactly this key buffer (same pointer and length) gets o without a
 * search; see db_t.hint_key. db_hint_clear drops it. */
static inline void
db_hint(db_t *db, const char *key, size_t klen, kobj_t *o) {
    db->hint_key = key;
    db->hint_klen = klen;
    db->hint_obj = o;
}
static inline void
db_hint_clear(db_t *db) {
    db->hint_key = NULL;
} /* lazy expiry, LRU touch */
bool db_is_expired(db_env_t *env, const kobj_t *o);

void db_add(db_t *db, kobj_t *o); /* the key must be absent */

/* Bulk loading (snapshot load). db_hash_key may run on any thread; the rest on the owner.
 * db_add_new inserts o with one probe that is also the duplicate check: KERR_EXISTS (o not
 * stored, still the caller's) when the key is present. hash must be db_hash_key of o's key. It
 * does not touch the access time: the loader sets it (db_lru_fresh or the saved value). */
uint64_t db_hash_key(const char *key, size_t klen);
int db_add_new(db_t *db, kobj_t *o, uint64_t hash);
/* The buckets a db_add_new of this hash will probe (the expiry index's too when ttl). */
void db_prefetch(const db_t *db, uint64_t hash, bool ttl);
/* Pre-size the tables for `keys` keys in all, `volatile_keys` of them with a TTL (never shrinks),
 * so a load does not rehash. */
void db_reserve(db_t *db, size_t keys, size_t volatile_keys);
/* After a load that reserved more than it got: shrink the tables the normal rule finds sparse. */
void db_fit(db_t *db);
/* The access field (LRU clock or LFU counter and time) that a first access gives a new key. Any
 * thread may call it while the main thread does not change the LFU settings. */
uint32_t db_lru_fresh(db_env_t *env);
/* Insert o, replacing (and freeing) any object under the same key. With keep_ttl the old
 * expiry is carried over; returns the object now stored (may differ from o then). */
kobj_t *db_set(db_t *db, kobj_t *o, bool keep_ttl);
bool db_delete(db_t *db, const char *key, size_t klen);
kobj_t *db_unlink(db_t *db, const char *key, size_t klen); /* remove, caller owns (frees) it */
/* Set (ms >= 0) or remove (ms < 0) the expiry of a stored object; returns its new address. */
kobj_t *db_set_expire(db_t *db, kobj_t *o, int64_t ms);
/* Resize a stored string object (obj_str_resize) and keep both tables pointing at it. */
kobj_t *db_str_resize(db_t *db, kobj_t *o, size_t vlen, size_t keep);

/* Put n in the place of the stored object o (same key and expiry: a tiered stub for its value,
 * or the value back for its stub), keep both tables pointing at it, free o. Returns n. */
kobj_t *db_replace(db_t *db, kobj_t *o, kobj_t *n);

void db_flush(db_t *db); /* delete everything now */
/* Detach every table into a new db the caller frees later (lazy free); db is left empty. */
db_t *db_detach(db_t *db);
void db_swap(db_t *a, db_t *b); /* contents only; ids stay */
kobj_t *db_random(db_t *db);    /* a random non-expired key, or NULL */
uint64_t db_scan(db_t *db, uint64_t cursor, ht_scan_cb fn, void *priv);

/* Active expiry over at most `budget_us`: keys, then hash fields; returns keys expired. */
size_t db_active_expire(db_t *db, uint64_t budget_us, size_t *sampled);
/* Hashes that can hold field expiries (the active cycle's work beside db_expires_size). */
size_t db_hexpires_size(const db_t *db);
/* After a command may have given the stored hash o its first field expiry (its encoding became
 * OBJ_ENC_HASH_TTL): puts it in the active cycle's set. Cheap when nothing changed. */
void db_hash_ttl_track(db_t *db, kobj_t *o);
void db_rehash_us(db_t *db, uint64_t us);

#endif
