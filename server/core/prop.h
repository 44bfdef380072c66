/*
 * prop.h - effect records: what a command changed, in a form whose replay is deterministic.
 *
 * While a command (or a whole MULTI/EXEC) runs, its effects are collected here; at the end they
 * become ONE log record (docs/durability.md). By default a write command that changed something
 * (server dirty counter moved) is logged as it was called. A command whose call is not
 * deterministic replaces that with explicit effects: EXPIRE -> PEXPIREAT, SPOP -> SREM, INCRBYFLOAT
 * -> SET KEEPTTL; expiries and evictions add a DEL. Each effect is RESP-encoded; when an effect
 * applies to another database than the previous one, a SELECT effect is put before it, and the
 * record's db field is the database of the first effect.
 */
#ifndef KEEL_PROP_H
#define KEEL_PROP_H

#include <stddef.h>
#include <stdint.h>

#include "slice.h"

typedef struct client client_t;

/* Where finished records go: the log. Returns the LSN (> 0), 0 when nothing is logged (no log
 * configured), or a negative KERR_* when the log refuses writes. */
typedef int64_t (*prop_sink_fn)(void *ctx, uint32_t db, const void *payload, size_t len);

/* The effect collector of an engine (engine_t.prop). Main thread only. */
typedef struct prop {
    prop_sink_fn sink;
    void *ctx;
    int depth;
    char *buf;
    size_t len, cap;
    int first_db; /* db of the first effect, -1 before any */
    int cur_db;
    int cmd_added; /* effects added by the running command itself */
} prop_t;

void prop_init(prop_t *p);

void prop_set_sink(prop_t *p, prop_sink_fn fn, void *ctx);
int prop_has_sink(prop_t *p);

/* Nesting: MULTI/EXEC opens one scope around its commands; only the outermost scope's end
 * produces a record. */
void prop_begin(prop_t *p);
/* Ends a scope; returns the record's LSN, 0 if nothing was logged, <0 on log failure. */
int64_t prop_end(prop_t *p);

/* Forget the effects collected so far in the open scopes: a script stopped by SHUTDOWN NOSAVE
 * must not leave half of its writes in the log. */
void prop_discard(prop_t *p);
/* The running command's own call becomes an effect (done by exec when dirty moved and the
 * command did not call prop_add for itself). */
void prop_add_call(prop_t *p, int db, int argc, const karg_t *argv);
/* The same for a call whose RESP multibulk form is already at hand (the client's own bytes,
 * see net_raw_command): copied as they are, no re-encoding. */
void prop_add_call_raw(prop_t *p, int db, const char *resp, size_t len);
/* The running command logs these effects instead of its own call. */
void prop_add(prop_t *p, int db, int argc, const karg_t *argv);
/* Whether the running command has added effects itself (then exec does not add the call). */
int prop_command_has_effects(prop_t *p);
void prop_command_start(prop_t *p); /* exec: a new command begins inside the current scope */
/* The running command is never logged as called, only through what it adds with prop_add
 * (perhaps nothing): for commands whose call depends on the clock even when they change nothing
 * (a lazy expiry during the command would otherwise make exec log it). */
void prop_no_call(prop_t *p);

#endif
