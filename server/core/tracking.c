/*
 * tracking.c - client-side caching (see tracking.h). Main thread only.
 *
 * State: the tracking table (tkey_t: key -> ids of the clients that read it), the array of
 * tracking clients, and per client (c->track, a tclient_t) its options, redirect, BCAST
 * prefixes and the keys waiting to be sent (its own changes until its reply is out, and BCAST
 * batches until the loop sleeps). Ids, not pointers, are kept in the table: a client that went
 * away is skipped when its ids come up.
 */
#include "tracking.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "engine.h"
#include "ht.h"
#include "kmem.h"
#include "reply.h"

#define PENDING_MAX      4096 /* a client's unsent keys; beyond, it gets a null (drop all) */
#define EVICT_PER_SLEEP  1000 /* table keys dropped per loop turn when over the limit */
#define TRACK_PREFIX_MAX 256

typedef struct tkey {
    char *key; /* owned; first two fields read as a tk_lookup_t */
    size_t n;
    uint64_t *ids;
    uint32_t nids, cap;
} tkey_t;

typedef struct tk_lookup {
    const char *key;
    size_t n;
} tk_lookup_t;

static_assert(offsetof(tkey_t, key) == offsetof(tk_lookup_t, key) &&
                  offsetof(tkey_t, n) == offsetof(tk_lookup_t, n),
              "a tkey_t must read as its own lookup key");

typedef struct tclient {
    uint32_t flags; /* TRACK_* */
    uint64_t redirect;
    karg_t *prefixes; /* owned copies */
    int nprefix;
    karg_t *pending; /* owned copies of keys not sent yet */
    size_t npending, cap;
    bool pending_overflow; /* too many keys waited: a null (drop everything) goes instead */
    bool pending_null;     /* a flush happened while its target was running a command */
} tclient_t;

struct tracking {
    ht_t *keys;
    client_t **clients; /* every client with tracking on */
    size_t n, cap;
    size_t items; /* (key, id) pairs in the table */
};

static uint64_t
hash_key(const void *key) {
    const tk_lookup_t *k = key;
    return ht_hash_bytes(k->key, k->n);
}

static int
key_eq(const void *entry, const void *key) {
    const tkey_t *t = entry;
    const tk_lookup_t *k = key;
    return t->n == k->n && memcmp(t->key, k->key, k->n) == 0;
}

static void
tkey_free(void *entry) {
    tkey_t *t = entry;
    kfree(t->ids);
    kfree(t->key);
    kfree(t);
}

static const void *
tkey_self(const void *entry) {
    return entry;
}

static const ht_type_t tkey_type = {hash_key, NULL, key_eq, tkey_free, tkey_self};

static tclient_t *
tc(const client_t *c) {
    return c->track;
}

bool
tracking_on(const client_t *c) {
    return c->track != NULL;
}

uint32_t
tracking_flags(const client_t *c) {
    return c->track ? tc(c)->flags : 0;
}

long long
tracking_redirect(const client_t *c) {
    return c->track ? (long long)tc(c)->redirect : -1;
}

const karg_t *
tracking_prefixes(const client_t *c, int *n) {
    *n = c->track ? tc(c)->nprefix : 0;
    return c->track ? tc(c)->prefixes : NULL;
}

void
tracking_set_caching(client_t *c) {
    if (c->track)
        tc(c)->flags |= TRACK_CACHING;
}

static client_t *
client_by_id(engine_t *s, uint64_t id) {
    for (client_t *c = s->clients; c; c = c->next)
        if (c->id == id)
            return c;
    return NULL;
}

static client_t *
tracking_client_by_id(engine_t *s, uint64_t id) {
    struct tracking *t = s->track;
    for (size_t i = 0; i < t->n; i++)
        if (t->clients[i]->id == id)
            return t->clients[i];
    return NULL;
}

/* Where c's invalidations go: itself, or its redirect client (NULL when that one is gone). */
static client_t *
target_of(engine_t *s, client_t *c) {
    return tc(c)->redirect ? client_by_id(s, tc(c)->redirect) : c;
}

/* One invalidation message for c: keys (NULL: the null of a flush), to c itself or to its
 * redirect client, in the form that client can take. */
