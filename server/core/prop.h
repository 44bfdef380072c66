/*
 * prop.h - effect records: what a command changed, in a form whose replay is deterministic.
 *
 * While a command (or a whole MULTI/EXEC) runs, its effects are collected here; at the end they
 * become ONE log record (DESIGN.md section 3). By default a write command that changed something
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

#include "resp.h"

typedef struct client client_t;

/* Where finished records go: the log. Returns the LSN (> 0), 0 when nothing is logged (no log
 * configured), or a negative KERR_* when the log refuses writes. */
typedef int64_t (*prop_sink_fn)(void *ctx, uint32_t db, const void *payload, size_t len);
void prop_set_sink(prop_sink_fn fn, void *ctx);
int prop_has_sink(void);

/* Nesting: MULTI/EXEC opens one scope around its commands; only the outermost scope's end
 * produces a record. */
void prop_begin(void);
/* Ends a scope; returns the record's LSN, 0 if nothing was logged, <0 on log failure. */
int64_t prop_end(void);

/* The running command's own call becomes an effect (done by exec when dirty moved and the
 * command did not call prop_replace/prop_add for itself). */
void prop_add_call(int db, int argc, const karg_t *argv);
/* The same for a call whose RESP multibulk form is already at hand (the client's own bytes,
 * see net_raw_command): copied as they are, no re-encoding. */
void prop_add_call_raw(int db, const char *resp, size_t len);
/* The running command logs these effects instead of its own call. */
void prop_add(int db, int argc, const karg_t *argv);
/* Convenience: effect from C strings/byte slices: prop_addv(db, 3, "PEXPIREAT", 9, key, klen, ...) */
void prop_add_strs(int db, int argc, const char *const *argv, const size_t *lens);
/* Whether the running command has added effects itself (then exec does not add the call). */
int prop_command_has_effects(void);
void prop_command_start(void); /* exec: a new command begins inside the current scope */
size_t prop_pending_bytes(void);

#endif
