/*
 * snap_format.c - the snapshot file format: its specification, and the sealing and checking of
 * its fixed structs. The writer is snap_write.c, the reader snap_read.c.
 *
 * SPECIFICATION (format versions 1 to 4; docs/formats/snapshot.md says the same at length)
 *
 * All integers little-endian. CRC = CRC32C (common/crc32c.h). varint = unsigned LEB128, at most
 * 10 bytes. zigzag(v) = (v << 1) ^ (v >> 63).
 *
 *   offset 0         header, 64 bytes (snap_file_hdr_t)
 *   offset 64        sections, each a 48-byte section header + payload, back to back:
 *                      [IDENTITY (v3)] CHUNK ... CHUNK [other sections] TABLE
 *   file_len - 32    trailer, 32 bytes (snap_trailer_t)
 *
 * Header: "KEELSNAP", u32 version, u32 min_reader, u64 flags, u64 lsn, i64 time_ms, u64 keys,
 *   u64 table_off, u32 chunks, u32 crc of bytes [0,60). Flags bits 0-31 are informational
 *   (SNAP_F_META = bit 0); bits 32-63 name features a reader must know (SNAP_F_INTSTR = bit 32).
 * Section header: u32 "KSEC", u16 type, u8 flags (bit 0: required), u8 since_version,
 *   u64 len (stored payload bytes), u64 raw_len, u64 count, u32 codec (0 none, 1 zstd),
 *   u32 crc of the stored payload, u32 crc of the decoded payload, u32 crc of bytes [0,44).
 *   Types: 1 CHUNK (required; zstd; count = keys), 2 TABLE (required; codec none; count =
 *   entries), 3 IDENTITY (v3, optional; codec none; count = epochs). A section whose
 *   since_version is newer than the reader and that the reader does not know is skipped when
 *   optional and refused (KERR_VERSION) when required.
 * TABLE payload: one 32-byte entry per section before it, in file order: u64 off, u64 len,
 *   u64 count, u16 type, u8 flags, u8 since_version, u32 crc_stored (copies of that section's
 *   header, so a reader can skip or refuse a section without reading it).
 * Trailer: "KSNAPEND", u64 table_off, u64 file_len, u32 the header's crc, u32 crc of [0,28).
 * IDENTITY payload (v3): 16-byte data-set id (all zero: unknown), u32 nepochs (0..64, = count),
 *   u32 reserved (0), nepochs x (u64 epoch, u64 first_lsn), oldest first; epochs >= 1 strictly
 *   increasing, first LSNs >= 1 non-decreasing, the last <= header lsn + 1. Later versions may
 *   append bytes (ignored); the payload never exceeds 4096 bytes. At most one per file; this
 *   writer puts it first, at offset 64, so snap_peek() reads it with the header.
 *
 * Decoded CHUNK payload: records back to back, each
 *     u8 tag (bits 0-6 type, bit 7 required) | u8 since_version | varint body_len | body
 *   Key records (required, since 1 unless noted):
 *     1 STRING  body: varint db, varint expire, varint klen, key, varint vlen, value
 *     2 LIST, 4 SET: varint db, varint expire, varint klen, key, varint count,
 *                    count x (varint len, bytes)
 *     3 HASH    as LIST with count pairs: 2*count x (varint len, bytes), field then value
 *     5 ZSET    as LIST, each element followed by its score as an 8-byte IEEE-754 double
 *     7 INTSTR  (since 2) varint db, varint expire, varint klen, key, varint zigzag(int64);
 *               stands for a STRING whose value is that integer in canonical decimal.
 *     9 BLOOM   (since 4) as LIST; the elements are a bloom filter's parts in order: a 32-byte
 *               header, then per sub-filter a 32-byte filter header and its bitmap in pieces
 *               of at most 64 KiB (layout: server/types/t_bloom.h, docs/bloom.md).
 *    10 HASH_TTL (since 4) a hash with field expiries: as LIST with count fields, each three
 *               elements (varint len, bytes): field, value, expiry, where the expiry is 8 bytes
 *               (little-endian int64, absolute unix ms, >= 0) or 0 bytes (the field has none).
 *   where expire = 0 for none, else absolute unix ms + 1.
 *   Other records:
 *     6 META    (optional, since 2) varint lru_or_lfu: access metadata of the key record that
 *               follows it in the same chunk.
 *    11 FUNCTION (required, since 4) varint len, code: a function library (its Lua code, which
 *               names the library); not a key, not counted in the chunk's or header's keys.
 *   An unknown record type is skipped through body_len when bit 7 is clear and refused
 *   (KERR_VERSION, naming its since_version) when set.
 *
 * Versions: v1 has record types 1-5 and no flags. v2 adds META and INTSTR and the two flags.
 *   v3 adds the optional IDENTITY section. v4 adds STREAM, BLOOM, HASH_TTL and FUNCTION; a hash
 *   without field expiries is still a HASH record, and a writer told to produce v1-v3 refuses
 *   those four. A writer told to produce v1 writes INTSTR values as STRING and drops META; told
 *   to produce v1 or v2 it drops the identity. min_reader is the newest since_version among the
 *   required records and sections the file actually holds, so a v2, v3 or v4 file without
 *   integer strings or the v4 records loads in a v1 reader, which skips META records and the
 *   IDENTITY section.
 *
 * Invariants:
 *   1. A key record, and the META before it, lie wholly inside one chunk; so chunks decode
 *      independently and in parallel. A key bigger than the chunk target makes a big chunk.
 *   2. Every byte between offset 64 and the trailer belongs to exactly one section listed in the
 *      table, in file order; the table is the last section and header.table_off points to it.
 *   3. header.keys = sum of the CHUNK counts = key records in the file; header.chunks = CHUNK
 *      entries in the table.
 *   4. The header is written last, after everything else, and the file becomes visible under its
 *      final name only after fsync; a file named *.tmp is never loaded.
 *
 * Life of a file (writer):
 *   [path.tmp created, header zeroed] --write_identity() (v3)--> [IDENTITY at offset 64]
 *     --sink_flush()--> [chunks appended, in any order]
 *     --write_tail()--> [table + trailer + header written] --fsync, rename, fsync dir--> [path]
 *   On any error: unlink(path.tmp).
 *
 * Why the table sits at the end: writer threads stream their chunks as they fill, so neither the
 * number of chunks nor their offsets are known until all threads finish, and buffering the whole
 * snapshot in memory to put a table first is not an option in a forked child. The header is
 * fixed-size and rewritten last (the file is private until the rename), so a reader still finds
 * everything from the first 64 bytes; the trailer lets a reader detect truncation with one read.
 */
