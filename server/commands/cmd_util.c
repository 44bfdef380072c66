/* cmd_util.c - helpers the command groups share (see cmd_util.h). */
#include "cmd_util.h"

#include <limits.h>

#include "cmd.h"
#include "exec.h"
#include "engine.h"
#include "util.h"
#include "reply.h"

kobj_t *
cmd_lookup_read(client_t *c, const karg_t *key) {
    kobj_t *o = db_lookup(c->db, key->p, key->n, 0); /* NO-TOUCH: db_set_touch_enabled */
    if (o) {
        c->eng->stats.keyspace_hits++;
    } else {
        c->eng->stats.keyspace_misses++;
        srv_notify(c->eng, NOTIFY_KEY_MISS, "keymiss", key->p, key->n, c->db_id);
    }
    return o;
}

kobj_t *
cmd_lookup_read_type(client_t *c, const karg_t *key, int type, bool *bad) {
    kobj_t *o = cmd_lookup_read(c, key);
    *bad = false;
    if (!o)
        return NULL;
    if (obj_type(o) != type) {
        reply_err(c, ERR_WRONGTYPE);
        *bad = true;
        return NULL;
    }
    return o;
}

bool
cmd_parse_cursor(const karg_t *a, unsigned long long *cursor) {
    bool neg = a->n > 1 && a->p[0] == '-';
    bool pos = a->n > 1 && a->p[0] == '+';
    if (!util_parse_ull(a->p + (neg || pos), a->n - (neg || pos), cursor))
        return false;
    if (neg)
        *cursor = 0 - *cursor;
    return true;
}

bool
cmd_parse_rand_count(client_t *c, const char *with_word, long long *count, bool *with) {
    long long l;
    if (!util_parse_ll(c->argv[2].p, c->argv[2].n, &l)) {
        reply_err(c, ERR_NOT_INT);
        return false;
    }
    if (l == LLONG_MIN) {
        reply_err(c, "ERR value is out of range, value must between -9223372036854775807 and "
                     "9223372036854775807");
        return false;
    }
    *with = c->argc == 4 && cmd_arg_is(&c->argv[3], with_word);
    if (c->argc > 4 || (c->argc == 4 && !*with)) {
        reply_err(c, ERR_SYNTAX);
        return false;
    }
    if (*with && (l < -LLONG_MAX / 2 || l > LLONG_MAX / 2)) {
        reply_err(c, "ERR value is out of range");
        return false;
    }
    *count = l;
    return true;
}

bool
cmd_parse_scan_options(client_t *c, int from, unsigned allow, cmd_scan_opts_t *o) {
    *o = (cmd_scan_opts_t){.count = 10};
    for (int i = from; i < c->argc; i++) {
        const karg_t *opt = &c->argv[i];
        bool more = i + 1 < c->argc;
        if (cmd_arg_is(opt, "count") && more) {
            long long v;
            if (!util_parse_ll(c->argv[i + 1].p, c->argv[i + 1].n, &v)) {
                reply_err(c, ERR_NOT_INT);
                return false;
            }
            if (v < 1) {
                reply_err(c, ERR_SYNTAX);
                return false;
            }
            o->count = v > CMD_SCAN_COUNT_MAX ? CMD_SCAN_COUNT_MAX : v;
            i++;
        } else if (cmd_arg_is(opt, "match") && more) {
            const karg_t *m = &c->argv[++i];
            o->match = m->n == 1 && m->p[0] == '*' ? NULL : m;
        } else if ((allow & CMD_SCAN_TYPE) && cmd_arg_is(opt, "type") && more) {
            o->type = &c->argv[++i];
        } else if (((allow & CMD_SCAN_NOVALUES) && cmd_arg_is(opt, "novalues")) ||
                   ((allow & CMD_SCAN_NOSCORES) && cmd_arg_is(opt, "noscores"))) {
            o->no_values = true;
        } else {
            reply_err(c, ERR_SYNTAX);
            return false;
        }
    }
    return true;
}

bool
cmd_parse_numkeys(client_t *c, int at, const char *nonpos_err, long long *numkeys) {
    long long n;
    if (!util_parse_ll(c->argv[at].p, c->argv[at].n, &n) || n <= 0) {
        reply_err(c, nonpos_err);
        return false;
    }
    if (n > c->argc - at - 1) {
        reply_err(c, ERR_SYNTAX);
        return false;
    }
    *numkeys = n;
    return true;
}

int
cmd_expire_cond_parse(client_t *c, int from, int to, int *flags) {
    *flags = 0;
    for (int j = from; j < to; j++) {
        const karg_t *a = &c->argv[j];
        if (util_eq_nocase(a->p, a->n, "nx"))
            *flags |= EXPIRE_NX;
        else if (util_eq_nocase(a->p, a->n, "xx"))
            *flags |= EXPIRE_XX;
        else if (util_eq_nocase(a->p, a->n, "gt"))
            *flags |= EXPIRE_GT;
        else if (util_eq_nocase(a->p, a->n, "lt"))
            *flags |= EXPIRE_LT;
        else {
            reply_errf(c, "ERR Unsupported option %.*s", (int)(a->n > 128 ? 128 : a->n), a->p);
            return -1;
        }
    }
    if ((*flags & EXPIRE_NX) && (*flags & (EXPIRE_XX | EXPIRE_GT | EXPIRE_LT))) {
        reply_err(c, "ERR NX and XX, GT or LT options at the same time are not compatible");
        return -1;
    }
    if ((*flags & EXPIRE_GT) && (*flags & EXPIRE_LT)) {
        reply_err(c, "ERR GT and LT options at the same time are not compatible");
        return -1;
    }
    return 0;
}

bool
cmd_expire_cond_allows(int flags, int64_t cur, long long when) {
    if ((flags & EXPIRE_NX) && cur != -1)
        return false;
    if ((flags & EXPIRE_XX) && cur == -1)
        return false;
    if ((flags & EXPIRE_GT) && (cur == -1 || when <= cur))
        return false;
    if ((flags & EXPIRE_LT) && cur != -1 && when >= cur)
        return false;
    return true;
}
