/*
 * crc64.h - CRC-64 "Jones", the checksum of Redis/Valkey DUMP payloads and RDB files.
 *
 * Reflected, polynomial 0xad93d23594c935a9 (0x95ac9329ac4bc9b5 bit-reversed), initial value 0,
 * no final xor: crc64_extend(0, "123456789", 9) == 0xe9c6d914c4b8d9ca. Debian ships no C library
 * with this variant, so it lives here (slicing by 8, tables built once on first use).
 * crc64_extend(crc64_extend(0, a, n), b, m) checksums a then b.
 */
#ifndef KEEL_CRC64_H
#define KEEL_CRC64_H

#include <stddef.h>
#include <stdint.h>

uint64_t crc64_extend(uint64_t crc, const void *data, size_t len);

#endif
