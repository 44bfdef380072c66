/* test_ds_zsl.c - the skiplist against a sorted-array model: ranks, ranges, range deletes. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kerr.h"
#include "zsl.h"

typedef struct {
    double score;
    char m[8];
    size_t len;
} elem_t;

static uint64_t rng_state = 0x0123456789ABCDEFull;
static uint64_t
rng(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static int
elem_cmp(const void *a, const void *b) {
    const elem_t *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? -1 : 1;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->m, y->m, n);
    if (c)
        return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

/* Members from a small alphabet so that prefixes ("a" < "aa" < "ab") and ties are common. */
static void
random_elem(elem_t *e, int same_score) {
    e->len = 1 + rng() % 3;
    for (size_t i = 0; i < e->len; i++)
        e->m[i] = (char)('a' + rng() % 3);
    static const double scores[] = {-INFINITY, -1.5, 0, 0, 1, 2.25, 1e300, INFINITY};
    e->score = same_score ? 0 : scores[rng() % 8];
}

/* The model holds at most one entry per member, as a sorted set does. */
static long
model_find_member(const elem_t *m, size_t n, const elem_t *e) {
    for (size_t i = 0; i < n; i++)
        if (m[i].len == e->len && memcmp(m[i].m, e->m, e->len) == 0)
            return (long)i;
    return -1;
}

static void
assert_same(const zsl_t *z, const elem_t *m, size_t n) {
    cr_assert_eq(zsl_len(z), n);
    size_t i = 0, len;
    for (zsl_node_t *x = zsl_first(z); x; x = zsl_next(x), i++) {
        const uint8_t *s = zsl_node_member(x, &len);
        cr_assert_eq(zsl_node_score(x), m[i].score);
        cr_assert(len == m[i].len && memcmp(s, m[i].m, len) == 0, "member %zu", i);
        uint64_t r;
        cr_assert_eq(zsl_rank(z, m[i].score, m[i].m, m[i].len, &r), 0);
        cr_assert_eq(r, i);
        cr_assert_eq(zsl_by_rank(z, i), x);
    }
    cr_assert_eq(i, n);
    for (zsl_node_t *x = zsl_last(z); x; x = zsl_prev(x))
        i--;
    cr_assert_eq(i, 0);
    cr_assert_null(zsl_by_rank(z, n));
}

static void
apply_random_op(zsl_t *z, elem_t *m, size_t *n, int same_score) {
    elem_t e;
    random_elem(&e, same_score);
    long at = model_find_member(m, *n, &e);
    int op = (int)(rng() % 3);
    if (op == 0 && at < 0) {
        cr_assert_eq(zsl_insert(z, e.score, e.m, e.len, NULL), 0);
        m[(*n)++] = e;
        qsort(m, *n, sizeof *m, elem_cmp);
    } else if (op == 1 && at >= 0) {
        cr_assert_eq(zsl_update_score(z, m[at].score, e.m, e.len, e.score, NULL), 0);
        m[at].score = e.score;
        qsort(m, *n, sizeof *m, elem_cmp);
    } else if (at >= 0) {
        cr_assert_eq(zsl_delete(z, m[at].score, e.m, e.len), 0);
        memmove(m + at, m + at + 1, (*n - (size_t)at - 1) * sizeof *m);
        (*n)--;
    } else {
        cr_assert_eq(zsl_delete(z, e.score, e.m, e.len), KERR_NOTFOUND);
    }
}

Test(zsl, random_operations_match_a_sorted_array) {
    zsl_t *z = zsl_new(42);
    elem_t m[64]; /* 3 + 9 + 27 members at most */
    size_t n = 0;
    for (int op = 0; op < 8000; op++) {
        apply_random_op(z, m, &n, 0);
        if (op % 20 == 0)
            assert_same(z, m, n);
    }
    assert_same(z, m, n);
    zsl_free(z);
}

