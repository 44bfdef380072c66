/*
 * t_stream.c - the stream value type (t_stream.h): packed entry nodes, consumer groups, PELs.
 *
 * A node is one allocation:
 *
 *   snode_t header (first, last, live, total, len, cap, nmaster, master_len)
 *   master fields: nmaster x (varint len, bytes)   - the field names of the node's first entry
 *   entries, back to back, each:
 *     flags        1 byte: SE_DELETED (a tombstone, still walked over), SE_SAME (same fields as
 *                  the master: the names are not repeated)
 *     body length  varint: the bytes that follow, so a walk steps over an entry at once
 *     ms delta     varint: id.ms - first.ms
 *     seq          varint: id.seq - first.seq when the ms delta is 0, else id.seq
 *     SE_SAME:     nmaster x (varint len, value bytes)
 *     otherwise:   varint nfields, nfields x (varint len, field, varint len, value)
 *
 * Invariants: 1. entries of a node are in ascending ID order, first is the first entry's ID and
 * last the last one's (deleted or not); 2. nodes are in ascending ID order and none is without a
 * live entry; 3. s->length is the sum of the nodes' live counts.
 *
 * The same compression as Valkey's listpack nodes (master fields, ID deltas), with one-byte
 * lengths instead of listpack's per-element header and back-length, so an entry of a few small
 * fields takes fewer bytes than Valkey's. A backward walk collects a node's entry offsets first
 * (a node holds at most STREAM_NODE_ENTRIES_max entries).
 */
#include "t_stream.h"

#include <string.h>

#include "kassert.h"
#include "kerr.h"
#include "kmem.h"
#include "object.h"
#include "util.h"

#define SE_DELETED 0x01
#define SE_SAME    0x02

typedef struct snode {
    sid_t first, last;
    uint32_t live, total; /* live entries; entries including tombstones */
    uint32_t len, cap;    /* bytes of data used and allocated */
    uint32_t nmaster, master_len;
    uint8_t data[];
} snode_t;

/* The configured node limits (stream_type_init), read-only after start; NULL: the defaults. */
static const long long *cfg_node_max_bytes, *cfg_node_max_entries;

long long
stream_node_max_entries(void) {
    return cfg_node_max_entries ? *cfg_node_max_entries : STREAM_NODE_ENTRIES_max;
}

static long long
node_max_bytes(void) {
    return cfg_node_max_bytes ? *cfg_node_max_bytes : STREAM_NODE_BYTES_max;
}

struct stream {
    snode_t **nodes;
    size_t nnodes, nodes_cap;
    uint64_t length;
    sid_t last_id, first_id, max_deleted;
    uint64_t entries_added;
    scg_t **groups; /* ordered by name (byte order, prefix first) */
    size_t ngroups;
};

/* ---- IDs ------------------------------------------------------------------------------------ */

bool
sid_incr(sid_t *id) {
    if (id->seq == UINT64_MAX) {
        if (id->ms == UINT64_MAX)
            return false;
        id->ms++;
        id->seq = 0;
    } else {
        id->seq++;
    }
    return true;
}

bool
sid_decr(sid_t *id) {
    if (id->seq == 0) {
        if (id->ms == 0)
            return false;
        id->ms--;
        id->seq = UINT64_MAX;
    } else {
        id->seq--;
    }
    return true;
}

int
sid_fmt(const sid_t *id, char *buf) {
    int n = util_ull2str(buf, STREAM_ID_STR_max, id->ms);
    buf[n++] = '-';
    n += util_ull2str(buf + n, (size_t)(STREAM_ID_STR_max - n), id->seq);
    return n;
}

