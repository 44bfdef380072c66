/*
 * recover.c - recovery across log copies (the algorithm of docs/formats/wal.md, section 4):
 *
 *   1. verify   every copy with wal_scan_dir(), read-only. Damage that is not a torn tail (I4;
 *               in a sealed copy none is, I9) anywhere returns KERR_CORRUPT.
 *   2. identity every copy carrying a data-set id carries the same, and the caller's (I8).
 *   3. choose   the copy with the highest last LSN ("best"); of several, the one with the
 *               newest segment (newest_made()).
 *   4. needed   the records after after_lsn and through cfg->expect_lsn_min are there (or
 *               cfg->accept_loss: a WARNING line).
 *   5. plan     per other copy and per segment of best: nothing, create, or replace. A segment
 *               is only replaced when the copy's valid bytes are a prefix of best's (checked
 *               byte for byte), so a repair never overwrites a record that differs. Copies that
 *               disagree return KERR_CORRUPT. Nothing is modified up to here.
 *   6. repair   cut torn tails (truncate, or remove a segment whose creation was torn; each a
 *               WARNING line with the records and bytes dropped), then write planned segments
 *               as <name>.tmp, fsync, rename, fsync the directory.
 *   7. replay   best's records with lsn > after_lsn, in order, through apply.
 *
 * The file helpers it shares with writer.c (directory fsync, mkdir -p, file copy) are in
 * fsutil.c, the configuration check in config.c: recover.c and writer.c call nothing of each
 * other.
 */
#include "wal_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kerr.h"
#include "kmem.h"

#define COPY_CHUNK_BYTES (1u << 20) /* same_prefix() reads in pieces of this */

