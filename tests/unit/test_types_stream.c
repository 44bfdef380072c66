/* test_types_stream.c - the stream type (t_stream.h): IDs, packed nodes against a model (append,
 * delete, ranges both ways, trims), the PEL's ordered deque, the lag arithmetic, and the value
 * encoding's round trip and its refusal of damaged input. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "kmem.h"
#include "t_stream.h"

/* ---- IDs ---- */

Test(stream_id, parse_format_and_step) {
    sid_t id;
    char buf[STREAM_ID_STR_max];
    cr_assert(sid_parse("12-34", 5, 0, &id));
    cr_assert(id.ms == 12 && id.seq == 34);
    cr_assert(sid_parse("7", 1, 99, &id));
    cr_assert(id.ms == 7 && id.seq == 99, "a missing seq takes the given default");
    cr_assert(sid_parse("18446744073709551615-18446744073709551615", 41, 0, &id));
    cr_assert(id.ms == UINT64_MAX && id.seq == UINT64_MAX);
    cr_assert_not(sid_parse("18446744073709551616", 20, 0, &id), "overflow refused");
    cr_assert_not(sid_parse("1-", 2, 0, &id));
    cr_assert_not(sid_parse("-1", 2, 0, &id));
    cr_assert_not(sid_parse("a-1", 3, 0, &id));
    cr_assert_not(sid_parse("1-2-3", 5, 0, &id));
    cr_assert_not(sid_parse("", 0, 0, &id));
    id = (sid_t){UINT64_MAX, UINT64_MAX};
    cr_assert_not(sid_incr(&id), "the max ID has no successor");
    id = (sid_t){5, UINT64_MAX};
    cr_assert(sid_incr(&id));
    cr_assert(id.ms == 6 && id.seq == 0);
    cr_assert(sid_decr(&id));
    cr_assert(id.ms == 5 && id.seq == UINT64_MAX);
    id = (sid_t){0, 0};
    cr_assert_not(sid_decr(&id));
    id = (sid_t){1234, 5};
    cr_assert_eq(sid_fmt(&id, buf), 6);
    cr_assert_str_eq(buf, "1234-5");
}

/* ---- entries against a model ---- */

#define N 1000

typedef struct model {
    sid_t id[N];
    bool live[N];
    int nf[N];
} model_t;

static model_t M;

/* Entry i: fields "f0".."f<k>" (k varies, so some entries share the master fields and some do
 * not), values derived from i; one value empty. */
static void
fields_of(int i, int *nf, const char **p, size_t *n, char (*store)[24]) {
    *nf = 1 + (i % 7 == 0 ? 2 : 1);
    for (int j = 0; j < *nf; j++) {
        snprintf(store[2 * j], 24, "f%d", j);
        snprintf(store[2 * j + 1], 24, j == 1 && i % 11 == 0 ? "" : "v%d-%d", i, j);
        p[2 * j] = store[2 * j];
        n[2 * j] = strlen(store[2 * j]);
        p[2 * j + 1] = store[2 * j + 1];
        n[2 * j + 1] = strlen(store[2 * j + 1]);
    }
}

static void
check_entry(const sentry_t *e, int i) {
    char store[8][24];
    const char *p[8];
    size_t n[8];
    int nf;
    fields_of(i, &nf, p, n, store);
    cr_assert_eq(e->nfields, (uint32_t)nf, "entry %d field count", i);
    sfield_iter_t it;
    const char *f, *v;
    size_t fn, vn;
    int j = 0;
    stream_fields_init(&it, e);
    while (stream_fields_next(&it, &f, &fn, &v, &vn)) {
        cr_assert(fn == n[2 * j] && memcmp(f, p[2 * j], fn) == 0, "entry %d field %d", i, j);
        cr_assert(vn == n[2 * j + 1] && memcmp(v, p[2 * j + 1], vn) == 0, "entry %d value %d", i,
                  j);
        j++;
    }
    cr_assert_eq(j, nf);
}

