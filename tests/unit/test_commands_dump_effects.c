/*
 * test_commands_dump_effects.c - what RESTORE writes to the log (cmd_dump.c): the value as plain
 * write commands (SET ... PXAT, RPUSH / SADD / ZADD / HSET in batches, HPEXPIREAT per field
 * expiry, a stream's XADD / XGROUP / XCLAIM / XDEL / XSETID, PEXPIREAT), a DEL first
 * when REPLACE removed a key, only a DEL when the TTL is already past, and never the payload;
 * all in one record. Run through exec_command with a fake client and a capturing sink, with the
 * real collection types.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "config.h"
#include "engine.h"
#include "exec.h"
#include "kmem.h"
#include "prop.h"
#include "t_hash.h"
#include "t_list.h"
#include "t_set.h"
#include "t_stream.h"
#include "t_zset.h"
#include "util.h"
#include "test_engine_harness.h"

static long long list_fill = -2;

static void
setup(void) {
    memset(&srv, 0, sizeof srv);
    prop_init(&srv.prop);
    config_defaults(&srv);
    srv.durable_lsn = UINT64_MAX;
    db_env_init(&srv.dbenv, srv_key_expired_cb, &srv);
    for (int i = 0; i < srv.cfg.databases; i++)
        srv.dbs[i] = db_create(i, &srv.dbenv);
    hash_type_init(NULL, NULL);
    set_type_init(NULL, NULL, NULL);
    zset_type_init(NULL, NULL);
    list_type_init(&list_fill);
    stream_type_init(NULL, NULL);
    cmd_table_init(&srv, commands_registry);
    harness_attach();
}

TestSuite(dump_effects, .init = setup);

static const char *
run_s(const char *const *args) {
    karg_t argv[2100];
    int argc = 0;
    for (; args[argc]; argc++)
        argv[argc] = (karg_t){args[argc], strlen(args[argc])};
    return run_argv(argc, argv);
}
#undef RUN /* the harness's takes at most 64 arguments */
#define RUN(...) run_s((const char *const[]){__VA_ARGS__, NULL})

/* DUMP key: the payload (malloc'd). */
static char *
dump(const char *key, size_t *n) {
    RUN("DUMP", key);
    cr_assert_eq(reply[0], '$', "%s", reply);
    char *end;
    long len = strtol(reply + 1, &end, 10);
    cr_assert_gt(len, 0);
    char *p = malloc((size_t)len);
    memcpy(p, end + 2, (size_t)len);
    *n = (size_t)len;
    return p;
}

static const char *
restore(const char *key, const char *ttl, const char *payload, size_t n, const char *opt1,
        const char *opt2) {
    karg_t argv[6] = {{"RESTORE", 7}, {key, strlen(key)}, {ttl, strlen(ttl)}, {payload, n}};
    int argc = 4;
    if (opt1)
        argv[argc++] = (karg_t){opt1, strlen(opt1)};
    if (opt2)
        argv[argc++] = (karg_t){opt2, strlen(opt2)};
    return run_argv(argc, argv);
}

