/*
 * cmd_debug.c - the DEBUG subcommands client test suites use (behind enable-debug-command, as
 * DEBUG itself): RELOAD, DIGEST, DIGEST-VALUE, ERROR, POPULATE, PROTOCOL and
 * QUICKLIST-PACKED-THRESHOLD. cmd_server.c's DEBUG hands them here.
 *
 * The digest (Keel's own definition; docs/operations.md): XXH3-128 of each value's canonical
 * form, where ordered values (strings, lists) hash their bytes in order and unordered ones
 * (sets, hashes, sorted sets) add up the hashes of their elements (a field with its value, a
 * member with its score printed as %.17g), so equal data gives an equal digest whatever its
 * encoding. A key's digest hashes its db, type, name, expiry and value digest; DEBUG DIGEST adds
 * up the key digests (mod 2^128) and prints 40 hex digits: the 32 of the sum, then 8 of the XOR
 * of the key digests' top 32 bits. An empty data set gives 40 zeros, as in Valkey.
 */
#define XXH_STATIC_LINKING_ONLY
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "cmd.h"
#include "commands.h"
#include "engine.h"
#include "events.h"
#include "klog.h"
#include "kmem.h"
#include "prop.h"
#include "reply.h"
#include "snapshot_glue.h"
#include "util.h"

#define DIGEST_HEX         41
#define POPULATE_VALUE_MAX (512LL * 1024 * 1024)

typedef struct u128 {
    uint64_t lo, hi;
} u128_t;

static void
add128(u128_t *acc, XXH128_hash_t h) {
    uint64_t lo = acc->lo + h.low64;
    acc->hi += h.high64 + (lo < acc->lo);
    acc->lo = lo;
}

typedef struct value_hash {
    XXH3_state_t st; /* ordered values */
    u128_t sum;      /* unordered values */
    bool unordered;
    bool pair_half; /* a hash: the field waiting for its value */
    char *field;
    size_t flen;
} value_hash_t;

static void
elem_cb(void *ctx, const char *p, size_t n, double score) {
    value_hash_t *v = ctx;
    uint64_t len = n;
    if (!v->unordered) {
        XXH3_128bits_update(&v->st, &len, sizeof len);
        XXH3_128bits_update(&v->st, p, n);
        return;
    }
    XXH3_state_t e;
    XXH3_128bits_reset(&e);
    if (v->pair_half) { /* hash: field then value */
        if (!v->field) {
            v->field = kstrndup(p, n);
            v->flen = n;
            return;
        }
        uint64_t fl = v->flen;
        XXH3_128bits_update(&e, &fl, sizeof fl);
        XXH3_128bits_update(&e, v->field, v->flen);
        kfree(v->field);
        v->field = NULL;
    }
    XXH3_128bits_update(&e, &len, sizeof len);
    XXH3_128bits_update(&e, p, n);
    if (score != 0) { /* sorted sets; the other types give 0 */
        char buf[64];
        int k = snprintf(buf, sizeof buf, "%.17g", score);
        XXH3_128bits_update(&e, buf, (size_t)k);
    }
    add128(&v->sum, XXH3_128bits_digest(&e));
}

/* The digest of o's value (type and content); false for a value in the tier (not in memory). */
static bool
value_digest(const kobj_t *o, XXH128_hash_t *out) {
    if (obj_is_tiered(o))
        return false;
    int type = obj_type(o);
    value_hash_t v = {0};
    XXH3_128bits_reset(&v.st);
    uint64_t t = (uint64_t)type;
    XXH3_128bits_update(&v.st, &t, sizeof t);
    if (type == OBJ_STRING) {
        size_t n;
        const char *p = obj_str(o, &n);
        XXH3_128bits_update(&v.st, p, n);
    } else {
        const obj_type_ops_t *ops = obj_ops(type);
        v.unordered = type != OBJ_LIST;
        v.pair_half = type == OBJ_HASH;
        ops->each(obj_ptr(o), obj_encoding(o), elem_cb, &v);
        kfree(v.field);
        if (v.unordered)
            XXH3_128bits_update(&v.st, &v.sum, sizeof v.sum);
    }
    *out = XXH3_128bits_digest(&v.st);
    return true;
}

