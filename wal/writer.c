/*
 * writer.c - the log writer: the in-memory log buffer filled by wal_append() on the main thread,
 * and the WAL thread that writes it to every copy through io_uring with group commit.
 *
 * Buffers. Two buffers of at most buffer_bytes_max bytes: `active` is filled by wal_append()
 * under `mu`; the WAL thread swaps it with the empty `flush` buffer and writes `flush` without
 * the lock. So a batch is everything appended since the previous batch was taken (group
 * commit), and wal_append() waits on `space` while `active` is full (back-pressure).
 *
 * Rounds. Writing a batch is one or more rounds (one per segment the batch touches). A round,
 * per healthy copy, submits a linked chain
 *     [write segment header] -> write records -> fdatasync -> [fsync directory]
 * (the fdatasync only in sync mode or when a sync is due; the header and directory fsync only
 * for a new segment). A short write breaks the link; when the chain has drained, the rest is
 * written with a new chain, ending in a new fdatasync. A write or fsync error fails the copy
 * for good (copy_fail); an fsync is never retried. One round is in flight at a time, so when a
 * copy completes a synced round every earlier round is durable on it too; the durable LSN is
 * published as soon as `quorum` copies completed the round (invariant I5), without waiting for
 * the slowest copy. When fewer than `quorum` copies remain, log_fail() fails the log for good.
 *
 * State of a copy:  OK --copy_fail()--> FAILED (closed, skipped by every later round)
 * State of the log: OK --(copy failures leave < quorum)--> log_fail() --> FAILED
 *                   (wal_append() returns KERR_QUORUM, the notify fd fires)
 */
#include "wal/wal_int.h"
#include "wal/wal_io.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/kassert.h"
#include "common/kerr.h"

#define RING_DEPTH      64
#define CHAIN_OPS_MAX   4    /* header write, record write, fdatasync, directory fsync */
#define LAT_RING_MAX    1024 /* fsync latencies kept for the percentiles */
#define SEGLIST_MAX     (1u << 20)
#define WRITE_BYTES_MAX (1u << 30) /* one io_uring write; its length field is 32-bit */
static_assert(WAL_COPIES_MAX * CHAIN_OPS_MAX <= RING_DEPTH, "a round fits in the ring");

typedef struct wal_buf {
    uint8_t *data;
    uint64_t len, cap;
    uint64_t first_lsn, last_lsn; /* records held: [first_lsn, last_lsn] when len > 0 */
} wal_buf_t;

typedef struct ext {
    const uint8_t *p;
    uint64_t len, off, done; /* bytes of p to put at file offset off; done so far */
} ext_t;

/* One copy. Everything but the stats fields is touched by the WAL thread only (or by wal_open
 * before the thread starts). */
typedef struct wal_copy {
    char dir[WAL_PATH_MAX];
    int dirfd, fd;               /* directory, current segment (-1 when failed) */
    int ok;                      /* 1 until copy_fail(); guarded by mu for readers */
    char reason[WAL_REASON_MAX]; /* guarded by mu */
    uint64_t durable_lsn;        /* guarded by mu for readers */
    /* the round in progress */
    ext_t ext[2];
    int need_fsync, need_dirsync, dirsync_done, fsync_ok, round_done;
    int outstanding; /* submitted ops without a completion */
    wal_io_op_t slot[CHAIN_OPS_MAX];
    struct timespec submitted;
} wal_copy_t;

struct wal {
    wal_config_t cfg; /* normalised copy; dirs point into copy[].dir */
    const char *dirs[WAL_COPIES_MAX];
    int ncopies, quorum;
    wal_copy_t copy[WAL_COPIES_MAX];
    wal_io_t *io;
    struct io_uring ring; /* WAL thread only */
    pthread_t thread;
    int efd; /* eventfd for the main thread */

