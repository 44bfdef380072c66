/*
 * cmd_hash_ttl.c - hash-field expiry (Valkey 9): HEXPIRE, HPEXPIRE, HEXPIREAT, HPEXPIREAT, HTTL,
 * HPTTL, HEXPIRETIME, HPEXPIRETIME, HPERSIST, HGETEX, HSETEX.
 *
 * Replies, error texts and keyspace events follow Valkey 9 (t_hash.c there): per field -2 no
 * such field (or key), 0 an NX/XX/GT/LT condition not met, 1 set, 2 deleted because the time is
 * already past; HPERSIST -1 when the field has no expiry; HTTL and friends -2/-1/the time.
 *
 * Log: a relative time depends on the clock, so these commands never log their own call. They
 * log the effect in absolute form, as Valkey propagates it: `HPEXPIREAT key <ms> FIELDS n f...`
 * for the fields whose expiry was set, `HPERSIST key FIELDS n f...`, `HDEL key f...` for fields
 * deleted because their time is past, and HSETEX as `HSETEX key [PXAT ms | KEEPTTL] FIELDS n
 * f v...` without NX/XX/FNX/FXX (they held). A field that expires on its own is logged by the
 * keyspace (core/db.c, `HDEL`). While the log replays (or on a replica), a past time sets the
 * expiry instead of deleting, as for keys (cmd_expire.c): the log holds every deletion that
 * really happened. The commands are rows of the hash group's table (cmd_hash.c).
 */
#include <limits.h>
#include <string.h>

#include "cmd.h"
#include "cmd_hash_ttl.h"
#include "cmd_util.h"
#include "engine.h"
#include "exec.h"
#include "kerr.h"
#include "kmem.h"
#include "lp.h"
#include "prop.h"
#include "reply.h"
#include "t_hash.h"
#include "util.h"

#define ERR_NUMFIELDS                                                                              \
    "ERR numfields should be greater than 0 and match the provided number of fields"
#define ERR_TOO_BIG "ERR field or value is too large"


static hash_limits_t
limits(client_t *c) {
    const engine_config_t *cfg = &c->eng->cfg;
    hash_limits_t l = {(size_t)cfg->hash_max_listpack_entries,
                       (size_t)cfg->hash_max_listpack_value};
    return l;
}

/* The index of the first "FIELDS" at or after from (not the last argument), or -1. */
static int
find_fields(client_t *c, int from) {
    for (int i = from; i < c->argc - 1; i++)
        if (util_eq_nocase(c->argv[i].p, c->argv[i].n, "fields"))
            return i;
    return -1;
}

/* numfields at argv[at], which must be followed by exactly numfields * per arguments. Replies
 * and returns -1 on error; else the count. */
static long long
parse_numfields(client_t *c, int at, int per, const char *mismatch) {
    long long n = 0;
    if (at >= 0 && at < c->argc && !util_parse_ll(c->argv[at].p, c->argv[at].n, &n)) {
        reply_err(c, ERR_NOT_INT);
        return -1;
    }
    if (at < 0 || n <= 0 || n > INT_MAX / per || n * per != c->argc - at - 1) {
        reply_err(c, mismatch);
        return -1;
    }
    return n;
}

/* The hash at argv[1] for a command that may change it (expired fields are removed by the
 * lookup); NULL with *bad when it is of another type. */
static kobj_t *
lookup_hash(client_t *c, bool *bad) {
    kobj_t *o = db_lookup(c->db, c->argv[1].p, c->argv[1].n, 0);
    *bad = o && obj_type(o) != OBJ_HASH;
    if (*bad) {
        reply_err(c, ERR_WRONGTYPE);
        return NULL;
    }
    return o;
}

/* Whether a past time deletes now: not while the log replays or on a replica. */
static bool
already_expired(client_t *c, long long when) {
    return c->eng->dbenv.expire_enabled && when <= db_now_ms(&c->eng->dbenv);
}

/* An effect `NAME key [head...] f...` built from the fields picked in argv. */
typedef struct effect {
    karg_t *v;
    int n;
} effect_t;

