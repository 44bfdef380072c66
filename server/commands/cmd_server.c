/* cmd_server.c - server commands: CONFIG DBSIZE FLUSHDB FLUSHALL TIME SHUTDOWN DEBUG MEMORY. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "tiering.h"
#include "cmd.h"
#include "commands.h"
#include "conn.h"
#include "config.h"
#include "errstats.h"
#include "evict.h"
#include "exec.h"
#include "latency.h"
#include "lazyfree.h"
#include "kmem.h"
#include "engine.h"
#include "sbuf.h"
#include "tracking.h"
#include "util.h"
#include "ev.h"
#include "reply.h"

/* ---- CONFIG ---- */

typedef struct cfg_collect {
    client_t *c;
    int n;
    bool emit;
    char seen[128][64];
    int nseen;
} cfg_collect_t;

static void
config_get_cb(void *ctx, const char *name, const char *value) {
    cfg_collect_t *k = ctx;
    for (int i = 0; i < k->nseen; i++)
        if (!strcmp(k->seen[i], name))
            return; /* several patterns matching one name: report it once */
    if (k->nseen < 128)
        snprintf(k->seen[k->nseen++], 64, "%s", name);
    k->n++;
    if (k->emit) {
        reply_bulk_cstr(k->c, name);
        reply_bulk_cstr(k->c, value);
    }
}

static void
config_get_cmd(client_t *c) {
    cfg_collect_t *k = kcalloc(1, sizeof *k);
    k->c = c;
    for (int i = 2; i < c->argc; i++)
        config_get(c->eng, c->argv[i].p, c->argv[i].n, config_get_cb, k);
    int n = k->n;
    memset(k, 0, sizeof *k);
    k->c = c;
    k->emit = true;
    reply_map(c, n);
    for (int i = 2; i < c->argc; i++)
        config_get(c->eng, c->argv[i].p, c->argv[i].n, config_get_cb, k);
    kfree(k);
}

static void
config_set_cmd(client_t *c) {
    if ((c->argc - 2) % 2) {
        reply_err(c, ERR_SYNTAX); /* Valkey: an odd number of name/value arguments */
        return;
    }
    /* Valkey refuses a setting named twice in one call before changing anything. Every name
     * is looked up once and marked in a table of the settings, so a call with 100,000
     * arguments costs 50,000 lookups, not 2.5 billion comparisons. */
    uint8_t *seen = kcalloc((size_t)config_count(), 1);
    bool ok = true;
    for (int i = 2; ok && i < c->argc; i += 2) {
        const karg_t *name = &c->argv[i], *val = &c->argv[i + 1];
        int k = config_index(name->p, name->n);
        if (k < 0) {
            reply_errf(c, "ERR Unknown option or number of arguments for CONFIG SET - '%.*s'",
                       (int)(name->n > 128 ? 128 : name->n), name->p);
            ok = false;
            break;
        }
        const char *why = seen[k]                     ? "duplicate parameter"
                          : memchr(val->p, 0, val->n) ? "argument must not contain a NUL byte"
                                                      : NULL;
        if (why) {
            reply_errf(c, "ERR CONFIG SET failed (possibly related to argument '%.*s') - %s",
                       (int)name->n, name->p, why);
            ok = false;
        }
        seen[k] = 1;
    }
    kfree(seen);
    if (!ok)
        return;
    /* All or nothing: every pair is validated on a scratch copy of the settings first, then
     * applied; a pair that fails leaves every setting as it was. */
    engine_t *s = c->eng;
    char err[256];
    tls_ctx_t *tls = NULL;
    for (int pass = 0; pass < 2; pass++) {
        int bad;
        if (pass == 1 &&
            config_tls_prepare(s, c->argc - 2, c->argv + 2, &tls, &bad, err, sizeof err) < 0) {
            klog(KLOG_WARNING, "CONFIG SET: the TLS configuration was not changed: %s", err);
            reply_errf(c,
                       "ERR CONFIG SET failed (possibly related to argument '%.*s') - Unable to "
                       "update TLS configuration: %s",
                       (int)c->argv[2 + bad].n, c->argv[2 + bad].p, err);
            return;
        }
        for (int i = 2; i < c->argc; i += 2) {
            char *name = kstrndup(c->argv[i].p, c->argv[i].n);
            char *val = kstrndup(c->argv[i + 1].p, c->argv[i + 1].n);
            const char *args[2] = {name, val};
            int rc = pass == 0 ? config_validate(s, 2, args, err, sizeof err)
                               : config_set(s, 2, args, NULL, false, err, sizeof err);
            kfree(name);
            kfree(val);
            if (rc < 0) {
                if (!strncmp(err, "Unknown option", 14) || !strncmp(err, "CONFIG SET failed", 17))
                    reply_errf(c, "ERR %s", err);
                else
                    reply_errf(c,
                               "ERR CONFIG SET failed (possibly related to argument '%.*s') - %s",
                               (int)c->argv[i].n, c->argv[i].p, err);
                tls_ctx_free(tls); /* (pass 1 does not fail once pass 0 passed) */
                return;
            }
        }
    }
    if (tls && s->net)
        net_tls_set(s->net, tls); /* new connections use it; existing ones keep theirs */
    else
        tls_ctx_free(tls);
    reply_ok(c);
}

