/*
 * watch.c - watched keys and their invalidation (see watch.h).
 *
 * wkey_t is one watched (db, key) with the array of its watchers; a watcher remembers whether the
 * key was already logically expired when it ran WATCH (Valkey 7's `expired` flag), because such
 * a key being deleted by expiry later is no change for that client. The client's own list is an
 * array of wkey_t pointers, so UNWATCH is O(its keys x watchers per key).
 */
#include "watch.h"

#include <stddef.h>
#include <string.h>

#include "kassert.h"
#include "exec.h"
#include "kmem.h"
#include "engine.h"
#include "ht.h"

typedef struct watcher {
    client_t *c;
    bool expired_at_watch; /* the key existed but was logically expired at WATCH time */
} watcher_t;

typedef struct wkey {
    char *key; /* owned */
    size_t n;
    int db;
    uint32_t nwatchers, cap;
    watcher_t *watchers;
} wkey_t;

/* c->watched */
typedef struct wlist {
    wkey_t **keys;
    uint32_t n, cap;
} wlist_t;

typedef struct wk_lookup {
    const char *key;
    size_t n;
    int db;
} wk_lookup_t;


static uint64_t
hash_key(const void *key) {
    const wk_lookup_t *k = key;
    return ht_hash_bytes(k->key, k->n) ^ ((uint64_t)k->db * 0x9e3779b97f4a7c15ull);
}

static uint64_t
hash_entry(const void *entry) {
    const wkey_t *w = entry;
    wk_lookup_t k = {w->key, w->n, w->db};
    return hash_key(&k);
}

static int
key_eq(const void *entry, const void *key) {
    const wkey_t *w = entry;
    const wk_lookup_t *k = key;
    return w->db == k->db && w->n == k->n && memcmp(w->key, k->key, k->n) == 0;
}

static void
wkey_free(void *entry) {
    wkey_t *w = entry;
    kfree(w->watchers);
    kfree(w->key);
    kfree(w);
}

static const void *
wkey_self(const void *entry) {
    return entry; /* a wkey_t starts with the fields of its lookup key */
}

static_assert(offsetof(wkey_t, key) == offsetof(wk_lookup_t, key) &&
                  offsetof(wkey_t, n) == offsetof(wk_lookup_t, n) &&
                  offsetof(wkey_t, db) == offsetof(wk_lookup_t, db),
              "a wkey_t must read as its own lookup key");

static const ht_type_t wkey_type = {hash_key, hash_entry, key_eq, wkey_free, wkey_self};

static watcher_t *
find_watcher(wkey_t *w, const client_t *c) {
    for (uint32_t i = 0; i < w->nwatchers; i++)
        if (w->watchers[i].c == c)
            return &w->watchers[i];
    return NULL;
}

void
watch_key(client_t *c, const char *key, size_t klen) {
    wk_lookup_t k = {key, klen, c->db_id};
    wkey_t *w = ht_find(c->eng->watched_keys, &k);
    if (w && find_watcher(w, c))
        return;
    if (!w) {
        w = kcalloc(1, sizeof *w);
        w->key = kmalloc(klen ? klen : 1);
        memcpy(w->key, key, klen);
        w->n = klen;
        w->db = c->db_id;
        ht_add(c->eng->watched_keys, w);
    }
    if (w->nwatchers == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 2;
        w->watchers = krealloc(w->watchers, sizeof *w->watchers * w->cap);
    }
    kobj_t *o = db_find(c->db, key, klen);
    w->watchers[w->nwatchers++] = (watcher_t){c, o && db_is_expired(&c->eng->dbenv, o)};
    wlist_t *l = c->watched;
    if (!l)
        c->watched = l = kcalloc(1, sizeof *l);
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4;
        l->keys = krealloc(l->keys, sizeof *l->keys * l->cap);
    }
    l->keys[l->n++] = w;
}