static int
count_of(const char *needle) {
    int n = 0;
    for (const char *p = rec; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

Test(dump_effects, a_string_is_logged_as_set_with_its_absolute_expiry) {
    RUN("SET", "src", "value");
    size_t n;
    char *p = dump("src", &n);
    clear_log();
    int64_t now = util_time_ms();
    cr_assert_str_eq(restore("k", "100000", p, n, NULL, NULL), "+OK\r\n");
    cr_assert_eq(nrec, 1);
    cr_assert(strstr(rec, "$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n$4\r\nPXAT\r\n") != NULL, "%s",
              rec);
    long long at = strtoll(strstr(rec, "PXAT\r\n$") + 9, NULL, 10);
    cr_assert(at >= now + 100000 && at < now + 200000, "PXAT %lld", at);
    cr_assert_eq(count_of("RESTORE"), 0);
    free(p);
}

Test(dump_effects, a_big_list_is_rpush_batches_in_one_record) {
    const char *args[1300] = {"RPUSH", "src"};
    char items[1200][8];
    for (int i = 0; i < 1200; i++) {
        snprintf(items[i], sizeof items[i], "e%d", i);
        args[2 + i] = items[i];
    }
    run_s(args);
    size_t n;
    char *p = dump("src", &n);
    clear_log();
    cr_assert_str_eq(restore("k", "0", p, n, NULL, NULL), "+OK\r\n");
    cr_assert_eq(nrec, 1);
    cr_assert_eq(count_of("$5\r\nRPUSH\r\n$1\r\nk\r\n"), 3); /* 512 + 512 + 176 */
    cr_assert(strstr(rec, "*514\r\n$5\r\nRPUSH\r\n") == rec, "%.40s", rec);
    cr_assert(strstr(rec, "*178\r\n$5\r\nRPUSH\r\n") != NULL);
    cr_assert_eq(count_of("PEXPIREAT"), 0);
    RUN("LINDEX", "k", "1199");
    cr_assert_str_eq(reply, "$5\r\ne1199\r\n");
    free(p);
}

Test(dump_effects, replace_logs_del_first_and_collections_their_ttl_after) {
    RUN("ZADD", "src", "1.5", "a", "-inf", "b");
    RUN("HSET", "h", "f", "v");
    RUN("SADD", "s", "1", "2");
    size_t zn, hn, sn;
    char *z = dump("src", &zn), *h = dump("h", &hn), *s = dump("s", &sn);
    RUN("SET", "k", "old");
    clear_log();
    cr_assert_str_eq(restore("k", "5000", z, zn, "REPLACE", NULL), "+OK\r\n");
    cr_assert_eq(nrec, 1);
    const char *del = strstr(rec, "$3\r\nDEL\r\n$1\r\nk\r\n");
    const char *zadd = strstr(rec, "$4\r\nZADD\r\n$1\r\nk\r\n$4\r\n-inf\r\n$1\r\nb\r\n$3\r\n1.5\r\n"
                                   "$1\r\na\r\n");
    const char *pexp = strstr(rec, "$9\r\nPEXPIREAT\r\n$1\r\nk\r\n");
    cr_assert(del && zadd && pexp && del < zadd && zadd < pexp, "%s", rec);
    clear_log();
    restore("h2", "0", h, hn, NULL, NULL);
    cr_assert(strstr(rec, "$4\r\nHSET\r\n$2\r\nh2\r\n$1\r\nf\r\n$1\r\nv\r\n") != NULL, "%s", rec);
    clear_log();
    restore("s2", "0", s, sn, NULL, NULL);
    cr_assert(strstr(rec, "$4\r\nSADD\r\n$2\r\ns2\r\n$1\r\n1\r\n$1\r\n2\r\n") != NULL, "%s", rec);
    free(z), free(h), free(s);
}

Test(dump_effects, a_past_absolute_ttl_logs_only_the_del_of_the_replaced_key) {
    RUN("SET", "src", "v");
    size_t n;
    char *p = dump("src", &n);
    RUN("SET", "k", "old");
    clear_log();
    cr_assert_str_eq(restore("k", "1000", p, n, "ABSTTL", "REPLACE"), "+OK\r\n");
    cr_assert_eq(nrec, 1);
    cr_assert_str_eq(rec, "*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n");
    clear_log();
    cr_assert_str_eq(restore("absent", "1000", p, n, "ABSTTL", NULL), "+OK\r\n");
    cr_assert_eq(nrec, 0);
    RUN("EXISTS", "absent");
    cr_assert_str_eq(reply, ":0\r\n");
    free(p);
}

Test(dump_effects, refused_payloads_log_nothing) {
    RUN("SET", "src", "v");
    size_t n;
    char *p = dump("src", &n);
    clear_log();
    p[1] ^= 1;
    cr_assert_str_eq(restore("k", "0", p, n, NULL, NULL),
                     "-ERR DUMP payload version or checksum are wrong\r\n");
    cr_assert_eq(nrec, 0);
    free(p);
}

/* The position of needle in the record; fails when absent. */
static const char *
at_(const char *needle) {
    const char *p = strstr(rec, needle);
    cr_assert(p != NULL, "no %s in %s", needle, rec);
    return p;
}

Test(dump_effects, a_stream_is_its_entries_groups_claims_and_setid_in_order) {
    RUN("XADD", "src", "1-1", "a", "1");
    RUN("XADD", "src", "1-2", "a", "2");
    RUN("XADD", "src", "2-0", "b", "3");
    RUN("XGROUP", "CREATE", "src", "g", "0");
    RUN("XREADGROUP", "GROUP", "g", "c", "COUNT", "2", "STREAMS", "src", ">");
    RUN("XGROUP", "CREATECONSUMER", "src", "g", "idle");
    RUN("XDEL", "src", "1-2"); /* pending, but its entry is gone */
    size_t n;
    char *p = dump("src", &n);
    clear_log();
    cr_assert_str_eq(restore("k", "0", p, n, NULL, NULL), "+OK\r\n");
    cr_assert_eq(nrec, 1);
    const char *x1 = at_("$4\r\nXADD\r\n$1\r\nk\r\n$3\r\n1-1\r\n$1\r\na\r\n$1\r\n1\r\n");
    const char *x2 = at_("$4\r\nXADD\r\n$1\r\nk\r\n$3\r\n1-2\r\n$7\r\nrestore\r\n$0\r\n");
    const char *x3 = at_("$4\r\nXADD\r\n$1\r\nk\r\n$3\r\n2-0\r\n$1\r\nb\r\n$1\r\n3\r\n");
    const char *gc = at_("$6\r\nXGROUP\r\n$6\r\nCREATE\r\n$1\r\nk\r\n$1\r\ng\r\n$3\r\n1-2\r\n"
                         "$11\r\nENTRIESREAD\r\n$1\r\n2\r\n");
    const char *cc = at_("$14\r\nCREATECONSUMER\r\n$1\r\nk\r\n$1\r\ng\r\n$4\r\nidle\r\n");
    const char *cl = at_("$6\r\nXCLAIM\r\n$1\r\nk\r\n$1\r\ng\r\n$1\r\nc\r\n$1\r\n0\r\n$3\r\n1-2\r\n"
                         "$4\r\nTIME\r\n");
    const char *dl = at_("$4\r\nXDEL\r\n$1\r\nk\r\n$3\r\n1-2\r\n");
    const char *si =
        at_("$6\r\nXSETID\r\n$1\r\nk\r\n$3\r\n2-0\r\n$12\r\nENTRIESADDED\r\n$1\r\n3\r\n"
            "$12\r\nMAXDELETEDID\r\n$3\r\n1-2\r\n");
    cr_assert(x1 < x2 && x2 < x3 && x3 < gc && gc < cc && cc < cl && cl < dl && dl < si, "%s", rec);
    cr_assert_eq(count_of("$6\r\nXCLAIM\r\n"), 2);
    cr_assert_eq(count_of("RETRYCOUNT\r\n$1\r\n1\r\n$5\r\nFORCE\r\n$6\r\nJUSTID\r\n"), 2);
    cr_assert_eq(count_of("RESTORE"), 0);
    free(p);
}

Test(dump_effects, a_stream_without_entries_is_made_by_its_first_group) {
    RUN("XGROUP", "CREATE", "src", "g", "$", "MKSTREAM");
    RUN("XSETID", "src", "5-5");
    RUN("XADD", "bare", "7-0", "f", "v");
    RUN("XDEL", "bare", "7-0");
    size_t n, bn;
    char *p = dump("src", &n), *b = dump("bare", &bn);
    clear_log();
    restore("k", "0", p, n, NULL, NULL);
    const char *mk = at_("$6\r\nCREATE\r\n$1\r\nk\r\n$1\r\ng\r\n$1\r\n0\r\n$8\r\nMKSTREAM\r\n");
    const char *set = at_("$5\r\nSETID\r\n$1\r\nk\r\n$1\r\ng\r\n$3\r\n0-0\r\n");
    const char *si = at_("$6\r\nXSETID\r\n$1\r\nk\r\n$3\r\n5-5\r\n");
    cr_assert(mk < set && set < si, "%s", rec);
    clear_log();
    restore("k2", "0", b, bn, NULL, NULL);
    const char *tmp =
        at_("$6\r\nCREATE\r\n$2\r\nk2\r\n$7\r\nrestore\r\n$1\r\n0\r\n$8\r\nMKSTREAM\r\n");
    const char *destroy = at_("$7\r\nDESTROY\r\n$2\r\nk2\r\n$7\r\nrestore\r\n");
    const char *si2 =
        at_("$6\r\nXSETID\r\n$2\r\nk2\r\n$3\r\n7-0\r\n$12\r\nENTRIESADDED\r\n$1\r\n1\r\n");
    cr_assert(tmp < destroy && destroy < si2, "%s", rec);
    RUN("XINFO", "GROUPS", "k2");
    cr_assert_str_eq(reply, "*0\r\n");
    free(p);
    free(b);
}

Test(dump_effects, field_expiries_follow_the_hset) {
    RUN("HSET", "src", "f", "v", "g", "w");
    RUN("HPEXPIREAT", "src", "99999999999999", "FIELDS", "1", "g");
    size_t n;
    char *p = dump("src", &n);
    clear_log();
    cr_assert_str_eq(restore("k", "0", p, n, NULL, NULL), "+OK\r\n");
    const char *hset = at_("$4\r\nHSET\r\n$1\r\nk\r\n");
    const char *hexp = at_("*6\r\n$10\r\nHPEXPIREAT\r\n$1\r\nk\r\n$14\r\n99999999999999\r\n"
                           "$6\r\nFIELDS\r\n$1\r\n1\r\n$1\r\ng\r\n");
    cr_assert(hset < hexp, "%s", rec);
    cr_assert_eq(count_of("HPEXPIREAT"), 1);
    free(p);
}
