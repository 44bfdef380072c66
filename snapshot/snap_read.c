/*
 * snap_read.c - the snapshot reader: checks the header, trailer and table of a file (format:
 * snap_format.c), then decodes its chunks on several threads and hands each key to a callback.
 *
 * Order of checks, cheapest first, so that a damaged or foreign file is refused before any
 * thread starts: name (*.tmp) -> magic -> header CRC -> min_reader and required flags ->
 * trailer (catches truncation) -> table section -> table entries (contiguous, unknown required
 * sections refused) -> the identity section (v3). Then each chunk: section header against its
 * table entry, CRC of the stored bytes, decompression, CRC of the decoded bytes, and a full
 * structural pass over its records before the first of them reaches the callback.
 *
 * snap_peek() reads only the header, the trailer and the identity section at offset 64.
 * snap_check_file() (snap_check.c) drives this reader through the internals in snapshot_int.h.
 */
#include "snapshot_int.h"

#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "crc32c.h"
#include "kassert.h"
#include "kerr.h"
#include "kmem.h"

/* One per loader thread: buffers reused from chunk to chunk. */
typedef struct snap_rbuf {
    unsigned char *comp, *raw;
    size_t comp_cap, raw_cap;
    ZSTD_DCtx *dctx;
    unsigned char num[32]; /* an INTSTR value re-encoded as (varint len, digits) */
} snap_rbuf_t;

int
snap_rctx_fail(snap_rctx_t *r, int rc, const char *fmt, ...) {
    va_list ap;
    int first = 0;

    pthread_mutex_lock(&r->lock);
    if (atomic_load(&r->rc) == 0) {
        first = 1;
        atomic_store(&r->rc, rc);
        if (r->err && r->errlen) {
            va_start(ap, fmt);
            vsnprintf(r->err, r->errlen, fmt, ap);
            va_end(ap);
        }
    }
    pthread_mutex_unlock(&r->lock);
    return first;
}

static int
pread_all(int fd, void *p, size_t n, uint64_t off) {
    char *c = p;
    while (n > 0) {
        ssize_t k = pread(fd, c, n, (off_t)off);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return KERR_SYS(errno);
        }
        if (k == 0)
            return KERR_CORRUPT; /* the file shrank under us */
        c += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return 0;
}

/* Accounted (kmem): a load runs inside the server, whose used_memory must see its buffers. The
 * sizes come from section headers whose CRC has been checked, bounded by SNAP_RAW_BYTES_MAX.
 * Never left NULL, not even for an empty chunk: the decoder computes raw + len, and NULL + 0 is
 * undefined behaviour in C. */
static void
grow(unsigned char **p, size_t *cap, size_t n) {
    if (n <= *cap && *p)
        return;
    n = n ? n : 1;
    kfree(*p);
    *p = kmalloc(n);
    *cap = n;
}

/* ---- records ------------------------------------------------------------------------------ */

int
snap_rec_next(snap_rec_t *r, const char **p, size_t *n, double *score) {
    const unsigned char *q = r->priv.p;
    uint64_t len;

    if (r->priv.left == 0)
        return 0;
    if (snap_varint_get(&q, r->priv.end, &len) < 0 || len > (uint64_t)(r->priv.end - q))
        return KERR_CORRUPT;
    *p = (const char *)q;
    *n = (size_t)len;
    q += len;
    if (r->type == SNAP_ZSET) {
        if (r->priv.end - q < 8)
            return KERR_CORRUPT;
        if (score)
            memcpy(score, q, 8);
        q += 8;
    }
    r->priv.p = q;
    r->priv.left--;
    return 1;
}

/* Decodes the common head of a key record: db, expire, key. */
static int
key_head(const unsigned char **p, const unsigned char *end, snap_rec_t *rec) {
    uint64_t db, ex, klen;

    if (snap_varint_get(p, end, &db) < 0 || db > UINT32_MAX || snap_varint_get(p, end, &ex) < 0 ||
        ex > (uint64_t)INT64_MAX || snap_varint_get(p, end, &klen) < 0 ||
        klen > (uint64_t)(end - *p))
        return KERR_CORRUPT;
    rec->db = (uint32_t)db;
    rec->expire_ms = ex == 0 ? SNAP_NO_EXPIRE : (int64_t)(ex - 1);
    rec->key = (const char *)*p;
    rec->klen = (size_t)klen;
    *p += klen;
    return 0;
}

