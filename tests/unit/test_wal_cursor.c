/* test_wal_cursor.c - the cursor replication reads the log with (wal/cursor.c): every record
 * from an LSN on, in order, across the archive and the live copy, while the WAL thread writes
 * the copy and segments are cut and retired; never past the limit; a byte budget per call;
 * damage, retired and missing records reported; and the wire form of a record. */
#include "test_wal_util.h"

#include <libgen.h>
#include <time.h>

#define PAYLOAD_MAX 300

/* The payload of record lsn: its length and bytes follow from the LSN, so every record read
 * back can be checked without keeping what was written. */
static size_t
payload_of(uint64_t lsn, uint8_t *buf) {
    size_t len = (size_t)((lsn * 37) % PAYLOAD_MAX);
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(lsn * 131 + i * 7);
    return len;
}

static void
append_lsns(wal_t *w, uint64_t n) {
    for (uint64_t i = 0; i < n; i++) {
        uint8_t p[PAYLOAD_MAX];
        uint64_t lsn = wal_last_lsn(w) + 1;
        size_t len = payload_of(lsn, p);
        cr_assert_eq(wal_append(w, (uint32_t)(lsn % 16), p, len), (int64_t)lsn);
    }
}

/* Checks each record handed to a cursor callback: the next LSN, its db and payload, and that
 * its encoded bytes decode to the same record (what a replica gets). */
typedef struct check {
    uint64_t next; /* the LSN expected next */
    uint64_t n, bytes;
    uint64_t stop_at; /* non-zero: return 1 (stop) when given this LSN */
} check_t;

static int
check_cb(void *ctx, const wal_record_t *r, const void *enc, size_t enc_len) {
    check_t *k = ctx;
    uint8_t p[PAYLOAD_MAX];
    if (k->stop_at && r->lsn == k->stop_at)
        return 1;
    size_t len = payload_of(r->lsn, p);
    cr_assert_eq(r->lsn, k->next, "record %lu where %lu was due", (unsigned long)r->lsn,
                 (unsigned long)k->next);
    cr_assert_eq(r->db, r->lsn % 16);
    cr_assert_eq(r->len, len, "LSN %lu", (unsigned long)r->lsn);
    cr_assert(len == 0 || memcmp(r->payload, p, len) == 0, "payload of LSN %lu",
              (unsigned long)r->lsn);
    cr_assert_gt(r->ts_ms, 0);
    cr_assert_eq(enc_len, wal_record_size(len));
    wal_record_t d;
    char err[256];
    cr_assert_eq(wal_record_decode(enc, enc_len, &d, err, sizeof err), (int)enc_len, "%s", err);
    cr_assert(d.lsn == r->lsn && d.ts_ms == r->ts_ms && d.db == r->db && d.len == r->len);
    k->next++;
    k->n++;
    k->bytes += enc_len;
    return 0;
}

/* Read with the given budget until next_lsn passes limit (the loop a caller runs). */
static void
read_all(wal_cursor_t *c, uint64_t limit, size_t max_bytes, check_t *k) {
    char err[512];
    while (wal_cursor_next_lsn(c) <= limit) {
        int n = wal_cursor_read(c, limit, max_bytes, check_cb, k, err, sizeof err);
        cr_assert_geq(n, 0, "%s", err);
    }
    cr_assert_eq(wal_cursor_next_lsn(c), limit + 1);
    cr_assert_eq(wal_cursor_read(c, limit, max_bytes, check_cb, k, err, sizeof err), 0,
                 "nothing past the limit");
}

/* A closed log of n records (segments of seg_size bytes, not preallocated). */
static void
make_log(tdirs_t *t, uint64_t seg_size, uint64_t n) {
    tdirs_make(t, 1);
    wal_config_t cfg = tcfg(t, 0);
    cfg.segment_size_bytes = seg_size;
    cfg.preallocate_off = 1;
    wal_t *w;
    cr_assert_eq(wal_open(&cfg, 0, &w), 0);
    append_lsns(w, n);
    cr_assert(wait_durable(w, n, 10000));
    wal_close(w);
}

static double
now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The owner thread appends bursts and reads the cursor up to the durable LSN with a random
 * budget, as a primary's main thread will, while the WAL thread writes the next records and
 * cuts segments. retire_every > 0: every that many turns, segments below the durable LSN leave
 * the live copies for the archive, often ahead of the cursor. */
