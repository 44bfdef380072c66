/*
 * writer.c - the log writer: records staged by wal_append() on the owner (main) thread, the WAL
 * thread that writes them to every copy, and the fdatasyncs that make them durable.
 *
 * Buffers. wal_append() encodes records into the owner's staging chunk without a lock;
 * wal_submit() moves the chunk onto the queue (under `mu`, no copy) and takes a free chunk.
 * The WAL thread takes the whole queue, writes it, and gives the chunks back. So a batch is
 * everything submitted since the previous batch was taken (group commit), and wal_submit()
 * waits on `space` while buffer_bytes_max bytes are queued (back-pressure). The server submits
 * once per event-loop turn (and wal_append every WAL_SUBMIT_BYTES): a batch is what a turn
 * produced, so a burst of clients read in one turn shares one fdatasync instead of the first
 * client's record taking an fdatasync of its own while the rest wait for the next.
 *
 * Inline mode (one copy, sync mode: the default). The WAL thread takes the queue, pwrites it,
 * runs the fdatasync itself, publishes the durable LSN and writes the eventfd; appends that
 * arrive meanwhile form the next batch. One wake-up per batch at most (main -> WAL thread,
 * only when it sleeps) plus the eventfd back, and no thread sitting between the two. On 2
 * cores shared with the clients that measured better than handing the fdatasync to a lane
 * (docs/durability.md): the CPU, not the disk, is what runs out.
 *
 * Lanes (several copies, or async mode). Per healthy copy:
 *
 *   WAL:   take queue, pwrite(batch) --> c->written_lsn = c->sync_to = last LSN, wake a lane
 *   lane:  unit {target = sync_to} -> fdatasync(fd) -> unit done
 *          -> c->durable_lsn = target of the oldest units that are all done, in dispatch order
 *          -> wal durable LSN = the quorum-th highest c->durable_lsn of the healthy copies
 *          -> eventfd (the main thread releases parked replies)
 *
 * so copies sync in parallel and a slow copy does not hold the quorum back. The WAL thread
 * does not wait for a fdatasync (except at a segment cut and a barrier, below). A unit is an
 * fdatasync that started after every pwrite through its target had returned, so it covers them
 * all. Up to LANES_MAX units per copy are in flight (one per lane); when both lanes are busy
 * the batches written meanwhile are covered by the next unit a lane starts (it takes the newest
 * sync_to). Inline mode runs the same unit code (lane_step_locked) on the WAL thread.
 * Syscalls instead of io_uring: io_uring always runs fdatasync in an io-wq worker thread, so
 * it bought no asynchrony over a thread of our own but cost one more wake-up per batch;
 * measured in docs/durability.md.
 *
 * Zeroing. Segments are fallocated, and the zeroer (zero.c) zero-writes them ahead of the data,
 * so fdatasync finds written extents and commits no extent conversion (~100 instead of ~170
 * us here). write_all() claims each range from the zeroer before writing it (Z1 in zero.c).
 *
 * Invariants (numbered as in docs/formats/wal.md):
 *   I5  A copy's durable LSN only advances to the target of a unit when that unit and every
 *       unit dispatched before it on that copy succeeded (completion order does not matter),
 *       and the log's durable LSN is the quorum-th highest durable LSN of the healthy copies:
 *       every LSN at or below it is durable on a quorum. It never decreases and never passes
 *       the last appended LSN (ASSERTed). A failed unit fails the copy (I6) even when a later
 *       unit of it succeeded: Linux may report a writeback error to one fdatasync only.
 *   I4  The first record written after every healthy copy synced everything written before it
 *       is flagged WAL_REC_AFTER_SYNC. Pipelining keeps syncs in flight under load, so in sync
 *       mode the WAL thread drains the lanes (a barrier) once BARRIER_BYTES_MAX bytes were
 *       written without a flagged record: damage more than that far from the end of the log is
 *       always recognised as corruption rather than a torn tail.
 *   I7  A new segment is created, its header written and its directory fsynced by the WAL
 *       thread before any record goes into it; the lanes' next fdatasync covers the header.
 *       Before a cut the WAL thread drains the lanes, so no lane uses the old fd.
 *
 * Ownership: c->fd is replaced only by the WAL thread, under mu, while no unit of that copy is
 * in flight; a lane copies it under mu when it starts a unit. A failed copy's fd is closed by
 * the WAL thread once no lane is inside fdatasync on it (reap_failed).
 *
 * State of a copy:  OK --copy_fail_locked(): write, fdatasync, create error--> FAILED
 *                   (no more writes or units; fd closed by reap_failed)
 * State of the log: OK --(copy failures leave < quorum)--> log_fail_locked() --> FAILED
 *                   (wal_append() returns KERR_QUORUM, the notify fd fires)
 */
#include "wal_int.h"
#include "wal_io.h"
#include "zero.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kassert.h"
#include "kerr.h"
#include "kmem.h"

#define LANES_MAX         2    /* fdatasyncs in flight per copy, at most */
#define LAT_RING_MAX      1024 /* fsync latencies kept for the percentiles */
#define SEGLIST_MAX       (1u << 20)
#define WRITE_BYTES_MAX   (1u << 30)   /* one pwrite */
#define BARRIER_BYTES_MAX (1u << 20)   /* sync mode: most bytes between two AFTER_SYNC records */
#define WAL_SUBMIT_BYTES  (16u << 10)  /* wal_append hands staged records over past this */
#define ZERO_CHUNK_BYTES  (256u << 10) /* zeroer unit: 1 MiB chunks stalled appends (zero.c) */
#define ZERO_AHEAD_BYTES  (8u << 20)   /* zero-written room kept ahead of the data */
static_assert(LANES_MAX >= 1, "at least one lane per copy");

int wal_lanes_per_copy = 0; /* see wal_int.h */

typedef struct wal_buf {
    uint8_t *data;
    uint64_t len, cap;
    uint64_t first_lsn, last_lsn; /* records held: [first_lsn, last_lsn] when len > 0 */
    uint64_t epoch;               /* non-zero: its records begin this epoch (wal_begin_epoch) */
    struct wal_buf *next;         /* on the queue or the free list */
} wal_buf_t;

#define FREE_CHUNKS_MAX 8 /* chunks kept for reuse; more are freed */

/* One fdatasync of a copy, from its dispatch by a lane to its completion. */
typedef struct sync_unit {
    uint64_t target; /* every record through this LSN was written before the fdatasync began */
    int done;        /* the fdatasync succeeded */
} sync_unit_t;

/* One copy. Fields marked "mu" are guarded by wal_t.mu. */
typedef struct wal_copy {
    char dir[WAL_PATH_MAX];
    struct wal *w;
    int index;
    int dirfd;                   /* WAL thread (and wal_open) */
    int fd;                      /* mu: current segment, -1 when none (see Ownership) */
    int ok;                      /* mu: 1 until copy_fail_locked() */
    char reason[WAL_REASON_MAX]; /* mu: why it failed */
    uint64_t seg_first_lsn;      /* mu: first LSN of the segment fd belongs to (for reasons) */
    uint64_t written_lsn;        /* mu: records through here were written to fd */
    uint64_t written_off;        /* mu: end of the written data in the segment */
    uint64_t sync_to;            /* mu: lanes fdatasync through here (<= written_lsn) */
    uint64_t dispatched;         /* mu: target of the newest unit handed to a lane */
    uint64_t durable_lsn;        /* mu: every unit through here succeeded, in order */
    sync_unit_t unit[LANES_MAX]; /* mu: units in flight, in dispatch order from uhead */
    int uhead, nunits;           /* mu */
    int busy;                    /* mu: lanes inside fdatasync on fd */
    pthread_cond_t lane_cv;      /* lanes wait here for sync_to to move */
    pthread_t lane[LANES_MAX];
    int nlanes; /* lane threads started */
} wal_copy_t;

