/*
 * cmd_string.c - the string commands: GET/SET and their variants, MGET/MSET, counters, ranges,
 * APPEND, LCS.
 *
 * Semantics, replies and error strings follow Valkey 8 (t_string.c), because clients branch on
 * them. The points worth knowing:
 *
 * 1. Integer arguments and stored counters are accepted only in canonical form (what Valkey's
 *    string2ll accepts): "010", "+1", " 1", "-0" are "not an integer".
 * 2. Effects logged (docs/durability.md). A relative expiry is logged in absolute form:
 *    SET/SETEX/PSETEX with EX/PX/EXAT log `SET k v PXAT ms` (PXAT included, so NX/XX/GET/KEEPTTL
 *    are dropped from the record: the effect is the plain store); GETEX logs only the expiry
 *    change (`PEXPIREAT k ms`, `PERSIST k`, or `DEL k` when the absolute time has passed);
 *    INCRBYFLOAT logs `SET k v KEEPTTL` with the printed result. Everything else is
 *    deterministic and logged as called.
 * 3. An absolute expiry already in the past (SET ... EXAT/PXAT, GETEX EXAT/PXAT) deletes the key
 *    instead of storing it (as Valkey 8): the event is "expired" and the effect a DEL. While the
 *    log is replayed (fake client, loading) nothing is judged by the clock: the log holds every
 *    expiry that happened as a DEL.
 * 4. The hot path: plain `SET k v` does no lookup of its own and one allocation (the object);
 *    `GET k` is one lookup and one reply. Options are parsed only when present.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "cmd_util.h"
#include "exec.h"
#include "kmem.h"
#include "prop.h"
#include "engine.h"
#include "util.h"
#include "reply.h"

/* Options of SET and GETEX (the same parser serves both, as in Valkey). */
enum {
    OPT_NX = 1 << 0,
    OPT_XX = 1 << 1,
    OPT_GET = 1 << 2,
    OPT_KEEPTTL = 1 << 3,
    OPT_PERSIST = 1 << 4,
    OPT_EX = 1 << 5,
    OPT_PX = 1 << 6,
    OPT_EXAT = 1 << 7,
    OPT_PXAT = 1 << 8,
};
#define OPT_EXPIRE_ANY (OPT_EX | OPT_PX | OPT_EXAT | OPT_PXAT)

/* Longest float text INCRBYFLOAT reads back, as Valkey's MAX_LONG_DOUBLE_CHARS. */

static const char ERR_STR_TOO_BIG[] =
    "ERR string exceeds maximum allowed size (proto-max-bulk-len)";

/* ---- helpers ---------------------------------------------------------------------------- */

static inline bool
is_string(const kobj_t *o) {
    return obj_type(o) == OBJ_STRING;
}

/* Integer argument in the form Valkey's string2ll accepts; replies the error otherwise. */
static bool
arg_ll(client_t *c, const karg_t *a, long long *v) {
    if (util_str_is_canonical_int(a->p, a->n, v))
        return true;
    reply_err(c, ERR_NOT_INT);
    return false;
}

/* The log's replay and the loading phase must not judge expiry by the clock (point 3). */
static inline bool
clock_judges(const client_t *c) {
    return !(c->flags & CLIENT_FAKE) && !c->eng->loading;
}

static inline bool
already_expired(const client_t *c, int64_t when_ms) {
    return clock_judges(c) && when_ms <= db_now_ms(&c->eng->dbenv);
}

/* Strings may not outgrow proto-max-bulk-len; the replayed log is exempt, as Valkey exempts
 * clients it must obey. */
static bool
length_ok(client_t *c, unsigned long long have, unsigned long long add) {
    unsigned long long total = have + add;
    if (!clock_judges(c) ||
        (total >= have && total <= (unsigned long long)c->eng->cfg.proto_max_bulk_len))
        return true;
    reply_err(c, ERR_STR_TOO_BIG);
    return false;
}

static void
changed(client_t *c, const karg_t *k, int type, const char *event) {
    srv_key_modified(c->eng, c->db, k->p, k->n);
    srv_notify(c->eng, type, event, k->p, k->n, c->db_id);
    srv_dirty(c->eng, 1);
}

