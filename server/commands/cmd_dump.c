/*
 * cmd_dump.c - DUMP and RESTORE: a value as a Redis/Valkey DUMP payload (RDB encoding, version,
 * CRC-64), read and written by server/types/rdb_value.c, so values move between Keel, Valkey
 * and Redis in both directions (docs/dump.md).
 *
 * Semantics and error texts follow Valkey 8 (cluster.c there): options parsed first, then
 * BUSYKEY (without REPLACE), then the TTL, then the trailer ("DUMP payload version or checksum
 * are wrong"), then the value ("Bad data format"). A TTL that is already past stores nothing
 * (and with REPLACE deletes the old key). IDLETIME sets the LRU clock and FREQ the LFU counter,
 * each only under the matching kind of maxmemory policy, as Valkey.
 *
 * Effects (docs/durability.md): RESTORE is logged as the plain write commands that build the
 * same value: `DEL key` when REPLACE removed a key, then `SET key value [PXAT ms]`, or
 * RPUSH / SADD / ZADD / HSET in batches of EFFECT_BATCH_ELEMS elements (a hash's field
 * expiries then as HPEXPIREAT per field), or for a stream XADD per entry, XGROUP CREATE /
 * CREATECONSUMER, XCLAIM per pending entry and XSETID (log_stream), followed by
 * `PEXPIREAT key ms`, all in the command's one log record. The payload itself is not logged:
 * replay and replicas then never need an RDB reader, let alone one that knows the version a
 * client sent.
 */
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "cmd_util.h"
#include "engine.h"
#include "exec.h"
#include "kerr.h"
#include "kmem.h"
#include "prop.h"
#include "rdb_value.h"
#include "reply.h"
#include "t_hash.h"
#include "t_stream.h"
#include "util.h"

/* Elements per logged command: bounds the argument array a replayed command carries. */
#define EFFECT_BATCH_ELEMS 512

static void
cmd_dump(client_t *c) {
    kobj_t *o = cmd_lookup_read(c, &c->argv[1]);
    if (!o) {
        reply_null(c);
        return;
    }
    sbuf_t b = {0};
    if (rdb_value_dump(o, &b) < 0) {
        reply_err(c, "ERR this value type has no DUMP encoding");
        sbuf_free(&b);
        return;
    }
    reply_bulk(c, b.p, b.len);
    sbuf_free(&b);
}

typedef struct restore_opts {
    bool replace, absttl;
    long long idle, freq; /* -1: not given */
} restore_opts_t;

/* REPLACE, ABSTTL, IDLETIME s, FREQ f: IDLETIME and FREQ exclude each other (the second one is
 * a syntax error, as Valkey parses them). Replies and returns false on an error. */
static bool
parse_restore_opts(client_t *c, restore_opts_t *o) {
    *o = (restore_opts_t){false, false, -1, -1};
    for (int j = 4; j < c->argc; j++) {
        const karg_t *a = &c->argv[j];
        bool more = j + 1 < c->argc;
        if (cmd_arg_is(a, "replace")) {
            o->replace = true;
        } else if (cmd_arg_is(a, "absttl")) {
            o->absttl = true;
        } else if (cmd_arg_is(a, "idletime") && more && o->freq == -1) {
            if (!util_parse_ll(c->argv[j + 1].p, c->argv[j + 1].n, &o->idle)) {
                reply_err(c, ERR_NOT_INT);
                return false;
            }
            if (o->idle < 0) {
                reply_err(c, "ERR Invalid IDLETIME value, must be >= 0");
                return false;
            }
            j++;
        } else if (cmd_arg_is(a, "freq") && more && o->idle == -1) {
            if (!util_parse_ll(c->argv[j + 1].p, c->argv[j + 1].n, &o->freq)) {
                reply_err(c, ERR_NOT_INT);
                return false;
            }
            if (o->freq < 0 || o->freq > 255) {
                reply_err(c, "ERR Invalid FREQ value, must be >= 0 and <= 255");
                return false;
            }
            j++;
        } else {
            reply_err(c, ERR_SYNTAX);
            return false;
        }
    }
    return true;
}

/* The access field of a restored object after db_add touched it: as IDLETIME / FREQ say
 * (Valkey's objectSetLRUOrLFU: FREQ counts under an LFU policy, IDLETIME under any other). */
