/* test_util_numbers.c - number parsing and formatting as clients see it in replies. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static const char *
d2s(double v) {
    static char buf[UTIL_DBL_STR_MAX];
    util_d2str(buf, sizeof buf, v);
    return buf;
}

Test(util, doubles_print_shortest_and_whole_numbers_as_digits) {
    cr_assert_str_eq(d2s(30), "30");
    cr_assert_str_eq(d2s(10), "10");
    cr_assert_str_eq(d2s(1000000), "1000000");
    cr_assert_str_eq(d2s(1.5), "1.5");
    cr_assert_str_eq(d2s(0.1), "0.1");
    cr_assert_str_eq(d2s(-2.25), "-2.25");
    cr_assert_str_eq(d2s(INFINITY), "inf");
    cr_assert_str_eq(d2s(-INFINITY), "-inf");
    cr_assert_str_eq(d2s(1e300), "1e+300");
    for (double v = -1000.375; v < 1000; v += 17.125)
        cr_assert_eq(strtod(d2s(v), NULL), v);
    cr_assert_str_eq(d2s(1.0 / 3), "0.3333333333333333");
    cr_assert_str_eq(d2s(0.1 + 0.2), "0.30000000000000004");
    cr_assert_str_eq(d2s(2.5e-7), "2.5e-07");
    /* Shortest: no precision below the one printed also reads back. */
    unsigned long long x = 88172645463325252ull;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        double v = ((double)(x >> 11) / (double)(1ull << 53) - 0.5) * pow(10, (int)(x % 12) - 6);
        const char *s = d2s(v);
        cr_assert_eq(strtod(s, NULL), v, "%s", s);
        char shorter[400];
        int digits = 0; /* significant digits: leading zeros do not count */
        for (const char *p = s; *p && *p != 'e'; p++)
            if (*p >= '1' && *p <= '9')
                digits++;
            else if (*p == '0' && digits > 0)
                digits++;
        if (digits > 1) {
            snprintf(shorter, sizeof shorter, "%.*g", digits - 1, v);
            cr_assert_neq(strtod(shorter, NULL), v, "%s is not the shortest (%s)", s, shorter);
        }
    }
}

Test(util, canonical_integers_only) {
    long long v;
    cr_assert(util_str_is_canonical_int("123", 3, &v) && v == 123);
    cr_assert(util_str_is_canonical_int("-9223372036854775808", 20, &v) && v == INT64_MIN);
    cr_assert_not(util_str_is_canonical_int("01", 2, &v));
    cr_assert_not(util_str_is_canonical_int("-0", 2, &v));
    cr_assert_not(util_str_is_canonical_int("+1", 2, &v));
    cr_assert_not(util_str_is_canonical_int(" 1", 2, &v));
    cr_assert_not(util_parse_ll("9223372036854775808", 19, &v));
}

Test(util, glob_patterns) {
    cr_assert(util_glob_match("h?llo", 5, "hello", 5, false));
    cr_assert(util_glob_match("h*o", 3, "heeeello", 8, false));
    cr_assert(util_glob_match("h[ae]llo", 8, "hallo", 5, false));
    cr_assert_not(util_glob_match("h[^e]llo", 8, "hello", 5, false));
    cr_assert(util_glob_match("h[a-b]llo", 9, "hbllo", 5, false));
    cr_assert(util_glob_match("h\\*", 3, "h*", 2, false));
    cr_assert(util_glob_match("MAXMEM*", 7, "maxmemory", 9, true));
    /* Adversarial: must finish quickly and say no. */
    const char *pat = "a*a*a*a*a*a*a*a*a*a*a*a*b";
    char s[200];
    memset(s, 'a', sizeof s - 1);
    s[sizeof s - 1] = 0;
    cr_assert_not(util_glob_match(pat, strlen(pat), s, strlen(s), false));
}

Test(util, double_literals_of_any_length_parse_as_valkey_parses_them) {
    char lit[301];
    memset(lit, '1', 300);
    lit[300] = 0;
    double v = 0;
    cr_assert(util_parse_double(lit, 300, &v)); /* longer than the stack buffer: the heap copy */
    cr_assert_eq(v, strtod(lit, NULL));
    cr_assert(util_parse_double("1.5", 3, &v) && v == 1.5);
    cr_assert(util_parse_double("1.5xyz", 3, &v) && v == 1.5); /* only n bytes count */
    cr_assert_not(util_parse_double("1.5x", 4, &v));
    cr_assert_not(util_parse_double(" 1", 2, &v));
    cr_assert_not(util_parse_double("1e400", 5, &v)); /* overflows: not a valid float */
    cr_assert(util_parse_double("inf", 3, &v) && isinf(v));
    cr_assert_not(util_parse_double("nan", 3, &v));
    char big[400];
    memset(big, '9', sizeof big - 1);
    big[sizeof big - 1] = 0;
    cr_assert_not(util_parse_double(big, sizeof big - 1, &v)); /* 1e399: overflows */
    char z[2] = {'1', 0};
    cr_assert_not(util_parse_double(z, 2, &v)); /* an embedded NUL */
}
