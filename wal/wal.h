/*
 * wal.h - the transaction log: segment files in one or more directories ("copies"), written by
 * a dedicated WAL thread with group commit (one copy: write + fdatasync on the WAL thread;
 * several: fdatasync on a lane thread per copy while the next batch is written), and a commit
 * counted durable when a quorum of copies has it on disk. The format and the recovery rules
 * are in docs/formats/wal.md and at the top of wal/format.c.
 *
 * Threads: wal_append(), wal_submit(), wal_durable_lsn(), wal_last_lsn(), wal_notify_*(),
 * wal_healthy(), wal_failure(), wal_sync_now(), wal_get_stats() and wal_retire_before() are
 * called by the one owner thread (the server's main thread); the WAL thread is internal.
 * wal_recover(), wal_read_dir() and wal_check_dir() need no wal_t and must not run while a
 * wal_t has the same directories open.
 *
 * Nothing here includes server headers: records are opaque bytes with an LSN, a timestamp and
 * a database index.
 */
#ifndef KEEL_WAL_H
#define KEEL_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct wal wal_t;
typedef struct wal_io wal_io_t; /* fault-injection hooks, see wal/wal_io.h; NULL = none */

#define WAL_COPIES_MAX               8
#define WAL_SEGMENT_SIZE_DEFAULT     (64ull << 20)
#define WAL_BUFFER_BYTES_DEFAULT     (64ull << 20)
#define WAL_SYNC_INTERVAL_MS_DEFAULT 1000u
#define WAL_DATASET_ID_SIZE          16
#define WAL_DATASET_ID_STR_MAX       37 /* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" + NUL */

typedef void (*wal_log_cb)(void *ctx, const char *msg);

typedef struct wal_config {
    const char *const *dirs;     /* log copies: one directory each, created if missing */
    int ndirs;                   /* 1..WAL_COPIES_MAX */
    int quorum;                  /* copies that must be durable; 0 = majority */
    uint64_t segment_size_bytes; /* cut a new segment past this; 0 = 64 MiB */
    int sync_each_batch;         /* 1: fdatasync every batch (durability sync);
                                    0: fdatasync every sync_interval_ms (async) */
    uint32_t sync_interval_ms;   /* async mode; 0 = 1000 */
    uint64_t buffer_bytes_max;   /* pending appended bytes before wal_append blocks; 0 = 64 MiB */
    wal_io_t *io;                /* fault injection in tests; NULL in production */
    int preallocate_off;         /* 1: do not fallocate() new segments (default: preallocate) */
    int zero_off;                /* 1: do not zero-write preallocated segments ahead of the data
                                    (default: a zeroer thread does, see wal/zero.c) */
    wal_log_cb log;              /* optional: progress and repair messages of wal_recover();
                                    a message that needs the operator's attention (records
                                    dropped or accepted as lost) starts with "WARNING: " */
    void *log_ctx;

    /* Identity of the data set (format version 2, docs/formats/wal.md). All zero by default,
     * which keeps the behaviour of a caller that knows nothing about it. */
    uint8_t dataset_id[WAL_DATASET_ID_SIZE]; /* wal_open: stamped into every new segment; zero =
                                    the id of the newest segment on disk, or a new random id
                                    when no segment has one (a new data set, or a v1 log).
                                    wal_recover: non-zero = every copy must carry this id or
                                    none (v1), else "belongs to another data set" */
    uint64_t epoch;          /* wal_open: stamped into every new segment; 0 = the newest
                                segment's, or 1 for a new data set. Never lower than the
                                epoch on disk (wal_open refuses: KERR_INVAL) */
    uint64_t expect_lsn_min; /* wal_recover: the records through this LSN must exist (the
                                snapshot's LSN, a seal LSN the caller knows); 0 = no demand */
    int accept_loss;         /* wal_recover: records missing (log ends before expect_lsn_min,
                                or starts after after_lsn + 1) only log a WARNING */
} wal_config_t;

/* A decoded record handed to recovery/readers; payload points into a buffer valid for the call. */
typedef struct wal_record {
    uint64_t lsn;
    int64_t ts_ms;
    uint32_t db;
    const void *payload;
    size_t len;
} wal_record_t;
typedef int (*wal_apply_cb)(void *ctx, const wal_record_t *rec); /* non-zero rc stops */

