/*
 * replica_io.c - what replication (repl/) needs from persistence, so that it never reaches into
 * the log's or the snapshots' internals: where the log and its archive are, the data set's id,
 * appending a record received from a primary under its own LSN, and adopting a primary's
 * snapshot as the start of a new history (a full sync).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kassert.h"
#include "kerr.h"
#include "klog.h"
#include "kmem.h"
#include "persist.h"
#include "persist_int.h"
#include "snapshot_glue.h"

const char *
persist_log_dir(const engine_t *s) {
    return s->persist && s->persist->cfg.ndirs > 0 ? s->persist->cfg.dirs[0] : NULL;
}

void
persist_archive_dir(const engine_t *s, char *buf, size_t len) {
    snprintf(buf, len, "%s/" SNAPSHOT_ARCHIVE, s->cfg.dir);
}

const uint8_t *
persist_dataset_id(const engine_t *s) {
    return s->persist->identity.id;
}

int64_t
persist_append_replicated(engine_t *s, uint64_t lsn, int64_t ts_ms, uint32_t db,
                          const void *payload, size_t len) {
    if (lsn != s->last_lsn_assigned + 1)
        return KERR_INVAL; /* the stream skipped or repeated a record */
    if (!s->wal) {
        s->last_lsn_assigned = lsn; /* durability off: applied, not logged */
        return (int64_t)lsn;
    }
    if (s->persist->failed)
        return KERR_FAILED;
    int64_t got = wal_append_at(s->wal, db, ts_ms, payload, len);
    if (got < 0)
        return got;
    ASSERT((uint64_t)got == lsn); /* the log's last LSN is the engine's */
    s->last_lsn_assigned = lsn;
    return got;
}

/* Every wal-*.log of dir goes (a history this node gives up for its primary's). */
static int
remove_segments(const char *dir) {
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : KERR_SYS(errno);
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (!strncmp(e->d_name, "wal-", 4) && unlinkat(dirfd(d), e->d_name, 0) < 0 && !rc)
            rc = KERR_SYS(errno);
    closedir(d);
    return rc;
}

/* Other snapshots belong to the history given up: only the adopted one stays. */
static int
install_snapshot(engine_t *s, const char *tmp_path, uint64_t lsn, char *err, size_t errlen) {
    snapshot_file_t *f;
    size_t n;
    int rc = snapshot_list(s->cfg.dir, &f, &n);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; i++)
        unlink(f[i].path);
    kfree(f);
    char path[SNAPSHOT_PATH_MAX];
    snapshot_path(s->cfg.dir, lsn, path, sizeof path);
    if (rename(tmp_path, path) < 0) {
        snprintf(err, errlen, "moving %s to %s: %s", tmp_path, path, strerror(errno));
        return KERR_SYS(errno);
    }
    return 0;
}

/* The log starts over after lsn, as the primary's data set: every copy and the archive emptied,
 * reopened, keel.id rewritten. */
static int
restart_log(engine_t *s, const snap_identity_t *id, uint64_t lsn) {
    persist_t *p = s->persist;
    if (s->wal) {
        ev_del(s->loop, wal_notify_fd(s->wal), EV_READ);
        wal_close(s->wal);
        s->wal = NULL;
    }
    char archive[WAL_PATH_MAX];
    persist_archive_dir(s, archive, sizeof archive);
    int rc = remove_segments(archive);
    for (int i = 0; rc == 0 && i < p->cfg.ndirs; i++)
        rc = remove_segments(p->cfg.dirs[i]);
    if (!snap_id_is_zero(id->id)) {
        p->identity = *id;
        memcpy(p->cfg.dataset_id, id->id, sizeof p->cfg.dataset_id);
    }
    /* The history is the primary's, as of the snapshot: this node's own epochs are given up. */
    p->identity.nepochs = id->nepochs;
    memcpy(p->identity.epochs, id->epochs, id->nepochs * sizeof id->epochs[0]);
    if (!p->identity.nepochs) /* a snapshot that names no history: one epoch, unknown */
        p->identity.epochs[p->identity.nepochs++] = (snap_epoch_t){.epoch = 1, .first_lsn = 1};
    p->cfg.epoch = p->identity.epochs[p->identity.nepochs - 1].epoch;
    p->epoch_pending = false;
    s->last_lsn_assigned = lsn;
    p->durable_seen = p->commit_seen = lsn;
    if (rc == 0 && s->cfg.durability != DURABILITY_OFF)
        rc = wal_open(&p->cfg, lsn, &s->wal);
    if (rc == 0 && s->wal)
        rc = ev_add(s->loop, wal_notify_fd(s->wal), EV_READ, persist_notify_cb, s);
    if (rc < 0)
        return rc;
    s->durable_lsn = s->cfg.durability == DURABILITY_SYNC ? lsn : UINT64_MAX;
    tags_reset(s);
    return integrity_record(s, lsn);
}

int
persist_adopt_snapshot(engine_t *s, const char *tmp_path, const char *primary_id, char *err,
                       size_t errlen) {
    snap_peek_t pk;
    int rc = snap_peek(tmp_path, &pk, err, errlen);
    if (rc < 0)
        return rc;
    /* A file for an older reader has no identity section: the primary's word is the data set's
     * (else this node would keep its own id and ask for a full sync at every reconnect). Its
     * epoch history is unknown then. */
    bool named = snap_id_is_zero(pk.identity.id) && primary_id &&
                 idfile_parse_id(primary_id, pk.identity.id) && !snap_id_is_zero(pk.identity.id);
    if (named)
        pk.identity.nepochs = 0;
    /* A snapshot of the history being given up must not land after the adopted one. */
    snapshot_stop(s);
    for (int i = 0; i < s->cfg.databases; i++)
        db_flush(s->dbs[i]);
    snap_info_t info;
    s->loading = true;
    rc = snapshot_load_file(s, tmp_path, s->cfg.snapshot_threads, &info, err, errlen);
    s->loading = false;
    if (rc < 0) {
        for (int i = 0; i < s->cfg.databases; i++)
            db_flush(s->dbs[i]);
        return rc;
    }
    rc = install_snapshot(s, tmp_path, pk.lsn, err, errlen);
    if (rc == 0)
        rc = restart_log(s, &pk.identity, pk.lsn);
    if (rc < 0 && !err[0])
        snprintf(err, errlen, "%s", kerr_str(rc));
    if (rc == 0)
        klog(KLOG_NOTICE,
             "Full sync: %llu keys loaded at LSN %llu from a snapshot of format %u%s; the log "
             "starts over after it",
             (unsigned long long)info.keys, (unsigned long long)pk.lsn, pk.version,
             named ? " (no identity section: the data set id is the one the primary named)" : "");
    return rc;
}