static void
config_resetstat_cmd(client_t *c) {
    engine_t *s = c->eng;
    int64_t start = s->stats.start_ms;
    memset(&s->stats, 0, sizeof s->stats);
    s->stats.start_ms = start;
    if (s->net)
        net_reset_stats(s->net);
    cmd_reset_stats(c->eng);
    latency_cmd_reset(c->eng);
    errstats_reset(c->eng);
    tiering_reset_stats(c->eng);
    reply_ok(c);
}

static void
config_rewrite_cmd(client_t *c) {
    char err[256];
    if (config_rewrite(c->eng, err, sizeof err) < 0) {
        reply_errf(c, "ERR %s", err);
        return;
    }
    reply_ok(c);
}

static void
config_help_cmd(client_t *c) {
    static const char *const lines[] = {
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
        "HELP",
        "    Print this help.",
    };
    reply_help(c, lines, sizeof lines / sizeof *lines);
}

/* ---- keyspace-wide ---- */

static void
cmd_dbsize(client_t *c) {
    reply_int(c, (long long)db_size(c->db));
}

/* FLUSHDB/FLUSHALL [ASYNC|SYNC]: 1 for ASYNC, 0 for SYNC (the default, as Valkey with
 * lazyfree-lazy-user-flush no), -1 after replying an error. */
static int
flush_mode(client_t *c) {
    if (c->argc == 1)
        return 0;
    if (c->argc == 2 && cmd_arg_is(&c->argv[1], "async"))
        return 1;
    if (c->argc == 2 && cmd_arg_is(&c->argv[1], "sync"))
        return 0;
    reply_err(c, ERR_SYNTAX);
    return -1;
}

static void
flush_one(engine_t *s, int id, bool async) {
    size_t n = db_size(s->dbs[id]);
    srv_db_replacing(s, id, -1);
    if (async)
        lazyfree_db(s->lazyfree, db_detach(s->dbs[id])); /* the tables go to the lazy-free thread */
    else
        db_flush(s->dbs[id]);
    srv_db_modified(s, id);
    srv_dirty(s, n ? n : 1);
}

static void
cmd_flushdb(client_t *c) {
    int mode = flush_mode(c);
    if (mode < 0)
        return;
    flush_one(c->eng, c->db_id, mode == 1);
    tracking_invalidate_all(c->eng); /* Valkey: a flush tells every tracking client */
    reply_ok(c);
}

static void
cmd_flushall(client_t *c) {
    int mode = flush_mode(c);
    if (mode < 0)
        return;
    for (int i = 0; i < c->eng->cfg.databases; i++)
        flush_one(c->eng, i, mode == 1);
    srv_db_modified(c->eng, -1);
    tracking_invalidate_all(c->eng);
    reply_ok(c);
}

static void
cmd_time(client_t *c) {
    int64_t us = util_time_us();
    reply_array(c, 2);
    reply_bulk_ll(c, us / 1000000);
    reply_bulk_ll(c, us % 1000000);
}

