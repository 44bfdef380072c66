/*
 * test_engine_acl.c - acl.c and acl_file.c on a small command table of their own: rule parsing
 * and its error strings, command / category / subcommand / first-argument permissions, key
 * patterns with read and write permissions, channel patterns (PSUBSCRIBE literal), passwords
 * (SHA-256, compared in constant time), the ACL LIST text read back to the same user, the
 * limits, all-or-nothing ACL SETUSER, and ACL LOAD keeping the old users on a bad file.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acl.h"
#include "acl_int.h"
#include "cmd.h"
#include "engine.h"
#include "ht.h"
#include "kmem.h"
#include "sbuf.h"

static void
nop(client_t *c) {
    (void)c;
}

static cmd_def_t config_subs[] = {
    {"get", nop, -3, CMD_ADMIN, 0, 0, 0, "server", "", "", "", "admin slow dangerous"},
    {"set", nop, -4, CMD_ADMIN, 0, 0, 0, "server", "", "", "", "admin slow dangerous"},
    {0},
};

static cmd_def_t table[] = {
    {"get", nop, 2, CMD_READONLY | CMD_FAST, 1, 1, 1, "string", "", "", "", "read string fast"},
    {"set", nop, -3, CMD_WRITE, 1, 1, 1, "string", "", "", "", "write string slow"},
    {"del", nop, -2, CMD_WRITE, 1, -1, 1, "keyspace", "", "", "", "keyspace write slow"},
    {"exists", nop, -2, CMD_READONLY | CMD_FAST, 1, -1, 1, "keyspace", "", "", "",
     "keyspace read fast"},
    {"select", nop, 2, CMD_FAST, 0, 0, 0, "connection", "", "", "", "fast connection"},
    {"auth", nop, -2, CMD_NO_AUTH, 0, 0, 0, "connection", "", "", "", "fast connection"},
    {"config", NULL, -2, 0, 0, 0, 0, "server", "", "", "", "slow", NULL, config_subs},
    {"publish", nop, 3, CMD_PUBSUB, 0, 0, 0, "pubsub", "", "", "", "pubsub fast"},
    {"subscribe", nop, -2, CMD_PUBSUB, 0, 0, 0, "pubsub", "", "", "", "pubsub slow"},
    {"psubscribe", nop, -2, CMD_PUBSUB, 0, 0, 0, "pubsub", "", "", "", "pubsub slow"},
    {"spublish", nop, 3, CMD_PUBSUB, 1, 1, 1, "pubsub", "", "", "", "pubsub fast"},
    {0},
};
static cmd_def_t *const groups[] = {table, NULL};

static engine_t *e;
static char err[512];

static void
setup(void) {
    e = kcalloc(1, sizeof *e);
    e->cfg.acllog_max_len = 128;
    cmd_table_init(e, groups);
    acl_init(e);
}

static void
teardown(void) {
    acl_free(e);
    ht_release(e->cmds);
    kfree(e->cmd_stats);
    kfree(e);
}

TestSuite(acl, .init = setup, .fini = teardown);

/* Split s on spaces into args (pointing into a copy kept in buf). */
static int
split(const char *s, char *buf, size_t cap, karg_t *args, int max) {
    snprintf(buf, cap, "%s", s);
    int n = 0;
    for (char *t = strtok(buf, " "); t && n < max; t = strtok(NULL, " "))
        args[n++] = (karg_t){t, strlen(t)};
    return n;
}

static int
setuser(const char *name, const char *rules) {
    char buf[4096];
    karg_t args[128];
    int n = split(rules, buf, sizeof buf, args, 128);
    karg_t nm = {name, strlen(name)};
    err[0] = 0;
    return acl_setuser(e, &nm, n, args, err, sizeof err);
}

static acl_user_t *
user(const char *name) {
    acl_user_t *u = acl_user_find(e, name, strlen(name));
    cr_assert_not_null(u, "no user %s", name);
    return u;
}

