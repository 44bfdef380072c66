/* test_wal_writer.c - the WAL thread on its real pwrite/fdatasync path: append + recover round
 * trip, group commit, durable LSN, async mode, back-pressure, segment cutting and retention. */
#include "test_wal_util.h"

#include <pthread.h>
#include <stdatomic.h>

Test(wal_writer, appended_records_come_back_from_recovery) {
    tdirs_t t;
    tdirs_make(&t, 1);
    wal_config_t cfg = tcfg(&t, 0);
    uint64_t last = 99;
    char err[512];
    cr_assert_eq(wal_recover(&cfg, 0, NULL, NULL, &last, err, sizeof err), 0, "%s", err);
    cr_assert_eq(last, 0, "an empty log");
    wal_t *w;
    cr_assert_eq(wal_open(&cfg, last, &w), 0);
    int64_t l1 = wal_append(w, 3, "abc", 3);
    cr_assert_eq(l1, 1);
    cr_assert_eq(append_n(w, 999), 1000);
    cr_assert_eq(wal_last_lsn(w), 1000);
    cr_assert(wait_durable(w, 1000, 5000));
    wal_close(w);

    collect_t c = {0};
    cr_assert_eq(wal_recover(&cfg, 0, collect_cb, &c, &last, err, sizeof err), 0, "%s", err);
    cr_assert_eq(last, 1000);
    cr_assert_eq(c.n, 1000);
    cr_assert(c.in_order);
    cr_assert_eq(c.first, 1);
    collect_t c2 = {0};
    cr_assert_eq(wal_recover(&cfg, 990, collect_cb, &c2, &last, err, sizeof err), 0);
    cr_assert_eq(c2.n, 10, "only records after after_lsn");
    cr_assert_eq(c2.first, 991);

    /* Reopen continues the LSN sequence, in the same segment (it has room). */
    cr_assert_eq(wal_open(&cfg, last, &w), 0);
    cr_assert_eq(wal_append(w, 0, "x", 1), 1001);
    wal_close(w);
    collect_t c3 = {0};
    cr_assert_eq(wal_recover(&cfg, 0, collect_cb, &c3, &last, err, sizeof err), 0, "%s", err);
    cr_assert_eq(last, 1001);
    cr_assert(c3.in_order && c3.n == 1001);
    tdirs_remove(&t);
}

typedef struct durable_watch {
    wal_t *w;
    atomic_int stop; /* the test tells the watcher to end */
    int went_backwards;
    uint64_t samples;
} durable_watch_t;

static void *
watch_main(void *arg) {
    durable_watch_t *d = arg;
    uint64_t prev = 0;
    while (!atomic_load(&d->stop)) {
        uint64_t v = wal_durable_lsn(d->w);
        if (v < prev || v > wal_last_lsn(d->w))
            d->went_backwards = 1;
        prev = v;
        d->samples++;
    }
    return NULL;
}

