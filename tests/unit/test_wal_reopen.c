/* test_wal_reopen.c - wal_open() goes on in the newest segment when it can (same clean version 2
 * segment on every copy, this data set and epoch, room left) instead of creating and
 * preallocating a new one per start; an empty newest segment is reused; a start on a nearly full
 * disk uses the space the segment already has. */
#include "test_wal_util.h"

#include <errno.h>
#include <sys/mount.h>

static int may_create; /* a start may create a segment (the newest one is full) */

/* Recover (as the server does), open after the last LSN, append n records, close or crash. */
static uint64_t
start_append_stop(wal_config_t *cfg, int n, int crash) {
    uint64_t last;
    char err[512];
    cr_assert_eq(wal_recover(cfg, 0, NULL, NULL, &last, err, sizeof err), 0, "%s", err);
    if (crash) {
        session_crash(cfg, last, &n, 1);
        return last + (uint64_t)n;
    }
    wal_t *w;
    cr_assert_eq(wal_open(cfg, last, &w), 0);
    wal_stats_t st;
    wal_get_stats(w, &st);
    cr_assert(last == 0 || may_create || st.segments == 0, "start after LSN %llu created a segment",
              (unsigned long long)last);
    if (n)
        cr_assert_eq(append_n(w, n), (int64_t)(last + (uint64_t)n));
    wal_close(w);
    return last + (uint64_t)n;
}

Test(wal_reopen, twenty_starts_keep_one_segment_and_every_record_in_order) {
    tdirs_t t;
    tdirs_make(&t, 3);
    wal_config_t cfg = tcfg(&t, 2);
    uint64_t last = 0;
    for (int i = 0; i < 20; i++) /* every third start ends in a crash */
        last = start_append_stop(&cfg, 3 + i % 4, i % 3 == 2);
    for (int c = 0; c < 3; c++)
        cr_assert_eq(count_segments(t.dir[c]), 1, "copy %d: one segment for 20 starts", c);
    collect_t col = {0};
    uint64_t got;
    char err[512];
    cr_assert_eq(wal_recover(&cfg, 0, collect_cb, &col, &got, err, sizeof err), 0, "%s", err);
    cr_assert_eq(got, last);
    cr_assert(col.in_order && col.first == 1 && col.n == last);
    tdirs_remove(&t);
}

Test(wal_reopen, an_empty_newest_segment_is_reused) {
    tdirs_t t;
    tdirs_make(&t, 1);
    wal_config_t cfg = tcfg(&t, 1);
    cfg.segment_size_bytes = 4096;
    session(&cfg, 0, 100); /* 4000 bytes of records: the next one goes to wal-...101 */
    int rounds[] = {1};
    session_crash(&cfg, 100, rounds, 1);
    char p[256];
    seg_path(p, sizeof p, t.dir[0], -1);
    cr_assert(strstr(p, "wal-00000000000000000101.log"), "%s", p);
    cr_assert_eq(truncate(p, 64), 0); /* as if killed before the record: an empty segment */
    wal_faults_t f;                   /* no faults: counts segment creations */
    wal_faults_init(&f);
    cfg.io = &f.io;
    for (int i = 0; i < 5; i++)
        start_append_stop(&cfg, 0, 0);
    cr_assert_eq(f.copy[0].opens, 0, "the empty segment was not created again");
    cr_assert_eq(count_segments(t.dir[0]), 2);
    start_append_stop(&cfg, 7, 0);
    cr_assert_eq(count_segments(t.dir[0]), 2);
    collect_t c = {0};
    uint64_t last;
    char err[512];
    cr_assert_eq(wal_recover(&cfg, 0, collect_cb, &c, &last, err, sizeof err), 0, "%s", err);
    cr_assert(c.in_order && c.n == 107);
    tdirs_remove(&t);
}

/* Full segments are cut as always; a start only adds one when the newest has no room left. */
Test(wal_reopen, starts_add_segments_only_as_the_data_needs_them) {
    tdirs_t t;
    tdirs_make(&t, 1);
    wal_config_t cfg = tcfg(&t, 1);
    cfg.segment_size_bytes = 4096; /* 100 records of 40 bytes per segment */
    uint64_t last = 0;
    may_create = 1;
    for (int i = 0; i < 40; i++)
        last = start_append_stop(&cfg, 10, 0);
    cr_assert_eq(last, 400);
    int n = count_segments(t.dir[0]);
    cr_assert(n >= 4 && n <= 5, "%d segments for 400 records of 40 bytes in 4 KiB", n);
    collect_t col = {0};
    char err[512];
    cr_assert_eq(wal_recover(&cfg, 0, collect_cb, &col, &last, err, sizeof err), 0, "%s", err);
    cr_assert(col.in_order && col.n == 400);
    tdirs_remove(&t);
}

