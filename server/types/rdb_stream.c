/*
 * rdb_stream.c - streams in a DUMP payload (rdb_value_int.h): RDB types 15, 19 and 21 read into a
 * Keel stream (t_stream.h), type 21 written from one.
 *
 * Layout after the type byte ("len": an RDB length, "str": an RDB string, "ms8": 8 bytes, a
 * signed little-endian integer, "id16": an ID as 16 bytes, ms then seq, each big-endian):
 *
 *   len nodes, nodes x (str key: id16, the node's master ID; str: the node's listpack)
 *   len length, len last.ms, len last.seq
 *   [19, 21] len first.ms, len first.seq, len max_deleted.ms, len max_deleted.seq,
 *            len entries_added
 *   len groups, groups x:
 *     str name, len last.ms, len last.seq, [19, 21] len entries_read (-1 as 2^64 - 1)
 *     len pel, pel x (id16, ms8 delivery time, len delivery count)
 *     len consumers, consumers x:
 *       str name, ms8 seen time, [21] ms8 active time (-1: never),
 *       len pel, pel x id16 (entries of the group's PEL this consumer owns)
 *
 * A node's listpack (Valkey's t_stream.c layout; every element a listpack integer or string):
 *   master entry:  count (live entries), deleted (tombstones), nfields, nfields x field, 0
 *   each entry:    flags (1: deleted, 2: same fields as the master), ms-diff, seq-diff, then
 *                  same fields: nfields x value                      lp-count = nfields + 3
 *                  otherwise:   nfields, nfields x (field, value)    lp-count = 2 nfields + 4
 *                  and lp-count
 *   An entry's ID is (key.ms + ms-diff, key.seq + seq-diff) in wrapping 64-bit arithmetic.
 *
 * Type 15 (Redis 5 - 6.2) lacks first ID, max deleted ID, entries added and entries read: the
 * entries added are the length, the max deleted ID 0-0 and a group's entries read Valkey's
 * estimate. Type 19 (Redis 7.0) lacks the active time: it is the seen time, as Valkey loads it.
 * The first ID is never taken from the payload: the stream knows its first live entry.
 *
 * Reading rules (a payload breaking one is refused, and nothing of it is kept):
 *   1. every listpack passes rdb_blob.c's checks; its master entry and entries are complete,
 *      flags are 0-3, field counts are above 0 and each lp-count is right;
 *   2. a node has at least one entry, its master counts equal the entries walked, its key is at
 *      or below its first entry's ID, and keys strictly ascend;
 *   3. entry IDs (tombstones included) strictly ascend across the stream, above 0-0 and at or
 *      below the last ID; the live entries number the length; entries added >= length;
 *      the max deleted ID is at or below the last ID (so XSETID can say it again);
 *   4. group names are unique, entries read >= -1; a group PEL's IDs strictly ascend from
 *      above 0-0;
 *      consumer names are unique within the group; a consumer's PEL IDs are in the group's PEL
 *      and owned by no other consumer; at the end every PEL entry has its consumer (Keel, like
 *      Valkey's deep sanitisation, has no place for an ownerless one);
 *   5. every count is checked against the bytes left before it drives a loop.
 * Tombstones are not kept: the stream gets the live entries, and its max deleted ID says the
 * rest (what lag and XINFO use).
 *
 * Writing (type 21): the live entries cut into nodes of at most STREAM_NODE_ENTRIES_max entries
 * or about STREAM_NODE_BYTES_max bytes (Valkey's defaults; the reader keeps whatever it gets),
 * each node's master fields being its first entry's fields; then the metadata, the groups in
 * name order with their PEL, the consumers in name order with theirs.
 */
#include <stdlib.h>
#include <string.h>

#include "kassert.h"
#include "kerr.h"
#include "kmem.h"
#include "rdb_value_int.h"
#include "t_stream.h"
#include "util.h"

#define SFLAG_DELETED 1
#define SFLAG_SAME    2
#define ID16          16

/* ---- reading ---------------------------------------------------------------------------- */

/* The elements of one listpack, copied (integers come as text valid only in the callback). */
typedef struct elems {
    sbuf_t buf;
    size_t *end; /* end offset of element i in buf */
    size_t n, cap;
} elems_t;

