/*
 * t_set.h - the set value type: unordered collections of unique byte strings behind OBJ_SET.
 *
 * Three encodings, chosen as Valkey 8 does:
 *   OBJ_ENC_INTSET    every member is a canonical integer and there are at most intset_max
 *                     members (set-max-intset-entries); members are kept sorted;
 *   OBJ_ENC_LISTPACK  at most lp_entries_max members of at most lp_value_max bytes
 *                     (set-max-listpack-entries / -value), in insertion order;
 *   OBJ_ENC_HT        a hash table (ds/ht.h) whose entries hold the member bytes.
 * An intset that gets a non-integer member becomes a packed list when it fits, else a table; an
 * intset past intset_max members becomes a table; a packed list past its limits becomes a table.
 * Removing members never converts back.
 *
 * As for hashes, a value is a tset_t {pointer, encoding} loaded from the object and stored back
 * after a change (set_of / set_store). Members read back are sval_t: bytes (p != NULL) pointing
 * into the structure, or an integer (p == NULL) from an intset or packed list; valid until the
 * set next changes.
 */
#ifndef KEEL_T_SET_H
#define KEEL_T_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "object.h"
#include "ht.h"

typedef struct tset {
    void *p; /* intset_t *, uint8_t * packed list, or ht_t * */
    int enc; /* OBJ_ENC_INTSET, OBJ_ENC_LISTPACK or OBJ_ENC_HT */
} tset_t;

typedef struct set_limits {
    size_t intset_max;     /* set-max-intset-entries */
    size_t lp_entries_max; /* set-max-listpack-entries */
    size_t lp_value_max;   /* set-max-listpack-value */
} set_limits_t;

typedef struct sval {
    const char *p; /* NULL: the member is the integer i */
    size_t n;
    int64_t i;
} sval_t;

/* Registers the OBJ_SET obj_type_ops_t; called once from server_init() with the live config
 * values the snapshot loader's create/add read (NULL: Valkey's defaults 512, 128, 64). */
void set_type_init(const long long *intset_max, const long long *lp_entries_max,
                   const long long *lp_value_max);

static inline tset_t
set_of(const kobj_t *o) {
    tset_t s = {obj_ptr(o), obj_encoding(o)};
    return s;
}

static inline void
set_store(kobj_t *o, const tset_t *s) {
    obj_set_ptr(o, s->p);
    obj_set_encoding(o, s->enc);
}

/* An empty set whose encoding suits a first member `first` and about `hint` members (Valkey's
 * setTypeCreate: intset when first is an integer and hint fits, packed list when hint fits). */
tset_t set_new(const char *first, size_t n, size_t hint, const set_limits_t *lim);
/* Converts to a table ahead of adding `hint` members that could not all fit (SADD). */
void set_prepare(tset_t *s, size_t hint, const set_limits_t *lim);
void set_release(tset_t *s);
uint64_t set_len(const tset_t *s);

/* 1 added, 0 already a member, KERR_LIMIT for a member over 4 GiB. */
int set_add(tset_t *s, const char *p, size_t n, const set_limits_t *lim);
/* 1 removed, 0 not a member. */
int set_remove(tset_t *s, const char *p, size_t n);
bool set_contains(const tset_t *s, const char *p, size_t n);

/* Iteration (ascending for an intset, insertion order for a packed list). The set must not
 * change during the walk. */
typedef struct set_iter {
    const tset_t *s;
    uint32_t idx;  /* intset: next position */
    uint8_t *pos;  /* packed list: next entry */
    ht_iter_t hti; /* table */
} set_iter_t;
void set_iter_init(set_iter_t *it, const tset_t *s);
bool set_iter_next(set_iter_t *it, sval_t *out);
void set_iter_done(set_iter_t *it);

/* Every member into out[0 .. set_len). */
void set_collect(const tset_t *s, sval_t *out);
/* One random member (the set must not be empty); rnd picks in an intset or packed list. */
void set_random(const tset_t *s, uint64_t rnd, sval_t *out);

/* SSCAN: calls fn for a batch of members, returns the next cursor (0 when done). Intsets and
 * packed lists are returned whole with cursor 0. */
typedef void (*set_scan_cb)(void *ctx, const sval_t *m);
uint64_t set_scan(const tset_t *s, uint64_t cursor, set_scan_cb fn, void *ctx);

/* The bytes of a member: its own, or the integer formatted into buf (21 bytes). */
const char *sval_bytes(const sval_t *v, char *buf, size_t *n);

#endif
