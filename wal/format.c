/*
 * format.c - the byte layout of the transaction log (full text: docs/formats/wal.md).
 *
 * A log copy is a directory of segment files named wal-<first LSN, 20 digits>.log. All integers
 * are little-endian.
 *
 *   segment header (64 bytes), version 2
 *     0  magic "KEELWAL\0"     8  u32 version (2)    12 u32 header size (64)
 *    16  u64 first LSN         24 i64 created ms     32 16-byte data-set id
 *    48  u64 epoch             56 4 reserved zero bytes
 *    60  u32 CRC32C of bytes [0, 60)
 *   version 1 had 28 reserved zero bytes at 32: read with an unknown id and epoch (zero)
 *   records, from offset 64, each starting at a multiple of 8
 *     0  u32 payload length    4  u32 CRC32C of bytes [8, 32 + length)
 *     8  u64 LSN              16  i64 wall-clock ms  24 u32 db   28 u32 flags
 *    flags bit 0 (WAL_REC_AFTER_SYNC): all bytes before this record in the segment were
 *    fdatasynced before it was written; bit 1 (WAL_REC_SEAL, format 2): the clean-shutdown
 *    seal, length 0, LSN field = the last LSN (it consumes none), only zeros after it
 *    32  payload, then zero padding to a multiple of 8
 *   after the last record: zeros (preallocated by fallocate) or the end of the file.
 *
 * Invariants (numbered as in the spec):
 *   I1  LSNs are consecutive: inside a segment, and from one segment to the next (a segment's
 *       first LSN is the previous segment's last LSN + 1, also when it holds no record yet).
 *   I2  The WAL thread checksums every record of a chunk before it writes the chunk (the owner
 *       thread's wal_append leaves the CRC zero); the CRC is checked again when read back.
 *   I3  The writer only appends. Bytes after the end of the data are zero, or were being
 *       written when the process or machine stopped (a torn tail).
 *   I4  Damage is a torn tail only when it is in the newest segment and no intact record with
 *       WAL_REC_AFTER_SYNC follows it (such a record was written after the damaged bytes were
 *       durable); anywhere else it is corruption and recovery refuses to start.
 *   I5  The durable LSN only advances to an LSN whose round and all earlier rounds are
 *       fdatasynced on a quorum of copies; it never decreases nor passes the last LSN.
 *   I6  A failed write or fdatasync fails that copy for good (never retried); a short write is
 *       continued, not failed.
 *   I7  A new segment's directory is fsynced before any record in it counts as durable.
 *   I8  All version 2 segments of a copy, and all copies, carry one data-set id; the epoch
 *       never decreases from one segment to the next.
 *   I9  A seal is written only when every byte before it is durable on its copy, and removed
 *       (durably) before anything else is written to that copy: damage in a copy whose newest
 *       segment ends with an intact seal is corruption, never a torn tail.
 *
 * Recovery (recover.c): 1 verify every copy read-only, 2 choose the copy with the highest last
 * LSN, 3 plan the repair of the others (only where their bytes are a prefix of the best's),
 * and return KERR_CORRUPT naming copy, file, offset and LSN if anything fails so far, 4 cut
 * torn tails and copy missing segment bytes (tmp file, fsync, rename, directory fsync),
 * 5 replay the best copy's records after after_lsn.
 *
 * States (writer.c):
 *   copy: OK --copy_fail()--> FAILED (closed, skipped, repaired by the next wal_recover)
 *   log:  OK --copy_fail(), >= quorum left--> OK (degraded)
 *         OK --run_round() finds < quorum--> log_fail() --> QUORUM LOST (final: wal_append
 *         returns KERR_QUORUM, wal_healthy() == 0, the notify fd fires)
 */
#include "wal_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "crc32c.h"
#include "kassert.h"
#include "kerr.h"

int64_t
wal_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
wal_seg_hdr_encode(wal_seg_hdr_t *h, uint64_t first_lsn, int64_t created_ms,
                   const uint8_t dataset_id[WAL_DATASET_ID_SIZE], uint64_t epoch) {
    ASSERT(!wal_dataset_id_is_zero(dataset_id) && epoch >= 1); /* unknown only in version 1 */
    memset(h, 0, sizeof *h);
    memcpy(h->magic, WAL_MAGIC, 8);
    h->version = WAL_FORMAT_VERSION;
    h->hdr_size = WAL_SEG_HDR_SIZE;
    h->first_lsn = first_lsn;
    h->created_ms = created_ms;
    memcpy(h->dataset_id, dataset_id, WAL_DATASET_ID_SIZE);
    h->epoch = epoch;
    h->crc = crc32c(h, offsetof(wal_seg_hdr_t, crc));
}