/* What wal_recover_ex() found. */
typedef struct wal_recover_info {
    uint8_t dataset_id[WAL_DATASET_ID_SIZE]; /* all zero: unknown (no segment, or v1 only) */
    uint64_t epoch;          /* of the best copy's newest version 2 segment; 0: unknown */
    uint32_t format_version; /* of the best copy's newest segment; 0: no segment */
    int best_copy;           /* index of the copy the log was replayed from */
    uint64_t first_lsn;      /* first LSN held by the best copy (0: no record) */
    uint64_t last_lsn;       /* last valid LSN (0: empty log), as wal_recover's *last_lsn */
    int sealed;              /* the log was closed cleanly: a copy's newest segment ends with
                                the seal wal_close() writes, at last_lsn (docs/formats/wal.md) */
    uint64_t seal_lsn;       /* the LSN that seal holds (== last_lsn); 0 when not sealed */
    uint64_t torn_records;   /* records dropped by cutting torn tails, summed over copies */
    uint64_t torn_bytes;     /* bytes dropped likewise */
    int torn_copies;         /* copies whose tail was cut */
    int loss_accepted;       /* records were missing and cfg->accept_loss let it go */
} wal_recover_info_t;

/* Scan every copy, take the longest valid log, cut a torn tail (only at the very end of the
 * newest segment), bring lagging/short copies up to date from the best one, then call apply for
 * every record with lsn > after_lsn, in order. Damage anywhere else returns KERR_CORRUPT and
 * fills errbuf with a message naming the copy, file, offset and LSN; nothing is modified then.
 * Also refused with KERR_CORRUPT, before anything is modified: a copy whose segments carry
 * another data-set id than the other copies or than a non-zero cfg->dataset_id ("belongs to
 * another data set"); records that must exist but are missing (cfg->expect_lsn_min, after_lsn)
 * unless cfg->accept_loss; a segment of a newer format (KERR_VERSION).
 * *last_lsn gets the last valid LSN (0 for an empty log). Progress of long replays and every
 * repair are reported through cfg->log when set (about once a second while replaying).
 * A non-zero rc from apply stops the replay and is returned. apply may be NULL. */
int wal_recover(const wal_config_t *cfg, uint64_t after_lsn, wal_apply_cb apply, void *ctx,
                uint64_t *last_lsn, char *errbuf, size_t errlen);
/* The same, reporting what it found in *info (filled as far as known on failure too). */
int wal_recover_ex(const wal_config_t *cfg, uint64_t after_lsn, wal_apply_cb apply, void *ctx,
                   wal_recover_info_t *info, char *errbuf, size_t errlen);

/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", or "unknown" for the all-zero id. */
void wal_dataset_id_str(const uint8_t id[WAL_DATASET_ID_SIZE], char *buf, size_t n);

/* Open for appending after last_lsn (from wal_recover); starts the WAL thread. First removes
 * each copy's seal (durably). Then the log goes on at the end of the copies' newest segment
 * when every healthy copy ends in the same clean version 2 segment of this data set and epoch,
 * right after last_lsn, with room left (an empty one included): no new file, no new space.
 * Otherwise every copy gets a new segment starting at last_lsn + 1. Fails with KERR_QUORUM
 * when fewer than quorum copies can be opened, KERR_INVAL when cfg's identity contradicts the
 * log's (cfg->log says why). */
int wal_open(const wal_config_t *cfg, uint64_t last_lsn, wal_t **out);
/* Flushes and syncs what was appended and stops the threads. When the log is healthy, then
 * appends the clean-shutdown seal (holding the last LSN) to every copy that has everything
 * durable, and fdatasyncs it: the next recovery knows any damage is corruption. wal_open()
 * removes the seal (durably) before it writes anything. */
void wal_close(wal_t *w);

/* Encode a record into the owner's staging buffer and return its LSN (> 0), or a negative
 * KERR_* (KERR_QUORUM when the log failed, KERR_LIMIT for a record larger than the buffer).
 * No lock and no syscall: staged records reach the WAL thread at the next wal_submit(), or by
 * themselves once 16 KiB are staged. The owner calls wal_submit() whenever it is about to wait
 * for anything (the server: before every event-loop sleep), so that a batch is what one loop
 * turn produced: group commit without a timer. */
int64_t wal_append(wal_t *w, uint32_t db, const void *payload, size_t len);
/* The same with the record's wall-clock timestamp given (the server passes the command's time,
 * which its effects were computed with; wal_append reads the clock). */
int64_t wal_append_at(wal_t *w, uint32_t db, int64_t ts_ms, const void *payload, size_t len);
/* The records appended from now on begin epoch (a promotion): they start a new segment stamped
 * with it, so each segment's header names the epoch of all its records. KERR_INVAL for an epoch
 * below the current one (I8), KERR_QUORUM after the log failed. The caller records the epoch
 * history itself (first LSN of each epoch): the segments only bound it. */
