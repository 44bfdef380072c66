/*
 * object.h - value objects with the key embedded: one allocation per small key-value pair.
 *
 * Layout of a kobj (byte offsets; multi-byte fields unaligned, read with memcpy):
 *
 *   0      type:4 | encoding:4
 *   1      flags (OBJ_F_EXPIRE: an int64 absolute expiry in unix ms follows the header)
 *   2..4   lru: 24-bit LRU clock (seconds) or LFU (8-bit log counter << 16 | minutes)
 *   5      [expire: int64, only with OBJ_F_EXPIRE]
 *          key length (LEB128 varint), key bytes
 *          value: strings: length (varint) + bytes; other types: a pointer to the structure
 *
 * A 16-byte key with a 24-byte value takes 5 + 1 + 16 + 1 + 24 = 47 bytes: one 48-byte jemalloc
 * class. Changing the size (APPEND, adding an expiry) reallocates the object, so the object's
 * address can change: only db.c holds object pointers across commands, and it updates both tables
 * (db_set_expire, db_str_resize). Nothing else may keep a kobj pointer past the current command.
 */
#ifndef KEEL_OBJECT_H
#define KEEL_OBJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sbuf.h"

enum {
    OBJ_STRING = 0,
    OBJ_LIST = 1,
    OBJ_SET = 2,
    OBJ_ZSET = 3,
    OBJ_HASH = 4,
    OBJ_STREAM = 5,
    OBJ_BLOOM = 6,
    OBJ_TYPE_MAX = 16
};

/* Encodings. Strings are always stored inline; OBJECT ENCODING reports int/embstr/raw from the
 * bytes, as Valkey would have encoded them. */
enum {
    OBJ_ENC_STR = 0,
    OBJ_ENC_LISTPACK = 1,
    OBJ_ENC_QUICKLIST = 2,
    OBJ_ENC_INTSET = 3,
    OBJ_ENC_HT = 4,
    OBJ_ENC_SKIPLIST = 5,
    /* A value that is in the value tier (docs/tiering.md): the object keeps its type, header,
     * expiry and key; its value part is a 12-byte stub (id: uint64, value length: uint32,
     * little-endian) in the string layout (varint 12 + the bytes, at the offset the type's
     * value has), so expiry changes move it like any string. obj_str() refuses it, and no
     * structure is behind it: a command must have its value fetched first. */
    OBJ_ENC_TIERED = 6,
    /* A hash with field expiries (t_hash.h): a hash table whose entries carry an expiry, behind
     * a small header. OBJECT ENCODING reports "hashtable", as Valkey does. In memory only: no
     * file format stores encodings. */
    OBJ_ENC_HASH_TTL = 7,
    OBJ_ENC_BLOOM = 8,  /* a bloom_t (t_bloom.h); OBJECT ENCODING says "raw" as Valkey's modules */
    OBJ_ENC_STREAM = 9, /* t_stream.h: packed nodes; OBJECT ENCODING says "stream" */
};
#define OBJ_TIERED_STUB_BYTES 12

#define OBJ_F_EXPIRE 0x01
/* A string written in place (APPEND, SETRANGE, bit and HLL commands: obj_str_mut): OBJECT ENCODING
 * says "raw" whatever its bytes, as Valkey's in-place strings are. Memory only, never stored. */
#define OBJ_F_RAW    0x02
#define OBJ_KEY_MAX  (512u * 1024 * 1024)
#define OBJ_LRU_BITS 24
#define OBJ_LRU_MAX  ((1u << OBJ_LRU_BITS) - 1)

typedef struct kobj kobj_t; /* opaque: use the accessors */

static inline int
obj_type(const kobj_t *o) {
    return ((const uint8_t *)o)[0] & 0x0f;
}
static inline int
obj_encoding(const kobj_t *o) {
    return ((const uint8_t *)o)[0] >> 4;
}
static inline bool
obj_has_expire(const kobj_t *o) {
    return ((const uint8_t *)o)[1] & OBJ_F_EXPIRE;
}
uint32_t obj_lru(const kobj_t *o);
void obj_set_lru(kobj_t *o, uint32_t v);
void obj_set_encoding(kobj_t *o, int enc);

