/*
 * repl.h - replication: the log streamed by LSN (docs/replication.md).
 *
 * A primary serves replicas from its log files: a replica asks for its next LSN (PSYNC); when
 * the log (live or archive) still holds it, the primary streams records from there, else it
 * sends its newest snapshot file and then the records after it (a full sync). Only records that
 * are durable on the primary are sent, so a replica never holds a write the primary could lose.
 * A replica logs each record under the same LSN in its own log, applies it, and acknowledges the
 * LSN its own log made durable (REPLCONF ACK).
 *
 * Everything runs on the main thread: the primary's side in repl_before_sleep (feeding each
 * replica's connection up to an output budget), the replica's side in its link's callbacks.
 */
#ifndef KEEL_REPL_H
#define KEEL_REPL_H

#include <stdbool.h>
#include <stdint.h>

#include "client.h"
#include "engine.h"
#include "sbuf.h"

/* The stream's record encoding (RECORD lsn ts db crc payload): a replica announces the newest it
 * reads, a primary refuses a replica that reads none it can send. */
#define REPL_RECORD_FORMAT 1

/* After persistence started: state, hooks; connects to cfg.replicaof when set. */
int repl_start(engine_t *s);
void repl_stop(engine_t *s);
void repl_cron(engine_t *s);                  /* reconnects, pings, timeouts */
void repl_before_sleep(engine_t *s);          /* feed replicas, acknowledge, serve WAIT */
void repl_info(engine_t *s, sbuf_t *b);       /* INFO replication */
void repl_info_stats(engine_t *s, sbuf_t *b); /* sync_full, sync_partial_ok, sync_partial_err */
int repl_kill_primary_link(engine_t *s);      /* CLIENT KILL TYPE master: 1 if a link was cut */

/* Commands (commands/cmd_repl.c). */
void repl_cmd_replicaof(client_t *c); /* REPLICAOF host port | NO ONE (and SLAVEOF) */
void repl_cmd_role(client_t *c);
void repl_cmd_replconf(client_t *c);
void repl_cmd_psync(client_t *c);
void repl_cmd_wait(client_t *c); /* WAIT numreplicas timeout */

#endif
