/*
 * cmd_stream_group.c - consumer-group commands (XGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM) and
 * XINFO, over the stream type (server/types/t_stream.h).
 *
 * Replies, errors and keyspace events follow Valkey 8. Logged effects: XCLAIM and XAUTOCLAIM log
 * one XCLAIM key group consumer 0 id TIME ms RETRYCOUNT n FORCE JUSTID LASTID last per entry they
 * claimed or dropped (an entry gone from the stream leaves the PEL on replay too), and an XGROUP
 * SETID when LASTID moved the group; the others are logged as called.
 */
#include <limits.h>
#include <string.h>

#include "block.h"
#include "cmd.h"
#include "cmd_stream_int.h"
#include "cmd_util.h"
#include "commands.h"
#include "engine.h"
#include "events.h"
#include "kmem.h"
#include "prop.h"
#include "reply.h"
#include "util.h"

#define XAUTOCLAIM_ATTEMPTS_FACTOR 10
/* Larger COUNTs are refused as Valkey's failed allocation of COUNT IDs refuses them. */
#define XAUTOCLAIM_COUNT_ALLOC_max (1ull << 32)
#define XERR_KEY_MUST_EXIST                                                                        \
    "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to "   \
    "use the MKSTREAM option to create an empty stream automatically."

static void
reply_nogroup(client_t *c, const karg_t *key, const karg_t *group) {
    reply_errf(c, "NOGROUP No such key '%.*s' or consumer group '%.*s'", (int)key->n, key->p,
               (int)group->n, group->p);
}

/* The stream and group of a command: false after replying (WRONGTYPE or NOGROUP). */
static bool
lookup_group(client_t *c, bool write, stream_t **s, scg_t **g) {
    bool bad;
    *s = xlookup(c, &c->argv[1], write, &bad);
    if (bad)
        return false;
    *g = *s ? stream_group_find(*s, c->argv[2].p, c->argv[2].n) : NULL;
    if (!*g) {
        reply_nogroup(c, &c->argv[1], &c->argv[2]);
        return false;
    }
    return true;
}

static void
reply_map_or_array(client_t *c, long long pairs) {
    if (c->resp >= 3)
        reply_map(c, pairs);
    else
        reply_array(c, 2 * pairs);
}

/* ---- XGROUP --------------------------------------------------------------------------------- */

static void
reply_subcmd_syntax(client_t *c) {
    reply_errf(c,
               "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try XGROUP HELP.",
               (int)c->argv[1].n, c->argv[1].p);
}

static bool
parse_entries_read(client_t *c, const karg_t *a, int64_t *out) {
    long long v;
    if (!util_parse_ll(a->p, a->n, &v)) {
        reply_err(c, ERR_NOT_INT);
        return false;
    }
    if (v < 0 && v != STREAM_ENTRIES_READ_INVALID) {
        reply_err(c, "ERR value for ENTRIESREAD must be positive or -1");
        return false;
    }
    *out = v;
    return true;
}

/* The key and group of XGROUP's subcommands; *s NULL and false after replying. */
static bool
xgroup_stream(client_t *c, bool mkstream, bool need_group, stream_t **s, scg_t **g) {
    bool bad;
    *s = xlookup(c, &c->argv[2], true, &bad);
    *g = NULL;
    if (bad)
        return false;
    if (!*s && !mkstream) {
        reply_err(c, XERR_KEY_MUST_EXIST);
        return false;
    }
    if (*s)
        *g = stream_group_find(*s, c->argv[3].p, c->argv[3].n);
    if (need_group && !*g) {
        reply_errf(c, "NOGROUP No such consumer group '%.*s' for key name '%.*s'",
                   (int)c->argv[3].n, c->argv[3].p, (int)c->argv[2].n, c->argv[2].p);
        return false;
    }
    return true;
}

static void
xgroup_changed(client_t *c, const char *event) {
    const karg_t *key = &c->argv[2];
    srv_notify(c->eng, NOTIFY_STREAM, event, key->p, key->n, c->db_id);
    srv_key_modified(c->eng, c->db, key->p, key->n);
    srv_dirty(c->eng, 1);
}

