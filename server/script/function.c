/*
 * function.c - function libraries: FUNCTION LOAD/DELETE/FLUSH/LIST/DUMP/RESTORE/STATS, FCALL.
 *
 * A library is Lua code starting with "#!lua name=<lib>" that calls redis.register_function
 * while it loads. Loading runs the code with an environment of its own whose `redis`/`server`
 * is the load API (register_function, log) and whose other globals are the sandbox's; once
 * loaded, that environment's `redis` falls through to the full API, which the functions see when
 * they run (FCALL). Libraries live in the Lua registry (REG_LIBS, REG_FUNCS, script_int.h).
 *
 * Functions are data: LOAD, DELETE, FLUSH and RESTORE change the dataset (engine dirty counter),
 * so their calls are logged as they came, and the snapshot holds each library's code
 * (function_foreach / function_load_code, record type FUNCTION). Replay loads the code again.
 *
 * FUNCTION DUMP's payload (our own, only Keel reads it): "KFN1", then per library a 4-byte
 * little-endian length and the code, then the CRC-32C of everything before it (4 bytes LE).
 */
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "crc32c.h"
#include "kmem.h"
#include "reply.h"
#include "sbuf.h"
#include "script.h"
#include "script_int.h"
#include "util.h"

#define FN_DUMP_MAGIC "KFN1"

static bool
valid_name(const char *p, size_t n) {
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_'))
            return false;
    }
    return true;
}

/* ---- register_function (load time) ---- */

static const struct {
    const char *name;
    uint32_t flag;
} fn_flags[] = {
    {"no-writes", SCRIPT_FLAG_NO_WRITES},
    {"allow-oom", SCRIPT_FLAG_ALLOW_OOM},
    {"allow-stale", SCRIPT_FLAG_ALLOW_STALE},
    {"no-cluster", SCRIPT_FLAG_NO_CLUSTER},
    {"allow-cross-slot-keys", SCRIPT_FLAG_ALLOW_CROSS_SLOT},
};

static int
fn_error(lua_State *L, const char *msg) {
    slua_push_error(L, msg, strlen(msg));
    return lua_error(L);
}

/* redis.register_function(name, fn) or redis.register_function{function_name=, callback=,
 * flags=, description=}: adds to the pending table (registry keel_pending). */
static int
l_register_function(lua_State *L) {
    script_state_t *st = lua_touserdata(L, lua_upvalueindex(1));
    if (!st->loading)
        return fn_error(L, "redis.register_function can only be called on FUNCTION LOAD command");
    int argc = lua_gettop(L);
    uint32_t flags = 0;
    if (argc == 1 && lua_istable(L, 1)) {
        lua_pushnil(L);
        while (lua_next(L, 1)) {
            const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
            if (strcmp(k, "function_name") == 0 || strcmp(k, "callback") == 0 ||
                strcmp(k, "description") == 0) {
            } else if (strcmp(k, "flags") == 0) {
                if (!lua_istable(L, -1))
                    return fn_error(L, "flags argument to redis.register_function must be a table "
                                       "representing function flags");
                for (int i = 1;; i++) {
                    lua_rawgeti(L, -1, i);
                    if (lua_isnil(L, -1)) {
                        lua_pop(L, 1);
                        break;
                    }
                    const char *f = lua_tostring(L, -1);
                    size_t j = 0;
                    for (; f && j < sizeof fn_flags / sizeof *fn_flags; j++)
                        if (strcmp(f, fn_flags[j].name) == 0)
                            break;
                    if (!f || j == sizeof fn_flags / sizeof *fn_flags)
                        return fn_error(L, "unknown flag given");
                    flags |= fn_flags[j].flag;
                    lua_pop(L, 1);
                }
            } else {
                return fn_error(L, "unknown argument given to redis.register_function");
            }
            lua_pop(L, 1);
        }
        lua_getfield(L, 1, "function_name");
        lua_getfield(L, 1, "callback");
        lua_getfield(L, 1, "description");
    } else if (argc == 2) {
        lua_pushnil(L); /* no description */
    } else {
        return fn_error(L, "wrong number of arguments to redis.register_function");
    }
    /* stack: ..., name, callback, description */
    size_t nl;
    const char *name = lua_type(L, -3) == LUA_TSTRING ? lua_tolstring(L, -3, &nl) : NULL;
    if (!name)
        return fn_error(L, "function_name argument given to redis.register_function must be a "
                           "string");
    if (!valid_name(name, nl))
        return fn_error(L, "Function names can only contain letters, numbers, or underscores(_) "
                           "and must be at least one character long");
    if (!lua_isfunction(L, -2))
        return fn_error(L, "callback argument given to redis.register_function must be a "
                           "function");
    lua_getfield(L, LUA_REGISTRYINDEX, "keel_pending");
    lua_getfield(L, -1, name);
    if (!lua_isnil(L, -1))
        return fn_error(L, "Function already exists in the library");
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -4);
    lua_setfield(L, -2, "fn");
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "desc");
    lua_pushnumber(L, flags);
    lua_setfield(L, -2, "flags");
    lua_setfield(L, -2, name);
    return 0;
}

