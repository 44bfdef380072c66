/*
 * net.c - the listener and the connections: reading, parsing, writing bytes (see conn.h).
 *
 * read event -> conn_read(): read into qbuf, then process_input(): parse complete commands and
 *   hand each to the owner's command_cb, until input is paused or the conn is closing
 * owner appends output -> conn_schedule_write(): the conn joins the pending-write list
 * net_flush() (before sleeping) -> conn_write() for every pending conn: obuf up to its hold;
 *   bytes left over wait for a write event
 *
 * TLS connections (conn->tls) take the same paths; only the read()/write() calls become
 * tls_conn_read()/tls_conn_write(), and their events go through tls_event():
 *   accepted on the TLS listener -> accept_cb, session in TLS_ST_HANDSHAKE, on the handshake list
 *   conn_connect(tls) -> TLS_ST_CONNECTING; writable: tls_connect_done() starts the handshake
 *   any event while shaking hands -> handshake_step(): done -> connected_cb (outgoing), then
 *     conn_read() for what arrived with the handshake; failed or net_cron() past the deadline ->
 *     handshake_failed(): connected_cb(c, -err) or the conn is closed
 *   ready -> conn_read() when readable (or writable while a read waits for that), conn_write()
 *     when writable (or readable while a write waits for that); tls_update_events() keeps the
 *     write interest to what the session needs
 * conn_read() drains what OpenSSL has buffered (read-ahead) before it parses: epoll would not
 * report those bytes again.
 */
#include "conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "iot.h"
#include "kassert.h"
#include "klog.h"
#include "kmem.h"
#include "tls.h"
#include "util.h"

#define READ_CHUNK (16 * 1024)
#define WRITE_MAX  (1024 * 1024) /* per write event, so one conn cannot starve others */
#define INLINE_MAX (64 * 1024)
#define ACCEPT_MAX 100 /* connections accepted per readable event of the listener */
/* Out of file descriptors (EMFILE/ENFILE): the listener stays readable, so accepting is paused
 * this long instead of spinning, and the refusal is logged at most once per FD_LOG_MS. */
#define ACCEPT_PAUSE_MS 100
#define FD_LOG_MS       10000

struct net {
    ev_loop_t *loop;
    net_callbacks_t cb;
    net_limits_t lim;
    /* The listening sockets, one per bound address (net_listen), plain and TLS. */
    int listen_fds[NET_LISTEN_MAX * 2];
    bool listen_tls[NET_LISTEN_MAX * 2];
    int nlisten;
    int spare_fd;             /* held open to answer one client when out of descriptors */
    int64_t accept_resume_ms; /* > 0: accepting paused until then (out of descriptors) */
    int64_t fd_logged_ms;
    size_t nconns;         /* conns with a socket */
    conn_t *pending_write; /* conns with output to write before sleeping */
    net_stats_t stats;
    tls_ctx_t *tls; /* the TLS context of new connections (net_tls_set); NULL: none */
    /* TLS connections shaking hands, oldest first (deadlines in that order): net_cron. */
    conn_t *hs_head, *hs_tail;
    /* io-threads: the pool, the conns reported readable this turn (net_run_reads), the write
     * batch of a running net_flush; a released conn's slot becomes NULL. */
    iot_t *iot;
    conn_t **rq, **wq;
    int nrq, rq_cap, nwq, wq_cap;
    int rq_next;   /* the next conn of rq whose commands run */
    bool in_reads; /* net_run_reads is running commands: reads go the direct way meanwhile */
};

/* conn->io_err after a threaded read or write: what the main thread must do. */
enum { IO_OK = 0, IO_CLOSE = 1, IO_OVER_LIMIT = 2 };

#define PARSE_AHEAD_MAX 64 /* commands an I/O thread parses ahead per read */

static void conn_event_cb(ev_loop_t *l, int fd, void *data, int mask);
static void accept_cb(ev_loop_t *l, int fd, void *data, int mask);
static void listeners_watch(net_t *n, bool on);

static int
set_nonblock(int fd) {
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -errno : (fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ? -errno : 0);
}

static void
fmt_addr(const struct sockaddr_storage *ss, char *buf, size_t len) {
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

bool
conn_is_local(const conn_t *c) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (c->fd < 0 || getpeername(c->fd, (struct sockaddr *)&ss, &sl) < 0)
        return false;
    if (ss.ss_family == AF_UNIX)
        return true;
    if (ss.ss_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)&ss)->sin_addr.s_addr) >> 24) == 127;
    if (ss.ss_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)&ss)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return false;
}

net_t *
net_create(ev_loop_t *loop, const net_callbacks_t *cb, const net_limits_t *lim) {
    net_t *n = kcalloc(1, sizeof *n);
    n->loop = loop;
    n->cb = *cb;
    n->lim = *lim;
    n->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    return n;
}

void
net_free(net_t *n) {
    if (!n)
        return;
    for (int i = 0; i < n->nlisten; i++) {
        ev_del(n->loop, n->listen_fds[i], EV_READ);
        close(n->listen_fds[i]);
    }
    if (n->spare_fd >= 0)
        close(n->spare_fd);
    tls_ctx_free(n->tls);
    iot_free(n->iot);
    kfree(n->rq);
    kfree(n->wq);
    kfree(n);
}

void
net_close_in_child(net_t *n) {
    for (int i = 0; n && i < n->nlisten; i++)
        close(n->listen_fds[i]);
}

void
net_tls_set(net_t *n, tls_ctx_t *ctx) {
    tls_ctx_free(n->tls);
    n->tls = ctx;
}

/* The handshake list: appended at the deadline's start, so it stays in deadline order. */
static void
hs_append(net_t *n, conn_t *c) {
    tls_conn_t *t = c->tls;
    t->deadline_ms = (int64_t)(util_mono_us() / 1000) + TLS_HANDSHAKE_TIMEOUT_MS;
    t->hs_prev = n->hs_tail;
    t->hs_next = NULL;
    if (n->hs_tail)
        n->hs_tail->tls->hs_next = c;
    else
        n->hs_head = c;
    n->hs_tail = c;
}