int wal_begin_epoch(wal_t *w, uint64_t epoch);
/* Hand the staged records to the WAL thread (one lock round) and wake it when it sleeps.
 * Blocks while buffer_bytes_max bytes are pending (back-pressure). Cheap when nothing is
 * staged. wal_sync_now() and wal_close() submit first. */
void wal_submit(wal_t *w);

uint64_t wal_durable_lsn(const wal_t *w); /* highest LSN durable on a quorum (atomic read) */
uint64_t wal_last_lsn(const wal_t *w);    /* highest LSN appended */
/* Highest LSN written to the segment files (readable by wal_cursor), durable or not yet: a
 * primary streams records to replicas from here, in parallel with its own fdatasync. */
uint64_t wal_written_lsn(const wal_t *w);
void wal_notify_written(wal_t *w, bool on); /* also signal wal_notify_fd after each write */
int
wal_notify_fd(const wal_t *w);   /* eventfd, readable when durable LSN advanced or state changed */
void wal_notify_clear(wal_t *w); /* read the eventfd */
int wal_healthy(const wal_t *w); /* 1 while the quorum holds; 0 after it was lost (for good) */
const char *wal_failure(const wal_t *w); /* human reason when not healthy, else NULL */
int wal_sync_now(wal_t *w);              /* ask the thread for an fdatasync soon (async mode) */

#define WAL_REASON_MAX 160
#define WAL_PATH_MAX   512

typedef struct wal_copy_stats {
    char dir[WAL_PATH_MAX];
    int ok;                      /* 1 ok, 0 failed for good */
    char reason[WAL_REASON_MAX]; /* why it failed, "" while ok */
    uint64_t durable_lsn;        /* highest LSN fdatasynced on this copy */
} wal_copy_stats_t;

typedef struct wal_stats {
    uint64_t last_lsn;
    uint64_t durable_lsn;
    uint64_t bytes_written; /* record bytes handed to the kernel, per log (not per copy) */
    uint64_t segments;      /* segments created since wal_open */
    uint64_t fsyncs;        /* fdatasync calls completed, summed over copies */
    uint64_t batches;
    double records_per_batch_avg;
    uint64_t fsync_latency_p50_us;
    uint64_t fsync_latency_p99_us;
    int healthy;
    int ncopies;
    wal_copy_stats_t copy[WAL_COPIES_MAX];
} wal_stats_t;
void wal_get_stats(const wal_t *w, wal_stats_t *st);
/* The slowest fdatasync since the previous call (0: none), for the latency monitor. */
uint64_t wal_take_fsync_max_us(wal_t *w);

/* Retention: segments wholly below lsn leave the live log: deleted, or moved into archive_dir
 * (same file system) when archive_dir != NULL; directories fsynced. The newest segment never
 * leaves. Returns the number of segments retired, or a negative KERR_*. */
int wal_retire_before(wal_t *w, uint64_t lsn, const char *archive_dir);

/* Readers for tools (keel-restore, keel-check), usable without a wal_t: iterate the records of
 * a directory (live or archive) in LSN order, stopping quietly at a torn tail of its newest
 * segment; and verify + print a directory. */
int wal_read_dir(const char *dir, uint64_t after_lsn, wal_apply_cb cb, void *ctx, char *err,
                 size_t errlen);
/* Verify a log copy and print: per segment name, first/last LSN, records, bytes, time range
 * (verbose: every record); the data-set id, epoch, format version and whether it is sealed;
 * then a verdict line. Returns a WAL_CHECK_* (>= 0), or < 0: KERR_CORRUPT damage ("DAMAGED:
 * <file> offset <n>: ..."), KERR_VERSION a segment of a newer format, KERR_NOTFOUND no such
 * directory, KERR_FORMAT not a log copy (not a directory, or entries but no wal-*.log
 * segment), another negative errno. docs/formats/wal.md has the keel-check exit codes. */
#define WAL_CHECK_OK    0 /* sound ("ok: ..."); sealed or not */
#define WAL_CHECK_TORN  1 /* sound up to a torn tail recovery will cut ("TORN TAIL: ...") */
#define WAL_CHECK_EMPTY 2 /* an empty directory: no segment ("EMPTY: ...") */
int wal_check_dir(const char *dir, FILE *out, int verbose);

/* ---- Reading the log as it grows (replication), wal/cursor.c, docs/formats/wal.md 4b ---- */

