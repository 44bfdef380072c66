/*
 * replica.c - the replica's side of replication: the link to the primary (a conn of its own,
 * with its own callbacks), the handshake, receiving a snapshot, and applying the record stream.
 *
 * Link states (repl_link_t.state), and what moves them:
 *   RL_CONNECTING    conn_connect issued               connected: handshake sent -> RL_HANDSHAKE
 *   RL_HANDSHAKE     replies to AUTH/REPLCONF/PSYNC    +CONTINUE -> RL_STREAM,
 *                                                      +FULLRESYNC -> RL_WAIT_SNAPSHOT
 *   RL_WAIT_SNAPSHOT the primary prepares a snapshot   SNAPSHOT -> RL_SNAPSHOT
 *   RL_SNAPSHOT      CHUNKs into a .tmp file           SNAPEND: adopted (persist) -> RL_STREAM
 *   RL_STREAM        RECORDs: logged, applied, acked   the link closes: reconnect after 1 s
 * Replies to the handshake arrive as RESP lines ("+OK", "-ERR ..."): the link's conn is in line
 * mode (CONN_LINES) until the reply to PSYNC, then parses RESP frames.
 *
 * Invariant: every record applied is first in this replica's log under the primary's LSN (the
 * LSNs are the same on both sides, so a promoted replica continues the sequence).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "idfile.h"
#include "kerr.h"
#include "klog.h"
#include "kmem.h"
#include "persist.h"
#include "repl.h"
#include "repl_int.h"
#include "snapshot_glue.h"
#include "util.h"

static void link_command_cb(conn_t *conn, int argc, karg_t *argv);
static void link_close_cb(conn_t *conn);

static const net_callbacks_t link_callbacks = {NULL, link_command_cb, link_close_cb, NULL};

/* A RESP array of C strings onto the link's output. */
static void
link_send(repl_link_t *l, int argc, const char *const *argv) {
    char hdr[32];
    int n = snprintf(hdr, sizeof hdr, "*%d\r\n", argc);
    memcpy(conn_out_reserve(&l->conn, (size_t)n), hdr, (size_t)n);
    conn_out_commit(&l->conn, (size_t)n);
    for (int i = 0; i < argc; i++) {
        size_t len = strlen(argv[i]);
        n = snprintf(hdr, sizeof hdr, "$%zu\r\n", len);
        char *d = conn_out_reserve(&l->conn, (size_t)n + len + 2);
        memcpy(d, hdr, (size_t)n);
        memcpy(d + n, argv[i], len);
        memcpy(d + n + len, "\r\n", 2);
        conn_out_commit(&l->conn, (size_t)n + len + 2);
    }
}

uint64_t
replica_applied_lsn(const engine_t *s) {
    return s->last_lsn_assigned;
}

static uint64_t
own_durable_lsn(const engine_t *s) {
    return s->wal ? wal_durable_lsn(s->wal) : s->last_lsn_assigned;
}

static void
send_ack(repl_link_t *l, int64_t now) {
    char lsn[24];
    snprintf(lsn, sizeof lsn, "%" PRIu64, own_durable_lsn(l->s));
    const char *argv[] = {"REPLCONF", "ACK", lsn};
    link_send(l, 3, argv);
    l->acked_lsn = own_durable_lsn(l->s);
    l->acked_ms = now;
}

