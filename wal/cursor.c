/*
 * cursor.c - reading one log copy from an LSN onward while the WAL thread writes it (the cursor
 * replication streams records to a replica with, docs/formats/wal.md section 4b), and the wire
 * form of a record.
 *
 * Why a cursor never sees a half-written record: it reads only records with LSN <= the limit
 * its caller gives, the durable LSN, and a record is written to every healthy copy before any
 * fdatasync that makes it durable starts (writer.c, write_piece), so before the caller read
 * that limit. The bytes of such a record never change afterwards (I3; the zeroer never writes
 * below the data end, Z1 in zero.c). Nothing past the limit is interpreted: those bytes may be
 * zeros, a record being written, or stale.
 *
 * Where the next record is: the only record that can ever stand right after record L in a
 * segment is L + 1 (I1, I3). So when L + 1 <= limit and that place holds zeros, the end of the
 * file or a seal, the segment is finished for good, and L + 1 starts the segment
 * wal-<L + 1>.log (I1), which exists: it was created before L + 1 was written into it. It is
 * looked for in the live copy first, then in the archive: wal_retire_before() moves a segment
 * from the one to the other (rename, or copy then unlink), so it is in at least one of them at
 * every instant and looking in that order cannot miss it. When it is in neither, the segments
 * held tell whether it was retired (KERR_NOTFOUND), cut out by damage (KERR_CORRUPT) or never
 * written to this copy (KERR_FAILED): see missing(). A segment the cursor has open stays
 * readable through its fd when it is moved or unlinked.
 *
 * Reads are pread() into a buffer the cursor owns (no mmap: a segment that is not preallocated
 * grows while it is read). The buffer is forgotten at the start of every read: bytes past the
 * previous call's limit may have been read before they were written.
 */
#include "wal_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kassert.h"
#include "kerr.h"
#include "kmem.h"

#define WINDOW_MAX (256u << 10) /* bytes read ahead at once: big preads, a bounded buffer */

struct wal_cursor {
    char live[WAL_PATH_MAX];
    char archive[WAL_PATH_MAX]; /* "" when none */
    uint64_t from_lsn;          /* records before it are read and verified, not delivered */
    uint64_t pos_lsn;           /* LSN of the record at off: the reading position */
    int fd;                     /* the segment holding pos_lsn (or where it will be) */
    char path[WAL_PATH_MAX + WAL_SEG_NAME_MAX]; /* where that segment was opened, for messages */
    uint64_t seg_first;                         /* its first LSN */
    int hdr_ok;                                 /* its header was verified (see seg_header) */
    uint64_t off;                               /* offset of record pos_lsn in it */
    uint8_t *buf;                               /* its bytes [buf_off, buf_off + buf_len) */
    size_t cap, buf_len;
    uint64_t buf_off;
    uint8_t dataset_id[WAL_DATASET_ID_SIZE]; /* of the version 2 segments read so far (I8) */
    uint64_t epoch;
};

/* ---- the wire form ------------------------------------------------------------------------ */

size_t
wal_record_size(size_t payload_len) {
    return (size_t)wal_rec_size(payload_len);
}

void
wal_record_encode(void *dst, uint64_t lsn, int64_t ts_ms, uint32_t db, const void *payload,
                  size_t len) {
    ASSERT(lsn >= 1 && len <= WAL_PAYLOAD_MAX); /* what every reader would refuse */
    wal_rec_encode(dst, lsn, ts_ms, db, payload, len);
}

/* The checks a record on disk gets (wal_rec_check), plus those its place in a segment gave
 * for free: it is no seal and no end of data, and it carries no flag this build does not know
 * (a replica could not honour it). */
static const char *
decode_why(const uint8_t *p, size_t len) {
    wal_rec_hdr_t h;
    const char *why = NULL;
    if (len < WAL_REC_HDR_SIZE)
        return "shorter than a record header";
    memcpy(&h, p, sizeof h);
    if (h.len > WAL_PAYLOAD_MAX)
        return "record length out of range";
    if (wal_rec_size(h.len) > len)
        return "record cut short: its length says more bytes";
    if (h.flags & WAL_REC_SEAL)
        return "a seal, not a record";
    if (h.flags & ~(uint32_t)WAL_REC_AFTER_SYNC)
        return "unknown record flags";
    if (h.lsn == 0)
        return "LSN 0";
    return wal_rec_check(p, len, h.lsn, &why) == 0 ? NULL : why;
}