static void
set_access(client_t *c, kobj_t *o, const restore_opts_t *opt) {
    db_env_t *env = &c->eng->dbenv;
    if (env->lfu_mode) {
        if (opt->freq >= 0) {
            uint32_t now_min = (uint32_t)((db_now_ms(env) / 60000) & 0xffff);
            obj_set_lru(o, now_min << 8 | (uint32_t)opt->freq);
        }
    } else if (opt->idle >= 0) {
        long long clock = db_lru_clock(env);
        long long lru = clock - opt->idle;
        if (lru < 0) /* more idle than the clock can say: half a clock period, as Valkey */
            lru = (clock + OBJ_LRU_MAX / 2) % OBJ_LRU_MAX;
        obj_set_lru(o, (uint32_t)lru);
    }
}

/* ---- effects: the restored value as ordinary write commands ------------------------------ */

typedef struct effect_batch {
    client_t *c;
    const char *verb;
    size_t verb_n;
    const char *key;
    size_t klen;
    sbuf_t bytes;  /* the batch's arguments, back to back */
    size_t *ends;  /* end offset of each argument in bytes */
    size_t n, cap; /* arguments in the batch */
    size_t elems;  /* elements (not arguments) in the batch */
    bool scores;   /* sorted set: each element is "score member" */
} effect_batch_t;

static void
batch_arg(effect_batch_t *b, const char *p, size_t n) {
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 64;
        b->ends = krealloc(b->ends, b->cap * sizeof *b->ends);
    }
    sbuf_append(&b->bytes, p, n);
    b->ends[b->n++] = b->bytes.len;
}

static void
batch_flush(effect_batch_t *b) {
    if (b->n == 0)
        return;
    karg_t *argv = kmalloc((b->n + 2) * sizeof *argv);
    argv[0] = (karg_t){b->verb, b->verb_n};
    argv[1] = (karg_t){b->key, b->klen};
    for (size_t i = 0, start = 0; i < b->n; start = b->ends[i++])
        argv[2 + i] = (karg_t){b->bytes.p + start, b->ends[i] - start};
    prop_add(&b->c->eng->prop, b->c->db_id, (int)(b->n + 2), argv);
    kfree(argv);
    b->bytes.len = 0;
    b->n = 0;
    b->elems = 0;
}

static void
batch_elem_cb(void *ctx, const char *p, size_t n, double score) {
    effect_batch_t *b = ctx;
    if (b->scores) {
        char num[UTIL_DBL_STR_MAX];
        int len = util_d2str(num, sizeof num, score);
        batch_arg(b, num, (size_t)len);
    }
    batch_arg(b, p, n);
    /* a hash's field and value are two calls: cut batches between pairs only */
    if (++b->elems >= EFFECT_BATCH_ELEMS && b->n % 2 == 0)
        batch_flush(b);
}

/* ---- effects of a restored stream -------------------------------------------------------- */

/* Arguments of one logged command, built up then sent. */
typedef struct cmdv {
    karg_t *argv;
    size_t n, cap;
    char ids[8][STREAM_ID_STR_max]; /* formatted IDs and numbers the arguments point into */
    int nids;
} cmdv_t;

static void
cv_add(cmdv_t *v, const char *p, size_t n) {
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 16;
        v->argv = krealloc(v->argv, v->cap * sizeof *v->argv);
    }
    v->argv[v->n++] = (karg_t){p, n};
}

static void
cv_str(cmdv_t *v, const char *s) {
    cv_add(v, s, strlen(s));
}

static void
cv_id(cmdv_t *v, const sid_t *id) {
    char *b = v->ids[v->nids++];
    cv_add(v, b, (size_t)sid_fmt(id, b));
}

static void
cv_num(cmdv_t *v, long long n) {
    char *b = v->ids[v->nids++];
    cv_add(v, b, (size_t)util_ll2str(b, STREAM_ID_STR_max, n));
}

static void
cv_begin(cmdv_t *v, const char *verb, const char *key, size_t klen) {
    v->n = 0;
    v->nids = 0;
    cv_str(v, verb);
    cv_add(v, key, klen);
}

static void
cv_send(client_t *c, cmdv_t *v) {
    prop_add(&c->eng->prop, c->db_id, (int)v->n, v->argv);
}

static int
sid_qcmp(const void *a, const void *b) {
    return sid_cmp(a, b);
}

