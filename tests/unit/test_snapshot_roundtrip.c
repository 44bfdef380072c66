/* test_snapshot_roundtrip.c - every type written and read back key by key, with 1, 2 and 4
 * writer and loader threads, small chunks so that keys spread over many chunks. */
#include <criterion/criterion.h>

#include "kerr.h"
#include "kmem.h"
#include "snapshot.h"
#include "test_snapshot_util.h"

#define N_KEYS 3000

static char dir[64], path[128];

static void
setup(void) {
    tk_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/dump.ksnap", dir);
}

static void
teardown(void) {
    tk_rmdir(dir);
}

static void
write_keys(uint64_t n, int nthreads, uint32_t version, snap_write_stats_t *st) {
    tk_produce_t prod = {.n = n, .with_meta = 1};
    snap_write_opts_t o = {.path = path,
                           .nthreads = nthreads,
                           .format_version = version,
                           .lsn = 4242,
                           .time_ms = 1700000000123,
                           .chunk_bytes = 64 << 10};
    char err[256] = "";
    int rc = snap_write(&o, tk_produce_cb, &prod, st, err, sizeof err);
    cr_assert_eq(rc, 0, "write failed: %d %s", rc, err);
}

/* One load, checked; returns how many loader threads applied keys. */
static int
load_once(uint64_t n, int nthreads, int expect_meta, snap_info_t *info) {
    tk_load_t l;
    char err[256] = "";

    tk_load_init(&l, n, expect_meta);
    int rc = snap_load(path, nthreads, tk_apply_cb, &l, info, err, sizeof err);
    cr_assert_eq(rc, 0, "load failed: %d %s", rc, err);
    cr_assert_eq(l.bad, 0, "%" PRIu64 " bad keys, first: %s", (uint64_t)l.bad, l.first_bad);
    cr_assert_eq(l.applied, n);
    cr_assert_eq(tk_load_missing(&l), 0);
    cr_assert_eq(info->keys, n);
    cr_assert_eq(info->lsn, 4242);
    cr_assert_eq(info->time_ms, 1700000000123);
    int seen = __builtin_popcount(l.threads_seen);
    tk_load_free(&l);
    return seen;
}

static void
load_and_check(uint64_t n, int nthreads, int expect_meta) {
    snap_info_t info;
    int seen = load_once(n, nthreads, expect_meta, &info);
    if (nthreads > 1 && info.chunks >= (uint32_t)nthreads * 4) {
        /* On a busy machine one thread may take every chunk of a load; the loader must still
         * spread them in one of a few loads. */
        for (int i = 0; i < 10 && seen <= 1; i++)
            seen = load_once(n, nthreads, expect_meta, &info);
        cr_assert_gt(seen, 1, "load did not run in parallel in 11 loads");
    }
}

static void
roundtrip(int wthreads, int lthreads) {
    snap_write_stats_t st;
    write_keys(N_KEYS, wthreads, 0, &st);
    cr_assert_eq(st.keys, N_KEYS);
    cr_assert_gt(st.chunks, 8, "64 KiB chunks should make many chunks, got %u", st.chunks);
    cr_assert_gt(st.bytes_raw, st.bytes_file / 4);
    cr_assert_eq(access(path, F_OK), 0);
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    cr_assert_neq(access(tmp, F_OK), 0, "the .tmp file must be renamed away");
    load_and_check(N_KEYS, lthreads, 1);
}

TestSuite(snapshot_roundtrip, .init = setup, .fini = teardown, .timeout = 120);

Test(snapshot_roundtrip, every_type_with_one_thread) {
    roundtrip(1, 1);
}

Test(snapshot_roundtrip, every_type_with_two_threads) {
    roundtrip(2, 2);
}

Test(snapshot_roundtrip, every_type_with_four_threads) {
    roundtrip(4, 4);
}

Test(snapshot_roundtrip, loader_thread_count_need_not_match_writer) {
    roundtrip(4, 1);
    load_and_check(N_KEYS, 3, 1);
}

Test(snapshot_roundtrip, empty_snapshot_loads_with_zero_keys) {
    snap_write_stats_t st;
    write_keys(0, 2, 0, &st);
    cr_assert_eq(st.keys, 0);
    cr_assert_eq(st.chunks, 0);
    load_and_check(0, 2, 1);
}

Test(snapshot_roundtrip, v1_written_by_the_v2_writer_drops_meta_and_int_encoding) {
    snap_write_stats_t st;
    snap_info_t info;
    write_keys(N_KEYS, 2, 1, &st);
    cr_assert_eq(snap_read_info(path, &info, NULL, 0), 0);
    cr_assert_eq(info.version, 1);
    cr_assert_eq(info.min_reader, 1);
    cr_assert_eq(info.flags, 0);
    load_and_check(N_KEYS, 2, 0); /* has_meta must be 0 for every key */
}

Test(snapshot_roundtrip, newest_with_integer_strings_needs_a_v2_reader) {
    snap_write_stats_t st;
    snap_info_t info;
    write_keys(N_KEYS, 1, 0, &st);
    cr_assert_eq(snap_read_info(path, &info, NULL, 0), 0);
    cr_assert_eq(info.version, SNAP_FORMAT_VERSION_MAX);
    cr_assert_eq(st.version, SNAP_FORMAT_VERSION_MAX);
    cr_assert_eq(st.min_reader, 2, "the identity section alone never raises min_reader");
    cr_assert_eq(info.min_reader, 2);
    cr_assert_eq(info.flags, SNAP_F_META | SNAP_F_INTSTR);
}

