/* test_wal_format.c - the on-disk encoding: record and segment-header round trips, checksum
 * and sequence checks, segment names. */
#include "test_wal_util.h"

#include "crc32c.h"

Test(wal_format, record_round_trips_through_encode_and_check) {
    const char payload[] = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";
    size_t len = sizeof payload - 1;
    uint64_t sz = wal_rec_size(len);
    cr_assert_eq(sz % 8, 0);
    cr_assert_geq(sz, 32 + len);
    uint8_t buf[256];
    memset(buf, 0xAA, sizeof buf);
    wal_rec_encode(buf, 42, 1700000000123, 7, payload, len);
    const char *why = NULL;
    cr_assert_eq(wal_rec_check(buf, sz, 42, &why), 0, "%s", why);
    wal_rec_hdr_t h;
    memcpy(&h, buf, sizeof h);
    cr_assert_eq(h.len, len);
    cr_assert_eq(h.lsn, 42);
    cr_assert_eq(h.ts_ms, 1700000000123);
    cr_assert_eq(h.db, 7);
    cr_assert_eq(memcmp(buf + 32, payload, len), 0);
    for (uint64_t i = 32 + len; i < sz; i++)
        cr_assert_eq(buf[i], 0, "padding is zero");
    /* The CRC covers everything after the CRC field. */
    cr_assert_eq(h.crc, crc32c(buf + 8, 24 + len));
}

Test(wal_format, record_check_rejects_flips_wrong_lsn_and_truncation) {
    uint8_t buf[128];
    wal_rec_encode(buf, 5, 1, 0, "hello", 5);
    uint64_t sz = wal_rec_size(5);
    const char *why;
    cr_assert_eq(wal_rec_check(buf, sz, 6, &why), KERR_CORRUPT, "LSN out of sequence");
    cr_assert_eq(wal_rec_check(buf, sz - 8, 5, &why), KERR_CORRUPT, "runs past the end");
    for (uint64_t i = 8; i < 32 + 5; i++) {
        buf[i] ^= 0x10;
        cr_assert_eq(wal_rec_check(buf, sz, 5, &why), KERR_CORRUPT, "flip at %llu",
                     (unsigned long long)i);
        buf[i] ^= 0x10;
    }
    uint8_t zero[64] = {0};
    cr_assert_eq(wal_rec_check(zero, sizeof zero, 5, &why), KERR_TORN, "zeros end the data");
}

Test(wal_format, segment_header_round_trip_and_damage) {
    wal_seg_hdr_t h;
    wal_seg_hdr_encode(&h, 1001, 1700000000000);
    const char *why;
    cr_assert_eq(wal_seg_hdr_check(&h, sizeof h, &why), 0);
    cr_assert_eq(memcmp(h.magic, "KEELWAL\0", 8), 0);
    cr_assert_eq(h.first_lsn, 1001);
    cr_assert_eq(h.version, WAL_FORMAT_VERSION);
    cr_assert_eq(wal_seg_hdr_check(&h, 10, &why), KERR_CORRUPT);
    wal_seg_hdr_t bad = h;
    bad.first_lsn++;
    cr_assert_eq(wal_seg_hdr_check(&bad, sizeof bad, &why), KERR_CORRUPT);
    bad = h;
    bad.magic[0] = 'X';
    cr_assert_eq(wal_seg_hdr_check(&bad, sizeof bad, &why), KERR_FORMAT);
    bad = h;
    bad.version = 99;
    bad.crc = crc32c(&bad, 60);
    cr_assert_eq(wal_seg_hdr_check(&bad, sizeof bad, &why), KERR_VERSION);
}

Test(wal_format, segment_names_sort_by_lsn_and_parse_back) {
    char a[WAL_SEG_NAME_MAX], b[WAL_SEG_NAME_MAX];
    wal_seg_name(a, sizeof a, 9);
    wal_seg_name(b, sizeof b, 10);
    cr_assert_str_eq(a, "wal-00000000000000000009.log");
    cr_assert_lt(strcmp(a, b), 0);
    uint64_t v = 0;
    cr_assert_eq(wal_seg_name_parse(b, &v), 0);
    cr_assert_eq(v, 10);
    cr_assert_neq(wal_seg_name_parse("wal-0000000000000000000x.log", &v), 0);
    cr_assert_neq(wal_seg_name_parse("wal-00000000000000000009.log.tmp", &v), 0);
}
