/*
 * persist.c - durability glue between the server and wal/ (see persist.h, docs/durability.md).
 *
 * Start-up (persist_start):
 *   1. snapshot: load_snapshot() gives the LSN the loaded snapshot contains (0 without one);
 *   2. log: wal_recover() replays every record after that LSN through a fake client (replay.c);
 *   3. wal_open() after the last LSN; every recovered record is durable, so durable_lsn = last;
 *   4. the effect sink (prop.c) is pointed at wal_append(), the log's eventfd joins the loop.
 *
 * Running, by mode:
 *   sync  - replies are parked until their tag is durable (net.c marks); s->durable_lsn follows
 *           wal_durable_lsn(), picked up from the eventfd and before every sleep.
 *   async - the log is written and synced every wal-sync-interval-ms by the WAL thread; nothing
 *           parks (s->durable_lsn stays UINT64_MAX), INFO shows the real durable LSN.
 *   off   - no log: no sink, nothing recovered, nothing written.
 *
 * Failure: when the log loses its quorum (or refuses a record), the failure is for good: every
 * parked reply becomes an error, writes are refused (exec.c reads s->wal_refuse_reason), reads
 * of data that is durable go on. The operator's fix is a restart, which recovers from the disk.
 */
#include "persist.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "latency.h"
#include "kerr.h"
#include "kmem.h"
#include "persist_int.h"
#include "prop.h"
#include "snapshot_glue.h"
#include "util.h"
#include "ev.h"
#include "wal.h"
#include "wal_io.h"


/* Test hooks, read from the environment at start (never set in production): they go through
 * the log's fault-injection interface, so the server's real paths run.
 *   KEEL_DEBUG_WAL_FSYNC_DELAY_MS  every fdatasync waits this long first (writes in flight)
 *   KEEL_DEBUG_WAL_FAIL_FILE       while this file exists, every fdatasync fails with EIO */

static int
debug_before_cb(void *ctx, wal_io_op_t *op) {
    persist_t *P = ctx;
    if (op->kind != WAL_IO_FSYNC)
        return 0;
    if (P->dbg.fsync_delay_ms)
        usleep(P->dbg.fsync_delay_ms * 1000u);
    if (P->dbg.fail_file && access(P->dbg.fail_file, F_OK) == 0)
        return -EIO;
    return 0;
}

static wal_io_t *
debug_io(engine_t *s) {
    persist_t *P = s->persist;
    const char *delay = getenv("KEEL_DEBUG_WAL_FSYNC_DELAY_MS");
    P->dbg.fail_file = getenv("KEEL_DEBUG_WAL_FAIL_FILE");
    P->dbg.fsync_delay_ms = delay ? (uint32_t)atoi(delay) : 0;
    if (!P->dbg.fsync_delay_ms && !P->dbg.fail_file)
        return NULL;
    klog(KLOG_WARNING, "wal test hooks on: fsync delay %u ms, fail file %s", P->dbg.fsync_delay_ms,
         P->dbg.fail_file ? P->dbg.fail_file : "(none)");
    P->dbg.io = (wal_io_t){.ctx = P, .before_cb = debug_before_cb};
    return &P->dbg.io;
}

static void
recover_log_cb(void *ctx, const char *msg) {
    (void)ctx;
    static const char warn[] = "WARNING: "; /* the log marks its warnings so */
    if (!strncmp(msg, warn, sizeof warn - 1))
        klog(KLOG_WARNING, "%s", msg + sizeof warn - 1);
    else
        klog(KLOG_NOTICE, "%s", msg);
}

/* The log copies from the configuration: every wal-dir, or <dir>/wal. */
static int
build_wal_config(engine_t *s) {
    int n = s->cfg.wal_ndirs;
    if (n > WAL_COPIES_MAX) {
        klog(KLOG_WARNING, "at most %d wal-dir copies are supported (%d given)", WAL_COPIES_MAX, n);
        return KERR_LIMIT;
    }
    if (n == 0) {
        snprintf(s->persist->default_dir, sizeof s->persist->default_dir, "%s/wal", s->cfg.dir);
        s->persist->dirs[0] = s->persist->default_dir;
        n = 1;
    } else {
        for (int i = 0; i < n; i++)
            s->persist->dirs[i] = s->cfg.wal_dirs[i];
    }
    /* wal-quorum counts copies wherever they are: the local ones first, replicas for the rest
     * (repl/quorum.c asks persist_quorum_replicas). */
    int local_quorum = s->cfg.wal_quorum > n ? n : s->cfg.wal_quorum;
    s->persist->cfg = (wal_config_t){
        .dirs = s->persist->dirs,
        .ndirs = n,
        .quorum = local_quorum,
        .segment_size_bytes = (uint64_t)s->cfg.wal_segment_size,
        .sync_each_batch = s->cfg.durability == DURABILITY_SYNC,
        .sync_interval_ms = (uint32_t)s->cfg.wal_sync_interval_ms,
        .log = recover_log_cb,
        .io = debug_io(s),
    };
    return 0;
}

