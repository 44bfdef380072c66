/* test_wal_pipeline.c - pipelined group commit (wal/writer.c): the WAL thread writes the next
 * batch while fdatasyncs are in flight, and the durable LSN only advances to an LSN whose
 * fdatasync AND every earlier one on that copy succeeded, on a quorum of copies. A hook holds
 * one chosen fdatasync (the disk is slow for that round) so that later rounds complete first. */
#include "test_wal_util.h"

#include <errno.h>
#include <stdatomic.h>

typedef struct hold {
    wal_io_t io;
    int copy;                               /* the copy whose next fdatasync is held */
    atomic_int armed;                       /* 1: hold the next fdatasync of `copy` */
    atomic_int held;                        /* 1 while it is held */
    atomic_int release;                     /* set by the test: let it go */
    int fail;                               /* the held fdatasync then fails with EIO */
    atomic_ullong done_off[WAL_COPIES_MAX]; /* highest data offset a completed fdatasync covered */
    atomic_uint done[WAL_COPIES_MAX];       /* completed fdatasyncs */
} hold_t;

static int
hold_before_cb(void *ctx, wal_io_op_t *op) {
    hold_t *h = ctx;
    int one = 1;
    if (op->kind != WAL_IO_FSYNC || op->copy != h->copy ||
        !atomic_compare_exchange_strong(&h->armed, &one, 0))
        return 0;
    atomic_store(&h->held, 1);
    while (!atomic_load(&h->release))
        usleep(1000);
    atomic_store(&h->held, 0);
    return h->fail ? -EIO : 0;
}

static int
hold_after_cb(void *ctx, const wal_io_op_t *op, int res) {
    hold_t *h = ctx;
    if (op->kind == WAL_IO_FSYNC && res == 0) {
        unsigned long long off = atomic_load(&h->done_off[op->copy]);
        while (op->off > off &&
               !atomic_compare_exchange_weak(&h->done_off[op->copy], &off, op->off))
            ;
        atomic_fetch_add(&h->done[op->copy], 1);
    }
    return res;
}

static void
hold_init(hold_t *h, int copy) {
    memset(h, 0, sizeof *h);
    h->io = (wal_io_t){.ctx = h, .before_cb = hold_before_cb, .after_cb = hold_after_cb};
    h->copy = copy;
}

static int
wait_flag(atomic_int *f, int ms_max) {
    for (int i = 0; i < ms_max && !atomic_load(f); i++)
        usleep(1000);
    return atomic_load(f);
}

static int
wait_off(atomic_ullong *off, uint64_t want, int ms_max) {
    for (int i = 0; i < ms_max && atomic_load(off) < want; i++)
        usleep(1000);
    return atomic_load(off) >= want;
}

/* Offset just past record n of "rec-N" payloads (40 bytes each) in the first segment. */
static uint64_t
end_of(uint64_t n) {
    return WAL_SEG_HDR_SIZE + n * wal_rec_size(6);
}

static uint64_t
copy_durable(wal_t *w, int i) {
    wal_stats_t st;
    wal_get_stats(w, &st);
    return st.copy[i].durable_lsn;
}

/* One copy, two lanes: record 11 goes into a round whose fdatasync is held; records 12..21
 * are written meanwhile and the other lane syncs (some of) them. Returns the open log with the
 * held fdatasync still held and a later one completed. */
static wal_t *
later_round_completes_first(tdirs_t *t, hold_t *h) {
    wal_lanes_per_copy = 2;
    tdirs_make(t, 1);
    hold_init(h, 0);
    wal_config_t cfg = tcfg(t, 1);
    cfg.io = &h->io;
    wal_t *w;
    cr_assert_eq(wal_open(&cfg, 0, &w), 0);
    cr_assert_eq(append_n(w, 10), 10);
    cr_assert(wait_durable(w, 10, 5000));
    atomic_store(&h->armed, 1);
    cr_assert_eq(wal_append(w, 0, "rec-10", 6), 11);
    wal_submit(w);
    cr_assert(wait_flag(&h->held, 5000), "a round's fdatasync is held");
    cr_assert_eq(append_n(w, 10), 21);
    wal_submit(w);
    cr_assert(wait_off(&h->done_off[0], end_of(12), 5000),
              "the other lane synced a later round while the first is held");
    cr_assert(atomic_load(&h->held));
    usleep(20000);
    cr_assert_eq(wal_durable_lsn(w), 10, "durable must not pass the held round");
    cr_assert_eq(copy_durable(w, 0), 10);
    return w;
}

