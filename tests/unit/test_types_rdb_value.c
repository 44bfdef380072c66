/* test_types_rdb_value.c - DUMP payloads (server/types/rdb_value.c): the payloads redis-server 7.0
 * wrote for every type and encoding, and the older encodings built by
 * tests/data/dump/make_payloads.py and checked there against redis-server, decode to the values
 * they hold; Keel's own payloads round-trip from every Keel encoding and match Redis' bytes for
 * strings; bad trailers, malformed values and every truncation or single-byte change of a valid
 * payload are refused or decoded without a crash. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc64.h"
#include "kerr.h"
#include "kmem.h"
#include "object.h"
#include "rdb_value.h"
#include "rdb_value_int.h"
#include "sbuf.h"
#include "t_hash.h"
#include "t_list.h"
#include "t_set.h"
#include "t_zset.h"
#include "util.h"

static long long list_fill = -2;

static void
setup(void) {
    hash_type_init(NULL, NULL);
    set_type_init(NULL, NULL, NULL);
    zset_type_init(NULL, NULL);
    list_type_init(&list_fill);
}

TestSuite(rdb_value, .init = setup, .timeout = 60);

static void
data_path(char *out, size_t n, const char *name) {
    const char *src = __FILE__, *cut = strstr(src, "tests/unit/");
    cr_assert(cut != NULL, "cannot locate tests/data from %s", src);
    snprintf(out, n, "%.*stests/data/dump/%s.bin", (int)(cut - src), src, name);
}

static uint8_t *
read_payload(const char *name, size_t *len) {
    char path[1024];
    data_path(path, sizeof path, name);
    FILE *f = fopen(path, "rb");
    cr_assert(f != NULL, "cannot open %s", path);
    uint8_t *buf = malloc(1 << 16);
    *len = fread(buf, 1, 1 << 16, f);
    fclose(f);
    return buf;
}

/* ---- a value as text: the same text for the same value in any encoding ---------------------- */

typedef struct render {
    char **items;
    size_t n, cap;
    bool scores, pairs;
    char *pending;
} render_t;

static void
render_cb(void *ctx, const char *p, size_t n, double score) {
    render_t *r = ctx;
    char buf[4200];
    if (r->pairs && !r->pending) {
        r->pending = strndup(p, n);
        return;
    }
    if (r->scores) {
        char num[UTIL_DBL_STR_MAX];
        util_d2str(num, sizeof num, score);
        snprintf(buf, sizeof buf, "%.*s=%s", (int)n, p, num);
    } else if (r->pairs) {
        snprintf(buf, sizeof buf, "%s=%.*s", r->pending, (int)n, p);
        free(r->pending);
        r->pending = NULL;
    } else {
        snprintf(buf, sizeof buf, "%.*s", (int)n, p);
    }
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->items = realloc(r->items, r->cap * sizeof *r->items);
    }
    r->items[r->n++] = strdup(buf);
}