static void
send_handshake(repl_link_t *l) {
    engine_t *s = l->s;
    char port[16], next[24], id[37];
    l->replies_pending = 0;
    if (s->cfg.masterauth && s->cfg.masterauth[0]) {
        const char *a[] = {"AUTH",
                           s->cfg.masteruser && s->cfg.masteruser[0] ? s->cfg.masteruser
                                                                     : "default",
                           s->cfg.masterauth};
        link_send(l, 3, a);
        l->replies_pending++;
    }
    /* replica-announce-port/-ip: how the primary (and Sentinel, from its INFO) reach this node */
    snprintf(port, sizeof port, "%lld",
             s->cfg.replica_announce_port ? s->cfg.replica_announce_port : s->port_bound);
    const char *lp[] = {"REPLCONF", "listening-port", port};
    link_send(l, 3, lp);
    if (s->cfg.replica_announce_ip && s->cfg.replica_announce_ip[0]) {
        const char *ip[] = {"REPLCONF", "ip-address", s->cfg.replica_announce_ip};
        link_send(l, 3, ip);
        l->replies_pending++;
    }
    char rec[8], snap[8];
    snprintf(rec, sizeof rec, "%d", REPL_RECORD_FORMAT);
    snprintf(snap, sizeof snap, "%d", SNAP_FORMAT_VERSION_MAX);
    const char *ver[] = {"REPLCONF", "keel-version", KEEL_VERSION, "records",
                         rec,        "snapshot",     snap};
    link_send(l, 7, ver);
    l->replies_pending += 2;
    const uint8_t *raw = persist_dataset_id(s);
    if (snap_id_is_zero(raw))
        snprintf(id, sizeof id, "?");
    else
        wal_dataset_id_str(raw, id, sizeof id);
    snprintf(next, sizeof next, "%" PRIu64, s->last_lsn_assigned + 1);
    const char *ps[] = {"PSYNC", id, next};
    link_send(l, 3, ps);
    l->replies_pending++;
    l->state = RL_HANDSHAKE;
    l->conn.flags |= CONN_LINES;
}

static void
link_connected_cb(conn_t *conn, int err) {
    repl_link_t *l = (repl_link_t *)conn;
    engine_t *s = l->s;
    if (err < 0) {
        snprintf(s->repl->last_error, sizeof s->repl->last_error, "connecting to %s:%d: %s",
                 s->repl->host, s->repl->port, strerror(-err));
        conn_release(&l->conn);
        kfree(l);
        s->repl->link = NULL;
        s->repl->next_connect_ms = util_time_ms() + REPL_RECONNECT_MS;
        return;
    }
    l->last_io_ms = util_time_ms();
    klog(KLOG_NOTICE, "Connected to the primary %s:%d; asking for LSN %" PRIu64, s->repl->host,
         s->repl->port, s->last_lsn_assigned + 1);
    send_handshake(l);
}

static void
replica_connect(engine_t *s) {
    repl_link_t *l = kcalloc(1, sizeof *l);
    l->s = s;
    l->snap_fd = -1;
    l->state = RL_CONNECTING;
    l->last_io_ms = util_time_ms(); /* a connect that hangs is dropped after repl-timeout too */
    int rc = conn_connect(&l->conn, s->net, s->repl->host, s->repl->port, &link_callbacks,
                          link_connected_cb);
    if (rc < 0) {
        snprintf(s->repl->last_error, sizeof s->repl->last_error, "connecting to %s:%d: %s",
                 s->repl->host, s->repl->port, strerror(-rc));
        kfree(l);
        s->repl->next_connect_ms = util_time_ms() + REPL_RECONNECT_MS;
        return;
    }
    s->repl->link = l;
}

/* Frees the link's apply state and files; the conn is released by the caller. */
static void
link_cleanup(repl_link_t *l) {
    if (l->rc_active) {
        client_free(l->rc.fake); /* not replay_end: the engine's counters stay */
        kfree(l->rc.args);
        l->rc_active = false;
    }
    if (l->snap_fd >= 0) {
        close(l->snap_fd);
        unlink(l->snap_tmp);
        l->snap_fd = -1;
    }
}

static void
link_close_cb(conn_t *conn) {
    repl_link_t *l = (repl_link_t *)conn;
    engine_t *s = l->s;
    link_cleanup(l);
    conn_release(&l->conn);
    if (s->repl->link == l) {
        s->repl->link = NULL;
        s->repl->link_down_since_ms = util_time_ms();
        s->repl->next_connect_ms = util_time_ms() + REPL_RECONNECT_MS;
        klog(KLOG_WARNING, "The link to the primary %s:%d closed%s%s", s->repl->host, s->repl->port,
             s->repl->last_error[0] ? ": " : "", s->repl->last_error);
    }
    kfree(l);
}

