/*
 * slowlog.h - the slow log (SLOWLOG GET/LEN/RESET): the newest commands that ran at least
 * slowlog-log-slower-than microseconds, at most slowlog-max-len of them, newest first.
 *
 * An entry keeps what Valkey's does: a growing id, the unix time it ended, its duration in us,
 * its arguments trimmed (at most SLOWLOG_ARGC_MAX, each at most SLOWLOG_ARG_BYTES_MAX bytes,
 * with a note of what was left out), and the client's address and name.
 */
#ifndef KEEL_SLOWLOG_H
#define KEEL_SLOWLOG_H

#include <stddef.h>
#include <stdint.h>

#include "slice.h"

struct engine;
struct client;

#define SLOWLOG_ARGC_MAX      32
#define SLOWLOG_ARG_BYTES_MAX 128

typedef struct slowlog_entry {
    uint64_t id;
    int64_t time_s;
    uint64_t duration_us;
    int argc;
    karg_t *argv;               /* one allocation with the (trimmed) bytes */
    char *peer;                 /* "ip:port" */
    char *name;                 /* the client's name, "" when none */
    struct slowlog_entry *next; /* older */
} slowlog_entry_t;

void slowlog_init(struct engine *s);
/* A command of c ran for duration_us: log it when that is at or over the threshold. */
void slowlog_push_if_needed(struct engine *s, struct client *c, int argc, const karg_t *argv,
                            uint64_t duration_us);
/* The entries, newest first (NULL when empty), and how many there are. */
const slowlog_entry_t *slowlog_first(const struct engine *s);
size_t slowlog_len(const struct engine *s);
void slowlog_reset(struct engine *s);

#endif