static void
hs_unlink(net_t *n, conn_t *c) {
    tls_conn_t *t = c->tls;
    if (!t->deadline_ms)
        return; /* not on the list */
    if (t->hs_prev)
        t->hs_prev->tls->hs_next = t->hs_next;
    else
        n->hs_head = t->hs_next;
    if (t->hs_next)
        t->hs_next->tls->hs_prev = t->hs_prev;
    else
        n->hs_tail = t->hs_prev;
    t->hs_prev = t->hs_next = NULL;
    t->deadline_ms = 0;
}

const net_stats_t *
net_stats(const net_t *n) {
    return &n->stats;
}

void
net_reset_stats(net_t *n) {
    memset(&n->stats, 0, sizeof n->stats);
}

void
conn_init(conn_t *c, net_t *n, int fd) {
    memset(c, 0, sizeof *c);
    c->fd = fd;
    c->net = fd >= 0 ? n : NULL; /* a socket without a net (tests) is read and written by hand */
    c->hold = CONN_HOLD_NONE;
    c->last_ms = util_time_ms();
    resp_parser_init(&c->parser);
    if (fd < 0)
        return;
    if (n)
        n->nconns++;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
        fmt_addr(&ss, c->addr, sizeof c->addr);
    sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        fmt_addr(&ss, c->laddr, sizeof c->laddr);
}

void
conn_release(conn_t *c) {
    net_t *n = c->net;
    if (c->tls) { /* close_notify goes out before the socket closes */
        if (n)
            hs_unlink(n, c);
        tls_conn_free(c->tls);
        c->tls = NULL;
    }
    if (n) {
        ev_del(n->loop, c->fd, EV_READ | EV_WRITE);
        n->nconns--;
        for (int i = 0; (c->flags & CONN_IO_READ_QUEUED) && i < n->nrq; i++)
            if (n->rq[i] == c)
                n->rq[i] = NULL;
        for (int i = 0; (c->flags & CONN_IO_WRITE_QUEUED) && i < n->nwq; i++)
            if (n->wq[i] == c)
                n->wq[i] = NULL;
        c->flags &= ~(uint32_t)(CONN_IO_READ_QUEUED | CONN_IO_WRITE_QUEUED);
        if (c->flags & CONN_PENDING_WRITE) {
            conn_t **pp = &n->pending_write;
            while (*pp && *pp != c)
                pp = &(*pp)->pw_next;
            if (*pp)
                *pp = c->pw_next;
        }
        c->net = NULL;
    }
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    resp_parser_free(&c->parser);
    kfree(c->qbuf);
    kfree(c->obuf);
    c->qbuf = c->obuf = NULL;
    if (c->batch) {
        kfree(c->batch->cmd);
        kfree(c->batch->args);
        kfree(c->batch);
        c->batch = NULL;
    }
}

/* The owner forgets its client and releases the conn (also frees the client). */
static void
conn_close(conn_t *c) {
    (c->cb ? c->cb : &c->net->cb)->close_cb(c);
}

void
conn_schedule_write(conn_t *c) {
    if ((c->flags & CONN_PENDING_WRITE) || !c->net)
        return;
    c->flags |= CONN_PENDING_WRITE;
    c->pw_next = c->net->pending_write;
    c->net->pending_write = c;
}

void
conn_close_async(conn_t *c) {
    c->flags |= CONN_CLOSE_ASAP;
    conn_schedule_write(c);
}

char *
conn_out_grow(conn_t *c, size_t n) {
    /* Reclaim what was sent before growing. */
    if (c->osent > 0 && c->osent >= c->olen / 2) {
        memmove(c->obuf, c->obuf + c->osent, c->olen - c->osent);
        c->obase += c->osent;
        c->olen -= c->osent;
        c->osent = 0;
    }
    if (c->olen + n > c->ocap) {
        size_t cap = c->ocap ? c->ocap : 1024;
        while (cap < c->olen + n)
            cap *= 2;
        c->obuf = krealloc(c->obuf, cap);
        c->ocap = cap;
    }
    return c->obuf + c->olen;
}

void
conn_out_truncate(conn_t *c, uint64_t at) {
    ASSERT(at >= c->obase + c->osent && at <= c->obase + c->olen);
    c->olen = (size_t)(at - c->obase);
}

/* How many bytes of obuf may be written now: up to the hold. */
static size_t
sendable_end(const conn_t *c) {
    if (c->hold == CONN_HOLD_NONE || c->hold >= c->obase + c->olen)
        return c->olen;
    return (size_t)(c->hold - c->obase);
}

static void tls_update_events(conn_t *c);

/* Write obuf up to the hold, at most WRITE_MAX; touches only c (an I/O thread may run it).
 * Returns the bytes written; *err: IO_CLOSE when the socket failed. */
static size_t
write_some(conn_t *c, int *err) {
    size_t end = sendable_end(c), total = 0;
    *err = IO_OK;
    while (c->osent < end && total < WRITE_MAX) {
        ssize_t w = c->tls ? tls_conn_write(c->tls, c->obuf + c->osent, end - c->osent)
                           : write(c->fd, c->obuf + c->osent, end - c->osent);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                *err = IO_CLOSE;
            break;
        }
        c->osent += (size_t)w;
        total += (size_t)w;
        c->net_out += (uint64_t)w;
    }
    return total;
}

/* The main thread's part after write_some: counters, the buffer, write interest, closing.
 * Returns 0, or -1 if the conn was closed. */
