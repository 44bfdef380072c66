/*
 * cmd_geo.c - the GEO commands: points kept in a sorted set whose scores are 52-bit geohashes
 * (geohash.h). GEOADD, GEODIST, GEOHASH, GEOPOS, GEOSEARCH, GEOSEARCHSTORE, and GEORADIUS,
 * GEORADIUSBYMEMBER and their _RO forms, which are GEOSEARCH with the older argument layout.
 *
 * Replies, error texts and the order of checks are Valkey 8's geo.c (a missing key is looked up
 * before the arguments are parsed, a bad unit is reported before a missing key in GEODIST, ...).
 * A search scans the score ranges of the cells geo_cover picks, in its order (centre, then the
 * neighbours N, S, E, W, NE, NW, SE, SW, skipping a cell equal to the one scanned just before),
 * so that results without ASC/DESC, and COUNT ANY's choice, come out in Valkey's order too.
 *
 * Everything is logged in effect form: GEOADD as the ZADD it runs (so a log reader or replica
 * that predates GEO can apply it), the STORE forms as a DEL of the destination and ZADDs of the
 * stored scores (a replica or a replay with another libm could otherwise round a distance at a
 * boundary differently).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_zset_int.h"
#include "engine.h"
#include "events.h"
#include "geohash.h"
#include "kmem.h"
#include "prop.h"
#include "reply.h"
#include "util.h"

#define GEO_LOG_CHUNK 512 /* elements per ZADD effect of a stored result */

/* ---- argument helpers ---- */

static bool
parse_double_or(client_t *c, const karg_t *a, double *v, const char *err) {
    if (util_parse_double(a->p, a->n, v))
        return true;
    reply_err(c, err ? err : ERR_NOT_FLOAT);
    return false;
}

/* Longitude then latitude at a[0], a[1], within the limits a point can be stored at. */
static bool
parse_lonlat(client_t *c, const karg_t *a, double xy[2]) {
    if (!parse_double_or(c, &a[0], &xy[0], NULL) || !parse_double_or(c, &a[1], &xy[1], NULL))
        return false;
    if (xy[0] < GEO_LON_MIN || xy[0] > GEO_LON_MAX || xy[1] < GEO_LAT_MIN || xy[1] > GEO_LAT_MAX) {
        reply_errf(c, "ERR invalid longitude,latitude pair %f,%f", xy[0], xy[1]);
        return false;
    }
    return true;
}

/* Metres per unit, or -1 after replying. */
static double
parse_unit(client_t *c, const karg_t *u) {
    if (cmd_arg_is(u, "m"))
        return 1;
    if (cmd_arg_is(u, "km"))
        return 1000;
    if (cmd_arg_is(u, "ft"))
        return 0.3048;
    if (cmd_arg_is(u, "mi"))
        return 1609.34;
    reply_err(c, "ERR unsupported unit provided. please use M, KM, FT, MI");
    return -1;
}

/* radius unit at a[0], a[1]. */
static bool
parse_radius(client_t *c, const karg_t *a, geo_shape_t *s) {
    double r;
    if (!parse_double_or(c, &a[0], &r, "ERR need numeric radius"))
        return false;
    if (r < 0) {
        reply_err(c, "ERR radius cannot be negative");
        return false;
    }
    s->radius = r;
    s->to_m = parse_unit(c, &a[1]);
    return s->to_m >= 0;
}

/* width height unit at a[0..2]. */
static bool
parse_box(client_t *c, const karg_t *a, geo_shape_t *s) {
    double w, h;
    if (!parse_double_or(c, &a[0], &w, "ERR need numeric width") ||
        !parse_double_or(c, &a[1], &h, "ERR need numeric height"))
        return false;
    if (h < 0 || w < 0) {
        reply_err(c, "ERR height or width cannot be negative");
        return false;
    }
    s->width = w;
    s->height = h;
    s->to_m = parse_unit(c, &a[2]);
    return s->to_m >= 0;
}