static void
follow(wal_config_t *cfg, const char *live, const char *archive, int retire_every, uint64_t total) {
    wal_t *w;
    wal_cursor_t *c;
    char err[512];
    cr_assert_eq(wal_open(cfg, 0, &w), 0);
    cr_assert_eq(wal_cursor_open(live, archive, 1, &c, err, sizeof err), 0, "%s", err);
    check_t k = {.next = 1};
    unsigned seed = 7;
    int retired = 0;
    double deadline = now_s() + 120;
    for (int turn = 1; k.next <= total; turn++) {
        cr_assert_lt(now_s(), deadline, "stuck at LSN %lu", (unsigned long)k.next);
        if (wal_last_lsn(w) < total) {
            uint64_t burst = 1 + (uint64_t)(rand_r(&seed) % 64), left = total - wal_last_lsn(w);
            append_lsns(w, burst < left ? burst : left);
            wal_submit(w);
        }
        uint64_t limit = wal_durable_lsn(w);
        size_t budget = (size_t)(rand_r(&seed) % 8192);
        int n = wal_cursor_read(c, limit, budget, check_cb, &k, err, sizeof err);
        cr_assert_geq(n, 0, "%s", err);
        cr_assert_eq(wal_cursor_next_lsn(c), k.next);
        cr_assert_leq(k.next, limit + 1, "read past the limit");
        if (n == 0) {
            cr_assert_eq(k.next, limit + 1, "0 only when caught up");
            usleep(100);
        }
        if (retire_every && turn % retire_every == 0) {
            int r = wal_retire_before(w, limit, archive);
            cr_assert_geq(r, 0);
            retired += r;
        }
    }
    cr_assert_eq(k.n, total);
    wal_stats_t st;
    wal_get_stats(w, &st);
    cr_assert_geq(st.segments, 10, "several segments were crossed (%lu)",
                  (unsigned long)st.segments);
    cr_assert(!retire_every || retired > 0);
    wal_cursor_close(c);
    wal_close(w);
}

Test(wal_cursor, follows_a_live_writer_across_segments_from_lsn_1) {
    tdirs_t t;
    tdirs_make(&t, 1);
    wal_config_t cfg = tcfg(&t, 0);
    cfg.segment_size_bytes = 64 << 10; /* preallocated and zero-written ahead */
    follow(&cfg, t.dir[0], NULL, 0, 20000);
    tdirs_remove(&t);
}

Test(wal_cursor, follows_a_growing_segment_that_is_not_preallocated) {
    tdirs_t t;
    tdirs_make(&t, 1);
    wal_config_t cfg = tcfg(&t, 0);
    cfg.segment_size_bytes = 64 << 10;
    cfg.preallocate_off = 1;
    cfg.zero_off = 1;
    follow(&cfg, t.dir[0], NULL, 0, 20000);
    tdirs_remove(&t);
}

Test(wal_cursor, follows_copy_1_while_segments_move_to_the_archive) {
    tdirs_t t;
    tdirs_make(&t, 2);
    wal_config_t cfg = tcfg(&t, 2);
    cfg.segment_size_bytes = 32 << 10;
    char archive[128];
    snprintf(archive, sizeof archive, "%s/archive", t.root);
    /* retire_one() renames copy 0's file into the archive and unlinks copy 1's: the cursor on
     * copy 1 finds what it reads next in the archive, or keeps reading an unlinked file. */
    follow(&cfg, t.dir[1], archive, 5, 20000);
    cr_assert_gt(count_segments(archive), 5);
    tdirs_remove(&t);
}

Test(wal_cursor, starts_in_the_middle_of_a_segment_or_after_the_end) {
    tdirs_t t;
    make_log(&t, 8192, 1000);
    cr_assert_gt(count_segments(t.dir[0]), 5);
    uint64_t froms[] = {537, 1, 1000};
    for (size_t i = 0; i < sizeof froms / sizeof froms[0]; i++) {
        wal_cursor_t *c;
        char err[512];
        cr_assert_eq(wal_cursor_open(t.dir[0], NULL, froms[i], &c, err, sizeof err), 0, "%s", err);
        cr_assert_eq(wal_cursor_next_lsn(c), froms[i]);
        check_t k = {.next = froms[i]};
        read_all(c, 1000, 1 << 20, &k);
        cr_assert_eq(k.n, 1000 - froms[i] + 1);
        wal_cursor_close(c);
    }
    /* From past the end: nothing yet, and nothing is read beyond the limit. */
    wal_cursor_t *c;
    char err[512];
    cr_assert_eq(wal_cursor_open(t.dir[0], NULL, 1001, &c, err, sizeof err), 0, "%s", err);
    check_t k = {.next = 1001};
    cr_assert_eq(wal_cursor_read(c, 1000, 1 << 20, check_cb, &k, err, sizeof err), 0);
    cr_assert_eq(wal_cursor_next_lsn(c), 1001);
    wal_cursor_close(c);
    tdirs_remove(&t);
}

