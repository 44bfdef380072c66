/*
 * t_bloom.c - scalable bloom filters (t_bloom.h has the sizing, hashing and stream rules).
 *
 * Invariants of a built object:
 *   1. nfilters >= 1; every sub-filter has bits = 8 * bytes >= 8, hashes >= 1, items <= capacity.
 *   2. Only the last sub-filter takes new items; the others are full (items == capacity).
 *   3. An item counts once: it is added (and counted) only when no sub-filter reports it.
 */
#include "t_bloom.h"

#include <float.h>
#include <math.h>
#include <string.h>
#include <xxhash.h>

#include "kassert.h"
#include "kerr.h"
#include "kmem.h"
#include "object.h"

/* valkey-bloom's struct sizes (64-bit): BloomObject, one Box<BloomFilter> slot of its vector,
 * and BloomFilter + bloomfilter::Bloom (two SipHasher13 states included). Its BF.INFO SIZE and
 * memory limit count these; so do ours, so the same commands pass and fail. */
#define VK_OBJECT_BYTES 48
#define VK_SLOT_BYTES   8
#define VK_FILTER_BYTES 216
/* The largest bitmap allocated whatever the memory limit (a replay has none): 64 GiB. */
#define BLOOM_BITMAP_BYTES_MAX (64ULL << 30)
#define BLOOM_HASHES_MAX       4096 /* a sane bound for stored objects: p = 2^-4096 needs ~2900 */

enum { STAGE_HEADER = 0, STAGE_FHDR, STAGE_BITMAP, STAGE_DONE };

static const double LN2 = 0.69314718055994530942;

const char *
bloom_strerror(int err) {
    switch (err) {
    case BLOOM_E_FULL: return "ERR non scaling filter is full";
    case BLOOM_E_MAX_FILTERS: return "ERR bloom object reached max number of filters";
    case BLOOM_E_MEMORY: return "ERR operation exceeds bloom object memory limit";
    case BLOOM_E_FP_ZERO: return "ERR false positive degrades to 0 on scale out";
    case BLOOM_E_CAPACITY: return "ERR bad capacity";
    case BLOOM_E_SCALE_MEMORY:
        return "ERR provided VALIDATESCALETO causes bloom object to exceed memory limit";
    case BLOOM_E_SCALE_FP:
        return "ERR provided VALIDATESCALETO causes false positive to degrade to 0";
    default: return "ERR bloom filter error";
    }
}

/* ---- sizing ----------------------------------------------------------------------------- */

double
bloom_bitmap_bytes(uint64_t capacity, double fp_rate) {
    return ceil((double)capacity * log(fp_rate) / (-8.0 * (LN2 * LN2)));
}

uint32_t
bloom_hash_count(uint64_t bits, uint64_t capacity) {
    double k = ceil((double)bits / (double)capacity * LN2);
    return k < 1 ? 1 : k > BLOOM_HASHES_MAX ? BLOOM_HASHES_MAX : (uint32_t)k;
}

/* x^n by squaring, as Rust's powi (LLVM's __powidf2) computes it, so a sub-filter's rate is the
 * same double as valkey-bloom's and its size the same byte count. */
static double
powi(double x, uint32_t n) {
    double r = 1.0;
    for (;;) {
        if (n & 1)
            r *= x;
        n >>= 1;
        if (!n)
            return r;
        x *= x;
    }
}

int
bloom_filter_fp(double fp_rate, double tightening, uint32_t n, double *out) {
    double x = fp_rate * powi(tightening, n);
    if (!(x > DBL_MIN))
        return BLOOM_E_FP_ZERO;
    *out = x;
    return 0;
}

/* valkey-bloom's vector capacity for n sub-filters: 1 as created, then 4, 8, 16 as Rust's Vec
 * grows. */
static uint64_t
vk_slots(uint64_t n) {
    if (n <= 1)
        return 1;
    uint64_t s = 4;
    while (s < n)
        s *= 2;
    return s;
}

