/*
 * rdb_value_int.h - inside rdb_value: the walkers of the packed blobs an RDB value may carry
 * (rdb_blob.c), shared with rdb_value.c and the unit tests.
 *
 * Each walker checks the whole blob (rdb_blob.c gives the layouts and the rules) and calls cb
 * once per element in order, integers formatted as decimal text into a buffer of the walker's
 * (valid only during the call). cb may be NULL (a check-only pass). *count gets the number of
 * elements (two per pair for a zipmap). 0, KERR_CORRUPT (*why says what), or cb's own negative
 * return, which stops the walk.
 */
#ifndef KEEL_RDB_VALUE_INT_H
#define KEEL_RDB_VALUE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sbuf.h"
#include "util.h"

typedef int (*rdb_elem_cb)(void *ctx, const char *p, size_t n);

int rdb_listpack_walk(const uint8_t *p, size_t n, rdb_elem_cb cb, void *ctx, uint64_t *count,
                      const char **why);
int rdb_ziplist_walk(const uint8_t *p, size_t n, rdb_elem_cb cb, void *ctx, uint64_t *count,
                     const char **why);
int rdb_intset_walk(const uint8_t *p, size_t n, rdb_elem_cb cb, void *ctx, uint64_t *count,
                    const char **why);
int rdb_zipmap_walk(const uint8_t *p, size_t n, rdb_elem_cb cb, void *ctx, uint64_t *count,
                    const char **why);

/* ---- the payload reader's building blocks (rdb_io.c), for rdb_value.c and rdb_stream.c ---- */

typedef struct rdb_rdr {
    const uint8_t *p;
    size_t n, pos;
    const char *why; /* the first failure's reason (static text) */
} rdb_rdr_t;

/* A string read from the payload: n bytes at p, which points into the payload, into num (an
 * integer encoding) or into heap (LZF output, owned: rdb_str_release). */
typedef struct rdb_str {
    const char *p;
    size_t n;
    char *heap;
    char num[UTIL_LL_STR_MAX];
} rdb_str_t;

static inline size_t
rdb_rd_left(const rdb_rdr_t *r) {
    return r->n - r->pos;
}
/* Records why (the first reason wins) and returns KERR_CORRUPT. */
int rdb_rd_fail(rdb_rdr_t *r, const char *why);
/* n bytes at *out, or KERR_CORRUPT when fewer are left. */
int rdb_rd_bytes(rdb_rdr_t *r, size_t n, const uint8_t **out);
/* An RDB length, or with special != NULL also a special string encoding (*special >= 0). */
int rdb_rd_len(rdb_rdr_t *r, uint64_t *len, int *special);
/* 8 bytes, a signed little-endian integer (Valkey's millisecond times). */
int rdb_rd_ms8(rdb_rdr_t *r, int64_t *v);
/* An RDB string in any encoding (plain, integer, LZF). */
int rdb_rd_string(rdb_rdr_t *r, rdb_str_t *s);
void rdb_str_release(rdb_str_t *s);

/* ---- the writer's building blocks (rdb_io.c) ---- */
void rdb_put_byte(sbuf_t *out, uint8_t b);
void rdb_put_len(sbuf_t *out, uint64_t len);
void rdb_put_ms8(sbuf_t *out, int64_t v);
/* A string as Redis writes it: integer form, LZF, or length and bytes. */
void rdb_put_string(sbuf_t *out, const char *p, size_t n);

/* ---- streams (rdb_stream.c) ---- */
struct stream;
/* Reads a stream value of RDB type rdbtype (15, 19 or 21) after the type byte: 0 and *out, or
 * KERR_CORRUPT (r->why says what). Everything is checked; nothing is left allocated on error. */
int rdb_stream_read(rdb_rdr_t *r, int rdbtype, struct stream **out);
/* Writes s as RDB type 21 (RDB_TYPE_STREAM_LISTPACKS_3), without the type byte. */
void rdb_stream_write(const struct stream *s, sbuf_t *out);

#endif
