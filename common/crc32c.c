/*
 * crc32c.c - CRC-32C with the SSE4.2 instruction where available, a byte table otherwise.
 *
 * The choice is made once, on first use (pthread_once: the WAL and snapshot threads call this too),
 * from cpuid. Both paths compute the same reflected
 * CRC-32C (polynomial 0x82F63B78, initial value and final xor 0xFFFFFFFF), checked against the
 * standard test vector "123456789" -> 0xE3069283 in tests/unit/test_common_crc32c.c.
 */
#include "crc32c.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

static uint32_t table[256];
static int impl; /* 1: table, 2: sse4.2; set once under choose_once */
static pthread_once_t choose_once = PTHREAD_ONCE_INIT;

static void
table_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        table[i] = c;
    }
}

static uint32_t
crc_table(uint32_t crc, const unsigned char *p, size_t n) {
    while (n--)
        crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t
crc_hw(uint32_t crc, const unsigned char *p, size_t n) {
    uint64_t c = crc;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = __builtin_ia32_crc32di(c, v);
        p += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (n--)
        c32 = __builtin_ia32_crc32qi(c32, *p++);
    return c32;
}
#endif

static void
choose(void) {
    table_init();
    impl = 1;
#if defined(__x86_64__)
    unsigned a, b, c, d;
    if (__get_cpuid(1, &a, &b, &c, &d) && (c & bit_SSE4_2))
        impl = 2;
#endif
}

uint32_t
crc32c_extend(uint32_t crc, const void *data, size_t len) {
    pthread_once(&choose_once, choose);
    crc = ~crc;
#if defined(__x86_64__)
    if (impl == 2)
        return ~crc_hw(crc, data, len);
#endif
    return ~crc_table(crc, data, len);
}
