/*
 * rdb_value.c - DUMP payloads: one value in Redis/Valkey's RDB encoding (rdb_value.h), read
 * into a Keel object and written from one.
 *
 * Building blocks (big-endian where a width is given, as Redis writes them):
 *
 *   length     00xxxxxx                 0..63
 *              01xxxxxx yyyyyyyy        14 bits
 *              10000000 + u32 BE        32 bits
 *              10000001 + u64 BE        64 bits
 *              11xxxxxx                 "special string encoding xxxxxx" (strings only)
 *   string     length + bytes, or a special encoding:
 *              11000000 int8 | 11000001 int16 LE | 11000010 int32 LE  (the decimal text of it)
 *              11000011 clen:length ulen:length + clen bytes of LZF giving ulen bytes
 *   double     (type 3) u8 n + n bytes of text; n = 253 NaN, 254 +inf, 255 -inf
 *   binary     (type 5) IEEE 754 double, 8 bytes LE
 *
 * Values by type byte (what each becomes here):
 *
 *   0  string        string
 *   1  list          length n, n strings
 *   2  set           length n, n strings
 *   3  zset          length n, n (string, text double)
 *   4  hash          length n, n (field string, value string)
 *   5  zset_2        length n, n (string, binary double)
 *   9  hash zipmap   string holding a zipmap            (rdb_blob.c has the blob layouts)
 *   10 list ziplist  string holding a ziplist
 *   11 set intset    string holding an intset
 *   12 zset ziplist  string holding a ziplist of member, score
 *   13 hash ziplist  string holding a ziplist of field, value
 *   14 quicklist     length n, n strings holding a ziplist each
 *   16 hash listpack string holding a listpack of field, value
 *   17 zset listpack string holding a listpack of member, score
 *   18 quicklist 2   length n, n (container: length 1 = PLAIN, 2 = PACKED; string: the element
 *                    itself when PLAIN, a listpack of elements when PACKED)
 *   20 set listpack  string holding a listpack
 *   15, 19, 21 streams   node listpacks, metadata, consumer groups: rdb_stream.c has the layout
 *   22 hash 2        (Valkey 9, RDB 80) length n, n (field, value, 8-byte LE expiry ms, -1 none)
 *   6, 7 module values: refused (KERR_INVAL): Keel has no such type.
 *
 * The building blocks (lengths, strings, LZF, 8-byte times) are in rdb_io.c, shared with
 * rdb_stream.c.
 *
 * Reading, in two steps per value: the RDB structure is walked with every length checked
 * against the bytes that remain (an LZF string may claim at most LZF_EXPAND_MAX times its
 * compressed size), then the elements go into a structure built by the type's own create/add
 * (object.h), which picks the encoding from this server's limits exactly as a snapshot load does.
 * A packed blob is checked whole (rdb_blob.c) before its first element is added, and a collection's
 * size hint never exceeds the bytes rdb_rd_left, so a lying length cannot cause a large allocation.
 * Duplicates, NaN scores, empty collections and bytes after the value are refused.
 *
 * Writing: the plain forms (types 0, 1, 2, 4, 5) at version RDB_VERSION_WRITE, a stream as type
 * 21 at RDB_VERSION_STREAM_WRITE, a hash with field expiries as type 22 at RDB_VERSION_VALKEY9; see rdb_value.h
 * for why. The elements come from the type's `each`, so every encoding writes the same bytes.
 */
#include "rdb_value.h"

#include <math.h>
#include <string.h>

#include "crc64.h"
#include "kerr.h"
#include "kmem.h"
#include "rdb_value_int.h"
#include "t_hash.h"
#include "t_stream.h"
#include "util.h"


/* ---- reading ---------------------------------------------------------------------------- */

/* The value under construction through the type's create/add. */
typedef struct build {
    const obj_type_ops_t *ops;
    int type;
    void *ptr;
    int enc;
    uint64_t added;
    /* sorted sets from a packed blob: the member waiting for its score */
    bool have_member;
    const char *member;
    size_t member_n;
    char member_buf[64];
    const char **why;
} build_t;


static void
build_begin(build_t *b, uint64_t hint) {
    b->ptr = b->ops->create(hint, &b->enc);
}

static int
build_add(build_t *b, const char *p, size_t n, double score) {
    int rc = b->ops->add(&b->ptr, &b->enc, p, n, score);
    if (rc < 0) {
        *b->why = "an element the type refuses (duplicate member or field?)";
        return KERR_CORRUPT;
    }
    b->added++;
    return 0;
}

