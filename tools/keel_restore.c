/*
 * keel_restore.c - keel-restore: point-in-time restore of a data directory (docs/restore.md).
 *
 *   keel-restore --dir DATA --list
 *   keel-restore --dir DATA --to <RFC 3339 time | unix ms | lsn:N> --out NEWDIR
 *
 * The restorable window: a moment is restorable when a "base" exists at or before it and every
 * log record from the base up to it is present (archive <DATA>/wal-archive, then the live log).
 * A base is a snapshot whose LSN + 1 is not before the oldest record held, or the empty state
 * at LSN 0 when the log still starts at LSN 1.
 *
 * Restoring: the newest base at or before the target is loaded into an in-memory keyspace (the
 * server's own loader, snapshot_load_file), the records after it up to and including the target
 * are replayed through the server's replay code (replay.c, a fake client), and the result is
 * written as NEWDIR/snapshots/snap-<target LSN>.ksnap plus an empty NEWDIR/wal, which
 * `keel-server --dir NEWDIR` starts from. A time target means: every record whose timestamp is
 * at or before it, in log order. DATA is only read; every checksum is verified on the way.
 *
 * Fallback: a snapshot whose header is sound can still fail to load (a damaged chunk). Then the
 * next older base is used with a longer replay, as the server's start-up does, and stderr says
 * which file was skipped and why; only when no base at or before the target loads does the
 * restore fail.
 *
 * Locks (common/klock.h): a shared lock on DATA (and --wal-dir) while reading, so that no server
 * of a locking build starts under the restore; when a live server holds DATA the restore goes on
 * (it only reads; snapshots and archived segments never change) and says so. NEWDIR is locked
 * exclusively while it is written, so no server starts on a half-written restore.
 */
#include <errno.h>
#include <inttypes.h>
#include <dirent.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kerr.h"
#include "klock.h"
#include "commands.h"
#include "config.h"
#include "db.h"
#include "exec.h"
#include "kmem.h"
#include "persist.h"
#include "replay.h"
#include "pubsub.h"
#include "snapshot_glue.h"
#include "util.h"
#include "watch.h"
#include "t_hash.h"
#include "t_list.h"
#include "t_set.h"
#include "t_zset.h"
#include "wal.h"

#define PATH_LEN 4096

typedef struct base {
    uint64_t lsn;
    int64_t time_ms; /* snapshot time; for the empty base, the first record's time */
    uint64_t keys;
    const char *path; /* NULL: the empty state at LSN 0 */
    char *why;        /* NULL: usable; else why not (kmalloc'ed) */
} base_t;

typedef struct log_range {
    bool any;
    uint64_t first, last; /* LSNs */
    int64_t first_ts, last_ts;
    uint64_t records;
} log_range_t;

typedef struct opts {
    const char *dir, *wal_dir, *to, *out;
    bool list;
    int threads;
    char live[PATH_LEN], archive[PATH_LEN];
    bool out_made; /* --out was created by this run: a failed restore removes it again */
} opts_t;

static void
usage(FILE *f) {
    fprintf(
        f, "Usage: keel-restore --dir DATA --list [--wal-dir DIR]\n"
           "       keel-restore --dir DATA --to TARGET --out NEWDIR [--wal-dir DIR] [--threads N]\n"
           "\n"
           "Point-in-time restore of a Keel data directory. DATA is only read.\n"
           "  --list          print the restorable window: the earliest and latest restorable\n"
           "                  moments, the snapshots, the live and archived log ranges\n"
           "  --to TARGET     2026-01-31T12:00:00Z (RFC 3339, any offset, optional .fff),\n"
           "                  a unix time in ms (1769860800000), or lsn:N (after record N)\n"
           "  --out NEWDIR    new data directory (must not exist or be empty, must not be DATA\n"
           "                  or lie inside its log, archive or snapshot directories or the\n"
           "                  --wal-dir); start a server on it with: keel-server --dir NEWDIR\n"
           "  --wal-dir DIR   the live log copy to read (default DATA/wal)\n"
           "  --threads N     snapshot loader/writer threads (default 2)\n"
           "\n"
           "The newest snapshot at or before TARGET is the base; when it does not load (a\n"
           "damaged chunk), the next older one is used with the log after it, and stderr says\n"
           "which snapshot was skipped and why.\n"
           "Locks: DATA (and --wal-dir) is read under a shared lock on its keel.lock when it has\n"
           "one. When a running server holds it, the restore goes on and says so: snapshots and\n"
           "archived segments never change, and the live log is read up to its last complete\n"
           "record, so what is restored is what was durable when each file was read. NEWDIR is\n"
           "locked exclusively while it is written, so no server starts on it half-written.\n"
           "Exit status: 0 restored (or listed), 1 failed, 2 usage error.\n");
}

