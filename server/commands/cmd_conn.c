/* cmd_conn.c - connection commands: PING ECHO QUIT RESET HELLO AUTH SELECT CLIENT MULTI EXEC DISCARD. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "monitor.h"
#include "pause.h"
#include "tracking.h"
#include "acl.h"
#include "cmd.h"
#include "pubsub.h"
#include "block.h"
#include "exec.h"
#include "kmem.h"
#include "engine.h"
#include "util.h"
#include "reply.h"
#include "repl.h"

static void
cmd_ping(client_t *c) {
    if (c->argc > 2) {
        reply_err_arity(c, "ping");
        return;
    }
    if ((c->flags & CLIENT_PUBSUB) && c->resp == 2) { /* subscriber mode: a push-style reply */
        reply_array(c, 2);
        reply_bulk(c, "pong", 4);
        if (c->argc == 2)
            reply_bulk(c, c->argv[1].p, c->argv[1].n);
        else
            reply_bulk(c, "", 0);
        return;
    }
    if (c->argc == 2)
        reply_bulk(c, c->argv[1].p, c->argv[1].n);
    else
        reply_simple(c, "PONG");
}

static void
cmd_echo(client_t *c) {
    reply_bulk(c, c->argv[1].p, c->argv[1].n);
}

static void
cmd_quit(client_t *c) {
    reply_ok(c);
    c->conn.flags |= CONN_CLOSE_AFTER_REPLY;
}

static void
select_db(client_t *c, int id) {
    c->db_id = id;
    c->db = c->eng->dbs[id];
}

static void
cmd_select(client_t *c) {
    long long id;
    if (!util_parse_ll(c->argv[1].p, c->argv[1].n, &id)) {
        reply_err(c, ERR_NOT_INT);
        return;
    }
    if (id < 0 || id >= c->eng->cfg.databases) {
        reply_err(c, ERR_DB_INDEX);
        return;
    }
    select_db(c, (int)id);
    reply_ok(c);
}

/* AUTH [user] pass: the two-argument form is the default user's, as Valkey. */
static void
cmd_auth(client_t *c) {
    if (c->argc > 3) {
        reply_err(c, ERR_SYNTAX);
        return;
    }
    if (c->argc == 2 && acl_user_nopass(acl_default_user(c->eng))) {
        reply_err(c, "ERR AUTH <password> called without any password configured for the default "
                     "user. Are you sure your configuration is correct?");
        return;
    }
    const karg_t *user = c->argc == 3 ? &c->argv[1] : NULL;
    if (!acl_auth(c, user, &c->argv[c->argc - 1])) {
        reply_err(c, "WRONGPASS invalid username-password pair or user is disabled.");
        return;
    }
    reply_ok(c);
}

static bool
valid_name(const karg_t *a) {
    for (size_t i = 0; i < a->n; i++)
        if (a->p[i] < '!' || a->p[i] > '~')
            return false;
    return true;
}

static void
set_name(client_t *c, const karg_t *a) {
    kfree(c->name);
    c->name = a->n ? kstrndup(a->p, a->n) : NULL;
}

static void
hello_reply(client_t *c) {
    reply_map(c, 7);
    reply_bulk_cstr(c, "server");
    reply_bulk_cstr(c, "redis");
    reply_bulk_cstr(c, "version");
    reply_bulk_cstr(c, KEEL_REDIS_COMPAT_VERSION);
    reply_bulk_cstr(c, "proto");
    reply_int(c, c->resp);
    reply_bulk_cstr(c, "id");
    reply_int(c, (long long)c->id);
    reply_bulk_cstr(c, "mode");
    reply_bulk_cstr(c, "standalone");
    reply_bulk_cstr(c, "role");
    reply_bulk_cstr(c, "master");
    reply_bulk_cstr(c, "modules");
    reply_empty_array(c);
}