/* Delete a key whose new absolute expiry has passed: logged as DEL, seen as an expiry. */
static void
delete_as_expired(client_t *c, const karg_t *k) {
    db_delete(c->db, k->p, k->n);
    karg_t eff[2] = {{"DEL", 3}, *k};
    prop_add(&c->eng->prop, c->db_id, 2, eff);
    c->eng->stats.expired_keys++;
    changed(c, k, NOTIFY_EXPIRED, "expired");
}

/* ---- GET, SET and friends ---------------------------------------------------------------- */

static void
cmd_get(client_t *c) {
    kobj_t *o = cmd_lookup_read(c, &c->argv[1]);
    if (!o) {
        reply_null(c);
        return;
    }
    if (!is_string(o)) {
        reply_err(c, ERR_WRONGTYPE);
        return;
    }
    size_t n;
    const char *v = obj_str(o, &n);
    reply_bulk(c, v, n);
}

/* GET as a step of another command (SET ... GET, GETSET, GETDEL): replies the value or nil and
 * returns the object, or replies WRONGTYPE and returns false. */
static bool
get_step(client_t *c, kobj_t **out) {
    kobj_t *o = cmd_lookup_read(c, &c->argv[1]);
    *out = o;
    if (!o) {
        reply_null(c);
        return true;
    }
    if (!is_string(o)) {
        reply_err(c, ERR_WRONGTYPE);
        return false;
    }
    size_t n;
    const char *v = obj_str(o, &n);
    reply_bulk(c, v, n);
    return true;
}

static inline bool
opt_is(const karg_t *a, char x, char y) {
    return a->n == 2 && (a->p[0] | 0x20) == x && (a->p[1] | 0x20) == y;
}

/* Parse SET (is_set) or GETEX options from argv[first..]. The rules are Valkey's: NX and XX
 * exclude each other, an expiry excludes the other expiry kinds (repeating the same kind is
 * allowed, the last wins), KEEPTTL and PERSIST exclude any expiry. */
static bool
parse_opts(client_t *c, int first, bool is_set, int *flags, const karg_t **exp) {
    int f = 0;
    for (int j = first; j < c->argc; j++) {
        const karg_t *a = &c->argv[j];
        bool next = j + 1 < c->argc;
        int kind = 0;
        if (is_set && opt_is(a, 'n', 'x') && !(f & OPT_XX)) {
            f |= OPT_NX;
        } else if (is_set && opt_is(a, 'x', 'x') && !(f & OPT_NX)) {
            f |= OPT_XX;
        } else if (is_set && util_eq_nocase(a->p, a->n, "get")) {
            f |= OPT_GET;
        } else if (is_set && util_eq_nocase(a->p, a->n, "keepttl") &&
                   !(f & (OPT_PERSIST | OPT_EXPIRE_ANY))) {
            f |= OPT_KEEPTTL;
        } else if (!is_set && util_eq_nocase(a->p, a->n, "persist") &&
                   !(f & (OPT_KEEPTTL | OPT_EXPIRE_ANY))) {
            f |= OPT_PERSIST;
        } else if (opt_is(a, 'e', 'x')) {
            kind = OPT_EX;
        } else if (opt_is(a, 'p', 'x')) {
            kind = OPT_PX;
        } else if (util_eq_nocase(a->p, a->n, "exat")) {
            kind = OPT_EXAT;
        } else if (util_eq_nocase(a->p, a->n, "pxat")) {
            kind = OPT_PXAT;
        } else {
            reply_err(c, ERR_SYNTAX);
            return false;
        }
        if (kind) {
            if (!next || (f & (OPT_KEEPTTL | OPT_PERSIST | (OPT_EXPIRE_ANY & ~kind)))) {
                reply_err(c, ERR_SYNTAX);
                return false;
            }
            f |= kind;
            *exp = &c->argv[++j];
        }
    }
    *flags = f;
    return true;
}

/* The absolute expiry in ms from an EX/PX/EXAT/PXAT argument; replies the error otherwise. */
static bool
expire_ms(client_t *c, const karg_t *a, int flags, const char *cmd, int64_t *out) {
    long long v;
    if (!arg_ll(c, a, &v))
        return false;
    bool secs = flags & (OPT_EX | OPT_EXAT);
    if (v <= 0 || (secs && v > LLONG_MAX / 1000))
        goto bad;
    if (secs)
        v *= 1000;
    if (flags & (OPT_EX | OPT_PX)) {
        int64_t now = db_now_ms(&c->eng->dbenv);
        if (v > LLONG_MAX - now)
            goto bad;
        v += now;
    }
    *out = v;
    return true;
bad:
    reply_errf(c, "ERR invalid expire time in '%s' command", cmd);
    return false;
}

