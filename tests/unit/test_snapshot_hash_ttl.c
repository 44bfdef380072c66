/* test_snapshot_hash_ttl.c - format version 4's record type 10 HASH_TTL (a hash with field
 * expiries): the golden file tests/data/snapshot-v4-hash_ttl.ksnap loads field by field with its
 * expiries in a v4 reader and is refused by a v3 reader naming version 4; a v3 writer refuses the
 * record rather than drop expiries; a v4 file without one keeps the min_reader of its other
 * content; malformed expiries are refused.
 *
 * The golden file is written by this build only when KEEL_SNAPSHOT_REGEN=hash_ttl is set:
 *   KEEL_SNAPSHOT_REGEN=hash_ttl build/test_snapshot_hash_ttl --filter '*regenerate*'
 * Once released it must never be regenerated: later builds must load the old bytes. */
#include <criterion/criterion.h>

#include "kerr.h"
#include "snapshot_int.h"
#include "test_snapshot_util.h"
#include "test_data_path.h"

static char dir[256];

static void
setup(void) {
    tk_tmpdir(dir, sizeof dir);
}

static void
teardown(void) {
    tk_rmdir(dir);
}

TestSuite(snapshot_hash_ttl, .init = setup, .fini = teardown, .timeout = 60);

#define GOLDEN "snapshot-v4-hash_ttl.ksnap"

/* The golden content: "session" (db 0, key TTL too) with three fields, two of them volatile;
 * "plain" (db 2) an ordinary hash, which stays a HASH record. */
typedef struct gfield {
    const char *f, *v;
    int64_t ms; /* -1: none */
} gfield_t;

static const gfield_t session[] = {{"user", "42", 1893456000123},
                                   {"token", "abc\0def", -1},
                                   {"", "empty field", 1700000000000}};
static const gfield_t plain[] = {{"a", "1", -1}, {"b", "2", -1}};

static int
put_fields(snap_sink_t *s, int type, uint32_t db, const char *key, int64_t expire,
           const gfield_t *g, size_t n, int vlen7) {
    int rc = snap_put_begin(s, type, db, key, strlen(key), expire, n);
    for (size_t i = 0; i < n && rc == 0; i++) {
        size_t vn = vlen7 && i == 1 ? 7 : strlen(g[i].v);
        if ((rc = snap_put_elem(s, g[i].f, strlen(g[i].f))) == 0)
            rc = snap_put_elem(s, g[i].v, vn);
        if (rc == 0 && type == SNAP_HASH_TTL)
            rc = snap_put_elem(s, &g[i].ms, g[i].ms < 0 ? 0 : SNAP_FIELD_TTL_BYTES);
    }
    return rc ? rc : snap_put_end(s);
}

static int
produce_cb(void *ctx, int part, int nparts, snap_sink_t *s) {
    (void)part, (void)nparts;
    int with_ttl = *(int *)ctx;
    int rc = 0;
    if (with_ttl)
        rc = put_fields(s, SNAP_HASH_TTL, 0, "session", 1900000000000, session, 3, 1);
    if (rc == 0)
        rc = put_fields(s, SNAP_HASH, 2, "plain", SNAP_NO_EXPIRE, plain, 2, 0);
    return rc;
}

static int
write_file(const char *path, uint32_t version, int with_ttl, snap_write_stats_t *st, char *err,
           size_t errlen) {
    snap_write_opts_t o = {
        .path = path, .nthreads = 1, .format_version = version, .lsn = 7, .time_ms = 1700000000000};
    return snap_write(&o, produce_cb, &with_ttl, st, err, errlen);
}

typedef struct seen {
    int session, plain;
} seen_t;

static int
check_cb(void *ctx, int thread, const snap_rec_t *rec) {
    (void)thread;
    seen_t *s = ctx;
    snap_rec_t it = *rec;
    const char *p;
    size_t n;
    if (rec->klen == 7 && memcmp(rec->key, "session", 7) == 0) {
        cr_assert_eq(rec->type, SNAP_HASH_TTL);
        cr_assert_eq(rec->count, 3);
        cr_assert_eq(rec->expire_ms, 1900000000000);
        for (size_t i = 0; i < 3; i++) {
            cr_assert_eq(snap_rec_next(&it, &p, &n, NULL), 1);
            cr_assert(n == strlen(session[i].f) && memcmp(p, session[i].f, n) == 0);
            cr_assert_eq(snap_rec_next(&it, &p, &n, NULL), 1);
            size_t vn = i == 1 ? 7 : strlen(session[i].v);
            cr_assert(n == vn && memcmp(p, session[i].v, n) == 0, "value of field %zu", i);
            cr_assert_eq(snap_rec_next(&it, &p, &n, NULL), 1);
            if (session[i].ms < 0) {
                cr_assert_eq(n, 0);
            } else {
                int64_t ms;
                cr_assert_eq(n, SNAP_FIELD_TTL_BYTES);
                memcpy(&ms, p, 8);
                cr_assert_eq(ms, session[i].ms, "expiry of field %zu", i);
            }
        }
        cr_assert_eq(snap_rec_next(&it, &p, &n, NULL), 0, "no element beyond the count");
        s->session++;
    } else {
        cr_assert(rec->klen == 5 && memcmp(rec->key, "plain", 5) == 0);
        cr_assert_eq(rec->type, SNAP_HASH, "a hash without field expiries stays a HASH record");
        cr_assert_eq(rec->count, 2);
        for (size_t i = 0; i < 4; i++)
            cr_assert_eq(snap_rec_next(&it, &p, &n, NULL), 1);
        cr_assert_eq(snap_rec_next(&it, &p, &n, NULL), 0, "no element beyond the count");
        s->plain++;
    }
    return 0;
}

