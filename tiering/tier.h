/*
 * tier.h - the value tier: opaque values on SSD in RocksDB, keyed by a 64-bit id, put, fetched
 * and deleted by worker threads, with results handed back to one owner thread (the server's
 * main thread) through a completion queue and an eventfd. docs/tiering.md describes the module
 * and the proposed server integration; the design, invariants and op state diagram are at the
 * top of tiering/tier.c.
 *
 * What the tier is: a place to keep values, never a source of truth. RocksDB's own WAL is off
 * and nothing is fsynced for durability: tier_open() wipes the directory, because after a crash
 * the owner rebuilds everything from its own log and snapshots.
 *
 * Threads. tier_open(), tier_close(), tier_put(), tier_get(), tier_del(), tier_poll(),
 * tier_fd(), tier_checkpoint(), tier_get_stats(), tier_reset_stats() and tier_info_rocksdb() are
 * called by one owner thread only; the done callback runs on that thread, inside tier_poll() or
 * tier_close(). The fault hook runs on the worker threads. The reader (tier_reader_*) needs no
 * tier_t and is safe from several threads at once: it is what a forked snapshot child uses.
 *
 * Ordering. Operations on different ids are unordered (gets are served before queued writes,
 * and several workers run at once). On one id the owner keeps this protocol, which the server
 * integration follows naturally: an id is put once and never reused; tier_del(id) only after
 * the put of id completed with status 0; tier_get(id) only after that too. A get may race a
 * del of the same id and then report KERR_NOTFOUND (the owner re-checks its stub on completion).
 *
 * Nothing here includes server headers.
 */
#ifndef KEEL_TIER_H
#define KEEL_TIER_H

#include <stddef.h>
#include <stdint.h>

#include "sbuf.h"

typedef struct tier tier_t;
typedef struct tier_reader tier_reader_t;

#define TIER_THREADS_MAX           64
#define TIER_THREADS_DEFAULT       4
#define TIER_PUT_QUEUE_MAX_DEFAULT 256           /* puts in flight */
#define TIER_PUT_BYTES_MAX_DEFAULT (64ull << 20) /* value bytes of the puts in flight */
#define TIER_OP_QUEUE_MAX_DEFAULT  65536         /* every op in flight: a stalled disk's ceiling */
#define TIER_BLOCK_CACHE_DEFAULT   (64ull << 20)
#define TIER_WRITE_BUFFER_DEFAULT  (16ull << 20)  /* one memtable; up to 3 exist */
#define TIER_VALUE_MAX             (512ull << 20) /* proto-max-bulk-len's default */
#define TIER_MARKER_FILE           "KEEL-TIER"    /* what lets tier_open() wipe a directory */

typedef enum tier_op {
    TIER_OP_PUT = 1,
    TIER_OP_GET = 2,
    TIER_OP_DEL = 3,
} tier_op_t;

typedef enum tier_compression {
    TIER_COMPRESS_LZ4 = 0, /* the default: ~free on incompressible values (docs/tiering.md) */
    TIER_COMPRESS_NONE = 1,
    TIER_COMPRESS_ZSTD = 2,
    TIER_COMPRESS_SNAPPY = 3,
} tier_compression_t;

/* One finished operation, handed to the done callback by tier_poll() or tier_close(). */
typedef struct tier_result {
    tier_op_t op;
    uint64_t id;
    void *cookie; /* as passed to tier_put/get/del */
    /* 0; KERR_NOTFOUND: a get of an id the tier does not hold; -ECANCELED: tier_close() took
     * the op off its queue before a worker ran it; -EAGAIN: a put refused by RocksDB's write
     * stall (flush or compaction behind: keep the value in memory, try later); any other
     * negative value: a RocksDB error or an injected fault, described by errmsg. */
    int status;
    const char *errmsg; /* NULL when status is 0 or KERR_NOTFOUND; valid during the callback */
    /* A get with status 0: the value, allocated with kmalloc() (counted in used_memory). The
     * tier frees it after the callback returns, unless the callback takes it: it keeps the
     * pointer and sets res->value to NULL, and kfree()s it later. NULL for every other result. */
    void *value;
    size_t len;          /* put: the value's length; get: the fetched length; del: as passed */
    uint64_t latency_us; /* from the submit call to the end of the RocksDB call */
} tier_result_t;

typedef void (*tier_done_cb)(void *ctx, tier_result_t *res);

/* Test hook, compiled in always: called on a worker before each RocksDB call. Return 0 to let
 * it run, or a negative KERR_* / -errno that the op then completes with (errmsg "injected
 * fault"). It may block (tests stall the workers with it). NULL in production: one branch. */
typedef int (*tier_fault_cb)(void *ctx, tier_op_t op, uint64_t id);

typedef struct tier_config {
    const char *dir;            /* created if missing (not its parents); wiped at open, see below */
    int threads;                /* worker threads, 1..TIER_THREADS_MAX; 0 = TIER_THREADS_DEFAULT */
    uint32_t put_queue_max;     /* puts in flight (submitted, not yet delivered); 0 = default */
    uint64_t put_bytes_max;     /* their value bytes (the tier holds a copy); 0 = default */
    uint32_t op_queue_max;      /* all ops in flight; 0 = TIER_OP_QUEUE_MAX_DEFAULT */
    int use_direct_reads;       /* 1: gets read SST files with O_DIRECT, bypassing the page cache */
    uint64_t block_cache_bytes; /* RocksDB's block cache; 0 = default */
    tier_compression_t compression;
    uint64_t write_buffer_bytes; /* memtable size; 0 = default */
    int bloom_bits_per_key;      /* 0: no Bloom filter (the default: docs/tiering.md) */
    tier_done_cb done;           /* required: receives every result, on the owner thread */
    void *done_ctx;
    tier_fault_cb fault; /* tests only; NULL = none */
    void *fault_ctx;
} tier_config_t;

