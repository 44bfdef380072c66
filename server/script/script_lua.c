/*
 * script_lua.c - the Lua side: the sandboxed state, the redis/server API, the conversions
 * between RESP and Lua values, and running one script or function with Valkey's error format.
 *
 * Sandbox (as Valkey's, on stock Lua 5.1, which has no read-only tables):
 *   - only base, table, string, math, cjson, bit, struct and cmsgpack are opened; print, dofile,
 *     loadfile, getfenv, setfenv and newproxy are removed; os, io, package, require and debug
 *     never exist.
 *   - the global table's metatable (protected: getmetatable gives false) raises "Script attempted
 *     to access nonexistent global variable 'x'" on a read of a missing global and "Attempt to
 *     modify a readonly table" on a write; KEYS and ARGV are set with rawset by the engine.
 *   - each library table is replaced by an empty read-only proxy whose __index is the library,
 *     so no script can change what another one calls; rawset refuses the globals and the
 *     proxies (REG_RO), and the strings' metatable is protected.
 * Conversions (both directions, RESP2 and RESP3) follow Valkey's: a status is {ok=}, an error
 * {err=}, a nil bulk or array false, a RESP3 null nil, a double {double=}, a map {map={}}, a set
 * {set={k=true}}, a big number {big_number=}, a verbatim string {verbatim_string={format=,
 * string=}}; and back the same tables, with false a null and true :1 (#t/#f when the script
 * called redis.setresp(3)). docs/scripting.md has the whole table.
 */
#include <lauxlib.h>
#include <lualib.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "acl.h"
#include "cmd.h"
#include "conn.h"
#include "evict.h"
#include "exec.h"
#include "klog.h"
#include "kmem.h"
#include "reply.h"
#include "script.h"
#include "script_int.h"
#include "util.h"

/* Debian's packages (lua-cjson-dev, lua-bitop-dev) and our own (lua_cmsgpack.c, lua_struct.c). */
int luaopen_cjson(lua_State *L);
int luaopen_bit(lua_State *L);
int luaopen_cmsgpack(lua_State *L);
int luaopen_struct(lua_State *L);

#define HOOK_INSTRUCTIONS 100000 /* the count hook's period: about a millisecond of Lua */
#define SLUA_GC_PERIOD    50     /* runs between two garbage collection steps */

/* The SHA1 of p as 40 lowercase hex digits: EVALSHA names and redis.sha1hex. */
void
script_sha1_hex(const char *p, size_t n, char hex[41]) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_Digest(p, n, md, &mdlen, EVP_sha1(), NULL);
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < 20; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[40] = 0;
}

static script_state_t *
state_of(lua_State *L) {
    return (script_state_t *)lua_touserdata(L, lua_upvalueindex(1));
}

/* ---- errors ---- */

void
slua_push_error(lua_State *L, const char *msg, size_t len) {
    while (len > 0 && (msg[len - 1] == '\r' || msg[len - 1] == '\n'))
        len--;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    if (len > 0 && msg[0] == '-') {
        if (!memchr(msg, ' ', len))
            luaL_addstring(&b, "ERR ");
        luaL_addlstring(&b, msg + 1, len - 1);
    } else {
        luaL_addstring(&b, "ERR ");
        luaL_addlstring(&b, msg, len);
    }
    luaL_pushresult(&b);
    lua_newtable(L);
    lua_insert(L, -2);
    lua_setfield(L, -2, "err");
}

static int
raise_cstr(lua_State *L, const char *msg) {
    slua_push_error(L, msg, strlen(msg));
    return lua_error(L);
}

/* The error handler of every run: the error becomes {err=, source=, line=} (a string error gets
 * "ERR "), with the place of the Lua code that raised it. */
static int
error_handler(lua_State *L) {
    if (!lua_istable(L, 1)) {
        const char *m = lua_tostring(L, 1);
        lua_pushfstring(L, "ERR %s", m ? m : "execution failure");
        lua_newtable(L);
        lua_insert(L, -2);
        lua_setfield(L, -2, "err");
        lua_replace(L, 1);
    }
    lua_Debug ar;
    int level = 1;
    if (lua_getstack(L, level, &ar) && lua_getinfo(L, "Sl", &ar) && strcmp(ar.what, "C") == 0)
        level = 2;
    if (lua_getstack(L, level, &ar) && lua_getinfo(L, "Sl", &ar) && ar.currentline >= 0) {
        lua_pushstring(L, ar.source);
        lua_setfield(L, 1, "source");
        lua_pushinteger(L, ar.currentline);
        lua_setfield(L, 1, "line");
    }
    lua_settop(L, 1);
    return 1;
}

int
slua_pcall(lua_State *L, int nargs) {
    int fn = lua_gettop(L) - nargs;
    lua_pushcfunction(L, error_handler);
    lua_insert(L, fn);
    int rc = lua_pcall(L, nargs, 1, fn);
    lua_remove(L, fn);
    return rc;
}

/* ---- RESP -> Lua ---- */

