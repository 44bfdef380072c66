/* cmd_command.c - COMMAND, COMMAND COUNT/LIST/INFO/DOCS/GETKEYS, from the real table. */
#include <string.h>
#include <strings.h>

#include "cmd.h"
#include "util.h"
#include "reply.h"

static const struct {
    uint32_t flag;
    const char *name;
} flag_names[] = {
    {CMD_WRITE, "write"},           {CMD_READONLY, "readonly"},
    {CMD_DENYOOM, "denyoom"},       {CMD_ADMIN, "admin"},
    {CMD_PUBSUB, "pubsub"},         {CMD_NOSCRIPT, "noscript"},
    {CMD_BLOCKING, "blocking"},     {CMD_LOADING, "loading"},
    {CMD_STALE, "stale"},           {CMD_FAST, "fast"},
    {CMD_NO_AUTH, "no_auth"},       {CMD_NO_MULTI, "no_multi"},
    {CMD_ALLOW_BUSY, "allow_busy"}, {CMD_SKIP_SLOWLOG, "skip_slowlog"},
    {CMD_PROTECTED, "protected"},   {CMD_MAY_REPLICATE, "may_replicate"},
};

/* "movablekeys" is not a table flag: it says the first/last/step triple cannot describe the
 * keys (numkeys-style commands, which have a getkeys function). Cluster clients read it to know
 * they must ask COMMAND GETKEYS, so it has to be reported as Valkey does. */
static void
reply_flags(client_t *c, const cmd_def_t *cmd) {
    int n = cmd->getkeys != NULL;
    for (size_t i = 0; i < sizeof flag_names / sizeof *flag_names; i++)
        n += (cmd->flags & flag_names[i].flag) != 0;
    reply_set(c, n);
    for (size_t i = 0; i < sizeof flag_names / sizeof *flag_names; i++)
        if (cmd->flags & flag_names[i].flag)
            reply_simple(c, flag_names[i].name);
    if (cmd->getkeys)
        reply_simple(c, "movablekeys");
}

/* The next space-separated ACL category of *p ("write string fast"), advancing *p; false at
 * the end. */
static bool
acl_next(const char **p, const char **word, size_t *len) {
    while (**p == ' ')
        (*p)++;
    if (!**p)
        return false;
    *word = *p;
    while (**p && **p != ' ')
        (*p)++;
    *len = (size_t)(*p - *word);
    return true;
}

static void
reply_acl(client_t *c, const cmd_def_t *cmd) {
    const char *p, *w;
    size_t len;
    int n = 0;
    for (p = cmd->acl ? cmd->acl : ""; acl_next(&p, &w, &len);)
        n++;
    reply_set(c, n);
    for (p = cmd->acl ? cmd->acl : ""; acl_next(&p, &w, &len);) {
        char buf[64];
        size_t k = len < 62 ? len : 62;
        buf[0] = '@';
        memcpy(buf + 1, w, k);
        buf[1 + k] = 0;
        reply_simple(c, buf);
    }
}

/* Key specs in Valkey's shape: one range spec for first/last/step, "keynum" for getkeys commands. */
static void
reply_key_specs(client_t *c, const cmd_def_t *cmd) {
    if (cmd->first_key <= 0) {
        reply_empty_array(c);
        return;
    }
    reply_array(c, 1);
    reply_map(c, 3);
    reply_bulk_cstr(c, "flags");
    reply_set(c, 1);
    reply_simple(c, (cmd->flags & CMD_WRITE) ? "RW" : "RO");
    reply_bulk_cstr(c, "begin_search");
    reply_map(c, 2);
    reply_bulk_cstr(c, "type");
    reply_bulk_cstr(c, "index");
    reply_bulk_cstr(c, "spec");
    reply_map(c, 1);
    reply_bulk_cstr(c, "index");
    reply_int(c, cmd->first_key);
    reply_bulk_cstr(c, "find_keys");
    reply_map(c, 2);
    reply_bulk_cstr(c, "type");
    reply_bulk_cstr(c, "range");
    reply_bulk_cstr(c, "spec");
    reply_map(c, 3);
    reply_bulk_cstr(c, "lastkey");
    reply_int(c, cmd->last_key < 0 ? cmd->last_key : cmd->last_key - cmd->first_key);
    reply_bulk_cstr(c, "keystep");
    reply_int(c, cmd->key_step ? cmd->key_step : 1);
    reply_bulk_cstr(c, "limit");
    reply_int(c, 0);
}