static int
elems_cb(void *ctx, const char *p, size_t n) {
    elems_t *el = ctx;
    if (el->n == el->cap) {
        el->cap = el->cap ? el->cap * 2 : 64;
        el->end = krealloc(el->end, el->cap * sizeof *el->end);
    }
    sbuf_append(&el->buf, p, n);
    el->end[el->n++] = el->buf.len;
    return 0;
}

static karg_t
elem_at(const elems_t *el, size_t i) {
    size_t start = i ? el->end[i - 1] : 0;
    return (karg_t){el->buf.p + start, el->end[i] - start};
}

/* Walking one node's elements. */
typedef struct node_rd {
    rdb_rdr_t *r;
    const elems_t *el;
    size_t i;
} node_rd_t;

static int
nr_int(node_rd_t *nr, long long *v) {
    if (nr->i >= nr->el->n)
        return rdb_rd_fail(nr->r, "a stream listpack ends inside an entry");
    karg_t a = elem_at(nr->el, nr->i++);
    if (!util_str_is_canonical_int(a.p, a.n, v))
        return rdb_rd_fail(nr->r, "a stream listpack has text where a number belongs");
    return 0;
}

/* A count that the elements left can hold (each counted thing takes at least per elements). */
static int
nr_count(node_rd_t *nr, size_t per, long long *v) {
    if (nr_int(nr, v) < 0)
        return KERR_CORRUPT;
    if (*v <= 0 || (uint64_t)*v > (nr->el->n - nr->i) / per)
        return rdb_rd_fail(nr->r, "a stream listpack field count is wrong");
    return 0;
}

typedef struct stream_rd {
    rdb_rdr_t *r;
    stream_t *s;
    sid_t prev; /* the last entry ID read (tombstones included) */
    bool have_prev;
    uint64_t live;
    karg_t *fv; /* field, value pairs of the entry being added */
    size_t fv_cap;
} stream_rd_t;

static void
fv_reserve(stream_rd_t *sr, size_t n) {
    if (n > sr->fv_cap) {
        sr->fv_cap = n;
        sr->fv = krealloc(sr->fv, n * sizeof *sr->fv);
    }
}

/* One entry after the master entry; *deleted tells whether it was a tombstone. */
static int
rd_entry(stream_rd_t *sr, node_rd_t *nr, const sid_t *key, size_t mfirst, long long nmaster,
         bool node_first, bool *deleted) {
    long long flags, msd, seqd, nf, lpcount;
    if (nr_int(nr, &flags) < 0 || nr_int(nr, &msd) < 0 || nr_int(nr, &seqd) < 0)
        return KERR_CORRUPT;
    if (flags < 0 || flags > (SFLAG_DELETED | SFLAG_SAME))
        return rdb_rd_fail(sr->r, "unknown stream entry flags");
    bool same = flags & SFLAG_SAME;
    if (same)
        nf = nmaster;
    else if (nr_count(nr, 2, &nf) < 0)
        return KERR_CORRUPT;
    size_t need = same ? (size_t)nf : 2 * (size_t)nf;
    if (need + 1 > nr->el->n - nr->i)
        return rdb_rd_fail(sr->r, "a stream listpack ends inside an entry");
    fv_reserve(sr, 2 * (size_t)nf);
    for (size_t j = 0; j < (size_t)nf; j++) {
        sr->fv[2 * j] = same ? elem_at(nr->el, mfirst + j) : elem_at(nr->el, nr->i++);
        sr->fv[2 * j + 1] = elem_at(nr->el, nr->i++);
    }
    if (nr_int(nr, &lpcount) < 0)
        return KERR_CORRUPT;
    if (lpcount != (same ? nf + 3 : 2 * nf + 4))
        return rdb_rd_fail(sr->r, "a stream entry's lp-count is wrong");
    sid_t id = {key->ms + (uint64_t)msd, key->seq + (uint64_t)seqd};
    sid_t zero = {0, 0};
    if (sid_cmp(&id, sr->have_prev ? &sr->prev : &zero) <= 0)
        return rdb_rd_fail(sr->r, "stream entry IDs do not ascend");
    if (node_first && sid_cmp(&id, key) < 0)
        return rdb_rd_fail(sr->r, "a stream entry below its node's key");
    sr->prev = id;
    sr->have_prev = true;
    *deleted = flags & SFLAG_DELETED;
    if (!*deleted) {
        stream_append(sr->s, &id, (size_t)nf, sr->fv);
        sr->live++;
    }
    return 0;
}