double
bloom_size_new(uint64_t capacity, double fp_rate) {
    return VK_OBJECT_BYTES + VK_SLOT_BYTES + VK_FILTER_BYTES +
           bloom_bitmap_bytes(capacity, fp_rate);
}

size_t
bloom_size_bytes(const bloom_t *b) {
    size_t n = VK_OBJECT_BYTES + VK_SLOT_BYTES * vk_slots(b->nfilters);
    for (uint32_t i = 0; i < b->nfilters; i++)
        n += VK_FILTER_BYTES + b->filters[i].bits / 8;
    return n;
}

size_t
bloom_mem_bytes(const bloom_t *b) {
    size_t n = kmem_usable(b) + (b->filters ? kmem_usable(b->filters) : 0);
    for (uint32_t i = 0; i < b->nfilters; i++)
        n += b->filters[i].bitmap ? kmem_usable(b->filters[i].bitmap) : 0;
    return n;
}

static bool
over_limit(double bytes, long long memory_limit) {
    if (bytes > (double)BLOOM_BITMAP_BYTES_MAX)
        return true;
    return memory_limit >= 0 && bytes > (double)memory_limit;
}

int
bloom_max_scaled_capacity(uint64_t capacity, double fp_rate, double tightening, uint32_t expansion,
                          long long memory_limit, uint64_t scale_to, uint64_t *out) {
    uint64_t cur = capacity, total = 0, n = 0;
    double filters_bytes = 0;
    while (scale_to == 0 || total < scale_to) {
        double fp;
        if (bloom_filter_fp(fp_rate, tightening, (uint32_t)(n > UINT32_MAX ? UINT32_MAX : n), &fp) <
            0) {
            if (scale_to)
                return BLOOM_E_SCALE_FP;
            break;
        }
        double fbytes = VK_FILTER_BYTES + bloom_bitmap_bytes(cur, fp);
        double obj =
            VK_OBJECT_BYTES + VK_SLOT_BYTES * (double)vk_slots(n + 1) + filters_bytes + fbytes;
        if (over_limit(obj, memory_limit)) {
            if (scale_to)
                return BLOOM_E_SCALE_MEMORY;
            break;
        }
        filters_bytes += fbytes;
        total += cur;
        if (cur > (uint64_t)INT64_MAX / (expansion ? expansion : 1))
            return BLOOM_E_CAPACITY;
        cur *= expansion;
        n++;
        if (expansion == 0)
            break; /* a non-scaling object has one sub-filter */
    }
    *out = total;
    return 0;
}

/* ---- objects ---------------------------------------------------------------------------- */

static void
filter_init(bloom_filter_t *f, uint64_t capacity, double fp) {
    uint64_t bytes = (uint64_t)bloom_bitmap_bytes(capacity, fp);
    if (bytes == 0)
        bytes = 1; /* a rate near 1 rounds to nothing: one byte keeps invariant 1 */
    f->capacity = capacity;
    f->items = 0;
    f->bits = bytes * 8;
    f->hashes = bloom_hash_count(f->bits, capacity);
    f->bitmap = kcalloc(1, bytes);
}

static void
reserve_slots(bloom_t *b, uint32_t n) {
    if (n <= b->cap)
        return;
    uint32_t cap = b->cap ? b->cap : 1;
    while (cap < n)
        cap = cap > UINT32_MAX / 2 ? n : cap * 2;
    b->filters = krealloc(b->filters, (size_t)cap * sizeof *b->filters);
    b->cap = cap;
}

bloom_t *
bloom_new(uint64_t capacity, double fp_rate, double tightening, uint32_t expansion,
          long long memory_limit, int *err) {
    ASSERT(capacity >= 1 && fp_rate > 0 && fp_rate < 1);
    if (over_limit(bloom_size_new(capacity, fp_rate), memory_limit)) {
        *err = BLOOM_E_MEMORY;
        return NULL;
    }
    bloom_t *b = kcalloc(1, sizeof *b);
    b->fp_rate = fp_rate;
    b->tightening = tightening;
    b->expansion = expansion;
    reserve_slots(b, 1);
    filter_init(&b->filters[0], capacity, fp_rate);
    b->nfilters = 1;
    b->b_stage = STAGE_DONE;
    return b;
}

