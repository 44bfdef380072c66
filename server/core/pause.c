/*
 * pause.c - CLIENT PAUSE (see pause.h). Main thread only.
 *
 * States of a client: running --pause_park_if_needed--> PAUSE_WAIT (queued, input paused)
 * --pause_end (UNPAUSE or the deadline in pause_cron)--> its command runs --> running.
 */
#include "pause.h"

#include <string.h>

#include "cmd.h"
#include "engine.h"
#include "exec.h"
#include "kmem.h"
#include "util.h"

bool
pause_active(const engine_t *s) {
    return s->pause_kind != PAUSE_NONE;
}

void
pause_start(engine_t *s, int64_t until_ms, int kind) {
    if (until_ms > s->paused_until_ms || s->pause_kind == PAUSE_NONE)
        s->paused_until_ms = until_ms;
    if (kind > s->pause_kind)
        s->pause_kind = kind;
}

/* Whether a command waits under the current pause. */
static bool
must_wait(const engine_t *s, const client_t *c, const cmd_def_t *cmd) {
    if (s->pause_kind == PAUSE_ALL)
        return true;
    if (cmd->flags & (CMD_WRITE | CMD_MAY_REPLICATE))
        return true;
    if (!strcmp(cmd->name, "exec") && (c->flags & CLIENT_MULTI) &&
        !(c->flags & (CLIENT_DIRTY_EXEC | CLIENT_DIRTY_CAS)))
        for (int i = 0; i < c->mcount; i++)
            if (c->mstate[i].cmd->flags & (CMD_WRITE | CMD_MAY_REPLICATE))
                return true;
    return false;
}

bool
pause_park_if_needed(client_t *c, cmd_def_t *cmd) {
    engine_t *s = c->eng;
    if (s->pause_kind == PAUSE_NONE || (c->flags & (CLIENT_FAKE | CLIENT_REPLICA)))
        return false;
    if (util_time_ms() >= s->paused_until_ms)
        return false; /* over already; the waiting clients run before the loop sleeps */
    if (!must_wait(s, c, cmd))
        return false;
    c->pause_argc = c->argc;
    c->pause_argv = cmd_argv_copy(c->argc, c->argv);
    c->pause_next = NULL;
    if (s->pause_tail)
        s->pause_tail->pause_next = c;
    else
        s->pause_head = c;
    s->pause_tail = c;
    s->pause_nwaiting++;
    c->flags |= CLIENT_PAUSE_WAIT;
    return true;
}

void
pause_end(engine_t *s) {
    s->pause_kind = PAUSE_NONE;
    s->paused_until_ms = 0;
}

int64_t
pause_before_sleep(engine_t *s) {
    if (s->pause_kind != PAUSE_NONE && util_time_ms() >= s->paused_until_ms)
        pause_end(s);
    /* Run the waiting commands in the order they came. One of them may pause again (CLIENT
     * PAUSE queued behind a write): the rest then wait for that pause. */
    while (s->pause_head && s->pause_kind == PAUSE_NONE) {
        client_t *c = s->pause_head;
        s->pause_head = c->pause_next;
        if (!s->pause_head)
            s->pause_tail = NULL;
        s->pause_nwaiting--;
        c->pause_next = NULL;
        c->flags &= ~(uint32_t)CLIENT_PAUSE_WAIT;
        karg_t *argv = c->pause_argv;
        c->pause_argv = NULL;
        if (!(c->conn.flags & CONN_CLOSE_ASAP)) {
            c->argc = c->pause_argc;
            c->argv = argv;
            exec_command(c);
            c->argc = 0;
            c->argv = NULL;
        }
        kfree(argv);
        if (!(c->flags & (CLIENT_TIER_WAIT | CLIENT_BLOCKED | CLIENT_PAUSE_WAIT)))
            client_resume(c);
    }
    return s->pause_kind != PAUSE_NONE ? s->paused_until_ms : 0;
}

void
pause_client_gone(client_t *c) {
    if (!(c->flags & CLIENT_PAUSE_WAIT))
        return;
    engine_t *s = c->eng;
    client_t **pp = &s->pause_head, *prev = NULL;
    while (*pp && *pp != c) {
        prev = *pp;
        pp = &(*pp)->pause_next;
    }
    if (*pp) {
        *pp = c->pause_next;
        if (s->pause_tail == c)
            s->pause_tail = prev;
        s->pause_nwaiting--;
    }
    kfree(c->pause_argv);
    c->pause_argv = NULL;
    c->flags &= ~(uint32_t)CLIENT_PAUSE_WAIT;
}

const char *
pause_actions_name(const engine_t *s) {
    return s->pause_kind == PAUSE_ALL ? "all" : s->pause_kind == PAUSE_WRITE ? "write" : "none";
}

int64_t
pause_remaining_ms(const engine_t *s) {
    if (s->pause_kind == PAUSE_NONE)
        return 0;
    int64_t left = s->paused_until_ms - util_time_ms();
    return left > 0 ? left : 0;
}

size_t
pause_waiting(const engine_t *s) {
    return s->pause_nwaiting;
}
