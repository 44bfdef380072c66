/*
 * exec.c - command execution: checks, MULTI/EXEC, effects and reply tags (see exec.h).
 *
 * One command = one effect scope (prop_begin/prop_end) = at most one log record; EXEC opens one
 * scope for the whole transaction, so recovery applies all of it or none. The reply of a command
 * that was logged is parked until its LSN is durable (client_mark_reply).
 */
#include "exec.h"

#include <stdio.h>
#include <string.h>

#include "acl.h"
#include "kassert.h"
#include "klog.h"
#include "evict.h"
#include "kmem.h"
#include "latency.h"
#include "monitor.h"
#include "pause.h"
#include "slowlog.h"
#include "tracking.h"
#include "prop.h"
#include "util.h"
#include "reply.h"
#include "tiering.h"

/* What operators see of a call's duration: the slow log, the latency monitor's "command" and
 * "fast-command" events, and the command's histogram. The engine's own replay is not a client's
 * command and is left out. */
static void
note_latency(client_t *c, cmd_def_t *cmd, uint64_t ns) {
    engine_t *s = c->eng;
    if (c->flags & CLIENT_FAKE)
        return;
    if (s->cfg.latency_tracking)
        latency_cmd_record(s, cmd, ns);
    if (!(cmd->flags & CMD_SKIP_SLOWLOG))
        slowlog_push_if_needed(s, c, c->argc, c->argv, ns / 1000);
    latency_add_sample_if_needed(s, (cmd->flags & CMD_FAST) ? "fast-command" : "command",
                                 ns / 1000000);
}

void
exec_call(client_t *c, cmd_def_t *cmd) {
    engine_t *s = c->eng;
    uint64_t dirty = s->dirty;
    uint64_t out_start = c->conn.obase + c->conn.olen;
    /* Clients that cannot park (the replica's stream; a transaction whose SELECT or SWAPDB
     * moved it to keys EXEC did not fetch) wait for tiered values here. */
    if (s->tiering && (c->flags & (CLIENT_FAKE | CLIENT_IN_EXEC)) && !tiering_fetch_now(c, cmd)) {
        cmd_stats(s, cmd)->failed++;
        return;
    }
    client_t *prev = s->current;
    s->current = c;
    c->last_cmd = cmd->fullname; /* CLIENT LIST cmd= shows the running command */
    c->tot_cmds++;
    prop_command_start(&c->eng->prop);
    /* CLIENT NO-TOUCH leaves access times alone, except for TOUCH itself (as Valkey). */
    db_set_touch_enabled(&c->eng->dbenv,
                         !(c->flags & CLIENT_NO_TOUCH) || !strcmp(cmd->name, "touch"));
    uint64_t t0 = util_mono_ns();
    c->call_depth++;
    cmd->proc(c);
    c->call_depth--;
    db_set_touch_enabled(&c->eng->dbenv, true);
    uint64_t dur_ns = util_mono_ns() - t0, dur = dur_ns / 1000;
    s->current = prev;
    if (c->deferred_push_len && !c->call_depth) { /* the outermost call of this client is over */
        memcpy(conn_out_reserve(&c->conn, c->deferred_push_len), c->deferred_push,
               c->deferred_push_len);
        conn_out_commit(&c->conn, c->deferred_push_len);
        c->deferred_push_len = 0;
        client_check_output_limit(c);
    }
    if (s->monitors && !(c->flags & CLIENT_FAKE))
        monitor_feed(s, c, cmd, c->argc, c->argv);
    if (c->track)
        tracking_remember_keys(c, cmd);
    cmd_stats_t *st = cmd_stats(s, cmd);
    st->calls++;
    st->usec += dur;
    note_latency(c, cmd, dur_ns);
    s->stats.commands++;
    if (c->conn.olen > 0 && out_start >= c->conn.obase &&
        out_start < c->conn.obase + c->conn.olen && c->conn.obuf[out_start - c->conn.obase] == '-')
        st->failed++;
    if ((cmd->flags & CMD_WRITE) && s->dirty != dirty && !prop_command_has_effects(&c->eng->prop)) {
        const char *raw;
        size_t rawlen;
        if (prop_has_sink(&c->eng->prop) && client_raw_command(c, &raw, &rawlen))
            prop_add_call_raw(&c->eng->prop, c->db_id, raw,
                              rawlen); /* the bytes as they came: no re-encoding */
        else
            prop_add_call(&c->eng->prop, c->db_id, c->argc, c->argv);
    }
}