void
bloom_free(bloom_t *b) {
    if (!b)
        return;
    for (uint32_t i = 0; i < b->nfilters; i++)
        kfree(b->filters[i].bitmap);
    kfree(b->filters);
    kfree(b);
}

bloom_t *
bloom_dup(const bloom_t *b) {
    bloom_t *d = kmalloc(sizeof *d);
    *d = *b;
    d->filters = kmalloc((size_t)b->cap * sizeof *d->filters);
    for (uint32_t i = 0; i < b->nfilters; i++) {
        d->filters[i] = b->filters[i];
        d->filters[i].bitmap = kmalloc(b->filters[i].bits / 8);
        memcpy(d->filters[i].bitmap, b->filters[i].bitmap, b->filters[i].bits / 8);
    }
    return d;
}

bloom_hash_t
bloom_hash(const void *p, size_t n) {
    XXH128_hash_t h = XXH3_128bits_withSeed(p, n, BLOOM_HASH_SEED);
    bloom_hash_t r = {h.low64, h.high64 | 1}; /* odd: the k probes never repeat a cycle early */
    return r;
}

static bool
filter_check(const bloom_filter_t *f, bloom_hash_t h) {
    uint64_t x = h.h1;
    for (uint32_t i = 0; i < f->hashes; i++, x += h.h2) {
        uint64_t bit = x % f->bits;
        if (!(f->bitmap[bit >> 3] & (1u << (bit & 7))))
            return false;
    }
    return true;
}

static void
filter_set(bloom_filter_t *f, bloom_hash_t h) {
    uint64_t x = h.h1;
    for (uint32_t i = 0; i < f->hashes; i++, x += h.h2) {
        uint64_t bit = x % f->bits;
        f->bitmap[bit >> 3] |= (uint8_t)(1u << (bit & 7));
    }
}

bool
bloom_contains(const bloom_t *b, bloom_hash_t h) {
    for (uint32_t i = b->nfilters; i-- > 0;) /* newest first: the largest holds the most */
        if (filter_check(&b->filters[i], h))
            return true;
    return false;
}

int
bloom_add(bloom_t *b, bloom_hash_t h, long long memory_limit) {
    if (bloom_contains(b, h))
        return 0;
    bloom_filter_t *last = &b->filters[b->nfilters - 1];
    if (last->items < last->capacity) {
        filter_set(last, h);
        last->items++;
        return 1;
    }
    if (b->expansion == 0)
        return BLOOM_E_FULL;
    if (b->nfilters >= BLOOM_FILTERS_MAX)
        return BLOOM_E_MAX_FILTERS;
    double fp;
    if (bloom_filter_fp(b->fp_rate, b->tightening, b->nfilters, &fp) < 0)
        return BLOOM_E_FP_ZERO;
    if (last->capacity > (uint64_t)INT64_MAX / b->expansion)
        return BLOOM_E_CAPACITY;
    uint64_t capacity = last->capacity * b->expansion;
    double size = (double)bloom_size_bytes(b) + VK_FILTER_BYTES + bloom_bitmap_bytes(capacity, fp);
    if (over_limit(size, memory_limit))
        return BLOOM_E_MEMORY;
    reserve_slots(b, b->nfilters + 1);
    bloom_filter_t *f = &b->filters[b->nfilters++];
    filter_init(f, capacity, fp);
    filter_set(f, h);
    f->items = 1;
    return 1;
}

uint64_t
bloom_items(const bloom_t *b) {
    uint64_t n = 0;
    for (uint32_t i = 0; i < b->nfilters; i++)
        n += b->filters[i].items;
    return n;
}

uint64_t
bloom_capacity(const bloom_t *b) {
    uint64_t n = 0;
    for (uint32_t i = 0; i < b->nfilters; i++)
        n += b->filters[i].capacity;
    return n;
}

/* ---- the element stream ----------------------------------------------------------------- */