void
replica_drop_link(engine_t *s, const char *why) {
    repl_link_t *l = s->repl->link;
    if (!l)
        return;
    if (why)
        snprintf(s->repl->last_error, sizeof s->repl->last_error, "%s", why);
    if (l->state == RL_CONNECTING) { /* not registered for reads yet: release at once */
        s->repl->link = NULL;
        conn_release(&l->conn);
        kfree(l);
        return;
    }
    conn_close_async(&l->conn);
}

static void
start_stream(repl_link_t *l) {
    replay_begin(&l->rc, l->s, l->rerr, sizeof l->rerr); /* expiry off: the primary's DELs rule */
    l->rc_active = true;
    l->state = RL_STREAM;
    l->s->repl->link_down_since_ms = 0;
    l->s->repl->last_error[0] = 0;
    send_ack(l, util_time_ms());
}

/* A reply line of the handshake (argv[0] is the whole line). */
static void
handshake_reply(repl_link_t *l, const karg_t *line) {
    engine_t *s = l->s;
    char text[512];
    snprintf(text, sizeof text, "%.*s", (int)(line->n < 511 ? line->n : 511), line->p);
    if (text[0] == '-' || !text[0]) {
        snprintf(s->repl->last_error, sizeof s->repl->last_error, "the primary refused: %s",
                 text + (text[0] == '-'));
        klog(KLOG_WARNING, "Replication: %s", s->repl->last_error);
        conn_close_async(&l->conn);
        s->repl->next_connect_ms = util_time_ms() + 5 * REPL_RECONNECT_MS;
        return;
    }
    if (--l->replies_pending > 0)
        return;
    l->conn.flags &= ~CONN_LINES; /* frames from here on */
    if (!strncmp(text, "+CONTINUE", 9)) {
        klog(KLOG_NOTICE, "Partial resync from the primary: streaming from LSN %" PRIu64,
             s->last_lsn_assigned + 1);
        start_stream(l);
    } else if (!strncmp(text, "+FULLRESYNC", 11)) {
        klog(KLOG_NOTICE, "Full sync from the primary: waiting for its snapshot");
        l->state = RL_WAIT_SNAPSHOT;
    } else {
        snprintf(s->repl->last_error, sizeof s->repl->last_error, "unexpected reply to PSYNC: %s",
                 text);
        conn_close_async(&l->conn);
    }
}

static bool
arg_u64(const karg_t *a, uint64_t *out) {
    unsigned long long v;
    if (!util_parse_ull(a->p, a->n, &v))
        return false;
    *out = v;
    return true;
}

