/*
 * net.c - the listener and the client connection life cycle.
 *
 * read event -> client_read_parse(): read into qbuf, parse complete commands, execute each
 *   (exec_command) -> replies appended to obuf, client put on the pending-write list
 * before sleep -> client_write() for every pending client: send obuf up to the first parked
 *   reply; if bytes remain, wait for a write event
 * durable LSN advances -> net_release_parked(): drop released marks, schedule the write
 */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "exec.h"
#include "pubsub.h"
#include "kmem.h"
#include "util.h"
#include "ev.h"
#include "reply.h"

#define READ_CHUNK    (16 * 1024)
#define WRITE_MAX     (1024 * 1024) /* per write event, so one client cannot starve others */
#define INLINE_MAX    (64 * 1024)

static void client_event_cb(ev_loop_t *l, int fd, void *data, int mask);

static int
set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -errno : (fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ? -errno : 0);
}

static void
fmt_addr(const struct sockaddr_storage *ss, char *buf, size_t len)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
        port = ntohs(a->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
        port = ntohs(a->sin6_port);
    }
    snprintf(buf, len, "%s:%d", ip, port);
}

client_t *
client_create(server_t *s, int fd)
{
    client_t *c = kcalloc(1, sizeof *c);
    c->id = ++s->next_client_id;
    c->fd = fd;
    c->srv = s;
    c->resp = 2;
    c->db = s->dbs[0];
    c->db_id = 0;
    c->ctime_ms = c->last_ms = util_time_ms();
    resp_parser_init(&c->parser);
    if (!s->cfg.requirepass || !s->cfg.requirepass[0])
        c->flags |= CLIENT_AUTHENTICATED;
    if (fd < 0) {
        c->flags |= CLIENT_FAKE | CLIENT_AUTHENTICATED;
        return c;
    }
    c->next = s->clients;
    if (s->clients)
        s->clients->prev = c;
    s->clients = c;
    s->nclients++;
    return c;
}

static void
unpark(client_t *c)
{
    server_t *s = c->srv;
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
client_free(client_t *c)
{
    server_t *s = c->srv;
    exec_client_cleanup(c); /* MULTI queue, WATCH, pub/sub, blocking state */
    if (c->fd >= 0) {
        ev_del(s->loop, c->fd, EV_READ | EV_WRITE);
        close(c->fd);
        if (c->prev)
            c->prev->next = c->next;
        else
            s->clients = c->next;
        if (c->next)
            c->next->prev = c->prev;
        s->nclients--;
        unpark(c);
        if (c->flags & CLIENT_PENDING_WRITE) {
            client_t **pp = &s->pending_write;
            while (*pp && *pp != c)
                pp = &(*pp)->pw_next;
            if (*pp)
                *pp = c->pw_next;
        }
    }
    if (s->current == c)
        s->current = NULL;
    resp_parser_free(&c->parser);
    kfree(c->qbuf);
    kfree(c->obuf);
    kfree(c->marks);
    kfree(c->name);
    kfree(c);
}

void
client_close_async(client_t *c)
{
    c->flags |= CLIENT_CLOSE_ASAP;
    server_client_has_output(c);
}

/* Called by reply.c the first time a client gets output since its last write. */
void
server_client_has_output(client_t *c)
{
    if (c->flags & (CLIENT_PENDING_WRITE | CLIENT_FAKE))
        return;
    c->flags |= CLIENT_PENDING_WRITE;
    c->pw_next = c->srv->pending_write;
    c->srv->pending_write = c;
}

void
client_mark_reply(client_t *c, uint64_t start, uint64_t lsn)
{
    uint64_t end = c->obase + c->olen;
    if (end == start)
        return; /* no reply bytes (e.g. the client is closing) */
    if (c->marks_len == 0 && lsn <= c->srv->durable_lsn)
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
    server_t *s = c->srv;
    if (!(c->flags & CLIENT_PARKED)) {
        c->flags |= CLIENT_PARKED;
        c->park_prev = NULL;
        c->park_next = s->parked;
        if (s->parked)
            s->parked->park_prev = c;
        s->parked = c;
    }
}

/* How many bytes of obuf may be written now: up to the first parked reply. */
static size_t
sendable_end(const client_t *c)
{
    if (c->marks_len == 0)
        return c->olen;
    uint64_t start = c->marks[c->marks_head].start;
    return (size_t)(start - c->obase);
}

/* Returns 0, or -1 if the client was freed. */
static int
client_write(client_t *c)
{
    server_t *s = c->srv;
    size_t end = sendable_end(c), total = 0;
    while (c->osent < end && total < WRITE_MAX) {
        ssize_t n = write(c->fd, c->obuf + c->osent, end - c->osent);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                break;
            client_free(c);
            return -1;
        }
        c->osent += (size_t)n;
        total += (size_t)n;
        c->net_out += (uint64_t)n;
        s->stats.net_out += (uint64_t)n;
    }
    if (c->osent == c->olen) {
        c->obase += c->olen;
        c->olen = c->osent = 0;
        if (c->ocap > 64 * 1024) { /* give back a buffer a big reply grew */
            kfree(c->obuf);
            c->obuf = NULL;
            c->ocap = 0;
        }
    }
    if (c->osent < end)
        ev_add(s->loop, c->fd, EV_WRITE, client_event_cb, c);
    else
        ev_del(s->loop, c->fd, EV_WRITE);
    if ((c->flags & CLIENT_CLOSE_AFTER_REPLY) && c->osent == c->olen && c->marks_len == 0) {
        client_free(c);
        return -1;
    }
    return 0;
}

