/*
 * cmd_bloom.c - bloom filters: BF.RESERVE BF.ADD BF.MADD BF.EXISTS BF.MEXISTS BF.INSERT BF.INFO
 * BF.CARD BF.SCANDUMP BF.LOADCHUNK, with valkey-bloom's defaults, errors and replies (the type
 * is server/types/t_bloom.c; docs/bloom.md).
 *
 * Effects (the log, replicas): adding to a filter is deterministic given its parameters (fixed
 * hash seed, t_bloom.h), so a call that only adds is logged as it came. A call that creates a
 * filter reads settings (bf.bloom-*) that may differ at replay, so it is logged as valkey-bloom
 * replicates it: BF.INSERT key CAPACITY c ERROR e TIGHTENING t EXPANSION x|NONSCALING [ITEMS
 * ...]. A call that stopped on an error after adding some items is logged with only the items
 * before the error: replay runs without the memory limit (valkey-bloom's replicas skip it too),
 * so the item refused here would be taken there.
 *
 * Keyspace events (class g, as valkey-bloom): "bloom.add" when an item was added, then
 * "bloom.reserve" when the call created the filter.
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "cmd_util.h"
#include "engine.h"
#include "events.h"
#include "kmem.h"
#include "object.h"
#include "prop.h"
#include "reply.h"
#include "t_bloom.h"
#include "util.h"

static const char *const ERR_NOT_FOUND = "ERR not found";
static const char *const ERR_ITEM_EXISTS = "ERR item exists";
static const char *const ERR_BAD_EXPANSION = "ERR bad expansion";
static const char *const ERR_BAD_CAPACITY = "ERR bad capacity";
static const char *const ERR_BAD_ERROR_RATE = "ERR bad error rate";
static const char *const ERR_ERROR_RATE_RANGE = "ERR (0 < error rate range < 1)";
static const char *const ERR_BAD_TIGHTENING = "ERR bad tightening ratio";
static const char *const ERR_TIGHTENING_RANGE = "ERR (0 < tightening ratio range < 1)";
static const char *const ERR_CAPACITY_ZERO = "ERR (capacity should be larger than 0)";
static const char *const ERR_UNKNOWN_ARG = "ERR unknown argument received";
static const char *const ERR_INFO_VALUE = "ERR invalid information value";
static const char *const ERR_NONSCALING_SCALETO =
    "ERR cannot use NONSCALING and VALIDATESCALETO options together";
static const char *const ERR_BAD_CHUNK = "ERR invalid chunk";

/* The parameters a filter is created with. */
typedef struct bf_params {
    uint64_t capacity;
    double fp_rate, tightening;
    uint32_t expansion; /* 0: NONSCALING */
} bf_params_t;

static bf_params_t
params_default(const client_t *c) {
    const engine_config_t *cfg = &c->eng->cfg;
    bf_params_t p = {(uint64_t)cfg->bf_capacity, cfg->bf_fp_rate, cfg->bf_tightening,
                     (uint32_t)cfg->bf_expansion};
    return p;
}

/* The memory limit of this call: none when it replays the log (valkey-bloom skips it for the
 * primary's stream the same way); see the top of the file. */
static long long
memory_limit(const client_t *c) {
    return (c->flags & CLIENT_FAKE) ? -1 : c->eng->cfg.bf_memory_limit;
}

/* ---- argument parsing, in valkey-bloom's words ---------------------------------------------- */

/* A number strictly between 0 and 1 (an error rate, a tightening ratio); `bad` and `range` are
 * the replies for a non-number and for one out of range. */
static bool
parse_fraction(client_t *c, const karg_t *a, const char *bad, const char *range, double *out) {
    double v;
    if (!util_parse_double(a->p, a->n, &v)) {
        reply_err(c, bad);
        return false;
    }
    if (!(v > 0 && v < 1)) {
        reply_err(c, range);
        return false;
    }
    *out = v;
    return true;
}

static bool
parse_fp(client_t *c, const karg_t *a, double *out) {
    return parse_fraction(c, a, ERR_BAD_ERROR_RATE, ERR_ERROR_RATE_RANGE, out);
}