/* The snapshot step of recovery. Snapshot loading plugs in HERE: load the newest valid snapshot
 * of s->cfg.dir into the keyspace and return the LSN it contains in *lsn, so that only the log
 * records after it are replayed. Without snapshot support the log is replayed from its start. */
static int
load_snapshot(engine_t *s, uint64_t *lsn) {
    char err[1024] = "";
    int rc = snapshot_recover(s, lsn, err, sizeof err);
    if (rc < 0)
        klog(KLOG_WARNING, "Refusing to start: no snapshot could be loaded (%s): %s", kerr_str(rc),
             err);
    return rc;
}

/* The log failed for good: refuse writes, turn every parked reply into an error. */
/* Parked replies whose LSN is committed leave; WAITAOF waiters are checked. Committed: durable
 * on the local quorum and, when the write quorum counts replicas, on them (commit_cb). */
static void
release_durable(engine_t *s) {
    persist_t *p = s->persist;
    uint64_t d = wal_durable_lsn(s->wal);
    uint64_t c = p->commit_cb ? p->commit_cb(s, d) : d;
    if (d == p->durable_seen && c == p->commit_seen)
        return;
    bool waiters = d != p->durable_seen;
    p->durable_seen = d;
    p->commit_seen = c;
    if (s->cfg.durability == DURABILITY_SYNC && c > s->durable_lsn) {
        s->durable_lsn = c;
        if (s->parked)
            client_release_parked(s);
    }
    if (waiters)
        waiters_check(s, util_time_ms());
}

static void
fail_log(engine_t *s, const char *why) {
    if (!s->persist->failed) {
        s->persist->failed = true;
        snprintf(s->persist->reason, sizeof s->persist->reason, "the transaction log failed: %s",
                 why && why[0] ? why : "unknown reason");
        snprintf(s->persist->parked_err, sizeof s->persist->parked_err,
                 "ERR durability unknown: %s before this reply's write was durable on a quorum "
                 "of log copies; that write may or may not be present after a restart",
                 s->persist->reason);
        s->wal_refuse_reason = s->persist->reason;
        klog(KLOG_WARNING, "%s; writes are refused until a restart", s->persist->reason);
        waiters_fail(s, s->persist->parked_err);
    }
    if (s->parked)
        client_fail_parked(s, s->persist->parked_err);
}

/* Pick up what the WAL thread did: durable LSN progress and failure. Cheap (atomic reads). */
static void
poll_log(engine_t *s) {
    if (!s->wal)
        return;
    release_durable(s);
    if (!s->persist->failed && !wal_healthy(s->wal)) {
        /* What became durable before the failure is answered as a success: once the log is
         * unhealthy its durable LSN no longer moves (docs/formats/wal.md, I5 and I6), so this
         * read is final. (Not from fail_log: the sink calls that inside a command, where
         * released clients must not resume.) */
        release_durable(s);
        fail_log(s, wal_failure(s->wal));
    } else if (s->persist->failed && s->parked)
        client_fail_parked(s, s->persist->parked_err); /* replies parked after the failure */
}

void
persist_notify_cb(ev_loop_t *l, int fd, void *data, int mask) {
    (void)l, (void)fd, (void)mask;
    engine_t *s = data;
    wal_notify_clear(s->wal);
    poll_log(s);
}

