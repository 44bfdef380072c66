/*
 * test_snapload_keyspace.c - the server's snapshot loader (server/core/snapshot_load.c) into a
 * real keyspace: keys spread over databases with the first one small (the pre-sized table is
 * given back), TTLs reach the expiry index, saved access metadata is kept and keys without it
 * get a first access, a key present twice is refused naming it, loads with 1 and 4 decoder
 * threads agree, and a load of keys with TTLs fills pre-sized tables without rehashing. Strings
 * only: collection types are covered by tests/integration/test_snapshot.py.
 *
 * Named outside the test_<module>_ prefixes on purpose: it links the whole server.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kerr.h"
#include "config.h"
#include "db.h"
#include "kmem.h"
#include "snapshot_glue.h"

#define BIG_DB_KEYS   60000
#define SMALL_DB_KEYS 20
#define TTL_KEYS      5
#define META_BASE     4242u

static engine_t srv;
static char dir[64];
static char path[128];

static void
setup(void) {
    memset(&srv, 0, sizeof srv);
    config_defaults(&srv);
    db_env_init(&srv.dbenv, NULL, NULL);
    for (int i = 0; i < srv.cfg.databases; i++)
        srv.dbs[i] = db_create(i, &srv.dbenv);
    snprintf(dir, sizeof dir, "/tmp/keel-snapload-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/s.ksnap", dir);
}

static void
teardown(void) {
    for (int i = 0; i < srv.cfg.databases; i++)
        db_free(srv.dbs[i]);
    unlink(path);
    rmdir(dir);
}

TestSuite(snapload, .init = setup, .fini = teardown, .timeout = 60);

typedef struct prod {
    int dup;         /* put key "big:7" of db 1 twice */
    int volatile_db; /* > 0: only this many keys, all in db 0 and all with a TTL */
} prod_t;

static int
produce_volatile(int n, int part, int nparts, snap_sink_t *s) {
    char k[32];
    int rc = 0;
    for (int i = part; i < n && rc == 0; i += nparts) {
        int kn = snprintf(k, sizeof k, "v:%d", i);
        rc = snap_put_string(s, 0, k, (size_t)kn, 4102444800000ll, "x", 1);
    }
    return rc;
}

/* db 0: a few keys; db 1: most keys, every 10th with saved metadata; db 2: keys with a TTL.
 * Part p of n takes every n-th key so both writer threads mix databases as the server does. */
static int
produce_cb(void *ctx, int part, int nparts, snap_sink_t *s) {
    const prod_t *pr = ctx;
    char k[32], v[32];
    int rc = 0;
    if (pr && pr->volatile_db)
        return produce_volatile(pr->volatile_db, part, nparts, s);
    for (int i = part; i < SMALL_DB_KEYS && rc == 0; i += nparts) {
        int kn = snprintf(k, sizeof k, "small:%d", i), vn = snprintf(v, sizeof v, "s%d", i);
        rc = snap_put_string(s, 0, k, (size_t)kn, SNAP_NO_EXPIRE, v, (size_t)vn);
    }
    for (int i = part; i < BIG_DB_KEYS && rc == 0; i += nparts) {
        int kn = snprintf(k, sizeof k, "big:%d", i), vn = snprintf(v, sizeof v, "b%d", i);
        if (i % 10 == 0)
            snap_sink_set_meta(s, META_BASE + (uint32_t)i);
        rc = snap_put_string(s, 1, k, (size_t)kn, SNAP_NO_EXPIRE, v, (size_t)vn);
    }
    if (pr && pr->dup && part == 0 && rc == 0)
        rc = snap_put_string(s, 1, "big:7", 5, SNAP_NO_EXPIRE, "again", 5);
    for (int i = part; i < TTL_KEYS && rc == 0; i += nparts) {
        int kn = snprintf(k, sizeof k, "ttl:%d", i);
        rc = snap_put_string(s, 2, k, (size_t)kn, 4102444800000ll + i, "t", 1);
    }
    return rc;
}

static void
write_file(const prod_t *pr) {
    snap_write_opts_t o = {.path = path,
                           .nthreads = 2,
                           .format_version = 2,
                           .lsn = 9,
                           .time_ms = 1700000000000ll,
                           .chunk_bytes = 16384};
    char err[256] = "";
    cr_assert_eq(snap_write(&o, produce_cb, (void *)pr, NULL, err, sizeof err), 0, "%s", err);
}

static kobj_t *
find(int d, const char *key) {
    return db_find(srv.dbs[d], key, strlen(key));
}

