/* test_wal_golden.c - logs written by earlier builds must stay readable forever.
 *
 * tests/data/wal-v1/ was written by the format version 1 writer (commit ad49ace, the last one
 * before version 2), tests/data/wal-v2/ by the version 2 writer before the seal existed
 * (d908869) and tests/data/wal-v2-sealed/ by the one after (23a4873), all with golden_write()
 * below: 110 records in two sessions (LSNs 1..100, then 101..110), 4 KiB segments, no
 * preallocation. The bytes are committed and never regenerated: if a test here fails, the
 * change broke old logs, not the data. (To see what a writer makes today:
 * KEEL_WAL_GOLDEN_OUT=/tmp/x build/test_wal_golden --filter 'wal_golden/generate'.) */
#include "test_wal_util.h"

#include <libgen.h>

#define GOLDEN_RECORDS 110

/* The id the version 2 golden log was written with ("keel-golden-wal2" with the UUID bits). */
static const uint8_t golden_id[WAL_DATASET_ID_SIZE] = {'k',  'e', 'e', 'l', '-', 'g', 0x4f, 'l',
                                                       0x84, 'e', 'n', '-', 'w', 'a', 'l',  '2'};

static void
golden_payload(int i, char *buf, size_t n, size_t *len) {
    *len =
        (size_t)snprintf(buf, n, "*3\r\n$3\r\nSET\r\n$7\r\nkey:%03d\r\n$9\r\nvalue:%03d\r\n", i, i);
}

/* tests/data/<name>, found from this file's path (CMake compiles it by absolute path). */
static void
golden_dir(char *buf, size_t n, const char *name) {
    char here[512];
    snprintf(here, sizeof here, "%s", __FILE__);
    snprintf(buf, n, "%s/../data/%s", dirname(here), name);
}

/* The generator: two sessions of a one-copy log, each closed cleanly (since the seal exists,
 * the log ends with one). An epoch 0 leaves the writer's default. */
static void
golden_write(const char *dir, const uint8_t *id, uint64_t epoch1, uint64_t epoch2) {
    const char *dirs[] = {dir};
    wal_config_t c = {.dirs = dirs,
                      .ndirs = 1,
                      .quorum = 1,
                      .sync_each_batch = 1,
                      .segment_size_bytes = 4096,
                      .preallocate_off = 1,
                      .zero_off = 1};
    if (id)
        memcpy(c.dataset_id, id, WAL_DATASET_ID_SIZE);
    for (int s = 0; s < 2; s++) {
        int first = s ? 101 : 1, n = s ? 10 : 100;
        c.epoch = s ? epoch2 : epoch1;
        wal_t *w;
        cr_assert_eq(wal_open(&c, (uint64_t)first - 1, &w), 0);
        for (int i = first; i < first + n; i++) {
            char p[128];
            size_t len;
            golden_payload(i, p, sizeof p, &len);
            cr_assert_eq(wal_append_at(w, (uint32_t)(i % 4), 1700000000000 + i, p, len), i);
            if (i % 25 == 24) /* a few rounds, so some records carry WAL_REC_AFTER_SYNC */
                cr_assert(wait_durable(w, (uint64_t)i, 5000));
        }
        wal_close(w);
    }
}

/* Every golden record, exactly. */
typedef struct golden_check {
    int n;
    int bad;
} golden_check_t;

static int
golden_cb(void *ctx, const wal_record_t *r) {
    golden_check_t *g = ctx;
    char p[128];
    size_t len;
    int i = ++g->n;
    golden_payload(i, p, sizeof p, &len);
    if (r->lsn != (uint64_t)i || r->db != (uint32_t)(i % 4) || r->ts_ms != 1700000000000 + i ||
        r->len != len || memcmp(r->payload, p, len) != 0)
        g->bad++;
    return 0;
}

/* A scratch copy of a golden directory: recovery may write (it never should here, but the
 * committed bytes must not depend on that). */
static void
golden_copy(const char *name, tdirs_t *t) {
    char src[512];
    golden_dir(src, sizeof src, name);
    tdirs_make(t, 1);
    cr_assert_eq(wal_mkdir_p(t->dir[0]), 0);
    wal_seg_t *v;
    int n;
    cr_assert_eq(wal_list_segments(src, &v, &n), 0);
    cr_assert_gt(n, 0, "%s holds no segment", src);
    for (int i = 0; i < n; i++) {
        char p[600];
        snprintf(p, sizeof p, "%s/%s", src, v[i].name);
        cr_assert_eq(wal_copy_file(p, t->dir[0], v[i].name, file_size(p)), 0);
    }
    kfree(v);
}

