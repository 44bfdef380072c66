/* test_snapshot_identity.c - the data-set identity and epoch history of format version 3: what the
 * writer takes and refuses, what snap_load(), snap_read_info() and snap_peek() give back, damaged
 * or crafted identity sections refused with an offset, and older readers (played through
 * snap_load_ex) loading v3 files as if the section were not there. The golden v3 files are checked
 * in test_snapshot_golden.c. */
#include <criterion/criterion.h>

#include "kerr.h"
#include "snapshot_int.h"
#include "test_snapshot_util.h"

#define I_LSN  5000u
#define I_TIME 1700000000777ll

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

TestSuite(snapshot_identity, .init = setup, .fini = teardown, .timeout = 60);

/* An id of bytes 0x10..0x1f and n epochs 1, 3, 5, ... starting every 50 LSNs. */
static void
make_ident(snap_identity_t *id, uint32_t n) {
    memset(id, 0, sizeof *id);
    for (int i = 0; i < SNAP_ID_BYTES; i++)
        id->id[i] = (uint8_t)(0x10 + i);
    id->nepochs = n;
    for (uint32_t i = 0; i < n && i < SNAP_EPOCHS_MAX; i++)
        id->epochs[i] = (snap_epoch_t){2 * i + 1, 1 + 50 * (uint64_t)i};
}

static void
same_ident(const snap_identity_t *got, const snap_identity_t *want) {
    cr_assert_eq(memcmp(got->id, want->id, SNAP_ID_BYTES), 0, "data-set id");
    cr_assert_eq(got->nepochs, want->nepochs);
    for (uint32_t i = 0; i < want->nepochs; i++) {
        cr_assert_eq(got->epochs[i].epoch, want->epochs[i].epoch, "epoch %u", i);
        cr_assert_eq(got->epochs[i].first_lsn, want->epochs[i].first_lsn, "epoch %u", i);
    }
}

/* 50 plain string keys (no integer values, so the file needs no v2 reader). */
static int
plain_produce_cb(void *ctx, int part, int nparts, snap_sink_t *s) {
    char key[16], val[16];
    int rc = 0;
    for (int i = part; i < 50 && rc == 0; i += nparts) {
        int kl = snprintf(key, sizeof key, "key:%d", i), vl = snprintf(val, sizeof val, "v%d", i);
        rc = snap_put_string(s, 0, key, (size_t)kl, SNAP_NO_EXPIRE, val, (size_t)vl);
    }
    return rc;
}

static int
write_plain(const snap_identity_t *id, uint32_t version, const snap_write_ext_t *x,
            snap_write_stats_t *st, char *err, size_t errlen) {
    snap_write_opts_t o = {.path = path,
                           .nthreads = 2,
                           .format_version = version,
                           .lsn = I_LSN,
                           .time_ms = I_TIME,
                           .chunk_bytes = 1024,
                           .identity = id};
    return snap_write_ex(&o, plain_produce_cb, NULL, st, err, errlen, x);
}

static _Atomic uint64_t applied;

static int
count_apply_cb(void *ctx, int thread, const snap_rec_t *rec) {
    atomic_fetch_add(&applied, 1);
    return 0;
}

static int
load_as(uint32_t reader, snap_info_t *info, char *err, size_t errlen) {
    applied = 0;
    return snap_load_ex(path, 2, reader, count_apply_cb, NULL, info, err, errlen);
}