Test(snapshot_hash_ttl, regenerate_golden_file_when_asked) {
    const char *regen = getenv("KEEL_SNAPSHOT_REGEN");
    if (!regen || strcmp(regen, "hash_ttl") != 0)
        cr_skip_test("set KEEL_SNAPSHOT_REGEN=hash_ttl to rewrite tests/data/" GOLDEN);
    char p[512], err[256] = "";
    data_path(p, sizeof p, GOLDEN);
    cr_assert_eq(write_file(p, 4, 1, NULL, err, sizeof err), 0, "%s", err);
}

Test(snapshot_hash_ttl, v4_reader_loads_the_golden_file_with_field_expiries) {
    char p[512], err[512] = "";
    data_path(p, sizeof p, GOLDEN);
    seen_t s = {0};
    snap_info_t info;
    cr_assert_eq(snap_load_ex(p, 2, 4, check_cb, &s, &info, err, sizeof err), 0, "%s", err);
    cr_assert_eq(s.session, 1);
    cr_assert_eq(s.plain, 1);
    cr_assert_eq(info.version, 4);
    cr_assert_eq(info.min_reader, 4, "a HASH_TTL record makes the file need reader 4");
}

Test(snapshot_hash_ttl, v3_reader_refuses_the_golden_file_naming_version_4) {
    char p[512], err[512] = "";
    data_path(p, sizeof p, GOLDEN);
    seen_t s = {0};
    int rc = snap_load_ex(p, 1, 3, check_cb, &s, NULL, err, sizeof err);
    cr_assert_eq(rc, KERR_VERSION, "%s", err);
    cr_assert(strstr(err, "needs snapshot reader version 4"), "%s", err);
    cr_assert_eq(s.session + s.plain, 0, "nothing applied");
}

Test(snapshot_hash_ttl, v3_writer_refuses_a_hash_with_field_expiries) {
    char p[512], err[256] = "";
    snprintf(p, sizeof p, "%s/v3.ksnap", dir);
    int rc = write_file(p, 3, 1, NULL, err, sizeof err);
    cr_assert_eq(rc, KERR_INVAL);
    cr_assert(strstr(err, "field expiries"), "%s", err);
    cr_assert_neq(access(p, F_OK), 0, "no file left behind");
}

Test(snapshot_hash_ttl, a_v4_file_without_field_expiries_loads_in_a_v1_reader) {
    char p[512], err[512] = "";
    snprintf(p, sizeof p, "%s/plain.ksnap", dir);
    snap_write_stats_t st;
    cr_assert_eq(write_file(p, 4, 0, &st, err, sizeof err), 0, "%s", err);
    cr_assert_eq(st.version, 4);
    cr_assert_eq(st.min_reader, 1);
    seen_t s = {0};
    cr_assert_eq(snap_load_ex(p, 1, 1, check_cb, &s, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(s.plain, 1);
}

/* An expiry element of a length other than 0 or 8 is damage, refused before any apply. */
static int
bad_produce_cb(void *ctx, int part, int nparts, snap_sink_t *s) {
    (void)ctx, (void)part, (void)nparts;
    int rc = snap_put_begin(s, SNAP_HASH_TTL, 0, "k", 1, SNAP_NO_EXPIRE, 1);
    if (rc == 0 && (rc = snap_put_elem(s, "f", 1)) == 0 && (rc = snap_put_elem(s, "v", 1)) == 0)
        rc = snap_put_elem(s, "1234", 4);
    return rc ? rc : snap_put_end(s);
}

Test(snapshot_hash_ttl, an_expiry_of_the_wrong_length_is_corruption) {
    char p[512], err[512] = "";
    snprintf(p, sizeof p, "%s/bad.ksnap", dir);
    snap_write_opts_t o = {.path = p, .nthreads = 1, .lsn = 1, .time_ms = 1};
    cr_assert_eq(snap_write(&o, bad_produce_cb, NULL, NULL, err, sizeof err), 0, "%s", err);
    seen_t s = {0};
    int rc = snap_load(p, 1, check_cb, &s, NULL, err, sizeof err);
    cr_assert_eq(rc, KERR_CORRUPT, "%s", err);
    cr_assert(strstr(err, "hash_ttl"), "%s", err);
}
