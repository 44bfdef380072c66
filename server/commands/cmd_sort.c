/*
 * cmd_sort.c - SORT and SORT_RO: the elements of a list, set or sorted set, ordered as numbers
 * (or as strings with ALPHA), by themselves or by the values of other keys (BY pattern), with
 * values of other keys returned alongside (GET pattern), a LIMIT, and (SORT only) STORE.
 *
 * Semantics are Valkey 8's sort.c, including its corners:
 *  - a pattern's first '*' is replaced by the element; "->field" after it reads a hash field;
 *    "#" is the element itself; a GET pattern without '*' gives nil; BY without '*' means
 *    "do not sort" (a list or sorted set keeps its order, DESC walks it backwards);
 *  - numeric order parses each value with strtod (an empty string is 0; a value that is not
 *    a number fails the command with "One or more scores can't be converted into double"),
 *    equal scores fall back to comparing the elements' bytes, so the order is total;
 *  - ALPHA compares bytes up to the first NUL (strcoll in the C locale) when replying, all the
 *    bytes when storing; a BY value that is missing sorts first;
 *  - LIMIT offset count is clamped as Valkey does; a set with BY nosort and STORE is sorted
 *    ALPHA anyway, so the stored list does not depend on the set's hash order;
 *  - BY and GET patterns need read access to every key (the user's ACL), since they can name
 *    any key; the keys they read are not declared, so a read waits for the newest LSN in
 *    durability sync (CMD_PATTERN_READS), and a tiered value among them is fetched in place.
 * SORT without STORE and SORT_RO change nothing. STORE writes a list (or deletes the
 * destination when the result is empty) and is logged in effect form, DEL then RPUSHes of the
 * stored elements, so replay never reads the other keys the patterns named.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "cmd_util.h"
#include "engine.h"
#include "events.h"
#include "kmem.h"
#include "prop.h"
#include "reply.h"
#include "t_hash.h"
#include "t_list.h"
#include "t_set.h"
#include "t_zset.h"
#include "tiering.h"
#include "util.h"

#define SORT_LOG_CHUNK    512 /* elements per RPUSH effect of a stored result */
#define SORT_STRTOD_SMALL 128

/* One element being sorted. Owned copies: the patterns' lookups may expire keys meanwhile. */
typedef struct sort_item {
    char *p; /* the element (NUL-terminated copy) */
    size_t n;
    double score; /* numeric order: the value (0 when a BY key is missing) */
    char *by;     /* ALPHA with BY: the BY value (NUL-terminated copy), NULL when missing */
    size_t byn;
} sort_item_t;

typedef struct sort_cfg {
    bool desc, alpha, bypattern, store;
} sort_cfg_t;

/* A byte string as Valkey's compareStringObjects compares it (memcmp, then the length). */
static int
cmp_bytes(const char *a, size_t an, const char *b, size_t bn) {
    int r = memcmp(a, b, an < bn ? an : bn);
    if (r)
        return r;
    return an < bn ? -1 : an > bn;
}

static int
sort_cmp(const void *x, const void *y, void *arg) {
    const sort_item_t *a = x, *b = y;
    const sort_cfg_t *cfg = arg;
    int r;
    if (!cfg->alpha) {
        if (a->score != b->score)
            r = a->score > b->score ? 1 : -1;
        else
            r = cmp_bytes(a->p, a->n, b->p, b->n);
    } else if (cfg->bypattern) {
        if (!a->by || !b->by)
            r = a->by == b->by ? 0 : !a->by ? -1 : 1;
        else
            r = cfg->store ? cmp_bytes(a->by, a->byn, b->by, b->byn) : strcmp(a->by, b->by);
    } else {
        r = cfg->store ? cmp_bytes(a->p, a->n, b->p, b->n) : strcmp(a->p, b->p);
    }
    return cfg->desc ? -r : r;
}

static char *
dup0(const char *p, size_t n) {
    char *d = kmalloc(n + 1);
    memcpy(d, p, n);
    d[n] = 0;
    return d;
}

/* A value found through a pattern: bytes at p (pointing into the database or into buf). */
typedef struct sort_val {
    const char *p;
    size_t n;
    char buf[LP_INTBUF_MAX > 24 ? LP_INTBUF_MAX : 24];
} sort_val_t;

/* A read lookup that brings a tiered value back first (the key is not declared, so the
 * command could not park for it). NULL when missing, or when the fetch failed (*failed set:
 * the command then fails rather than treat the key as missing). */