struct wal {
    wal_config_t cfg; /* normalised copy; dirs point into copy[].dir */
    const char *dirs[WAL_COPIES_MAX];
    int ncopies, quorum;
    int lanes; /* lane threads per copy, 0..LANES_MAX; 0 = inline: the WAL thread runs the
                  fdatasync itself right after the write (one copy, sync mode) */
    wal_copy_t copy[WAL_COPIES_MAX];
    wal_io_t *io;
    wal_zeroer_t *zeroer; /* NULL: segments are only fallocated */
    pthread_t thread;
    int efd; /* eventfd for the main thread */

    /* What wal_append touches per record, on a cache line of its own: it shared one with the
     * fields the WAL thread writes per batch, and every append then waited for the line to
     * come back from the other core (~10 % of the main thread at pipeline 16, measured). */
    _Alignas(64) wal_buf_t *stage; /* owner thread only: records not yet submitted; NULL = none */
    _Atomic uint64_t last_lsn;     /* written by wal_append (owner), read by others */
    _Atomic int healthy;           /* read per append; written once, when the log fails */

    _Alignas(64) pthread_mutex_t mu;
    pthread_cond_t work;      /* WAL thread waits for appends / stop / sync requests */
    pthread_cond_t space;     /* wal_append waits for buffer space */
    pthread_cond_t drained;   /* WAL thread waits for the lanes to catch up */
    wal_buf_t *qhead, *qtail; /* mu: submitted chunks, oldest first */
    uint64_t queued;          /* mu: bytes on the queue */
    wal_buf_t *free_chunks;   /* mu: empty chunks for wal_submit to take */
    int nfree;                /* mu */
    int stop, lanes_stop, sync_requested, thread_idle; /* guarded by mu */
    _Atomic uint64_t durable_lsn;                      /* written under mu by lanes */
    char failure[2 * WAL_REASON_MAX];                  /* set once, before healthy drops to 0 */

    /* WAL thread state (written_lsn and sync_req_lsn also read by others under mu) */
    uint64_t seg_first_lsn, seg_off; /* current segment and where the next record goes */
    wal_seg_hdr_t hdr;
    uint8_t dataset_id[WAL_DATASET_ID_SIZE]; /* stamped into new segments (identity_resolve) */
    uint64_t epoch;
    uint64_t owner_epoch;         /* the owner thread's: the epoch of what it appends */
    _Atomic uint64_t written_pub; /* written_lsn, for wal_written_lsn() without the lock */
    _Atomic int notify_written;   /* wal_notify_written(): the eventfd also on writes */
    uint64_t written_lsn;         /* mu: records through here were written to every healthy copy */
    uint64_t sync_req_lsn;        /* mu: a sync through here was requested (async mode, drains) */
    uint64_t barrier_bytes;       /* bytes written since the last AFTER_SYNC record */
    struct timespec last_sync;

    /* segments of the live log, for wal_retire_before; guarded by mu */
    uint64_t *segs;
    uint32_t nsegs, segs_cap;

    /* stats, guarded by mu */
    uint64_t st_bytes, st_segments, st_fsyncs, st_batches, st_records, st_barriers;
    uint32_t lat_us[LAT_RING_MAX];
    uint32_t nlat;
    uint64_t lat_max_us; /* the slowest fdatasync since wal_take_fsync_max_us; under mu */
};

static void
notify(wal_t *w) {
    uint64_t one = 1;
    ssize_t n = write(w->efd, &one, sizeof one);
    (void)n; /* EAGAIN only when the counter is saturated: it is readable anyway */
}

static uint64_t
elapsed_us(const struct timespec *a, const struct timespec *b) {
    return (uint64_t)((b->tv_sec - a->tv_sec) * 1000000 + (b->tv_nsec - a->tv_nsec) / 1000);
}

static int
ok_copies(const wal_t *w) { /* under mu */
    int n = 0;
    for (int i = 0; i < w->ncopies; i++)
        n += w->copy[i].ok;
    return n;
}

/* ---- failure states ------------------------------------------------------------------------ */

static const char *
kind_name(wal_io_kind_t k) {
    switch (k) {
    case WAL_IO_OPEN: return "create segment";
    case WAL_IO_WRITE: return "write";
    case WAL_IO_FSYNC: return "fdatasync";
    case WAL_IO_DIRSYNC: return "directory fsync";
    }
    return "?";
}

/* OK -> FAILED for the log, when fewer than quorum copies remain. Under mu. */
static void
log_fail_locked(wal_t *w) {
    if (!atomic_load(&w->healthy))
        return;
    int n =
        snprintf(w->failure, sizeof w->failure, "log quorum lost: %d of %d copies ok, quorum %d",
                 ok_copies(w), w->ncopies, w->quorum);
    for (int i = 0; i < w->ncopies && n < (int)sizeof w->failure; i++)
        if (!w->copy[i].ok)
            n += snprintf(w->failure + n, sizeof w->failure - (size_t)n, "; %s: %s", w->copy[i].dir,
                          w->copy[i].reason);
    atomic_store(&w->healthy, 0);
    pthread_cond_broadcast(&w->space);
    pthread_cond_broadcast(&w->drained);
    pthread_cond_broadcast(&w->work);
    notify(w);
}

/* OK -> FAILED for one copy, for good: no later write or unit touches it. Under mu. */
static void
copy_fail_locked(wal_t *w, int ci, const wal_io_op_t *op, int err) {
    wal_copy_t *c = &w->copy[ci];
    if (!c->ok)
        return;
    c->ok = 0;
    wal_zeroer_drop(w->zeroer, ci);
    snprintf(c->reason, sizeof c->reason,
             "%s of segment %020" PRIu64 " at offset %" PRIu64 " failed: %s", kind_name(op->kind),
             c->seg_first_lsn, op->off, kerr_str(err));
    pthread_cond_broadcast(&w->drained); /* a drain no longer waits for this copy */
    pthread_cond_broadcast(&c->lane_cv);
    notify(w); /* a state change the server may report */
    if (ok_copies(w) < w->quorum)
        log_fail_locked(w);
}

static void
copy_fail(wal_t *w, int ci, const wal_io_op_t *op, int err) {
    pthread_mutex_lock(&w->mu);
    copy_fail_locked(w, ci, op, err);
    pthread_mutex_unlock(&w->mu);
}

/* Close the fd of failed copies that no lane uses any more. Under mu, WAL thread. */
static void
reap_failed_locked(wal_t *w) {
    for (int i = 0; i < w->ncopies; i++) {
        wal_copy_t *c = &w->copy[i];
        if (!c->ok && c->busy == 0 && c->fd >= 0) {
            close(c->fd);
            c->fd = -1;
        }
    }
}

static int
u64_desc(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x > y ? -1 : x < y;
}

/* The durable LSN of the log: the quorum-th highest durable LSN of the healthy copies. Under
 * mu; the eventfd is written only when it moved, once per advance. */
static void
publish_locked(wal_t *w) {
    uint64_t v[WAL_COPIES_MAX];
    int n = 0;
    for (int i = 0; i < w->ncopies; i++)
        if (w->copy[i].ok)
            v[n++] = w->copy[i].durable_lsn;
    if (n < w->quorum)
        return;
    qsort(v, (size_t)n, sizeof v[0], u64_desc);
    uint64_t lsn = v[w->quorum - 1];
    if (lsn <= atomic_load_explicit(&w->durable_lsn, memory_order_relaxed))
        return;
    ASSERT(lsn <= atomic_load(&w->last_lsn));
    atomic_store_explicit(&w->durable_lsn, lsn, memory_order_release);
    notify(w);
}

/* ---- I/O with the fault hooks -------------------------------------------------------------- */

static int
hook_before(wal_t *w, wal_io_op_t *op) {
    if (!w->io || !w->io->before_cb)
        return 0;
    size_t want = op->len;
    int rc = w->io->before_cb(w->io->ctx, op);
    ASSERT(op->len <= want && (want == 0 || op->len > 0));
    return rc;
}

