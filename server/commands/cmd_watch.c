/* cmd_watch.c - WATCH and UNWATCH (MULTI, EXEC, DISCARD live in core/exec.c). */
#include "cmd.h"
#include "watch.h"
#include "reply.h"

static void
cmd_watch(client_t *c) {
    if (c->flags & CLIENT_MULTI) {
        reply_err(c, "ERR WATCH inside MULTI is not allowed");
        return;
    }
    /* Valkey: once a watched key changed, EXEC fails anyway; watching more changes nothing. */
    if (!(c->flags & CLIENT_DIRTY_CAS))
        for (int i = 1; i < c->argc; i++)
            watch_key(c, c->argv[i].p, c->argv[i].n);
    reply_ok(c);
}

static void
cmd_unwatch(client_t *c) {
    watch_unwatch_all(c);
    c->flags &= ~CLIENT_DIRTY_CAS;
    reply_ok(c);
}

cmd_def_t cmd_table_watch[] = {
    {"watch", cmd_watch, -2,
     CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST | CMD_ALLOW_BUSY | CMD_NO_MULTI, 1, -1, 1,
     "transactions", "Monitors changes to keys to determine the execution of a transaction.",
     "2.2.0", "O(1) for every key.", "fast transaction"},
    {"unwatch", cmd_unwatch, 1, CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST | CMD_ALLOW_BUSY,
     0, 0, 0, "transactions", "Forgets about watched keys of a transaction.", "2.2.0", "O(1)",
     "fast transaction"},
    {0},
};
