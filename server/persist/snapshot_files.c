/*
 * snapshot_files.c - the files of <dir>/snapshots and of the log archive: names, listing,
 * leftovers, and retention after a snapshot became durable (snapshot_done).
 *
 * Retention, after every successful snapshot (retention()), with K = snapshot-keep and
 * R = wal-retention seconds:
 *   1. Snapshots kept: the K newest; with R > 0 also every snapshot taken in the last R seconds
 *      and the newest one taken before that (the "anchor": the base a restore to the start of
 *      the window replays from). Others are deleted.
 *   2. The live log keeps every record after the oldest of the K newest snapshots: segments
 *      wholly at or below its LSN leave it (wal_retire_before), moved to <dir>/wal-archive when
 *      R > 0, deleted when R = 0.
 *   3. With R > 0 archived segments wholly at or below the anchor's LSN are deleted (nothing can
 *      use them: every restore target in the window has the anchor or a newer snapshot as its
 *      base); without an anchor yet nothing is pruned. With R = 0 the archive is emptied.
 * Invariants that follow (docs/restore.md):
 *   I1 every kept snapshot among the K newest has every record after its LSN in the live log,
 *      so start-up can fall back from a damaged newest snapshot to any of the K-1 older ones and
 *      replay a longer log (snapshot_recover);
 *   I2 with R > 0, live log + archive hold every record after the anchor's LSN (or every record
 *      from LSN 1 while no anchor exists): any moment after the anchor is restorable.
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

#define SEGMENTS_MAX 65536 /* archived segments looked at in one directory */

void
snapshot_path(const char *dir, uint64_t lsn, char *buf, size_t len) {
    snprintf(buf, len, "%s/" SNAPSHOT_SUBDIR "/snap-%020" PRIu64 ".ksnap", dir, lsn);
}

int
snapshot_dir(const char *dir, char *buf, size_t len, bool create) {
    snprintf(buf, len, "%s/" SNAPSHOT_SUBDIR, dir);
    if (create && mkdir(buf, 0755) < 0 && errno != EEXIST)
        return KERR_SYS(errno);
    return 0;
}

/* "snap-<20 digits>.ksnap" -> lsn; 0 when the name is not a snapshot's. */
static int
parse_name(const char *name, uint64_t *lsn) {
    size_t n = strlen(name);
    if (n != 5 + 20 + 6 || strncmp(name, "snap-", 5) != 0 || strcmp(name + 25, ".ksnap") != 0)
        return 0;
    uint64_t v = 0;
    for (int i = 5; i < 25; i++) {
        if (name[i] < '0' || name[i] > '9')
            return 0;
        v = v * 10 + (uint64_t)(name[i] - '0');
    }
    *lsn = v;
    return 1;
}

static int
cmp_file(const void *a, const void *b) {
    uint64_t x = ((const snapshot_file_t *)a)->lsn, y = ((const snapshot_file_t *)b)->lsn;
    return x < y ? -1 : x > y;
}

int
snapshot_list(const char *dir, snapshot_file_t **out, size_t *n) {
    char d[SNAPSHOT_PATH_MAX - 512]; /* room for the name in f->path */
    *out = NULL;
    *n = 0;
    snapshot_dir(dir, d, sizeof d, false);
    DIR *dh = opendir(d);
    if (!dh)
        return errno == ENOENT ? 0 : KERR_SYS(errno);
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(dh)) && *n < SNAPSHOT_FILES_MAX) {
        uint64_t lsn;
        if (!parse_name(e->d_name, &lsn))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            *out = krealloc(*out, cap * sizeof **out);
        }
        snapshot_file_t *f = &(*out)[(*n)++];
        snprintf(f->path, sizeof f->path, "%s/%s", d, e->d_name);
        f->lsn = lsn;
    }
    closedir(dh);
    if (*n)
        qsort(*out, *n, sizeof **out, cmp_file);
    return 0;
}