static int
hook_after(wal_t *w, const wal_io_op_t *op, int res) {
    return w->io && w->io->after_cb ? w->io->after_cb(w->io->ctx, op, res) : res;
}

/* Write len bytes at off on copy ci, continuing short writes. A failure fails the copy. */
static int
write_all(wal_t *w, int ci, int fd, const uint8_t *p, uint64_t len, uint64_t off) {
    uint64_t done = 0;
    while (done < len) {
        uint64_t want = len - done < WRITE_BYTES_MAX ? len - done : WRITE_BYTES_MAX;
        wal_io_op_t op = {.copy = ci, .kind = WAL_IO_WRITE, .off = off + done, .len = want};
        int rc = hook_before(w, &op);
        if (rc == 0) {
            ssize_t n;
            wal_zeroer_claim(w->zeroer, ci, op.off, op.len);
            do
                n = pwrite(fd, p + done, op.len, (off_t)op.off);
            while (n < 0 && errno == EINTR);
            rc = hook_after(w, &op, n < 0 ? KERR_SYS(errno) : (int)n);
            if (rc == 0) /* no progress on a regular file: treat as an I/O error */
                rc = KERR_SYS(EIO);
        }
        if (rc < 0) {
            copy_fail(w, ci, &op, rc);
            return rc;
        }
        ASSERT((uint64_t)rc <= op.len);
        done += (uint64_t)rc;
    }
    return 0;
}

/* fdatasync of a segment or fsync of a directory, through the hooks. Never retried (I6). */
static int
sync_fd(wal_t *w, const wal_io_op_t *op_in, int fd) {
    wal_io_op_t op = *op_in;
    int rc = hook_before(w, &op);
    if (rc < 0)
        return rc;
    int r = op.kind == WAL_IO_FSYNC ? fdatasync(fd) : fsync(fd);
    return hook_after(w, &op, r < 0 ? KERR_SYS(errno) : 0);
}

/* ---- segments ------------------------------------------------------------------------------ */

/* Create the segment file starting at first_lsn on copy ci, write its header (fdatasynced
 * when sync_file: wal_open has no record to follow it) and fsync the directory (I7). Returns
 * the fd, or -1 after failing the copy. */