int
wal_record_decode(const void *buf, size_t len, wal_record_t *rec, char *err, size_t errlen) {
    const uint8_t *p = buf;
    const char *why = decode_why(p, len);
    if (!err)
        errlen = 0;
    if (why) {
        snprintf(err, errlen, "wal record of %zu bytes: %s", len, why);
        return KERR_CORRUPT;
    }
    wal_rec_hdr_t h;
    memcpy(&h, p, sizeof h);
    *rec = (wal_record_t){
        .lsn = h.lsn, .ts_ms = h.ts_ms, .db = h.db, .payload = p + WAL_REC_HDR_SIZE, .len = h.len};
    return (int)wal_rec_size(h.len);
}

/* ---- segments held ------------------------------------------------------------------------ */

/* What the segments of the live copy and the archive say about an LSN. */
typedef struct held {
    uint64_t oldest; /* first LSN of the oldest segment (0: none) */
    uint64_t holder; /* first LSN of the newest segment starting at or before it (0: none) */
    uint64_t after;  /* first LSN of the oldest segment starting after it (0: none) */
} held_t;

static int
held_scan(const char *live, const char *archive, uint64_t lsn, held_t *h, char *err,
          size_t errlen) {
    const char *dirs[2] = {live, archive};
    memset(h, 0, sizeof *h);
    for (int d = 0; d < 2; d++) {
        wal_seg_t *v;
        int n, rc;
        if (!dirs[d] || !dirs[d][0])
            continue;
        if ((rc = wal_list_segments(dirs[d], &v, &n)) != 0) { /* a missing one is empty */
            snprintf(err, errlen, "%s: cannot list: %s", dirs[d], kerr_str(rc));
            return rc;
        }
        for (int i = 0; i < n; i++) {
            uint64_t f = v[i].first_lsn;
            if (f == 0) /* no LSN 0: not a segment any writer made */
                continue;
            if (!h->oldest || f < h->oldest)
                h->oldest = f;
            if (f <= lsn && f > h->holder)
                h->holder = f;
            if (f > lsn && (!h->after || f < h->after))
                h->after = f;
        }
        kfree(v);
    }
    return 0;
}

int
wal_oldest_lsn(const char *live_dir, const char *archive_dir, uint64_t *oldest) {
    held_t h;
    int rc = held_scan(live_dir, archive_dir, 0, &h, NULL, 0);
    *oldest = rc ? 0 : h.oldest;
    return rc;
}

/* Open segment wal-<first>.log: in the live copy, else in the archive (the order a retirement
 * moves it in, see the top). KERR_NOTFOUND when it is in neither. */