static void
check_loaded(void) {
    char k[32], v[32];
    cr_assert_eq(db_size(srv.dbs[0]), SMALL_DB_KEYS);
    cr_assert_eq(db_size(srv.dbs[1]), BIG_DB_KEYS);
    cr_assert_eq(db_size(srv.dbs[2]), TTL_KEYS);
    cr_assert_eq(db_expires_size(srv.dbs[2]), TTL_KEYS, "TTL keys reach the expiry index");
    cr_assert_eq(db_expires_size(srv.dbs[1]), 0);
    uint32_t fresh = db_lru_fresh(&srv.dbenv);
    for (int i = 0; i < BIG_DB_KEYS; i++) {
        snprintf(k, sizeof k, "big:%d", i);
        int vn = snprintf(v, sizeof v, "b%d", i);
        kobj_t *o = find(1, k);
        cr_assert_not_null(o, "%s missing", k);
        size_t n;
        const char *val = obj_str(o, &n);
        cr_assert(n == (size_t)vn && memcmp(val, v, n) == 0, "%s value", k);
        if (i % 10 == 0)
            cr_assert_eq(obj_lru(o), META_BASE + (uint32_t)i, "%s keeps its saved access", k);
        else
            cr_assert_leq(fresh - obj_lru(o), 2, "%s gets a first access (%u vs %u)", k, obj_lru(o),
                          fresh);
    }
    for (int i = 0; i < TTL_KEYS; i++) {
        snprintf(k, sizeof k, "ttl:%d", i);
        cr_assert_eq(obj_expire(find(2, k)), 4102444800000ll + i);
    }
    cr_assert_not_null(find(0, "small:19"));
}

Test(snapload, keys_over_databases_load_with_ttls_and_access_metadata) {
    write_file(NULL);
    for (int threads = 1; threads <= 4; threads += 3) {
        snap_info_t info;
        char err[512] = "";
        int rc = snapshot_load_file(&srv, path, threads, &info, err, sizeof err);
        cr_assert_eq(rc, 0, "threads %d: %s", threads, err);
        cr_assert_eq(info.keys, SMALL_DB_KEYS + BIG_DB_KEYS + TTL_KEYS);
        check_loaded();
        for (int d = 0; d < 3; d++)
            db_flush(srv.dbs[d]);
    }
}

Test(snapload, first_database_is_presized_then_given_back_when_it_got_few_keys) {
    write_file(NULL);
    char err[512] = "";
    /* One decoder thread: db 0's keys come first, so db 0 is the one pre-sized for them all. */
    cr_assert_eq(snapshot_load_file(&srv, path, 1, NULL, err, sizeof err), 0, "%s", err);
    for (int i = 0; i < 1000; i++)
        db_rehash_us(srv.dbs[0], 1000); /* the cron finishes the shrink db_fit started */
    size_t small = ht_mem_bytes(srv.dbs[0]->keys), big = ht_mem_bytes(srv.dbs[1]->keys);
    cr_assert_lt(small * 50, big, "db 0 kept %zu bytes of buckets for %d keys (db 1: %zu)", small,
                 SMALL_DB_KEYS, big);
    check_loaded();
}

Test(snapload, a_key_present_twice_is_refused_naming_it) {
    prod_t pr = {.dup = 1};
    write_file(&pr);
    char err[512] = "";
    int rc = snapshot_load_file(&srv, path, 2, NULL, err, sizeof err);
    cr_assert_eq(rc, KERR_CORRUPT, "rc %d (%s)", rc, err);
    cr_assert(strstr(err, "key 'big:7' (db 1) appears twice") != NULL, "message: %s", err);
}

Test(snapload, presized_tables_hold_a_volatile_load_without_rehashing) {
    /* 46000 keys: filling a table one key at a time grows it at 44155 keys (77% of 2^13
     * buckets), and the 1845 inserts after that are far too few to finish moving 8192 chains,
     * so without pre-sizing both tables would still be rehashing at the end of the load. */
    enum { N = 46000 };
    prod_t pr = {.volatile_db = N};
    write_file(&pr);
    char err[512] = "";
    cr_assert_eq(snapshot_load_file(&srv, path, 2, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(db_size(srv.dbs[0]), N);
    cr_assert_eq(db_expires_size(srv.dbs[0]), N);
    cr_assert(!ht_is_rehashing(srv.dbs[0]->keys), "the key table was pre-sized");
    cr_assert(!ht_is_rehashing(srv.dbs[0]->expires), "the expiry index was pre-sized");
    cr_assert_eq(ht_buckets(srv.dbs[0]->expires), ht_buckets(srv.dbs[0]->keys));
    cr_assert_not_null(find(0, "v:45999"));
}
