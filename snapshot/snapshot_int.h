/*
 * snapshot_int.h - internals shared by the snapshot writer and reader: the on-disk structs
 * (specified in snap_format.c), varints, and the hooks tests use to build files that a future
 * format version would write.
 */
#ifndef KEEL_SNAPSHOT_INT_H
#define KEEL_SNAPSHOT_INT_H

#include <assert.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "snapshot.h"

/* ---- file level ------------------------------------------------------------------------- */

#define SNAP_MAGIC         "KEELSNAP"
#define SNAP_TRAILER_MAGIC "KSNAPEND"
#define SNAP_SEC_MAGIC     0x4345534bu /* "KSEC" little-endian */

/* Flags known per reader version; bits 32-63 are the required half. */
#define SNAP_F_REQUIRED_MASK 0xffffffff00000000ull
#define SNAP_F_KNOWN_V1      0ull
#define SNAP_F_KNOWN_V2      (SNAP_F_META | SNAP_F_INTSTR)
#define SNAP_F_KNOWN_V3      SNAP_F_KNOWN_V2 /* v3 adds a section, no flag */
#define SNAP_F_KNOWN_V4      SNAP_F_KNOWN_V3 /* v4 adds record types, no flag */

typedef struct snap_file_hdr {
    char magic[8];       /* SNAP_MAGIC */
    uint32_t version;    /* format version the writer produced */
    uint32_t min_reader; /* oldest reader version that can load this file */
    uint64_t flags;      /* SNAP_F_* */
    uint64_t lsn;
    int64_t time_ms;
    uint64_t keys;
    uint64_t table_off; /* offset of the TABLE section header */
    uint32_t chunks;    /* CHUNK sections in the table */
    uint32_t crc;       /* CRC32C of bytes [0, 60) */
} snap_file_hdr_t;
static_assert(sizeof(snap_file_hdr_t) == 64, "snapshot header is 64 bytes on disk");

/* File-level section types. */
enum {
    SNAP_SEC_CHUNK = 1,
    SNAP_SEC_TABLE = 2,
    SNAP_SEC_IDENTITY = 3, /* v3, optional: data-set id and epoch history; first, at offset 64 */
};
#define SNAP_SEC_F_REQUIRED 0x01u
#define SNAP_CODEC_NONE     0u
#define SNAP_CODEC_ZSTD     1u

typedef struct snap_sec_hdr {
    uint32_t magic;        /* SNAP_SEC_MAGIC */
    uint16_t type;         /* SNAP_SEC_* */
    uint8_t flags;         /* SNAP_SEC_F_REQUIRED */
    uint8_t since_version; /* format version that introduced this section type */
    uint64_t len;          /* stored payload bytes following this header */
    uint64_t raw_len;      /* payload bytes after decoding (== len for SNAP_CODEC_NONE) */
    uint64_t count;        /* CHUNK: keys; TABLE: entries; others: type-specific */
    uint32_t codec;        /* SNAP_CODEC_* */
    uint32_t crc_stored;   /* CRC32C of the len stored bytes */
    uint32_t crc_raw;      /* CRC32C of the raw_len decoded bytes */
    uint32_t crc;          /* CRC32C of bytes [0, 44) of this header */
} snap_sec_hdr_t;
static_assert(sizeof(snap_sec_hdr_t) == 48, "section header is 48 bytes on disk");

typedef struct snap_table_ent {
    uint64_t off;   /* offset of the section header */
    uint64_t len;   /* its stored payload bytes */
    uint64_t count; /* its count field */
    uint16_t type;  /* its type, flags and since_version, so a reader decides to skip */
    uint8_t flags;  /* or refuse without reading the section */
    uint8_t since_version;
    uint32_t crc_stored; /* copy of the section's crc_stored */
} snap_table_ent_t;
static_assert(sizeof(snap_table_ent_t) == 32, "table entry is 32 bytes on disk");

typedef struct snap_trailer {
    char magic[8];      /* SNAP_TRAILER_MAGIC */
    uint64_t table_off; /* same as the header's */
    uint64_t file_len;  /* whole file including this trailer */
    uint32_t hdr_crc;   /* the header's crc: ties this trailer to that header */
    uint32_t crc;       /* CRC32C of bytes [0, 28) */
} snap_trailer_t;
static_assert(sizeof(snap_trailer_t) == 32, "trailer is 32 bytes on disk");

/* The format version that introduced a section type, 0 if unknown to this build. */
static inline unsigned
snap_sec_since(unsigned type) {
    static const unsigned char since[] = {0, 1, 1, 3};
    return type < sizeof since ? since[type] : 0;
}

