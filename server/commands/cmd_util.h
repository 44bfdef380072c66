/*
 * cmd_util.h - small helpers the command groups share: key lookups for reads and writes, SCAN
 * cursors and the count arguments of the random-pick commands.
 *
 * They exist so that each group does these the same way (statistics, events and error texts
 * included) instead of carrying its own copy; nothing here is specific to one data type.
 */
#ifndef KEEL_CMD_UTIL_H
#define KEEL_CMD_UTIL_H

#include <limits.h>
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

/* The NX / XX / GT / LT conditions of EXPIRE and its kin, and of HEXPIRE and its kin. */
enum { EXPIRE_NX = 1, EXPIRE_XX = 2, EXPIRE_GT = 4, EXPIRE_LT = 8 };
/* argv[from, to) as conditions into *flags; replies (Valkey's texts) and returns -1 on an
 * unknown word or an incompatible pair. */
int cmd_expire_cond_parse(client_t *c, int from, int to, int *flags);
/* Whether the conditions let the new expiry `when` replace `cur` (-1: none, which counts as an
 * infinite TTL for GT and LT). */
bool cmd_expire_cond_allows(int flags, int64_t cur, long long when);

/* A SCAN cursor as Valkey reads it with strtoull, which also takes a sign ("-1" wraps to
 * 2^64 - 1: some clients start or probe with it). False when not a number. */
bool cmd_parse_cursor(const karg_t *a, unsigned long long *cursor);

/* The options of SCAN, HSCAN, SSCAN and ZSCAN, parsed the same way for all four. */
enum {
    CMD_SCAN_TYPE = 1 << 0,     /* TYPE type (SCAN) */
    CMD_SCAN_NOVALUES = 1 << 1, /* NOVALUES (HSCAN) */
    CMD_SCAN_NOSCORES = 1 << 2, /* NOSCORES (ZSCAN) */
};
typedef struct cmd_scan_opts {
    const karg_t *match; /* NULL: none, or "*" */
    const karg_t *type;  /* NULL: none */
    long long count;     /* 10 unless given; at most CMD_SCAN_COUNT_MAX */
    bool no_values;      /* NOVALUES or NOSCORES */
} cmd_scan_opts_t;
/* COUNT is clamped to this, so the bound on visited buckets, count * 10, cannot overflow. */
#define CMD_SCAN_COUNT_MAX (LLONG_MAX / 10)
/* Options from argv[from] on: MATCH, COUNT (an integer >= 1) and the words in `allow`.
 * Replies and returns false on a bad one. */
bool cmd_parse_scan_options(client_t *c, int from, unsigned allow, cmd_scan_opts_t *o);

/* The numkeys argument at argv[at] of LMPOP, ZMPOP, SINTERCARD, ...: an integer from 1 to the
 * number of arguments after it, else `nonpos_err` (not a positive integer) or a syntax error
 * (more keys than arguments) is replied and false returned. Checked before any arithmetic on
 * it, so "9223372036854775807" cannot overflow a position. */
bool cmd_parse_numkeys(client_t *c, int at, const char *nonpos_err, long long *numkeys);

/* The arguments after the key of HRANDFIELD/ZRANDMEMBER key [count [with_word]] (argc >= 3):
 * the count (LLONG_MIN refused: its negation is the number of picks) and whether with_word
 * ("withvalues", "withscores") was given, which bounds |count| to LLONG_MAX / 2 because each
 * pick replies two elements. Replies and returns false on a bad argument. */
bool cmd_parse_rand_count(client_t *c, const char *with_word, long long *count, bool *with);

#endif