static void
effect_init(effect_t *e, client_t *c, const char *name, int nfields_max) {
    e->v = kmalloc(sizeof *e->v * (size_t)(nfields_max * 2 + 8));
    e->n = 0;
    e->v[e->n++] = (karg_t){name, strlen(name)};
    e->v[e->n++] = c->argv[1];
}

static void
effect_log(effect_t *e, client_t *c) {
    prop_add(&c->eng->prop, c->db_id, e->n, e->v);
}

static void
effect_free(effect_t *e) {
    kfree(e->v);
}

/* After a change: the key's modified hooks, dirty, and the key deleted when the hash is empty. */
static void
hash_touched(client_t *c, kobj_t *o, const thash_t *h, uint64_t changes) {
    const karg_t *k = &c->argv[1];
    hash_store(o, h);
    db_hash_ttl_track(c->db, o);
    if (changes) {
        srv_key_modified(c->eng, c->db, k->p, k->n);
        srv_dirty(c->eng, changes);
    }
    if (hash_len(h) == 0) {
        db_delete(c->db, k->p, k->n);
        if (changes)
            srv_notify(c->eng, NOTIFY_GENERIC, "del", k->p, k->n, c->db_id);
    }
}

/* ---- HEXPIRE HPEXPIRE HEXPIREAT HPEXPIREAT ---- */

/* basetime + the number in a (seconds when unit_ms is 1000) as unix ms; replies on error. */
static bool
parse_when(client_t *c, const karg_t *a, const char *name, int64_t basetime, long long unit_ms,
           long long *when) {
    if (!util_parse_ll(a->p, a->n, when)) {
        reply_err(c, ERR_NOT_INT);
        return false;
    }
    if (*when > LLONG_MAX / unit_ms || *when < LLONG_MIN / unit_ms)
        goto overflow;
    *when *= unit_ms;
    if (*when > LLONG_MAX - basetime)
        goto overflow;
    *when += basetime;
    return true;
overflow:
    reply_errf(c, "ERR invalid expire time in '%s' command", name);
    return false;
}

static void
hexpire_generic(client_t *c, const char *name, int64_t basetime, long long unit_ms) {
    prop_no_call(&c->eng->prop); /* only the effects below are logged */
    /* Valkey's order: the conditions, the field count, then the time. */
    int fi = find_fields(c, 3), flags = 0;
    if (fi >= 0 && cmd_expire_cond_parse(c, 3, fi, &flags) < 0)
        return;
    long long nf = parse_numfields(c, fi < 0 ? -1 : fi + 1, 1, ERR_NUMFIELDS), when;
    if (nf < 0 || !parse_when(c, &c->argv[2], name, basetime, unit_ms, &when))
        return;
    bool bad;
    kobj_t *o = lookup_hash(c, &bad);
    if (bad)
        return;
    int first = fi + 2;
    reply_array(c, nf);
    if (!o) {
        for (long long i = 0; i < nf; i++)
            reply_int(c, -2);
        return;
    }
    bool past = already_expired(c, when);
    if (when < 0)
        when = 0; /* replay only: a negative expiry cannot be stored (-1 means none) */
    thash_t h = hash_of(o);
    effect_t eff;
    effect_init(&eff, c, past ? "HDEL" : "HPEXPIREAT", (int)nf);
    char num[UTIL_LL_STR_MAX], cnt[UTIL_LL_STR_MAX];
    if (!past) {
        eff.v[eff.n++] = (karg_t){num, (size_t)util_ll2str(num, sizeof num, when)};
        eff.v[eff.n++] = (karg_t){"FIELDS", 6};
        eff.v[eff.n++] = (karg_t){cnt, 0}; /* filled in below */
    }
    int head = eff.n;
    for (int i = first; i < c->argc; i++) {
        const karg_t *f = &c->argv[i];
        int64_t cur;
        if (!hash_get_expire(&h, f->p, f->n, &cur)) {
            reply_int(c, -2);
        } else if (!cmd_expire_cond_allows(flags, cur, when)) {
            reply_int(c, 0);
        } else if (past) {
            hash_delete(&h, f->p, f->n);
            eff.v[eff.n++] = *f;
            reply_int(c, 2);
        } else {
            hash_set_expire(&h, f->p, f->n, when);
            eff.v[eff.n++] = *f;
            reply_int(c, 1);
        }
    }
    int changed = eff.n - head;
    if (changed) {
        if (!past)
            eff.v[head - 1].n = (size_t)util_ll2str(cnt, sizeof cnt, changed);
        effect_log(&eff, c);
        srv_notify(c->eng, NOTIFY_HASH, past ? "hexpired" : "hexpire", c->argv[1].p, c->argv[1].n,
                   c->db_id);
        if (past)
            c->eng->stats.expired_fields += (uint64_t)changed;
    }
    effect_free(&eff);
    hash_touched(c, o, &h, (uint64_t)changed);
}

