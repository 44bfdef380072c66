/*
 * repl.c - replication's state, its commands (REPLICAOF, ROLE, REPLCONF, PSYNC, WAIT), the cron
 * and INFO (see repl.h; the primary's side in primary.c, the replica's in replica.c).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "events.h"
#include "idfile.h"
#include "klog.h"
#include "kmem.h"
#include "persist.h"
#include "repl.h"
#include "repl_int.h"
#include "reply.h"
#include "snapshot.h"
#include "util.h"
#include "versions_int.h"

static void
repl_client_cleanup_cb(client_t *c) {
    engine_t *s = c->eng;
    primary_forget(s, c);
    for (size_t i = 0; i < s->repl->nwaiters; i++)
        if (s->repl->waiters[i].c == c) {
            s->repl->waiters[i] = s->repl->waiters[--s->repl->nwaiters];
            break;
        }
}

/* The replicaof setting follows the role, so CONFIG REWRITE keeps it across a restart. */
static void
remember_primary(engine_t *s, const char *host, int port) {
    char v[300] = "";
    int n = host ? snprintf(v, sizeof v, "%s %d", host, port) : 0;
    kfree(s->cfg.replicaof);
    s->cfg.replicaof = kstrndup(v, (size_t)n);
}

/* Become a replica of host:port (host NULL: a primary again). */
static void
set_primary(engine_t *s, const char *host, int port) {
    repl_state_t *R = s->repl;
    if (!host && R->host[0]) {
        /* Promotion: what this node logged from its primary is its history now, committed
         * there or not, so it is applied before the first write of the new epoch. */
        if (replica_apply_pending(s, UINT64_MAX) < 0)
            klog(KLOG_WARNING, "Promotion: applying the records received last failed: %s",
                 R->last_error);
        quorum_became_primary(s);
    }
    if (host && !R->host[0])
        R->demoted = true;
    replica_drop_link(s, "the primary changed");
    persist_set_primary(s, host == NULL); /* a primary's next record begins a new epoch */
    R->r_in_set = R->r_told = R->r_streamed = false;
    remember_primary(s, host, port);
    if (!host) {
        s->repl->host[0] = 0;
        s->read_only = false;
        db_set_expire_enabled(&s->dbenv, true); /* keys expire here again */
        return;
    }
    snprintf(s->repl->host, sizeof s->repl->host, "%s", host);
    s->repl->port = port;
    s->repl->next_connect_ms = 0;
    s->repl->link_down_since_ms = util_time_ms();
    s->read_only = true; /* replica-read-only no is refused: local writes would break the LSNs */
    /* A replica expires nothing itself: the primary's DELs do (they are in the stream). */
    db_set_expire_enabled(&s->dbenv, false);
}

int
repl_start(engine_t *s) {
    s->repl = kcalloc(1, sizeof *s->repl);
    s->repl->applied_lsn = s->last_lsn_assigned;
    quorum_start(s);
    exec_hooks_t h = {.client_cleanup = repl_client_cleanup_cb};
    engine_add_hooks(s, &h);
    if (s->cfg.replicaof && s->cfg.replicaof[0]) {
        char host[256];
        int port;
        if (sscanf(s->cfg.replicaof, "%255s %d", host, &port) != 2 || port < 1 || port > 65535) {
            klog(KLOG_WARNING, "replicaof '%s': expected 'host port'", s->cfg.replicaof);
            return -1;
        }
        set_primary(s, host, port);
    } else {
        persist_set_primary(s, true);
    }
    return 0;
}

int
repl_kill_primary_link(engine_t *s) {
    if (!s->repl || !s->repl->link)
        return 0;
    replica_drop_link(s, "killed by CLIENT KILL TYPE master");
    return 1;
}