static long long
parse_len(const char **pp, const char *end) {
    const char *p = *pp;
    const char *nl = memchr(p, '\r', (size_t)(end - p));
    long long v = 0;
    if (!nl || !util_parse_ll(p, (size_t)(nl - p), &v))
        v = -1;
    *pp = nl ? nl + 2 : end;
    return v;
}

static const char *
slua_push_resp(lua_State *L, const char *p, const char *end) {
    luaL_checkstack(L, 4, "reply too deep");
    if (p >= end) {
        lua_pushboolean(L, 0);
        return end;
    }
    char t = *p++;
    const char *line = p, *nl = memchr(p, '\r', (size_t)(end - p));
    size_t llen = nl ? (size_t)(nl - p) : (size_t)(end - p);
    long long n;
    switch (t) {
    case '+':
        lua_newtable(L);
        lua_pushlstring(L, line, llen);
        lua_setfield(L, -2, "ok");
        return line + llen + 2;
    case '-':
        lua_pushlstring(L, "-", 1);
        lua_pushlstring(L, line, llen);
        lua_concat(L, 2);
        {
            size_t el;
            const char *e = lua_tolstring(L, -1, &el);
            slua_push_error(L, e, el);
            lua_remove(L, -2);
        }
        return line + llen + 2;
    case ':':
        n = parse_len(&p, end);
        lua_pushnumber(L, (lua_Number)n);
        return p;
    case ',': {
        double d = 0;
        util_parse_double(line, llen, &d);
        lua_newtable(L);
        lua_pushnumber(L, d);
        lua_setfield(L, -2, "double");
        return line + llen + 2;
    }
    case '(':
        lua_newtable(L);
        lua_pushlstring(L, line, llen);
        lua_setfield(L, -2, "big_number");
        return line + llen + 2;
    case '#': lua_pushboolean(L, llen > 0 && line[0] == 't'); return line + llen + 2;
    case '_': lua_pushnil(L); return line + llen + 2;
    case '$':
    case '=':
        n = parse_len(&p, end);
        if (n < 0) {
            lua_pushboolean(L, 0);
            return p;
        }
        if (t == '=' && n >= 4) {
            lua_newtable(L);
            lua_newtable(L);
            lua_pushlstring(L, p, 3);
            lua_setfield(L, -2, "format");
            lua_pushlstring(L, p + 4, (size_t)n - 4);
            lua_setfield(L, -2, "string");
            lua_setfield(L, -2, "verbatim_string");
        } else {
            lua_pushlstring(L, p, (size_t)n);
        }
        return p + n + 2;
    case '*':
    case '>':
        n = parse_len(&p, end);
        if (n < 0) {
            lua_pushboolean(L, 0);
            return p;
        }
        lua_createtable(L, (int)n, 0);
        for (long long i = 0; i < n; i++) {
            p = slua_push_resp(L, p, end);
            lua_rawseti(L, -2, (int)i + 1);
        }
        return p;
    case '%':
    case '~':
        n = parse_len(&p, end);
        lua_newtable(L);
        lua_newtable(L);
        for (long long i = 0; i < n; i++) {
            p = slua_push_resp(L, p, end);
            if (t == '%')
                p = slua_push_resp(L, p, end);
            else
                lua_pushboolean(L, 1);
            lua_settable(L, -3);
        }
        lua_setfield(L, -2, t == '%' ? "map" : "set");
        return p;
    case '|': /* attributes are not shown to scripts: skip them, the reply follows */
        n = parse_len(&p, end);
        for (long long i = 0; i < 2 * n; i++) {
            p = slua_push_resp(L, p, end);
            lua_pop(L, 1);
        }
        return slua_push_resp(L, p, end);
    default: lua_pushboolean(L, 0); return end;
    }
}

/* ---- Lua -> reply ---- */

/* The string field `name` of the table at the top, or NULL. */
static const char *
field_str(lua_State *L, const char *name, size_t *len) {
    lua_pushstring(L, name);
    lua_rawget(L, -2);
    const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, len) : NULL;
    lua_pop(L, 1); /* the string stays alive: the table holds it */
    return s;
}

static void
reply_sanitized_status(client_t *c, const char *s, size_t n) {
    char *tmp = kmalloc(n + 1);
    for (size_t i = 0; i < n; i++)
        tmp[i] = s[i] == '\r' || s[i] == '\n' ? ' ' : s[i];
    tmp[n] = 0;
    reply_simple(c, tmp);
    kfree(tmp);
}

static void reply_table(client_t *c, lua_State *L, int sresp);

static void
slua_reply(client_t *c, lua_State *L, int sresp) {
    if (!lua_checkstack(L, 4)) {
        reply_err(c, "ERR reached lua stack limit");
        lua_pop(L, 1);
        return;
    }
    size_t n;
    switch (lua_type(L, -1)) {
    case LUA_TSTRING: {
        const char *s = lua_tolstring(L, -1, &n);
        reply_bulk(c, s, n);
        break;
    }
    case LUA_TBOOLEAN:
        if (sresp >= 3) /* the script's protocol (redis.setresp) decides, as in Valkey */
            reply_bool(c, lua_toboolean(L, -1));
        else if (lua_toboolean(L, -1))
            reply_int(c, 1);
        else
            reply_null(c);
        break;
    case LUA_TNUMBER: reply_int(c, (long long)lua_tonumber(L, -1)); break;
    case LUA_TTABLE: reply_table(c, L, sresp); break;
    default: reply_null(c);
    }
    lua_pop(L, 1);
}

