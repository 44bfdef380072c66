/*
 * cmd_stream.c - stream entry commands (XADD, XRANGE, XREVRANGE, XLEN, XDEL, XTRIM, XSETID) and
 * the readers (XREAD, XREADGROUP, blocking or not) over the stream type (server/types/t_stream.h).
 *
 * Replies, errors and keyspace events follow Valkey 8. What is logged (effect form, so that
 * replay and replicas never recompute an ID, a time or a trim):
 *   XADD            XADD key <explicit id> field value ... (an auto ID made explicit; the trim
 *                   options dropped) followed by XTRIM key MAXLEN = <length after> when entries
 *                   were trimmed (a "~" trim depends on node boundaries, which a replay from a
 *                   snapshot does not share);
 *   XTRIM           XTRIM key MAXLEN = <length after>, when it removed something;
 *   XREADGROUP      XGROUP CREATECONSUMER when it made the consumer, one
 *                   XCLAIM key group consumer 0 id TIME ms RETRYCOUNT n FORCE JUSTID LASTID last
 *                   per entry put in (or re-delivered from) the PEL, and for new entries
 *                   XGROUP SETID key group last ENTRIESREAD n - Valkey's own propagation;
 *   the others      as called (XDEL, XSETID: deterministic).
 * A blocked XREAD/XREADGROUP is re-run by block.c when its key changes and logs like any call.
 */
#include <string.h>

#include "block.h"
#include "cmd.h"
#include "cmd_stream_int.h"
#include "cmd_util.h"
#include "commands.h"
#include "engine.h"
#include "events.h"
#include "kmem.h"
#include "prop.h"
#include "reply.h"
#include "util.h"

#define XADD_EFFECT_STACK_max 64
#define XERR_ADD_SMALL                                                                             \
    "ERR The ID specified in XADD is equal or smaller than the target stream top item"
#define XERR_ADD_ZERO  "ERR The ID specified in XADD must be greater than 0-0"
#define XERR_EXHAUSTED "ERR The stream has exhausted the last possible ID, unable to add more items"

/* ---- shared helpers ------------------------------------------------------------------------- */

stream_t *
xlookup(client_t *c, const karg_t *key, bool write, bool *bad) {
    kobj_t *o = write ? cmd_lookup_write(c, key) : cmd_lookup_read(c, key);
    *bad = false;
    if (!o)
        return NULL;
    if (obj_type(o) != OBJ_STREAM) {
        reply_err(c, ERR_WRONGTYPE);
        *bad = true;
        return NULL;
    }
    return obj_ptr(o);
}

bool
xparse_id(client_t *c, const karg_t *a, uint64_t missing_seq, bool allow_edges, bool allow_excl,
          bool is_start, sid_t *out) {
    if (allow_edges && a->n == 1 && (a->p[0] == '-' || a->p[0] == '+')) {
        *out = a->p[0] == '-' ? (sid_t){0, 0} : (sid_t){UINT64_MAX, UINT64_MAX};
        return true;
    }
    if (allow_excl && a->n > 1 && a->p[0] == '(') {
        if (!sid_parse(a->p + 1, a->n - 1, missing_seq, out)) {
            reply_err(c, XERR_INVALID_ID);
            return false;
        }
        if (!(is_start ? sid_incr(out) : sid_decr(out))) {
            reply_err(c, is_start ? "ERR invalid start ID for the interval"
                                  : "ERR invalid end ID for the interval");
            return false;
        }
        return true;
    }
    if (!sid_parse(a->p, a->n, missing_seq, out)) {
        reply_err(c, XERR_INVALID_ID);
        return false;
    }
    return true;
}

void
xreply_id(client_t *c, const sid_t *id) {
    char buf[STREAM_ID_STR_max];
    int n = sid_fmt(id, buf);
    reply_bulk(c, buf, (size_t)n);
}

void
xreply_entry(client_t *c, const sentry_t *e) {
    reply_array(c, 2);
    xreply_id(c, &e->id);
    reply_array(c, 2 * (long long)e->nfields);
    sfield_iter_t it;
    const char *f, *v;
    size_t fn, vn;
    stream_fields_init(&it, e);
    while (stream_fields_next(&it, &f, &fn, &v, &vn)) {
        reply_bulk(c, f, fn);
        reply_bulk(c, v, vn);
    }
}

void
xeffect(client_t *c, int argc, const karg_t *argv) {
    prop_add(&c->eng->prop, c->db_id, argc, argv);
}

void
xeffect_claim(client_t *c, const karg_t *key, const scg_t *g, const sconsumer_t *cons,
              const spel_t *pe) {
    char id[STREAM_ID_STR_max], last[STREAM_ID_STR_max], t[24], n[24];
    karg_t a[14] = {xarg("XCLAIM"),
                    *key,
                    {g->name, g->name_len},
                    {cons->name, cons->name_len},
                    xarg("0"),
                    {id, (size_t)sid_fmt(&pe->id, id)},
                    xarg("TIME"),
                    {t, (size_t)util_ll2str(t, sizeof t, pe->delivery_ms)},
                    xarg("RETRYCOUNT"),
                    {n, (size_t)util_ull2str(n, sizeof n, pe->delivery_count)},
                    xarg("FORCE"),
                    xarg("JUSTID"),
                    xarg("LASTID"),
                    {last, (size_t)sid_fmt(&g->last_id, last)}};
    xeffect(c, 14, a);
}