/* ---- time -------------------------------------------------------------------------------- */

static void
fmt_time(int64_t ms, char *buf, size_t len) {
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03dZ", (int)(ms % 1000));
}

/* RFC 3339: YYYY-MM-DD[T ]HH:MM:SS[.frac](Z|+HH:MM|-HH:MM). */
static int
parse_rfc3339(const char *s, int64_t *ms) {
    struct tm tm = {0};
    int n = 0;
    if (sscanf(s, "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 ||
        n == 0)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    const char *p = s + n;
    int64_t frac = 0, scale = 1000;
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++) {
            if (scale > 1) {
                scale /= 10;
                frac += (*p - '0') * scale;
            }
        }
    }
    int64_t off_s = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int hh, mm, k = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &hh, &mm, &k) != 2)
            return -1;
        off_s = (hh * 3600 + mm * 60) * (*p == '-' ? -1 : 1);
        p += 1 + k;
    } else {
        return -1;
    }
    if (*p)
        return -1;
    *ms = ((int64_t)timegm(&tm) - off_s) * 1000 + frac;
    return 0;
}

/* ---- reading the log ---------------------------------------------------------------------- */

static bool
dir_exists(const char *d) {
    struct stat st;
    return stat(d, &st) == 0 && S_ISDIR(st.st_mode);
}

static int
range_cb(void *ctx, const wal_record_t *rec) {
    log_range_t *r = ctx;
    if (!r->any) {
        r->any = true;
        r->first = rec->lsn;
        r->first_ts = rec->ts_ms;
    }
    r->last = rec->lsn;
    r->last_ts = rec->ts_ms;
    r->records++;
    return 0;
}

static int
scan_range(const char *dir, log_range_t *r) {
    char err[512] = "";
    *r = (log_range_t){0};
    if (!dir_exists(dir))
        return 0;
    int rc = wal_read_dir(dir, 0, range_cb, r, err, sizeof err);
    if (rc < 0)
        fprintf(stderr, "keel-restore: %s: %s\n", dir, err[0] ? err : kerr_str(rc));
    return rc;
}

/* The whole log as one range; fails when the archive and the live log do not join. */
static int
join_ranges(const log_range_t *a, const log_range_t *l, log_range_t *all) {
    if (!a->any) {
        *all = *l;
        return 0;
    }
    *all = *a;
    if (!l->any)
        return 0;
    if (l->first > a->last + 1) {
        fprintf(stderr,
                "keel-restore: records %" PRIu64 "..%" PRIu64
                " are missing between the archive and the live log\n",
                a->last + 1, l->first - 1);
        return KERR_CORRUPT;
    }
    all->last = l->last;
    all->last_ts = l->last_ts;
    all->records = l->last - a->first + 1;
    return 0;
}

/* ---- bases -------------------------------------------------------------------------------- */

/* Why snapshot f cannot be a base, or NULL when it can (its header and trailer read, its name
 * agrees, and the log holds every record after it). Whether its chunks load is only known when
 * it is loaded (load_base). */
static char *
base_unusable(const snapshot_file_t *f, const snap_info_t *info, int r, const char *err,
              const log_range_t *all) {
    char why[1024];
    if (r < 0)
        snprintf(why, sizeof why, "%s", err[0] ? err : kerr_str(r));
    else if (info->lsn != f->lsn)
        snprintf(why, sizeof why, "its header says LSN %" PRIu64 ", its name %" PRIu64, info->lsn,
                 f->lsn);
    else if (all->any && info->lsn + 1 < all->first)
        snprintf(why, sizeof why,
                 "the log after it is gone (the oldest record held is LSN %" PRIu64 ")",
                 all->first);
    else
        return NULL;
    return kstrndup(why, strlen(why));
}

