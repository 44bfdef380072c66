/*
 * negotiate.h - which formats a primary sends a replica (docs/replication.md, invariant 5:
 * "Versions are negotiated, never guessed").
 *
 * Pure: numbers in, a decision or an error text out. No I/O, no engine, no clock, so every pair
 * of versions can be tested (tests/unit/test_repl_negotiate.c); versions.c applies the decision.
 *
 * A replica announces the newest log record format and the newest snapshot format it reads
 * (REPLCONF keel-version V records N snapshot N); a reader of format N reads every format from 1
 * to N (docs/formats/). A format it did not announce (a pre-Keel or very old client, or a
 * REPLCONF without that field) is taken as 1, the oldest.
 *
 * Decisions:
 *   records   the newest format both sides know: min(replica's, newest the primary sends); refused
 *             when that is below the oldest the primary can send (records go as they are on disk:
 *             today the primary sends one format, REPL_RECORD_FORMAT).
 *   snapshot  a full sync's snapshot format: the newest the replica reads, never newer, and at
 *             most the newest the primary writes; refused when the primary cannot write a format
 *             that old, or when the data set needs a newer one (a type or encoding an older format
 *             cannot hold: today every key fits format 1, the writer down-converts; a failed
 *             conversion tells the primary otherwise).
 * An error text starts with "ERR" and names the format needed and the one the replica reads.
 */
#ifndef KEEL_NEGOTIATE_H
#define KEEL_NEGOTIATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NEGOT_ERR_MAX 400 /* room for any error text below, with a long keel-version */

/* What the primary can send. */
typedef struct negot_primary {
    uint32_t record_min, record_max; /* log record formats it can stream */
    uint32_t snap_min, snap_max;     /* snapshot formats its writer produces */
    uint32_t data_snap_min;          /* oldest snapshot format holding the data (0: snap_min) */
} negot_primary_t;

/* What the replica announced. */
typedef struct negot_replica {
    const char *version;                /* its keel-version; NULL or "": none announced */
    bool records_known, snapshot_known; /* the field was announced */
    uint32_t records, snapshot;         /* newest formats it reads, when announced */
} negot_replica_t;

/* The record format to stream into *fmt: 0, or KERR_VERSION with the refusal in err. */
int negot_records(const negot_primary_t *p, const negot_replica_t *r, uint32_t *fmt, char *err,
                  size_t errlen);

/* The snapshot format of a full sync into *fmt: 0, or KERR_VERSION with the refusal in err. */
int negot_snapshot(const negot_primary_t *p, const negot_replica_t *r, uint32_t *fmt, char *err,
                   size_t errlen);

/* Whether a snapshot file written as `version` (loadable from `min_reader` on) may go to a
 * replica whose full sync was given format fmt: never a file newer than that. */
bool negot_file_fits(uint32_t fmt, uint32_t version, uint32_t min_reader);

#endif
