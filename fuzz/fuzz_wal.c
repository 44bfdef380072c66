/*
 * fuzz_wal.c - libFuzzer harness for the log's readers (wal/): the wire decoder of one record
 * (wal_record_decode, what a replica runs on bytes from the network), the directory scan
 * (wal_read_dir, wal_check_dir, and wal_dir_tail and wal_dir_identity, which wal_open reads),
 * the cursor replication reads with (wal_cursor_*), and recovery across two copies
 * (wal_recover_ex, which cuts torn tails and repairs copies).
 *
 * Input:
 *   byte 0  flags: 1 reseal (recompute every header and record CRC, so mutations get past
 *           the checksums), 2 renumber (with reseal: consecutive LSNs across the segments),
 *           4 a second copy holding a prefix of the first, 8 the cursor reads through an
 *           archive directory holding the oldest segment, 16 recovery accepts loss,
 *           32 wal_check_dir verbose; bits 6-7 the cursor's byte budget
 *   byte 1  a small number: after_lsn of the scans, the cursor's start offset, the prefix
 *   rest    segment files back to back: each "KEELWAL\0" starts the next one. A segment is
 *           named after the first LSN its header holds (bytes 16-23), so a mutated name and
 *           header still agree unless the fuzzer makes them differ.
 *
 * Every file goes into a scratch directory on /dev/shm (fuzz_util.h), emptied per input.
 *
 * Oracles, besides the sanitizers:
 *   - records reach every callback in LSN order, consecutive, after after_lsn;
 *   - a log wal_read_dir reads without error reads the same through a cursor up to its last
 *     LSN (same records, same order, no error);
 *   - a recovery that succeeded leaves a log that recovers again to the same last LSN with no
 *     torn tail, and that wal_check_dir finds sound on every copy.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "crc32c.h"
#include "fuzz_util.h"
#include "kerr.h"
#include "kmem.h"
#include "wal.h"
#include "wal_int.h"

#define F_RESEAL   1
#define F_RENUMBER 2
#define F_TWO      4
#define F_ARCHIVE  8
#define F_ACCEPT   16
#define F_VERBOSE  32
#define SEGS_MAX   16

typedef struct seg {
    uint8_t *p;
    size_t n;
    uint64_t first_lsn;
} seg_t;

/* What a reader delivered: count, the LSN range, a digest of the records. */
typedef struct seen {
    uint64_t after; /* records must have LSNs above this */
    uint64_t n, first, last, digest;
} seen_t;

static void
see(seen_t *s, uint64_t lsn, int64_t ts, uint32_t db, const void *payload, size_t len) {
    FUZZ_CHECK(lsn > s->after);
    FUZZ_CHECK(s->n == 0 || lsn == s->last + 1);
    FUZZ_CHECK(len <= WAL_PAYLOAD_MAX);
    if (s->n == 0)
        s->first = lsn;
    s->last = lsn;
    s->n++;
    uint64_t h = s->digest * 1099511628211ull ^ lsn ^ (uint64_t)ts ^ db;
    const uint8_t *b = payload;
    for (size_t i = 0; i < len; i++) /* every byte read: ASan sees a payload out of bounds */
        h = (h ^ b[i]) * 1099511628211ull;
    s->digest = h;
}

static int
apply_cb(void *ctx, const wal_record_t *r) {
    see(ctx, r->lsn, r->ts_ms, r->db, r->payload, r->len);
    return 0;
}

static int
cursor_cb(void *ctx, const wal_record_t *r, const void *enc, size_t enc_len) {
    wal_record_t d;
    char err[256];
    /* What the cursor hands out is what a replica decodes: it must decode to the same. */
    int rc = wal_record_decode(enc, enc_len, &d, err, sizeof err);
    if (rc != (int)enc_len)
        fprintf(stderr, "cursor record of LSN %llu: %s\n", (unsigned long long)r->lsn,
                rc < 0 ? err : "decoded to another size");
    FUZZ_CHECK(rc == (int)enc_len);
    FUZZ_CHECK(d.lsn == r->lsn && d.len == r->len && d.payload == r->payload);
    see(ctx, r->lsn, r->ts_ms, r->db, r->payload, r->len);
    return 0;
}