static int
count_subs(const cmd_def_t *cmd) {
    int n = 0;
    for (const cmd_def_t *s = cmd->subcmds; s && s->name; s++)
        n++;
    return n;
}

static void
reply_info(client_t *c, const cmd_def_t *cmd) {
    reply_array(c, 10);
    reply_bulk_cstr(c, cmd->fullname ? cmd->fullname : cmd->name);
    reply_int(c, cmd->arity);
    reply_flags(c, cmd);
    reply_int(c, cmd->first_key);
    reply_int(c, cmd->last_key);
    reply_int(c, cmd->first_key ? (cmd->key_step ? cmd->key_step : 1) : 0);
    reply_acl(c, cmd);
    reply_empty_array(c); /* tips */
    reply_key_specs(c, cmd);
    reply_array(c, count_subs(cmd));
    for (cmd_def_t *s = cmd->subcmds; s && s->name; s++)
        reply_info(c, s);
}

typedef struct collect {
    client_t *c;
    int n;
    const karg_t *pattern;
    const karg_t *aclcat;
    bool count_only;
    bool names_only;
} collect_t;

static bool
list_match(collect_t *k, cmd_def_t *cmd) {
    const char *name = cmd->fullname ? cmd->fullname : cmd->name;
    if (k->pattern && !util_glob_match(k->pattern->p, k->pattern->n, name, strlen(name), true))
        return false;
    if (k->aclcat) {
        const char *p = cmd->acl ? cmd->acl : "", *w;
        size_t len;
        bool hit = false;
        while (!hit && acl_next(&p, &w, &len))
            hit = len == k->aclcat->n && !strncasecmp(w, k->aclcat->p, len);
        if (!hit)
            return false;
    }
    return true;
}

static void
emit_cb(cmd_def_t *cmd, void *ctx) {
    collect_t *k = ctx;
    /* COMMAND LIST names subcommands too, as "container|subcommand" (Valkey). */
    if (k->names_only)
        for (cmd_def_t *sub = cmd->subcmds; sub && sub->name; sub++)
            emit_cb(sub, ctx);
    if (!list_match(k, cmd))
        return;
    k->n++;
    if (k->count_only)
        return;
    if (k->names_only)
        reply_bulk_cstr(k->c, cmd->fullname ? cmd->fullname : cmd->name);
    else
        reply_info(k->c, cmd);
}

static void
command_all(client_t *c) {
    collect_t k = {.c = c};
    reply_array(c, cmd_count(c->eng));
    cmd_foreach(c->eng, emit_cb, &k);
}

static void
command_count(client_t *c) {
    reply_int(c, cmd_count(c->eng));
}

static void
command_list(client_t *c) {
    collect_t k = {.c = c, .names_only = true};
    if (c->argc == 5 && util_eq_nocase(c->argv[2].p, c->argv[2].n, "filterby")) {
        if (util_eq_nocase(c->argv[3].p, c->argv[3].n, "pattern"))
            k.pattern = &c->argv[4];
        else if (util_eq_nocase(c->argv[3].p, c->argv[3].n, "aclcat"))
            k.aclcat = &c->argv[4];
        else if (util_eq_nocase(c->argv[3].p, c->argv[3].n, "module")) {
            reply_empty_array(c); /* no modules */
            return;
        } else {
            reply_err(c, ERR_SYNTAX);
            return;
        }
    } else if (c->argc != 2) {
        reply_err(c, ERR_SYNTAX);
        return;
    }
    collect_t cnt = k;
    cnt.count_only = true;
    cmd_foreach(c->eng, emit_cb, &cnt);
    reply_array(c, cnt.n);
    cmd_foreach(c->eng, emit_cb, &k);
}