static kobj_t *
lookup_value(client_t *c, const char *key, size_t klen, bool *failed) {
    karg_t k = {key, klen};
    kobj_t *o = cmd_lookup_read(c, &k);
    for (int tries = 0; o && obj_is_tiered(o) && tries < 8; tries++) {
        if (tiering_fetch_stub_now(c->eng, c->db, o) < 0)
            break;
        o = db_lookup(c->db, key, klen, 0);
    }
    if (o && obj_is_tiered(o)) {
        *failed = true;
        return NULL;
    }
    return o;
}

/* Valkey's lookupKeyByPattern: false when the pattern names nothing (no '*', missing key or
 * field, or a key of the wrong type). */
static bool
lookup_pattern(client_t *c, const karg_t *pat, const char *elem, size_t en, sort_val_t *out,
               bool *failed) {
    if (pat->n == 1 && pat->p[0] == '#') {
        out->p = elem;
        out->n = en;
        return true;
    }
    const char *star = memchr(pat->p, '*', pat->n);
    if (!star)
        return false;
    const char *end = pat->p + pat->n, *field = NULL;
    for (const char *f = star + 1; f + 2 < end; f++)
        if (f[0] == '-' && f[1] == '>') { /* "->" with a non-empty field after it */
            field = f;
            break;
        }
    size_t pre = (size_t)(star - pat->p);
    size_t post = (size_t)((field ? field : end) - (star + 1));
    size_t klen = pre + en + post;
    char small[256];
    char *key = klen <= sizeof small ? small : kmalloc(klen);
    memcpy(key, pat->p, pre);
    memcpy(key + pre, elem, en);
    memcpy(key + pre + en, star + 1, post);
    kobj_t *o = lookup_value(c, key, klen, failed);
    bool found = false;
    if (o && field && obj_type(o) == OBJ_HASH) {
        thash_t h = hash_of(o);
        hval_t v;
        const char *f = field + 2;
        if (hash_get(&h, f, (size_t)(end - f), &v) == 1) {
            out->p = hval_bytes(&v, out->buf, &out->n);
            found = true;
        }
    } else if (o && !field && obj_type(o) == OBJ_STRING) {
        out->p = obj_str(o, &out->n);
        found = true;
    }
    if (key != small)
        kfree(key);
    return found;
}

/* ---- options ---- */

typedef struct sort_args {
    bool desc, alpha, dontsort;
    long long limit_start, limit_count;
    const karg_t *store, *by;
    const karg_t **gets; /* GET patterns, in order */
    int ngets;
} sort_args_t;

static bool
parse_long(client_t *c, const karg_t *a, long long *v) {
    if (util_parse_ll(a->p, a->n, v))
        return true;
    reply_err(c, ERR_NOT_INT);
    return false;
}

/* Valkey's option loop; false after replying. */
static bool
parse_args(client_t *c, bool readonly, sort_args_t *a) {
    bool full_access = acl_user_reads_all_keys(c->user);
    a->limit_count = -1;
    for (int j = 2; j < c->argc; j++) {
        int left = c->argc - j - 1;
        const karg_t *w = &c->argv[j];
        if (cmd_arg_is(w, "asc")) {
            a->desc = false;
        } else if (cmd_arg_is(w, "desc")) {
            a->desc = true;
        } else if (cmd_arg_is(w, "alpha")) {
            a->alpha = true;
        } else if (cmd_arg_is(w, "limit") && left >= 2) {
            if (!parse_long(c, &w[1], &a->limit_start) || !parse_long(c, &w[2], &a->limit_count))
                return false;
            j += 2;
        } else if (!readonly && cmd_arg_is(w, "store") && left >= 1) {
            a->store = &w[1];
            j++;
        } else if (cmd_arg_is(w, "by") && left >= 1) {
            a->by = &w[1];
            if (!memchr(w[1].p, '*', w[1].n)) {
                a->dontsort = true;
            } else if (!full_access) {
                reply_err(c, "ERR BY option of SORT denied due to insufficient ACL permissions.");
                return false;
            }
            j++;
        } else if (cmd_arg_is(w, "get") && left >= 1) {
            if (!full_access) {
                reply_err(c, "ERR GET option of SORT denied due to insufficient ACL permissions.");
                return false;
            }
            a->gets[a->ngets++] = &w[1];
            j++;
        } else {
            reply_err(c, ERR_SYNTAX);
            return false;
        }
    }
    return true;
}