/* Cuts the input into segments at each magic. */
static int
split_segments(const uint8_t *p, size_t n, seg_t *segs) {
    int k = 0;
    size_t start = 0;
    while (start < n && k < SEGS_MAX) {
        const uint8_t *next = NULL;
        if (n - start > 8)
            next = memmem(p + start + 8, n - start - 8, WAL_MAGIC, 8);
        size_t end = next && k < SEGS_MAX - 1 ? (size_t)(next - p) : n;
        segs[k].p = kmalloc(end - start ? end - start : 1);
        memcpy(segs[k].p, p + start, end - start);
        segs[k].n = end - start;
        k++;
        start = end;
    }
    return k;
}

/* Recomputes the CRCs (and with renumber the LSNs) of a segment, as far as its records frame. */
static void
reseal(seg_t *s, uint64_t *next_lsn, bool renumber, bool first) {
    if (s->n < WAL_SEG_HDR_SIZE)
        return;
    wal_seg_hdr_t h;
    memcpy(&h, s->p, sizeof h);
    if (renumber && !first)
        h.first_lsn = *next_lsn;
    if (renumber && h.first_lsn == 0)
        h.first_lsn = 1;
    h.crc = crc32c(&h, offsetof(wal_seg_hdr_t, crc));
    memcpy(s->p, &h, sizeof h);
    uint64_t lsn = h.first_lsn;
    for (size_t off = WAL_SEG_HDR_SIZE; off + WAL_REC_HDR_SIZE <= s->n;) {
        wal_rec_hdr_t r;
        static const uint8_t zero[WAL_REC_HDR_SIZE];
        memcpy(&r, s->p + off, sizeof r);
        if (!memcmp(&r, zero, sizeof r) || r.len > WAL_PAYLOAD_MAX ||
            wal_rec_size(r.len) > s->n - off)
            break;
        if (renumber)
            r.lsn = (r.flags & WAL_REC_SEAL) ? lsn - 1 : lsn;
        memcpy(s->p + off, &r, sizeof r);
        wal_rec_crc(s->p + off);
        lsn += (r.flags & WAL_REC_SEAL) ? 0 : 1;
        off += wal_rec_size(r.len);
    }
    *next_lsn = lsn;
}

static void
write_segment(const char *dir, const seg_t *s) {
    char path[WAL_PATH_MAX + WAL_SEG_NAME_MAX], name[WAL_SEG_NAME_MAX];
    wal_seg_name(name, sizeof name, s->first_lsn);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    fuzz_write_file(path, s->p, s->n);
    if (getenv("KEEL_FUZZ_VERBOSE"))
        fprintf(stderr, "wrote %s (%zu bytes)\n", path, s->n);
}

/* Moves segment wal-<lsn>.log from one directory to another, as retirement to an archive does. */
static int
move_segment(const char *from_dir, const char *to_dir, uint64_t lsn) {
    char from[WAL_PATH_MAX + WAL_SEG_NAME_MAX], to[WAL_PATH_MAX + WAL_SEG_NAME_MAX];
    char name[WAL_SEG_NAME_MAX];
    wal_seg_name(name, sizeof name, lsn);
    snprintf(from, sizeof from, "%s/%s", from_dir, name);
    snprintf(to, sizeof to, "%s/%s", to_dir, name);
    return rename(from, to);
}

