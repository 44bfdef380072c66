/*
 * zero.h - the zeroer: one background thread that zero-writes each log copy's current segment
 * a little ahead of the writer, so the writer's fdatasync finds written (not "unwritten")
 * extents and does not have to commit an extent conversion. The rules and the measurements are
 * at the top of wal/zero.c.
 *
 * Threads: wal_zeroer_segment(), wal_zeroer_claim() and wal_zeroer_drop() for one copy are
 * called by whoever writes that copy (the WAL thread); any thread may call them, they take one
 * mutex. wal_zeroer_start() and wal_zeroer_stop() by the owner. Every function accepts
 * z == NULL and then does nothing, so a writer with zeroing off needs no branches.
 */
#ifndef KEEL_WAL_ZERO_H
#define KEEL_WAL_ZERO_H

#include <stdint.h>

typedef struct wal_zeroer wal_zeroer_t;

typedef struct wal_zeroer_stats {
    uint64_t chunks;       /* chunks zero-written and fdatasynced */
    uint64_t bytes;        /* their bytes */
    uint64_t writer_waits; /* claims that had to wait for a chunk in progress */
    uint64_t failures;     /* segments whose zeroing stopped on an error or was not possible */
} wal_zeroer_stats_t;

#define WAL_ZEROER_CHUNK_BYTES_MIN 4096ull
#define WAL_ZEROER_CHUNK_BYTES_MAX (64ull << 20)

/* Start the thread. chunk_bytes: the zeroing unit, a power of two in
 * [WAL_ZEROER_CHUNK_BYTES_MIN, WAL_ZEROER_CHUNK_BYTES_MAX] (1 MiB in production); ahead_bytes:
 * how far past the writer's data end to keep zeroed, >= chunk_bytes (8 MiB in production).
 * Returns 0, KERR_INVAL for bad sizes, KERR_NOMEM, or a system error from pthread_create. */
int wal_zeroer_start(wal_zeroer_t **out, uint64_t chunk_bytes, uint64_t ahead_bytes);

/* Stop the thread (it finishes at most the chunk in progress), close every fd, free. */
void wal_zeroer_stop(wal_zeroer_t *z);

/* Copy ci (0..WAL_COPIES_MAX-1) now writes segment `name` in directory dirfd. The zeroer opens
 * its own fd with openat(dirfd, name, O_WRONLY|O_DIRECT|O_CLOEXEC) right here, in the caller's
 * thread, so it never uses dirfd after this returns. size = segment size (the file was
 * fallocated to it), end = where the data currently ends (<= size). Replaces the copy's
 * previous segment: a chunk in progress on it is finished in the background and forgotten,
 * and claims on the new segment never wait for it. Never fails: when zeroing is impossible
 * (O_DIRECT refused, tmpfs) the copy is simply not zeroed and stats.failures counts it. */
void wal_zeroer_segment(wal_zeroer_t *z, int ci, int dirfd, const char *name, uint64_t size,
                        uint64_t end);

/* The writer is about to write [off, off+len) of copy ci's current segment. Blocks while a
 * zeroing chunk in progress overlaps that range; records off+len as the new data end (it
 * never moves back), so no zeroing ever touches [0, off+len) afterwards. One mutex and no
 * allocation when nothing overlaps; wakes the thread when a new chunk became due. */
void wal_zeroer_claim(wal_zeroer_t *z, int ci, uint64_t off, uint64_t len);

/* Copy ci failed or closed: stop zeroing it and close its fd (at once, or when the thread
 * finishes the chunk it is writing; drop never waits for it). */
void wal_zeroer_drop(wal_zeroer_t *z, int ci);

void wal_zeroer_get_stats(wal_zeroer_t *z, wal_zeroer_stats_t *st);

/* Tests and measurements only. Read by wal_zeroer_start() (the flags) and by the thread (the
 * callback); set it before start. chunk_cb runs on the zeroer thread, outside the mutex, while
 * the chunk [off, off+len) of copy ci is in progress and before it is written: it may sleep
 * (to make a chunk slow enough to observe) or return a negative errno, which is then taken as
 * that chunk's write error (fault injection). */
typedef struct wal_zeroer_test {
    int (*chunk_cb)(void *ctx, int ci, uint64_t off, uint64_t len);
    void *ctx;
    int sync_io;     /* 1: write chunks with pwritev instead of io_uring (the fallback path) */
    int no_prefetch; /* 1: do not read zeroed chunks into the page cache */
} wal_zeroer_test_t;
extern wal_zeroer_test_t wal_zeroer_test;

#endif
