/*
 * exec.h - running one command: lookup, checks, MULTI queueing, the call, effects, reply tag.
 *
 * exec_command(c) is the single entry from the network layer. The order of checks follows
 * Valkey's processCommand so that clients see the same error for the same mistake:
 *   unknown command -> arity -> NOAUTH -> subscriber context -> MULTI queueing -> OOM ->
 *   log failed (writes) -> call.
 */
#ifndef KEEL_EXEC_H
#define KEEL_EXEC_H

#include <stdbool.h>

#include "cmd.h"
#include "client.h"
#include "engine.h"

void exec_command(client_t *c);
/* Run cmd with c->argc/argv now, inside the current effect scope; updates stats. */
void exec_call(client_t *c, cmd_def_t *cmd);
void exec_client_cleanup(client_t *c);
/* A key's value changed: invalidates WATCH, records it for durability tagging. */
void srv_key_modified(engine_t *s, db_t *db, const char *key, size_t klen);
/* Every key of a db changed (FLUSHDB, SWAPDB): db id, or -1 for all (FLUSHALL). */
void srv_db_modified(engine_t *s, int db_id);
void srv_dirty(engine_t *s, uint64_t n);
/* The db hook: a key expired (lazily or actively): log DEL, notify, count. */
void srv_key_expired_cb(void *ctx, db_t *db, const char *key, size_t klen);

/* Transactions (exec.c): MULTI, EXEC, DISCARD are in the conn table. */
void tx_discard(client_t *c);
void cmd_multi(client_t *c);
void cmd_exec(client_t *c);
void cmd_discard(client_t *c);

/* Hooks the transaction and pub/sub modules fill in (WATCH, keyspace events). */
typedef struct exec_hooks {
    void (*key_modified)(engine_t *s, db_t *db, const char *key, size_t klen);
    void (*db_modified)(engine_t *s, int db_id);
    void (*client_cleanup)(client_t *c);
    void (*unwatch)(client_t *c); /* EXEC/DISCARD/UNWATCH: forget the client's watched keys */
    void (*notify)(engine_t *s, int type, const char *event, const char *key, size_t klen, int db);
    /* Durability tagging (DESIGN section 3): the LSN a read must wait for, and the keys a
     * logged write touched. NULL when there is no log. */
    uint64_t (*read_tag)(client_t *c, cmd_def_t *cmd);
    void (*write_logged)(client_t *c, cmd_def_t *cmd, uint64_t lsn);
    /* EXEC, before anything else: false makes it fail like a changed WATCHed key (a watched
     * key expired since WATCH, Valkey 7). */
    bool (*exec_check)(client_t *c);
    /* A command finished (reply tagged): serve clients blocked on keys it gave data (block.c). */
    void (*after_command)(client_t *c);
} exec_hooks_t;
void exec_add_hooks(const exec_hooks_t *h);

/* Keyspace event classes for notify (as Valkey's notify-keyspace-events letters). */
enum {
    NOTIFY_KEYSPACE = 1 << 0,  /* K */
    NOTIFY_KEYEVENT = 1 << 1,  /* E */
    NOTIFY_GENERIC = 1 << 2,   /* g */
    NOTIFY_STRING = 1 << 3,    /* $ */
    NOTIFY_LIST = 1 << 4,      /* l */
    NOTIFY_SET = 1 << 5,       /* s */
    NOTIFY_HASH = 1 << 6,      /* h */
    NOTIFY_ZSET = 1 << 7,      /* z */
    NOTIFY_EXPIRED = 1 << 8,   /* x */
    NOTIFY_EVICTED = 1 << 9,   /* e */
    NOTIFY_STREAM = 1 << 10,   /* t */
    NOTIFY_KEY_MISS = 1 << 11, /* m */
    NOTIFY_NEW = 1 << 12,      /* n */
};
void srv_notify(engine_t *s, int type, const char *event, const char *key, size_t klen, int db);

#endif
