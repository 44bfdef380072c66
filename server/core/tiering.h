/*
 * tiering.h - the value tier inside the engine (docs/tiering.md section 8): values (strings as
 * their bytes, collections in object.h's value encoding) go out to the tier (tiering/tier.h)
 * when used memory is above tiering-memory-target and are
 * replaced by stubs (object.h, OBJ_ENC_TIERED); a command that needs a tiered value parks its
 * client until the value is back, then runs again from the start.
 *
 * The tier is never a source of truth: a value becomes a stub only after the tier's put result
 * arrived with status 0, the log and snapshots hold every value (snapshots read stubs' values
 * from a checkpoint of the tier), and the tier is wiped at every start.
 *
 * Threading: main thread only, except the stub free hook (any thread, see tiering.c).
 */
#ifndef KEEL_TIERING_H
#define KEEL_TIERING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cmd.h"
#include "engine.h"
#include "sbuf.h"

/* Open the tier when `tiering yes` (before recovery: the tier is wiped at open, and values go out
 * while the data set loads), watch its eventfd in s->loop, add the hooks. 0 when tiering is off
 * or opened; on failure err says why. */
int tiering_start(engine_t *s, char *err, size_t errlen);
/* Close the tier at shutdown: queued ops are cancelled, results still due are delivered (a
 * value coming back still lands in its key), nothing goes out any more. */
void tiering_stop(engine_t *s);
/* From the cron: values go out while used memory is above the target; queued deletes. */
void tiering_cron(engine_t *s);
/* Before the loop sleeps: clients whose fetches are back run again. */
void tiering_before_sleep(engine_t *s);

/* Loading (the snapshot loader between batches, the log's replay between records; never inside
 * a command): values go out while used memory is above the going-out goal (the target, or just
 * below maxmemory), and the caller waits for the put results while memory is more than a slack
 * above it, so a data set larger than memory loads with memory near the goal. */
void tiering_load_pressure(engine_t *s);
/* evict_perform, before it deletes keys (not inside a command): values go out, the caller
 * waiting for the put results (at most 500 ms), until used memory is at most limit. 0 when it
 * is; <0 when the tier cannot get there (off, recalling, a put failed, nothing left to send
 * out, too slow): eviction applies. */
int tiering_make_room(engine_t *s, size_t limit);

/* exec_command, before the command runs: when a key it needs holds a stub, fetch it and park
 * the client (true: the command did not run; it runs again when its values are back, or gets
 * -ERR tiering: ... when a fetch failed). False: run it now. */
bool tiering_park_if_needed(client_t *c, cmd_def_t *cmd);
/* exec_call, for clients that cannot park (the replica's stream, commands inside EXEC after a
 * SELECT or SWAPDB): fetch synchronously. False when a fetch failed: an error was replied and
 * the command must not run. */
bool tiering_fetch_now(client_t *c, cmd_def_t *cmd);
/* A command found stub o under a key it reads without declaring it (SORT's BY and GET
 * patterns), so it could not park: fetch the value while the caller waits. 0: look the key up
 * again (the value is back, or the key changed meanwhile); <0: the fetch failed. */
int tiering_fetch_stub_now(engine_t *s, db_t *db, kobj_t *o);

/* Snapshots (persist/snapshot_save.c). Before a fork (or a foreground SAVE): a checkpoint of the
 * tier and a reader on it, so the writer can read every stub's value. After the fork the parent
 * calls tiering_snapshot_forked (closes its copy of the reader); when the child is reaped, or
 * the SAVE is done, tiering_snapshot_done removes the checkpoint. */
int tiering_snapshot_prepare(engine_t *s, uint64_t lsn, char *err, size_t errlen);
void tiering_snapshot_forked(engine_t *s);
void tiering_snapshot_done(engine_t *s);
/* The value of stub o from the snapshot's reader: kmalloc'd (caller kfree()s), or an error. */
int tiering_snapshot_value(engine_t *s, const kobj_t *o, void **val, size_t *len, char *err,
                           size_t errlen);

/* INFO tiering; CONFIG RESETSTAT. */
void tiering_info(engine_t *s, sbuf_t *b);
void tiering_reset_stats(engine_t *s);
/* DEBUG TIERING-FAULT name value: put-error, get-error (0/1: the tier's ops fail with EIO),
 * put-delay-ms, get-delay-ms (each put or get waits that long on its worker first),
 * checkpoint-error (0/1: a snapshot's checkpoint fails, which starts the recall). KERR_INVAL for another name. */
int tiering_debug_fault(engine_t *s, const char *name, long long value);

#endif