/* How the SET family answers: SET/SETEX/PSETEX +OK or nil, SETNX 1 or 0. */
enum { REPLY_OK_NIL, REPLY_ONE_ZERO };

static void
reply_outcome(client_t *c, int style, bool done) {
    if (style == REPLY_ONE_ZERO)
        reply_int(c, done ? 1 : 0);
    else if (done)
        reply_ok(c);
    else
        reply_null(c);
}

/* The SET family after option parsing: key argv[1], value val, expiry argument exp (or NULL). */
static void
set_generic(client_t *c, int flags, const karg_t *val, const karg_t *exp, const char *cmd,
            int style) {
    const karg_t *key = &c->argv[1];
    int64_t when = -1;
    if (exp && !expire_ms(c, exp, flags, cmd, &when))
        return;
    kobj_t *old = NULL;
    bool get = flags & OPT_GET;
    if (get) {
        if (!get_step(c, &old))
            return;
    } else if ((flags & (OPT_NX | OPT_XX | OPT_KEEPTTL)) || exp) {
        old = cmd_lookup_write(c, key);
    }
    if (((flags & OPT_NX) && old) || ((flags & OPT_XX) && !old)) {
        if (!get)
            reply_outcome(c, style, false);
        return;
    }
    if (exp && already_expired(c, when)) {
        if (old)
            delete_as_expired(c, key);
        if (!get)
            reply_outcome(c, style, true);
        return;
    }
    db_set(c->db, obj_new_str(key->p, key->n, val->p, val->n, when), flags & OPT_KEEPTTL);
    changed(c, key, NOTIFY_STRING, "set");
    if (exp) {
        srv_notify(c->eng, NOTIFY_GENERIC, "expire", key->p, key->n, c->db_id);
        char num[UTIL_LL_STR_MAX];
        int nn = util_ll2str(num, sizeof num, when);
        karg_t eff[5] = {{"SET", 3}, *key, *val, {"PXAT", 4}, {num, (size_t)nn}};
        prop_add(&c->eng->prop, c->db_id, 5, eff);
    }
    if (!get)
        reply_outcome(c, style, true);
}

static void
cmd_set(client_t *c) {
    if (c->argc == 3) { /* the benchmarked path: no lookup beyond db_set's own */
        db_set(c->db, obj_new_str(c->argv[1].p, c->argv[1].n, c->argv[2].p, c->argv[2].n, -1),
               false);
        changed(c, &c->argv[1], NOTIFY_STRING, "set");
        reply_ok(c);
        return;
    }
    int flags;
    const karg_t *exp = NULL;
    if (!parse_opts(c, 3, true, &flags, &exp))
        return;
    set_generic(c, flags, &c->argv[2], exp, "set", REPLY_OK_NIL);
}

static void
cmd_setnx(client_t *c) {
    set_generic(c, OPT_NX, &c->argv[2], NULL, "setnx", REPLY_ONE_ZERO);
}

static void
cmd_setex(client_t *c) {
    set_generic(c, OPT_EX, &c->argv[3], &c->argv[2], "setex", REPLY_OK_NIL);
}

static void
cmd_psetex(client_t *c) {
    set_generic(c, OPT_PX, &c->argv[3], &c->argv[2], "psetex", REPLY_OK_NIL);
}

static void
cmd_getset(client_t *c) {
    kobj_t *old;
    if (!get_step(c, &old))
        return;
    const karg_t *k = &c->argv[1];
    db_set(c->db, obj_new_str(k->p, k->n, c->argv[2].p, c->argv[2].n, -1), false);
    changed(c, k, NOTIFY_STRING, "set");
}

static void
cmd_getdel(client_t *c) {
    kobj_t *o;
    if (!get_step(c, &o) || !o)
        return;
    db_delete(c->db, c->argv[1].p, c->argv[1].n);
    changed(c, &c->argv[1], NOTIFY_GENERIC, "del");
}

