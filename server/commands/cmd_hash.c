/*
 * cmd_hash.c - hash commands (HSET ... HSCAN) over the hash type (server/types/t_hash.h).
 *
 * Replies, errors and keyspace events follow Valkey 8. Every command here is deterministic on
 * replay and logged as called, except HINCRBYFLOAT, whose float formatting could differ between
 * builds: it logs HSET key field <result> (HSETEX ... KEEPTTL in a hash with field expiries).
 * HRANDFIELD is read-only and never logged. Field expiry (Valkey 9) is in cmd_hash_ttl.c; here
 * it shows as: a lookup removes a hash's expired fields first (core/db.c), except HLEN's; HSET
 * clears a field's expiry and HINCRBY/HINCRBYFLOAT keep it.
 */
#include <limits.h>
#include <math.h>
#include <string.h>

#include "kassert.h"
#include "kerr.h"
#include "cmd.h"
#include "cmd_hash_ttl.h"
#include "cmd_util.h"
#include "exec.h"
#include "kmem.h"
#include "prop.h"
#include "engine.h"
#include "util.h"
#include "lp.h"
#include "reply.h"
#include "t_hash.h"

#define ERR_HASH_NOT_INT   "ERR hash value is not an integer"
#define ERR_HASH_NOT_FLOAT "ERR hash value is not a float"
#define ERR_TOO_BIG        "ERR field or value is too large"

static hash_limits_t
limits(client_t *c) {
    const engine_config_t *cfg = &c->eng->cfg;
    hash_limits_t l = {(size_t)cfg->hash_max_listpack_entries,
                       (size_t)cfg->hash_max_listpack_value};
    return l;
}

/* The hash at argv[1] for a write, created empty when absent; NULL after WRONGTYPE. */
static kobj_t *
write_hash(client_t *c) {
    kobj_t *o = db_lookup(c->db, c->argv[1].p, c->argv[1].n, 0);
    if (o) {
        if (obj_type(o) == OBJ_HASH)
            return o;
        reply_err(c, ERR_WRONGTYPE);
        return NULL;
    }
    thash_t h = hash_new();
    o = obj_new_ptr(OBJ_HASH, h.enc, c->argv[1].p, c->argv[1].n, h.p, -1);
    db_add(c->db, o);
    return o;
}

/* After a change: store h back, announce it, and delete the key when the hash became empty.
 * With changes == 0 only the empty-key cleanup happens (a key created for nothing). */
static void
hash_changed(client_t *c, kobj_t *o, const thash_t *h, const char *event, uint64_t changes) {
    const char *key = c->argv[1].p;
    size_t klen = c->argv[1].n;
    hash_store(o, h);
    if (changes) {
        srv_notify(c->eng, NOTIFY_HASH, event, key, klen, c->db_id);
        srv_key_modified(c->eng, c->db, key, klen);
        srv_dirty(c->eng, changes);
    }
    if (hash_len(h) == 0) {
        db_delete(c->db, key, klen);
        if (changes)
            srv_notify(c->eng, NOTIFY_GENERIC, "del", key, klen, c->db_id);
    }
}

static void
reply_hval(client_t *c, const hval_t *v) {
    if (v->p)
        reply_bulk(c, v->p, v->n);
    else
        reply_bulk_ll(c, v->i);
}

/* HSET and HMSET: field value pairs from argv[2]. */
static void
hset_generic(client_t *c, const char *name, bool ok_reply) {
    if (c->argc % 2 != 0) {
        reply_err_arity(c, name);
        return;
    }
    kobj_t *o = write_hash(c);
    if (!o)
        return;
    hash_limits_t lim = limits(c);
    thash_t h = hash_of(o);
    hash_prepare(&h, c->argv + 2, (size_t)c->argc - 2, &lim);
    long long created = 0, touched = 0;
    for (int i = 2; i < c->argc; i += 2) {
        int rc = hash_set(&h, c->argv[i].p, c->argv[i].n, c->argv[i + 1].p, c->argv[i + 1].n, &lim);
        if (rc < 0) {
            hash_changed(c, o, &h, "hset", (uint64_t)touched);
            reply_err(c, ERR_TOO_BIG);
            return;
        }
        created += rc;
        touched++;
    }
    hash_changed(c, o, &h, "hset", (uint64_t)touched);
    if (ok_reply)
        reply_ok(c);
    else
        reply_int(c, created);
}