Test(wal_cursor, reads_from_the_archive_then_crosses_into_the_live_copy) {
    tdirs_t t;
    tdirs_make(&t, 1);
    wal_config_t cfg = tcfg(&t, 0);
    cfg.segment_size_bytes = 8192;
    char archive[128], err[512];
    snprintf(archive, sizeof archive, "%s/archive", t.root);
    wal_t *w;
    cr_assert_eq(wal_open(&cfg, 0, &w), 0);
    append_lsns(w, 3000);
    cr_assert(wait_durable(w, 3000, 10000));
    cr_assert_gt(wal_retire_before(w, 2000, archive), 0);
    uint64_t oldest = 0;
    cr_assert_eq(wal_oldest_lsn(t.dir[0], archive, &oldest), 0);
    cr_assert_eq(oldest, 1, "LSN 1 is in the archive");
    cr_assert_eq(wal_oldest_lsn(t.dir[0], NULL, &oldest), 0);
    cr_assert_gt(oldest, 100, "and no longer in the live copy");
    cr_assert_leq(oldest, 2000);

    wal_cursor_t *c;
    cr_assert_eq(wal_cursor_open(t.dir[0], archive, 100, &c, err, sizeof err), 0, "%s", err);
    check_t k = {.next = 100};
    read_all(c, wal_durable_lsn(w), 4096, &k);
    cr_assert_eq(k.n, 2901);
    /* The live copy grows: the cursor follows it. */
    append_lsns(w, 500);
    cr_assert(wait_durable(w, 3500, 10000));
    read_all(c, wal_durable_lsn(w), 4096, &k);
    cr_assert_eq(k.next, 3501);
    wal_cursor_close(c);
    wal_close(w);
    tdirs_remove(&t);
}

Test(wal_cursor, records_deleted_from_the_log_are_not_found) {
    tdirs_t t;
    tdirs_make(&t, 1);
    wal_config_t cfg = tcfg(&t, 0);
    cfg.segment_size_bytes = 8192;
    char err[512];
    wal_t *w;
    cr_assert_eq(wal_open(&cfg, 0, &w), 0);
    append_lsns(w, 3000);
    cr_assert(wait_durable(w, 3000, 10000));
    /* A cursor that has read a little when the segments it needs next are deleted. */
    wal_cursor_t *behind;
    cr_assert_eq(wal_cursor_open(t.dir[0], NULL, 1, &behind, err, sizeof err), 0, "%s", err);
    check_t kb = {.next = 1};
    cr_assert_gt(wal_cursor_read(behind, 3000, 300, check_cb, &kb, err, sizeof err), 0, "%s", err);

    cr_assert_gt(wal_retire_before(w, 2000, NULL), 0);
    uint64_t oldest = 0;
    cr_assert_eq(wal_oldest_lsn(t.dir[0], NULL, &oldest), 0);
    cr_assert_gt(oldest, 1);
    wal_cursor_t *c;
    cr_assert_eq(wal_cursor_open(t.dir[0], NULL, oldest - 1, &c, err, sizeof err), KERR_NOTFOUND);
    cr_assert_not_null(strstr(err, "no longer held"), "%s", err);
    cr_assert_null(c);
    cr_assert_eq(wal_cursor_open(t.dir[0], NULL, oldest, &c, err, sizeof err), 0, "%s", err);
    wal_cursor_close(c);

    /* It finishes the segment it has open (unlinked, still readable), then finds the next one
     * gone while later ones are held. */
    int rc;
    while ((rc = wal_cursor_read(behind, 3000, 1 << 20, check_cb, &kb, err, sizeof err)) > 0)
        ;
    cr_assert_eq(rc, KERR_NOTFOUND, "%s", err);
    cr_assert_not_null(strstr(err, "no longer held"), "%s", err);
    cr_assert_lt(kb.next, oldest);
    cr_assert_gt(kb.next, 1);
    wal_cursor_close(behind);

    cr_assert_eq(wal_oldest_lsn("/nonexistent-keel-dir", NULL, &oldest), 0);
    cr_assert_eq(oldest, 0, "no segment");
    cr_assert_eq(wal_cursor_open("/nonexistent-keel-dir", NULL, 1, &c, err, sizeof err),
                 KERR_NOTFOUND);
    wal_close(w);
    tdirs_remove(&t);
}

