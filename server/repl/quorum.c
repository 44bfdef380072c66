/*
 * quorum.c - the write quorum across machines (docs/ha.md): which replicas a commit waits for,
 * the LSN committed, and what writes and parked replies get when too few replicas are in sync.
 *
 * wal-quorum N counts copies: the local log copies first, then replicas. When N exceeds the
 * local copies, a write is committed (its reply leaves, replicas may apply it) once it is
 * durable on the local quorum AND on every replica of the in-sync set, and the set holds at
 * least the replicas needed. A replica joins the set once its durable LSN (REPLCONF ACK)
 * reaches the commit LSN and it lacks no record older than half wal-quorum-timeout; it leaves when it disconnects, announced durability off, or has left
 * a record unacknowledged for wal-quorum-timeout ms. Every replica is told, with the commit
 * LSN, whether it is in the set; one outside it reports slave_priority 0 so that Sentinel does
 * not promote it: a replica outside the set may lack committed writes, one inside holds all.
 *
 * Records are fed to replicas that take COMMIT frames as soon as they are written to the log
 * files (wal_written_lsn), in parallel with the local fdatasync; such a replica logs them at
 * once but applies them only up to the commit LSN, so no node serves a write a failover could
 * take back. Replicas of builds before 0.2.0 get committed records only.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "klog.h"
#include "kmem.h"
#include "persist.h"
#include "repl.h"
#include "repl_int.h"
#include "reply.h"
#include "util.h"

static uint64_t quorum_commit_cb(engine_t *s, uint64_t d);

#define REPL_AHEAD_MAX 65536 /* records a replica may hold beyond the commit (its queue) */

void
quorum_start(engine_t *s) {
    repl_state_t *R = s->repl;
    R->ring = kcalloc(REPL_LSN_RING, sizeof *R->ring);
    R->commit_lsn = s->last_lsn_assigned;
    persist_set_commit_cb(s, quorum_commit_cb);
}

void
quorum_became_primary(engine_t *s) {
    repl_state_t *R = s->repl;
    R->commit_lsn = s->last_lsn_assigned; /* this node's log is the history from here */
    R->ring_n = 0;
}

static void
ring_push(repl_state_t *R, uint64_t lsn, int64_t now) {
    if (R->ring_n) {
        repl_lsn_time_t *last = &R->ring[(R->ring_n - 1) % REPL_LSN_RING];
        if (lsn <= last->lsn)
            return;
        if (last->ms == now) { /* one sample a millisecond: the ring spans seconds */
            last->lsn = lsn;
            return;
        }
    }
    R->ring[R->ring_n++ % REPL_LSN_RING] = (repl_lsn_time_t){lsn, now};
}

/* How long the oldest record after ack has been in the log (0: none is). */
static int64_t
unacked_age(const repl_state_t *R, uint64_t ack, int64_t now) {
    uint64_t lo = R->ring_n > REPL_LSN_RING ? R->ring_n - REPL_LSN_RING : 0, hi = R->ring_n;
    if (lo == hi || R->ring[(hi - 1) % REPL_LSN_RING].lsn <= ack)
        return 0;
    while (lo < hi) { /* the first sample whose LSN is after ack */
        uint64_t mid = lo + (hi - lo) / 2;
        if (R->ring[mid % REPL_LSN_RING].lsn > ack)
            hi = mid;
        else
            lo = mid + 1;
    }
    return now - R->ring[lo % REPL_LSN_RING].ms;
}

static bool
eligible(const repl_replica_t *r) {
    return r->state == RR_STREAM && r->epochs && !r->no_quorum &&
           !(r->c->conn.flags & CONN_CLOSE_ASAP);
}

static uint64_t
quorum_commit_cb(engine_t *s, uint64_t d) {
    repl_state_t *R = s->repl;
    if (s->repl->host[0]) /* a replica: its own log's durable LSN (what it holds), except that
                           * replies parked while it was a primary must not leave on its own
                           * disk's say (a failover): they get an error first (before_sleep) */
        return R->demoted ? R->commit_lsn : d;
    int need = persist_quorum_replicas(s), n = 0;
    int64_t now = util_time_ms();
    for (repl_replica_t *r = R->replicas; r; r = r->next) {
        if (!r->state)
            continue;
        bool ok = eligible(r);
        int64_t age = r->ack_lsn < d ? unacked_age(R, r->ack_lsn, now) : 0;
        if (r->in_set && (!ok || age > s->cfg.wal_quorum_timeout_ms)) {
            r->in_set = false;
            if (need > 0) /* without a replica quorum the set decides nothing: no noise */
                klog(KLOG_WARNING,
                     "Replica %s leaves the write quorum's set (%s; acknowledged LSN %" PRIu64
                     ", committed %" PRIu64 ")",
                     r->c->conn.addr, ok ? "it lags" : "its link ended", r->ack_lsn, R->commit_lsn);
        } else if (!r->in_set && ok && r->ack_lsn >= R->commit_lsn &&
                   age <= s->cfg.wal_quorum_timeout_ms / 2) { /* caught up: no flapping */
            r->in_set = true;
            if (need > 0)
                klog(KLOG_NOTICE, "Replica %s joins the write quorum's set at LSN %" PRIu64,
                     r->c->conn.addr, r->ack_lsn);
        }
        n += r->in_set;
    }
    R->set_size = n;
    uint64_t c = d;
    if (need > 0) {
        if (n < need)
            return R->commit_lsn; /* nothing commits until enough replicas are in sync */
        for (repl_replica_t *r = R->replicas; r; r = r->next)
            if (r->state && r->in_set && r->ack_lsn < c)
                c = r->ack_lsn;
    }
    if (c > R->commit_lsn)
        R->commit_lsn = c;
    return R->commit_lsn;
}

