/* test_snapshot_perf.c - keys/s for writing and loading 2,000,000 small keys with 1 and 2
 * threads. A measurement, not an assertion of speed: it runs only with KEEL_SNAPSHOT_BENCH=1
 * (the machine is shared) and checks only that every key made the trip. */
#include <criterion/criterion.h>
#include <time.h>

#include "kerr.h"
#include "snapshot.h"
#include "test_snapshot_util.h"

#define PERF_KEYS 2000000

/* Decimal digits of v after prefix; snprintf would cost more than the snapshot code measured. */
static size_t
fmt_u64(char *out, const char *prefix, size_t plen, uint64_t v) {
    char tmp[20];
    size_t n = 0;
    memcpy(out, prefix, plen);
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[plen + i] = tmp[n - 1 - i];
    return plen + n;
}

static int
perf_produce_cb(void *ctx, int part, int nparts, snap_sink_t *s) {
    char key[32], val[32];
    int rc = 0;
    /* Contiguous ranges, as the server hands each thread a range of buckets. */
    uint64_t lo = (uint64_t)PERF_KEYS * (uint64_t)part / (uint64_t)nparts;
    uint64_t hi = (uint64_t)PERF_KEYS * (uint64_t)(part + 1) / (uint64_t)nparts;
    for (uint64_t i = lo; i < hi && rc == 0; i++) {
        size_t kl = fmt_u64(key, "key:", 4, i);
        size_t vl = fmt_u64(val, "val:", 4, i * 2654435761u);
        int64_t expire_ms = i % 4 ? SNAP_NO_EXPIRE : 1700000000000 + (int64_t)i;
        rc = snap_put_string(s, 0, key, kl, expire_ms, val, vl);
    }
    return rc;
}

/* Per loader thread, a cache line each: shared atomics would measure contention, not loading. */
static struct {
    uint64_t keys, bytes;
    char pad[48];
} per_thread[SNAP_THREADS_MAX];

static int
perf_apply_cb(void *ctx, int thread, const snap_rec_t *rec) {
    snap_rec_t it = *rec;
    const char *p;
    size_t n;
    uint64_t b = rec->klen;
    while (snap_rec_next(&it, &p, &n, NULL) == 1)
        b += n;
    per_thread[thread].keys++;
    per_thread[thread].bytes += b;
    return 0;
}

static double
now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

Test(snapshot_perf, two_million_small_keys, .timeout = 600) {
    char dir[64], path[128], err[256] = "";

    if (!getenv("KEEL_SNAPSHOT_BENCH"))
        cr_skip_test("set KEEL_SNAPSHOT_BENCH=1 to measure");
    tk_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/perf.ksnap", dir);
    for (int threads = 1; threads <= 2; threads++) {
        snap_write_stats_t st;
        snap_write_opts_t o = {.path = path, .nthreads = threads};
        cr_assert_eq(snap_write(&o, perf_produce_cb, NULL, &st, err, sizeof err), 0, "%s", err);
        cr_assert_eq(st.keys, PERF_KEYS);
        memset(per_thread, 0, sizeof per_thread);
        double t0 = now_s();
        cr_assert_eq(snap_load(path, threads, perf_apply_cb, NULL, NULL, err, sizeof err), 0, "%s",
                     err);
        double load_s = now_s() - t0;
        uint64_t loaded = 0;
        for (int t = 0; t < SNAP_THREADS_MAX; t++)
            loaded += per_thread[t].keys;
        cr_assert_eq(loaded, PERF_KEYS);
        fprintf(stderr,
                "snapshot perf: %d thread(s): write %.0f keys/s (%.3f s, %u chunks, %.1f MB raw "
                "-> %.1f MB file incl. fsync), load %.0f keys/s (%.3f s)\n",
                threads, PERF_KEYS / st.seconds, st.seconds, st.chunks, st.bytes_raw / 1e6,
                st.bytes_file / 1e6, PERF_KEYS / load_s, load_s);
    }
    tk_rmdir(dir);
}
