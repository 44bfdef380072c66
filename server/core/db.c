/* db.c - a database: key table, expiry index, lazy and active expiry (see db.h). */
#include "db.h"

#include <math.h>
#include <string.h>

#include "kassert.h"
#include "kerr.h"
#include "kmem.h"
#include "t_hash.h"
#include "util.h"

/* A hash that can hold field expiries: it belongs in `hexpires`. */
static inline bool
is_hash_ttl(const kobj_t *o) {
    return obj_encoding(o) == OBJ_ENC_HASH_TTL && obj_type(o) == OBJ_HASH;
}

void
db_env_init(db_env_t *env, void (*expired)(void *ctx, db_t *db, const char *key, size_t klen),
            void *ctx) {
    *env = (db_env_t){.expired = expired,
                      .ctx = ctx,
                      .expire_enabled = true,
                      .touch_enabled = true,
                      .lfu_log_factor = 10,
                      .lfu_decay_min = 1};
}

void
db_set_now_ms(db_env_t *env, int64_t ms) {
    env->now_ms = ms;
}

int64_t
db_now_ms(db_env_t *env) {
    return env->now_ms ? env->now_ms : util_time_ms();
}

void
db_set_touch_enabled(db_env_t *env, bool on) {
    env->touch_enabled = on;
}

void
db_set_expire_enabled(db_env_t *env, bool on) {
    env->expire_enabled = on;
}

void
db_set_lfu_mode(db_env_t *env, bool lfu, int log_factor, int decay_time_min) {
    env->lfu_mode = lfu;
    env->lfu_log_factor = log_factor;
    env->lfu_decay_min = decay_time_min;
}

uint32_t
db_lru_clock(db_env_t *env) {
    return (uint32_t)((db_now_ms(env) / 1000) & OBJ_LRU_MAX);
}

/* LFU: 8-bit logarithmic counter in the low byte, 16-bit minutes of the last decrement above. */
static void
touch(db_env_t *env, kobj_t *o) {
    if (!env->lfu_mode) {
        obj_set_lru(o, db_lru_clock(env));
        return;
    }
    uint32_t v = obj_lru(o);
    uint32_t counter = v & 0xff, last = v >> 8;
    uint32_t now_min = (uint32_t)((db_now_ms(env) / 60000) & 0xffff);
    uint32_t elapsed = now_min >= last ? now_min - last : 0x10000 - last + now_min;
    if (env->lfu_decay_min > 0) {
        uint32_t periods = elapsed / (uint32_t)env->lfu_decay_min;
        counter = periods > counter ? 0 : counter - periods;
    }
    if (counter < 255) {
        double r = (double)(util_random64() >> 11) / (double)(1ull << 53);
        double base = counter > 5 ? counter - 5 : 0;
        if (r < 1.0 / (base * env->lfu_log_factor + 1))
            counter++;
    }
    obj_set_lru(o, now_min << 8 | counter);
}

static uint64_t
hash_key(const void *key) {
    const karg_t *k = key;
    return ht_hash_bytes(k->p, k->n);
}

/* The key's hash: the one an I/O thread computed for the running command when these are its
 * bytes (db_env_hash_hint), else computed here. */
static inline uint64_t
key_hash(const db_env_t *env, const char *key, size_t klen) {
    if (klen == env->hash_hint_klen && env->hash_hint_key &&
        (key == env->hash_hint_key || memcmp(key, env->hash_hint_key, klen) == 0))
        return env->hash_hint;
    return ht_hash_bytes(key, klen);
}

static uint64_t
hash_entry(const void *entry) {
    size_t n;
    const char *k = obj_key(entry, &n);
    return ht_hash_bytes(k, n);
}

static int
key_eq(const void *entry, const void *key) {
    const karg_t *k = key;
    size_t n;
    const char *ek = obj_key(entry, &n);
    return n == k->n && memcmp(ek, k->p, n) == 0;
}

static void
entry_free(void *entry) {
    obj_free(entry);
}

