/*
 * lp.c - the packed list: strings and integers in one contiguous, walkable-both-ways blob.
 *
 * Layout (all multi-byte integers little-endian, read through memcpy so no alignment is assumed):
 *
 *   +-------------+-------------+---------+---------+-----+------+
 *   | total u32   | count u32   | entry 0 | entry 1 | ... | 0xFF |
 *   +-------------+-------------+---------+---------+-----+------+
 *
 *   total  bytes of the whole blob, header and terminator included (<= LP_BYTES_MAX)
 *   count  number of entries
 *
 * An entry is   <encoding+payload> <back-length>.  The first byte says what follows:
 *
 *   0xxxxxxx                 unsigned integer 0..127 in the byte itself        (1 byte)
 *   10llllll <data>          string of 0..63 bytes                             (1 + len)
 *   110xxxxx xxxxxxxx        signed 13-bit integer -4096..4095, big bits first  (2 bytes)
 *   1110llll llllllll <data> string of 64..4095 bytes, length big bits first   (2 + len)
 *   0xF0 <u32 len> <data>    string of any length                              (5 + len)
 *   0xF1 <i16> | 0xF2 <i24> | 0xF3 <i32> | 0xF4 <i64>   wider integers          (3,4,5,9)
 *   0xF5..0xFE               invalid
 *   0xFF                     the terminator (never an entry)
 *
 * The back-length holds elen, the byte length of <encoding+payload>, in 1 to 5 bytes of 7 bits,
 * written so that it reads from right to left: the rightmost byte holds the lowest 7 bits, and
 * every byte but the leftmost has its top bit set ("more to the left"). That lets lp_prev step
 * from the start of an entry to the start of the one before it.
 *
 * Invariants (lp_validate checks all of them on untrusted input):
 *   1. total equals the allocation's length, and the last byte is 0xFF and the only terminator.
 *   2. Walking forward by each entry's size visits exactly count entries and lands on 0xFF.
 *   3. Every back-length is the minimal encoding of its entry's elen.
 *   4. A string entry is never a canonical integer (those are stored as integers), so equality
 *      with a byte string is decided by the encoding alone (lp_eq, lp_find rely on it).
 */
#include "lp.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmem.h"
#include "kassert.h"
#include "kerr.h"

#define HDR_SIZE   8
#define EOF_BYTE   0xFF
#define EMPTY_SIZE (HDR_SIZE + 1)

#define ENC_STR32 0xF0
#define ENC_INT16 0xF1
#define ENC_INT24 0xF2
#define ENC_INT32 0xF3
#define ENC_INT64 0xF4

/* An entry ready to be written: header bytes, an optional payload, then the back-length. */
typedef struct enc {
    uint8_t hdr[9]; /* encoding byte(s), and the whole value for integers */
    uint32_t hlen;
    const uint8_t *payload; /* string bytes (caller's memory), NULL for integers */
    uint32_t plen;
    uint8_t back[5];
    uint32_t blen;
} enc_t;

/* A decoded entry: where its payload is and how big the pieces are. */
typedef struct dec {
    uint32_t hlen; /* encoding bytes before the payload */
    uint64_t elen; /* encoding + payload */
    int is_int;
    int64_t ival;
    const uint8_t *str;
    uint32_t slen;
} dec_t;

static uint32_t
rd32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void
wr32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* Little-endian signed integer of n bytes (2, 3, 4 or 8), sign-extended. */
static int64_t
rd_int(const uint8_t *p, int n) {
    uint64_t u = 0;
    for (int i = 0; i < n; i++)
        u |= (uint64_t)p[i] << (8 * i);
    if (n < 8 && (u >> (8 * n - 1)) & 1)
        u |= ~(uint64_t)0 << (8 * n);
    int64_t v;
    memcpy(&v, &u, sizeof v); /* two's complement reinterpretation without UB */
    return v;
}

static void
wr_int(uint8_t *p, int64_t v, int n) {
    uint64_t u = (uint64_t)v;
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(u >> (8 * i));
}