static void
cmd_getex(client_t *c) {
    int flags;
    const karg_t *exp = NULL, *k = &c->argv[1];
    if (!parse_opts(c, 2, false, &flags, &exp))
        return;
    /* Valkey 8 / Redis 7.2 order: the key and its type first, the expiry value after (so a
     * missing key answers nil even to EX 0). */
    kobj_t *o = cmd_lookup_read(c, k);
    if (!o) {
        reply_null(c);
        return;
    }
    if (!is_string(o)) {
        reply_err(c, ERR_WRONGTYPE);
        return;
    }
    int64_t when = -1;
    if (exp && !expire_ms(c, exp, flags, "getex", &when))
        return;
    size_t vlen;
    const char *v = obj_str(o, &vlen);
    reply_bulk(c, v, vlen);
    /* The value is in the reply already: o may move or go from here on. */
    if ((flags & (OPT_EXAT | OPT_PXAT)) && already_expired(c, when)) {
        delete_as_expired(c, k);
    } else if (exp) {
        db_set_expire(c->db, o, when);
        char num[UTIL_LL_STR_MAX];
        int nn = util_ll2str(num, sizeof num, when);
        karg_t eff[3] = {{"PEXPIREAT", 9}, *k, {num, (size_t)nn}};
        prop_add(&c->eng->prop, c->db_id, 3, eff);
        changed(c, k, NOTIFY_GENERIC, "expire");
    } else if ((flags & OPT_PERSIST) && obj_has_expire(o)) {
        db_set_expire(c->db, o, -1);
        karg_t eff[2] = {{"PERSIST", 7}, *k};
        prop_add(&c->eng->prop, c->db_id, 2, eff);
        changed(c, k, NOTIFY_GENERIC, "persist");
    }
}

static void
cmd_mget(client_t *c) {
    reply_array(c, c->argc - 1);
    for (int j = 1; j < c->argc; j++) {
        kobj_t *o = cmd_lookup_read(c, &c->argv[j]);
        if (!o || !is_string(o)) {
            reply_null(c);
            continue;
        }
        size_t n;
        const char *v = obj_str(o, &n);
        reply_bulk(c, v, n);
    }
}

static void
mset_generic(client_t *c, bool nx, const char *cmd) {
    if (c->argc % 2 == 0) {
        reply_err_arity(c, cmd);
        return;
    }
    if (nx) {
        for (int j = 1; j < c->argc; j += 2) {
            if (cmd_lookup_write(c, &c->argv[j])) {
                reply_int(c, 0);
                return;
            }
        }
    }
    for (int j = 1; j < c->argc; j += 2) {
        const karg_t *k = &c->argv[j], *v = &c->argv[j + 1];
        db_set(c->db, obj_new_str(k->p, k->n, v->p, v->n, -1), false);
        changed(c, k, NOTIFY_STRING, "set");
    }
    if (nx)
        reply_int(c, 1);
    else
        reply_ok(c);
}

static void
cmd_mset(client_t *c) {
    mset_generic(c, false, "mset");
}

static void
cmd_msetnx(client_t *c) {
    mset_generic(c, true, "msetnx");
}

static void
cmd_strlen(client_t *c) {
    kobj_t *o = cmd_lookup_read(c, &c->argv[1]);
    if (!o) {
        reply_int(c, 0);
        return;
    }
    if (!is_string(o)) {
        reply_err(c, ERR_WRONGTYPE);
        return;
    }
    if (obj_is_tiered(o)) { /* the stub knows the length: no fetch (core/tiering.c) */
        uint32_t vlen;
        obj_tiered_id(o, &vlen);
        reply_int(c, (long long)vlen);
        return;
    }
    size_t n;
    obj_str(o, &n);
    reply_int(c, (long long)n);
}

/* ---- APPEND, SETRANGE, GETRANGE ----------------------------------------------------------- */

static void
cmd_append(client_t *c) {
    const karg_t *k = &c->argv[1], *add = &c->argv[2];
    kobj_t *o = cmd_lookup_write(c, k);
    size_t total;
    if (!o) {
        db_add(c->db, obj_new_str(k->p, k->n, add->p, add->n, -1));
        total = add->n;
    } else {
        if (!is_string(o)) {
            reply_err(c, ERR_WRONGTYPE);
            return;
        }
        size_t olen;
        obj_str(o, &olen);
        if (!length_ok(c, olen, add->n))
            return;
        total = olen + add->n;
        if (add->n) {
            o = db_str_resize(c->db, o, total, olen);
            char *v = obj_str_mut(o, &total);
            memcpy(v + olen, add->p, add->n);
        }
    }
    changed(c, k, NOTIFY_STRING, "append");
    reply_int(c, (long long)total);
}

