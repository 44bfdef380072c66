/*
 * test_hiredis_client.c - the real keel-server driven by hiredis (the C client most others wrap):
 * pipelining, binary-safe arguments, RESP2 reply types, transactions, errors, and a write that
 * survives a SIGKILL in durability sync. The server runs on a free 127.0.0.1 port in a temp dir
 * and is killed by PID in the fini, also when a test fails.
 */
#include <criterion/criterion.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef KEEL_BUILD_DIR
#error "KEEL_BUILD_DIR must name the build directory holding keel-server"
#endif

static pid_t server_pid;
static int port;
static char dir[64];
static redisContext *rc;

static int
free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    bind(fd, (struct sockaddr *)&a, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &l);
    close(fd);
    return ntohs(a.sin_port);
}

static void
start_server(void) {
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    server_pid = fork();
    if (server_pid == 0) {
        freopen("/dev/null", "w", stdout);
        execl(KEEL_BUILD_DIR "/keel-server", "keel-server", "--bind", "127.0.0.1", "--port",
              portstr, "--dir", dir, "--durability", "sync", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 500; i++) {
        rc = redisConnect("127.0.0.1", port);
        if (rc && !rc->err)
            return;
        if (rc)
            redisFree(rc);
        rc = NULL;
        usleep(10000);
    }
    cr_assert_fail("keel-server did not start");
}

static void
stop_server(int sig) {
    if (rc)
        redisFree(rc);
    rc = NULL;
    if (server_pid > 0) {
        kill(server_pid, sig);
        waitpid(server_pid, NULL, 0);
    }
    server_pid = 0;
}

static void
setup(void) {
    snprintf(dir, sizeof dir, "/tmp/keel-hiredis-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    port = free_port();
    start_server();
}

static void
teardown(void) {
    stop_server(SIGKILL);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(hiredis, .init = setup, .fini = teardown, .timeout = 60);

static redisReply *
cmd(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(rc, fmt, ap);
    va_end(ap);
    cr_assert_not_null(r, "connection error: %s", rc->errstr);
    return r;
}

Test(hiredis, binary_safe_set_and_get) {
    const char val[] = {'a', 0, '\r', '\n', 'b'};
    freeReplyObject(cmd("SET %b %b", "k\0ey", (size_t)4, val, sizeof val));
    redisReply *r = cmd("GET %b", "k\0ey", (size_t)4);
    cr_assert_eq(r->type, REDIS_REPLY_STRING);
    cr_assert_eq(r->len, sizeof val);
    cr_assert(memcmp(r->str, val, sizeof val) == 0);
    freeReplyObject(r);
}

Test(hiredis, pipelined_commands_reply_in_order) {
    for (int i = 0; i < 1000; i++)
        redisAppendCommand(rc, "INCR counter");
    for (int i = 1; i <= 1000; i++) {
        redisReply *r;
        cr_assert_eq(redisGetReply(rc, (void **)&r), REDIS_OK);
        cr_assert_eq(r->type, REDIS_REPLY_INTEGER);
        cr_assert_eq(r->integer, i);
        freeReplyObject(r);
    }
}

/* Debian's hiredis (0.14) speaks RESP2 only; RESP3 is covered by the Python raw client. */
Test(hiredis, resp2_reply_types) {
    redisReply *r = cmd("GET missing");
    cr_assert_eq(r->type, REDIS_REPLY_NIL);
    freeReplyObject(r);
    freeReplyObject(cmd("HSET h f1 v1 f2 v2"));
    r = cmd("HGETALL h");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY); /* a map is a flat array in RESP2 */
    cr_assert_eq(r->elements, 4);
    freeReplyObject(r);
    freeReplyObject(cmd("ZADD z 1.5 m"));
    r = cmd("ZSCORE z m");
    cr_assert_eq(r->type, REDIS_REPLY_STRING); /* a double is a bulk string in RESP2 */
    cr_assert_str_eq(r->str, "1.5");
    freeReplyObject(r);
    r = cmd("PING");
    cr_assert_eq(r->type, REDIS_REPLY_STATUS);
    cr_assert_str_eq(r->str, "PONG");
    freeReplyObject(r);
    r = cmd("LPOP nolist 2");
    cr_assert_eq(r->type, REDIS_REPLY_NIL); /* RESP2 null array */
    freeReplyObject(r);
}

Test(hiredis, errors_and_transactions) {
    redisReply *r = cmd("SET");
    cr_assert_eq(r->type, REDIS_REPLY_ERROR);
    cr_assert_str_eq(r->str, "ERR wrong number of arguments for 'set' command");
    freeReplyObject(r);
    freeReplyObject(cmd("MULTI"));
    freeReplyObject(cmd("SET a 1"));
    freeReplyObject(cmd("INCR a"));
    r = cmd("EXEC");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 2);
    cr_assert_eq(r->element[1]->integer, 2);
    freeReplyObject(r);
    freeReplyObject(cmd("LPUSH l x"));
    r = cmd("GET l");
    cr_assert_eq(r->type, REDIS_REPLY_ERROR);
    cr_assert(strncmp(r->str, "WRONGTYPE", 9) == 0);
    freeReplyObject(r);
}

Test(hiredis, acknowledged_write_survives_sigkill) {
    char big[4096];
    memset(big, 'z', sizeof big);
    for (int i = 0; i < 200; i++)
        freeReplyObject(cmd("SET key:%d %b", i, big, sizeof big));
    stop_server(SIGKILL); /* durability sync: every reply above means the write is on disk */
    start_server();
    for (int i = 0; i < 200; i++) {
        redisReply *r = cmd("STRLEN key:%d", i);
        cr_assert_eq(r->integer, (long long)sizeof big, "key:%d lost", i);
        freeReplyObject(r);
    }
}
