/*
 * latency.h - the latency monitor (LATENCY LATEST/HISTORY/RESET/DOCTOR) and the per-command
 * latency histograms (INFO latencystats, LATENCY HISTOGRAM).
 *
 * Monitor: a named event ("command", "fast-command", "expire-cycle", "snapshot-fork", ...) that
 * took at least latency-monitor-threshold ms adds a sample (unix second, ms) to the event's ring
 * of LATENCY_SAMPLES_MAX; samples of one second merge into their maximum, as Valkey's do. The
 * threshold 0 turns the monitor off.
 *
 * Histograms: with latency-tracking yes every call of a command or subcommand adds its duration
 * in ns to that command's histogram (common/khist.h), made at its first call.
 */
#ifndef KEEL_LATENCY_H
#define KEEL_LATENCY_H

#include <stddef.h>
#include <stdint.h>

#include "khist.h"

struct engine;
struct cmd_def;

#define LATENCY_SAMPLES_MAX 160
#define LATENCY_EVENTS_MAX  32
#define LATENCY_NAME_MAX    48

typedef struct latency_sample {
    int64_t time_s;
    uint32_t ms;
} latency_sample_t;

typedef struct latency_event {
    char name[LATENCY_NAME_MAX];
    latency_sample_t samples[LATENCY_SAMPLES_MAX]; /* a ring; slot `idx` is the next one */
    uint32_t idx;
    uint32_t max_ms; /* since start or the last LATENCY RESET of the event */
} latency_event_t;

void latency_init(struct engine *s);
/* An event took ms: sampled when the monitor is on and ms is at or over its threshold. */
void latency_add_sample_if_needed(struct engine *s, const char *event, uint64_t ms);
/* The events seen, in the order they first appeared; *n gets their count. */
const latency_event_t *latency_events(const struct engine *s, int *n);
/* The newest sample of an event, NULL when it has none. */
const latency_sample_t *latency_event_latest(const latency_event_t *e);
/* Forget the named event (NULL: all); returns how many events were reset. */
int latency_reset(struct engine *s, const char *event, size_t len);

/* A call of cmd took ns (when latency-tracking is on). */
void latency_cmd_record(struct engine *s, const struct cmd_def *cmd, uint64_t ns);
/* The histogram of cmd, NULL when it was never called (or since the last reset). */
const khist_t *latency_cmd_hist(const struct engine *s, const struct cmd_def *cmd);
void latency_cmd_reset(struct engine *s); /* CONFIG RESETSTAT */

#endif