/* The address a replica is known by: the one it announced, else its connection's. */
static void
replica_ip(const repl_replica_t *r, char *ip, size_t len) {
    snprintf(ip, len, "%s", r->ann.ip[0] ? r->ann.ip : r->c->conn.addr);
    char *colon = r->ann.ip[0] ? NULL : strrchr(ip, ':');
    if (colon)
        *colon = 0;
}

void
repl_stop(engine_t *s) {
    if (s->repl)
        replica_drop_link(s, "shutdown");
}

static void
waiters_check(engine_t *s, int64_t now) {
    repl_state_t *R = s->repl;
    for (size_t i = 0; i < R->nwaiters;) {
        repl_waiter_t *w = &R->waiters[i];
        int n = primary_replica_count(s, w->target_lsn);
        if (n >= w->numreplicas || (w->deadline_ms && now >= w->deadline_ms)) {
            client_t *c = w->c;
            R->waiters[i] = R->waiters[--R->nwaiters];
            reply_int(c, n);
            c->flags &= ~CLIENT_BLOCKED;
            client_resume(c);
            continue;
        }
        i++;
    }
}

void
repl_before_sleep(engine_t *s) {
    if (!s->repl)
        return;
    quorum_before_sleep(s);
    primary_feed_all(s);
    int64_t now = util_time_ms();
    replica_tick(s, now);
    if (s->repl->nwaiters)
        waiters_check(s, now);
}

void
repl_cron(engine_t *s) {
    if (!s->repl)
        return;
    int64_t now = util_time_ms();
    for (repl_replica_t *r = s->repl->replicas; r; r = r->next)
        if (r->state && r->state != RR_CHANNEL_DONE &&
            now - r->ping_ms >= s->cfg.repl_ping_replica_period_s * 1000) {
            reply_array(r->c, 1); /* keeps an idle link from timing out on the replica */
            reply_bulk(r->c, "PING", 4);
            r->ping_ms = now;
        } else if (r->state == RR_STREAM && r->ack_ms &&
                   now - r->ack_ms > s->cfg.repl_timeout_s * 1000) {
            klog(KLOG_WARNING, "Replica %s: no ACK within repl-timeout, disconnecting",
                 r->c->conn.addr);
            client_close_async(r->c);
        }
    replica_tick(s, now);
}

/* ---- commands ---- */

void
repl_cmd_replicaof(client_t *c) {
    engine_t *s = c->eng;
    if (cmd_arg_is(&c->argv[1], "no") && cmd_arg_is(&c->argv[2], "one")) {
        if (s->repl->host[0])
            klog(KLOG_NOTICE,
                 "REPLICAOF NO ONE: a primary now, continuing the log after LSN %" PRIu64,
                 s->last_lsn_assigned);
        set_primary(s, NULL, 0);
        reply_ok(c);
        return;
    }
    long long port;
    if (!util_parse_ll(c->argv[2].p, c->argv[2].n, &port) || port < 1 || port > 65535) {
        reply_err(c, "ERR Invalid master port");
        return;
    }
    char host[256];
    snprintf(host, sizeof host, "%.*s", (int)(c->argv[1].n < 255 ? c->argv[1].n : 255),
             c->argv[1].p);
    if (s->repl->host[0] && !strcmp(host, s->repl->host) && s->repl->port == port) {
        reply_simple(c, "OK Already connected to specified master");
        return;
    }
    klog(KLOG_NOTICE, "REPLICAOF %s %lld: a replica from now on", host, port);
    set_primary(s, host, (int)port);
    reply_ok(c);
}