void
cmd_hexpire(client_t *c) {
    hexpire_generic(c, "hexpire", db_now_ms(&c->eng->dbenv), 1000);
}

void
cmd_hpexpire(client_t *c) {
    hexpire_generic(c, "hpexpire", db_now_ms(&c->eng->dbenv), 1);
}

void
cmd_hexpireat(client_t *c) {
    hexpire_generic(c, "hexpireat", 0, 1000);
}

void
cmd_hpexpireat(client_t *c) {
    hexpire_generic(c, "hpexpireat", 0, 1);
}

/* ---- HTTL HPTTL HEXPIRETIME HPEXPIRETIME ---- */

static void
httl_generic(client_t *c, int64_t basetime, bool seconds) {
    if (!util_eq_nocase(c->argv[2].p, c->argv[2].n, "fields")) {
        reply_err(c, ERR_SYNTAX);
        return;
    }
    long long nf = parse_numfields(c, 3, 1, ERR_SYNTAX);
    if (nf < 0)
        return;
    bool bad;
    kobj_t *o = cmd_lookup_read_type(c, &c->argv[1], OBJ_HASH, &bad);
    if (bad)
        return;
    thash_t h = o ? hash_of(o) : (thash_t){0};
    reply_array(c, nf);
    for (int i = 4; i < c->argc; i++) {
        int64_t ms;
        if (!o || !hash_get_expire(&h, c->argv[i].p, c->argv[i].n, &ms)) {
            reply_int(c, -2);
        } else if (ms == HASH_NO_TTL) {
            reply_int(c, -1);
        } else {
            long long r = ms - basetime;
            if (r < 0)
                r = 0;
            reply_int(c, seconds ? (r + 500) / 1000 : r);
        }
    }
}

void
cmd_httl(client_t *c) {
    httl_generic(c, db_now_ms(&c->eng->dbenv), true);
}

void
cmd_hpttl(client_t *c) {
    httl_generic(c, db_now_ms(&c->eng->dbenv), false);
}

void
cmd_hexpiretime(client_t *c) {
    httl_generic(c, 0, true);
}

void
cmd_hpexpiretime(client_t *c) {
    httl_generic(c, 0, false);
}

/* ---- HPERSIST ---- */

