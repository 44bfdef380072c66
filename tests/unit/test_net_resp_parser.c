/*
 * test_resp_parser.c - the request parser fed well-formed, split, pipelined and malformed input.
 * Every malformed kind gets its Valkey error text; random bytes never crash it nor make it point
 * outside the buffer.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmem.h"
#include "resp.h"

static const resp_limits_t LIM = {512 * 1024 * 1024LL, 1024 * 1024, 64 * 1024};

typedef struct parsed {
    int rc;
    int argc;
    char args[8][64];
    char err[128];
    size_t pos;
} parsed_t;

static parsed_t
parse_all(resp_parser_t *p, const char *buf, size_t len, const resp_limits_t *lim) {
    parsed_t r = {0};
    karg_t *argv;
    size_t hint;
    r.rc = resp_parse(p, buf, len, lim, &r.argc, &argv, &hint, r.err, sizeof r.err);
    if (r.rc == RESP_COMMAND)
        for (int i = 0; i < r.argc && i < 8; i++)
            snprintf(r.args[i], sizeof r.args[i], "%.*s", (int)argv[i].n, argv[i].p);
    r.pos = p->pos;
    return r;
}

static parsed_t
parse_one(const char *s) {
    resp_parser_t p;
    resp_parser_init(&p);
    parsed_t r = parse_all(&p, s, strlen(s), &LIM);
    resp_parser_free(&p);
    return r;
}

Test(resp, multibulk_command) {
    parsed_t r = parse_one("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n");
    cr_assert_eq(r.rc, RESP_COMMAND);
    cr_assert_eq(r.argc, 3);
    cr_assert_str_eq(r.args[0], "SET");
    cr_assert_str_eq(r.args[2], "hello");
}

Test(resp, binary_bulk_with_crlf_inside) {
    const char in[] = "*2\r\n$4\r\nECHO\r\n$4\r\na\r\nb\r\n";
    resp_parser_t p;
    resp_parser_init(&p);
    int argc;
    karg_t *argv;
    size_t hint;
    char err[64];
    cr_assert_eq(resp_parse(&p, in, sizeof in - 1, &LIM, &argc, &argv, &hint, err, sizeof err),
                 RESP_COMMAND);
    cr_assert_eq(argv[1].n, 4);
    cr_assert(memcmp(argv[1].p, "a\r\nb", 4) == 0);
    resp_parser_free(&p);
}

Test(resp, every_split_point_gives_the_same_command) {
    const char *in = "*3\r\n$3\r\nSET\r\n$10\r\nkey-123456\r\n$12\r\nvalue-abcdef\r\n";
    size_t n = strlen(in);
    for (size_t cut = 0; cut < n; cut++) {
        resp_parser_t p;
        resp_parser_init(&p);
        parsed_t a = parse_all(&p, in, cut, &LIM);
        cr_assert_eq(a.rc, RESP_NEED_MORE, "cut at %zu", cut);
        parsed_t b = parse_all(&p, in, n, &LIM);
        cr_assert_eq(b.rc, RESP_COMMAND, "cut at %zu", cut);
        cr_assert_str_eq(b.args[1], "key-123456");
        cr_assert_str_eq(b.args[2], "value-abcdef");
        cr_assert_eq(b.pos, n);
        resp_parser_free(&p);
    }
}

Test(resp, pipeline_and_buffer_shift) {
    const char *in = "*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n";
    size_t n = strlen(in);
    char buf[256];
    memcpy(buf, in, n);
    resp_parser_t p;
    resp_parser_init(&p);
    parsed_t a = parse_all(&p, buf, n, &LIM);
    cr_assert_str_eq(a.args[0], "PING");
    resp_parser_next(&p);
    /* Part of the next command is parsed, then the consumed bytes are dropped (compaction). */
    parsed_t b = parse_all(&p, buf, n - 6, &LIM);
    cr_assert_eq(b.rc, RESP_NEED_MORE);
    size_t used = p.start;
    memmove(buf, buf + used, n - used);
    resp_parser_shift(&p, used);
    parsed_t c = parse_all(&p, buf, n - used, &LIM);
    cr_assert_eq(c.rc, RESP_COMMAND);
    cr_assert_str_eq(c.args[0], "ECHO");
    cr_assert_str_eq(c.args[1], "hi");
    resp_parser_free(&p);
}

Test(resp, inline_commands_with_quotes_and_escapes) {
    parsed_t r = parse_one("SET \"a b\" 'c d' \"\\x41\\n\"\r\n");
    cr_assert_eq(r.rc, RESP_COMMAND);
    cr_assert_eq(r.argc, 4);
    cr_assert_str_eq(r.args[1], "a b");
    cr_assert_str_eq(r.args[2], "c d");
    cr_assert_str_eq(r.args[3], "A\n");
    r = parse_one("\r\n\r\nPING\n");
    cr_assert_eq(r.rc, RESP_COMMAND, "empty lines are skipped");
    cr_assert_str_eq(r.args[0], "PING");
}

Test(resp, empty_and_null_multibulk_are_skipped) {
    parsed_t r = parse_one("*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n");
    cr_assert_eq(r.rc, RESP_COMMAND);
    cr_assert_str_eq(r.args[0], "PING");
}

