/*
 * reader.c - reading a log copy: list its segments, verify them record by record, tell a torn
 * tail from corruption (invariants I4 and I9 in wal/format.c), and wal_read_dir() for tools
 * (wal_check_dir() is in check.c).
 *
 * Segments are mapped read-only and walked in place; a record's payload handed to a callback
 * points into the mapping, valid for the call only.
 */
#include "wal_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crc32c.h"
#include "kerr.h"
#include "kmem.h"

#define SEGS_MAX 1000000 /* a directory with more segments than this is refused */

static int
seg_cmp(const void *a, const void *b) {
    const wal_seg_t *x = a, *y = b;
    return x->first_lsn < y->first_lsn ? -1 : x->first_lsn > y->first_lsn;
}

int
wal_list_segments(const char *dir, wal_seg_t **out, int *n) {
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : KERR_SYS(errno);
    wal_seg_t *v = NULL;
    int cnt = 0, cap = 0, rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        uint64_t lsn;
        if (wal_seg_name_parse(e->d_name, &lsn) != 0)
            continue;
        if (cnt == cap) {
            if (cap >= SEGS_MAX) {
                rc = KERR_LIMIT;
                break;
            }
            cap = cap ? cap * 2 : 16;
            v = krealloc(v, (size_t)cap * sizeof *v);
        }
        v[cnt].first_lsn = lsn;
        memcpy(v[cnt].name, e->d_name, strlen(e->d_name) + 1); /* 28 chars, checked by parse */
        cnt++;
    }
    closedir(d);
    if (rc) {
        kfree(v);
        return rc;
    }
    if (cnt > 1)
        qsort(v, (size_t)cnt, sizeof *v, seg_cmp);
    *out = v;
    *n = cnt;
    return 0;
}

static uint64_t
align_up(uint64_t off) {
    return (off + WAL_REC_ALIGN - 1) & ~(uint64_t)(WAL_REC_ALIGN - 1);
}

/* Is there an intact record (whole, checksum right) at off with an LSN in [min_lsn, min_lsn +
 * 2^40]? Fills *h. Used on damaged data only, to look past the damage. */
static int
intact_at(const uint8_t *p, uint64_t size, uint64_t off, uint64_t min_lsn, wal_rec_hdr_t *h) {
    memcpy(h, p + off, sizeof *h);
    if (h->lsn < min_lsn || h->lsn - min_lsn > (1ull << 40) || h->len > WAL_PAYLOAD_MAX ||
        wal_rec_size(h->len) > size - off)
        return 0;
    return h->crc == crc32c(p + off + 8, WAL_REC_HDR_SIZE - 8 + h->len);
}

/* Is there an intact record with an LSN >= min_lsn and WAL_REC_AFTER_SYNC anywhere in
 * [off, size)? Such a record was written only after the bytes at off were durable, so damage
 * at off is not a torn write (I4). Intact records without the flag may belong to the torn round
 * itself (the disk may persist its pages in any order). */
static int
intact_record_after(const uint8_t *p, uint64_t size, uint64_t off, uint64_t min_lsn) {
    for (off = align_up(off); off + WAL_REC_HDR_SIZE <= size; off += WAL_REC_ALIGN) {
        wal_rec_hdr_t h;
        if (intact_at(p, size, off, min_lsn, &h) && (h.flags & WAL_REC_AFTER_SYNC))
            return 1;
    }
    return 0;
}

/* Is there an intact seal in [off, size) holding an LSN >= min_lsn - 1? It was written when
 * every byte before it was durable (I9): damage before it is no torn write. *at gets where. */
static int
seal_after(const uint8_t *p, uint64_t size, uint64_t off, uint64_t min_lsn, uint64_t *at) {
    for (off = align_up(off); off + WAL_REC_HDR_SIZE <= size; off += WAL_REC_ALIGN) {
        wal_rec_hdr_t h;
        if ((p[off + 28] & WAL_REC_SEAL) && intact_at(p, size, off, min_lsn - 1, &h) &&
            h.len == 0) {
            *at = off;
            return 1;
        }
    }
    return 0;
}

/* What cutting a torn tail at off drops, for the operator: the records (the damaged one at off
 * when damaged is set, and every intact one after it) and the bytes, through the end of the
 * last intact record or of the last 8-byte unit holding a non-zero byte. */