static void
protocol_error(client_t *c, const char *msg)
{
    char buf[256];
    snprintf(buf, sizeof buf, "ERR Protocol error: %s", msg);
    reply_err(c, buf);
    c->flags |= CLIENT_CLOSE_AFTER_REPLY;
}

/* Drop consumed bytes at the front of qbuf. */
static void
compact_qbuf(client_t *c)
{
    size_t used = c->parser.start;
    if (used == 0)
        return;
    memmove(c->qbuf, c->qbuf + used, c->qlen - used);
    c->qlen -= used;
    resp_parser_shift(&c->parser, used);
}

/* Parse and run every complete command in qbuf. */
static void
process_input(client_t *c)
{
    server_t *s = c->srv;
    resp_limits_t lim = {s->cfg.proto_max_bulk_len, s->cfg.multibulk_max, INLINE_MAX};
    char err[128];
    while (!(c->flags & (CLIENT_CLOSE_AFTER_REPLY | CLIENT_CLOSE_ASAP | CLIENT_BLOCKED))) {
        if (c->marks_len >= CLIENT_MARKS_MAX)
            break; /* too many parked replies: stop reading until they drain */
        int argc;
        karg_t *argv;
        size_t hint;
        int r = resp_parse(&c->parser, c->qbuf, c->qlen, &lim, &argc, &argv, &hint, err, sizeof err);
        if (r < 0) {
            protocol_error(c, err);
            break;
        }
        if (r == RESP_NEED_MORE) {
            if (hint > c->qcap) { /* a big bulk: make room once, not in 16 KiB steps */
                size_t used = c->parser.start;
                compact_qbuf(c);
                size_t need = hint - used;
                if (need > c->qcap) {
                    c->qbuf = krealloc(c->qbuf, need);
                    c->qcap = need;
                }
            }
            break;
        }
        c->argc = argc;
        c->argv = argv;
        exec_command(c);
        c->argc = 0;
        c->argv = NULL;
        resp_parser_next(&c->parser);
    }
    if (c->parser.start == c->qlen) { /* everything consumed: reuse from the start */
        c->qlen = 0;
        c->parser.pos = c->parser.start = 0;
    } else if (c->parser.start > c->qcap / 2) {
        compact_qbuf(c);
    }
}

/* Returns 0, or -1 if the client was freed. */
static int
client_read_parse(client_t *c)
{
    server_t *s = c->srv;
    if (c->qcap - c->qlen < READ_CHUNK) {
        size_t cap = c->qcap ? c->qcap : READ_CHUNK;
        while (cap - c->qlen < READ_CHUNK)
            cap *= 2;
        c->qbuf = krealloc(c->qbuf, cap);
        c->qcap = cap;
    }
    ssize_t n = read(c->fd, c->qbuf + c->qlen, c->qcap - c->qlen);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n <= 0) {
        client_free(c);
        return -1;
    }
    c->qlen += (size_t)n;
    c->net_in += (uint64_t)n;
    s->stats.net_in += (uint64_t)n;
    c->last_ms = util_time_ms();
    if (c->qlen > c->qbuf_peak)
        c->qbuf_peak = c->qlen;
    if ((long long)c->qlen > s->cfg.client_query_buffer_limit) {
        klog(KLOG_WARNING, "Closing client id=%llu: query buffer of %zu bytes over the limit",
                   (unsigned long long)c->id, c->qlen);
        client_free(c);
        return -1;
    }
    process_input(c);
    return 0;
}