uint64_t
quorum_feed_limit(engine_t *s, const repl_replica_t *r) {
    repl_state_t *R = s->repl;
    if (!r->epochs)
        return R->commit_lsn; /* it applies what it gets: committed records only */
    uint64_t w = s->wal ? wal_written_lsn(s->wal) : 0;
    return w < R->commit_lsn + REPL_AHEAD_MAX ? w : R->commit_lsn + REPL_AHEAD_MAX;
}

void
quorum_send_commit(engine_t *s, repl_replica_t *r) {
    repl_state_t *R = s->repl;
    if (!r->epochs || r->state != RR_STREAM)
        return;
    /* Without a replica quorum no reply waits for replicas: each is as promotable as any. */
    int in = persist_quorum_replicas(s) == 0 || r->in_set;
    uint64_t c = R->commit_lsn;
    if (c == r->commit_sent && in == r->in_set_sent)
        return;
    char lsn[24];
    int n = snprintf(lsn, sizeof lsn, "%" PRIu64, c);
    reply_array(r->c, 3);
    reply_bulk(r->c, "COMMIT", 6);
    reply_bulk(r->c, lsn, (size_t)n);
    reply_bulk(r->c, in ? "1" : "0", 1);
    r->commit_sent = c;
    r->in_set_sent = in;
}

void
quorum_replica_gone(engine_t *s, repl_replica_t *r) {
    if (r->in_set && persist_quorum_replicas(s) > 0)
        klog(KLOG_WARNING, "Replica %s leaves the write quorum's set (disconnected)",
             r->c->conn.addr);
    s->repl->ack_moved = true;
}

void
quorum_before_sleep(engine_t *s) {
    repl_state_t *R = s->repl;
    if (R->host[0]) {
        s->repl_refuse = NULL; /* a replica refuses writes as read-only, if at all */
        if (R->demoted) {      /* replies parked while it was the primary: never committed here */
            R->demoted = false;
            persist_fail_parked(s, "ERR durability unknown: this node became a replica (a "
                                   "failover) before the write was committed; it may or may not "
                                   "be present on the new primary");
        }
        return;
    }
    int64_t now = util_time_ms();
    ring_push(R, s->last_lsn_assigned, now);
    if (s->wal)
        wal_notify_written(s->wal, R->nreplicas > 0);
    if (R->ack_moved) {
        R->ack_moved = false;
        persist_poll(s); /* the commit may move: release replies */
    }
    int need = persist_quorum_replicas(s);
    if (need > 0 && R->set_size < need) {
        snprintf(R->refuse, sizeof R->refuse,
                 "NOREPLICAS the write quorum (wal-quorum %d) needs %d in-sync replica%s, %d %s",
                 s->cfg.wal_quorum, need, need == 1 ? "" : "s", R->set_size,
                 R->set_size == 1 ? "is" : "are");
        snprintf(R->parked_err, sizeof R->parked_err,
                 "NOREPLICAS durability unknown: %s; this reply's write was not committed and "
                 "may or may not be present after a failover",
                 R->refuse + 11);
        s->repl_refuse = R->refuse;
        persist_fail_parked(s, R->parked_err);
        return;
    }
    if (s->cfg.min_replicas_to_write > 0) {
        long long good = 0;
        for (repl_replica_t *r = R->replicas; r; r = r->next)
            good += r->state == RR_STREAM && r->ack_ms &&
                    now - r->ack_ms <= s->cfg.min_replicas_max_lag * 1000;
        if (good < s->cfg.min_replicas_to_write) {
            s->repl_refuse = "NOREPLICAS Not enough good replicas to write.";
            return;
        }
    }
    s->repl_refuse = NULL;
}
