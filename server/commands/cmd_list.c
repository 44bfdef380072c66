/*
 * cmd_list.c - the list commands, blocking ones included: pushes, pops, ranges, LPOS, LMOVE,
 * LMPOP, and BLPOP/BRPOP/BLMOVE/BRPOPLPUSH/BLMPOP on top of core/block.h.
 *
 * Semantics, replies and error strings follow Valkey 7.2 / 8 (t_list.c). The points worth knowing:
 *
 * 1. A list key never holds an empty list: the command that removes the last element deletes
 *    the key and sends "del" after its own event (lpop, rpop, lrem, ltrim).
 * 2. Encodings: pushes and inserts check the grow limit for all their elements at once before
 *    adding (list_try_grow); removals try the shrink back afterwards (list_try_shrink).
 * 3. Effects logged (docs/durability.md): the non-blocking commands are deterministic and logged
 *    as called. A blocking command logs the non-blocking form of what it did, whether it was
 *    served at once or after waiting (it re-runs when woken, see block.h): BLPOP -> LPOP key,
 *    BRPOP -> RPOP key, BLMOVE -> LMOVE, BRPOPLPUSH -> RPOPLPUSH, BLMPOP and LMPOP -> LPOP/RPOP
 *    key count. A blocking command that blocks or times out changes nothing and logs nothing.
 * 4. Keyspace events as Valkey: lpush/rpush (also LPUSHX, LINSERT is "linsert"), lpop/rpop,
 *    lset, lrem, ltrim, and for LMOVE the push event on the destination then the pop event on
 *    the source. Waiters on a key are woken through srv_key_modified (block.c hooks it).
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "kerr.h"
#include "cmd.h"
#include "cmd_util.h"
#include "block.h"
#include "exec.h"
#include "kmem.h"
#include "prop.h"
#include "engine.h"
#include "util.h"
#include "reply.h"
#include "t_list.h"

static const char ERR_NOT_POSITIVE[] = "ERR value is out of range, must be positive";
static const char ERR_INDEX_RANGE[] = "ERR index out of range";
static const char ERR_LIST_TOO_BIG[] = "ERR list element too large to store";

/* ---- helpers ------------------------------------------------------------------------------ */

static inline long long
list_fill(const client_t *c) {
    return c->eng->cfg.list_max_listpack_size;
}

/* True (and WRONGTYPE replied) when o exists and is not a list. */
static bool
wrong_type(client_t *c, const kobj_t *o) {
    if (o && obj_type(o) != OBJ_LIST) {
        reply_err(c, ERR_WRONGTYPE);
        return true;
    }
    return false;
}

static bool
arg_long(client_t *c, const karg_t *a, long *v) {
    long long x;
    if (!util_parse_ll(a->p, a->n, &x) || x < LONG_MIN || x > LONG_MAX) {
        reply_err(c, ERR_NOT_INT);
        return false;
    }
    *v = (long)x;
    return true;
}

/* Valkey's getRangeLongFromObjectOrReply: an integer in [min, max], else `msg` (or the range
 * message when msg is NULL) for both a bad number and one out of range. */
static bool
arg_range(client_t *c, const karg_t *a, long min, long max, const char *msg, long *v) {
    long long x;
    if (!util_parse_ll(a->p, a->n, &x) || x < LONG_MIN || x > LONG_MAX) {
        reply_err(c, msg ? msg : ERR_NOT_INT);
        return false;
    }
    if (x < min || x > max) {
        if (msg)
            reply_err(c, msg);
        else
            reply_errf(c, "ERR value is out of range, value must between %ld and %ld", min, max);
        return false;
    }
    *v = (long)x;
    return true;
}

/* LEFT / RIGHT (LMOVE, LMPOP); replies a syntax error otherwise. */
static bool
arg_where(client_t *c, const karg_t *a, int *where) {
    if (util_eq_nocase(a->p, a->n, "left"))
        *where = LIST_HEAD;
    else if (util_eq_nocase(a->p, a->n, "right"))
        *where = LIST_TAIL;
    else {
        reply_err(c, ERR_SYNTAX);
        return false;
    }
    return true;
}

