/*
 * monitor.c - MONITOR (see monitor.h): the engine keeps an array of monitor clients; a command
 * run by any other client is formatted once and appended to each monitor's output.
 */
#include "monitor.h"

#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "engine.h"
#include "kmem.h"
#include "reply.h"
#include "sbuf.h"
#include "util.h"

struct monitors {
    client_t **list;
    size_t n, cap;
};

static struct monitors *
monitors(engine_t *s) {
    if (!s->monitors)
        s->monitors = kcalloc(1, sizeof *s->monitors);
    return s->monitors;
}

void
monitor_add(client_t *c) {
    if (monitor_is(c))
        return;
    struct monitors *m = monitors(c->eng);
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 4;
        m->list = krealloc(m->list, sizeof *m->list * m->cap);
    }
    m->list[m->n++] = c;
    c->flags |= CLIENT_MONITOR;
}

void
monitor_remove(client_t *c) {
    if (!monitor_is(c))
        return;
    struct monitors *m = c->eng->monitors;
    for (size_t i = 0; i < m->n; i++)
        if (m->list[i] == c) {
            m->list[i] = m->list[--m->n];
            break;
        }
    c->flags &= ~(uint32_t)CLIENT_MONITOR;
}

bool
monitor_is(const client_t *c) {
    return (c->flags & CLIENT_MONITOR) != 0;
}

/* One argument quoted as Valkey's sdscatrepr quotes it, into out (at least 4 * n + 3 bytes);
 * returns the length written. */
static size_t
repr(char *out, const char *p, size_t n) {
    size_t o = 0;
    out[o++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        const char *esc = NULL;
        switch (ch) {
        case '\\': esc = "\\\\"; break;
        case '"': esc = "\\\""; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\a': esc = "\\a"; break;
        case '\b': esc = "\\b"; break;
        default: break;
        }
        if (esc) {
            out[o++] = esc[0];
            out[o++] = esc[1];
        } else if (ch >= 32 && ch < 127) {
            out[o++] = (char)ch;
        } else {
            o += (size_t)snprintf(out + o, 5, "\\x%02x", ch);
        }
    }
    out[o++] = '"';
    return o;
}

/* Whether argument i of the call is a secret shown as "(redacted)". */
static bool
redacted(const cmd_def_t *cmd, int argc, const karg_t *argv, int i) {
    if (!strcmp(cmd->name, "auth"))
        return i >= 1;
    if (!strcmp(cmd->name, "hello"))
        for (int k = 2; k + 2 < argc; k++)
            if (cmd_arg_is(&argv[k], "auth") && (i == k + 1 || i == k + 2))
                return true;
    return false;
}

void
monitor_feed(engine_t *s, client_t *c, const cmd_def_t *cmd, int argc, const karg_t *argv) {
    struct monitors *m = s->monitors;
    if (!m || m->n == 0 || (cmd->flags & (CMD_ADMIN | CMD_SKIP_MONITOR)))
        return;
    int64_t us = util_time_us();
    sbuf_t b = {0};
    sbuf_printf(&b, "+%lld.%06lld [%d %s]", (long long)(us / 1000000), (long long)(us % 1000000),
                c->db_id, c->conn.fd >= 0 ? c->conn.addr : "lua");
    char small[512];
    for (int i = 0; i < argc; i++) {
        sbuf_append(&b, " ", 1);
        if (redacted(cmd, argc, argv, i)) {
            sbuf_append(&b, "\"(redacted)\"", 12);
            continue;
        }
        size_t need = argv[i].n * 4 + 3;
        char *q = need <= sizeof small ? small : kmalloc(need);
        size_t len = repr(q, argv[i].p, argv[i].n);
        sbuf_append(&b, q, len);
        if (q != small)
            kfree(q);
    }
    sbuf_append(&b, "\r\n", 2);
    for (size_t i = 0; i < m->n; i++) {
        client_t *mon = m->list[i];
        if (mon == c)
            continue;
        reply_raw_bytes(mon, b.p, b.len);
        client_check_output_limit(mon);
    }
    sbuf_free(&b);
}