/* Fills rec from the body of a key record of a known type; elements are checked by caller. */
static int
key_record(unsigned type, const unsigned char *p, const unsigned char *end, snap_rec_t *rec,
           snap_rbuf_t *tb) {
    uint64_t v;

    memset(rec, 0, sizeof *rec);
    if (key_head(&p, end, rec) < 0)
        return KERR_CORRUPT;
    rec->priv.end = end;
    if (type == SNAP_REC_INTSTR) {
        char digits[24];
        if (snap_varint_get(&p, end, &v) < 0 || p != end)
            return KERR_CORRUPT;
        int n = snprintf(digits, sizeof digits, "%" PRId64, snap_unzigzag(v));
        tb->num[0] = (unsigned char)n;
        memcpy(tb->num + 1, digits, (size_t)n);
        rec->type = SNAP_STRING;
        rec->count = rec->priv.left = 1;
        rec->priv.p = tb->num;
        rec->priv.end = tb->num + 1 + n;
        return 0;
    }
    rec->type = (int)type; /* SNAP_REC_STRING..ZSET, BLOOM equal SNAP_STRING..ZSET, BLOOM */
    if (type == SNAP_REC_STRING) {
        rec->count = rec->priv.left = 1;
        rec->priv.p = p;
        return 0;
    }
    if (snap_varint_get(&p, end, &v) < 0)
        return KERR_CORRUPT;
    /* Every element takes at least one byte (zset: nine), so a count beyond that is damage and
     * must not make a caller reserve room for it. */
    uint64_t room = (uint64_t)(end - p);
    uint64_t per = type == SNAP_REC_ZSET       ? 9
                   : type == SNAP_REC_HASH_TTL ? 3
                   : type == SNAP_REC_HASH     ? 2
                                               : 1;
    if (v > room / per)
        return KERR_CORRUPT;
    rec->count = v;
    rec->priv.left = per <= 3 ? per * v : v;
    rec->priv.p = p;
    return 0;
}

/* Walks every element of rec on a copy: the record must end exactly after its last one. */
static int
elems_check(const snap_rec_t *rec) {
    snap_rec_t it = *rec;
    const char *p;
    size_t n;
    double sc;
    int k;

    uint64_t i = 0;
    while ((k = snap_rec_next(&it, &p, &n, &sc)) == 1) {
        if (rec->type == SNAP_ZSET && sc != sc)
            return KERR_CORRUPT;
        /* A field's expiry: none (0 bytes) or an int64 (8 bytes; the loader checks >= 0). */
        if (rec->type == SNAP_HASH_TTL && i++ % 3 == 2 && n != 0 && n != SNAP_FIELD_TTL_BYTES)
            return KERR_CORRUPT;
    }
    return k < 0 || it.priv.p != it.priv.end ? KERR_CORRUPT : 0;
}

const char *
snap_rec_type_name(unsigned t) {
    static const char *names[] = {"?",    "string", "list",   "hash",  "set",      "zset",
                                  "meta", "intstr", "stream", "bloom", "hash_ttl", "function"};
    return t < sizeof names / sizeof names[0] ? names[t] : "unknown";
}

typedef struct chunk_state {
    uint64_t off, keys; /* file offset of the chunk; keys applied so far */
    size_t table_idx;   /* the chunk's index in the table */
    uint32_t meta;      /* META value waiting for its key record */
    int has_meta;
} chunk_state_t;

