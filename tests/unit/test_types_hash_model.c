/* test_hash_model.c - the hash type against a model: random changes, conversions at the limits,
 * and the snapshot element access (each -> create/add) round trip. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "kerr.h"
#include "kmem.h"
#include "object.h"
#include "lp.h"
#include "t_hash.h"

#define FIELDS 64

/* The model: value per field index, NULL when absent. */
static char model[FIELDS][128];
static bool present[FIELDS];

static void
check_model(const thash_t *h) {
    size_t n = 0;
    for (int i = 0; i < FIELDS; i++) {
        char f[16];
        snprintf(f, sizeof f, "f%d", i);
        hval_t v;
        int got = hash_get(h, f, strlen(f), &v);
        cr_assert_eq(got, present[i], "field %s", f);
        if (got) {
            char buf[LP_INTBUF_MAX];
            size_t vn;
            const char *p = hval_bytes(&v, buf, &vn);
            cr_assert_eq(vn, strlen(model[i]));
            cr_assert(memcmp(p, model[i], vn) == 0);
            n++;
        }
    }
    cr_assert_eq(hash_len(h), n);
    hash_iter_t it;
    hpair_t pr;
    size_t walked = 0;
    hash_iter_init(&it, h);
    while (hash_iter_next(&it, &pr))
        walked++;
    hash_iter_done(&it);
    cr_assert_eq(walked, n);
}

Test(hash_model, random_changes_agree_with_the_model_across_conversion) {
    hash_limits_t lim = {8, 16};
    thash_t h = hash_new();
    memset(present, 0, sizeof present);
    unsigned seed = 1;
    bool saw_ht = false;
    for (int step = 0; step < 4000; step++) {
        seed = seed * 1103515245 + 12345;
        int i = (int)((seed >> 16) % (step < 2000 ? 10 : FIELDS));
        char f[16];
        snprintf(f, sizeof f, "f%d", i);
        if ((seed >> 8) % 3 == 0) {
            cr_assert_eq(hash_delete(&h, f, strlen(f)), present[i]);
            present[i] = false;
        } else {
            char v[128];
            int len = (seed >> 4) % 2 ? snprintf(v, sizeof v, "%d", (int)(seed % 2000) - 1000)
                                      : snprintf(v, sizeof v, "%.*s", (int)(seed % 20),
                                                 "abcdefghijklmnopqrstuvwxyz");
            int enc_before = h.enc;
            size_t len_before = hash_len(&h);
            int rc = hash_set(&h, f, strlen(f), v, (size_t)len, &lim);
            cr_assert_eq(rc, !present[i]);
            present[i] = true;
            memcpy(model[i], v, (size_t)len + 1);
            /* Packed list exactly while within both limits. */
            if (enc_before == OBJ_ENC_LISTPACK && len_before + rc <= lim.entries_max &&
                (size_t)len <= lim.value_max)
                cr_assert_eq(h.enc, OBJ_ENC_LISTPACK, "step %d", step);
            if (h.enc == OBJ_ENC_LISTPACK)
                cr_assert_leq(hash_len(&h), lim.entries_max);
        }
        saw_ht |= h.enc == OBJ_ENC_HT;
        if (step % 97 == 0)
            check_model(&h);
    }
    check_model(&h);
    cr_assert(saw_ht);
    hash_release(&h);
}

Test(hash_model, converts_at_exactly_the_configured_limits) {
    hash_limits_t lim = {4, 5};
    thash_t h = hash_new();
    for (int i = 0; i < 4; i++) {
        char f[8];
        snprintf(f, sizeof f, "k%d", i);
        hash_set(&h, f, strlen(f), "12345", 5, &lim);
    }
    cr_assert_eq(h.enc, OBJ_ENC_LISTPACK);
    hash_set(&h, "k4", 2, "x", 1, &lim);
    cr_assert_eq(h.enc, OBJ_ENC_HT);
    hash_release(&h);

    h = hash_new();
    hash_set(&h, "a", 1, "12345", 5, &lim);
    cr_assert_eq(h.enc, OBJ_ENC_LISTPACK);
    hash_set(&h, "a", 1, "123456", 6, &lim);
    cr_assert_eq(h.enc, OBJ_ENC_HT);
    hval_t v;
    cr_assert(hash_get(&h, "a", 1, &v) && v.n == 6 && memcmp(v.p, "123456", 6) == 0);
    hash_release(&h);

    karg_t args[10];
    for (int i = 0; i < 10; i++)
        args[i] = (karg_t){"x", 1};
    h = hash_new();
    hash_prepare(&h, args, 8, &lim);
    cr_assert_eq(h.enc, OBJ_ENC_LISTPACK); /* 4 pairs fit */
    hash_prepare(&h, args, 10, &lim);
    cr_assert_eq(h.enc, OBJ_ENC_HT);
    hash_release(&h);
}