/* Every snapshot (usable or not, with the reason) and the empty state at LSN 0 when the log
 * starts at LSN 1, oldest first (*out kmalloc'ed); *usable counts the usable ones. */
static int
find_bases(const opts_t *o, const log_range_t *all, base_t **out, size_t *n, size_t *usable,
           bool print) {
    snapshot_file_t *f;
    size_t nf;
    int rc = snapshot_list(o->dir, &f, &nf);
    if (rc < 0) {
        fprintf(stderr, "keel-restore: can't list the snapshots of %s: %s\n", o->dir, kerr_str(rc));
        return rc;
    }
    *out = kcalloc(nf + 1, sizeof **out);
    *n = *usable = 0;
    if (all->any && all->first == 1)
        (*out)[(*n)++] = (base_t){.lsn = 0, .time_ms = all->first_ts};
    for (size_t i = 0; i < nf; i++) {
        snap_info_t info = {0};
        char err[512] = "", t[40] = "?";
        int r = snap_read_info(f[i].path, &info, err, sizeof err);
        base_t *b = &(*out)[(*n)++];
        *b = (base_t){f[i].lsn, info.time_ms, info.keys, kstrndup(f[i].path, strlen(f[i].path)),
                      base_unusable(&f[i], &info, r, err, all)};
        if (r == 0)
            fmt_time(info.time_ms, t, sizeof t);
        if (print)
            printf("  snapshot LSN %" PRIu64 "  %s  %" PRIu64 " keys  %s%s%s%s\n", f[i].lsn, t,
                   r == 0 ? info.keys : 0, f[i].path, b->why ? "  (not usable: " : "",
                   b->why ? b->why : "", b->why ? ")" : "");
    }
    for (size_t i = 0; i < *n; i++)
        *usable += (*out)[i].why == NULL;
    kfree(f);
    return 0;
}

static void
free_bases(base_t *b, size_t n) {
    for (size_t i = 0; i < n; i++) {
        kfree((void *)b[i].path);
        kfree(b[i].why);
    }
    kfree(b);
}

/* The window's ends as LSN and time: the oldest usable base, and the newest usable base or
 * the log's last record. There is at least one usable base. */
static void
window(const base_t *b, size_t n, const log_range_t *all, uint64_t *lo, int64_t *lo_ts,
       uint64_t *hi, int64_t *hi_ts) {
    size_t first = 0, last = n - 1;
    while (b[first].why)
        first++;
    while (b[last].why)
        last--;
    *lo = b[first].lsn;
    *lo_ts = b[first].time_ms;
    *hi = b[last].lsn;
    *hi_ts = b[last].time_ms;
    if (all->any && all->last > *hi) {
        *hi = all->last;
        *hi_ts = all->last_ts;
    }
}

static int
load_ranges(const opts_t *o, log_range_t *a, log_range_t *l, log_range_t *all) {
    int rc = scan_range(o->archive, a);
    if (rc == 0)
        rc = scan_range(o->live, l);
    if (rc == 0)
        rc = join_ranges(a, l, all);
    return rc;
}

static void
print_range(const char *what, const char *dir, const log_range_t *r) {
    char t1[40], t2[40];
    if (!r->any) {
        printf("  %-8s %s: no records\n", what, dir);
        return;
    }
    fmt_time(r->first_ts, t1, sizeof t1);
    fmt_time(r->last_ts, t2, sizeof t2);
    printf("  %-8s %s: LSN %" PRIu64 "..%" PRIu64 " (%" PRIu64 " records), %s .. %s\n", what, dir,
           r->first, r->last, r->records, t1, t2);
}

