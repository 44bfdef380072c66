/*
 * rdb_io.c - the building blocks of RDB values (rdb_value_int.h): lengths, strings in their
 * plain, integer and LZF forms, 8-byte millisecond times, read from a payload with every length
 * checked against what is left, and written as Redis writes them. rdb_value.c (every type) and
 * rdb_stream.c (streams) build on them; the layouts are in rdb_value.c's header comment.
 */
#include <lzf.h>
#include <string.h>

#include "kerr.h"
#include "kmem.h"
#include "rdb_value_int.h"
#include "util.h"

/* LZF's longest back reference is 3 bytes for 264 bytes of output: a compressed string can never
 * decode to more than this many times its size, so a claim above it is a lie. */
#define LZF_EXPAND_MAX 88
/* Strings longer than this are tried with LZF when written (Redis' threshold). */
#define LZF_WRITE_MIN 20

enum { RDB_ENC_INT8 = 0, RDB_ENC_INT16 = 1, RDB_ENC_INT32 = 2, RDB_ENC_LZF = 3 };

/* ---- reading ---------------------------------------------------------------------------- */

int
rdb_rd_fail(rdb_rdr_t *r, const char *why) {
    if (!r->why)
        r->why = why;
    return KERR_CORRUPT;
}

int
rdb_rd_bytes(rdb_rdr_t *r, size_t n, const uint8_t **out) {
    if (n > rdb_rd_left(r))
        return rdb_rd_fail(r, "truncated value");
    *out = r->p + r->pos;
    r->pos += n;
    return 0;
}

/* A length, or with special != NULL also a special encoding (*special >= 0 then). */
int
rdb_rd_len(rdb_rdr_t *r, uint64_t *len, int *special) {
    const uint8_t *b;
    if (special)
        *special = -1;
    if (rdb_rd_bytes(r, 1, &b) < 0)
        return KERR_CORRUPT;
    switch (b[0] >> 6) {
    case 0: *len = b[0] & 0x3F; return 0;
    case 1: {
        const uint8_t *c;
        if (rdb_rd_bytes(r, 1, &c) < 0)
            return KERR_CORRUPT;
        *len = (uint64_t)(b[0] & 0x3F) << 8 | c[0];
        return 0;
    }
    case 2: {
        size_t w = b[0] == 0x80 ? 4 : b[0] == 0x81 ? 8 : 0;
        const uint8_t *c;
        if (w == 0)
            return rdb_rd_fail(r, "bad length encoding");
        if (rdb_rd_bytes(r, w, &c) < 0)
            return KERR_CORRUPT;
        *len = 0;
        for (size_t i = 0; i < w; i++)
            *len = *len << 8 | c[i];
        return 0;
    }
    default:
        if (!special)
            return rdb_rd_fail(r, "special encoding where a length belongs");
        *special = b[0] & 0x3F;
        *len = 0;
        return 0;
    }
}

int
rdb_rd_ms8(rdb_rdr_t *r, int64_t *v) {
    const uint8_t *b;
    if (rdb_rd_bytes(r, 8, &b) < 0)
        return KERR_CORRUPT;
    uint64_t u = 0;
    for (int j = 7; j >= 0; j--)
        u = u << 8 | b[j];
    *v = (int64_t)u;
    return 0;
}

void
rdb_str_release(rdb_str_t *s) {
    kfree(s->heap);
    s->heap = NULL;
}

static int
rd_lzf(rdb_rdr_t *r, rdb_str_t *s) {
    uint64_t clen, ulen;
    const uint8_t *c;
    if (rdb_rd_len(r, &clen, NULL) < 0 || rdb_rd_len(r, &ulen, NULL) < 0)
        return KERR_CORRUPT;
    if (clen > rdb_rd_left(r) || ulen == 0 || clen == 0 || ulen / LZF_EXPAND_MAX > clen ||
        clen > UINT32_MAX || ulen > UINT32_MAX)
        return rdb_rd_fail(r, "bad LZF lengths");
    rdb_rd_bytes(r, (size_t)clen, &c);
    s->heap = kmalloc((size_t)ulen);
    if (lzf_decompress(c, (unsigned)clen, s->heap, (unsigned)ulen) != ulen) {
        rdb_str_release(s);
        return rdb_rd_fail(r, "bad LZF data");
    }
    s->p = s->heap;
    s->n = (size_t)ulen;
    return 0;
}