/* The table at the top (left there): error, status, double, big number, verbatim, map, set, or
 * an array up to its first nil. */
static void
reply_table(client_t *c, lua_State *L, int sresp) {
    size_t n;
    const char *s;
    if ((s = field_str(L, "err", &n))) {
        char *tmp = kmalloc(n + 1);
        memcpy(tmp, s, n);
        tmp[n] = 0;
        for (size_t i = 0; i < n; i++)
            if (tmp[i] == '\r' || tmp[i] == '\n')
                tmp[i] = ' ';
        reply_err(c, tmp);
        kfree(tmp);
        return;
    }
    if ((s = field_str(L, "ok", &n))) {
        reply_sanitized_status(c, s, n);
        return;
    }
    lua_getfield(L, -1, "double");
    if (lua_type(L, -1) == LUA_TNUMBER) {
        reply_double(c, lua_tonumber(L, -1));
        lua_pop(L, 1);
        return;
    }
    lua_pop(L, 1);
    if ((s = field_str(L, "big_number", &n))) {
        reply_bignum(c, s, n);
        return;
    }
    lua_pushstring(L, "verbatim_string");
    lua_rawget(L, -2);
    if (lua_istable(L, -1)) {
        size_t fl, sl;
        const char *f = field_str(L, "format", &fl), *str = field_str(L, "string", &sl);
        if (f && str && fl == 3) {
            reply_verbatim(c, str, sl, f);
            lua_pop(L, 1);
            return;
        }
    }
    lua_pop(L, 1);
    for (int kind = 0; kind < 2; kind++) { /* map, then set */
        lua_pushstring(L, kind == 0 ? "map" : "set");
        lua_rawget(L, -2);
        if (!lua_istable(L, -1)) {
            lua_pop(L, 1);
            continue;
        }
        long long count = 0;
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            count++;
            lua_pop(L, 1);
        }
        if (kind == 0)
            reply_map(c, count);
        else
            reply_set(c, count);
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            lua_pushvalue(L, -2);
            if (kind == 0) {
                slua_reply(c, L, sresp); /* the key copy */
                slua_reply(c, L, sresp); /* the value */
            } else {
                lua_remove(L, -2); /* the value (true) */
                slua_reply(c, L, sresp);
            }
        }
        lua_pop(L, 1);
        return;
    }
    int len = 0;
    for (;; len++) {
        lua_rawgeti(L, -1, len + 1);
        bool nil = lua_isnil(L, -1);
        lua_pop(L, 1);
        if (nil)
            break;
    }
    reply_array(c, len);
    for (int i = 1; i <= len; i++) {
        lua_rawgeti(L, -1, i);
        slua_reply(c, L, sresp);
    }
}

/* ---- redis.call / redis.pcall ---- */

/* The Lua arguments 1..argc as the fake client's argv; false when one is not a string or number. */
static bool
lua_args(script_state_t *st, lua_State *L, int argc) {
    if (argc > st->argv_cap) {
        st->argv = krealloc(st->argv, sizeof *st->argv * (size_t)argc);
        st->numbuf = krealloc(st->numbuf, sizeof *st->numbuf * (size_t)argc);
        st->argv_cap = argc;
    }
    for (int i = 0; i < argc; i++) {
        int t = lua_type(L, i + 1);
        if (t == LUA_TNUMBER) {
            /* Lua's own number formatting loses precision; integers print as integers. */
            double d = lua_tonumber(L, i + 1);
            int w;
            if (d >= -9.2e18 && d <= 9.2e18 && d == (double)(long long)d)
                w = snprintf(st->numbuf[i], sizeof st->numbuf[i], "%lld", (long long)d);
            else
                w = util_d2str(st->numbuf[i], sizeof st->numbuf[i], d);
            st->argv[i] = (karg_t){st->numbuf[i], (size_t)w};
        } else if (t == LUA_TSTRING) {
            size_t n;
            const char *s = lua_tolstring(L, i + 1, &n);
            st->argv[i] = (karg_t){s, n};
        } else {
            return false;
        }
    }
    return true;
}

/* Commands a script may never run, beside those flagged noscript: they would change the fake
 * client's state (transactions, subscriptions) or run scripts inside scripts. */
static bool
denied_in_script(const cmd_def_t *cmd) {
    static const char *const names[] = {
        "multi",      "exec",       "discard",     "watch",        "unwatch",      "subscribe",
        "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe", "monitor",
        "client",     "reset",      "hello",       "auth",         "wait",         "waitaof",
        "sync",       "psync",      "replicaof",   "slaveof",      "eval",         "evalsha",
        "eval_ro",    "evalsha_ro", "fcall",       "fcall_ro",     "script",       "function",
        "quit",       NULL,
    };
    const cmd_def_t *top = cmd->parent ? cmd->parent : cmd;
    if (cmd->flags & CMD_NOSCRIPT)
        return true;
    for (int i = 0; names[i]; i++)
        if (strcmp(top->name, names[i]) == 0)
            return true;
    return false;
}