static int
seg_find(const wal_cursor_t *c, uint64_t first, int *fd, char *path, size_t n) {
    const char *dirs[2] = {c->live, c->archive};
    char name[WAL_SEG_NAME_MAX];
    wal_seg_name(name, sizeof name, first);
    for (int d = 0; d < 2; d++) {
        if (!dirs[d][0])
            continue;
        snprintf(path, n, "%s/%s", dirs[d], name);
        if ((*fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0)
            return 0;
        if (errno != ENOENT)
            return KERR_SYS(errno);
    }
    return KERR_NOTFOUND;
}

static void
seg_enter(wal_cursor_t *c, int fd, const char *path, uint64_t first) {
    if (c->fd >= 0)
        close(c->fd);
    c->fd = fd;
    snprintf(c->path, sizeof c->path, "%s", path);
    c->seg_first = first;
    c->hdr_ok = 0;
    c->off = WAL_SEG_HDR_SIZE;
    c->buf_len = 0;
}

/* One data set along the log, epochs that never go down (I8); version 1 carries no identity. */
static int
seg_identity(wal_cursor_t *c, const wal_seg_hdr_t *h, char *err, size_t errlen) {
    uint8_t id[WAL_DATASET_ID_SIZE];
    uint64_t epoch;
    wal_seg_hdr_identity(h, id, &epoch);
    if (wal_dataset_id_is_zero(id))
        return 0;
    if (wal_dataset_id_is_zero(c->dataset_id)) {
        memcpy(c->dataset_id, id, sizeof id);
    } else if (memcmp(c->dataset_id, id, sizeof id) != 0) {
        char a[WAL_DATASET_ID_STR_MAX], b[WAL_DATASET_ID_STR_MAX];
        wal_dataset_id_str(id, a, sizeof a);
        wal_dataset_id_str(c->dataset_id, b, sizeof b);
        snprintf(err, errlen,
                 "%s offset 32: segment belongs to another data set (id %s) than the segments "
                 "read before it (id %s)",
                 c->path, a, b);
        return KERR_FOREIGN;
    }
    if (epoch < c->epoch) {
        snprintf(err, errlen,
                 "%s offset 48: epoch %" PRIu64 " is lower than the previous segment's %" PRIu64,
                 c->path, epoch, c->epoch);
        return KERR_CORRUPT;
    }
    c->epoch = epoch;
    return 0;
}

/* Verify the current segment's header: its own checks, the first LSN its name says, its
 * identity. Only once a record of the segment is due (<= the limit): the header was written
 * before that record, whereas at open time the newest segment may still be being created. */
static int
seg_header(wal_cursor_t *c, char *err, size_t errlen) {
    wal_seg_hdr_t h;
    const char *why = NULL;
    ssize_t got = pread(c->fd, &h, sizeof h, 0);
    if (got < 0) {
        int rc = KERR_SYS(errno);
        snprintf(err, errlen, "%s: cannot read: %s", c->path, kerr_str(rc));
        return rc;
    }
    int rc = wal_seg_hdr_check(&h, (size_t)got, &why);
    if (rc == 0 && h.first_lsn != c->seg_first) {
        why = "header LSN does not match the file name";
        rc = KERR_CORRUPT;
    }
    if (rc) { /* bad magic in a log directory is damage too */
        snprintf(err, errlen, "%s offset 0: %s (expected LSN %" PRIu64 ")", c->path, why,
                 c->seg_first);
        return rc == KERR_VERSION ? rc : KERR_CORRUPT;
    }
    if ((rc = seg_identity(c, &h, err, errlen)) != 0)
        return rc;
    c->hdr_ok = 1;
    return 0;
}

/* ---- reading ------------------------------------------------------------------------------ */

/* Make the bytes [off, off + need) of the current segment available (fewer at the end of the
 * file), reading ahead up to `ahead` bytes. *p, *avail: the bytes from off on. */
static int
fill(wal_cursor_t *c, uint64_t need, uint64_t ahead, const uint8_t **p, uint64_t *avail, char *err,
     size_t errlen) {
    if (c->off < c->buf_off || c->off + need > c->buf_off + c->buf_len) {
        uint64_t n = need > ahead ? need : ahead, got = 0;
        struct stat st;
        /* A record longer than the window: no more than the file holds, so that a damaged
         * length (up to WAL_PAYLOAD_MAX) cannot make the cursor allocate 256 MiB for a record
         * the check then finds cut short. A record due (<= the limit) is wholly in the file. */
        if (n > WINDOW_MAX && n > c->cap && fstat(c->fd, &st) == 0) {
            uint64_t in_file = (uint64_t)st.st_size > c->off ? (uint64_t)st.st_size - c->off : 0;
            n = n < in_file ? n : in_file > WINDOW_MAX ? in_file : WINDOW_MAX;
        }
        if (n > c->cap) {
            kfree(c->buf);
            c->buf = kmalloc((size_t)n);
            c->cap = (size_t)n;
        }
        c->buf_len = 0;
        while (got < n) {
            ssize_t r = pread(c->fd, c->buf + got, (size_t)(n - got), (off_t)(c->off + got));
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0) {
                int rc = KERR_SYS(errno);
                snprintf(err, errlen, "%s offset %" PRIu64 ": cannot read: %s", c->path,
                         c->off + got, kerr_str(rc));
                return rc;
            }
            if (r == 0) /* the end of a file that is not preallocated */
                break;
            got += (uint64_t)r;
        }
        c->buf_off = c->off;
        c->buf_len = (size_t)got;
    }
    *p = c->buf + (c->off - c->buf_off);
    *avail = c->buf_off + c->buf_len - c->off;
    return 0;
}

/* Record pos_lsn (<= limit) is in no segment of the live copy or the archive. A later segment
 * held means records are gone: cut out of the segment the cursor reads, which is still held
 * (damage: a run of zeros where they were), or retired with that segment. None means the copy
 * stops before the limit. */