Test(snapshot_identity, round_trips_through_load_read_info_and_peek) {
    snap_identity_t id;
    snap_write_stats_t st;
    snap_info_t info;
    snap_peek_t pk;
    char err[256] = "";

    make_ident(&id, SNAP_EPOCHS_MAX);
    cr_assert_eq(write_plain(&id, 0, NULL, &st, err, sizeof err), 0, "%s", err);
    cr_assert_eq(st.version, SNAP_FORMAT_VERSION_MAX); /* 0 asks for the newest */
    cr_assert_eq(st.min_reader, 1);
    cr_assert_eq(st.identity, 1);
    cr_assert_eq(load_as(SNAP_FORMAT_VERSION_MAX, &info, err, sizeof err), 0, "%s", err);
    cr_assert_eq(applied, 50);
    same_ident(&info.identity, &id);
    memset(&info, 0, sizeof info);
    cr_assert_eq(snap_read_info(path, &info, err, sizeof err), 0, "%s", err);
    same_ident(&info.identity, &id);
    cr_assert_eq(snap_peek(path, &pk, err, sizeof err), 0, "%s", err);
    same_ident(&pk.identity, &id);
    cr_assert_eq(pk.version, SNAP_FORMAT_VERSION_MAX);
    cr_assert_eq(pk.min_reader, 1);
    cr_assert_eq(pk.lsn, I_LSN);
    cr_assert_eq(pk.time_ms, I_TIME);
    cr_assert_eq(pk.keys, 50);
    cr_assert_eq(pk.chunks, st.chunks);
    cr_assert_eq(pk.file_len, st.bytes_file);
}

Test(snapshot_identity, no_identity_given_is_recorded_as_unknown) {
    snap_write_stats_t st;
    snap_peek_t pk;
    cr_assert_eq(write_plain(NULL, 0, NULL, &st, NULL, 0), 0);
    cr_assert_eq(st.identity, 1, "every v3 file has the section, if only to say 'unknown'");
    cr_assert_eq(snap_peek(path, &pk, NULL, 0), 0);
    cr_assert(snap_id_is_zero(pk.identity.id));
    cr_assert_eq(pk.identity.nepochs, 0);
}

/* A new data set: nothing logged yet (LSN 0), epoch 1 begins with the first record, LSN 1. */
Test(snapshot_identity, a_new_data_set_starts_epoch_1_at_lsn_1) {
    snap_identity_t id;
    snap_peek_t pk;
    make_ident(&id, 1);
    snap_write_opts_t o = {.path = path, .lsn = 0, .identity = &id};
    cr_assert_eq(snap_write(&o, plain_produce_cb, NULL, NULL, NULL, 0), 0);
    cr_assert_eq(snap_peek(path, &pk, NULL, 0), 0);
    same_ident(&pk.identity, &id);
    cr_assert_eq(pk.identity.epochs[0].epoch, 1);
    cr_assert_eq(pk.identity.epochs[0].first_lsn, 1);
}

Test(snapshot_identity, writer_refuses_a_history_that_breaks_the_rules) {
    struct {
        int rc;
        const char *text;
    } cases[] = {
        {KERR_LIMIT, "more epochs"},
        {KERR_INVAL, "not strictly increasing"},
        {KERR_INVAL, "decreasing"},
        {KERR_INVAL, "numbered 0"},
        {KERR_INVAL, "after the snapshot's LSN + 1"},
    };
    for (int c = 0; c < 5; c++) {
        snap_identity_t id;
        char err[256] = "";
        make_ident(&id, 4);
        switch (c) {
        case 0: id.nepochs = SNAP_EPOCHS_MAX + 1; break;
        case 1: id.epochs[2].epoch = id.epochs[1].epoch; break;
        case 2: id.epochs[3].first_lsn = id.epochs[2].first_lsn - 1; break;
        case 3: id.epochs[0].epoch = 0; break;
        case 4: id.epochs[3].first_lsn = I_LSN + 2; break;
        }
        int rc = write_plain(&id, 0, NULL, NULL, err, sizeof err);
        cr_assert_eq(rc, cases[c].rc, "case %d: rc %d %s", c, rc, err);
        cr_assert(strstr(err, cases[c].text) != NULL, "case %d: %s", c, err);
        cr_assert_neq(access(path, F_OK), 0, "case %d: a file was written", c);
    }
    /* The boundary: an epoch that begins at LSN + 1 (promoted, nothing written yet) is fine. */
    snap_identity_t id;
    make_ident(&id, 4);
    id.epochs[3].first_lsn = I_LSN + 1;
    cr_assert_eq(write_plain(&id, 0, NULL, NULL, NULL, 0), 0);
}

/* ---- crafted identity sections ------------------------------------------------------------ */

/* A file whose only identity section is payload p (n bytes, section count `count`), written
 * after the chunks instead of at offset 64; or, with also_own, after the writer's own. */