Test(wal_writer, group_commit_uses_fewer_fsyncs_than_records_and_durable_lsn_is_monotonic) {
    tdirs_t t;
    tdirs_make(&t, 3);
    wal_config_t cfg = tcfg(&t, 2);
    wal_t *w;
    cr_assert_eq(wal_open(&cfg, 0, &w), 0);
    durable_watch_t d = {.w = w};
    pthread_t th;
    pthread_create(&th, NULL, watch_main, &d);
    int n = 20000;
    for (int burst = 0; burst < 20; burst++) { /* bursts, so several batches form */
        cr_assert_gt(append_n(w, n / 20), 0);
        usleep(2000);
    }
    cr_assert_eq(wal_last_lsn(w), (uint64_t)n);
    cr_assert(wait_durable(w, (uint64_t)n, 10000));
    atomic_store(&d.stop, 1);
    pthread_join(th, NULL);
    wal_stats_t st;
    wal_get_stats(w, &st);
    cr_log_info("group commit: %d records, %llu batches, %.1f records/batch, %llu fsyncs, "
                "fsync p50 %llu us p99 %llu us",
                n, (unsigned long long)st.batches, st.records_per_batch_avg,
                (unsigned long long)st.fsyncs, (unsigned long long)st.fsync_latency_p50_us,
                (unsigned long long)st.fsync_latency_p99_us);
    fprintf(stderr,
            "group commit: %d records in %llu batches (%.1f/batch), %llu fsyncs, "
            "fsync p50 %llu us p99 %llu us\n",
            n, (unsigned long long)st.batches, st.records_per_batch_avg,
            (unsigned long long)st.fsyncs, (unsigned long long)st.fsync_latency_p50_us,
            (unsigned long long)st.fsync_latency_p99_us);
    cr_assert_gt(st.batches, 1);
    cr_assert_lt(st.batches, (uint64_t)n / 4, "appends were grouped");
    cr_assert_lt(st.fsyncs, (uint64_t)n, "fewer fsyncs than records");
    cr_assert_gt(st.fsyncs, 0);
    cr_assert_eq(st.durable_lsn, (uint64_t)n);
    cr_assert_eq(st.healthy, 1);
    int at_n = 0; /* the durable LSN is published at the quorum: the third copy may lag */
    for (int i = 0; i < 3; i++) {
        cr_assert(st.copy[i].ok);
        at_n += st.copy[i].durable_lsn == (uint64_t)n;
    }
    cr_assert_geq(at_n, 2);
    cr_assert_not(d.went_backwards, "durable LSN never decreases nor passes the last LSN");
    cr_assert_gt(d.samples, 0);
    /* The notify fd became readable. */
    uint64_t v = 0;
    cr_assert_eq(read(wal_notify_fd(w), &v, sizeof v), (ssize_t)sizeof v);
    cr_assert_gt(v, 0);
    wal_notify_clear(w);
    wal_close(w);
    tdirs_remove(&t);
}

Test(wal_writer, async_mode_syncs_on_interval_and_on_request) {
    tdirs_t t;
    tdirs_make(&t, 1);
    wal_config_t cfg = tcfg(&t, 1);
    cfg.sync_each_batch = 0;
    cfg.sync_interval_ms = 60000; /* only wal_sync_now() can make it durable in time */
    wal_t *w;
    cr_assert_eq(wal_open(&cfg, 0, &w), 0);
    cr_assert_eq(append_n(w, 100), 100);
    usleep(50000);
    cr_assert_eq(wal_durable_lsn(w), 0, "async mode does not sync each batch");
    cr_assert_eq(wal_sync_now(w), 0);
    cr_assert(wait_durable(w, 100, 5000));
    wal_close(w);

    cfg.sync_interval_ms = 20;
    uint64_t last;
    char err[256];
    cr_assert_eq(wal_recover(&cfg, 0, NULL, NULL, &last, err, sizeof err), 0);
    cr_assert_eq(wal_open(&cfg, last, &w), 0);
    cr_assert_eq(append_n(w, 10), 110);
    cr_assert(wait_durable(w, 110, 2000), "the interval sync made it durable");
    wal_close(w);
    tdirs_remove(&t);
}

Test(wal_writer, back_pressure_blocks_then_all_records_are_kept) {
    tdirs_t t;
    tdirs_make(&t, 1);
    wal_config_t cfg = tcfg(&t, 1);
    cfg.buffer_bytes_max = 8192;
    wal_t *w;
    cr_assert_eq(wal_open(&cfg, 0, &w), 0);
    char big[1000];
    memset(big, 'b', sizeof big);
    for (int i = 0; i < 500; i++)
        cr_assert_eq(wal_append(w, 0, big, sizeof big), i + 1);
    cr_assert_eq(wal_append(w, 0, big, 9000), KERR_LIMIT, "bigger than the whole buffer");
    wal_close(w);
    collect_t c = {0};
    uint64_t last;
    char err[256];
    cr_assert_eq(wal_recover(&cfg, 0, collect_cb, &c, &last, err, sizeof err), 0, "%s", err);
    cr_assert_eq(c.n, 500);
    cr_assert_eq(c.payload_sum, 500u * 'b');
    tdirs_remove(&t);
}