/* acl_check of a command line ("get app:x") for a user; *pos gets the blamed argument. */
static int
check_at(const char *name, const char *line, int *pos) {
    char buf[1024];
    karg_t args[32];
    int n = split(line, buf, sizeof buf, args, 32);
    cmd_def_t *cmd = cmd_resolve(e, n, args);
    cr_assert_not_null(cmd, "no command for %s", line);
    int p = -1;
    int r = acl_check(e, user(name), cmd, n, args, &p);
    if (pos)
        *pos = p;
    return r;
}

static int
check(const char *name, const char *line) {
    return check_at(name, line, NULL);
}

static char *
describe(const char *name) {
    static char out[4096];
    sbuf_t b = {0};
    acl_describe(e, user(name), ACL_DESCR_ALL, &b);
    snprintf(out, sizeof out, "%.*s", (int)b.len, b.p ? b.p : "");
    sbuf_free(&b);
    return out;
}

Test(acl, the_default_user_may_do_everything_without_a_password) {
    acl_user_t *d = acl_default_user(e);
    cr_assert_str_eq(describe("default"), "on nopass sanitize-payload ~* &* +@all");
    cr_assert(acl_password_matches(d, "anything", 8));
    cr_assert_eq(d->flags & ACL_U_UNRESTRICTED, ACL_U_UNRESTRICTED);
    cr_assert_eq(check("default", "config set x y"), ACL_OK);
}

Test(acl, a_read_only_user_reads_its_keys_only) {
    cr_assert_eq(setuser("app", "on >pw ~app:* +@read"), 0, "%s", err);
    int pos;
    cr_assert_eq(check_at("app", "get app:x", &pos), ACL_OK);
    cr_assert_eq(check_at("app", "get other:x", &pos), ACL_DENIED_KEY);
    cr_assert_eq(pos, 1);
    cr_assert_eq(check_at("app", "exists app:1 app:2 zz", &pos), ACL_DENIED_KEY);
    cr_assert_eq(pos, 3, "the key to blame is the third");
    cr_assert_eq(check_at("app", "set app:x 1", &pos), ACL_DENIED_CMD);
    cr_assert_eq(pos, 0);
    cr_assert_str_eq(describe("app"),
                     "on sanitize-payload "
                     "#30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 ~app:* "
                     "resetchannels -@all +@read");
}

Test(acl, categories_add_and_remove_commands) {
    cr_assert_eq(setuser("u", "on allkeys +@all -@write"), 0, "%s", err);
    cr_assert_eq(check("u", "get k"), ACL_OK);
    cr_assert_eq(check("u", "set k v"), ACL_DENIED_CMD);
    cr_assert_eq(check("u", "del k"), ACL_DENIED_CMD);
    cr_assert_eq(setuser("v", "on allkeys -@all +@keyspace -del"), 0, "%s", err);
    cr_assert_eq(check("v", "exists k"), ACL_OK);
    cr_assert_eq(check("v", "del k"), ACL_DENIED_CMD);
    cr_assert_eq(check("v", "get k"), ACL_DENIED_CMD);
    cr_assert_eq(setuser("w", "+@nosuchcategory"), -1);
    cr_assert_str_eq(err, "Error in ACL SETUSER modifier '+@nosuchcategory': Unknown command or "
                          "category name in ACL");
}