static int
l_env_newindex(lua_State *L) {
    return luaL_error(L, "Attempt to modify a readonly table");
}

/* Pushes a library's new environment twice (for setfenv, and to take the load API out after
 * the load). It holds `redis` and `server` as the load API while the code loads; its other
 * globals, and those two afterwards, are the sandbox's, through __index = the globals table (a
 * table, so a global's lookup stays in the VM: no C call per access). */
static void
push_env(script_state_t *st) {
    lua_State *L = st->L;
    lua_newtable(L); /* env */
    lua_newtable(L); /* the load API */
    lua_pushlightuserdata(L, st);
    lua_pushcclosure(L, l_register_function, 1);
    lua_setfield(L, -2, "register_function");
    lua_getglobal(L, "redis");
    static const char *const copied[] = {
        "log",           "LOG_DEBUG",         "LOG_VERBOSE", "LOG_NOTICE", "LOG_WARNING",
        "REDIS_VERSION", "REDIS_VERSION_NUM", "setresp",     NULL};
    for (int i = 0; copied[i]; i++) {
        lua_getfield(L, -1, copied[i]);
        lua_setfield(L, -3, copied[i]);
    }
    lua_pop(L, 1);
    lua_pushstring(L, "redis");
    lua_pushvalue(L, -2);
    lua_rawset(L, -4);
    lua_pushstring(L, "server");
    lua_insert(L, -2);
    lua_rawset(L, -3);
    lua_newtable(L); /* its metatable */
    lua_pushvalue(L, LUA_GLOBALSINDEX);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_env_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_getfield(L, LUA_REGISTRYINDEX, REG_RO); /* rawset refuses it too */
    lua_pushvalue(L, -2);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    lua_pushvalue(L, -1); /* env, env */
}

/* A library's code runs at most FN_LOAD_TIMEOUT_MS (Valkey's limit): the loop is not polled
 * while it loads, so a code that never returns must not hang the server. */
#define FN_LOAD_TIMEOUT_MS 500

static void
load_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    lua_getfield(L, LUA_REGISTRYINDEX, "keel_state");
    script_state_t *st = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (!st || util_mono_us() - st->load_start_us < FN_LOAD_TIMEOUT_MS * 1000ull)
        return;
    lua_sethook(L, load_hook, LUA_MASKLINE, 0); /* a pcall in the code cannot go on */
    slua_push_error(L, "FUNCTION LOAD timeout", 21);
    lua_error(L);
}

/* Remove library `name` and its functions (REG_LIBS, REG_FUNCS). */
static void
drop_library(script_state_t *st, const char *name) {
    lua_State *L = st->L;
    lua_getfield(L, LUA_REGISTRYINDEX, REG_LIBS);
    lua_getfield(L, -1, name);
    if (lua_istable(L, -1)) {
        lua_getfield(L, LUA_REGISTRYINDEX, REG_FUNCS);
        lua_getfield(L, -2, "funcs");
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            lua_pop(L, 1);
            lua_pushvalue(L, -1);
            lua_pushnil(L);
            lua_settable(L, -5);
            st->nfuncs--;
        }
        lua_pop(L, 2);
        lua_pushnil(L);
        lua_setfield(L, -3, name);
        st->nlibs--;
    }
    lua_pop(L, 2);
}

