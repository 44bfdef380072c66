/* test_common_crc64.c - CRC-64 Jones against its check value, a DUMP payload redis-server 7.0
 * produced, and across split buffers (the eight-byte path against the byte path). */
#include <criterion/criterion.h>
#include <string.h>

#include "crc64.h"

Test(crc64, matches_the_jones_check_value) {
    cr_assert_eq(crc64_extend(0, "123456789", 9), 0xe9c6d914c4b8d9caull);
    cr_assert_eq(crc64_extend(0, "", 0), 0ull);
}

/* redis-server 7.0.15: SET k hello; DUMP k -> 00 05 "hello" 0a 00 + the CRC below (little
 * endian in the payload's last eight bytes). */
Test(crc64, matches_a_redis_dump_trailer) {
    const unsigned char body[] = {0x00, 0x05, 'h', 'e', 'l', 'l', 'o', 0x0a, 0x00};
    const unsigned char want[8] = {0x63, 0x72, 0xdf, 0x76, 0x65, 0x34, 0x20, 0x0a};
    uint64_t crc = crc64_extend(0, body, sizeof body);
    unsigned char got[8];
    for (int i = 0; i < 8; i++)
        got[i] = (unsigned char)(crc >> (8 * i));
    cr_assert_arr_eq(got, want, 8);
}

Test(crc64, extend_equals_one_pass) {
    char buf[1000];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (char)(i * 31 + 7);
    uint64_t whole = crc64_extend(0, buf, sizeof buf);
    for (size_t cut = 0; cut <= sizeof buf; cut += 13)
        cr_assert_eq(crc64_extend(crc64_extend(0, buf, cut), buf + cut, sizeof buf - cut), whole);
}

Test(crc64, detects_a_flipped_bit) {
    char buf[64] = "the quick brown fox jumps over the lazy dog";
    uint64_t a = crc64_extend(0, buf, sizeof buf);
    buf[10] ^= 4;
    cr_assert_neq(crc64_extend(0, buf, sizeof buf), a);
}
