/*
 * block.c - clients blocked on keys: wait queues, ready keys, re-running, deadlines (block.h).
 *
 * Structures (all owned by the main thread, module-wide):
 *
 *   keys     hash table of bkey_t by (db id, key bytes): one FIFO queue of waiters per key that
 *            somebody waits on. A bkey lives while it has waiters or sits on the ready list.
 *   ready    the keys marked ready since they were last served, in the order they got data.
 *   heap     min-heap of blocked clients with a deadline, ordered by (deadline, arrival).
 *   resume   unblocked clients whose queued input is still to be processed.
 *
 * A blocked client's bstate_t holds one waiter (queue node) per distinct key and a copy of its
 * arguments. Invariants:
 *   1. c->bstate != NULL  <=>  CLIENT_BLOCKED  <=>  each of its waiters is linked in its bkey.
 *   2. heap_at indexes the client in the heap when deadline_ms > 0; heap[i]'s parent is never
 *      later than heap[i].
 *   3. bkey.ready <=> the bkey is on the ready list (so a key is listed once).
 *   4. A bkey is freed only when it has no waiter, is not listed and is not being served.
 *
 * States of a client and the functions that move it:
 *
 *   running --block_for_keys--> BLOCKED --serve_waiter (key ready, right type)--> running
 *                                  |  \--expire_deadlines / block_unblock_client--> running
 *                                  \--cleanup_cb (disconnect, kill)--> gone
 *
 * serve_waiter re-runs the command through exec_command(), which may block the client again:
 * then it keeps its original deadline and goes to the tail of each queue.
 */
#include "block.h"

#include <math.h>
#include <string.h>

#include "kassert.h"
#include "kerr.h"
#include "exec.h"
#include "kmem.h"
#include "util.h"
#include "ht.h"
#include "reply.h"

typedef struct bkey bkey_t;

typedef struct bwait {
    client_t *c;
    bkey_t *k;
    struct bwait *prev, *next; /* the key's queue, oldest first */
} bwait_t;

/* What the table looks keys up by; also embedded in each bkey (entry_key). */
typedef struct blookup {
    int db_id;
    const char *p;
    size_t n;
} blookup_t;

struct bkey {
    blookup_t lk; /* lk.p points at key[] */
    bwait_t *head, *tail;
    size_t nwait;
    bool ready;  /* on the ready list (invariant 3) */
    bool pinned; /* being served: must outlive its last waiter until serve_key returns */
    char key[];
};

typedef struct bstate {
    client_t *c;          /* the blocked client */
    int type;             /* OBJ_LIST, OBJ_ZSET: what a ready key must hold (ready NULL) */
    block_ready_cb ready; /* or this test decides (block_for_keys_when) */
    int64_t deadline_ms;  /* absolute unix ms, 0 = none */
    uint64_t seq;         /* arrival order, for ties in the heap */
    size_t heap_at;       /* index in the heap (only with a deadline) */
    block_timeout_cb on_timeout;
    int argc;
    karg_t *argv; /* copy of the command, one allocation with its bytes */
    int nwait;
    bwait_t w[]; /* one per distinct key */
} bstate_t;

/* The engine's blocking state (engine_t.block). */
struct block_state {
    ht_t *keys;
    bkey_t **ready;
    size_t nready, ready_cap;
    bstate_t **heap;
    size_t nheap, heap_cap;
    client_t **resume;
    size_t nresume, resume_cap;
    size_t nblocked;
    uint64_t seq;
    bool serving;    /* block_handle_ready is running (no nesting) */
    client_t *rerun; /* client whose command is being re-run, and its deadline */
    int64_t rerun_deadline_ms;
};

/* ---- the key table --------------------------------------------------------------------- */

static uint64_t
lk_hash(const void *key) {
    const blookup_t *lk = key;
    return ht_hash_bytes(lk->p, lk->n) ^ ((uint64_t)lk->db_id * 0x9E3779B97F4A7C15ull);
}

