/*
 * zero.c - zero-filling log segments ahead of the writer (API in wal/zero.h).
 *
 * Why. Segments are preallocated with fallocate() (writer.c), which on ext4 leaves *unwritten*
 * extents: the first writeback into each block converts its extent, so nearly every fdatasync
 * of the log must commit the journal. Blocks that were written with zeros beforehand need no
 * conversion, and the writer's fdatasync is then a data flush only. One thread, the zeroer,
 * keeps each copy's current segment zero-written in chunks ahead of the writer's data end.
 *
 * Algorithm. Per copy the zeroer knows the segment's size, the data end (moved by
 * wal_zeroer_claim()) and `next`, below which every chunk is done or skipped. A chunk
 * [a, a + chunk) is due when
 *     a = max(next, round_up(end, chunk)),  a < round_down(size, 4096),
 *     a + len <= end + ahead               (len = chunk, or less for the last one)
 * The thread takes the due chunk with the smallest lead (a - end) over all copies, marks it in
 * progress, writes it with O_DIRECT, clears the mark and fdatasyncs its own fd. Separately it
 * keeps the zeroed blocks of [end, end + ZERO_PREFETCH_AHEAD) in the page cache, asking for
 * them (posix_fadvise WILLNEED) in pieces of ZERO_PREFETCH_BYTES as the end moves; a due piece
 * goes before a due chunk. With nothing due it sleeps on a condition variable, and
 * wal_zeroer_claim() signals it when a chunk or a piece became due. The first chunk of a
 * segment (which holds its header) is never zeroed.
 *
 *   writer:  segment(ci) -> claim(off,len) -> pwrite -> claim -> pwrite ... -> segment(ci)
 *   zeroer:  [ sleep ] <-claim wakes-- piece due? --> WILLNEED piece ------------> due? ...
 *                                      chunk due? --> mark busy -> O_DIRECT write
 *                                                     -> clear busy -> fdatasync -> due? ...
 *
 * Invariants:
 *   Z1  The zeroer never writes a byte below the copy's data end, nor a byte the writer may be
 *       writing: a chunk is started, under the mutex, only at a >= round_up(end, chunk)
 *       (ASSERTed); claim() raises the end first and then waits while the chunk in progress
 *       overlaps its range, so no later chunk can start below the new end either.
 *   Z2  Zeroing is an optimisation only. An error (open with O_DIRECT refused, EIO, ENOSPC,
 *       a short write off the 4096 alignment) closes the zeroer's fd for that segment and
 *       counts stats.failures; the copy is not zeroed again until its next
 *       wal_zeroer_segment(). Nothing is reported to the log, and claim() never waits on a
 *       copy that is not being zeroed. tmpfs/ramfs count as a failure too: their fallocate
 *       leaves no unwritten extents, so zeroing would only burn memory bandwidth.
 *   Z3  Zero writes use O_DIRECT from a 4096-aligned buffer at chunk-aligned offsets with
 *       lengths that are multiples of 4096 (ASSERTed), so they dirty no page cache that the
 *       writer's fdatasync would then have to flush. The zeroer fdatasyncs its own fd after
 *       each chunk, so the extent conversion is committed by the zeroer.
 *   Z4  A chunk never ends past end + ahead nor past size. The thread sleeps when nothing is
 *       due (no polling) and claim() wakes it only when its new end made a chunk or a
 *       prefetch piece due. stop() wakes it; it finishes at most the chunk in progress.
 *   Z5  An fd the thread is inside a syscall on (thread_fd) is closed by the thread only: when
 *       segment() or drop() replaces it meanwhile, it is parked in stale_fd. So a caller never
 *       waits for a chunk to finish, and an fd number is never reused under a running write.
 *
 * States of a copy:
 *   IDLE (fd -1) --segment(), open ok--> ZEROING --segment()--> ZEROING (new file)
 *   ZEROING --write/fdatasync error (zero_chunk)--> IDLE, failures++
 *   ZEROING --drop()--> IDLE;  IDLE --segment(), open refused--> IDLE, failures++
 *
 * Why a rate limit. Zeroing writes every byte of the log twice. While the writer is slow
 * (small batches, the common case) that is cheap and each fdatasync gains ~50 us; while it
 * writes faster than ZERO_RATE_MAX_BYTES_S (big pipelined batches) the zero writes and their
 * page-cache reads compete with the log's own writes for the disk and the CPU, and each
 * fdatasync carries enough data that the extent conversion is a small part of it. Measured
 * (SET 512 B, 50 clients): pipeline 1, ~43 MB/s of log: 58k -> 69k ops/s with zeroing;
 * pipeline 16, ~300 MB/s: 532k -> 320k. So a copy whose writer ran faster than the limit over
 * the last window is not zeroed (`hot`) until it slows down again; zeroing then resumes at
 * the data end (Z1 as always).
 *
 * Why io_uring for the writes. A synchronous O_DIRECT write holds the inode's i_rwsem (shared)
 * until the device completes it, and the writer's buffered pwrite into the same file needs it
 * exclusively: measured here (8 KiB pwrite + fdatasync while 1 MiB chunks are zeroed without
 * pause), the writer's pwrite p99 was 0.4-2 ms with pwritev and 90 us with io_uring, whose
 * asynchronous O_DIRECT write drops the lock once the bios are submitted. pwritev stays as the
 * fallback when io_uring is not available.
 *
 * Why WILLNEED, and in small pieces. After an O_DIRECT write the zeroed blocks are not in the
 * page cache. Records are 8-byte aligned, so the writer's first write into a page is partial
 * and ext4 reads the block from disk first (an unwritten block is zero-filled in memory
 * instead): measured, 8 KiB appends at unaligned offsets into a zeroed, uncached segment took
 * 55 us per pwrite instead of 7, which ate the whole fdatasync gain (p50 142 vs 146 us).
 * Reading the blocks in ahead of the writer leaves clean pages only (nothing for fdatasync to
 * flush). Reading each whole 1 MiB chunk right after zeroing it delayed the writer's next
 * fdatasyncs by ~1 ms (p99 1 ms); 64 KiB pieces paced by the writer's progress do not.
 *
 * Measured (build/wal-zero-bench, bench/wal_zero_bench.c; 2000 x 8 KiB pwrite at unaligned
 * offsets + fdatasync, ext4 on a virtio disk, 2 cores), write+fdatasync p50 / p99, CPU per op:
 *   fallocated only                      146 / 190 us   63 us
 *   zeroer, 256 KiB chunks, 8 MiB ahead   88 / 300-340  48 us  (4-5 ops in 2000 over 400 us)
 *   zeroer, 1 MiB chunks                  89 / 550      49 us  (~1 op per chunk over 400 us:
 *                                                               the chunk's write and commit)
 * So 256 KiB chunks are the better production setting on this disk.
 *
 * Locking: one mutex `mu` guards every field marked "mu"; the thread drops it for every
 * syscall. The fdatasync of the zeroer's fd also writes back the writer's dirty pages of the
 * same file; a writeback error there is still reported to the writer's own fdatasync, because
 * Linux tracks writeback errors per open file (errseq), not per call.
 */