static void
fsync_dir(const char *d) {
    int fd = open(d, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* A crash while a snapshot was written leaves <name>.tmp: never loaded, removed here; so are
 * exports (snapshot_export_start) a crash left before they were sent. */
void
snapshot_remove_tmp(const char *dir) {
    char d[SNAPSHOT_PATH_MAX], p[SNAPSHOT_PATH_MAX + 256];
    snapshot_dir(dir, d, sizeof d, false);
    DIR *dh = opendir(d);
    if (!dh)
        return;
    struct dirent *e;
    int removed = 0;
    while ((e = readdir(dh))) {
        size_t n = strlen(e->d_name);
        bool tmp = n > 4 && !strcmp(e->d_name + n - 4, ".tmp");
        bool export = !strncmp(e->d_name, SNAPSHOT_EXPORT_PREFIX, strlen(SNAPSHOT_EXPORT_PREFIX));
        if (tmp || export) {
            snprintf(p, sizeof p, "%s/%s", d, e->d_name);
            if (unlink(p) == 0) {
                klog(KLOG_NOTICE, "Removed %s, left by a %s", p,
                     tmp ? "snapshot that never finished" : "full sync that never sent it");
                removed++;
            }
        }
    }
    closedir(dh);
    if (removed)
        fsync_dir(d);
}

static const char *
live_wal_dir(engine_t *s, char *buf, size_t len) {
    if (s->cfg.wal_ndirs > 0)
        return s->cfg.wal_dirs[0];
    snprintf(buf, len, "%s/wal", s->cfg.dir);
    return buf;
}

/* First LSNs of the wal-*.log files of a directory, sorted; returns the count (<= max). */
static size_t
list_segments(const char *dir, uint64_t *first, size_t max) {
    DIR *dh = opendir(dir);
    if (!dh)
        return 0;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(dh)) && n < max) {
        unsigned long long v;
        char tail[8];
        if (strlen(e->d_name) == 4 + 20 + 4 && sscanf(e->d_name, "wal-%20llu%4s", &v, tail) == 2 &&
            !strcmp(tail, ".log"))
            first[n++] = v;
    }
    closedir(dh);
    for (size_t i = 1; i < n; i++) /* few files: insertion sort */
        for (size_t j = i; j > 0 && first[j - 1] > first[j]; j--) {
            uint64_t t = first[j];
            first[j] = first[j - 1];
            first[j - 1] = t;
        }
    return n;
}

/* Deletes archived segments whose every record is <= upto (all of them when upto is
 * UINT64_MAX). A segment's last LSN is the next segment's first - 1, the newest archived one's
 * next being the live log's oldest. Returns the number deleted. */
static uint64_t
prune_archive(engine_t *s, uint64_t upto) {
    char arch[SNAPSHOT_PATH_MAX], live[SNAPSHOT_PATH_MAX], p[SNAPSHOT_PATH_MAX + 64];
    snprintf(arch, sizeof arch, "%s/" SNAPSHOT_ARCHIVE, s->cfg.dir);
    uint64_t *a = kmalloc(sizeof *a * SEGMENTS_MAX), live_first = 0;
    size_t na = list_segments(arch, a, SEGMENTS_MAX);
    if (list_segments(live_wal_dir(s, live, sizeof live), &live_first, 1) == 0)
        live_first = 0;
    uint64_t deleted = 0;
    for (size_t i = 0; i < na; i++) {
        uint64_t next = i + 1 < na ? a[i + 1] : live_first;
        if (upto != UINT64_MAX && (next == 0 || next - 1 > upto))
            break; /* only a prefix goes: the archive stays contiguous */
        snprintf(p, sizeof p, "%s/wal-%020" PRIu64 ".log", arch, a[i]);
        if (unlink(p) == 0)
            deleted++;
    }
    kfree(a);
    if (deleted)
        fsync_dir(arch);
    return deleted;
}