static void
cmd_shutdown(client_t *c) {
    for (int i = 1; i < c->argc; i++) {
        const karg_t *a = &c->argv[i];
        if (!cmd_arg_is(a, "nosave") && !cmd_arg_is(a, "save") && !cmd_arg_is(a, "now") &&
            !cmd_arg_is(a, "force") && !cmd_arg_is(a, "abort")) {
            reply_err(c, ERR_SYNTAX);
            return;
        }
        if (cmd_arg_is(a, "abort")) {
            reply_err(c, "ERR No shutdown in progress.");
            return;
        }
    }
    c->eng->shutdown_asap = true;
    ev_stop(c->eng->loop);
}

/* ---- DEBUG ---- */

static void
debug_cmd(client_t *c) {
    engine_t *s = c->eng;
    const karg_t *sub = &c->argv[1];
    if (cmd_debug_extra(c)) {
        /* RELOAD, DIGEST, DIGEST-VALUE, ERROR, POPULATE, PROTOCOL, ... (cmd_debug.c) */
    } else if (cmd_arg_is(sub, "sleep") && c->argc == 3) {
        double secs;
        if (!util_parse_double(c->argv[2].p, c->argv[2].n, &secs) || secs < 0) {
            reply_err(c, ERR_NOT_FLOAT);
            return;
        }
        usleep((useconds_t)(secs * 1e6));
        reply_ok(c);
    } else if (cmd_arg_is(sub, "set-active-expire") && c->argc == 3) {
        s->cfg.active_expire = c->argv[2].n == 1 && c->argv[2].p[0] == '1';
        reply_ok(c);
    } else if (cmd_arg_is(sub, "object") && c->argc == 3) {
        kobj_t *o = db_lookup(c->db, c->argv[2].p, c->argv[2].n, DB_LOOKUP_NOTOUCH);
        if (!o) {
            reply_err(c, ERR_NO_KEY);
            return;
        }
        char buf[256];
        snprintf(
            buf, sizeof buf,
            "Value at:0x0 refcount:1 encoding:%s serializedlength:0 lru:%u lru_seconds_idle:%lld",
            obj_encoding_name(o), obj_lru(o), evict_idle_s(&c->eng->dbenv, o));
        reply_simple(c, buf);
    } else if (cmd_arg_is(sub, "tiering-fault") && c->argc == 4) {
        long long v;
        char name[32];
        snprintf(name, sizeof name, "%.*s", (int)(c->argv[2].n < 31 ? c->argv[2].n : 31),
                 c->argv[2].p);
        if (!util_parse_ll(c->argv[3].p, c->argv[3].n, &v))
            reply_err(c, "ERR value is not an integer or out of range");
        else if (tiering_debug_fault(s, name, v) < 0)
            reply_err(c, "ERR tiering is off, or no such fault (put-error, get-error, "
                         "put-delay-ms, get-delay-ms, checkpoint-error)");
        else
            reply_ok(c);
    } else if (cmd_arg_is(sub, "jmap") || cmd_arg_is(sub, "stringmatch-len")) {
        reply_ok(c);
    } else if (cmd_arg_is(sub, "help")) {
        static const char *const lines[] = {
            "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "OBJECT <key>",
            "    Show low level info about the key and associated value.",
            "SET-ACTIVE-EXPIRE <0|1>",
            "    Setting it to 0 disables expiring keys in background.",
            "SLEEP <seconds>",
            "    Stop the server for <seconds>. Decimals allowed.",
            "RELOAD",
            "    Write the keyspace to a snapshot file and load it back in this process.",
            "DIGEST",
            "    Output a hex signature representing the current DB content.",
            "DIGEST-VALUE <key> [<key> ...]",
            "    Output a hex signature of the values of all the specified keys.",
            "ERROR <string>",
            "    Return a Valkey protocol error with <string> as message.",
            "POPULATE <count> [<prefix>] [<size>]",
            "    Create <count> string keys named key:<num>, or <prefix>:<num> when given.",
            "PROTOCOL <type>",
            "    Reply with a test value of the specified type (string, integer, double, bignum,",
            "    null, array, set, map, attrib, push, verbatim, true, false).",
            "QUICKLIST-PACKED-THRESHOLD <size>",
            "    Accepted (checked) for compatibility: Keel's lists keep every element packed.",
            "JMAP",
            "    Accepted for compatibility; does nothing.",
        };
        reply_help(c, lines, sizeof lines / sizeof *lines);
    } else {
        reply_errf(
            c, "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try DEBUG HELP.",
            (int)sub->n, sub->p);
    }
}

