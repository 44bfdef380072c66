/*
 * waitaof.c - WAITAOF waiters: clients blocked (CLIENT_BLOCKED) until the LSN they wait for is
 * durable or their timeout passes; checked when the durable LSN advances and from the cron.
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

typedef struct waiter {
    client_t *c;
    uint64_t target_lsn;
    long numlocal, numreplicas;
    int64_t deadline_ms; /* 0 = none */
} waiter_t;

static waiter_t *W;
static size_t nw, capw;

static void
waiter_reply(client_t *c, long acklocal)
{
    reply_array(c, 2);
    reply_int(c, acklocal);
    reply_int(c, 0); /* no replicas yet */
}

/* Removes waiter i and unblocks its client; the array may change under the caller. */
static void
waiter_finish(size_t i, const char *err, long acklocal)
{
    waiter_t w = W[i];
    W[i] = W[--nw];
    if (err)
        reply_err(w.c, err);
    else
        waiter_reply(w.c, acklocal);
    w.c->flags &= ~CLIENT_BLOCKED;
    client_resume(w.c); /* it may run more commands, even block again */
}

static long
acked_local(engine_t *s, uint64_t target)
{
    return s->wal && !s->wal_refuse_reason && persist_real_durable_lsn(s) >= target;
}

void
waiters_check(engine_t *s, int64_t now_ms)
{
    for (size_t i = 0; i < nw;) {
        long ack = acked_local(s, W[i].target_lsn);
        bool done = ack >= W[i].numlocal && W[i].numreplicas <= 0;
        if (done || (W[i].deadline_ms && now_ms >= W[i].deadline_ms)) {
            waiter_finish(i, NULL, ack);
            continue;
        }
        i++;
    }
}

void
waiters_fail(engine_t *s, const char *why)
{
    (void)s;
    while (nw > 0)
        waiter_finish(nw - 1, why, 0);
}

static void
waiters_client_cleanup_cb(client_t *c)
{
    for (size_t i = 0; i < nw; i++)
        if (W[i].c == c) {
            W[i] = W[--nw];
            return;
        }
}

void
waiters_init(void)
{
    exec_hooks_t h = {.client_cleanup = waiters_client_cleanup_cb};
    exec_add_hooks(&h);
}

void
persist_waitaof(client_t *c, long numlocal, long numreplicas, int64_t timeout_ms)
{
    engine_t *s = c->eng;
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
    if (nw == capw) {
        capw = capw ? capw * 2 : 16;
        W = krealloc(W, sizeof *W * capw);
    }
    W[nw++] = (waiter_t){c, target, numlocal, numreplicas,
                         timeout_ms > 0 ? util_time_ms() + timeout_ms : 0};
    c->flags |= CLIENT_BLOCKED;
    if (s->wal && s->cfg.durability == DURABILITY_ASYNC)
        wal_sync_now(s->wal); /* do not make the caller wait for the next interval */
}