/* A node: its key and listpack. */
static int
rd_node(stream_rd_t *sr, sid_t *prev_key, bool first_node) {
    rdb_str_t k, lp;
    if (rdb_rd_string(sr->r, &k) < 0)
        return KERR_CORRUPT;
    if (k.n != ID16) {
        rdb_str_release(&k);
        return rdb_rd_fail(sr->r, "a stream node key is not an ID");
    }
    sid_t key = {0, 0};
    for (int j = 0; j < 8; j++) {
        key.ms = key.ms << 8 | (uint8_t)k.p[j];
        key.seq = key.seq << 8 | (uint8_t)k.p[8 + j];
    }
    rdb_str_release(&k);
    if (!first_node && sid_cmp(&key, prev_key) <= 0)
        return rdb_rd_fail(sr->r, "stream node keys do not ascend");
    *prev_key = key;
    if (rdb_rd_string(sr->r, &lp) < 0)
        return KERR_CORRUPT;
    elems_t el = {0};
    uint64_t count;
    int rc = rdb_listpack_walk((const uint8_t *)lp.p, lp.n, NULL, NULL, &count, &sr->r->why);
    if (rc == 0)
        rc = rdb_listpack_walk((const uint8_t *)lp.p, lp.n, elems_cb, &el, &count, &sr->r->why);
    rdb_str_release(&lp);
    node_rd_t nr = {sr->r, &el, 0};
    long long live = 0, dead = 0, nmaster = 0, zero = 0;
    if (rc == 0 &&
        (nr_int(&nr, &live) < 0 || nr_int(&nr, &dead) < 0 || nr_count(&nr, 1, &nmaster) < 0))
        rc = KERR_CORRUPT;
    size_t mfirst = nr.i;
    if (rc == 0) {
        nr.i += (size_t)nmaster;
        if (nr_int(&nr, &zero) < 0 || zero != 0)
            rc = rdb_rd_fail(sr->r, "a stream master entry is not terminated");
    }
    uint64_t seen_live = 0, seen_dead = 0;
    while (rc == 0 && nr.i < el.n) {
        bool deleted = false;
        rc = rd_entry(sr, &nr, &key, mfirst, nmaster, seen_live + seen_dead == 0, &deleted);
        deleted ? seen_dead++ : seen_live++;
    }
    if (rc == 0 && seen_live + seen_dead == 0)
        rc = rdb_rd_fail(sr->r, "an empty stream node");
    if (rc == 0 &&
        (live < 0 || dead < 0 || (uint64_t)live != seen_live || (uint64_t)dead != seen_dead))
        rc = rdb_rd_fail(sr->r, "a stream node's counts disagree with its entries");
    sbuf_free(&el.buf);
    kfree(el.end);
    return rc;
}

static int
rd_id(rdb_rdr_t *r, sid_t *id) {
    uint64_t ms, seq;
    if (rdb_rd_len(r, &ms, NULL) < 0 || rdb_rd_len(r, &seq, NULL) < 0)
        return KERR_CORRUPT;
    *id = (sid_t){ms, seq};
    return 0;
}

static int
rd_id16(rdb_rdr_t *r, sid_t *id) {
    const uint8_t *b;
    if (rdb_rd_bytes(r, ID16, &b) < 0)
        return KERR_CORRUPT;
    *id = (sid_t){0, 0};
    for (int j = 0; j < 8; j++) {
        id->ms = id->ms << 8 | b[j];
        id->seq = id->seq << 8 | b[8 + j];
    }
    return 0;
}

/* A count of items of at least per bytes each, checked against the bytes left. */
static int
rd_count(rdb_rdr_t *r, size_t per, uint64_t *n) {
    if (rdb_rd_len(r, n, NULL) < 0)
        return KERR_CORRUPT;
    if (*n > rdb_rd_left(r) / per)
        return rdb_rd_fail(r, "a stream count larger than the payload");
    return 0;
}

