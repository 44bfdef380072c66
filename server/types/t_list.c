/*
 * t_list.c - the list value (see t_list.h): the two encodings behind one API, the conversions
 * between them, and the list type's obj_type_ops_t.
 *
 * Invariants:
 *   1. obj_encoding(o) says what obj_ptr(o) is: OBJ_ENC_LISTPACK -> uint8_t * packed list,
 *      OBJ_ENC_QUICKLIST -> ql_t *. Every change that may move a packed list stores the new
 *      address back with obj_set_ptr before returning.
 *   2. The conversion thresholds are Valkey's (quicklistNodeExceedsLimit and
 *      listTypeTryConvertQuicklist), so OBJECT ENCODING answers as Valkey does for the same
 *      sequence of commands and the same list-max-listpack-size.
 */
#include "t_list.h"

#include <string.h>

#include "kassert.h"
#include "kerr.h"
#include "kmem.h"

/* A node with a count limit still stops at this many bytes (Valkey's SIZE_SAFETY_LIMIT). */
#define LIST_SAFETY_BYTES 8192
/* Byte limits of negative fills -1..-5 (Valkey's optimization_level). */
static const size_t fill_bytes[] = {4096, 8192, 16384, 32768, 65536};

/* ---- encodings and conversions ------------------------------------------------------------ */

/* The node limit of fill: a byte limit (count_max unlimited) or a count limit. */
static void
node_limit(long long fill, size_t *bytes_max, uint64_t *count_max) {
    *bytes_max = SIZE_MAX;
    *count_max = UINT64_MAX;
    if (fill >= 0) {
        *count_max = fill == 0 ? 1 : (uint64_t)fill;
    } else {
        long long off = -fill - 1;
        if (off > 4)
            off = 4;
        *bytes_max = fill_bytes[off];
    }
}

static bool
exceeds_limit(long long fill, size_t bytes, uint64_t count) {
    size_t bytes_max;
    uint64_t count_max;
    node_limit(fill, &bytes_max, &count_max);
    if (bytes_max != SIZE_MAX)
        return bytes > bytes_max;
    if (bytes > LIST_SAFETY_BYTES)
        return true;
    return count > count_max;
}

static int
ql_fill_of(long long fill) {
    if (fill > QL_FILL_ENTRIES_MAX)
        return QL_FILL_ENTRIES_MAX;
    if (fill < QL_FILL_MIN)
        return QL_FILL_MIN;
    return (int)fill;
}

/* The configured fill, given to list_type_init (read at each use); Valkey's default before. */
static const long long *cfg_fill;

/* For the paths that have no caller's fill (snapshot load, dup). */
static long long
server_fill(void) {
    return cfg_fill ? *cfg_fill : -2;
}

static void
to_quicklist(kobj_t *o, long long fill) {
    uint8_t *lp = obj_ptr(o);
    ql_t *ql = ql_new(ql_fill_of(fill));
    ASSERT(ql != NULL);
    int rc = ql_append_lp(ql, lp);
    ASSERT(rc == 0);
    lp_free(lp);
    obj_set_ptr(o, ql);
    obj_set_encoding(o, OBJ_ENC_QUICKLIST);
}

static uint8_t *
ql_to_lp(ql_t *ql) {
    uint8_t *lp = lp_new();
    ASSERT(lp != NULL);
    ql_iter_t it;
    ql_entry_t e;
    ql_iter_init(&it, ql, QL_FORWARD, 0);
    while (ql_iter_next(&it, &e)) {
        int rc = e.str ? lp_append(&lp, e.str, e.len) : lp_append_int(&lp, e.ival);
        ASSERT(rc == 0);
    }
    return lp;
}

void
list_try_grow(kobj_t *o, size_t add_bytes, size_t add_count, long long fill) {
    if (obj_encoding(o) != OBJ_ENC_LISTPACK)
        return;
    uint8_t *lp = obj_ptr(o);
    if (exceeds_limit(fill, lp_bytes(lp) + add_bytes, (uint64_t)lp_count(lp) + add_count))
        to_quicklist(o, fill);
}

