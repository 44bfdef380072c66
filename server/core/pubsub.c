/*
 * pubsub.c - subscription tables and message delivery (see pubsub.h).
 *
 * Each kind has a server-wide table of psub_entry_t (name -> array of clients). A client's state
 * holds, per kind, a table of pointers to the same entries, so unsubscribing is one lookup in
 * each table and an O(subscribers) removal from the entry's client array. An entry is freed when
 * its last subscriber leaves, so PUBSUB CHANNELS / NUMPAT count only live names.
 */
#include "pubsub.h"

#include <assert.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "kassert.h"
#include "exec.h"
#include "kmem.h"
#include "util.h"
#include "ht.h"
#include "reply.h"

typedef struct psub_entry {
    char *name; /* owned, NUL-terminated for convenience */
    size_t n;
    client_t **clients; /* subscribers in no particular order */
    uint32_t nclients, cap;
} psub_entry_t;

/* c->pubsub: per kind, the entries this client is subscribed to (borrowed pointers). */
typedef struct psub_client {
    ht_t *sets[PUBSUB_KINDS];
} psub_client_t;

typedef struct name_key {
    const char *p;
    size_t n;
} name_key_t;

/* The engine's pub/sub state (engine_t.pubsub): channel, pattern and shard-channel names. */
struct pubsub_state {
    ht_t *tables[PUBSUB_KINDS];
};

static uint64_t
hash_key(const void *key) {
    const name_key_t *k = key;
    return ht_hash_bytes(k->p, k->n);
}

static uint64_t
hash_entry(const void *entry) {
    const psub_entry_t *e = entry;
    return ht_hash_bytes(e->name, e->n);
}

static int
key_eq(const void *entry, const void *key) {
    const psub_entry_t *e = entry;
    const name_key_t *k = key;
    return e->n == k->n && memcmp(e->name, k->p, k->n) == 0;
}

static void
entry_free(void *entry) {
    psub_entry_t *e = entry;
    kfree(e->clients);
    kfree(e->name);
    kfree(e);
}

static const void *
entry_key_self(const void *entry) {
    /* A name_key_t is a prefix-compatible view: psub_entry_t starts with (name, n). */
    return entry;
}

static const ht_type_t server_type = {hash_key, hash_entry, key_eq, entry_free, entry_key_self};
static const ht_type_t client_type = {hash_key, hash_entry, key_eq, NULL, entry_key_self};

static_assert(offsetof(psub_entry_t, name) == offsetof(name_key_t, p) &&
                  offsetof(psub_entry_t, n) == offsetof(name_key_t, n),
              "an entry must read as its own lookup key");

static psub_client_t *
client_state(client_t *c, bool create) {
    if (!c->pubsub && create) {
        psub_client_t *st = kcalloc(1, sizeof *st);
        for (int k = 0; k < PUBSUB_KINDS; k++)
            st->sets[k] = ht_create(&client_type);
        c->pubsub = st;
    }
    return c->pubsub;
}

size_t
pubsub_client_count(const client_t *c, int kind) {
    const psub_client_t *st = c->pubsub;
    return st ? ht_size(st->sets[kind]) : 0;
}

bool
pubsub_client_any(client_t *c, int kind, bool (*fn)(void *ctx, const char *name, size_t n),
                  void *ctx) {
    psub_client_t *st = c->pubsub;
    if (!st)
        return false;
    bool hit = false;
    ht_iter_t it;
    ht_iter_init(&it, st->sets[kind]);
    for (psub_entry_t *e; !hit && (e = ht_iter_next(&it));)
        hit = fn(ctx, e->name, e->n);
    ht_iter_done(&it);
    return hit;
}

static void
entry_remove_client(psub_entry_t *e, client_t *c) {
    for (uint32_t i = 0; i < e->nclients; i++) {
        if (e->clients[i] == c) {
            e->clients[i] = e->clients[--e->nclients];
            return;
        }
    }
    ASSERT(!"subscriber missing from its entry");
}

