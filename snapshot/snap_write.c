/*
 * snap_write.c - the snapshot writer: sinks that encode keys into chunks, and the threads that
 * compress and append those chunks to one file (format: snap_format.c).
 *
 * Each writer thread owns a sink (raw chunk buffer, compressed buffer, zstd context), so
 * encoding and compression run in parallel without sharing anything. The only shared state is
 * the writer context below, touched once per chunk under its mutex: a chunk reserves its file
 * range and its table entry in one step, so the table is in file order by construction, then
 * writes with pwrite() outside the lock.
 */
#include "snapshot_int.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "crc32c.h"
#include "kassert.h"
#include "kerr.h"
#include "kmem.h"

typedef struct snap_wctx {
    const snap_write_opts_t *o;
    const snap_write_ext_t *x; /* test hooks, or NULL */
    snap_produce_cb produce;
    void *ctx;
    int fd;             /* path.tmp, written with pwrite() by every thread */
    uint32_t version;   /* format version being written */
    int level;          /* zstd level */
    size_t chunk_bytes; /* raw chunk target */
    _Atomic int rc;     /* first error; a sink sees it at its next flush and stops */
    char *err;          /* message of the first error; guarded by lock */
    size_t errlen;
    pthread_mutex_t lock; /* guards everything below */
    uint64_t off;         /* next free file offset */
    snap_table_ent_t *table;
    size_t ntable, table_cap;
    uint64_t keys, bytes_raw; /* totals of chunks written */
    uint32_t chunks;
    uint32_t min_reader; /* max over sinks of required records' since_version */
    uint64_t flags;      /* union over sinks of SNAP_F_* used */
} snap_wctx_t;

struct snap_sink {
    snap_wctx_t *w;
    int rc;             /* sticky error of this sink */
    unsigned char *raw; /* records of the chunk being built */
    size_t raw_len, raw_cap;
    unsigned char *comp; /* its compressed form */
    size_t comp_cap;
    ZSTD_CCtx *cctx;
    uint64_t chunk_keys;
    /* The collection between snap_put_begin() and snap_put_end(); open_type 0 when none. */
    int open_type;
    uint64_t want, got; /* elements promised and given */
    size_t body_start;  /* raw offset of its body, one byte after the reserved length byte */
    uint32_t meta;      /* pending snap_sink_set_meta() value */
    int has_meta;
    uint32_t min_reader;
    uint64_t flags;
};

