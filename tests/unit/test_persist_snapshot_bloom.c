/*
 * test_persist_snapshot_bloom.c - bloom filters in snapshots through the server's writer and
 * loader (persist/snapshot_save.c, snapshot_load.c): the golden file
 * tests/data/snapshot-v4-bloom.ksnap loads into filters whose bitmaps equal the ones the same
 * commands build today (so the hash and the sizing can never change unnoticed), a live keyspace
 * round-trips, and a snapshot for a format older than 4 refuses a keyspace holding a bloom
 * filter instead of dropping it. The snapshot layer's side (record type 9, reader 3 refusing the
 * golden file) is in test_snapshot_bloom.c.
 *
 * KEEL_SNAPSHOT_REGEN=bloom rewrites the golden file (only when the format itself changes).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "db.h"
#include "kerr.h"
#include "kmem.h"
#include "snapshot_glue.h"
#include "t_bloom.h"
#include "test_data_path.h"

static engine_t srv;
static char dir[64];
static char path[128];

static void
engine_up(engine_t *s) {
    memset(s, 0, sizeof *s);
    config_defaults(s);
    db_env_init(&s->dbenv, NULL, NULL);
    for (int i = 0; i < s->cfg.databases; i++)
        s->dbs[i] = db_create(i, &s->dbenv);
}

static void
engine_down(engine_t *s) {
    for (int i = 0; i < s->cfg.databases; i++)
        db_free(s->dbs[i]);
    config_free(s);
}

static void
setup(void) {
    bloom_type_init();
    engine_up(&srv);
    snprintf(dir, sizeof dir, "/tmp/keel-snapbloom-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/s.ksnap", dir);
}

static void
teardown(void) {
    engine_down(&srv);
    unlink(path);
    rmdir(dir);
}

TestSuite(snapbloom, .init = setup, .fini = teardown, .timeout = 60);

/* The golden content, as commands would build it:
 *   db 0 "bf"    BF.RESERVE bf 0.01 100, then BF.ADD of item:0 .. item:249 (scales to 2);
 *   db 0 "bf:ns" BF.RESERVE bf:ns 0.001 1000 NONSCALING, BF.ADD of ns:0 .. ns:9, a TTL;
 *   db 3 "plain" a string beside them. */
#define GOLDEN_TTL 4102444800000ll

static bloom_t *
golden_bf(void) {
    int err;
    bloom_t *b = bloom_new(100, 0.01, 0.5, 2, -1, &err);
    char k[32];
    for (int i = 0; i < 250; i++) {
        int n = snprintf(k, sizeof k, "item:%d", i);
        bloom_add(b, bloom_hash(k, (size_t)n), -1);
    }
    return b;
}

static bloom_t *
golden_ns(void) {
    int err;
    bloom_t *b = bloom_new(1000, 0.001, 0.5, 0, -1, &err);
    char k[32];
    for (int i = 0; i < 10; i++) {
        int n = snprintf(k, sizeof k, "ns:%d", i);
        bloom_add(b, bloom_hash(k, (size_t)n), -1);
    }
    return b;
}

static void
fill_golden(engine_t *s) {
    db_add(s->dbs[0], obj_new_ptr(OBJ_BLOOM, OBJ_ENC_BLOOM, "bf", 2, golden_bf(), -1));
    db_add(s->dbs[0], obj_new_ptr(OBJ_BLOOM, OBJ_ENC_BLOOM, "bf:ns", 5, golden_ns(), GOLDEN_TTL));
    db_add(s->dbs[3], obj_new_str("plain", 5, "v", 1, -1));
}

static void
assert_same(const bloom_t *a, const bloom_t *b) {
    cr_assert_eq(a->nfilters, b->nfilters);
    cr_assert_eq(a->expansion, b->expansion);
    cr_assert(a->fp_rate == b->fp_rate && a->tightening == b->tightening);
    for (uint32_t i = 0; i < a->nfilters; i++) {
        const bloom_filter_t *x = &a->filters[i], *y = &b->filters[i];
        cr_assert(x->capacity == y->capacity && x->items == y->items && x->bits == y->bits &&
                  x->hashes == y->hashes);
        cr_assert(memcmp(x->bitmap, y->bitmap, x->bits / 8) == 0, "bitmap %u differs", i);
    }
}

