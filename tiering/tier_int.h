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

/* ---- latency histogram (hist.c) ----
 * Log buckets: values below TIER_HIST_SUB are exact; above, each power of two is cut into
 * TIER_HIST_SUB equal buckets, so a quantile is within 1/TIER_HIST_SUB of the true value. One
 * writer (the owner thread); 4 KiB. */
#define TIER_HIST_SUB_BITS 3
#define TIER_HIST_SUB      (1u << TIER_HIST_SUB_BITS)
#define TIER_HIST_BUCKETS  ((64 - TIER_HIST_SUB_BITS + 1) * TIER_HIST_SUB)
typedef struct tier_hist {
    uint64_t count, max;
    uint64_t bucket[TIER_HIST_BUCKETS];
} tier_hist_t;
void tier_hist_add(tier_hist_t *h, uint64_t v);
/* The value at quantile q (0 < q <= 1): the upper bound of its bucket, capped at the maximum
 * seen; 0 when empty. */
uint64_t tier_hist_quantile(const tier_hist_t *h, double q);

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