/* rdb_elem_cb for blobs: sorted sets pair each member with the score that follows it. */
static int
blob_elem_cb(void *ctx, const char *p, size_t n) {
    build_t *b = ctx;
    if (b->type != OBJ_ZSET)
        return build_add(b, p, n, 0);
    if (!b->have_member) {
        if (n <= sizeof b->member_buf) { /* integers are formatted in the walker's buffer */
            memcpy(b->member_buf, p, n);
            p = b->member_buf;
        }
        b->member = p;
        b->member_n = n;
        b->have_member = true;
        return 0;
    }
    double score;
    b->have_member = false;
    if (!util_parse_double(p, n, &score)) {
        *b->why = "a score that is not a number";
        return KERR_CORRUPT;
    }
    return build_add(b, b->member, b->member_n, score);
}

typedef int (*walk_fn)(const uint8_t *p, size_t n, rdb_elem_cb cb, void *ctx, uint64_t *count,
                       const char **why);

/* A string holding a packed blob: checked whole first, then its elements added. `started`:
 * the structure already exists (quicklist nodes after the first). */
static int
rd_blob(rdb_rdr_t *r, build_t *b, walk_fn walk, bool started) {
    rdb_str_t s;
    uint64_t count;
    if (rdb_rd_string(r, &s) < 0)
        return KERR_CORRUPT;
    const uint8_t *p = (const uint8_t *)s.p;
    int rc = walk(p, s.n, NULL, NULL, &count, &r->why);
    if (rc == 0 && (b->type == OBJ_HASH || b->type == OBJ_ZSET) && count % 2)
        rc = rdb_rd_fail(r, "an odd number of elements in a blob of pairs");
    if (rc == 0) {
        if (!started)
            build_begin(b, count);
        rc = walk(p, s.n, blob_elem_cb, b, &count, &r->why);
    }
    rdb_str_release(&s);
    return rc < 0 ? KERR_CORRUPT : 0;
}

/* A quicklist (types 14 and 18): a length, then nodes. */
static int
rd_quicklist(rdb_rdr_t *r, build_t *b, bool v2) {
    uint64_t nodes;
    if (rdb_rd_len(r, &nodes, NULL) < 0)
        return KERR_CORRUPT;
    if (nodes == 0 || nodes > rdb_rd_left(r))
        return rdb_rd_fail(r, "bad quicklist node count");
    build_begin(b, 0);
    for (uint64_t i = 0; i < nodes; i++) {
        uint64_t container = 2;
        if (v2 && rdb_rd_len(r, &container, NULL) < 0)
            return KERR_CORRUPT;
        if (container == 1) { /* PLAIN: one element */
            rdb_str_t s;
            if (rdb_rd_string(r, &s) < 0)
                return KERR_CORRUPT;
            int rc = build_add(b, s.p, s.n, 0);
            rdb_str_release(&s);
            if (rc < 0)
                return rc;
        } else if (container != 2) {
            return rdb_rd_fail(r, "unknown quicklist container");
        } else if (rd_blob(r, b, v2 ? rdb_listpack_walk : rdb_ziplist_walk, true) < 0) {
            return KERR_CORRUPT;
        }
    }
    return 0;
}

static int
rd_score(rdb_rdr_t *r, int rdbtype, double *score) {
    const uint8_t *b;
    if (rdbtype == RDB_TYPE_ZSET_2) {
        if (rdb_rd_bytes(r, 8, &b) < 0)
            return KERR_CORRUPT;
        uint64_t u = 0;
        for (int i = 7; i >= 0; i--)
            u = u << 8 | b[i];
        memcpy(score, &u, 8);
    } else {
        if (rdb_rd_bytes(r, 1, &b) < 0)
            return KERR_CORRUPT;
        if (b[0] >= 253) {
            *score = b[0] == 253 ? NAN : b[0] == 254 ? INFINITY : -INFINITY;
        } else {
            const uint8_t *t;
            if (rdb_rd_bytes(r, b[0], &t) < 0 || !util_parse_double((const char *)t, b[0], score))
                return rdb_rd_fail(r, "a score that is not a number");
        }
    }
    if (isnan(*score))
        return rdb_rd_fail(r, "a NaN score");
    return 0;
}