/* IDENTITY payload: this fixed part, then nepochs x snap_epoch_t (u64 epoch, u64 first_lsn).
 * Bytes after the last epoch belong to later versions, which may only append: a reader ignores
 * them. No version makes the payload longer than SNAP_IDENT_LEN_MAX. */
typedef struct snap_ident_hdr {
    uint8_t id[SNAP_ID_BYTES];
    uint32_t nepochs;  /* also the section's count */
    uint32_t reserved; /* 0; ignored by readers */
} snap_ident_hdr_t;
static_assert(sizeof(snap_ident_hdr_t) == 24, "identity head is 24 bytes on disk");
static_assert(sizeof(snap_epoch_t) == 16, "an epoch is 16 bytes on disk");
#define SNAP_IDENT_LEN_MAX 4096u
#define SNAP_IDENT_LEN(n)  (sizeof(snap_ident_hdr_t) + (size_t)(n) * sizeof(snap_epoch_t))
static_assert(SNAP_IDENT_LEN(SNAP_EPOCHS_MAX) <= SNAP_IDENT_LEN_MAX, "identity fits its bound");

/* The structs above are stored as their in-memory image: that is little-endian only. */
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "snapshot structs are little-endian");

/* ---- record level (inside a decoded chunk) ---------------------------------------------- */

/* Record types: bits 0-6 of the tag byte; bit 7 marks the record required. */
enum {
    SNAP_REC_STRING = 1,
    SNAP_REC_LIST = 2,
    SNAP_REC_HASH = 3,
    SNAP_REC_SET = 4,
    SNAP_REC_ZSET = 5,
    SNAP_REC_META = 6,                 /* v2, optional: access metadata of the next key record */
    SNAP_REC_INTSTR = 7,               /* v2, required: a string whose value is a canonical int64 */
    SNAP_REC_STREAM = 8,               /* v4, required: a stream, one element: its value encoding */
    SNAP_REC_BLOOM = 9,                /* v4, required: a bloom filter, laid out as a LIST */
    SNAP_REC_HASH_TTL = SNAP_HASH_TTL, /* v4, required: a hash with field expiries */
    SNAP_REC_FUNCTION = 11,            /* v4, required: a function library's code (not a key) */
};
#define SNAP_REC_F_REQUIRED 0x80u
#define SNAP_REC_TYPE_MASK  0x7fu
#define SNAP_KEY_BYTES_MAX  (512ull << 20)
#define SNAP_ELEM_BYTES_MAX (512ull << 20)
#define SNAP_RAW_BYTES_MAX  (8ull << 30) /* largest decoded chunk a reader will allocate */
#define SNAP_VARINT_MAX     10

/* The format version that introduced a record type, 0 if unknown to this build. */
static inline unsigned
snap_rec_since(unsigned type) {
    static const unsigned char since[] = {0, 1, 1, 1, 1, 1, 2, 2, 4, 4, 4, 4};
    return type < sizeof since ? since[type] : 0;
}

static inline size_t
snap_varint_put(unsigned char *p, uint64_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (unsigned char)v;
    return n;
}

/* Decodes a varint from [*p, end); 0 and *p advanced, or -1 if truncated or over 64 bits. */
static inline int
snap_varint_get(const unsigned char **p, const unsigned char *end, uint64_t *v) {
    const unsigned char *q = *p;
    uint64_t r = 0;
    for (unsigned shift = 0; q < end && shift < 64; shift += 7) {
        unsigned char b = *q++;
        if (shift == 63 && b > 1)
            return -1;
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            *p = q;
            return 0;
        }
    }
    return -1;
}

