/* Tests for the packed list's fast paths (bench/types.sh findings): the length-only entry step
 * behind lp_next/lp_find/lp_seek, lp_find with one decode per entry, and lp_dtoa's 15/16/17
 * precision shortcut, each checked against the plain definition it replaces. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lp.h"

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static uint64_t
rng(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* An element of every encoding: small/13-bit/16/24/32/64-bit integers, strings of 0..63,
 * 64..4095 and 4096+ bytes, and integer-looking strings that are not canonical. */
static size_t
random_elem(char *buf, size_t cap) {
    size_t n;
    switch (rng() % 10) {
    case 0: return (size_t)snprintf(buf, cap, "%d", (int)(rng() % 128));
    case 1: return (size_t)snprintf(buf, cap, "%d", (int)(rng() % 8000) - 4000);
    case 2: return (size_t)snprintf(buf, cap, "%d", (int)(rng() % 60000) - 30000);
    case 3: return (size_t)snprintf(buf, cap, "%d", (int)(rng() % 16000000) - 8000000);
    case 4: return (size_t)snprintf(buf, cap, "%lld", (long long)(int32_t)rng());
    case 5: return (size_t)snprintf(buf, cap, "%lld", (long long)(int64_t)rng());
    case 6: return (size_t)snprintf(buf, cap, "0%d", (int)(rng() % 100));
    case 7: n = 64 + rng() % 300; break;
    case 8: n = rng() % 100 == 0 ? 4096 + rng() % 500 : rng() % 8; break;
    default: n = rng() % 64; break;
    }
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)('a' + rng() % 3); /* few letters: many equal prefixes and duplicates */
    return n;
}

typedef struct elem {
    char s[5000];
    size_t n;
} elem_t;

static int
elem_eq(const uint8_t *p, const elem_t *e) {
    char ib[LP_INTBUF_MAX];
    size_t len;
    const uint8_t *s = lp_get_str(p, &len, ib);
    return len == e->n && memcmp(s, e->s, len) == 0;
}

Test(lp_walk, next_prev_and_seek_visit_every_encoding_in_order) {
    static elem_t el[300];
    for (int round = 0; round < 20; round++) {
        uint8_t *lp = lp_new();
        size_t n = 1 + rng() % 300;
        for (size_t i = 0; i < n; i++) {
            el[i].n = random_elem(el[i].s, sizeof el[i].s);
            cr_assert_eq(lp_append(&lp, el[i].s, el[i].n), 0);
        }
        size_t i = 0;
        for (uint8_t *p = lp_first(lp); p; p = lp_next(lp, p), i++)
            cr_assert(elem_eq(p, &el[i]), "entry %zu", i);
        cr_assert_eq(i, n);
        i = n;
        for (uint8_t *p = lp_last(lp); p; p = lp_prev(lp, p))
            cr_assert(elem_eq(p, &el[--i]));
        cr_assert_eq(i, 0);
        for (int k = 0; k < 20; k++) {
            size_t at = rng() % n;
            cr_assert(elem_eq(lp_seek(lp, (long)at), &el[at]));
        }
        lp_free(lp);
    }
}

/* The definition lp_find replaces: compare every (skip+1)-th entry from start. */
static long
find_model(const elem_t *el, size_t n, size_t start, const elem_t *q, unsigned skip) {
    for (size_t i = start; i < n; i += skip + 1)
        if (el[i].n == q->n && memcmp(el[i].s, q->s, q->n) == 0)
            return (long)i;
    return -1;
}

Test(lp_walk, find_with_skip_matches_a_linear_model) {
    static elem_t el[200];
    for (int round = 0; round < 40; round++) {
        uint8_t *lp = lp_new();
        size_t n = 1 + rng() % 200;
        for (size_t i = 0; i < n; i++) {
            el[i].n = random_elem(el[i].s, sizeof el[i].s);
            cr_assert_eq(lp_append(&lp, el[i].s, el[i].n), 0);
        }
        for (int k = 0; k < 50; k++) {
            elem_t q;
            if (rng() % 2)
                q = el[rng() % n];
            else
                q.n = random_elem(q.s, sizeof q.s);
            unsigned skip = (unsigned)(rng() % 3);
            size_t start = rng() % n;
            long want = find_model(el, n, start, &q, skip);
            uint8_t *p = lp_find(lp, lp_seek(lp, (long)start), q.s, q.n, skip);
            if (want < 0) {
                cr_assert_null(p);
            } else {
                cr_assert_eq(p, lp_seek(lp, want), "round %d query %d", round, k);
            }
        }
        lp_free(lp);
    }
}

Test(lp_walk, find_handles_empty_strings_and_the_last_entry) {
    uint8_t *lp = lp_new();
    lp_append(&lp, "x", 1);
    lp_append(&lp, "", 0);
    lp_append(&lp, "7", 1);
    lp_append(&lp, "", 0);
    cr_assert_eq(lp_find(lp, lp_first(lp), "", 0, 0), lp_seek(lp, 1));
    cr_assert_eq(lp_find(lp, lp_first(lp), "", 0, 1), NULL); /* only entries 0 and 2 */
    cr_assert_eq(lp_find(lp, lp_first(lp), "7", 1, 1), lp_seek(lp, 2));
    cr_assert_eq(lp_find(lp, lp_seek(lp, 1), "", 0, 1), lp_seek(lp, 1));
    cr_assert_eq(lp_find(lp, lp_seek(lp, 3), "", 0, 5), lp_seek(lp, 3));
    lp_free(lp);
}

/* The definition lp_dtoa must keep: the smallest precision whose text reads back exactly. */
static void
dtoa_model(double d, char *buf) {
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, LP_DBLBUF_MAX, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            return;
    }
}

static void
check_dtoa(double d) {
    if (isnan(d) || isinf(d))
        return;
    char got[LP_DBLBUF_MAX], want[LP_DBLBUF_MAX];
    size_t n = lp_dtoa(d, got);
    dtoa_model(d, want);
    cr_assert_str_eq(got, want, "%.17g", d);
    cr_assert_eq(n, strlen(got));
}

Test(lp_walk, dtoa_text_equals_the_full_shortest_search) {
    for (int i = 0; i < 20000; i++) {
        uint64_t u = rng();
        double d;
        memcpy(&d, &u, sizeof d);
        check_dtoa(d);                                         /* any bit pattern */
        check_dtoa((double)(int64_t)(rng() % 2000001) / 1000); /* short decimals: 12.345 */
        check_dtoa((double)(rng() % 100000) * 1e3);            /* whole, trailing zeros */
        check_dtoa(ldexp((double)(rng() % 1000), -1074 + (int)(rng() % 60))); /* subnormal */
        check_dtoa(ldexp(1.0, (int)(rng() % 2046) - 1022));                   /* powers of two */
        check_dtoa(nextafter((double)(rng() % 1000) / 10, INFINITY));
    }
    check_dtoa(DBL_MIN);
    check_dtoa(DBL_MAX);
    check_dtoa(5e-324);
    check_dtoa(1e15);
    check_dtoa(1e15 + 0.5);
    check_dtoa(-0.0);
    check_dtoa(0.1 + 0.2);
}