void
xconsumer_created(client_t *c, const karg_t *key, const scg_t *g, const sconsumer_t *cons) {
    karg_t a[5] = {xarg("XGROUP"),
                   xarg("CREATECONSUMER"),
                   *key,
                   {g->name, g->name_len},
                   {cons->name, cons->name_len}};
    xeffect(c, 5, a);
    srv_notify(c->eng, NOTIFY_STREAM, "xgroup-createconsumer", key->p, key->n, c->db_id);
    srv_key_modified(c->eng, c->db, key->p, key->n);
    srv_dirty(c->eng, 1);
}

/* The XTRIM effect: the length left after a trim. */
static void
effect_trim(client_t *c, const karg_t *key, const stream_t *s) {
    char n[24];
    karg_t a[5] = {xarg("XTRIM"),
                   *key,
                   xarg("MAXLEN"),
                   xarg("="),
                   {n, (size_t)util_ull2str(n, sizeof n, stream_len(s))}};
    xeffect(c, 5, a);
}

/* ---- XADD / XTRIM options ------------------------------------------------------------------- */

typedef struct trim_args {
    bool has;    /* MAXLEN or MINID given */
    bool by_id;  /* MINID */
    bool approx; /* ~ */
    uint64_t maxlen;
    sid_t minid;
    uint64_t limit;
    bool nomkstream;
} trim_args_t;

/* Parses the options from argv[i] on (Valkey's streamParseAddOrTrimArgsOrReply); returns the
 * index of the first argument that is not an option (XADD's ID), or -1 after replying. */
static int
parse_trim_args(client_t *c, int i, bool xadd, trim_args_t *t) {
    bool limit_given = false;
    *t = (trim_args_t){0};
    for (; i < c->argc; i++) {
        const karg_t *a = &c->argv[i];
        int left = c->argc - i - 1;
        if (xadd && a->n == 1 && a->p[0] == '*')
            break;
        if (cmd_arg_is(a, "maxlen") || cmd_arg_is(a, "minid")) {
            if (left < 1) {
                reply_err(c, ERR_SYNTAX);
                return -1;
            }
            bool by_id = cmd_arg_is(a, "minid");
            if (t->has && t->by_id != by_id) {
                reply_err(c, "ERR syntax error, MAXLEN and MINID options at the same time are "
                             "not compatible");
                return -1;
            }
            t->has = true;
            t->by_id = by_id;
            const karg_t *v = &c->argv[i + 1];
            t->approx = false;
            if (left >= 2 && v->n == 1 && (v->p[0] == '~' || v->p[0] == '=')) {
                t->approx = v->p[0] == '~';
                i++;
                v = &c->argv[i + 1];
            }
            i++;
            if (by_id) {
                if (!xparse_id(c, v, 0, false, false, true, &t->minid))
                    return -1;
            } else {
                long long ml;
                if (!util_parse_ll(v->p, v->n, &ml)) {
                    reply_err(c, ERR_NOT_INT);
                    return -1;
                }
                if (ml < 0) {
                    reply_err(c, "ERR The MAXLEN argument must be >= 0.");
                    return -1;
                }
                t->maxlen = (uint64_t)ml;
            }
        } else if (cmd_arg_is(a, "limit") && left >= 1) {
            long long l;
            if (!util_parse_ll(c->argv[i + 1].p, c->argv[i + 1].n, &l)) {
                reply_err(c, ERR_NOT_INT);
                return -1;
            }
            if (l < 0) {
                reply_err(c, "ERR The LIMIT argument must be >= 0.");
                return -1;
            }
            t->limit = (uint64_t)l;
            limit_given = true;
            i++;
        } else if (xadd && cmd_arg_is(a, "nomkstream")) {
            t->nomkstream = true;
        } else if (xadd) {
            break; /* the ID */
        } else {
            reply_err(c, ERR_SYNTAX);
            return -1;
        }
    }
    if (limit_given && !t->has) {
        reply_err(c, "ERR syntax error, LIMIT cannot be used without specifying a trimming "
                     "strategy");
        return -1;
    }
    if (limit_given && !t->approx) {
        reply_err(c, "ERR syntax error, LIMIT cannot be used without the special ~ option");
        return -1;
    }
    if (!limit_given) /* Valkey's default: 100 nodes' worth */
        t->limit = t->approx ? 100 * (uint64_t)stream_node_max_entries() : 0;
    return i;
}

static uint64_t
apply_trim(stream_t *s, const trim_args_t *t) {
    if (!t->has)
        return 0;
    return t->by_id ? stream_trim_minid(s, &t->minid, t->approx, t->limit)
                    : stream_trim_maxlen(s, t->maxlen, t->approx, t->limit);
}

/* XADD's ID argument: "*", "ms-*" or explicit, checked for syntax before anything else. */
typedef struct xadd_idspec {
    bool auto_ms, auto_seq;
    sid_t id;
} xadd_idspec_t;