/* prop.c's sink: a finished effect record goes to the log. */
static int64_t
sink_cb(void *ctx, uint32_t db, const void *payload, size_t len) {
    engine_t *s = ctx;
    if (s->persist->failed)
        return KERR_FAILED;
    int64_t lsn = s->persist->epoch_pending ? epochs_before_write(s) : 0;
    if (lsn == 0)
        lsn = wal_append_at(s->wal, db, db_now_ms(&s->dbenv), payload, len);
    if (lsn < 0) {
        /* The keyspace already holds the change: a log without it would rebuild a different
         * dataset, so any refusal (quorum lost, record over the buffer) fails the log. */
        char why[128];
        snprintf(why, sizeof why, "append of a %zu-byte record refused: %s", len,
                 kerr_str((int)lsn));
        fail_log(s, wal_healthy(s->wal) ? why : wal_failure(s->wal));
        return lsn;
    }
    s->last_lsn_assigned = (uint64_t)lsn;
    if (s->cfg.durability == DURABILITY_SYNC)
        tags_logged(s, (uint64_t)lsn);
    return lsn;
}

static int
recover_log(engine_t *s, uint64_t after_lsn, uint64_t *last_lsn) {
    char err[1024] = "";
    replay_ctx_t rc;
    replay_begin(&rc, s, err, sizeof err);
    uint64_t t0 = util_mono_us();
    wal_recover_info_t *ri = &s->persist->recovered;
    int r = wal_recover_ex(&s->persist->cfg, after_lsn, replay_apply_cb, &rc, ri, err, sizeof err);
    *last_lsn = ri->last_lsn;
    uint64_t us = util_mono_us() - t0;
    replay_end(&rc);
    if (r < 0) {
        klog(KLOG_WARNING, "Refusing to start: log recovery failed (%s): %s", kerr_str(r),
             err[0] ? err : "no details");
        return r;
    }
    s->persist->recovered_records = rc.records;
    s->persist->snap.wal_bytes_before_open = rc.bytes;
    s->persist->recovered_last_lsn = *last_lsn;
    s->persist->recovery_ms = us / 1000;
    if (rc.records > 0 || *last_lsn > 0)
        klog(KLOG_NOTICE,
             "Log recovered: %llu records (%llu commands) after LSN %llu in %.3f s "
             "(%.0f records/s), last LSN %llu",
             (unsigned long long)rc.records, (unsigned long long)rc.commands,
             (unsigned long long)after_lsn, (double)us / 1e6,
             us ? (double)rc.records * 1e6 / (double)us : 0.0, (unsigned long long)*last_lsn);
    if (ri->sealed)
        klog(KLOG_NOTICE, "The log was sealed at LSN %llu by a clean shutdown",
             (unsigned long long)ri->seal_lsn);
    return 0;
}

void
persist_create(engine_t *s) {
    if (s->persist)
        return;
    s->persist = kcalloc(1, sizeof *s->persist);
    s->persist->snap.child_fd = -1;
    s->persist->snap.last_ok = true;
    s->persist->dir_lock.fd = -1; /* no lock held (0 would be stdin) */
    for (int i = 0; i < WAL_COPIES_MAX; i++)
        s->persist->wal_locks[i].fd = -1;
}

/* durability off: no log, but the directory is owned and a cache still starts from its newest
 * snapshot (its later snapshots keep that LSN). */
static int
start_without_log(engine_t *s) {
    char d[WAL_PATH_MAX];
    struct stat st;
    snprintf(d, sizeof d, "%s/wal", s->cfg.dir);
    if (s->cfg.wal_ndirs == 0 && stat(d, &st) == 0)
        klog(KLOG_WARNING, "durability off: the log in %s is neither read nor written", d);
    s->loading = true;
    int rc = load_snapshot(s, &s->persist->snapshot_lsn);
    s->loading = false;
    s->last_lsn_assigned = s->persist->snapshot_lsn;
    if (rc == 0)
        rc = integrity_before_log(s);
    if (rc == 0)
        rc = integrity_after_log(s);
    if (rc == 0)
        rc = integrity_record(s, 0);
    return rc;
}

/* Snapshot, then the log after it, then the data set's identity settled for what is written. */
static int
recover(engine_t *s, uint64_t *last) {
    persist_t *p = s->persist;
    s->loading = true;
    int rc = load_snapshot(s, &p->snapshot_lsn);
    if (rc == 0)
        rc = integrity_before_log(s);
    if (rc == 0)
        rc = recover_log(s, p->snapshot_lsn, last);
    s->loading = false;
    if (rc == 0)
        rc = integrity_after_log(s);
    if (rc < 0)
        return rc;
    /* Changes since the newest snapshot on disk: automatic snapshots count from there, not
     * from this start (otherwise frequent restarts would never snapshot). */
    s->dirty = p->recovered_records;
    s->dirty_at_last_save = 0;
    if (*last < p->snapshot_lsn)
        *last = p->snapshot_lsn; /* the log was trimmed up to the snapshot */
    return 0;
}

