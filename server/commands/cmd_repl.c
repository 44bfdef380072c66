/* cmd_repl.c - replication commands: REPLICAOF/SLAVEOF, ROLE, REPLCONF, PSYNC, WAIT (repl/). */
#include "commands.h"
#include "repl.h"

static void
cmd_replicaof(client_t *c) {
    repl_cmd_replicaof(c);
}

static void
cmd_role(client_t *c) {
    repl_cmd_role(c);
}

static void
cmd_replconf(client_t *c) {
    repl_cmd_replconf(c);
}

static void
cmd_psync(client_t *c) {
    repl_cmd_psync(c);
}

static void
cmd_wait(client_t *c) {
    repl_cmd_wait(c);
}

cmd_def_t cmd_table_repl[] = {
    /* Allowed in MULTI: Sentinel sends MULTI, SLAVEOF, CONFIG REWRITE, CLIENT KILL..., EXEC. */
    {"replicaof", cmd_replicaof, 3, CMD_ADMIN | CMD_NOSCRIPT | CMD_STALE, 0, 0, 0, "server",
     "Configures a server as replica of another, or promotes it to a master.", "5.0.0", "O(1)",
     "admin slow dangerous"},
    {"slaveof", cmd_replicaof, 3, CMD_ADMIN | CMD_NOSCRIPT | CMD_STALE, 0, 0, 0, "server",
     "Sets a Redis server as a replica of another, or promotes it to being a master.", "1.0.0",
     "O(1)", "admin slow dangerous"},
    {"role", cmd_role, 1, CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST, 0, 0, 0, "server",
     "Returns the replication role.", "2.8.12", "O(1)", "admin fast dangerous"},
    {"replconf", cmd_replconf, -1, CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, 0, 0, 0,
     "server", "An internal command for configuring the replication stream.", "3.0.0", "O(1)",
     "admin slow dangerous"},
    {"psync", cmd_psync, -3, CMD_ADMIN | CMD_NOSCRIPT | CMD_NO_MULTI, 0, 0, 0, "server",
     "An internal command used in replication.", "2.8.0", "O(1)", "admin slow dangerous"},
    {"wait", cmd_wait, 3, CMD_NOSCRIPT, 0, 0, 0, "generic",
     "Blocks until the asynchronous replication of all preceding write commands sent by the "
     "connection is completed.",
     "3.0.0", "O(1)", "slow connection"},
    {0},
};