static stream_t *
build(void) {
    stream_t *s = stream_new();
    for (int i = 0; i < N; i++) {
        char store[8][24];
        const char *p[8];
        size_t n[8];
        int nf;
        fields_of(i, &nf, p, n, store);
        /* Several entries per millisecond, and ms jumps, so both seq encodings are used. */
        M.id[i] = (sid_t){1000000 + (uint64_t)(i / 3) * (i % 50 == 0 ? 1000 : 1), (uint64_t)i % 3};
        if (i > 0 && sid_cmp(&M.id[i], &M.id[i - 1]) <= 0) {
            M.id[i] = M.id[i - 1];
            sid_incr(&M.id[i]);
        }
        M.live[i] = true;
        M.nf[i] = nf;
        karg_t fv[8];
        for (int j = 0; j < 2 * nf; j++)
            fv[j] = (karg_t){p[j], n[j]};
        stream_append(s, &M.id[i], (size_t)nf, fv);
    }
    return s;
}

static void
check_range(const stream_t *s, int from, int to, bool rev) {
    stream_iter_t it;
    sentry_t e;
    stream_iter_init(&it, s, &M.id[from], &M.id[to], rev);
    int i = rev ? to : from;
    for (;;) {
        while (i >= from && i <= to && !M.live[i])
            i += rev ? -1 : 1;
        bool want = i >= from && i <= to;
        bool got = stream_iter_next(&it, &e);
        cr_assert_eq(got, want, "range %d..%d rev %d at %d", from, to, rev, i);
        if (!got)
            break;
        cr_assert_eq(sid_cmp(&e.id, &M.id[i]), 0, "range %d..%d rev %d: entry %d", from, to, rev,
                     i);
        check_entry(&e, i);
        i += rev ? -1 : 1;
    }
    stream_iter_done(&it);
}

Test(stream_entries, append_iterate_delete_against_model) {
    stream_t *s = build();
    cr_assert_eq(stream_len(s), N);
    cr_assert(stream_node_count(s) >= N / STREAM_NODE_ENTRIES_max, "entries are split in nodes");
    check_range(s, 0, N - 1, false);
    check_range(s, 0, N - 1, true);
    check_range(s, 137, 642, false);
    check_range(s, 137, 642, true);
    /* Delete every third entry and a whole node's worth at the front. */
    uint64_t len = N;
    for (int i = 0; i < N; i++) {
        if (i % 3 == 1 || i < 150) {
            cr_assert(stream_delete(s, &M.id[i]));
            cr_assert_not(stream_delete(s, &M.id[i]), "a second delete finds nothing");
            M.live[i] = false;
            len--;
        }
    }
    cr_assert_eq(stream_len(s), len);
    sid_t first = stream_first_id(s);
    cr_assert_eq(sid_cmp(&first, &M.id[150]), 0, "first_id follows the deletes");
    sid_t md = stream_max_deleted_id(s);
    cr_assert_eq(sid_cmp(&md, &M.id[997]), 0);
    sentry_t e;
    cr_assert_not(stream_get(s, &M.id[1], &e));
    cr_assert(stream_get(s, &M.id[500], &e));
    check_entry(&e, 500);
    check_range(s, 0, N - 1, false);
    check_range(s, 0, N - 1, true);
    check_range(s, 151, 152, true);
    size_t mem = stream_mem(s);
    cr_assert(mem > 0 && mem < 64 * N, "memory estimate %zu is plausible", mem);
    stream_free(s);
}

Test(stream_entries, trims) {
    stream_t *s = build();
    /* Approximate: only whole nodes go, so at least maxlen stay. */
    uint64_t gone = stream_trim_maxlen(s, 555, true, 0);
    cr_assert(stream_len(s) >= 555 && stream_len(s) < 555 + STREAM_NODE_ENTRIES_max);
    cr_assert_eq(gone, N - stream_len(s));
    /* LIMIT bounds the approximate trim. */
    stream_t *t = build();
    cr_assert_eq(stream_trim_maxlen(t, 0, true, 150), STREAM_NODE_ENTRIES_max,
                 "a limit of 150 allows one node of 100");
    stream_free(t);
    /* Exact. */
    gone += stream_trim_maxlen(s, 321, false, 0);
    cr_assert_eq(stream_len(s), 321);
    cr_assert_eq(gone, N - 321);
    for (int i = 0; i < N - 321; i++)
        M.live[i] = false;
    check_range(s, 0, N - 1, false);
    sid_t first = stream_first_id(s);
    cr_assert_eq(sid_cmp(&first, &M.id[N - 321]), 0);
    /* MINID, exact. */
    stream_trim_minid(s, &M.id[800], false, 0);
    cr_assert_eq(stream_len(s), N - 800);
    for (int i = 0; i < 800; i++)
        M.live[i] = false;
    check_range(s, 0, N - 1, true);
    cr_assert_eq(stream_trim_minid(s, &M.id[800], false, 0), 0, "nothing below minid is left");
    stream_free(s);
}