static void
deliver(engine_t *s, client_t *c, const karg_t *keys, size_t n) {
    tclient_t *t = tc(c);
    client_t *to = c;
    if (t->redirect) {
        to = client_by_id(s, t->redirect);
        if (!to) {
            if (!(t->flags & TRACK_BROKEN_REDIR) && c->resp >= 3) {
                reply_push(c, 2);
                reply_bulk_cstr(c, "tracking-redir-broken");
                reply_int(c, (long long)t->redirect);
            }
            t->flags |= TRACK_BROKEN_REDIR;
            return;
        }
    }
    if (to->resp >= 3) {
        reply_push(to, 2);
        reply_bulk_cstr(to, "invalidate");
    } else if (t->redirect && (to->flags & CLIENT_PUBSUB)) {
        reply_array(to, 3);
        reply_bulk_cstr(to, "message");
        reply_bulk_cstr(to, "__redis__:invalidate");
    } else {
        return; /* RESP2 without a subscribed redirect client: no way to tell it */
    }
    if (!keys) {
        reply_null(to);
    } else {
        reply_array(to, (long long)n);
        for (size_t i = 0; i < n; i++)
            reply_bulk(to, keys[i].p, keys[i].n);
    }
    client_check_output_limit(to);
}

static void
pending_add(tclient_t *t, const char *key, size_t klen) {
    if (t->pending_overflow)
        return;
    for (size_t i = 0; i < t->npending && i < 64; i++) /* cheap dedupe of a burst */
        if (t->pending[t->npending - 1 - i].n == klen &&
            !memcmp(t->pending[t->npending - 1 - i].p, key, klen))
            return;
    if (t->npending == PENDING_MAX) {
        t->pending_overflow = true;
        return;
    }
    if (t->npending == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 8;
        t->pending = krealloc(t->pending, sizeof *t->pending * t->cap);
    }
    t->pending[t->npending++] = (karg_t){kstrndup(key, klen), klen};
}

static void
pending_clear(tclient_t *t) {
    for (size_t i = 0; i < t->npending; i++)
        kfree((void *)t->pending[i].p);
    t->npending = 0;
    t->pending_overflow = false;
    t->pending_null = false;
}

/* Send c's pending keys: BCAST as one batch, default mode one message per key (Valkey's). */
static void
flush_pending(engine_t *s, client_t *c) {
    tclient_t *t = tc(c);
    if (!t->npending && !t->pending_overflow && !t->pending_null)
        return;
    if (t->pending_overflow || t->pending_null)
        deliver(s, c, NULL, 0);
    else if (t->flags & TRACK_BCAST)
        deliver(s, c, t->pending, t->npending);
    else
        for (size_t i = 0; i < t->npending; i++)
            deliver(s, c, &t->pending[i], 1);
    pending_clear(t);
}

static bool
has_prefix(const karg_t *key, const karg_t *prefix) {
    return key->n >= prefix->n && !memcmp(key->p, prefix->p, prefix->n);
}

/* The key_modified hook: default-mode readers are told once; BCAST clients collect the key. */
static void
key_modified_cb(engine_t *s, db_t *db, const char *key, size_t klen) {
    (void)db;
    struct tracking *tr = s->track;
    if (tr->n == 0)
        return;
    client_t *cur = s->current;
    tk_lookup_t lk = {key, klen};
    tkey_t *tk = ht_size(tr->keys) ? ht_find(tr->keys, &lk) : NULL;
    if (tk) {
        for (uint32_t i = 0; i < tk->nids; i++) {
            client_t *c = tracking_client_by_id(s, tk->ids[i]);
            if (!c || (tc(c)->flags & TRACK_BCAST))
                continue;
            if (c == cur && (tc(c)->flags & TRACK_NOLOOP))
                continue;
            karg_t k = {key, klen};
            /* A message to the client running a command would land inside its reply (an EXEC's
             * array): it waits for the end of that command (after_command_cb). */
            if (cur && target_of(s, c) == cur)
                pending_add(tc(c), key, klen);
            else
                deliver(s, c, &k, 1);
        }
        tr->items -= tk->nids;
        ht_delete(tr->keys, &lk);
    }
    karg_t k = {key, klen};
    for (size_t i = 0; i < tr->n; i++) {
        client_t *c = tr->clients[i];
        tclient_t *t = tc(c);
        if (!(t->flags & TRACK_BCAST) || (c == cur && (t->flags & TRACK_NOLOOP)))
            continue;
        for (int p = 0; p < t->nprefix; p++)
            if (has_prefix(&k, &t->prefixes[p])) {
                pending_add(t, key, klen);
                break;
            }
    }
}

