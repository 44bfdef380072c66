/* test_common_crc32c.c - CRC-32C against the standard check value and across split buffers. */
#include <criterion/criterion.h>
#include <string.h>

#include "crc32c.h"

Test(crc32c, matches_standard_check_value) {
    cr_assert_eq(crc32c("123456789", 9), 0xE3069283u);
    cr_assert_eq(crc32c("", 0), 0u);
}

Test(crc32c, extend_equals_one_pass) {
    char buf[1000];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (char)(i * 31 + 7);
    uint32_t whole = crc32c(buf, sizeof buf);
    for (size_t cut = 0; cut <= sizeof buf; cut += 37)
        cr_assert_eq(crc32c_extend(crc32c(buf, cut), buf + cut, sizeof buf - cut), whole);
}

Test(crc32c, detects_a_flipped_bit) {
    char buf[64] = "the quick brown fox jumps over the lazy dog";
    uint32_t a = crc32c(buf, sizeof buf);
    buf[10] ^= 4;
    cr_assert_neq(crc32c(buf, sizeof buf), a);
}