/* ---- MEMORY ---- */

static size_t
memory_usage(const kobj_t *o) {
    size_t n = obj_alloc_size(o) + 12; /* the object + its share of a table slot and tag */
    if (obj_type(o) != OBJ_STRING && !obj_is_tiered(o)) { /* a stub: only what is in memory */
        const obj_type_ops_t *ops = obj_ops(obj_type(o));
        if (ops && ops->mem)
            n += ops->mem(obj_ptr(o), obj_encoding(o));
    }
    if (obj_has_expire(o))
        n += 12;
    return n;
}

static void
memory_usage_cmd(client_t *c) {
    if (c->argc != 3 && !(c->argc == 5 && cmd_arg_is(&c->argv[3], "samples"))) {
        reply_err(c, ERR_SYNTAX);
        return;
    }
    if (c->argc == 5) {
        long long samples;
        if (!util_parse_ll(c->argv[4].p, c->argv[4].n, &samples) || samples < 0) {
            reply_err(c, ERR_NOT_INT);
            return;
        }
    }
    kobj_t *o = db_lookup(c->db, c->argv[2].p, c->argv[2].n, DB_LOOKUP_NOTOUCH);
    if (!o) {
        reply_null(c);
        return;
    }
    reply_int(c, (long long)memory_usage(o));
}

static void
memory_stats_cmd(client_t *c) {
    engine_t *s = c->eng;
    size_t keys = 0;
    for (int i = 0; i < s->cfg.databases; i++)
        keys += db_size(s->dbs[i]);
    reply_map(c, 4);
    reply_bulk_cstr(c, "peak.allocated");
    reply_int(c, (long long)kmem_used());
    reply_bulk_cstr(c, "total.allocated");
    reply_int(c, (long long)kmem_used());
    reply_bulk_cstr(c, "keys.count");
    reply_int(c, (long long)keys);
    reply_bulk_cstr(c, "dataset.bytes");
    reply_int(c, (long long)kmem_used());
}

static void
memory_doctor_cmd(client_t *c) {
    static const char msg[] = "Hi Sam, I can't find any memory issue in your instance. "
                              "I can only account for what occurs on this base.";
    reply_verbatim(c, msg, sizeof msg - 1, "txt");
}

static void
memory_purge_cmd(client_t *c) {
    kmem_purge();
    reply_ok(c);
}

static void
malloc_stats_cb(void *ctx, const char *text) {
    sbuf_append(ctx, text, strlen(text));
}

static void
memory_malloc_stats_cmd(client_t *c) {
    sbuf_t b = {0};
    if (!kmem_stats_print(malloc_stats_cb, &b))
        sbuf_printf(&b, "Stats not supported for the current allocator (%s)", kmem_allocator());
    reply_verbatim(c, b.p ? b.p : "", b.len, "txt");
    sbuf_free(&b);
}

static void
memory_help_cmd(client_t *c) {
    static const char *const lines[] = {
        "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "USAGE <key> [SAMPLES <count>]",
        "    Return memory in bytes used by <key> and its value.",
        "STATS",
        "    Return information about the memory usage of the server.",
        "DOCTOR",
        "    Return memory problems reports.",
        "MALLOC-STATS",
        "    Return internal statistics report from the memory allocator.",
        "PURGE",
        "    Attempt to purge dirty pages for reclamation by the allocator.",
        "HELP",
        "    Print this help.",
    };
    reply_help(c, lines, sizeof lines / sizeof *lines);
}