static uint32_t
backlen_size(uint64_t elen) {
    if (elen < 128)
        return 1;
    if (elen < 16384)
        return 2;
    if (elen < (1u << 21))
        return 3;
    if (elen < (1u << 28))
        return 4;
    return 5;
}

static void
backlen_write(uint8_t *out, uint64_t elen, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
        uint8_t b = (uint8_t)((elen >> (7 * i)) & 127);
        if (i + 1 < n)
            b |= 128;
        out[n - 1 - i] = b;
    }
}

/* Reads the back-length that ends just before `end`, not looking below `floor`. Returns the
 * number of bytes it took (0 when malformed) and the value in *elen. */
static uint32_t
backlen_read(const uint8_t *end, const uint8_t *floor, uint64_t *elen) {
    uint64_t v = 0;
    uint32_t n = 0;
    const uint8_t *p = end;
    for (;;) {
        if (p <= floor || n == 5)
            return 0;
        p--;
        v |= (uint64_t)(*p & 127) << (7 * n);
        n++;
        if (!(*p & 128))
            break;
    }
    *elen = v;
    return n;
}

int
lp_string_to_int(const void *s, size_t len, int64_t *v) {
    const uint8_t *c = s;
    if (len == 0 || len > 20)
        return 0;
    size_t i = 0;
    int neg = c[0] == '-';
    if (neg)
        i = 1;
    if (i == len || c[i] < '0' || c[i] > '9')
        return 0;
    if (c[i] == '0')
        return (len == 1) ? (*v = 0, 1) : 0; /* "0" only: no "01", no "-0" */
    uint64_t u = 0;
    for (; i < len; i++) {
        if (c[i] < '0' || c[i] > '9')
            return 0;
        uint64_t d = (uint64_t)(c[i] - '0');
        if (u > (UINT64_MAX - d) / 10)
            return 0;
        u = u * 10 + d;
    }
    if (neg) {
        if (u > (uint64_t)INT64_MAX + 1)
            return 0;
        *v = (u == (uint64_t)INT64_MAX + 1) ? INT64_MIN : -(int64_t)u;
    } else {
        if (u > (uint64_t)INT64_MAX)
            return 0;
        *v = (int64_t)u;
    }
    return 1;
}

size_t
lp_int_to_string(int64_t v, char *buf) {
    char tmp[LP_INTBUF_MAX];
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t len = 0;
    if (v < 0)
        buf[len++] = '-';
    while (n)
        buf[len++] = tmp[--n];
    buf[len] = '\0';
    return len;
}

