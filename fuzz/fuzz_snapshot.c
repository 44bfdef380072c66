/*
 * fuzz_snapshot.c - libFuzzer harness for the snapshot reader (snapshot/): the header, trailer,
 * table and identity checks (snap_peek, snap_read_info), the chunk and record decoders
 * (snap_load on one or two threads, as a reader of format version 1, 2 or 3), and the file
 * checker behind keel-check (snap_check_file_opts).
 *
 * Every byte of a snapshot is under a CRC, and the records are zstd-compressed, so mutating a
 * file only tests the checksums. The first input byte therefore picks how the rest becomes a
 * file:
 *   mode 0  as is;
 *   mode 1  resealed: the header, every section (payload CRCs, decoded CRC and length of a
 *           small zstd payload), the table entries of the sections found and the trailer get
 *           their checksums and cross-references recomputed, so the structure checks behind
 *           the checksums are reached;
 *   mode 2-3 built: the rest is a few header fields, an optional identity, and decoded chunk
 *           bytes (records as the format defines them), which the harness splits into chunks at
 *           record boundaries, compresses and frames into a valid file: the record decoders get
 *           the fuzzer's bytes directly.
 * Byte 0's other bits: 4 load on two threads; 8 check verbose; 16 check without the duplicate
 * key pass; 32-64 the reader version of the load (0: newest); 128 in mode 1 the header's table
 * offset, key and chunk counts are made to agree with the table, in mode 2-3 an identity
 * section is written.
 *
 * Oracles, besides the sanitizers:
 *   - a record handed to apply yields exactly its count of elements (twice for a hash), then 0;
 *   - a file the newest reader loads, snap_peek and snap_read_info accept with the same
 *     fields, and the number of keys applied is the header's;
 *   - a file snap_check_file passes, snap_load loads.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <zstd.h>

#include "crc32c.h"
#include "fuzz_util.h"
#include "kerr.h"
#include "kmem.h"
#include "snapshot.h"
#include "snapshot_int.h"

#define CHUNKS_MAX        4
#define RESEAL_RAW_MAX    (1u << 20) /* largest zstd payload the reseal mode decodes */
#define SECTIONS_RESEALED 64

typedef struct buf {
    uint8_t *p;
    size_t n, cap;
} buf_t;

static void
put(buf_t *b, const void *p, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2;
        b->p = krealloc(b->p, b->cap);
    }
    if (n)
        memcpy(b->p + b->n, p, n);
    b->n += n;
}

/* ---- mode 1: reseal ------------------------------------------------------------------------- */

static void
reseal_section(uint8_t *p, uint64_t off, snap_sec_hdr_t *h) {
    const uint8_t *pay = p + off + sizeof *h;
    h->crc_stored = crc32c(pay, h->len);
    if (h->codec == SNAP_CODEC_ZSTD) {
        unsigned long long fcs = ZSTD_getFrameContentSize(pay, h->len);
        if (fcs != ZSTD_CONTENTSIZE_ERROR && fcs != ZSTD_CONTENTSIZE_UNKNOWN &&
            fcs <= RESEAL_RAW_MAX) {
            uint8_t *raw = kmalloc(fcs ? fcs : 1);
            size_t n = ZSTD_decompress(raw, fcs, pay, h->len);
            if (!ZSTD_isError(n)) {
                h->raw_len = n;
                h->crc_raw = crc32c(raw, n);
            }
            kfree(raw);
        }
    } else {
        h->crc_raw = h->crc_stored;
    }
}

