/* test_wal_seal.c - the clean-shutdown seal (WAL_REC_SEAL, invariant I9): wal_close() of a
 * healthy log ends every copy with a seal holding the last LSN; recovery then treats any damage
 * in that copy as corruption, never as a torn tail; wal_open() removes the seal durably before
 * it writes anything, so a later crash is an ordinary torn-tail case. */
#include "test_wal_util.h"

#include <errno.h>

/* The seal at the end of dir's newest segment: its offset, or 0 when there is none. */
static uint64_t
find_seal(const char *dir, wal_rec_hdr_t *out) {
    char p[256];
    seg_path(p, sizeof p, dir, -1);
    FILE *f = fopen(p, "rb");
    cr_assert_not_null(f);
    static uint8_t buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    for (uint64_t off = WAL_SEG_HDR_SIZE; off + WAL_REC_HDR_SIZE <= n;) {
        wal_rec_hdr_t h;
        memcpy(&h, buf + off, sizeof h);
        if (h.len == 0 && h.lsn == 0 && h.crc == 0)
            return 0; /* zeros: the end of the data */
        if (h.flags & WAL_REC_SEAL) {
            *out = h;
            return off;
        }
        off += wal_rec_size(h.len);
    }
    return 0;
}

Test(wal_seal, a_clean_close_ends_every_copy_with_a_seal_holding_the_last_lsn) {
    tdirs_t t;
    tdirs_make(&t, 3);
    wal_config_t cfg = tcfg(&t, 2);
    session(&cfg, 0, 40);
    for (int i = 0; i < 3; i++) {
        wal_rec_hdr_t h;
        uint64_t off = find_seal(t.dir[i], &h);
        cr_assert_eq(off, WAL_SEG_HDR_SIZE + 40 * wal_rec_size(6), "copy %d: right after LSN 40",
                     i);
        cr_assert_eq(h.lsn, 40, "it holds the last LSN and consumes none");
        cr_assert_eq(h.len, 0);
        cr_assert_eq(h.flags, WAL_REC_SEAL | WAL_REC_AFTER_SYNC);
    }
    wal_recover_info_t info;
    collect_t c = {0};
    char err[512];
    cr_assert_eq(wal_recover_ex(&cfg, 0, collect_cb, &c, &info, err, sizeof err), 0, "%s", err);
    cr_assert(info.sealed);
    cr_assert_eq(info.seal_lsn, 40);
    cr_assert_eq(info.last_lsn, 40);
    cr_assert_eq(c.n, 40, "the seal is not delivered as a record");
    tdirs_remove(&t);
}

Test(wal_seal, an_empty_log_closed_cleanly_is_sealed_at_lsn_0) {
    tdirs_t t;
    tdirs_make(&t, 1);
    wal_config_t cfg = tcfg(&t, 1);
    session(&cfg, 0, 0);
    wal_rec_hdr_t h;
    cr_assert_eq(find_seal(t.dir[0], &h), WAL_SEG_HDR_SIZE);
    cr_assert_eq(h.lsn, 0);
    wal_recover_info_t info;
    char err[512];
    cr_assert_eq(wal_recover_ex(&cfg, 0, NULL, NULL, &info, err, sizeof err), 0, "%s", err);
    cr_assert(info.sealed);
    cr_assert_eq(info.last_lsn, 0);
    tdirs_remove(&t);
}

/* Records every op the writer issues, in order. */
typedef struct oplog {
    wal_io_t io;
    wal_io_op_t op[64];
    int n;
} oplog_t;

static int
oplog_before(void *ctx, wal_io_op_t *op) {
    oplog_t *l = ctx;
    if (l->n < 64)
        l->op[l->n++] = *op;
    return 0;
}

Test(wal_seal, opening_removes_the_seal_durably_before_anything_else_is_written) {
    tdirs_t t;
    tdirs_make(&t, 1);
    wal_config_t cfg = tcfg(&t, 1);
    session(&cfg, 0, 20);
    wal_rec_hdr_t h;
    uint64_t seal = find_seal(t.dir[0], &h);
    cr_assert_gt(seal, 0);
    oplog_t l = {.io = {.ctx = &l, .before_cb = oplog_before}};
    cfg.io = &l.io;
    wal_t *w;
    cr_assert_eq(wal_open(&cfg, 20, &w), 0);
    cr_assert_geq(l.n, 2);
    cr_assert(l.op[0].kind == WAL_IO_WRITE && l.op[0].off == seal && l.op[0].len == 32,
              "first op: zero the seal (kind %d off %llu)", l.op[0].kind,
              (unsigned long long)l.op[0].off);
    cr_assert_eq(l.op[1].kind, WAL_IO_FSYNC, "then make that durable");
    cr_assert_eq(find_seal(t.dir[0], &h), 0, "no seal while the log is open");
    wal_close(w);
    cfg.io = NULL;
    /* Opened and killed before any append: the log is no longer sealed. */
    session_crash(&cfg, 20, NULL, 0);
    wal_recover_info_t info;
    char err[512];
    cr_assert_eq(wal_recover_ex(&cfg, 0, NULL, NULL, &info, err, sizeof err), 0, "%s", err);
    cr_assert_not(info.sealed);
    cr_assert_eq(info.last_lsn, 20);
    tdirs_remove(&t);
}