static void
xgroup_create(client_t *c) {
    bool mkstream = false;
    int64_t er = STREAM_ENTRIES_READ_INVALID;
    if (c->argc > 8) {
        reply_subcmd_syntax(c);
        return;
    }
    for (int i = 5; i < c->argc; i++) {
        if (cmd_arg_is(&c->argv[i], "mkstream")) {
            mkstream = true;
        } else if (cmd_arg_is(&c->argv[i], "entriesread") && i + 1 < c->argc) {
            if (!parse_entries_read(c, &c->argv[++i], &er))
                return;
        } else {
            reply_subcmd_syntax(c);
            return;
        }
    }
    stream_t *s;
    scg_t *g;
    if (!xgroup_stream(c, mkstream, false, &s, &g))
        return;
    sid_t id;
    const karg_t *a = &c->argv[4];
    if (a->n == 1 && a->p[0] == '$')
        id = s ? stream_last_id(s) : (sid_t){0, 0};
    else if (!xparse_id(c, a, 0, false, false, true, &id))
        return;
    if (g) {
        reply_err(c, "BUSYGROUP Consumer Group name already exists");
        return;
    }
    if (!s) {
        s = stream_new();
        db_add(c->db, obj_new_ptr(OBJ_STREAM, OBJ_ENC_STREAM, c->argv[2].p, c->argv[2].n, s, -1));
    }
    stream_group_create(s, c->argv[3].p, c->argv[3].n, &id, er);
    xgroup_changed(c, "xgroup-create");
    reply_ok(c);
}

static void
xgroup_setid(client_t *c) {
    int64_t er = STREAM_ENTRIES_READ_INVALID;
    if (c->argc != 5 && c->argc != 7) {
        reply_subcmd_syntax(c);
        return;
    }
    stream_t *s;
    scg_t *g;
    if (!xgroup_stream(c, false, true, &s, &g))
        return;
    sid_t id;
    const karg_t *a = &c->argv[4];
    if (a->n == 1 && a->p[0] == '$')
        id = stream_last_id(s);
    else if (!xparse_id(c, a, 0, false, false, true, &id))
        return;
    if (c->argc == 7) {
        if (!cmd_arg_is(&c->argv[5], "entriesread")) {
            reply_subcmd_syntax(c);
            return;
        }
        if (!parse_entries_read(c, &c->argv[6], &er))
            return;
    }
    g->last_id = id;
    g->entries_read = er;
    xgroup_changed(c, "xgroup-setid");
    reply_ok(c);
}

static void
xgroup_destroy(client_t *c) {
    stream_t *s;
    scg_t *g;
    if (!xgroup_stream(c, false, false, &s, &g))
        return;
    if (!g) {
        reply_int(c, 0);
        return;
    }
    stream_group_destroy(s, c->argv[3].p, c->argv[3].n);
    xgroup_changed(c, "xgroup-destroy"); /* wakes readers blocked on the group */
    reply_int(c, 1);
}

static void
xgroup_createconsumer(client_t *c) {
    stream_t *s;
    scg_t *g;
    if (!xgroup_stream(c, false, true, &s, &g))
        return;
    bool created;
    scg_consumer_get(g, c->argv[4].p, c->argv[4].n, db_now_ms(c->db->env), &created);
    if (created)
        xgroup_changed(c, "xgroup-createconsumer");
    reply_int(c, created);
}

static void
xgroup_delconsumer(client_t *c) {
    stream_t *s;
    scg_t *g;
    if (!xgroup_stream(c, false, true, &s, &g))
        return;
    sconsumer_t *cons = scg_consumer_find(g, c->argv[4].p, c->argv[4].n);
    long long pending = 0;
    if (cons) {
        pending = (long long)scg_consumer_delete(g, cons);
        xgroup_changed(c, "xgroup-delconsumer");
    }
    reply_int(c, pending);
}

static void
xgroup_help(client_t *c) {
    static const char *const lines[] = {
        "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CREATE <key> <groupname> <id|$> [option]",
        "    Create a new consumer group. Options are:",
        "    * MKSTREAM",
        "      Create the empty stream if it does not exist.",
        "    * ENTRIESREAD entries_read",
        "      Set the group's entries_read counter (internal use).",
        "CREATECONSUMER <key> <groupname> <consumer>",
        "    Create a new consumer in the specified group.",
        "DELCONSUMER <key> <groupname> <consumer>",
        "    Remove the specified consumer.",
        "DESTROY <key> <groupname>",
        "    Remove the specified group.",
        "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
        "    Set the current group ID and entries_read counter.",
        "HELP",
        "    Print this help.",
    };
    reply_help(c, lines, sizeof lines / sizeof *lines);
}

/* ---- XACK ----------------------------------------------------------------------------------- */