/* Open a tier in cfg->dir with cfg->threads workers. The directory is created if missing; when
 * it exists it must be empty, or hold only keel.lock, or hold the TIER_MARKER_FILE an earlier
 * tier_open wrote: then everything in it is removed (a tier is never trusted after a restart).
 * Any other directory is refused with KERR_EXISTS, so a mistyped path never loses data. The
 * directory is locked (keel.lock, common/klock.h) while the tier is open: KERR_BUSY when another
 * process holds it. RocksDB's files go in <dir>/db. On failure errbuf says why. */
int tier_open(const tier_config_t *cfg, tier_t **out, char *errbuf, size_t errlen);

/* Stop: ops still queued are cancelled (no worker runs them), ops running finish, then every
 * result not yet delivered (finished ones with their status, cancelled ones with -ECANCELED)
 * goes to the done callback, in this call, before the tier is freed. So every submitted op
 * gets exactly one result, and nothing leaks. The memtable is dropped, not flushed. */
void tier_close(tier_t *t);

/* The eventfd to watch for reading (EPOLLIN): readable when results wait for tier_poll(). */
int tier_fd(const tier_t *t);

/* Deliver up to max waiting results (0 = all) to the done callback; returns how many. Reads
 * the eventfd, so call it when the fd is readable, or at any time (it never blocks). */
int tier_poll(tier_t *t, unsigned max);

/* Submit an operation; its result comes later through tier_poll(). 0, or (nothing submitted,
 * no result will come):
 *   KERR_LIMIT  the queue bound: for a put, put_queue_max puts or put_bytes_max bytes in flight
 *               (the caller keeps the value in memory); for any op, op_queue_max ops in flight
 *   KERR_INVAL  a put of more than TIER_VALUE_MAX bytes
 *   KERR_FAILED from a done callback that tier_close() runs: the tier takes nothing more
 * tier_put copies the value, so the caller's buffer is free again on return. del's len is the
 * value's length as put (the caller's stub keeps it): it feeds the live-bytes figure only. */
int tier_put(tier_t *t, uint64_t id, const void *value, size_t len, void *cookie);
int tier_get(tier_t *t, uint64_t id, void *cookie);
int tier_del(tier_t *t, uint64_t id, size_t len, void *cookie);

/* A RocksDB checkpoint of the tier in path (must not exist; same file system as the tier, its
 * SST files are hard links), holding every put whose result tier_poll() has delivered: the
 * memtable is flushed first, so this waits for a flush (docs/tiering.md has the cost). Called
 * by the owner just before it forks a snapshot child; workers go on meanwhile. */
int tier_checkpoint(tier_t *t, const char *path, char *errbuf, size_t errlen);
/* Remove a checkpoint directory and everything in it; 0 when it does not exist. */
int tier_checkpoint_remove(const char *path);

/* A read-only view of a checkpoint, for a forked snapshot child: it uses no thread and no lock
 * of the parent's tier. tier_reader_get is safe from several threads at once. docs/tiering.md
 * says where to open it (best: in the parent, just before the fork). A forked child does not
 * call tier_reader_close: it _exit()s (reader.c says why). */
int tier_reader_open(const char *path, tier_reader_t **out, char *errbuf, size_t errlen);
/* 0 with *value (kmalloc'd, the caller kfree()s it) and *len; KERR_NOTFOUND; or an error. */
int tier_reader_get(tier_reader_t *r, uint64_t id, void **value, size_t *len, char *errbuf,
                    size_t errlen);
void tier_reader_close(tier_reader_t *r);

typedef struct tier_stats {
    /* Counted when results are delivered: ok ops, their value bytes, failures (status < 0 other
     * than NOTFOUND and cancelled), and submits refused by a bound (KERR_LIMIT). */
    uint64_t puts, put_bytes, put_failures, put_stalls, put_refused;
    uint64_t gets, get_bytes, get_misses, get_failures, get_refused;
    uint64_t dels, del_failures, del_refused;
    uint64_t cancelled;
    /* Values the tier holds: puts minus dels that succeeded (exact under the ordering protocol
     * above), and their bytes as put. */
    uint64_t live_keys, live_bytes;
    /* Queue depths: submitted and not yet delivered. */
    uint32_t inflight_ops, inflight_puts, inflight_ops_peak;
    uint64_t inflight_put_bytes;
    uint32_t queued_gets, queued_writes; /* not yet taken by a worker */
    /* Get latency (submit to end of the RocksDB call) and the RocksDB call alone, in us, from a
     * log-bucket histogram (within 1/8 of the true value); 0 when no get was made. */
    uint64_t get_latency_p50_us, get_latency_p99_us, get_latency_max_us;
    uint64_t get_service_p50_us, get_service_p99_us;
    uint64_t put_latency_p50_us, put_latency_p99_us;
    uint64_t checkpoints, checkpoint_last_us;
    int threads, use_direct_reads;
} tier_stats_t;
void tier_get_stats(const tier_t *t, tier_stats_t *st);
/* Zero the counters and histograms (CONFIG RESETSTAT); live and in-flight figures stay. */
void tier_reset_stats(tier_t *t);

/* Append RocksDB's own figures as INFO lines "tiering_rocksdb_<name>:<value>\r\n": live data,
 * SST bytes, memtables, block cache, table readers, pending compaction, stalls, errors. */
void tier_info_rocksdb(tier_t *t, sbuf_t *out);

#endif
