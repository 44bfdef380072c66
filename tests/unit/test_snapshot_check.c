/* test_snapshot_check.c - snap_check_file() refuses, as a server would, sound files a server does
 * not load: a database beyond the configured count, a key twice in one database (within a chunk
 * or across chunks written by different threads), a member twice in a set or sorted set, a field
 * twice in a hash; and it lets pass what a server accepts (the same key in two databases, an
 * empty collection beside a key of its name, repeated list elements, repeated hash values). */
#include <criterion/criterion.h>

#include "kerr.h"
#include "snapshot_int.h"
#include "test_snapshot_util.h"
#include "test_data_path.h"

static char dir[64], path[128];

static void
setup(void) {
    tk_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/dump.ksnap", dir);
}

static void
teardown(void) {
    tk_rmdir(dir);
}

TestSuite(snapshot_check, .init = setup, .fini = teardown, .timeout = 60);

#define S(x) x, sizeof(x) - 1

/* 300 distinct filler keys "fill:<part>:<i>" in db 0, so that the keys of interest land in
 * different chunks (1 KiB chunks) and on different writer threads. */
static int
filler(snap_sink_t *s, int part) {
    char key[32], val[24];
    int rc = 0;
    for (int i = 0; i < 150 && rc == 0; i++) {
        int kl = snprintf(key, sizeof key, "fill:%d:%d", part, i);
        int vl = snprintf(val, sizeof val, "value-%d", i);
        rc = snap_put_string(s, 0, key, (size_t)kl, SNAP_NO_EXPIRE, val, (size_t)vl);
    }
    return rc;
}

static int
put_coll(snap_sink_t *s, int type, uint32_t db, const char *key, int n, const char *const *e) {
    uint64_t count = type == SNAP_HASH ? (uint64_t)n / 2 : (uint64_t)n;
    int rc = snap_put_begin(s, type, db, key, strlen(key), SNAP_NO_EXPIRE, count);
    for (int i = 0; i < n && rc == 0; i++)
        rc = type == SNAP_ZSET ? snap_put_zelem(s, e[i], strlen(e[i]), i)
                               : snap_put_elem(s, e[i], strlen(e[i]));
    return rc ? rc : snap_put_end(s);
}

enum {
    C_SOUND,        /* what a server accepts, all of it */
    C_DB_BEYOND,    /* a key in database 16 */
    C_DUP_KEY,      /* "dup" in db 3 from both writer threads, in different chunks */
    C_DUP_KEY_SAME, /* "dup" twice in a row, one chunk, a string then a hash */
    C_DUP_SET,      /* a set with "b" twice */
    C_DUP_HASH,     /* a hash with field "f" twice */
    C_DUP_ZSET,     /* a sorted set with member "m" twice */
};

static int
produce_cb(void *ctx, int part, int nparts, snap_sink_t *s) {
    static const char *const set_ok[] = {"a", "b", "1", "01"}, *const set_dup[] = {"a", "b", "b"};
    static const char *const hash_ok[] = {"f", "v", "g", "v"}, *const hash_dup[] = {"f", "v", "f",
                                                                                    "w"};
    static const char *const z_dup[] = {"m", "n", "m"}, *const list[] = {"x", "x", "x"};
    int which = *(const int *)ctx, rc = filler(s, part);

    if (rc || part != 0) /* the keys of interest all come from part 0, but for C_DUP_KEY */
        return rc ? rc : which == C_DUP_KEY ? snap_put_string(s, 3, S("dup"), 7, S("two")) : 0;
    switch (which) {
    case C_SOUND:
        rc = snap_put_string(s, 0, S("same"), SNAP_NO_EXPIRE, S("db0"));
        rc = rc ? rc : snap_put_string(s, 15, S("same"), SNAP_NO_EXPIRE, S("db15"));
        rc = rc ? rc : put_coll(s, SNAP_LIST, 0, "same", 0, NULL); /* empty: skipped */
        rc = rc ? rc : put_coll(s, SNAP_SET, 1, "set", 4, set_ok);
        rc = rc ? rc : put_coll(s, SNAP_HASH, 1, "hash", 4, hash_ok);
        return rc ? rc : put_coll(s, SNAP_LIST, 1, "list", 3, list);
    case C_DB_BEYOND: return snap_put_string(s, 16, S("far"), SNAP_NO_EXPIRE, S("v"));
    case C_DUP_KEY: return snap_put_string(s, 3, S("dup"), SNAP_NO_EXPIRE, S("one"));
    case C_DUP_KEY_SAME:
        rc = snap_put_string(s, 2, S("twice"), SNAP_NO_EXPIRE, S("one"));
        return rc ? rc : put_coll(s, SNAP_HASH, 2, "twice", 2, hash_ok);
    case C_DUP_SET: return put_coll(s, SNAP_SET, 0, "s", 3, set_dup);
    case C_DUP_HASH: return put_coll(s, SNAP_HASH, 0, "h", 4, hash_dup);
    case C_DUP_ZSET: return put_coll(s, SNAP_ZSET, 0, "z", 3, z_dup);
    }
    return 0;
}