/* ---- loading the elements ---- */

typedef struct sort_vec {
    sort_item_t *v;
    size_t n, cap;
} sort_vec_t;

static void
vec_push(sort_vec_t *s, const char *p, size_t n) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->v = krealloc(s->v, sizeof *s->v * s->cap);
    }
    s->v[s->n++] = (sort_item_t){dup0(p, n), n, 0, NULL, 0};
}

static void
vec_free(sort_vec_t *s) {
    for (size_t i = 0; i < s->n; i++) {
        kfree(s->v[i].p);
        kfree(s->v[i].by);
    }
    kfree(s->v);
}

static uint64_t
length_of(const kobj_t *o) {
    if (!o)
        return 0;
    if (obj_type(o) == OBJ_LIST)
        return list_len(o);
    if (obj_type(o) == OBJ_SET) {
        tset_t s = set_of(o);
        return set_len(&s);
    }
    return zset_len(o);
}

/* count elements from 0-based position `from` (counted from the tail when rev) of a list or
 * sorted set, in that direction. */
static void
load_range(kobj_t *o, long from, long count, bool rev, sort_vec_t *out) {
    if (obj_type(o) == OBJ_LIST) {
        list_iter_t it;
        list_elem_t e;
        list_iter_init(&it, o, rev ? -1 - from : from, rev ? LIST_HEAD : LIST_TAIL);
        while (count-- > 0 && list_iter_next(&it, &e))
            vec_push(out, e.p, e.n);
        return;
    }
    zset_iter_t it;
    zset_elem_t e;
    zset_iter_rank(&it, o, (uint64_t)from, rev);
    while (count-- > 0 && zset_iter_next(&it, &e))
        vec_push(out, (const char *)e.m, e.n);
}

static void
load_all(kobj_t *o, sort_vec_t *out) {
    if (obj_type(o) == OBJ_SET) {
        tset_t s = set_of(o);
        set_iter_t it;
        sval_t m;
        set_iter_init(&it, &s);
        while (set_iter_next(&it, &m)) {
            char buf[24];
            size_t n;
            const char *p = sval_bytes(&m, buf, &n);
            vec_push(out, p, n);
        }
        set_iter_done(&it);
        return;
    }
    load_range(o, 0, (long)length_of(o), false, out);
}

/* strtod over the whole value as Valkey reads a sort weight; false when it is no number. */
static bool
weight_of(const char *p, size_t n, double *score) {
    char small[SORT_STRTOD_SMALL];
    char *buf = n < sizeof small ? small : kmalloc(n + 1);
    memcpy(buf, p, n);
    buf[n] = 0;
    char *end;
    errno = 0;
    *score = strtod(buf, &end);
    bool ok = *end == '\0' && errno != ERANGE && !isnan(*score);
    if (buf != small)
        kfree(buf);
    return ok;
}

/* The scores (or ALPHA's BY values) of every element; false when one is not a number. */
static bool
load_weights(client_t *c, const sort_args_t *a, sort_vec_t *v, bool *failed) {
    bool ok = true;
    for (size_t j = 0; j < v->n; j++) {
        sort_item_t *it = &v->v[j];
        sort_val_t val = {.p = it->p, .n = it->n};
        if (a->by && !lookup_pattern(c, a->by, it->p, it->n, &val, failed))
            continue;
        if (a->alpha) {
            if (a->by) {
                it->by = dup0(val.p, val.n);
                it->byn = val.n;
            }
        } else if (!weight_of(val.p, val.n, &it->score)) {
            ok = false;
        }
    }
    return ok;
}

/* ---- output ---- */

/* The output: the elements, or their GET values (p NULL for nil), GET values copied (later
 * lookups may move what an earlier one pointed at). */
typedef struct sort_rows {
    karg_t *v;
    size_t n;
    char **owned;
    size_t nowned;
} sort_rows_t;

