/*
 * test_db_expire.c - db.c: lazy and active expiry, the expiry hook, expiry switched off for
 * replay, db_set_expire and db_str_resize keeping both tables on the object's new address,
 * db_set with and without KEEPTTL, swap, detach and random.
 *
 * The clock is pinned with db_set_now_ms so every expiry decision is exact.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "kmem.h"

typedef struct expired_log {
    int calls;
    char last[64];
} expired_log_t;

static expired_log_t elog;

static void
expired_cb(void *ctx, db_t *db, const char *key, size_t klen) {
    expired_log_t *l = ctx;
    /* The hook runs before the delete: the key must still be findable (the server logs and
     * notifies from here). */
    cr_assert_not_null(db_find(db, key, klen));
    l->calls++;
    snprintf(l->last, sizeof l->last, "%.*s", (int)klen, key);
}

static db_env_t env;
static db_t *db;

static void
setup(void) {
    memset(&elog, 0, sizeof elog);
    db_env_init(&env, expired_cb, &elog);
    db_set_now_ms(&env, 1000000);
    db_set_expire_enabled(&env, true);
    db = db_create(0, &env);
}

static void
teardown(void) {
    db_free(db);
    db_set_now_ms(&env, 0);
    db_set_expire_enabled(&env, true);
}

TestSuite(db_expire, .init = setup, .fini = teardown);

static void
add_str(const char *key, const char *val, int64_t expire) {
    db_add(db, obj_new_str(key, strlen(key), val, strlen(val), expire));
}

static kobj_t *
find(const char *key) {
    return db_find(db, key, strlen(key));
}

static kobj_t *
find_in_expires(const char *key) {
    karg_t k = {key, strlen(key)};
    return ht_find(db->expires, &k);
}

Test(db_expire, lookup_deletes_a_key_once_its_time_has_come) {
    add_str("k", "v", 1000500);
    db_set_now_ms(&env, 1000499);
    cr_assert_not_null(db_lookup(db, "k", 1, 0));
    db_set_now_ms(&env, 1000500); /* expiry is inclusive: at the instant itself the key is gone */
    cr_assert_null(db_lookup(db, "k", 1, 0));
    cr_assert_eq(elog.calls, 1);
    cr_assert_str_eq(elog.last, "k");
    cr_assert_eq(db_size(db), 0);
    cr_assert_eq(db_expires_size(db), 0);
}

Test(db_expire, noexpire_lookup_returns_the_key_without_deleting) {
    add_str("k", "v", 1000000);
    cr_assert_not_null(db_lookup(db, "k", 1, DB_LOOKUP_NOEXPIRE));
    cr_assert_eq(elog.calls, 0);
    cr_assert_eq(db_size(db), 1);
    cr_assert(db_is_expired(&env, find("k")));
}

Test(db_expire, keys_without_expiry_never_expire) {
    add_str("k", "v", -1);
    db_set_now_ms(&env, INT64_MAX / 2);
    cr_assert_not_null(db_lookup(db, "k", 1, 0));
    cr_assert_eq(db_expires_size(db), 0);
}

Test(db_expire, expiry_switched_off_keeps_expired_keys_everywhere) {
    add_str("k", "v", 500);
    db_set_expire_enabled(&env, false);
    cr_assert_not_null(db_lookup(db, "k", 1, 0));
    cr_assert_eq(db_random(db), find("k"));
    cr_assert_eq(db_active_expire(db, 100000, NULL), 0);
    cr_assert_eq(elog.calls, 0);
    db_set_expire_enabled(&env, true);
    cr_assert_null(db_lookup(db, "k", 1, 0));
    cr_assert_eq(elog.calls, 1);
}