/* Checks before a command runs; NULL when it may run, else the error (Valkey's words). */
static const char *
refuse_call(script_state_t *st, cmd_def_t *cmd) {
    engine_t *s = st->eng;
    script_run_t *run = st->run;
    /* The answer per command id, worked out once (the deny list is a loop of strcmp). */
    if (cmd->id >= st->ndeny) {
        uint32_t n = s->ncmd_stats > cmd->id ? s->ncmd_stats : cmd->id + 1;
        st->deny = krealloc(st->deny, n);
        memset(st->deny + st->ndeny, 0, n - st->ndeny);
        st->ndeny = n;
    }
    if (!st->deny[cmd->id])
        st->deny[cmd->id] = denied_in_script(cmd) ? 2 : 1;
    if (st->deny[cmd->id] == 2)
        return "This Redis command is not allowed from script";
    if (cmd->flags & CMD_WRITE) {
        if (run->read_only)
            return "Write commands are not allowed from read-only scripts.";
        if (s->read_only && !(run->caller->flags & CLIENT_FAKE))
            return "-READONLY You can't write against a read only replica.";
        if (s->wal_refuse_reason)
            return "-MISCONF Errors writing to the log: writes are refused";
        if (s->repl_refuse && !(run->caller->flags & CLIENT_FAKE))
            return s->repl_refuse;
    }
    if ((cmd->flags & CMD_DENYOOM) && !run->allow_oom && !run->wrote && s->cfg.maxmemory > 0 &&
        evict_perform(s) < 0)
        return "-OOM command not allowed when used memory > 'maxmemory'.";
    return NULL;
}

static int
call_generic(lua_State *L, bool raise) {
    script_state_t *st = state_of(L);
    script_run_t *run = st->run;
    engine_t *s = st->eng;
    int argc = lua_gettop(L);
    if (!run)
        return raise_cstr(L, "redis.call and redis.pcall are only available inside a script");
    const char *why = NULL;
    cmd_def_t *cmd = NULL;
    if (argc == 0)
        why = "Please specify at least one argument for this redis lib call";
    else if (!lua_args(st, L, argc))
        why = "Lua redis lib command arguments must be strings or integers";
    else if (!(cmd = cmd_resolve(s, argc, st->argv)))
        why = "Unknown Redis command called from script";
    else if (!cmd_arity_ok(cmd, argc))
        why = "Wrong number of args calling Redis command from script";
    else
        why = refuse_call(st, cmd);
    if (why) {
        slua_push_error(L, why, strlen(why));
        return raise ? lua_error(L) : 1;
    }
    client_t *f = st->fake;
    client_t *caller = run->caller;
    f->argc = argc;
    f->argv = st->argv;
    f->conn.olen = f->conn.osent = 0;
    f->user = caller->user;
    f->flags = (f->flags & ~(uint32_t)CLIENT_ACL_LIMITED) | (caller->flags & CLIENT_ACL_LIMITED);
    bool refused = (f->flags & CLIENT_ACL_LIMITED) && acl_refuse(f, cmd);
    if (!refused) {
        uint64_t dirty = s->dirty;
        f->flags |= CLIENT_IN_EXEC; /* as in EXEC: no blocking, tags at the end */
        exec_call(f, cmd);
        f->flags &= ~(uint32_t)CLIENT_IN_EXEC;
        if (s->dirty != dirty)
            run->wrote = true;
        uint64_t t = exec_read_tag(f, cmd);
        caller->reply_lsn = t > caller->reply_lsn ? t : caller->reply_lsn;
    }
    f->argc = 0;
    f->argv = NULL;
    const char *out = f->conn.obuf, *end = out + f->conn.olen;
    bool is_err = f->conn.olen > 0 && out[0] == '-';
    lua_settop(L, 0);
    slua_push_resp(L, out, end);
    f->conn.olen = f->conn.osent = 0;
    if (f->conn.ocap > 64 * 1024) { /* a big reply (KEYS *) does not keep its buffer */
        kfree(f->conn.obuf);
        f->conn.obuf = NULL;
        f->conn.ocap = 0;
    }
    if (raise && is_err)
        return lua_error(L);
    return 1;
}

static int
l_call(lua_State *L) {
    return call_generic(L, true);
}

static int
l_pcall_cmd(lua_State *L) {
    return call_generic(L, false);
}

/* The global pcall: an error table becomes its message, as Valkey's (scripts written for older
 * versions compare the message). */
static int
l_pcall(lua_State *L) {
    int argc = lua_gettop(L);
    luaL_checkany(L, 1);
    lua_pushboolean(L, 1);
    lua_insert(L, 1);
    if (lua_pcall(L, argc - 1, LUA_MULTRET, 0)) {
        lua_remove(L, 1);
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "err");
            if (lua_isstring(L, -1))
                lua_replace(L, -2);
            else
                lua_pop(L, 1);
        }
        lua_pushboolean(L, 0);
        lua_insert(L, 1);
    }
    return lua_gettop(L);
}

