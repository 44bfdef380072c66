/* cmd_util.c - helpers the command groups share (see cmd_util.h). */
#include "server/commands/cmd_util.h"

#include "server/core/exec.h"
#include "server/core/server.h"

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