/* Pending entries whose stream entry is gone, sorted and unique: XCLAIM cannot make a pending
 * entry for a missing entry, so the log adds a placeholder entry for each and deletes it after. */
static sid_t *
orphan_pending(const stream_t *s, size_t *n) {
    sid_t *ids = NULL;
    size_t cnt = 0, cap = 0;
    for (size_t i = 0; i < stream_group_count(s); i++) {
        const scg_t *g = stream_group_at(s, i);
        for (size_t j = 0; j < g->pel_len; j++) {
            sentry_t e;
            const sid_t *id = &scg_pel_at(g, j)->id;
            if (stream_get(s, id, &e))
                continue;
            if (cnt == cap) {
                cap = cap ? cap * 2 : 16;
                ids = krealloc(ids, cap * sizeof *ids);
            }
            ids[cnt++] = *id;
        }
    }
    if (cnt)
        qsort(ids, cnt, sizeof *ids, sid_qcmp);
    size_t u = 0;
    for (size_t i = 0; i < cnt; i++)
        if (u == 0 || sid_cmp(&ids[u - 1], &ids[i]) != 0)
            ids[u++] = ids[i];
    *n = u;
    return ids;
}

static void
log_placeholder(client_t *c, cmdv_t *v, const char *key, size_t klen, const sid_t *id) {
    cv_begin(v, "XADD", key, klen);
    cv_id(v, id);
    cv_str(v, "restore");
    cv_str(v, "");
    cv_send(c, v);
}

/* XADD of every live entry, with the placeholders of orphan pending entries in ID order. */
static size_t
log_stream_entries(client_t *c, cmdv_t *v, const char *key, size_t klen, const stream_t *s,
                   const sid_t *orphans, size_t norphans) {
    stream_iter_t it;
    sentry_t e;
    sid_t lo = {0, 0}, hi = {UINT64_MAX, UINT64_MAX};
    size_t o = 0, added = 0;
    stream_iter_init(&it, s, &lo, &hi, false);
    while (stream_iter_next(&it, &e)) {
        for (; o < norphans && sid_cmp(&orphans[o], &e.id) < 0; o++, added++)
            log_placeholder(c, v, key, klen, &orphans[o]);
        cv_begin(v, "XADD", key, klen);
        cv_id(v, &e.id);
        sfield_iter_t fi;
        const char *f, *val;
        size_t fn, vn;
        stream_fields_init(&fi, &e);
        while (stream_fields_next(&fi, &f, &fn, &val, &vn)) {
            cv_add(v, f, fn);
            cv_add(v, val, vn);
        }
        cv_send(c, v);
        added++;
    }
    stream_iter_done(&it);
    for (; o < norphans; o++, added++)
        log_placeholder(c, v, key, klen, &orphans[o]);
    return added;
}

static void
log_stream_group(client_t *c, cmdv_t *v, const char *key, size_t klen, const scg_t *g,
                 bool exists) {
    cv_begin(v, "XGROUP", key, klen);
    v->argv[1] = (karg_t){exists ? "SETID" : "CREATE", exists ? 5 : 6};
    cv_add(v, key, klen);
    cv_add(v, g->name, g->name_len);
    cv_id(v, &g->last_id);
    cv_str(v, "ENTRIESREAD");
    cv_num(v, g->entries_read);
    cv_send(c, v);
    for (size_t j = 0; j < g->nconsumers; j++) {
        cv_begin(v, "XGROUP", "CREATECONSUMER", 14);
        cv_add(v, key, klen);
        cv_add(v, g->name, g->name_len);
        cv_add(v, g->consumers[j]->name, g->consumers[j]->name_len);
        cv_send(c, v);
    }
    for (size_t j = 0; j < g->pel_len; j++) {
        const spel_t *pe = scg_pel_at(g, j);
        cv_begin(v, "XCLAIM", key, klen);
        cv_add(v, g->name, g->name_len);
        cv_add(v, pe->owner->name, pe->owner->name_len);
        cv_str(v, "0");
        cv_id(v, &pe->id);
        cv_str(v, "TIME");
        cv_num(v, pe->delivery_ms);
        cv_str(v, "RETRYCOUNT");
        cv_num(v, (long long)pe->delivery_count);
        cv_str(v, "FORCE");
        cv_str(v, "JUSTID");
        cv_send(c, v);
    }
}