void
cmd_hpersist(client_t *c) {
    prop_no_call(&c->eng->prop); /* only the effects below are logged */
    if (!util_eq_nocase(c->argv[2].p, c->argv[2].n, "fields")) {
        reply_err(c, ERR_SYNTAX);
        return;
    }
    long long nf = parse_numfields(c, 3, 1, ERR_NUMFIELDS);
    if (nf < 0)
        return;
    bool bad;
    kobj_t *o = lookup_hash(c, &bad);
    if (bad)
        return;
    reply_array(c, nf);
    if (!o) {
        for (long long i = 0; i < nf; i++)
            reply_int(c, -2);
        return;
    }
    thash_t h = hash_of(o);
    effect_t eff;
    effect_init(&eff, c, "HPERSIST", (int)nf);
    char cnt[UTIL_LL_STR_MAX];
    eff.v[eff.n++] = (karg_t){"FIELDS", 6};
    eff.v[eff.n++] = (karg_t){cnt, 0};
    int head = eff.n;
    for (int i = 4; i < c->argc; i++) {
        int64_t ms;
        if (!hash_get_expire(&h, c->argv[i].p, c->argv[i].n, &ms)) {
            reply_int(c, -2);
        } else if (ms == HASH_NO_TTL) {
            reply_int(c, -1);
        } else {
            hash_set_expire(&h, c->argv[i].p, c->argv[i].n, HASH_NO_TTL);
            eff.v[eff.n++] = c->argv[i];
            reply_int(c, 1);
        }
    }
    int changed = eff.n - head;
    if (changed) {
        eff.v[head - 1].n = (size_t)util_ll2str(cnt, sizeof cnt, changed);
        effect_log(&eff, c);
        srv_notify(c->eng, NOTIFY_HASH, "hpersist", c->argv[1].p, c->argv[1].n, c->db_id);
    }
    effect_free(&eff);
    hash_touched(c, o, &h, (uint64_t)changed);
}

/* ---- HGETEX HSETEX ---- */

enum {
    OPT_EX = 1,
    OPT_PX = 2,
    OPT_EXAT = 4,
    OPT_PXAT = 8,
    OPT_PERSIST = 16,
    OPT_KEEPTTL = 32,
    OPT_FNX = 64,
    OPT_FXX = 128,
    OPT_NX = 256,
    OPT_XX = 512,
};

/* The options in argv[2 .. fi): at most one time option (EX PX EXAT PXAT, and PERSIST or
 * KEEPTTL where allowed), one of FNX FXX and one of NX XX where allowed. Replies and returns -1
 * on error. */
static int
parse_opts(client_t *c, const char *name, int fi, int allowed, int *opts, long long *when) {
    *opts = 0;
    *when = HASH_NO_TTL;
    static const struct {
        const char *name;
        int flag;
    } names[] = {{"ex", OPT_EX},     {"px", OPT_PX},           {"exat", OPT_EXAT},
                 {"pxat", OPT_PXAT}, {"persist", OPT_PERSIST}, {"keepttl", OPT_KEEPTTL},
                 {"fnx", OPT_FNX},   {"fxx", OPT_FXX},         {"nx", OPT_NX},
                 {"xx", OPT_XX}};
    const int time_opts = OPT_EX | OPT_PX | OPT_EXAT | OPT_PXAT | OPT_PERSIST | OPT_KEEPTTL;
    for (int j = 2; j < fi; j++) {
        int flag = 0;
        for (size_t k = 0; k < sizeof names / sizeof names[0] && !flag; k++)
            if (util_eq_nocase(c->argv[j].p, c->argv[j].n, names[k].name))
                flag = names[k].flag;
        int group = flag & time_opts             ? time_opts
                    : flag & (OPT_FNX | OPT_FXX) ? OPT_FNX | OPT_FXX
                                                 : OPT_NX | OPT_XX;
        bool clash = (*opts & group) != 0;
        if (!(flag & allowed) || clash) {
            reply_err(c, ERR_SYNTAX);
            return -1;
        }
        *opts |= flag;
        if (flag & (OPT_EX | OPT_PX | OPT_EXAT | OPT_PXAT)) {
            if (j + 1 >= fi) {
                reply_err(c, ERR_SYNTAX);
                return -1;
            }
            bool rel = flag & (OPT_EX | OPT_PX);
            long long unit = flag & (OPT_EX | OPT_EXAT) ? 1000 : 1, v;
            if (!util_parse_ll(c->argv[j + 1].p, c->argv[j + 1].n, &v)) {
                reply_err(c, ERR_NOT_INT);
                return -1;
            }
            if (v <= 0 || !parse_when(c, &c->argv[j + 1], name, rel ? db_now_ms(&c->eng->dbenv) : 0,
                                      unit, when)) {
                if (v <= 0)
                    reply_errf(c, "ERR invalid expire time in '%s' command", name);
                return -1;
            }
            j++;
        }
    }
    return 0;
}

