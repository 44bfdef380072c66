/*
 * cmd_diag.c - the operator's diagnostics: SLOWLOG GET/LEN/RESET/HELP and LATENCY
 * LATEST/HISTORY/RESET/DOCTOR/HISTOGRAM/HELP, with Valkey's reply shapes. The state is the
 * engine's (core/slowlog.c, core/latency.c); this file only formats it.
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "engine.h"
#include "latency.h"
#include "reply.h"
#include "sbuf.h"
#include "slowlog.h"
#include "util.h"

/* ---- SLOWLOG ---- */

static void
reply_slowlog_entry(client_t *c, const slowlog_entry_t *e) {
    reply_array(c, 6);
    reply_int(c, (long long)e->id);
    reply_int(c, (long long)e->time_s);
    reply_int(c, (long long)e->duration_us);
    reply_array(c, e->argc);
    for (int i = 0; i < e->argc; i++)
        reply_bulk(c, e->argv[i].p, e->argv[i].n);
    reply_bulk_cstr(c, e->peer);
    reply_bulk_cstr(c, e->name);
}

/* SLOWLOG GET [count]: the newest `count` entries (10 by default, -1 for all), newest first. */
static void
slowlog_get_cmd(client_t *c) {
    long long count = 10;
    if (c->argc > 3) {
        reply_errf(c,
                   "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try SLOWLOG "
                   "HELP.",
                   (int)(c->argv[1].n > 128 ? 128 : c->argv[1].n), c->argv[1].p);
        return;
    }
    if (c->argc == 3 && (!util_parse_ll(c->argv[2].p, c->argv[2].n, &count) || count < -1)) {
        reply_err(c, "ERR count should be greater than or equal to -1");
        return;
    }
    size_t n = slowlog_len(c->eng);
    if (count >= 0 && (size_t)count < n)
        n = (size_t)count;
    reply_array(c, (long long)n);
    const slowlog_entry_t *e = slowlog_first(c->eng);
    for (size_t i = 0; i < n; i++, e = e->next)
        reply_slowlog_entry(c, e);
}

static void
slowlog_len_cmd(client_t *c) {
    reply_int(c, (long long)slowlog_len(c->eng));
}

static void
slowlog_reset_cmd(client_t *c) {
    slowlog_reset(c->eng);
    reply_ok(c);
}

static void
slowlog_help_cmd(client_t *c) {
    static const char *const lines[] = {
        "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET [<count>]",
        "    Return the <count> newest entries of the slow log (10 by default, -1 for all).",
        "    An entry is: an id, the unix time it was logged, the execution time in",
        "    microseconds, its arguments (at most 32, each cut at 128 bytes), the client's",
        "    address and name.",
        "LEN",
        "    Return the number of entries in the slow log.",
        "RESET",
        "    Empty the slow log.",
        "HELP",
        "    Print this help.",
    };
    reply_help(c, lines, sizeof lines / sizeof *lines);
}

/* ---- LATENCY ---- */

/* LATENCY LATEST: per event its name, the time and ms of its newest sample and its maximum. */
static void
latency_latest_cmd(client_t *c) {
    int n;
    const latency_event_t *ev = latency_events(c->eng, &n);
    reply_array(c, n);
    for (int i = 0; i < n; i++) {
        const latency_sample_t *last = latency_event_latest(&ev[i]);
        reply_array(c, 4);
        reply_bulk_cstr(c, ev[i].name);
        reply_int(c, last ? (long long)last->time_s : 0);
        reply_int(c, last ? (long long)last->ms : 0);
        reply_int(c, (long long)ev[i].max_ms);
    }
}

static const latency_event_t *
find_event(client_t *c, const karg_t *name) {
    int n;
    const latency_event_t *ev = latency_events(c->eng, &n);
    for (int i = 0; i < n; i++)
        if (strlen(ev[i].name) == name->n && !memcmp(ev[i].name, name->p, name->n))
            return &ev[i];
    return NULL;
}