static void
torn_extent(const uint8_t *p, uint64_t size, uint64_t off, int damaged, uint64_t min_lsn,
            wal_dir_scan_t *sc) {
    uint64_t end = size, recs = damaged ? 1 : 0;
    while (end > off && p[end - 1] == 0)
        end--;
    end = align_up(end) < size ? align_up(end) : size;
    for (uint64_t o = align_up(off + (damaged ? 1 : 0)); o + WAL_REC_HDR_SIZE <= size;) {
        wal_rec_hdr_t h;
        if (o + WAL_REC_HDR_SIZE > end) /* only zeros from here */
            break;
        if (intact_at(p, size, o, min_lsn, &h)) {
            recs++;
            o += wal_rec_size(h.len);
            end = o > end ? o : end;
        } else {
            o += WAL_REC_ALIGN;
        }
    }
    sc->torn_records = recs;
    sc->torn_bytes = end > off ? end - off : 0;
}

static int
zero_from(const uint8_t *p, uint64_t size, uint64_t off) {
    if (off >= size)
        return 1;
    return p[off] == 0 && memcmp(p + off, p + off + 1, size - off - 1) == 0;
}

/* State of one segment walk. */
typedef struct seg_walk {
    const char *dir;
    const wal_seg_t *seg;
    int newest;          /* the last segment of the copy: a torn tail is allowed here */
    uint64_t expect_lsn; /* LSN of the next record (I1) */
    const wal_scan_opts_t *o;
    uint64_t delivered;
    struct timespec last_log;
} seg_walk_t;

static void
progress(seg_walk_t *sw, uint64_t lsn) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec - sw->last_log.tv_sec < 1)
        return;
    sw->last_log = now;
    char msg[160];
    snprintf(msg, sizeof msg, "wal: replayed %" PRIu64 " records, at LSN %" PRIu64, sw->delivered,
             lsn);
    sw->o->log(sw->o->log_ctx, msg);
}

static int
deliver(seg_walk_t *sw, const uint8_t *rp) {
    wal_rec_hdr_t h;
    memcpy(&h, rp, sizeof h);
    if (sw->o->print)
        fprintf(sw->o->print, "  lsn %" PRIu64 " ts %" PRId64 " db %u len %u\n", h.lsn, h.ts_ms,
                h.db, h.len);
    if (!sw->o->cb || h.lsn <= sw->o->after_lsn)
        return 0;
    wal_record_t r = {
        .lsn = h.lsn, .ts_ms = h.ts_ms, .db = h.db, .payload = rp + WAL_REC_HDR_SIZE, .len = h.len};
    sw->delivered++;
    if (sw->o->log && (sw->delivered & 0xffff) == 0)
        progress(sw, h.lsn);
    return sw->o->cb(sw->o->ctx, &r);
}

/* The data of a segment ended with a seal at off: only zeros may follow (the writer removes a
 * seal before it appends). In the newest segment it makes the copy sealed; in an older one
 * (left by a copy that missed a later session) it is history and changes nothing. */
static int
seal_end(seg_walk_t *sw, const uint8_t *p, uint64_t size, uint64_t off, wal_dir_scan_t *sc,
         char *err, size_t errlen) {
    if (!zero_from(p, size, off + WAL_REC_HDR_SIZE)) {
        snprintf(err, errlen,
                 "%s/%s offset %" PRIu64 ": data after the seal (expected zeros after LSN %" PRIu64
                 ")",
                 sw->dir, sw->seg->name, off + WAL_REC_HDR_SIZE, sw->expect_lsn - 1);
        return KERR_CORRUPT;
    }
    if (sw->newest) {
        sc->sealed = 1;
        sc->seal_lsn = sw->expect_lsn - 1;
        sc->seal_off = off;
    }
    return 0;
}

