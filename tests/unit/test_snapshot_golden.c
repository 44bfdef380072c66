/* test_snapshot_golden.c - the released format versions: golden files under tests/data must load
 * with exactly the content below, key by key; files as a later version would write them (an
 * unknown optional section loads, an unknown required one is refused naming the version); and
 * older readers (played through snap_load_ex) against what the v2 writer produces.
 *
 * The golden files are written by this build only when KEEL_SNAPSHOT_REGEN=1 is set:
 *   KEEL_SNAPSHOT_REGEN=1 build-x/test_snapshot_golden --filter 'snapshot_golden/regenerate*'
 * A released version's file must never be regenerated: later builds must load the old bytes.
 *
 * The files above hold a key in database 4294967295 and an empty list, which a server refuses
 * or drops, so tests/data/snapshot-v1-server.ksnap and snapshot-v2-server.ksnap hold content a
 * server loads whole (databases 0, 1 and 15, every type and encoding, TTLs, binary keys, a key
 * already expired); tests/integration/test_snapshot.py checks them through a server. They are
 * released too, written once with KEEL_SNAPSHOT_REGEN=server (which leaves the others alone). */
#include <criterion/criterion.h>
#include <math.h>

#include "kerr.h"
#include "snapshot_int.h"
#include "test_snapshot_util.h"
#include "test_data_path.h"

#define S(x) x, sizeof(x) - 1
#define E(x)                                                                                       \
    { x, sizeof(x) - 1, 0.0 }
#define Z(x, s)                                                                                    \
    { x, sizeof(x) - 1, s }
#define TEN  "0123456789"
#define T200 TEN TEN TEN TEN TEN TEN TEN TEN TEN TEN TEN TEN TEN TEN TEN TEN TEN TEN TEN TEN

typedef struct gkey {
    int type;
    uint32_t db;
    const char *key;
    size_t klen;
    int64_t expire_ms;
    int has_meta;
    uint32_t meta;
    int n; /* elements: 1 for a string, 2 per pair for a hash */
    struct {
        const char *p;
        size_t len;
        double score;
    } e[4];
} gkey_t;

#define NONE SNAP_NO_EXPIRE
/* clang-format off */
static const gkey_t golden[] = {
    {SNAP_STRING, 0, S("greeting"), NONE, 1, 100, 1, {E("hello world")}},
    {SNAP_STRING, 0, S("bin\0key"), 1893456000000, 0, 0, 1, {E("a\0b\0c")}},
    {SNAP_STRING, 0, S("counter"), NONE, 1, 7, 1, {E("12345")}},
    {SNAP_STRING, 1, S("neg"), NONE, 0, 0, 1, {E("-42")}},
    {SNAP_STRING, 0, S("zero"), NONE, 0, 0, 1, {E("0")}},
    {SNAP_STRING, 0, S("padded"), NONE, 0, 0, 1, {E("007")}},
    {SNAP_STRING, 0, S("max"), NONE, 0, 0, 1, {E("9223372036854775807")}},
    {SNAP_STRING, 0, S("min"), NONE, 0, 0, 1, {E("-9223372036854775808")}},
    {SNAP_STRING, 0, S("overflow"), NONE, 0, 0, 1, {E("9223372036854775808")}},
    {SNAP_STRING, 0, S("empty"), NONE, 0, 0, 1, {E("")}},
    {SNAP_STRING, 0, S("long"), 0, 0, 0, 1, {E(T200)}},
    {SNAP_LIST, 0, S("queue"), 1700000000000, 0, 0, 3, {E("a"), E(""), E("c\0d")}},
    {SNAP_LIST, 2, S("emptylist"), NONE, 0, 0, 0, {E("")}},
    {SNAP_HASH, 0, S("user:1"), NONE, 1, 3, 4, {E("name"), E("Ada"), E("age"), E("36")}},
    {SNAP_SET, 0, S("tags"), NONE, 0, 0, 3, {E("x"), E("y"), E("z")}},
    {SNAP_ZSET, 0, S("board"), NONE, 1, 0xffffffffu, 3,
     {Z("alice", 1.5), Z("bob", -2.0), Z("carol", INFINITY)}},
    {SNAP_ZSET, 3, S("tiny"), 1, 0, 0, 1, {Z("m", 0.0)}},
    {SNAP_STRING, 4294967295u, S("lastdb"), NONE, 0, 0, 1, {E("v")}},
};
/* clang-format on */
#define NGOLDEN (sizeof golden / sizeof golden[0])
#define G_LSN   1234567u
#define G_TIME  1700000000000ll