/* Decodes one record at *pp and applies it if it is a key; advances *pp past it. */
static int
decode_record(snap_rctx_t *r, int thread, snap_rbuf_t *tb, chunk_state_t *cs,
              const unsigned char **pp, const unsigned char *end, size_t at) {
    const unsigned char *p = *pp;
    uint64_t blen, v;
    snap_rec_t rec;
    int rc;

    if (end - p < 2)
        return KERR_CORRUPT;
    unsigned tag = p[0], type = tag & SNAP_REC_TYPE_MASK, since = p[1];
    p += 2;
    if (snap_varint_get(&p, end, &blen) < 0 || blen > (uint64_t)(end - p))
        return KERR_CORRUPT;
    const unsigned char *body = p, *bend = p + blen;
    *pp = bend;
    unsigned known = snap_rec_since(type);
    if (!known || known > r->reader_version) {
        if (!(tag & SNAP_REC_F_REQUIRED))
            return 0; /* an optional record of a later version: skip it */
        if (since > r->reader_version)
            snap_rctx_fail(
                r, KERR_VERSION,
                "snapshot %s: chunk at offset %" PRIu64 ": record type %u at byte %zu is "
                "required and needs snapshot reader version %u; this reader is version %u",
                r->path, cs->off, type, at, since, r->reader_version);
        else /* e.g. tests/data/snapshot-v3-required.ksnap, made before v3 was defined */
            snap_rctx_fail(
                r, KERR_VERSION,
                "snapshot %s: chunk at offset %" PRIu64 ": record type %u at byte %zu is "
                "required, says format version %u introduced it, and this reader of version %u "
                "does not know it (another writer's extension, or damage)",
                r->path, cs->off, type, at, since, r->reader_version);
        return KERR_VERSION;
    }
    if (type == SNAP_REC_META) {
        if (cs->has_meta || snap_varint_get(&body, bend, &v) < 0 || body != bend || v > UINT32_MAX)
            return KERR_CORRUPT;
        cs->meta = (uint32_t)v;
        cs->has_meta = 1;
        return 0;
    }
    if (type == SNAP_REC_FUNCTION) { /* not a key: handed over, not counted */
        if (cs->has_meta || snap_varint_get(&body, bend, &v) < 0 || v != (uint64_t)(bend - body))
            return KERR_CORRUPT;
        memset(&rec, 0, sizeof rec);
        rec.type = SNAP_FUNCTION;
        rec.key = (const char *)body;
        rec.klen = (size_t)v;
        rec.expire_ms = SNAP_NO_EXPIRE;
        snap_rec_pos_t fpos = {.chunk_off = cs->off,
                               .table_idx = cs->table_idx,
                               .key_no = UINT64_MAX,
                               .at = at};
        rc =
            r->apply_at ? r->apply_at(r->ctx, thread, &rec, &fpos) : r->apply(r->ctx, thread, &rec);
        if (rc != 0) {
            rc = rc < 0 ? rc : KERR_FAILED;
            snap_rctx_fail(r, rc, "snapshot %s: load stopped by the apply callback: %s", r->path,
                           kerr_str(rc));
        }
        return rc;
    }
    if (key_record(type, body, bend, &rec, tb) < 0 || elems_check(&rec) < 0)
        return KERR_CORRUPT;
    rec.meta = cs->meta;
    rec.has_meta = cs->has_meta;
    cs->has_meta = 0;
    snap_rec_pos_t pos = {.chunk_off = cs->off,
                          .table_idx = cs->table_idx,
                          .key_no = cs->keys++,
                          .at = at};
    rc = r->apply_at ? r->apply_at(r->ctx, thread, &rec, &pos) : r->apply(r->ctx, thread, &rec);
    if (rc != 0) {
        rc = rc < 0 ? rc : KERR_FAILED;
        snap_rctx_fail(r, rc, "snapshot %s: load stopped by the apply callback: %s", r->path,
                       kerr_str(rc));
        return rc;
    }
    return 0;
}

/* Decodes the records of one decoded chunk (tb->raw, len bytes) and applies its keys. */
static int
decode_chunk(snap_rctx_t *r, int thread, snap_rbuf_t *tb, size_t len, size_t idx) {
    const unsigned char *base = tb->raw, *p = tb->raw, *end = tb->raw + len;
    uint64_t off = r->table[idx].off, nkeys = r->table[idx].count;
    chunk_state_t cs = {.off = off, .table_idx = idx};
    int rc;

    while (p < end) {
        size_t at = (size_t)(p - base);
        rc = decode_record(r, thread, tb, &cs, &p, end, at);
        if (rc == KERR_CORRUPT) {
            snap_rctx_fail(r, rc,
                           "snapshot %s: chunk at offset %" PRIu64
                           ": malformed %s record at byte %zu "
                           "of the decoded chunk",
                           r->path, off, snap_rec_type_name(base[at] & SNAP_REC_TYPE_MASK), at);
        }
        if (rc < 0)
            return rc;
    }
    if (cs.has_meta || cs.keys != nkeys) {
        snap_rctx_fail(r, KERR_CORRUPT,
                       "snapshot %s: chunk at offset %" PRIu64 ": holds %" PRIu64
                       " keys, its header "
                       "says %" PRIu64 "%s",
                       r->path, off, cs.keys, nkeys,
                       cs.has_meta ? " and it ends in a dangling meta record" : "");
        return KERR_CORRUPT;
    }
    return 0;
}

/* ---- chunks and threads ------------------------------------------------------------------- */