static void
queue_command(client_t *c, cmd_def_t *cmd) {
    if (c->mcount == c->mcap) {
        c->mcap = c->mcap ? c->mcap * 2 : 8;
        c->mstate = krealloc(c->mstate, sizeof *c->mstate * (size_t)c->mcap);
    }
    size_t bytes = sizeof(karg_t) * (size_t)c->argc;
    for (int i = 0; i < c->argc; i++)
        bytes += c->argv[i].n + 1;
    /* The queue is input held across commands: the query buffer's limit bounds it too. */
    if ((long long)(c->mbytes + bytes) > c->eng->cfg.client_query_buffer_limit) {
        reply_err(c, "ERR MULTI queue exceeds client-query-buffer-limit");
        c->flags |= CLIENT_DIRTY_EXEC;
        return;
    }
    c->mbytes += bytes;
    karg_t *a = kmalloc(bytes);
    char *p = (char *)(a + c->argc);
    for (int i = 0; i < c->argc; i++) {
        memcpy(p, c->argv[i].p, c->argv[i].n);
        p[c->argv[i].n] = 0;
        a[i].p = p;
        a[i].n = c->argv[i].n;
        p += c->argv[i].n + 1;
    }
    c->mstate[c->mcount++] = (multi_cmd_t){cmd, c->argc, a};
    reply_simple(c, "QUEUED");
}

void
cmd_multi(client_t *c) {
    if (c->flags & CLIENT_MULTI) {
        reply_err(c, "ERR MULTI calls can not be nested");
        return;
    }
    c->flags |= CLIENT_MULTI;
    reply_ok(c);
}

void
cmd_discard(client_t *c) {
    if (!(c->flags & CLIENT_MULTI)) {
        reply_err(c, "ERR DISCARD without MULTI");
        return;
    }
    client_discard_multi(c);
    client_unwatch(c);
    reply_ok(c);
}

/* The tag a read must wait for: the max over the hooks (0 when nothing it read is pending). */
uint64_t
exec_read_tag(client_t *c, cmd_def_t *cmd) {
    uint64_t tag = 0;
    for (int i = 0; i < c->eng->nhooks; i++)
        if (c->eng->hooks[i].read_tag) {
            uint64_t t = c->eng->hooks[i].read_tag(c, cmd);
            tag = t > tag ? t : tag;
        }
    return tag;
}

