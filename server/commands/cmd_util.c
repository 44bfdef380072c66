/* cmd_util.c - helpers the command groups share (see cmd_util.h). */
#include "server/commands/cmd_util.h"

#include "server/core/exec.h"
#include "server/core/server.h"
#include "server/core/util.h"
#include "server/net/reply.h"

kobj_t *
cmd_lookup_read(client_t *c, const karg_t *key)
{
    kobj_t *o = db_lookup(c->db, key->p, key->n,
                          (c->flags & CLIENT_NO_TOUCH) ? DB_LOOKUP_NOTOUCH : 0);
    if (o) {
        c->srv->stats.keyspace_hits++;
    } else {
        c->srv->stats.keyspace_misses++;
        srv_notify(c->srv, NOTIFY_KEY_MISS, "keymiss", key->p, key->n, c->db_id);
    }
    return o;
}

kobj_t *
cmd_lookup_read_type(client_t *c, const karg_t *key, int type, bool *bad)
{
    kobj_t *o = db_lookup(c->db, key->p, key->n, 0);
    *bad = false;
    if (!o) {
        c->srv->stats.keyspace_misses++;
        return NULL;
    }
    c->srv->stats.keyspace_hits++;
    if (obj_type(o) != type) {
        reply_err(c, ERR_WRONGTYPE);
        *bad = true;
        return NULL;
    }
    return o;
}

bool
cmd_parse_cursor(const karg_t *a, unsigned long long *cursor)
{
    bool neg = a->n > 1 && a->p[0] == '-';
    bool pos = a->n > 1 && a->p[0] == '+';
    if (!util_parse_ull(a->p + (neg || pos), a->n - (neg || pos), cursor))
        return false;
    if (neg)
        *cursor = 0 - *cursor;
    return true;
}