#include "zero.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/magic.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "kassert.h"
#include "kerr.h"
#include "kmem.h"
#include "wal.h"

/* ZERO_ALIGN: the O_DIRECT alignment kept for offsets, lengths and the buffer. A chunk is one
 * writev whose iovecs all point to one zero buffer of at most ZERO_BUF_BYTES. */
#define ZERO_ALIGN     4096ull
#define ZERO_BUF_BYTES (1u << 20)
#define ZERO_IOV_MAX   (WAL_ZEROER_CHUNK_BYTES_MAX / ZERO_BUF_BYTES)
/* Zeroed blocks are read into the page cache in pieces of ZERO_PREFETCH_BYTES, at most
 * ZERO_PREFETCH_AHEAD past the data end (see "Why WILLNEED"). */
#define ZERO_PREFETCH_BYTES (64u << 10)
#define ZERO_PREFETCH_AHEAD (512u << 10)
/* Writer rate above which zeroing pauses (see "Why a rate limit"), measured over windows of
 * ZERO_RATE_WINDOW_NS of claims. */
#define ZERO_RATE_MAX_BYTES_S (100ull << 20)
#define ZERO_RATE_WINDOW_NS   20000000ull
static_assert(ZERO_PREFETCH_AHEAD >= 2 * ZERO_PREFETCH_BYTES, "room for a piece ahead");
static_assert(ZERO_IOV_MAX * ZERO_BUF_BYTES >= WAL_ZEROER_CHUNK_BYTES_MAX,
              "a chunk fits one writev");