static char dir[64];

static void
setup(void) {
    tk_tmpdir(dir, sizeof dir);
}

static void
teardown(void) {
    tk_rmdir(dir);
}

TestSuite(snapshot_golden, .init = setup, .fini = teardown, .timeout = 60);

/* tests/data, found from this file's own path. */
/* ---- writing the golden content ------------------------------------------------------------ */

typedef struct gprod {
    int raw_type; /* non-zero: a raw record of this type between keys (later-version files) */
    int raw_required;
    int skip_ints; /* leave out the keys whose value is an integer */
} gprod_t;

static int
golden_produce_cb(void *ctx, int part, int nparts, snap_sink_t *s) {
    const gprod_t *g = ctx;
    int64_t iv;
    int rc = 0;

    for (size_t i = 0; i < NGOLDEN && rc == 0; i++) {
        const gkey_t *k = &golden[i];
        if (g && g->skip_ints && k->type == SNAP_STRING &&
            snap_intstr_parse(k->e[0].p, k->e[0].len, &iv))
            continue;
        if (g && g->raw_type && i % 5 == 1)
            rc = snap_sink_put_raw(s, (unsigned)g->raw_type, g->raw_required, 3, S("future"));
        if (k->has_meta)
            snap_sink_set_meta(s, k->meta);
        if (k->type == SNAP_STRING) {
            rc = rc ? rc
                    : snap_put_string(s, k->db, k->key, k->klen, k->expire_ms, k->e[0].p,
                                      k->e[0].len);
            continue;
        }
        uint64_t count = k->type == SNAP_HASH ? (uint64_t)k->n / 2 : (uint64_t)k->n;
        rc = rc ? rc : snap_put_begin(s, k->type, k->db, k->key, k->klen, k->expire_ms, count);
        for (int j = 0; j < k->n && rc == 0; j++)
            rc = k->type == SNAP_ZSET ? snap_put_zelem(s, k->e[j].p, k->e[j].len, k->e[j].score)
                                      : snap_put_elem(s, k->e[j].p, k->e[j].len);
        rc = rc ? rc : snap_put_end(s);
    }
    return rc;
}

/* The identity of tests/data/snapshot-v3*.ksnap: "keel-golden-v3!!", three epochs (with a gap in
 * the numbers, as after a failed election), the last starting before G_LSN. */
static const snap_identity_t g_ident = {
    .id = {0x6b, 0x65, 0x65, 0x6c, 0x2d, 0x67, 0x6f, 0x6c, 0x64, 0x65, 0x6e, 0x2d, 0x76, 0x33, 0x21,
           0x21},
    .nepochs = 3,
    .epochs = {{1, 1}, {2, 1000}, {5, 1234000}},
};

static void
check_g_ident(const snap_identity_t *id) {
    char hex[SNAP_ID_HEX_LEN];
    cr_assert_str_eq(snap_id_hex(id->id, hex), "6b65656c2d676f6c64656e2d76332121");
    cr_assert_eq(id->nepochs, 3);
    for (uint32_t i = 0; i < 3; i++) {
        cr_assert_eq(id->epochs[i].epoch, g_ident.epochs[i].epoch, "epoch %u", i);
        cr_assert_eq(id->epochs[i].first_lsn, g_ident.epochs[i].first_lsn, "epoch %u", i);
    }
}

static void
check_unknown_ident(const snap_identity_t *id) {
    cr_assert(snap_id_is_zero(id->id), "an older format reads as an unknown data set");
    cr_assert_eq(id->nepochs, 0);
}

static void
write_golden_id(const char *path, uint32_t version, const gprod_t *g, const snap_write_ext_t *x,
                const snap_identity_t *id) {
    snap_write_opts_t o = {.path = path,
                           .nthreads = 1,
                           .format_version = version,
                           .lsn = G_LSN,
                           .time_ms = G_TIME,
                           .identity = id};
    char err[256] = "";
    int rc = snap_write_ex(&o, golden_produce_cb, (void *)g, NULL, err, sizeof err, x);
    cr_assert_eq(rc, 0, "%s", err);
}

static void
write_golden(const char *path, uint32_t version, const gprod_t *g, const snap_write_ext_t *x) {
    snap_write_opts_t o = {
        .path = path, .nthreads = 1, .format_version = version, .lsn = G_LSN, .time_ms = G_TIME};
    char err[256] = "";
    int rc = snap_write_ex(&o, golden_produce_cb, (void *)g, NULL, err, sizeof err, x);
    cr_assert_eq(rc, 0, "%s", err);
}

