/*
 * versions.c - format negotiation applied: announcements, refusals, and the snapshot file of a
 * full sync in the format the replica reads (see versions_int.h; the decisions in negotiate.c).
 *
 * The export a full sync may need (one at a time, like every snapshot child):
 *   none      -> running   a replica waits for format F and no file of a format it reads exists:
 *                          snapshot_export_start(F) (at most once a second per replica)
 *   running   -> ready     the child finished: the file is open (its name already removed)
 *             -> failed    the writer could not hold the keyspace in F (KERR_VERSION): every
 *                          replica waiting for F is refused, naming the format needed, and the
 *                          next PSYNC of such a replica is refused at once while nothing was written
 *             -> none      any other failure: a warning, tried again a second later
 *   ready     -> none      each waiting replica of F gets a dup() of the descriptor; the last one
 *                          closes it
 *   any       -> none      the last replica waiting for it went away (versions_forget)
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kerr.h"
#include "klog.h"
#include "kmem.h"
#include "negotiate.h"
#include "persist.h"
#include "repl.h"
#include "reply.h"
#include "snapshot_glue.h"
#include "util.h"
#include "versions_int.h"

enum { EXP_NONE, EXP_RUNNING, EXP_READY, EXP_FAILED };

typedef struct repl_versions {
    int exp_state; /* EXP_* */
    uint32_t exp_format;
    uint64_t exp_lsn;
    int exp_fd;                        /* EXP_READY */
    char exp_err[NEGOT_ERR_MAX + 256]; /* EXP_FAILED: the refusal */
    /* A failed export showed that the data set at need_lsn needs snapshot format need_format. */
    uint32_t need_format;
    uint64_t need_lsn;
    uint64_t refused; /* replicas refused since start */
    char last_refusal[NEGOT_ERR_MAX + 256];
} repl_versions_t;

static repl_versions_t *
ver(engine_t *s) {
    if (!s->repl->ver) {
        s->repl->ver = kcalloc(1, sizeof *s->repl->ver);
        s->repl->ver->exp_fd = -1;
    }
    return s->repl->ver;
}

void
versions_announce(char *rec, size_t reclen, char *snap, size_t snaplen) {
    const char *r = getenv("KEEL_DEBUG_REPL_ANNOUNCE_RECORDS");
    const char *n = getenv("KEEL_DEBUG_REPL_ANNOUNCE_SNAPSHOT");
    snprintf(rec, reclen, "%s", r && r[0] ? r : "");
    snprintf(snap, snaplen, "%s", n && n[0] ? n : "");
    if (!rec[0])
        snprintf(rec, reclen, "%d", REPL_RECORD_FORMAT);
    if (!snap[0])
        snprintf(snap, snaplen, "%d", SNAP_FORMAT_VERSION_MAX);
    if ((r && r[0]) || (n && n[0]))
        klog(KLOG_NOTICE, "Test hook: announcing log record format %s, snapshot format %s", rec,
             snap);
}

static bool
closing(const repl_replica_t *r) {
    return (r->c->conn.flags & (CONN_CLOSE_AFTER_REPLY | CONN_CLOSE_ASAP)) != 0;
}

/* The error to the replica, then the link closes; a warning here, counted for INFO. The text
 * stays one line without quotes: a replica past +FULLRESYNC reads it as an inline frame. */
static void
refuse(engine_t *s, repl_replica_t *r, const char *msg) {
    repl_versions_t *V = ver(s);
    char clean[sizeof V->last_refusal];
    snprintf(clean, sizeof clean, "%s", msg);
    for (char *p = clean; *p; p++)
        if (*p == '"' || *p == '\'' || *p == '\r' || *p == '\n')
            *p = ' ';
    reply_err(r->c, clean);
    r->c->conn.flags |= CONN_CLOSE_AFTER_REPLY;
    klog(KLOG_WARNING, "Replica %s: %s", r->c->conn.addr,
         !strncmp(clean, "ERR ", 4) ? clean + 4 : clean);
    V->refused++;
    snprintf(V->last_refusal, sizeof V->last_refusal, "%s", clean);
}

static negot_replica_t
announced(const repl_replica_t *r) {
    return (negot_replica_t){.version = r->ann.version,
                             .records_known = r->ann.records_set,
                             .snapshot_known = r->ann.snapshot_set,
                             .records = r->ann.records_max,
                             .snapshot = r->ann.snapshot_max};
}