void
repl_cmd_role(client_t *c) {
    engine_t *s = c->eng;
    if (s->repl->host[0]) {
        repl_link_t *l = s->repl->link;
        const char *st = !l                          ? "connect"
                         : l->state == RL_CONNECTING ? "connecting"
                         : l->state == RL_STREAM     ? "connected"
                                                     : "sync";
        reply_array(c, 5);
        reply_bulk_cstr(c, "slave");
        reply_bulk_cstr(c, s->repl->host);
        reply_int(c, s->repl->port);
        reply_bulk_cstr(c, st);
        reply_int(c, (long long)replica_applied_lsn(s));
        return;
    }
    reply_array(c, 3);
    reply_bulk_cstr(c, "master");
    reply_int(c, (long long)(s->wal ? s->repl->commit_lsn : s->last_lsn_assigned));
    reply_array(c, s->repl->nreplicas);
    for (repl_replica_t *r = s->repl->replicas; r; r = r->next) {
        if (!r->state || r->channel)
            continue;
        char ip[64], port[16], off[24];
        replica_ip(r, ip, sizeof ip);
        snprintf(port, sizeof port, "%d", r->ann.listening_port);
        snprintf(off, sizeof off, "%" PRIu64, r->ack_lsn);
        reply_array(c, 3);
        reply_bulk_cstr(c, ip);
        reply_bulk_cstr(c, port);
        reply_bulk_cstr(c, off);
    }
}

/* REPLCONF listening-port P | capa ... | keel-version V records N snapshot N | ACK lsn. */
void
repl_cmd_replconf(client_t *c) {
    engine_t *s = c->eng;
    if (cmd_arg_is(&c->argv[1], "ack")) { /* no reply, as Valkey */
        repl_replica_t *r = primary_find(s, c, false);
        unsigned long long lsn;
        if (r && c->argc >= 3 && util_parse_ull(c->argv[2].p, c->argv[2].n, &lsn) &&
            lsn >= r->ack_lsn) {
            r->ack_lsn = lsn;
            r->ack_ms = util_time_ms();
            s->repl->ack_moved = true;
        }
        return;
    }
    if ((c->argc - 1) % 2) {
        reply_err(c, "ERR syntax error");
        return;
    }
    if (cmd_arg_is(&c->argv[1], "keel-snapshot-channel")) {
        if (primary_snapshot_channel(c, &c->argv[2]) < 0)
            reply_err(c, "ERR no full sync waits for this snapshot channel");
        return;
    }
    repl_replica_t *r = primary_find(s, c, true);
    for (int i = 1; i + 1 < c->argc; i += 2) {
        long long v = 0;
        const karg_t *val = &c->argv[i + 1];
        bool num = util_parse_ll(val->p, val->n, &v);
        if (cmd_arg_is(&c->argv[i], "listening-port") && num)
            r->ann.listening_port = (int)v;
        else if (cmd_arg_is(&c->argv[i], "ip-address"))
            snprintf(r->ann.ip, sizeof r->ann.ip, "%.*s", (int)(val->n < 63 ? val->n : 63), val->p);
        else if (cmd_arg_is(&c->argv[i], "keel-version"))
            snprintf(r->ann.version, sizeof r->ann.version, "%.*s", (int)val->n, val->p);
        else if (cmd_arg_is(&c->argv[i], "records") && num && v >= 0 && v <= UINT32_MAX) {
            r->ann.records_max = (uint32_t)v;
            r->ann.records_set = true;
        } else if (cmd_arg_is(&c->argv[i], "snapshot") && num && v >= 0 && v <= UINT32_MAX) {
            r->ann.snapshot_max = (uint32_t)v;
            r->ann.snapshot_set = true;
        } else if (cmd_arg_is(&c->argv[i], "durability")) {
            r->no_quorum = cmd_arg_is(val, "off");
        } else if (cmd_arg_is(&c->argv[i], "channels") && num) {
            r->ann.channels = (uint32_t)v;
        }
        /* capa and other Valkey options: accepted, nothing to do yet */
    }
    if (r->ann.records_set && !versions_records(s, r))
        return; /* refused: closes after the error */
    reply_ok(c);
}

void
repl_cmd_psync(client_t *c) {
    primary_psync(c);
}

