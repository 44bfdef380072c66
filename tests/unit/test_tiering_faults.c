/* test_tiering_faults.c - failures come back as a status and a message, never an abort: put
 * and get failures injected through the fault hook; a tier directory that cannot be created,
 * one where nothing can be written (RLIMIT_FSIZE 0: works as root too), one that fills up
 * while the tier runs (a small RLIMIT_FSIZE: the memtable flush fails); and the directory
 * rules: a directory that is not a tier is refused and left alone, a tier directory is wiped,
 * a directory in use is refused. */
#include "test_tiering_util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct faults {
    atomic_uint puts, gets; /* hook calls, counted on the workers */
} faults_t;

/* Every third put fails with EIO, every fifth get with KERR_CORRUPT. */
static int
every_nth_cb(void *ctx, tier_op_t op, uint64_t id) {
    (void)id;
    faults_t *f = ctx;
    if (op == TIER_OP_PUT)
        return (atomic_fetch_add(&f->puts, 1) + 1) % 3 == 0 ? -EIO : 0;
    if (op == TIER_OP_GET)
        return (atomic_fetch_add(&f->gets, 1) + 1) % 5 == 0 ? KERR_CORRUPT : 0;
    return 0;
}

typedef struct results {
    uint64_t n;
    uint64_t put_ok, put_eio, get_ok, get_corrupt, get_notfound, other;
    uint8_t stored[2001]; /* by id: the put succeeded */
    int bad_msg, bad_value;
} results_t;

static void
results_cb(void *ctx, tier_result_t *r) {
    results_t *y = ctx;
    y->n++;
    if (r->status < 0 && r->status != KERR_NOTFOUND &&
        (!r->errmsg || strcmp(r->errmsg, "injected fault") != 0))
        y->bad_msg++;
    if (r->op == TIER_OP_PUT && r->status == 0) {
        y->put_ok++;
        y->stored[r->id] = 1;
    } else if (r->op == TIER_OP_PUT && r->status == -EIO) {
        y->put_eio++;
    } else if (r->op == TIER_OP_GET && r->status == 0) {
        y->get_ok++;
        if (!tt_check(r->id, 500, r->value, r->len))
            y->bad_value++;
    } else if (r->op == TIER_OP_GET && r->status == KERR_CORRUPT) {
        y->get_corrupt++;
        if (r->value)
            y->bad_value++;
    } else if (r->op == TIER_OP_GET && r->status == KERR_NOTFOUND) {
        y->get_notfound++;
    } else {
        y->other++;
    }
}

Test(tiering_faults, injected_put_and_get_failures_are_reported) {
    tt_dir_t d;
    tt_dir_make(&d);
    results_t y;
    memset(&y, 0, sizeof y);
    faults_t f = {0};
    tier_config_t c = tt_config(&d, results_cb, &y);
    c.fault = every_nth_cb;
    c.fault_ctx = &f;
    c.put_queue_max = 300;
    tier_t *t = tt_open(&c);
    for (uint64_t id = 1; id <= 300; id++)
        cr_assert_eq(tt_put(t, id, 500, NULL), 0);
    cr_assert(tt_wait(t, &y.n, 300, 10000));
    cr_assert_eq(y.put_eio, 100, "every third put failed");
    cr_assert_eq(y.put_ok, 200);
    for (uint64_t id = 1; id <= 300; id++)
        cr_assert_eq(tier_get(t, id, NULL), 0);
    cr_assert(tt_wait(t, &y.n, 600, 10000));
    cr_assert_eq(y.get_corrupt, 60, "every fifth get failed");
    cr_assert_eq(y.get_ok + y.get_notfound, 240);
    cr_assert_eq(y.bad_msg, 0, "each failure says it was injected");
    cr_assert_eq(y.bad_value, 0);
    cr_assert_eq(y.other, 0);
    tier_stats_t st;
    tier_get_stats(t, &st);
    cr_assert_eq(st.put_failures, 100);
    cr_assert_eq(st.get_failures, 60);
    cr_assert_eq(st.live_keys, 200, "failed puts hold nothing");
    /* A failed put stored nothing: every get that ran found exactly the stored ids. */
    uint64_t want_notfound = 0;
    for (uint64_t id = 1; id <= 300; id++)
        want_notfound += !y.stored[id];
    cr_assert_leq(y.get_notfound, want_notfound);
    cr_assert_geq(y.get_notfound + 60, want_notfound);
    tier_close(t);
    tt_dir_remove(&d);
}

