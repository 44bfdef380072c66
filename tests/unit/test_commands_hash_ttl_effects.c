/*
 * test_commands_hash_ttl_effects.c - what the hash-field expiry commands write to the log, run
 * through exec_command with a fake client and a sink that captures each record: relative times
 * as HPEXPIREAT <absolute ms> without the condition, past times and due fields as HDEL, HGETEX
 * as HPEXPIREAT/HPERSIST/HDEL, HSETEX with PXAT and without FNX/FXX, HINCRBYFLOAT as HSETEX
 * KEEPTTL, and a command that changes nothing logs nothing, not even its call, when a lazy field
 * expiry in the same command moved the dirty counter.
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "config.h"
#include "engine.h"
#include "exec.h"
#include "kmem.h"
#include "prop.h"
#include "t_hash.h"
#include "util.h"
#include "test_engine_harness.h"

static void
setup(void) {
    memset(&srv, 0, sizeof srv);
    prop_init(&srv.prop);
    config_defaults(&srv);
    srv.durable_lsn = UINT64_MAX;
    db_env_init(&srv.dbenv, srv_key_expired_cb, &srv);
    srv.dbenv.fields_expired = srv_fields_expired_cb;
    for (int i = 0; i < srv.cfg.databases; i++)
        srv.dbs[i] = db_create(i, &srv.dbenv);
    hash_type_init(NULL, NULL);
    cmd_table_init(&srv, commands_registry);
    harness_attach();
}

TestSuite(hash_ttl_effects, .init = setup);

/* The record's words, space-separated (bulk headers dropped), for readable comparisons. */
static const char *
words(void) {
    static char out[4096];
    size_t o = 0;
    for (const char *p = rec; *p && o < sizeof out - 1;) {
        const char *eol = strstr(p, "\r\n");
        cr_assert_not_null(eol);
        if (*p != '$' && *p != '*') {
            if (o)
                out[o++] = ' ';
            size_t n = (size_t)(eol - p);
            memcpy(out + o, p, n);
            o += n;
        }
        p = eol + 2;
    }
    out[o] = 0;
    return out;
}

/* The absolute time in "NAME key <ms> ..." / "... PXAT <ms> ...". */
static long long
time_after(const char *w, const char *word) {
    const char *p = strstr(w, word);
    cr_assert_not_null(p, "%s in %s", word, w);
    return strtoll(p + strlen(word), NULL, 10);
}

Test(hash_ttl_effects, hexpire_logs_hpexpireat_with_the_absolute_time_and_no_condition) {
    RUN("HSET", "h", "a", "1", "b", "2");
    clear_log();
    int64_t t0 = util_time_ms();
    cr_assert_str_eq(RUN("HEXPIRE", "h", "100", "NX", "FIELDS", "3", "a", "zz", "b"),
                     "*3\r\n:1\r\n:-2\r\n:1\r\n");
    int64_t t1 = util_time_ms();
    cr_assert_eq(nrec, 1);
    const char *w = words();
    cr_assert(!strncmp(w, "HPEXPIREAT h ", 13), "%s", w);
    long long when = time_after(w, "HPEXPIREAT h ");
    cr_assert(when >= t0 + 100000 && when <= t1 + 100000, "when %lld", when);
    cr_assert(strstr(w, " FIELDS 2 a b"), "only the fields set: %s", w);
    cr_assert_null(strstr(w, "NX"));
}

Test(hash_ttl_effects, a_past_time_logs_hdel_of_the_deleted_fields) {
    RUN("HSET", "h", "a", "1", "b", "2", "c", "3");
    clear_log();
    cr_assert_str_eq(RUN("HPEXPIRE", "h", "0", "FIELDS", "3", "a", "zz", "b"),
                     "*3\r\n:2\r\n:-2\r\n:2\r\n");
    cr_assert_str_eq(words(), "HDEL h a b");
    cr_assert_eq(srv.stats.expired_fields, 2);
}