static cmd_def_t *
lookup_full(client_t *c, const karg_t *a) {
    const char *bar = memchr(a->p, '|', a->n);
    if (!bar)
        return cmd_lookup(c->eng, a->p, a->n);
    cmd_def_t *p = cmd_lookup(c->eng, a->p, (size_t)(bar - a->p));
    return p ? cmd_lookup_sub(p, bar + 1, a->n - (size_t)(bar - a->p) - 1) : NULL;
}

static void
command_info(client_t *c) {
    if (c->argc == 2) {
        command_all(c);
        return;
    }
    reply_array(c, c->argc - 2);
    for (int i = 2; i < c->argc; i++) {
        cmd_def_t *cmd = lookup_full(c, &c->argv[i]);
        if (cmd)
            reply_info(c, cmd);
        else
            reply_null_array(c);
    }
}

static void
reply_doc(client_t *c, cmd_def_t *cmd) {
    int subs = count_subs(cmd);
    reply_bulk_cstr(c, cmd->fullname ? cmd->fullname : cmd->name);
    reply_map(c, subs ? 5 : 4);
    reply_bulk_cstr(c, "summary");
    reply_bulk_cstr(c, cmd->summary ? cmd->summary : "");
    reply_bulk_cstr(c, "since");
    reply_bulk_cstr(c, cmd->since ? cmd->since : "1.0.0");
    reply_bulk_cstr(c, "group");
    reply_bulk_cstr(c, cmd->group ? cmd->group : "generic");
    reply_bulk_cstr(c, "complexity");
    reply_bulk_cstr(c, cmd->complexity ? cmd->complexity : "O(1)");
    if (subs) {
        reply_bulk_cstr(c, "subcommands");
        reply_map(c, subs);
        for (cmd_def_t *s = cmd->subcmds; s && s->name; s++)
            reply_doc(c, s);
    }
}

static void
doc_cb(cmd_def_t *cmd, void *ctx) {
    reply_doc(ctx, cmd);
}

static void
command_docs(client_t *c) {
    if (c->argc == 2) {
        reply_map(c, cmd_count(c->eng));
        cmd_foreach(c->eng, doc_cb, c);
        return;
    }
    int found = 0;
    for (int i = 2; i < c->argc; i++)
        found += lookup_full(c, &c->argv[i]) != NULL;
    reply_map(c, found);
    for (int i = 2; i < c->argc; i++) {
        cmd_def_t *cmd = lookup_full(c, &c->argv[i]);
        if (cmd)
            reply_doc(c, cmd);
    }
}

static void
command_getkeys(client_t *c) {
    int argc = c->argc - 2;
    karg_t *argv = c->argv + 2;
    cmd_def_t *cmd = cmd_resolve(c->eng, argc, argv);
    if (!cmd) {
        reply_err(c, "ERR Invalid command specified");
        return;
    }
    if (!cmd_arity_ok(cmd, argc)) {
        reply_err(c, "ERR Invalid number of arguments specified for command");
        return;
    }
    int idx[256];
    int n = cmd_get_keys(cmd, argc, argv, idx, 256);
    if (n < 0) {
        reply_err(c, "ERR Invalid arguments specified for command");
        return;
    }
    if (n == 0) {
        reply_err(c, "ERR The command has no key arguments");
        return;
    }
    reply_array(c, n);
    for (int i = 0; i < n; i++)
        reply_bulk(c, argv[idx[i]].p, argv[idx[i]].n);
}

/* COMMAND GETKEYSANDFLAGS: each key with the flags of its key spec. Keel keeps no key specs:
 * a read-only command's keys are RO+access, any other command's RW+update (a coarser answer
 * than Valkey's per-spec flags, never a wrong direction). */
