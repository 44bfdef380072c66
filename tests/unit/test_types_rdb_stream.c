/* test_types_rdb_stream.c - streams in DUMP payloads (server/types/rdb_stream.c): the payloads
 * redis-server 7.0 (type 19) and valkey-server 8 (type 21) wrote and a type 15 one built by
 * tests/data/dump/make_payloads.py (read back there by redis-server) decode to what those servers
 * reported for them (the .txt files: XINFO STREAM FULL as lines); Keel's own payloads (type 21,
 * RDB 11) round-trip streams with many nodes, every integer width, big values, tombstones,
 * pending entries whose entry is gone and consumers never active; every broken payload
 * make_payloads.py built is refused, and so is every truncation, while single-byte changes
 * decode or are refused without a crash (the ASan build checks the reads). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kerr.h"
#include "kmem.h"
#include "object.h"
#include "rdb_value.h"
#include "sbuf.h"
#include "t_stream.h"

static void
setup(void) {
    stream_type_init(NULL, NULL);
}

TestSuite(rdb_stream, .init = setup, .timeout = 120);

static char *
read_file(const char *name, const char *ext, size_t *len) {
    char path[1024];
    const char *src = __FILE__, *cut = strstr(src, "tests/unit/");
    cr_assert(cut != NULL);
    snprintf(path, sizeof path, "%.*stests/data/dump/%s.%s", (int)(cut - src), src, name, ext);
    FILE *f = fopen(path, "rb");
    cr_assert(f != NULL, "cannot open %s", path);
    char *buf = malloc(1 << 16);
    *len = fread(buf, 1, (1 << 16) - 1, f);
    buf[*len] = 0;
    fclose(f);
    return buf;
}

/* The stream as make_payloads.py's stream_lines() renders a server's XINFO STREAM FULL. */
static char *
render(const stream_t *s) {
    sbuf_t out = {0};
    char a[STREAM_ID_STR_max], b[STREAM_ID_STR_max];
    sid_t last = stream_last_id(s), md = stream_max_deleted_id(s);
    sid_fmt(&last, a);
    sid_fmt(&md, b);
    sbuf_printf(&out, "stream length=%llu last=%s maxdel=%s added=%llu\n",
                (unsigned long long)stream_len(s), a, b,
                (unsigned long long)stream_entries_added(s));
    stream_iter_t it;
    sentry_t e;
    sid_t lo = {0, 0}, hi = {UINT64_MAX, UINT64_MAX};
    stream_iter_init(&it, s, &lo, &hi, false);
    while (stream_iter_next(&it, &e)) {
        sid_fmt(&e.id, a);
        sbuf_printf(&out, "entry %s", a);
        sfield_iter_t fi;
        const char *f, *v;
        size_t fn, vn;
        stream_fields_init(&fi, &e);
        while (stream_fields_next(&fi, &f, &fn, &v, &vn))
            sbuf_printf(&out, " %.*s=%.*s", (int)fn, f, (int)vn, v);
        sbuf_printf(&out, "\n");
    }
    stream_iter_done(&it);
    for (size_t i = 0; i < stream_group_count(s); i++) {
        const scg_t *g = stream_group_at(s, i);
        sid_fmt(&g->last_id, a);
        sbuf_printf(&out, "group %.*s last=%s read=%lld\n", (int)g->name_len, g->name, a,
                    (long long)g->entries_read);
        for (size_t j = 0; j < g->pel_len; j++) {
            const spel_t *pe = scg_pel_at(g, j);
            sid_fmt(&pe->id, a);
            sbuf_printf(&out, "pel %s %.*s %lld %llu\n", a, (int)pe->owner->name_len,
                        pe->owner->name, (long long)pe->delivery_ms,
                        (unsigned long long)pe->delivery_count);
        }
        for (size_t j = 0; j < g->nconsumers; j++) {
            const sconsumer_t *c = g->consumers[j];
            sbuf_printf(&out, "consumer %.*s seen=%lld active=%lld\n", (int)c->name_len, c->name,
                        (long long)c->seen_ms, (long long)c->active_ms);
        }
    }
    char *txt = strndup(out.p, out.len);
    sbuf_free(&out);
    return txt;
}