    pthread_mutex_t mu;
    pthread_cond_t work;                   /* WAL thread waits for appends / stop / sync requests */
    pthread_cond_t space;                  /* wal_append waits for buffer space */
    wal_buf_t active;                      /* guarded by mu */
    wal_buf_t flush;                       /* WAL thread only */
    int stop, sync_requested, thread_idle; /* guarded by mu */
    _Atomic uint64_t last_lsn;             /* written under mu by wal_append */
    _Atomic uint64_t durable_lsn;          /* written by the WAL thread */
    _Atomic int healthy;
    char failure[2 * WAL_REASON_MAX]; /* set once, before healthy drops to 0 */

    /* WAL thread state */
    uint64_t seg_first_lsn, seg_off; /* current segment and where the next record goes */
    int hdr_pending;                 /* the current segment's header is not written yet */
    wal_seg_hdr_t hdr;
    uint64_t written_lsn, synced_lsn;
    struct timespec last_sync;

    /* segments of the live log, for wal_retire_before; guarded by mu */
    uint64_t *segs;
    uint32_t nsegs, segs_cap;

    /* stats, guarded by mu */
    uint64_t st_bytes, st_segments, st_fsyncs, st_batches, st_records;
    uint32_t lat_us[LAT_RING_MAX];
    uint32_t nlat;
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
ok_copies(const wal_t *w) {
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

/* OK -> FAILED for one copy, for good: its fd is closed and no later round touches it. */
static void
copy_fail(wal_t *w, int ci, const wal_io_op_t *op, int err) {
    wal_copy_t *c = &w->copy[ci];
    if (!c->ok)
        return;
    pthread_mutex_lock(&w->mu);
    c->ok = 0;
    snprintf(c->reason, sizeof c->reason,
             "%s of segment %020" PRIu64 " at offset %" PRIu64 " failed: %s", kind_name(op->kind),
             w->seg_first_lsn, op->off, kerr_str(err));
    pthread_mutex_unlock(&w->mu);
    /* With ops of its chain still in flight the fd stays open until they drained (on_cqe):
     * a linked op may resolve its fd only when issued, and the number could be reused. */
    if (c->fd >= 0 && c->outstanding == 0) {
        close(c->fd);
        c->fd = -1;
    }
    notify(w); /* a state change the server may report */
}

/* OK -> FAILED for the log, when fewer than quorum copies remain. */
static void
log_fail(wal_t *w) {
    if (!atomic_load(&w->healthy))
        return;
    pthread_mutex_lock(&w->mu);
    int n =
        snprintf(w->failure, sizeof w->failure, "log quorum lost: %d of %d copies ok, quorum %d",
                 ok_copies(w), w->ncopies, w->quorum);
    for (int i = 0; i < w->ncopies && n < (int)sizeof w->failure; i++)
        if (!w->copy[i].ok)
            n += snprintf(w->failure + n, sizeof w->failure - (size_t)n, "; %s: %s", w->copy[i].dir,
                          w->copy[i].reason);
    atomic_store(&w->healthy, 0);
    pthread_cond_broadcast(&w->space);
    pthread_mutex_unlock(&w->mu);
    notify(w);
}

static void
publish_durable(wal_t *w, uint64_t lsn) {
    if (lsn <= atomic_load_explicit(&w->durable_lsn, memory_order_relaxed))
        return;
    ASSERT(lsn <= atomic_load(&w->last_lsn));
    atomic_store_explicit(&w->durable_lsn, lsn, memory_order_release);
    notify(w);
}

/* ---- segments ------------------------------------------------------------------------------ */

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

/* Create the segment file starting at first_lsn on copy ci; its header goes out with the next
 * round, followed by a directory fsync. */
static void
seg_open(wal_t *w, int ci, uint64_t first_lsn) {
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
    if (rc < 0) {
        if (fd >= 0)
            close(fd);
        copy_fail(w, ci, &op, rc);
        return;
    }
    /* Preallocation makes each later fdatasync cheaper (no size change to journal); recovery
     * treats the zeros after the data as the end of the log. Errors only lose the speed-up. */
    if (!w->cfg.preallocate_off)
        (void)fallocate(fd, 0, 0, (off_t)w->cfg.segment_size_bytes);
    c->fd = fd;
}

static int
seglist_add(wal_t *w, uint64_t first_lsn) {
    pthread_mutex_lock(&w->mu);
    int rc = 0;
    if (w->nsegs == w->segs_cap) {
        uint32_t cap = w->segs_cap ? w->segs_cap * 2 : 64;
        uint64_t *v = cap <= SEGLIST_MAX ? realloc(w->segs, cap * sizeof *v) : NULL;
        if (!v)
            rc = KERR_NOMEM;
        else {
            w->segs = v;
            w->segs_cap = cap;
        }
    }
    if (rc == 0) {
        w->segs[w->nsegs++] = first_lsn;
        w->st_segments++;
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

static void
seg_start(wal_t *w, uint64_t first_lsn) {
    for (int i = 0; i < w->ncopies; i++) {
        wal_copy_t *c = &w->copy[i];
        if (!c->ok)
            continue;
        if (c->fd >= 0)
            close(c->fd);
        c->fd = -1;
        seg_open(w, i, first_lsn);
    }
    w->seg_first_lsn = first_lsn;
    w->seg_off = WAL_SEG_HDR_SIZE;
    w->hdr_pending = 1;
    wal_seg_hdr_encode(&w->hdr, first_lsn, wal_now_ms());
    if (seglist_add(w, first_lsn) != 0) {
        /* Without the list entry retirement would be wrong; refusing the log is the safe way. */
        for (int i = 0; i < w->ncopies; i++) {
            wal_io_op_t op = {.copy = i, .kind = WAL_IO_OPEN};
            copy_fail(w, i, &op, KERR_NOMEM);
        }
    }
}

/* ---- rounds -------------------------------------------------------------------------------- */

static void
record_fsync(wal_t *w, const wal_copy_t *c) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    uint64_t us = elapsed_us(&c->submitted, &now);
    pthread_mutex_lock(&w->mu);
    w->lat_us[w->nlat++ % LAT_RING_MAX] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
    w->st_fsyncs++;
    pthread_mutex_unlock(&w->mu);
}

/* Submit, for copy ci, the chain of what its round still needs. The hooks see every op first,
 * so a refused op fails the copy before anything of the chain is queued. */
static void
submit_chain(wal_t *w, int ci) {
    wal_copy_t *c = &w->copy[ci];
    int n = 0;
    for (int e = 0; e < 2; e++)
        if (c->ext[e].done < c->ext[e].len)
            c->slot[n++] = (wal_io_op_t){.copy = ci,
                                         .kind = WAL_IO_WRITE,
                                         .off = c->ext[e].off + c->ext[e].done,
                                         .len = c->ext[e].len - c->ext[e].done};
    for (int k = 0; k < n; k++) /* longer writes are continued like short ones */
        if (c->slot[k].len > WRITE_BYTES_MAX)
            c->slot[k].len = WRITE_BYTES_MAX;
    if (c->need_fsync)
        c->slot[n++] = (wal_io_op_t){.copy = ci, .kind = WAL_IO_FSYNC, .off = w->seg_off};
    if (c->need_dirsync && !c->dirsync_done)
        c->slot[n++] = (wal_io_op_t){.copy = ci, .kind = WAL_IO_DIRSYNC};
    for (int k = 0; k < n; k++) {
        int rc = hook_before(w, &c->slot[k]);
        if (rc < 0) {
            copy_fail(w, ci, &c->slot[k], rc);
            return;
        }
    }
    c->fsync_ok = 0;
    clock_gettime(CLOCK_MONOTONIC, &c->submitted);
    for (int k = 0, e = 0; k < n; k++) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
        ASSERT(sqe != NULL); /* RING_DEPTH covers a full round */
        wal_io_op_t *op = &c->slot[k];
        if (op->kind == WAL_IO_WRITE) {
            while (c->ext[e].done >= c->ext[e].len)
                e++;
            const uint8_t *src = c->ext[e].p + (op->off - c->ext[e].off);
            io_uring_prep_write(sqe, c->fd, src, (unsigned)op->len, op->off);
            e++;
        } else {
            io_uring_prep_fsync(sqe, op->kind == WAL_IO_FSYNC ? c->fd : c->dirfd,
                                op->kind == WAL_IO_FSYNC ? IORING_FSYNC_DATASYNC : 0);
        }
        if (k + 1 < n)
            sqe->flags |= IOSQE_IO_LINK;
        io_uring_sqe_set_data64(sqe, (uint64_t)ci * CHAIN_OPS_MAX + (uint64_t)k);
    }
    c->outstanding = n;
}

/* Apply one completion to its copy's round. */
static void
on_cqe(wal_t *w, uint64_t ud, int res) {
    int ci = (int)(ud / CHAIN_OPS_MAX), k = (int)(ud % CHAIN_OPS_MAX);
    wal_copy_t *c = &w->copy[ci];
    wal_io_op_t *op = &c->slot[k];
    c->outstanding--;
    if (!c->ok && c->outstanding == 0 && c->fd >= 0) {
        close(c->fd); /* deferred by copy_fail */
        c->fd = -1;
    }
    if (res == -ECANCELED)
        return; /* an earlier op of the chain was short or failed: handled there */
    res = hook_after(w, op, res);
    if (!c->ok)
        return;
    if (res < 0) {
        copy_fail(w, ci, op, res);
        return;
    }
    if (op->kind == WAL_IO_WRITE) {
        if (res == 0) { /* no progress on a regular file: treat as an I/O error */
            copy_fail(w, ci, op, KERR_SYS(EIO));
            return;
        }
        int e = op->off >= c->ext[1].off && c->ext[1].len ? 1 : 0;
        ASSERT(op->off == c->ext[e].off + c->ext[e].done && (uint64_t)res <= op->len);
        c->ext[e].done += (uint64_t)res;
    } else if (op->kind == WAL_IO_FSYNC) {
        c->fsync_ok = 1;
        record_fsync(w, c);
    } else {
        c->dirsync_done = 1;
    }
}

/* After a copy's chain drained: done, or continue after a short write. */
static int
chain_drained(wal_t *w, int ci) {
    wal_copy_t *c = &w->copy[ci];
    if (!c->ok)
        return 1;
    int writes_done = c->ext[0].done == c->ext[0].len && c->ext[1].done == c->ext[1].len;
    if (writes_done && (!c->need_fsync || c->fsync_ok) && (!c->need_dirsync || c->dirsync_done))
        return 1;
    submit_chain(w, ci); /* the rest of a short write, and a fresh fdatasync after it */
    return !c->ok;
}

/* When a copy finished a synced round, the round is durable there; publish once a quorum has. */
static void
round_copy_done(wal_t *w, int ci, uint64_t upto_lsn, int do_sync) {
    wal_copy_t *c = &w->copy[ci];
    c->round_done = 1;
    if (!c->ok || !do_sync)
        return;
    pthread_mutex_lock(&w->mu);
    c->durable_lsn = upto_lsn;
    pthread_mutex_unlock(&w->mu);
    int n = 0;
    for (int i = 0; i < w->ncopies; i++)
        n += w->copy[i].ok && w->copy[i].round_done;
    if (n >= w->quorum)
        publish_durable(w, upto_lsn);
}

static void
round_prepare(wal_t *w, const uint8_t *data, uint64_t len, int do_sync) {
    for (int i = 0; i < w->ncopies; i++) {
        wal_copy_t *c = &w->copy[i];
        memset(c->ext, 0, sizeof c->ext);
        c->round_done = 0;
        c->need_fsync = do_sync;
        c->need_dirsync = w->hdr_pending;
        c->dirsync_done = 0;
        if (w->hdr_pending)
            c->ext[0] = (ext_t){.p = (const uint8_t *)&w->hdr, .len = WAL_SEG_HDR_SIZE};
        if (len)
            c->ext[1] = (ext_t){.p = data, .len = len, .off = w->seg_off};
        if (c->ok)
            submit_chain(w, i);
    }
}

/* Write data (whole records, or nothing for a sync-only round) at the end of the current
 * segment on every healthy copy; fdatasync when do_sync. Returns when every copy finished. */
static void
run_round(wal_t *w, const uint8_t *data, uint64_t len, uint64_t last_lsn, int do_sync) {
    round_prepare(w, data, len, do_sync);
    for (;;) {
        int busy = 0;
        for (int i = 0; i < w->ncopies; i++)
            busy += w->copy[i].outstanding > 0;
        if (!busy)
            break;
        struct io_uring_cqe *cqe;
        int rc = io_uring_submit_and_wait(&w->ring, 1);
        ASSERT(rc >= 0 || rc == -EINTR);
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&w->ring, head, cqe) {
            on_cqe(w, cqe->user_data, cqe->res);
            seen++;
        }
        io_uring_cq_advance(&w->ring, seen);
        for (int i = 0; i < w->ncopies; i++) {
            wal_copy_t *c = &w->copy[i];
            if (c->outstanding == 0 && !c->round_done && chain_drained(w, i))
                round_copy_done(w, i, last_lsn, do_sync);
        }
    }
    io_uring_submit(&w->ring); /* nothing queued normally; keeps the ring state simple */
    w->hdr_pending = 0;
    w->seg_off += len;
    w->written_lsn = last_lsn;
    if (do_sync) {
        w->synced_lsn = last_lsn;
        clock_gettime(CLOCK_MONOTONIC, &w->last_sync);
    }
    pthread_mutex_lock(&w->mu);
    w->st_bytes += len;
    pthread_mutex_unlock(&w->mu);
    if (ok_copies(w) < w->quorum)
        log_fail(w);
}

/* ---- batches ------------------------------------------------------------------------------- */

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

/* Start a new segment at first_lsn. The old one is synced first (async mode may have left it
 * unsynced), because its fd is closed here and a later fdatasync would not cover it. */
static void
seg_cut(wal_t *w, uint64_t first_lsn) {
    if (w->synced_lsn < w->written_lsn)
        run_round(w, NULL, 0, w->written_lsn, 1);
    if (atomic_load(&w->healthy))
        seg_start(w, first_lsn);
}

static void
write_batch(wal_t *w, const wal_buf_t *b) {
    const uint8_t *p = b->data;
    uint64_t rem = b->len, lsn = b->first_lsn, size = w->cfg.segment_size_bytes;
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
        if (w->synced_lsn == w->written_lsn) /* a barrier recovery can trust (I4) */
            wal_rec_set_flags((uint8_t *)p, WAL_REC_AFTER_SYNC);
        /* A piece followed by a cut is always synced: the cut closes its fd. */
        run_round(w, p, take, lsn + nrec - 1, w->cfg.sync_each_batch || take < rem);
        p += take;
        rem -= take;
        lsn += nrec;
    }
    pthread_mutex_lock(&w->mu);
    w->st_batches++;
    w->st_records += b->last_lsn - b->first_lsn + 1;
    pthread_mutex_unlock(&w->mu);
}