Test(acl, subcommands_and_first_arguments) {
    cr_assert_eq(setuser("c", "on -@all +config|get +select|0"), 0, "%s", err);
    cr_assert_eq(check("c", "config get maxmemory"), ACL_OK);
    cr_assert_eq(check("c", "config set maxmemory 1"), ACL_DENIED_CMD);
    cr_assert_eq(check("c", "select 0"), ACL_OK);
    cr_assert_eq(check("c", "select 1"), ACL_DENIED_CMD);
    cr_assert_str_eq(describe("c"),
                     "on sanitize-payload resetchannels -@all +config|get +select|0");
    /* A rule for the whole command drops the rules of its parts. */
    cr_assert_eq(setuser("c", "-config -select"), 0, "%s", err);
    cr_assert_str_eq(describe("c"), "on sanitize-payload resetchannels -@all -config -select");
    cr_assert_eq(check("c", "select 0"), ACL_DENIED_CMD);
    cr_assert_eq(setuser("c", "+config -config|set"), 0, "%s", err);
    cr_assert_eq(check("c", "config get x"), ACL_OK);
    cr_assert_eq(check("c", "config set x y"), ACL_DENIED_CMD);
    cr_assert_eq(setuser("c", "+config|nope"), -1);
    cr_assert(strstr(err, "Unknown command or category name in ACL"), "%s", err);
    cr_assert_eq(setuser("c", "+config|get|x"), -1);
    cr_assert(strstr(err, "Allowing first-arg of a subcommand is not supported"), "%s", err);
    cr_assert_eq(setuser("c", "+select|"), -1);
    cr_assert(strstr(err, "Syntax error"), "%s", err);
    cr_assert_eq(setuser("c", "-select|0"), -1, "a first argument cannot be denied alone");
    karg_t nm = {"c", 1}, nul = {"+select|a\0b", 11};
    cr_assert_eq(acl_setuser(e, &nm, 1, &nul, err, sizeof err), -1, "a NUL in a rule");
}

Test(acl, commands_allowed_before_auth_are_never_refused) {
    cr_assert_eq(setuser("n", "on nocommands"), 0, "%s", err);
    cr_assert_eq(check("n", "auth a b"), ACL_OK);
    cr_assert_eq(check("n", "get k"), ACL_DENIED_CMD);
}

Test(acl, read_and_write_key_patterns) {
    cr_assert_eq(setuser("rw", "on +@all %R~r:* %W~w:* ~both:*"), 0, "%s", err);
    cr_assert_eq(check("rw", "get r:1"), ACL_OK);
    cr_assert_eq(check("rw", "set r:1 v"), ACL_DENIED_KEY);
    cr_assert_eq(check("rw", "set w:1 v"), ACL_OK);
    cr_assert_eq(check("rw", "get w:1"), ACL_DENIED_KEY);
    cr_assert_eq(check("rw", "set both:1 v"), ACL_OK);
    cr_assert_eq(check("rw", "get both:1"), ACL_OK);
    int pos;
    cr_assert_eq(check_at("rw", "del w:1 both:2 r:3", &pos), ACL_DENIED_KEY);
    cr_assert_eq(pos, 3);
    /* The same pattern again widens it. */
    cr_assert_eq(setuser("rw", "%W~r:*"), 0, "%s", err);
    cr_assert_eq(check("rw", "set r:1 v"), ACL_OK);
    cr_assert(strstr(describe("rw"), " ~r:* %W~w:* ~both:* "), "%s", describe("rw"));
    cr_assert_eq(setuser("rw", "%X~a"), -1);
    cr_assert_eq(setuser("rw", "%RR~a"), -1);
    cr_assert_eq(setuser("rw", "%R"), -1);
    cr_assert_eq(setuser("all", "allkeys ~x"), -1);
    cr_assert(strstr(err, "Adding a pattern after the * pattern (or the 'allkeys' flag)"), "%s",
              err);
}

Test(acl, channel_patterns_and_literal_psubscribe) {
    cr_assert_eq(setuser("ps", "on +@all resetkeys &news.*"), 0, "%s", err);
    int pos;
    cr_assert_eq(check("ps", "publish news.1 hi"), ACL_OK);
    cr_assert_eq(check_at("ps", "publish sport hi", &pos), ACL_DENIED_CHANNEL);
    cr_assert_eq(pos, 1);
    cr_assert_eq(check_at("ps", "subscribe news.a sport", &pos), ACL_DENIED_CHANNEL);
    cr_assert_eq(pos, 2);
    cr_assert_eq(check("ps", "psubscribe news.*"), ACL_OK, "the same pattern, literally");
    cr_assert_eq(check("ps", "psubscribe news.1"), ACL_DENIED_CHANNEL, "not matched as a glob");
    cr_assert_eq(check("ps", "psubscribe *"), ACL_DENIED_CHANNEL);
    /* SPUBLISH's channel is a channel, not a key, although the table lists it as a key. */
    cr_assert_eq(check("ps", "spublish news.2 hi"), ACL_OK);
    cr_assert_eq(check("ps", "spublish x hi"), ACL_DENIED_CHANNEL);
    cr_assert_eq(setuser("ps", "allchannels &y"), -1);
    cr_assert(strstr(err, "(or the 'allchannels' flag)"), "%s", err);
}