static void
cmd_hello(client_t *c) {
    long long ver = 0;
    int i = 1;
    if (c->argc >= 2) {
        if (!util_parse_ll(c->argv[1].p, c->argv[1].n, &ver)) {
            reply_err(c, "ERR Protocol version is not an integer or out of range");
            return;
        }
        if (ver < 2 || ver > 3) {
            reply_err(c, "NOPROTO unsupported protocol version");
            return;
        }
        i = 2;
    }
    const karg_t *user = NULL, *pass = NULL, *name = NULL;
    for (; i < c->argc; i++) {
        int left = c->argc - i - 1;
        if (cmd_arg_is(&c->argv[i], "auth") && left >= 2) {
            user = &c->argv[i + 1];
            pass = &c->argv[i + 2];
            i += 2;
        } else if (cmd_arg_is(&c->argv[i], "setname") && left >= 1) {
            name = &c->argv[i + 1];
            i++;
        } else {
            reply_errf(c, "ERR Syntax error in HELLO option '%.*s'", (int)c->argv[i].n,
                       c->argv[i].p);
            return;
        }
    }
    if (user && !acl_auth(c, user, pass)) {
        reply_err(c, "WRONGPASS invalid username-password pair or user is disabled.");
        return;
    }
    if (!(c->flags & CLIENT_AUTHENTICATED)) {
        reply_err(c,
                  "NOAUTH HELLO must be called with the client already authenticated, "
                  "otherwise the HELLO <proto> AUTH <user> <pass> option can be used to "
                  "authenticate the client and select the RESP protocol version at the same time");
        return;
    }
    if (name) {
        if (!valid_name(name)) {
            reply_err(c, "ERR Client names cannot contain spaces, newlines or special characters.");
            return;
        }
        set_name(c, name);
    }
    if (ver)
        c->resp = (int)ver;
    hello_reply(c);
}

/* MONITOR: from now on, a line for every command other clients run (monitor.c). */
static void
cmd_monitor(client_t *c) {
    if (!monitor_is(c))
        monitor_add(c);
    reply_ok(c);
}

static void
cmd_reset(client_t *c) {
    client_reset(c); /* MULTI, WATCH, subscriptions, blocking state */
    monitor_remove(c);
    c->flags &= ~(uint32_t)(CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP | CLIENT_REPLY_SKIP_NEXT);
    c->flags &= ~(CLIENT_NO_EVICT | CLIENT_NO_TOUCH | CLIENT_PUBSUB);
    select_db(c, 0);
    c->resp = 2;
    kfree(c->name);
    c->name = NULL;
    acl_client_reset(c); /* back to the default user, authenticated only if it is nopass */
    reply_simple(c, "RESET");
}

/* ---- CLIENT ---- */

static void
client_id(client_t *c) {
    reply_int(c, (long long)c->id);
}

static void
client_setname(client_t *c) {
    if (!valid_name(&c->argv[2])) {
        reply_err(c, "ERR Client names cannot contain spaces, newlines or special characters.");
        return;
    }
    set_name(c, &c->argv[2]);
    reply_ok(c);
}

static void
client_getname(client_t *c) {
    if (c->name)
        reply_bulk_cstr(c, c->name);
    else
        reply_null(c);
}

static void
client_setinfo(client_t *c) {
    if (!cmd_arg_is(&c->argv[2], "lib-name") && !cmd_arg_is(&c->argv[2], "lib-ver")) {
        reply_errf(c, "ERR Unrecognized option '%.*s'", (int)c->argv[2].n, c->argv[2].p);
        return;
    }
    if (!valid_name(&c->argv[3]) && c->argv[3].n) {
        reply_err(
            c, "ERR lib-name and lib-ver cannot contain spaces, newlines or special characters.");
        return;
    }
    char **field = cmd_arg_is(&c->argv[2], "lib-name") ? &c->lib_name : &c->lib_ver;
    kfree(*field);
    *field = c->argv[3].n ? kstrndup(c->argv[3].p, c->argv[3].n) : NULL;
    reply_ok(c);
}

/* CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]
 * (tracking.c), with Valkey's checks and messages. */