void
cmd_exec(client_t *c) {
    if (!(c->flags & CLIENT_MULTI)) {
        reply_err(c, "ERR EXEC without MULTI");
        return;
    }
    for (int i = 0; i < c->eng->nhooks; i++)
        if (c->eng->hooks[i].exec_check && !c->eng->hooks[i].exec_check(c))
            c->flags |= CLIENT_DIRTY_CAS;
    if (c->flags & CLIENT_DIRTY_EXEC) {
        reply_err(c, "EXECABORT Transaction discarded because of previous errors.");
        client_discard_multi(c);
        client_unwatch(c);
        return;
    }
    if (c->flags & CLIENT_DIRTY_CAS) {
        reply_null_array(c);
        client_discard_multi(c);
        client_unwatch(c);
        return;
    }
    client_unwatch(c); /* WATCH has done its job: later changes must not flag this client */
    int argc = c->argc;
    karg_t *argv = c->argv;
    multi_cmd_t *q = c->mstate;
    int n = c->mcount;
    c->mstate = NULL;
    c->mcount = c->mcap = 0;
    c->mbytes = 0;
    c->flags &= ~CLIENT_MULTI;
    c->flags |= CLIENT_IN_EXEC;
    reply_array(c, n);
    for (int i = 0; i < n; i++) {
        c->argc = q[i].argc;
        c->argv = q[i].argv;
        /* The user's rules may have changed since the command was queued: check again. */
        if (!(c->flags & CLIENT_ACL_LIMITED) || !acl_refuse_queued(c, q[i].cmd))
            exec_call(c, q[i].cmd);
        uint64_t t = exec_read_tag(c, q[i].cmd); /* an EXEC without a record: what it read */
        c->reply_lsn = t > c->reply_lsn ? t : c->reply_lsn;
        kfree(q[i].argv);
    }
    kfree(q);
    c->flags &= ~CLIENT_IN_EXEC;
    if (c->flags & CLIENT_CLOSE_AFTER_COMMAND) /* an ACL command inside removed its user */
        c->conn.flags |= CONN_CLOSE_AFTER_REPLY;
    c->argc = argc;
    c->argv = argv;
}

/* A command refused before it ran (unknown command or subcommand, wrong arity, not allowed in
 * MULTI) is logged at verbose level with the client that sent it and its first arguments, so a
 * client such as Sentinel that needs something Keel lacks shows in the log, not only in the
 * replies it got (tests check that no such line appears). */
static void
log_refused(client_t *c, const char *why) {
    char args[320];
    size_t off = 0;
    for (int i = 0; i < c->argc && i < 4 && off < sizeof args - 80; i++) {
        args[off++] = ' ';
        for (size_t j = 0; j < c->argv[i].n && j < 64; j++) {
            char ch = c->argv[i].p[j];
            args[off++] = ch > ' ' && ch < 127 ? ch : '?';
        }
    }
    args[off] = 0;
    klog(KLOG_VERBOSE, "Refused command (%s) from %s name=%s:%s%s", why, c->conn.addr,
         c->name ? c->name : "", args, c->argc > 4 ? " ..." : "");
}

static void
reply_unknown(client_t *c) {
    char args[256];
    size_t off = 0;
    args[0] = 0;
    for (int i = 1; i < c->argc && off < 128; i++) {
        int w = snprintf(args + off, sizeof args - off, "'%.*s' ",
                         (int)(c->argv[i].n > 64 ? 64 : c->argv[i].n), c->argv[i].p);
        if (w < 0)
            break;
        off += (size_t)w;
    }
    reply_errf(c, "ERR unknown command '%.*s', with args beginning with: %s",
               (int)(c->argv[0].n > 128 ? 128 : c->argv[0].n), c->argv[0].p, args);
}

/* DEBUG and the like: off unless enable-debug-command says yes, or local and the peer is on this
 * host (the engine's own clients, which have no socket, always may). */
static bool
protected_allowed(const client_t *c) {
    int v = c->eng->cfg.enable_debug_command;
    return v == PROTECTED_CMD_YES || (c->flags & CLIENT_FAKE) ||
           (v == PROTECTED_CMD_LOCAL && conn_is_local(&c->conn));
}