static negot_primary_t
offered(engine_t *s) {
    repl_versions_t *V = ver(s);
    return (negot_primary_t){
        .record_min = REPL_RECORD_FORMAT,
        .record_max = REPL_RECORD_FORMAT, /* records go as they are on disk: no conversion */
        .snap_min = SNAP_FORMAT_VERSION_MIN,
        .snap_max = SNAP_FORMAT_VERSION_MAX,
        /* Every key type fits format 1 (the writer down-converts), unless an export said
         * otherwise and nothing was written since. */
        .data_snap_min = V->need_format && V->need_lsn == s->last_lsn_assigned ? V->need_format : 0,
    };
}

bool
versions_records(engine_t *s, repl_replica_t *r) {
    negot_primary_t p = offered(s);
    negot_replica_t a = announced(r);
    char err[NEGOT_ERR_MAX];
    if (negot_records(&p, &a, &r->rec_format, err, sizeof err) < 0) {
        refuse(s, r, err);
        return false;
    }
    return true;
}

bool
versions_full_sync(engine_t *s, repl_replica_t *r) {
    negot_primary_t p = offered(s);
    negot_replica_t a = announced(r);
    char err[NEGOT_ERR_MAX];
    r->snap_export = false;
    if (negot_snapshot(&p, &a, &r->snap_format, err, sizeof err) < 0) {
        refuse(s, r, err);
        return false;
    }
    if (r->snap_format < SNAP_FORMAT_VERSION_MAX)
        klog(KLOG_NOTICE,
             "Replica %s reads snapshot format %u at most%s: its full sync is in format %u",
             r->c->conn.addr, a.snapshot_known ? a.snapshot : 1,
             a.snapshot_known ? "" : " (announced none)", r->snap_format);
    return true;
}

/* The newest snapshot file, if its LSN is at least min_lsn (an empty data set's is LSN 0). */
static bool
newest_snapshot(engine_t *s, uint64_t min_lsn, char *path, size_t len, uint64_t *lsn) {
    snapshot_file_t *f;
    size_t n = 0;
    bool found = false;
    if (snapshot_list(s->cfg.dir, &f, &n) == 0 && n > 0 && f[n - 1].lsn >= min_lsn) {
        *lsn = f[n - 1].lsn;
        snprintf(path, len, "%s", f[n - 1].path);
        found = true;
    }
    if (n)
        kfree(f);
    return found;
}

/* Another replica than r waits for the export of format fmt. */
static bool
others_wait(engine_t *s, const repl_replica_t *r, uint32_t fmt) {
    for (repl_replica_t *o = s->repl->replicas; o; o = o->next)
        if (o != r && o->state == RR_WAIT_SNAPSHOT && o->snap_export && o->snap_format == fmt &&
            !closing(o))
            return true;
    return false;
}

/* The export is done with when nobody but r (leaving, or served) waits for it. */
static void
drop_export_unless_wanted(engine_t *s, const repl_replica_t *r) {
    repl_versions_t *V = ver(s);
    if (V->exp_state == EXP_NONE || others_wait(s, r, V->exp_format))
        return;
    if (V->exp_state == EXP_RUNNING)
        snapshot_export_cancel(s);
    if (V->exp_fd >= 0)
        close(V->exp_fd);
    V->exp_fd = -1;
    V->exp_state = EXP_NONE;
}