/* Recomputes what can be recomputed; leaves alone what does not frame. */
static void
reseal_file(uint8_t *p, size_t n, bool fix_header) {
    snap_file_hdr_t fh;
    snap_table_ent_t ents[SECTIONS_RESEALED];
    size_t nents = 0;
    uint64_t keys = 0, chunks = 0, table_off = 0;
    if (n < sizeof fh + sizeof(snap_trailer_t))
        return;
    memcpy(&fh, p, sizeof fh);
    uint64_t end = n - sizeof(snap_trailer_t);
    for (uint64_t off = sizeof fh; off + sizeof(snap_sec_hdr_t) <= end;) {
        snap_sec_hdr_t h;
        memcpy(&h, p + off, sizeof h);
        if (h.magic != SNAP_SEC_MAGIC || h.len > end - off - sizeof h)
            break;
        if (h.type == SNAP_SEC_TABLE) {
            snap_table_ent_t e;
            for (size_t i = 0; i < nents && (i + 1) * sizeof e <= h.len; i++) {
                memcpy(&e, p + off + sizeof h + i * sizeof e, sizeof e);
                e = ents[i];
                memcpy(p + off + sizeof h + i * sizeof e, &e, sizeof e);
            }
            table_off = off;
        }
        reseal_section(p, off, &h);
        snap_sec_seal(&h);
        memcpy(p + off, &h, sizeof h);
        if (h.type != SNAP_SEC_TABLE && nents < SECTIONS_RESEALED) {
            ents[nents++] = (snap_table_ent_t){.off = off,
                                               .len = h.len,
                                               .count = h.count,
                                               .type = h.type,
                                               .flags = h.flags,
                                               .since_version = h.since_version,
                                               .crc_stored = h.crc_stored};
            if (h.type == SNAP_SEC_CHUNK) {
                keys += h.count;
                chunks++;
            }
        }
        off += sizeof h + h.len;
    }
    if (fix_header && table_off) {
        fh.table_off = table_off;
        fh.keys = keys;
        fh.chunks = (uint32_t)chunks;
    }
    snap_hdr_seal(&fh);
    memcpy(p, &fh, sizeof fh);
    snap_trailer_t t;
    memcpy(&t, p + end, sizeof t);
    memcpy(t.magic, SNAP_TRAILER_MAGIC, 8);
    t.table_off = fh.table_off;
    t.file_len = n;
    t.hdr_crc = fh.crc;
    snap_trailer_seal(&t);
    memcpy(p + end, &t, sizeof t);
}

/* ---- modes 2-3: build a file around decoded chunk bytes ------------------------------------- */

/* The end of the record at p (its framing only), or NULL when it does not frame; *key says
 * whether it is a key record (known or not: an unknown type counts as none). */
static const uint8_t *
record_end(const uint8_t *p, const uint8_t *end, bool *key) {
    uint64_t blen;
    if (end - p < 2)
        return NULL;
    unsigned type = p[0] & SNAP_REC_TYPE_MASK;
    const uint8_t *q = p + 2;
    if (snap_varint_get(&q, end, &blen) < 0 || blen > (uint64_t)(end - q))
        return NULL;
    *key = (type >= SNAP_REC_STRING && type <= SNAP_REC_ZSET) || type == SNAP_REC_INTSTR ||
           type == SNAP_REC_BLOOM;
    return q + blen;
}

static void
put_section(buf_t *f, buf_t *table, uint16_t type, uint8_t flags, uint8_t since, uint32_t codec,
            const void *stored, size_t len, const void *raw, size_t raw_len, uint64_t count) {
    snap_sec_hdr_t h = {.magic = SNAP_SEC_MAGIC,
                        .type = type,
                        .flags = flags,
                        .since_version = since,
                        .len = len,
                        .raw_len = raw_len,
                        .count = count,
                        .codec = codec,
                        .crc_stored = crc32c(stored, len),
                        .crc_raw = crc32c(raw, raw_len)};
    snap_sec_seal(&h);
    snap_table_ent_t e = {.off = f->n,
                          .len = len,
                          .count = count,
                          .type = type,
                          .flags = flags,
                          .since_version = since,
                          .crc_stored = h.crc_stored};
    if (table) /* NULL for the table itself, which lists every section but itself */
        put(table, &e, sizeof e);
    put(f, &h, sizeof h);
    put(f, stored, len);
}