Test(zsl, insert_refuses_nan_and_duplicates) {
    zsl_t *z = zsl_new(1);
    cr_assert_eq(zsl_insert(z, NAN, "a", 1, NULL), KERR_INVAL);
    cr_assert_eq(zsl_insert(z, 1, "a", 1, NULL), 0);
    cr_assert_eq(zsl_insert(z, 1, "a", 1, NULL), KERR_EXISTS);
    cr_assert_eq(zsl_update_score(z, 1, "a", 1, NAN, NULL), KERR_INVAL);
    cr_assert_eq(zsl_update_score(z, 2, "a", 1, 3, NULL), KERR_NOTFOUND);
    cr_assert_eq(zsl_insert(z, 1, "", 0, NULL), 0); /* the empty member sorts first */
    size_t len;
    zsl_node_member(zsl_first(z), &len);
    cr_assert_eq(len, 0);
    cr_assert_eq(zsl_len(z), 2);
    zsl_free(z);
}

Test(zsl, empty_list_answers_nothing) {
    zsl_t *z = zsl_new(7);
    zsl_range_t all = {-INFINITY, INFINITY, 0, 0};
    zsl_lex_range_t lall = {{ZSL_LEX_NEG_INF, NULL, 0}, {ZSL_LEX_POS_INF, NULL, 0}};
    uint64_t r;
    cr_assert_null(zsl_first(z));
    cr_assert_null(zsl_last(z));
    cr_assert_null(zsl_by_rank(z, 0));
    cr_assert_eq(zsl_rank(z, 0, "a", 1, &r), KERR_NOTFOUND);
    cr_assert_null(zsl_first_in_range(z, &all));
    cr_assert_null(zsl_last_in_range(z, &all));
    cr_assert_null(zsl_first_in_lex_range(z, &lall));
    cr_assert_eq(zsl_delete_range_by_rank(z, 0, 10, NULL, NULL), 0);
    zsl_free(z);
}

/* Model answer for a score range: [lo, hi) indexes of the matching run. */
static void
model_score_range(const elem_t *m, size_t n, const zsl_range_t *r, size_t *lo, size_t *hi) {
    *lo = 0;
    while (*lo < n && !zsl_score_in_range(m[*lo].score, r))
        (*lo)++;
    *hi = *lo;
    while (*hi < n && zsl_score_in_range(m[*hi].score, r))
        (*hi)++;
}

static void
random_score_range(zsl_range_t *r) {
    static const double b[] = {-INFINITY, -2, -1.5, 0, 1, 2.25, 3, 1e300, INFINITY};
    r->min = b[rng() % 9];
    r->max = b[rng() % 9];
    r->minex = (int)(rng() & 1);
    r->maxex = (int)(rng() & 1);
}

typedef struct {
    uint64_t calls;
    double last_score;
} seen_t;

static void
count_cb(void *ctx, const uint8_t *member, size_t len, double score) {
    seen_t *s = ctx;
    (void)member, (void)len;
    s->calls++;
    s->last_score = score;
}

Test(zsl, score_ranges_match_the_model_both_ends_and_exclusive) {
    zsl_t *z = zsl_new(3);
    elem_t m[64];
    size_t n = 0;
    for (int round = 0; round < 3000; round++) {
        apply_random_op(z, m, &n, 0);
        zsl_range_t r;
        random_score_range(&r);
        size_t lo, hi;
        model_score_range(m, n, &r, &lo, &hi);
        zsl_node_t *f = zsl_first_in_range(z, &r), *l = zsl_last_in_range(z, &r);
        if (lo == hi) {
            cr_assert_null(f);
            cr_assert_null(l);
            continue;
        }
        cr_assert_eq(f, zsl_by_rank(z, lo));
        cr_assert_eq(l, zsl_by_rank(z, hi - 1));
        if (round % 10 == 0) { /* a range delete now and then, checked against the model */
            seen_t s = {0};
            cr_assert_eq(zsl_delete_range_by_score(z, &r, count_cb, &s), hi - lo);
            cr_assert_eq(s.calls, hi - lo);
            memmove(m + lo, m + hi, (n - hi) * sizeof *m);
            n -= hi - lo;
            assert_same(z, m, n);
        }
    }
    zsl_free(z);
}