/* LATENCY HISTORY event: its samples, oldest first, as [unix time, ms] pairs. */
static void
latency_history_cmd(client_t *c) {
    const latency_event_t *e = find_event(c, &c->argv[2]);
    if (!e) {
        reply_empty_array(c);
        return;
    }
    size_t spot = reply_defer(c);
    long long n = 0;
    for (uint32_t k = 0; k < LATENCY_SAMPLES_MAX; k++) {
        const latency_sample_t *s = &e->samples[(e->idx + k) % LATENCY_SAMPLES_MAX];
        if (!s->time_s)
            continue;
        reply_array(c, 2);
        reply_int(c, (long long)s->time_s);
        reply_int(c, (long long)s->ms);
        n++;
    }
    reply_set_deferred_array(c, spot, n);
}

/* LATENCY RESET [event ...]: how many events were forgotten. */
static void
latency_reset_cmd(client_t *c) {
    if (c->argc == 2) {
        reply_int(c, latency_reset(c->eng, NULL, 0));
        return;
    }
    int n = 0;
    for (int i = 2; i < c->argc; i++)
        n += latency_reset(c->eng, c->argv[i].p, c->argv[i].n);
    reply_int(c, n);
}

/* Mean and mean deviation of an event's samples, and the span of time they cover. */
static void
event_summary(const latency_event_t *e, int *count, double *avg, double *mdev, int64_t *period) {
    double sum = 0;
    int64_t first = 0, last = 0;
    *count = 0;
    for (uint32_t k = 0; k < LATENCY_SAMPLES_MAX; k++) {
        const latency_sample_t *s = &e->samples[(e->idx + k) % LATENCY_SAMPLES_MAX];
        if (!s->time_s)
            continue;
        if (!*count)
            first = s->time_s;
        last = s->time_s;
        sum += s->ms;
        (*count)++;
    }
    *avg = *count ? sum / *count : 0;
    double dev = 0;
    for (uint32_t k = 0; k < LATENCY_SAMPLES_MAX; k++) {
        const latency_sample_t *s = &e->samples[k];
        if (s->time_s)
            dev += s->ms > *avg ? s->ms - *avg : *avg - s->ms;
    }
    *mdev = *count ? dev / *count : 0;
    *period = last - first;
}

/* LATENCY DOCTOR: a short report in words of what the monitor saw, with what usually helps. */
static void
latency_doctor_cmd(client_t *c) {
    engine_t *s = c->eng;
    sbuf_t b = {0};
    int n;
    const latency_event_t *ev = latency_events(s, &n);
    if (s->cfg.latency_monitor_threshold_ms <= 0) {
        sbuf_printf(&b, "The latency monitor is off. Turn it on with 'CONFIG SET "
                        "latency-monitor-threshold <milliseconds>': events that take at least "
                        "that long are then recorded.\n");
    } else if (n == 0) {
        sbuf_printf(&b,
                    "No event took %lld ms or more since the latency monitor was turned on "
                    "or last reset.\n",
                    s->cfg.latency_monitor_threshold_ms);
    } else {
        sbuf_printf(&b, "Events of %lld ms or more seen by the latency monitor:\n\n",
                    s->cfg.latency_monitor_threshold_ms);
        bool cmds = false, fork = false, expire = false;
        for (int i = 0; i < n; i++) {
            int count;
            double avg, mdev;
            int64_t period;
            event_summary(&ev[i], &count, &avg, &mdev, &period);
            sbuf_printf(&b,
                        "%d. %s: %d samples, average %.0f ms, mean deviation %.0f ms, over %lld "
                        "s; the worst was %u ms.\n",
                        i + 1, ev[i].name, count, avg, mdev, (long long)period, ev[i].max_ms);
            cmds |= !strcmp(ev[i].name, "command") || !strcmp(ev[i].name, "fast-command");
            fork |= !strcmp(ev[i].name, "fork");
            expire |= !strcmp(ev[i].name, "expire-cycle");
        }
        sbuf_printf(&b, "\nWhat may help:\n");
        if (cmds)
            sbuf_printf(&b, "- Slow commands: SLOWLOG GET lists them; commands over large "
                            "collections (KEYS, SMEMBERS, LRANGE 0 -1, ...) are the usual "
                            "cause. With fast-command spikes, check the host's load and swap.\n");
        if (fork)
            sbuf_printf(&b, "- Snapshot fork: the fork copies the page tables, so its time grows "
                            "with used memory; transparent huge pages make it and the writes "
                            "after it slower.\n");
        if (expire)
            sbuf_printf(&b, "- Expire cycle: many keys expiring at the same time; spread their "
                            "TTLs.\n");
        sbuf_printf(&b, "- LATENCY HISTORY <event> shows the samples, LATENCY RESET forgets "
                        "them.\n");
    }
    reply_verbatim(c, b.p ? b.p : "", b.len, "txt");
    sbuf_free(&b);
}

