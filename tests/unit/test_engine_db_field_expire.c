/*
 * test_engine_db_field_expire.c - db.c and hash-field expiry: a lookup removes a hash's due fields
 * (not with DB_LOOKUP_KEEP_FIELDS, not while expiry is off for replay), the active cycle finds
 * them through the hexpires table, the fields_expired hook gets the fields before they go and
 * learns when the key goes with them, and the hexpires table follows the object through the
 * moves db.c makes (a key TTL added, unlink and re-add, swap, flush).
 *
 * The clock is pinned with db_set_now_ms so every expiry decision is exact.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "kmem.h"
#include "t_hash.h"

typedef struct hook_log {
    int calls, fields, gone;
    char last_key[32], last_fields[256];
} hook_log_t;

static hook_log_t hlog;
static db_env_t env;
static db_t *db;

static void
fields_cb(void *ctx, db_t *d, const char *key, size_t klen, const karg_t *f, size_t n,
          bool key_gone) {
    hook_log_t *l = ctx;
    kobj_t *o = db_find(d, key, klen);
    cr_assert_not_null(o, "the hook runs while the key is still there");
    thash_t h = hash_of(o);
    l->calls++;
    l->fields += (int)n;
    l->gone += key_gone;
    cr_assert_eq(key_gone, hash_len(&h) == 0, "key_gone says the hash is now empty");
    snprintf(l->last_key, sizeof l->last_key, "%.*s", (int)klen, key);
    l->last_fields[0] = 0;
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(hash_exists(&h, f[i].p, f[i].n), false, "a reported field is gone");
        size_t at = strlen(l->last_fields);
        snprintf(l->last_fields + at, sizeof l->last_fields - at, "%s%.*s", i ? "," : "",
                 (int)f[i].n, f[i].p);
    }
}

static void
setup(void) {
    hash_type_init(NULL, NULL);
    memset(&hlog, 0, sizeof hlog);
    db_env_init(&env, NULL, NULL);
    env.fields_expired = fields_cb;
    env.ctx = &hlog;
    db_set_now_ms(&env, 1000000);
    db = db_create(0, &env);
}

static void
teardown(void) {
    db_free(db);
}

TestSuite(db_field_expire, .init = setup, .fini = teardown);

/* A hash "key" with fields f0..f<n-1>; fields listed in ttl get expiry at. */
static kobj_t *
add_hash(const char *key, int n, int nttl, int64_t at) {
    hash_limits_t lim = {128, 64};
    thash_t h = hash_new();
    for (int i = 0; i < n; i++) {
        char f[16];
        snprintf(f, sizeof f, "f%d", i);
        hash_set(&h, f, strlen(f), "v", 1, &lim);
        if (i < nttl)
            hash_set_expire(&h, f, strlen(f), at);
    }
    kobj_t *o = obj_new_ptr(OBJ_HASH, h.enc, key, strlen(key), h.p, -1);
    db_add(db, o);
    return o;
}

static uint64_t
fields_of(const char *key) {
    kobj_t *o = db_find(db, key, strlen(key));
    if (!o)
        return 0;
    thash_t h = hash_of(o);
    return hash_len(&h);
}

Test(db_field_expire, a_lookup_removes_due_fields_but_not_with_keep_fields) {
    add_hash("h", 4, 2, 1000500);
    cr_assert_eq(db_hexpires_size(db), 1);
    cr_assert_not_null(db_lookup(db, "h", 1, 0));
    cr_assert_eq(hlog.calls, 0, "nothing due yet");
    db_set_now_ms(&env, 1000500);
    cr_assert_not_null(db_lookup(db, "h", 1, DB_LOOKUP_KEEP_FIELDS));
    cr_assert_eq(fields_of("h"), 4, "HLEN's lookup leaves them");
    db_set_expire_enabled(&env, false);
    cr_assert_not_null(db_lookup(db, "h", 1, 0));
    cr_assert_eq(fields_of("h"), 4, "replay never expires");
    db_set_expire_enabled(&env, true);
    cr_assert_not_null(db_lookup(db, "h", 1, 0));
    cr_assert_eq(fields_of("h"), 2);
    cr_assert_eq(hlog.calls, 1);
    cr_assert_str_eq(hlog.last_key, "h");
    cr_assert(strcmp(hlog.last_fields, "f0,f1") == 0 || strcmp(hlog.last_fields, "f1,f0") == 0,
              "%s", hlog.last_fields);
    cr_assert_eq(hlog.gone, 0);
}

