/*
 * cmd.h - the command table: metadata (arity, flags, keys) and dispatch.
 *
 * Each command group (strings, keys, lists, ...) defines a table of cmd_def_t in its own file
 * under commands/, and commands/registry.c lists the tables; the engine indexes them by name at
 * init (cmd_table_init) and owns that index. The metadata is what COMMAND INFO/DOCS/GETKEYS report, so it
 * must be true: arity as in Valkey (negative = at least), key positions, flags.
 */
#ifndef KEEL_CMD_H
#define KEEL_CMD_H

#include <stdbool.h>
#include <stdint.h>

#include "client.h"
#include "util.h"

typedef void (*cmd_proc)(client_t *c);
/* Keys of a call whose key positions the first/last/step triple cannot describe (numkeys);
 * fills idx with argument indexes, returns how many (<= max), or -1 on bad syntax. */
typedef int (*cmd_getkeys)(int argc, karg_t *argv, int *idx, int max);

enum {
    CMD_WRITE = 1 << 0,
    CMD_READONLY = 1 << 1,
    CMD_DENYOOM = 1 << 2, /* refused with -OOM when over maxmemory (noeviction) */
    CMD_ADMIN = 1 << 3,
    CMD_PUBSUB = 1 << 4,
    CMD_NOSCRIPT = 1 << 5,
    CMD_BLOCKING = 1 << 6,
    CMD_LOADING = 1 << 7, /* allowed while loading */
    CMD_STALE = 1 << 8,
    CMD_FAST = 1 << 9,
    CMD_NO_AUTH = 1 << 10,  /* allowed before AUTH */
    CMD_NO_MULTI = 1 << 11, /* not queued inside MULTI (rejected) */
    CMD_ALLOW_BUSY = 1 << 12,
    CMD_SKIP_MONITOR = 1 << 13,
    CMD_SKIP_SLOWLOG = 1 << 14,
    CMD_MULTI_OK = 1 << 15,      /* executed at once even inside MULTI (EXEC, DISCARD, WATCH...) */
    CMD_SUBSCRIBER_OK = 1 << 16, /* allowed in RESP2 subscriber mode */
    CMD_TOUCHES_ALL = 1 << 17,   /* no declared keys but reads the whole keyspace (KEYS, SCAN) */
    CMD_PROTECTED = 1 << 18,     /* refused unless enable-debug-command allows it (DEBUG) */
    CMD_MAY_REPLICATE = 1 << 19, /* not a write, but may add to the log (PUBLISH, PFCOUNT) */
    /* Reads keys its arguments name by pattern, not by position (SORT's BY and GET): a read's
     * durability tag waits for the newest LSN, as for CMD_TOUCHES_ALL. Not a Valkey flag. */
    CMD_PATTERN_READS = 1 << 20,
};

typedef struct cmd_stats {
    uint64_t calls, usec, rejected, failed;
} cmd_stats_t;

typedef struct cmd_def {
    const char *name; /* lower case; container commands hold subcommands */
    cmd_proc proc;
    int arity;
    uint32_t flags;
    int first_key, last_key, key_step; /* last_key -1 = last argument */
    const char *group; /* COMMAND DOCS group: string, generic, server, connection, ... */
    const char *summary;
    const char *since;
    const char *complexity;
    const char *acl; /* ACL categories, space separated, without '@' ("write string fast") */
    cmd_getkeys getkeys;
    struct cmd_def *subcmds; /* NULL-name-terminated; for CLIENT, CONFIG, OBJECT, ... */
    struct cmd_def *parent;
    uint32_t id;    /* index of its counters in engine_t.cmd_stats, set at registration */
    char *fullname; /* "client|list" for subcommands, set at registration */
    /* For a write command that only reads some of its keys (SORT's sorted key, GEOSEARCHSTORE's
     * source): true for the argument positions that are only read, which ACLs then check for
     * read permission instead of write (Valkey's RO key specs). NULL: every key is written. */
    bool (*key_read_only)(int argc, const karg_t *argv, int pos);
} cmd_def_t;

struct engine;
/* Index the groups (NULL-terminated list of NULL-name-terminated tables) in e->cmds. */
void cmd_table_init(struct engine *e, cmd_def_t *const *groups);
cmd_def_t *cmd_lookup(const struct engine *e, const char *name, size_t n);
/* The subcommand of a container command, or NULL. */
cmd_def_t *cmd_lookup_sub(cmd_def_t *parent, const char *name, size_t n);
/* Resolve argv to the command (or subcommand) to run; NULL if unknown. */
cmd_def_t *cmd_resolve(const struct engine *e, int argc, karg_t *argv);
int cmd_count(const struct engine *e);
/* Calls fn for each top-level command. */
void cmd_foreach(const struct engine *e, void (*fn)(cmd_def_t *cmd, void *ctx), void *ctx);
/* Key argument indexes of a call; -1 on bad syntax. */
int cmd_get_keys(cmd_def_t *cmd, int argc, karg_t *argv, int *idx, int max);
bool cmd_arity_ok(const cmd_def_t *cmd, int argc);
/* A copy of a call's arguments that outlives its query buffer (a parked or blocked client): one
 * allocation holding the array and the NUL-terminated bytes, to kfree. */
karg_t *cmd_argv_copy(int argc, const karg_t *argv);
void cmd_reset_stats(const struct engine *e);
/* The engine's counters of cmd (INFO commandstats). */
cmd_stats_t *cmd_stats(const struct engine *e, const cmd_def_t *cmd);

/* Whether an argument is the option word `word` (a C string), ignoring ASCII case, as Valkey's
 * strcasecmp on option names. */
static inline bool
cmd_arg_is(const karg_t *a, const char *word) {
    return util_eq_nocase(a->p, a->n, word);
}

#endif
