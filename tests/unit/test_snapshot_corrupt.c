/* test_snapshot_corrupt.c - damage is refused, never loaded: every flipped byte, every
 * truncation, a temporary file, junk appended, malformed records behind valid checksums; and a
 * write that fails leaves no file behind. */
#include <criterion/criterion.h>
#include <math.h>
#include <sys/stat.h>

#include "kerr.h"
#include "snapshot_int.h"
#include "test_snapshot_util.h"

static char dir[64], path[128], copy[128];

static void
setup(void) {
    tk_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/dump.ksnap", dir);
    snprintf(copy, sizeof copy, "%s/copy.ksnap", dir);
}

static void
teardown(void) {
    tk_rmdir(dir);
}

TestSuite(snapshot_corrupt, .init = setup, .fini = teardown, .timeout = 120);

/* Small keys only, so that the file is small enough to damage at every byte. */
static int
small_produce_cb(void *ctx, int part, int nparts, snap_sink_t *s) {
    char key[16], val[32];
    int rc = 0;

    for (int i = part; i < 60 && rc == 0; i += nparts) {
        int kl = snprintf(key, sizeof key, "key%d", i);
        int vl = snprintf(val, sizeof val, "value-%d-%x", i, i * 7919);
        snap_sink_set_meta(s, (uint32_t)i);
        if (i % 3) {
            rc = snap_put_string(s, (uint32_t)(i % 2), key, (size_t)kl, i, val, (size_t)vl);
            continue;
        }
        rc = snap_put_begin(s, SNAP_ZSET, 0, key, (size_t)kl, SNAP_NO_EXPIRE, 2);
        rc = rc ? rc : snap_put_zelem(s, val, (size_t)vl, i);
        rc = rc ? rc : snap_put_zelem(s, key, (size_t)kl, -i);
        rc = rc ? rc : snap_put_end(s);
    }
    return rc;
}

static unsigned char *
write_small(size_t *len) {
    snap_write_opts_t o = {.path = path, .nthreads = 2, .chunk_bytes = 1024, .lsn = 9};
    snap_write_stats_t st;
    cr_assert_eq(snap_write(&o, small_produce_cb, NULL, &st, NULL, 0), 0);
    cr_assert_geq(st.chunks, 2);
    FILE *f = fopen(path, "rb");
    cr_assert(f);
    unsigned char *buf = malloc(st.bytes_file);
    *len = fread(buf, 1, st.bytes_file, f);
    fclose(f);
    cr_assert_eq(*len, st.bytes_file);
    return buf;
}

/* Where the first chunk of a file written by this build starts: after the identity section that
 * a v3 file begins with (no epochs given: its fixed 24 bytes). */
#define FIRST_CHUNK_OFF (sizeof(snap_file_hdr_t) + sizeof(snap_sec_hdr_t) + SNAP_IDENT_LEN(0))

static void
put_file(const char *p, const void *buf, size_t len) {
    FILE *f = fopen(p, "wb");
    cr_assert(f);
    cr_assert_eq(fwrite(buf, 1, len, f), len);
    fclose(f);
}

static _Atomic uint64_t applied;

static int
count_apply_cb(void *ctx, int thread, const snap_rec_t *rec) {
    (void)ctx;
    (void)rec;
    atomic_fetch_add(&applied, 1);
    return 0;
}

static int
load(const char *p, char *err, size_t errlen) {
    return snap_load(p, 2, count_apply_cb, NULL, NULL, err, errlen);
}

Test(snapshot_corrupt, the_undamaged_file_loads) {
    size_t len;
    free(write_small(&len));
    applied = 0;
    cr_assert_eq(load(path, NULL, 0), 0);
    cr_assert_eq(applied, 60);
}

Test(snapshot_corrupt, every_flipped_byte_is_refused_with_an_offset) {
    size_t len;
    char err[512];
    unsigned char *buf = write_small(&len);

    for (size_t off = 0; off < len; off++) {
        buf[off] ^= 0x10;
        put_file(copy, buf, len);
        buf[off] ^= 0x10;
        err[0] = '\0';
        int rc = load(copy, err, sizeof err);
        int want = off < 8 ? KERR_FORMAT : KERR_CORRUPT;
        cr_assert_eq(rc, want, "flip at %zu: rc %d (%s)", off, rc, err);
        cr_assert(strstr(err, "offset") != NULL, "flip at %zu: '%s' names no offset", off, err);
        cr_assert(strstr(err, copy) != NULL, "flip at %zu: '%s' names no file", off, err);
    }
    free(buf);
}

Test(snapshot_corrupt, flip_in_a_chunk_names_that_chunk) {
    size_t len;
    char err[512] = "";
    unsigned char *buf = write_small(&len);
    char want[64];
    size_t at = FIRST_CHUNK_OFF + sizeof(snap_sec_hdr_t) + 20; /* first chunk's data */
    buf[at] ^= 0x01;
    put_file(copy, buf, len);
    cr_assert_eq(load(copy, err, sizeof err), KERR_CORRUPT);
    snprintf(want, sizeof want, "chunk at offset %zu:", FIRST_CHUNK_OFF);
    cr_assert(strstr(err, want) != NULL, "%s", err);
    cr_assert(strstr(err, "compressed bytes") != NULL, "%s", err);
    free(buf);
}

