/*
 * script_int.h - what script.c, script_lua.c and function.c share (private to server/script/).
 *
 * The Lua registry holds the state's tables:
 *   REG_SCRIPTS  sha1 hex -> {fn, flags}        EVAL's cache (SCRIPT LOAD, EVAL; SCRIPT FLUSH)
 *   REG_LIBS     library name -> {code=, funcs={name=true}}
 *   REG_FUNCS    function name -> {fn=, flags=, lib=, desc=}
 *   REG_RO       table -> true                  the read-only tables (rawset refuses them)
 */
#ifndef KEEL_SCRIPT_INT_H
#define KEEL_SCRIPT_INT_H

#include <lua.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine.h"

#define REG_SCRIPTS "keel_scripts"
#define REG_LIBS    "keel_libs"
#define REG_FUNCS   "keel_funcs"
#define REG_RO      "keel_ro"

/* Script flags (the shebang's flags=..., a function's flags table), Valkey's names. */
enum {
    SCRIPT_FLAG_NO_WRITES = 1 << 0,
    SCRIPT_FLAG_ALLOW_OOM = 1 << 1,
    SCRIPT_FLAG_ALLOW_STALE = 1 << 2,
    SCRIPT_FLAG_NO_CLUSTER = 1 << 3,
    SCRIPT_FLAG_ALLOW_CROSS_SLOT = 1 << 4,
    SCRIPT_FLAG_EVAL_COMPAT = 1 << 5, /* an EVAL script without a shebang */
};

/* The running script (one at a time: scripts do not nest). Main thread only. */
typedef struct script_run {
    client_t *caller;
    char name[129]; /* the sha1 or the function's name, for errors and FUNCTION STATS */
    bool eval;      /* EVAL family (SCRIPT KILL) or FCALL (FUNCTION KILL) */
    bool read_only; /* *_RO or no-writes: write commands are refused */
    bool allow_oom; /* allow-oom: deny-oom commands run over maxmemory */
    bool wrote;     /* a command changed the dataset: the script can no longer be killed */
    bool timedout;  /* past busy-reply-threshold: the loop is polled from the count hook */
    bool killed;    /* SCRIPT KILL / FUNCTION KILL / SHUTDOWN NOSAVE asked it to stop */
    uint64_t start_us;
} script_run_t;

/* An EVAL-loaded script in the eviction order (SCRIPT LOAD's are never evicted). */
typedef struct script_lru {
    struct script_lru *prev, *next;
    char sha[41];
} script_lru_t;

#define SCRIPT_EVAL_CACHE_MAX 500 /* EVAL-loaded scripts kept (Valkey's LRU_LIST_LENGTH) */

typedef struct script_state {
    engine_t *eng;
    lua_State *L;
    client_t *fake;         /* runs the scripts' commands; its resp is redis.setresp's */
    script_run_t *run;      /* NULL when no script runs */
    bool loading;           /* FUNCTION LOAD runs a library's code: register_function works */
    uint64_t load_start_us; /* when that load began (its timeout, function.c) */
    karg_t *argv;           /* redis.call's arguments (grown, reused) */
    char (*numbuf)[40];     /* the text of numeric arguments */
    int argv_cap;
    uint64_t nscripts, nlibs, nfuncs;
    uint64_t runs; /* scripts and functions run (the garbage collector's pace) */
    uint8_t *deny; /* by cmd_def_t.id: 0 not known yet, 1 allowed in scripts, 2 refused */
    /* EVAL-loaded scripts, least recently used first; each cache entry's "lru" field points to
     * its node. Past SCRIPT_EVAL_CACHE_MAX the head is dropped from the cache. */
    script_lru_t *lru_head, *lru_tail;
    uint32_t lru_len;
    uint64_t evicted_scripts;
    uint32_t ndeny;
} script_state_t;

/* The engine's state, made at first use (NULL only if Lua could not start). */
script_state_t *script_state(engine_t *s);

/* script_lua.c: the sandboxed state with the redis/server API and the libraries. */
lua_State *slua_create(script_state_t *st);
/* Parse "#!lua flags=a,b name=x" on body's first line; *flags gets SCRIPT_FLAG_*, name (when not
 * NULL) the name= value. Returns 0, or -1 with the error in err. With no shebang: 0, flags
 * SCRIPT_FLAG_EVAL_COMPAT, *shebang_len 0. */
int slua_shebang(const char *body, size_t len, uint32_t *flags, char *name, size_t namelen,
                 size_t *shebang_len, char *err, size_t errlen);
/* Compile body as a chunk named chunkname (the shebang line is kept as a comment so that line
 * numbers stay); pushes the function. Returns 0, or -1 with Lua's message in err. */
int slua_compile(lua_State *L, const char *body, size_t len, const char *chunkname, char *err,
                 size_t errlen);
/* Run the function on the stack top (popped) for c: EVAL mode sets KEYS/ARGV, function mode
 * passes (keys, args); replies to c with the result or the error. */
void slua_call(script_state_t *st, client_t *c, script_run_t *run, int nkeys, const karg_t *keys,
               int nargs, const karg_t *args, bool eval);
/* Pushes the error table {err = msg} with Valkey's normalisation ("-CODE msg" or "msg" -> ERR). */
void slua_push_error(lua_State *L, const char *msg, size_t len);
/* Run fn with the error handler; the error or result is on the stack (returns lua_pcall's). */
int slua_pcall(lua_State *L, int nargs);

/* The sha1 of p as 40 lower-case hex digits and a NUL. */
void script_sha1_hex(const char *p, size_t n, char hex[41]); /* script_lua.c */

/* Prepare and check a run for c (flags, *_RO, replica, OOM); false when c got an error. */
bool script_prepare(script_state_t *st, client_t *c, script_run_t *run, uint32_t flags, bool ro,
                    bool eval, const char *name);
/* After slua_call: leave busy mode, discard effects when the server shuts down. */
void script_finish(script_state_t *st, script_run_t *run);
/* Parse numkeys at argv[2]; -1 after replying an error. */
int script_numkeys(client_t *c);

#endif