static inline uint64_t
snap_zigzag(int64_t v) {
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t
snap_unzigzag(uint64_t v) {
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* ---- snap_format.c ---------------------------------------------------------------------- */

void snap_hdr_seal(snap_file_hdr_t *h);
void snap_sec_seal(snap_sec_hdr_t *s);
void snap_trailer_seal(snap_trailer_t *t);
int snap_hdr_valid(const snap_file_hdr_t *h);
int snap_sec_valid(const snap_sec_hdr_t *s);
int snap_trailer_valid(const snap_trailer_t *t);
/* The flags a reader of version v understands. */
uint64_t snap_flags_known(uint32_t v);
/* The IDENTITY payload of id into out (SNAP_IDENT_LEN(id->nepochs) bytes); returns its length. */
size_t snap_ident_encode(const snap_identity_t *id, unsigned char *out);
/* Decodes an IDENTITY payload of len bytes whose section count is count; NULL, or what is wrong
 * with it. Checks the layout only; snap_ident_rules() checks the content. */
const char *snap_ident_decode(const unsigned char *p, size_t len, uint64_t count,
                              snap_identity_t *out);
/* NULL when id keeps the rules of snap_identity_t for a snapshot at lsn, else the rule broken. */
const char *snap_ident_rules(const snap_identity_t *id, uint64_t lsn);
/* Parses s as the decimal form of an int64 that prints back identically; 1 and *out, or 0. */
int snap_intstr_parse(const void *s, size_t n, int64_t *out);
/* snprintf into err, if err is non-NULL and errlen > 0. */
void snap_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- reader internals (snap_read.c), shared with snap_check.c ----------------------------- */

/* Where a key record lies, for messages that name it and for finding it again. */
typedef struct snap_rec_pos {
    uint64_t chunk_off; /* file offset of its chunk's section header */
    size_t table_idx;   /* its chunk's index in the table */
    uint64_t key_no;    /* its ordinal among the chunk's keys, from 0 */
    size_t at;          /* its first byte in the decoded chunk */
} snap_rec_pos_t;

/* snap_apply_cb with the record's position; a non-zero return stops the load as apply's does. */
typedef int (*snap_apply_at_cb)(void *ctx, int thread, const snap_rec_t *rec,
                                const snap_rec_pos_t *pos);

typedef struct snap_rctx {
    const char *path;
    int fd;
    uint32_t reader_version; /* the format version this reader plays; SNAP_FORMAT_VERSION_MAX */
    uint64_t file_len;
    snap_file_hdr_t hdr;
    snap_table_ent_t *table; /* every section but the table itself, in file order */
    size_t ntable;
    size_t *chunks; /* indexes into table of the CHUNK sections */
    size_t nchunks;
    size_t ident_idx;      /* index into table of the IDENTITY section, SIZE_MAX if none */
    snap_identity_t ident; /* its content; zero when none */
    snap_apply_cb apply;   /* called for every key, unless apply_at is set */
    snap_apply_at_cb apply_at;
    void *ctx;
    _Atomic size_t next;  /* next index into chunks to decode */
    _Atomic int rc;       /* first error; the other threads stop at their next chunk */
    pthread_mutex_t lock; /* guards err */
    char *err;
    size_t errlen;
} snap_rctx_t;

/* Opens path and checks everything but the chunks (snap_read_info() is this and close). On
 * failure r must still be closed. */
int snap_rctx_open(snap_rctx_t *r, const char *path, uint32_t reader_version, snap_info_t *info,
                   char *err, size_t errlen);
void snap_rctx_close(snap_rctx_t *r);
/* Decodes every chunk on n threads, calling r->apply or r->apply_at; the first error. */
int snap_rctx_run(snap_rctx_t *r, int n);
/* Decodes the chunk at table[table_idx] on the calling thread (thread index 0). */
int snap_rctx_chunk(snap_rctx_t *r, size_t table_idx);
/* Records the first error of a load and its message; later ones are dropped. 1 when this one
 * was the first. */
int snap_rctx_fail(snap_rctx_t *r, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *snap_rec_type_name(unsigned type);

/* ---- hooks for tests: files as a later format version would write them ------------------- */

typedef struct snap_write_ext {
    uint32_t version_field;    /* non-zero: header version written instead of the real one */
    uint32_t min_reader_field; /* non-zero: header min_reader written instead */
    uint64_t flags_or;         /* feature flags added to the header's */
    /* A file-level section written after the chunks when extra_type is non-zero. */
    uint16_t extra_type;
    uint8_t extra_flags, extra_since;
    const void *extra_payload;
    size_t extra_len;
    uint64_t extra_count;
    int no_identity; /* a v3 file without its IDENTITY section at offset 64 */
} snap_write_ext_t;

int snap_write_ex(const snap_write_opts_t *o, snap_produce_cb produce, void *ctx,
                  snap_write_stats_t *st, char *err, size_t errlen, const snap_write_ext_t *x);
/* Appends a raw record of any type to the sink's chunk (not counted as a key). */
int snap_sink_put_raw(snap_sink_t *s, unsigned type, int required, unsigned since, const void *body,
                      size_t n);
/* snap_load() as a reader of format version reader_version would do it: record types and flags
 * introduced later are unknown to it. */
int snap_load_ex(const char *path, int nthreads, uint32_t reader_version, snap_apply_cb apply,
                 void *ctx, snap_info_t *info, char *err, size_t errlen);

#endif