/* ---- PEL ---- */

Test(stream_pel, ordered_deque_against_model) {
    stream_t *s = stream_new();
    sid_t z = {0, 0};
    scg_t *g = stream_group_create(s, "g", 1, &z, STREAM_ENTRIES_READ_INVALID);
    cr_assert_not_null(g);
    cr_assert_null(stream_group_create(s, "g", 1, &z, 0), "a second group of that name");
    bool created;
    sconsumer_t *a = scg_consumer_get(g, "bob", 3, 1, &created);
    cr_assert(created);
    sconsumer_t *b = scg_consumer_get(g, "alice", 5, 1, &created);
    cr_assert_eq(g->consumers[0], b, "consumers are kept in name order");
    cr_assert_eq(scg_consumer_get(g, "bob", 3, 1, &created), a);
    cr_assert_not(created);
    static bool in[4000];
    uint64_t seed = 42;
    size_t count = 0;
    for (int step = 0; step < 20000; step++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        int k = (int)((seed >> 33) % 4000);
        /* Mostly FIFO like a real queue: add at the top, ack at the bottom; some at random. */
        if (step % 4 == 0)
            k = step / 5;
        sid_t id = {(uint64_t)k, 0};
        if (!in[k]) {
            spel_t *pe = scg_pel_add(g, &id, &created);
            cr_assert(created);
            scg_pel_set_owner(pe, k % 2 ? a : b);
            in[k] = true;
            count++;
        } else {
            cr_assert(scg_pel_remove(g, &id));
            in[k] = false;
            count--;
        }
        cr_assert_eq(g->pel_len, count);
    }
    size_t i = 0;
    uint64_t pa = 0;
    for (int k = 0; k < 4000; k++) {
        if (!in[k])
            continue;
        const spel_t *pe = scg_pel_at(g, i++);
        cr_assert_eq(pe->id.ms, (uint64_t)k, "PEL order");
        pa += pe->owner == a;
        sid_t id = {(uint64_t)k, 0};
        cr_assert_eq(scg_pel_find(g, &id), pe);
    }
    cr_assert_eq(a->pending, pa, "owner counts follow adds, removes and owner changes");
    cr_assert_eq(a->pending + b->pending, count);
    cr_assert_eq(scg_consumer_delete(g, a), pa);
    cr_assert_eq(g->pel_len, count - pa, "a deleted consumer's entries leave the PEL");
    cr_assert(stream_group_destroy(s, "g", 1));
    cr_assert_not(stream_group_destroy(s, "g", 1));
    stream_free(s);
}

/* ---- lag ---- */

Test(stream_lag, follows_valkey_rules) {
    stream_t *s = stream_new();
    sid_t z = {0, 0};
    scg_t *g = stream_group_create(s, "g", 1, &z, STREAM_ENTRIES_READ_INVALID);
    int64_t lag;
    cr_assert(stream_group_lag(s, g, &lag));
    cr_assert_eq(lag, 0, "a never-used stream has lag 0");
    karg_t fv[2] = {{"f", 1}, {"v", 1}};
    for (uint64_t i = 1; i <= 5; i++) {
        sid_t id = {i, 0};
        stream_append(s, &id, 1, fv);
    }
    cr_assert(stream_group_lag(s, g, &lag));
    cr_assert_eq(lag, 5, "a group at 0-0 with no tombstones is estimated");
    sid_t id = {1, 0};
    stream_group_delivered(s, g, &id);
    cr_assert_eq(g->entries_read, 1);
    id.ms = 2;
    stream_group_delivered(s, g, &id);
    cr_assert_eq(g->entries_read, 2);
    cr_assert(stream_group_lag(s, g, &lag));
    cr_assert_eq(lag, 3);
    sid_t d = {4, 0};
    stream_delete(s, &d);
    cr_assert_not(stream_group_lag(s, g, &lag), "a tombstone ahead of the group hides the lag");
    id.ms = 3;
    stream_group_delivered(s, g, &id);
    cr_assert_eq(g->entries_read, STREAM_ENTRIES_READ_INVALID, "a tombstone ahead: unknown");
    id.ms = 5;
    stream_group_delivered(s, g, &id);
    cr_assert_eq(g->entries_read, 5, "the last ID estimates as entries_added");
    cr_assert(stream_group_lag(s, g, &lag));
    cr_assert_eq(lag, 0);
    stream_free(s);
}