/* 100 records of 24-byte payloads: 56 bytes each. */
#define FIXED_LEN  24
#define FIXED_SIZE 56

static void
make_fixed_log(tdirs_t *t, uint64_t seg_size, int n) {
    tdirs_make(t, 1);
    wal_config_t cfg = tcfg(t, 0);
    cfg.segment_size_bytes = seg_size;
    cfg.preallocate_off = 1;
    wal_t *w;
    cr_assert_eq(wal_open(&cfg, 0, &w), 0);
    for (int i = 1; i <= n; i++) {
        char p[FIXED_LEN];
        memset(p, 'a' + i % 26, sizeof p);
        cr_assert_eq(wal_append(w, 0, p, sizeof p), i);
    }
    cr_assert(wait_durable(w, (uint64_t)n, 10000));
    wal_close(w);
}

typedef struct count {
    uint64_t n, next, bytes;
    uint64_t stop_at;
} count_t;

static int
count_cb(void *ctx, const wal_record_t *r, const void *enc, size_t enc_len) {
    count_t *k = ctx;
    if (k->stop_at && r->lsn == k->stop_at)
        return 1;
    cr_assert_eq(r->lsn, k->next);
    cr_assert_eq(enc_len, FIXED_SIZE);
    k->next++;
    k->n++;
    k->bytes += enc_len;
    return 0;
}

Test(wal_cursor, a_read_stops_at_its_byte_budget_and_the_next_resumes_there) {
    static_assert(FIXED_SIZE == WAL_REC_HDR_SIZE + FIXED_LEN, "no padding");
    tdirs_t t;
    make_fixed_log(&t, 1 << 20, 100);
    wal_cursor_t *c;
    char err[512];
    cr_assert_eq(wal_cursor_open(t.dir[0], NULL, 1, &c, err, sizeof err), 0, "%s", err);
    count_t k = {.next = 1};
    cr_assert_eq(wal_cursor_read(c, 100, 3 * FIXED_SIZE, count_cb, &k, err, sizeof err), 3);
    cr_assert_eq(wal_cursor_next_lsn(c), 4);
    cr_assert_eq(wal_cursor_read(c, 100, 3 * FIXED_SIZE + 55, count_cb, &k, err, sizeof err), 3);
    cr_assert_eq(wal_cursor_next_lsn(c), 7);
    cr_assert_eq(wal_cursor_read(c, 100, 1, count_cb, &k, err, sizeof err), 1,
                 "one record even when it is bigger than the budget");
    cr_assert_eq(wal_cursor_read(c, 100, 0, count_cb, &k, err, sizeof err), 1);
    cr_assert_eq(wal_cursor_next_lsn(c), 9);
    /* The limit bounds it too, and the callback can stop it before a record. */
    cr_assert_eq(wal_cursor_read(c, 12, 1 << 20, count_cb, &k, err, sizeof err), 4);
    k.stop_at = 15;
    cr_assert_eq(wal_cursor_read(c, 100, 1 << 20, count_cb, &k, err, sizeof err), 2);
    cr_assert_eq(wal_cursor_next_lsn(c), 15, "the refused record comes next");
    k.stop_at = 0;
    cr_assert_eq(wal_cursor_read(c, 100, 1 << 20, count_cb, &k, err, sizeof err), 86);
    cr_assert_eq(k.n, 100);
    wal_cursor_close(c);

    /* Records skipped before from_lsn count in the budget too: a call reads at most the budget
     * (and one record), returning 0 while next_lsn <= limit until it reaches from_lsn. */
    cr_assert_eq(wal_cursor_open(t.dir[0], NULL, 50, &c, err, sizeof err), 0, "%s", err);
    count_t s = {.next = 50};
    int calls = 0, zeros = 0;
    while (wal_cursor_next_lsn(c) <= 100) {
        int n = wal_cursor_read(c, 100, 10 * FIXED_SIZE, count_cb, &s, err, sizeof err);
        cr_assert_geq(n, 0, "%s", err);
        cr_assert_leq(n, 10);
        zeros += n == 0;
        calls++;
    }
    cr_assert_eq(s.n, 51);
    cr_assert_eq(zeros, 4,
                 "49 records skipped 10 per call: 4 calls deliver nothing, the 5th "
                 "skips 9 and delivers 1");
    cr_assert_eq(calls, 10);
    wal_cursor_close(c);
    tdirs_remove(&t);
}