static void
reply_field(client_t *c, const thash_t *h, const karg_t *f) {
    hval_t v;
    if (h && hash_get(h, f->p, f->n, &v)) {
        if (v.p)
            reply_bulk(c, v.p, v.n);
        else
            reply_bulk_ll(c, v.i);
    } else {
        reply_null(c);
    }
}

void
cmd_hgetex(client_t *c) {
    prop_no_call(&c->eng->prop); /* only the effects below are logged */
    int fi = find_fields(c, 2), opts;
    long long when;
    long long nf = parse_numfields(c, fi < 0 ? -1 : fi + 1, 1, ERR_NUMFIELDS);
    if (nf < 0 || parse_opts(c, "hgetex", fi, OPT_EX | OPT_PX | OPT_EXAT | OPT_PXAT | OPT_PERSIST,
                             &opts, &when) < 0)
        return;
    bool bad;
    kobj_t *o = lookup_hash(c, &bad);
    if (bad)
        return;
    thash_t h = o ? hash_of(o) : (thash_t){0};
    bool persist = opts & OPT_PERSIST, setting = when != HASH_NO_TTL;
    bool past = setting && already_expired(c, when);
    if (setting && when < 0)
        when = 0;
    effect_t eff;
    effect_init(&eff, c, past ? "HDEL" : persist ? "HPERSIST" : "HPEXPIREAT", (int)nf);
    char num[UTIL_LL_STR_MAX], cnt[UTIL_LL_STR_MAX];
    if (setting && !past)
        eff.v[eff.n++] = (karg_t){num, (size_t)util_ll2str(num, sizeof num, when)};
    if (!past) {
        eff.v[eff.n++] = (karg_t){"FIELDS", 6};
        eff.v[eff.n++] = (karg_t){cnt, 0};
    }
    int head = eff.n;
    reply_array(c, nf);
    for (int i = fi + 2; i < c->argc; i++) {
        const karg_t *f = &c->argv[i];
        reply_field(c, o ? &h : NULL, f);
        int64_t cur;
        if (!o || (!setting && !persist) || !hash_get_expire(&h, f->p, f->n, &cur))
            continue;
        if (past) {
            hash_delete(&h, f->p, f->n);
        } else if (setting) {
            hash_set_expire(&h, f->p, f->n, when);
        } else {
            if (cur == HASH_NO_TTL)
                continue;
            hash_set_expire(&h, f->p, f->n, HASH_NO_TTL);
        }
        eff.v[eff.n++] = *f;
    }
    int changed = eff.n - head;
    if (changed) {
        if (!past)
            eff.v[head - 1].n = (size_t)util_ll2str(cnt, sizeof cnt, changed);
        effect_log(&eff, c);
        srv_notify(c->eng, NOTIFY_HASH,
                   past      ? "hexpired"
                   : setting ? "hexpire"
                             : "hpersist",
                   c->argv[1].p, c->argv[1].n, c->db_id);
        if (past)
            c->eng->stats.expired_fields += (uint64_t)changed;
    }
    effect_free(&eff);
    if (o)
        hash_touched(c, o, &h, (uint64_t)changed);
}

/* HSETEX's FNX (no field may exist) or FXX (every field must): false when it fails. */
static bool
fields_condition_holds(client_t *c, kobj_t *o, int first, int opts) {
    if (!(opts & (OPT_FNX | OPT_FXX)))
        return true;
    thash_t h = o ? hash_of(o) : (thash_t){0};
    for (int i = first; i < c->argc; i += 2) {
        bool exists = o && hash_exists(&h, c->argv[i].p, c->argv[i].n);
        if (exists == !!(opts & OPT_FNX))
            return false;
    }
    return true;
}