static void
client_tracking(client_t *c) {
    bool on = cmd_arg_is(&c->argv[2], "on");
    if (!on && !cmd_arg_is(&c->argv[2], "off")) {
        reply_err(c, ERR_SYNTAX);
        return;
    }
    uint32_t flags = 0;
    long long redirect = 0;
    int nprefix = 0;
    karg_t *prefixes = kmalloc(sizeof *prefixes * (size_t)c->argc);
    for (int i = 3; i < c->argc; i++) {
        const karg_t *a = &c->argv[i];
        bool more = i + 1 < c->argc;
        if (cmd_arg_is(a, "redirect") && more) {
            if (redirect) {
                reply_err(c, "ERR A client can only redirect to a single other client");
                goto done;
            }
            i++;
            if (!util_parse_ll(c->argv[i].p, c->argv[i].n, &redirect)) {
                reply_err(c, ERR_NOT_INT);
                goto done;
            }
            client_t *t = c->eng->clients;
            while (t && t->id != (uint64_t)redirect)
                t = t->next;
            if (!t) {
                reply_err(c, "ERR The client ID you want redirect to does not exist");
                goto done;
            }
        } else if (cmd_arg_is(a, "bcast")) {
            flags |= TRACK_BCAST;
        } else if (cmd_arg_is(a, "optin")) {
            flags |= TRACK_OPTIN;
        } else if (cmd_arg_is(a, "optout")) {
            flags |= TRACK_OPTOUT;
        } else if (cmd_arg_is(a, "noloop")) {
            flags |= TRACK_NOLOOP;
        } else if (cmd_arg_is(a, "prefix") && more) {
            prefixes[nprefix++] = c->argv[++i];
        } else {
            reply_err(c, ERR_SYNTAX);
            goto done;
        }
    }
    if (!on) {
        tracking_disable(c);
        reply_ok(c);
        goto done;
    }
    uint32_t old = tracking_flags(c);
    const char *why = NULL;
    if (!(flags & TRACK_BCAST) && nprefix)
        why = "ERR PREFIX option requires BCAST mode to be enabled";
    else if (tracking_on(c) && ((old & TRACK_BCAST) != (flags & TRACK_BCAST)))
        why = "ERR You can't switch BCAST mode on/off before disabling tracking for this client, "
              "and then re-enabling it with a different mode.";
    else if ((flags & TRACK_BCAST) && (flags & (TRACK_OPTIN | TRACK_OPTOUT)))
        why = "ERR OPTIN and OPTOUT are not compatible with BCAST";
    else if ((flags & TRACK_OPTIN) && (flags & TRACK_OPTOUT))
        why = "ERR You can't specify both OPTIN mode and OPTOUT mode";
    else if (((flags & TRACK_OPTIN) && (old & TRACK_OPTOUT)) ||
             ((flags & TRACK_OPTOUT) && (old & TRACK_OPTIN)))
        why = "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, "
              "and then re-enabling it with a different mode.";
    if (why) {
        reply_err(c, why);
        goto done;
    }
    char err[512];
    if (!tracking_enable(c, flags, (uint64_t)redirect, nprefix, prefixes, err, sizeof err)) {
        reply_errf(c, "ERR %s", err);
        goto done;
    }
    reply_ok(c);
done:
    kfree(prefixes);
}

static void
client_caching(client_t *c) {
    uint32_t f = tracking_flags(c);
    if (!tracking_on(c) || !(f & (TRACK_OPTIN | TRACK_OPTOUT))) {
        reply_err(c, "ERR CLIENT CACHING can be called only when the client is in tracking mode "
                     "with OPTIN or OPTOUT mode enabled");
    } else if (cmd_arg_is(&c->argv[2], "yes")) {
        if (f & TRACK_OPTIN) {
            tracking_set_caching(c);
            reply_ok(c);
        } else {
            reply_err(c, "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN "
                         "mode.");
        }
    } else if (cmd_arg_is(&c->argv[2], "no")) {
        if (f & TRACK_OPTOUT) {
            tracking_set_caching(c);
            reply_ok(c);
        } else {
            reply_err(c, "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT "
                         "mode.");
        }
    } else {
        reply_err(c, ERR_SYNTAX);
    }
}

static void
client_getredir(client_t *c) {
    reply_int(c, tracking_redirect(c));
}