size_t
lp_dtoa(double d, char buf[LP_DBLBUF_MAX]) {
    if (isnan(d))
        return (size_t)snprintf(buf, LP_DBLBUF_MAX, "nan");
    if (isinf(d))
        return (size_t)snprintf(buf, LP_DBLBUF_MAX, d > 0 ? "inf" : "-inf");
    /* The shortest precision that reads back exactly; 17 significant digits always does.
     * Trying 15, 16, 17 costs at most three printf + strtod instead of up to seventeen (a
     * fractional ZADD into a packed sorted set spent most of its time here). The text is the
     * same as the full search's: when k <= 15 digits read back as d, so does the nearest
     * 15-digit decimal, and it is those k digits (15-digit decimals lie more than four ulps
     * apart for normal doubles), which "%.15g" prints with trailing zeros stripped. Two cases
     * take the full search: subnormals (fewer than 15 digits of precision, so "%.15g" may carry
     * digits a shorter text does without) and whole numbers below 1e15, where a short precision
     * picks another notation ("1.2e+06" at 2, "1200000" at 15). */
    if (fabs(d) < DBL_MIN || (d == floor(d) && fabs(d) < 1e15)) {
        for (int prec = 1; prec <= 17; prec++) {
            int n = snprintf(buf, LP_DBLBUF_MAX, "%.*g", prec, d);
            if (prec == 17 || strtod(buf, NULL) == d)
                return (size_t)n;
        }
    }
    for (int prec = 15; prec < 17; prec++) {
        int n = snprintf(buf, LP_DBLBUF_MAX, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            return (size_t)n;
    }
    return (size_t)snprintf(buf, LP_DBLBUF_MAX, "%.17g", d);
}

static void
enc_int(enc_t *e, int64_t v) {
    e->payload = NULL;
    e->plen = 0;
    if (v >= 0 && v <= 127) {
        e->hdr[0] = (uint8_t)v;
        e->hlen = 1;
    } else if (v >= -4096 && v <= 4095) {
        uint16_t u = (uint16_t)((uint64_t)v & 0x1FFF);
        e->hdr[0] = (uint8_t)(0xC0 | (u >> 8));
        e->hdr[1] = (uint8_t)u;
        e->hlen = 2;
    } else {
        int n = (v >= INT16_MIN && v <= INT16_MAX)   ? 2
                : (v >= -(1 << 23) && v < (1 << 23)) ? 3
                : (v >= INT32_MIN && v <= INT32_MAX) ? 4
                                                     : 8;
        e->hdr[0] = n == 2 ? ENC_INT16 : n == 3 ? ENC_INT24 : n == 4 ? ENC_INT32 : ENC_INT64;
        wr_int(e->hdr + 1, v, n);
        e->hlen = 1 + (uint32_t)n;
    }
    e->blen = backlen_size(e->hlen);
    backlen_write(e->back, e->hlen, e->blen);
}

/* Encodes s as an integer when it is canonical, else as a string. KERR_LIMIT if too long. */
static int
enc_str(enc_t *e, const void *s, size_t len) {
    int64_t v;
    if (lp_string_to_int(s, len, &v)) {
        enc_int(e, v);
        return 0;
    }
    if (len > LP_BYTES_MAX - 16)
        return KERR_LIMIT;
    if (len < 64) {
        e->hdr[0] = (uint8_t)(0x80 | len);
        e->hlen = 1;
    } else if (len < 4096) {
        e->hdr[0] = (uint8_t)(0xE0 | (len >> 8));
        e->hdr[1] = (uint8_t)len;
        e->hlen = 2;
    } else {
        e->hdr[0] = ENC_STR32;
        wr32(e->hdr + 1, (uint32_t)len);
        e->hlen = 5;
    }
    e->payload = s;
    e->plen = (uint32_t)len;
    uint64_t elen = (uint64_t)e->hlen + len;
    e->blen = backlen_size(elen);
    backlen_write(e->back, elen, e->blen);
    return 0;
}

static size_t
enc_size(const enc_t *e) {
    return (size_t)e->hlen + e->plen + e->blen;
}

/* Decodes the entry at p, reading no more than avail bytes. 0, or KERR_CORRUPT when the entry
 * is malformed or runs past avail. */
static int
decode(const uint8_t *p, size_t avail, dec_t *d) {
    if (avail < 1)
        return KERR_CORRUPT;
    uint8_t b = p[0];
    uint64_t slen = 0;
    d->is_int = 1;
    if (b < 0x80) {
        d->hlen = 1, d->ival = b;
    } else if (b < 0xC0) {
        d->hlen = 1, slen = b & 0x3F, d->is_int = 0;
    } else if (b < 0xE0) {
        if (avail < 2)
            return KERR_CORRUPT;
        uint16_t u = (uint16_t)((b & 0x1F) << 8 | p[1]);
        d->hlen = 2, d->ival = (u & 0x1000) ? (int64_t)u - 0x2000 : (int64_t)u;
    } else if (b < 0xF0) {
        if (avail < 2)
            return KERR_CORRUPT;
        d->hlen = 2, slen = (uint64_t)(b & 0x0F) << 8 | p[1], d->is_int = 0;
    } else if (b == ENC_STR32) {
        if (avail < 5)
            return KERR_CORRUPT;
        d->hlen = 5, slen = rd32(p + 1), d->is_int = 0;
    } else if (b >= ENC_INT16 && b <= ENC_INT64) {
        int n = b == ENC_INT16 ? 2 : b == ENC_INT24 ? 3 : b == ENC_INT32 ? 4 : 8;
        if (avail < (size_t)n + 1)
            return KERR_CORRUPT;
        d->hlen = 1 + (uint32_t)n, d->ival = rd_int(p + 1, n);
    } else {
        return KERR_CORRUPT;
    }
    if (!d->is_int) {
        if (slen > avail - d->hlen)
            return KERR_CORRUPT;
        d->str = p + d->hlen;
        d->slen = (uint32_t)slen;
    }
    d->elen = d->hlen + slen;
    return 0;
}

/* Decoding a trusted list: a failure is a bug (or a blob that skipped lp_validate). */
static void
decode_ok(const uint8_t *p, dec_t *d) {
    int rc = decode(p, SIZE_MAX, d);
    ASSERT(rc == 0);
}

/* Bytes of the trusted entry at p, back-length included. Walking (lp_next, lp_find, lp_seek)
 * calls this once per entry, so it reads only the length fields instead of a full decode: a
 * 100-pair ZSCORE spent half its instructions here. */
static size_t
entry_size(const uint8_t *p) {
    uint8_t b = p[0];
    uint64_t elen;
    if (b < 0x80)
        return 2; /* 7-bit integer + 1-byte back-length */
    if (b < 0xC0)
        return (size_t)(b & 0x3F) + 2; /* short string: elen <= 64, 1-byte back-length */
    if (b < 0xE0)
        return 3; /* 13-bit integer */
    if (b < 0xF0)
        elen = 2 + ((uint64_t)(b & 0x0F) << 8 | p[1]);
    else if (b == ENC_STR32)
        elen = 5 + (uint64_t)rd32(p + 1);
    else if (b == ENC_INT16)
        return 4;
    else if (b == ENC_INT24)
        return 5;
    else if (b == ENC_INT32)
        return 6;
    else {
        ASSERT(b == ENC_INT64);
        return 10;
    }
    return elen + backlen_size(elen);
}

size_t
lp_bytes(const uint8_t *lp) {
    return rd32(lp);
}

uint32_t
lp_count(const uint8_t *lp) {
    return rd32(lp + 4);
}

int
lp_fits(size_t bytes, size_t add) {
    return add <= LP_BYTES_MAX && bytes <= LP_BYTES_MAX - add;
}

size_t
lp_entry_size(const void *s, size_t len) {
    enc_t e;
    if (enc_str(&e, s, len) != 0)
        return SIZE_MAX;
    return enc_size(&e);
}

uint8_t *
lp_new(void) {
    uint8_t *lp = kmalloc(EMPTY_SIZE);
    if (!lp)
        return NULL;
    wr32(lp, EMPTY_SIZE);
    wr32(lp + 4, 0);
    lp[HDR_SIZE] = EOF_BYTE;
    return lp;
}

void
lp_free(uint8_t *lp) {
    kfree(lp);
}

uint8_t *
lp_first(uint8_t *lp) {
    uint8_t *p = lp + HDR_SIZE;
    return *p == EOF_BYTE ? NULL : p;
}

uint8_t *
lp_next(uint8_t *lp, uint8_t *p) {
    (void)lp;
    p += entry_size(p);
    return *p == EOF_BYTE ? NULL : p;
}

uint8_t *
lp_prev(uint8_t *lp, uint8_t *p) {
    if (p <= lp + HDR_SIZE)
        return NULL;
    uint64_t elen;
    uint32_t n = backlen_read(p, lp + HDR_SIZE, &elen);
    ASSERT(n > 0);
    return p - n - elen;
}

uint8_t *
lp_last(uint8_t *lp) {
    return lp_prev(lp, lp + lp_bytes(lp) - 1);
}

uint8_t *
lp_seek(uint8_t *lp, long index) {
    uint32_t count = lp_count(lp);
    if (index < 0)
        index += (long)count;
    if (index < 0 || (unsigned long)index >= count)
        return NULL;
    uint8_t *p;
    if ((unsigned long)index <= count / 2) {
        p = lp_first(lp);
        while (index--)
            p = lp_next(lp, p);
    } else {
        p = lp_last(lp);
        for (long back = (long)count - 1 - index; back > 0; back--)
            p = lp_prev(lp, p);
    }
    return p;
}

void
lp_get(const uint8_t *p, lp_val_t *v) {
    dec_t d;
    decode_ok(p, &d);
    if (d.is_int) {
        v->str = NULL, v->len = 0, v->ival = d.ival;
    } else {
        v->str = d.str, v->len = d.slen, v->ival = 0;
    }
}

const uint8_t *
lp_get_str(const uint8_t *p, size_t *len, char buf[LP_INTBUF_MAX]) {
    lp_val_t v;
    lp_get(p, &v);
    if (v.str) {
        *len = v.len;
        return v.str;
    }
    *len = lp_int_to_string(v.ival, buf);
    return (const uint8_t *)buf;
}

/* Compares with s, where s_is_int/s_int say whether s is a canonical integer (computed once). */
static int
eq_prepared(const uint8_t *p, const void *s, size_t len, int s_is_int, int64_t s_int) {
    dec_t d;
    decode_ok(p, &d);
    if (d.is_int)
        return s_is_int && d.ival == s_int;
    return !s_is_int && d.slen == len && memcmp(d.str, s, len) == 0;
}

int
lp_eq(const uint8_t *p, const void *s, size_t len) {
    int64_t v = 0;
    int is_int = lp_string_to_int(s, len, &v);
    return eq_prepared(p, s, len, is_int, v);
}

uint8_t *
lp_find(uint8_t *lp, uint8_t *p, const void *s, size_t len, unsigned skip) {
    (void)lp;
    int64_t v = 0;
    int is_int = lp_string_to_int(s, len, &v);
    const uint8_t *first = s;
    /* One decode per compared entry (its size comes with it) and a length-only step over the
     * skipped ones; a string is compared only when its length and first byte agree. */
    while (p) {
        dec_t d;
        decode_ok(p, &d);
        if (d.is_int ? (is_int && d.ival == v)
                     : (!is_int && d.slen == len &&
                        (len == 0 || (d.str[0] == first[0] && memcmp(d.str, s, len) == 0))))
            return p;
        p += d.elen + backlen_size(d.elen);
        for (unsigned i = 0; i < skip && *p != EOF_BYTE; i++)
            p += entry_size(p);
        if (*p == EOF_BYTE)
            p = NULL;
    }
    return NULL;
}

/* Replaces del_len bytes (del_count entries) at offset off with the entry e (when not NULL).
 * The one place that resizes the blob. */
static int
splice(uint8_t **lpp, size_t off, size_t del_len, uint32_t del_count, const enc_t *e) {
    uint8_t *lp = *lpp;
    size_t old = lp_bytes(lp);
    size_t add = e ? enc_size(e) : 0;
    uint32_t count = lp_count(lp);
    ASSERT(off >= HDR_SIZE && off + del_len < old && del_count <= count);
    if (!lp_fits(old - del_len, add))
        return KERR_LIMIT;
    if (e && count - del_count == UINT32_MAX)
        return KERR_LIMIT;
    size_t nsize = old - del_len + add;
    size_t tail = old - off - del_len;
    if (nsize > old) {
        uint8_t *n = krealloc(lp, nsize);
        if (!n)
            return KERR_NOMEM;
        lp = n;
    }
    memmove(lp + off + add, lp + off + del_len, tail);
    if (nsize < old) {
        uint8_t *n = krealloc(lp, nsize);
        if (n) /* a failed shrink leaves the larger block, which is still correct */
            lp = n;
    }
    if (e) {
        uint8_t *w = lp + off;
        memcpy(w, e->hdr, e->hlen);
        if (e->plen)
            memcpy(w + e->hlen, e->payload, e->plen);
        memcpy(w + e->hlen + e->plen, e->back, e->blen);
    }
    wr32(lp, (uint32_t)nsize);
    wr32(lp + 4, count - del_count + (e ? 1 : 0));
    *lpp = lp;
    return 0;
}

static int
insert_enc(uint8_t **lpp, uint8_t *p, int where, const enc_t *e, uint8_t **newp) {
    uint8_t *lp = *lpp;
    size_t off;
    if (!p)
        off = where == LP_BEFORE ? lp_bytes(lp) - 1 : HDR_SIZE; /* NULL: append / prepend */
    else
        off = (size_t)(p - lp) + (where == LP_AFTER ? entry_size(p) : 0);
    int rc = splice(lpp, off, 0, 0, e);
    if (rc == 0 && newp)
        *newp = *lpp + off;
    return rc;
}

/* Source strings may live inside the list itself (LSET k 0 from a value read out of it), so an
 * encoded payload that points into *lpp is copied out before the blob moves. */
static int
insert_str(uint8_t **lpp, uint8_t *p, int where, const void *s, size_t len, uint8_t **newp) {
    enc_t e;
    int rc = enc_str(&e, s, len);
    if (rc != 0)
        return rc;
    const uint8_t *lo = *lpp, *hi = *lpp + lp_bytes(*lpp);
    if (e.payload && e.payload < hi && e.payload + e.plen > lo) {
        uint8_t *copy = kmalloc(e.plen);
        if (!copy)
            return KERR_NOMEM;
        memcpy(copy, e.payload, e.plen);
        e.payload = copy;
        rc = insert_enc(lpp, p, where, &e, newp);
        kfree(copy);
        return rc;
    }
    return insert_enc(lpp, p, where, &e, newp);
}

int
lp_append(uint8_t **lpp, const void *s, size_t len) {
    return insert_str(lpp, NULL, LP_BEFORE, s, len, NULL);
}

int
lp_prepend(uint8_t **lpp, const void *s, size_t len) {
    return insert_str(lpp, NULL, LP_AFTER, s, len, NULL);
}

int
lp_append_int(uint8_t **lpp, int64_t v) {
    enc_t e;
    enc_int(&e, v);
    return insert_enc(lpp, NULL, LP_BEFORE, &e, NULL);
}

int
lp_insert(uint8_t **lpp, uint8_t *p, int where, const void *s, size_t len, uint8_t **newp) {
    ASSERT(p != NULL);
    return insert_str(lpp, p, where, s, len, newp);
}

static int
replace_enc(uint8_t **lpp, uint8_t *p, const enc_t *e, uint8_t **newp) {
    size_t off = (size_t)(p - *lpp);
    int rc = splice(lpp, off, entry_size(p), 1, e);
    if (rc == 0 && newp)
        *newp = *lpp + off;
    return rc;
}

int
lp_replace(uint8_t **lpp, uint8_t *p, const void *s, size_t len, uint8_t **newp) {
    enc_t e;
    int rc = enc_str(&e, s, len);
    if (rc != 0)
        return rc;
    const uint8_t *lo = *lpp, *hi = *lpp + lp_bytes(*lpp);
    if (e.payload && e.payload < hi && e.payload + e.plen > lo) {
        uint8_t *copy = kmalloc(e.plen);
        if (!copy)
            return KERR_NOMEM;
        memcpy(copy, e.payload, e.plen);
        e.payload = copy;
        rc = replace_enc(lpp, p, &e, newp);
        kfree(copy);
        return rc;
    }
    return replace_enc(lpp, p, &e, newp);
}

int
lp_delete(uint8_t **lpp, uint8_t *p, uint8_t **nextp) {
    size_t off = (size_t)(p - *lpp);
    int rc = splice(lpp, off, entry_size(p), 1, NULL);
    if (rc == 0 && nextp)
        *nextp = (*lpp)[off] == EOF_BYTE ? NULL : *lpp + off;
    return rc;
}

int
lp_delete_range(uint8_t **lpp, long index, unsigned long num) {
    uint8_t *lp = *lpp;
    uint8_t *p = lp_seek(lp, index);
    if (!p || num == 0)
        return 0;
    uint8_t *q = p;
    uint32_t n = 0;
    while (n < num && *q != EOF_BYTE) {
        q += entry_size(q);
        n++;
    }
    return splice(lpp, (size_t)(p - lp), (size_t)(q - p), n, NULL);
}

/* One entry of an untrusted blob: encoding, bounds, back-length, invariant 4. */
static int
validate_entry(const uint8_t *p, const uint8_t *end, size_t *size) {
    dec_t d;
    if (decode(p, (size_t)(end - p), &d) != 0)
        return KERR_CORRUPT;
    uint32_t bl = backlen_size(d.elen);
    if (d.elen > (uint64_t)(end - p) || bl > (uint64_t)(end - p) - d.elen)
        return KERR_CORRUPT;
    uint8_t want[5];
    backlen_write(want, d.elen, bl);
    if (memcmp(p + d.elen, want, bl) != 0)
        return KERR_CORRUPT;
    int64_t v;
    if (!d.is_int && lp_string_to_int(d.str, d.slen, &v))
        return KERR_CORRUPT;
    *size = d.elen + bl;
    return 0;
}

int
lp_validate(const uint8_t *p, size_t len) {
    if (!p || len < EMPTY_SIZE || len > LP_BYTES_MAX)
        return KERR_CORRUPT;
    if (rd32(p) != len || p[len - 1] != EOF_BYTE)
        return KERR_CORRUPT;
    uint32_t want = rd32(p + 4), seen = 0;
    const uint8_t *q = p + HDR_SIZE, *end = p + len - 1; /* entries end before the terminator */
    while (q < end) {
        size_t size;
        if (seen == want || validate_entry(q, end, &size) != 0)
            return KERR_CORRUPT;
        q += size;
        seen++;
    }
    return (q == end && seen == want) ? 0 : KERR_CORRUPT;
}

int
lp_split(uint8_t **lpp, long index, uint8_t **tailp) {
    uint8_t *lp = *lpp;
    uint32_t count = lp_count(lp);
    if (index < 0)
        index += (long)count;
    if (index < 0)
        index = 0;
    uint8_t *p = lp_seek(lp, index);
    size_t off = p ? (size_t)(p - lp) : lp_bytes(lp) - 1;
    size_t len = lp_bytes(lp) - 1 - off;
    uint32_t moved = p ? count - (uint32_t)index : 0;
    uint8_t *tail = kmalloc(EMPTY_SIZE + len);
    if (!tail)
        return KERR_NOMEM;
    wr32(tail, (uint32_t)(EMPTY_SIZE + len));
    wr32(tail + 4, moved);
    memcpy(tail + HDR_SIZE, lp + off, len); /* entries are position-independent */
    tail[HDR_SIZE + len] = EOF_BYTE;
    if (moved) {
        int rc = splice(lpp, off, len, moved, NULL); /* shrinking: cannot fail */
        ASSERT(rc == 0);
    }
    *tailp = tail;
    return 0;
}

int
lp_merge(uint8_t **lpp, const uint8_t *other) {
    uint8_t *lp = *lpp;
    size_t add = lp_bytes(other) - EMPTY_SIZE, old = lp_bytes(lp);
    uint32_t c1 = lp_count(lp), c2 = lp_count(other);
    if (!lp_fits(old, add) || c2 > UINT32_MAX - c1)
        return KERR_LIMIT;
    uint8_t *n = krealloc(lp, old + add);
    if (!n)
        return KERR_NOMEM;
    memcpy(n + old - 1, other + HDR_SIZE, add);
    n[old + add - 1] = EOF_BYTE;
    wr32(n, (uint32_t)(old + add));
    wr32(n + 4, c1 + c2);
    *lpp = n;
    return 0;
}