static void
rows_collect(client_t *c, const sort_args_t *a, sort_vec_t *v, long start, long end, sort_rows_t *r,
             bool *failed) {
    long rows = end - start + 1;
    size_t n = a->ngets ? (size_t)a->ngets * (size_t)rows : (size_t)rows;
    r->v = kmalloc(sizeof *r->v * (n ? n : 1));
    r->owned = kmalloc(sizeof *r->owned * (n ? n : 1));
    r->n = r->nowned = 0;
    for (long j = start; j <= end; j++) {
        const sort_item_t *it = &v->v[j];
        if (!a->ngets)
            r->v[r->n++] = (karg_t){it->p, it->n};
        for (int g = 0; g < a->ngets; g++) {
            sort_val_t val;
            if (!lookup_pattern(c, a->gets[g], it->p, it->n, &val, failed)) {
                r->v[r->n++] = (karg_t){NULL, 0};
                continue;
            }
            r->owned[r->nowned] = dup0(val.p, val.n);
            r->v[r->n++] = (karg_t){r->owned[r->nowned++], val.n};
        }
    }
}

static void
rows_free(sort_rows_t *r) {
    for (size_t i = 0; i < r->nowned; i++)
        kfree(r->owned[i]);
    kfree(r->owned);
    kfree(r->v);
}

static void
reply_rows(client_t *c, const sort_rows_t *r) {
    reply_array(c, (long long)r->n);
    for (size_t i = 0; i < r->n; i++) {
        if (r->v[i].p)
            reply_bulk(c, r->v[i].p, r->v[i].n);
        else
            reply_null(c);
    }
}

static void
log_store(client_t *c, const karg_t *dst, karg_t *elems, size_t n) {
    karg_t del[2] = {{"DEL", 3}, *dst};
    prop_add(&c->eng->prop, c->db_id, 2, del);
    karg_t *argv = kmalloc(sizeof *argv * (2 + SORT_LOG_CHUNK));
    for (size_t at = 0; at < n; at += SORT_LOG_CHUNK) {
        size_t k = n - at < SORT_LOG_CHUNK ? n - at : SORT_LOG_CHUNK;
        argv[0] = (karg_t){"RPUSH", 5};
        argv[1] = *dst;
        memcpy(&argv[2], &elems[at], sizeof *argv * k);
        prop_add(&c->eng->prop, c->db_id, (int)(2 + k), argv);
    }
    kfree(argv);
}

/* STORE: the rows (nil GET values as "") become the list dst. */
static void
store_rows(client_t *c, const karg_t *dst, sort_rows_t *r) {
    size_t n = r->n;
    karg_t *elems = r->v;
    for (size_t i = 0; i < n; i++)
        if (!elems[i].p)
            elems[i] = (karg_t){"", 0};
    db_lookup(c->db, dst->p, dst->n, DB_LOOKUP_NOTOUCH); /* an expired dst goes first (DEL) */
    if (n) {
        kobj_t *o = list_obj_new(dst->p, dst->n);
        size_t bytes = 0;
        for (size_t i = 0; i < n; i++)
            bytes += elems[i].n;
        list_try_grow(o, bytes, n, c->eng->cfg.list_max_listpack_size);
        for (size_t i = 0; i < n; i++)
            list_push(o, LIST_TAIL, elems[i].p, elems[i].n);
        db_set(c->db, o, false);
        srv_key_modified(c->eng, c->db, dst->p, dst->n);
        srv_notify(c->eng, NOTIFY_LIST, "sortstore", dst->p, dst->n, c->db_id);
        srv_dirty(c->eng, n);
        log_store(c, dst, elems, n);
    } else if (db_delete(c->db, dst->p, dst->n)) {
        srv_key_modified(c->eng, c->db, dst->p, dst->n);
        srv_notify(c->eng, NOTIFY_GENERIC, "del", dst->p, dst->n, c->db_id);
        srv_dirty(c->eng, 1);
        log_store(c, dst, elems, 0);
    }
    reply_int(c, (long long)n);
}

/* ---- the command ---- */

/* LIMIT offset count as Valkey clamps it: rows [*start, *end] of len (none when end < start). */
static void
clamp_limit(const sort_args_t *a, long len, long *start, long *end) {
    *start = a->limit_start < 0 ? 0 : a->limit_start > len ? len : (long)a->limit_start;
    long count = a->limit_count < -1 ? -1 : a->limit_count > len ? len : (long)a->limit_count;
    *end = count < 0 ? len - 1 : *start + count - 1;
    if (*start >= len) {
        *start = len - 1;
        *end = len - 2;
    }
    if (*end >= len)
        *end = len - 1;
}

