/*
 * zsl.h - the skiplist that orders a large sorted set by (score, member).
 *
 * Each node holds a score and its own copy of the member's bytes, and each level link carries a
 * span (how many nodes it jumps), so rank queries and element-by-rank are O(log n) as in Redis.
 * Ordering: by score, then by member bytes (memcmp, a shorter prefix first). The member -> score
 * map that ZSCORE and ZADD need is the caller's (a hash table next to the skiplist); callbacks
 * on range deletes tell it which members left.
 *
 * Ranks are 0-based throughout (ZRANK's numbering). Scores are never NaN: zsl_insert refuses it.
 */
#ifndef KEEL_DS_ZSL_H
#define KEEL_DS_ZSL_H

#include <stddef.h>
#include <stdint.h>

#define ZSL_LEVEL_MAX      32
#define ZSL_MEMBER_LEN_MAX UINT32_MAX

typedef struct zsl zsl_t;
typedef struct zsl_node zsl_node_t;

/* A score interval; minex/maxex make that end exclusive ("(1.5"). -inf/+inf are plain doubles. */
typedef struct zsl_range {
    double min, max;
    int minex, maxex;
} zsl_range_t;

/* One end of a lexicographic interval: "-", "+", "[abc" or "(abc". */
enum { ZSL_LEX_NEG_INF, ZSL_LEX_POS_INF, ZSL_LEX_INCL, ZSL_LEX_EXCL };
typedef struct zsl_lex_bound {
    int kind;
    const uint8_t *s; /* the bytes after '[' or '(' (caller's memory); unused for -/+ */
    size_t len;
} zsl_lex_bound_t;

typedef struct zsl_lex_range {
    zsl_lex_bound_t min, max;
} zsl_lex_range_t;

/* Called once for each node a range delete removes, before it is freed. */
typedef void zsl_deleted_cb(void *ctx, const uint8_t *member, size_t len, double score);

/* `seed` drives the node heights; any value works, a fixed one makes tests repeatable. */
zsl_t *zsl_new(uint64_t seed);
void zsl_free(zsl_t *z);
uint64_t zsl_len(const zsl_t *z);

/* Inserts (score, member). 0; KERR_INVAL for a NaN score; KERR_EXISTS when that exact pair is
 * already there; KERR_LIMIT for a member too long; KERR_NOMEM. `out` gets the node. */
int zsl_insert(zsl_t *z, double score, const void *m, size_t len, zsl_node_t **out);
/* Removes (score, member): 0 or KERR_NOTFOUND. */
int zsl_delete(zsl_t *z, double score, const void *m, size_t len);
/* Moves member from cur to new_score (in place when its position holds). 0, KERR_NOTFOUND,
 * KERR_INVAL (NaN). */
int zsl_update_score(zsl_t *z, double cur, const void *m, size_t len, double new_score,
                     zsl_node_t **out);

/* 0-based rank of (score, member) into *rank: 0 or KERR_NOTFOUND. */
int zsl_rank(const zsl_t *z, double score, const void *m, size_t len, uint64_t *rank);
/* The node at a 0-based rank, or NULL. */
zsl_node_t *zsl_by_rank(const zsl_t *z, uint64_t rank);

/* Iteration. */
zsl_node_t *zsl_first(const zsl_t *z);
zsl_node_t *zsl_last(const zsl_t *z);
zsl_node_t *zsl_next(const zsl_node_t *n);
zsl_node_t *zsl_prev(const zsl_node_t *n);
double zsl_node_score(const zsl_node_t *n);
const uint8_t *zsl_node_member(const zsl_node_t *n, size_t *len);

/* Range queries: the lowest / highest node inside the range, or NULL when none is. */
zsl_node_t *zsl_first_in_range(const zsl_t *z, const zsl_range_t *r);
zsl_node_t *zsl_last_in_range(const zsl_t *z, const zsl_range_t *r);
zsl_node_t *zsl_first_in_lex_range(const zsl_t *z, const zsl_lex_range_t *r);
zsl_node_t *zsl_last_in_lex_range(const zsl_t *z, const zsl_lex_range_t *r);
/* Whether a node's score / member lies inside the range (to stop an iteration). */
int zsl_score_in_range(double score, const zsl_range_t *r);
int zsl_member_in_lex_range(const uint8_t *m, size_t len, const zsl_lex_range_t *r);

/* Deletes every node in the range and returns how many; cb (may be NULL) sees each one. */
uint64_t zsl_delete_range_by_score(zsl_t *z, const zsl_range_t *r, zsl_deleted_cb *cb, void *ctx);
uint64_t zsl_delete_range_by_lex(zsl_t *z, const zsl_lex_range_t *r, zsl_deleted_cb *cb, void *ctx);
/* Ranks start..stop inclusive, 0-based; the caller has already clamped them to the length. */
uint64_t zsl_delete_range_by_rank(zsl_t *z, uint64_t start, uint64_t stop, zsl_deleted_cb *cb,
                                  void *ctx);

/* Parsing of command arguments. A score bound: "1.5", "(1.5", "-inf", "+inf", "inf"; NaN and
 * trailing junk are KERR_INVAL. A lex bound: "-", "+", "[x", "(x"; anything else is KERR_INVAL. */
int zsl_parse_score_bound(const void *s, size_t len, double *v, int *exclusive);
int zsl_parse_lex_bound(const void *s, size_t len, zsl_lex_bound_t *b);

#endif