/* function_load_code, with the load time limited when limit (a client's FUNCTION LOAD or
 * RESTORE; never replay, a replica's stream or a snapshot, which must load what was loaded). */
static int
load_code(engine_t *s, const char *code, size_t len, bool replace, bool limit, char *err,
          size_t errlen) {
    script_state_t *st = script_state(s);
    if (!st) {
        snprintf(err, errlen, "ERR the Lua engine could not start");
        return -1;
    }
    lua_State *L = st->L;
    uint32_t flags;
    size_t sl;
    char name[129];
    if (len < 2 || code[0] != '#' || code[1] != '!') {
        snprintf(err, errlen, "ERR Missing library metadata");
        return -1;
    }
    if (slua_shebang(code, len, &flags, name, sizeof name, &sl, err, errlen) < 0) {
        if (strstr(err, "Unexpected engine"))
            snprintf(err, errlen, "ERR Engine '%.*s' not found", (int)(strcspn(code + 2, " \n")),
                     code + 2);
        else if (strstr(err, "Unexpected flag") || strstr(err, "Unknown lua shebang"))
            snprintf(err, errlen, "ERR Invalid metadata value given: %.*s", (int)sl - 2, code + 2);
        return -1;
    }
    if (!name[0]) {
        snprintf(err, errlen, "ERR Library name was not given");
        return -1;
    }
    if (!valid_name(name, strlen(name))) {
        snprintf(err, errlen,
                 "ERR Library names can only contain letters, numbers, or "
                 "underscores(_) and must be at least one character long");
        return -1;
    }
    lua_getfield(L, LUA_REGISTRYINDEX, REG_LIBS);
    lua_getfield(L, -1, name);
    bool exists = !lua_isnil(L, -1);
    lua_pop(L, 2);
    if (exists && !replace) {
        snprintf(err, errlen, "ERR Library '%s' already exists", name);
        return -1;
    }
    char cerr[512];
    if (slua_compile(L, code, len, "@user_function", cerr, sizeof cerr) < 0) {
        snprintf(err, errlen, "ERR Error compiling function: %s", cerr);
        return -1;
    }
    push_env(st); /* fn, env, env (overrides) */
    lua_pushvalue(L, -2);
    lua_setfenv(L, -4);
    lua_remove(L, -2); /* fn, overrides */
    lua_insert(L, -2); /* overrides, fn */
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, "keel_pending");
    st->loading = true;
    st->load_start_us = util_mono_us();
    if (limit)
        lua_sethook(L, load_hook, LUA_MASKCOUNT, 100000);
    int rc = slua_pcall(L, 0);
    lua_sethook(L, NULL, 0, 0);
    st->loading = false;
    /* overrides, result: from now on the library's code sees the full API */
    lua_pushstring(L, "redis");
    lua_pushnil(L);
    lua_rawset(L, -4);
    lua_pushstring(L, "server");
    lua_pushnil(L);
    lua_rawset(L, -4);
    if (rc != 0) {
        lua_getfield(L, -1, "err");
        const char *m = lua_tostring(L, -1);
        snprintf(err, errlen, "ERR Error registering functions: %s",
                 m ? (strncmp(m, "ERR ", 4) == 0 ? m + 4 : m) : "unknown error");
        lua_settop(L, 0);
        return -1;
    }
    lua_settop(L, 0);
    /* The pending functions: none, or a name another library has, refuses the load. */
    lua_getfield(L, LUA_REGISTRYINDEX, "keel_pending");
    lua_getfield(L, LUA_REGISTRYINDEX, REG_FUNCS);
    int count = 0;
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        lua_pop(L, 1);
        count++;
        lua_pushvalue(L, -1);
        lua_gettable(L, 2);
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "lib");
            bool same = strcmp(lua_tostring(L, -1), name) == 0;
            lua_pop(L, 1);
            if (!same) {
                snprintf(err, errlen, "ERR Function %s already exists", lua_tostring(L, -2));
                lua_settop(L, 0);
                return -1;
            }
        }
        lua_pop(L, 1);
    }
    if (count == 0) {
        snprintf(err, errlen, "ERR No functions registered");
        lua_settop(L, 0);
        return -1;
    }
    lua_settop(L, 0);
    drop_library(st, name);
    lua_getfield(L, LUA_REGISTRYINDEX, "keel_pending"); /* 1 */
    lua_getfield(L, LUA_REGISTRYINDEX, REG_FUNCS);      /* 2 */
    lua_newtable(L);                                    /* 3: the library's function names */
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        lua_pushstring(L, name);
        lua_setfield(L, -2, "lib");
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_settable(L, 2);
        lua_pushvalue(L, -1);
        lua_pushboolean(L, 1);
        lua_settable(L, 3);
        st->nfuncs++;
    }
    lua_newtable(L);
    lua_insert(L, -2);
    lua_setfield(L, -2, "funcs");
    lua_pushlstring(L, code, len);
    lua_setfield(L, -2, "code");
    lua_getfield(L, LUA_REGISTRYINDEX, REG_LIBS);
    lua_insert(L, -2);
    lua_setfield(L, -2, name);
    st->nlibs++;
    lua_settop(L, 0);
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, "keel_pending");
    snprintf(err, errlen, "%s", name); /* the name, for the reply */
    return 0;
}

