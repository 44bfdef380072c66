/* cmd_keys.c - generic key commands. */
#include <string.h>

#include "server/commands/cmd.h"
#include "server/core/exec.h"
#include "server/core/server.h"
#include "server/core/util.h"
#include "server/net/reply.h"

static void
cmd_del(client_t *c)
{
    long long n = 0;
    for (int i = 1; i < c->argc; i++) {
        db_lookup(c->db, c->argv[i].p, c->argv[i].n, DB_LOOKUP_NOTOUCH); /* expire first */
        if (db_delete(c->db, c->argv[i].p, c->argv[i].n)) {
            srv_key_modified(c->srv, c->db, c->argv[i].p, c->argv[i].n);
            srv_notify(c->srv, NOTIFY_GENERIC, "del", c->argv[i].p, c->argv[i].n, c->db_id);
            n++;
        }
    }
    srv_dirty(c->srv, (uint64_t)n);
    reply_int(c, n);
}

static void
cmd_exists(client_t *c)
{
    long long n = 0;
    for (int i = 1; i < c->argc; i++)
        n += db_lookup(c->db, c->argv[i].p, c->argv[i].n, DB_LOOKUP_NOTOUCH) != NULL;
    reply_int(c, n);
}

cmd_def_t cmd_table_keys[] = {
    {"del", cmd_del, -2, CMD_WRITE, 1, -1, 1, "generic", "Deletes one or more keys.", "1.0.0", "O(N) where N is the number of keys that will be removed.", "keyspace write slow"},
    {"exists", cmd_exists, -2, CMD_READONLY | CMD_FAST, 1, -1, 1, "generic", "Determines whether one or more keys exist.", "1.0.0", "O(N) where N is the number of keys to check.", "keyspace read fast"},
    {0},
};
