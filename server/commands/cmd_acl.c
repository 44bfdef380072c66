/*
 * cmd_acl.c - ACL SETUSER GETUSER DELUSER LIST USERS WHOAMI CAT LOG GENPASS DRYRUN SAVE LOAD HELP.
 *
 * The users, rules and checks are the engine's (core/acl.c); this file parses the arguments and
 * shapes the replies as Valkey does: GETUSER is a map (a flat array in RESP2) of flags,
 * passwords, commands, keys, channels and selectors (always empty: Keel has no selectors); LOG
 * entries are maps of ten fields.
 */
#include <stdio.h>
#include <string.h>

#include "acl.h"
#include "cmd.h"
#include "engine.h"
#include "kmem.h"
#include "reply.h"
#include "sbuf.h"
#include "util.h"

/* Valkey's reply for a subcommand given the wrong number of arguments. */
static void
reply_sub_syntax(client_t *c) {
    reply_errf(c, "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try ACL HELP.",
               (int)(c->argv[1].n > 128 ? 128 : c->argv[1].n), c->argv[1].p);
}

/* After the reply of a command that may have removed the caller's own user (or closed it as a
 * subscriber whose channels were revoked): the connection goes once the reply is out. Inside
 * EXEC, EXEC does it at its end (replies after CONN_CLOSE_AFTER_REPLY are dropped). */
static void
close_if_gone(client_t *c) {
    if ((c->flags & CLIENT_CLOSE_AFTER_COMMAND) && !(c->flags & CLIENT_IN_EXEC))
        c->conn.flags |= CONN_CLOSE_AFTER_REPLY;
}

static void
acl_setuser_cmd(client_t *c) {
    char err[512];
    if (acl_setuser(c->eng, &c->argv[2], c->argc - 3, &c->argv[3], err, sizeof err) < 0) {
        reply_errf(c, "ERR %s", err);
        return;
    }
    reply_ok(c);
    close_if_gone(c);
}

static void
acl_deluser_cmd(client_t *c) {
    for (int i = 2; i < c->argc; i++)
        if (c->argv[i].n == 7 && !memcmp(c->argv[i].p, "default", 7)) {
            reply_err(c, "ERR The 'default' user cannot be removed");
            return;
        }
    long long n = 0;
    for (int i = 2; i < c->argc; i++)
        n += acl_deluser(c->eng, c->argv[i].p, c->argv[i].n);
    reply_int(c, n);
    close_if_gone(c);
}

static void
reply_part(client_t *c, const acl_user_t *u, int part) {
    sbuf_t b = {0};
    acl_describe(c->eng, u, part, &b);
    reply_bulk(c, b.p ? b.p : "", b.len);
    sbuf_free(&b);
}

static void
acl_getuser_cmd(client_t *c) {
    acl_user_t *u = acl_user_find(c->eng, c->argv[2].p, c->argv[2].n);
    if (!u) {
        reply_null(c);
        return;
    }
    reply_map(c, 6);
    reply_bulk_cstr(c, "flags");
    const char *flags[4];
    int nf = acl_user_flags(u, flags);
    reply_set(c, nf);
    for (int i = 0; i < nf; i++)
        reply_bulk_cstr(c, flags[i]);
    reply_bulk_cstr(c, "passwords");
    uint32_t np = acl_user_npasswords(u);
    reply_array(c, np);
    for (uint32_t i = 0; i < np; i++) {
        char hex[2 * ACL_HASH_LEN + 1];
        acl_user_password_hex(u, i, hex);
        reply_bulk(c, hex, 2 * ACL_HASH_LEN);
    }
    reply_bulk_cstr(c, "commands");
    reply_part(c, u, ACL_DESCR_COMMANDS);
    reply_bulk_cstr(c, "keys");
    reply_part(c, u, ACL_DESCR_KEYS);
    reply_bulk_cstr(c, "channels");
    reply_part(c, u, ACL_DESCR_CHANNELS);
    reply_bulk_cstr(c, "selectors");
    reply_empty_array(c);
}

static void
acl_list_cmd(client_t *c) {
    uint32_t n = acl_user_count(c->eng);
    reply_array(c, n);
    for (uint32_t i = 0; i < n; i++) {
        acl_user_t *u = acl_user_at(c->eng, i);
        sbuf_t b = {0};
        sbuf_printf(&b, "user %s", acl_user_name(u));
        acl_describe(c->eng, u, ACL_DESCR_ALL, &b);
        reply_bulk(c, b.p, b.len);
        sbuf_free(&b);
    }
}

