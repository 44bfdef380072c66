/*
 * test_commands_script.c - scripts through exec_command with a fake client and a sink that
 * captures each log record: a script's writes are ONE record in effect form (its commands as
 * they ran, SELECT where the database changes, EXPIRE as PEXPIREAT), a read-only script logs
 * nothing, an error stops it with what ran so far logged as one record; the RESP <-> Lua
 * conversions both ways in RESP2 and RESP3; the sandbox's refusals; FUNCTION LOAD logged as its
 * call.
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
    prop_init(&srv.prop);
    config_defaults(&srv);
    srv.durable_lsn = UINT64_MAX;
    db_env_init(&srv.dbenv, srv_key_expired_cb, &srv);
    for (int i = 0; i < srv.cfg.databases; i++)
        srv.dbs[i] = db_create(i, &srv.dbenv);
    cmd_table_init(&srv, commands_registry);
    harness_attach();
}

TestSuite(script, .init = setup);

#define run(...) RUN(__VA_ARGS__)


Test(script, writes_are_one_record_in_effect_form) {
    cr_assert_str_eq(run("EVAL",
                         "redis.call('set', KEYS[1], 'a') redis.call('select', 1) "
                         "redis.call('set', 'x', 5) redis.call('expire', 'x', 100) return 1",
                         "1", "k"),
                     ":1\r\n");
    cr_assert_eq(nrec, 1);
    cr_assert(strstr(rec, "*3\r\n$3\r\nset\r\n$1\r\nk\r\n$1\r\na\r\n"), "%s", rec);
    cr_assert(strstr(rec, "$6\r\nSELECT\r\n$1\r\n1\r\n"), "%s", rec);
    cr_assert(strstr(rec, "PEXPIREAT"), "EXPIRE is logged in its absolute form: %s", rec);
    cr_assert_null(strstr(rec, "EVAL"), "replay never runs Lua: %s", rec);
    /* The caller's database did not move (SELECT inside a script is the script's own). */
    cr_assert_str_eq(run("GET", "k"), "$1\r\na\r\n");
}

Test(script, reads_log_nothing_and_an_error_keeps_what_ran) {
    run("SET", "n", "1");
    rec_len = 0;
    nrec = 0;
    run("EVAL", "return redis.call('get', 'n')", "0");
    cr_assert_eq(nrec, 0);
    const char *r = run("EVAL", "redis.call('incr', 'n') redis.call('nosuch')", "0");
    cr_assert(strstr(r, "-ERR Unknown Redis command called from script script: "), "%s", r);
    cr_assert_eq(nrec, 1); /* as Valkey: no rollback, what ran is one record */
    cr_assert(strstr(rec, "incr"), "%s", rec);
}

Test(script, conversions_resp2) {
    run("SET", "s", "v");
    cr_assert_str_eq(run("EVAL", "return {1, 'a', false, {2}}", "0"),
                     "*4\r\n:1\r\n$1\r\na\r\n$-1\r\n*1\r\n:2\r\n");
    cr_assert_str_eq(run("EVAL", "return redis.call('set', 's', 'w')", "0"), "+OK\r\n");
    cr_assert_str_eq(run("EVAL", "return {double=1.5}", "0"), "$3\r\n1.5\r\n");
    cr_assert_str_eq(run("EVAL", "return {map={a='b'}}", "0"), "*2\r\n$1\r\na\r\n$1\r\nb\r\n");
    cr_assert_str_eq(run("EVAL", "return {big_number='123'}", "0"), "$3\r\n123\r\n");
    cr_assert_str_eq(run("EVAL", "return {err='MY err'}", "0"), "-MY err\r\n");
    cr_assert_str_eq(run("EVAL", "return type(redis.call('get', 'nokey'))", "0"),
                     "$7\r\nboolean\r\n");
    cr_assert_str_eq(run("EVAL", "return redis.call('incr', 'cnt') + 1", "0"), ":2\r\n");
}