Test(hash_ttl_effects, a_command_that_changes_nothing_logs_only_the_lazy_hdel) {
    RUN("HSET", "h", "a", "1", "b", "2");
    char at[32];
    snprintf(at, sizeof at, "%lld", (long long)util_time_ms() + 20);
    RUN("HPEXPIREAT", "h", at, "FIELDS", "1", "a");
    usleep(40000);
    clear_log();
    /* b has no expiry: XX fails; the lookup removed the due a first. */
    cr_assert_str_eq(RUN("HEXPIRE", "h", "100", "XX", "FIELDS", "2", "a", "b"),
                     "*2\r\n:-2\r\n:0\r\n");
    cr_assert_eq(nrec, 1);
    cr_assert_str_eq(words(), "HDEL h a", "the call itself is never logged");
    clear_log();
    cr_assert_str_eq(RUN("HPERSIST", "h", "FIELDS", "1", "b"), "*1\r\n:-1\r\n");
    cr_assert_eq(nrec, 0);
}

Test(hash_ttl_effects, hgetex_logs_hpexpireat_hpersist_or_hdel) {
    RUN("HSET", "h", "a", "1", "b", "2", "c", "3");
    clear_log();
    RUN("HGETEX", "h", "FIELDS", "1", "a");
    cr_assert_eq(nrec, 0, "no option: a read");
    RUN("HGETEX", "h", "PX", "5000", "FIELDS", "2", "a", "zz");
    const char *w = words();
    cr_assert(!strncmp(w, "HPEXPIREAT h ", 13) && strstr(w, " FIELDS 1 a"), "%s", w);
    clear_log();
    RUN("HGETEX", "h", "PERSIST", "FIELDS", "2", "a", "b");
    cr_assert_str_eq(words(), "HPERSIST h FIELDS 1 a", "only the field that had one");
    clear_log();
    RUN("HGETEX", "h", "EXAT", "1", "FIELDS", "1", "c");
    cr_assert_str_eq(words(), "HDEL h c");
}

Test(hash_ttl_effects, hsetex_logs_pxat_without_fnx_and_hincrbyfloat_keeps_the_expiry) {
    int64_t t0 = util_time_ms();
    cr_assert_str_eq(RUN("HSETEX", "h", "FNX", "EX", "60", "FIELDS", "2", "a", "1", "b", "2"),
                     ":1\r\n");
    const char *w = words();
    cr_assert(!strncmp(w, "HSETEX h PXAT ", 14), "%s", w);
    long long when = time_after(w, "PXAT ");
    cr_assert(when >= t0 + 60000 && when <= util_time_ms() + 60000);
    cr_assert(strstr(w, " FIELDS 2 a 1 b 2"), "%s", w);
    cr_assert_null(strstr(w, "FNX"));
    clear_log();
    cr_assert_str_eq(RUN("HSETEX", "h", "FXX", "FIELDS", "1", "zz", "1"), ":0\r\n");
    cr_assert_eq(nrec, 0);
    RUN("HINCRBYFLOAT", "h", "a", "0.5");
    cr_assert_str_eq(words(), "HSETEX h KEEPTTL FIELDS 1 a 1.5");
    const char *r = RUN("HPTTL", "h", "FIELDS", "1", "a");
    cr_assert(!strncmp(r, "*1\r\n:", 5) && strtoll(r + 5, NULL, 10) > 0, "kept: %s", r);
}

Test(hash_ttl_effects, the_active_cycle_logs_hdel_and_deletes_the_emptied_key) {
    RUN("HSET", "h", "a", "1", "b", "2");
    char at[32];
    snprintf(at, sizeof at, "%lld", (long long)util_time_ms() + 10);
    RUN("HPEXPIREAT", "h", at, "FIELDS", "2", "a", "b");
    usleep(30000);
    clear_log();
    db_set_now_ms(&srv.dbenv, util_time_ms());
    prop_begin(&srv.prop); /* as the cron does */
    db_active_expire(srv.dbs[0], 100000, NULL);
    prop_end(&srv.prop);
    const char *w = words();
    cr_assert(!strcmp(w, "HDEL h a b") || !strcmp(w, "HDEL h b a"), "%s", w);
    cr_assert_null(db_find(srv.dbs[0], "h", 1));
    cr_assert_eq(db_hexpires_size(srv.dbs[0]), 0);
}
