/* test_wal_faults.c - failures injected through the I/O hooks (wal_faults_t) around the real
 * pwrite/fdatasync path: one failing copy of three keeps the quorum, two lose it; short writes are
 * continued; a torn write leaves a tail that recovery cuts. */
#include "test_wal_util.h"

#include <errno.h>
#include <poll.h>

/* Open 3 copies with quorum 2 where copy 1 follows `plan`; append 2,000 records. */
static void
one_copy_fails(wal_fault_copy_t plan, const char *expect_reason) {
    tdirs_t t;
    tdirs_make(&t, 3);
    wal_faults_t f;
    wal_faults_init(&f);
    f.copy[1] = plan;
    wal_config_t cfg = tcfg(&t, 2);
    cfg.io = &f.io;
    wal_t *w;
    cr_assert_eq(wal_open(&cfg, 0, &w), 0);
    for (int i = 0; i < 20; i++) {
        cr_assert_gt(append_n(w, 100), 0, "appends go on with one copy failed");
        cr_assert(wait_durable(w, wal_last_lsn(w), 5000), "commits go on");
    }
    wal_stats_t st;
    wal_get_stats(w, &st);
    cr_assert_eq(st.healthy, 1);
    cr_assert(wal_healthy(w));
    cr_assert_null(wal_failure(w));
    cr_assert_eq(st.durable_lsn, 2000);
    cr_assert(st.copy[0].ok && st.copy[2].ok);
    cr_assert_not(st.copy[1].ok, "the failing copy is reported");
    cr_assert(strstr(st.copy[1].reason, expect_reason), "reason: %s", st.copy[1].reason);
    cr_assert_lt(st.copy[1].durable_lsn, 2000);
    cr_assert_eq(st.copy[0].durable_lsn, 2000);
    wal_close(w);
    /* Recovery brings the failed copy up to date from the others. */
    cfg.io = NULL;
    collect_t c = {0};
    uint64_t last;
    char err[512];
    cr_assert_eq(wal_recover(&cfg, 0, collect_cb, &c, &last, err, sizeof err), 0, "%s", err);
    cr_assert_eq(last, 2000);
    collect_t c1 = {0};
    cr_assert_eq(wal_read_dir(t.dir[1], 0, collect_cb, &c1, err, sizeof err), 0, "%s", err);
    cr_assert_eq(c1.n, 2000, "copy 1 was repaired");
    cr_assert(c1.in_order);
    tdirs_remove(&t);
}

Test(wal_faults, eio_on_write_fails_one_copy_and_commits_continue) {
    one_copy_fails((wal_fault_copy_t){.write_fail_after = 20000, .write_errno = EIO}, "write");
}

Test(wal_faults, enospc_on_write_fails_one_copy_and_commits_continue) {
    one_copy_fails((wal_fault_copy_t){.write_fail_after = 5000, .write_errno = ENOSPC},
                   "No space left");
}

Test(wal_faults, eio_on_fsync_fails_one_copy_for_good) {
    one_copy_fails((wal_fault_copy_t){.fsync_fail_nth = 3}, "fdatasync");
}

Test(wal_faults, two_failed_copies_lose_the_quorum_and_refuse_appends) {
    tdirs_t t;
    tdirs_make(&t, 3);
    wal_faults_t f;
    wal_faults_init(&f);
    f.copy[0].write_fail_after = 3000;
    f.copy[2].fsync_fail_nth = 4;
    wal_config_t cfg = tcfg(&t, 2);
    cfg.io = &f.io;
    wal_t *w;
    cr_assert_eq(wal_open(&cfg, 0, &w), 0);
    int64_t rc = 0;
    for (int i = 0; i < 200 && rc >= 0; i++) {
        rc = append_n(w, 10);
        wait_durable(w, wal_last_lsn(w), 50);
    }
    cr_assert_eq(rc, KERR_QUORUM, "appends are refused once the quorum is lost");
    cr_assert_eq(wal_healthy(w), 0);
    cr_assert_not_null(wal_failure(w));
    cr_assert(strstr(wal_failure(w), "quorum"), "%s", wal_failure(w));
    cr_assert(strstr(wal_failure(w), t.dir[0]), "names the failed copy: %s", wal_failure(w));
    struct pollfd p = {.fd = wal_notify_fd(w), .events = POLLIN};
    cr_assert_eq(poll(&p, 1, 0), 1, "the notify fd fired");
    cr_assert_lt(wal_durable_lsn(w), wal_last_lsn(w) + 1);
    cr_assert_eq(wal_append(w, 0, "x", 1), KERR_QUORUM, "for good");
    cr_assert_eq(wal_sync_now(w), KERR_QUORUM);
    uint64_t durable = wal_durable_lsn(w);
    wal_close(w);
    /* Everything acknowledged durable survives. */
    cfg.io = NULL;
    uint64_t last;
    char err[512];
    cr_assert_eq(wal_recover(&cfg, 0, NULL, NULL, &last, err, sizeof err), 0, "%s", err);
    cr_assert_geq(last, durable);
    tdirs_remove(&t);
}