static int
write_done(conn_t *c, size_t total, int err) {
    c->net->stats.bytes_out += (uint64_t)total;
    if (total)
        c->net->stats.writes++;
    if (err) {
        conn_close(c);
        return -1;
    }
    size_t end = sendable_end(c);
    if (c->osent == c->olen) {
        c->obase += c->olen;
        c->olen = c->osent = 0;
        if (c->ocap > 64 * 1024) { /* give back a buffer a big reply grew */
            kfree(c->obuf);
            c->obuf = NULL;
            c->ocap = 0;
        }
        end = 0;
    }
    if (c->tls)
        tls_update_events(c);
    else if (c->osent < end)
        ev_add(c->net->loop, c->fd, EV_WRITE, conn_event_cb, c);
    else
        ev_del(c->net->loop, c->fd, EV_WRITE);
    if ((c->flags & CONN_CLOSE_AFTER_REPLY) && c->osent == c->olen && c->hold == CONN_HOLD_NONE) {
        conn_close(c);
        return -1;
    }
    return 0;
}

/* Returns 0, or -1 if the conn was closed. */
static int
conn_write(conn_t *c) {
    if (c->tls && c->tls->state != TLS_ST_READY)
        return 0; /* the output waits for the handshake */
    int err;
    size_t total = write_some(c, &err);
    return write_done(c, total, err);
}

/* An I/O thread's write of one conn of the batch. */
static void
io_write_job(void *item, void *ctx) {
    (void)ctx;
    conn_t *c = item;
    c->io_bytes = write_some(c, &c->io_err);
}

/* Threads take the batch's conns when they are plain TCP with bytes to send now. */
static bool
write_threadable(const conn_t *c) {
    return !c->tls && !c->cb && c->osent < sendable_end(c);
}

static void
wq_push(net_t *n, conn_t *c) {
    if (n->nwq == n->wq_cap) {
        n->wq_cap = n->wq_cap ? n->wq_cap * 2 : 64;
        n->wq = krealloc(n->wq, sizeof *n->wq * (size_t)n->wq_cap);
    }
    c->flags |= CONN_IO_WRITE_QUEUED;
    n->wq[n->nwq++] = c;
}

/* Write the batch: in parallel when it is big enough to use a thread, then finish each conn
 * here. A conn released meanwhile (another one's close) left a NULL. */
static void
flush_batch(net_t *n) {
    if (n->nwq >= IOT_ITEMS_PER_THREAD) {
        uint64_t by_workers = iot_items_by_workers(n->iot);
        iot_run(n->iot, io_write_job, NULL, (void **)n->wq, n->nwq);
        n->stats.io_writes += iot_items_by_workers(n->iot) - by_workers;
        for (int i = 0; i < n->nwq; i++) {
            conn_t *c = n->wq[i];
            if (!c)
                continue;
            c->flags &= ~(uint32_t)CONN_IO_WRITE_QUEUED;
            write_done(c, c->io_bytes, c->io_err);
        }
    } else {
        for (int i = 0; i < n->nwq; i++) {
            conn_t *c = n->wq[i];
            if (!c)
                continue;
            c->flags &= ~(uint32_t)CONN_IO_WRITE_QUEUED;
            conn_write(c);
        }
    }
    n->nwq = 0;
}

void
net_flush(net_t *n) {
    if (n->accept_resume_ms > 0) {
        int64_t left = n->accept_resume_ms - util_time_ms();
        if (left <= 0) {
            n->accept_resume_ms = 0;
            listeners_watch(n, true);
        } else {
            ev_set_max_wait_ms(n->loop, (int)left);
        }
    }
    conn_t *kept = NULL; /* protected conns stay pending, untouched, until unprotected */
again:
    while (n->pending_write) {
        conn_t *c = n->pending_write;
        n->pending_write = c->pw_next;
        if (c->flags & CONN_PROTECTED) {
            c->pw_next = kept;
            kept = c;
            continue;
        }
        c->flags &= ~CONN_PENDING_WRITE;
        c->pw_next = NULL;
        if (c->flags & CONN_CLOSE_ASAP) {
            conn_close(c);
            continue;
        }
        if (n->iot && write_threadable(c))
            wq_push(n, c);
        else
            conn_write(c);
    }
    if (n->nwq) { /* closing or writing those may have made more output pending */
        flush_batch(n);
        goto again;
    }
    n->pending_write = kept;
}

static void
protocol_error(conn_t *c, const char *msg) {
    char buf[256];
    int len = snprintf(buf, sizeof buf, "-ERR Protocol error: %s\r\n", msg);
    if (len < 0 || (size_t)len >= sizeof buf)
        len = (int)sizeof buf - 1;
    memcpy(conn_out_reserve(c, (size_t)len), buf, (size_t)len);
    conn_out_commit(c, (size_t)len);
    c->flags |= CONN_CLOSE_AFTER_REPLY;
    if (c->net)
        c->net->stats.protocol_errors++;
}

/* Drop consumed bytes at the front of qbuf. */
static void
compact_qbuf(conn_t *c) {
    size_t used = c->parser.start;
    if (used == 0)
        return;
    memmove(c->qbuf, c->qbuf + used, c->qlen - used);
    c->qlen -= used;
    resp_parser_shift(&c->parser, used);
}

/* CONN_LINES: one reply line (without its CRLF) as argv[0]; false when none is complete. A line
 * longer than the inline limit is a protocol error. */
static bool
next_line(conn_t *c, size_t max) {
    size_t from = c->parser.start;
    const char *p = c->qbuf ? memchr(c->qbuf + from, '\n', c->qlen - from) : NULL;
    if (!p) {
        if (c->qlen - from > max)
            protocol_error(c, "too big reply line");
        return false;
    }
    size_t end = (size_t)(p - c->qbuf);
    karg_t line = {c->qbuf + from, end - from};
    if (line.n && line.p[line.n - 1] == '\r')
        line.n--;
    c->parser.start = c->parser.pos = end + 1;
    (c->cb ? c->cb : &c->net->cb)->command_cb(c, 1, &line);
    return true;
}