static void
cmd_xack(client_t *c) {
    bool bad;
    stream_t *s = xlookup(c, &c->argv[1], true, &bad);
    if (bad)
        return;
    scg_t *g = s ? stream_group_find(s, c->argv[2].p, c->argv[2].n) : NULL;
    if (!g) {
        reply_int(c, 0); /* no key or no group: nothing to acknowledge */
        return;
    }
    int n = c->argc - 3;
    sid_t *ids = kmalloc((size_t)n * sizeof *ids);
    for (int i = 0; i < n; i++) {
        if (!xparse_id(c, &c->argv[3 + i], 0, false, false, true, &ids[i])) {
            kfree(ids);
            return;
        }
    }
    long long acked = 0;
    for (int i = 0; i < n; i++)
        acked += scg_pel_remove(g, &ids[i]);
    kfree(ids);
    if (acked) {
        srv_key_modified(c->eng, c->db, c->argv[1].p, c->argv[1].n);
        srv_dirty(c->eng, (uint64_t)acked);
    }
    reply_int(c, acked);
}

/* ---- XPENDING ------------------------------------------------------------------------------- */

static void
xpending_summary(client_t *c, const scg_t *g) {
    reply_array(c, 4);
    reply_int(c, (long long)g->pel_len);
    if (g->pel_len == 0) {
        reply_null(c);
        reply_null(c);
        reply_null_array(c);
        return;
    }
    xreply_id(c, &scg_pel_at(g, 0)->id);
    xreply_id(c, &scg_pel_at(g, g->pel_len - 1)->id);
    long long with = 0;
    for (size_t i = 0; i < g->nconsumers; i++)
        with += g->consumers[i]->pending > 0;
    reply_array(c, with);
    for (size_t i = 0; i < g->nconsumers; i++) {
        const sconsumer_t *cons = g->consumers[i];
        if (!cons->pending)
            continue;
        reply_array(c, 2);
        reply_bulk(c, cons->name, cons->name_len);
        reply_bulk_ll(c, (long long)cons->pending);
    }
}

/* XPENDING key group [[IDLE min-idle-time] start end count [consumer]] */
static void
cmd_xpending(client_t *c) {
    long long minidle = 0, count = 0;
    sid_t start = {0, 0}, end = {0, 0};
    const karg_t *consumer = NULL;
    bool ext = c->argc >= 6;
    if (c->argc != 3 && (c->argc < 6 || c->argc > 9)) {
        reply_err(c, ERR_SYNTAX);
        return;
    }
    if (ext) {
        int at = 3;
        if (cmd_arg_is(&c->argv[3], "idle")) {
            if (!util_parse_ll(c->argv[4].p, c->argv[4].n, &minidle)) {
                reply_err(c, ERR_NOT_INT);
                return;
            }
            if (c->argc < 8) {
                reply_err(c, ERR_SYNTAX);
                return;
            }
            at += 2;
        }
        if (!util_parse_ll(c->argv[at + 2].p, c->argv[at + 2].n, &count)) {
            reply_err(c, ERR_NOT_INT);
            return;
        }
        if (count < 0)
            count = 0;
        if (!xparse_id(c, &c->argv[at], 0, true, true, true, &start) ||
            !xparse_id(c, &c->argv[at + 1], UINT64_MAX, true, true, false, &end))
            return;
        if (at + 3 < c->argc)
            consumer = &c->argv[at + 3]; /* Valkey ignores what follows it */
    }
    stream_t *s;
    scg_t *g;
    if (!lookup_group(c, false, &s, &g))
        return;
    if (!ext) {
        xpending_summary(c, g);
        return;
    }
    const sconsumer_t *only = consumer ? scg_consumer_find(g, consumer->p, consumer->n) : NULL;
    if (consumer && !only) {
        reply_empty_array(c);
        return;
    }
    int64_t now = db_now_ms(c->db->env);
    size_t spot = reply_defer(c);
    long long n = 0;
    for (size_t i = scg_pel_lower(g, &start); i < g->pel_len && n < count; i++) {
        const spel_t *pe = scg_pel_at(g, i);
        if (sid_cmp(&pe->id, &end) > 0)
            break;
        if (only && pe->owner != only)
            continue;
        int64_t idle = now - pe->delivery_ms;
        if (idle < 0)
            idle = 0;
        if (minidle && idle < minidle)
            continue;
        reply_array(c, 4);
        xreply_id(c, &pe->id);
        reply_bulk(c, pe->owner->name, pe->owner->name_len);
        reply_int(c, idle);
        reply_int(c, (long long)pe->delivery_count);
        n++;
    }
    reply_set_deferred_array(c, spot, n);
}

/* ---- XCLAIM / XAUTOCLAIM -------------------------------------------------------------------- */

/* Claims pending entry pe for cons: the shared tail of XCLAIM and XAUTOCLAIM. */
static void
claim(client_t *c, scg_t *g, spel_t *pe, sconsumer_t *cons, int64_t when, long long retry,
      bool justid) {
    pe->delivery_ms = when;
    if (retry >= 0)
        pe->delivery_count = (uint64_t)retry;
    else if (!justid)
        pe->delivery_count++;
    if (pe->owner != cons)
        scg_pel_set_owner(pe, cons);
    cons->active_ms = db_now_ms(c->db->env); /* a replay runs at the record's time */
    xeffect_claim(c, &c->argv[1], g, cons, pe);
    srv_dirty(c->eng, 1);
}