static void
hex40(char *buf, uint64_t hi, uint64_t lo, uint32_t tail) {
    snprintf(buf, DIGEST_HEX, "%016llx%016llx%08x", (unsigned long long)hi, (unsigned long long)lo,
             tail);
}

typedef struct digest_ctx {
    int db;
    u128_t sum;
    uint32_t tail;
    uint64_t tiered;
} digest_ctx_t;

static void
digest_key_cb(void *priv, void *entry) {
    digest_ctx_t *d = priv;
    const kobj_t *o = entry;
    XXH128_hash_t vh;
    if (!value_digest(o, &vh)) {
        d->tiered++;
        return;
    }
    size_t klen;
    const char *key = obj_key(o, &klen);
    int64_t exp = obj_expire(o);
    uint64_t db = (uint64_t)d->db, kl = klen;
    XXH3_state_t st;
    XXH3_128bits_reset(&st);
    XXH3_128bits_update(&st, &db, sizeof db);
    XXH3_128bits_update(&st, &kl, sizeof kl);
    XXH3_128bits_update(&st, key, klen);
    XXH3_128bits_update(&st, &exp, sizeof exp);
    XXH3_128bits_update(&st, &vh, sizeof vh);
    XXH128_hash_t kh = XXH3_128bits_digest(&st);
    add128(&d->sum, kh);
    d->tail ^= (uint32_t)(kh.high64 >> 32);
}

static void
debug_digest(client_t *c) {
    engine_t *s = c->eng;
    digest_ctx_t d = {0};
    for (int i = 0; i < s->cfg.databases; i++) {
        d.db = i;
        uint64_t cur = 0;
        do
            cur = db_scan(s->dbs[i], cur, digest_key_cb, &d);
        while (cur);
    }
    if (d.tiered) {
        reply_errf(c, "ERR DEBUG DIGEST needs every value in memory: %llu are in the tier",
                   (unsigned long long)d.tiered);
        return;
    }
    char hex[DIGEST_HEX];
    hex40(hex, d.sum.hi, d.sum.lo, d.tail);
    reply_simple(c, hex);
}

static void
debug_digest_value(client_t *c) {
    reply_array(c, c->argc - 2);
    for (int i = 2; i < c->argc; i++) {
        kobj_t *o = db_lookup(c->db, c->argv[i].p, c->argv[i].n, DB_LOOKUP_NOTOUCH);
        XXH128_hash_t h = {0, 0};
        char hex[DIGEST_HEX];
        if (o && !value_digest(o, &h)) {
            reply_err(c, "ERR the value is in the tier (not in memory)");
            continue;
        }
        hex40(hex, h.high64, h.low64, (uint32_t)(h.low64 ^ h.high64));
        if (!o)
            memset(hex, '0', DIGEST_HEX - 1);
        reply_simple(c, hex);
    }
}

/* DEBUG POPULATE count [prefix] [size]: keys prefix:0.. ("key:N") holding "value:N", or that
 * text cut or zero-padded to size bytes; existing keys are left alone. The new keys are logged
 * as SET effects, so they are as durable as any write. */