Test(snapshot_corrupt, every_truncation_is_refused) {
    size_t len;
    char err[512];
    unsigned char *buf = write_small(&len);

    for (size_t cut = 0; cut < len; cut++) {
        put_file(copy, buf, cut);
        err[0] = '\0';
        int rc = load(copy, err, sizeof err);
        cr_assert_eq(rc, cut < 8 ? KERR_FORMAT : KERR_CORRUPT, "cut at %zu: rc %d (%s)", cut, rc,
                     err);
        if (cut >= 8)
            cr_assert(strstr(err, "truncated") != NULL && strstr(err, "offset") != NULL,
                      "cut at %zu: %s", cut, err);
    }
    free(buf);
}

Test(snapshot_corrupt, junk_appended_is_refused) {
    size_t len;
    char err[512] = "";
    unsigned char *buf = write_small(&len);
    unsigned char *more = calloc(len + 100, 1);
    memcpy(more, buf, len);
    put_file(copy, more, len + 100);
    cr_assert_eq(load(copy, err, sizeof err), KERR_CORRUPT, "%s", err);
    free(more);
    free(buf);
}

Test(snapshot_corrupt, a_tmp_file_never_loads) {
    char tmp[160], err[512] = "";
    size_t len;
    unsigned char *buf = write_small(&len);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    put_file(tmp, buf, len); /* even complete and sound */
    cr_assert_eq(load(tmp, err, sizeof err), KERR_INVAL);
    cr_assert(strstr(err, "temporary") != NULL, "%s", err);
    cr_assert_eq(snap_read_info(tmp, &(snap_info_t){0}, NULL, 0), KERR_INVAL);
    free(buf);
}

Test(snapshot_corrupt, foreign_and_missing_files) {
    char err[512] = "";
    char text[200];
    memset(text, '.', sizeof text);
    memcpy(text, "*1\r\n$4\r\nPING\r\n", 14); /* a RESP request, not a snapshot */
    put_file(copy, text, sizeof text);
    cr_assert_eq(load(copy, err, sizeof err), KERR_FORMAT);
    cr_assert(strstr(err, "magic") != NULL, "%s", err);
    snprintf(copy, sizeof copy, "%s/none.ksnap", dir);
    cr_assert_eq(load(copy, NULL, 0), KERR_SYS(ENOENT));
}

/* A record of a known type that is malformed inside valid checksums: only a writer bug or a
 * crafted file does that, and the structural pass must still refuse it, naming where. */
static int
bad_record_produce_cb(void *ctx, int part, int nparts, snap_sink_t *s) {
    const char *which = ctx;
    int rc = snap_put_string(s, 0, "a", 1, SNAP_NO_EXPIRE, "b", 1);
    if (strcmp(which, "list") == 0) /* db 0, no expiry, key "k", count 5, no elements */
        rc = rc ? rc : snap_sink_put_raw(s, SNAP_REC_LIST, 1, 1, "\x00\x00\x01k\x05", 5);
    else if (strcmp(which, "meta") == 0) /* a META with no key after it */
        rc = rc ? rc : snap_sink_put_raw(s, SNAP_REC_META, 0, 2, "\x07", 1);
    else if (strcmp(which, "zset") == 0) /* a NaN score */
        rc = rc ? rc
                : snap_sink_put_raw(s, SNAP_REC_ZSET, 1, 1,
                                    "\x00\x00\x01z\x01\x01m\x00\x00\x00\x00\x00\x00\xf8\x7f", 15);
    return rc;
}

Test(snapshot_corrupt, malformed_records_behind_valid_checksums) {
    const char *cases[] = {"list", "meta", "zset"};
    const char *want[] = {"malformed list record at byte 9", "dangling meta",
                          "malformed zset record at byte 9"};
    char chunk_at[64];
    snprintf(chunk_at, sizeof chunk_at, "chunk at offset %zu", FIRST_CHUNK_OFF);
    for (int i = 0; i < 3; i++) {
        char err[512] = "";
        snap_write_opts_t o = {.path = path, .nthreads = 1};
        cr_assert_eq(snap_write(&o, bad_record_produce_cb, (void *)cases[i], NULL, NULL, 0), 0);
        cr_assert_eq(load(path, err, sizeof err), KERR_CORRUPT, "%s: %s", cases[i], err);
        cr_assert(strstr(err, want[i]) != NULL, "%s: %s", cases[i], err);
        cr_assert(strstr(err, chunk_at) != NULL, "%s: %s", cases[i], err);
    }
}

Test(snapshot_corrupt, check_file_reports_damage) {
    size_t len;
    char out[2048] = "";
    unsigned char *buf = write_small(&len);
    buf[len / 2] ^= 0x40;
    put_file(copy, buf, len);
    FILE *f = fmemopen(out, sizeof out - 1, "w");
    cr_assert_eq(snap_check_file(copy, f, 0), KERR_CORRUPT);
    fclose(f);
    cr_assert(strstr(out, "DAMAGED") != NULL, "%s", out);
    free(buf);
}

