/*
 * script.c - EVAL, EVALSHA, their _RO forms and SCRIPT LOAD/EXISTS/FLUSH/KILL; the engine's Lua
 * state, the checks before a run and busy mode.
 *
 * A run, start to end (all on the main thread, inside the caller's exec_command):
 *   script_prepare   flags and *_RO, replica, OOM checks (Valkey's scriptPrepareForRun order)
 *   slua_call        KEYS/ARGV, lua_pcall with the error handler and, when
 *                    busy-reply-threshold > 0, the count hook every HOOK_INSTRUCTIONS
 *     count_hook     past the threshold: busy mode (engine_t.busy_script set, the caller's conn
 *                    CONN_PROTECTED), then each period ev_poll(0) + net_flush, so other clients
 *                    get -BUSY (exec.c) and SCRIPT KILL / FUNCTION KILL / SHUTDOWN NOSAVE run;
 *                    a kill raises an error the script cannot catch
 *     redis.call     exec_call on the fake client, inside the caller's effect scope
 *   script_finish    leave busy mode; effects dropped if the server is shutting down
 * exec_command then ends the scope: the script's writes are one log record.
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "evict.h"
#include "klog.h"
#include "kmem.h"
#include "reply.h"
#include "sbuf.h"
#include "script.h"
#include "script_int.h"
#include "util.h"

script_state_t *
script_state(engine_t *s) {
    if (s->script)
        return s->script;
    script_state_t *st = kcalloc(1, sizeof *st);
    st->eng = s;
    st->L = slua_create(st);
    if (!st->L) {
        kfree(st);
        return NULL;
    }
    lua_pushlightuserdata(st->L, st);
    lua_setfield(st->L, LUA_REGISTRYINDEX, "keel_state");
    st->fake = client_create(s, -1);
    s->script = st;
    return st;
}

int
script_getkeys(int argc, karg_t *argv, int *idx, int max) {
    long long n;
    if (argc < 3 || !util_parse_ll(argv[2].p, argv[2].n, &n) || n < 0 || n > argc - 3)
        return -1;
    int k = 0;
    for (long long i = 0; i < n && k < max; i++)
        idx[k++] = 3 + (int)i;
    return k;
}

int
script_numkeys(client_t *c) {
    long long n;
    if (!util_parse_ll(c->argv[2].p, c->argv[2].n, &n)) {
        reply_err(c, ERR_NOT_INT);
        return -1;
    }
    if (n > c->argc - 3) {
        reply_err(c, "ERR Number of keys can't be greater than number of args");
        return -1;
    }
    if (n < 0) {
        reply_err(c, "ERR Number of keys can't be negative");
        return -1;
    }
    return (int)n;
}

bool
script_prepare(script_state_t *st, client_t *c, script_run_t *run, uint32_t flags, bool ro,
               bool eval, const char *name) {
    engine_t *s = st->eng;
    if (!(flags & SCRIPT_FLAG_EVAL_COMPAT) && !(flags & SCRIPT_FLAG_NO_WRITES)) {
        if (s->read_only && !(c->flags & CLIENT_FAKE)) {
            reply_err(c, "READONLY Can not run script with write flag on readonly replica");
            return false;
        }
        if (s->wal_refuse_reason) {
            reply_errf(c, "ERR write refused: %s", s->wal_refuse_reason);
            return false;
        }
        if (ro) {
            reply_err(c, "ERR Can not execute a script with write flag using *_ro command.");
            return false;
        }
        if (s->repl_refuse && !(c->flags & CLIENT_FAKE)) {
            reply_err(c, s->repl_refuse);
            return false;
        }
    }
    if (!(flags & SCRIPT_FLAG_EVAL_COMPAT) &&
        !(flags & (SCRIPT_FLAG_ALLOW_OOM | SCRIPT_FLAG_NO_WRITES)) && s->cfg.maxmemory > 0 &&
        evict_perform(s) < 0) {
        reply_err(c, "OOM allow-oom flag is not set on the script, can not run it when used memory "
                     "> 'maxmemory'");
        return false;
    }
    *run = (script_run_t){.caller = c, .eval = eval};
    snprintf(run->name, sizeof run->name, "%s", name);
    run->read_only = ro || (!(flags & SCRIPT_FLAG_EVAL_COMPAT) && (flags & SCRIPT_FLAG_NO_WRITES));
    run->allow_oom = !(flags & SCRIPT_FLAG_EVAL_COMPAT) && (flags & SCRIPT_FLAG_ALLOW_OOM);
    return true;
}

void
script_finish(script_state_t *st, script_run_t *run) {
    engine_t *s = st->eng;
    if (run->timedout) {
        s->busy_script = ENGINE_BUSY_NONE;
        run->caller->conn.flags &= ~(uint32_t)CONN_PROTECTED;
        klog(KLOG_NOTICE, "Slow script finished: %s", run->name);
    }
    if (s->shutdown_asap && run->killed)
        prop_discard(&s->prop); /* SHUTDOWN NOSAVE: no half script in the log */
}