static int
do_list(const opts_t *o) {
    log_range_t a, l, all;
    base_t *b;
    size_t n, usable;
    if (load_ranges(o, &a, &l, &all) < 0)
        return 1;
    printf("data directory %s\nsnapshots:\n", o->dir);
    if (find_bases(o, &all, &b, &n, &usable, true) < 0)
        return 1;
    printf("log:\n");
    print_range("archive", o->archive, &a);
    print_range("live", o->live, &l);
    if (usable == 0) {
        printf(
            "restorable window: none (no usable snapshot and the log does not start at LSN 1)\n");
        free_bases(b, n);
        return 1;
    }
    uint64_t lo, hi;
    int64_t lo_ts, hi_ts;
    char t1[40], t2[40];
    size_t oldest = 0;
    while (b[oldest].why)
        oldest++;
    window(b, n, &all, &lo, &lo_ts, &hi, &hi_ts);
    fmt_time(lo_ts, t1, sizeof t1);
    fmt_time(hi_ts, t2, sizeof t2);
    printf("restorable window:\n  earliest  %s  %" PRId64 "  lsn:%" PRIu64 "%s\n"
           "  latest    %s  %" PRId64 "  lsn:%" PRIu64 "\n",
           t1, lo_ts, lo, b[oldest].path ? "" : "  (empty, before the first record)", t2, hi_ts,
           hi);
    free_bases(b, n);
    return 0;
}

/* ---- restoring ---------------------------------------------------------------------------- */

typedef struct find_ctx {
    int64_t to_ms;
    uint64_t lsn; /* last record with ts <= to_ms */
} find_ctx_t;

static int
find_cb(void *ctx, const wal_record_t *rec) {
    find_ctx_t *f = ctx;
    if (rec->ts_ms > f->to_ms)
        return 1; /* the first record after the moment: stop */
    f->lsn = rec->lsn;
    return 0;
}

/* A time target as the LSN of the last record at or before it (before_first when none). */
static int
time_to_lsn(const opts_t *o, int64_t ms, uint64_t before_first, uint64_t *lsn) {
    find_ctx_t f = {.to_ms = ms, .lsn = before_first};
    char err[512] = "";
    const char *dirs[2] = {o->archive, o->live};
    for (int i = 0; i < 2; i++) {
        if (!dir_exists(dirs[i]))
            continue;
        int rc = wal_read_dir(dirs[i], f.lsn, find_cb, &f, err, sizeof err);
        if (rc < 0) {
            fprintf(stderr, "keel-restore: %s: %s\n", dirs[i], err[0] ? err : kerr_str(rc));
            return rc;
        }
        if (rc == 1)
            break;
    }
    *lsn = f.lsn;
    return 0;
}

typedef struct restore_ctx {
    replay_ctx_t rc;
    uint64_t target, next, done;
    uint64_t t_last_us, t0_us;
} restore_ctx_t;

static int
restore_cb(void *ctx, const wal_record_t *rec) {
    restore_ctx_t *r = ctx;
    if (rec->lsn > r->target)
        return 1;
    if (rec->lsn != r->next) {
        fprintf(stderr, "keel-restore: expected record LSN %" PRIu64 ", found %" PRIu64 "\n",
                r->next, rec->lsn);
        return KERR_CORRUPT;
    }
    int rc = replay_apply_cb(&r->rc, rec);
    if (rc < 0)
        return rc;
    r->next++;
    r->done++;
    uint64_t now = util_mono_us();
    if (now - r->t_last_us >= 1000000) {
        r->t_last_us = now;
        fprintf(stderr,
                "keel-restore: replayed %" PRIu64 " records, at LSN %" PRIu64 " (%.0f records/s)\n",
                r->done, rec->lsn, (double)r->done * 1e6 / (double)(now - r->t0_us));
    }
    return 0;
}

/* Replays the records in (from, to] from the archive, then the live log. */
static int
replay_range(const opts_t *o, engine_t *s, uint64_t from, uint64_t to, uint64_t *done) {
    char err[1024] = "", rerr[1024] = "";
    restore_ctx_t r = {.target = to, .next = from + 1};
    r.t0_us = r.t_last_us = util_mono_us();
    replay_begin(&r.rc, s, rerr, sizeof rerr);
    const char *dirs[2] = {o->archive, o->live};
    int rc = 0;
    for (int i = 0; i < 2 && rc == 0 && r.next <= to; i++)
        if (dir_exists(dirs[i]))
            rc = wal_read_dir(dirs[i], r.next - 1, restore_cb, &r, err, sizeof err);
    replay_end(&r.rc);
    if (rc == 1)
        rc = 0;
    if (rc == 0 && r.next != to + 1) {
        fprintf(stderr, "keel-restore: the log ends at LSN %" PRIu64 ", before LSN %" PRIu64 "\n",
                r.next - 1, to);
        rc = KERR_CORRUPT;
    }
    if (rc < 0)
        fprintf(stderr, "keel-restore: replay failed (%s): %s\n", kerr_str(rc),
                rerr[0]  ? rerr
                : err[0] ? err
                         : "see above");
    *done = r.done;
    return rc;
}