static void
client_trackinginfo(client_t *c) {
    uint32_t f = tracking_flags(c);
    const char *names[8];
    int n = 0;
    names[n++] = tracking_on(c) ? "on" : "off";
    if (f & TRACK_BCAST)
        names[n++] = "bcast";
    if (f & TRACK_OPTIN)
        names[n++] = "optin";
    if (f & TRACK_OPTOUT)
        names[n++] = "optout";
    if ((f & TRACK_CACHING) && (f & TRACK_OPTIN))
        names[n++] = "caching-yes";
    if ((f & TRACK_CACHING) && (f & TRACK_OPTOUT))
        names[n++] = "caching-no";
    if (f & TRACK_NOLOOP)
        names[n++] = "noloop";
    if (f & TRACK_BROKEN_REDIR)
        names[n++] = "broken_redirect";
    reply_map(c, 3);
    reply_bulk_cstr(c, "flags");
    reply_set(c, n);
    for (int i = 0; i < n; i++)
        reply_bulk_cstr(c, names[i]);
    reply_bulk_cstr(c, "redirect");
    reply_int(c, tracking_redirect(c));
    reply_bulk_cstr(c, "prefixes");
    int np;
    const karg_t *p = tracking_prefixes(c, &np);
    reply_array(c, np);
    for (int i = 0; i < np; i++)
        reply_bulk(c, p[i].p, p[i].n);
}

/* CLIENT REPLY ON|OFF|SKIP: OFF and SKIP get no reply themselves (exec.c drops replies). */
static void
client_reply(client_t *c) {
    const karg_t *a = &c->argv[2];
    if (cmd_arg_is(a, "on")) {
        c->flags &= ~(uint32_t)(CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP | CLIENT_REPLY_SKIP_NEXT);
        reply_ok(c);
    } else if (cmd_arg_is(a, "off")) {
        c->flags |= CLIENT_REPLY_OFF;
    } else if (cmd_arg_is(a, "skip")) {
        if (!(c->flags & CLIENT_REPLY_OFF))
            c->flags |= CLIENT_REPLY_SKIP_NEXT;
    } else {
        reply_err(c, ERR_SYNTAX);
    }
}

/* CLIENT PAUSE timeout-ms [WRITE|ALL] (pause.c). */
static void
client_pause(client_t *c) {
    long long ms;
    int kind = PAUSE_ALL;
    if (!util_parse_ll(c->argv[2].p, c->argv[2].n, &ms)) {
        reply_err(c, "ERR timeout is not an integer or out of range");
        return;
    }
    if (ms < 0) {
        reply_err(c, "ERR timeout is negative");
        return;
    }
    if (c->argc > 4) {
        reply_err(c, ERR_SYNTAX);
        return;
    }
    if (c->argc == 4 && cmd_arg_is(&c->argv[3], "write")) {
        kind = PAUSE_WRITE;
    } else if (c->argc == 4 && !cmd_arg_is(&c->argv[3], "all")) {
        reply_err(c, "ERR CLIENT PAUSE mode must be WRITE or ALL");
        return;
    }
    int64_t now = util_time_ms();
    if (ms > INT64_MAX - now) {
        reply_err(c, "ERR timeout is out of range");
        return;
    }
    pause_start(c->eng, now + ms, kind);
    reply_ok(c);
}

static void
client_unpause(client_t *c) {
    pause_end(c->eng);
    reply_ok(c);
}

/* Valkey's client types: a replica (it sent PSYNC), else a subscriber, else normal. The link of
 * a replica to its primary ("master") is not a client here: CLIENT KILL handles it apart. */
static bool
client_type_is(client_t *t, const karg_t *type) {
    bool replica = (t->flags & CLIENT_REPLICA) != 0;
    if (cmd_arg_is(type, "normal"))
        return !replica && t->pubsub == NULL;
    if (cmd_arg_is(type, "pubsub"))
        return !replica && t->pubsub != NULL;
    if (cmd_arg_is(type, "replica") || cmd_arg_is(type, "slave"))
        return replica;
    return false;
}

