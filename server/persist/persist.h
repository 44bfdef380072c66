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
/* The epoch history (epochs.c, docs/replication.md). A primary begins a new epoch before its
 * first record after a start or a promotion (persist_set_primary(s, true)); a replica follows
 * its primary's (persist_follow_epoch, before the epoch's first record). */
void persist_set_primary(engine_t *s, bool primary);
/* The epoch of the record at lsn (0 for LSN 0 or a record older than the history kept), and
 * the LSN where that epoch began. */
uint64_t persist_epoch_of(const engine_t *s, uint64_t lsn, uint64_t *first_lsn);
/* The last LSN of epoch in this node's history (UINT64_MAX: the current one); KERR_NOTFOUND
 * when the history does not hold it. */
int persist_epoch_end(const engine_t *s, uint64_t epoch, uint64_t *end_lsn);
/* The records from first_lsn on belong to the primary's epoch (recorded durably first).
 * KERR_INVAL when that does not continue this node's history. */
int persist_follow_epoch(engine_t *s, uint64_t epoch, uint64_t first_lsn);
uint32_t persist_epoch_count(const engine_t *s);
/* The write quorum beyond the local log copies (repl/quorum.c). commit_cb gets the LSN durable
 * on the local quorum and returns the LSN committed (never less than it was); parked replies
 * are released up to it. persist_quorum_replicas: replicas wal-quorum needs beyond the local
 * copies (0: the local copies suffice). persist_poll re-reads the log and the commit and
 * releases replies, persist_fail_parked turns every parked reply into err: both from the
 * event loop only, never inside a command. */
typedef uint64_t (*persist_commit_cb)(engine_t *s, uint64_t local_durable);
void persist_set_commit_cb(engine_t *s, persist_commit_cb cb);
int persist_quorum_replicas(const engine_t *s);
void persist_poll(engine_t *s);
void persist_fail_parked(engine_t *s, const char *err);
/* Full sync: the keyspace becomes the snapshot at tmp_path (a primary's), which replaces every
 * snapshot here; the log starts over after its LSN as the primary's data set: the file's identity,
 * or, in a file of format 1 or 2 that has none, primary_id (the id the primary named, UUID form;
 * NULL: none). */
int persist_adopt_snapshot(engine_t *s, const char *tmp_path, const char *primary_id, char *err,
                           size_t errlen);

#endif