/* An in-memory server: no socket, no log; what replay needs (db hooks, commands, types). */
static engine_t *
server_offline(int threads) {
    static engine_t srv;
    engine_t *s = &srv;
    config_defaults(s);
    s->cfg.snapshot_threads = threads;
    const char *loglevel[] = {"loglevel", "warning"}; /* through config_set: it owns the string */
    char err[128];
    config_set(s, 2, loglevel, NULL, true, err, sizeof err);
    engine_init(s, commands_registry);
    persist_create(s); /* idle: snapshot and replay state, no log */
    return s;
}

/* ---- the directories: locks, and where --out may be ------------------------------------- */

/* A shared lock on dir's keel.lock, taken only when the file exists: DATA is only read, so the
 * restore creates nothing in it, and a directory no server of a locking build ever owned has
 * no owner to detect. KERR_BUSY: a running server (*pid) holds it. */
static int
lock_if_owned(const char *dir, klock_t *l, pid_t *pid) {
    char path[PATH_LEN];
    l->fd = -1;
    *pid = 0;
    if (snprintf(path, sizeof path, "%s/" KLOCK_FILE, dir) >= (int)sizeof path ||
        access(path, F_OK) != 0)
        return 0;
    return klock_acquire(l, dir, false, pid);
}

/* Shared locks on DATA and --wal-dir for the whole run. A live owner does not stop a restore:
 * it only reads, snapshots and archived segments are immutable, and the live log is read up to
 * its last complete record; one line says what that means. */
static void
lock_sources(const opts_t *o, klock_t locks[2]) {
    const char *dirs[2] = {o->dir, o->wal_dir};
    bool said = false;
    for (int i = 0; i < 2; i++) {
        pid_t pid;
        locks[i].fd = -1;
        int rc = dirs[i] ? lock_if_owned(dirs[i], &locks[i], &pid) : 0;
        if (rc == KERR_BUSY && !said) {
            fprintf(stderr,
                    "keel-restore: %s is in use by a running server (pid %d): reading it "
                    "anyway; only what was durable when each file was read is restored "
                    "(snapshots and archived segments do not change, the live log is read up "
                    "to its last complete record)\n",
                    dirs[i], (int)pid);
            said = true;
        } else if (rc < 0 && rc != KERR_BUSY) {
            fprintf(stderr, "keel-restore: no shared lock on %s (%s); reading without it\n",
                    dirs[i], kerr_str(rc));
        }
    }
}

/* path made absolute without symlinks: realpath, or for a path that does not exist yet (the
 * usual --out) realpath of its parent plus its last name. -1 with errno when neither resolves. */