static void
put_u32(uint8_t *p, uint32_t v) {
    memcpy(p, &v, 4); /* little-endian hosts only (as the snapshot format) */
}
static void
put_u64(uint8_t *p, uint64_t v) {
    memcpy(p, &v, 8);
}
static uint32_t
get_u32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static uint64_t
get_u64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static void
encode_header(const bloom_t *b, uint8_t out[BLOOM_HDR_BYTES]) {
    memset(out, 0, BLOOM_HDR_BYTES);
    out[0] = BLOOM_STREAM_VERSION;
    put_u32(out + 4, b->expansion);
    memcpy(out + 8, &b->fp_rate, 8);
    memcpy(out + 16, &b->tightening, 8);
    put_u32(out + 24, b->nfilters);
}

static void
encode_fhdr(const bloom_filter_t *f, uint8_t out[BLOOM_FHDR_BYTES]) {
    memset(out, 0, BLOOM_FHDR_BYTES);
    put_u64(out, f->capacity);
    put_u64(out + 8, f->items);
    put_u64(out + 16, f->bits);
    put_u32(out + 24, f->hashes);
}

/* Header fields checked: the ranges valkey-bloom accepts. */
static bool
decode_header(bloom_t *b, const uint8_t *p, size_t n) {
    if (n != BLOOM_HDR_BYTES || p[0] != BLOOM_STREAM_VERSION)
        return false;
    b->expansion = get_u32(p + 4);
    memcpy(&b->fp_rate, p + 8, 8);
    memcpy(&b->tightening, p + 16, 8);
    b->b_want = get_u32(p + 24);
    return b->fp_rate > 0 && b->fp_rate < 1 && b->tightening > 0 && b->tightening < 1 &&
           b->b_want >= 1 && b->b_want <= BLOOM_FILTERS_MAX;
}

static bool
decode_fhdr(bloom_filter_t *f, const uint8_t *p, size_t n) {
    if (n != BLOOM_FHDR_BYTES)
        return false;
    f->capacity = get_u64(p);
    f->items = get_u64(p + 8);
    f->bits = get_u64(p + 16);
    f->hashes = get_u32(p + 24);
    f->bitmap = NULL;
    return f->capacity >= 1 && f->capacity <= (uint64_t)INT64_MAX && f->items <= f->capacity &&
           f->bits >= 8 && f->bits % 8 == 0 && f->bits / 8 <= BLOOM_BITMAP_BYTES_MAX &&
           f->hashes >= 1 && f->hashes <= BLOOM_HASHES_MAX;
}

static uint64_t
pieces(uint64_t bytes, uint64_t piece) {
    return (bytes + piece - 1) / piece;
}

uint64_t
bloom_elem_count(const bloom_t *b) {
    uint64_t n = 1;
    for (uint32_t i = 0; i < b->nfilters; i++)
        n += 1 + pieces(b->filters[i].bits / 8, BLOOM_PIECE_BYTES);
    return n;
}

void
bloom_each(const bloom_t *b, void (*cb)(void *ctx, const char *p, size_t n, double score),
           void *ctx) {
    uint8_t hdr[BLOOM_HDR_BYTES];
    encode_header(b, hdr);
    cb(ctx, (const char *)hdr, sizeof hdr, 0);
    for (uint32_t i = 0; i < b->nfilters; i++) {
        const bloom_filter_t *f = &b->filters[i];
        encode_fhdr(f, hdr);
        cb(ctx, (const char *)hdr, BLOOM_FHDR_BYTES, 0);
        uint64_t bytes = f->bits / 8;
        for (uint64_t off = 0; off < bytes; off += BLOOM_PIECE_BYTES) {
            uint64_t n = bytes - off < BLOOM_PIECE_BYTES ? bytes - off : BLOOM_PIECE_BYTES;
            cb(ctx, (const char *)f->bitmap + off, (size_t)n, 0);
        }
    }
}

bloom_t *
bloom_build_new(void) {
    bloom_t *b = kcalloc(1, sizeof *b);
    b->b_stage = STAGE_HEADER;
    return b;
}

/* The bitmap of a sub-filter being loaded grows with the pieces that arrive (doubling, up to its
 * size): a damaged or crafted filter header cannot make the loader allocate what is not there. */