/* ---- the EVAL cache ---- */

/* Pushes the cached {fn, flags} of sha, or nothing and false. */
static bool
cache_get(lua_State *L, const char *sha) {
    lua_getfield(L, LUA_REGISTRYINDEX, REG_SCRIPTS);
    lua_getfield(L, -1, sha);
    lua_remove(L, -2);
    if (lua_istable(L, -1))
        return true;
    lua_pop(L, 1);
    return false;
}

static void
lru_unlink(script_state_t *st, script_lru_t *n) {
    *(n->prev ? &n->prev->next : &st->lru_head) = n->next;
    *(n->next ? &n->next->prev : &st->lru_tail) = n->prev;
    n->prev = n->next = NULL;
    st->lru_len--;
}

static void
lru_append(script_state_t *st, script_lru_t *n) {
    n->prev = st->lru_tail;
    n->next = NULL;
    *(st->lru_tail ? &st->lru_tail->next : &st->lru_head) = n;
    st->lru_tail = n;
    st->lru_len++;
}

/* The entry at the top was used: an EVAL-loaded one moves to the tail; keep=true (SCRIPT LOAD)
 * makes it permanent. */
static void
lru_touch(script_state_t *st, bool keep) {
    lua_State *L = st->L;
    lua_getfield(L, -1, "lru");
    script_lru_t *n = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (!n)
        return;
    lru_unlink(st, n);
    if (!keep) {
        lru_append(st, n);
        return;
    }
    kfree(n);
    lua_pushnil(L);
    lua_setfield(L, -2, "lru");
}

/* A new EVAL-loaded entry (at the top) joins the order; the least recently used one goes when
 * there are more than SCRIPT_EVAL_CACHE_MAX. */
static void
lru_add(script_state_t *st, const char *sha) {
    lua_State *L = st->L;
    script_lru_t *n = kmalloc(sizeof *n);
    memcpy(n->sha, sha, 41);
    lru_append(st, n);
    lua_pushlightuserdata(L, n);
    lua_setfield(L, -2, "lru");
    if (st->lru_len <= SCRIPT_EVAL_CACHE_MAX)
        return;
    script_lru_t *old = st->lru_head;
    lua_getfield(L, LUA_REGISTRYINDEX, REG_SCRIPTS);
    lua_pushnil(L);
    lua_setfield(L, -2, old->sha);
    lua_pop(L, 1);
    lru_unlink(st, old);
    kfree(old);
    st->nscripts--;
    st->evicted_scripts++;
}

static void
lru_free(script_state_t *st) {
    while (st->lru_head) {
        script_lru_t *n = st->lru_head;
        lru_unlink(st, n);
        kfree(n);
    }
}

/* Compile body into the cache under its sha (hex out); pushes its {fn, flags}. Returns false
 * after replying the error. from_eval: EVAL's (evictable), else SCRIPT LOAD's. */
static bool
cache_add(script_state_t *st, client_t *c, const char *body, size_t len, char sha[41],
          bool from_eval) {
    lua_State *L = st->L;
    script_sha1_hex(body, len, sha);
    if (cache_get(L, sha)) {
        lru_touch(st, !from_eval);
        return true;
    }
    uint32_t flags;
    size_t sl;
    char err[512];
    if (slua_shebang(body, len, &flags, NULL, 0, &sl, err, sizeof err) < 0) {
        reply_err(c, err);
        return false;
    }
    if (slua_compile(L, body, len, "@user_script", err, sizeof err) < 0) {
        reply_errf(c, "ERR Error compiling script (new function): %s", err);
        return false;
    }
    lua_newtable(L);
    lua_insert(L, -2);
    lua_setfield(L, -2, "fn");
    lua_pushnumber(L, flags);
    lua_setfield(L, -2, "flags");
    lua_getfield(L, LUA_REGISTRYINDEX, REG_SCRIPTS);
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, sha);
    lua_pop(L, 1);
    st->nscripts++;
    if (from_eval)
        lru_add(st, sha);
    return true;
}

static void
eval_generic(client_t *c, bool by_sha, bool ro) {
    script_state_t *st = script_state(c->eng);
    if (!st) {
        reply_err(c, "ERR the Lua engine could not start");
        return;
    }
    lua_State *L = st->L;
    int nkeys = script_numkeys(c);
    if (nkeys < 0)
        return;
    char sha[41];
    if (by_sha) {
        size_t n = c->argv[1].n;
        for (size_t i = 0; i < 40; i++)
            sha[i] = i < n ? (char)(c->argv[1].p[i] |
                                    (c->argv[1].p[i] >= 'A' && c->argv[1].p[i] <= 'Z' ? 0x20 : 0))
                           : 0;
        sha[40] = 0;
        if (n != 40 || !cache_get(L, sha)) {
            reply_err(c, "NOSCRIPT No matching script. Please use EVAL.");
            return;
        }
        lru_touch(st, false);
    } else if (!cache_add(st, c, c->argv[1].p, c->argv[1].n, sha, true)) {
        return;
    }
    lua_getfield(L, -1, "flags");
    uint32_t flags = (uint32_t)lua_tonumber(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, -1, "fn");
    lua_remove(L, -2);
    script_run_t run;
    if (!script_prepare(st, c, &run, flags, ro, true, sha)) {
        lua_settop(L, 0);
        return;
    }
    slua_call(st, c, &run, nkeys, c->argv + 3, c->argc - 3 - nkeys, c->argv + 3 + nkeys, true);
    script_finish(st, &run);
}