static bool
parse_u64(const char *p, size_t n, uint64_t *out) {
    if (n == 0 || n > 20)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        uint64_t d = (uint64_t)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

bool
sid_parse(const char *p, size_t n, uint64_t missing_seq, sid_t *out) {
    const char *dash = memchr(p, '-', n);
    if (!dash) {
        out->seq = missing_seq;
        return parse_u64(p, n, &out->ms);
    }
    return parse_u64(p, (size_t)(dash - p), &out->ms) &&
           parse_u64(dash + 1, n - (size_t)(dash - p) - 1, &out->seq);
}

/* ---- varints -------------------------------------------------------------------------------- */

static size_t
vput(uint8_t *p, uint64_t v) {
    size_t i = 0;
    while (v >= 0x80) {
        p[i++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[i++] = (uint8_t)v;
    return i;
}

static size_t
vlen(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Trusted input (a node we wrote). */
static uint64_t
vget(const uint8_t **pp) {
    const uint8_t *p = *pp;
    uint64_t v = 0;
    int shift = 0;
    while (*p & 0x80) {
        v |= (uint64_t)(*p++ & 0x7f) << shift;
        shift += 7;
    }
    v |= (uint64_t)*p++ << shift;
    *pp = p;
    return v;
}

/* Untrusted input (decode): false when truncated or too long. */
static bool
vget_safe(const uint8_t **pp, const uint8_t *end, uint64_t *out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*pp >= end)
            return false;
        uint8_t b = *(*pp)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false;
}

/* ---- entries in a node ---------------------------------------------------------------------- */

/* Parses the entry at byte off of node n into e (flags into *flags); returns the next offset. */
static uint32_t
entry_parse(const snode_t *n, uint32_t off, sentry_t *e, uint8_t *flags) {
    const uint8_t *p = n->data + off;
    uint8_t fl = *p++;
    uint64_t body = vget(&p);
    const uint8_t *next = p + body; /* no walk over the fields to find the next entry */
    uint64_t dms = vget(&p), seq = vget(&p);
    e->id.ms = n->first.ms + dms;
    e->id.seq = dms == 0 ? n->first.seq + seq : seq;
    e->same_fields = fl & SE_SAME;
    e->master = n->data;
    e->nfields = e->same_fields ? n->nmaster : (uint32_t)vget(&p);
    e->data = p;
    *flags = fl;
    return (uint32_t)(next - n->data);
}

void
stream_fields_init(sfield_iter_t *it, const sentry_t *e) {
    it->e = e;
    it->m = e->master;
    it->d = e->data;
    it->left = e->nfields;
}

bool
stream_fields_next(sfield_iter_t *it, const char **f, size_t *fn, const char **v, size_t *vn) {
    if (it->left == 0)
        return false;
    it->left--;
    const uint8_t **fp = it->e->same_fields ? &it->m : &it->d;
    uint64_t l = vget(fp);
    *f = (const char *)*fp;
    *fn = (size_t)l;
    *fp += l;
    l = vget(&it->d);
    *v = (const char *)it->d;
    *vn = (size_t)l;
    it->d += l;
    return true;
}

/* ---- the stream ----------------------------------------------------------------------------- */

stream_t *
stream_new(void) {
    return kcalloc(1, sizeof(stream_t));
}

static void
group_free(scg_t *g) {
    for (size_t i = 0; i < g->nconsumers; i++) {
        kfree(g->consumers[i]->name);
        kfree(g->consumers[i]);
    }
    kfree(g->consumers);
    kfree(g->pel);
    kfree(g->name);
    kfree(g);
}

void
stream_free(stream_t *s) {
    if (!s)
        return;
    for (size_t i = 0; i < s->nnodes; i++)
        kfree(s->nodes[i]);
    kfree(s->nodes);
    for (size_t i = 0; i < s->ngroups; i++)
        group_free(s->groups[i]);
    kfree(s->groups);
    kfree(s);
}

stream_t *
stream_dup(const stream_t *s) {
    sbuf_t b = {0};
    stream_encode(s, &b);
    stream_t *d = stream_decode(b.p, b.len);
    ASSERT(d != NULL);
    sbuf_free(&b);
    return d;
}

uint64_t
stream_len(const stream_t *s) {
    return s->length;
}
sid_t
stream_last_id(const stream_t *s) {
    return s->last_id;
}
sid_t
stream_first_id(const stream_t *s) {
    return s->first_id;
}
sid_t
stream_max_deleted_id(const stream_t *s) {
    return s->max_deleted;
}
uint64_t
stream_entries_added(const stream_t *s) {
    return s->entries_added;
}
size_t
stream_node_count(const stream_t *s) {
    return s->nnodes;
}

void
stream_set_meta(stream_t *s, const sid_t *last_id, uint64_t entries_added,
                const sid_t *max_deleted) {
    if (last_id)
        s->last_id = *last_id;
    s->entries_added = entries_added;
    if (max_deleted)
        s->max_deleted = *max_deleted;
}

size_t
stream_mem(const stream_t *s) {
    size_t m = kmem_usable(s);
    if (s->nodes)
        m += kmem_usable(s->nodes);
    for (size_t i = 0; i < s->nnodes; i++)
        m += kmem_usable(s->nodes[i]);
    for (size_t i = 0; i < s->ngroups; i++) {
        const scg_t *g = s->groups[i];
        m += kmem_usable(g) + g->name_len + g->pel_cap * sizeof(spel_t);
        for (size_t j = 0; j < g->nconsumers; j++)
            m += sizeof(sconsumer_t) + g->consumers[j]->name_len;
    }
    return m;
}

/* The first live entry's ID, or max ID when none (Valkey's streamGetEdgeID for first_id). */
static void
update_first_id(stream_t *s) {
    if (s->nnodes == 0) {
        s->first_id = (sid_t){UINT64_MAX, UINT64_MAX};
        return;
    }
    const snode_t *n = s->nodes[0];
    uint32_t off = n->master_len;
    while (off < n->len) {
        sentry_t e;
        uint8_t fl;
        off = entry_parse(n, off, &e, &fl);
        if (!(fl & SE_DELETED)) {
            s->first_id = e.id;
            return;
        }
    }
    ASSERT(0 && "a node without a live entry");
}

static snode_t *
node_new(const sid_t *id, size_t npairs, const karg_t *fv) {
    size_t mlen = 0;
    for (size_t i = 0; i < npairs; i++)
        mlen += vlen(fv[2 * i].n) + fv[2 * i].n;
    size_t cap = mlen + 64;
    snode_t *nd = kmalloc(sizeof *nd + cap);
    *nd = (snode_t){.first = *id, .last = *id, .nmaster = (uint32_t)npairs};
    uint8_t *q = nd->data;
    for (size_t i = 0; i < npairs; i++) {
        q += vput(q, fv[2 * i].n);
        memcpy(q, fv[2 * i].p, fv[2 * i].n);
        q += fv[2 * i].n;
    }
    nd->master_len = nd->len = (uint32_t)mlen;
    nd->cap = (uint32_t)cap;
    return nd;
}

static bool
same_as_master(const snode_t *nd, size_t npairs, const karg_t *fv) {
    if (nd->nmaster != npairs)
        return false;
    const uint8_t *m = nd->data;
    for (size_t i = 0; i < npairs; i++) {
        uint64_t l = vget(&m);
        if (l != fv[2 * i].n || memcmp(m, fv[2 * i].p, l) != 0)
            return false;
        m += l;
    }
    return true;
}

void
stream_append(stream_t *s, const sid_t *id, size_t npairs, const karg_t *fv) {
    ASSERT(sid_cmp(id, &s->last_id) > 0);
    size_t vbytes = 0, fbytes = 0;
    for (size_t i = 0; i < npairs; i++) {
        fbytes += vlen(fv[2 * i].n) + fv[2 * i].n;
        vbytes += vlen(fv[2 * i + 1].n) + fv[2 * i + 1].n;
    }
    snode_t *nd = s->nnodes ? s->nodes[s->nnodes - 1] : NULL;
    size_t est = 1 + 30 + vlen(npairs) + fbytes + vbytes; /* flags, lengths, ID deltas */
    long long max_entries = stream_node_max_entries(), max_bytes = node_max_bytes();
    if (!nd || (max_entries && nd->total >= (uint64_t)max_entries) ||
        (max_bytes && nd->len + est > (uint64_t)max_bytes && nd->total > 0) ||
        nd->len + est > UINT32_MAX / 2) {
        nd = node_new(id, npairs, fv);
        if (s->nnodes == s->nodes_cap) {
            s->nodes_cap = s->nodes_cap ? s->nodes_cap * 2 : 4;
            s->nodes = krealloc(s->nodes, s->nodes_cap * sizeof *s->nodes);
        }
        s->nodes[s->nnodes++] = nd;
    }
    bool same = same_as_master(nd, npairs, fv);
    uint64_t dms = id->ms - nd->first.ms;
    uint64_t seq = dms == 0 ? id->seq - nd->first.seq : id->seq;
    size_t body = vlen(dms) + vlen(seq) + vbytes + (same ? 0 : vlen(npairs) + fbytes);
    size_t need = 1 + vlen(body) + body;
    if (nd->len + need > nd->cap) {
        size_t want = sizeof *nd + nd->len + need;
        nd = krealloc(nd, want);
        nd->cap = (uint32_t)(kmem_usable(nd) - sizeof *nd);
        s->nodes[s->nnodes - 1] = nd;
    }
    uint8_t *q = nd->data + nd->len;
    *q++ = same ? SE_SAME : 0;
    q += vput(q, body);
    q += vput(q, dms);
    q += vput(q, seq);
    if (!same)
        q += vput(q, npairs);
    for (size_t i = 0; i < npairs; i++) {
        if (!same) {
            q += vput(q, fv[2 * i].n);
            memcpy(q, fv[2 * i].p, fv[2 * i].n);
            q += fv[2 * i].n;
        }
        q += vput(q, fv[2 * i + 1].n);
        if (fv[2 * i + 1].n)
            memcpy(q, fv[2 * i + 1].p, fv[2 * i + 1].n);
        q += fv[2 * i + 1].n;
    }
    nd->len = (uint32_t)(q - nd->data);
    nd->last = *id;
    nd->live++;
    nd->total++;
    if (s->length == 0)
        s->first_id = *id;
    s->length++;
    s->last_id = *id;
    s->entries_added++;
}

/* Index of the last node whose first ID is <= id, or SIZE_MAX when id is before every node. */
static size_t
node_for(const stream_t *s, const sid_t *id) {
    size_t lo = 0, hi = s->nnodes;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (sid_cmp(&s->nodes[mid]->first, id) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == 0 ? SIZE_MAX : lo - 1;
}

/* Offset of the live entry id in node i, or UINT32_MAX. */
static uint32_t
find_in_node(const stream_t *s, size_t i, const sid_t *id, sentry_t *e) {
    const snode_t *n = s->nodes[i];
    if (sid_cmp(id, &n->last) > 0)
        return UINT32_MAX;
    uint32_t off = n->master_len;
    while (off < n->len) {
        uint8_t fl;
        uint32_t next = entry_parse(n, off, e, &fl);
        int c = sid_cmp(&e->id, id);
        if (c == 0)
            return (fl & SE_DELETED) ? UINT32_MAX : off;
        if (c > 0)
            break;
        off = next;
    }
    return UINT32_MAX;
}

bool
stream_get(const stream_t *s, const sid_t *id, sentry_t *e) {
    size_t i = node_for(s, id);
    return i != SIZE_MAX && find_in_node(s, i, id, e) != UINT32_MAX;
}

static void
node_remove(stream_t *s, size_t i) {
    kfree(s->nodes[i]);
    memmove(s->nodes + i, s->nodes + i + 1, (s->nnodes - i - 1) * sizeof *s->nodes);
    s->nnodes--;
}

/* Marks the entry at off of node i deleted; frees the node when it was its last live one. */
static void
kill_entry(stream_t *s, size_t i, uint32_t off) {
    snode_t *n = s->nodes[i];
    n->data[off] |= SE_DELETED;
    n->live--;
    s->length--;
    if (n->live == 0)
        node_remove(s, i);
}

bool
stream_delete(stream_t *s, const sid_t *id) {
    sentry_t e;
    size_t i = node_for(s, id);
    uint32_t off = i == SIZE_MAX ? UINT32_MAX : find_in_node(s, i, id, &e);
    if (off == UINT32_MAX)
        return false;
    kill_entry(s, i, off);
    if (sid_cmp(id, &s->max_deleted) > 0)
        s->max_deleted = *id;
    if (sid_cmp(id, &s->first_id) == 0)
        update_first_id(s);
    return true;
}

/* ---- iteration ------------------------------------------------------------------------------ */

static void
iter_load_node(stream_iter_t *it) {
    const snode_t *n = it->s->nodes[it->node];
    if (!it->rev) {
        it->pos = n->master_len;
        return;
    }
    if (it->offs_cap < n->total) {
        it->offs_cap = n->total;
        it->offs = krealloc(it->offs, it->offs_cap * sizeof *it->offs);
    }
    it->noffs = 0;
    uint32_t off = n->master_len;
    while (off < n->len) {
        sentry_t e;
        uint8_t fl;
        it->offs[it->noffs++] = off;
        off = entry_parse(n, off, &e, &fl);
    }
    it->pos = it->noffs;
}

void
stream_iter_init(stream_iter_t *it, const stream_t *s, const sid_t *start, const sid_t *end,
                 bool rev) {
    *it = (stream_iter_t){.s = s, .start = *start, .end = *end, .rev = rev};
    if (s->nnodes == 0 || sid_cmp(start, end) > 0) {
        it->done = true;
        return;
    }
    size_t i = node_for(s, rev ? end : start);
    if (i == SIZE_MAX) {
        if (rev) {
            it->done = true;
            return;
        }
        i = 0;
    }
    it->node = i;
    iter_load_node(it);
}

bool
stream_iter_next(stream_iter_t *it, sentry_t *e) {
    while (!it->done) {
        const snode_t *n = it->s->nodes[it->node];
        bool have = it->rev ? it->pos > 0 : it->pos < n->len;
        if (!have) {
            if (it->rev ? it->node == 0 : it->node + 1 >= it->s->nnodes) {
                it->done = true;
                break;
            }
            it->node += it->rev ? (size_t)-1 : 1;
            iter_load_node(it);
            continue;
        }
        uint8_t fl;
        uint32_t off = it->rev ? it->offs[--it->pos] : (uint32_t)it->pos;
        uint32_t next = entry_parse(n, off, e, &fl);
        if (!it->rev)
            it->pos = next;
        if (fl & SE_DELETED)
            continue;
        if (!it->rev) {
            if (sid_cmp(&e->id, &it->start) < 0)
                continue;
            if (sid_cmp(&e->id, &it->end) > 0) {
                it->done = true;
                break;
            }
        } else {
            if (sid_cmp(&e->id, &it->end) > 0)
                continue;
            if (sid_cmp(&e->id, &it->start) < 0) {
                it->done = true;
                break;
            }
        }
        it->last_off = off;
        return true;
    }
    return false;
}

void
stream_iter_done(stream_iter_t *it) {
    kfree(it->offs);
    it->offs = NULL;
}

/* ---- trimming ------------------------------------------------------------------------------- */

/* Valkey's streamTrim: whole nodes from the head while allowed, then (exact only) entries of the
 * first remaining node. by_id: MINID, else MAXLEN. */
static uint64_t
trim(stream_t *s, uint64_t maxlen, const sid_t *minid, bool by_id, bool approx, uint64_t limit) {
    uint64_t removed = 0;
    while (s->nnodes > 0) {
        snode_t *n = s->nodes[0];
        if (limit && removed + n->live > limit)
            break;
        bool whole = by_id ? sid_cmp(&n->last, minid) < 0 : s->length - n->live >= maxlen;
        if (whole) {
            removed += n->live;
            s->length -= n->live;
            node_remove(s, 0);
            continue;
        }
        if (approx)
            break;
        uint32_t off = n->master_len;
        while (off < n->len) {
            sentry_t e;
            uint8_t fl;
            uint32_t next = entry_parse(n, off, &e, &fl);
            if (by_id ? sid_cmp(&e.id, minid) >= 0 : s->length <= maxlen)
                break;
            if (!(fl & SE_DELETED)) {
                n->data[off] |= SE_DELETED;
                n->live--;
                s->length--;
                removed++;
            }
            off = next;
        }
        ASSERT(n->live > 0); /* the whole-node test would have taken it */
        break;
    }
    if (removed)
        update_first_id(s);
    return removed;
}

uint64_t
stream_trim_maxlen(stream_t *s, uint64_t maxlen, bool approx, uint64_t limit) {
    if (s->length <= maxlen)
        return 0;
    return trim(s, maxlen, NULL, false, approx, limit);
}

uint64_t
stream_trim_minid(stream_t *s, const sid_t *minid, bool approx, uint64_t limit) {
    return trim(s, 0, minid, true, approx, limit);
}

/* ---- groups, consumers, PEL ----------------------------------------------------------------- */

/* Byte order with a prefix first: the order of Valkey's radix trees, which XINFO and XPENDING
 * replies follow. */
static int
name_cmp(const char *a, size_t an, const char *b, size_t bn) {
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : an < bn ? -1 : an > bn ? 1 : 0;
}

size_t
stream_group_count(const stream_t *s) {
    return s->ngroups;
}

scg_t *
stream_group_at(const stream_t *s, size_t i) {
    return s->groups[i];
}

scg_t *
stream_group_find(const stream_t *s, const char *name, size_t n) {
    for (size_t i = 0; i < s->ngroups; i++)
        if (s->groups[i]->name_len == n && memcmp(s->groups[i]->name, name, n) == 0)
            return s->groups[i];
    return NULL;
}

scg_t *
stream_group_create(stream_t *s, const char *name, size_t n, const sid_t *last_id,
                    int64_t entries_read) {
    if (stream_group_find(s, name, n))
        return NULL;
    scg_t *g = kcalloc(1, sizeof *g);
    g->name = kstrndup(name, n);
    g->name_len = n;
    g->last_id = *last_id;
    g->entries_read = entries_read;
    s->groups = krealloc(s->groups, (s->ngroups + 1) * sizeof *s->groups);
    size_t at = 0;
    while (at < s->ngroups && name_cmp(s->groups[at]->name, s->groups[at]->name_len, name, n) < 0)
        at++;
    memmove(s->groups + at + 1, s->groups + at, (s->ngroups - at) * sizeof *s->groups);
    s->groups[at] = g;
    s->ngroups++;
    return g;
}

bool
stream_group_destroy(stream_t *s, const char *name, size_t n) {
    for (size_t i = 0; i < s->ngroups; i++) {
        scg_t *g = s->groups[i];
        if (g->name_len == n && memcmp(g->name, name, n) == 0) {
            group_free(g);
            memmove(s->groups + i, s->groups + i + 1, (s->ngroups - i - 1) * sizeof *s->groups);
            s->ngroups--;
            return true;
        }
    }
    return false;
}

/* Index of the first consumer whose name is >= name (binary search: groups may have many). */
static size_t
consumer_lower(const scg_t *g, const char *name, size_t n) {
    size_t lo = 0, hi = g->nconsumers;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (name_cmp(g->consumers[mid]->name, g->consumers[mid]->name_len, name, n) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

sconsumer_t *
scg_consumer_find(const scg_t *g, const char *name, size_t n) {
    size_t i = consumer_lower(g, name, n);
    if (i < g->nconsumers && g->consumers[i]->name_len == n &&
        memcmp(g->consumers[i]->name, name, n) == 0)
        return g->consumers[i];
    return NULL;
}

sconsumer_t *
scg_consumer_get(scg_t *g, const char *name, size_t n, int64_t now_ms, bool *created) {
    sconsumer_t *c = scg_consumer_find(g, name, n);
    *created = c == NULL;
    if (c)
        return c;
    c = kcalloc(1, sizeof *c);
    c->name = kstrndup(name, n);
    c->name_len = n;
    c->seen_ms = now_ms;
    c->active_ms = -1;
    g->consumers = krealloc(g->consumers, (g->nconsumers + 1) * sizeof *g->consumers);
    size_t at = consumer_lower(g, name, n);
    memmove(g->consumers + at + 1, g->consumers + at, (g->nconsumers - at) * sizeof *g->consumers);
    g->consumers[at] = c;
    g->nconsumers++;
    return c;
}

/* Removes PEL index i. */
static void
pel_remove_at(scg_t *g, size_t i) {
    spel_t *base = g->pel + g->pel_start;
    if (base[i].owner)
        base[i].owner->pending--;
    if (i < g->pel_len / 2) {
        memmove(base + 1, base, i * sizeof *base);
        g->pel_start++;
    } else {
        memmove(base + i, base + i + 1, (g->pel_len - i - 1) * sizeof *base);
    }
    g->pel_len--;
    if (g->pel_len == 0)
        g->pel_start = 0;
}

uint64_t
scg_consumer_delete(scg_t *g, sconsumer_t *c) {
    uint64_t had = c->pending;
    size_t keep = 0;
    for (size_t i = 0; i < g->pel_len; i++) {
        spel_t *pe = scg_pel_at(g, i);
        if (pe->owner != c)
            g->pel[g->pel_start + keep++] = *pe;
    }
    g->pel_len = keep;
    for (size_t i = 0; i < g->nconsumers; i++) {
        if (g->consumers[i] == c) {
            memmove(g->consumers + i, g->consumers + i + 1,
                    (g->nconsumers - i - 1) * sizeof *g->consumers);
            g->nconsumers--;
            break;
        }
    }
    kfree(c->name);
    kfree(c);
    return had;
}

size_t
scg_pel_lower(const scg_t *g, const sid_t *id) {
    size_t lo = 0, hi = g->pel_len;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (sid_cmp(&scg_pel_at(g, mid)->id, id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

spel_t *
scg_pel_find(const scg_t *g, const sid_t *id) {
    size_t i = scg_pel_lower(g, id);
    if (i < g->pel_len && sid_cmp(&scg_pel_at(g, i)->id, id) == 0)
        return scg_pel_at(g, i);
    return NULL;
}

spel_t *
scg_pel_add(scg_t *g, const sid_t *id, bool *created) {
    size_t i = scg_pel_lower(g, id);
    if (i < g->pel_len && sid_cmp(&scg_pel_at(g, i)->id, id) == 0) {
        *created = false;
        return scg_pel_at(g, i);
    }
    *created = true;
    if (i < g->pel_len / 2 && g->pel_start > 0) {
        g->pel_start--;
        memmove(g->pel + g->pel_start, g->pel + g->pel_start + 1, i * sizeof *g->pel);
    } else {
        if (g->pel_start + g->pel_len == g->pel_cap) {
            if (g->pel_start > g->pel_cap / 2) { /* mostly empty at the front: compact */
                memmove(g->pel, g->pel + g->pel_start, g->pel_len * sizeof *g->pel);
                g->pel_start = 0;
            } else {
                g->pel_cap = g->pel_cap ? g->pel_cap * 2 : 8;
                g->pel = krealloc(g->pel, g->pel_cap * sizeof *g->pel);
            }
        }
        spel_t *base = g->pel + g->pel_start;
        memmove(base + i + 1, base + i, (g->pel_len - i) * sizeof *base);
    }
    g->pel_len++;
    spel_t *pe = scg_pel_at(g, i);
    *pe = (spel_t){.id = *id};
    return pe;
}

bool
scg_pel_remove(scg_t *g, const sid_t *id) {
    size_t i = scg_pel_lower(g, id);
    if (i >= g->pel_len || sid_cmp(&scg_pel_at(g, i)->id, id) != 0)
        return false;
    pel_remove_at(g, i);
    return true;
}

void
scg_pel_set_owner(spel_t *pe, sconsumer_t *c) {
    if (pe->owner)
        pe->owner->pending--;
    pe->owner = c;
    if (c)
        c->pending++;
}

/* ---- lag arithmetic (Valkey 7+) -------------------------------------------------------------- */

static bool
stream_range_has_tombstones(const stream_t *s, const sid_t *start, const sid_t *end) {
    if (s->length == 0 || sid_is_zero(&s->max_deleted))
        return false;
    if (sid_cmp(&s->first_id, &s->max_deleted) > 0)
        return false;
    sid_t a = start ? *start : (sid_t){0, 0};
    sid_t b = end ? *end : (sid_t){UINT64_MAX, UINT64_MAX};
    return sid_cmp(&a, &s->max_deleted) <= 0 && sid_cmp(&s->max_deleted, &b) <= 0;
}

int64_t
stream_estimate_distance(const stream_t *s, const sid_t *id) {
    if (s->entries_added == 0)
        return 0;
    if (s->length == 0 && sid_cmp(id, &s->last_id) < 1)
        return (int64_t)s->entries_added;
    int cmp_last = sid_cmp(id, &s->last_id);
    if (cmp_last == 0)
        return (int64_t)s->entries_added;
    if (cmp_last > 0)
        return STREAM_ENTRIES_READ_INVALID;
    int cmp_first = sid_cmp(id, &s->first_id);
    if (sid_is_zero(&s->max_deleted) || sid_cmp(&s->max_deleted, &s->first_id) < 0) {
        if (cmp_first < 0)
            return (int64_t)(s->entries_added - s->length);
        if (cmp_first == 0)
            return (int64_t)(s->entries_added - s->length + 1);
    }
    return STREAM_ENTRIES_READ_INVALID;
}

void
stream_group_delivered(const stream_t *s, scg_t *g, const sid_t *id) {
    if (sid_cmp(id, &g->last_id) <= 0)
        return;
    if (g->entries_read != STREAM_ENTRIES_READ_INVALID && !stream_range_has_tombstones(s, id, NULL))
        g->entries_read++;
    else if (s->entries_added)
        g->entries_read = stream_estimate_distance(s, id);
    g->last_id = *id;
}

bool
stream_group_lag(const stream_t *s, const scg_t *g, int64_t *lag) {
    if (s->entries_added == 0) {
        *lag = 0;
        return true;
    }
    if (g->entries_read != STREAM_ENTRIES_READ_INVALID &&
        !stream_range_has_tombstones(s, &g->last_id, NULL)) {
        *lag = (int64_t)s->entries_added - g->entries_read;
        return true;
    }
    int64_t er = stream_estimate_distance(s, &g->last_id);
    if (er == STREAM_ENTRIES_READ_INVALID)
        return false;
    *lag = (int64_t)s->entries_added - er;
    return true;
}

/* ---- encoding ------------------------------------------------------------------------------- */

static void
put_v(sbuf_t *b, uint64_t v) {
    uint8_t tmp[10];
    sbuf_append(b, (const char *)tmp, vput(tmp, v));
}

static void
put_s(sbuf_t *b, const char *p, size_t n) {
    put_v(b, n);
    sbuf_append(b, p, n);
}

void
stream_encode(const stream_t *s, sbuf_t *out) {
    put_v(out, s->last_id.ms);
    put_v(out, s->last_id.seq);
    put_v(out, s->entries_added);
    put_v(out, s->max_deleted.ms);
    put_v(out, s->max_deleted.seq);
    put_v(out, s->first_id.ms);
    put_v(out, s->first_id.seq);
    put_v(out, s->length);
    stream_iter_t it;
    sentry_t e;
    sid_t lo = {0, 0}, hi = {UINT64_MAX, UINT64_MAX};
    stream_iter_init(&it, s, &lo, &hi, false);
    while (stream_iter_next(&it, &e)) {
        put_v(out, e.id.ms);
        put_v(out, e.id.seq);
        put_v(out, e.nfields);
        sfield_iter_t fi;
        const char *f, *v;
        size_t fn, vn;
        stream_fields_init(&fi, &e);
        while (stream_fields_next(&fi, &f, &fn, &v, &vn)) {
            put_s(out, f, fn);
            put_s(out, v, vn);
        }
    }
    stream_iter_done(&it);
    put_v(out, s->ngroups);
    for (size_t i = 0; i < s->ngroups; i++) {
        const scg_t *g = s->groups[i];
        put_s(out, g->name, g->name_len);
        put_v(out, g->last_id.ms);
        put_v(out, g->last_id.seq);
        put_v(out, (uint64_t)(g->entries_read + 1));
        put_v(out, g->nconsumers);
        for (size_t j = 0; j < g->nconsumers; j++) {
            const sconsumer_t *c = g->consumers[j];
            put_s(out, c->name, c->name_len);
            put_v(out, (uint64_t)c->seen_ms);
            put_v(out, (uint64_t)(c->active_ms + 1));
        }
        put_v(out, g->pel_len);
        for (size_t j = 0; j < g->pel_len; j++) {
            const spel_t *pe = scg_pel_at(g, j);
            size_t owner = 0;
            while (owner < g->nconsumers && g->consumers[owner] != pe->owner)
                owner++;
            ASSERT(owner < g->nconsumers);
            put_v(out, pe->id.ms);
            put_v(out, pe->id.seq);
            put_v(out, (uint64_t)pe->delivery_ms);
            put_v(out, pe->delivery_count);
            put_v(out, owner);
        }
    }
}

typedef struct dec {
    const uint8_t *p, *end;
    bool bad;
} dec_t;

static uint64_t
dv(dec_t *d) {
    uint64_t v = 0;
    if (!d->bad && !vget_safe(&d->p, d->end, &v))
        d->bad = true;
    return d->bad ? 0 : v;
}

static const char *
ds(dec_t *d, size_t *n) {
    uint64_t l = dv(d);
    if (d->bad || l > (uint64_t)(d->end - d->p)) {
        d->bad = true;
        *n = 0;
        return "";
    }
    const char *p = (const char *)d->p;
    d->p += l;
    *n = (size_t)l;
    return p;
}

static bool
decode_entries(dec_t *d, stream_t *s, uint64_t count) {
    karg_t *fv = NULL;
    size_t cap = 0;
    sid_t prev = {0, 0};
    bool ok = true;
    for (uint64_t i = 0; i < count && ok; i++) {
        sid_t id = {dv(d), 0};
        id.seq = dv(d);
        uint64_t nf = dv(d);
        if (d->bad || nf == 0 || nf > (uint64_t)(d->end - d->p) / 2 ||
            (i > 0 && sid_cmp(&id, &prev) <= 0) || sid_is_zero(&id)) {
            ok = false;
            break;
        }
        if (2 * nf > cap) {
            cap = 2 * nf;
            fv = krealloc(fv, cap * sizeof *fv);
        }
        for (uint64_t j = 0; j < 2 * nf; j++)
            fv[j].p = ds(d, &fv[j].n);
        if (d->bad) {
            ok = false;
            break;
        }
        stream_append(s, &id, nf, fv);
        prev = id;
    }
    kfree(fv);
    return ok;
}

static bool
decode_group(dec_t *d, stream_t *s) {
    size_t nn;
    const char *name = ds(d, &nn);
    sid_t last = {dv(d), 0};
    last.seq = dv(d);
    int64_t er = (int64_t)dv(d) - 1;
    if (d->bad)
        return false;
    scg_t *g = stream_group_create(s, name, nn, &last, er);
    if (!g)
        return false;
    uint64_t nc = dv(d);
    if (d->bad || nc > (uint64_t)(d->end - d->p))
        return false;
    for (uint64_t j = 0; j < nc; j++) {
        const char *cn = ds(d, &nn);
        int64_t seen = (int64_t)dv(d), active = (int64_t)dv(d) - 1;
        bool created;
        if (d->bad)
            return false;
        sconsumer_t *c = scg_consumer_get(g, cn, nn, seen, &created);
        if (!created)
            return false;
        c->active_ms = active;
    }
    uint64_t np = dv(d);
    if (d->bad || np > (uint64_t)(d->end - d->p))
        return false;
    for (uint64_t j = 0; j < np; j++) {
        sid_t id = {dv(d), 0};
        id.seq = dv(d);
        int64_t dt = (int64_t)dv(d);
        uint64_t cnt = dv(d), owner = dv(d);
        bool created;
        if (d->bad || owner >= g->nconsumers)
            return false;
        if (g->pel_len && sid_cmp(&id, &scg_pel_at(g, g->pel_len - 1)->id) <= 0)
            return false;
        spel_t *pe = scg_pel_add(g, &id, &created);
        pe->delivery_ms = dt;
        pe->delivery_count = cnt;
        scg_pel_set_owner(pe, g->consumers[owner]);
    }
    return true;
}

stream_t *
stream_decode(const char *buf, size_t len) {
    dec_t d = {(const uint8_t *)buf, (const uint8_t *)buf + len, false};
    stream_t *s = stream_new();
    sid_t last = {dv(&d), 0};
    last.seq = dv(&d);
    uint64_t added = dv(&d);
    sid_t maxdel = {dv(&d), 0};
    maxdel.seq = dv(&d);
    sid_t first = {dv(&d), 0};
    first.seq = dv(&d);
    uint64_t count = dv(&d);
    if (d.bad || count > (uint64_t)(d.end - d.p) || !decode_entries(&d, s, count))
        goto bad;
    if (s->length && sid_cmp(&s->last_id, &last) > 0)
        goto bad;
    s->last_id = last;
    s->entries_added = added;
    s->max_deleted = maxdel;
    if (s->length == 0)
        s->first_id = first;
    uint64_t ng = dv(&d);
    if (d.bad || ng > (uint64_t)(d.end - d.p))
        goto bad;
    for (uint64_t i = 0; i < ng; i++)
        if (!decode_group(&d, s))
            goto bad;
    if (d.bad || d.p != d.end)
        goto bad;
    return s;
bad:
    stream_free(s);
    return NULL;
}

/* ---- obj_type_ops ----------------------------------------------------------------------------- */

static void
ops_free(void *ptr, int enc) {
    (void)enc;
    stream_free(ptr);
}

static void *
ops_dup(const void *ptr, int enc) {
    (void)enc;
    return stream_dup(ptr);
}

static size_t
ops_mem(const void *ptr, int enc) {
    (void)enc;
    return stream_mem(ptr);
}

/* A stream goes to a snapshot as one element: its encoding. */
static uint64_t
ops_count(const void *ptr, int enc) {
    (void)ptr;
    (void)enc;
    return 1;
}

static void
ops_each(const void *ptr, int enc, void (*cb)(void *ctx, const char *p, size_t n, double score),
         void *ctx) {
    (void)enc;
    sbuf_t b = {0};
    stream_encode(ptr, &b);
    cb(ctx, b.p ? b.p : "", b.len, 0);
    sbuf_free(&b);
}

static void *
ops_create(uint64_t hint, int *enc) {
    (void)hint;
    *enc = OBJ_ENC_STREAM;
    return NULL;
}

static int
ops_add(void **ptr, int *enc, const char *p, size_t n, double score) {
    (void)score;
    *enc = OBJ_ENC_STREAM;
    if (*ptr)
        return KERR_CORRUPT;
    *ptr = stream_decode(p, n);
    return *ptr ? 0 : KERR_CORRUPT;
}

static const obj_type_ops_t stream_ops = {
    .free = ops_free,
    .dup = ops_dup,
    .mem = ops_mem,
    .name = "stream",
    .count = ops_count,
    .each = ops_each,
    .create = ops_create,
    .add = ops_add,
};

void
stream_type_init(const long long *node_max_bytes, const long long *node_max_entries) {
    cfg_node_max_bytes = node_max_bytes;
    cfg_node_max_entries = node_max_entries;
    obj_register_type(OBJ_STREAM, &stream_ops);
}
