/*
 * integrity.c - what keeps an operator's mistake from losing acknowledged writes: the server owns
 * its data directory and log copies (an flock, see common/klock.h), and every start checks that
 * the snapshot, the log and keel.id belong to one data set and one history (docs/durability.md,
 * "Operator mistakes").
 *
 * Start-up order (persist_start):
 *   integrity_lock       keel.lock in <dir> and in every wal-dir, exclusive; keel.id read
 *   snapshot_recover     the newest loadable snapshot (its identity recorded)
 *   integrity_before_log refuse a snapshot of another data set; the log must reach
 *                        max(newest snapshot's LSN, keel.id's log_reached_lsn) where the loaded
 *                        snapshot does not cover it, and must be of keel.id's (or the
 *                        snapshot's) data set: wal_recover_ex refuses else
 *   wal_recover_ex       replay
 *   integrity_after_log  the id and epoch new segments and snapshots carry
 *   wal_open, integrity_record(0)
 * At a clean shutdown, after wal_close sealed the log: integrity_record(last LSN).
 * `wal-accept-loss yes` lets a start go on when records are missing (logged as a warning);
 * the recorded clean-shutdown LSN is then lowered to what the log holds.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "kerr.h"
#include "klog.h"
#include "persist.h"
#include "persist_int.h"
#include "util.h"

static int
lock_one(klock_t *l, const char *dir, const char *what) {
    pid_t pid = 0;
    int rc = klock_acquire(l, dir, true, &pid);
    if (rc == KERR_BUSY)
        klog(KLOG_WARNING,
             "Refusing to start: the %s %s is in use by another keel-server (pid %d); two servers "
             "on one data set would each acknowledge writes the other overwrites",
             what, dir, (int)pid);
    else if (rc < 0)
        klog(KLOG_WARNING, "Refusing to start: can't lock the %s %s: %s", what, dir, kerr_str(rc));
    return rc;
}

/* mkdir -p for a log copy, so that it can be locked before the log opens it. */
static int
make_dirs(const char *path) {
    char buf[WAL_PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return KERR_SYS(errno);
        *p = '/';
    }
    return mkdir(buf, 0755) < 0 && errno != EEXIST ? KERR_SYS(errno) : 0;
}

int
integrity_lock(engine_t *s) {
    persist_t *p = s->persist;
    int rc = lock_one(&p->dir_lock, s->cfg.dir, "data directory");
    if (rc < 0)
        return rc;
    if (s->cfg.durability != DURABILITY_OFF) {
        for (int i = 0; i < p->cfg.ndirs; i++) {
            rc = make_dirs(p->cfg.dirs[i]);
            if (rc < 0) {
                klog(KLOG_WARNING, "Refusing to start: can't create the log copy %s: %s",
                     p->cfg.dirs[i], kerr_str(rc));
                return rc;
            }
            rc = lock_one(&p->wal_locks[i], p->cfg.dirs[i], "log copy");
            if (rc < 0)
                return rc;
        }
    }
    char err[512] = "";
    rc = idfile_read(s->cfg.dir, &p->idf, err, sizeof err);
    if (rc < 0)
        klog(KLOG_WARNING, "Refusing to start: %s (%s)", err[0] ? err : IDFILE_NAME, kerr_str(rc));
    return rc;
}

void
integrity_unlock(engine_t *s) {
    persist_t *p = s->persist;
    if (!p)
        return;
    for (int i = 0; i < WAL_COPIES_MAX; i++)
        klock_release(&p->wal_locks[i]);
    klock_release(&p->dir_lock);
}