static int
l_sha1hex(lua_State *L) {
    if (lua_gettop(L) != 1)
        return raise_cstr(L, "wrong number of arguments");
    size_t n;
    const char *p = lua_tolstring(L, 1, &n);
    char hex[41];
    script_sha1_hex(p ? p : "", p ? n : 0, hex);
    lua_pushstring(L, hex);
    return 1;
}

static int
l_error_reply(lua_State *L) {
    if (lua_gettop(L) != 1 || lua_type(L, -1) != LUA_TSTRING) {
        slua_push_error(L, "wrong number or type of arguments", 33);
        return 1;
    }
    size_t n;
    const char *e = lua_tolstring(L, 1, &n);
    if (n > 0 && e[0] == '-') {
        slua_push_error(L, e, n);
    } else {
        lua_pushfstring(L, "-%s", e);
        e = lua_tolstring(L, -1, &n);
        slua_push_error(L, e, n);
    }
    return 1;
}

static int
l_status_reply(lua_State *L) {
    if (lua_gettop(L) != 1 || lua_type(L, -1) != LUA_TSTRING) {
        slua_push_error(L, "wrong number or type of arguments", 33);
        return 1;
    }
    lua_newtable(L);
    lua_pushvalue(L, 1);
    lua_setfield(L, -2, "ok");
    return 1;
}

static int
l_log(lua_State *L) {
    int argc = lua_gettop(L);
    if (argc < 2)
        return raise_cstr(L, "redis.log() requires two arguments or more.");
    if (!lua_isnumber(L, 1))
        return raise_cstr(L, "First argument must be a number (log level).");
    int level = (int)lua_tonumber(L, 1);
    if (level < 0 || level > 3)
        return raise_cstr(L, "Invalid debug level.");
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 2; i <= argc; i++) {
        size_t n;
        const char *s = lua_tolstring(L, i, &n);
        if (!s)
            continue;
        if (i > 2)
            luaL_addchar(&b, ' ');
        luaL_addlstring(&b, s, n);
    }
    luaL_pushresult(&b);
    static const int levels[] = {KLOG_DEBUG, KLOG_VERBOSE, KLOG_NOTICE, KLOG_WARNING};
    klog(levels[level], "%s", lua_tostring(L, -1));
    return 0;
}

static int
l_setresp(lua_State *L) {
    script_state_t *st = state_of(L);
    if (lua_gettop(L) != 1)
        return raise_cstr(L, "redis.setresp() requires one argument.");
    int resp = (int)lua_tonumber(L, 1);
    if (resp != 2 && resp != 3)
        return raise_cstr(L, "RESP version must be 2 or 3.");
    st->fake->resp = resp;
    return 0;
}

static int
l_set_repl(lua_State *L) {
    /* Every effect is logged: the log is both persistence and replication (Valkey keeps the
     * function; REPL_NONE there skips propagation, which a log-first server cannot do). */
    if (lua_gettop(L) != 1)
        return raise_cstr(L, "redis.set_repl() requires one argument.");
    int flags = (int)lua_tonumber(L, 1);
    if (flags & ~3)
        return raise_cstr(
            L, "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.");
    return 0;
}

static int
l_replicate_commands(lua_State *L) {
    lua_pushboolean(L, 1); /* effects replication is the only mode, as in Valkey 7+ */
    return 1;
}

static int
l_acl_check_cmd(lua_State *L) {
    script_state_t *st = state_of(L);
    int argc = lua_gettop(L);
    if (!st->run)
        return raise_cstr(L, "redis.acl_check_cmd is only available inside a script");
    if (argc == 0)
        return raise_cstr(L, "Please specify at least one argument for this redis lib call");
    if (!lua_args(st, L, argc))
        return raise_cstr(L, "Lua redis lib command arguments must be strings or integers");
    cmd_def_t *cmd = cmd_resolve(st->eng, argc, st->argv);
    if (!cmd)
        return raise_cstr(L, "Invalid command passed to redis.acl_check_cmd()");
    int pos = 0;
    lua_pushboolean(L, acl_check(st->eng, st->run->caller->user, cmd, argc, st->argv, &pos) == 0);
    return 1;
}

static int
l_noop(lua_State *L) {
    (void)L;
    return 0;
}

/* ---- the sandbox ---- */

static int
l_global_missing(lua_State *L) {
    const char *name = lua_tostring(L, 2);
    return luaL_error(L, "Script attempted to access nonexistent global variable '%s'",
                      name ? name : "?");
}

static int
l_readonly(lua_State *L) {
    return luaL_error(L, "Attempt to modify a readonly table");
}

