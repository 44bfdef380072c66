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
#include "versions_int.h"

static void link_command_cb(conn_t *conn, int argc, karg_t *argv);
static void link_close_cb(conn_t *conn);
static int replay_spill(repl_link_t *l);

static const net_callbacks_t link_callbacks = {.command_cb = link_command_cb,
                                               .close_cb = link_close_cb};

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
    return s->repl->pend_head < s->repl->pend_len ? s->repl->applied_lsn : s->last_lsn_assigned;
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

/* AUTH first when masterauth is set; the replies expected start over. */
static void
send_auth(repl_link_t *l) {
    engine_t *s = l->s;
    l->replies_pending = 0;
    if (s->cfg.masterauth && s->cfg.masterauth[0]) {
        const char *a[] = {"AUTH",
                           s->cfg.masteruser && s->cfg.masteruser[0] ? s->cfg.masteruser
                                                                     : "default",
                           s->cfg.masterauth};
        link_send(l, 3, a);
        l->replies_pending++;
    }
}

static void
send_handshake(repl_link_t *l) {
    engine_t *s = l->s;
    char port[16], next[24], id[37];
    send_auth(l);
    /* replica-announce-port/-ip: how the primary (and Sentinel, from its INFO) reach this node;
     * over TLS, its TLS port (as Valkey) */
    long long own = s->cfg.tls.replication && s->tls_port_bound ? s->tls_port_bound : s->port_bound;
    snprintf(port, sizeof port, "%lld",
             s->cfg.replica_announce_port ? s->cfg.replica_announce_port : own);
    const char *lp[] = {"REPLCONF", "listening-port", port};
    link_send(l, 3, lp);
    if (s->cfg.replica_announce_ip && s->cfg.replica_announce_ip[0]) {
        const char *ip[] = {"REPLCONF", "ip-address", s->cfg.replica_announce_ip};
        link_send(l, 3, ip);
        l->replies_pending++;
    }
    char rec[16], snap[16];
    versions_announce(rec, sizeof rec, snap, sizeof snap);
    /* durability: a replica that runs with durability off never counts in a write quorum (its
     * ACKs would prove nothing); builds before 0.2.0 ignore the pair. */
    const char *dur = s->cfg.durability == DURABILITY_SYNC    ? "sync"
                      : s->cfg.durability == DURABILITY_ASYNC ? "async"
                                                              : "off";
    /* channels 2: a full sync's snapshot may come on a second connection (SNAPCHANNEL) */
    const char *ver[] = {"REPLCONF", "keel-version", KEEL_VERSION, "records",  rec, "snapshot",
                         snap,       "durability",   dur,          "channels", "2"};
    link_send(l, 11, ver);
    l->replies_pending += 2;
    const uint8_t *raw = persist_dataset_id(s);
    if (snap_id_is_zero(raw))
        snprintf(id, sizeof id, "?");
    else
        wal_dataset_id_str(raw, id, sizeof id);
    snprintf(next, sizeof next, "%" PRIu64, s->last_lsn_assigned + 1);
    /* The epoch of the last record: the primary checks its history holds it up to that LSN.
     * (Builds before 0.2.0 take a third argument and ignore it.) */
    char epoch[24];
    snprintf(epoch, sizeof epoch, "%" PRIu64, persist_epoch_of(s, s->last_lsn_assigned, NULL));
    const char *ps[] = {"PSYNC", id, next, epoch};
    link_send(l, 4, ps);
    l->replies_pending++;
    l->state = RL_HANDSHAKE;
    l->conn.flags |= CONN_LINES;
}

/* Why connecting failed: the TLS handshake's reason when there is one (a certificate the CA
 * does not vouch for), else the socket's. */
static const char *
link_error(const conn_t *conn, int err) {
    return conn->tls && conn->tls->err[0] ? conn->tls->err : strerror(-err);
}