static void
cmd_setrange(client_t *c) {
    const karg_t *k = &c->argv[1], *val = &c->argv[3];
    long long off;
    if (!arg_ll(c, &c->argv[2], &off))
        return;
    if (off < 0) {
        reply_err(c, "ERR offset is out of range");
        return;
    }
    kobj_t *o = cmd_lookup_write(c, k);
    size_t olen = 0;
    if (o) {
        if (!is_string(o)) {
            reply_err(c, ERR_WRONGTYPE);
            return;
        }
        obj_str(o, &olen);
    }
    if (val->n == 0) { /* nothing to write: no key is created, nothing changes */
        reply_int(c, (long long)olen);
        return;
    }
    if (!length_ok(c, (unsigned long long)off, val->n))
        return;
    size_t need = (size_t)off + val->n, len;
    char *v;
    if (!o) { /* built complete before it enters the table */
        o = obj_str_resize(obj_new_str(k->p, k->n, "", 0, -1), need, 0);
        v = obj_str_mut(o, &len);
        db_add(c->db, o);
    } else {
        if (need > olen)
            o = db_str_resize(c->db, o, need, olen);
        v = obj_str_mut(o, &len);
    }
    if ((size_t)off > olen)
        memset(v + olen, 0, (size_t)off - olen);
    memcpy(v + off, val->p, val->n);
    changed(c, k, NOTIFY_STRING, "setrange");
    reply_int(c, (long long)len);
}

static void
cmd_getrange(client_t *c) {
    long long start, end;
    if (!arg_ll(c, &c->argv[2], &start) || !arg_ll(c, &c->argv[3], &end))
        return;
    kobj_t *o = cmd_lookup_read(c, &c->argv[1]);
    if (!o) {
        reply_bulk(c, "", 0);
        return;
    }
    if (!is_string(o)) {
        reply_err(c, ERR_WRONGTYPE);
        return;
    }
    size_t n;
    const char *v = obj_str(o, &n);
    long long len = (long long)n;
    /* Valkey's rules, kept even where they surprise (0 -100 on "abc" gives "a"): negative
     * indexes count from the end and are clamped to 0, end is clamped to the last byte. */
    if (start < 0 && end < 0 && start > end) {
        reply_bulk(c, "", 0);
        return;
    }
    if (start < 0)
        start = len + start;
    if (end < 0)
        end = len + end;
    if (start < 0)
        start = 0;
    if (end < 0)
        end = 0;
    if (end >= len)
        end = len - 1;
    if (len == 0 || start > end)
        reply_bulk(c, "", 0);
    else
        reply_bulk(c, v + start, (size_t)(end - start + 1));
}

/* ---- counters ------------------------------------------------------------------------------ */

/* Store a new value for key k (o: its current string object, or NULL), keeping the expiry.
 * Same length: rewritten in place, no allocation (the common case of a counter). */
static void
store_keep_ttl(client_t *c, kobj_t *o, const karg_t *k, const char *v, size_t n) {
    if (!o) {
        db_add(c->db, obj_new_str(k->p, k->n, v, n, -1));
        return;
    }
    size_t olen;
    obj_str(o, &olen);
    if (olen != n)
        o = db_str_resize(c->db, o, n, 0);
    memcpy(obj_str_mut(o, &olen), v, n);
    obj_str_clear_raw(o); /* a new value, as Valkey's INCR makes: int or embstr from its bytes */
}

static void
incr_by(client_t *c, long long incr) {
    const karg_t *k = &c->argv[1];
    kobj_t *o = cmd_lookup_write(c, k);
    long long v = 0;
    if (o) {
        if (!is_string(o)) {
            reply_err(c, ERR_WRONGTYPE);
            return;
        }
        size_t n;
        const char *s = obj_str(o, &n);
        if (!util_str_is_canonical_int(s, n, &v)) {
            reply_err(c, ERR_NOT_INT);
            return;
        }
    }
    if ((incr < 0 && v < 0 && incr < LLONG_MIN - v) ||
        (incr > 0 && v > 0 && incr > LLONG_MAX - v)) {
        reply_err(c, ERR_OVERFLOW);
        return;
    }
    v += incr;
    char buf[UTIL_LL_STR_MAX];
    int n = util_ll2str(buf, sizeof buf, v);
    store_keep_ttl(c, o, k, buf, (size_t)n);
    changed(c, k, NOTIFY_STRING, "incrby");
    reply_int(c, v);
}