void
wal_seg_hdr_identity(const wal_seg_hdr_t *h, uint8_t dataset_id[WAL_DATASET_ID_SIZE],
                     uint64_t *epoch) {
    if (h->version >= 2) {
        memcpy(dataset_id, h->dataset_id, WAL_DATASET_ID_SIZE);
        *epoch = h->epoch;
    } else { /* version 1: bytes [32, 60) were reserved, whatever they hold */
        memset(dataset_id, 0, WAL_DATASET_ID_SIZE);
        *epoch = 0;
    }
}

int
wal_dataset_id_is_zero(const uint8_t id[WAL_DATASET_ID_SIZE]) {
    static const uint8_t zero[WAL_DATASET_ID_SIZE];
    return memcmp(id, zero, WAL_DATASET_ID_SIZE) == 0;
}

int
wal_dataset_id_new(uint8_t id[WAL_DATASET_ID_SIZE]) {
    for (size_t got = 0; got < WAL_DATASET_ID_SIZE;) {
        ssize_t n = getrandom(id + got, WAL_DATASET_ID_SIZE - got, 0);
        if (n < 0 && errno != EINTR)
            return KERR_SYS(errno);
        got += n > 0 ? (size_t)n : 0;
    }
    id[6] = (uint8_t)((id[6] & 0x0f) | 0x40); /* version 4: random */
    id[8] = (uint8_t)((id[8] & 0x3f) | 0x80); /* RFC 4122 variant; never all-zero either */
    return 0;
}

void
wal_dataset_id_str(const uint8_t id[WAL_DATASET_ID_SIZE], char *buf, size_t n) {
    if (wal_dataset_id_is_zero(id)) {
        snprintf(buf, n, "unknown");
        return;
    }
    static const char hex[] = "0123456789abcdef";
    char s[WAL_DATASET_ID_STR_MAX];
    size_t k = 0;
    for (int i = 0; i < WAL_DATASET_ID_SIZE; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            s[k++] = '-';
        s[k++] = hex[id[i] >> 4];
        s[k++] = hex[id[i] & 15];
    }
    s[k] = 0;
    snprintf(buf, n, "%s", s);
}

int
wal_seg_hdr_check(const void *buf, size_t len, const char **why) {
    wal_seg_hdr_t h;
    if (len < sizeof h) {
        *why = "segment shorter than its header";
        return KERR_CORRUPT;
    }
    memcpy(&h, buf, sizeof h);
    if (memcmp(h.magic, WAL_MAGIC, 8) != 0) {
        *why = "bad segment magic";
        return KERR_FORMAT;
    }
    /* Before the CRC: a later version may checksum other bytes, and its segments must be
     * refused by version (never cut as a torn header) by this reader. */
    if (h.version > WAL_FORMAT_VERSION) {
        *why = "segment written by a newer format version";
        return KERR_VERSION;
    }
    if (h.crc != crc32c(&h, offsetof(wal_seg_hdr_t, crc))) {
        *why = "segment header checksum mismatch";
        return KERR_CORRUPT;
    }
    if (h.version < WAL_FORMAT_VERSION_MIN) {
        *why = "segment format version 0 does not exist";
        return KERR_CORRUPT;
    }
    if (h.hdr_size != WAL_SEG_HDR_SIZE) {
        *why = "unexpected segment header size";
        return KERR_CORRUPT;
    }
    if (h.first_lsn == 0 || h.first_lsn > WAL_LSN_MAX) { /* LSNs start at 1; see WAL_LSN_MAX */
        *why = "segment first LSN out of range";
        return KERR_CORRUPT;
    }
    return 0;
}

void
wal_rec_encode_nocrc(void *dst, uint64_t lsn, int64_t ts_ms, uint32_t db, const void *payload,
                     size_t len) {
    wal_rec_hdr_t h = {.len = (uint32_t)len, .lsn = lsn, .ts_ms = ts_ms, .db = db, .flags = 0};
    uint8_t *p = dst;
    uint64_t total = wal_rec_size(len);
    memcpy(p, &h, WAL_REC_HDR_SIZE); /* crc 0 until wal_rec_crc */
    if (len)
        memcpy(p + WAL_REC_HDR_SIZE, payload, len);
    memset(p + WAL_REC_HDR_SIZE + len, 0, total - WAL_REC_HDR_SIZE - len);
}

