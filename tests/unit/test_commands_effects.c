/*
 * test_db_cmd_effects.c - what the key and expiry commands write to the log, run through
 * exec_command with a fake client and a sink that captures each record (docs/durability.md):
 * the EXPIRE family as PEXPIREAT <absolute ms> or DEL, TOUCH and reads as nothing, RENAME/COPY/
 * MOVE/SWAPDB/PERSIST as called, a lazy expiry as DEL. Also the parts the integration tests
 * cannot reach before the collection types exist: TYPE and SCAN TYPE for every type name, and
 * RENAME moving a collection's structure instead of copying it (stand-in types registered here).
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "config.h"
#include "exec.h"
#include "kmem.h"
#include "prop.h"
#include "engine.h"
#include "util.h"
#include "test_engine_harness.h"

/* Stand-in collection types: a pointer to 8 bytes, with counters to see dup/free calls. */
static int dup_calls, free_calls;

static void
fake_free(void *p, int enc) {
    (void)enc;
    free_calls++;
    kfree(p);
}

static void *
fake_dup(const void *p, int enc) {
    (void)enc;
    dup_calls++;
    void *n = kmalloc(8);
    memcpy(n, p, 8);
    return n;
}

static size_t
fake_mem(const void *p, int enc) {
    (void)p;
    (void)enc;
    return 8;
}

static uint64_t
fake_count(const void *p, int enc) {
    (void)p;
    (void)enc;
    return 0;
}

static void
fake_each(const void *p, int enc, void (*cb)(void *, const char *, size_t, double), void *ctx) {
    (void)p, (void)enc, (void)cb, (void)ctx;
}

static void *
fake_create(uint64_t hint, int *enc) {
    (void)hint;
    *enc = OBJ_ENC_LISTPACK;
    return kcalloc(1, 8);
}

static int
fake_add(void **p, int *enc, const char *s, size_t n, double score) {
    (void)p, (void)enc, (void)s, (void)n, (void)score;
    return 0;
}

#define FAKE_OPS(nm)                                                                               \
    { fake_free, fake_dup, fake_mem, nm, fake_count, fake_each, fake_create, fake_add }
static const obj_type_ops_t fake_ops[] = {FAKE_OPS("list"), FAKE_OPS("set"), FAKE_OPS("zset"),
                                          FAKE_OPS("hash")};
static const int fake_types[] = {OBJ_LIST, OBJ_SET, OBJ_ZSET, OBJ_HASH};

static void
setup(void) {
    memset(&srv, 0, sizeof srv);
    prop_init(&srv.prop);
    config_defaults(&srv);
    srv.durable_lsn = UINT64_MAX;
    db_env_init(&srv.dbenv, srv_key_expired_cb, &srv);
    for (int i = 0; i < srv.cfg.databases; i++)
        srv.dbs[i] = db_create(i, &srv.dbenv);
    for (int i = 0; i < 4; i++)
        obj_register_type(fake_types[i], &fake_ops[i]);
    cmd_table_init(&srv, commands_registry);
    harness_attach();
}

TestSuite(effects, .init = setup);

static long long
int_reply(const char *r) {
    cr_assert_eq(r[0], ':', "not an integer reply: %s", r);
    return strtoll(r + 1, NULL, 10);
}

Test(effects, expire_is_logged_as_pexpireat_with_the_absolute_time) {
    RUN("SET", "k", "v");
    clear_log();
    int64_t t0 = util_time_ms();
    cr_assert_str_eq(RUN("EXPIRE", "k", "100"), ":1\r\n");
    int64_t t1 = util_time_ms();
    cr_assert_eq(nrec, 1);
    const char *p = strstr(rec, "$9\r\nPEXPIREAT\r\n$1\r\nk\r\n$13\r\n");
    cr_assert_not_null(p, "record: %s", rec);
    cr_assert(!strncmp(rec, "*3\r\n", 4));
    long long when = strtoll(p + strlen("$9\r\nPEXPIREAT\r\n$1\r\nk\r\n$13\r\n"), NULL, 10);
    cr_assert(when >= t0 + 100000 && when <= t1 + 100000, "when %lld", when);
    cr_assert_eq(int_reply(RUN("PEXPIRETIME", "k")), when);
}