void
list_try_shrink(kobj_t *o, long long fill) {
    if (obj_encoding(o) != OBJ_ENC_QUICKLIST)
        return;
    ql_t *ql = obj_ptr(o);
    if (ql_node_count(ql) != 1)
        return;
    size_t bytes_max;
    uint64_t count_max;
    node_limit(fill, &bytes_max, &count_max);
    if (bytes_max != SIZE_MAX)
        bytes_max /= 2;
    if (count_max != UINT64_MAX)
        count_max /= 2;
    if (ql_lp_bytes(ql) > bytes_max || ql_len(ql) > count_max)
        return;
    obj_set_ptr(o, ql_to_lp(ql));
    obj_set_encoding(o, OBJ_ENC_LISTPACK);
    ql_free(ql);
}

/* ---- element operations -------------------------------------------------------------------- */

kobj_t *
list_obj_new(const char *key, size_t klen) {
    uint8_t *lp = lp_new();
    ASSERT(lp != NULL);
    return obj_new_ptr(OBJ_LIST, OBJ_ENC_LISTPACK, key, klen, lp, -1);
}

uint64_t
list_len(const kobj_t *o) {
    if (obj_encoding(o) == OBJ_ENC_LISTPACK)
        return lp_count(obj_ptr(o));
    return ql_len(obj_ptr(o));
}

int
list_push(kobj_t *o, int where, const char *s, size_t n) {
    if (obj_encoding(o) == OBJ_ENC_QUICKLIST)
        return ql_push(obj_ptr(o), where == LIST_HEAD ? QL_HEAD : QL_TAIL, s, n);
    uint8_t *lp = obj_ptr(o);
    int rc = where == LIST_HEAD ? lp_prepend(&lp, s, n) : lp_append(&lp, s, n);
    obj_set_ptr(o, lp);
    return rc;
}

static char *
copy_bytes(const void *s, size_t n) {
    char *p = kmalloc(n ? n : 1);
    memcpy(p, s, n);
    return p;
}

int
list_pop(kobj_t *o, int where, list_popped_t *out) {
    if (obj_encoding(o) == OBJ_ENC_QUICKLIST) {
        ql_popped_t v;
        int rc = ql_pop(obj_ptr(o), where == LIST_HEAD ? QL_HEAD : QL_TAIL, &v);
        if (rc != 0)
            return rc;
        if (v.str) {
            out->p = v.str; /* kmalloc'd by the quicklist: handed over */
            out->n = v.len;
        } else {
            char buf[LP_INTBUF_MAX];
            out->n = lp_int_to_string(v.ival, buf);
            out->p = copy_bytes(buf, out->n);
        }
        return 0;
    }
    uint8_t *lp = obj_ptr(o);
    uint8_t *p = where == LIST_HEAD ? lp_first(lp) : lp_last(lp);
    if (!p)
        return KERR_NOTFOUND;
    char buf[LP_INTBUF_MAX];
    const uint8_t *s = lp_get_str(p, &out->n, buf);
    out->p = copy_bytes(s, out->n);
    int rc = lp_delete(&lp, p, NULL);
    ASSERT(rc == 0);
    obj_set_ptr(o, lp);
    return 0;
}

static void
elem_from_lp(const uint8_t *p, list_elem_t *e) {
    e->p = (const char *)lp_get_str(p, &e->n, e->buf);
}

static void
elem_from_ql(const ql_entry_t *q, list_elem_t *e) {
    if (q->str) {
        e->p = (const char *)q->str;
        e->n = q->len;
    } else {
        e->n = lp_int_to_string(q->ival, e->buf);
        e->p = e->buf;
    }
}

bool
list_index(kobj_t *o, long index, list_elem_t *e) {
    if (obj_encoding(o) == OBJ_ENC_QUICKLIST) {
        ql_entry_t q;
        if (ql_index(obj_ptr(o), index, &q) != 0)
            return false;
        elem_from_ql(&q, e);
        return true;
    }
    uint8_t *p = lp_seek(obj_ptr(o), index);
    if (!p)
        return false;
    elem_from_lp(p, e);
    return true;
}

int
list_set(kobj_t *o, long index, const char *s, size_t n) {
    if (obj_encoding(o) == OBJ_ENC_QUICKLIST)
        return ql_replace_at(obj_ptr(o), index, s, n);
    uint8_t *lp = obj_ptr(o);
    uint8_t *p = lp_seek(lp, index);
    if (!p)
        return KERR_NOTFOUND;
    int rc = lp_replace(&lp, p, s, n, NULL);
    obj_set_ptr(o, lp);
    return rc;
}

