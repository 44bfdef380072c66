/*
 * test_common_khist.c - the log-bucket histogram: exact small values, quantiles within the
 * bucket precision (1/16) above the true value and never above the maximum, huge values.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "khist.h"

static khist_t h;

Test(khist, empty_histogram_reports_zero) {
    khist_t e = {0};
    cr_assert_eq(khist_quantile(&e, 0.5), 0);
}

Test(khist, values_below_sub_are_exact) {
    khist_t e = {0};
    for (uint64_t v = 0; v < KHIST_SUB; v++)
        khist_add(&e, v);
    cr_assert_eq(khist_quantile(&e, 1.0), KHIST_SUB - 1);
    cr_assert_eq(khist_quantile(&e, 0.5), KHIST_SUB / 2 - 1);
}

Test(khist, quantiles_of_a_uniform_range_are_within_one_bucket) {
    memset(&h, 0, sizeof h);
    for (uint64_t v = 1; v <= 100000; v++)
        khist_add(&h, v * 10);
    const double qs[] = {0.5, 0.9, 0.99, 0.999};
    for (size_t i = 0; i < sizeof qs / sizeof *qs; i++) {
        double truth = qs[i] * 1000000.0;
        double got = (double)khist_quantile(&h, qs[i]);
        cr_assert(got >= truth * 0.999, "q %g: %g below %g", qs[i], got, truth);
        cr_assert(got <= truth * (1.0 + 1.0 / KHIST_SUB) + 1, "q %g: %g too far above %g", qs[i],
                  got, truth);
    }
    cr_assert_eq(khist_quantile(&h, 1.0), 1000000, "the top quantile is the exact maximum");
}

Test(khist, one_slow_value_shows_only_in_the_tail) {
    khist_t e = {0};
    for (int i = 0; i < 999; i++)
        khist_add(&e, 1000);
    khist_add(&e, 5000000);
    cr_assert_leq(khist_quantile(&e, 0.99), 1000 + 1000 / KHIST_SUB);
    cr_assert_eq(khist_quantile(&e, 0.9999), 5000000);
}

Test(khist, values_past_the_range_land_in_the_last_bucket) {
    khist_t e = {0};
    khist_add(&e, UINT64_MAX);
    khist_add(&e, 1ull << 50);
    cr_assert_eq(e.bucket[KHIST_BUCKETS - 1], 2);
    cr_assert_eq(khist_quantile(&e, 1.0), UINT64_MAX);
}
