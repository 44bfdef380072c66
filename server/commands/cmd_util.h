/*
 * cmd_util.h - small helpers the command groups share: key lookups for reads and writes, SCAN
 * cursors and the count arguments of the random-pick commands.
 *
 * They exist so that each group does these the same way (statistics, events and error texts
 * included) instead of carrying its own copy; nothing here is specific to one data type.
 */
#ifndef KEEL_CMD_UTIL_H
#define KEEL_CMD_UTIL_H

#include <stdbool.h>

#include "client.h"
#include "db.h"
#include "object.h"

/* A read lookup as Valkey's lookupKeyRead: counts a keyspace hit or miss, sends "keymiss" on a
 * miss; the access time is updated unless the client is in CLIENT NO-TOUCH mode (db.c knows it
 * through db_set_touch_enabled). NULL when absent. */
kobj_t *cmd_lookup_read(client_t *c, const karg_t *key);

/* A write lookup as Valkey's lookupKeyWrite: lazy expiry, the access time updated (a key that
 * is written is not idle for LRU/LFU eviction), no statistics. */
static inline kobj_t *
cmd_lookup_write(client_t *c, const karg_t *key) {
    return db_lookup(c->db, key->p, key->n, 0);
}

/* A read lookup of a key that must hold `type` (the hash, set and sorted-set commands): as
 * cmd_lookup_read, then the type check. NULL when absent, or when of another type: then *bad is
 * set and WRONGTYPE was replied. */
kobj_t *cmd_lookup_read_type(client_t *c, const karg_t *key, int type, bool *bad);

/* A SCAN cursor as Valkey reads it with strtoull, which also takes a sign ("-1" wraps to
 * 2^64 - 1: some clients start or probe with it). False when not a number. */
bool cmd_parse_cursor(const karg_t *a, unsigned long long *cursor);

/* The arguments after the key of HRANDFIELD/ZRANDMEMBER key [count [with_word]] (argc >= 3):
 * the count (LLONG_MIN refused: its negation is the number of picks) and whether with_word
 * ("withvalues", "withscores") was given, which bounds |count| to LLONG_MAX / 2 because each
 * pick replies two elements. Replies and returns false on a bad argument. */
bool cmd_parse_rand_count(client_t *c, const char *with_word, long long *count, bool *with);

#endif