const char *obj_key(const kobj_t *o, size_t *len);
int64_t obj_expire(const kobj_t *o);                /* -1 when none */
void obj_set_expire_inplace(kobj_t *o, int64_t ms); /* only when obj_has_expire() */
const char *obj_str(const kobj_t *o, size_t *len);  /* OBJ_STRING only */
char *obj_str_mut(kobj_t *o, size_t *len); /* write in place, same length; sets OBJ_F_RAW */
void obj_str_clear_raw(kobj_t *o);         /* a new value (INCR): encoding from the bytes */
void *obj_ptr(const kobj_t *o);            /* collection types */
void obj_set_ptr(kobj_t *o, void *p);

kobj_t *obj_new_str(const char *key, size_t klen, const char *val, size_t vlen, int64_t expire_ms);
kobj_t *obj_new_ptr(int type, int enc, const char *key, size_t klen, void *ptr, int64_t expire_ms);
/* Return an object with the same key, expiry and lru and a string value of vlen bytes whose
 * first keep bytes are the old value's (the rest uninitialised). o is consumed. */
kobj_t *obj_str_resize(kobj_t *o, size_t vlen, size_t keep);
/* Return o with its expiry set (ms >= 0) or removed (ms < 0); o is consumed. */
kobj_t *obj_with_expire(kobj_t *o, int64_t ms);
/* A copy under another key (COPY, RENAME); the value is deep-copied for collections. */
kobj_t *obj_dup_as(const kobj_t *o, const char *key, size_t klen, int64_t expire_ms);
void obj_free(kobj_t *o);
/* A stub of object o (same type, key, expiry, lru) for a value stored in the tier under id
 * (vlen: the bytes stored); o is not consumed. */
kobj_t *obj_new_tiered(const kobj_t *o, uint64_t id, uint32_t vlen);
static inline bool
obj_is_tiered(const kobj_t *o) {
    return obj_encoding(o) == OBJ_ENC_TIERED;
}
/* The tier id of a stub, and the length of the value it stands for. */
uint64_t obj_tiered_id(const kobj_t *o, uint32_t *vlen);
/* Called by obj_free() for every stub freed, on whatever thread frees it (the lazy-free thread
 * too): the tier's copy must go. Set once at start by the engine; NULL = nothing to do. */
void obj_set_tiered_free_hook(void (*fn)(void *ctx, uint64_t id, uint32_t vlen), void *ctx);

/* The value encoding of a collection in the tier: its elements in `each` order (a hash gives
 * field, value, ...), varint count then varint length + bytes (+ score for sorted sets) each.
 * Encode appends to out; obj_value_each walks an encoded value (count: elements) and checks it
 * ends exactly; obj_decode_value builds the structure back. Both return 0 or KERR_CORRUPT. */
void obj_encode_value(const kobj_t *o, sbuf_t *out);
int obj_value_each(int type, const void *val, size_t len, uint64_t *count,
                   void (*cb)(void *ctx, const char *p, size_t n, double score), void *ctx);
int obj_decode_value(int type, const void *val, size_t len, void **ptr, int *enc);
size_t obj_alloc_size(const kobj_t *o); /* the object itself, not what its pointer owns */

/* Per-type hooks, registered by the type modules at start-up so that object.c depends on none. */
typedef struct obj_type_ops {
    void (*free)(void *ptr, int enc);
    void *(*dup)(const void *ptr, int enc);
    size_t (*mem)(const void *ptr, int enc); /* MEMORY USAGE estimate of the structure */
    const char *name;                        /* TYPE reply */
    /* Generic element access for snapshots and DEBUG: elements in a stable order. A hash gives
     * field, value, field, value...; a sorted set gives members with their score; lists and
     * sets give members (score 0). `count` is the number of calls `each` makes. */
    uint64_t (*count)(const void *ptr, int enc);
    void (*each)(const void *ptr, int enc,
                 void (*cb)(void *ctx, const char *p, size_t n, double score), void *ctx);
    /* Building a value back (snapshot load, restore): create an empty structure sized for
     * `hint` elements (choosing its encoding), then add elements in the order `each` gave.
     * add returns 0 or a negative KERR_* on bad input (duplicate member, NaN score). */
    void *(*create)(uint64_t hint, int *enc);
    int (*add)(void **ptr, int *enc, const char *p, size_t n, double score);
    /* Optional: after the last add, whether the value is complete (0, or KERR_CORRUPT when an
     * element is missing). For types whose elements are parts of one structure (bloom). */
    int (*done)(void *ptr, int enc);
} obj_type_ops_t;
void obj_register_type(int type, const obj_type_ops_t *ops);
const obj_type_ops_t *obj_ops(int type);
const char *obj_type_name(int type);
const char *obj_encoding_name(const kobj_t *o);

#endif