static void
cmd_hset(client_t *c) {
    hset_generic(c, "hset", false);
}

static void
cmd_hmset(client_t *c) {
    hset_generic(c, "hmset", true);
}

static void
cmd_hsetnx(client_t *c) {
    kobj_t *o = write_hash(c);
    if (!o)
        return;
    thash_t h = hash_of(o);
    if (hash_exists(&h, c->argv[2].p, c->argv[2].n)) {
        reply_int(c, 0);
        return;
    }
    hash_limits_t lim = limits(c);
    hash_prepare(&h, c->argv + 2, 2, &lim);
    int rc = hash_set(&h, c->argv[2].p, c->argv[2].n, c->argv[3].p, c->argv[3].n, &lim);
    hash_changed(c, o, &h, "hset", rc > 0);
    if (rc < 0)
        reply_err(c, ERR_TOO_BIG);
    else
        reply_int(c, 1);
}

static void
cmd_hget(client_t *c) {
    bool bad;
    kobj_t *o = cmd_lookup_read_type(c, &c->argv[1], OBJ_HASH, &bad);
    if (bad)
        return;
    hval_t v;
    thash_t h;
    if (o && (h = hash_of(o), hash_get(&h, c->argv[2].p, c->argv[2].n, &v)))
        reply_hval(c, &v);
    else
        reply_null(c);
}

static void
cmd_hmget(client_t *c) {
    bool bad;
    kobj_t *o = cmd_lookup_read_type(c, &c->argv[1], OBJ_HASH, &bad);
    if (bad)
        return;
    thash_t h = o ? hash_of(o) : (thash_t){0};
    reply_array(c, c->argc - 2);
    for (int i = 2; i < c->argc; i++) {
        hval_t v;
        if (o && hash_get(&h, c->argv[i].p, c->argv[i].n, &v))
            reply_hval(c, &v);
        else
            reply_null(c);
    }
}

static void
cmd_hdel(client_t *c) {
    kobj_t *o = db_lookup(c->db, c->argv[1].p, c->argv[1].n, 0);
    if (!o) {
        reply_int(c, 0);
        return;
    }
    if (obj_type(o) != OBJ_HASH) {
        reply_err(c, ERR_WRONGTYPE);
        return;
    }
    thash_t h = hash_of(o);
    long long deleted = 0;
    for (int i = 2; i < c->argc && hash_len(&h) > 0; i++)
        deleted += hash_delete(&h, c->argv[i].p, c->argv[i].n);
    hash_changed(c, o, &h, "hdel", (uint64_t)deleted);
    reply_int(c, deleted);
}

/* HLEN counts fields whose expiry is past until they are removed (by the active cycle or the
 * next other command on the key), as Valkey 9 does: the lookup leaves them in place. */
static void
cmd_hlen(client_t *c) {
    kobj_t *o = db_lookup(c->db, c->argv[1].p, c->argv[1].n, DB_LOOKUP_KEEP_FIELDS);
    if (o) {
        c->eng->stats.keyspace_hits++;
    } else {
        c->eng->stats.keyspace_misses++;
        srv_notify(c->eng, NOTIFY_KEY_MISS, "keymiss", c->argv[1].p, c->argv[1].n, c->db_id);
    }
    if (o && obj_type(o) != OBJ_HASH) {
        reply_err(c, ERR_WRONGTYPE);
        return;
    }
    thash_t h = o ? hash_of(o) : (thash_t){0};
    reply_int(c, o ? (long long)hash_len(&h) : 0);
}

