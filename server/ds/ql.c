/*
 * ql.c - the quicklist: a doubly linked list of packed-list nodes, bounded by `fill`.
 *
 * Invariants:
 *   1. No node is empty: an operation that empties a node unlinks and frees it.
 *   2. node->count == lp_count(node->lp), and ql->count is the sum over the nodes.
 *   3. A node holds more than its fill allows only when it has a single element (an element
 *      larger than the cap lives alone), so pushing never fails for want of room.
 *
 * Inserting into the middle of a full node splits it at the insertion point (lp_split) and puts
 * the element at the end of the first half, the start of the second, or a node of its own.
 * Range deletes merge the two nodes around the cut when together they fit one node, so LREM and
 * LTRIM do not leave a trail of tiny nodes behind.
 */
#include "ql.h"

#include <stdlib.h>
#include <string.h>

#include "kmem.h"
#include "kassert.h"
#include "kerr.h"

#define LP_EMPTY_BYTES 9 /* header + terminator of an empty packed list */

struct ql_node {
    ql_node_t *prev, *next;
    uint8_t *lp;    /* owned */
    uint32_t count; /* == lp_count(lp), cached for the index walk */
};

struct ql {
    ql_node_t *head, *tail;
    uint64_t count; /* elements */
    uint64_t nodes;
    int fill; /* >0: entries per node; <0: size class, as list-max-listpack-size */
};

ql_t *
ql_new(int fill) {
    ql_t *ql = kcalloc(1, sizeof *ql);
    if (!ql)
        return NULL;
    if (fill == 0)
        fill = 1;
    if (fill < QL_FILL_MIN)
        fill = QL_FILL_MIN;
    if (fill > QL_FILL_ENTRIES_MAX)
        fill = QL_FILL_ENTRIES_MAX;
    ql->fill = fill;
    return ql;
}

static void
node_free(ql_node_t *n) {
    lp_free(n->lp);
    kfree(n);
}

void
ql_free(ql_t *ql) {
    if (!ql)
        return;
    ql_node_t *n = ql->head;
    while (n) {
        ql_node_t *next = n->next;
        node_free(n);
        n = next;
    }
    kfree(ql);
}

uint64_t
ql_len(const ql_t *ql) {
    return ql->count;
}

uint64_t
ql_node_count(const ql_t *ql) {
    return ql->nodes;
}

size_t
ql_lp_bytes(const ql_t *ql) {
    size_t total = 0;
    for (ql_node_t *n = ql->head; n; n = n->next)
        total += lp_bytes(n->lp);
    return total;
}

static ql_node_t *
node_new(void) {
    ql_node_t *n = kmalloc(sizeof *n);
    if (!n)
        return NULL;
    n->lp = lp_new();
    if (!n->lp) {
        kfree(n);
        return NULL;
    }
    n->prev = n->next = NULL;
    n->count = 0;
    return n;
}

/* Links n after `at`, or at the head when at is NULL. */
static void
link_after(ql_t *ql, ql_node_t *at, ql_node_t *n) {
    n->prev = at;
    n->next = at ? at->next : ql->head;
    if (n->next)
        n->next->prev = n;
    else
        ql->tail = n;
    if (at)
        at->next = n;
    else
        ql->head = n;
    ql->nodes++;
}

static void
unlink_free(ql_t *ql, ql_node_t *n) {
    if (n->prev)
        n->prev->next = n->next;
    else
        ql->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        ql->tail = n->prev;
    ql->nodes--;
    node_free(n);
}

/* Whether a node of `bytes` bytes and `count` entries is within fill (invariant 3). */
static int
node_allows(const ql_t *ql, size_t bytes, uint64_t count) {
    if (count <= 1)
        return 1;
    if (ql->fill < 0)
        return bytes <= (size_t)4096 << (-ql->fill - 1);
    return count <= (uint64_t)ql->fill && bytes <= QL_NODE_SAFETY_BYTES;
}