static void
acl_users_cmd(client_t *c) {
    uint32_t n = acl_user_count(c->eng);
    reply_array(c, n);
    for (uint32_t i = 0; i < n; i++)
        reply_bulk_cstr(c, acl_user_name(acl_user_at(c->eng, i)));
}

static void
acl_whoami_cmd(client_t *c) {
    if (c->user)
        reply_bulk_cstr(c, acl_user_name(c->user));
    else
        reply_null(c);
}

typedef struct cat_walk {
    client_t *c;
    int cat;
    long long n;
} cat_walk_t;

static void
cat_cb(cmd_def_t *cmd, void *ctx) {
    cat_walk_t *w = ctx;
    if (acl_cmd_in_category(w->c->eng, cmd, w->cat)) {
        reply_bulk_cstr(w->c, cmd->fullname);
        w->n++;
    }
    for (cmd_def_t *s = cmd->subcmds; s && s->name; s++)
        if (acl_cmd_in_category(w->c->eng, s, w->cat)) {
            reply_bulk_cstr(w->c, s->fullname);
            w->n++;
        }
}

static void
acl_cat_cmd(client_t *c) {
    if (c->argc > 3) {
        reply_sub_syntax(c);
        return;
    }
    if (c->argc == 2) {
        int n = 0;
        while (acl_category_name(n))
            n++;
        reply_array(c, n);
        for (int i = 0; i < n; i++)
            reply_bulk_cstr(c, acl_category_name(i));
        return;
    }
    int cat = acl_category_find(c->argv[2].p, c->argv[2].n);
    if (cat < 0) {
        reply_errf(c, "ERR Unknown category '%.*s'", (int)(c->argv[2].n > 128 ? 128 : c->argv[2].n),
                   c->argv[2].p);
        return;
    }
    cat_walk_t w = {c, cat, 0};
    size_t spot = reply_defer(c);
    cmd_foreach(c->eng, cat_cb, &w);
    reply_set_deferred_array(c, spot, w.n);
}

static const char *
reason_name(int r) {
    switch (r) {
    case ACL_DENIED_CMD: return "command";
    case ACL_DENIED_KEY: return "key";
    case ACL_DENIED_CHANNEL: return "channel";
    case ACL_DENIED_AUTH: return "auth";
    default: return "unknown";
    }
}

static void
reply_log_entry(client_t *c, const acl_log_entry_t *le, int64_t now) {
    reply_map(c, 10);
    reply_bulk_cstr(c, "count");
    reply_int(c, (long long)le->count);
    reply_bulk_cstr(c, "reason");
    reply_bulk_cstr(c, reason_name(le->reason));
    reply_bulk_cstr(c, "context");
    reply_bulk_cstr(c, le->context == ACL_CTX_MULTI ? "multi" : "toplevel");
    reply_bulk_cstr(c, "object");
    reply_bulk(c, le->object, le->object_len);
    reply_bulk_cstr(c, "username");
    reply_bulk(c, le->username, le->username_len);
    reply_bulk_cstr(c, "age-seconds");
    reply_double(c, (double)(now - le->updated_ms) / 1000.0);
    reply_bulk_cstr(c, "client-info");
    reply_bulk_cstr(c, le->client_info);
    reply_bulk_cstr(c, "entry-id");
    reply_int(c, le->entry_id);
    reply_bulk_cstr(c, "timestamp-created");
    reply_int(c, le->created_ms);
    reply_bulk_cstr(c, "timestamp-last-updated");
    reply_int(c, le->updated_ms);
}

static void
acl_log_cmd(client_t *c) {
    long long count = 10;
    if (c->argc > 3) {
        reply_sub_syntax(c);
        return;
    }
    if (c->argc == 3) {
        if (cmd_arg_is(&c->argv[2], "reset")) {
            acl_log_reset(c->eng);
            reply_ok(c);
            return;
        }
        if (!util_parse_ll(c->argv[2].p, c->argv[2].n, &count)) {
            reply_err(c, ERR_NOT_INT);
            return;
        }
        if (count < 0)
            count = 0;
    }
    uint32_t len = acl_log_len(c->eng);
    if (count > (long long)len)
        count = len;
    reply_array(c, count);
    int64_t now = util_time_ms();
    for (uint32_t i = 0; i < (uint32_t)count; i++)
        reply_log_entry(c, acl_log_at(c->eng, i), now);
}