static void
cmd_hstrlen(client_t *c) {
    bool bad;
    kobj_t *o = cmd_lookup_read_type(c, &c->argv[1], OBJ_HASH, &bad);
    if (bad)
        return;
    hval_t v;
    thash_t h;
    if (o && (h = hash_of(o), hash_get(&h, c->argv[2].p, c->argv[2].n, &v))) {
        char buf[LP_INTBUF_MAX];
        size_t n;
        hval_bytes(&v, buf, &n);
        reply_int(c, (long long)n);
    } else {
        reply_int(c, 0);
    }
}

static void
cmd_hexists(client_t *c) {
    bool bad;
    kobj_t *o = cmd_lookup_read_type(c, &c->argv[1], OBJ_HASH, &bad);
    if (bad)
        return;
    thash_t h = o ? hash_of(o) : (thash_t){0};
    reply_int(c, o && hash_exists(&h, c->argv[2].p, c->argv[2].n));
}

enum { GETALL_KEYS = 1, GETALL_VALS = 2 };

static void
getall_generic(client_t *c, int what) {
    bool bad;
    kobj_t *o = cmd_lookup_read_type(c, &c->argv[1], OBJ_HASH, &bad);
    if (bad)
        return;
    if (!o) {
        if (what == (GETALL_KEYS | GETALL_VALS))
            reply_map(c, 0);
        else
            reply_empty_array(c);
        return;
    }
    thash_t h = hash_of(o);
    long long n = (long long)hash_len(&h);
    if (what == (GETALL_KEYS | GETALL_VALS))
        reply_map(c, n);
    else
        reply_array(c, n);
    hash_iter_t it;
    hpair_t pr;
    hash_iter_init(&it, &h);
    while (hash_iter_next(&it, &pr)) {
        if (what & GETALL_KEYS)
            reply_hval(c, &pr.f);
        if (what & GETALL_VALS)
            reply_hval(c, &pr.v);
    }
    hash_iter_done(&it);
}

static void
cmd_hkeys(client_t *c) {
    getall_generic(c, GETALL_KEYS);
}

static void
cmd_hvals(client_t *c) {
    getall_generic(c, GETALL_VALS);
}

static void
cmd_hgetall(client_t *c) {
    getall_generic(c, GETALL_KEYS | GETALL_VALS);
}

/* The current value of argv[2] as bytes (in buf when it was an integer entry); NULL if absent. */
static const char *
current_value(const thash_t *h, client_t *c, char *buf, size_t *n) {
    hval_t v;
    if (!hash_get(h, c->argv[2].p, c->argv[2].n, &v))
        return NULL;
    return hval_bytes(&v, buf, n);
}

static void
cmd_hincrby(client_t *c) {
    long long incr, cur = 0;
    if (!util_parse_ll(c->argv[3].p, c->argv[3].n, &incr)) {
        reply_err(c, ERR_NOT_INT);
        return;
    }
    kobj_t *o = write_hash(c);
    if (!o)
        return;
    thash_t h = hash_of(o);
    char buf[LP_INTBUF_MAX];
    size_t n;
    const char *v = current_value(&h, c, buf, &n);
    if (v && !util_parse_ll(v, n, &cur)) {
        reply_err(c, ERR_HASH_NOT_INT);
        return;
    }
    if ((incr < 0 && cur < 0 && incr < LLONG_MIN - cur) ||
        (incr > 0 && cur > 0 && incr > LLONG_MAX - cur)) {
        hash_changed(c, o, &h, "hincrby", 0);
        reply_err(c, ERR_OVERFLOW);
        return;
    }
    cur += incr;
    char out[UTIL_LL_STR_MAX];
    int len = util_ll2str(out, sizeof out, cur);
    hash_limits_t lim = limits(c);
    /* The field keeps its expiry (Valkey 9): the value changes, not the field. */
    hash_set_ex(&h, c->argv[2].p, c->argv[2].n, out, (size_t)len, HASH_NO_TTL, true, &lim);
    hash_changed(c, o, &h, "hincrby", 1);
    reply_int(c, cur);
}

