/*
 * durable.c - reply tags for durability sync (DESIGN.md section 3) and WAITAOF waiters.
 *
 * Reply tags. A reply may leave only when the log records its content depends on are durable.
 * For a write that is its own record (exec.c tags it). For a read it is the newest uncommitted
 * write to any key it touched, found in a table of keys with uncommitted writes:
 *
 *   srv_key_modified (hook key_modified)   -> entry on the PENDING list, lsn 0
 *   effect record appended (tags_logged)   -> every pending entry gets the LSN and moves to the
 *                                             tail of the FIFO (LSNs only grow: FIFO stays sorted)
 *   durable LSN advances (tags_release)    -> entries at the FIFO head with lsn <= durable leave
 *
 * A key written again moves from wherever it is to the pending list: one entry per key, one
 * allocation when a key enters the table and none for later writes to it. key_modified sees every
 * key a command really changed (also inside EXEC, and expiries), and write_logged adds the
 * command's declared keys in case a command forgot to report one.
 * Invariants: (1) FIFO lsn values never decrease from head to tail; (2) an entry is in exactly
 * one of the two lists; (3) pending entries exist only between a change and the end of the
 * command's effect scope.
 *
 * Keyless writes (FLUSHALL, FLUSHDB, SWAPDB; hook db_modified) set a global barrier: every read
 * waits for that record. Keyless reads of the whole keyspace (CMD_TOUCHES_ALL: KEYS, SCAN,
 * DBSIZE, RANDOMKEY) wait for the newest LSN assigned. A read of nothing uncommitted gets tag 0
 * and leaves at once (unless an earlier reply of the same connection is still parked).
 *
 * WAITAOF waiters: clients blocked (CLIENT_BLOCKED) until the LSN they wait for is durable or
 * their timeout passes; checked when the durable LSN advances and from the cron.
 */
#include <string.h>

#include "common/kassert.h"
#include "server/commands/cmd.h"
#include "server/core/exec.h"
#include "server/core/mem.h"
#include "server/core/persist.h"
#include "server/core/persist_int.h"
#include "server/core/util.h"
#include "server/ds/ht.h"
#include "server/net/net.h"
#include "server/net/reply.h"

#define TAG_READ_KEYS_MAX 64 /* a read with more keys waits for the newest LSN instead */

typedef struct tag_key {
    const char *p;
    size_t n;
    int db;
} tag_key_t;

typedef struct tag_entry {
    struct tag_entry *prev, *next; /* on T.fifo, or on T.pending while lsn == 0 */
    uint64_t lsn;                  /* newest record that changed the key; 0 = not yet known */
    tag_key_t k;                   /* k.p points at key[] */
    char key[];
} tag_entry_t;

typedef struct tag_list {
    tag_entry_t *head, *tail;
} tag_list_t;

static struct {
    server_t *s;
    ht_t *ht;              /* tag_key_t -> tag_entry_t */
    tag_list_t fifo;       /* entries with an LSN, oldest first */
    tag_list_t pending;    /* changed by the running command, record not appended yet */
    bool barrier_pending;  /* a keyless write ran in the current effect scope */
    uint64_t barrier_lsn;  /* newest keyless write: every read waits for it */
} T;

static uint64_t
tag_hash_key(const void *key)
{
    const tag_key_t *k = key;
    return ht_hash_bytes(k->p, k->n) ^ ((uint64_t)(k->db + 1) * 0x9E3779B97F4A7C15ull);
}

static int
tag_key_eq(const void *entry, const void *key)
{
    const tag_entry_t *e = entry;
    const tag_key_t *k = key;
    return e->k.db == k->db && e->k.n == k->n && memcmp(e->k.p, k->p, k->n) == 0;
}

static const void *
tag_entry_key(const void *entry)
{
    return &((const tag_entry_t *)entry)->k;
}

static void
tag_entry_free(void *entry)
{
    kfree(entry);
}

static const ht_type_t tag_ht_type = {
    .hash_key = tag_hash_key,
    .key_eq = tag_key_eq,
    .entry_free = tag_entry_free,
    .entry_key = tag_entry_key,
};

static void
list_unlink(tag_list_t *l, tag_entry_t *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        l->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        l->tail = e->prev;
    e->prev = e->next = NULL;
}

static void
list_append(tag_list_t *l, tag_entry_t *e)
{
    e->next = NULL;
    e->prev = l->tail;
    if (l->tail)
        l->tail->next = e;
    else
        l->head = e;
    l->tail = e;
}

/* Finds or creates the entry of (db, key) and takes it off whatever list holds it. */
static tag_entry_t *
tag_get_unlinked(int db, const char *key, size_t klen, bool *was_pending)
{
    tag_key_t k = {key, klen, db};
    ht_pos_t pos;
    tag_entry_t *e = ht_find_pos(T.ht, &k, &pos);
    *was_pending = false;
    if (e) {
        *was_pending = e->lsn == 0;
        list_unlink(e->lsn == 0 ? &T.pending : &T.fifo, e);
        return e;
    }
    e = kmalloc(sizeof *e + klen);
    memcpy(e->key, key, klen);
    e->k = (tag_key_t){e->key, klen, db};
    e->prev = e->next = NULL;
    ht_insert_at(T.ht, &pos, e);
    return e;
}

static void
tags_key_modified_cb(server_t *s, db_t *db, const char *key, size_t klen)
{
    if (s->loading)
        return;
    bool was_pending;
    tag_entry_t *e = tag_get_unlinked(db->id, key, klen, &was_pending);
    e->lsn = 0;
    list_append(&T.pending, e);
}