static bool
xadd_parse_id(client_t *c, const karg_t *a, xadd_idspec_t *sp) {
    *sp = (xadd_idspec_t){0};
    if (a->n == 1 && a->p[0] == '*') {
        sp->auto_ms = true;
        return true;
    }
    sp->auto_seq = a->n > 2 && a->p[a->n - 2] == '-' && a->p[a->n - 1] == '*';
    bool ok = sp->auto_seq ? sid_parse(a->p, a->n - 2, 0, &sp->id) && !memchr(a->p, '-', a->n - 2)
                           : sid_parse(a->p, a->n, 0, &sp->id);
    if (!ok)
        reply_err(c, XERR_INVALID_ID);
    return ok;
}

/* The ID XADD will use, from its spec and the stream's last ID. false after replying. */
static bool
xadd_id(client_t *c, const xadd_idspec_t *sp, const stream_t *s, sid_t *id) {
    sid_t last = s ? stream_last_id(s) : (sid_t){0, 0};
    if (last.ms == UINT64_MAX && last.seq == UINT64_MAX) {
        reply_err(c, XERR_EXHAUSTED);
        return false;
    }
    if (sp->auto_ms) {
        uint64_t now = (uint64_t)db_now_ms(c->db->env);
        if (now > last.ms)
            *id = (sid_t){now, 0};
        else {
            *id = last;
            sid_incr(id);
        }
        return true;
    }
    *id = sp->id;
    if (sp->auto_seq && id->ms == last.ms) {
        if (last.seq == UINT64_MAX) {
            reply_err(c, XERR_ADD_SMALL);
            return false;
        }
        id->seq = last.seq + 1;
    }
    if (sid_cmp(id, &last) <= 0) {
        reply_err(c, XERR_ADD_SMALL);
        return false;
    }
    return true;
}

static void
cmd_xadd(client_t *c) {
    const karg_t *key = &c->argv[1];
    trim_args_t t;
    int idpos = parse_trim_args(c, 2, true, &t);
    if (idpos < 0)
        return;
    xadd_idspec_t spec;
    if (idpos < c->argc && !xadd_parse_id(c, &c->argv[idpos], &spec))
        return;
    int npairs2 = c->argc - idpos - 1;
    if (npairs2 < 2 || npairs2 % 2) {
        reply_err_arity(c, "xadd");
        return;
    }
    if (!spec.auto_ms && !spec.auto_seq && sid_is_zero(&spec.id)) {
        reply_err(c, XERR_ADD_ZERO);
        return;
    }
    bool bad;
    stream_t *s = xlookup(c, key, true, &bad);
    if (bad)
        return;
    if (!s && t.nomkstream) {
        reply_null(c);
        return;
    }
    sid_t id;
    if (!xadd_id(c, &spec, s, &id))
        return;
    if (!s) {
        s = stream_new();
        db_add(c->db, obj_new_ptr(OBJ_STREAM, OBJ_ENC_STREAM, key->p, key->n, s, -1));
    }
    stream_append(s, &id, (size_t)npairs2 / 2, c->argv + idpos + 1);
    char idbuf[STREAM_ID_STR_max];
    size_t idlen = (size_t)sid_fmt(&id, idbuf);
    /* Effect: XADD key id field value ... (on the stack for the usual few fields) */
    karg_t small[XADD_EFFECT_STACK_max];
    size_t neff = (size_t)npairs2 + 3;
    karg_t *eff = neff <= XADD_EFFECT_STACK_max ? small : kmalloc(neff * sizeof *eff);
    eff[0] = xarg("XADD");
    eff[1] = *key;
    eff[2] = (karg_t){idbuf, idlen};
    memcpy(eff + 3, c->argv + idpos + 1, (size_t)npairs2 * sizeof *eff);
    xeffect(c, (int)neff, eff);
    if (eff != small)
        kfree(eff);
    reply_bulk(c, idbuf, idlen);
    srv_notify(c->eng, NOTIFY_STREAM, "xadd", key->p, key->n, c->db_id);
    uint64_t trimmed = apply_trim(s, &t);
    if (trimmed) {
        effect_trim(c, key, s);
        srv_notify(c->eng, NOTIFY_STREAM, "xtrim", key->p, key->n, c->db_id);
    }
    srv_key_modified(c->eng, c->db, key->p, key->n);
    srv_dirty(c->eng, 1 + trimmed);
}

static void
cmd_xtrim(client_t *c) {
    const karg_t *key = &c->argv[1];
    trim_args_t t;
    if (parse_trim_args(c, 2, false, &t) < 0)
        return;
    if (!t.has) {
        reply_err(c, ERR_SYNTAX);
        return;
    }
    bool bad;
    stream_t *s = xlookup(c, key, true, &bad);
    if (bad)
        return;
    if (!s) {
        reply_int(c, 0);
        return;
    }
    uint64_t n = apply_trim(s, &t);
    if (n) {
        effect_trim(c, key, s);
        srv_notify(c->eng, NOTIFY_STREAM, "xtrim", key->p, key->n, c->db_id);
        srv_key_modified(c->eng, c->db, key->p, key->n);
        srv_dirty(c->eng, n);
    }
    reply_int(c, (long long)n);
}

/* ---- reading entries ------------------------------------------------------------------------ */