static void
put_chunk(buf_t *f, buf_t *table, const uint8_t *raw, size_t n, uint64_t keys) {
    size_t cap = ZSTD_compressBound(n);
    uint8_t *z = kmalloc(cap);
    size_t zn = ZSTD_compress(z, cap, raw, n, 1);
    if (ZSTD_isError(zn))
        abort();
    put_section(f, table, SNAP_SEC_CHUNK, SNAP_SEC_F_REQUIRED, 1, SNAP_CODEC_ZSTD, z, zn, raw, n,
                keys);
    kfree(z);
}

static void
build_file(fuzz_in_t *in, bool identity, buf_t *f) {
    uint8_t v = fuzz_u8(in), mr = fuzz_u8(in), fl = fuzz_u8(in), nch = fuzz_u8(in);
    uint8_t skew = fuzz_u8(in);
    snap_file_hdr_t h = {.version = v & 0x80 ? v : 1u + v % 3u,
                         .min_reader = mr & 0x80 ? mr : 1u + mr % 3u,
                         .lsn = fuzz_u64(in),
                         .time_ms = 1700000000000};
    memcpy(h.magic, SNAP_MAGIC, 8);
    h.flags = ((fl & 1) ? SNAP_F_META : 0) | ((fl & 2) ? SNAP_F_INTSTR : 0) |
              ((fl & 4) ? 1ull << 40 : 0) | ((fl & 8) ? 1ull << 5 : 0);
    buf_t table = {0};
    put(f, &h, sizeof h);
    if (identity) {
        snap_identity_t id = {.nepochs = fuzz_u8(in) % 5};
        for (int i = 0; i < SNAP_ID_BYTES; i++)
            id.id[i] = (uint8_t)(i + 1);
        for (uint32_t i = 0; i < id.nepochs; i++) {
            id.epochs[i].epoch = fuzz_u64(in);
            id.epochs[i].first_lsn = fuzz_u64(in);
        }
        unsigned char pay[SNAP_IDENT_LEN_MAX];
        size_t len = snap_ident_encode(&id, pay);
        put_section(f, &table, SNAP_SEC_IDENTITY, 0, 3, SNAP_CODEC_NONE, pay, len, pay, len,
                    id.nepochs);
    }
    /* The records: into 1..CHUNKS_MAX chunks at record boundaries, keys counted per chunk. */
    int want = 1 + nch % CHUNKS_MAX, made = 0;
    size_t per = in->n / (size_t)want + 1;
    const uint8_t *p = in->p, *end = in->p + in->n, *start = p;
    uint64_t keys = 0, total = 0, extra = (skew & 0x80) ? (skew & 3) : 0; /* a wrong count */
    while (p < end) {
        bool key = false;
        const uint8_t *q = record_end(p, end, &key);
        if (!q) /* the unframed rest goes into the last chunk as it is */
            break;
        keys += key;
        p = q;
        if (made < want - 1 && (size_t)(p - start) >= per) {
            put_chunk(f, &table, start, (size_t)(p - start), keys + extra);
            total += keys + extra;
            made++;
            start = p;
            keys = extra = 0;
        }
    }
    if (start < end || made == 0) {
        put_chunk(f, &table, start, (size_t)(end - start), keys + extra);
        total += keys + extra;
        made++;
    }
    h.table_off = f->n;
    h.keys = total;
    h.chunks = (uint32_t)made;
    snap_hdr_seal(&h);
    memcpy(f->p, &h, sizeof h);
    size_t nents = table.n / sizeof(snap_table_ent_t);
    put_section(f, NULL, SNAP_SEC_TABLE, SNAP_SEC_F_REQUIRED, 1, SNAP_CODEC_NONE, table.p, table.n,
                table.p, table.n, nents);
    kfree(table.p);
    snap_trailer_t t = {.table_off = h.table_off, .file_len = f->n + sizeof t, .hdr_crc = h.crc};
    memcpy(t.magic, SNAP_TRAILER_MAGIC, 8);
    snap_trailer_seal(&t);
    put(f, &t, sizeof t);
}

/* ---- the readers ---------------------------------------------------------------------------- */

typedef struct load_ctx {
    _Atomic uint64_t keys, elems;
} load_ctx_t;

