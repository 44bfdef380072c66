/*
 * waitaof.c - WAITAOF waiters: clients blocked (CLIENT_BLOCKED) until the LSN they wait for is
 * durable or their timeout passes; checked when the durable LSN advances and from the cron.
 * The waiters live in the engine's persistence state (persist_t.waiters).
 */
#include <string.h>

#include "client.h"
#include "engine.h"
#include "exec.h"
#include "kmem.h"
#include "persist.h"
#include "persist_int.h"
#include "reply.h"
#include "util.h"
#include "wal.h"

static void
waiter_reply(client_t *c, long acklocal) {
    reply_array(c, 2);
    reply_int(c, acklocal);
    reply_int(c, 0); /* no replicas yet */
}

/* Removes waiter i and unblocks its client; the array may change under the caller. */
static void
waiter_finish(persist_t *p, size_t i, const char *err, long acklocal) {
    persist_waiter_t w = p->waiters[i];
    p->waiters[i] = p->waiters[--p->nwaiters];
    if (err)
        reply_err(w.c, err);
    else
        waiter_reply(w.c, acklocal);
    w.c->flags &= ~CLIENT_BLOCKED;
    client_resume(w.c); /* it may run more commands, even block again */
}

static long
acked_local(engine_t *s, uint64_t target) {
    return s->wal && !s->wal_refuse_reason && wal_durable_lsn(s->wal) >= target;
}

void
waiters_check(engine_t *s, int64_t now_ms) {
    persist_t *p = s->persist;
    for (size_t i = 0; i < p->nwaiters;) {
        const persist_waiter_t *w = &p->waiters[i];
        long ack = acked_local(s, w->target_lsn);
        bool done = ack >= w->numlocal && w->numreplicas <= 0;
        if (done || (w->deadline_ms && now_ms >= w->deadline_ms)) {
            waiter_finish(p, i, NULL, ack);
            continue;
        }
        i++;
    }
}

void
waiters_fail(engine_t *s, const char *why) {
    persist_t *p = s->persist;
    while (p->nwaiters > 0)
        waiter_finish(p, p->nwaiters - 1, why, 0);
}

static void
waiters_client_cleanup_cb(client_t *c) {
    persist_t *p = c->eng->persist;
    for (size_t i = 0; i < p->nwaiters; i++)
        if (p->waiters[i].c == c) {
            p->waiters[i] = p->waiters[--p->nwaiters];
            return;
        }
}

void
waiters_init(engine_t *s) {
    exec_hooks_t h = {.client_cleanup = waiters_client_cleanup_cb};
    engine_add_hooks(s, &h);
}

void
persist_waitaof(client_t *c, long numlocal, long numreplicas, int64_t timeout_ms) {
    engine_t *s = c->eng;
    persist_t *p = s->persist;
    if (numlocal && !s->wal) {
        reply_err(c, "ERR WAITAOF cannot be used when numlocal is set but appendonly is disabled.");
        return;
    }
    /* Every LSN assigned so far: it covers the client's own earlier writes (and maybe more). */
    uint64_t target = s->last_lsn_assigned;
    long ack = acked_local(s, target);
    if ((ack >= numlocal && numreplicas <= 0) || (c->flags & (CLIENT_MULTI | CLIENT_IN_EXEC)) ||
        c->conn.fd < 0) {
        waiter_reply(c, ack);
        return;
    }
    if (p->nwaiters == p->waiters_cap) {
        p->waiters_cap = p->waiters_cap ? p->waiters_cap * 2 : 16;
        p->waiters = krealloc(p->waiters, sizeof *p->waiters * p->waiters_cap);
    }
    p->waiters[p->nwaiters++] =
        (persist_waiter_t){c, target, numlocal, numreplicas,
                           timeout_ms > 0 ? util_time_ms() + timeout_ms : 0};
    c->flags |= CLIENT_BLOCKED;
    if (s->wal && s->cfg.durability == DURABILITY_ASYNC)
        wal_sync_now(s->wal); /* do not make the caller wait for the next interval */
}
