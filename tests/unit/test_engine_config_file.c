/*
 * test_engine_config_file.c - the config file reader (config_file.c): Valkey's quoting and
 * escapes, comments, errors that name the file and the line, `include`, the old names Valkey
 * keeps as aliases, settings Keel does not honour (a warning at start, a refusal in CONFIG SET),
 * and the values CONFIG GET shows for notify-keyspace-events and wal-quorum.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "config_int.h"
#include "kmem.h"

static engine_t *eng;
static char dir[64];

static void
setup(void) {
    eng = kcalloc(1, sizeof *eng);
    config_defaults(eng);
    snprintf(dir, sizeof dir, "/tmp/keel-conf-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void
teardown(void) {
    config_free(eng);
    kfree(eng);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(config_file, .init = setup, .fini = teardown);

static void
get_cb(void *ctx, const char *name, const char *value) {
    (void)name;
    snprintf(ctx, 256, "%s", value);
}

static const char *
get(const char *name) {
    static char v[256];
    snprintf(v, sizeof v, "(none)");
    config_get(eng, name, strlen(name), get_cb, v);
    return v;
}

/* Writes `text` to dir/name; returns the path (static). */
static const char *
put(const char *name, const char *text) {
    static char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* Splits one line as the loader does; returns argc (*out to kfree). */
static int
split(const char *line, char ***out) {
    int argc;
    *out = config_split_line(line, strlen(line), &argc);
    return argc;
}

Test(config_file, a_closing_quote_at_the_end_of_a_line_is_balanced) {
    char **a;
    cr_assert_eq(split("dir \"/var/lib/keel\"\n", &a), 2);
    cr_assert_str_eq(a[1], "/var/lib/keel");
    kfree(a);
    cr_assert_eq(split("requirepass \"a b\"\r\n", &a), 2);
    cr_assert_str_eq(a[1], "a b");
    kfree(a);
    cr_assert_eq(split("notify-keyspace-events \"\"\n", &a), 2);
    cr_assert_str_eq(a[1], "");
    kfree(a);
    cr_assert_eq(split("masterauth 'x y'  \t\n", &a), 2);
    cr_assert_str_eq(a[1], "x y");
    kfree(a);
}

Test(config_file, comments_and_blank_lines_are_skipped_before_parsing) {
    char **a;
    cr_assert_eq(split("# Each address can be prefixed by \"-\", which means\n", &a), 0);
    cr_assert_eq(split("   # it's unbalanced ' \" here\n", &a), 0);
    cr_assert_eq(split("# ends with a quote \"\n", &a), 0);
    cr_assert_eq(split(" \t \r\n", &a), 0);
    cr_assert_null(a);
}

Test(config_file, escapes_are_sdssplitargs) {
    char **a;
    cr_assert_eq(split("x \"\\n\\r\\t\\b\\a\\\\\\\"\\x41\\x4a\\q\"", &a), 2);
    cr_assert_str_eq(a[1], "\n\r\t\b\a\\\"AJq");
    kfree(a);
    cr_assert_eq(split("x \"\\xZZ\"", &a), 2); /* not hex: the x is kept */
    cr_assert_str_eq(a[1], "xZZ");
    kfree(a);
    cr_assert_eq(split("x 'it\\'s' 'a\\nb'", &a), 3); /* single quotes: only \' */
    cr_assert_str_eq(a[1], "it's");
    cr_assert_str_eq(a[2], "a\\nb");
    kfree(a);
    cr_assert_eq(split("x foo\"bar baz\"", &a), 2); /* a quote inside a word opens a part */
    cr_assert_str_eq(a[1], "foobar baz");
    kfree(a);
}

Test(config_file, a_quote_must_close_and_be_followed_by_a_space) {
    char **a;
    cr_assert_eq(split("x \"abc\"def", &a), -1);
    cr_assert_eq(split("x 'abc'def", &a), -1);
    cr_assert_eq(split("x \"abc", &a), -1);
    cr_assert_eq(split("x 'abc\\'", &a), -1);
    cr_assert_null(a);
}

Test(config_file, errors_name_the_file_and_the_line) {
    char err[512];
    const char *p = put("a.conf", "# comment\nport 7000\nmaxmemory lots\n");
    cr_assert_eq(config_load_file(eng, p, NULL, err, sizeof err), -1);
    char want[256];
    snprintf(want, sizeof want, "%s:3: 'maxmemory': argument must be a memory value", p);
    cr_assert_str_eq(err, want);
    p = put("b.conf", "\n\nno-such-setting 1\n");
    cr_assert_eq(config_load_file(eng, p, NULL, err, sizeof err), -1);
    cr_assert(strstr(err, "b.conf:3: 'no-such-setting': Unknown option"), "%s", err);
    p = put("c.conf", "port 1\ndir \"/x\"y\n");
    cr_assert_eq(config_load_file(eng, p, NULL, err, sizeof err), -1);
    cr_assert(strstr(err, "c.conf:2: unbalanced quotes"), "%s", err);
    cr_assert_eq(config_load_file(eng, "/nonexistent/k.conf", NULL, err, sizeof err), -1);
    cr_assert_str_eq(err,
                     "cannot open config file '/nonexistent/k.conf': No such file or directory");
}

Test(config_file, a_long_line_has_no_argument_limit) {
    sbuf_t line = {0};
    sbuf_printf(&line, "user alice on nopass");
    for (int i = 0; i < 200; i++)
        sbuf_printf(&line, " ~k%d", i);
    sbuf_printf(&line, " +@all\n");
    char err[512];
    const char *p = put("u.conf", line.p);
    sbuf_free(&line);
    cr_assert_eq(config_load_file(eng, p, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(eng->cfg.acl_nusers, 1);
    cr_assert_eq(eng->cfg.acl_users[0].argc, 204);
}

Test(config_file, include_reads_relative_paths_and_wildcards) {
    char err[512], sub[128];
    snprintf(sub, sizeof sub, "%s/conf.d", dir);
    cr_assert_eq(mkdir(sub, 0755), 0);
    put("conf.d/10-a.conf", "maxmemory 1mb\nhz 20\n");
    put("conf.d/20-b.conf", "maxmemory 2mb\n"); /* later in the order: wins */
    put("base.conf", "timeout 7\n");
    const char *p = put("main.conf", "include base.conf\ninclude conf.d/*.conf\n"
                                     "include conf.d/none-*.conf\nport 7001\n");
    cr_assert_eq(config_load_file(eng, p, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(get("timeout"), "7");
    cr_assert_str_eq(get("hz"), "20");
    cr_assert_str_eq(get("maxmemory"), "2097152");
    cr_assert_str_eq(get("port"), "7001");
}

Test(config_file, include_errors_name_the_inner_line_and_the_chain) {
    char err[1024], want[512];
    put("inner.conf", "hz 10\nhz many\n");
    const char *p = put("outer.conf", "port 1\ninclude inner.conf\n");
    cr_assert_eq(config_load_file(eng, p, NULL, err, sizeof err), -1);
    /* The inner path is as include built it: from the including file's directory. */
    snprintf(want, sizeof want, "%s/inner.conf:2: 'hz': argument couldn't be parsed", dir);
    cr_assert(strstr(err, want) == err, "%s", err);
    snprintf(want, sizeof want, "(included from %s:2)", p);
    cr_assert(strstr(err, want), "%s", err);
    p = put("missing.conf", "\ninclude nothere.conf\n");
    cr_assert_eq(config_load_file(eng, p, NULL, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s:2: cannot open config file '%s/nothere.conf'", p, dir);
    cr_assert(strstr(err, want) == err, "%s", err);
    p = put("self.conf", "include self.conf\n");
    cr_assert_eq(config_load_file(eng, p, NULL, err, sizeof err), -1);
    cr_assert(strstr(err, "more than 16 files deep"), "%s", err);
    p = put("dev.conf", "include /dev/zero\n");
    cr_assert_eq(config_load_file(eng, p, NULL, err, sizeof err), -1);
    cr_assert(strstr(err, "dev.conf:1: include '/dev/zero': not a regular file"), "%s", err);
    p = put("args.conf", "include\n");
    cr_assert_eq(config_load_file(eng, p, NULL, err, sizeof err), -1);
    cr_assert(strstr(err, "args.conf:1: expected 'include <path>'"), "%s", err);
}

Test(config_file, valkeys_old_names_set_the_current_setting) {
    static const char *pairs[][3] = {
        {"hash-max-ziplist-entries", "100", "hash-max-listpack-entries"},
        {"hash-max-ziplist-value", "33", "hash-max-listpack-value"},
        {"zset-max-ziplist-entries", "101", "zset-max-listpack-entries"},
        {"zset-max-ziplist-value", "34", "zset-max-listpack-value"},
        {"list-max-ziplist-size", "-3", "list-max-listpack-size"},
        {"min-slaves-to-write", "2", "min-replicas-to-write"},
        {"min-slaves-max-lag", "7", "min-replicas-max-lag"},
        {"repl-ping-slave-period", "3", "repl-ping-replica-period"},
        {"slave-priority", "9", "replica-priority"},
        {"primaryauth", "sekret", "masterauth"},
        {"primaryuser", "repl", "masteruser"},
    };
    char err[256];
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) {
        const char *argv[] = {pairs[i][0], pairs[i][1]};
        cr_assert_eq(config_set(eng, 2, argv, NULL, false, err, sizeof err), 0, "%s: %s",
                     pairs[i][0], err);
        cr_assert_str_eq(get(pairs[i][2]), pairs[i][1], "%s", pairs[i][0]);
        cr_assert_str_eq(get(pairs[i][0]), pairs[i][1]); /* the alias reads the same */
        cr_assert_eq(config_index(pairs[i][0], strlen(pairs[i][0])),
                     config_index(pairs[i][2], strlen(pairs[i][2])));
    }
}

Test(config_file, settings_keel_does_not_honour_warn_once_each_at_start) {
    char err[512];
    sbuf_t w = {0};
    const char *p = put("v.conf", "appendonly no\n"
                                  "save 900 1\n"
                                  "save 300 10\n"
                                  "rdbcompression yes\n"
                                  "activerehashing yes\n" /* what Keel does: no warning */
                                  "lazyfree-lazy-eviction no\n"
                                  "tcp-backlog 511\n"
                                  "cluster-enabled no\n"
                                  "cluster-enabled yes\n"
                                  "bind 127.0.0.1 -::1\n"
                                  "port 7002\n");
    cr_assert_eq(config_load_file(eng, p, &w, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(get("port"), "7002");
    int lines = 0;
    for (size_t i = 0; i < w.len; i++)
        lines += w.p[i] == '\n';
    cr_assert_eq(lines, 4, "%s", w.p);
    char want[256];
    snprintf(want, sizeof want, "%s:1: 'appendonly' is not honoured by Keel: Keel always logs", p);
    cr_assert(strstr(w.p, want) == w.p, "%s", w.p);
    snprintf(want, sizeof want, "%s:2: 'save' is not honoured by Keel: Keel writes no RDB", p);
    cr_assert(strstr(w.p, want), "%s", w.p);
    snprintf(want, sizeof want, "%s:9: 'cluster-enabled' is not honoured by Keel: Keel has no", p);
    cr_assert(strstr(w.p, want), "%s", w.p);
    cr_assert(strstr(w.p, "'rdbcompression'"), "%s", w.p);
    cr_assert_null(strstr(w.p, "'bind'"), "%s", w.p); /* several addresses: honoured */
    cr_assert_str_eq(get("bind"), "127.0.0.1 -::1");
    sbuf_free(&w);
    /* The command line the same way. */
    char *args[] = {"--appendfsync", "always", "--hz", "11"};
    cr_assert_eq(config_load_args(eng, 4, args, &w, err, sizeof err), 0, "%s", err);
    cr_assert(strstr(w.p, "command line: 'appendfsync' is not honoured by Keel: use durability"),
              "%s", w.p);
    cr_assert_str_eq(get("hz"), "11");
    sbuf_free(&w);
}

static int
config_set_pair(const char *name, const char *value, char *err, size_t errlen) {
    const char *argv[] = {name, value};
    if (config_index(name, strlen(name)) < 0)
        return -2;
    if (config_validate(eng, 2, argv, err, errlen) < 0)
        return -1;
    return config_set(eng, 2, argv, NULL, false, err, errlen);
}

Test(config_file, config_set_refuses_what_keel_does_not_honour) {
    char err[512];
    cr_assert_eq(config_set_pair("appendonly", "no", err, sizeof err), -1);
    cr_assert(strstr(err, "not honoured by Keel: Keel always logs writes; use durability"), "%s",
              err);
    cr_assert_eq(config_set_pair("appendonly", "yes", err, sizeof err), 0, "%s", err);
    cr_assert_eq(config_set_pair("save", "900 1", err, sizeof err), -1);
    cr_assert(strstr(err, "not honoured by Keel: Keel writes no RDB file"), "%s", err);
    cr_assert_eq(config_set_pair("save", "", err, sizeof err), 0, "%s", err);
    cr_assert_eq(config_set_pair("rdbcompression", "no", err, sizeof err), -1);
    cr_assert_eq(config_set_pair("activedefrag", "yes", err, sizeof err), -1);
    cr_assert(strstr(err, "(Keel behaves as 'activedefrag no')"), "%s", err);
    cr_assert_eq(config_set_pair("activedefrag", "no", err, sizeof err), 0, "%s", err);
    cr_assert_eq(config_set_pair("maxmemory-clients", "0", err, sizeof err), 0, "%s", err);
    cr_assert_eq(config_set_pair("maxmemory-clients", "10mb", err, sizeof err), -1);
    cr_assert_eq(config_set_pair("list-compress-depth", "1", err, sizeof err), -1);
    cr_assert_eq(config_set_pair("no-such-thing", "1", err, sizeof err), -2);
    /* client-output-buffer-limit: the replica class is fixed (replicas are fed from files). */
    cr_assert_eq(config_set_pair("client-output-buffer-limit", "replica 1mb 1mb 10", err,
                                 sizeof err),
                 -1);
    cr_assert(strstr(err, "not honoured by Keel: a replica is fed from the log files"), "%s", err);
    cr_assert_eq(config_set_pair("client-output-buffer-limit",
                                 "replica 256mb 64mb 60 pubsub 1mb 1mb 1", err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(eng->cfg.obuf_pubsub_hard, 1048576);
    /* CONFIG GET shows the Valkey settings whose value describes Keel. */
    cr_assert_str_eq(get("cluster-enabled"), "no");
    cr_assert_str_eq(get("tcp-backlog"), "511");
    cr_assert_str_eq(get("list-compress-depth"), "0");
    cr_assert_str_eq(get("rdbcompression"), "(none)");
}

Test(config_file, hll_sparse_max_bytes_is_a_setting) {
    char err[256];
    cr_assert_str_eq(get("hll-sparse-max-bytes"), "3000");
    cr_assert_eq(config_set_pair("hll-sparse-max-bytes", "0", err, sizeof err), 0, "%s", err);
    cr_assert_eq(eng->cfg.hll_sparse_max_bytes, 0);
}

Test(config_file, notify_keyspace_events_reads_back_in_valkeys_order) {
    static const char *cases[][2] = {
        {"EKxg$", "g$xKE"}, {"KEA", "AKE"}, {"AKEn", "AnKE"},        {"mE", "Em"},
        {"g", "g"},         {"", ""},       {"lsh$gzxetdKE", "AKE"}, {"Ktd", "tdK"},
    };
    char err[256];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cr_assert_eq(config_set_pair("notify-keyspace-events", cases[i][0], err, sizeof err), 0,
                     "%s", err);
        cr_assert_str_eq(get("notify-keyspace-events"), cases[i][1], "%s", cases[i][0]);
    }
    cr_assert_eq(config_set_pair("notify-keyspace-events", "Kq", err, sizeof err), -1);
}

Test(config_file, wal_quorum_reads_majority_or_a_number) {
    char err[256];
    const char *argv[] = {"wal-quorum", "2"};
    cr_assert_str_eq(get("wal-quorum"), "majority");
    cr_assert_eq(config_set(eng, 2, argv, NULL, true, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(get("wal-quorum"), "2");
    argv[1] = "MAJORITY";
    cr_assert_eq(config_set(eng, 2, argv, NULL, true, err, sizeof err), 0, "%s", err);
    cr_assert_eq(eng->cfg.wal_quorum, 0);
    cr_assert_str_eq(get("wal-quorum"), "majority");
    argv[1] = "0"; /* the old spelling */
    cr_assert_eq(config_set(eng, 2, argv, NULL, true, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(get("wal-quorum"), "majority");
    argv[1] = "most";
    cr_assert_eq(config_set(eng, 2, argv, NULL, true, err, sizeof err), -1);
    cr_assert_str_eq(err, "argument must be 'majority' or between 0 and 64");
}

/* CONFIG REWRITE keeps comments, unknown lines and order, rewrites lines in place (an old name
 * under the current one), drops repeats, appends the rest after Valkey's signature line. */
Test(config_file, rewrite_keeps_comments_and_order) {
    char err[512];
    const char *p = put("r.conf", "# top comment \"quoted\n"
                                  "port 7003\n"
                                  "\n"
                                  "appendonly yes\n"
                                  "hash-max-ziplist-entries 10\n"
                                  "rdbcompression yes\n"
                                  "   # indented comment\n"
                                  "hz 12\n"
                                  "hz 13\n"
                                  "notify-keyspace-events \"\"\n");
    sbuf_t w = {0};
    cr_assert_eq(config_load_file(eng, p, &w, err, sizeof err), 0, "%s", err);
    sbuf_free(&w);
    eng->config_file = kstrndup(p, strlen(p));
    const char *set[][2] = {{"hz", "30"},
                            {"hash-max-listpack-entries", "20"},
                            {"maxmemory", "1mb"},
                            {"notify-keyspace-events", "KEg"},
                            {"requirepass", "a \"b\""}};
    for (size_t i = 0; i < sizeof set / sizeof *set; i++)
        cr_assert_eq(config_set_pair(set[i][0], set[i][1], err, sizeof err), 0, "%s", err);
    cr_assert_eq(config_rewrite(eng, err, sizeof err), 0, "%s", err);
    FILE *f = fopen(p, "r");
    char got[2048];
    size_t n = fread(got, 1, sizeof got - 1, f);
    got[n] = 0;
    fclose(f);
    cr_assert_str_eq(got, "# top comment \"quoted\n"
                          "port 7003\n"
                          "\n"
                          "appendonly yes\n"
                          "hash-max-listpack-entries 20\n"
                          "rdbcompression yes\n"
                          "   # indented comment\n"
                          "hz 30\n"
                          "notify-keyspace-events gKE\n"
                          "# Generated by CONFIG REWRITE\n"
                          "requirepass \"a \\\"b\\\"\"\n"
                          "maxmemory 1048576\n");
    /* A second rewrite with one more change: one signature, the new line after it. */
    cr_assert_eq(config_set_pair("timeout", "5", err, sizeof err), 0, "%s", err);
    cr_assert_eq(config_rewrite(eng, err, sizeof err), 0, "%s", err);
    f = fopen(p, "r");
    n = fread(got, 1, sizeof got - 1, f);
    got[n] = 0;
    fclose(f);
    cr_assert(strstr(got, "hz 30\nnotify-keyspace-events gKE\nrequirepass \"a \\\"b\\\"\"\n"
                          "maxmemory 1048576\n# Generated by CONFIG REWRITE\ntimeout 5\n"),
              "%s", got);
    /* And it loads back to the same settings. */
    engine_t *again = kcalloc(1, sizeof *again);
    config_defaults(again);
    cr_assert_eq(config_load_file(again, p, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(again->cfg.hz, 30);
    cr_assert_eq(again->cfg.maxmemory, 1048576);
    cr_assert_eq(again->cfg.timeout_s, 5);
    cr_assert_str_eq(again->cfg.requirepass, "a \"b\"");
    config_free(again);
    kfree(again);
    kfree(eng->config_file);
    eng->config_file = NULL;
}