Test(db_expire, active_cycle_removes_only_expired_keys) {
    char k[32];
    for (int i = 0; i < 3000; i++) {
        snprintf(k, sizeof k, "key:%d", i);
        /* a third never expire, a third expire in the past, a third in the future */
        add_str(k, "value", i % 3 == 0 ? -1 : i % 3 == 1 ? 999000 : 2000000);
    }
    cr_assert_eq(db_expires_size(db), 2000);
    size_t total = 0;
    for (int round = 0; round < 100 && total < 1000; round++)
        total += db_active_expire(db, 1000000, NULL);
    cr_assert_eq(total, 1000);
    cr_assert_eq(elog.calls, 1000);
    cr_assert_eq(db_size(db), 2000);
    cr_assert_eq(db_expires_size(db), 1000);
    for (int i = 0; i < 3000; i++) {
        snprintf(k, sizeof k, "key:%d", i);
        cr_assert_eq(find(k) != NULL, i % 3 != 1, "key:%d", i);
    }
}

Test(db_expire, active_cycle_respects_its_time_budget_and_resumes) {
    char k[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(k, sizeof k, "key:%d", i);
        add_str(k, "v", 999000);
    }
    size_t first = db_active_expire(db, 0, NULL); /* zero budget: one scan step only */
    cr_assert_lt(first, 20000);
    size_t total = first;
    for (int round = 0; round < 100000 && db_size(db) > 0; round++)
        total += db_active_expire(db, 1000, NULL);
    cr_assert_eq(total, 20000);
    cr_assert_eq(db_size(db), 0);
}

Test(db_expire, set_expire_repoints_both_tables) {
    char k[32], v[64];
    for (int i = 0; i < 2000; i++) { /* enough keys for the tables to grow and rehash */
        snprintf(k, sizeof k, "key:%d", i);
        snprintf(v, sizeof v, "value-%d", i);
        add_str(k, v, -1);
    }
    for (int i = 0; i < 2000; i++) {
        snprintf(k, sizeof k, "key:%d", i);
        kobj_t *o = db_set_expire(db, find(k), 5000000 + i); /* grows: a new address */
        cr_assert_eq(find(k), o);
        cr_assert_eq(find_in_expires(k), o);
    }
    cr_assert_eq(db_expires_size(db), 2000);
    for (int i = 0; i < 2000; i++) {
        snprintf(k, sizeof k, "key:%d", i);
        kobj_t *before = find(k);
        kobj_t *o = db_set_expire(db, before, 6000000 + i); /* already has one: in place */
        cr_assert_eq(o, before);
        cr_assert_eq(obj_expire(find_in_expires(k)), 6000000 + i);
        if (i % 2 == 0) {
            o = db_set_expire(db, o, -1);
            cr_assert_eq(find(k), o);
            cr_assert_null(find_in_expires(k));
            cr_assert_eq(obj_expire(o), -1);
        }
        size_t n;
        snprintf(v, sizeof v, "value-%d", i);
        const char *s = obj_str(find(k), &n);
        cr_assert(n == strlen(v) && memcmp(s, v, n) == 0);
    }
    cr_assert_eq(db_expires_size(db), 1000);
}

Test(db_expire, str_resize_keeps_value_prefix_expiry_and_both_tables) {
    add_str("vol", "abc", 7000000);
    add_str("per", "xyz", -1);
    kobj_t *o = db_str_resize(db, find("vol"), 1000, 3);
    memset(obj_str_mut(o, &(size_t){0}) + 3, 'q', 997);
    cr_assert_eq(find("vol"), o);
    cr_assert_eq(find_in_expires("vol"), o);
    cr_assert_eq(obj_expire(o), 7000000);
    size_t n;
    const char *s = obj_str(o, &n);
    cr_assert_eq(n, 1000);
    cr_assert(memcmp(s, "abcqqq", 6) == 0);

    o = db_str_resize(db, find("per"), 2, 2);
    cr_assert_eq(find("per"), o);
    cr_assert_null(find_in_expires("per"));
    s = obj_str(o, &n);
    cr_assert(n == 2 && memcmp(s, "xy", 2) == 0);
    cr_assert_eq(db_expires_size(db), 1);
}

Test(db_expire, set_replaces_and_keeps_ttl_only_when_asked) {
    add_str("k", "old", 8000000);
    kobj_t *o = db_set(db, obj_new_str("k", 1, "new", 3, -1), true);
    cr_assert_eq(find("k"), o);
    cr_assert_eq(obj_expire(o), 8000000);
    cr_assert_eq(find_in_expires("k"), o);
    o = db_set(db, obj_new_str("k", 1, "newer", 5, -1), false);
    cr_assert_eq(obj_expire(o), -1);
    cr_assert_null(find_in_expires("k"));
    cr_assert_eq(db_size(db), 1);
    cr_assert_eq(db_expires_size(db), 0);
}