/* rawset, refusing the read-only tables (REG_RO). */
static int
l_rawset(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, LUA_REGISTRYINDEX, REG_RO);
    lua_pushvalue(L, 1);
    lua_rawget(L, -2);
    bool ro = lua_toboolean(L, -1);
    lua_pop(L, 2);
    if (ro)
        return luaL_error(L, "Attempt to modify a readonly table");
    luaL_checkany(L, 2);
    luaL_checkany(L, 3);
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 1;
}

static void
mark_ro(lua_State *L, int idx) {
    idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
    lua_getfield(L, LUA_REGISTRYINDEX, REG_RO);
    lua_pushvalue(L, idx);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

/* Replace global `name` (a table) by a read-only proxy of it. */
static void
protect_global(lua_State *L, const char *name) {
    lua_getglobal(L, name);
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        return;
    }
    lua_newtable(L); /* the proxy */
    lua_newtable(L); /* its metatable */
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_readonly);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    mark_ro(L, -1);
    lua_setglobal(L, name);
    lua_pop(L, 1);
}

/* Open a library; one that only returns its table (cjson) is made the global `name`. */
static void
open_lib(lua_State *L, const char *name, lua_CFunction fn) {
    lua_pushcfunction(L, fn);
    lua_pushstring(L, name);
    lua_call(L, 1, 1);
    if (name[0] && lua_istable(L, -1)) {
        lua_getglobal(L, name);
        bool set = !lua_isnil(L, -1);
        lua_pop(L, 1);
        if (!set) {
            lua_setglobal(L, name);
            return;
        }
    }
    lua_pop(L, 1);
}

static void
set_fn(lua_State *L, script_state_t *st, const char *name, lua_CFunction fn) {
    lua_pushlightuserdata(L, st);
    lua_pushcclosure(L, fn, 1);
    lua_setfield(L, -2, name);
}

static void
set_num(lua_State *L, const char *name, double v) {
    lua_pushnumber(L, v);
    lua_setfield(L, -2, name);
}

/* The redis/server table (the same table under both names). */
static void
push_api(lua_State *L, script_state_t *st) {
    lua_newtable(L);
    set_fn(L, st, "call", l_call);
    set_fn(L, st, "pcall", l_pcall_cmd);
    set_fn(L, st, "sha1hex", l_sha1hex);
    set_fn(L, st, "error_reply", l_error_reply);
    set_fn(L, st, "status_reply", l_status_reply);
    set_fn(L, st, "log", l_log);
    set_fn(L, st, "setresp", l_setresp);
    set_fn(L, st, "set_repl", l_set_repl);
    set_fn(L, st, "replicate_commands", l_replicate_commands);
    set_fn(L, st, "acl_check_cmd", l_acl_check_cmd);
    set_fn(L, st, "breakpoint", l_noop);
    set_fn(L, st, "debug", l_noop);
    set_num(L, "LOG_DEBUG", 0);
    set_num(L, "LOG_VERBOSE", 1);
    set_num(L, "LOG_NOTICE", 2);
    set_num(L, "LOG_WARNING", 3);
    set_num(L, "REPL_NONE", 0);
    set_num(L, "REPL_AOF", 1);
    set_num(L, "REPL_SLAVE", 2);
    set_num(L, "REPL_REPLICA", 2);
    set_num(L, "REPL_ALL", 3);
    lua_pushstring(L, KEEL_REDIS_COMPAT_VERSION);
    lua_setfield(L, -2, "REDIS_VERSION");
    int maj = 0, min = 0, pat = 0;
    sscanf(KEEL_REDIS_COMPAT_VERSION, "%d.%d.%d", &maj, &min, &pat);
    set_num(L, "REDIS_VERSION_NUM", (double)(maj << 16 | min << 8 | pat));
}

static void *
lua_alloc_cb(void *ud, void *ptr, size_t osize, size_t nsize) {
    (void)ud;
    (void)osize;
    if (nsize == 0) {
        kfree(ptr);
        return NULL;
    }
    return krealloc(ptr, nsize);
}

lua_State *
slua_create(script_state_t *st) {
    lua_State *L = lua_newstate(lua_alloc_cb, NULL);
    if (!L)
        return NULL;
    open_lib(L, "", luaopen_base);
    open_lib(L, LUA_TABLIBNAME, luaopen_table);
    open_lib(L, LUA_STRLIBNAME, luaopen_string);
    open_lib(L, LUA_MATHLIBNAME, luaopen_math);
    open_lib(L, "cjson", luaopen_cjson);
    open_lib(L, "bit", luaopen_bit);
    open_lib(L, "cmsgpack", luaopen_cmsgpack);
    open_lib(L, "struct", luaopen_struct);
    static const char *const removed[] = {"print",    "dofile", "loadfile", "getfenv", "setfenv",
                                          "newproxy", "module", "require",  NULL};
    for (int i = 0; removed[i]; i++) {
        lua_pushnil(L);
        lua_setglobal(L, removed[i]);
    }
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_RO);
    static const char *const regs[] = {REG_SCRIPTS, REG_LIBS, REG_FUNCS, NULL};
    for (int i = 0; regs[i]; i++) {
        lua_newtable(L);
        lua_setfield(L, LUA_REGISTRYINDEX, regs[i]);
    }
    lua_pushcfunction(L, l_pcall);
    lua_setglobal(L, "pcall");
    lua_pushcfunction(L, l_rawset);
    lua_setglobal(L, "rawset");
    push_api(L, st);
    lua_pushvalue(L, -1);
    lua_setglobal(L, "redis");
    lua_setglobal(L, "server");
    static const char *const libs[] = {"string",   "table",  "math",      "cjson", "bit",
                                       "cmsgpack", "struct", "coroutine", "redis", NULL};
    for (int i = 0; libs[i]; i++)
        protect_global(L, libs[i]);
    lua_getglobal(L, "redis");
    lua_setglobal(L, "server");
    /* The strings' metatable: protected, so that its __index (the string library) is hidden. */
    lua_pushstring(L, "");
    if (lua_getmetatable(L, -1)) {
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    /* Globals last: from here every new global is an error. */
    lua_pushvalue(L, LUA_GLOBALSINDEX);
    lua_newtable(L);
    lua_pushcfunction(L, l_global_missing);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_readonly);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    mark_ro(L, -1);
    lua_pop(L, 1);
    return L;
}

