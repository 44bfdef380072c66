/* test_wal_identity.c - format version 2: every segment carries the data set's id and epoch;
 * recovery refuses a copy or segment of another data set, an epoch that goes down, a segment of
 * a newer format, and missing records the caller says must exist (unless accept_loss). */
#include "test_wal_util.h"

static const uint8_t id_a[WAL_DATASET_ID_SIZE] = {0xaa, 1, 2,  3,  4,  5,  0x46, 7,
                                                  0x88, 9, 10, 11, 12, 13, 14,   15};
static const uint8_t id_b[WAL_DATASET_ID_SIZE] = {0xbb, 1, 2,  3,  4,  5,  0x46, 7,
                                                  0x88, 9, 10, 11, 12, 13, 14,   15};

static wal_seg_hdr_t
read_hdr(const char *path) {
    wal_seg_hdr_t h;
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    cr_assert_eq(fread(&h, sizeof h, 1, f), 1);
    fclose(f);
    return h;
}

static void
move_file(const char *from_dir, const char *to_dir, const char *name) {
    char a[256], b[256];
    snprintf(a, sizeof a, "%s/%s", from_dir, name);
    snprintf(b, sizeof b, "%s/%s", to_dir, name);
    cr_assert_eq(rename(a, b), 0);
}

Test(wal_identity, segments_carry_the_id_and_epoch_the_writer_was_given) {
    tdirs_t t;
    tdirs_make(&t, 1);
    wal_config_t cfg = tcfg(&t, 1);
    cfg.segment_size_bytes = 8192;
    memcpy(cfg.dataset_id, id_a, sizeof id_a);
    cfg.epoch = 4;
    session(&cfg, 0, 600); /* several segments */
    cr_assert_gt(count_segments(t.dir[0]), 2);
    for (int i = 0; i < count_segments(t.dir[0]); i++) {
        char p[256];
        seg_path(p, sizeof p, t.dir[0], i);
        wal_seg_hdr_t h = read_hdr(p);
        cr_assert_eq(h.version, 2);
        cr_assert_eq(memcmp(h.dataset_id, id_a, sizeof id_a), 0);
        cr_assert_eq(h.epoch, 4);
    }
    wal_config_t plain = tcfg(&t, 1); /* a caller that knows no id */
    wal_recover_info_t info;
    char err[512];
    cr_assert_eq(wal_recover_ex(&plain, 0, NULL, NULL, &info, err, sizeof err), 0, "%s", err);
    cr_assert_eq(memcmp(info.dataset_id, id_a, sizeof id_a), 0);
    cr_assert_eq(info.epoch, 4);
    cr_assert_eq(info.format_version, 2);
    cr_assert_eq(info.first_lsn, 1);
    cr_assert_eq(info.last_lsn, 600);
    cr_assert_eq(info.torn_records + info.torn_bytes + (uint64_t)info.torn_copies, 0);
    tdirs_remove(&t);
}

Test(wal_identity, a_new_log_gets_a_random_id_and_epoch_1_and_keeps_them_across_opens) {
    tdirs_t t;
    tdirs_make(&t, 2);
    wal_config_t cfg = tcfg(&t, 2);
    session(&cfg, 0, 10);
    wal_recover_info_t i1, i2;
    char err[512];
    cr_assert_eq(wal_recover_ex(&cfg, 0, NULL, NULL, &i1, err, sizeof err), 0, "%s", err);
    cr_assert_not(wal_dataset_id_is_zero(i1.dataset_id));
    cr_assert_eq(i1.epoch, 1);
    session(&cfg, 10, 10);
    cr_assert_eq(wal_recover_ex(&cfg, 0, NULL, NULL, &i2, err, sizeof err), 0, "%s", err);
    cr_assert_eq(memcmp(i1.dataset_id, i2.dataset_id, WAL_DATASET_ID_SIZE), 0, "kept");
    cr_assert_eq(i2.epoch, 1);
    cr_assert_eq(i2.last_lsn, 20);
    /* A later epoch (a promotion) is stamped into the segments written from then on. */
    cfg.epoch = 2;
    session(&cfg, 20, 5);
    cfg.epoch = 0;
    cr_assert_eq(wal_recover_ex(&cfg, 0, NULL, NULL, &i2, err, sizeof err), 0, "%s", err);
    cr_assert_eq(i2.epoch, 2);
    tdirs_remove(&t);
}