/* ---- checking a load against the golden content -------------------------------------------- */

typedef struct gload {
    int expect_meta;
    int skip_ints;
    int seen[NGOLDEN];
    char bad[256];
} gload_t;

static const char *
golden_check(const gkey_t *k, const snap_rec_t *rec, int expect_meta) {
    snap_rec_t it = *rec;
    const char *p;
    size_t n;
    double score;

    if (rec->type != k->type || rec->expire_ms != k->expire_ms)
        return "type or expiry";
    if (rec->count != (uint64_t)(k->type == SNAP_HASH ? k->n / 2 : k->n))
        return "count";
    if (rec->has_meta != (expect_meta && k->has_meta) || (rec->has_meta && rec->meta != k->meta))
        return "access metadata";
    for (int j = 0; j < k->n; j++) {
        if (snap_rec_next(&it, &p, &n, &score) != 1)
            return "missing element";
        if (n != k->e[j].len || memcmp(p, k->e[j].p, n) != 0)
            return "element bytes";
        if (k->type == SNAP_ZSET && score != k->e[j].score)
            return "score";
    }
    return snap_rec_next(&it, &p, &n, &score) == 0 ? NULL : "extra element";
}

/* Golden loads run on one thread, so this callback needs no lock. */
static int
golden_apply_cb(void *ctx, int thread, const snap_rec_t *rec) {
    gload_t *l = ctx;
    for (size_t i = 0; i < NGOLDEN; i++) {
        const gkey_t *k = &golden[i];
        if (k->db != rec->db || k->klen != rec->klen || memcmp(k->key, rec->key, k->klen))
            continue;
        const char *why = l->seen[i]++ ? "seen twice" : golden_check(k, rec, l->expect_meta);
        if (why && !l->bad[0])
            snprintf(l->bad, sizeof l->bad, "key '%.*s': %s", (int)k->klen, k->key, why);
        return 0;
    }
    if (!l->bad[0])
        snprintf(l->bad, sizeof l->bad, "unexpected key '%.*s'", (int)rec->klen, rec->key);
    return 0;
}

static void
load_golden(const char *path, uint32_t reader, int expect_meta, int skip_ints, snap_info_t *info) {
    gload_t l = {.expect_meta = expect_meta, .skip_ints = skip_ints};
    char err[256] = "";
    int64_t iv;
    int rc = snap_load_ex(path, 1, reader, golden_apply_cb, &l, info, err, sizeof err);
    cr_assert_eq(rc, 0, "load of %s failed: %d %s", path, rc, err);
    cr_assert_eq(l.bad[0], 0, "%s: %s", path, l.bad);
    for (size_t i = 0; i < NGOLDEN; i++) {
        const gkey_t *k = &golden[i];
        int skipped =
            skip_ints && k->type == SNAP_STRING && snap_intstr_parse(k->e[0].p, k->e[0].len, &iv);
        cr_assert_eq(l.seen[i], !skipped, "%s: key '%.*s' seen %d times", path, (int)k->klen,
                     k->key, l.seen[i]);
    }
    cr_assert_eq(info->lsn, G_LSN);
    cr_assert_eq(info->time_ms, G_TIME);
}

static void
expect_refused(const char *path, uint32_t reader, int want_rc, const char *want_text) {
    gload_t l = {0};
    char err[512] = "";
    snap_info_t info;
    int rc = snap_load_ex(path, 2, reader, golden_apply_cb, &l, &info, err, sizeof err);
    cr_assert_eq(rc, want_rc, "%s: rc %d (%s), wanted %d", path, rc, err, want_rc);
    cr_assert(strstr(err, want_text) != NULL, "message '%s' lacks '%s'", err, want_text);
}

/* ---- the tests ------------------------------------------------------------------------------ */

static const snap_write_ext_t ext_optional = {.version_field = 3,
                                              .min_reader_field = 2,
                                              .extra_type = 0x40,
                                              .extra_flags = 0,
                                              .extra_since = 3,
                                              .extra_payload = "a section of format version 3",
                                              .extra_len = 29};
static const snap_write_ext_t ext_required_record = {.version_field = 3, .min_reader_field = 2};