Test(effects, every_relative_form_logs_the_same_absolute_form) {
    RUN("SET", "k", "v");
    RUN("EXPIRE", "k", "1"); /* GT needs a TTL to compare with */
    const char *forms[][2] = {{"PEXPIRE", "5000"},
                              {"EXPIREAT", "4102444800"},
                              {"PEXPIREAT", "4102444800123"}};
    for (int i = 0; i < 3; i++) {
        clear_log();
        cr_assert_str_eq(RUN(forms[i][0], "k", forms[i][1], "GT"), ":1\r\n");
        cr_assert_eq(nrec, 1);
        cr_assert_not_null(strstr(rec, "PEXPIREAT"), "%s logged %s", forms[i][0], rec);
        cr_assert_null(strstr(rec, "GT"), "flags are not part of the effect");
    }
    cr_assert_not_null(strstr(rec, "4102444800123"));
}

Test(effects, expire_in_the_past_is_logged_as_del) {
    RUN("SET", "k", "v");
    clear_log();
    cr_assert_str_eq(RUN("EXPIRE", "k", "-5"), ":1\r\n");
    cr_assert_str_eq(rec, "*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n");
    cr_assert_null(db_find(srv.dbs[0], "k", 1));
    cr_assert_eq(srv.stats.expired_keys, 0);
}

Test(effects, expiry_that_changes_nothing_logs_nothing) {
    RUN("SET", "k", "v");
    RUN("EXPIRE", "k", "100");
    clear_log();
    uint64_t dirty = srv.dirty;
    cr_assert_str_eq(RUN("EXPIRE", "nokey", "100"), ":0\r\n");
    cr_assert_str_eq(RUN("EXPIRE", "k", "10", "NX"), ":0\r\n");
    cr_assert_str_eq(RUN("EXPIRE", "k", "10", "GT"), ":0\r\n");
    cr_assert_str_eq(RUN("EXPIRE", "k", "1000", "LT"), ":0\r\n");
    cr_assert(!strncmp(RUN("EXPIRE", "k", "10", "NX", "XX"), "-ERR NX and XX", 14));
    cr_assert(!strncmp(RUN("EXPIRE", "k", "99999999999999999"), "-ERR invalid expire time", 24));
    cr_assert_str_eq(RUN("PERSIST", "nokey"), ":0\r\n");
    cr_assert_eq(nrec, 0, "logged: %s", rec);
    cr_assert_eq(srv.dirty, dirty);
}

Test(effects, touch_and_reads_are_not_logged) {
    RUN("SET", "k", "v");
    RUN("EXPIRE", "k", "100");
    clear_log();
    uint64_t dirty = srv.dirty;
    cr_assert_str_eq(RUN("TOUCH", "k", "nokey"), ":1\r\n");
    cr_assert_str_eq(RUN("TTL", "k"), ":100\r\n");
    cr_assert_str_eq(RUN("EXISTS", "k"), ":1\r\n");
    cr_assert_str_eq(RUN("TYPE", "k"), "+string\r\n");
    cr_assert_str_eq(RUN("OBJECT", "ENCODING", "k"), "$6\r\nembstr\r\n");
    cr_assert_str_eq(RUN("KEYS", "*"), "*1\r\n$1\r\nk\r\n");
    cr_assert_str_eq(RUN("RANDOMKEY"), "$1\r\nk\r\n");
    cr_assert_eq(nrec, 0, "logged: %s", rec);
    cr_assert_eq(srv.dirty, dirty);
}

Test(effects, deterministic_key_commands_are_logged_as_called) {
    RUN("SET", "a", "v");
    clear_log();
    cr_assert_str_eq(RUN("RENAME", "a", "b"), "+OK\r\n");
    cr_assert_str_eq(rec, "*3\r\n$6\r\nRENAME\r\n$1\r\na\r\n$1\r\nb\r\n");
    clear_log();
    cr_assert_str_eq(RUN("COPY", "b", "c", "DB", "2"), ":1\r\n");
    cr_assert_str_eq(rec, "*5\r\n$4\r\nCOPY\r\n$1\r\nb\r\n$1\r\nc\r\n$2\r\nDB\r\n$1\r\n2\r\n");
    clear_log();
    cr_assert_str_eq(RUN("MOVE", "b", "3"), ":1\r\n");
    cr_assert_str_eq(rec, "*3\r\n$4\r\nMOVE\r\n$1\r\nb\r\n$1\r\n3\r\n");
    clear_log();
    cr_assert_str_eq(RUN("SWAPDB", "2", "3"), "+OK\r\n");
    cr_assert_str_eq(rec, "*3\r\n$6\r\nSWAPDB\r\n$1\r\n2\r\n$1\r\n3\r\n");
    cr_assert_not_null(db_find(srv.dbs[2], "b", 1));
    cr_assert_not_null(db_find(srv.dbs[3], "c", 1));
    /* Refused forms log nothing. */
    clear_log();
    RUN("RENAMENX", "nokey", "x");
    RUN("MOVE", "nokey", "1");
    RUN("COPY", "nokey", "x");
    cr_assert_eq(nrec, 0, "logged: %s", rec);
}

