/*
 * client.c - the engine's side of a connection: creating and freeing clients, running the
 * commands the net layer parsed, parking replies until the log made them durable, output limits,
 * idle timeouts, CLIENT LIST lines.
 *
 * Parking (durability sync): exec tags each reply with the LSN it depends on; client_mark_reply
 * records a mark (absolute output offsets, LSN) unless the LSN is durable already, and sets the
 * conn's hold to the first mark's start, so the net layer writes nothing past it.
 *   durable LSN advances -> client_release_parked(): marks at or below it are dropped, the hold
 *                           moves to the next mark (or goes), the conn is scheduled for writing
 *   the log failed       -> client_fail_parked(): every parked reply becomes an error
 * A client with CLIENT_MARKS_MAX marks, or blocked, pauses its input (CONN_INPUT_PAUSED) until
 * client_resume().
 */
#include "client.h"

#include <stdio.h>
#include <string.h>

#include "acl.h"
#include "engine.h"
#include "klog.h"
#include "kmem.h"
#include "monitor.h"
#include "pause.h"
#include "tracking.h"
#include "pubsub.h"
#include "watch.h"
#include "reply.h"
#include "util.h"

void
client_discard_multi(client_t *c) {
    for (int i = 0; i < c->mcount; i++)
        kfree(c->mstate[i].argv);
    kfree(c->mstate);
    c->mstate = NULL;
    c->mcount = c->mcap = 0;
    c->mbytes = 0;
    c->flags &= ~(CLIENT_MULTI | CLIENT_DIRTY_CAS | CLIENT_DIRTY_EXEC);
}

void
client_unwatch(client_t *c) {
    engine_t *s = c->eng;
    for (int i = 0; i < s->nhooks; i++)
        if (s->hooks[i].unwatch)
            s->hooks[i].unwatch(c);
}

void
client_reset(client_t *c) {
    engine_t *s = c->eng;
    client_discard_multi(c); /* the MULTI queue */
    client_unwatch(c);
    for (int i = 0; i < s->nhooks; i++) /* pub/sub, blocking, WAITAOF state */
        if (s->hooks[i].client_cleanup)
            s->hooks[i].client_cleanup(c);
}

/* Input stops while the client is blocked or has too many parked replies. */
void
client_update_pause(client_t *c) {
    if ((c->flags & (CLIENT_BLOCKED | CLIENT_TIER_WAIT | CLIENT_PAUSE_WAIT)) ||
        c->marks_len >= CLIENT_MARKS_MAX)
        c->conn.flags |= CONN_INPUT_PAUSED;
    else
        c->conn.flags &= ~CONN_INPUT_PAUSED;
}

/* The hold follows the first mark. */
static void
update_hold(client_t *c) {
    c->conn.hold = c->marks_len ? c->marks[c->marks_head].start : CONN_HOLD_NONE;
}

client_t *
client_create(engine_t *s, int fd) {
    client_t *c = kcalloc(1, sizeof *c);
    conn_init(&c->conn, s->net, fd);
    c->id = ++s->next_client_id;
    c->eng = s;
    c->resp = 2;
    c->db = s->dbs[0];
    c->db_id = 0;
    c->ctime_ms = util_time_ms();
    if (fd < 0) { /* the engine's own: no user, no limits */
        c->flags |= CLIENT_FAKE | CLIENT_AUTHENTICATED;
        return c;
    }
    if (s->acl)
        acl_client_reset(c); /* the default user; authenticated when it is on and nopass */
    else
        c->flags |= CLIENT_AUTHENTICATED;
    if (!(c->flags & CLIENT_AUTHENTICATED))
        c->conn.flags |= CONN_UNAUTH; /* the net layer's limits until it authenticates */
    c->next = s->clients;
    if (s->clients)
        s->clients->prev = c;
    s->clients = c;
    s->nclients++;
    return c;
}

static void
unpark(client_t *c) {
    engine_t *s = c->eng;
    if (!(c->flags & CLIENT_PARKED))
        return;
    if (c->park_prev)
        c->park_prev->park_next = c->park_next;
    else
        s->parked = c->park_next;
    if (c->park_next)
        c->park_next->park_prev = c->park_prev;
    c->park_prev = c->park_next = NULL;
    c->flags &= ~CLIENT_PARKED;
}

void
client_free(client_t *c) {
    engine_t *s = c->eng;
    client_reset(c);
    if (!(c->flags & CLIENT_FAKE)) {
        if (c->prev)
            c->prev->next = c->next;
        else
            s->clients = c->next;
        if (c->next)
            c->next->prev = c->prev;
        s->nclients--;
        unpark(c);
    }
    if (s->current == c)
        s->current = NULL;
    pause_client_gone(c);
    monitor_remove(c);
    conn_release(&c->conn);
    kfree(c->marks);
    kfree(c->name);
    kfree(c->deferred_push);
    kfree(c->lib_name);
    kfree(c->lib_ver);
    kfree(c);
}