/* The position of a member: false when the set has no such member. */
static bool
member_xy(const kobj_t *o, const karg_t *m, double xy[2]) {
    double score;
    if (zset_score(o, m->p, m->n, &score) < 0)
        return false;
    geo_decode_score(score, xy);
    return true;
}

/* A distance as Valkey prints it: metres (or the unit) with four decimals, as a bulk string in
 * both protocols. */
static void
reply_distance(client_t *c, double d) {
    char buf[512];
    int n = snprintf(buf, sizeof buf, "%.4f", d);
    reply_bulk(c, buf, (size_t)(n < (int)sizeof buf ? n : (int)sizeof buf - 1));
}

/* ---- GEOADD, GEODIST, GEOHASH, GEOPOS ---- */

/* GEOADD key [NX|XX] [CH] lon lat member ...: checked here, then run as ZADD key [options]
 * score member ... with the geohashes as scores (ZADD's own replies and "zadd" event). */
static void
cmd_geoadd(client_t *c) {
    int first = 2;
    bool nx = false, xx = false;
    for (; first < c->argc; first++) {
        const karg_t *a = &c->argv[first];
        if (cmd_arg_is(a, "nx"))
            nx = true;
        else if (cmd_arg_is(a, "xx"))
            xx = true;
        else if (!cmd_arg_is(a, "ch"))
            break;
    }
    if ((c->argc - first) % 3 || (nx && xx)) {
        reply_err(c, ERR_SYNTAX);
        return;
    }
    int elements = (c->argc - first) / 3;
    int argc = first + 2 * elements;
    karg_t *argv = kmalloc(sizeof *argv * (size_t)argc);
    char(*scores)[UTIL_LL_STR_MAX] = kmalloc(sizeof *scores * (size_t)(elements ? elements : 1));
    argv[0] = (karg_t){"zadd", 4};
    for (int i = 1; i < first; i++)
        argv[i] = c->argv[i];
    for (int i = 0; i < elements; i++) {
        const karg_t *a = &c->argv[first + 3 * i];
        double xy[2];
        if (!parse_lonlat(c, a, xy))
            goto done;
        geo_hash_t h;
        geo_encode_wgs84(xy[0], xy[1], GEO_STEP_MAX, &h);
        int n = util_ull2str(scores[i], sizeof scores[i], geo_align52(h));
        argv[first + 2 * i] = (karg_t){scores[i], (size_t)n};
        argv[first + 2 * i + 1] = a[2];
    }
    int saved_argc = c->argc;
    karg_t *saved_argv = c->argv;
    uint64_t dirty = c->eng->dirty;
    c->argc = argc;
    c->argv = argv;
    zcmd_zadd(c);
    c->argc = saved_argc;
    c->argv = saved_argv;
    if (c->eng->dirty != dirty) { /* logged as the ZADD it ran: any reader of the log knows it */
        argv[0] = (karg_t){"ZADD", 4};
        prop_add(&c->eng->prop, c->db_id, argc, argv);
    }
done:
    kfree(scores);
    kfree(argv);
}

static void
cmd_geodist(client_t *c) {
    double to_m = 1;
    if (c->argc == 5) {
        to_m = parse_unit(c, &c->argv[4]);
        if (to_m < 0)
            return;
    } else if (c->argc > 5) {
        reply_err(c, ERR_SYNTAX);
        return;
    }
    bool err;
    kobj_t *o = cmd_lookup_read_type(c, &c->argv[1], OBJ_ZSET, &err);
    if (err)
        return;
    double a[2], b[2];
    if (!o || !member_xy(o, &c->argv[2], a) || !member_xy(o, &c->argv[3], b)) {
        reply_null(c);
        return;
    }
    reply_distance(c, geo_distance(a[0], a[1], b[0], b[1]) / to_m);
}

