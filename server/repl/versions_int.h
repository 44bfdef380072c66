/*
 * versions_int.h - format negotiation applied (negotiate.h decides; docs/replication.md, "Versions
 * are negotiated"): what a replica announces, the primary's refusals, and the snapshot file a full
 * sync sends.
 *
 * A full sync sends the newest snapshot when its format is one the replica reads (never newer than
 * the negotiated format), else an export: the keyspace written in the replica's format by a forked
 * child (snapshot_export_start) under a name that is not this node's snapshot, so this node's own
 * newest snapshot, with its identity section and access metadata, stays what recovery loads. The
 * replicas that wait for the same format share one export; its file is removed as soon as it is
 * open, and the descriptor is closed when no replica waits for it any more.
 *
 * A refusal is an error reply starting with "ERR" that names both formats (negotiate.h), sent
 * before the link is closed, a warning in this primary's log, and INFO replication's
 * keel_replicas_refused / keel_replica_last_refusal; the replica logs it and shows it as
 * keel_link_error.
 */
#ifndef KEEL_VERSIONS_INT_H
#define KEEL_VERSIONS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "repl_int.h"
#include "sbuf.h"

/* Replica: the formats its handshake announces, the newest it reads. Test hooks (environment):
 * KEEL_DEBUG_REPL_ANNOUNCE_RECORDS and KEEL_DEBUG_REPL_ANNOUNCE_SNAPSHOT announce those numbers
 * instead, to play an older replica. */
void versions_announce(char *rec, size_t reclen, char *snap, size_t snaplen);

/* Primary, at REPLCONF (when the replica announced a record format) and at PSYNC: the record
 * format of r's stream. false: refused (error sent, the link closes after it). */
bool versions_records(engine_t *s, repl_replica_t *r);
/* Primary, at PSYNC, before +FULLRESYNC: the snapshot format of r's full sync. false: refused. */
bool versions_full_sync(engine_t *s, repl_replica_t *r);
/* Primary, RR_WAIT_SNAPSHOT: 1 with *fd (open, the caller closes it) and *lsn of a snapshot in a
 * format r reads, at or after r->snap_min_lsn; 0 while one is being made; -1 when r was refused
 * or its link closes. */
int versions_snapshot_fd(engine_t *s, repl_replica_t *r, int *fd, uint64_t *lsn);
/* Primary: r goes away (an export nobody waits for is dropped). */
void versions_forget(engine_t *s, repl_replica_t *r);

/* INFO replication: the refusals (both roles); the end of a slaveN line (formats negotiated). */
void versions_info(engine_t *s, sbuf_t *b);
void versions_info_slave(const repl_replica_t *r, sbuf_t *b);

#endif