static void
reply_claimed(client_t *c, const stream_t *s, const sid_t *id, bool justid) {
    sentry_t e;
    if (justid)
        xreply_id(c, id);
    else if (stream_get(s, id, &e))
        xreply_entry(c, &e);
}

static sconsumer_t *
consumer_for(client_t *c, scg_t *g) {
    bool created;
    sconsumer_t *cons =
        scg_consumer_get(g, c->argv[3].p, c->argv[3].n, db_now_ms(c->db->env), &created);
    if (created)
        xconsumer_created(c, &c->argv[1], g, cons);
    cons->seen_ms = db_now_ms(c->db->env);
    return cons;
}

typedef struct xclaim_opts {
    int64_t when;
    long long retry;
    bool force, justid;
    sid_t lastid;
} xclaim_opts_t;

/* XCLAIM's options from argv[j] on; false after replying. */
static bool
xclaim_options(client_t *c, int j, int64_t now, xclaim_opts_t *o) {
    o->when = -1;
    for (; j < c->argc; j++) {
        const karg_t *a = &c->argv[j];
        bool more = j + 1 < c->argc;
        long long v;
        if (cmd_arg_is(a, "force")) {
            o->force = true;
        } else if (cmd_arg_is(a, "justid")) {
            o->justid = true;
        } else if ((cmd_arg_is(a, "idle") || cmd_arg_is(a, "time") ||
                    cmd_arg_is(a, "retrycount")) &&
                   more) {
            const char *which = cmd_arg_is(a, "idle")   ? "IDLE"
                                : cmd_arg_is(a, "time") ? "TIME"
                                                        : "RETRYCOUNT";
            j++;
            if (!util_parse_ll(c->argv[j].p, c->argv[j].n, &v)) {
                reply_errf(c, "ERR Invalid %s option argument for XCLAIM", which);
                return false;
            }
            if (which[0] == 'I')
                o->when = now - v;
            else if (which[0] == 'T')
                o->when = v;
            else
                o->retry = v;
        } else if (cmd_arg_is(a, "lastid") && more) {
            if (!xparse_id(c, &c->argv[++j], 0, false, false, true, &o->lastid))
                return false;
        } else {
            reply_errf(c, "ERR Unrecognized XCLAIM option '%.*s'", (int)a->n, a->p);
            return false;
        }
    }
    if (o->when < 0 || o->when > now)
        o->when = now;
    return true;
}

/* XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms] [TIME ms] [RETRYCOUNT n] [FORCE]
 * [JUSTID] [LASTID id] */
static void
cmd_xclaim(client_t *c) {
    stream_t *s;
    scg_t *g;
    if (!lookup_group(c, true, &s, &g))
        return;
    long long minidle;
    if (!util_parse_ll(c->argv[4].p, c->argv[4].n, &minidle)) {
        reply_err(c, "ERR Invalid min-idle-time argument for XCLAIM");
        return;
    }
    if (minidle < 0)
        minidle = 0;
    int j = 5;
    sid_t tmp;
    while (j < c->argc && sid_parse(c->argv[j].p, c->argv[j].n, 0, &tmp))
        j++;
    int last_id_arg = j - 1;
    int64_t now = db_now_ms(c->db->env);
    xclaim_opts_t o = {.retry = -1};
    if (!xclaim_options(c, j, now, &o))
        return;
    bool lastid_moved = false;
    if (sid_cmp(&o.lastid, &g->last_id) > 0) {
        g->last_id = o.lastid;
        lastid_moved = true;
    }
    sconsumer_t *cons = consumer_for(c, g);
    size_t spot = reply_defer(c);
    long long n = 0;
    for (j = 5; j <= last_id_arg; j++) {
        sid_t id;
        sid_parse(c->argv[j].p, c->argv[j].n, 0, &id);
        spel_t *pe = scg_pel_find(g, &id);
        sentry_t e;
        if (!stream_get(s, &id, &e)) {
            if (pe) { /* gone from the stream: it leaves the PEL */
                xeffect_claim(c, &c->argv[1], g, pe->owner, pe);
                scg_pel_remove(g, &id);
                srv_dirty(c->eng, 1);
                lastid_moved = false;
            }
            continue;
        }
        if (!pe && o.force) {
            bool created;
            pe = scg_pel_add(g, &id, &created);
            pe->delivery_ms = now;
            pe->delivery_count = 1;
        }
        if (!pe)
            continue;
        if (pe->owner && minidle && now - pe->delivery_ms < minidle)
            continue;
        claim(c, g, pe, cons, o.when, o.retry, o.justid);
        reply_claimed(c, s, &id, o.justid);
        n++;
        lastid_moved = false;
    }
    if (lastid_moved) {
        char last[STREAM_ID_STR_max];
        karg_t a[5] = {xarg("XGROUP"),
                       xarg("SETID"),
                       c->argv[1],
                       c->argv[2],
                       {last, (size_t)sid_fmt(&g->last_id, last)}};
        xeffect(c, 5, a);
        srv_dirty(c->eng, 1);
    }
    srv_key_modified(c->eng, c->db, c->argv[1].p, c->argv[1].n);
    reply_set_deferred_array(c, spot, n);
}

/* XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID] */
static void
cmd_xautoclaim(client_t *c) {
    long long minidle, count = 100;
    bool justid = false;
    sid_t start;
    if (!util_parse_ll(c->argv[4].p, c->argv[4].n, &minidle)) {
        reply_err(c, "ERR Invalid min-idle-time argument for XAUTOCLAIM");
        return;
    }
    if (minidle < 0)
        minidle = 0;
    if (!xparse_id(c, &c->argv[5], 0, true, true, true, &start))
        return;
    for (int j = 6; j < c->argc; j++) {
        if (cmd_arg_is(&c->argv[j], "count") && j + 1 < c->argc) {
            j++;
            if (!util_parse_ll(c->argv[j].p, c->argv[j].n, &count) || count < 1 ||
                count > LONG_MAX / XAUTOCLAIM_ATTEMPTS_FACTOR) {
                reply_err(c, "ERR COUNT must be > 0");
                return;
            }
        } else if (cmd_arg_is(&c->argv[j], "justid")) {
            justid = true;
        } else {
            reply_err(c, ERR_SYNTAX);
            return;
        }
    }
    /* Valkey allocates COUNT IDs up front and says so when it cannot. */
    if ((unsigned long long)count > XAUTOCLAIM_COUNT_ALLOC_max) {
        reply_err(c,
                  "ERR Insufficient memory, failed allocating transient memory, COUNT too high.");
        return;
    }
    stream_t *s;
    scg_t *g;
    if (!lookup_group(c, true, &s, &g))
        return;
    long long attempts = count * XAUTOCLAIM_ATTEMPTS_FACTOR;
    int64_t now = db_now_ms(c->db->env);
    sconsumer_t *cons = consumer_for(c, g);
    sid_t *deleted = kmalloc((size_t)(count < 1024 ? count : 1024) * sizeof *deleted);
    size_t ndel = 0, delcap = (size_t)(count < 1024 ? count : 1024);
    reply_array(c, 3);
    /* The cursor comes first but is known last: reply the entries into a deferred slot after
     * walking. Walk first collecting the claimed IDs, then reply. */
    sid_t *claimed = NULL;
    size_t nclaimed = 0, clcap = 0;
    size_t i = scg_pel_lower(g, &start);
    while (attempts-- > 0 && count > 0 && i < g->pel_len) {
        spel_t *pe = scg_pel_at(g, i);
        sid_t id = pe->id;
        sentry_t e;
        if (!stream_get(s, &id, &e)) {
            xeffect_claim(c, &c->argv[1], g, pe->owner, pe);
            scg_pel_remove(g, &id);
            srv_dirty(c->eng, 1);
            if (ndel == delcap) {
                delcap *= 2;
                deleted = krealloc(deleted, delcap * sizeof *deleted);
            }
            deleted[ndel++] = id;
            count--;
            continue; /* i now indexes the next entry */
        }
        i++;
        if (minidle && now - pe->delivery_ms < minidle)
            continue;
        claim(c, g, pe, cons, now, -1, justid);
        if (nclaimed == clcap) {
            clcap = clcap ? clcap * 2 : 16;
            claimed = krealloc(claimed, clcap * sizeof *claimed);
        }
        claimed[nclaimed++] = id;
        count--;
    }
    sid_t next = i < g->pel_len ? scg_pel_at(g, i)->id : (sid_t){0, 0};
    xreply_id(c, &next);
    reply_array(c, (long long)nclaimed);
    for (size_t k = 0; k < nclaimed; k++)
        reply_claimed(c, s, &claimed[k], justid);
    reply_array(c, (long long)ndel);
    for (size_t k = 0; k < ndel; k++)
        xreply_id(c, &deleted[k]);
    kfree(claimed);
    kfree(deleted);
    srv_key_modified(c->eng, c->db, c->argv[1].p, c->argv[1].n);
}