/* Reads, verifies and decodes chunk table[idx], then applies its keys. */
static int
load_chunk(snap_rctx_t *r, int thread, snap_rbuf_t *tb, size_t idx) {
    const snap_table_ent_t *e = &r->table[idx];
    snap_sec_hdr_t h;
    const char *what;
    int rc;

    if ((rc = pread_all(r->fd, &h, sizeof h, e->off)) < 0) {
        what = "cannot read the section header";
        goto fail;
    }
    what = "section header checksum mismatch or not matching the table";
    if (!snap_sec_valid(&h) || h.type != e->type || h.len != e->len || h.count != e->count ||
        h.crc_stored != e->crc_stored || h.codec != SNAP_CODEC_ZSTD ||
        h.raw_len > SNAP_RAW_BYTES_MAX)
        goto corrupt;
    grow(&tb->comp, &tb->comp_cap, h.len);
    if ((rc = pread_all(r->fd, tb->comp, h.len, e->off + sizeof h)) < 0) {
        what = "cannot read the chunk";
        goto fail;
    }
    what = "checksum mismatch over the compressed bytes";
    if (crc32c(tb->comp, h.len) != h.crc_stored)
        goto corrupt;
    /* The decode buffer is sized from raw_len only once the stored bytes are known good, and the
     * frame's own content size (when it states one) must agree: kmalloc aborts rather than fail,
     * so a big allocation must rest on more than one header field. */
    unsigned long long fcs = ZSTD_getFrameContentSize(tb->comp, h.len);
    what = "not a zstd frame of the decoded length its header states";
    if (fcs != ZSTD_CONTENTSIZE_UNKNOWN && fcs != h.raw_len)
        goto corrupt;
    grow(&tb->raw, &tb->raw_cap, h.raw_len);
    size_t n = ZSTD_decompressDCtx(tb->dctx, tb->raw, h.raw_len, tb->comp, h.len);
    what = "zstd cannot decompress it to its stated length";
    if (ZSTD_isError(n) || n != h.raw_len)
        goto corrupt;
    what = "checksum mismatch over the decompressed bytes";
    if (crc32c(tb->raw, n) != h.crc_raw)
        goto corrupt;
    return decode_chunk(r, thread, tb, n, idx);
corrupt:
    rc = KERR_CORRUPT;
fail:
    snap_rctx_fail(r, rc, "snapshot %s: chunk at offset %" PRIu64 ": %s (%s)", r->path, e->off,
                   what, kerr_str(rc));
    return rc;
}

typedef struct load_arg {
    snap_rctx_t *r;
    int thread;
    pthread_t tid;
} load_arg_t;

static int
rbuf_init(snap_rctx_t *r, snap_rbuf_t *tb) {
    memset(tb, 0, sizeof *tb);
    /* zstd allocates its context itself (raw, not accounted): a custom allocator needs zstd's
     * static-linking-only API, which the shared library does not promise. */
    if (!(tb->dctx = ZSTD_createDCtx())) {
        snap_rctx_fail(r, KERR_NOMEM, "snapshot %s: zstd context: %s", r->path,
                       kerr_str(KERR_NOMEM));
        return KERR_NOMEM;
    }
    return 0;
}

static void
rbuf_free(snap_rbuf_t *tb) {
    ZSTD_freeDCtx(tb->dctx);
    kfree(tb->comp);
    kfree(tb->raw);
}

static void *
load_main(void *arg) {
    load_arg_t *a = arg;
    snap_rctx_t *r = a->r;
    snap_rbuf_t tb;

    if (rbuf_init(r, &tb) < 0)
        return NULL;
    while (atomic_load_explicit(&r->rc, memory_order_relaxed) == 0) {
        size_t i = atomic_fetch_add(&r->next, 1);
        if (i >= r->nchunks || load_chunk(r, a->thread, &tb, r->chunks[i]) < 0)
            break;
    }
    rbuf_free(&tb);
    return NULL;
}

int
snap_rctx_chunk(snap_rctx_t *r, size_t table_idx) {
    snap_rbuf_t tb;
    int rc;

    ASSERT(table_idx < r->ntable && r->table[table_idx].type == SNAP_SEC_CHUNK);
    if ((rc = rbuf_init(r, &tb)) < 0)
        return rc;
    rc = load_chunk(r, 0, &tb, table_idx);
    rbuf_free(&tb);
    return rc;
}