Test(wal_writer, segments_are_cut_and_retired_into_the_archive) {
    tdirs_t t;
    tdirs_make(&t, 2);
    wal_config_t cfg = tcfg(&t, 2);
    cfg.segment_size_bytes = 64 * 1024;
    wal_t *w;
    cr_assert_eq(wal_open(&cfg, 0, &w), 0);
    char rec[500];
    memset(rec, 'r', sizeof rec);
    for (int i = 0; i < 1000; i++) /* ~530 KB: about 9 segments */
        cr_assert_gt(wal_append(w, 0, rec, sizeof rec), 0);
    cr_assert(wait_durable(w, 1000, 5000));
    wal_stats_t st;
    wal_get_stats(w, &st);
    cr_assert_geq(st.segments, 8);
    int before = count_segments(t.dir[0]);
    cr_assert_eq(before, (int)st.segments);
    cr_assert_eq(count_segments(t.dir[1]), before);
    for (int i = 0; i < before; i++) {
        wal_seg_t *v;
        int n;
        wal_list_segments(t.dir[0], &v, &n);
        char p[256];
        snprintf(p, sizeof p, "%s/%s", t.dir[0], v[i].name);
        cr_assert_leq(file_size(p), cfg.segment_size_bytes, "segment %s too big", v[i].name);
        kfree(v);
    }
    char archive[128];
    snprintf(archive, sizeof archive, "%s/archive", t.root);
    int n = wal_retire_before(w, 500, archive);
    cr_assert_gt(n, 0);
    cr_assert_eq(count_segments(t.dir[0]), before - n);
    cr_assert_eq(count_segments(t.dir[1]), before - n);
    cr_assert_eq(count_segments(archive), n);
    cr_assert_eq(wal_retire_before(w, 500, archive), 0, "nothing more below 500");
    /* Every record below 500 that left the live log is in the archive, in order. */
    collect_t a = {0};
    char err[256];
    cr_assert_eq(wal_read_dir(archive, 0, collect_cb, &a, err, sizeof err), 0, "%s", err);
    cr_assert_eq(a.first, 1);
    cr_assert(a.in_order);
    cr_assert_lt(a.last, 500);
    /* Deleting (no archive) everything below the last LSN keeps the newest segment. */
    int m = wal_retire_before(w, 1000, NULL);
    cr_assert_gt(m, 0);
    cr_assert_eq(count_segments(t.dir[0]), before - n - m);
    cr_assert_geq(count_segments(t.dir[0]), 1);
    wal_close(w);
    /* The live log still recovers: it starts after the archive ends. */
    collect_t c = {0};
    uint64_t last;
    cr_assert_eq(wal_recover(&cfg, 999, collect_cb, &c, &last, err, sizeof err), 0, "%s", err);
    cr_assert_eq(last, 1000);
    cr_assert_eq(c.n, 1);
    cr_assert_eq(wal_recover(&cfg, 0, NULL, NULL, &last, err, sizeof err), KERR_CORRUPT,
                 "records retired but asked for");
    tdirs_remove(&t);
}

Test(wal_writer, async_mode_syncs_a_segment_before_cutting_the_next) {
    tdirs_t t;
    tdirs_make(&t, 2);
    wal_faults_t f; /* no faults: only to count fdatasyncs per copy */
    wal_faults_init(&f);
    wal_config_t cfg = tcfg(&t, 2);
    cfg.io = &f.io;
    cfg.sync_each_batch = 0;
    cfg.sync_interval_ms = 60000;
    cfg.segment_size_bytes = 8192;
    wal_t *w;
    cr_assert_eq(wal_open(&cfg, 0, &w), 0);
    uint32_t f0 = f.copy[0].fsyncs;
    char rec[300];
    memset(rec, 'a', sizeof rec);
    for (int i = 0; i < 200; i++) /* ~67 KB: about 8 segments */
        cr_assert_gt(wal_append(w, 0, rec, sizeof rec), 0);
    /* Every cut synced the segment it closed, so the durable LSN moved without a timer. */
    cr_assert(wait_durable(w, 150, 5000), "durable %llu", (unsigned long long)wal_durable_lsn(w));
    wal_stats_t st;
    wal_get_stats(w, &st);
    cr_assert_geq(st.segments, 7);
    wal_close(w);
    cr_assert_geq(f.copy[0].fsyncs - f0, 7, "one fdatasync per closed segment at least");
    collect_t c = {0};
    uint64_t last;
    char err[256];
    cfg.io = NULL;
    cr_assert_eq(wal_recover(&cfg, 0, collect_cb, &c, &last, err, sizeof err), 0, "%s", err);
    cr_assert(c.in_order && c.n == 200);
    tdirs_remove(&t);
}