static int
canonical(const char *path, char *out, size_t len) {
    char tmp[PATH_MAX], a[PATH_LEN], b[PATH_LEN];
    if (realpath(path, tmp)) {
        snprintf(out, len, "%s", tmp);
        return 0;
    }
    if (errno != ENOENT)
        return -1;
    snprintf(a, sizeof a, "%s", path);
    snprintf(b, sizeof b, "%s", path);
    const char *name = basename(b);
    if (!realpath(dirname(a), tmp))
        return -1;
    if (snprintf(out, len, "%s/%s", strcmp(tmp, "/") ? tmp : "", name) >= (int)len) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

/* path is dir or lies below it (both canonical). */
static bool
is_within(const char *path, const char *dir) {
    size_t n = strlen(dir);
    return !strncmp(path, dir, n) && (path[n] == '/' || path[n] == '\0' || !strcmp(dir, "/"));
}

/* --out must be a new place: not DATA itself, and not inside what a server or this restore
 * reads (its log copy, archive or snapshots), where the restore's files would be taken for the
 * source's. 0, or 2 (usage) with a message. */
static int
check_out_path(const opts_t *o) {
    char out[PATH_LEN], d[PATH_LEN], snaps[PATH_LEN];
    if (canonical(o->out, out, sizeof out) < 0) {
        fprintf(stderr, "keel-restore: --out %s: %s\n", o->out, strerror(errno));
        return 2;
    }
    snprintf(snaps, sizeof snaps, "%s/" SNAPSHOT_SUBDIR, o->dir);
    const char *dirs[4] = {o->dir, o->live, o->archive, snaps};
    const char *what[4] = {"the --dir", "the live log copy", "the log archive", "the snapshots"};
    for (int i = 0; i < 4; i++) {
        if (canonical(dirs[i], d, sizeof d) < 0)
            continue; /* not even its parent exists: nothing of the source is there */
        if (i == 0 ? !strcmp(out, d) : is_within(out, d)) {
            fprintf(stderr,
                    "keel-restore: --out %s is %s%s (%s): a restore writes a new data directory, "
                    "never into the one it reads\n",
                    o->out, i == 0 ? "" : "inside ", what[i], d);
            return 2;
        }
    }
    return 0;
}

/* Entries of dir other than ".", ".." and a keel.lock; -1 with errno when it cannot be read. */
static int
dir_entries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, KLOCK_FILE);
    closedir(d);
    return n;
}

/* --out must not exist, or be an empty directory; created here and locked exclusively (*l) so
 * that no server starts on a half-written restore. */
static int
prepare_out(opts_t *o, klock_t *l) {
    int n = dir_entries(o->out);
    if (n > 0) {
        fprintf(stderr,
                "keel-restore: --out %s exists and is not empty; refusing to write into it\n",
                o->out);
        return KERR_EXISTS;
    }
    if (n < 0 && (errno != ENOENT || mkdir(o->out, 0755) < 0)) {
        fprintf(stderr, "keel-restore: --out %s: %s\n", o->out, strerror(errno));
        return KERR_SYS(errno);
    }
    o->out_made = n < 0;
    pid_t pid;
    int rc = klock_acquire(l, o->out, true, &pid);
    if (rc == KERR_BUSY)
        fprintf(stderr,
                "keel-restore: --out %s is in use by another process (pid %d): a server or "
                "another restore owns it\n",
                o->out, (int)pid);
    else if (rc < 0)
        fprintf(stderr, "keel-restore: --out %s: can't lock it: %s\n", o->out, kerr_str(rc));
    if (rc < 0)
        return rc;
    char p[PATH_LEN];
    snprintf(p, sizeof p, "%s/" SNAPSHOT_SUBDIR, o->out);
    rc = mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/wal", o->out);
    if (rc == 0)
        rc = mkdir(p, 0755);
    if (rc < 0) {
        fprintf(stderr, "keel-restore: creating %s: %s\n", p, strerror(errno));
        return KERR_SYS(errno);
    }
    return 0;
}

/* A failed restore leaves no half-made data directory: what prepare_out made goes again. */
static void
discard_out(const opts_t *o, klock_t *l) {
    char p[PATH_LEN];
    snprintf(p, sizeof p, "%s/" SNAPSHOT_SUBDIR, o->out);
    rmdir(p);
    snprintf(p, sizeof p, "%s/wal", o->out);
    rmdir(p);
    if (l->fd >= 0) {
        snprintf(p, sizeof p, "%s/" KLOCK_FILE, o->out);
        unlink(p);
        klock_release(l);
    }
    if (o->out_made)
        rmdir(o->out);
}