/* Sealed, reopened, then a crash with a torn last record: an ordinary torn tail, cut. */
Test(wal_seal, a_crash_after_reopening_a_sealed_log_is_an_ordinary_torn_tail) {
    tdirs_t t;
    tdirs_make(&t, 1);
    wal_config_t cfg = tcfg(&t, 1);
    session(&cfg, 0, 50);
    int rounds[] = {10};
    session_crash(&cfg, 50, rounds, 1);
    char seg[256];
    seg_path(seg, sizeof seg, t.dir[0], -1);
    FILE *f = fopen(seg, "rb");
    static uint8_t buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    uint64_t off = WAL_SEG_HDR_SIZE, last_off = 0; /* the last record's offset */
    for (wal_rec_hdr_t h; off + 32 <= n && (memcpy(&h, buf + off, 32), h.lsn != 0);) {
        cr_assert_not(h.flags & WAL_REC_SEAL, "the seal is gone");
        last_off = off;
        off += wal_rec_size(h.len);
    }
    flip(seg, last_off + 33); /* LSN 60's payload */
    logbuf_t lb = {0};
    cfg.log = logbuf_cb;
    cfg.log_ctx = &lb;
    collect_t c = {0};
    uint64_t last;
    char err[512];
    cr_assert_eq(wal_recover(&cfg, 0, collect_cb, &c, &last, err, sizeof err), 0, "%s", err);
    cr_assert_eq(last, 59);
    cr_assert(c.in_order && c.n == 59);
    cr_assert_eq(lb.warnings, 1, "%s", lb.text);
    tdirs_remove(&t);
}

Test(wal_seal, a_log_that_failed_is_not_sealed) {
    tdirs_t t;
    tdirs_make(&t, 1);
    wal_faults_t f;
    wal_faults_init(&f);
    f.copy[0].fsync_fail_nth = 2; /* the first round's fdatasync */
    wal_config_t cfg = tcfg(&t, 1);
    cfg.io = &f.io;
    wal_t *w;
    cr_assert_eq(wal_open(&cfg, 0, &w), 0);
    cr_assert_eq(append_n(w, 5), 5);
    wal_submit(w);
    for (int i = 0; i < 5000 && wal_healthy(w); i++)
        usleep(1000);
    cr_assert_not(wal_healthy(w));
    wal_close(w);
    wal_rec_hdr_t h;
    cr_assert_eq(find_seal(t.dir[0], &h), 0, "a failed log is not closed cleanly");
    tdirs_remove(&t);
}

Test(wal_seal, data_after_a_seal_is_corruption) {
    tdirs_t t;
    tdirs_make(&t, 1);
    wal_config_t cfg = tcfg(&t, 1);
    session(&cfg, 0, 10);
    wal_rec_hdr_t h;
    uint64_t seal = find_seal(t.dir[0], &h);
    char seg[256];
    seg_path(seg, sizeof seg, t.dir[0], -1);
    poke(seg, seal + 4096, "junk", 4);
    uint64_t last;
    char err[512];
    cr_assert_eq(wal_recover(&cfg, 0, NULL, NULL, &last, err, sizeof err), KERR_CORRUPT);
    cr_assert(strstr(err, "data after the seal"), "%s", err);
    tdirs_remove(&t);
}

/* The header of an empty newest segment is damaged. After a crash that is a torn creation
 * (removed); behind a seal it cannot be, and is refused. */
Test(wal_seal, a_damaged_header_is_a_torn_creation_only_in_an_unsealed_log) {
    tdirs_t t;
    tdirs_make(&t, 2);
    wal_config_t a = tcfg(&t, 1), b = tcfg(&t, 1);
    a.ndirs = b.ndirs = 1;
    b.dirs = &t.dirs[1];
    session(&a, 0, 0);             /* sealed */
    session_crash(&b, 0, NULL, 0); /* not sealed */
    char pa[256], pb[256];
    seg_path(pa, sizeof pa, t.dir[0], -1);
    seg_path(pb, sizeof pb, t.dir[1], -1);
    flip(pa, 20);
    flip(pb, 20);
    uint64_t last;
    char err[512];
    cr_assert_eq(wal_recover(&a, 0, NULL, NULL, &last, err, sizeof err), KERR_CORRUPT);
    cr_assert(strstr(err, "offset 0: segment header checksum mismatch"), "%s", err);
    cr_assert(strstr(err, "closed cleanly"), "%s", err);
    cr_assert_eq(access(pa, F_OK), 0, "kept");
    cr_assert_eq(wal_recover(&b, 0, NULL, NULL, &last, err, sizeof err), 0, "%s", err);
    cr_assert_neq(access(pb, F_OK), 0, "removed as a torn creation");
    tdirs_remove(&t);
}

/* Copy 1 missed a session: it still ends with the seal of the first one. Recovery brings it up
 * to date from copy 0 (the old seal is not data: it neither blocks the repair nor survives it
 * as the copy's end). */
Test(wal_seal, a_copy_sealed_at_an_older_lsn_is_brought_up_to_date) {
    tdirs_t t;
    tdirs_make(&t, 2);
    wal_config_t both = tcfg(&t, 1), only0 = tcfg(&t, 1);
    only0.ndirs = 1;
    session(&both, 0, 10);
    session(&only0, 10, 10);
    wal_recover_info_t info;
    char err[512];
    cr_assert_eq(wal_recover_ex(&both, 0, NULL, NULL, &info, err, sizeof err), 0, "%s", err);
    cr_assert_eq(info.best_copy, 0);
    cr_assert(info.sealed && info.seal_lsn == 20);
    collect_t c = {0};
    cr_assert_eq(wal_read_dir(t.dir[1], 0, collect_cb, &c, err, sizeof err), 0, "%s", err);
    cr_assert(c.in_order && c.n == 20);
    cr_assert_eq(wal_recover_ex(&both, 0, NULL, NULL, &info, err, sizeof err), 0, "%s", err);
    session(&both, 20, 5);
    c = (collect_t){0};
    cr_assert_eq(wal_recover(&both, 0, collect_cb, &c, &info.last_lsn, err, sizeof err), 0, "%s",
                 err);
    cr_assert(c.in_order && c.n == 25);
    tdirs_remove(&t);
}
