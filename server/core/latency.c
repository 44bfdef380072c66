/*
 * latency.c - the latency monitor and the per-command histograms (see latency.h). Main thread
 * only: events that happen on other threads are reported by the main thread when it learns of
 * them.
 */
#include "latency.h"

#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "engine.h"
#include "kmem.h"
#include "util.h"

struct latency {
    latency_event_t events[LATENCY_EVENTS_MAX];
    int nevents;
    khist_t **cmd_hist; /* by cmd_def_t.id, made at a command's first call */
    uint32_t ncmd;
};

void
latency_init(engine_t *s) {
    s->latency = kcalloc(1, sizeof *s->latency);
    s->latency->ncmd = s->ncmd_stats;
    s->latency->cmd_hist = kcalloc(s->ncmd_stats ? s->ncmd_stats : 1, sizeof(khist_t *));
}

static latency_event_t *
find_event(struct latency *l, const char *name, size_t len) {
    for (int i = 0; i < l->nevents; i++)
        if (strlen(l->events[i].name) == len && !memcmp(l->events[i].name, name, len))
            return &l->events[i];
    return NULL;
}

void
latency_add_sample_if_needed(engine_t *s, const char *event, uint64_t ms) {
    long long threshold = s->cfg.latency_monitor_threshold_ms;
    if (threshold <= 0 || ms < (uint64_t)threshold)
        return;
    struct latency *l = s->latency;
    if (!l) /* an engine made without engine_init (unit tests) */
        return;
    size_t len = strlen(event);
    latency_event_t *e = find_event(l, event, len);
    if (!e) {
        if (l->nevents == LATENCY_EVENTS_MAX || len >= LATENCY_NAME_MAX)
            return; /* the names are Keel's own: a fixed, small set */
        e = &l->events[l->nevents++];
        memset(e, 0, sizeof *e);
        memcpy(e->name, event, len + 1);
    }
    uint32_t v = ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
    int64_t now = util_time_ms() / 1000;
    if (v > e->max_ms)
        e->max_ms = v;
    uint32_t prev = (e->idx + LATENCY_SAMPLES_MAX - 1) % LATENCY_SAMPLES_MAX;
    if (e->samples[prev].time_s == now) { /* one sample per second: its maximum */
        if (v > e->samples[prev].ms)
            e->samples[prev].ms = v;
        return;
    }
    e->samples[e->idx] = (latency_sample_t){now, v};
    e->idx = (e->idx + 1) % LATENCY_SAMPLES_MAX;
}

const latency_event_t *
latency_events(const engine_t *s, int *n) {
    *n = s->latency->nevents;
    return s->latency->events;
}

const latency_sample_t *
latency_event_latest(const latency_event_t *e) {
    const latency_sample_t *p =
        &e->samples[(e->idx + LATENCY_SAMPLES_MAX - 1) % LATENCY_SAMPLES_MAX];
    return p->time_s ? p : NULL;
}

int
latency_reset(engine_t *s, const char *event, size_t len) {
    struct latency *l = s->latency;
    if (!event) {
        int n = l->nevents;
        l->nevents = 0;
        return n;
    }
    latency_event_t *e = find_event(l, event, len);
    if (!e)
        return 0;
    int i = (int)(e - l->events);
    memmove(e, e + 1, sizeof *e * (size_t)(l->nevents - i - 1));
    l->nevents--;
    return 1;
}

void
latency_cmd_record(engine_t *s, const cmd_def_t *cmd, uint64_t ns) {
    struct latency *l = s->latency;
    if (!l || cmd->id >= l->ncmd) /* an engine made without engine_init (unit tests) */
        return;
    /* Not counted in used_memory (plain calloc, like the other allocations kmem.c lists as
     * exceptions): a histogram (5 KB) is fixed overhead of a command's first call, made after
     * eviction ran for that call; counted, the first call of each command would leave used
     * memory above maxmemory. At most one per command and subcommand (about 1.3 MB). */
    if (!l->cmd_hist[cmd->id]) {
        l->cmd_hist[cmd->id] = calloc(1, sizeof(khist_t));
        if (!l->cmd_hist[cmd->id])
            return;
    }
    khist_add(l->cmd_hist[cmd->id], ns);
}

const khist_t *
latency_cmd_hist(const engine_t *s, const cmd_def_t *cmd) {
    return cmd->id < s->latency->ncmd ? s->latency->cmd_hist[cmd->id] : NULL;
}

void
latency_cmd_reset(engine_t *s) {
    struct latency *l = s->latency;
    for (uint32_t i = 0; i < l->ncmd; i++) {
        free(l->cmd_hist[i]);
        l->cmd_hist[i] = NULL;
    }
}