static void
debug_populate(client_t *c) {
    long long count, size = 0;
    if (c->argc > 5) {
        reply_err(c, ERR_SYNTAX);
        return;
    }
    if (!util_parse_ll(c->argv[2].p, c->argv[2].n, &count) || count < 0) {
        reply_err(c, "ERR count must be a non-negative integer");
        return;
    }
    if (c->argc == 5 && (!util_parse_ll(c->argv[4].p, c->argv[4].n, &size) || size < 0 ||
                         size > POPULATE_VALUE_MAX)) {
        reply_err(c, "ERR size must be a non-negative integer of at most 512mb");
        return;
    }
    const char *prefix = "key";
    size_t plen = 3;
    if (c->argc >= 4) {
        prefix = c->argv[3].p;
        plen = c->argv[3].n;
    }
    char *key = kmalloc(plen + 32), *val = kmalloc(size > 64 ? (size_t)size : 64);
    for (long long i = 0; i < count; i++) {
        memcpy(key, prefix, plen);
        size_t klen = plen + (size_t)snprintf(key + plen, 32, ":%lld", i);
        if (db_lookup(c->db, key, klen, DB_LOOKUP_NOTOUCH))
            continue;
        char num[48];
        size_t vlen = (size_t)snprintf(num, sizeof num, "value:%lld", i);
        if (size) {
            memset(val, 0, (size_t)size);
            memcpy(val, num, vlen < (size_t)size ? vlen : (size_t)size);
            vlen = (size_t)size;
        } else {
            memcpy(val, num, vlen);
        }
        db_set(c->db, obj_new_str(key, klen, val, vlen, -1), false);
        srv_key_modified(c->eng, c->db, key, klen);
        srv_dirty(c->eng, 1);
        karg_t eff[3] = {{"SET", 3}, {key, klen}, {val, vlen}};
        prop_add(&c->eng->prop, c->db_id, 3, eff);
    }
    kfree(key);
    kfree(val);
    reply_ok(c);
}

/* DEBUG RELOAD: the keyspace goes through the snapshot format and back, in this process: it is
 * written to a file in `dir` (not one of the snapshots: the set of snapshots and the log stay as
 * they are), emptied, and loaded from that file. Data that does not survive the round trip
 * shows in DEBUG DIGEST. Valkey's options (MERGE, NOFLUSH, NOSAVE) are not taken. */
static void
debug_reload(client_t *c) {
    engine_t *s = c->eng;
    char err[512] = "", path[1024];
    if (c->argc > 2) {
        reply_err(c, "ERR DEBUG RELOAD takes no options in Keel");
        return;
    }
    if (s->tiering) {
        reply_err(c, "ERR DEBUG RELOAD is not available with tiering on (values in the tier "
                     "are not in this process's memory)");
        return;
    }
    if (snapshot_in_progress(s)) {
        reply_err(c, "ERR Background save already in progress");
        return;
    }
    snprintf(path, sizeof path, "%s/debug-reload-%d.ksnap", s->cfg.dir, (int)getpid());
    snap_write_stats_t st = {0};
    int rc = snapshot_write_keyspace(s, path, s->last_lsn_assigned, s->cfg.snapshot_threads, 0, &st,
                                     err, sizeof err);
    if (rc < 0) {
        unlink(path);
        reply_errf(c, "ERR Error trying to save the snapshot: %s", err);
        return;
    }
    for (int i = 0; i < s->cfg.databases; i++)
        db_flush(s->dbs[i]);
    snap_info_t info;
    s->loading = true;
    rc = snapshot_load_file(s, path, s->cfg.snapshot_threads, &info, err, sizeof err);
    s->loading = false;
    unlink(path);
    if (rc < 0) {
        /* The keyspace is partial now; the log still holds every write: a restart recovers. */
        klog(KLOG_WARNING, "DEBUG RELOAD could not load its own snapshot: %s", err);
        reply_errf(c, "ERR Error trying to load the snapshot (restart to recover from the log): %s",
                   err);
        return;
    }
    reply_ok(c);
}

/* DEBUG PROTOCOL <type>: Valkey's sample value of each RESP3 type (RESP2 gets their RESP2
 * forms), for client libraries' parser tests. */