/* Walk the records of one mapped segment. Fills sc's per-segment slot i. */
static int
walk_records(seg_walk_t *sw, const uint8_t *p, uint64_t size, wal_dir_scan_t *sc, int i, char *err,
             size_t errlen) {
    uint64_t off = WAL_SEG_HDR_SIZE, lsn = sw->expect_lsn;
    const char *why = NULL;
    int rc;
    sc->seg_ts_min[i] = INT64_MAX;
    sc->seg_ts_max[i] = INT64_MIN;
    while ((rc = wal_rec_check(p + off, size - off, lsn, &why)) == 0) {
        wal_rec_hdr_t h;
        memcpy(&h, p + off, sizeof h);
        if (h.ts_ms < sc->seg_ts_min[i])
            sc->seg_ts_min[i] = h.ts_ms;
        if (h.ts_ms > sc->seg_ts_max[i])
            sc->seg_ts_max[i] = h.ts_ms;
        int crc = deliver(sw, p + off);
        if (crc)
            return crc;
        sc->seg_recs[i]++;
        off += wal_rec_size(h.len);
        lsn++;
    }
    sc->seg_end[i] = off; /* a seal is not data: copies compare and repair without it */
    sc->seg_last[i] = lsn - 1;
    sw->expect_lsn = lsn;
    if (rc == WAL_REC_CHECK_SEAL)
        return seal_end(sw, p, size, off, sc, err, errlen);
    if (rc == KERR_TORN && zero_from(p, size, off))
        return 0;                  /* clean end: zeros or end of file */
    int damaged = rc != KERR_TORN; /* else a zero header, with non-zero bytes further on */
    if (!damaged)
        why = "non-zero bytes after the end of the data";
    uint64_t seal = 0;
    if (sw->newest && seal_after(p, size, off, lsn, &seal)) {
        snprintf(err, errlen,
                 "%s/%s offset %" PRIu64 ": %s (expected LSN %" PRIu64 "); the copy was closed "
                 "cleanly (seal at offset %" PRIu64 "), so this is damage, not a torn write",
                 sw->dir, sw->seg->name, off, why, lsn, seal);
        return KERR_CORRUPT;
    }
    if (sw->newest && !intact_record_after(p, size, off, lsn)) {
        sc->torn = 1;
        sc->torn_seg = i;
        sc->torn_off = off;
        torn_extent(p, size, off, damaged, lsn, sc);
        return 0;
    }
    snprintf(err, errlen, "%s/%s offset %" PRIu64 ": %s (expected LSN %" PRIu64 ")", sw->dir,
             sw->seg->name, off, why, lsn);
    return KERR_CORRUPT;
}

static int
map_file(const char *path, const uint8_t **p, uint64_t *size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return KERR_SYS(errno);
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0) {
        rc = KERR_SYS(errno);
    } else if (st.st_size == 0) {
        *p = NULL;
        *size = 0;
    } else {
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            rc = KERR_SYS(errno);
        } else {
            madvise(m, (size_t)st.st_size, MADV_SEQUENTIAL);
            *p = m;
            *size = (uint64_t)st.st_size;
        }
    }
    close(fd);
    return rc;
}

/* The identity in segment i's header against the segments before it: one data-set id per
 * copy (v1 segments carry none), and an epoch that never decreases (I8). */
static int
check_identity(seg_walk_t *sw, wal_dir_scan_t *sc, int i, const wal_seg_hdr_t *h, char *err,
               size_t errlen) {
    uint8_t id[WAL_DATASET_ID_SIZE];
    uint64_t epoch;
    wal_seg_hdr_identity(h, id, &epoch);
    sc->version = h->version;
    if (wal_dataset_id_is_zero(id))
        return 0;
    char a[WAL_DATASET_ID_STR_MAX], b[WAL_DATASET_ID_STR_MAX];
    if (sc->id_seg < 0) {
        memcpy(sc->dataset_id, id, sizeof id);
        sc->id_seg = i;
    } else if (memcmp(sc->dataset_id, id, sizeof id) != 0) {
        wal_dataset_id_str(id, a, sizeof a);
        wal_dataset_id_str(sc->dataset_id, b, sizeof b);
        snprintf(err, errlen,
                 "%s/%s offset 32: segment belongs to another data set (id %s) than %s "
                 "(id %s)",
                 sw->dir, sw->seg->name, a, sc->segs[sc->id_seg].name, b);
        return KERR_CORRUPT;
    }
    if (epoch < sc->epoch) {
        snprintf(err, errlen,
                 "%s/%s offset 48: epoch %" PRIu64 " is lower than the previous segment's %" PRIu64,
                 sw->dir, sw->seg->name, epoch, sc->epoch);
        return KERR_CORRUPT;
    }
    sc->epoch = epoch;
    return 0;
}