static void
range_generic(client_t *c, bool rev) {
    sid_t start, end;
    const karg_t *a = &c->argv[rev ? 3 : 2], *b = &c->argv[rev ? 2 : 3];
    if (!xparse_id(c, a, 0, true, true, true, &start) ||
        !xparse_id(c, b, UINT64_MAX, true, true, false, &end))
        return;
    long long count = -1;
    for (int i = 4; i < c->argc; i++) {
        if (cmd_arg_is(&c->argv[i], "count") && i + 1 < c->argc) {
            if (!util_parse_ll(c->argv[i + 1].p, c->argv[i + 1].n, &count)) {
                reply_err(c, ERR_NOT_INT);
                return;
            }
            if (count < 0)
                count = 0;
            i++;
        } else {
            reply_err(c, ERR_SYNTAX);
            return;
        }
    }
    bool bad;
    stream_t *s = xlookup(c, &c->argv[1], false, &bad);
    if (bad)
        return;
    if (!s) {
        reply_empty_array(c);
        return;
    }
    if (count == 0) {
        reply_null_array(c); /* Valkey: a COUNT of 0 (or less) answers a null array */
        return;
    }
    size_t spot = reply_defer(c);
    long long n = 0;
    stream_iter_t it;
    sentry_t e;
    stream_iter_init(&it, s, &start, &end, rev);
    while ((count < 0 || n < count) && stream_iter_next(&it, &e)) {
        xreply_entry(c, &e);
        n++;
    }
    stream_iter_done(&it);
    reply_set_deferred_array(c, spot, n);
}

static void
cmd_xrange(client_t *c) {
    range_generic(c, false);
}

static void
cmd_xrevrange(client_t *c) {
    range_generic(c, true);
}

static void
cmd_xlen(client_t *c) {
    bool bad;
    stream_t *s = xlookup(c, &c->argv[1], false, &bad);
    if (!bad)
        reply_int(c, s ? (long long)stream_len(s) : 0);
}

static void
cmd_xdel(client_t *c) {
    const karg_t *key = &c->argv[1];
    bool bad;
    stream_t *s = xlookup(c, key, true, &bad);
    if (bad)
        return;
    if (!s) {
        reply_int(c, 0);
        return;
    }
    sid_t *ids = kmalloc((size_t)(c->argc - 2) * sizeof *ids);
    for (int i = 2; i < c->argc; i++) {
        if (!xparse_id(c, &c->argv[i], 0, false, false, true, &ids[i - 2])) {
            kfree(ids);
            return;
        }
    }
    long long n = 0;
    for (int i = 0; i < c->argc - 2; i++)
        n += stream_delete(s, &ids[i]);
    kfree(ids);
    if (n) {
        srv_notify(c->eng, NOTIFY_STREAM, "xdel", key->p, key->n, c->db_id);
        srv_key_modified(c->eng, c->db, key->p, key->n);
        srv_dirty(c->eng, (uint64_t)n);
    }
    reply_int(c, n);
}

/* XSETID key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id] */
static void
cmd_xsetid(client_t *c) {
    const karg_t *key = &c->argv[1];
    sid_t id, maxdel = {0, 0};
    bool has_added = false, has_maxdel = false;
    long long added = 0;
    if (!xparse_id(c, &c->argv[2], 0, false, false, true, &id))
        return;
    for (int i = 3; i < c->argc; i++) {
        const karg_t *a = &c->argv[i];
        if (cmd_arg_is(a, "entriesadded") && i + 1 < c->argc) {
            if (!util_parse_ll(c->argv[i + 1].p, c->argv[i + 1].n, &added)) {
                reply_err(c, ERR_NOT_INT);
                return;
            }
            if (added < 0) {
                reply_err(c, "ERR entries_added must be positive");
                return;
            }
            has_added = true;
            i++;
        } else if (cmd_arg_is(a, "maxdeletedid") && i + 1 < c->argc) {
            if (!xparse_id(c, &c->argv[i + 1], 0, false, false, true, &maxdel))
                return;
            if (sid_cmp(&id, &maxdel) < 0) {
                reply_err(c, "ERR The ID specified in XSETID is smaller than the provided "
                             "max_deleted_entry_id");
                return;
            }
            has_maxdel = true;
            i++;
        } else {
            reply_err(c, ERR_SYNTAX);
            return;
        }
    }
    bool bad;
    stream_t *s = xlookup(c, key, true, &bad);
    if (bad)
        return;
    if (!s) {
        reply_err(c, "ERR no such key");
        return;
    }
    if (has_added && (uint64_t)added < stream_len(s)) {
        reply_err(c, "ERR The entries_added specified in XSETID is smaller than the target "
                     "stream length");
        return;
    }
    if (!has_maxdel) {
        sid_t md = stream_max_deleted_id(s);
        if (sid_cmp(&id, &md) < 0) {
            reply_err(c, "ERR The ID specified in XSETID is smaller than current "
                         "max_deleted_entry_id");
            return;
        }
    }
    if (stream_len(s) > 0) {
        sid_t maxid = stream_last_id(s);
        sentry_t e;
        stream_iter_t it;
        sid_t lo = {0, 0}, hi = {UINT64_MAX, UINT64_MAX};
        stream_iter_init(&it, s, &lo, &hi, true);
        if (stream_iter_next(&it, &e))
            maxid = e.id;
        stream_iter_done(&it);
        if (sid_cmp(&id, &maxid) < 0) {
            reply_err(c, "ERR The ID specified in XSETID is smaller than the target stream top "
                         "item");
            return;
        }
    }
    stream_set_meta(s, &id, has_added ? (uint64_t)added : stream_entries_added(s),
                    has_maxdel ? &maxdel : NULL);
    srv_notify(c->eng, NOTIFY_STREAM, "xsetid", key->p, key->n, c->db_id);
    srv_key_modified(c->eng, c->db, key->p, key->n);
    srv_dirty(c->eng, 1);
    reply_ok(c);
}