Test(acl, passwords_are_sha256_hashes_compared_whole) {
    cr_assert_eq(setuser("p", "on >alpha >beta"), 0, "%s", err);
    acl_user_t *u = user("p");
    cr_assert(acl_password_matches(u, "alpha", 5));
    cr_assert(acl_password_matches(u, "beta", 4));
    cr_assert_not(acl_password_matches(u, "alphA", 5), "a different last byte");
    cr_assert_not(acl_password_matches(u, "alph", 4), "a prefix");
    cr_assert_not(acl_password_matches(u, "", 0));
    char hex[65];
    acl_user_password_hex(u, 0, hex); /* SHA-256("alpha") */
    cr_assert_str_eq(hex, "8ed3f6ad685b959ead7022518e1af76cd816f8e8ec7ccdda1ed4018e8f2223f8");
    cr_assert_eq(setuser("p", "<alpha"), 0, "%s", err);
    cr_assert_not(acl_password_matches(u, "alpha", 5));
    cr_assert_eq(setuser("p", "<alpha"), -1);
    cr_assert(strstr(err, "does not exist"), "%s", err);
    /* SHA-256("x") given as a hash, then removed by hash. */
    const char *hx = "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881";
    char rule[80];
    snprintf(rule, sizeof rule, "#%s", hx);
    cr_assert_eq(setuser("p", rule), 0, "%s", err);
    cr_assert(acl_password_matches(u, "x", 1));
    rule[0] = '!';
    cr_assert_eq(setuser("p", rule), 0, "%s", err);
    cr_assert_not(acl_password_matches(u, "x", 1));
    cr_assert_eq(setuser("p", "#2D711642B726B04401627CA9FBAC32F5C8530FB1903CC4DB02258717921A4881"),
                 -1, "upper case is refused");
    cr_assert(strstr(err, "exactly 64 characters"), "%s", err);
    cr_assert_eq(setuser("p", "#abc"), -1);
    /* off: the right password no longer opens; nopass opens with any. */
    cr_assert_eq(setuser("p", "off"), 0, "%s", err);
    cr_assert_not(acl_password_matches(u, "beta", 4));
    cr_assert_eq(setuser("p", "on nopass"), 0, "%s", err);
    cr_assert(acl_password_matches(u, "whatever", 8));
    cr_assert_eq(u->npass, 0);
    cr_assert_eq(setuser("p", "resetpass"), 0, "%s", err);
    cr_assert_not(acl_password_matches(u, "whatever", 8));
}

/* ACL LIST's text, applied to a new user, must give the same permissions and the same text. */
static void
assert_round_trip(const char *name) {
    acl_user_t *u = user(name);
    char text[4096];
    snprintf(text, sizeof text, "%s", describe(name));
    char copy[64];
    snprintf(copy, sizeof copy, "%s-copy", name);
    cr_assert_eq(setuser(copy, text), 0, "%s: %s", text, err);
    acl_user_t *v = user(copy);
    acl_state_t *a = e->acl;
    cr_assert_eq(memcmp(u->cmds, v->cmds, sizeof *u->cmds * a->nwords), 0, "bitmap of %s", text);
    cr_assert_str_eq(describe(copy), text);
    cr_assert_eq(u->flags, v->flags);
}