static void
link_connected_cb(conn_t *conn, int err) {
    repl_link_t *l = (repl_link_t *)conn;
    engine_t *s = l->s;
    if (err < 0) {
        snprintf(s->repl->last_error, sizeof s->repl->last_error, "connecting to %s:%d: %s",
                 s->repl->host, s->repl->port, link_error(conn, err));
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
    int rc = conn_connect(&l->conn, s->net, s->repl->host, s->repl->port, s->cfg.tls.replication,
                          &link_callbacks, link_connected_cb);
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
    if (l->spill) {
        fclose(l->spill);
        unlink(l->spill_path);
        l->spill = NULL;
    }
    if (l->chan) { /* a main link's end ends its channel */
        l->chan->main = NULL;
        conn_close_async(&l->chan->conn);
        l->chan = NULL;
    }
    if (l->main) { /* a channel that ends before its snapshot was loaded ends the sync */
        repl_link_t *m = l->main;
        m->chan = NULL;
        l->main = NULL;
        if (m->state == RL_SPILL) {
            if (!l->s->repl->last_error[0])
                snprintf(l->s->repl->last_error, sizeof l->s->repl->last_error,
                         "the snapshot channel closed before the snapshot was complete");
            conn_close_async(&m->conn);
        }
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
        int64_t soon = util_time_ms() + REPL_RECONNECT_MS;
        if (s->repl->next_connect_ms < soon) /* a refusal set a later one */
            s->repl->next_connect_ms = soon;
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

/* ---- records logged, not yet applied (the primary has not committed them) ---- */

static void
pend_push(repl_state_t *R, const void *rec, size_t len) {
    if (R->pend_head && R->pend_head == R->pend_len)
        R->pend_head = R->pend_len = 0;
    if (R->pend_len + 4 + len > R->pend_cap) {
        if (R->pend_head) { /* compact first */
            memmove(R->pend, R->pend + R->pend_head, R->pend_len - R->pend_head);
            R->pend_len -= R->pend_head;
            R->pend_head = 0;
        }
        size_t cap = R->pend_cap ? R->pend_cap : 1 << 16;
        while (cap < R->pend_len + 4 + len)
            cap *= 2;
        if (cap != R->pend_cap) {
            R->pend = krealloc(R->pend, cap);
            R->pend_cap = cap;
        }
    }
    uint32_t n = (uint32_t)len;
    memcpy(R->pend + R->pend_len, &n, 4);
    memcpy(R->pend + R->pend_len + 4, rec, len);
    R->pend_len += 4 + len;
}

static void
replica_pending_clear(engine_t *s) {
    s->repl->pend_head = s->repl->pend_len = 0;
}

static int
apply_one(engine_t *s, replay_ctx_t *rc, const wal_record_t *rec) {
    /* Applied from the log: no reply tags, and no effects logged again. The effect sink is
     * detached, not only idle: a promotion applies the pending records inside the REPLICAOF
     * command's (or Sentinel's EXEC's) effect scope, which would log them a second time. */
    prop_sink_fn sink = s->prop.sink;
    void *ctx = s->prop.ctx;
    prop_set_sink(&s->prop, NULL, NULL);
    s->loading = true;
    int r = replay_apply_cb(rc, rec);
    s->loading = false;
    prop_set_sink(&s->prop, sink, ctx);
    if (r == 0)
        s->repl->applied_lsn = rec->lsn;
    return r;
}

int
replica_apply_pending(engine_t *s, uint64_t upto) {
    repl_state_t *R = s->repl;
    repl_link_t *l = R->link && R->link->rc_active ? R->link : NULL;
    replay_ctx_t tmp, *rc = l ? &l->rc : &tmp;
    char err[512] = "";
    bool began = false;
    int rc_out = 0;
    while (R->pend_head < R->pend_len) {
        uint32_t n;
        memcpy(&n, R->pend + R->pend_head, 4);
        wal_record_t rec;
        if (wal_record_decode(R->pend + R->pend_head + 4, n, &rec, err, sizeof err) < 0) {
            rc_out = KERR_CORRUPT; /* checked when it arrived: memory went bad */
            break;
        }
        if (rec.lsn > upto)
            break;
        if (!l && !began) {
            replay_begin(&tmp, s, err, sizeof err);
            began = true;
        }
        if ((rc_out = apply_one(s, rc, &rec)) < 0) {
            snprintf(s->repl->last_error, sizeof s->repl->last_error, "applying: %s",
                     l ? l->rerr : err);
            break;
        }
        R->pend_head += 4 + n;
    }
    if (began) {
        client_free(tmp.fake); /* not replay_end: the engine's counters stay */
        kfree(tmp.args);
    }
    if (R->pend_head == R->pend_len)
        R->pend_head = R->pend_len = 0;
    return rc_out;
}

static void
start_stream(repl_link_t *l) {
    replay_begin(&l->rc, l->s, l->rerr, sizeof l->rerr); /* expiry off: the primary's DELs rule */
    l->rc_active = true;
    l->state = RL_STREAM;
    l->s->repl->r_commit_aware = false; /* until this primary's first COMMIT frame */
    l->s->repl->r_commit = 0;
    if (l->s->repl->pend_head == l->s->repl->pend_len)
        l->s->repl->applied_lsn = l->s->last_lsn_assigned;
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
        s->repl->r_in_set = s->repl->r_streamed = false; /* not promotable until it streams */
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
    snprintf(l->snap_id, sizeof l->snap_id, "%.*s", (int)(argv[3].n < 39 ? argv[3].n : 39),
             argv[3].p);
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
    replica_pending_clear(s); /* the history given up, applied or not */
    s->repl->r_in_set = false;
    int rc = persist_adopt_snapshot(s, l->snap_tmp, l->snap_id, err, sizeof err);
    if (rc < 0) {
        snprintf(s->repl->last_error, sizeof s->repl->last_error,
                 "loading the primary's "
                 "snapshot: %s",
                 err);
        unlink(l->snap_tmp);
        return rc;
    }
    if (!l->is_channel) {
        start_stream(l);
        return 0;
    }
    repl_link_t *m = l->main; /* the records that arrived meanwhile, then the live stream */
    start_stream(m);
    rc = replay_spill(m);
    m->chan = NULL;
    l->main = NULL;
    conn_close_async(&l->conn);
    if (rc < 0)
        conn_close_async(&m->conn);
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
    repl_state_t *R = s->repl;
    R->r_streamed = true; /* (a primary of 0.2.0 said whether this replica is in its set first) */
    if (R->r_commit_aware && (rec.lsn > R->r_commit || R->pend_head < R->pend_len)) {
        pend_push(R, argv[1].p, argv[1].n); /* applied once the primary commits it */
        return 0;
    }
    int rc = R->pend_head < R->pend_len ? replica_apply_pending(s, UINT64_MAX) : 0;
    if (rc == 0 && (rc = apply_one(s, &l->rc, &rec)) < 0)
        snprintf(s->repl->last_error, sizeof s->repl->last_error, "applying: %s", l->rerr);
    return rc;
}

/* COMMIT <LSN> <in set 0|1>: the primary committed every record through LSN (this replica may
 * serve them), and whether this replica is in its write quorum's set (promotable). */
static int
commit_frame(repl_link_t *l, int argc, karg_t *argv) {
    repl_state_t *R = l->s->repl;
    uint64_t c;
    if (argc != 3 || !arg_u64(&argv[1], &c))
        return KERR_INVAL;
    R->r_commit_aware = R->r_told = true;
    if (c > R->r_commit)
        R->r_commit = c;
    R->r_in_set = argv[2].n == 1 && argv[2].p[0] == '1';
    return replica_apply_pending(l->s, R->r_commit);
}

/* EPOCH <epoch> <first LSN>: the records that follow belong to that epoch of the primary. */
static int
follow_epoch(repl_link_t *l, int argc, karg_t *argv) {
    engine_t *s = l->s;
    uint64_t epoch, first;
    if (argc != 3 || !arg_u64(&argv[1], &epoch) || !arg_u64(&argv[2], &first))
        return KERR_INVAL;
    int rc = persist_follow_epoch(s, epoch, first);
    if (rc < 0)
        snprintf(s->repl->last_error, sizeof s->repl->last_error,
                 "the primary's epoch %" PRIu64 " from LSN %" PRIu64
                 " does not continue this node's history at LSN %" PRIu64 ": %s",
                 epoch, first, s->last_lsn_assigned, kerr_str(rc));
    return rc;
}

static bool
is_stream_frame(const karg_t *a) {
    return util_eq_nocase(a->p, a->n, "RECORD") || util_eq_nocase(a->p, a->n, "COMMIT") ||
           util_eq_nocase(a->p, a->n, "EPOCH");
}

/* A frame of the record stream: RECORD, EPOCH or COMMIT. */
static int
stream_frame(repl_link_t *l, int argc, karg_t *argv) {
    if (util_eq_nocase(argv[0].p, argv[0].n, "RECORD"))
        return apply_record(l, argc, argv);
    if (util_eq_nocase(argv[0].p, argv[0].n, "EPOCH"))
        return follow_epoch(l, argc, argv);
    return commit_frame(l, argc, argv);
}

/* ---- full sync on two channels: the snapshot on a second connection ---- */

static void chan_command_cb(conn_t *conn, int argc, karg_t *argv);
static void chan_close_cb(conn_t *conn);
static const net_callbacks_t chan_callbacks = {.command_cb = chan_command_cb,
                                               .close_cb = chan_close_cb};

static void
chan_close_cb(conn_t *conn) {
    repl_link_t *l = (repl_link_t *)conn;
    link_cleanup(l);
    conn_release(&l->conn);
    kfree(l);
}

static void
chan_connected_cb(conn_t *conn, int err) {
    repl_link_t *l = (repl_link_t *)conn;
    engine_t *s = l->s;
    if (err < 0) {
        snprintf(s->repl->last_error, sizeof s->repl->last_error,
                 "opening the snapshot channel: %s", link_error(conn, err));
        conn_close_async(&l->conn); /* its cleanup ends the main link */
        return;
    }
    send_auth(l);
    const char *ch[] = {"REPLCONF", "keel-snapshot-channel", l->token};
    link_send(l, 3, ch);
    l->replies_pending++;
    l->state = RL_HANDSHAKE;
    l->conn.flags |= CONN_LINES;
}

/* SNAPCHANNEL <token> <LSN>: fetch the snapshot on a second connection; meanwhile the records
 * after LSN arrive here and go to a spill file (memory stays bounded), applied once the
 * snapshot is loaded. */
static int
start_channel(repl_link_t *l, int argc, karg_t *argv) {
    engine_t *s = l->s;
    uint64_t lsn;
    if (argc != 3 || argv[1].n != 32 || !arg_u64(&argv[2], &lsn))
        return KERR_INVAL;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/" SNAPSHOT_SUBDIR, s->cfg.dir);
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return KERR_SYS(errno);
    snprintf(l->spill_path, sizeof l->spill_path, "%s/replica-sync.records", dir);
    l->spill = fopen(l->spill_path, "w+");
    if (!l->spill)
        return KERR_SYS(errno);
    repl_link_t *c = kcalloc(1, sizeof *c);
    c->s = s;
    c->snap_fd = -1;
    c->is_channel = true;
    c->main = l;
    c->state = RL_CONNECTING;
    memcpy(c->token, argv[1].p, 32);
    int rc = conn_connect(&c->conn, s->net, s->repl->host, s->repl->port, s->cfg.tls.replication,
                          &chan_callbacks, chan_connected_cb);
    if (rc < 0) {
        kfree(c);
        return rc;
    }
    l->chan = c;
    l->state = RL_SPILL;
    klog(KLOG_NOTICE,
         "Full sync from the primary: its snapshot at LSN %" PRIu64
         " on a second channel, the records after it spilled to %s meanwhile",
         lsn, l->spill_path);
    return 0;
}

/* RL_SPILL: a frame of the stream into the spill file: argc, then each argument's length and
 * bytes. */
static int
spill_frame(repl_link_t *l, int argc, const karg_t *argv) {
    uint32_t n = (uint32_t)argc;
    if (fwrite(&n, 4, 1, l->spill) != 1)
        return KERR_SYS(errno ? errno : EIO);
    for (int i = 0; i < argc; i++) {
        n = (uint32_t)argv[i].n;
        if (fwrite(&n, 4, 1, l->spill) != 1 || (n && fwrite(argv[i].p, 1, n, l->spill) != n))
            return KERR_SYS(errno ? errno : EIO);
    }
    return 0;
}


/* After the snapshot was loaded: the spilled frames, in order, as if they arrived now. */
static int
replay_spill(repl_link_t *l) {
    engine_t *s = l->s;
    if (fflush(l->spill) != 0 || fseek(l->spill, 0, SEEK_SET) != 0)
        return KERR_SYS(errno);
    enum { ARGS_MAX = 8 };
    karg_t argv[ARGS_MAX];
    char *buf = NULL;
    size_t cap = 0;
    uint64_t frames = 0;
    int rc = 0;
    uint32_t argc;
    while (rc == 0 && fread(&argc, 4, 1, l->spill) == 1) {
        if (argc == 0 || argc > ARGS_MAX) {
            rc = KERR_CORRUPT;
            break;
        }
        size_t off[ARGS_MAX], len[ARGS_MAX], used = 0;
        for (uint32_t i = 0; rc == 0 && i < argc; i++) {
            uint32_t n;
            if (fread(&n, 4, 1, l->spill) != 1) {
                rc = KERR_CORRUPT;
                break;
            }
            if (used + n + 1 > cap) {
                cap = (used + n + 1) * 2;
                buf = krealloc(buf, cap);
            }
            if (n && fread(buf + used, 1, n, l->spill) != n)
                rc = KERR_CORRUPT;
            off[i] = used;
            len[i] = n;
            used += n;
        }
        for (uint32_t i = 0; rc == 0 && i < argc; i++)
            argv[i] = (karg_t){.p = buf + off[i], .n = len[i]};
        if (rc == 0)
            rc = stream_frame(l, (int)argc, argv);
        frames++;
    }
    kfree(buf);
    if (rc == KERR_CORRUPT)
        snprintf(s->repl->last_error, sizeof s->repl->last_error,
                 "the spill file %.900s is damaged after %" PRIu64 " frames", l->spill_path,
                 frames);
    klog(KLOG_NOTICE, "Full sync: %" PRIu64 " frames received during the snapshot applied", frames);
    fclose(l->spill);
    unlink(l->spill_path);
    l->spill = NULL;
    return rc;
}

static void
chan_command_cb(conn_t *conn, int argc, karg_t *argv) {
    repl_link_t *l = (repl_link_t *)conn;
    engine_t *s = l->s;
    if (argc < 1)
        return;
    if (l->main)
        l->main->last_io_ms = util_time_ms(); /* the sync is alive */
    int rc = 0;
    if (l->state == RL_HANDSHAKE) {
        if (argv[0].n == 0 || argv[0].p[0] == '-') {
            snprintf(s->repl->last_error, sizeof s->repl->last_error,
                     "the primary refused the snapshot channel: %.*s",
                     (int)(argv[0].n > 300 ? 300 : argv[0].n), argv[0].p);
            rc = KERR_FAILED;
        } else if (--l->replies_pending == 0) {
            l->conn.flags &= ~CONN_LINES;
            l->state = RL_WAIT_SNAPSHOT;
        }
    } else if (util_eq_nocase(argv[0].p, argv[0].n, "PING")) {
        return;
    } else if (l->state == RL_WAIT_SNAPSHOT && util_eq_nocase(argv[0].p, argv[0].n, "SNAPSHOT")) {
        rc = snapshot_begin(l, argc, argv);
    } else if (l->state == RL_SNAPSHOT && util_eq_nocase(argv[0].p, argv[0].n, "CHUNK") &&
               argc == 2) {
        rc = snapshot_chunk(l, &argv[1]);
    } else if (l->state == RL_SNAPSHOT && util_eq_nocase(argv[0].p, argv[0].n, "SNAPEND")) {
        rc = l->main ? snapshot_end(l) : KERR_FAILED;
    } else {
        snprintf(s->repl->last_error, sizeof s->repl->last_error,
                 "unexpected '%.*s' on the snapshot channel",
                 (int)(argv[0].n > 64 ? 64 : argv[0].n), argv[0].p);
        rc = KERR_INVAL;
    }
    if (rc < 0) {
        klog(KLOG_WARNING, "Replication stopped: %s", s->repl->last_error);
        conn_close_async(&l->conn); /* its cleanup ends the main link */
    }
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
    if (l->state == RL_STREAM && is_stream_frame(&argv[0]))
        rc = stream_frame(l, argc, argv);
    else if (l->state == RL_SPILL && is_stream_frame(&argv[0]))
        rc = spill_frame(l, argc, argv);
    else if (l->state == RL_WAIT_SNAPSHOT && util_eq_nocase(argv[0].p, argv[0].n, "SNAPCHANNEL"))
        rc = start_channel(l, argc, argv);
    else if (l->state == RL_WAIT_SNAPSHOT && util_eq_nocase(argv[0].p, argv[0].n, "SNAPSHOT"))
        rc = snapshot_begin(l, argc, argv);
    else if (l->state == RL_SNAPSHOT && util_eq_nocase(argv[0].p, argv[0].n, "CHUNK") && argc == 2)
        rc = snapshot_chunk(l, &argv[1]);
    else if (l->state == RL_SNAPSHOT && util_eq_nocase(argv[0].p, argv[0].n, "SNAPEND"))
        rc = snapshot_end(l);
    else if (argv[0].p[0] == '-') { /* an error line, split into words like an inline command */
        char *e = s->repl->last_error;
        size_t n = 0, cap = sizeof s->repl->last_error;
        n += (size_t)snprintf(e, cap, "the primary refused:");
        for (int i = 0; i < argc && n < cap - 1; i++)
            n += (size_t)snprintf(e + n, cap - n, " %.*s", (int)(argv[i].n - (i == 0)),
                                  argv[i].p + (i == 0));
        s->repl->next_connect_ms = util_time_ms() + 5 * REPL_RECONNECT_MS;
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