static void
acl_genpass_cmd(client_t *c) {
    long long bits = 256;
    if (c->argc > 3) {
        reply_sub_syntax(c);
        return;
    }
    if (c->argc == 3 && !util_parse_ll(c->argv[2].p, c->argv[2].n, &bits)) {
        reply_err(c, ERR_NOT_INT);
        return;
    }
    if (bits <= 0 || bits > ACL_GENPASS_BITS_MAX) {
        reply_errf(c,
                   "ERR ACL GENPASS argument must be the number of bits for the output password, "
                   "a positive number up to %d",
                   ACL_GENPASS_BITS_MAX);
        return;
    }
    unsigned char raw[ACL_GENPASS_BITS_MAX / 8];
    char hex[ACL_GENPASS_BITS_MAX / 4];
    size_t chars = (size_t)(bits + 3) / 4;
    if (util_random_bytes(raw, (chars + 1) / 2) < 0) {
        reply_err(c, "ERR no random bytes available");
        return;
    }
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < chars; i++)
        hex[i] = digits[(raw[i / 2] >> (i % 2 ? 0 : 4)) & 15];
    reply_bulk(c, hex, chars);
}

static void
acl_dryrun_cmd(client_t *c) {
    acl_user_t *u = acl_user_find(c->eng, c->argv[2].p, c->argv[2].n);
    if (!u) {
        reply_errf(c, "ERR User '%.*s' not found", (int)(c->argv[2].n > 128 ? 128 : c->argv[2].n),
                   c->argv[2].p);
        return;
    }
    int argc = c->argc - 3;
    karg_t *argv = c->argv + 3;
    cmd_def_t *cmd = cmd_lookup(c->eng, argv[0].p, argv[0].n);
    if (cmd && cmd->subcmds && argc >= 2)
        cmd = cmd_lookup_sub(cmd, argv[1].p, argv[1].n);
    if (!cmd) {
        reply_errf(c, "ERR Command '%.*s' not found", (int)(argv[0].n > 128 ? 128 : argv[0].n),
                   argv[0].p);
        return;
    }
    if (!cmd_arity_ok(cmd, argc)) {
        reply_errf(c, "ERR wrong number of arguments for '%s' command", cmd->fullname);
        return;
    }
    int pos = 0;
    int r = acl_check(c->eng, u, cmd, argc, argv, &pos);
    if (r == ACL_OK) {
        reply_ok(c);
        return;
    }
    char msg[512];
    acl_denied_message(r, u, cmd, &argv[pos], msg, sizeof msg);
    reply_bulk_cstr(c, msg);
}

static bool
have_aclfile(client_t *c) {
    if (c->eng->cfg.aclfile && c->eng->cfg.aclfile[0])
        return true;
    reply_err(c, "ERR This instance is not configured to use an ACL file. You may want to specify "
                 "users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you "
                 "have a configuration file set) in order to store users in the configuration.");
    return false;
}

static void
acl_load_cmd(client_t *c) {
    if (!have_aclfile(c))
        return;
    sbuf_t errors = {0};
    if (acl_load_file(c->eng, &errors) < 0)
        reply_errf(c, "ERR %.*s", (int)errors.len, errors.p ? errors.p : "");
    else
        reply_ok(c);
    sbuf_free(&errors);
    close_if_gone(c);
}

static void
acl_save_cmd(client_t *c) {
    if (!have_aclfile(c))
        return;
    char err[512];
    if (acl_save_file(c->eng, err, sizeof err) < 0) {
        reply_err(c, "ERR There was an error trying to save the ACLs. Please check the server "
                     "logs for more information");
        return;
    }
    reply_ok(c);
}

