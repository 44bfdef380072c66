/*
 * wal_int.h - internals shared inside wal/: the on-disk structs (specified in wal/format.c),
 * segment listing, the per-segment scanner, and small file helpers.
 */
#ifndef KEEL_WAL_INT_H
#define KEEL_WAL_INT_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "wal.h"

#define WAL_MAGIC              "KEELWAL\0"
#define WAL_FORMAT_VERSION     2 /* written; version 2 added the data-set id and the epoch */
#define WAL_FORMAT_VERSION_MIN 1 /* oldest version read (its segments have no id: unknown) */
#define WAL_SEG_HDR_SIZE       64
#define WAL_REC_HDR_SIZE       32
#define WAL_REC_ALIGN          8
#define WAL_PAYLOAD_MAX        (256u << 20) /* a record payload larger than this is damage */
#define WAL_SEG_NAME_MAX       32           /* "wal-" + 20 digits + ".log" + NUL */
/* The highest first LSN a segment may name: wal_append() returns LSNs as int64_t, and a log that
 * starts below this cannot reach 2^64 (a segment holds far fewer than 2^63 records), so no LSN
 * arithmetic of a reader wraps around. */
#define WAL_LSN_MAX ((uint64_t)INT64_MAX)

/* Record flag: every byte before this record in its segment was fdatasynced on this copy
 * before this record was written (a write barrier). Set on the first record of every round
 * in sync mode, and of the first round after a sync in async mode. An intact record with this
 * flag after damage proves the damage is not a torn tail (invariant I4). */
#define WAL_REC_AFTER_SYNC 1u
/* Record flag (format 2): the clean-shutdown seal. A record of its own with no payload whose
 * LSN field holds the last LSN of the log (the previous record's, or the segment's first LSN - 1
 * when it has none): it consumes no LSN. wal_close() writes it after every record is durable
 * on the copy, then fdatasyncs it; it is always flagged WAL_REC_AFTER_SYNC as well. Only zeros
 * follow it, and the writer zeroes it (durably) before it writes anything else into the copy.
 * A copy whose newest segment ends with an intact seal was closed cleanly: any damage in it is
 * corruption, never a torn tail (invariant I9). */
#define WAL_REC_SEAL       2u
#define WAL_REC_CHECK_SEAL 1 /* wal_rec_check: an intact seal (its LSN is expect_lsn - 1) */

/* Segment header, little-endian on disk (the struct is only used on little-endian hosts).
 * Version 1 had 28 reserved zero bytes at offset 32; version 2 holds the identity there. */
typedef struct wal_seg_hdr {
    char magic[8];                           /* "KEELWAL\0" */
    uint32_t version;                        /* WAL_FORMAT_VERSION */
    uint32_t hdr_size;                       /* WAL_SEG_HDR_SIZE: where the first record starts */
    uint64_t first_lsn;                      /* LSN of the first record (also in the file name) */
    int64_t created_ms;                      /* wall clock at creation */
    uint8_t dataset_id[WAL_DATASET_ID_SIZE]; /* v2: the data set's id; v1: zero (unknown) */
    uint64_t epoch;                          /* v2: >= 1, never lower than the previous
                                                segment's (I8); v1: zero (unknown) */
    uint8_t reserved[4];                     /* zero */
    uint32_t crc;                            /* CRC32C of bytes [0, 60) */
} wal_seg_hdr_t;
static_assert(sizeof(wal_seg_hdr_t) == WAL_SEG_HDR_SIZE, "segment header is 64 bytes");
static_assert(offsetof(wal_seg_hdr_t, dataset_id) == 32 && offsetof(wal_seg_hdr_t, epoch) == 48 &&
                  offsetof(wal_seg_hdr_t, crc) == 60,
              "the version 2 header layout of docs/formats/wal.md");