/* Insert an object whose key must be absent. (ht_add would compare entries with key_eq, whose
 * second argument here is a karg_t slice, so every insert goes through find_pos.) */
static void
add_obj(ht_t *t, kobj_t *o) {
    size_t n;
    const char *k = obj_key(o, &n);
    karg_t key = {k, n};
    ht_pos_t pos;
    ASSERT(ht_find_pos(t, &key, &pos) == NULL);
    ht_insert_at(t, &pos, o);
}

static const ht_type_t keys_type = {hash_key, hash_entry, key_eq, entry_free};
static const ht_type_t expires_type = {hash_key, hash_entry, key_eq, NULL};

db_t *
db_create(int id, db_env_t *env) {
    db_t *db = kcalloc(1, sizeof *db);
    db->keys = ht_create(&keys_type);
    db->expires = ht_create(&expires_type);
    db->hexpires = ht_create(&expires_type);
    db->id = id;
    db->env = env;
    return db;
}

void
db_free(db_t *db) {
    if (!db)
        return;
    ht_release(db->expires);
    ht_release(db->hexpires);
    ht_release(db->keys);
    kfree(db);
}

size_t
db_size(const db_t *db) {
    return ht_size(db->keys);
}

size_t
db_expires_size(const db_t *db) {
    return ht_size(db->expires);
}

kobj_t *
db_find(db_t *db, const char *key, size_t klen) {
    karg_t k = {key, klen};
    return ht_find(db->keys, &k);
}

bool
db_is_expired(db_env_t *env, const kobj_t *o) {
    int64_t e = obj_expire(o);
    return e >= 0 && e <= db_now_ms(env);
}

/* A copy of an object's key, for work during which the object is freed or reallocated (the
 * tables compare keys through their entries). Short keys stay on the stack. */
typedef struct keycopy {
    karg_t k;
    char stack[256];
} keycopy_t;

static void
keycopy_init(keycopy_t *kc, const kobj_t *o) {
    size_t n;
    const char *key = obj_key(o, &n);
    char *p = n <= sizeof kc->stack ? kc->stack : kmalloc(n);
    memcpy(p, key, n);
    kc->k = (karg_t){p, n};
}

static void
keycopy_done(keycopy_t *kc) {
    if (kc->k.p != kc->stack)
        kfree((char *)kc->k.p);
}

/* Delete an expired key on the server's behalf: the hook logs and notifies first. */
static void
expire_now(db_t *db, kobj_t *o) {
    db_hint_clear(db);
    keycopy_t kc;
    keycopy_init(&kc, o);
    if (db->env && db->env->expired)
        db->env->expired(db->env->ctx, db, kc.k.p, kc.k.n);
    db_delete(db, kc.k.p, kc.k.n);
    keycopy_done(&kc);
}

static bool expire_fields_max(db_t *db, kobj_t *o, size_t max);

kobj_t *
db_lookup(db_t *db, const char *key, size_t klen, int flags) {
    kobj_t *o;
    if (key == db->hint_key && klen == db->hint_klen) {
        o = db->hint_obj; /* found a moment ago by the value tier's check (db_hint) */
        db->hint_key = NULL;
    } else {
        karg_t k = {key, klen};
        o = ht_find_hashed(db->keys, &k, key_hash(db->env, key, klen));
    }
    if (!o)
        return NULL;
    /* With expiry disabled (log replay) a key is live until the log says DEL: every expiry that
     * happened is in the log, so judging by the clock here would make replay diverge. */
    if (db->env->expire_enabled && obj_has_expire(o) && db_is_expired(db->env, o) &&
        !(flags & DB_LOOKUP_NOEXPIRE)) {
        expire_now(db, o);
        return NULL;
    }
    if (is_hash_ttl(o) && db->env->expire_enabled &&
        !(flags & (DB_LOOKUP_NOEXPIRE | DB_LOOKUP_KEEP_FIELDS)) &&
        expire_fields_max(db, o, SIZE_MAX))
        return NULL;
    if (!(flags & DB_LOOKUP_NOTOUCH) && db->env->touch_enabled)
        touch(db->env, o);
    return o;
}