Test(wal_cursor, a_damaged_record_is_an_error_naming_the_file_and_offset) {
    tdirs_t t;
    make_fixed_log(&t, 1 << 20, 100);
    char path[256], err[512], want[64];
    seg_path(path, sizeof path, t.dir[0], 0);
    uint64_t off = WAL_SEG_HDR_SIZE + 39 * FIXED_SIZE; /* record 40 */
    flip(path, off + WAL_REC_HDR_SIZE + 5);
    wal_cursor_t *c;
    cr_assert_eq(wal_cursor_open(t.dir[0], NULL, 1, &c, err, sizeof err), 0, "%s", err);
    count_t k = {.next = 1};
    cr_assert_eq(wal_cursor_read(c, 100, 1 << 20, count_cb, &k, err, sizeof err), KERR_CORRUPT);
    snprintf(want, sizeof want, "offset %lu: record checksum mismatch", (unsigned long)off);
    cr_assert_not_null(strstr(err, want), "%s", err);
    cr_assert_not_null(strstr(err, "wal-00000000000000000001.log"), "%s", err);
    cr_assert_eq(k.n, 39, "the records before it were delivered");
    cr_assert_eq(wal_cursor_next_lsn(c), 40, "and the cursor stays at the damage");
    cr_assert_eq(wal_cursor_read(c, 100, 1 << 20, count_cb, &k, err, sizeof err), KERR_CORRUPT);
    wal_cursor_close(c);

    /* Damage in a record that is only skipped is reported as well: nothing is sent past it. */
    cr_assert_eq(wal_cursor_open(t.dir[0], NULL, 60, &c, err, sizeof err), 0, "%s", err);
    count_t s = {.next = 60};
    cr_assert_eq(wal_cursor_read(c, 100, 1 << 20, count_cb, &s, err, sizeof err), KERR_CORRUPT);
    cr_assert_eq(s.n, 0);
    wal_cursor_close(c);
    tdirs_remove(&t);
}

Test(wal_cursor, zeros_or_a_deleted_segment_where_records_should_be_are_damage) {
    tdirs_t t;
    make_fixed_log(&t, 4096, 300);
    char path[256], err[512], want[96];
    uint8_t zero[WAL_REC_HDR_SIZE] = {0};
    seg_path(path, sizeof path, t.dir[0], 0);
    uint64_t off = WAL_SEG_HDR_SIZE + 39 * FIXED_SIZE; /* record 40 of 1..72 */
    poke(path, off, zero, sizeof zero);
    wal_cursor_t *c;
    cr_assert_eq(wal_cursor_open(t.dir[0], NULL, 1, &c, err, sizeof err), 0, "%s", err);
    count_t k = {.next = 1};
    cr_assert_eq(wal_cursor_read(c, 300, 1 << 20, count_cb, &k, err, sizeof err), KERR_CORRUPT);
    snprintf(want, sizeof want, "offset %lu: the data ends before LSN 40", (unsigned long)off);
    cr_assert_not_null(strstr(err, want), "%s", err);
    cr_assert_not_null(strstr(err, "starts at LSN 73: records are missing"), "%s", err);
    cr_assert_eq(k.n, 39);
    wal_cursor_close(c);

    /* A segment deleted by hand between two held ones is a hole, not a retirement (those go
     * oldest first): from 100, the cursor reads wal-73..., then finds wal-145 gone. */
    seg_path(path, sizeof path, t.dir[0], 2);
    cr_assert_not_null(strstr(path, "wal-00000000000000000145.log"), "%s", path);
    cr_assert_eq(unlink(path), 0);
    cr_assert_eq(wal_cursor_open(t.dir[0], NULL, 100, &c, err, sizeof err), 0, "%s", err);
    k = (count_t){.next = 100};
    cr_assert_eq(wal_cursor_read(c, 300, 1 << 20, count_cb, &k, err, sizeof err), KERR_CORRUPT);
    cr_assert_not_null(strstr(err, "data ends before LSN 145, but the next segment held starts "
                                   "at LSN 217: records are missing"),
                       "%s", err);
    cr_assert_eq(k.n, 45);
    wal_cursor_close(c);
    tdirs_remove(&t);
}

