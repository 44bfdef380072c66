/*
 * test_snapshot_bloom.c - record type 9 BLOOM (format version 4) in the snapshot layer: the
 * golden file tests/data/snapshot-v4-bloom.ksnap (written by the server's writer, see
 * test_persist_snapshot_bloom.c) loads in a v4 reader with its bloom records intact, a v3 reader
 * refuses it naming version 4, a writer told to produce v3 refuses a bloom record, and a v4
 * file without one keeps min_reader 1 so older readers still load it.
 */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kerr.h"
#include "snapshot_int.h"
#include "test_snapshot_util.h"
#include "test_data_path.h"

static char dir[64];

static void
setup(void) {
    tk_tmpdir(dir, sizeof dir);
}

static void
teardown(void) {
    tk_rmdir(dir);
}

TestSuite(snapshot_bloom, .init = setup, .fini = teardown, .timeout = 60);

typedef struct seen {
    _Atomic int blooms, others;
    _Atomic int bad; /* a bloom record whose first element is not a 32-byte version-1 header */
} seen_t;

static int
apply_cb(void *ctx, int thread, const snap_rec_t *rec) {
    (void)thread;
    seen_t *s = ctx;
    if (rec->type != SNAP_BLOOM) {
        s->others++;
        return 0;
    }
    s->blooms++;
    snap_rec_t it = *rec;
    const char *p;
    size_t n;
    uint64_t elems = 0;
    if (snap_rec_next(&it, &p, &n, NULL) != 1 || n != 32 || p[0] != 1)
        s->bad++;
    for (elems = 1; snap_rec_next(&it, &p, &n, NULL) == 1; elems++)
        ;
    if (elems != rec->count || elems < 3)
        s->bad++;
    return 0;
}

Test(snapshot_bloom, v4_reader_loads_the_golden_bloom_records) {
    char p[512], err[512] = "";
    seen_t s = {0};
    snap_info_t info;
    data_path(p, sizeof p, "snapshot-v4-bloom.ksnap");
    cr_assert_eq(snap_load(p, 2, apply_cb, &s, &info, err, sizeof err), 0, "%s", err);
    cr_expect_eq(info.version, 4);
    cr_expect_eq(info.min_reader, 4);
    cr_expect_eq(s.blooms, 2);
    cr_expect_eq(s.others, 1);
    cr_expect_eq(s.bad, 0);
    char *out = NULL;
    size_t outn = 0;
    FILE *f = open_memstream(&out, &outn);
    cr_expect_eq(snap_check_file(p, f, 0), 0, "keel-check accepts it");
    fclose(f);
    cr_expect(
        strstr(out,
               "1 strings, 0 lists, 0 hashes, 0 sets, 0 sorted sets, 0 streams, 2 bloom filters;"),
        "%s", out);
    free(out);
}

Test(snapshot_bloom, v3_reader_refuses_the_golden_file_naming_version_4) {
    char p[512], err[512] = "";
    seen_t s = {0};
    data_path(p, sizeof p, "snapshot-v4-bloom.ksnap");
    int rc = snap_load_ex(p, 1, 3, apply_cb, &s, NULL, err, sizeof err);
    cr_expect_eq(rc, KERR_VERSION);
    cr_expect(strstr(err, "needs snapshot reader version 4") != NULL, "%s", err);
    cr_expect_eq(s.blooms, 0);
}

static int bloom_records; /* produce_cb puts this many bloom records after a string */

static int
produce_cb(void *ctx, int part, int nparts, snap_sink_t *s) {
    (void)ctx, (void)nparts;
    if (part != 0)
        return 0;
    int rc = snap_put_string(s, 0, "k", 1, SNAP_NO_EXPIRE, "v", 1);
    for (int i = 0; i < bloom_records && rc == 0; i++) {
        char hdr[32] = {1};
        rc = snap_put_begin(s, SNAP_BLOOM, 0, "bf", 2, SNAP_NO_EXPIRE, 2);
        rc = rc ? rc : snap_put_elem(s, hdr, sizeof hdr);
        rc = rc ? rc : snap_put_elem(s, "bits", 4);
        rc = rc ? rc : snap_put_end(s);
    }
    return rc;
}

static int
write_file(const char *path, uint32_t version, snap_write_stats_t *st, char *err, size_t n) {
    snap_write_opts_t o = {.path = path, .nthreads = 1, .format_version = version, .lsn = 5};
    return snap_write(&o, produce_cb, NULL, st, err, n);
}

Test(snapshot_bloom, min_reader_is_4_only_with_a_bloom_record) {
    char path[128], err[256] = "";
    snap_write_stats_t st;
    snprintf(path, sizeof path, "%s/a.ksnap", dir);
    bloom_records = 0;
    cr_assert_eq(write_file(path, 4, &st, err, sizeof err), 0, "%s", err);
    cr_expect_eq(st.version, 4);
    cr_expect_eq(st.min_reader, 1);
    seen_t s = {0};
    cr_expect_eq(snap_load_ex(path, 1, 1, apply_cb, &s, NULL, err, sizeof err), 0, "%s", err);
    bloom_records = 1;
    cr_assert_eq(write_file(path, 4, &st, err, sizeof err), 0, "%s", err);
    cr_expect_eq(st.min_reader, 4);
    cr_expect_eq(snap_load_ex(path, 1, 3, apply_cb, &s, NULL, err, sizeof err), KERR_VERSION);
}

Test(snapshot_bloom, writer_for_v3_refuses_a_bloom_record) {
    char path[128], err[256] = "";
    snprintf(path, sizeof path, "%s/b.ksnap", dir);
    bloom_records = 1;
    cr_expect_eq(write_file(path, 3, NULL, err, sizeof err), KERR_INVAL);
    cr_expect(strstr(err, "format version 4") != NULL, "%s", err);
}
