/* cmd_persist.c - durability commands: WAITAOF (Redis 7.2). The work is in core/durable.c. */
#include "cmd.h"
#include "persist.h"
#include "util.h"
#include "reply.h"

/* WAITAOF numlocal numreplicas timeout: [numlocal_acked, numreplicas_acked] once the caller's
 * earlier writes are durable in the local log (numlocal 1) and on numreplicas replicas (none
 * exist yet: such a call waits for its timeout and reports 0). Errors as Redis 7.2. */
static void
cmd_waitaof(client_t *c) {
    long long numlocal, numreplicas, timeout;
    if (!util_parse_ll(c->argv[1].p, c->argv[1].n, &numlocal) ||
        !util_parse_ll(c->argv[2].p, c->argv[2].n, &numreplicas)) {
        reply_err(c, ERR_NOT_INT);
        return;
    }
    if (numlocal < 0 || numlocal > 1) {
        reply_err(c, "ERR value is out of range, value must between 0 and 1");
        return;
    }
    if (numreplicas < 0) {
        reply_err(c, "ERR value is out of range, must be positive");
        return;
    }
    if (!util_parse_ll(c->argv[3].p, c->argv[3].n, &timeout)) {
        reply_err(c, "ERR timeout is not an integer or out of range");
        return;
    }
    if (timeout < 0) {
        reply_err(c, "ERR timeout is negative");
        return;
    }
    persist_waitaof(c, (long)numlocal, (long)numreplicas, (int64_t)timeout);
}

cmd_def_t cmd_table_persist[] = {
    {"waitaof", cmd_waitaof, 4, CMD_NOSCRIPT, 0, 0, 0, "generic",
     "Blocks until all of the preceding write commands sent by the connection are written to "
     "the append-only file of the master and/or replicas.",
     "7.2.0", "O(1)", "slow connection"},
    {0},
};
