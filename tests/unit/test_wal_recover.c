/* test_wal_recover.c - recovery: torn tails, corruption refused without modifying anything,
 * lagging and empty copies repaired, replay speed of 1,000,000 records, wal_check_dir. */
#include "test_wal_util.h"

#include <time.h>

static void
write_log(tdirs_t *t, wal_config_t *cfg, int n, uint64_t seg_size) {
    cfg->segment_size_bytes = seg_size;
    wal_t *w;
    cr_assert_eq(wal_open(cfg, 0, &w), 0);
    cr_assert_eq(append_n(w, n), n);
    wal_close(w);
    (void)t;
}

Test(wal_recover, torn_tail_of_the_newest_segment_is_cut_with_a_warning) {
    tdirs_t t;
    tdirs_make(&t, 1);
    wal_config_t cfg = tcfg(&t, 1);
    cfg.preallocate_off = 1;
    int rounds[] = {100};
    session_crash(&cfg, 0, rounds, 1); /* a crash, not a clean close: no seal */
    char seg[256];
    seg_path(seg, sizeof seg, t.dir[0], -1);
    uint64_t size = file_size(seg);
    /* Half a record at the end, as a crash mid-write leaves it. */
    uint8_t rec[64];
    wal_rec_encode(rec, 101, 1, 7, "tornpayload", 11);
    poke(seg, size, rec, 30);
    logbuf_t lb = {0};
    cfg.log = logbuf_cb;
    cfg.log_ctx = &lb;
    collect_t c = {0};
    wal_recover_info_t info;
    char err[512];
    cr_assert_eq(wal_recover_ex(&cfg, 0, collect_cb, &c, &info, err, sizeof err), 0, "%s", err);
    cr_assert_eq(info.last_lsn, 100);
    cr_assert_eq(c.n, 100);
    cr_assert_eq(file_size(seg), size, "the torn bytes are gone");
    cr_assert_eq(info.torn_copies, 1);
    cr_assert_eq(info.torn_records, 1);
    cr_assert_eq(info.torn_bytes, 30);
    cr_assert_not(info.sealed);
    cr_assert_eq(lb.warnings, 1, "%s", lb.text);
    cr_assert(strstr(lb.text, "WARNING: wal: cut a torn tail of"), "%s", lb.text);
    cr_assert(strstr(lb.text, "1 record(s), 30 bytes dropped"), "%s", lb.text);
    tdirs_remove(&t);
}

Test(wal_recover, flipped_byte_in_an_older_segment_is_refused_and_nothing_is_modified) {
    tdirs_t t;
    tdirs_make(&t, 2);
    wal_config_t cfg = tcfg(&t, 2);
    write_log(&t, &cfg, 3000, 16384);
    char old[256], newest[256];
    seg_path(old, sizeof old, t.dir[0], 1);
    seg_path(newest, sizeof newest, t.dir[1], -1);
    uint64_t off = 64 + 5 * wal_rec_size(6) + 3; /* inside the 6th record's header */
    flip(old, off);
    /* A torn tail on the other copy and a missing segment would both be repaired... */
    uint8_t junk[20];
    memset(junk, 0x5a, sizeof junk);
    poke(newest, 200000, junk, sizeof junk);
    uint32_t d0 = dir_digest(t.dir[0]), d1 = dir_digest(t.dir[1]);
    collect_t c = {0};
    uint64_t last = 7;
    char err[512];
    int rc = wal_recover(&cfg, 0, collect_cb, &c, &last, err, sizeof err);
    cr_assert_eq(rc, KERR_CORRUPT);
    cr_assert_eq(c.n, 0, "nothing applied");
    char offs[32];
    snprintf(offs, sizeof offs, "offset %llu", (unsigned long long)(64 + 5 * wal_rec_size(6)));
    cr_assert(strstr(err, old), "names the file: %s", err);
    cr_assert(strstr(err, offs), "names the offset: %s", err);
    cr_assert(strstr(err, "copy 0"), "names the copy: %s", err);
    cr_assert(strstr(err, "LSN"), "names the LSN: %s", err);
    /* ...but nothing was modified. */
    cr_assert_eq(dir_digest(t.dir[0]), d0);
    cr_assert_eq(dir_digest(t.dir[1]), d1);
    tdirs_remove(&t);
}

/* Two rounds in one segment: LSNs 1..20 (synced), then 21..50 written as one round whose first
 * record carries the after-sync barrier. Ended by a crash (no seal), or cleanly (sealed). */