/* A stream as the commands that rebuild it: entries, groups, consumers, pending entries (with
 * their delivery times and counts), then XSETID for the last ID, entries added and max deleted
 * ID. Consumers' seen and active times become the time of the record (what a replay of
 * CREATECONSUMER and XCLAIM sets); everything else comes back exactly. */
static void
log_stream(client_t *c, const char *key, size_t klen, const stream_t *s) {
    cmdv_t v = {0};
    size_t norphans;
    sid_t *orphans = orphan_pending(s, &norphans);
    size_t added = log_stream_entries(c, &v, key, klen, s, orphans, norphans);
    size_t ngroups = stream_group_count(s);
    bool made = false;
    if (added == 0) { /* nothing made the key: a group does, with MKSTREAM */
        cv_begin(&v, "XGROUP", key, klen);
        v.argv[1] = (karg_t){"CREATE", 6};
        cv_add(&v, key, klen);
        if (ngroups)
            cv_add(&v, stream_group_at(s, 0)->name, stream_group_at(s, 0)->name_len);
        else
            cv_str(&v, "restore");
        cv_str(&v, "0");
        cv_str(&v, "MKSTREAM");
        cv_send(c, &v);
        made = ngroups > 0;
        if (!ngroups) {
            cv_begin(&v, "XGROUP", "DESTROY", 7);
            cv_add(&v, key, klen);
            cv_str(&v, "restore");
            cv_send(c, &v);
        }
    }
    for (size_t i = 0; i < ngroups; i++)
        log_stream_group(c, &v, key, klen, stream_group_at(s, i), made && i == 0);
    for (size_t i = 0; i < norphans; i++) {
        cv_begin(&v, "XDEL", key, klen);
        cv_id(&v, &orphans[i]);
        cv_send(c, &v);
    }
    sid_t last = stream_last_id(s), maxdel = stream_max_deleted_id(s);
    cv_begin(&v, "XSETID", key, klen);
    cv_id(&v, &last);
    cv_str(&v, "ENTRIESADDED");
    cv_num(&v, (long long)stream_entries_added(s));
    cv_str(&v, "MAXDELETEDID");
    cv_id(&v, &maxdel);
    cv_send(c, &v);
    kfree(orphans);
    kfree(v.argv);
}

/* A list, set, sorted set or hash as RPUSH / SADD / ZADD / HSET of at most EFFECT_BATCH_ELEMS
 * elements each. */
static void
log_collection(client_t *c, const kobj_t *o, const char *key, size_t klen) {
    static const char *const verbs[] = {
        [OBJ_LIST] = "RPUSH", [OBJ_SET] = "SADD", [OBJ_ZSET] = "ZADD", [OBJ_HASH] = "HSET"};
    effect_batch_t b = {.c = c, .key = key, .klen = klen, .scores = obj_type(o) == OBJ_ZSET};
    b.verb = verbs[obj_type(o)];
    b.verb_n = strlen(b.verb);
    obj_ops(obj_type(o))->each(obj_ptr(o), obj_encoding(o), batch_elem_cb, &b);
    batch_flush(&b);
    sbuf_free(&b.bytes);
    kfree(b.ends);
}

/* The field expiries of a restored hash, after its HSET: HPEXPIREAT key ms FIELDS 1 field. */
static void
log_field_expiries(client_t *c, const kobj_t *o, const char *key, size_t klen) {
    thash_t h = {obj_ptr(o), obj_encoding(o)};
    hash_iter_t it;
    hpair_t pr;
    int64_t ms;
    char fb[UTIL_LL_STR_MAX], num[UTIL_LL_STR_MAX];
    hash_iter_init(&it, &h);
    while (hash_iter_next_ttl(&it, &pr, &ms)) {
        if (ms == HASH_NO_TTL)
            continue;
        size_t fn;
        const char *f = hval_bytes(&pr.f, fb, &fn);
        karg_t argv[6] = {{"HPEXPIREAT", 10}, {key, klen}, {num, 0},
                          {"FIELDS", 6},      {"1", 1},    {f, fn}};
        argv[2].n = (size_t)util_ll2str(num, sizeof num, ms);
        prop_add(&c->eng->prop, c->db_id, 6, argv);
    }
    hash_iter_done(&it);
}