/* ---- XREAD / XREADGROUP --------------------------------------------------------------------- */

enum { XID_PLAIN, XID_NEW /* > */, XID_LAST /* + */ };

typedef struct xread {
    bool group;
    const karg_t *gname, *cname;
    long long count; /* 0 = no limit */
    bool block, noack;
    int64_t deadline_ms;
    int keys_at, nkeys;
    sid_t *ids;
    int *kind;
} xread_t;

static bool
xread_parse(client_t *c, bool group, xread_t *x) {
    const char *name = group ? "xreadgroup" : "xread";
    int i = 1;
    for (; i < c->argc; i++) {
        const karg_t *a = &c->argv[i];
        int left = c->argc - i - 1;
        if (cmd_arg_is(a, "block") && left >= 1) {
            long long ms;
            const karg_t *v = &c->argv[++i];
            if (!util_parse_ll(v->p, v->n, &ms)) {
                reply_err(c, "ERR timeout is not an integer or out of range");
                return false;
            }
            if (ms < 0) {
                reply_err(c, "ERR timeout is negative");
                return false;
            }
            x->block = true;
            x->deadline_ms = ms ? util_time_ms() + ms : 0;
        } else if (cmd_arg_is(a, "count") && left >= 1) {
            const karg_t *v = &c->argv[++i];
            if (!util_parse_ll(v->p, v->n, &x->count)) {
                reply_err(c, ERR_NOT_INT);
                return false;
            }
            if (x->count < 0)
                x->count = 0;
        } else if (cmd_arg_is(a, "streams") && left >= 1) {
            i++;
            break;
        } else if (group && cmd_arg_is(a, "group") && left >= 2) {
            x->group = true;
            x->gname = &c->argv[i + 1];
            x->cname = &c->argv[i + 2];
            i += 2;
        } else if (cmd_arg_is(a, "noack")) {
            if (!group) {
                reply_err(c, "ERR The NOACK option is only supported by XREADGROUP. You called "
                             "XREAD instead.");
                return false;
            }
            x->noack = true;
        } else {
            reply_err(c, ERR_SYNTAX);
            return false;
        }
    }
    int rest = c->argc - i;
    if (i >= c->argc || rest % 2) {
        reply_errf(c,
                   "ERR Unbalanced '%s' list of streams: for each stream key an ID or '$' must "
                   "be specified.",
                   name);
        return false;
    }
    if (group && !x->group) {
        reply_err(c, "ERR Missing GROUP option for XREADGROUP");
        return false;
    }
    x->keys_at = i;
    x->nkeys = rest / 2;
    return true;
}

/* Resolves the IDs (after the group checks). false after replying. */
static bool
xread_ids(client_t *c, xread_t *x, stream_t **ss, scg_t **gs) {
    for (int k = 0; k < x->nkeys; k++) {
        const karg_t *a = &c->argv[x->keys_at + x->nkeys + k];
        stream_t *s = ss[k];
        x->kind[k] = XID_PLAIN;
        if (a->n == 1 && a->p[0] == '$') {
            if (x->group) {
                reply_err(c, "ERR The $ ID is meaningless in the context of XREADGROUP: you want "
                             "to read the history of this consumer by specifying a proper ID, or "
                             "use the > ID to get new messages. The $ ID would just return an "
                             "empty result set.");
                return false;
            }
            x->ids[k] = s ? stream_last_id(s) : (sid_t){0, 0};
        } else if (a->n == 1 && a->p[0] == '>') {
            if (!x->group) {
                reply_err(c, "ERR The > ID can be specified only when calling XREADGROUP using "
                             "the GROUP <group> <consumer> option.");
                return false;
            }
            x->kind[k] = XID_NEW;
            x->ids[k] = gs[k]->last_id;
        } else if (a->n == 1 && a->p[0] == '+') {
            if (x->group) {
                reply_err(c, "ERR The + ID is meaningless in the context of XREADGROUP: you want "
                             "to read the history of this consumer by specifying a proper ID, or "
                             "use the > ID to get new messages. The + ID would just return an "
                             "empty result set.");
                return false;
            }
            /* Valkey 8: what follows the ID before the last generated one */
            x->kind[k] = XID_LAST;
            x->ids[k] = s && stream_len(s) ? stream_last_id(s) : (sid_t){0, 0};
            if (s && stream_len(s))
                sid_decr(&x->ids[k]);
        } else if (!xparse_id(c, a, 0, false, false, true, &x->ids[k])) {
            return false;
        }
    }
    return true;
}

