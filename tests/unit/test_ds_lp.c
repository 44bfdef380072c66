/* test_ds_lp.c - the packed list against an array model, its encodings, edges and validation. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kerr.h"
#include "lp.h"

/* ---- the reference model: an array of owned byte strings ---- */

typedef struct {
    char *s;
    size_t len;
} item_t;

typedef struct {
    item_t *v;
    size_t n, cap;
} model_t;

static void
model_insert(model_t *m, size_t at, const char *s, size_t len) {
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 16;
        m->v = realloc(m->v, m->cap * sizeof *m->v);
    }
    memmove(m->v + at + 1, m->v + at, (m->n - at) * sizeof *m->v);
    m->v[at].s = malloc(len + 1);
    memcpy(m->v[at].s, s, len);
    m->v[at].len = len;
    m->n++;
}

static void
model_delete(model_t *m, size_t at, size_t num) {
    for (size_t i = at; i < at + num; i++)
        free(m->v[i].s);
    memmove(m->v + at, m->v + at + num, (m->n - at - num) * sizeof *m->v);
    m->n -= num;
}

static void
model_free(model_t *m) {
    model_delete(m, 0, m->n);
    free(m->v);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t
rng(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* A value that exercises every encoding: small and wide integers, non-canonical integer text,
 * short, medium (12-bit length) and long (32-bit length) strings. */
static size_t
random_value(char *buf, size_t cap) {
    static const char *tricky[] = {"01",
                                   "-0",
                                   " 1",
                                   "1 ",
                                   "+1",
                                   "",
                                   "-",
                                   "9223372036854775808",
                                   "-9223372036854775809",
                                   "9223372036854775807",
                                   "-9223372036854775808",
                                   "0",
                                   "00",
                                   "1e3",
                                   "0x10"};
    switch (rng() % 8) {
    case 0: return (size_t)snprintf(buf, cap, "%d", (int)(rng() % 300) - 150);
    case 1: return (size_t)snprintf(buf, cap, "%lld", (long long)(int64_t)rng());
    case 2: return (size_t)snprintf(buf, cap, "%lld", (long long)((int64_t)rng() >> (rng() % 60)));
    case 3: {
        const char *t = tricky[rng() % (sizeof tricky / sizeof *tricky)];
        return (size_t)snprintf(buf, cap, "%s", t);
    }
    case 4:
    case 5: {
        size_t len = rng() % 70;
        for (size_t i = 0; i < len; i++)
            buf[i] = (char)('a' + rng() % 26);
        return len;
    }
    case 6: {
        size_t len = 60 + rng() % 200;
        for (size_t i = 0; i < len; i++)
            buf[i] = (char)(rng() & 0xFF);
        return len;
    }
    default: {
        size_t len = (rng() % 16 == 0) ? 4000 + rng() % 20000 : rng() % 5000;
        if (len > cap)
            len = cap;
        memset(buf, (int)('A' + rng() % 26), len);
        return len;
    }
    }
}

static void
assert_same(uint8_t *lp, const model_t *m) {
    cr_assert_eq(lp_count(lp), m->n);
    cr_assert_eq(lp_validate(lp, lp_bytes(lp)), 0);
    char buf[LP_INTBUF_MAX];
    size_t i = 0, len;
    for (uint8_t *p = lp_first(lp); p; p = lp_next(lp, p), i++) {
        const uint8_t *s = lp_get_str(p, &len, buf);
        cr_assert_eq(len, m->v[i].len, "entry %zu", i);
        cr_assert(memcmp(s, m->v[i].s, len) == 0, "entry %zu", i);
    }
    cr_assert_eq(i, m->n);
    for (uint8_t *p = lp_last(lp); p; p = lp_prev(lp, p)) {
        i--;
        cr_assert(lp_eq(p, m->v[i].s, m->v[i].len), "backward entry %zu", i);
    }
    cr_assert_eq(i, 0);
}

static void
random_op(uint8_t **lpp, model_t *m, char *buf, size_t cap) {
    size_t len = random_value(buf, cap);
    int op = (int)(rng() % 7);
    if (m->n == 0 && op >= 2)
        op = 0;
    size_t at = m->n ? rng() % m->n : 0;
    long idx = (rng() & 1) ? (long)at : (long)at - (long)m->n; /* same entry, negative form */
    uint8_t *p = m->n ? lp_seek(*lpp, idx) : NULL;
    uint8_t *np = NULL;
    switch (op) {
    case 0:
        cr_assert_eq(lp_append(lpp, buf, len), 0);
        model_insert(m, m->n, buf, len);
        break;
    case 1:
        cr_assert_eq(lp_prepend(lpp, buf, len), 0);
        model_insert(m, 0, buf, len);
        break;
    case 2:
        cr_assert_eq(lp_insert(lpp, p, LP_BEFORE, buf, len, &np), 0);
        model_insert(m, at, buf, len);
        cr_assert(lp_eq(np, buf, len));
        break;
    case 3:
        cr_assert_eq(lp_insert(lpp, p, LP_AFTER, buf, len, &np), 0);
        model_insert(m, at + 1, buf, len);
        cr_assert(lp_eq(np, buf, len));
        break;
    case 4:
        cr_assert_eq(lp_replace(lpp, p, buf, len, &np), 0);
        model_delete(m, at, 1);
        model_insert(m, at, buf, len);
        cr_assert(lp_eq(np, buf, len));
        break;
    case 5:
        cr_assert_eq(lp_delete(lpp, p, &np), 0);
        model_delete(m, at, 1);
        if (at < m->n)
            cr_assert(np && lp_eq(np, m->v[at].s, m->v[at].len));
        else
            cr_assert_null(np);
        break;
    default: {
        size_t num = rng() % 5;
        cr_assert_eq(lp_delete_range(lpp, idx, num), 0);
        model_delete(m, at, num < m->n - at ? num : m->n - at);
    }
    }
}

Test(lp, random_operations_match_an_array_model) {
    size_t cap = 30000;
    char *buf = malloc(cap);
    uint8_t *lp = lp_new();
    model_t m = {0};
    for (int op = 0; op < 6000; op++) {
        random_op(&lp, &m, buf, cap);
        if (m.n > 300) /* keep it small enough that the full comparisons stay cheap */
            while (m.n > 100) {
                cr_assert_eq(lp_delete_range(&lp, 0, 50), 0);
                model_delete(&m, 0, 50);
            }
        if (op % 17 == 0)
            assert_same(lp, &m);
    }
    assert_same(lp, &m);
    model_free(&m);
    lp_free(lp);
    free(buf);
}

Test(lp, empty_list_has_no_entries) {
    uint8_t *lp = lp_new();
    cr_assert_eq(lp_count(lp), 0);
    cr_assert_eq(lp_bytes(lp), 9);
    cr_assert_null(lp_first(lp));
    cr_assert_null(lp_last(lp));
    cr_assert_null(lp_seek(lp, 0));
    cr_assert_null(lp_seek(lp, -1));
    cr_assert_null(lp_find(lp, lp_first(lp), "a", 1, 0));
    cr_assert_eq(lp_delete_range(&lp, 0, 10), 0);
    cr_assert_eq(lp_validate(lp, lp_bytes(lp)), 0);
    lp_free(lp);
}

Test(lp, single_entry_is_first_and_last) {
    uint8_t *lp = lp_new();
    cr_assert_eq(lp_append(&lp, "x", 1), 0);
    cr_assert_eq(lp_first(lp), lp_last(lp));
    cr_assert_eq(lp_seek(lp, 0), lp_seek(lp, -1));
    cr_assert_null(lp_seek(lp, 1));
    cr_assert_null(lp_seek(lp, -2));
    cr_assert_null(lp_next(lp, lp_first(lp)));
    cr_assert_null(lp_prev(lp, lp_first(lp)));
    uint8_t *next = lp;
    cr_assert_eq(lp_delete(&lp, lp_first(lp), &next), 0);
    cr_assert_null(next);
    cr_assert_eq(lp_count(lp), 0);
    lp_free(lp);
}

Test(lp, integers_round_trip_at_every_encoding_boundary) {
    int64_t vals[] = {0,
                      127,
                      128,
                      -1,
                      -4096,
                      4095,
                      -4097,
                      4096,
                      32767,
                      -32768,
                      32768,
                      -32769,
                      8388607,
                      -8388608,
                      8388608,
                      -8388609,
                      INT32_MAX,
                      INT32_MIN,
                      (int64_t)INT32_MAX + 1,
                      (int64_t)INT32_MIN - 1,
                      INT64_MAX,
                      INT64_MIN};
    size_t n = sizeof vals / sizeof *vals;
    uint8_t *lp = lp_new();
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(lp_append_int(&lp, vals[i]), 0);
    /* The same values given as text must be stored as the same integers. */
    for (size_t i = 0; i < n; i++) {
        char b[32];
        int len = snprintf(b, sizeof b, "%lld", (long long)vals[i]);
        cr_assert_eq(lp_append(&lp, b, (size_t)len), 0);
    }
    cr_assert_eq(lp_validate(lp, lp_bytes(lp)), 0);
    lp_val_t v;
    for (size_t i = 0; i < 2 * n; i++) {
        lp_get(lp_seek(lp, (long)i), &v);
        cr_assert_null(v.str, "entry %zu should be an integer", i);
        cr_assert_eq(v.ival, vals[i % n]);
        lp_get(lp_seek(lp, -(long)(2 * n - i)), &v);
        cr_assert_eq(v.ival, vals[i % n]);
    }
    lp_free(lp);
}

Test(lp, non_canonical_integer_text_stays_a_string) {
    const char *s[] = {
        "01", "-0", " 1", "1 ", "+1", "-", "", "9223372036854775808", "-9223372036854775809",
        "00", "1.0"};
    uint8_t *lp = lp_new();
    for (size_t i = 0; i < sizeof s / sizeof *s; i++)
        cr_assert_eq(lp_append(&lp, s[i], strlen(s[i])), 0);
    size_t i = 0;
    for (uint8_t *p = lp_first(lp); p; p = lp_next(lp, p), i++) {
        lp_val_t v;
        lp_get(p, &v);
        cr_assert_not_null(v.str, "\"%s\" must stay a string", s[i]);
        cr_assert_eq(v.len, strlen(s[i]));
        cr_assert(memcmp(v.str, s[i], v.len) == 0);
        /* "01" must not compare equal to the integer 1, nor "1" to the string "01". */
    }
    cr_assert_null(lp_find(lp, lp_first(lp), "1", 1, 0));
    cr_assert_null(lp_find(lp, lp_first(lp), "0", 1, 0));
    cr_assert_not_null(lp_find(lp, lp_first(lp), "-0", 2, 0));
    lp_free(lp);
}

Test(lp, string_to_int_accepts_only_canonical_text) {
    int64_t v;
    cr_assert(lp_string_to_int("0", 1, &v) && v == 0);
    cr_assert(lp_string_to_int("-1", 2, &v) && v == -1);
    cr_assert(lp_string_to_int("9223372036854775807", 19, &v) && v == INT64_MAX);
    cr_assert(lp_string_to_int("-9223372036854775808", 20, &v) && v == INT64_MIN);
    cr_assert_not(lp_string_to_int("9223372036854775808", 19, &v));
    cr_assert_not(lp_string_to_int("-9223372036854775809", 20, &v));
    cr_assert_not(lp_string_to_int("99999999999999999999", 20, &v));
    cr_assert_not(lp_string_to_int("01", 2, &v));
    cr_assert_not(lp_string_to_int("-0", 2, &v));
    cr_assert_not(lp_string_to_int(" 1", 2, &v));
    cr_assert_not(lp_string_to_int("+1", 2, &v));
    cr_assert_not(lp_string_to_int("", 0, &v));
    cr_assert_not(lp_string_to_int("-", 1, &v));
    char b[LP_INTBUF_MAX];
    cr_assert_eq(lp_int_to_string(INT64_MIN, b), 20);
    cr_assert_str_eq(b, "-9223372036854775808");
}

Test(lp, find_with_skip_visits_only_fields) {
    uint8_t *lp = lp_new();
    const char *kv[] = {"f1", "v1", "f2", "f1", "10", "20"};
    for (int i = 0; i < 6; i++)
        cr_assert_eq(lp_append(&lp, kv[i], strlen(kv[i])), 0);
    uint8_t *p = lp_find(lp, lp_first(lp), "f1", 2, 1);
    cr_assert_eq(p, lp_seek(lp, 0));
    /* "f1" also appears as the value of f2: searching fields from f2 must not stop there. */
    cr_assert_null(lp_find(lp, lp_seek(lp, 2), "f1", 2, 1));
    cr_assert_eq(lp_find(lp, lp_first(lp), "10", 2, 1), lp_seek(lp, 4));
    cr_assert_null(lp_find(lp, lp_first(lp), "20", 2, 1));
    cr_assert_eq(lp_find(lp, lp_first(lp), "20", 2, 0), lp_seek(lp, -1));
    lp_free(lp);
}

Test(lp, replace_with_bytes_from_inside_the_list) {
    uint8_t *lp = lp_new();
    char big[300];
    memset(big, 'q', sizeof big);
    cr_assert_eq(lp_append(&lp, big, sizeof big), 0);
    cr_assert_eq(lp_append(&lp, "tail", 4), 0);
    lp_val_t v;
    lp_get(lp_first(lp), &v);
    /* v.str points into lp; the list grows and moves while it is copied. */
    cr_assert_eq(lp_replace(&lp, lp_seek(lp, 1), v.str, v.len, NULL), 0);
    cr_assert(lp_eq(lp_seek(lp, 1), big, sizeof big));
    lp_get(lp_first(lp), &v);
    cr_assert_eq(lp_insert(&lp, lp_first(lp), LP_BEFORE, v.str, v.len, NULL), 0);
    cr_assert_eq(lp_count(lp), 3);
    cr_assert(lp_eq(lp_seek(lp, 0), big, sizeof big));
    cr_assert_eq(lp_validate(lp, lp_bytes(lp)), 0);
    lp_free(lp);
}

Test(lp, entry_size_counts_every_byte) {
    uint8_t *lp = lp_new();
    const char *s[] = {"5", "hello", "-4000", "1234567890123"};
    size_t want = lp_bytes(lp);
    for (int i = 0; i < 4; i++) {
        want += lp_entry_size(s[i], strlen(s[i]));
        cr_assert_eq(lp_append(&lp, s[i], strlen(s[i])), 0);
        cr_assert_eq(lp_bytes(lp), want);
    }
    cr_assert_eq(lp_entry_size("5", 1), 2);     /* 7-bit int + 1 back-length byte */
    cr_assert_eq(lp_entry_size("hello", 5), 7); /* 1 + 5 + 1 */
    cr_assert_not(lp_fits(LP_BYTES_MAX - 3, 4));
    cr_assert(lp_fits(LP_BYTES_MAX - 4, 4));
    lp_free(lp);
}

Test(lp, dtoa_gives_shortest_round_trip_text) {
    char b[LP_DBLBUF_MAX];
    lp_dtoa(1.5, b);
    cr_assert_str_eq(b, "1.5");
    lp_dtoa(0.1, b);
    cr_assert_str_eq(b, "0.1");
    lp_dtoa(-3.0, b);
    cr_assert_str_eq(b, "-3");
    lp_dtoa(1.0 / 0.0, b);
    cr_assert_str_eq(b, "inf");
    double hard = 0.30000000000000004;
    lp_dtoa(hard, b);
    cr_assert_eq(strtod(b, NULL), hard);
    for (int i = 0; i < 2000; i++) {
        uint64_t u = rng();
        double d;
        memcpy(&d, &u, sizeof d);
        if (d != d)
            continue;
        lp_dtoa(d, b);
        cr_assert_eq(strtod(b, NULL), d, "%s", b);
    }
}

/* ---- validation ---- */

static uint8_t *
sample_list(void) {
    uint8_t *lp = lp_new();
    char mid[200];
    memset(mid, 'm', sizeof mid);
    lp_append(&lp, "abc", 3);
    lp_append_int(&lp, -5);
    lp_append(&lp, mid, sizeof mid);
    lp_append_int(&lp, INT64_MAX);
    lp_append(&lp, "", 0);
    return lp;
}

Test(lp_validate, accepts_well_formed_lists) {
    uint8_t *lp = sample_list();
    cr_assert_eq(lp_validate(lp, lp_bytes(lp)), 0);
    uint8_t *e = lp_new();
    cr_assert_eq(lp_validate(e, lp_bytes(e)), 0);
    lp_free(e);
    lp_free(lp);
}

Test(lp_validate, rejects_wrong_sizes_counts_and_terminators) {
    uint8_t *lp = sample_list();
    size_t n = lp_bytes(lp);
    cr_assert_eq(lp_validate(lp, n - 1), KERR_CORRUPT);
    cr_assert_eq(lp_validate(lp, 5), KERR_CORRUPT);
    cr_assert_eq(lp_validate(NULL, 0), KERR_CORRUPT);
    lp[4]++; /* count */
    cr_assert_eq(lp_validate(lp, n), KERR_CORRUPT);
    lp[4] -= 2;
    cr_assert_eq(lp_validate(lp, n), KERR_CORRUPT);
    lp[4]++;
    lp[n - 1] = 0; /* terminator */
    cr_assert_eq(lp_validate(lp, n), KERR_CORRUPT);
    lp_free(lp);
}

Test(lp_validate, rejects_every_single_byte_corruption_or_stays_safe) {
    /* Flipping any byte must either be caught or leave a list that still walks safely both ways
     * (a flipped payload byte of a string is undetectable and harmless). */
    uint8_t *lp = sample_list();
    size_t n = lp_bytes(lp);
    uint8_t *copy = malloc(n);
    int caught = 0;
    for (size_t i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(copy, lp, n);
            copy[i] ^= (uint8_t)(1 << bit);
            if (lp_validate(copy, n) != 0) {
                caught++;
                continue;
            }
            uint32_t k = 0;
            for (uint8_t *p = lp_first(copy); p; p = lp_next(copy, p))
                k++;
            cr_assert_eq(k, lp_count(copy));
            for (uint8_t *p = lp_last(copy); p; p = lp_prev(copy, p))
                k--;
            cr_assert_eq(k, 0);
        }
    }
    cr_assert_gt(caught, 150, "caught %d", caught); /* 8 header + ~20 structure bytes, 8 bits */
    free(copy);
    lp_free(lp);
}

Test(lp_validate, rejects_an_integer_stored_as_a_string) {
    /* A crafted "5" string entry would break equality with the integer 5 (invariant 4). */
    uint8_t blob[] = {12, 0, 0, 0, 1, 0, 0, 0, 0x81, '5', 2, 0xFF};
    cr_assert_eq(lp_validate(blob, sizeof blob), KERR_CORRUPT);
    blob[9] = 'x';
    cr_assert_eq(lp_validate(blob, sizeof blob), 0);
}

Test(lp_validate, rejects_truncated_and_oversized_string_lengths) {
    /* A 32-bit string length that points past the end of the blob. */
    uint8_t blob[] = {16, 0, 0, 0, 1, 0, 0, 0, 0xF0, 0xFF, 0xFF, 0xFF, 0x7F, 'a', 6, 0xFF};
    cr_assert_eq(lp_validate(blob, sizeof blob), KERR_CORRUPT);
    /* An invalid encoding byte. */
    uint8_t bad[] = {11, 0, 0, 0, 1, 0, 0, 0, 0xF7, 1, 0xFF};
    cr_assert_eq(lp_validate(bad, sizeof bad), KERR_CORRUPT);
    /* A back-length that disagrees with the entry. */
    uint8_t back[] = {12, 0, 0, 0, 1, 0, 0, 0, 0x81, 'x', 3, 0xFF};
    cr_assert_eq(lp_validate(back, sizeof back), KERR_CORRUPT);
}

Test(lp, split_and_merge_move_entries_between_lists) {
    uint8_t *lp = lp_new();
    char b[LP_INTBUF_MAX + 300];
    for (int i = 0; i < 50; i++) {
        size_t len = (i % 2) ? lp_int_to_string(i * 1000, b)
                             : (memset(b, 'a' + i % 26, 100 + i), 100 + (size_t)i);
        cr_assert_eq(lp_append(&lp, b, len), 0);
    }
    uint8_t *orig = malloc(lp_bytes(lp));
    memcpy(orig, lp, lp_bytes(lp));
    uint8_t *tail;
    cr_assert_eq(lp_split(&lp, -19, &tail), 0);
    cr_assert_eq(lp_count(lp), 31);
    cr_assert_eq(lp_count(tail), 19);
    cr_assert_eq(lp_validate(lp, lp_bytes(lp)), 0);
    cr_assert_eq(lp_validate(tail, lp_bytes(tail)), 0);
    lp_val_t v;
    lp_get(lp_first(tail), &v);
    cr_assert_null(v.str);
    cr_assert_eq(v.ival, 31000);
    cr_assert_eq(lp_merge(&lp, tail), 0);
    cr_assert_eq(lp_bytes(lp), lp_bytes(orig));
    cr_assert(memcmp(lp, orig, lp_bytes(orig)) == 0, "split then merge must restore the bytes");
    uint8_t *empty;
    cr_assert_eq(lp_split(&lp, 50, &empty), 0);
    cr_assert_eq(lp_count(empty), 0);
    cr_assert_eq(lp_count(lp), 50);
    cr_assert_eq(lp_validate(empty, lp_bytes(empty)), 0);
    lp_free(empty);
    lp_free(tail);
    lp_free(orig);
    lp_free(lp);
}