/* Reads dir through a cursor from `from` up to `limit`, budget bytes per call. */
static int
cursor_read_all(const char *dir, const char *archive, uint64_t from, uint64_t limit, size_t budget,
                seen_t *s, char *err, size_t errlen) {
    wal_cursor_t *c;
    int rc = wal_cursor_open(dir, archive, from, &c, err, errlen);
    if (rc)
        return rc;
    for (int i = 0; i < 10000; i++) {
        uint64_t before = wal_cursor_next_lsn(c);
        rc = wal_cursor_read(c, limit, budget, cursor_cb, s, err, errlen);
        if (rc < 0)
            break;
        FUZZ_CHECK(wal_cursor_next_lsn(c) == before + (uint64_t)rc);
        if (wal_cursor_next_lsn(c) > limit) {
            rc = 0;
            break;
        }
    }
    wal_cursor_close(c);
    return rc < 0 ? rc : 0;
}

/* After a successful recovery: the same recovery again succeeds, to the same end, with nothing
 * torn; every copy is sound. */
static void
check_recovered(const wal_config_t *cfg, uint64_t after, const wal_recover_info_t *first) {
    wal_recover_info_t again;
    char err[WAL_PATH_MAX * 2 + 256];
    seen_t s = {.after = after};
    int rc = wal_recover_ex(cfg, after, apply_cb, &s, &again, err, sizeof err);
    if (rc)
        fprintf(stderr, "second recovery: %s\n", err);
    FUZZ_CHECK(rc == 0);
    /* Unless the first removed the only segment (its creation was torn): then nothing says
     * where the log ended, and wal_open() is what makes the next segment. */
    FUZZ_CHECK(again.last_lsn == first->last_lsn ||
               (again.format_version == 0 && first->torn_copies > 0));
    FUZZ_CHECK(again.torn_copies == 0 && again.torn_records == 0);
    FUZZ_CHECK(s.n == 0 || s.last == again.last_lsn);
    for (int i = 0; i < cfg->ndirs; i++) {
        /* KERR_FORMAT: files, none a segment (one whose name no writer makes). */
        rc = wal_check_dir(cfg->dirs[i], fuzz_devnull(), 0);
        if (rc != WAL_CHECK_OK && rc != WAL_CHECK_EMPTY && rc != KERR_FORMAT)
            (void)wal_check_dir(cfg->dirs[i], stderr, 1);
        FUZZ_CHECK(rc == WAL_CHECK_OK || rc == WAL_CHECK_EMPTY || rc == KERR_FORMAT);
    }
}

