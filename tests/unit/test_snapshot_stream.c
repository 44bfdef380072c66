/* test_snapshot_stream.c - format version 4's STREAM record (type 8, required, since 4): the
 * golden file tests/data/snapshot-v4-stream.ksnap loads with exactly its content, a version 3
 * reader refuses it naming version 4, a stream cannot be written for a version 3 target, and a
 * version 4 file without a stream keeps the older min_reader.
 *
 * The golden file is written by this build only when KEEL_SNAPSHOT_REGEN=4 is set:
 *   KEEL_SNAPSHOT_REGEN=4 build/test_snapshot_stream --filter 'snapshot_stream/regenerate*'
 * The record's element is the stream's value encoding (server/types/t_stream.c); the same bytes
 * are decoded in tests/unit/test_types_stream.c. */
#include <criterion/criterion.h>

#include "kerr.h"
#include "snapshot_int.h"
#include "test_snapshot_util.h"
#include "test_data_path.h"

/* A stream of two entries (1-0 name=Ada; 5-1 name=Grace age=85), entry 2-0 deleted (max deleted
 * 2-0, 3 added), last ID 5-1, group "workers" at 5-1 with entries_read 3, consumer "alice" (seen
 * 1700000000000, active 1700000000000) owning pending 1-0 (delivered at 1700000000000, twice). */
static const unsigned char stream_blob[] = {
    0x05, 0x01, 0x03, 0x02, 0x00, 0x01, 0x00, 0x02, 0x01, 0x00, 0x01, 0x04, 0x6e, 0x61,
    0x6d, 0x65, 0x03, 0x41, 0x64, 0x61, 0x05, 0x01, 0x02, 0x04, 0x6e, 0x61, 0x6d, 0x65,
    0x05, 0x47, 0x72, 0x61, 0x63, 0x65, 0x03, 0x61, 0x67, 0x65, 0x02, 0x38, 0x35, 0x01,
    0x07, 0x77, 0x6f, 0x72, 0x6b, 0x65, 0x72, 0x73, 0x05, 0x01, 0x04, 0x01, 0x05, 0x61,
    0x6c, 0x69, 0x63, 0x65, 0x80, 0xd0, 0x95, 0xff, 0xbc, 0x31, 0x81, 0xd0, 0x95, 0xff,
    0xbc, 0x31, 0x01, 0x01, 0x00, 0x80, 0xd0, 0x95, 0xff, 0xbc, 0x31, 0x02, 0x00};

#define G_LSN  77u
#define G_TIME 1700000000000ll

static char dir[64];

static void
setup(void) {
    tk_tmpdir(dir, sizeof dir);
}

static void
teardown(void) {
    tk_rmdir(dir);
}

TestSuite(snapshot_stream, .init = setup, .fini = teardown, .timeout = 60);

typedef struct prod {
    int with_stream;
} prod_t;

static int
produce_cb(void *ctx, int part, int nparts, snap_sink_t *s) {
    const prod_t *p = ctx;
    (void)part;
    (void)nparts;
    int rc = snap_put_string(s, 0, "plain", 5, SNAP_NO_EXPIRE, "value", 5);
    if (rc || !p->with_stream)
        return rc;
    if ((rc = snap_put_begin(s, SNAP_STREAM, 3, "events", 6, 1893456000000, 1)) != 0 ||
        (rc = snap_put_elem(s, stream_blob, sizeof stream_blob)) != 0)
        return rc;
    return snap_put_end(s);
}

static int
write_file(const char *path, uint32_t version, int with_stream, char *err, size_t errlen) {
    snap_write_opts_t o = {
        .path = path, .nthreads = 1, .format_version = version, .lsn = G_LSN, .time_ms = G_TIME};
    prod_t p = {with_stream};
    return snap_write(&o, produce_cb, &p, NULL, err, errlen);
}

typedef struct seen {
    int plain, stream;
    char bad[256];
} seen_t;

