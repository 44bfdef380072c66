/*
 * cmd_keys.c - generic key commands: DEL, UNLINK, EXISTS, TYPE, RENAME(NX), COPY, MOVE, KEYS,
 * SCAN, RANDOMKEY, SWAPDB, TOUCH and OBJECT. The expiry commands live in cmd_expire.c.
 *
 * Semantics and error texts follow Valkey 8 (db.c, object.c there). Everything here is
 * deterministic given the keyspace, so write commands are logged as called; the only effects
 * added by hand come from lazy expiry inside db_lookup (a DEL each, see srv_key_expired_cb).
 */
#include <limits.h>
#include <string.h>

#include "cmd.h"
#include "cmd_util.h"
#include "evict.h"
#include "exec.h"
#include "lazyfree.h"
#include "kmem.h"
#include "engine.h"
#include "util.h"
#include "reply.h"


/* A database index argument as Valkey's getIntFromObjectOrReply + selectDb check it; replies
 * and returns false on error. `err` replaces the "not an integer" text when given. */
static bool
parse_db_index(client_t *c, const karg_t *a, const char *err, int *id) {
    long long v;
    if (!util_parse_ll(a->p, a->n, &v) || v < INT_MIN || v > INT_MAX) {
        reply_err(c, err ? err : ERR_NOT_INT);
        return false;
    }
    if (v < 0 || v >= c->eng->cfg.databases) {
        reply_err(c, ERR_DB_INDEX);
        return false;
    }
    *id = (int)v;
    return true;
}

/* The same value under another key; o is consumed. The object embeds its key, so a rename needs
 * a new object, but a collection's structure moves over instead of being deep-copied (RENAME of
 * a big set stays O(1), as in Valkey): only the old object's own allocation is freed. */
static kobj_t *
obj_rekey(kobj_t *o, const char *key, size_t klen) {
    kobj_t *n;
    if (obj_type(o) == OBJ_STRING) {
        n = obj_dup_as(o, key, klen, obj_expire(o));
        obj_free(o);
        return n;
    }
    n = obj_new_ptr(obj_type(o), obj_encoding(o), key, klen, obj_ptr(o), obj_expire(o));
    obj_set_lru(n, obj_lru(o));
    kfree(o); /* the shell only (one kmalloc'd block): the structure now belongs to n */
    return n;
}

/* DEL frees values at once; UNLINK hands big ones to the lazy-free thread. */
static void
del_keys(client_t *c, bool lazy) {
    long long n = 0;
    for (int i = 1; i < c->argc; i++) {
        db_lookup(c->db, c->argv[i].p, c->argv[i].n, DB_LOOKUP_NOTOUCH); /* expire first */
        kobj_t *o = db_unlink(c->db, c->argv[i].p, c->argv[i].n);
        if (!o)
            continue;
        if (lazy)
            lazyfree_obj(c->eng->lazyfree, o);
        else
            obj_free(o);
        srv_key_modified(c->eng, c->db, c->argv[i].p, c->argv[i].n);
        srv_notify(c->eng, NOTIFY_GENERIC, "del", c->argv[i].p, c->argv[i].n, c->db_id);
        n++;
    }
    srv_dirty(c->eng, (uint64_t)n);
    reply_int(c, n);
}

static void
cmd_del(client_t *c) {
    del_keys(c, false);
}

static void
cmd_unlink(client_t *c) {
    del_keys(c, true);
}

static void
cmd_exists(client_t *c) {
    long long n = 0;
    for (int i = 1; i < c->argc; i++)
        n += db_lookup(c->db, c->argv[i].p, c->argv[i].n, DB_LOOKUP_NOTOUCH) != NULL;
    reply_int(c, n);
}

/* TOUCH updates the access time (LRU/LFU) and nothing else: not logged, no dirty. */
static void
cmd_touch(client_t *c) {
    long long n = 0;
    for (int i = 1; i < c->argc; i++)
        n += db_lookup(c->db, c->argv[i].p, c->argv[i].n, 0) != NULL;
    reply_int(c, n);
}

static void
cmd_type(client_t *c) {
    kobj_t *o = db_lookup(c->db, c->argv[1].p, c->argv[1].n, DB_LOOKUP_NOTOUCH);
    reply_simple(c, o ? obj_type_name(obj_type(o)) : "none");
}