static void
two_rounds(tdirs_t *t, wal_config_t *cfg, int clean) {
    int rounds[] = {20, 30};
    if (!clean) {
        session_crash(cfg, 0, rounds, 2);
        return;
    }
    wal_t *w;
    cr_assert_eq(wal_open(cfg, 0, &w), 0);
    cr_assert_eq(append_n(w, 20), 20);
    cr_assert(wait_durable(w, 20, 5000));
    cr_assert_eq(append_n(w, 30), 50);
    wal_close(w);
    (void)t;
}

Test(wal_recover, damage_followed_by_a_record_written_after_a_sync_is_corruption) {
    tdirs_t t;
    tdirs_make(&t, 1);
    wal_config_t cfg = tcfg(&t, 1);
    two_rounds(&t, &cfg, 0);
    char seg[256];
    seg_path(seg, sizeof seg, t.dir[0], -1);
    flip(seg, 64 + 10 * wal_rec_size(6) + 20); /* record 11, in the first round */
    uint32_t d = dir_digest(t.dir[0]);
    uint64_t last;
    char err[512];
    cr_assert_eq(wal_recover(&cfg, 0, NULL, NULL, &last, err, sizeof err), KERR_CORRUPT);
    cr_assert(strstr(err, "checksum"), "%s", err);
    cr_assert(strstr(err, "expected LSN 11"), "%s", err);
    cr_assert_eq(dir_digest(t.dir[0]), d, "nothing modified");
    tdirs_remove(&t);
}

Test(wal_recover, damage_inside_the_last_round_is_a_torn_tail) {
    /* The disk may persist a round's pages in any order: intact records of the same round after
     * the damage do not make it corruption. */
    tdirs_t t;
    tdirs_make(&t, 1);
    wal_config_t cfg = tcfg(&t, 1);
    two_rounds(&t, &cfg, 0);
    char seg[256];
    seg_path(seg, sizeof seg, t.dir[0], -1);
    flip(seg, 64 + 30 * wal_rec_size(6) + 20); /* record 31, in the last round */
    logbuf_t lb = {0};
    cfg.log = logbuf_cb;
    cfg.log_ctx = &lb;
    collect_t c = {0};
    uint64_t last;
    char err[512];
    cr_assert_eq(wal_recover(&cfg, 0, collect_cb, &c, &last, err, sizeof err), 0, "%s", err);
    cr_assert_eq(last, 30);
    cr_assert_eq(c.n, 30);
    cr_assert_eq(file_size(seg), 64 + 30 * wal_rec_size(6));
    /* Record 31 and the 19 intact ones after it, 40 bytes each, are what the cut dropped. */
    cr_assert(strstr(lb.text, "WARNING: wal: cut a torn tail"), "%s", lb.text);
    cr_assert(strstr(lb.text, "20 record(s), 800 bytes dropped"), "%s", lb.text);
    tdirs_remove(&t);
}

/* The same flip in a log that was closed cleanly: everything before the seal was durable when
 * it was written, so the damage cannot be a torn write (I9). */
Test(wal_recover, the_same_damage_in_a_sealed_log_is_corruption_naming_file_and_offset) {
    tdirs_t t;
    tdirs_make(&t, 1);
    wal_config_t cfg = tcfg(&t, 1);
    two_rounds(&t, &cfg, 1);
    char seg[256];
    seg_path(seg, sizeof seg, t.dir[0], -1);
    flip(seg, 64 + 30 * wal_rec_size(6) + 20); /* record 31, in the last round */
    uint32_t d = dir_digest(t.dir[0]);
    collect_t c = {0};
    uint64_t last;
    char err[512];
    cr_assert_eq(wal_recover(&cfg, 0, collect_cb, &c, &last, err, sizeof err), KERR_CORRUPT);
    char want[400];
    snprintf(want, sizeof want, "%s offset %llu: record checksum mismatch (expected LSN 31)", seg,
             (unsigned long long)(64 + 30 * wal_rec_size(6)));
    cr_assert(strstr(err, want), "%s", err);
    cr_assert(strstr(err, "closed cleanly"), "%s", err);
    cr_assert_eq(c.n, 0);
    cr_assert_eq(dir_digest(t.dir[0]), d, "nothing cut");
    tdirs_remove(&t);
}

static int
count_cb(void *ctx, const wal_record_t *r) {
    uint64_t *n = ctx;
    (*n)++;
    return r->len == 0; /* stop (rc 1) on a record that lost its payload */
}

static void
log_cb(void *ctx, const char *msg) {
    (*(int *)ctx)++;
    fprintf(stderr, "%s\n", msg);
}