static void
cmd_geohash(client_t *c) {
    bool err;
    kobj_t *o = cmd_lookup_read_type(c, &c->argv[1], OBJ_ZSET, &err);
    if (err)
        return;
    reply_array(c, c->argc - 2);
    for (int j = 2; j < c->argc; j++) {
        double xy[2];
        if (!o || !member_xy(o, &c->argv[j], xy)) {
            reply_null(c);
            continue;
        }
        char buf[11];
        geo_standard_hash(xy[0], xy[1], buf);
        reply_bulk(c, buf, sizeof buf);
    }
}

static void
cmd_geopos(client_t *c) {
    bool err;
    kobj_t *o = cmd_lookup_read_type(c, &c->argv[1], OBJ_ZSET, &err);
    if (err)
        return;
    reply_array(c, c->argc - 2);
    for (int j = 2; j < c->argc; j++) {
        double xy[2];
        if (!o || !member_xy(o, &c->argv[j], xy)) {
            reply_null_array(c);
            continue;
        }
        reply_array(c, 2);
        reply_double_human(c, xy[0]);
        reply_double_human(c, xy[1]);
    }
}

/* ---- searches ---- */

/* One match: a copy of the member, its position, distance (metres until the reply divides it
 * by the unit) and score. */
typedef struct geo_point {
    uint8_t *m;
    size_t n;
    double xy[2];
    double dist;
    double score;
} geo_point_t;

typedef struct geo_found {
    geo_point_t *v;
    size_t n, cap;
} geo_found_t;

static void
found_free(geo_found_t *f) {
    for (size_t i = 0; i < f->n; i++)
        kfree(f->v[i].m);
    kfree(f->v);
}

/* The matches of one cell's score range [min, max), appended; stops once `limit` (0: none)
 * matches are there, as Valkey checks after each element. */
static void
scan_cell(const kobj_t *o, geo_hash_t cell, const geo_shape_t *s, geo_found_t *f, size_t limit) {
    zsl_range_t r = {(double)geo_align52(cell), 0, 0, 1};
    cell.bits++;
    r.max = (double)geo_align52(cell);
    zset_iter_t it;
    zset_elem_t e;
    zset_iter_score(&it, o, &r, false);
    while (zset_iter_next(&it, &e) && e.score < r.max) {
        double xy[2], dist = 0;
        if (geo_in_shape(s, e.score, xy, &dist)) {
            if (f->n == f->cap) {
                f->cap = f->cap ? f->cap * 2 : 16;
                f->v = krealloc(f->v, sizeof *f->v * f->cap);
            }
            uint8_t *m = kmalloc(e.n ? e.n : 1);
            memcpy(m, e.m, e.n);
            f->v[f->n++] = (geo_point_t){m, e.n, {xy[0], xy[1]}, dist, e.score};
        }
        if (limit && f->n >= limit)
            break;
    }
}

static void
search(const kobj_t *o, const geo_shape_t *s, geo_found_t *f, size_t limit) {
    geo_cover_t cv;
    geo_cover(s, &cv);
    int last = 0; /* index of the cell scanned last; 0 (the centre) never counts as a repeat */
    for (int i = 0; i < 9; i++) {
        geo_hash_t h = cv.cells[i];
        if (h.bits == 0 && h.step == 0)
            continue;
        if (last && h.bits == cv.cells[last].bits && h.step == cv.cells[last].step)
            continue; /* huge radii: adjacent neighbours can be the same cell */
        if (limit && f->n >= limit)
            break;
        scan_cell(o, h, s, f, limit);
        last = i;
    }
}

static int
dist_asc(const void *a, const void *b) {
    const geo_point_t *x = a, *y = b;
    return x->dist > y->dist ? 1 : x->dist == y->dist ? 0 : -1;
}

static int
dist_desc(const void *a, const void *b) {
    return -dist_asc(a, b);
}

