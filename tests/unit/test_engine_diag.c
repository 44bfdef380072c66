/*
 * test_engine_diag.c - the operator diagnostics: the slow log (threshold, trimming of long
 * argument lists and long arguments, the length limit, ids), INFO errorstats (codes, order, the
 * overflow bucket) and the latency monitor (threshold, one sample per second, reset).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "errstats.h"
#include "latency.h"
#include "sbuf.h"
#include "slowlog.h"

static engine_t eng;
static client_t cli;

static void
setup(void) {
    memset(&eng, 0, sizeof eng);
    memset(&cli, 0, sizeof cli);
    snprintf(cli.conn.addr, sizeof cli.conn.addr, "127.0.0.1:5555");
    cli.eng = &eng;
    eng.cfg.slowlog_log_slower_than = 100;
    eng.cfg.slowlog_max_len = 3;
    slowlog_init(&eng);
    errstats_init(&eng);
    latency_init(&eng);
}

TestSuite(diag, .init = setup);

static karg_t
arg(const char *s) {
    return (karg_t){s, strlen(s)};
}

Test(diag, slowlog_keeps_only_commands_at_or_over_the_threshold) {
    karg_t argv[2] = {arg("get"), arg("k")};
    slowlog_push_if_needed(&eng, &cli, 2, argv, 99);
    cr_assert_eq(slowlog_len(&eng), 0);
    slowlog_push_if_needed(&eng, &cli, 2, argv, 100);
    cr_assert_eq(slowlog_len(&eng), 1);
    const slowlog_entry_t *e = slowlog_first(&eng);
    cr_assert_eq(e->duration_us, 100);
    cr_assert_eq(e->argc, 2);
    cr_assert_str_eq(e->argv[1].p, "k");
    cr_assert_str_eq(e->peer, "127.0.0.1:5555");
    cr_assert_str_eq(e->name, "");
    eng.cfg.slowlog_log_slower_than = -1; /* off */
    slowlog_push_if_needed(&eng, &cli, 2, argv, 1000000);
    cr_assert_eq(slowlog_len(&eng), 1);
}

Test(diag, slowlog_trims_arguments_as_valkey) {
    karg_t argv[40];
    char big[300];
    memset(big, 'x', sizeof big);
    argv[0] = arg("rpush");
    argv[1] = (karg_t){big, sizeof big};
    for (int i = 2; i < 40; i++)
        argv[i] = arg("e");
    slowlog_push_if_needed(&eng, &cli, 40, argv, 500);
    const slowlog_entry_t *e = slowlog_first(&eng);
    cr_assert_eq(e->argc, SLOWLOG_ARGC_MAX);
    cr_assert_str_eq(e->argv[SLOWLOG_ARGC_MAX - 1].p, "... (9 more arguments)");
    char want[200];
    snprintf(want, sizeof want, "%.*s... (172 more bytes)", SLOWLOG_ARG_BYTES_MAX, big);
    cr_assert_str_eq(e->argv[1].p, want);
    cr_assert_eq(e->argv[1].n, strlen(want));
}

Test(diag, slowlog_holds_the_newest_max_len_entries_with_growing_ids) {
    karg_t argv[1] = {arg("ping")};
    for (int i = 0; i < 5; i++)
        slowlog_push_if_needed(&eng, &cli, 1, argv, 1000 + (uint64_t)i);
    cr_assert_eq(slowlog_len(&eng), 3);
    const slowlog_entry_t *e = slowlog_first(&eng);
    cr_assert_eq(e->id, 4);
    cr_assert_eq(e->next->id, 3);
    cr_assert_eq(e->next->next->id, 2);
    cr_assert_null(e->next->next->next);
    slowlog_reset(&eng);
    cr_assert_eq(slowlog_len(&eng), 0);
    slowlog_push_if_needed(&eng, &cli, 1, argv, 1000);
    cr_assert_eq(slowlog_first(&eng)->id, 5, "ids go on after a reset");
}

static char *
errstats_text(void) {
    sbuf_t b = {0};
    sbuf_append(&b, "", 0);
    errstats_info(&eng, &b);
    return b.p;
}

Test(diag, errorstats_count_by_first_word_in_code_order) {
    const char *msgs[] = {"WRONGTYPE Operation against a key",
                          "ERR syntax error",
                          "ERR x",
                          "NOAUTH Authentication required.",
                          "noSpaceAtAll",
                          "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJ too long a code"};
    for (size_t i = 0; i < sizeof msgs / sizeof *msgs; i++)
        errstats_add(&eng, msgs[i], strlen(msgs[i]));
    char *t = errstats_text();
    cr_assert_str_eq(t, "errorstat_ERR:count=4\r\nerrorstat_NOAUTH:count=1\r\n"
                        "errorstat_WRONGTYPE:count=1\r\n");
    free(t);
    errstats_reset(&eng);
    t = errstats_text();
    cr_assert_str_eq(t, "");
    free(t);
}

Test(diag, errorstats_past_the_code_limit_count_as_overflow) {
    char msg[64];
    for (int i = 0; i < ERRSTATS_CODES_MAX + 5; i++) {
        int n = snprintf(msg, sizeof msg, "C%03d oops", i);
        errstats_add(&eng, msg, (size_t)n);
    }
    char *t = errstats_text();
    cr_assert_not_null(strstr(t, "errorstat_C000:count=1\r\n"));
    cr_assert_null(strstr(t, "errorstat_C130"));
    cr_assert_not_null(strstr(t, "errorstat_ERRORSTATS_OVERFLOW:count=5\r\n"));
    free(t);
}

Test(diag, latency_monitor_samples_over_the_threshold_one_per_second) {
    int n;
    latency_add_sample_if_needed(&eng, "command", 500);
    latency_events(&eng, &n);
    cr_assert_eq(n, 0, "threshold 0: the monitor is off");
    eng.cfg.latency_monitor_threshold_ms = 10;
    latency_add_sample_if_needed(&eng, "command", 9);
    latency_events(&eng, &n);
    cr_assert_eq(n, 0);
    latency_add_sample_if_needed(&eng, "command", 20);
    latency_add_sample_if_needed(&eng, "command", 40);
    latency_add_sample_if_needed(&eng, "command", 30);
    latency_add_sample_if_needed(&eng, "fork", 11);
    const latency_event_t *ev = latency_events(&eng, &n);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(ev[0].name, "command");
    cr_assert_eq(ev[0].max_ms, 40);
    /* All in one second (unless the clock ticked in between: then the newest is 30 or 40). */
    const latency_sample_t *last = latency_event_latest(&ev[0]);
    cr_assert_not_null(last);
    cr_assert(last->ms == 40 || last->ms == 30);
    cr_assert_eq(latency_reset(&eng, "nosuch", 6), 0);
    cr_assert_eq(latency_reset(&eng, "command", 7), 1);
    ev = latency_events(&eng, &n);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(ev[0].name, "fork");
    cr_assert_eq(latency_reset(&eng, NULL, 0), 1);
}