int
snap_rctx_run(snap_rctx_t *r, int n) {
    load_arg_t args[SNAP_THREADS_MAX];
    int started = 1;

    if ((size_t)n > r->nchunks)
        n = r->nchunks > 0 ? (int)r->nchunks : 1; /* an idle thread would only cost a start */
    for (int i = 1; i < n; i++, started++) {
        args[i] = (load_arg_t){.r = r, .thread = i};
        int e = pthread_create(&args[i].tid, NULL, load_main, &args[i]);
        if (e) {
            snap_rctx_fail(r, KERR_SYS(e), "snapshot %s: starting a loader thread: %s", r->path,
                           strerror(e));
            break;
        }
    }
    args[0] = (load_arg_t){.r = r, .thread = 0};
    load_main(&args[0]);
    for (int i = 1; i < started; i++)
        pthread_join(args[i].tid, NULL);
    return atomic_load(&r->rc);
}

/* ---- opening: header, trailer, table, identity -------------------------------------------- */

/* Magic, length and CRC of the header in r->hdr; fills info from it. */
static int
check_header(snap_rctx_t *r, snap_info_t *info, char *err, size_t errlen) {
    snap_file_hdr_t *h = &r->hdr;

    if (r->file_len < 8 || memcmp(h->magic, SNAP_MAGIC, 8) != 0) {
        snap_errf(err, errlen, "%s: not a snapshot file (bad magic at offset 0)", r->path);
        return KERR_FORMAT;
    }
    if (r->file_len < sizeof *h) {
        snap_errf(err, errlen, "snapshot %s: truncated at offset %" PRIu64 ", inside the header",
                  r->path, r->file_len);
        return KERR_CORRUPT;
    }
    if (!snap_hdr_valid(h)) {
        snap_errf(err, errlen, "snapshot %s: header checksum mismatch at offset 0", r->path);
        return KERR_CORRUPT;
    }
    if (info)
        *info = (snap_info_t){.version = h->version,
                              .min_reader = h->min_reader,
                              .lsn = h->lsn,
                              .keys = h->keys,
                              .time_ms = h->time_ms,
                              .chunks = h->chunks,
                              .flags = h->flags};
    return 0;
}

/* Whether this reader may load the file the header describes. */
static int
check_loadable(snap_rctx_t *r, char *err, size_t errlen) {
    const snap_file_hdr_t *h = &r->hdr;

    if (h->min_reader > r->reader_version) {
        snap_errf(err, errlen,
                  "snapshot %s: format version %u needs snapshot reader version %u or newer; "
                  "this reader is version %u",
                  r->path, h->version, h->min_reader, r->reader_version);
        return KERR_VERSION;
    }
    uint64_t unknown = h->flags & SNAP_F_REQUIRED_MASK & ~snap_flags_known(r->reader_version);
    if (unknown) {
        snap_errf(err, errlen,
                  "snapshot %s: uses required features 0x%" PRIx64 " that snapshot reader "
                  "version %u does not know (format version %u)",
                  r->path, unknown, r->reader_version, h->version);
        return KERR_VERSION;
    }
    return 0;
}

static int
check_trailer(snap_rctx_t *r, char *err, size_t errlen) {
    snap_trailer_t t;
    uint64_t min_len = sizeof(snap_file_hdr_t) + sizeof(snap_sec_hdr_t) + sizeof t;
    int rc;

    if (r->file_len < min_len) {
        snap_errf(err, errlen,
                  "snapshot %s: truncated at offset %" PRIu64 ", too short for a "
                  "table and trailer",
                  r->path, r->file_len);
        return KERR_CORRUPT;
    }
    uint64_t at = r->file_len - sizeof t;
    if ((rc = pread_all(r->fd, &t, sizeof t, at)) < 0)
        return rc;
    if (!snap_trailer_valid(&t) || t.file_len != r->file_len || t.hdr_crc != r->hdr.crc ||
        t.table_off != r->hdr.table_off) {
        snap_errf(err, errlen,
                  "snapshot %s: no valid trailer at offset %" PRIu64 " (file truncated, "
                  "extended or damaged; the header says the table is at %" PRIu64 ")",
                  r->path, at, r->hdr.table_off);
        return KERR_CORRUPT;
    }
    return 0;
}

