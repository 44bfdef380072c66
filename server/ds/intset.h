/*
 * intset.h - a sorted set of integers packed at the smallest width that holds them all.
 *
 * Backs small sets whose members are all canonical integers (SADD 1 2 3). The set is one blob
 * that the snapshot writes as is: a header and a sorted array of int16, int32 or int64. Adding a
 * value that needs a wider type upgrades the whole array; the width never narrows. The byte
 * layout is specified at the top of intset.c and in docs/encodings.md.
 */
#ifndef KEEL_DS_INTSET_H
#define KEEL_DS_INTSET_H

#include <stddef.h>
#include <stdint.h>

typedef struct intset intset_t;

/* At most this many members: the header counts in a uint32 and the blob stays under 4 GiB. */
#define INTSET_LEN_MAX (UINT32_MAX / 8 - 1)

/* A new empty set (width int16), or NULL when out of memory. */
intset_t *intset_new(void);
void intset_free(intset_t *is);

/* Adds v; *added (when not NULL) says whether it was new. 0, KERR_LIMIT or KERR_NOMEM; on error
 * the set is unchanged. The set may move: *isp gets the new address. */
int intset_add(intset_t **isp, int64_t v, int *added);
/* Removes v; *removed says whether it was there. Always 0 (a failed shrink keeps the block). */
int intset_remove(intset_t **isp, int64_t v, int *removed);
/* 1 when v is a member. */
int intset_find(const intset_t *is, int64_t v);
/* The member at position i in ascending order: 0, or KERR_NOTFOUND when i >= len. */
int intset_get(const intset_t *is, uint32_t i, int64_t *v);
uint32_t intset_len(const intset_t *is);
/* Total bytes of the blob, header included. */
size_t intset_bytes(const intset_t *is);
/* Width of one member in bytes: 2, 4 or 8. */
uint32_t intset_width(const intset_t *is);
/* The member at position rnd % len; the caller supplies the randomness (SRANDMEMBER, SPOP).
 * The set must not be empty. */
int64_t intset_random(const intset_t *is, uint64_t rnd);
int64_t intset_min(const intset_t *is);
int64_t intset_max(const intset_t *is);

/* Checks an untrusted blob: known width, length agreeing with the size, strictly ascending
 * members (which also rules out duplicates). 0 or KERR_CORRUPT. */
int intset_validate(const void *p, size_t len);

#endif