static void
cmd_hincrbyfloat(client_t *c) {
    long double incr, cur = 0;
    if (!util_parse_ld(c->argv[3].p, c->argv[3].n, &incr)) {
        reply_err(c, ERR_NOT_FLOAT);
        return;
    }
    if (isinf(incr)) {
        reply_err(c, "ERR value is NaN or Infinity");
        return;
    }
    kobj_t *o = write_hash(c);
    if (!o)
        return;
    thash_t h = hash_of(o);
    char buf[LP_INTBUF_MAX];
    size_t n;
    const char *v = current_value(&h, c, buf, &n);
    if (v && !util_parse_ld(v, n, &cur)) {
        reply_err(c, ERR_HASH_NOT_FLOAT);
        return;
    }
    cur += incr;
    if (isnan(cur) || isinf(cur)) {
        hash_changed(c, o, &h, "hincrbyfloat", 0);
        reply_err(c, "ERR increment would produce NaN or Infinity");
        return;
    }
    char out[UTIL_LD_STR_MAX];
    int len = util_ld2str(out, sizeof out, cur);
    hash_limits_t lim = limits(c);
    hash_set_ex(&h, c->argv[2].p, c->argv[2].n, out, (size_t)len, HASH_NO_TTL, true, &lim);
    bool ttl = h.enc == OBJ_ENC_HASH_TTL;
    hash_changed(c, o, &h, "hincrbyfloat", 1);
    reply_bulk(c, out, (size_t)len);
    /* The text, not the float arithmetic, goes to the log so a replay stores the same bytes;
     * in a hash with field expiries as HSETEX KEEPTTL, which keeps the field's expiry as this
     * command does (HSET would clear it). */
    if (ttl) {
        karg_t eff[7] = {{"HSETEX", 6}, c->argv[1], {"KEEPTTL", 7},    {"FIELDS", 6},
                         {"1", 1},      c->argv[2], {out, (size_t)len}};
        prop_add(&c->eng->prop, c->db_id, 7, eff);
    } else {
        karg_t eff[4] = {{"HSET", 4}, c->argv[1], c->argv[2], {out, (size_t)len}};
        prop_add(&c->eng->prop, c->db_id, 4, eff);
    }
}

/* ---- HRANDFIELD ---- */

static void
reply_pair(client_t *c, const hpair_t *pr, bool withvalues) {
    if (withvalues && c->resp >= 3)
        reply_array(c, 2);
    reply_hval(c, &pr->f);
    if (withvalues)
        reply_hval(c, &pr->v);
}

/* count distinct pairs, count < hash_len. */
static void
hrandfield_distinct(client_t *c, const thash_t *h, uint64_t count, bool withvalues) {
    uint64_t len = hash_len(h);
    if (h->enc != OBJ_ENC_LISTPACK && count * 3 <= len) {
        /* Few of many: random draws, skipping repeats, cost O(count). */
        ht_t *seen = ht_create(&ht_ptrset_type);
        ASSERT(seen);
        while (ht_size(seen) < count) {
            hpair_t pr;
            hash_random(h, util_random64(), &pr);
            if (ht_add(seen, (void *)pr.f.p) == 0)
                reply_pair(c, &pr, withvalues);
        }
        ht_release(seen);
        return;
    }
    /* A partial Fisher-Yates shuffle of every pair. */
    hpair_t *all = kmalloc(len * sizeof *all);
    hash_collect(h, all);
    for (uint64_t i = 0; i < count; i++) {
        uint64_t j = i + util_random64() % (len - i);
        hpair_t t = all[i];
        all[i] = all[j];
        all[j] = t;
        reply_pair(c, &all[i], withvalues);
    }
    kfree(all);
}