/* ---- shebang and compiling ---- */

static const struct {
    const char *name;
    uint32_t flag;
} flag_names[] = {
    {"no-writes", SCRIPT_FLAG_NO_WRITES},
    {"allow-oom", SCRIPT_FLAG_ALLOW_OOM},
    {"allow-stale", SCRIPT_FLAG_ALLOW_STALE},
    {"no-cluster", SCRIPT_FLAG_NO_CLUSTER},
    {"allow-cross-slot-keys", SCRIPT_FLAG_ALLOW_CROSS_SLOT},
};

int
slua_shebang(const char *body, size_t len, uint32_t *flags, char *name, size_t namelen,
             size_t *shebang_len, char *err, size_t errlen) {
    *flags = 0;
    *shebang_len = 0;
    if (name && namelen)
        name[0] = 0;
    if (len < 2 || body[0] != '#' || body[1] != '!') {
        *flags = SCRIPT_FLAG_EVAL_COMPAT;
        return 0;
    }
    const char *nl = memchr(body, '\n', len);
    size_t l = nl ? (size_t)(nl - body) : len;
    *shebang_len = l;
    /* words: the engine, then key=value options */
    size_t i = 2, w = 0;
    while (i < l) {
        while (i < l && body[i] == ' ')
            i++;
        size_t st = i;
        while (i < l && body[i] != ' ')
            i++;
        if (i == st)
            break;
        const char *word = body + st;
        size_t wl = i - st;
        if (w++ == 0) {
            if (wl != 3 || strncmp(word, "lua", 3) != 0) {
                snprintf(err, errlen, "ERR Unexpected engine in script shebang: %.*s", (int)wl,
                         word);
                return -1;
            }
            continue;
        }
        if (wl >= 6 && strncmp(word, "flags=", 6) == 0) {
            size_t p = 6;
            while (p < wl) {
                size_t fs = p;
                while (p < wl && word[p] != ',')
                    p++;
                size_t fl = p - fs;
                p++;
                if (fl == 0)
                    continue;
                size_t k = 0;
                for (; k < sizeof flag_names / sizeof *flag_names; k++)
                    if (strlen(flag_names[k].name) == fl &&
                        strncmp(flag_names[k].name, word + fs, fl) == 0)
                        break;
                if (k == sizeof flag_names / sizeof *flag_names) {
                    snprintf(err, errlen, "ERR Unexpected flag in script shebang: %.*s", (int)fl,
                             word + fs);
                    return -1;
                }
                *flags |= flag_names[k].flag;
            }
        } else if (name && wl >= 5 && strncmp(word, "name=", 5) == 0) {
            snprintf(name, namelen, "%.*s", (int)(wl - 5), word + 5);
        } else {
            snprintf(err, errlen, "ERR Unknown lua shebang option: %.*s", (int)wl, word);
            return -1;
        }
    }
    return 0;
}