static void
rename_generic(client_t *c, bool nx) {
    const karg_t *src = &c->argv[1], *dst = &c->argv[2];
    kobj_t *o = db_lookup(c->db, src->p, src->n, 0);
    if (!o) {
        reply_err(c, ERR_NO_KEY);
        return;
    }
    if (src->n == dst->n && memcmp(src->p, dst->p, src->n) == 0) {
        if (nx)
            reply_int(c, 0);
        else
            reply_ok(c);
        return;
    }
    if (db_lookup(c->db, dst->p, dst->n, DB_LOOKUP_NOTOUCH)) {
        if (nx) {
            reply_int(c, 0);
            return;
        }
        db_delete(c->db, dst->p, dst->n);
    }
    o = db_unlink(c->db, src->p, src->n);
    uint32_t lru = obj_lru(o);
    o = obj_rekey(o, dst->p, dst->n);
    db_add(c->db, o);
    obj_set_lru(o, lru); /* the value was not accessed by being renamed */
    srv_key_modified(c->eng, c->db, src->p, src->n);
    srv_key_modified(c->eng, c->db, dst->p, dst->n);
    srv_notify(c->eng, NOTIFY_GENERIC, "rename_from", src->p, src->n, c->db_id);
    srv_notify(c->eng, NOTIFY_GENERIC, "rename_to", dst->p, dst->n, c->db_id);
    srv_dirty(c->eng, 1);
    if (nx)
        reply_int(c, 1);
    else
        reply_ok(c);
}

static void
cmd_rename(client_t *c) {
    rename_generic(c, false);
}

static void
cmd_renamenx(client_t *c) {
    rename_generic(c, true);
}

/* COPY source destination [DB destination-db] [REPLACE] */
static void
cmd_copy(client_t *c) {
    int dst_id = c->db_id;
    bool replace = false;
    for (int j = 3; j < c->argc; j++) {
        if (cmd_arg_is(&c->argv[j], "replace")) {
            replace = true;
        } else if (cmd_arg_is(&c->argv[j], "db") && j + 1 < c->argc) {
            if (!parse_db_index(c, &c->argv[j + 1], NULL, &dst_id))
                return;
            j++;
        } else {
            reply_err(c, ERR_SYNTAX);
            return;
        }
    }
    const karg_t *key = &c->argv[1], *newkey = &c->argv[2];
    db_t *dst = c->eng->dbs[dst_id];
    if (dst == c->db && key->n == newkey->n && memcmp(key->p, newkey->p, key->n) == 0) {
        reply_err(c, "ERR source and destination objects are the same");
        return;
    }
    kobj_t *o = db_lookup(c->db, key->p, key->n, 0);
    if (!o) {
        reply_int(c, 0);
        return;
    }
    bool exists = db_lookup(dst, newkey->p, newkey->n, DB_LOOKUP_NOTOUCH) != NULL;
    if (exists && !replace) {
        reply_int(c, 0);
        return;
    }
    kobj_t *n = obj_dup_as(o, newkey->p, newkey->n, obj_expire(o));
    if (exists)
        db_delete(dst, newkey->p, newkey->n);
    db_add(dst, n);
    srv_key_modified(c->eng, dst, newkey->p, newkey->n);
    srv_notify(c->eng, NOTIFY_GENERIC, "copy_to", newkey->p, newkey->n, dst_id);
    srv_dirty(c->eng, 1);
    reply_int(c, 1);
}

static void
cmd_move(client_t *c) {
    int dst_id;
    if (!parse_db_index(c, &c->argv[2], NULL, &dst_id))
        return;
    if (dst_id == c->db_id) {
        reply_err(c, "ERR source and destination objects are the same");
        return;
    }
    const karg_t *key = &c->argv[1];
    db_t *dst = c->eng->dbs[dst_id];
    if (!db_lookup(c->db, key->p, key->n, 0) || db_lookup(dst, key->p, key->n, DB_LOOKUP_NOTOUCH)) {
        reply_int(c, 0);
        return;
    }
    kobj_t *o = db_unlink(c->db, key->p, key->n);
    uint32_t lru = obj_lru(o);
    db_add(dst, o); /* the key is unchanged, so the object moves as it is, expiry included */
    obj_set_lru(o, lru);
    srv_key_modified(c->eng, c->db, key->p, key->n);
    srv_key_modified(c->eng, dst, key->p, key->n);
    srv_notify(c->eng, NOTIFY_GENERIC, "move_from", key->p, key->n, c->db_id);
    srv_notify(c->eng, NOTIFY_GENERIC, "move_to", key->p, key->n, dst_id);
    srv_dirty(c->eng, 1);
    reply_int(c, 1);
}

