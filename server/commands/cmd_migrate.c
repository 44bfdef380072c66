/*
 * cmd_migrate.c - MIGRATE: moves keys to another server as DUMP payloads, over a connection of
 * its own, by sending it RESTORE (docs/dump.md).
 *
 *   MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH password]
 *           [AUTH2 username password] [KEYS key [key ...]]
 *
 * As Valkey does (cluster.c there), the call blocks the server while it runs: connect (within
 * `timeout` ms), send [AUTH], SELECT destination-db and one `RESTORE key ttl payload [REPLACE]`
 * per key that exists here (ttl: the time the key has left, at least 1 ms), then read the
 * replies. A key the target accepted is deleted here unless COPY was given; the first error
 * the target replied is returned ("ERR Target instance replied with error: ..."), and keys the
 * target refused stay. No key here: +NOKEY. Socket failures: "IOERR error or timeout connecting
 * to the client", "... writing to target instance", "... reading to target instance".
 *
 * Differences from Valkey: a new connection per call (Valkey caches one per target for 10 s),
 * plain TCP only (no TLS to the target), no RESTORE-ASKING (Keel has no cluster mode).
 *
 * Effects: the keys deleted here are logged as one DEL; with COPY nothing changes here and
 * nothing is logged.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cmd.h"
#include "cmd_util.h"
#include "engine.h"
#include "exec.h"
#include "kmem.h"
#include "prop.h"
#include "rdb_value.h"
#include "reply.h"
#include "util.h"

/* Longest reply line read from the target: its error texts are short. */
#define MIGRATE_LINE_MAX 1024

typedef struct migrate_opts {
    bool copy, replace;
    const karg_t *user, *pass; /* AUTH / AUTH2 */
    int first_key, num_keys;
    long long db, timeout_ms;
} migrate_opts_t;

static bool
parse_migrate(client_t *c, migrate_opts_t *o) {
    *o = (migrate_opts_t){.first_key = 3, .num_keys = 1};
    for (int j = 6; j < c->argc; j++) {
        const karg_t *a = &c->argv[j];
        int more = c->argc - 1 - j;
        if (cmd_arg_is(a, "copy")) {
            o->copy = true;
        } else if (cmd_arg_is(a, "replace")) {
            o->replace = true;
        } else if (cmd_arg_is(a, "auth") && more >= 1) {
            o->pass = &c->argv[++j];
        } else if (cmd_arg_is(a, "auth2") && more >= 2) {
            o->user = &c->argv[++j];
            o->pass = &c->argv[++j];
        } else if (cmd_arg_is(a, "keys")) {
            if (c->argv[3].n != 0) {
                reply_err(c, "ERR When using MIGRATE KEYS option, the key argument must be set "
                             "to the empty string");
                return false;
            }
            o->first_key = j + 1;
            o->num_keys = c->argc - j - 1;
            break;
        } else {
            reply_err(c, ERR_SYNTAX);
            return false;
        }
    }
    if (!util_parse_ll(c->argv[5].p, c->argv[5].n, &o->timeout_ms) ||
        !util_parse_ll(c->argv[4].p, c->argv[4].n, &o->db)) {
        reply_err(c, ERR_NOT_INT);
        return false;
    }
    if (o->timeout_ms <= 0)
        o->timeout_ms = 1000;
    return true;
}

/* A blocking TCP connection to host:port within timeout_ms, with that timeout on every send and
 * receive afterwards; -1 on failure. */