static void
write_crafted(const void *p, size_t n, uint64_t count, int also_own) {
    snap_identity_t id;
    make_ident(&id, 2);
    snap_write_ext_t x = {.extra_type = SNAP_SEC_IDENTITY,
                          .extra_since = 3,
                          .extra_payload = p,
                          .extra_len = n,
                          .extra_count = count,
                          .no_identity = !also_own};
    char err[256] = "";
    cr_assert_eq(write_plain(&id, 0, &x, NULL, err, sizeof err), 0, "%s", err);
}

static size_t
encode(const snap_identity_t *id, unsigned char *buf) {
    return snap_ident_encode(id, buf);
}

static void
expect_refused_everywhere(const char *text, int peek_too) {
    char err[512] = "";
    snap_info_t info;
    snap_peek_t pk;
    int rc = load_as(SNAP_FORMAT_VERSION_MAX, &info, err, sizeof err);
    cr_assert_eq(rc, KERR_CORRUPT, "load: rc %d %s", rc, err);
    cr_assert(strstr(err, text) != NULL && strstr(err, path) != NULL, "load: %s", err);
    cr_assert(strstr(err, "offset") != NULL, "load: '%s' names no offset", err);
    err[0] = '\0';
    cr_assert_eq(snap_read_info(path, &info, err, sizeof err), KERR_CORRUPT, "%s", err);
    cr_assert(strstr(err, text) != NULL, "read_info: %s", err);
    if (peek_too) {
        err[0] = '\0';
        cr_assert_eq(snap_peek(path, &pk, err, sizeof err), KERR_CORRUPT, "%s", err);
        cr_assert(strstr(err, text) != NULL, "peek: %s", err);
    }
    /* A v2 reader knows no identity section and skips it: the keys are all it reads. */
    cr_assert_eq(load_as(2, &info, err, sizeof err), 0, "%s", err);
    cr_assert_eq(applied, 50);
}

Test(snapshot_identity, reader_refuses_more_than_64_epochs) {
    unsigned char buf[SNAP_IDENT_LEN(SNAP_EPOCHS_MAX + 1)];
    snap_identity_t id;
    make_ident(&id, SNAP_EPOCHS_MAX);
    size_t n = encode(&id, buf);
    snap_ident_hdr_t h;
    memcpy(&h, buf, sizeof h);
    h.nepochs = SNAP_EPOCHS_MAX + 1;
    memcpy(buf, &h, sizeof h);
    snap_epoch_t more = {200, 4000};
    memcpy(buf + n, &more, sizeof more);
    write_crafted(buf, sizeof buf, SNAP_EPOCHS_MAX + 1, 0);
    expect_refused_everywhere("more epochs than the format's 64", 1);
}

Test(snapshot_identity, reader_refuses_a_history_that_breaks_the_rules) {
    unsigned char buf[SNAP_IDENT_LEN(4)];
    snap_identity_t id;
    make_ident(&id, 4);
    id.epochs[2].epoch = 1; /* going back */
    write_crafted(buf, encode(&id, buf), 4, 0);
    expect_refused_everywhere("identity section at offset", 1);
    expect_refused_everywhere("not strictly increasing", 1);
    make_ident(&id, 4);
    id.epochs[3].first_lsn = I_LSN + 100; /* after the snapshot */
    write_crafted(buf, encode(&id, buf), 4, 0);
    expect_refused_everywhere("after the snapshot's LSN + 1", 1);
}

Test(snapshot_identity, reader_refuses_malformed_payloads) {
    unsigned char buf[SNAP_IDENT_LEN(4)];
    snap_identity_t id;
    make_ident(&id, 4);
    size_t n = encode(&id, buf);
    write_crafted(buf, n, 3, 0);
    expect_refused_everywhere("epoch count differs", 1);
    write_crafted(buf, n - 1, 4, 0);
    expect_refused_everywhere("shorter than its epochs", 1);
    write_crafted(buf, 10, 0, 0);
    expect_refused_everywhere("shorter than its fixed part", 1);
}

/* snap_peek() looks only at offset 64 and does not see a second section; the full checks do. */
Test(snapshot_identity, a_second_identity_section_is_refused) {
    unsigned char buf[SNAP_IDENT_LEN(2)];
    snap_identity_t id;
    make_ident(&id, 2);
    write_crafted(buf, encode(&id, buf), 2, 1);
    expect_refused_everywhere("a second identity section", 0);
}