static void
client_event_cb(ev_loop_t *l, int fd, void *data, int mask)
{
    (void)l;
    (void)fd;
    client_t *c = data;
    if ((mask & EV_READ) && client_read_parse(c) < 0)
        return;
    if ((mask & EV_WRITE) && !(c->flags & CLIENT_PENDING_WRITE))
        client_write(c);
}

/* Resume reading for clients that stopped on too many parked replies or were unblocked. */
void
net_resume_client(client_t *c)
{
    if (c->qlen > c->parser.pos || c->parser.start < c->qlen)
        process_input(c);
}

static void
accept_cb(ev_loop_t *l, int fd, void *data, int mask)
{
    (void)mask;
    server_t *s = data;
    for (int i = 0; i < 100; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int cfd = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0)
            return;
        s->stats.connections++;
        if ((long long)s->nclients >= s->cfg.maxclients || cfd >= ev_setsize(l)) {
            static const char msg[] = "-ERR max number of clients reached\r\n";
            ssize_t w = write(cfd, msg, sizeof msg - 1);
            (void)w;
            close(cfd);
            s->stats.rejected_conn++;
            continue;
        }
        int one = 1;
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (s->cfg.tcp_keepalive_s > 0)
            setsockopt(cfd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
        client_t *c = client_create(s, cfd);
        fmt_addr(&ss, c->addr, sizeof c->addr);
        sl = sizeof ss;
        if (getsockname(cfd, (struct sockaddr *)&ss, &sl) == 0)
            fmt_addr(&ss, c->laddr, sizeof c->laddr);
        if (ev_add(l, cfd, EV_READ, client_event_cb, c) < 0)
            client_free(c);
    }
}

int
net_listen(server_t *s)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof ss);
    const char *bind_addr = s->cfg.bind && s->cfg.bind[0] ? s->cfg.bind : "127.0.0.1";
    char first[64];
    snprintf(first, sizeof first, "%s", bind_addr);
    first[strcspn(first, " ")] = 0; /* "bind a b": the first address (one listener for now) */
    int family = strchr(first, ':') ? AF_INET6 : AF_INET;
    if (family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)s->cfg.port);
        if (inet_pton(AF_INET, first, &a->sin_addr) != 1)
            return -EINVAL;
        sl = sizeof *a;
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)s->cfg.port);
        if (inet_pton(AF_INET6, first, &a->sin6_addr) != 1)
            return -EINVAL;
        sl = sizeof *a;
    }
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 511) < 0 || set_nonblock(fd) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    s->port_bound = family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
                                      : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    s->listen_fd = fd;
    return ev_add(s->loop, fd, EV_READ, accept_cb, s);
}

bool
net_raw_command(const client_t *c, const char **resp, size_t *len)
{
    size_t start = c->parser.start, end = c->parser.pos;
    if (!c->qbuf || end <= start || end > c->qlen || c->qbuf[start] != '*' || c->argc < 1)
        return false;
    const char *lo = c->qbuf + start, *hi = c->qbuf + end;
    for (int i = 0; i < c->argc; i++) /* every argument still points into those bytes */
        if (c->argv[i].p < lo || c->argv[i].p + c->argv[i].n > hi)
            return false;
    *resp = lo;
    *len = end - start;
    return true;
}

void
net_release_parked(server_t *s)
{
    client_t *c = s->parked;
    while (c) {
        client_t *next = c->park_next;
        while (c->marks_len && c->marks[c->marks_head].lsn <= s->durable_lsn) {
            c->marks_head = (c->marks_head + 1) % c->marks_cap;
            c->marks_len--;
        }
        if (c->marks_len == 0) {
            unpark(c);
            server_client_has_output(c);
            net_resume_client(c); /* it may have stopped reading at CLIENT_MARKS_MAX */
        } else {
            server_client_has_output(c);
        }
        c = next;
    }
}