static void
sort_generic(client_t *c, bool readonly) {
    sort_args_t a = {0};
    a.gets = kmalloc(sizeof *a.gets * (size_t)c->argc);
    sort_vec_t v = {0};
    if (!parse_args(c, readonly, &a))
        goto done;
    kobj_t *o = cmd_lookup_read(c, &c->argv[1]);
    int type = o ? obj_type(o) : OBJ_LIST;
    if (type != OBJ_SET && type != OBJ_LIST && type != OBJ_ZSET) {
        reply_err(c, ERR_WRONGTYPE);
        goto done;
    }
    bool sortby = a.by != NULL;
    if (a.dontsort && type == OBJ_SET && a.store) {
        a.dontsort = false; /* a stored result must not depend on the set's hash order */
        a.alpha = true;
        sortby = false;
    }
    long start, end;
    clamp_limit(&a, (long)length_of(o), &start, &end);
    if (o && a.dontsort && type != OBJ_SET) {
        /* Natural order: only the range is loaded, from the tail with DESC. */
        if (end >= start)
            load_range(o, start, end - start + 1, a.desc, &v);
        end -= start;
        start = 0;
    } else if (o) {
        load_all(o, &v);
    }
    bool bad = false, failed = false;
    if (!a.dontsort) {
        sort_args_t w = a;
        w.by = sortby ? a.by : NULL;
        bad = !load_weights(c, &w, &v, &failed);
        sort_cfg_t cfg = {a.desc, a.alpha, sortby, a.store != NULL};
        if (v.n > 1)
            qsort_r(v.v, v.n, sizeof *v.v, sort_cmp, &cfg);
    }
    sort_rows_t rows = {0};
    if (!bad)
        rows_collect(c, &a, &v, start, end, &rows, &failed);
    if (failed)
        reply_err(c, "ERR tiering: a fetch failed for a key that BY or GET named");
    else if (bad)
        reply_err(c, "ERR One or more scores can't be converted into double");
    else if (!a.store)
        reply_rows(c, &rows);
    else
        store_rows(c, a.store, &rows);
    rows_free(&rows);
done:
    vec_free(&v);
    kfree(a.gets);
}

static void
cmd_sort(client_t *c) {
    sort_generic(c, false);
}

static void
cmd_sort_ro(client_t *c) {
    sort_generic(c, true);
}

/* SORT's keys: the sorted key and the last STORE destination, found by Valkey's walk (which
 * skips the arguments of LIMIT, GET and BY). */
static int
keys_sort(int argc, karg_t *argv, int *idx, int max) {
    if (max < 2 || argc < 2)
        return -1;
    static const struct {
        const char *name;
        int skip;
    } skip[] = {{"limit", 2}, {"get", 1}, {"by", 1}};
    int n = 1, store = -1;
    idx[0] = 1;
    for (int i = 2; i < argc; i++) {
        for (size_t j = 0; j < sizeof skip / sizeof *skip; j++) {
            if (cmd_arg_is(&argv[i], skip[j].name)) {
                i += skip[j].skip;
                break;
            }
            if (cmd_arg_is(&argv[i], "store") && i + 1 < argc) {
                store = i + 1; /* the last STORE wins, as in SORT itself */
                break;
            }
        }
    }
    if (store > 0)
        idx[n++] = store;
    return n;
}

/* SORT_RO names only the sorted key (its BY/GET keys are unknown, hence "movablekeys"). */
static int
keys_sort_ro(int argc, karg_t *argv, int *idx, int max) {
    (void)argv;
    if (max < 1 || argc < 2)
        return -1;
    idx[0] = 1;
    return 1;
}

/* The sorted key is only read; the STORE destination is written. */
static bool
sort_key_read_only(int argc, const karg_t *argv, int pos) {
    (void)argc, (void)argv;
    return pos == 1;
}

/* clang-format off */
cmd_def_t cmd_table_sort[] = {
    {"sort", cmd_sort, -2, CMD_WRITE | CMD_DENYOOM | CMD_PATTERN_READS, 1, 1, 1, "generic", "Sorts the elements in a list, a set, or a sorted set, optionally storing the result.", "1.0.0", "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).", "write set sortedset list slow dangerous", keys_sort, .key_read_only = sort_key_read_only},
    {"sort_ro", cmd_sort_ro, -2, CMD_READONLY | CMD_PATTERN_READS, 1, 1, 1, "generic", "Returns the sorted elements of a list, a set, or a sorted set.", "7.0.0", "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).", "read set sortedset list slow dangerous", keys_sort_ro},
    {0},
};
/* clang-format on */