static kobj_t *
decode_payload(const void *p, size_t len, unsigned *ver, int *rc) {
    size_t body;
    kobj_t *o = NULL;
    *rc = rdb_payload_check(p, len, &body, ver);
    if (*rc == 0)
        *rc = rdb_value_decode(p, body, "k", 1, -1, &o, NULL);
    return o;
}

/* DUMP of o decodes to the same stream, as RDB 11 type 21, and dumps again to the same bytes. */
static void
roundtrip(const kobj_t *o) {
    sbuf_t b = {0}, b2 = {0};
    cr_assert_eq(rdb_value_dump(o, &b), 0);
    cr_assert_eq((uint8_t)b.p[0], RDB_TYPE_STREAM_LISTPACKS_3);
    unsigned ver;
    int rc;
    kobj_t *back = decode_payload(b.p, b.len, &ver, &rc);
    cr_assert_eq(rc, 0);
    cr_assert_eq(ver, RDB_VERSION_STREAM_WRITE);
    char *want = render(obj_ptr(o)), *got = render(obj_ptr(back));
    cr_assert_str_eq(got, want);
    cr_assert_eq(rdb_value_dump(back, &b2), 0);
    cr_assert_eq(b2.len, b.len);
    cr_assert(memcmp(b.p, b2.p, b.len) == 0, "a second DUMP differs");
    free(want);
    free(got);
    obj_free(back);
    sbuf_free(&b);
    sbuf_free(&b2);
}

static const char *const known[] = {"stream_v15", "stream_v19", "stream_v21"};

Test(rdb_stream, server_payloads_decode_to_what_the_server_reported) {
    for (size_t i = 0; i < sizeof known / sizeof *known; i++) {
        size_t len, tlen;
        char *p = read_file(known[i], "bin", &len);
        char *want = read_file(known[i], "txt", &tlen);
        int rc;
        kobj_t *o = decode_payload(p, len, NULL, &rc);
        cr_assert_eq(rc, 0, "%s does not decode", known[i]);
        cr_assert_eq(obj_type(o), OBJ_STREAM);
        char *got = render(obj_ptr(o));
        cr_expect_str_eq(got, want, "%s", known[i]);
        roundtrip(o);
        free(got);
        free(want);
        free(p);
        obj_free(o);
    }
}

static void
add(stream_t *s, uint64_t ms, uint64_t seq, size_t n, const char *const *fv) {
    karg_t a[16];
    for (size_t i = 0; i < 2 * n; i++)
        a[i] = (karg_t){fv[i], strlen(fv[i])};
    sid_t id = {ms, seq};
    stream_append(s, &id, n, a);
}