/* Valkey's LATENCY HISTOGRAM entry: calls, then cumulative counts at power-of-two bounds in us
 * (1024 ns, 2048 ns, ... reported as their us), only the bounds where the count grew. */
static void
reply_histogram(client_t *c, const cmd_def_t *cmd, const khist_t *h) {
    reply_bulk_cstr(c, cmd->fullname ? cmd->fullname : cmd->name);
    reply_map(c, 2);
    reply_bulk_cstr(c, "calls");
    reply_int(c, (long long)h->count);
    reply_bulk_cstr(c, "histogram_usec");
    size_t spot = reply_defer(c);
    long long pairs = 0;
    uint64_t prev = 0;
    for (unsigned e = 10; e < KHIST_EXP_MAX && prev < h->count; e++) {
        uint64_t n = khist_count_le(h, (1ull << e) - 1);
        if (n == prev)
            continue;
        reply_int(c, (long long)((1ull << e) / 1000));
        reply_int(c, (long long)n);
        prev = n;
        pairs++;
    }
    if (prev < h->count) { /* beyond the range: the maximum closes the list */
        reply_int(c, (long long)(h->max / 1000));
        reply_int(c, (long long)h->count);
        pairs++;
    }
    reply_set_deferred_map(c, spot, pairs);
}

typedef struct hist_ctx {
    client_t *c;
    long long n;
    bool emit;
} hist_ctx_t;

static void
hist_one(hist_ctx_t *k, cmd_def_t *cmd) {
    const khist_t *h = latency_cmd_hist(k->c->eng, cmd);
    if (!h || !h->count)
        return;
    k->n++;
    if (k->emit)
        reply_histogram(k->c, cmd, h);
}

static void
hist_cb(cmd_def_t *cmd, void *ctx) {
    hist_one(ctx, cmd);
    for (cmd_def_t *sub = cmd->subcmds; sub && sub->name; sub++)
        hist_one(ctx, sub);
}

/* The command a LATENCY HISTOGRAM argument names: "get", or "client|list". */
static cmd_def_t *
named_command(client_t *c, const karg_t *a) {
    const char *bar = memchr(a->p, '|', a->n);
    if (!bar)
        return cmd_lookup(c->eng, a->p, a->n);
    cmd_def_t *parent = cmd_lookup(c->eng, a->p, (size_t)(bar - a->p));
    if (!parent || !parent->subcmds)
        return NULL;
    return cmd_lookup_sub(parent, bar + 1, a->n - (size_t)(bar - a->p) - 1);
}

/* LATENCY HISTOGRAM [command ...]: a map of command -> {calls, histogram_usec}. */
static void
latency_histogram_cmd(client_t *c) {
    hist_ctx_t k = {c, 0, false};
    if (c->argc == 2) {
        cmd_foreach(c->eng, hist_cb, &k);
        reply_map(c, k.n);
        k.emit = true;
        cmd_foreach(c->eng, hist_cb, &k);
        return;
    }
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            reply_map(c, k.n);
            k.emit = true;
        }
        for (int i = 2; i < c->argc; i++) {
            cmd_def_t *cmd = named_command(c, &c->argv[i]);
            if (cmd)
                hist_one(&k, cmd);
        }
    }
}