Test(wal_identity, a_copy_of_another_data_set_is_refused_naming_the_copy_and_file) {
    tdirs_t t;
    tdirs_make(&t, 2);
    wal_config_t one = tcfg(&t, 1);
    one.ndirs = 1;
    memcpy(one.dataset_id, id_a, sizeof id_a);
    session(&one, 0, 20);
    one.dirs = &t.dirs[1]; /* the second directory gets a log of its own */
    memcpy(one.dataset_id, id_b, sizeof id_b);
    session(&one, 0, 30);
    uint32_t d0 = dir_digest(t.dir[0]), d1 = dir_digest(t.dir[1]);
    wal_config_t cfg = tcfg(&t, 1);
    collect_t c = {0};
    wal_recover_info_t info;
    char err[512];
    int rc = wal_recover_ex(&cfg, 0, collect_cb, &c, &info, err, sizeof err);
    cr_assert_eq(rc, KERR_CORRUPT);
    cr_assert(strstr(err, "belongs to another data set"), "%s", err);
    cr_assert(strstr(err, "copy 1"), "names the copy: %s", err);
    cr_assert(strstr(err, "wal-00000000000000000001.log"), "names the file: %s", err);
    cr_assert_eq(c.n, 0, "nothing applied");
    cr_assert_eq(dir_digest(t.dir[0]), d0, "nothing modified");
    cr_assert_eq(dir_digest(t.dir[1]), d1, "the shorter copy was not 'repaired' either");
    tdirs_remove(&t);
}

Test(wal_identity, a_log_of_another_data_set_than_the_callers_is_refused) {
    tdirs_t t;
    tdirs_make(&t, 1);
    wal_config_t cfg = tcfg(&t, 1);
    memcpy(cfg.dataset_id, id_a, sizeof id_a);
    session(&cfg, 0, 5);
    memcpy(cfg.dataset_id, id_b, sizeof id_b);
    uint64_t last;
    char err[512];
    cr_assert_eq(wal_recover(&cfg, 0, NULL, NULL, &last, err, sizeof err), KERR_CORRUPT);
    cr_assert(strstr(err, "belongs to another data set"), "%s", err);
    cr_assert(strstr(err, "expected bb010203"), "names the id expected: %s", err);
    wal_t *w = NULL;
    cr_assert_eq(wal_open(&cfg, 5, &w), KERR_INVAL, "nor does the writer mix data sets");
    cr_assert_null(w);
    memcpy(cfg.dataset_id, id_a, sizeof id_a);
    cr_assert_eq(wal_recover(&cfg, 0, NULL, NULL, &last, err, sizeof err), 0, "%s", err);
    tdirs_remove(&t);
}

Test(wal_identity, a_segment_of_another_data_set_inside_a_copy_is_refused) {
    tdirs_t t;
    tdirs_make(&t, 2);
    wal_config_t one = tcfg(&t, 1);
    one.ndirs = 1;
    memcpy(one.dataset_id, id_a, sizeof id_a);
    session(&one, 0, 20);
    one.dirs = &t.dirs[1];
    memcpy(one.dataset_id, id_b, sizeof id_b);
    session(&one, 20, 5); /* wal-...21.log of data set b, continuing the LSNs */
    move_file(t.dir[1], t.dir[0], "wal-00000000000000000021.log");
    char err[512];
    uint64_t last;
    one.dirs = &t.dirs[0];
    memset(one.dataset_id, 0, sizeof one.dataset_id);
    cr_assert_eq(wal_recover(&one, 0, NULL, NULL, &last, err, sizeof err), KERR_CORRUPT);
    cr_assert(strstr(err, "wal-00000000000000000021.log offset 32: segment belongs to another "
                          "data set"),
              "%s", err);
    tdirs_remove(&t);
}