static int
sync_due(const wal_t *w, const struct timespec *now) {
    if (w->synced_lsn >= w->written_lsn)
        return 0;
    return w->sync_requested || w->stop ||
           elapsed_us(&w->last_sync, now) >= (uint64_t)w->cfg.sync_interval_ms * 1000;
}

/* Under mu: sleep until there is a batch, a sync to do, or stop. */
static void
wait_for_work(wal_t *w) {
    for (;;) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (w->stop || w->active.len || sync_due(w, &now) || !atomic_load(&w->healthy))
            return;
        w->thread_idle = 1;
        if (w->synced_lsn < w->written_lsn) {
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
        if (!atomic_load(&w->healthy)) {
            w->active.len = 0; /* refused for good: nothing more reaches the disk */
            if (w->stop)
                break;
            pthread_cond_wait(&w->work, &w->mu);
            continue;
        }
        wal_buf_t tmp = w->flush;
        w->flush = w->active;
        w->active = tmp;
        w->active.len = 0;
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        int do_sync = !w->flush.len && sync_due(w, &now);
        w->sync_requested = 0;
        pthread_cond_broadcast(&w->space);
        pthread_mutex_unlock(&w->mu);
        if (w->flush.len)
            write_batch(w, &w->flush);
        else if (do_sync)
            run_round(w, NULL, 0, w->written_lsn, 1);
        w->flush.len = 0;
        pthread_mutex_lock(&w->mu);
        if (w->stop && !w->active.len && w->synced_lsn >= w->written_lsn)
            break;
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* ---- the main thread's API ----------------------------------------------------------------- */

static int
buf_reserve(wal_buf_t *b, uint64_t need, uint64_t max) {
    if (b->len + need <= b->cap)
        return 0;
    uint64_t cap = b->cap ? b->cap : 64 * 1024;
    while (cap < b->len + need)
        cap *= 2;
    if (cap > max)
        cap = max;
    uint8_t *p = realloc(b->data, cap);
    if (!p)
        return KERR_NOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int64_t
wal_append(wal_t *w, uint32_t db, const void *payload, size_t len) {
    uint64_t sz = wal_rec_size(len);
    if (len > WAL_PAYLOAD_MAX || sz > w->cfg.buffer_bytes_max)
        return KERR_LIMIT;
    pthread_mutex_lock(&w->mu);
    while (atomic_load(&w->healthy) && w->active.len + sz > w->cfg.buffer_bytes_max)
        pthread_cond_wait(&w->space, &w->mu); /* back-pressure: the disk is behind */
    int64_t rc;
    if (!atomic_load(&w->healthy)) {
        rc = KERR_QUORUM;
    } else if ((rc = buf_reserve(&w->active, sz, w->cfg.buffer_bytes_max)) == 0) {
        uint64_t lsn = atomic_load_explicit(&w->last_lsn, memory_order_relaxed) + 1;
        wal_rec_encode(w->active.data + w->active.len, lsn, wal_now_ms(), db, payload, len);
        if (!w->active.len)
            w->active.first_lsn = lsn;
        w->active.last_lsn = lsn;
        w->active.len += sz;
        atomic_store_explicit(&w->last_lsn, lsn, memory_order_release);
        if (w->thread_idle)
            pthread_cond_signal(&w->work);
        rc = (int64_t)lsn;
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

uint64_t
wal_durable_lsn(const wal_t *w) {
    return atomic_load_explicit(&((wal_t *)w)->durable_lsn, memory_order_acquire);
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

int
wal_config_norm(const wal_config_t *cfg, wal_config_t *out) {
    *out = *cfg;
    if (!cfg->dirs || cfg->ndirs < 1 || cfg->ndirs > WAL_COPIES_MAX)
        return KERR_INVAL;
    for (int i = 0; i < cfg->ndirs; i++)
        if (!cfg->dirs[i] || !cfg->dirs[i][0] || strlen(cfg->dirs[i]) >= WAL_PATH_MAX)
            return KERR_INVAL;
    if (out->quorum == 0)
        out->quorum = cfg->ndirs / 2 + 1;
    if (out->quorum < 1 || out->quorum > cfg->ndirs)
        return KERR_INVAL;
    if (!out->segment_size_bytes)
        out->segment_size_bytes = WAL_SEGMENT_SIZE_DEFAULT;
    if (out->segment_size_bytes < 4096)
        return KERR_INVAL;
    if (!out->sync_interval_ms)
        out->sync_interval_ms = WAL_SYNC_INTERVAL_MS_DEFAULT;
    if (!out->buffer_bytes_max)
        out->buffer_bytes_max = WAL_BUFFER_BYTES_DEFAULT;
    if (out->buffer_bytes_max < 4096)
        return KERR_INVAL;
    return 0;
}

static void
wal_free(wal_t *w) {
    for (int i = 0; i < w->ncopies; i++) {
        if (w->copy[i].fd >= 0)
            close(w->copy[i].fd);
        if (w->copy[i].dirfd >= 0)
            close(w->copy[i].dirfd);
    }
    if (w->efd >= 0)
        close(w->efd);
    free(w->active.data);
    free(w->flush.data);
    free(w->segs);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->work);
    pthread_cond_destroy(&w->space);
    free(w);
}

static int
wal_init(wal_t *w, const wal_config_t *cfg) {
    int rc = wal_config_norm(cfg, &w->cfg);
    if (rc)
        return rc;
    w->ncopies = w->cfg.ndirs;
    w->quorum = w->cfg.quorum;
    w->io = w->cfg.io;
    w->efd = -1;
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->work, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&w->space, NULL);
    atomic_init(&w->healthy, 1);
    for (int i = 0; i < w->ncopies; i++) {
        wal_copy_t *c = &w->copy[i];
        snprintf(c->dir, sizeof c->dir, "%s", cfg->dirs[i]);
        w->dirs[i] = c->dir;
        c->fd = c->dirfd = -1;
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
        free(v);
        if (rc)
            return rc;
    }
    /* Copies normally hold the same segments; sort in case one held some the others did not. */
    if (w->nsegs > 1)
        qsort(w->segs, w->nsegs, sizeof *w->segs, u64_cmp);
    w->st_segments = 0;
    return 0;
}

int
wal_open(const wal_config_t *cfg, uint64_t last_lsn, wal_t **out) {
    wal_t *w = calloc(1, sizeof *w);
    if (!w)
        return KERR_NOMEM;
    int rc = wal_init(w, cfg);
    if (rc)
        goto fail;
    if ((rc = io_uring_queue_init(RING_DEPTH, &w->ring, 0)) < 0)
        goto fail;
    for (int i = 0; i < w->ncopies; i++) {
        wal_copy_t *c = &w->copy[i];
        c->ok = 1;
        int r = wal_mkdir_p(c->dir);
        if (r == 0 && (c->dirfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
            r = KERR_SYS(errno);
        if (r) {
            wal_io_op_t op = {.copy = i, .kind = WAL_IO_OPEN};
            copy_fail(w, i, &op, r);
        }
    }
    atomic_store(&w->last_lsn, last_lsn);
    atomic_store(&w->durable_lsn, last_lsn);
    w->written_lsn = w->synced_lsn = last_lsn;
    clock_gettime(CLOCK_MONOTONIC, &w->last_sync);
    if ((rc = seed_segments(w, last_lsn)) != 0)
        goto fail_ring;
    /* The first segment is created and made durable (header + directory) before any append. */
    seg_start(w, last_lsn + 1);
    run_round(w, NULL, 0, last_lsn, 1);
    if (!atomic_load(&w->healthy)) {
        rc = KERR_QUORUM;
        if (cfg->log) /* the reason dies with w: hand it to the caller's log first */
            cfg->log(cfg->log_ctx, w->failure);
        goto fail_ring;
    }
    if ((rc = pthread_create(&w->thread, NULL, wal_thread_main, w)) != 0) {
        rc = KERR_SYS(rc);
        goto fail_ring;
    }
    *out = w;
    return 0;
fail_ring:
    io_uring_queue_exit(&w->ring);
fail:
    wal_free(w);
    return rc;
}

void
wal_close(wal_t *w) {
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_signal(&w->work);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    io_uring_queue_exit(&w->ring);
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
    uint64_t *gone = n ? malloc((size_t)n * sizeof *gone) : NULL;
    if (n && !gone) {
        pthread_mutex_unlock(&w->mu);
        return KERR_NOMEM;
    }
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
    free(gone);
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
