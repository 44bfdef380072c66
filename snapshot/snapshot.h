/*
 * snapshot.h - the snapshot file: a multi-threaded writer and a parallel loader.
 *
 * The format is specified at the top of snapshot/snap_format.c and in docs/formats/snapshot.md.
 * This module knows nothing about the server: the server (in its forked child) walks its keyspace
 * and feeds keys to a sink; on load it receives decoded records through a callback.
 *
 * Writing:
 *   snap_write() creates <path>.tmp, runs produce(ctx, part, nthreads, sink) once per part on
 *   nthreads threads (part 0 on the calling thread), each with its own sink. A sink gathers
 *   records into a chunk, and when the chunk passes chunk_bytes it compresses it (zstd) and
 *   writes it, all on the producing thread. At the end the chunk table, trailer and header are
 *   written, the file is fsynced, renamed to <path> and the directory fsynced. On any failure
 *   <path>.tmp is removed and <path> is left untouched.
 *
 *   Appending a key: snap_put_string(), or snap_put_begin() + exactly `count` elements +
 *   snap_put_end(). For a hash, count is the number of pairs and snap_put_elem() is called twice
 *   per pair (field, then value); for SNAP_HASH_TTL three times per field (field, value, expiry). For a sorted set, snap_put_zelem() is called count times. A key
 *   is never split across chunks, so one key bigger than chunk_bytes makes one big chunk.
 *   Errors are sticky: after a put fails, every later put on that sink returns the same error and
 *   snap_write() fails with it; produce should stop when a put returns non-zero.
 *
 * Loading:
 *   snap_load() verifies the header, trailer and chunk table, then nthreads threads decode chunks
 *   in parallel and call apply(ctx, thread, rec) for every key. Every checksum is verified before
 *   a record of its chunk is handed out. Records of one chunk arrive in file order; chunks arrive
 *   in any order. A load that fails may already have applied keys of other chunks: the caller
 *   loads into an empty keyspace and throws it away on error.
 *
 * Identity (format version 3): the writer records the data set's id and epoch history given in
 *   snap_write_opts_t.identity; snap_load() and snap_read_info() return it in snap_info_t, and
 *   snap_peek() returns it with the header fields after two small reads.
 *
 * Thread safety: a sink belongs to one thread. snap_write() and snap_load() are reentrant.
 */