static const bloom_t *
bloom_at(engine_t *s, int db, const char *key) {
    kobj_t *o = db_find(s->dbs[db], key, strlen(key));
    cr_assert_not_null(o, "%s missing", key);
    cr_assert_eq(obj_type(o), OBJ_BLOOM, "%s is not a bloom filter", key);
    return obj_ptr(o);
}

static void
check_golden(engine_t *s) {
    bloom_t *bf = golden_bf(), *ns = golden_ns();
    const bloom_t *got = bloom_at(s, 0, "bf");
    cr_assert_eq(got->nfilters, 2, "item:0..249 scaled the filter once");
    assert_same(got, bf);
    assert_same(bloom_at(s, 0, "bf:ns"), ns);
    cr_assert_eq(obj_expire(db_find(s->dbs[0], "bf:ns", 5)), GOLDEN_TTL);
    cr_assert(bloom_contains(got, bloom_hash("item:17", 7)));
    cr_assert_not_null(db_find(s->dbs[3], "plain", 5));
    bloom_free(bf);
    bloom_free(ns);
}

Test(snapbloom, regenerate_golden_file_when_asked) {
    const char *regen = getenv("KEEL_SNAPSHOT_REGEN");
    if (!regen || strcmp(regen, "bloom") != 0)
        cr_skip_test("set KEEL_SNAPSHOT_REGEN=bloom to rewrite tests/data/snapshot-v4-bloom.ksnap");
    char p[512], err[256] = "";
    data_path(p, sizeof p, "snapshot-v4-bloom.ksnap");
    fill_golden(&srv);
    cr_assert_eq(snapshot_write_keyspace(&srv, p, 7, 1, 4, NULL, err, sizeof err), 0, "%s", err);
}

Test(snapbloom, golden_file_loads_the_bitmaps_todays_commands_build) {
    char p[512], err[512] = "";
    snap_info_t info;
    data_path(p, sizeof p, "snapshot-v4-bloom.ksnap");
    cr_assert_eq(snapshot_load_file(&srv, p, 2, &info, err, sizeof err), 0, "%s", err);
    cr_expect_eq(info.version, 4);
    cr_expect_eq(info.min_reader, 4, "a file with a bloom filter needs reader 4");
    check_golden(&srv);
}

Test(snapbloom, live_keyspace_round_trips) {
    char err[512] = "";
    snap_write_stats_t st;
    fill_golden(&srv);
    cr_assert_eq(snapshot_write_keyspace(&srv, path, 9, 2, 0, &st, err, sizeof err), 0, "%s", err);
    cr_expect_eq(st.version, 4);
    cr_expect_eq(st.min_reader, 4);
    engine_t other;
    engine_up(&other);
    cr_assert_eq(snapshot_load_file(&other, path, 2, NULL, err, sizeof err), 0, "%s", err);
    check_golden(&other);
    engine_down(&other);
}

Test(snapbloom, older_format_refuses_a_keyspace_with_a_bloom_filter) {
    char err[512] = "";
    fill_golden(&srv);
    int rc = snapshot_write_keyspace(&srv, path, 9, 1, 3, NULL, err, sizeof err);
    cr_expect_eq(rc, KERR_INVAL, "rc %d: %s", rc, err);
    cr_expect_neq(access(path, F_OK), 0, "no file left behind");
    /* without the bloom filters the same keyspace still writes for reader 1 */
    db_delete(srv.dbs[0], "bf", 2);
    db_delete(srv.dbs[0], "bf:ns", 5);
    snap_write_stats_t st;
    cr_assert_eq(snapshot_write_keyspace(&srv, path, 9, 1, 0, &st, err, sizeof err), 0, "%s", err);
    cr_expect_eq(st.version, 4);
    cr_expect_eq(st.min_reader, 1, "a v4 file without bloom filters keeps min_reader 1");
}
