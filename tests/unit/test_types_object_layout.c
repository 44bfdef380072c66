/*
 * test_object_layout.c - the embedded-key object: key, value, expiry and access time survive every
 * reallocation (adding/removing an expiry, growing a string), varint length boundaries, the
 * aligned collection pointer, and the encoding names OBJECT ENCODING reports.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "kmem.h"
#include "object.h"

static void
check_str(const kobj_t *o, const char *key, size_t klen, const char *val, size_t vlen) {
    size_t n;
    const char *k = obj_key(o, &n);
    cr_assert_eq(n, klen);
    cr_assert(memcmp(k, key, klen) == 0);
    const char *v = obj_str(o, &n);
    cr_assert_eq(n, vlen);
    cr_assert(vlen == 0 || memcmp(v, val, vlen) == 0);
}

Test(object, small_pair_is_one_small_allocation) {
    kobj_t *o = obj_new_str("k000000000000001", 16, "vvvvvvvvvvvvvvvvvvvvvvvv", 24, -1);
    check_str(o, "k000000000000001", 16, "vvvvvvvvvvvvvvvvvvvvvvvv", 24);
    cr_assert_eq(obj_expire(o), -1);
    cr_assert_leq(obj_alloc_size(o), 56, "header + key + value should be about 47 bytes");
    obj_free(o);
}

Test(object, expiry_added_and_removed_keeps_everything_else) {
    kobj_t *o = obj_new_str("key", 3, "value", 5, -1);
    obj_set_lru(o, 0x123456);
    o = obj_with_expire(o, 1700000000123LL);
    cr_assert_eq(obj_expire(o), 1700000000123LL);
    check_str(o, "key", 3, "value", 5);
    cr_assert_eq(obj_lru(o), 0x123456);
    obj_set_expire_inplace(o, 42);
    cr_assert_eq(obj_expire(o), 42);
    o = obj_with_expire(o, -1);
    cr_assert_not(obj_has_expire(o));
    check_str(o, "key", 3, "value", 5);
    cr_assert_eq(obj_lru(o), 0x123456);
    obj_free(o);
}

Test(object, string_grows_across_varint_boundaries) {
    static char big[20000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + i % 26);
    kobj_t *o = obj_new_str("k", 1, big, 100, 5000);
    size_t sizes[] = {127, 128, 16383, 16384, 20000, 50};
    size_t have = 100;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        size_t keep = have < sizes[i] ? have : sizes[i];
        o = obj_str_resize(o, sizes[i], keep);
        char *v = obj_str_mut(o, &have);
        cr_assert_eq(have, sizes[i]);
        memcpy(v + keep, big + keep, sizes[i] - keep);
        check_str(o, "k", 1, big, sizes[i]);
        cr_assert_eq(obj_expire(o), 5000);
    }
    obj_free(o);
}

Test(object, long_keys_use_a_longer_length_prefix) {
    char key[300];
    memset(key, 'x', sizeof key);
    kobj_t *o = obj_new_str(key, sizeof key, "v", 1, -1);
    check_str(o, key, sizeof key, "v", 1);
    o = obj_with_expire(o, 7);
    check_str(o, key, sizeof key, "v", 1);
    obj_free(o);
}

static void
free_ptr(void *p, int enc) {
    (void)enc;
    kfree(p);
}
static void *
dup_ptr(const void *p, int enc) {
    (void)enc;
    void *n = kmalloc(8);
    memcpy(n, p, 8);
    return n;
}
static const obj_type_ops_t list_ops = {free_ptr, dup_ptr, NULL, "list"};

Test(object, collection_pointer_is_aligned_and_survives_reallocation) {
    obj_register_type(OBJ_LIST, &list_ops);
    for (size_t klen = 1; klen < 40; klen++) {
        char key[40];
        memset(key, 'a' + (int)(klen % 26), klen);
        void *p = kmalloc(8);
        memcpy(p, "payload", 8);
        kobj_t *o = obj_new_ptr(OBJ_LIST, OBJ_ENC_QUICKLIST, key, klen, p, -1);
        cr_assert_eq(obj_ptr(o), p);
        o = obj_with_expire(o, 99);
        cr_assert_eq(obj_ptr(o), p, "klen %zu", klen);
        cr_assert_eq(obj_encoding(o), OBJ_ENC_QUICKLIST);
        size_t n;
        const char *k = obj_key(o, &n);
        cr_assert(n == klen && memcmp(k, key, klen) == 0);
        kobj_t *copy = obj_dup_as(o, "other", 5, -1);
        cr_assert_neq(obj_ptr(copy), p);
        cr_assert_str_eq(obj_ptr(copy), "payload");
        o = obj_with_expire(o, -1);
        cr_assert_eq(obj_ptr(o), p);
        obj_free(copy);
        obj_free(o);
    }
}

Test(object, encoding_names_follow_valkey) {
    kobj_t *a = obj_new_str("k", 1, "12345", 5, -1);
    kobj_t *b = obj_new_str("k", 1, "012345", 6, -1);
    char v[45];
    memset(v, 'x', sizeof v);
    kobj_t *c = obj_new_str("k", 1, v, 44, -1);
    kobj_t *d = obj_new_str("k", 1, v, 45, -1);
    cr_assert_str_eq(obj_encoding_name(a), "int");
    cr_assert_str_eq(obj_encoding_name(b), "embstr");
    cr_assert_str_eq(obj_encoding_name(c), "embstr");
    cr_assert_str_eq(obj_encoding_name(d), "raw");
    obj_free(a), obj_free(b), obj_free(c), obj_free(d);
}

static uint64_t freed_id;
static uint32_t freed_len;
static int freed_calls;

static void
stub_freed(void *ctx, uint64_t id, uint32_t vlen) {
    cr_assert_eq(ctx, &freed_calls);
    freed_id = id;
    freed_len = vlen;
    freed_calls++;
}

Test(object, tiered_stub_keeps_key_expiry_lru_and_fits_key_plus_32_bytes) {
    char key[100], val[3000];
    memset(key, 'k', sizeof key);
    memset(val, 'v', sizeof val);
    kobj_t *o = obj_new_str(key, sizeof key, val, sizeof val, 1700000000123LL);
    obj_set_lru(o, 0xabcdef);
    kobj_t *t = obj_new_tiered(o, 0x0102030405060708ull, sizeof val);
    cr_assert(obj_is_tiered(t) && !obj_is_tiered(o));
    cr_assert_eq(obj_type(t), OBJ_STRING);
    cr_assert_str_eq(obj_encoding_name(t), "tiered");
    cr_assert_eq(obj_expire(t), 1700000000123LL);
    cr_assert_eq(obj_lru(t), 0xabcdef);
    size_t n;
    const char *k = obj_key(t, &n);
    cr_assert(n == sizeof key && memcmp(k, key, n) == 0);
    uint32_t vlen;
    cr_assert_eq(obj_tiered_id(t, &vlen), 0x0102030405060708ull);
    cr_assert_eq(vlen, sizeof val);
    cr_assert_leq(obj_alloc_size(t), sizeof key + 32 + 8, "key + 27 bytes, in a size class");
    /* Removing the expiry moves the bytes: the stub stays a stub. */
    t = obj_with_expire(t, -1);
    cr_assert(obj_is_tiered(t) && obj_expire(t) == -1);
    cr_assert_eq(obj_tiered_id(t, &vlen), 0x0102030405060708ull);
    obj_set_tiered_free_hook(stub_freed, &freed_calls);
    obj_free(o); /* a resident value: no call */
    cr_assert_eq(freed_calls, 0);
    obj_free(t);
    cr_assert_eq(freed_calls, 1);
    cr_assert_eq(freed_id, 0x0102030405060708ull);
    cr_assert_eq(freed_len, sizeof val);
    obj_set_tiered_free_hook(NULL, NULL);
}