/* The message for a segment of a format newer than this build reads. */
static void
version_error(const char *path, const uint8_t *p, uint64_t size, char *err, size_t errlen) {
    uint32_t v = 0;
    if (size >= 12)
        memcpy(&v, p + 8, 4);
    snprintf(err, errlen,
             "%s offset 8: segment format version %u is newer than this build reads (versions "
             "%d to %d): a keel that reads format version %u is needed",
             path, v, WAL_FORMAT_VERSION_MIN, WAL_FORMAT_VERSION, v);
}

/* The header of segment i at p: its own checks, then its place in the copy (I1). */
static int
header_check(const seg_walk_t *sw, const uint8_t *p, uint64_t size, int i, wal_seg_hdr_t *h,
             const char **why) {
    int rc = wal_seg_hdr_check(p, size, why);
    if (rc)
        return rc;
    memcpy(h, p, sizeof *h);
    if (h->first_lsn != sw->seg->first_lsn) {
        *why = "header LSN does not match the file name";
        return KERR_CORRUPT;
    }
    if (i > 0 && h->first_lsn != sw->expect_lsn) {
        *why = "segment does not continue the previous one (missing records)";
        return KERR_CORRUPT;
    }
    return 0;
}

static int
scan_segment(seg_walk_t *sw, wal_dir_scan_t *sc, int i, char *err, size_t errlen) {
    char path[WAL_PATH_MAX + WAL_SEG_NAME_MAX];
    snprintf(path, sizeof path, "%s/%s", sw->dir, sw->seg->name);
    const uint8_t *p = NULL;
    uint64_t size = 0;
    int rc = map_file(path, &p, &size);
    if (rc) {
        snprintf(err, errlen, "%s: cannot read: %s", path, kerr_str(rc));
        return rc;
    }
    const char *why = NULL;
    wal_seg_hdr_t h;
    uint64_t seal = 0;
    rc = header_check(sw, p, size, i, &h, &why);
    if (rc == 0) {
        rc = check_identity(sw, sc, i, &h, err, errlen);
        if (rc == 0)
            rc = walk_records(sw, p, size, sc, i, err, errlen);
    } else if (rc == KERR_VERSION) { /* never a torn header: a newer build wrote it */
        version_error(path, p, size, err, errlen);
    } else if (sw->newest && seal_after(p, size, WAL_SEG_HDR_SIZE, sw->seg->first_lsn, &seal)) {
        snprintf(err, errlen,
                 "%s offset 0: %s; the copy was closed cleanly (seal at offset %" PRIu64
                 "), so this is damage, not a torn header",
                 path, why, seal);
        rc = KERR_CORRUPT;
    } else if (sw->newest && sw->seg->first_lsn == sw->expect_lsn &&
               !intact_record_after(p, size, 0, sw->seg->first_lsn)) {
        /* A segment whose creation was torn (header never made it to disk): remove it. Only
         * where the writer would have created it, right after the log's last LSN (I1): a
         * torn header under another name is damage, not a segment being made. */
        sc->torn = 1;
        sc->torn_seg = i;
        sc->torn_off = 0;
        torn_extent(p, size, 0, 0, sw->seg->first_lsn, sc);
        sc->seg_end[i] = 0;
        sc->seg_last[i] = sw->expect_lsn - 1;
        rc = 0;
    } else {
        snprintf(err, errlen, "%s offset 0: %s (expected LSN %" PRIu64 ")", path, why,
                 i > 0 ? sw->expect_lsn : sw->seg->first_lsn);
        rc = KERR_CORRUPT;
    }
    if (p)
        munmap((void *)p, size);
    return rc;
}

int
wal_dir_identity(const char *dir, uint8_t dataset_id[WAL_DATASET_ID_SIZE], uint64_t *epoch) {
    wal_seg_t *v;
    int n, rc = wal_list_segments(dir, &v, &n);
    memset(dataset_id, 0, WAL_DATASET_ID_SIZE);
    *epoch = 0;
    for (int i = n - 1; rc == 0 && i >= 0; i--) {
        char path[WAL_PATH_MAX + WAL_SEG_NAME_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, v[i].name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            rc = KERR_SYS(errno);
            break;
        }
        wal_seg_hdr_t h;
        const char *why;
        ssize_t got = pread(fd, &h, sizeof h, 0);
        close(fd);
        if (got == (ssize_t)sizeof h && wal_seg_hdr_check(&h, sizeof h, &why) == 0) {
            wal_seg_hdr_identity(&h, dataset_id, epoch);
            break; /* the newest intact header; a torn one before it is skipped */
        }
    }
    kfree(v);
    return rc;
}