void
db_add(db_t *db, kobj_t *o) {
    db_hint_clear(db);
    touch(db->env, o);
    add_obj(db->keys, o);
    if (obj_has_expire(o))
        add_obj(db->expires, o);
    if (is_hash_ttl(o))
        add_obj(db->hexpires, o);
    if (db->env->added) {
        size_t n;
        const char *k = obj_key(o, &n);
        db->env->added(db->env->ctx, db, k, n);
    }
}

uint64_t
db_hash_key(const char *key, size_t klen) {
    return ht_hash_bytes(key, klen); /* the same hash as hash_key/hash_entry */
}

int
db_add_new(db_t *db, kobj_t *o, uint64_t hash) {
    db_hint_clear(db);
    size_t n;
    const char *k = obj_key(o, &n);
    karg_t key = {k, n};
    ht_pos_t pos;
    DEBUG_ASSERT(hash == ht_hash_bytes(k, n));
    if (ht_find_pos_hashed(db->keys, &key, hash, &pos))
        return KERR_EXISTS;
    ht_insert_at(db->keys, &pos, o);
    if (obj_has_expire(o)) {
        ASSERT(ht_find_pos_hashed(db->expires, &key, hash, &pos) == NULL);
        ht_insert_at(db->expires, &pos, o);
    }
    if (is_hash_ttl(o)) {
        ASSERT(ht_find_pos_hashed(db->hexpires, &key, hash, &pos) == NULL);
        ht_insert_at(db->hexpires, &pos, o);
    }
    if (db->env->added)
        db->env->added(db->env->ctx, db, k, n);
    return 0;
}

void
db_prefetch(const db_t *db, uint64_t hash, bool ttl) {
    ht_prefetch(db->keys, hash);
    if (ttl)
        ht_prefetch(db->expires, hash);
}

void
db_reserve(db_t *db, size_t keys, size_t volatile_keys) {
    ht_reserve(db->keys, keys);
    ht_reserve(db->expires, volatile_keys);
}

void
db_fit(db_t *db) {
    ht_fit(db->keys);
    ht_fit(db->expires);
}

uint32_t
db_lru_fresh(db_env_t *env) {
    /* What touch(env) gives an object whose field is still 0: in LFU mode a counter of 0 always
     * goes up by one (probability 1 / (0 * factor + 1)), so no random draw is needed. */
    if (!env->lfu_mode)
        return db_lru_clock(env);
    uint32_t now_min = (uint32_t)((db_now_ms(env) / 60000) & 0xffff);
    return now_min << 8 | 1;
}

kobj_t *
db_set(db_t *db, kobj_t *o, bool keep_ttl) {
    db_hint_clear(db);
    size_t n;
    const char *key = obj_key(o, &n);
    karg_t k = {key, n};
    ht_pos_t pos;
    uint64_t h = key_hash(db->env, key, n);
    kobj_t *old = ht_find_pos_hashed(db->keys, &k, h, &pos);
    if (!old) {
        touch(db->env, o);
        ht_insert_at(db->keys, &pos, o);
        if (obj_has_expire(o))
            add_obj(db->expires, o);
        if (is_hash_ttl(o))
            add_obj(db->hexpires, o);
        if (db->env->added)
            db->env->added(db->env->ctx, db, key, n);
        return o;
    }
    void **ref = ht_find_ref_hashed(db->keys, &k, h);
    int64_t old_exp = obj_expire(old);
    if (old_exp >= 0)
        ht_pop(db->expires, &k);
    if (is_hash_ttl(old))
        ht_pop(db->hexpires, &k);
    if (keep_ttl && old_exp >= 0)
        o = obj_with_expire(o, old_exp);
    touch(db->env, o);
    *ref = o;
    if (obj_has_expire(o))
        add_obj(db->expires, o);
    if (is_hash_ttl(o))
        add_obj(db->hexpires, o);
    obj_free(old);
    return o;
}