static void
acl_help_cmd(client_t *c) {
    static const char *const lines[] = {
        "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CAT [<category>]",
        "    List all commands that belong to <category>, or all command categories",
        "    when no category is specified.",
        "DELUSER <username> [<username> ...]",
        "    Delete a list of users.",
        "DRYRUN <username> <command> [<arg> ...]",
        "    Returns whether the user can execute the given command without executing the "
        "command.",
        "GETUSER <username>",
        "    Get the user's details.",
        "GENPASS [<bits>]",
        "    Generate a secure 256-bit user password. The optional `bits` argument can",
        "    be used to specify a different size.",
        "LIST",
        "    Show users details in config file format.",
        "LOAD",
        "    Reload users from the ACL file.",
        "LOG [<count> | RESET]",
        "    Show the ACL log entries.",
        "SAVE",
        "    Save the current config to the ACL file.",
        "SETUSER <username> <attribute> [<attribute> ...]",
        "    Create or modify a user with the specified attributes.",
        "USERS",
        "    List all the registered usernames.",
        "WHOAMI",
        "    Return the current connection username.",
        "HELP",
        "    Print this help.",
    };
    reply_help(c, lines, sizeof lines / sizeof *lines);
}

#define ACL_ADMIN (CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE)
#define ACL_PLAIN (CMD_NOSCRIPT | CMD_LOADING | CMD_STALE)

static cmd_def_t acl_subcmds[] = {
    {"cat", acl_cat_cmd, -2, ACL_PLAIN, 0, 0, 0, "server",
     "Lists the ACL categories, or the commands inside a category.", "6.0.0",
     "O(1) since the categories and commands are a fixed set.", "slow"},
    {"deluser", acl_deluser_cmd, -3, ACL_ADMIN, 0, 0, 0, "server",
     "Deletes ACL users, and terminates their connections.", "6.0.0",
     "O(1) amortized time considering the typical user.", "admin slow dangerous"},
    {"dryrun", acl_dryrun_cmd, -4, ACL_ADMIN, 0, 0, 0, "server",
     "Simulates the execution of a command by a user, without executing the command.", "7.0.0",
     "O(1).", "admin slow dangerous"},
    {"genpass", acl_genpass_cmd, -2, ACL_PLAIN, 0, 0, 0, "server",
     "Generates a pseudorandom, secure password that can be used to identify ACL users.", "6.0.0",
     "O(1)", "slow"},
    {"getuser", acl_getuser_cmd, 3, ACL_ADMIN, 0, 0, 0, "server", "Lists the ACL rules of a user.",
     "6.0.0",
     "O(N). Where N is the number of password, command and pattern rules that the user has.",
     "admin slow dangerous"},
    {"help", acl_help_cmd, 2, CMD_LOADING | CMD_STALE, 0, 0, 0, "server",
     "Returns helpful text about the different subcommands.", "6.0.0", "O(1)", "slow"},
    {"list", acl_list_cmd, 2, ACL_ADMIN, 0, 0, 0, "server",
     "Dumps the effective rules in ACL file format.", "6.0.0",
     "O(N). Where N is the number of configured users.", "admin slow dangerous"},
    {"load", acl_load_cmd, 2, ACL_ADMIN, 0, 0, 0, "server",
     "Reloads the rules from the configured ACL file.", "6.0.0",
     "O(N). Where N is the number of configured users.", "admin slow dangerous"},
    {"log", acl_log_cmd, -2, ACL_ADMIN, 0, 0, 0, "server",
     "Lists recent security events generated due to ACL rules.", "6.0.0",
     "O(N) with N being the number of entries shown.", "admin slow dangerous"},
    {"save", acl_save_cmd, 2, ACL_ADMIN, 0, 0, 0, "server",
     "Saves the effective ACL rules in the configured ACL file.", "6.0.0",
     "O(N). Where N is the number of configured users.", "admin slow dangerous"},
    {"setuser", acl_setuser_cmd, -3, ACL_ADMIN, 0, 0, 0, "server",
     "Creates and modifies an ACL user and its rules.", "6.0.0",
     "O(N). Where N is the number of rules provided.", "admin slow dangerous"},
    {"users", acl_users_cmd, 2, ACL_ADMIN, 0, 0, 0, "server", "Lists all ACL users.", "6.0.0",
     "O(N). Where N is the number of configured users.", "admin slow dangerous"},
    {"whoami", acl_whoami_cmd, 2, ACL_PLAIN, 0, 0, 0, "server",
     "Returns the authenticated username of the current connection.", "6.0.0", "O(1)", "slow"},
    {0},
};

cmd_def_t cmd_table_acl[] = {
    {"acl", NULL, -2, 0, 0, 0, 0, "server", "A container for Access List Control commands.",
     "6.0.0", "Depends on subcommand.", "slow", NULL, acl_subcmds},
    {0},
};