static int
seg_create(wal_t *w, int ci, uint64_t first_lsn, int sync_file) {
    wal_copy_t *c = &w->copy[ci];
    wal_io_op_t op = {.copy = ci, .kind = WAL_IO_OPEN};
    char name[WAL_SEG_NAME_MAX];
    wal_seg_name(name, sizeof name, first_lsn);
    int rc = hook_before(w, &op);
    int fd = -1;
    if (rc == 0) {
        fd = openat(c->dirfd, name, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
        rc = fd < 0 ? KERR_SYS(errno) : 0;
    }
    rc = hook_after(w, &op, rc);
    if (rc < 0)
        goto fail;
    /* Preallocation makes each later fdatasync cheaper (no size change to journal), zeroing
     * ahead (zero.c) cheaper still; recovery treats the zeros after the data as the end of the
     * log. Errors only lose the speed-up. */
    int preallocated =
        !w->cfg.preallocate_off && fallocate(fd, 0, 0, (off_t)w->cfg.segment_size_bytes) == 0;
    if (write_all(w, ci, fd, (const uint8_t *)&w->hdr, WAL_SEG_HDR_SIZE, 0) < 0) {
        close(fd);
        return -1;
    }
    if (preallocated) /* zero-written blocks make each later fdatasync cheaper still */
        wal_zeroer_segment(w->zeroer, ci, c->dirfd, name, w->cfg.segment_size_bytes,
                           WAL_SEG_HDR_SIZE);
    op = (wal_io_op_t){.copy = ci, .kind = WAL_IO_FSYNC, .off = WAL_SEG_HDR_SIZE};
    if (sync_file && (rc = sync_fd(w, &op, fd)) < 0)
        goto fail;
    op = (wal_io_op_t){.copy = ci, .kind = WAL_IO_DIRSYNC};
    if ((rc = sync_fd(w, &op, c->dirfd)) < 0)
        goto fail;
    return fd;
fail:
    if (fd >= 0)
        close(fd);
    copy_fail(w, ci, &op, rc);
    return -1;
}

static int
seglist_add(wal_t *w, uint64_t first_lsn) {
    pthread_mutex_lock(&w->mu);
    int rc = 0;
    if (w->nsegs == w->segs_cap) {
        uint32_t cap = w->segs_cap ? w->segs_cap * 2 : 64;
        if (cap > SEGLIST_MAX) {
            rc = KERR_LIMIT;
        } else {
            w->segs = krealloc(w->segs, cap * sizeof *w->segs);
            w->segs_cap = cap;
        }
    }
    if (rc == 0)
        w->segs[w->nsegs++] = first_lsn;
    pthread_mutex_unlock(&w->mu);
    return rc;
}

/* The current segment joins the list wal_retire_before() works on. Without the entry
 * retirement would be wrong; refusing the log is the safe way. */
static void
seglist_add_or_fail(wal_t *w, uint64_t first_lsn) {
    int rc = seglist_add(w, first_lsn);
    for (int i = 0; rc != 0 && i < w->ncopies; i++) {
        wal_io_op_t op = {.copy = i, .kind = WAL_IO_OPEN};
        copy_fail(w, i, &op, rc);
    }
}

/* Replace every healthy copy's segment by a new one starting at first_lsn. The caller made
 * sure no unit is in flight on a healthy copy (drained, or the lanes are not started yet). */
static void
seg_start(wal_t *w, uint64_t first_lsn, int sync_file) {
    wal_seg_hdr_encode(&w->hdr, first_lsn, wal_now_ms(), w->dataset_id, w->epoch);
    for (int i = 0; i < w->ncopies; i++) {
        wal_copy_t *c = &w->copy[i];
        pthread_mutex_lock(&w->mu);
        int ok = c->ok, old = c->fd;
        if (ok) {
            c->fd = -1;
            c->seg_first_lsn = first_lsn;
        }
        pthread_mutex_unlock(&w->mu);
        if (!ok)
            continue; /* a failed copy's fd is left to reap_failed_locked */
        if (old >= 0)
            close(old);
        int fd = seg_create(w, i, first_lsn, sync_file);
        pthread_mutex_lock(&w->mu);
        c->fd = fd;
        c->written_off = WAL_SEG_HDR_SIZE;
        pthread_mutex_unlock(&w->mu);
    }
    w->seg_first_lsn = first_lsn;
    w->seg_off = WAL_SEG_HDR_SIZE;
    pthread_mutex_lock(&w->mu);
    w->st_segments++;
    pthread_mutex_unlock(&w->mu);
    seglist_add_or_fail(w, first_lsn);
}

/* Sync mode: a lane of some healthy copy could start an fdatasync now. Until one can, the WAL
 * thread leaves appends in the buffer: writing them earlier would not make them durable
 * sooner, and each extra batch costs a wake-up of the WAL thread (a lane that finishes a
 * unit wakes it instead). Under mu. */
static int
units_max(const wal_t *w) { /* fdatasyncs in flight per copy */
    return w->lanes ? w->lanes : 1;
}

static int
lane_free_locked(const wal_t *w) {
    for (int i = 0; i < w->ncopies; i++)
        if (w->copy[i].ok && w->copy[i].nunits < units_max(w))
            return 1;
    return 0;
}

static int
batch_ready_locked(const wal_t *w) {
    return w->qhead && (!w->cfg.sync_each_batch || lane_free_locked(w));
}

/* ---- lanes: the fdatasyncs ----------------------------------------------------------------- */

static int
lane_has_work(const wal_copy_t *c) { /* under mu */
    return c->ok && c->sync_to > c->dispatched && c->nunits < units_max(c->w) && c->fd >= 0;
}

static void
record_fsync_locked(wal_t *w, uint64_t us) {
    w->lat_us[w->nlat++ % LAT_RING_MAX] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
    if (us > w->lat_max_us)
        w->lat_max_us = us;
    w->st_fsyncs++;
}

uint64_t
wal_take_fsync_max_us(wal_t *w) {
    pthread_mutex_lock(&w->mu);
    uint64_t us = w->lat_max_us;
    w->lat_max_us = 0;
    pthread_mutex_unlock(&w->mu);
    return us;
}

/* A unit completed: advance the copy's durable LSN over the units done in dispatch order (I5),
 * then the log's. Under mu. */
static void
lane_finish_locked(wal_t *w, wal_copy_t *c, int slot, const wal_io_op_t *op, int rc, uint64_t us) {
    c->busy--;
    if (rc < 0) {
        copy_fail_locked(w, c->index, op, rc); /* even if a later unit succeeds (I6) */
    } else if (c->ok) {
        record_fsync_locked(w, us);
        c->unit[slot].done = 1;
        while (c->nunits > 0 && c->unit[c->uhead].done) {
            ASSERT(c->unit[c->uhead].target >= c->durable_lsn); /* targets only grow */
            c->durable_lsn = c->unit[c->uhead].target;
            c->uhead = (c->uhead + 1) % LANES_MAX;
            c->nunits--;
        }
        publish_locked(w);
    }
    pthread_cond_broadcast(&w->drained);
    if (w->thread_idle && batch_ready_locked(w))
        pthread_cond_signal(&w->work); /* appends waited for a free lane */
}

/* Run one unit: an fdatasync through c->sync_to. Called under mu with lane_has_work(c);
 * returns under mu. Lanes call it, and so does the WAL thread itself in inline mode. */
static void
lane_step_locked(wal_copy_t *c) {
    wal_t *w = c->w;
    int slot = (c->uhead + c->nunits) % LANES_MAX;
    c->nunits++;
    c->unit[slot] = (sync_unit_t){.target = c->sync_to};
    c->dispatched = c->sync_to;
    c->busy++;
    int fd = c->fd;
    wal_io_op_t op = {.copy = c->index, .kind = WAL_IO_FSYNC, .off = c->written_off};
    pthread_mutex_unlock(&w->mu);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = sync_fd(w, &op, fd);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    pthread_mutex_lock(&w->mu);
    lane_finish_locked(w, c, slot, &op, rc, elapsed_us(&t0, &t1));
}

static void *
lane_main(void *arg) {
    wal_copy_t *c = arg;
    wal_t *w = c->w;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!lane_has_work(c) && !w->lanes_stop)
            pthread_cond_wait(&c->lane_cv, &w->mu);
        if (!lane_has_work(c))
            break;
        lane_step_locked(c);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* ---- the WAL thread: writing batches ------------------------------------------------------- */

/* Every healthy copy has fdatasynced everything written. Under mu. */
static int
all_synced_locked(const wal_t *w) {
    for (int i = 0; i < w->ncopies; i++)
        if (w->copy[i].ok && w->copy[i].durable_lsn < w->written_lsn)
            return 0;
    return 1;
}

/* Ask the lanes of every healthy copy for an fdatasync through everything written. Under mu. */
static void
request_sync_locked(wal_t *w) {
    for (int i = 0; i < w->ncopies; i++) {
        wal_copy_t *c = &w->copy[i];
        if (c->ok && c->sync_to < c->written_lsn) {
            c->sync_to = c->written_lsn;
            if (w->lanes)
                pthread_cond_signal(&c->lane_cv);
        }
        if (!w->lanes && lane_has_work(c))
            lane_step_locked(c); /* inline: the WAL thread is the lane */
    }
    w->sync_req_lsn = w->written_lsn;
    w->sync_requested = 0;
    clock_gettime(CLOCK_MONOTONIC, &w->last_sync);
}

/* Wait until every healthy copy synced everything written (or the log failed). Under mu. */
static void
drain_locked(wal_t *w) {
    request_sync_locked(w);
    while (atomic_load(&w->healthy) && !all_synced_locked(w))
        pthread_cond_wait(&w->drained, &w->mu);
}

/* Write whole records at the end of the current segment on every healthy copy; in sync mode
 * hand their fdatasync to the lanes at once. */
static void
write_piece(wal_t *w, const uint8_t *p, uint64_t len, uint64_t last_lsn) {
    int fds[WAL_COPIES_MAX];
    pthread_mutex_lock(&w->mu);
    reap_failed_locked(w);
    for (int i = 0; i < w->ncopies; i++)
        fds[i] = w->copy[i].ok ? w->copy[i].fd : -1;
    pthread_mutex_unlock(&w->mu);
    for (int i = 0; i < w->ncopies; i++)
        if (fds[i] >= 0)
            write_all(w, i, fds[i], p, len, w->seg_off);
    w->seg_off += len;
    pthread_mutex_lock(&w->mu);
    ASSERT(last_lsn > w->written_lsn); /* log order */
    w->written_lsn = last_lsn;
    atomic_store_explicit(&w->written_pub, last_lsn, memory_order_release);
    if (atomic_load_explicit(&w->notify_written, memory_order_relaxed))
        notify(w); /* replicas are fed what is written, in parallel with the fdatasync */
    w->st_bytes += len;
    for (int i = 0; i < w->ncopies; i++) {
        wal_copy_t *c = &w->copy[i];
        if (!c->ok)
            continue;
        c->written_lsn = last_lsn;
        c->written_off = w->seg_off;
        if (w->cfg.sync_each_batch) {
            c->sync_to = last_lsn;
            if (w->lanes)
                pthread_cond_signal(&c->lane_cv); /* inline: write_round syncs the batch */
        }
    }
    pthread_mutex_unlock(&w->mu);
}

/* Bytes of the longest run of whole records at p (at least one record) that fits in room. */
static uint64_t
fitting_prefix(const uint8_t *p, uint64_t len, uint64_t room, uint64_t *nrec) {
    uint64_t off = 0;
    *nrec = 0;
    while (off < len) {
        wal_rec_hdr_t h;
        memcpy(&h, p + off, sizeof h);
        uint64_t sz = wal_rec_size(h.len);
        if (*nrec > 0 && off + sz > room)
            break;
        off += sz;
        (*nrec)++;
    }
    return off;
}

/* Start a new segment at first_lsn. The old one is synced first on every copy (async mode may
 * have left it unsynced, and its fd is closed here: a later fdatasync would not cover it). */
static void
seg_cut(wal_t *w, uint64_t first_lsn) {
    pthread_mutex_lock(&w->mu);
    drain_locked(w);
    pthread_mutex_unlock(&w->mu);
    if (atomic_load(&w->healthy))
        seg_start(w, first_lsn, 0);
}

/* Flag the record at p WAL_REC_AFTER_SYNC when everything before it is synced everywhere (I4);
 * in sync mode first drain the lanes when the last flagged record is too far back. */
static void
maybe_barrier(wal_t *w, uint8_t *p) {
    pthread_mutex_lock(&w->mu);
    if (w->cfg.sync_each_batch && w->barrier_bytes >= BARRIER_BYTES_MAX && !all_synced_locked(w)) {
        w->st_barriers++;
        drain_locked(w);
    }
    int flag = all_synced_locked(w);
    pthread_mutex_unlock(&w->mu);
    if (flag) {
        wal_rec_set_flags(p, WAL_REC_AFTER_SYNC);
        w->barrier_bytes = 0;
    }
}

/* The records of b begin a new epoch: they start a segment stamped with it. An empty current
 * segment gets the new header in place (its name is the LSN it starts at, which stays); the
 * next fdatasync of the file covers the header too. */
static void
epoch_switch(wal_t *w, const wal_buf_t *b) {
    w->epoch = b->epoch;
    if (w->seg_off > WAL_SEG_HDR_SIZE) {
        seg_cut(w, b->first_lsn);
        return;
    }
    ASSERT(w->seg_first_lsn == b->first_lsn);
    wal_seg_hdr_encode(&w->hdr, w->seg_first_lsn, wal_now_ms(), w->dataset_id, w->epoch);
    int fds[WAL_COPIES_MAX];
    pthread_mutex_lock(&w->mu);
    for (int i = 0; i < w->ncopies; i++)
        fds[i] = w->copy[i].ok ? w->copy[i].fd : -1;
    pthread_mutex_unlock(&w->mu);
    for (int i = 0; i < w->ncopies; i++)
        if (fds[i] >= 0)
            write_all(w, i, fds[i], (const uint8_t *)&w->hdr, WAL_SEG_HDR_SIZE, 0);
}

static void
write_batch(wal_t *w, wal_buf_t *b) {
    uint8_t *p = b->data;
    uint64_t rem = b->len, lsn = b->first_lsn, size = w->cfg.segment_size_bytes;
    if (b->epoch && b->epoch != w->epoch && atomic_load(&w->healthy))
        epoch_switch(w, b);
    while (rem && atomic_load(&w->healthy)) {
        wal_rec_hdr_t h;
        memcpy(&h, p, sizeof h);
        ASSERT(h.lsn == lsn); /* log order: the buffer holds consecutive LSNs */
        if (w->seg_off > WAL_SEG_HDR_SIZE && w->seg_off + wal_rec_size(h.len) > size) {
            seg_cut(w, lsn);
            if (!atomic_load(&w->healthy))
                break;
        }
        uint64_t nrec = b->last_lsn - lsn + 1, take = rem;
        if (w->seg_off + rem > size)
            take = fitting_prefix(p, rem, size - w->seg_off, &nrec);
        maybe_barrier(w, p);
        write_piece(w, p, take, lsn + nrec - 1);
        w->barrier_bytes += take;
        p += take;
        rem -= take;
        lsn += nrec;
    }
}

/* Chunks the WAL thread wrote go back to the free list (a few) or are freed. Under mu. */
static void
chunks_recycle_locked(wal_t *w, wal_buf_t *list) {
    while (list) {
        wal_buf_t *next = list->next;
        list->len = 0;
        list->epoch = 0;
        if (w->nfree < FREE_CHUNKS_MAX) {
            list->next = w->free_chunks;
            w->free_chunks = list;
            w->nfree++;
        } else {
            kfree(list->data);
            kfree(list);
        }
        list = next;
    }
}

/* Checksum every record of a chunk (I2): done here, not in wal_append, to keep ~0.1 us per
 * 512-byte record off the owner thread, which is the server's bottleneck under load. */
static void
crc_chunk(wal_buf_t *b) {
    for (uint64_t off = 0; off < b->len;) {
        wal_rec_crc(b->data + off);
        uint32_t len;
        memcpy(&len, b->data + off, 4);
        off += wal_rec_size(len);
    }
}

/* Write one batch (the queue taken at once) and, inline, sync it: one fdatasync per batch. */
static void
write_round(wal_t *w, wal_buf_t *list) {
    uint64_t records = 0;
    for (wal_buf_t *b = list; b; b = b->next) {
        crc_chunk(b);
        write_batch(w, b);
        records += b->last_lsn - b->first_lsn + 1;
    }
    pthread_mutex_lock(&w->mu);
    if (!w->lanes && w->cfg.sync_each_batch)
        for (int i = 0; i < w->ncopies; i++)
            if (lane_has_work(&w->copy[i]))
                lane_step_locked(&w->copy[i]); /* inline: durable when this returns */
    w->st_batches++;
    w->st_records += records;
    chunks_recycle_locked(w, list);
    pthread_mutex_unlock(&w->mu);
}

/* Async mode: an fdatasync of what was written is due. Under mu. */
static int
sync_due(const wal_t *w, const struct timespec *now) {
    if (w->cfg.sync_each_batch || w->sync_req_lsn >= w->written_lsn)
        return 0;
    return w->sync_requested || w->stop ||
           elapsed_us(&w->last_sync, now) >= (uint64_t)w->cfg.sync_interval_ms * 1000;
}

/* Under mu: sleep until there is a batch, a sync to request, or stop. */
static void
wait_for_work(wal_t *w) {
    for (;;) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (w->stop || batch_ready_locked(w) || sync_due(w, &now) || !atomic_load(&w->healthy))
            return;
        w->thread_idle = 1;
        if (!w->cfg.sync_each_batch && w->sync_req_lsn < w->written_lsn) {
            struct timespec until = w->last_sync;
            uint64_t ns = (uint64_t)until.tv_nsec + (uint64_t)w->cfg.sync_interval_ms * 1000000;
            until.tv_sec += (time_t)(ns / 1000000000);
            until.tv_nsec = (long)(ns % 1000000000);
            pthread_cond_timedwait(&w->work, &w->mu, &until);
        } else {
            pthread_cond_wait(&w->work, &w->mu);
        }
        w->thread_idle = 0;
    }
}