int
list_insert(kobj_t *o, bool after, const char *pivot, size_t pn, const char *s, size_t n) {
    if (obj_encoding(o) == OBJ_ENC_QUICKLIST) {
        ql_iter_t it;
        ql_entry_t e;
        ql_iter_init(&it, obj_ptr(o), QL_FORWARD, 0);
        while (ql_iter_next(&it, &e)) {
            if (ql_entry_eq(&e, pivot, pn)) {
                int rc = ql_insert(obj_ptr(o), &e, after, s, n);
                return rc < 0 ? rc : 1;
            }
        }
        return 0;
    }
    uint8_t *lp = obj_ptr(o);
    uint8_t *p = lp_first(lp);
    if (p)
        p = lp_find(lp, p, pivot, pn, 0);
    if (!p)
        return 0;
    int rc = lp_insert(&lp, p, after ? LP_AFTER : LP_BEFORE, s, n, NULL);
    obj_set_ptr(o, lp);
    return rc < 0 ? rc : 1;
}

static uint64_t
lp_remove(kobj_t *o, long count, const char *s, size_t n) {
    uint8_t *lp = obj_ptr(o);
    bool from_tail = count < 0;
    uint64_t want = count < 0 ? (uint64_t)(-(count + 1)) + 1 : (uint64_t)count;
    uint64_t removed = 0;
    uint8_t *p = from_tail ? lp_last(lp) : lp_first(lp);
    while (p && (want == 0 || removed < want)) {
        if (!lp_eq(p, s, n)) {
            p = from_tail ? lp_prev(lp, p) : lp_next(lp, p);
            continue;
        }
        /* Entries before p keep their offsets when p goes, so the previous one is found again
         * by its offset after the blob may have moved. */
        uint8_t *prev = from_tail ? lp_prev(lp, p) : NULL;
        size_t prev_off = prev ? (size_t)(prev - lp) : 0;
        uint8_t *next;
        int rc = lp_delete(&lp, p, &next);
        ASSERT(rc == 0);
        removed++;
        p = from_tail ? (prev ? lp + prev_off : NULL) : next;
    }
    obj_set_ptr(o, lp);
    return removed;
}

uint64_t
list_remove(kobj_t *o, long count, const char *s, size_t n) {
    if (obj_encoding(o) == OBJ_ENC_LISTPACK)
        return lp_remove(o, count, s, n);
    bool from_tail = count < 0;
    uint64_t want = count < 0 ? (uint64_t)(-(count + 1)) + 1 : (uint64_t)count;
    uint64_t removed = 0;
    ql_iter_t it;
    ql_entry_t e;
    ql_iter_init(&it, obj_ptr(o), from_tail ? QL_BACKWARD : QL_FORWARD, from_tail ? -1 : 0);
    while ((want == 0 || removed < want) && ql_iter_next(&it, &e)) {
        if (ql_entry_eq(&e, s, n)) {
            ql_iter_del(&it, &e);
            removed++;
        }
    }
    return removed;
}

void
list_trim(kobj_t *o, uint64_t ltrim, uint64_t rtrim) {
    if (obj_encoding(o) == OBJ_ENC_QUICKLIST) {
        ql_t *ql = obj_ptr(o);
        if (ltrim)
            ql_delete_range(ql, 0, ltrim);
        if (rtrim)
            ql_delete_range(ql, -(long)rtrim, rtrim);
        return;
    }
    uint8_t *lp = obj_ptr(o);
    int rc = 0;
    if (ltrim)
        rc = lp_delete_range(&lp, 0, (unsigned long)ltrim);
    if (rc == 0 && rtrim)
        rc = lp_delete_range(&lp, -(long)rtrim, (unsigned long)rtrim);
    ASSERT(rc == 0);
    obj_set_ptr(o, lp);
}

/* ---- iteration ----------------------------------------------------------------------------- */

void
list_iter_init(list_iter_t *it, kobj_t *o, long start, int dir) {
    it->enc = obj_encoding(o);
    it->dir = dir;
    if (it->enc == OBJ_ENC_QUICKLIST) {
        ql_iter_init(&it->qi, obj_ptr(o), dir == LIST_TAIL ? QL_FORWARD : QL_BACKWARD, start);
        return;
    }
    it->lp = obj_ptr(o);
    it->p = lp_seek(it->lp, start);
}

bool
list_iter_next(list_iter_t *it, list_elem_t *e) {
    if (it->enc == OBJ_ENC_QUICKLIST) {
        ql_entry_t q;
        if (!ql_iter_next(&it->qi, &q))
            return false;
        elem_from_ql(&q, e);
        return true;
    }
    if (!it->p)
        return false;
    elem_from_lp(it->p, e);
    it->p = it->dir == LIST_TAIL ? lp_next(it->lp, it->p) : lp_prev(it->lp, it->p);
    return true;
}

