/*
 * test_commands_sort_geo.c - SORT and the GEO commands through exec_command with a capturing
 * log sink: what they write to the log (SORT STORE and the GEO STORE forms in effect form, so
 * replay never re-reads the keys the patterns named; reads and SORT without STORE nothing;
 * GEOADD as the ZADD it runs) and the ordering rules of SORT that the integration tests only sample
 * (numeric ties broken by the elements' bytes, ALPHA, missing BY keys, LIMIT clamping).
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "config.h"
#include "engine.h"
#include "exec.h"
#include "prop.h"
#include "test_engine_harness.h"

static void
setup(void) {
    memset(&srv, 0, sizeof srv);
    config_defaults(&srv);
    engine_init(&srv, commands_registry);
    harness_attach();
}

static void
teardown(void) {
    for (int i = 0; i < srv.cfg.databases; i++)
        db_flush(srv.dbs[i]);
}

TestSuite(sort_geo, .init = setup, .fini = teardown);

Test(sort_geo, sort_store_is_logged_as_del_then_rpush_of_the_result) {
    RUN("RPUSH", "l", "3", "1", "2");
    RUN("SET", "w_1", "30");
    RUN("SET", "w_2", "10");
    RUN("SET", "w_3", "20");
    RUN("SET", "n_2", "two");
    clear_log();
    cr_assert_str_eq(RUN("SORT", "l", "BY", "w_*", "GET", "n_*", "GET", "#", "STORE", "d"),
                     ":6\r\n");
    cr_assert_eq(nrec, 1);
    cr_assert_str_eq(rec, "*2\r\n$3\r\nDEL\r\n$1\r\nd\r\n"
                          "*8\r\n$5\r\nRPUSH\r\n$1\r\nd\r\n$3\r\ntwo\r\n$1\r\n2\r\n$0\r\n\r\n"
                          "$1\r\n3\r\n$0\r\n\r\n$1\r\n1\r\n");
    cr_assert_str_eq(RUN("LRANGE", "d", "0", "-1"), "*6\r\n$3\r\ntwo\r\n$1\r\n2\r\n$0\r\n\r\n"
                                                    "$1\r\n3\r\n$0\r\n\r\n$1\r\n1\r\n");
}

Test(sort_geo, sort_without_store_and_sort_ro_log_nothing) {
    RUN("RPUSH", "l", "3", "1", "2");
    clear_log();
    cr_assert_str_eq(RUN("SORT", "l"), "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n");
    cr_assert_str_eq(RUN("SORT_RO", "l", "DESC"), "*3\r\n$1\r\n3\r\n$1\r\n2\r\n$1\r\n1\r\n");
    cr_assert_eq(nrec, 0);
    cr_assert_str_eq(RUN("SORT_RO", "l", "STORE", "d"), "-ERR syntax error\r\n");
}

Test(sort_geo, an_empty_sort_store_deletes_the_destination_and_logs_only_that) {
    RUN("SET", "d", "old");
    clear_log();
    cr_assert_str_eq(RUN("SORT", "missing", "STORE", "d"), ":0\r\n");
    cr_assert_str_eq(rec, "*2\r\n$3\r\nDEL\r\n$1\r\nd\r\n");
    cr_assert_str_eq(RUN("EXISTS", "d"), ":0\r\n");
    clear_log();
    cr_assert_str_eq(RUN("SORT", "missing", "STORE", "d"), ":0\r\n");
    cr_assert_eq(nrec, 0, "nothing changed, nothing logged");
}

Test(sort_geo, a_large_stored_result_is_logged_in_chunks_in_one_record) {
    char num[1300][8];
    karg_t argv[1302] = {{"RPUSH", 5}, {"l", 1}};
    for (int i = 0; i < 1300; i++) {
        snprintf(num[i], sizeof num[i], "%d", 1299 - i);
        argv[2 + i] = (karg_t){num[i], strlen(num[i])};
    }
    run_argv(1302, argv);
    clear_log();
    cr_assert_str_eq(RUN("SORT", "l", "STORE", "d"), ":1300\r\n");
    cr_assert_eq(nrec, 1);
    int rpush = 0;
    for (const char *p = rec; (p = strstr(p, "RPUSH")); p++)
        rpush++;
    cr_assert_eq(rpush, 3, "512 + 512 + 276 elements");
    cr_assert_str_eq(RUN("LINDEX", "d", "0"), "$1\r\n0\r\n");
    cr_assert_str_eq(RUN("LINDEX", "d", "-1"), "$4\r\n1299\r\n");
}

Test(sort_geo, numeric_ties_are_ordered_by_the_elements_bytes) {
    RUN("RPUSH", "l", "1.0", "1", "01", "0x1", "1e0", "0.5");
    cr_assert_str_eq(RUN("SORT", "l"), "*6\r\n$3\r\n0.5\r\n$2\r\n01\r\n$3\r\n0x1\r\n$1\r\n1\r\n"
                                       "$3\r\n1.0\r\n$3\r\n1e0\r\n");
    cr_assert_str_eq(RUN("SORT", "l", "DESC", "LIMIT", "0", "2"),
                     "*2\r\n$3\r\n1e0\r\n$3\r\n1.0\r\n");
}

Test(sort_geo, scores_that_are_no_numbers_fail_the_sort_but_not_alpha) {
    RUN("RPUSH", "l", "2", "x", "1");
    cr_assert_str_eq(RUN("SORT", "l"),
                     "-ERR One or more scores can't be converted into double\r\n");
    cr_assert_str_eq(RUN("SORT", "l", "ALPHA"), "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\nx\r\n");
    RUN("RPUSH", "e", "", "-1");
    cr_assert_str_eq(RUN("SORT", "e"), "*2\r\n$2\r\n-1\r\n$0\r\n\r\n"); /* "" is 0 */
}

