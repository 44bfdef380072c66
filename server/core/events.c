/* events.c - the engine's hooks and the dispatchers of keyspace changes (see events.h). */
#include "events.h"

#include "engine.h"
#include "kassert.h"
#include "kmem.h"
#include "prop.h"

void
engine_add_hooks(engine_t *e, const exec_hooks_t *h) {
    ASSERT(e->nhooks < ENGINE_HOOKS_MAX);
    e->hooks[e->nhooks++] = *h;
}

void
srv_dirty(engine_t *s, uint64_t n) {
    s->dirty += n;
}

void
srv_key_modified(engine_t *s, db_t *db, const char *key, size_t klen) {
    for (int i = 0; i < s->nhooks; i++)
        if (s->hooks[i].key_modified)
            s->hooks[i].key_modified(s, db, key, klen);
}

void
srv_db_modified(engine_t *s, int db_id) {
    for (int i = 0; i < s->nhooks; i++)
        if (s->hooks[i].db_modified)
            s->hooks[i].db_modified(s, db_id);
}

void
srv_notify(engine_t *s, int type, const char *event, const char *key, size_t klen, int db) {
    if (!(s->cfg.notify_flags & type))
        return;
    for (int i = 0; i < s->nhooks; i++)
        if (s->hooks[i].notify)
            s->hooks[i].notify(s, type, event, key, klen, db);
}

void
srv_db_replacing(engine_t *s, int db_id, int with_db) {
    for (int i = 0; i < s->nhooks; i++)
        if (s->hooks[i].db_replacing)
            s->hooks[i].db_replacing(s, db_id, with_db);
}

void
srv_key_added_cb(void *ctx, db_t *db, const char *key, size_t klen) {
    srv_notify(ctx, NOTIFY_NEW, "new", key, klen, db->id);
}

void
srv_key_expired_cb(void *ctx, db_t *db, const char *key, size_t klen) {
    engine_t *s = ctx;
    karg_t del[2] = {{"DEL", 3}, {key, klen}};
    prop_add_call(&s->prop, db->id, 2,
                  del); /* not prop_add: the running command still logs its call */
    srv_key_modified(s, db, key, klen);
    srv_notify(s, NOTIFY_EXPIRED, "expired", key, klen, db->id);
    s->stats.expired_keys++;
    s->dirty++;
}

void
srv_fields_expired_cb(void *ctx, db_t *db, const char *key, size_t klen, const karg_t *fields,
                      size_t n, bool key_gone) {
    engine_t *s = ctx;
    /* The effect Valkey propagates for a field expiry: HDEL of the fields, which also removes
     * the key on replay when they were its last. */
    karg_t stack[34];
    karg_t *argv = n + 2 <= 34 ? stack : kmalloc((n + 2) * sizeof *argv);
    argv[0] = (karg_t){"HDEL", 4};
    argv[1] = (karg_t){key, klen};
    for (size_t i = 0; i < n; i++)
        argv[i + 2] = fields[i];
    prop_add_call(&s->prop, db->id, (int)(n + 2), argv);
    if (argv != stack)
        kfree(argv);
    srv_key_modified(s, db, key, klen);
    srv_notify(s, NOTIFY_HASH, "hexpired", key, klen, db->id);
    if (key_gone)
        srv_notify(s, NOTIFY_GENERIC, "del", key, klen, db->id);
    s->stats.expired_fields += n;
    s->dirty++;
}