Test(script, conversions_resp3) {
    c->resp = 3;
    run("HSET", "h", "f", "v");
    cr_assert_str_eq(run("EVAL", "return {double=1.5}", "0"), ",1.5\r\n");
    cr_assert_str_eq(run("EVAL", "return {set={x=true}}", "0"), "~1\r\n$1\r\nx\r\n");
    cr_assert_str_eq(run("EVAL", "return false", "0"), "_\r\n");
    cr_assert_str_eq(run("EVAL", "redis.setresp(3) return true", "0"), "#t\r\n");
    cr_assert_str_eq(run("EVAL", "return {verbatim_string={format='txt', string='hi'}}", "0"),
                     "=6\r\ntxt:hi\r\n");
    cr_assert_str_eq(run("EVAL", "redis.setresp(3) return redis.call('hgetall', 'h').map.f", "0"),
                     "$1\r\nv\r\n");
    cr_assert_str_eq(run("EVAL", "redis.setresp(3) return redis.call('get', 'nokey') == nil", "0"),
                     "#t\r\n");
    c->resp = 2;
}

Test(script, sandbox_refuses_files_and_processes) {
    static const char *const code[] = {"os.execute('true')", "io.open('/etc/passwd')",
                                       "loadfile('/etc/passwd')", "require('x')"};
    for (size_t i = 0; i < sizeof code / sizeof *code; i++) {
        const char *r = run("EVAL", code[i], "0");
        cr_assert(strstr(r, "Script attempted to access nonexistent global variable"), "%s", r);
    }
    cr_assert(strstr(run("EVAL", "x = 1", "0"), "Attempt to modify a readonly table"));
    cr_assert(strstr(run("EVAL", "rawset(string, 'x', 1)", "0"), "readonly table"));
    cr_assert_str_eq(run("EVAL", "return string.rep('a', 3)", "0"), "$3\r\naaa\r\n");
}

Test(script, function_load_is_logged_as_called) {
    const char *lib = "#!lua name=l\nredis.register_function('f', function(k, a) "
                      "return redis.call('incr', k[1]) end)";
    cr_assert_str_eq(run("FUNCTION", "LOAD", lib), "$1\r\nl\r\n");
    cr_assert_eq(nrec, 1);
    cr_assert(strstr(rec, "register_function"), "%s", rec);
    rec_len = 0;
    nrec = 0;
    cr_assert_str_eq(run("FCALL", "f", "1", "c"), ":1\r\n");
    cr_assert_eq(nrec, 1);
    cr_assert(strstr(rec, "incr"), "%s", rec);
    /* An EVAL's KEYS are gone once it ends: a function never sees another script's arguments. */
    run("FUNCTION", "LOAD",
        "#!lua name=peek\nredis.register_function('peek', function() return KEYS[1] end)");
    run("EVAL", "return 1", "1", "secret");
    const char *r = run("FCALL", "peek", "0");
    cr_assert(strstr(r, "nonexistent global variable 'KEYS'"), "%s", r);
}

/* EVAL of `return hex(<expr>)`: the bytes of a packed string as hex digits. */
static const char *
hex_of(const char *expr) {
    static char code[512];
    snprintf(code, sizeof code,
             "local s = %s return (s:gsub('.', function(c) "
             "return string.format('%%02x', c:byte()) end))",
             expr);
    return run("EVAL", code, "0");
}