static_assert(ZERO_IOV_MAX <= 1024, "within IOV_MAX");
static_assert(WAL_ZEROER_CHUNK_BYTES_MIN % ZERO_ALIGN == 0, "chunks keep the O_DIRECT alignment");

wal_zeroer_test_t wal_zeroer_test;

/* One log copy. Every field is guarded by wal_zeroer_t.mu. */
typedef struct zcopy {
    int fd;            /* the zeroer's O_DIRECT fd on the current segment; -1: not zeroing */
    int thread_fd;     /* the fd the thread is inside a syscall on, -1 none (Z5) */
    int stale_fd;      /* thread_fd after segment()/drop() replaced it; the thread closes it */
    uint64_t size;     /* segment size: nothing at or past round_down(size, 4096) is written */
    uint64_t end;      /* data end: highest off + len claimed (Z1) */
    uint64_t next;     /* every chunk below this is done or skipped */
    uint64_t pf;       /* read into the page cache up to here (see "Why WILLNEED") */
    uint64_t busy_off; /* chunk being written: [busy_off, busy_off + busy_len) */
    uint64_t busy_len; /* 0: none */
    int waiters;       /* claims sleeping on `done` for this copy */
    int hot;           /* the writer ran above ZERO_RATE_MAX_BYTES_S in the last window */
    uint64_t win_ns;   /* start of the current rate window (CLOCK_MONOTONIC ns) */
    uint64_t win_end;  /* data end at the start of the window */
} zcopy_t;

struct wal_zeroer {
    uint64_t chunk, ahead; /* read-only after start */
    void *zbuf;            /* zbuf_len zero bytes, ZERO_ALIGN-aligned, read-only after start */
    uint64_t zbuf_len;
    int prefetch; /* read zeroed chunks into the page cache (see "Why WILLNEED") */
    int ring_ok;  /* ring is usable; else pwritev */
    struct io_uring ring;
    struct iovec iov[ZERO_IOV_MAX]; /* thread only: the writev of the chunk in progress */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t work;   /* the thread sleeps here when nothing is due */
    pthread_cond_t done;   /* claims wait here for the chunk in progress */
    int stop;              /* mu */
    int idle;              /* mu: the thread waits on `work` */
    wal_zeroer_stats_t st; /* mu */
    zcopy_t copy[WAL_COPIES_MAX];
};

/* ---- deciding what to zero (mu held) ------------------------------------------------------- */

/* Length of the chunk copy c should zero next (0: none due) and its offset in *at. */
static uint64_t
chunk_due(const wal_zeroer_t *z, const zcopy_t *c, uint64_t *at) {
    if (c->fd < 0 || c->hot)
        return 0;
    uint64_t a = (c->end + z->chunk - 1) & ~(z->chunk - 1);
    if (a < c->next)
        a = c->next;
    uint64_t lim = c->size & ~(ZERO_ALIGN - 1);
    if (a >= lim)
        return 0;
    uint64_t len = lim - a < z->chunk ? lim - a : z->chunk;
    if (a + len > c->end + z->ahead)
        return 0;
    *at = a;
    return len;
}