static int
missing(const wal_cursor_t *c, uint64_t limit, char *err, size_t errlen) {
    held_t h;
    int rc = held_scan(c->live, c->archive, c->pos_lsn, &h, err, errlen);
    if (rc)
        return rc;
    if (h.after && h.holder == c->seg_first) { /* still held, yet it stops short (I1) */
        snprintf(err, errlen,
                 "%s offset %" PRIu64 ": the data ends before LSN %" PRIu64
                 ", but the next segment held starts at LSN %" PRIu64 ": records are missing",
                 c->path, c->off, c->pos_lsn, h.after);
        return KERR_CORRUPT;
    }
    if (h.after) { /* retired (oldest first) without an archive: the caller needs a full sync */
        snprintf(err, errlen,
                 "LSN %" PRIu64 " is no longer held: %s ends at offset %" PRIu64
                 " and the next segment in %s%s%s starts at LSN %" PRIu64,
                 c->pos_lsn, c->path, c->off, c->live, c->archive[0] ? " or " : "", c->archive,
                 h.after);
        return KERR_NOTFOUND;
    }
    /* The writer skips a copy that failed from then on; or the caller's limit is too high. */
    snprintf(err, errlen,
             "%s offset %" PRIu64 ": LSN %" PRIu64 " is not in this copy although the limit is "
             "LSN %" PRIu64 ": the copy ends here (a copy that failed, or a limit above the "
             "durable LSN)",
             c->path, c->off, c->pos_lsn, limit);
    return KERR_FAILED;
}

/* The current segment ends before record pos_lsn (<= limit): go on in wal-<pos_lsn>.log. */
static int
seg_next(wal_cursor_t *c, uint64_t limit, char *err, size_t errlen) {
    char path[WAL_PATH_MAX + WAL_SEG_NAME_MAX];
    int fd, rc;
    if (c->seg_first == c->pos_lsn) /* that is this one, and the record is not in it */
        return missing(c, limit, err, errlen);
    if ((rc = seg_find(c, c->pos_lsn, &fd, path, sizeof path)) == KERR_NOTFOUND)
        return missing(c, limit, err, errlen);
    if (rc) {
        snprintf(err, errlen, "%s: cannot open: %s", path, kerr_str(rc));
        return rc;
    }
    seg_enter(c, fd, path, c->pos_lsn);
    return 0;
}

/* Read record pos_lsn (<= limit, so it exists: see the top) into the buffer: at off in the
 * current segment, or at the start of the next one when the current one is finished. *size:
 * its encoded size. Returns 0, 1 when it is bigger than room (left unread), or < 0. */
static int
rec_read(wal_cursor_t *c, uint64_t limit, uint64_t ahead, uint64_t room, const uint8_t **rp,
         uint64_t *size, char *err, size_t errlen) {
    for (;;) {
        const uint8_t *p = NULL;
        uint64_t avail = 0;
        uint32_t len = 0;
        const char *why = NULL;
        int rc = c->hdr_ok ? 0 : seg_header(c, err, errlen);
        if (rc || (rc = fill(c, WAL_REC_HDR_SIZE, ahead, &p, &avail, err, errlen)) != 0)
            return rc;
        if (avail >= WAL_REC_HDR_SIZE)
            memcpy(&len, p, sizeof len);
        if (avail >= WAL_REC_HDR_SIZE && len <= WAL_PAYLOAD_MAX) {
            if (wal_rec_size(len) > room)
                return 1;
            if ((rc = fill(c, wal_rec_size(len), ahead, &p, &avail, err, errlen)) != 0)
                return rc;
        }
        rc = wal_rec_check(p, avail, c->pos_lsn, &why);
        if (rc == 0) {
            *rp = p;
            *size = wal_rec_size(len);
            return 0;
        }
        if (rc == KERR_CORRUPT) {
            snprintf(err, errlen, "%s offset %" PRIu64 ": %s (expected LSN %" PRIu64 ")", c->path,
                     c->off, why, c->pos_lsn);
            return rc;
        }
        /* Zeros, the end of the file, or a seal (not a record: it consumes no LSN): this
         * segment is finished, record pos_lsn starts the next one. */
        if ((rc = seg_next(c, limit, err, errlen)) != 0)
            return rc;
    }
}

static int
deliver(wal_cursor_cb cb, void *ctx, const uint8_t *p, uint64_t size) {
    wal_rec_hdr_t h;
    memcpy(&h, p, sizeof h);
    wal_record_t r = {
        .lsn = h.lsn, .ts_ms = h.ts_ms, .db = h.db, .payload = p + WAL_REC_HDR_SIZE, .len = h.len};
    return cb ? cb(ctx, &r, p, (size_t)size) : 0;
}