/* Record header; payload follows, then zero padding to WAL_REC_ALIGN. */
typedef struct wal_rec_hdr {
    uint32_t len; /* payload bytes (not counting header or padding) */
    uint32_t crc; /* CRC32C of bytes [8, 32 + len): the rest of the header + payload */
    uint64_t lsn;
    int64_t ts_ms;
    uint32_t db;
    uint32_t flags; /* WAL_REC_* bits */
} wal_rec_hdr_t;
static_assert(sizeof(wal_rec_hdr_t) == WAL_REC_HDR_SIZE, "record header is 32 bytes");
static_assert(WAL_SEG_HDR_SIZE % WAL_REC_ALIGN == 0, "records start aligned");
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the on-disk structs are little-endian");

static inline uint64_t
wal_rec_size(uint64_t payload_len) {
    return (WAL_REC_HDR_SIZE + payload_len + WAL_REC_ALIGN - 1) & ~(uint64_t)(WAL_REC_ALIGN - 1);
}

/* format.c */
/* A version 2 header (the only version written). */
void wal_seg_hdr_encode(wal_seg_hdr_t *h, uint64_t first_lsn, int64_t created_ms,
                        const uint8_t dataset_id[WAL_DATASET_ID_SIZE], uint64_t epoch);
/* 0 ok; KERR_FORMAT bad magic; KERR_VERSION a version above WAL_FORMAT_VERSION (checked before
 * the CRC, whose coverage a later version may change); KERR_CORRUPT otherwise. */
int wal_seg_hdr_check(const void *buf, size_t len, const char **why);
/* The identity a checked header carries: zero id and epoch 0 for version 1 (unknown). */
void wal_seg_hdr_identity(const wal_seg_hdr_t *h, uint8_t dataset_id[WAL_DATASET_ID_SIZE],
                          uint64_t *epoch);
int wal_dataset_id_is_zero(const uint8_t id[WAL_DATASET_ID_SIZE]);
/* A new random id (RFC 4122 version 4 layout) for a data set that has none. */
int wal_dataset_id_new(uint8_t id[WAL_DATASET_ID_SIZE]);
/* Encode a record (header, payload, padding) into dst, which has wal_rec_size(len) bytes. */
void wal_rec_encode(void *dst, uint64_t lsn, int64_t ts_ms, uint32_t db, const void *payload,
                    size_t len);
/* The same in two steps: everything but the CRC (the owner thread, per record), then the CRC
 * over header and payload (the WAL thread, before the record is written: invariant I2). */
void wal_rec_encode_nocrc(void *dst, uint64_t lsn, int64_t ts_ms, uint32_t db, const void *payload,
                          size_t len);
void wal_rec_crc(void *rec);
/* Set flag bits on an encoded record and recompute its CRC. */
void wal_rec_set_flags(void *rec, uint32_t flags);
/* Encode the seal (WAL_REC_SEAL | WAL_REC_AFTER_SYNC) of a log whose last LSN is last_lsn into
 * dst, WAL_REC_HDR_SIZE bytes. */
void wal_rec_encode_seal(void *dst, uint64_t last_lsn, int64_t ts_ms);
/* Check the record at p with avail bytes after it: 0 ok, WAL_REC_CHECK_SEAL for an intact
 * seal at expect_lsn - 1, KERR_TORN when the header is all zero (end of data), KERR_CORRUPT
 * otherwise (why says what failed). */
int wal_rec_check(const uint8_t *p, uint64_t avail, uint64_t expect_lsn, const char **why);
void wal_seg_name(char *buf, size_t n, uint64_t first_lsn);
int wal_seg_name_parse(const char *name, uint64_t *first_lsn);
int64_t wal_now_ms(void);

/* reader.c: one directory's segments, sorted by first LSN. */
typedef struct wal_seg {
    uint64_t first_lsn;
    char name[WAL_SEG_NAME_MAX];
} wal_seg_t;
int wal_list_segments(const char *dir, wal_seg_t **out, int *n);