Test(wal_recover, lagging_and_empty_copies_are_repaired_from_the_longest) {
    tdirs_t t;
    tdirs_make(&t, 3);
    wal_config_t cfg = tcfg(&t, 2);
    write_log(&t, &cfg, 2000, 16384);
    /* Copy 1 lags: its newest segment is cut short and its last segment is missing. Copy 2
     * lost everything. */
    wal_seg_t *v;
    int n;
    cr_assert_eq(wal_list_segments(t.dir[1], &v, &n), 0);
    cr_assert_geq(n, 3);
    char p[256];
    snprintf(p, sizeof p, "%s/%s", t.dir[1], v[n - 1].name);
    cr_assert_eq(unlink(p), 0);
    snprintf(p, sizeof p, "%s/%s", t.dir[1], v[n - 2].name);
    cr_assert_eq(truncate(p, 64 + 7 * wal_rec_size(6)), 0);
    kfree(v);
    char rm[256];
    snprintf(rm, sizeof rm, "rm -rf %s", t.dir[2]);
    cr_assert_eq(system(rm), 0);
    int logs = 0;
    cfg.log = log_cb;
    cfg.log_ctx = &logs;
    collect_t c = {0};
    uint64_t last;
    char err[512];
    cr_assert_eq(wal_recover(&cfg, 0, collect_cb, &c, &last, err, sizeof err), 0, "%s", err);
    cr_assert_eq(last, 2000);
    cr_assert_eq(c.n, 2000);
    for (int i = 0; i < 3; i++) {
        collect_t ci = {0};
        cr_assert_eq(wal_read_dir(t.dir[i], 0, collect_cb, &ci, err, sizeof err), 0, "%s", err);
        cr_assert_eq(ci.n, 2000, "copy %d complete", i);
        cr_assert(ci.in_order);
    }
    cr_assert_geq(logs, 2, "each repair is logged");
    tdirs_remove(&t);
}

Test(wal_recover, replays_a_million_records_quickly, .timeout = 60) {
    tdirs_t t;
    tdirs_make(&t, 1);
    wal_config_t cfg = tcfg(&t, 1);
    cfg.segment_size_bytes = 16 << 20;
    cfg.buffer_bytes_max = 8 << 20;
    int logs = 0;
    cfg.log = log_cb;
    cfg.log_ctx = &logs;
    wal_t *w;
    cr_assert_eq(wal_open(&cfg, 0, &w), 0);
    const char payload[] = "*3\r\n$3\r\nSET\r\n$8\r\nkey:0001\r\n$8\r\nvalue:01\r\n";
    struct timespec a, b, c;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < 1000000; i++)
        cr_assert_gt(wal_append(w, 0, payload, sizeof payload - 1), 0);
    wal_close(w);
    clock_gettime(CLOCK_MONOTONIC, &b);
    uint64_t n = 0, last;
    char err[512];
    cr_assert_eq(wal_recover(&cfg, 0, count_cb, &n, &last, err, sizeof err), 0, "%s", err);
    clock_gettime(CLOCK_MONOTONIC, &c);
    double wsec = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    double rsec = (double)(c.tv_sec - b.tv_sec) + (double)(c.tv_nsec - b.tv_nsec) / 1e9;
    fprintf(stderr,
            "1,000,000 records: appended+synced in %.2f s (%.0f records/s), "
            "recovered in %.2f s (%.0f records/s)\n",
            wsec, 1e6 / wsec, rsec, 1e6 / rsec);
    cr_assert_eq(n, 1000000);
    cr_assert_eq(last, 1000000);
    cr_assert_lt(rsec, 10.0);
    tdirs_remove(&t);
}

static char *
check_output(const char *dir, int verbose, int *rc) {
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    *rc = wal_check_dir(dir, out, verbose);
    fclose(out);
    return text;
}

Test(wal_recover, check_dir_prints_segments_and_names_damage) {
    tdirs_t t;
    tdirs_make(&t, 1);
    wal_config_t cfg = tcfg(&t, 1);
    write_log(&t, &cfg, 1000, 16384);
    int rc;
    char *text = check_output(t.dir[0], 0, &rc);
    cr_assert_eq(rc, 0, "%s", text);
    cr_assert(strstr(text, "wal-00000000000000000001.log  lsn 1.."), "%s", text);
    cr_assert(strstr(text, "ok: "), "%s", text);
    cr_assert(strstr(text, "1000 records, lsn 1..1000"), "%s", text);
    cr_assert(strstr(text, "time 20"), "prints the time range: %s", text);
    free(text);
    text = check_output(t.dir[0], 1, &rc);
    cr_assert(strstr(text, "  lsn 500 ts "), "verbose prints every record");
    free(text);
    char seg[256];
    seg_path(seg, sizeof seg, t.dir[0], 0);
    flip(seg, 64 + 2 * wal_rec_size(5) + 33);
    text = check_output(t.dir[0], 0, &rc);
    cr_assert_eq(rc, KERR_CORRUPT);
    char want[64];
    snprintf(want, sizeof want, "offset %llu", (unsigned long long)(64 + 2 * wal_rec_size(5)));
    cr_assert(strstr(text, "DAMAGED"), "%s", text);
    cr_assert(strstr(text, want), "%s", text);
    cr_assert(strstr(text, "wal-00000000000000000001.log"), "%s", text);
    free(text);
    tdirs_remove(&t);
}