/* Target -> LSN, checked against the window; 0 or 1 (message printed). */
static int
resolve_target(const opts_t *o, const base_t *b, size_t n, const log_range_t *all, uint64_t *lsn) {
    uint64_t lo, hi;
    int64_t lo_ts, hi_ts, ms;
    char t1[40], t2[40];
    window(b, n, all, &lo, &lo_ts, &hi, &hi_ts);
    fmt_time(lo_ts, t1, sizeof t1);
    fmt_time(hi_ts, t2, sizeof t2);
    char *end;
    if (!strncmp(o->to, "lsn:", 4)) {
        errno = 0;
        unsigned long long v = strtoull(o->to + 4, &end, 10);
        if (errno || *end || end == o->to + 4)
            goto bad;
        *lsn = v;
    } else {
        errno = 0;
        long long v = strtoll(o->to, &end, 10);
        if (!errno && !*end && end != o->to)
            ms = v;
        else if (parse_rfc3339(o->to, &ms) < 0)
            goto bad;
        if (ms < lo_ts || ms > hi_ts) {
            char tt[40];
            fmt_time(ms, tt, sizeof tt);
            fprintf(stderr,
                    "keel-restore: %s is outside the restorable window: the %s restorable "
                    "moment is %s (%" PRId64 ")\n",
                    tt, ms < lo_ts ? "earliest" : "latest", ms < lo_ts ? t1 : t2,
                    ms < lo_ts ? lo_ts : hi_ts);
            return 1;
        }
        if (time_to_lsn(o, ms, all->any ? all->first - 1 : lo, lsn) < 0)
            return 1;
        if (*lsn < lo)
            *lsn = lo; /* the base itself was taken at or before the moment */
    }
    if (*lsn < lo || *lsn > hi) {
        fprintf(stderr,
                "keel-restore: lsn:%" PRIu64 " is outside the restorable window: the %s "
                "restorable moment is lsn:%" PRIu64 " (%s)\n",
                *lsn, *lsn < lo ? "earliest" : "latest", *lsn < lo ? lo : hi, *lsn < lo ? t1 : t2);
        return 1;
    }
    return 0;
bad:
    fprintf(stderr,
            "keel-restore: --to %s: expected an RFC 3339 time (2026-01-31T12:00:00Z), "
            "unix ms, or lsn:N\n",
            o->to);
    return 1;
}

static int
restore_write(const opts_t *o, engine_t *s, uint64_t lsn) {
    char path[PATH_LEN], err[1024] = "";
    snap_write_stats_t st = {0};
    snapshot_path(o->out, lsn, path, sizeof path);
    int rc = snapshot_write_keyspace(s, path, lsn, o->threads, 0, &st, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "keel-restore: writing %s: %s\n", path, err);
        return 1;
    }
    printf("wrote %s: %" PRIu64 " keys, %" PRIu64 " bytes in %.3f s\n"
           "start it with: keel-server --dir %s\n",
           path, st.keys, st.bytes_file, st.seconds, o->out);
    return 0;
}

static void
flush_keyspace(engine_t *s) {
    for (int i = 0; i < s->cfg.databases; i++)
        db_flush(s->dbs[i]);
}

/* Loads into s the newest base at or before target that loads completely (*used: its index),
 * falling back past unusable snapshots and ones whose load fails, as the server's start-up does;
 * stderr names every snapshot skipped and why, and the base used instead. KERR_NOTFOUND: none
 * does. */
static int
load_base(const opts_t *o, engine_t *s, const base_t *b, size_t n, uint64_t target, size_t *used) {
    int skipped = 0;
    for (size_t i = n; i-- > 0;) {
        const base_t *c = &b[i];
        char err[1024] = "";
        if (c->lsn > target)
            continue;
        if (c->path && !c->why) {
            snap_info_t info;
            uint64_t t0 = util_mono_us();
            printf("loading %s (LSN %" PRIu64 ", %" PRIu64 " keys)\n", c->path, c->lsn, c->keys);
            if (snapshot_load_file(s, c->path, o->threads, &info, err, sizeof err) == 0) {
                printf("loaded in %.3f s\n", (double)(util_mono_us() - t0) / 1e6);
            } else {
                flush_keyspace(s); /* a partial load is thrown away */
                if (!err[0])
                    snprintf(err, sizeof err, "it does not load");
            }
        }
        if (c->why || err[0]) {
            fprintf(stderr,
                    "keel-restore: skipping snapshot %s (LSN %" PRIu64 "): %s; trying an older "
                    "base\n",
                    c->path, c->lsn, c->why ? c->why : err);
            skipped++;
            continue;
        }
        if (skipped && c->path)
            fprintf(stderr,
                    "keel-restore: using snapshot %s (LSN %" PRIu64
                    ") instead, and replaying the log after it\n",
                    c->path, c->lsn);
        else if (skipped)
            fprintf(stderr, "keel-restore: using the empty state (LSN 0) instead, and replaying "
                            "the log from LSN 1\n");
        *used = i;
        return 0;
    }
    return KERR_NOTFOUND;
}