#include "snapshot_int.h"

#include <inttypes.h>
#include <stdio.h>

#include "crc32c.h"

void
snap_hdr_seal(snap_file_hdr_t *h) {
    h->crc = crc32c(h, offsetof(snap_file_hdr_t, crc));
}

void
snap_sec_seal(snap_sec_hdr_t *s) {
    s->crc = crc32c(s, offsetof(snap_sec_hdr_t, crc));
}

void
snap_trailer_seal(snap_trailer_t *t) {
    t->crc = crc32c(t, offsetof(snap_trailer_t, crc));
}

int
snap_hdr_valid(const snap_file_hdr_t *h) {
    return h->crc == crc32c(h, offsetof(snap_file_hdr_t, crc));
}

int
snap_sec_valid(const snap_sec_hdr_t *s) {
    return s->magic == SNAP_SEC_MAGIC && s->crc == crc32c(s, offsetof(snap_sec_hdr_t, crc));
}

int
snap_trailer_valid(const snap_trailer_t *t) {
    return memcmp(t->magic, SNAP_TRAILER_MAGIC, 8) == 0 &&
           t->crc == crc32c(t, offsetof(snap_trailer_t, crc));
}

uint64_t
snap_flags_known(uint32_t v) {
    return v >= 4   ? SNAP_F_KNOWN_V4
           : v >= 3 ? SNAP_F_KNOWN_V3
           : v >= 2 ? SNAP_F_KNOWN_V2
                    : SNAP_F_KNOWN_V1;
}