static void
expect_error(const char *in, const char *msg, const resp_limits_t *lim) {
    resp_parser_t p;
    resp_parser_init(&p);
    parsed_t r = parse_all(&p, in, strlen(in), lim ? lim : &LIM);
    cr_assert_eq(r.rc, -1, "input %s: rc %d", in, r.rc);
    cr_assert_str_eq(r.err, msg, "input %s", in);
    resp_parser_free(&p);
}

Test(resp, malformed_input_gets_valkeys_errors) {
    expect_error("*abc\r\n", "invalid multibulk length", NULL);
    expect_error("*1\r\n$x\r\n", "invalid bulk length", NULL);
    expect_error("*1\r\n$-1\r\n", "invalid bulk length", NULL);
    expect_error("*1\r\n:3\r\n", "expected '$', got ':'", NULL);
    expect_error("*1\r\n$3\r\nPINGX\r\n", "invalid bulk format", NULL);
    expect_error("*2000000\r\n", "invalid multibulk length", NULL);
    expect_error("*1\r\n$600000000\r\n", "invalid bulk length", NULL);
    expect_error("SET \"a b\r\n", "unbalanced quotes in request", NULL);
    expect_error("SET \"a\"b\r\n", "unbalanced quotes in request", NULL);
}

Test(resp, unauthenticated_limits_say_so) {
    resp_limits_t unauth = {16 * 1024, 10, 64 * 1024, true};
    expect_error("*11\r\n", "unauthenticated multibulk length", &unauth);
    expect_error("*1\r\n$16385\r\n", "unauthenticated bulk length", &unauth);
    expect_error("*1\r\n$-2\r\n", "invalid bulk length", &unauth); /* malformed, not too big */
    resp_parser_t p;
    resp_parser_init(&p);
    const char *ok = "*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n";
    parsed_t r = parse_all(&p, ok, strlen(ok), &unauth);
    cr_assert_eq(r.rc, RESP_COMMAND);
    cr_assert_str_eq(r.args[1], "pw");
    resp_parser_free(&p);
}

Test(resp, oversized_headers_and_inline_requests) {
    resp_limits_t small = {1024, 16, 64};
    char buf[256];
    memset(buf, 'A', sizeof buf - 1);
    buf[sizeof buf - 1] = 0;
    expect_error(buf, "too big inline request", &small);
    buf[0] = '*';
    expect_error(buf, "too big mbulk count string", &small);
    expect_error("*17\r\n", "invalid multibulk length", &small);
    expect_error("*1\r\n$1025\r\n", "invalid bulk length", &small);
    char bulk[256] = "*1\r\n$";
    memset(bulk + 5, '9', 100);
    bulk[105] = 0;
    expect_error(bulk, "too big bulk count string", &small);
}

Test(resp, big_bulk_asks_for_room_once) {
    const char *hdr = "*2\r\n$3\r\nSET\r\n$100000\r\n";
    resp_parser_t p;
    resp_parser_init(&p);
    int argc;
    karg_t *argv;
    size_t hint;
    char err[64];
    cr_assert_eq(resp_parse(&p, hdr, strlen(hdr), &LIM, &argc, &argv, &hint, err, sizeof err),
                 RESP_NEED_MORE);
    cr_assert_eq(hint, strlen(hdr) + 100000 + 2, "the parser says how big the buffer must be");
    resp_parser_free(&p);
}

Test(resp, random_bytes_never_crash_nor_escape_the_buffer) {
    unsigned seed = 12345;
    char buf[512];
    const char alphabet[] = "*$\r\n0123456789-\" '\\xPING";
    for (int iter = 0; iter < 200000; iter++) {
        size_t len = (size_t)(rand_r(&seed) % sizeof buf);
        for (size_t i = 0; i < len; i++)
            buf[i] = (rand_r(&seed) & 1) ? alphabet[rand_r(&seed) % (sizeof alphabet - 1)]
                                         : (char)rand_r(&seed);
        resp_parser_t p;
        resp_parser_init(&p);
        for (int cmds = 0; cmds < 64; cmds++) {
            int argc = 0;
            karg_t *argv = NULL;
            size_t hint;
            char err[128];
            int rc = resp_parse(&p, buf, len, &LIM, &argc, &argv, &hint, err, sizeof err);
            cr_assert(rc == -1 || rc == RESP_NEED_MORE || rc == RESP_COMMAND);
            cr_assert_leq(p.pos, len);
            if (rc != RESP_COMMAND)
                break;
            cr_assert_gt(argc, 0);
            for (int i = 0; i < argc; i++) {
                bool in_buf = argv[i].p >= buf && argv[i].p + argv[i].n <= buf + len;
                bool in_inline = p.inline_buf && argv[i].p >= p.inline_buf &&
                                 argv[i].p + argv[i].n <= p.inline_buf + p.inline_cap;
                cr_assert(in_buf || in_inline, "argument outside both buffers");
            }
            resp_parser_next(&p);
        }
        resp_parser_free(&p);
    }
}