static bool
parse_tightening(client_t *c, const karg_t *a, double *out) {
    return parse_fraction(c, a, ERR_BAD_TIGHTENING, ERR_TIGHTENING_RANGE, out);
}

static bool
parse_capacity(client_t *c, const karg_t *a, uint64_t *out) {
    long long v;
    if (!util_parse_ll(a->p, a->n, &v) || v < 0) {
        reply_err(c, ERR_BAD_CAPACITY);
        return false;
    }
    if (v == 0) {
        reply_err(c, ERR_CAPACITY_ZERO);
        return false;
    }
    *out = (uint64_t)v;
    return true;
}

static bool
parse_expansion(client_t *c, const karg_t *a, uint32_t *out) {
    long long v;
    if (!util_parse_ll(a->p, a->n, &v) || v < 1 || v > (long long)BLOOM_EXPANSION_MAX) {
        reply_err(c, ERR_BAD_EXPANSION);
        return false;
    }
    *out = (uint32_t)v;
    return true;
}

/* ---- lookups and effects ---------------------------------------------------------------- */

/* The bloom at key for a write: 1 found, 0 absent, -1 wrong type (replied). */
static int
lookup_write(client_t *c, const karg_t *key, bloom_t **out) {
    kobj_t *o = cmd_lookup_write(c, key);
    if (!o)
        return 0;
    if (obj_type(o) != OBJ_BLOOM) {
        reply_err(c, ERR_WRONGTYPE);
        return -1;
    }
    *out = obj_ptr(o);
    return 1;
}

static bloom_t *
create(client_t *c, const karg_t *key, const bf_params_t *p) {
    int err = 0;
    bloom_t *b =
        bloom_new(p->capacity, p->fp_rate, p->tightening, p->expansion, memory_limit(c), &err);
    if (!b) {
        reply_err(c, bloom_strerror(err));
        return NULL;
    }
    db_add(c->db, obj_new_ptr(OBJ_BLOOM, OBJ_ENC_BLOOM, key->p, key->n, b, -1));
    return b;
}

/* The creation effect: BF.INSERT with every parameter, then items[0..nitems). */
static void
log_create(client_t *c, const karg_t *key, const bf_params_t *p, const karg_t *items, int nitems) {
    char cap[32], fp[64], tight[64], exp[32];
    karg_t *v = kmalloc((size_t)(11 + nitems) * sizeof *v);
    int n = 0;
    util_ull2str(cap, sizeof cap, p->capacity);
    util_d2str(fp, sizeof fp, p->fp_rate);
    util_d2str(tight, sizeof tight, p->tightening);
    v[n++] = (karg_t){"BF.INSERT", 9};
    v[n++] = *key;
    v[n++] = (karg_t){"CAPACITY", 8};
    v[n++] = (karg_t){cap, strlen(cap)};
    v[n++] = (karg_t){"ERROR", 5};
    v[n++] = (karg_t){fp, strlen(fp)};
    v[n++] = (karg_t){"TIGHTENING", 10};
    v[n++] = (karg_t){tight, strlen(tight)};
    if (p->expansion) {
        util_ull2str(exp, sizeof exp, p->expansion);
        v[n++] = (karg_t){"EXPANSION", 9};
        v[n++] = (karg_t){exp, strlen(exp)};
    } else {
        v[n++] = (karg_t){"NONSCALING", 10};
    }
    if (nitems > 0) {
        v[n++] = (karg_t){"ITEMS", 5};
        memcpy(v + n, items, (size_t)nitems * sizeof *v);
        n += nitems;
    }
    prop_add(&c->eng->prop, c->db_id, n, v);
    kfree(v);
}

/* After items were added to key (created: the call made the filter). */
static void
changed(client_t *c, const karg_t *key, int added, bool created) {
    srv_key_modified(c->eng, c->db, key->p, key->n);
    if (added)
        srv_notify(c->eng, NOTIFY_GENERIC, "bloom.add", key->p, key->n, c->db_id);
    if (created)
        srv_notify(c->eng, NOTIFY_GENERIC, "bloom.reserve", key->p, key->n, c->db_id);
    srv_dirty(c->eng, (uint64_t)added + created);
}