void
script_eval_cmd(client_t *c) {
    eval_generic(c, false, false);
}

void
script_evalsha_cmd(client_t *c) {
    eval_generic(c, true, false);
}

void
script_eval_ro_cmd(client_t *c) {
    eval_generic(c, false, true);
}

void
script_evalsha_ro_cmd(client_t *c) {
    eval_generic(c, true, true);
}

/* ---- SCRIPT ---- */

void
script_load_cmd(client_t *c) {
    script_state_t *st = script_state(c->eng);
    if (!st) {
        reply_err(c, "ERR the Lua engine could not start");
        return;
    }
    char sha[41];
    if (!cache_add(st, c, c->argv[2].p, c->argv[2].n, sha, false))
        return;
    lua_settop(st->L, 0);
    reply_bulk(c, sha, 40);
}

void
script_exists_cmd(client_t *c) {
    script_state_t *st = script_state(c->eng);
    reply_array(c, c->argc - 2);
    for (int i = 2; i < c->argc; i++) {
        char sha[41];
        bool ok = false;
        if (st && c->argv[i].n == 40) {
            for (int k = 0; k < 40; k++) {
                char ch = c->argv[i].p[k];
                sha[k] = ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch;
            }
            sha[40] = 0;
            ok = cache_get(st->L, sha);
            if (ok)
                lua_pop(st->L, 1);
        }
        reply_int(c, ok);
    }
}

void
script_flush_cmd(client_t *c) {
    if (c->argc > 3 ||
        (c->argc == 3 && !cmd_arg_is(&c->argv[2], "sync") && !cmd_arg_is(&c->argv[2], "async"))) {
        reply_err(c, "ERR SCRIPT FLUSH only support SYNC|ASYNC option");
        return;
    }
    script_state_t *st = c->eng->script;
    if (st) {
        lua_newtable(st->L);
        lua_setfield(st->L, LUA_REGISTRYINDEX, REG_SCRIPTS);
        lua_gc(st->L, LUA_GCCOLLECT, 0);
        st->nscripts = 0;
        lru_free(st);
    }
    reply_ok(c);
}

/* SCRIPT KILL and FUNCTION KILL (eval: which one). */
static void
kill_generic(client_t *c, bool eval) {
    script_state_t *st = c->eng->script;
    script_run_t *run = st ? st->run : NULL;
    if (!run) {
        reply_err(c, "NOTBUSY No scripts in execution right now.");
    } else if (run->caller->flags & CLIENT_FAKE) {
        reply_err(c, "UNKILLABLE The busy script was sent by a master instance in the context of "
                     "replication and cannot be killed.");
    } else if (run->wrote) {
        reply_err(c, "UNKILLABLE Sorry the script already executed write commands against the "
                     "dataset. You can either wait the script termination or kill the server in a "
                     "hard way using the SHUTDOWN NOSAVE command.");
    } else if (eval != run->eval) {
        reply_errf(c,
                   "BUSY Redis is busy running a script. You can only call %s KILL or SHUTDOWN "
                   "NOSAVE.",
                   run->eval ? "SCRIPT" : "FUNCTION");
    } else {
        run->killed = true;
        reply_ok(c);
    }
}

void
script_kill_cmd(client_t *c) {
    kill_generic(c, true);
}

void
function_kill_cmd(client_t *c) {
    kill_generic(c, false);
}

void
script_info_memory(engine_t *s, sbuf_t *b) {
    script_state_t *st = s->script;
    long long vm =
        st ? (long long)lua_gc(st->L, LUA_GCCOUNT, 0) * 1024 + lua_gc(st->L, LUA_GCCOUNTB, 0) : 0;
    sbuf_printf(b,
                "used_memory_lua:%lld\r\nused_memory_vm_eval:%lld\r\n"
                "used_memory_vm_functions:%lld\r\nused_memory_vm_total:%lld\r\n"
                "number_of_cached_scripts:%llu\r\nnumber_of_functions:%llu\r\n"
                "number_of_libraries:%llu\r\nevicted_scripts:%llu\r\n",
                vm, vm, vm, vm, st ? (unsigned long long)st->nscripts : 0ULL,
                st ? (unsigned long long)st->nfuncs : 0ULL,
                st ? (unsigned long long)st->nlibs : 0ULL,
                st ? (unsigned long long)st->evicted_scripts : 0ULL);
}