/* SWAPDB index1 index2: contents trade places; clients keep their db numbers. */
static void
cmd_swapdb(client_t *c) {
    int a, b;
    if (!parse_db_index(c, &c->argv[1], "ERR invalid first DB index", &a) ||
        !parse_db_index(c, &c->argv[2], "ERR invalid second DB index", &b))
        return;
    if (a != b) {
        srv_db_replacing(c->eng, a, b);
        srv_db_replacing(c->eng, b, a);
        db_swap(c->eng->dbs[a], c->eng->dbs[b]);
    }
    srv_db_modified(c->eng, a);
    srv_db_modified(c->eng, b);
    srv_dirty(c->eng, 1);
    reply_ok(c);
}

/* KEYS skips logically expired keys without deleting them: the table is being iterated. */
static void
cmd_keys(client_t *c) {
    const karg_t *pat = &c->argv[1];
    bool all = pat->n == 1 && pat->p[0] == '*';
    size_t spot = reply_defer(c);
    long long n = 0;
    ht_iter_t it;
    ht_iter_init(&it, c->db->keys);
    kobj_t *o;
    while ((o = ht_iter_next(&it)) != NULL) {
        size_t klen;
        const char *k = obj_key(o, &klen);
        if (!all && !util_glob_match(pat->p, pat->n, k, klen, false))
            continue;
        if (db_is_expired(&c->eng->dbenv, o))
            continue;
        reply_bulk(c, k, klen);
        n++;
    }
    ht_iter_done(&it);
    reply_set_deferred_array(c, spot, n);
}

static void
cmd_randomkey(client_t *c) {
    kobj_t *o = db_random(c->db);
    if (!o) {
        reply_null(c);
        return;
    }
    size_t klen;
    const char *k = obj_key(o, &klen);
    reply_bulk(c, k, klen);
}

/* ---- SCAN ---- */

typedef struct scan_state {
    const karg_t *pattern; /* NULL: every key */
    const karg_t *type;    /* NULL: every type */
    kobj_t **found;
    size_t n, cap;
} scan_state_t;

/* Filters in the callback (as Valkey 8 does) so COUNT bounds the work, not the matches. */
static void
scan_cb(void *priv, void *entry) {
    scan_state_t *s = priv;
    kobj_t *o = entry;
    if (s->type && !util_eq_nocase(s->type->p, s->type->n, obj_type_name(obj_type(o))))
        return;
    if (s->pattern) {
        size_t klen;
        const char *k = obj_key(o, &klen);
        if (!util_glob_match(s->pattern->p, s->pattern->n, k, klen, false))
            return;
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->found = krealloc(s->found, s->cap * sizeof *s->found);
    }
    s->found[s->n++] = o;
}

static void
cmd_scan(client_t *c) {
    unsigned long long cursor;
    if (!cmd_parse_cursor(&c->argv[1], &cursor)) {
        reply_err(c, "ERR invalid cursor");
        return;
    }
    cmd_scan_opts_t opt;
    if (!cmd_parse_scan_options(c, 2, CMD_SCAN_TYPE, &opt))
        return;
    scan_state_t s = {.pattern = opt.match, .type = opt.type};
    long long count = opt.count, iterations = count * 10;
    do {
        cursor = db_scan(c->db, cursor, scan_cb, &s);
    } while (cursor && iterations-- && s.n < (size_t)count);
    /* Expired keys are deleted on the way, as a read of them would (one DEL effect each). Other
     * collected objects stay valid: deleting one key frees only that key's object. */
    size_t live = 0;
    for (size_t i = 0; i < s.n; i++) {
        kobj_t *o = s.found[i];
        if (obj_has_expire(o) && db_is_expired(&c->eng->dbenv, o)) {
            size_t klen;
            const char *k = obj_key(o, &klen);
            if (!db_lookup(c->db, k, klen, DB_LOOKUP_NOTOUCH))
                continue;
        }
        s.found[live++] = o;
    }
    reply_array(c, 2);
    char num[24];
    reply_bulk(c, num, (size_t)util_ull2str(num, sizeof num, cursor)); /* unsigned 64-bit */
    reply_array(c, (long long)live);
    for (size_t i = 0; i < live; i++) {
        size_t klen;
        const char *k = obj_key(s.found[i], &klen);
        reply_bulk(c, k, klen);
    }
    kfree(s.found);
}

