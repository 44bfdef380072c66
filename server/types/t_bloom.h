/*
 * t_bloom.h - the bloom filter value type behind OBJ_BLOOM (the BF.* commands, docs/bloom.md).
 *
 * A bloom object is a list of sub-filters, as valkey-bloom's: the first is sized for the
 * capacity and error rate it was created with; when the last one holds `capacity` items, a
 * scaling object (expansion >= 1) adds a sub-filter of capacity * expansion whose error rate is
 * fp_rate * tightening^n (n: the sub-filters before it); a non-scaling one (expansion 0) refuses.
 *
 * Sizing (valkey-bloom's, from the bloomfilter crate): a sub-filter for n items at rate p has
 *   bytes = ceil(n * ln(p) / (-8 * ln(2)^2)),  bits = 8 * bytes,
 *   hashes = max(1, ceil(bits / n * ln(2))).
 * Hashing (ours; valkey-bloom uses SipHash-1-3 with a per-object seed): one XXH3-128 of the item
 * with the fixed seed BLOOM_HASH_SEED gives h1 (low half) and h2 (high half, made odd); hash i
 * sets bit (h1 + i * h2) mod bits (Kirsch-Mitzenmacher double hashing). Every sub-filter uses the
 * same pair, so an item is hashed once per command whatever the number of sub-filters. The seed
 * is fixed forever: stored bitmaps depend on it, and the same bits come out of the same commands
 * on every node and at every replay.
 *
 * Size accounting: bloom_size_bytes() is valkey-bloom's BF.INFO SIZE (its struct sizes: 48 for
 * the object, 8 per slot of its filter vector, 216 per sub-filter, plus the bitmaps), and the
 * memory limit (bf.bloom-memory-usage-limit) is checked against it as valkey-bloom checks it, so
 * the same commands are refused; bloom_mem_bytes() is what Keel really allocates (MEMORY USAGE).
 *
 * The element stream (snapshots, the value tier, BF.SCANDUMP): bloom_each() gives the object as
 * elements: a header (BLOOM_HDR_BYTES: version, expansion, fp_rate, tightening, sub-filters),
 * then per sub-filter a filter header (BLOOM_FHDR_BYTES: capacity, items, bits, hashes) followed
 * by its bitmap in pieces of at most BLOOM_PIECE_BYTES. bloom_build_add() takes them back in the
 * same order, checking each; bloom_build_done() checks that nothing is missing.
 */
#ifndef KEEL_T_BLOOM_H
#define KEEL_T_BLOOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BLOOM_HASH_SEED 0x6b65656c626c6f6dULL /* "keelblom": fixed forever, see above */

/* valkey-bloom's limits and defaults (its configs.rs). */
#define BLOOM_CAPACITY_DEFAULT     100
#define BLOOM_EXPANSION_DEFAULT    2
#define BLOOM_EXPANSION_MAX        UINT32_MAX
#define BLOOM_FP_RATE_DEFAULT      0.01
#define BLOOM_TIGHTENING_DEFAULT   0.5
#define BLOOM_MEMORY_LIMIT_DEFAULT (128LL * 1024 * 1024)
#define BLOOM_FILTERS_MAX          INT32_MAX /* sub-filters per object */

/* The element stream. */
#define BLOOM_STREAM_VERSION 1
#define BLOOM_HDR_BYTES                                                                            \
    32                       /* u8 version, 3 zero, u32 expansion, f64 fp, f64 tightening,
                                   u32 nfilters, 4 zero */
#define BLOOM_FHDR_BYTES  32 /* u64 capacity, u64 items, u64 bits, u32 hashes, 4 zero */
#define BLOOM_PIECE_BYTES (64u * 1024)

typedef struct bloom_filter {
    uint64_t capacity; /* items it takes before the object scales out (or refuses) */
    uint64_t items;    /* items added to it (counted only when they were new) */
    uint64_t bits;     /* bitmap size in bits: 8 * bytes */
    uint32_t hashes;   /* bits set per item */
    uint8_t *bitmap;   /* bits / 8 bytes, owned */
} bloom_filter_t;

typedef struct bloom {
    double fp_rate;     /* the object's error rate: the first sub-filter's */
    double tightening;  /* each later sub-filter's rate is the previous one's times this */
    uint32_t expansion; /* capacity multiplier on scale-out; 0: non-scaling */
    uint32_t nfilters;  /* >= 1 once built */
    uint32_t cap;       /* slots allocated in filters */
    bloom_filter_t *filters;
    /* While being built from elements (bloom_build_add): the stage (header, filter header,
     * bitmap, done), the sub-filters the header announced, the bytes of the last one filled and
     * allocated. Only b_stage means anything once built (done). */
    uint32_t b_want;
    uint8_t b_stage;
    uint64_t b_off, b_alloc;
} bloom_t;

