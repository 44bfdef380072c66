/* test_types_hash_ttl.c - field expiries in the hash type (OBJ_ENC_HASH_TTL): random changes
 * against a model with a moving clock (values, expiries, the volatile count, the lower bound of
 * the earliest expiry, what hash_expire_fields removes), conversions from both other encodings,
 * HSET clearing an expiry and HINCRBY-style keep, copies, the bounded removal, and loading. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "kerr.h"
#include "kmem.h"
#include "lp.h"
#include "object.h"
#include "t_hash.h"

#define FIELDS 48

static struct {
    bool present;
    char v[32];
    int64_t ms; /* HASH_NO_TTL: none */
} model[FIELDS];

static void
fname(int i, char *f, size_t n) {
    snprintf(f, n, "f%d", i);
}

static int
field_index(const char *f, size_t fn) {
    char buf[16];
    cr_assert(fn < sizeof buf);
    memcpy(buf, f, fn);
    buf[fn] = 0;
    return atoi(buf + 1);
}

static void
check_model(const thash_t *h) {
    uint64_t n = 0, nvol = 0;
    int64_t next = INT64_MAX;
    for (int i = 0; i < FIELDS; i++) {
        char f[16];
        fname(i, f, sizeof f);
        int64_t ms;
        cr_assert_eq(hash_get_expire(h, f, strlen(f), &ms), model[i].present, "field %s", f);
        if (!model[i].present)
            continue;
        n++;
        cr_assert_eq(ms, model[i].ms, "expiry of %s", f);
        hval_t v;
        cr_assert_eq(hash_get(h, f, strlen(f), &v), 1);
        char buf[LP_INTBUF_MAX];
        size_t vn;
        const char *p = hval_bytes(&v, buf, &vn);
        cr_assert(vn == strlen(model[i].v) && memcmp(p, model[i].v, vn) == 0, "value of %s", f);
        if (ms != HASH_NO_TTL) {
            nvol++;
            next = ms < next ? ms : next;
        }
    }
    cr_assert_eq(hash_len(h), n);
    cr_assert_eq(hash_volatile_count(h), nvol);
    cr_assert_eq(hash_next_expire(h), next, "the earliest expiry, exactly");
    hash_iter_t it;
    hpair_t pr;
    int64_t ms;
    uint64_t walked = 0;
    hash_iter_init(&it, h);
    while (hash_iter_next_ttl(&it, &pr, &ms)) {
        char buf[LP_INTBUF_MAX];
        size_t fn;
        const char *f = hval_bytes(&pr.f, buf, &fn);
        cr_assert_eq(ms, model[field_index(f, fn)].ms);
        walked++;
    }
    hash_iter_done(&it);
    cr_assert_eq(walked, n);
}

static void
expired_cb(void *ctx, const char *f, size_t fn) {
    int64_t now = *(int64_t *)ctx;
    int i = field_index(f, fn);
    cr_assert(model[i].present && model[i].ms != HASH_NO_TTL && model[i].ms <= now,
              "only due fields are removed (%d)", i);
    model[i].present = false;
}