/* WAIT numreplicas timeout: the replicas that acknowledged every LSN assigned so far. */
void
repl_cmd_wait(client_t *c) {
    engine_t *s = c->eng;
    long long num, timeout;
    if (!util_parse_ll(c->argv[1].p, c->argv[1].n, &num) ||
        !util_parse_ll(c->argv[2].p, c->argv[2].n, &timeout)) {
        reply_err(c, "ERR value is not an integer or out of range");
        return;
    }
    if (timeout < 0) {
        reply_err(c, "ERR timeout is negative");
        return;
    }
    if (s->repl->host[0]) {
        reply_err(c, "ERR WAIT cannot be used with replica instances. Please also note that "
                     "since Redis 4.0 if a replica is configured to be writable (which is not "
                     "the default) writes to replicas are just local and are not propagated.");
        return;
    }
    uint64_t target = s->last_lsn_assigned;
    int n = primary_replica_count(s, target);
    if (n >= num || (c->flags & (CLIENT_MULTI | CLIENT_IN_EXEC)) || c->conn.fd < 0) {
        reply_int(c, n);
        return;
    }
    repl_state_t *R = s->repl;
    if (R->nwaiters == R->waiters_cap) {
        R->waiters_cap = R->waiters_cap ? R->waiters_cap * 2 : 8;
        R->waiters = krealloc(R->waiters, sizeof *R->waiters * R->waiters_cap);
    }
    R->waiters[R->nwaiters++] =
        (repl_waiter_t){c, target, (long)num, timeout ? util_time_ms() + timeout : 0};
    c->flags |= CLIENT_BLOCKED;
}

/* ---- INFO ---- */

static void
info_primary(engine_t *s, sbuf_t *b, const char *id) {
    sbuf_printf(b, "role:master\r\nconnected_slaves:%d\r\n", s->repl->nreplicas);
    int i = 0;
    int64_t now = util_time_ms();
    for (repl_replica_t *r = s->repl->replicas; r; r = r->next) {
        if (!r->state || r->channel)
            continue;
        char ip[64];
        replica_ip(r, ip, sizeof ip);
        const char *st = r->state != RR_STREAM                     ? "wait_bgsave"
                         : r->token[0] && r->ack_lsn < r->snap_lsn ? "send_bulk"
                                                                   : "online";
        sbuf_printf(b,
                    "slave%d:ip=%s,port=%d,state=%s,offset=%" PRIu64 ",lag=%lld,"
                    "keel_durable_lsn=%" PRIu64 ",keel_sent_lsn=%" PRIu64 ",keel_version=%s,"
                    "keel_snapshot_format=%u,keel_in_set=%d",
                    i++, ip, r->ann.listening_port, st, r->ack_lsn,
                    r->ack_ms ? (long long)((now - r->ack_ms) / 1000) : -1, r->ack_lsn,
                    r->next_lsn ? r->next_lsn - 1 : 0, r->ann.version[0] ? r->ann.version : "?",
                    r->ann.snapshot_max, r->in_set);
        versions_info_slave(r, b);
        sbuf_printf(b, "\r\n");
    }
    uint64_t off = s->wal ? s->repl->commit_lsn : s->last_lsn_assigned;
    sbuf_printf(b,
                "master_failover_state:no-failover\r\nmaster_replid:%s\r\n"
                "master_replid2:0000000000000000000000000000000000000000\r\n"
                "master_repl_offset:%" PRIu64 "\r\nsecond_repl_offset:-1\r\n"
                "repl_backlog_active:0\r\nrepl_backlog_size:0\r\n"
                "repl_backlog_first_byte_offset:0\r\nrepl_backlog_histlen:0\r\n"
                "keel_commit_lsn:%" PRIu64 "\r\nkeel_quorum_replicas_needed:%d\r\n"
                "keel_quorum_set:%d\r\n",
                id, off, off, persist_quorum_replicas(s), s->repl->set_size);
}

