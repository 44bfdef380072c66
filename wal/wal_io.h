/*
 * wal_io.h - fault hooks around the WAL thread's real I/O, and a ready-made fault plan.
 *
 * The writer always does its real I/O (pwrite and open/fallocate on the WAL thread, fdatasync
 * on the WAL thread for one copy in sync mode or on the copies' lane threads, see
 * wal/writer.c); a wal_io_t does not replace that path, it is
 * consulted around it, so the tests exercise the real code:
 *   - before_cb runs before an operation is submitted. It may lower op->len (the kernel then
 *     really writes fewer bytes: a short write the writer must continue) or return a negative
 *     errno, in which case nothing is submitted and the writer acts as if the kernel had
 *     returned that error.
 *   - after_cb runs when a completion arrives and returns the result the writer acts on (it
 *     may replace a success with -EIO, e.g. for a failed fdatasync).
 * Writes, opens and directory fsyncs are hooked on the WAL thread (or in wal_open for the first
 * segment); fdatasyncs on the WAL thread (inline) or the lane threads, which may run
 * concurrently for one copy when wal_lanes_per_copy > 1 (hooks must then be thread-safe).
 * Either may be NULL.
 */
#ifndef KEEL_WAL_IO_H
#define KEEL_WAL_IO_H

#include <stddef.h>
#include <stdint.h>

#include "wal.h"

typedef enum wal_io_kind {
    WAL_IO_OPEN = 1,    /* create a segment file (len = 0) */
    WAL_IO_WRITE = 2,   /* write len bytes at off */
    WAL_IO_FSYNC = 3,   /* fdatasync of a segment */
    WAL_IO_DIRSYNC = 4, /* fsync of the copy's directory */
} wal_io_kind_t;

typedef struct wal_io_op {
    int copy; /* index into wal_config_t.dirs */
    wal_io_kind_t kind;
    uint64_t off; /* file offset of a write */
    size_t len;   /* bytes of a write; before_cb may lower it (not to 0) */
} wal_io_op_t;

struct wal_io {
    void *ctx;
    int (*before_cb)(void *ctx, wal_io_op_t *op);
    int (*after_cb)(void *ctx, const wal_io_op_t *op, int res);
};

/* A fault plan per copy, for tests. All counters are per copy; 0 means "never". */
typedef struct wal_fault_copy {
    size_t short_write_max;    /* cap every write at this many bytes (short writes) */
    uint64_t write_fail_after; /* after this many bytes written, fail writes with write_errno */
    int write_errno;           /* EIO or ENOSPC (default EIO) */
    uint32_t fsync_fail_nth;   /* the n-th fdatasync (1-based) and later ones fail with EIO */
    uint32_t open_fail_nth;    /* the n-th segment creation fails with EIO */
    /* Torn record: the first write that crosses torn_at_bytes is cut there and every later
     * write fails with EIO, so the copy ends with a partial record at its tail. */
    uint64_t torn_at_bytes;
    /* Observed by the plan (read by tests): */
    uint64_t bytes_written;
    uint32_t writes, short_writes, fsyncs, opens;
} wal_fault_copy_t;

typedef struct wal_faults {
    wal_io_t io; /* pass &faults.io as wal_config_t.io */
    wal_fault_copy_t copy[WAL_COPIES_MAX];
} wal_faults_t;

/* Zero the plan and wire its hooks; then set fields of copy[i]. */
void wal_faults_init(wal_faults_t *f);

#endif