static void
bitmap_room(bloom_filter_t *f, uint64_t need, uint64_t *alloc) {
    if (need <= *alloc)
        return;
    uint64_t bytes = f->bits / 8, a = *alloc ? *alloc * 2 : BLOOM_PIECE_BYTES;
    if (a < need)
        a = need;
    if (a > bytes)
        a = bytes;
    f->bitmap = krealloc(f->bitmap, (size_t)a);
    *alloc = a;
}

int
bloom_build_add(bloom_t *b, const char *p, size_t n) {
    const uint8_t *u = (const uint8_t *)p;
    switch (b->b_stage) {
    case STAGE_HEADER:
        if (!decode_header(b, u, n))
            return KERR_CORRUPT;
        b->b_stage = STAGE_FHDR;
        return 0;
    case STAGE_FHDR: {
        if (b->expansion == 0 && b->nfilters >= 1)
            return KERR_CORRUPT; /* a non-scaling object has one sub-filter */
        if (b->nfilters > 0) {
            const bloom_filter_t *prev = &b->filters[b->nfilters - 1];
            if (prev->items != prev->capacity)
                return KERR_CORRUPT; /* invariant 2 */
        }
        bloom_filter_t f;
        if (!decode_fhdr(&f, u, n))
            return KERR_CORRUPT;
        reserve_slots(b, b->nfilters + 1);
        b->filters[b->nfilters++] = f;
        b->b_off = 0;
        b->b_alloc = 0;
        b->b_stage = STAGE_BITMAP;
        return 0;
    }
    case STAGE_BITMAP: {
        bloom_filter_t *f = &b->filters[b->nfilters - 1];
        uint64_t bytes = f->bits / 8;
        if (n == 0 || n > BLOOM_PIECE_BYTES || n > bytes - b->b_off)
            return KERR_CORRUPT;
        bitmap_room(f, b->b_off + n, &b->b_alloc);
        memcpy(f->bitmap + b->b_off, p, n);
        b->b_off += n;
        if (b->b_off == bytes)
            b->b_stage = b->nfilters == b->b_want ? STAGE_DONE : STAGE_FHDR;
        return 0;
    }
    default: return KERR_CORRUPT; /* more elements than the header announced */
    }
}

int
bloom_build_done(const bloom_t *b) {
    return b->b_stage == STAGE_DONE ? 0 : KERR_CORRUPT;
}

/* ---- BF.SCANDUMP / BF.LOADCHUNK ----------------------------------------------------------- */

size_t
bloom_dump_header(const bloom_t *b, char **out) {
    size_t n = BLOOM_HDR_BYTES + (size_t)b->nfilters * BLOOM_FHDR_BYTES;
    uint8_t *p = kmalloc(n);
    encode_header(b, p);
    for (uint32_t i = 0; i < b->nfilters; i++)
        encode_fhdr(&b->filters[i], p + BLOOM_HDR_BYTES + (size_t)i * BLOOM_FHDR_BYTES);
    *out = (char *)p;
    return n;
}

/* Chunk j >= 1: its sub-filter, offset and length; false past the end. */
static bool
chunk_at(const bloom_t *b, uint64_t j, uint32_t *fi, uint64_t *off, uint64_t *len) {
    if (j == 0)
        return false;
    uint64_t k = j - 1;
    for (uint32_t i = 0; i < b->nfilters; i++) {
        uint64_t bytes = b->filters[i].bits / 8, np = pieces(bytes, BLOOM_DUMP_PIECE_BYTES);
        if (k < np) {
            *fi = i;
            *off = k * BLOOM_DUMP_PIECE_BYTES;
            *len = bytes - *off < BLOOM_DUMP_PIECE_BYTES ? bytes - *off : BLOOM_DUMP_PIECE_BYTES;
            return true;
        }
        k -= np;
    }
    return false;
}

bool
bloom_dump_chunk(const bloom_t *b, uint64_t j, const uint8_t **p, size_t *n) {
    uint32_t fi;
    uint64_t off, len;
    if (!chunk_at(b, j, &fi, &off, &len))
        return false;
    *p = b->filters[fi].bitmap + off;
    *n = (size_t)len;
    return true;
}