/* What scanning one copy found. */
typedef struct wal_dir_scan {
    wal_seg_t *segs; /* owned; freed by wal_dir_scan_free */
    int nsegs;
    int nscanned;       /* segments verified before any damage was met */
    uint64_t first_lsn; /* first LSN held (0 when no record) */
    uint64_t last_lsn;  /* last valid LSN: the newest segment's first LSN - 1 when it is
                           empty; 0 when there is no segment */
    uint64_t nrecords;
    uint64_t *seg_end;  /* per segment: end offset of the valid data (a seal excluded) */
    uint64_t *seg_last; /* per segment: last LSN (first_lsn - 1 when empty) */
    uint64_t *seg_recs; /* per segment: record count */
    int64_t *seg_ts_min, *seg_ts_max;

    /* A torn tail of the newest segment: cut at torn_off (0: the whole file is a torn creation:
     * remove it), which drops torn_records records and torn_bytes bytes (torn_extent). */
    int torn;
    int torn_seg; /* its index in segs */
    uint64_t torn_off;
    uint64_t torn_records, torn_bytes;

    /* The newest segment ends with an intact seal (closed cleanly, I9) holding seal_lsn
     * (== last_lsn), at seal_off (== that segment's seg_end). */
    int sealed;
    uint64_t seal_lsn;
    uint64_t seal_off;

    /* Identity (format 2): the id the copy's v2 segments carry (zero: none does), the first
     * segment carrying it (-1: none), the newest v2 segment's epoch (0: none), the newest
     * intact segment's format version (0: none). */
    uint8_t dataset_id[WAL_DATASET_ID_SIZE];
    int id_seg;
    uint64_t epoch;
    uint32_t version;
} wal_dir_scan_t;

typedef struct wal_scan_opts {
    uint64_t after_lsn; /* deliver records with lsn > after_lsn */
    wal_apply_cb cb;    /* NULL: verify only */
    void *ctx;
    FILE *print;     /* non-NULL: print every record (keel-check -v) */
    int newest_only; /* verify the newest segment alone (wal_open: where does the log end?) */
    wal_log_cb log;  /* progress */
    void *log_ctx;
} wal_scan_opts_t;

/* Verify a whole directory. A missing directory is an empty log. Returns 0, KERR_CORRUPT
 * (err names the file, offset and LSN), or the callback's non-zero rc. */
int wal_scan_dir(const char *dir, const wal_scan_opts_t *o, wal_dir_scan_t *sc, char *err,
                 size_t errlen);
void wal_dir_scan_free(wal_dir_scan_t *sc);
/* The identity in the newest intact segment header of dir (zero id and epoch 0: none, or v1). */
int wal_dir_identity(const char *dir, uint8_t dataset_id[WAL_DATASET_ID_SIZE], uint64_t *epoch);

/* The end of a copy, as wal_open() needs it: its newest segment, verified alone. */
typedef struct wal_tail {
    int nsegs;                   /* segments in the copy; 0: none (the rest is zero) */
    char name[WAL_SEG_NAME_MAX]; /* the newest one */
    uint64_t first_lsn;          /* its first LSN */
    uint64_t last_lsn;           /* the copy's last LSN (first_lsn - 1 when it holds none) */
    uint64_t end;                /* end of its records: where the next one goes */
    uint64_t size;               /* its file size (the preallocated size, or end and a seal) */
    int clean;                   /* it verified without damage or torn tail */
    int sealed;                  /* it ends with a seal, at offset end */
    uint32_t version;            /* its header's format version */
    uint8_t dataset_id[WAL_DATASET_ID_SIZE];
    uint64_t epoch;
} wal_tail_t;
int wal_dir_tail(const char *dir, wal_tail_t *t);

/* writer.c: lane threads per copy, each with one fdatasync in flight (1 or 2), read by
 * wal_open. 0 (production) = automatic: one copy in sync mode runs its fdatasync on the WAL
 * thread itself (inline, measured faster on this machine: docs/durability.md), otherwise one
 * lane per copy. Tests set 1 or 2 to exercise lanes and out-of-order completions. */
extern int wal_lanes_per_copy;

/* config.c: validate cfg and fill defaults into out (dirs still point into cfg). */
int wal_config_norm(const wal_config_t *cfg, wal_config_t *out);

/* fsutil.c: file helpers shared by recover.c and writer.c. */
int wal_fsync_dir(const char *dir);
int wal_mkdir_p(const char *dir);
/* Copy the first len bytes of src to dst_dir/name through <name>.tmp, fsync and rename. */
int wal_copy_file(const char *src, const char *dst_dir, const char *name, uint64_t len);

#endif
