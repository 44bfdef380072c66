/* cmd_string.c - string commands. */
#include <string.h>

#include "server/commands/cmd.h"
#include "server/core/exec.h"
#include "server/core/server.h"
#include "server/core/util.h"
#include "server/net/reply.h"

static void
cmd_get(client_t *c)
{
    kobj_t *o = db_lookup(c->db, c->argv[1].p, c->argv[1].n, 0);
    if (!o) {
        c->srv->stats.keyspace_misses++;
        reply_null(c);
        return;
    }
    c->srv->stats.keyspace_hits++;
    if (obj_type(o) != OBJ_STRING) {
        reply_err(c, ERR_WRONGTYPE);
        return;
    }
    size_t n;
    const char *v = obj_str(o, &n);
    reply_bulk(c, v, n);
}

static void
cmd_set(client_t *c)
{
    kobj_t *o = obj_new_str(c->argv[1].p, c->argv[1].n, c->argv[2].p, c->argv[2].n, -1);
    db_set(c->db, o, false);
    srv_key_modified(c->srv, c->db, c->argv[1].p, c->argv[1].n);
    srv_dirty(c->srv, 1);
    reply_ok(c);
}

cmd_def_t cmd_table_string[] = {
    {"get", cmd_get, 2, CMD_READONLY | CMD_FAST, 1, 1, 1, "string", "Returns the string value of a key.", "1.0.0", "O(1)", "read string fast"},
    {"set", cmd_set, -3, CMD_WRITE | CMD_DENYOOM, 1, 1, 1, "string", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", "1.0.0", "O(1)", "write string slow"},
    {0},
};