enum {
    GEO_FROM_LONLAT = 1 << 0, /* GEORADIUS: lon lat radius unit */
    GEO_FROM_MEMBER = 1 << 1, /* GEORADIUSBYMEMBER: member radius unit */
    GEO_NOSTORE = 1 << 2,     /* the _RO forms: no STORE/STOREDIST */
    GEO_SEARCH = 1 << 3,      /* GEOSEARCH's FROM.../BY... options */
    GEO_SEARCHSTORE = 1 << 4, /* GEOSEARCHSTORE dst src ...: STOREDIST without an argument */
};
enum { SORT_NONE, SORT_ASC, SORT_DESC };

typedef struct geo_opts {
    bool withdist, withhash, withcoord, any, storedist;
    bool frommember, fromlonlat, byradius, bybox;
    int sort;
    long long count; /* 0: all */
    const karg_t *store;
} geo_opts_t;

/* One option word at argv[i] (left: arguments after it); returns how many arguments it took
 * besides itself, or -1 after replying. */
static int
parse_option(client_t *c, int flags, const kobj_t *o, int i, int left, geo_shape_t *s,
             geo_opts_t *g) {
    const karg_t *a = &c->argv[i];
    bool search = flags & GEO_SEARCH, stores = !(flags & (GEO_NOSTORE | GEO_SEARCH));
    if (cmd_arg_is(a, "withdist"))
        g->withdist = true;
    else if (cmd_arg_is(a, "withhash"))
        g->withhash = true;
    else if (cmd_arg_is(a, "withcoord"))
        g->withcoord = true;
    else if (cmd_arg_is(a, "any"))
        g->any = true;
    else if (cmd_arg_is(a, "asc"))
        g->sort = SORT_ASC;
    else if (cmd_arg_is(a, "desc"))
        g->sort = SORT_DESC;
    else if (cmd_arg_is(a, "count") && left >= 1) {
        if (!util_parse_ll(a[1].p, a[1].n, &g->count)) {
            reply_err(c, ERR_NOT_INT);
            return -1;
        }
        if (g->count <= 0) {
            reply_err(c, "ERR COUNT must be > 0");
            return -1;
        }
        return 1;
    } else if ((cmd_arg_is(a, "store") || cmd_arg_is(a, "storedist")) && left >= 1 && stores) {
        g->store = &a[1];
        g->storedist = cmd_arg_is(a, "storedist");
        return 1;
    } else if (cmd_arg_is(a, "storedist") && (flags & GEO_SEARCHSTORE)) {
        g->storedist = true;
    } else if (cmd_arg_is(a, "frommember") && left >= 1 && search && !g->fromlonlat) {
        if (o && !member_xy(o, &a[1], s->xy)) {
            reply_err(c, "ERR could not decode requested zset member");
            return -1;
        }
        g->frommember = true; /* with no key, parsing goes on and the reply is empty */
        return 1;
    } else if (cmd_arg_is(a, "fromlonlat") && left >= 2 && search && !g->frommember) {
        if (!parse_lonlat(c, &a[1], s->xy))
            return -1;
        g->fromlonlat = true;
        return 2;
    } else if (cmd_arg_is(a, "byradius") && left >= 2 && search && !g->bybox) {
        if (!parse_radius(c, &a[1], s))
            return -1;
        s->type = GEO_SHAPE_RADIUS;
        g->byradius = true;
        return 2;
    } else if (cmd_arg_is(a, "bybox") && left >= 3 && search && !g->byradius) {
        if (!parse_box(c, &a[1], s))
            return -1;
        s->type = GEO_SHAPE_BOX;
        g->bybox = true;
        return 3;
    } else {
        reply_err(c, ERR_SYNTAX);
        return -1;
    }
    return 0;
}