static int
apply_cb(void *ctx, int thread, const snap_rec_t *rec) {
    load_ctx_t *c = ctx;
    snap_rec_t it = *rec;
    const char *p;
    size_t n;
    double score;
    /* Elements per record: a hash's pairs, a hash with field expiries' triples, a function
     * library none (its code is the key). */
    uint64_t want = rec->type == SNAP_HASH       ? 2 * rec->count
                    : rec->type == SNAP_HASH_TTL ? 3 * rec->count
                                                 : rec->count,
             got = 0;
    uint8_t x = 0;
    int k;
    FUZZ_CHECK((rec->type >= SNAP_STRING && rec->type <= SNAP_ZSET) || rec->type == SNAP_STREAM ||
               rec->type == SNAP_BLOOM || rec->type == SNAP_HASH_TTL || rec->type == SNAP_FUNCTION);
    FUZZ_CHECK(thread >= 0 && thread < SNAP_THREADS_MAX);
    for (size_t i = 0; i < rec->klen; i++)
        x ^= (uint8_t)rec->key[i];
    while ((k = snap_rec_next(&it, &p, &n, &score)) == 1) {
        for (size_t i = 0; i < n; i++)
            x ^= (uint8_t)p[i];
        got++;
    }
    FUZZ_CHECK(k == 0);
    FUZZ_CHECK(got == want);
    FUZZ_CHECK(rec->type != SNAP_STRING || rec->count == 1);
    FUZZ_CHECK(rec->type != SNAP_FUNCTION || rec->count == 0);
    if (rec->type != SNAP_FUNCTION) /* a library is not a key: the header does not count it */
        atomic_fetch_add(&c->keys, 1);
    atomic_fetch_add(&c->elems, got + (x & 0)); /* x: the bytes were read */
    return 0;
}

static void
read_file(const char *path, uint8_t flags) {
    static const uint32_t versions[4] = {SNAP_FORMAT_VERSION_MAX, 1, 2, 3};
    char err[1024];
    snap_info_t info, ri;
    snap_peek_t pk;
    load_ctx_t lc = {0};
    int threads = (flags & 4) ? 2 : 1;
    uint32_t reader = versions[(flags >> 5) & 3];

    int prc = snap_peek(path, &pk, err, sizeof err);
    int irc = snap_read_info(path, &ri, err, sizeof err);
    int lrc = snap_load_ex(path, threads, reader, apply_cb, &lc, &info, err, sizeof err);
    if (lrc == 0 && reader == SNAP_FORMAT_VERSION_MAX) {
        FUZZ_CHECK(prc == 0 && irc == 0);
        FUZZ_CHECK(pk.lsn == info.lsn && pk.keys == info.keys && pk.version == info.version);
        FUZZ_CHECK(pk.chunks == info.chunks && ri.keys == info.keys);
        FUZZ_CHECK(!memcmp(pk.identity.id, info.identity.id, SNAP_ID_BYTES));
        FUZZ_CHECK(pk.identity.nepochs == info.identity.nepochs);
        FUZZ_CHECK(atomic_load(&lc.keys) == info.keys);
    }
    snap_check_opts_t o = {.verbose = (flags & 8) != 0, .skip_duplicate_keys = (flags & 16) != 0};
    int crc = snap_check_file_opts(path, fuzz_devnull(), &o);
    if (crc == 0 && reader == SNAP_FORMAT_VERSION_MAX)
        FUZZ_CHECK(lrc == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    fuzz_in_t in = {data + 1, size - 1};
    buf_t f = {0};
    if ((flags & 3) >= 2) {
        build_file(&in, (flags & 128) != 0, &f);
    } else {
        put(&f, in.p, in.n);
        if ((flags & 3) == 1)
            reseal_file(f.p, f.n, (flags & 128) != 0);
    }
    char path[300];
    snprintf(path, sizeof path, "%s/fuzz.ksnap", fuzz_dir());
    fuzz_write_file(path, f.p, f.n);
    read_file(path, flags);
    kfree(f.p);
    return 0;
}