int
wal_cursor_read(wal_cursor_t *c, uint64_t limit_lsn, size_t max_bytes, wal_cursor_cb cb, void *ctx,
                char *err, size_t errlen) {
    uint64_t used = 0; /* bytes of records read by this call, skipped ones included */
    int n = 0, rc = 0;
    if (!err)
        errlen = 0;
    c->buf_len = 0; /* read afresh: see the top */
    while (c->pos_lsn <= limit_lsn && n < INT_MAX) {
        uint64_t left = max_bytes > used ? max_bytes - used : 0, size = 0;
        uint64_t ahead = left < WAL_REC_HDR_SIZE ? WAL_REC_HDR_SIZE : left;
        const uint8_t *p = NULL;
        rc = rec_read(c, limit_lsn, ahead < WINDOW_MAX ? ahead : WINDOW_MAX,
                      used ? left : UINT64_MAX, &p, &size, err, errlen);
        if (rc)
            break;
        if (c->pos_lsn >= c->from_lsn) {
            if ((rc = deliver(cb, ctx, p, size)) != 0)
                break; /* the record stays next */
            n++;
        }
        used += size;
        c->off += size;
        c->pos_lsn++;
    }
    if (c->cap > WINDOW_MAX) { /* a record bigger than the window: give its memory back */
        kfree(c->buf);
        c->buf = NULL;
        c->cap = c->buf_len = 0;
    }
    return rc < 0 ? rc : n; /* rc > 0: the budget is spent, or cb said stop */
}

uint64_t
wal_cursor_next_lsn(const wal_cursor_t *c) {
    return c->pos_lsn > c->from_lsn ? c->pos_lsn : c->from_lsn;
}

/* ---- open and close ----------------------------------------------------------------------- */

static int
open_args(const char *live_dir, const char *archive_dir, uint64_t from_lsn, char *err,
          size_t errlen) {
    if (!live_dir || !live_dir[0] || strlen(live_dir) >= WAL_PATH_MAX ||
        (archive_dir && strlen(archive_dir) >= WAL_PATH_MAX) || from_lsn == 0) {
        snprintf(err, errlen,
                 "wal cursor: a live directory (shorter than %d bytes) and an LSN >= 1 are "
                 "needed",
                 WAL_PATH_MAX);
        return KERR_INVAL;
    }
    return 0;
}

int
wal_cursor_open(const char *live_dir, const char *archive_dir, uint64_t from_lsn,
                wal_cursor_t **out, char *err, size_t errlen) {
    held_t h;
    int rc, fd;
    char path[WAL_PATH_MAX + WAL_SEG_NAME_MAX];
    *out = NULL;
    if (!err)
        errlen = 0;
    if ((rc = open_args(live_dir, archive_dir, from_lsn, err, errlen)) != 0 ||
        (rc = held_scan(live_dir, archive_dir, from_lsn, &h, err, errlen)) != 0)
        return rc;
    if (!h.holder) { /* the caller then does a full sync */
        const char *sep = archive_dir ? " and " : "", *arch = archive_dir ? archive_dir : "";
        if (h.oldest)
            snprintf(err, errlen,
                     "LSN %" PRIu64 " is no longer held: the oldest segment in %s%s%s starts at "
                     "LSN %" PRIu64,
                     from_lsn, live_dir, sep, arch, h.oldest);
        else
            snprintf(err, errlen, "LSN %" PRIu64 " is not held: no segment in %s%s%s", from_lsn,
                     live_dir, sep, arch);
        return KERR_NOTFOUND;
    }
    wal_cursor_t *c = kcalloc(1, sizeof *c);
    snprintf(c->live, sizeof c->live, "%s", live_dir);
    snprintf(c->archive, sizeof c->archive, "%s", archive_dir ? archive_dir : "");
    c->fd = -1;
    if ((rc = seg_find(c, h.holder, &fd, path, sizeof path)) != 0) {
        snprintf(err, errlen, "%s: cannot open: %s%s", path, kerr_str(rc),
                 rc == KERR_NOTFOUND ? " (retired meanwhile)" : "");
        kfree(c);
        return rc;
    }
    seg_enter(c, fd, path, h.holder);
    c->from_lsn = from_lsn;
    c->pos_lsn = h.holder;
    *out = c;
    return 0;
}

void
wal_cursor_close(wal_cursor_t *c) {
    if (!c)
        return;
    if (c->fd >= 0)
        close(c->fd);
    kfree(c->buf);
    kfree(c);
}