/* After the commands of qbuf ran: reuse the buffer from its start when all was consumed, or
 * drop the consumed half. */
static void
input_tail(conn_t *c) {
    if (c->parser.start == c->qlen) { /* everything consumed: reuse from the start */
        c->qlen = 0;
        c->parser.pos = c->parser.start = 0;
    } else if (c->parser.start > c->qcap / 2) {
        compact_qbuf(c);
    }
}

/* Parse and hand over every complete command in qbuf. */
static void
process_input(conn_t *c) {
    net_t *n = c->net;
    char err[128];
    while (!(c->flags & (CONN_CLOSE_AFTER_REPLY | CONN_CLOSE_ASAP | CONN_INPUT_PAUSED))) {
        /* Per command: an AUTH in a pipeline lifts the limits for the commands after it. */
        resp_limits_t lim = {*n->lim.bulk_max, *n->lim.multibulk_max, INLINE_MAX, false};
        if (c->flags & CONN_UNAUTH)
            lim =
                (resp_limits_t){CONN_UNAUTH_BULK_MAX, CONN_UNAUTH_MULTIBULK_MAX, INLINE_MAX, true};
        if (c->flags & CONN_LINES) {
            if (!next_line(c, lim.inline_max))
                break;
            continue;
        }
        int argc;
        karg_t *argv;
        size_t hint;
        int r =
            resp_parse(&c->parser, c->qbuf, c->qlen, &lim, &argc, &argv, &hint, err, sizeof err);
        if (r < 0) {
            protocol_error(c, err);
            break;
        }
        if (r == RESP_NEED_MORE) {
            /* A bulk announced bigger than qbuf is not reserved here: conn_read grows the
             * buffer as the bytes arrive (doubling), so memory follows what was received, and
             * a "$536870000" header alone costs nothing. Its start moves to the front, so the
             * buffer needs to hold only this command. */
            if (hint > c->qcap)
                compact_qbuf(c);
            break;
        }
        (c->cb ? c->cb : &n->cb)->command_cb(c, argc, argv);
        resp_parser_next(&c->parser);
    }
    input_tail(c);
}

/* Returns 0, or -1 if the conn was closed. */
static int
conn_read(conn_t *c) {
    size_t got = 0; /* TLS: bytes already read by this call (it drains OpenSSL's buffer) */
more:
    if (c->qcap - c->qlen < READ_CHUNK) {
        size_t cap = c->qcap ? c->qcap : READ_CHUNK;
        while (cap - c->qlen < READ_CHUNK)
            cap *= 2;
        c->qbuf = krealloc(c->qbuf, cap);
        c->qcap = cap;
    }
    ssize_t r = c->tls ? tls_conn_read(c->tls, c->qbuf + c->qlen, c->qcap - c->qlen)
                       : read(c->fd, c->qbuf + c->qlen, c->qcap - c->qlen);
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
        if (got)
            process_input(c);
        return 0;
    }
    if (r <= 0) {
        conn_close(c);
        return -1;
    }
    c->qlen += (size_t)r;
    c->net->stats.reads++;
    c->net_in += (uint64_t)r;
    c->net->stats.bytes_in += (uint64_t)r;
    c->last_ms = util_time_ms();
    if (c->qlen > c->qbuf_peak)
        c->qbuf_peak = c->qlen;
    if ((long long)c->qlen > *c->net->lim.query_buffer_max) {
        klog(KLOG_WARNING, "Closing client %s: query buffer of %zu bytes over the limit", c->addr,
             c->qlen);
        conn_close(c);
        return -1;
    }
    if (c->tls && tls_conn_pending(c->tls)) {
        got += (size_t)r;
        goto more;
    }
    process_input(c);
    return 0;
}

/* ---- I/O threads: reads ---- */

/* Room for READ_CHUNK more bytes in qbuf. */
static void
qbuf_reserve(conn_t *c) {
    if (c->qcap - c->qlen >= READ_CHUNK)
        return;
    size_t cap = c->qcap ? c->qcap : READ_CHUNK;
    while (cap - c->qlen < READ_CHUNK)
        cap *= 2;
    c->qbuf = krealloc(c->qbuf, cap);
    c->qcap = cap;
}

/* Parse the complete multibulk commands of qbuf ahead into c->batch, stopping at the first
 * inline command, protocol error or incomplete command: the main thread's process_input takes
 * over from there with the parser exactly where it stopped (a failed parse is undone). */
static void
parse_ahead(conn_t *c) {
    net_t *n = c->net;
    conn_batch_t *b = c->batch;
    b->n = b->nargs = 0;
    b->more = true; /* unless it stops below for want of bytes */
    resp_limits_t lim = {*n->lim.bulk_max, *n->lim.multibulk_max, INLINE_MAX, false};
    char err[128];
    while (b->n < PARSE_AHEAD_MAX) {
        resp_parser_t *p = &c->parser;
        if (p->state == 0 && p->pos >= c->qlen) {
            b->more = false; /* nothing left */
            break;
        }
        if (p->state == 0 && c->qbuf[p->pos] != '*')
            break; /* an inline command: the main thread's */
        resp_parser_t saved = *p;
        int argc;
        karg_t *argv;
        size_t hint;
        int r = resp_parse(p, c->qbuf, c->qlen, &lim, &argc, &argv, &hint, err, sizeof err);
        if (r < 0) {
            /* Undo: the main thread parses it again and answers the error. The arrays stay
             * (a growth kept their contents); the scalars go back. */
            saved.off = p->off;
            saved.len = p->len;
            saved.args = p->args;
            saved.argv_cap = p->argv_cap;
            saved.inline_buf = p->inline_buf;
            saved.inline_cap = p->inline_cap;
            *p = saved;
            break;
        }
        if (r == RESP_NEED_MORE) {
            b->more = hint > c->qcap; /* a big bulk: process_input makes room */
            break;
        }
        if (b->n == b->cap) {
            b->cap = b->cap ? b->cap * 2 : 16;
            b->cmd = krealloc(b->cmd, sizeof *b->cmd * (size_t)b->cap);
        }
        if (b->nargs + argc > b->args_cap) {
            int cap = b->args_cap ? b->args_cap : 64;
            while (cap < b->nargs + argc)
                cap *= 2;
            b->args = krealloc(b->args, sizeof *b->args * (size_t)cap);
            b->args_cap = cap;
        }
        memcpy(b->args + b->nargs, argv, sizeof *argv * (size_t)argc);
        conn_parsed_t *e = &b->cmd[b->n++];
        e->start = p->start;
        e->end = p->pos;
        e->argc = argc;
        e->argi = b->nargs;
        e->key_idx = 0;
        e->hint = n->cb.prepare_cb
                      ? n->cb.prepare_cb(n->cb.ctx, argc, argv, &e->key_idx, &e->key_hash)
                      : NULL;
        b->nargs += argc;
        resp_parser_next(p);
    }
}