/* The checks after the options, in Valkey's order; false after replying. */
static bool
check_options(client_t *c, int flags, const geo_opts_t *g) {
    if (g->store && (g->withdist || g->withhash || g->withcoord)) {
        reply_errf(c, "ERR %s is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
                   (flags & GEO_SEARCHSTORE) ? "GEOSEARCHSTORE" : "STORE option in GEORADIUS");
        return false;
    }
    const karg_t *name = &c->argv[0];
    if ((flags & GEO_SEARCH) && !(g->frommember || g->fromlonlat)) {
        reply_errf(c, "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for %.*s",
                   (int)name->n, name->p);
        return false;
    }
    if ((flags & GEO_SEARCH) && !(g->byradius || g->bybox)) {
        reply_errf(c, "ERR exactly one of BYRADIUS and BYBOX can be specified for %.*s",
                   (int)name->n, name->p);
        return false;
    }
    if (g->any && !g->count) {
        reply_err(c, "ERR the ANY argument requires COUNT argument");
        return false;
    }
    return true;
}

static void
log_store(client_t *c, const karg_t *dst, const geo_point_t *v, size_t n, bool storedist) {
    karg_t del[2] = {{"DEL", 3}, *dst};
    prop_add(&c->eng->prop, c->db_id, 2, del);
    karg_t *argv = kmalloc(sizeof *argv * (2 + 2 * GEO_LOG_CHUNK));
    char(*num)[UTIL_DBL_STR_MAX] = kmalloc(sizeof *num * GEO_LOG_CHUNK);
    for (size_t at = 0; at < n; at += GEO_LOG_CHUNK) {
        size_t k = n - at < GEO_LOG_CHUNK ? n - at : GEO_LOG_CHUNK;
        argv[0] = (karg_t){"ZADD", 4};
        argv[1] = *dst;
        for (size_t i = 0; i < k; i++) {
            const geo_point_t *p = &v[at + i];
            int len = util_d2str(num[i], sizeof num[i], storedist ? p->dist : p->score);
            argv[2 + 2 * i] = (karg_t){num[i], (size_t)len};
            argv[3 + 2 * i] = (karg_t){(const char *)p->m, p->n};
        }
        prop_add(&c->eng->prop, c->db_id, (int)(2 + 2 * k), argv);
    }
    kfree(num);
    kfree(argv);
}

/* The result stored as a sorted set at the destination (deleted when there is none). */
static void
store_result(client_t *c, int flags, const geo_opts_t *g, geo_point_t *v, size_t n) {
    const karg_t *dst = g->store;
    if (n == 0) {
        db_lookup(c->db, dst->p, dst->n, DB_LOOKUP_NOTOUCH);
        if (db_delete(c->db, dst->p, dst->n)) {
            srv_key_modified(c->eng, c->db, dst->p, dst->n);
            srv_notify(c->eng, NOTIFY_GENERIC, "del", dst->p, dst->n, c->db_id);
            srv_dirty(c->eng, 1);
            karg_t del[2] = {{"DEL", 3}, *dst};
            prop_add(&c->eng->prop, c->db_id, 2, del);
        }
        reply_int(c, 0);
        return;
    }
    zvec_t res = {0};
    for (size_t i = 0; i < n; i++)
        zvec_push(&res, v[i].m, v[i].n, g->storedist ? v[i].dist : v[i].score);
    zcmd_store(c, dst, &res, (flags & GEO_SEARCH) ? "geosearchstore" : "georadiusstore");
    srv_dirty(c->eng, n - 1); /* zcmd_store counted one change; Valkey counts each element */
    zvec_free(&res);
    log_store(c, dst, v, n, g->storedist);
}

static void
reply_points(client_t *c, const geo_opts_t *g, geo_point_t *v, size_t n) {
    int extra = g->withdist + g->withhash + g->withcoord;
    reply_array(c, (long long)n);
    for (size_t i = 0; i < n; i++) {
        if (extra)
            reply_array(c, extra + 1);
        reply_bulk(c, (const char *)v[i].m, v[i].n);
        if (g->withdist)
            reply_distance(c, v[i].dist);
        if (g->withhash)
            reply_int(c, (long long)v[i].score);
        if (g->withcoord) {
            reply_array(c, 2);
            reply_double_human(c, v[i].xy[0]);
            reply_double_human(c, v[i].xy[1]);
        }
    }
}

