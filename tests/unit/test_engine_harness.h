/*
 * test_engine_harness.h - for unit tests that run commands on an engine in-process: one client
 * without a socket (`c`), every log record captured in memory (`rec`, `rec_len`, `nrec`), each
 * command's reply as RESP text (`reply`, `reply_len`). The test file builds `srv` its own way
 * (engine_init, or a hand-made engine with stand-in types) and then calls harness_attach().
 *
 * Header-only and static: each unit test is its own executable.
 */
#ifndef KEEL_TEST_ENGINE_HARNESS_H
#define KEEL_TEST_ENGINE_HARNESS_H

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "engine.h"
#include "exec.h"
#include "prop.h"

static engine_t srv;
static client_t *c;
static char *rec; /* every record captured since the last clear_log, concatenated, NUL-ended */
static size_t rec_len, rec_cap;
static int nrec;
static char reply[1 << 20];
static size_t reply_len;

__attribute__((unused)) static int64_t
harness_capture_sink(void *ctx, uint32_t db, const void *payload, size_t len) {
    (void)ctx;
    (void)db;
    if (rec_len + len + 1 > rec_cap) {
        rec_cap = (rec_len + len + 1) * 2;
        rec = realloc(rec, rec_cap);
        cr_assert_not_null(rec);
    }
    memcpy(rec + rec_len, payload, len);
    rec_len += len;
    rec[rec_len] = 0;
    return ++nrec;
}

__attribute__((unused)) static void
clear_log(void) {
    rec_len = 0;
    if (!rec) {
        rec_cap = 4096;
        rec = malloc(rec_cap);
        cr_assert_not_null(rec);
    }
    rec[0] = 0;
    nrec = 0;
}

/* After srv is built: the log's records go to `rec`, and `c` is the client commands run on. */
__attribute__((unused)) static void
harness_attach(void) {
    prop_set_sink(&srv.prop, harness_capture_sink, NULL);
    c = client_create(&srv, -1);
    clear_log();
}

/* Runs one command (argc arguments, binary-safe); returns its reply, also in reply[0, reply_len).
 * The client's output buffer is emptied after each command (it never flushes). */
__attribute__((unused)) static const char *
run_argv(int argc, karg_t *argv) {
    c->argc = argc;
    c->argv = argv;
    size_t from = c->conn.olen;
    exec_command(c);
    reply_len = c->conn.olen - from;
    cr_assert_lt(reply_len, sizeof reply);
    memcpy(reply, c->conn.obuf + from, reply_len);
    reply[reply_len] = 0;
    c->conn.olen = from;
    c->argc = 0;
    c->argv = NULL;
    return reply;
}

/* Runs one command given as NULL-terminated strings (RUN(...) adds the NULL). */
__attribute__((unused)) static const char *
run_v(const char *first, ...) {
    karg_t argv[64];
    int argc = 0;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a; a = va_arg(ap, const char *)) {
        cr_assert_lt(argc, 64);
        argv[argc++] = (karg_t){a, strlen(a)};
    }
    va_end(ap);
    return run_argv(argc, argv);
}
#define RUN(...) run_v(__VA_ARGS__, (const char *)NULL)

#endif