int
persist_start(engine_t *s) {
    persist_create(s);
    waiters_init(s);
    int rc = build_wal_config(s);
    if (rc == 0)
        rc = integrity_lock(s);
    if (rc < 0)
        return rc;
    if (s->cfg.durability == DURABILITY_OFF)
        return start_without_log(s);
    uint64_t last = 0;
    rc = recover(s, &last);
    if (rc < 0)
        return rc;
    rc = wal_open(&s->persist->cfg, last, &s->wal);
    if (rc < 0) {
        klog(KLOG_WARNING, "Can't open the transaction log: %s", kerr_str(rc));
        return rc;
    }
    s->last_lsn_assigned = last;
    s->persist->durable_seen = s->persist->commit_seen = last;
    s->durable_lsn = s->cfg.durability == DURABILITY_SYNC ? last : UINT64_MAX;
    rc = integrity_record(s, 0);
    if (rc == 0)
        rc = ev_add(s->loop, wal_notify_fd(s->wal), EV_READ, persist_notify_cb, s);
    if (rc < 0) {
        klog(KLOG_WARNING, "Can't start the transaction log: %s", kerr_str(rc));
        wal_close(s->wal);
        s->wal = NULL;
        return rc;
    }
    if (s->cfg.durability == DURABILITY_SYNC)
        tags_init(s);
    prop_set_sink(&s->prop, sink_cb, s);
    return 0;
}

void
persist_stop(engine_t *s) {
    snapshot_stop(s);
    if (s->wal) {
        prop_set_sink(&s->prop, NULL, NULL);
        ev_del(s->loop, wal_notify_fd(s->wal), EV_READ);
        bool sealed = !s->persist->failed && wal_healthy(s->wal);
        wal_close(s->wal); /* flushes, syncs and seals every appended record */
        s->wal = NULL;
        tags_free(s);
        if (sealed)
            integrity_record(s, s->last_lsn_assigned);
        klog(KLOG_NOTICE, "Transaction log %s at LSN %llu", sealed ? "sealed" : "closed (failed)",
             (unsigned long long)s->last_lsn_assigned);
    }
    integrity_unlock(s);
}

void
persist_cron(engine_t *s) {
    poll_log(s);
    if (s->wal) /* the latency monitor's "wal-fsync": the slowest fdatasync since the last cron */
        latency_add_sample_if_needed(s, "wal-fsync", wal_take_fsync_max_us(s->wal) / 1000);
    waiters_check(s, util_time_ms());
    snapshot_cron(s);
}

void
persist_before_sleep(engine_t *s) {
    if (s->wal)
        wal_submit(s->wal); /* what this loop turn logged is one batch (group commit) */
    poll_log(s);
}

/* Between two events of a long loop turn: when the log made writes durable, send their parked
 * replies now rather than at the end of the turn. Clients then come back one by one instead
 * of all at once, so the next batches form while this one is being answered. */
void
persist_set_commit_cb(engine_t *s, persist_commit_cb cb) {
    s->persist->commit_cb = cb;
}

int
persist_quorum_replicas(const engine_t *s) {
    int n = s->persist->cfg.ndirs;
    return s->cfg.wal_quorum > n && s->wal ? s->cfg.wal_quorum - n : 0;
}

void
persist_poll(engine_t *s) {
    poll_log(s);
}

void
persist_fail_parked(engine_t *s, const char *err) {
    if (s->parked)
        client_fail_parked(s, err);
}

bool
persist_after_event(engine_t *s) {
    if (!s->wal || s->cfg.durability != DURABILITY_SYNC ||
        wal_durable_lsn(s->wal) == s->persist->durable_seen)
        return false;
    poll_log(s);
    return true;
}

static const char *
durability_name(const engine_t *s) {
    return s->cfg.durability == DURABILITY_SYNC    ? "sync"
           : s->cfg.durability == DURABILITY_ASYNC ? "async"
                                                   : "off";
}