Test(db_field_expire, the_key_goes_with_its_last_field) {
    add_hash("h", 3, 3, 1000100);
    db_set_now_ms(&env, 1000100);
    cr_assert_null(db_lookup(db, "h", 1, 0));
    cr_assert_null(db_find(db, "h", 1));
    cr_assert_eq(hlog.gone, 1);
    cr_assert_eq(hlog.fields, 3);
    cr_assert_eq(db_hexpires_size(db), 0);
}

Test(db_field_expire, the_active_cycle_finds_due_hashes_only) {
    for (int k = 0; k < 50; k++) {
        char key[16];
        snprintf(key, sizeof key, "due%d", k);
        add_hash(key, 3, 1, 1000200);
        snprintf(key, sizeof key, "later%d", k);
        add_hash(key, 3, 1, 5000000);
    }
    add_hash("plain", 3, 0, 0);
    cr_assert_eq(db_hexpires_size(db), 100, "a hash that never had a field expiry is not there");
    db_set_now_ms(&env, 1000200);
    for (int i = 0; i < 100 && hlog.fields < 50; i++)
        db_active_expire(db, 100000, NULL);
    cr_assert_eq(hlog.fields, 50);
    cr_assert_eq(hlog.calls, 50);
    cr_assert_eq(fields_of("due7"), 2);
    cr_assert_eq(fields_of("later7"), 3);
    cr_assert_eq(db_size(db), 101);
    db_set_expire_enabled(&env, false);
    db_set_now_ms(&env, 9000000);
    db_active_expire(db, 100000, NULL);
    cr_assert_eq(hlog.fields, 50, "no active expiry while replaying");
}

Test(db_field_expire, the_table_follows_the_object_through_moves) {
    kobj_t *o = add_hash("h", 2, 1, 1000100);
    o = db_set_expire(db, o, 9000000); /* the object is reallocated with a key TTL */
    cr_assert_eq(db_hexpires_size(db), 1);
    kobj_t *u = db_unlink(db, "h", 1);
    cr_assert_eq(u, o);
    cr_assert_eq(db_hexpires_size(db), 0);
    db_add(db, u);
    cr_assert_eq(db_hexpires_size(db), 1);
    db_t *other = db_create(1, &env);
    db_swap(db, other);
    cr_assert_eq(db_hexpires_size(db), 0);
    cr_assert_eq(db_hexpires_size(other), 1);
    db_set_now_ms(&env, 1000100);
    db_active_expire(other, 100000, NULL);
    cr_assert_eq(hlog.fields, 1, "the swapped db expires its own fields");
    db_flush(other);
    cr_assert_eq(db_hexpires_size(other), 0);
    db_free(other);
}

Test(db_field_expire, a_hash_that_gains_an_expiry_in_place_is_tracked) {
    kobj_t *o = add_hash("h", 2, 0, 0);
    cr_assert_eq(db_hexpires_size(db), 0);
    thash_t h = hash_of(o);
    hash_set_expire(&h, "f0", 2, 1000050);
    hash_store(o, &h);
    db_hash_ttl_track(db, o);
    db_hash_ttl_track(db, o); /* twice is harmless */
    cr_assert_eq(db_hexpires_size(db), 1);
    db_set_now_ms(&env, 1000050);
    db_active_expire(db, 100000, NULL);
    cr_assert_eq(fields_of("h"), 1);
    db_delete(db, "h", 1);
    cr_assert_eq(db_hexpires_size(db), 0);
}