/* After elements left the list under key: the pop/removal event, the key's deletion when it
 * emptied (with "del"), otherwise the shrink check; then the key counts as modified. */
static void
after_removal(client_t *c, const karg_t *key, const char *event) {
    srv_notify(c->eng, NOTIFY_LIST, event, key->p, key->n, c->db_id);
    kobj_t *o = db_find(c->db, key->p, key->n);
    if (o && list_len(o) == 0) {
        db_delete(c->db, key->p, key->n);
        srv_notify(c->eng, NOTIFY_GENERIC, "del", key->p, key->n, c->db_id);
    } else if (o) {
        list_try_shrink(o, list_fill(c));
    }
    srv_key_modified(c->eng, c->db, key->p, key->n);
}

/* Logs "LPOP key" / "RPOP key [count]" in place of the running command. */
static void
log_pop(client_t *c, int where, const karg_t *key, long count) {
    char num[32];
    karg_t av[3] = {{where == LIST_HEAD ? "LPOP" : "RPOP", 4}, *key, {num, 0}};
    int ac = 2;
    if (count >= 0) {
        av[2].n = (size_t)util_ll2str(num, sizeof num, count);
        ac = 3;
    }
    prop_add(&c->eng->prop, c->db_id, ac, av);
}

/* Pops up to n elements from o (under key), replying each as a bulk string. */
static long
pop_and_reply(client_t *c, kobj_t *o, int where, long n) {
    long done = 0;
    list_popped_t v;
    while (done < n && list_pop(o, where, &v) == 0) {
        reply_bulk(c, v.p, v.n);
        kfree(v.p);
        done++;
    }
    return done;
}

/* ---- pushes ------------------------------------------------------------------------------- */

static void
push_generic(client_t *c, int where, bool only_existing) {
    const karg_t *key = &c->argv[1];
    kobj_t *o = cmd_lookup_write(c, key);
    if (wrong_type(c, o))
        return;
    if (!o) {
        if (only_existing) {
            reply_int(c, 0);
            return;
        }
        o = list_obj_new(key->p, key->n);
        db_add(c->db, o);
    }
    size_t bytes = 0;
    for (int j = 2; j < c->argc; j++)
        bytes += c->argv[j].n;
    list_try_grow(o, bytes, (size_t)(c->argc - 2), list_fill(c));
    int pushed = 0;
    for (int j = 2; j < c->argc; j++) {
        if (list_push(o, where, c->argv[j].p, c->argv[j].n) != 0)
            break;
        pushed++;
    }
    if (pushed < c->argc - 2) {
        reply_err(c, ERR_LIST_TOO_BIG);
        if (list_len(o) == 0)
            db_delete(c->db, key->p, key->n);
    } else {
        reply_int(c, (long long)list_len(o));
    }
    if (pushed > 0) {
        srv_dirty(c->eng, (uint64_t)pushed);
        srv_key_modified(c->eng, c->db, key->p, key->n);
        srv_notify(c->eng, NOTIFY_LIST, where == LIST_HEAD ? "lpush" : "rpush", key->p, key->n,
                   c->db_id);
    }
}

static void
cmd_lpush(client_t *c) {
    push_generic(c, LIST_HEAD, false);
}
static void
cmd_rpush(client_t *c) {
    push_generic(c, LIST_TAIL, false);
}
static void
cmd_lpushx(client_t *c) {
    push_generic(c, LIST_HEAD, true);
}
static void
cmd_rpushx(client_t *c) {
    push_generic(c, LIST_TAIL, true);
}

/* ---- pops --------------------------------------------------------------------------------- */