static void
info_persistence(engine_t *s, sbuf_t *b) {
    sbuf_printf(b, "loading:%d\r\nasync_loading:0\r\n", s->loading ? 1 : 0);
    snapshot_info(s, "persistence", b); /* rdb_*: snapshots */
    sbuf_printf(b,
                "aof_enabled:%d\r\naof_rewrite_in_progress:0\r\n"
                "aof_rewrite_scheduled:0\r\naof_last_write_status:%s\r\ndurability:%s\r\n",
                s->wal != NULL, s->persist->failed ? "err" : "ok", durability_name(s));
}

/* Space the copy's segments take on disk (allocated blocks: segments are preallocated). */
static uint64_t
disk_bytes(const char *dir) {
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    uint64_t total = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        struct stat st;
        if (strncmp(e->d_name, "wal-", 4) != 0 || fstatat(dirfd(d), e->d_name, &st, 0) < 0)
            continue;
        total += (uint64_t)st.st_blocks * 512;
    }
    closedir(d);
    return total;
}

static void
info_wal(engine_t *s, sbuf_t *b) {
    sbuf_printf(b, "wal_enabled:%d\r\ndurability:%s\r\n", s->wal != NULL, durability_name(s));
    if (!s->wal)
        return;
    wal_stats_t st;
    wal_get_stats(s->wal, &st);
    sbuf_printf(b,
                "wal_last_lsn:%llu\r\nwal_durable_lsn:%llu\r\nwal_bytes_written:%llu\r\n"
                "wal_segments_created:%llu\r\nwal_fsyncs:%llu\r\nwal_batches:%llu\r\n"
                "wal_records_per_batch:%.2f\r\nwal_fsync_latency_p50_us:%llu\r\n"
                "wal_fsync_latency_p99_us:%llu\r\nwal_healthy:%d\r\nwal_failure:%s\r\n"
                "wal_quorum:%d\r\nwal_copies:%d\r\nwal_uncommitted_keys:%zu\r\n"
                "wal_recovered_records:%llu\r\nwal_recovery_ms:%llu\r\nwal_snapshot_lsn:%llu\r\n",
                (unsigned long long)st.last_lsn, (unsigned long long)st.durable_lsn,
                (unsigned long long)st.bytes_written, (unsigned long long)st.segments,
                (unsigned long long)st.fsyncs, (unsigned long long)st.batches,
                st.records_per_batch_avg, (unsigned long long)st.fsync_latency_p50_us,
                (unsigned long long)st.fsync_latency_p99_us, st.healthy && !s->persist->failed,
                s->persist->failed ? s->persist->reason : "",
                s->persist->cfg.quorum ? s->persist->cfg.quorum : s->persist->cfg.ndirs / 2 + 1,
                st.ncopies, tags_count(s), (unsigned long long)s->persist->recovered_records,
                (unsigned long long)s->persist->recovery_ms,
                (unsigned long long)s->persist->snapshot_lsn);
    char id[37];
    wal_dataset_id_str(s->persist->identity.id, id, sizeof id);
    const wal_recover_info_t *ri = &s->persist->recovered;
    sbuf_printf(b,
                "wal_dataset_id:%s\r\nwal_epoch:%llu\r\nwal_sealed_at_start:%d\r\n"
                "wal_torn_records_cut:%llu\r\nwal_torn_bytes_cut:%llu\r\n",
                id, (unsigned long long)s->persist->idf.epoch, ri->sealed,
                (unsigned long long)ri->torn_records, (unsigned long long)ri->torn_bytes);
    for (int i = 0; i < st.ncopies; i++)
        sbuf_printf(b, "wal_copy%d:dir=%s,state=%s,durable_lsn=%llu,disk_bytes=%llu,reason=%s\r\n",
                    i, st.copy[i].dir, st.copy[i].ok ? "ok" : "failed",
                    (unsigned long long)st.copy[i].durable_lsn,
                    (unsigned long long)disk_bytes(st.copy[i].dir), st.copy[i].reason);
}

void
persist_info(engine_t *s, const char *section, sbuf_t *b) {
    if (!strcmp(section, "persistence"))
        info_persistence(s, b);
    else if (!strcmp(section, "wal"))
        info_wal(s, b);
    else if (!strcmp(section, "snapshot"))
        snapshot_info(s, section, b);
}