/* The zeroed range of copy c to read into the page cache now, from its data end to at most
 * ZERO_PREFETCH_AHEAD past it, in whole pieces (0: none due). Only blocks below `next`: those
 * the writer overtook are still unwritten, and a write into them reads nothing anyway. */
static uint64_t
prefetch_due(const wal_zeroer_t *z, const zcopy_t *c, uint64_t *at) {
    if (c->fd < 0 || !z->prefetch)
        return 0;
    uint64_t from = c->end & ~(ZERO_ALIGN - 1);
    uint64_t to = from + ZERO_PREFETCH_AHEAD;
    if (from < c->pf)
        from = c->pf;
    if (to > c->next)
        to = c->next;
    if (to < from + ZERO_PREFETCH_BYTES)
        return 0;
    *at = from;
    return (to - from) & ~(uint64_t)(ZERO_PREFETCH_BYTES - 1);
}

/* The due chunk with the smallest lead over its copy's data end: the writer closest to
 * catching up goes first. Returns 0 when nothing is due. */
static int
pick(const wal_zeroer_t *z, int *ci, uint64_t *at, uint64_t *len) {
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < WAL_COPIES_MAX; i++) {
        uint64_t a, n = chunk_due(z, &z->copy[i], &a);
        if (n && a - z->copy[i].end < best) {
            best = a - z->copy[i].end;
            *ci = i;
            *at = a;
            *len = n;
        }
    }
    return best != UINT64_MAX;
}

/* Once per window: is the writer too fast for zeroing to pay? (see "Why a rate limit") */
static void
rate_check_locked(zcopy_t *c) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    if (c->end < c->win_end) { /* a new segment: start a new window */
        c->win_end = c->end;
        c->win_ns = now;
        return;
    }
    if (now - c->win_ns < ZERO_RATE_WINDOW_NS)
        return;
    c->hot = (c->end - c->win_end) * 1000000000ull > ZERO_RATE_MAX_BYTES_S * (now - c->win_ns);
    c->win_ns = now;
    c->win_end = c->end;
}

static void
wake_locked(wal_zeroer_t *z, const zcopy_t *c) {
    uint64_t a;
    if (z->idle && (chunk_due(z, c, &a) || prefetch_due(z, c, &a)))
        pthread_cond_signal(&z->work);
}

static int
overlaps_busy(const zcopy_t *c, uint64_t off, uint64_t len) {
    return c->busy_len && off < c->busy_off + c->busy_len && c->busy_off < off + len;
}

/* Take the copy's fd away from it (segment replaced or copy dropped). Returns the fd for the
 * caller to close after unlocking, or -1 when there is none or the thread is inside a syscall
 * on it (then it is parked in stale_fd, Z5). Claims waiting on its chunk are released. */
static int
detach_locked(wal_zeroer_t *z, zcopy_t *c) {
    int fd = c->fd;
    c->fd = -1;
    if (c->busy_len) {
        c->busy_len = 0;
        if (c->waiters)
            pthread_cond_broadcast(&z->done);
    }
    if (fd >= 0 && fd == c->thread_fd) {
        ASSERT(c->stale_fd < 0); /* only the fd in use can be parked, and it is parked once */
        c->stale_fd = fd;
        return -1;
    }
    return fd;
}

/* ---- the zeroer thread --------------------------------------------------------------------- */

/* One writev of zeros; bytes written or a negative errno. */
static int64_t
writev_zeros(wal_zeroer_t *z, int fd, int n, uint64_t off) {
    if (!z->ring_ok) {
        ssize_t r = pwritev(fd, z->iov, n, (off_t)off);
        return r < 0 ? KERR_SYS(errno) : r;
    }
    struct io_uring_sqe *sqe = io_uring_get_sqe(&z->ring);
    ASSERT(sqe != NULL); /* one operation at a time on a ring with room for more */
    io_uring_prep_writev(sqe, fd, z->iov, (unsigned)n, off);
    int rc = io_uring_submit(&z->ring);
    if (rc < 0)
        return rc;
    struct io_uring_cqe *cqe;
    do
        rc = io_uring_wait_cqe(&z->ring, &cqe);
    while (rc == -EINTR || rc == -EAGAIN);
    if (rc < 0)
        return rc;
    int64_t res = cqe->res;
    io_uring_cqe_seen(&z->ring, cqe);
    return res;
}