static void
hrandfield_count(client_t *c, long long l, bool withvalues) {
    bool bad;
    kobj_t *o = cmd_lookup_read_type(c, &c->argv[1], OBJ_HASH, &bad);
    if (bad)
        return;
    if (!o || l == 0) {
        reply_empty_array(c);
        return;
    }
    thash_t h = hash_of(o);
    uint64_t len = hash_len(&h);
    bool repeats = l < 0;
    uint64_t count = repeats ? (uint64_t)-l : (uint64_t)l;
    if (!repeats && count > len)
        count = len;
    reply_array(c, (long long)(withvalues && c->resp < 3 ? 2 * count : count));
    if (repeats) {
        hpair_t *all = NULL;
        /* A packed list is indexed once instead of seeked each time; a table too when the picks
         * are many, because its random pick is only roughly fair (ht_random). */
        if (h.enc == OBJ_ENC_LISTPACK || count >= len / 2) {
            all = kmalloc(len * sizeof *all);
            hash_collect(&h, all);
        }
        for (uint64_t i = 0; i < count; i++) {
            hpair_t pr;
            if (all)
                pr = all[util_random64() % len];
            else
                hash_random(&h, util_random64(), &pr);
            reply_pair(c, &pr, withvalues);
        }
        kfree(all);
    } else if (count == len) {
        hash_iter_t it;
        hpair_t pr;
        hash_iter_init(&it, &h);
        while (hash_iter_next(&it, &pr))
            reply_pair(c, &pr, withvalues);
        hash_iter_done(&it);
    } else {
        hrandfield_distinct(c, &h, count, withvalues);
    }
}

static void
cmd_hrandfield(client_t *c) {
    if (c->argc >= 3) {
        long long l;
        bool withvalues;
        if (!cmd_parse_rand_count(c, "withvalues", &l, &withvalues))
            return;
        hrandfield_count(c, l, withvalues);
        return;
    }
    bool bad;
    kobj_t *o = cmd_lookup_read_type(c, &c->argv[1], OBJ_HASH, &bad);
    if (bad)
        return;
    if (!o) {
        reply_null(c);
        return;
    }
    thash_t h = hash_of(o);
    hpair_t pr;
    hash_random(&h, util_random64(), &pr);
    reply_hval(c, &pr.f);
}

/* ---- HSCAN ---- */

typedef struct hscan_out {
    hpair_t *v;
    size_t n, cap;
} hscan_out_t;

static void
hscan_collect_cb(void *ctx, const hpair_t *pair) {
    hscan_out_t *out = ctx;
    if (out->n == out->cap) {
        out->cap = out->cap ? out->cap * 2 : 16;
        out->v = krealloc(out->v, out->cap * sizeof *out->v);
    }
    out->v[out->n++] = *pair;
}

static bool
hval_matches(const karg_t *match, const hval_t *v) {
    if (!match || (match->n == 1 && match->p[0] == '*'))
        return true;
    char buf[LP_INTBUF_MAX];
    size_t n;
    const char *p = hval_bytes(v, buf, &n);
    return util_glob_match(match->p, match->n, p, n, false);
}

static void
cmd_hscan(client_t *c) {
    unsigned long long cursor;
    if (!util_parse_ull(c->argv[2].p, c->argv[2].n, &cursor)) {
        reply_err(c, "ERR invalid cursor");
        return;
    }
    cmd_scan_opts_t opt;
    if (!cmd_parse_scan_options(c, 3, CMD_SCAN_NOVALUES, &opt))
        return;
    const karg_t *match = opt.match;
    long long count = opt.count;
    bool novalues = opt.no_values;
    bool bad;
    kobj_t *o = cmd_lookup_read_type(c, &c->argv[1], OBJ_HASH, &bad);
    if (bad)
        return;
    hscan_out_t out = {0};
    if (o) {
        thash_t h = hash_of(o);
        long long visits_max = count * 10; /* bound the work when the table is sparse */
        do {
            cursor = hash_scan(&h, cursor, hscan_collect_cb, &out);
        } while (cursor && visits_max-- > 0 && out.n < (size_t)count);
    } else {
        cursor = 0;
    }
    size_t keep = 0;
    for (size_t i = 0; i < out.n; i++)
        if (hval_matches(match, &out.v[i].f))
            out.v[keep++] = out.v[i];
    reply_array(c, 2);
    reply_bulk_ll(c, (long long)cursor);
    reply_array(c, (long long)(novalues ? keep : 2 * keep));
    for (size_t i = 0; i < keep; i++) {
        reply_hval(c, &out.v[i].f);
        if (!novalues)
            reply_hval(c, &out.v[i].v);
    }
    kfree(out.v);
}

