/*
 * wal_zero_bench.c - wal-zero-bench: what the segment zeroer (wal/zero.c) buys the log writer.
 *
 *   build/wal-zero-bench [DIR] [OPS] [ROUNDS]     (defaults: /tmp 2000 2)
 *
 * For each mode, OPS appends of 8 KiB at 64 + i * 8 KiB (records are 8-byte aligned, not page
 * aligned), each followed by fdatasync as the writer does in sync mode, into a 32 MiB segment
 * fallocated in a fresh directory under DIR (the file system under test). Prints, per mode,
 * write+fdatasync p50/p99, the ops over 400 us, the pwrite part alone, and the CPU per op of
 * the whole process (writer + zeroer). Nothing is asserted: a measurement, not a test, so it is
 * a CMake target of its own and not part of ctest (it runs ~24,000 fdatasyncs with the
 * defaults). The figures quoted at the top of wal/zero.c come from here.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "zero.h"

#define MIB        (1ull << 20)
#define KIB        (1ull << 10)
#define SEG_SIZE   (32 * MIB)
#define APPEND_LEN (8 * KIB)
#define SLOW_US    400

enum bench_mode { FALLOCATED, PREZEROED, LIVE_1M, LIVE, LIVE_PWRITEV, LIVE_NO_PREFETCH };
static const char *const bench_name[] = {"fallocated only",         "zeroed before, not cached",
                                         "zeroer 1 MiB chunks",     "zeroer 256 KiB chunks",
                                         "zeroer 256 KiB, pwritev", "zeroer 256 KiB, no WILLNEED"};

static void
die(const char *what) {
    fprintf(stderr, "wal-zero-bench: %s: %s\n", what, strerror(errno));
    exit(1);
}

static uint64_t
now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static double
cpu_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int
cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int
rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

/* A segment as writer.c makes it: created, fallocated to size, a 64-byte header written. */
static int
seg_make(int dirfd, const char *name, uint64_t size) {
    int fd = openat(dirfd, name, O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0644);
    if (fd < 0)
        die("create segment");
    if (fallocate(fd, 0, 0, (off_t)size) != 0)
        die("fallocate");
    uint8_t hdr[64];
    memset(hdr, 0xA5, sizeof hdr);
    if (pwrite(fd, hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr || fdatasync(fd) != 0)
        die("segment header");
    return fd;
}

/* Wait (10 s at most) until the zeroer finished or gave up n chunks. */
static void
wait_chunks(wal_zeroer_t *z, uint64_t n) {
    uint64_t t0 = now_us();
    wal_zeroer_stats_t st;
    wal_zeroer_get_stats(z, &st);
    while (st.chunks + st.failures < n && now_us() - t0 < 10000000) {
        usleep(2000);
        wal_zeroer_get_stats(z, &st);
    }
}

static void
print_row(enum bench_mode mode, uint64_t *lat, uint64_t *wl, int ops, int slow, double cpu,
          uint64_t waits) {
    qsort(lat, (size_t)ops, sizeof *lat, cmp_u64);
    qsort(wl, (size_t)ops, sizeof *wl, cmp_u64);
    printf("  %-28s write+fdatasync p50 %4llu p99 %5llu us, %3d ops > %d us | pwrite p50 %3llu "
           "p99 %4llu max %5llu us | CPU %3.0f us/op | waits %llu\n",
           bench_name[mode], (unsigned long long)lat[ops / 2],
           (unsigned long long)lat[ops * 99 / 100], slow, SLOW_US, (unsigned long long)wl[ops / 2],
           (unsigned long long)wl[ops * 99 / 100], (unsigned long long)wl[ops - 1], cpu,
           (unsigned long long)waits);
}

/* Start the zeroer the way the mode asks (NULL for FALLOCATED) and register the segment. */
static wal_zeroer_t *
zeroer_for(enum bench_mode mode, int dirfd) {
    wal_zeroer_t *z = NULL;
    wal_zeroer_test = (wal_zeroer_test_t){.sync_io = mode == LIVE_PWRITEV,
                                          .no_prefetch = mode == LIVE_NO_PREFETCH};
    uint64_t chunk = mode == LIVE_1M || mode == PREZEROED ? 1 * MIB : 256 * KIB;
    if (mode != FALLOCATED && wal_zeroer_start(&z, chunk, mode == PREZEROED ? SEG_SIZE : 8 * MIB))
        die("zeroer start");
    wal_zeroer_segment(z, 0, dirfd, "seg", SEG_SIZE, 64);
    if (mode == PREZEROED) {
        wait_chunks(z, SEG_SIZE / MIB - 1); /* stopped before the writes: nothing read ahead */
        wal_zeroer_stop(z);
        z = NULL;
    }
    return z;
}

static void
bench_one(const char *base, enum bench_mode mode, int ops) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/keel-zero-bench-XXXXXX", base);
    if (!mkdtemp(dir))
        die(dir);
    int dirfd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    if (dirfd < 0)
        die(dir);
    int fd = seg_make(dirfd, "seg", SEG_SIZE);
    wal_zeroer_t *z = zeroer_for(mode, dirfd);
    static uint8_t buf[APPEND_LEN];
    memset(buf, 'x', sizeof buf);
    uint64_t *lat = malloc((size_t)ops * sizeof *lat), *wl = malloc((size_t)ops * sizeof *wl);
    if (!lat || !wl)
        die("malloc");
    int slow = 0;
    double c0 = cpu_us();
    for (int i = 0; i < ops; i++) {
        uint64_t off = 64 + (uint64_t)i * APPEND_LEN, t0 = now_us();
        wal_zeroer_claim(z, 0, off, APPEND_LEN);
        if (pwrite(fd, buf, APPEND_LEN, (off_t)off) != (ssize_t)APPEND_LEN)
            die("pwrite");
        uint64_t t1 = now_us();
        if (fdatasync(fd) != 0)
            die("fdatasync");
        lat[i] = now_us() - t0;
        wl[i] = t1 - t0;
        slow += lat[i] > SLOW_US;
    }
    double cpu = (cpu_us() - c0) / ops;
    wal_zeroer_stats_t st;
    wal_zeroer_get_stats(z, &st);
    wal_zeroer_stop(z);
    print_row(mode, lat, wl, ops, slow, cpu, st.writer_waits);
    free(lat);
    free(wl);
    close(fd);
    close(dirfd);
    nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

int
main(int argc, char **argv) {
    const char *base = argc > 1 ? argv[1] : "/tmp";
    int ops = argc > 2 ? atoi(argv[2]) : 2000, rounds = argc > 3 ? atoi(argv[3]) : 2;
    if (argc > 4 || ops < 1 || (uint64_t)ops * APPEND_LEN + 64 > SEG_SIZE || rounds < 1) {
        fprintf(stderr, "usage: wal-zero-bench [DIR] [OPS 1..%llu] [ROUNDS]\n",
                (unsigned long long)((SEG_SIZE - 64) / APPEND_LEN));
        return 2;
    }
    printf("zeroer: %d x (8 KiB pwrite at unaligned offsets + fdatasync), 32 MiB segment in %s; "
           "CPU is the whole process (writer + zeroer)\n",
           ops, base);
    for (int round = 0; round < rounds; round++)
        for (int m = FALLOCATED; m <= LIVE_NO_PREFETCH; m++)
            bench_one(base, (enum bench_mode)m, ops);
    return 0;
}