/* Adds items to key, creating the filter with p when absent (p NULL: the settings). multi:
 * reply an array (BF.MADD, BF.INSERT) that ends at the first error, else one integer. */
static void
add_items(client_t *c, const karg_t *key, const bf_params_t *p, bool nocreate, const karg_t *items,
          int nitems, bool multi) {
    bloom_t *b = NULL;
    int found = lookup_write(c, key, &b);
    if (found < 0)
        return;
    bf_params_t dflt = params_default(c);
    if (!p)
        p = &dflt;
    if (!found) {
        if (nocreate) {
            reply_err(c, ERR_NOT_FOUND);
            return;
        }
        if (!(b = create(c, key, p)))
            return;
    }
    long long limit = memory_limit(c);
    int added = 0, done = 0, err = 0;
    size_t spot = multi ? reply_defer(c) : 0;
    for (; done < nitems; done++) {
        int r = bloom_add(b, bloom_hash(items[done].p, items[done].n), limit);
        if (r < 0) {
            err = r;
            break;
        }
        added += r;
        if (multi)
            reply_int(c, r);
    }
    if (err)
        reply_err(c, bloom_strerror(err)); /* BF.MADD: the array's last element, as valkey-bloom */
    if (multi)
        reply_set_deferred_array(c, spot, done + (err != 0));
    else if (!err)
        reply_int(c, added);
    if (!found) {
        log_create(c, key, p, items, done);
    } else if (err && added) {
        karg_t *v = kmalloc((size_t)(2 + done) * sizeof *v);
        v[0] = (karg_t){"BF.MADD", 7};
        v[1] = *key;
        memcpy(v + 2, items, (size_t)done * sizeof *v);
        prop_add(&c->eng->prop, c->db_id, 2 + done, v);
        kfree(v);
    }
    if (added || !found)
        changed(c, key, added, !found);
}

/* ---- commands --------------------------------------------------------------------------- */

static void
cmd_bf_add(client_t *c) {
    add_items(c, &c->argv[1], NULL, false, &c->argv[2], 1, false);
}

static void
cmd_bf_madd(client_t *c) {
    add_items(c, &c->argv[1], NULL, false, &c->argv[2], c->argc - 2, true);
}

/* The bloom at key for a read: 1 found, 0 absent, -1 wrong type (replied). */
static int
lookup_read(client_t *c, const karg_t *key, const bloom_t **out) {
    bool bad = false;
    kobj_t *o = cmd_lookup_read_type(c, key, OBJ_BLOOM, &bad);
    if (bad)
        return -1;
    *out = o ? obj_ptr(o) : NULL;
    return o != NULL;
}

static void
cmd_bf_exists(client_t *c) {
    const bloom_t *b;
    int found = lookup_read(c, &c->argv[1], &b);
    if (found >= 0)
        reply_int(c, found && bloom_contains(b, bloom_hash(c->argv[2].p, c->argv[2].n)));
}

static void
cmd_bf_mexists(client_t *c) {
    const bloom_t *b;
    int found = lookup_read(c, &c->argv[1], &b);
    if (found < 0)
        return;
    reply_array(c, c->argc - 2);
    for (int i = 2; i < c->argc; i++)
        reply_int(c, found && bloom_contains(b, bloom_hash(c->argv[i].p, c->argv[i].n)));
}

static void
cmd_bf_card(client_t *c) {
    const bloom_t *b;
    int found = lookup_read(c, &c->argv[1], &b);
    if (found >= 0)
        reply_int(c, found ? (long long)bloom_items(b) : 0);
}

/* BF.RESERVE key error_rate capacity [EXPANSION expansion | NONSCALING] */
static void
cmd_bf_reserve(client_t *c) {
    if (c->argc > 6) {
        reply_err_arity(c, "bf.reserve");
        return;
    }
    bf_params_t p = params_default(c);
    if (!parse_fp(c, &c->argv[2], &p.fp_rate) || !parse_capacity(c, &c->argv[3], &p.capacity))
        return;
    if (c->argc > 4) {
        const karg_t *o = &c->argv[4];
        if (c->argc == 5 && util_eq_nocase(o->p, o->n, "nonscaling")) {
            p.expansion = 0;
        } else if (c->argc == 6 && util_eq_nocase(o->p, o->n, "expansion")) {
            if (!parse_expansion(c, &c->argv[5], &p.expansion))
                return;
        } else {
            reply_err(c, "ERROR"); /* valkey-bloom's word for it */
            return;
        }
    }
    bloom_t *b;
    int found = lookup_write(c, &c->argv[1], &b);
    if (found < 0)
        return;
    if (found) {
        reply_err(c, ERR_ITEM_EXISTS);
        return;
    }
    if (!create(c, &c->argv[1], &p))
        return;
    log_create(c, &c->argv[1], &p, NULL, 0);
    changed(c, &c->argv[1], 0, true);
    reply_ok(c);
}

