/*
 * tracking.h - client-side caching (CLIENT TRACKING), as Valkey's: the server tells a client
 * which keys it may have cached have changed.
 *
 * Default mode: the keys a tracking client reads (read-only commands) are remembered in the
 * tracking table (key -> ids of the clients that read it; one table for every db, as Valkey's).
 * When such a key changes (any write, expiry or eviction: the key_modified hook), each of those
 * clients gets one invalidation and the key leaves the table, until it is read again.
 * OPTIN: only reads right after CLIENT CACHING YES are remembered; OPTOUT: all but those after
 * CLIENT CACHING NO. NOLOOP: a client is not told of its own changes.
 * BCAST: nothing is remembered; a client gets every changed key that starts with one of its
 * prefixes ("" = all), batched, before the loop sleeps.
 *
 * Delivery: to the client itself in RESP3, as the push ["invalidate", [key...]]; with
 * REDIRECT <id>, to that client instead, as the same push in RESP3 or, in RESP2 when it is
 * subscribed, as a message on __redis__:invalidate. FLUSHDB/FLUSHALL send a null instead of the
 * keys to every tracking client. If the redirect client is gone the tracking client gets
 * ["tracking-redir-broken", id] (RESP3). A client's own invalidations go out after its reply.
 *
 * tracking-table-max-keys bounds the table: past it, random keys are invalidated and dropped.
 */
#ifndef KEEL_TRACKING_H
#define KEEL_TRACKING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slice.h"

struct engine;
struct client;
struct cmd_def;
struct sbuf;

enum {
    TRACK_BCAST = 1 << 0,
    TRACK_OPTIN = 1 << 1,
    TRACK_OPTOUT = 1 << 2,
    TRACK_NOLOOP = 1 << 3,
    TRACK_CACHING = 1 << 4,      /* CLIENT CACHING YES (optin) / NO (optout) for the next command */
    TRACK_BROKEN_REDIR = 1 << 5, /* the redirect client went away */
};

void tracking_init(struct engine *s);
/* CLIENT TRACKING ON: flags TRACK_*, redirect (0: none), prefixes (BCAST). The caller checked
 * the options; returns false with a message in err when a prefix overlaps another. */
bool tracking_enable(struct client *c, uint32_t flags, uint64_t redirect, int nprefix,
                     const karg_t *prefixes, char *err, size_t errlen);
void tracking_disable(struct client *c);
bool tracking_on(const struct client *c);
uint32_t tracking_flags(const struct client *c); /* 0 when off */
/* CLIENT GETREDIR / CLIENT LIST redir=: -1 when off, 0 without redirect, else the id. */
long long tracking_redirect(const struct client *c);
/* The client's BCAST prefixes (NULL when none). */
const karg_t *tracking_prefixes(const struct client *c, int *n);
void tracking_set_caching(struct client *c);
/* A command of c ran: remember the keys it read (read-only commands, default mode). */
void tracking_remember_keys(struct client *c, struct cmd_def *cmd);
/* FLUSHDB / FLUSHALL: every tracking client is told to drop everything; the table empties. */
void tracking_invalidate_all(struct engine *s);
/* Before the loop sleeps: BCAST batches go out, the table is kept under its limit. */
void tracking_before_sleep(struct engine *s);
/* INFO: tracking clients, keys in the table, (key, client) items, BCAST prefixes. */
void tracking_info(const struct engine *s, size_t *clients, size_t *keys, size_t *items,
                   size_t *prefixes);

#endif
