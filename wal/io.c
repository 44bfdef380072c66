/*
 * io.c - the ready-made fault plan for tests (wal_faults_t, see wal/wal_io.h).
 *
 * The plan only decides; the writer still does the real I/O (pwrite on the WAL thread, fdatasync
 * on a lane thread). A short write is made real by lowering the length the kernel is asked for,
 * so the writer's continuation path runs against the real file; errors are injected by refusing
 * an op before it is issued (write, open) or by replacing its result (fdatasync), as a failing
 * disk would.
 */
#include "wal_io.h"

#include <errno.h>
#include <string.h>

static int
faults_before_cb(void *ctx, wal_io_op_t *op) {
    wal_faults_t *f = ctx;
    wal_fault_copy_t *c = &f->copy[op->copy];
    int werr = c->write_errno ? c->write_errno : EIO;
    switch (op->kind) {
    case WAL_IO_OPEN:
        c->opens++;
        return c->open_fail_nth && c->opens >= c->open_fail_nth ? -EIO : 0;
    case WAL_IO_WRITE:
        c->writes++;
        if (c->torn_at_bytes && c->bytes_written >= c->torn_at_bytes)
            return -EIO; /* the disk is gone after the torn write */
        if (c->torn_at_bytes && c->bytes_written + op->len > c->torn_at_bytes)
            op->len = (size_t)(c->torn_at_bytes - c->bytes_written);
        if (c->write_fail_after && c->bytes_written + op->len > c->write_fail_after)
            return -werr;
        if (c->short_write_max && op->len > c->short_write_max) {
            op->len = c->short_write_max;
            c->short_writes++;
        }
        c->bytes_written += op->len;
        return 0;
    case WAL_IO_FSYNC: /* the torn write itself is synced: the partial record is on disk */
    case WAL_IO_DIRSYNC: return 0;
    }
    return 0;
}

static int
faults_after_cb(void *ctx, const wal_io_op_t *op, int res) {
    wal_faults_t *f = ctx;
    wal_fault_copy_t *c = &f->copy[op->copy];
    if (op->kind != WAL_IO_FSYNC)
        return res;
    /* Lanes of one copy complete fdatasyncs concurrently (writer.c): count atomically. */
    uint32_t nth = __atomic_add_fetch(&c->fsyncs, 1, __ATOMIC_RELAXED);
    if (c->fsync_fail_nth && nth >= c->fsync_fail_nth)
        return -EIO;
    return res;
}

void
wal_faults_init(wal_faults_t *f) {
    memset(f, 0, sizeof *f);
    f->io.ctx = f;
    f->io.before_cb = faults_before_cb;
    f->io.after_cb = faults_after_cb;
}