bool
pubsub_add(client_t *c, int kind, const char *name, size_t n) {
    psub_client_t *st = client_state(c, true);
    c->flags |= CLIENT_PUBSUB;
    name_key_t k = {name, n};
    ht_pos_t pos;
    if (ht_find_pos(st->sets[kind], &k, &pos))
        return false;
    psub_entry_t *e = ht_find(c->eng->pubsub->tables[kind], &k);
    if (!e) {
        e = kcalloc(1, sizeof *e);
        e->name = kstrndup(name, n);
        e->n = n;
        ht_add(c->eng->pubsub->tables[kind], e);
    }
    if (e->nclients == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 4;
        e->clients = krealloc(e->clients, sizeof *e->clients * e->cap);
    }
    e->clients[e->nclients++] = c;
    ht_insert_at(st->sets[kind], &pos, e);
    return true;
}

bool
pubsub_remove(client_t *c, int kind, const char *name, size_t n) {
    psub_client_t *st = c->pubsub;
    name_key_t k = {name, n};
    psub_entry_t *e = st ? ht_pop(st->sets[kind], &k) : NULL;
    if (!e)
        return false;
    entry_remove_client(e, c);
    if (e->nclients == 0)
        ht_delete(c->eng->pubsub->tables[kind], &k);
    return true;
}

size_t
pubsub_remove_all(client_t *c, int kind, pubsub_removed_cb cb, void *ctx) {
    psub_client_t *st = c->pubsub;
    if (!st)
        return 0;
    size_t count = 0;
    ht_iter_t it;
    ht_iter_init(&it, st->sets[kind]);
    psub_entry_t *e;
    while ((e = ht_iter_next(&it))) {
        name_key_t k = {e->name, e->n};
        ht_pop(st->sets[kind], &k);
        entry_remove_client(e, c);
        if (cb)
            cb(c, kind, e->name, e->n, ctx);
        if (e->nclients == 0)
            ht_delete(c->eng->pubsub->tables[kind], &k);
        count++;
    }
    ht_iter_done(&it);
    return count;
}

void
pubsub_client_gc(client_t *c) {
    psub_client_t *st = c->pubsub;
    if (!st)
        return;
    for (int k = 0; k < PUBSUB_KINDS; k++)
        if (ht_size(st->sets[k]) > 0)
            return;
    for (int k = 0; k < PUBSUB_KINDS; k++)
        ht_release(st->sets[k]);
    kfree(st);
    c->pubsub = NULL;
    c->flags &= ~CLIENT_PUBSUB;
}

static void
pubsub_client_cleanup_cb(client_t *c) {
    for (int k = 0; k < PUBSUB_KINDS; k++)
        pubsub_remove_all(c, k, NULL, NULL);
    pubsub_client_gc(c);
}

static void
deliver(client_t *to, const char *kind, const psub_entry_t *pat, const char *ch, size_t chn,
        const char *msg, size_t msgn) {
    if (to->conn.flags & CONN_CLOSE_ASAP)
        return; /* already over its limit: do not grow the buffer of a client being closed */
    uint64_t at = to->conn.obase + to->conn.olen;
    reply_push(to, pat ? 4 : 3);
    reply_bulk(to, kind, strlen(kind));
    if (pat)
        reply_bulk(to, pat->name, pat->n);
    reply_bulk(to, ch, chn);
    reply_bulk(to, msg, msgn);
    if (to->call_depth) {
        /* Its own command is running (EXEC, or a script whose commands run on the script
         * client): the push would land inside or before that command's reply. Move it aside;
         * exec_call appends it after the reply. */
        size_t n = (size_t)(to->conn.obase + to->conn.olen - at);
        if (to->deferred_push_len + n > to->deferred_push_cap) {
            size_t cap = to->deferred_push_cap ? to->deferred_push_cap : 256;
            while (cap < to->deferred_push_len + n)
                cap *= 2;
            to->deferred_push = krealloc(to->deferred_push, cap);
            to->deferred_push_cap = cap;
        }
        memcpy(to->deferred_push + to->deferred_push_len,
               to->conn.obuf + (size_t)(at - to->conn.obase), n);
        to->deferred_push_len += n;
        conn_out_truncate(&to->conn, at);
        return;
    }
    client_check_output_limit(to);
}