Test(hash_ttl, random_changes_agree_with_the_model_with_a_moving_clock) {
    hash_limits_t lim = {8, 16};
    thash_t h = hash_new();
    memset(model, 0, sizeof model);
    unsigned seed = 7;
    int64_t now = 1000;
    bool saw_ttl_enc = false;
    for (int step = 0; step < 6000; step++) {
        seed = seed * 1103515245 + 12345;
        int i = (int)((seed >> 16) % FIELDS), op = (int)((seed >> 8) % 7);
        char f[16];
        fname(i, f, sizeof f);
        size_t fn = strlen(f);
        int64_t when = now + (int64_t)((seed >> 4) % 50);
        if (op == 0) { /* HSET: clears the expiry */
            snprintf(model[i].v, sizeof model[i].v, "v%d", step);
            cr_assert_eq(hash_set(&h, f, fn, model[i].v, strlen(model[i].v), &lim),
                         !model[i].present);
            model[i].present = true;
            model[i].ms = HASH_NO_TTL;
        } else if (op == 1) { /* HINCRBY-style: value changes, expiry stays */
            snprintf(model[i].v, sizeof model[i].v, "%d", step);
            cr_assert_eq(hash_set_ex(&h, f, fn, model[i].v, strlen(model[i].v), HASH_NO_TTL, true,
                                     &lim),
                         !model[i].present);
            if (!model[i].present)
                model[i].ms = HASH_NO_TTL;
            model[i].present = true;
        } else if (op == 2) { /* HSETEX PXAT */
            snprintf(model[i].v, sizeof model[i].v, "x%d", step);
            hash_set_ex(&h, f, fn, model[i].v, strlen(model[i].v), when, false, &lim);
            model[i].present = true;
            model[i].ms = when;
        } else if (op == 3) { /* HPEXPIREAT */
            cr_assert_eq(hash_set_expire(&h, f, fn, when), model[i].present);
            if (model[i].present)
                model[i].ms = when;
        } else if (op == 4) { /* HPERSIST */
            cr_assert_eq(hash_set_expire(&h, f, fn, HASH_NO_TTL), model[i].present);
            if (model[i].present)
                model[i].ms = HASH_NO_TTL;
        } else if (op == 5) {
            cr_assert_eq(hash_delete(&h, f, fn), model[i].present);
            model[i].present = false;
        } else { /* the clock moves; due fields go */
            now += (int64_t)((seed >> 3) % 20);
            size_t before = hash_len(&h);
            size_t n = hash_expire_fields(&h, now, SIZE_MAX, expired_cb, &now);
            cr_assert_eq(hash_len(&h), before - n);
            for (int j = 0; j < FIELDS; j++)
                cr_assert(!model[j].present || model[j].ms == HASH_NO_TTL || model[j].ms > now,
                          "field %d was due at %lld, now %lld", j, (long long)model[j].ms,
                          (long long)now);
            cr_assert_gt(hash_next_expire(&h), now, "nothing due is left");
        }
        saw_ttl_enc |= h.enc == OBJ_ENC_HASH_TTL;
        check_model(&h);
    }
    cr_assert(saw_ttl_enc);
    thash_t copy = hash_dup(&h);
    check_model(&copy);
    hash_release(&copy);
    hash_release(&h);
}

Test(hash_ttl, first_expiry_converts_a_packed_list_and_a_table_keeping_every_field) {
    hash_limits_t lim = {4, 64};
    for (int big = 0; big < 2; big++) {
        thash_t h = hash_new();
        int n = big ? 10 : 3;
        for (int i = 0; i < n; i++) {
            char f[16], v[16];
            fname(i, f, sizeof f);
            snprintf(v, sizeof v, "%d", i * 1000); /* stored as integers in a packed list */
            hash_set(&h, f, strlen(f), v, strlen(v), &lim);
        }
        cr_assert_eq(h.enc, big ? OBJ_ENC_HT : OBJ_ENC_LISTPACK);
        cr_assert_eq(hash_volatile_count(&h), 0);
        cr_assert_eq(hash_next_expire(&h), INT64_MAX);
        cr_assert_eq(hash_set_expire(&h, "nope", 4, 5), 0, "an absent field is not converted");
        cr_assert_eq(h.enc, big ? OBJ_ENC_HT : OBJ_ENC_LISTPACK);
        cr_assert_eq(hash_set_expire(&h, "f1", 2, 5000), 1);
        cr_assert_eq(h.enc, OBJ_ENC_HASH_TTL);
        cr_assert_eq(hash_len(&h), (uint64_t)n);
        for (int i = 0; i < n; i++) {
            char f[16], v[16];
            fname(i, f, sizeof f);
            snprintf(v, sizeof v, "%d", i * 1000);
            hval_t got;
            cr_assert_eq(hash_get(&h, f, strlen(f), &got), 1);
            cr_assert(got.p && got.n == strlen(v) && memcmp(got.p, v, got.n) == 0);
            int64_t ms;
            hash_get_expire(&h, f, strlen(f), &ms);
            cr_assert_eq(ms, i == 1 ? 5000 : HASH_NO_TTL);
        }
        cr_assert_eq(hash_volatile_count(&h), 1);
        cr_assert_eq(hash_next_expire(&h), 5000);
        cr_assert_eq(hash_expire_fields(&h, 4999, SIZE_MAX, NULL, NULL), 0, "not yet due");
        cr_assert_eq(hash_expire_fields(&h, 5000, SIZE_MAX, NULL, NULL), 1, "due at its time");
        cr_assert_eq(hash_exists(&h, "f1", 2), false);
        cr_assert_eq(hash_volatile_count(&h), 0);
        cr_assert_eq(hash_next_expire(&h), INT64_MAX);
        hash_release(&h);
    }
}

