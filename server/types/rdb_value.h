/*
 * rdb_value.h - one value in the RDB encoding of Redis and Valkey, as DUMP and RESTORE carry it.
 *
 * A DUMP payload is
 *
 *   +-----------+----------------------+---------------------+------------------------------+
 *   | type: 1 B | value (RDB encoding) | RDB version: 2 B LE | CRC-64 Jones: 8 B LE          |
 *   +-----------+----------------------+---------------------+------------------------------+
 *
 * where the CRC (crc64.h) covers every byte before it, version included. The value encodings
 * are specified at the top of rdb_value.c (lengths, strings, the packed blobs).
 *
 * Reading: any RDB version from 1 to RDB_VERSION_READ_MAX (11: what Redis 7.0 and Valkey 8 write)
 * and RDB_VERSION_VALKEY9 (80: Valkey 9.0), every value type Keel has, in every encoding those
 * versions use, listed in rdb_value.c.
 * Payloads are untrusted: every length is checked against the bytes that remain before anything
 * is allocated, every packed blob is walked and checked whole, and a value that breaks a rule
 * (duplicate member, NaN score, empty collection, bytes left over) is refused.
 *
 * Writing: version RDB_VERSION_WRITE (9) with the plain encodings only (string, list, set, hash,
 * zset with binary scores: RDB types 0, 1, 2, 4, 5), which every reader since Redis 5.0 knows, so
 * a Keel payload RESTOREs into redis-server 5 to 7 and into every Valkey. Two values need more:
 * a stream is type 21 at version 11 (RDB_VERSION_STREAM_WRITE: Valkey 7.2+), a hash with field
 * expiries type 22 at version 80 (Valkey 9+); docs/dump.md says why. Strings longer than 20
 * bytes are LZF-compressed when that saves at least 4 bytes (as Redis does); integers that fit 32
 * bits use the integer encodings.
 */
#ifndef KEEL_RDB_VALUE_H
#define KEEL_RDB_VALUE_H

#include <stddef.h>
#include <stdint.h>

#include "object.h"
#include "sbuf.h"

#define RDB_VERSION_WRITE 9
/* Valkey 9's version (its first after 11; 12-79 are Redis' private ones): read, as the
 * encodings it writes are those of 11 plus RDB_TYPE_HASH_2, and written with RDB_TYPE_HASH_2. */
#define RDB_VERSION_VALKEY9 80
/* Streams are written as type 21 (consumers' active time), which needs RDB 11 (Valkey 7.2+). */
#define RDB_VERSION_STREAM_WRITE 11
#define RDB_VERSION_READ_MAX     11
#define RDB_TRAILER_BYTES        10 /* version (2) + CRC-64 (8) */

/* RDB type bytes (the first byte of a payload). */
enum {
    RDB_TYPE_STRING = 0,
    RDB_TYPE_LIST = 1,
    RDB_TYPE_SET = 2,
    RDB_TYPE_ZSET = 3,
    RDB_TYPE_HASH = 4,
    RDB_TYPE_ZSET_2 = 5,
    RDB_TYPE_MODULE_PRE_GA = 6,
    RDB_TYPE_MODULE_2 = 7,
    RDB_TYPE_HASH_ZIPMAP = 9,
    RDB_TYPE_LIST_ZIPLIST = 10,
    RDB_TYPE_SET_INTSET = 11,
    RDB_TYPE_ZSET_ZIPLIST = 12,
    RDB_TYPE_HASH_ZIPLIST = 13,
    RDB_TYPE_LIST_QUICKLIST = 14,
    RDB_TYPE_STREAM_LISTPACKS = 15,
    RDB_TYPE_HASH_LISTPACK = 16,
    RDB_TYPE_ZSET_LISTPACK = 17,
    RDB_TYPE_LIST_QUICKLIST_2 = 18,
    RDB_TYPE_STREAM_LISTPACKS_2 = 19,
    RDB_TYPE_SET_LISTPACK = 20,
    RDB_TYPE_STREAM_LISTPACKS_3 = 21,
    RDB_TYPE_HASH_2 = 22, /* Valkey 9 (RDB 80): a hash with field expiries */
};

/* Checks a whole payload's trailer: 0 and *body_len (the bytes before the trailer, type byte
 * included); KERR_VERSION when its RDB version is 0 or above RDB_VERSION_READ_MAX and not
 * RDB_VERSION_VALKEY9; KERR_CORRUPT
 * when it is shorter than a trailer or its checksum is wrong. *version gets the version read
 * (when the payload is long enough) if version is not NULL. */
int rdb_payload_check(const void *payload, size_t len, size_t *body_len, unsigned *version);

/* Decodes a payload body (type byte and value, no trailer) into a new object under key with
 * expiry expire_ms (-1: none) and a zero access field: 0 and *out; KERR_CORRUPT (malformed,
 * bytes left over, or a value the type refuses: duplicate member, NaN score, empty),
 * KERR_INVAL (a type Keel does not have: module values). *why, when not
 * NULL, gets a static text saying what was wrong. */
int rdb_value_decode(const void *body, size_t len, const char *key, size_t klen, int64_t expire_ms,
                     kobj_t **out, const char **why);

/* Appends the whole DUMP payload of o (type, value, version RDB_VERSION_WRITE, CRC) to out.
 * 0, or KERR_INVAL for an object this writer has no encoding for (a tiered stub: the caller
 * fetches the value first; a type added later without an RDB form). */
int rdb_value_dump(const kobj_t *o, sbuf_t *out);

#endif