/* An I/O thread's read of one conn of the batch: one read() into qbuf, then parse_ahead. */
static void
io_read_job(void *item, void *ctx) {
    (void)ctx;
    conn_t *c = item;
    c->io_err = IO_OK;
    c->io_bytes = 0;
    qbuf_reserve(c);
    ssize_t r;
    do
        r = read(c->fd, c->qbuf + c->qlen, c->qcap - c->qlen);
    while (r < 0 && errno == EINTR);
    if (r < 0 && errno == EAGAIN)
        return;
    if (r <= 0) {
        c->io_err = IO_CLOSE;
        return;
    }
    c->qlen += (size_t)r;
    c->io_bytes = (size_t)r;
    c->net_in += (uint64_t)r;
    c->last_ms = util_time_ms();
    if (c->qlen > c->qbuf_peak)
        c->qbuf_peak = c->qlen;
    if ((long long)c->qlen > *c->net->lim.query_buffer_max) {
        c->io_err = IO_OVER_LIMIT;
        return;
    }
    parse_ahead(c);
}

/* Threads take a readable conn when it is plain TCP, served by the net's callbacks, running
 * its commands normally and authenticated (the limits of an unauthenticated conn change with
 * each command, so its commands are parsed one at a time by the main thread). */
static bool
read_threadable(const conn_t *c) {
    return !c->tls && !c->cb &&
           !(c->flags & (CONN_CLOSE_AFTER_REPLY | CONN_CLOSE_ASAP | CONN_INPUT_PAUSED | CONN_LINES |
                         CONN_UNAUTH | CONN_PROTECTED | CONN_IO_READ_QUEUED));
}

static void
rq_push(net_t *n, conn_t *c) {
    if (n->nrq == n->rq_cap) {
        n->rq_cap = n->rq_cap ? n->rq_cap * 2 : 64;
        n->rq = krealloc(n->rq, sizeof *n->rq * (size_t)n->rq_cap);
    }
    if (!c->batch)
        c->batch = kcalloc(1, sizeof *c->batch);
    c->batch->n = 0;
    c->flags |= CONN_IO_READ_QUEUED;
    n->rq[n->nrq++] = c;
}

/* The main thread after a threaded read: counters, closing, then the commands parsed ahead
 * (each with its bytes as the parser's current command, as process_input hands them), then
 * process_input for whatever the thread left (inline, an error, an incomplete command). */
static void
run_parsed(conn_t *c) {
    net_t *n = c->net;
    n->stats.reads++;
    n->stats.bytes_in += (uint64_t)c->io_bytes;
    if (c->io_err == IO_CLOSE) {
        conn_close(c);
        return;
    }
    if (c->io_err == IO_OVER_LIMIT) {
        klog(KLOG_WARNING, "Closing client %s: query buffer of %zu bytes over the limit", c->addr,
             c->qlen);
        conn_close(c);
        return;
    }
    if (!c->io_bytes)
        return;
    conn_batch_t *b = c->batch;
    if (b->n) {
        const net_callbacks_t *cb = c->cb ? c->cb : &n->cb;
        size_t start = c->parser.start, pos = c->parser.pos; /* where the thread stopped */
        for (int k = 0; k < b->n; k++) {
            conn_parsed_t *e = &b->cmd[k];
            if (c->flags & (CONN_CLOSE_AFTER_REPLY | CONN_CLOSE_ASAP | CONN_INPUT_PAUSED)) {
                /* The rest waits: the parser goes back to this command's start, forgetting
                 * what it parsed after (it is parsed again when input resumes). */
                resp_parser_next(&c->parser);
                c->parser.start = c->parser.pos = e->start;
                b->n = 0;
                process_input(c);
                return;
            }
            c->parser.start = e->start;
            c->parser.pos = e->end;
            c->cmd_hint = e->hint;
            c->key_idx = e->key_idx;
            c->key_hash = e->key_hash;
            cb->command_cb(c, e->argc, b->args + e->argi);
            c->cmd_hint = NULL;
            c->key_idx = 0;
        }
        c->parser.start = start;
        c->parser.pos = pos;
        b->n = 0;
    }
    if (b->more)
        process_input(c); /* what the thread left: inline, an error, more commands */
    else
        input_tail(c);
}

/* The keys of a conn's commands parsed ahead: their buckets into the cache (prefetch_cb). */
static void
prefetch_keys(net_t *n, conn_t *c) {
    if (!c || !n->cb.prefetch_cb || c->io_err || !c->batch)
        return;
    for (int k = 0; k < c->batch->n; k++)
        if (c->batch->cmd[k].key_idx > 0)
            n->cb.prefetch_cb(c, c->batch->cmd[k].key_hash);
}