/* ---- XINFO ---------------------------------------------------------------------------------- */

static void
reply_lag(client_t *c, const stream_t *s, const scg_t *g) {
    int64_t lag;
    if (stream_group_lag(s, g, &lag))
        reply_int(c, lag);
    else
        reply_null(c);
}

static void
reply_entries_read(client_t *c, const scg_t *g) {
    if (g->entries_read == STREAM_ENTRIES_READ_INVALID)
        reply_null(c);
    else
        reply_int(c, g->entries_read);
}

static void
xinfo_groups(client_t *c) {
    bool bad;
    stream_t *s = xlookup(c, &c->argv[2], false, &bad);
    if (bad)
        return;
    if (!s) {
        reply_err(c, "ERR no such key");
        return;
    }
    reply_array(c, (long long)stream_group_count(s));
    for (size_t i = 0; i < stream_group_count(s); i++) {
        const scg_t *g = stream_group_at(s, i);
        reply_map_or_array(c, 6);
        reply_bulk_cstr(c, "name");
        reply_bulk(c, g->name, g->name_len);
        reply_bulk_cstr(c, "consumers");
        reply_int(c, (long long)g->nconsumers);
        reply_bulk_cstr(c, "pending");
        reply_int(c, (long long)g->pel_len);
        reply_bulk_cstr(c, "last-delivered-id");
        xreply_id(c, &g->last_id);
        reply_bulk_cstr(c, "entries-read");
        reply_entries_read(c, g);
        reply_bulk_cstr(c, "lag");
        reply_lag(c, s, g);
    }
}

static void
xinfo_consumers(client_t *c) {
    bool bad;
    stream_t *s = xlookup(c, &c->argv[2], false, &bad);
    if (bad)
        return;
    if (!s) {
        reply_err(c, "ERR no such key");
        return;
    }
    const scg_t *g = stream_group_find(s, c->argv[3].p, c->argv[3].n);
    if (!g) {
        reply_errf(c, "NOGROUP No such consumer group '%.*s' for key name '%.*s'",
                   (int)c->argv[3].n, c->argv[3].p, (int)c->argv[2].n, c->argv[2].p);
        return;
    }
    int64_t now = db_now_ms(c->db->env);
    reply_array(c, (long long)g->nconsumers);
    for (size_t i = 0; i < g->nconsumers; i++) {
        const sconsumer_t *cons = g->consumers[i];
        int64_t idle = now - cons->seen_ms;
        reply_map_or_array(c, 4);
        reply_bulk_cstr(c, "name");
        reply_bulk(c, cons->name, cons->name_len);
        reply_bulk_cstr(c, "pending");
        reply_int(c, (long long)cons->pending);
        reply_bulk_cstr(c, "idle");
        reply_int(c, idle < 0 ? 0 : idle);
        reply_bulk_cstr(c, "inactive");
        reply_int(c, cons->active_ms < 0 ? -1 : now - cons->active_ms);
    }
}

/* The fields XINFO STREAM and XINFO STREAM FULL share, first to recorded-first-entry-id. */
static void
xinfo_stream_head(client_t *c, const stream_t *s) {
    sid_t last = stream_last_id(s), maxdel = stream_max_deleted_id(s), first = stream_first_id(s);
    reply_bulk_cstr(c, "length");
    reply_int(c, (long long)stream_len(s));
    reply_bulk_cstr(c, "radix-tree-keys");
    reply_int(c, (long long)stream_node_count(s));
    reply_bulk_cstr(c, "radix-tree-nodes");
    reply_int(c, (long long)stream_node_count(s) + 1);
    reply_bulk_cstr(c, "last-generated-id");
    xreply_id(c, &last);
    reply_bulk_cstr(c, "max-deleted-entry-id");
    xreply_id(c, &maxdel);
    reply_bulk_cstr(c, "entries-added");
    reply_int(c, (long long)stream_entries_added(s));
    reply_bulk_cstr(c, "recorded-first-entry-id");
    xreply_id(c, stream_len(s) ? &first : &(sid_t){0, 0});
}

static void
reply_edge_entry(client_t *c, const stream_t *s, bool last) {
    sid_t lo = {0, 0}, hi = {UINT64_MAX, UINT64_MAX};
    stream_iter_t it;
    sentry_t e;
    stream_iter_init(&it, s, &lo, &hi, last);
    if (stream_iter_next(&it, &e))
        xreply_entry(c, &e);
    else
        reply_null(c);
    stream_iter_done(&it);
}