static void
logf_(const wal_config_t *cfg, const char *fmt, ...) {
    if (!cfg->log)
        return;
    char msg[WAL_PATH_MAX + 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cfg->log(cfg->log_ctx, msg);
}

static int
seg_index(const wal_dir_scan_t *sc, uint64_t first_lsn) {
    for (int i = 0; i < sc->nsegs; i++)
        if (sc->segs[i].first_lsn == first_lsn)
            return i;
    return -1;
}

/* Are the first len bytes of a and b equal? */
static int
same_prefix(const char *a, const char *b, uint64_t len) {
    int fa = open(a, O_RDONLY | O_CLOEXEC), fb = open(b, O_RDONLY | O_CLOEXEC), same = 1;
    char *x = kmalloc(COPY_CHUNK_BYTES), *y = kmalloc(COPY_CHUNK_BYTES);
    if (fa < 0 || fb < 0)
        same = 0;
    for (uint64_t off = 0; same && off < len;) {
        size_t want = len - off < COPY_CHUNK_BYTES ? (size_t)(len - off) : COPY_CHUNK_BYTES;
        if (pread(fa, x, want, (off_t)off) != (ssize_t)want ||
            pread(fb, y, want, (off_t)off) != (ssize_t)want || memcmp(x, y, want) != 0)
            same = 0;
        off += want;
    }
    if (fa >= 0)
        close(fa);
    if (fb >= 0)
        close(fb);
    kfree(x);
    kfree(y);
    return same;
}

typedef struct recovery {
    const wal_config_t *cfg;
    wal_dir_scan_t sc[WAL_COPIES_MAX];
    uint8_t *plan[WAL_COPIES_MAX]; /* per copy, per segment of best: 1 = write it from best */
    int best;
    wal_recover_info_t *info;
    char *err;
    size_t errlen;
} recovery_t;

static int
disagree(recovery_t *r, int c, const char *name, const char *what) {
    snprintf(r->err, r->errlen,
             "copy %d (%s): %s/%s: %s than copy %d (%s), which has LSNs up to "
             "%" PRIu64,
             c, r->cfg->dirs[c], r->cfg->dirs[c], name, what, r->best, r->cfg->dirs[r->best],
             r->sc[r->best].last_lsn);
    return KERR_CORRUPT;
}

/* Step 5 for copy c: which of best's segments it needs, refusing when it disagrees. */
static int
plan_copy(recovery_t *r, int c) {
    const wal_dir_scan_t *b = &r->sc[r->best], *s = &r->sc[c];
    char pa[WAL_PATH_MAX + WAL_SEG_NAME_MAX], pb[WAL_PATH_MAX + WAL_SEG_NAME_MAX];
    r->plan[c] = kcalloc((size_t)(b->nsegs ? b->nsegs : 1), 1);
    for (int k = 0; k < s->nsegs; k++) {
        int torn_file = s->torn && s->torn_seg == k && s->torn_off == 0;
        if (b->nsegs && s->segs[k].first_lsn > b->segs[0].first_lsn && !torn_file &&
            seg_index(b, s->segs[k].first_lsn) < 0)
            return disagree(r, c, s->segs[k].name, "segment unknown to the longest copy, more");
    }
    for (int j = 0; j < b->nsegs; j++) {
        if (b->torn && b->torn_seg == j && b->torn_off == 0)
            continue; /* best's own torn creation: removed, not copied */
        int k = seg_index(s, b->segs[j].first_lsn);
        if (k >= 0 && s->torn && s->torn_seg == k && s->torn_off == 0)
            k = -1;
        if (k < 0) {
            r->plan[c][j] = 1;
            continue;
        }
        uint64_t cend = s->seg_end[k], bend = b->seg_end[j];
        if (cend > bend)
            return disagree(r, c, s->segs[k].name, "more data");
        if (cend == bend)
            continue;
        snprintf(pa, sizeof pa, "%s/%s", r->cfg->dirs[c], s->segs[k].name);
        snprintf(pb, sizeof pb, "%s/%s", r->cfg->dirs[r->best], b->segs[j].name);
        if (!same_prefix(pa, pb, cend))
            return disagree(r, c, s->segs[k].name, "different bytes");
        r->plan[c][j] = 1;
    }
    return 0;
}

/* Step 6a: cut copy c's torn tail. */
static int
cut_torn(recovery_t *r, int c) {
    const wal_dir_scan_t *s = &r->sc[c];
    char path[WAL_PATH_MAX + WAL_SEG_NAME_MAX];
    snprintf(path, sizeof path, "%s/%s", r->cfg->dirs[c], s->segs[s->torn_seg].name);
    int rc = 0;
    if (s->torn_off == 0) {
        rc = unlink(path) == 0 ? 0 : KERR_SYS(errno);
        logf_(r->cfg,
              "WARNING: wal: removed %s: its header was never completely written (the log was "
              "not closed cleanly); %" PRIu64 " record(s), %" PRIu64 " bytes dropped",
              path, s->torn_records, s->torn_bytes);
    } else {
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
            return KERR_SYS(errno);
        if (ftruncate(fd, (off_t)s->torn_off) != 0 || fsync(fd) != 0)
            rc = KERR_SYS(errno);
        close(fd);
        logf_(r->cfg,
              "WARNING: wal: cut a torn tail of %s at offset %" PRIu64 " (after LSN %" PRIu64
              "; the log was not closed cleanly): %" PRIu64 " record(s), %" PRIu64 " bytes dropped",
              path, s->torn_off, s->last_lsn, s->torn_records, s->torn_bytes);
    }
    if (rc == 0)
        rc = wal_fsync_dir(r->cfg->dirs[c]);
    return rc;
}

/* Step 6b: write the planned segments of copy c from best. */
static int
repair_copy(recovery_t *r, int c) {
    const wal_dir_scan_t *b = &r->sc[r->best];
    char src[WAL_PATH_MAX + WAL_SEG_NAME_MAX];
    int n = 0, rc;
    if ((rc = wal_mkdir_p(r->cfg->dirs[c])) != 0)
        return rc;
    for (int j = 0; j < b->nsegs; j++) {
        if (!r->plan[c][j])
            continue;
        snprintf(src, sizeof src, "%s/%s", r->cfg->dirs[r->best], b->segs[j].name);
        if ((rc = wal_copy_file(src, r->cfg->dirs[c], b->segs[j].name, b->seg_end[j])) != 0) {
            snprintf(r->err, r->errlen, "copy %d (%s): repairing %s: %s", c, r->cfg->dirs[c],
                     b->segs[j].name, kerr_str(rc));
            return rc;
        }
        n++;
    }
    if (n) {
        logf_(r->cfg, "wal: brought copy %d (%s) up to LSN %" PRIu64 " from %s: %d segment(s)", c,
              r->cfg->dirs[c], b->last_lsn, r->cfg->dirs[r->best], n);
        rc = wal_fsync_dir(r->cfg->dirs[c]);
    }
    return rc;
}

static void
recovery_free(recovery_t *r, int n) {
    for (int i = 0; i < n; i++) {
        wal_dir_scan_free(&r->sc[i]);
        kfree(r->plan[i]);
    }
}

/* Step 2: one data set. Every copy carrying an id (v1 segments carry none) must carry the
 * caller's, when it gave one, and the same as the other copies. */
static int
check_ids(recovery_t *r) {
    const wal_config_t *cfg = r->cfg;
    char a[WAL_DATASET_ID_STR_MAX], b[WAL_DATASET_ID_STR_MAX];
    int first = -1;
    for (int i = 0; i < cfg->ndirs; i++) {
        const wal_dir_scan_t *s = &r->sc[i];
        if (s->id_seg < 0)
            continue;
        wal_dataset_id_str(s->dataset_id, a, sizeof a);
        if (!wal_dataset_id_is_zero(cfg->dataset_id) &&
            memcmp(s->dataset_id, cfg->dataset_id, WAL_DATASET_ID_SIZE) != 0) {
            wal_dataset_id_str(cfg->dataset_id, b, sizeof b);
            snprintf(r->err, r->errlen,
                     "copy %d (%s): %s/%s belongs to another data set: id %s, expected %s", i,
                     cfg->dirs[i], cfg->dirs[i], s->segs[s->id_seg].name, a, b);
            return KERR_CORRUPT;
        }
        if (first < 0) {
            first = i;
        } else if (memcmp(s->dataset_id, r->sc[first].dataset_id, WAL_DATASET_ID_SIZE) != 0) {
            const wal_dir_scan_t *f = &r->sc[first];
            wal_dataset_id_str(f->dataset_id, b, sizeof b);
            snprintf(r->err, r->errlen,
                     "copy %d (%s): %s/%s belongs to another data set (id %s) than copy %d "
                     "(%s/%s, id %s)",
                     i, cfg->dirs[i], cfg->dirs[i], s->segs[s->id_seg].name, a, first,
                     cfg->dirs[first], f->segs[f->id_seg].name, b);
            return KERR_CORRUPT;
        }
    }
    return 0;
}

/* Refuse records that are missing, or with accept_loss say so as a warning and go on. */
static int
missing(recovery_t *r, const char *what) {
    if (!r->cfg->accept_loss) {
        snprintf(r->err, r->errlen, "%s", what);
        return KERR_CORRUPT;
    }
    logf_(r->cfg, "WARNING: wal: %s; going on without them (accept_loss)", what);
    r->info->loss_accepted = 1;
    return 0;
}

/* Step 4: the records the caller needs are there: every LSN after after_lsn that the log
 * holds (it must start at after_lsn + 1 at the latest), and through cfg->expect_lsn_min. */
static int
check_needed(recovery_t *r, uint64_t after_lsn) {
    const wal_config_t *cfg = r->cfg;
    const wal_dir_scan_t *b = &r->sc[r->best];
    char what[WAL_PATH_MAX + 256];
    int rc = 0;
    if (b->nsegs && b->segs[0].first_lsn > after_lsn + 1 && b->last_lsn > after_lsn) {
        snprintf(what, sizeof what,
                 "copy %d (%s): the log starts at LSN %" PRIu64
                 " (%s) but the records after LSN %" PRIu64 " are needed",
                 r->best, cfg->dirs[r->best], b->segs[0].first_lsn, b->segs[0].name, after_lsn);
        rc = missing(r, what);
    }
    if (rc == 0 && cfg->expect_lsn_min > b->last_lsn) {
        snprintf(what, sizeof what,
                 "copy %d (%s): the log ends at LSN %" PRIu64 " but the records up to LSN %" PRIu64
                 " must exist (expect_lsn_min); the other copies hold no more",
                 r->best, cfg->dirs[r->best], b->last_lsn, cfg->expect_lsn_min);
        rc = missing(r, what);
    }
    return rc;
}

/* The first LSN of the newest segment whose header made it to disk (0: none). Of copies that
 * reach the same LSN, best is the one that got furthest creating segments: where a segment's
 * creation was torn on one copy but completed on another, the copy that has it is best and
 * the other gets it back, so a second recovery finds the copies as the first left them
 * (otherwise, once the torn one is cut, the other's is "unknown to the longest copy"). */
static uint64_t
newest_made(const wal_dir_scan_t *s) {
    int n = s->nsegs - (s->torn && s->torn_off == 0); /* a torn creation is the newest */
    return n > 0 ? s->segs[n - 1].first_lsn : 0;
}

/* Steps 1-5: everything that reads; nothing is modified before this returns 0. */
static int
verify_and_plan(recovery_t *r, uint64_t after_lsn) {
    const wal_config_t *cfg = r->cfg;
    char e[WAL_PATH_MAX + 256];
    wal_scan_opts_t verify = {0};
    for (int i = 0; i < cfg->ndirs; i++) {
        int rc = wal_scan_dir(cfg->dirs[i], &verify, &r->sc[i], e, sizeof e);
        if (rc) {
            snprintf(r->err, r->errlen, "copy %d (%s): %s", i, cfg->dirs[i], e);
            return rc;
        }
        const wal_dir_scan_t *b = &r->sc[r->best], *c = &r->sc[i];
        if (c->last_lsn > b->last_lsn ||
            (c->last_lsn == b->last_lsn && newest_made(c) > newest_made(b)))
            r->best = i;
    }
    int rc = check_ids(r);
    if (rc == 0)
        rc = check_needed(r, after_lsn);
    for (int i = 0; i < cfg->ndirs && rc == 0; i++)
        rc = i == r->best ? 0 : plan_copy(r, i);
    return rc;
}

/* What the verify pass found, for the caller. */
static void
fill_info(const recovery_t *r, wal_recover_info_t *info) {
    const wal_dir_scan_t *b = &r->sc[r->best];
    info->best_copy = r->best;
    info->format_version = b->version;
    info->first_lsn = b->first_lsn;
    info->last_lsn = b->last_lsn;
    for (int i = 0; i < r->cfg->ndirs; i++) {
        const wal_dir_scan_t *s = &r->sc[i];
        if (s->id_seg >= 0)
            memcpy(info->dataset_id, s->dataset_id, WAL_DATASET_ID_SIZE);
        if (s->epoch > info->epoch)
            info->epoch = s->epoch;
        if (s->sealed && s->seal_lsn == b->last_lsn) { /* a lagging copy's old seal: no */
            info->sealed = 1;
            info->seal_lsn = s->seal_lsn;
        }
        if (s->torn) {
            info->torn_copies++;
            info->torn_records += s->torn_records;
            info->torn_bytes += s->torn_bytes;
        }
    }
}

/* Step 7: replay best's records after after_lsn. */
static int
replay(recovery_t *r, uint64_t after_lsn, wal_apply_cb apply, void *ctx) {
    const wal_config_t *cfg = r->cfg;
    wal_scan_opts_t o = {
        .after_lsn = after_lsn, .cb = apply, .ctx = ctx, .log = cfg->log, .log_ctx = cfg->log_ctx};
    wal_dir_scan_t sc;
    char e[WAL_PATH_MAX + 256] = "";
    int rc = wal_scan_dir(cfg->dirs[r->best], &o, &sc, e, sizeof e);
    if (rc == KERR_CORRUPT) /* changed under us since the verify pass */
        snprintf(r->err, r->errlen, "copy %d (%s): %s", r->best, cfg->dirs[r->best], e);
    wal_dir_scan_free(&sc);
    if (rc == 0)
        logf_(cfg, "wal: replayed LSNs %" PRIu64 "..%" PRIu64 " from %s", after_lsn + 1,
              r->sc[r->best].last_lsn, cfg->dirs[r->best]);
    return rc;
}

int
wal_recover_ex(const wal_config_t *cfg_in, uint64_t after_lsn, wal_apply_cb apply, void *ctx,
               wal_recover_info_t *info, char *errbuf, size_t errlen) {
    wal_config_t cfg;
    char scratch[8];
    recovery_t r = {.cfg = &cfg,
                    .info = info,
                    .err = errbuf ? errbuf : scratch,
                    .errlen = errbuf ? errlen : sizeof scratch};
    memset(info, 0, sizeof *info);
    r.err[0] = 0;
    int rc = wal_config_norm(cfg_in, &cfg);
    if (rc) {
        snprintf(r.err, r.errlen, "wal: invalid configuration");
        return rc;
    }
    rc = verify_and_plan(&r, after_lsn);
    fill_info(&r, info);
    if (rc)
        goto done;
    for (int i = 0; i < cfg.ndirs && rc == 0; i++)
        if (r.sc[i].torn && (rc = cut_torn(&r, i)) != 0)
            snprintf(r.err, r.errlen, "copy %d (%s): cutting the torn tail: %s", i, cfg.dirs[i],
                     kerr_str(rc));
    for (int i = 0; i < cfg.ndirs && rc == 0; i++)
        if (i != r.best)
            rc = repair_copy(&r, i);
    if (rc == 0 && apply && info->last_lsn > after_lsn)
        rc = replay(&r, after_lsn, apply, ctx);
done:
    recovery_free(&r, cfg.ndirs);
    return rc;
}

int
wal_recover(const wal_config_t *cfg, uint64_t after_lsn, wal_apply_cb apply, void *ctx,
            uint64_t *last_lsn, char *errbuf, size_t errlen) {
    wal_recover_info_t info;
    int rc = wal_recover_ex(cfg, after_lsn, apply, ctx, &info, errbuf, errlen);
    *last_lsn = rc == 0 ? info.last_lsn : 0;
    return rc;
}