static void
client_list(client_t *c) {
    engine_t *s = c->eng;
    const karg_t *type = NULL;
    int ids_from = 0;
    if (c->argc >= 4 && cmd_arg_is(&c->argv[2], "type")) {
        type = &c->argv[3];
        if (!cmd_arg_is(type, "normal") && !cmd_arg_is(type, "pubsub") &&
            !cmd_arg_is(type, "master") && !cmd_arg_is(type, "replica") &&
            !cmd_arg_is(type, "slave")) {
            reply_errf(c, "ERR Unknown client type '%.*s'", (int)type->n, type->p);
            return;
        }
    } else if (c->argc >= 4 && cmd_arg_is(&c->argv[2], "id")) {
        ids_from = 3;
        for (int i = 3; i < c->argc; i++) {
            long long id;
            if (!util_parse_ll(c->argv[i].p, c->argv[i].n, &id) || id <= 0) {
                reply_err(c, "ERR Invalid client ID");
                return;
            }
        }
    } else if (c->argc != 2) {
        reply_err(c, ERR_SYNTAX);
        return;
    }
    size_t cap = 1024, len = 0;
    char *out = kmalloc(cap);
    char line[1024];
    for (client_t *t = s->clients; t; t = t->next) {
        if (type && !client_type_is(t, type))
            continue;
        if (ids_from) {
            bool hit = false;
            for (int i = ids_from; i < c->argc && !hit; i++) {
                long long id;
                util_parse_ll(c->argv[i].p, c->argv[i].n, &id);
                hit = (uint64_t)id == t->id;
            }
            if (!hit)
                continue;
        }
        int n = client_info_line(t, line, sizeof line);
        if (len + (size_t)n + 2 > cap) {
            while (len + (size_t)n + 2 > cap)
                cap *= 2;
            out = krealloc(out, cap);
        }
        memcpy(out + len, line, (size_t)n);
        len += (size_t)n;
        out[len++] = '\n';
    }
    reply_verbatim(c, out, len, "txt");
    kfree(out);
}

static void
client_info(client_t *c) {
    char line[1024];
    int n = client_info_line(c, line, sizeof line - 1);
    line[n++] = '\n';
    reply_verbatim(c, line, (size_t)n, "txt");
}

/* Close t soon; a client that kills itself gets its reply first (as Valkey): it is marked to
 * close once the reply is out, after the caller replied (replies after the mark are dropped). */
static bool
kill_one(client_t *c, client_t *t) {
    if (t == c)
        return true;
    client_close_async(t);
    return false;
}