#ifndef KEEL_SNAPSHOT_H
#define KEEL_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Format versions this build writes and reads. 1: the base. 2: per-key access metadata
 * (optional) and integer-encoded strings (required). 3: the data set's identity and epoch history
 * (an optional section, so it alone never raises the reader version a file needs). 4: record
 * types 8 STREAM, 9 BLOOM, 10 HASH_TTL (a hash with field expiries) and 11 FUNCTION (a function
 * library's code), all required: a file that holds one needs reader 4, one without keeps its
 * min_reader. */
#define SNAP_FORMAT_VERSION_MIN 1
#define SNAP_FORMAT_VERSION_MAX 4

#define SNAP_NO_EXPIRE (-1) /* expire_ms of a key without a TTL */

/* Defaults and bounds of snap_write_opts_t. */
#define SNAP_CHUNK_BYTES_DEFAULT (2u << 20)
#define SNAP_CHUNK_BYTES_MIN     1024u
#define SNAP_CHUNK_BYTES_MAX     (256u << 20)
#define SNAP_THREADS_MAX         64
#define SNAP_ZSTD_LEVEL_DEFAULT  1

/* Value types of records. SNAP_STREAM (format version 4) is put like a collection of exactly one
 * element: the stream's own value encoding (server/types/t_stream.c), opaque to this module. */
enum { SNAP_STRING = 1, SNAP_LIST, SNAP_HASH, SNAP_SET, SNAP_ZSET, SNAP_STREAM = 8 };
/* v4: a bloom filter (the server's OBJ_BLOOM); its elements are the parts its type gives
 * (header, sub-filter headers, bitmap pieces), put as list elements are. */
enum { SNAP_BLOOM = 9 };
/* v4: a hash with field expiries. Its count is the number of fields, and each field is three
 * elements: field, value, expiry (8 bytes, little-endian int64 absolute unix ms, or 0 bytes for
 * none). A writer of format version 1 to 3 refuses it (KERR_INVAL): dropping the expiries would
 * make fields live for ever. */
#define SNAP_HASH_TTL        10
#define SNAP_FIELD_TTL_BYTES 8
/* Not a key: a function library (v4). Its snap_rec_t has the code as key/klen, db 0, count 0, no
 * expiry; it is not counted in the header's keys. */
enum { SNAP_FUNCTION = 11 };

/* Feature flags in the header (snap_info_t.flags). Bits 0-31 are informational ("optional"):
 * a reader ignores ones it does not know. Bits 32-63 are required: a reader refuses a file with a
 * bit it does not know. */
#define SNAP_F_META   (1ull << 0)  /* v2: some keys carry access metadata (LRU/LFU) */
#define SNAP_F_INTSTR (1ull << 32) /* v2: some strings are stored as integers */

/* Identity of the data set a snapshot belongs to (format version 3 and later).
 *
 * id: 16 random bytes made once when the data set is created and kept by every copy of it
 * (replicas, restores); all zero means unknown, which is what a file of format version 1 or 2, or
 * one written for such a target, reads as.
 * epochs: the epoch history, oldest first. A new data set starts with epoch 1 at LSN 1; each
 * promotion (replication) starts a new epoch at the LSN of its first record. Epoch numbers
 * strictly increase (gaps allowed), first LSNs are at least 1 and never decrease, and no epoch
 * starts after the snapshot's LSN + 1. At most SNAP_EPOCHS_MAX entries: a caller with a longer
 * history passes its newest SNAP_EPOCHS_MAX. nepochs 0: history unknown. */
#define SNAP_ID_BYTES   16
#define SNAP_EPOCHS_MAX 64

typedef struct snap_epoch {
    uint64_t epoch;     /* >= 1 */
    uint64_t first_lsn; /* LSN of the epoch's first log record, >= 1 */
} snap_epoch_t;

typedef struct snap_identity {
    uint8_t id[SNAP_ID_BYTES];
    uint32_t nepochs;
    snap_epoch_t epochs[SNAP_EPOCHS_MAX];
} snap_identity_t;

/* 1 when id is all zero (unknown data set). */
int snap_id_is_zero(const uint8_t id[SNAP_ID_BYTES]);
/* id as 32 lowercase hex digits and a NUL into out (SNAP_ID_HEX_LEN bytes); returns out. */
#define SNAP_ID_HEX_LEN (2 * SNAP_ID_BYTES + 1)
char *snap_id_hex(const uint8_t id[SNAP_ID_BYTES], char *out);

typedef struct snap_sink snap_sink_t; /* one per writer thread: builds and compresses chunks */

/* Appending one key. expire_ms is an absolute unix time in ms, or SNAP_NO_EXPIRE. Returns 0 or a
 * negative KERR_* (KERR_INVAL for a bad argument or a wrong element count, KERR_LIMIT for a key or
 * value beyond the limits, or the error that stopped the write). */
int snap_put_string(snap_sink_t *s, uint32_t db, const void *key, size_t klen, int64_t expire_ms,
                    const void *val, size_t vlen);
int snap_put_begin(snap_sink_t *s, int type, uint32_t db, const void *key, size_t klen,
                   int64_t expire_ms, uint64_t count);
/* snap_put_begin() is for SNAP_LIST..SNAP_ZSET, SNAP_STREAM (count 1), SNAP_BLOOM and
 * SNAP_HASH_TTL (KERR_INVAL when writing a format version older than 4, which cannot hold the last
 * three); a string goes through snap_put_string(). */
/* A list/set member, a hash field or value. */
int snap_put_elem(snap_sink_t *s, const void *p, size_t n);
/* A sorted set member; score must not be NaN. */
int snap_put_zelem(snap_sink_t *s, const void *p, size_t n, double score);
int snap_put_end(snap_sink_t *s);
/* v4: a function library's code (a required record; loading it needs a reader of version 4).
 * KERR_INVAL when the file is written for an older format version, which cannot hold it. */
int snap_put_function(snap_sink_t *s, const void *code, size_t len);
/* v2: access metadata (LRU clock or LFU counter) for the next key put on this sink. Ignored when
 * writing format version 1, which has no place for it. */
void snap_sink_set_meta(snap_sink_t *s, uint32_t lru_or_lfu);

/* Produces part `part` of `nparts` into sink. Non-zero stops the write: a negative KERR_* is
 * returned by snap_write() as is, a positive value becomes KERR_FAILED. */
typedef int (*snap_produce_cb)(void *ctx, int part, int nparts, snap_sink_t *sink);

typedef struct snap_write_opts {
    const char *path;        /* final name; written as path.tmp, fsynced, renamed, dir fsynced */
    int nthreads;            /* writer threads, 1..SNAP_THREADS_MAX (0 = 1); one part each */
    uint32_t format_version; /* 0 = newest; else SNAP_FORMAT_VERSION_MIN..MAX */
    uint64_t lsn;            /* the log position the snapshot contains */
    int64_t time_ms;         /* wall-clock time it was taken */
    int zstd_level;          /* 0 = SNAP_ZSTD_LEVEL_DEFAULT */
    size_t chunk_bytes;      /* uncompressed chunk target; 0 = SNAP_CHUNK_BYTES_DEFAULT */
    /* Optional; called after each chunk is written, from the writer threads but never two at
     * once, with running totals of keys and uncompressed bytes. */
    void (*progress)(void *ctx, uint64_t keys, uint64_t bytes);
    void *progress_ctx;
    /* The data set's id and epoch history, checked against the rules of snap_identity_t (a
     * breach is KERR_INVAL, more than SNAP_EPOCHS_MAX epochs KERR_LIMIT). NULL: unknown (a zero
     * id, no epochs). Format version 3 and later record it; a file written for an older target
     * (format_version 1 or 2) has no place for it and goes without, read back as unknown. */
    const snap_identity_t *identity;
} snap_write_opts_t;

typedef struct snap_write_stats {
    uint64_t keys, bytes_raw, bytes_file; /* keys, uncompressed record bytes, final file size */
    uint32_t chunks;
    double seconds;
    uint32_t version, min_reader; /* format written; oldest reader that loads it */
    int identity;                 /* 1 when the file records the identity (version 3 and later) */
} snap_write_stats_t;

/* Writes a snapshot. st may be NULL. On failure err (if errlen > 0) holds a message. */
int snap_write(const snap_write_opts_t *o, snap_produce_cb produce, void *ctx,
               snap_write_stats_t *st, char *err, size_t errlen);

typedef struct snap_header_info {
    uint32_t version, min_reader; /* format written; oldest reader version that can load it */
    uint64_t lsn, keys;
    int64_t time_ms;
    uint32_t chunks;
    uint64_t flags;           /* SNAP_F_* */
    snap_identity_t identity; /* zero id and no epochs when the file records none */
} snap_info_t;

/* Reads and checks the header, trailer, chunk table and identity section of a snapshot without
 * decoding chunks. On KERR_VERSION the header fields of info are still filled in. */
int snap_read_info(const char *path, snap_info_t *info, char *err, size_t errlen);

/* What snap_peek() returns. */
typedef struct snap_peek {
    uint32_t version, min_reader; /* format written; oldest reader version that can load it */
    uint64_t lsn;                 /* the log position the snapshot contains */
    int64_t time_ms;              /* when it was taken (unix ms) */
    uint64_t keys, flags;
    uint32_t chunks;
    uint64_t file_len;
    snap_identity_t identity; /* zero id and no epochs when the file records none */
} snap_peek_t;

/* The cheap look at a snapshot, for start-up checks and tools that pick among many files: reads
 * the header, the trailer (so a truncated or extended file is refused) and the identity section,
 * usually in two small reads whatever the file's size. It checks their checksums but not the chunk
 * table or the chunks: snap_load() and snap_check_file() check everything. Returns 0, or what
 * snap_load() would return for a bad header or trailer: KERR_FORMAT, KERR_CORRUPT (err names file
 * and offset), KERR_INVAL (a .tmp file), KERR_SYS(errno); KERR_VERSION when this build cannot load
 * the file, with out still filled in (the identity too, when the file's is readable). */
int snap_peek(const char *path, snap_peek_t *out, char *err, size_t errlen);

/* A decoded record; pointers valid during the callback only. Elements through snap_rec_next():
 * a string has count 1 and one element (its value); a list or set count elements; a hash count
 * pairs, i.e. 2*count elements (field, value, field, ...); a sorted set count elements with a
 * score; a SNAP_HASH_TTL count fields, i.e. 3*count elements (field, value, expiry). apply may
 * iterate a copy (snap_rec_t it = *rec;) or the record itself: the loader has
 * already checked every element before the call and does not look at the cursor after it. */
typedef struct snap_rec {
    int type; /* SNAP_STRING .. SNAP_ZSET, SNAP_STREAM, SNAP_BLOOM, SNAP_HASH_TTL */
    uint32_t db;
    const char *key;
    size_t klen;
    int64_t expire_ms; /* or SNAP_NO_EXPIRE */
    uint64_t count;
    uint32_t meta; /* access metadata when has_meta */
    int has_meta;
    struct { /* private cursor of snap_rec_next() */
        const unsigned char *p, *end;
        uint64_t left; /* elements not yet returned */
    } priv;
} snap_rec_t;

/* Next element: 1 and (*p, *n[, *score]) set; 0 after the last; KERR_CORRUPT if the record is
 * malformed. score may be NULL (it is only set for a sorted set). */
int snap_rec_next(snap_rec_t *r, const char **p, size_t *n, double *score);

/* Loading: nthreads (1..SNAP_THREADS_MAX, 0 = 1) decode chunks in parallel; apply is called from
 * those threads (thread index given) so it must be thread-safe; a non-zero return stops the load
 * and is returned (a positive value as KERR_FAILED). Every checksum verified. info may be NULL.
 * Errors: KERR_FORMAT (not a snapshot), KERR_VERSION (needs a newer reader; err names the
 * version), KERR_CORRUPT (err names file and offset), KERR_INVAL (a .tmp file), KERR_SYS(errno). */
typedef int (*snap_apply_cb)(void *ctx, int thread, const snap_rec_t *rec);
int snap_load(const char *path, int nthreads, snap_apply_cb apply, void *ctx, snap_info_t *info,
              char *err, size_t errlen);

/* Checking a file (keel-check): everything snap_load() checks, then what would make a server
 * refuse the file that can be told without the server: a key in a database at or beyond the
 * server's `databases`, the same key twice in one database (an empty collection does not count:
 * a server skips it), the same member twice in a set or sorted set, the same field twice in a
 * hash. Prints a summary, and the data set's identity, to out. */
#define SNAP_CHECK_DATABASES_DEFAULT 16
#define SNAP_CHECK_DATABASES_ANY     UINT64_MAX /* no database limit */

typedef struct snap_check_opts {
    uint64_t databases;      /* the server's `databases`; 0 = SNAP_CHECK_DATABASES_DEFAULT */
    int verbose;             /* also a line per section and per epoch */
    int skip_duplicate_keys; /* leave out the whole-file key check, which needs 24 bytes per key */
} snap_check_opts_t;

/* 0 when the file is sound and a server would load it. Else the error of snap_load() for damage,
 * KERR_LIMIT for a database beyond opts->databases, KERR_CORRUPT for a duplicate key, member or
 * field; the message printed names the file, the chunk (its offset) and the record (its byte in
 * the decoded chunk) and the key. opts NULL: defaults. */
int snap_check_file_opts(const char *path, FILE *out, const snap_check_opts_t *opts);
/* snap_check_file_opts() with the defaults (16 databases) and verbose as given. */
int snap_check_file(const char *path, FILE *out, int verbose);

#endif
