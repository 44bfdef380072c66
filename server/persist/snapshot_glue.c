/*
 * snapshot_glue.c - snapshot state, recovery at start, the cron and INFO (see snapshot_glue.h;
 * the files of <dir>/snapshots and retention in snapshot_files.c, writing in snapshot_save.c,
 * loading in snapshot_load.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kerr.h"
#include "kmem.h"
#include "persist_int.h"
#include "snapshot_glue_int.h"
#include "util.h"
#include "wal.h"

#define BGSAVE_RETRY_MS 5000 /* after a failed automatic snapshot, wait this long */

static void
flush_all(engine_t *s) {
    for (int i = 0; i < s->cfg.databases; i++)
        db_flush(s->dbs[i]);
}

/* Tries one file; 0 when it loaded completely and its header agrees with its name. */
static int
try_load(engine_t *s, const snapshot_file_t *f, snap_info_t *info, char *err, size_t errlen) {
    int rc = snapshot_load_file(s, f->path, s->cfg.snapshot_threads, info, err, errlen);
    if (rc == 0 && info->lsn != f->lsn) {
        snprintf(err, errlen, "snapshot %s: its header says LSN %" PRIu64 ", its name %" PRIu64,
                 f->path, info->lsn, f->lsn);
        rc = KERR_CORRUPT;
    }
    if (rc < 0)
        flush_all(s); /* a partial load is thrown away */
    return rc;
}

int
snapshot_recover(engine_t *s, uint64_t *lsn_out, char *err, size_t errlen) {
    *lsn_out = 0;
    snapshot_remove_tmp(s->cfg.dir);
    snapshot_file_t *f;
    size_t n;
    int rc = snapshot_list(s->cfg.dir, &f, &n);
    if (rc < 0) {
        snprintf(err, errlen, "can't list %s/" SNAPSHOT_SUBDIR ": %s", s->cfg.dir, kerr_str(rc));
        return rc;
    }
    if (n > 0)
        s->persist->newest_snapshot_lsn = f[n - 1].lsn; /* the log must reach it, loaded or not */
    for (size_t i = n; i-- > 0;) {
        snap_info_t info;
        uint64_t t0 = util_mono_us();
        rc = try_load(s, &f[i], &info, err, errlen);
        uint64_t us = util_mono_us() - t0;
        if (rc == 0) {
            *lsn_out = info.lsn;
            s->persist->snap.loaded_lsn = info.lsn;
            s->persist->snap.loaded_keys = info.keys;
            s->persist->snap.loaded_ms = us / 1000;
            s->persist->snap.last_lsn = info.lsn;
            s->persist->identity = info.identity;
            /* Automatic snapshots pace on the newest snapshot on disk, not on this start. */
            s->persist->snap.last_ok_ms = s->persist->snap.last_try_ms = info.time_ms;
            klog(KLOG_NOTICE,
                 "Snapshot %s loaded: %" PRIu64 " keys at LSN %" PRIu64
                 " in %.3f s (%.0f keys/s, %d threads)",
                 f[i].path, info.keys, info.lsn, (double)us / 1e6,
                 us ? (double)info.keys * 1e6 / (double)us : 0.0, s->cfg.snapshot_threads);
            break;
        }
        s->persist->snap.load_fallbacks++;
        klog(KLOG_WARNING, "Snapshot %s can't be loaded (%s): %s%s", f[i].path, kerr_str(rc), err,
             i ? "; falling back to the previous snapshot" : "");
    }
    kfree(f);
    if (rc < 0)
        return rc; /* snapshots exist and none loads: starting would lose their data */
    err[0] = '\0';
    return 0;
}

/* ---- commands, cron, INFO ----------------------------------------------------------------- */

bool
snapshot_in_progress(engine_t *eng) {
    return eng->persist->snap.child != 0;
}

void
snapshot_schedule(engine_t *eng) {
    eng->persist->snap.scheduled = true;
}

int64_t
snapshot_lastsave_s(const engine_t *s) {
    return (s->persist->snap.last_ok_ms ? s->persist->snap.last_ok_ms : s->stats.start_ms) / 1000;
}

/* Automatic snapshots: only with a log (a snapshot then shortens recovery and lets the log
 * shrink); every snapshot-interval-s when something changed, or when the log grew by
 * snapshot-wal-bytes. */
static bool
auto_due(engine_t *s, int64_t now) {
    if (!s->wal || s->wal_refuse_reason)
        return false;
    int64_t last = s->persist->snap.last_try_ms ? s->persist->snap.last_try_ms : s->stats.start_ms;
    if (!s->persist->snap.last_ok && now - last < BGSAVE_RETRY_MS)
        return false;
    if (s->cfg.snapshot_interval_s > 0 && s->dirty != s->dirty_at_last_save &&
        now - last >= s->cfg.snapshot_interval_s * 1000)
        return true;
    return s->cfg.snapshot_wal_bytes > 0 &&
           snapshot_wal_bytes(s) - s->persist->snap.wal_bytes_at_last >=
               (uint64_t)s->cfg.snapshot_wal_bytes;
}