/* CLIENT KILL addr | CLIENT KILL [ID id] [ADDR a] [LADDR a] [TYPE t] [USER u] [SKIPME yes/no]. */
static void
client_kill(client_t *c) {
    engine_t *s = c->eng;
    if (c->argc == 3) { /* old form: by address, error when not found */
        for (client_t *t = s->clients; t; t = t->next) {
            if (strlen(t->conn.addr) == c->argv[2].n &&
                !memcmp(t->conn.addr, c->argv[2].p, c->argv[2].n)) {
                bool self = kill_one(c, t);
                reply_ok(c);
                if (self)
                    c->conn.flags |= CONN_CLOSE_AFTER_REPLY;
                return;
            }
        }
        reply_err(c, "ERR No such client");
        return;
    }
    if ((c->argc - 2) % 2) {
        reply_err(c, ERR_SYNTAX);
        return;
    }
    long long id = 0;
    const karg_t *addr = NULL, *laddr = NULL, *type = NULL;
    acl_user_t *user = NULL;
    bool skipme = true;
    for (int i = 2; i < c->argc; i += 2) {
        const karg_t *k = &c->argv[i], *v = &c->argv[i + 1];
        if (cmd_arg_is(k, "id")) {
            if (!util_parse_ll(v->p, v->n, &id) || id <= 0) {
                reply_err(c, "ERR client-id should be greater than 0");
                return;
            }
        } else if (cmd_arg_is(k, "addr")) {
            addr = v;
        } else if (cmd_arg_is(k, "laddr")) {
            laddr = v;
        } else if (cmd_arg_is(k, "type")) {
            if (!cmd_arg_is(v, "normal") && !cmd_arg_is(v, "pubsub") && !cmd_arg_is(v, "master") &&
                !cmd_arg_is(v, "replica") && !cmd_arg_is(v, "slave")) {
                reply_errf(c, "ERR Unknown client type '%.*s'", (int)v->n, v->p);
                return;
            }
            type = v;
        } else if (cmd_arg_is(k, "user")) {
            user = acl_user_find(s, v->p, v->n);
            if (!user) {
                reply_errf(c, "ERR No such user '%.*s'", (int)(v->n > 128 ? 128 : v->n), v->p);
                return;
            }
        } else if (cmd_arg_is(k, "skipme")) {
            if (cmd_arg_is(v, "yes"))
                skipme = true;
            else if (cmd_arg_is(v, "no"))
                skipme = false;
            else {
                reply_err(c, ERR_SYNTAX);
                return;
            }
        } else {
            reply_err(c, ERR_SYNTAX);
            return;
        }
    }
    long long killed = 0;
    bool self = false;
    for (client_t *t = s->clients; t; t = t->next) {
        if (id && t->id != (uint64_t)id)
            continue;
        if (addr && (strlen(t->conn.addr) != addr->n || memcmp(t->conn.addr, addr->p, addr->n)))
            continue;
        if (laddr &&
            (strlen(t->conn.laddr) != laddr->n || memcmp(t->conn.laddr, laddr->p, laddr->n)))
            continue;
        if (type && !client_type_is(t, type))
            continue;
        if (user && t->user != user)
            continue;
        if (t == c && skipme)
            continue;
        self |= kill_one(c, t);
        killed++;
    }
    /* TYPE master: the link to this replica's primary, which reconnects within a second. */
    if (type && cmd_arg_is(type, "master") && !id && !addr && !laddr &&
        (!user || user == acl_default_user(s)))
        killed += repl_kill_primary_link(s);
    reply_int(c, killed);
    if (self)
        c->conn.flags |= CONN_CLOSE_AFTER_REPLY;
}

static void
client_flag_onoff(client_t *c, uint32_t flag) {
    if (cmd_arg_is(&c->argv[2], "on"))
        c->flags |= flag;
    else if (cmd_arg_is(&c->argv[2], "off"))
        c->flags &= ~flag;
    else {
        reply_err(c, ERR_SYNTAX);
        return;
    }
    reply_ok(c);
}

static void
client_no_evict(client_t *c) {
    client_flag_onoff(c, CLIENT_NO_EVICT);
}

static void
client_no_touch(client_t *c) {
    client_flag_onoff(c, CLIENT_NO_TOUCH);
}