static void
random_lex_bound(zsl_lex_bound_t *b, char *buf) {
    int k = (int)(rng() % 6);
    if (k == 0) {
        b->kind = ZSL_LEX_NEG_INF;
    } else if (k == 1) {
        b->kind = ZSL_LEX_POS_INF;
    } else {
        b->kind = k & 1 ? ZSL_LEX_INCL : ZSL_LEX_EXCL;
        b->len = rng() % 3;
        for (size_t i = 0; i < b->len; i++)
            buf[i] = (char)('a' + rng() % 3);
        b->s = (const uint8_t *)buf;
    }
}

Test(zsl, lex_ranges_match_the_model_with_equal_scores) {
    zsl_t *z = zsl_new(5);
    elem_t m[64];
    size_t n = 0;
    char b1[4], b2[4];
    for (int round = 0; round < 3000; round++) {
        apply_random_op(z, m, &n, 1);
        zsl_lex_range_t r;
        random_lex_bound(&r.min, b1);
        random_lex_bound(&r.max, b2);
        size_t lo = 0, hi;
        while (lo < n && !zsl_member_in_lex_range((uint8_t *)m[lo].m, m[lo].len, &r))
            lo++;
        hi = lo;
        while (hi < n && zsl_member_in_lex_range((uint8_t *)m[hi].m, m[hi].len, &r))
            hi++;
        zsl_node_t *f = zsl_first_in_lex_range(z, &r), *l = zsl_last_in_lex_range(z, &r);
        cr_assert_eq(f, lo == hi ? NULL : zsl_by_rank(z, lo));
        cr_assert_eq(l, lo == hi ? NULL : zsl_by_rank(z, hi - 1));
        if (round % 10 == 0) {
            cr_assert_eq(zsl_delete_range_by_lex(z, &r, NULL, NULL), hi - lo);
            memmove(m + lo, m + hi, (n - hi) * sizeof *m);
            n -= hi - lo;
            assert_same(z, m, n);
        }
    }
    zsl_free(z);
}

Test(zsl, delete_range_by_rank_removes_exactly_those_ranks) {
    zsl_t *z = zsl_new(9);
    elem_t m[100];
    size_t n = 0;
    for (int i = 0; i < 100; i++) {
        m[i].score = i / 3;
        m[i].len = (size_t)snprintf(m[i].m, sizeof m[i].m, "%02d", i);
        cr_assert_eq(zsl_insert(z, m[i].score, m[i].m, m[i].len, NULL), 0);
        n++;
    }
    seen_t s = {0};
    cr_assert_eq(zsl_delete_range_by_rank(z, 10, 19, count_cb, &s), 10);
    cr_assert_eq(s.calls, 10);
    cr_assert_eq(s.last_score, 19 / 3);
    memmove(m + 10, m + 20, 80 * sizeof *m);
    n -= 10;
    assert_same(z, m, n);
    cr_assert_eq(zsl_delete_range_by_rank(z, 85, 200, NULL, NULL), 5); /* runs off the end */
    n -= 5;
    assert_same(z, m, n);
    cr_assert_eq(zsl_delete_range_by_rank(z, 5, 4, NULL, NULL), 0);
    cr_assert_eq(zsl_delete_range_by_rank(z, 0, n - 1, NULL, NULL), n);
    cr_assert_eq(zsl_len(z), 0);
    cr_assert_null(zsl_last(z));
    zsl_free(z);
}