/* BF.INSERT key [CAPACITY c] [ERROR e] [EXPANSION x] [TIGHTENING t] [VALIDATESCALETO n]
 * [NONSCALING] [NOCREATE] [ITEMS item ...] */
static void
cmd_bf_insert(client_t *c) {
    bf_params_t p = params_default(c);
    bool nocreate = false, items = false;
    uint64_t scale_to = 0;
    int i = 2;
    for (; i < c->argc; i++) {
        const karg_t *a = &c->argv[i];
        bool has_val = i + 1 < c->argc;
        if (util_eq_nocase(a->p, a->n, "items")) {
            items = true;
            i++;
            break;
        } else if (util_eq_nocase(a->p, a->n, "nocreate")) {
            nocreate = true;
        } else if (util_eq_nocase(a->p, a->n, "nonscaling")) {
            p.expansion = 0;
        } else if (!util_eq_nocase(a->p, a->n, "error") &&
                   !util_eq_nocase(a->p, a->n, "capacity") &&
                   !util_eq_nocase(a->p, a->n, "expansion") &&
                   !util_eq_nocase(a->p, a->n, "tightening") &&
                   !util_eq_nocase(a->p, a->n, "validatescaleto")) {
            reply_err(c, ERR_UNKNOWN_ARG);
            return;
        } else if (!has_val) {
            reply_err_arity(c, "bf.insert");
            return;
        } else {
            const karg_t *v = &c->argv[++i];
            bool ok =
                util_eq_nocase(a->p, a->n, "error")        ? parse_fp(c, v, &p.fp_rate)
                : util_eq_nocase(a->p, a->n, "capacity")   ? parse_capacity(c, v, &p.capacity)
                : util_eq_nocase(a->p, a->n, "expansion")  ? parse_expansion(c, v, &p.expansion)
                : util_eq_nocase(a->p, a->n, "tightening") ? parse_tightening(c, v, &p.tightening)
                                                           : parse_capacity(c, v, &scale_to);
            if (!ok)
                return;
        }
    }
    if (items && i >= c->argc) {
        reply_err_arity(c, "bf.insert"); /* ITEMS with nothing after it */
        return;
    }
    if (scale_to && p.expansion == 0) {
        reply_err(c, ERR_NONSCALING_SCALETO);
        return;
    }
    if (scale_to && !(c->flags & CLIENT_FAKE)) {
        uint64_t reach;
        int rc = bloom_max_scaled_capacity(p.capacity, p.fp_rate, p.tightening, p.expansion,
                                           memory_limit(c), scale_to, &reach);
        if (rc < 0) {
            reply_err(c, bloom_strerror(rc));
            return;
        }
    }
    add_items(c, &c->argv[1], &p, nocreate, &c->argv[i], items ? c->argc - i : 0, true);
}

/* BF.INFO key [CAPACITY | SIZE | FILTERS | ITEMS | ERROR | EXPANSION | TIGHTENING |
 * MAXSCALEDCAPACITY] */