static int
fits(const ql_t *ql, const ql_node_t *n, size_t entry_bytes) {
    return n && node_allows(ql, lp_bytes(n->lp) + entry_bytes, (uint64_t)n->count + 1);
}

/* A node holding just s, linked after `at` (NULL: at the head). */
static int
insert_new_node(ql_t *ql, ql_node_t *at, const void *s, size_t len) {
    ql_node_t *n = node_new();
    if (!n)
        return KERR_NOMEM;
    int rc = lp_append(&n->lp, s, len);
    if (rc != 0) {
        node_free(n);
        return rc;
    }
    n->count = 1;
    link_after(ql, at, n);
    ql->count++;
    return 0;
}

/* Size check shared by every insert: KERR_LIMIT for an element no packed list can hold. */
static int
entry_bytes(const void *s, size_t len, size_t *sz) {
    *sz = lp_entry_size(s, len);
    if (*sz == SIZE_MAX || !lp_fits(LP_EMPTY_BYTES, *sz))
        return KERR_LIMIT;
    return 0;
}

int
ql_push(ql_t *ql, int where, const void *s, size_t len) {
    size_t sz;
    int rc = entry_bytes(s, len, &sz);
    if (rc != 0)
        return rc;
    ql_node_t *n = where == QL_HEAD ? ql->head : ql->tail;
    if (!fits(ql, n, sz))
        return insert_new_node(ql, where == QL_HEAD ? NULL : ql->tail, s, len);
    rc = where == QL_HEAD ? lp_prepend(&n->lp, s, len) : lp_append(&n->lp, s, len);
    if (rc == 0) {
        n->count++;
        ql->count++;
    }
    return rc;
}