Test(snapshot_golden, regenerate_golden_files_when_asked) {
    char p[512];
    gprod_t opt = {.raw_type = 0x20}, req = {.raw_type = 0x21, .raw_required = 1};

    const char *regen = getenv("KEEL_SNAPSHOT_REGEN");
    if (!regen || strcmp(regen, "1") != 0) {
        teardown(); /* a skipped test does not reach .fini */
        cr_skip_test("set KEEL_SNAPSHOT_REGEN=1 to rewrite tests/data/snapshot-*.ksnap");
    }
    data_path(p, sizeof p, "snapshot-v1.ksnap");
    write_golden(p, 1, NULL, NULL);
    data_path(p, sizeof p, "snapshot-v2.ksnap");
    write_golden(p, 2, NULL, NULL);
    data_path(p, sizeof p, "snapshot-v3-optional.ksnap");
    write_golden(p, 2, &opt, &ext_optional);
    data_path(p, sizeof p, "snapshot-v3-required.ksnap");
    write_golden(p, 2, &req, &ext_required_record);
}

/* ---- golden files a server loads whole ----------------------------------------------------- */

typedef struct skey {
    int type;
    uint32_t db;
    const char *key;
    size_t klen;
    int64_t expire_ms;
    int has_meta;
    uint32_t meta;
    int n; /* inline elements, as in gkey_t */
    struct {
        const char *p;
        size_t len;
        double score;
    } e[4];
    int gen;                /* > 0: generated instead, gen members (pairs for a hash) */
    const char *fmt, *fmt2; /* member i is fmt % i, a hash's value i fmt2 % i; score i / 4 */
} skey_t;

#define FAR  4102444800000ll /* 2100-01-01 */
#define PAST 1000ll          /* 1970: expired by the time anything loads it */
/* clang-format off */
static const skey_t server_golden[] = {
    {SNAP_STRING, 0, S("str:int"), NONE, 1, 100, 1, {E("12345")}, 0, 0, 0},
    {SNAP_STRING, 0, S("str:neg"), NONE, 0, 0, 1, {E("-42")}, 0, 0, 0},
    {SNAP_STRING, 0, S("str:emb"), NONE, 0, 0, 1, {E("hello world")}, 0, 0, 0},
    {SNAP_STRING, 0, S("str:raw"), NONE, 0, 0, 1, {E(T200)}, 0, 0, 0},
    {SNAP_STRING, 0, S("str:empty"), NONE, 0, 0, 1, {E("")}, 0, 0, 0},
    {SNAP_STRING, 0, S("bin\0key\xff"), FAR + 1, 0, 0, 1, {E("a\0b\xff" "c")}, 0, 0, 0},
    {SNAP_STRING, 0, S("str:ttl"), FAR, 1, 7, 1, {E("v")}, 0, 0, 0},
    {SNAP_STRING, 0, S("str:expired"), PAST, 0, 0, 1, {E("gone")}, 0, 0, 0},
    {SNAP_LIST, 0, S("list:lp"), FAR + 2, 0, 0, 3, {E("a"), E(""), E("c\0d")}, 0, 0, 0},
    {SNAP_LIST, 0, S("list:ql"), NONE, 0, 0, 0, {E("")}, 3000, "element-%d", 0},
    {SNAP_HASH, 0, S("hash:lp"), NONE, 1, 3, 4, {E("name"), E("Ada"), E("age"), E("36")}, 0, 0, 0},
    {SNAP_HASH, 0, S("hash:ht"), FAR + 3, 0, 0, 0, {E("")}, 600, "f%d", "v%d"},
    {SNAP_SET, 0, S("set:int"), NONE, 0, 0, 4, {E("1"), E("2"), E("3"), E("-7")}, 0, 0, 0},
    {SNAP_SET, 0, S("set:lp"), NONE, 0, 0, 3, {E("x"), E("y"), E("z")}, 0, 0, 0},
    {SNAP_SET, 0, S("set:ht"), NONE, 0, 0, 0, {E("")}, 300, "m%d", 0},
    {SNAP_ZSET, 0, S("zset:lp"), NONE, 1, 0xffffffu, 3,
     {Z("alice", 1.5), Z("bob", -2.0), Z("carol", INFINITY)}, 0, 0, 0},
    {SNAP_ZSET, 0, S("zset:sl"), FAR + 4, 0, 0, 0, {E("")}, 300, "m%d", 0},
    {SNAP_STRING, 1, S("db1:key"), FAR + 5, 0, 0, 1, {E("one")}, 0, 0, 0},
    {SNAP_STRING, 1, S("str:int"), NONE, 0, 0, 1, {E("-9223372036854775808")}, 0, 0, 0},
    {SNAP_HASH, 15, S("db15:hash"), NONE, 0, 0, 2, {E("k"), E("v")}, 0, 0, 0},
};
/* clang-format on */
#define NSERVER (sizeof server_golden / sizeof server_golden[0])