/* The layouts before the options; returns where the options start, or -1 after replying. */
static int
parse_base(client_t *c, int flags, const kobj_t *o, geo_shape_t *s, geo_opts_t *g) {
    if (flags & GEO_FROM_LONLAT) {
        s->type = GEO_SHAPE_RADIUS;
        if (!parse_lonlat(c, &c->argv[2], s->xy) || !parse_radius(c, &c->argv[4], s))
            return -1;
        return 6;
    }
    if (flags & GEO_FROM_MEMBER) {
        if (!o)
            return 5; /* parsing goes on so the reply can be the STORE form's */
        s->type = GEO_SHAPE_RADIUS;
        if (!member_xy(o, &c->argv[2], s->xy)) {
            reply_err(c, "ERR could not decode requested zset member");
            return -1;
        }
        return parse_radius(c, &c->argv[3], s) ? 5 : -1;
    }
    if (flags & GEO_SEARCHSTORE)
        g->store = &c->argv[1];
    return (flags & GEO_SEARCHSTORE) ? 3 : 2;
}

static void
georadius_generic(client_t *c, int src, int flags) {
    bool err;
    kobj_t *o = cmd_lookup_read_type(c, &c->argv[src], OBJ_ZSET, &err);
    if (err)
        return;
    geo_shape_t s = {.to_m = 1};
    geo_opts_t g = {0};
    int base = parse_base(c, flags, o, &s, &g);
    if (base < 0)
        return;
    for (int i = base; i < c->argc; i++) {
        int took = parse_option(c, flags, o, i, c->argc - i - 1, &s, &g);
        if (took < 0)
            return;
        i += took;
    }
    if (!check_options(c, flags, &g))
        return;
    if (!o) {
        if (g.store)
            store_result(c, flags, &g, NULL, 0);
        else
            reply_empty_array(c);
        return;
    }
    if (g.count && g.sort == SORT_NONE && !g.any)
        g.sort = SORT_ASC; /* the nearest COUNT, not any COUNT */
    geo_found_t f = {0};
    search(o, &s, &f, g.any ? (size_t)g.count : 0);
    size_t n = (g.count == 0 || f.n < (unsigned long long)g.count) ? f.n : (size_t)g.count;
    if (g.sort != SORT_NONE && f.n > 1)
        qsort(f.v, f.n, sizeof *f.v, g.sort == SORT_ASC ? dist_asc : dist_desc);
    for (size_t i = 0; i < n; i++)
        f.v[i].dist /= s.to_m;
    if (g.store)
        store_result(c, flags, &g, f.v, n);
    else
        reply_points(c, &g, f.v, n);
    found_free(&f);
}

static void
cmd_georadius(client_t *c) {
    georadius_generic(c, 1, GEO_FROM_LONLAT);
}

static void
cmd_georadius_ro(client_t *c) {
    georadius_generic(c, 1, GEO_FROM_LONLAT | GEO_NOSTORE);
}

static void
cmd_georadiusbymember(client_t *c) {
    georadius_generic(c, 1, GEO_FROM_MEMBER);
}

static void
cmd_georadiusbymember_ro(client_t *c) {
    georadius_generic(c, 1, GEO_FROM_MEMBER | GEO_NOSTORE);
}

static void
cmd_geosearch(client_t *c) {
    georadius_generic(c, 1, GEO_SEARCH);
}

static void
cmd_geosearchstore(client_t *c) {
    georadius_generic(c, 2, GEO_SEARCH | GEO_SEARCHSTORE);
}

/* GEORADIUS and GEORADIUSBYMEMBER: the key, then the keys after the first STORE and the first
 * STOREDIST from the options on, as Valkey's keyword key specs find them (so both are checked
 * when both are given, although the last one wins). */