/* Write zeros to [off, off + len) with O_DIRECT (Z3); a short write is continued while it
 * keeps the alignment. */
static int
zero_write(wal_zeroer_t *z, int fd, uint64_t off, uint64_t len) {
    ASSERT(off % ZERO_ALIGN == 0 && len % ZERO_ALIGN == 0 && (uintptr_t)z->zbuf % ZERO_ALIGN == 0);
    while (len > 0) {
        int n = 0;
        for (uint64_t left = len; left > 0; n++) {
            ASSERT(n < (int)ZERO_IOV_MAX);
            uint64_t k = left < z->zbuf_len ? left : z->zbuf_len;
            z->iov[n] = (struct iovec){.iov_base = z->zbuf, .iov_len = k};
            left -= k;
        }
        int64_t r = writev_zeros(z, fd, n, off);
        if (r < 0)
            return (int)r;
        if (r == 0 || (uint64_t)r % ZERO_ALIGN)
            return KERR_SYS(EIO); /* the rest could not be written with O_DIRECT */
        off += (uint64_t)r;
        len -= (uint64_t)r;
    }
    return 0;
}

/* The chunk's write returned: release the claims waiting on it. */
static void
chunk_written(wal_zeroer_t *z, zcopy_t *c, int fd, uint64_t at, uint64_t len, int rc) {
    if (c->fd == fd) { /* else detach_locked() already released the claims */
        c->busy_len = 0;
        if (c->waiters)
            pthread_cond_broadcast(&z->done);
        if (rc == 0)
            c->next = at + len;
    }
}

/* The thread is done with fd: close it when it went stale or, after an error, when it is
 * still the copy's (Z5, Z2). Drops mu around close(). */
static void
give_back(wal_zeroer_t *z, zcopy_t *c, int fd, int rc) {
    int close_fd = -1;
    c->thread_fd = -1;
    if (c->stale_fd == fd) {
        c->stale_fd = -1;
        close_fd = fd;
    } else if (rc < 0) {
        ASSERT(c->fd == fd);
        c->fd = -1;
        close_fd = fd;
    }
    if (close_fd >= 0) {
        pthread_mutex_unlock(&z->mu);
        close(close_fd);
        pthread_mutex_lock(&z->mu);
    }
}

/* Zero chunk [at, at + len) of copy ci. Called and returns with mu held; drops it for the
 * syscalls. */
static void
zero_chunk(wal_zeroer_t *z, int ci, uint64_t at, uint64_t len) {
    zcopy_t *c = &z->copy[ci];
    int fd = c->fd;
    ASSERT(at >= c->end && at % z->chunk == 0 && len % ZERO_ALIGN == 0); /* Z1, Z3 */
    ASSERT(at + len <= c->size && c->thread_fd < 0 && c->busy_len == 0); /* Z4, Z5 */
    c->busy_off = at;
    c->busy_len = len;
    c->thread_fd = fd;
    pthread_mutex_unlock(&z->mu);

    int rc =
        wal_zeroer_test.chunk_cb ? wal_zeroer_test.chunk_cb(wal_zeroer_test.ctx, ci, at, len) : 0;
    if (rc == 0)
        rc = zero_write(z, fd, at, len);

    pthread_mutex_lock(&z->mu);
    chunk_written(z, c, fd, at, len, rc);
    pthread_mutex_unlock(&z->mu);

    if (rc == 0 && fdatasync(fd) < 0) /* Z3: the extent conversion is committed here */
        rc = KERR_SYS(errno);

    pthread_mutex_lock(&z->mu);
    if (rc < 0) {
        z->st.failures++;
    } else {
        z->st.chunks++;
        z->st.bytes += len;
    }
    give_back(z, c, fd, rc);
}

