/*
 * snapshot_glue.h - the server side of snapshots: SAVE/BGSAVE (a forked child whose threads
 * write the keyspace through snapshot/), loading the newest valid snapshot at start, retention of
 * snapshots and of the log after a snapshot, and the INFO fields. snapshot/ knows nothing about
 * the server; this is where keys become records and records become keys again.
 *
 * Files (all under the data directory `dir`):
 *   <dir>/snapshots/snap-<LSN, 20 digits>.ksnap  a snapshot holding every effect up to that LSN
 *   <dir>/snapshots/<name>.tmp                     a snapshot being written (removed at start)
 *   <dir>/wal-archive/wal-*.log                   log segments retired from the live log and kept
 *                                                 for point-in-time restore (wal-retention)
 *
 * Split by concern: snapshot_glue.c (state, listing, retention, INFO, cron), snapshot_save.c
 * (writing the keyspace, BGSAVE's fork), snapshot_load.c (parallel loading). docs/restore.md
 * describes the operations and the retention invariants.
 */
#ifndef KEEL_SNAPSHOT_GLUE_H
#define KEEL_SNAPSHOT_GLUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sbuf.h"
#include "engine.h"
#include "snapshot.h"

#define SNAPSHOT_SUBDIR        "snapshots"
#define SNAPSHOT_ARCHIVE       "wal-archive"
#define SNAPSHOT_EXPORT_PREFIX "export-" /* <dir>/snapshots/export-v<F>-<LSN>.ksnap */
#define SNAPSHOT_PATH_MAX      4096
#define SNAPSHOT_FILES_MAX     100000 /* snapshot files looked at in one directory */

typedef struct snapshot_file {
    char path[SNAPSHOT_PATH_MAX];
    uint64_t lsn; /* from the name; the header must agree */
} snapshot_file_t;

/* <dir>/snapshots/snap-<lsn>.ksnap into buf. */
void snapshot_path(const char *dir, uint64_t lsn, char *buf, size_t len);
/* The snapshot files of <dir>/snapshots sorted by LSN, oldest first (*out kmalloc'ed, caller
 * kfrees; NULL and 0 when there are none). .tmp files and other names are not listed. */
int snapshot_list(const char *dir, snapshot_file_t **out, size_t *n);

/* Start-up (persist_start): remove leftover .tmp files, load the newest snapshot that loads
 * completely into the (empty) keyspace, falling back to older ones when it is damaged, and give
 * its LSN (0 without a snapshot). Fails only when a snapshot exists and none loads. */
int snapshot_recover(engine_t *s, uint64_t *lsn_out, char *err, size_t errlen);

/* Loads one file into the empty keyspace of s with nthreads decoder threads (keel-restore uses
 * it too). On failure the keyspace holds a partial state: the caller flushes it. */
int snapshot_load_file(engine_t *s, const char *path, int nthreads, snap_info_t *info, char *err,
                       size_t errlen);

/* Writes the keyspace of s as it is now (no fork) to path, as a snapshot at lsn. Used by SAVE,
 * by the BGSAVE child on its frozen copy, and by keel-restore. */
int snapshot_write_keyspace(engine_t *s, const char *path, uint64_t lsn, int nthreads,
                            uint32_t format_version, snap_write_stats_t *st, char *err,
                            size_t errlen);

/* SAVE: a snapshot in the foreground, then retention. */
int snapshot_save(engine_t *s, char *err, size_t errlen);
/* BGSAVE: fork a child that writes the snapshot; the cron reaps it. KERR_EXISTS when a child is
 * already running. */
int snapshot_bgsave(engine_t *s, char *err, size_t errlen);
bool snapshot_in_progress(engine_t *eng);

/* Exports: a copy of the keyspace for an older reader (a replica's full sync in the format it
 * reads, docs/replication.md). Written like BGSAVE (the log durable through the LSN first, then a
 * forked child) but in format_version and to <dir>/snapshots/export-v<F>-<LSN>.ksnap, a name that
 * is not a snapshot of this node: never listed, loaded at start, counted by retention, nor
 * moving LASTSAVE or the automatic schedule, so an older-format file (without the identity
 * section, the access metadata, ...) never becomes this node's newest snapshot. Start-up removes
 * leftovers. One child at a time: KERR_EXISTS while a BGSAVE or another export runs.
 * *lsn: the LSN the export holds. */
int snapshot_export_start(engine_t *s, uint32_t format_version, uint64_t *lsn, char *err,
                          size_t errlen);
/* The export started last: 1 while it runs; 0 when it is complete, with *fd an open descriptor
 * of it (the name is removed at once: the file lives until the descriptor is closed); < 0 when it
 * failed, the writer's error (KERR_VERSION: the keyspace does not fit that format) and its text in
 * err; KERR_NOTFOUND when no export is pending. A result is given once. */
int snapshot_export_poll(engine_t *s, int *fd, char *err, size_t errlen);
/* Nobody wants the pending export any more: a running child is killed, a complete file removed. */
void snapshot_export_cancel(engine_t *s);
void snapshot_schedule(engine_t *eng); /* BGSAVE SCHEDULE: start one when the running one ends */
int64_t snapshot_lastsave_s(const engine_t *s); /* LASTSAVE: unix time of the last success */

void snapshot_cron(engine_t *s); /* reap the child, scheduled and automatic snapshots */
void snapshot_stop(engine_t *s); /* shutdown: kill a running child, remove its .tmp */
/* INFO: "persistence" gets the rdb_* fields, "snapshot" its own section. */
void snapshot_info(engine_t *s, const char *section, sbuf_t *b);

#endif