Test(sort_geo, missing_by_keys_weigh_zero_and_sort_first_in_alpha) {
    RUN("RPUSH", "l", "a", "b", "c");
    RUN("SET", "w_a", "5");
    RUN("SET", "w_c", "-5");
    cr_assert_str_eq(RUN("SORT", "l", "BY", "w_*"), "*3\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n");
    RUN("SET", "s_a", "zz");
    RUN("SET", "s_b", "aa");
    cr_assert_str_eq(RUN("SORT", "l", "BY", "s_*", "ALPHA"),
                     "*3\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n");
    RUN("HSET", "h_a", "f", "3");
    RUN("HSET", "h_b", "f", "1");
    RUN("HSET", "h_c", "g", "9");
    cr_assert_str_eq(RUN("SORT", "l", "BY", "h_*->f", "GET", "h_*->f"),
                     "*3\r\n$-1\r\n$1\r\n1\r\n$1\r\n3\r\n");
}

Test(sort_geo, nosort_keeps_list_and_zset_order_and_limit_is_clamped) {
    RUN("RPUSH", "l", "c", "a", "b", "d");
    cr_assert_str_eq(RUN("SORT", "l", "BY", "nosort", "DESC", "LIMIT", "1", "2"),
                     "*2\r\n$1\r\nb\r\n$1\r\na\r\n");
    cr_assert_str_eq(RUN("SORT", "l", "BY", "nosort", "LIMIT", "-5", "-7"),
                     "*4\r\n$1\r\nc\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nd\r\n");
    cr_assert_str_eq(RUN("SORT", "l", "BY", "nosort", "LIMIT", "9", "1"), "*0\r\n");
    RUN("ZADD", "z", "1", "x", "2", "y", "3", "w");
    cr_assert_str_eq(RUN("SORT", "z", "BY", "nosort", "DESC", "LIMIT", "0", "2"),
                     "*2\r\n$1\r\nw\r\n$1\r\ny\r\n");
    RUN("SADD", "s", "q", "p", "r");
    cr_assert_str_eq(RUN("SORT", "s", "BY", "nosort", "STORE", "d"), ":3\r\n");
    cr_assert_str_eq(RUN("LRANGE", "d", "0", "-1"), "*3\r\n$1\r\np\r\n$1\r\nq\r\n$1\r\nr\r\n");
}

Test(sort_geo, geoadd_and_geosearchstore_are_logged_as_zadd) {
    clear_log();
    cr_assert_str_eq(RUN("GEOADD", "g", "13.361389", "38.115556", "Palermo", "15.087269",
                         "37.502669", "Catania"),
                     ":2\r\n");
    cr_assert_str_eq(rec, "*6\r\n$4\r\nZADD\r\n$1\r\ng\r\n$16\r\n3479099956230698\r\n"
                          "$7\r\nPalermo\r\n$16\r\n3479447370796909\r\n$7\r\nCatania\r\n");
    clear_log();
    cr_assert_str_eq(RUN("GEOADD", "g", "NX", "CH", "13.361389", "38.115556", "Palermo"), ":0\r\n");
    cr_assert_eq(nrec, 0, "nothing changed, nothing logged");
    cr_assert_str_eq(RUN("GEOADD", "g", "XX", "CH", "13.361389", "38.116", "Palermo"), ":1\r\n");
    cr_assert_not_null(strstr(rec, "$4\r\nZADD\r\n$1\r\ng\r\n$2\r\nXX\r\n$2\r\nCH\r\n"), "%s", rec);
    RUN("GEOADD", "g", "13.361389", "38.115556", "Palermo"); /* back where it was */
    clear_log();
    cr_assert_str_eq(RUN("GEOSEARCHSTORE", "d", "g", "FROMLONLAT", "15", "37", "BYRADIUS", "200",
                         "km", "ASC"),
                     ":2\r\n");
    cr_assert_eq(nrec, 1);
    cr_assert_str_eq(rec,
                     "*2\r\n$3\r\nDEL\r\n$1\r\nd\r\n"
                     "*6\r\n$4\r\nZADD\r\n$1\r\nd\r\n$16\r\n3479447370796909\r\n$7\r\nCatania\r\n"
                     "$16\r\n3479099956230698\r\n$7\r\nPalermo\r\n");
    clear_log();
    cr_assert_str_eq(RUN("GEORADIUS", "g", "15", "37", "200", "km", "STOREDIST", "d"), ":2\r\n");
    cr_assert_not_null(strstr(rec, "\r\n56.44125787"), "distances in km: %s", rec);
    clear_log();
    cr_assert_str_eq(RUN("GEOSEARCH", "g", "FROMMEMBER", "Palermo", "BYBOX", "1", "1", "km"),
                     "*1\r\n$7\r\nPalermo\r\n");
    cr_assert_eq(nrec, 0);
    cr_assert_str_eq(RUN("GEORADIUS", "g", "15", "37", "1", "km", "STORE", "d"), ":0\r\n");
    cr_assert_str_eq(rec, "*2\r\n$3\r\nDEL\r\n$1\r\nd\r\n");
}