/* ---- encoding ---- */

static stream_t *
build_with_groups(void) {
    stream_t *s = build();
    for (int i = 0; i < N; i += 5) {
        stream_delete(s, &M.id[i]);
        M.live[i] = false;
    }
    sid_t z = {0, 0};
    scg_t *g = stream_group_create(s, "workers", 7, &M.id[10], 11);
    stream_group_create(s, "audit", 5, &z, STREAM_ENTRIES_READ_INVALID);
    bool created;
    sconsumer_t *c1 = scg_consumer_get(g, "c1", 2, 1700000000000, &created);
    sconsumer_t *c2 = scg_consumer_get(g, "c2", 2, 1700000000001, &created);
    c2->active_ms = 1700000000002;
    for (int i = 1; i < 10; i++) {
        spel_t *pe = scg_pel_add(g, &M.id[i], &created);
        scg_pel_set_owner(pe, i % 2 ? c1 : c2);
        pe->delivery_ms = 1700000000000 + i;
        pe->delivery_count = (uint64_t)i;
    }
    return s;
}

Test(stream_encoding, round_trip_keeps_everything) {
    stream_t *s = build_with_groups();
    sbuf_t a = {0}, b = {0};
    stream_encode(s, &a);
    stream_t *d = stream_decode(a.p, a.len);
    cr_assert_not_null(d);
    stream_encode(d, &b);
    cr_assert(a.len == b.len && memcmp(a.p, b.p, a.len) == 0, "encode(decode(x)) == x");
    cr_assert_eq(stream_len(d), stream_len(s));
    sid_t l1 = stream_last_id(s), l2 = stream_last_id(d);
    cr_assert_eq(sid_cmp(&l1, &l2), 0);
    cr_assert_eq(stream_entries_added(d), N);
    check_range(d, 0, N - 1, false);
    scg_t *g = stream_group_find(d, "workers", 7);
    cr_assert_not_null(g);
    cr_assert_eq(g->entries_read, 11);
    cr_assert_eq(g->pel_len, 9);
    cr_assert_eq(g->nconsumers, 2);
    cr_assert_eq(g->consumers[1]->active_ms, 1700000000002);
    cr_assert_eq(g->consumers[0]->active_ms, -1);
    cr_assert_eq(scg_pel_at(g, 3)->delivery_count, 4);
    cr_assert_eq(g->consumers[0]->pending + g->consumers[1]->pending, 9);
    cr_assert_eq(stream_group_find(d, "audit", 5)->entries_read, STREAM_ENTRIES_READ_INVALID);
    stream_t *dup = stream_dup(d);
    cr_assert_eq(stream_len(dup), stream_len(d));
    stream_free(dup);
    stream_free(d);
    stream_free(s);
    sbuf_free(&a);
    sbuf_free(&b);
}

Test(stream_encoding, damaged_input_is_refused) {
    stream_t *s = build_with_groups();
    sbuf_t a = {0};
    stream_encode(s, &a);
    stream_free(s);
    /* Every truncation is refused (the decoder must never read past the end). */
    for (size_t cut = 0; cut < a.len; cut += 1 + cut / 64) {
        stream_t *d = stream_decode(a.p, cut);
        cr_assert_null(d, "a value cut at %zu of %zu bytes", cut, a.len);
    }
    /* Trailing garbage too. */
    sbuf_append(&a, "x", 1);
    cr_assert_null(stream_decode(a.p, a.len));
    sbuf_free(&a);
}

/* The value in tests/data/snapshot-v4-stream.ksnap (tests/unit/test_snapshot_stream.c holds the
 * same bytes): it must keep decoding to this stream in every later build. */