static void
write_case(int which) {
    snap_write_opts_t o = {.path = path, .nthreads = 2, .chunk_bytes = 1024, .lsn = 77};
    snap_write_stats_t st;
    char err[256] = "";
    cr_assert_eq(snap_write(&o, produce_cb, &which, &st, err, sizeof err), 0, "%s", err);
    cr_assert_gt(st.chunks, 4);
}

static _Atomic uint64_t applied;

static int
count_cb(void *ctx, int thread, const snap_rec_t *rec) {
    atomic_fetch_add(&applied, 1);
    return 0;
}

/* Runs the check into a string; returns its result. */
static int
check(const snap_check_opts_t *o, char *out, size_t cap) {
    memset(out, 0, cap);
    FILE *f = fmemopen(out, cap - 1, "w");
    cr_assert(f);
    int rc = o ? snap_check_file_opts(path, f, o) : snap_check_file(path, f, 0);
    fclose(f);
    return rc;
}

static void
expect_refused(int which, int want_rc, const char *const *texts) {
    char out[4096];
    write_case(which);
    /* Sound as a file: the loader, which knows no server rules, loads every key. */
    applied = 0;
    cr_assert_eq(snap_load(path, 2, count_cb, NULL, NULL, NULL, 0), 0);
    int rc = check(NULL, out, sizeof out);
    cr_assert_eq(rc, want_rc, "case %d: rc %d: %s", which, rc, out);
    cr_assert(strstr(out, "REFUSED") != NULL, "case %d: %s", which, out);
    cr_assert(strstr(out, path) != NULL, "case %d: %s", which, out);
    for (; *texts; texts++)
        cr_assert(strstr(out, *texts) != NULL, "case %d: '%s' not in: %s", which, *texts, out);
}

Test(snapshot_check, what_a_server_accepts_passes) {
    char out[8192];
    snap_check_opts_t verbose = {.verbose = 1};
    write_case(C_SOUND);
    cr_assert_eq(check(&verbose, out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "306 keys in") != NULL, "%s", out);
    cr_assert(strstr(out, "type 1 (chunk) at offset") != NULL, "%s", out);
    cr_assert(strstr(out, "data set unknown, 0 epochs") != NULL, "%s", out);
    cr_assert(strstr(out, "OK:") != NULL, "%s", out);
    cr_assert(strstr(out, "1 empty collections") != NULL, "%s", out);
    cr_assert(strstr(out, "databases 0..15") != NULL, "%s", out);
    cr_assert(strstr(out, "no duplicate keys, members or fields") != NULL, "%s", out);
}

Test(snapshot_check, a_database_beyond_the_limit_is_refused) {
    const char *const texts[] = {"chunk at offset", "string record at byte", "key 'far'",
                                 "database 16, which a server with databases 16 does not have",
                                 NULL};
    char out[4096];
    expect_refused(C_DB_BEYOND, KERR_LIMIT, texts);
    snap_check_opts_t o = {.databases = 17};
    cr_assert_eq(check(&o, out, sizeof out), 0, "%s", out);
    o.databases = SNAP_CHECK_DATABASES_ANY;
    cr_assert_eq(check(&o, out, sizeof out), 0, "%s", out);
}