int
snap_id_is_zero(const uint8_t id[SNAP_ID_BYTES]) {
    uint8_t any = 0;
    for (int i = 0; i < SNAP_ID_BYTES; i++)
        any |= id[i];
    return any == 0;
}

char *
snap_id_hex(const uint8_t id[SNAP_ID_BYTES], char *out) {
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < SNAP_ID_BYTES; i++) {
        out[2 * i] = digits[id[i] >> 4];
        out[2 * i + 1] = digits[id[i] & 15];
    }
    out[2 * SNAP_ID_BYTES] = '\0';
    return out;
}

size_t
snap_ident_encode(const snap_identity_t *id, unsigned char *out) {
    snap_ident_hdr_t h = {.nepochs = id->nepochs};
    memcpy(h.id, id->id, SNAP_ID_BYTES);
    memcpy(out, &h, sizeof h);
    memcpy(out + sizeof h, id->epochs, (size_t)id->nepochs * sizeof(snap_epoch_t));
    return SNAP_IDENT_LEN(id->nepochs);
}

const char *
snap_ident_decode(const unsigned char *p, size_t len, uint64_t count, snap_identity_t *out) {
    snap_ident_hdr_t h;

    memset(out, 0, sizeof *out);
    if (len < sizeof h)
        return "shorter than its fixed part";
    memcpy(&h, p, sizeof h);
    if (h.nepochs > SNAP_EPOCHS_MAX)
        return "more epochs than the format's 64";
    if (h.nepochs != count)
        return "epoch count differs from its section header's";
    if (len < SNAP_IDENT_LEN(h.nepochs))
        return "shorter than its epochs";
    memcpy(out->id, h.id, SNAP_ID_BYTES);
    out->nepochs = h.nepochs;
    memcpy(out->epochs, p + sizeof h, (size_t)h.nepochs * sizeof(snap_epoch_t));
    return NULL;
}

const char *
snap_ident_rules(const snap_identity_t *id, uint64_t lsn) {
    if (id->nepochs > SNAP_EPOCHS_MAX)
        return "more epochs than SNAP_EPOCHS_MAX";
    for (uint32_t i = 0; i < id->nepochs; i++) {
        const snap_epoch_t *e = &id->epochs[i];
        if (e->epoch == 0 || e->first_lsn == 0)
            return "an epoch numbered 0 or starting at LSN 0";
        if (i > 0 && e->epoch <= e[-1].epoch)
            return "epoch numbers not strictly increasing";
        if (i > 0 && e->first_lsn < e[-1].first_lsn)
            return "epoch first LSNs decreasing";
    }
    /* lsn + 1 is the next record's LSN: an epoch may begin there (a promotion with no write
     * yet), never later, or the snapshot would hold the history of a log it does not contain. */
    if (id->nepochs > 0 && id->epochs[id->nepochs - 1].first_lsn - 1 > lsn)
        return "an epoch starting after the snapshot's LSN + 1";
    return NULL;
}

int
snap_intstr_parse(const void *s, size_t n, int64_t *out) {
    const char *p = s;
    char buf[24];
    int64_t v = 0;
    size_t i = 0;
    int neg = 0;

    /* Only the canonical form round-trips: no '+', no leading zeros, no "-0", no spaces. */
    if (n == 0 || n > 20)
        return 0;
    if (p[0] == '-') {
        neg = 1;
        i = 1;
        if (n == 1)
            return 0;
    }
    if (p[i] == '0' && n > i + 1)
        return 0;
    for (; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 0;
        int d = p[i] - '0';
        /* Accumulate negatively so that INT64_MIN parses without overflow. */
        if (v < (INT64_MIN + d) / 10)
            return 0;
        v = v * 10 - d;
    }
    if (!neg) {
        if (v == INT64_MIN)
            return 0;
        v = -v;
    }
    if (neg && v == 0)
        return 0;
    /* Cheap to confirm, and the encoding must never change a value. */
    int len = snprintf(buf, sizeof buf, "%" PRId64, v);
    if ((size_t)len != n || memcmp(buf, p, n) != 0)
        return 0;
    *out = v;
    return 1;
}

void
snap_errf(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;

    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}