/* Checks before the call; returns the command to run or NULL when an error was replied. */
static cmd_def_t *
check_command(client_t *c) {
    /* An I/O thread may have looked the name up already (exec_prepare_cb). */
    cmd_def_t *cmd =
        c->conn.cmd_hint ? c->conn.cmd_hint : cmd_lookup(c->eng, c->argv[0].p, c->argv[0].n);
    if (!cmd) {
        log_refused(c, "unknown command");
        reply_unknown(c);
        return NULL;
    }
    if (cmd->subcmds && c->argc >= 2) {
        cmd_def_t *sub = cmd_lookup_sub(cmd, c->argv[1].p, c->argv[1].n);
        if (!sub) {
            log_refused(c, "unknown subcommand");
            char up[32];
            size_t k = 0;
            for (; cmd->name[k] && k < sizeof up - 1; k++)
                up[k] = (char)(cmd->name[k] >= 'a' && cmd->name[k] <= 'z' ? cmd->name[k] - 32
                                                                          : cmd->name[k]);
            up[k] = 0;
            reply_errf(c, "ERR unknown subcommand '%.*s'. Try %s HELP.",
                       (int)(c->argv[1].n > 128 ? 128 : c->argv[1].n), c->argv[1].p, up);
            return NULL;
        }
        cmd = sub;
    }
    /* From here a refusal counts as the command's rejected_calls (INFO commandstats). */
    if (!cmd_arity_ok(cmd, c->argc)) {
        log_refused(c, "wrong number of arguments");
        reply_err_arity(c, cmd->fullname);
    } else if (!(c->flags & CLIENT_AUTHENTICATED) && !(cmd->flags & CMD_NO_AUTH)) {
        reply_err(c, "NOAUTH Authentication required.");
    } else if ((cmd->flags & CMD_PROTECTED) && !protected_allowed(c)) {
        reply_err(c, "ERR DEBUG command not allowed. If the enable-debug-command option is set to "
                     "\"local\", you can run it from a local connection, otherwise you need to set "
                     "this option in the configuration file, and then restart the server.");
    } else if ((c->flags & CLIENT_ACL_LIMITED) && acl_refuse(c, cmd)) {
        /* -NOPERM replied and logged; a user allowed everything never gets here */
    } else if ((c->flags & CLIENT_PUBSUB) && c->resp == 2 && !(cmd->flags & CMD_SUBSCRIBER_OK)) {
        reply_errf(c,
                   "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / "
                   "QUIT / RESET are allowed in this context",
                   cmd->fullname);
    } else {
        return cmd;
    }
    cmd_stats(c->eng, cmd)->rejected++;
    return NULL;
}

static bool
refuse_oom_or_log(client_t *c, cmd_def_t *cmd) {
    engine_t *s = c->eng;
    if (s->cfg.maxmemory > 0 && (cmd->flags & CMD_DENYOOM) && evict_perform(s) < 0) {
        reply_err(c, "OOM command not allowed when used memory > 'maxmemory'.");
    } else if ((cmd->flags & CMD_WRITE) && s->read_only && !(c->flags & CLIENT_FAKE)) {
        reply_err(c, "READONLY You can't write against a read only replica.");
    } else if ((cmd->flags & CMD_WRITE) && s->wal_refuse_reason) {
        reply_errf(c, "ERR write refused: %s", s->wal_refuse_reason);
    } else if ((cmd->flags & CMD_WRITE) && s->repl_refuse && !(c->flags & CLIENT_FAKE)) {
        reply_err(c, s->repl_refuse);
    } else {
        return false;
    }
    cmd_stats(c->eng, cmd)->rejected++;
    return true;
}

/* CLIENT REPLY OFF|SKIP: the command's reply (from `start`) is dropped; pushes to the client
 * from other clients' commands are not replies and still go out, as in Valkey. SKIP_NEXT (set
 * by CLIENT REPLY SKIP) turns into SKIP for the next command, which it then covers alone. */
static void
drop_reply(client_t *c, const cmd_def_t *cmd, uint64_t start) {
    if ((c->flags & (CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP)) &&
        start >= c->conn.obase + c->conn.osent && start <= c->conn.obase + c->conn.olen)
        c->conn.olen = (size_t)(start - c->conn.obase);
    if (!cmd || !cmd->parent || strcmp(cmd->parent->name, "client"))
        c->flags &= ~(uint32_t)CLIENT_REPLY_SKIP;
    if (c->flags & CLIENT_REPLY_SKIP_NEXT) {
        c->flags &= ~(uint32_t)CLIENT_REPLY_SKIP_NEXT;
        c->flags |= CLIENT_REPLY_SKIP;
    }
}