long long
pubsub_publish(engine_t *eng, const char *ch, size_t chn, const char *msg, size_t msgn,
               bool shard) {
    long long receivers = 0;
    name_key_t k = {ch, chn};
    psub_entry_t *e = ht_find(eng->pubsub->tables[shard ? PUBSUB_SHARD : PUBSUB_CHANNEL], &k);
    if (e) {
        for (uint32_t i = 0; i < e->nclients; i++)
            deliver(e->clients[i], shard ? "smessage" : "message", NULL, ch, chn, msg, msgn);
        receivers += e->nclients;
    }
    if (shard || ht_size(eng->pubsub->tables[PUBSUB_PATTERN]) == 0)
        return receivers;
    ht_iter_t it;
    ht_iter_init(&it, eng->pubsub->tables[PUBSUB_PATTERN]);
    while ((e = ht_iter_next(&it))) {
        if (!util_glob_match(e->name, e->n, ch, chn, false))
            continue;
        for (uint32_t i = 0; i < e->nclients; i++)
            deliver(e->clients[i], "pmessage", e, ch, chn, msg, msgn);
        receivers += e->nclients;
    }
    ht_iter_done(&it);
    return receivers;
}

size_t
pubsub_names_count(engine_t *eng, int kind) {
    return ht_size(eng->pubsub->tables[kind]);
}

size_t
pubsub_subscribers(engine_t *eng, int kind, const char *name, size_t n) {
    name_key_t k = {name, n};
    psub_entry_t *e = ht_find(eng->pubsub->tables[kind], &k);
    return e ? e->nclients : 0;
}

void
pubsub_foreach_name(engine_t *eng, int kind, const char *pat, size_t patn,
                    void (*fn)(void *ctx, const char *name, size_t n), void *ctx) {
    ht_iter_t it;
    ht_iter_init(&it, eng->pubsub->tables[kind]);
    psub_entry_t *e;
    while ((e = ht_iter_next(&it)))
        if (!pat || util_glob_match(pat, patn, e->name, e->n, false))
            fn(ctx, e->name, e->n);
    ht_iter_done(&it);
}

/* "<prefix><middle>" into buf (or a heap buffer when it does not fit); returns the buffer. */
static char *
join(char *buf, size_t cap, const char *prefix, size_t pn, const char *mid, size_t mn) {
    char *p = pn + mn <= cap ? buf : kmalloc(pn + mn);
    memcpy(p, prefix, pn);
    memcpy(p + pn, mid, mn);
    return p;
}

/* The exec `notify` hook: keyspace and keyevent channels, as Valkey's notifyKeyspaceEvent. */
static void
notify_cb(engine_t *s, int type, const char *event, const char *key, size_t klen, int db) {
    (void)type;
    int flags = s->cfg.notify_flags;
    char prefix[48], stack[256];
    size_t evn = strlen(event);
    if (flags & NOTIFY_KEYSPACE) {
        int pn = snprintf(prefix, sizeof prefix, "__keyspace@%d__:", db);
        char *ch = join(stack, sizeof stack, prefix, (size_t)pn, key, klen);
        pubsub_publish(s, ch, (size_t)pn + klen, event, evn, false);
        if (ch != stack)
            kfree(ch);
    }
    if (flags & NOTIFY_KEYEVENT) {
        int pn = snprintf(prefix, sizeof prefix, "__keyevent@%d__:", db);
        char *ch = join(stack, sizeof stack, prefix, (size_t)pn, event, evn);
        pubsub_publish(s, ch, (size_t)pn + evn, key, klen, false);
        if (ch != stack)
            kfree(ch);
    }
}

void
pubsub_init(engine_t *eng) {
    ASSERT(eng->pubsub == NULL);
    eng->pubsub = kcalloc(1, sizeof *eng->pubsub);
    for (int k = 0; k < PUBSUB_KINDS; k++)
        eng->pubsub->tables[k] = ht_create(&server_type);
    exec_hooks_t h = {0};
    h.client_cleanup = pubsub_client_cleanup_cb;
    h.notify = notify_cb;
    engine_add_hooks(eng, &h);
}