static uint64_t
skey_count(const skey_t *k) {
    if (k->gen)
        return (uint64_t)k->gen;
    return k->type == SNAP_HASH ? (uint64_t)k->n / 2 : (uint64_t)k->n;
}

/* Element j of k (a hash's elements alternate field and value) into buf when generated. */
static void
skey_elem(const skey_t *k, int j, char *buf, size_t cap, const char **p, size_t *n, double *sc) {
    if (!k->gen) {
        *p = k->e[j].p;
        *n = k->e[j].len;
        *sc = k->e[j].score;
        return;
    }
    int i = k->type == SNAP_HASH ? j / 2 : j;
    const char *fmt = k->type == SNAP_HASH && j % 2 ? k->fmt2 : k->fmt;
    *n = (size_t)snprintf(buf, cap, fmt, i);
    *p = buf;
    *sc = i / 4.0;
}

static int
skey_elems(const skey_t *k) {
    return k->gen ? (k->type == SNAP_HASH ? 2 * k->gen : k->gen) : k->n;
}

static int
server_produce_cb(void *ctx, int part, int nparts, snap_sink_t *s) {
    char buf[32];
    const char *p;
    size_t n;
    double sc;
    int rc = 0;
    for (size_t i = 0; i < NSERVER && rc == 0; i++) {
        const skey_t *k = &server_golden[i];
        if (k->has_meta)
            snap_sink_set_meta(s, k->meta);
        if (k->type == SNAP_STRING) {
            rc = snap_put_string(s, k->db, k->key, k->klen, k->expire_ms, k->e[0].p, k->e[0].len);
            continue;
        }
        rc = snap_put_begin(s, k->type, k->db, k->key, k->klen, k->expire_ms, skey_count(k));
        for (int j = 0; j < skey_elems(k) && rc == 0; j++) {
            skey_elem(k, j, buf, sizeof buf, &p, &n, &sc);
            rc = k->type == SNAP_ZSET ? snap_put_zelem(s, p, n, sc) : snap_put_elem(s, p, n);
        }
        rc = rc ? rc : snap_put_end(s);
    }
    return rc;
}

typedef struct sload {
    int expect_meta;
    int seen[NSERVER];
    char bad[256];
} sload_t;

static const char *
server_check(const skey_t *k, const snap_rec_t *rec, int expect_meta) {
    snap_rec_t it = *rec;
    char buf[32];
    const char *p, *want;
    size_t n, wn;
    double score, wsc;
    if (rec->type != k->type || rec->expire_ms != k->expire_ms || rec->count != skey_count(k))
        return "type, expiry or count";
    if (rec->has_meta != (expect_meta && k->has_meta) || (rec->has_meta && rec->meta != k->meta))
        return "access metadata";
    for (int j = 0; j < skey_elems(k); j++) {
        if (snap_rec_next(&it, &p, &n, &score) != 1)
            return "missing element";
        skey_elem(k, j, buf, sizeof buf, &want, &wn, &wsc);
        if (n != wn || memcmp(p, want, n) != 0)
            return "element bytes";
        if (k->type == SNAP_ZSET && score != wsc)
            return "score";
    }
    return snap_rec_next(&it, &p, &n, &score) == 0 ? NULL : "extra element";
}

static int
server_apply_cb(void *ctx, int thread, const snap_rec_t *rec) {
    sload_t *l = ctx;
    for (size_t i = 0; i < NSERVER; i++) {
        const skey_t *k = &server_golden[i];
        if (k->db != rec->db || k->klen != rec->klen || memcmp(k->key, rec->key, k->klen))
            continue;
        const char *why = l->seen[i]++ ? "seen twice" : server_check(k, rec, l->expect_meta);
        if (why && !l->bad[0])
            snprintf(l->bad, sizeof l->bad, "key '%.*s': %s", (int)k->klen, k->key, why);
        return 0;
    }
    if (!l->bad[0])
        snprintf(l->bad, sizeof l->bad, "unexpected key '%.*s'", (int)rec->klen, rec->key);
    return 0;
}