/* HSETEX's events, as Valkey 9 sends them. */
static void
hsetex_notify(client_t *c, bool timed, bool past, uint64_t changes) {
    const karg_t *k = &c->argv[1];
    srv_notify(c->eng, NOTIFY_HASH, "hset", k->p, k->n, c->db_id);
    if (timed && !past)
        srv_notify(c->eng, NOTIFY_HASH, "hexpire", k->p, k->n, c->db_id);
    if (past) {
        srv_notify(c->eng, NOTIFY_HASH, "hexpired", k->p, k->n, c->db_id);
        c->eng->stats.expired_fields += changes;
    }
}

void
cmd_hsetex(client_t *c) {
    prop_no_call(&c->eng->prop); /* only the effects below are logged */
    int fi = find_fields(c, 2), opts;
    long long when;
    long long nf = parse_numfields(c, fi < 0 ? -1 : fi + 1, 2, ERR_NUMFIELDS);
    if (nf < 0 || parse_opts(c, "hsetex", fi,
                             OPT_EX | OPT_PX | OPT_EXAT | OPT_PXAT | OPT_KEEPTTL | OPT_FNX |
                                 OPT_FXX | OPT_NX | OPT_XX,
                             &opts, &when) < 0)
        return;
    bool bad;
    kobj_t *o = lookup_hash(c, &bad);
    if (bad)
        return;
    if ((opts & OPT_NX && o) || (opts & OPT_XX && !o)) { /* the key must not / must exist */
        reply_int(c, 0);
        return;
    }
    const karg_t *key = &c->argv[1];
    int first = fi + 2;
    if (!fields_condition_holds(c, o, first, opts)) {
        reply_int(c, 0);
        return;
    }
    bool keep = opts & OPT_KEEPTTL, past = when != HASH_NO_TTL && already_expired(c, when);
    if (!o) {
        thash_t nh = hash_new();
        o = obj_new_ptr(OBJ_HASH, nh.enc, key->p, key->n, nh.p, -1);
        db_add(c->db, o);
    }
    thash_t h = hash_of(o);
    hash_limits_t lim = limits(c);
    effect_t eff;
    effect_init(&eff, c, past ? "HDEL" : "HSETEX", (int)nf);
    char num[UTIL_LL_STR_MAX], cnt[UTIL_LL_STR_MAX];
    if (!past) {
        if (keep)
            eff.v[eff.n++] = (karg_t){"KEEPTTL", 7};
        else if (when != HASH_NO_TTL) {
            eff.v[eff.n++] = (karg_t){"PXAT", 4};
            eff.v[eff.n++] = (karg_t){num, (size_t)util_ll2str(num, sizeof num, when)};
        }
        eff.v[eff.n++] = (karg_t){"FIELDS", 6};
        eff.v[eff.n++] = (karg_t){cnt, 0}; /* the pairs really set, filled in below */
        if (when == HASH_NO_TTL)
            hash_prepare(&h, c->argv + first, (size_t)(c->argc - first), &lim);
    }
    int head = eff.n, rc = 0;
    for (int i = first; i < c->argc && rc >= 0; i += 2) {
        const karg_t *f = &c->argv[i], *v = &c->argv[i + 1];
        if (past) {
            if (hash_delete(&h, f->p, f->n))
                eff.v[eff.n++] = *f;
            continue;
        }
        rc = hash_set_ex(&h, f->p, f->n, v->p, v->n, when, keep, &lim);
        if (rc >= 0) {
            eff.v[eff.n++] = *f;
            eff.v[eff.n++] = *v;
        }
    }
    uint64_t changes = (uint64_t)(past ? eff.n - head : (eff.n - head) / 2);
    if (changes) {
        if (!past)
            eff.v[head - 1].n = (size_t)util_ll2str(cnt, sizeof cnt, (long long)changes);
        effect_log(&eff, c);
        hsetex_notify(c, when != HASH_NO_TTL, past, changes);
    }
    effect_free(&eff);
    hash_touched(c, o, &h, changes);
    if (rc < 0)
        reply_err(c, ERR_TOO_BIG);
    else
        reply_int(c, 1);
}