void
net_fail_parked(server_t *s, const char *why)
{
    for (client_t *c = s->parked; c;) {
        client_t *next = c->park_next;
        if (c->marks_len) {
            /* Replace every parked reply by the error: the write they acknowledged is not durable. */
            uint32_t count = 0;
            for (uint32_t i = 0; i < c->marks_len; i++)
                count += c->marks[(c->marks_head + i) % c->marks_cap].count;
            c->olen = (size_t)(c->marks[c->marks_head].start - c->obase);
            c->marks_len = 0;
            for (uint32_t i = 0; i < count; i++)
                reply_err(c, why);
        }
        unpark(c);
        server_client_has_output(c);
        c = next;
    }
}

void
net_before_sleep(server_t *s)
{
    while (s->pending_write) {
        client_t *c = s->pending_write;
        s->pending_write = c->pw_next;
        c->flags &= ~CLIENT_PENDING_WRITE;
        c->pw_next = NULL;
        if (c->flags & CLIENT_CLOSE_ASAP) {
            client_free(c);
            continue;
        }
        client_write(c);
    }
}

static bool
obuf_over_limit(server_t *s, client_t *c, int64_t now_ms)
{
    bool pubsub = c->pubsub != NULL;
    long long hard = pubsub ? s->cfg.obuf_pubsub_hard : s->cfg.obuf_normal_hard;
    long long soft = pubsub ? s->cfg.obuf_pubsub_soft : s->cfg.obuf_normal_soft;
    long long soft_s = pubsub ? s->cfg.obuf_pubsub_soft_s : s->cfg.obuf_normal_soft_s;
    long long used = (long long)(c->olen - c->osent);
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
net_check_output_limit(client_t *c)
{
    if (obuf_over_limit(c->srv, c, util_time_ms())) {
        klog(KLOG_WARNING, "Client id=%llu scheduled to be closed: output buffer limit",
                   (unsigned long long)c->id);
        client_close_async(c);
    }
}

void
net_clients_cron(server_t *s)
{
    int64_t now = util_time_ms();
    for (client_t *c = s->clients; c;) {
        client_t *next = c->next;
        if (s->cfg.timeout_s > 0 && !(c->flags & (CLIENT_BLOCKED | CLIENT_PUBSUB)) &&
            !c->pubsub && now - c->last_ms > s->cfg.timeout_s * 1000) {
            client_free(c);
        } else if (obuf_over_limit(s, c, now)) {
            client_close_async(c);
        }
        c = next;
    }
}

int
net_client_info(client_t *c, char *buf, size_t len)
{
    int64_t now = util_time_ms();
    char flags[16];
    int f = 0;
    if (c->flags & CLIENT_MULTI)
        flags[f++] = 'x';
    if (c->flags & CLIENT_BLOCKED)
        flags[f++] = 'b';
    if (c->pubsub)
        flags[f++] = 'P';
    if (c->flags & CLIENT_NO_EVICT)
        flags[f++] = 'e';
    if (c->flags & CLIENT_NO_TOUCH)
        flags[f++] = 'T';
    if (c->flags & CLIENT_CLOSE_ASAP)
        flags[f++] = 'A';
    if (f == 0)
        flags[f++] = 'N';
    flags[f] = 0;
    return snprintf(buf, len,
                    "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld flags=%s db=%d "
                    "sub=%zu psub=%zu ssub=%zu multi=%d qbuf=%zu qbuf-free=%zu argv-mem=0 "
                    "multi-mem=0 rbs=%zu rbp=%zu obl=%zu oll=0 omem=%zu tot-mem=%zu events=r "
                    "cmd=%s user=default redir=-1 resp=%d lib-name= lib-ver=",
                    (unsigned long long)c->id, c->addr, c->laddr, c->fd, c->name ? c->name : "",
                    (long long)((now - c->ctime_ms) / 1000), (long long)((now - c->last_ms) / 1000),
                    flags, c->db_id, pubsub_client_count(c, PUBSUB_CHANNEL),
                    pubsub_client_count(c, PUBSUB_PATTERN), pubsub_client_count(c, PUBSUB_SHARD),
                    (c->flags & CLIENT_MULTI) ? c->mcount : -1, c->qlen,
                    c->qcap - c->qlen, c->qcap, c->qbuf_peak, c->olen - c->osent, c->ocap,
                    c->qcap + c->ocap + sizeof *c, c->last_cmd ? c->last_cmd : "NULL", c->resp);
}
