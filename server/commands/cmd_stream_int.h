/*
 * cmd_stream_int.h - what the two stream command files share (cmd_stream.c: entries, XREAD,
 * XREADGROUP; cmd_stream_group.c: XGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM, XINFO).
 */
#ifndef KEEL_CMD_STREAM_INT_H
#define KEEL_CMD_STREAM_INT_H

#include <stdbool.h>

#include "client.h"
#include "t_stream.h"

#define XERR_INVALID_ID "ERR Invalid stream ID specified as stream command argument"

/* The stream at key: NULL when absent; *bad set and WRONGTYPE replied when of another type. */
stream_t *xlookup(client_t *c, const karg_t *key, bool write, bool *bad);
/* Parses an ID argument; "-" and "+" when allow_edges, a missing seq becomes missing_seq; an
 * exclusive "(id" when allow_excl (moved by one; "ERR invalid start/end ID for the interval"
 * when it cannot be). Replies and returns false on a bad one. */
bool xparse_id(client_t *c, const karg_t *a, uint64_t missing_seq, bool allow_edges,
               bool allow_excl, bool is_start, sid_t *out);
/* Replies one entry: [id, [field, value, ...]]. */
void xreply_entry(client_t *c, const sentry_t *e);
void xreply_id(client_t *c, const sid_t *id);
/* Adds an effect to the log: argv of C strings / byte slices. */
void xeffect(client_t *c, int argc, const karg_t *argv);
/* A karg of a C string. */
static inline karg_t
xarg(const char *s) {
    karg_t a = {s, strlen(s)};
    return a;
}
/* The XCLAIM effect Valkey propagates for a delivery: XCLAIM key group consumer 0 id TIME t
 * RETRYCOUNT n FORCE JUSTID LASTID last. */
void xeffect_claim(client_t *c, const karg_t *key, const scg_t *g, const sconsumer_t *cons,
                   const spel_t *pe);
/* XGROUP CREATECONSUMER key group consumer, as an effect and an event. */
void xconsumer_created(client_t *c, const karg_t *key, const scg_t *g, const sconsumer_t *cons);

#endif
