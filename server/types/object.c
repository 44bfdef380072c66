/* object.c - the embedded-key value object (layout in object.h). */
#include "object.h"

#include <string.h>

#include "kassert.h"
#include "kerr.h"
#include "kmem.h"
#include "util.h"

#define HDR 5

static const obj_type_ops_t *type_ops[OBJ_TYPE_MAX];
/* Set once at start (tiering_start), read-only afterwards. */
static void (*tiered_free_hook)(void *ctx, uint64_t id, uint32_t vlen);
static void *tiered_free_ctx;

static size_t
varint_put(uint8_t *p, uint64_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

static size_t
varint_get(const uint8_t *p, uint64_t *v) {
    uint64_t r = 0;
    size_t n = 0;
    int shift = 0;
    for (;;) {
        uint8_t b = p[n++];
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            break;
        shift += 7;
    }
    *v = r;
    return n;
}

static size_t
varint_len(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static inline uint8_t *
bytes(const kobj_t *o) {
    return (uint8_t *)o;
}

static inline size_t
key_off(const kobj_t *o) {
    return HDR + (obj_has_expire(o) ? 8 : 0);
}

/* Collections keep their pointer 8-byte aligned in the object: cheaper to load, and visible to
 * LeakSanitizer, which only follows aligned pointers. Strings are packed. */
static inline size_t
ptr_align(int type, size_t off) {
    return type == OBJ_STRING ? off : (off + 7) & ~(size_t)7;
}

/* Offset of the value part. */
static size_t
val_off(const kobj_t *o) {
    uint64_t klen;
    size_t off = key_off(o);
    off += varint_get(bytes(o) + off, &klen);
    return ptr_align(obj_type(o), off + klen);
}

uint32_t
obj_lru(const kobj_t *o) {
    const uint8_t *b = bytes(o);
    return (uint32_t)b[2] | (uint32_t)b[3] << 8 | (uint32_t)b[4] << 16;
}

void
obj_set_lru(kobj_t *o, uint32_t v) {
    uint8_t *b = bytes(o);
    b[2] = (uint8_t)v;
    b[3] = (uint8_t)(v >> 8);
    b[4] = (uint8_t)(v >> 16);
}

void
obj_set_encoding(kobj_t *o, int enc) {
    bytes(o)[0] = (uint8_t)((bytes(o)[0] & 0x0f) | (enc << 4));
}

const char *
obj_key(const kobj_t *o, size_t *len) {
    uint64_t klen;
    size_t off = key_off(o);
    off += varint_get(bytes(o) + off, &klen);
    *len = (size_t)klen;
    return (const char *)bytes(o) + off;
}

int64_t
obj_expire(const kobj_t *o) {
    int64_t ms;
    if (!obj_has_expire(o))
        return -1;
    memcpy(&ms, bytes(o) + HDR, 8);
    return ms;
}

void
obj_set_expire_inplace(kobj_t *o, int64_t ms) {
    ASSERT(obj_has_expire(o));
    memcpy(bytes(o) + HDR, &ms, 8);
}

const char *
obj_str(const kobj_t *o, size_t *len) {
    uint64_t vlen;
    DEBUG_ASSERT(obj_type(o) == OBJ_STRING);
    /* A stub's bytes are no value: a command reading one was not given its fetch (a bug that
     * would reply or store garbage). */
    ASSERT(obj_encoding(o) != OBJ_ENC_TIERED);
    size_t off = val_off(o);
    off += varint_get(bytes(o) + off, &vlen);
    *len = (size_t)vlen;
    return (const char *)bytes(o) + off;
}

char *
obj_str_mut(kobj_t *o, size_t *len) {
    ((uint8_t *)o)[1] |= OBJ_F_RAW;
    return (char *)obj_str(o, len);
}

void
obj_str_clear_raw(kobj_t *o) {
    ((uint8_t *)o)[1] &= (uint8_t)~OBJ_F_RAW;
}

void *
obj_ptr(const kobj_t *o) {
    void *p;
    memcpy(&p, bytes(o) + val_off(o), sizeof p);
    return p;
}

void
obj_set_ptr(kobj_t *o, void *p) {
    memcpy(bytes(o) + val_off(o), &p, sizeof p);
}

/* Allocate and fill header, expiry and key; returns the offset of the value part. */
static kobj_t *
alloc_obj(int type, int enc, const char *key, size_t klen, int64_t expire_ms, size_t val_bytes,
          size_t *voff) {
    size_t off = HDR + (expire_ms >= 0 ? 8 : 0);
    size_t total = ptr_align(type, off + varint_len(klen) + klen) + val_bytes;
    uint8_t *b = kmalloc(total);
    b[0] = (uint8_t)(type | enc << 4);
    b[1] = expire_ms >= 0 ? OBJ_F_EXPIRE : 0;
    b[2] = b[3] = b[4] = 0;
    if (expire_ms >= 0)
        memcpy(b + HDR, &expire_ms, 8);
    off += varint_put(b + off, klen);
    memcpy(b + off, key, klen);
    *voff = ptr_align(type, off + klen);
    return (kobj_t *)b;
}

kobj_t *
obj_new_str(const char *key, size_t klen, const char *val, size_t vlen, int64_t expire_ms) {
    size_t voff;
    kobj_t *o =
        alloc_obj(OBJ_STRING, OBJ_ENC_STR, key, klen, expire_ms, varint_len(vlen) + vlen, &voff);
    voff += varint_put(bytes(o) + voff, vlen);
    if (vlen)
        memcpy(bytes(o) + voff, val, vlen);
    return o;
}

kobj_t *
obj_new_ptr(int type, int enc, const char *key, size_t klen, void *ptr, int64_t expire_ms) {
    size_t voff;
    kobj_t *o = alloc_obj(type, enc, key, klen, expire_ms, sizeof ptr, &voff);
    memcpy(bytes(o) + voff, &ptr, sizeof ptr);
    return o;
}

kobj_t *
obj_str_resize(kobj_t *o, size_t vlen, size_t keep) {
    size_t vo = val_off(o);
    uint64_t olen;
    size_t ovl = varint_get(bytes(o) + vo, &olen);
    ASSERT(keep <= olen && keep <= vlen);
    size_t nvl = varint_len(vlen);
    size_t need = vo + nvl + vlen, have = kmem_usable(o);
    if (need > have) {
        /* Growing (APPEND, SETRANGE, SETBIT): leave room, up to 1 MiB, so that a loop of appends
         * costs linear time, not a copy of the whole value each time. The allocator's usable size
         * is the capacity: no field is needed for it. */
        size_t want = need;
        if (vlen >= 64 && vlen > olen)
            want += need < (1u << 20) ? need : (1u << 20);
        o = krealloc(o, want);
    }
    /* Move the kept bytes while the block is at least as big as both layouts need. */
    uint8_t *b = bytes(o);
    if (nvl != ovl)
        memmove(b + vo + nvl, b + vo + ovl, keep);
    varint_put(b + vo, vlen);
    if (have > 2 * need + 64)
        o = krealloc(o, need); /* shrunk a lot: give the memory back */
    return o;
}

kobj_t *
obj_with_expire(kobj_t *o, int64_t ms) {
    if (ms >= 0 && obj_has_expire(o)) {
        obj_set_expire_inplace(o, ms);
        return o;
    }
    if (ms < 0 && !obj_has_expire(o))
        return o;
    size_t ko = key_off(o);
    size_t vo = val_off(o); /* padding included: the shift by 8 bytes keeps the alignment */
    size_t vbytes;
    if (obj_type(o) == OBJ_STRING || obj_encoding(o) == OBJ_ENC_TIERED) {
        uint64_t vlen;
        vbytes = varint_get(bytes(o) + vo, &vlen) + vlen;
    } else {
        vbytes = sizeof(void *);
    }
    size_t rest = vo - ko + vbytes; /* key varint + key + value */
    size_t nko = HDR + (ms >= 0 ? 8 : 0);
    uint8_t *n = kmalloc(nko + rest);
    memcpy(n, o, HDR);
    n[1] = (uint8_t)((n[1] & ~OBJ_F_EXPIRE) | (ms >= 0 ? OBJ_F_EXPIRE : 0));
    if (ms >= 0)
        memcpy(n + HDR, &ms, 8);
    memcpy(n + nko, bytes(o) + ko, rest);
    kfree(o);
    return (kobj_t *)n;
}

kobj_t *
obj_dup_as(const kobj_t *o, const char *key, size_t klen, int64_t expire_ms) {
    ASSERT(obj_encoding(o) != OBJ_ENC_TIERED); /* a stub is never copied: its id is its own */
    kobj_t *n;
    if (obj_type(o) == OBJ_STRING) {
        size_t vlen;
        const char *v = obj_str(o, &vlen);
        n = obj_new_str(key, klen, v, vlen, expire_ms);
    } else {
        const obj_type_ops_t *ops = type_ops[obj_type(o)];
        ASSERT(ops && ops->dup);
        n = obj_new_ptr(obj_type(o), obj_encoding(o), key, klen,
                        ops->dup(obj_ptr(o), obj_encoding(o)), expire_ms);
    }
    obj_set_lru(n, obj_lru(o));
    return n;
}

void
obj_set_tiered_free_hook(void (*fn)(void *ctx, uint64_t id, uint32_t vlen), void *ctx) {
    tiered_free_hook = fn;
    tiered_free_ctx = ctx;
}

kobj_t *
obj_new_tiered(const kobj_t *o, uint64_t id, uint32_t vlen) {
    size_t klen, voff;
    const char *key = obj_key(o, &klen);
    kobj_t *n = alloc_obj(obj_type(o), OBJ_ENC_TIERED, key, klen, obj_expire(o),
                          1 + OBJ_TIERED_STUB_BYTES, &voff);
    voff += varint_put(bytes(n) + voff, OBJ_TIERED_STUB_BYTES);
    memcpy(bytes(n) + voff, &id, 8);
    memcpy(bytes(n) + voff + 8, &vlen, 4);
    obj_set_lru(n, obj_lru(o));
    return n;
}

/* The value encoding of a collection for the tier: varint count (calls of `each`), then per
 * element varint length, bytes, and for sorted sets the score (8 bytes, host order: the tier
 * never leaves this process's machine and is wiped at start). */
static void
encode_elem_cb(void *ctx, const char *p, size_t n, double score) {
    void **c = ctx;
    sbuf_t *out = c[0];
    uint8_t v[10];
    sbuf_append(out, (const char *)v, varint_put(v, n));
    sbuf_append(out, p, n);
    if (*(int *)c[1] == OBJ_ZSET)
        sbuf_append(out, (const char *)&score, sizeof score);
}

void
obj_encode_value(const kobj_t *o, sbuf_t *out) {
    ASSERT(obj_type(o) != OBJ_STRING && obj_encoding(o) != OBJ_ENC_TIERED);
    const obj_type_ops_t *ops = type_ops[obj_type(o)];
    ASSERT(ops && ops->count && ops->each);
    uint8_t v[10];
    uint64_t count = ops->count(obj_ptr(o), obj_encoding(o));
    sbuf_append(out, (const char *)v, varint_put(v, count));
    int type = obj_type(o);
    void *ctx[2] = {out, &type};
    ops->each(obj_ptr(o), obj_encoding(o), encode_elem_cb, ctx);
}

/* A varint that must end within [p, end); 0 when it does not. */
static size_t
varint_get_bounded(const uint8_t *p, const uint8_t *end, uint64_t *v) {
    uint64_t r = 0;
    for (size_t n = 0; n < 10 && p + n < end; n++) {
        r |= (uint64_t)(p[n] & 0x7f) << (7 * n);
        if (!(p[n] & 0x80)) {
            *v = r;
            return n + 1;
        }
    }
    return 0;
}

int
obj_value_each(int type, const void *val, size_t len, uint64_t *count,
               void (*cb)(void *ctx, const char *p, size_t n, double score), void *ctx) {
    const uint8_t *p = val, *end = p + len;
    size_t k = varint_get_bounded(p, end, count);
    if (!k)
        return KERR_CORRUPT;
    p += k;
    for (uint64_t i = 0; i < *count; i++) {
        uint64_t n;
        double score = 0;
        if (!(k = varint_get_bounded(p, end, &n)) || n > (uint64_t)(end - p - k))
            return KERR_CORRUPT;
        p += k;
        const char *e = (const char *)p;
        p += n;
        if (type == OBJ_ZSET) {
            if ((size_t)(end - p) < sizeof score)
                return KERR_CORRUPT;
            memcpy(&score, p, sizeof score);
            p += sizeof score;
        }
        if (cb)
            cb(ctx, e, (size_t)n, score);
    }
    return p == end ? 0 : KERR_CORRUPT;
}

typedef struct decode_ctx {
    const obj_type_ops_t *ops;
    void *ptr;
    int enc, rc;
} decode_ctx_t;

static void
decode_elem_cb(void *ctx, const char *p, size_t n, double score) {
    decode_ctx_t *d = ctx;
    if (d->rc == 0)
        d->rc = d->ops->add(&d->ptr, &d->enc, p, n, score);
}

int
obj_decode_value(int type, const void *val, size_t len, void **ptr, int *enc) {
    const obj_type_ops_t *ops = type > OBJ_STRING && type < OBJ_TYPE_MAX ? type_ops[type] : NULL;
    uint64_t count;
    if (!ops || !ops->create || !ops->add || obj_value_each(type, val, len, &count, NULL, NULL))
        return KERR_CORRUPT;
    decode_ctx_t d = {ops, NULL, 0, 0};
    d.ptr = ops->create(count, &d.enc); /* the hint counts `each` calls, as the loader's */
    obj_value_each(type, val, len, &count, decode_elem_cb, &d);
    if (d.rc == 0 && ops->done)
        d.rc = ops->done(d.ptr, d.enc);
    if (d.rc < 0) {
        ops->free(d.ptr, d.enc);
        return KERR_CORRUPT;
    }
    *ptr = d.ptr;
    *enc = d.enc;
    return 0;
}

uint64_t
obj_tiered_id(const kobj_t *o, uint32_t *vlen) {
    ASSERT(obj_encoding(o) == OBJ_ENC_TIERED);
    uint64_t n, id;
    size_t off = val_off(o);
    off += varint_get(bytes(o) + off, &n);
    ASSERT(n == OBJ_TIERED_STUB_BYTES);
    memcpy(&id, bytes(o) + off, 8);
    memcpy(vlen, bytes(o) + off + 8, 4);
    return id;
}

void
obj_free(kobj_t *o) {
    if (!o)
        return;
    if (obj_encoding(o) == OBJ_ENC_TIERED) { /* no structure behind it: only its id */
        uint32_t vlen;
        uint64_t id = obj_tiered_id(o, &vlen);
        if (tiered_free_hook)
            tiered_free_hook(tiered_free_ctx, id, vlen);
        kfree(o);
        return;
    }
    if (obj_type(o) != OBJ_STRING) {
        const obj_type_ops_t *ops = type_ops[obj_type(o)];
        ASSERT(ops && ops->free);
        ops->free(obj_ptr(o), obj_encoding(o));
    }
    kfree(o);
}

size_t
obj_alloc_size(const kobj_t *o) {
    return kmem_usable(o);
}

void
obj_register_type(int type, const obj_type_ops_t *ops) {
    ASSERT(type > 0 && type < OBJ_TYPE_MAX);
    type_ops[type] = ops;
}

const obj_type_ops_t *
obj_ops(int type) {
    return type >= 0 && type < OBJ_TYPE_MAX ? type_ops[type] : NULL;
}

const char *
obj_type_name(int type) {
    if (type == OBJ_STRING)
        return "string";
    const obj_type_ops_t *ops = obj_ops(type);
    return ops && ops->name ? ops->name : "unknown";
}

const char *
obj_encoding_name(const kobj_t *o) {
    switch (obj_encoding(o)) {
    case OBJ_ENC_STR: {
        size_t n;
        const char *s = obj_str(o, &n);
        if (((const uint8_t *)o)[1] & OBJ_F_RAW)
            return "raw";
        if (n <= 20 && util_str_is_canonical_int(s, n, NULL))
            return "int";
        return n <= 44 ? "embstr" : "raw";
    }
    case OBJ_ENC_LISTPACK: return "listpack";
    case OBJ_ENC_QUICKLIST: return "quicklist";
    case OBJ_ENC_INTSET: return "intset";
    case OBJ_ENC_HT:
    case OBJ_ENC_HASH_TTL: return "hashtable";
    case OBJ_ENC_SKIPLIST: return "skiplist";
    case OBJ_ENC_TIERED: return "tiered";
    case OBJ_ENC_BLOOM: return "raw";
    case OBJ_ENC_STREAM: return "stream";
    default: return "unknown";
    }
}