static cmd_def_t config_subcmds[] = {
    {"get", config_get_cmd, -3, CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, 0, 0, 0,
     "server", "Returns the effective values of configuration parameters.", "2.0.0",
     "O(N) when N is the number of configuration parameters provided", "admin slow dangerous"},
    {"set", config_set_cmd, -4, CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, 0, 0, 0,
     "server", "Sets configuration parameters in-flight.", "2.0.0",
     "O(N) when N is the number of configuration parameters provided", "admin slow dangerous"},
    {"resetstat", config_resetstat_cmd, 2, CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, 0, 0,
     0, "server", "Resets the server's statistics.", "2.0.0", "O(1)", "admin slow dangerous"},
    {"rewrite", config_rewrite_cmd, 2, CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, 0, 0, 0,
     "server", "Persists the effective configuration to file.", "2.8.0", "O(1)",
     "admin slow dangerous"},
    {"help", config_help_cmd, 2, CMD_LOADING | CMD_STALE, 0, 0, 0, "server",
     "Returns helpful text about the different subcommands.", "5.0.0", "O(1)", "slow"},
    {0},
};

static cmd_def_t memory_subcmds[] = {
    {"usage", memory_usage_cmd, -3, CMD_READONLY, 2, 2, 1, "server",
     "Estimates the memory usage of a key.", "4.0.0", "O(N) where N is the number of samples.",
     "read slow"},
    {"stats", memory_stats_cmd, 2, 0, 0, 0, 0, "server", "Returns details about memory usage.",
     "4.0.0", "O(1)", "slow"},
    {"doctor", memory_doctor_cmd, 2, 0, 0, 0, 0, "server", "Outputs a memory problems report.",
     "4.0.0", "O(1)", "slow"},
    {"malloc-stats", memory_malloc_stats_cmd, 2, 0, 0, 0, 0, "server",
     "Returns the allocator statistics.", "4.0.0",
     "Depends on how much memory is allocated, could be slow", "slow"},
    {"purge", memory_purge_cmd, 2, 0, 0, 0, 0, "server", "Asks the allocator to release memory.",
     "4.0.0", "Depends on how much memory is allocated, could be slow", "slow"},
    {"help", memory_help_cmd, 2, CMD_LOADING | CMD_STALE, 0, 0, 0, "server",
     "Returns helpful text about the different subcommands.", "4.0.0", "O(1)", "slow"},
    {0},
};

cmd_def_t cmd_table_server[] = {
    {"config", NULL, -2, 0, 0, 0, 0, "server", "A container for server configuration commands.",
     "2.0.0", "Depends on subcommand.", "slow", NULL, config_subcmds},
    {"memory", NULL, -2, 0, 0, 0, 0, "server", "A container for memory diagnostics commands.",
     "4.0.0", "Depends on subcommand.", "slow", NULL, memory_subcmds},
    {"dbsize", cmd_dbsize, 1, CMD_READONLY | CMD_FAST | CMD_TOUCHES_ALL, 0, 0, 0, "server",
     "Returns the number of keys in the database.", "1.0.0", "O(1)", "keyspace read fast"},
    {"flushdb", cmd_flushdb, -1, CMD_WRITE, 0, 0, 0, "server",
     "Removes all keys from the current database.", "1.0.0",
     "O(N) where N is the number of keys in the selected database",
     "keyspace write slow dangerous"},
    {"flushall", cmd_flushall, -1, CMD_WRITE, 0, 0, 0, "server",
     "Removes all keys from all databases.", "1.0.0",
     "O(N) where N is the total number of keys in all databases", "keyspace write slow dangerous"},
    {"time", cmd_time, 1, CMD_LOADING | CMD_STALE | CMD_FAST, 0, 0, 0, "server",
     "Returns the server time.", "2.6.0", "O(1)", "fast"},
    {"shutdown", cmd_shutdown, -1,
     CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_NO_MULTI | CMD_ALLOW_BUSY, 0, 0, 0,
     "server", "Synchronously saves the database(s) to disk and shuts down the server.", "1.0.0",
     "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)",
     "admin slow dangerous"},
    {"debug", debug_cmd, -2, CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_PROTECTED, 0,
     0, 0, "server", "A container for debugging commands.", "1.0.0", "Depends on subcommand.",
     "admin slow dangerous"},
    {0},
};