static void
log_restored(client_t *c, const kobj_t *o, bool deleted) {
    size_t klen;
    const char *key = obj_key(o, &klen);
    char num[UTIL_LL_STR_MAX];
    karg_t ttl = {num, 0};
    if (obj_expire(o) >= 0)
        ttl.n = (size_t)util_ll2str(num, sizeof num, obj_expire(o));
    if (deleted) {
        karg_t del[2] = {{"DEL", 3}, {key, klen}};
        prop_add(&c->eng->prop, c->db_id, 2, del);
    }
    if (obj_type(o) == OBJ_STRING) {
        size_t n;
        const char *v = obj_str(o, &n);
        karg_t set[5] = {{"SET", 3}, {key, klen}, {v, n}, {"PXAT", 4}, ttl};
        prop_add(&c->eng->prop, c->db_id, ttl.n ? 5 : 3, set);
        return;
    }
    if (obj_type(o) == OBJ_STREAM) {
        log_stream(c, key, klen, obj_ptr(o));
    } else {
        log_collection(c, o, key, klen);
        if (obj_type(o) == OBJ_HASH && obj_encoding(o) == OBJ_ENC_HASH_TTL)
            log_field_expiries(c, o, key, klen);
    }
    if (ttl.n) {
        karg_t pexpireat[3] = {{"PEXPIREAT", 9}, {key, klen}, ttl};
        prop_add(&c->eng->prop, c->db_id, 3, pexpireat);
    }
}

/* RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency] */
static void
cmd_restore(client_t *c) {
    restore_opts_t opt;
    if (!parse_restore_opts(c, &opt))
        return;
    const karg_t *key = &c->argv[1], *payload = &c->argv[3];
    bool exists = cmd_lookup_write(c, key) != NULL;
    if (exists && !opt.replace) {
        reply_err(c, "BUSYKEY Target key name already exists.");
        return;
    }
    long long ttl;
    if (!util_parse_ll(c->argv[2].p, c->argv[2].n, &ttl)) {
        reply_err(c, ERR_NOT_INT);
        return;
    }
    if (ttl < 0) {
        reply_err(c, "ERR Invalid TTL value, must be >= 0");
        return;
    }
    size_t body;
    if (rdb_payload_check(payload->p, payload->n, &body, NULL) < 0) {
        reply_err(c, "ERR DUMP payload version or checksum are wrong");
        return;
    }
    int64_t now = db_now_ms(&c->eng->dbenv);
    if (ttl && !opt.absttl)
        ttl = ttl > INT64_MAX - now ? INT64_MAX : ttl + now;
    kobj_t *o;
    if (rdb_value_decode(payload->p, body, key->p, key->n, ttl ? ttl : -1, &o, NULL) < 0) {
        reply_err(c, "ERR Bad data format");
        return;
    }
    if (exists)
        db_delete(c->db, key->p, key->n);
    /* Already expired: nothing is stored. Replay (loading) never judges by the clock. */
    if (ttl && ttl <= now && !c->eng->loading) {
        obj_free(o);
        if (exists) {
            karg_t del[2] = {{"DEL", 3}, *key};
            prop_add(&c->eng->prop, c->db_id, 2, del);
            srv_key_modified(c->eng, c->db, key->p, key->n);
            srv_notify(c->eng, NOTIFY_GENERIC, "del", key->p, key->n, c->db_id);
            srv_dirty(c->eng, 1);
        }
        reply_ok(c);
        return;
    }
    db_add(c->db, o);
    set_access(c, o, &opt);
    log_restored(c, o, exists);
    srv_key_modified(c->eng, c->db, key->p, key->n);
    srv_notify(c->eng, NOTIFY_GENERIC, "restore", key->p, key->n, c->db_id);
    srv_dirty(c->eng, 1);
    reply_ok(c);
}

/* clang-format off */
cmd_def_t cmd_table_dump[] = {
    {"dump", cmd_dump, 2, CMD_READONLY, 1, 1, 1, "generic", "Returns a serialized representation of the value stored at a key.", "2.6.0", "O(1) to access the key and additional O(N*M) to serialize it, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1).", "keyspace read slow"},
    {"restore", cmd_restore, -4, CMD_WRITE | CMD_DENYOOM, 1, 1, 1, "generic", "Creates a key from the serialized representation of a value.", "2.6.0", "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).", "keyspace write slow dangerous"},
    {NULL},
};
/* clang-format on */