static void
latency_help_cmd(client_t *c) {
    static const char *const lines[] = {
        "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LATEST",
        "    Return the newest sample of every event: its name, unix time, latency and the",
        "    highest latency seen, in milliseconds.",
        "HISTORY <event>",
        "    Return the samples of <event> (time, milliseconds), oldest first.",
        "RESET [<event> ...]",
        "    Forget the samples of the named events, or of all events.",
        "DOCTOR",
        "    Return a report in words of the events seen.",
        "HISTOGRAM [<command> ...]",
        "    Return the latency distribution of the named commands (all by default), in",
        "    microseconds, cumulative at power-of-two bounds.",
        "HELP",
        "    Print this help.",
    };
    reply_help(c, lines, sizeof lines / sizeof *lines);
}

static cmd_def_t slowlog_subcmds[] = {
    {"get", slowlog_get_cmd, -2, CMD_ADMIN | CMD_LOADING | CMD_STALE, 0, 0, 0, "server",
     "Returns the slow log's entries.", "2.2.12", "O(N) where N is the number of entries returned",
     "admin slow dangerous"},
    {"len", slowlog_len_cmd, 2, CMD_ADMIN | CMD_LOADING | CMD_STALE, 0, 0, 0, "server",
     "Returns the number of entries in the slow log.", "2.2.12", "O(1)", "admin slow dangerous"},
    {"reset", slowlog_reset_cmd, 2, CMD_ADMIN | CMD_LOADING | CMD_STALE, 0, 0, 0, "server",
     "Clears all entries from the slow log.", "2.2.12",
     "O(N) where N is the number of entries in the slowlog", "admin slow dangerous"},
    {"help", slowlog_help_cmd, 2, CMD_LOADING | CMD_STALE, 0, 0, 0, "server",
     "Show helpful text about the different subcommands", "6.2.0", "O(1)", "slow"},
    {0},
};

static cmd_def_t latency_subcmds[] = {
    {"latest", latency_latest_cmd, 2, CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, 0, 0, 0,
     "server", "Returns the latest latency samples for all events.", "2.8.13", "O(1)",
     "admin slow dangerous"},
    {"history", latency_history_cmd, 3, CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, 0, 0, 0,
     "server", "Returns timestamp-latency samples for an event.", "2.8.13", "O(1)",
     "admin slow dangerous"},
    {"reset", latency_reset_cmd, -2, CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, 0, 0, 0,
     "server", "Resets the latency data for one or more events.", "2.8.13", "O(1)",
     "admin slow dangerous"},
    {"doctor", latency_doctor_cmd, 2, CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, 0, 0, 0,
     "server", "Returns a human-readable latency analysis report.", "2.8.13", "O(1)",
     "admin slow dangerous"},
    {"histogram", latency_histogram_cmd, -2, CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, 0,
     0, 0, "server",
     "Returns the cumulative distribution of latencies of a subset or all commands.", "7.0.0",
     "O(N) where N is the number of commands with latency information being retrieved.",
     "admin slow dangerous"},
    {"help", latency_help_cmd, 2, CMD_LOADING | CMD_STALE, 0, 0, 0, "server",
     "Returns helpful text about the different subcommands.", "2.8.13", "O(1)", "slow"},
    {0},
};

cmd_def_t cmd_table_diag[] = {
    {"slowlog", NULL, -2, 0, 0, 0, 0, "server", "A container for slow log commands.", "2.2.12",
     "Depends on subcommand.", "slow", NULL, slowlog_subcmds},
    {"latency", NULL, -2, 0, 0, 0, 0, "server", "A container for latency diagnostics commands.",
     "2.8.13", "Depends on subcommand.", "slow", NULL, latency_subcmds},
    {0},
};