static void
xinfo_full_group(client_t *c, const stream_t *s, const scg_t *g, long long count) {
    int64_t now = db_now_ms(c->db->env);
    (void)now;
    reply_map_or_array(c, 7);
    reply_bulk_cstr(c, "name");
    reply_bulk(c, g->name, g->name_len);
    reply_bulk_cstr(c, "last-delivered-id");
    xreply_id(c, &g->last_id);
    reply_bulk_cstr(c, "entries-read");
    reply_entries_read(c, g);
    reply_bulk_cstr(c, "lag");
    reply_lag(c, s, g);
    reply_bulk_cstr(c, "pel-count");
    reply_int(c, (long long)g->pel_len);
    reply_bulk_cstr(c, "pending");
    size_t np = count && (size_t)count < g->pel_len ? (size_t)count : g->pel_len;
    reply_array(c, (long long)np);
    for (size_t i = 0; i < np; i++) {
        const spel_t *pe = scg_pel_at(g, i);
        reply_array(c, 4);
        xreply_id(c, &pe->id);
        reply_bulk(c, pe->owner->name, pe->owner->name_len);
        reply_int(c, pe->delivery_ms);
        reply_int(c, (long long)pe->delivery_count);
    }
    reply_bulk_cstr(c, "consumers");
    reply_array(c, (long long)g->nconsumers);
    for (size_t k = 0; k < g->nconsumers; k++) {
        const sconsumer_t *cons = g->consumers[k];
        reply_map_or_array(c, 5);
        reply_bulk_cstr(c, "name");
        reply_bulk(c, cons->name, cons->name_len);
        reply_bulk_cstr(c, "seen-time");
        reply_int(c, cons->seen_ms);
        reply_bulk_cstr(c, "active-time");
        reply_int(c, cons->active_ms);
        reply_bulk_cstr(c, "pel-count");
        reply_int(c, (long long)cons->pending);
        reply_bulk_cstr(c, "pending");
        size_t want = count && (uint64_t)count < cons->pending ? (size_t)count : cons->pending;
        reply_array(c, (long long)want);
        for (size_t i = 0, n = 0; i < g->pel_len && n < want; i++) {
            const spel_t *pe = scg_pel_at(g, i);
            if (pe->owner != cons)
                continue;
            reply_array(c, 3);
            xreply_id(c, &pe->id);
            reply_int(c, pe->delivery_ms);
            reply_int(c, (long long)pe->delivery_count);
            n++;
        }
    }
}

static void
xinfo_stream_full(client_t *c, const stream_t *s, long long count) {
    reply_map_or_array(c, 9);
    xinfo_stream_head(c, s);
    reply_bulk_cstr(c, "entries");
    size_t spot = reply_defer(c);
    long long n = 0;
    sid_t lo = {0, 0}, hi = {UINT64_MAX, UINT64_MAX};
    stream_iter_t it;
    sentry_t e;
    stream_iter_init(&it, s, &lo, &hi, false);
    while ((!count || n < count) && stream_iter_next(&it, &e)) {
        xreply_entry(c, &e);
        n++;
    }
    stream_iter_done(&it);
    reply_set_deferred_array(c, spot, n);
    reply_bulk_cstr(c, "groups");
    reply_array(c, (long long)stream_group_count(s));
    for (size_t i = 0; i < stream_group_count(s); i++)
        xinfo_full_group(c, s, stream_group_at(s, i), count);
}

/* XINFO STREAM key [FULL [COUNT count]] */
static void
xinfo_stream(client_t *c) {
    bool full = false;
    long long count = 10;
    if (c->argc > 3) {
        if (!cmd_arg_is(&c->argv[3], "full") || (c->argc != 4 && c->argc != 6) ||
            (c->argc == 6 && !cmd_arg_is(&c->argv[4], "count"))) {
            reply_errf(c,
                       "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try "
                       "XINFO HELP.",
                       (int)c->argv[1].n, c->argv[1].p);
            return;
        }
        full = true;
        if (c->argc == 6) {
            if (!util_parse_ll(c->argv[5].p, c->argv[5].n, &count)) {
                reply_err(c, ERR_NOT_INT);
                return;
            }
            if (count < 0)
                count = 0;
        }
    }
    bool bad;
    stream_t *s = xlookup(c, &c->argv[2], false, &bad);
    if (bad)
        return;
    if (!s) {
        reply_err(c, "ERR no such key");
        return;
    }
    if (full) {
        xinfo_stream_full(c, s, count);
        return;
    }
    reply_map_or_array(c, 10);
    xinfo_stream_head(c, s);
    reply_bulk_cstr(c, "groups");
    reply_int(c, (long long)stream_group_count(s));
    reply_bulk_cstr(c, "first-entry");
    reply_edge_entry(c, s, false);
    reply_bulk_cstr(c, "last-entry");
    reply_edge_entry(c, s, true);
}

