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

#include <stddef.h>
#include <stdint.h>

typedef int (*rdb_elem_cb)(void *ctx, const char *p, size_t n);

int rdb_listpack_walk(const uint8_t *p, size_t n, rdb_elem_cb cb, void *ctx, uint64_t *count,
                      const char **why);
int rdb_ziplist_walk(const uint8_t *p, size_t n, rdb_elem_cb cb, void *ctx, uint64_t *count,
                     const char **why);
int rdb_intset_walk(const uint8_t *p, size_t n, rdb_elem_cb cb, void *ctx, uint64_t *count,
                    const char **why);
int rdb_zipmap_walk(const uint8_t *p, size_t n, rdb_elem_cb cb, void *ctx, uint64_t *count,
                    const char **why);

#endif
