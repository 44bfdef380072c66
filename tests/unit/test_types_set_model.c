/* test_set_model.c - the set type against a model: random changes across intset -> packed list
 * -> table, the conversion rules at the limits, and the snapshot element access round trip. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "kmem.h"
#include "object.h"
#include "lp.h"
#include "t_set.h"

#define MEMBERS 80

static bool present[MEMBERS];

/* Member i: integers for even i, strings for odd i. */
static size_t
member(int i, char *buf) {
    return (size_t)(i % 2 ? snprintf(buf, 24, "m%d", i) : snprintf(buf, 24, "%d", i * 1000 - 7));
}

static void
check_model(const tset_t *s) {
    size_t n = 0;
    for (int i = 0; i < MEMBERS; i++) {
        char m[24];
        size_t len = member(i, m);
        cr_assert_eq(set_contains(s, m, len), present[i], "member %s", m);
        n += present[i];
    }
    cr_assert_eq(set_len(s), n);
    set_iter_t it;
    sval_t v;
    size_t walked = 0;
    set_iter_init(&it, s);
    while (set_iter_next(&it, &v))
        walked++;
    set_iter_done(&it);
    cr_assert_eq(walked, n);
}

Test(set_model, random_changes_agree_with_the_model_across_encodings) {
    set_limits_t lim = {6, 12, 16};
    memset(present, 0, sizeof present);
    tset_t s = set_new("1", 1, 1, &lim);
    cr_assert_eq(s.enc, OBJ_ENC_INTSET);
    unsigned seed = 7;
    int seen = 0;
    for (int step = 0; step < 4000; step++) {
        seed = seed * 1103515245 + 12345;
        /* Integers only at first, then everything. */
        int i = (int)((seed >> 16) % (step < 300 ? 10 : MEMBERS));
        if (step < 300)
            i &= ~1;
        char m[24];
        size_t len = member(i, m);
        if ((seed >> 8) % 3 == 0) {
            cr_assert_eq(set_remove(&s, m, len), present[i]);
            present[i] = false;
        } else {
            cr_assert_eq(set_add(&s, m, len, &lim), !present[i]);
            present[i] = true;
        }
        if (s.enc == OBJ_ENC_INTSET)
            cr_assert_leq(set_len(&s), lim.intset_max);
        if (s.enc == OBJ_ENC_LISTPACK)
            cr_assert_leq(set_len(&s), lim.lp_entries_max);
        seen |= 1 << s.enc;
        if (step % 89 == 0)
            check_model(&s);
    }
    check_model(&s);
    cr_assert(seen & (1 << OBJ_ENC_HT));
    set_release(&s);
}

Test(set_model, conversion_rules_at_the_limits) {
    set_limits_t lim = {3, 5, 4};
    tset_t s = set_new("1", 1, 1, &lim);
    set_add(&s, "1", 1, &lim);
    set_add(&s, "2", 1, &lim);
    set_add(&s, "3", 1, &lim);
    cr_assert_eq(s.enc, OBJ_ENC_INTSET);
    set_add(&s, "abcd", 4, &lim); /* fits the packed list limits */
    cr_assert_eq(s.enc, OBJ_ENC_LISTPACK);
    set_add(&s, "e", 1, &lim);
    cr_assert_eq(s.enc, OBJ_ENC_LISTPACK);
    set_add(&s, "f", 1, &lim); /* sixth member */
    cr_assert_eq(s.enc, OBJ_ENC_HT);
    cr_assert_eq(set_len(&s), 6);
    set_release(&s);

    s = set_new("1", 1, 1, &lim);
    for (int i = 0; i < 4; i++) {
        char b[8];
        set_add(&s, b, (size_t)snprintf(b, sizeof b, "%d", i), &lim);
    }
    cr_assert_eq(s.enc, OBJ_ENC_HT); /* an intset past its limit goes straight to a table */
    set_release(&s);

    s = set_new("1", 1, 1, &lim);
    set_add(&s, "12345", 5, &lim); /* wider than lp_value_max as text */
    set_add(&s, "a", 1, &lim);
    cr_assert_eq(s.enc, OBJ_ENC_HT);
    set_release(&s);

    s = set_new("a", 1, 1, &lim);
    cr_assert_eq(s.enc, OBJ_ENC_LISTPACK);
    set_add(&s, "abcde", 5, &lim);
    cr_assert_eq(s.enc, OBJ_ENC_HT);
    set_release(&s);

    s = set_new("1", 1, 10, &lim); /* a hint past both limits picks a table */
    cr_assert_eq(s.enc, OBJ_ENC_HT);
    set_release(&s);
    s = set_new("1", 1, 2, &lim);
    set_prepare(&s, 4, &lim);
    cr_assert_eq(s.enc, OBJ_ENC_HT);
    set_release(&s);
}

