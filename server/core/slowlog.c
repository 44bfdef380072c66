/*
 * slowlog.c - the slow log (see slowlog.h): a list, newest first, trimmed to slowlog-max-len at
 * every push. Main thread only.
 */
#include "slowlog.h"

#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "kmem.h"
#include "util.h"

struct slowlog {
    slowlog_entry_t *head; /* newest */
    size_t len;
    uint64_t next_id;
};

void
slowlog_init(engine_t *s) {
    s->slowlog = kcalloc(1, sizeof *s->slowlog);
}

static void
entry_free(slowlog_entry_t *e) {
    kfree(e->argv);
    kfree(e->peer);
    kfree(e->name);
    kfree(e);
}

/* The kept form of one argument: the first SLOWLOG_ARG_BYTES_MAX bytes and how many more. */
static size_t
kept_bytes(const karg_t *a, char *note, size_t notelen) {
    if (a->n <= SLOWLOG_ARG_BYTES_MAX) {
        note[0] = 0;
        return a->n;
    }
    snprintf(note, notelen, "... (%zu more bytes)", a->n - SLOWLOG_ARG_BYTES_MAX);
    return SLOWLOG_ARG_BYTES_MAX;
}

/* Copies the arguments as Valkey trims them: past SLOWLOG_ARGC_MAX the last one kept says how
 * many more there were. */
static karg_t *
copy_argv(int argc, const karg_t *argv, int *out_argc) {
    int n = argc > SLOWLOG_ARGC_MAX ? SLOWLOG_ARGC_MAX : argc;
    char more[64], note[48];
    size_t bytes = sizeof(karg_t) * (size_t)n;
    for (int i = 0; i < n; i++) {
        if (i == n - 1 && n < argc) {
            bytes += (size_t)snprintf(more, sizeof more, "... (%d more arguments)",
                                      argc - SLOWLOG_ARGC_MAX + 1) +
                     1;
            continue;
        }
        bytes += kept_bytes(&argv[i], note, sizeof note) + strlen(note) + 1;
    }
    karg_t *out = kmalloc(bytes);
    char *p = (char *)(out + n);
    for (int i = 0; i < n; i++) {
        size_t len;
        if (i == n - 1 && n < argc) {
            len = strlen(more);
            memcpy(p, more, len);
        } else {
            size_t k = kept_bytes(&argv[i], note, sizeof note);
            memcpy(p, argv[i].p, k);
            memcpy(p + k, note, strlen(note));
            len = k + strlen(note);
        }
        p[len] = 0;
        out[i].p = p;
        out[i].n = len;
        p += len + 1;
    }
    *out_argc = n;
    return out;
}

void
slowlog_push_if_needed(engine_t *s, client_t *c, int argc, const karg_t *argv,
                       uint64_t duration_us) {
    long long threshold = s->cfg.slowlog_log_slower_than;
    if (threshold < 0 || duration_us < (uint64_t)threshold)
        return;
    struct slowlog *l = s->slowlog;
    if (!l) /* an engine made without engine_init (unit tests) */
        return;
    slowlog_entry_t *e = kcalloc(1, sizeof *e);
    e->id = l->next_id++;
    e->time_s = util_time_ms() / 1000;
    e->duration_us = duration_us;
    e->argv = copy_argv(argc, argv, &e->argc);
    e->peer = kstrndup(c->conn.addr, strlen(c->conn.addr));
    e->name = c->name ? kstrndup(c->name, strlen(c->name)) : kstrndup("", 0);
    e->next = l->head;
    l->head = e;
    l->len++;
    /* Trim the oldest past the limit (a lowered limit takes effect at the next push). */
    if (l->len > (size_t)s->cfg.slowlog_max_len) {
        slowlog_entry_t **pp = &l->head;
        for (long long i = 0; i < s->cfg.slowlog_max_len; i++)
            pp = &(*pp)->next;
        slowlog_entry_t *old = *pp;
        *pp = NULL;
        while (old) {
            slowlog_entry_t *next = old->next;
            entry_free(old);
            l->len--;
            old = next;
        }
    }
}

const slowlog_entry_t *
slowlog_first(const engine_t *s) {
    return s->slowlog->head;
}

size_t
slowlog_len(const engine_t *s) {
    return s->slowlog->len;
}

void
slowlog_reset(engine_t *s) {
    slowlog_entry_t *e = s->slowlog->head;
    while (e) {
        slowlog_entry_t *next = e->next;
        entry_free(e);
        e = next;
    }
    s->slowlog->head = NULL;
    s->slowlog->len = 0;
}
