/*
 * t_hash.h - the hash value type: field -> value maps behind OBJ_HASH objects.
 *
 * Two encodings, as Valkey has them:
 *   OBJ_ENC_LISTPACK  a packed list "field,value,field,value..." in insertion order, while the
 *                     hash has at most entries_max fields and no field or value is longer than
 *                     value_max bytes (hash-max-listpack-entries / -value);
 *   OBJ_ENC_HT        a hash table (ds/ht.h) whose entries hold the field and the value in one
 *                     allocation. A hash never converts back to a packed list.
 *
 * A value is handled as a thash_t {pointer, encoding} loaded from the object and stored back
 * after a change (hash_of / hash_store), so the functions here do not depend on the keyspace and
 * the unit tests drive them against a model directly.
 *
 * Field expiry (Valkey 9's hash-field expiration): a third encoding, OBJ_ENC_HASH_TTL, is a hash
 * table whose entries carry an absolute expiry in unix ms, with a heap of the volatile ones; a
 * hash gets it with its first field expiry and keeps it. This module stores expiries and removes expired fields when asked
 * (hash_expire_fields); it never looks at a clock. Deciding when (lazily on access, in the active
 * cycle) and telling the log is the keyspace's job (core/db.c). Elements read back are hval_t: either
 * bytes (p != NULL) pointing into the structure, or an integer (p == NULL) that a packed list
 * stored as such; both are valid until the hash next changes.
 */
#ifndef KEEL_T_HASH_H
#define KEEL_T_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "object.h"
#include "ht.h"
#include "slice.h"

typedef struct thash {
    void *p; /* uint8_t * packed list, ht_t *, or the field-expiry header (t_hash.c) */
    int enc; /* OBJ_ENC_LISTPACK, OBJ_ENC_HT or OBJ_ENC_HASH_TTL */
} thash_t;

#define HASH_NO_TTL (-1) /* the expiry of a field that has none */

typedef struct hash_limits {
    size_t entries_max; /* hash-max-listpack-entries */
    size_t value_max;   /* hash-max-listpack-value */
} hash_limits_t;

typedef struct hval {
    const char *p; /* NULL: the element is the integer i */
    size_t n;
    int64_t i;
} hval_t;

typedef struct hpair {
    hval_t f, v;
} hpair_t;

/* Registers the OBJ_HASH obj_type_ops_t (free, dup, mem, snapshot access). Called once at
 * start-up from server_init() with the live config values, which the snapshot loader's create/add
 * read to choose encodings (NULL: Valkey's defaults, 128 and 64). */
void hash_type_init(const long long *entries_max, const long long *value_max);

static inline thash_t
hash_of(const kobj_t *o) {
    thash_t h = {obj_ptr(o), obj_encoding(o)};
    return h;
}

/* Writes a (possibly moved or converted) hash back into its object; the object does not move. */
static inline void
hash_store(kobj_t *o, const thash_t *h) {
    obj_set_ptr(o, h->p);
    obj_set_encoding(o, h->enc);
}

thash_t hash_new(void); /* empty, packed list */
void hash_release(thash_t *h);
thash_t hash_dup(const thash_t *h);
uint64_t hash_len(const thash_t *h);

/* 1 and *v set when the field exists, else 0. */
int hash_get(const thash_t *h, const char *f, size_t fn, hval_t *v);
bool hash_exists(const thash_t *h, const char *f, size_t fn);
/* Sets field to value: 1 when the field is new, 0 when it was updated, KERR_LIMIT when a field
 * or value is too long for an entry (4 GiB). Converts to a hash table when the hash grows past
 * the limits. */
int hash_set(thash_t *h, const char *f, size_t fn, const char *v, size_t vn,
             const hash_limits_t *lim);
/* HSET's look-ahead (Valkey's hashTypeTryConversion): converts a packed list to a table before
 * adding the nargs/2 pairs of args (field,value,...) when they could not all fit the limits. */
void hash_prepare(thash_t *h, const karg_t *args, size_t nargs, const hash_limits_t *lim);
/* 1 when the field was deleted, 0 when it was absent. */
int hash_delete(thash_t *h, const char *f, size_t fn);

/* Iteration in the structure's order (insertion order for a packed list). The hash must not
 * change during the walk. */
typedef struct hash_iter {
    const thash_t *h;
    uint8_t *pos;  /* packed list: next field */
    ht_iter_t hti; /* hash table */
} hash_iter_t;
void hash_iter_init(hash_iter_t *it, const thash_t *h);
bool hash_iter_next(hash_iter_t *it, hpair_t *out);
void hash_iter_done(hash_iter_t *it);

/* Every pair into out[0 .. hash_len): for HRANDFIELD's sampling without repeats. */
void hash_collect(const thash_t *h, hpair_t *out);
/* One random pair (the hash must not be empty); rnd picks in a packed list. */
void hash_random(const thash_t *h, uint64_t rnd, hpair_t *out);

/* HSCAN: calls fn for a batch of pairs and returns the next cursor (0 when done). A packed list
 * is returned whole with cursor 0, as Valkey does. */
typedef void (*hash_scan_cb)(void *ctx, const hpair_t *pair);
uint64_t hash_scan(const thash_t *h, uint64_t cursor, hash_scan_cb fn, void *ctx);

/* ---- field expiry ---- */

/* Fields with an expiry (0 unless OBJ_ENC_HASH_TTL). */
uint64_t hash_volatile_count(const thash_t *h);
/* The earliest field expiry; INT64_MAX when no field has one. */
int64_t hash_next_expire(const thash_t *h);
/* 1 and *ms (HASH_NO_TTL when none) when the field exists, else 0. */
int hash_get_expire(const thash_t *h, const char *f, size_t fn, int64_t *ms);
/* Sets (ms >= 0) or clears (HASH_NO_TTL) an existing field's expiry: 1, or 0 when the field is
 * absent. Setting one converts the hash to OBJ_ENC_HASH_TTL. */
int hash_set_expire(thash_t *h, const char *f, size_t fn, int64_t ms);
/* hash_set with an expiry for the field: ms (HASH_NO_TTL: none), or with keep the expiry the
 * field already has (a new field gets none). hash_set itself clears a field's expiry, as HSET
 * does. */
int hash_set_ex(thash_t *h, const char *f, size_t fn, const char *v, size_t vn, int64_t ms,
                bool keep, const hash_limits_t *lim);
/* Removes at most max fields whose expiry is <= now_ms, earliest first, calling fn(ctx, field)
 * for each before it is freed; returns how many. O(k log n) for k fields removed. */
typedef void (*hash_field_cb)(void *ctx, const char *f, size_t fn);
size_t hash_expire_fields(thash_t *h, int64_t now_ms, size_t max, hash_field_cb fn, void *ctx);
/* hash_iter_next with the field's expiry (HASH_NO_TTL when none). */
bool hash_iter_next_ttl(hash_iter_t *it, hpair_t *out, int64_t *ms);
/* Loading a hash with field expiries (snapshot record HASH_TTL): an empty OBJ_ENC_HASH_TTL hash
 * sized for hint fields, then each field once: 0, KERR_CORRUPT for a duplicate field or a bad
 * expiry, KERR_LIMIT for a part too long. */
thash_t hash_new_ttl(uint64_t hint);
int hash_load_ttl_add(thash_t *h, const char *f, size_t fn, const char *v, size_t vn, int64_t ms);

/* The bytes of an element: its own, or the integer formatted into buf (21 bytes). */
const char *hval_bytes(const hval_t *v, char *buf, size_t *n);

#endif