static uint64_t
bkey_hash(const void *entry) {
    return lk_hash(&((const bkey_t *)entry)->lk);
}

static int
bkey_eq(const void *entry, const void *key) {
    const blookup_t *a = &((const bkey_t *)entry)->lk, *b = key;
    return a->db_id == b->db_id && a->n == b->n && memcmp(a->p, b->p, a->n) == 0;
}

static const void *
bkey_key(const void *entry) {
    return &((const bkey_t *)entry)->lk;
}

static void
bkey_free(void *entry) {
    kfree(entry);
}

static const ht_type_t bkey_type = {
    .hash_key = lk_hash,
    .hash_entry = bkey_hash,
    .key_eq = bkey_eq,
    .entry_free = bkey_free,
    .entry_key = bkey_key,
};

static bkey_t *
bkey_get(engine_t *eng, int db_id, const char *key, size_t klen, bool create) {
    blookup_t lk = {db_id, key, klen};
    ht_pos_t pos;
    bkey_t *k = ht_find_pos(eng->block->keys, &lk, &pos);
    if (k || !create)
        return k;
    k = kcalloc(1, sizeof *k + (klen ? klen : 1));
    memcpy(k->key, key, klen);
    k->lk = (blookup_t){db_id, k->key, klen};
    ht_insert_at(eng->block->keys, &pos, k);
    return k;
}

/* Drops a bkey nobody waits on, unless the ready list still refers to it. */
static void
bkey_release_if_unused(engine_t *eng, bkey_t *k) {
    if (k->nwait == 0 && !k->ready && !k->pinned)
        ht_delete(eng->block->keys, &k->lk);
}

static void
mark_ready(engine_t *eng, bkey_t *k) {
    if (k->ready)
        return;
    if (eng->block->nready == eng->block->ready_cap) {
        eng->block->ready_cap = eng->block->ready_cap ? eng->block->ready_cap * 2 : 16;
        eng->block->ready =
            krealloc(eng->block->ready, eng->block->ready_cap * sizeof *eng->block->ready);
    }
    eng->block->ready[eng->block->nready++] = k;
    k->ready = true;
}

/* ---- the deadline heap ----------------------------------------------------------------- */

static bool
heap_before(const bstate_t *a, const bstate_t *b) {
    return a->deadline_ms < b->deadline_ms || (a->deadline_ms == b->deadline_ms && a->seq < b->seq);
}

static void
heap_put(engine_t *eng, size_t i, bstate_t *b) {
    eng->block->heap[i] = b;
    b->heap_at = i;
}

