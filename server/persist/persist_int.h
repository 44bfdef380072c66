/*
 * persist_int.h - what persist.c (start, stop, the sink, INFO), replay.c (recovery through a fake
 * client) and durable.c (reply tags, WAITAOF waiters) share. Not for use outside server/core/persist*
 * and the WAITAOF command.
 */
#ifndef KEEL_PERSIST_INT_H
#define KEEL_PERSIST_INT_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "tags.h"
#include "replay.h"
#include "idfile.h"
#include "klock.h"
#include "persist.h"
#include "snapshot_glue_int.h"
#include "wal.h"
#include "wal_io.h"


/* waitaof.c: WAITAOF waiters (blocked clients). */
void waiters_init(engine_t *s);                  /* registers the client-cleanup hook */
void waiters_check(engine_t *s, int64_t now_ms); /* durable advanced / cron: reply the ready */
void waiters_fail(engine_t *s, const char *why); /* the log failed: reply errors to all */


#define PERSIST_REASON_MAX (WAL_REASON_MAX * WAL_COPIES_MAX + 64)

typedef struct persist_waiter {
    client_t *c;
    uint64_t target_lsn;
    long numlocal, numreplicas;
    int64_t deadline_ms; /* 0 = none */
} persist_waiter_t;

/* The persistence state of an engine (engine_t.persist), made by persist_start. Main thread. */
struct persist_state {
    /* persist.c: the log. */
    wal_config_t cfg;
    const char *dirs[WAL_COPIES_MAX];
    char default_dir[WAL_PATH_MAX]; /* <dir>/wal when no wal-dir is configured */
    uint64_t durable_seen;          /* last wal_durable_lsn() acted upon */
    uint64_t commit_seen;           /* last committed LSN acted upon (see commit_cb) */
    persist_commit_cb commit_cb;    /* repl/: the LSN committed given the local durable one */
    bool failed;                    /* the log failed for good (quorum lost, record refused) */
    char reason[PERSIST_REASON_MAX];
    char parked_err[PERSIST_REASON_MAX + 256];
    uint64_t recovered_records;
    uint64_t recovered_last_lsn;
    uint64_t recovery_ms;
    uint64_t snapshot_lsn;
    wal_recover_info_t recovered; /* what recovery found: id, epoch, seal, torn tail cut */
    /* integrity.c: ownership and identity. */
    klock_t dir_lock;                  /* <dir>/keel.lock, exclusive for the server's life */
    klock_t wal_locks[WAL_COPIES_MAX]; /* the same in every log copy */
    idfile_t idf;                      /* <dir>/keel.id as read at start, then as last written */
    snap_identity_t identity;          /* the data set's id and epochs: into every snapshot */
    bool epoch_pending; /* epochs.c: a primary starts a new epoch before its next record */
    uint64_t newest_snapshot_lsn; /* the newest snapshot file's LSN, loadable or not */
    /* persist.c: test hooks (KEEL_DEBUG_WAL_*), through the log's fault-injection interface. */
    struct {
        uint32_t fsync_delay_ms;
        const char *fail_file;
        wal_io_t io;
    } dbg;
    /* snapshot_*.c */
    snap_state_t snap;
    /* waitaof.c: WAITAOF waiters. */
    persist_waiter_t *waiters;
    size_t nwaiters, waiters_cap;
};

/* persist.c: the log's eventfd became readable (durable LSN moved, or the log failed). */
void persist_notify_cb(struct ev_loop *l, int fd, void *data, int mask);

/* integrity.c: before anything is read or written, own the data directory and every log copy
 * (KERR_BUSY naming the holder's PID when another server does); read keel.id. */
int integrity_lock(engine_t *s);
void integrity_unlock(engine_t *s);
/* After the snapshot was loaded: refuse a snapshot of another data set than keel.id's; set the
 * log configuration's id and the LSN the log must reach (newest snapshot, last clean shutdown). */
int integrity_before_log(engine_t *s);
/* After log recovery: settle the data set's id and epoch (a new data set gets a random id) for
 * the log's new segments and for snapshots; keel.id is written by integrity_record. */
int integrity_after_log(engine_t *s);
/* epochs.c: settle the history at start (keel.id's, else the snapshot's, else one epoch; an
 * epoch the log names beyond it is added); copy it into idf before keel.id is written. */
void epochs_settle(engine_t *s);
void epochs_to_idfile(engine_t *s);
/* epochs.c, the log's sink: a primary's first record after start or promotion starts a new
 * epoch when the current one holds records already. */
int epochs_before_write(engine_t *s);

/* Write keel.id: at start (clean_lsn 0: the LSN the log reached) and at a clean shutdown. */
int integrity_record(engine_t *s, uint64_t clean_lsn);

#endif