static void
load_server_golden(const char *name, int expect_meta, snap_info_t *info) {
    char p[512], err[256] = "";
    sload_t l = {.expect_meta = expect_meta};
    data_path(p, sizeof p, name);
    int rc =
        snap_load_ex(p, 1, SNAP_FORMAT_VERSION_MAX, server_apply_cb, &l, info, err, sizeof err);
    cr_assert_eq(rc, 0, "load of %s failed: %d %s", p, rc, err);
    cr_assert_eq(l.bad[0], 0, "%s: %s", p, l.bad);
    for (size_t i = 0; i < NSERVER; i++)
        cr_assert_eq(l.seen[i], 1, "%s: key '%.*s' seen %d times", p, (int)server_golden[i].klen,
                     server_golden[i].key, l.seen[i]);
    cr_assert_eq(info->lsn, G_LSN);
    cr_assert_eq(info->keys, NSERVER);
}

static void
write_server_golden(const char *name, uint32_t version, const snap_identity_t *id) {
    char p[512], err[256] = "";
    data_path(p, sizeof p, name);
    snap_write_opts_t o = {.path = p,
                           .nthreads = 1,
                           .format_version = version,
                           .lsn = G_LSN,
                           .time_ms = G_TIME,
                           .identity = id};
    cr_assert_eq(snap_write(&o, server_produce_cb, NULL, NULL, err, sizeof err), 0, "%s", err);
}

Test(snapshot_golden, regenerate_server_golden_files_when_asked) {
    const char *regen = getenv("KEEL_SNAPSHOT_REGEN");
    if (!regen || strcmp(regen, "server") != 0) {
        teardown();
        cr_skip_test(
            "set KEEL_SNAPSHOT_REGEN=server to rewrite tests/data/snapshot-v*-server.ksnap");
    }
    write_server_golden("snapshot-v1-server.ksnap", 1, NULL);
    write_server_golden("snapshot-v2-server.ksnap", 2, NULL);
}

/* Version 3 files, written once with KEEL_SNAPSHOT_REGEN=3 (which leaves every older file alone):
 * the module-level content and the server content, both with g_ident. */
Test(snapshot_golden, regenerate_v3_golden_files_when_asked) {
    char p[512];
    const char *regen = getenv("KEEL_SNAPSHOT_REGEN");
    if (!regen || strcmp(regen, "3") != 0) {
        teardown();
        cr_skip_test("set KEEL_SNAPSHOT_REGEN=3 to rewrite tests/data/snapshot-v3*.ksnap");
    }
    data_path(p, sizeof p, "snapshot-v3.ksnap");
    write_golden_id(p, 3, NULL, NULL, &g_ident);
    write_server_golden("snapshot-v3-server.ksnap", 3, &g_ident);
}

Test(snapshot_golden, v1_server_golden_file_loads_key_by_key) {
    snap_info_t info;
    load_server_golden("snapshot-v1-server.ksnap", 0, &info);
    cr_assert_eq(info.version, 1);
    cr_assert_eq(info.flags, 0);
    check_unknown_ident(&info.identity);
}

Test(snapshot_golden, v2_server_golden_file_loads_key_by_key_with_metadata) {
    snap_info_t info;
    load_server_golden("snapshot-v2-server.ksnap", 1, &info);
    cr_assert_eq(info.version, 2);
    cr_assert_eq(info.flags, SNAP_F_META | SNAP_F_INTSTR);
    check_unknown_ident(&info.identity);
}

Test(snapshot_golden, v3_server_golden_file_loads_key_by_key_with_identity) {
    snap_info_t info;
    load_server_golden("snapshot-v3-server.ksnap", 1, &info);
    cr_assert_eq(info.version, 3);
    cr_assert_eq(info.min_reader, 2);
    cr_assert_eq(info.flags, SNAP_F_META | SNAP_F_INTSTR);
    check_g_ident(&info.identity);
}

Test(snapshot_golden, v1_golden_file_loads_key_by_key) {
    char p[512];
    snap_info_t info;
    data_path(p, sizeof p, "snapshot-v1.ksnap");
    load_golden(p, SNAP_FORMAT_VERSION_MAX, 0, 0, &info);
    cr_assert_eq(info.version, 1);
    cr_assert_eq(info.min_reader, 1);
    cr_assert_eq(info.flags, 0);
    cr_assert_eq(info.keys, NGOLDEN);
    /* And a reader of version 1 loads it too. */
    load_golden(p, 1, 0, 0, &info);
}