Test(wal_pipeline, durable_lsn_waits_for_an_earlier_round_still_syncing) {
    tdirs_t t;
    hold_t h;
    wal_t *w = later_round_completes_first(&t, &h);
    atomic_store(&h.release, 1);
    cr_assert(wait_durable(w, 21, 5000), "both rounds durable once the held one completes");
    cr_assert_eq(copy_durable(w, 0), 21);
    cr_assert(wal_healthy(w));
    wal_close(w);
    collect_t c = {0};
    uint64_t last;
    char err[256];
    wal_config_t cfg = tcfg(&t, 1);
    cr_assert_eq(wal_recover(&cfg, 0, collect_cb, &c, &last, err, sizeof err), 0, "%s", err);
    cr_assert(c.in_order && c.n == 21 && last == 21);
    tdirs_remove(&t);
}

Test(wal_pipeline, a_failed_earlier_round_fails_the_copy_although_a_later_one_synced) {
    tdirs_t t;
    hold_t h;
    wal_t *w = later_round_completes_first(&t, &h);
    h.fail = 1;
    atomic_store(&h.release, 1);
    for (int i = 0; i < 5000 && wal_healthy(w); i++)
        usleep(1000);
    cr_assert_eq(wal_healthy(w), 0, "the only copy failed for good");
    cr_assert(strstr(wal_failure(w), "fdatasync"), "%s", wal_failure(w));
    cr_assert_eq(wal_durable_lsn(w), 10, "the later round's success does not count");
    cr_assert_eq(wal_append(w, 0, "x", 1), KERR_QUORUM);
    wal_close(w);
    tdirs_remove(&t);
}

Test(wal_pipeline, a_slow_copy_does_not_hold_the_quorum_and_catches_up_in_order) {
    wal_lanes_per_copy = 1; /* production setting: one fdatasync in flight per copy */
    tdirs_t t;
    tdirs_make(&t, 3);
    hold_t h;
    hold_init(&h, 0);
    wal_config_t cfg = tcfg(&t, 2);
    cfg.io = &h.io;
    wal_t *w;
    cr_assert_eq(wal_open(&cfg, 0, &w), 0);
    atomic_store(&h.armed, 1);
    cr_assert_eq(append_n(w, 10), 10);
    wal_submit(w);
    cr_assert(wait_flag(&h.held, 5000));
    cr_assert(wait_durable(w, 10, 5000), "copies 1 and 2 make the quorum");
    unsigned done0 = atomic_load(&h.done[0]);
    for (int k = 2; k <= 5; k++) { /* more rounds while copy 0's first one is held */
        cr_assert_eq(append_n(w, 10), 10 * k);
        cr_assert(wait_durable(w, 10 * (uint64_t)k, 5000));
    }
    cr_assert_eq(copy_durable(w, 0), 0, "copy 0 has nothing durable while its sync is held");
    cr_assert_eq(atomic_load(&h.done[0]), done0, "one fdatasync in flight per copy");
    cr_assert(wal_healthy(w));
    atomic_store(&h.release, 1);
    for (int i = 0; i < 5000 && copy_durable(w, 0) < 50; i++)
        usleep(1000);
    cr_assert_eq(copy_durable(w, 0), 50, "copy 0 caught up");
    cr_assert_leq(atomic_load(&h.done[0]) - done0, 2,
                  "one fdatasync after the held one covered every round written meanwhile");
    wal_close(w);
    char err[256];
    for (int i = 0; i < 3; i++) {
        collect_t c = {0};
        cr_assert_eq(wal_read_dir(t.dir[i], 0, collect_cb, &c, err, sizeof err), 0, "%s", err);
        cr_assert(c.in_order && c.n == 50, "copy %d", i);
    }
    tdirs_remove(&t);
}