int
slua_compile(lua_State *L, const char *body, size_t len, const char *chunkname, char *err,
             size_t errlen) {
    int rc;
    if (len >= 2 && body[0] == '#' && body[1] == '!') {
        char *copy = kmalloc(len);
        memcpy(copy, body, len);
        copy[0] = copy[1] = '-'; /* the shebang line becomes a comment; line numbers stay */
        rc = luaL_loadbuffer(L, copy, len, chunkname);
        kfree(copy);
    } else {
        rc = luaL_loadbuffer(L, body, len, chunkname);
    }
    if (rc != 0) {
        snprintf(err, errlen, "%s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    return 0;
}

/* ---- running ---- */

static void
count_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    lua_getfield(L, LUA_REGISTRYINDEX, "keel_state");
    script_state_t *st = lua_touserdata(L, -1);
    lua_pop(L, 1);
    script_run_t *run = st ? st->run : NULL;
    if (!run)
        return;
    engine_t *s = st->eng;
    if (!run->timedout) {
        uint64_t ms = (util_mono_us() - run->start_us) / 1000;
        if (s->cfg.busy_reply_threshold_ms <= 0 || ms < (uint64_t)s->cfg.busy_reply_threshold_ms)
            return;
        klog(KLOG_WARNING,
             "Slow script detected: still in execution after %llu milliseconds. You can try "
             "killing the script using the %s command. Script name is: %s.",
             (unsigned long long)ms, run->eval ? "SCRIPT KILL" : "FUNCTION KILL", run->name);
        run->timedout = true;
        s->busy_script = run->eval ? ENGINE_BUSY_EVAL : ENGINE_BUSY_FUNCTION;
        run->caller->conn.flags |= CONN_PROTECTED;
    }
    /* Other clients get -BUSY (exec.c), SCRIPT KILL and SHUTDOWN NOSAVE run. Not on a replica:
     * its link to the primary would apply the primary's records in the middle of the script
     * (and inside its effect scope), so a replica's long script runs to its end. */
    if (s->loop && !s->read_only) {
        ev_poll(s->loop, 0);
        net_run_reads(s->net); /* other clients' commands read by I/O threads: -BUSY */
    }
    if (s->net && !s->read_only)
        net_flush(s->net);
    if (s->shutdown_asap)
        run->killed = true;
    if (run->killed) {
        /* Every line from now on raises again, so a pcall cannot swallow the kill. */
        lua_sethook(L, count_hook, LUA_MASKLINE, 0);
        raise_cstr(L, run->eval ? "Script killed by user with SCRIPT KILL."
                                : "Script killed by user with FUNCTION KILL.");
    }
}

static void
push_array(lua_State *L, int n, const karg_t *v) {
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushlstring(L, v[i].p, v[i].n);
        lua_rawseti(L, -2, i + 1);
    }
}

/* The error at the top as Valkey words it: "<err> script: <name>, on <source>:<line>." */
static void
reply_error(client_t *c, lua_State *L, const char *name) {
    if (!lua_istable(L, -1)) {
        const char *m = lua_tostring(L, -1);
        reply_errf(c, "ERR Error running script %s, %.100s", name, m ? m : "execution failure");
        return;
    }
    lua_getfield(L, -1, "err");
    lua_getfield(L, -2, "source");
    lua_getfield(L, -3, "line");
    const char *err = lua_tostring(L, -3);
    const char *src = lua_tostring(L, -2), *line = lua_tostring(L, -1);
    if (!err)
        err = "ERR unknown error";
    char *msg;
    size_t n = strlen(err) + strlen(name) + (src ? strlen(src) : 0) + 64;
    msg = kmalloc(n);
    if (src && line)
        snprintf(msg, n, "%s script: %s, on %s:%s.", err, name, src, line);
    else
        snprintf(msg, n, "%s", err);
    for (char *p = msg; *p; p++)
        if (*p == '\r' || *p == '\n')
            *p = ' ';
    reply_err(c, msg);
    kfree(msg);
    lua_pop(L, 3);
}

void
slua_call(script_state_t *st, client_t *c, script_run_t *run, int nkeys, const karg_t *keys,
          int nargs, const karg_t *args, bool eval) {
    lua_State *L = st->L;
    engine_t *s = st->eng;
    st->run = run;
    st->fake->db = c->db;
    st->fake->db_id = c->db_id;
    st->fake->resp = 2;
    run->start_us = util_mono_us();
    if (s->cfg.busy_reply_threshold_ms > 0)
        lua_sethook(L, count_hook, LUA_MASKCOUNT, HOOK_INSTRUCTIONS);
    if (eval) {
        lua_pushvalue(L, LUA_GLOBALSINDEX); /* KEYS and ARGV: past the read-only metatable */
        lua_pushstring(L, "KEYS");
        push_array(L, nkeys, keys);
        lua_rawset(L, -3);
        lua_pushstring(L, "ARGV");
        push_array(L, nargs, args);
        lua_rawset(L, -3);
        lua_pop(L, 1);
    } else {
        push_array(L, nkeys, keys);
        push_array(L, nargs, args);
    }
    int rc = slua_pcall(L, eval ? 0 : 2);
    lua_sethook(L, NULL, 0, 0);
    if (eval) { /* no later script (a function of another user) sees this one's arguments */
        lua_pushvalue(L, LUA_GLOBALSINDEX);
        lua_pushstring(L, "KEYS");
        lua_pushnil(L);
        lua_rawset(L, -3);
        lua_pushstring(L, "ARGV");
        lua_pushnil(L);
        lua_rawset(L, -3);
        lua_pop(L, 1);
    }
    st->run = NULL;
    if (rc != 0)
        reply_error(c, L, run->name);
    else
        slua_reply(c, L, st->fake->resp);
    lua_settop(L, 0);
    /* A small collection step every SLUA_GC_PERIOD runs, so Lua never stops for a full cycle
     * of its own (Valkey does the same). */
    if (++st->runs % SLUA_GC_PERIOD == 0)
        lua_gc(L, LUA_GCSTEP, SLUA_GC_PERIOD);
}
