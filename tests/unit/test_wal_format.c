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

static const uint8_t test_id[WAL_DATASET_ID_SIZE] = {0x10, 0x32, 0x54, 0x76, 0x98, 0xba,
                                                     0x4c, 0xde, 0x8f, 0x01, 0x23, 0x45,
                                                     0x67, 0x89, 0xab, 0xcd};

Test(wal_format, segment_header_round_trip_and_damage) {
    wal_seg_hdr_t h;
    wal_seg_hdr_encode(&h, 1001, 1700000000000, test_id, 3);
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

/* Version 2 keeps the 64-byte header and its CRC over [0, 60): the id at 32, the epoch at 48. */
Test(wal_format, version_2_header_holds_the_data_set_id_and_epoch_at_their_offsets) {
    wal_seg_hdr_t h;
    wal_seg_hdr_encode(&h, 7, 1700000000000, test_id, 5);
    uint8_t raw[64];
    memcpy(raw, &h, sizeof raw);
    uint32_t version, crc;
    uint64_t epoch;
    memcpy(&version, raw + 8, 4);
    memcpy(&epoch, raw + 48, 8);
    memcpy(&crc, raw + 60, 4);
    cr_assert_eq(version, 2);
    cr_assert_eq(memcmp(raw + 32, test_id, 16), 0);
    cr_assert_eq(epoch, 5);
    cr_assert_eq(raw[56] | raw[57] | raw[58] | raw[59], 0, "4 reserved zero bytes");
    cr_assert_eq(crc, crc32c(raw, 60));
    uint8_t id[WAL_DATASET_ID_SIZE];
    uint64_t e;
    wal_seg_hdr_identity(&h, id, &e);
    cr_assert_eq(memcmp(id, test_id, 16), 0);
    cr_assert_eq(e, 5);
    raw[40] ^= 1; /* the id is covered by the CRC */
    const char *why;
    cr_assert_eq(wal_seg_hdr_check(raw, sizeof raw, &why), KERR_CORRUPT);
}

Test(wal_format, a_version_1_header_is_read_with_an_unknown_identity) {
    uint8_t raw[64] = "KEELWAL";
    uint32_t v = 1, hs = 64;
    uint64_t first = 1;
    memcpy(raw + 8, &v, 4);
    memcpy(raw + 12, &hs, 4);
    memcpy(raw + 16, &first, 8);
    uint32_t crc = crc32c(raw, 60);
    memcpy(raw + 60, &crc, 4);
    const char *why = NULL;
    cr_assert_eq(wal_seg_hdr_check(raw, sizeof raw, &why), 0, "%s", why);
    wal_seg_hdr_t h;
    memcpy(&h, raw, sizeof h);
    uint8_t id[WAL_DATASET_ID_SIZE];
    uint64_t e = 9;
    wal_seg_hdr_identity(&h, id, &e);
    cr_assert(wal_dataset_id_is_zero(id));
    cr_assert_eq(e, 0);
}

/* A later version may checksum other bytes: its header must be refused by version, never
 * taken for a damaged (torn) one that recovery would remove. */
Test(wal_format, a_newer_version_is_refused_by_version_before_the_checksum) {
    wal_seg_hdr_t h;
    wal_seg_hdr_encode(&h, 1, 1700000000000, test_id, 1);
    h.version = 3; /* CRC left as version 2 computed it */
    const char *why;
    cr_assert_eq(wal_seg_hdr_check(&h, sizeof h, &why), KERR_VERSION);
}

Test(wal_format, new_data_set_ids_are_random_uuids_and_print_as_such) {
    uint8_t a[WAL_DATASET_ID_SIZE], b[WAL_DATASET_ID_SIZE];
    cr_assert_eq(wal_dataset_id_new(a), 0);
    cr_assert_eq(wal_dataset_id_new(b), 0);
    cr_assert_neq(memcmp(a, b, sizeof a), 0);
    cr_assert_not(wal_dataset_id_is_zero(a));
    cr_assert_eq(a[6] >> 4, 4, "version 4");
    char s[WAL_DATASET_ID_STR_MAX];
    wal_dataset_id_str(test_id, s, sizeof s);
    cr_assert_str_eq(s, "10325476-98ba-4cde-8f01-23456789abcd");
    uint8_t zero[WAL_DATASET_ID_SIZE] = {0};
    wal_dataset_id_str(zero, s, sizeof s);
    cr_assert_str_eq(s, "unknown");
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