static void
run_recovery(const char *const *dirs, int ndirs, uint64_t after, bool accept) {
    wal_config_t cfg = {.dirs = dirs, .ndirs = ndirs, .quorum = 1, .accept_loss = accept};
    wal_recover_info_t info;
    char err[WAL_PATH_MAX * 2 + 256];
    seen_t s = {.after = after};
    int rc = wal_recover_ex(&cfg, after, apply_cb, &s, &info, err, sizeof err);
    if (rc != 0)
        return;
    FUZZ_CHECK(s.n == 0 || s.last == info.last_lsn);
    check_recovered(&cfg, after, &info);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2)
        return 0;
    uint8_t flags = data[0], arg = data[1];
    const uint8_t *body = data + 2;
    size_t n = size - 2;

    /* The wire decoder, on the raw bytes. */
    wal_record_t rec;
    char err[WAL_PATH_MAX * 2 + 256];
    int rc = wal_record_decode(body, n, &rec, err, sizeof err);
    FUZZ_CHECK(rc < 0 || ((size_t)rc <= n && (size_t)rc >= WAL_REC_HDR_SIZE + rec.len));

    const char *root = fuzz_dir();
    char live[300], copy2[300], archive[300];
    snprintf(live, sizeof live, "%s/live", root);
    snprintf(copy2, sizeof copy2, "%s/copy2", root);
    snprintf(archive, sizeof archive, "%s/archive", root);
    fuzz_mkdir(live);

    seg_t segs[SEGS_MAX];
    int nsegs = split_segments(body, n, segs);
    uint64_t next_lsn = 1;
    for (int i = 0; i < nsegs; i++) {
        if (flags & F_RESEAL)
            reseal(&segs[i], &next_lsn, flags & F_RENUMBER, i == 0);
        uint64_t first = 0;
        if (segs[i].n >= 24)
            memcpy(&first, segs[i].p + 16, 8);
        else
            first = i + 1;
        segs[i].first_lsn = first;
        write_segment(live, &segs[i]);
        /* The decoder on a record where a segment puts one. */
        if (segs[i].n > WAL_SEG_HDR_SIZE)
            (void)wal_record_decode(segs[i].p + WAL_SEG_HDR_SIZE, segs[i].n - WAL_SEG_HDR_SIZE,
                                    &rec, err, sizeof err);
    }
    if (flags & F_TWO) { /* a lagging copy: the first segments, the last of them cut short */
        int k = nsegs ? arg % (nsegs + 1) : 0;
        fuzz_mkdir(copy2);
        for (int i = 0; i < k; i++) {
            seg_t s = segs[i];
            if (i == k - 1 && s.n > WAL_SEG_HDR_SIZE)
                s.n = WAL_SEG_HDR_SIZE + (s.n - WAL_SEG_HDR_SIZE) * (arg & 7) / 8;
            write_segment(copy2, &s);
        }
    }

    /* The scan, as tools and recovery run it. */
    uint64_t after = arg & 3;
    seen_t scanned = {.after = after};
    rc = wal_read_dir(live, after, apply_cb, &scanned, err, sizeof err);
    (void)wal_check_dir(live, getenv("KEEL_FUZZ_VERBOSE") ? stderr : fuzz_devnull(),
                        (flags & F_VERBOSE) || getenv("KEEL_FUZZ_VERBOSE"));

    /* Where wal_open would go on: the newest segment alone, the identity. */
    wal_tail_t tail;
    uint8_t id[WAL_DATASET_ID_SIZE];
    uint64_t epoch;
    if (wal_dir_tail(live, &tail) == 0 && tail.clean)
        FUZZ_CHECK(tail.end >= WAL_SEG_HDR_SIZE && tail.end <= tail.size);
    (void)wal_dir_identity(live, id, &epoch);

    /* The cursor over a log the scan found sound: the same records, to the same end. */
    static const size_t budgets[4] = {1 << 20, 1, 100, 4096};
    size_t budget = budgets[flags >> 6];
    uint64_t oldest = 0;
    (void)wal_oldest_lsn(live, NULL, &oldest);
    if (rc == 0 && scanned.n > 0) {
        seen_t cur = {.after = scanned.first - 1};
        rc =
            cursor_read_all(live, NULL, scanned.first, scanned.last, budget, &cur, err, sizeof err);
        if (rc)
            fprintf(stderr, "cursor: %s: %s\n", kerr_str(rc), err);
        FUZZ_CHECK(rc == 0);
        FUZZ_CHECK(cur.n == scanned.n && cur.last == scanned.last);
        FUZZ_CHECK(cur.digest == scanned.digest);
    }
    /* The cursor anywhere, past the end too, and through an archive. */
    if (oldest) {
        const char *arch = NULL;
        if ((flags & F_ARCHIVE) && nsegs > 1) {
            fuzz_mkdir(archive);
            if (move_segment(live, archive, oldest) == 0)
                arch = archive;
        }
        seen_t any = {.after = oldest + (arg >> 2) - 1};
        (void)cursor_read_all(live, arch, oldest + (arg >> 2), UINT64_MAX - 1, budget, &any, err,
                              sizeof err);
        if (arch) /* back for recovery */
            FUZZ_CHECK(move_segment(archive, live, oldest) == 0);
    }

    /* Recovery last: it cuts and repairs files. */
    const char *dirs[2] = {live, copy2};
    run_recovery(dirs, (flags & F_TWO) ? 2 : 1, after, flags & F_ACCEPT);

    for (int i = 0; i < nsegs; i++)
        kfree(segs[i].p);
    return 0;
}