int
function_load_code(engine_t *s, const char *code, size_t len, bool replace, char *err,
                   size_t errlen) {
    return load_code(s, code, len, replace, false, err, errlen);
}

void
function_flush_all(engine_t *s) {
    script_state_t *st = s->script;
    if (!st)
        return;
    lua_newtable(st->L);
    lua_setfield(st->L, LUA_REGISTRYINDEX, REG_LIBS);
    lua_newtable(st->L);
    lua_setfield(st->L, LUA_REGISTRYINDEX, REG_FUNCS);
    lua_gc(st->L, LUA_GCCOLLECT, 0);
    st->nlibs = st->nfuncs = 0;
}

/* Library names sorted (the order of LIST, DUMP and the snapshot); a Lua array pushed. */
static int
push_sorted_libs(lua_State *L) {
    lua_newtable(L);
    int n = 0;
    lua_getfield(L, LUA_REGISTRYINDEX, REG_LIBS);
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        lua_rawseti(L, -4, ++n);
    }
    lua_pop(L, 1);
    lua_getglobal(L, "table");
    lua_getfield(L, -1, "sort");
    lua_pushvalue(L, -3);
    lua_call(L, 1, 0);
    lua_pop(L, 1);
    return n;
}

void
function_foreach(engine_t *s, void (*fn)(void *ctx, const char *code, size_t len), void *ctx) {
    script_state_t *st = s->script;
    if (!st || st->nlibs == 0)
        return;
    lua_State *L = st->L;
    int top = lua_gettop(L);
    int n = push_sorted_libs(L);
    lua_getfield(L, LUA_REGISTRYINDEX, REG_LIBS);
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, -2, i);
        lua_gettable(L, -2);
        lua_getfield(L, -1, "code");
        size_t len;
        const char *code = lua_tolstring(L, -1, &len);
        fn(ctx, code, len);
        lua_pop(L, 2);
    }
    lua_settop(L, top);
}

/* ---- commands ---- */

void
function_load_cmd(client_t *c) {
    bool replace = false;
    int i = 2;
    for (; i < c->argc - 1; i++) {
        if (cmd_arg_is(&c->argv[i], "replace")) {
            replace = true;
        } else {
            reply_errf(c, "ERR Unknown option given: %.*s", (int)c->argv[i].n, c->argv[i].p);
            return;
        }
    }
    if (i != c->argc - 1) {
        reply_err(c, "ERR Function code is missing");
        return;
    }
    char err[1024];
    bool limit = !(c->flags & CLIENT_FAKE);
    if (load_code(c->eng, c->argv[i].p, c->argv[i].n, replace, limit, err, sizeof err) < 0) {
        reply_err(c, err);
        return;
    }
    c->eng->dirty++;
    reply_bulk_cstr(c, err);
}