int
rdb_rd_string(rdb_rdr_t *r, rdb_str_t *s) {
    uint64_t len;
    int special;
    s->heap = NULL;
    if (rdb_rd_len(r, &len, &special) < 0)
        return KERR_CORRUPT;
    if (special < 0) {
        const uint8_t *b;
        if (rdb_rd_bytes(r, len > SIZE_MAX ? SIZE_MAX : (size_t)len, &b) < 0)
            return KERR_CORRUPT;
        s->p = (const char *)b;
        s->n = (size_t)len;
        return 0;
    }
    if (special == RDB_ENC_LZF)
        return rd_lzf(r, s);
    if (special > RDB_ENC_INT32)
        return rdb_rd_fail(r, "unknown string encoding");
    size_t w = (size_t)1 << special;
    const uint8_t *b;
    if (rdb_rd_bytes(r, w, &b) < 0)
        return KERR_CORRUPT;
    int64_t v = w == 1   ? (int8_t)b[0]
                : w == 2 ? (int16_t)(b[0] | b[1] << 8)
                         : (int32_t)((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                                     (uint32_t)b[3] << 24);
    s->n = (size_t)util_ll2str(s->num, sizeof s->num, v);
    s->p = s->num;
    return 0;
}

/* ---- writing ---------------------------------------------------------------------------- */

void
rdb_put_byte(sbuf_t *out, uint8_t b) {
    sbuf_append(out, (const char *)&b, 1);
}

void
rdb_put_ms8(sbuf_t *out, int64_t v) {
    uint8_t b[8];
    for (int j = 0; j < 8; j++)
        b[j] = (uint8_t)((uint64_t)v >> (8 * j));
    sbuf_append(out, (const char *)b, 8);
}

void
rdb_put_len(sbuf_t *out, uint64_t len) {
    uint8_t b[9];
    size_t n;
    if (len < 64) {
        b[0] = (uint8_t)len, n = 1;
    } else if (len < 16384) {
        b[0] = (uint8_t)(0x40 | len >> 8), b[1] = (uint8_t)len, n = 2;
    } else {
        size_t w = len <= UINT32_MAX ? 4 : 8;
        b[0] = w == 4 ? 0x80 : 0x81;
        for (size_t i = 0; i < w; i++)
            b[1 + i] = (uint8_t)(len >> (8 * (w - 1 - i)));
        n = 1 + w;
    }
    sbuf_append(out, (const char *)b, n);
}

/* As Redis: a canonical integer that fits 32 bits takes the integer form, a long string the LZF
 * form when that saves at least 4 bytes, anything else its length and bytes. */
void
rdb_put_string(sbuf_t *out, const char *p, size_t n) {
    long long v;
    if (n <= 11 && util_str_is_canonical_int(p, n, &v) && v >= INT32_MIN && v <= INT32_MAX) {
        uint8_t b[5];
        int w = v >= INT8_MIN && v <= INT8_MAX ? 1 : v >= INT16_MIN && v <= INT16_MAX ? 2 : 4;
        b[0] = (uint8_t)(0xC0 | (w == 1 ? RDB_ENC_INT8 : w == 2 ? RDB_ENC_INT16 : RDB_ENC_INT32));
        for (int i = 0; i < w; i++)
            b[1 + i] = (uint8_t)((uint64_t)v >> (8 * i));
        sbuf_append(out, (const char *)b, (size_t)w + 1);
        return;
    }
    if (n > LZF_WRITE_MIN && n <= UINT32_MAX) {
        char *c = kmalloc(n);
        unsigned cn = lzf_compress(p, (unsigned)n, c, (unsigned)(n - 4));
        if (cn > 0) {
            rdb_put_byte(out, 0xC0 | RDB_ENC_LZF);
            rdb_put_len(out, cn);
            rdb_put_len(out, n);
            sbuf_append(out, c, cn);
            kfree(c);
            return;
        }
        kfree(c);
    }
    rdb_put_len(out, n);
    sbuf_append(out, p, n);
}