static void
pop_generic(client_t *c, int where) {
    const karg_t *key = &c->argv[1];
    long count = 0;
    bool has_count = c->argc == 3;
    if (c->argc > 3) {
        reply_err_arity(c, where == LIST_HEAD ? "lpop" : "rpop");
        return;
    }
    if (has_count && !arg_range(c, &c->argv[2], 0, LONG_MAX, ERR_NOT_POSITIVE, &count))
        return;
    kobj_t *o = cmd_lookup_write(c, key);
    if (!o) {
        if (has_count)
            reply_null_array(c);
        else
            reply_null(c);
        return;
    }
    if (wrong_type(c, o))
        return;
    if (has_count && count == 0) {
        reply_empty_array(c); /* Valkey's fast exit: nothing popped, no event */
        return;
    }
    long n = 1;
    if (has_count) {
        n = (uint64_t)count < list_len(o) ? count : (long)list_len(o);
        reply_array(c, n);
    }
    n = pop_and_reply(c, o, where, n);
    after_removal(c, key, where == LIST_HEAD ? "lpop" : "rpop");
    srv_dirty(c->eng, (uint64_t)n);
}

static void
cmd_lpop(client_t *c) {
    pop_generic(c, LIST_HEAD);
}
static void
cmd_rpop(client_t *c) {
    pop_generic(c, LIST_TAIL);
}

/* ---- reads -------------------------------------------------------------------------------- */

static void
cmd_llen(client_t *c) {
    kobj_t *o = cmd_lookup_read(c, &c->argv[1]);
    if (wrong_type(c, o))
        return;
    reply_int(c, o ? (long long)list_len(o) : 0);
}

static void
cmd_lindex(client_t *c) {
    kobj_t *o = cmd_lookup_read(c, &c->argv[1]);
    long index;
    if (!o) {
        reply_null(c);
        return;
    }
    if (wrong_type(c, o) || !arg_long(c, &c->argv[2], &index))
        return;
    list_elem_t e;
    if (list_index(o, index, &e))
        reply_bulk(c, e.p, e.n);
    else
        reply_null(c);
}

static void
cmd_lrange(client_t *c) {
    long start, end;
    if (!arg_long(c, &c->argv[2], &start) || !arg_long(c, &c->argv[3], &end))
        return;
    kobj_t *o = cmd_lookup_read(c, &c->argv[1]);
    if (!o) {
        reply_empty_array(c);
        return;
    }
    if (wrong_type(c, o))
        return;
    long len = (long)list_len(o);
    if (start < 0)
        start = len + start;
    if (end < 0)
        end = len + end;
    if (start < 0)
        start = 0;
    if (start > end || start >= len) {
        reply_empty_array(c);
        return;
    }
    if (end >= len)
        end = len - 1;
    long n = end - start + 1;
    reply_array(c, n);
    list_iter_t it;
    list_elem_t e;
    list_iter_init(&it, o, start, LIST_TAIL);
    while (n-- > 0 && list_iter_next(&it, &e))
        reply_bulk(c, e.p, e.n);
}

/* LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len] */
static bool
lpos_options(client_t *c, long *rank, long *count, long *maxlen) {
    for (int j = 3; j < c->argc; j++) {
        const karg_t *opt = &c->argv[j];
        bool more = j + 1 < c->argc;
        if (more && util_eq_nocase(opt->p, opt->n, "rank")) {
            if (!arg_range(c, &c->argv[++j], -LONG_MAX, LONG_MAX, NULL, rank))
                return false;
            if (*rank == 0) {
                reply_err(c, "ERR RANK can't be zero: use 1 to start from the first match, 2 from "
                             "the second ... or use negative to start from the end of the list");
                return false;
            }
        } else if (more && util_eq_nocase(opt->p, opt->n, "count")) {
            if (!arg_range(c, &c->argv[++j], 0, LONG_MAX, "ERR COUNT can't be negative", count))
                return false;
        } else if (more && util_eq_nocase(opt->p, opt->n, "maxlen")) {
            if (!arg_range(c, &c->argv[++j], 0, LONG_MAX, "ERR MAXLEN can't be negative", maxlen))
                return false;
        } else {
            reply_err(c, ERR_SYNTAX);
            return false;
        }
    }
    return true;
}