void
function_delete_cmd(client_t *c) {
    script_state_t *st = c->eng->script;
    char name[129];
    snprintf(name, sizeof name, "%.*s", (int)c->argv[2].n, c->argv[2].p);
    bool found = false;
    if (st) {
        lua_getfield(st->L, LUA_REGISTRYINDEX, REG_LIBS);
        lua_getfield(st->L, -1, name);
        found = !lua_isnil(st->L, -1) && c->argv[2].n < sizeof name;
        lua_settop(st->L, 0);
    }
    if (!found) {
        reply_err(c, "ERR Library not found");
        return;
    }
    drop_library(st, name);
    c->eng->dirty++;
    reply_ok(c);
}

void
function_flush_cmd(client_t *c) {
    if (c->argc > 3 ||
        (c->argc == 3 && !cmd_arg_is(&c->argv[2], "sync") && !cmd_arg_is(&c->argv[2], "async"))) {
        reply_err(c, "ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
        return;
    }
    function_flush_all(c->eng);
    c->eng->dirty++;
    reply_ok(c);
}

static void
reply_flags(client_t *c, uint32_t flags) {
    int n = 0;
    for (size_t j = 0; j < sizeof fn_flags / sizeof *fn_flags; j++)
        n += (flags & fn_flags[j].flag) != 0;
    reply_set(c, n);
    for (size_t j = 0; j < sizeof fn_flags / sizeof *fn_flags; j++)
        if (flags & fn_flags[j].flag)
            reply_simple(c, fn_flags[j].name);
}

/* One library (its table at the top) as FUNCTION LIST shows it. */
static void
reply_library(client_t *c, lua_State *L, const char *name, bool withcode) {
    reply_map(c, withcode ? 4 : 3);
    reply_bulk_cstr(c, "library_name");
    reply_bulk_cstr(c, name);
    reply_bulk_cstr(c, "engine");
    reply_bulk_cstr(c, "LUA");
    reply_bulk_cstr(c, "functions");
    lua_getfield(L, -1, "funcs");
    lua_newtable(L);
    int n = 0;
    lua_pushnil(L);
    while (lua_next(L, -3)) {
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        lua_rawseti(L, -3, ++n);
    }
    lua_getglobal(L, "table");
    lua_getfield(L, -1, "sort");
    lua_pushvalue(L, -3);
    lua_call(L, 1, 0);
    lua_pop(L, 1);
    reply_array(c, n);
    lua_getfield(L, LUA_REGISTRYINDEX, REG_FUNCS);
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, -2, i);
        const char *fname = lua_tostring(L, -1);
        lua_gettable(L, -2);
        reply_map(c, 3);
        reply_bulk_cstr(c, "name");
        reply_bulk_cstr(c, fname ? fname : "");
        reply_bulk_cstr(c, "description");
        lua_getfield(L, -1, "desc");
        size_t dl;
        const char *d = lua_tolstring(L, -1, &dl);
        if (d)
            reply_bulk(c, d, dl);
        else
            reply_null(c);
        lua_pop(L, 1);
        reply_bulk_cstr(c, "flags");
        lua_getfield(L, -1, "flags");
        reply_flags(c, (uint32_t)lua_tonumber(L, -1));
        lua_pop(L, 2);
    }
    lua_pop(L, 3);
    if (withcode) {
        reply_bulk_cstr(c, "library_code");
        lua_getfield(L, -1, "code");
        size_t len;
        const char *code = lua_tolstring(L, -1, &len);
        reply_bulk(c, code, len);
        lua_pop(L, 1);
    }
}