void
net_run_reads(net_t *n) {
    bool outer = !n->in_reads;
    if (outer) {
        if (!n->nrq)
            return;
        n->in_reads = true;
        n->rq_next = 0;
        uint64_t by_workers = iot_items_by_workers(n->iot);
        iot_run(n->iot, io_read_job, NULL, (void **)n->rq, n->nrq);
        n->stats.io_reads += iot_items_by_workers(n->iot) - by_workers;
    }
    /* Commands run in the order epoll reported the conns; one of them may close another (its
     * slot is then NULL). A call from inside a command (a busy script polling the loop) goes
     * on with the conns after it, whose commands were read already: a SCRIPT KILL among them
     * runs. Meanwhile reads go the direct way (in_reads), none is queued. */
    if (outer && n->nrq)
        prefetch_keys(n, n->rq[0]);
    while (n->rq_next < n->nrq) {
        conn_t *c = n->rq[n->rq_next++];
        if (!c)
            continue;
        if (n->rq_next < n->nrq) /* the next conn's keys load while this one's commands run */
            prefetch_keys(n, n->rq[n->rq_next]);
        c->flags &= ~(uint32_t)CONN_IO_READ_QUEUED;
        run_parsed(c);
    }
    if (outer) {
        n->nrq = n->rq_next = 0;
        n->in_reads = false;
    }
}

int
net_set_io_threads(net_t *n, int threads) {
    if (threads <= 1 || n->iot)
        return 0;
    n->iot = iot_create(threads - 1);
    return n->iot ? 0 : -EAGAIN;
}

int
net_io_threads_active(const net_t *n) {
    return n->iot ? iot_active(n->iot) : 0;
}

/* An outgoing TCP connect finished (writable): 0 or the socket's error; the addresses of a
 * connected socket are filled in. */
static int
connect_result(conn_t *c) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    ev_del(c->net->loop, c->fd, EV_WRITE);
    if (err == 0) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        if (getpeername(c->fd, (struct sockaddr *)&ss, &sl) == 0)
            fmt_addr(&ss, c->addr, sizeof c->addr);
        sl = sizeof ss;
        if (getsockname(c->fd, (struct sockaddr *)&ss, &sl) == 0)
            fmt_addr(&ss, c->laddr, sizeof c->laddr);
    }
    return err;
}

/* Tell the owner of an outgoing conn how connecting ended (err: 0 or an errno), once. */
static void
connect_report(conn_t *c, int err) {
    void (*cb)(conn_t *, int) = c->connected_cb;
    c->connected_cb = NULL;
    cb(c, -err);
}

/* ---- TLS (see tls.h): the handshake and the events of a session ---- */

/* Write interest: output the session can take now (unless net_flush writes it before the loop
 * sleeps anyway: no epoll_ctl for every reply), or a read waiting for writability. */
static void
tls_update_events(conn_t *c) {
    const tls_conn_t *t = c->tls;
    bool out = !(c->flags & CONN_PENDING_WRITE) && c->osent < sendable_end(c) &&
               !(t->want & TLS_WRITE_WANTS_READ);
    if (out || (t->want & TLS_READ_WANTS_WRITE))
        ev_add(c->net->loop, c->fd, EV_WRITE, conn_event_cb, c);
    else
        ev_del(c->net->loop, c->fd, EV_WRITE);
}

/* The handshake failed or ran out of time: an outgoing link learns it through connected_cb (its
 * owner releases it), an accepted connection is closed. */
static void
handshake_failed(conn_t *c, int err) {
    tls_conn_t *t = c->tls;
    hs_unlink(c->net, c);
    t->state = TLS_ST_FAILED;
    ev_del(c->net->loop, c->fd, EV_WRITE);
    if (c->connected_cb) {
        klog(KLOG_WARNING, "TLS handshake with %s failed: %s", c->addr, t->err);
        connect_report(c, err);
        return;
    }
    klog(KLOG_VERBOSE, "TLS handshake with client %s failed: %s", c->addr, t->err);
    c->net->stats.tls_handshake_errors++;
    conn_close(c);
}

static void
handshake_step(conn_t *c) {
    int r = tls_conn_handshake(c->tls);
    if (r == TLS_WANT_WRITE) {
        ev_add(c->net->loop, c->fd, EV_WRITE, conn_event_cb, c);
        return;
    }
    if (r == TLS_WANT_READ) {
        ev_del(c->net->loop, c->fd, EV_WRITE);
        return;
    }
    if (r == TLS_ERR) {
        handshake_failed(c, EPROTO);
        return;
    }
    hs_unlink(c->net, c);
    c->last_ms = util_time_ms();
    if (c->connected_cb)
        connect_report(c, 0);
    /* A client may send its first command with the end of the handshake: OpenSSL may hold it. */
    if (conn_read(c) == 0)
        tls_update_events(c);
}

static void
tls_connect_done(conn_t *c) {
    int err = connect_result(c);
    if (err) {
        c->tls->state = TLS_ST_FAILED;
        connect_report(c, err);
        return;
    }
    c->tls->state = TLS_ST_HANDSHAKE;
    hs_append(c->net, c);
    handshake_step(c);
}

static void
tls_event(conn_t *c, int mask) {
    tls_conn_t *t = c->tls;
    if (t->state == TLS_ST_CONNECTING) {
        tls_connect_done(c);
        return;
    }
    if (t->state == TLS_ST_HANDSHAKE) {
        handshake_step(c);
        return;
    }
    if (t->state != TLS_ST_READY)
        return; /* failed: its owner closes it */
    int want = t->want;
    if ((mask & EV_READ) || ((mask & EV_WRITE) && (want & TLS_READ_WANTS_WRITE))) {
        if (conn_read(c) < 0)
            return;
    }
    if (((mask & EV_WRITE) || ((mask & EV_READ) && (want & TLS_WRITE_WANTS_READ))) &&
        !(c->flags & CONN_PENDING_WRITE)) {
        conn_write(c); /* sets the events itself */
        return;
    }
    tls_update_events(c);
}