static void
cmd_lpos(client_t *c) {
    long rank = 1, count = -1, maxlen = 0;
    if (!lpos_options(c, &rank, &count, &maxlen))
        return;
    int dir = LIST_TAIL;
    if (rank < 0) {
        rank = -rank;
        dir = LIST_HEAD;
    }
    kobj_t *o = cmd_lookup_read(c, &c->argv[1]);
    if (!o) {
        if (count != -1)
            reply_empty_array(c);
        else
            reply_null(c);
        return;
    }
    if (wrong_type(c, o))
        return;
    const karg_t *ele = &c->argv[2];
    long len = (long)list_len(o), index = 0, matches = 0, found = -1, emitted = 0;
    size_t spot = count != -1 ? reply_defer(c) : 0;
    list_iter_t it;
    list_elem_t e;
    list_iter_init(&it, o, dir == LIST_TAIL ? 0 : -1, dir);
    while ((maxlen == 0 || index < maxlen) && list_iter_next(&it, &e)) {
        if (e.n == ele->n && memcmp(e.p, ele->p, e.n) == 0 && ++matches >= rank) {
            long pos = dir == LIST_TAIL ? index : len - index - 1;
            if (count == -1) {
                found = pos;
                break;
            }
            reply_int(c, pos);
            emitted++;
            if (count && matches - rank + 1 >= count)
                break;
        }
        index++;
    }
    if (count != -1)
        reply_set_deferred_array(c, spot, emitted);
    else if (found >= 0)
        reply_int(c, found);
    else
        reply_null(c);
}

/* ---- in-place changes ------------------------------------------------------------------------ */

static void
cmd_lset(client_t *c) {
    const karg_t *key = &c->argv[1], *val = &c->argv[3];
    kobj_t *o = cmd_lookup_write(c, key);
    long index;
    if (!o) {
        reply_err(c, ERR_NO_KEY);
        return;
    }
    if (wrong_type(c, o) || !arg_long(c, &c->argv[2], &index))
        return;
    list_try_grow(o, val->n, 1, list_fill(c));
    int rc = list_set(o, index, val->p, val->n);
    if (rc == KERR_NOTFOUND) {
        reply_err(c, ERR_INDEX_RANGE);
        return;
    }
    if (rc < 0) {
        reply_err(c, ERR_LIST_TOO_BIG);
        return;
    }
    reply_ok(c);
    srv_key_modified(c->eng, c->db, key->p, key->n);
    srv_notify(c->eng, NOTIFY_LIST, "lset", key->p, key->n, c->db_id);
    srv_dirty(c->eng, 1);
    list_try_shrink(o, list_fill(c)); /* a big element may have been replaced by a small one */
}

static void
cmd_linsert(client_t *c) {
    const karg_t *key = &c->argv[1], *pivot = &c->argv[3], *val = &c->argv[4];
    bool after;
    if (util_eq_nocase(c->argv[2].p, c->argv[2].n, "after"))
        after = true;
    else if (util_eq_nocase(c->argv[2].p, c->argv[2].n, "before"))
        after = false;
    else {
        reply_err(c, ERR_SYNTAX);
        return;
    }
    kobj_t *o = cmd_lookup_write(c, key);
    if (!o) {
        reply_int(c, 0);
        return;
    }
    if (wrong_type(c, o))
        return;
    list_try_grow(o, val->n, 1, list_fill(c));
    int rc = list_insert(o, after, pivot->p, pivot->n, val->p, val->n);
    if (rc < 0) {
        reply_err(c, ERR_LIST_TOO_BIG);
        return;
    }
    if (rc == 0) {
        reply_int(c, -1);
        return;
    }
    srv_key_modified(c->eng, c->db, key->p, key->n);
    srv_notify(c->eng, NOTIFY_LIST, "linsert", key->p, key->n, c->db_id);
    srv_dirty(c->eng, 1);
    reply_int(c, (long long)list_len(o));
}