Test(snapshot_golden, v2_golden_file_loads_key_by_key_with_metadata) {
    char p[512];
    snap_info_t info;
    data_path(p, sizeof p, "snapshot-v2.ksnap");
    load_golden(p, SNAP_FORMAT_VERSION_MAX, 1, 0, &info);
    cr_assert_eq(info.version, 2);
    cr_assert_eq(info.min_reader, 2);
    cr_assert_eq(info.flags, SNAP_F_META | SNAP_F_INTSTR);
    cr_assert_eq(info.keys, NGOLDEN);
}

Test(snapshot_golden, v3_golden_file_loads_key_by_key_with_identity) {
    char p[512];
    snap_info_t info;
    snap_peek_t pk;
    data_path(p, sizeof p, "snapshot-v3.ksnap");
    load_golden(p, SNAP_FORMAT_VERSION_MAX, 1, 0, &info);
    cr_assert_eq(info.version, 3);
    cr_assert_eq(info.min_reader, 2, "identity is optional: only the integer strings need v2");
    cr_assert_eq(info.flags, SNAP_F_META | SNAP_F_INTSTR);
    cr_assert_eq(info.keys, NGOLDEN);
    check_g_ident(&info.identity);
    cr_assert_eq(snap_read_info(p, &info, NULL, 0), 0);
    check_g_ident(&info.identity);
    cr_assert_eq(snap_peek(p, &pk, NULL, 0), 0);
    cr_assert_eq(pk.version, 3);
    cr_assert_eq(pk.min_reader, 2);
    cr_assert_eq(pk.lsn, G_LSN);
    cr_assert_eq(pk.time_ms, G_TIME);
    cr_assert_eq(pk.keys, NGOLDEN);
    check_g_ident(&pk.identity);
    /* A v2 reader skips the identity section it does not know and loads every key. */
    load_golden(p, 2, 1, 0, &info);
    check_unknown_ident(&info.identity);
}

Test(snapshot_golden, older_golden_files_peek_as_unknown_data_sets) {
    const char *names[] = {"snapshot-v1.ksnap", "snapshot-v2.ksnap", "snapshot-v1-server.ksnap",
                           "snapshot-v2-server.ksnap", "snapshot-v3-optional.ksnap"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char p[512], err[256] = "";
        snap_peek_t pk;
        data_path(p, sizeof p, names[i]);
        cr_assert_eq(snap_peek(p, &pk, err, sizeof err), 0, "%s: %s", names[i], err);
        cr_assert_eq(pk.lsn, G_LSN, "%s", names[i]);
        check_unknown_ident(&pk.identity);
    }
}

/* snapshot-format-version 1 or 2 with an identity given: the file is what that version always
 * was, and reads back as an unknown data set. */
Test(snapshot_golden, older_target_written_with_identity_reads_as_unknown) {
    for (uint32_t v = 1; v <= 2; v++) {
        char p[128];
        snap_info_t info;
        snap_peek_t pk;
        snap_write_stats_t st;
        snprintf(p, sizeof p, "%s/target-v%u.ksnap", dir, v);
        snap_write_opts_t o = {.path = p,
                               .nthreads = 1,
                               .format_version = v,
                               .lsn = G_LSN,
                               .time_ms = G_TIME,
                               .identity = &g_ident};
        cr_assert_eq(snap_write(&o, golden_produce_cb, NULL, &st, NULL, 0), 0);
        cr_assert_eq(st.version, v);
        cr_assert_eq(st.identity, 0);
        load_golden(p, v, v >= 2, 0, &info); /* a reader of that version loads it */
        cr_assert_eq(info.version, v);
        load_golden(p, SNAP_FORMAT_VERSION_MAX, v >= 2, 0, &info);
        check_unknown_ident(&info.identity);
        cr_assert_eq(snap_peek(p, &pk, NULL, 0), 0);
        check_unknown_ident(&pk.identity);
    }
}

Test(snapshot_golden, v1_reader_refuses_v2_golden_naming_version_2) {
    char p[512];
    data_path(p, sizeof p, "snapshot-v2.ksnap");
    expect_refused(p, 1, KERR_VERSION, "needs snapshot reader version 2");
}

Test(snapshot_golden, unknown_optional_sections_are_skipped) {
    char p[512];
    snap_info_t info;
    data_path(p, sizeof p, "snapshot-v3-optional.ksnap");
    load_golden(p, SNAP_FORMAT_VERSION_MAX, 1, 0, &info);
    cr_assert_eq(info.version, 3);
    cr_assert_eq(info.keys, NGOLDEN);
}