/* A record's wire form is its on-disk bytes (docs/formats/wal.md, section 2): a 32-byte header
 * with the CRC32C, the payload, zero padding to a multiple of 8: wal_record_size(len) bytes. */
size_t wal_record_size(size_t payload_len);
/* Encode a record with the given LSN (>= 1) into dst, wal_record_size(len) bytes, CRC included.
 * len <= 256 MiB (a longer payload is damage to every reader). */
void wal_record_encode(void *dst, uint64_t lsn, int64_t ts_ms, uint32_t db, const void *payload,
                       size_t len);
/* Decode and verify the one record at the start of buf (len bytes): header length, payload
 * length bound, whole record present, CRC, LSN >= 1, flags (a seal or an unknown flag is
 * refused). Returns its encoded size (> 0; the caller of a framed protocol checks it equals
 * the frame's length) and fills *rec, whose payload points into buf; or KERR_CORRUPT with a
 * message. The LSN is not checked against anything: the caller compares it with what it
 * expects (a replica: its last LSN + 1, before wal_append_at). */
int wal_record_decode(const void *buf, size_t len, wal_record_t *rec, char *err, size_t errlen);

/* A cursor reads one log copy from an LSN onward, in order, across the archive directory
 * (segments wal_retire_before() moved there) and the live copy, and follows the copy as it
 * grows, never past the limit its caller gives. It needs no wal_t, touches no state of the
 * writer, and may run while the WAL thread writes the same files; one thread per cursor.
 * docs/formats/wal.md section 4b has its invariants and the loop a caller runs. */
typedef struct wal_cursor wal_cursor_t;
/* One record: the decoded view and its encoded bytes as they are in the segment (what
 * wal_record_decode() takes), both valid during the call only. Non-zero rc stops the read
 * before this record (the next read delivers it again). */
typedef int (*wal_cursor_cb)(void *ctx, const wal_record_t *rec, const void *enc, size_t enc_len);
/* live_dir: the copy to read (a healthy one: wal_get_stats); archive_dir: where retired
 * segments go, NULL or missing for none. from_lsn >= 1: the first LSN wanted. Returns 0,
 * KERR_NOTFOUND when from_lsn is before the oldest segment held in archive + live (the caller
 * then does a full sync), KERR_INVAL for a bad argument, another KERR_* with a message. Reads
 * no record: the segment holding from_lsn is found by its name and opened. */
int wal_cursor_open(const char *live_dir, const char *archive_dir, uint64_t from_lsn,
                    wal_cursor_t **out, char *err, size_t errlen);
/* Deliver the next records with LSN <= limit_lsn to cb, in order, while their encoded bytes fit
 * in max_bytes (at least one record when one is due, however big). limit_lsn must be at most
 * what is written to the copy, i.e. wal_durable_lsn() (durable implies written to every healthy
 * copy). Records before from_lsn in its segment are read and verified, not delivered; the first
 * calls after open spend their budget on them. Returns the number of records delivered;
 * 0 when wal_cursor_next_lsn() > limit_lsn (caught up), or while the budget went into those
 * skipped records (next_lsn <= limit_lsn then: call again). Errors, with a message naming the
 * file and offset: KERR_CORRUPT damage (checksum, length, LSN order, header, records missing
 * although a later segment follows), KERR_FOREIGN a segment of another data set, KERR_VERSION
 * a newer format, KERR_NOTFOUND the next records are no longer held (their segments were
 * retired without an archive: full sync), KERR_FAILED this copy holds less than limit_lsn
 * (it failed: read another copy from next_lsn); a negative rc of cb is returned as is. An
 * error leaves the cursor at the record it could not deliver (those delivered before it in the
 * call stay delivered). */
int wal_cursor_read(wal_cursor_t *c, uint64_t limit_lsn, size_t max_bytes, wal_cursor_cb cb,
                    void *ctx, char *err, size_t errlen);
/* The LSN of the next record a read delivers (from_lsn until then). */
uint64_t wal_cursor_next_lsn(const wal_cursor_t *c);
void wal_cursor_close(wal_cursor_t *c); /* NULL is fine */
/* The first LSN of the oldest segment in archive_dir (may be NULL) and live_dir: records from
 * there on are held, unless some were deleted in between (a read reports the hole).
 * *oldest = 0 when there is no segment. Returns 0 or a KERR_* listing a directory. */
int wal_oldest_lsn(const char *live_dir, const char *archive_dir, uint64_t *oldest);

#endif