static void
cmd_lrem(client_t *c) {
    const karg_t *key = &c->argv[1], *val = &c->argv[3];
    long count;
    if (!arg_long(c, &c->argv[2], &count))
        return;
    kobj_t *o = cmd_lookup_write(c, key);
    if (!o) {
        reply_int(c, 0);
        return;
    }
    if (wrong_type(c, o))
        return;
    uint64_t removed = list_remove(o, count, val->p, val->n);
    if (removed) {
        after_removal(c, key, "lrem");
        srv_dirty(c->eng, removed);
    }
    reply_int(c, (long long)removed);
}

static void
cmd_ltrim(client_t *c) {
    const karg_t *key = &c->argv[1];
    long start, end;
    if (!arg_long(c, &c->argv[2], &start) || !arg_long(c, &c->argv[3], &end))
        return;
    kobj_t *o = cmd_lookup_write(c, key);
    if (!o) {
        reply_ok(c);
        return;
    }
    if (wrong_type(c, o))
        return;
    long len = (long)list_len(o), ltrim, rtrim;
    if (start < 0)
        start = len + start;
    if (end < 0)
        end = len + end;
    if (start < 0)
        start = 0;
    if (start > end || start >= len) {
        ltrim = len; /* everything goes */
        rtrim = 0;
    } else {
        if (end >= len)
            end = len - 1;
        ltrim = start;
        rtrim = len - end - 1;
    }
    list_trim(o, (uint64_t)ltrim, (uint64_t)rtrim);
    after_removal(c, key, "ltrim");
    srv_dirty(c->eng, (uint64_t)(ltrim + rtrim));
    reply_ok(c);
}

/* ---- moves ---------------------------------------------------------------------------------- */

/* Moves one element from src to dst (LMOVE semantics). Returns 1 when moved (the element was
 * replied), 0 when src does not exist (nothing replied), -1 when an error was replied. */
static int
lmove_do(client_t *c, const karg_t *src, const karg_t *dst, int from, int to) {
    kobj_t *s = cmd_lookup_write(c, src);
    if (!s)
        return 0;
    if (wrong_type(c, s))
        return -1;
    kobj_t *d = cmd_lookup_write(c, dst);
    if (wrong_type(c, d))
        return -1;
    s = db_find(c->db, src->p, src->n); /* dst's lookup may have changed the db */
    list_popped_t v;
    if (list_pop(s, from, &v) != 0) {
        reply_null(c); /* an empty list is never stored; kept for safety as Valkey does */
        return 0;
    }
    if (!d) {
        d = list_obj_new(dst->p, dst->n);
        db_add(c->db, d);
    }
    list_try_grow(d, v.n, 1, list_fill(c));
    int rc = list_push(d, to, v.p, v.n);
    (void)rc; /* the element came out of a list, so it fits in one */
    srv_key_modified(c->eng, c->db, dst->p, dst->n);
    srv_notify(c->eng, NOTIFY_LIST, to == LIST_HEAD ? "lpush" : "rpush", dst->p, dst->n, c->db_id);
    reply_bulk(c, v.p, v.n);
    kfree(v.p);
    after_removal(c, src, from == LIST_HEAD ? "lpop" : "rpop");
    srv_dirty(c->eng, 1);
    return 1;
}

static void
cmd_lmove(client_t *c) {
    int from, to;
    if (!arg_where(c, &c->argv[3], &from) || !arg_where(c, &c->argv[4], &to))
        return;
    if (lmove_do(c, &c->argv[1], &c->argv[2], from, to) == 0)
        reply_null(c);
}

static void
cmd_rpoplpush(client_t *c) {
    if (lmove_do(c, &c->argv[1], &c->argv[2], LIST_TAIL, LIST_HEAD) == 0)
        reply_null(c);
}

/* ---- LMPOP ---------------------------------------------------------------------------------- */