static int
rd_consumers(rdb_rdr_t *r, scg_t *g, int rdbtype) {
    uint64_t nc;
    if (rd_count(r, rdbtype >= 21 ? 18 : 10, &nc) < 0)
        return KERR_CORRUPT;
    for (uint64_t i = 0; i < nc; i++) {
        rdb_str_t name;
        int64_t seen, active;
        if (rdb_rd_string(r, &name) < 0)
            return KERR_CORRUPT;
        bool created;
        sconsumer_t *c = scg_consumer_get(g, name.p, name.n, 0, &created);
        rdb_str_release(&name);
        if (!created)
            return rdb_rd_fail(r, "a duplicate stream consumer");
        if (rdb_rd_ms8(r, &seen) < 0 || (rdbtype >= 21 && rdb_rd_ms8(r, &active) < 0))
            return KERR_CORRUPT;
        c->seen_ms = seen;
        c->active_ms = rdbtype >= 21 ? active : seen;
        uint64_t np;
        if (rd_count(r, ID16, &np) < 0)
            return KERR_CORRUPT;
        for (uint64_t j = 0; j < np; j++) {
            sid_t id;
            if (rd_id16(r, &id) < 0)
                return KERR_CORRUPT;
            spel_t *pe = scg_pel_find(g, &id);
            if (!pe)
                return rdb_rd_fail(r, "a consumer's pending entry is not in its group's PEL");
            if (pe->owner)
                return rdb_rd_fail(r, "a pending entry owned twice");
            scg_pel_set_owner(pe, c);
        }
    }
    for (size_t j = 0; j < g->pel_len; j++)
        if (!scg_pel_at(g, j)->owner)
            return rdb_rd_fail(r, "a pending entry without a consumer");
    return 0;
}

static int
rd_group(rdb_rdr_t *r, stream_t *s, int rdbtype) {
    rdb_str_t name;
    sid_t last;
    if (rdb_rd_string(r, &name) < 0)
        return KERR_CORRUPT;
    int rc = rd_id(r, &last);
    int64_t er = 0;
    if (rc == 0 && rdbtype >= 19) {
        uint64_t u;
        rc = rdb_rd_len(r, &u, NULL);
        er = (int64_t)u;
        if (rc == 0 && er < STREAM_ENTRIES_READ_INVALID)
            rc = rdb_rd_fail(r, "a negative entries-read");
    } else if (rc == 0) {
        er = stream_estimate_distance(s, &last);
    }
    scg_t *g = rc == 0 ? stream_group_create(s, name.p, name.n, &last, er) : NULL;
    rdb_str_release(&name);
    if (rc < 0)
        return rc;
    if (!g)
        return rdb_rd_fail(r, "a duplicate consumer group");
    uint64_t np;
    if (rd_count(r, ID16 + 9, &np) < 0)
        return KERR_CORRUPT;
    for (uint64_t i = 0; i < np; i++) {
        sid_t id;
        int64_t when;
        uint64_t count;
        if (rd_id16(r, &id) < 0 || rdb_rd_ms8(r, &when) < 0 || rdb_rd_len(r, &count, NULL) < 0)
            return KERR_CORRUPT;
        if (sid_is_zero(&id) ||
            (g->pel_len && sid_cmp(&id, &scg_pel_at(g, g->pel_len - 1)->id) <= 0))
            return rdb_rd_fail(r, "a group's PEL IDs do not ascend");
        bool created;
        spel_t *pe = scg_pel_add(g, &id, &created);
        pe->delivery_ms = when;
        pe->delivery_count = count;
    }
    return rd_consumers(r, g, rdbtype);
}

static int
rd_meta(rdb_rdr_t *r, stream_rd_t *sr, int rdbtype) {
    uint64_t length, added;
    sid_t last, first, maxdel = {0, 0};
    if (rdb_rd_len(r, &length, NULL) < 0 || rd_id(r, &last) < 0)
        return KERR_CORRUPT;
    added = length;
    if (rdbtype >= 19 &&
        (rd_id(r, &first) < 0 || rd_id(r, &maxdel) < 0 || rdb_rd_len(r, &added, NULL) < 0))
        return KERR_CORRUPT;
    if (length != sr->live)
        return rdb_rd_fail(r, "a stream length that is not its entry count");
    if (sr->have_prev && sid_cmp(&last, &sr->prev) < 0)
        return rdb_rd_fail(r, "a stream last ID below an entry");
    if (added < length)
        return rdb_rd_fail(r, "stream entries-added below its length");
    if (sid_cmp(&maxdel, &last) > 0)
        return rdb_rd_fail(r, "a stream max deleted ID above its last ID");
    stream_set_meta(sr->s, &last, added, &maxdel);
    return 0;
}