static int
snapshot_begin(repl_link_t *l, int argc, karg_t *argv) {
    engine_t *s = l->s;
    if (argc != 4 || !arg_u64(&argv[1], &l->snap_lsn) || !arg_u64(&argv[2], &l->snap_size))
        return KERR_INVAL;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/" SNAPSHOT_SUBDIR, s->cfg.dir);
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return KERR_SYS(errno);
    /* Not *.tmp: the snapshot readers refuse that name (an unfinished write of this node). */
    snprintf(l->snap_tmp, sizeof l->snap_tmp, "%s/replica-sync.part", dir);
    l->snap_fd = open(l->snap_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (l->snap_fd < 0)
        return KERR_SYS(errno);
    l->snap_got = 0;
    l->state = RL_SNAPSHOT;
    return 0;
}

static int
snapshot_chunk(repl_link_t *l, const karg_t *data) {
    if (l->snap_got + data->n > l->snap_size)
        return KERR_INVAL;
    size_t off = 0;
    while (off < data->n) {
        ssize_t w = write(l->snap_fd, data->p + off, data->n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return KERR_SYS(errno);
        off += (size_t)w;
    }
    l->snap_got += data->n;
    return 0;
}

static int
snapshot_end(repl_link_t *l) {
    engine_t *s = l->s;
    if (l->snap_got != l->snap_size || fsync(l->snap_fd) < 0)
        return KERR_CORRUPT;
    close(l->snap_fd);
    l->snap_fd = -1;
    char err[512] = "";
    int rc = persist_adopt_snapshot(s, l->snap_tmp, err, sizeof err);
    if (rc < 0) {
        snprintf(s->repl->last_error, sizeof s->repl->last_error,
                 "loading the primary's "
                 "snapshot: %s",
                 err);
        unlink(l->snap_tmp);
        return rc;
    }
    start_stream(l);
    return 0;
}

/* RECORD <record bytes>: verified (CRC, lengths), into this replica's log under the same LSN,
 * then applied. */
static int
apply_record(repl_link_t *l, int argc, karg_t *argv) {
    engine_t *s = l->s;
    wal_record_t rec;
    char err[256] = "";
    int n = argc == 2 ? wal_record_decode(argv[1].p, argv[1].n, &rec, err, sizeof err) : KERR_INVAL;
    if (n < 0 || (size_t)n != argv[1].n) {
        snprintf(s->repl->last_error, sizeof s->repl->last_error,
                 "a record arrived damaged after LSN %" PRIu64 ": %s", s->last_lsn_assigned,
                 err[0] ? err : "bad frame");
        return n < 0 ? n : KERR_CORRUPT;
    }
    int64_t got = persist_append_replicated(s, rec.lsn, rec.ts_ms, rec.db, rec.payload, rec.len);
    if (got < 0) {
        snprintf(s->repl->last_error, sizeof s->repl->last_error,
                 "record LSN %" PRIu64 " does not follow LSN %" PRIu64 " or the log refused it: %s",
                 rec.lsn, s->last_lsn_assigned, kerr_str((int)got));
        return (int)got;
    }
    s->loading = true; /* applied from the log: no reply tags, no effects logged again */
    int rc = replay_apply_cb(&l->rc, &rec);
    s->loading = false;
    if (rc < 0)
        snprintf(s->repl->last_error, sizeof s->repl->last_error, "applying: %s", l->rerr);
    return rc;
}

static void
link_command_cb(conn_t *conn, int argc, karg_t *argv) {
    repl_link_t *l = (repl_link_t *)conn;
    engine_t *s = l->s;
    l->last_io_ms = util_time_ms();
    if (argc < 1)
        return;
    int rc = 0;
    if (l->state == RL_HANDSHAKE) {
        handshake_reply(l, &argv[0]);
        return;
    }
    if (util_eq_nocase(argv[0].p, argv[0].n, "PING"))
        return;
    if (l->state == RL_STREAM && util_eq_nocase(argv[0].p, argv[0].n, "RECORD"))
        rc = apply_record(l, argc, argv);
    else if (l->state == RL_WAIT_SNAPSHOT && util_eq_nocase(argv[0].p, argv[0].n, "SNAPSHOT"))
        rc = snapshot_begin(l, argc, argv);
    else if (l->state == RL_SNAPSHOT && util_eq_nocase(argv[0].p, argv[0].n, "CHUNK") && argc == 2)
        rc = snapshot_chunk(l, &argv[1]);
    else if (l->state == RL_SNAPSHOT && util_eq_nocase(argv[0].p, argv[0].n, "SNAPEND"))
        rc = snapshot_end(l);
    else if (argv[0].p[0] == '-') {
        snprintf(s->repl->last_error, sizeof s->repl->last_error, "the primary: %.*s",
                 (int)(argv[0].n > 200 ? 200 : argv[0].n), argv[0].p);
        rc = KERR_FAILED;
    } else {
        snprintf(s->repl->last_error, sizeof s->repl->last_error,
                 "unexpected '%.*s' from the primary in state %d", (int)argv[0].n, argv[0].p,
                 l->state);
        rc = KERR_INVAL;
    }
    if (rc < 0) {
        klog(KLOG_WARNING, "Replication stopped: %s", s->repl->last_error);
        conn_close_async(&l->conn);
    }
}

void
replica_tick(engine_t *s, int64_t now) {
    repl_link_t *l = s->repl->link;
    if (!s->repl->host[0])
        return;
    if (!l) {
        if (now >= s->repl->next_connect_ms)
            replica_connect(s);
        return;
    }
    if (now - l->last_io_ms > s->cfg.repl_timeout_s * 1000) {
        replica_drop_link(s, "no data from the primary within repl-timeout");
        return;
    }
    if (l->state == RL_STREAM &&
        (own_durable_lsn(s) != l->acked_lsn || now - l->acked_ms >= REPL_ACK_PERIOD_MS))
        send_ack(l, now);
}