static void *
wal_thread_main(void *arg) {
    wal_t *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        wait_for_work(w);
        reap_failed_locked(w);
        wal_buf_t *list = w->qhead;
        w->qhead = w->qtail = NULL;
        w->queued = 0;
        pthread_cond_broadcast(&w->space);
        if (!atomic_load(&w->healthy)) {
            chunks_recycle_locked(w, list); /* refused for good: nothing more reaches the disk */
            if (w->stop)
                break;
            pthread_cond_wait(&w->work, &w->mu);
            continue;
        }
        pthread_mutex_unlock(&w->mu);
        if (list)
            write_round(w, list);
        pthread_mutex_lock(&w->mu);
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (!w->cfg.sync_each_batch && sync_due(w, &now))
            request_sync_locked(w);
        if (w->stop && !w->qhead) {
            drain_locked(w); /* wal_close: everything appended is synced */
            break;
        }
    }
    reap_failed_locked(w);
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* ---- the main thread's API ----------------------------------------------------------------- */

/* Room for need more bytes in b (the caller made sure len + need <= max). krealloc aborts on
 * out-of-memory: the server could not go on without its log anyway. */
static void
buf_reserve(wal_buf_t *b, uint64_t need, uint64_t max) {
    ASSERT(b->len + need <= max);
    if (b->len + need <= b->cap)
        return;
    uint64_t cap = b->cap ? b->cap : 64 * 1024;
    while (cap < b->len + need)
        cap *= 2;
    if (cap > max)
        cap = max;
    b->data = krealloc(b->data, cap);
    b->cap = cap;
}

/* Hand the staged chunk to the WAL thread: one lock round and no copy, whatever the number of
 * records. Blocks while buffer_bytes_max bytes are queued (back-pressure: the disk is behind). */
void
wal_submit(wal_t *w) {
    wal_buf_t *st = w->stage;
    if (!st || !st->len)
        return;
    pthread_mutex_lock(&w->mu);
    while (atomic_load(&w->healthy) && w->queued && w->queued + st->len > w->cfg.buffer_bytes_max)
        pthread_cond_wait(&w->space, &w->mu);
    if (!atomic_load(&w->healthy)) {
        st->len = 0; /* refused for good, as wal_append said already or will say */
        pthread_mutex_unlock(&w->mu);
        return;
    }
    st->next = NULL;
    if (w->qtail)
        w->qtail->next = st;
    else
        w->qhead = st;
    w->qtail = st;
    w->queued += st->len;
    w->stage = w->free_chunks; /* NULL: wal_append allocates one */
    if (w->stage) {
        w->free_chunks = w->stage->next;
        w->nfree--;
    }
    if (w->thread_idle && batch_ready_locked(w))
        pthread_cond_signal(&w->work);
    pthread_mutex_unlock(&w->mu);
}

int
wal_begin_epoch(wal_t *w, uint64_t epoch) {
    if (epoch < w->owner_epoch)
        return KERR_INVAL; /* I8: an epoch never goes down */
    if (!atomic_load(&w->healthy))
        return KERR_QUORUM;
    if (w->stage && w->stage->len)
        wal_submit(w);
    if (!w->stage)
        w->stage = kcalloc(1, sizeof *w->stage);
    if (epoch != w->owner_epoch)
        w->stage->epoch = epoch;
    w->owner_epoch = epoch;
    return 0;
}