int
rdb_stream_read(rdb_rdr_t *r, int rdbtype, stream_t **out) {
    stream_rd_t sr = {.r = r, .s = stream_new()};
    uint64_t nodes, groups;
    sid_t prev_key = {0, 0};
    int rc = rd_count(r, 2, &nodes);
    for (uint64_t i = 0; rc == 0 && i < nodes; i++)
        rc = rd_node(&sr, &prev_key, i == 0);
    if (rc == 0)
        rc = rd_meta(r, &sr, rdbtype);
    if (rc == 0)
        rc = rd_count(r, 3, &groups);
    for (uint64_t i = 0; rc == 0 && i < groups; i++)
        rc = rd_group(r, sr.s, rdbtype);
    kfree(sr.fv);
    if (rc < 0) {
        stream_free(sr.s);
        return KERR_CORRUPT;
    }
    *out = sr.s;
    return 0;
}

/* ---- writing: listpacks ------------------------------------------------------------------- */

/* A listpack under construction: the entries (the header is put in front at the end). */
typedef struct lpw {
    sbuf_t body;
    uint64_t count;
} lpw_t;

static void
lpw_entry(lpw_t *w, const uint8_t *enc, size_t encn, const char *data, size_t datan) {
    uint64_t l = encn + datan;
    size_t bl = l <= 127 ? 1 : l < 16383 ? 2 : l < 2097151 ? 3 : l < 268435455 ? 4 : 5;
    uint8_t back[5];
    for (size_t i = 0; i < bl; i++)
        back[i] = (uint8_t)(((l >> (7 * (bl - 1 - i))) & 127) | (i > 0 ? 128 : 0));
    sbuf_append(&w->body, (const char *)enc, encn);
    if (datan)
        sbuf_append(&w->body, data, datan);
    sbuf_append(&w->body, (const char *)back, bl);
    w->count++;
}

static void
lpw_int(lpw_t *w, int64_t v) {
    uint8_t e[9];
    size_t n, width = 0;
    if (v >= 0 && v <= 127) {
        e[0] = (uint8_t)v, n = 1;
    } else if (v >= -4096 && v <= 4095) {
        uint64_t u = (uint64_t)v & 0x1FFF;
        e[0] = (uint8_t)(0xC0 | u >> 8), e[1] = (uint8_t)u, n = 2;
    } else {
        width = v >= INT16_MIN && v <= INT16_MAX   ? 2
                : v >= -8388608 && v <= 8388607    ? 3
                : v >= INT32_MIN && v <= INT32_MAX ? 4
                                                   : 8;
        e[0] = width == 2 ? 0xF1 : width == 3 ? 0xF2 : width == 4 ? 0xF3 : 0xF4;
        for (size_t i = 0; i < width; i++)
            e[1 + i] = (uint8_t)((uint64_t)v >> (8 * i));
        n = 1 + width;
    }
    lpw_entry(w, e, n, NULL, 0);
}

/* A string, or the integer it canonically spells (as a listpack append does). */
static void
lpw_str(lpw_t *w, const char *p, size_t n) {
    long long v;
    if (n <= 20 && util_str_is_canonical_int(p, n, &v)) {
        lpw_int(w, v);
        return;
    }
    uint8_t e[5];
    size_t en;
    if (n < 64) {
        e[0] = (uint8_t)(0x80 | n), en = 1;
    } else if (n < 4096) {
        e[0] = (uint8_t)(0xE0 | n >> 8), e[1] = (uint8_t)n, en = 2;
    } else {
        e[0] = 0xF0;
        for (int i = 0; i < 4; i++)
            e[1 + i] = (uint8_t)((uint64_t)n >> (8 * i));
        en = 5;
    }
    lpw_entry(w, e, en, p, n);
}