void
function_list_cmd(client_t *c) {
    bool withcode = false;
    const karg_t *pattern = NULL;
    for (int i = 2; i < c->argc; i++) {
        if (cmd_arg_is(&c->argv[i], "withcode")) {
            withcode = true;
        } else if (cmd_arg_is(&c->argv[i], "libraryname") && i + 1 < c->argc && !pattern) {
            pattern = &c->argv[++i];
        } else {
            reply_errf(c, "ERR Unknown argument %.*s", (int)c->argv[i].n, c->argv[i].p);
            return;
        }
    }
    script_state_t *st = c->eng->script;
    if (!st || st->nlibs == 0) {
        reply_array(c, 0);
        return;
    }
    lua_State *L = st->L;
    int n = push_sorted_libs(L);
    int shown = 0;
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, 1, i);
        size_t nl;
        const char *name = lua_tolstring(L, -1, &nl);
        shown += !pattern || util_glob_match(pattern->p, pattern->n, name, nl, false);
        lua_pop(L, 1);
    }
    reply_array(c, shown);
    lua_getfield(L, LUA_REGISTRYINDEX, REG_LIBS);
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, 1, i);
        size_t nl;
        const char *name = lua_tolstring(L, -1, &nl);
        if (!pattern || util_glob_match(pattern->p, pattern->n, name, nl, false)) {
            lua_pushvalue(L, -1);
            lua_gettable(L, 2);
            reply_library(c, L, name, withcode);
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    lua_settop(L, 0);
}

static void
dump_one_cb(void *ctx, const char *code, size_t len) {
    sbuf_t *b = ctx;
    uint8_t l4[4] = {(uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16), (uint8_t)(len >> 24)};
    sbuf_append(b, (const char *)l4, 4);
    sbuf_append(b, code, len);
}

void
function_dump_cmd(client_t *c) {
    sbuf_t b = {0};
    sbuf_append(&b, FN_DUMP_MAGIC, 4);
    function_foreach(c->eng, dump_one_cb, &b);
    uint32_t crc = crc32c(b.p, b.len);
    uint8_t c4[4] = {(uint8_t)crc, (uint8_t)(crc >> 8), (uint8_t)(crc >> 16), (uint8_t)(crc >> 24)};
    sbuf_append(&b, (const char *)c4, 4);
    reply_bulk(c, b.p, b.len);
    sbuf_free(&b);
}