/* ---- type operations (keyspace, snapshots) ------------------------------------------------- */

static void
ops_free(void *ptr, int enc) {
    if (enc == OBJ_ENC_QUICKLIST)
        ql_free(ptr);
    else
        lp_free(ptr);
}

static void *
ops_dup(const void *ptr, int enc) {
    if (enc == OBJ_ENC_LISTPACK) {
        size_t n = lp_bytes(ptr);
        uint8_t *lp = kmalloc(n); /* a packed list is one kmalloc'd blob (ds/lp.c) */
        memcpy(lp, ptr, n);
        return lp;
    }
    ql_t *src = (ql_t *)ptr;
    ql_t *ql = ql_new(ql_fill_of(server_fill()));
    ASSERT(ql != NULL);
    ql_iter_t it;
    ql_entry_t e;
    ql_iter_init(&it, src, QL_FORWARD, 0);
    while (ql_iter_next(&it, &e)) {
        char buf[LP_INTBUF_MAX];
        size_t n = e.len;
        const void *s = e.str;
        if (!s) {
            n = lp_int_to_string(e.ival, buf);
            s = buf;
        }
        int rc = ql_push(ql, QL_TAIL, s, n);
        ASSERT(rc == 0);
    }
    return ql;
}

static size_t
ops_mem(const void *ptr, int enc) {
    if (enc == OBJ_ENC_LISTPACK)
        return lp_bytes(ptr);
    const ql_t *ql = ptr;
    return ql_lp_bytes(ql) + ql_node_count(ql) * 48 + 64; /* node headers: links, counts */
}

static uint64_t
ops_count(const void *ptr, int enc) {
    return enc == OBJ_ENC_LISTPACK ? lp_count(ptr) : ql_len(ptr);
}

static void
ops_each(const void *ptr, int enc, void (*cb)(void *ctx, const char *p, size_t n, double score),
         void *ctx) {
    list_elem_t e;
    if (enc == OBJ_ENC_LISTPACK) {
        uint8_t *lp = (uint8_t *)ptr;
        for (uint8_t *p = lp_first(lp); p; p = lp_next(lp, p)) {
            elem_from_lp(p, &e);
            cb(ctx, e.p, e.n, 0);
        }
        return;
    }
    ql_iter_t it;
    ql_entry_t q;
    ql_iter_init(&it, (ql_t *)ptr, QL_FORWARD, 0);
    while (ql_iter_next(&it, &q)) {
        elem_from_ql(&q, &e);
        cb(ctx, e.p, e.n, 0);
    }
}

static void *
ops_create(uint64_t hint, int *enc) {
    long long fill = server_fill();
    if (exceeds_limit(fill, 0, hint)) {
        *enc = OBJ_ENC_QUICKLIST;
        return ql_new(ql_fill_of(fill));
    }
    *enc = OBJ_ENC_LISTPACK;
    return lp_new();
}

static int
ops_add(void **ptr, int *enc, const char *p, size_t n, double score) {
    (void)score;
    long long fill = server_fill();
    if (*enc == OBJ_ENC_LISTPACK) {
        uint8_t *lp = *ptr;
        if (exceeds_limit(fill, lp_bytes(lp) + n, (uint64_t)lp_count(lp) + 1)) {
            ql_t *ql = ql_new(ql_fill_of(fill));
            if (!ql)
                return KERR_NOMEM;
            int rc = ql_append_lp(ql, lp);
            if (rc != 0) {
                ql_free(ql);
                return rc;
            }
            lp_free(lp);
            *ptr = ql;
            *enc = OBJ_ENC_QUICKLIST;
        }
    }
    if (*enc == OBJ_ENC_QUICKLIST)
        return ql_push(*ptr, QL_TAIL, p, n);
    uint8_t *lp = *ptr;
    int rc = lp_append(&lp, p, n);
    *ptr = lp;
    return rc;
}

static const obj_type_ops_t list_ops = {
    .free = ops_free,
    .dup = ops_dup,
    .mem = ops_mem,
    .name = "list",
    .count = ops_count,
    .each = ops_each,
    .create = ops_create,
    .add = ops_add,
};

void
list_type_init(const long long *fill) {
    cfg_fill = fill;
    obj_register_type(OBJ_LIST, &list_ops);
}