static void
tags_db_modified_cb(server_t *s, int db_id)
{
    (void)db_id;
    if (!s->loading)
        T.barrier_pending = true;
}

void
tags_logged(uint64_t lsn)
{
    ASSERT(lsn > 0);
    ASSERT(!T.fifo.tail || T.fifo.tail->lsn <= lsn); /* invariant 1 */
    for (tag_entry_t *e = T.pending.head; e; e = e->next)
        e->lsn = lsn;
    if (T.pending.head) { /* splice the pending list onto the FIFO's tail */
        T.pending.head->prev = T.fifo.tail;
        if (T.fifo.tail)
            T.fifo.tail->next = T.pending.head;
        else
            T.fifo.head = T.pending.head;
        T.fifo.tail = T.pending.tail;
        T.pending.head = T.pending.tail = NULL;
    }
    if (T.barrier_pending) {
        T.barrier_lsn = lsn;
        T.barrier_pending = false;
    }
}

void
tags_release(uint64_t durable_lsn)
{
    while (T.fifo.head && T.fifo.head->lsn <= durable_lsn) {
        tag_entry_t *e = T.fifo.head;
        list_unlink(&T.fifo, e);
        tag_key_t k = e->k;
        ht_delete(T.ht, &k); /* frees e */
    }
}

size_t
tags_count(void)
{
    return T.ht ? ht_size(T.ht) : 0;
}

/* Changes that produced no record (a command reported a change without bumping dirty): they
 * are tagged with the newest LSN, which covers whatever they depend on. */
static void
tags_settle_pending(server_t *s)
{
    if (T.pending.head || T.barrier_pending)
        tags_logged(s->last_lsn_assigned > 0 ? s->last_lsn_assigned : 1);
}

static uint64_t
tags_read_tag_cb(client_t *c, cmd_def_t *cmd)
{
    server_t *s = c->srv;
    if (!(c->flags & CLIENT_IN_EXEC)) /* inside EXEC the pending keys get EXEC's LSN */
        tags_settle_pending(s);
    uint64_t tag = T.barrier_lsn > s->durable_lsn ? T.barrier_lsn : 0;
    if (cmd->flags & CMD_TOUCHES_ALL)
        return s->last_lsn_assigned;
    if (!T.fifo.head)
        return tag;
    int idx[TAG_READ_KEYS_MAX];
    int n = cmd_get_keys(cmd, c->argc, c->argv, idx, TAG_READ_KEYS_MAX);
    if (n >= TAG_READ_KEYS_MAX)
        return s->last_lsn_assigned;
    for (int i = 0; i < n; i++) {
        tag_key_t k = {c->argv[idx[i]].p, c->argv[idx[i]].n, c->db_id};
        tag_entry_t *e = ht_find(T.ht, &k);
        if (e && e->lsn > tag)
            tag = e->lsn;
    }
    return tag;
}

static void
tags_write_logged_cb(client_t *c, cmd_def_t *cmd, uint64_t lsn)
{
    tags_settle_pending(c->srv);
    int idx[TAG_READ_KEYS_MAX];
    int n = cmd_get_keys(cmd, c->argc, c->argv, idx, TAG_READ_KEYS_MAX);
    for (int i = 0; i < n; i++) {
        tag_key_t k = {c->argv[idx[i]].p, c->argv[idx[i]].n, c->db_id};
        tag_entry_t *e = ht_find(T.ht, &k);
        if (e && e->lsn >= lsn)
            continue; /* reported by key_modified already (the common case) */
        bool was_pending;
        e = tag_get_unlinked(c->db_id, k.p, k.n, &was_pending);
        e->lsn = lsn;
        list_append(&T.fifo, e); /* lsn is the newest assigned: the FIFO stays sorted */
    }
}

void
tags_init(server_t *s)
{
    T.s = s;
    T.ht = ht_create(&tag_ht_type);
    ASSERT(T.ht);
    exec_hooks_t h = {
        .key_modified = tags_key_modified_cb,
        .db_modified = tags_db_modified_cb,
        .read_tag = tags_read_tag_cb,
        .write_logged = tags_write_logged_cb,
    };
    exec_add_hooks(&h);
}

void
tags_free(void)
{
    ht_release(T.ht); /* frees every entry */
    T.ht = NULL;
    T.fifo.head = T.fifo.tail = T.pending.head = T.pending.tail = NULL;
}

/* ---- WAITAOF waiters ---- */

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
    net_resume_client(w.c); /* it may run more commands, even block again */
}

static long
acked_local(server_t *s, uint64_t target)
{
    return s->wal && !s->wal_refuse_reason && persist_real_durable_lsn(s) >= target;
}

void
waiters_check(server_t *s, int64_t now_ms)
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
waiters_fail(server_t *s, const char *why)
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
    server_t *s = c->srv;
    if (numlocal && !s->wal) {
        reply_err(c, "ERR WAITAOF cannot be used when numlocal is set but appendonly is disabled.");
        return;
    }
    /* Every LSN assigned so far: it covers the client's own earlier writes (and maybe more). */
    uint64_t target = s->last_lsn_assigned;
    long ack = acked_local(s, target);
    if ((ack >= numlocal && numreplicas <= 0) || (c->flags & (CLIENT_MULTI | CLIENT_IN_EXEC)) ||
        c->fd < 0) {
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
