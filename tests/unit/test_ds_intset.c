/* test_ds_intset.c - the integer set against a sorted-array model, upgrades, edges, validation. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "kerr.h"
#include "intset.h"

static uint64_t rng_state = 0xDEADBEEFCAFEF00Dull;
static uint64_t
rng(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Values mostly small, so adds and removes collide often, with a few of each wider width. */
static int64_t
random_value(void) {
    switch (rng() % 10) {
    case 0: return (int64_t)(int32_t)rng();
    case 1: return (int64_t)rng();
    case 2: return rng() & 1 ? INT64_MAX - (int64_t)(rng() % 3) : INT64_MIN + (int64_t)(rng() % 3);
    default: return (int64_t)(rng() % 400) - 200;
    }
}

static int
model_find(const int64_t *m, size_t n, int64_t v, size_t *pos) {
    size_t i = 0;
    while (i < n && m[i] < v)
        i++;
    *pos = i;
    return i < n && m[i] == v;
}

static void
assert_same(const intset_t *is, const int64_t *m, size_t n) {
    cr_assert_eq(intset_len(is), n);
    cr_assert_eq(intset_bytes(is), 8 + (size_t)intset_width(is) * n);
    cr_assert_eq(intset_validate(is, intset_bytes(is)), 0);
    for (size_t i = 0; i < n; i++) {
        int64_t v;
        cr_assert_eq(intset_get(is, (uint32_t)i, &v), 0);
        cr_assert_eq(v, m[i], "member %zu", i);
    }
}

Test(intset, random_operations_match_a_sorted_array) {
    for (int round = 0; round < 4; round++) {
        intset_t *is = intset_new();
        int64_t *m = malloc(sizeof(int64_t) * 5000);
        size_t n = 0;
        for (int op = 0; op < 5000; op++) {
            int64_t v = random_value();
            /* Widths are only allowed to grow once in a while, so each width gets a long run. */
            if (round == 0 && (v > INT16_MAX || v < INT16_MIN))
                v = (int64_t)(int16_t)v;
            size_t pos;
            int in = model_find(m, n, v, &pos);
            int flag = -1;
            if (rng() % 3) {
                cr_assert_eq(intset_add(&is, v, &flag), 0);
                cr_assert_eq(flag, !in);
                if (!in) {
                    memmove(m + pos + 1, m + pos, (n - pos) * sizeof *m);
                    m[pos] = v;
                    n++;
                }
            } else {
                cr_assert_eq(intset_remove(&is, v, &flag), 0);
                cr_assert_eq(flag, in);
                if (in) {
                    memmove(m + pos, m + pos + 1, (n - pos - 1) * sizeof *m);
                    n--;
                }
            }
            cr_assert_eq(intset_find(is, v), model_find(m, n, v, &pos));
            if (op % 50 == 0)
                assert_same(is, m, n);
        }
        assert_same(is, m, n);
        if (round == 0)
            cr_assert_eq(intset_width(is), 2);
        free(m);
        intset_free(is);
    }
}

Test(intset, upgrades_keep_order_and_put_the_new_value_at_the_right_end) {
    intset_t *is = intset_new();
    for (int64_t v = -3; v <= 3; v++)
        cr_assert_eq(intset_add(&is, v, NULL), 0);
    cr_assert_eq(intset_width(is), 2);
    cr_assert_eq(intset_add(&is, 70000, NULL), 0);
    cr_assert_eq(intset_width(is), 4);
    cr_assert_eq(intset_max(is), 70000);
    cr_assert_eq(intset_add(&is, INT64_MIN, NULL), 0);
    cr_assert_eq(intset_width(is), 8);
    cr_assert_eq(intset_min(is), INT64_MIN);
    cr_assert_eq(intset_add(&is, INT64_MAX, NULL), 0);
    int64_t want[] = {INT64_MIN, -3, -2, -1, 0, 1, 2, 3, 70000, INT64_MAX};
    assert_same(is, want, 10);
    /* Removing the wide values does not narrow the set; lookups still work. */
    int removed;
    cr_assert_eq(intset_remove(&is, INT64_MIN, &removed), 0);
    cr_assert(removed);
    cr_assert_eq(intset_width(is), 8);
    cr_assert(intset_find(is, -3));
    cr_assert_not(intset_find(is, INT64_MIN));
    intset_free(is);
}

Test(intset, empty_and_single_member_edges) {
    intset_t *is = intset_new();
    int64_t v;
    int flag;
    cr_assert_eq(intset_len(is), 0);
    cr_assert_eq(intset_get(is, 0, &v), KERR_NOTFOUND);
    cr_assert_not(intset_find(is, 0));
    cr_assert_eq(intset_remove(&is, 5, &flag), 0);
    cr_assert_not(flag);
    /* A value wider than the set cannot be in it and must not be looked up at the wrong width. */
    cr_assert_not(intset_find(is, INT64_MAX));
    cr_assert_eq(intset_add(&is, INT64_MAX, &flag), 0);
    cr_assert(flag);
    cr_assert_eq(intset_add(&is, INT64_MAX, &flag), 0);
    cr_assert_not(flag);
    cr_assert_eq(intset_len(is), 1);
    cr_assert_eq(intset_random(is, 12345), INT64_MAX);
    cr_assert_eq(intset_get(is, 1, &v), KERR_NOTFOUND);
    intset_free(is);
}

Test(intset, random_covers_every_member) {
    intset_t *is = intset_new();
    for (int64_t v = 0; v < 10; v++)
        intset_add(&is, v * 1000, NULL);
    int seen[10] = {0};
    for (int i = 0; i < 200; i++) {
        int64_t v = intset_random(is, rng());
        cr_assert(intset_find(is, v));
        seen[v / 1000] = 1;
    }
    for (int i = 0; i < 10; i++)
        cr_assert(seen[i], "member %d never drawn", i);
    intset_free(is);
}

Test(intset_validate, rejects_bad_width_size_and_order) {
    intset_t *is = intset_new();
    for (int64_t v = 0; v < 5; v++)
        intset_add(&is, v, NULL);
    size_t n = intset_bytes(is);
    uint8_t *b = malloc(n);
    memcpy(b, is, n);
    cr_assert_eq(intset_validate(b, n), 0);
    cr_assert_eq(intset_validate(b, n - 1), KERR_CORRUPT);
    cr_assert_eq(intset_validate(b, n + 2), KERR_CORRUPT);
    cr_assert_eq(intset_validate(b, 4), KERR_CORRUPT);
    cr_assert_eq(intset_validate(NULL, 0), KERR_CORRUPT);
    b[0] = 3; /* width */
    cr_assert_eq(intset_validate(b, n), KERR_CORRUPT);
    b[0] = 2;
    b[4] = 6; /* len */
    cr_assert_eq(intset_validate(b, n), KERR_CORRUPT);
    b[4] = 5;
    memcpy(b + 8 + 2, b + 8, 2); /* duplicate: member 1 := member 0 */
    cr_assert_eq(intset_validate(b, n), KERR_CORRUPT);
    b[8 + 2] = 7; /* out of order: 0, 7, 2 ... */
    cr_assert_eq(intset_validate(b, n), KERR_CORRUPT);
    free(b);
    intset_free(is);
}