static void
xinfo_help(client_t *c) {
    static const char *const lines[] = {
        "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CONSUMERS <key> <groupname>",
        "    Show consumers of <groupname>.",
        "GROUPS <key>",
        "    Show the stream consumer groups.",
        "STREAM <key> [FULL [COUNT <count>]",
        "    Show information about the stream.",
        "HELP",
        "    Print this help.",
    };
    reply_help(c, lines, sizeof lines / sizeof *lines);
}

/* clang-format off */
static cmd_def_t xgroup_subcmds[] = {
    {"create", xgroup_create, -5, CMD_WRITE | CMD_DENYOOM, 2, 2, 1, "stream", "Creates a consumer group.", "5.0.0", "O(1)", "write stream slow"},
    {"setid", xgroup_setid, -5, CMD_WRITE, 2, 2, 1, "stream", "Sets the last-delivered ID of a consumer group.", "5.0.0", "O(1)", "write stream slow"},
    {"destroy", xgroup_destroy, 4, CMD_WRITE, 2, 2, 1, "stream", "Destroys a consumer group.", "5.0.0", "O(N) where N is the number of entries in the group's pending entries list (PEL).", "write stream slow"},
    {"createconsumer", xgroup_createconsumer, 5, CMD_WRITE | CMD_DENYOOM, 2, 2, 1, "stream", "Creates a consumer in a consumer group.", "6.2.0", "O(1)", "write stream slow"},
    {"delconsumer", xgroup_delconsumer, 5, CMD_WRITE, 2, 2, 1, "stream", "Deletes a consumer from a consumer group.", "5.0.0", "O(1)", "write stream slow"},
    {"help", xgroup_help, 2, CMD_LOADING | CMD_STALE, 0, 0, 0, "stream", "Returns helpful text about the different subcommands.", "5.0.0", "O(1)", "stream slow"},
    {0},
};

static cmd_def_t xinfo_subcmds[] = {
    {"stream", xinfo_stream, -3, CMD_READONLY, 2, 2, 1, "stream", "Returns information about a stream.", "5.0.0", "O(1)", "read stream slow"},
    {"groups", xinfo_groups, 3, CMD_READONLY, 2, 2, 1, "stream", "Returns a list of the consumer groups of a stream.", "5.0.0", "O(1)", "read stream slow"},
    {"consumers", xinfo_consumers, 4, CMD_READONLY, 2, 2, 1, "stream", "Returns a list of the consumers in a consumer group.", "5.0.0", "O(1)", "read stream slow"},
    {"help", xinfo_help, 2, CMD_LOADING | CMD_STALE, 0, 0, 0, "stream", "Returns helpful text about the different subcommands.", "5.0.0", "O(1)", "stream slow"},
    {0},
};

cmd_def_t cmd_table_stream_group[] = {
    {"xgroup", NULL, -2, 0, 0, 0, 0, "stream", "A container for consumer groups commands.", "5.0.0", "Depends on subcommand.", "slow", NULL, xgroup_subcmds},
    {"xinfo", NULL, -2, 0, 0, 0, 0, "stream", "A container for stream introspection commands.", "5.0.0", "Depends on subcommand.", "slow", NULL, xinfo_subcmds},
    {"xack", cmd_xack, -4, CMD_WRITE | CMD_FAST, 1, 1, 1, "stream", "Returns the number of messages that were successfully acknowledged by the consumer group member of a stream.", "5.0.0", "O(1) for each message ID processed.", "write stream fast"},
    {"xpending", cmd_xpending, -3, CMD_READONLY, 1, 1, 1, "stream", "Returns the information and entries from a stream consumer group's pending entries list.", "5.0.0", "O(N) with N being the number of elements returned, so asking for a small fixed number of entries per call is O(1). O(M), where M is the total number of entries scanned when used with the IDLE filter. When the command returns just the summary and the list of consumers is small, it runs in O(1).", "read stream slow"},
    {"xclaim", cmd_xclaim, -6, CMD_WRITE | CMD_FAST, 1, 1, 1, "stream", "Changes, or acquires, ownership of a message in a consumer group, as if the message was delivered a consumer group member.", "5.0.0", "O(log N) with N being the number of messages in the PEL of the consumer group.", "write stream fast"},
    {"xautoclaim", cmd_xautoclaim, -6, CMD_WRITE | CMD_FAST, 1, 1, 1, "stream", "Changes, or acquires, ownership of messages in a consumer group, as if the messages were delivered to as consumer group member.", "6.2.0", "O(1) if COUNT is small.", "write stream fast"},
    {0},
};
/* clang-format on */