kobj_t *
db_unlink(db_t *db, const char *key, size_t klen) {
    db_hint_clear(db);
    karg_t k = {key, klen};
    kobj_t *o = ht_pop(db->keys, &k);
    if (o && obj_has_expire(o))
        ht_pop(db->expires, &k);
    if (o && is_hash_ttl(o))
        ht_pop(db->hexpires, &k);
    return o;
}

bool
db_delete(db_t *db, const char *key, size_t klen) {
    kobj_t *o = db_unlink(db, key, klen);
    obj_free(o);
    return o != NULL;
}

kobj_t *
db_set_expire(db_t *db, kobj_t *o, int64_t ms) {
    db_hint_clear(db);
    bool had = obj_has_expire(o);
    if (had && ms >= 0) { /* same layout: in place, nothing moves */
        obj_set_expire_inplace(o, ms);
        return o;
    }
    keycopy_t kc;
    keycopy_init(&kc, o);
    void **ref = ht_find_ref(db->keys, &kc.k);
    ASSERT(ref && *ref == o);
    if (had)
        ASSERT(ht_pop(db->expires, &kc.k) != NULL);
    bool httl = is_hash_ttl(o);
    if (httl)
        ht_pop(db->hexpires, &kc.k); /* (absent only before db_hash_ttl_track: added below) */
    o = obj_with_expire(o, ms);
    *ref = o;
    if (obj_has_expire(o))
        add_obj(db->expires, o);
    if (httl)
        add_obj(db->hexpires, o);
    keycopy_done(&kc);
    return o;
}

kobj_t *
db_str_resize(db_t *db, kobj_t *o, size_t vlen, size_t keep) {
    db_hint_clear(db);
    keycopy_t kc;
    keycopy_init(&kc, o);
    void **ref = ht_find_ref(db->keys, &kc.k);
    ASSERT(ref && *ref == o);
    /* Both slots are found while o is alive: the tables compare keys through their entries, so
     * a lookup after obj_str_resize has freed o would read freed memory. The expiry is carried
     * over, so the new object belongs in the same tables. */
    void **eref = obj_has_expire(o) ? ht_find_ref(db->expires, &kc.k) : NULL;
    ASSERT(!obj_has_expire(o) || (eref && *eref == o));
    kobj_t *nobj = obj_str_resize(o, vlen, keep);
    *ref = nobj;
    if (eref)
        *eref = nobj;
    keycopy_done(&kc);
    return nobj;
}

kobj_t *
db_replace(db_t *db, kobj_t *o, kobj_t *n) {
    db_hint_clear(db);
    ASSERT(obj_expire(o) == obj_expire(n));
    keycopy_t kc;
    keycopy_init(&kc, o);
    void **ref = ht_find_ref(db->keys, &kc.k);
    ASSERT(ref && *ref == o);
    void **eref = obj_has_expire(o) ? ht_find_ref(db->expires, &kc.k) : NULL;
    ASSERT(!obj_has_expire(o) || (eref && *eref == o));
    if (is_hash_ttl(o)) /* a hash with field expiries is never tiered (core/tiering.c) */
        ht_pop(db->hexpires, &kc.k);
    *ref = n;
    if (eref)
        *eref = n;
    if (is_hash_ttl(n))
        add_obj(db->hexpires, n);
    obj_free(o);
    keycopy_done(&kc);
    return n;
}

void
db_flush(db_t *db) {
    db_hint_clear(db);
    ht_clear(db->expires);
    ht_clear(db->hexpires);
    ht_clear(db->keys);
    db->expire_cursor = db->hexpire_cursor = 0;
}

db_t *
db_detach(db_t *db) {
    db_hint_clear(db);
    db_t *old = kcalloc(1, sizeof *old);
    *old = *db;
    db->keys = ht_create(&keys_type);
    db->expires = ht_create(&expires_type);
    db->hexpires = ht_create(&expires_type);
    db->expire_cursor = db->hexpire_cursor = 0;
    return old;
}

