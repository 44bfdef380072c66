/*
 * t_zset.h - the sorted-set value: a packed list while small, a skiplist plus a member map when
 * large, and the operations the ZSET commands are built from.
 *
 * Encodings (obj_encoding of the kobj; obj_ptr points at the structure):
 *   OBJ_ENC_LISTPACK  a packed list (lp.h) of member,score,member,score... sorted by (score,
 *                     member bytes). Scores are written as the shortest text that reads back
 *                     to the same double (lp stores the integral ones as integers).
 *   OBJ_ENC_SKIPLIST  a zset_big_t: a skiplist (zsl.h) ordered by (score, member) whose nodes own
 *                     the member bytes, and a hash table (ht.h) whose entries ARE those nodes, so
 *                     ZSCORE is one probe and a member is stored once.
 * A set starts as a packed list when it is expected to hold at most zset-max-listpack-entries
 * members of at most zset-max-listpack-value bytes, and becomes a skiplist as soon as it would
 * pass either limit. It is never shrunk back in place (as Valkey); results written by the STORE
 * commands are built in the encoding their final size calls for.
 *
 * Mutating calls take the stored kobj and update its pointer and encoding in place: the kobj's
 * own address never changes, so a db_lookup result stays valid across them.
 */
#ifndef KEEL_T_ZSET_H
#define KEEL_T_ZSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "object.h"
#include "lp.h"
#include "zsl.h"

/* The two encoding limits, read from the config at the time of each call (CONFIG SET works). */
typedef struct zset_limits {
    size_t entries_max; /* zset-max-listpack-entries */
    size_t value_max;   /* zset-max-listpack-value: longest member in bytes */
} zset_limits_t;

/* ZADD options (in) and what happened to one element (out), as Valkey's zsetAdd. */
enum {
    ZADD_IN_INCR = 1 << 0,
    ZADD_IN_NX = 1 << 1,
    ZADD_IN_XX = 1 << 2,
    ZADD_IN_GT = 1 << 3,
    ZADD_IN_LT = 1 << 4,
};
enum {
    ZADD_OUT_NOP = 1 << 0,     /* an option said no: nothing changed */
    ZADD_OUT_NAN = 1 << 1,     /* the resulting score would be NaN: nothing changed */
    ZADD_OUT_ADDED = 1 << 2,   /* a new member */
    ZADD_OUT_UPDATED = 1 << 3, /* an existing member got a different score */
};

/* One element read from a set. For a member the packed list holds as an integer, the text is
 * formatted into buf, so the element must outlive its use of m. */
typedef struct zset_elem {
    const uint8_t *m;
    size_t n;
    double score;
    char buf[LP_INTBUF_MAX];
} zset_elem_t;

/* Registers the type's obj_type_ops_t (free, dup, mem, snapshot access). Called at start-up. */
/* Registers the type; the limits are the configuration's (read at each use). */
void zset_type_init(const long long *entries_max, const long long *value_max);

/* A new empty sorted-set object for about size_hint members whose longest is len_hint bytes. */
kobj_t *zset_new_obj(const char *key, size_t klen, size_t size_hint, size_t len_hint,
                     const zset_limits_t *lim);
/* Converts a packed-list set to a skiplist when a call is about to add size_hint members or one
 * of len_hint bytes (Valkey's zsetTypeMaybeConvert). */
void zset_maybe_grow(kobj_t *o, size_t size_hint, size_t len_hint, const zset_limits_t *lim);

uint64_t zset_len(const kobj_t *o);
/* 0 and *score, or KERR_NOTFOUND. */
int zset_score(const kobj_t *o, const void *m, size_t n, double *score);
/* Adds or updates one member under the ZADD_IN_* flags; *out gets ZADD_OUT_* bits and
 * *newscore the member's score afterwards (when not a no-op). 0, or KERR_INVAL for a NaN. */
int zset_add(kobj_t *o, const zset_limits_t *lim, double score, const void *m, size_t n, int in,
             int *out, double *newscore);
/* Removes a member: 1 if it was there, 0 if not. */
int zset_del(kobj_t *o, const void *m, size_t n);
/* 0-based rank of a member counted from the lowest (rev: from the highest), with its score.
 * 0 or KERR_NOTFOUND. */
int zset_rank(const kobj_t *o, const void *m, size_t n, bool rev, uint64_t *rank, double *score);

uint64_t zset_count_score(const kobj_t *o, const zsl_range_t *r);
uint64_t zset_count_lex(const kobj_t *o, const zsl_lex_range_t *r);

/* Range deletes; they return how many members left. Ranks are 0-based, inclusive, clamped by
 * the caller to the length. The caller deletes the key when the set becomes empty. */
uint64_t zset_del_rank(kobj_t *o, uint64_t start, uint64_t stop);
uint64_t zset_del_score(kobj_t *o, const zsl_range_t *r);
uint64_t zset_del_lex(kobj_t *o, const zsl_lex_range_t *r);

/* Iteration in score order (rev: from the highest). The iterator stays valid only while the set
 * is not changed. A range iteration starts at the first element inside the range from its
 * direction; the caller stops when an element falls out of the range (zsl_score_in_range,
 * zsl_member_in_lex_range). */
typedef struct zset_iter {
    int enc;
    bool rev;
    uint8_t *lp; /* packed list, with p at the current member entry (NULL at the end) */
    uint8_t *p;
    zsl_node_t *node; /* skiplist: the current node (NULL at the end) */
} zset_iter_t;
void zset_iter_rank(zset_iter_t *it, const kobj_t *o, uint64_t rank, bool rev);
void zset_iter_score(zset_iter_t *it, const kobj_t *o, const zsl_range_t *r, bool rev);
void zset_iter_lex(zset_iter_t *it, const kobj_t *o, const zsl_lex_range_t *r, bool rev);
/* Fills e with the current element and moves on; false at the end. */
bool zset_iter_next(zset_iter_t *it, zset_elem_t *e);

/* The element at a 0-based rank (ZRANDMEMBER); the rank must be below zset_len. */
void zset_at_rank(const kobj_t *o, uint64_t rank, zset_elem_t *e);

/* ZSCAN over the skiplist encoding's member table: calls fn for the members of one step and
 * returns the next cursor (0 when done). The packed-list encoding has no cursor: callers return
 * everything at once, as Valkey does. */
typedef void zset_scan_fn(void *ctx, const uint8_t *m, size_t n, double score);
uint64_t zset_scan(const kobj_t *o, uint64_t cursor, zset_scan_fn *fn, void *ctx);

/* Builds a set from elements sorted by (score, member) with distinct members, in the encoding
 * their number and longest member call for (ZUNIONSTORE, ZRANGESTORE, ...). */
typedef struct zset_buf_elem {
    const uint8_t *m;
    size_t n;
    double score;
} zset_buf_elem_t;
kobj_t *zset_build_sorted(const char *key, size_t klen, const zset_buf_elem_t *v, size_t count,
                          const zset_limits_t *lim);
/* Order of two elements: by score, then by member bytes (a prefix first). */
int zset_elem_cmp(double s1, const uint8_t *m1, size_t n1, double s2, const uint8_t *m2, size_t n2);

#endif
