/*
 * cmd_expire.c - key expiry commands: EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (NX XX GT LT), TTL,
 * PTTL, EXPIRETIME, PEXPIRETIME, PERSIST.
 *
 * Semantics follow Valkey 8 (expire.c there). A relative expiry depends on the clock, so the
 * EXPIRE family never logs its own call: it logs the effect, `PEXPIREAT key <absolute ms>`, or
 * `DEL key` when the time is already past (the key is deleted at once, as Valkey does). Replaying
 * those effects gives the same keyspace whenever the replay runs. While the server is loading
 * (replaying), a past time sets the expiry instead of deleting: the log itself holds the DEL of
 * every expiry that really happened, and replay must not invent others.
 */
#include <limits.h>
#include <string.h>

#include "cmd.h"
#include "cmd_util.h"
#include "exec.h"
#include "prop.h"
#include "engine.h"
#include "util.h"
#include "reply.h"

/* The absolute expiry in ms from argv[2]: basetime + value (seconds when `seconds`). Replies
 * and returns false on a bad number or an overflow. */
static bool
expire_when(client_t *c, const char *name, int64_t basetime, bool seconds, long long *when) {
    if (!util_parse_ll(c->argv[2].p, c->argv[2].n, when)) {
        reply_err(c, ERR_NOT_INT);
        return false;
    }
    if (seconds) {
        if (*when > LLONG_MAX / 1000 || *when < LLONG_MIN / 1000)
            goto overflow;
        *when *= 1000;
    }
    if (*when > LLONG_MAX - basetime)
        goto overflow;
    *when += basetime;
    return true;
overflow:
    reply_errf(c, "ERR invalid expire time in '%s' command", name);
    return false;
}

static void
expire_generic(client_t *c, const char *name, int64_t basetime, bool seconds) {
    int flags;
    long long when;
    if (cmd_expire_cond_parse(c, 3, c->argc, &flags) < 0 ||
        !expire_when(c, name, basetime, seconds, &when))
        return;
    const karg_t *key = &c->argv[1];
    kobj_t *o = db_lookup(c->db, key->p, key->n, 0);
    if (!o || !cmd_expire_cond_allows(flags, obj_expire(o), when)) {
        reply_int(c, 0);
        return;
    }
    if (when <= db_now_ms(&c->eng->dbenv) && !c->eng->loading) {
        db_delete(c->db, key->p, key->n);
        karg_t del[2] = {{"DEL", 3}, {key->p, key->n}};
        prop_add(&c->eng->prop, c->db_id, 2, del);
        srv_key_modified(c->eng, c->db, key->p, key->n);
        srv_notify(c->eng, NOTIFY_GENERIC, "del", key->p, key->n, c->db_id);
        srv_dirty(c->eng, 1);
        reply_int(c, 1);
        return;
    }
    if (when < 0)
        when = 0; /* loading only: a negative expiry cannot be stored (-1 means none) */
    db_set_expire(c->db, o, when);
    char num[UTIL_LL_STR_MAX];
    karg_t eff[3] = {{"PEXPIREAT", 9}, {key->p, key->n}, {num, 0}};
    eff[2].n = (size_t)util_ll2str(num, sizeof num, when);
    prop_add(&c->eng->prop, c->db_id, 3, eff);
    srv_key_modified(c->eng, c->db, key->p, key->n);
    srv_notify(c->eng, NOTIFY_GENERIC, "expire", key->p, key->n, c->db_id);
    srv_dirty(c->eng, 1);
    reply_int(c, 1);
}

static void
cmd_expire(client_t *c) {
    expire_generic(c, "expire", db_now_ms(&c->eng->dbenv), true);
}

static void
cmd_pexpire(client_t *c) {
    expire_generic(c, "pexpire", db_now_ms(&c->eng->dbenv), false);
}

static void
cmd_expireat(client_t *c) {
    expire_generic(c, "expireat", 0, true);
}

static void
cmd_pexpireat(client_t *c) {
    expire_generic(c, "pexpireat", 0, false);
}