static void
read_golden(const char *name, wal_recover_info_t *info) {
    char src[512], err[512];
    golden_dir(src, sizeof src, name);
    golden_check_t g = {0};
    cr_assert_eq(wal_read_dir(src, 0, golden_cb, &g, err, sizeof err), 0, "%s", err);
    cr_assert_eq(g.n, GOLDEN_RECORDS);
    cr_assert_eq(g.bad, 0, "%d records differ", g.bad);
    tdirs_t t;
    golden_copy(name, &t);
    wal_config_t cfg = tcfg(&t, 1);
    golden_check_t g2 = {0};
    cr_assert_eq(wal_recover_ex(&cfg, 0, golden_cb, &g2, info, err, sizeof err), 0, "%s", err);
    cr_assert_eq(g2.n, GOLDEN_RECORDS);
    cr_assert_eq(g2.bad, 0);
    cr_assert_eq(info->last_lsn, GOLDEN_RECORDS);
    cr_assert_eq(info->torn_copies, 0);
    tdirs_remove(&t);
}

Test(wal_golden, a_version_1_log_reads_with_an_unknown_identity) {
    wal_recover_info_t info;
    read_golden("wal-v1", &info);
    cr_assert_eq(info.format_version, 1);
    cr_assert(wal_dataset_id_is_zero(info.dataset_id));
    cr_assert_eq(info.epoch, 0);
}

Test(wal_golden, a_version_2_log_reads_with_its_id_and_epoch) {
    wal_recover_info_t info;
    read_golden("wal-v2", &info);
    cr_assert_eq(info.format_version, 2);
    cr_assert_eq(memcmp(info.dataset_id, golden_id, WAL_DATASET_ID_SIZE), 0);
    cr_assert_eq(info.epoch, 2, "the second session ran at epoch 2");
}

/* The seal of a clean close, as the version 2 format defines it (WAL_REC_SEAL). */
Test(wal_golden, a_sealed_version_2_log_reads_as_sealed) {
    wal_recover_info_t info;
    read_golden("wal-v2-sealed", &info);
    cr_assert_eq(info.format_version, 2);
    cr_assert_eq(memcmp(info.dataset_id, golden_id, WAL_DATASET_ID_SIZE), 0);
    cr_assert(info.sealed);
    cr_assert_eq(info.seal_lsn, GOLDEN_RECORDS);
}

/* An upgrade: the version 2 writer goes on after a version 1 log in version 2 segments, with
 * a new id (the data set had none) and epoch 1; the old segments stay as they are. */
Test(wal_golden, a_version_1_log_goes_on_in_version_2_segments) {
    tdirs_t t;
    golden_copy("wal-v1", &t);
    wal_config_t cfg = tcfg(&t, 1);
    wal_recover_info_t info;
    char err[512];
    cr_assert_eq(wal_recover_ex(&cfg, 0, NULL, NULL, &info, err, sizeof err), 0, "%s", err);
    session(&cfg, info.last_lsn, 5);
    collect_t c = {0};
    cr_assert_eq(wal_recover_ex(&cfg, 0, collect_cb, &c, &info, err, sizeof err), 0, "%s", err);
    cr_assert(c.in_order && c.n == GOLDEN_RECORDS + 5);
    cr_assert_eq(info.format_version, 2);
    cr_assert_not(wal_dataset_id_is_zero(info.dataset_id));
    cr_assert_eq(info.epoch, 1);
    char p[256];
    seg_path(p, sizeof p, t.dir[0], 0);
    FILE *f = fopen(p, "rb");
    wal_seg_hdr_t h;
    cr_assert_eq(fread(&h, sizeof h, 1, f), 1);
    fclose(f);
    cr_assert_eq(h.version, 1, "old segments are not rewritten");
    tdirs_remove(&t);
}

Test(wal_golden, generate) {
    const char *out = getenv("KEEL_WAL_GOLDEN_OUT");
    if (!out)
        cr_skip_test("set KEEL_WAL_GOLDEN_OUT=<new directory> to write a golden log");
    golden_write(out, golden_id, 1, 2);
}