/* Whether key k has something to reply. */
static bool
xread_has_data(const xread_t *x, int k, stream_t *s) {
    if (!s)
        return false;
    if (x->group && x->kind[k] == XID_PLAIN)
        return true; /* history: always replied, empty or not */
    if (stream_len(s) == 0)
        return false;
    sid_t from = x->ids[k], last = stream_last_id(s);
    if (sid_cmp(&last, &from) <= 0 || !sid_incr(&from))
        return false;
    stream_iter_t it;
    sentry_t e;
    sid_t hi = {UINT64_MAX, UINT64_MAX};
    stream_iter_init(&it, s, &from, &hi, false);
    bool any = stream_iter_next(&it, &e);
    stream_iter_done(&it);
    return any;
}

/* XREADGROUP's history: the consumer's pending entries after x->ids[k]. Returns how many were
 * delivered again. */
static long long
serve_history(client_t *c, const karg_t *key, stream_t *s, scg_t *g, sconsumer_t *cons,
              const sid_t *after, long long count) {
    sid_t from = *after;
    size_t spot = reply_defer(c);
    long long n = 0, delivered = 0;
    int64_t now = db_now_ms(c->db->env);
    if (sid_incr(&from)) {
        for (size_t i = scg_pel_lower(g, &from); i < g->pel_len && (!count || n < count); i++) {
            spel_t *pe = scg_pel_at(g, i);
            if (pe->owner != cons)
                continue;
            sentry_t e;
            n++;
            if (!stream_get(s, &pe->id, &e)) { /* deleted since: a null entry, not a delivery */
                reply_array(c, 2);
                xreply_id(c, &pe->id);
                reply_null_array(c);
                continue;
            }
            xreply_entry(c, &e);
            pe->delivery_ms = now;
            pe->delivery_count++;
            xeffect_claim(c, key, g, cons, pe);
            delivered++;
        }
    }
    if (delivered) {
        /* Valkey leaves the active time alone here, but the XCLAIM effects of this read set it
         * when replayed: set it now too, so that a restart gives back the same consumer. */
        cons->active_ms = now;
        srv_dirty(c->eng, (uint64_t)delivered);
    }
    reply_set_deferred_array(c, spot, n);
    return delivered;
}

/* XREADGROUP with '>': new entries, into the PEL unless NOACK. Returns how many. */
static long long
serve_new(client_t *c, const karg_t *key, stream_t *s, scg_t *g, sconsumer_t *cons, long long count,
          bool noack) {
    sid_t from = g->last_id, hi = {UINT64_MAX, UINT64_MAX};
    size_t spot = reply_defer(c);
    long long n = 0;
    int64_t now = db_now_ms(c->db->env);
    if (sid_incr(&from)) {
        stream_iter_t it;
        sentry_t e;
        stream_iter_init(&it, s, &from, &hi, false);
        while ((!count || n < count) && stream_iter_next(&it, &e)) {
            stream_group_delivered(s, g, &e.id);
            if (!noack) {
                bool created;
                spel_t *pe = scg_pel_add(g, &e.id, &created);
                scg_pel_set_owner(pe, cons);
                pe->delivery_ms = now;
                pe->delivery_count = 1;
                xeffect_claim(c, key, g, cons, pe);
            }
            xreply_entry(c, &e);
            n++;
        }
        stream_iter_done(&it);
    }
    if (n) {
        char last[STREAM_ID_STR_max], er[24];
        karg_t a[7] = {xarg("XGROUP"),
                       xarg("SETID"),
                       *key,
                       {g->name, g->name_len},
                       {last, (size_t)sid_fmt(&g->last_id, last)},
                       xarg("ENTRIESREAD"),
                       {er, (size_t)util_ll2str(er, sizeof er, g->entries_read)}};
        xeffect(c, 7, a);
        if (!noack)
            cons->active_ms = now;
        srv_dirty(c->eng, (uint64_t)n);
    }
    reply_set_deferred_array(c, spot, n);
    return n;
}

/* Plain XREAD of key k. */
static void
serve_plain(client_t *c, stream_t *s, const xread_t *x, int k) {
    sid_t from = x->ids[k], hi = {UINT64_MAX, UINT64_MAX};
    bool rev = false;
    long long count = x->count;
    if (!sid_incr(&from)) {
        reply_empty_array(c);
        return;
    }
    size_t spot = reply_defer(c);
    long long n = 0;
    stream_iter_t it;
    sentry_t e;
    stream_iter_init(&it, s, &from, &hi, rev);
    while ((!count || n < count) && stream_iter_next(&it, &e)) {
        xreply_entry(c, &e);
        n++;
    }
    stream_iter_done(&it);
    reply_set_deferred_array(c, spot, n);
}

/* The argument after STREAMS that holds the ID of key (saved arguments of a blocked read), or
 * -1. */
static int
saved_id_at(int argc, const karg_t *argv, const char *key, size_t klen) {
    for (int i = 1; i < argc; i++) {
        if (!cmd_arg_is(&argv[i], "streams"))
            continue;
        int n = (argc - i - 1) / 2;
        for (int k = 0; k < n; k++)
            if (argv[i + 1 + k].n == klen && memcmp(argv[i + 1 + k].p, key, klen) == 0)
                return i + 1 + n + k;
        return -1;
    }
    return -1;
}