Test(wal_faults, short_writes_are_continued_not_failed) {
    tdirs_t t;
    tdirs_make(&t, 2);
    wal_faults_t f;
    wal_faults_init(&f);
    f.copy[0].short_write_max = 7; /* odd, so records straddle the pieces */
    f.copy[1].short_write_max = 4096;
    wal_config_t cfg = tcfg(&t, 2);
    cfg.io = &f.io;
    wal_t *w;
    cr_assert_eq(wal_open(&cfg, 0, &w), 0);
    for (int i = 0; i < 5; i++) {
        cr_assert_gt(append_n(w, 200), 0);
        cr_assert(wait_durable(w, wal_last_lsn(w), 10000));
    }
    wal_stats_t st;
    wal_get_stats(w, &st);
    cr_assert(st.copy[0].ok && st.copy[1].ok, "short writes fail nothing");
    wal_close(w);
    cr_assert_gt(f.copy[0].short_writes, 100);
    cr_assert_gt(f.copy[1].short_writes, 0);
    char err[512];
    for (int i = 0; i < 2; i++) {
        collect_t c = {0};
        cr_assert_eq(wal_read_dir(t.dir[i], 0, collect_cb, &c, err, sizeof err), 0, "%s", err);
        cr_assert_eq(c.n, 1000, "copy %d holds every record intact", i);
        cr_assert(c.in_order);
    }
    tdirs_remove(&t);
}

Test(wal_faults, torn_write_leaves_a_tail_that_recovery_cuts) {
    tdirs_t t;
    tdirs_make(&t, 1);
    wal_faults_t f;
    wal_faults_init(&f);
    /* Header (64) + 10 whole records of "rec-N" + 13 bytes of the 11th. */
    f.copy[0].torn_at_bytes = 64 + 10 * wal_rec_size(5) + 13;
    wal_config_t cfg = tcfg(&t, 1);
    cfg.io = &f.io;
    wal_t *w;
    cr_assert_eq(wal_open(&cfg, 0, &w), 0);
    cr_assert_eq(append_n(w, 10), 10);
    cr_assert(wait_durable(w, 10, 5000));
    /* The five records are staged, then handed over together: they fail as one batch. */
    int64_t r = append_n(w, 5);
    cr_assert_eq(r, 15, "append_n returned %lld", (long long)r);
    wal_submit(w);
    for (int i = 0; i < 5000 && wal_healthy(w); i++)
        usleep(1000);
    cr_assert_eq(wal_healthy(w), 0, "the only copy failed");
    cr_assert_eq(wal_durable_lsn(w), 10, "the torn batch was never acknowledged");
    wal_close(w);

    char seg[256];
    snprintf(seg, sizeof seg, "%s/wal-00000000000000000001.log", t.dir[0]);
    char *text = NULL;
    size_t textlen = 0;
    FILE *out = open_memstream(&text, &textlen);
    cr_assert_eq(wal_check_dir(t.dir[0], out, 0), WAL_CHECK_TORN, "not damage, but attention");
    fclose(out);
    cr_assert(strstr(text, "TORN TAIL"), "%s", text);
    cr_assert(strstr(text, "ATTENTION"), "%s", text);
    free(text);
    cfg.io = NULL;
    cfg.preallocate_off = 0;
    collect_t c = {0};
    uint64_t last;
    char err[512];
    cr_assert_eq(wal_recover(&cfg, 0, collect_cb, &c, &last, err, sizeof err), 0, "%s", err);
    cr_assert_eq(last, 10);
    cr_assert_eq(c.n, 10);
    cr_assert_eq(file_size(seg), 64 + 10 * wal_rec_size(5), "cut at the torn record");
    /* The log goes on after the cut. */
    cr_assert_eq(wal_open(&cfg, last, &w), 0);
    cr_assert_eq(wal_append(w, 0, "after", 5), 11);
    wal_close(w);
    collect_t c2 = {0};
    cr_assert_eq(wal_recover(&cfg, 0, collect_cb, &c2, &last, err, sizeof err), 0, "%s", err);
    cr_assert(c2.in_order && c2.n == 11);
    tdirs_remove(&t);
}

Test(wal_faults, failed_segment_creation_fails_the_copy) {
    tdirs_t t;
    tdirs_make(&t, 3);
    wal_faults_t f;
    wal_faults_init(&f);
    f.copy[2].open_fail_nth = 2; /* the first cut */
    wal_config_t cfg = tcfg(&t, 2);
    cfg.segment_size_bytes = 8192;
    cfg.io = &f.io;
    wal_t *w;
    cr_assert_eq(wal_open(&cfg, 0, &w), 0);
    cr_assert_gt(append_n(w, 1000), 0);
    cr_assert(wait_durable(w, 1000, 5000));
    wal_stats_t st;
    wal_get_stats(w, &st);
    cr_assert_not(st.copy[2].ok);
    cr_assert(strstr(st.copy[2].reason, "create segment"), "%s", st.copy[2].reason);
    cr_assert(st.healthy);
    wal_close(w);
    tdirs_remove(&t);
}