static int
connect_target(const karg_t *host, const karg_t *port, long long timeout_ms) {
    char h[256], p[16];
    if (host->n >= sizeof h || port->n >= sizeof p)
        return -1;
    memcpy(h, host->p, host->n), h[host->n] = 0;
    memcpy(p, port->p, port->n), p[port->n] = 0;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res, *ai;
    if (getaddrinfo(h, p, &hints, &res) != 0)
        return -1;
    int fd = -1;
    for (ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
        if (rc < 0 && errno == EINPROGRESS) {
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            int err = 0;
            socklen_t len = sizeof err;
            rc = poll(&pfd, 1, (int)(timeout_ms > 1 << 30 ? 1 << 30 : timeout_ms)) == 1 &&
                         getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0
                     ? 0
                     : -1;
        }
        if (rc < 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        return -1;
    int one = 1;
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static void
put_cmd(sbuf_t *b, int argc, const karg_t *argv) {
    sbuf_printf(b, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) {
        sbuf_printf(b, "$%zu\r\n", argv[i].n);
        sbuf_append(b, argv[i].p, argv[i].n);
        sbuf_append(b, "\r\n", 2);
    }
}

static bool
send_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Reads one reply line (without CRLF) into line; the replies expected are simple strings and
 * errors. buf/len keep what was read past the line. */
typedef struct line_reader {
    int fd;
    char buf[MIGRATE_LINE_MAX];
    size_t len;
} line_reader_t;

static bool
read_line(line_reader_t *r, char *line, size_t cap) {
    for (;;) {
        char *eol = r->len ? memchr(r->buf, '\n', r->len) : NULL;
        if (eol) {
            size_t n = (size_t)(eol - r->buf) + 1, keep = n >= 2 && eol[-1] == '\r' ? n - 2 : n - 1;
            if (keep >= cap)
                keep = cap - 1;
            memcpy(line, r->buf, keep);
            line[keep] = 0;
            memmove(r->buf, r->buf + n, r->len - n);
            r->len -= n;
            return true;
        }
        if (r->len == sizeof r->buf) /* a line this long is no reply we expect */
            return false;
        ssize_t k = recv(r->fd, r->buf + r->len, sizeof r->buf - r->len, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return false;
        r->len += (size_t)k;
    }
}

/* The keys of the call that exist here, with their payloads and TTLs, as RESTORE commands
 * appended to out; keys[i] gets the argument index of each key sent. Returns how many. */
static int
append_restores(client_t *c, const migrate_opts_t *o, sbuf_t *out, int *keys) {
    int n = 0;
    int64_t now = db_now_ms(&c->eng->dbenv);
    for (int i = 0; i < o->num_keys; i++) {
        const karg_t *key = &c->argv[o->first_key + i];
        kobj_t *obj = cmd_lookup_read(c, key);
        if (!obj)
            continue;
        long long ttl = 0;
        if (obj_expire(obj) >= 0) {
            ttl = obj_expire(obj) - now;
            if (ttl < 1)
                ttl = 1;
        }
        sbuf_t payload = {0};
        if (rdb_value_dump(obj, &payload) < 0) {
            sbuf_free(&payload);
            continue;
        }
        char num[UTIL_LL_STR_MAX];
        karg_t argv[5] = {{"RESTORE", 7}, *key, {num, 0}, {payload.p, payload.len}, {"REPLACE", 7}};
        argv[2].n = (size_t)util_ll2str(num, sizeof num, ttl);
        put_cmd(out, o->replace ? 5 : 4, argv);
        sbuf_free(&payload);
        keys[n++] = o->first_key + i;
    }
    return n;
}

/* Reads the replies to AUTH, SELECT and the RESTOREs; deletes the keys the target took (unless
 * COPY) and replies. */
static void
finish(client_t *c, const migrate_opts_t *o, line_reader_t *lr, const int *keys, int n) {
    char line[MIGRATE_LINE_MAX];
    for (int step = 0; step < (o->pass ? 1 : 0) + 1; step++) { /* AUTH, SELECT */
        if (!read_line(lr, line, sizeof line)) {
            reply_err(c, "IOERR error or timeout reading to target instance");
            return;
        }
        if (line[0] == '-') {
            reply_errf(c, "ERR Target instance replied with error: %s", line + 1);
            return;
        }
    }
    karg_t *del = kmalloc(((size_t)n + 1) * sizeof *del);
    int ndel = 0;
    bool failed = false, io = false;
    for (int i = 0; i < n; i++) {
        if (!read_line(lr, line, sizeof line)) {
            io = true;
            break;
        }
        if (line[0] == '-') {
            if (!failed)
                reply_errf(c, "ERR Target instance replied with error: %s", line + 1);
            failed = true;
        } else if (!o->copy) {
            const karg_t *k = &c->argv[keys[i]];
            if (db_delete(c->db, k->p, k->n)) {
                del[1 + ndel++] = *k;
                srv_key_modified(c->eng, c->db, k->p, k->n);
                srv_notify(c->eng, NOTIFY_GENERIC, "del", k->p, k->n, c->db_id);
            }
        }
    }
    if (ndel > 0) {
        del[0] = (karg_t){"DEL", 3};
        prop_add(&c->eng->prop, c->db_id, ndel + 1, del);
        srv_dirty(c->eng, (uint64_t)ndel);
    }
    kfree(del);
    if (io && !failed)
        reply_err(c, "IOERR error or timeout reading to target instance");
    else if (!failed)
        reply_ok(c);
}

static void
cmd_migrate(client_t *c) {
    migrate_opts_t o;
    if (!parse_migrate(c, &o))
        return;
    int *keys = kmalloc(((size_t)o.num_keys + 1) * sizeof *keys);
    sbuf_t out = {0};
    if (o.pass) {
        karg_t auth[3] = {{"AUTH", 4}};
        int argc = 1;
        if (o.user)
            auth[argc++] = *o.user;
        auth[argc++] = *o.pass;
        put_cmd(&out, argc, auth);
    }
    char num[UTIL_LL_STR_MAX];
    karg_t sel[2] = {{"SELECT", 6}, {num, (size_t)util_ll2str(num, sizeof num, o.db)}};
    put_cmd(&out, 2, sel);
    int n = append_restores(c, &o, &out, keys);
    if (n == 0) {
        reply_simple(c, "NOKEY");
        goto done;
    }
    line_reader_t *lr = kmalloc(sizeof *lr);
    lr->len = 0;
    lr->fd = connect_target(&c->argv[1], &c->argv[2], o.timeout_ms);
    if (lr->fd < 0)
        reply_err(c, "IOERR error or timeout connecting to the client");
    else if (!send_all(lr->fd, out.p, out.len))
        reply_err(c, "IOERR error or timeout writing to target instance");
    else
        finish(c, &o, lr, keys, n);
    if (lr->fd >= 0)
        close(lr->fd);
    kfree(lr);
done:
    sbuf_free(&out);
    kfree(keys);
}

/* COMMAND GETKEYS and the engine's key handling: argv[3], or the keys after KEYS (AUTH and
 * AUTH2 arguments skipped, so a password named "keys" is no keyword). */
static int
migrate_getkeys(int argc, karg_t *argv, int *idx, int max) {
    int first = 3, num = 1;
    for (int j = 6; j < argc; j++) {
        if (cmd_arg_is(&argv[j], "auth")) {
            j++;
        } else if (cmd_arg_is(&argv[j], "auth2")) {
            j += 2;
        } else if (cmd_arg_is(&argv[j], "keys")) {
            if (argv[3].n != 0)
                return -1;
            first = j + 1;
            num = argc - first;
            break;
        }
    }
    int n = 0;
    for (int i = 0; i < num && n < max; i++)
        idx[n++] = first + i;
    return n;
}

/* clang-format off */
cmd_def_t cmd_table_migrate[] = {
    {"migrate", cmd_migrate, -6, CMD_WRITE, 3, 3, 1, "generic", "Atomically transfers a key from one instance to another.", "2.6.0", "This command actually executes a DUMP+DEL in the source instance, and a RESTORE in the target instance. See the pages of these commands for time complexity. Also an O(N) data transfer between the two instances is performed.", "keyspace write slow dangerous", migrate_getkeys},
    {NULL},
};
/* clang-format on */