int
wal_dir_tail(const char *dir, wal_tail_t *t) {
    wal_scan_opts_t o = {.newest_only = 1};
    wal_dir_scan_t sc;
    char err[WAL_PATH_MAX + 256];
    memset(t, 0, sizeof *t);
    int rc = wal_scan_dir(dir, &o, &sc, err, sizeof err);
    if (sc.nsegs > 0) {
        int k = sc.nsegs - 1;
        char path[WAL_PATH_MAX + WAL_SEG_NAME_MAX];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, sc.segs[k].name);
        t->nsegs = sc.nsegs;
        memcpy(t->name, sc.segs[k].name, sizeof t->name);
        t->first_lsn = sc.segs[k].first_lsn;
        t->last_lsn = sc.last_lsn;
        t->end = sc.seg_end[k];
        t->size = stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
        t->clean = rc == 0 && !sc.torn;
        t->sealed = rc == 0 && sc.sealed;
        t->version = sc.version;
        memcpy(t->dataset_id, sc.dataset_id, sizeof t->dataset_id);
        t->epoch = sc.epoch;
    }
    wal_dir_scan_free(&sc);
    return rc == KERR_CORRUPT || rc == KERR_VERSION ? 0 : rc; /* damage: clean == 0 says it */
}

void
wal_dir_scan_free(wal_dir_scan_t *sc) {
    kfree(sc->segs);
    kfree(sc->seg_end);
    kfree(sc->seg_last);
    kfree(sc->seg_recs);
    kfree(sc->seg_ts_min);
    kfree(sc->seg_ts_max);
    memset(sc, 0, sizeof *sc);
}

static void
scan_alloc(wal_dir_scan_t *sc) {
    size_t n = (size_t)(sc->nsegs ? sc->nsegs : 1);
    sc->seg_end = kcalloc(n, sizeof(uint64_t));
    sc->seg_last = kcalloc(n, sizeof(uint64_t));
    sc->seg_recs = kcalloc(n, sizeof(uint64_t));
    sc->seg_ts_min = kcalloc(n, sizeof(int64_t));
    sc->seg_ts_max = kcalloc(n, sizeof(int64_t));
}

int
wal_scan_dir(const char *dir, const wal_scan_opts_t *o, wal_dir_scan_t *sc, char *err,
             size_t errlen) {
    memset(sc, 0, sizeof *sc);
    sc->id_seg = -1;
    int rc = wal_list_segments(dir, &sc->segs, &sc->nsegs);
    if (rc) {
        snprintf(err, errlen, "%s: cannot list: %s", dir, kerr_str(rc));
        return rc;
    }
    scan_alloc(sc);
    seg_walk_t sw = {.dir = dir, .o = o};
    clock_gettime(CLOCK_MONOTONIC, &sw.last_log);
    int from = o->newest_only && sc->nsegs ? sc->nsegs - 1 : 0;
    for (int i = from; i < sc->nsegs; i++) {
        sw.seg = &sc->segs[i];
        sw.newest = i == sc->nsegs - 1;
        if (i == from)
            sw.expect_lsn = sc->segs[i].first_lsn;
        rc = scan_segment(&sw, sc, i, err, errlen);
        if (rc)
            return rc;
        if (sc->seg_recs[i] && !sc->nrecords)
            sc->first_lsn = sc->segs[i].first_lsn;
        sc->nrecords += sc->seg_recs[i];
        sc->nscanned = i + 1;
    }
    if (sc->nsegs) /* an empty newest segment still says where the log continues */
        sc->last_lsn = sw.expect_lsn - 1;
    return 0;
}

int
wal_read_dir(const char *dir, uint64_t after_lsn, wal_apply_cb cb, void *ctx, char *err,
             size_t errlen) {
    wal_scan_opts_t o = {.after_lsn = after_lsn, .cb = cb, .ctx = ctx};
    wal_dir_scan_t sc;
    char scratch[8];
    if (!err) {
        err = scratch;
        errlen = sizeof scratch;
    }
    err[0] = 0;
    int rc = wal_scan_dir(dir, &o, &sc, err, errlen);
    wal_dir_scan_free(&sc);
    return rc;
}