/* Appends the whole listpack (header, entries, terminator) as an RDB string. */
static void
lpw_finish(lpw_t *w, sbuf_t *out) {
    uint64_t total = 6 + w->body.len + 1;
    ASSERT(total <= UINT32_MAX);
    sbuf_t lp = {0};
    uint8_t h[6];
    for (int i = 0; i < 4; i++)
        h[i] = (uint8_t)(total >> (8 * i));
    uint64_t c = w->count < 65535 ? w->count : 65535;
    h[4] = (uint8_t)c, h[5] = (uint8_t)(c >> 8);
    sbuf_append(&lp, (const char *)h, 6);
    sbuf_append(&lp, w->body.p, w->body.len);
    rdb_put_byte(&lp, 0xFF);
    rdb_put_string(out, lp.p, lp.len);
    sbuf_free(&lp);
    w->body.len = 0;
    w->count = 0;
}

/* ---- writing: the stream ------------------------------------------------------------------ */

static void
put_id16(sbuf_t *out, const sid_t *id) {
    uint8_t b[ID16];
    for (int j = 0; j < 8; j++) {
        b[j] = (uint8_t)(id->ms >> (56 - 8 * j));
        b[8 + j] = (uint8_t)(id->seq >> (56 - 8 * j));
    }
    sbuf_append(out, (const char *)b, ID16);
}

static bool
same_fields(const sentry_t *a, const sentry_t *b) {
    if (a->nfields != b->nfields)
        return false;
    sfield_iter_t ia, ib;
    stream_fields_init(&ia, a);
    stream_fields_init(&ib, b);
    const char *fa, *fb, *v;
    size_t fan, fbn, vn;
    while (stream_fields_next(&ia, &fa, &fan, &v, &vn) &&
           stream_fields_next(&ib, &fb, &fbn, &v, &vn))
        if (fan != fbn || memcmp(fa, fb, fan) != 0)
            return false;
    return true;
}

/* One node in the making: master entry (from its first entry) and the entries. */
typedef struct node_w {
    lpw_t master, entries;
    sid_t key;
    sentry_t first;
    uint64_t n;
} node_w_t;

static void
node_flush(node_w_t *nw, sbuf_t *out, uint64_t *nodes) {
    if (nw->n == 0)
        return;
    sbuf_t key = {0};
    put_id16(&key, &nw->key);
    rdb_put_string(out, key.p, key.len); /* the node key is an RDB string of 16 bytes */
    sbuf_free(&key);
    lpw_t lp = {0};
    lpw_int(&lp, (int64_t)nw->n); /* count */
    lpw_int(&lp, 0);              /* deleted */
    lpw_int(&lp, nw->first.nfields);
    sbuf_append(&lp.body, nw->master.body.p, nw->master.body.len);
    lp.count += nw->master.count;
    lpw_int(&lp, 0);
    sbuf_append(&lp.body, nw->entries.body.p, nw->entries.body.len);
    lp.count += nw->entries.count;
    lpw_finish(&lp, out);
    sbuf_free(&lp.body);
    nw->master.body.len = nw->entries.body.len = 0;
    nw->master.count = nw->entries.count = 0;
    nw->n = 0;
    (*nodes)++;
}

static void
node_add(node_w_t *nw, const sentry_t *e) {
    sfield_iter_t it;
    const char *f, *v;
    size_t fn, vn;
    if (nw->n == 0) {
        nw->key = e->id;
        nw->first = *e;
        stream_fields_init(&it, e);
        while (stream_fields_next(&it, &f, &fn, &v, &vn))
            lpw_str(&nw->master, f, fn);
    }
    bool same = same_fields(e, &nw->first);
    lpw_t *w = &nw->entries;
    lpw_int(w, same ? SFLAG_SAME : 0);
    lpw_int(w, (int64_t)(e->id.ms - nw->key.ms));
    lpw_int(w, (int64_t)(e->id.seq - nw->key.seq));
    if (!same)
        lpw_int(w, e->nfields);
    stream_fields_init(&it, e);
    while (stream_fields_next(&it, &f, &fn, &v, &vn)) {
        if (!same)
            lpw_str(w, f, fn);
        lpw_str(w, v, vn);
    }
    lpw_int(w, same ? (int64_t)e->nfields + 3 : 2 * (int64_t)e->nfields + 4);
    nw->n++;
}