void
snapshot_cron(engine_t *s) {
    if (s->persist->snap.child) {
        snapshot_reap(s);
        return;
    }
    int64_t now = util_time_ms();
    bool scheduled = s->persist->snap.scheduled;
    if (!scheduled && !auto_due(s, now))
        return;
    s->persist->snap.scheduled = false;
    char err[256] = "";
    s->persist->snap.last_try_ms = now;
    if (snapshot_bgsave(s, err, sizeof err) < 0) {
        s->persist->snap.last_ok = false;
        s->persist->snap.saves_failed++;
        snprintf(s->persist->snap.last_err, sizeof s->persist->snap.last_err, "%s", err);
        klog(KLOG_WARNING, "Can't start a %s snapshot: %s", scheduled ? "scheduled" : "automatic",
             err);
        return;
    }
}

static void
info_persistence(engine_t *s, sbuf_t *b) {
    int64_t now = util_time_ms();
    sbuf_printf(b,
                "rdb_changes_since_last_save:%llu\r\nrdb_bgsave_in_progress:%d\r\n"
                "rdb_last_save_time:%lld\r\nrdb_last_bgsave_status:%s\r\n"
                "rdb_last_bgsave_time_sec:%lld\r\nrdb_current_bgsave_time_sec:%lld\r\n"
                "rdb_saves:%llu\r\nrdb_last_cow_size:%llu\r\nrdb_last_load_keys_loaded:%llu\r\n",
                (unsigned long long)(s->dirty - s->dirty_at_last_save), s->persist->snap.child != 0,
                (long long)snapshot_lastsave_s(s), s->persist->snap.last_ok ? "ok" : "err",
                s->persist->snap.saves_ok + s->persist->snap.saves_failed
                    ? (long long)s->persist->snap.last_duration_ms / 1000
                    : -1LL,
                s->persist->snap.child ? (long long)(now - s->persist->snap.child_start_ms) / 1000
                                       : -1LL,
                (unsigned long long)s->persist->snap.saves_ok,
                (unsigned long long)s->persist->snap.last_cow_bytes,
                (unsigned long long)s->persist->snap.loaded_keys);
}

static void
info_snapshot(engine_t *s, sbuf_t *b) {
    double secs = s->persist->snap.last_seconds;
    sbuf_printf(b,
                "snapshot_in_progress:%d\r\nsnapshot_current_lsn:%llu\r\n"
                "snapshot_last_status:%s\r\nsnapshot_last_error:%s\r\nsnapshot_last_lsn:%llu\r\n"
                "snapshot_last_time:%lld\r\nsnapshot_last_duration_ms:%lld\r\n"
                "snapshot_last_keys:%llu\r\nsnapshot_last_bytes:%llu\r\n"
                "snapshot_last_bytes_raw:%llu\r\nsnapshot_last_keys_per_sec:%.0f\r\n"
                "snapshot_last_mb_per_sec:%.1f\r\nsnapshot_last_cow_bytes:%llu\r\n"
                "snapshot_saves_ok:%llu\r\nsnapshot_saves_failed:%llu\r\n",
                s->persist->snap.child != 0,
                (unsigned long long)(s->persist->snap.child ? s->persist->snap.child_lsn : 0),
                s->persist->snap.last_ok ? "ok" : "err", s->persist->snap.last_err,
                (unsigned long long)s->persist->snap.last_lsn,
                (long long)(s->persist->snap.last_ok_ms / 1000),
                (long long)s->persist->snap.last_duration_ms,
                (unsigned long long)s->persist->snap.last_keys,
                (unsigned long long)s->persist->snap.last_bytes_file,
                (unsigned long long)s->persist->snap.last_bytes_raw,
                secs > 0 ? (double)s->persist->snap.last_keys / secs : 0.0,
                secs > 0 ? (double)s->persist->snap.last_bytes_raw / secs / 1e6 : 0.0,
                (unsigned long long)s->persist->snap.last_cow_bytes,
                (unsigned long long)s->persist->snap.saves_ok,
                (unsigned long long)s->persist->snap.saves_failed);
    sbuf_printf(b,
                "snapshot_threads:%d\r\nsnapshot_format_version:%d\r\nsnapshot_keep:%d\r\n"
                "snapshot_interval_s:%lld\r\nsnapshot_wal_bytes:%lld\r\nwal_retention:%lld\r\n"
                "snapshot_loaded_lsn:%llu\r\nsnapshot_loaded_keys:%llu\r\n"
                "snapshot_load_ms:%llu\r\nsnapshot_load_fallbacks:%llu\r\n"
                "snapshot_retired_segments:%llu\r\nsnapshot_pruned_snapshots:%llu\r\n"
                "snapshot_pruned_archive_segments:%llu\r\n",
                s->cfg.snapshot_threads,
                s->cfg.snapshot_format_version ? s->cfg.snapshot_format_version
                                               : SNAP_FORMAT_VERSION_MAX,
                s->cfg.snapshot_keep, s->cfg.snapshot_interval_s, s->cfg.snapshot_wal_bytes,
                s->cfg.wal_retention_s, (unsigned long long)s->persist->snap.loaded_lsn,
                (unsigned long long)s->persist->snap.loaded_keys,
                (unsigned long long)s->persist->snap.loaded_ms,
                (unsigned long long)s->persist->snap.load_fallbacks,
                (unsigned long long)s->persist->snap.retired_segments,
                (unsigned long long)s->persist->snap.pruned_snapshots,
                (unsigned long long)s->persist->snap.pruned_archive);
}

void
snapshot_info(engine_t *s, const char *section, sbuf_t *b) {
    if (!strcmp(section, "persistence"))
        info_persistence(s, b);
    else if (!strcmp(section, "snapshot"))
        info_snapshot(s, b);
}
