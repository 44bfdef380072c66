/*
 * replay.c - recovery: the effect commands of each log record run again through a fake client.
 *
 * A record's payload is what prop.c wrote: a sequence of RESP arrays of bulk strings, one per
 * effect command; "SELECT n" switches the database for the effects that follow, and the first
 * effect applies to the record's db field. Replay runs with:
 *   - no effect sink (prop.c logs nothing while its sink is NULL: no re-logging);
 *   - expiry switched off (db_set_expire_enabled(false)): the log holds every expiry that
 *     happened as a DEL, so judging TTLs against the replay's clock would delete keys twice or
 *     too early; the command clock is set to the record's timestamp for the commands that read it;
 *   - s->loading set;
 *   - with the value tier open, values going out between records (tiering_load_pressure), so a
 *     log that builds more than memory replays with memory near the tier's goal.
 * A payload that does not parse, an unknown command, a bad arity or an error reply is corruption
 * the checksums could not see (or a build that disagrees with the log): replay stops with a
 * message naming the LSN rather than build a different dataset.
 */
#include <stdio.h>
#include <string.h>

#include "kerr.h"
#include "cmd.h"
#include "db.h"
#include "exec.h"
#include "kmem.h"
#include "persist_int.h"
#include "tiering.h"
#include "util.h"

#define REPLAY_ARGS_MAX (1024 * 1024) /* effect arguments per command (prop.c has no larger) */


void
replay_begin(replay_ctx_t *rc, engine_t *s, char *err, size_t errlen) {
    *rc = (replay_ctx_t){.s = s, .err = err, .errlen = errlen};
    rc->fake = client_create(s, -1);
    db_set_expire_enabled(&s->dbenv, false);
}

void
replay_end(replay_ctx_t *rc) {
    client_free(rc->fake);
    rc->fake = NULL;
    kfree(rc->args);
    rc->args = NULL;
    rc->args_cap = 0;
    db_set_expire_enabled(&rc->s->dbenv, true);
    db_set_now_ms(&rc->s->dbenv, util_time_ms());
    cmd_reset_stats(rc->s); /* replayed calls are not the clients' commands */
    rc->s->dirty = rc->s->dirty_at_last_save = 0;
}

/* Reads "<t><decimal>\r\n" at *pos; returns the number or -1. */
static long long
read_hdr(const char *p, size_t len, size_t *pos, char t) {
    size_t i = *pos;
    if (i >= len || p[i] != t)
        return -1;
    i++;
    long long v = 0;
    size_t digits = 0;
    while (i < len && p[i] >= '0' && p[i] <= '9' && digits < 18) {
        v = v * 10 + (p[i] - '0');
        i++;
        digits++;
    }
    if (digits == 0 || i + 1 >= len || p[i] != '\r' || p[i + 1] != '\n')
        return -1;
    *pos = i + 2;
    return v;
}

/* Parses one effect command at *pos into args; returns argc or -1. */
static int
parse_command(replay_ctx_t *rc, const char *p, size_t len, size_t *pos) {
    long long argc = read_hdr(p, len, pos, '*');
    if (argc < 1 || argc > REPLAY_ARGS_MAX)
        return -1;
    if ((size_t)argc > rc->args_cap) {
        rc->args_cap = (size_t)argc;
        rc->args = krealloc(rc->args, sizeof *rc->args * rc->args_cap);
    }
    for (long long i = 0; i < argc; i++) {
        long long n = read_hdr(p, len, pos, '$');
        if (n < 0 || (size_t)n > len - *pos || len - *pos - (size_t)n < 2)
            return -1;
        rc->args[i].p = p + *pos;
        rc->args[i].n = (size_t)n;
        *pos += (size_t)n;
        if (p[*pos] != '\r' || p[*pos + 1] != '\n')
            return -1;
        *pos += 2;
    }
    return (int)argc;
}

static int
replay_fail(replay_ctx_t *rc, const wal_record_t *rec, size_t off, const char *what) {
    snprintf(rc->err, rc->errlen,
             "record LSN %llu (db %u, %zu bytes): effect at payload offset %zu: %s",
             (unsigned long long)rec->lsn, rec->db, rec->len, off, what);
    return KERR_CORRUPT;
}

static int
replay_select(replay_ctx_t *rc, const wal_record_t *rec, size_t off, int argc) {
    long long id;
    if (argc != 2 || !util_parse_ll(rc->args[1].p, rc->args[1].n, &id) ||
        !engine_db(rc->s, (int)id))
        return replay_fail(rc, rec, off, "bad SELECT");
    rc->fake->db = engine_db(rc->s, (int)id);
    rc->fake->db_id = (int)id;
    return 0;
}

/* Runs rc->args[0..argc) on the fake client; an error reply is corruption. */
static int
replay_exec(replay_ctx_t *rc, const wal_record_t *rec, size_t off, int argc) {
    client_t *c = rc->fake;
    char what[200];
    cmd_def_t *cmd = cmd_resolve(rc->s, argc, rc->args);
    if (!cmd) {
        snprintf(what, sizeof what, "unknown command '%.*s'",
                 (int)(rc->args[0].n > 64 ? 64 : rc->args[0].n), rc->args[0].p);
        return replay_fail(rc, rec, off, what);
    }
    if (!cmd_arity_ok(cmd, argc)) {
        snprintf(what, sizeof what, "wrong number of arguments (%d) for '%s'", argc, cmd->fullname);
        return replay_fail(rc, rec, off, what);
    }
    c->argc = argc;
    c->argv = rc->args;
    c->conn.olen = c->conn.osent = 0;
    exec_call(c, cmd);
    c->argc = 0;
    c->argv = NULL;
    if (c->conn.olen > 0 && c->conn.obuf[0] == '-') {
        size_t n = c->conn.olen;
        while (n > 0 && (c->conn.obuf[n - 1] == '\r' || c->conn.obuf[n - 1] == '\n'))
            n--;
        snprintf(what, sizeof what, "'%s' replied %.*s", cmd->fullname, (int)(n > 120 ? 120 : n),
                 c->conn.obuf);
        c->conn.olen = 0;
        return replay_fail(rc, rec, off, what);
    }
    c->conn.olen = c->conn.osent = 0;
    rc->commands++;
    return 0;
}

int
replay_apply_cb(void *ctx, const wal_record_t *rec) {
    replay_ctx_t *rc = ctx;
    const char *p = rec->payload;
    size_t pos = 0;
    if (!engine_db(rc->s, (int)rec->db))
        return replay_fail(rc, rec, 0, "database index out of range");
    rc->fake->db = engine_db(rc->s, (int)rec->db);
    rc->fake->db_id = (int)rec->db;
    db_set_now_ms(&rc->s->dbenv, rec->ts_ms);
    if (rec->len == 0)
        return replay_fail(rc, rec, 0, "empty record");
    while (pos < rec->len) {
        size_t off = pos;
        int argc = parse_command(rc, p, rec->len, &pos);
        if (argc < 0)
            return replay_fail(rc, rec, off, "not a RESP array of bulk strings");
        int r = util_eq_nocase(rc->args[0].p, rc->args[0].n, "select")
                    ? replay_select(rc, rec, off, argc)
                    : replay_exec(rc, rec, off, argc);
        if (r < 0)
            return r;
    }
    rc->records++;
    rc->bytes += rec->len;
    tiering_load_pressure(rc->s);
    return 0;
}