void
net_cron(net_t *n) {
    int64_t now = (int64_t)(util_mono_us() / 1000);
    conn_t *c;
    while ((c = n->hs_head) && now >= c->tls->deadline_ms) {
        snprintf(c->tls->err, sizeof c->tls->err, "no handshake within %d ms",
                 TLS_HANDSHAKE_TIMEOUT_MS);
        handshake_failed(c, ETIMEDOUT);
    }
}

static void
connect_done(conn_t *c) {
    connect_report(c, connect_result(c));
}

static void
conn_event_cb(ev_loop_t *l, int fd, void *data, int mask) {
    (void)l;
    (void)fd;
    conn_t *c = data;
    if (c->flags & CONN_PROTECTED)
        return; /* its owner is inside its command: it is served once that ends */
    if (c->tls) {
        tls_event(c, mask);
        return;
    }
    if (c->connected_cb) {
        if (mask & (EV_WRITE | EV_READ))
            connect_done(c);
        return;
    }
    if (mask & EV_READ) {
        if (c->net->iot && !c->net->in_reads && read_threadable(c))
            rq_push(c->net, c); /* read, parsed and run by net_run_reads */
        else if (c->flags & CONN_IO_READ_QUEUED)
            ; /* already queued this turn */
        else if (conn_read(c) < 0)
            return;
    }
    if ((mask & EV_WRITE) && !(c->flags & CONN_PENDING_WRITE))
        conn_write(c);
}

void
conn_resume_input(conn_t *c) {
    if (c->net && (c->qlen > c->parser.pos || c->parser.start < c->qlen))
        process_input(c);
}

/* A numeric IPv4 or IPv6 address and a port into ss; returns the family or -EINVAL. */
static int
make_addr(const char *ip, int port, struct sockaddr_storage *ss, socklen_t *sl) {
    memset(ss, 0, sizeof *ss);
    if (!strchr(ip, ':')) {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        *sl = sizeof *a;
        return inet_pton(AF_INET, ip, &a->sin_addr) == 1 ? AF_INET : -EINVAL;
    }
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)port);
    *sl = sizeof *a;
    return inet_pton(AF_INET6, ip, &a->sin6_addr) == 1 ? AF_INET6 : -EINVAL;
}

int
conn_connect(conn_t *c, net_t *n, const char *host, int port, bool tls, const net_callbacks_t *cb,
             void (*connected_cb)(conn_t *c, int err)) {
    if (tls && !n->tls)
        return -EPROTONOSUPPORT; /* TLS is not configured */
    struct sockaddr_storage ss;
    socklen_t sl;
    const char *h = strcmp(host, "localhost") == 0 ? "127.0.0.1" : host;
    int family = make_addr(h, port, &ss, &sl);
    if (family < 0)
        return family;
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        return -e;
    }
    conn_init(c, n, fd);
    c->cb = cb;
    c->connected_cb = connected_cb;
    if (tls) {
        char err[256];
        c->tls = tls_conn_new(n->tls, fd, true, host, err, sizeof err);
        if (!c->tls) {
            klog(KLOG_WARNING, "Connecting to %s:%d: %s", host, port, err);
            c->connected_cb = NULL;
            conn_release(c);
            return -ENOMEM;
        }
    }
    int rc = ev_add(n->loop, fd, EV_READ | EV_WRITE, conn_event_cb, c);
    if (rc < 0) {
        c->connected_cb = NULL;
        conn_release(c);
        return rc;
    }
    return 0;
}

bool
conn_raw_command(const conn_t *c, int argc, const karg_t *argv, const char **resp, size_t *len) {
    size_t start = c->parser.start, end = c->parser.pos;
    if (!c->qbuf || end <= start || end > c->qlen || c->qbuf[start] != '*' || argc < 1)
        return false;
    const char *lo = c->qbuf + start, *hi = c->qbuf + end;
    for (int i = 0; i < argc; i++) /* every argument still points into those bytes */
        if (argv[i].p < lo || argv[i].p + argv[i].n > hi)
            return false;
    *resp = lo;
    *len = end - start;
    return true;
}

static const char MAX_CLIENTS_ERR[] = "-ERR max number of clients reached\r\n";

static bool
is_tls_listener(const net_t *n, int fd) {
    for (int i = 0; i < n->nlisten; i++)
        if (n->listen_fds[i] == fd)
            return n->listen_tls[i];
    return false;
}

/* Watch the listeners for new connections, or stop (out of descriptors). */
static void
listeners_watch(net_t *n, bool on) {
    for (int i = 0; i < n->nlisten; i++) {
        if (on)
            ev_add(n->loop, n->listen_fds[i], EV_READ, accept_cb, n);
        else
            ev_del(n->loop, n->listen_fds[i], EV_READ);
    }
}

/* accept() failed for want of descriptors: the spare one lets the waiting client in just long
 * enough to be told, then accepting pauses for ACCEPT_PAUSE_MS (net_flush resumes it). */
static void
out_of_descriptors(net_t *n, int lfd) {
    int e = errno;
    int64_t now = util_time_ms();
    if (now - n->fd_logged_ms >= FD_LOG_MS) {
        n->fd_logged_ms = now;
        klog(KLOG_WARNING,
             "Out of file descriptors (%s) with %zu clients: refusing new connections; lower "
             "maxclients or raise the open files limit (ulimit -n)",
             strerror(e), n->nconns);
    }
    if (n->spare_fd >= 0) {
        close(n->spare_fd);
        int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd >= 0) {
            if (!is_tls_listener(n, lfd)) { /* a TLS client could not read it before a handshake */
                ssize_t w = write(cfd, MAX_CLIENTS_ERR, sizeof MAX_CLIENTS_ERR - 1);
                (void)w;
            }
            close(cfd);
            n->stats.rejected++;
        }
        n->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    listeners_watch(n, false);
    n->accept_resume_ms = now + ACCEPT_PAUSE_MS;
}