/* Sorts table entry i: a chunk, the identity, or a section to skip or refuse. */
static int
table_entry(snap_rctx_t *r, size_t i, char *err, size_t errlen) {
    const snap_table_ent_t *e = &r->table[i];
    unsigned since = snap_sec_since(e->type);

    if (e->type == SNAP_SEC_CHUNK) {
        r->chunks[r->nchunks++] = i;
        return 0;
    }
    if (since && since <= r->reader_version) {
        if (e->type == SNAP_SEC_IDENTITY && r->ident_idx == SIZE_MAX) {
            r->ident_idx = i;
            return 0;
        }
        snap_errf(err, errlen, "snapshot %s: a second %s section at offset %" PRIu64, r->path,
                  e->type == SNAP_SEC_IDENTITY ? "identity" : "table", e->off);
        return KERR_CORRUPT;
    }
    if (e->flags & SNAP_SEC_F_REQUIRED) {
        snap_errf(err, errlen,
                  "snapshot %s: section type %u at offset %" PRIu64 " is required and needs "
                  "snapshot reader version %u; this reader is version %u",
                  r->path, e->type, e->off, e->since_version, r->reader_version);
        return KERR_VERSION;
    }
    return 0; /* an optional section of a later version, skipped unread */
}

/* Reads the TABLE section and decides, per section, to decode, skip or refuse. */
static int
read_table(snap_rctx_t *r, char *err, size_t errlen) {
    snap_sec_hdr_t t;
    uint64_t off = r->hdr.table_off, keys = 0, next = sizeof(snap_file_hdr_t);
    int rc;

    if (off < next || off > r->file_len - sizeof t - sizeof(snap_trailer_t))
        goto bad_table;
    if ((rc = pread_all(r->fd, &t, sizeof t, off)) < 0)
        return rc;
    if (!snap_sec_valid(&t) || t.type != SNAP_SEC_TABLE || t.codec != SNAP_CODEC_NONE ||
        t.len != t.count * sizeof(snap_table_ent_t) || t.count > SIZE_MAX / sizeof *r->table ||
        off + sizeof t + t.len + sizeof(snap_trailer_t) != r->file_len)
        goto bad_table;
    r->ntable = (size_t)t.count;
    /* t.len fits in the file (checked above), so this is no bigger than the file. */
    r->table = kmalloc(t.len);
    r->chunks = kmalloc(r->ntable * sizeof *r->chunks);
    if ((rc = pread_all(r->fd, r->table, t.len, off + sizeof t)) < 0)
        return rc;
    if (crc32c(r->table, t.len) != t.crc_stored)
        goto bad_table;
    for (size_t i = 0; i < r->ntable; i++) {
        const snap_table_ent_t *e = &r->table[i];
        if (e->off != next || off - next < sizeof t || e->len > off - next - sizeof t) {
            snap_errf(err, errlen,
                      "snapshot %s: table entry %zu names offset %" PRIu64 ", expected %" PRIu64,
                      r->path, i, e->off, next);
            return KERR_CORRUPT;
        }
        next = e->off + sizeof t + e->len;
        if (e->type == SNAP_SEC_CHUNK)
            keys += e->count;
        if ((rc = table_entry(r, i, err, errlen)) < 0)
            return rc;
    }
    if (next != off || keys != r->hdr.keys || r->nchunks != r->hdr.chunks) {
        snap_errf(err, errlen,
                  "snapshot %s: the table at offset %" PRIu64 " lists %zu chunks "
                  "and %" PRIu64 " keys ending at %" PRIu64 "; the header says %u chunks, %" PRIu64
                  " keys",
                  r->path, off, r->nchunks, keys, next, r->hdr.chunks, r->hdr.keys);
        return KERR_CORRUPT;
    }
    return 0;
bad_table:
    snap_errf(err, errlen, "snapshot %s: bad table section at offset %" PRIu64, r->path, off);
    return KERR_CORRUPT;
}

/* Checks an IDENTITY section (header h at offset off, payload p) and decodes it into r->ident. */
static int
ident_parse(snap_rctx_t *r, const snap_sec_hdr_t *h, const unsigned char *p, uint64_t off,
            char *err, size_t errlen) {
    const char *why = NULL;

    if (h->codec != SNAP_CODEC_NONE || h->raw_len != h->len || h->crc_raw != h->crc_stored)
        why = "not stored plainly (codec, lengths or checksums differ)";
    else if (crc32c(p, h->len) != h->crc_stored)
        why = "checksum mismatch over its payload";
    else if (!(why = snap_ident_decode(p, h->len, h->count, &r->ident)))
        why = snap_ident_rules(&r->ident, r->hdr.lsn);
    if (!why)
        return 0;
    memset(&r->ident, 0, sizeof r->ident);
    snap_errf(err, errlen, "snapshot %s: identity section at offset %" PRIu64 ": %s", r->path, off,
              why);
    return KERR_CORRUPT;
}

