/*
 * rdb_blob.c - checking walkers of the packed blobs inside RDB values (rdb_value_int.h): the
 * listpack (Redis 7.0+), the ziplist (Redis 3.2 - 6.2), the intset and the zipmap (Redis < 2.6).
 *
 * These are Redis' and Valkey's in-memory layouts, saved as one RDB string. They are read here
 * from their specification, never through Keel's own packed list (ds/lp.c), whose layout is
 * Keel's business. All multi-byte fields are little-endian unless said otherwise.
 *
 * Listpack:
 *   total_bytes: u32 | count: u16 (65535: "count it") | entries | 0xFF
 *   entry = encoding [+ data] + backlen, where backlen is the size of encoding + data written in
 *   1-5 bytes of 7 bits, most significant group first, every byte but the first with bit 7 set
 *   (so it can be read from the right). Encodings (first byte):
 *     0xxxxxxx              7-bit unsigned integer
 *     10xxxxxx              string of 0-63 bytes follows
 *     110xxxxx yyyyyyyy     13-bit signed integer (two's complement)
 *     1110xxxx yyyyyyyy     string of up to 4095 bytes (12-bit length, high bits first)
 *     11110000 + u32        string, 32-bit length
 *     11110001 / 0010 / 0011 / 0100   int16 / int24 / int32 / int64 follows
 *     11111111              end; anything else is invalid
 *
 * Ziplist:
 *   zlbytes: u32 | zltail: u32 (offset of the last entry) | zllen: u16 (65535: count it)
 *   | entries | 0xFF
 *   entry = prevlen (1 byte < 254, or 0xFE + u32) + encoding + data, where prevlen is the whole
 *   size of the previous entry (0 for the first). Encodings (first byte):
 *     00pppppp              string of 0-63 bytes
 *     01pppppp qqqqqqqq     string, 14-bit length (big-endian)
 *     10000000 + u32 BE     string, 32-bit length
 *     11000000 / 11010000 / 11100000   int16 / int32 / int64
 *     11110000              int24
 *     11111110              int8
 *     1111xxxx              xxxx in 0001..1101: the integer xxxx - 1 (0..12), no data
 *
 * Intset: encoding: u32 (2, 4 or 8: bytes per member) | length: u32 | members, strictly
 * ascending signed integers of that width.
 *
 * Zipmap: zmlen: u8 (254: count it) | entries | 0xFF, where an entry is
 *   len(key) key len(value) free: u8 value [free bytes of padding]
 * and len is one byte below 254, or 0xFE + u32.
 *
 * Rules beyond the layouts (what Redis' deep sanitisation checks, so a blob either server
 * accepts is accepted here and a broken one is refused): the blob's size field equals its
 * length, the terminator is its last byte, counts agree unless saturated, a listpack's backlens
 * and a ziplist's prevlens and tail offset are exact, an intset is strictly ascending.
 */
#include <string.h>

#include "kerr.h"
#include "rdb_value_int.h"
#include "util.h"