/* Read [at, at + len) of copy ci into the page cache. Called and returns with mu held. */
static void
prefetch(wal_zeroer_t *z, int ci, uint64_t at, uint64_t len) {
    zcopy_t *c = &z->copy[ci];
    int fd = c->fd;
    ASSERT(c->thread_fd < 0);
    c->pf = at + len;
    c->thread_fd = fd;
    pthread_mutex_unlock(&z->mu);
    (void)posix_fadvise(fd, (off_t)at, (off_t)len, POSIX_FADV_WILLNEED); /* advice only */
    pthread_mutex_lock(&z->mu);
    give_back(z, c, fd, 0);
}

/* The next piece of work: a prefetch piece first (the writer is about to need it), else the
 * chunk with the smallest lead. Returns 0 when there is none, 1 for a prefetch, 2 for a chunk. */
static int
pick_work(const wal_zeroer_t *z, int *ci, uint64_t *at, uint64_t *len) {
    for (int i = 0; i < WAL_COPIES_MAX; i++) {
        if ((*len = prefetch_due(z, &z->copy[i], at)) != 0) {
            *ci = i;
            return 1;
        }
    }
    return pick(z, ci, at, len) ? 2 : 0;
}

static void *
zero_main(void *arg) {
    wal_zeroer_t *z = arg;
    pthread_setname_np(pthread_self(), "keel-zero");
    pthread_mutex_lock(&z->mu);
    while (!z->stop) {
        int ci = 0;
        uint64_t at = 0, len = 0;
        int kind = pick_work(z, &ci, &at, &len);
        if (kind == 1) {
            prefetch(z, ci, at, len);
            continue;
        }
        if (kind == 2) {
            zero_chunk(z, ci, at, len);
            continue;
        }
        z->idle = 1;
        pthread_cond_wait(&z->work, &z->mu);
        z->idle = 0;
    }
    pthread_mutex_unlock(&z->mu);
    return NULL;
}

/* ---- API ----------------------------------------------------------------------------------- */

static void
zeroer_free(wal_zeroer_t *z) {
    if (z->ring_ok)
        io_uring_queue_exit(&z->ring);
    pthread_cond_destroy(&z->done);
    pthread_cond_destroy(&z->work);
    pthread_mutex_destroy(&z->mu);
    free(z->zbuf); /* raw: posix_memalign, O_DIRECT buffer */
    kfree(z);
}

int
wal_zeroer_start(wal_zeroer_t **out, uint64_t chunk_bytes, uint64_t ahead_bytes) {
    *out = NULL;
    if (chunk_bytes < WAL_ZEROER_CHUNK_BYTES_MIN || chunk_bytes > WAL_ZEROER_CHUNK_BYTES_MAX ||
        (chunk_bytes & (chunk_bytes - 1)) || ahead_bytes < chunk_bytes)
        return KERR_INVAL;
    wal_zeroer_t *z = kcalloc(1, sizeof *z);
    z->chunk = chunk_bytes;
    z->ahead = ahead_bytes;
    z->zbuf_len = chunk_bytes < ZERO_BUF_BYTES ? chunk_bytes : ZERO_BUF_BYTES;
    /* Raw, not kmalloc: O_DIRECT needs a ZERO_ALIGN-aligned buffer, which kmem cannot give. */
    if (posix_memalign(&z->zbuf, ZERO_ALIGN, z->zbuf_len) != 0) {
        kfree(z);
        return KERR_NOMEM;
    }
    memset(z->zbuf, 0, z->zbuf_len);
    for (int i = 0; i < WAL_COPIES_MAX; i++)
        z->copy[i] = (zcopy_t){.fd = -1, .thread_fd = -1, .stale_fd = -1};
    pthread_mutex_init(&z->mu, NULL);
    pthread_cond_init(&z->work, NULL);
    pthread_cond_init(&z->done, NULL);
    z->prefetch = !wal_zeroer_test.no_prefetch;
    /* Depth 2: one write at a time, with room so that get_sqe never fails. */
    z->ring_ok = !wal_zeroer_test.sync_io && io_uring_queue_init(2, &z->ring, 0) == 0;
    int rc = pthread_create(&z->thread, NULL, zero_main, z);
    if (rc != 0) {
        zeroer_free(z);
        return KERR_SYS(rc);
    }
    *out = z;
    return 0;
}