/* A connection accepted on the TLS listener: its session, and the handshake's deadline. The
 * handshake starts when the client's hello arrives. -1 if the conn was closed. */
static int
accept_tls(net_t *n, conn_t *c) {
    ASSERT(n->tls); /* a TLS listener exists only with a context, and contexts are only replaced */
    char err[256];
    c->tls = tls_conn_new(n->tls, c->fd, false, NULL, err, sizeof err);
    if (!c->tls) {
        klog(KLOG_WARNING, "Accepting a TLS connection from %s: %s", c->addr, err);
        conn_close(c);
        return -1;
    }
    hs_append(n, c);
    return 0;
}

static void
accept_cb(ev_loop_t *l, int fd, void *data, int mask) {
    (void)mask;
    net_t *n = data;
    bool tls = is_tls_listener(n, fd);
    for (int i = 0; i < ACCEPT_MAX; i++) {
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno == EMFILE || errno == ENFILE)
                out_of_descriptors(n, fd);
            return;
        }
        n->stats.accepted++;
        if ((long long)n->nconns >= *n->lim.maxclients || cfd >= ev_setsize(l)) {
            if (!tls) { /* a TLS client could not read it before a handshake */
                ssize_t w = write(cfd, MAX_CLIENTS_ERR, sizeof MAX_CLIENTS_ERR - 1);
                (void)w;
            }
            close(cfd);
            n->stats.rejected++;
            continue;
        }
        int one = 1;
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (*n->lim.tcp_keepalive_s > 0)
            setsockopt(cfd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
        conn_t *c = n->cb.accept_cb(n->cb.ctx, cfd);
        if (!c) {
            close(cfd);
            continue;
        }
        if (tls && accept_tls(n, c) < 0)
            continue;
        if (ev_add(l, cfd, EV_READ, conn_event_cb, c) < 0)
            conn_close(c);
    }
}

/* A host name's first address (as Valkey's listener takes it), into ss; the family, or
 * -EADDRNOTAVAIL when the name does not resolve (*why says why). */
static int
resolve_addr(const char *host, int port, struct sockaddr_storage *ss, socklen_t *sl,
             const char **why) {
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res = NULL;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    int g = getaddrinfo(host, ps, &hints, &res);
    if (g != 0 || !res || res->ai_addrlen > sizeof *ss) {
        *why = g != 0 ? gai_strerror(g) : "no usable address";
        if (res)
            freeaddrinfo(res);
        return -EADDRNOTAVAIL;
    }
    memset(ss, 0, sizeof *ss);
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *sl = (socklen_t)res->ai_addrlen;
    int family = res->ai_family;
    freeaddrinfo(res);
    return family;
}

/* One listening socket on addr:port (addr numeric or a host name, "*" any IPv4, "::*" any
 * IPv6). 0 with *fd, or -errno (*why: a resolver's message, else NULL). */
static int
listen_one(const char *addr, int port, int *fd, int *port_bound, const char **why) {
    struct sockaddr_storage ss;
    socklen_t sl;
    const char *ip = !strcmp(addr, "*") ? "0.0.0.0" : !strcmp(addr, "::*") ? "::" : addr;
    *why = NULL;
    int family = make_addr(ip, port, &ss, &sl);
    if (family < 0)
        family = resolve_addr(ip, port, &ss, &sl, why);
    if (family < 0)
        return family;
    int s = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -errno;
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (family == AF_INET6) /* "::" beside "0.0.0.0", as Valkey */
        setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(s, (struct sockaddr *)&ss, sl) < 0 || listen(s, 511) < 0 || set_nonblock(s) < 0) {
        int e = errno;
        close(s);
        return -e;
    }
    sl = sizeof ss;
    getsockname(s, (struct sockaddr *)&ss, &sl);
    *port_bound = family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
                                    : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    *fd = s;
    return 0;
}

int
net_listen(net_t *n, const char *bind_addrs, int port, bool tls, int *port_bound) {
    const char *p = bind_addrs && bind_addrs[0] ? bind_addrs : "127.0.0.1";
    int bound = 0, rc = 0;
    *port_bound = 0;
    while (*p && rc == 0) {
        size_t len = strcspn(p, " ");
        char addr[64];
        bool optional = *p == '-'; /* Valkey: "do not fail if the address is not available" */
        snprintf(addr, sizeof addr, "%.*s", (int)(len - optional), p + optional);
        p += len + strspn(p + len, " ");
        if (!addr[0])
            continue;
        if (n->nlisten >= NET_LISTEN_MAX * 2) {
            klog(KLOG_WARNING, "Refusing to start: more than %d addresses in bind", NET_LISTEN_MAX);
            return -E2BIG;
        }
        int fd = -1, got = 0;
        const char *why;
        /* port 0: the first address picks a port, the others take the same. */
        rc = listen_one(addr, *port_bound ? *port_bound : port, &fd, &got, &why);
        if (rc < 0 && optional &&
            (rc == -EADDRNOTAVAIL || rc == -EAFNOSUPPORT || rc == -EPROTONOSUPPORT)) {
            klog(KLOG_NOTICE, "Not listening on %s: %s (optional address)", addr,
                 why ? why : strerror(-rc));
            rc = 0;
            continue;
        }
        if (rc < 0) {
            klog(KLOG_WARNING, "Refusing to start: cannot listen on %s:%d%s: %s", addr,
                 *port_bound ? *port_bound : port, tls ? " (TLS)" : "", why ? why : strerror(-rc));
            break;
        }
        n->listen_fds[n->nlisten] = fd;
        n->listen_tls[n->nlisten++] = tls;
        *port_bound = got;
        bound++;
        rc = ev_add(n->loop, fd, EV_READ, accept_cb, n);
    }
    if (rc == 0 && !bound) {
        klog(KLOG_WARNING, "Refusing to start: none of the addresses of bind '%s' is available",
             bind_addrs);
        rc = -EADDRNOTAVAIL;
    }
    return rc;
}