Test(wal_identity, an_epoch_lower_than_the_previous_segments_is_refused) {
    tdirs_t t;
    tdirs_make(&t, 2);
    wal_config_t one = tcfg(&t, 1);
    one.ndirs = 1;
    memcpy(one.dataset_id, id_a, sizeof id_a);
    one.epoch = 3;
    session(&one, 0, 20);
    wal_t *w = NULL;
    one.epoch = 2;
    cr_assert_eq(wal_open(&one, 20, &w), KERR_INVAL, "the writer never lowers the epoch");
    one.dirs = &t.dirs[1];
    session(&one, 20, 5); /* epoch 2 elsewhere, then moved in after epoch 3 */
    move_file(t.dir[1], t.dir[0], "wal-00000000000000000021.log");
    one.dirs = &t.dirs[0];
    one.epoch = 0;
    char err[512];
    uint64_t last;
    cr_assert_eq(wal_recover(&one, 0, NULL, NULL, &last, err, sizeof err), KERR_CORRUPT);
    cr_assert(strstr(err, "epoch 2 is lower than the previous segment's 3"), "%s", err);
    tdirs_remove(&t);
}

Test(wal_identity, a_segment_of_a_newer_format_is_refused_by_version_and_left_alone) {
    tdirs_t t;
    tdirs_make(&t, 1);
    wal_config_t cfg = tcfg(&t, 1);
    session(&cfg, 0, 20);
    char p[256];
    seg_path(p, sizeof p, t.dir[0], -1);
    uint32_t v3 = 3;
    poke(p, 8, &v3, 4); /* its CRC no longer matches either: a v3 reader may checksum more */
    uint32_t d = dir_digest(t.dir[0]);
    uint64_t last;
    char err[512];
    cr_assert_eq(wal_recover(&cfg, 0, NULL, NULL, &last, err, sizeof err), KERR_VERSION);
    cr_assert(strstr(err, "format version 3"), "%s", err);
    cr_assert(strstr(err, "reads format version 3 is needed"), "%s", err);
    cr_assert_eq(dir_digest(t.dir[0]), d, "not removed as a torn segment");
    tdirs_remove(&t);
}

Test(wal_identity, a_log_that_ends_before_expect_lsn_min_is_refused) {
    tdirs_t t;
    tdirs_make(&t, 2);
    wal_config_t cfg = tcfg(&t, 2);
    session(&cfg, 0, 50);
    cfg.expect_lsn_min = 50;
    uint64_t last;
    char err[512];
    cr_assert_eq(wal_recover(&cfg, 0, NULL, NULL, &last, err, sizeof err), 0, "%s", err);
    cfg.expect_lsn_min = 60; /* e.g. a snapshot at LSN 60 exists: the log lost its tail */
    collect_t c = {0};
    cr_assert_eq(wal_recover(&cfg, 0, collect_cb, &c, &last, err, sizeof err), KERR_CORRUPT);
    cr_assert(strstr(err, "ends at LSN 50"), "%s", err);
    cr_assert(strstr(err, "up to LSN 60 must exist"), "%s", err);
    cr_assert_eq(c.n, 0);
    tdirs_remove(&t);
}

Test(wal_identity, accept_loss_turns_missing_records_into_a_warning) {
    tdirs_t t;
    tdirs_make(&t, 1);
    wal_config_t cfg = tcfg(&t, 1);
    session(&cfg, 0, 50);
    logbuf_t lb = {0};
    cfg.log = logbuf_cb;
    cfg.log_ctx = &lb;
    cfg.expect_lsn_min = 60;
    cfg.accept_loss = 1;
    collect_t c = {0};
    wal_recover_info_t info;
    char err[512];
    cr_assert_eq(wal_recover_ex(&cfg, 0, collect_cb, &c, &info, err, sizeof err), 0, "%s", err);
    cr_assert_eq(c.n, 50);
    cr_assert(info.loss_accepted);
    cr_assert_eq(lb.warnings, 1, "%s", lb.text);
    cr_assert(strstr(lb.text, "WARNING: wal: copy 0"), "%s", lb.text);
    cr_assert(strstr(lb.text, "up to LSN 60 must exist"), "%s", lb.text);
    tdirs_remove(&t);
}