static void
debug_protocol(client_t *c) {
    const karg_t *t = &c->argv[2];
    bool r3 = c->resp >= 3;
    if (cmd_arg_is(t, "string")) {
        reply_bulk_cstr(c, "Hello World");
    } else if (cmd_arg_is(t, "integer")) {
        reply_int(c, 12345);
    } else if (cmd_arg_is(t, "double")) {
        reply_double(c, 3.141);
    } else if (cmd_arg_is(t, "bignum")) {
        static const char big[] = "1234567999999999999999999999999999999";
        if (r3)
            reply_raw_bytes(c, "(1234567999999999999999999999999999999\r\n", sizeof big + 2);
        else
            reply_bulk(c, big, sizeof big - 1);
    } else if (cmd_arg_is(t, "null")) {
        reply_null(c);
    } else if (cmd_arg_is(t, "array") || cmd_arg_is(t, "set")) {
        if (cmd_arg_is(t, "set"))
            reply_set(c, 3);
        else
            reply_array(c, 3);
        for (int j = 0; j < 3; j++)
            reply_int(c, j);
    } else if (cmd_arg_is(t, "map")) {
        reply_map(c, 3);
        for (int j = 0; j < 3; j++) {
            reply_int(c, j);
            if (r3)
                reply_raw_bytes(c, j == 1 ? "#t\r\n" : "#f\r\n", 4);
            else
                reply_int(c, j == 1);
        }
    } else if (cmd_arg_is(t, "attrib")) {
        if (r3) {
            reply_raw_bytes(c, "|1\r\n", 4);
            reply_bulk_cstr(c, "key-popularity");
            reply_array(c, 2);
            reply_bulk_cstr(c, "key:123");
            reply_int(c, 90);
        }
        reply_bulk_cstr(c, "Some real reply following the attribute");
    } else if (cmd_arg_is(t, "push")) {
        if (!r3) {
            reply_err(c, "ERR RESP2 is not supported by this command");
            return;
        }
        reply_push(c, 2);
        reply_bulk_cstr(c, "server-cpu-usage");
        reply_int(c, 42);
        reply_bulk_cstr(c, "Some real reply following the push reply");
    } else if (cmd_arg_is(t, "true") || cmd_arg_is(t, "false")) {
        bool v = cmd_arg_is(t, "true");
        if (r3)
            reply_raw_bytes(c, v ? "#t\r\n" : "#f\r\n", 4);
        else
            reply_int(c, v);
    } else if (cmd_arg_is(t, "verbatim")) {
        reply_verbatim(c, "This is a verbatim\nstring", 25, "txt");
    } else {
        reply_err(c, "ERR Wrong protocol type name. Please use one of the following: "
                     "string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|"
                     "true|false");
    }
}

bool
cmd_debug_extra(client_t *c) {
    const karg_t *sub = &c->argv[1];
    if (cmd_arg_is(sub, "reload")) {
        debug_reload(c);
    } else if (cmd_arg_is(sub, "digest") && c->argc == 2) {
        debug_digest(c);
    } else if (cmd_arg_is(sub, "digest-value")) {
        debug_digest_value(c);
    } else if (cmd_arg_is(sub, "error") && c->argc == 3) {
        const karg_t *m = &c->argv[2]; /* the message as given, code and all (Valkey's) */
        reply_errf(c, "%.*s", (int)m->n, m->p);
    } else if (cmd_arg_is(sub, "populate") && c->argc >= 3) {
        debug_populate(c);
    } else if (cmd_arg_is(sub, "protocol") && c->argc == 3) {
        debug_protocol(c);
    } else if (cmd_arg_is(sub, "quicklist-packed-threshold") && c->argc == 3) {
        /* Keel's quicklist keeps every element packed (no plain nodes for large elements), so
         * there is no threshold to move: the value is checked as Valkey checks it, and kept. */
        long long v;
        char buf[64];
        snprintf(buf, sizeof buf, "%.*s", (int)(c->argv[2].n < 63 ? c->argv[2].n : 63),
                 c->argv[2].p);
        if (!util_parse_memory(buf, &v) || v < 0 || v > (1LL << 32) - (1LL << 20))
            reply_err(c, "ERR argument must be a memory value bigger than 1 and smaller than 4gb");
        else
            reply_ok(c);
    } else {
        return false;
    }
    return true;
}