Test(hash_ttl, removal_is_bounded_and_the_rest_stays_due) {
    thash_t h = hash_new_ttl(0);
    for (int i = 0; i < 100; i++) {
        char f[16];
        fname(i, f, sizeof f);
        cr_assert_eq(hash_load_ttl_add(&h, f, strlen(f), "v", 1, i < 60 ? 10 : HASH_NO_TTL), 0);
    }
    cr_assert_eq(hash_load_ttl_add(&h, "f3", 2, "v", 1, 10), KERR_CORRUPT, "duplicate field");
    cr_assert_eq(hash_load_ttl_add(&h, "g", 1, "v", 1, -5), KERR_CORRUPT, "bad expiry");
    cr_assert_eq(hash_volatile_count(&h), 60);
    cr_assert_eq(hash_expire_fields(&h, 100, 25, NULL, NULL), 25);
    cr_assert_eq(hash_next_expire(&h), 10, "the fields left due keep it due");
    cr_assert_eq(hash_expire_fields(&h, 100, 25, NULL, NULL), 25);
    cr_assert_eq(hash_expire_fields(&h, 100, 25, NULL, NULL), 10);
    cr_assert_eq(hash_len(&h), 40);
    cr_assert_eq(hash_volatile_count(&h), 0);
    cr_assert_eq(hash_expire_fields(&h, 100, 25, NULL, NULL), 0);
    hash_release(&h);
}

Test(hash_ttl, a_hash_without_expiries_keeps_its_layout) {
    hash_limits_t lim = {128, 64};
    thash_t h = hash_new();
    hash_set(&h, "a", 1, "1", 1, &lim);
    /* Writing with no expiry (HSET, HINCRBY keep) never converts. */
    hash_set_ex(&h, "a", 1, "2", 1, HASH_NO_TTL, true, &lim);
    hash_set_ex(&h, "b", 1, "3", 1, HASH_NO_TTL, false, &lim);
    cr_assert_eq(hash_set_expire(&h, "a", 1, HASH_NO_TTL), 1, "persisting needs no conversion");
    cr_assert_eq(h.enc, OBJ_ENC_LISTPACK);
    int64_t ms;
    cr_assert_eq(hash_get_expire(&h, "b", 1, &ms), 1);
    cr_assert_eq(ms, HASH_NO_TTL);
    hash_release(&h);
}

Test(hash_ttl, the_heap_shrinks_as_fields_go_and_stays_ordered) {
    hash_type_init(NULL, NULL);
    const obj_type_ops_t *ops = obj_ops(OBJ_HASH);
    thash_t h = hash_new_ttl(0);
    for (int i = 0; i < 4000; i++) {
        char f[16];
        fname(i, f, sizeof f);
        /* expiries in a shuffled order: i * 7919 mod 4001 is a permutation of 1..4000 */
        int64_t ms = 1000 + (int64_t)((i + 1) * 7919 % 4001);
        cr_assert_eq(hash_load_ttl_add(&h, f, strlen(f), "v", 1, ms), 0);
    }
    size_t big = ops->mem(h.p, h.enc);
    cr_assert_eq(hash_expire_fields(&h, 1000 + 3990, SIZE_MAX, NULL, NULL), 3990);
    cr_assert_lt(ops->mem(h.p, h.enc), big, "the heap's slots are given back");
    for (int64_t t = 1000 + 3991; t <= 1000 + 4000; t++) {
        cr_assert_eq(hash_next_expire(&h), t, "earliest first");
        cr_assert_eq(hash_expire_fields(&h, t, SIZE_MAX, NULL, NULL), 1);
    }
    cr_assert_eq(hash_len(&h), 0);
    cr_assert_eq(hash_next_expire(&h), INT64_MAX);
    hash_release(&h);
}