bloom_t *
bloom_load_header(const char *p, size_t n, long long memory_limit, bool *too_big) {
    const uint8_t *u = (const uint8_t *)p;
    *too_big = false;
    bloom_t probe = {0};
    if (n < BLOOM_HDR_BYTES || !decode_header(&probe, u, BLOOM_HDR_BYTES) ||
        n != BLOOM_HDR_BYTES + (size_t)probe.b_want * BLOOM_FHDR_BYTES ||
        (probe.expansion == 0 && probe.b_want != 1))
        return NULL;
    double size = VK_OBJECT_BYTES + VK_SLOT_BYTES * (double)vk_slots(probe.b_want);
    for (uint32_t i = 0; i < probe.b_want; i++) {
        bloom_filter_t f;
        if (!decode_fhdr(&f, u + BLOOM_HDR_BYTES + (size_t)i * BLOOM_FHDR_BYTES, BLOOM_FHDR_BYTES))
            return NULL;
        if (i + 1 < probe.b_want && f.items != f.capacity)
            return NULL;
        size += VK_FILTER_BYTES + (double)(f.bits / 8);
    }
    if (over_limit(size, memory_limit)) {
        *too_big = true;
        return NULL;
    }
    bloom_t *b = kcalloc(1, sizeof *b);
    b->fp_rate = probe.fp_rate;
    b->tightening = probe.tightening;
    b->expansion = probe.expansion;
    reserve_slots(b, probe.b_want);
    for (uint32_t i = 0; i < probe.b_want; i++) {
        bloom_filter_t *f = &b->filters[i];
        decode_fhdr(f, u + BLOOM_HDR_BYTES + (size_t)i * BLOOM_FHDR_BYTES, BLOOM_FHDR_BYTES);
        f->bitmap = kcalloc(1, f->bits / 8);
    }
    b->nfilters = probe.b_want;
    b->b_stage = STAGE_DONE;
    return b;
}

int
bloom_load_chunk(bloom_t *b, uint64_t j, const char *p, size_t n) {
    uint32_t fi;
    uint64_t off, len;
    if (!chunk_at(b, j, &fi, &off, &len) || len != n)
        return -1;
    memcpy(b->filters[fi].bitmap + off, p, n);
    return 0;
}

/* ---- type registration ------------------------------------------------------------------ */

static void
ops_free(void *ptr, int enc) {
    (void)enc;
    bloom_free(ptr);
}

static void *
ops_dup(const void *ptr, int enc) {
    (void)enc;
    return bloom_dup(ptr);
}

static size_t
ops_mem(const void *ptr, int enc) {
    (void)enc;
    return bloom_mem_bytes(ptr);
}

static uint64_t
ops_count(const void *ptr, int enc) {
    (void)enc;
    return bloom_elem_count(ptr);
}

static void
ops_each(const void *ptr, int enc, void (*cb)(void *ctx, const char *p, size_t n, double score),
         void *ctx) {
    (void)enc;
    bloom_each(ptr, cb, ctx);
}

static void *
ops_create(uint64_t hint, int *enc) {
    (void)hint;
    *enc = OBJ_ENC_BLOOM;
    return bloom_build_new();
}

static int
ops_add(void **ptr, int *enc, const char *p, size_t n, double score) {
    (void)enc;
    (void)score;
    return bloom_build_add(*ptr, p, n);
}

static int
ops_done(void *ptr, int enc) {
    (void)enc;
    return bloom_build_done(ptr);
}

static const obj_type_ops_t bloom_ops = {
    .free = ops_free,
    .dup = ops_dup,
    .mem = ops_mem,
    .name = "bloomfltr", /* valkey-bloom's module type name, which TYPE replies */
    .count = ops_count,
    .each = ops_each,
    .create = ops_create,
    .add = ops_add,
    .done = ops_done,
};

void
bloom_type_init(void) {
    obj_register_type(OBJ_BLOOM, &bloom_ops);
}