/* Pops up to count elements from the first non-empty list among keys: [key, [elements]].
 * Returns 1 when served, 0 when every key is missing (nothing replied), -1 on WRONGTYPE. */
static int
mpop_serve(client_t *c, const karg_t *keys, long nkeys, int where, long count) {
    for (long j = 0; j < nkeys; j++) {
        kobj_t *o = cmd_lookup_write(c, &keys[j]);
        if (!o)
            continue;
        if (wrong_type(c, o))
            return -1;
        long n = (uint64_t)count < list_len(o) ? count : (long)list_len(o);
        reply_array(c, 2);
        reply_bulk(c, keys[j].p, keys[j].n);
        reply_array(c, n);
        pop_and_reply(c, o, where, n);
        after_removal(c, &keys[j], where == LIST_HEAD ? "lpop" : "rpop");
        srv_dirty(c->eng, (uint64_t)n);
        log_pop(c, where, &keys[j], n);
        return 1;
    }
    return 0;
}

/* Parses [B]LMPOP's numkeys key... LEFT|RIGHT [COUNT count] with numkeys at argv[at]. */
static bool
mpop_args(client_t *c, int at, long *nkeys, int *where, long *count) {
    long long n;
    if (!cmd_parse_numkeys(c, at, "ERR numkeys should be greater than 0", &n))
        return false;
    *nkeys = (long)n;
    long where_at = at + *nkeys + 1;
    if (where_at >= c->argc) {
        reply_err(c, ERR_SYNTAX);
        return false;
    }
    if (!arg_where(c, &c->argv[where_at], where))
        return false;
    *count = -1;
    for (long j = where_at + 1; j < c->argc; j++) {
        const karg_t *opt = &c->argv[j];
        if (*count == -1 && j + 1 < c->argc && util_eq_nocase(opt->p, opt->n, "count")) {
            if (!arg_range(c, &c->argv[++j], 1, LONG_MAX, "ERR count should be greater than 0",
                           count))
                return false;
        } else {
            reply_err(c, ERR_SYNTAX);
            return false;
        }
    }
    if (*count == -1)
        *count = 1;
    return true;
}

static void
cmd_lmpop(client_t *c) {
    long nkeys, count;
    int where;
    if (!mpop_args(c, 1, &nkeys, &where, &count))
        return;
    if (mpop_serve(c, &c->argv[2], nkeys, where, count) == 0)
        reply_null_array(c);
}

/* numkeys-style key positions: numkeys at argv[at], the keys right after it. */
static int
mpop_keys(int argc, karg_t *argv, int at, int *idx, int max) {
    long long n;
    if (at >= argc || !util_parse_ll(argv[at].p, argv[at].n, &n) || n < 1 || n > argc - at - 1)
        return -1;
    int k = 0;
    for (long long j = 0; j < n && k < max; j++)
        idx[k++] = at + 1 + (int)j;
    return k;
}

static int
lmpop_getkeys(int argc, karg_t *argv, int *idx, int max) {
    return mpop_keys(argc, argv, 1, idx, max);
}
static int
blmpop_getkeys(int argc, karg_t *argv, int *idx, int max) {
    return mpop_keys(argc, argv, 2, idx, max);
}

/* ---- blocking commands ------------------------------------------------------------------------
 */

static void
timeout_null_array_cb(client_t *c) {
    reply_null_array(c);
}
static void
timeout_null_cb(client_t *c) {
    reply_null(c);
}