int64_t
wal_append(wal_t *w, uint32_t db, const void *payload, size_t len) {
    return wal_append_at(w, db, wal_now_ms(), payload, len);
}

int64_t
wal_append_at(wal_t *w, uint32_t db, int64_t ts_ms, const void *payload, size_t len) {
    uint64_t sz = wal_rec_size(len);
    if (len > WAL_PAYLOAD_MAX || sz > w->cfg.buffer_bytes_max)
        return KERR_LIMIT;
    if (!atomic_load(&w->healthy))
        return KERR_QUORUM;
    if (w->stage && w->stage->len + sz > w->cfg.buffer_bytes_max)
        wal_submit(w); /* a chunk never holds more than the buffer limit */
    if (!w->stage)
        w->stage = kcalloc(1, sizeof *w->stage);
    wal_buf_t *st = w->stage;
    buf_reserve(st, sz, w->cfg.buffer_bytes_max);
    uint64_t lsn = atomic_load_explicit(&w->last_lsn, memory_order_relaxed) + 1;
    wal_rec_encode_nocrc(st->data + st->len, lsn, ts_ms, db, payload, len);
    if (!st->len)
        st->first_lsn = lsn;
    st->last_lsn = lsn;
    st->len += sz;
    atomic_store_explicit(&w->last_lsn, lsn, memory_order_release);
    if (st->len >= WAL_SUBMIT_BYTES)
        wal_submit(w);
    return (int64_t)lsn;
}

uint64_t
wal_durable_lsn(const wal_t *w) {
    return atomic_load_explicit(&((wal_t *)w)->durable_lsn, memory_order_acquire);
}

uint64_t
wal_written_lsn(const wal_t *w) {
    return atomic_load_explicit(&w->written_pub, memory_order_acquire);
}

void
wal_notify_written(wal_t *w, bool on) {
    atomic_store_explicit(&w->notify_written, on, memory_order_relaxed);
}

uint64_t
wal_last_lsn(const wal_t *w) {
    return atomic_load_explicit(&((wal_t *)w)->last_lsn, memory_order_acquire);
}

int
wal_notify_fd(const wal_t *w) {
    return w->efd;
}

void
wal_notify_clear(wal_t *w) {
    uint64_t v;
    ssize_t n = read(w->efd, &v, sizeof v);
    (void)n; /* EAGAIN: nothing to clear */
}

int
wal_healthy(const wal_t *w) {
    return atomic_load(&((wal_t *)w)->healthy);
}

const char *
wal_failure(const wal_t *w) {
    return wal_healthy(w) ? NULL : w->failure;
}

