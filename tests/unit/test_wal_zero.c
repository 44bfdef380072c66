/* test_wal_zero.c - the segment zeroer (wal/zero.c): blocks ahead of the data end become
 * zero-*written* extents (checked with FIEMAP), the writer's bytes are never overwritten (read
 * back with O_DIRECT, so the disk and not the page cache is checked), claim() waits for an
 * overlapping chunk and only then, failures stop zeroing quietly, stop/drop/segment replace
 * work mid-chunk. Runs on /tmp (ext4 here); tmpfs for the refused case. The measurement of
 * what zeroing buys (fdatasync latency of 8 KiB appends) is bench/wal_zero_bench.c. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kerr.h"
#include "wal.h"
#include "zero.h"

#define MIB (1ull << 20)
#define KIB (1ull << 10)

/* ---- helpers ------------------------------------------------------------------------------- */

typedef struct tdir {
    char path[64];
    int fd;
} tdir_t;

static void
tdir_make(tdir_t *t, const char *base) {
    snprintf(t->path, sizeof t->path, "%s/keel-zero-test-XXXXXX", base);
    cr_assert_not_null(mkdtemp(t->path));
    t->fd = open(t->path, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    cr_assert(t->fd >= 0);
}

static int
rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void
tdir_remove(tdir_t *t) {
    close(t->fd);
    nftw(t->path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* A segment as writer.c makes it: created, fallocated to size, a 64-byte header written.
 * Returns the writer's (buffered) fd. */
static int
seg_make(tdir_t *t, const char *name, uint64_t size) {
    int fd = openat(t->fd, name, O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0644);
    cr_assert(fd >= 0);
    cr_assert_eq(fallocate(fd, 0, 0, (off_t)size), 0, "fallocate: %s", strerror(errno));
    uint8_t hdr[64];
    memset(hdr, 0xA5, sizeof hdr);
    cr_assert_eq(pwrite(fd, hdr, sizeof hdr, 0), (ssize_t)sizeof hdr);
    cr_assert_eq(fdatasync(fd), 0);
    return fd;
}

/* Bytes of [off, off + len) in written and in unwritten extents (holes count as neither). */
static void
extents(int fd, uint64_t off, uint64_t len, uint64_t *written, uint64_t *unwritten) {
    enum { N = 256 };
    struct fiemap *fm = calloc(1, sizeof *fm + N * sizeof(struct fiemap_extent));
    cr_assert_not_null(fm);
    *written = *unwritten = 0;
    uint64_t pos = off, stop = off + len;
    while (pos < stop) {
        memset(fm, 0, sizeof *fm);
        fm->fm_start = pos;
        fm->fm_length = stop - pos;
        fm->fm_flags = FIEMAP_FLAG_SYNC;
        fm->fm_extent_count = N;
        cr_assert_eq(ioctl(fd, FS_IOC_FIEMAP, fm), 0, "FIEMAP: %s", strerror(errno));
        if (fm->fm_mapped_extents == 0)
            break;
        for (uint32_t i = 0; i < fm->fm_mapped_extents; i++) {
            struct fiemap_extent *e = &fm->fm_extents[i];
            uint64_t a = e->fe_logical > pos ? e->fe_logical : pos;
            uint64_t b = e->fe_logical + e->fe_length < stop ? e->fe_logical + e->fe_length : stop;
            if (b > a)
                *(e->fe_flags & FIEMAP_EXTENT_UNWRITTEN ? unwritten : written) += b - a;
            pos = b > pos ? b : pos;
        }
        if (fm->fm_extents[fm->fm_mapped_extents - 1].fe_flags & FIEMAP_EXTENT_LAST)
            break;
    }
    free(fm);
}

static void
assert_written(int fd, uint64_t off, uint64_t len) {
    uint64_t w, u;
    extents(fd, off, len, &w, &u);
    cr_assert_eq(w, len, "[%llu, %llu): %llu bytes written, %llu unwritten, want all written",
                 (unsigned long long)off, (unsigned long long)(off + len), (unsigned long long)w,
                 (unsigned long long)u);
}

static void
assert_unwritten(int fd, uint64_t off, uint64_t len) {
    uint64_t w, u;
    extents(fd, off, len, &w, &u);
    cr_assert_eq(u, len, "[%llu, %llu): %llu bytes written, %llu unwritten, want all unwritten",
                 (unsigned long long)off, (unsigned long long)(off + len), (unsigned long long)w,
                 (unsigned long long)u);
}

static uint64_t
now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static wal_zeroer_stats_t
stats(wal_zeroer_t *z) {
    wal_zeroer_stats_t st;
    wal_zeroer_get_stats(z, &st);
    return st;
}

/* Wait up to 10 s for stats.chunks + stats.failures to reach n; returns the stats. */
static wal_zeroer_stats_t
wait_done(wal_zeroer_t *z, uint64_t n) {
    uint64_t t0 = now_us();
    wal_zeroer_stats_t st = stats(z);
    while (st.chunks + st.failures < n && now_us() - t0 < 10000000) {
        usleep(2000);
        st = stats(z);
    }
    cr_assert_geq(st.chunks + st.failures, n, "only %llu chunks, %llu failures after 10 s",
                  (unsigned long long)st.chunks, (unsigned long long)st.failures);
    return st;
}

static int
count_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    cr_assert_not_null(d);
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static void
wait_fds(int want) {
    for (int i = 0; i < 5000 && count_fds() != want; i++)
        usleep(1000);
    cr_assert_eq(count_fds(), want, "open fds");
}

/* A chunk_cb that records every chunk, can hold one chunk (gate_off) until released, can sleep
 * in each chunk and can fail the n-th one. */
typedef struct hook {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int calls;
    uint64_t off[64];
    int ci[64];
    uint64_t gate_off; /* hold the chunk at this offset (0: none) until open */
    int entered, open;
    useconds_t sleep_us;
    int fail_nth; /* the fail_nth call (1-based) returns fail_err */
    int fail_err;
    _Atomic uint64_t *published_end; /* checks Z1 from outside: chunk starts >= the claimed end */
    atomic_int violations;
} hook_t;

static int
hook_cb(void *ctx, int ci, uint64_t off, uint64_t len) {
    hook_t *h = ctx;
    (void)len;
    if (h->published_end && off < atomic_load(h->published_end))
        atomic_fetch_add(&h->violations, 1);
    pthread_mutex_lock(&h->mu);
    int n = ++h->calls;
    if (n <= 64) {
        h->off[n - 1] = off;
        h->ci[n - 1] = ci;
    }
    if (h->gate_off && off == h->gate_off) {
        h->entered = 1;
        pthread_cond_broadcast(&h->cv);
        while (!h->open)
            pthread_cond_wait(&h->cv, &h->mu);
    }
    pthread_mutex_unlock(&h->mu);
    if (h->sleep_us)
        usleep(h->sleep_us);
    return n == h->fail_nth ? -h->fail_err : 0;
}

static void
hook_install(hook_t *h) {
    memset(h, 0, sizeof *h);
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    wal_zeroer_test.chunk_cb = hook_cb;
    wal_zeroer_test.ctx = h;
}

static void
hook_wait_entered(hook_t *h) {
    pthread_mutex_lock(&h->mu);
    while (!h->entered)
        pthread_cond_wait(&h->cv, &h->mu);
    pthread_mutex_unlock(&h->mu);
}

static void
hook_open(hook_t *h) {
    pthread_mutex_lock(&h->mu);
    h->open = 1;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

static int
hook_calls(hook_t *h) {
    pthread_mutex_lock(&h->mu);
    int n = h->calls;
    pthread_mutex_unlock(&h->mu);
    return n;
}

/* ---- zeroing ahead ------------------------------------------------------------------------- */

/* Segment of 16 MiB, data end 64, chunk 1 MiB, ahead 8 MiB: chunks 1..7 are due (the first
 * holds the header and is never zeroed; chunk 8 would end past end + ahead). */
static void
check_ahead_then_claim(void) {
    tdir_t t;
    tdir_make(&t, "/tmp");
    int fd = seg_make(&t, "seg", 16 * MIB);
    assert_unwritten(fd, 1 * MIB, 15 * MIB); /* fallocate left unwritten extents */
    wal_zeroer_t *z;
    cr_assert_eq(wal_zeroer_start(&z, 1 * MIB, 8 * MIB), 0);
    wal_zeroer_segment(z, 0, t.fd, "seg", 16 * MIB, 64);
    wal_zeroer_stats_t st = wait_done(z, 7);
    usleep(100000); /* nothing more may come */
    st = stats(z);
    cr_assert_eq(st.chunks, 7);
    cr_assert_eq(st.bytes, 7 * MIB);
    cr_assert_eq(st.failures, 0);
    assert_written(fd, 1 * MIB, 7 * MIB);
    assert_unwritten(fd, 8 * MIB, 8 * MIB);    /* never past end + ahead */
    assert_unwritten(fd, 4 * KIB, 1020 * KIB); /* the header's chunk is left alone */

    wal_zeroer_claim(z, 0, 64, 3 * MIB); /* end 3 MiB + 64: chunks 8, 9, 10 become due */
    st = wait_done(z, 10);
    usleep(100000);
    cr_assert_eq(stats(z).chunks, 10);
    assert_written(fd, 8 * MIB, 3 * MIB);
    assert_unwritten(fd, 11 * MIB, 5 * MIB);
    cr_assert_eq(stats(z).writer_waits, 0);
    wal_zeroer_stop(z);
    close(fd);
    tdir_remove(&t);
}

Test(zero, blocks_ahead_of_the_data_end_become_written_extents_and_no_further, .timeout = 60) {
    check_ahead_then_claim();
}

Test(zero, the_pwritev_fallback_zeroes_the_same_way, .timeout = 60) {
    wal_zeroer_test.sync_io = 1;
    check_ahead_then_claim();
}

Test(zero, the_last_chunk_stops_at_the_segment_size, .timeout = 60) {
    tdir_t t;
    tdir_make(&t, "/tmp");
    uint64_t size = 3 * MIB + 8 * KIB; /* the last chunk is 8 KiB */
    int fd = seg_make(&t, "seg", size);
    wal_zeroer_t *z;
    cr_assert_eq(wal_zeroer_start(&z, 1 * MIB, 8 * MIB), 0);
    wal_zeroer_segment(z, 0, t.fd, "seg", size, 64);
    wait_done(z, 3);
    usleep(50000);
    cr_assert_eq(stats(z).chunks, 3);
    cr_assert_eq(stats(z).bytes, 2 * MIB + 8 * KIB);
    assert_written(fd, 1 * MIB, 2 * MIB + 8 * KIB);
    struct stat sb;
    cr_assert_eq(fstat(fd, &sb), 0);
    cr_assert_eq((uint64_t)sb.st_size, size, "the file never grows");
    wal_zeroer_stop(z);
    close(fd);
    tdir_remove(&t);
}

Test(zero, every_copy_is_zeroed, .timeout = 60) {
    enum { NC = 3 };
    tdir_t t[NC];
    int fd[NC];
    wal_zeroer_t *z;
    cr_assert_eq(wal_zeroer_start(&z, 256 * KIB, 1 * MIB), 0);
    for (int i = 0; i < NC; i++) {
        tdir_make(&t[i], "/tmp");
        fd[i] = seg_make(&t[i], "seg", 4 * MIB);
        wal_zeroer_segment(z, i * 3, t[i].fd, "seg", 4 * MIB, 64); /* copies 0, 3, 6 */
    }
    wait_done(z, NC * 3); /* chunks at 256, 512, 768 KiB of each */
    for (int i = 0; i < NC; i++) {
        assert_written(fd[i], 256 * KIB, 768 * KIB);
        assert_unwritten(fd[i], 1 * MIB, 3 * MIB);
    }
    wal_zeroer_stop(z);
    for (int i = 0; i < NC; i++) {
        close(fd[i]);
        tdir_remove(&t[i]);
    }
}

/* Resident pages of [off, off + len) in the page cache. */
static uint64_t
resident_pages(int fd, uint64_t size, uint64_t off, uint64_t len) {
    uint8_t *m = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
    cr_assert(m != MAP_FAILED);
    static unsigned char vec[(64 * MIB) / 4096];
    cr_assert_leq(size / 4096, sizeof vec);
    cr_assert_eq(mincore(m, size, vec), 0);
    uint64_t n = 0;
    for (uint64_t p = off / 4096; p < (off + len) / 4096; p++)
        n += vec[p] & 1;
    munmap(m, size);
    return n;
}

Test(zero, zeroed_blocks_just_ahead_of_the_writer_are_read_into_the_page_cache, .timeout = 60) {
    tdir_t t;
    tdir_make(&t, "/tmp");
    int fd = seg_make(&t, "seg", 4 * MIB);
    wal_zeroer_t *z;
    cr_assert_eq(wal_zeroer_start(&z, 256 * KIB, 2 * MIB), 0);
    wal_zeroer_segment(z, 0, t.fd, "seg", 4 * MIB, 64);
    wait_done(z, 7);
    wal_zeroer_claim(z, 0, 64, 1 * MIB); /* the window is now [1 MiB, 1.5 MiB) */
    uint64_t want = (512 * KIB) / 4096, got = 0;
    for (int i = 0; i < 2000 && got < want; i++) {
        usleep(1000);
        got = resident_pages(fd, 4 * MIB, 1 * MIB, 512 * KIB);
    }
    cr_assert_eq(got, want, "%llu of %llu pages ahead of the writer cached",
                 (unsigned long long)got, (unsigned long long)want);
    /* Beyond the window nothing is read (zeroed, not cached: O_DIRECT). */
    cr_assert_eq(resident_pages(fd, 4 * MIB, 1536 * KIB + 64 * KIB, 256 * KIB), 0);
    wal_zeroer_stop(z);
    close(fd);
    tdir_remove(&t);
}

/* ---- the writer's bytes -------------------------------------------------------------------- */

static uint8_t
pattern(uint64_t off) {
    return (uint8_t)((off * 131 + (off >> 11) * 7) | 1); /* never zero */
}

/* The "writer" appends records of varied sizes (claim, then pwrite), fdatasyncing now and then,
 * close behind a zeroer with small chunks, so claims land on chunks in progress. Then every
 * byte is read back from the disk with O_DIRECT. */
static void
check_writer_bytes_survive(void) {
    tdir_t t;
    tdir_make(&t, "/tmp");
    uint64_t size = 16 * MIB, stop = 12 * MIB;
    int fd = seg_make(&t, "seg", size);
    _Atomic uint64_t end = 64;
    hook_t h;
    hook_install(&h);
    h.published_end = &end;
    wal_zeroer_t *z;
    cr_assert_eq(wal_zeroer_start(&z, 64 * KIB, 256 * KIB), 0);
    wal_zeroer_segment(z, 0, t.fd, "seg", size, 64);
    uint8_t *buf = malloc(64 * KIB);
    uint64_t off = 64, seed = 12345;
    for (int i = 0; off < stop; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t len = 1 + (seed >> 33) % 40000;
        for (uint64_t k = 0; k < len; k++)
            buf[k] = pattern(off + k);
        wal_zeroer_claim(z, 0, off, len);
        atomic_store(&end, off + len);
        cr_assert_eq(pwrite(fd, buf, len, (off_t)off), (ssize_t)len);
        off += len;
        if (i % 8 == 0)
            cr_assert_eq(fdatasync(fd), 0);
    }
    wal_zeroer_stats_t st = stats(z);
    wal_zeroer_stop(z);
    cr_assert_eq(fdatasync(fd), 0);
    cr_log_info("writer bytes: %llu chunks, %llu writer waits", (unsigned long long)st.chunks,
                (unsigned long long)st.writer_waits);
    cr_assert_gt(st.chunks, 20, "the zeroer must have run alongside the writer");
    cr_assert_eq(atomic_load(&h.violations), 0, "a chunk started below the claimed data end");

    int dfd = openat(t.fd, "seg", O_RDONLY | O_DIRECT | O_CLOEXEC);
    cr_assert(dfd >= 0);
    void *rb;
    cr_assert_eq(posix_memalign(&rb, 4096, 1 * MIB), 0);
    for (uint64_t pos = 0; pos < size; pos += MIB) {
        cr_assert_eq(pread(dfd, rb, MIB, (off_t)pos), (ssize_t)MIB);
        const uint8_t *p = rb;
        for (uint64_t k = 0; k < MIB; k++) {
            uint64_t o = pos + k;
            uint8_t want = o < 64 ? 0xA5 : o < off ? pattern(o) : 0;
            if (p[k] != want)
                cr_assert_fail("byte %llu is %u, want %u (data end %llu)", (unsigned long long)o,
                               p[k], want, (unsigned long long)off);
        }
    }
    free(rb);
    free(buf);
    close(dfd);
    close(fd);
    tdir_remove(&t);
}

Test(zero, the_writers_bytes_are_never_overwritten, .timeout = 120) {
    check_writer_bytes_survive();
}

Test(zero, the_writers_bytes_are_never_overwritten_with_pwritev, .timeout = 120) {
    wal_zeroer_test.sync_io = 1;
    check_writer_bytes_survive();
}

/* ---- claim waits --------------------------------------------------------------------------- */

typedef struct claimer {
    wal_zeroer_t *z;
    int ci;
    uint64_t off, len;
    atomic_int done;
} claimer_t;

static void *
claimer_main(void *arg) {
    claimer_t *c = arg;
    wal_zeroer_claim(c->z, c->ci, c->off, c->len);
    atomic_store(&c->done, 1);
    return NULL;
}

static int
join_within(pthread_t th, int ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    return pthread_timedjoin_np(th, NULL, &ts);
}

Test(zero, claim_waits_while_a_chunk_in_progress_overlaps_and_only_then, .timeout = 60) {
    tdir_t t;
    tdir_make(&t, "/tmp");
    int fd = seg_make(&t, "seg", 4 * MIB);
    hook_t h;
    hook_install(&h);
    h.gate_off = 64 * KIB; /* the first chunk */
    wal_zeroer_t *z;
    cr_assert_eq(wal_zeroer_start(&z, 64 * KIB, 256 * KIB), 0);
    wal_zeroer_segment(z, 0, t.fd, "seg", 4 * MIB, 64);
    hook_wait_entered(&h);

    uint64_t t0 = now_us();
    wal_zeroer_claim(z, 0, 64, 1000); /* [64, 1064) does not overlap [64K, 128K) */
    cr_assert_lt(now_us() - t0, 1000000);
    cr_assert_eq(stats(z).writer_waits, 0);

    claimer_t c = {.z = z, .ci = 0, .off = 60 * KIB, .len = 8 * KIB}; /* overlaps */
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, claimer_main, &c), 0);
    usleep(200000);
    cr_assert_eq(atomic_load(&c.done), 0, "claim returned while the chunk was in progress");
    cr_assert_eq(stats(z).writer_waits, 1);
    /* Another copy is not held up by copy 0's chunk. */
    wal_zeroer_claim(z, 1, 60 * KIB, 8 * KIB);

    hook_open(&h);
    cr_assert_eq(join_within(th, 5000), 0, "claim still blocked 5 s after the chunk finished");
    cr_assert_eq(atomic_load(&c.done), 1);
    /* The end is now 68 KiB: the next chunks start at 128 KiB, never below. */
    wal_zeroer_stats_t st = wait_done(z, 4);
    wal_zeroer_stop(z);
    cr_assert_eq(st.writer_waits, 1);
    cr_assert_geq(h.calls, 4);
    cr_assert_eq(h.off[0], 64 * KIB);
    for (int i = 1; i < h.calls && i < 64; i++)
        cr_assert_geq(h.off[i], 128 * KIB, "chunk %d at %llu", i, (unsigned long long)h.off[i]);
    close(fd);
    tdir_remove(&t);
}

/* ---- failures ------------------------------------------------------------------------------ */

Test(zero, tmpfs_is_not_zeroed_and_claims_return_at_once, .timeout = 60) {
    tdir_t t;
    tdir_make(&t, "/dev/shm");
    int fd = seg_make(&t, "seg", 4 * MIB);
    hook_t h;
    hook_install(&h);
    wal_zeroer_t *z;
    cr_assert_eq(wal_zeroer_start(&z, 64 * KIB, 256 * KIB), 0);
    int fds = count_fds();
    wal_zeroer_segment(z, 0, t.fd, "seg", 4 * MIB, 64);
    cr_assert_eq(count_fds(), fds, "no fd kept on a segment that is not zeroed");
    uint64_t t0 = now_us();
    for (uint64_t off = 64; off < 2 * MIB; off += 4 * KIB)
        wal_zeroer_claim(z, 0, off, 4 * KIB);
    uint64_t took = now_us() - t0;
    usleep(100000);
    wal_zeroer_stats_t st = stats(z);
    cr_log_info("512 claims on a tmpfs copy: %llu us", (unsigned long long)took);
    cr_assert_lt(took, 1000000);
    cr_assert_eq(st.failures, 1);
    cr_assert_eq(st.chunks, 0);
    cr_assert_eq(st.bytes, 0);
    cr_assert_eq(st.writer_waits, 0);
    cr_assert_eq(hook_calls(&h), 0, "nothing may be written");
    wal_zeroer_stop(z);
    close(fd);
    tdir_remove(&t);
}

Test(zero, a_segment_that_cannot_be_opened_counts_a_failure, .timeout = 60) {
    tdir_t t;
    tdir_make(&t, "/tmp");
    wal_zeroer_t *z;
    cr_assert_eq(wal_zeroer_start(&z, 64 * KIB, 256 * KIB), 0);
    wal_zeroer_segment(z, 2, t.fd, "missing", 4 * MIB, 64);
    wal_zeroer_claim(z, 2, 64, 1 * MIB);
    wal_zeroer_stats_t st = stats(z);
    cr_assert_eq(st.failures, 1);
    cr_assert_eq(st.chunks, 0);
    wal_zeroer_stop(z);
    tdir_remove(&t);
}

static void
check_write_error(int err) {
    tdir_t t;
    tdir_make(&t, "/tmp");
    int fd = seg_make(&t, "a", 4 * MIB);
    int fd_b = seg_make(&t, "b", 4 * MIB);
    hook_t h;
    hook_install(&h);
    h.fail_nth = 2; /* the chunk at 128 KiB */
    h.fail_err = err;
    wal_zeroer_t *z;
    cr_assert_eq(wal_zeroer_start(&z, 64 * KIB, 256 * KIB), 0);
    int fds = count_fds();
    wal_zeroer_segment(z, 0, t.fd, "a", 4 * MIB, 64);
    wal_zeroer_stats_t st = wait_done(z, 2);
    cr_assert_eq(st.chunks, 1);
    cr_assert_eq(st.failures, 1);
    wait_fds(fds); /* the zeroer closed its fd on "a" */
    uint64_t t0 = now_us();
    wal_zeroer_claim(z, 0, 64, 1 * MIB); /* would make chunks due on a healthy copy */
    cr_assert_lt(now_us() - t0, 1000000);
    usleep(100000);
    cr_assert_eq(hook_calls(&h), 2, "no zeroing after the failure");
    cr_assert_eq(stats(z).writer_waits, 0);
    assert_written(fd, 64 * KIB, 64 * KIB);
    assert_unwritten(fd, 128 * KIB, 4 * MIB - 128 * KIB);

    wal_zeroer_segment(z, 0, t.fd, "b", 4 * MIB, 64); /* the next segment is tried again */
    st = wait_done(z, 2 + 3);
    cr_assert_eq(st.chunks, 4);
    assert_written(fd_b, 64 * KIB, 192 * KIB);
    wal_zeroer_stop(z);
    close(fd);
    close(fd_b);
    tdir_remove(&t);
}

Test(zero, an_eio_stops_zeroing_the_copy_until_its_next_segment, .timeout = 60) {
    check_write_error(EIO);
}

Test(zero, an_enospc_stops_zeroing_the_copy_until_its_next_segment, .timeout = 60) {
    check_write_error(ENOSPC);
}

/* ---- stop, drop, replace ------------------------------------------------------------------- */

Test(zero, stop_joins_promptly_in_the_middle_of_a_segment, .timeout = 60) {
    tdir_t t;
    tdir_make(&t, "/tmp");
    int fd = seg_make(&t, "seg", 16 * MIB);
    hook_t h;
    hook_install(&h);
    h.sleep_us = 300000; /* 7 chunks due: 2.1 s to zero them all */
    wal_zeroer_t *z;
    cr_assert_eq(wal_zeroer_start(&z, 1 * MIB, 8 * MIB), 0);
    int fds = count_fds();
    wal_zeroer_segment(z, 0, t.fd, "seg", 16 * MIB, 64);
    while (hook_calls(&h) == 0)
        usleep(1000);
    uint64_t t0 = now_us();
    wal_zeroer_stop(z);
    uint64_t took = now_us() - t0;
    cr_log_info("stop mid-segment took %llu us", (unsigned long long)took);
    cr_assert_lt(took, 1500000, "stop waited for more than the chunk in progress");
    cr_assert_leq(hook_calls(&h), 2);
    cr_assert_eq(count_fds(), fds - 1, "stop closed the zeroer's fd and its ring");
    close(fd);
    tdir_remove(&t);
}

Test(zero, drop_closes_the_fd_and_a_new_segment_is_zeroed_after_it, .timeout = 60) {
    tdir_t t;
    tdir_make(&t, "/tmp");
    int fd_a = seg_make(&t, "a", 4 * MIB);
    int fd_b = seg_make(&t, "b", 4 * MIB);
    wal_zeroer_t *z;
    cr_assert_eq(wal_zeroer_start(&z, 64 * KIB, 256 * KIB), 0);
    int fds = count_fds();
    wal_zeroer_segment(z, 0, t.fd, "a", 4 * MIB, 64);
    wait_done(z, 3);
    cr_assert_eq(count_fds(), fds + 1);
    wal_zeroer_drop(z, 0);
    cr_assert_eq(count_fds(), fds, "drop closed the fd");
    wal_zeroer_claim(z, 0, 64, 2 * MIB); /* a dropped copy: no wait, no zeroing */
    usleep(100000);
    cr_assert_eq(stats(z).chunks, 3);
    assert_unwritten(fd_a, 256 * KIB, 4 * MIB - 256 * KIB);

    wal_zeroer_segment(z, 0, t.fd, "b", 4 * MIB, 64);
    wait_done(z, 6);
    assert_written(fd_b, 64 * KIB, 192 * KIB);
    cr_assert_eq(stats(z).failures, 0);
    wal_zeroer_stop(z);
    close(fd_a);
    close(fd_b);
    tdir_remove(&t);
}

Test(zero, a_segment_replaced_mid_chunk_is_finished_in_the_background, .timeout = 60) {
    tdir_t t;
    tdir_make(&t, "/tmp");
    int fd_a = seg_make(&t, "a", 4 * MIB);
    int fd_b = seg_make(&t, "b", 4 * MIB);
    hook_t h;
    hook_install(&h);
    h.gate_off = 64 * KIB; /* hold a's first chunk */
    wal_zeroer_t *z;
    cr_assert_eq(wal_zeroer_start(&z, 64 * KIB, 256 * KIB), 0);
    int fds = count_fds();
    wal_zeroer_segment(z, 0, t.fd, "a", 4 * MIB, 64);
    hook_wait_entered(&h);
    wal_zeroer_segment(z, 0, t.fd, "b", 4 * MIB,
                       64 * KIB + 100); /* returns while a's chunk is held */
    cr_assert_eq(count_fds(), fds + 2, "a's fd stays open while the thread writes it");
    uint64_t t0 = now_us();
    wal_zeroer_claim(z, 0, 64 * KIB, 4 * KIB); /* b's offsets overlapping a's chunk: no wait */
    cr_assert_lt(now_us() - t0, 1000000);
    cr_assert_eq(stats(z).writer_waits, 0);
    hook_open(&h);
    wal_zeroer_stats_t st = wait_done(z, 4); /* a's chunk, then b's at 128, 192, 256 KiB */
    wait_fds(fds + 1);                       /* a's fd was closed by the thread */
    wal_zeroer_stop(z);
    cr_assert_eq(st.failures, 0);
    cr_assert_eq(h.off[1], 128 * KIB);
    assert_written(fd_a, 64 * KIB, 64 * KIB);
    assert_unwritten(fd_a, 128 * KIB, 4 * MIB - 128 * KIB);
    assert_written(fd_b, 128 * KIB, 192 * KIB);
    assert_unwritten(fd_b, 64 * KIB, 64 * KIB); /* below b's end: never zeroed */
    close(fd_a);
    close(fd_b);
    tdir_remove(&t);
}

Test(zero, bad_sizes_are_refused_and_a_null_zeroer_does_nothing) {
    wal_zeroer_t *z = (wal_zeroer_t *)1;
    cr_assert_eq(wal_zeroer_start(&z, 3000, 1 * MIB), KERR_INVAL);
    cr_assert_null(z);
    cr_assert_eq(wal_zeroer_start(&z, 2048, 1 * MIB), KERR_INVAL);
    cr_assert_eq(wal_zeroer_start(&z, 3 * MIB, 8 * MIB), KERR_INVAL);
    cr_assert_eq(wal_zeroer_start(&z, 128 * MIB, 256 * MIB), KERR_INVAL);
    cr_assert_eq(wal_zeroer_start(&z, 1 * MIB, 512 * KIB), KERR_INVAL);
    wal_zeroer_segment(NULL, 0, -1, "x", 1, 0);
    wal_zeroer_claim(NULL, 0, 0, 1);
    wal_zeroer_drop(NULL, 0);
    wal_zeroer_stats_t st = {.chunks = 9};
    wal_zeroer_get_stats(NULL, &st);
    cr_assert_eq(st.chunks, 0);
    wal_zeroer_stop(NULL);
}

/* A writer faster than ZERO_RATE_MAX_BYTES_S (100 MB/s) pauses zeroing (the zero writes would
 * compete with it for the disk); once it slows down, zeroing resumes from its data end. */
Test(zero, a_fast_writer_pauses_zeroing_and_a_slow_one_resumes_it, .timeout = 60) {
    tdir_t t;
    tdir_make(&t, "/tmp");
    int fd = seg_make(&t, "seg", 64 * MIB);
    wal_zeroer_t *z;
    cr_assert_eq(wal_zeroer_start(&z, 256 * KIB, 8 * MIB), 0);
    wal_zeroer_segment(z, 0, t.fd, "seg", 64 * MIB, 64);
    wait_done(z, 28); /* [256 KiB, 8 MiB + 64) is zeroed */
    uint64_t end = 64;
    for (int i = 0; i < 100; i++) { /* 256 KiB per ms: ~250 MB/s for 100 ms */
        wal_zeroer_claim(z, 0, end, 256 * KIB);
        end += 256 * KIB;
        usleep(1000);
    }
    usleep(100000);
    uint64_t paused = stats(z).chunks;
    usleep(200000);
    cr_assert_eq(stats(z).chunks, paused, "no zeroing while the writer is fast");
    uint64_t ahead = (end + MIB - 1) & ~(MIB - 1);
    assert_unwritten(fd, ahead, 1 * MIB); /* chunks were due there, and left alone */
    for (int i = 0; i < 3; i++) {         /* 4 KiB per 25 ms: well under the limit */
        wal_zeroer_claim(z, 0, end, 4 * KIB);
        end += 4 * KIB;
        usleep(25000);
    }
    wait_done(z, paused + 4);
    cr_assert_gt(stats(z).chunks, paused, "zeroing resumed");
    wal_zeroer_stop(z);
    assert_written(fd, ahead, 1 * MIB);
    close(fd);
    tdir_remove(&t);
}