Test(wal_reopen, a_new_epoch_starts_a_new_segment) {
    tdirs_t t;
    tdirs_make(&t, 1);
    wal_config_t cfg = tcfg(&t, 1);
    session(&cfg, 0, 5);
    session(&cfg, 5, 5);
    cr_assert_eq(count_segments(t.dir[0]), 1);
    cfg.epoch = 2;
    session(&cfg, 10, 5);
    cr_assert_eq(count_segments(t.dir[0]), 2, "one epoch per segment");
    session(&cfg, 15, 5);
    cr_assert_eq(count_segments(t.dir[0]), 2);
    tdirs_remove(&t);
}

/* Creating a segment is what needs new space; going on in the newest one needs none. Segment
 * creation fails here from the first one on (as on a full disk), and the start still works. */
Test(wal_reopen, a_start_creates_no_segment_file_when_the_newest_has_room) {
    tdirs_t t;
    tdirs_make(&t, 1);
    wal_config_t cfg = tcfg(&t, 1);
    session(&cfg, 0, 10);
    wal_faults_t f;
    wal_faults_init(&f);
    f.copy[0].open_fail_nth = 1;
    cfg.io = &f.io;
    wal_t *w;
    cr_assert_eq(wal_open(&cfg, 10, &w), 0);
    cr_assert_eq(append_n(w, 10), 20);
    cr_assert(wait_durable(w, 20, 5000));
    wal_close(w);
    cr_assert_eq(f.copy[0].opens, 0, "no segment was created");
    tdirs_remove(&t);
}

/* The same on a real full file system: an 8 MiB tmpfs holding a 4 MiB preallocated segment,
 * the rest filled. A new segment could not be created there; the start goes on in the old. */
static char mnt[64];

static void
umount_fini(void) {
    if (mnt[0]) {
        umount2(mnt, MNT_DETACH);
        rmdir(mnt);
    }
}

static void
fill_disk(const char *dir) {
    char p[128];
    snprintf(p, sizeof p, "%s/filler", dir);
    int fd = open(p, O_CREAT | O_WRONLY, 0644);
    cr_assert_geq(fd, 0);
    static char buf[65536];
    memset(buf, 'f', sizeof buf);
    while (write(fd, buf, sizeof buf) > 0)
        ;
    while (write(fd, buf, 1) > 0)
        ;
    cr_assert_eq(errno, ENOSPC);
    close(fd);
}

Test(wal_reopen, a_start_on_a_full_disk_uses_the_space_of_the_newest_segment, .fini = umount_fini) {
    snprintf(mnt, sizeof mnt, "/tmp/keel-wal-full-XXXXXX");
    cr_assert_not_null(mkdtemp(mnt));
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=8m") != 0) {
        rmdir(mnt);
        mnt[0] = 0;
        cr_skip_test("cannot mount a tmpfs here: %s", strerror(errno));
    }
    char dir[96];
    snprintf(dir, sizeof dir, "%s/wal", mnt);
    const char *dirs[] = {dir};
    wal_config_t cfg = {.dirs = dirs,
                        .ndirs = 1,
                        .quorum = 1,
                        .sync_each_batch = 1,
                        .segment_size_bytes = 4 << 20,
                        .buffer_bytes_max = 1 << 20};
    session(&cfg, 0, 100);
    fill_disk(mnt);
    wal_t *w;
    uint64_t last;
    char err[512];
    cr_assert_eq(wal_recover(&cfg, 0, NULL, NULL, &last, err, sizeof err), 0, "%s", err);
    cr_assert_eq(wal_open(&cfg, last, &w), 0, "the start needs no new space");
    char rec[1000];
    memset(rec, 'r', sizeof rec);
    for (int i = 0; i < 2000; i++) /* 2 MB into the preallocated 4 MiB */
        cr_assert_gt(wal_append(w, 0, rec, sizeof rec), 0);
    cr_assert(wait_durable(w, 2100, 10000));
    cr_assert(wal_healthy(w));
    wal_close(w);
    collect_t c = {0};
    cr_assert_eq(wal_recover(&cfg, 0, collect_cb, &c, &last, err, sizeof err), 0, "%s", err);
    cr_assert(c.in_order && c.n == 2100);
}