static int
apply_cb(void *ctx, int thread, const snap_rec_t *rec) {
    seen_t *s = ctx;
    (void)thread;
    snap_rec_t it = *rec;
    const char *p;
    size_t n;
    if (rec->type == SNAP_STRING && rec->klen == 5 && memcmp(rec->key, "plain", 5) == 0) {
        s->plain++;
        return 0;
    }
    if (rec->type != SNAP_STREAM) {
        snprintf(s->bad, sizeof s->bad, "record of type %d", rec->type);
        return 0;
    }
    s->stream++;
    if (rec->db != 3 || rec->klen != 6 || memcmp(rec->key, "events", 6) != 0 ||
        rec->expire_ms != 1893456000000 || rec->count != 1)
        snprintf(s->bad, sizeof s->bad, "stream key fields differ");
    else if (snap_rec_next(&it, &p, &n, NULL) != 1 || n != sizeof stream_blob ||
             memcmp(p, stream_blob, n) != 0)
        snprintf(s->bad, sizeof s->bad, "stream value differs (%zu bytes)", n);
    else if (snap_rec_next(&it, &p, &n, NULL) != 0)
        snprintf(s->bad, sizeof s->bad, "a second element");
    return 0;
}

Test(snapshot_stream, regenerate_golden_file_when_asked) {
    const char *regen = getenv("KEEL_SNAPSHOT_REGEN");
    if (!regen || strcmp(regen, "4") != 0) {
        teardown();
        cr_skip_test("set KEEL_SNAPSHOT_REGEN=4 to rewrite tests/data/snapshot-v4-stream.ksnap");
    }
    char p[512], err[256] = "";
    data_path(p, sizeof p, "snapshot-v4-stream.ksnap");
    cr_assert_eq(write_file(p, 4, 1, err, sizeof err), 0, "%s", err);
}

Test(snapshot_stream, v4_golden_file_loads_with_its_stream) {
    char p[512], err[256] = "";
    data_path(p, sizeof p, "snapshot-v4-stream.ksnap");
    seen_t s = {0};
    snap_info_t info;
    int rc = snap_load_ex(p, 1, 4, apply_cb, &s, &info, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_eq(s.bad[0], 0, "%s", s.bad);
    cr_assert(s.plain == 1 && s.stream == 1);
    cr_assert_eq(info.version, 4);
    cr_assert_eq(info.min_reader, 4, "a stream record makes the file need reader 4");
    cr_assert_eq(info.lsn, G_LSN);
}

Test(snapshot_stream, v3_reader_refuses_the_stream_record) {
    char p[512], err[512] = "";
    data_path(p, sizeof p, "snapshot-v4-stream.ksnap");
    seen_t s = {0};
    snap_info_t info;
    int rc = snap_load_ex(p, 1, 3, apply_cb, &s, &info, err, sizeof err);
    cr_assert_eq(rc, KERR_VERSION, "rc %d: %s", rc, err);
    cr_assert(strstr(err, "needs snapshot reader version 4") != NULL, "message: %s", err);
}

Test(snapshot_stream, fresh_file_round_trips_and_min_reader_rules) {
    char p[256], q[256], err[256] = "";
    snprintf(p, sizeof p, "%s/with.ksnap", dir);
    snprintf(q, sizeof q, "%s/without.ksnap", dir);
    cr_assert_eq(write_file(p, 0, 1, err, sizeof err), 0, "%s", err);
    cr_assert_eq(write_file(q, 0, 0, err, sizeof err), 0, "%s", err);
    seen_t s = {0};
    snap_info_t info;
    cr_assert_eq(snap_load_ex(p, 2, SNAP_FORMAT_VERSION_MAX, apply_cb, &s, &info, err, sizeof err),
                 0, "%s", err);
    cr_assert(s.stream == 1 && s.bad[0] == 0, "%s", s.bad);
    cr_assert_eq(info.min_reader, 4);
    cr_assert_eq(snap_read_info(q, &info, err, sizeof err), 0, "%s", err);
    cr_assert_eq(info.version, SNAP_FORMAT_VERSION_MAX);
    cr_assert(info.min_reader < 4, "no stream: older readers still load it (min_reader %u)",
              info.min_reader);
    /* A version 3 target has no place for a stream: the write fails, nothing is dropped. */
    snprintf(p, sizeof p, "%s/v3.ksnap", dir);
    cr_assert_eq(write_file(p, 3, 1, err, sizeof err), KERR_INVAL);
    cr_assert(access(p, F_OK) != 0, "no file is left behind");
}