Test(snapshot_check, a_key_twice_across_chunks_and_threads_is_refused) {
    const char *const texts[] = {"key 'dup' (db 3) appears twice", "decoded chunk at offset", NULL};
    char out[4096];
    expect_refused(C_DUP_KEY, KERR_CORRUPT, texts);
    /* The two records lie in different chunks: the message names two offsets. */
    check(NULL, out, sizeof out);
    const char *first = strstr(out, "chunk at offset ");
    cr_assert(first != NULL, "%s", out);
    const char *second = strstr(first + 1, "chunk at offset ");
    cr_assert(second != NULL, "%s", out);
    cr_assert(strtoull(first + 16, NULL, 10) != strtoull(second + 16, NULL, 10), "%s", out);
    snap_check_opts_t o = {.skip_duplicate_keys = 1};
    cr_assert_eq(check(&o, out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "keys not checked") != NULL, "%s", out);
}

Test(snapshot_check, a_key_twice_in_one_chunk_is_refused_whatever_its_types) {
    const char *const texts[] = {"key 'twice' (db 2) appears twice", NULL};
    expect_refused(C_DUP_KEY_SAME, KERR_CORRUPT, texts);
}

Test(snapshot_check, a_set_member_twice_is_refused) {
    const char *const texts[] = {"set record at byte", "(key 's', db 0): member 'b' appears twice",
                                 NULL};
    expect_refused(C_DUP_SET, KERR_CORRUPT, texts);
}

Test(snapshot_check, a_hash_field_twice_is_refused) {
    const char *const texts[] = {"hash record at byte", "(key 'h', db 0): field 'f' appears twice",
                                 NULL};
    expect_refused(C_DUP_HASH, KERR_CORRUPT, texts);
}

Test(snapshot_check, a_sorted_set_member_twice_is_refused) {
    const char *const texts[] = {"zset record at byte", "(key 'z', db 0): member 'm' appears twice",
                                 NULL};
    expect_refused(C_DUP_ZSET, KERR_CORRUPT, texts);
}

/* Damage is still damage, reported as such. */
Test(snapshot_check, damage_is_reported_as_damaged_not_refused) {
    char out[4096];
    write_case(C_SOUND);
    FILE *f = fopen(path, "r+b");
    cr_assert(f);
    fseek(f, 300, SEEK_SET);
    int c = fgetc(f);
    fseek(f, 300, SEEK_SET);
    fputc(c ^ 0x20, f);
    fclose(f);
    cr_assert_eq(check(NULL, out, sizeof out), KERR_CORRUPT, "%s", out);
    cr_assert(strstr(out, "DAMAGED") != NULL && strstr(out, "REFUSED") == NULL, "%s", out);
}

/* The golden files: the module-level ones hold a key in database 4294967295, which a server
 * refuses; the server ones (databases 0, 1 and 15) pass with the default 16. */
Test(snapshot_check, golden_files_pass_or_are_refused_as_a_server_would) {
    const char *server[] = {"snapshot-v1-server.ksnap", "snapshot-v2-server.ksnap",
                            "snapshot-v3-server.ksnap"};
    const char *module[] = {"snapshot-v1.ksnap", "snapshot-v2.ksnap", "snapshot-v3.ksnap"};
    char out[4096];
    for (int i = 0; i < 3; i++) {
        data_path(path, sizeof path, server[i]);
        cr_assert_eq(check(NULL, out, sizeof out), 0, "%s", out);
        data_path(path, sizeof path, module[i]);
        cr_assert_eq(check(NULL, out, sizeof out), KERR_LIMIT, "%s", out);
        cr_assert(strstr(out, "database 4294967295") != NULL, "%s", out);
        snap_check_opts_t o = {.databases = SNAP_CHECK_DATABASES_ANY};
        cr_assert_eq(check(&o, out, sizeof out), 0, "%s", out);
    }
}