/* Later bytes of the payload belong to later versions, which may only append. */
Test(snapshot_identity, bytes_after_the_epochs_are_ignored) {
    unsigned char buf[SNAP_IDENT_LEN(2) + 40];
    snap_identity_t id, back;
    snap_info_t info;
    snap_peek_t pk;
    make_ident(&id, 2);
    memset(buf, 0xee, sizeof buf);
    encode(&id, buf);
    write_crafted(buf, sizeof buf, 2, 0);
    cr_assert_eq(load_as(SNAP_FORMAT_VERSION_MAX, &info, NULL, 0), 0);
    same_ident(&info.identity, &id);
    cr_assert_eq(snap_peek(path, &pk, NULL, 0), 0);
    back = pk.identity;
    same_ident(&back, &id);
}

/* A writer may put the section anywhere; snap_peek() then finds it through the table. */
Test(snapshot_identity, an_identity_after_the_chunks_is_found_through_the_table) {
    unsigned char buf[SNAP_IDENT_LEN(3)];
    snap_identity_t id;
    snap_info_t info;
    snap_peek_t pk;
    make_ident(&id, 3);
    write_crafted(buf, encode(&id, buf), 3, 0);
    cr_assert_eq(load_as(SNAP_FORMAT_VERSION_MAX, &info, NULL, 0), 0);
    same_ident(&info.identity, &id);
    cr_assert_eq(snap_peek(path, &pk, NULL, 0), 0);
    same_ident(&pk.identity, &id);
}

/* ---- damage, and what snap_peek() reads ---------------------------------------------------- */