void
db_swap(db_t *a, db_t *b) {
    db_hint_clear(a);
    db_hint_clear(b);
    ht_t *k = a->keys, *e = a->expires, *he = a->hexpires;
    a->keys = b->keys;
    a->expires = b->expires;
    a->hexpires = b->hexpires;
    b->keys = k;
    b->expires = e;
    b->hexpires = he;
    a->expire_cursor = b->expire_cursor = 0;
    a->hexpire_cursor = b->hexpire_cursor = 0;
}

kobj_t *
db_random(db_t *db) {
    /* A few tries: if every key is volatile and expired, give up rather than spin (Valkey
     * returns one of them in that case too; returning NULL is the honest answer for us). */
    for (int tries = 0; tries < 100 && ht_size(db->keys) > 0; tries++) {
        kobj_t *o = ht_random(db->keys);
        if (!o)
            return NULL;
        if (!db->env->expire_enabled || !db_is_expired(db->env, o))
            return o;
        expire_now(db, o);
    }
    return NULL;
}

uint64_t
db_scan(db_t *db, uint64_t cursor, ht_scan_cb fn, void *priv) {
    return ht_scan(db->keys, cursor, fn, priv);
}

/* ---- hash fields ---- */

size_t
db_hexpires_size(const db_t *db) {
    return ht_size(db->hexpires);
}

void
db_hash_ttl_track(db_t *db, kobj_t *o) {
    if (!is_hash_ttl(o))
        return;
    size_t n;
    const char *k = obj_key(o, &n);
    karg_t key = {k, n};
    ht_pos_t pos;
    if (ht_find_pos(db->hexpires, &key, &pos) == NULL)
        ht_insert_at(db->hexpires, &pos, o);
}

/* Field names of one pass, copied: the hook gets them all at once, before they are freed. */
typedef struct field_batch {
    karg_t *f;
    size_t n, cap;
} field_batch_t;

static void
collect_field_cb(void *ctx, const char *f, size_t fn) {
    field_batch_t *b = ctx;
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 16;
        b->f = krealloc(b->f, b->cap * sizeof *b->f);
    }
    char *copy = kmalloc(fn ? fn : 1);
    memcpy(copy, f, fn);
    b->f[b->n++] = (karg_t){copy, fn};
}

/* The most fields one pass removes from one hash: a hash with a million due fields is emptied
 * over several cron turns (or by the next commands), each turn bounded. */
#define DB_FIELD_EXPIRE_max 1024

/* Removes up to max expired fields of the stored hash o. True when the key went with them. */
static bool
expire_fields_max(db_t *db, kobj_t *o, size_t max) {
    thash_t h = hash_of(o);
    int64_t now = db_now_ms(db->env);
    if (hash_next_expire(&h) > now)
        return false;
    field_batch_t b = {0};
    size_t n = hash_expire_fields(&h, now, max, collect_field_cb, &b);
    hash_store(o, &h);
    bool gone = n > 0 && hash_len(&h) == 0;
    if (n) {
        size_t klen;
        const char *key = obj_key(o, &klen);
        if (db->env && db->env->fields_expired)
            db->env->fields_expired(db->env->ctx, db, key, klen, b.f, b.n, gone);
    }
    for (size_t i = 0; i < b.n; i++)
        kfree((char *)b.f[i].p);
    kfree(b.f);
    if (gone) {
        keycopy_t kc;
        keycopy_init(&kc, o);
        db_delete(db, kc.k.p, kc.k.n);
        keycopy_done(&kc);
    }
    return gone;
}

/* ---- the active cycle: keys, then hash fields, by one walk ---- */

/* One kind of expiry the cycle walks: a table of candidates, its SCAN cursor, which candidates
 * are due, and what removing one's due part is. */