static void
retention(engine_t *s) {
    snapshot_file_t *f;
    size_t n;
    if (snapshot_list(s->cfg.dir, &f, &n) < 0 || n == 0)
        return;
    size_t keep_n = (size_t)s->cfg.snapshot_keep < n ? (size_t)s->cfg.snapshot_keep : n;
    bool *keep = kcalloc(n, sizeof *keep);
    for (size_t i = n - keep_n; i < n; i++)
        keep[i] = true;
    uint64_t live_cut = f[n - keep_n].lsn;
    int64_t window_start = util_time_ms() - s->cfg.wal_retention_s * 1000;
    long anchor = -1;
    for (size_t i = 0; s->cfg.wal_retention_s > 0 && i < n; i++) {
        snap_info_t info;
        char e[256];
        if (snap_read_info(f[i].path, &info, e, sizeof e) < 0)
            continue; /* unreadable: no use as a base */
        if (info.time_ms > window_start)
            keep[i] = true;
        else
            anchor = (long)i;
    }
    if (anchor >= 0)
        keep[anchor] = true;
    uint64_t pruned = 0;
    for (size_t i = 0; i < n; i++)
        if (!keep[i] && unlink(f[i].path) == 0)
            pruned++;
    if (pruned) {
        char d[SNAPSHOT_PATH_MAX];
        snapshot_dir(s->cfg.dir, d, sizeof d, false);
        fsync_dir(d);
        s->persist->snap.pruned_snapshots += pruned;
    }
    if (s->wal && live_cut > 0) {
        char arch[SNAPSHOT_PATH_MAX];
        snprintf(arch, sizeof arch, "%s/" SNAPSHOT_ARCHIVE, s->cfg.dir);
        if (s->cfg.wal_retention_s > 0)
            mkdir(arch, 0755);
        int r = wal_retire_before(s->wal, live_cut + 1, s->cfg.wal_retention_s > 0 ? arch : NULL);
        if (r < 0)
            klog(KLOG_WARNING, "Log retention after the snapshot failed: %s", kerr_str(r));
        else
            s->persist->snap.retired_segments += (uint64_t)r;
    }
    if (s->cfg.wal_retention_s == 0)
        s->persist->snap.pruned_archive += prune_archive(s, UINT64_MAX);
    else if (anchor >= 0)
        s->persist->snap.pruned_archive += prune_archive(s, f[anchor].lsn);
    kfree(keep);
    kfree(f);
}

void
snapshot_done(engine_t *s, const snap_child_report_t *rep, uint64_t lsn, int64_t start_ms,
              uint64_t dirty_at_start) {
    int64_t now = util_time_ms();
    s->persist->snap.last_duration_ms = now - start_ms;
    s->persist->snap.last_ok = rep->rc == 0;
    if (rep->rc < 0) {
        s->persist->snap.saves_failed++;
        snprintf(s->persist->snap.last_err, sizeof s->persist->snap.last_err, "%s", rep->err);
        klog(KLOG_WARNING, "Snapshot at LSN %" PRIu64 " failed: %s", lsn, rep->err);
        return;
    }
    s->persist->snap.saves_ok++;
    s->persist->snap.last_err[0] = '\0';
    s->persist->snap.last_ok_ms = now;
    s->persist->snap.last_lsn = lsn;
    s->persist->snap.last_keys = rep->keys;
    s->persist->snap.last_bytes_file = rep->bytes_file;
    s->persist->snap.last_bytes_raw = rep->bytes_raw;
    s->persist->snap.last_seconds = rep->seconds;
    s->persist->snap.last_cow_bytes = rep->cow_bytes;
    s->dirty_at_last_save = dirty_at_start;
    klog(KLOG_NOTICE,
         "Snapshot at LSN %" PRIu64 " done: %" PRIu64 " keys, %" PRIu64
         " bytes in %.3f s (%.0f keys/s)",
         lsn, rep->keys, rep->bytes_file, rep->seconds,
         rep->seconds > 0 ? (double)rep->keys / rep->seconds : 0.0);
    retention(s);
}

uint64_t
snapshot_wal_bytes(engine_t *s) {
    if (!s->wal)
        return 0;
    wal_stats_t st;
    wal_get_stats(s->wal, &st);
    return st.bytes_written + s->persist->snap.wal_bytes_before_open;
}
