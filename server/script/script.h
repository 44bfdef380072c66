/*
 * script.h - Lua scripts and functions: EVAL/EVALSHA(_RO), SCRIPT, FUNCTION, FCALL(_RO).
 *
 * One Lua 5.1 state per engine (engine_t.script, made at first use), sandboxed as Valkey's: no
 * os, io, package, require, loadfile, dofile, debug; globals are read-only and reading a missing
 * one is an error. A script runs its commands (redis.call / redis.pcall, alias server.*) through
 * exec_call on an engine-owned fake client with the caller's user and database, inside the
 * caller's effect scope: its writes become ONE log record in effect form, as MULTI/EXEC's, and
 * replay never runs Lua. docs/scripting.md describes the semantics and the busy-script design.
 *
 * The command procedures below are listed in commands/cmd_script.c's table.
 */
#ifndef KEEL_SCRIPT_H
#define KEEL_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>

#include "client.h"
#include "engine.h"

struct sbuf;

/* EVAL family: EVAL script numkeys key... arg..., EVALSHA sha1 ..., the _RO variants. */
void script_eval_cmd(client_t *c);
void script_evalsha_cmd(client_t *c);
void script_eval_ro_cmd(client_t *c);
void script_evalsha_ro_cmd(client_t *c);
/* numkeys at argv[2] (EVAL*, FCALL*): the key positions. */
int script_getkeys(int argc, karg_t *argv, int *idx, int max);

void script_load_cmd(client_t *c);
void script_exists_cmd(client_t *c);
void script_flush_cmd(client_t *c);
void script_kill_cmd(client_t *c);

/* Functions (function.c). */
void function_load_cmd(client_t *c);
void function_delete_cmd(client_t *c);
void function_flush_cmd(client_t *c);
void function_list_cmd(client_t *c);
void function_dump_cmd(client_t *c);
void function_restore_cmd(client_t *c);
void function_stats_cmd(client_t *c);
void function_kill_cmd(client_t *c);
void function_fcall_cmd(client_t *c);
void function_fcall_ro_cmd(client_t *c);

/* INFO memory's scripting fields (Valkey's names): the Lua state's memory (one state holds both
 * EVAL scripts and functions), cached scripts, functions, libraries. */
void script_info_memory(engine_t *s, struct sbuf *b);

/* Persistence of functions (the snapshot's FUNCTION records, persist/): each library's code in
 * name order; loading one library's code (replace: a library of that name is replaced), which
 * returns 0 with the library's name in msg, or -1 with the error in msg; dropping them all (a
 * snapshot load replaces them). */
void function_foreach(engine_t *s, void (*fn)(void *ctx, const char *code, size_t len), void *ctx);
int function_load_code(engine_t *s, const char *code, size_t len, bool replace, char *msg,
                       size_t msglen);
void function_flush_all(engine_t *s);

#endif