Test(wal_identity, a_log_that_starts_after_after_lsn_is_refused_unless_accept_loss) {
    tdirs_t t;
    tdirs_make(&t, 1);
    wal_config_t cfg = tcfg(&t, 1);
    cfg.segment_size_bytes = 4096;
    session(&cfg, 0, 200);
    char first[256];
    seg_path(first, sizeof first, t.dir[0], 0);
    cr_assert_eq(unlink(first), 0); /* records 1..n of the first segment are gone */
    uint64_t last;
    char err[512];
    cr_assert_eq(wal_recover(&cfg, 0, NULL, NULL, &last, err, sizeof err), KERR_CORRUPT);
    cr_assert(strstr(err, "records after LSN 0 are needed"), "%s", err);
    logbuf_t lb = {0};
    cfg.log = logbuf_cb;
    cfg.log_ctx = &lb;
    cfg.accept_loss = 1;
    collect_t c = {0};
    cr_assert_eq(wal_recover(&cfg, 0, collect_cb, &c, &last, err, sizeof err), 0, "%s", err);
    cr_assert_eq(last, 200);
    cr_assert(c.in_order && c.last == 200 && c.first > 1);
    cr_assert_eq(lb.warnings, 1, "%s", lb.text);
    tdirs_remove(&t);
}

/* A promotion mid-session (wal_begin_epoch): the records after it start a segment of their own
 * stamped with the new epoch, so every segment names the epoch of all its records; an epoch
 * that would go down is refused; an empty current segment is restamped in place. */
Test(wal_identity, a_new_epoch_starts_a_segment_stamped_with_it) {
    tdirs_t t;
    tdirs_make(&t, 1);
    wal_config_t cfg = tcfg(&t, 1);
    memcpy(cfg.dataset_id, id_a, sizeof id_a);
    cfg.epoch = 2;
    wal_t *w;
    cr_assert_eq(wal_open(&cfg, 0, &w), 0);
    cr_assert_eq(wal_begin_epoch(w, 3), 0, "before any record: the empty segment is restamped");
    cr_assert_eq(append_n(w, 10), 10);
    cr_assert(wait_durable(w, 10, 5000));
    cr_assert_eq(wal_begin_epoch(w, 9), 0);
    cr_assert_eq(wal_begin_epoch(w, 9), 0, "the same epoch again changes nothing");
    cr_assert_eq(wal_begin_epoch(w, 8), KERR_INVAL, "an epoch never goes down");
    cr_assert_eq(append_n(w, 5), 15);
    wal_close(w);
    cr_assert_eq(count_segments(t.dir[0]), 2);
    char p[256];
    seg_path(p, sizeof p, t.dir[0], 0);
    wal_seg_hdr_t h = read_hdr(p);
    cr_assert_eq(h.first_lsn, 1);
    cr_assert_eq(h.epoch, 3);
    seg_path(p, sizeof p, t.dir[0], 1);
    h = read_hdr(p);
    cr_assert_eq(h.first_lsn, 11, "the new epoch's first record starts the segment");
    cr_assert_eq(h.epoch, 9);
    wal_config_t plain = tcfg(&t, 1);
    wal_recover_info_t info;
    char err[512];
    collect_t col = {0};
    cr_assert_eq(wal_recover_ex(&plain, 0, collect_cb, &col, &info, err, sizeof err), 0, "%s", err);
    cr_assert_eq(col.n, 15);
    cr_assert(col.in_order);
    cr_assert_eq(info.epoch, 9);
    /* Reopened at the epoch on disk: a lower one is refused, a higher one goes on. */
    cfg.epoch = 0;
    session(&cfg, 15, 3);
    cr_assert_eq(wal_recover_ex(&plain, 0, NULL, NULL, &info, err, sizeof err), 0, "%s", err);
    cr_assert_eq(info.epoch, 9);
    cr_assert_eq(info.last_lsn, 18);
    tdirs_remove(&t);
}