/* CLIENT UNBLOCK id [TIMEOUT|ERROR]: 1 if that client was blocked and is now released. */
static void
client_unblock(client_t *c) {
    long long id;
    bool with_error = false;
    if (c->argc > 4) {
        reply_err(c, ERR_SYNTAX);
        return;
    }
    if (!util_parse_ll(c->argv[2].p, c->argv[2].n, &id)) {
        reply_err(c, ERR_NOT_INT);
        return;
    }
    if (c->argc == 4) {
        if (cmd_arg_is(&c->argv[3], "error"))
            with_error = true;
        else if (!cmd_arg_is(&c->argv[3], "timeout")) {
            reply_err(c, "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
            return;
        }
    }
    for (client_t *t = c->eng->clients; t; t = t->next) {
        if (t->id == (uint64_t)id) {
            reply_int(c, (t->flags & CLIENT_BLOCKED) && block_unblock_client(t, with_error));
            return;
        }
    }
    reply_int(c, 0);
}

static void
client_help(client_t *c) {
    static const char *const lines[] = {
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are: ID, ADDR, LADDR, TYPE, USER, SKIPME.",
        "LIST [TYPE (NORMAL|MASTER|REPLICA|PUBSUB)] [ID <id> ...]",
        "    Return information about client connections.",
        "NO-EVICT (ON|OFF)",
        "    Protect current client connection from eviction.",
        "UNBLOCK <clientid> [TIMEOUT|ERROR]",
        "    Unblock the specified blocked client.",
        "NO-TOUCH (ON|OFF)",
        "    Will not touch LRU/LFU stats when this mode is on.",
        "PAUSE <timeout> [WRITE|ALL]",
        "    Suspend all, or just write, clients for <timeout> milliseconds.",
        "UNPAUSE",
        "    Stop the current client pause, resuming traffic.",
        "REPLY (ON|OFF|SKIP)",
        "    Control the replies sent to the current connection.",
        "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
        "         [OPTIN] [OPTOUT] [NOLOOP]",
        "    Control server assisted client side caching.",
        "CACHING (YES|NO)",
        "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
        "GETREDIR",
        "    Return the client ID we are redirecting to when tracking is enabled.",
        "TRACKINGINFO",
        "    Report tracking status for the current connection.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "SETINFO <option> <value>",
        "    Set client meta attributes (LIB-NAME, LIB-VER).",
        "HELP",
        "    Print this help.",
    };
    reply_help(c, lines, sizeof lines / sizeof *lines);
}

static cmd_def_t client_subcmds[] = {
    {"id", client_id, 2, CMD_LOADING | CMD_STALE, 0, 0, 0, "connection",
     "Returns the unique client ID of the connection.", "5.0.0", "O(1)", "slow connection"},
    {"setname", client_setname, 3, CMD_LOADING | CMD_STALE, 0, 0, 0, "connection",
     "Sets the connection name.", "2.6.9", "O(1)", "slow connection"},
    {"getname", client_getname, 2, CMD_LOADING | CMD_STALE, 0, 0, 0, "connection",
     "Returns the name of the connection.", "2.6.9", "O(1)", "slow connection"},
    {"setinfo", client_setinfo, 4, CMD_LOADING | CMD_STALE, 0, 0, 0, "connection",
     "Sets information specific to the client or connection.", "7.2.0", "O(1)", "slow connection"},
    {"list", client_list, -2, CMD_ADMIN | CMD_LOADING | CMD_STALE, 0, 0, 0, "connection",
     "Lists open connections.", "2.4.0", "O(N)", "admin slow dangerous connection"},
    {"info", client_info, 2, CMD_LOADING | CMD_STALE, 0, 0, 0, "connection",
     "Returns information about the connection.", "6.2.0", "O(1)", "slow connection"},
    {"kill", client_kill, -3, CMD_ADMIN | CMD_LOADING | CMD_STALE, 0, 0, 0, "connection",
     "Terminates open connections.", "2.4.0", "O(N)", "admin slow dangerous connection"},
    {"no-evict", client_no_evict, 3, CMD_ADMIN | CMD_LOADING | CMD_STALE, 0, 0, 0, "connection",
     "Sets the client eviction mode of the connection.", "7.0.0", "O(1)",
     "admin slow dangerous connection"},
    {"no-touch", client_no_touch, 3, CMD_LOADING | CMD_STALE, 0, 0, 0, "connection",
     "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.", "7.2.0",
     "O(1)", "slow connection"},
    {"unblock", client_unblock, -3, CMD_ADMIN | CMD_LOADING | CMD_STALE, 0, 0, 0, "connection",
     "Unblocks a client blocked by a blocking command from a different connection.", "5.0.0",
     "O(log N) where N is the number of client connections", "admin slow dangerous connection"},
    {"tracking", client_tracking, -3, CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, 0, 0, 0, "connection",
     "Controls server-assisted client-side caching for the connection.", "6.0.0",
     "O(1). Some options may introduce additional complexity.", "slow connection"},
    {"caching", client_caching, 3, CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, 0, 0, 0, "connection",
     "Instructs the server whether to track the keys in the next request.", "6.0.0", "O(1)",
     "slow connection"},
    {"getredir", client_getredir, 2, CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, 0, 0, 0, "connection",
     "Returns the client ID to which the connection's tracking notifications are redirected.",
     "6.0.0", "O(1)", "slow connection"},
    {"trackinginfo", client_trackinginfo, 2, CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, 0, 0, 0,
     "connection",
     "Returns information about server-assisted client-side caching for the "
     "connection.",
     "6.2.0", "O(1)", "slow connection"},
    {"reply", client_reply, 3, CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, 0, 0, 0, "connection",
     "Instructs the server whether to reply to commands.", "3.2.0", "O(1)", "slow connection"},
    {"pause", client_pause, -3, CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, 0, 0, 0,
     "connection", "Suspends commands processing.", "3.0.0", "O(1)",
     "admin slow dangerous connection"},
    {"unpause", client_unpause, 2, CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, 0, 0, 0,
     "connection", "Resumes processing commands from paused clients.", "6.2.0",
     "O(N) Where N is the number of paused clients", "admin slow dangerous connection"},
    {"help", client_help, 2, CMD_LOADING | CMD_STALE, 0, 0, 0, "connection",
     "Returns helpful text about the different subcommands.", "5.0.0", "O(1)", "slow connection"},
    {0},
};

cmd_def_t cmd_table_conn[] = {
    {"ping", cmd_ping, -1, CMD_FAST | CMD_SUBSCRIBER_OK | CMD_LOADING | CMD_STALE, 0, 0, 0,
     "connection", "Returns the server's liveliness response.", "1.0.0", "O(1)", "fast connection"},
    {"echo", cmd_echo, 2, CMD_FAST | CMD_LOADING | CMD_STALE, 0, 0, 0, "connection",
     "Returns the given string.", "1.0.0", "O(1)", "fast connection"},
    {"quit", cmd_quit, -1,
     CMD_NO_AUTH | CMD_ALLOW_BUSY | CMD_LOADING | CMD_STALE | CMD_SUBSCRIBER_OK | CMD_MULTI_OK, 0,
     0, 0, "connection", "Closes the connection.", "1.0.0", "O(1)", "fast connection"},
    {"reset", cmd_reset, 1,
     CMD_NO_AUTH | CMD_ALLOW_BUSY | CMD_LOADING | CMD_STALE | CMD_SUBSCRIBER_OK | CMD_MULTI_OK |
         CMD_FAST,
     0, 0, 0, "connection", "Resets the connection.", "6.2.0", "O(1)", "fast connection"},
    {"hello", cmd_hello, -1, CMD_NO_AUTH | CMD_FAST | CMD_LOADING | CMD_STALE | CMD_ALLOW_BUSY, 0,
     0, 0, "connection", "Handshakes with the server.", "6.0.0", "O(1)", "fast connection"},
    {"auth", cmd_auth, -2, CMD_NO_AUTH | CMD_FAST | CMD_LOADING | CMD_STALE | CMD_ALLOW_BUSY, 0, 0,
     0, "connection", "Authenticates the connection.", "1.0.0",
     "O(N) where N is the number of passwords defined for the user", "fast connection"},
    {"select", cmd_select, 2, CMD_LOADING | CMD_STALE | CMD_FAST, 0, 0, 0, "connection",
     "Changes the selected database.", "1.0.0", "O(1)", "fast connection"},
    {"client", NULL, -2, 0, 0, 0, 0, "connection", "A container for client connection commands.",
     "2.4.0", "Depends on subcommand.", "slow", NULL, client_subcmds},
    {"monitor", cmd_monitor, 1, CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_NO_MULTI,
     0, 0, 0, "server", "Listens for all requests received by the server in real-time.", "1.0.0",
     NULL, "admin slow dangerous"},
    {"multi", cmd_multi, 1, CMD_LOADING | CMD_STALE | CMD_FAST | CMD_ALLOW_BUSY | CMD_NO_MULTI, 0,
     0, 0, "transactions", "Starts a transaction.", "1.2.0", "O(1)", "fast transaction"},
    {"exec", cmd_exec, 1, CMD_MULTI_OK | CMD_LOADING | CMD_STALE | CMD_SKIP_SLOWLOG, 0, 0, 0,
     "transactions", "Executes all commands in a transaction.", "1.2.0",
     "Depends on commands in the transaction", "slow transaction"},
    {"discard", cmd_discard, 1, CMD_MULTI_OK | CMD_LOADING | CMD_STALE | CMD_FAST | CMD_ALLOW_BUSY,
     0, 0, 0, "transactions", "Discards a transaction.", "2.0.0",
     "O(N), when N is the number of queued commands", "fast transaction"},
    {0},
};
