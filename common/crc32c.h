/*
 * crc32c.h - CRC-32C (Castagnoli), the checksum of log records and snapshot chunks.
 *
 * Debian ships no C library for CRC-32C, so it lives here: the SSE4.2 crc32 instruction when the
 * CPU has it, a table-driven fallback otherwise. crc32c_extend(0, p, n) checksums p[0..n).
 */
#ifndef KEEL_CRC32C_H
#define KEEL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t crc32c_extend(uint32_t crc, const void *data, size_t len);

static inline uint32_t
crc32c(const void *data, size_t len) {
    return crc32c_extend(0, data, len);
}

#endif