Test(script, cmsgpack_packs_as_messagepack_and_round_trips) {
    cr_assert_str_eq(hex_of("cmsgpack.pack({1, 2, 3})"), "$8\r\n93010203\r\n");
    cr_assert_str_eq(hex_of("cmsgpack.pack('abc', true, nil)"), "$12\r\na3616263c3c0\r\n");
    cr_assert_str_eq(hex_of("cmsgpack.pack(1.5, -200, 70000, -5)"),
                     "$28\r\nca3fc00000d1ff38ce00011170fb\r\n");
    cr_assert_str_eq(hex_of("cmsgpack.pack(0.1)"), "$18\r\ncb3fb999999999999a\r\n");
    cr_assert_str_eq(hex_of("cmsgpack.pack({a = 1})"), "$8\r\n81a16101\r\n");
    cr_assert_str_eq(run("EVAL",
                         "local t = cmsgpack.unpack(cmsgpack.pack({a = {1, 'x'}, b = 2.25})) "
                         "return {t.a[2], tostring(t.b)}",
                         "0"),
                     "*2\r\n$1\r\nx\r\n$4\r\n2.25\r\n");
    cr_assert_str_eq(run("EVAL", "return {cmsgpack.unpack_one(cmsgpack.pack(7, 8))}", "0"),
                     "*2\r\n:1\r\n:7\r\n");
    cr_assert_str_eq(run("EVAL", "return {cmsgpack.unpack_limit(cmsgpack.pack(7, 8), 2)}", "0"),
                     "*3\r\n:-1\r\n:7\r\n:8\r\n");
    const char *r = run("EVAL", "return cmsgpack.unpack(string.char(0xdc, 0, 5))", "0");
    cr_assert(strstr(r, "Missing bytes in input."), "%s", r);
}

Test(script, struct_packs_unpacks_and_sizes) {
    cr_assert_str_eq(hex_of("struct.pack('>I2c3', 258, 'ab')"), "$10\r\n0102616200\r\n");
    cr_assert_str_eq(hex_of("struct.pack('<i2bxB', -2, -1, 200)"), "$10\r\nfeffff00c8\r\n");
    cr_assert_str_eq(hex_of("struct.pack('!4 b i4', 1, 2)"), "$16\r\n0100000002000000\r\n");
    cr_assert_str_eq(run("EVAL",
                         "return {struct.unpack('<i4hBs', struct.pack('<i4hBs', -5, 300, 255, "
                         "'hi'))}",
                         "0"),
                     "*5\r\n:-5\r\n:300\r\n:255\r\n$2\r\nhi\r\n:11\r\n");
    cr_assert_str_eq(run("EVAL", "return {struct.unpack('Bc0', struct.pack('Bc0', 3, 'xyz'))}",
                         "0"),
                     "*2\r\n$3\r\nxyz\r\n:5\r\n");
    cr_assert_str_eq(run("EVAL", "return struct.size('!4 b i4 d')", "0"), ":16\r\n");
    cr_assert(strstr(run("EVAL", "return struct.size('s')", "0"), "undefined sizes"));
    cr_assert(
        strstr(run("EVAL", "return struct.unpack('i4', 'ab')", "0"), "data string too short"));
}

Test(script, eval_loaded_scripts_are_evicted_past_500_script_load_ones_never) {
    char body[64], sha_first[41];
    run("SCRIPT", "LOAD", "return 'kept'");
    for (int i = 0; i < 502; i++) {
        snprintf(body, sizeof body, "return %d", i);
        cr_assert_eq(atoi(run("EVAL", body, "0") + 1), i);
        if (i == 1) { /* used again later: moves to the tail, so it stays */
            const char *r = run("SCRIPT", "LOAD", "return 0");
            memcpy(sha_first, strstr(r, "\r\n") + 2, 40);
            sha_first[40] = 0;
        }
        if (i == 300)
            run("EVAL", "return 1", "0");
    }
    /* 'return 0' became permanent by SCRIPT LOAD and 'return 1' was used again, so the 501st
     * EVAL script pushed out 'return 2', the least recently used. */
    cr_assert_str_eq(run("EVALSHA", sha_first, "0"), ":0\r\n");
    cr_assert_str_eq(run("EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"), ":1\r\n",
                     "sha1('return 1')");
    cr_assert(strstr(run("EVALSHA", "7f923f79fe76194c868d7e1d0820de36700eb649", "0"), "NOSCRIPT"),
              "sha1('return 2') was evicted");
    cr_assert_str_eq(run("EVAL", "return 501", "0"), ":501\r\n");
}