void
wal_rec_crc(void *rec) {
    uint8_t *p = rec;
    uint32_t len, crc;
    memcpy(&len, p, 4);
    crc = crc32c(p + 8, WAL_REC_HDR_SIZE - 8 + len);
    memcpy(p + 4, &crc, 4);
}

void
wal_rec_encode(void *dst, uint64_t lsn, int64_t ts_ms, uint32_t db, const void *payload,
               size_t len) {
    wal_rec_encode_nocrc(dst, lsn, ts_ms, db, payload, len);
    wal_rec_crc(dst);
}

void
wal_rec_set_flags(void *rec, uint32_t flags) {
    uint8_t *p = rec;
    wal_rec_hdr_t h;
    memcpy(&h, p, sizeof h);
    h.flags |= flags;
    memcpy(p + 28, &h.flags, 4);
    wal_rec_crc(p);
}

void
wal_rec_encode_seal(void *dst, uint64_t last_lsn, int64_t ts_ms) {
    wal_rec_encode_nocrc(dst, last_lsn, ts_ms, 0, NULL, 0);
    wal_rec_set_flags(dst, WAL_REC_SEAL | WAL_REC_AFTER_SYNC); /* computes the CRC */
}

static int
all_zero(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

int
wal_rec_check(const uint8_t *p, uint64_t avail, uint64_t expect_lsn, const char **why) {
    wal_rec_hdr_t h;
    if (avail < WAL_REC_HDR_SIZE) {
        if (all_zero(p, avail)) {
            *why = "end of data";
            return KERR_TORN;
        }
        *why = "record header cut short by the end of the file";
        return KERR_CORRUPT;
    }
    memcpy(&h, p, sizeof h);
    if (all_zero(p, WAL_REC_HDR_SIZE)) {
        *why = "end of data";
        return KERR_TORN;
    }
    if (h.len > WAL_PAYLOAD_MAX) {
        *why = "record length out of range";
        return KERR_CORRUPT;
    }
    if (wal_rec_size(h.len) > avail) {
        *why = "record runs past the end of the file";
        return KERR_CORRUPT;
    }
    if (h.crc != crc32c(p + 8, WAL_REC_HDR_SIZE - 8 + h.len)) {
        *why = "record checksum mismatch";
        return KERR_CORRUPT;
    }
    /* Bits this format does not define are damage (docs/formats/wal.md: "other bits zero"),
     * as wal_record_decode() says: a reader must not pass on what a replica refuses. */
    if (h.flags & ~(uint32_t)(WAL_REC_AFTER_SYNC | WAL_REC_SEAL)) {
        *why = "unknown record flags";
        return KERR_CORRUPT;
    }
    if (h.flags & WAL_REC_SEAL) {
        if (h.len != 0 || h.lsn != expect_lsn - 1) {
            *why = h.len ? "seal with a payload" : "seal LSN is not the last LSN";
            return KERR_CORRUPT;
        }
        return WAL_REC_CHECK_SEAL;
    }
    if (h.lsn != expect_lsn) {
        *why = "record LSN out of sequence";
        return KERR_CORRUPT;
    }
    return 0;
}

void
wal_seg_name(char *buf, size_t n, uint64_t first_lsn) {
    snprintf(buf, n, "wal-%020llu.log", (unsigned long long)first_lsn);
}

int
wal_seg_name_parse(const char *name, uint64_t *first_lsn) {
    if (strlen(name) != 28 || strncmp(name, "wal-", 4) != 0 || strcmp(name + 24, ".log") != 0)
        return KERR_INVAL;
    uint64_t v = 0;
    for (int i = 4; i < 24; i++) {
        if (name[i] < '0' || name[i] > '9')
            return KERR_INVAL;
        if (v > (WAL_LSN_MAX - (uint64_t)(name[i] - '0')) / 10) /* no writer names it */
            return KERR_INVAL;
        v = v * 10 + (uint64_t)(name[i] - '0');
    }
    *first_lsn = v;
    return 0;
}