/* Load, replay and write; 0 or 1 (messages printed). */
static int
restore_into(const opts_t *o, const base_t *b, size_t n, const log_range_t *all, uint64_t target) {
    engine_t *s = server_offline(o->threads);
    size_t bi;
    uint64_t done = 0;
    if (load_base(o, s, b, n, target, &bi) < 0) {
        char first[64] = "it holds no record";
        if (all->any)
            snprintf(first, sizeof first, "its oldest record is LSN %" PRIu64, all->first);
        fprintf(stderr,
                "keel-restore: nothing can restore lsn:%" PRIu64 " from %s: no snapshot at or "
                "before it loads, and the log does not reach back to LSN 1 (%s)\n",
                target, o->dir, first);
        return 1;
    }
    if (target > b[bi].lsn) {
        printf("replaying LSN %" PRIu64 "..%" PRIu64 "\n", b[bi].lsn + 1, target);
        if (replay_range(o, s, b[bi].lsn, target, &done) < 0)
            return 1;
        printf("replayed %" PRIu64 " records\n", done);
    }
    return restore_write(o, s, target);
}

static int
do_restore(opts_t *o) {
    log_range_t a, l, all;
    base_t *b;
    size_t n, usable;
    uint64_t target;
    if (load_ranges(o, &a, &l, &all) < 0 || find_bases(o, &all, &b, &n, &usable, false) < 0)
        return 1;
    if (usable == 0) {
        fprintf(stderr,
                "keel-restore: nothing is restorable from %s (no usable snapshot and the "
                "log does not start at LSN 1)\n",
                o->dir);
        free_bases(b, n);
        return 1;
    }
    klock_t out_lock = {.fd = -1};
    int rc = resolve_target(o, b, n, &all, &target);
    if (rc == 0 && prepare_out(o, &out_lock) < 0)
        rc = 1;
    else if (rc == 0)
        rc = restore_into(o, b, n, &all, target);
    if (rc != 0 && (out_lock.fd >= 0 || o->out_made))
        discard_out(o, &out_lock);
    klock_release(&out_lock);
    free_bases(b, n);
    return rc;
}

static int
parse_args(int argc, char **argv, opts_t *o) {
    *o = (opts_t){.threads = 2};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = !strcmp(a, "--dir")       ? &o->dir
                            : !strcmp(a, "--to")      ? &o->to
                            : !strcmp(a, "--out")     ? &o->out
                            : !strcmp(a, "--wal-dir") ? &o->wal_dir
                                                      : NULL;
        if (!strcmp(a, "--list")) {
            o->list = true;
        } else if (!strcmp(a, "--threads") && i + 1 < argc) {
            o->threads = atoi(argv[++i]);
            if (o->threads < 1 || o->threads > SNAP_THREADS_MAX)
                return -1;
        } else if (slot && i + 1 < argc) {
            *slot = argv[++i];
        } else {
            fprintf(stderr, "keel-restore: unknown or incomplete option '%s'\n", a);
            return -1;
        }
    }
    if (!o->dir || o->list == (o->to != NULL) || (o->to && !o->out))
        return -1;
    if (o->wal_dir)
        snprintf(o->live, sizeof o->live, "%s", o->wal_dir);
    else
        snprintf(o->live, sizeof o->live, "%s/wal", o->dir);
    snprintf(o->archive, sizeof o->archive, "%s/" SNAPSHOT_ARCHIVE, o->dir);
    return 0;
}

int
main(int argc, char **argv) {
    opts_t o;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        }
    if (parse_args(argc, argv, &o) < 0) {
        usage(stderr);
        return 2;
    }
    if (!dir_exists(o.dir)) {
        fprintf(stderr, "keel-restore: --dir %s: not a directory\n", o.dir);
        return 2;
    }
    if (o.out && check_out_path(&o) != 0)
        return 2;
    klock_t locks[2];
    lock_sources(&o, locks);
    int rc = o.list ? do_list(&o) : do_restore(&o);
    klock_release(&locks[0]);
    klock_release(&locks[1]);
    return rc;
}
