/*
 * snapshot_glue_int.h - state shared by snapshot_glue.c, snapshot_files.c, snapshot_save.c and
 * snapshot_load.c.
 * Not for use elsewhere: the public calls are in snapshot_glue.h.
 */
#ifndef KEEL_SNAPSHOT_GLUE_INT_H
#define KEEL_SNAPSHOT_GLUE_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "snapshot_glue.h"

/* What the BGSAVE child reports to the parent through its pipe when it is done. */
typedef struct snap_child_report {
    int32_t rc;
    uint32_t chunks;
    uint64_t keys, bytes_raw, bytes_file;
    double seconds;
    uint64_t cow_bytes; /* the child's private dirty memory at its end (copy-on-write) */
    char err[256];
} snap_child_report_t;

enum { SNAP_EXPORT_NONE, SNAP_EXPORT_RUNNING, SNAP_EXPORT_DONE, SNAP_EXPORT_FAILED };

/* All fields are owned by the main thread. */
typedef struct snap_state {
    pid_t child;        /* BGSAVE child, 0 when none */
    int child_fd;       /* read end of the child's report pipe, -1 when none */
    uint64_t child_lsn; /* LSN the running child writes */
    int64_t child_start_ms;
    uint64_t child_dirty; /* s->dirty at the fork */
    bool scheduled;       /* BGSAVE SCHEDULE while a child ran */
    bool child_export;    /* the running child writes an export, not a snapshot of this node */
    char child_path[SNAPSHOT_PATH_MAX]; /* the file the running child writes */
    /* The last export (snapshot_export_start): a copy for an older reader, not this node's. */
    int export_state; /* SNAP_EXPORT_* */
    int export_rc;    /* SNAP_EXPORT_FAILED: the writer's error */
    char export_path[SNAPSHOT_PATH_MAX];
    char export_err[256];
    /* The last finished save (SAVE or BGSAVE). */
    bool last_ok;
    int64_t last_ok_ms;  /* LASTSAVE; the start time when nothing was saved yet */
    int64_t last_try_ms; /* start of the last attempt (automatic snapshots pace on it) */
    int64_t last_duration_ms;
    uint64_t last_lsn, last_keys, last_bytes_file, last_bytes_raw, last_cow_bytes;
    double last_seconds;
    uint64_t wal_bytes_at_last;     /* log bytes written when the last snapshot started */
    uint64_t wal_bytes_before_open; /* log bytes after the loaded snapshot, replayed at start */
    uint64_t saves_ok, saves_failed;
    char last_err[256];
    /* Start-up load. */
    uint64_t loaded_lsn, loaded_keys, loaded_ms, load_fallbacks;
    /* Retention totals. */
    uint64_t retired_segments, pruned_snapshots, pruned_archive;
} snap_state_t;


/* snapshot_files.c: remove the .tmp files a crash left in <dir>/snapshots. */
void snapshot_remove_tmp(const char *dir);
/* snapshot_files.c: after a snapshot at lsn became durable: record it, apply retention. */
void snapshot_done(engine_t *s, const snap_child_report_t *rep, uint64_t lsn, int64_t start_ms,
                   uint64_t dirty_at_start);
/* snapshot_files.c: "<dir>/snapshots", created when missing. */
int snapshot_dir(const char *dir, char *buf, size_t len, bool create);
/* snapshot_files.c: bytes the log has written since it opened (0 without a log). */
uint64_t snapshot_wal_bytes(engine_t *s);
/* snapshot_save.c: the cron's check of the child; 1 when it ended (and was handled). */
int snapshot_reap(engine_t *s);

#endif