int
wal_sync_now(wal_t *w) {
    if (!wal_healthy(w))
        return KERR_QUORUM;
    wal_submit(w);
    pthread_mutex_lock(&w->mu);
    w->sync_requested = 1;
    pthread_cond_signal(&w->work);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

static int
u64_cmp(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int
u32_cmp(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

void
wal_get_stats(const wal_t *cw, wal_stats_t *st) {
    wal_t *w = (wal_t *)cw;
    uint32_t lat[LAT_RING_MAX];
    memset(st, 0, sizeof *st);
    pthread_mutex_lock(&w->mu);
    st->last_lsn = wal_last_lsn(w);
    st->durable_lsn = wal_durable_lsn(w);
    st->bytes_written = w->st_bytes;
    st->segments = w->st_segments;
    st->fsyncs = w->st_fsyncs;
    st->batches = w->st_batches;
    st->records_per_batch_avg = w->st_batches ? (double)w->st_records / (double)w->st_batches : 0;
    uint32_t n = w->nlat < LAT_RING_MAX ? w->nlat : LAT_RING_MAX;
    memcpy(lat, w->lat_us, n * sizeof lat[0]);
    st->healthy = wal_healthy(w);
    st->ncopies = w->ncopies;
    for (int i = 0; i < w->ncopies; i++) {
        wal_copy_stats_t *cs = &st->copy[i];
        snprintf(cs->dir, sizeof cs->dir, "%s", w->copy[i].dir);
        cs->ok = w->copy[i].ok;
        snprintf(cs->reason, sizeof cs->reason, "%s", w->copy[i].reason);
        cs->durable_lsn = w->copy[i].durable_lsn;
    }
    pthread_mutex_unlock(&w->mu);
    if (n) {
        qsort(lat, n, sizeof lat[0], u32_cmp);
        st->fsync_latency_p50_us = lat[n / 2];
        st->fsync_latency_p99_us = lat[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1];
    }
}

/* ---- open, close, retention ---------------------------------------------------------------- */

static void
wal_free(wal_t *w) {
    wal_zeroer_stop(w->zeroer); /* first: it may still be writing zeros into a segment */
    for (int i = 0; i < w->ncopies; i++) {
        if (w->copy[i].fd >= 0)
            close(w->copy[i].fd);
        if (w->copy[i].dirfd >= 0)
            close(w->copy[i].dirfd);
        pthread_cond_destroy(&w->copy[i].lane_cv);
    }
    if (w->efd >= 0)
        close(w->efd);
    wal_buf_t *lists[] = {w->stage, w->qhead, w->free_chunks};
    for (size_t k = 0; k < sizeof lists / sizeof lists[0]; k++)
        for (wal_buf_t *b = lists[k], *next; b; b = next) {
            next = k == 0 ? NULL : b->next; /* the stage chunk is on no list */
            kfree(b->data);
            kfree(b);
        }
    kfree(w->segs);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->work);
    pthread_cond_destroy(&w->space);
    pthread_cond_destroy(&w->drained);
    free(w); /* raw: aligned_alloc in wal_open */
}

static int
wal_init(wal_t *w, const wal_config_t *cfg) {
    int rc = wal_config_norm(cfg, &w->cfg);
    if (rc)
        return rc;
    w->ncopies = w->cfg.ndirs;
    w->quorum = w->cfg.quorum;
    if (wal_lanes_per_copy < 1) /* auto: one copy in sync mode syncs inline, else one lane */
        w->lanes = w->cfg.sync_each_batch && w->ncopies == 1 ? 0 : 1;
    else
        w->lanes = wal_lanes_per_copy > LANES_MAX ? LANES_MAX : wal_lanes_per_copy;
    w->io = w->cfg.io;
    w->efd = -1;
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->work, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&w->space, NULL);
    pthread_cond_init(&w->drained, NULL);
    atomic_init(&w->healthy, 1);
    for (int i = 0; i < w->ncopies; i++) {
        wal_copy_t *c = &w->copy[i];
        snprintf(c->dir, sizeof c->dir, "%s", cfg->dirs[i]);
        w->dirs[i] = c->dir;
        c->fd = c->dirfd = -1;
        c->w = w;
        c->index = i;
        pthread_cond_init(&c->lane_cv, NULL);
    }
    w->cfg.dirs = w->dirs;
    w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return w->efd < 0 ? KERR_SYS(errno) : 0;
}

/* The segments already on disk below the new one, so wal_retire_before() can retire them. */
static int
seed_segments(wal_t *w, uint64_t last_lsn) {
    for (int i = 0; i < w->ncopies; i++) {
        wal_seg_t *v;
        int n, rc;
        if (!w->copy[i].ok || (rc = wal_list_segments(w->copy[i].dir, &v, &n)) != 0)
            continue;
        for (int k = 0; k < n && rc == 0; k++) {
            int known = 0;
            for (uint32_t j = 0; j < w->nsegs; j++)
                known |= w->segs[j] == v[k].first_lsn;
            if (!known && v[k].first_lsn <= last_lsn)
                rc = seglist_add(w, v[k].first_lsn);
        }
        kfree(v);
        if (rc)
            return rc;
    }
    /* Copies normally hold the same segments; sort in case one held some the others did not. */
    if (w->nsegs > 1)
        qsort(w->segs, w->nsegs, sizeof *w->segs, u64_cmp);
    return 0;
}

/* Stop and join every lane thread (they finish the unit they are in first). */
static void
lanes_stop(wal_t *w) {
    pthread_mutex_lock(&w->mu);
    w->lanes_stop = 1;
    for (int i = 0; i < w->ncopies; i++)
        pthread_cond_broadcast(&w->copy[i].lane_cv);
    pthread_mutex_unlock(&w->mu);
    for (int i = 0; i < w->ncopies; i++)
        for (int k = 0; k < w->copy[i].nlanes; k++)
            pthread_join(w->copy[i].lane[k], NULL);
}

static int
threads_start(wal_t *w) {
    for (int i = 0; i < w->ncopies; i++) {
        wal_copy_t *c = &w->copy[i];
        for (int k = 0; k < w->lanes && c->ok; k++) {
            int rc = pthread_create(&c->lane[k], NULL, lane_main, c);
            if (rc)
                return KERR_SYS(rc);
            c->nlanes++;
        }
    }
    int rc = pthread_create(&w->thread, NULL, wal_thread_main, w);
    return rc ? KERR_SYS(rc) : 0;
}

/* Copies' directories opened and their LSN state set to last_lsn: all of it is durable. */
static void
copies_open(wal_t *w, uint64_t last_lsn) {
    for (int i = 0; i < w->ncopies; i++) { /* all ok first: a failure below counts the rest */
        wal_copy_t *c = &w->copy[i];
        c->ok = 1;
        c->written_lsn = c->sync_to = c->dispatched = c->durable_lsn = last_lsn;
    }
    for (int i = 0; i < w->ncopies; i++) {
        wal_copy_t *c = &w->copy[i];
        int r = wal_mkdir_p(c->dir);
        if (r == 0 && (c->dirfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
            r = KERR_SYS(errno);
        if (r) {
            wal_io_op_t op = {.copy = i, .kind = WAL_IO_OPEN};
            copy_fail(w, i, &op, r);
        }
    }
}

/* Zero the seal a clean close left at the end of copy ci's newest segment and fdatasync that,
 * before anything else is written to the copy (I9): a crash from here on must leave an
 * ordinary unsealed log, whose torn tail recovery may cut. A failure fails the copy. */
static void
unseal_copy(wal_t *w, int ci, const wal_tail_t *t) {
    static const uint8_t zeros[WAL_REC_HDR_SIZE];
    wal_copy_t *c = &w->copy[ci];
    wal_io_op_t op = {.copy = ci, .kind = WAL_IO_OPEN};
    int fd = openat(c->dirfd, t->name, O_WRONLY | O_CLOEXEC), rc;
    if (fd < 0) {
        copy_fail(w, ci, &op, KERR_SYS(errno));
        return;
    }
    if (write_all(w, ci, fd, zeros, sizeof zeros, t->end) == 0) {
        op = (wal_io_op_t){.copy = ci, .kind = WAL_IO_FSYNC, .off = t->end};
        if ((rc = sync_fd(w, &op, fd)) < 0)
            copy_fail(w, ci, &op, rc);
    }
    close(fd);
}

/* Can the log go on in the copies' newest segment? Every healthy copy must end in the same
 * clean version 2 segment of this data set and epoch, right after last_lsn, with room for a
 * record. Otherwise wal_open starts a new one (an empty newest one is recreated in place). */
static int
tails_continuable(const wal_t *w, const wal_tail_t *t, uint64_t last_lsn) {
    int ref = -1;
    for (int i = 0; i < w->ncopies; i++) {
        const wal_tail_t *x = &t[i];
        if (!w->copy[i].ok)
            continue;
        if (!x->nsegs || !x->clean || x->version != WAL_FORMAT_VERSION || x->last_lsn != last_lsn ||
            x->epoch != w->epoch ||
            memcmp(x->dataset_id, w->dataset_id, sizeof w->dataset_id) != 0 ||
            x->end + 2 * WAL_REC_HDR_SIZE > w->cfg.segment_size_bytes)
            return 0;
        if (ref >= 0 && (x->first_lsn != t[ref].first_lsn || x->end != t[ref].end))
            return 0;
        ref = i;
    }
    return ref >= 0;
}

/* Make the copies' newest segment the current one: records go on at its end. Its space is
 * mostly allocated already, so a start on a nearly full disk needs none; it is topped up to
 * segment_size_bytes when smaller (the size grew, or preallocation was off), failing quietly. */
static void
seg_continue(wal_t *w, const wal_tail_t *t, uint64_t last_lsn) {
    uint64_t first = 0, end = 0, size = w->cfg.segment_size_bytes;
    for (int i = 0; i < w->ncopies; i++) {
        wal_copy_t *c = &w->copy[i];
        if (!c->ok)
            continue;
        first = t[i].first_lsn;
        end = t[i].end;
        int fd = openat(c->dirfd, t[i].name, O_WRONLY | O_CLOEXEC);
        if (fd < 0) {
            wal_io_op_t op = {.copy = i, .kind = WAL_IO_OPEN};
            copy_fail(w, i, &op, KERR_SYS(errno));
            continue;
        }
        int preallocated =
            !w->cfg.preallocate_off && (t[i].size >= size || fallocate(fd, 0, 0, (off_t)size) == 0);
        pthread_mutex_lock(&w->mu);
        c->fd = fd;
        c->seg_first_lsn = first;
        c->written_off = end;
        pthread_mutex_unlock(&w->mu);
        if (preallocated)
            wal_zeroer_segment(w->zeroer, i, c->dirfd, t[i].name, size, end);
    }
    w->seg_first_lsn = first;
    w->seg_off = end;
    if (first > last_lsn) /* an empty segment: seed_segments did not list it */
        seglist_add_or_fail(w, first);
}

/* The current segment of a log opened after last_lsn: every copy's seal removed first (I9),
 * then the newest segment continued when it can be, else a new one created and made durable
 * (header and directory) before any append. */
static void
seg_open(wal_t *w, uint64_t last_lsn) {
    wal_tail_t tails[WAL_COPIES_MAX];
    memset(tails, 0, sizeof tails);
    for (int i = 0; i < w->ncopies; i++) {
        if (!w->copy[i].ok || wal_dir_tail(w->copy[i].dir, &tails[i]) != 0)
            continue; /* unreadable: its segment creation fails it */
        if (tails[i].sealed)
            unseal_copy(w, i, &tails[i]);
    }
    if (!w->cfg.preallocate_off && !w->cfg.zero_off &&
        wal_zeroer_start(&w->zeroer, ZERO_CHUNK_BYTES, ZERO_AHEAD_BYTES) != 0)
        w->zeroer = NULL; /* only a speed-up */
    if (tails_continuable(w, tails, last_lsn))
        seg_continue(w, tails, last_lsn);
    else
        seg_start(w, last_lsn + 1, 1);
}

/* wal_close of a healthy log, the threads stopped: every copy that has each appended record
 * durable gets the seal at the end of its data, fdatasynced (I9). A failure fails the copy
 * and leaves it unsealed: the next recovery then treats it as after a crash. */
static void
seal_copies(wal_t *w) {
    uint64_t last = wal_last_lsn(w);
    if (!atomic_load(&w->healthy))
        return;
    ASSERT(w->seg_first_lsn <= last + 1 && w->written_lsn == last);
    uint8_t rec[WAL_REC_HDR_SIZE];
    wal_rec_encode_seal(rec, last, wal_now_ms());
    for (int i = 0; i < w->ncopies; i++) {
        wal_copy_t *c = &w->copy[i];
        if (!c->ok || c->fd < 0 || c->durable_lsn != last ||
            write_all(w, i, c->fd, rec, sizeof rec, w->seg_off) < 0)
            continue;
        wal_io_op_t op = {.copy = i, .kind = WAL_IO_FSYNC, .off = w->seg_off + sizeof rec};
        int rc = sync_fd(w, &op, c->fd);
        if (rc < 0)
            copy_fail(w, i, &op, rc);
    }
}

static void
open_logf(const wal_t *w, const char *fmt, ...) {
    if (!w->cfg.log)
        return;
    char msg[WAL_PATH_MAX + 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    w->cfg.log(w->cfg.log_ctx, msg);
}

/* The identity stamped into new segments: the caller's, else the newest one on disk, else a new
 * data set's (a random id, epoch 1). Refuses (KERR_INVAL) to write another data set's id into
 * a copy, or an epoch below the one on disk (I8): readers would refuse the log. */
static int
identity_resolve(wal_t *w) {
    uint8_t id[WAL_DATASET_ID_SIZE], disk_id[WAL_DATASET_ID_SIZE] = {0};
    uint64_t epoch, disk_epoch = 0;
    char a[WAL_DATASET_ID_STR_MAX], b[WAL_DATASET_ID_STR_MAX];
    for (int i = 0; i < w->ncopies; i++) {
        if (!w->copy[i].ok || wal_dir_identity(w->copy[i].dir, id, &epoch) != 0 ||
            wal_dataset_id_is_zero(id))
            continue; /* an unreadable copy fails at its segment creation */
        int cfg_other = !wal_dataset_id_is_zero(w->cfg.dataset_id) &&
                        memcmp(id, w->cfg.dataset_id, sizeof id) != 0;
        if (cfg_other || (!wal_dataset_id_is_zero(disk_id) && memcmp(id, disk_id, sizeof id))) {
            wal_dataset_id_str(id, a, sizeof a);
            wal_dataset_id_str(cfg_other ? w->cfg.dataset_id : disk_id, b, sizeof b);
            open_logf(w, "wal: %s belongs to another data set (id %s, not %s)", w->copy[i].dir, a,
                      b);
            return KERR_INVAL;
        }
        memcpy(disk_id, id, sizeof id);
        disk_epoch = epoch > disk_epoch ? epoch : disk_epoch;
    }
    if (!wal_dataset_id_is_zero(w->cfg.dataset_id))
        memcpy(w->dataset_id, w->cfg.dataset_id, sizeof w->dataset_id);
    else if (!wal_dataset_id_is_zero(disk_id))
        memcpy(w->dataset_id, disk_id, sizeof w->dataset_id);
    else if (wal_dataset_id_new(w->dataset_id) != 0)
        return KERR_FAILED;
    w->epoch = w->cfg.epoch ? w->cfg.epoch : disk_epoch ? disk_epoch : 1;
    if (w->epoch < disk_epoch) {
        open_logf(w, "wal: epoch %" PRIu64 " is below the log's epoch %" PRIu64, w->epoch,
                  disk_epoch);
        return KERR_INVAL;
    }
    return 0;
}

int
wal_open(const wal_config_t *cfg, uint64_t last_lsn, wal_t **out) {
    /* Raw, not kmalloc: the _Alignas(64) members need an aligned block, which kmem does not
     * offer (one ~10 KiB block per wal_open, so used_memory misses little). */
    wal_t *w = aligned_alloc(64, (sizeof *w + 63) & ~(size_t)63);
    if (w)
        memset(w, 0, sizeof *w);
    if (!w)
        return KERR_NOMEM;
    int rc = wal_init(w, cfg);
    if (rc)
        goto fail;
    atomic_store(&w->last_lsn, last_lsn);
    atomic_store(&w->durable_lsn, last_lsn);
    atomic_store(&w->written_pub, last_lsn);
    w->written_lsn = w->sync_req_lsn = last_lsn;
    clock_gettime(CLOCK_MONOTONIC, &w->last_sync);
    copies_open(w, last_lsn);
    if ((rc = seed_segments(w, last_lsn)) != 0 || (rc = identity_resolve(w)) != 0)
        goto fail;
    seg_open(w, last_lsn);
    w->owner_epoch = w->epoch;
    if (!atomic_load(&w->healthy)) {
        rc = KERR_QUORUM;
        if (cfg->log) /* the reason dies with w: hand it to the caller's log first */
            cfg->log(cfg->log_ctx, w->failure);
        goto fail;
    }
    if ((rc = threads_start(w)) != 0)
        goto fail_threads;
    *out = w;
    return 0;
fail_threads:
    lanes_stop(w); /* the WAL thread is started last: it is not running */
fail:
    wal_free(w);
    return rc;
}

void
wal_close(wal_t *w) {
    if (!w)
        return;
    wal_submit(w);
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_signal(&w->work);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL); /* it drained the lanes: everything appended is synced */
    lanes_stop(w);
    seal_copies(w);
    wal_free(w);
}

/* Move (or delete) one retired segment of every copy. The first copy whose rename into the
 * archive works provides the archived file; when none shares the archive's file system the
 * file is copied there first. The copies' files are only unlinked once the archive has it. */
static int
retire_one(wal_t *w, uint64_t first_lsn, const char *archive_dir) {
    char name[WAL_SEG_NAME_MAX], src[WAL_PATH_MAX + WAL_SEG_NAME_MAX],
        dst[WAL_PATH_MAX + WAL_SEG_NAME_MAX];
    wal_seg_name(name, sizeof name, first_lsn);
    int renamed = -1, rc = 0;
    if (archive_dir) {
        snprintf(dst, sizeof dst, "%s/%s", archive_dir, name);
        for (int i = 0; i < w->ncopies && renamed < 0; i++) {
            snprintf(src, sizeof src, "%s/%s", w->copy[i].dir, name);
            if (rename(src, dst) == 0)
                renamed = i;
        }
        for (int i = 0; i < w->ncopies && renamed < 0; i++) {
            struct stat st;
            snprintf(src, sizeof src, "%s/%s", w->copy[i].dir, name);
            if (stat(src, &st) != 0)
                continue;
            if ((rc = wal_copy_file(src, archive_dir, name, (uint64_t)st.st_size)) != 0)
                return rc; /* keep the live files: nothing may be lost */
            renamed = w->ncopies;
        }
    }
    for (int i = 0; i < w->ncopies; i++) {
        snprintf(src, sizeof src, "%s/%s", w->copy[i].dir, name);
        if (i != renamed && unlink(src) != 0 && errno != ENOENT && rc == 0)
            rc = KERR_SYS(errno);
    }
    return rc;
}

int
wal_retire_before(wal_t *w, uint64_t lsn, const char *archive_dir) {
    int rc = 0, n = 0;
    if (archive_dir && (rc = wal_mkdir_p(archive_dir)) != 0)
        return rc;
    pthread_mutex_lock(&w->mu);
    /* segs[i] holds LSNs [segs[i], segs[i+1]); it is wholly below lsn when segs[i+1] <= lsn.
     * The newest segment is never retired: the WAL thread writes it. */
    while ((uint32_t)n + 1 < w->nsegs && w->segs[n + 1] <= lsn)
        n++;
    uint64_t *gone = n ? kmalloc((size_t)n * sizeof *gone) : NULL;
    if (n) {
        memcpy(gone, w->segs, (size_t)n * sizeof *gone);
        memmove(w->segs, w->segs + n, (w->nsegs - (uint32_t)n) * sizeof *w->segs);
        w->nsegs -= (uint32_t)n;
    }
    pthread_mutex_unlock(&w->mu);
    for (int i = 0; i < n; i++) {
        int r = retire_one(w, gone[i], archive_dir);
        if (r && !rc)
            rc = r;
    }
    kfree(gone);
    for (int i = 0; i < w->ncopies && n; i++) {
        int r = wal_fsync_dir(w->copy[i].dir);
        if (r && !rc && w->copy[i].ok)
            rc = r;
    }
    if (archive_dir && n) {
        int r = wal_fsync_dir(archive_dir);
        if (r && !rc)
            rc = r;
    }
    return rc ? rc : n;
}