/* The file was made before format version 3 existed, as a v3 writer with a new required record
 * type might write it. A v2 reader is told the version it needs; the v3 reader, which knows every
 * type of v3 and not this one, still refuses it and says why. */
Test(snapshot_golden, unknown_required_record_is_refused_naming_version_3) {
    char p[512];
    data_path(p, sizeof p, "snapshot-v3-required.ksnap");
    expect_refused(p, 2, KERR_VERSION, "needs snapshot reader version 3");
    expect_refused(p, 2, KERR_VERSION, "record type 33");
    expect_refused(p, 3, KERR_VERSION, "record type 33 at byte");
    expect_refused(p, 3, KERR_VERSION, "does not know it");
}

Test(snapshot_golden, unknown_required_file_section_is_refused_naming_its_version) {
    char p[128];
    snap_write_ext_t x = ext_optional;
    x.extra_flags = SNAP_SEC_F_REQUIRED;
    x.extra_since = 4;
    snprintf(p, sizeof p, "%s/req-section.ksnap", dir);
    write_golden(p, 2, NULL, &x);
    expect_refused(p, SNAP_FORMAT_VERSION_MAX, KERR_VERSION, "section type 64");
    expect_refused(p, SNAP_FORMAT_VERSION_MAX, KERR_VERSION, "needs snapshot reader version 4");
}

Test(snapshot_golden, header_min_reader_above_this_build_is_refused) {
    char p[128];
    snap_info_t info;
    snap_write_ext_t x = {.version_field = 5, .min_reader_field = 5};
    snprintf(p, sizeof p, "%s/v5.ksnap", dir);
    write_golden(p, 2, NULL, &x);
    expect_refused(p, SNAP_FORMAT_VERSION_MAX, KERR_VERSION, "needs snapshot reader version 5");
    /* The header is still readable, so a tool can say what the file is. */
    cr_assert_eq(snap_read_info(p, &info, NULL, 0), KERR_VERSION);
    cr_assert_eq(info.version, 5);
    cr_assert_eq(info.keys, NGOLDEN);
}

Test(snapshot_golden, v1_written_by_v2_writer_loads_in_a_v1_reader) {
    char p[128];
    snap_info_t info;
    snprintf(p, sizeof p, "%s/down.ksnap", dir);
    write_golden(p, 1, NULL, NULL);
    cr_assert_eq(snap_read_info(p, &info, NULL, 0), 0);
    cr_assert_eq(info.version, 1);
    cr_assert_eq(info.min_reader, 1);
    load_golden(p, 1, 0, 0, &info);
    /* The newest reader sees the same content: integers as strings, no metadata. */
    load_golden(p, SNAP_FORMAT_VERSION_MAX, 0, 0, &info);
}

Test(snapshot_golden, v2_without_integer_strings_loads_in_a_v1_reader_without_metadata) {
    char p[128];
    snap_info_t info;
    gprod_t g = {.skip_ints = 1};
    snprintf(p, sizeof p, "%s/meta-only.ksnap", dir);
    write_golden(p, 2, &g, NULL);
    cr_assert_eq(snap_read_info(p, &info, NULL, 0), 0);
    cr_assert_eq(info.version, 2);
    cr_assert_eq(info.min_reader, 1, "only optional v2 records: a v1 reader can load it");
    cr_assert_eq(info.flags, SNAP_F_META);
    load_golden(p, 1, 0, 1, &info); /* v1 reader: META records skipped */
    load_golden(p, SNAP_FORMAT_VERSION_MAX, 1, 1, &info);
}

Test(snapshot_golden, unknown_feature_flags_optional_ignored_required_refused) {
    char p[128];
    snap_info_t info;
    snap_write_ext_t x = {.version_field = 3, .flags_or = 1ull << 5};
    snprintf(p, sizeof p, "%s/flag-opt.ksnap", dir);
    write_golden(p, 2, NULL, &x);
    load_golden(p, SNAP_FORMAT_VERSION_MAX, 1, 0, &info);
    cr_assert_eq(info.flags & (1ull << 5), 1ull << 5);
    x.flags_or = 1ull << 40;
    snprintf(p, sizeof p, "%s/flag-req.ksnap", dir);
    write_golden(p, 2, NULL, &x);
    expect_refused(p, SNAP_FORMAT_VERSION_MAX, KERR_VERSION, "required features 0x10000000000");
}