Test(wal_recover, a_newest_segment_with_a_torn_header_is_removed) {
    tdirs_t t;
    tdirs_make(&t, 1);
    wal_config_t cfg = tcfg(&t, 1);
    write_log(&t, &cfg, 30, 1 << 20);
    /* A crash between creating (and preallocating) the next segment and its header write. */
    char p[256];
    snprintf(p, sizeof p, "%s/wal-00000000000000000031.log", t.dir[0]);
    int fd = open(p, O_CREAT | O_WRONLY, 0644);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ftruncate(fd, 65536), 0);
    cr_assert_eq(pwrite(fd, "KEELW", 5, 0), 5);
    close(fd);
    collect_t c = {0};
    uint64_t last;
    char err[512];
    cr_assert_eq(wal_recover(&cfg, 0, collect_cb, &c, &last, err, sizeof err), 0, "%s", err);
    cr_assert_eq(last, 30);
    cr_assert_eq(c.n, 30);
    cr_assert_neq(access(p, F_OK), 0, "the torn segment is gone");
    tdirs_remove(&t);
}

/* A crash while both copies create their next segment: the header made it to disk on copy 1,
 * not on copy 0. Recovery must leave the copies so that a second one (a crash before wal_open)
 * succeeds too: copy 1's segment is kept and copy 0 gets it back (fuzz/regressions/wal). */
Test(wal_recover, a_segment_torn_on_one_copy_and_made_on_another_recovers_twice) {
    tdirs_t t;
    tdirs_make(&t, 2);
    wal_config_t cfg = tcfg(&t, 1);
    write_log(&t, &cfg, 30, 1 << 20);
    char p0[256], p1[256];
    snprintf(p0, sizeof p0, "%s/wal-00000000000000000031.log", t.dir[0]);
    snprintf(p1, sizeof p1, "%s/wal-00000000000000000031.log", t.dir[1]);
    int fd = open(p0, O_CREAT | O_WRONLY, 0644);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ftruncate(fd, 65536), 0);
    cr_assert_eq(pwrite(fd, "KEELW", 5, 0), 5);
    close(fd);
    wal_seg_hdr_t h;
    uint8_t id[WAL_DATASET_ID_SIZE];
    uint64_t epoch;
    cr_assert_eq(wal_dir_identity(t.dir[1], id, &epoch), 0);
    wal_seg_hdr_encode(&h, 31, wal_now_ms(), id, epoch);
    fd = open(p1, O_CREAT | O_WRONLY, 0644);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ftruncate(fd, 65536), 0);
    cr_assert_eq(pwrite(fd, &h, sizeof h, 0), (ssize_t)sizeof h);
    close(fd);
    for (int round = 0; round < 2; round++) {
        wal_recover_info_t info;
        char err[512];
        cr_assert_eq(wal_recover_ex(&cfg, 0, NULL, NULL, &info, err, sizeof err), 0,
                     "recovery %d: %s", round + 1, err);
        cr_assert_eq(info.last_lsn, 30);
        cr_assert_eq(info.torn_copies, round == 0 ? 1 : 0);
    }
    cr_assert_eq(count_segments(t.dir[0]), 2, "copy 0 got the segment back");
    cr_assert_eq(count_segments(t.dir[1]), 2);
    tdirs_remove(&t);
}

static int
stop_at_7_cb(void *ctx, const wal_record_t *r) {
    *(uint64_t *)ctx = r->lsn;
    return r->lsn == 7 ? 42 : 0;
}

Test(wal_recover, a_non_zero_rc_from_apply_stops_the_replay) {
    tdirs_t t;
    tdirs_make(&t, 1);
    wal_config_t cfg = tcfg(&t, 1);
    write_log(&t, &cfg, 30, 1 << 20);
    uint64_t seen = 0, last;
    char err[512];
    cr_assert_eq(wal_recover(&cfg, 0, stop_at_7_cb, &seen, &last, err, sizeof err), 42);
    cr_assert_eq(seen, 7);
    tdirs_remove(&t);
}