/* Values and records far above the chunk target: each lands whole in a chunk of its own size. */
Test(snapshot_roundtrip, big_values_exceed_the_chunk_target) {
    tk_load_t l;
    snap_write_stats_t st;
    write_keys(25, 1, 0, &st); /* keys 15..19 are big */
    cr_assert_gt(st.bytes_raw, 5 * TK_BIG_BYTES);
    tk_load_init(&l, 25, 1);
    cr_assert_eq(snap_load(path, 2, tk_apply_cb, &l, NULL, NULL, 0), 0);
    cr_assert_eq(l.bad, 0, "%s", l.first_bad);
    cr_assert_eq(tk_load_missing(&l), 0);
    tk_load_free(&l);
}

Test(snapshot_roundtrip, zstd_level_changes_size_not_content) {
    snap_write_stats_t fast, slow;
    tk_produce_t prod = {.n = 600, .with_meta = 1};
    snap_write_opts_t o = {
        .path = path, .nthreads = 1, .zstd_level = 1, .lsn = 4242, .time_ms = 1700000000123};
    cr_assert_eq(snap_write(&o, tk_produce_cb, &prod, &fast, NULL, 0), 0);
    o.zstd_level = 19;
    cr_assert_eq(snap_write(&o, tk_produce_cb, &prod, &slow, NULL, 0), 0);
    cr_assert_eq(fast.bytes_raw, slow.bytes_raw);
    cr_assert_lt(slow.bytes_file, fast.bytes_file);
    load_and_check(600, 1, 1);
}

static uint64_t progress_calls, progress_last_keys;

static void
progress_cb(void *ctx, uint64_t keys, uint64_t bytes) {
    (void)ctx;
    (void)bytes;
    cr_assert_geq(keys, progress_last_keys, "progress must not go backwards");
    progress_last_keys = keys;
    progress_calls++;
}

Test(snapshot_roundtrip, progress_reports_every_chunk_up_to_all_keys) {
    snap_write_stats_t st;
    tk_produce_t prod = {.n = N_KEYS, .with_meta = 0};
    snap_write_opts_t o = {.path = path,
                           .nthreads = 1,
                           .chunk_bytes = 64 << 10,
                           .progress = progress_cb};
    cr_assert_eq(snap_write(&o, tk_produce_cb, &prod, &st, NULL, 0), 0);
    cr_assert_eq(progress_calls, st.chunks);
    cr_assert_eq(progress_last_keys, N_KEYS);
}

/* The test keyspace is module-level: sound as a file, but its collections repeat members (empty
 * ones among them), which a server refuses. The checker prints the summary of a sound file and
 * says "refused", never "damaged". Files a server accepts: test_snapshot_check.c. */
Test(snapshot_roundtrip, check_file_summarises_a_sound_file) {
    snap_write_stats_t st;
    char out[4096] = "";
    write_keys(200, 2, 0, &st);
    FILE *f = fmemopen(out, sizeof out - 1, "w");
    snap_check_opts_t o = {.databases = SNAP_CHECK_DATABASES_ANY, .verbose = 1};
    cr_assert_eq(snap_check_file_opts(path, f, &o), KERR_CORRUPT);
    fclose(f);
    cr_assert(strstr(out, "200 keys") != NULL, "%s", out);
    cr_assert(strstr(out, "(chunk)") != NULL, "%s", out);
    cr_assert(strstr(out, "REFUSED") != NULL && strstr(out, "appears twice") != NULL, "%s", out);
    cr_assert(strstr(out, "DAMAGED") == NULL, "%s", out);
}

/* Buffers go through common/kmem.h, so the server's used_memory sees a load's chunk buffers, and
 * every one is given back: the counter returns to where it was after a write and after a load. */
static _Atomic size_t kmem_peak;

static int
kmem_apply_cb(void *ctx, int thread, const snap_rec_t *rec) {
    size_t now = kmem_used();
    size_t seen = atomic_load(&kmem_peak);
    while (now > seen && !atomic_compare_exchange_weak(&kmem_peak, &seen, now))
        ;
    return tk_apply_cb(ctx, thread, rec);
}

Test(snapshot_roundtrip, buffers_are_accounted_in_kmem_and_all_returned) {
    snap_write_stats_t st;
    tk_load_t l;
    size_t before = kmem_used();
    write_keys(N_KEYS, 2, 0, &st);
    cr_assert_eq(kmem_used(), before, "the writer kept %zd accounted bytes",
                 (ssize_t)(kmem_used() - before));
    tk_load_init(&l, N_KEYS, 1);
    cr_assert_eq(snap_load(path, 2, kmem_apply_cb, &l, NULL, NULL, 0), 0);
    cr_assert_eq(l.bad, 0, "%s", l.first_bad);
    tk_load_free(&l);
    cr_assert_gt(kmem_peak, before + (64 << 10), "chunk buffers must be accounted while loading");
    cr_assert_eq(kmem_used(), before, "the loader kept %zd accounted bytes",
                 (ssize_t)(kmem_used() - before));
}