Test(db_expire, delete_and_unlink_leave_no_dangling_expiry_entry) {
    add_str("a", "1", 9000000);
    add_str("b", "2", 9000000);
    cr_assert(db_delete(db, "a", 1));
    kobj_t *b = db_unlink(db, "b", 1);
    cr_assert_not_null(b);
    obj_free(b);
    cr_assert_eq(db_size(db), 0);
    cr_assert_eq(db_expires_size(db), 0);
    cr_assert_not(db_delete(db, "a", 1));
}

Test(db_expire, random_skips_and_deletes_expired_keys) {
    add_str("dead", "v", 999999);
    cr_assert_null(db_random(db));
    cr_assert_eq(elog.calls, 1);
    add_str("live", "v", -1);
    cr_assert_eq(db_random(db), find("live"));
}

Test(db_expire, swap_and_detach_move_both_tables) {
    db_t *other = db_create(1, &env);
    add_str("a", "1", 9000000);
    add_str("b", "2", -1);
    db_swap(db, other);
    cr_assert_eq(db_size(db), 0);
    cr_assert_eq(db_size(other), 2);
    cr_assert_eq(db_expires_size(other), 1);
    cr_assert_eq(db->id, 0);
    cr_assert_eq(other->id, 1);
    db_t *old = db_detach(other);
    cr_assert_eq(db_size(other), 0);
    cr_assert_eq(db_expires_size(other), 0);
    cr_assert_eq(db_size(old), 2);
    cr_assert_not_null(db_find(old, "a", 1));
    db_free(old);
    db_free(other);
}

/* db_hint: the tier's check hands its find to the command's lookup, once, for the very same key
 * buffer; any change to the db drops it, so a lookup never returns a freed or moved object. */
Test(db_expire, a_lookup_hint_is_used_once_for_its_buffer_and_dropped_by_changes) {
    add_str("h1", "v1", -1);
    add_str("h2", "v2", -1);
    char buf[] = "h1", other[] = "h1";
    kobj_t *o1 = find("h1"), *o2 = find("h2");
    db_hint(db, buf, 2, o2); /* a deliberately wrong object shows whether the hint was taken */
    cr_assert_eq(db_lookup(db, other, 2, 0), o1, "another buffer with the same bytes searches");
    cr_assert_eq(db_lookup(db, buf, 2, 0), o2, "the hinted buffer takes the hint");
    cr_assert_eq(db_lookup(db, buf, 2, 0), o1, "only once");
    db_hint(db, buf, 2, o2);
    add_str("h3", "v3", -1); /* any change drops it */
    cr_assert_eq(db_lookup(db, buf, 2, 0), o1);
    db_hint(db, buf, 2, o2);
    db_delete(db, "h3", 2);
    cr_assert_eq(db_lookup(db, buf, 2, 0), o1);
    db_hint(db, buf, 2, o2);
    o1 = db_set_expire(db, o1, 2000000); /* the object moves: the hint must not survive it */
    cr_assert_eq(db_lookup(db, buf, 2, 0), o1);
    db_hint(db, buf, 2, o2);
    db_hint_clear(db);
    cr_assert_eq(db_lookup(db, buf, 2, 0), o1);
}

Test(db_expire, active_expiry_estimates_the_average_ttl) {
    for (int i = 0; i < 50; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        add_str(k, "v", 1000000 + 10000 + (i % 2) * 20000); /* TTLs of 10 s and 30 s */
    }
    add_str("forever", "v", -1);
    cr_assert_eq(db->avg_ttl_ms, 0);
    db_active_expire(db, 1000000, NULL);
    /* An estimate from samples: inside the range of the TTLs there are. */
    cr_assert(db->avg_ttl_ms >= 10000 && db->avg_ttl_ms <= 30000, "avg_ttl %lld",
              (long long)db->avg_ttl_ms);
}