Test(effects, persist_is_logged_as_called) {
    RUN("SET", "k", "v");
    RUN("EXPIRE", "k", "100");
    clear_log();
    cr_assert_str_eq(RUN("PERSIST", "k"), ":1\r\n");
    cr_assert_str_eq(rec, "*2\r\n$7\r\nPERSIST\r\n$1\r\nk\r\n");
}

Test(effects, lazy_expiry_in_a_read_is_logged_as_del) {
    RUN("SET", "k", "v");
    db_set_expire(srv.dbs[0], db_find(srv.dbs[0], "k", 1), 1); /* long past */
    clear_log();
    cr_assert_str_eq(RUN("TYPE", "k"), "+none\r\n");
    cr_assert_str_eq(rec, "*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n");
    cr_assert_eq(srv.stats.expired_keys, 1);
}

Test(effects, scan_deletes_expired_keys_it_meets_and_logs_them) {
    RUN("SET", "live", "v");
    RUN("SET", "dead", "v");
    db_set_expire(srv.dbs[0], db_find(srv.dbs[0], "dead", 4), 1);
    clear_log();
    cr_assert_str_eq(RUN("SCAN", "0", "COUNT", "100"), "*2\r\n$1\r\n0\r\n*1\r\n$4\r\nlive\r\n");
    cr_assert_str_eq(rec, "*2\r\n$3\r\nDEL\r\n$4\r\ndead\r\n");
    cr_assert_eq(db_size(srv.dbs[0]), 1);
}

static void *
add_fake(int type, const char *key) {
    void *p = kcalloc(1, 8);
    db_add(srv.dbs[0], obj_new_ptr(type, OBJ_ENC_LISTPACK, key, strlen(key), p, -1));
    return p;
}

Test(effects, type_and_scan_type_know_every_type_name) {
    const char *names[] = {"list", "set", "zset", "hash"};
    char key[16], want[64];
    for (int i = 0; i < 4; i++) {
        snprintf(key, sizeof key, "k-%s", names[i]);
        add_fake(fake_types[i], key);
    }
    RUN("SET", "k-string", "v");
    for (int i = 0; i < 4; i++) {
        snprintf(key, sizeof key, "k-%s", names[i]);
        snprintf(want, sizeof want, "+%s\r\n", names[i]);
        cr_assert_str_eq(RUN("TYPE", key), want);
        snprintf(want, sizeof want, "*2\r\n$1\r\n0\r\n*1\r\n$%zu\r\n%s\r\n", strlen(key), key);
        cr_assert_str_eq(RUN("SCAN", "0", "COUNT", "1000", "TYPE", names[i]), want);
    }
    cr_assert_str_eq(RUN("SCAN", "0", "COUNT", "1000", "TYPE", "string"),
                     "*2\r\n$1\r\n0\r\n*1\r\n$8\r\nk-string\r\n");
    cr_assert_str_eq(RUN("SCAN", "0", "COUNT", "1000", "TYPE", "stream"),
                     "*2\r\n$1\r\n0\r\n*0\r\n");
}

Test(effects, rename_moves_a_collection_and_copy_duplicates_it) {
    void *p = add_fake(OBJ_SET, "s");
    cr_assert_str_eq(RUN("EXPIRE", "s", "100"), ":1\r\n");
    cr_assert_str_eq(RUN("RENAME", "s", "t"), "+OK\r\n");
    kobj_t *o = db_find(srv.dbs[0], "t", 1);
    cr_assert_not_null(o);
    cr_assert_eq(obj_ptr(o), p, "RENAME must move the structure, not copy it");
    cr_assert_gt(obj_expire(o), 0);
    cr_assert_eq(dup_calls, 0);
    cr_assert_eq(free_calls, 0);
    cr_assert_str_eq(RUN("COPY", "t", "u"), ":1\r\n");
    cr_assert_eq(dup_calls, 1);
    cr_assert_neq(obj_ptr(db_find(srv.dbs[0], "u", 1)), p);
    cr_assert_str_eq(RUN("MOVE", "t", "1"), ":1\r\n");
    cr_assert_eq(obj_ptr(db_find(srv.dbs[1], "t", 1)), p);
    cr_assert_str_eq(RUN("DEL", "u"), ":1\r\n");
    cr_assert_eq(free_calls, 1);
}