typedef struct capture {
    char buf[1 << 16];
    size_t off[512], n, used;
} capture_t;

static void
capture_cb(void *ctx, const char *p, size_t n, double score) {
    capture_t *c = ctx;
    (void)score;
    memcpy(c->buf + c->used, p, n);
    c->off[c->n++] = c->used;
    c->used += n;
    c->off[c->n] = c->used;
}

static void
round_trip(int nfields) {
    hash_type_init(NULL, NULL); /* defaults: 128 entries, 64 bytes */
    const obj_type_ops_t *ops = obj_ops(OBJ_HASH);
    cr_assert(ops && ops->count && ops->each && ops->create && ops->add);
    hash_limits_t lim = {128, 64};
    thash_t h = hash_new();
    for (int i = 0; i < nfields; i++) {
        char f[16], v[16];
        snprintf(f, sizeof f, "field%d", i);
        snprintf(v, sizeof v, i % 2 ? "%d" : "v%d", i);
        hash_set(&h, f, strlen(f), v, strlen(v), &lim);
    }
    cr_assert_eq(ops->count(h.p, h.enc), 2u * (uint64_t)nfields);
    static capture_t cap;
    cap.n = cap.used = 0;
    ops->each(h.p, h.enc, capture_cb, &cap);
    cr_assert_eq(cap.n, 2u * (size_t)nfields);
    int enc;
    void *p = ops->create(cap.n, &enc);
    cr_assert_eq(enc, nfields > 128 ? OBJ_ENC_HT : OBJ_ENC_LISTPACK);
    for (size_t i = 0; i < cap.n; i++)
        cr_assert_eq(ops->add(&p, &enc, cap.buf + cap.off[i], cap.off[i + 1] - cap.off[i], 0), 0);
    thash_t back = {p, enc};
    cr_assert_eq(hash_len(&back), (uint64_t)nfields);
    cr_assert_eq(back.enc, h.enc);
    for (size_t i = 0; i < cap.n; i += 2) {
        hval_t v;
        char buf[LP_INTBUF_MAX];
        size_t vn;
        cr_assert(hash_get(&back, cap.buf + cap.off[i], cap.off[i + 1] - cap.off[i], &v));
        const char *vp = hval_bytes(&v, buf, &vn);
        cr_assert_eq(vn, cap.off[i + 2] - cap.off[i + 1]);
        cr_assert(memcmp(vp, cap.buf + cap.off[i + 1], vn) == 0);
    }
    /* A repeated field is refused as corrupt input. */
    cr_assert_lt(ops->add(&p, &enc, cap.buf, cap.off[1], 0), 0);
    ops->free(p, enc);
    hash_release(&h);
}

Test(hash_model, snapshot_access_round_trips_a_packed_list) {
    round_trip(20);
}

Test(hash_model, snapshot_access_round_trips_a_table) {
    round_trip(200);
}

Test(hash_model, dup_is_deep) {
    hash_limits_t lim = {2, 64};
    thash_t h = hash_new();
    hash_set(&h, "a", 1, "1", 1, &lim);
    hash_set(&h, "b", 1, "2", 1, &lim);
    hash_set(&h, "c", 1, "3", 1, &lim);
    cr_assert_eq(h.enc, OBJ_ENC_HT);
    thash_t d = hash_dup(&h);
    hash_delete(&h, "a", 1);
    cr_assert_eq(hash_len(&d), 3);
    cr_assert(hash_exists(&d, "a", 1));
    hash_release(&h);
    hash_release(&d);
}

/* A copy (COPY, the snapshot's dup) of a packed-list hash is accounted like any allocation, so
 * freeing it gives back exactly what it took: used_memory must not drift. */
Test(hash_model, a_copy_of_a_packed_hash_is_accounted_when_made_and_freed) {
    hash_limits_t lim = {128, 64};
    thash_t h = hash_new();
    hash_set(&h, "f", 1, "v", 1, &lim);
    cr_assert_eq(h.enc, OBJ_ENC_LISTPACK);
    size_t before = kmem_used();
    thash_t d = hash_dup(&h);
    cr_assert_gt(kmem_used(), before, "the copy is not accounted");
    hash_release(&d);
    cr_assert_eq(kmem_used(), before, "used_memory drifted");
    hash_release(&h);
}