typedef struct capture {
    char buf[1 << 16];
    size_t off[2048], n, used;
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
round_trip(int n, bool ints) {
    set_type_init(NULL, NULL, NULL);
    const obj_type_ops_t *ops = obj_ops(OBJ_SET);
    cr_assert(ops && ops->count && ops->each && ops->create && ops->add);
    set_limits_t lim = {512, 128, 64};
    tset_t s = set_new(ints ? "1" : "a", 1, 1, &lim);
    for (int i = 0; i < n; i++) {
        char m[24];
        set_add(&s, m, (size_t)snprintf(m, sizeof m, ints ? "%d" : "x%d", i * 3), &lim);
    }
    static capture_t cap;
    cap.n = cap.used = 0;
    cr_assert_eq(ops->count(s.p, s.enc), (uint64_t)n);
    ops->each(s.p, s.enc, capture_cb, &cap);
    int enc;
    void *p = ops->create(cap.n, &enc);
    for (size_t i = 0; i < cap.n; i++)
        cr_assert_eq(ops->add(&p, &enc, cap.buf + cap.off[i], cap.off[i + 1] - cap.off[i], 0), 0);
    tset_t back = {p, enc};
    cr_assert_eq(back.enc, s.enc);
    cr_assert_eq(set_len(&back), (uint64_t)n);
    for (size_t i = 0; i < cap.n; i++)
        cr_assert(set_contains(&s, cap.buf + cap.off[i], cap.off[i + 1] - cap.off[i]));
    cr_assert_lt(ops->add(&p, &enc, cap.buf, cap.off[1], 0), 0); /* duplicate */
    ops->free(p, enc);
    set_release(&s);
}

Test(set_model, snapshot_access_round_trips_every_encoding) {
    round_trip(100, true);   /* intset */
    round_trip(100, false);  /* packed list */
    round_trip(1000, false); /* table */
    round_trip(1000, true);  /* table of integers */
}

/* A copy (COPY, the snapshot's dup) of a compact set is accounted like any allocation, so
 * freeing it gives back exactly what it took: used_memory must not drift. */
Test(set_model, a_copy_of_a_compact_set_is_accounted_when_made_and_freed) {
    set_type_init(NULL, NULL, NULL);
    set_limits_t lim = {6, 12, 16};
    tset_t ints = set_new("1", 1, 1, &lim); /* intset */
    set_add(&ints, "2", 1, &lim);
    tset_t strs = set_new("a", 1, 1, &lim); /* packed list */
    set_add(&strs, "b", 1, &lim);
    const obj_type_ops_t *ops = obj_ops(OBJ_SET);
    tset_t *cases[] = {&ints, &strs};
    for (int i = 0; i < 2; i++) {
        size_t before = kmem_used();
        void *copy = ops->dup(cases[i]->p, cases[i]->enc);
        cr_assert_gt(kmem_used(), before, "case %d: the copy is not accounted", i);
        ops->free(copy, cases[i]->enc);
        cr_assert_eq(kmem_used(), before, "case %d: used_memory drifted", i);
    }
    ops->free(ints.p, ints.enc);
    ops->free(strs.p, strs.enc);
}

/* The tier's value encoding of a collection (object.h): a set goes out as bytes and comes back
 * with the same members; damaged bytes (cut short, a length past the end, trailing bytes) are
 * refused, never half-decoded. */
Test(set_model, tier_value_encoding_round_trips_and_refuses_damage) {
    set_type_init(NULL, NULL, NULL);
    set_limits_t lim = {512, 128, 64};
    tset_t s = set_new("m0", 2, 1, &lim); /* the first member chooses the encoding only */
    set_add(&s, "m0", 2, &lim);
    for (int i = 1; i < 300; i++) {
        char m[24];
        set_add(&s, m, (size_t)snprintf(m, sizeof m, "member-%d", i), &lim);
    }
    kobj_t *o = obj_new_ptr(OBJ_SET, s.enc, "k", 1, s.p, -1);
    sbuf_t b = {0};
    obj_encode_value(o, &b);
    uint64_t count;
    cr_assert_eq(obj_value_each(OBJ_SET, b.p, b.len, &count, NULL, NULL), 0);
    cr_assert_eq(count, 300);
    void *p;
    int enc;
    cr_assert_eq(obj_decode_value(OBJ_SET, b.p, b.len, &p, &enc), 0);
    tset_t back = {p, enc};
    cr_assert_eq(set_len(&back), 300);
    cr_assert(set_contains(&back, "m0", 2) && set_contains(&back, "member-299", 10));
    set_release(&back);
    cr_assert_lt(obj_value_each(OBJ_SET, b.p, b.len - 1, &count, NULL, NULL), 0);
    cr_assert_lt(obj_decode_value(OBJ_SET, b.p, b.len - 3, &p, &enc), 0);
    sbuf_append(&b, "x", 1);
    cr_assert_lt(obj_value_each(OBJ_SET, b.p, b.len, &count, NULL, NULL), 0);
    char big[] = {1, (char)0xff, 0x7f}; /* one element of 16383 bytes in 3 bytes */
    cr_assert_lt(obj_value_each(OBJ_SET, big, sizeof big, &count, NULL, NULL), 0);
    sbuf_free(&b);
    obj_free(o);
}