Test(zsl, update_score_in_place_keeps_the_node) {
    zsl_t *z = zsl_new(11);
    zsl_node_t *a, *b, *out;
    zsl_insert(z, 1, "a", 1, &a);
    zsl_insert(z, 10, "b", 1, &b);
    cr_assert_eq(zsl_update_score(z, 1, "a", 1, 5, &out), 0);
    cr_assert_eq(out, a);
    cr_assert_eq(zsl_node_score(a), 5);
    cr_assert_eq(zsl_update_score(z, 5, "a", 1, 20, &out), 0); /* moves past b */
    cr_assert_eq(zsl_first(z), b);
    cr_assert_eq(zsl_last(z), out);
    uint64_t r;
    cr_assert_eq(zsl_rank(z, 20, "a", 1, &r), 0);
    cr_assert_eq(r, 1);
    cr_assert_eq(zsl_rank(z, 5, "a", 1, &r), KERR_NOTFOUND);
    zsl_free(z);
}

Test(zsl, many_nodes_use_several_levels_and_ranks_hold) {
    zsl_t *z = zsl_new(13);
    for (int i = 0; i < 20000; i++) {
        char b[16];
        int len = snprintf(b, sizeof b, "m%d", i);
        cr_assert_eq(zsl_insert(z, (double)(i * 7919 % 20000), b, (size_t)len, NULL), 0);
    }
    for (uint64_t r = 0; r < 20000; r += 997) {
        zsl_node_t *x = zsl_by_rank(z, r);
        cr_assert_eq(zsl_node_score(x), (double)r);
        size_t len;
        const uint8_t *s = zsl_node_member(x, &len);
        uint64_t back;
        cr_assert_eq(zsl_rank(z, (double)r, s, len, &back), 0);
        cr_assert_eq(back, r);
    }
    zsl_free(z);
}

Test(zsl_parse, score_bounds) {
    double v;
    int ex;
    cr_assert_eq(zsl_parse_score_bound("1.5", 3, &v, &ex), 0);
    cr_assert(v == 1.5 && !ex);
    cr_assert_eq(zsl_parse_score_bound("(2", 2, &v, &ex), 0);
    cr_assert(v == 2 && ex);
    cr_assert_eq(zsl_parse_score_bound("-inf", 4, &v, &ex), 0);
    cr_assert(isinf(v) && v < 0);
    cr_assert_eq(zsl_parse_score_bound("+inf", 4, &v, &ex), 0);
    cr_assert(isinf(v) && v > 0);
    cr_assert_eq(zsl_parse_score_bound("nan", 3, &v, &ex), KERR_INVAL);
    cr_assert_eq(zsl_parse_score_bound("1x", 2, &v, &ex), KERR_INVAL);
    cr_assert_eq(zsl_parse_score_bound("(", 1, &v, &ex), KERR_INVAL);
    cr_assert_eq(zsl_parse_score_bound("", 0, &v, &ex), KERR_INVAL);
    cr_assert_eq(zsl_parse_score_bound("1.5abc", 3, &v, &ex), 0); /* only len bytes count */
}

Test(zsl_parse, lex_bounds) {
    zsl_lex_bound_t b;
    cr_assert_eq(zsl_parse_lex_bound("-", 1, &b), 0);
    cr_assert_eq(b.kind, ZSL_LEX_NEG_INF);
    cr_assert_eq(zsl_parse_lex_bound("+", 1, &b), 0);
    cr_assert_eq(b.kind, ZSL_LEX_POS_INF);
    cr_assert_eq(zsl_parse_lex_bound("[ab", 3, &b), 0);
    cr_assert(b.kind == ZSL_LEX_INCL && b.len == 2 && memcmp(b.s, "ab", 2) == 0);
    cr_assert_eq(zsl_parse_lex_bound("(", 1, &b), 0);
    cr_assert(b.kind == ZSL_LEX_EXCL && b.len == 0);
    cr_assert_eq(zsl_parse_lex_bound("ab", 2, &b), KERR_INVAL);
    cr_assert_eq(zsl_parse_lex_bound("-a", 2, &b), KERR_INVAL);
    cr_assert_eq(zsl_parse_lex_bound("", 0, &b), KERR_INVAL);
}