static void
cmd_incr(client_t *c) {
    incr_by(c, 1);
}

static void
cmd_decr(client_t *c) {
    incr_by(c, -1);
}

static void
cmd_incrby(client_t *c) {
    long long by;
    if (arg_ll(c, &c->argv[2], &by))
        incr_by(c, by);
}

static void
cmd_decrby(client_t *c) {
    long long by;
    if (!arg_ll(c, &c->argv[2], &by))
        return;
    if (by == LLONG_MIN) {
        reply_err(c, "ERR decrement would overflow");
        return;
    }
    incr_by(c, -by);
}

static void
cmd_incrbyfloat(client_t *c) {
    const karg_t *k = &c->argv[1];
    kobj_t *o = cmd_lookup_write(c, k);
    long double v = 0, by;
    if (o && !is_string(o)) {
        reply_err(c, ERR_WRONGTYPE);
        return;
    }
    if (o) {
        size_t n;
        const char *s = obj_str(o, &n);
        if (!util_parse_ld(s, n, &v)) {
            reply_err(c, ERR_NOT_FLOAT);
            return;
        }
    }
    if (!util_parse_ld(c->argv[2].p, c->argv[2].n, &by)) {
        reply_err(c, ERR_NOT_FLOAT);
        return;
    }
    v += by;
    if (isnan(v) || isinf(v)) {
        reply_err(c, "ERR increment would produce NaN or Infinity");
        return;
    }
    char buf[UTIL_LD_STR_MAX];
    int n = util_ld2str(buf, sizeof buf, v);
    store_keep_ttl(c, o, k, buf, (size_t)n);
    changed(c, k, NOTIFY_STRING, "incrbyfloat");
    /* Logged as the printed result so that replay never redoes float arithmetic. */
    karg_t eff[4] = {{"SET", 3}, *k, {buf, (size_t)n}, {"KEEPTTL", 7}};
    prop_add(&c->eng->prop, c->db_id, 4, eff);
    reply_bulk(c, buf, (size_t)n);
}

/* ---- LCS ----------------------------------------------------------------------------------- */

typedef struct lcs_opts {
    bool len, idx, withmatchlen;
    long long minmatchlen;
} lcs_opts_t;

static bool
lcs_parse(client_t *c, lcs_opts_t *op) {
    *op = (lcs_opts_t){0};
    for (int j = 3; j < c->argc; j++) {
        const karg_t *a = &c->argv[j];
        if (util_eq_nocase(a->p, a->n, "idx")) {
            op->idx = true;
        } else if (util_eq_nocase(a->p, a->n, "len")) {
            op->len = true;
        } else if (util_eq_nocase(a->p, a->n, "withmatchlen")) {
            op->withmatchlen = true;
        } else if (util_eq_nocase(a->p, a->n, "minmatchlen") && j + 1 < c->argc) {
            if (!arg_ll(c, &c->argv[++j], &op->minmatchlen))
                return false;
            if (op->minmatchlen < 0)
                op->minmatchlen = 0;
        } else {
            reply_err(c, ERR_SYNTAX);
            return false;
        }
    }
    if (op->idx && op->len) {
        reply_err(c, "ERR If you want both the length and indexes, please just use IDX.");
        return false;
    }
    return true;
}

/* One matched range of the IDX reply: a[as..ae] equals b[bs..be]. */
static void
lcs_reply_range(client_t *c, const lcs_opts_t *op, uint32_t as, uint32_t bs, uint32_t len) {
    reply_array(c, op->withmatchlen ? 3 : 2);
    reply_array(c, 2);
    reply_int(c, as);
    reply_int(c, as + len - 1);
    reply_array(c, 2);
    reply_int(c, bs);
    reply_int(c, bs + len - 1);
    if (op->withmatchlen)
        reply_int(c, len);
}