/* Reads and checks the IDENTITY section the table lists, if it lists one. */
static int
read_identity(snap_rctx_t *r, char *err, size_t errlen) {
    unsigned char buf[sizeof(snap_sec_hdr_t) + SNAP_IDENT_LEN_MAX];
    snap_sec_hdr_t h;
    int rc;

    if (r->ident_idx == SIZE_MAX)
        return 0;
    const snap_table_ent_t *e = &r->table[r->ident_idx];
    if (e->len > SNAP_IDENT_LEN_MAX) {
        snap_errf(err, errlen,
                  "snapshot %s: identity section at offset %" PRIu64 ": %" PRIu64 " bytes, "
                  "more than the format's %u",
                  r->path, e->off, e->len, SNAP_IDENT_LEN_MAX);
        return KERR_CORRUPT;
    }
    if ((rc = pread_all(r->fd, buf, sizeof h + e->len, e->off)) < 0) {
        snap_errf(err, errlen,
                  "snapshot %s: reading the identity section at offset %" PRIu64 ": %s", r->path,
                  e->off, kerr_str(rc));
        return rc;
    }
    memcpy(&h, buf, sizeof h);
    if (!snap_sec_valid(&h) || h.type != e->type || h.flags != e->flags || h.len != e->len ||
        h.count != e->count || h.crc_stored != e->crc_stored) {
        snap_errf(err, errlen,
                  "snapshot %s: identity section at offset %" PRIu64 ": section header checksum "
                  "mismatch or not matching the table",
                  r->path, e->off);
        return KERR_CORRUPT;
    }
    return ident_parse(r, &h, buf + sizeof h, e->off, err, errlen);
}