/* BLPOP / BRPOP key [key ...] timeout */
static void
bpop_generic(client_t *c, int where) {
    int64_t deadline;
    if (block_parse_timeout(c, &c->argv[c->argc - 1], &deadline) < 0)
        return;
    const karg_t *keys = &c->argv[1];
    int nkeys = c->argc - 2;
    for (int j = 0; j < nkeys; j++) {
        kobj_t *o = cmd_lookup_write(c, &keys[j]);
        if (!o)
            continue;
        if (wrong_type(c, o))
            return;
        reply_array(c, 2);
        reply_bulk(c, keys[j].p, keys[j].n);
        pop_and_reply(c, o, where, 1);
        after_removal(c, &keys[j], where == LIST_HEAD ? "lpop" : "rpop");
        srv_dirty(c->eng, 1);
        log_pop(c, where, &keys[j], -1);
        return;
    }
    if (!block_allowed(c))
        reply_null_array(c);
    else
        block_for_keys(c, keys, nkeys, OBJ_LIST, deadline, timeout_null_array_cb);
}

static void
cmd_blpop(client_t *c) {
    bpop_generic(c, LIST_HEAD);
}
static void
cmd_brpop(client_t *c) {
    bpop_generic(c, LIST_TAIL);
}

/* BLMOVE / BRPOPLPUSH: block on src; when served, log the non-blocking form. */
static void
bmove_generic(client_t *c, int from, int to, const karg_t *timeout, bool rpoplpush) {
    const karg_t *src = &c->argv[1], *dst = &c->argv[2];
    int64_t deadline;
    if (block_parse_timeout(c, timeout, &deadline) < 0)
        return;
    int rc = lmove_do(c, src, dst, from, to);
    if (rc == 1) {
        if (rpoplpush) {
            karg_t av[3] = {{"RPOPLPUSH", 9}, *src, *dst};
            prop_add(&c->eng->prop, c->db_id, 3, av);
        } else {
            karg_t av[5] = {{"LMOVE", 5}, *src, *dst, c->argv[3], c->argv[4]};
            prop_add(&c->eng->prop, c->db_id, 5, av);
        }
        return;
    }
    if (rc < 0)
        return;
    if (!block_allowed(c))
        reply_null(c);
    else
        block_for_keys(c, src, 1, OBJ_LIST, deadline, timeout_null_cb);
}

static void
cmd_blmove(client_t *c) {
    int from, to;
    if (!arg_where(c, &c->argv[3], &from) || !arg_where(c, &c->argv[4], &to))
        return;
    bmove_generic(c, from, to, &c->argv[5], false);
}

static void
cmd_brpoplpush(client_t *c) {
    bmove_generic(c, LIST_TAIL, LIST_HEAD, &c->argv[3], true);
}

/* BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count] */
static void
cmd_blmpop(client_t *c) {
    long nkeys, count;
    int where;
    int64_t deadline;
    if (!mpop_args(c, 2, &nkeys, &where, &count))
        return;
    if (block_parse_timeout(c, &c->argv[1], &deadline) < 0)
        return;
    int rc = mpop_serve(c, &c->argv[3], nkeys, where, count);
    if (rc != 0)
        return;
    if (!block_allowed(c))
        reply_null_array(c);
    else
        block_for_keys(c, &c->argv[3], (int)nkeys, OBJ_LIST, deadline, timeout_null_array_cb);
}

/* ---- the table ---------------------------------------------------------------------------- */

#define W CMD_WRITE
#define R CMD_READONLY
#define D CMD_DENYOOM
#define F CMD_FAST
#define B CMD_BLOCKING