/* ---- OBJECT ---- */

#define OBJ_SHARED_REFCOUNT 2147483647 /* what Valkey reports for its shared objects */
#define OBJ_SHARED_INTEGERS 10000

static bool
lfu_policy(int p) {
    return p == EVICT_ALLKEYS_LFU || p == EVICT_VOLATILE_LFU;
}

/* The key's object for OBJECT subcommands (no LRU touch); replies null when missing. */
static kobj_t *
object_lookup(client_t *c) {
    kobj_t *o = db_lookup(c->db, c->argv[2].p, c->argv[2].n, DB_LOOKUP_NOTOUCH);
    if (!o)
        reply_null(c);
    return o;
}

static void
object_encoding_cmd(client_t *c) {
    kobj_t *o = object_lookup(c);
    if (o)
        reply_bulk_cstr(c, obj_encoding_name(o));
}

/* Valkey shares one object for the integers 0..9999 unless an LRU/LFU policy needs a clock per
 * key; clients that test sharing see its refcount, so report what Valkey would. */
static void
object_refcount_cmd(client_t *c) {
    kobj_t *o = object_lookup(c);
    if (!o)
        return;
    long long v, rc = 1;
    int p = c->eng->cfg.maxmemory_policy;
    bool per_key_clock = c->eng->cfg.maxmemory > 0 && p != EVICT_NOEVICTION &&
                         p != EVICT_ALLKEYS_RANDOM && p != EVICT_VOLATILE_RANDOM &&
                         p != EVICT_VOLATILE_TTL;
    if (obj_type(o) == OBJ_STRING && !per_key_clock) {
        size_t n;
        const char *s = obj_str(o, &n);
        if (n <= 20 && util_str_is_canonical_int(s, n, &v) && v >= 0 && v < OBJ_SHARED_INTEGERS)
            rc = OBJ_SHARED_REFCOUNT;
    }
    reply_int(c, rc);
}

static void
object_idletime_cmd(client_t *c) {
    kobj_t *o = object_lookup(c);
    if (!o)
        return;
    if (lfu_policy(c->eng->cfg.maxmemory_policy)) {
        reply_err(c, "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note "
                     "that when switching between policies at runtime LRU and LFU data will take "
                     "some time to adjust.");
        return;
    }
    reply_int(c, evict_idle_s(&c->eng->dbenv, o));
}

static void
object_freq_cmd(client_t *c) {
    kobj_t *o = object_lookup(c);
    if (!o)
        return;
    if (!lfu_policy(c->eng->cfg.maxmemory_policy)) {
        reply_err(c, "ERR An LFU maxmemory policy is not selected, access frequency not tracked. "
                     "Please note that when switching between policies at runtime LRU and LFU "
                     "data will take some time to adjust.");
        return;
    }
    reply_int(c, evict_lfu_freq(&c->eng->dbenv, o, c->eng->cfg.lfu_decay_time));
}

static void
object_help_cmd(client_t *c) {
    static const char *const lines[] = {
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Print this help.",
    };
    reply_help(c, lines, sizeof lines / sizeof *lines);
}