int
ql_append_lp(ql_t *ql, uint8_t *lp) {
    char buf[LP_INTBUF_MAX];
    for (uint8_t *p = lp_first(lp); p; p = lp_next(lp, p)) {
        size_t len;
        const uint8_t *s = lp_get_str(p, &len, buf);
        int rc = ql_push(ql, QL_TAIL, s, len);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Removes the entry at p from node n, freeing the node when it empties (invariant 1). */
static void
delete_entry(ql_t *ql, ql_node_t *n, uint8_t *p) {
    if (n->count == 1) {
        unlink_free(ql, n);
    } else {
        int rc = lp_delete(&n->lp, p, NULL); /* shrinking never fails */
        ASSERT(rc == 0);
        n->count--;
    }
    ql->count--;
}

int
ql_pop(ql_t *ql, int where, ql_popped_t *out) {
    ql_node_t *n = where == QL_HEAD ? ql->head : ql->tail;
    if (!n)
        return KERR_NOTFOUND;
    uint8_t *p = where == QL_HEAD ? lp_first(n->lp) : lp_last(n->lp);
    lp_val_t v;
    lp_get(p, &v);
    out->str = NULL;
    out->len = 0;
    out->ival = v.ival;
    if (v.str) {
        out->str = kmalloc((size_t)v.len + 1);
        if (!out->str)
            return KERR_NOMEM;
        memcpy(out->str, v.str, v.len);
        out->str[v.len] = '\0';
        out->len = v.len;
    }
    delete_entry(ql, n, p);
    return 0;
}

static void
fill_entry(ql_entry_t *e, ql_node_t *n, uint8_t *p, uint32_t offset) {
    lp_val_t v;
    lp_get(p, &v);
    e->node = n;
    e->p = p;
    e->offset = offset;
    e->str = v.str;
    e->len = v.len;
    e->ival = v.ival;
}

int
ql_index(ql_t *ql, long index, ql_entry_t *e) {
    uint64_t i;
    if (index < 0) {
        if ((uint64_t) - (index + 1) >= ql->count)
            return KERR_NOTFOUND;
        i = ql->count - 1 - (uint64_t) - (index + 1);
    } else {
        if ((uint64_t)index >= ql->count)
            return KERR_NOTFOUND;
        i = (uint64_t)index;
    }
    ql_node_t *n;
    if (i < ql->count / 2) {
        for (n = ql->head; i >= n->count; n = n->next)
            i -= n->count;
    } else {
        uint64_t back = ql->count - 1 - i;
        for (n = ql->tail; back >= n->count; n = n->prev)
            back -= n->count;
        i = n->count - 1 - back;
    }
    fill_entry(e, n, lp_seek(n->lp, (long)i), (uint32_t)i);
    return 0;
}

/* Inserts s so that it becomes entry number `off` of node n (0 <= off <= n->count). */
static int
insert_at(ql_t *ql, ql_node_t *n, uint32_t off, const void *s, size_t len) {
    size_t sz;
    int rc = entry_bytes(s, len, &sz);
    if (rc != 0)
        return rc;
    ASSERT(off <= n->count);
    if (fits(ql, n, sz)) {
        if (off == n->count)
            rc = lp_append(&n->lp, s, len);
        else
            rc = lp_insert(&n->lp, lp_seek(n->lp, off), LP_BEFORE, s, len, NULL);
        if (rc == 0) {
            n->count++;
            ql->count++;
        }
        return rc;
    }
    if (off == 0 && fits(ql, n->prev, sz)) {
        rc = lp_append(&n->prev->lp, s, len);
        if (rc == 0)
            n->prev->count++, ql->count++;
        return rc;
    }
    if (off == n->count && fits(ql, n->next, sz)) {
        rc = lp_prepend(&n->next->lp, s, len);
        if (rc == 0)
            n->next->count++, ql->count++;
        return rc;
    }
    if (off == 0)
        return insert_new_node(ql, n->prev, s, len);
    if (off == n->count)
        return insert_new_node(ql, n, s, len);
    /* Full node, middle position: split at off, then off is the end of the first half. */
    ql_node_t *t = kmalloc(sizeof *t);
    if (!t)
        return KERR_NOMEM;
    rc = lp_split(&n->lp, off, &t->lp);
    if (rc != 0) {
        kfree(t);
        return rc;
    }
    t->count = lp_count(t->lp);
    n->count = off;
    link_after(ql, n, t);
    return insert_at(ql, n, off, s, len);
}

int
ql_insert(ql_t *ql, const ql_entry_t *e, int after, const void *s, size_t len) {
    return insert_at(ql, e->node, e->offset + (after ? 1 : 0), s, len);
}

int
ql_replace_at(ql_t *ql, long index, const void *s, size_t len) {
    ql_entry_t e;
    int rc = ql_index(ql, index, &e);
    if (rc != 0)
        return rc;
    size_t sz;
    rc = entry_bytes(s, len, &sz);
    if (rc != 0)
        return rc;
    ql_node_t *n = e.node;
    uint8_t *next = lp_next(n->lp, e.p);
    size_t old = (size_t)((next ? next : n->lp + lp_bytes(n->lp) - 1) - e.p);
    if (node_allows(ql, lp_bytes(n->lp) - old + sz, n->count))
        return lp_replace(&n->lp, e.p, s, len, NULL);
    /* Too big for this node: put the new value after the old one, then drop the old one. */
    rc = insert_at(ql, n, e.offset + 1, s, len);
    if (rc != 0)
        return rc;
    if (index < 0)
        index--; /* the insert after it moved the old element one further from the tail */
    ql_delete_range(ql, index, 1);
    return 0;
}

/* Merges n->next into n when together they fit one node. */
static void
try_merge(ql_t *ql, ql_node_t *n) {
    if (!n || !n->next)
        return;
    ql_node_t *b = n->next;
    size_t bytes = lp_bytes(n->lp) + lp_bytes(b->lp) - LP_EMPTY_BYTES;
    if (!node_allows(ql, bytes, (uint64_t)n->count + b->count) || n->count + b->count < 2)
        return;
    if (lp_merge(&n->lp, b->lp) != 0)
        return; /* out of memory: the two nodes stay as they are, still correct */
    n->count += b->count;
    unlink_free(ql, b);
}

uint64_t
ql_delete_range(ql_t *ql, long start, uint64_t count) {
    ql_entry_t e;
    if (count == 0 || ql_index(ql, start, &e) != 0)
        return 0;
    uint64_t first = start < 0 ? ql->count - (uint64_t) - (start + 1) - 1 : (uint64_t)start;
    if (count > ql->count - first)
        count = ql->count - first;
    uint64_t left = count;
    ql_node_t *n = e.node;
    uint32_t off = e.offset;
    /* The node just before the cut: it survives, and what follows the cut may merge into it. */
    ql_node_t *before = off > 0 ? n : n->prev;
    while (left > 0) {
        ql_node_t *next = n->next;
        uint32_t here = n->count - off;
        if (here > left)
            here = (uint32_t)left;
        if (off == 0 && here == n->count) {
            unlink_free(ql, n);
        } else {
            int rc = lp_delete_range(&n->lp, off, here);
            ASSERT(rc == 0);
            n->count -= here;
        }
        ql->count -= here;
        left -= here;
        off = 0;
        n = next;
    }
    try_merge(ql, before);
    return count;
}

void
ql_trim(ql_t *ql, long start, long stop) {
    long len = (long)ql->count;
    if (start < 0)
        start += len;
    if (stop < 0)
        stop += len;
    if (start < 0)
        start = 0;
    uint64_t ltrim, rtrim;
    if (start > stop || start >= len) {
        ltrim = (uint64_t)len, rtrim = 0; /* empty range: everything goes */
    } else {
        if (stop >= len)
            stop = len - 1;
        ltrim = (uint64_t)start;
        rtrim = (uint64_t)(len - stop - 1);
    }
    ql_delete_range(ql, 0, ltrim);
    if (rtrim)
        ql_delete_range(ql, -(long)rtrim, rtrim);
}

void
ql_iter_init(ql_iter_t *it, ql_t *ql, int dir, long start) {
    ql_entry_t e;
    it->ql = ql;
    it->dir = dir;
    it->node = NULL;
    if (ql_index(ql, start, &e) == 0) {
        it->node = e.node;
        it->pos = (size_t)(e.p - e.node->lp);
        it->offset = e.offset;
    }
}

int
ql_iter_next(ql_iter_t *it, ql_entry_t *e) {
    ql_node_t *n = it->node;
    if (!n)
        return 0;
    uint8_t *p = n->lp + it->pos;
    fill_entry(e, n, p, it->offset);
    uint8_t *q = it->dir == QL_FORWARD ? lp_next(n->lp, p) : lp_prev(n->lp, p);
    if (q) {
        it->pos = (size_t)(q - n->lp);
        it->offset += it->dir == QL_FORWARD ? 1 : (uint32_t)-1;
        return 1;
    }
    it->node = it->dir == QL_FORWARD ? n->next : n->prev;
    if (it->node) {
        q = it->dir == QL_FORWARD ? lp_first(it->node->lp) : lp_last(it->node->lp);
        it->pos = (size_t)(q - it->node->lp);
        it->offset = it->dir == QL_FORWARD ? 0 : it->node->count - 1;
    }
    return 1;
}

void
ql_iter_del(ql_iter_t *it, ql_entry_t *e) {
    ql_node_t *n = e->node;
    size_t at = (size_t)(e->p - n->lp);
    /* Going forward, the next entry of the same node slides down into the deleted one's place;
     * going backward, it sits before it and does not move. A node that empties is never the
     * iterator's, since that one still holds the next entry. */
    if (it->node == n && it->dir == QL_FORWARD) {
        it->pos = at;
        it->offset--;
    }
    delete_entry(it->ql, n, e->p);
    e->node = NULL;
    e->p = NULL;
    e->str = NULL;
}

int
ql_entry_eq(const ql_entry_t *e, const void *s, size_t len) {
    return lp_eq(e->p, s, len);
}