cmd_def_t cmd_table_hash[] = {
    {"hset", cmd_hset, -4, CMD_WRITE | CMD_DENYOOM | CMD_FAST, 1, 1, 1, "hash",
     "Creates or modifies the value of a field in a hash.", "2.0.0",
     "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs.",
     "write hash fast"},
    {"hsetnx", cmd_hsetnx, 4, CMD_WRITE | CMD_DENYOOM | CMD_FAST, 1, 1, 1, "hash",
     "Sets the value of a field in a hash only when the field doesn't exist.", "2.0.0", "O(1)",
     "write hash fast"},
    {"hmset", cmd_hmset, -4, CMD_WRITE | CMD_DENYOOM | CMD_FAST, 1, 1, 1, "hash",
     "Sets the values of multiple fields.", "2.0.0",
     "O(N) where N is the number of fields being set.", "write hash fast"},
    {"hget", cmd_hget, 3, CMD_READONLY | CMD_FAST, 1, 1, 1, "hash",
     "Returns the value of a field in a hash.", "2.0.0", "O(1)", "read hash fast"},
    {"hmget", cmd_hmget, -3, CMD_READONLY | CMD_FAST, 1, 1, 1, "hash",
     "Returns the values of all fields in a hash.", "2.0.0",
     "O(N) where N is the number of fields being requested.", "read hash fast"},
    {"hdel", cmd_hdel, -3, CMD_WRITE | CMD_FAST, 1, 1, 1, "hash",
     "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.",
     "2.0.0", "O(N) where N is the number of fields to be removed.", "write hash fast"},
    {"hlen", cmd_hlen, 2, CMD_READONLY | CMD_FAST, 1, 1, 1, "hash",
     "Returns the number of fields in a hash.", "2.0.0", "O(1)", "read hash fast"},
    {"hstrlen", cmd_hstrlen, 3, CMD_READONLY | CMD_FAST, 1, 1, 1, "hash",
     "Returns the length of the value of a field.", "3.2.0", "O(1)", "read hash fast"},
    {"hexists", cmd_hexists, 3, CMD_READONLY | CMD_FAST, 1, 1, 1, "hash",
     "Determines whether a field exists in a hash.", "2.0.0", "O(1)", "read hash fast"},
    {"hkeys", cmd_hkeys, 2, CMD_READONLY, 1, 1, 1, "hash", "Returns all fields in a hash.", "2.0.0",
     "O(N) where N is the size of the hash.", "read hash slow"},
    {"hvals", cmd_hvals, 2, CMD_READONLY, 1, 1, 1, "hash", "Returns all values in a hash.", "2.0.0",
     "O(N) where N is the size of the hash.", "read hash slow"},
    {"hgetall", cmd_hgetall, 2, CMD_READONLY, 1, 1, 1, "hash",
     "Returns all fields and values in a hash.", "2.0.0", "O(N) where N is the size of the hash.",
     "read hash slow"},
    {"hincrby", cmd_hincrby, 4, CMD_WRITE | CMD_DENYOOM | CMD_FAST, 1, 1, 1, "hash",
     "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.",
     "2.0.0", "O(1)", "write hash fast"},
    {"hincrbyfloat", cmd_hincrbyfloat, 4, CMD_WRITE | CMD_DENYOOM | CMD_FAST, 1, 1, 1, "hash",
     "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.",
     "2.6.0", "O(1)", "write hash fast"},
    {"hrandfield", cmd_hrandfield, -2, CMD_READONLY, 1, 1, 1, "hash",
     "Returns one or more random fields from a hash.", "6.2.0",
     "O(N) where N is the number of fields returned", "read hash slow"},
    {"hscan", cmd_hscan, -3, CMD_READONLY, 1, 1, 1, "hash",
     "Iterates over fields and values of a hash.", "2.8.0",
     "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.",
     "read hash slow"},
    /* Field expiry (Valkey 9), in cmd_hash_ttl.c. */
    {"hexpire", cmd_hexpire, -6, CMD_WRITE | CMD_FAST, 1, 1, 1, "hash",
     "Set expiry time on hash fields.", "9.0.0", "O(N) where N is the number of specified fields.",
     "write hash fast"},
    {"hpexpire", cmd_hpexpire, -6, CMD_WRITE | CMD_FAST, 1, 1, 1, "hash",
     "Set expiry time on hash object.", "9.0.0", "O(N) where N is the number of specified fields.",
     "write hash fast"},
    {"hexpireat", cmd_hexpireat, -6, CMD_WRITE | CMD_FAST, 1, 1, 1, "hash",
     "Set expiry time on hash fields.", "9.0.0", "O(N) where N is the number of specified fields.",
     "write hash fast"},
    {"hpexpireat", cmd_hpexpireat, -6, CMD_WRITE | CMD_FAST, 1, 1, 1, "hash",
     "Set expiration time on hash field.", "9.0.0",
     "O(N) where N is the number of specified fields.", "write hash fast"},
    {"httl", cmd_httl, -5, CMD_READONLY | CMD_FAST, 1, 1, 1, "hash",
     "Returns the remaining time to live in seconds of a hash key's field(s) that have an associated expiration.",
     "9.0.0", "O(N) where N is the number of specified fields.", "read hash fast"},
    {"hpttl", cmd_hpttl, -5, CMD_READONLY | CMD_FAST, 1, 1, 1, "hash",
     "Returns the remaining time to live in milliseconds of a hash key's field(s) that have an associated expiration.",
     "9.0.0", "O(N) where N is the number of specified fields.", "read hash fast"},
    {"hexpiretime", cmd_hexpiretime, -5, CMD_READONLY | CMD_FAST, 1, 1, 1, "hash",
     "Returns Unix timestamps in seconds since the epoch at which the given key's field(s) will expire",
     "9.0.0", "O(N) where N is the number of specified fields.", "read hash fast"},
    {"hpexpiretime", cmd_hpexpiretime, -5, CMD_READONLY | CMD_FAST, 1, 1, 1, "hash",
     "Returns the Unix timestamp in milliseconds since Unix epoch at which the given key's field(s) will expire",
     "9.0.0", "O(N) where N is the number of specified fields.", "read hash fast"},
    {"hpersist", cmd_hpersist, -5, CMD_WRITE | CMD_FAST, 1, 1, 1, "hash",
     "Remove the existing expiration on a hash key's field(s).", "9.0.0",
     "O(N) where N is the number of specified fields.", "write hash fast"},
    {"hgetex", cmd_hgetex, -5, CMD_WRITE | CMD_FAST, 1, 1, 1, "hash",
     "Get the value of one or more fields of a given hash key, and optionally set their expiration time or time-to-live (TTL).",
     "9.0.0", "O(N) where N is the number of specified fields.", "write hash fast"},
    {"hsetex", cmd_hsetex, -6, CMD_WRITE | CMD_DENYOOM | CMD_FAST, 1, 1, 1, "hash",
     "Set the value of one or more fields of a given hash key, and optionally set their expiration time.",
     "9.0.0", "O(N) where N is the number of specified fields.", "write hash fast"},
    {0},
};