static int apply_stop_after;

static int
stopping_apply_cb(void *ctx, int thread, const snap_rec_t *rec) {
    (void)ctx;
    (void)rec;
    return atomic_fetch_add(&applied, 1) + 1 >= (uint64_t)apply_stop_after ? KERR_NOMEM : 0;
}

Test(snapshot_corrupt, apply_error_stops_the_load_and_is_returned) {
    size_t len;
    free(write_small(&len));
    applied = 0;
    apply_stop_after = 5;
    cr_assert_eq(snap_load(path, 1, stopping_apply_cb, NULL, NULL, NULL, 0), KERR_NOMEM);
    cr_assert_eq(applied, 5, "one thread stops at the first refusal");
}

/* ---- a write that fails leaves nothing behind ----------------------------------------------- */

static int
misuse_produce_cb(void *ctx, int part, int nparts, snap_sink_t *s) {
    int which = *(int *)ctx, rc;
    switch (which) {
    case 0: /* fewer elements than promised */
        snap_put_begin(s, SNAP_LIST, 0, "l", 1, SNAP_NO_EXPIRE, 2);
        snap_put_elem(s, "x", 1);
        return snap_put_end(s);
    case 1: /* more elements than promised */
        snap_put_begin(s, SNAP_SET, 0, "s", 1, SNAP_NO_EXPIRE, 1);
        snap_put_elem(s, "x", 1);
        return snap_put_elem(s, "y", 1);
    case 2: /* a key inside a key */
        snap_put_begin(s, SNAP_HASH, 0, "h", 1, SNAP_NO_EXPIRE, 1);
        return snap_put_string(s, 0, "k", 1, SNAP_NO_EXPIRE, "v", 1);
    case 3: /* a score for a list */
        snap_put_begin(s, SNAP_LIST, 0, "l", 1, SNAP_NO_EXPIRE, 1);
        return snap_put_zelem(s, "x", 1, 1.0);
    case 4: /* NaN score */
        snap_put_begin(s, SNAP_ZSET, 0, "z", 1, SNAP_NO_EXPIRE, 1);
        return snap_put_zelem(s, "x", 1, NAN);
    case 5: /* a negative expiry other than SNAP_NO_EXPIRE */
        return snap_put_string(s, 0, "k", 1, -5, "v", 1);
    case 6: /* left open */ return snap_put_begin(s, SNAP_LIST, 0, "l", 1, SNAP_NO_EXPIRE, 1);
    case 7: /* the producer itself gives up */
        rc = snap_put_string(s, 0, "k", 1, SNAP_NO_EXPIRE, "v", 1);
        return rc ? rc : 1;
    }
    return 0;
}

Test(snapshot_corrupt, failed_writes_leave_no_file_and_keep_the_old_one) {
    char tmp[160], err[256];
    size_t len;
    unsigned char *old = write_small(&len);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    for (int which = 0; which <= 7; which++) {
        snap_write_opts_t o = {.path = path, .nthreads = 1};
        err[0] = '\0';
        int rc = snap_write(&o, misuse_produce_cb, &which, NULL, err, sizeof err);
        cr_assert_eq(rc, which == 7 ? KERR_FAILED : KERR_INVAL, "case %d: rc %d %s", which, rc,
                     err);
        cr_assert_neq(err[0], 0, "case %d: no message", which);
        cr_assert_neq(access(tmp, F_OK), 0, "case %d: .tmp left behind", which);
        struct stat sb;
        cr_assert_eq(stat(path, &sb), 0);
        cr_assert_eq((size_t)sb.st_size, len, "case %d: the previous snapshot was touched", which);
    }
    free(old);
}

Test(snapshot_corrupt, write_into_a_missing_directory_fails_cleanly) {
    char p[160], err[256] = "";
    snprintf(p, sizeof p, "%s/no/such/dir/dump.ksnap", dir);
    snap_write_opts_t o = {.path = p, .nthreads = 2};
    cr_assert_eq(snap_write(&o, small_produce_cb, NULL, NULL, err, sizeof err), KERR_SYS(ENOENT));
    cr_assert(strstr(err, "dump.ksnap.tmp") != NULL, "%s", err);
}

Test(snapshot_corrupt, bad_options_are_refused) {
    snap_write_opts_t o = {.path = path, .format_version = SNAP_FORMAT_VERSION_MAX + 1};
    cr_assert_eq(snap_write(&o, small_produce_cb, NULL, NULL, NULL, 0), KERR_VERSION);
    o = (snap_write_opts_t){.path = path, .nthreads = SNAP_THREADS_MAX + 1};
    cr_assert_eq(snap_write(&o, small_produce_cb, NULL, NULL, NULL, 0), KERR_INVAL);
    o = (snap_write_opts_t){.path = path, .chunk_bytes = 10};
    cr_assert_eq(snap_write(&o, small_produce_cb, NULL, NULL, NULL, 0), KERR_INVAL);
    cr_assert_neq(access(path, F_OK), 0);
}