static int
cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "type:elem,elem,..." with sets and hashes sorted (their order is the encoding's). */
static char *
render(const kobj_t *o) {
    static const char *const names[] = {"string", "list", "set", "zset", "hash"};
    sbuf_t out = {0};
    sbuf_printf(&out, "%s:", names[obj_type(o)]);
    if (obj_type(o) == OBJ_STRING) {
        size_t n;
        const char *p = obj_str(o, &n);
        sbuf_append(&out, p, n);
    } else {
        render_t r = {.scores = obj_type(o) == OBJ_ZSET, .pairs = obj_type(o) == OBJ_HASH};
        obj_ops(obj_type(o))->each(obj_ptr(o), obj_encoding(o), render_cb, &r);
        if (obj_type(o) == OBJ_SET || obj_type(o) == OBJ_HASH)
            qsort(r.items, r.n, sizeof *r.items, cmp_str);
        for (size_t i = 0; i < r.n; i++) {
            sbuf_printf(&out, "%s%s", i ? "," : "", r.items[i]);
            free(r.items[i]);
        }
        free(r.items);
    }
    char *s = strndup(out.p, out.len);
    sbuf_free(&out);
    return s;
}

static kobj_t *
decode_payload(const uint8_t *p, size_t len, int *rc) {
    size_t body;
    kobj_t *o = NULL;
    *rc = rdb_payload_check(p, len, &body, NULL);
    if (*rc == 0)
        *rc = rdb_value_decode(p, body, "k", 1, -1, &o, NULL);
    return o;
}

/* ---- payloads from redis-server 7.0 and the older encodings ---------------------------------- */

static const struct {
    const char *file, *want;
} known[] = {
    {"string_raw", "string:hello world"},
    {"string_int8", "string:-7"},
    {"string_int16", "string:12345"},
    {"string_int32", "string:-1000000"},
    {"string_int64_text", "string:12345678901234"},
    {"string_lzf",
     "string:"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaabbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
     "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"},
    {"list_listpack", "list:a,bb,1,-2,70000,xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
    {"list_quicklist", "list:e0,e1,e2,e3,e4,e5,e6,e7,e8,e9"},
    {"list_plain_node",
     "list:small,pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp"
     "pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp,tail"},
    {"set_intset", "set:-100000,1,2,3,5000000000"},
    {"set_hashtable", "set:a,b,c"},
    {"zset_listpack", "zset:c=-inf,a=1,b=2.5,d=3"},
    {"zset_skiplist", "zset:c=-inf,e=-0.125,a=1,b=2.5,d=inf"},
    {"hash_listpack", "hash:f1=v1,f2=2,f3=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
    {"hash_hashtable", "hash:f1=v1,f2=2,f3=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
    {"old_list_plain", "list:a,bb,ccc"},
    {"old_list_ziplist", "list:x,7,1,2,3,200,-5,70000,1099511627776,"
                         "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"},
    {"old_list_quicklist", "list:n1a,1,n2a,-300"},
    {"old_zset_text", "zset:m3=-inf,m1=1.5,m2=inf"},
    {"old_zset_ziplist", "zset:a=1,b=2.5,c=300"},
    {"old_hash_ziplist", "hash:f1=v1,f2=42,f3=vvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"},
    {"old_hash_zipmap", "hash:k1=v1,k2=12,k3="},
    {"v11_set_listpack", "set:-3000,5,green,red"},
    {"v80_hash_ttl", "hash:f1=v1,f2=42,f3=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
};

Test(rdb_value, redis_payloads_decode_to_their_values) {
    for (size_t i = 0; i < sizeof known / sizeof *known; i++) {
        size_t len;
        uint8_t *p = read_payload(known[i].file, &len);
        int rc;
        kobj_t *o = decode_payload(p, len, &rc);
        cr_assert_eq(rc, 0, "%s: %s", known[i].file, kerr_str(rc));
        char *got = render(o);
        cr_expect_str_eq(got, known[i].want, "%s", known[i].file);
        free(got);
        obj_free(o);
        free(p);
    }
}

/* ---- Keel's own payloads ---------------------------------------------------------------------- */

/* A collection built through the type's create/add, as a snapshot load builds it. */
static kobj_t *
build(int type, uint64_t hint, const char *const *elems, const double *scores, size_t n) {
    const obj_type_ops_t *ops = obj_ops(type);
    int enc;
    void *ptr = ops->create(hint, &enc);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(ops->add(&ptr, &enc, elems[i], strlen(elems[i]), scores ? scores[i] : 0), 0);
    return obj_new_ptr(type, enc, "k", 1, ptr, -1);
}

static void
roundtrip(const kobj_t *o, int want_enc) {
    cr_assert_eq(obj_encoding(o), want_enc, "built in encoding %d, not %d", obj_encoding(o),
                 want_enc);
    sbuf_t b = {0};
    cr_assert_eq(rdb_value_dump(o, &b), 0);
    size_t body;
    unsigned ver;
    cr_assert_eq(rdb_payload_check(b.p, b.len, &body, &ver), 0);
    cr_assert_eq(ver, RDB_VERSION_WRITE);
    kobj_t *back;
    cr_assert_eq(rdb_value_decode(b.p, body, "k", 1, -1, &back, NULL), 0);
    char *a = render(o), *z = render(back);
    cr_assert_str_eq(z, a);
    free(a);
    free(z);
    obj_free(back);
    sbuf_free(&b);
}

Test(rdb_value, dump_roundtrips_every_keel_encoding) {
    static const char *const small[] = {"a", "17", "-300", "bb", "9223372036854775807"};
    static const char *const ints[] = {"1", "-2", "70000", "5000000000"};
    static const double sc[] = {1.5, -INFINITY, 0, INFINITY, -0.125};
    char *big[300];
    double bigsc[300];
    for (int i = 0; i < 300; i++) {
        big[i] = malloc(80);
        snprintf(big[i], 80, i % 3 ? "member-%d-with-padding-padding-padding-padding-pad" : "%d",
                 i);
        bigsc[i] = i * 0.5 - 40;
    }
    kobj_t *o;
    roundtrip(o = obj_new_str("k", 1, "hello", 5, -1), OBJ_ENC_STR), obj_free(o);
    roundtrip(o = obj_new_str("k", 1, "-2147483648", 11, -1), OBJ_ENC_STR), obj_free(o);
    char lz[600];
    memset(lz, 'z', sizeof lz);
    roundtrip(o = obj_new_str("k", 1, lz, sizeof lz, -1), OBJ_ENC_STR), obj_free(o);
    roundtrip(o = build(OBJ_LIST, 5, small, NULL, 5), OBJ_ENC_LISTPACK), obj_free(o);
    roundtrip(o = build(OBJ_LIST, 300, (const char *const *)big, NULL, 300), OBJ_ENC_QUICKLIST);
    obj_free(o);
    roundtrip(o = build(OBJ_SET, 4, ints, NULL, 4), OBJ_ENC_INTSET), obj_free(o);
    roundtrip(o = build(OBJ_SET, 5, small, NULL, 5), OBJ_ENC_LISTPACK), obj_free(o);
    roundtrip(o = build(OBJ_SET, 300, (const char *const *)big, NULL, 300), OBJ_ENC_HT);
    obj_free(o);
    roundtrip(o = build(OBJ_ZSET, 5, small, sc, 5), OBJ_ENC_LISTPACK), obj_free(o);
    roundtrip(o = build(OBJ_ZSET, 300, (const char *const *)big, bigsc, 300), OBJ_ENC_SKIPLIST);
    obj_free(o);
    roundtrip(o = build(OBJ_HASH, 4, small, NULL, 4), OBJ_ENC_LISTPACK), obj_free(o);
    roundtrip(o = build(OBJ_HASH, 300, (const char *const *)big, NULL, 300), OBJ_ENC_HT);
    obj_free(o);
    for (int i = 0; i < 300; i++)
        free(big[i]);
}

/* Strings are written as Redis writes them (integer forms, plain bytes, LZF over 20 bytes): the
 * body (type and value, before the trailer) is the same as redis-server's. */
Test(rdb_value, string_bodies_match_redis_bytes) {
    static const struct {
        const char *file, *value;
    } cases[] = {{"string_raw", "hello world"},
                 {"string_int8", "-7"},
                 {"string_int16", "12345"},
                 {"string_int32", "-1000000"},
                 {"string_int64_text", "12345678901234"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t len;
        uint8_t *p = read_payload(cases[i].file, &len);
        kobj_t *o = obj_new_str("k", 1, cases[i].value, strlen(cases[i].value), -1);
        sbuf_t b = {0};
        rdb_value_dump(o, &b);
        cr_assert_eq(b.len, len, "%s", cases[i].file);
        cr_assert_arr_eq(b.p, p, len - RDB_TRAILER_BYTES, "%s", cases[i].file);
        sbuf_free(&b);
        obj_free(o);
        free(p);
    }
}

/* ---- refusals ------------------------------------------------------------------------------- */

/* A body sealed with a version and a correct CRC. */
static size_t
seal(uint8_t *buf, size_t body, unsigned version) {
    buf[body] = (uint8_t)version;
    buf[body + 1] = (uint8_t)(version >> 8);
    uint64_t crc = crc64_extend(0, buf, body + 2);
    for (int i = 0; i < 8; i++)
        buf[body + 2 + i] = (uint8_t)(crc >> (8 * i));
    return body + RDB_TRAILER_BYTES;
}

Test(rdb_value, trailer_checks_version_and_checksum) {
    uint8_t buf[64] = {0x00, 0x02, 'h', 'i'};
    size_t body;
    unsigned ver;
    size_t n = seal(buf, 4, 11);
    cr_assert_eq(rdb_payload_check(buf, n, &body, &ver), 0);
    cr_assert_eq(body, 4);
    cr_assert_eq(ver, 11);
    n = seal(buf, 4, 12);
    cr_assert_eq(rdb_payload_check(buf, n, &body, &ver), KERR_VERSION);
    cr_assert_eq(ver, 12);
    n = seal(buf, 4, 80); /* Valkey 9.0's version: read */
    cr_assert_eq(rdb_payload_check(buf, n, &body, &ver), 0);
    cr_assert_eq(ver, 80);
    n = seal(buf, 4, 79); /* Redis' private range, and Valkey 9.2's 81: not read */
    cr_assert_eq(rdb_payload_check(buf, n, &body, NULL), KERR_VERSION);
    n = seal(buf, 4, 81);
    cr_assert_eq(rdb_payload_check(buf, n, &body, NULL), KERR_VERSION);
    n = seal(buf, 4, 10);
    buf[n - 1] ^= 1;
    cr_assert_eq(rdb_payload_check(buf, n, &body, NULL), KERR_CORRUPT);
    buf[n - 1] ^= 1;
    buf[2] ^= 0x20;
    cr_assert_eq(rdb_payload_check(buf, n, &body, NULL), KERR_CORRUPT);
    cr_assert_eq(rdb_payload_check(buf, 9, &body, NULL), KERR_CORRUPT);
}

static int
decode_body(const void *p, size_t n, const char **why) {
    kobj_t *o = NULL;
    int rc = rdb_value_decode(p, n, "k", 1, -1, &o, why);
    if (o)
        obj_free(o);
    return rc;
}

#define BODY(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

Test(rdb_value, malformed_values_are_refused) {
    const struct {
        const uint8_t *p;
        size_t n;
        const char *what;
    } bad[] = {
        {BODY(0x00), "string without a length"},
        {BODY(0x00, 0x05, 'a', 'b'), "string shorter than its length"},
        {BODY(0x00, 0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), "2^64 length"},
        {BODY(0x00, 0xC4), "unknown special encoding"},
        {BODY(0x00, 0xC3, 0x02, 0x80, 0x10, 0, 0, 0, 'a', 'b'), "LZF claim too large"},
        {BODY(0x00, 0xC3, 0x03, 0x05, 0x01, 'a', 'b'), "LZF that does not give its length"},
        {BODY(0x00, 0x01, 'a', 'x'), "a byte after the value"},
        {BODY(0x01, 0x00), "empty list"},
        {BODY(0x01, 0x80, 0x7f, 0xff, 0xff, 0xff, 0x01, 'a'), "count beyond the bytes"},
        {BODY(0x02, 0x02, 0x01, 'a', 0x01, 'a'), "duplicate set member"},
        {BODY(0x04, 0x02, 0x01, 'f', 0x01, 'v', 0x01, 'f', 0x01, 'w'), "duplicate hash field"},
        {BODY(0x05, 0x01, 0x01, 'm', 0, 0, 0, 0, 0, 0, 0xf8, 0x7f), "NaN binary score"},
        {BODY(0x03, 0x01, 0x01, 'm', 0xfd), "NaN text score"},
        {BODY(0x03, 0x01, 0x01, 'm', 0x02, '1', 'x'), "text score not a number"},
        /* intset: width 2, two members out of order */
        {BODY(0x0b, 0x0c, 2, 0, 0, 0, 2, 0, 0, 0, 5, 0, 1, 0), "intset out of order"},
        {BODY(0x0b, 0x0a, 3, 0, 0, 0, 1, 0, 0, 0, 5, 0), "intset width 3"},
        /* listpack: count says 2, holds 1 */
        {BODY(0x14, 0x09, 9, 0, 0, 0, 2, 0, 0x01, 0x01, 0xff), "listpack count"},
        /* listpack: backlen 2 where 1 belongs */
        {BODY(0x14, 0x09, 9, 0, 0, 0, 1, 0, 0x01, 0x02, 0xff), "listpack backlen"},
        {BODY(0x14, 0x09, 10, 0, 0, 0, 1, 0, 0x01, 0x01, 0xff), "listpack total bytes"},
        {BODY(0x14, 0x09, 9, 0, 0, 0, 1, 0, 0xf5, 0x01, 0xff), "listpack bad encoding"},
        /* a listpack of pairs with an odd count */
        {BODY(0x10, 0x09, 9, 0, 0, 0, 1, 0, 0x01, 0x01, 0xff), "hash listpack odd"},
        /* ziplist: one entry 0x05 (imm 4) whose prevlen is 1 instead of 0 */
        {BODY(0x0a, 0x0d, 13, 0, 0, 0, 10, 0, 0, 0, 1, 0, 0x01, 0xf5, 0xff), "ziplist prevlen"},
        {BODY(0x0a, 0x0d, 13, 0, 0, 0, 11, 0, 0, 0, 1, 0, 0x00, 0xf5, 0xff), "ziplist tail"},
        {BODY(0x12, 0x01, 0x03, 0x01, 'a'), "quicklist container 3"},
        {BODY(0x12, 0x00), "quicklist without nodes"},
        {BODY(0x16, 0x00), "field-expiry hash without fields"},
        {BODY(0x16, 0x01, 0x01, 'f', 0x01, 'v', 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
         "field expiry below -1"},
        {BODY(0x16, 0x02, 0x01, 'f', 0x01, 'v', 0x05, 0, 0, 0, 0, 0, 0, 0, 0x01, 'f', 0x01, 'w',
              0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
         "duplicate field with expiries"},
        {BODY(0x16, 0x02, 0x01, 'f', 0x01, 'v', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
              0x01, 'f', 0x01, 'w', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
         "duplicate field without expiries"},
        {BODY(0x16, 0x01, 0x01, 'f', 0x01, 'v', 0xff, 0xff, 0xff), "field expiry cut short"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *why = NULL;
        cr_expect_eq(decode_body(bad[i].p, bad[i].n, &why), KERR_CORRUPT, "%s", bad[i].what);
        cr_expect(why != NULL, "%s: no reason", bad[i].what);
    }
    /* module values, unknown types: what Keel cannot restore; streams are read
     * (test_types_rdb_stream.c), so an empty one here is merely malformed */
    cr_expect_eq(decode_body(BODY(0x08, 0x00), NULL), KERR_INVAL);
    cr_expect_eq(decode_body(BODY(0x7f, 0x00), NULL), KERR_INVAL);
    cr_expect_eq(decode_body(BODY(0x07, 0x00), NULL), KERR_INVAL);
    cr_expect_eq(decode_body(BODY(0x0f, 0x00), NULL), KERR_CORRUPT);
    cr_expect_eq(decode_body(BODY(0x13, 0x00), NULL), KERR_CORRUPT);
    cr_expect_eq(decode_body(BODY(0x15, 0x00), NULL), KERR_CORRUPT);
}

/* Every proper prefix of a valid body is refused, and every single-byte change either decodes
 * or is refused: no crash, no leak, no read outside the buffer (the ASan build checks). */
Test(rdb_value, truncations_and_byte_changes_never_crash) {
    for (size_t i = 0; i < sizeof known / sizeof *known; i++) {
        size_t len;
        uint8_t *p = read_payload(known[i].file, &len);
        size_t body = len - RDB_TRAILER_BYTES;
        for (size_t cut = 0; cut < body; cut++) {
            uint8_t *copy = malloc(cut ? cut : 1); /* exactly cut bytes: ASan sees overreads */
            memcpy(copy, p, cut);
            cr_expect_lt(decode_body(copy, cut, NULL), 0, "%s cut at %zu", known[i].file, cut);
            free(copy);
        }
        static const uint8_t flips[] = {0x01, 0x80, 0xff};
        for (size_t at = 0; at < body; at++) {
            for (size_t f = 0; f < sizeof flips; f++) {
                uint8_t *copy = malloc(body);
                memcpy(copy, p, body);
                copy[at] ^= flips[f];
                (void)decode_body(copy, body, NULL);
                free(copy);
            }
        }
        free(p);
    }
}

/* The blob walkers count as they go; a count field of 65535 means "count them". */
Test(rdb_value, saturated_counts_are_counted) {
    /* a listpack with count 65535 and one entry: refused (fewer than 65535 entries) */
    const uint8_t lp[] = {9, 0, 0, 0, 0xff, 0xff, 0x01, 0x01, 0xff};
    uint64_t count;
    const char *why = NULL;
    cr_assert_eq(rdb_listpack_walk(lp, sizeof lp, NULL, NULL, &count, &why), KERR_CORRUPT);
    const uint8_t ok[] = {9, 0, 0, 0, 1, 0, 0x01, 0x01, 0xff};
    cr_assert_eq(rdb_listpack_walk(ok, sizeof ok, NULL, NULL, &count, &why), 0);
    cr_assert_eq(count, 1);
}

/* Type 22 (Valkey 9, RDB 80): the golden payload's expiries come back field by field; a Keel hash
 * with field expiries DUMPs as type 22 at version 80 and comes back with them; once its
 * expiries are gone it DUMPs as a plain hash at version 9; a type 22 payload without any
 * expiry (-1 for every field) becomes a plain hash. */
Test(rdb_value, hash_field_expiries_roundtrip) {
    size_t len;
    uint8_t *p = read_payload("v80_hash_ttl", &len);
    int rc;
    kobj_t *o = decode_payload(p, len, &rc);
    cr_assert_eq(rc, 0);
    cr_assert_eq(obj_encoding(o), OBJ_ENC_HASH_TTL);
    thash_t h = {obj_ptr(o), obj_encoding(o)};
    int64_t ms;
    cr_assert_eq(hash_get_expire(&h, "f1", 2, &ms), 1);
    cr_expect_eq(ms, HASH_NO_TTL);
    cr_assert_eq(hash_get_expire(&h, "f2", 2, &ms), 1);
    cr_expect_eq(ms, 4102444800000);
    cr_assert_eq(hash_get_expire(&h, "f3", 2, &ms), 1);
    cr_expect_eq(ms, 4102444800123);
    sbuf_t b = {0};
    cr_assert_eq(rdb_value_dump(o, &b), 0);
    cr_expect_eq((uint8_t)b.p[0], RDB_TYPE_HASH_2);
    size_t body;
    unsigned ver;
    cr_assert_eq(rdb_payload_check(b.p, b.len, &body, &ver), 0);
    cr_expect_eq(ver, RDB_VERSION_VALKEY9);
    kobj_t *back;
    cr_assert_eq(rdb_value_decode(b.p, body, "k", 1, -1, &back, NULL), 0);
    thash_t hb = {obj_ptr(back), obj_encoding(back)};
    cr_assert_eq(hash_get_expire(&hb, "f3", 2, &ms), 1);
    cr_expect_eq(ms, 4102444800123);
    cr_assert_eq(hash_get_expire(&hb, "f1", 2, &ms), 1);
    cr_expect_eq(ms, HASH_NO_TTL);
    char *a = render(o), *z = render(back);
    cr_expect_str_eq(z, a);
    free(a);
    free(z);
    obj_free(back);
    /* expiries cleared: a plain hash payload */
    cr_assert_eq(hash_set_expire(&h, "f2", 2, HASH_NO_TTL), 1);
    cr_assert_eq(hash_set_expire(&h, "f3", 2, HASH_NO_TTL), 1);
    cr_assert_eq(hash_volatile_count(&h), 0);
    obj_set_ptr(o, h.p);
    b.len = 0;
    cr_assert_eq(rdb_value_dump(o, &b), 0);
    cr_expect_eq((uint8_t)b.p[0], RDB_TYPE_HASH);
    cr_assert_eq(rdb_payload_check(b.p, b.len, &body, &ver), 0);
    cr_expect_eq(ver, RDB_VERSION_WRITE);
    sbuf_free(&b);
    obj_free(o);
    free(p);
    /* type 22 with no expiry at all: built as a plain hash */
    uint8_t buf[64] = {0x16, 0x01, 0x01, 'f',  0x01, 'v',  0xff,
                       0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    size_t n = seal(buf, 14, 80);
    o = decode_payload(buf, n, &rc);
    cr_assert_eq(rc, 0);
    cr_expect_neq(obj_encoding(o), OBJ_ENC_HASH_TTL);
    obj_free(o);
}