static void
ignore_cb(void *ctx, tier_result_t *r) {
    results_t *y = ctx;
    y->n++;
    if (r->op == TIER_OP_PUT && r->status == 0)
        y->put_ok++;
    else if (r->op == TIER_OP_PUT && r->status != -EAGAIN)
        y->other++;
    if (r->status < 0 && r->status != -EAGAIN && r->status != KERR_NOTFOUND && !r->errmsg)
        y->bad_msg++;
}

Test(tiering_faults, a_directory_that_cannot_be_created_is_an_error) {
    tt_dir_t d;
    tt_dir_make(&d);
    char file[192], path[256], err[512] = "";
    snprintf(file, sizeof file, "%s/plainfile", d.root);
    int fd = open(file, O_CREAT | O_WRONLY, 0644);
    cr_assert_geq(fd, 0);
    close(fd);
    results_t y = {0};
    tier_config_t c = tt_config(&d, ignore_cb, &y);
    snprintf(path, sizeof path, "%s/tier", file); /* below a regular file */
    c.dir = path;
    tier_t *t = (tier_t *)1;
    int rc = tier_open(&c, &t, err, sizeof err);
    cr_assert_eq(rc, -ENOTDIR);
    cr_assert_null(t);
    cr_assert(strstr(err, "cannot create tier directory"), "%s", err);
    c.dir = "/proc/keel-tier-test"; /* even root cannot create it */
    rc = tier_open(&c, &t, err, sizeof err);
    cr_assert_lt(rc, 0);
    cr_assert(strstr(err, "/proc/keel-tier-test"), "%s", err);
    tt_dir_remove(&d);
}

Test(tiering_faults, a_directory_where_nothing_can_be_written_is_an_error) {
    /* No byte at all (the lock file's PID cannot be written), 64 bytes (the marker cannot). With
     * a little more room RocksDB opens (it ignores a failed OPTIONS file) and the first flush
     * fails: a_disk_that_fills_while_running... covers that. */
    static const rlim_t limits[] = {0, 64};
    signal(SIGXFSZ, SIG_IGN);
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        tt_dir_t d;
        tt_dir_make(&d);
        results_t y = {0};
        tier_config_t c = tt_config(&d, ignore_cb, &y);
        struct rlimit old, lim;
        cr_assert_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
        lim.rlim_cur = limits[i];
        lim.rlim_max = old.rlim_max;
        cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
        tier_t *t = NULL;
        char err[512] = "";
        int rc = tier_open(&c, &t, err, sizeof err);
        setrlimit(RLIMIT_FSIZE, &old);
        cr_assert_lt(rc, 0, "limit %zu", (size_t)limits[i]);
        cr_assert_null(t);
        cr_assert(strstr(err, d.tier), "the message names the directory: %s", err);
        cr_log_info("open with %zu bytes of room: %d %s", (size_t)limits[i], rc, err);
        tt_dir_remove(&d);
    }
}