static void
remember(engine_t *s, client_t *c, const char *key, size_t klen) {
    struct tracking *tr = s->track;
    tk_lookup_t lk = {key, klen};
    tkey_t *tk = ht_find(tr->keys, &lk);
    if (!tk) {
        tk = kcalloc(1, sizeof *tk);
        tk->key = kstrndup(key, klen);
        tk->n = klen;
        ht_add(tr->keys, tk);
    }
    for (uint32_t i = 0; i < tk->nids; i++)
        if (tk->ids[i] == c->id)
            return;
    if (tk->nids == tk->cap) {
        tk->cap = tk->cap ? tk->cap * 2 : 2;
        tk->ids = krealloc(tk->ids, sizeof *tk->ids * tk->cap);
    }
    tk->ids[tk->nids++] = c->id;
    tr->items++;
}

void
tracking_remember_keys(client_t *c, cmd_def_t *cmd) {
    tclient_t *t = tc(c);
    if (!(cmd->flags & CMD_READONLY) || (cmd->flags & CMD_WRITE) || (t->flags & TRACK_BCAST))
        return;
    if ((t->flags & TRACK_OPTIN) && !(t->flags & TRACK_CACHING))
        return;
    if ((t->flags & TRACK_OPTOUT) && (t->flags & TRACK_CACHING))
        return;
    int idx[256];
    int n = cmd_get_keys(cmd, c->argc, c->argv, idx, 256);
    for (int i = 0; i < n; i++)
        remember(c->eng, c, c->argv[idx[i]].p, c->argv[idx[i]].n);
}

/* After each command of c: its own invalidations go out (after its reply), and CLIENT CACHING
 * lasts one command (a whole transaction when given before MULTI or inside it). */
static void
after_command_cb(client_t *c) {
    engine_t *s = c->eng;
    struct tracking *tr = s->track;
    for (size_t i = 0; i < tr->n; i++) { /* messages held while c's command ran */
        tclient_t *ti = tc(tr->clients[i]);
        if ((ti->npending || ti->pending_null) && !(ti->flags & TRACK_BCAST) &&
            target_of(s, tr->clients[i]) == c)
            flush_pending(s, tr->clients[i]);
    }
    if (!c->track)
        return;
    tclient_t *t = tc(c);
    if ((t->flags & TRACK_CACHING) && !(c->flags & CLIENT_MULTI) &&
        !(c->last_cmd && !strcmp(c->last_cmd, "client|caching")))
        t->flags &= ~(uint32_t)TRACK_CACHING;
}

void
tracking_invalidate_all(engine_t *s) {
    struct tracking *tr = s->track;
    for (size_t i = 0; i < tr->n; i++) {
        client_t *c = tr->clients[i];
        pending_clear(tc(c));
        if (s->current && target_of(s, c) == s->current)
            tc(c)->pending_null = true; /* after the running command (FLUSHALL inside EXEC) */
        else
            deliver(s, c, NULL, 0);
    }
    ht_clear(tr->keys);
    tr->items = 0;
}

void
tracking_before_sleep(engine_t *s) {
    struct tracking *tr = s->track;
    for (size_t i = 0; i < tr->n; i++)
        flush_pending(s, tr->clients[i]);
    long long max = s->cfg.tracking_table_max_keys;
    for (int k = 0; max > 0 && (long long)ht_size(tr->keys) > max && k < EVICT_PER_SLEEP; k++) {
        tkey_t *tk = ht_random(tr->keys);
        if (!tk)
            break;
        karg_t key = {tk->key, tk->n};
        for (uint32_t i = 0; i < tk->nids; i++) {
            client_t *c = tracking_client_by_id(s, tk->ids[i]);
            if (c)
                deliver(s, c, &key, 1);
        }
        tr->items -= tk->nids;
        tk_lookup_t lk = {tk->key, tk->n};
        ht_delete(tr->keys, &lk);
    }
}