void
watch_unwatch_all(client_t *c) {
    wlist_t *l = c->watched;
    if (!l)
        return;
    for (uint32_t i = 0; i < l->n; i++) {
        wkey_t *w = l->keys[i];
        watcher_t *me = find_watcher(w, c);
        ASSERT(me);
        *me = w->watchers[--w->nwatchers];
        if (w->nwatchers == 0) {
            wk_lookup_t k = {w->key, w->n, w->db};
            ht_delete(c->eng->watched_keys, &k);
        }
    }
    kfree(l->keys);
    kfree(l);
    c->watched = NULL;
}

static bool
watch_exec_check(client_t *c) {
    wlist_t *l = c->watched;
    if (!l)
        return true;
    for (uint32_t i = 0; i < l->n; i++) {
        wkey_t *w = l->keys[i];
        watcher_t *me = find_watcher(w, c);
        if (me->expired_at_watch)
            continue;
        db_t *db = engine_db(c->eng, w->db);
        kobj_t *o = db ? db_find(db, w->key, w->n) : NULL;
        if (o && db_is_expired(&c->eng->dbenv, o))
            return false;
    }
    return true;
}

/* The key_modified hook: runs for writes (after the change) and for expiry/eviction (before the
 * object is freed), so "absent or expired" means logically absent in both cases. */
static void
key_modified_cb(engine_t *s, db_t *db, const char *key, size_t klen) {
    if (!s->watched_keys || ht_size(s->watched_keys) == 0)
        return;
    wk_lookup_t k = {key, klen, db->id};
    wkey_t *w = ht_find(s->watched_keys, &k);
    if (!w)
        return;
    kobj_t *o = NULL;
    bool looked = false;
    for (uint32_t i = 0; i < w->nwatchers; i++) {
        watcher_t *wt = &w->watchers[i];
        if (wt->expired_at_watch) {
            if (!looked) {
                o = db_find(db, key, klen);
                looked = true;
            }
            if (!o || db_is_expired(&s->dbenv, o)) {
                wt->expired_at_watch = false; /* deleted now: later changes are real changes */
                continue;
            }
        }
        wt->c->flags |= CLIENT_DIRTY_CAS;
    }
}

/* FLUSHDB/FLUSHALL (with_id -1) and SWAPDB, before the change, with Valkey's rule: a watched key
 * of db_id changes only if it exists there now or in the db replacing it; a key that was expired
 * at WATCH and is now simply gone, or replaced by another expired one, is no change, and an absent
 * key replaced by an expired one counts as expired at WATCH from now on. */
static void
db_replacing_cb(engine_t *s, int db_id, int with_id) {
    if (!s->watched_keys || ht_size(s->watched_keys) == 0)
        return;
    db_t *db = engine_db(s, db_id), *with = with_id >= 0 ? engine_db(s, with_id) : NULL;
    ht_iter_t it;
    ht_iter_init(&it, s->watched_keys);
    wkey_t *w;
    while ((w = ht_iter_next(&it))) {
        if (w->db != db_id)
            continue;
        kobj_t *old = db_find(db, w->key, w->n), *repl = with ? db_find(with, w->key, w->n) : NULL;
        if (!old && !repl)
            continue;
        bool repl_expired = repl && db_is_expired(&s->dbenv, repl);
        for (uint32_t i = 0; i < w->nwatchers; i++) {
            watcher_t *wt = &w->watchers[i];
            if (wt->expired_at_watch) {
                if (!repl) {
                    wt->expired_at_watch = false; /* deleted now: later changes are real ones */
                    continue;
                }
                if (repl_expired)
                    continue; /* still logically absent */
            } else if (!old && repl_expired) {
                wt->expired_at_watch = true;
                continue;
            }
            wt->c->flags |= CLIENT_DIRTY_CAS;
        }
    }
    ht_iter_done(&it);
}

void
watch_init(engine_t *eng) {
    if (eng->watched_keys)
        return;
    eng->watched_keys = ht_create(&wkey_type);
    exec_hooks_t h = {0};
    h.key_modified = key_modified_cb;
    h.db_replacing = db_replacing_cb;
    h.unwatch = watch_unwatch_all;
    h.exec_check = watch_exec_check;
    engine_add_hooks(eng, &h);
}

size_t
watch_count(const client_t *c) {
    const wlist_t *l = c->watched;
    return l ? l->n : 0;
}