static void
put_nodes(const stream_t *s, sbuf_t *out) {
    sbuf_t nodes_buf = {0};
    uint64_t nodes = 0;
    node_w_t nw = {0};
    stream_iter_t it;
    sentry_t e;
    sid_t lo = {0, 0}, hi = {UINT64_MAX, UINT64_MAX};
    stream_iter_init(&it, s, &lo, &hi, false);
    while (stream_iter_next(&it, &e)) {
        node_add(&nw, &e);
        if (nw.n >= STREAM_NODE_ENTRIES_max ||
            nw.master.body.len + nw.entries.body.len >= STREAM_NODE_BYTES_max)
            node_flush(&nw, &nodes_buf, &nodes);
    }
    node_flush(&nw, &nodes_buf, &nodes);
    stream_iter_done(&it);
    rdb_put_len(out, nodes);
    if (nodes_buf.len) /* an empty stream has no node: no buffer either */
        sbuf_append(out, nodes_buf.p, nodes_buf.len);
    sbuf_free(&nodes_buf);
    sbuf_free(&nw.master.body);
    sbuf_free(&nw.entries.body);
}

/* The consumers' PELs: each PEL index grouped by its owner's position in g->consumers, in ID
 * order within a consumer (a counting sort; consumers are in name order, found by bsearch). */
static int
consumer_cmp(const void *a, const void *b) {
    const sconsumer_t *x = *(sconsumer_t *const *)a, *y = *(sconsumer_t *const *)b;
    size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
    int c = memcmp(x->name, y->name, n);
    return c ? c : x->name_len < y->name_len ? -1 : x->name_len > y->name_len ? 1 : 0;
}

static void
put_group(const scg_t *g, sbuf_t *out) {
    rdb_put_string(out, g->name, g->name_len);
    rdb_put_len(out, g->last_id.ms);
    rdb_put_len(out, g->last_id.seq);
    rdb_put_len(out, (uint64_t)g->entries_read);
    rdb_put_len(out, g->pel_len);
    size_t *start = kcalloc(g->nconsumers + 1, sizeof *start);
    size_t *owner = kmalloc((g->pel_len ? g->pel_len : 1) * sizeof *owner);
    for (size_t i = 0; i < g->pel_len; i++) {
        const spel_t *pe = scg_pel_at(g, i);
        put_id16(out, &pe->id);
        rdb_put_ms8(out, pe->delivery_ms);
        rdb_put_len(out, pe->delivery_count);
        sconsumer_t *const *at =
            bsearch(&pe->owner, g->consumers, g->nconsumers, sizeof *g->consumers, consumer_cmp);
        ASSERT(at && *at == pe->owner);
        owner[i] = (size_t)(at - g->consumers);
        start[owner[i] + 1]++;
    }
    for (size_t j = 0; j < g->nconsumers; j++)
        start[j + 1] += start[j];
    size_t *order = kmalloc((g->pel_len ? g->pel_len : 1) * sizeof *order);
    size_t *fill = kmalloc((g->nconsumers + 1) * sizeof *fill);
    memcpy(fill, start, (g->nconsumers + 1) * sizeof *fill);
    for (size_t i = 0; i < g->pel_len; i++)
        order[fill[owner[i]]++] = i;
    rdb_put_len(out, g->nconsumers);
    for (size_t j = 0; j < g->nconsumers; j++) {
        const sconsumer_t *c = g->consumers[j];
        rdb_put_string(out, c->name, c->name_len);
        rdb_put_ms8(out, c->seen_ms);
        rdb_put_ms8(out, c->active_ms);
        rdb_put_len(out, start[j + 1] - start[j]);
        for (size_t k = start[j]; k < start[j + 1]; k++)
            put_id16(out, &scg_pel_at(g, order[k])->id);
    }
    kfree(start);
    kfree(owner);
    kfree(order);
    kfree(fill);
}

void
rdb_stream_write(const stream_t *s, sbuf_t *out) {
    put_nodes(s, out);
    sid_t last = stream_last_id(s), maxdel = stream_max_deleted_id(s);
    sid_t first = stream_len(s) ? stream_first_id(s) : (sid_t){0, 0};
    rdb_put_len(out, stream_len(s));
    rdb_put_len(out, last.ms);
    rdb_put_len(out, last.seq);
    rdb_put_len(out, first.ms);
    rdb_put_len(out, first.seq);
    rdb_put_len(out, maxdel.ms);
    rdb_put_len(out, maxdel.seq);
    rdb_put_len(out, stream_entries_added(s));
    rdb_put_len(out, stream_group_count(s));
    for (size_t i = 0; i < stream_group_count(s); i++)
        put_group(stream_group_at(s, i), out);
}
