/*
 * events.h - what modules of the engine learn about each other's work, without calling each
 * other: hooks registered at init (WATCH, pub/sub, blocking, reply tags, WAITAOF) and the
 * dispatchers the keyspace's writers call (a key changed, a db changed, a keyspace event).
 *
 * The hooks live in the engine (engine_t.hooks); a module adds its set once at init.
 */
#ifndef KEEL_EVENTS_H
#define KEEL_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slice.h"

struct engine;
struct client;
struct cmd_def;
struct db;

/* Hooks the transaction and pub/sub modules fill in (WATCH, keyspace events). */
typedef struct exec_hooks {
    void (*key_modified)(struct engine *s, struct db *db, const char *key, size_t klen);
    void (*db_modified)(struct engine *s, int db_id);
    /* Before FLUSHDB/FLUSHALL (with_db -1) or SWAPDB (with_db: the db whose keys take db_id's
     * place): the keys of db_id are about to go or be replaced. */
    void (*db_replacing)(struct engine *s, int db_id, int with_db);
    void (*client_cleanup)(struct client *c);
    void (*unwatch)(struct client *c); /* EXEC/DISCARD/UNWATCH: forget the client's watched keys */
    void (*notify)(struct engine *s, int type, const char *event, const char *key, size_t klen,
                   int db);
    /* Durability tagging (docs/durability.md): the LSN a read must wait for, and the keys a
     * logged write touched. NULL when there is no log. */
    uint64_t (*read_tag)(struct client *c, struct cmd_def *cmd);
    void (*write_logged)(struct client *c, struct cmd_def *cmd, uint64_t lsn);
    /* EXEC, before anything else: false makes it fail like a changed WATCHed key (a watched
     * key expired since WATCH, Valkey 7). */
    bool (*exec_check)(struct client *c);
    /* A command finished (reply tagged): serve clients blocked on keys it gave data (block.c). */
    void (*after_command)(struct client *c);
} exec_hooks_t;
#define ENGINE_HOOKS_MAX 8

void engine_add_hooks(struct engine *e, const exec_hooks_t *h);

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
    NOTIFY_MODULE = 1 << 13,   /* d: accepted and shown as Valkey; Keel loads no modules */
};
/* A key's value changed: invalidates WATCH, records it for durability tagging. */
void srv_key_modified(struct engine *s, struct db *db, const char *key, size_t klen);
/* Every key of a db changed (FLUSHDB, SWAPDB): db id, or -1 for all (FLUSHALL). */
void srv_db_modified(struct engine *s, int db_id);
void srv_db_replacing(struct engine *s, int db_id, int with_db);
void srv_dirty(struct engine *s, uint64_t n);
void srv_notify(struct engine *s, int type, const char *event, const char *key, size_t klen,
                int db);
/* The db hook: a key expired (lazily or actively): log DEL, notify, count. */
void srv_key_expired_cb(void *ctx, struct db *db, const char *key, size_t klen);
/* db_env_t.added while notify-keyspace-events has n: the "new" event. */
void srv_key_added_cb(void *ctx, struct db *db, const char *key, size_t klen);
/* The db hook: fields of a hash expired: log HDEL, notify `hexpired` (and `del`), count. */
void srv_fields_expired_cb(void *ctx, struct db *db, const char *key, size_t klen,
                           const karg_t *fields, size_t n, bool key_gone);

#endif
