/*
 * persist.h - the server side of durability: opening the log, recovery at start, connecting
 * effect records to the log, releasing parked replies, snapshots. Everything the server does with
 * wal/ and snapshot/ goes through here, so server.c only calls these five functions (and the
 * WAITAOF command calls persist_waitaof). docs/durability.md says what each mode promises.
 *
 * Recovery order (persist_start): load the newest snapshot (its LSN, 0 without one), then replay
 * the log records after that LSN, then open the log for appending after the last one.
 */
#ifndef KEEL_PERSIST_H
#define KEEL_PERSIST_H

#include <stdbool.h>

#include <stdint.h>

#include "sbuf.h"
#include "engine.h"

typedef struct persist_state persist_t;

/* The persistence state of s (s->persist), idle: what the snapshot and replay functions need
 * (keel-restore, tests). persist_start makes it too. */
void persist_create(engine_t *s);
int persist_start(engine_t *s);         /* recover (snapshot + log), open the log */
void persist_stop(engine_t *s);         /* flush and close the log */
void persist_cron(engine_t *s);         /* periodic: async sync, WAITAOF timeouts */
void persist_before_sleep(engine_t *s); /* submit the turn's records, release parked replies */
/* Mid-turn: the log made more writes durable; true when replies were released (the caller
 * then writes them out at once). */
bool persist_after_event(engine_t *s);

/* INFO sections owned by persistence: "persistence", "wal", "snapshot". Appends the section body
 * (without the "# Title" line) or nothing when the section is not persistence's. */
void persist_info(engine_t *s, const char *section, sbuf_t *b);

/* WAITAOF numlocal numreplicas timeout_ms (arguments already validated): replies
 * [numlocal_acked, numreplicas_acked] at once when the client's earlier writes are durable (or
 * it may not block), else blocks the client until they are or the timeout (0 = none) passes. */
void persist_waitaof(client_t *c, long numlocal, long numreplicas, int64_t timeout_ms);

/* ---- for replication (replica_io.c) ---- */

/* The log copy a primary streams from, and the archive of retired segments. */
const char *persist_log_dir(const engine_t *s);
void persist_archive_dir(const engine_t *s, char *buf, size_t len);
/* The data set's id (16 bytes; all zero: unknown). */
const uint8_t *persist_dataset_id(const engine_t *s);
/* A record received from the primary, logged under its own LSN (which must be the next one):
 * returns the LSN, or < 0 (KERR_INVAL for a gap, the log's error otherwise). */
int64_t persist_append_replicated(engine_t *s, uint64_t lsn, int64_t ts_ms, uint32_t db,
                                  const void *payload, size_t len);
/* Full sync: the keyspace becomes the snapshot at tmp_path (a primary's), which replaces every
 * snapshot here; the log starts over after its LSN as the primary's data set: the file's identity,
 * or, in a file of format 1 or 2 that has none, primary_id (the id the primary named, UUID form;
 * NULL: none). */
int persist_adopt_snapshot(engine_t *s, const char *tmp_path, const char *primary_id, char *err,
                           size_t errlen);

#endif