static void
cmd_bf_info(client_t *c) {
    if (c->argc > 3) {
        reply_err_arity(c, "bf.info");
        return;
    }
    const bloom_t *b;
    int found = lookup_read(c, &c->argv[1], &b);
    if (found <= 0) {
        if (found == 0)
            reply_err(c, ERR_NOT_FOUND);
        return;
    }
    uint64_t max_cap = 0;
    int max_rc = b->expansion ? bloom_max_scaled_capacity(b->filters[0].capacity, b->fp_rate,
                                                          b->tightening, b->expansion,
                                                          c->eng->cfg.bf_memory_limit, 0, &max_cap)
                              : 0;
    if (c->argc == 3) {
        const karg_t *f = &c->argv[2];
        if (util_eq_nocase(f->p, f->n, "capacity"))
            reply_int(c, (long long)bloom_capacity(b));
        else if (util_eq_nocase(f->p, f->n, "size"))
            reply_int(c, (long long)bloom_size_bytes(b));
        else if (util_eq_nocase(f->p, f->n, "filters"))
            reply_int(c, b->nfilters);
        else if (util_eq_nocase(f->p, f->n, "items"))
            reply_int(c, (long long)bloom_items(b));
        else if (util_eq_nocase(f->p, f->n, "error"))
            reply_double(c, b->fp_rate);
        else if (util_eq_nocase(f->p, f->n, "expansion") && b->expansion)
            reply_int(c, b->expansion);
        else if (util_eq_nocase(f->p, f->n, "expansion"))
            reply_null(c);
        else if (util_eq_nocase(f->p, f->n, "tightening") && b->expansion)
            reply_double(c, b->tightening);
        else if (util_eq_nocase(f->p, f->n, "maxscaledcapacity") && b->expansion)
            max_rc < 0 ? reply_err(c, bloom_strerror(max_rc)) : reply_int(c, (long long)max_cap);
        else
            reply_err(c, ERR_INFO_VALUE);
        return;
    }
    if (max_rc < 0) {
        reply_err(c, bloom_strerror(max_rc));
        return;
    }
    reply_array(c, b->expansion ? 16 : 12);
    reply_simple(c, "Capacity");
    reply_int(c, (long long)bloom_capacity(b));
    reply_simple(c, "Size");
    reply_int(c, (long long)bloom_size_bytes(b));
    reply_simple(c, "Number of filters");
    reply_int(c, b->nfilters);
    reply_simple(c, "Number of items inserted");
    reply_int(c, (long long)bloom_items(b));
    reply_simple(c, "Error rate");
    reply_double(c, b->fp_rate);
    reply_simple(c, "Expansion rate");
    if (!b->expansion) {
        reply_null(c);
        return;
    }
    reply_int(c, b->expansion);
    reply_simple(c, "Tightening ratio");
    reply_double(c, b->tightening);
    reply_simple(c, "Max scaled capacity");
    reply_int(c, (long long)max_cap);
}

/* BF.SCANDUMP key iterator: [next iterator, chunk]; iterator 0 starts, a reply with next 0 ends.
 * The chunks round-trip through BF.LOADCHUNK within Keel only (docs/bloom.md). */
static void
cmd_bf_scandump(client_t *c) {
    long long iter;
    if (!util_parse_ll(c->argv[2].p, c->argv[2].n, &iter) || iter < 0) {
        reply_err(c, "ERR invalid iterator");
        return;
    }
    const bloom_t *b;
    int found = lookup_read(c, &c->argv[1], &b);
    if (found <= 0) {
        if (found == 0)
            reply_err(c, ERR_NOT_FOUND);
        return;
    }
    reply_array(c, 2);
    if (iter == 0) {
        char *hdr;
        size_t n = bloom_dump_header(b, &hdr);
        reply_int(c, 1);
        reply_bulk(c, hdr, n);
        kfree(hdr);
        return;
    }
    const uint8_t *p;
    size_t n;
    if (!bloom_dump_chunk(b, (uint64_t)iter, &p, &n)) {
        reply_int(c, 0);
        reply_bulk(c, "", 0);
        return;
    }
    reply_int(c, iter + 1);
    reply_bulk(c, (const char *)p, n);
}

/* BF.LOADCHUNK key iterator data: iterator 1 (the header) creates the filter, the others fill
 * its bitmaps. Deterministic, so logged as called. */