static void
command_getkeysandflags(client_t *c) {
    int argc = c->argc - 2;
    karg_t *argv = c->argv + 2;
    cmd_def_t *cmd = cmd_resolve(c->eng, argc, argv);
    if (!cmd) {
        reply_err(c, "ERR Invalid command specified");
        return;
    }
    if (!cmd_arity_ok(cmd, argc)) {
        reply_err(c, "ERR Invalid number of arguments specified for command");
        return;
    }
    int idx[256];
    int n = cmd_get_keys(cmd, argc, argv, idx, 256);
    if (n < 0) {
        reply_err(c, "ERR Invalid arguments specified for command");
        return;
    }
    if (n == 0) {
        reply_err(c, "ERR The command has no key arguments");
        return;
    }
    bool ro = (cmd->flags & CMD_READONLY) && !(cmd->flags & CMD_WRITE);
    reply_array(c, n);
    for (int i = 0; i < n; i++) {
        reply_array(c, 2);
        reply_bulk(c, argv[idx[i]].p, argv[idx[i]].n);
        reply_set(c, 2);
        reply_simple(c, ro ? "RO" : "RW");
        reply_simple(c, ro ? "access" : "update");
    }
}

static void
command_help(client_t *c) {
    static const char *const lines[] = {
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)",
        "    Return details about all commands.",
        "COUNT",
        "    Return the total number of commands in this server.",
        "LIST [FILTERBY (MODULE <module-name>|ACLCAT <category>|PATTERN <pattern>)]",
        "    Return a list of all commands in this server.",
        "INFO [<command-name> ...]",
        "    Return details about the given commands, or all of them.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about commands.",
        "GETKEYS <full-command>",
        "    Return the keys from a full command.",
        "GETKEYSANDFLAGS <full-command>",
        "    Return the keys and the access flags from a full command.",
        "HELP",
        "    Print this help.",
    };
    reply_help(c, lines, sizeof lines / sizeof *lines);
}

static void
command_root(client_t *c) {
    if (c->argc == 1)
        command_all(c);
    else
        reply_errf(c, "ERR unknown subcommand '%.*s'. Try COMMAND HELP.", (int)c->argv[1].n,
                   c->argv[1].p);
}

static cmd_def_t command_subcmds[] = {
    {"count", command_count, 2, CMD_LOADING | CMD_STALE, 0, 0, 0, "server",
     "Returns a count of commands.", "2.8.13", "O(1)", "slow connection"},
    {"list", command_list, -2, CMD_LOADING | CMD_STALE, 0, 0, 0, "server",
     "Returns a list of command names.", "7.0.0", "O(N) where N is the total number of commands",
     "slow connection"},
    {"info", command_info, -2, CMD_LOADING | CMD_STALE, 0, 0, 0, "server",
     "Returns information about one, multiple or all commands.", "2.8.13",
     "O(N) where N is the number of commands to look up", "slow connection"},
    {"docs", command_docs, -2, CMD_LOADING | CMD_STALE, 0, 0, 0, "server",
     "Returns documentary information about one, multiple or all commands.", "7.0.0",
     "O(N) where N is the number of commands to look up", "slow connection"},
    {"getkeys", command_getkeys, -3, CMD_LOADING | CMD_STALE, 0, 0, 0, "server",
     "Extracts the key names from an arbitrary command.", "2.8.13",
     "O(N) where N is the number of arguments to the command", "slow connection"},
    {"getkeysandflags", command_getkeysandflags, -3, CMD_LOADING | CMD_STALE, 0, 0, 0, "server",
     "Extracts the key names and access flags for an arbitrary command.", "7.0.0",
     "O(N) where N is the number of arguments to the command", "slow connection"},
    {"help", command_help, 2, CMD_LOADING | CMD_STALE, 0, 0, 0, "server",
     "Returns helpful text about the different subcommands.", "5.0.0", "O(1)", "slow connection"},
    {0},
};

cmd_def_t cmd_table_command[] = {
    {"command", command_root, -1, CMD_LOADING | CMD_STALE, 0, 0, 0, "server",
     "Returns detailed information about all commands.", "2.8.13",
     "O(N) where N is the total number of commands", "slow connection", NULL, command_subcmds},
    {0},
};