Test(acl, the_description_reads_back_to_the_same_user) {
    const char *cases[] = {
        "on >a ~x:* %R~r:* %W~w:* &c.* +@all -@write +set -config|set",
        "off nopass resetchannels -@all +@read -get +config|get +select|0 +select|1",
        "on allkeys allchannels +@all -@keyspace +del -@pubsub",
        "on -@all +get +set -get +get -set",
        "reset",
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char name[16];
        snprintf(name, sizeof name, "rt%zu", i);
        cr_assert_eq(setuser(name, cases[i]), 0, "%s: %s", cases[i], err);
        assert_round_trip(name);
    }
    cr_assert_str_eq(describe("rt3"), "on sanitize-payload resetchannels -@all +get -set");
    cr_assert_str_eq(describe("rt4"), "off sanitize-payload resetchannels -@all");
}

Test(acl, all_commands_is_known_again_after_add_back) {
    cr_assert_eq(setuser("f", "on ~* &* +@all -get"), 0, "%s", err);
    cr_assert_eq(user("f")->flags & ACL_U_ALLCOMMANDS, 0);
    cr_assert_eq(setuser("f", "+get"), 0, "%s", err);
    cr_assert_eq(user("f")->flags & ACL_U_UNRESTRICTED, ACL_U_UNRESTRICTED,
                 "every bit set again: the dispatch skips the check");
}

Test(acl, setuser_is_all_or_nothing) {
    cr_assert_eq(setuser("a", "on >pw ~a +get"), 0, "%s", err);
    char before[4096];
    snprintf(before, sizeof before, "%s", describe("a"));
    cr_assert_eq(setuser("a", "~b +set bogus"), -1);
    cr_assert_str_eq(err, "Error in ACL SETUSER modifier 'bogus': Syntax error");
    cr_assert_str_eq(describe("a"), before);
    cr_assert_eq(setuser("b", "on +nosuchcommand"), -1);
    cr_assert_null(acl_user_find(e, "b", 1), "a failed SETUSER creates no user");
    cr_assert_eq(setuser("s", "on (~x +get)"), -1);
    cr_assert(strstr(err, "Selectors are not supported"), "%s", err);
}

Test(acl, limits) {
    char name[ACL_NAME_MAX + 2];
    memset(name, 'n', sizeof name);
    name[ACL_NAME_MAX + 1] = 0;
    cr_assert_eq(setuser(name, "on"), -1);
    name[ACL_NAME_MAX] = 0;
    cr_assert_eq(setuser(name, "on"), 0, "%s", err);
    karg_t sp = {"a b", 3};
    cr_assert_eq(acl_setuser(e, &sp, 0, NULL, err, sizeof err), -1);
    cr_assert_str_eq(err, "Usernames can't contain spaces or null characters");
    /* Patterns: length and count. */
    char big[ACL_PATTERN_MAX + 8];
    big[0] = '~';
    memset(big + 1, 'k', ACL_PATTERN_MAX + 1);
    big[ACL_PATTERN_MAX + 2] = 0;
    cr_assert_eq(setuser("l", big), -1);
    cr_assert(strstr(err, "Pattern too long"), "%s", err);
    for (int i = 0; i < ACL_PATTERNS_MAX; i++) {
        char r[32];
        snprintf(r, sizeof r, "~k%d", i);
        cr_assert_eq(setuser("l", r), 0, "%s", err);
    }
    cr_assert_eq(setuser("l", "~one-more"), -1);
    cr_assert(strstr(err, "Too many patterns"), "%s", err);
    for (int i = 0; i < ACL_PASSWORDS_MAX; i++) {
        char r[32];
        snprintf(r, sizeof r, ">p%d", i);
        cr_assert_eq(setuser("l", r), 0, "%s", err);
    }
    cr_assert_eq(setuser("l", ">one-more"), -1);
    cr_assert(strstr(err, "Too many passwords"), "%s", err);
    /* Rules in one call. */
    karg_t *many = kmalloc(sizeof *many * (ACL_RULES_MAX + 1));
    for (int i = 0; i <= ACL_RULES_MAX; i++)
        many[i] = (karg_t){"on", 2};
    karg_t nm = {"r", 1};
    cr_assert_eq(acl_setuser(e, &nm, ACL_RULES_MAX + 1, many, err, sizeof err), -1);
    cr_assert_eq(acl_setuser(e, &nm, ACL_RULES_MAX, many, err, sizeof err), 0, "%s", err);
    kfree(many);
}