/* Types 1-5: a count, then strings (and scores). */
static int
rd_plain(rdb_rdr_t *r, build_t *b, int rdbtype) {
    uint64_t len;
    if (rdb_rd_len(r, &len, NULL) < 0)
        return KERR_CORRUPT;
    uint64_t elems = rdbtype == RDB_TYPE_HASH ? len * 2 : len;
    if (len == 0 || len > rdb_rd_left(r) || elems > rdb_rd_left(r))
        return rdb_rd_fail(r, "bad element count");
    build_begin(b, elems);
    for (uint64_t i = 0; i < elems; i++) {
        rdb_str_t s;
        double score = 0;
        if (rdb_rd_string(r, &s) < 0)
            return KERR_CORRUPT;
        int rc = 0;
        if (b->type == OBJ_ZSET)
            rc = rd_score(r, rdbtype, &score);
        if (rc == 0)
            rc = build_add(b, s.p, s.n, score);
        rdb_str_release(&s);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Type 22 (Valkey 9): a count, then (field, value, ms8 expiry, -1 for none) per field. Fields
 * with an expiry make an OBJ_ENC_HASH_TTL hash; when no field has one, the hash is built like
 * any other (the type's create/add), so it gets the encoding a plain hash of it would have.
 * Fields already due are kept: the first lookup of the key removes them, as after a load. */
static int
rd_hash2(rdb_rdr_t *r, const char *key, size_t klen, int64_t expire_ms, kobj_t **out) {
    uint64_t len;
    if (rdb_rd_len(r, &len, NULL) < 0)
        return KERR_CORRUPT;
    if (len == 0 || len > rdb_rd_left(r) / 10)
        return rdb_rd_fail(r, "bad element count");
    rdb_rdr_t scan = *r; /* first pass: is there an expiry at all? */
    bool any = false;
    for (uint64_t i = 0; i < len; i++) {
        rdb_str_t f, v;
        int64_t ms;
        if (rdb_rd_string(&scan, &f) < 0)
            return rdb_rd_fail(r, scan.why);
        rdb_str_release(&f);
        if (rdb_rd_string(&scan, &v) < 0)
            return rdb_rd_fail(r, scan.why);
        rdb_str_release(&v);
        if (rdb_rd_ms8(&scan, &ms) < 0)
            return rdb_rd_fail(r, scan.why);
        if (ms < HASH_NO_TTL)
            return rdb_rd_fail(r, "a negative field expiry");
        any = any || ms != HASH_NO_TTL;
    }
    const obj_type_ops_t *ops = obj_ops(OBJ_HASH);
    build_t b = {.ops = ops, .type = OBJ_HASH, .why = &r->why};
    thash_t h = {0};
    if (any)
        h = hash_new_ttl(len);
    else
        build_begin(&b, 2 * len);
    int rc = 0;
    for (uint64_t i = 0; i < len && rc == 0; i++) {
        rdb_str_t f, v;
        int64_t ms;
        rdb_rd_string(r, &f); /* the first pass read these same bytes */
        rdb_rd_string(r, &v);
        rdb_rd_ms8(r, &ms);
        if (any) {
            rc = hash_load_ttl_add(&h, f.p, f.n, v.p, v.n, ms);
            if (rc < 0)
                rc = rdb_rd_fail(r, "a duplicate field, or one too long");
        } else if ((rc = build_add(&b, f.p, f.n, 0)) == 0) {
            rc = build_add(&b, v.p, v.n, 0);
        }
        rdb_str_release(&f);
        rdb_str_release(&v);
    }
    if (rc < 0) {
        if (any)
            hash_release(&h);
        else
            ops->free(b.ptr, b.enc);
        return KERR_CORRUPT;
    }
    *out = any ? obj_new_ptr(OBJ_HASH, h.enc, key, klen, h.p, expire_ms)
               : obj_new_ptr(OBJ_HASH, b.enc, key, klen, b.ptr, expire_ms);
    return 0;
}

/* The Keel type an RDB type byte becomes; -1 when none. */
static int
obj_type_of_rdb(int t) {
    switch (t) {
    case RDB_TYPE_STRING: return OBJ_STRING;
    case RDB_TYPE_LIST:
    case RDB_TYPE_LIST_ZIPLIST:
    case RDB_TYPE_LIST_QUICKLIST:
    case RDB_TYPE_LIST_QUICKLIST_2: return OBJ_LIST;
    case RDB_TYPE_SET:
    case RDB_TYPE_SET_INTSET:
    case RDB_TYPE_SET_LISTPACK: return OBJ_SET;
    case RDB_TYPE_ZSET:
    case RDB_TYPE_ZSET_2:
    case RDB_TYPE_ZSET_ZIPLIST:
    case RDB_TYPE_ZSET_LISTPACK: return OBJ_ZSET;
    case RDB_TYPE_HASH:
    case RDB_TYPE_HASH_ZIPMAP:
    case RDB_TYPE_HASH_ZIPLIST:
    case RDB_TYPE_HASH_LISTPACK: return OBJ_HASH;
    default: return -1;
    }
}

static int
rd_collection(rdb_rdr_t *r, build_t *b, int t) {
    switch (t) {
    case RDB_TYPE_LIST:
    case RDB_TYPE_SET:
    case RDB_TYPE_ZSET:
    case RDB_TYPE_HASH:
    case RDB_TYPE_ZSET_2: return rd_plain(r, b, t);
    case RDB_TYPE_HASH_ZIPMAP: return rd_blob(r, b, rdb_zipmap_walk, false);
    case RDB_TYPE_SET_INTSET: return rd_blob(r, b, rdb_intset_walk, false);
    case RDB_TYPE_LIST_ZIPLIST:
    case RDB_TYPE_ZSET_ZIPLIST:
    case RDB_TYPE_HASH_ZIPLIST: return rd_blob(r, b, rdb_ziplist_walk, false);
    case RDB_TYPE_HASH_LISTPACK:
    case RDB_TYPE_ZSET_LISTPACK:
    case RDB_TYPE_SET_LISTPACK: return rd_blob(r, b, rdb_listpack_walk, false);
    case RDB_TYPE_LIST_QUICKLIST: return rd_quicklist(r, b, false);
    default: return rd_quicklist(r, b, true); /* RDB_TYPE_LIST_QUICKLIST_2 */
    }
}

int
rdb_value_decode(const void *body, size_t len, const char *key, size_t klen, int64_t expire_ms,
                 kobj_t **out, const char **why) {
    rdb_rdr_t r = {body, len, 0, NULL};
    const uint8_t *t;
    int rc = KERR_CORRUPT;
    *out = NULL;
    if (rdb_rd_bytes(&r, 1, &t) < 0)
        goto done;
    if (t[0] == RDB_TYPE_STREAM_LISTPACKS || t[0] == RDB_TYPE_STREAM_LISTPACKS_2 ||
        t[0] == RDB_TYPE_STREAM_LISTPACKS_3) {
        stream_t *st;
        if ((rc = rdb_stream_read(&r, t[0], &st)) < 0)
            goto done;
        if (r.pos != r.n) {
            stream_free(st);
            rc = rdb_rd_fail(&r, "bytes after the value");
            goto done;
        }
        *out = obj_new_ptr(OBJ_STREAM, OBJ_ENC_STREAM, key, klen, st, expire_ms);
        goto done;
    }
    if (t[0] == RDB_TYPE_HASH_2) {
        if ((rc = rd_hash2(&r, key, klen, expire_ms, out)) == 0 && r.pos != r.n) {
            obj_free(*out);
            *out = NULL;
            rc = rdb_rd_fail(&r, "bytes after the value");
        }
        goto done;
    }
    int type = obj_type_of_rdb(t[0]);
    const obj_type_ops_t *ops = type > OBJ_STRING ? obj_ops(type) : NULL;
    if (type < 0 || (type > OBJ_STRING && (!ops || !ops->create || !ops->add))) {
        r.why = "a value type this server cannot restore";
        rc = KERR_INVAL;
        goto done;
    }
    if (type == OBJ_STRING) {
        rdb_str_t s;
        if ((rc = rdb_rd_string(&r, &s)) < 0)
            goto done;
        if (r.pos == r.n)
            *out = obj_new_str(key, klen, s.p, s.n, expire_ms);
        rdb_str_release(&s);
    } else {
        build_t b = {.ops = ops, .type = type, .why = &r.why};
        rc = rd_collection(&r, &b, t[0]);
        if (rc == 0 && b.added == 0)
            rc = rdb_rd_fail(&r, "an empty collection");
        if (rc == 0 && r.pos == r.n) {
            *out = obj_new_ptr(type, b.enc, key, klen, b.ptr, expire_ms);
        } else if (b.ptr) {
            ops->free(b.ptr, b.enc);
        }
    }
    if (rc == 0 && !*out)
        rc = rdb_rd_fail(&r, "bytes after the value");
done:
    if (!*out && rc == 0)
        rc = KERR_CORRUPT;
    if (why)
        *why = r.why ? r.why : "malformed value";
    return rc;
}

int
rdb_payload_check(const void *payload, size_t len, size_t *body_len, unsigned *version) {
    const uint8_t *p = payload;
    if (len < RDB_TRAILER_BYTES)
        return KERR_CORRUPT;
    const uint8_t *f = p + len - RDB_TRAILER_BYTES;
    unsigned ver = (unsigned)f[0] | (unsigned)f[1] << 8;
    if (version)
        *version = ver;
    if (ver == 0 || (ver > RDB_VERSION_READ_MAX && ver != RDB_VERSION_VALKEY9))
        return KERR_VERSION;
    uint64_t crc = crc64_extend(0, p, len - 8), got = 0;
    for (int i = 7; i >= 0; i--)
        got = got << 8 | f[2 + i];
    if (crc != got)
        return KERR_CORRUPT;
    *body_len = len - RDB_TRAILER_BYTES;
    return 0;
}

/* ---- writing ---------------------------------------------------------------------------- */


typedef struct put_ctx {
    sbuf_t *out;
    bool scores;
} put_ctx_t;

static void
put_elem_cb(void *ctx, const char *p, size_t n, double score) {
    put_ctx_t *pc = ctx;
    rdb_put_string(pc->out, p, n);
    if (pc->scores) {
        uint64_t u;
        uint8_t b[8];
        memcpy(&u, &score, 8);
        for (int i = 0; i < 8; i++)
            b[i] = (uint8_t)(u >> (8 * i));
        sbuf_append(pc->out, (const char *)b, 8);
    }
}

/* Type 22: every field with its expiry, -1 for none (as Valkey 9 writes it). */
static void
put_hash2(const thash_t *h, sbuf_t *out) {
    rdb_put_len(out, hash_len(h));
    hash_iter_t it;
    hpair_t pr;
    int64_t ms;
    char fb[UTIL_LL_STR_MAX], vb[UTIL_LL_STR_MAX];
    hash_iter_init(&it, h);
    while (hash_iter_next_ttl(&it, &pr, &ms)) {
        size_t fn, vn;
        const char *f = hval_bytes(&pr.f, fb, &fn);
        const char *v = hval_bytes(&pr.v, vb, &vn);
        rdb_put_string(out, f, fn);
        rdb_put_string(out, v, vn);
        rdb_put_ms8(out, ms);
    }
    hash_iter_done(&it);
}

int
rdb_value_dump(const kobj_t *o, sbuf_t *out) {
    int type = obj_type(o);
    static const int8_t rdb_type[] = {
        [OBJ_STRING] = RDB_TYPE_STRING, [OBJ_LIST] = RDB_TYPE_LIST, [OBJ_SET] = RDB_TYPE_SET,
        [OBJ_ZSET] = RDB_TYPE_ZSET_2,   [OBJ_HASH] = RDB_TYPE_HASH,
    };
    if (obj_is_tiered(o) || (type > OBJ_HASH && type != OBJ_STREAM))
        return KERR_INVAL;
    unsigned version = RDB_VERSION_WRITE;
    size_t start = out->len;
    thash_t h = {0}; /* only a hash has one (obj_ptr of a string is no pointer) */
    if (type == OBJ_HASH)
        h = (thash_t){obj_ptr(o), obj_encoding(o)};
    if (type == OBJ_HASH && h.enc == OBJ_ENC_HASH_TTL && hash_volatile_count(&h) > 0) {
        /* the plain hash encoding has no place for the expiries: dropping them would make the
         * fields live for ever after a RESTORE */
        rdb_put_byte(out, RDB_TYPE_HASH_2);
        put_hash2(&h, out);
        version = RDB_VERSION_VALKEY9;
    } else if (type == OBJ_STREAM) {
        rdb_put_byte(out, RDB_TYPE_STREAM_LISTPACKS_3);
        rdb_stream_write(obj_ptr(o), out);
        version = RDB_VERSION_STREAM_WRITE;
    } else if (type == OBJ_STRING) {
        rdb_put_byte(out, (uint8_t)rdb_type[type]);
        size_t n;
        const char *p = obj_str(o, &n);
        rdb_put_string(out, p, n);
    } else {
        rdb_put_byte(out, (uint8_t)rdb_type[type]);
        const obj_type_ops_t *ops = obj_ops(type);
        uint64_t count = ops->count(obj_ptr(o), obj_encoding(o));
        rdb_put_len(out, type == OBJ_HASH ? count / 2 : count);
        put_ctx_t pc = {out, type == OBJ_ZSET};
        ops->each(obj_ptr(o), obj_encoding(o), put_elem_cb, &pc);
    }
    uint8_t trailer[RDB_TRAILER_BYTES] = {(uint8_t)version, (uint8_t)(version >> 8)};
    sbuf_append(out, (const char *)trailer, 2);
    uint64_t crc = crc64_extend(0, out->p + start, out->len - start);
    for (int i = 0; i < 8; i++)
        trailer[2 + i] = (uint8_t)(crc >> (8 * i));
    sbuf_append(out, (const char *)trailer + 2, 8);
    return 0;
}
