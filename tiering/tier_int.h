/*
 * tier_int.h - what the files of tiering/ share: the request that travels from the owner to a
 * worker and back, the latency histogram, and the RocksDB glue (options, errors, directories).
 * Private to tiering/ and its unit tests (scripts/check-layers.sh).
 */
#ifndef KEEL_TIER_INT_H
#define KEEL_TIER_INT_H

#include <rocksdb/c.h>
#include <stddef.h>
#include <stdint.h>

#include "klock.h"
#include "tier.h"

/* The RocksDB key of an id: 8 bytes big-endian, so RocksDB's byte order is the ids' numeric
 * order and ids handed out in increasing order reach the LSM already sorted. */
#define TIER_KEY_LEN 8
static inline void
tier_key_encode(uint64_t id, char key[TIER_KEY_LEN]) {
    for (int i = TIER_KEY_LEN - 1; i >= 0; i--, id >>= 8)
        key[i] = (char)(id & 0xff);
}

/* ---- RocksDB glue (rdb.c) ---- */

/* A RocksDB error message as a status: "Result incomplete" (a write stall under no_slowdown) is
 * -EAGAIN, "No space left" -ENOSPC, "Corruption" KERR_CORRUPT, "Invalid argument" KERR_INVAL,
 * anything else -EIO. */
int tier_rdb_status(const char *msg);
/* Options of the tier's database from cfg (defaults filled in); *cache gets the block cache,
 * which the caller destroys after closing the database. */
rocksdb_options_t *tier_rdb_options(const tier_config_t *cfg, rocksdb_cache_t **cache);
/* Read-only options for a checkpoint reader: no block cache, no statistics thread. */
rocksdb_options_t *tier_rdb_reader_options(void);

/* Make dir ready for a new tier: create it, refuse a directory that is not a tier, lock it
 * (held in *lock for the tier's life), wipe it, write the marker. 0 or an error, with errbuf
 * saying why (nothing held then). */
int tier_dir_prepare(const char *dir, klock_t *lock, char *errbuf, size_t errlen);
/* Remove path and everything below it (no symlink is followed); 0 when path does not exist. */
int tier_rm_tree(const char *path);

#endif