/* block_ready_cb of XREAD: entries after the saved ID ('$' and '+' were made explicit). */
static bool
xread_ready_cb(const kobj_t *o, const char *key, size_t klen, int argc, const karg_t *argv) {
    if (!o || obj_type(o) != OBJ_STREAM)
        return false;
    const stream_t *s = obj_ptr(o);
    int at = saved_id_at(argc, argv, key, klen);
    sid_t id, last = stream_last_id(s);
    if (at < 0 || !sid_parse(argv[at].p, argv[at].n, 0, &id))
        return true; /* cannot tell: let the re-run decide */
    return stream_len(s) > 0 && sid_cmp(&last, &id) > 0;
}

/* block_ready_cb of XREADGROUP: entries after the group's last ID, or the stream or group gone
 * (the re-run answers NOGROUP or WRONGTYPE, as Valkey's does). */
static bool
xreadgroup_ready_cb(const kobj_t *o, const char *key, size_t klen, int argc, const karg_t *argv) {
    (void)key;
    (void)klen;
    if (!o || obj_type(o) != OBJ_STREAM)
        return true;
    const stream_t *s = obj_ptr(o);
    for (int i = 1; i + 1 < argc; i++) {
        if (!cmd_arg_is(&argv[i], "group"))
            continue;
        const scg_t *g = stream_group_find(s, argv[i + 1].p, argv[i + 1].n);
        if (!g)
            return true;
        sid_t last = stream_last_id(s);
        return stream_len(s) > 0 && sid_cmp(&last, &g->last_id) > 0;
    }
    return true;
}

static void
xread_timeout_cb(client_t *c) {
    reply_null_array(c);
}

/* Blocks the client: '$' and '+' become the IDs they stand for now, so that the re-run waits for
 * entries after them. */
static void
xread_block(client_t *c, xread_t *x) {
    char(*bufs)[STREAM_ID_STR_max] = kmalloc((size_t)x->nkeys * sizeof *bufs);
    karg_t *saved = kmalloc((size_t)x->nkeys * sizeof *saved);
    for (int k = 0; k < x->nkeys; k++) {
        karg_t *a = &c->argv[x->keys_at + x->nkeys + k];
        saved[k] = *a;
        if (!x->group && ((a->n == 1 && a->p[0] == '$') || x->kind[k] == XID_LAST)) {
            *a = (karg_t){bufs[k], (size_t)sid_fmt(&x->ids[k], bufs[k])};
        }
    }
    block_for_keys_when(c, &c->argv[x->keys_at], x->nkeys,
                        x->group ? xreadgroup_ready_cb : xread_ready_cb, x->deadline_ms,
                        xread_timeout_cb);
    for (int k = 0; k < x->nkeys; k++)
        c->argv[x->keys_at + x->nkeys + k] = saved[k];
    kfree(saved);
    kfree(bufs);
}

/* XREADGROUP's group lookups; false after replying NOGROUP (also what a blocked reader gets
 * when its stream or group goes away: Valkey re-runs it too). */
static bool
xread_groups(client_t *c, xread_t *x, stream_t **ss, scg_t **gs) {
    for (int k = 0; k < x->nkeys; k++) {
        const karg_t *key = &c->argv[x->keys_at + k];
        gs[k] = ss[k] ? stream_group_find(ss[k], x->gname->p, x->gname->n) : NULL;
        if (gs[k])
            continue;
        reply_errf(c,
                   "NOGROUP No such key '%.*s' or consumer group '%.*s' in XREADGROUP with "
                   "GROUP option",
                   (int)key->n, key->p, (int)x->gname->n, x->gname->p);
        return false;
    }
    return true;
}

/* Valkey makes (and touches) the consumer in every group read, before looking for data: a read
 * that finds nothing, or blocks, still creates it. */
static void
xread_consumers(client_t *c, const xread_t *x, scg_t **gs) {
    int64_t now = db_now_ms(c->db->env);
    for (int k = 0; k < x->nkeys; k++) {
        bool created;
        sconsumer_t *cons = scg_consumer_get(gs[k], x->cname->p, x->cname->n, now, &created);
        if (created)
            xconsumer_created(c, &c->argv[x->keys_at + k], gs[k], cons);
        cons->seen_ms = now;
    }
}

static void
xread_serve(client_t *c, xread_t *x, stream_t **ss, scg_t **gs, const bool *has, int nhas) {
    if (c->resp >= 3)
        reply_map(c, nhas);
    else
        reply_array(c, nhas);
    for (int k = 0; k < x->nkeys; k++) {
        if (!has[k])
            continue;
        const karg_t *key = &c->argv[x->keys_at + k];
        if (c->resp < 3)
            reply_array(c, 2);
        reply_bulk(c, key->p, key->n);
        if (!x->group) {
            serve_plain(c, ss[k], x, k);
            continue;
        }
        sconsumer_t *cons = scg_consumer_find(gs[k], x->cname->p, x->cname->n);
        long long changed = x->kind[k] == XID_NEW
                                ? serve_new(c, key, ss[k], gs[k], cons, x->count, x->noack)
                                : serve_history(c, key, ss[k], gs[k], cons, &x->ids[k], x->count);
        if (changed) /* the group changed: WATCH, reply tags, and other waiters to try again */
            srv_key_modified(c->eng, c->db, key->p, key->n);
    }
}