static unsigned char *
read_all(size_t *len) {
    FILE *f = fopen(path, "rb");
    cr_assert(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    rewind(f);
    unsigned char *buf = malloc(*len);
    cr_assert_eq(fread(buf, 1, *len, f), *len);
    fclose(f);
    return buf;
}

static void
write_all(const unsigned char *buf, size_t len) {
    FILE *f = fopen(path, "wb");
    cr_assert(f);
    cr_assert_eq(fwrite(buf, 1, len, f), len);
    fclose(f);
}

Test(snapshot_identity, every_flipped_identity_byte_is_refused_by_load_and_peek) {
    snap_identity_t id;
    size_t len;
    make_ident(&id, 3);
    cr_assert_eq(write_plain(&id, 0, NULL, NULL, NULL, 0), 0);
    unsigned char *buf = read_all(&len);
    size_t from = sizeof(snap_file_hdr_t), to = from + sizeof(snap_sec_hdr_t) + SNAP_IDENT_LEN(3);
    for (size_t off = from; off < to; off++) {
        char err[512] = "";
        snap_peek_t pk;
        buf[off] ^= 0x04;
        write_all(buf, len);
        buf[off] ^= 0x04;
        int rc = load_as(SNAP_FORMAT_VERSION_MAX, NULL, err, sizeof err);
        cr_assert_eq(rc, KERR_CORRUPT, "flip at %zu: rc %d %s", off, rc, err);
        cr_assert(strstr(err, "offset 64") != NULL, "flip at %zu: %s", off, err);
        err[0] = '\0';
        rc = snap_peek(path, &pk, err, sizeof err);
        cr_assert_eq(rc, KERR_CORRUPT, "peek, flip at %zu: rc %d %s", off, rc, err);
        cr_assert(strstr(err, "offset") != NULL && strstr(err, path), "flip at %zu: %s", off, err);
    }
    free(buf);
}

/* The cheap look: header, trailer and identity only. A damaged table or chunk is for the full
 * checks to find; a truncated file is still refused by the trailer. */
Test(snapshot_identity, peek_reads_no_table_and_no_chunk_but_refuses_truncation) {
    snap_identity_t id;
    snap_peek_t pk;
    snap_info_t info;
    char err[512] = "";
    size_t len;
    make_ident(&id, 2);
    cr_assert_eq(write_plain(&id, 0, NULL, NULL, NULL, 0), 0);
    unsigned char *buf = read_all(&len);
    snap_file_hdr_t h;
    memcpy(&h, buf, sizeof h);
    buf[h.table_off + sizeof(snap_sec_hdr_t) + 3] ^= 0x01; /* the table's first entry */
    write_all(buf, len);
    cr_assert_eq(snap_read_info(path, &info, err, sizeof err), KERR_CORRUPT, "%s", err);
    cr_assert_eq(snap_peek(path, &pk, err, sizeof err), 0, "%s", err);
    same_ident(&pk.identity, &id);
    write_all(buf, len - 1);
    err[0] = '\0';
    cr_assert_eq(snap_peek(path, &pk, err, sizeof err), KERR_CORRUPT);
    cr_assert(strstr(err, "trailer") != NULL, "%s", err);
    free(buf);
}

Test(snapshot_identity, peek_refuses_tmp_foreign_and_missing_files) {
    char tmp[160], err[256] = "";
    snap_peek_t pk;
    cr_assert_eq(write_plain(NULL, 0, NULL, NULL, NULL, 0), 0);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    cr_assert_eq(rename(path, tmp), 0);
    cr_assert_eq(snap_peek(tmp, &pk, err, sizeof err), KERR_INVAL);
    cr_assert_eq(snap_peek(path, &pk, NULL, 0), KERR_SYS(ENOENT));
    write_all((const unsigned char *)"*1\r\n$4\r\nPING\r\n", 14);
    cr_assert_eq(snap_peek(path, &pk, err, sizeof err), KERR_FORMAT);
}

/* A file this build cannot load still tells its LSN and identity, for a tool to report. */
Test(snapshot_identity, peek_of_a_file_needing_a_newer_reader_still_tells_its_identity) {
    snap_identity_t id;
    snap_peek_t pk;
    char err[256] = "";
    make_ident(&id, 2);
    snap_write_ext_t x = {.version_field = 5, .min_reader_field = 5};
    cr_assert_eq(write_plain(&id, 0, &x, NULL, NULL, 0), 0);
    cr_assert_eq(snap_peek(path, &pk, err, sizeof err), KERR_VERSION, "%s", err);
    cr_assert(strstr(err, "needs snapshot reader version 5") != NULL, "%s", err);
    cr_assert_eq(pk.version, 5);
    cr_assert_eq(pk.lsn, I_LSN);
    same_ident(&pk.identity, &id);
}

/* ---- older readers ----------------------------------------------------------------------------
 */

/* Downgrade safety: the identity section is optional, so a v3 file that needs nothing else of v2
 * loads in a v1 reader, and one with integer strings in a v2 reader. */
Test(snapshot_identity, v3_files_load_in_older_readers_which_skip_the_identity) {
    snap_identity_t id;
    snap_write_stats_t st;
    snap_info_t info;
    char err[256] = "";
    make_ident(&id, 5);
    cr_assert_eq(write_plain(&id, 0, NULL, &st, NULL, 0), 0);
    cr_assert_eq(st.min_reader, 1);
    for (uint32_t reader = 1; reader <= 2; reader++) {
        cr_assert_eq(load_as(reader, &info, err, sizeof err), 0, "reader %u: %s", reader, err);
        cr_assert_eq(applied, 50);
        cr_assert(snap_id_is_zero(info.identity.id), "reader %u knows no identity", reader);
    }
    cr_assert_eq(load_as(3, &info, NULL, 0), 0);
    same_ident(&info.identity, &id);
}

Test(snapshot_identity, check_file_prints_the_identity) {
    snap_identity_t id;
    char out[8192] = "";
    make_ident(&id, 3);
    cr_assert_eq(write_plain(&id, 0, NULL, NULL, NULL, 0), 0);
    FILE *f = fmemopen(out, sizeof out - 1, "w");
    cr_assert_eq(snap_check_file(path, f, 1), 0);
    fclose(f);
    cr_assert(strstr(out, "data set 101112131415161718191a1b1c1d1e1f, 3 epochs, current epoch 5 "
                          "since LSN 101") != NULL,
              "%s", out);
    cr_assert(strstr(out, "epoch 3 from LSN 51") != NULL, "%s", out);
    cr_assert(strstr(out, "type 3 (identity) at offset 64") != NULL, "%s", out);
}