/* RR_WAIT_SNAPSHOT with no file r reads: the export of r->snap_format (see the top). */
static int
from_export(engine_t *s, repl_replica_t *r, int *fd, uint64_t *lsn) {
    repl_versions_t *V = ver(s);
    uint32_t fmt = r->snap_format;
    char err[256] = "";
    if (V->exp_state == EXP_NONE) {
        int64_t now = util_time_ms();
        if (snapshot_in_progress(s) || now - r->bgsave_ms < 1000)
            return 0; /* one snapshot child at a time; a failing one must not fork every turn */
        r->bgsave_ms = now;
        if (snapshot_export_start(s, fmt, &V->exp_lsn, err, sizeof err) < 0) {
            klog(KLOG_WARNING, "Full sync of replica %s: can't start an export in format %u: %s",
                 r->c->conn.addr, fmt, err);
            return 0;
        }
        V->exp_state = EXP_RUNNING;
        V->exp_format = fmt;
        klog(KLOG_NOTICE,
             "Full sync of replica %s: writing the keyspace at LSN %" PRIu64
             " in snapshot format %u, the newest it reads",
             r->c->conn.addr, V->exp_lsn, fmt);
        return 0;
    }
    if (V->exp_format != fmt)
        return 0; /* another format's export runs: this one comes after it */
    if (V->exp_state == EXP_RUNNING) {
        int efd = -1;
        int rc = snapshot_export_poll(s, &efd, err, sizeof err);
        if (rc == 1)
            return 0;
        if (rc == 0) {
            V->exp_state = EXP_READY;
            V->exp_fd = efd;
        } else if (rc == KERR_VERSION) {
            /* The writer's word: the keyspace does not fit format fmt. */
            negot_primary_t p = offered(s);
            negot_replica_t a = announced(r);
            p.data_snap_min = fmt + 1;
            uint32_t unused;
            char msg[NEGOT_ERR_MAX];
            negot_snapshot(&p, &a, &unused, msg, sizeof msg);
            snprintf(V->exp_err, sizeof V->exp_err, "%s (the snapshot writer: %.200s)", msg, err);
            V->exp_state = EXP_FAILED;
            V->need_format = fmt + 1;
            V->need_lsn = V->exp_lsn;
        } else {
            klog(KLOG_WARNING, "Full sync of replica %s: the export in format %u failed: %s",
                 r->c->conn.addr, fmt, err);
            V->exp_state = EXP_NONE; /* tried again a second after the last start */
            return 0;
        }
    }
    if (V->exp_state == EXP_FAILED) {
        refuse(s, r, V->exp_err);
        drop_export_unless_wanted(s, r);
        return -1;
    }
    /* EXP_READY */
    if (V->exp_lsn < r->snap_min_lsn) { /* the log no longer holds what follows it */
        drop_export_unless_wanted(s, r);
        return 0;
    }
    *fd = fcntl(V->exp_fd, F_DUPFD_CLOEXEC, 0);
    if (*fd < 0) {
        klog(KLOG_WARNING, "Full sync of replica %s: dup: %s", r->c->conn.addr, strerror(errno));
        client_close_async(r->c);
        return -1;
    }
    *lsn = V->exp_lsn;
    klog(KLOG_NOTICE, "Full sync of replica %s: the export in snapshot format %u", r->c->conn.addr,
         fmt);
    drop_export_unless_wanted(s, r);
    return 1;
}

int
versions_snapshot_fd(engine_t *s, repl_replica_t *r, int *fd, uint64_t *lsn) {
    if (closing(r))
        return -1;
    char path[SNAPSHOT_PATH_MAX], err[256] = "";
    uint32_t fmt = r->snap_format;
    if (!r->snap_export && newest_snapshot(s, r->snap_min_lsn, path, sizeof path, lsn)) {
        snap_peek_t pk;
        if (snap_peek(path, &pk, err, sizeof err) < 0) {
            char msg[512];
            snprintf(msg, sizeof msg, "ERR full sync failed: the primary's snapshot: %s", err);
            refuse(s, r, msg);
            return -1;
        }
        if (negot_file_fits(fmt, pk.version, pk.min_reader)) {
            *fd = open(path, O_RDONLY | O_CLOEXEC);
            if (*fd < 0) {
                client_close_async(r->c);
                return -1;
            }
            r->snap_format = pk.version; /* what it gets, for INFO (it waits no more) */
            return 1;
        }
    }
    uint32_t own = s->cfg.snapshot_format_version ? (uint32_t)s->cfg.snapshot_format_version
                                                  : SNAP_FORMAT_VERSION_MAX;
    if (!r->snap_export && own <= fmt) {
        /* This node's next snapshot will do. One attempt a second at most: a failing BGSAVE
         * must not become a fork storm. */
        int64_t now = util_time_ms();
        if (!snapshot_in_progress(s) && now - r->bgsave_ms >= 1000) {
            r->bgsave_ms = now;
            if (snapshot_bgsave(s, err, sizeof err) < 0)
                klog(KLOG_WARNING, "Full sync of replica %s: can't start a snapshot: %s",
                     r->c->conn.addr, err);
        }
        return 0;
    }
    r->snap_export = true; /* from now on it waits for an export, not for a snapshot */
    return from_export(s, r, fd, lsn);
}

void
versions_forget(engine_t *s, repl_replica_t *r) {
    if (s->repl->ver && r->state == RR_WAIT_SNAPSHOT && r->snap_export &&
        r->snap_format == s->repl->ver->exp_format)
        drop_export_unless_wanted(s, r);
}

void
versions_info(engine_t *s, sbuf_t *b) {
    repl_versions_t *V = s->repl->ver;
    sbuf_printf(b, "keel_replicas_refused:%" PRIu64 "\r\nkeel_replica_last_refusal:%s\r\n",
                V ? V->refused : 0, V ? V->last_refusal : "");
}

void
versions_info_slave(const repl_replica_t *r, sbuf_t *b) {
    sbuf_printf(b, ",keel_record_format_sent=%u,keel_sync_snapshot_format=%u", r->rec_format,
                r->snap_format);
}