static void
xread_generic(client_t *c, bool group) {
    xread_t x = {0};
    if (!xread_parse(c, group, &x))
        return;
    stream_t **ss = kcalloc((size_t)x.nkeys, sizeof *ss);
    scg_t **gs = kcalloc((size_t)x.nkeys, sizeof *gs);
    bool *has = kcalloc((size_t)x.nkeys, sizeof *has);
    x.ids = kcalloc((size_t)x.nkeys, sizeof *x.ids);
    x.kind = kcalloc((size_t)x.nkeys, sizeof *x.kind);
    bool ok = true, bad;
    for (int k = 0; k < x.nkeys && ok; k++) {
        ss[k] = xlookup(c, &c->argv[x.keys_at + k], group, &bad);
        ok = !bad;
    }
    if (ok && group)
        ok = xread_groups(c, &x, ss, gs);
    if (ok)
        ok = xread_ids(c, &x, ss, gs);
    if (ok && group)
        xread_consumers(c, &x, gs);
    if (ok) {
        int nhas = 0;
        for (int k = 0; k < x.nkeys; k++)
            nhas += has[k] = xread_has_data(&x, k, ss[k]);
        if (nhas)
            xread_serve(c, &x, ss, gs, has, nhas);
        else if (x.block && block_allowed(c))
            xread_block(c, &x);
        else
            reply_null_array(c);
    }
    kfree(ss);
    kfree(gs);
    kfree(has);
    kfree(x.ids);
    kfree(x.kind);
}

static void
cmd_xread(client_t *c) {
    xread_generic(c, false);
}

static void
cmd_xreadgroup(client_t *c) {
    xread_generic(c, true);
}

/* Keys of XREAD/XREADGROUP: the first half of what follows STREAMS. */
static int
xread_getkeys(int argc, karg_t *argv, int *idx, int max) {
    for (int i = 1; i < argc; i++) {
        if (!cmd_arg_is(&argv[i], "streams"))
            continue;
        int rest = argc - i - 1;
        if (rest <= 0 || rest % 2)
            return -1;
        int n = 0;
        for (int k = 0; k < rest / 2 && n < max; k++)
            idx[n++] = i + 1 + k;
        return n;
    }
    return -1;
}

#define W  CMD_WRITE
#define R  CMD_READONLY
#define DO CMD_DENYOOM
#define F  CMD_FAST
#define B  CMD_BLOCKING

/* clang-format off */
cmd_def_t cmd_table_stream[] = {
    {"xadd", cmd_xadd, -5, W | DO | F, 1, 1, 1, "stream", "Appends a new message to a stream. Creates the key if it doesn't exist.", "5.0.0", "O(1) when adding a new entry, O(N) when trimming where N being the number of entries evicted.", "write stream fast"},
    {"xtrim", cmd_xtrim, -4, W, 1, 1, 1, "stream", "Deletes messages from the beginning of a stream.", "5.0.0", "O(N), with N being the number of evicted entries.", "write stream slow"},
    {"xrange", cmd_xrange, -4, R, 1, 1, 1, "stream", "Returns the messages from a stream within a range of IDs.", "5.0.0", "O(N) with N being the number of elements being returned.", "read stream slow"},
    {"xrevrange", cmd_xrevrange, -4, R, 1, 1, 1, "stream", "Returns the messages from a stream within a range of IDs in reverse order.", "5.0.0", "O(N) with N being the number of elements returned.", "read stream slow"},
    {"xlen", cmd_xlen, 2, R | F, 1, 1, 1, "stream", "Return the number of messages in a stream.", "5.0.0", "O(1)", "read stream fast"},
    {"xdel", cmd_xdel, -3, W | F, 1, 1, 1, "stream", "Returns the number of messages after removing them from a stream.", "5.0.0", "O(1) for each single item to delete in the stream, regardless of the stream size.", "write stream fast"},
    {"xsetid", cmd_xsetid, -3, W | DO | F, 1, 1, 1, "stream", "An internal command for replicating stream values.", "5.0.0", "O(1)", "write stream fast"},
    {"xread", cmd_xread, -4, R | B, 0, 0, 0, "stream", "Returns messages from multiple streams with IDs greater than the ones requested. Blocks until a message is available otherwise.", "5.0.0", "", "read stream slow blocking", xread_getkeys},
    {"xreadgroup", cmd_xreadgroup, -7, W | B, 0, 0, 0, "stream", "Returns new or historical messages from a stream for a consumer in a group. Blocks until a message is available otherwise.", "5.0.0", "For each stream mentioned: O(M) with M being the number of elements returned. If M is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1). On the other side when XREADGROUP blocks, XADD will pay the O(N) time in order to serve the N clients blocked on the stream getting new data.", "write stream slow blocking", xread_getkeys},
    {0},
};
/* clang-format on */