static void werr(snap_wctx_t *w, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records the first error of the write and its message; later ones are dropped. */
static void
werr(snap_wctx_t *w, int rc, const char *fmt, ...) {
    va_list ap;

    pthread_mutex_lock(&w->lock);
    if (atomic_load(&w->rc) == 0) {
        atomic_store(&w->rc, rc);
        if (w->err && w->errlen) {
            va_start(ap, fmt);
            vsnprintf(w->err, w->errlen, fmt, ap);
            va_end(ap);
        }
    }
    pthread_mutex_unlock(&w->lock);
}

static int
sink_fail(snap_sink_t *s, int rc, const char *what) {
    if (s->rc == 0) {
        s->rc = rc;
        werr(s->w, rc, "snapshot write: %s: %s", what, kerr_str(rc));
    }
    return rc;
}

static int
sink_reserve(snap_sink_t *s, size_t n) {
    if (n > SNAP_RAW_BYTES_MAX - s->raw_len)
        return sink_fail(s, KERR_LIMIT, "key too large for a chunk");
    if (s->raw_len + n <= s->raw_cap)
        return 0;
    size_t cap = s->raw_cap ? s->raw_cap : 4096;
    while (cap < s->raw_len + n)
        cap *= 2;
    s->raw = krealloc(s->raw, cap); /* accounted; in the forked child that only touches its copy */
    s->raw_cap = cap;
    return 0;
}

static inline void
put_varint(snap_sink_t *s, uint64_t v) {
    s->raw_len += snap_varint_put(s->raw + s->raw_len, v);
}

static inline void
put_bytes(snap_sink_t *s, const void *p, size_t n) {
    if (n)
        memcpy(s->raw + s->raw_len, p, n);
    s->raw_len += n;
}

/* Writes all of [p, p+n) at off, through short writes. */
static int
pwrite_all(int fd, const void *p, size_t n, uint64_t off) {
    const char *c = p;
    while (n > 0) {
        ssize_t k = pwrite(fd, c, n, (off_t)off);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return KERR_SYS(errno);
        }
        c += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return 0;
}

/* Reserves the next file range and table entry for a section; returns its offset. */
static uint64_t
table_add(snap_wctx_t *w, const snap_sec_hdr_t *h) {
    uint64_t off;

    pthread_mutex_lock(&w->lock);
    if (w->ntable == w->table_cap) {
        w->table_cap = w->table_cap ? w->table_cap * 2 : 64;
        w->table = krealloc(w->table, w->table_cap * sizeof *w->table);
    }
    off = w->off;
    w->table[w->ntable++] = (snap_table_ent_t){
        .off = w->off,
        .len = h->len,
        .count = h->count,
        .type = h->type,
        .flags = h->flags,
        .since_version = h->since_version,
        .crc_stored = h->crc_stored,
    };
    w->off += sizeof *h + h->len;
    pthread_mutex_unlock(&w->lock);
    return off;
}

/* Appends a section (header + stored payload) to the file. */
static int
write_section(snap_wctx_t *w, snap_sec_hdr_t *h, const void *payload) {
    int rc;

    h->magic = SNAP_SEC_MAGIC;
    h->crc_stored = crc32c(payload, h->len);
    snap_sec_seal(h);
    uint64_t off = table_add(w, h);
    rc = pwrite_all(w->fd, h, sizeof *h, off);
    if (rc == 0)
        rc = pwrite_all(w->fd, payload, h->len, off + sizeof *h);
    return rc;
}

#ifdef KEEL_DEBUG
/* Debug builds check the compressed chunk before it is written, as a reader will after. */
static int
chunk_roundtrips(const void *comp, size_t clen, size_t raw_len, uint32_t crc_raw) {
    void *back = kmalloc(raw_len);
    size_t n = ZSTD_decompress(back, raw_len, comp, clen);
    int ok = !ZSTD_isError(n) && n == raw_len && crc32c(back, n) == crc_raw;
    kfree(back);
    return ok;
}
#endif

/* Compresses and writes the chunk being built, then starts an empty one. */
static int
sink_flush(snap_sink_t *s) {
    snap_wctx_t *w = s->w;
    int rc;

    if (s->rc)
        return s->rc;
    if ((rc = atomic_load_explicit(&w->rc, memory_order_relaxed)) != 0)
        return s->rc = rc;
    if (s->raw_len == 0)
        return 0;
    ASSERT(s->open_type == 0);
    size_t bound = ZSTD_compressBound(s->raw_len);
    if (bound > s->comp_cap) {
        kfree(s->comp);
        s->comp = kmalloc(bound);
        s->comp_cap = bound;
    }
    size_t clen = ZSTD_compressCCtx(s->cctx, s->comp, s->comp_cap, s->raw, s->raw_len, w->level);
    if (ZSTD_isError(clen))
        return sink_fail(s, KERR_FAILED, ZSTD_getErrorName(clen));
    snap_sec_hdr_t h = {
        .type = SNAP_SEC_CHUNK,
        .flags = SNAP_SEC_F_REQUIRED,
        .since_version = 1,
        .len = clen,
        .raw_len = s->raw_len,
        .count = s->chunk_keys,
        .codec = SNAP_CODEC_ZSTD,
        .crc_raw = crc32c(s->raw, s->raw_len),
    };
    DEBUG_ASSERT(chunk_roundtrips(s->comp, clen, s->raw_len, h.crc_raw));
    if ((rc = write_section(w, &h, s->comp)) < 0)
        return sink_fail(s, rc, "writing a chunk");
    pthread_mutex_lock(&w->lock);
    w->keys += s->chunk_keys;
    w->bytes_raw += s->raw_len;
    w->chunks++;
    if (w->o->progress)
        w->o->progress(w->o->progress_ctx, w->keys, w->bytes_raw);
    pthread_mutex_unlock(&w->lock);
    s->raw_len = 0;
    s->chunk_keys = 0;
    return 0;
}

/* Checks that a key may start, and emits the pending META record (v2 only). */
static int
key_start(snap_sink_t *s, size_t klen, int64_t expire_ms) {
    if (s->rc)
        return s->rc;
    if (s->open_type)
        return sink_fail(s, KERR_INVAL, "a key started before the previous one ended");
    if (klen > SNAP_KEY_BYTES_MAX)
        return sink_fail(s, KERR_LIMIT, "key longer than the limit");
    if (expire_ms < 0 && expire_ms != SNAP_NO_EXPIRE)
        return sink_fail(s, KERR_INVAL, "negative expiry time");
    if (!s->has_meta)
        return 0;
    s->has_meta = 0;
    if (s->w->version < 2)
        return 0; /* v1 has no place for access metadata: down-conversion drops it */
    if (sink_reserve(s, 3 + SNAP_VARINT_MAX) < 0)
        return s->rc;
    unsigned char body[SNAP_VARINT_MAX];
    size_t n = snap_varint_put(body, s->meta);
    s->raw[s->raw_len++] = SNAP_REC_META;
    s->raw[s->raw_len++] = 2;
    put_varint(s, n);
    put_bytes(s, body, n);
    s->flags |= SNAP_F_META;
    return 0;
}

static inline uint64_t
expire_enc(int64_t expire_ms) {
    return expire_ms == SNAP_NO_EXPIRE ? 0 : (uint64_t)expire_ms + 1;
}

static size_t
varint_len(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static int
key_done(snap_sink_t *s) {
    s->chunk_keys++;
    if (s->raw_len >= s->w->chunk_bytes)
        return sink_flush(s);
    return 0;
}

int
snap_put_string(snap_sink_t *s, uint32_t db, const void *key, size_t klen, int64_t expire_ms,
                const void *val, size_t vlen) {
    int64_t iv;
    int rc;

    if ((rc = key_start(s, klen, expire_ms)) < 0)
        return rc;
    if (vlen > SNAP_ELEM_BYTES_MAX)
        return sink_fail(s, KERR_LIMIT, "value longer than the limit");
    int as_int = s->w->version >= 2 && snap_intstr_parse(val, vlen, &iv);
    uint64_t ex = expire_enc(expire_ms);
    uint64_t tail = as_int ? snap_zigzag(iv) : vlen;
    size_t body = varint_len(db) + varint_len(ex) + varint_len(klen) + klen + varint_len(tail) +
                  (as_int ? 0 : vlen);
    if (sink_reserve(s, 2 + SNAP_VARINT_MAX + body) < 0)
        return s->rc;
    s->raw[s->raw_len++] = (as_int ? SNAP_REC_INTSTR : SNAP_REC_STRING) | SNAP_REC_F_REQUIRED;
    s->raw[s->raw_len++] = as_int ? 2 : 1;
    put_varint(s, body);
    put_varint(s, db);
    put_varint(s, ex);
    put_varint(s, klen);
    put_bytes(s, key, klen);
    put_varint(s, tail);
    if (as_int) {
        s->flags |= SNAP_F_INTSTR;
        if (s->min_reader < 2)
            s->min_reader = 2;
    } else {
        put_bytes(s, val, vlen);
    }
    return key_done(s);
}

int
snap_put_begin(snap_sink_t *s, int type, uint32_t db, const void *key, size_t klen,
               int64_t expire_ms, uint64_t count) {
    int rc;

    if ((rc = key_start(s, klen, expire_ms)) < 0)
        return rc;
    if ((type < SNAP_LIST || type > SNAP_ZSET) && type != SNAP_BLOOM && type != SNAP_HASH_TTL &&
        type != SNAP_STREAM)
        return sink_fail(s, KERR_INVAL, "snap_put_begin() of a type other than a collection");
    if (type == SNAP_BLOOM && s->w->version < 4)
        return sink_fail(s, KERR_INVAL, "a bloom filter needs snapshot format version 4");
    if (type == SNAP_STREAM && (count != 1 || s->w->version < 4))
        return sink_fail(s, KERR_INVAL,
                         count != 1 ? "a stream record holds one element"
                                    : "a stream needs snapshot format version 4 or later");
    if (type == SNAP_HASH && count > UINT64_MAX / 2)
        return sink_fail(s, KERR_INVAL, "hash pair count");
    if (type == SNAP_HASH_TTL && s->w->version < 4)
        return sink_fail(s, KERR_INVAL,
                         "a hash with field expiries needs snapshot format version 4 or newer");
    if (type == SNAP_HASH_TTL && count > UINT64_MAX / 3)
        return sink_fail(s, KERR_INVAL, "hash field count");
    if (sink_reserve(s, 3 + 4 * SNAP_VARINT_MAX + klen) < 0)
        return s->rc;
    unsigned since = snap_rec_since((unsigned)type);
    s->raw[s->raw_len++] = (unsigned char)type | SNAP_REC_F_REQUIRED;
    s->raw[s->raw_len++] = (unsigned char)since;
    if (since > s->min_reader)
        s->min_reader = since;
    s->raw_len++; /* the body length, one byte if the body turns out short; see snap_put_end() */
    s->body_start = s->raw_len;
    put_varint(s, db);
    put_varint(s, expire_enc(expire_ms));
    put_varint(s, klen);
    put_bytes(s, key, klen);
    put_varint(s, count);
    s->open_type = type;
    s->want = type == SNAP_HASH ? count * 2 : type == SNAP_HASH_TTL ? count * 3 : count;
    s->got = 0;
    return 0;
}

static int
elem_check(snap_sink_t *s, size_t n, int zset) {
    if (s->rc)
        return s->rc;
    if (!s->open_type)
        return sink_fail(s, KERR_INVAL, "element outside snap_put_begin()/snap_put_end()");
    if ((s->open_type == SNAP_ZSET) != zset)
        return sink_fail(s, KERR_INVAL, "snap_put_zelem() is for sorted sets only");
    if (s->got == s->want)
        return sink_fail(s, KERR_INVAL, "more elements than the count given");
    if (n > SNAP_ELEM_BYTES_MAX)
        return sink_fail(s, KERR_LIMIT, "element longer than the limit");
    return sink_reserve(s, SNAP_VARINT_MAX + n + 8);
}

int
snap_put_elem(snap_sink_t *s, const void *p, size_t n) {
    int rc;

    if ((rc = elem_check(s, n, 0)) < 0)
        return rc;
    put_varint(s, n);
    put_bytes(s, p, n);
    s->got++;
    return 0;
}

int
snap_put_zelem(snap_sink_t *s, const void *p, size_t n, double score) {
    int rc;

    if (score != score)
        return sink_fail(s, KERR_INVAL, "NaN score");
    if ((rc = elem_check(s, n, 1)) < 0)
        return rc;
    put_varint(s, n);
    put_bytes(s, p, n);
    put_bytes(s, &score, 8);
    s->got++;
    return 0;
}

int
snap_put_end(snap_sink_t *s) {
    if (s->rc)
        return s->rc;
    if (!s->open_type)
        return sink_fail(s, KERR_INVAL, "snap_put_end() without snap_put_begin()");
    if (s->got != s->want)
        return sink_fail(s, KERR_INVAL, "fewer elements than the count given");
    /* The body length was given one byte; a longer varint shifts the body up. */
    size_t body = s->raw_len - s->body_start;
    size_t vl = varint_len(body);
    if (vl > 1) {
        if (sink_reserve(s, vl - 1) < 0)
            return s->rc;
        memmove(s->raw + s->body_start + vl - 1, s->raw + s->body_start, body);
        s->raw_len += vl - 1;
    }
    snap_varint_put(s->raw + s->body_start - 1, body);
    s->open_type = 0;
    return key_done(s);
}

int
snap_put_function(snap_sink_t *s, const void *code, size_t len) {
    if (s->rc)
        return s->rc;
    if (s->w->version < 4)
        return sink_fail(s, KERR_INVAL, "function libraries need snapshot format version 4");
    if (len > SNAP_ELEM_BYTES_MAX)
        return sink_fail(s, KERR_LIMIT, "function library longer than the limit");
    if (s->open_type)
        return sink_fail(s, KERR_INVAL, "a function inside a key");
    if (sink_reserve(s, 2 + 2 * SNAP_VARINT_MAX + len) < 0)
        return s->rc;
    s->raw[s->raw_len++] = SNAP_REC_FUNCTION | SNAP_REC_F_REQUIRED;
    s->raw[s->raw_len++] = 4;
    put_varint(s, varint_len(len) + len);
    put_varint(s, len);
    put_bytes(s, code, len);
    if (s->min_reader < 4)
        s->min_reader = 4;
    return 0;
}

void
snap_sink_set_meta(snap_sink_t *s, uint32_t lru_or_lfu) {
    s->meta = lru_or_lfu;
    s->has_meta = 1;
}

int
snap_sink_put_raw(snap_sink_t *s, unsigned type, int required, unsigned since, const void *body,
                  size_t n) {
    if (s->rc)
        return s->rc;
    if (s->open_type || type > SNAP_REC_TYPE_MASK || since > 255)
        return sink_fail(s, KERR_INVAL, "raw record");
    if (sink_reserve(s, 2 + SNAP_VARINT_MAX + n) < 0)
        return s->rc;
    s->raw[s->raw_len++] = (unsigned char)(type | (required ? SNAP_REC_F_REQUIRED : 0));
    s->raw[s->raw_len++] = (unsigned char)since;
    put_varint(s, n);
    put_bytes(s, body, n);
    if (required && since > s->min_reader)
        s->min_reader = since;
    return 0;
}

/* ---- threads and the file ---------------------------------------------------------------- */

typedef struct part_arg {
    snap_wctx_t *w;
    int part;
    pthread_t tid;
} part_arg_t;

static void
run_part(snap_wctx_t *w, int part) {
    snap_sink_t s = {.w = w, .min_reader = 1};
    int rc;

    /* zstd allocates its context itself (raw, not accounted): a custom allocator needs zstd's
     * static-linking-only API, which the shared library does not promise. */
    if (!(s.cctx = ZSTD_createCCtx())) {
        werr(w, KERR_NOMEM, "snapshot write: zstd context: %s", kerr_str(KERR_NOMEM));
        return;
    }
    rc = w->produce(w->ctx, part, w->o->nthreads > 0 ? w->o->nthreads : 1, &s);
    if (rc != 0 && s.rc == 0) {
        rc = rc < 0 ? rc : KERR_FAILED;
        werr(w, rc, "snapshot write: producer of part %d stopped: %s", part, kerr_str(rc));
    } else if (rc == 0 && s.rc == 0 && s.open_type) {
        sink_fail(&s, KERR_INVAL, "a key was left open by the producer");
    } else if (rc == 0) {
        sink_flush(&s);
    }
    pthread_mutex_lock(&w->lock);
    if (s.min_reader > w->min_reader)
        w->min_reader = s.min_reader;
    w->flags |= s.flags;
    pthread_mutex_unlock(&w->lock);
    ZSTD_freeCCtx(s.cctx);
    kfree(s.raw);
    kfree(s.comp);
}

static void *
part_main(void *arg) {
    part_arg_t *a = arg;
    run_part(a->w, a->part);
    return NULL;
}

/* Runs the producers: part 0 on this thread, the others on their own. */
static int
run_parts(snap_wctx_t *w, int n) {
    part_arg_t args[SNAP_THREADS_MAX];
    int started = 1;

    for (int i = 1; i < n; i++, started++) {
        args[i] = (part_arg_t){.w = w, .part = i};
        int e = pthread_create(&args[i].tid, NULL, part_main, &args[i]);
        if (e) {
            werr(w, KERR_SYS(e), "snapshot write: starting a writer thread: %s", strerror(e));
            break;
        }
    }
    run_part(w, 0);
    for (int i = 1; i < started; i++)
        pthread_join(args[i].tid, NULL);
    return atomic_load(&w->rc);
}

/* Writes the optional extra section (tests), the table, the trailer and last the header. */
static int
write_tail(snap_wctx_t *w, snap_write_stats_t *st) {
    const snap_write_ext_t *x = w->x;
    int rc;

    if (x && x->extra_type) {
        snap_sec_hdr_t e = {.type = x->extra_type,
                            .flags = x->extra_flags,
                            .since_version = x->extra_since,
                            .len = x->extra_len,
                            .raw_len = x->extra_len,
                            .count = x->extra_count,
                            .codec = SNAP_CODEC_NONE};
        e.crc_raw = crc32c(x->extra_payload, x->extra_len);
        if ((rc = write_section(w, &e, x->extra_payload)) < 0)
            return rc;
    }
    size_t tlen = w->ntable * sizeof(snap_table_ent_t);
    snap_sec_hdr_t t = {.type = SNAP_SEC_TABLE,
                        .flags = SNAP_SEC_F_REQUIRED,
                        .since_version = 1,
                        .len = tlen,
                        .raw_len = tlen,
                        .count = w->ntable,
                        .codec = SNAP_CODEC_NONE};
    const void *tp = w->table ? (const void *)w->table : "";
    t.crc_raw = crc32c(tp, tlen);
    uint64_t table_off = w->off;
    t.magic = SNAP_SEC_MAGIC;
    t.crc_stored = t.crc_raw;
    snap_sec_seal(&t);
    if ((rc = pwrite_all(w->fd, &t, sizeof t, table_off)) < 0 ||
        (rc = pwrite_all(w->fd, tp, tlen, table_off + sizeof t)) < 0)
        return rc;

    snap_file_hdr_t h = {.version = x && x->version_field ? x->version_field : w->version,
                         .min_reader =
                             x && x->min_reader_field ? x->min_reader_field : w->min_reader,
                         .flags = w->flags | (x ? x->flags_or : 0),
                         .lsn = w->o->lsn,
                         .time_ms = w->o->time_ms,
                         .keys = w->keys,
                         .table_off = table_off,
                         .chunks = w->chunks};
    memcpy(h.magic, SNAP_MAGIC, 8);
    snap_hdr_seal(&h);
    snap_trailer_t tr = {.table_off = table_off,
                         .file_len = table_off + sizeof t + tlen + sizeof(snap_trailer_t),
                         .hdr_crc = h.crc};
    memcpy(tr.magic, SNAP_TRAILER_MAGIC, 8);
    snap_trailer_seal(&tr);
    if ((rc = pwrite_all(w->fd, &tr, sizeof tr, tr.file_len - sizeof tr)) < 0 ||
        (rc = pwrite_all(w->fd, &h, sizeof h, 0)) < 0)
        return rc;
    if (st) {
        st->keys = w->keys;
        st->bytes_raw = w->bytes_raw;
        st->bytes_file = tr.file_len;
        st->chunks = w->chunks;
        st->version = h.version;
        st->min_reader = h.min_reader;
        st->identity = w->ntable > 0 && w->table[0].type == SNAP_SEC_IDENTITY;
    }
    return 0;
}

/* fsyncs the directory holding path, so that the rename survives a crash. */
static int
fsync_dir_of(const char *path) {
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    int rc = 0;

    if (!slash) {
        strcpy(dir, ".");
    } else if (slash == path) {
        strcpy(dir, "/");
    } else {
        size_t n = (size_t)(slash - path);
        if (n >= sizeof dir)
            return KERR_LIMIT;
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return KERR_SYS(errno);
    if (fsync(fd) < 0)
        rc = KERR_SYS(errno);
    close(fd);
    return rc;
}

static int
opts_check(const snap_write_opts_t *o, char *err, size_t errlen) {
    if (!o || !o->path || !*o->path) {
        snap_errf(err, errlen, "snapshot write: no path");
        return KERR_INVAL;
    }
    if (o->nthreads < 0 || o->nthreads > SNAP_THREADS_MAX) {
        snap_errf(err, errlen, "snapshot write: nthreads %d outside 1..%d", o->nthreads,
                  SNAP_THREADS_MAX);
        return KERR_INVAL;
    }
    if (o->format_version && (o->format_version < SNAP_FORMAT_VERSION_MIN ||
                              o->format_version > SNAP_FORMAT_VERSION_MAX)) {
        snap_errf(err, errlen, "snapshot write: format version %u not supported (%d..%d)",
                  o->format_version, SNAP_FORMAT_VERSION_MIN, SNAP_FORMAT_VERSION_MAX);
        return KERR_VERSION;
    }
    if (o->chunk_bytes &&
        (o->chunk_bytes < SNAP_CHUNK_BYTES_MIN || o->chunk_bytes > SNAP_CHUNK_BYTES_MAX)) {
        snap_errf(err, errlen, "snapshot write: chunk_bytes %zu outside %u..%u", o->chunk_bytes,
                  SNAP_CHUNK_BYTES_MIN, SNAP_CHUNK_BYTES_MAX);
        return KERR_INVAL;
    }
    if (o->zstd_level < ZSTD_minCLevel() || o->zstd_level > ZSTD_maxCLevel()) {
        snap_errf(err, errlen, "snapshot write: zstd level %d outside %d..%d", o->zstd_level,
                  ZSTD_minCLevel(), ZSTD_maxCLevel());
        return KERR_INVAL;
    }
    if (strlen(o->path) + 5 > PATH_MAX) {
        snap_errf(err, errlen, "snapshot write: path too long");
        return KERR_LIMIT;
    }
    /* Checked even for a target without identity: a bad history is the caller's bug either way. */
    const char *why = o->identity ? snap_ident_rules(o->identity, o->lsn) : NULL;
    if (why) {
        snap_errf(err, errlen, "snapshot write: identity: %s", why);
        return o->identity->nepochs > SNAP_EPOCHS_MAX ? KERR_LIMIT : KERR_INVAL;
    }
    return 0;
}

/* The IDENTITY section, written before any chunk so that it lies at offset 64, where
 * snap_peek() finds it in the same read as the header. */
static int
write_identity(snap_wctx_t *w) {
    static const snap_identity_t unknown;
    unsigned char payload[SNAP_IDENT_LEN(SNAP_EPOCHS_MAX)];
    const snap_identity_t *id = w->o->identity ? w->o->identity : &unknown;
    size_t len = snap_ident_encode(id, payload);
    snap_sec_hdr_t h = {.type = SNAP_SEC_IDENTITY,
                        .flags = 0, /* optional: older readers skip it and still load the file */
                        .since_version = 3,
                        .len = len,
                        .raw_len = len,
                        .count = id->nepochs,
                        .codec = SNAP_CODEC_NONE,
                        .crc_raw = crc32c(payload, len)};
    ASSERT(w->off == sizeof(snap_file_hdr_t) && w->ntable == 0);
    return write_section(w, &h, payload);
}

/* Completes path.tmp and gives it its final name; w->fd is closed on success. */
static int
finish_file(snap_wctx_t *w, const char *tmp, snap_write_stats_t *st) {
    int rc = write_tail(w, st);
    if (rc == 0 && fsync(w->fd) < 0)
        rc = KERR_SYS(errno); /* never retried: the pages may be gone, the file is abandoned */
    if (rc < 0) {
        werr(w, rc, "snapshot write: %s: %s", tmp, kerr_str(rc));
        return rc;
    }
    close(w->fd);
    w->fd = -1;
    if (rename(tmp, w->o->path) < 0) {
        rc = KERR_SYS(errno);
        werr(w, rc, "snapshot write: rename %s: %s", tmp, strerror(errno));
    }
    return rc;
}

int
snap_write_ex(const snap_write_opts_t *o, snap_produce_cb produce, void *ctx,
              snap_write_stats_t *st, char *err, size_t errlen, const snap_write_ext_t *x) {
    char tmp[PATH_MAX];
    struct timespec t0, t1;
    int rc;

    if ((rc = opts_check(o, err, errlen)) < 0)
        return rc;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    snprintf(tmp, sizeof tmp, "%s.tmp", o->path);
    snap_wctx_t w = {
        .o = o,
        .x = x,
        .produce = produce,
        .ctx = ctx,
        .err = err,
        .errlen = errlen,
        .version = o->format_version ? o->format_version : SNAP_FORMAT_VERSION_MAX,
        .level = o->zstd_level ? o->zstd_level : SNAP_ZSTD_LEVEL_DEFAULT,
        .chunk_bytes = o->chunk_bytes ? o->chunk_bytes : SNAP_CHUNK_BYTES_DEFAULT,
        .off = sizeof(snap_file_hdr_t),
        .min_reader = 1,
    };
    pthread_mutex_init(&w.lock, NULL);
    w.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w.fd < 0) {
        rc = KERR_SYS(errno);
        snap_errf(err, errlen, "snapshot write: %s: %s", tmp, strerror(errno));
        goto out;
    }
    /* A zeroed header until the very end: a crash leaves a file that never passes for valid. */
    snap_file_hdr_t zero = {0};
    if ((rc = pwrite_all(w.fd, &zero, sizeof zero, 0)) < 0) {
        werr(&w, rc, "snapshot write: %s: %s", tmp, kerr_str(rc));
        goto fail;
    }
    /* Format versions 1 and 2 have no place for the identity: such a target goes without. */
    if (w.version >= 3 && !(x && x->no_identity) && (rc = write_identity(&w)) < 0) {
        werr(&w, rc, "snapshot write: %s: identity section: %s", tmp, kerr_str(rc));
        goto fail;
    }
    if ((rc = run_parts(&w, o->nthreads > 0 ? o->nthreads : 1)) < 0)
        goto fail;
    if ((rc = finish_file(&w, tmp, st)) < 0)
        goto fail;
    if ((rc = fsync_dir_of(o->path)) < 0) {
        /* The file is complete under its name; only its durability across a crash is unknown. */
        werr(&w, rc, "snapshot write: fsync of the directory of %s: %s", o->path, kerr_str(rc));
        goto out;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (st)
        st->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    goto out;
fail:
    if (w.fd >= 0)
        close(w.fd);
    unlink(tmp);
out:
    pthread_mutex_destroy(&w.lock);
    kfree(w.table);
    return rc;
}

int
snap_write(const snap_write_opts_t *o, snap_produce_cb produce, void *ctx, snap_write_stats_t *st,
           char *err, size_t errlen) {
    return snap_write_ex(o, produce, ctx, st, err, errlen, NULL);
}