static int
keys_store_options(int argc, karg_t *argv, int *idx, int max, int from) {
    if (max < 3 || argc < 2)
        return -1;
    int n = 0;
    idx[n++] = 1;
    static const char *const words[] = {"store", "storedist"};
    for (int w = 0; w < 2; w++)
        for (int i = from; i + 1 < argc; i++)
            if (cmd_arg_is(&argv[i], words[w])) {
                idx[n++] = i + 1;
                break;
            }
    return n;
}

static int
keys_georadius(int argc, karg_t *argv, int *idx, int max) {
    return keys_store_options(argc, argv, idx, max, 6);
}

static int
keys_georadiusbymember(int argc, karg_t *argv, int *idx, int max) {
    return keys_store_options(argc, argv, idx, max, 5);
}

/* The searched key is only read: argument 1, or GEOSEARCHSTORE's 2. */
static bool
radius_key_read_only(int argc, const karg_t *argv, int pos) {
    (void)argc, (void)argv;
    return pos == 1;
}

static bool
searchstore_key_read_only(int argc, const karg_t *argv, int pos) {
    (void)argc, (void)argv;
    return pos == 2;
}

/* clang-format off */
cmd_def_t cmd_table_geo[] = {
    {"geoadd", cmd_geoadd, -5, CMD_WRITE | CMD_DENYOOM, 1, 1, 1, "geo", "Adds one or more members to a geospatial index. The key is created if it doesn't exist.", "3.2.0", "O(log(N)) for each item added, where N is the number of elements in the sorted set.", "write geo slow"},
    {"geodist", cmd_geodist, -4, CMD_READONLY, 1, 1, 1, "geo", "Returns the distance between two members of a geospatial index.", "3.2.0", "O(1)", "read geo slow"},
    {"geohash", cmd_geohash, -2, CMD_READONLY, 1, 1, 1, "geo", "Returns members from a geospatial index as geohash strings.", "3.2.0", "O(1) for each member requested.", "read geo slow"},
    {"geopos", cmd_geopos, -2, CMD_READONLY, 1, 1, 1, "geo", "Returns the longitude and latitude of members from a geospatial index.", "3.2.0", "O(1) for each member requested.", "read geo slow"},
    {"georadius", cmd_georadius, -6, CMD_WRITE | CMD_DENYOOM, 1, 1, 1, "geo", "Queries a geospatial index for members within a distance from a coordinate, optionally stores the result.", "3.2.0", "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.", "write geo slow", keys_georadius, .key_read_only = radius_key_read_only},
    {"georadius_ro", cmd_georadius_ro, -6, CMD_READONLY, 1, 1, 1, "geo", "Returns members from a geospatial index that are within a distance from a coordinate.", "3.2.10", "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.", "read geo slow"},
    {"georadiusbymember", cmd_georadiusbymember, -5, CMD_WRITE | CMD_DENYOOM, 1, 1, 1, "geo", "Queries a geospatial index for members within a distance from a member, optionally stores the result.", "3.2.0", "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.", "write geo slow", keys_georadiusbymember, .key_read_only = radius_key_read_only},
    {"georadiusbymember_ro", cmd_georadiusbymember_ro, -5, CMD_READONLY, 1, 1, 1, "geo", "Returns members from a geospatial index that are within a distance from a member.", "3.2.10", "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.", "read geo slow"},
    {"geosearch", cmd_geosearch, -7, CMD_READONLY, 1, 1, 1, "geo", "Queries a geospatial index for members inside an area of a box or a circle.", "6.2.0", "O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around the shape provided as the filter and M is the number of items inside the shape", "read geo slow"},
    {"geosearchstore", cmd_geosearchstore, -8, CMD_WRITE | CMD_DENYOOM, 1, 2, 1, "geo", "Queries a geospatial index for members inside an area of a box or a circle, optionally stores the result.", "6.2.0", "O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around the shape provided as the filter and M is the number of items inside the shape", "write geo slow", .key_read_only = searchstore_key_read_only},
    {0},
};
/* clang-format on */