static bool
overlap(const karg_t *a, const karg_t *b) {
    return has_prefix(a, b) || has_prefix(b, a);
}

bool
tracking_enable(client_t *c, uint32_t flags, uint64_t redirect, int nprefix, const karg_t *prefixes,
                char *err, size_t errlen) {
    engine_t *s = c->eng;
    tclient_t *t = tc(c);
    int have = t ? t->nprefix : 0;
    for (int i = 0; i < nprefix; i++) {
        for (int j = 0; j < have; j++)
            if (overlap(&prefixes[i], &t->prefixes[j])) {
                snprintf(err, errlen,
                         "Prefix '%.*s' overlaps with an existing prefix '%.*s'. Prefixes for a "
                         "single client must not overlap.",
                         (int)prefixes[i].n, prefixes[i].p, (int)t->prefixes[j].n,
                         t->prefixes[j].p);
                return false;
            }
        for (int j = 0; j < nprefix; j++)
            if (i != j && overlap(&prefixes[i], &prefixes[j])) {
                snprintf(err, errlen,
                         "Prefix '%.*s' overlaps with another provided prefix '%.*s'. Prefixes "
                         "for a single client must not overlap.",
                         (int)prefixes[i].n, prefixes[i].p, (int)prefixes[j].n, prefixes[j].p);
                return false;
            }
    }
    if (have + nprefix > TRACK_PREFIX_MAX) {
        snprintf(err, errlen, "at most %d prefixes per client", TRACK_PREFIX_MAX);
        return false;
    }
    struct tracking *tr = s->track;
    if (!t) {
        t = c->track = kcalloc(1, sizeof *t);
        if (tr->n == tr->cap) {
            tr->cap = tr->cap ? tr->cap * 2 : 8;
            tr->clients = krealloc(tr->clients, sizeof *tr->clients * tr->cap);
        }
        tr->clients[tr->n++] = c;
    }
    t->flags = flags & (TRACK_BCAST | TRACK_OPTIN | TRACK_OPTOUT | TRACK_NOLOOP);
    t->redirect = redirect;
    if ((flags & TRACK_BCAST) && nprefix == 0 && have == 0)
        nprefix = -1; /* BCAST without prefixes: the empty prefix, every key */
    int add = nprefix < 0 ? 1 : nprefix;
    if (add) {
        t->prefixes = krealloc(t->prefixes, sizeof *t->prefixes * (size_t)(have + add));
        for (int i = 0; i < add; i++) {
            const karg_t *p = nprefix < 0 ? &(karg_t){"", 0} : &prefixes[i];
            t->prefixes[have + i] = (karg_t){kstrndup(p->p, p->n), p->n};
        }
        t->nprefix = have + add;
    }
    return true;
}

void
tracking_disable(client_t *c) {
    tclient_t *t = tc(c);
    if (!t)
        return;
    struct tracking *tr = c->eng->track;
    for (size_t i = 0; i < tr->n; i++)
        if (tr->clients[i] == c) {
            tr->clients[i] = tr->clients[--tr->n];
            break;
        }
    pending_clear(t);
    kfree(t->pending);
    for (int i = 0; i < t->nprefix; i++)
        kfree((void *)t->prefixes[i].p);
    kfree(t->prefixes);
    kfree(t);
    c->track = NULL;
}

void
tracking_info(const engine_t *s, size_t *clients, size_t *keys, size_t *items, size_t *prefixes) {
    const struct tracking *tr = s->track;
    *clients = tr->n;
    *keys = ht_size(tr->keys);
    *items = tr->items;
    *prefixes = 0;
    for (size_t i = 0; i < tr->n; i++)
        *prefixes += (size_t)tc(tr->clients[i])->nprefix;
}

void
tracking_init(engine_t *s) {
    s->track = kcalloc(1, sizeof *s->track);
    s->track->keys = ht_create(&tkey_type);
    exec_hooks_t h = {0};
    h.key_modified = key_modified_cb;
    h.client_cleanup = tracking_disable;
    h.after_command = after_command_cb;
    engine_add_hooks(s, &h);
}
