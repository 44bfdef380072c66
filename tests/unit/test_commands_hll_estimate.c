/*
 * test_hll_estimate.c - the HyperLogLog value format and estimator (server/commands/cmd_hll.h):
 * accuracy within a few standard errors (0.81%) at 100k and 1M distinct elements, exact-ish
 * counts for small sets, sparse/dense round trips, and refusal of malformed sparse bodies.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kerr.h"
#include "cmd_hll.h"

static uint8_t regs[HLL_REGISTERS];

static void
add_range(uint64_t from, uint64_t to) {
    char buf[32];
    for (uint64_t i = from; i < to; i++) {
        int n = snprintf(buf, sizeof buf, "element:%llu", (unsigned long long)i);
        uint8_t rank;
        uint32_t idx = hll_index(buf, (size_t)n, &rank);
        if (rank > regs[idx])
            regs[idx] = rank;
    }
}

static double
rel_error(uint64_t est, uint64_t truth) {
    return fabs((double)est - (double)truth) / (double)truth;
}

Test(hll_estimate, empty_registers_count_zero) {
    memset(regs, 0, sizeof regs);
    cr_assert_eq(hll_estimate(regs), 0);
}

Test(hll_estimate, small_sets_are_nearly_exact) {
    memset(regs, 0, sizeof regs);
    add_range(0, 100);
    uint64_t e = hll_estimate(regs);
    cr_assert(e >= 98 && e <= 102, "estimate %llu for 100", (unsigned long long)e);
}

Test(hll_estimate, error_at_100k_and_1m_within_three_standard_errors) {
    memset(regs, 0, sizeof regs);
    add_range(0, 100000);
    uint64_t e1 = hll_estimate(regs);
    add_range(100000, 1000000);
    uint64_t e2 = hll_estimate(regs);
    printf("hll: 100k -> %llu (%.3f%%), 1M -> %llu (%.3f%%)\n", (unsigned long long)e1,
           100 * rel_error(e1, 100000), (unsigned long long)e2, 100 * rel_error(e2, 1000000));
    cr_assert_lt(rel_error(e1, 100000), 3 * 0.0081);
    cr_assert_lt(rel_error(e2, 1000000), 3 * 0.0081);
}

Test(hll_estimate, adding_the_same_elements_again_changes_nothing) {
    memset(regs, 0, sizeof regs);
    add_range(0, 5000);
    uint8_t copy[HLL_REGISTERS];
    memcpy(copy, regs, sizeof regs);
    add_range(0, 5000);
    cr_assert_eq(memcmp(copy, regs, sizeof regs), 0);
}

Test(hll_format, sparse_and_dense_round_trip) {
    memset(regs, 0, sizeof regs);
    add_range(0, 300);
    uint8_t sparse[HLL_SPARSE_BYTES_MAX], dense[HLL_DENSE_BYTES], back[HLL_REGISTERS];
    size_t n = hll_encode_sparse(regs, sparse, sizeof sparse);
    cr_assert_gt(n, HLL_HDR_BYTES);
    cr_assert(hll_check_header(sparse, n));
    cr_assert_eq(sparse[4], HLL_SPARSE);
    cr_assert_eq(hll_decode(sparse, n, back), 0);
    cr_assert_eq(memcmp(back, regs, sizeof regs), 0);
    hll_encode_dense(regs, dense);
    cr_assert(hll_check_header(dense, sizeof dense));
    memset(back, 0xAA, sizeof back);
    cr_assert_eq(hll_decode(dense, sizeof dense, back), 0);
    cr_assert_eq(memcmp(back, regs, sizeof regs), 0);
}

Test(hll_format, every_register_value_survives_dense_packing) {
    for (uint32_t i = 0; i < HLL_REGISTERS; i++)
        regs[i] = (uint8_t)((i * 7 + 3) % 52);
    uint8_t dense[HLL_DENSE_BYTES], back[HLL_REGISTERS];
    hll_encode_dense(regs, dense);
    cr_assert_eq(hll_decode(dense, sizeof dense, back), 0);
    cr_assert_eq(memcmp(back, regs, sizeof regs), 0);
}

Test(hll_format, sparse_refuses_big_registers_and_big_sizes) {
    memset(regs, 0, sizeof regs);
    regs[5] = HLL_SPARSE_VAL_MAX + 1;
    uint8_t out[HLL_SPARSE_BYTES_MAX];
    cr_assert_eq(hll_encode_sparse(regs, out, sizeof out), 0);
    for (uint32_t i = 0; i < HLL_REGISTERS; i++)
        regs[i] = (uint8_t)(1 + i % 2); /* no runs at all: 16384 bytes */
    cr_assert_eq(hll_encode_sparse(regs, out, sizeof out), 0);
}

Test(hll_format, malformed_sparse_bodies_are_corrupt) {
    uint8_t v[HLL_HDR_BYTES + 4], r[HLL_REGISTERS];
    memset(regs, 0, sizeof regs);
    size_t n = hll_encode_sparse(regs, v, sizeof v);
    cr_assert_eq(n, HLL_HDR_BYTES + 2);
    cr_assert_eq(hll_decode(v, n - 1, r), KERR_CORRUPT, "truncated XZERO");
    v[n] = 0x00; /* one more ZERO: 16385 registers */
    cr_assert_eq(hll_decode(v, n + 1, r), KERR_CORRUPT);
    v[HLL_HDR_BYTES + 1] = 0x00; /* XZERO of 16383 - 1: short by one */
    cr_assert_eq(hll_decode(v, n, r), KERR_CORRUPT);
    memcpy(v, "HYLX", 4);
    cr_assert(!hll_check_header(v, n));
}