Test(wal_cursor, a_copy_that_holds_less_than_the_limit_is_an_error) {
    tdirs_t t;
    make_fixed_log(&t, 1 << 20, 100);
    wal_cursor_t *c;
    char err[512];
    cr_assert_eq(wal_cursor_open(t.dir[0], NULL, 1, &c, err, sizeof err), 0, "%s", err);
    count_t k = {.next = 1};
    cr_assert_eq(wal_cursor_read(c, 150, 1 << 20, count_cb, &k, err, sizeof err), KERR_FAILED);
    cr_assert_not_null(strstr(err, "LSN 101 is not in this copy"), "%s", err);
    cr_assert_eq(k.n, 100);
    wal_cursor_close(c);
    tdirs_remove(&t);
}

Test(wal_cursor, a_seal_ends_its_segment_and_is_not_a_record) {
    tdirs_t t;
    make_fixed_log(&t, 4096, 300);
    wal_scan_opts_t o = {0};
    wal_dir_scan_t sc;
    char err[512];
    cr_assert_eq(wal_scan_dir(t.dir[0], &o, &sc, err, sizeof err), 0, "%s", err);
    cr_assert_gt(sc.nsegs, 2);
    /* A seal left in an older segment (a copy that missed a later session) at its data end. */
    char path[256];
    uint8_t seal[WAL_REC_HDR_SIZE];
    snprintf(path, sizeof path, "%s/%s", t.dir[0], sc.segs[1].name);
    wal_rec_encode_seal(seal, sc.seg_last[1], 1);
    poke(path, sc.seg_end[1], seal, sizeof seal);
    wal_dir_scan_free(&sc);
    wal_cursor_t *c;
    cr_assert_eq(wal_cursor_open(t.dir[0], NULL, 1, &c, err, sizeof err), 0, "%s", err);
    count_t k = {.next = 1};
    cr_assert_eq(wal_cursor_read(c, 300, 1 << 20, count_cb, &k, err, sizeof err), 300, "%s", err);
    wal_cursor_close(c);
    tdirs_remove(&t);
}

Test(wal_cursor, a_segment_of_another_data_set_is_refused) {
    tdirs_t t;
    make_fixed_log(&t, 4096, 300);
    char path[256], err[512];
    seg_path(path, sizeof path, t.dir[0], 1);
    wal_seg_hdr_t h;
    int fd = open(path, O_RDONLY);
    cr_assert_eq(pread(fd, &h, sizeof h, 0), (ssize_t)sizeof h);
    close(fd);
    uint8_t other[WAL_DATASET_ID_SIZE];
    cr_assert_eq(wal_dataset_id_new(other), 0);
    wal_seg_hdr_encode(&h, h.first_lsn, h.created_ms, other, h.epoch);
    poke(path, 0, &h, sizeof h);
    wal_cursor_t *c;
    cr_assert_eq(wal_cursor_open(t.dir[0], NULL, 1, &c, err, sizeof err), 0, "%s", err);
    count_t k = {.next = 1};
    cr_assert_eq(wal_cursor_read(c, 300, 1 << 20, count_cb, &k, err, sizeof err), KERR_FOREIGN);
    cr_assert_not_null(strstr(err, "offset 32: segment belongs to another data set"), "%s", err);
    wal_cursor_close(c);
    tdirs_remove(&t);
}

/* tests/data/<name>, found from this file's path (CMake compiles it by absolute path). */
static void
golden_dir(char *buf, size_t n, const char *name) {
    char here[512];
    snprintf(here, sizeof here, "%s", __FILE__);
    snprintf(buf, n, "%s/../data/%s", dirname(here), name);
}