static void
heap_up(engine_t *eng, size_t i) {
    bstate_t *b = eng->block->heap[i];
    while (i > 0 && heap_before(b, eng->block->heap[(i - 1) / 2])) {
        heap_put(eng, i, eng->block->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    heap_put(eng, i, b);
}

static void
heap_down(engine_t *eng, size_t i) {
    bstate_t *b = eng->block->heap[i];
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        const bstate_t *best = b;
        if (l < eng->block->nheap && heap_before(eng->block->heap[l], best))
            m = l, best = eng->block->heap[l];
        if (l + 1 < eng->block->nheap && heap_before(eng->block->heap[l + 1], best))
            m = l + 1;
        if (m == i)
            break;
        heap_put(eng, i, eng->block->heap[m]);
        i = m;
    }
    heap_put(eng, i, b);
}

static void
heap_add(engine_t *eng, bstate_t *b) {
    if (eng->block->nheap == eng->block->heap_cap) {
        eng->block->heap_cap = eng->block->heap_cap ? eng->block->heap_cap * 2 : 16;
        eng->block->heap =
            krealloc(eng->block->heap, eng->block->heap_cap * sizeof *eng->block->heap);
    }
    heap_put(eng, eng->block->nheap++, b);
    heap_up(eng, eng->block->nheap - 1);
}

static void
heap_remove(engine_t *eng, bstate_t *b) {
    size_t i = b->heap_at;
    ASSERT(i < eng->block->nheap && eng->block->heap[i] == b);
    bstate_t *last = eng->block->heap[--eng->block->nheap];
    if (i == eng->block->nheap)
        return;
    heap_put(eng, i, last);
    heap_up(eng, i);
    heap_down(eng, last->heap_at);
}

/* ---- blocking and unblocking ------------------------------------------------------------ */

static void
block_common(client_t *c, const karg_t *keys, int nkeys, int type, block_ready_cb ready,
             int64_t deadline_ms, block_timeout_cb on_timeout) {
    ASSERT(!c->bstate && nkeys > 0);
    if (c == c->eng->block->rerun)
        deadline_ms =
            c->eng->block->rerun_deadline_ms; /* blocking again keeps the original deadline */
    bstate_t *b = kcalloc(1, sizeof *b + sizeof(bwait_t) * (size_t)nkeys);
    b->c = c;
    b->type = type;
    b->ready = ready;
    b->deadline_ms = deadline_ms;
    b->seq = ++c->eng->block->seq;
    b->on_timeout = on_timeout;
    b->argc = c->argc;
    b->argv = cmd_argv_copy(c->argc, c->argv);
    for (int i = 0; i < nkeys; i++) {
        bkey_t *k = bkey_get(c->eng, c->db_id, keys[i].p, keys[i].n, true);
        if (k->tail && k->tail->c == c)
            continue; /* the same key twice: this client is already the newest waiter */
        bwait_t *w = &b->w[b->nwait++];
        *w = (bwait_t){c, k, k->tail, NULL};
        if (k->tail)
            k->tail->next = w;
        else
            k->head = w;
        k->tail = w;
        k->nwait++;
    }
    if (deadline_ms > 0)
        heap_add(c->eng, b);
    c->bstate = b;
    c->block_deadline_ms = deadline_ms;
    c->flags |= CLIENT_BLOCKED;
    c->eng->block->nblocked++;
}

void
block_for_keys(client_t *c, const karg_t *keys, int nkeys, int type, int64_t deadline_ms,
               block_timeout_cb on_timeout) {
    block_common(c, keys, nkeys, type, NULL, deadline_ms, on_timeout);
}

void
block_for_keys_when(client_t *c, const karg_t *keys, int nkeys, block_ready_cb ready,
                    int64_t deadline_ms, block_timeout_cb on_timeout) {
    block_common(c, keys, nkeys, -1, ready, deadline_ms, on_timeout);
}

/* Takes c out of every queue and the heap. Returns its saved arguments when keep_argv (the
 * caller frees them), else frees them. */
static karg_t *
unblock(client_t *c, bool keep_argv, int *argc) {
    bstate_t *b = c->bstate;
    ASSERT(b && (c->flags & CLIENT_BLOCKED));
    for (int i = 0; i < b->nwait; i++) {
        bwait_t *w = &b->w[i];
        bkey_t *k = w->k;
        if (w->prev)
            w->prev->next = w->next;
        else
            k->head = w->next;
        if (w->next)
            w->next->prev = w->prev;
        else
            k->tail = w->prev;
        k->nwait--;
        bkey_release_if_unused(c->eng, k);
    }
    if (b->deadline_ms > 0)
        heap_remove(c->eng, b);
    karg_t *argv = b->argv;
    if (argc)
        *argc = b->argc;
    if (!keep_argv) {
        kfree(argv);
        argv = NULL;
    }
    kfree(b);
    c->bstate = NULL;
    c->block_deadline_ms = 0;
    c->flags &= ~CLIENT_BLOCKED;
    c->eng->block->nblocked--;
    return argv;
}

static void
resume_later(client_t *c) {
    if (c->eng->block->nresume == c->eng->block->resume_cap) {
        c->eng->block->resume_cap = c->eng->block->resume_cap ? c->eng->block->resume_cap * 2 : 16;
        c->eng->block->resume = krealloc(c->eng->block->resume,
                                         c->eng->block->resume_cap * sizeof *c->eng->block->resume);
    }
    c->eng->block->resume[c->eng->block->nresume++] = c;
}

/* The key has data for w: unblock w's client and run its command again. */
static void
serve_waiter(engine_t *eng, bwait_t *w) {
    client_t *c = w->c;
    int64_t deadline = ((bstate_t *)c->bstate)->deadline_ms;
    int argc;
    karg_t *argv = unblock(c, true, &argc);
    eng->block->rerun = c;
    eng->block->rerun_deadline_ms = deadline;
    c->argc = argc;
    c->argv = argv;
    exec_command(c);
    c->argc = 0;
    c->argv = NULL;
    eng->block->rerun = NULL;
    kfree(argv);
    if (!(c->flags & CLIENT_BLOCKED))
        resume_later(c);
}

/* Whether the key can serve the waiter now: holds a value of its type, or passes its own test
 * (no side effects on the keyspace). */
static bool
key_has_data_for(db_t *db, const bkey_t *k, const bstate_t *b) {
    kobj_t *o = db_find(db, k->lk.p, k->lk.n);
    if (o && db_is_expired(db->env, o))
        o = NULL;
    if (b->ready)
        return b->ready(o, k->lk.p, k->lk.n, b->argc, b->argv);
    return o && obj_type(o) == b->type;
}

/* Tries each waiter that was queued on k when serving began, oldest first. */
static void
serve_key(engine_t *s, bkey_t *k) {
    db_t *db = engine_db(s, k->lk.db_id);
    size_t budget = k->nwait; /* waiters that block again go to the tail: do not revisit them */
    bwait_t *w = k->head;
    while (db && w && budget-- > 0) {
        bwait_t *next = w->next;
        const bstate_t *b = w->c->bstate;
        if (!(w->c->conn.flags & CONN_CLOSE_ASAP) && key_has_data_for(db, k, b))
            serve_waiter(s, w); /* frees w; `next` belongs to another client and stays valid */
        w = next;
    }
}

static void
block_handle_ready(engine_t *s) {
    if (s->block->serving || s->block->nready == 0)
        return;
    s->block->serving = true;
    while (s->block->nready > 0) {
        /* Take the current list: keys made ready while serving it form the next round. */
        bkey_t **list = s->block->ready;
        size_t n = s->block->nready;
        s->block->ready = NULL;
        s->block->nready = s->block->ready_cap = 0;
        for (size_t i = 0; i < n; i++) {
            bkey_t *k = list[i];
            k->ready = false; /* data arriving while it is served queues it again */
            k->pinned = true;
            serve_key(s, k);
            k->pinned = false;
            bkey_release_if_unused(s, k);
        }
        kfree(list);
    }
    s->block->serving = false;
}

/* ---- hooks ------------------------------------------------------------------------------- */

static void
block_signal_key_ready(engine_t *eng, db_t *db, const char *key, size_t klen) {
    if (eng->block->nblocked == 0)
        return;
    bkey_t *k = bkey_get(eng, db->id, key, klen, false);
    if (k && k->nwait > 0)
        mark_ready(eng, k);
}

static void
key_modified_cb(engine_t *s, db_t *db, const char *key, size_t klen) {
    (void)s;
    block_signal_key_ready(s, db, key, klen);
}

/* SWAPDB, FLUSHDB, FLUSHALL: any waited key of the db may hold something else now. */
static void
db_modified_cb(engine_t *s, int db_id) {
    (void)s;
    if (s->block->nblocked == 0)
        return;
    ht_iter_t it;
    ht_iter_init(&it, s->block->keys);
    for (bkey_t *k; (k = ht_iter_next(&it));)
        if ((db_id < 0 || k->lk.db_id == db_id) && k->nwait > 0)
            mark_ready(s, k);
    ht_iter_done(&it);
}

static void
cleanup_cb(client_t *c) {
    if (c->bstate)
        unblock(c, false, NULL);
    for (size_t i = 0; i < c->eng->block->nresume; i++)
        if (c->eng->block->resume[i] == c)
            c->eng->block->resume[i] = NULL; /* dropped when the list is processed */
}

static void
after_command_cb(client_t *c) {
    if (c->eng->block->nready)
        block_handle_ready(c->eng);
}

void
block_init(engine_t *s) {
    ASSERT(s->block == NULL);
    s->block = kcalloc(1, sizeof *s->block);
    s->block->keys = ht_create(&bkey_type);
    ASSERT(s->block->keys != NULL);
    exec_hooks_t h = {0};
    h.key_modified = key_modified_cb;
    h.db_modified = db_modified_cb;
    h.client_cleanup = cleanup_cb;
    h.after_command = after_command_cb;
    engine_add_hooks(s, &h);
}

/* ---- deadlines, resuming, CLIENT UNBLOCK ------------------------------------------------- */

static void
expire_deadlines(engine_t *eng) {
    int64_t now = util_time_ms();
    while (eng->block->nheap > 0 && eng->block->heap[0]->deadline_ms <= now) {
        bstate_t *b = eng->block->heap[0];
        client_t *c = b->c;
        block_timeout_cb cb = b->on_timeout;
        unblock(c, false, NULL);
        cb(c);
        resume_later(c);
    }
}

static void
resume_clients(engine_t *eng) {
    while (eng->block->nresume > 0) {
        client_t **list = eng->block->resume;
        size_t n = eng->block->nresume;
        eng->block->resume = NULL;
        eng->block->nresume = eng->block->resume_cap = 0;
        for (size_t i = 0; i < n; i++)
            if (list[i] && !(list[i]->flags & CLIENT_BLOCKED))
                client_resume(list[i]);
        kfree(list);
    }
}

void
block_before_sleep(engine_t *s) {
    if (s->block->nheap > 0)
        expire_deadlines(s);
    block_handle_ready(s);
    resume_clients(s);
}

int64_t
block_next_deadline_ms(engine_t *eng) {
    return eng->block->nheap > 0 ? eng->block->heap[0]->deadline_ms : 0;
}

bool
block_unblock_client(client_t *c, bool with_error) {
    if (!c->bstate)
        return false;
    block_timeout_cb cb = ((bstate_t *)c->bstate)->on_timeout;
    unblock(c, false, NULL);
    if (with_error)
        reply_err(c, "UNBLOCKED client unblocked via CLIENT UNBLOCK");
    else
        cb(c);
    resume_later(c);
    return true;
}

/* ---- arguments ---------------------------------------------------------------------------- */

bool
block_allowed(const client_t *c) {
    if (c->flags & (CLIENT_MULTI | CLIENT_IN_EXEC | CLIENT_FAKE))
        return false;
    if (c->conn.fd < 0 || c->eng->wal_refuse_reason)
        return false;
    return true;
}

int
block_parse_timeout(client_t *c, const karg_t *arg, int64_t *deadline_ms) {
    long double secs;
    if (!util_parse_ld(arg->p, arg->n, &secs)) {
        reply_err(c, "ERR timeout is not a float or out of range");
        return KERR_INVAL;
    }
    long double ms = ceill(secs * 1000.0L);
    if (ms > (long double)INT64_MAX) {
        reply_err(c, "ERR timeout is out of range");
        return KERR_INVAL;
    }
    if (ms < 0) {
        reply_err(c, "ERR timeout is negative");
        return KERR_INVAL;
    }
    int64_t tval = (int64_t)ms;
    if (tval > 0) {
        int64_t now = db_now_ms(&c->eng->dbenv);
        if (tval > INT64_MAX - now) {
            reply_err(c, "ERR timeout is out of range");
            return KERR_INVAL;
        }
        tval += now;
    }
    *deadline_ms = tval;
    return 0;
}

size_t
block_clients_count(engine_t *eng) {
    return eng->block->nblocked;
}

size_t
block_keys_count(engine_t *eng) {
    return eng->block->keys ? ht_size(eng->block->keys) : 0;
}