void
wal_zeroer_stop(wal_zeroer_t *z) {
    if (!z)
        return;
    pthread_mutex_lock(&z->mu);
    z->stop = 1;
    pthread_cond_signal(&z->work);
    pthread_mutex_unlock(&z->mu);
    pthread_join(z->thread, NULL);
    for (int i = 0; i < WAL_COPIES_MAX; i++) {
        ASSERT(z->copy[i].thread_fd < 0 && z->copy[i].stale_fd < 0); /* the thread closed them */
        if (z->copy[i].fd >= 0)
            close(z->copy[i].fd);
    }
    zeroer_free(z);
}

/* The zeroer's own fd on a segment, or a negative error when zeroing it is impossible. */
static int
zero_open(int dirfd, const char *name) {
    int fd = openat(dirfd, name, O_WRONLY | O_DIRECT | O_CLOEXEC);
    if (fd < 0)
        return KERR_SYS(errno);
    struct statfs sf;
    if (fstatfs(fd, &sf) == 0 && (sf.f_type == TMPFS_MAGIC || sf.f_type == RAMFS_MAGIC)) {
        close(fd); /* Z2: no unwritten extents there, nothing to gain */
        return KERR_SYS(EOPNOTSUPP);
    }
    return fd;
}

void
wal_zeroer_segment(wal_zeroer_t *z, int ci, int dirfd, const char *name, uint64_t size,
                   uint64_t end) {
    if (!z)
        return;
    ASSERT(ci >= 0 && ci < WAL_COPIES_MAX);
    int fd = zero_open(dirfd, name);
    pthread_mutex_lock(&z->mu);
    zcopy_t *c = &z->copy[ci];
    int old = detach_locked(z, c);
    c->fd = fd < 0 ? -1 : fd;
    c->size = size;
    c->end = end;
    c->next = 0;
    c->pf = 0;
    if (fd < 0)
        z->st.failures++;
    wake_locked(z, c);
    pthread_mutex_unlock(&z->mu);
    if (old >= 0)
        close(old);
}

void
wal_zeroer_claim(wal_zeroer_t *z, int ci, uint64_t off, uint64_t len) {
    if (!z)
        return;
    ASSERT(ci >= 0 && ci < WAL_COPIES_MAX);
    zcopy_t *c = &z->copy[ci];
    pthread_mutex_lock(&z->mu);
    /* Raise the end first (Z1): while we wait, no new chunk may start below it. */
    if (off + len > c->end)
        c->end = off + len;
    rate_check_locked(c);
    if (overlaps_busy(c, off, len)) {
        z->st.writer_waits++;
        c->waiters++;
        while (overlaps_busy(c, off, len))
            pthread_cond_wait(&z->done, &z->mu);
        c->waiters--;
    }
    wake_locked(z, c);
    pthread_mutex_unlock(&z->mu);
}

void
wal_zeroer_drop(wal_zeroer_t *z, int ci) {
    if (!z)
        return;
    ASSERT(ci >= 0 && ci < WAL_COPIES_MAX);
    pthread_mutex_lock(&z->mu);
    int old = detach_locked(z, &z->copy[ci]);
    pthread_mutex_unlock(&z->mu);
    if (old >= 0)
        close(old);
}

void
wal_zeroer_get_stats(wal_zeroer_t *z, wal_zeroer_stats_t *st) {
    if (!z) {
        memset(st, 0, sizeof *st);
        return;
    }
    pthread_mutex_lock(&z->mu);
    *st = z->st;
    pthread_mutex_unlock(&z->mu);
}