static int
golden_cb(void *ctx, const wal_record_t *r, const void *enc, size_t enc_len) {
    uint64_t *next = ctx;
    char want[16];
    snprintf(want, sizeof want, "key:%03d", (int)r->lsn); /* test_wal_golden.c's payloads */
    cr_assert_eq(r->lsn, *next);
    cr_assert_eq(r->ts_ms, 1700000000000 + (int64_t)r->lsn);
    cr_assert_not_null(memmem(r->payload, r->len, want, strlen(want)));
    (*next)++;
    return 0;
}

Test(wal_cursor, reads_golden_logs_of_format_1_and_2_across_segments) {
    const char *names[] = {"wal-v1", "wal-v2", "wal-v2-sealed"};
    for (size_t i = 0; i < 3; i++) {
        char dir[512], err[512];
        golden_dir(dir, sizeof dir, names[i]);
        for (uint64_t from = 1; from <= 101; from += 50) {
            wal_cursor_t *c;
            cr_assert_eq(wal_cursor_open(dir, NULL, from, &c, err, sizeof err), 0, "%s", err);
            uint64_t next = from;
            cr_assert_eq(wal_cursor_read(c, 110, 1 << 20, golden_cb, &next, err, sizeof err),
                         (int)(111 - from), "%s: %s", names[i], err);
            cr_assert_eq(wal_cursor_read(c, 110, 1 << 20, golden_cb, &next, err, sizeof err), 0);
            wal_cursor_close(c);
        }
    }
}

Test(wal_cursor, encode_decode_round_trip_and_damage_refused) {
    uint8_t payload[37], buf[128];
    char err[256];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 11 + 3);
    size_t size = wal_record_size(sizeof payload);
    cr_assert_eq(size, 72, "32-byte header, 37 bytes, padding to 8");
    wal_record_encode(buf, 42, 1700000000123, 7, payload, sizeof payload);
    wal_record_t r;
    cr_assert_eq(wal_record_decode(buf, size, &r, err, sizeof err), (int)size, "%s", err);
    cr_assert(r.lsn == 42 && r.ts_ms == 1700000000123 && r.db == 7 && r.len == sizeof payload);
    cr_assert_eq(memcmp(r.payload, payload, sizeof payload), 0);
    cr_assert(r.payload == buf + 32, "a view into the buffer");
    /* A longer buffer: the record's own size comes back (a framed caller compares). */
    cr_assert_eq(wal_record_decode(buf, sizeof buf, &r, err, sizeof err), (int)size);

    /* Every header and payload byte is covered: one flipped bit anywhere is refused. */
    for (size_t off = 0; off < WAL_REC_HDR_SIZE + sizeof payload; off++) {
        uint8_t bad[128];
        memcpy(bad, buf, size);
        bad[off] ^= 0x10;
        cr_assert_eq(wal_record_decode(bad, size, &r, err, sizeof err), KERR_CORRUPT,
                     "flipped byte %zu accepted", off);
    }
    cr_assert_eq(wal_record_decode(buf, size - 8, &r, err, sizeof err), KERR_CORRUPT);
    cr_assert_not_null(strstr(err, "cut short"), "%s", err);
    cr_assert_eq(wal_record_decode(buf, 20, &r, err, sizeof err), KERR_CORRUPT);
    uint8_t zero[64] = {0};
    cr_assert_eq(wal_record_decode(zero, sizeof zero, &r, err, sizeof err), KERR_CORRUPT);

    /* The flags: AFTER_SYNC (set on disk) passes; the seal and unknown bits do not. */
    wal_rec_set_flags(buf, WAL_REC_AFTER_SYNC);
    cr_assert_eq(wal_record_decode(buf, size, &r, err, sizeof err), (int)size, "%s", err);
    wal_rec_set_flags(buf, 1u << 7);
    cr_assert_eq(wal_record_decode(buf, size, &r, err, sizeof err), KERR_CORRUPT);
    cr_assert_not_null(strstr(err, "unknown record flags"), "%s", err);
    uint8_t seal[WAL_REC_HDR_SIZE];
    wal_rec_encode_seal(seal, 41, 1);
    cr_assert_eq(wal_record_decode(seal, sizeof seal, &r, err, sizeof err), KERR_CORRUPT);
    cr_assert_not_null(strstr(err, "seal"), "%s", err);

    /* An empty payload is a record too. */
    wal_record_encode(buf, 1, 0, 0, NULL, 0);
    cr_assert_eq(wal_record_decode(buf, 32, &r, err, sizeof err), 32, "%s", err);
    cr_assert_eq(r.len, 0);
}