typedef struct expiry_kind {
    ht_t *table;
    uint64_t *cursor;
    bool (*due)(db_t *db, const kobj_t *o);
    void (*act)(db_t *db, kobj_t *o);
    bool ttl_stats; /* keys: the TTLs of those not due feed avg_ttl (INFO keyspace) */
} expiry_kind_t;

typedef struct due_scan {
    db_t *db;
    const expiry_kind_t *k;
    kobj_t *found[64];
    size_t n;
    int64_t ttl_sum_ms; /* TTLs of the candidates seen that are not due (ttl_stats) */
    int64_t ttl_count;
} due_scan_t;

static void
collect_due_cb(void *priv, void *entry) {
    due_scan_t *s = priv;
    if (s->k->due(s->db, entry)) {
        if (s->n < 64)
            s->found[s->n++] = entry;
        return;
    }
    if (s->k->ttl_stats) {
        int64_t ttl = obj_expire(entry) - db_now_ms(s->db->env);
        if (ttl > 0) {
            s->ttl_sum_ms += ttl;
            s->ttl_count++;
        }
    }
}

/* avg_ttl as Valkey estimates it: each batch's mean moves the estimate 1/50 of the way (the
 * first batch sets it), so it follows the keyspace without ever walking all of it. */
static void
update_avg_ttl(db_t *db, const due_scan_t *s) {
    if (!s->ttl_count)
        return;
    int64_t avg = s->ttl_sum_ms / s->ttl_count;
    db->avg_ttl_ms = db->avg_ttl_ms ? (db->avg_ttl_ms / 50) * 49 + avg / 50 : avg;
}

/* SCAN steps over k's table from its cursor, acting on the due candidates each step finds
 * (collected first: the table must not change under ht_scan), until the walk wraps or the
 * budget since start is spent; at least one step. Returns candidates acted on; *steps counts
 * the steps. */
static size_t
active_walk(db_t *db, const expiry_kind_t *k, uint64_t start, uint64_t budget_us, size_t *steps) {
    size_t acted = 0;
    if (ht_size(k->table) == 0)
        return 0;
    do {
        due_scan_t s = {.db = db, .k = k, .n = 0};
        *k->cursor = ht_scan(k->table, *k->cursor, collect_due_cb, &s);
        (*steps)++;
        if (k->ttl_stats)
            update_avg_ttl(db, &s);
        for (size_t i = 0; i < s.n; i++)
            k->act(db, s.found[i]);
        acted += s.n;
        if (*k->cursor == 0)
            break;
    } while (util_mono_us() - start < budget_us);
    return acted;
}

static bool
key_due(db_t *db, const kobj_t *o) {
    return db_is_expired(db->env, o);
}

static bool
fields_due(db_t *db, const kobj_t *o) {
    thash_t h = hash_of(o);
    return hash_next_expire(&h) <= db_now_ms(db->env);
}

static void
expire_fields_act(db_t *db, kobj_t *o) {
    expire_fields_max(db, o, DB_FIELD_EXPIRE_max);
}

size_t
db_active_expire(db_t *db, uint64_t budget_us, size_t *sampled) {
    db_hint_clear(db);
    if (!db->env->expire_enabled)
        return 0;
    const expiry_kind_t keys = {db->expires, &db->expire_cursor, key_due, expire_now, true};
    const expiry_kind_t fields = {db->hexpires, &db->hexpire_cursor, fields_due, expire_fields_act,
                                  false};
    size_t seen = 0, field_steps = 0;
    uint64_t start = util_mono_us();
    size_t expired = active_walk(db, &keys, start, budget_us, &seen);
    /* Fields get at least one scan step even when the keys used the budget up. */
    active_walk(db, &fields, start, budget_us, &field_steps);
    if (sampled)
        *sampled = seen;
    return expired;
}

void
db_rehash_us(db_t *db, uint64_t us) {
    ht_rehash_us(db->keys, us);
    ht_rehash_us(db->expires, us);
    ht_rehash_us(db->hexpires, us);
}