/* clang-format off */
static cmd_def_t object_subcmds[] = {
    {"encoding", object_encoding_cmd, 3, CMD_READONLY, 2, 2, 1, "generic", "Returns the internal encoding of an object.", "2.2.3", "O(1)", "keyspace read slow"},
    {"freq", object_freq_cmd, 3, CMD_READONLY, 2, 2, 1, "generic", "Returns the logarithmic access frequency counter of an object.", "4.0.0", "O(1)", "keyspace read slow"},
    {"idletime", object_idletime_cmd, 3, CMD_READONLY, 2, 2, 1, "generic", "Returns the time since the last access to an object.", "2.2.3", "O(1)", "keyspace read slow"},
    {"refcount", object_refcount_cmd, 3, CMD_READONLY, 2, 2, 1, "generic", "Returns the reference count of a value of a key.", "2.2.3", "O(1)", "keyspace read slow"},
    {"help", object_help_cmd, 2, CMD_LOADING | CMD_STALE, 0, 0, 0, "generic", "Returns helpful text about the different subcommands.", "6.2.0", "O(1)", "keyspace slow"},
    {0},
};
/* clang-format on */

/* clang-format off */
cmd_def_t cmd_table_keys[] = {
    {"del", cmd_del, -2, CMD_WRITE, 1, -1, 1, "generic", "Deletes one or more keys.", "1.0.0", "O(N) where N is the number of keys that will be removed.", "keyspace write slow"},
    {"unlink", cmd_unlink, -2, CMD_WRITE | CMD_FAST, 1, -1, 1, "generic", "Asynchronously deletes one or more keys.", "4.0.0", "O(1) for each key removed regardless of its size. Then the command does O(N) work in a different thread in order to reclaim memory, where N is the number of allocations the deleted objects where composed of.", "keyspace write fast"},
    {"exists", cmd_exists, -2, CMD_READONLY | CMD_FAST, 1, -1, 1, "generic", "Determines whether one or more keys exist.", "1.0.0", "O(N) where N is the number of keys to check.", "keyspace read fast"},
    {"touch", cmd_touch, -2, CMD_READONLY | CMD_FAST, 1, -1, 1, "generic", "Returns the number of existing keys out of those specified after updating the time they were last accessed.", "3.2.1", "O(N) where N is the number of keys that will be touched.", "keyspace read fast"},
    {"type", cmd_type, 2, CMD_READONLY | CMD_FAST, 1, 1, 1, "generic", "Determines the type of value stored at a key.", "1.0.0", "O(1)", "keyspace read fast"},
    {"rename", cmd_rename, 3, CMD_WRITE, 1, 2, 1, "generic", "Renames a key and overwrites the destination.", "1.0.0", "O(1)", "keyspace write slow"},
    {"renamenx", cmd_renamenx, 3, CMD_WRITE | CMD_FAST, 1, 2, 1, "generic", "Renames a key only when the target key name doesn't exist.", "1.0.0", "O(1)", "keyspace write fast"},
    {"copy", cmd_copy, -3, CMD_WRITE | CMD_DENYOOM, 1, 2, 1, "generic", "Copies the value of a key to a new key.", "6.2.0", "O(N) worst case for collections, where N is the number of nested items. O(1) for string values.", "keyspace write slow"},
    {"move", cmd_move, 3, CMD_WRITE | CMD_FAST, 1, 1, 1, "generic", "Moves a key to another database.", "1.0.0", "O(1)", "keyspace write fast"},
    {"swapdb", cmd_swapdb, 3, CMD_WRITE | CMD_FAST, 0, 0, 0, "server", "Swaps two Redis databases.", "4.0.0", "O(N) where N is the count of clients watching or blocking on keys from both databases.", "keyspace write fast dangerous"},
    {"keys", cmd_keys, 2, CMD_READONLY | CMD_TOUCHES_ALL, 0, 0, 0, "generic", "Returns all key names that match a pattern.", "1.0.0", "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.", "keyspace read slow dangerous"},
    {"scan", cmd_scan, -2, CMD_READONLY | CMD_TOUCHES_ALL, 0, 0, 0, "generic", "Iterates over the key names in the database.", "2.8.0", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.", "keyspace read slow"},
    {"randomkey", cmd_randomkey, 1, CMD_READONLY | CMD_TOUCHES_ALL, 0, 0, 0, "generic", "Returns a random key name from the database.", "1.0.0", "O(1)", "keyspace read slow"},
    {"object", NULL, -2, 0, 0, 0, 0, "generic", "A container for object introspection commands.", "2.2.3", "Depends on subcommand.", "slow", NULL, object_subcmds},
    {0},
};
/* clang-format on */