static void
info_replica(engine_t *s, sbuf_t *b, const char *id) {
    repl_link_t *l = s->repl->link;
    bool up = l && l->state == RL_STREAM;
    int64_t now = util_time_ms();
    sbuf_printf(b,
                "role:slave\r\nmaster_host:%s\r\nmaster_port:%d\r\nmaster_link_status:%s\r\n"
                "master_last_io_seconds_ago:%lld\r\nmaster_sync_in_progress:%d\r\n"
                "slave_read_repl_offset:%" PRIu64 "\r\nslave_repl_offset:%" PRIu64 "\r\n",
                s->repl->host, s->repl->port, up ? "up" : "down",
                l ? (long long)((now - l->last_io_ms) / 1000) : -1,
                l && (l->state == RL_WAIT_SNAPSHOT || l->state == RL_SNAPSHOT ||
                      l->state == RL_SPILL),
                s->last_lsn_assigned,
                /* what its log holds durably (applied or waiting for the commit): Sentinel
                 * promotes the replica with the greatest, which holds every acknowledged write
                 * any replica holds (keel_applied_lsn is what it serves) */
                s->wal ? wal_durable_lsn(s->wal) : s->last_lsn_assigned);
    repl_link_t *sl = l && l->chan ? l->chan : l; /* the snapshot's link */
    if (sl && sl->state == RL_SNAPSHOT)
        sbuf_printf(b,
                    "master_sync_total_bytes:%" PRIu64 "\r\nmaster_sync_read_bytes:%" PRIu64 "\r\n",
                    sl->snap_size, sl->snap_got);
    if (!up)
        sbuf_printf(b, "master_link_down_since_seconds:%lld\r\nkeel_link_error:%s\r\n",
                    s->repl->link_down_since_ms
                        ? (long long)((now - s->repl->link_down_since_ms) / 1000)
                        : -1,
                    s->repl->last_error);
    sbuf_printf(b,
                "slave_priority:%lld\r\nslave_read_only:%d\r\nreplica_announced:%d\r\n"
                "connected_slaves:0\r\nmaster_failover_state:no-failover\r\nmaster_replid:%s\r\n"
                "master_repl_offset:%" PRIu64 "\r\nkeel_durable_lsn:%" PRIu64 "\r\n"
                "keel_applied_lsn:%" PRIu64 "\r\nkeel_commit_lsn:%" PRIu64 "\r\n"
                "keel_in_set:%d\r\n",
                /* outside its primary's write quorum set it may lack committed writes: not
                 * promotable; nor while it has not streamed from it yet (a full sync); a primary
                 * that never says (0.1.0) makes no claim once it streams */
                (s->repl->r_told ? s->repl->r_in_set : s->repl->r_streamed)
                    ? s->cfg.replica_priority
                    : 0LL,
                s->read_only, s->cfg.replica_announced, id, replica_applied_lsn(s),
                s->wal ? wal_durable_lsn(s->wal) : s->last_lsn_assigned, replica_applied_lsn(s),
                s->repl->r_commit, s->repl->r_in_set);
}

void
repl_info(engine_t *s, sbuf_t *b) {
    char id[37];
    wal_dataset_id_str(persist_dataset_id(s), id, sizeof id);
    if (s->repl->host[0])
        info_replica(s, b, id);
    else
        info_primary(s, b, id);
    sbuf_printf(b,
                "keel_record_format:%d\r\nkeel_snapshot_format_max:%d\r\nkeel_epoch:%" PRIu64
                "\r\nkeel_epochs:%u\r\n",
                REPL_RECORD_FORMAT, SNAP_FORMAT_VERSION_MAX, persist_epoch_of(s, UINT64_MAX, NULL),
                persist_epoch_count(s));
    versions_info(s, b);
}

void
repl_info_stats(engine_t *s, sbuf_t *b) {
    sbuf_printf(b,
                "sync_full:%" PRIu64 "\r\nsync_partial_ok:%" PRIu64 "\r\nsync_partial_err:%" PRIu64
                "\r\n",
                s->repl->sync_full, s->repl->sync_partial_ok, s->repl->sync_partial_err);
}