// clang-format off
cmd_def_t cmd_table_list[] = {
    {"lpush", cmd_lpush, -3, W | D | F, 1, 1, 1, "list", "Prepends one or more elements to a list. Creates the key if it doesn't exist.", "1.0.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", "write list fast"},
    {"rpush", cmd_rpush, -3, W | D | F, 1, 1, 1, "list", "Appends one or more elements to a list. Creates the key if it doesn't exist.", "1.0.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", "write list fast"},
    {"lpushx", cmd_lpushx, -3, W | D | F, 1, 1, 1, "list", "Prepends one or more elements to a list only when the list exists.", "2.2.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", "write list fast"},
    {"rpushx", cmd_rpushx, -3, W | D | F, 1, 1, 1, "list", "Appends an element to a list only when the list exists.", "2.2.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", "write list fast"},
    {"lpop", cmd_lpop, -2, W | F, 1, 1, 1, "list", "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.", "1.0.0", "O(N) where N is the number of elements returned", "write list fast"},
    {"rpop", cmd_rpop, -2, W | F, 1, 1, 1, "list", "Returns and removes the last elements of a list. Deletes the list if the last element was popped.", "1.0.0", "O(N) where N is the number of elements returned", "write list fast"},
    {"llen", cmd_llen, 2, R | F, 1, 1, 1, "list", "Returns the length of a list.", "1.0.0", "O(1)", "read list fast"},
    {"lrange", cmd_lrange, 4, R, 1, 1, 1, "list", "Returns a range of elements from a list.", "1.0.0", "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range.", "read list slow"},
    {"lindex", cmd_lindex, 3, R, 1, 1, 1, "list", "Returns an element from a list by its index.", "1.0.0", "O(N) where N is the number of elements to traverse to get to the element at index. This makes asking for the first or the last element of the list O(1).", "read list slow"},
    {"lpos", cmd_lpos, -3, R, 1, 1, 1, "list", "Returns the index of matching elements in a list.", "6.0.6", "O(N) where N is the number of elements in the list, for the average case. When searching for elements near the head or the tail of the list, or when the MAXLEN option is provided, the command may run in constant time.", "read list slow"},
    {"lset", cmd_lset, 4, W | D, 1, 1, 1, "list", "Sets the value of an element in a list by its index.", "1.0.0", "O(N) where N is the length of the list. Setting either the first or the last element of the list is O(1).", "write list slow"},
    {"linsert", cmd_linsert, 5, W | D, 1, 1, 1, "list", "Inserts an element before or after another element in a list.", "2.2.0", "O(N) where N is the number of elements to traverse before seeing the value pivot. This means that inserting somewhere on the left end on the list (head) can be considered O(1) and inserting somewhere on the right end (tail) is O(N).", "write list slow"},
    {"lrem", cmd_lrem, 4, W, 1, 1, 1, "list", "Removes elements from a list. Deletes the list if the last element was removed.", "1.0.0", "O(N+M) where N is the length of the list and M is the number of elements removed.", "write list slow"},
    {"ltrim", cmd_ltrim, 4, W, 1, 1, 1, "list", "Removes elements from both ends a list. Deletes the list if all elements were trimmed.", "1.0.0", "O(N) where N is the number of elements to be removed by the operation.", "write list slow"},
    {"lmove", cmd_lmove, 5, W | D, 1, 2, 1, "list", "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.", "6.2.0", "O(1)", "write list slow"},
    {"rpoplpush", cmd_rpoplpush, 3, W | D, 1, 2, 1, "list", "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.", "1.2.0", "O(1)", "write list slow"},
    {"lmpop", cmd_lmpop, -4, W, 0, 0, 0, "list", "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.", "7.0.0", "O(N+M) where N is the number of provided keys and M is the number of elements returned.", "write list slow", lmpop_getkeys},
    {"blpop", cmd_blpop, -3, W | B, 1, -2, 1, "list", "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", "2.0.0", "O(N) where N is the number of provided keys.", "write list slow blocking"},
    {"brpop", cmd_brpop, -3, W | B, 1, -2, 1, "list", "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", "2.0.0", "O(N) where N is the number of provided keys.", "write list slow blocking"},
    {"blmove", cmd_blmove, 6, W | D | B, 1, 2, 1, "list", "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.", "6.2.0", "O(1)", "write list slow blocking"},
    {"brpoplpush", cmd_brpoplpush, 4, W | D | B, 1, 2, 1, "list", "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.", "2.2.0", "O(1)", "write list slow blocking"},
    {"blmpop", cmd_blmpop, -5, W | B, 0, 0, 0, "list", "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", "7.0.0", "O(N+M) where N is the number of provided keys and M is the number of elements returned.", "write list slow blocking", blmpop_getkeys},
    {0},
};
// clang-format on