Test(tiering_faults, a_disk_that_fills_while_running_fails_puts_with_a_message, .timeout = 60) {
    tt_dir_t d;
    tt_dir_make(&d);
    results_t y = {0};
    tier_config_t c = tt_config(&d, ignore_cb, &y);
    c.write_buffer_bytes = 256u << 10;
    c.compression = TIER_COMPRESS_NONE;
    tier_t *t = tt_open(&c);
    /* From now on no file may grow past 64 KiB: the first memtable flush cannot be written. */
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit old, small;
    cr_assert_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    small.rlim_cur = 64u << 10;
    small.rlim_max = old.rlim_max;
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
    uint64_t id = 1, deadline = util_mono_us() + 30 * 1000000ull;
    while (y.other == 0 && util_mono_us() < deadline) {
        int rc = tt_put(t, id, 4000, NULL);
        if (rc == 0)
            id++;
        tt_wait(t, &y.n, y.n + 1, rc == 0 ? 0 : 10);
    }
    cr_assert_gt(y.other, 0, "a put failed once the flush could not be written");
    cr_assert_eq(y.bad_msg, 0, "each failure has a message");
    tier_stats_t st;
    tier_get_stats(t, &st);
    cr_assert_gt(st.put_failures, 0);
    sbuf_t b = {0};
    tier_info_rocksdb(t, &b);
    sbuf_append(&b, "", 1);
    cr_assert(strstr(b.p, "tiering_rocksdb_background_errors:"), "%s", b.p);
    cr_assert_not(strstr(b.p, "tiering_rocksdb_background_errors:0\r"), "%s", b.p);
    sbuf_free(&b);
    /* Going on after the failure: more puts and dels, and a checkpoint (which must flush).
     * Each one fails cleanly; RocksDB's info LOG (if it were on) would abort here (rdb.c). */
    char err[512] = "";
    cr_assert_lt(tier_checkpoint(t, d.ckpt, err, sizeof err), 0);
    cr_assert(strstr(err, d.ckpt), "%s", err);
    uint64_t sent = 0, n0 = y.n;
    for (uint64_t i = 0; i < 2000; i++) {
        int rc = i % 4 == 3 ? tier_del(t, 1 + i / 4, 4000, NULL) : tt_put(t, id + i, 4000, NULL);
        if (rc == 0)
            sent++;
        tt_wait(t, &y.n, y.n + 1, rc == 0 ? 0 : 10);
    }
    cr_assert(tt_wait(t, &y.n, n0 + sent, 10000));
    cr_assert_eq(y.bad_msg, 0);
    cr_assert_lt(tier_checkpoint(t, d.ckpt, err, sizeof err), 0);
    /* Gets and close still work. */
    cr_assert_eq(tier_get(t, 1, NULL), 0);
    cr_assert(tt_wait(t, &y.n, y.n + 1, 5000));
    setrlimit(RLIMIT_FSIZE, &old);
    /* RocksDB wrote no info LOG line through all of that: the write path that aborts the
     * process after a failed write (rdb.c, no_info_log) was never taken. */
    char log[256];
    struct stat lst;
    snprintf(log, sizeof log, "%s/db/LOG", d.tier);
    cr_assert(stat(log, &lst) != 0 || lst.st_size == 0, "LOG has %lld bytes",
              (long long)lst.st_size);
    tier_close(t);
    tt_dir_remove(&d);
}

static void
touch(const char *dir, const char *name) {
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    int fd = open(p, O_CREAT | O_WRONLY, 0644);
    cr_assert_geq(fd, 0, "%s", p);
    close(fd);
}

static int
exists(const char *dir, const char *name) {
    char p[256];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &st) == 0;
}

Test(tiering_faults, a_directory_that_is_not_a_tier_is_refused_and_kept) {
    tt_dir_t d;
    tt_dir_make(&d);
    cr_assert_eq(mkdir(d.tier, 0755), 0);
    touch(d.tier, "precious.rdb");
    results_t y = {0};
    tier_config_t c = tt_config(&d, ignore_cb, &y);
    tier_t *t = NULL;
    char err[512] = "";
    cr_assert_eq(tier_open(&c, &t, err, sizeof err), KERR_EXISTS);
    cr_assert(strstr(err, "precious.rdb") && strstr(err, "not a tier directory"), "%s", err);
    cr_assert(exists(d.tier, "precious.rdb"), "nothing was removed");
    tt_dir_remove(&d);
}

Test(tiering_faults, a_tier_directory_is_wiped_at_open_and_locked_while_open) {
    tt_dir_t d;
    tt_dir_make(&d);
    results_t y = {0};
    tier_config_t c = tt_config(&d, ignore_cb, &y);
    tier_t *t = tt_open(&c);
    cr_assert_eq(tt_put(t, 1, 100, NULL), 0);
    cr_assert(tt_wait(t, &y.n, 1, 5000));
    cr_assert(exists(d.tier, TIER_MARKER_FILE));
    tier_t *t2 = NULL;
    char err[512] = "";
    cr_assert_eq(tier_open(&c, &t2, err, sizeof err), KERR_BUSY, "%s", err);
    cr_assert(strstr(err, "in use"), "%s", err);
    tier_close(t);

    touch(d.tier, "stale-checkpoint");
    t = tt_open(&c);
    cr_assert_not(exists(d.tier, "stale-checkpoint"), "wiped");
    uint64_t n0 = y.n;
    cr_assert_eq(tier_get(t, 1, NULL), 0);
    cr_assert(tt_wait(t, &y.n, n0 + 1, 5000));
    tier_stats_t st;
    tier_get_stats(t, &st);
    cr_assert_eq(st.get_misses, 1, "nothing survives a reopen");
    tier_close(t);
    tt_dir_remove(&d);
}