/* The command's reply is complete and takes no durability mark: CLIENT REPLY may drop it. */
static void
replied(client_t *c, const cmd_def_t *cmd, uint64_t start) {
    if (c->flags & (CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP | CLIENT_REPLY_SKIP_NEXT))
        drop_reply(c, cmd, start);
}

/* A script runs past busy-reply-threshold and the loop is polled from inside it: only the
 * commands that may run meanwhile do (SCRIPT KILL, FUNCTION KILL, SHUTDOWN NOSAVE, AUTH...). */
static bool
refuse_busy(client_t *c, cmd_def_t *cmd) {
    bool nosave = false;
    for (int i = 1; i < c->argc; i++)
        nosave |= cmd_arg_is(&c->argv[i], "nosave");
    if ((cmd->flags & CMD_ALLOW_BUSY) && (strcmp(cmd->name, "shutdown") != 0 || nosave))
        return false;
    reply_errf(c,
               "BUSY Redis is busy running a script. You can only call %s KILL or SHUTDOWN "
               "NOSAVE.",
               c->eng->busy_script == ENGINE_BUSY_FUNCTION ? "FUNCTION" : "SCRIPT");
    cmd_stats(c->eng, cmd)->rejected++;
    if (c->flags & CLIENT_MULTI)
        c->flags |= CLIENT_DIRTY_EXEC;
    return true;
}

void
exec_command(client_t *c) {
    engine_t *s = c->eng;
    uint64_t start = c->conn.obase + c->conn.olen;
    cmd_def_t *cmd = check_command(c);
    if (!cmd) {
        if (c->flags & CLIENT_MULTI)
            c->flags |= CLIENT_DIRTY_EXEC;
        if (c->conn.flags & CONN_UNAUTH) /* NOAUTH errors to a client that does not read */
            client_check_output_limit(c);
        replied(c, NULL, start);
        return;
    }
    if (s->busy_script && refuse_busy(c, cmd))
        return;
    if ((c->flags & CLIENT_MULTI) && !(cmd->flags & CMD_MULTI_OK)) {
        if (cmd->flags & CMD_NO_MULTI) {
            log_refused(c, "not allowed inside a transaction");
            reply_errf(c, "ERR Command not allowed inside a transaction");
            c->flags |= CLIENT_DIRTY_EXEC;
        } else if (refuse_oom_or_log(c, cmd)) {
            c->flags |= CLIENT_DIRTY_EXEC;
        } else {
            queue_command(c, cmd);
        }
        replied(c, cmd, start);
        return;
    }
    if (refuse_oom_or_log(c, cmd)) {
        replied(c, cmd, start);
        return;
    }
    if (s->pause_kind != PAUSE_NONE && pause_park_if_needed(c, cmd))
        return; /* runs when CLIENT PAUSE ends (pause.c) */
    db_set_now_ms(&c->eng->dbenv, util_time_ms());
    /* Tiered values it needs (EXEC: every queued command's) come back first; the client waits
     * with nothing executed, logged or tagged, and this runs again when they are in. */
    db_t *hint_db = c->db; /* the tier's check may leave a lookup hint there (db_hint) */
    if (s->tiering && tiering_park_if_needed(c, cmd)) {
        db_hint_clear(hint_db);
        return;
    }
    c->reply_lsn = 0; /* EXEC raises it to the tags of the reads it ran */
    prop_begin(&c->eng->prop);
    if (c->conn.key_idx > 0 && c->conn.key_idx < c->argc) /* the key's hash, from an I/O thread */
        db_env_hash_hint(&s->dbenv, c->argv[c->conn.key_idx].p, c->argv[c->conn.key_idx].n,
                         c->conn.key_hash);
    exec_call(c, cmd);
    db_env_hash_hint(&s->dbenv, NULL, 0, 0);
    db_hint_clear(hint_db); /* unused (the command looked up something else): it ends here */
    int64_t lsn = prop_end(&c->eng->prop);
    uint64_t tag = 0;
    if (lsn > 0) {
        s->last_lsn_assigned = (uint64_t)lsn;
        for (int i = 0; i < c->eng->nhooks; i++)
            if (c->eng->hooks[i].write_logged)
                c->eng->hooks[i].write_logged(c, cmd, (uint64_t)lsn);
        tag = (uint64_t)lsn;
    } else if (lsn < 0) {
        tag = UINT64_MAX; /* the log refused the record: never release, fail with the log */
    } else {
        tag = exec_read_tag(c, cmd);
        tag = c->reply_lsn > tag ? c->reply_lsn : tag;
    }
    replied(c, cmd, start);
    if (c->conn.fd >= 0)
        client_mark_reply(c, start, tag);
    if (c->conn.olen - c->conn.osent > 0 &&
        (s->cfg.obuf_normal_hard || c->pubsub || (c->conn.flags & CONN_UNAUTH)))
        client_check_output_limit(c);
    for (int i = 0; i < c->eng->nhooks; i++)
        if (c->eng->hooks[i].after_command)
            c->eng->hooks[i].after_command(c);
}