static const unsigned char golden_blob[] = {
    0x05, 0x01, 0x03, 0x02, 0x00, 0x01, 0x00, 0x02, 0x01, 0x00, 0x01, 0x04, 0x6e, 0x61,
    0x6d, 0x65, 0x03, 0x41, 0x64, 0x61, 0x05, 0x01, 0x02, 0x04, 0x6e, 0x61, 0x6d, 0x65,
    0x05, 0x47, 0x72, 0x61, 0x63, 0x65, 0x03, 0x61, 0x67, 0x65, 0x02, 0x38, 0x35, 0x01,
    0x07, 0x77, 0x6f, 0x72, 0x6b, 0x65, 0x72, 0x73, 0x05, 0x01, 0x04, 0x01, 0x05, 0x61,
    0x6c, 0x69, 0x63, 0x65, 0x80, 0xd0, 0x95, 0xff, 0xbc, 0x31, 0x81, 0xd0, 0x95, 0xff,
    0xbc, 0x31, 0x01, 0x01, 0x00, 0x80, 0xd0, 0x95, 0xff, 0xbc, 0x31, 0x02, 0x00};

Test(stream_encoding, golden_value_decodes) {
    stream_t *s = stream_decode((const char *)golden_blob, sizeof golden_blob);
    cr_assert_not_null(s);
    cr_assert_eq(stream_len(s), 2);
    cr_assert_eq(stream_entries_added(s), 3);
    sid_t last = stream_last_id(s), md = stream_max_deleted_id(s), first = stream_first_id(s);
    cr_assert(last.ms == 5 && last.seq == 1);
    cr_assert(md.ms == 2 && md.seq == 0);
    cr_assert(first.ms == 1 && first.seq == 0);
    sentry_t e;
    cr_assert(stream_get(s, &last, &e));
    cr_assert_eq(e.nfields, 2);
    sfield_iter_t it;
    const char *f, *v;
    size_t fn, vn;
    stream_fields_init(&it, &e);
    cr_assert(stream_fields_next(&it, &f, &fn, &v, &vn));
    cr_assert(fn == 4 && memcmp(f, "name", 4) == 0 && vn == 5 && memcmp(v, "Grace", 5) == 0);
    scg_t *g = stream_group_find(s, "workers", 7);
    cr_assert_not_null(g);
    cr_assert(g->last_id.ms == 5 && g->entries_read == 3 && g->pel_len == 1);
    const spel_t *pe = scg_pel_at(g, 0);
    cr_assert(pe->id.ms == 1 && pe->delivery_ms == 1700000000000 && pe->delivery_count == 2);
    cr_assert_eq(pe->owner, scg_consumer_find(g, "alice", 5));
    cr_assert_eq(pe->owner->active_ms, 1700000000000);
    sbuf_t b = {0};
    stream_encode(s, &b);
    cr_assert(b.len == sizeof golden_blob && memcmp(b.p, golden_blob, b.len) == 0,
              "this build encodes the same stream to the same bytes");
    sbuf_free(&b);
    stream_free(s);
}

/* Damaged values that still parse must give a usable stream (walkable, encodable, freeable), and
 * none may read outside its input: run under ASan in the sanitizer build. */
Test(stream_encoding, mutated_values_decode_safely_or_are_refused) {
    stream_t *s = build_with_groups();
    sbuf_t a = {0};
    stream_encode(s, &a);
    stream_free(s);
    char *buf = kmalloc(a.len);
    uint64_t seed = 7;
    int accepted = 0;
    for (int round = 0; round < 3000; round++) {
        memcpy(buf, a.p, a.len);
        for (int k = 0; k < 1 + round % 3; k++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            buf[(seed >> 33) % a.len] ^= (char)(1u << ((seed >> 20) % 8));
        }
        /* An exact-size copy, so that ASan sees a read past the end. */
        char *exact = kmalloc(a.len);
        memcpy(exact, buf, a.len);
        stream_t *d = stream_decode(exact, a.len);
        if (d) {
            accepted++;
            sbuf_t b = {0};
            stream_encode(d, &b);
            stream_t *again = stream_decode(b.p, b.len);
            cr_assert_not_null(again, "a stream this build accepted re-encodes to a valid value");
            cr_assert_eq(stream_len(again), stream_len(d));
            stream_free(again);
            sbuf_free(&b);
            stream_free(d);
        }
        kfree(exact);
    }
    cr_assert(accepted < 3000, "damage is noticed at least sometimes");
    kfree(buf);
    sbuf_free(&a);
}
