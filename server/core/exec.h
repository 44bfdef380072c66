/*
 * exec.h - running one command: lookup, checks, MULTI queueing, the call, effects, reply tag.
 *
 * exec_command(c) is the single entry from the network layer. The order of checks follows
 * Valkey's processCommand so that clients see the same error for the same mistake:
 *   unknown command -> arity -> NOAUTH -> ACL (NOPERM) -> subscriber context -> MULTI queueing
 *   -> OOM -> log failed (writes) -> call. EXEC checks the ACL again for each queued command.
 */
#ifndef KEEL_EXEC_H
#define KEEL_EXEC_H

#include <stdbool.h>

#include "cmd.h"
#include "client.h"
#include "engine.h"
#include "events.h"

void exec_command(client_t *c);
/* Run cmd with c->argc/argv now, inside the current effect scope; updates stats. */
void exec_call(client_t *c, cmd_def_t *cmd);
/* The durability tag a read by c of cmd (its argv now) must wait for: 0 when nothing it read is
 * uncommitted. EXEC and scripts raise their reply's tag to it after each command they run. */
uint64_t exec_read_tag(client_t *c, cmd_def_t *cmd);

/* Transactions (exec.c): MULTI, EXEC, DISCARD are in the conn table. */
void cmd_multi(client_t *c);
void cmd_exec(client_t *c);
void cmd_discard(client_t *c);


/* The net layer's callbacks (net_callbacks_t), with the engine as ctx: a connection becomes a
 * client, a parsed command is executed, a closed connection's client is freed. */
conn_t *exec_accept_cb(void *engine, int fd);
void exec_command_cb(conn_t *conn, int argc, karg_t *argv);
/* On an I/O thread, for a command parsed ahead: its entry in the command table (read only). */
void *exec_prepare_cb(void *ctx, int argc, const karg_t *argv, int *key_idx, uint64_t *key_hash);
/* Before a client's commands parsed ahead run: their first keys' buckets into the cache. */
void exec_prefetch_cb(conn_t *conn, uint64_t key_hash);
void exec_close_cb(conn_t *conn);

#endif
