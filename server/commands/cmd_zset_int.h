/*
 * cmd_zset_int.h - what the two sorted-set command files share: cmd_zset.c (single-key reads and
 * writes, ranges, ZSCAN, the table) and cmd_zset2.c (pops, blocking pops, ZRANDMEMBER and the
 * multi-key algebra ZUNION/ZINTER/ZDIFF).
 */
#ifndef KEEL_CMD_ZSET_INT_H
#define KEEL_CMD_ZSET_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "cmd.h"
#include "cmd_util.h"
#include "t_zset.h"

/* Results collected before they are replied or stored: member copies with their scores. */
typedef struct zvec {
    zset_buf_elem_t *v; /* v[i].m is a kmalloc'ed copy owned by the vector */
    size_t n, cap;
} zvec_t;

void zvec_push(zvec_t *z, const void *m, size_t n, double score);
void zvec_free(zvec_t *z);
void zvec_sort(zvec_t *z); /* by (score, member) */

/* Looks a key up for a write (reads use cmd_lookup_read_type). Returns the object (NULL when the
 * key is missing); replies WRONGTYPE and sets *err when it holds another type. */
kobj_t *zcmd_lookup_write(client_t *c, const karg_t *key, bool *err);
/* A write changed the key: WATCH, durability tagging, waking clients blocked on it (block.h
 * hooks srv_key_modified), the keyspace event; when the set became empty the key is deleted
 * (with its "del" event). */
void zcmd_changed(client_t *c, const karg_t *key, const char *event, bool delete_now);

/* One element of a ZRANGE-style reply: member, then (withscores) its score; a [member, score]
 * pair in RESP3. */
void zcmd_reply_elem(client_t *c, const uint8_t *m, size_t n, double score, bool withscores);
/* Replies with the elements as ZRANGE does: a flat array, with scores interleaved in RESP2 and
 * as [member, score] pairs in RESP3 when withscores. */
void zcmd_reply_elems(client_t *c, const zset_buf_elem_t *v, size_t n, bool withscores,
                      bool reverse);
/* The STORE commands' ending: dst gets the elements (sorted here), or is deleted when there are
 * none; replies with the count. */
void zcmd_store(client_t *c, const karg_t *dst, zvec_t *res, const char *event);

/* ZADD on c's arguments (GEOADD runs it with the geohashes as scores, cmd_geo.c). */
void zcmd_zadd(client_t *c);

/* Procs living in cmd_zset2.c, listed in cmd_zset.c's table. */
void zcmd_zpopmin(client_t *c);
void zcmd_zpopmax(client_t *c);
void zcmd_zmpop(client_t *c);
void zcmd_bzpopmin(client_t *c);
void zcmd_bzpopmax(client_t *c);
void zcmd_bzmpop(client_t *c);
void zcmd_zrandmember(client_t *c);
void zcmd_zunion(client_t *c);
void zcmd_zinter(client_t *c);
void zcmd_zdiff(client_t *c);
void zcmd_zunionstore(client_t *c);
void zcmd_zinterstore(client_t *c);
void zcmd_zdiffstore(client_t *c);
void zcmd_zintercard(client_t *c);
int zcmd_keys_numkeys1(int argc, karg_t *argv, int *idx, int max);
int zcmd_keys_store(int argc, karg_t *argv, int *idx, int max);
int zcmd_keys_bzmpop(int argc, karg_t *argv, int *idx, int max);

#endif