/* Walk the table back from the end, collecting the common subsequence (into out, filled from
 * its end) and replying the ranges of consecutive matches when IDX asked for them. On a tie the
 * walk drops a byte of b first: the ranges then come out exactly as Valkey's. Returns the number
 * of ranges replied. */
static long long
lcs_walk(client_t *c, const lcs_opts_t *op, const uint32_t *t, const char *a, uint32_t alen,
         const char *b, uint32_t blen, char *out) {
    size_t w = (size_t)blen + 1;
    uint32_t i = alen, j = blen, k = t[(size_t)alen * w + blen], run = 0;
    long long ranges = 0;
    while (i > 0 && j > 0) {
        bool match = a[i - 1] == b[j - 1];
        if (match) {
            out[--k] = a[i - 1];
            run++;
            i--;
            j--;
        }
        /* A run ends where the walk leaves the diagonal or reaches the start of a string. */
        if (run && (!match || i == 0 || j == 0)) {
            if (op->idx && (op->minmatchlen == 0 || run >= op->minmatchlen)) {
                lcs_reply_range(c, op, i, j, run);
                ranges++;
            }
            run = 0;
        }
        if (!match) {
            if (t[(size_t)(i - 1) * w + j] > t[(size_t)i * w + j - 1])
                i--;
            else
                j--;
        }
    }
    return ranges;
}

/* The classic table: t[i][j] is the LCS length of a[0..i) and b[0..j), rows of blen+1. */
static uint32_t *
lcs_table(const char *a, uint32_t alen, const char *b, uint32_t blen) {
    size_t w = (size_t)blen + 1;
    uint32_t *t = kmalloc((size_t)(alen + 1) * w * sizeof *t);
    for (size_t j = 0; j < w; j++)
        t[j] = 0;
    for (uint32_t i = 1; i <= alen; i++) {
        uint32_t *row = t + (size_t)i * w, *up = row - w;
        row[0] = 0;
        for (uint32_t j = 1; j <= blen; j++)
            row[j] =
                a[i - 1] == b[j - 1] ? up[j - 1] + 1 : (up[j] > row[j - 1] ? up[j] : row[j - 1]);
    }
    return t;
}

static void
cmd_lcs(client_t *c) {
    kobj_t *oa = cmd_lookup_read(c, &c->argv[1]);
    kobj_t *ob = cmd_lookup_read(c, &c->argv[2]);
    if ((oa && !is_string(oa)) || (ob && !is_string(ob))) {
        reply_err(c, "ERR The specified keys must contain string values");
        return;
    }
    lcs_opts_t op;
    if (!lcs_parse(c, &op))
        return;
    size_t an = 0, bn = 0;
    const char *a = oa ? obj_str(oa, &an) : "";
    const char *b = ob ? obj_str(ob, &bn) : "";
    if (an >= UINT32_MAX - 1 || bn >= UINT32_MAX - 1) {
        reply_err(c, "ERR String too long for LCS");
        return;
    }
    /* The table is (alen+1) x (blen+1) lengths: bounded like any transient string. */
    unsigned long long cells = (unsigned long long)(an + 1) * (bn + 1);
    if (cells > (unsigned long long)c->eng->cfg.proto_max_bulk_len / sizeof(uint32_t)) {
        reply_err(c, "ERR Insufficient memory, transient memory for LCS exceeds "
                     "proto-max-bulk-len");
        return;
    }
    uint32_t alen = (uint32_t)an, blen = (uint32_t)bn;
    uint32_t *t = lcs_table(a, alen, b, blen);
    uint32_t total = t[(size_t)alen * (blen + 1) + blen];
    if (op.len && !op.idx) {
        reply_int(c, total);
        kfree(t);
        return;
    }
    char *out = kmalloc(total ? total : 1);
    if (op.idx) {
        reply_map(c, 2);
        reply_bulk_cstr(c, "matches");
        size_t spot = reply_defer(c);
        long long n = lcs_walk(c, &op, t, a, alen, b, blen, out);
        reply_set_deferred_array(c, spot, n);
        reply_bulk_cstr(c, "len");
        reply_int(c, total);
    } else {
        lcs_walk(c, &op, t, a, alen, b, blen, out);
        reply_bulk(c, out, total);
    }
    kfree(out);
    kfree(t);
}

/* ---- the table ------------------------------------------------------------------------------ */

#define W CMD_WRITE
#define R CMD_READONLY
#define M CMD_DENYOOM
#define F CMD_FAST