static void
cmd_bf_loadchunk(client_t *c) {
    long long iter;
    const karg_t *key = &c->argv[1], *data = &c->argv[3];
    if (!util_parse_ll(c->argv[2].p, c->argv[2].n, &iter) || iter < 1) {
        reply_err(c, "ERR invalid iterator");
        return;
    }
    bloom_t *b;
    int found = lookup_write(c, key, &b);
    if (found < 0)
        return;
    if (iter == 1) {
        if (found) {
            reply_err(c, ERR_ITEM_EXISTS);
            return;
        }
        bool too_big;
        b = bloom_load_header(data->p, data->n, memory_limit(c), &too_big);
        if (!b) {
            reply_err(c, too_big ? bloom_strerror(BLOOM_E_MEMORY) : ERR_BAD_CHUNK);
            return;
        }
        db_add(c->db, obj_new_ptr(OBJ_BLOOM, OBJ_ENC_BLOOM, key->p, key->n, b, -1));
        changed(c, key, 0, true);
        reply_ok(c);
        return;
    }
    if (!found) {
        reply_err(c, ERR_NOT_FOUND);
        return;
    }
    if (bloom_load_chunk(b, (uint64_t)iter - 1, data->p, data->n) < 0) {
        reply_err(c, ERR_BAD_CHUNK);
        return;
    }
    srv_key_modified(c->eng, c->db, key->p, key->n);
    srv_dirty(c->eng, 1);
    reply_ok(c);
}

cmd_def_t cmd_table_bloom[] = {
    {"bf.add", cmd_bf_add, 3, CMD_WRITE | CMD_DENYOOM | CMD_FAST, 1, 1, 1, "bloom",
     "Adds an item to a bloom filter, creating the filter if it does not exist.", "1.0.0",
     "O(N), where N is the number of hash functions used by the bloom filter.", "write fast bloom"},
    {"bf.madd", cmd_bf_madd, -3, CMD_WRITE | CMD_DENYOOM | CMD_FAST, 1, 1, 1, "bloom",
     "Adds one or more items to a bloom filter, creating the filter if it does not exist.", "1.0.0",
     "O(N * K), where N is the number of hash functions and K the number of items.",
     "write fast bloom"},
    {"bf.exists", cmd_bf_exists, 3, CMD_READONLY | CMD_FAST, 1, 1, 1, "bloom",
     "Determines if an item has been added to a bloom filter.", "1.0.0",
     "O(N), where N is the number of hash functions used by the bloom filter.", "read fast bloom"},
    {"bf.mexists", cmd_bf_mexists, -3, CMD_READONLY | CMD_FAST, 1, 1, 1, "bloom",
     "Determines if one or more items have been added to a bloom filter.", "1.0.0",
     "O(K * N), where N is the number of hash functions and K the number of items.",
     "read fast bloom"},
    {"bf.card", cmd_bf_card, 2, CMD_READONLY | CMD_FAST, 1, 1, 1, "bloom",
     "Returns the number of unique items added to a bloom filter.", "1.0.0", "O(1)",
     "read fast bloom"},
    {"bf.reserve", cmd_bf_reserve, -4, CMD_WRITE | CMD_DENYOOM | CMD_FAST, 1, 1, 1, "bloom",
     "Creates an empty bloom filter with the given error rate and capacity.", "1.0.0", "O(1)",
     "write fast bloom"},
    {"bf.insert", cmd_bf_insert, -2, CMD_WRITE | CMD_DENYOOM, 1, 1, 1, "bloom",
     "Adds items to a bloom filter, creating it with the given properties if it does not exist.",
     "1.0.0", "O(N * K), where N is the number of hash functions and K the number of items.",
     "write slow bloom"},
    {"bf.info", cmd_bf_info, -2, CMD_READONLY | CMD_FAST, 1, 1, 1, "bloom",
     "Returns information about a bloom filter.", "1.0.0", "O(1)", "read fast bloom"},
    {"bf.scandump", cmd_bf_scandump, 3, CMD_READONLY, 1, 1, 1, "bloom",
     "Begins an incremental save of a bloom filter (chunks readable by Keel's BF.LOADCHUNK).",
     "1.0.0", "O(n), where n is the capacity.", "read slow bloom"},
    {"bf.loadchunk", cmd_bf_loadchunk, 4, CMD_WRITE | CMD_DENYOOM, 1, 1, 1, "bloom",
     "Restores a bloom filter previously saved with BF.SCANDUMP.", "1.0.0",
     "O(n), where n is the capacity.", "write slow bloom"},
    {0},
};