/* The part of opening shared by every entry point: name, open, size. */
static int
rctx_init(snap_rctx_t *r, const char *path, uint32_t reader_version, char *err, size_t errlen) {
    size_t plen = strlen(path);
    struct stat sb;
    int rc;

    memset(r, 0, sizeof *r);
    r->path = path;
    r->fd = -1;
    r->reader_version = reader_version;
    r->ident_idx = SIZE_MAX;
    r->err = err;
    r->errlen = errlen;
    pthread_mutex_init(&r->lock, NULL);
    if (plen >= 4 && strcmp(path + plen - 4, ".tmp") == 0) {
        snap_errf(err, errlen,
                  "snapshot %s: a temporary file of an unfinished write; refusing "
                  "to load it",
                  path);
        return KERR_INVAL;
    }
    if ((r->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(r->fd, &sb) < 0) {
        rc = KERR_SYS(errno);
        snap_errf(err, errlen, "snapshot %s: %s", path, strerror(errno));
        return rc;
    }
    r->file_len = (uint64_t)sb.st_size;
    return 0;
}

/* Reads the first n bytes of the file into buf, which holds at least the header. */
static int
read_head(snap_rctx_t *r, void *buf, size_t n, char *err, size_t errlen) {
    int rc;

    if (r->file_len < n)
        n = (size_t)r->file_len;
    if ((rc = pread_all(r->fd, buf, n, 0)) < 0) {
        snap_errf(err, errlen, "snapshot %s: reading the header: %s", r->path, kerr_str(rc));
        return rc;
    }
    memcpy(&r->hdr, buf, n < sizeof r->hdr ? n : sizeof r->hdr);
    return (int)n;
}

int
snap_rctx_open(snap_rctx_t *r, const char *path, uint32_t reader_version, snap_info_t *info,
               char *err, size_t errlen) {
    snap_file_hdr_t h = {0};
    int rc;

    if ((rc = rctx_init(r, path, reader_version, err, errlen)) < 0 ||
        (rc = read_head(r, &h, sizeof h, err, errlen)) < 0)
        return rc;
    if ((rc = check_header(r, info, err, errlen)) < 0 ||
        (rc = check_loadable(r, err, errlen)) < 0 || (rc = check_trailer(r, err, errlen)) < 0)
        return rc;
    if ((rc = read_table(r, err, errlen)) < 0) {
        if (rc > KERR__BASE) /* a system error: the checks name their own failures */
            snap_errf(err, errlen, "snapshot %s: reading the table: %s", path, kerr_str(rc));
        return rc;
    }
    /* Versions 1 and 2 have no identity (an IDENTITY section there is ignored, as snap_peek
     * ignores it: both must tell the same data set). */
    if (r->hdr.version >= 3 && (rc = read_identity(r, err, errlen)) == 0 && info)
        info->identity = r->ident;
    return rc;
}

void
snap_rctx_close(snap_rctx_t *r) {
    if (r->fd >= 0)
        close(r->fd);
    kfree(r->table);
    kfree(r->chunks);
    pthread_mutex_destroy(&r->lock);
}

int
snap_load_ex(const char *path, int nthreads, uint32_t reader_version, snap_apply_cb apply,
             void *ctx, snap_info_t *info, char *err, size_t errlen) {
    snap_rctx_t r;
    int rc;

    if (nthreads < 0 || nthreads > SNAP_THREADS_MAX || !apply) {
        snap_errf(err, errlen, "snapshot load: bad arguments");
        return KERR_INVAL;
    }
    if ((rc = snap_rctx_open(&r, path, reader_version, info, err, errlen)) == 0) {
        r.apply = apply;
        r.ctx = ctx;
        rc = snap_rctx_run(&r, nthreads > 0 ? nthreads : 1);
    }
    snap_rctx_close(&r);
    return rc;
}

int
snap_load(const char *path, int nthreads, snap_apply_cb apply, void *ctx, snap_info_t *info,
          char *err, size_t errlen) {
    return snap_load_ex(path, nthreads, SNAP_FORMAT_VERSION_MAX, apply, ctx, info, err, errlen);
}

int
snap_read_info(const char *path, snap_info_t *info, char *err, size_t errlen) {
    snap_rctx_t r;
    int rc = snap_rctx_open(&r, path, SNAP_FORMAT_VERSION_MAX, info, err, errlen);
    snap_rctx_close(&r);
    return rc;
}

/* ---- snap_peek ----------------------------------------------------------------------------- */

/* The header, the section after it and the largest identity payload: one read. */
#define PEEK_HEAD_BYTES (sizeof(snap_file_hdr_t) + sizeof(snap_sec_hdr_t) + SNAP_IDENT_LEN_MAX)

/* The identity of a file of version 3 or later: from the first n bytes in buf when the section
 * at offset 64 is it (where the writer puts it), else through the table. */
static int
peek_identity(snap_rctx_t *r, const unsigned char *buf, size_t n, char *err, size_t errlen) {
    const uint64_t at = sizeof(snap_file_hdr_t);
    snap_sec_hdr_t h;
    int rc;

    if (r->hdr.table_off >= at + sizeof h && n >= at + sizeof h) {
        memcpy(&h, buf + at, sizeof h);
        if (snap_sec_valid(&h) && h.type == SNAP_SEC_IDENTITY && h.len <= SNAP_IDENT_LEN_MAX &&
            at + sizeof h + h.len <= r->hdr.table_off)
            return ident_parse(r, &h, buf + at + sizeof h, at, err, errlen);
    }
    if ((rc = read_table(r, err, errlen)) < 0) {
        if (rc > KERR__BASE)
            snap_errf(err, errlen, "snapshot %s: reading the table: %s", r->path, kerr_str(rc));
        return rc;
    }
    return read_identity(r, err, errlen);
}

static int
peek_file(snap_rctx_t *r, snap_info_t *info, char *err, size_t errlen) {
    unsigned char buf[PEEK_HEAD_BYTES];
    int n, rc;

    if ((n = read_head(r, buf, sizeof buf, err, errlen)) < 0)
        return n;
    if ((rc = check_header(r, info, err, errlen)) < 0 || (rc = check_trailer(r, err, errlen)) < 0)
        return rc;
    /* Versions 1 and 2 have no identity; a file this build cannot load may still tell its own. */
    if (r->hdr.version >= 3 && (rc = peek_identity(r, buf, (size_t)n, err, errlen)) < 0)
        return rc;
    info->identity = r->ident;
    return check_loadable(r, err, errlen);
}

int
snap_peek(const char *path, snap_peek_t *out, char *err, size_t errlen) {
    snap_rctx_t r;
    snap_info_t info = {0};
    int rc;

    if ((rc = rctx_init(&r, path, SNAP_FORMAT_VERSION_MAX, err, errlen)) == 0)
        rc = peek_file(&r, &info, err, errlen);
    *out = (snap_peek_t){.version = info.version,
                         .min_reader = info.min_reader,
                         .lsn = info.lsn,
                         .time_ms = info.time_ms,
                         .keys = info.keys,
                         .flags = info.flags,
                         .chunks = info.chunks,
                         .file_len = r.file_len,
                         .identity = info.identity};
    snap_rctx_close(&r);
    return rc;
}