/* ---- the net layer's callbacks (registered by the top level with the engine as ctx) ---- */

/* Protected mode (as Valkey's): with no password set, a peer that is not on this host is told
 * why and closed, so a server bound to a public address by mistake does not serve the world. */
static const char DENIED_PROTECTED[] =
    "-DENIED Keel is running in protected mode because protected mode is enabled and no "
    "password is set for the default user. In this mode connections are only accepted from the "
    "loopback interface. To accept clients from other hosts, either set a password "
    "(requirepass, or ACL users), or turn protected mode off: 'CONFIG SET protected-mode no' "
    "from a local connection (CONFIG REWRITE keeps it), or 'protected-mode no' in the "
    "configuration file, or '--protected-mode no' on the command line. Make sure the server is "
    "not reachable from the internet before you do.\r\n";

conn_t *
exec_accept_cb(void *ctx, int fd) {
    engine_t *s = ctx;
    client_t *c = client_create(s, fd);
    if (s->cfg.protected_mode && s->acl && acl_user_nopass(acl_default_user(s)) &&
        !conn_is_local(&c->conn)) {
        memcpy(conn_out_reserve(&c->conn, sizeof DENIED_PROTECTED - 1), DENIED_PROTECTED,
               sizeof DENIED_PROTECTED - 1);
        conn_out_commit(&c->conn, sizeof DENIED_PROTECTED - 1);
        c->conn.flags |= CONN_CLOSE_AFTER_REPLY;
        conn_schedule_write(&c->conn);
    }
    return &c->conn;
}

void
exec_command_cb(conn_t *conn, int argc, karg_t *argv) {
    client_t *c = (client_t *)conn;
    c->argc = argc;
    c->argv = argv;
    exec_command(c);
    c->argc = 0;
    c->argv = NULL;
    client_update_pause(c);
}

void *
exec_prepare_cb(void *ctx, int argc, const karg_t *argv, int *key_idx, uint64_t *key_hash) {
    cmd_def_t *cmd = cmd_lookup(ctx, argv[0].p, argv[0].n);
    if (cmd && !cmd->subcmds && cmd->first_key > 0 && cmd->first_key < argc) {
        *key_idx = cmd->first_key;
        *key_hash = db_hash_key(argv[cmd->first_key].p, argv[cmd->first_key].n);
    }
    return cmd;
}

void
exec_prefetch_cb(conn_t *conn, uint64_t key_hash) {
    client_t *c = (client_t *)conn;
    db_prefetch(c->db, key_hash, false);
}

void
exec_close_cb(conn_t *conn) {
    client_free((client_t *)conn);
}