/* TTL family: -2 no key, -1 no expiry; relative values never go below 0; seconds round to the
 * nearest second as Valkey's (ms + 500) / 1000. */
static void
ttl_generic(client_t *c, bool ms, bool absolute) {
    kobj_t *o = db_lookup(c->db, c->argv[1].p, c->argv[1].n, DB_LOOKUP_NOTOUCH);
    if (!o) {
        reply_int(c, -2);
        return;
    }
    int64_t e = obj_expire(o);
    if (e < 0) {
        reply_int(c, -1);
        return;
    }
    int64_t v = e;
    if (!absolute) {
        v = e - db_now_ms(&c->eng->dbenv);
        if (v < 0)
            v = 0;
    }
    reply_int(c, ms ? v : (v + 500) / 1000);
}

static void
cmd_ttl(client_t *c) {
    ttl_generic(c, false, false);
}

static void
cmd_pttl(client_t *c) {
    ttl_generic(c, true, false);
}

static void
cmd_expiretime(client_t *c) {
    ttl_generic(c, false, true);
}

static void
cmd_pexpiretime(client_t *c) {
    ttl_generic(c, true, true);
}

/* PERSIST is deterministic (it removes whatever expiry there is): logged as called. */
static void
cmd_persist(client_t *c) {
    const karg_t *key = &c->argv[1];
    kobj_t *o = db_lookup(c->db, key->p, key->n, 0);
    if (!o || !obj_has_expire(o)) {
        reply_int(c, 0);
        return;
    }
    db_set_expire(c->db, o, -1);
    srv_key_modified(c->eng, c->db, key->p, key->n);
    srv_notify(c->eng, NOTIFY_GENERIC, "persist", key->p, key->n, c->db_id);
    srv_dirty(c->eng, 1);
    reply_int(c, 1);
}

/* clang-format off */
cmd_def_t cmd_table_expire[] = {
    {"expire", cmd_expire, -3, CMD_WRITE | CMD_FAST, 1, 1, 1, "generic", "Sets the expiration time of a key in seconds.", "1.0.0", "O(1)", "keyspace write fast"},
    {"pexpire", cmd_pexpire, -3, CMD_WRITE | CMD_FAST, 1, 1, 1, "generic", "Sets the expiration time of a key in milliseconds.", "2.6.0", "O(1)", "keyspace write fast"},
    {"expireat", cmd_expireat, -3, CMD_WRITE | CMD_FAST, 1, 1, 1, "generic", "Sets the expiration time of a key to a Unix timestamp.", "1.2.0", "O(1)", "keyspace write fast"},
    {"pexpireat", cmd_pexpireat, -3, CMD_WRITE | CMD_FAST, 1, 1, 1, "generic", "Sets the expiration time of a key to a Unix milliseconds timestamp.", "2.6.0", "O(1)", "keyspace write fast"},
    {"ttl", cmd_ttl, 2, CMD_READONLY | CMD_FAST, 1, 1, 1, "generic", "Returns the expiration time in seconds of a key.", "1.0.0", "O(1)", "keyspace read fast"},
    {"pttl", cmd_pttl, 2, CMD_READONLY | CMD_FAST, 1, 1, 1, "generic", "Returns the expiration time in milliseconds of a key.", "2.6.0", "O(1)", "keyspace read fast"},
    {"expiretime", cmd_expiretime, 2, CMD_READONLY | CMD_FAST, 1, 1, 1, "generic", "Returns the expiration time of a key as a Unix timestamp.", "7.0.0", "O(1)", "keyspace read fast"},
    {"pexpiretime", cmd_pexpiretime, 2, CMD_READONLY | CMD_FAST, 1, 1, 1, "generic", "Returns the expiration time of a key as a Unix milliseconds timestamp.", "7.0.0", "O(1)", "keyspace read fast"},
    {"persist", cmd_persist, 2, CMD_WRITE | CMD_FAST, 1, 1, 1, "generic", "Removes the expiration time of a key.", "2.2.0", "O(1)", "keyspace write fast"},
    {0},
};
/* clang-format on */