/* One copy in sync mode: the WAL thread writes a round and runs its fdatasync itself (no lane
 * hand-off), so every round is one fdatasync and starts with a record flagged
 * WAL_REC_AFTER_SYNC (everything before it was synced when it was written: invariant I4). */
Test(wal_writer, one_copy_syncs_each_round_inline_and_flags_its_first_record) {
    tdirs_t t;
    tdirs_make(&t, 1);
    wal_config_t cfg = tcfg(&t, 1);
    wal_t *w;
    cr_assert_eq(wal_open(&cfg, 0, &w), 0);
    for (int round = 1; round <= 5; round++) {
        cr_assert_eq(append_n(w, 10), 10 * round);
        cr_assert(wait_durable(w, 10 * (uint64_t)round, 5000));
    }
    wal_stats_t st;
    wal_get_stats(w, &st);
    wal_close(w);
    cr_assert_eq(st.batches, 5, "each wal_submit of a waiting owner is one round");
    cr_assert_eq(st.fsyncs, st.batches, "one fdatasync per round");
    char path[256];
    snprintf(path, sizeof path, "%s/wal-00000000000000000001.log", t.dir[0]);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    static uint8_t buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    uint64_t off = WAL_SEG_HDR_SIZE, recs = 0, flagged = 0;
    while (off + WAL_REC_HDR_SIZE <= n) {
        wal_rec_hdr_t h;
        memcpy(&h, buf + off, sizeof h);
        if (h.lsn == 0)
            break;                    /* zeros: the end of the data */
        if (h.flags & WAL_REC_SEAL) { /* wal_close's seal ends the data: not a record */
            cr_assert_eq(h.lsn, 50);
            break;
        }
        recs++;
        if (h.flags & WAL_REC_AFTER_SYNC) {
            cr_assert_eq((recs - 1) % 10, 0, "record %llu is not a round's first",
                         (unsigned long long)h.lsn);
            flagged++;
        }
        off += wal_rec_size(h.len);
    }
    cr_assert_eq(recs, 50);
    cr_assert_eq(flagged, 5, "every round's first record, and only those");
    tdirs_remove(&t);
}

/* wal/ allocates through common/kmem.h, so its buffers count in used_memory (INFO, maxmemory):
 * the staging chunk shows while records are staged, and everything is given back by
 * wal_close() and wal_recover(). */
Test(wal_writer, buffers_are_accounted_in_kmem_and_all_given_back) {
    tdirs_t t;
    tdirs_make(&t, 2);
    wal_config_t cfg = tcfg(&t, 2);
    size_t base = kmem_used();
    wal_t *w;
    cr_assert_eq(wal_open(&cfg, 0, &w), 0);
    char rec[1000];
    memset(rec, 'm', sizeof rec);
    for (int i = 0; i < 10; i++) /* 10 KiB staged: below the 16 KiB hand-over */
        cr_assert_gt(wal_append(w, 0, rec, sizeof rec), 0);
    cr_assert_geq(kmem_used(), base + 10 * sizeof rec, "the staging chunk is accounted");
    wal_close(w);
    cr_assert_eq(kmem_used(), base, "wal_close gives everything back");
    uint64_t last;
    char err[256];
    cr_assert_eq(wal_recover(&cfg, 0, NULL, NULL, &last, err, sizeof err), 0, "%s", err);
    cr_assert_eq(last, 10);
    cr_assert_eq(kmem_used(), base, "wal_recover gives everything back");
    tdirs_remove(&t);
}