/* Error codes of the operations below (bloom_strerror gives valkey-bloom's error text). */
enum {
    BLOOM_OK = 0,
    BLOOM_E_FULL = -1, /* non-scaling and full */
    BLOOM_E_MAX_FILTERS = -2,
    BLOOM_E_MEMORY = -3,       /* would exceed the memory limit */
    BLOOM_E_FP_ZERO = -4,      /* the error rate of the next sub-filter would be 0 */
    BLOOM_E_CAPACITY = -5,     /* the next capacity overflows */
    BLOOM_E_SCALE_MEMORY = -6, /* VALIDATESCALETO beyond the memory limit */
    BLOOM_E_SCALE_FP = -7,     /* VALIDATESCALETO beyond an error rate of 0 */
};
const char *bloom_strerror(int err);

/* Sizing of one sub-filter (valkey-bloom's formulas above). bytes as a double: a capacity up to
 * 2^63 must be compared with the memory limit before anything is allocated. */
double bloom_bitmap_bytes(uint64_t capacity, double fp_rate);
uint32_t bloom_hash_count(uint64_t bits, uint64_t capacity);
/* The rate of sub-filter n (0-based); BLOOM_E_FP_ZERO when it reaches 0. */
int bloom_filter_fp(double fp_rate, double tightening, uint32_t n, double *out);

/* A new object with one empty sub-filter. memory_limit < 0: no limit (replay). Returns NULL and
 * sets *err when the object would exceed the limit. */
bloom_t *bloom_new(uint64_t capacity, double fp_rate, double tightening, uint32_t expansion,
                   long long memory_limit, int *err);
void bloom_free(bloom_t *b);
bloom_t *bloom_dup(const bloom_t *b);

/* An item's hash pair: computed once, used for every sub-filter. */
typedef struct bloom_hash {
    uint64_t h1, h2;
} bloom_hash_t;
bloom_hash_t bloom_hash(const void *p, size_t n);
bool bloom_contains(const bloom_t *b, bloom_hash_t h);
/* Adds an item: 1 added, 0 already there (maybe a false positive), or a negative BLOOM_E_*.
 * memory_limit < 0: no limit. */
int bloom_add(bloom_t *b, bloom_hash_t h, long long memory_limit);
/* Items counted and total capacity, over the sub-filters (BF.CARD, BF.INFO). */
uint64_t bloom_items(const bloom_t *b);
uint64_t bloom_capacity(const bloom_t *b);

/* valkey-bloom's BF.INFO SIZE, and the bytes Keel allocated. */
size_t bloom_size_bytes(const bloom_t *b);
size_t bloom_mem_bytes(const bloom_t *b);
/* The size valkey-bloom gives a new object of one sub-filter (capacity, rate): the creation
 * check and the bench's reference figure. */
double bloom_size_new(uint64_t capacity, double fp_rate);

/* The largest total capacity an object can reach by scaling (valkey-bloom's MAXSCALEDCAPACITY),
 * or, with scale_to > 0, whether it reaches scale_to: 0 and *out, or BLOOM_E_SCALE_MEMORY /
 * BLOOM_E_SCALE_FP / BLOOM_E_CAPACITY. */
int bloom_max_scaled_capacity(uint64_t capacity, double fp_rate, double tightening,
                              uint32_t expansion, long long memory_limit, uint64_t scale_to,
                              uint64_t *out);

/* The element stream (see above). */
uint64_t bloom_elem_count(const bloom_t *b);
void bloom_each(const bloom_t *b, void (*cb)(void *ctx, const char *p, size_t n, double score),
                void *ctx);
bloom_t *bloom_build_new(void);
int bloom_build_add(bloom_t *b, const char *p, size_t n); /* 0 or KERR_CORRUPT */
int bloom_build_done(const bloom_t *b);                   /* 0 or KERR_CORRUPT */

/* BF.SCANDUMP / BF.LOADCHUNK: chunk 0 is the header and every filter header; chunk j >= 1 is
 * the (j-1)-th bitmap piece (of BLOOM_DUMP_PIECE_BYTES) counted across the sub-filters in
 * order. bloom_dump_chunk returns false past the last chunk. */
#define BLOOM_DUMP_PIECE_BYTES (1024u * 1024)
size_t bloom_dump_header(const bloom_t *b, char **out); /* kmalloc'ed */
bool bloom_dump_chunk(const bloom_t *b, uint64_t j, const uint8_t **p, size_t *n);
/* From a header chunk: a new object with zeroed bitmaps, or NULL (bad chunk; or beyond the
 * memory limit, then *too_big). */
bloom_t *bloom_load_header(const char *p, size_t n, long long memory_limit, bool *too_big);
int bloom_load_chunk(bloom_t *b, uint64_t j, const char *p, size_t n); /* 0 or -1 */

/* Registers the OBJ_BLOOM obj_type_ops_t; called once at start (engine_init, unit tests). */
void bloom_type_init(void);

#endif