static uint32_t
rd32(const char *p) {
    const uint8_t *u = (const uint8_t *)p;
    return (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
}

void
function_restore_cmd(client_t *c) {
    int policy = 0; /* 0 APPEND, 1 REPLACE, 2 FLUSH */
    if (c->argc > 4) {
        reply_err(c, ERR_SYNTAX);
        return;
    }
    if (c->argc == 4) {
        if (cmd_arg_is(&c->argv[3], "append"))
            policy = 0;
        else if (cmd_arg_is(&c->argv[3], "replace"))
            policy = 1;
        else if (cmd_arg_is(&c->argv[3], "flush"))
            policy = 2;
        else {
            reply_err(c, "ERR Wrong restore policy given, value should be either FLUSH, APPEND or "
                         "REPLACE.");
            return;
        }
    }
    const char *p = c->argv[2].p;
    size_t n = c->argv[2].n;
    if (n < 8 || memcmp(p, FN_DUMP_MAGIC, 4) != 0 || crc32c(p, n - 4) != rd32(p + n - 4)) {
        reply_err(c, "ERR payload version or checksum are wrong");
        return;
    }
    /* Check every library's framing before anything changes. */
    for (size_t off = 4; off < n - 4;) {
        if (n - 4 - off < 4 || rd32(p + off) > n - 4 - off - 4) {
            reply_err(c, "ERR payload version or checksum are wrong");
            return;
        }
        off += 4 + rd32(p + off);
    }
    if (policy == 0) { /* APPEND: no library of the payload may exist */
        script_state_t *st = script_state(c->eng);
        for (size_t off = 4; st && off < n - 4; off += 4 + rd32(p + off)) {
            uint32_t fl;
            size_t sl;
            char name[129], err[256];
            if (slua_shebang(p + off + 4, rd32(p + off), &fl, name, sizeof name, &sl, err,
                             sizeof err) < 0)
                continue;
            lua_getfield(st->L, LUA_REGISTRYINDEX, REG_LIBS);
            lua_getfield(st->L, -1, name);
            bool exists = !lua_isnil(st->L, -1);
            lua_settop(st->L, 0);
            if (exists) {
                reply_errf(c, "ERR Library %s already exists", name);
                return;
            }
        }
    }
    /* All or nothing: the libraries as they were come back if one of the payload's fails, so
     * a refused RESTORE changes nothing and is not logged (replay must never see it fail). */
    sbuf_t before = {0};
    function_foreach(c->eng, dump_one_cb, &before);
    if (policy == 2)
        function_flush_all(c->eng);
    char err[1024];
    for (size_t off = 4; off < n - 4; off += 4 + rd32(p + off)) {
        if (load_code(c->eng, p + off + 4, rd32(p + off), policy != 0, !(c->flags & CLIENT_FAKE),
                      err, sizeof err) < 0) {
            function_flush_all(c->eng);
            char again[256];
            for (size_t o = 0; o + 4 <= before.len; o += 4 + rd32(before.p + o))
                function_load_code(c->eng, before.p + o + 4, rd32(before.p + o), true, again,
                                   sizeof again);
            sbuf_free(&before);
            reply_err(c, err);
            return;
        }
    }
    sbuf_free(&before);
    c->eng->dirty++;
    reply_ok(c);
}

void
function_stats_cmd(client_t *c) {
    script_state_t *st = c->eng->script;
    reply_map(c, 2);
    reply_bulk_cstr(c, "running_script");
    if (st && st->run && !st->run->eval) {
        client_t *caller = st->run->caller;
        reply_map(c, 3);
        reply_bulk_cstr(c, "name");
        reply_bulk_cstr(c, st->run->name);
        reply_bulk_cstr(c, "command");
        reply_array(c, caller->argc);
        for (int i = 0; i < caller->argc; i++)
            reply_bulk(c, caller->argv[i].p, caller->argv[i].n);
        reply_bulk_cstr(c, "duration_ms");
        reply_int(c, (long long)((util_mono_us() - st->run->start_us) / 1000));
    } else {
        reply_null(c);
    }
    reply_bulk_cstr(c, "engines");
    reply_map(c, 1);
    reply_bulk_cstr(c, "LUA");
    reply_map(c, 2);
    reply_bulk_cstr(c, "libraries_count");
    reply_int(c, st ? (long long)st->nlibs : 0);
    reply_bulk_cstr(c, "functions_count");
    reply_int(c, st ? (long long)st->nfuncs : 0);
}

static void
fcall_generic(client_t *c, bool ro) {
    int nkeys = script_numkeys(c);
    if (nkeys < 0)
        return;
    script_state_t *st = c->eng->script;
    bool found = false;
    char name[129];
    snprintf(name, sizeof name, "%.*s", (int)c->argv[1].n, c->argv[1].p);
    if (st && c->argv[1].n < sizeof name) {
        lua_getfield(st->L, LUA_REGISTRYINDEX, REG_FUNCS);
        lua_getfield(st->L, -1, name);
        lua_remove(st->L, -2);
        found = lua_istable(st->L, -1);
        if (!found)
            lua_pop(st->L, 1);
    }
    if (!found) {
        reply_err(c, "ERR Function not found");
        return;
    }
    lua_State *L = st->L;
    lua_getfield(L, -1, "flags");
    uint32_t flags = (uint32_t)lua_tonumber(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, -1, "fn");
    lua_remove(L, -2);
    script_run_t run;
    if (!script_prepare(st, c, &run, flags, ro, false, name)) {
        lua_settop(L, 0);
        return;
    }
    slua_call(st, c, &run, nkeys, c->argv + 3, c->argc - 3 - nkeys, c->argv + 3 + nkeys, false);
    script_finish(st, &run);
}

void
function_fcall_cmd(client_t *c) {
    fcall_generic(c, false);
}

void
function_fcall_ro_cmd(client_t *c) {
    fcall_generic(c, true);
}