void
client_close_async(client_t *c) {
    if (c->flags & CLIENT_FAKE)
        return;
    conn_close_async(&c->conn);
}

void
client_resume(client_t *c) {
    client_update_pause(c);
    if (!(c->conn.flags & CONN_INPUT_PAUSED))
        conn_resume_input(&c->conn);
}

bool
client_raw_command(const client_t *c, const char **resp, size_t *len) {
    return conn_raw_command(&c->conn, c->argc, c->argv, resp, len);
}

void
client_mark_reply(client_t *c, uint64_t start, uint64_t lsn) {
    uint64_t end = conn_out_end(&c->conn);
    if (end == start)
        return; /* no reply bytes (e.g. the client is closing) */
    if (c->marks_len == 0 && lsn <= c->eng->durable_lsn)
        return;
    if (c->marks_len > 0) {
        reply_mark_t *last = &c->marks[(c->marks_head + c->marks_len - 1) % c->marks_cap];
        if (lsn <= last->lsn) { /* replies leave in order: join the last mark */
            last->end = end;
            last->count++;
            return;
        }
    }
    if (c->marks_len == c->marks_cap) {
        uint32_t cap = c->marks_cap ? c->marks_cap * 2 : 8;
        reply_mark_t *m = kmalloc(sizeof *m * cap);
        for (uint32_t i = 0; i < c->marks_len; i++)
            m[i] = c->marks[(c->marks_head + i) % c->marks_cap];
        kfree(c->marks);
        c->marks = m;
        c->marks_cap = cap;
        c->marks_head = 0;
    }
    c->marks[(c->marks_head + c->marks_len) % c->marks_cap] =
        (reply_mark_t){.start = start, .end = end, .lsn = lsn, .count = 1};
    c->marks_len++;
    engine_t *s = c->eng;
    if (!(c->flags & CLIENT_PARKED)) {
        c->flags |= CLIENT_PARKED;
        c->park_prev = NULL;
        c->park_next = s->parked;
        if (s->parked)
            s->parked->park_prev = c;
        s->parked = c;
    }
    update_hold(c);
    if (c->marks_len >= CLIENT_MARKS_MAX)
        client_update_pause(c);
}

void
client_release_parked(engine_t *s) {
    client_t *c = s->parked;
    while (c) {
        client_t *next = c->park_next;
        while (c->marks_len && c->marks[c->marks_head].lsn <= s->durable_lsn) {
            c->marks_head = (c->marks_head + 1) % c->marks_cap;
            c->marks_len--;
        }
        update_hold(c);
        conn_schedule_write(&c->conn);
        if (c->marks_len == 0) {
            unpark(c);
            client_resume(c); /* it may have stopped reading at CLIENT_MARKS_MAX */
        }
        c = next;
    }
}

void
client_fail_parked(engine_t *s, const char *why) {
    for (client_t *c = s->parked; c;) {
        client_t *next = c->park_next;
        if (c->marks_len) {
            /* Replace every parked reply by the error: the write they acknowledged is not durable. */
            uint32_t count = 0;
            for (uint32_t i = 0; i < c->marks_len; i++)
                count += c->marks[(c->marks_head + i) % c->marks_cap].count;
            conn_out_truncate(&c->conn, c->marks[c->marks_head].start);
            c->marks_len = 0;
            update_hold(c);
            for (uint32_t i = 0; i < count; i++)
                reply_err(c, why);
        }
        unpark(c);
        conn_schedule_write(&c->conn);
        c = next;
    }
}

#define OBUF_LIMIT_FREE (16 * 1024)

static bool
obuf_over_limit(engine_t *s, client_t *c, int64_t now_ms) {
    bool pubsub = c->pubsub != NULL;
    long long hard = pubsub ? s->cfg.obuf_pubsub_hard : s->cfg.obuf_normal_hard;
    long long soft = pubsub ? s->cfg.obuf_pubsub_soft : s->cfg.obuf_normal_soft;
    long long soft_s = pubsub ? s->cfg.obuf_pubsub_soft_s : s->cfg.obuf_normal_soft_s;
    long long used = (long long)conn_out_pending(&c->conn);
    if ((c->conn.flags & CONN_UNAUTH) && used > CONN_UNAUTH_OUTPUT_MAX)
        return true; /* replies piling up for a client that knows no password */
    /* The first 16 KiB are not counted, as Valkey does not count a client's reply buffer: a
     * limit set below one reply must not close every client, the one that set it included. */
    used = used > OBUF_LIMIT_FREE ? used - OBUF_LIMIT_FREE : 0;
    if (hard && used >= hard)
        return true;
    if (soft && used >= soft) {
        if (!c->obuf_soft_since_ms)
            c->obuf_soft_since_ms = now_ms;
        else if (now_ms - c->obuf_soft_since_ms >= soft_s * 1000)
            return true;
    } else {
        c->obuf_soft_since_ms = 0;
    }
    return false;
}

