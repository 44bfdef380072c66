/*
 * block.h - clients blocked on keys (BLPOP, BLMOVE, BLMPOP, BZPOPMIN, BZMPOP, ...).
 *
 * How a blocking command uses it (the whole protocol for a command author):
 *
 *   1. Parse the arguments, including the timeout with block_parse_timeout().
 *   2. Try to serve from the keys. If one has data: pop, reply, log the non-blocking form with
 *      prop_add (BLPOP -> LPOP key, BLMOVE -> LMOVE ...), return.
 *   3. No data: if block_allowed(c) is false (inside MULTI/EXEC, a fake client, the log refuses
 *      writes) reply the timeout reply at once, as Valkey does; else call block_for_keys() and
 *      return without replying.
 *
 * What happens then (the "try to serve" step is the command itself):
 *
 *   - The client is CLIENT_BLOCKED: net.c parses none of its further input. Its arguments are
 *     saved here, and it waits in a FIFO queue per (db, key), once per distinct key.
 *   - Every change to a key goes through srv_key_modified(), which this module hooks: a key that
 *     has waiters becomes "ready" (block_signal_key_ready() does the same explicitly; SWAPDB and
 *     FLUSHALL make every waited key of the db ready).
 *   - After the command that made keys ready ends (after EXEC for a transaction, never inside
 *     it), and before any further command runs, each ready key's waiters are tried in arrival
 *     order. A waiter whose key now holds a value of the type it waits for (OBJ_LIST, OBJ_ZSET)
 *     is unblocked and its command is run again from the saved arguments, through the normal
 *     execution path (its own effect scope, log record and reply tag). It finds the data, serves
 *     itself and replies; if the data is gone it blocks again, at the tail. Data pushed by a
 *     served command (BLMOVE's destination) makes that key ready in turn, in the same round.
 *   - The deadline (absolute unix ms, 0 = none) is checked before the event loop sleeps; on
 *     expiry the client is unblocked and `on_timeout` writes its reply (a null of the right
 *     kind). Input the client queued meanwhile is processed after it is unblocked.
 *   - A blocked client that disconnects or is killed leaves every queue (exec cleanup hook); one
 *     marked to close is never served, so no popped element is lost to a dying connection.
 *
 * Threading: main thread only. State is module-wide (one server per process).
 */
#ifndef KEEL_BLOCK_H
#define KEEL_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client.h"
#include "db.h"
#include "engine.h"
#include "object.h"

/* Writes the reply of a blocked command whose deadline passed (or CLIENT UNBLOCK ... TIMEOUT). */
typedef void (*block_timeout_cb)(client_t *c);

/* Keys one client may wait on at once (BLPOP k1 ... kN): more is refused with an error. */
#define BLOCK_KEYS_MAX 65536

/* Registers the hooks (key changes, cleanup, after-command). Called once from server_init(). */
void block_init(engine_t *s);

/* Parses a timeout in (fractional) seconds into an absolute deadline in unix ms, 0 = forever.
 * On bad input replies Valkey's error ("ERR timeout is not a float or out of range",
 * "ERR timeout is negative", "ERR timeout is out of range") and returns KERR_INVAL. */
int block_parse_timeout(client_t *c, const karg_t *arg, int64_t *deadline_ms);

/* Whether a blocking command running now may block (see step 3 above). */
bool block_allowed(const client_t *c);

/* A waiter's own test, instead of a type, of whether its command should run again now that its
 * key changed: o is the key's value (NULL when absent or expired), argv the saved arguments. It
 * must not change anything. XREAD waits for entries after its ID, XREADGROUP for entries after
 * its group's last ID or for the stream or group to go (then the re-run answers the error). */
typedef bool (*block_ready_cb)(const kobj_t *o, const char *key, size_t klen, int argc,
                               const karg_t *argv);

/* block_for_keys() with a readiness test instead of a type. */
void block_for_keys_when(client_t *c, const karg_t *keys, int nkeys, block_ready_cb ready,
                         int64_t deadline_ms, block_timeout_cb on_timeout);

/* Blocks c on nkeys keys of c->db (duplicates are ignored) until one holds a value of `type`
 * or deadline_ms passes. c->argv is copied. The command must not reply after this. */
void block_for_keys(client_t *c, const karg_t *keys, int nkeys, int type, int64_t deadline_ms,
                    block_timeout_cb on_timeout);


/* Event-loop step: expires deadlines, serves ready keys, resumes the input of unblocked clients.
 * Called from the server's before-sleep hook. */
void block_before_sleep(engine_t *s);

/* CLIENT UNBLOCK: unblocks c with its timeout reply, or with_error with
 * "-UNBLOCKED client unblocked via CLIENT UNBLOCK". Returns false when c is not blocked. */
bool block_unblock_client(client_t *c, bool with_error);
/* The earliest deadline of a blocked client (unix ms), 0 when none: the event loop must wake by
 * then, so that a 0.1 s timeout is not served at the next 100 ms cron tick. */
int64_t block_next_deadline_ms(engine_t *eng);

/* Counts for INFO: blocked clients, distinct keys with waiters. */
size_t block_clients_count(engine_t *eng);
size_t block_keys_count(engine_t *eng);

#endif