int
integrity_before_log(engine_t *s) {
    persist_t *p = s->persist;
    const uint8_t *snap_id = p->identity.id;
    char a[37], b[37];
    if (p->idf.present && !snap_id_is_zero(p->idf.dataset_id) && !snap_id_is_zero(snap_id) &&
        memcmp(p->idf.dataset_id, snap_id, IDFILE_ID_SIZE) != 0) {
        wal_dataset_id_str(snap_id, a, sizeof a);
        wal_dataset_id_str(p->idf.dataset_id, b, sizeof b);
        klog(
            KLOG_WARNING,
            "Refusing to start: the snapshot at LSN %llu belongs to data set %s, but %s/" IDFILE_NAME
            " says this directory holds data set %s",
            (unsigned long long)p->snapshot_lsn, a, s->cfg.dir, b);
        return KERR_FOREIGN;
    }
    if (p->idf.present && !snap_id_is_zero(p->idf.dataset_id))
        memcpy(p->cfg.dataset_id, p->idf.dataset_id, IDFILE_ID_SIZE);
    else
        memcpy(p->cfg.dataset_id, snap_id, IDFILE_ID_SIZE);
    /* The log must reach what keel.id says it reached and what the newest snapshot holds, where
     * the snapshot loaded does not already cover it: a log trimmed up to the loaded snapshot, or
     * none at all after keel-restore, is complete; one that ends before a newer snapshot or
     * before its own recorded reach lost records. */
    uint64_t expect = p->newest_snapshot_lsn;
    if (p->idf.log_reached_lsn > expect)
        expect = p->idf.log_reached_lsn;
    p->cfg.expect_lsn_min = expect > p->snapshot_lsn ? expect : 0;
    p->cfg.accept_loss = s->cfg.wal_accept_loss;
    return 0;
}

int
integrity_after_log(engine_t *s) {
    persist_t *p = s->persist;
    const wal_recover_info_t *ri = &p->recovered;
    uint8_t *id = p->cfg.dataset_id;
    if (snap_id_is_zero(id))
        memcpy(id, ri->dataset_id, IDFILE_ID_SIZE);
    bool created = snap_id_is_zero(id);
    if (created) {
        int rc = util_random_bytes(id, IDFILE_ID_SIZE);
        if (rc < 0) {
            klog(KLOG_WARNING, "Refusing to start: no random id for a new data set: %s",
                 strerror(-rc));
            return rc;
        }
        id[6] = (uint8_t)((id[6] & 0x0f) | 0x40); /* a version 4 (random) UUID */
        id[8] = (uint8_t)((id[8] & 0x3f) | 0x80);
    }
    memcpy(p->identity.id, id, IDFILE_ID_SIZE);
    epochs_settle(s);
    uint64_t epoch = p->identity.epochs[p->identity.nepochs - 1].epoch;
    p->cfg.epoch = epoch; /* the log's new segments: the history's newest epoch */
    char str[37];
    wal_dataset_id_str(id, str, sizeof str);
    klog(KLOG_NOTICE, "Data set %s, epoch %llu%s", str, (unsigned long long)epoch,
         created ? " (new)" : "");
    if (ri->loss_accepted)
        klog(KLOG_WARNING,
             "wal-accept-loss: started although the log lacked records through LSN %llu (it "
             "ends at %llu): writes acknowledged after LSN %llu are gone",
             (unsigned long long)p->cfg.expect_lsn_min, (unsigned long long)ri->last_lsn,
             (unsigned long long)ri->last_lsn);
    return 0;
}

int
integrity_record(engine_t *s, uint64_t clean_lsn) {
    persist_t *p = s->persist;
    p->idf.present = true;
    memcpy(p->idf.dataset_id, p->identity.id, IDFILE_ID_SIZE);
    epochs_to_idfile(s);
    /* At start the log provably holds what it holds: that is the floor for the next start. */
    p->idf.log_reached_lsn = clean_lsn ? clean_lsn : s->last_lsn_assigned;
    int rc = idfile_write(s->cfg.dir, &p->idf);
    if (rc < 0)
        klog(KLOG_WARNING, "Can't write %s/" IDFILE_NAME ": %s", s->cfg.dir, kerr_str(rc));
    return rc;
}