static uint32_t
le16(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t
le32(const uint8_t *p) {
    return le16(p) | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t
le64(const uint8_t *p) {
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static int
bad(const char **why, const char *what) {
    if (why)
        *why = what;
    return KERR_CORRUPT;
}

/* Hands an integer element to cb as decimal text. */
static int
emit_int(rdb_elem_cb cb, void *ctx, int64_t v) {
    if (!cb)
        return 0;
    char buf[UTIL_LL_STR_MAX];
    int n = util_ll2str(buf, sizeof buf, v);
    return cb(ctx, buf, (size_t)n);
}

static size_t
lp_backlen_size(uint64_t l) {
    if (l <= 127)
        return 1;
    if (l < 16383)
        return 2;
    if (l < 2097151)
        return 3;
    if (l < 268435455)
        return 4;
    return 5;
}

/* The backlen of an entry of l bytes must be written exactly as a writer would. */
static bool
lp_backlen_ok(const uint8_t *p, uint64_t l, size_t size) {
    for (size_t i = 0; i < size; i++) {
        uint8_t want = (uint8_t)((l >> (7 * (size - 1 - i))) & 127);
        if (i > 0)
            want |= 128;
        if (p[i] != want)
            return false;
    }
    return true;
}

/* One listpack entry at p (end: the terminator's position): its size without the backlen,
 * and its value (a string at *s, or an integer in *v with *s NULL). */
static int
lp_entry(const uint8_t *p, const uint8_t *end, size_t *size, const uint8_t **s, size_t *sn,
         int64_t *v) {
    size_t avail = (size_t)(end - p);
    uint8_t b = p[0];
    size_t hdr, data;
    *s = NULL;
    if (!(b & 0x80)) {
        *v = b;
        hdr = 1, data = 0;
    } else if ((b & 0xC0) == 0x80) {
        hdr = 1, data = b & 0x3F;
        *sn = data;
    } else if ((b & 0xE0) == 0xC0) {
        if (avail < 2)
            return -1;
        int64_t x = (int64_t)((b & 0x1F) << 8 | p[1]);
        *v = x >= 4096 ? x - 8192 : x;
        hdr = 2, data = 0;
    } else if ((b & 0xF0) == 0xE0) {
        if (avail < 2)
            return -1;
        hdr = 2, data = (size_t)((b & 0x0F) << 8 | p[1]);
        *sn = data;
    } else if (b == 0xF0) {
        if (avail < 5)
            return -1;
        hdr = 5, data = le32(p + 1);
        *sn = data;
    } else if (b >= 0xF1 && b <= 0xF4) {
        static const uint8_t width[] = {2, 3, 4, 8};
        hdr = 1, data = width[b - 0xF1];
        if (avail < 1 + data)
            return -1;
        uint64_t u = data == 8 ? le64(p + 1) : data == 4 ? le32(p + 1) : le16(p + 1);
        if (data == 3)
            u |= (uint64_t)p[3] << 16;
        int shift = 64 - 8 * (int)data;
        *v = (int64_t)(u << shift) >> shift; /* sign-extend the width */
    } else {
        return -1;
    }
    if (hdr > avail || data > avail - hdr)
        return -1;
    if ((b & 0xC0) == 0x80 || (b & 0xF0) == 0xE0 || b == 0xF0)
        *s = p + hdr;
    *size = hdr + data;
    return 0;
}

int
rdb_listpack_walk(const uint8_t *p, size_t n, rdb_elem_cb cb, void *ctx, uint64_t *count,
                  const char **why) {
    *count = 0;
    if (n < 7 || le32(p) != n || p[n - 1] != 0xFF)
        return bad(why, "listpack header or size");
    const uint8_t *end = p + n - 1, *q = p + 6;
    while (q < end) {
        size_t size, sn = 0;
        const uint8_t *s;
        int64_t v = 0;
        if (lp_entry(q, end, &size, &s, &sn, &v) < 0)
            return bad(why, "listpack entry");
        size_t bl = lp_backlen_size(size);
        if (bl > (size_t)(end - q) - size || !lp_backlen_ok(q + size, size, bl))
            return bad(why, "listpack backlen");
        int rc = s ? (cb ? cb(ctx, (const char *)s, sn) : 0) : emit_int(cb, ctx, v);
        if (rc < 0)
            return rc;
        q += size + bl;
        (*count)++;
    }
    uint32_t hdr_count = le16(p + 4);
    if (hdr_count != 65535 ? hdr_count != *count : *count < 65535)
        return bad(why, "listpack count");
    return 0;
}

/* One ziplist entry's encoding at p (end: the terminator's position). */
static int
zl_entry(const uint8_t *p, const uint8_t *end, size_t *size, const uint8_t **s, size_t *sn,
         int64_t *v) {
    size_t avail = (size_t)(end - p), hdr = 1, data = 0;
    uint8_t e = p[0];
    *s = NULL;
    switch (e >> 6) {
    case 0: data = e & 0x3F; break;
    case 1:
        if (avail < 2)
            return -1;
        hdr = 2, data = (size_t)((e & 0x3F) << 8 | p[1]);
        break;
    case 2:
        if (e != 0x80 || avail < 5)
            return -1;
        hdr = 5;
        data = (size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4];
        break;
    default:
        if (e >= 0xF1 && e <= 0xFD) {
            *v = (e & 0x0F) - 1;
        } else {
            switch (e) {
            case 0xFE: data = 1; break;
            case 0xC0: data = 2; break;
            case 0xF0: data = 3; break;
            case 0xD0: data = 4; break;
            case 0xE0: data = 8; break;
            default: return -1;
            }
            if (avail < 1 + data)
                return -1;
            uint64_t u = data == 8 ? le64(p + 1) : data == 4 ? le32(p + 1) : le16(p + 1);
            if (data == 1)
                u = p[1];
            if (data == 3)
                u |= (uint64_t)p[3] << 16;
            int shift = 64 - 8 * (int)data;
            *v = (int64_t)(u << shift) >> shift;
        }
        *size = 1 + data;
        return 0;
    }
    if (hdr > avail || data > avail - hdr)
        return -1;
    *s = p + hdr;
    *sn = data;
    *size = hdr + data;
    return 0;
}

int
rdb_ziplist_walk(const uint8_t *p, size_t n, rdb_elem_cb cb, void *ctx, uint64_t *count,
                 const char **why) {
    *count = 0;
    if (n < 11 || le32(p) != n || p[n - 1] != 0xFF)
        return bad(why, "ziplist header or size");
    const uint8_t *end = p + n - 1, *q = p + 10, *last = p + 10;
    size_t prev = 0;
    while (q < end) {
        const uint8_t *start = q;
        size_t prevlen;
        if (q[0] < 254) {
            prevlen = q[0];
            q++;
        } else if (q[0] == 254 && end - q > 5) {
            prevlen = le32(q + 1);
            q += 5;
        } else {
            return bad(why, "ziplist prevlen");
        }
        if (prevlen != prev)
            return bad(why, "ziplist prevlen");
        size_t size, sn = 0;
        const uint8_t *s;
        int64_t v = 0;
        if (q >= end || zl_entry(q, end, &size, &s, &sn, &v) < 0)
            return bad(why, "ziplist entry");
        int rc = s ? (cb ? cb(ctx, (const char *)s, sn) : 0) : emit_int(cb, ctx, v);
        if (rc < 0)
            return rc;
        q += size;
        prev = (size_t)(q - start);
        last = start;
        (*count)++;
    }
    uint32_t hdr_count = le16(p + 8);
    if (hdr_count != 65535 ? hdr_count != *count : *count < 65535)
        return bad(why, "ziplist count");
    if (le32(p + 4) != (uint32_t)(last - p))
        return bad(why, "ziplist tail offset");
    return 0;
}

int
rdb_intset_walk(const uint8_t *p, size_t n, rdb_elem_cb cb, void *ctx, uint64_t *count,
                const char **why) {
    *count = 0;
    if (n < 8)
        return bad(why, "intset header");
    uint32_t width = le32(p), len = le32(p + 4);
    if ((width != 2 && width != 4 && width != 8) || (uint64_t)len * width != n - 8)
        return bad(why, "intset encoding or size");
    int64_t prev = 0;
    for (uint32_t i = 0; i < len; i++) {
        const uint8_t *q = p + 8 + (size_t)i * width;
        int64_t v = width == 8   ? (int64_t)le64(q)
                    : width == 4 ? (int32_t)le32(q)
                                 : (int16_t)le16(q);
        if (i > 0 && v <= prev)
            return bad(why, "intset order");
        prev = v;
        int rc = emit_int(cb, ctx, v);
        if (rc < 0)
            return rc;
    }
    *count = len;
    return 0;
}

/* A zipmap length at *q (before end): one byte, or 0xFE and a u32. */
static int
zm_len(const uint8_t **q, const uint8_t *end, size_t *len) {
    if (*q >= end)
        return -1;
    if (**q < 254) {
        *len = **q;
        *q += 1;
        return 0;
    }
    if (**q != 254 || end - *q < 5)
        return -1;
    *len = le32(*q + 1);
    *q += 5;
    return 0;
}

int
rdb_zipmap_walk(const uint8_t *p, size_t n, rdb_elem_cb cb, void *ctx, uint64_t *count,
                const char **why) {
    *count = 0;
    if (n < 2 || p[n - 1] != 0xFF)
        return bad(why, "zipmap header or end");
    const uint8_t *end = p + n - 1, *q = p + 1;
    uint64_t pairs = 0;
    while (q < end) {
        size_t kn, vn;
        if (zm_len(&q, end, &kn) < 0 || kn > (size_t)(end - q))
            return bad(why, "zipmap key");
        const uint8_t *k = q;
        q += kn;
        if (zm_len(&q, end, &vn) < 0 || q >= end)
            return bad(why, "zipmap value");
        size_t pad = *q++;
        if (vn > (size_t)(end - q) || pad > (size_t)(end - q) - vn)
            return bad(why, "zipmap value");
        int rc = cb ? cb(ctx, (const char *)k, kn) : 0;
        if (rc == 0 && cb)
            rc = cb(ctx, (const char *)q, vn);
        if (rc < 0)
            return rc;
        q += vn + pad;
        pairs++;
    }
    if (p[0] < 254 && p[0] != pairs)
        return bad(why, "zipmap count");
    *count = pairs * 2;
    return 0;
}