Test(rdb_stream, keel_streams_roundtrip) {
    stream_t *s = stream_new();
    char big[6000];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = 0;
    static const char *const nums[] = {"0",
                                       "127",
                                       "-1",
                                       "4095",
                                       "-4096",
                                       "32767",
                                       "-32768",
                                       "8388607",
                                       "-8388608",
                                       "2147483647",
                                       "-2147483648",
                                       "5000000000",
                                       "-9223372036854775808",
                                       "18446744073709551615",
                                       "007",
                                       "-0"};
    for (uint64_t i = 1; i <= 350; i++) {
        char v[32];
        snprintf(v, sizeof v, "v%llu", (unsigned long long)i);
        const char *nv = nums[i % (sizeof nums / sizeof *nums)];
        if (i % 7 == 0) {
            const char *fv[] = {"other", nv, "x", v};
            add(s, i * 1000, i % 3, 2, fv);
        } else if (i == 200) {
            const char *fv[] = {"field", big};
            add(s, i * 1000, 0, 1, fv);
        } else {
            const char *fv[] = {"field", v, "num", nv};
            add(s, i * 1000, i % 3, 2, fv);
        }
    }
    /* ms jumps with a lower seq (negative seq-diff) and a huge ms */
    const char *fv[] = {"field", "a", "num", "1"};
    add(s, 400000, 0, 2, fv);
    add(s, UINT64_MAX - 1, 5, 2, fv);
    for (uint64_t i = 3; i <= 350; i += 11) {
        sid_t id = {i * 1000, i % 3};
        cr_assert(stream_delete(s, &id));
    }
    sid_t last = {UINT64_MAX - 1, 9}, md = {33000, 0};
    stream_set_meta(s, &last, 1000, &md);
    sid_t g1last = {100000, 1}, g2last = {0, 0};
    scg_t *g1 = stream_group_create(s, "g1", 2, &g1last, 77);
    stream_group_create(s, "g2", 2, &g2last, STREAM_ENTRIES_READ_INVALID);
    stream_group_create(s, "", 0, &g2last, 0);
    bool created;
    sconsumer_t *alice = scg_consumer_get(g1, "alice", 5, 111, &created);
    sconsumer_t *bob = scg_consumer_get(g1, "bob", 3, 222, &created);
    scg_consumer_get(g1, "never", 5, 333, &created); /* active -1 */
    alice->active_ms = 444;
    bob->active_ms = 555;
    for (uint64_t i = 1; i <= 60; i++) {
        sid_t id = {i * 1000, i % 3}; /* 3-0, 14-... are gone: orphan pending entries */
        spel_t *pe = scg_pel_add(g1, &id, &created);
        pe->delivery_ms = (int64_t)(1700000000000 + i);
        pe->delivery_count = i;
        scg_pel_set_owner(pe, i % 4 ? alice : bob);
    }
    kobj_t *o = obj_new_ptr(OBJ_STREAM, OBJ_ENC_STREAM, "k", 1, s, -1);
    roundtrip(o);
    obj_free(o);
    /* an empty stream with a group, and an empty one without */
    s = stream_new();
    stream_set_meta(s, &md, 5, &md);
    stream_group_create(s, "g", 1, &md, 5);
    o = obj_new_ptr(OBJ_STREAM, OBJ_ENC_STREAM, "k", 1, s, -1);
    roundtrip(o);
    obj_free(o);
    o = obj_new_ptr(OBJ_STREAM, OBJ_ENC_STREAM, "k", 1, stream_new(), -1);
    roundtrip(o);
    obj_free(o);
}

Test(rdb_stream, broken_payloads_are_refused) {
    static const char *const bad[] = {
        "length_mismatch",    "node_counts",      "ids_descend",      "empty_node",
        "key_not_id",         "pel_not_in_group", "pel_ownerless",    "duplicate_group",
        "duplicate_consumer", "bad_lp_count",     "huge_group_count",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char name[64];
        snprintf(name, sizeof name, "stream_bad_%s", bad[i]);
        size_t len, body;
        char *p = read_file(name, "bin", &len);
        cr_assert_eq(rdb_payload_check(p, len, &body, NULL), 0, "%s: trailer", name);
        kobj_t *o = NULL;
        const char *why = NULL;
        cr_expect_eq(rdb_value_decode(p, body, "k", 1, -1, &o, &why), KERR_CORRUPT, "%s", name);
        cr_expect(o == NULL && why != NULL, "%s", name);
        free(p);
    }
}

Test(rdb_stream, truncations_and_byte_changes_never_crash) {
    for (size_t i = 0; i < sizeof known / sizeof *known; i++) {
        size_t len;
        char *p = read_file(known[i], "bin", &len);
        size_t body = len - RDB_TRAILER_BYTES;
        for (size_t n = 0; n <= body + 1; n++) {
            if (n == body)
                continue;                      /* the whole body: it decodes */
            uint8_t *copy = malloc(n ? n : 1); /* exactly n bytes: ASan sees overreads */
            memcpy(copy, p, n < body ? n : body);
            if (n > body)
                copy[body] = 0; /* a byte after the value */
            kobj_t *o = NULL;
            cr_expect_lt(rdb_value_decode(copy, n, "k", 1, -1, &o, NULL), 0, "%s cut at %zu",
                         known[i], n);
            free(copy);
        }
        static const uint8_t flips[] = {0x01, 0x80, 0xff};
        for (size_t at = 0; at < body; at++) {
            for (size_t f = 0; f < sizeof flips; f++) {
                uint8_t *copy = malloc(body);
                memcpy(copy, p, body);
                copy[at] ^= flips[f];
                kobj_t *o = NULL;
                if (rdb_value_decode(copy, body, "k", 1, -1, &o, NULL) == 0) {
                    char *txt = render(obj_ptr(o)); /* what decoded is a whole stream */
                    free(txt);
                    obj_free(o);
                }
                free(copy);
            }
        }
        free(p);
    }
}