cmd_def_t cmd_table_string[] = {
    {"get", cmd_get, 2, R | F, 1, 1, 1, "string", "Returns the string value of a key.", "1.0.0",
     "O(1)", "read string fast"},
    {"set", cmd_set, -3, W | M, 1, 1, 1, "string",
     "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.",
     "1.0.0", "O(1)", "write string slow"},
    {"setnx", cmd_setnx, 3, W | M | F, 1, 1, 1, "string",
     "Set the string value of a key only when the key doesn't exist.", "1.0.0", "O(1)",
     "write string fast"},
    {"setex", cmd_setex, 4, W | M, 1, 1, 1, "string",
     "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.",
     "2.0.0", "O(1)", "write string slow"},
    {"psetex", cmd_psetex, 4, W | M, 1, 1, 1, "string",
     "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.",
     "2.6.0", "O(1)", "write string slow"},
    {"getset", cmd_getset, 3, W | M | F, 1, 1, 1, "string",
     "Returns the previous string value of a key after setting it to a new value.", "1.0.0", "O(1)",
     "write string fast"},
    {"getdel", cmd_getdel, 2, W | F, 1, 1, 1, "string",
     "Returns the string value of a key after deleting the key.", "6.2.0", "O(1)",
     "write string fast"},
    {"getex", cmd_getex, -2, W | F, 1, 1, 1, "string",
     "Returns the string value of a key after setting its expiration time.", "6.2.0", "O(1)",
     "write string fast"},
    {"mget", cmd_mget, -2, R | F, 1, -1, 1, "string",
     "Atomically returns the string values of one or more keys.", "1.0.0",
     "O(N) where N is the number of keys to retrieve.", "read string fast"},
    {"mset", cmd_mset, -3, W | M, 1, -1, 2, "string",
     "Atomically creates or modifies the string values of one or more keys.", "1.0.1",
     "O(N) where N is the number of keys to set.", "write string slow"},
    {"msetnx", cmd_msetnx, -3, W | M, 1, -1, 2, "string",
     "Atomically modifies the string values of one or more keys only when all keys don't exist.",
     "1.0.1", "O(N) where N is the number of keys to set.", "write string slow"},
    {"strlen", cmd_strlen, 2, R | F, 1, 1, 1, "string", "Returns the length of a string value.",
     "2.2.0", "O(1)", "read string fast"},
    {"append", cmd_append, 3, W | M | F, 1, 1, 1, "string",
     "Appends a string to the value of a key. Creates the key if it doesn't exist.", "2.0.0",
     "O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by the server will double the free space available on every reallocation.",
     "write string fast"},
    {"setrange", cmd_setrange, 4, W | M, 1, 1, 1, "string",
     "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.",
     "2.2.0",
     "O(1), not counting the time taken to copy the new string in place. Usually, this string is very small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the length of the value argument.",
     "write string slow"},
    {"getrange", cmd_getrange, 4, R, 1, 1, 1, "string",
     "Returns a substring of the string stored at a key.", "2.4.0",
     "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.",
     "read string slow"},
    {"substr", cmd_getrange, 4, R, 1, 1, 1, "string", "Returns a substring from a string value.",
     "1.0.0",
     "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.",
     "read string slow"},
    {"incr", cmd_incr, 2, W | M | F, 1, 1, 1, "string",
     "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.",
     "1.0.0", "O(1)", "write string fast"},
    {"decr", cmd_decr, 2, W | M | F, 1, 1, 1, "string",
     "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.",
     "1.0.0", "O(1)", "write string fast"},
    {"incrby", cmd_incrby, 3, W | M | F, 1, 1, 1, "string",
     "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
     "1.0.0", "O(1)", "write string fast"},
    {"decrby", cmd_decrby, 3, W | M | F, 1, 1, 1, "string",
     "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.",
     "1.0.0", "O(1)", "write string fast"},
    {"incrbyfloat", cmd_incrbyfloat, 3, W | M | F, 1, 1, 1, "string",
     "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
     "2.6.0", "O(1)", "write string fast"},
    {"lcs", cmd_lcs, -3, R, 1, 2, 1, "string", "Finds the longest common substring.", "7.0.0",
     "O(N*M) where N and M are the lengths of s1 and s2, respectively", "read string slow"},
    {0},
};