void
client_check_output_limit(client_t *c) {
    if (obuf_over_limit(c->eng, c, util_time_ms())) {
        klog(KLOG_WARNING, "Client id=%llu scheduled to be closed: output buffer limit",
             (unsigned long long)c->id);
        client_close_async(c);
    }
}

void
clients_cron(engine_t *s) {
    int64_t now = util_time_ms();
    for (client_t *c = s->clients; c;) {
        client_t *next = c->next;
        if (s->cfg.timeout_s > 0 &&
            !(c->flags & (CLIENT_BLOCKED | CLIENT_PUBSUB | CLIENT_REPLICA)) && !c->pubsub &&
            now - c->conn.last_ms > s->cfg.timeout_s * 1000) {
            client_free(c);
        } else if (obuf_over_limit(s, c, now)) {
            client_close_async(c);
        }
        c = next;
    }
}

/* Flags of the modules that keep their own client state (MONITOR, client-side caching). */
static int
client_info_flags_extra(const client_t *c, char *out) {
    int n = 0;
    if (monitor_is(c))
        out[n++] = 'O';
    if (tracking_on(c))
        out[n++] = 't';
    if (tracking_flags(c) & TRACK_BROKEN_REDIR)
        out[n++] = 'R';
    if (tracking_flags(c) & TRACK_BCAST)
        out[n++] = 'B';
    return n;
}

/* The client its invalidations go to (CLIENT TRACKING REDIRECT), -1 for none. */
static long long
client_info_redir(const client_t *c) {
    return tracking_redirect(c);
}

int
client_info_line(client_t *c, char *buf, size_t len) {
    int64_t now = util_time_ms();
    char flags[24];
    int f = 0;
    if (c->flags & CLIENT_REPLICA)
        flags[f++] = 'S';
    if (c->pubsub)
        flags[f++] = 'P';
    if (c->flags & CLIENT_MULTI)
        flags[f++] = 'x';
    if (c->flags & (CLIENT_BLOCKED | CLIENT_PAUSE_WAIT))
        flags[f++] = 'b';
    if (c->flags & CLIENT_DIRTY_CAS)
        flags[f++] = 'd';
    if (c->conn.flags & CONN_CLOSE_AFTER_REPLY)
        flags[f++] = 'c';
    if (c->conn.flags & CONN_CLOSE_ASAP)
        flags[f++] = 'A';
    if (c->flags & CLIENT_NO_EVICT)
        flags[f++] = 'e';
    if (c->flags & CLIENT_NO_TOUCH)
        flags[f++] = 'T';
    f += client_info_flags_extra(c, flags + f);
    if (f == 0)
        flags[f++] = 'N';
    flags[f] = 0;
    size_t argv_mem = 0;
    for (int i = 0; i < c->argc; i++)
        argv_mem += c->argv[i].n;
    /* Valkey 8's fields, in its order. */
    int n = snprintf(
        buf, len,
        "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld flags=%s db=%d sub=%zu "
        "psub=%zu ssub=%zu multi=%d watch=%zu qbuf=%zu qbuf-free=%zu argv-mem=%zu multi-mem=%zu "
        "rbs=%zu rbp=%zu obl=%zu oll=0 omem=%zu tot-mem=%zu events=r cmd=%s user=%s redir=%lld "
        "resp=%d lib-name=%s lib-ver=%s tot-net-in=%llu tot-net-out=%llu tot-cmds=%llu",
        (unsigned long long)c->id, c->conn.addr, c->conn.laddr, c->conn.fd, c->name ? c->name : "",
        (long long)((now - c->ctime_ms) / 1000), (long long)((now - c->conn.last_ms) / 1000), flags,
        c->db_id, pubsub_client_count(c, PUBSUB_CHANNEL), pubsub_client_count(c, PUBSUB_PATTERN),
        pubsub_client_count(c, PUBSUB_SHARD), (c->flags & CLIENT_MULTI) ? c->mcount : -1,
        watch_count(c), c->conn.qlen, c->conn.qcap - c->conn.qlen, argv_mem, c->mbytes,
        c->conn.qcap, c->conn.qbuf_peak, conn_out_pending(&c->conn), c->conn.ocap,
        c->conn.qcap + c->conn.ocap + sizeof *c, c->last_cmd ? c->last_cmd : "NULL",
        acl_user_name(c->user), client_info_redir(c), c->resp, c->lib_name ? c->lib_name : "",
        c->lib_ver ? c->lib_ver : "", (unsigned long long)c->conn.net_in,
        (unsigned long long)c->conn.net_out, (unsigned long long)c->tot_cmds);
    /* A long client or user name may not fit: report what was written, never more. */
    return n < 0 ? 0 : (size_t)n >= len ? (int)len - 1 : n;
}