Test(acl, deleting_users_spares_the_default) {
    cr_assert_eq(setuser("gone", "on"), 0, "%s", err);
    cr_assert_eq(acl_deluser(e, "gone", 4), 1);
    cr_assert_eq(acl_deluser(e, "gone", 4), 0);
    cr_assert_eq(acl_deluser(e, "default", 7), 0);
    cr_assert_not_null(acl_user_find(e, "default", 7));
}

Test(acl, users_are_listed_in_name_order) {
    setuser("zed", "on");
    setuser("ann", "on");
    setuser("an", "on");
    const char *want[] = {"an", "ann", "default", "zed"};
    cr_assert_eq(acl_user_count(e), 4);
    for (uint32_t i = 0; i < 4; i++)
        cr_assert_str_eq(acl_user_name(acl_user_at(e, i)), want[i]);
}

static char *
write_file(const char *text) {
    static char path[64];
    snprintf(path, sizeof path, "/tmp/keel-acl-test-XXXXXX");
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

Test(acl, load_replaces_all_users_or_none) {
    setuser("old", "on >x");
    char *path = write_file("user alice on >pw ~a:* +get\n\nuser default on nopass ~* +@all\n");
    e->cfg.aclfile = path;
    sbuf_t errs = {0};
    cr_assert_eq(acl_load_file(e, &errs), 0, "%.*s", (int)errs.len, errs.p);
    cr_assert_null(acl_user_find(e, "old", 3));
    cr_assert_not_null(acl_user_find(e, "alice", 5));
    cr_assert_str_eq(describe("default"), "on nopass sanitize-payload ~* resetchannels +@all");
    unlink(path);
    path = write_file("user bob on +get\nuser carol on +nosuchcommand\nuser bob on\n# comment\n");
    e->cfg.aclfile = path;
    cr_assert_eq(acl_load_file(e, &errs), -1);
    char *text = kstrndup(errs.p, errs.len);
    cr_assert(strstr(text, ":2: Error in applying operation '+nosuchcommand'"), "%s", text);
    cr_assert(strstr(text, "Duplicate user 'bob' found on line 3"), "%s", text);
    cr_assert(strstr(text, ":4 should start with user keyword"), "%s", text);
    cr_assert(strstr(text, "no change to the previously active ACL rules was performed"), "%s",
              text);
    kfree(text);
    cr_assert_not_null(acl_user_find(e, "alice", 5), "the old users stay");
    cr_assert_null(acl_user_find(e, "bob", 3));
    sbuf_free(&errs);
    unlink(path);
    e->cfg.aclfile = NULL;
}

Test(acl, save_then_load_gives_the_same_list) {
    setuser("alice", "on >pw ~a:* %R~r:* &ch +@read -get +config|get");
    setuser("bob", "off nopass allkeys allchannels +@all -@admin");
    char path[64];
    snprintf(path, sizeof path, "/tmp/keel-acl-save-%d", (int)getpid());
    e->cfg.aclfile = path;
    cr_assert_eq(acl_save_file(e, err, sizeof err), 0, "%s", err);
    char before[3][4096];
    for (int i = 0; i < 3; i++)
        snprintf(before[i], sizeof before[i], "%s", describe(acl_user_name(acl_user_at(e, i))));
    acl_deluser(e, "alice", 5);
    setuser("default", "resetpass >other");
    sbuf_t errs = {0};
    cr_assert_eq(acl_load_file(e, &errs), 0, "%.*s", (int)errs.len, errs.p);
    cr_assert_eq(acl_user_count(e), 3);
    for (int i = 0; i < 3; i++)
        cr_assert_str_eq(describe(acl_user_name(acl_user_at(e, i))), before[i]);
    sbuf_free(&errs);
    unlink(path);
    e->cfg.aclfile = NULL;
}
